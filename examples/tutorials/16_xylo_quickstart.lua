-- examples/tutorials/16_xylo_quickstart.lua -- Xylo quick start
-- From a network to a Xylo configuration and its bit-exact simulation in
-- six steps: build (or train) a network, export its graph, map it to the
-- chip, quantise it to the chip's integers, build and check the
-- configuration, and simulate it with `XyloSim`.
local lp = require "limpet"
local nn = lp.nn
local tut = require "limpet.tutorial"
local opt = tut.options(arg)
local xylo = lp.xylo
lp.seed(16)

-- ## 1. A network
--
-- Weights, a recurrent hidden layer, weights, an output layer. Xylo's
-- neurons decay by bit shifts; `nn.LIFBitshift` simulates exactly that, so
-- the network trained in floating point already has the chip's dynamics.
-- (Training is left out here; see the tutorial on training for Xylo.)
local Nin, Nhid, Nout = 12, 32, 4
local net = nn.Sequential {
  nn.Linear({ Nin, Nhid }, { weight = lp.randn(Nin, Nhid) * 0.05 }),
  nn.LIFBitshift(Nhid, { has_rec = true, tau_mem = 16e-3, tau_syn = 8e-3,
                         w_rec = lp.randn(Nhid, Nhid) * 0.005, max_spikes_per_dt = 1 }),
  nn.Linear({ Nhid, Nout }, { weight = lp.randn(Nhid, Nout) * 0.1 }),
  nn.LIFBitshift(Nout, { tau_mem = 16e-3, tau_syn = 8e-3, max_spikes_per_dt = 1 }),
}
print(net)

-- ## 2 and 3. Graph and mapping
local spec = xylo.audio2.mapper(net:as_graph())

-- ## 4. Quantisation
--
-- `global_quantize` scales all input and recurrent weights (and the
-- thresholds with them) by one factor so the largest becomes 127, and the
-- output weights by another; `channel_quantize` scales each neuron's
-- inputs separately. Both return a new, complete specification.
local qspec = xylo.global_quantize(spec)
print("largest quantised weights:", qspec.weights_in:abs():max():item(), qspec.weights_rec:abs():max():item(),
  qspec.weights_out:abs():max():item())
print("thresholds after quantisation:", lp.format(qspec.threshold:slice(1, 1, 4)))
assert(lp.plot.histogram(qspec.weights_in:reshape(-1), tut.figure("weights"),
  { bins = 31, title = "quantised input weights", xlabel = "weight (integer)" }))

-- ## 5. The configuration
--
-- `config_from_specification` builds the chip configuration and checks it
-- against the chip's limits, returning the configuration, whether it is
-- valid, and the reason when it is not. Configurations save to and load
-- from JSON.
local config, ok, msg = xylo.audio2.config_from_specification(qspec)
print(config)
print("valid:", ok, msg)
local path = opt.out .. "/16_xylo_quickstart-config.json"
assert(xylo.save_config(config, path))
local again = assert(xylo.load_config(path))
print("reloaded:", again)
os.remove(path)

-- ## 6. Simulation
--
-- `XyloSim.from_config` builds a bit-exact simulator of the configured
-- chip. Inputs are integer event counts per step `(B, T, 16)` (at most 15
-- per channel and step).
local T = opt.quick and 100 or 500
local input = lp.bernoulli(0.08, 1, T, Nin)
local sim = xylo.audio2.XyloSim.from_config(again, { dt = 1e-3, output_mode = "Spike" })
print(sim)
local out, state, rec = sim(input:astype("int32"), true)
print("recorded:", rec.Vmem, rec.Spikes, rec.Vmem_out)
local fig = lp.plot.figure { rows = 3, cols = 1, height = 1100 }
fig:raster(1, input[1], { title = "input events", ylabel = "channel" })
fig:raster(2, rec.Spikes[1], { title = "hidden spikes (XyloSim)", ylabel = "neuron" })
fig:traces(3, rec.Vmem_out[1]:astype("float32"), { title = "output Vmem (integer)", xlabel = "step" })
assert(fig:save(tut.figure("xylosim")))

-- ## Float against chip
--
-- `xylo.compare` runs both on the same input and tabulates agreement per
-- layer; the `cycles_model` estimates the work per time step and
-- `est_clock_freq` the clock needed to keep up with `dt`.
print(xylo.compare(net, sim, input))
local cycles = xylo.audio2.cycles_model(again)
print(("cycles per step: %d; minimum clock at dt = 1 ms: %.3f MHz"):format(cycles,
  xylo.audio2.est_clock_freq(again, 1e-3) / 1e6))
