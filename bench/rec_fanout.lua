-- bench/rec_fanout.lua -- issue 11, item 6: the cost per step of a recurrent
-- LIFBitshift layer (dense w_rec, and under a fan-out limit through core.lif's
-- per-neuron target lists, rec_fanout = 64) against the same layer without
-- recurrence, all fed by a fused Linear(16 -> H), forward + backward, at
-- B = 64, T = 28 (the xylo_qat task's shape), H in {256, 512}; the fan-out
-- limit as a plain top-k (rec_fanout = 64) and in blocks of 8 adjacent
-- targets (rec_block = 8, the vector form). One thread;
-- process CPU time (os.clock), median of the repetitions, so the other jobs
-- on a shared machine count less than in wall time. The inputs are event
-- counts 0..15 on 16 channels; the weights are scaled so that the hidden
-- layer fires at a few spikes per neuron per sequence, as in training.
-- Usage: limpet bench/rec_fanout.lua [--quick]
local lp = require "limpet"
local nn = lp.nn
local quick = false
for _, a in ipairs(arg or {}) do
  if a == "--quick" then quick = true else io.stderr:write("rec_fanout: unknown argument '", a, "'\n"); os.exit(2) end
end
lp.config { threads = 1 }
local B, T = 64, 28
local reps = quick and 3 or 9

local function median(t)
  table.sort(t)
  return t[(#t + 1) // 2]
end

local function layer(H, kind)
  lp.seed(3)
  local opts = { tau_mem = 8e-3, tau_syn = 4e-3, threshold = 1, max_spikes_per_dt = 31 }
  if kind ~= "ffwd" then opts.has_rec = true end
  if kind == "fanout64" or kind == "blocks8" then opts.rec_fanout = 64 end
  if kind == "blocks8" then opts.rec_block = 8 end
  local net = nn.Sequential { nn.Linear({ 16, H }), nn.LIFBitshift(H, opts) }
  lp.no_grad(function()
    net["1_Linear"].weight:mul_(0.04)
    if kind ~= "ffwd" then net["2_LIFBitshift"].w_rec:mul_(0.1) end
  end)
  return net
end

local x = lp.floor(lp.rand({ B, T, 16 }) * 16)
print(("rec_fanout bench: B = %d, T = %d, 1 thread, CPU ms per step (forward + backward), median of %d"):format(B, T, reps))
for _, H in ipairs { 256, 512 } do
  local base
  for _, kind in ipairs { "ffwd", "dense", "fanout64", "blocks8" } do
    local net = layer(H, kind)
    local times, spikes = {}, 0
    for r = 0, reps do
      net:reset_state()
      for _, p in pairs(net:parameters()) do p.grad = nil end
      local c0 = os.clock()
      local s = net(x)
      s:sum():backward()
      local c = os.clock() - c0
      spikes = s:sum():item() / (B * H)
      if r > 0 then times[#times + 1] = c end      -- the first run warms up
    end
    local ms = median(times) * 1e3 / T
    base = base or ms
    print(("H=%-4d %-9s %8.3f ms/step  x%.2f of feed-forward  (%.2f spikes per neuron per sequence)")
      :format(H, kind, ms, ms / base, spikes))
    io.stdout:flush()
  end
end
