-- examples/tutorials/14_graph_mapping.lua -- Graph mapping
-- Mapping turns a computational graph into what a chip can hold. For
-- Xylo, `lp.xylo.<variant>.mapper(graph)` checks the chip's design rules,
-- replaces the neuron modules with Xylo's hidden and output neuron kinds,
-- assigns hardware ids and returns a *specification*: the input,
-- recurrent and output weight matrices, the neurons' bit-shift decays,
-- thresholds and biases, ready for quantisation.
local lp = require "limpet"
local nn = lp.nn
local tut = require "limpet.tutorial"
local opt = tut.options(arg)
local xylo = lp.xylo
lp.seed(14)

-- ## Mapping a network
--
-- A network in the shape Xylo expects: weights, a recurrent hidden layer,
-- weights, an output layer. `LIFBitshift` uses the chip's decays, so
-- nothing is lost there.
local net = nn.Sequential {
  nn.Linear({ 8, 20 }),
  nn.LIFBitshift(20, { has_rec = true, tau_mem = 16e-3, tau_syn = 8e-3 }),
  nn.Linear({ 20, 3 }),
  nn.LIFBitshift(3, { tau_mem = 16e-3, tau_syn = 8e-3 }),
}
local spec = xylo.audio2.mapper(net:as_graph())
local keys = {}
for k, v in pairs(spec) do keys[#keys + 1] = ("%s %s"):format(k, lp.is_tensor(v) and tostring(v):match "%(.*%)" or type(v)) end
table.sort(keys)
print("specification fields:\n  " .. table.concat(keys, "\n  "))

-- The mapped graph shows the replacement: the LIF modules became Xylo's
-- hidden and output neurons.
print(spec.mapped_graph)

-- ## The weight matrices
--
-- Input weights are (inputs, hidden), recurrent (hidden, hidden) and
-- output (hidden, outputs) — the shapes the chip's memories have.
local fig = lp.plot.figure { rows = 1, cols = 3, width = 1200, height = 420 }
fig:matrix(1, spec.weights_in, { title = "weights_in" })
fig:matrix(2, spec.weights_rec, { title = "weights_rec" })
fig:matrix(3, spec.weights_out, { title = "weights_out" })
assert(fig:save(tut.figure("spec_weights")))

-- ## Design rules
--
-- Each variant has its rules; the mapper names the rule a network breaks.
print("Xylo Audio 2 design rules:\n  " .. table.concat(require("limpet.xylo.mapper").design_rules("audio2"), "\n  "))

-- Some rules only warn, as in Rockpool: too many input channels (Xylo
-- Audio 2 has 16) maps, but the warning comes back as the second result
-- (and is printed on stderr):
local wide = nn.Sequential { nn.Linear({ 20, 8 }), nn.LIF(8), nn.Linear({ 8, 2 }), nn.LIF(2) }
local _, warnings = xylo.audio2.mapper(wide:as_graph())
print("warnings:", lp.format(warnings))

-- Others are errors: two weight layers in a row (a neuron layer must sit
-- between them):
local bad = nn.Sequential { nn.Linear({ 4, 8 }), nn.Linear({ 8, 8 }), nn.LIF(8), nn.Linear({ 8, 2 }), nn.LIF(2) }
print(pcall(xylo.audio2.mapper, bad:as_graph()))

-- ## Several synapses per neuron
--
-- Xylo Audio neurons have two synapses each; a LIF with `{2 * N, N}` maps
-- its second synapse onto `dash_syn_2`:
local two = nn.Sequential {
  nn.Linear({ 4, 16 }),
  nn.LIFBitshift({ 16, 8 }, { tau_syn = 8e-3 }),
  nn.Linear({ 8, 2 }),
  nn.LIFBitshift(2),
}
local s2 = xylo.audio2.mapper(two:as_graph())
print("dash_syn  ", lp.format(s2.dash_syn))
print("dash_syn_2", lp.format(s2.dash_syn_2))
