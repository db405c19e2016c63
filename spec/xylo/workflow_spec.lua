-- spec/xylo/workflow_spec.lua -- lp.xylo as a whole: the per-variant tables, lazy
-- submodules, and the path network -> mapper -> quantiser -> config -> file -> XyloSim,
-- with xylo.compare reporting float-vs-chip agreement.
local lp = require "limpet"
local nn = lp.nn

local function available(name)
  return pcall(require, "limpet.xylo." .. name)
end

local function tmp(name)
  local base = os.tmpname()
  os.remove(base)
  return base .. "_" .. name
end

-- a small deterministic network: 4 in -> 6 hidden -> 2 out
local function small_net()
  lp.seed(3)
  local net = nn.Sequential {
    nn.Linear({ 4, 6 }, { weight = lp.rand({ 4, 6 }) * 2 }),
    nn.LIFBitshift(6, { tau_mem = 16e-3, tau_syn = 4e-3, threshold = 1, dt = 1e-3 }),
    nn.Linear({ 6, 2 }, { weight = lp.rand({ 6, 2 }) }),
    nn.LIFBitshift(2, { tau_mem = 8e-3, tau_syn = 4e-3, threshold = 1, dt = 1e-3, max_spikes_per_dt = 1 }),
  }
  local input = lp.rand({ 3, 40, 4 }):lt(0.3):astype("int32")
  return net, input
end

describe("limpet.xylo", function()
  it("is lp.xylo and has the three variants", function()
    local xylo = require "limpet.xylo"
    assert.are.equal(xylo, lp.xylo)
    for _, v in ipairs { "audio2", "audio3", "imu" } do
      assert.are.equal(v, xylo[v].name)
      assert.are.equal(xylo.limits.for_variant(v), xylo[v].limits)
      for _, f in ipairs { "mapper", "config_from_specification", "validate_config", "cycles_model", "est_clock_freq" } do
        assert.are.equal("function", type(xylo[v][f]), v .. "." .. f)
      end
    end
    for _, f in ipairs { "global_quantize", "channel_quantize", "save_config", "load_config", "validate_config", "compare" } do
      assert.are.equal("function", type(xylo[f]), f)
    end
  end)

  it("names a missing submodule when it is used", function()
    local xylo = require "limpet.xylo"
    assert.has_error(function() xylo._module("nonexistent") end,
      "limpet.xylo: module 'limpet.xylo.nonexistent' (devices/xylo/nonexistent.lua) is not available")
  end)

  it("deploys a trained network: map, quantise, configure, save, load, simulate, compare", function()
    for _, m in ipairs { "mapper", "quantize", "xylosim" } do
      if not available(m) then return pending("limpet.xylo." .. m .. " is not built yet") end
    end
    local xylo = lp.xylo
    local net, input = small_net()
    local spec = xylo.audio2.mapper(net:as_graph())
    local qspec = xylo.global_quantize(spec)
    local config, ok, msg = xylo.audio2.config_from_specification(qspec)
    assert.is_true(ok, msg)
    assert.are.same({ 4, 6, 2 }, { config.n_in, config.n_hidden, config.n_out })
    local path = tmp("deploy.json")
    assert(xylo.save_config(config, path))
    local loaded = assert(xylo.load_config(path))
    os.remove(path)
    -- the reloaded config simulates exactly like the quantised specification
    local sim = xylo.audio2.XyloSim.from_config(loaded, { dt = 1e-3, output_mode = "Spike" })
    local ref = xylo.audio2.XyloSim.from_specification(qspec, { dt = 1e-3 })
    local out, _, rec = sim(input, true)
    local rout, _, rrec = ref(input, true)
    assert.are.same(rout:totable(), out:totable())
    assert.are.same(rrec.Spikes:totable(), rec.Spikes:totable())

    local report = xylo.compare(net, sim, input)
    assert.are.equal(2, #report.layers)
    assert.are.same({ "2_LIFBitshift", "hidden", 6 }, { report.layers[1].name, report.layers[1].kind, report.layers[1].n })
    assert.are.same({ "4_LIFBitshift", "output", 2 }, { report.layers[2].name, report.layers[2].kind, report.layers[2].n })
    for _, l in ipairs(report.layers) do
      assert.is_true(l.agreement >= 0 and l.agreement <= 1)
      assert.is_true(l.exact >= 0 and l.exact <= l.n)
    end
    -- the sim counts in the report are the simulator's own
    sim:reset_state()
    local _, _, again = sim(input, true)
    local hidden = again.Spikes:astype("float64"):sum():item()
    assert.are.equal(hidden, report.layers[1].sim_spikes)
    assert.is_true(report.class_agreement >= 0 and report.class_agreement <= 1)
    assert.are.equal(3, report.samples)
    assert.are.equal(40, report.steps)
    local text = tostring(report)
    assert.matches("^float network vs XyloSim: 3 samples x 40 steps\n", text)
    assert.matches("2_LIFBitshift%s+hidden%s+6", text)
    assert.matches("output argmax agreement", text)
  end)

  it("compare rejects bad arguments", function()
    if not available("xylosim") then return pending("limpet.xylo.xylosim is not built yet") end
    local xylo = lp.xylo
    local net, input = small_net()
    local sim = xylo.audio2.XyloSim.from_specification({
      weights_in = lp.ones({ 4, 6 }, "int8"), weights_out = lp.ones({ 6, 2 }, "int8"),
      threshold = lp.full({ 6 }, 10, "int32"), threshold_out = lp.full({ 2 }, 10, "int32") }, { dt = 1e-3 })
    assert.has_error(function() xylo.compare(5, sim, input) end,
      "bad argument #1 to 'compare' (expected a limpet module)")
    assert.has_error(function() xylo.compare(net, {}, input) end,
      "bad argument #2 to 'compare' (expected a XyloSim)")
    assert.has_error(function() xylo.compare(net, sim, { 1 }) end,
      "bad argument #3 to 'compare' (expected a tensor of event counts)")
    assert.has_error(function() xylo.compare(net, sim, lp.zeros({ 4 })) end,
      "bad argument #3 to 'compare' (expected (T, Nin) or (B, T, Nin) event counts, got 1 dims)")
    assert.has_error(function() xylo.compare(net, sim, input, { rest = true }) end,
      "bad argument #4 to 'compare' (unknown field 'rest')")
    local vsim = xylo.audio2.XyloSim.from_specification({
      weights_in = lp.ones({ 4, 6 }, "int8"), weights_out = lp.ones({ 6, 2 }, "int8") }, { output_mode = "Vmem" })
    assert.has_error(function() xylo.compare(net, vsim, input) end,
      "bad argument #2 to 'compare' (the simulator's output_mode must be 'Spike', got 'Vmem')")
    -- a 2-D input is one sample
    local report = xylo.compare(net, sim, input:slice(1, 1, 1):reshape({ 40, 4 }))
    assert.are.equal(1, report.samples)
  end)

  it("estimates cycles and the clock of a configuration", function()
    for _, m in ipairs { "cycles" } do
      if not available(m) then return pending("limpet.xylo." .. m .. " is not built yet") end
    end
    local xylo = lp.xylo
    local config = xylo.audio2.config_from_specification {
      weights_in = lp.ones({ 2, 4 }, "int8"), weights_rec = lp.ones({ 4, 4 }, "int8"),
      weights_out = lp.ones({ 4, 2 }, "int8"), threshold = 10, threshold_out = 10 }
    local hz = xylo.audio2.est_clock_freq(config, 1e-2)
    assert.is_true(type(hz) == "number" and hz > 0)
  end)
end)
