-- spec/xylo/image_spec.lua -- memory images (devices/xylo/image.lua) and the virtual board
-- (devices/xylo/hdk.lua): config -> image -> VirtualHDK gives what XyloSim.from_config
-- gives, on every XyloSim oracle case and on random valid configurations of all three
-- variants; image -> config gives the configuration back; the words sit where the maps
-- say; the IMU board runs raw IMU samples through the IMU interface; misuse is refused.
local lp = require "limpet"
local json = require "limpet.json"
local xylo = require "limpet.xylo"
local image = require "limpet.xylo.image"

local function read(path)
  local f = assert(io.open(path, "rb"))
  local s = f:read("a")
  f:close()
  return s
end

local function fixture(name)
  local c = json.decode(read("spec/fixtures/xylo/xylo_" .. name .. "_1.json"))
  for _, a in ipairs(c.spec.aliases) do for j = 1, #a do a[j] = a[j] + 1 end end   -- files are 0-based
  return c
end

local function equal(a, b)
  return lp.is_tensor(a) and lp.is_tensor(b) and a:numel() == b:numel()
    and a:astype("int64"):reshape(-1):ne(b:astype("int64"):reshape(-1)):sum():item() == 0
end

local RECORDS = { "Vmem", "Isyn", "Isyn2", "Spikes", "Vmem_out", "Isyn_out" }

-- the board and the simulator agree on output and every record
local function same_run(variant, cfg, input, dt, img)
  img = img or xylo[variant].config_to_image(cfg)
  local hdk = xylo[variant].VirtualHDK { dt = dt }:write_image(img)
  local o1, s1, r1 = xylo[variant].XyloSim.from_config(cfg, { dt = dt })(input, true)
  local o2, s2, r2 = hdk(input, true)
  assert.is_true(equal(o1, o2), variant .. ": outputs differ")
  for _, k in ipairs(RECORDS) do
    if r1[k] then assert.is_true(equal(r1[k], r2[k]), variant .. ": record " .. k .. " differs")
    else assert.is_nil(r2[k]) end
  end
  assert.is_true(equal(s1.Vmem, s2.Vmem))
  return o2, r2, hdk
end

-- (1, T, N) tensor equals the oracle's (T, N) table
local function same_steps(got, exp)
  assert.is_true(equal(got, lp.tensor(exp, "int64")))
end

-- the fields a chip holds, padded as Audio 2 reads them back (every hidden neuron an
-- IEN and an OEN there)
local function chip_fields(c)
  local f = {}
  for _, k in ipairs { "variant", "n_in", "n_hidden", "n_out", "n_syn", "weight_shift_in", "weight_shift_rec",
    "weight_shift_out", "aliasing", "bias_enable", "synapse2_enable", "enable_hibernation_mode", "operation_mode",
    "time_resolution_wrap", "imu_if_input_enable", "input_source" } do f[k] = c[k] end
  f.always_update_omp_stat = c.debug.always_update_omp_stat
  for _, k in ipairs { "weights_rec", "dash_mem", "dash_syn", "dash_syn_2", "dash_mem_out", "dash_syn_out",
    "threshold", "threshold_out", "bias", "bias_out" } do
    f[k] = c[k] and c[k]:astype("int64"):reshape(-1):totable()
  end
  local win, wout = c.weights_in:astype("int64"), c.weights_out:astype("int64")
  if c.variant == "audio2" then
    local nh = c.n_hidden
    if c.n_ien < nh then
      win = lp.cat({ win, lp.zeros({ c.n_in, nh - c.n_ien, c.n_syn }, "int64") }, 2)
    end
    if c.n_oen < nh then
      wout = lp.cat({ lp.zeros({ nh - c.n_oen, c.n_out }, "int64"), wout }, 1)
    end
  else
    f.n_ien, f.n_oen = c.n_ien, c.n_oen
  end
  f.weights_in = win:reshape(-1):totable()
  f.weights_out = wout:reshape(-1):totable()
  f.aliases = c.aliases
  return f
