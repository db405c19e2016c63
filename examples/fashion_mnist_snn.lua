-- examples/fashion_mnist_snn.lua -- a spiking network trained on
-- Fashion-MNIST with lp.train.fit, scored on the full test set.
-- Input: every image is rate coded afresh for each batch: pixel intensity
-- p in [0, 1] becomes T steps of Bernoulli(p) spikes on 784 channels (so
-- each epoch sees new spike trains, a free augmentation).
-- Net: Linear(784 -> H) -> LIF(H) -> Linear(H -> 10, bias); the loss is the
-- cross-entropy of the readout's mean over time (the membrane of a
-- non-leaky readout), trained by BPTT through the LIF layer with an ATan
-- surrogate gradient. The LIF's thresholds, biases and time constants are
-- held fixed (nn.Constant): the weights and the readout bias train; with
-- --train-taus 1 the time constants train too (in log space, their own
-- parameter group with lr 1e-2).
-- Writes a PNG of the training curves and one of an input/hidden raster.
-- Usage: limpet examples/fashion_mnist_snn.lua [--quick] [--epochs N] [--hidden H]
--          [--steps T] [--lr LR] [--budget SECONDS] [--out DIR] [--root DIR] [--train-taus 1]
local lp = require "limpet"
local nn = lp.nn

local opts = { quick = false, out = ".", budget = 570 }
do
  local a, i = arg or {}, 1
  while i <= #a do
    local k = a[i]
    if k == "--quick" then opts.quick = true
    elseif k:match("^%-%-%a") and a[i + 1] then opts[k:sub(3)] = a[i + 1]; i = i + 1
    else io.stderr:write("fashion_mnist_snn: unknown argument '", k, "'\n"); os.exit(2) end
    i = i + 1
  end
end
local quick = opts.quick
local T = tonumber(opts.steps) or 8                 -- time steps per image
local H = tonumber(opts.hidden) or (quick and 64 or 512)
local epochs = tonumber(opts.epochs) or (quick and 2 or 8)
local lr = tonumber(opts.lr) or 2e-3
local budget = tonumber(opts.budget)                -- seconds: no epoch starts that would end past it
local n_train = quick and 2000 or nil
local n_test = quick and 500 or nil
T, H, epochs = math.tointeger(T), math.tointeger(H), math.tointeger(epochs)
if not (T and H and epochs) then io.stderr:write("fashion_mnist_snn: --steps, --hidden and --epochs take integers\n"); os.exit(2) end

local t_start = lp.clock()
lp.seed(2024)

-- data: images (N, 784) float32 in [0, 1], labels 1..10 -------------------------------
local function load(split, n)
  local ds, err = lp.data.FashionMNIST { split = split, root = opts.root }
  if not ds then
    io.stderr:write("fashion_mnist_snn: ", err, "\n")
    os.exit(1)
  end
  local x, y = ds:tensors()
  x = x:reshape(-1, 28 * 28)
  if n then x, y = x:slice(1, 1, n), y:slice(1, 1, n) end
  return x:contiguous(), y:contiguous()
end
local x_train, y_train = load("train", n_train)
local x_test, y_test = load("test", n_test)
print(("Fashion-MNIST: %d training and %d test images, %d time steps of rate-coded spikes each")
  :format(x_train.shape[1], x_test.shape[1], T))

-- A loader of rate-coded batches: (B, 784) intensities -> (B, T, 784) spikes.
local function rate_code(x)
  local B = x.shape[1]
  return lp.rand(B, T, 784):lt(x:reshape(B, 1, 784)):astype("float32")
end
local function spike_loader(x, y, o)
  local inner = lp.train.TensorLoader(x, y, o)
  return setmetatable({}, {
    __len = function() return #inner end,
    __index = { iter = function()
      local it = inner:iter()
      return function()
        local xb, yb = it()
        if xb then return rate_code(xb), yb end
      end
    end },
  })
end

