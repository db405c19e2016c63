-- examples/dynapse2_neuron.lua -- the Dynap-SE2 neuron model (lp.nn.DynapSim)
-- as a tutorial: how one neuron answers a step of input current and a train
-- of input pulses while one parameter is swept: the membrane time constant,
-- the membrane gain ratio, the refractory period and the spike-frequency
-- adaptation (AHP). Every sweep is one DynapSim population whose neurons
-- differ only in that parameter (each current is an (N) vector), so one
-- call simulates all the values on the same input.
-- Currents come from high-level values through the translation of
-- reference/dynapse2.md §2.3 (lp.dynapse2.DynapSimCore): I_tau = (Ut/κ)·C/τ,
-- I_gain = r·I_tau, I_ref = Vth·C_ref/t_ref.
-- Writes one PNG per sweep (membrane voltage, overlaid, and the raster) to
-- --out DIR (default: the current folder) and prints the spike counts and
-- first-spike times.
-- Usage: limpet examples/dynapse2_neuron.lua [--quick] [--out DIR]
local lp = require "limpet"
local d2 = lp.dynapse2

local opts = { quick = false, out = "." }
do
  local i = 1
  while arg and arg[i] do
    if arg[i] == "--quick" then opts.quick = true
    elseif arg[i] == "--out" then i = i + 1; opts.out = arg[i]
    else error("unknown argument " .. tostring(arg[i]) .. " (usage: [--quick] [--out DIR])", 0) end
    i = i + 1
  end
end

local dt = 1e-3
local T = opts.quick and 300 or 600          -- ms
local on, off = 50, T - 100                  -- the step's window (steps)

-- The two inputs, (T, 1), in multiples of Iscale (1e-8 A): a step of
-- weighted input, and pulses (one input event of weight 8 every 25 ms).
local function step_input()
  local x = lp.zeros({ T, 1 })
  x:slice(1, on, off):fill_(0.4)
  return x
end
local function pulse_input()
  local x = lp.zeros({ T, 1 })
  for t = on, off, 25 do x:set(t, 1, 8) end
  return x
end

-- A population of #values neurons, neuron k with the currents of
-- DynapSimCore.from_specification(spec_of(values[k])).
local function population(values, spec_of, extra)
  local cur = {}
  for k, v in ipairs(values) do
    local sim = d2.DynapSimCore.from_specification(spec_of(v)):to_simulation()
    for name, I in pairs(sim) do
      cur[name] = cur[name] or {}
      cur[name][k] = I
    end
  end
  local o = { dtype = "float64" }
  for name, list in pairs(cur) do o[name] = lp.tensor(list, "float64") end
  for k, v in pairs(extra or {}) do o[k] = v end
  return lp.nn.DynapSim(#values, o)
end

local function first_spike(s)      -- s: (T) spike counts -> time (ms) or "-"
  local t = s:ne(0):astype("float64")
  if t:sum():item() == 0 then return "-" end
  return ("%d"):format(lp.arange(1, T + 1, "float64")[s:ne(0)]:min():item())
end

local sweeps = {
  { name = "tau_mem", unit = "ms", values = { 10e-3, 20e-3, 40e-3, 80e-3 }, scale = 1e3,
    spec = function(v) return { tau_mem = v } end,
    note = "a longer membrane time constant integrates more slowly: later, rarer spikes" },
  { name = "r_gain_mem", unit = "", values = { 2, 4, 8, 16 }, scale = 1,
    spec = function(v) return { r_gain_mem = v } end,
    note = "a larger gain ratio makes the same input drive the membrane harder" },
  { name = "t_ref", unit = "ms", values = { 1e-3, 5e-3, 10e-3, 20e-3 }, scale = 1e3, gain = 3,
    spec = function(v) return { t_ref = v } end,
    note = "the refractory period caps the rate under a strong drive (the inputs x3 here)" },
  { name = "Iw_ahp", unit = "pA", values = { 0.5e-12, 20e-12, 100e-12, 500e-12 }, scale = 1e12,
    spec = function(v) return { Iw_ahp = v, tau_ahp = 100e-3, r_gain_ahp = 4, t_pulse_ahp = 1e-3 } end,
    note = "each spike charges the AHP current (pulse 1 ms, tau 100 ms), which adds to the leak: the rate adapts" },
}

local function plot_sweep(sw, which, s, rec)
  local path = ("%s/dynapse2_neuron_%s_%s.png"):format(opts.out, sw.name, which)
  -- membrane voltage of every neuron, overlaid, and below it the raster
  local ok, err = pcall(lp.plot.traces, rec.vmem[1], path, {
    stagger = 0, dt = dt, ylabel = "vmem (V)",
    title = ("DynapSim: %s sweep, %s input"):format(sw.name, which) })
  if not ok then print("  (plot not written: " .. tostring(err) .. ")") return nil end
  local rpath = path:gsub("%.png$", "_raster.png")
  lp.plot.raster(s[1], rpath, { dt = dt, title = ("%s sweep, %s input: spikes"):format(sw.name, which) })
  return path, rpath
end

print(("DynapSim neuron tutorial: %d ms per run, dt = 1 ms, input from %d to %d ms"):format(T, on, off))
for _, sw in ipairs(sweeps) do
  print()
  print(("%s: %s"):format(sw.name, sw.note))
  for _, which in ipairs { "step", "pulse" } do
    local mod = population(sw.values, sw.spec)
    local x = (which == "step" and step_input() or pulse_input()):astype("float64") * (sw.gain or 1)
    x = x:expand({ T, #sw.values }):contiguous()
    local s, _, rec = mod(x, true)
    local counts, firsts = {}, {}
    for k, v in ipairs(sw.values) do
      local sk = s[1]:transpose(1, 2)[k]
      counts[k] = ("%s=%g%s: %d spikes (first at %s ms)"):format(sw.name, v * sw.scale, sw.unit,
        math.floor(sk:sum():item()), first_spike(sk))
    end
    print(("  %-5s %s"):format(which, table.concat(counts, "; ")))
    local p1, p2 = plot_sweep(sw, which, s, rec)
    if p1 then print(("        plots: %s, %s"):format(p1, p2)) end
  end
end

-- The same neuron at the default currents with frozen mismatch (§10): ten
-- copies of a neuron fabricated with 20 % parameter spread.
print()
local mm = lp.nn.DynapSim(10, { dtype = "float64", percent_mismatch = 0.2, seed = 1, Idc = 2e-10 })
local s = mm(lp.zeros({ T, 10 }, "float64"))
local rates = {}
for k = 1, 10 do rates[k] = ("%d"):format(math.floor(s[1]:transpose(1, 2)[k]:sum():item() / (T * dt) + 0.5)) end
print("mismatch: 10 neurons, Idc = 0.2 nA, 20 % spread: rates (Hz) " .. table.concat(rates, " "))
