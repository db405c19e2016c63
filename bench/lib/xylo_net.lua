-- bench/lib/xylo_net.lua -- the largest valid Xylo Audio 2 network, shared by
-- bench/xylo_sim.lua (simulation speed) and bench/json.lua (configuration
-- files): 16 inputs, 1000 hidden neurons, 8 outputs, two synapses, 32
-- recurrent targets per neuron on each synapse (the same 32 on both; syn-2
-- weights negative on balance), every hidden neuron fed by all channels on
-- synapse 1. Lua's generator, seeded: the same network on every run.
-- N.random_spec(seed, threshold): another largest valid Audio 2 network with
-- random recurrent structure (see there), the same for the same seed.
local lp = require "limpet"

local N = { NIN = 16, NHID = 1000, NOUT = 8, FAN = 32 }

math.randomseed(42)
local NIN, NHID, NOUT, FAN = N.NIN, N.NHID, N.NOUT, N.FAN
local w_in = lp.zeros({ NIN, NHID, 2 }, "int32")
local w_rec = lp.zeros({ NHID, NHID, 2 }, "int32")
local w_out = lp.zeros({ NHID, NOUT }, "int32")
for c = 1, NIN do
  for j = 1, NHID do w_in:set(c, j, 1, math.random(0, 127)) end
end
for i = 1, NHID do
  local chosen, n = {}, 0
  while n < FAN do
    local j = math.random(1, NHID)
    if not chosen[j] then
      chosen[j] = true
      n = n + 1
      w_rec:set(i, j, 1, math.random(-64, 63))
      w_rec:set(i, j, 2, math.random(-64, 32))
    end
  end
  for k = 1, NOUT do w_out:set(i, k, math.random(-128, 127)) end
end

function N.spec(threshold)
  return {
    weights_in = w_in, weights_rec = w_rec, weights_out = w_out,
    dash_mem = lp.full({ NHID }, 4, "int32"), dash_syn = lp.full({ NHID }, 2, "int32"),
    dash_syn_2 = lp.full({ NHID }, 3, "int32"),
    dash_mem_out = lp.full({ NOUT }, 4, "int32"), dash_syn_out = lp.full({ NOUT }, 2, "int32"),
    threshold = lp.full({ NHID }, threshold, "int32"), threshold_out = lp.full({ NOUT }, 4000, "int32"),
    weight_shift_in = 2, weight_shift_rec = 3, weight_shift_out = 2,
  }
end

-- A random largest valid Audio 2 network: every hidden neuron has the
-- chip's 64 recurrent weights (max_fanout), split between the synapses as
-- 32 + d and 32 - d (d random in -12..12, the neighbour taking the mirror
-- split so that each synapse holds exactly 32,000 = max_rec_weights), the
-- targets of the two synapses drawn independently (so up to 64 distinct
-- post-neurons); weights uniform in -128..127 (syn-2 negative on balance),
-- input weights on both synapses (syn-1 dense, syn-2 half the entries),
-- random dashes and weight shifts (shift_rec 1..4; larger ones saturate
-- Isyn so often that no threshold gives 5 %), aliases none. Seeded: `seed` gives the same net everywhere.
-- Returns a function threshold -> specification, and a one-line summary.
function N.random_spec(seed)
  local rng = math.random
  math.randomseed(seed)
  local L = require("limpet.xylo.limits").for_variant("audio2")
  local nin, nhid, nout, fan = L.n_in, L.n_hidden, L.n_out, L.max_fanout
  local wi = lp.zeros({ nin, nhid, 2 }, "int32")
  local wr = lp.zeros({ nhid, nhid, 2 }, "int32")
  local wo = lp.zeros({ nhid, nout }, "int32")
  for c = 1, nin do
    for j = 1, nhid do
      wi:set(c, j, 1, rng(-128, 127))
      if rng() < 0.5 then wi:set(c, j, 2, rng(-128, 127)) end
    end
  end
  local d = 0
  for i = 1, nhid do
    if i % 2 == 1 then d = rng(-12, 12) else d = -d end
    local k = { fan // 2 + d, fan // 2 - d }
    for s = 1, 2 do
      local chosen, n = {}, 0
      while n < k[s] do
        local j = rng(1, nhid)
        if not chosen[j] then
          chosen[j] = true
          n = n + 1
          local w = 0
          while w == 0 do w = s == 1 and rng(-128, 127) or rng(-128, 80) end
          wr:set(i, j, s, w)
        end
      end
    end
    for o = 1, nout do wo:set(i, o, rng(-128, 127)) end
  end
  local function per(lo, hi) local t = {} for i = 1, nhid do t[i] = rng(lo, hi) end return lp.tensor(t, "int32") end
  local dm, ds, ds2 = per(2, 5), per(1, 4), per(1, 5)
  local sh_in, sh_rec, sh_out = rng(0, 2), rng(0, 3), rng(0, 4)
  local spec = function(threshold)
    return {
      weights_in = wi, weights_rec = wr, weights_out = wo,
      dash_mem = dm, dash_syn = ds, dash_syn_2 = ds2,
      dash_mem_out = lp.full({ nout }, 4, "int32"), dash_syn_out = lp.full({ nout }, 2, "int32"),
      threshold = lp.full({ nhid }, threshold, "int32"), threshold_out = lp.full({ nout }, 4000, "int32"),
      weight_shift_in = sh_in, weight_shift_rec = sh_rec, weight_shift_out = sh_out,
    }
  end
  return spec, ("seed %d  shifts in/rec/out %d/%d/%d"):format(seed, sh_in, sh_rec, sh_out)
end

return N
