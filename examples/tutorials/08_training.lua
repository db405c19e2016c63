-- examples/tutorials/08_training.lua -- Training a network with lp.train
-- `lp.train.fit` is limpet's training loop: mini-batches from a loader,
-- forward, loss, backward, an optimiser step, then validation, metrics,
-- learning-rate schedules, early stopping and checkpoints. This tutorial
-- trains a small spiking classifier with it and inspects the result.
local lp = require "limpet"
local nn = lp.nn
local tut = require "limpet.tutorial"
local opt = tut.options(arg)
lp.seed(8)

-- ## A rate-coded task
--
-- Four classes. Each sample is 50 ms of Poisson spikes on 16 channels; the
-- class decides which group of four channels fires faster (80 Hz against
-- 10 Hz elsewhere). Labels are 1-based, as every id in limpet.
local C, Nin, T = 4, 16, 50
local function make(n)
  local labels = lp.randint(1, C + 1, n)
  local lab = labels:totable()
  local rate = {}
  for i = 1, n do
    local row = {}
    for ch = 1, Nin do row[ch] = ((ch - 1) // 4 + 1 == lab[i]) and 0.08 or 0.01 end
    rate[i] = { row }
  end
  local p = lp.tensor(rate):expand(n, T, Nin)
  return lp.bernoulli(p), labels
end
local n_train = opt.quick and 256 or 2048
local x_train, y_train = make(n_train)
local x_val, y_val = make(256)
print("train", x_train, "labels", y_train)

-- ## Network, loss and optimiser
--
-- A spiking hidden layer and a synaptic read-out: the loss is the
-- cross-entropy of the read-out averaged over time (`out:mean(2)` gives
-- `(B, C)` logits). `max_spikes_per_dt = 1` lets a neuron fire at most once
-- per step. The time constants are held (`nn.Constant`): at this learning rate
-- Adam would push a synaptic τ below zero within a few steps, which limpet
-- refuses with an error naming the parameter.
local net = nn.Sequential {
  nn.Linear({ Nin, 32 }, { weight = lp.randn(Nin, 32) * 0.02 }),
  nn.LIF(32, { tau_mem = nn.Constant(20e-3), tau_syn = nn.Constant(10e-3), max_spikes_per_dt = 1 }),
  nn.Linear({ 32, C }, { has_bias = true }),
  nn.ExpSyn(C, { tau = nn.Constant(10e-3) }),
}
local optimizer = lp.optim.Adam(net:parameters(), { lr = 5e-3 })
local function loss(out, y) return lp.loss.cross_entropy(out:mean(2), y) end

-- ## The loop
--
-- `fit` takes named fields. `metrics = {"accuracy"}` compares the argmax
-- of the output summed over time with the labels; `on_epoch` sees each epoch's
-- statistics; `checkpoint` saves the net whenever the validation loss
-- improves; `patience` stops early. `progress = false` keeps the output
-- to our own lines.
local epochs = opt.quick and 8 or 30
local ckpt = opt.out .. "/08_training-best.npz"
local hist = lp.train.fit {
  net = net,
  loss = loss,
  data = lp.train.TensorLoader(x_train, y_train, { batch_size = 32, shuffle = true, seed = 1 }),
  val_data = lp.train.TensorLoader(x_val, y_val, { batch_size = 128 }),
  epochs = epochs,
  optimizer = optimizer,
  schedule = lp.optim.schedule.cosine(optimizer, { T_max = epochs, eta_min = 1e-4 }),
  metrics = { "accuracy" },
  checkpoint = ckpt,
  patience = 5,
  progress = false,
  on_epoch = function(e, s)
    print(("epoch %2d  loss %.3f  val loss %.3f  val accuracy %.3f"):format(e, s.train_loss, s.val_loss, s.val_accuracy))
  end,
}
print(("best epoch %d (val loss %.3f); stopped early: %s"):format(hist.best_epoch, hist.best_loss, tostring(hist.stopped_early)))

-- `fit` returns the history; `lp.plot.curve` draws it, accuracies on a
-- second axis:
assert(lp.plot.curve({ train_loss = hist.train_loss, val_loss = hist.val_loss, val_accuracy = hist.val_accuracy },
  tut.figure("history"), { xlabel = "epoch", ylabel = "loss", ylabel_right = "accuracy" }))

-- ## Evaluating the best checkpoint
--
-- The checkpoint is an ordinary saved network; load it, run the
-- validation set without gradients and build a confusion matrix. A saved
-- network keeps the state it had when saved (here: after the last
-- validation batch), and modules never reset on their own, so reset it
-- first — `fit` does the same before every batch.
local best = nn.load(ckpt)
best:reset_state()
local out = lp.no_grad(function() return best(x_val) end)
local pred = out:sum(2):argmax(2):reshape(-1):totable()
for i = 1, #pred do pred[i] = math.tointeger(pred[i]) end
local truth = y_val:totable()
local cm = lp.zeros(C, C)
local correct = 0
for i = 1, #truth do
  cm:set(truth[i], pred[i], cm:get(truth[i], pred[i]) + 1)
  if truth[i] == pred[i] then correct = correct + 1 end
end
print(("validation accuracy of the best checkpoint: %.3f"):format(correct / #truth))
assert(lp.plot.confusion(cm, tut.figure("confusion"), { title = "validation set" }))
os.remove(ckpt)
