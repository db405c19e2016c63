-- spec/data/nmnist_spec.lua -- lp.data.NMNIST and core.nmnist_decode on
-- small files in the 5-byte record format (spec/fixtures/data/nmnist, made by
-- make_fixtures.py), truncated and out-of-sensor records.
local lp = require "limpet"
local core = lp.core

local FX = "spec/fixtures/data/nmnist"

local function spit(p, s) local f = assert(io.open(p, "wb")); f:write(s); f:close() end
local function tmpdir()
  local d = os.tmpname(); os.remove(d); assert(os.execute("mkdir -p " .. d)); return d
end
local function rec(x, y, p, t)
  return string.char(x, y, (p << 7) | ((t >> 16) & 0x7F), (t >> 8) & 0xFF, t & 0xFF)
end

describe("core.nmnist_decode", function()
  it("decodes x, y, polarity and 23-bit microsecond times", function()
    local t, x, y, p = core.nmnist_decode(rec(7, 15, 1, 654) .. rec(33, 0, 0, 8388607))
    assert.equal("float64", t.dtype)
    assert.same({ 654e-6, 8388607e-6 }, t:totable())
    assert.same({ 8, 34 }, x:totable())
    assert.same({ 16, 1 }, y:totable())
    assert.same({ 2, 1 }, p:totable())
    assert.equal("int16", x.dtype)
    assert.equal("int8", p.dtype)
  end)

  it("drops overflow markers and shifts later times by 2^13 us", function()
    local t, x = core.nmnist_decode(rec(1, 2, 0, 100) .. string.char(0, 240, 0, 0, 0) .. rec(3, 4, 1, 50))
    assert.same({ 100e-6, (50 + 8192) * 1e-6 }, t:totable())
    assert.same({ 2, 4 }, x:totable())
  end)

  it("takes a uint8 tensor and an empty input", function()
    local bytes = lp.tensor({ 1, 2, 128, 0, 5 }, "uint8")
    local t, x, y, p = core.nmnist_decode(bytes)
    assert.same({ 5e-6 }, t:totable())
    assert.same({ 2 }, x:totable())
    assert.same({ 3 }, y:totable())
    assert.same({ 2 }, p:totable())
    local e = core.nmnist_decode("")
    assert.equal(0, e:numel())
  end)

  it("names the offset of a truncated record and of one outside the sensor", function()
    assert.has_error(function() core.nmnist_decode(rec(1, 1, 0, 1) .. "abc") end,
      "nmnist_decode: 'events' at offset 5: truncated event record (3 of 5 bytes)")
    assert.has_error(function() core.nmnist_decode(rec(1, 1, 0, 1) .. rec(34, 1, 0, 2), { width = 34, height = 34 }) end,
      "nmnist_decode: 'events' at offset 5: event (x 34, y 1) outside the 34x34 sensor")
    assert.has_error(function() core.nmnist_decode("", { widht = 3 }) end,
      "bad argument #2 to 'nmnist_decode' (unknown field 'widht')")
    assert.has_error(function() core.nmnist_decode({}) end,
      "bad argument #1 to 'nmnist_decode' (string or uint8 tensor expected, got table)")
  end)
end)

describe("lp.data.NMNIST", function()
  it("indexes Train/<digit>/*.bin by digit, then name, with labels digit + 1", function()
    local ds = assert(lp.data.NMNIST { root = FX })
    assert.equal(3, #ds)
    local s, label, meta = ds:get(1)
    assert.equal(1, label)
    assert.same({ index = 1, path = FX .. "/Train/0/00001.bin" }, meta)
    assert.same({ 654e-6, 2999e-6, 3017e-6, 3893e-6, 4023e-6 }, s.t:totable())
    assert.same({ 8, 20, 22, 11, 13 }, s.x:totable())
    assert.same({ 16, 19, 18, 19, 10 }, s.y:totable())
    assert.same({ 2, 1, 1, 1, 2 }, s.p:totable())
    assert.equal(FX .. "/Train/0/00002.bin", select(3, ds:get(2)).path)
    local s3, l3 = ds:get(3)
    assert.equal(4, l3)
    assert.same({ 100e-6, 8242e-6 }, s3.t:totable())
    local test = assert(lp.data.NMNIST { root = FX, split = "test" })
    assert.equal(1, #test)
    assert.equal(10, select(2, test:get(1)))
  end)

  it("keeps the first saccade only and applies the transform", function()
    local ds = assert(lp.data.NMNIST { root = FX, first_saccade_only = true,
      transform = function(s) s.n = s.t:numel(); return s end })
    local s = ds:get(2)
    assert.equal(2, s.n)
    assert.same({ 1, 34 }, s.x:totable())
  end)

  it("returns nil and how to get the data when the folder is missing", function()
    local ds, msg = lp.data.NMNIST { root = "/nonexistent" }
    assert.is_nil(ds)
    assert.equal("NMNIST: '/nonexistent/Train' not found; download N-MNIST's train.zip and test.zip " ..
      "(Orchard et al. 2015, https://www.garrickorchard.com/datasets/n-mnist) and unzip them in root = " ..
      "'/nonexistent' (Train/<digit>/<id>.bin, Test/...)", msg)
    assert.has_error(function() lp.data.NMNIST { root = FX, first_saccade_only = 1 } end,
      "bad argument #1 to 'NMNIST' (field 'first_saccade_only' must be a boolean, got number)")
  end)

  it("raises naming the file and offset of a damaged sample", function()
    local dir = tmpdir()
    os.execute("mkdir -p " .. dir .. "/Train/5")
    spit(dir .. "/Train/5/00001.bin", rec(1, 1, 0, 1) .. rec(2, 2, 1, 2) .. "\1\2")
    spit(dir .. "/Train/5/00002.bin", rec(1, 40, 0, 1))
    local ds = assert(lp.data.NMNIST { root = dir })
    assert.has_error(function() ds:get(1) end,
      ("NMNIST: '%s/Train/5/00001.bin' at offset 10: truncated event record (2 of 5 bytes)"):format(dir))
    assert.has_error(function() ds:get(2) end,
      ("NMNIST: '%s/Train/5/00002.bin' at offset 0: event (x 1, y 40) outside the 34x34 sensor"):format(dir))
    os.remove(dir .. "/Train/5/00002.bin")
    assert.has_error(function() ds:get(2) end,
      ("NMNIST: cannot open '%s/Train/5/00002.bin': No such file or directory"):format(dir))
    os.execute("rm -rf " .. dir)
  end)
end)
