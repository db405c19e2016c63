-- bench/w1.lua -- W1 and W1r (issue 6): one SNN training step (forward,
-- backward over all parameters, Adam), the forward alone, and peak memory
-- over many steps. Run by `make bench`; `--quick` for fewer repetitions.
package.path = (arg[0]:match("^(.*)/[^/]*$") or ".") .. "/lib/?.lua;" .. package.path
local lp = require "limpet"
local H = require "harness"
local S = require "snn"

for _, rec in ipairs { false, true } do
  local name = rec and "W1r" or "W1"
  local w = S.build(256, rec)
  local lim_f = H.gemm_limit(S.gemm_shapes(256, rec, false))
  local lim_fb = H.gemm_limit(S.gemm_shapes(256, rec, true))
  local rate = w.hidden_rate()
  if not rec then
    local med, min = H.time(function() lp.no_grad(w.forward) end)
    H.report(name .. " fwd", med, min, lim_f, ("hidden rate %.3f"):format(rate))
    med, min = H.time(function() w.forward() end)
    H.report(name .. " fwd (recording)", med, min, lim_f)
  end
  local rss0 = lp.peak_rss()
  local med, min = H.time(w.train_step)
  H.report(name .. " fwd+bwd+adam", med, min, lim_fb, rec and ("hidden rate %.3f"):format(rate) or nil)
  if not rec then
    local steps = H.quick and 100 or 1000
    local base = H.baseline_rss
    local r1 = lp.peak_rss()
    for _ = 1, steps do w.train_step() end
    local r2 = lp.peak_rss()
    print(("%-28s peak rss %.1f MiB above baseline after warm-up, %.1f MiB after %d more steps (grew %.1f MiB)")
      :format(name .. " memory", (r1 - base) / 1048576, (r2 - base) / 1048576, steps, (r2 - r1) / 1048576))
  end
  local _ = rss0
end
