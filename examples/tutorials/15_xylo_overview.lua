-- examples/tutorials/15_xylo_overview.lua -- Overview of the Xylo family
-- Xylo is SynSense's family of low-power digital SNN inference chips. All
-- members share one core: integer leaky integrate-and-fire neurons with
-- bit-shift decays, 8-bit weights, a recurrent hidden population and a
-- small output population, stepped once per `dt`. They differ in size and
-- in the front end that turns a sensor's signal into input events:
--
-- - **Xylo Audio 2** (SYNS61201) and **Xylo Audio 3** (SYNS65302): a
--   microphone front end (a filter bank with spike encoding) feeding 16
--   input channels; hidden neurons with two synapses each.
-- - **Xylo IMU** (SYNS63300): a motion-sensor front end (rotation removal,
--   filter bank, spike encoders) feeding 16 channels; one synapse.
--
-- limpet has each variant under `lp.xylo.<variant>`, with one workflow:
-- map, quantise, configure, simulate bit-exactly.
local lp = require "limpet"
local nn = lp.nn
local tut = require "limpet.tutorial"
local opt = tut.options(arg)
local xylo = lp.xylo
lp.seed(15)

-- ## What each chip holds
--
-- `lp.xylo.<variant>.limits` are the numbers the mapper and the
-- configuration check against:
local fields = { "chip", "n_in", "n_hidden", "n_out", "n_syn", "max_fanout", "weight_bits", "threshold_bits",
                 "dash_max", "max_hidden_spikes" }
print(("%-18s %14s %14s %14s"):format("", "audio2", "audio3", "imu"))
for _, f in ipairs(fields) do
  local row = { ("%-18s"):format(f) }
  for _, v in ipairs { "audio2", "audio3", "imu" } do row[#row + 1] = ("%14s"):format(tostring(xylo[v].limits[f])) end
  print(table.concat(row, " "))
end

-- ## One network, three chips
--
-- A small network with one synapse per neuron fits every variant. It is
-- mapped, quantised, configured and simulated on each; the core's
-- arithmetic is the same, so the three simulators agree spike for spike.
local net = nn.Sequential {
  nn.Linear({ 8, 16 }, { weight = lp.randn(8, 16) * 0.3 }),
  nn.LIFBitshift(16, { tau_mem = 16e-3, tau_syn = 8e-3 }),
  nn.Linear({ 16, 4 }, { weight = lp.randn(16, 4) * 0.3 }),
  nn.LIFBitshift(4, { tau_mem = 16e-3, tau_syn = 8e-3 }),
}
local T = opt.quick and 100 or 400
local input = lp.bernoulli(0.1, 1, T, 8):astype("int32")
local fig = lp.plot.figure { rows = 1, cols = 3, width = 1200, height = 400 }
local outs = {}
for i, v in ipairs { "audio2", "audio3", "imu" } do
  local spec = xylo[v].mapper(net:as_graph())
  local config, ok, msg = xylo[v].config_from_specification(xylo.global_quantize(spec))
  assert(ok, msg)
  local sim = xylo[v].XyloSim.from_config(config, { dt = 1e-3 })
  local out, _, rec = sim(input, true)
  outs[i] = out
  print(("%-7s %s  hidden spikes %d, output spikes %d"):format(v, tostring(config):match "^XyloConfig%((.-);",
    rec.Spikes:sum():item(), out:sum():item()))
  fig:raster(i, rec.Spikes[1], { title = xylo[v].limits.title .. ": hidden spikes", xlabel = "step", ylabel = "neuron" })
end
assert(fig:save(tut.figure("three_chips")))
print("audio2 = audio3:", (outs[1] - outs[2]):abs():sum():item() == 0,
  " audio2 = imu:", (outs[1] - outs[3]):abs():sum():item() == 0)

-- ## Front ends
--
-- On the chips, input events come from the front end. The IMU interface is
-- in limpet (`lp.xylo.imu.IMUIFSim`, bit-exact; see `examples/xylo_imu.lua`).
-- The audio front ends (Xylo Audio 2's analog AFE model and Xylo Audio
-- 3's digital one, Rockpool's `AFESim` family) arrive with another issue;
-- until then audio networks here take event counts directly.
print("IMU front end:", xylo.imu.IMUIFSim ~= nil)
