-- spec/xylo/afe3_spec.lua -- the Xylo Audio 3 digital front end against the
-- xa3afe oracle (spec/fixtures/xa3afe, Rockpool 3.0.3's integer kernels):
-- every stage of every case bit for bit, the microphone model within the
-- oracle README's tolerance, the helper tables, options and errors.
local lp = require "limpet"
local json = require "limpet.json"

local DIR = "spec/fixtures/xa3afe/"
local function load(name)
  local f = assert(io.open(DIR .. name, "rb"))
  local v = json.decode(f:read("a"))
  f:close()
  return v
end

local a3 = lp.xylo.audio3
local cases = {}
for _, name in ipairs(load("manifest.json").cases) do cases[#cases + 1] = load(name) end
local tables = load("tables.json")

-- number of entries where tensor t differs from the nested table e (as int64)
local function ndiff(t, e)
  local et = lp.tensor(e, "int64")
  assert.are.equal(et:numel(), t:numel())
  return t:reshape(-1):astype("int64"):ne(et:reshape(-1)):sum():item()
end

-- the oracle's options as limpet options: 1-based filter ids, no `given`
local function opts_of(c)
  local o = {}
  for k, v in pairs(c.options) do if k ~= "given" then o[k] = v end end
  local ids = {}
  for i, f in ipairs(c.options.select_filters) do ids[i] = f + 1 end
  o.select_filters = ids
  if c.input_sample_rate then o.input_sample_rate = c.input_sample_rate end
  return o
end

local function dense_spikes(c, T, n)
  local flat = {}
  for i = 1, T * n do flat[i] = 0 end
  for _, e in ipairs(c.dn_spikes) do flat[e[1] * n + e[2] + 1] = 1 end
  return flat
end

describe("lp.xylo.audio3 front end", function()
  for _, c in ipairs(cases) do
    it("matches the oracle case " .. c.name .. " at every stage", function()
      local cls = c.mode == "external" and a3.AFESimExternal or a3.AFESimPDM
      local afe = cls(opts_of(c))
      local input
      if c.mode == "external" or c.mode == "pdm_audio" then
        input = lp.tensor(c.input, "float64")
      else
        input = lp.tensor(c.pdm_bits, "int64")
      end
      local raster, state, rec = afe(input, true)
      local n = #c.options.select_filters
      assert.are.same({}, state)
      if c.mode == "external" then
        if c.resampled then
          assert.tensor_near(lp.tensor(c.resampled, "float64"), rec.resampled:reshape(-1), 1e-12)
        end
        assert.are.same({ 1, #c.quantized, 1 }, rec.quantized.shape)
        assert.are.equal(0, ndiff(rec.quantized, c.quantized))
      else
        if c.mode == "pdm_audio" then
          -- the microphone model is float64: bits as far as they agree (here all)
          assert.are.equal(0, ndiff(rec.pdm_bits, c.pdm_bits))
        end
        assert.are.same({ 1, #c.pdm_adc, 1 }, rec.pdm_adc.shape)
        assert.are.equal(0, ndiff(rec.pdm_adc, c.pdm_adc))
      end
      local T = rec.filterbank.shape[2]
      local rows = c.filterbank_rows or T
      assert.are.same({ 1, T, n }, rec.filterbank.shape)
      assert.are.equal(0, ndiff(rec.filterbank:slice(2, 1, rows), c.filterbank))
      assert.are.same({ 1, T, n }, rec.spikes.shape)
      assert.are.equal(0, ndiff(rec.spikes, dense_spikes(c, T, n)))
      local counts = rec.spikes:sum(2):reshape(-1)
      assert.are.equal(0, ndiff(counts, c.dn_spike_counts))
      assert.are.same({ 1, #c.raster, n }, raster.shape)
      assert.are.equal(0, ndiff(raster, c.raster))
      assert.are.equal("int32", raster.dtype)
    end)
  end

  it("runs each stage on its own, with the DN states of the oracle", function()
    for _, c in ipairs(cases) do
      local n = #c.options.select_filters
      local o = opts_of(c)
      local q
      if c.mode == "external" then
        local x = lp.tensor(c.input, "float64")
        if c.resampled then
          x = a3.ResampleAudio { fs_in = c.input_sample_rate }(x):reshape(-1)
        end
        q = a3.AudioQuantizer {}(x)
      else
        q = a3.PolyPhaseFIR {}(lp.tensor(c.pdm_bits, "int64"))
        assert.are.equal(0, ndiff(q, c.pdm_adc))
      end
      local fb = a3.ChipButterworth { select_filters = o.select_filters }(q)
      assert.are.equal(0, ndiff(fb:slice(2, 1, c.filterbank_rows or fb.shape[2]), c.filterbank))
      local r = c.dn_resolved
      local dn = a3.DivisiveNormalization { shape = n, enable_DN_channel = r.enable_DN_channel,
        spike_rate_scale_bitshift1 = r.spike_rate_scale_bitshift1, spike_rate_scale_bitshift2 = r.spike_rate_scale_bitshift2,
        low_pass_bitshift = r.low_pass_bitshift, EPS_vec = r.EPS_vec, fixed_threshold_vec = r.fixed_threshold_vec }
      local spk, _, rec = dn(fb, true)
      assert.are.equal(0, ndiff(spk, dense_spikes(c, fb.shape[2], n)))
      for k, v in pairs(c.dn_state_head) do
        assert.are.equal(0, ndiff(rec[k]:slice(2, 1, #v), v))
      end
      local ras = a3.Raster { rate_downsample_factor = c.options.down_sampling_factor }(spk)
      assert.are.equal(0, ndiff(ras, c.raster))
    end
  end)

  it("reproduces the microphone model's loop filter within 1e-9", function()
    for _, c in ipairs(cases) do
      if c.mode == "pdm_audio" then
        local bits, _, rec = a3.MicrophonePDM {}(lp.tensor(c.input, "float64"), true)
        local pre = rec.deltasigma_signal_pre_Q:reshape(-1):slice(1, 1, #c.deltasigma_pre_Q_head)
        assert.tensor_near(lp.tensor(c.deltasigma_pre_Q_head, "float64"), pre, 1e-9)
        assert.are.equal(0, ndiff(bits, c.pdm_bits))
      end
    end
  end)

  it("gives the reference test's spike rates for its PDM recording", function()
    local c = cases[#cases]
    assert.are.equal("rockpool_reference_pdm", c.name)
    local raster = a3.AFESimPDM {}(lp.tensor(c.pdm_bits, "int64"))
    local rates = (raster:sum(2):reshape(-1):astype("float64") / 0.2):totable()
    assert.tensor_near(c.reference_rates_hz, rates, 1e-12)
  end)

  it("keeps the FIR taps and filter constants of the tables", function()
    local h, shift = a3.PolyPhaseFIR.taps()
    assert.are.same(tables.polyphase_fir.h, h)
    assert.are.equal(tables.polyphase_fir.num_bits_output_pre_Q - tables.polyphase_fir.num_bits_output, shift)
    for i, f in ipairs(tables.filterbank) do
      assert.are.same({ f.B_worst_case, f.B_b, f.B_af, f.a1, f.a2 }, a3.ChipButterworth.coefficients(i))
    end
  end)

  it("turns targets into register values with the reference's accepted and refused values", function()
    for _, e in ipairs(tables.get_dn_rate_scale_bitshift) do
      if e.raises then
        assert.has_error(function() a3.get_dn_rate_scale_bitshift(e.rate_scale_factor) end)
      else
        assert.are.same(e.result, a3.get_dn_rate_scale_bitshift(e.rate_scale_factor))
      end
    end
    for _, e in ipairs(tables.get_dn_low_pass_bitshift) do
      if e.raises then
        assert.has_error(function() a3.get_dn_low_pass_bitshift(tables.audio_sampling_rate, e.low_pass_averaging_window) end)
      else
        assert.are.equal(e.result, a3.get_dn_low_pass_bitshift(tables.audio_sampling_rate, e.low_pass_averaging_window))
        assert.are.equal(e.result, a3.get_dn_low_pass_bitshift(e.low_pass_averaging_window))
      end
    end
    for _, e in ipairs(tables.get_down_sampling_factor) do
      if e.raises then
        assert.has_error(function() a3.get_down_sampling_factor(tables.audio_sampling_rate, e.dt) end)
      else
        assert.are.equal(e.result, a3.get_down_sampling_factor(tables.audio_sampling_rate, e.dt))
      end
    end
    assert.has_error(function() a3.get_dn_rate_scale_bitshift(5) end,
      "bad argument #1 to 'get_dn_rate_scale_bitshift' (rate_scale_factor 5 is not 2^b1 - 2^b2 for any b1 > b2 >= 0; " ..
      "nearest: 6 with (b1, b2) = (3, 1) or 4 with (b1, b2) = (3, 2))")
    local afe = a3.AFESimExternal.from_specification { rate_scale_factor = 16, low_pass_averaging_window = 0.02, dt = 0.002048 }
    assert.are.same({ 5, 4 }, afe.dn_rate_scale_bitshift)
    assert.are.equal(10, afe.dn_low_pass_bitshift)
    assert.are.equal(100, afe.down_sampling_factor)
  end)

  it("auto-batches a 1-D signal and runs (B, T) rows independently", function()
    local c = cases[1]
    local x = lp.tensor(c.input, "float64")
    local afe = a3.AFESimExternal {}
    local r1, _, rec1 = afe(x, true)
    assert.are.same({ 1, #c.raster, 16 }, r1.shape)
    assert.are.same({ 1, #c.input, 16 }, rec1.filterbank.shape)
    local xb = lp.stack({ x, x * 0.5 }, 1)
    local rb = afe(xb)
    assert.are.same({ 2, #c.raster, 16 }, rb.shape)
    assert.are.equal(0, rb:slice(1, 1, 1):ne(r1):sum():item())
    assert.is_true(rb:slice(1, 2, 2):ne(r1):sum():item() > 0)
  end)

  it("checks options by name", function()
    assert.has_error(function() a3.AFESimExternal { treshold = 1 } end,
      "bad argument #1 to 'AFESimExternal' (unknown field 'treshold')")
    assert.has_error(function() a3.AFESimExternal { input_mode = "pdm" } end,
      "bad argument #1 to 'AFESimExternal' (field 'input_mode' must be 'external' for AFESimExternal, got 'pdm')")
    assert.has_error(function() a3.AFESimPDM { quantizer_scale = 1 } end,
      "bad argument #1 to 'AFESimPDM' (unknown field 'quantizer_scale')")
    assert.has_error(function() a3.AFESimExternal { select_filters = { 0, 1 } } end,
      "bad argument #1 to 'AFESimExternal' (field 'select_filters': id 0 is not a filter (1..16))")
    assert.has_error(function() a3.AFESimExternal { dn_rate_scale_bitshift = { 2, 3 } } end,
      "bad argument #1 to 'AFESimExternal' (field 'dn_rate_scale_bitshift': b1 must be larger than b2, got {2, 3})")
    assert.has_error(function() a3.AFESimExternal { audio_sampling_rate = 16000 } end)
    assert.has_error(function() a3.AFESimExternal { dn_EPS = { 1, 2 } } end,
      "bad argument #1 to 'AFESimExternal' (field 'dn_EPS' must have 16 values (one per channel), got 2)")
    local afe = a3.AFESimPDM { input_mode = "pdm", spike_gen_mode = "threshold" }
    assert.are.same({ 1, 0 }, afe.dn_rate_scale_bitshift)
    assert.are.equal(2 ^ 27, afe.fixed_threshold_vec)
  end)

  it("refuses audio beyond the 14-bit range and bits that are not 0/1", function()
    local afe = a3.AFESimExternal {}
    assert.has_error(function() afe(lp.tensor({ 0.1, 1.0, 0.2, 0.0 }, "float64")) end,
      "bad argument #1 to 'evolve' (audio sample 2 of row 1 is 8192: the filter bank takes 14-bit audio (|x| < 8192))")
    assert.has_error(function() a3.AFESimPDM {}(lp.tensor({ 0, 1, 2 }, "int64")) end,
      "bad argument #1 to 'evolve' (PDM bit 3 of row 1 is 2: bits must be 0 or 1)")
    assert.has_error(function() a3.AFESimPDM {}(lp.tensor({ 0.5, 1.5 }, "float64")) end,
      "bad argument #1 to 'evolve' (audio sample 2 of row 1 is 1.5: the PDM microphone takes audio in [-1, 1])")
  end)

  it("starts from zero state without the boundary trick when asked", function()
    local c = cases[1]
    local x = lp.tensor(c.input, "float64")
    local _, _, rec = a3.AFESimExternal { flip_and_encode = false }(x, true)
    local fb = rec.filterbank
    -- from zero state the first output of every filter is 0 (W[-1] = 0)
    assert.are.equal(0, fb:slice(2, 1, 1):abs():sum():item())
  end)
end)
