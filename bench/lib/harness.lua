-- bench/lib/harness.lua -- what every benchmark of `make bench` shares.
-- Owns: command-line flags (--quick, --threads=N, --reps=N, --cpu-time or --cpu), timing with a
-- warm-up and medians (lp.clock, or lp.cpu_time with --cpu-time), peak RSS (lp.peak_rss), the one-line
-- report format, and the "dense-GEMM limit": the same GEMM shapes as a
-- workload, timed through lp.matmul on dense tensors in the same run.
-- Line format:
--   <workload>  median <ms> ms  min <ms> ms  rss <MiB> MiB  threads <n>  [wait <policy>]  x<r> dense-GEMM limit (<ms> ms)
-- ratio r = median / limit (below 1 is faster than the dense GEMMs alone).
local lp = require "limpet"

local H = {}

H.quick, H.reps, H.cpu_time = false, nil, false
for _, a in ipairs(arg or {}) do
  if a == "--quick" then H.quick = true
  elseif a:match("^%-%-threads=%d+$") then lp.config { threads = tonumber(a:match("%d+")) }
  elseif a:match("^%-%-reps=%d+$") then H.reps = tonumber(a:match("%d+"))
  elseif a == "--cpu-time" or a == "--cpu" then H.cpu_time = true
  end
end
if os.getenv("QUICK") and os.getenv("QUICK") ~= "" and os.getenv("QUICK") ~= "0" then H.quick = true end

function H.threads() return lp.config().threads end

-- libgomp's idle policy, fixed at start-up from the environment (passive:
-- idle workers sleep; the default spins a while first)
H.wait_policy = (os.getenv("OMP_WAIT_POLICY") or "default"):lower()

-- ms timings of fn over reps runs after warm runs: median, min. H.clock is
-- the clock: lp.clock (wall, the default) or lp.cpu_time (the process's CPU
-- seconds, all threads; steadier on a loaded machine), chosen by a bench or
-- by --cpu-time.
H.clock = H.cpu_time and lp.cpu_time or lp.clock
function H.time(fn, reps, warm)
  reps = H.reps or reps or (H.quick and 5 or 15)
  for _ = 1, warm or 2 do fn() end
  local ts = {}
  local clock = H.clock
  for i = 1, reps do
    local t0 = clock()
    fn()
    ts[i] = (clock() - t0) * 1e3
  end
  table.sort(ts)
  local n = #ts
  local med = n % 2 == 1 and ts[(n + 1) // 2] or (ts[n // 2] + ts[n // 2 + 1]) / 2
  return med, ts[1]
end

-- H.wall_time(fn, reps, warm): H.time by the wall clock whatever --cpu says:
-- the 1-vs-2-thread lines measure a speed-up, which process CPU time (the
-- sum over threads) cannot show.
function H.wall_time(fn, reps, warm)
  local clock = H.clock
  H.clock = lp.clock
  local med, min = H.time(fn, reps, warm)
  H.clock = clock
  return med, min
end

local function mib(b) return b / 1048576 end

-- The dense-GEMM limit of a list of shapes {m, k, n[, count]}: A (m, k) . B (k, n),
-- `count` times each (default 1), dense random operands, summed medians.
function H.gemm_limit(shapes, reps)
  local ops = {}
  for _, s in ipairs(shapes) do
    ops[#ops + 1] = { a = lp.rand({ s[1], s[2] }), b = lp.rand({ s[2], s[3] }), count = s[4] or 1 }
  end
  local med = H.time(function()
    for _, o in ipairs(ops) do
      for _ = 1, o.count do local _ = lp.matmul(o.a, o.b) end
    end
  end, reps)
  return med
end

H.baseline_rss = lp.peak_rss()

-- One report line. limit: dense-GEMM limit in ms (or nil); extra: a suffix.
function H.report(name, med, min, limit, extra)
  local line = ("%-28s median %8.2f ms  min %8.2f ms  rss %6.1f MiB  threads %d"):format(
    name, med, min, mib(lp.peak_rss()), H.threads())
  if H.threads() > 1 then line = line .. "  wait " .. H.wait_policy end
  if H.cpu_time then line = line .. "  (CPU time)" end
  if limit then line = line .. ("  x%.2f dense-GEMM limit (%.2f ms)"):format(med / limit, limit) end
  if extra then line = line .. "  " .. extra end
  print(line)
  io.stdout:flush()
end

-- Bernoulli(p) spikes of the given shape, float32, from lp's seeded generator.
function H.spikes(shape, p)
  return lp.rand(shape):lt(p):astype("float32")
end

return H
