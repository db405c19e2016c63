-- spec/data/augment_spec.lua -- lp.data.augment and the batched encoders:
-- exact results for fixed draws, reproducibility by (seed, key), per-sample
-- draws, shapes, gradients through the index ops, option errors.
local lp = require "limpet"
local A = lp.data.augment
local E = lp.data.encoders

describe("lp.data.augment", function()
  local x = lp.arange(0, 3 * 5 * 5):reshape({ 3, 5, 5 }):astype("float32")

  it("flips every sample with p = 1 and none with p = 0", function()
    assert.tensor_near(x:flip(3), A.flip { p = 1 }(x), 0)
    assert.tensor_near(x, A.flip { p = 0 }(x), 0)
  end)

  it("rotates a square image by 90 degrees as rot90 does, 0 degrees as identity", function()
    local r = A.rotate { degrees = { 90, 90 } }(x)
    for b = 1, 3 do assert.tensor_near(x[b]:flip(1):transpose(1, 2), r[b], 0) end
    assert.tensor_near(x, A.rotate { degrees = 0 }(x), 0)
    local four = lp.rand({ 2, 3, 6, 6 })
    assert.are.same({ 2, 3, 6, 6 }, A.rotate { degrees = 15, seed = 1 }(four).shape)
  end)

  it("shifts with zeros coming in, by at most max", function()
    local y = A.shift { max = 1, seed = 4 }(x)
    for b = 1, 3 do
      local found = false
      for dy = -1, 1 do
        for dx = -1, 1 do
          local want = lp.zeros({ 5, 5 })
          local ok = true
          local xt, yt = x[b]:totable(), y[b]:totable()
          for i = 1, 5 do
            for j = 1, 5 do
              local si, sj = i - dy, j - dx
              local v = (si >= 1 and si <= 5 and sj >= 1 and sj <= 5) and xt[si][sj] or 0
              if v ~= yt[i][j] then ok = false end
            end
          end
          found = found or ok
        end
      end
      assert.is_true(found, "sample " .. b)
    end
  end)

  it("draws per sample from (seed, key): reproducible, order-independent", function()
    local aug = A.compose { A.flip { seed = 9 }, A.shift { seed = 9 }, A.rotate { seed = 9 } }
    local big = lp.rand({ 8, 7, 7 })
    local all = aug(big, 11)
    assert.tensor_near(all, aug(big, 11), 0)
    -- sample 5 alone with key 15 is row 5 of the batch with key0 11
    assert.tensor_near(all[5], aug(big:slice(1, 5, 5), 15)[1], 0)
    local flips = A.flip { seed = 1 }(lp.rand({ 64, 3, 3 }))
    assert.are.same({ 64, 3, 3 }, flips.shape)
  end)

  it("passes gradients to the images #grad", function()
    local img = lp.rand({ 2, 4, 4 }, "float64")
    assert.is_true(lp.autograd.gradcheck(function(t) return A.shift { max = 1, seed = 3 }(A.flip { seed = 3 }(t)) end,
      { img }))
  end)

  it("refuses bad options and inputs", function()
    assert.has_error(function() A.flip { q = 1 } end, "bad argument #1 to 'flip' (unknown field 'q')")
    assert.has_error(function() A.flip { p = 2 } end, "bad argument #1 to 'flip' (field 'p' must be a number in [0, 1])")
    assert.has_error(function() A.shift { max = -1 } end,
      "bad argument #1 to 'shift' (field 'max' must be a non-negative integer)")
    assert.has_error(function() A.rotate { degrees = 200 } end,
      "bad argument #1 to 'rotate' (field 'degrees' must be a number in [0, 180] or a range {lo, hi})")
    assert.has_error(function() A.flip {}(lp.rand({ 5 })) end,
      "bad argument #1 to 'flip' (expected (B, H, W) or (B, C, H, W) images)")
  end)
end)

describe("batched encoders", function()
  local X = lp.rand({ 6, 4, 4 })

  it("give each row what the sample encoder gives it", function()
    local r = E.rate_batch { T = 12, seed = 3 }(X, 7)
    assert.are.same({ 6, 12, 16 }, r.shape)
    for b = 1, 6 do assert.tensor_near(E.rate { T = 12, seed = 3 }(X[b], 6 + b), r[b], 0) end
    local l = E.latency_batch { T = 20, tau = 4e-3 }(X)
    for b = 1, 6 do assert.tensor_near(E.latency { T = 20, tau = 4e-3 }(X[b]), l[b], 0) end
    local ll = E.latency_batch { T = 9, linear = true }(X)
    assert.tensor_near(E.latency { T = 9, linear = true }(X[3]), ll[3], 0)
    assert.tensor_near(X, E.sequential_batch {}(X), 0)
    local unseeded = E.rate_batch { T = 50 }(lp.ones({ 2, 3 }))
    assert.are.equal(300, unseeded:sum():item())
  end)

  it("refuse bad options and inputs", function()
    assert.has_error(function() E.rate_batch { T = 0 } end,
      "bad argument #1 to 'rate_batch' (field 'T' must be a positive integer)")
    assert.has_error(function() E.sequential_batch {}(lp.rand({ 2, 3 })) end,
      "bad argument #1 to 'sequential_batch' (expected (B, H, W) images, got 2 dims)")
  end)
end)
