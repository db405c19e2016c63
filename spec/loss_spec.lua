-- spec/loss_spec.lua -- lp.loss: values, gradients and errors.
-- Reference numbers were made once with PyTorch 1.13 in float64 (PeakLoss
-- as Rockpool defines it, re-stated in torch) and pasted here.
local lp = require "limpet"
local loss = lp.loss

-- Gradients need the differentiable tensor ops; until they record, the
-- gradient checks report themselves pending rather than failing.
local function autograd_live()
  local ok = pcall(function()
    local x = lp.tensor({ 1, 2 }, "float64"):requires_grad(true)
    local y = (x * x):sum()
    y:backward()
    assert(x.grad)
  end)
  return ok
end

local function grad_of(f, x)
  x = x:detach():clone():requires_grad(true)
  local l = f(x)
  l:backward()
  return x.grad, l
end

local function gradcheck(f, inputs)
  if lp.autograd and lp.autograd.gradcheck then
    assert.is_true((lp.autograd.gradcheck(f, inputs)))
  end
end

local peak_pred = {
  { { 0.1, 0.5, -0.2 }, { 0.9, 0.2, 0.3 }, { 0.3, 0.1, 0.0 }, { 0.8, 0.0, 0.4 } },
  { { 0.0, 0.2, 0.7 }, { 0.1, 0.6, 0.1 }, { 0.2, 0.3, -0.5 }, { 0.4, 0.1, 0.2 } },
}

