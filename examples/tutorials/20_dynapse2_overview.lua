-- examples/tutorials/20_dynapse2_overview.lua -- Overview of Dynap-SE2
-- Dynap-SE2 is a mixed-signal neuromorphic processor: its neurons and
-- synapses are analog circuits whose dynamics run in physical time, set by
-- currents from an on-chip bias generator, while spikes travel between
-- neurons as digital address events. This tutorial goes through the chip's
-- organisation — cores, the CAM and SRAM of every neuron, tags and hops,
-- the bias generator — and through what `lp.dynapse2` offers for each
-- step from a network to a chip configuration. The following tutorials go
-- deeper: the neuron model (21), a quick start (22) and training for
-- deployment (23).
local lp = require "limpet"
local nn = lp.nn
local tut = require "limpet.tutorial"
local opt = tut.options(arg)
local d2 = lp.dynapse2
lp.seed(20)

-- ## Chips, cores and neurons
--
-- A chip has 4 cores of 256 neurons. All neurons of a core share one set
-- of parameters (one group of bias currents), so "a core" and "a kind of
-- neuron" go together: the mapper later clusters the network's neurons
-- onto cores. Boards carry several chips on a grid. `d2.limits` holds the
-- numbers every part of `lp.dynapse2` checks against.
local L = d2.limits
print(("chips per board %d, cores per chip %d, neurons per core %d (%d per chip)"):format(L.NUM_CHIPS, L.NUM_CORES,
  L.NUM_NEURONS, L.NUM_CORES * L.NUM_NEURONS))
print(("per neuron: %d CAM entries (incoming), %d SRAM entries (outgoing); tags 0..%d; hops -%d..%d"):format(
  L.NUM_SYNAPSES, L.NUM_DEST, L.MAX_TAG, L.MAX_HOP, L.MAX_HOP))

-- ## How a spike travels: tags, SRAM and CAM
--
-- A neuron that fires sends an event carrying an 11-bit *tag*. Its SRAM
-- (4 entries) says where the event goes: to which chip (x and y hops on
-- the grid) and to which cores of that chip (a 4-bit mask). On arrival,
-- every neuron of those cores compares the tag with its CAM (64 entries);
-- each matching entry drives one of its synapses: AMPA or NMDA (exciting),
-- GABA or SHUNT (inhibiting), with a 4-bit weight that selects which of the
-- core's four base currents `Iw_0 .. Iw_3` add up. A destination packs
-- into a 24-bit code, the form events take on the wire:
local dest = { core = { 1, 0, 1, 0 }, x_hop = 1, y_hop = 0, tag = 42 }
local code = d2.events.encode_destination(dest)
local back = d2.events.decode_destination(code)
print(("destination cores {1,0,1,0}, hops (1, 0), tag 42 -> code 0x%06x -> cores {%s}, hops (%d, %d), tag %d"):format(
  code, table.concat(back.core, ","), back.x_hop, back.y_hop, back.tag))

-- So weights are not free numbers: each connection is a sign (the synapse
-- type) times a sum of the core's base currents chosen by 4 bits, and a
-- neuron listens to at most 64 tags. Quantisation (below) finds base
-- currents and bit patterns that reproduce trained float weights.

-- ## The bias generator
--
-- Every current of a core comes from a bias generator cell set by a
-- (coarse, fine) code: coarse 0..5 picks a range, fine 0..255 a value in
-- it. `d2.biasgen` converts both ways. limpet's converter is its own
-- analytic model of the DAC, fitted to public measurements (its stated
-- error is `biasgen.model_error`); a measured table can be loaded instead
-- with `biasgen.load_table`.
local bg = d2.biasgen
for _, I in ipairs { 3e-12, 5e-11, 2e-9, 1e-7 } do
  local c, f = bg.analog_to_digital(I)
  print(("%8.3g A -> coarse %d, fine %3d -> %8.3g A  (model error at most %.0f %%)"):format(I, c, f,
    bg.digital_to_analog(c, f), 100 * bg.model_error(c, f)))
end

-- The current over the fine code, one curve per coarse value, in log10(A):
-- six overlapping ranges cover about seven decades.
local curves = {}
for f = 0, 255 do
  local row = {}
  for c = 0, 5 do row[c + 1] = math.log(math.max(bg.digital_to_analog(c, f), 1e-16), 10) end
  curves[f + 1] = row
end
assert(lp.plot.traces(lp.tensor(curves, "float64"), tut.figure("biasgen"), { stagger = 0,
  labels = { "coarse 0", "coarse 1", "coarse 2", "coarse 3", "coarse 4", "coarse 5" },
  title = "bias generator model (type N)", xlabel = "fine code", ylabel = "log10 current (A)" }))

-- ## Parameters of a core: `DynapSimCore`
--
-- Nobody thinks in bias currents. `DynapSimCore` holds the currents of one
-- core and converts them from and to high-level values — time constants,
-- pulse widths and gain ratios — and to bias codes. For example, a 30 ms
-- membrane time constant:
local core = d2.DynapSimCore.from_specification { tau_mem = 30e-3, r_gain_mem = 4 }
print(("Itau_mem = %.3g A, Igain_mem = %.3g A; back: tau_mem = %.3g s, r_gain_mem = %g"):format(core.Itau_mem,
  core.Igain_mem, core:time().tau_mem, core:gain().r_gain_mem))
