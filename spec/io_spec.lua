-- spec/io_spec.lua -- lp.save / lp.load (lua/l_io.c over core/src/npy.c, npz.c):
-- NumPy-written fixtures (spec/fixtures/npy/, made by make_fixtures.py),
-- NumPy's exact bytes for what limpet writes, round trips, atomic writes and
-- every error a user can hit, with its exact message.
local lp = require "limpet"

local FX = "spec/fixtures/npy/"

local function f32(x) return (string.unpack("<f", string.pack("<f", x))) end

local function slurp(path)
  local fp = assert(io.open(path, "rb"))
  local s = fp:read("a")
  fp:close()
  return s
end

local function spit(path, s)
  local fp = assert(io.open(path, "wb"))
  fp:write(s)
  fp:close()
end

-- a fresh scratch folder per test file
local scratch = os.tmpname()
os.remove(scratch)
assert(os.execute("mkdir -p '" .. scratch .. "'"))
local function tmp(name) return scratch .. "/" .. name end
local function stray_temps()
  local p = io.popen("ls -a '" .. scratch .. "'")
  local n = 0
  for line in p:lines() do if line:find(".tmp.", 1, true) then n = n + 1 end end
  p:close()
  return n
end

-- Fail the Nth engine allocation for N = 1, 2, ... until fn succeeds: each
-- failure raises "not enough memory" and gives every byte back. Returns the
-- number of failures seen.
local function fail_loop(fn, after_each)
  collectgarbage(); collectgarbage()
  local base = lp.config().bytes_live
  for n = 1, 200 do
    lp.config { fail_alloc_after = n }
    local ok, err = pcall(fn)
    lp.config { fail_alloc_after = 0 }
    if ok then err = nil end
    collectgarbage(); collectgarbage()
    if ok then
      assert.are.equal(base, lp.config().bytes_live)
      return n
    end
    assert.matches("not enough memory", err)
    assert.are.equal(base, lp.config().bytes_live)
    if after_each then after_each() end
  end
  error("never succeeded")
end