describe("limpet.loss", function()
  describe("cross_entropy", function()
    local x = lp.tensor({ { 1, 2, 3 }, { 1, -1, 0.5 } }, "float64")
    it("matches PyTorch", function()
      assert.near(0.48128144204318557, loss.cross_entropy(x, { 3, 1 }):item(), 1e-14)
      assert.near(0.48128144204318557, loss.cross_entropy(x, lp.tensor({ 3, 1 })):item(), 1e-14)
      assert.near(2 * 0.48128144204318557, loss.cross_entropy(x, { 3, 1 }, { reduction = "sum" }):item(), 1e-14)
    end)
    it("is stable for large logits", function()
      local big = lp.tensor({ { 1000, 0 }, { 0, 1000 } }, "float32")
      assert.near(500, loss.cross_entropy(big, { 2, 2 }):item(), 1e-3)
    end)
    it("has PyTorch's gradient #grad", function()
      if not autograd_live() then return pending("autograd ops not recording yet") end
      local g = grad_of(function(t) return loss.cross_entropy(t, { 3, 1 }) end, x)
      assert.tensor_near({ { 0.04501528658519022, 0.12236423552739882, -0.1673795221125891 },
                           { -0.21295150351615272, 0.03884778957428529, 0.1741037139418674 } }, g, 1e-12)
      local gb = grad_of(function(t) return loss.cross_entropy(t, { 2, 2 }) end, lp.tensor({ { 1000, 0 }, { 0, 1000 } }, "float32"))
      assert.tensor_near({ { 0.5, -0.5 }, { 0, 0 } }, gb, 1e-6)
      gradcheck(function(t) return loss.cross_entropy(t, { 2, 1 }) end, { x })
      gradcheck(function(t) return loss.log_softmax(t) end, { x })
      gradcheck(function(t) return loss.nll(loss.log_softmax(t, 2), { 1, 3 }, { reduction = "sum" }) end, { x })
      gradcheck(function(t) return loss.softmax(t, 1) end, { x })
    end)
    it("rejects bad labels and shapes", function()
      assert.has_error(function() loss.cross_entropy(x, { 4, 1 }) end,
        "bad argument #2 to 'cross_entropy' (label 4 out of range 1..3)")
      assert.has_error(function() loss.cross_entropy(x, { 0, 1 }) end,
        "bad argument #2 to 'cross_entropy' (label 0 out of range 1..3)")
      assert.has_error(function() loss.cross_entropy(x, { 1 }) end,
        "bad argument #2 to 'cross_entropy' (expected labels of shape (2,), got (1,))")
      assert.has_error(function() loss.cross_entropy(x, lp.tensor({ 1, 2 }, "float32")) end,
        "bad argument #2 to 'cross_entropy' (expected integer labels, got float32)")
      assert.has_error(function() loss.cross_entropy(x, { 1.5, 2 }) end,
        "bad argument #2 to 'cross_entropy' (label 1 is not an integer)")
      assert.has_error(function() loss.cross_entropy(lp.zeros({ 2, 3, 4 }), { 1, 2 }) end,
        "bad argument #1 to 'cross_entropy' (expected shape (B, C), got (2, 3, 4))")
      assert.has_error(function() loss.cross_entropy(lp.zeros({ 2, 3 }, "int32"), { 1, 2 }) end,
        "bad argument #1 to 'cross_entropy' (expected a float tensor, got int32)")
      assert.has_error(function() loss.cross_entropy(x, { 1, 2 }, { reduce = "sum" }) end,
        "bad argument #3 to 'cross_entropy' (unknown field 'reduce')")
      assert.has_error(function() loss.cross_entropy(x, { 1, 2 }, { reduction = "max" }) end,
        "bad argument #3 to 'cross_entropy' (field 'reduction' must be 'mean', 'sum' or 'none', got 'max')")
    end)
  end)

  describe("log_softmax and nll", function()
    local x = lp.tensor({ { 1, 2, 3 }, { 1, -1, 0.5 } }, "float64")
    it("log_softmax matches PyTorch", function()
      assert.tensor_near({ { -2.4076059644443806, -1.4076059644443804, -0.4076059644443804 },
                           { -0.5549569196419907, -2.554956919641991, -1.0549569196419908 } }, loss.log_softmax(x, 2), 1e-14)
      assert.tensor_near(loss.log_softmax(x, 2), loss.log_softmax(x), 0)
      assert.tensor_near({ 1, 1 }, loss.softmax(x):sum(2), 1e-14)
    end)
    it("nll of log_softmax is cross_entropy", function()
      assert.near(loss.cross_entropy(x, { 3, 1 }):item(), loss.nll(loss.log_softmax(x), { 3, 1 }):item(), 1e-15)
      assert.tensor_near({ 0.4076059644443804, 0.5549569196419907 },
        loss.nll(loss.log_softmax(x), { 3, 1 }, { reduction = "none" }), 1e-14)
    end)
  end)

  describe("mse", function()
    local x = lp.tensor({ { 1, 2, 3 }, { 1, -1, 0.5 } }, "float64")
    local y = lp.tensor({ { 0.5, 0, 1 }, { 2, -1, 0 } }, "float64")
    it("matches PyTorch, value and gradient", function()
      assert.near(1.5833333333333333, loss.mse(x, y):item(), 1e-15)
      assert.near(6 * 1.5833333333333333, loss.mse(x, y, { reduction = "sum" }):item(), 1e-14)
      assert.near((1 + 4 + 9 + 1 + 1 + 0.25) / 6, loss.mse(x, 0):item(), 1e-15)
      if not autograd_live() then return pending("autograd ops not recording yet") end
      local g = grad_of(function(t) return loss.mse(t, y) end, x)
      assert.tensor_near({ { 1 / 6, 2 / 3, 2 / 3 }, { -1 / 3, 0, 1 / 6 } }, g, 1e-14)
      gradcheck(function(t) return loss.mse(t, y) end, { x })
    end)
    it("rejects mismatched shapes", function()
      assert.has_error(function() loss.mse(x, lp.zeros({ 3 }, "float64")) end,
        "bad argument #2 to 'mse' (expected shape (2, 3), got (3,))")
      assert.has_error(function() loss.mse(x, "zero") end,
        "bad argument #2 to 'mse' (expected a tensor or a number, got string)")
    end)
  end)

  describe("peak_loss (Rockpool's PeakLoss)", function()
    local pred = lp.tensor(peak_pred, "float64")
    it("matches Rockpool's definition", function()
      local l, lt, ln = loss.peak_loss(pred, { 1, 2 }, { max_interval = 3, weight_nontarget = 0.5, target_output = 1 })
      assert.near(0.32746527777777784, l:item(), 1e-14)
      assert.near(0.27777777777777785, lt:item(), 1e-14)
      assert.near(0.09937500000000002, ln:item(), 1e-14)
    end)
    it("wraps the window back to the peak at the end of the sample", function()
      local l, lt = loss.peak_loss(pred, { 1, 2 }, { max_interval = 4, weight_nontarget = 0.25, target_output = 2 })
      assert.near(2.11765625, l:item(), 1e-14)
      assert.near(2.0928125, lt:item(), 1e-14)
    end)
    it("has Rockpool's gradient #grad", function()
      if not autograd_live() then return pending("autograd ops not recording yet") end
      local opts = { max_interval = 4, weight_nontarget = 0.25, target_output = 2 }
      local g = grad_of(function(t) return (loss.peak_loss(t, { 1, 2 }, opts)) end, pred)
      assert.tensor_near({
        { { 0.0, 0.015625, -0.00625 }, { -0.6375, 0.00625, 0.009375 }, { -0.31875, 0.003125, 0.0 }, { -0.31875, 0.0, 0.0125 } },
        { { 0.0, 0.0, 0.021875 }, { 0.003125, -0.8, 0.003125 }, { 0.00625, -0.4, -0.015625 }, { 0.0125, -0.4, 0.00625 } },
      }, g, 1e-13)
      gradcheck(function(t) return (loss.peak_loss(t, { 1, 2 }, opts)) end, { pred })
      gradcheck(function(t) return (loss.peak_loss(t, { 3, 1 }, { max_interval = 2, weight_nontarget = 1, target_output = 0.5 })) end, { pred })
    end)
    it("requires its options and rejects unknown ones", function()
      assert.has_error(function() loss.peak_loss(pred, { 1, 2 }, { max_interval = 3, target_output = 1 }) end,
        "bad argument #3 to 'peak_loss' (field 'weight_nontarget' is required)")
      assert.has_error(function() loss.peak_loss(pred, { 1, 2 }, { max_interval = 3, weight_nontarget = 1, target_output = 1, window = 2 }) end,
        "bad argument #3 to 'peak_loss' (unknown field 'window')")
      assert.has_error(function() loss.peak_loss(pred, { 1, 2 }, { max_interval = 0, weight_nontarget = 1, target_output = 1 }) end,
        "bad argument #3 to 'peak_loss' (field 'max_interval' must be an integer >= 1 (time steps))")
      assert.has_error(function() loss.peak_loss(lp.zeros({ 2, 3 }), { 1, 2 }, { max_interval = 1, weight_nontarget = 1, target_output = 1 }) end,
        "bad argument #1 to 'peak_loss' (expected shape (B, T, C), got (2, 3))")
    end)
  end)

  describe("binary_peak_loss", function()
    it("scores positives by their peak and negatives by their silence", function()
      local out = lp.tensor({ { { 0.2 }, { 1.0 }, { 0.4 } }, { { 0.5 }, { 0.0 }, { -0.5 } } }, "float64")
      local l, lp_, ln = loss.binary_peak_loss(out, { 1, 0 }, { max_interval = 2, weight_negatives = 2, target_output = 1 })
      assert.near((0.7 - 1) ^ 2, lp_:item(), 1e-14)
      assert.near((0.25 + 0 + 0.25) / 3, ln:item(), 1e-14)
      assert.near(0.09 + 2 * 0.5 / 3, l:item(), 1e-14)
      local l0 = loss.binary_peak_loss(out, { 0, 0 }, { max_interval = 2, weight_negatives = 1, target_output = 1 })
      assert.near((0.04 + 1 + 0.16 + 0.25 + 0 + 0.25) / 6, l0:item(), 1e-14)
    end)
  end)

  describe("penalties", function()
    local params = { ["1_Linear"] = { weight = lp.tensor({ { 1, -2 }, { 0.5, 0 } }, "float64") },
                     ["2_LIF"] = { tau_mem = lp.tensor({ -3 }, "float64") } }
    it("l1 and l2 sum over every parameter", function()
      assert.near(6.5, loss.l1(params):item(), 1e-15)
      assert.near(1 + 4 + 0.25 + 9, loss.l2(params):item(), 1e-15)
      assert.near(3, loss.l1(lp.tensor({ -1, 2 })):item(), 0)
    end)
    it("l2's gradient is 2p #grad", function()
      if not autograd_live() then return pending("autograd ops not recording yet") end
      local w = lp.tensor({ 1, -2 }, "float64"):requires_grad(true)
      loss.l2({ a = w }):backward()
      assert.tensor_near({ 2, -4 }, w.grad, 0)
      gradcheck(function(a, b) return loss.l2({ a, { b } }) + loss.l1({ x = a }) end,
        { lp.tensor({ 1, -2 }, "float64"), lp.tensor({ { 0.5, -3 } }, "float64") })
    end)
  end)

  describe("bounds (Rockpool's constrained optimisation)", function()
    it("make_bounds mirrors the parameter tree with infinities", function()
      local params = { a = { w = lp.zeros({ 2 }) }, b = lp.zeros({ 1 }) }
      local lo, hi = loss.make_bounds(params)
      assert.same({ a = { w = -math.huge }, b = -math.huge }, lo)
      assert.same({ a = { w = math.huge }, b = math.huge }, hi)
      assert.equal(0, loss.bounds_cost(params, lo, hi):item())
    end)
    it("costs exp(distance) outside the bounds, nothing inside", function()
      local p = lp.tensor({ -2, 0.5, 3 }, "float64")
      local params = { a = { w = p } }
      local lo, hi = loss.make_bounds(params)
      lo.a.w, hi.a.w = 0, 1
      assert.near(14.7781121978613, loss.bounds_cost(params, lo, hi):item(), 1e-12)
      lo.a.w = lp.tensor({ -3, 0, 2 }, "float64")     -- per-element bounds
      assert.near(math.exp(2), loss.bounds_cost(params, lo, hi):item(), 1e-12)
      hi.a.w = nil                                     -- a missing bound imposes nothing
      assert.near(0, loss.bounds_cost(params, lo, hi):item(), 0)
    end)
    it("has the exponential's gradient #grad", function()
      if not autograd_live() then return pending("autograd ops not recording yet") end
      local p = lp.tensor({ -2, 0.5, 3 }, "float64"):requires_grad(true)
      local params = { w = p }
      local lo, hi = loss.make_bounds(params)
      lo.w, hi.w = 0, 1
      loss.bounds_cost(params, lo, hi):backward()
      assert.tensor_near({ -7.38905609893065, 0, 7.38905609893065 }, p.grad, 1e-12)
      gradcheck(function(t) return loss.bounds_cost({ w = t }, lo, hi) end, { lp.tensor({ -2, 0.5, 3 }, "float64") })
    end)
    it("rejects bad bounds", function()
      local params = { w = lp.zeros({ 2 }) }
      assert.has_error(function() loss.bounds_cost(params, { w = "low" }, {}) end,
        "bad argument #2 to 'bounds_cost' (bound for 'w' is a string, expected a number or a tensor)")
      assert.has_error(function() loss.make_bounds(3) end,
        "bad argument #1 to 'make_bounds' (expected a table of parameters, got number)")
    end)
  end)
end)
