-- examples/lib/fmnist_rows.lua -- the 8-class temporal Fashion-MNIST task of
-- the hardware-aware training examples (xylo_qat, adversarial, wavesense).
-- Owns: building the task from Debian's Fashion-MNIST: the classes with Lua
-- labels 1..8 (file labels 0..7); each image read row by row, one row per
-- time step (28 steps); column c (1..28) feeds channel floor((c-1)·16/28)+1;
-- the pixel values (in [0, 1]) of a channel's columns are summed and scaled
-- so that a channel whose columns are all white gives 15 events, Xylo's
-- input limit: events = round(15 · sum / ncols(channel)). All 8,000 test
-- images of those classes; the training images of those classes (48,000).
-- Also: a TensorLoader factory and the accuracy of (B, T, C) outputs.
local lp = require "limpet"

local M = { T = 28, channels = 16, classes = 8 }

-- (28, 16) column -> channel matrix, each channel's columns weighted 1/ncols
local function column_map()
  local ncols = {}
  for c = 1, 28 do
    local ch = (c - 1) * 16 // 28 + 1
    ncols[ch] = (ncols[ch] or 0) + 1
  end
  local m = lp.zeros(28, 16)
  for c = 1, 28 do
    local ch = (c - 1) * 16 // 28 + 1
    m:set(c, ch, 1 / ncols[ch])
  end
  return m
end

--- M.load(split[, n, root]) -> events (N, 28, 16) float32 (integers 0..15), labels (N) int64 1..8
-- n: keep the first n samples of the 8 classes (nil: all). Returns nil, msg
-- when the data set is not installed.
function M.load(split, n, root)
  local ds, err = lp.data.FashionMNIST { split = split, root = root }
  if not ds then return nil, err end
  local x, y = ds:tensors()                       -- (N, 28, 28), labels 1..10
  local keep = {}
  local yl = y:totable()
  for i = 1, #yl do
    if yl[i] <= 8 then
      keep[#keep + 1] = i
      if n and #keep >= n then break end
    end
  end
  local idx = lp.tensor(keep, "int64")
  local xs = lp.core._events.take(x:reshape(-1, 28 * 28), idx - 1):reshape(-1, 28, 28)
  local ys = lp.core._events.take(y, idx - 1)
  local ev = lp.round(lp.matmul(xs, column_map()) * 15):clamp(0, 15)
  return ev:contiguous(), ys:contiguous()
end

--- M.accuracy(out (B, T, C), labels) -> fraction: argmax over C of the sum over time
function M.accuracy(out, y)
  local pred = out:astype("float64"):sum(2):argmax(2):reshape(-1)
  return pred:eq(y:astype(pred.dtype)):astype("float64"):mean():item()
end

--- M.evaluate(fn, x, y[, batch = 500]) -> accuracy, with fn(x_batch) -> (B, T, C)
function M.evaluate(fn, x, y, batch)
  batch = batch or 500
  local n, correct = x.shape[1], 0
  for i = 1, n, batch do
    local j = math.min(n, i + batch - 1)
    local out = fn(x:slice(1, i, j))
    local pred = out:astype("float64"):sum(2):argmax(2):reshape(-1)
    correct = correct + pred:eq(y:slice(1, i, j):astype(pred.dtype)):astype("int64"):sum():item()
  end
  return correct / n
end

return M
