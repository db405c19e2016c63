-- examples/tutorials/17_xylo_audio.lua -- Introduction to Xylo Audio
-- Xylo Audio chips listen: a front end splits the microphone signal into
-- 16 frequency bands and encodes each band's energy as events, and the SNN
-- core classifies the event stream (keywords, sound scenes) at a few
-- hundred microwatts. This tutorial covers the SNN core of Xylo Audio 2
-- and 3 as limpet has it: two synapses per neuron, mapping, quantisation
-- and bit-exact simulation.
--
-- The front ends themselves — Xylo Audio 2's analog filter bank model and
-- Xylo Audio 3's digital one (Rockpool's `AFESim`, `AFESimExternal`,
-- `AFESimPDM`) — come with another issue and are not on this branch; the
-- input here is event counts made directly.
local lp = require "limpet"
local nn = lp.nn
local tut = require "limpet.tutorial"
local opt = tut.options(arg)
local xylo = lp.xylo
lp.seed(17)

-- ## Audio 2 and Audio 3
--
-- Both have 16 input channels (one per front-end band) and hidden neurons
-- with two synapses; Audio 3 has more output channels and a larger fan-out.
for _, v in ipairs { "audio2", "audio3" } do
  local L = xylo[v].limits
  print(("%-13s %s: %d inputs, %d hidden, %d outputs, %d synapses per neuron, fan-out %d"):format(
    L.title, L.chip, L.n_in, L.n_hidden, L.n_out, L.n_syn, L.max_fanout))
end

-- ## Two synapses per neuron
--
-- Sounds have structure on several time scales. A neuron with a fast and
-- a slow synapse can combine both: here each hidden neuron gets a 2 ms and
-- a 32 ms synapse (`nn.LIFBitshift({2 * N, N})`: input column j feeds
-- neuron ceil(j / 2), synapse ((j - 1) mod 2) + 1).
local Nin, N, Nout = 16, 24, 4
local tau_syn = lp.tensor({ { 2e-3, 32e-3 } }):expand(N, 2):contiguous()
local net = nn.Sequential {
  nn.Linear({ Nin, 2 * N }, { weight = lp.randn(Nin, 2 * N) * 0.05 }),
  nn.LIFBitshift({ 2 * N, N }, { tau_mem = 16e-3, tau_syn = tau_syn, max_spikes_per_dt = 1 }),
  nn.Linear({ N, Nout }, { weight = lp.randn(N, Nout) * 0.1 }),
  nn.LIFBitshift(Nout, { tau_mem = 16e-3, tau_syn = 8e-3, max_spikes_per_dt = 1 }),
}
print(net)

-- ## Band-like input
--
-- A stand-in for front-end output: 16 channels whose event rates rise and
-- fall in turn, like a rising tone sweeping through the bands.
local T = opt.quick and 200 or 800
local rows = {}
for t = 1, T do
  local row = {}
  local centre = 1 + 15 * (t - 1) / (T - 1)
  for c = 1, Nin do row[c] = 0.25 * math.exp(-((c - centre) ^ 2) / 4) end
  rows[t] = row
end
local events = lp.bernoulli(lp.tensor({ rows }))

-- ## On both chips
--
-- The same network maps to both; the specification carries the second
-- synapse's decay in `dash_syn_2`, and the simulator records its current
-- as `Isyn2`.
local fig = lp.plot.figure { rows = 2, cols = 2, width = 1100, height = 800 }
for i, v in ipairs { "audio2", "audio3" } do
  local spec = xylo[v].mapper(net:as_graph())
  local config, ok, msg = xylo[v].config_from_specification(xylo.global_quantize(spec))
  assert(ok, msg)
  local sim = xylo[v].XyloSim.from_config(config, { dt = 1e-3 })
  local out, _, rec = sim(events:astype("int32"), true)
  print(("%s: dash_syn %g, dash_syn_2 %g; hidden spikes %g, output spikes %g"):format(v, spec.dash_syn[1],
    spec.dash_syn_2[1], rec.Spikes:sum():item(), out:sum():item()))
  fig:raster(i, rec.Spikes[1], { title = xylo[v].limits.title .. ": hidden spikes", ylabel = "neuron" })
  if i == 1 then
    local both = lp.cat({ rec.Isyn[1]:slice(2, 1, 1), rec.Isyn2[1]:slice(2, 1, 1) }, 2):astype("float32")
    fig:traces(3, both, { labels = { "Isyn (2 ms)", "Isyn2 (32 ms)" }, title = "neuron 1's two synapses",
      xlabel = "step" })
  end
end
fig:raster(4, events[1], { title = "input events", xlabel = "step", ylabel = "channel" })
assert(fig:save(tut.figure("audio_core")))
