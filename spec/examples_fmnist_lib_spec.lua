-- spec/examples_fmnist_lib_spec.lua -- examples/lib/fmnist.lua's batch
-- augmentations: shift (against a plain per-pixel reference) and flip; the
-- label-smoothed cross-entropy; the epoch plan; the mapped loader.
local lp = require "limpet"
package.path = "examples/lib/?.lua;" .. package.path
local F = require "fmnist"

-- reference: out[b, i, j] = x[b, i - dy, j - dx] inside, 0 outside, for the
-- shift that maps x to y (found by trying every (dy, dx) in -m..m)
local function shifted(x, b, dy, dx)
  local H, W = x.shape[2], x.shape[3]
  local out = {}
  for i = 1, H do
    for j = 1, W do
      local si, sj = i - dy, j - dx
      out[#out + 1] = (si >= 1 and si <= H and sj >= 1 and sj <= W) and x:get(b, si, sj) or 0
    end
  end
  return out
end
local function equal(a, b)
  for k = 1, #a do if a[k] ~= b[k] then return false end end
  return true
end

describe("examples/lib/fmnist.lua shift", function()
  it("moves each image by its own (dy, dx) in -max..max, zeros coming in", function()
    lp.seed(3)
    local B, H, W, m = 64, 6, 7, 2
    local x = (lp.arange(1, B * H * W + 1)):astype("float32"):reshape(B, H, W)
    local y = F.shift(x, m)
    assert.same({ B, H, W }, y.shape)
    local seen = {}
    for b = 1, B do
      local got = y[b]:reshape(-1):totable()
      local found
      for dy = -m, m do
        for dx = -m, m do
          if not found and equal(shifted(x, b, dy, dx), got) then found = dy .. "," .. dx end
        end
      end
      assert.is_truthy(found, "sample " .. b .. " is no shift of its input")
      seen[found] = true
    end
    local n = 0
    for _ in pairs(seen) do n = n + 1 end
    assert.is_true(n >= 10, "only " .. n .. " distinct shifts in 64 samples")   -- 25 possible
  end)
  it("is reproducible under lp.seed and the identity for max = 0", function()
    local x = lp.rand(8, 28, 28)
    lp.seed(11); local a = F.shift(x, 1)
    lp.seed(11); local b = F.shift(x, 1)
    assert.is_true(a:eq(b):all():item())
    assert.is_true(F.shift(x, 0):eq(x):all():item())
  end)
  it("refuses a bad max or a non-image argument, naming it", function()
    local x = lp.rand(2, 5, 5)
    assert.has_error(function() F.shift(x, -1) end,
      "bad argument #2 to 'shift' (max must be a non-negative integer, got -1)")
    assert.has_error(function() F.shift(x, 1.5) end,
      "bad argument #2 to 'shift' (max must be a non-negative integer, got 1.5)")
    assert.has_error(function() F.shift(lp.rand(5, 5), 1) end, "bad argument #1 to 'shift' (expected (B, H, W) images)")
  end)
end)

describe("examples/lib/fmnist.lua move", function()
  it("moves every image by the same (dy, dx), zeros coming in", function()
    local B, H, W = 3, 5, 6
    local x = (lp.arange(1, B * H * W + 1)):astype("float32"):reshape(B, H, W)
    for _, d in ipairs { { 0, 0 }, { 1, 0 }, { -1, 0 }, { 0, 1 }, { 0, -1 }, { 2, -3 } } do
      local y = F.move(x, d[1], d[2])
      assert.same({ B, H, W }, y.shape)
      for b = 1, B do
        assert.is_true(equal(shifted(x, b, d[1], d[2]), y[b]:reshape(-1):totable()), d[1] .. "," .. d[2])
      end
    end
  end)
  it("refuses non-integer offsets or a non-image argument, naming them", function()
    local x = lp.rand(2, 5, 5)
    assert.has_error(function() F.move(x, 0.5, 0) end, "bad argument #2 to 'move' (dy must be an integer, got 0.5)")
    assert.has_error(function() F.move(x, 0, nil) end, "bad argument #3 to 'move' (dx must be an integer, got nil)")
    assert.has_error(function() F.move(lp.rand(5, 5), 1, 0) end, "bad argument #1 to 'move' (expected (B, H, W) images)")
  end)
end)

describe("examples/lib/fmnist.lua smoothed_ce", function()
  it("is the cross-entropy against the smoothed target (1 - s + s/10 on the label, s/10 elsewhere)", function()
    local logits, y = lp.randn({ 4, 10 }, "float64"), lp.tensor({ 1, 5, 10, 3 }, "int64")
    assert.tensor_near(lp.loss.cross_entropy(logits, y), F.smoothed_ce(logits, y, 0), 0)
    local s = 0.1
    local logp = lp.loss.log_softmax(logits, 2)
    local want = 0
    for b = 1, 4 do
      for c = 1, 10 do
        local t = (c == y:get(b) and 1 - s or 0) + s / 10
        want = want - t * logp:get(b, c)
      end
    end
    assert.is_true(math.abs(F.smoothed_ce(logits, y, s):item() - want / 4) < 1e-12)
  end)
end)

describe("examples/lib/fmnist.lua plan", function()
  it("fits the epochs to the CPU budget by the slowest epoch so far, or keeps a fixed count", function()
    local now = lp.cpu_time()
    local p = F.plan(now + 10.05, nil, 7)
    assert.are.equal(7, p.epochs)                    -- the guess until an epoch is measured
    assert.is_nil(p.after_epoch(1, 2))               -- floor(~10 / 2.06) = 4 more: 5 planned
    assert.are.equal(5, p.epochs)
    p = F.plan(lp.cpu_time() + 1, nil, 7)
    assert.is_false(p.after_epoch(3, 2))             -- nothing more fits: stop, plan ends here
    assert.are.equal(3, p.epochs)
    local fixed = F.plan(lp.cpu_time() + 1000, 4, 9)
    assert.are.same({ 4, 4 }, { fixed.epochs, fixed.cap })
    assert.is_nil(fixed.after_epoch(2, 1))
    assert.are.equal(4, fixed.epochs)
  end)
end)

describe("examples/lib/fmnist.lua map_loader", function()
  it("maps each batch, keeps the length, and reports each pass's CPU time at its end", function()
    local x = lp.arange(1, 11):astype("float32"):reshape(10, 1)
    local y = lp.arange(1, 11)
    local inner = lp.train.TensorLoader(x, y, { batch_size = 4 })
    local ends = {}
    local m = F.map_loader(inner, function(xb, yb) return xb * 2, yb end, function(cpu_s) ends[#ends + 1] = cpu_s end)
    assert.are.equal(#inner, #m)
    for pass = 1, 2 do
      local seen = {}
      for xb, yb in m:iter() do
        for i = 1, xb.shape[1] do
          assert.are.equal(2 * yb:get(i), xb:get(i, 1))
          seen[#seen + 1] = yb:get(i)
        end
      end
      assert.are.same({ 1, 2, 3, 4, 5, 6, 7, 8, 9, 10 }, seen)
      assert.are.equal(pass, #ends)
      assert.is_true(ends[pass] >= 0)
    end
    -- f nil: the batches unchanged, no end hook needed
    local n = 0
    for xb in F.map_loader(inner):iter() do n = n + xb.shape[1] end
    assert.are.equal(10, n)
  end)
end)
