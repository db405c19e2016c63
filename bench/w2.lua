-- bench/w2.lua -- W2 (issue 6): inference, batch 1, T = 10,000 steps of
-- 1 ms, 16 Bernoulli(0.05) inputs -> Linear -> 1000 recurrent LIF neurons
-- (dense w_rec, binary spikes, ~4 % active per step) -> Linear -> 8
-- outputs; forward only, reported as ms per simulated second. The run is
-- on one thread (the issue's target is for one core).
package.path = (arg[0]:match("^(.*)/[^/]*$") or ".") .. "/lib/?.lua;" .. package.path
local lp = require "limpet"
local H = require "harness"
local nn = lp.nn

local T, N, NIN, NOUT = 10000, 1000, 16, 8
local sim_s = T * 1e-3
local threads0 = H.threads()
lp.config { threads = 1 }
lp.seed(2)
local net = nn.Sequential {
  nn.Linear({ NIN, N }, { weight = lp.randn({ NIN, N }) * 0.1 }),
  nn.LIF(N, { tau_syn = 5e-3, tau_mem = 20e-3, dt = 1e-3, has_rec = true, max_spikes_per_dt = 1,
              w_rec = lp.randn({ N, N }) * (0.1 / math.sqrt(N)) }),
  nn.Linear({ N, NOUT }),
}
local x = H.spikes({ 1, T, NIN }, 0.05)
-- the whole network, as a user runs it: nn.Sequential fuses the input
-- Linear into the LIF (row gathers over the input spikes inside the time loop)
local function run()
  net:reset_state()
  return (net(x))
end
-- activity of the hidden layer, outside the timing
local rate = lp.no_grad(function() net:reset_state(); return net[2]((net[1](x))) end)
local reps = H.quick and 3 or 7
local med, min = H.time(function() lp.no_grad(run) end, reps, 1)
local lim = H.gemm_limit({ { T, NIN, N }, { 1, N, N, T }, { T, N, NOUT } }, H.quick and 1 or 3)
H.report("W2 ms per simulated s", med / sim_s, min / sim_s, lim / sim_s,
  ("active %.3f, %.0fx real time"):format(rate:mean():item(), 1e3 / (med / sim_s)))
lp.config { threads = threads0 }