-- the network ---------------------------------------------------------------------------
local net = nn.Sequential {
  nn.Linear({ 784, H }),
  nn.LIF(H, { tau_mem = opts["train-taus"] and 20e-3 or nn.Constant(20e-3),
              tau_syn = opts["train-taus"] and 5e-3 or nn.Constant(5e-3), threshold = nn.Constant(1.0),
              bias = nn.Constant(0.0), spike_generation_fn = "ATan", max_spikes_per_dt = 1 }),
  nn.Linear({ H, 10 }, { has_bias = true }),
}
print(net)

local opt = lp.optim.Adam(net:parameters(), { lr = lr })
if opts["train-taus"] then
  local all = net:parameters()
  local taus = net:parameters("taus")
  opt = lp.optim.Adam({ { params = { ["1_Linear"] = all["1_Linear"], ["3_Linear"] = all["3_Linear"] } },
                        { params = taus, lr = 1e-2 } }, { lr = lr })
end
local schedule = lp.optim.schedule.cosine(opt, { T_max = epochs })
local last_epoch_time = 0
local hist = lp.train.fit {
  net = net,
  loss = function(out, y) return lp.loss.cross_entropy(out:mean(2), y) end,
  data = spike_loader(x_train, y_train, { batch_size = 128, shuffle = true, seed = 7 }),
  val_data = spike_loader(x_test, y_test, { batch_size = 500 }),
  epochs = epochs,
  optimizer = opt,
  schedule = schedule,
  metrics = { "accuracy" },
  on_epoch = function(e, s)
    print(("epoch %d: train loss %.4f acc %.2f%%  test loss %.4f acc %.2f%%  (%.1f s)")
      :format(e, s.train_loss, 100 * s.train_accuracy, s.val_loss, 100 * s.val_accuracy, s.time))
    last_epoch_time = s.time
    local elapsed = lp.clock() - t_start
    if budget and e < epochs and elapsed + last_epoch_time > budget then
      print(("stopping after epoch %d: another would end past the %g s budget"):format(e, budget))
      return false
    end
  end,
}
local acc = hist.val_accuracy[hist.epochs]

-- plots ---------------------------------------------------------------------------------
local curve_path = opts.out .. "/fashion_mnist_curve.png"
assert(lp.plot.curve({ ["train loss"] = hist.train_loss, ["test loss"] = hist.val_loss,
                       ["train accuracy"] = hist.train_accuracy, ["test accuracy"] = hist.val_accuracy },
  curve_path, { title = "Fashion-MNIST SNN training", xlabel = "epoch" }))
-- one test image: its input spikes (channels 1..784) and the hidden layer's (above them)
net:reset_state()
local inp = rate_code(x_test:slice(1, 1, 1))
local _, _, rec = lp.no_grad(function() return net(inp, true) end)
local hidden = rec["2_LIF"].spikes[1]
local raster_path = opts.out .. "/fashion_mnist_raster.png"
assert(lp.plot.raster(lp.cat({ inp[1], hidden }, 2), raster_path,
  { title = ("one test image: input 1-784, hidden 785-%d"):format(784 + H) }))
print(("wrote %s and %s"):format(curve_path, raster_path))
if opts["train-taus"] then
  local lif = net["2_LIF"]
  print(("trained time constants: tau_mem %.2f..%.2f ms, tau_syn %.2f..%.2f ms (from 20 and 5 ms)")
    :format(lif.tau_mem:min():item() * 1e3, lif.tau_mem:max():item() * 1e3,
            lif.tau_syn:min():item() * 1e3, lif.tau_syn:max():item() * 1e3))
end

print(("final test accuracy: %.2f%% on %d images after %d epochs; wall time %.1f s")
  :format(100 * acc, x_test.shape[1], hist.epochs, lp.clock() - t_start))
print(("result: test %.4f cpu_s %d"):format(acc, math.floor(os.clock() + 0.5)))   -- os.clock: CPU time, all threads