-- the values make_fixtures.py stores, shape (2, 3)
local VALUES = {
  float32 = { { 0, 1.5, -2.25 }, { f32(3.0e38), f32(-1.0e-30), 7 } },
  float64 = { { 0, 1.5, -2.25 }, { 1.0e300, -1.0e-300, 0.1 } },
  int8 = { { -128, 127, 0 }, { 1, -1, 5 } },
  int16 = { { -32768, 32767, 0 }, { 1, -1, 300 } },
  int32 = { { -2 ^ 31 // 1, 2 ^ 31 // 1 - 1, 0 }, { 1, -1, 70000 } },
  int64 = { { math.mininteger, math.maxinteger, 0 }, { 1, -1, 1 << 40 } },
  uint8 = { { 0, 255, 1 }, { 2, 128, 7 } },
  bool = { { true, false, true }, { false, false, true } },
}
local CODE = { float32 = "f4", float64 = "f8", int8 = "i1", int16 = "i2", int32 = "i4",
               int64 = "i8", uint8 = "u1", bool = "b1" }
local DTYPES = { "float32", "float64", "int8", "int16", "int32", "int64", "uint8", "bool" }

-- arange(6) as (2, 3) in dtype (bool: odd values), what ref_<code>.npy holds
local function ref_tensor(dt)
  if dt == "bool" then return lp.tensor({ { false, true, false }, { true, false, true } }, dt) end
  return lp.tensor({ { 0, 1, 2 }, { 3, 4, 5 } }, dt)
end

describe("lp.load", function()
  it("reads every dtype numpy writes, in both byte orders", function()
    for _, dt in ipairs(DTYPES) do
      local t = lp.load(FX .. CODE[dt] .. ".npy")
      assert.are.equal(dt, t.dtype)
      assert.are.same({ 2, 3 }, t.shape)
      assert.are.same(VALUES[dt], t:totable())
      if dt ~= "int8" and dt ~= "uint8" and dt ~= "bool" then
        local b = lp.load(FX .. "be_" .. CODE[dt] .. ".npy")
        assert.are.equal(dt, b.dtype)
        assert.are.same(VALUES[dt], b:totable())
      end
    end
  end)

  it("reads 0-d, empty, 1-d and 3-d arrays", function()
    local s = lp.load(FX .. "scalar_f8.npy")
    assert.are.same({}, s.shape)
    assert.are.equal(3.5, s:item())
    local e = lp.load(FX .. "empty_f4.npy")
    assert.are.same({ 0, 3 }, e.shape)
    assert.are.equal("float32", e.dtype)
    assert.are.same({ 9, 8, 7, 6, 5 }, lp.load(FX .. "d1_u1.npy"):totable())
    local d = lp.load(FX .. "d3_i4.npy")
    assert.are.same({ 2, 3, 4 }, d.shape)
    assert.are.equal(-12, d:get(1, 1, 1))
    assert.are.equal(11, d:get(2, 3, 4))
    assert.are.equal(-12 + 4 + 2, d:get(1, 2, 3))
  end)

  it("turns Fortran order into a C-order tensor", function()
    local t = lp.load(FX .. "fortran_f8.npy")
    assert.are.same({ 2, 3, 4 }, t.shape)
    assert.is_true(t:is_contiguous())
    for i = 1, 2 do for j = 1, 3 do for k = 1, 4 do
      assert.are.equal((i - 1) * 12 + (j - 1) * 4 + (k - 1), t:get(i, j, k))
    end end end
    assert.are.same(VALUES.int16, lp.load(FX .. "fortran_be_i2.npy"):totable())
  end)

  it("reads format versions 2.0 and 3.0 and the native-order descr", function()
    for _, f in ipairs { "v2_f4.npy", "v3_f4.npy", "native_f4.npy" } do
      assert.are.same(VALUES.float32, lp.load(FX .. f):totable())
    end
  end)

  it("reads numpy's bool arrays as bool tensors", function()
    local t = lp.load(FX .. "b1.npy")
    assert.are.equal("bool", t.dtype)
    assert.are.equal(true, t:get(1, 1))
    assert.are.equal(false, t:get(1, 2))
  end)

  it("reads .npz archives, stored and deflated, as a table of tensors", function()
    for _, f in ipairs { "stored.npz", "compressed.npz" } do
      local z = lp.load(FX .. f)
      local keys = {}
      for k in pairs(z) do keys[#keys + 1] = k end
      table.sort(keys)
      assert.are.same({ "a", "arr_0", "b", "c", "e", "s" }, keys)
      assert.are.same(VALUES.float32, z.a:totable())
      assert.are.same(VALUES.int64, z.b:totable())
      assert.are.same(VALUES.bool, z.c:totable())
      assert.are.same({ 0, 3 }, z.e.shape)
      assert.are.equal("float64", z.e.dtype)
      assert.are.equal(-7, z.s:item())
      assert.are.equal("int16", z.s.dtype)
      assert.are.same({ 0, 1, 2, 3, 4 }, z.arr_0:totable())
    end
    assert.are.same({}, lp.load(FX .. "empty.npz"))
    local z = lp.load(FX .. "zip64.npz")
    assert.are.same(VALUES.float64, z.x:totable())
    assert.are.same(VALUES.uint8, z.y:totable())
  end)

  it("returns nil and a message for a file that is not there", function()
    local t, msg, code = lp.load(tmp("nope.npy"))
    assert.is_nil(t)
    assert.are.equal("cannot open '" .. tmp("nope.npy") .. "': No such file or directory", msg)
    assert.is_number(code)
    t, msg = lp.load(tmp("nope.npz"))
    assert.is_nil(t)
    assert.are.equal("cannot open '" .. tmp("nope.npz") .. "': No such file or directory", msg)
    t, msg = lp.load(scratch .. "/.npy")
    assert.is_nil(t)
    assert.are.equal("cannot open '" .. scratch .. "/.npy': No such file or directory", msg)
  end)

  it("raises naming file and offset for malformed files", function()
    local cases = {
      { "bad_magic.npy", "at offset 0: not a .npy file (bad magic string)" },
      { "empty.npy", "at offset 0: not a .npy file (bad magic string)" },
      { "bad_version.npy", "at offset 6: unsupported .npy format version 4.0" },
      { "truncated_header.npy", "at offset 40: truncated header (118 bytes announced, 30 present)" },
      { "truncated_data.npy",
        "at offset 171: truncated data (shape (2, 3) of float64 needs 48 bytes, 43 present)" },
      { "extra_data.npy", "at offset 176: unexpected bytes after the data of shape (2, 3)" },
      { "bad_dict.npy", "at offset 64: bad header dict (expected a non-negative integer in 'shape')" },
      { "bad_key.npy", "at offset 27: bad header dict (unexpected key 'fortran_ordex')" },
      { "bad_bool.npy", "at offset 44: bad header dict ('fortran_order' must be True or False)" },
    }
    for _, c in ipairs(cases) do
      assert.has_error(function() lp.load(FX .. c[1]) end, "load: '" .. FX .. c[1] .. "' " .. c[2])
    end
    -- .npz through libzip: its words, naming the file and the entry
    local zcases = {
      { "bad_crc.npz", "entry 'a.npy': CRC error" },
      { "bad_sig.npz", ": not a valid zip archive (Not a zip archive)" },
      { "truncated.npz", ": not a valid zip archive (Not a zip archive)" },
      { "bad_deflate.npz", "entry 'b.npy': Zlib error: data error" },
    }
    for _, c in ipairs(zcases) do
      local sep = c[2]:sub(1, 1) == ":" and "'" or "' "
      assert.has_error(function() lp.load(FX .. c[1]) end, "load: '" .. FX .. c[1] .. sep .. c[2])
    end
  end)

  it("raises for dtypes limpet does not have", function()
    for f, descr in pairs { ["c16.npy"] = "'<c16'", ["u2.npy"] = "'<u2'",
                            ["obj.npy"] = "'|O'", ["struct.npy"] = "[('a', '<i4'), ('b', '<f8')]" } do
      assert.has_error(function() lp.load(FX .. f) end,
        "load: '" .. FX .. f .. "': unsupported dtype " .. descr)
    end
    assert.has_error(function() lp.load(FX .. "ndim9.npy") end,
      "load: '" .. FX .. "ndim9.npy': 9 dims, limpet tensors have at most 8")
  end)

  it("refuses sizes beyond the cap before allocating", function()
    local cap = lp.config().max_bytes
    assert.has_error(function() lp.load(FX .. "huge.npy") end,
      "load: '" .. FX .. "huge.npy': shape (1000000000000000,) of float64 needs 8000000000000000 "
      .. "bytes, more than the cap of " .. cap .. " bytes")
    lp.config { max_bytes = 40 }
    local ok, err = pcall(function() return lp.load(FX .. "f8.npy") end)
    lp.config { max_bytes = cap }
    assert.is_false(ok)
    assert.are.equal("load: '" .. FX .. "f8.npy': shape (2, 3) of float64 needs 48 bytes, "
      .. "more than the cap of 40 bytes", (err:gsub("^.-:%d+: ", "", 1)))
  end)

  it("rejects paths without a .npy or .npz extension", function()
    assert.has_error(function() lp.load("data.txt") end,
      "bad argument #1 to 'load' (expected a path ending in .npy or .npz, got 'data.txt')")
    assert.has_error(function() lp.load(42) end,
      "bad argument #1 to 'load' (expected a path ending in .npy or .npz, got '42')")
    assert.has_error(function() lp.load({}) end,
      "bad argument #1 to 'load' (string expected, got table)")
    assert.has_error(function() lp.load("a\0.npy") end,
      "bad argument #1 to 'load' (path contains a zero byte)")
  end)
end)

describe("lp.save", function()
  it("writes the bytes numpy.save writes", function()
    for _, dt in ipairs(DTYPES) do
      local p = tmp("ref_" .. CODE[dt] .. ".npy")
      assert.is_true(lp.save(p, ref_tensor(dt)))
      assert.are.equal(slurp(FX .. "ref_" .. CODE[dt] .. ".npy"), slurp(p))
    end
    local cases = {
      ref_scalar_f8 = lp.tensor(2.5, "float64"),
      ref_empty_u1 = lp.zeros({ 0, 3 }, "uint8"),
      ref_d1_f4 = lp.tensor({ 0, 0.5, 1, 1.5, 2 }, "float32"),
      ref_t_f4 = lp.tensor({ { 0, 1, 2 }, { 3, 4, 5 } }, "float32"):transpose(1, 2),
      ref_d8_f4 = lp.zeros({ 1, 1, 1, 1, 1, 1, 1, 0 }, "float32"),
    }
    local d3 = {}
    for i = 1, 2 do
      d3[i] = {}
      for j = 1, 3 do
        d3[i][j] = {}
        for k = 1, 4 do d3[i][j][k] = (i - 1) * 12 + (j - 1) * 4 + (k - 1) - 12 end
      end
    end
    cases.ref_d3_i2 = lp.tensor(d3, "int16")
    for name, t in pairs(cases) do
      local p = tmp(name .. ".npy")
      assert.is_true(lp.save(p, t))
      assert.are.equal(slurp(FX .. name .. ".npy"), slurp(p), name)
    end
  end)

  it("round-trips every dtype and shape through .npy", function()
    for _, dt in ipairs(DTYPES) do
      local shapes = {
        lp.tensor(dt == "bool" and true or 3, dt),
        lp.zeros({ 0, 3 }, dt),
        lp.load(FX .. CODE[dt] .. ".npy"),
        lp.load(FX .. CODE[dt] .. ".npy"):transpose(1, 2),
        lp.zeros({ 2, 1, 3, 1 }, dt),
      }
      for _, t in ipairs(shapes) do
        local p = tmp("rt.npy")
        assert.is_true(lp.save(p, t))
        local back = lp.load(p)
        assert.are.equal(t.dtype, back.dtype)
        assert.are.same(t.shape, back.shape)
        if t:dim() > 0 then assert.are.same(t:totable(), back:totable())
        else assert.are.equal(t:item(), back:item()) end
      end
    end
  end)

  it("writes .npz archives from a table of named tensors", function()
    local w = lp.load(FX .. "f4.npy")
    local named = { weights = w, mask = lp.load(FX .. "b1.npy"), ["wé"] = lp.tensor(7, "int8"),
                    wT = w:transpose(1, 2) }
    for _, opts in ipairs { {}, { compress = true }, { compress = false } } do
      local p = tmp("named.npz")
      assert.is_true(lp.save(p, named, opts))
      local back = lp.load(p)
      local n = 0
      for k, v in pairs(back) do
        n = n + 1
        assert.are.equal(named[k].dtype, v.dtype)
        assert.are.same(named[k].shape, v.shape)
      end
      assert.are.equal(4, n)
      assert.are.same(VALUES.float32, back.weights:totable())
      assert.are.same(w:transpose(1, 2):totable(), back.wT:totable())
      assert.are.equal(7, back["wé"]:item())
      -- the method of the first entry: deflate unless compress = false
      local method = string.unpack("<I2", slurp(p), 9)
      assert.are.equal(opts.compress == false and 0 or 8, method)
    end
    -- a lone tensor gets numpy's positional name
    assert.is_true(lp.save(tmp("one.npz"), w))
    assert.are.same(VALUES.float32, lp.load(tmp("one.npz")).arr_0:totable())
    -- an empty table gives an empty archive
    assert.is_true(lp.save(tmp("none.npz"), {}))
    assert.are.same({}, lp.load(tmp("none.npz")))
  end)

  it("writes and reads archives of more than 65,535 arrays (zip64)", function()
    local many = {}
    for i = 1, 70000 do many["m" .. i] = lp.tensor({ i }, "int32") end
    assert.is_true(lp.save(tmp("many.npz"), many))
    local back = lp.load(tmp("many.npz"))
    local n = 0
    for _ in pairs(back) do n = n + 1 end
    assert.are.equal(70000, n)
    assert.are.equal(69999, back.m69999[1])
    os.remove(tmp("many.npz"))
  end)

  it("writes the same archive for the same table (names sorted)", function()
    local t = { b = lp.zeros({ 2 }), a = lp.ones({ 3 }), c = lp.zeros({ 1 }) }
    assert.is_true(lp.save(tmp("s1.npz"), t, { compress = false }))
    local s = slurp(tmp("s1.npz"))
    local ia, ib, ic = s:find("a.npy", 1, true), s:find("b.npy", 1, true), s:find("c.npy", 1, true)
    assert.is_true(ia < ib and ib < ic)
  end)

  it("returns nil and a message when the file cannot be written", function()
    local t = lp.zeros({ 2 })
    local p = tmp("missing/x.npy")
    local ok, msg, code = lp.save(p, t)
    assert.is_nil(ok)
    assert.are.equal("cannot open '" .. p .. "' for writing: No such file or directory", msg)
    assert.is_number(code)
    ok, msg = lp.save(tmp("missing/x.npz"), { t = t })
    assert.is_nil(ok)
    assert.are.equal("cannot open '" .. tmp("missing/x.npz") .. "' for writing: No such file or directory", msg)
  end)

  it("is atomic: a failed write leaves the old file and no temporary", function()
    local keep = tmp("keep.npy")
    spit(keep, "precious")
    -- the target is a folder: the rename fails and the temporary goes
    assert(os.execute("mkdir -p '" .. tmp("dir.npy") .. "'"))
    local ok, msg = lp.save(tmp("dir.npy"), lp.zeros({ 2 }))
    assert.is_nil(ok)
    assert.are.equal("cannot write '" .. tmp("dir.npy") .. "': Is a directory", msg)
    assert.are.equal(0, stray_temps())
    -- a read-only folder (moot when running as root, who may write anyway)
    local ro = tmp("ro")
    assert(os.execute("mkdir -p '" .. ro .. "'"))
    spit(ro .. "/keep.npy", "precious")
    assert(os.execute("chmod 555 '" .. ro .. "'"))
    local probe = io.open(ro .. "/probe", "w")
    if probe then
      probe:close()
      os.remove(ro .. "/probe")
    else
      ok, msg = lp.save(ro .. "/keep.npy", lp.zeros({ 2 }))
      assert.is_nil(ok)
      assert.are.equal("cannot open '" .. ro .. "/keep.npy' for writing: Permission denied", msg)
      assert.are.equal("precious", slurp(ro .. "/keep.npy"))
    end
    assert(os.execute("chmod 755 '" .. ro .. "'"))
    -- misuse raises before anything is written
    assert.has_error(function() lp.save(keep, { 1, 2 }) end)
    assert.are.equal("precious", slurp(keep))
    -- a write that runs out of memory half way (injected failure N, every N)
    local t = lp.load(FX .. "d3_i4.npy"):transpose(1, 3)
    assert.is_true(fail_loop(function() return lp.save(keep, t) end, function()
      assert.are.equal("precious", slurp(keep))
      assert.are.equal(0, stray_temps())
    end) > 1)
    assert.are.same(t:totable(), lp.load(keep):totable())
    assert.is_true(fail_loop(function() return lp.save(tmp("keep.npz"), { t = t, u = t }) end, function()
      assert.are.equal(0, stray_temps())
    end) > 1)
    assert.is_true(fail_loop(function() return lp.load(tmp("keep.npz")) end) > 1)
    assert.is_true(fail_loop(function() return lp.load(FX .. "compressed.npz") end) > 1)
    assert.is_true(fail_loop(function() return lp.load(FX .. "fortran_f8.npy") end) > 1)
  end)

  it("raises for misuse, naming the argument", function()
    local t = lp.zeros({ 2 })
    assert.has_error(function() lp.save("x.csv", t) end,
      "bad argument #1 to 'save' (expected a path ending in .npy or .npz, got 'x.csv')")
    assert.has_error(function() lp.save(tmp("x.npy"), { t }) end,
      "bad argument #2 to 'save' (tensor expected, got table)")
    assert.has_error(function() lp.save(tmp("x.npy"), t, { compress = true }) end,
      "bad argument #3 to 'save' (option 'compress' applies to .npz files only)")
    assert.has_error(function() lp.save(tmp("x.npz"), 5) end,
      "bad argument #2 to 'save' (tensor or table of tensors expected, got number)")
    assert.has_error(function() lp.save(tmp("x.npz"), { t }) end,
      "bad argument #2 to 'save' (expected string keys, got a number key)")
    assert.has_error(function() lp.save(tmp("x.npz"), { w = { 1, 2 } }) end,
      "bad argument #2 to 'save' (field 'w' is not a tensor (got table))")
    assert.has_error(function() lp.save(tmp("x.npz"), { w = t }, { compres = true }) end,
      "bad argument #3 to 'save' (unknown field 'compres')")
    assert.has_error(function() lp.save(tmp("x.npz"), { w = t }, { compress = 1 }) end,
      "bad argument #3 to 'save' (field 'compress' must be a boolean, got number)")
    assert.has_error(function() lp.save(tmp("x.npz"), { w = t }, 1) end,
      "bad argument #3 to 'save' (table expected, got number)")
    assert.has_error(function() lp.save(tmp("x.npz"), { ["a\0b"] = t }) end,
      "bad argument #2 to 'save' (array names must not contain zero bytes)")
    local r = lp.zeros({ 2 })
    r:release()
    assert.has_error(function() lp.save(tmp("x.npz"), { r = r }) end,
      "bad argument #2 to 'save' (field 'r' holds a released tensor)")
    assert.are.equal(0, stray_temps())
  end)
end)

teardown(function()
  os.execute("rm -rf '" .. scratch .. "'")
end)
