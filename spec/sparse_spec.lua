-- spec/sparse_spec.lua -- the event-driven paths (core/src/sparse.c and the
-- fast LIF loops of core/src/neuron_kernels.h) agree with the dense ones to
-- float rounding, and give the same bits on 1 and 2 threads; lp.clock and
-- lp.peak_rss. Never asserts timings.
local lp = require "limpet"
local core = lp.core

local function maxdiff(a, b) return (a:astype("float64") - b:astype("float64")):abs():max():item() end
local function spikes(shape, p) return lp.rand(shape):lt(p):astype("float32") end
local function with_threads(n, f)
  local old = lp.config().threads
  lp.config { threads = n }
  local ok, a, b, c = pcall(f)
  lp.config { threads = old }
  assert(ok, a)
  return a, b, c
end

describe("event-driven matmul", function()
  before_each(function() lp.seed(7) end)

  it("row gathers of sparse spikes match the dense GEMM", function()
    local x = spikes({ 64, 300 }, 0.03)
    local W = lp.randn({ 300, 50 })
    local dense = lp.matmul(x, W:transpose(1, 2):contiguous():transpose(1, 2))   -- transposed b: always OpenBLAS
    local sparse = lp.matmul(x, W)
    assert.are.same({ 64, 50 }, sparse.shape)
    assert.is_true(maxdiff(dense, sparse) < 1e-4)
  end)

  it("handles counts and batch dims, float64 too", function()
    local x = (spikes({ 4, 20, 90 }, 0.05) * 3):astype("float64")
    local W = lp.randn({ 90, 33 }):astype("float64")
    local ref = lp.matmul(x, W:transpose(1, 2):contiguous():transpose(1, 2))
    local got = lp.matmul(x, W)
    assert.are.same({ 4, 20, 33 }, got.shape)
    assert.is_true(maxdiff(ref, got) < 1e-12)
  end)

  it("scatter-adds (x^T . g) match the dense GEMM", function()
    local x = spikes({ 200, 70 }, 0.04)
    local g = lp.randn({ 200, 40 })
    local ref = lp.matmul(g:transpose(1, 2), x):transpose(1, 2)                 -- dense left operand: OpenBLAS
    local got = lp.matmul(x:transpose(1, 2), g)
    assert.is_true(maxdiff(ref, got) < 1e-4)
  end)

  it("dense inputs above the density threshold give the same products", function()
    local x = spikes({ 50, 40 }, 0.5)
    local W = lp.randn({ 40, 30 })
    assert.is_true(maxdiff(lp.matmul(x, W), lp.matmul(x, W:transpose(1, 2):contiguous():transpose(1, 2))) < 1e-4)
  end)

  it("gives the same bits on 1 and 2 threads, forward and weight gradient", function()
    local x = spikes({ 8, 25, 120 }, 0.02)
    local W0 = lp.randn({ 120, 130 })
    local function run()
      local W = W0:clone():requires_grad(true)
      local y = lp.matmul(x, W)
      ;(y * y):sum():backward()
      return y, W.grad
    end
    local y1, g1 = with_threads(1, run)
    local y2, g2 = with_threads(2, run)
    assert.are.equal(0, maxdiff(y1, y2))
    assert.are.equal(0, maxdiff(g1, g2))
  end)

  it("gives the same bits on 1, 2 and 3 threads when the index transpose is threaded", function()
    -- W1-sized: ~45,000 events, above the size where the transpose of the
    -- input index is split between threads
    local x = spikes({ 32, 100, 700 }, 0.02)
    local gy = lp.randn({ 32, 100, 64 })
    local W0 = lp.randn({ 700, 64 })
    local function run()
      local W = W0:clone():requires_grad(true)
      ;(lp.matmul(x, W) * gy):sum():backward()
      return W.grad
    end
    local g1 = with_threads(1, run)
    local g2 = with_threads(2, run)
    local g3 = with_threads(3, run)
    assert.are.equal(0, maxdiff(g1, g2))
    assert.are.equal(0, maxdiff(g1, g3))
    local ref = lp.matmul(gy:reshape({ 3200, 64 }):transpose(1, 2), x:reshape({ 3200, 700 })):transpose(1, 2)
    assert.is_true(maxdiff(ref, g1) < 1e-3)
  end)

  it("the weight gradient of a batched product matches the dense formula", function()
    local x = spikes({ 6, 10, 50 }, 0.05)
    local W = lp.randn({ 50, 20 }):requires_grad(true)
    local y = lp.matmul(x, W)
    local gy = lp.randn({ 6, 10, 20 })
    ;(y * gy):sum():backward()
    local ref = lp.matmul(gy:reshape({ 60, 20 }):transpose(1, 2), x:reshape({ 60, 50 })):transpose(1, 2)
    assert.is_true(maxdiff(ref, W.grad) < 1e-4)
  end)
end)

