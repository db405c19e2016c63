-- spec/campaign_spec.lua -- regressions of the first hostile-input campaign
-- (issue 16): one block per finding, each failing before its fix. The
-- byte-level readers are also fuzzed (spec/fuzz/, `make fuzz`) and their
-- crashing inputs replayed by `make test` (build/<cfg>/tests/test_fuzz_*);
-- the argument sweep over the whole API is spec/hostile_spec.lua (run by
-- `make test` and, under ASan and UBSan, `make check`; its own findings'
-- regression specs sit with the functions they concern, each marked
-- "issue 16").
local lp = require "limpet"
local json = require "limpet.json"

local scratch = os.tmpname()
os.remove(scratch)
assert(os.execute("mkdir -p '" .. scratch .. "'"))
local function tmp(name) return scratch .. "/" .. name end
local function spit(path, s)
  local f = assert(io.open(path, "wb"))
  f:write(s)
  f:close()
end
local function esc(s) return (s:gsub("%p", "%%%0")) end

-- run fn with the engine's size cap at `bytes`, then restore it
local function with_cap(bytes, fn)
  local old = lp.config().max_bytes
  lp.config { max_bytes = bytes }
  local ok, err = pcall(fn)
  lp.config { max_bytes = old }
  if not ok then error(err, 0) end
end

-- every injected allocation failure of fn raises an error matching `pattern`,
-- until fn succeeds; returns how many failures were tried
local function fail_loop(fn, pattern)
  for n = 1, 5000 do
    lp.config { fail_alloc_after = n }
    local ok, err = pcall(fn)
    lp.config { fail_alloc_after = 0 }
    if ok then return n - 1 end
    assert.matches(pattern, tostring(err))
  end
  error("never succeeded")
end

