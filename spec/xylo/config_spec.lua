-- spec/xylo/config_spec.lua -- limpet.xylo.limits and the configuration objects:
-- config_from_specification, validation against the §5 limits, JSON save/load.
local lp = require "limpet"
local json = require "limpet.json"
local limits = require "limpet.xylo.limits"
local xylo = require "limpet.xylo"

local FX = "spec/fixtures/xylo/"

local function fixture(kind)
  local f = assert(io.open(FX .. "xylo_" .. kind .. "_1.json", "rb"))
  local case = json.decode(f:read("a"))
  f:close()
  for _, a in ipairs(case.spec.aliases) do   -- files are 0-based, Lua 1-based
    for j = 1, #a do a[j] = a[j] + 1 end
  end
  return case
end

local function tmp(name)
  local base = os.tmpname()
  os.remove(base)
  return base .. "_" .. name
end

local function values(t) return t:astype("int64"):reshape(-1):totable() end

local function same_values(a, b)
  if lp.is_tensor(b) then b = values(b) end
  if type(b) == "table" and type(b[1]) == "table" then b = values(lp.tensor(b, "int64")) end
  assert.are.same(b, values(a))
end

-- a small valid spec: 3 in -> 4 hidden -> 2 out, one synapse
local function tiny(extra)
  local s = {
    weights_in = { { 1, 2, 0, 0 }, { 0, 3, 4, 0 }, { 5, 0, 0, 6 } },
    weights_rec = { { 0, 1, 0, 0 }, { 0, 0, 1, 0 }, { 0, 0, 0, 1 }, { 1, 0, 0, 0 } },
    weights_out = { { 1, 0 }, { 0, 1 }, { 2, 0 }, { 0, 2 } },
    dash_mem = { 2, 2, 3, 3 }, dash_syn = { 1, 1, 2, 2 }, dash_mem_out = { 4, 4 }, dash_syn_out = { 1, 1 },
    threshold = { 100, 100, 200, 200 }, threshold_out = { 50, 60 },
  }
  for k, v in pairs(extra or {}) do s[k] = v end
  return s
end

describe("limpet.xylo.limits", function()
  it("describes the three variants (§5)", function()
    assert.are.same({ "audio2", "audio3", "imu" }, limits.variants)
    local a2, a3, imu = limits.for_variant("audio2"), limits.for_variant("audio3"), limits.for_variant("imu")
    assert.are.same({ 16, 1000, 8, 2, 64, 32000 }, { a2.n_in, a2.n_hidden, a2.n_out, a2.n_syn, a2.max_fanout, a2.max_rec_weights })
    assert.are.same({ 16, 992, 32, 2, 128, 128, 1024, 31744 },
      { a3.n_in, a3.n_hidden, a3.n_out, a3.n_syn, a3.n_ien, a3.n_oen, a3.max_fanout, a3.max_rec_weights })
    assert.are.same({ 16, 496, 16, 1, 128, 128, 512, 31744 },
      { imu.n_in, imu.n_hidden, imu.n_out, imu.n_syn, imu.n_ien, imu.n_oen, imu.max_fanout, imu.max_rec_weights })
    for _, L in ipairs { a2, a3, imu } do
      assert.are.same({ -128, 127, 0, 7, 0, 15, -32768, 32767, 15, 31, 1 },
        { L.weight_min, L.weight_max, L.shift_min, L.shift_max, L.dash_min, L.dash_max,
          L.threshold_min, L.threshold_max, L.max_input_events, L.max_hidden_spikes, L.max_output_spikes })
    end
    assert.is_false(a2.ien_first)
    assert.is_true(imu.oen_last)
    assert.is_true(limits.is_variant("imu"))
    assert.is_false(limits.is_variant("xylo1"))
  end)

  it("rejects unknown variants and writes", function()
    assert.has_error(function() limits.for_variant("xylo1") end,
      "bad argument #1 to 'for_variant' (unknown Xylo variant 'xylo1'; expected audio2, audio3 or imu)")
    assert.has_error(function() limits.for_variant("imu").n_hidden2 = 5 end,
      "limits are read-only (field 'n_hidden2')")
  end)
end)

