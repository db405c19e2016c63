-- spec/parity/xylo_parity_spec.lua -- issue 14 item 22: the Xylo workflow as
-- Rockpool's own tests call it (tests_default/devices_xylo:
-- test_xylo_mapper_v2, test_cycles_model; test_graph_base; its aLIF
-- mapping notebook test) where limpet refused or lacked it.
local lp = require "limpet"
local nn = lp.nn
local xylo = lp.xylo
local G = lp.graph

local function collect()
  local msgs = {}
  return msgs, function(m) msgs[#msgs + 1] = m end
end

describe("issue 14 item 22: Xylo as Rockpool's tests call it", function()
  it("config_from_specification on an unquantised spec rounds, casts and warns", function()
    lp.seed(1)
    local net = nn.Sequential { nn.Linear { 2, 4 }, nn.aLIF(4), nn.Linear { 4, 2 }, nn.LIF(2) }
    local spec = xylo.audio2.mapper(net:as_graph(), { on_warning = function() end })
    local msgs, warn = collect()
    local config, ok = xylo.audio2.config_from_specification(spec, { on_warning = warn })
    assert.is_true(ok)
    assert.equals("int8", config.weights_in.dtype)
    assert.tensor_near(lp.round(spec.weights_out), config.weights_out:astype("float64"), 0)
    assert.is_true(#msgs >= 1)
    assert.matches("^config_from_specification: field 'weights_in' holds non%-integer values %(.* at %[1, 1, 1%]%): rounded to the nearest integers",
      msgs[1])
    -- a quantised one says nothing
    local none, quiet = collect()
    xylo.audio2.config_from_specification(xylo.channel_quantize(spec), { on_warning = quiet })
    assert.same({}, none)
    assert.has_error(function()
      xylo.audio2.config_from_specification(spec, { warnings_fatal = true })
    end)
  end)

  it("mapper options max_hidden_neurons / max_output_neurons go above the chip's limits with a DRC warning", function()
    local big = nn.Sequential { nn.Linear { 2, 2000 }, nn.LIF(2000), nn.Linear { 2000, 4 }, nn.LIF(4) }
    assert.has_error(function() xylo.audio2.mapper(big:as_graph(), { on_warning = function() end }) end)
    local msgs, warn = collect()
    local spec = xylo.audio2.mapper(big:as_graph(), { max_hidden_neurons = 2000, on_warning = warn })
    assert.same({ 2000, 2000 }, spec.weights_rec.shape)
    assert.equals("DRCWarning: max_hidden_neurons = 2000 is above the 1000 hidden neurons of Xylo Audio 2: the specification will not fit the chip",
      msgs[1])
    local wide = nn.Sequential { nn.Linear { 4, 2 }, nn.LIF(2), nn.Linear { 2, 32 }, nn.LIF(32) }
    local m2, w2 = collect()
    local s2 = xylo.audio2.mapper(wide:as_graph(), { max_output_neurons = 32, on_warning = w2 })
    assert.same({ 2, 32 }, s2.weights_out.shape)
    assert.matches("^DRCWarning: max_output_neurons = 32 is above the 8 output neurons", m2[1])
    assert.matches("^DRCWarning: Design rule le_8_output_channels", m2[2])
  end)

  it("weight_dtype, dash_dtype and threshold_dtype take Rockpool's 'int' and 'float'", function()
    local net = nn.Sequential { nn.Linear { 5, 6 }, nn.LIF({ 6, 6 }, { has_rec = true }), nn.Linear { 6, 3 }, nn.LIF(3) }
    local spec = xylo.audio2.mapper(net:as_graph(), { weight_dtype = "int", dash_dtype = "int", threshold_dtype = "int" })
    assert.equals("int64", spec.weights_in.dtype)
    assert.equals("int64", spec.dash_mem.dtype)
    assert.equals("int64", spec.threshold.dtype)
    local f = xylo.audio2.mapper(net:as_graph(), { weight_dtype = "float" })
    assert.equals("float64", f.weights_in.dtype)
    local sim = xylo.audio2.XyloSim.from_specification(spec)
    assert.is_truthy(sim)
  end)

  it("cycles_model takes input_sp, hidden_sp and output_sp", function()
    local net = nn.Sequential { nn.Linear { 16, 64 }, nn.LIF { 64, 32 }, nn.Linear { 32, 64 },
                                nn.LIF({ 64, 32 }, { has_rec = true }), nn.Linear { 32, 8 }, nn.LIF(8) }
    local spec = xylo.audio2.mapper(net:as_graph())
    local config = xylo.audio2.config_from_specification(xylo.channel_quantize(spec))
    local cycles, b = xylo.audio2.cycles_model(config)
    assert.is_true(cycles > 0 and b.isyn2_ops > 0)
    local half = xylo.audio2.cycles_model(config, { input_sp = 0.5, hidden_sp = 0.5, output_sp = 0.5 })
    assert.equals(xylo.audio2.cycles_model(config, { input = 0.5, hidden = 0.5, output = 0.5 }), half)
    assert.is_true(half < cycles)
    assert.is_true(xylo.audio2.est_clock_freq(config, 1e-3) / 1e6 < 50)
    assert.has_error(function() xylo.audio2.cycles_model(config, { input = 0.5, input_sp = 0.5 }) end,
      "bad argument #3 to 'cycles_model' (field 'input' is given twice (as input and input_sp))")
  end)

  it("XyloSim is a module: set_attributes takes the state it returns; .timed() on event series", function()
    local net = nn.Sequential { nn.Linear { 2, 3 }, nn.LIF(3), nn.Linear { 3, 2 }, nn.LIF(2) }
    local sim = xylo.audio2.XyloSim.from_specification(xylo.channel_quantize(xylo.audio2.mapper(net:as_graph())))
    local _, state = sim(lp.ones(5, 2):astype("int32") * 3)
    assert.equals(sim, sim:set_attributes(state))
    assert.equals(sim, sim:reset_state())
    assert.is_true(sim.spiking_input and sim.spiking_output)
    local tsim = sim:timed { add_events = true }
    local ev = lp.TSEvent({ 0.001, 0.002, 0.002 }, { 1, 2, 2 }, { t_start = 0, t_stop = 0.01, num_channels = 2 })
    local out, st, rec = tsim(ev, true)
    assert.equals("TSEvent", getmetatable(out).__name)
    assert.equals("TSContinuous", getmetatable(rec.Vmem).__name)
    assert.equals(tsim, tsim:set_attributes(st))
    assert.near(0.01, tsim.t, 1e-12)
  end)

  it("exports Xylo2Neurons, Xylo2HiddenNeurons, Xylo2OutputNeurons and DRCError", function()
    local A2 = xylo.audio2
    assert.is_true(G.is_a(setmetatable({}, A2.Xylo2HiddenNeurons), A2.Xylo2Neurons))
    assert.is_true(G.is_a(setmetatable({}, A2.Xylo2OutputNeurons), G.GenericNeurons))
    assert.equals("DRCError", A2.DRCError)
    assert.equals(xylo.imu.XyloIMUNeurons, A2.Xylo2Neurons)
    local net = nn.Sequential { nn.Linear { 2, 3 }, nn.LIF(3), nn.Linear { 3, 2 }, nn.LIF(2) }
    local g = net:as_graph()
    A2.mapper(g)
    assert.equals(3, #G.find_modules_of_subclass(g, A2.Xylo2HiddenNeurons)[1].output_nodes)
  end)

  it("graph SetList and add_input / add_output / remove_* / clear_* (Rockpool's test_graph_base)", function()
    local sl = G.SetList { 0, 1, 1, 2 }
    assert.equals(3, #sl)
    sl:append(0)
    assert.equals(2, sl[-1])
    sl:extend { 2, 1, 3 }
    assert.equals(4, #sl)
    assert.equals(3, sl[-1])
    local gm = G.GraphModule:factory(2, 3, "test")
    local n0, n1 = G.GraphNode(), G.GraphNode()
    gm:add_input(n0)
    assert.equals(n0, gm.input_nodes[3])
    assert.equals(gm, n0.sink_modules[1])
    gm:remove_input(n0)
    assert.equals(2, #gm.input_nodes)
    assert.same({}, n0.sink_modules)
    gm:remove_input(G.GraphNode())
    gm:clear_inputs()
    assert.equals(0, #gm.input_nodes)
    gm:add_output(n1)
    assert.equals(gm, n1.source_modules[1])
    gm:remove_output(n1)
    assert.same({}, n1.source_modules)
    gm:clear_outputs()
    assert.equals(0, #gm.output_nodes)
    local base = G.GraphModuleBase:factory(0, 3, "test")
    base:add_output(n1)
    assert.equals(4, #base.output_nodes)
  end)
end)
