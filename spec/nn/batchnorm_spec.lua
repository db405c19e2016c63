-- spec/nn/batchnorm_spec.lua -- nn.BatchNorm (tdBN) over (B, T, C, ...):
-- values against a plain per-channel loop, running statistics, eval mode,
-- gradients, errors; its fused kernel (core.batch_norm) against the same
-- computation written with tensor ops.
local lp = require "limpet"
local core = require "limpet.core"
local nn = lp.nn

describe("nn.BatchNorm", function()
  it("normalises each channel over batch, time and space, scaled by alpha·v_threshold", function()
    local bn = nn.BatchNorm(3, { alpha = 0.5, v_threshold = 2 })
    local x = lp.randn({ 2, 4, 3, 2, 2 }, "float64") * 3 + 1
    local y = bn(x:astype("float32"))
    local xt = x:totable()
    for c = 1, 3 do
      local vals = {}
      for b = 1, 2 do for t = 1, 4 do for i = 1, 2 do for j = 1, 2 do vals[#vals + 1] = xt[b][t][c][i][j] end end end end
      local m = 0
      for _, v in ipairs(vals) do m = m + v end
      m = m / #vals
      local var = 0
      for _, v in ipairs(vals) do var = var + (v - m) ^ 2 end
      var = var / #vals
      local want = (xt[2][3][c][1][2] - m) / math.sqrt(var + 1e-5) * 1.0
      assert.is_true(math.abs(want - y[2][3][c][1][2]) < 1e-4)
      -- running statistics: momentum 0.1 from (0, 1), unbiased variance
      assert.is_true(math.abs(bn.running_mean[c] - 0.1 * m) < 1e-5)
      assert.is_true(math.abs(bn.running_var[c] - (0.9 + 0.1 * var * #vals / (#vals - 1))) < 1e-4)
    end
  end)

  it("uses the running statistics in eval mode", function()
    local bn = nn.BatchNorm(2, { affine = false })
    bn:eval()
    local x = lp.randn({ 3, 2, 2 })
    assert.tensor_near(x / math.sqrt(1 + 1e-5), bn(x), 1e-6)
  end)

  it("keeps its running statistics through reset_state (fit resets before every batch)", function()
    local net = nn.Sequential(nn.BatchNorm(2))
    net(lp.randn({ 4, 3, 2 }) * 2 + 5)
    local m, v = net[1].running_mean:clone(), net[1].running_var:clone()
    assert.is_true(m:abs():max():item() > 0.1)
    net:reset_state()
    assert.tensor_near(m, net[1].running_mean, 0)
    assert.tensor_near(v, net[1].running_var, 0)
  end)

  it("has gradients for input, weight and bias #grad", function()
    local x = lp.randn({ 2, 3, 2, 3 }, "float64")
    local w, b = lp.rand({ 2 }, "float64") + 0.5, lp.randn({ 2 }, "float64")
    local bn = nn.BatchNorm(2)
    assert.is_true(lp.autograd.gradcheck(function(xx, ww, bb)
      bn._values.weight, bn._values.bias = ww, bb
      return (bn(xx))
    end, { x, w, b }))
  end)

  it("refuses bad arguments", function()
    assert.has_error(function() nn.BatchNorm(0) end, "bad argument #1 to 'BatchNorm' (channels must be a positive integer)")
    assert.has_error(function() nn.BatchNorm(2, { momentum = 2 }) end,
      "bad argument #2 to 'BatchNorm' (field 'momentum' must be a positive number <= 1)")
    assert.has_error(function() nn.BatchNorm(2)(lp.rand({ 1, 2, 3 })) end,
      "bad argument #1 to 'evolve' (BatchNorm expects input (B, T, 2, ...), got (1, 2, 3))")
  end)

  describe("core.batch_norm (the fused kernel)", function()
    -- the plain reference: tensor ops over the (R, C, S) view
    local function reference(x, cdim, w, b, eps, gain)
      local R, C, S = 1, x.shape[cdim], 1
      for d = 1, cdim - 1 do R = R * x.shape[d] end
      for d = cdim + 1, x:dim() do S = S * x.shape[d] end
      local xr = x:reshape({ R, C, S })
      local mean = xr:sum(3):sum(1) / (R * S)
      local d = xr - mean:reshape({ 1, C, 1 })
      local var = (d * d):sum(3):sum(1) / (R * S)
      local scale = (var + eps):sqrt():reciprocal() * gain
      if w then scale = scale * w end
      local y = d * scale:reshape({ 1, C, 1 })
      if b then y = y + b:reshape({ 1, C, 1 }) end
      return y:reshape(x.shape), mean, var
    end

    it("matches the tensor-op reference, float64 and float32, odd row lengths", function()
      for _, shape in ipairs { { 3, 4, 5, 6, 7 }, { 2, 3, 5, 1, 1 }, { 2, 2, 3, 9 } } do
        local x = lp.randn(shape, "float64") * 2 + 1
        local w, b = lp.rand({ shape[3] }, "float64") + 0.5, lp.randn({ shape[3] }, "float64")
        local y, m, v = core.batch_norm(x, 3, w, b, { eps = 1e-3, gain = 0.7 })
        local ry, rm, rv = reference(x, 3, w, b, 1e-3, 0.7)
        assert.tensor_near(ry, y, 1e-12)
        assert.tensor_near(rm, m, 1e-12)
        assert.tensor_near(rv, v, 1e-12)
        local yf = core.batch_norm(x:astype("float32"), 3, w:astype("float32"), b:astype("float32"), { eps = 1e-3, gain = 0.7 })
        assert.equal("float32", yf.dtype)
        assert.tensor_near(ry, yf:astype("float64"), 2e-5)
      end
    end)

    it("takes any channel dimension, a strided input, no weight and no bias", function()
      local x = lp.randn({ 4, 6, 3 }, "float64"):transpose(2, 3)       -- (4, 3, 6), not contiguous
      local y = core.batch_norm(x, 2)
      assert.tensor_near(reference(x:contiguous(), 2, nil, nil, 1e-5, 1), y, 1e-12)
      local z = core.batch_norm(x, -1, nil, lp.ones({ 6 }, "float64"))
      assert.tensor_near(reference(x:contiguous(), 3, nil, lp.ones({ 6 }, "float64"), 1e-5, 1), z, 1e-12)
      -- a strided weight and bias (columns of a matrix) read element by element
      local wb = lp.rand({ 3, 2 }, "float64") + 0.5
      local sw, sb = wb:slice(2, 1, 1):squeeze(2), wb:slice(2, 2, 2):squeeze(2)
      assert.is_false(sw:is_contiguous())
      assert.tensor_near(reference(x:contiguous(), 2, sw:contiguous(), sb:contiguous(), 1e-5, 1),
        core.batch_norm(x, 2, sw, sb), 1e-12)
    end)

    it("has gradients for x, weight and bias #grad", function()
      local x = lp.randn({ 2, 3, 4, 5 }, "float64") * 1.5 - 0.5
      local w, b = lp.rand({ 4 }, "float64") + 0.5, lp.randn({ 4 }, "float64")
      assert.is_true(lp.autograd.gradcheck(function(xx, ww, bb)
        return (core.batch_norm(xx, 3, ww, bb, { gain = 0.7, eps = 1e-4 }))
      end, { x, w, b }))
      assert.is_true(lp.autograd.gradcheck(function(xx) return (core.batch_norm(xx, 1)) end,
        { lp.randn({ 3, 7 }, "float64") }))
      -- only the bias needs a gradient; the statistics carry none
      local bb = lp.zeros({ 4 }, "float64"):requires_grad(true)
      local y, m, v = core.batch_norm(x, 3, nil, bb)
      assert.is_false(m:requires_grad() or v:requires_grad())
      y:sum():backward()
      assert.tensor_near(lp.full({ 4 }, 30, "float64"), bb.grad, 1e-12)
    end)

    it("refuses bad arguments, naming them", function()
      local x = lp.randn({ 2, 3, 4 })
      assert.has_error(function() core.batch_norm(x, 4) end, "bad argument #2 to 'batch_norm' (dim 4 out of range for a 3-d tensor)")
      assert.has_error(function() core.batch_norm(x, 2, lp.ones({ 4 })) end,
        "bad argument #3 to 'batch_norm' (weight must be a vector of 3 (the channels))")
      assert.has_error(function() core.batch_norm(x, 2, nil, lp.ones({ 3 }, "float64")) end,
        "bad argument #4 to 'batch_norm' (bias must have the input's dtype)")
      assert.has_error(function() core.batch_norm(x:astype("int32"), 2) end,
        "bad argument #1 to 'batch_norm' (input must be float32 or float64)")
      assert.has_error(function() core.batch_norm(x, 2, nil, nil, { gain = 0 }) end,
        "bad argument #5 to 'batch_norm' (gain must be a finite number > 0)")
      assert.has_error(function() core.batch_norm(x, 2, nil, nil, { eps = -1 }) end,
        "bad argument #5 to 'batch_norm' (eps must be a finite number >= 0)")
      assert.has_error(function() core.batch_norm(x, 2, nil, nil, { epsilon = 1 }) end,
        "bad argument #5 to 'batch_norm' (unknown field 'epsilon')")
      assert.has_error(function() core.batch_norm(x, 2, nil, nil, { gain = "1" }) end,
        "bad argument #5 to 'batch_norm' (field 'gain' must be a number)")
      assert.has_error(function() core.batch_norm(lp.zeros({ 0, 3 }), 2) end,
        "bad argument #1 to 'batch_norm' (input is empty)")
    end)
  end)
end)
