-- spec/dist/train.lua MODE OUT -- the equal-parameters check of data-parallel
-- training: MODE "single" trains with global batch 8 in one process, MODE
-- "dist" (under mpirun -np 2) with batch 4 per rank and lp.train.fit's
-- distributed mode; 20 Adam steps each; rank 1 saves the parameters to OUT.
local lp = require "limpet"
local nn = lp.nn
local mode, out = arg[1], arg[2]
lp.config { threads = 1 }
lp.seed(7)
local N, T = 160, 12
local x = lp.rand(N, T, 10):lt(0.3):astype("float32")
local y = lp.randint(1, 4, { N })
local net = nn.Sequential { nn.Linear({ 10, 16 }), nn.LIF(16, { tau_mem = 0.02, tau_syn = 0.005 }),
  nn.Linear({ 16, 3 }), nn.LIF(3, { tau_mem = 0.02, tau_syn = 0.005 }) }
if mode == "dist" then
  -- a different initialisation on rank 2: fit must broadcast rank 1's
  local r = lp.dist.init { timeout = 60 }
  if r == 2 then lp.seed(99); net = nn.Sequential { nn.Linear({ 10, 16 }), nn.LIF(16, { tau_mem = 0.02, tau_syn = 0.005 }),
    nn.Linear({ 16, 3 }), nn.LIF(3, { tau_mem = 0.02, tau_syn = 0.005 }) } end
end
-- the weights train; time constants stay put (Adam at this rate would drive them out of range)
local p = net:parameters()
local opt = lp.optim.Adam({ p["1_Linear"], p["3_Linear"] }, { lr = 1e-2 })
local data
if mode == "dist" then
  data = lp.train.TensorLoader(x, y, { batch_size = 4, shuffle = true, seed = 5, shard = { lp.dist.rank(), lp.dist.size() } })
else
  data = lp.train.TensorLoader(x, y, { batch_size = 8, shuffle = true, seed = 5 })
end
assert(#data == 20, "20 steps per epoch")
lp.train.fit { net = net, loss = function(o, l) return lp.loss.cross_entropy(o:sum(2), l) end, data = data,
  epochs = 1, optimizer = opt, progress = false, distributed = mode == "dist" or nil }
if mode ~= "dist" or lp.dist.rank() == 1 then
  local flat = {}
  for k, v in pairs(net:parameters()) do
    for name, t in pairs(v) do flat[k .. "." .. name] = t:detach() end
  end
  assert(lp.save(out, flat))
end
