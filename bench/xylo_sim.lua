-- bench/xylo_sim.lua -- XyloSim speed (issues 4 and 17): the largest valid
-- Xylo Audio 2 network (16 inputs, 1000 hidden neurons, 8 outputs, two
-- synapses, 32 recurrent targets per neuron on each synapse = the chip's
-- 32,000 weights per synapse), 10 s of input at dt = 1 ms (T = 10,000), one
-- core; then random largest valid Audio 2 networks (bench/lib/xylo_net.lua
-- random_spec: the chip's 64 recurrent weights per neuron, targets of the two
-- synapses drawn independently, random weights, dashes and shifts), several
-- seeds. Target (issue 17): >= 500x real time (<= 20 ms per 10 s) at ~5 % of
-- hidden neurons spiking per step, on ANY such network. Activity is set by
-- the hidden thresholds (bisection; the random nets on 3000 steps) and
-- printed with each line; a random net that no threshold holds near 5 %
-- (some seeds are bistable) is reported and left out of the target line,
-- which gives the worst CPU-time factor over the bench net at 5 % and the
-- random nets held near 5 %.
-- Each line gives wall-clock (lp.clock) and process CPU time (os.clock: one
-- thread, so CPU time is the figure to trust on a shared machine).
-- There is no GEMM in this workload: no dense limit.
-- Recorded (one core of a 2-vCPU AMD EPYC Zen 4 VM, AVX2, gcc 12 -O2):
--   issue 4, quiet machine, ms per 10 s:  1.7 %: 16.0, 2.0 %: 17.0, 5 %: 25.9,
--   10 %: 37.2 (~390x real time at 5 %).
--   issue 17 (P/N sums in 32-bit fields with ordered per-neuron replay, input
--   rows fused into the integration pass, AVX2 spike scan and P/N settle),
--   decided on valgrind --tool=callgrind instructions per step at 5 %
--   (one evolve of T = 1000, inside lp_xylo_evolve):
--     this bench's net      45.4 k -> 32.9 k   (-28 %)
--     random nets seeds 1/3/6  61.2 k -> 35.6-35.9 k   (-41 %)
--   Scaling issue 4's ~390x at 45.4 k by instructions alone (same IPC
--   assumed, not measured) gives ~540x and ~495x on a quiet machine. On the
--   machine of this change (load average 12-13 on 2 cores) the CPU-time
--   factors, main vs this change in one session (min of 7, T = 10,000):
--   bench net 183x -> 215x, random seeds 1/3/4/6/8 94/143/60/145/143x ->
--   197/188/124/135/177x: both builds run 2-3x slower than quiet there.
--   issue 17 again (xsim22: per-pair P/N sums in saturating uint16 fields,
--   planar sums per synapse, threshold list made branch-free inside the
--   integration pass, replayed neurons merged into it), callgrind
--   instructions per step (T = 1000 inside lp_xylo_evolve, Bernoulli(0.2)
--   input, thresholds for each activity on that input), before xsim17 ->
--   xsim17 -> now: bench net 5 % 45.7 k -> 33.0 k -> 31.2 k, 10 % 65.1 k
--   -> 47.4 k -> 44.5 k; random seeds 1/4 at 5 % 61.0/86.8 k -> 35.6/34.9 k
--   -> 34.5/33.9 k (branch mispredictions per step, seed 4: 88 -> 36). The
--   "10 % regression" of xsim17 was not one in instructions (65.1 k ->
--   47.4 k) nor in CPU time, the builds run in turn in the same minute
--   (10 %, min of 7, two rounds, loaded: before xsim17 117-122 ms, xsim17
--   78-82 ms, now 64-72 ms per 10 s): it was load noise. Projection from
--   instructions alone (issue 4's quiet 390x at 45.4 k, same IPC assumed,
--   not measured): bench net 5 % ~570x, random nets ~510-520x. Loaded CPU
--   time here gives 115-215x for every build: the target line below is
--   what this machine shows, not a quiet figure.
--   issue 17, xsim23 (the AVX2 integration pass 16 neurons per vector in
--   int16 lanes on steps with input counts 0/1: saturating int16 adds, the
--   decays as mulhi_epu16 by 2^(16-d) from per-neuron tables, P/N sums
--   packed with saturation, -leak + Isyn1 + Isyn2 in int32 by vpmaddwd;
--   P/N planes and the tables interleaved in blocks of 16; input rows by a
--   fall-through switch; the per-synapse scatter 16 events a round at 3
--   instructions each). This VM's CPU shows no AVX-512 (/proc/cpuinfo: avx2,
--   bmi2, no avx512*), so the issue's 32-lane vpsrlvw lead could not run
--   here; the AVX2 pass multiplies instead. Callgrind instructions per step
--   (T = 1000 inside lp_xylo_evolve, Bernoulli(0.2) input, lp.seed(7),
--   thresholds for 5 %), before -> after: bench net 31.1 k -> 25.8 k;
--   random seeds 1/3/4/6 34.6/34.8/36.5/34.7 k -> 27.5/27.8/29.5/27.7 k
--   (-17 to -20 %). Where seed 1's 27.5 k go: integration pass 12.3 k
--   (~185 per 16 neurons; read off the compiled loop, roughly: state
--   int32 <-> int16 ~24, P/N loads ~12, input rows ~3 a row, settle ~28,
--   decays ~18, Vmem ~16, lists ~20), recurrent scatter ~10.3 k (3,200 events at 3 instructions: two
--   loads and an add to memory, AVX2 has no scatter; plus each row's
--   set-up), the rest ~5 k (spikes, readout, rows, step set-up). 500x needs
--   ~13 k at the ~2 IPC of issue 4: the scatter alone is at its AVX2 floor,
--   so the target is not reachable on this AVX2 machine by instruction
--   count; it needs AVX-512 (vpscatterdd, 32 lanes) on a CPU that has it.
--   CPU-time factors, loaded (load average 3.7-4.6 on 2 vCPUs), main vs
--   this change run back to back (median of 7 CPU ms, T = 10,000): bench net
--   197x -> 217x, random seeds 1/2/3/4/6 155/138/143/124/150x ->
--   169/136/157/156/188x; the worst net 124x -> 136x (ratio 0.25 -> 0.27).
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