local codes = core:export_Dynapse2Parameters()
local names = {}
for k in pairs(codes) do names[#names + 1] = k end
table.sort(names)
print(("%d bias codes, e.g. %s = {%d, %d}, %s = {%d, %d}"):format(#names, "SOIF_LEAK_N", codes.SOIF_LEAK_N[1],
  codes.SOIF_LEAK_N[2], "SOIF_GAIN_N", codes.SOIF_GAIN_N[1], codes.SOIF_GAIN_N[2]))

-- ## The workflow in `lp.dynapse2`
--
-- From a network to what the chip runs:
--
-- * `nn.DynapSim` (also `d2.DynapSim`): the neuron model, a differentiable
--   simulation of the analog circuits (tutorial 21); trainable like any
--   limpet module, with frozen mismatch (`percent_mismatch`) and
--   `d2.mismatch_transform` for mismatch-aware training (tutorial 23);
-- * `d2.mapper(net:as_graph())`: a network of `Linear` and `DynapSim` (or
--   LIF) layers becomes one recurrent population, its neurons clustered
--   onto cores;
-- * `d2.autoencoder_quantization(spec)`: float weights to 4-bit CAM masks,
--   signs and per-core base currents;
-- * `d2.config_from_specification(qspec)`: allocation to chips, cores,
--   CAM, SRAM and bias codes, checked against the limits; `save_config`,
--   `load_config` write and read it as JSON;
-- * `d2.from_config(config)`: the DynapSim network the configuration
--   encodes, to check on a computer what the chip will do (optionally with
--   a fabricated chip's mismatch);
-- * `d2.events`: input rasters to timed address events and output events
--   back to rasters.
--
-- A small example through all of it: 8 inputs, 4 recurrently connected
-- neurons, random weights (training comes in tutorial 23).
local Nin, N = 8, 4
local net = nn.Sequential {
  nn.Linear({ Nin, N }, { weight = lp.rand(Nin, N) * 2 }),
  nn.DynapSim(N, { has_rec = true, w_rec = lp.randn(N, N) * 0.5 }),
}
local spec = d2.mapper(net:as_graph())
print(("mapped: %d neurons in %d cluster(s), weights_in %s, weights_rec %s"):format(spec.n_neuron, spec.n_cluster,
  table.concat(spec.weights_in.shape, "x"), table.concat(spec.weights_rec.shape, "x")))
local qspec, report = d2.autoencoder_quantization(spec, { num_epoch = opt.quick and 2000 or 20000 })
print(("quantised in %d steps: integer masks 0..%d, base currents Iw_0..Iw_3 = %.3g %.3g %.3g %.3g A"):format(
  report.steps[1], qspec.weights_rec:max():item(), qspec.Iw_0:get(1), qspec.Iw_1:get(1), qspec.Iw_2:get(1),
  qspec.Iw_3:get(1)))
local config = d2.config_from_specification(qspec)
print(config)
print("valid:", d2.validate_config(config))

-- Where neuron 1 lives, what it listens to and where its spikes go:
local a = config.neurons[1]
local n1 = config.chips[a.chip].cores[a.core].neurons[a.neuron]
print(("neuron 1: chip %d, core %d, slot %d; %d CAM entries, %d SRAM entries"):format(a.chip, a.core, a.neuron,
  #n1.synapses, #n1.destinations))
for i = 1, math.min(3, #n1.synapses) do
  local s = n1.synapses[i]
  print(("  CAM %d: tag %4d, %-4s weight bits {%s}"):format(i, s.tag, s.dendrite, table.concat(s.weight, ",")))
end

-- ## Simulating the configuration, and events
--
-- `from_config` rebuilds a DynapSim network from the configuration alone
-- (bias codes through the bias generator, weights from the CAM bits and
-- base currents). Its answer to an input raster is what we expect from the
-- chip; here it is close to the float network's. `events.encode_input`
-- turns the same raster into the address events a board would receive
-- (1 µs ticks), and `decode_output` counts events back into a raster.
local T = opt.quick and 200 or 1000
local x = lp.bernoulli(0.05, 1, T, Nin)
local chip = d2.from_config(config)
local out, _, rec = chip(x:astype("float32"), true)
local float_out = net(x:astype("float32"))
print("spikes per neuron, float network:     ", lp.format(float_out[1]:sum(1)))
print("spikes per neuron, from_config (chip):", lp.format(out[1]:sum(1)))
local ev = d2.events.encode_input(x[1], config.input_channel_map)
print(("input: %d events for the board (the last 3 are control events)"):format(#ev))
local imem = rec["2_DynapSim"].imem[1]:astype("float64") * 1e9
local fig = lp.plot.figure { rows = 3, cols = 1, width = 900, height = 1000 }
fig:raster(1, x[1], { dt = 1e-3, title = "input raster", ylabel = "channel" })
fig:traces(2, imem, { dt = 1e-3, title = "membrane currents (from_config)", ylabel = "nA" })
fig:raster(3, out[1], { dt = 1e-3, title = "output spikes", xlabel = "time (s)", ylabel = "neuron" })
assert(fig:save(tut.figure("from_config")))