end

describe("config -> image -> VirtualHDK on the XyloSim oracles", function()
  for _, name in ipairs { "small", "small1", "hwtest", "saturate", "aliases", "manyspikes", "dash_extremes", "imu" } do
    it("reproduces " .. name .. " on " .. (name == "imu" and "Xylo IMU" or "Audio 2") .. " and Audio 3", function()
      local c = fixture(name)
      local own = c.kind == "imu" and "imu" or "audio2"
      for _, variant in ipairs { own, "audio3" } do
        local cfg, ok, msg = xylo[variant].config_from_specification(c.spec)
        assert.is_true(ok, msg)
        local out, rec = same_run(variant, cfg, c.input, c.dt)
        same_steps(out, c.expected.Spikes_out)
        for _, k in ipairs(RECORDS) do
          if c.expected[k] then same_steps(rec[k], c.expected[k]) end
        end
        -- and the image reads back as the same configuration
        local back = xylo[variant].image_to_config(xylo[variant].config_to_image(cfg))
        assert.are.same(chip_fields(cfg), chip_fields(back))
      end
    end)
  end
end)

-- Random valid configurations --------------------------------------------------------

local function rnd(lo, hi, shape) return lp.randint(lo, hi + 1, shape):astype("int32") end

local function random_config(variant, seed)
  lp.seed(seed)
  math.randomseed(seed)
  local L = xylo[variant].limits
  local nin = math.random(1, 16)
  local nh = math.random(2, 48)
  local nout = math.random(1, L.n_out)
  local ns = variant == "imu" and 1 or math.random(1, 2)
  local nien = (variant == "audio2") and (math.random() < 0.5 and nh or math.random(1, nh)) or math.random(1, math.min(nh, 128))
  local noen = math.random(1, nh)
  local function sparse(shape, p)
    local w = rnd(-128, 127, shape)
    return w * lp.lt(lp.rand(shape), p):astype("int32")
  end
  local spec = {
    weights_in = sparse({ nin, nien, ns }, 0.6),
    weights_rec = sparse({ nh, nh, ns }, 0.15),
    weights_out = sparse({ noen, nout }, 0.7),
    dash_mem = rnd(0, 15, { nh }), dash_syn = rnd(0, 15, { nh }),
    dash_mem_out = rnd(0, 15, { nout }), dash_syn_out = rnd(0, 15, { nout }),
    threshold = rnd(-200, 6000, { nh }), threshold_out = rnd(1, 8000, { nout }),
    weight_shift_in = math.random(0, 7), weight_shift_rec = math.random(0, 7), weight_shift_out = math.random(0, 7),
  }
  if ns == 2 then spec.dash_syn_2 = rnd(0, 15, { nh }) end
  if math.random() < 0.6 then
    spec.bias = rnd(-300, 300, { nh })
    spec.bias_out = rnd(-300, 300, { nout })
  end
  if math.random() < 0.6 then
    local al = {}
    for i = 1, nh do al[i] = math.random() < 0.2 and { math.random(1, nh) } or {} end
    spec.aliases = al
  end
  if math.random() < 0.5 and variant ~= "imu" then spec.dt = ({ 1e-3, 5e-4, 2e-3 })[math.random(1, 3)] end
  local cfg, ok, msg = xylo[variant].config_from_specification(spec)
  assert.is_true(ok, msg)
  if math.random() < 0.3 then cfg.operation_mode = "Manual" end
  if math.random() < 0.3 then cfg.enable_hibernation_mode = true end
  local input = rnd(0, 3, { 2, 40, nin }) * lp.lt(lp.rand({ 2, 40, nin }), 0.4):astype("int32")
  return cfg, input
end

