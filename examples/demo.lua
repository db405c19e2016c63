-- examples/demo.lua -- the end-to-end demo run by `make demo`.
-- Today: loads real Fashion-MNIST images from Debian's dataset package,
-- turns them into spike trains (rate coding), pushes them through a random
-- spiking layer written with tensor ops, and saves the result as .npz that
-- NumPy can read. Later issues grow this into train-and-deploy.
-- Usage: limpet examples/demo.lua [--quick]
local lp = require "limpet"

local quick = false
for _, a in ipairs(arg or {}) do if a == "--quick" then quick = true end end

local function read_idx_gz(path)
  -- IDX files are gzip'd; limpet reads them through gzip -dc so the demo
  -- needs nothing beyond the Debian package (the data-set issue adds a
  -- native reader).
  local f = io.popen("gzip -dc " .. path, "r")
  if not f then return nil, "cannot run gzip on " .. path end
  local data = f:read("a")
  f:close()
  return data
end

local root = "/usr/share/datasets/fashion-mnist/"
local raw, err = read_idx_gz(root .. "t10k-images-idx3-ubyte.gz")
if not raw or #raw < 16 then
  io.stderr:write("demo: cannot read Fashion-MNIST (", tostring(err), "); install dataset-fashion-mnist\n")
  os.exit(1)
end
local labels_raw = assert(read_idx_gz(root .. "t10k-labels-idx1-ubyte.gz"))
local n_total = string.unpack(">I4", raw, 5)
local rows, cols = string.unpack(">I4", raw, 9), string.unpack(">I4", raw, 13)
local n = quick and 64 or 1000
print(("Fashion-MNIST test set: %d images of %dx%d; using %d"):format(n_total, rows, cols, n))

-- images -> (n, 784) float32 in [0, 1]
local pixels = {}
for i = 1, n do
  local row = { raw:byte(16 + (i - 1) * rows * cols + 1, 16 + i * rows * cols) }
  pixels[i] = row
end
local x = lp.tensor(pixels, "float32") / 255
local labels = lp.tensor({ labels_raw:byte(9, 8 + n) }, "int64") + 1    -- classes 1..10
print("images:", x, "mean intensity", ("%.4f"):format(x:mean():item()))

-- rate coding: T steps of Bernoulli spikes with probability = intensity
lp.seed(1)
local T, N = quick and 20 or 50, 128
local spikes = lp.bernoulli(x:unsqueeze(2):expand(n, T, rows * cols):contiguous())   -- (B, T, 784)
print("input spikes:", spikes, ("rate %.4f"):format(spikes:mean():item()))

-- one random spiking layer: leaky integrate-and-fire written with tensor ops
local W = lp.randn(rows * cols, N) * (1.0 / math.sqrt(rows * cols)) * 4
local alpha, v = math.exp(-1e-3 / 20e-3), lp.zeros(n, N)
local out = {}
for t = 1, T do
  local i_t = lp.matmul(spikes:slice(2, t, t):squeeze(2), W)       -- (B, N)
  v = v * alpha + i_t
  local s = v:ge(1.0)
  v = lp.where(s, v - 1.0, v)
  out[t] = s:astype("float32")
end
local counts = lp.stack(out, 2):sum(2)                              -- (B, N) spike counts
print("hidden spike counts:", counts, ("mean %.3f per neuron"):format(counts:mean():item()))

-- a nearest-class-mean readout on the spike counts, as a sanity figure
local correct = 0
local means = {}
for c = 1, 10 do
  local m = labels:eq(c)
  if m:sum():item() > 0 then means[c] = counts[m:unsqueeze(2):expand(n, N)]:reshape(-1, N):mean(1) end
end
for i = 1, n do
  local best, bc = math.huge, 0
  for c = 1, 10 do
    if means[c] then
      local d = ((counts[i] - means[c]) ^ 2):sum():item()
      if d < best then best, bc = d, c end
    end
  end
  if bc == labels[i] then correct = correct + 1 end
end
print(("nearest-class-mean accuracy on the same %d images (not a held-out figure): %.1f%%"):format(n, 100 * correct / n))

local path = os.tmpname() .. ".npz"
assert(lp.save(path, { counts = counts, labels = labels - 1 }))
local back = assert(lp.load(path))
print("saved", path, "and read back counts", back.counts)
os.remove(path)
