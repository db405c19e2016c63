-- bench/dynapsim.lua -- DynapSim speed (issue 9): one Dynap-SE2 chip, 1024
-- neurons, Poisson input on every neuron at 20 Hz (weight 4, i.e. ~4 nA
-- per input event on the synapse), w_rec with 64 random non-zeros per row
-- (uniform in [-2, 0.5]; a dense (N, N) parameter, whose non-zeros the
-- fused op keeps as CSR: 1/16 dense), 1 s at
-- dt = 1 ms (T = 1000); batch 1 and 32, forward and forward + backward
-- (a loss on the spike counts and vmem), float32 (and float64).
-- Reports ms per simulated second (per batch row: median / B), the
-- real-time factor (1000 ms / that), the same from the process's CPU time
-- (the fastest of a few runs: the figure that holds on a busy machine; with
-- --threads=1 it is one core's time), and the mean firing rate.
-- Target: forward >= 1000x real time at batch 1 on one core, float32.
-- Recorded (one core of a 2-vCPU AMD EPYC VM with AVX2, gcc 12, --threads=1,
-- on a shared machine at load 6-12, so wall clock is ~3x the CPU time;
-- 27.8 Hz mean rate), ms per simulated second per batch row, CPU time:
--                    forward   fwd+bwd
--   float32 B=1        7.5       55      (x134 real time forward)
--   float32 B=32      11.4      108
--   float64 B=1       17.4      107      (x58)
--   float64 B=32      28.1      167
-- Short of the target here: the neuron update costs ~2.5 ms per 1024
-- neurons x 1000 steps (an exp, a log and two divisions per neuron-step,
-- 8 lanes wide), the recurrent input ~2 ms (28 spikes x 64 targets a step).
package.path = (arg[0]:match("^(.*)/[^/]*$") or ".") .. "/lib/?.lua;" .. package.path
local lp = require "limpet"
local H = require "harness"

local N, T, FAN = 1024, 1000, 64

-- the network: Lua's generator, seeded
math.randomseed(9)
local function network(dtype)
  local w = lp.zeros({ N, N }, "float64")
  for i = 1, N do
    local chosen, n = {}, 0
    while n < FAN do
      local j = math.random(1, N)
      if j ~= i and not chosen[j] then
        chosen[j] = true
        n = n + 1
        w:set(i, j, math.random() * 2.5 - 2)
      end
    end
  end
  return w:astype(dtype)
end
local W = { float32 = network("float32") }
W.float64 = W.float32:astype("float64")

lp.seed(2023)
local X = {}
for _, B in ipairs { 1, 32 } do
  X[B] = (lp.rand(B, T, N):lt(20 * 1e-3)):astype("float32") * 4
end

local function run(dtype, B, backward)
  local mod = lp.nn.DynapSim(N, { dtype = dtype, w_rec = W[dtype] })
  local x = X[B]:astype(dtype)
  local spikes
  local fn = function()
    mod:reset_state()
    if backward then
      local s, _, rec = mod(x, true)
      local loss = (s * 0.5):sum() + rec.vmem:sum()
      loss:backward()
      spikes = s
    else
      spikes = lp.no_grad(function() return (mod(x)) end)
    end
  end
  local med, min = H.time(fn, H.quick and 3 or 7, 1)
  -- CPU time of the process (the same on a busy machine; with one thread = the core's time)
  local cpu = math.huge
  for _ = 1, H.quick and 2 or 3 do
    local c0 = os.clock()
    fn()
    cpu = math.min(cpu, (os.clock() - c0) * 1e3)
  end
  local per_row = med / B
  local rate = spikes:sum():item() / (B * N * T * 1e-3)
  H.report(("dynapsim %s B=%d %s"):format(dtype, B, backward and "fwd+bwd" or "forward"), med, min, nil,
    ("%.2f ms/sim-s per row  x%.0f real time  (cpu %.2f ms/sim-s per row: x%.0f)  %.1f Hz"):format(per_row,
      1000 / per_row, cpu / B, 1000 * B / cpu, rate))
end

for _, dtype in ipairs { "float32", "float64" } do
  for _, B in ipairs { 1, 32 } do
    run(dtype, B, false)
    run(dtype, B, true)
  end
end
