-- spec/xylo/imuif_spec.lua -- the Xylo IMU interface (devices/xylo/imuif.lua + imuif.c):
-- every case of the imuif oracle (Rockpool's IMUIFSim) bit for bit, each stage on its
-- own and chained by hand equal to the whole module, the IMU Quantizer's reference
-- vectors, state and batch rules, the register fields round trip, and the messages of
-- the refused options and inputs.
local lp = require "limpet"
local json = require "limpet.json"
local xylo = require "limpet.xylo"
local imu = xylo.imu

local function read(path)
  local f = assert(io.open(path, "rb"))
  local s = f:read("a")
  f:close()
  return s
end

local cases = json.decode(read("spec/fixtures/imuif/imuif_1.json"))

local function sim_of(c)
  return imu.IMUIFSim {
    bypass_jsvd = c.bypass_jsvd, select_iaf_output = c.select_iaf_output,
    scale_values = c.scale_values, iaf_threshold_values = c.iaf_threshold_values,
    num_avg_bitshift = c.num_avg_bitshift, SAH_period = c.SAH_period, sampling_freq = c.sampling_freq,
  }
end

local function equal(a, b) return a.dtype == b.dtype and a:ne(b):sum():item() == 0 end

-- the (1, T, N) tensor equals the (T, N) table, or the error names the first difference
local function same_steps(got, exp)
  assert.are.same({ 1, #exp, #exp[1] }, got.shape)
  local g = got:reshape(#exp, #exp[1]):totable()
  for t = 1, #exp do
    for n = 1, #exp[t] do
      if g[t][n] ~= exp[t][n] then
        error(("differs at step %d, channel %d: expected %d, got %d"):format(t, n, exp[t][n], g[t][n]), 2)
      end
    end
  end
end

describe("IMUIFSim oracle", function()
  it("has cases of every kind (JSVD on and bypassed, both encoders)", function()
    local seen = {}
    for _, c in ipairs(cases) do seen[tostring(c.bypass_jsvd) .. tostring(c.select_iaf_output)] = true end
    assert.are.same({ truefalse = true, truetrue = true, falsefalse = true, falsetrue = true }, seen)
  end)

  for i, c in ipairs(cases) do
    it(("reproduces case %d (bypass_jsvd %s, IAF %s) bit for bit"):format(i, tostring(c.bypass_jsvd),
      tostring(c.select_iaf_output)), function()
      local out, _, rec = sim_of(c)(c.input, true)
      assert.are.equal("int64", out.dtype)
      same_steps(out, c.expected)
      assert.is_true(equal(out, rec.spikes))
      if c.bypass_jsvd then assert.is_nil(rec.rotation_removal) else assert.are.same({ 1, #c.input, 3 }, rec.rotation_removal.shape) end
    end)
  end

  it("chains its stages by hand to the same spikes", function()
    for _, c in ipairs(cases) do
      local x = lp.tensor(c.input, "int64")
      local y = x
      if not c.bypass_jsvd then
        local C = imu.SubSpace { num_avg_bitshift = c.num_avg_bitshift }(x)
        assert.are.same({ 1, #c.input, 9 }, C.shape)
        local held = imu.SampleAndHold { sampling_period = c.SAH_period }(C)
        local rr = imu.RotationRemoval { num_avg_bitshift = c.num_avg_bitshift, sampling_period = c.SAH_period }
        local _, _, rec = rr(x, true)
        assert.is_true(equal(held, rec.covariance))
        y = rr:reset_state()(x)
      end
      local f = imu.FilterBank {}(y)
      local enc = c.select_iaf_output and imu.IAFSpikeEncoder { threshold = c.iaf_threshold_values }
        or imu.ScaleSpikeEncoder { num_scale_bits = c.scale_values }
      same_steps(enc(f), c.expected)
    end
  end)
end)

describe("IMU interface stages", function()
  it("quantises like Rockpool's Quantizer (reference vectors)", function()
    local q = imu.Quantizer { scale = 1.0, num_bits = 16 }
    assert.are.same({ { { 32768, -32768, 1, 0 } } }, q(lp.tensor({ { 1, -1, 4e-5, 3e-5 } }, "float64")):totable())
    local q4 = imu.Quantizer { num_bits = 4 }
    assert.are.same({ { { 8, -8, 1, 0 } } }, q4({ { 1, -1, 0.125, 0.1 } }):totable())
    local q49 = imu.Quantizer { scale = 0.49 }
    assert.are.same({ { { 16056, -16056 } } }, q49({ { 1, -1 } }):totable())   -- trunc(0.49 * 32768)
  end)

  it("designs the default filter bank as Rockpool does (1-2 ... 16-32 Hz per axis)", function()
    local fb = imu.FilterBank {}
    assert.are.equal(15, #fb.filters)
    assert.are.same({ 6, 5, 4, 3, 2, 6, 5, 4, 3, 2, 6, 5, 4, 3, 2 }, fb:B_b_list())
    assert.are.same({ 9, 10, 11, 12, 13 }, { table.unpack(fb:B_af_list(), 1, 5) })
    local f = imu.BandPassFilter.from_specification(1, 2, 200)
    assert.are.same({ 6, 8, 9, -64458, 31754 }, { f.B_b, f.B_wf, f.B_af, f.a1, f.a2 })
    assert.is_true(f.scale_out >= 0.5 and f.scale_out <= 1)
    assert.are.same({ 1, 1, 1, 1, 1, 2, 2, 2, 2, 2, 3, 3, 3, 3, 3 },
      (function() local t = {} for i, ch in ipairs(fb.channels) do t[i] = ch + 1 end return t end)())
  end)

  it("runs a lone BandPassFilter without the time-reversed prefix", function()
    local f = imu.BandPassFilter {}
    local x = lp.tensor({ 1000, 0, 0, 0, 0, 0 }, "int64")
    local y = f(x)
    -- by hand: W = ((x << 8) + ((-a2 W2 - a1 W1) >> 9)) >> 6, z = (W - W2) >> 8
    local a1, a2, W1, W2, exp = -36565, 31754, 0, 0, {}
    for n, v in ipairs { 1000, 0, 0, 0, 0, 0 } do          -- Lua's >> is logical: floor-divide
      local W = ((v * 256) + ((-a2 * W2 - a1 * W1) // 512)) // 64
      exp[n] = ((n >= 3) and (W - W2) or W) // 256
      W2, W1 = W1, W
    end
    assert.are.same(exp, y:totable())
  end)

  it("computes a JSVD: sorted diagonal, rotation columns of norm 2^31", function()
    local R, D = imu.JSVD()({ { 9000, 3000, 100 }, { 3000, 4000, -200 }, { 100, -200, 500 } })
    local d = D:totable()
    assert.is_true(d[1][1] >= d[2][2] and d[2][2] >= d[3][3])
    for j = 1, 3 do
      local n2 = 0
      for i = 1, 3 do n2 = n2 + (R:get(i, j) / 2^31) ^ 2 end
      assert.is_true(math.abs(n2 - 1) < 1e-3)
    end
    -- a diagonal matrix is already decomposed: identity rotation, reordered
    local R2, D2 = imu.JSVD()({ 1, 0, 0, 0, 5, 0, 0, 0, 3 })
    assert.are.same({ { 5, 0, 0 }, { 0, 3, 0 }, { 0, 0, 1 } }, D2:totable())
    assert.are.same({ { 0, 0, 2147483647 }, { 2147483647, 0, 0 }, { 0, 2147483647, 0 } }, R2:totable())
  end)

  it("holds samples for SAH_period steps from the start of each call", function()
    local x = lp.arange(0, 7):astype("int64"):reshape(1, 7, 1)
    assert.are.same({ { { 0 }, { 0 }, { 0 }, { 3 }, { 3 }, { 3 }, { 6 } } }, imu.SampleAndHold { sampling_period = 3, shape = 1 }(x):totable())
  end)

  it("encodes with both encoders as specified", function()
    local y = lp.tensor({ { { 100, -5000 }, { 40, 70000 }, { -3000, 0 } } }, "int64")
    local s = imu.ScaleSpikeEncoder { shape = 2, num_scale_bits = { 3, 8 } }(y)
    assert.are.same({ { { 12, 15 }, { 5, 15 }, { 15, 0 } } }, s:totable())
    local a = imu.IAFSpikeEncoder { shape = 2, threshold = { 120, 1000 } }(y)
    -- sums 100, 140, 3140 -> floor/120: 0, 1, 26 ; 5000, 75000, 75000 -> 5, 75, 75
    assert.are.same({ { { 0, 1 }, { 1, 1 }, { 1, 0 } } }, a:totable())
  end)
end)

describe("IMUIFSim state, batches and registers", function()
  local c = cases[3]
  local x = lp.tensor(c.input, "int64")

  it("carries the covariance filter across calls; reset_state restarts it", function()
    local s = imu.SubSpace {}
    local whole = s(x)
    s:reset_state()
    local T = x.shape[1]
    local a = s(x:slice(1, 1, 200))
    local b = s(x:slice(1, 201, T))
    assert.is_true(equal(whole, lp.cat({ a, b }, 2)))
    local m = sim_of(c)
    m(x)
    assert.are_not.same({ 0, 0, 0, 0, 0, 0, 0, 0, 0 }, m:state().rotation_removal.subspace.C_highprec:reshape(-1):totable())
    m:reset_state()
    assert.are.same({ 0, 0, 0, 0, 0, 0, 0, 0, 0 }, m:state().rotation_removal.subspace.C_highprec:reshape(-1):totable())
    same_steps(m(x), c.expected)
  end)

  it("runs every batch row from the same state", function()
    local m = sim_of(c)
    local rows = x:totable()
    local rev = {}
    for i = #rows, 1, -1 do rev[#rev + 1] = rows[i] end
    rev = lp.tensor(rev, "int64")
    local x2 = lp.stack({ x, rev }, 1)
    local out = m(x2)
    assert.are.same({ 2, x.shape[1], 15 }, out.shape)
    same_steps(out:slice(1, 1, 1), c.expected)
    m:reset_state()
    assert.is_true(equal(out:slice(1, 2, 2), m(rev)))
  end)

  it("round-trips its register fields (update_matrix_threshold = SAH_period - 1)", function()
    local m = sim_of(cases[4])
    local cfg = m:export_config()
    assert.are.equal(cases[4].SAH_period - 1, cfg.update_matrix_threshold)
    assert.are.equal(15, #cfg.bpf_a1_values)
    local m2 = imu.IMUIFSim.from_config(cfg)
    same_steps(m2(cases[4].input), cases[4].expected)
  end)

  it("refuses bad options and inputs with clear messages", function()
    assert.has_error(function() imu.IMUIFSim { treshold = 1 } end, "bad argument #1 to 'IMUIFSim' (unknown field 'treshold')")
    assert.has_error(function() imu.IMUIFSim { scale_values = { 1, 2 } } end,
      "bad argument #1 to 'IMUIFSim' (field 'scale_values' must hold 15 values, got 2)")
    assert.has_error(function() imu.IMUIFSim { SAH_period = 0 } end,
      "bad argument #1 to 'IMUIFSim' (field 'SAH_period' must be an integer in 1..2047, got 0)")
    assert.has_error(function() imu.IMUIFSim { iaf_threshold_values = 0 } end,
      "bad argument #1 to 'IMUIFSim' (field 'iaf_threshold_values': value 1 must be an integer in 1..2147483647, got 0)")
    assert.has_error(function() imu.IMUIFSim { filter_list = { imu.BandPassFilter {} } } end,
      "bad argument #1 to 'IMUIFSim' (the number of filters 1 does not match the number of output channels 15)")
    assert.has_error(function() imu.BandPassFilter { a1 = 70000 } end,
      "bad argument #1 to 'BandPassFilter' (field 'a1' must be an integer in -65536..65535, got 70000)")
    local m = imu.IMUIFSim {}
    assert.has_error(function() m(lp.tensor({ { 32768, 0, 0 } }, "int64")) end,
      "bad argument #1 to 'evolve' (input: sample 32768 is outside -32767..32767 (16-bit IMU samples))")
    assert.has_error(function() m(lp.zeros(4, 2)) end,
      "bad argument #1 to 'evolve' (IMUIFSim expects 3 input channels, got 2)")
    assert.has_error(function() m(lp.tensor({ { 0.5, 0, 0 } })) end,
      "bad argument #1 to 'evolve' (input: values must be integers (quantise first), got 0.5)")
  end)
end)