describe("config -> image -> VirtualHDK on random configurations", function()
  for _, variant in ipairs { "audio2", "audio3", "imu" } do
    it("agrees with XyloSim.from_config and reads back on " .. variant, function()
      for seed = 1, 12 do
        local cfg, input = random_config(variant, 1000 * #variant + seed)
        local img = xylo[variant].config_to_image(cfg)
        same_run(variant, cfg, input, 1e-3, img)
        local back = xylo[variant].image_to_config(img)
        assert.are.same(chip_fields(cfg), chip_fields(back))
        if cfg.dt and variant ~= "imu" then assert.are.equal(cfg.dt, back.dt) end
        -- an image of the read-back configuration is the same list of writes
        if variant ~= "audio2" then
          local img2 = xylo[variant].config_to_image(back)
          assert.is_true(equal(img.address, img2.address) and equal(img.value, img2.value))
        end
      end
    end)
  end
end)

describe("memory images", function()
  local function tiny(variant, extra)
    local spec = {
      weights_in = { { { 1 }, { -1 }, { 0 } }, { { 0 }, { 2 }, { 3 } } },
      weights_rec = { { { 0 }, { 5 }, { 0 } }, { { 0 }, { 0 }, { -7 } }, { { 9 }, { 0 }, { 0 } } },
      weights_out = { { 4, 0 }, { 0, -4 }, { 1, 1 } },
      dash_mem = { 1, 2, 3 }, dash_syn = { 4, 5, 6 }, dash_mem_out = { 7, 8 }, dash_syn_out = { 9, 10 },
      threshold = { 100, -2, 300 }, threshold_out = { 400, 500 }, bias = { -1, 0, 1 }, bias_out = { 0, 2 },
      weight_shift_in = 1, weight_shift_rec = 2, weight_shift_out = 3, aliases = { {}, { 3 }, {} },
    }
    for k, v in pairs(extra or {}) do spec[k] = v end
    local cfg, ok, msg = xylo[variant].config_from_specification(spec)
    assert.is_true(ok, msg)
    return cfg
  end
  local function words(img)
    local t = {}
    for a, v in img:writes() do t[a] = v end
    return t
  end

  it("puts Audio 3 words where reg.py and §5.1 say", function()
    local img = xylo.audio3.config_to_image(tiny("audio3"))
    local w = words(img)
    assert.are.equal(0x01, img.address:get(1))               -- CTRL1 first
    -- CTRL1: ALIAS_EN, BIAS_EN, IWBS 1, HWBS 2, OWBS 3
    assert.are.equal(4 + 8 + (1 << 4) + (2 << 8) + (3 << 12), w[0x01] & 0xFFFF)
    assert.are.equal(2 | 3 << 8 | 3 << 16, w[0x02])         -- CTRL2: IN 2, IEN 3, HN 3
    assert.are.equal(2 | 3 << 8, w[0x03])                   -- CTRL3: ON 2, OEN 3
    assert.are.equal(1, w[0x200]); assert.are.equal(255, w[0x201])   -- IWTRAM: channel 1, neurons 1-2
    assert.are.equal(2, w[0x200 + 128 + 1])                 -- channel 2, neuron 2
    assert.are.equal(4, w[0x1DE0]); assert.are.equal(9, w[0x1DE0 + 992])   -- NDSRAM hidden / output
    assert.are.equal(65534, w[0x2DC0 + 1])                  -- NTHRAM: -2 as 16 bits
    assert.are.equal(65535, w[0x29C0])                      -- NBRAM: bias -1
    assert.are.same({ 1, 1, 1 }, { w[0x3D60], w[0x3D61], w[0x3D62] })   -- HEFOCRAM: one target each
    assert.are.same({ 1, 2, 0 }, { w[0x4140], w[0x4141], w[0x4142] })   -- HFORAM: targets (0-based)
    assert.are.same({ 5, 249, 9 }, { w[0xBD40], w[0xBD41], w[0xBD42] }) -- HWTRAM: 5, -7, 9
    assert.are.same({ 0, 1, 0 }, { w[0x31C0], w[0x31C1], w[0x31C2] })  -- HCRAM: neuron 2 has an alias
    assert.are.equal(2, w[0x35A1])                          -- HARAM: target 3 (0-based 2)
    assert.are.equal(252, w[0x1B540 + 32 + 1])              -- OWTRAM: OEN 2, output 2: -4
    assert.is_nil(w[0x1200])                                -- no state RAM written
    assert.are.equal("XyloImage(Xylo Audio 3: " .. #img .. " writes, 3 registers, " .. (#img - 3) .. " RAM words)", tostring(img))
  end)

  it("puts Audio 2 words in its map (NBRAM at 0x9590, counts in CTRL2, readout by hidden id)", function()
    local img = xylo.audio2.config_to_image(tiny("audio2", { dt = 1e-3 }))
    local w = words(img)
    assert.are.equal(2 | 2 << 8 | 3 << 16, w[0x02])         -- IN 2, ON 2, HN 3
    assert.are.equal(50000, w[0x03]); assert.are.equal(50000, w[0x04])   -- TR_WRAP, HM_TR_WRAP at 50 MHz
    assert.are.equal(65535, w[0x9590])                      -- NBRAM
    assert.are.equal(100, w[0x9980])                        -- NTHRAM
    assert.are.equal(1, w[0x0100]); assert.are.equal(255, w[0x0101])   -- IWTRAM
    assert.are.equal(2, w[0x0100 + 1000 + 1])
    assert.are.equal(252, w[0x22410 + 8 + 1])              -- OWTRAM row = hidden 2
    assert.are.equal(1e-3, xylo.audio2.image_to_config(img).dt)
  end)

  it("reads back from a plain list of writes, later writes winning", function()
    local cfg = tiny("audio3")
    local list = xylo.audio3.config_to_image(cfg):totable()
    list[#list + 1] = { 0x2DC0, 77 }                          -- threshold of hidden 1
    local back = xylo.audio3.image_to_config(list)
    assert.are.equal(77, back.threshold:get(1))
    assert.has_error(function() image.image_to_config(list) end,
      "bad argument #1 to 'image_to_config' (a list of writes needs the variant)")
  end)

  it("refuses what a chip cannot hold", function()
    assert.has_error(function() xylo.audio2.config_to_image({}) end,
      "bad argument #1 to 'config_to_image' (a Xylo configuration expected (config_from_specification), got table)")
    local cfg = tiny("audio3")
    assert.has_error(function() xylo.audio2.config_to_image(cfg) end,
      "bad argument #1 to 'config_to_image' (configuration for audio3, not Xylo Audio 2)")
    cfg.weight_shift_in = 9
    assert.has_error(function() xylo.audio3.config_to_image(cfg) end,
      "bad argument #1 to 'config_to_image' (invalid configuration: weight_shift_in: 9 is outside [0, 7] (3-bit weight shift))")
    assert.has_error(function() xylo.audio3.config_to_image(tiny("audio3"), { imu_if = {} }) end,
      "bad argument #2 to 'config_to_image' (field 'imu_if': only Xylo IMU has an IMU interface)")
    -- more (pre, post) pairs than the fan-out RAM: on Audio 3 each synapse may hold 31744
    -- weights, but a fan-out entry serves both synapses of one (pre, post) pair
    local n = 180
    local ij = lp.arange(0, n):reshape(n, 1) + lp.arange(0, n):reshape(1, n)
    local even = (ij % 2):eq(0):astype("int32")
    local rec = lp.stack({ even, 1 - even }, 3)                 -- 16200 + 16200 weights, 32400 pairs
    local c3, ok3, msg3 = xylo.audio3.config_from_specification {
      weights_in = lp.ones({ 1, 1, 2 }, "int32"), weights_rec = rec, weights_out = lp.ones({ 1, 1 }, "int32"),
    }
    assert.is_true(ok3, msg3)
    assert.has_error(function() xylo.audio3.config_to_image(c3) end,
      "bad argument #1 to 'config_to_image' (weights_rec: 32400 (pre, post) pairs with a nonzero weight, the fan-out RAM holds 31744)")
  end)
end)

describe("VirtualHDK", function()
  it("keeps the SNN state between calls until a configuration word is written", function()
    local cfg, input = random_config("audio3", 7)
    local hdk = xylo.audio3.VirtualHDK():write_image(xylo.audio3.config_to_image(cfg))
    local whole = hdk(input:slice(1, 1, 1))
    hdk:reset_state()
    local a = hdk(input:slice(1, 1, 1):slice(2, 1, 20))
    local b = hdk(input:slice(1, 1, 1):slice(2, 21, 40))
    assert.is_true(equal(whole, lp.cat({ a, b }, 2)))
    hdk:write(0x02, hdk:read(0x02))                          -- rewriting CTRL2 rebuilds: zero state
    assert.is_true(equal(whole, hdk(input:slice(1, 1, 1))))
    assert.are.same(chip_fields(cfg), chip_fields((hdk:config())))
  end)

  it("runs raw IMU samples through the IMU interface on Xylo IMU", function()
    local cases = json.decode(read("spec/fixtures/imuif/imuif_1.json"))
    local c = cases[3]
    local imuif = xylo.imu.IMUIFSim {
      bypass_jsvd = c.bypass_jsvd, select_iaf_output = c.select_iaf_output, scale_values = c.scale_values,
      iaf_threshold_values = c.iaf_threshold_values, num_avg_bitshift = c.num_avg_bitshift, SAH_period = c.SAH_period,
    }
    lp.seed(3)
    local nh = 20
    local cfg, ok, msg = xylo.imu.config_from_specification {
      weights_in = lp.randint(-60, 60, { 16, nh }):astype("int32"), weights_out = lp.randint(-90, 90, { nh, 4 }):astype("int32"),
      weights_rec = lp.randint(-30, 30, { nh, nh }):astype("int32") * lp.lt(lp.rand({ nh, nh }), 0.1):astype("int32"),
      dash_mem = lp.full({ nh }, 2, "int32"), dash_syn = lp.full({ nh }, 3, "int32"),
      dash_mem_out = { 2, 2, 2, 2 }, dash_syn_out = { 3, 3, 3, 3 },
      threshold = lp.full({ nh }, 300, "int32"), threshold_out = { 200, 200, 200, 200 },
    }
    assert.is_true(ok, msg)
    local img = xylo.imu.config_to_image(cfg, { imu_if = imuif })
    local hdk = xylo.imu.VirtualHDK():write_image(img)
    local out, _, rec = hdk(c.input, true)
    -- the same through the pieces by hand
    local spikes = imuif(c.input)
    same_steps(spikes, c.expected)
    assert.is_true(equal(rec.imu_if, spikes))
    local padded = lp.cat({ spikes, lp.zeros({ 1, #c.input, 1 }, "int64") }, 3)
    local want = xylo.imu.XyloSim.from_config(cfg)(padded)
    assert.is_true(equal(want, out))
    assert.is_true(out:sum():item() > 0)
    local back, fields = xylo.imu.image_to_config(img)
    assert.is_true(back.imu_if_input_enable)
    assert.are.same(imuif:export_config(), fields)
  end)

  it("runs audio through a front end on Audio 3 and Audio 2 (front_end option)", function()
    for _, case in ipairs {
      { "audio3", function() return xylo.audio3.AFESimExternal { select_filters = { 2, 5, 9, 13 }, down_sampling_factor = 49 } end, 48828.125 },
      { "audio2", function() return xylo.audio2.AFESim { add_noise = false, add_mismatch = false } end, nil },
    } do
      local variant, make, fs = case[1], case[2], case[3]
      local afe = make()
      local probe = afe(lp.zeros(4096))                     -- how many channels the front end drives
      local nch = probe.shape[3]
      lp.seed(5)
      local nh = 12
      local cfg, ok, msg = xylo[variant].config_from_specification {
        weights_in = lp.randint(0, 90, { nch, nh }):astype("int32"), weights_out = lp.randint(-90, 90, { nh, 2 }):astype("int32"),
        dash_mem = lp.full({ nh }, 2, "int32"), dash_syn = lp.full({ nh }, 3, "int32"),
        dash_mem_out = { 2, 2 }, dash_syn_out = { 3, 3 },
        threshold = lp.full({ nh }, 60, "int32"), threshold_out = { 100, 100 },
      }
      assert.is_true(ok, msg)
      local n = 48828 // 4
      local t = lp.arange(0, n, "float64") / 48828.125
      local audio = ((t * 2 * math.pi * 1000):sin() * 0.3):astype("float64")
      local hdk = xylo[variant].VirtualHDK { front_end = make() }:write_image(xylo[variant].config_to_image(cfg))
      local out, _, rec = hdk(audio, true)
      local raster = rec.front_end:slice(3, 1, nch)         -- then zeros up to the decoded n_in
      if variant == "audio3" then                           -- integer chain: a fresh one gives the same
        assert.is_true(equal(raster, make()(audio)))
      end
      local want = xylo[variant].XyloSim.from_config(cfg)(raster)
      assert.is_true(equal(want, out))
      assert.is_true(rec.front_end:sum():item() > 0, variant .. ": the front end produced no events")
      assert.is_not_nil(rec.afe)
    end
    assert.has_error(function() xylo.audio3.VirtualHDK { front_end = {} } end,
      "bad argument #1 to 'VirtualHDK' (field 'front_end' must be an audio front end (AFESim, AFESimExternal or AFESimPDM))")
    assert.has_error(function() xylo.imu.VirtualHDK { front_end = xylo.audio3.AFESimExternal {} } end,
      "bad argument #1 to 'VirtualHDK' (field 'front_end': Xylo IMU takes its IMU interface from the image)")
  end)

  it("refuses bad writes and foreign images", function()
    local hdk = xylo.imu.VirtualHDK()
    assert.has_error(function() hdk:write(-1, 0) end,
      "bad argument #1 to 'write' (address must be an integer in 0..0x11DBF, got -1)")
    assert.has_error(function() hdk:write(0x200, 1 << 40) end,
      "bad argument #2 to 'write' (value must be a 32-bit word (0..0xFFFFFFFF), got 1099511627776)")
    local cfg = xylo.audio2.config_from_specification { weights_in = { { 1 } }, weights_out = { { 1 } } }
    assert.has_error(function() hdk:write_image(xylo.audio2.config_to_image(cfg)) end,
      "bad argument #1 to 'write_image' (image of Xylo Audio 2 written to a virtual Xylo IMU)")
    assert.has_error(function() xylo.imu.VirtualHDK { dtt = 1 } end, "bad argument #1 to 'VirtualHDK' (unknown field 'dtt')")
    assert.has_error(function() hdk(lp.zeros(3, 16)) end)          -- nothing configured: CTRL2 holds 0 neurons
  end)
end)

describe("issue 16: image_to_config on a list of writes", function()
  it("entries that are not {address, value} and a bad variant are refused by name", function()
    local ok, e = pcall(lp.xylo.audio2.image_to_config, { 3 })
    assert.is_false(ok)
    assert.matches("bad argument #2 to 'image_to_config' %(write 1 is not {address, value}", e)
    ok, e = pcall(image.Image, "audio9", {}, {})
    assert.is_false(ok)
    assert.matches("bad argument #1 to 'Image' %(a Xylo variant", e)
  end)
end)