describe("limpet.xylo config_from_specification", function()
  it("builds a valid Audio 2 config from an oracle spec (2 synapses, biases)", function()
    local case = fixture("hwtest")
    local s = case.spec
    local c, ok, msg = xylo.audio2.config_from_specification(s)
    assert.is_true(ok, msg)
    assert.is_nil(msg)
    assert.are.equal("audio2", c.variant)
    assert.are.same({ 16, 120, 8, 2, 120, 120 }, { c.n_in, c.n_hidden, c.n_out, c.n_syn, c.n_ien, c.n_oen })
    assert.are.equal("int8", c.weights_in.dtype)
    assert.are.equal("int8", c.dash_mem.dtype)
    assert.are.equal("int16", c.threshold.dtype)
    assert.are.equal("int16", c.bias_out.dtype)
    same_values(c.weights_in, s.weights_in)
    same_values(c.weights_rec, s.weights_rec)
    same_values(c.weights_out, s.weights_out)
    for _, k in ipairs { "dash_mem", "dash_syn", "dash_syn_2", "dash_mem_out", "dash_syn_out",
                         "threshold", "threshold_out", "bias", "bias_out" } do
      same_values(c[k], s[k])
    end
    assert.are.same({ s.weight_shift_in, s.weight_shift_rec, s.weight_shift_out },
      { c.weight_shift_in, c.weight_shift_rec, c.weight_shift_out })
    assert.is_true(c.bias_enable)
    assert.is_true(c.synapse2_enable)
    assert.is_true(c.aliasing)
    assert.are.equal("AcceleratedTime", c.operation_mode)
    assert.is_true(c.debug.isyn2_clock_enable)
    assert.is_true(c.debug.ram_power_enable)
    assert.is_false(c.debug.monitor_neuron_v_mem)
    assert.is_nil(c.input_source)
    assert.matches("^XyloConfig%(Xylo Audio 2: 16 in %-> 120 hidden %(2 syn", tostring(c))
  end)

  it("keeps aliases 1-based and the one-synapse layout", function()
    local s = fixture("aliases").spec
    local c, ok = xylo.audio2.config_from_specification(s)
    assert.is_true(ok)
    assert.are.same(s.aliases, c.aliases)
    assert.are.same({ 15 + 1 }, c.aliases[2])
    local c1, ok1 = xylo.audio2.config_from_specification(fixture("small1").spec)
    assert.is_true(ok1)
    assert.are.equal(1, c1.n_syn)
    assert.are.same({ 4, 8, 1 }, c1.weights_in.shape)
    assert.is_nil(c1.dash_syn_2)
    assert.is_false(c1.synapse2_enable)
    assert.is_false(c1.debug.isyn2_clock_enable)
  end)

  it("writes the IMU and Audio 3 fields", function()
    local c, ok = xylo.imu.config_from_specification(fixture("imu").spec)
    assert.is_true(ok)
    assert.is_false(c.imu_if_input_enable)
    assert.is_true(c.debug.always_update_omp_stat)
    assert.is_nil(c.debug.ram_power_enable)
    local c3, ok3 = xylo.audio3.config_from_specification(tiny { dt = 1e-3 })
    assert.is_true(ok3)
    assert.are.equal("SpikeEvents", c3.input_source)
    assert.are.equal(1e-3, c3.dt)
    assert.are.equal(50000, c3.time_resolution_wrap)
  end)

  it("fills Rockpool's defaults and accepts tensors of any integer dtype", function()
    local c, ok = xylo.audio2.config_from_specification {
      weights_in = lp.tensor({ { 1, 2 } }, "int64"), weights_out = lp.tensor({ { 3 }, { 4 } }, "int16"),
    }
    assert.is_true(ok)
    assert.are.same({ 1, 2, 1 }, { c.n_in, c.n_hidden, c.n_out })
    same_values(c.weights_rec, { { { 0 }, { 0 } }, { { 0 }, { 0 } } })
    same_values(c.dash_mem, { 1, 1 })
    same_values(c.dash_syn_out, { 1 })
    same_values(c.threshold, { 0, 0 })
    assert.are.same({ {}, {} }, c.aliases)
    assert.is_false(c.aliasing)
    assert.is_false(c.bias_enable)
    assert.are.same({ 0, 0, 0 }, { c.weight_shift_in, c.weight_shift_rec, c.weight_shift_out })
  end)

  it("broadcasts numbers, rounds float dashes half-to-even, reads bias_hidden", function()
    local c, ok = xylo.audio2.config_from_specification(tiny {
      dash_mem = lp.tensor({ 2.5, 3.5, 0.49, 2 }), dash_syn = 3, threshold = lp.tensor({ 7, 8, 9, 10 }, "float32"),
      bias_hidden = { 0, -1, 0, 0 },
    })
    assert.is_true(ok)
    same_values(c.dash_mem, { 2, 4, 0, 2 })
    same_values(c.dash_syn, { 3, 3, 3, 3 })
    same_values(c.threshold, { 7, 8, 9, 10 })
    same_values(c.bias, { 0, -1, 0, 0 })
    assert.is_true(c.bias_enable)
  end)

  it("pads a 2-D weights_rec to the synapse count of weights_in", function()
    local s = tiny()
    s.weights_in = { { { 1, 2 }, { 0, 0 }, { 0, 0 }, { 0, 0 } } }
    local c, ok = xylo.audio2.config_from_specification(s)
    assert.is_true(ok)
    assert.are.equal(2, c.n_syn)
    same_values(c.weights_rec:slice(3, 2, 2), lp.zeros({ 4, 4, 1 }, "int8"))
    same_values(c.weights_rec:slice(3, 1, 1):reshape({ 4, 4 }), tiny().weights_rec)
    same_values(c.dash_syn_2, { 1, 1, 1, 1 })
  end)

  it("raises on malformed specifications, naming the field", function()
    local f = xylo.audio2.config_from_specification
    local E = "bad argument #1 to 'config_from_specification' ("
    assert.has_error(function() f(5) end, E .. "table expected, got number)")
    assert.has_error(function() f(tiny { treshold = { 1 } }) end, E .. "unknown field 'treshold')")
    assert.has_error(function() f { weights_out = { { 1 } } } end, E .. "missing field 'weights_in')")
    assert.has_error(function() f { weights_in = { { 1 } } } end, E .. "missing field 'weights_out')")
    assert.has_error(function() f(tiny { threshold = { 1, 2, 3 } }) end,
      E .. "field 'threshold': expected shape (4,), got (3,))")
    assert.has_error(function() f(tiny { weights_in = { 1, 2, 3, 4 } }) end,
      E .. "field 'weights_in': expected 2 or 3 dims, got shape (4,))")
    assert.has_error(function() f(tiny { weights_rec = { { 1, 2 } } }) end,
      E .. "field 'weights_rec': expected a square (N, N[, Nsyn]) matrix, got shape (1, 2, 1))")
    assert.has_error(function() f(tiny { weights_out = { { 1 }, { 2 }, { 3 }, { 4 }, { 5 } } }) end,
      E .. "field 'weights_out': 5 output-expansion rows for 4 hidden neurons)")
    assert.has_error(function() f(tiny { weights_in = { { 1, 2 }, { 3 } } }) end,
      E .. "field 'weights_in': ragged nested table (a row of length 1, expected 2))")
    assert.has_error(function() f(tiny { dash_mem = "fast" }) end,
      E .. "field 'dash_mem' must be a tensor, a nested table or a number, got string)")
    assert.has_error(function() f(tiny { threshold = { 1, 0 / 0, 1, 1 } }) end,
      E .. "field 'threshold' holds nan at [2])")
    assert.has_error(function() f(tiny { weight_shift_in = { 1, 2 } }) end,
      E .. "field 'weight_shift_in' must be a single integer, got shape (2,))")
    assert.has_error(function() f(tiny { aliases = { {}, {} } }) end,
      E .. "field 'aliases': expected 4 lists (one per hidden neuron), got 2)")
    assert.has_error(function() f(tiny { aliases = { {}, { 1.5 }, {}, {} } }) end,
      E .. "field 'aliases': entry 2 holds 1.5, expected an integer hidden id)")
    assert.has_error(function() f(tiny { bias = { 0, 0, 0, 0 }, bias_hidden = { 0, 0, 0, 0 } }) end,
      E .. "fields 'bias' and 'bias_hidden' both given; use 'bias')")
    assert.has_error(function() f(tiny { weights_in = lp.zeros({ 3, 4, 3 }, "int8") }) end,
      E .. "weights: 3 synapses per hidden neuron, at most 2 are supported)")
  end)

  it("reports every limit of §5 with ok = false and the field", function()
    local function invalid(variant, extra, msg)
      local c, ok, m = xylo[variant].config_from_specification(tiny(extra))
      assert.is_false(ok)
      assert.are.equal(msg, m)
      assert.are.equal("int32", c.weights_in.dtype)   -- nothing wrapped
    end
    invalid("audio2", { weights_in = { { 200, 2, 0, 0 }, { 0, 3, 4, 0 }, { 5, 0, 0, 6 } } },
      "weights_in: 200 at [1, 1, 1] is outside [-128, 127] (int8 weights, 8 bits)")
    invalid("audio2", { weights_out = { { 1, 0 }, { 0, -129 }, { 2, 0 }, { 0, 2 } } },
      "weights_out: -129 at [2, 2] is outside [-128, 127] (int8 weights, 8 bits)")
    invalid("audio2", { weight_shift_rec = 8 }, "weight_shift_rec: 8 is outside [0, 7] (3-bit weight shift)")
    invalid("audio2", { dash_syn_out = { 1, 16 } }, "dash_syn_out: 16 at [2] is outside [0, 15] (4-bit dash)")
    invalid("audio2", { dash_mem = { 1, -1, 1, 1 } }, "dash_mem: -1 at [2] is outside [0, 15] (4-bit dash)")
    invalid("audio2", { threshold = { 1, 1, 40000, 1 } },
      "threshold: 40000 at [3] is outside [-32768, 32767] (16-bit threshold)")
    invalid("imu", { bias_out = { 0, -40000 } }, "bias_out: -40000 at [2] is outside [-32768, 32767] (16-bit bias)")
    invalid("audio2", { aliases = { {}, { 5 }, {}, {} } }, "aliases[2]: target 5 is not a hidden neuron id (1..4)")
    invalid("audio2", { aliases = { {}, { 3, 4 }, {}, {} } },
      "aliases[2]: 2 targets, the chip holds one alias target per neuron")
    invalid("audio2", { weights_in = lp.ones({ 17, 4 }, "int8") }, "weights_in: 17 input channels, Xylo Audio 2 has 16")
    invalid("audio2", { weights_out = lp.ones({ 4, 9 }, "int8"), dash_mem_out = 1, dash_syn_out = 1, threshold_out = 1 },
      "weights_out: 9 output neurons, Xylo Audio 2 has 8")
    invalid("imu", { weights_in = lp.ones({ 3, 4, 2 }, "int8") },
      "weights_rec: 2 synapses per hidden neuron, Xylo IMU has 1")
  end)

  it("checks the hidden count, fan-out and the total recurrent weights", function()
    local function spec(n, per_row, cols)
      local w = lp.zeros({ n, n }, "int8")
      w:slice(2, 1, cols or per_row):fill_(1)
      return { weights_in = lp.zeros({ 2, n }, "int8"), weights_rec = w, weights_out = lp.zeros({ n, 1 }, "int8") }
    end
    local _, ok, msg = xylo.imu.config_from_specification(spec(497, 1))
    assert.is_false(ok)
    assert.are.equal("weights_rec: 497 hidden neurons, Xylo IMU has 496", msg)
    _, ok, msg = xylo.audio2.config_from_specification(spec(100, 65))
    assert.is_false(ok)
    assert.are.equal("weights_rec: hidden neuron 1 has 65 recurrent targets, Xylo Audio 2 allows 64 per neuron", msg)
    _, ok = xylo.audio2.config_from_specification(spec(100, 64))
    assert.is_true(ok)
    _, ok, msg = xylo.audio2.config_from_specification(spec(1000, 33))
    assert.is_false(ok)
    assert.are.equal("weights_rec: 33000 nonzero recurrent weights on synapse 1, Xylo Audio 2 holds 32000", msg)
    _, ok = xylo.audio2.config_from_specification(spec(1000, 32))
    assert.is_true(ok)
  end)

  it("keeps IEN first / OEN last on IMU and Audio 3, trimming only all-zero extras", function()
    local n = 200
    local win = lp.zeros({ 2, n }, "int8")
    win:slice(2, 1, 3):fill_(1)
    local wout = lp.zeros({ n, 2 }, "int8")
    wout:slice(1, n - 1, n):fill_(2)
    local c, ok, msg = xylo.audio3.config_from_specification {
      weights_in = win, weights_rec = lp.zeros({ n, n }, "int8"), weights_out = wout }
    assert.is_true(ok, msg)
    assert.are.same({ 128, 128 }, { c.n_ien, c.n_oen })
    same_values(c.weights_out:slice(1, 127, 128), { { 2, 2 }, { 2, 2 } })
    win:slice(2, 129, 129):fill_(1)
    c, ok, msg = xylo.imu.config_from_specification {
      weights_in = win, weights_rec = lp.zeros({ n, n }, "int8"), weights_out = wout }
    assert.is_false(ok)
    assert.are.equal("weights_in: 200 input-expansion neurons (columns), Xylo IMU allows 128", msg)
    assert.are.equal(200, c.n_ien)
  end)

  it("accepts a config as a specification and validates edited configs", function()
    local c = xylo.audio2.config_from_specification(fixture("small").spec)
    local c2, ok = xylo.audio2.config_from_specification(c)
    assert.is_true(ok)
    same_values(c2.weights_rec, c.weights_rec)
    assert.are.same({ true }, { xylo.validate_config(c) })
    c.weight_shift_in = 9
    assert.are.same({ false, "weight_shift_in: 9 is outside [0, 7] (3-bit weight shift)" }, { xylo.validate_config(c) })
    c.weight_shift_in = 0
    assert.are.same({ false, "variant: configuration is for 'audio2', not 'imu'" }, { xylo.imu.validate_config(c) })
    c.operation_mode = "Fast"
    assert.are.same({ false, "operation_mode: 'Fast' is not one of AcceleratedTime, Manual, RealTime" },
      { xylo.validate_config(c) })
  end)
end)

