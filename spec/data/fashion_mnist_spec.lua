-- spec/data/fashion_mnist_spec.lua -- lp.data.FashionMNIST on small gzip'd
-- IDX fixtures (spec/fixtures/data/fmnist, made by make_fixtures.py), on
-- damaged copies of them, and on Debian's dataset-fashion-mnist files.
local lp = require "limpet"

local FX = "spec/fixtures/data/fmnist"
local DEB = "/usr/share/datasets/fashion-mnist"

local function slurp(p) local f = assert(io.open(p, "rb")); local s = f:read("a"); f:close(); return s end
local function spit(p, s) local f = assert(io.open(p, "wb")); f:write(s); f:close() end
local function tmpdir()
  local d = os.tmpname(); os.remove(d); assert(os.execute("mkdir -p " .. d)); return d
end

describe("lp.data.FashionMNIST", function()
  it("reads images as (28, 28) float32 in [0, 1] and labels 1..10", function()
    local ds = assert(lp.data.FashionMNIST { root = FX })
    assert.equal(4, #ds)
    local img, label, meta = ds:get(1)
    assert.same({ 28, 28 }, img.shape)
    assert.equal("float32", img.dtype)
    assert.equal(10, label)                      -- stored 9: Ankle boot
    assert.same({ index = 1, class_name = "Ankle boot" }, meta)
    assert.near(5 / 255, img:get(1, 6), 1e-7)   -- pixel k holds k mod 256
    assert.near(255 / 255, img:get(10, 4), 1e-7) -- k = 255
    local labels = {}
    for i = 1, #ds do labels[i] = select(2, ds:get(i)) end
    assert.same({ 10, 1, 4, 6 }, labels)
    assert.equal(1, ds:get(2):min():item())
    assert.equal(0, ds:get(3):max():item())
    assert.same({ 10, 1, 4, 6 }, ds.labels:totable())
  end)

  it("reads the test split and uint8 samples", function()
    local ds = assert(lp.data.FashionMNIST { root = FX, split = "test", dtype = "uint8" })
    assert.equal(2, #ds)
    local img = ds:get(2)
    assert.equal("uint8", img.dtype)
    assert.equal(255, img:min():item())
  end)

  it("applies the encoder, then the transform", function()
    local seen = {}
    local ds = assert(lp.data.FashionMNIST {
      root = FX,
      encoder = function(img, i) seen[#seen + 1] = i; return img:reshape(-1) end,
      transform = function(s) return s * 2 end,
    })
    local s = ds:get(2)
    assert.same({ 784 }, s.shape)
    assert.equal(2, s:max():item())
    assert.same({ 2 }, seen)
  end)

  it("gives all images at once", function()
    local ds = assert(lp.data.FashionMNIST { root = FX })
    local x, y = ds:tensors()
    assert.same({ 4, 28, 28 }, x.shape)
    assert.equal("int64", y.dtype)
  end)

  it("returns nil and how to get the files when they are missing", function()
    local ds, msg = lp.data.FashionMNIST { root = "/nonexistent" }
    assert.is_nil(ds)
    assert.equal("FashionMNIST: '/nonexistent/train-images-idx3-ubyte.gz' not found; install Debian's " ..
      "dataset-fashion-mnist (apt-get install dataset-fashion-mnist) or pass root = the folder holding the IDX files", msg)
  end)

  it("rejects bad options by name", function()
    assert.has_error(function() lp.data.FashionMNIST { root = FX, splt = "train" } end,
      "bad argument #1 to 'FashionMNIST' (unknown field 'splt')")
    assert.has_error(function() lp.data.FashionMNIST { root = FX, split = "valid" } end,
      "bad argument #1 to 'FashionMNIST' (field 'split' must be one of \"train\", \"test\", got 'valid')")
    assert.has_error(function() lp.data.FashionMNIST { root = FX, transform = 3 } end,
      "bad argument #1 to 'FashionMNIST' (field 'transform' must be a function, got number)")
    local ds = assert(lp.data.FashionMNIST { root = FX })
    assert.has_error(function() ds:get(0) end, "bad argument #1 to 'get' (index 0 out of range (1..4))")
    assert.has_error(function() ds:get(5) end, "bad argument #1 to 'get' (index 5 out of range (1..4))")
    assert.has_error(function() ds:get(1.5) end, "bad argument #1 to 'get' (integer expected, got number)")
  end)

  describe("damaged files", function()
    local dir
    before_each(function()
      dir = tmpdir()
      for _, f in ipairs { "train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz" } do
        spit(dir .. "/" .. f, slurp(FX .. "/" .. f))
      end
    end)
    after_each(function() os.execute("rm -rf " .. dir) end)

    it("names the file and offset of a truncated gzip file", function()
      local p = dir .. "/train-images-idx3-ubyte.gz"
      local s = slurp(p)
      spit(p, s:sub(1, 40))
      assert.has_error(function() lp.data.FashionMNIST { root = dir } end,
        ("idx_read: '%s' at offset 40: truncated gzip data (unexpected end of file)"):format(p))
    end)

    it("names the file of something that is not gzip", function()
      local p = dir .. "/train-labels-idx1-ubyte.gz"
      spit(p, "hello, not gzip")
      assert.has_error(function() lp.data.FashionMNIST { root = dir } end,
        ("idx_read: '%s' at offset 0: not a gzip file (bad magic)"):format(p))
    end)

    it("names the offset of corrupt deflate data", function()
      local p = dir .. "/train-images-idx3-ubyte.gz"
      local s = slurp(p)
      spit(p, s:sub(1, 10) .. string.rep("\255", 30) .. s:sub(41))
      local ok, err = pcall(lp.data.FashionMNIST, { root = dir })
      assert.is_false(ok)
      assert.matches("idx_read: '" .. p:gsub("%p", "%%%0") .. "' at offset %d+: corrupt gzip data %(", err)
    end)

    it("names the file and offset of a truncated IDX payload", function()
      -- a gzip of an IDX header promising 4 images and data for fewer
      local p = dir .. "/train-images-idx3-ubyte.gz"
      local raw = lp.core.gz_read(FX .. "/train-images-idx3-ubyte.gz")
      local bytes = raw:slice(1, 1, 1000):totable()
      local f = assert(io.popen("gzip -c > " .. p, "w"))
      f:write(string.char(table.unpack(bytes, 1, 200)))
      for k = 201, #bytes, 200 do f:write(string.char(table.unpack(bytes, k, math.min(k + 199, #bytes)))) end
      f:close()
      assert.has_error(function() lp.data.FashionMNIST { root = dir } end,
        ("idx_read: '%s' at offset 1000: truncated IDX data (3152 bytes expected, file ends after 1000)"):format(p))
    end)

    it("refuses labels that do not match the images", function()
      spit(dir .. "/train-labels-idx1-ubyte.gz", slurp(FX .. "/t10k-labels-idx1-ubyte.gz"))
      assert.has_error(function() lp.data.FashionMNIST { root = dir } end,
        ("FashionMNIST: '%s/train-labels-idx1-ubyte.gz' holds 2 labels for 4 images in '%s/train-images-idx3-ubyte.gz'"):format(dir, dir))
    end)
  end)

  local have_debian = io.open(DEB .. "/t10k-labels-idx1-ubyte.gz", "rb")
  if have_debian then have_debian:close() end
  local real = have_debian and it or pending

  real("reads Debian's test set: checksums and label counts", function()
    local ds = assert(lp.data.FashionMNIST { split = "test", dtype = "uint8" })
    assert.equal(10000, #ds)
    assert.equal(33456, ds:get(1):astype("int64"):sum():item())
    assert.equal(24390, ds:get(10000):astype("int64"):sum():item())
    assert.equal(573469082, ds.images:astype("int64"):sum():item())
    assert.same({ 10, 3, 2, 2, 7, 2, 5, 7, 6, 8 }, ds.labels:slice(1, 1, 10):totable())
    for c = 1, 10 do assert.equal(1000, ds.labels:eq(c):astype("int64"):sum():item()) end
    local img = ds:get(1)
    assert.equal(110, img:get(15, 15))
  end)

  real("reads Debian's training set: checksums and label counts", function()
    local ds = assert(lp.data.FashionMNIST { split = "train" })
    assert.equal(60000, #ds)
    local x = ds:get(1)
    assert.near(76247 / 255, x:astype("float64"):sum():item(), 1e-3)
    assert.near(16684 / 255, ds:get(60000):astype("float64"):sum():item(), 1e-3)
    assert.same({ 10, 1, 1, 4, 1, 3, 8, 3, 6, 6 }, ds.labels:slice(1, 1, 10):totable())
    assert.same({ 4, 1, 6 }, ds.labels:slice(1, 59998, 60000):totable())
    for c = 1, 10 do assert.equal(6000, ds.labels:eq(c):astype("int64"):sum():item()) end
  end)
end)
