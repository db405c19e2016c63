-- spec/optim_spec.lua -- lp.optim: optimisers, clipping, schedules.
-- Reference numbers were made once with PyTorch 1.13 (torch.optim, float64)
-- and pasted here; the specs run no Python.
local lp = require "limpet"

-- Three steps on w = (1, -2, 3) with gradients i * (0.5, -1, 2), i = 1, 2, 3.
local function run(name, opts, steps)
  local w = lp.tensor({ 1, -2, 3 }, "float64"):requires_grad(true)
  local opt = lp.optim[name]({ layer = { weight = w } }, opts)
  for i = 1, steps or 3 do
    w.grad = lp.tensor({ 0.5, -1, 2 }, "float64") * i
    opt:step()
  end
  return w, opt
end

local torch_refs = {
  { "SGD", { lr = 0.1 }, { 0.7, -1.4, 1.7999999999999998 } },
  { "SGD", { lr = 0.1, momentum = 0.9, weight_decay = 0.1 }, { 0.4717739999999999, -0.9435479999999998, 0.9427169999999998 } },
  { "SGD", { lr = 0.1, momentum = 0.9, nesterov = true }, { 0.27205, -0.5441, 0.08819999999999997 } },
  { "SGD", { lr = 0.1, momentum = 0.5, dampening = 0.3 }, { 0.7025, -1.405, 1.8099999999999998 } },
  { "Adam", { lr = 0.1 }, { 0.7076816791153657, -1.7076816770616812, 2.707681676034839 } },
  { "Adam", { lr = 0.1, betas = { 0.8, 0.99 }, eps = 1e-6, weight_decay = 0.1 }, { 0.7011574955768449, -1.7012240568258494, 2.7015481375724257 } },
  { "Adam", { lr = 0.1, amsgrad = true }, { 0.7076816791153657, -1.7076816770616812, 2.707681676034839 } },
  { "AdamW", { lr = 0.1 }, { 0.7049810963127292, -1.701984093261654, 2.6989870912361162 } },
  { "AdamW", { lr = 0.1, weight_decay = 0.5 }, { 0.5796325889884402, -1.4370075870627725, 2.2943825860999385 } },
  { "RMSprop", { lr = 0.1 }, { -1.6988271328732787, 0.6988272944740511, 0.3011726247255535 } },
  { "RMSprop", { lr = 0.1, momentum = 0.9, centered = true, weight_decay = 0.1 }, { -4.1329888890475335, 3.1735403001274975, -2.202554682800361 } },
}

