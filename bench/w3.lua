-- bench/w3.lua -- W3 (issue 6): W1 (forward + backward + Adam) with the
-- hidden layer N in {64, 128, 256, 512, 1024, 2048}; each line's ratio is
-- to the dense GEMMs of the same shapes in the same run.
package.path = (arg[0]:match("^(.*)/[^/]*$") or ".") .. "/lib/?.lua;" .. package.path
local lp = require "limpet"
local H = require "harness"
local S = require "snn"

for _, N in ipairs { 64, 128, 256, 512, 1024, 2048 } do
  local w = S.build(N, false)
  local reps = H.quick and 3 or 9
  local lim = H.gemm_limit(S.gemm_shapes(N, false, true), reps)
  local med, min = H.time(w.train_step, reps)
  H.report(("W3 N=%d fwd+bwd+adam"):format(N), med, min, lim)
  w = nil
  collectgarbage()
end
