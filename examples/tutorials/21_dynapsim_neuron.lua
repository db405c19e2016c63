-- examples/tutorials/21_dynapsim_neuron.lua -- The DynapSim neuron model
-- `nn.DynapSim` simulates the analog neuron circuit of Dynap-SE2. Its
-- state is a handful of currents: a synapse current `isyn` (input events
-- charge it; it decays), the membrane current `imem` (integrates the
-- synapse current, leaks, and fires when it reaches the threshold
-- `Ispkthr`), and an after-hyperpolarisation current `iahp` (each spike
-- charges it; it acts as extra leak, so the neuron adapts). Each of these
-- is a DPI circuit (differential-pair integrator): a first-order low-pass
-- filter in current mode, with a time constant set by a leak current
-- `Itau_*` and a gain set by `Igain_*`. This tutorial looks at one neuron's
-- currents, then sweeps the parameters that shape its answer, and ends with
-- the mismatch of a fabricated chip.
local lp = require "limpet"
local nn = lp.nn
local tut = require "limpet.tutorial"
local opt = tut.options(arg)
local d2 = lp.dynapse2
lp.seed(21)

-- ## One neuron, step by step
--
-- The input of `DynapSim` is already weighted: a number per neuron and
-- step, in units of `Iscale` (10 nA by default), as a `Linear` layer in
-- front of it would deliver. Here one neuron gets an input event of
-- weight 8 every 20 ms for 200 ms, with the default parameters (20 ms
-- membrane, 10 ms synapse, 1 ms refractory period) except for the
-- adaptation, which is off by default (its weight `Iw_ahp` is the floor
-- current `Io`); here it is on, with a 100 ms time constant (how these
-- values become currents is the next section).
local dt = 1e-3
local T = opt.quick and 300 or 600
local x = lp.zeros({ T, 1 }, "float64")
for t = 20, 220, 20 do x:set(t, 1, 8) end
local ahp = d2.DynapSimCore.from_specification { Iw_ahp = 100e-12, tau_ahp = 100e-3, r_gain_ahp = 4,
  t_pulse_ahp = 1e-3 }:to_simulation()
local neuron = nn.DynapSim(1, { dtype = "float64", Iw_ahp = ahp.Iw_ahp, Itau_ahp = ahp.Itau_ahp,
  Igain_ahp = ahp.Igain_ahp, Ipulse_ahp = ahp.Ipulse_ahp })
print(neuron)
local s, state, rec = neuron(x, true)
print(("%d input events, %d spikes; record: %s"):format(x:ne(0):sum():item(), s:sum():item(),
  "iahp, imem, isyn, spikes, vmem, each (1, T, 1)"))
print(("final state: imem %.3g A, isyn %.3g A, iahp %.3g A"):format(state.imem:item(), state.isyn:item(),
  state.iahp:item()))

-- The synapse current jumps at every event and decays; the membrane
-- current follows it more slowly until it crosses the threshold (100 nA),
-- the neuron fires and the membrane resets. The adaptation current jumps
-- with each spike and builds up, so the spikes come further apart. Currents span decades, so they are plotted in
-- log10(A).
local function log10(t) return t:clamp(1e-15, math.huge):log() * (1 / math.log(10)) end
local fig = lp.plot.figure { rows = 4, cols = 1, width = 900, height = 1100 }
fig:traces(1, log10(rec.isyn[1]), { dt = dt, title = "isyn: synapse current", ylabel = "log10 A" })
fig:traces(2, log10(rec.imem[1]), { dt = dt, title = "imem: membrane current", ylabel = "log10 A" })
fig:traces(3, log10(rec.iahp[1]), { dt = dt, title = "iahp: adaptation current", ylabel = "log10 A" })
fig:raster(4, s[1], { dt = dt, title = "spikes", xlabel = "time (s)", ylabel = "neuron" })
assert(fig:save(tut.figure("one_neuron")))

-- ## From high-level values to currents
--
-- Nobody sets `Itau_mem` by hand: `DynapSimCore.from_specification`
-- takes time constants, pulse widths and gain ratios and returns the
-- currents (I_tau = (U_T/κ)·C/τ, I_gain = r·I_tau, I_ref = V_th·C_ref/t_ref),
-- and `to_simulation` gives the 13 currents `DynapSim` takes.
local cur = d2.DynapSimCore.from_specification({ tau_mem = 40e-3 }):to_simulation()
print(("tau_mem 40 ms: Itau_mem = %.4g A, Igain_mem = %.4g A (gain ratio 4)"):format(cur.Itau_mem, cur.Igain_mem))