-- threshold giving the wanted activity (bisection on a run of `steps`)
local function calibrate(target, mkspec, steps)
  local lo, hi = 1, 32767
  for _ = 1, 16 do
    local mid = (lo + hi) // 2
    if activity(XyloSim.from_specification((mkspec or spec)(mid)), steps or 1000) > target then lo = mid else hi = mid end
    if hi - lo <= 1 then break end
  end
  return hi
end

-- median wall and CPU ms of sim over the whole input (from the zero state)
local function timed(sim)
  local cpu = {}
  local med, min = H.time(function()
    sim:reset_state()
    local c0 = os.clock()
    sim(input)
    cpu[#cpu + 1] = (os.clock() - c0) * 1e3
  end, H.quick and 3 or 7, 1)
  table.sort(cpu)
  return med, min, cpu[(#cpu + 1) // 2]
end

-- --random-only: only the random networks below; --seeds=a,b,c: their seeds
local seeds, random_only = { 1, 2, 3, 4, 5, 6 }, false
for _, a in ipairs(arg) do
  if a == "--random-only" then random_only = true
  elseif a:match("^%-%-seeds=") then
    seeds = {}
    for v in a:sub(9):gmatch("%d+") do seeds[#seeds + 1] = tonumber(v) end
  end
end

-- the worst real-time factor at ~5 % over every net (wall and CPU), and
-- the nets no threshold holds near 5 %
local worst, worst_cpu, off, nnets = nil, nil, {}, 0
local function count(rt, rt_cpu)
  worst = worst and math.min(worst, rt) or rt
  worst_cpu = worst_cpu and math.min(worst_cpu, rt_cpu) or rt_cpu
  nnets = nnets + 1
end

local targets = random_only and {} or { 0.05, 0.01, 0.02, 0.10 }
for _, p in ipairs(targets) do
  local th = calibrate(p)
  local sim = XyloSim.from_specification(spec(th))
  local rate = activity(sim, T)
  local med, min, cpu = timed(sim)
  local per10s, cpu10s = med * 10000 / T, cpu * 10000 / T
  H.report(("XyloSim A2 %.1f%% active"):format(rate * 100), med, min, nil,
    ("T %d  hidden rate %.3f  %.1f ms per 10 s  x%.0f real time  CPU %.1f ms: x%.0f%s"):format(
      T, rate, per10s, 10000 / per10s, cpu10s, 10000 / cpu10s, p == 0.05 and "  (target >= 500x)" or ""))
  if p == 0.05 then count(10000 / per10s, 10000 / cpu10s) end
end

-- Random largest valid Audio 2 networks (bench/lib/xylo_net.lua random_spec:
-- 64 recurrent weights per neuron = the chip's fan-out, 32,000 per synapse,
-- targets of the two synapses independent, random shifts and dashes), each
-- at 5 % activity: the target holds for any such net, not only the one above.
for _, seed in ipairs(seeds) do
  local mk, desc = N.random_spec(seed)
  local th = calibrate(0.05, mk, math.min(T, 3000))
  local sim = XyloSim.from_specification(mk(th))
  local rate = activity(sim, T)
  local med, min, cpu = timed(sim)
  local rt, rt_cpu = T / med, T / cpu     -- (T ms of input) / (ms taken)
  local near = math.abs(rate - 0.05) <= 0.005
  if near then
    count(rt, rt_cpu)
  else
    off[#off + 1] = ("%d (%.1f %%)"):format(seed, rate * 100)
  end
  H.report(("XyloSim A2 random %d"):format(seed), med, min, nil,
    ("%s  threshold %d  hidden rate %.3f  %.1f ms per 10 s  x%.0f real time  CPU x%.0f  x%.2f the 500x target%s"):format(
      desc, th, rate, med * 10000 / T, rt, rt_cpu, rt_cpu / 500, near and "" or "  (not near 5 %: left out)"))
end
if worst then
  print(("XyloSim A2 at 5 %% activity, worst of %d nets%s: x%.0f real time wall, x%.0f CPU  target >= 500x  ratio %.2f (CPU)  %s%s"):format(
    nnets, random_only and " (random)" or " (bench net + random)", worst, worst_cpu, worst_cpu / 500,
    worst_cpu >= 500 and "met" or "not met",
    #off > 0 and ("  [seeds no threshold holds at 5 %: " .. table.concat(off, ", ") .. "]") or ""))
end
