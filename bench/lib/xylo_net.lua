-- bench/lib/xylo_net.lua -- the largest valid Xylo Audio 2 network, shared by
-- bench/xylo_sim.lua (simulation speed) and bench/json.lua (configuration
-- files): 16 inputs, 1000 hidden neurons, 8 outputs, two synapses, 32
-- recurrent targets per neuron on each synapse (the same 32 on both; syn-2
-- weights negative on balance), every hidden neuron fed by all channels on
-- synapse 1. Lua's generator, seeded: the same network on every run.
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


return N