describe("limpet.xylo save_config / load_config", function()
  local function equal_configs(a, b)
    local keys = {}
    for k in pairs(a) do keys[#keys + 1] = k end
    for k in pairs(b) do if a[k] == nil then keys[#keys + 1] = k end end
    for _, k in ipairs(keys) do
      local x, y = a[k], b[k]
      if lp.is_tensor(x) then
        assert.is_true(lp.is_tensor(y), k)
        assert.are.equal(x.dtype, y.dtype, k)
        assert.are.same(x.shape, y.shape, k)
        assert.are.same(values(x), values(y), k)
      else
        assert.are.same(x, y, k)
      end
    end
  end

  it("round-trips every variant exactly", function()
    for _, case in ipairs {
      { "audio2", fixture("aliases").spec }, { "audio2", fixture("hwtest").spec },
      { "imu", fixture("imu").spec }, { "audio3", tiny { dt = 2e-3, aliases = { { 2 }, {}, { 1 }, {} } } },
      { "audio2", { weights_in = lp.zeros({ 2, 0 }, "int8"), weights_rec = lp.zeros({ 3, 3, 2 }, "int8"),
                    weights_out = lp.zeros({ 0, 1 }, "int8") } },
    } do
      local c, ok, msg = xylo[case[1]].config_from_specification(case[2])
      assert.is_true(ok, msg)
      c.debug.monitor_neuron_v_mem = { 1, c.n_hidden }
      local path = tmp("cfg.json")
      assert.are.same({ true }, { xylo.save_config(c, path) })
      local back = assert(xylo.load_config(path))
      assert.are.equal(getmetatable(c), getmetatable(back))
      equal_configs(c, back)
      os.remove(path)
    end
  end)

  it("writes our documented layout, ids 0-based", function()
    local c = xylo.audio2.config_from_specification(tiny { aliases = { { 2 }, {}, {}, { 1 } } })
    c.debug.monitor_neuron_spike = { 1, 4 }
    local path = tmp("layout.json")
    assert(xylo.save_config(c, path))
    local f = assert(io.open(path, "rb"))
    local text = f:read("a")
    f:close()
    assert.matches('^{\n  "format": "limpet.xylo.config",\n  "version": 1,\n  "variant": "audio2",\n', text)
    local doc = json.decode(text)
    assert.are.same({ { 1 }, {}, {}, { 0 } }, doc.aliases)
    assert.are.same({ 0, 3 }, doc.debug.monitor_neuron_spike)
    assert.are.same({ { { 1 }, { 2 }, { 0 }, { 0 } }, { { 0 }, { 3 }, { 4 }, { 0 } }, { { 5 }, { 0 }, { 0 }, { 6 } } },
      doc.weights_in)
    assert.are.same({ 100, 100, 200, 200 }, doc.threshold)
    -- nothing but the file itself is left behind (temp file renamed)
    local dir, base = path:match("^(.*)/([^/]*)$")
    for _, name in ipairs(lp.listdir(dir)) do
      assert.is_nil(name:find(base .. ".tmp", 1, true))
    end
    os.remove(path)
  end)

  it("returns nil, message for files that are not there or not writable", function()
    local path = tmp("missing.json")
    local c, msg = xylo.load_config(path)
    assert.is_nil(c)
    assert.are.equal("load_config: '" .. path .. "': No such file or directory", msg)
    local cfg = xylo.audio2.config_from_specification(tiny())
    local ok, err = xylo.save_config(cfg, "/nonexistent-dir/x.json")
    assert.is_nil(ok)
    assert.are.equal("save_config: '/nonexistent-dir/x.json': No such file or directory", err)
  end)

  it("rejects bad arguments and invalid configurations on save", function()
    assert.has_error(function() xylo.save_config({}, "x.json") end,
      "bad argument #1 to 'save_config' (XyloConfig expected, got table)")
    local c = xylo.audio2.config_from_specification(tiny())
    assert.has_error(function() xylo.save_config(c, 5) end,
      "bad argument #2 to 'save_config' (string expected, got number)")
    assert.has_error(function() xylo.load_config(5) end,
      "bad argument #1 to 'load_config' (string expected, got number)")
    c.threshold = lp.tensor({ 1, 2, 3, 99999 }, "int32")
    assert.has_error(function() xylo.save_config(c, tmp("bad.json")) end,
      "bad argument #1 to 'save_config' (invalid configuration: threshold: 99999 at [4] is outside "
      .. "[-32768, 32767] (16-bit threshold))")
  end)

  it("raises on corrupt or out-of-range files, naming the field", function()
    local c = xylo.audio2.config_from_specification(tiny { aliases = { { 2 }, {}, {}, {} } })
    local good = tmp("good.json")
    assert(xylo.save_config(c, good))
    local f = assert(io.open(good, "rb"))
    local text = f:read("a")
    f:close()
    os.remove(good)
    local function bad(edit, msg)
      local path = tmp("bad.json")
      local out = assert(io.open(path, "wb"))
      out:write(edit(text))
      out:close()
      local ok, err = pcall(xylo.load_config, path)
      os.remove(path)
      assert.is_false(ok)
      assert.are.equal("load_config: '" .. path .. "' " .. msg, (err:gsub("^.-:%d+: ", "", 1)))
    end
    local function sub(a, b) return function(s) return (s:gsub(a, b, 1)) end end
    bad(sub('"threshold": %[100,', '"threshold": [40000,'),
      "field 'threshold': 40000 at [1] is outside [-32768, 32767] (16-bit threshold)")
    bad(sub('"weight_shift_in": 0', '"weight_shift_in": 9'),
      "field 'weight_shift_in': 9 is outside [0, 7] (3-bit weight shift)")
    bad(sub('"dash_mem": %[2,', '"dash_mem": [2.5,'), "field 'dash_mem': 2.5 at [1] is not an integer")
    bad(sub('"dash_mem": %[2,2,', '"dash_mem": [2,'), "field 'dash_mem': expected shape (4,), got (3,)")
    bad(sub('"aliases": %[%[1%]', '"aliases": [[7]'),
      "field 'aliases[1]': target 8 is not a hidden neuron id (1..4)")
    bad(sub('"bias_enable": false', '"bias_enable": 0'), "field 'bias_enable': expected true or false, got 0")
    bad(sub('"dash_syn": %[[^%]]*%],\n', ''), "missing field 'dash_syn'")
    bad(sub('"n_out": 2', '"n_out": 2, "colour": 1'), "unknown field 'colour'")
    bad(sub('"version": 1', '"version": 2'), "field 'version': unsupported version 2 (expected 1)")
    bad(sub('"variant": "audio2"', '"variant": "xylo1"'), "field 'variant': unknown Xylo variant 'xylo1'")
    bad(sub('"format": "limpet.xylo.config"', '"format": "samna"'),
      "is not a limpet Xylo configuration (field 'format' must be 'limpet.xylo.config')")
    bad(function(s) return s:sub(1, 100) end,
      "is not valid JSON (']' expected near end of file at position 101)")
  end)
end)
