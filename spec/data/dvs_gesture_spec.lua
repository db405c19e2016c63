-- spec/data/dvs_gesture_spec.lua -- lp.data.DVSGesture on Tonic's
-- preprocessed layout (userNN_<lighting>/<label>.npy with columns x, y, p,
-- t in ms), made by spec/fixtures/data/make_fixtures.py.
local lp = require "limpet"

local FX = "spec/fixtures/data/dvs_gesture"

local function tmpdir()
  local d = os.tmpname(); os.remove(d); assert(os.execute("mkdir -p " .. d)); return d
end

describe("lp.data.DVSGesture", function()
  it("gives events in seconds with 1-based ids and labels 1..11", function()
    local ds = assert(lp.data.DVSGesture { root = FX })
    assert.equal(3, #ds)
    local s, label, meta = ds:get(1)
    assert.equal(1, label)
    assert.same({ 0.005, 0.006, 1.5 }, s.t:totable())
    assert.equal("float64", s.t.dtype)
    assert.same({ 1, 128, 65 }, s.x:totable())
    assert.same({ 1, 128, 4 }, s.y:totable())
    assert.same({ 1, 2, 2 }, s.p:totable())
    assert.same({ index = 1, user = 1, lighting = "fluorescent",
      path = FX .. "/ibmGestureTrain/user01_fluorescent/0.npy" }, meta)
    assert.equal(11, select(2, ds:get(2)))          -- 10.npy sorts after 0.npy
    local s3, l3, m3 = ds:get(3)                     -- a float64 array
    assert.equal(4, l3)
    assert.same({ 10 }, s3.x:totable())
    assert.same({ 0.007 }, s3.t:totable())
    assert.equal("lab", m3.lighting)
    assert.equal("Right arm cw", lp.data.DVSGesture.classes[l3])
  end)

  it("reads the test split and applies the transform", function()
    local ds = assert(lp.data.DVSGesture { root = FX, split = "test",
      transform = function(s) return { t = s.t, x = s.x, y = s.y, p = 3 - s.p } end })
    assert.equal(1, #ds)
    local s, label, meta = ds:get(1)
    assert.equal(2, label)
    assert.equal(24, meta.user)
    assert.same({ 1, 2 }, s.p:totable())
  end)

  it("returns nil and how to get the data when the folder is missing", function()
    local ds, msg = lp.data.DVSGesture { root = "/nonexistent", split = "test" }
    assert.is_nil(ds)
    assert.equal("DVSGesture: '/nonexistent/ibmGestureTest' not found; download Tonic's preprocessed " ..
      "ibmGestureTrain.tar.gz and ibmGestureTest.tar.gz (figshare, as tonic.datasets.DVSGesture does) and unpack " ..
      "them in root = '/nonexistent'", msg)
  end)

  it("raises naming the file of a malformed sample", function()
    local dir = tmpdir()
    local d = dir .. "/ibmGestureTrain/user03_led"
    os.execute("mkdir -p " .. d)
    assert(lp.save(d .. "/0.npy", lp.tensor({ { 1, 2, 3 } }, "int32")))
    assert(lp.save(d .. "/1.npy", lp.tensor({ { 1, 200, 0, 5 } }, "int32")))
    assert(lp.save(d .. "/2.npy", lp.tensor({ { 1, 2, 2, 5 } }, "int32")))
    local f = assert(io.open(d .. "/3.npy", "wb")); f:write("\147NUMPY garbage"); f:close()
    local ds = assert(lp.data.DVSGesture { root = dir })
    assert.equal(4, #ds)
    assert.has_error(function() ds:get(1) end,
      ("DVSGesture: '%s/0.npy' holds an array of shape (1, 3), expected (N, 4) with columns x, y, p, t"):format(d))
    assert.has_error(function() ds:get(2) end, ("DVSGesture: '%s/1.npy' has y = 200 (0..127 expected)"):format(d))
    assert.has_error(function() ds:get(3) end, ("DVSGesture: '%s/2.npy' has p = 2 (0..1 expected)"):format(d))
    local ok, err = pcall(ds.get, ds, 4)
    assert.is_false(ok)
    assert.truthy(err:find(("'%s/3.npy' at offset"):format(d), 1, true))
    os.execute("rm -rf " .. dir)
  end)
end)
