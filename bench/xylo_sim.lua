-- bench/xylo_sim.lua -- XyloSim speed (issue 4): the largest valid Xylo
-- Audio 2 network (16 inputs, 1000 hidden neurons, 8 outputs, two synapses,
-- 32 recurrent targets per neuron on each synapse = the chip's 32,000
-- weights per synapse), 10 s of input at dt = 1 ms (T = 10,000), one core.
-- Target: <= 20 ms at ~5 % of hidden neurons spiking per step (500x real
-- time). Activity is set by the hidden thresholds (calibrated here on a
-- short run) and printed with each line, so the lines show how the time
-- scales with activity. There is no GEMM in this workload: no dense limit.
-- Recorded (one core of a 2-vCPU AMD EPYC Zen 4 VM, gcc 12 -O2, medians of
-- 3 runs on a mostly quiet shared machine), ms per 10 s of input:
--   activity   1.7 %   2.0 %   5.0 %   10 %
--   before      33.9    37.2    64.5   110   (scattered saturating adds)
--   now         16.0    17.0    25.9    37.2  (P/N sums, see xylosim.c)
-- i.e. ~390x real time at 5 %: short of the 500x target on this machine.
-- Cost ~ 12 ms fixed (integration, input rows) + ~2.5 ms per 1 % activity.
package.path = (arg[0]:match("^(.*)/[^/]*$") or ".") .. "/lib/?.lua;" .. package.path
local lp = require "limpet"
local H = require "harness"
local XyloSim = require("limpet.xylo.xylosim").for_variant("audio2")

local N = require "xylo_net"
local NIN, NHID = N.NIN, N.NHID
local spec = N.spec
local T = H.quick and 2000 or 10000

-- input: Bernoulli(0.2) events per channel and step
local input = H.spikes({ T, NIN }, 0.2):astype("int32")

-- fraction of hidden neurons spiking per step over the first `steps` steps
local function activity(sim, steps)
  sim:reset_state()
  local _, _, rec = sim(input:slice(1, 1, steps), true)
  return rec.Spikes:ne(0):sum():item() / (steps * NHID)
end

-- threshold giving the wanted activity (bisection on a short run)
local function calibrate(target, mkspec)
  local lo, hi = 1, 32767
  for _ = 1, 16 do
    local mid = (lo + hi) // 2
    if activity(XyloSim.from_specification((mkspec or spec)(mid)), 1000) > target then lo = mid else hi = mid end
    if hi - lo <= 1 then break end
  end
  return hi
end

-- --random-only: only the random networks below; --seeds=a,b,c: their seeds
local seeds, random_only = { 1, 2, 3, 4, 5 }, false
for _, a in ipairs(arg) do
  if a == "--random-only" then random_only = true
  elseif a:match("^%-%-seeds=") then
    seeds = {}
    for v in a:sub(9):gmatch("%d+") do seeds[#seeds + 1] = tonumber(v) end
  end
end

local targets = random_only and {} or { 0.05, 0.01, 0.02, 0.10 }
for _, p in ipairs(targets) do
  local th = calibrate(p)
  local sim = XyloSim.from_specification(spec(th))
  local rate = activity(sim, T)
  local med, min = H.time(function()
    sim:reset_state()
    sim(input)
  end, H.quick and 3 or 7, 1)
  local per10s = med * 10000 / T
  H.report(("XyloSim A2 %.1f%% active"):format(rate * 100), med, min, nil,
    ("T %d  hidden rate %.3f  %.1f ms per 10 s  x%.0f real time%s"):format(
      T, rate, per10s, 10000 / per10s, p == 0.05 and "  (target <= 20 ms per 10 s)" or ""))
end

-- Random largest valid Audio 2 networks (bench/lib/xylo_net.lua random_spec:
-- 64 recurrent weights per neuron = the chip's fan-out, 32,000 per synapse,
-- targets of the two synapses independent, random shifts and dashes), each
-- at 5 % activity: the target holds for any such net, not only the one above.
local worst
for _, seed in ipairs(seeds) do
  local mk, desc = N.random_spec(seed)
  local th = calibrate(0.05, mk)
  local sim = XyloSim.from_specification(mk(th))
  local rate = activity(sim, T)
  local med, min = H.time(function()
    sim:reset_state()
    sim(input)
  end, H.quick and 3 or 7, 1)
  local per10s = med * 10000 / T
  local rt = 10000 / per10s
  worst = worst and math.min(worst, rt) or rt
  H.report(("XyloSim A2 random %d"):format(seed), med, min, nil,
    ("%s  threshold %d  hidden rate %.3f  %.1f ms per 10 s  x%.0f real time  x%.2f the 500x target"):format(
      desc, th, rate, per10s, rt, rt / 500))
end
if worst then
  print(("XyloSim A2 random nets, 5 %% active: worst x%.0f real time  target >= 500x  ratio %.2f  %s"):format(
    worst, worst / 500, worst >= 500 and "met" or "not met"))
end
