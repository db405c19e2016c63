-- spec/graph_spec.lua -- lp.graph: the graph classes, as_graph of each nn
-- module kind, shared nodes, the utilities (connect, walk, find, replace,
-- recurrent modules) and printing.
local lp = require "limpet"
local nn, G = lp.nn, lp.graph

local function vals(t) return t:reshape(-1):totable() end

describe("lp.graph", function()
  describe("classes", function()
    it("GraphModule registers itself on its nodes; GraphHolder does not", function()
      local a, b = G.GraphNode(), G.GraphNode()
      local m = G.GraphModule({ a }, { b }, "m")
      assert.same({ m }, a.sink_modules)
      assert.same({ m }, b.source_modules)
      local h = G.GraphHolder({ a }, { b }, "h")
      assert.same({ m }, a.sink_modules)
      assert.equal(1, h:size_in())
      assert.equal("GraphModule 'm' (1 -> 1)", tostring(m))
      assert.matches("^GraphNode #%d+ %(0 sources, 1 sink%)$", tostring(a))
    end)

    it("factory makes fresh nodes and checks fields", function()
      local w = G.LinearWeights:factory(2, 3, "w", nil, { weights = lp.ones({ 2, 3 }) })
      assert.equal(2, #w.input_nodes)
      assert.equal(3, #w.output_nodes)
      assert.equal("float64", w.weights.dtype)
      assert.is_nil(w.biases)
      assert.has_error(function() G.LinearWeights:factory(2, 3, "w", nil, { weights = lp.ones({ 3, 2 }) }) end,
        "bad argument #5 to 'LinearWeights' (field 'weights': expected shape (2, 3), got (3, 2))")
      assert.has_error(function() G.LinearWeights:factory(2, 3, "w", nil, { wieghts = 1 }) end,
        "bad argument #5 to 'LinearWeights' (unknown field 'wieghts')")
      assert.has_error(function() G.LinearWeights:factory(2, 3, "w", nil, {}) end,
        "bad argument #5 to 'LinearWeights' (field 'weights' is required)")
      assert.has_error(function() G.GraphModule({ 1 }, {}, "m") end,
        "bad argument #1 to 'GraphModule' (input_nodes[1] must be a GraphNode, got number)")
      local n = G.LIFNeuronWithSynsRealValue:factory(4, 2, "n", nil, { tau_mem = 0.02, tau_syn = { 1, 2, 3, 4 }, dt = 1e-3 })
      assert.same({ 0.02, 0.02 }, vals(n.tau_mem))
      assert.equal(1e-3, n.dt)
      assert.has_error(function() G.LIFNeuronWithSynsRealValue:factory(4, 2, "n", nil, { tau_syn = { 1, 2 } }) end,
        "bad argument #5 to 'LIFNeuronWithSynsRealValue' (field 'tau_syn': expected 4 values, got shape (2))")
      assert.has_error(function() G.AliasConnection:factory(2, 3, "a") end,
        "bad argument #2 to 'AliasConnection' (an alias needs as many output nodes as input nodes (2), got 3)")
    end)

    it("as_GraphHolder wraps a module and keeps a holder", function()
      local w = G.LinearWeights:factory(1, 1, "w", nil, { weights = { { 1 } } })
      local h = G.as_GraphHolder(w)
      assert.is_true(G.is_a(h, G.GraphHolder))
      assert.equal(w.input_nodes[1], h.input_nodes[1])
      assert.equal(h, G.as_GraphHolder(h))
    end)
  end)

  describe("as_graph", function()
    it("Linear -> LinearWeights with its weights and biases", function()
      local lin = nn.Linear({ 2, 3 }, { weight = { { 1, 2, 3 }, { 4, 5, 6 } }, bias = { 0.5, 0, 1 } })
      local g = lin:as_graph()
      assert.is_true(G.is_a(g, G.LinearWeights))
      assert.equal("Linear", g.name)
      assert.equal(lin, g.computational_module)
      assert.same({ 1, 2, 3, 4, 5, 6 }, vals(g.weights))
      assert.same({ 0.5, 0, 1 }, vals(g.biases))
    end)

    it("LIF -> LIFNeuronWithSynsRealValue; tau_syn flattened neuron-major", function()
      local g = nn.LIF({ 4, 2 }, { tau_mem = { 0.01, 0.02 }, tau_syn = { { 0.001, 0.002 }, { 0.003, 0.004 } },
                                   threshold = 2, bias = 0.5, dt = 1e-4 }):as_graph()
      assert.is_true(G.is_a(g, G.LIFNeuronWithSynsRealValue))
      assert.equal(4, #g.input_nodes)
      assert.equal(2, #g.output_nodes)
      assert.tensor_near(lp.tensor({ 0.001, 0.002, 0.003, 0.004 }, "float64"), g.tau_syn)
      assert.tensor_near(lp.tensor({ 0.01, 0.02 }, "float64"), g.tau_mem)
      assert.same({ 2, 2 }, vals(g.threshold))
      assert.same({ 0.5, 0.5 }, vals(g.bias))
      assert.equal(1e-4, g.dt)
    end)

    it("a recurrent LIF -> a holder with weights from its outputs to its inputs", function()
      local lif = nn.LIF(2, { w_rec = { { 0, 1 }, { 2, 0 } } })
      local g = lif:as_graph()
      assert.is_true(G.is_a(g, G.GraphHolder))
      local mods = G.bag_graph(g)
      assert.equal(2, #mods)
      local n = G.find(g, G.LIFNeuronWithSynsRealValue)[1]
      local w = G.find(g, "LIF_recurrent")[1]
      assert.equal(n.output_nodes[1], w.input_nodes[1])
      assert.equal(n.input_nodes[2], w.output_nodes[2])
      assert.same({ 0, 1, 2, 0 }, vals(w.weights))
      local _, rec = G.find_recurrent_modules(g)
      assert.same({ n }, rec)
    end)

    it("LIF in other leak modes and LIFBitshift export time constants", function()
      local g = nn.LIF(1, { alpha = math.exp(-1 / 16), beta = math.exp(-1 / 4), leak_mode = "decays" }):as_graph()
      assert.tensor_near(lp.tensor({ 0.016 }, "float64"), g.tau_mem, 1e-6)
      g = nn.LIF(1, { dash_mem = 4, dash_syn = 2, leak_mode = "bitshifts" }):as_graph()
      assert.tensor_near(lp.tensor({ 0.004 }, "float64"), g.tau_syn, 1e-6)
      g = nn.LIFBitshift(1, { tau_mem = 0.015 }):as_graph()
      assert.tensor_near(lp.tensor({ 0.015 }, "float64"), g.tau_mem, 1e-6)
    end)

    it("aLIF -> an extra synapse per neuron fed by its w_ahp self-weights", function()
      local m = nn.aLIF(2, { tau_syn = 0.004, tau_ahp = 0.03, w_ahp = { -1, -2 } })
      local g = m:as_graph()
      assert.equal(2, #g.input_nodes)                     -- the layer's own inputs
      local n = G.find(g, G.LIFNeuronWithSynsRealValue)[1]
      assert.equal(4, #n.input_nodes)                     -- 2 synapses per neuron
      assert.equal(n.input_nodes[1], g.input_nodes[1])
      assert.equal(n.input_nodes[3], g.input_nodes[2])
      assert.tensor_near(lp.tensor({ 0.004, 0.03, 0.004, 0.03 }, "float64"), n.tau_syn, 1e-6)
      local w = G.find(g, G.LinearWeights)[1]
      assert.same({ 0, -1, 0, 0, 0, 0, 0, -2 }, vals(w.weights))
    end)

    it("Rate -> RateNeuronWithSynsRealValue", function()
      local g = nn.Rate(2, { tau = 0.05, bias = 0.1, activation = "tanh" }):as_graph()
      assert.is_true(G.is_a(g, G.RateNeuronWithSynsRealValue))
      assert.tensor_near(lp.tensor({ 0.05, 0.05 }, "float64"), g.tau, 1e-7)
      assert.equal("tanh", g.activation)
      assert.is_true(G.is_a(nn.Rate(2, { has_rec = true }):as_graph(), G.GraphHolder))
    end)

    it("Sequential shares nodes between connected modules", function()
      local net = nn.Sequential { nn.Linear({ 2, 3 }), nn.LIF(3), nn.Linear({ 3, 1 }), nn.LIF(1) }
      local g = net:as_graph()
      local mods = G.bag_graph(g)
      assert.equal(4, #mods)
      assert.same({ "1_Linear", "2_LIF", "3_Linear", "4_LIF" },
        { mods[1].name, mods[2].name, mods[3].name, mods[4].name })
      for i = 1, 3 do assert.equal(mods[1].output_nodes[i], mods[2].input_nodes[i]) end
      assert.same({ mods[1] }, mods[2].input_nodes[1].source_modules)
      assert.same({ mods[3] }, mods[2].output_nodes[1].sink_modules)
      assert.equal(mods[1].input_nodes[1], g.input_nodes[1])
      assert.equal(mods[4].output_nodes[1], g.output_nodes[1])
    end)

    it("Residual adds an AliasConnection over the block; nested names carry the path", function()
      local net = nn.Sequential { nn.Linear({ 2, 3 }), nn.LIF(3), nn.Residual(nn.Linear({ 3, 3 }), nn.LIF(3)) }
      local g = net:as_graph()
      local a = G.find(g, G.AliasConnection)[1]
      assert.equal("3_Residual_skip", a.name)
      local lifs = G.find(g, G.LIFNeuronWithSynsRealValue)
      assert.equal("3_Residual.2_LIF", lifs[2].name)
      assert.equal(lifs[1].output_nodes[2], a.input_nodes[2])
      assert.equal(lifs[2].output_nodes[2], a.output_nodes[2])
    end)

    it("dropout is the identity", function()
      local d = nn.UnitDropout(3):as_graph()
      assert.is_true(G.is_a(d, G.GraphHolder))
      assert.equal(d.input_nodes[2], d.output_nodes[2])
      local g = nn.Sequential { nn.Linear({ 2, 3 }), nn.TimeStepDropout(3), nn.LIF(3) }:as_graph()
      local mods = G.bag_graph(g)
      assert.equal(2, #mods)
      assert.equal(mods[1].output_nodes[1], mods[2].input_nodes[1])
      -- an identity holder connected in by hand follows the merge
      local w = G.LinearWeights:factory(1, 1, "w", nil, { weights = { { 1 } } })
      local id = nn.UnitDropout(1):as_graph()
      G.connect_modules(w, id)
      assert.equal(w.output_nodes[1], id.output_nodes[1])
    end)

    it("modules without a graph say so", function()
      assert.has_error(function() nn.ExpSyn(2):as_graph() end, "ExpSyn does not implement as_graph")
      assert.has_error(function() nn.LIFNeuron(2):as_graph() end,
        "LIFNeuron has no synaptic state; as_graph is not supported")
      assert.has_error(function() nn.Sequential():as_graph() end, "Sequential has no module to build a graph from")
      assert.has_error(function() nn.UnitDropout():as_graph() end, "UnitDropout needs a shape to build its graph")
    end)
  end)

  describe("utilities", function()
    local function chain()
      return nn.Sequential { nn.Linear({ 2, 3 }), nn.LIF(3, { has_rec = true }), nn.Linear({ 3, 1 }), nn.LIF(1) }:as_graph()
    end

    it("connect_modules merges nodes, optionally by position", function()
      local a = G.LinearWeights:factory(1, 3, "a", nil, { weights = lp.ones({ 1, 3 }) })
      local b = G.LinearWeights:factory(2, 1, "b", nil, { weights = lp.ones({ 2, 1 }) })
      assert.equal(b, G.connect_modules(a, b, { 3, 1 }, { 1, 2 }))
      assert.equal(a.output_nodes[3], b.input_nodes[1])
      assert.equal(a.output_nodes[1], b.input_nodes[2])
      assert.same({ b }, a.output_nodes[3].sink_modules)
      assert.same({}, a.output_nodes[2].sink_modules)
      assert.has_error(function() G.connect_modules(a, b) end,
        "bad argument #2 to 'connect_modules' ('a' has 3 output nodes to connect but 'b' has 2 input nodes)")
      assert.has_error(function() G.connect_modules(a, b, { 4 }, { 1 }) end,
        "bad argument #3 to 'connect_modules' (source positions[1] must be a position in 1..3, got 4)")
      assert.has_error(function() G.connect_modules(a, 5) end,
        "bad argument #2 to 'connect_modules' (graph module expected, got number)")
    end)

    it("bag_graph, walk and find", function()
      local g = chain()
      local mods, nodes = G.bag_graph(g)
      assert.equal(5, #mods)
      assert.equal(2 + 3 + 3 + 1 + 1, #nodes)
      local names = {}
      for m in G.walk(g) do names[#names + 1] = m.name end
      assert.same({ "1_Linear", "2_LIF_recurrent", "2_LIF", "3_Linear", "4_LIF" }, names)
      assert.equal(3, #G.find(g, G.LinearWeights))
      assert.equal(2, #G.find_modules_of_subclass(g, G.GenericNeurons))
      assert.equal("4_LIF", G.find(g, "4_LIF")[1].name)
      assert.equal(1, #G.find(g, function(m) return #m.output_nodes == 1 and G.is_a(m, G.GenericNeurons) end))
      assert.has_error(function() G.find(g, 5) end, "bad argument #2 to 'find' (class, name or function expected, got number)")
    end)

    it("replace_module puts a module in another's place", function()
      local g = chain()
      local old = G.find(g, "2_LIF")[1]
      local new = G.GenericNeurons:factory(3, 3, "new")
      G.replace_module(old, new)
      local n = G.find(g, G.GenericNeurons)
      assert.equal(new, n[1])
      assert.same({}, old.input_nodes)
      assert.equal(G.find(g, "1_Linear")[1].output_nodes[1], new.input_nodes[1])
      assert.is_true(G.find(g, "1_Linear")[1].output_nodes[1].sink_modules[1] == new)
      local _, rec = G.find_recurrent_modules(g)
      assert.same({ new }, rec)
      assert.has_error(function() G.replace_module(new, G.GenericNeurons:factory(2, 3, "x")) end,
        "bad argument #2 to 'replace_module' ('new' has 3 input and 3 output nodes but 'x' has 2 and 3)")
    end)

    it("prints a graph readably", function()
      local g = nn.Sequential { nn.Linear({ 2, 3 }), nn.LIF(3, { has_rec = true }), nn.Residual(nn.Linear({ 3, 3 }), nn.LIF(3)),
                                nn.Linear({ 3, 1 }), nn.LIF(1) }:as_graph()
      assert.equal(table.concat({
        "GraphHolder 'Sequential' (2 -> 1) {",
        "    LinearWeights '1_Linear' (2 -> 3) <- input",
        "    LinearWeights '2_LIF_recurrent' (3 -> 3) <- 2_LIF",
        "    LIFNeuronWithSynsRealValue '2_LIF' (3 -> 3) <- 1_Linear, 2_LIF_recurrent",
        "    LinearWeights '3_Residual.1_Linear' (3 -> 3) <- 2_LIF",
        "    AliasConnection '3_Residual_skip' (3 -> 3) <- 2_LIF",
        "    LIFNeuronWithSynsRealValue '3_Residual.2_LIF' (3 -> 3) <- 3_Residual.1_Linear",
        "    LinearWeights '4_Linear' (3 -> 1) <- 3_Residual.2_LIF, 3_Residual_skip",
        "    LIFNeuronWithSynsRealValue '5_LIF' (1 -> 1) <- 4_Linear -> output",
        "}" }, "\n"), tostring(g))
    end)
  end)
end)
