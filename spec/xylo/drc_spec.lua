-- spec/xylo/drc_spec.lua -- the Xylo mapper's design-rule checks: one
-- network per rule, violating that rule only, and the message it gets;
-- then the conversion and allocation errors.
local lp = require "limpet"
local nn, G = lp.nn, lp.graph
local M = require "limpet.xylo.mapper"

local function lif(n, o)
  o = o or {}
  o.tau_mem, o.tau_syn = o.tau_mem or 0.02, o.tau_syn or 0.01
  return nn.LIF(n, o)
end
local function lin(a, b, o) return nn.Linear({ a, b }, o) end
local function graph(x) return G.is_a(x, G.GraphModuleBase) and x or x:as_graph() end

-- map and return the error message (nil when it mapped) and the warnings
local function map(net, variant, opts)
  local warnings = {}
  opts = opts or {}
  opts.on_warning = function(m) warnings[#warnings + 1] = m end
  local ok, err = pcall(M.mapper, graph(net), variant or "audio2", opts)
  return (not ok) and err or nil, warnings
end

local function rule(name, msg) return ("DRCError: Design rule %s triggered an error: %s"):format(name, msg) end

local function neurons(n, name)
  return G.LIFNeuronWithSynsRealValue:factory(n, n, name, nil, { tau_mem = 0.02, tau_syn = 0.02, threshold = 1, dt = 1e-3 })
end

describe("xylo design rules", function()
  it("DRCError and DRCWarning are the message tags", function()
    assert.equal("DRCError", M.DRCError)
    assert.equal("DRCWarning", M.DRCWarning)
  end)

  it("output_nodes_have_neurons_as_source", function()
    local err = map(nn.Sequential { lin(2, 3), lif(3), lin(3, 3), lif(3), lin(3, 2) })
    assert.equal(rule("output_nodes_have_neurons_as_source",
      "all network outputs must come directly from neurons; output 1 comes from LinearWeights '5_Linear'"), err)
  end)

  it("input_to_neurons_is_a_weight", function()
    local err = map(nn.Sequential { lin(2, 3), lif(3), lif(3), lin(3, 2), lif(2) })
    assert.equal(rule("input_to_neurons_is_a_weight",
      "every neuron input must come from a LinearWeights module; input 1 of LIFNeuronWithSynsRealValue '3_LIF' comes from LIFNeuronWithSynsRealValue '2_LIF'"), err)
  end)

  it("first_module_is_a_weight", function()
    local err = map(nn.Sequential { lif(2), lin(2, 3), lif(3), lin(3, 2), lif(2) })
    assert.equal(rule("first_module_is_a_weight",
      "network inputs must go first through weights; input 1 feeds LIFNeuronWithSynsRealValue '1_LIF'"), err)
  end)

  it("le_16_input_channels (a warning)", function()
    local net = nn.Sequential { lin(17, 3), lif(3), lin(3, 2), lif(2) }
    local err, warnings = map(net)
    assert.is_nil(err)
    local msg = "DRCWarning: Design rule le_16_input_channels: the network has 17 input channels; Xylo Audio 2 has 16"
    assert.same({ msg }, warnings)
    assert.equal(msg, (map(net, "audio2", { warnings_fatal = true })))
  end)

  it("le_8_output_channels (a warning; the allocation then fails)", function()
    local err, warnings = map(nn.Sequential { lin(2, 3), lif(3), lin(3, 9), lif(9) })
    assert.same({ "DRCWarning: Design rule le_8_output_channels: the network has 9 output channels; Xylo Audio 2 has 8" }, warnings)
    assert.equal("DRCError: Failed to allocate HW resources for output neurons. Exceeded number of available resources for graph module XyloOutputNeurons '4_LIF': it needs 9, 8 of 8 are left", err)
  end)

  it("le_16_output_channels (IMU) and le_32_output_channels (Audio 3)", function()
    local _, w = map(nn.Sequential { lin(2, 3), lif(3), lin(3, 17), lif(17) }, "imu")
    assert.same({ "DRCWarning: Design rule le_16_output_channels: the network has 17 output channels; Xylo IMU has 16" }, w)
    local err
    err, w = map(nn.Sequential { lin(2, 3), lif(3), lin(3, 17), lif(17) }, "audio3")
    assert.is_nil(err)
    assert.same({}, w)
    _, w = map(nn.Sequential { lin(2, 3), lif(3), lin(3, 33), lif(33) }, "audio3")
    assert.same({ "DRCWarning: Design rule le_32_output_channels: the network has 33 output channels; Xylo Audio 3 has 32" }, w)
  end)

  it("le_128_input_expansion_neurons (Audio 3, IMU)", function()
    local net = nn.Sequential { lin(2, 129), lif(129), lin(129, 10), lif(10), lin(10, 2), lif(2) }
    assert.equal(rule("le_128_input_expansion_neurons",
      "129 neurons receive the network input (LIFNeuronWithSynsRealValue '2_LIF'); Xylo Audio 3 allows 128"), map(net, "audio3"))
    assert.is_nil(map(nn.Sequential { lin(2, 129), lif(129), lin(129, 10), lif(10), lin(10, 2), lif(2) }, "audio2"))
  end)

  it("le_128_output_expansion_neurons (Audio 3, IMU)", function()
    local net = nn.Sequential { lin(2, 10), lif(10), lin(10, 129), lif(129), lin(129, 2), lif(2) }
    assert.equal(rule("le_128_output_expansion_neurons",
      "129 neurons project to the output neurons (LIFNeuronWithSynsRealValue '4_LIF'); Xylo IMU allows 128"), map(net, "imu"))
  end)

  it("le_128_output_expansion_neurons also bounds the readout span", function()
    -- h1 (input and output expansion, ids 1..2), hm (10, hidden only, 3..12) and
    -- h2 (120, output expansion, 13..132): 122 neurons feed the outputs, but the
    -- readout would have to read hidden neurons 1..132
    local win = G.LinearWeights:factory(2, 2, "w_in", nil, { weights = lp.ones({ 2, 2 }) })
    local h1, hm, h2, o = neurons(2, "h1"), neurons(10, "hm"), neurons(120, "h2"), neurons(1, "o")
    G.connect_modules(win, h1)
    G.LinearWeights(h1.output_nodes, hm.input_nodes, "w1m", nil, { weights = lp.ones({ 2, 10 }) })
    G.LinearWeights(hm.output_nodes, h2.input_nodes, "wm2", nil, { weights = lp.ones({ 10, 120 }) })
    G.LinearWeights(h1.output_nodes, o.input_nodes, "w1o", nil, { weights = lp.ones({ 2, 1 }) })
    G.LinearWeights(h2.output_nodes, o.input_nodes, "w2o", nil, { weights = lp.ones({ 120, 1 }) })
    local err = map(G.GraphHolder(win.input_nodes, o.output_nodes, "g"), "audio3")
    assert.equal(rule("le_128_output_expansion_neurons",
      "the readout reads hidden neurons 1..132 (132 neurons); Xylo Audio 3 reads the last 128"), err)
  end)

  it("all_neurons_have_same_dt", function()
    local err = map(nn.Sequential { lin(2, 3), lif(3), lin(3, 2), lif(2, { dt = 2e-3, tau_mem = 0.04, tau_syn = 0.04 }) })
    assert.equal(rule("all_neurons_have_same_dt",
      "all neurons must have the same dt; LIFNeuronWithSynsRealValue '2_LIF' has dt = 0.001 but LIFNeuronWithSynsRealValue '4_LIF' has dt = 0.002"), err)
    local win = G.LinearWeights:factory(1, 1, "w", nil, { weights = { { 1 } } })
    local h = G.LIFNeuronWithSynsRealValue:factory(1, 1, "h", nil, { tau_mem = 0.02, tau_syn = 0.02, threshold = 1 })
    local wo = G.LinearWeights:factory(1, 1, "wo", nil, { weights = { { 1 } } })
    local o = neurons(1, "o")
    G.connect_modules(win, h); G.connect_modules(h, wo); G.connect_modules(wo, o)
    assert.equal(rule("all_neurons_have_same_dt", "neuron module LIFNeuronWithSynsRealValue 'h' has no dt"),
      map(G.GraphHolder(win.input_nodes, o.output_nodes, "g")))
  end)

  it("output_neurons_cannot_be_recurrent", function()
    local err = map(nn.Sequential { lin(2, 3), lif(3), lin(3, 2), lif(2, { has_rec = true }) })
    assert.equal(rule("output_neurons_cannot_be_recurrent",
      "output neurons cannot be recurrent; output module LIFNeuronWithSynsRealValue '4_LIF' feeds itself through LinearWeights '4_LIF_recurrent'"), err)
  end)

  it("no_consecutive_weights", function()
    local err = map(nn.Sequential { lin(2, 3), lif(3), lin(3, 3), lin(3, 2), lif(2) })
    assert.equal(rule("no_consecutive_weights",
      "weights cannot follow weights; LinearWeights '3_Linear' feeds LinearWeights '4_Linear'"), err)
  end)

  it("alias_inputs_must_be_neurons", function()
    -- a residual block that starts with neurons: its skip reads the weights before it
    local err = map(nn.Sequential { lin(2, 3), nn.Residual(lif(3)), lin(3, 2), lif(2) })
    assert.equal(rule("alias_inputs_must_be_neurons",
      "alias sources must be neurons; input 1 of AliasConnection '2_Residual_skip' comes from LinearWeights '1_Linear'"), err)
  end)

  it("alias_output_nodes_must_have_neurons_as_input", function()
    local w1 = G.LinearWeights:factory(2, 3, "w1", nil, { weights = lp.ones({ 2, 3 }) })
    local h = neurons(3, "h")
    local a = G.AliasConnection:factory(3, 3, "a")
    local w2 = G.LinearWeights:factory(3, 2, "w2", nil, { weights = lp.ones({ 3, 2 }) })
    local o = neurons(2, "o")
    G.connect_modules(w1, h); G.connect_modules(h, a); G.connect_modules(a, w2); G.connect_modules(w2, o)
    local err = map(G.GraphHolder(w1.input_nodes, o.output_nodes, "g"))
    assert.equal(rule("alias_output_nodes_must_have_neurons_as_input",
      "alias targets must be neurons; output 1 of AliasConnection 'a' is not produced by a neuron module"), err)
  end)

  it("at_least_two_neuron_layers_needed", function()
    assert.equal(rule("at_least_two_neuron_layers_needed",
      "the network has 1 neuron module; at least 2 are needed (hidden and output)"),
      map(nn.Sequential { lin(2, 3), lif(3) }))
  end)

  it("weight_nodes_have_no_biases (a warning)", function()
    local net = nn.Sequential { lin(2, 3, { has_bias = true }), lif(3), lin(3, 2), lif(2) }
    local err, w = map(net)
    assert.is_nil(err)
    local msg = "DRCWarning: Design rule weight_nodes_have_no_biases: biases of LinearWeights '1_Linear' are ignored: Xylo weights have no biases"
    assert.same({ msg }, w)
    assert.equal(msg, (map(net, "audio2", { warnings_fatal = true })))
  end)

  it("max_synapses_per_neuron (IMU)", function()
    local net = nn.Sequential { lin(2, 6), lif({ 6, 3 }), lin(3, 2), lif(2) }
    assert.equal(rule("max_synapses_per_neuron",
      "Xylo IMU neurons have 1 synapse; LIFNeuronWithSynsRealValue '2_LIF' has 6 input nodes for 3 neurons"), map(net, "imu"))
    assert.is_nil(map(nn.Sequential { lin(2, 6), lif({ 6, 3 }), lin(3, 2), lif(2) }, "audio2"))
  end)

  describe("conversion and allocation", function()
    it("refuses a time constant not above dt", function()
      local err = map(nn.Sequential { lin(2, 3), lif(3, { tau_mem = { 0.02, 0.0009, 0.02 } }), lin(3, 2), lif(2) })
      assert.equal("DRCError: Error replacing module LIFNeuronWithSynsRealValue '2_LIF': tau_mem[2] = 0.0009 s is not above dt = 0.001 s, so it has no dash", err)
    end)

    it("refuses neurons other than LIF", function()
      local err = map(nn.Sequential { lin(2, 3), nn.Rate(3), lin(3, 2), lif(2) })
      assert.equal("DRCError: Error replacing module RateNeuronWithSynsRealValue '2_Rate': RateNeuronWithSynsRealValue cannot be mapped to Xylo neurons (LIF neurons only)", err)
    end)

    it("refuses more synapses than the neurons have", function()
      assert.equal("DRCError: Error replacing module LIFNeuronWithSynsRealValue '2_aLIF': it has 9 input nodes for 3 neurons; Xylo Audio 2 hidden neurons have 1 or 2 synapses",
        map(nn.Sequential { lin(2, 6), nn.aLIF({ 6, 3 }, { tau_syn = 0.01 }), lin(3, 2), lif(2) }))
      assert.equal("DRCError: Error replacing output neuron module LIFNeuronWithSynsRealValue '4_LIF': it has 4 input nodes for 2 neurons; Xylo Audio 2 output neurons have 1 synapse",
        map(nn.Sequential { lin(2, 6), lif(6), lin(6, 4), lif({ 4, 2 }) }))
    end)

    it("fails when the hidden neurons do not fit", function()
      local err = map(nn.Sequential { lin(2, 6), lif(6), lin(6, 2), lif(2) }, "audio2", { max_hidden_neurons = 5 })
      assert.equal("DRCError: Failed to allocate HW resources for hidden neurons. Exceeded number of available resources for graph module XyloHiddenNeurons '2_LIF': it needs 6, 5 of 5 are left", err)
    end)

    it("refuses inputs wired straight to output neurons", function()
      local w = G.LinearWeights:factory(2, 1, "w", nil, { weights = lp.ones({ 2, 1 }) })
      local h, o = neurons(1, "h"), neurons(1, "o")
      G.connect_modules(w, o)
      G.LinearWeights(w.input_nodes, h.input_nodes, "wh", nil, { weights = lp.ones({ 2, 1 }) })
      local err = map(G.GraphHolder(w.input_nodes, o.output_nodes, "g"))
      assert.equal("DRCError: Unexpected target of weight graph module LinearWeights 'w': network inputs cannot reach output neurons XyloOutputNeurons 'o' directly", err)
    end)
  end)
end)
