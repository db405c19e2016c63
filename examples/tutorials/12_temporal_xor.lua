-- examples/tutorials/12_temporal_xor.lua -- Temporal XOR
-- A task that needs memory: two input pulses arrive one after the other,
-- each on channel 1 or channel 2, and after a pause the network must say
-- whether they came on the same channel (class 1) or different ones
-- (class 2). The first bit has to be held in the network's state until the
-- second arrives — a recurrent spiking network learns to do so. (The full
-- experiment, with more trials, is `examples/temporal_xor.lua`.)
local lp = require "limpet"
local nn = lp.nn
local tut = require "limpet.tutorial"
local opt = tut.options(arg)
lp.seed(12)

-- ## Trials
--
-- 80 ms per trial: pulse 1 near 5 ms, pulse 2 near 30 ms (each 10 ms wide,
-- onsets jittered by up to 5 ms), the answer read from 55 ms to the end.
local T, width, resp = 80, 10, 55
local function trials(n)
  local xs, ys = {}, {}
  for i = 1, n do
    local a, b = math.random(0, 1), math.random(0, 1)
    local x = {}
    for t = 1, T do x[t] = { 0, 0 } end
    local t1, t2 = 5 + math.random(0, 5), 30 + math.random(0, 5)
    for t = t1, t1 + width - 1 do x[t][a + 1] = 1 end
    for t = t2, t2 + width - 1 do x[t][b + 1] = 1 end
    xs[i], ys[i] = x, (a ~ b) + 1
  end
  return lp.tensor(xs), lp.tensor(ys, "int64")
end
math.randomseed(12)
local n_train = opt.quick and 256 or 1024
local x_train, y_train = trials(n_train)
local x_test, y_test = trials(256)
local fig = lp.plot.figure { rows = 1, cols = 2, width = 1000, height = 400 }
fig:raster(1, x_test[1], { title = ("trial 1 (class %d)"):format(y_test[1]), xlabel = "step", ylabel = "channel" })
fig:raster(2, x_test[2], { title = ("trial 2 (class %d)"):format(y_test[2]), xlabel = "step", ylabel = "channel" })
assert(fig:save(tut.figure("trials")))

-- ## A recurrent spiking network
--
-- Input weights into a recurrent LIF layer (`has_rec = true`) whose long
-- synaptic time constant (50 ms, held fixed) carries the first bit across
-- the gap; a linear read-out through an `ExpSyn`; and an `nn.Instant` that
-- keeps only the response window of the output.
local H = opt.quick and 32 or 64
local net = nn.Sequential {
  nn.Linear({ 2, H }, { weight = lp.randn(2, H) * 0.02 }),
  nn.LIF(H, { has_rec = true, tau_mem = nn.Constant(20e-3), tau_syn = nn.Constant(50e-3), max_spikes_per_dt = 1,
              w_rec = lp.randn(H, H) * (0.05 / math.sqrt(H)) }),
  nn.Linear({ H, 2 }, { has_bias = true }),
  nn.ExpSyn(2, { tau = nn.Constant(10e-3) }),
  nn.Instant(function(o) return o:slice(2, resp, T) end),
}
print(net)

-- ## Training
local epochs = opt.quick and 12 or 30
local optimizer = lp.optim.Adam(net:parameters(), { lr = 3e-3 })
local hist = lp.train.fit {
  net = net,
  loss = function(out, y) return lp.loss.cross_entropy(out:mean(2), y) end,
  data = lp.train.TensorLoader(x_train, y_train, { batch_size = 64, shuffle = true, seed = 1 }),
  val_data = lp.train.TensorLoader(x_test, y_test, { batch_size = 256 }),
  epochs = epochs,
  optimizer = optimizer,
  metrics = { "accuracy" },
  clip_grad_norm = 10,
  progress = false,
}
print(("held-out accuracy after %d epochs: %.3f"):format(hist.epochs, hist.val_accuracy[hist.epochs]))
assert(lp.plot.curve({ train_loss = hist.train_loss, val_accuracy = hist.val_accuracy }, tut.figure("history"),
  { xlabel = "epoch", ylabel = "loss", ylabel_right = "accuracy" }))

-- ## Inside the network
--
-- The hidden layer's spikes for one trial of each class: activity set up
-- by the first pulse persists through the gap.
net:reset_state()
local _, _, rec = lp.no_grad(function() return net(x_test:slice(1, 1, 2), true) end)
local sp = rec["2_LIF"].spikes
local fig2 = lp.plot.figure { rows = 1, cols = 2, width = 1000, height = 450 }
fig2:raster(1, sp[1], { title = ("hidden spikes, class %d"):format(y_test[1]), xlabel = "step", ylabel = "neuron" })
fig2:raster(2, sp[2], { title = ("hidden spikes, class %d"):format(y_test[2]), xlabel = "step", ylabel = "neuron" })
assert(fig2:save(tut.figure("hidden")))