describe("finding 1: strides of zero-size tensors with huge dims", function()
  it("refuses shapes whose strides would overflow, whatever the element count", function()
    assert.has_error(function() lp.zeros(0, 2 ^ 40, 2 ^ 40) end,
      "zeros: shape (0, 1099511627776, 1099511627776) is too large")
    assert.has_error(function() lp.zeros(2 ^ 40, 2 ^ 40, 0) end,
      "zeros: shape (1099511627776, 1099511627776, 0) is too large")
    assert.has_error(function() lp.zeros(0):reshape(0, 2 ^ 40, 2 ^ 40) end)
    assert.has_error(function() lp.zeros(0, 1, 1):expand(0, 2 ^ 40, 2 ^ 40) end)
    -- zero-size tensors with sizes that fit still work
    local z = lp.zeros(0, 2 ^ 20, 2 ^ 20)
    assert.are.same({ 0, 2 ^ 20, 2 ^ 20 }, z.shape)
    assert.are.equal(0, z:numel())
    assert.are.same({ 2 ^ 20, 3 }, lp.zeros(0, 2 ^ 20, 3):sum(1).shape)
    assert.are.equal(0, z:sum():item())
  end)

  it("refuses a 128-byte .npy whose header announces such a shape", function()
    local dict = "{'descr': '<f4', 'fortran_order': False, 'shape': (0, 1099511627776, 1099511627776), }"
    local header = dict .. (" "):rep(128 - 10 - #dict - 1) .. "\n"
    local path = tmp("strides.npy")
    spit(path, "\147NUMPY\1\0" .. string.pack("<I2", #header) .. header)
    assert.are.equal(128, #(io.open(path, "rb"):read("a")))
    local ok, err = pcall(lp.load, path)
    assert.is_false(ok)
    assert.matches("'" .. esc(path) .. "': shape %(0, 1099511627776, 1099511627776%) is too large", err)
  end)
end)

describe("finding 2: allocations that scale with a user-supplied size", function()
  it("refuses a shuffled TensorLoader over a huge expanded view with the cap error", function()
    local x = lp.zeros(1, 3):expand(2 ^ 33, 3)      -- 8 bytes of storage
    local y = lp.zeros(1):expand(2 ^ 33)
    with_cap(1 << 30, function()
      assert.has_error(function() lp.train.TensorLoader(x, y, { shuffle = true, batch_size = 4 }) end,
        "TensorLoader: a shuffled order of 8589934592 entries needs 137438953528 bytes, " ..
        "more than the cap of 1073741824 bytes")
      -- in order it needs no table: the first batch comes at once
      local xb, yb = lp.train.TensorLoader(x, y, { batch_size = 4 }):iter()()
      assert.are.same({ 4, 3 }, xb.shape)
      assert.are.same({ 4 }, yb.shape)
    end)
  end)

  it("walks a huge data set in order without a table, and refuses to shuffle it", function()
    local ds = setmetatable({}, { __len = function() return 1 << 40 end,
      __index = { get = function(_, i) return lp.full({ 2, 1 }, i), 1 end } })
    with_cap(1 << 30, function()
      local x, _, idx = lp.data.DataLoader { dataset = ds, batch_size = 2 }:iter()()
      assert.are.same({ 1, 2 }, idx)
      assert.are.same({ 2, 2, 1 }, x.shape)
      local dl = lp.data.DataLoader { dataset = ds, batch_size = 2, shuffle = true }
      local ok, err = pcall(dl.iter, dl)
      assert.is_false(ok)
      assert.matches("^DataLoader: a shuffled order of 1099511627776 entries needs %d+ bytes, " ..
        "more than the cap of 1073741824 bytes$", err)
    end)
  end)

  it("refuses totable of a huge view before building the table", function()
    with_cap(1 << 30, function()
      assert.has_error(function() lp.zeros(1):expand(2 ^ 33):totable() end,
        "totable: a table of 8589934592 entries needs 137438953528 bytes, more than the cap of 1073741824 bytes")
    end)
    assert.are.same({ { 0, 0 } }, lp.zeros(1, 2):totable())
  end)
end)

describe("finding 3: a corrupt gzip file whose trailer announces 4 GiB", function()
  it("is reported as a corrupt gzip naming the file, not as a memory or cap error", function()
    -- 31 bytes: a gzip header, a broken deflate stream, CRC, ISIZE = 0xFFFFFFFF
    local path = tmp("bomb.gz")
    spit(path, "\31\139\8\0\0\0\0\0\0\3" .. "\237\255\255\255\255\255\255\255\255\255\255\255\255" ..
      "\0\0\0\0" .. "\255\255\255\255")
    assert.are.equal(31, #(io.open(path, "rb"):read("a")))
    local ok, err = pcall(lp.core.gz_read, path)
    assert.is_false(ok)
    assert.matches("'" .. esc(path) .. "' at offset %d+: %a+ gzip data", err)
    assert.is_nil(err:find("memory", 1, true))
    assert.is_nil(err:find("cap", 1, true))
    -- still works when the cap is below what ISIZE claims
    with_cap(1 << 20, function()
      local ok2, err2 = pcall(lp.core.gz_read, path)
      assert.is_false(ok2)
      assert.matches("gzip data", err2)
    end)
  end)
end)

describe("finding 4: TSEvent with infinite times", function()
  it("refuses an infinite event time and an infinite t_stop by name", function()
    assert.has_error(function() lp.TSEvent({ 0.1, math.huge, 0.2 }, { 1, 1, 1 }) end,
      "bad argument #1 to 'TSEvent' (times must be finite, got inf at position 2)")
    assert.has_error(function() lp.TSEvent({ 0.1, -math.huge }, { 1, 1 }) end,
      "bad argument #1 to 'TSEvent' (times must be finite, got -inf at position 2)")
    assert.has_error(function() lp.TSEvent({ 0.1, 0.2 }, { 1, 1 }, { t_stop = math.huge }) end,
      "bad argument #3 to 'TSEvent' (field 't_stop' must be a finite number, got inf)")
    assert.has_error(function() lp.TSContinuous({ 0, 1 / 0 }, { 1, 2 }) end,
      "bad argument #1 to 'TSContinuous' (times must be finite, got inf at position 2)")
    -- valid events still raster
    local e = lp.TSEvent({ 0.1, 0.25 }, { 1, 2 }, { t_stop = 0.3 })
    assert.are.equal(2, e:raster(0.1):astype("int32"):sum():item())
  end)
end)

describe("finding 5: non-finite event times", function()
  it("makes ToFrame refuse a NaN time instead of dropping events", function()
    -- bins = "even": every valid event lands in a frame (Tonic's default leaves the last out)
    local f = lp.data.transforms.ToFrame { sensor_size = { 4, 1, 1 }, n_time_bins = 2, bins = "even" }
    local s = { t = lp.tensor({ 0.05, 0 / 0, 0.25 }, "float64"), x = lp.tensor({ 1, 2, 3 }, "int16") }
    assert.has_error(function() f(s) end,
      "bad argument #1 to 'ToFrame' (sample field 't' must hold finite times, got nan at event 2)")
    s.t = lp.tensor({ 0.05, 0.1, 0.25 }, "float64")
    assert.are.equal(3, f(s):sum():item())
  end)

  it("makes SHD refuse a NaN spike time, naming the file, the sample and the event", function()
    local root = "spec/fixtures/data/shd_nantime"
    local ds = assert(lp.data.SHD { root = root })
    assert.are.equal(3, ds:get(1).t:numel())
    assert.has_error(function() ds:get(2) end,
      "SHD: '" .. root .. "/shd_train.h5' sample 2 has spike time nan at event 2 (times must be finite)")
    ds:close()
  end)

  it("makes DVSGesture refuse a non-finite value, naming the file and the event", function()
    local dir = tmp("dvs/ibmGestureTrain/user01_led")
    assert(os.execute("mkdir -p '" .. dir .. "'"))
    lp.save(dir .. "/2.npy", lp.tensor({ { 1, 2, 0, 10 }, { 3, 4, 1, 1 / 0 } }, "float64"))
    local ds = assert(lp.data.DVSGesture { root = tmp("dvs") })
    assert.has_error(function() ds:get(1) end,
      "DVSGesture: '" .. dir .. "/2.npy' has t = inf at event 2 (values must be finite)")
  end)
end)

describe("finding 6: unknown keys in a Xylo configuration's debug table", function()
  local function config_file(edit)
    local f = assert(io.open("spec/fuzz/corpus/xylo_config/audio2.json", "rb"))
    local doc = json.decode(f:read("a"))
    f:close()
    edit(doc)
    local path = tmp("cfg.json")
    spit(path, json.encode(doc))
    return path
  end

  it("refuses them on load and on save, by name", function()
    local p = config_file(function(d) d.debug.monitor_neuron_spkie = false end)
    assert.has_error(function() lp.xylo.load_config(p) end,
      "load_config: '" .. p .. "' field 'debug': unknown field 'monitor_neuron_spkie'")
    p = config_file(function(d) d.debug.ra_clock_enable = "yes" end)
    assert.has_error(function() lp.xylo.load_config(p) end,
      "load_config: '" .. p .. "' field 'debug.ra_clock_enable': expected a boolean, got string")
    local c = assert(lp.xylo.load_config("spec/fuzz/corpus/xylo_config/audio2.json"))
    c.debug.hm_clock_enabel = true
    assert.has_error(function() lp.xylo.save_config(c, tmp("out.json")) end,
      "bad argument #1 to 'save_config' (invalid configuration: debug: unknown field 'hm_clock_enabel')")
    local imu = assert(lp.xylo.load_config("spec/fuzz/corpus/xylo_config/imu.json"))
    imu.debug.ra_clock_enable = true
    local ok, msg = lp.xylo.validate_config(imu)
    assert.is_false(ok)
    assert.are.equal("debug: unknown field 'ra_clock_enable' (an Audio 2 field, not Xylo IMU)", msg)
  end)
end)

describe("finding 7: running out of memory while loading", function()
  it("is reported as not enough memory by nn.load", function()
    lp.seed(3)
    local path = tmp("net.npz")
    assert(lp.nn.Sequential(lp.nn.Linear({ 2, 3 }), lp.nn.LIF(3)):save(path))
    assert.is_true(fail_loop(function() return lp.nn.load(path) end,
      "^nn%.load: '" .. esc(path) .. "': not enough memory$") > 5)
  end)

  it("is reported as not enough memory by xylo.load_config", function()
    local path = "spec/fuzz/corpus/xylo_config/audio2.json"
    assert.is_true(fail_loop(function() return lp.xylo.load_config(path) end,
      "^load_config: '" .. esc(path) .. "': not enough memory$") > 5)
  end)
end)

describe("finding 8 and 9: tampered model files", function()
  local function bytes(s)
    local t = {}
    for i = 1, #s do t[i] = s:byte(i) end
    return lp.tensor(t, "uint8")
  end
  local function text(t)
    local v = t:totable()
    local s = {}
    for i = 1, #v do s[i] = string.char(v[i]) end
    return table.concat(s)
  end
  -- a saved LIF network, its arrays and its decoded tree, tampered by edit
  local function tampered(edit)
    lp.seed(4)
    local path = tmp("lif.npz")
    assert(lp.nn.Sequential(lp.nn.Linear({ 2, 3 }), lp.nn.LIF(3)):save(path))
    local arrays = assert(lp.load(path))
    local tree = json.decode(text(arrays.__module_tree__))
    edit(tree, arrays)
    arrays.__module_tree__ = bytes(json.encode(tree))
    assert(lp.save(path, arrays))
    return path
  end

  it("name nn.load, the file and the field", function()
    local p = tampered(function(t) t.root.children[1].nargs = 1000000000 end)
    assert.has_error(function() lp.nn.load(p) end,
      "nn.load: '" .. p .. "': node '1_Linear': field 'nargs' must be an integer in 0..1, got 1000000000")
    p = tampered(function(t) t.root.children[2].attrs.dt = "x" end)
    assert.has_error(function() lp.nn.load(p) end,
      "nn.load: '" .. p .. "': node '2_LIF': attribute 'dt' must be a number, got string")
    p = tampered(function(t) t.root.children[2].attrs.treshold = 1 end)
    assert.has_error(function() lp.nn.load(p) end,
      "nn.load: '" .. p .. "': node '2_LIF': unknown attribute 'treshold' for class LIF")
    p = tampered(function(t) t.root.children = "x" end)
    assert.has_error(function() lp.nn.load(p) end,
      "nn.load: '" .. p .. "': the root node: field 'children' must be an array, got string")
    p = tampered(function(t) t.root.children[1].args[1] = { __array = 5 } end)
    assert.has_error(function() lp.nn.load(p) end,
      "nn.load: '" .. p .. "': node '1_Linear', argument #1: field '__array' must be a string")
    p = tampered(function(t) t.root.children[2].training = "yes" end)
    assert.has_error(function() lp.nn.load(p) end,
      "nn.load: '" .. p .. "': node '2_LIF': field 'training' must be a boolean, got string")
  end)

  it("refuse time constants that are zero, negative or NaN, and a bad time step", function()
    for _, case in ipairs { { 0, "0.0" }, { -0.02, "-0.019999999552965" }, { 0 / 0, "nan" } } do
      local p = tampered(function(_, a) a["2_LIF.tau_mem"]:set(2, case[1]) end)
      local ok, err = pcall(lp.nn.load, p)
      assert.is_false(ok)
      assert.matches("^nn%.load: '" .. esc(p) .. "': array '2_LIF%.tau_mem' holds " .. esc(case[2]):sub(1, 6), err)
      assert.matches("at position 2 %(time constants must be positive and finite%)$", err)
    end
    local p = tampered(function(t) t.root.children[2].attrs.dt = 0.0 end)
    assert.has_error(function() lp.nn.load(p) end,
      "nn.load: '" .. p .. "': attribute '2_LIF.dt' is 0.0 (the time step must be positive and finite)")
    -- an untouched file still loads and runs
    local good = tampered(function() end)
    local net = lp.nn.load(good)
    assert.are.same({ 1, 4, 3 }, net(lp.ones(1, 4, 2)).shape)
  end)
end)

describe("finding 10: libhdf5's leaks on corrupt files", function()
  it("are suppressed for third-party libraries only (libhdf5 among them), in a documented file", function()
    local f = assert(io.open("spec/fuzz/lsan.supp", "rb"))
    local rules = {}
    for line in f:lines() do
      if not line:match("^%s*#") and line:match("%S") then rules[#rules + 1] = line end
    end
    f:close()
    assert.are.equal("leak:libhdf5", rules[1])
    for _, r in ipairs(rules) do assert.matches("^leak:lib[%w%-%.]+$", r) end   -- libraries, never limpet
    local mk = assert(io.open("Makefile", "rb")):read("a")
    assert.truthy(mk:find("suppressions=$(CURDIR)/spec/fuzz/lsan.supp", 1, true))
  end)
end)