describe("fast LIF loops", function()
  before_each(function() lp.seed(11) end)

  -- k = 1 takes the fast loops; k = 2 with a silent second synapse the
  -- general ones; both compute the same network.
  local function lif_pair(B, T, N, rec)
    local x = lp.randn({ B, T, N }) * 0.6
    local wrec = rec and lp.randn({ N, N }) * 0.05 or nil
    local alpha = lp.rand({ N }) * 0.2 + 0.75
    local beta = lp.rand({ N }) * 0.3 + 0.6
    local bias, th = lp.randn({ N }) * 0.05, lp.rand({ N }) * 0.5 + 0.75
    local function fast()
      local xg = x:clone():requires_grad(true)
      local w = wrec and wrec:clone():requires_grad(true)
      local a, b = alpha:clone():requires_grad(true), beta:clone():requires_grad(true)
      local s, r = core.lif(xg, { alpha = a, beta = b, bias = bias, threshold = th, w_rec = w, record = true })
      ;((s * 0.7):sum() + (r.vmem * r.vmem):sum() * 0.1):backward()
      return { s, r.vmem, xg.grad, a.grad, b.grad, w and w.grad }
    end
    local function general()
      local x2 = lp.cat({ x:unsqueeze(4), lp.zeros({ B, T, N, 1 }) }, 4):reshape({ B, T, 2 * N })
      local xg = x2:requires_grad(true)
      local w
      if wrec then
        w = lp.cat({ wrec:unsqueeze(3), lp.zeros({ N, N, 1 }) }, 3):reshape({ N, 2 * N }):requires_grad(true)
      end
      local b2 = lp.cat({ beta:unsqueeze(2), beta:unsqueeze(2) }, 2)
      local a, b = alpha:clone():requires_grad(true), b2:requires_grad(true)
      local s, r = core.lif(xg, { alpha = a, beta = b, bias = bias, threshold = th, w_rec = w, record = true })
      ;((s * 0.7):sum() + (r.vmem * r.vmem):sum() * 0.1):backward()
      local gx = xg.grad:reshape({ B, T, N, 2 }):slice(4, 1, 1):squeeze(4)
      local gw = w and w.grad:reshape({ N, N, 2 }):slice(3, 1, 1):squeeze(3)
      return { s, r.vmem, gx, a.grad, b.grad:slice(2, 1, 1):squeeze(2), gw }
    end
    return fast, general
  end

  for _, rec in ipairs { false, true } do
    it(("match the general loops%s, values and gradients"):format(rec and " with w_rec" or ""), function()
      local fast, general = lif_pair(3, 40, 17, rec)
      local a, b = fast(), general()
      assert.is_true(a[1]:sum():item() > 0, "some spikes")
      for i = 1, 6 do
        if a[i] then
          local scale = 1 + b[i]:abs():max():item()
          assert.is_true(maxdiff(a[i], b[i]) < 1e-5 * scale, "output " .. i .. ": " .. maxdiff(a[i], b[i]))
        end
      end
    end)
  end

  it("give the same bits on 1 and 2 threads", function()
    local fast = lif_pair(4, 30, 33, true)
    local a = with_threads(1, fast)
    local b = with_threads(2, fast)
    for i = 1, 6 do assert.are.equal(0, maxdiff(a[i], b[i])) end
  end)
end)

describe("lp.clock, lp.cpu_time and lp.peak_rss", function()
  it("clock is monotonic wall seconds", function()
    local t0 = lp.clock()
    assert.are.equal("number", type(t0))
    assert.is_true(lp.clock() >= t0)
  end)
  it("cpu_time is the process's CPU seconds and grows with work", function()
    local c0 = lp.cpu_time()
    assert.are.equal("number", type(c0))
    assert.is_true(c0 > 0)
    local s = 0
    for i = 1, 3e6 do s = s + i % 7 end
    assert.is_true(s > 0)
    assert.is_true(lp.cpu_time() > c0)
  end)
  it("peak_rss is a positive byte count", function()
    local r = lp.peak_rss()
    assert.are.equal("integer", math.type(r))
    assert.is_true(r > 1024 * 1024)
  end)
end)
