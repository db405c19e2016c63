-- examples/demo.lua -- the end-to-end demo run by `make demo`.
-- Today: loads real Fashion-MNIST images from Debian's dataset package,
-- turns them into spike trains (rate coding), pushes them through a random
-- spiking layer written with tensor ops, scores a nearest-class-mean readout
-- on held-out images, and saves the result as .npz that NumPy can read.
-- Usage: limpet examples/demo.lua [--quick]
local lp = require "limpet"

local quick = false
for _, a in ipairs(arg or {}) do if a == "--quick" then quick = true end end

-- images (n, 784) float32 in [0, 1] and labels 1..10 of the first n images
-- of a split, read by lp.data's Fashion-MNIST reader
local function load_split(split, n)
  local ds, err = lp.data.FashionMNIST { split = split }
  if not ds then
    io.stderr:write("demo: ", err, "\n")
    os.exit(1)
  end
  local images, labels = ds:tensors()
  n = math.min(n, #ds)
  return images:slice(1, 1, n):reshape(n, 784), labels:slice(1, 1, n), #ds
end

local n_train, n_test = quick and 500 or 5000, quick and 200 or 2000
local x_train, y_train, total_train = load_split("train", n_train)
local x_test, y_test, total_test = load_split("test", n_test)
print(("Fashion-MNIST: %d train / %d test images of 28x28 from Debian's package; using %d / %d")
  :format(total_train, total_test, n_train, n_test))

-- rate coding: T steps of Bernoulli spikes with probability = intensity,
-- through one random layer of leaky integrate-and-fire neurons (tensor ops)
lp.seed(1)
local T, N, D = quick and 20 or 40, 256, 784
local W = lp.randn(D, N) * (4 / math.sqrt(D))
local alpha = math.exp(-1e-3 / 20e-3)          -- dt = 1 ms, tau_mem = 20 ms

local function spike_counts_batch(x)
  local B = x.shape[1]
  local spikes = lp.bernoulli(x:unsqueeze(2):expand(B, T, D):contiguous())   -- (B, T, 784)
  local current = lp.matmul(spikes, W)                                       -- (B, T, N)
  local v, counts = lp.zeros(B, N), lp.zeros(B, N)
  for t = 1, T do
    v = v * alpha + current:slice(2, t, t):squeeze(2)
    local s = v:ge(1.0)
    v = lp.where(s, v - 1.0, v)                  -- subtractive reset
    counts = counts + s
  end
  return counts, spikes:sum():item()
end

local function spike_counts(x)                 -- in batches of 250 images
  local parts, nspikes, n = {}, 0, x.shape[1]
  for i = 1, n, 250 do
    local c, k = spike_counts_batch(x:slice(1, i, math.min(i + 249, n)))
    parts[#parts + 1], nspikes = c, nspikes + k
  end
  return lp.cat(parts, 1), nspikes / (n * T * D)
end

local c_train, rate = spike_counts(x_train)
local c_test = spike_counts(x_test)
print(("input spike rate %.4f; hidden spikes per neuron %.3f over %d steps"):format(rate, c_train:mean():item(), T))

-- nearest-class-mean readout trained on the train counts, scored on held-out test counts
local means = {}
for c = 1, 10 do
  local rows = c_train[y_train:eq(c)]
  means[c] = rows:numel() > 0 and rows:mean(1) or lp.full({ N }, math.huge)
end
local M = lp.stack(means)                                                     -- (10, N)
local d2 = ((c_test:unsqueeze(2) - M:unsqueeze(1)) ^ 2):sum(3)                -- (n_test, 10)
local pred = d2:argmin(2)
local acc = pred:eq(y_test):astype("float64"):mean():item()
print(("held-out accuracy of a nearest-class-mean readout on spike counts: %.1f%% (chance 10%%)"):format(100 * acc))

local path = os.tmpname() .. ".npz"
assert(lp.save(path, { counts = c_test, labels = y_test - 1 }))
local back = assert(lp.load(path))
print(("saved the test spike counts to %s (readable by numpy.load) and read back %s"):format(path, tostring(back.counts)))
os.remove(path)