-- Every current may differ per neuron, so a population of N neurons with N
-- parameter values simulates a whole sweep in one call.
local function population(values, spec_of, extra)
  local per = {}
  for k, v in ipairs(values) do
    for name, I in pairs(d2.DynapSimCore.from_specification(spec_of(v)):to_simulation()) do
      per[name] = per[name] or {}
      per[name][k] = I
    end
  end
  local o = { dtype = "float64" }
  for name, list in pairs(per) do o[name] = lp.tensor(list, "float64") end
  for k, v in pairs(extra or {}) do o[k] = v end
  return nn.DynapSim(#values, o)
end

-- A step of input (0.4 × Iscale from 50 ms to 100 ms before the end) into
-- four neurons each, and the spike count and first spike of every neuron.
local on, off = 50, T - 100
local function step(n, gain)
  local u = lp.zeros({ T, n }, "float64")
  u:slice(1, on, off):fill_(0.4 * (gain or 1))
  return u
end
local function summary(name, unit, scale, values, spikes)
  local parts = {}
  for k, v in ipairs(values) do
    local sk = spikes[1]:slice(2, k, k):reshape(T)
    local first = "-"
    if sk:sum():item() > 0 then first = ("%d ms"):format(lp.arange(1, T + 1, "float64")[sk:ne(0)]:min():item()) end
    parts[k] = ("%s=%g%s: %d spikes, first %s"):format(name, v * scale, unit, sk:sum():item(), first)
  end
  print(table.concat(parts, "; "))
end

local sweeps = {
  { name = "tau_mem", unit = " ms", scale = 1e3, values = { 10e-3, 20e-3, 40e-3, 80e-3 },
    spec = function(v) return { tau_mem = v } end },
  { name = "r_gain_mem", unit = "", scale = 1, values = { 2, 4, 8, 16 },
    spec = function(v) return { r_gain_mem = v } end },
  { name = "t_ref", unit = " ms", scale = 1e3, values = { 1e-3, 5e-3, 10e-3, 20e-3 }, gain = 3,
    spec = function(v) return { t_ref = v } end },
  { name = "Iw_ahp", unit = " pA", scale = 1e12, values = { 0.5e-12, 20e-12, 100e-12, 500e-12 },
    spec = function(v) return { Iw_ahp = v, tau_ahp = 100e-3, r_gain_ahp = 4, t_pulse_ahp = 1e-3 } end },
}

-- ## Four sweeps
--
-- * `tau_mem`: a longer membrane time constant integrates more slowly:
--   later and fewer spikes.
-- * `r_gain_mem`: the gain ratio scales how hard the same input drives
--   the membrane.
-- * `t_ref`: the refractory period caps the rate under a strong drive
--   (the step is 3 times larger for this sweep).
-- * `Iw_ahp`: each spike charges the adaptation current, which adds to
--   the leak: with a large weight the rate falls during the step.
fig = lp.plot.figure { rows = 2, cols = 2, width = 1100, height = 800 }
for i, sw in ipairs(sweeps) do
  local mod = population(sw.values, sw.spec)
  local spikes, _, r = mod(step(#sw.values, sw.gain), true)
  summary(sw.name, sw.unit, sw.scale, sw.values, spikes)
  local labels = {}
  for k, v in ipairs(sw.values) do labels[k] = ("%g%s"):format(v * sw.scale, sw.unit) end
  fig:traces(i, r.imem[1] * 1e9, { dt = dt, stagger = 0, labels = labels, title = "imem, sweep of " .. sw.name,
    xlabel = "time (s)", ylabel = "nA" })
end
assert(fig:save(tut.figure("sweeps")))

-- ## Mismatch
--
-- No two analog neurons are alike: transistors differ, so every current of
-- every neuron is off by a few per cent. `percent_mismatch` draws that
-- deviation once, when the module is built (a fabricated chip), from a
-- seeded generator. Ten copies of one neuron with a constant DC input
-- (`Idc` = 0.2 nA) and 20 % mismatch fire at different rates:
local copies = nn.DynapSim(10, { dtype = "float64", percent_mismatch = 0.2, seed = 1, Idc = 2e-10 })
local ms = copies(lp.zeros({ T, 10 }, "float64"))
local rates = {}
for k = 1, 10 do rates[k] = ("%d"):format(math.floor(ms[1]:slice(2, k, k):sum():item() / (T * dt) + 0.5)) end
print("rates (Hz) with 20 % mismatch: " .. table.concat(rates, " "))
local exact = nn.DynapSim(1, { dtype = "float64", Idc = 2e-10 })(lp.zeros({ T, 1 }, "float64"))
print(("without mismatch: %d Hz"):format(math.floor(exact:sum():item() / (T * dt) + 0.5)))

-- Mismatch is why Dynap-SE2 networks are trained to be robust to it
-- (`d2.mismatch_transform`, tutorial 23), and why the deployed network is
-- best checked with `from_config(config, {percent_mismatch = ...})`
-- (tutorial 22).