describe("limpet.optim", function()
  describe("first steps match PyTorch", function()
    for _, case in ipairs(torch_refs) do
      local name, opts, want = case[1], case[2], case[3]
      local keys = {}
      for k, v in pairs(opts) do keys[#keys + 1] = k .. "=" .. (type(v) == "table" and "{..}" or tostring(v)) end
      table.sort(keys)
      it(name .. " " .. table.concat(keys, " "), function()
        local w = run(name, opts)
        assert.tensor_near(want, w, 1e-12)
      end)
    end
  end)

  it("steps by hand: SGD is p - lr * g", function()
    local w = lp.tensor({ 1, 2 }, "float32"):requires_grad(true)
    local opt = lp.optim.SGD({ w }, { lr = 0.5 })
    w.grad = lp.tensor({ 2, -4 }, "float32")
    opt:step()
    assert.tensor_near({ 0, 4 }, w, 0)
  end)

  it("steps by hand: Adam's first step is lr * sign(g)", function()
    local w = lp.tensor({ 1, 2 }, "float32"):requires_grad(true)
    local opt = lp.optim.Adam({ w }, { lr = 0.01 })
    w.grad = lp.tensor({ 3, -0.2 }, "float32")
    opt:step()
    assert.tensor_near({ 0.99, 2.01 }, w, 1e-6)
  end)

  it("updates in place: the tensors the caller holds change", function()
    local w = lp.tensor({ 1, 2 }, "float32"):requires_grad(true)
    local params = { a = { b = { w = w } } }
    local opt = lp.optim.SGD(params, { lr = 1 })
    w.grad = lp.ones_like(w)
    opt:step()
    assert.tensor_near({ 0, 1 }, params.a.b.w, 0)
    assert.is_true(w:requires_grad())
    assert.is_true(lp.is_grad_enabled())
  end)

  it("skips parameters without a gradient and zero_grad clears them", function()
    local a = lp.tensor({ 1 }, "float32"):requires_grad(true)
    local b = lp.tensor({ 1 }, "float32"):requires_grad(true)
    local opt = lp.optim.SGD({ a = a, b = b }, { lr = 1 })
    a.grad = lp.tensor({ 1 }, "float32")
    opt:step()
    assert.tensor_near({ 0 }, a, 0)
    assert.tensor_near({ 1 }, b, 0)
    opt:zero_grad()
    assert.is_nil(a.grad)
    assert.is_nil(b.grad)
  end)

  it("names parameters by their path", function()
    local opt = lp.optim.Adam({ ["1_Linear"] = { weight = lp.zeros({ 2, 2 }) }, ["2_LIF"] = { tau_mem = lp.zeros({ 2 }) } })
    assert.same({ "1_Linear.weight", "2_LIF.tau_mem" }, { opt.params[1].name, opt.params[2].name })
  end)

  describe("state", function()
    it("round-trips through lp.save / lp.load and continues identically", function()
      local w1, opt1 = run("Adam", { lr = 0.1 }, 2)
      local path = os.tmpname() .. ".npz"
      assert.is_true(lp.save(path, opt1:state_dict()))
      local w2 = w1:detach():clone():requires_grad(true)
      local opt2 = lp.optim.Adam({ layer = { weight = w2 } }, { lr = 0.5 })
      opt2:load_state_dict(lp.load(path))
      os.remove(path)
      assert.equal(0.1, opt2.lr)
      assert.equal(2, opt2.step_count)
      for _, pair in ipairs { { w1, opt1 }, { w2, opt2 } } do
        pair[1].grad = lp.tensor({ 0.5, -1, 2 }, "float64") * 3
        pair[2]:step()
      end
      assert.tensor_near(w1, w2, 0)
      assert.tensor_near({ 0.7076816791153657, -1.7076816770616812, 2.707681676034839 }, w2, 1e-12)
    end)

    it("holds named arrays", function()
      local _, opt = run("SGD", { lr = 0.1, momentum = 0.9 }, 1)
      local sd = opt:state_dict()
      assert.equal(1, sd.step:item())
      assert.equal(0.9, sd.momentum:item())
      assert.tensor_near({ 0.5, -1, 2 }, sd["momentum_buffer/layer.weight"], 0)
    end)

    it("rejects state for other parameters", function()
      local _, opt = run("Adam", {}, 1)
      local other = lp.optim.Adam({ layer = { bias = lp.zeros({ 3 }, "float64") } })
      assert.has_error(function() other:load_state_dict(opt:state_dict()) end,
        "bad argument #1 to 'load_state_dict' (unexpected entry 'exp_avg/layer.weight')")
      local small = lp.optim.Adam({ layer = { weight = lp.zeros({ 2 }, "float64") } })
      local sd = opt:state_dict()
      local ok, err = pcall(small.load_state_dict, small, sd)
      assert.is_false(ok)
      assert.matches("entry 'exp_avg[_sq]*/layer.weight' has shape %(3,%), expected %(2,%)", err)
      sd.lr = nil
      assert.has_error(function() small:load_state_dict(sd) end,
        "bad argument #1 to 'load_state_dict' (missing entry 'lr')")
    end)
  end)

  describe("errors", function()
    local params = { w = lp.zeros({ 2 }) }
    it("rejects unknown options by name", function()
      assert.has_error(function() lp.optim.Adam(params, { lrr = 1 }) end, "bad argument #2 to 'Adam' (unknown field 'lrr')")
      assert.has_error(function() lp.optim.SGD(params, { beta = 1 }) end, "bad argument #2 to 'SGD' (unknown field 'beta')")
      assert.has_error(function() lp.optim.RMSprop(params, { betas = { 1, 2 } }) end,
        "bad argument #2 to 'RMSprop' (unknown field 'betas')")
      assert.has_error(function() lp.optim.AdamW(params, { momentum = 0.9 }) end,
        "bad argument #2 to 'AdamW' (unknown field 'momentum')")
    end)
    it("rejects bad values", function()
      assert.has_error(function() lp.optim.Adam(params, { lr = "fast" }) end,
        "bad argument #2 to 'Adam' (field 'lr' must be a number, got string)")
      assert.has_error(function() lp.optim.Adam(params, { lr = -1 }) end,
        "bad argument #2 to 'Adam' (field 'lr' must be >= 0, got -1)")
      assert.has_error(function() lp.optim.Adam(params, { betas = { 0.9, 1 } }) end,
        "bad argument #2 to 'Adam' (field 'betas' must be two numbers in [0, 1))")
      assert.has_error(function() lp.optim.SGD(params, { nesterov = true }) end,
        "bad argument #2 to 'SGD' (Nesterov momentum needs momentum > 0 and dampening = 0)")
      assert.has_error(function() lp.optim.RMSprop(params, { alpha = 1 }) end,
        "bad argument #2 to 'RMSprop' (field 'alpha' must be in [0, 1), got 1)")
    end)
    it("rejects bad parameter tables", function()
      assert.has_error(function() lp.optim.SGD({}) end, "bad argument #1 to 'SGD' (no parameters to optimise)")
      assert.has_error(function() lp.optim.SGD(42) end, "bad argument #1 to 'SGD' (expected a table of parameters, got number)")
      assert.has_error(function() lp.optim.SGD({ a = { w = 3 } }) end,
        "bad argument #1 to 'SGD' (parameter 'a.w' is a number, expected a tensor)")
      assert.has_error(function() lp.optim.SGD({ a = lp.zeros({ 2 }, "int32") }) end,
        "bad argument #1 to 'SGD' (parameter 'a' is int32, expected a float tensor)")
    end)
  end)

  describe("clip_grad_norm", function()
    it("scales gradients to the maximum norm and returns the norm (PyTorch)", function()
      local w = lp.zeros({ 3 }, "float64"):requires_grad(true)
      w.grad = lp.tensor({ 3, 4, 0 }, "float64")
      assert.equal(5, lp.optim.clip_grad_norm({ w = w }, 1))
      assert.tensor_near({ 0.599999880000024, 0.799999840000032, 0 }, w.grad, 1e-12)
    end)
    it("leaves small gradients alone and spans several parameters", function()
      local a = lp.zeros({ 1 }, "float64"):requires_grad(true)
      local b = lp.zeros({ 1 }, "float64"):requires_grad(true)
      a.grad = lp.tensor({ 0.3 }, "float64")
      b.grad = lp.tensor({ 0.4 }, "float64")
      assert.near(0.5, lp.optim.clip_grad_norm({ a, b }, 1), 1e-15)
      assert.tensor_near({ 0.3 }, a.grad, 0)
      assert.near(0.5, lp.optim.clip_grad_norm({ a, b }, 0.25), 1e-15)
      assert.tensor_near({ 0.15 }, a.grad, 1e-5)
      assert.tensor_near({ 0.2 }, b.grad, 1e-5)
    end)
    it("takes an optimiser and the max norm", function()
      local w = lp.zeros({ 2 }, "float64"):requires_grad(true)
      w.grad = lp.tensor({ -3, 1 }, "float64")
      assert.equal(3, lp.optim.clip_grad_norm(lp.optim.SGD({ w }), 10, math.huge))
    end)
    it("rejects a bad max norm", function()
      assert.has_error(function() lp.optim.clip_grad_norm({ lp.zeros({ 1 }) }, -1) end,
        "bad argument #2 to 'clip_grad_norm' (expected a number >= 0)")
    end)
  end)

  describe("schedules", function()
    -- PyTorch StepLR / CosineAnnealingLR / ExponentialLR from lr = 0.1, 5 epochs.
    local function lrs(make, opts)
      local opt = lp.optim.SGD({ lp.zeros({ 1 }) }, { lr = 0.1 })
      local s = make(opt, opts)
      local out = {}
      for e = 1, 5 do out[e] = s:step() end
      assert.equal(out[5], opt.lr)
      return out
    end
    it("step", function()
      assert.tensor_near({ 0.1, 0.05, 0.05, 0.025, 0.025 }, lrs(lp.optim.schedule.step, { step_size = 2, gamma = 0.5 }), 1e-15)
    end)
    it("cosine", function()
      assert.tensor_near({ 0.08681980515339464, 0.05500000000000001, 0.023180194846605363, 0.01, 0.023180194846605363 },
        lrs(lp.optim.schedule.cosine, { T_max = 4, eta_min = 0.01 }), 1e-15)
    end)
    it("exponential", function()
      assert.tensor_near({ 0.09, 0.081, 0.0729, 0.06561, 0.059049 },
        lrs(lp.optim.schedule.exponential, { gamma = 0.9 }), 1e-15)
    end)
    it("saves and restores its epoch", function()
      local opt = lp.optim.SGD({ lp.zeros({ 1 }) }, { lr = 0.1 })
      local s = lp.optim.schedule.exponential(opt, { gamma = 0.5 })
      s:step(); s:step()
      local opt2 = lp.optim.SGD({ lp.zeros({ 1 }) }, { lr = 0.1 })
      local s2 = lp.optim.schedule.exponential(opt2, { gamma = 0.5 }):load_state_dict(s:state_dict())
      assert.equal(0.025, opt2.lr)
      assert.equal(0.0125, s2:step())
    end)
    it("rejects unknown and missing fields", function()
      local opt = lp.optim.SGD({ lp.zeros({ 1 }) })
      assert.has_error(function() lp.optim.schedule.step(opt, { step_size = 1, gama = 1 }) end,
        "bad argument #2 to 'step' (unknown field 'gama')")
      assert.has_error(function() lp.optim.schedule.step(opt, { gamma = 0.5 }) end,
        "bad argument #2 to 'step' (field 'step_size' is required)")
      assert.has_error(function() lp.optim.schedule.cosine(opt) end,
        "bad argument #2 to 'cosine' (field 'T_max' is required)")
      assert.has_error(function() lp.optim.schedule.exponential({}, { gamma = 1 }) end,
        "bad argument #1 to 'exponential' (expected an optimiser)")
    end)
  end)
end)
