-- spec/xylo/afe2_spec.lua -- the Xylo Audio 2 analog front-end model against
-- the xa2afe oracle (spec/fixtures/xa2afe, Rockpool's AFESim with its noise
-- zeroed): traces within the README's tolerance (1e-9 of the channel's
-- maximum with the recorded filter sections; our own filter design within
-- 1e-8), spikes, counts and rasters exactly; state, seeding, options.
local lp = require "limpet"
local json = require "limpet.json"

local DIR = "spec/fixtures/xa2afe/"
local function load(name)
  local f = assert(io.open(DIR .. name, "rb"))
  local v = json.decode(f:read("a"))
  f:close()
  return v
end
local a2 = lp.xylo.audio2
local cases = {}
for _, name in ipairs(load("manifest.json").cases) do cases[#cases + 1] = load(name) end

-- the oracle's options as AFESim options; `own`: design the filters here
local function make(c, own)
  local o, d = c.options, c.design
  local opts = { fs = o.Fs, raster_period = o.raster_period, max_spike_per_raster_period = o.max_spike_per_raster_period,
    add_noise = false, add_offset = o.add_offset, add_mismatch = o.add_mismatch, lna_gain_db = o.lna_gain_db,
    DIGITAL_COUNTER = o.DIGITAL_COUNTER, VCC = o.VCC, INPUT_MAX_AMPLITUDE = o.INPUT_MAX_AMPLITUDE,
    MIC_DISTORTION = o.MIC_DISTORTION, INPUT_MIC_MAX_AMPLITUDE = o.INPUT_MIC_MAX_AMPLITUDE,
    INPUT_LNA_MAX_AMPLITUDE = o.INPUT_LNA_MAX_AMPLITUDE, LNA_DISTORTION = o.LNA_DISTORTION, Q = o.Q,
    design_fcs = o.design_fcs, C_IAF = o.C_IAF, V2I_GIAN = o.V2I_GIAN, LEAKAGE = o.LEAKAGE, THR_UP = o.THR_UP,
    F_CORNER_HIGHPASS = o.F_CORNER_HIGHPASS,
    mismatch = { input_offset = d.input_offset, lna_offset = d.lna_offset, bpf_offset = d.bpf_offset,
      Q_mismatch = d.Q_mismatch, fc_mismatch = d.fc_mismatch, bpf_fc_shift = d.bpf_fc_shift } }
  if not own then opts.filters = { sos = d.sos, hp_b = d.hp_b, hp_a = d.hp_a } end
  return a2.AFESim(opts)
end

-- max |expected − actual| over head and tail rows, relative to the channel maximum
local function trace_err(t, part, maxabs)
  local T = t.shape[2]
  local a = t:reshape(T, -1)
  local worst = 0
  for _, seg in ipairs { { part.head, 1 }, { part.tail, T - #part.tail + 1 } } do
    local e = lp.tensor(seg[1], "float64")
    if e:dim() == 1 then e = e:reshape(-1, 1) end
    local got = a:slice(1, seg[2], seg[2] + e.shape[1] - 1)
    local d = (got - e):abs()
    for ch = 1, e.shape[2] do
      local m = d:slice(2, ch, ch):max():item() / math.max(maxabs[ch], 1e-300)
      if m > worst then worst = m end
    end
  end
  return worst
end

local function tone(n, f, fs, a)
  local t = {}
  for i = 1, n do t[i] = a * math.sin(2 * math.pi * f * (i - 1) / fs) end
  return lp.tensor(t, "float64")
end

local function sparse_diff(spk, list)
  local T = spk.shape[2]
  local flat = {}
  for i = 1, T * 16 do flat[i] = 0 end
  for _, e in ipairs(list) do flat[e[1] * 16 + e[2] + 1] = 1 end
  return spk:reshape(-1):astype("int64"):ne(lp.tensor(flat, "int64")):sum():item()
end

local function check_case(c, own, tol)
  local afe = make(c, own)
  local x = lp.tensor(c.input, "float64")
  for _, call in ipairs(c.calls) do
    local xs = x:slice(1, call.input_slice[1] + 1, call.input_slice[2])
    assert.tensor_near(lp.tensor(call.lif_initial_state, "float64"), afe:state().lif_state, 1e-12)
    local spk, state, rec = afe(xs, true)
    local st = call.stats
    assert.is_true(trace_err(rec.mic_out, call.mic_out, st.mic_out.max_abs) <= 1e-12)
    assert.is_true(trace_err(rec.LNA_out, call.lna_out, st.lna_out.max_abs) <= 1e-12)
    assert.is_true(trace_err(rec.BPF, call.bpf, st.bpf.max_abs) <= tol)
    assert.is_true(trace_err(rec.rect, call.rect, st.rect.max_abs) <= tol)
    -- whole-trace sums (1e-9 relative; own design: 1e-7)
    local sums = rec.rect:reshape(-1, 16):sum(1):totable()
    for ch = 1, 16 do
      assert.is_true(math.abs(sums[ch] - st.rect.sum[ch]) <= (own and 1e-7 or 1e-9) * math.abs(st.rect.sum[ch]) + 1e-15)
    end
    assert.are.equal(0, sparse_diff(rec.spikes_pre_counter, call.spikes_pre_counter))
    assert.are.equal(0, sparse_diff(spk, call.spikes_out))
    assert.are.same(call.spike_counts_out, spk:reshape(-1, 16):sum(1):totable())
    local ras = afe:raster(spk)
    local e = lp.tensor(call.raster, "int64")
    assert.are.same({ 1, e.shape[1], 16 }, ras.shape)
    assert.are.equal(0, ras:reshape(-1):astype("int64"):ne(e:reshape(-1)):sum():item())
    assert.tensor_near(lp.tensor(call.lif_final_state, "float64"), state.lif_state, own and 1e-9 or 1e-12)
  end
end

describe("lp.xylo.audio2.AFESim", function()
  for _, c in ipairs(cases) do
    it("matches the oracle case " .. c.name .. " with the recorded filter sections", function()
      check_case(c, false, 1e-9)
    end)
  end

  it("designs the filters as scipy does (within 1e-8) and gives the same spikes", function()
    for _, c in ipairs(cases) do
      local afe = make(c, true)
      local sos = lp.tensor(c.design.sos, "float64")
      assert.is_true((afe.sos - sos):abs():max():item() <= 1e-8)
      assert.tensor_near(lp.tensor(c.design.hp_b, "float64"), afe.hp_b, 1e-12)
      assert.tensor_near(lp.tensor(c.design.hp_a, "float64"), afe.hp_a, 1e-12)
      for i = 1, 16 do
        assert.is_true(math.abs(afe.fcs[i] - c.design.fcs[i]) <= 1e-9 * c.design.fcs[i])
      end
      check_case(c, true, 1e-8)
    end
  end)

  it("is reproducible from its seed, and noise and mismatch switch off", function()
    local x = tone(4400, 1000, 110e3, 0.05)
    local a = a2.AFESim { seed = 7 }
    local b = a2.AFESim { seed = 7 }
    assert.are.same(a.fcs, b.fcs)
    assert.are.equal(0, a(x):ne(b(x)):sum():item())
    local c = a2.AFESim { seed = 8 }
    assert.are_not.same(a.fcs, c.fcs)
    local clean = a2.AFESim { add_noise = false, add_mismatch = false, add_offset = false }
    for i = 1, 16 do assert.are.equal(clean.design_fcs[i], clean.fcs[i]) end
    local s1 = clean(x)
    clean:reset_state()
    assert.are.equal(0, clean(x):ne(s1):sum():item())
  end)

  it("resamples audio given at another rate and rasters (B, T) batches", function()
    local x = tone(4883, 1000, 48828.125, 0.05)
    local afe = a2.AFESim { add_noise = false, add_mismatch = false, add_offset = false, input_sample_rate = 48828.125 }
    local spk = afe(lp.stack({ x, x }, 1))
    assert.are.equal(2, spk.shape[1])
    assert.are.equal(16, spk.shape[3])
    local ras = afe:raster(spk)
    assert.are.same({ 2, math.ceil(spk.shape[2] / 1100), 16 }, ras.shape)
    assert.is_true(ras:max():item() <= 15)
  end)

  it("checks options by name", function()
    assert.has_error(function() a2.AFESim { fs = 48000 } end,
      "bad argument #1 to 'AFESim' (field 'fs': the model needs at least 6 times the highest centre frequency (101640 Hz), got 48000 Hz)")
    assert.has_error(function() a2.AFESim { lna_gain_db = 3 } end,
      "bad argument #1 to 'AFESim' (field 'lna_gain_db' must be 0, 6 or 12, got 3)")
    assert.has_error(function() a2.AFESim { add_nois = false } end,
      "bad argument #1 to 'AFESim' (unknown field 'add_nois')")
  end)
end)
