-- spec/xylo/mapper_spec.lua -- limpet.xylo.mapper: the oracle networks map
-- to Rockpool's float specs; ids, layouts per variant, dtypes, warnings,
-- option errors. The design-rule violations are in drc_spec.lua.
local lp = require "limpet"
local nn, G = lp.nn, lp.graph
local M = require "limpet.xylo.mapper"

local cases_lib = require "support.mapper_cases"
local load_cases, build = cases_lib.load, cases_lib.build

local function lif(n, o)
  o = o or {}
  o.tau_mem, o.tau_syn = o.tau_mem or 0.02, o.tau_syn or 0.01
  return nn.LIF(n, o)
end
local function lin(a, b, o) return nn.Linear({ a, b }, o) end
local function quiet() return { on_warning = function() end } end

describe("xylo mapper", function()
  describe("Rockpool's Audio 2 oracle networks", function()
    for _, case in ipairs(load_cases()) do
      it("maps '" .. case.name .. "' to the same float spec", function()
        local net = nn.Sequential(build(case.layers))
        local spec = M.mapper(net:as_graph(), "audio2")
        for k, v in pairs(case.spec) do
          if k == "aliases" then
            local want = {}
            for i, l in ipairs(v) do
              want[i] = {}
              for j, x in ipairs(l) do want[i][j] = x + 1 end   -- 1-based in Lua
            end
            assert.same(want, spec.aliases)
          elseif type(v) == "number" then
            assert.equal(v, spec[k])
          else
            assert.equal("float64", spec[k].dtype)
            assert.tensor_near(lp.tensor(v, "float64"), spec[k], 1e-5)
          end
        end
        assert.equal(case.dt, spec.dt)
        assert.is_true(G.is_a(spec.mapped_graph, G.GraphHolder))
        assert.tensor_near(lp.zeros({ #spec.threshold }, "float64"), spec.bias)
        assert.tensor_near(lp.zeros({ #spec.threshold_out }, "float64"), spec.bias_out)
      end)
    end
  end)

  it("writes 1-based hardware ids back to the graph and the modules", function()
    local net = nn.Sequential { lin(2, 3), lif(3), lin(3, 4), lif(4), lin(4, 2), lif(2) }
    local spec = M.mapper(net:as_graph(), "audio2")
    assert.same({ 1, 2, 3 }, net[2].hw_ids)
    assert.same({ 4, 5, 6, 7 }, net[4].hw_ids)
    assert.same({ 1001, 1002 }, net[6].hw_ids)
    local hidden = G.find_modules_of_subclass(spec.mapped_graph, M.XyloHiddenNeurons)
    assert.equal(2, #hidden)
    assert.same({ 1, 2, 3 }, hidden[1].hw_ids)
    assert.equal(net[2], hidden[1].computational_module)
    local out = G.find_modules_of_subclass(spec.mapped_graph, M.XyloOutputNeurons)
    assert.same({ 1001, 1002 }, out[1].hw_ids)
    -- no LIF graph module is left: all were replaced
    assert.equal(0, #G.find(spec.mapped_graph, G.LIFNeuronWithSynsRealValue))
  end)

  it("numbers output neurons from max_hidden_neurons + 1", function()
    local net = nn.Sequential { lin(2, 3), lif(3), lin(3, 2), lif(2) }
    M.mapper(net:as_graph(), "audio2", { max_hidden_neurons = 10 })
    assert.same({ 11, 12 }, net[4].hw_ids)
  end)

  -- W_in -> H1 -> Wa -> Hoen -> Wo -> O, and Hoen -> Wb -> H2, a population
  -- that reads Hoen only. Depth-first order meets Hoen (output-expansion)
  -- before H2.
  local function branching()
    local function neurons(n, name)
      return G.LIFNeuronWithSynsRealValue:factory(n, n, name, nil,
        { tau_mem = 0.02, tau_syn = 0.02, threshold = 1, dt = 1e-3 })
    end
    local function w(src, dst, name, v)
      return G.LinearWeights(src.output_nodes, dst.input_nodes, name, nil,
        { weights = lp.full({ #src.output_nodes, #dst.input_nodes }, v, "float64") })
    end
    local win = G.LinearWeights:factory(2, 2, "w_in", nil, { weights = lp.full({ 2, 2 }, 0.5, "float64") })
    local h1, hoen, h2, o = neurons(2, "h1"), neurons(2, "hoen"), neurons(3, "h2"), neurons(1, "o")
    G.connect_modules(win, h1)
    w(h1, hoen, "wa", 0.1)
    w(hoen, h2, "wb", 0.2)
    w(hoen, o, "wo", 0.4)
    return G.GraphHolder(win.input_nodes, o.output_nodes, "net")
  end
  -- the Xylo neuron modules that replaced the LIF ones, by name
  local function ids(spec)
    local out = {}
    for _, name in ipairs { "h1", "hoen", "h2" } do out[name] = G.find(spec.mapped_graph, name)[1] end
    return out
  end

  it("allocates in depth-first order on Audio 2", function()
    local spec = M.mapper(branching(), "audio2")
    local m = ids(spec)
    assert.same({ 1, 2 }, m.h1.hw_ids)
    assert.same({ 3, 4 }, m.hoen.hw_ids)
    assert.same({ 5, 6, 7 }, m.h2.hw_ids)
    assert.same({ 2, 7 }, spec.weights_in.shape)
    assert.same({ 7, 1 }, spec.weights_out.shape)
    -- wb: hoen (3, 4) -> h2 (5..7)
    assert.equal(0.2, spec.weights_rec:get(3, 5))
    assert.equal(0.4, spec.weights_out:get(3, 1))
    assert.equal(0, spec.weights_out:get(1, 1))
  end)

  for _, variant in ipairs { "audio3", "imu" } do
    it("puts input-expansion neurons first and output-expansion last on " .. variant, function()
      local spec = M.mapper(branching(), variant)
      local m = ids(spec)
      assert.same({ 1, 2 }, m.h1.hw_ids)
      assert.same({ 3, 4, 5 }, m.h2.hw_ids)
      assert.same({ 6, 7 }, m.hoen.hw_ids)
      assert.same({ 2, 2, 1 }, spec.weights_in.shape)      -- (Nin, N_IEN, S)
      assert.same({ 7, 7, 1 }, spec.weights_rec.shape)
      assert.same({ 2, 1 }, spec.weights_out.shape)        -- (N_OEN, Nout)
      assert.equal(0.4, spec.weights_out:get(1, 1))
      assert.equal(0.4, spec.weights_out:get(2, 1))
      assert.equal(0.2, spec.weights_rec:get(6, 3, 1))
      assert.equal(0.1, spec.weights_rec:get(1, 7, 1))
      assert.equal(variant == "imu", spec.dash_syn_2 == nil)
    end)
  end

  it("keeps an input-expansion module that is also output-expansion in place (IMU)", function()
    local net = nn.Sequential { lin(2, 3), lif(3), lin(3, 2), lif(2) }
    local spec = M.mapper(net:as_graph(), "imu")
    assert.same({ 1, 2, 3 }, net[2].hw_ids)
    assert.same({ 2, 3, 1 }, spec.weights_in.shape)
    assert.same({ 3, 2 }, spec.weights_out.shape)
  end)

  it("places two-synapse weights on the trailing axis (column 2n + s)", function()
    local W = lp.tensor({ { 1, 2, 3, 4 }, { 5, 6, 7, 8 } }, "float32")
    local net = nn.Sequential { lin(2, 4, { weight = W }), lif({ 4, 2 }, { tau_syn = { { 0.004, 0.008 }, { 0.016, 0.032 } } }),
                                lin(2, 1), lif(1) }
    local spec = M.mapper(net:as_graph(), "audio2")
    assert.same({ 2, 2, 2 }, spec.weights_in.shape)
    assert.tensor_near(lp.tensor({ { { 1, 2 }, { 3, 4 } }, { { 5, 6 }, { 7, 8 } } }, "float64"), spec.weights_in)
    assert.tensor_near(lp.tensor({ 2, 4 }, "float64"), spec.dash_syn, 1e-6)
    assert.tensor_near(lp.tensor({ 3, 5 }, "float64"), spec.dash_syn_2, 1e-6)
  end)

  it("maps aLIF's after-hyperpolarisation as a second synapse with self-weights", function()
    local net = nn.Sequential { lin(2, 3), nn.aLIF(3, { tau_mem = 0.02, tau_syn = 0.004, tau_ahp = 0.008, w_ahp = -0.5 }),
                                lin(3, 1), lif(1) }
    local spec = M.mapper(net:as_graph(), "audio2")
    assert.same({ 3, 3, 2 }, spec.weights_rec.shape)
    for i = 1, 3 do
      for j = 1, 3 do
        assert.equal(0, spec.weights_rec:get(i, j, 1))
        assert.equal(i == j and -0.5 or 0, spec.weights_rec:get(i, j, 2))
      end
    end
    assert.tensor_near(lp.full({ 3 }, 2.0, "float64"), spec.dash_syn, 1e-6)
    assert.tensor_near(lp.full({ 3 }, 3.0, "float64"), spec.dash_syn_2, 1e-6)
  end)

  it("maps LIFBitshift, and LIFs in other leak modes, through their time constants", function()
    local net = nn.Sequential { lin(2, 2), nn.LIFBitshift(2, { tau_mem = 0.016, tau_syn = 0.004 }), lin(2, 1),
                                nn.LIF(1, { dash_mem = 5, dash_syn = 3, leak_mode = "bitshifts" }) }
    local spec = M.mapper(net:as_graph(), "audio2")
    assert.tensor_near(lp.tensor({ 4, 4 }, "float64"), spec.dash_mem, 1e-6)
    assert.tensor_near(lp.tensor({ 2, 2 }, "float64"), spec.dash_syn, 1e-6)
    assert.tensor_near(lp.tensor({ 5 }, "float64"), spec.dash_mem_out, 1e-6)
    assert.tensor_near(lp.tensor({ 3 }, "float64"), spec.dash_syn_out, 1e-6)
  end)

  it("carries hidden and output biases", function()
    local net = nn.Sequential { lin(2, 2), lif(2, { bias = { 0.5, -0.25 } }), lin(2, 1), lif(1, { bias = 0.125 }) }
    local spec = M.mapper(net:as_graph(), "audio2")
    assert.tensor_near(lp.tensor({ 0.5, -0.25 }, "float64"), spec.bias)
    assert.tensor_near(lp.tensor({ 0.125 }, "float64"), spec.bias_out)
  end)

  it("casts to the dtypes asked for", function()
    local net = nn.Sequential { lin(2, 2, { weight = { { 1.7, -2 }, { 3, 0 } } }), lif(2, { threshold = 5.5 }),
                                lin(2, 1), lif(1) }
    local spec = M.mapper(net:as_graph(), "audio2",
      { weight_dtype = "int8", threshold_dtype = "int16", dash_dtype = "float32" })
    assert.equal("int8", spec.weights_in.dtype)
    assert.equal("int8", spec.weights_rec.dtype)
    assert.equal("int8", spec.bias.dtype)
    assert.equal("int16", spec.threshold.dtype)
    assert.equal("float32", spec.dash_mem.dtype)
    assert.equal(3, spec.weights_in:get(2, 1))
  end)

  it("sums two weight modules reaching the same neurons", function()
    local h = G.LIFNeuronWithSynsRealValue:factory(1, 1, "h", nil, { tau_mem = 0.02, tau_syn = 0.02, threshold = 1, dt = 1e-3 })
    local o = G.LIFNeuronWithSynsRealValue:factory(1, 1, "o", nil, { tau_mem = 0.02, tau_syn = 0.02, threshold = 1, dt = 1e-3 })
    local ins = { G.GraphNode() }
    G.LinearWeights(ins, h.input_nodes, "a", nil, { weights = { { 0.25 } } })
    G.LinearWeights(ins, h.input_nodes, "b", nil, { weights = { { 0.5 } } })
    G.LinearWeights(h.output_nodes, o.input_nodes, "c", nil, { weights = { { 1 } } })
    local spec = M.mapper(G.GraphHolder(ins, o.output_nodes, "g"), "audio2")
    assert.equal(0.75, spec.weights_in:get(1, 1))
  end)

  it("reports each warning once, to the callback, and can make them fatal", function()
    local net = nn.Sequential { lin(2, 3, { has_bias = true }), lif(3), lin(3, 2, { has_bias = true }), lif(2) }
    local got = {}
    local spec, warnings = M.mapper(net:as_graph(), "audio2", { on_warning = function(m) got[#got + 1] = m end })
    assert.is_table(spec)
    local msg = "DRCWarning: Design rule weight_nodes_have_no_biases: biases of LinearWeights '1_Linear' are ignored: Xylo weights have no biases"
    assert.same({ msg }, got)
    assert.same({ msg }, warnings)
    assert.has_error(function() M.mapper(net:as_graph(), "audio2", { warnings_fatal = true }) end, msg)
  end)

  it("rejects bad arguments by name", function()
    local g = nn.Sequential { lin(2, 3), lif(3), lin(3, 2), lif(2) }:as_graph()
    assert.has_error(function() M.mapper({}, "audio2") end,
      "bad argument #1 to 'mapper' (graph module expected (use net:as_graph()), got table)")
    assert.has_error(function() M.mapper(g, "audio4") end,
      "bad argument #2 to 'mapper' (variant must be one of audio2, audio3, imu, got 'audio4')")
    assert.has_error(function() M.mapper(g, "audio2", { treshold_dtype = "int16" }) end,
      "bad argument #3 to 'mapper' (unknown field 'treshold_dtype')")
    assert.has_error(function() M.mapper(g, "audio2", { weight_dtype = "int4" }) end,
      "bad argument #3 to 'mapper' (field 'weight_dtype' must be one of float, int, float64, float32, int8, int16, int32, int64, uint8, got 'int4')")
    assert.has_error(function() M.mapper(g, "imu", { max_hidden_neurons = 2.5 }) end,
      "bad argument #3 to 'mapper' (field 'max_hidden_neurons' must be a positive integer, got 2.5)")
    assert.has_error(function() M.mapper(g, "audio3", { max_output_neurons = 0 }) end,
      "bad argument #3 to 'mapper' (field 'max_output_neurons' must be a positive integer, got 0)")
    assert.has_error(function() M.mapper(g, "audio2", { warnings_fatal = 1 }) end,
      "bad argument #3 to 'mapper' (field 'warnings_fatal' must be a boolean)")
    assert.has_error(function() M.mapper(g, "audio2", { on_warning = "stderr" }) end,
      "bad argument #3 to 'mapper' (field 'on_warning' must be a function)")
    assert.has_error(function() M.mapper(g, "audio2", 5) end,
      "bad argument #3 to 'mapper' (table expected, got number)")
  end)

  it("lists each variant's design rules in order", function()
    assert.same({ "output_nodes_have_neurons_as_source", "input_to_neurons_is_a_weight", "first_module_is_a_weight",
      "le_16_input_channels", "le_8_output_channels", "all_neurons_have_same_dt", "output_neurons_cannot_be_recurrent",
      "no_consecutive_weights", "alias_inputs_must_be_neurons", "alias_output_nodes_must_have_neurons_as_input",
      "at_least_two_neuron_layers_needed", "weight_nodes_have_no_biases" }, M.design_rules("audio2"))
    local imu = M.design_rules("imu")
    assert.equal("le_16_output_channels", imu[5])
    assert.equal("le_128_input_expansion_neurons", imu[6])
    assert.equal("le_128_output_expansion_neurons", imu[7])
    assert.equal("max_synapses_per_neuron", imu[#imu])
    assert.equal("le_32_output_channels", M.design_rules("audio3")[5])
  end)
end)
