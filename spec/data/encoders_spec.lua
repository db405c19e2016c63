-- spec/data/encoders_spec.lua -- lp.data.encoders: rate (statistics,
-- reproducibility with and without a seed), latency (exact steps), sequential.
local lp = require "limpet"
local enc = lp.data.encoders

describe("lp.data.encoders.rate", function()
  it("spikes with probability x * max_rate * dt per step", function()
    local x = lp.tensor({ 0, 0.25, 0.5, 1 })
    local s = enc.rate { T = 4000, max_rate = 500, dt = 1e-3, seed = 7 }(x, 1)
    assert.same({ 4000, 4 }, s.shape)
    assert.equal("float32", s.dtype)
    local m = s:mean(1):totable()
    assert.equal(0, m[1])
    assert.near(0.125, m[2], 0.02)
    assert.near(0.25, m[3], 0.02)
    assert.near(0.5, m[4], 0.03)
    assert.same({ 0, 1 }, { s:min():item(), s:max():item() })
  end)

  it("repeats a sample's spikes for the same seed and key, and only then", function()
    local x = lp.rand(28, 28)
    local e = enc.rate { T = 20, seed = 3 }
    local a, b, c = e(x, 5), e(x, 5), e(x, 6)
    assert.same({ 20, 784 }, a.shape)
    assert.same(a:totable(), b:totable())
    assert.are_not.same(a:totable(), c:totable())
    local d = enc.rate { T = 20, seed = 4 }(x, 5)
    assert.are_not.same(a:totable(), d:totable())
    assert.same(a:totable(), enc.rate { T = 20, seed = 3 }(x, 5):totable())
  end)

  it("draws from limpet's stream without a seed", function()
    local x = lp.full({ 10 }, 0.5)
    local e = enc.rate { T = 50 }
    lp.seed(11); local a = e(x)
    lp.seed(11); local b = e(x)
    local c = e(x)
    assert.same(a:totable(), b:totable())
    assert.are_not.same(a:totable(), c:totable())
    assert.near(0.5, a:mean():item(), 0.15)
  end)

  it("rejects bad options by name", function()
    assert.has_error(function() enc.rate { T = 0 } end, "bad argument #1 to 'rate' (field 'T' must be a positive integer)")
    assert.has_error(function() enc.rate { t = 10 } end, "bad argument #1 to 'rate' (unknown field 't')")
    assert.has_error(function() enc.rate { max_rate = -1 } end,
      "bad argument #1 to 'rate' (field 'max_rate' must be a positive number)")
    assert.has_error(function() enc.rate { seed = 1.5 } end, "bad argument #1 to 'rate' (field 'seed' must be an integer)")
  end)
end)

describe("lp.data.encoders.latency", function()
  it("puts one spike per element, brighter earlier (linear)", function()
    local x = lp.tensor({ 1, 0.5, 0, 0.005, 0.75 })
    local s = enc.latency { T = 5, linear = true }(x)
    assert.same({ 5, 5 }, s.shape)
    assert.same({
      { 1, 0, 0, 0, 0 },
      { 0, 0, 0, 0, 1 },
      { 0, 1, 0, 0, 0 },
      { 0, 0, 0, 0, 0 },
      { 0, 0, 0, 0, 0 },
    }, s:totable())
  end)

  it("follows the RC time to threshold and drops late spikes", function()
    local x = lp.tensor({ 1, 0.5, 0.02, 0.011, 0.001 })
    local tau, thr, dt = 5e-3, 0.01, 1e-3
    local s = enc.latency { T = 10, tau = tau, threshold = thr, dt = dt }(x)
    local want = {}
    for k, v in ipairs { 1, 0.5, 0.02, 0.011 } do
      local step = math.floor(tau / dt * math.log(v / (v - thr))) + 1
      if step <= 10 then want[k] = step end
    end
    local sums = s:sum(1):totable()
    local cols = s:transpose(1, 2):totable()
    for k = 1, 5 do
      if want[k] then
        assert.equal(1, sums[k])
        assert.equal(1, cols[k][want[k]])
      else
        assert.equal(0, sums[k])
      end
    end
    assert.equal(1, want[1])
    assert.is_nil(want[4])      -- ln(11) * 5 > 10 steps
  end)
end)

describe("lp.data.encoders.sequential", function()
  it("turns an (H, W) image into H steps of W channels", function()
    local img = lp.rand(28, 28)
    local s = enc.sequential()(img)
    assert.same({ 28, 28 }, s.shape)
    assert.tensor_near(img, s)
    assert.has_error(function() enc.sequential()(lp.rand(784)) end,
      "bad argument #1 to 'sequential' (expected an (H, W) image, got 1 dims)")
  end)

  it("encodes Fashion-MNIST samples through the encoder option", function()
    local ds = assert(lp.data.FashionMNIST { root = "spec/fixtures/data/fmnist",
      encoder = enc.rate { T = 10, seed = 1 } })
    local a = ds:get(2)                     -- an all-white image: every step spikes
    assert.same({ 10, 784 }, a.shape)
    assert.equal(7840, a:sum():item())
    assert.equal(0, ds:get(3):sum():item())
  end)
end)
