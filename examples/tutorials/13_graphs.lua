-- examples/tutorials/13_graphs.lua -- Computational graphs
-- A trained network must eventually leave the simulator for a chip. The
-- bridge is a *computational graph*: a description of the network as
-- weights and neurons connected by nodes, independent of how it is
-- simulated. `mod:as_graph()` gives it (Rockpool's `rockpool.graph`), and
-- `lp.graph` has the tools to inspect and rewrite it.
local lp = require "limpet"
local nn = lp.nn
local tut = require "limpet.tutorial"
local opt = tut.options(arg)
lp.seed(13)

-- ## From modules to a graph
--
-- Each module knows its graph: a `Linear` is `LinearWeights`, a `LIF` is
-- `LIFNeuronWithSynsRealValue` (with its time constants, bias, threshold
-- and `dt`), a recurrent LIF adds a `LinearWeights` from its outputs back
-- to its inputs. `Sequential` connects the pieces in a `GraphHolder`.
local net = nn.Sequential {
  nn.Linear({ 3, 6 }),
  nn.LIF(6, { has_rec = true }),
  nn.Linear({ 6, 2 }),
  nn.LIF(2),
}
local g = net:as_graph()
print(g)

-- ## Nodes and modules
--
-- A `GraphNode` is one scalar signal; graph modules list their input and
-- output nodes, and nodes list the modules that write (`source_modules`)
-- and read (`sink_modules`) them. Connected modules share node objects.
local mods = lp.graph.bag_graph(g)
print("modules in the graph:", #mods)
for m in lp.graph.walk(g) do
  print(("  %-28s %d inputs, %d outputs"):format(tostring(m):match "^[^(]+", m:size_in(), m:size_out()))
end
local lif1 = lp.graph.find(g, lp.graph.LIFNeuronWithSynsRealValue)[1]
local node = lif1.output_nodes[1]
print("first output node of", lif1.name, "feeds", #node.sink_modules, "modules")

-- The graph carries the parameters as values (no gradients), so it can be
-- handed to a mapper; for example the LIF's time constants:
print("tau_mem of 2_LIF:", lp.format(lif1.tau_mem))

-- ## Searching and rewriting
--
-- `find_modules_of_subclass`, `find_recurrent_modules` and
-- `replace_module` are what hardware mappers are built from: find the
-- neurons, check the rules, swap in the chip's neuron kind.
local weights = lp.graph.find_modules_of_subclass(g, lp.graph.LinearWeights)
print("weight modules:", #weights)
local _, recurrent = lp.graph.find_recurrent_modules(g)
print("modules on a recurrent loop:", #recurrent)

-- Build a graph by hand: two weight layers and a neuron layer, connected.
local w1 = lp.graph.LinearWeights:factory(3, 4, "w1", nil, { weights = lp.randn(3, 4) })
local n1 = lp.graph.GenericNeurons:factory(4, 4, "neurons")
lp.graph.connect_modules(w1, n1)
print(lp.graph.as_GraphHolder(w1))

-- A picture of the weights the graph holds, one matrix per weight module:
local fig = lp.plot.figure { rows = 1, cols = #weights, width = 400 * #weights, height = 380 }
for i, w in ipairs(weights) do fig:matrix(i, w.weights, { title = w.name }) end
assert(fig:save(tut.figure("weights")))

-- ## What is not here yet
--
-- Rockpool can export a graph to NIR (the Neuromorphic Intermediate
-- Representation); limpet's NIR import and export come with another
-- issue and are not on this branch.
