-- examples/fashion_mnist_cnn.lua -- a spiking CNN on Fashion-MNIST:
-- Conv2d -> IF -> SumPool2d, twice, -> Linear readout, trained with BPTT
-- through the IF neurons (fast-sigmoid surrogate), scored on the test set,
-- and exported to NIR at the end (re-imported and checked).
-- Input: direct coding: the image's intensities drive the first
-- convolution at every step. The first convolution does not depend on time,
-- so it runs once per image and its output is repeated over the T steps
-- (a user module, below); everything after it runs over (B, T, C, H, W).
-- Neurons: nn.IF with dt = 1 (time in steps, as Sinabs): v <- v + x, a
-- spike and a reset to 0 above threshold 1. Loss: cross-entropy of the
-- readout summed over time.
-- Budget: no epoch starts that would end past --budget CPU-seconds (default
-- 1100); runs on --threads threads (default 1: on a CPU-time budget extra
-- threads only add overhead). --flip 1 mirrors training images left-right
-- with probability 1/2 (a fresh draw every batch).
-- Usage: limpet examples/fashion_mnist_cnn.lua [--quick] [--epochs N] [--steps T]
--          [--lr LR] [--budget CPU_SECONDS] [--threads N] [--flip 0|1] [--train N] [--test N]
--          [--out DIR] [--root DIR]
-- Ends with "result: test 0.xxxx cpu_s N" (cpu_s: lp.cpu_time(), the
-- process's CPU time, user + system, all threads, data loading and test
-- included). Arguments, data loading, the flip and the result line are
-- shared with fashion_mnist_snn.lua (examples/lib/fmnist.lua).
package.path = (arg and arg[0] and arg[0]:match("^(.*)/[^/]*$") or "examples") .. "/lib/?.lua;" .. package.path
local lp = require "limpet"
local nn = lp.nn
local F = require "fmnist"

local opts = F.args("fashion_mnist_cnn", { epochs = "int", steps = "int", lr = "number", budget = "number",
  threads = "int", flip = "string", train = "int", test = "int", out = "string", root = "string" })
local quick = opts.quick
local T = opts.steps or 4
local epochs = opts.epochs or (quick and 1 or 4)
local lr = opts.lr or 2e-3
local budget = opts.budget or 1100
local out_dir = opts.out or "."
local flip = opts.flip or "1"
if flip ~= "0" and flip ~= "1" then
  io.stderr:write("fashion_mnist_cnn: --flip takes 0 or 1, got '", flip, "'\n"); os.exit(2)
end
lp.config { threads = opts.threads or 1 }
local n_train = opts.train or (quick and 640 or nil)
local n_test = opts.test or (quick and 250 or nil)

local t_start = lp.clock()
lp.seed(2024)

-- images (N, 1, 1, 28, 28): T = 1, C = 1
local function load(split, n)
  local x, y = F.load("fashion_mnist_cnn", split, n, opts.root)
  return x:reshape(-1, 1, 1, 28, 28), y
end
local x_train, y_train = load("train", n_train)
local x_test, y_test = load("test", n_test)
print(("Fashion-MNIST: %d training and %d test images; %d steps per image")
  :format(x_train.shape[1], x_test.shape[1], T))
local function flipped(loader)
  return setmetatable({}, {
    __len = function() return #loader end,
    __index = { iter = function()
      local it = loader:iter()
      return function()
        local xb, yb = it()
        if xb then return F.flip(xb), yb end
      end
    end },
  })
end

-- The network: a user module (nn.Module subclass) around standard layers.
local SpikingCNN = nn.Module:extend("SpikingCNN")
function SpikingCNN:init(steps)
  nn.Module.init(self, nil)
  rawset(self, "steps", steps)
  local spk = { dt = 1, v_threshold = 1, surrogate = "FastSigmoid", surrogate_scale = 5 }
  self:submodule("conv1", nn.Conv2d(1, 16, 5, { padding = 2 }))
  self:submodule("if1", nn.IF({ 16, 28, 28 }, spk))
  self:submodule("pool1", nn.SumPool2d(2))
  self:submodule("conv2", nn.Conv2d(16, 32, 5, { padding = 2 }))
  self:submodule("if2", nn.IF({ 32, 14, 14 }, spk))
  self:submodule("pool2", nn.SumPool2d(2))
  self:submodule("flat", nn.Flatten())
  self:submodule("readout", nn.Linear({ 32 * 7 * 7, 10 }, { has_bias = true }))
end
function SpikingCNN:evolve(x, record)
  -- x (B, 1, 1, 28, 28): the first convolution once, repeated over time
  local c1 = self.conv1(x)
  local B = c1.shape[1]
  local drive = c1:expand({ B, self.steps, 16, 28, 28 })
  local s1 = self.if1(drive)
  local h = self.pool2(self.if2(self.conv2(self.pool1(s1))))
  local out = self.readout(self.flat(h))
  return out, {}, {}
end
local net = SpikingCNN(T)
print(net)

local opt = lp.optim.Adam(net:parameters(), { lr = lr })
local schedule = lp.optim.schedule.cosine(opt, { T_max = epochs })
local epoch_cpu0 = lp.cpu_time()
local train_data = lp.train.TensorLoader(x_train, y_train, { batch_size = 64, shuffle = true, seed = 7 })
local hist = lp.train.fit {
  net = net,                                   -- fit resets the IF states before each batch
  loss = function(out, y) return lp.loss.cross_entropy(out:sum(2), y) end,
  data = flip == "1" and flipped(train_data) or train_data,
  val_data = lp.train.TensorLoader(x_test, y_test, { batch_size = 250 }),
  epochs = epochs,
  optimizer = opt,
  schedule = schedule,
  metrics = { "accuracy" },
  on_epoch = function(e, s)
    print(("epoch %d: train loss %.4f acc %.2f%%  test loss %.4f acc %.2f%%  (%.1f s)")
      :format(e, s.train_loss, 100 * s.train_accuracy, s.val_loss, 100 * s.val_accuracy, s.time))
    local now = lp.cpu_time()
    local epoch_cpu = now - epoch_cpu0
    epoch_cpu0 = now
    return F.budget_check(budget, e, epochs, epoch_cpu)
  end,
}
local acc = hist.val_accuracy[hist.epochs]

-- export the trained layers after the first convolution to NIR and check them
local tail = nn.Sequential(nn.Conv2d(16, 32, 5, { padding = 2, weight = net.conv2.weight:detach(),
  bias = net.conv2.bias:detach() }), nn.IF({ 32, 14, 14 }, { dt = 1, v_threshold = 1 }), nn.SumPool2d(2),
  nn.Flatten(), nn.Linear({ 1568, 10 }, { weight = net.readout.weight:detach(), bias = net.readout.bias:detach() }))
local path = out_dir .. "/fashion_mnist_cnn_tail.nir"
assert(lp.nir.save(tail, path, { input_shape = { 16, 14, 14 } }))
local g = lp.nir.load(path)
local probe = lp.rand({ 2, T, 16, 14, 14 }):lt(0.2):astype("float32")
local d = (g(probe) - tail(probe)):abs():max():item()
print(("wrote %s (NIR %s): re-imported, max |diff| %.3g on a random spike input"):format(path, "1.0.8", d))

F.result(acc, x_test.shape[1], hist.epochs, t_start)
