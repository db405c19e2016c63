-- spec/dynapse2/mismatch_spec.lua -- the mismatch model (devices/dynapse2/
-- mismatch.lua, reference/dynapse2.md §10): the frozen prototype (every
-- DynapSim current and layout constant, nothing of Linear), the dynamic one
-- (w_rec, Linear weights), the statistics of test_mismatch.py (Nin = 64,
-- N = 256), seeding, DynapSim's percent_mismatch, and the transform for
-- mismatch-aware training (a new sample per step, gradients to the originals).
local lp = require "limpet"
local d2 = require "limpet.dynapse2"
local M = d2.mismatch

local function net()
  lp.seed(2021)
  return lp.nn.Sequential(lp.nn.Linear({ 64, 256 }), lp.nn.DynapSim(256, { has_rec = true, dtype = "float64" }))
end

local function vals(t) return t:astype("float64"):reshape(-1):totable() end
local function mean(v) local s = 0 for _, x in ipairs(v) do s = s + x end return s / #v end
local function std(v)
  local m, s = mean(v), 0
  for _, x in ipairs(v) do s = s + (x - m) ^ 2 end
  return math.sqrt(s / #v)
end

describe("frozen mismatch", function()
  it("selects every DynapSim current and layout constant, nothing of Linear", function()
    local n = net()
    local proto = d2.frozen_mismatch_prototype(n)
    assert.are.equal(24, #proto)
    local names = {}
    for i, e in ipairs(proto) do
      names[i] = e.name
      assert.are.equal("2_DynapSim", e.path)
    end
    assert.are.same(M.frozen_names, names)
    local dyn = d2.dynamic_mismatch_prototype(n)
    assert.are.same({ "weight", "w_rec" }, { dyn[1].name, dyn[2].name })
  end)

  it("keeps the means and spreads the values (test_mismatch.py statistics, p = 0.1)", function()
    local n = net()
    local before = {}
    for _, name in ipairs(M.frozen_names) do before[name] = vals(n[2][name]) end
    local w_in, w_rec = vals(n[1].weight), vals(n[2].w_rec)
    M.apply_frozen(n, 0.1, 2022)
    local patterns = {}
    for i, name in ipairs(M.frozen_names) do
      local a, b = before[name], vals(n[2][name])
      assert.is_true(std(a) / math.abs(mean(a)) < 1e-12, name .. ": uniform before")
      local m = mean(b)
      assert.is_true(math.abs(m - mean(a)) / math.abs(mean(a)) < 0.01, name .. ": mean kept")
      local cv = std(b) / math.abs(m)
      assert.is_true(cv > 0.02 and cv < 0.05, name .. ": spread " .. cv)   -- sigma = 0.1 / 3
      local up = {}
      for j = 1, 8 do up[j] = b[j] > a[j] and "+" or "-" end
      patterns[i] = table.concat(up)
    end
    -- every parameter its own draws: no run of more than 3 equal patterns
    local run = 1
    for i = 2, #patterns do
      run = patterns[i] == patterns[i - 1] and run + 1 or 1
      assert.is_true(run <= 3)
    end
    assert.are.same(w_in, vals(n[1].weight))
    assert.are.same(w_rec, vals(n[2].w_rec))
  end)

  it("is reproducible from its seed and differs between seeds", function()
    local a, b, c = net(), net(), net()
    M.apply_frozen(a, 0.2, 7)
    M.apply_frozen(b, 0.2, 7)
    M.apply_frozen(c, 0.2, 8)
    assert.are.same(vals(a[2].Itau_mem), vals(b[2].Itau_mem))
    assert.are_not.same(vals(a[2].Itau_mem), vals(c[2].Itau_mem))
  end)

  it("is applied at construction by DynapSim's percent_mismatch (seeded)", function()
    local a = lp.nn.DynapSim(50, { percent_mismatch = 0.05, seed = 3, dtype = "float64" })
    local b = lp.nn.DynapSim(50, { percent_mismatch = 0.05, seed = 3, dtype = "float64" })
    local c = lp.nn.DynapSim(50, { dtype = "float64" })
    assert.are.same(vals(a.Igain_syn), vals(b.Igain_syn))
    assert.are.equal(3, a.mismatch_seed)
    for _, name in ipairs(M.frozen_names) do
      local x, y = vals(a[name]), vals(c[name])
      local maxdev = 0
      for i = 1, #x do maxdev = math.max(maxdev, math.abs(x[i] / y[i] - 1)) end
      assert.is_true(maxdev > 0 and maxdev < 0.1, name)
    end
    assert.are.same(vals(a.Io), vals(a.imem), "the currents start at the mismatched Io")
    -- without a seed: drawn from lp's generator
    lp.seed(5)
    local d = lp.nn.DynapSim(4, { percent_mismatch = 0.05 })
    lp.seed(5)
    local e = lp.nn.DynapSim(4, { percent_mismatch = 0.05 })
    assert.are.equal(d.mismatch_seed, e.mismatch_seed)
  end)

  it("simulates a mismatched chip differently from the nominal one", function()
    lp.seed(1)
    local x = (lp.rand(1, 200, 20):lt(0.05)):astype("float32") * 10
    local a = lp.nn.DynapSim(20)
    local b = lp.nn.DynapSim(20, { percent_mismatch = 0.3, seed = 1 })
    assert.are_not.same(vals(a(x)), vals(b(x)))
  end)
end)

describe("mismatch-aware training", function()
  it("draws a new sample per step, puts the originals back, and trains them", function()
    local n = lp.nn.Sequential(lp.nn.Linear({ 6, 3 }), lp.nn.DynapSim(3, { has_rec = true }))
    local w0 = n[1].weight
    local t = d2.mismatch_transform(n, { percent = 0.3, seed = 11 })
    local seen = {}
    local x = lp.ones(1, 20, 6) * 5
    for step = 1, 3 do
      local loss = t:run(function()
        seen[step] = vals(n[1].weight)
        assert.is_false(n[1].weight.is_leaf)
        local out, _, rec = n(x, true)
        return rec["2_DynapSim"].vmem:sum() + out:sum()
      end)
      assert.are.equal(w0, n[1].weight, "the original parameter is back")
      loss:backward()
      assert.is_true(lp.abs(w0.grad):sum():item() > 0)
      w0.grad = nil
    end
    assert.are_not.same(seen[1], seen[2])
    assert.are_not.same(seen[2], seen[3])
    -- seeded: a second transform with the same seed draws the same samples
    local t2 = d2.mismatch_transform(n, { percent = 0.3, seed = 11 })
    t2:apply()
    local again = vals(n[1].weight)
    t2:restore()
    assert.are.same(seen[1], again)
  end)

  it("generates samples without changing the network (mismatch_generator)", function()
    local n = net()
    local gen = d2.mismatch_generator(d2.dynamic_mismatch_prototype(n), { percent = 0.3 })
    local before = vals(n[1].weight)
    local s1, s2 = gen(1), gen(1)
    assert.are.same(vals(s1[1].value), vals(s2[1].value))
    assert.are.same(before, vals(n[1].weight))
    local ratio = vals(s1[1].value)
    local dev = {}
    for i = 1, #ratio do dev[i] = ratio[i] / before[i] - 1 end
    assert.is_true(math.abs(std(dev) - 0.1) < 0.01, "sigma = percent / sigma_rule")
  end)

  it("refuses bad options", function()
    local n = net()
    assert.has_error(function() d2.mismatch_transform(n, { percent = -1 }) end,
      "bad argument #2 to 'mismatch_transform' (field 'percent' must be a non-negative number)")
    assert.has_error(function() d2.mismatch_transform(n, { sigma = 1 }) end,
      "bad argument #2 to 'mismatch_transform' (unknown field 'sigma')")
    assert.has_error(function() lp.nn.DynapSim(2, { percent_mismatch = -0.1 }) end,
      "bad argument #2 to 'DynapSim' (field 'percent_mismatch' must be a non-negative number)")
  end)
end)

describe("issue 16: the mismatch functions check their arguments", function()
  local function err(f, ...) local ok, e = pcall(f, ...); assert.is_false(ok); return tostring(e) end
  it("a missing network, percent, shape or function is an error naming the function", function()
    assert.matches("bad argument #1 to 'frozen_mismatch_prototype' %(a network", err(d2.frozen_mismatch_prototype))
    assert.matches("bad argument #1 to 'mismatch_transform' %(a network", err(M.Transform))
    assert.matches("bad argument #1 to 'apply_frozen' %(a network", err(M.apply_frozen, nil, 0.3))
    assert.matches("bad argument #2 to 'perturb' %(percent must be a non%-negative", err(M.perturb, lp.ones(2), nil, 1, 1))
    assert.matches("bad argument #3 to 'normal' %(a shape table expected", err(M.normal, 1, 1, nil))
    local t = M.mismatch_transform(lp.nn.Linear({ 2, 3 }), { seed = 1 })
    assert.matches("bad argument #1 to 'run' %(mismatch_transform:run needs a function", err(t.run, t, nil))
    assert.is_nil(t._saved)                      -- refused before applying a sample
  end)
end)

describe("issue 16: Dynap-SE2 helpers check their arguments", function()
  local K = require "limpet.dynapse2.constants"
  local B = require "limpet.dynapse2.biasgen"
  local E = require "limpet.dynapse2.events"
  local L = require "limpet.dynapse2.limits"
  local function err(f, ...) local ok, e = pcall(f, ...); assert.is_false(ok); return tostring(e) end
  it("constants, biasgen, events and limits refuse missing and wrong arguments by name", function()
    assert.matches("bad argument #2 to 'tau_current' %(the capacitance must be a positive finite number, got nil%)",
      err(K.tau_current, 0.01))
    assert.matches("bad argument #1 to 'kappa'", err(K.kappa))
    assert.matches("bad argument #1 to 'bias_type' %(a bias name expected, got nil%)", err(K.bias_type))
    assert.matches("bad argument #1 to 'model_error' %(coarse must be an integer 0..5", err(B.model_error))
    assert.matches("bad argument #2 to 'analog_to_digital' %(scale must be a number", err(B.analog_to_digital, 1e-9, {}))
    assert.matches("bad argument #1 to 'load_table' %(a file path expected, got nil%)", err(B.load_table))
    assert.matches("bad argument #2 to 'control_event' %(table of options expected, got number%)",
      err(E.control_event, 0, 3))
    assert.matches("bad argument #1 to 'is_control' %(an event", err(E.is_control))
    assert.matches("bad argument #1 to 'cluster_address' %(a cluster id >= 1 expected, got nil%)", err(L.cluster_address))
    assert.matches("Dynapse2Config: make a configuration with dynapse2.config_from_specification",
      err(d2.Dynapse2Config))
    -- the valid calls are unchanged
    assert.are.equal(K.tau_current(0.01, 1e-12), K.tau_current(0.01, 1e-12, K.layout))
    assert.are.same({ 2, 1 }, { L.cluster_address(L.NUM_CORES + 1) })
    assert.is_true(E.is_control({ destination = { tag = L.CONTROL_TAG, x_hop = L.CONTROL_HOP + 1, y_hop = L.CONTROL_HOP } }))
  end)
end)
