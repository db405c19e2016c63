-- spec/data/cache_spec.lua -- lp.data.DiskCache: hits read no raw data,
-- keys separate transforms, corrupt and truncated entries are rebuilt
-- (stdlib/limpet/data/cache.lua).
local lp = require "limpet"
local DiskCache = require("limpet.data.cache").DiskCache
local tf = require "limpet.data.transforms"

local function tmpdir()
  local p = os.tmpname()
  os.remove(p)
  return p .. "-cache"
end

-- A data set counting its get calls; sample i: event table transformed to frames.
local function dataset(n, transform)
  local ds = { calls = 0, transform = transform }
  return setmetatable(ds, {
    __len = function() return n end,
    __index = {
      get = function(self, i)
        self.calls = self.calls + 1
        local s = { t = lp.tensor({ 0, 0.001 * i }, "float64"), x = lp.tensor({ 1, i }, "int64") }
        if self.transform then s = self.transform(s) end
        return s, i, { speaker = i * 10, name = "s" .. i, rate = 0.5 }
      end,
    },
  })
end

local function read_all(c)
  local out = {}
  for i = 1, #c do out[i] = { c:get(i) } end
  return out
end

describe("limpet.data.DiskCache", function()
  local dirs = {}
  local function dir() local d = tmpdir(); dirs[#dirs + 1] = d; return d end
  teardown(function() for _, d in ipairs(dirs) do os.execute("rm -rf '" .. d .. "'") end end)

  it("reads no raw data in the second epoch and returns the same values", function()
    local ds = dataset(4, tf.ToFrame { sensor_size = { 5 }, n_time_bins = 2 })
    local c = assert(DiskCache { dataset = ds, path = dir() })
    assert.equal(4, #c)
    local first = read_all(c)
    assert.equal(4, ds.calls)
    local second = read_all(c)
    assert.equal(4, ds.calls)                                   -- every read was a hit
    assert.equal(4, c.hits); assert.equal(4, c.misses)
    for i = 1, 4 do
      assert.tensor_near(first[i][1], second[i][1])
      assert.equal("float32", second[i][1].dtype)
      assert.equal(i, second[i][2]); assert.equal(math.type(i), math.type(second[i][2]))
      assert.same({ speaker = i * 10, name = "s" .. i, rate = 0.5 }, second[i][3])
    end
  end)

  it("caches event tables and keys entries by transform", function()
    local path = dir()
    local raw = dataset(2)
    local c = assert(DiskCache { dataset = raw, path = path })
    read_all(c)
    local s = c:get(2)
    assert.same({ 0, 0.002 }, s.t:totable()); assert.same({ 1, 2 }, s.x:totable())
    assert.equal(2, raw.calls)
    -- another transform key in the same folder misses, the old key still hits
    local d = assert(DiskCache { dataset = raw, path = path, transform_key = "other" })
    read_all(d)
    assert.equal(4, raw.calls)
    read_all(c)
    assert.equal(4, raw.calls)
    assert.are_not.equal(c:file(1), d:file(1))
  end)

  it("detects corrupt and truncated entries and rebuilds them", function()
    local ds = dataset(3, tf.ToFrame { sensor_size = { 5 }, n_time_bins = 4 })
    local c = assert(DiskCache { dataset = ds, path = dir() })
    local good = read_all(c)
    -- flip bytes in the middle of entry 1, truncate entry 2, empty entry 3
    local f = assert(io.open(c:file(1), "rb")); local bytes = f:read("a"); f:close()
    local mid = #bytes // 2
    f = assert(io.open(c:file(1), "wb"))
    f:write(bytes:sub(1, mid - 1), string.char((bytes:byte(mid) + 1) % 256), bytes:sub(mid + 1)); f:close()
    f = assert(io.open(c:file(2), "rb")); bytes = f:read("a"); f:close()
    f = assert(io.open(c:file(2), "wb")); f:write(bytes:sub(1, #bytes - 30)); f:close()
    f = assert(io.open(c:file(3), "wb")); f:close()
    local again = read_all(c)
    assert.equal(6, ds.calls)                                   -- all three rebuilt
    for i = 1, 3 do assert.tensor_near(good[i][1], again[i][1]) end
    read_all(c)
    assert.equal(6, ds.calls)                                   -- and the rebuilt entries hit
  end)

  it("rejects bad options and reports an unusable folder", function()
    assert.has_error(function() DiskCache { dataset = dataset(1), path = dir(), key = "x" } end,
      "bad argument #1 to 'DiskCache' (unknown field 'key')")
    assert.has_error(function() DiskCache { dataset = dataset(1) } end,
      "bad argument #1 to 'DiskCache' (field 'path' must be a folder name, got nil)")
    assert.has_error(function() DiskCache { dataset = dataset(1, function(s) return s end), path = dir() } end,
      "bad argument #1 to 'DiskCache' (the data set's transform has no description; give transform_key)")
    local c, msg = DiskCache { dataset = dataset(1), path = "/proc/limpet-no-such-place" }
    assert.is_nil(c)
    assert.matches("DiskCache: cannot write to '/proc/limpet%-no%-such%-place'", msg)
    local ok = assert(DiskCache { dataset = dataset(1), path = dir() })
    assert.has_error(function() ok:get(2) end, "bad argument #1 to 'get' (index 2 outside 1..1)")
  end)
end)
