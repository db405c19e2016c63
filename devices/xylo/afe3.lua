-- devices/xylo/afe3.lua -- the Xylo Audio 3 digital audio front end
-- (reference/xylo.md §11.3), bit-exact with Rockpool's integer kernels:
-- lp.xylo.audio3.AFESimExternal, AFESimPDM, their stages and the helpers that
-- turn targets into register values. Rockpool's class and option names.
-- Owns: options, defaults and their checks (errors name the field), batching,
-- the chain, records, and the decisions on the reference's quirks below.
-- The sample loops are C: devices/xylo/afe3.c (through core._afe).
--
--   local a3 = lp.xylo.audio3
--   local afe = a3.AFESimExternal{select_filters = {1, 3, 5}, down_sampling_factor = 488,
--                                 input_sample_rate = 16000}
--   local raster, state, rec = afe(audio, true)     -- = afe:evolve(audio, true)
--   -- audio (T) or (B, T) float in (−1, 1); raster (B, T', N) int32 counts ≤ 15 per dt;
--   -- rec.quantized (B, T, 1), rec.filterbank (B, T, N), rec.spikes (B, T, N) at 48828.125 Hz
--   local pdm = a3.AFESimPDM{}                  -- float audio → microphone model; or
--   pdm(bits)                                   -- integer 0/1 PDM bits at 1.5625 MHz (dtype decides)
--   a3.get_dn_rate_scale_bitshift(63) --> {6, 0};  a3.get_dn_low_pass_bitshift(48828.125, 0.084) --> 12
--   a3.get_down_sampling_factor(48828.125, 1.024e-3) --> 50
--   Stages alone: a3.AudioQuantizer, ResampleAudio, MicrophonePDM, PolyPhaseFIR, PDMADC,
--   ChipButterworth, DivisiveNormalization, Raster (each `mod(input, record)`).
--
-- Options of AFESimExternal / AFESimPDM (every field of the oracle's options):
--   input_mode ("external" / "pdm", must agree with the class), select_filters
--   (1-based filter ids, default 1..16), spike_gen_mode ("divisive_norm" |
--   "threshold"), dn_rate_scale_bitshift {b1, b2} (default {6, 0}),
--   dn_low_pass_bitshift (12), dn_EPS (1; number or per channel),
--   fixed_threshold_vec (2^27 in threshold mode; number or per channel),
--   down_sampling_factor (50), audio_sampling_rate (48828.125, the chip's; no
--   other value is accepted), quantizer_scale (1.0), quantizer_num_bits (14)
--   (external only); and limpet's input_sample_rate (48828.125: audio at
--   another rate is resampled as the reference does) and flip_and_encode (true).
--   As in Rockpool, the DN values are ignored in "threshold" mode (they resolve
--   to {1, 0}, 0, 1) and the fixed thresholds in "divisive_norm" mode (0).
--
-- Decisions on the reference's quirks (xa3afe README):
--   * Boundary trick: the filter bank and the DN each run the time-reversed
--     input first and keep the second half (Rockpool's evolve); kept by default
--     for parity, `flip_and_encode = false` starts both from zero state instead
--     (what a streaming chip does).
--   * Quantiser: truncation toward zero, int(scale·x·2^13), kept; samples that
--     reach |x| ≥ 2^13 are refused with an error naming the sample (the reference
--     raises too) instead of wrapping or clipping silently.
--   * Resampling: np.interp onto arange(0, (T−1)/fs_in, 1/fs) — the last input
--     instant is not an output sample; kept, bit for bit.
--   * The decimation FIR outputs ceil(Tp/32) + 8 samples: its full convolution,
--     zero-padded, so the last 8 samples are the filter's tail; kept.
--   * Raster: sums over blocks of down_sampling_factor samples, the last block
--     partial, clipped at 15; kept.
--   * The DN threshold is always joint (max over channels), as Rockpool's.
--   * Every call starts from zero state (Rockpool's modules keep no state
--     between calls); so does limpet: state() is empty.
--   * The helpers take integral numbers where Rockpool demands an int and any
--     number where it demands a float (Lua has one number type to the user).
local lp = require "limpet"
local core = require "limpet.core"
local class = require "limpet.class"

local A = core._afe
local M = {}

local FS = 48828.125
local PDM_FS = 1562500.0
local MAX_SPIKES = 15
M.AUDIO_SAMPLING_RATE = FS
M.PDM_SAMPLING_RATE = PDM_FS
M.NUM_FILTERS = 16
--- Design centre frequencies (Hz) and the measured centres after quantisation (§11.3 (c)).
M.design_centres = { 100, 140, 197, 277, 390, 549, 773, 1088, 1532, 2157, 3037, 4277, 6023, 8482, 11945, 16822 }
M.actual_centres = { 105, 136, 201, 279, 390, 542, 762, 1070, 1503, 2110, 2963, 4161, 5843, 8204, 11582, 16611 }

-- ---- small helpers ----------------------------------------------------------------

local U = require "limpet.nn.util"
local argerror, to_tensor = U.argerror, U.tensor_arg

local function shape_str(t)
  local s = {}
  for i = 1, t:dim() do s[i] = tostring(t.shape[i]) end
  return "(" .. table.concat(s, ", ") .. (#s == 1 and ",)" or ")")
end

local function is_int(v) return math.type(v) == "integer" or (type(v) == "number" and v == math.floor(v) and v == v and math.abs(v) < 2^62) end

-- Check an options table against `known` (field -> true); returns a copy.
local function options(fname, opts, known)
  if opts == nil then return {} end
  if type(opts) ~= "table" then argerror(fname, 1, ("expected an options table, got %s"):format(type(opts)), 3) end
  local o = {}
  for k, v in pairs(opts) do
    if not known[k] then argerror(fname, 1, ("unknown field '%s'"):format(tostring(k)), 3) end
    o[k] = v
  end
  return o
end

local function int_opt(fname, o, k, def, lo, hi)
  local v = o[k]
  if v == nil then return def end
  if not is_int(v) or v < lo or v > hi then
    argerror(fname, 1, ("field '%s' must be an integer in %d..%d, got %s"):format(k, lo, hi, tostring(v)), 4)
  end
  return math.tointeger(v)
end

local function num_opt(fname, o, k, def)
  local v = o[k]
  if v == nil then return def end
  if type(v) ~= "number" or not (v > 0) or v == math.huge then
    argerror(fname, 1, ("field '%s' must be a positive number, got %s"):format(k, tostring(v)), 4)
  end
  return v
end

-- A number or a list / tensor of n integers in lo..hi -> Lua list of n integers.
local function int_vec(fname, o, k, def, n, lo, hi)
  local v = o[k]
  if v == nil then v = def end
  local list
  if type(v) == "number" then
    list = {}
    for i = 1, n do list[i] = v end
  elseif lp.is_tensor(v) then
    list = v:reshape(-1):totable()
  elseif type(v) == "table" then
    list = v
  else
    argerror(fname, 1, ("field '%s' must be a number or a list of %d numbers, got %s"):format(k, n, type(v)), 4)
  end
  if #list ~= n then argerror(fname, 1, ("field '%s' must have %d values (one per channel), got %d"):format(k, n, #list), 4) end
  local out = {}
  for i = 1, n do
    local x = list[i]
    if not is_int(x) or x < lo or x > hi then
      argerror(fname, 1, ("field '%s': value %d must be an integer in %s..%s, got %s"):format(
        k, i, tostring(lo), tostring(hi), tostring(x)), 4)
    end
    out[i] = math.tointeger(x)
  end
  return out
end

-- 1-based filter ids -> 0-based list, checked.
local function filters(fname, v)
  if v == nil then
    local all = {}
    for i = 1, 16 do all[i] = i end
    v = all
  end
  local list = lp.is_tensor(v) and v:reshape(-1):totable() or v
  if type(list) ~= "table" or #list < 1 or #list > 16 then
    argerror(fname, 1, "field 'select_filters' must list 1 to 16 filter ids (1..16)", 4)
  end
  local seen, out = {}, {}
  for i, id in ipairs(list) do
    if not is_int(id) or id < 1 or id > 16 then
      argerror(fname, 1, ("field 'select_filters': id %s is not a filter (1..16)"):format(tostring(id)), 4)
    end
    if seen[id] then argerror(fname, 1, ("field 'select_filters': filter %d is listed twice"):format(id), 4) end
    seen[id] = true
    out[i] = math.tointeger(id) - 1
  end
  return out
end

-- Input as a tensor (B, T[, 1]) -> (B, T); 1-D auto-batched.
local function signal(fname, x, dtype)
  local t = x
  if not lp.is_tensor(t) then
    if type(t) ~= "table" then argerror(fname, 1, ("expected a signal (T) or (B, T), got %s"):format(type(x)), 3) end
    local ok, r = pcall(lp.tensor, t, dtype)
    if not ok then argerror(fname, 1, "expected a signal (T) or (B, T) of numbers", 3) end
    t = r
  end
  local nd = t:dim()
  if nd == 1 then t = t:reshape(1, t.shape[1])
  elseif nd == 3 and t.shape[3] == 1 then t = t:reshape(t.shape[1], t.shape[2])
  elseif nd ~= 2 then
    argerror(fname, 1, ("expected a signal (T), (B, T) or (B, T, 1), got shape %s"):format(shape_str(t)), 3)
  end
  if dtype and t.dtype ~= dtype then t = t:astype(dtype) end
  return t
end

local function is_float(t) return t.dtype == "float32" or t.dtype == "float64" end

local function col(t) return t:reshape(t.shape[1], t.shape[2], 1) end

-- Raise a C-side soft failure in the caller's words.
local function check(fname, v, msg)
  if v == nil then argerror(fname, 1, msg, 3) end
  return v
end

-- ---- the helpers: targets -> register values (Rockpool's static methods) -------------------------

local function ferr(fname, msg) error(("bad argument #1 to '%s' (%s)"):format(fname, msg), 3) end

--- get_dn_rate_scale_bitshift(rate_scale_factor) -> {b1, b2} with 2^b1 − 2^b2 = rate_scale_factor;
-- raises (naming the nearest possible factors) when there is none.
function M.get_dn_rate_scale_bitshift(rate)
  local F = "get_dn_rate_scale_bitshift"
  if not is_int(rate) then ferr(F, ("rate_scale_factor must be an integer, got %s"):format(tostring(rate))) end
  rate = math.tointeger(rate)
  if rate <= 0 then ferr(F, ("rate_scale_factor must be positive, got %d"):format(rate)) end
  if rate >= (1 << 62) then ferr(F, ("rate_scale_factor must be below 2^62, got %d"):format(rate)) end
  local b1 = 0
  while (1 << b1) <= rate do b1 = b1 + 1 end        -- bit length
  if (1 << b1) - 1 == rate then return { b1, 0 } end
  local pos, neg
  for b2 = 1, b1 - 1 do
    local v = (1 << b1) - (1 << b2)
    if v == rate then return { b1, b2 } end
    if v > rate and (not pos or v < pos[3]) then pos = { b1, b2, v } end
    if v < rate and (not neg or v > neg[3]) then neg = { b1, b2, v } end
  end
  local alt = {}
  if pos then alt[#alt + 1] = ("%d with (b1, b2) = (%d, %d)"):format(pos[3], pos[1], pos[2]) end
  if neg then alt[#alt + 1] = ("%d with (b1, b2) = (%d, %d)"):format(neg[3], neg[1], neg[2]) end
  ferr(F, ("rate_scale_factor %d is not 2^b1 - 2^b2 for any b1 > b2 >= 0; nearest: %s"):format(
    rate, table.concat(alt, " or ")))
end

-- Rockpool's argument order (audio_sampling_rate, target[, decimal]); one argument = the target at 48828.125 Hz.
local function rate_target(F, a, b, what)
  local fs, v = a, b
  if b == nil then fs, v = FS, a end
  if type(fs) ~= "number" or not (fs > 0) then ferr(F, "audio_sampling_rate must be a positive number") end
  if type(v) ~= "number" then ferr(F, ("%s must be a number, got %s"):format(what, type(v))) end
  if fs == math.huge or v ~= v or math.abs(v) == math.huge then
    ferr(F, ("audio_sampling_rate and %s must be finite"):format(what))
  end
  return fs, v
end

--- get_dn_low_pass_bitshift([audio_sampling_rate,] low_pass_averaging_window[, decimal = 3]) -> L
-- with 2^L / fs within 10^-decimal s of the window; raises otherwise.
function M.get_dn_low_pass_bitshift(a, b, decimal)
  local F = "get_dn_low_pass_bitshift"
  local fs, w = rate_target(F, a, b, "low_pass_averaging_window")
  decimal = decimal or 3
  if type(decimal) ~= "number" or decimal ~= decimal then ferr(F, "decimal must be a number") end
  if w < 1 / fs then
    ferr(F, ("low_pass_averaging_window must be at least 1/audio_sampling_rate = %.6f s, got %.6f"):format(1 / fs, w))
  end
  local c1 = math.floor(math.log(fs * w, 2))
  local c2 = c1 + 1
  local d1, d2 = math.abs(w - (2 ^ c1) / fs), math.abs(w - (2 ^ c2) / fs)
  local c, d
  if d1 < d2 then c, d = c1, d1 else c, d = c2, d2 end
  if d < 10 ^ (-decimal) then return math.tointeger(c) end
  ferr(F, ("the nearest to low_pass_averaging_window %.3f s is %.3f s (dn_low_pass_bitshift %d), off by %.3f s"):format(
    w, 2 ^ c / fs, c, d))
end

--- get_down_sampling_factor([audio_sampling_rate,] dt[, decimal = 6]) -> k with k / fs within 10^-decimal s of dt.
function M.get_down_sampling_factor(a, b, decimal)
  local F = "get_down_sampling_factor"
  local fs, dt = rate_target(F, a, b, "dt")
  decimal = decimal or 6
  if type(decimal) ~= "number" or decimal ~= decimal then ferr(F, "decimal must be a number") end
  if dt < 1 / fs then ferr(F, ("dt must be at least 1/audio_sampling_rate = %.7f s, got %.7f"):format(1 / fs, dt)) end
  local c1 = math.floor(dt * fs)
  local c2 = c1 + 1
  local d1, d2 = math.abs(dt - c1 / fs), math.abs(dt - c2 / fs)
  local c, d
  if d1 < d2 then c, d = c1, d1 else c, d = c2, d2 end
  if d < 10 ^ (-decimal) then return math.tointeger(c) end
  ferr(F, ("the nearest to dt %.6f s is %.6f s (down_sampling_factor %d), off by %.6f s"):format(dt, c / fs, c, d))
end

-- ---- stage modules ----------------------------------------------------------------------------

local Stage = class.Object:extend("AFEStage")
function Stage:__call(x, record) return self:evolve(x, record) end
function Stage:state() return {} end
function Stage:reset_state() end
function Stage:__tostring() return ("%s(%s)"):format(self.name, self.describe and self:describe() or "") end

local function stage(name, known, init)
  local C = Stage:extend(name)
  function C:init(opts)
    local o = options(name, opts, known)
    self.name = name
    init(self, name, o)
  end
  M[name] = C
  return C
end

--- ResampleAudio{fs_target = 48828.125, fs_in = 48828.125}: linear resampling (np.interp) to fs_target.
local Resample = stage("ResampleAudio", { fs_target = true, fs_in = true }, function(self, F, o)
  self.fs_target = num_opt(F, o, "fs_target", FS)
  self.fs_in = num_opt(F, o, "fs_in", FS)
end)
function Resample:evolve(x)
  local t = signal("evolve", x, "float64")
  if self.fs_in == self.fs_target then return col(t), {}, {} end
  return col(check("evolve", A.resample(t, self.fs_in, self.fs_target))), {}, {}
end

--- AudioQuantizer{scale = 1.0, num_bits = 14}: int(scale·x·2^(num_bits−1)), truncating.
local Quant = stage("AudioQuantizer", { scale = true, num_bits = true }, function(self, F, o)
  local s = o.scale == nil and 1.0 or o.scale
  if type(s) ~= "number" or s ~= s then argerror(F, 1, "field 'scale' must be a number", 3) end
  self.scale = s
  self.num_bits = int_opt(F, o, "num_bits", 14, 1, 14)
end)
function Quant:evolve(x)
  local t = signal("evolve", x, "float64")
  local q, msg = A.quantize(t, self.scale, self.num_bits)
  return col(check("evolve", q, msg)), {}, {}
end

--- MicrophonePDM{fs_in = 48828.125}: the delta-sigma microphone model -> PDM bits (B, Tp, 1) uint8.
local Mic = stage("MicrophonePDM", { fs_in = true }, function(self, F, o)
  self.fs_in = num_opt(F, o, "fs_in", FS)
end)
function Mic:evolve(x, record)
  local t = signal("evolve", x, "float64")
  local bits, pre = A.pdm_mic(t, self.fs_in, record and 2 ^ 53 or nil)
  check("evolve", bits, pre)
  return col(bits), {}, record and { deltasigma_signal_pre_Q = col(pre) } or {}
end

--- PolyPhaseFIR{}: PDM bits (B, Tp) 0/1 -> 14-bit audio (B, ceil(Tp/32) + 8, 1) int32.
local Fir = stage("PolyPhaseFIR", {}, function() end)
function Fir:evolve(x)
  local t = signal("evolve", x)
  if is_float(t) then argerror("evolve", 1, "PDM bits must be an integer tensor of 0/1", 2) end
  local y, msg = A.pdm_fir(t)
  return col(check("evolve", y, msg)), {}, {}
end
--- PolyPhaseFIR.taps() -> the 256 integer taps, the output shift.
function Fir.taps() return A.fir_taps() end

--- PDMADC{fs_in = 48828.125}: MicrophonePDM then PolyPhaseFIR; integer input = PDM bits (model skipped).
local Adc = stage("PDMADC", { fs_in = true }, function(self, F, o)
  self.fs_in = num_opt(F, o, "fs_in", FS)
end)
function Adc:evolve(x, record)
  local t = signal("evolve", x)
  local rec = {}
  if is_float(t) then
    local bits, pre = A.pdm_mic(t:astype("float64"), self.fs_in)
    t = check("evolve", bits, pre)
    if record then rec.pdm_bits = col(t) end
  end
  local y, msg = A.pdm_fir(t)
  return col(check("evolve", y, msg)), {}, rec
end

--- ChipButterworth{select_filters = 1..16, flip_and_encode = true}: (B, T) 14-bit ints -> (B, T, N) int32.
local FB = stage("ChipButterworth", { select_filters = true, flip_and_encode = true, shape = true }, function(self, F, o)
  self.select_filters = filters(F, o.select_filters)
  self.flip_and_encode = o.flip_and_encode ~= false
  self.size_out = #self.select_filters
  self.shape = { 1, self.size_out }
end)
function FB:evolve(x)
  local t = signal("evolve", x)
  if is_float(t) then argerror("evolve", 1, "the filter bank takes integer (14-bit) samples; quantise first", 2) end
  local y, msg = A.filterbank(t, self.select_filters, self.flip_and_encode)
  return check("evolve", y, msg), {}, {}
end
--- ChipButterworth.coefficients(id) -> {B_worst_case, B_b, B_af, a1, a2} of filter id (1..16).
function FB.coefficients(id)
  if not is_int(id) or id < 1 or id > 16 then argerror("coefficients", 1, "filter id must be 1..16") end
  return A.filter_coeffs(math.tointeger(id) - 1)
end

-- DN options shared by DivisiveNormalization and the chains -> the C parameter table.
local function dn_params(F, n, mode, o)
  local enable = mode == "divisive_norm" and 1 or 0
  local b = o.b or { 6, 0 }
  local p = { n = n, enable = {}, joint = true }
  for i = 1, n do p.enable[i] = enable end
  p.b1 = int_vec(F, { [o.bname] = b[1] }, o.bname, nil, n, 1, 31)
  p.b2 = int_vec(F, { [o.bname] = b[2] }, o.bname, nil, n, 0, 30)
  for i = 1, n do
    if p.b1[i] <= p.b2[i] then
      argerror(F, 1, ("field '%s': b1 must be larger than b2, got {%d, %d}"):format(o.bname, p.b1[i], p.b2[i]), 4)
    end
  end
  p.lowpass = int_vec(F, o, o.lname, 12, n, 0, 31)
  p.eps = int_vec(F, o, o.ename, 1, n, 0, 65535)
  p.threshold = int_vec(F, o, o.tname, 2 ^ 27, n, 0, (1 << 42) - 1)
  return p
end

local function dn_tensors(p)
  return { n = p.n, enable = lp.tensor(p.enable, "int32"), b1 = lp.tensor(p.b1, "int32"), b2 = lp.tensor(p.b2, "int32"),
    lowpass = lp.tensor(p.lowpass, "int32"), eps = lp.tensor(p.eps, "int64"), threshold = lp.tensor(p.threshold, "int64"),
    joint = p.joint }
end

--- DivisiveNormalization{shape = 16, enable_DN_channel = true, spike_rate_scale_bitshift1 = 6,
-- spike_rate_scale_bitshift2 = 0, low_pass_bitshift = 12, EPS_vec = 1, fixed_threshold_vec = 2^27,
-- fs = 48828.125, flip_and_encode = true}: filter-bank output (B, T, N) -> spikes (B, T, N) int32;
-- record: state_high_res_filter, state_low_res_filter, state_IAF, spike_gen_thresholds (B, T, N) int64.
local DN = stage("DivisiveNormalization", { shape = true, enable_DN_channel = true, spike_rate_scale_bitshift1 = true,
  spike_rate_scale_bitshift2 = true, low_pass_bitshift = true, EPS_vec = true, fixed_threshold_vec = true, fs = true,
  flip_and_encode = true }, function(self, F, o)
  local n = o.shape
  if type(n) == "table" then n = n[#n] end
  n = n == nil and 16 or n
  if not is_int(n) or n < 1 or n > 16 then argerror(F, 1, "field 'shape' must be 1..16 channels", 3) end
  n = math.tointeger(n)
  self.size_out, self.shape = n, { n, n }
  local en = o.enable_DN_channel
  if en == nil then en = true end
  local enl = {}
  if type(en) == "boolean" then for i = 1, n do enl[i] = en and 1 or 0 end
  else
    local l = lp.is_tensor(en) and en:reshape(-1):totable() or en
    if type(l) ~= "table" or #l ~= n then argerror(F, 1, ("field 'enable_DN_channel' must be a boolean or %d booleans"):format(n), 3) end
    for i = 1, n do enl[i] = (l[i] == true or l[i] == 1) and 1 or 0 end
  end
  local b1 = int_vec(F, o, "spike_rate_scale_bitshift1", 6, n, 1, 31)
  local b2 = int_vec(F, o, "spike_rate_scale_bitshift2", 0, n, 0, 30)
  for i = 1, n do
    if b1[i] <= b2[i] then
      argerror(F, 1, ("spike_rate_scale_bitshift1 must be larger than spike_rate_scale_bitshift2 (channel %d: %d, %d)"):format(i, b1[i], b2[i]), 3)
    end
  end
  self.fs = num_opt(F, o, "fs", FS)
  self.flip_and_encode = o.flip_and_encode ~= false
  self.params = { n = n, enable = enl, b1 = b1, b2 = b2, joint = true,
    lowpass = int_vec(F, o, "low_pass_bitshift", 12, n, 0, 31), eps = int_vec(F, o, "EPS_vec", 1, n, 0, 65535),
    threshold = int_vec(F, o, "fixed_threshold_vec", 2 ^ 27, n, 0, (1 << 42) - 1) }
  self._p = dn_tensors(self.params)
end)
function DN:evolve(x, record)
  local t = to_tensor("evolve", 1, x, "int64")
  if t:dim() == 2 then t = t:reshape(1, t.shape[1], t.shape[2]) end
  if t:dim() ~= 3 or t.shape[3] ~= self.size_out then
    argerror("evolve", 1, ("expected filter-bank output (T, %d) or (B, T, %d), got shape %s"):format(
      self.size_out, self.size_out, shape_str(t)), 2)
  end
  local spk, ras, rec = A.dn3(t, self._p, self.flip_and_encode, true, 0, MAX_SPIKES, record and true or false)
  check("evolve", spk, ras)
  return spk, {}, rec or {}
end

--- Raster{rate_downsample_factor = 50, max_num_spikes = 15}: (B, T, N) spikes -> (B, ceil(T/k), N) counts.
local Ras = stage("Raster", { shape = true, rate_downsample_factor = true, max_num_spikes = true, fs = true }, function(self, F, o)
  self.rate_downsample_factor = int_opt(F, o, "rate_downsample_factor", 50, 1, 2 ^ 31 - 1)
  self.max_num_spikes = int_opt(F, o, "max_num_spikes", MAX_SPIKES, 0, 2 ^ 31 - 1)
  self.fs = num_opt(F, o, "fs", FS)
  self.dt = self.rate_downsample_factor / self.fs
end)
function Ras:evolve(x)
  local t = to_tensor("evolve", 1, x, "int64")
  if t:dim() == 2 then t = t:reshape(1, t.shape[1], t.shape[2]) end
  if t:dim() ~= 3 then argerror("evolve", 1, ("expected spikes (T, N) or (B, T, N), got shape %s"):format(shape_str(t)), 2) end
  return check("evolve", A.raster3(t, self.rate_downsample_factor, self.max_num_spikes)), {}, {}
end

-- ---- the chains -------------------------------------------------------------------------------

local COMMON = { input_mode = true, select_filters = true, spike_gen_mode = true, dn_rate_scale_bitshift = true,
  dn_low_pass_bitshift = true, dn_EPS = true, fixed_threshold_vec = true, down_sampling_factor = true,
  audio_sampling_rate = true, input_sample_rate = true, flip_and_encode = true }
local EXTERNAL = { quantizer_scale = true, quantizer_num_bits = true }
for k in pairs(COMMON) do EXTERNAL[k] = true end

local AFESim = Stage:extend("AFESim")

local function build(cls, name, mode, opts, known)
  local self = setmetatable({}, cls)
  local F = name
  local o = options(F, opts, known)
  self.name = name
  if o.input_mode ~= nil and o.input_mode ~= mode then
    argerror(F, 1, ("field 'input_mode' must be '%s' for %s, got '%s'"):format(mode, name, tostring(o.input_mode)), 3)
  end
  self.input_mode = mode
  if o.audio_sampling_rate ~= nil and o.audio_sampling_rate ~= FS then
    argerror(F, 1, ("field 'audio_sampling_rate' must be %s (the chip's rate; audio at other rates: input_sample_rate), got %s"):format(
      tostring(FS), tostring(o.audio_sampling_rate)), 3)
  end
  self.audio_sampling_rate = FS
  self.input_sample_rate = num_opt(F, o, "input_sample_rate", FS)
  self.select_filters = filters(F, o.select_filters)
  local n = #self.select_filters
  self.size_in, self.size_out, self.shape = 1, n, { 1, n }
  local mode_sg = o.spike_gen_mode == nil and "divisive_norm" or o.spike_gen_mode
  if mode_sg ~= "divisive_norm" and mode_sg ~= "threshold" then
    argerror(F, 1, ("field 'spike_gen_mode' must be 'divisive_norm' or 'threshold', got '%s'"):format(tostring(mode_sg)), 3)
  end
  self.spike_gen_mode = mode_sg
  self.down_sampling_factor = int_opt(F, o, "down_sampling_factor", 50, 1, 2 ^ 31 - 1)
  self.flip_and_encode = o.flip_and_encode ~= false
  if mode == "external" then
    local s = o.quantizer_scale == nil and 1.0 or o.quantizer_scale
    if type(s) ~= "number" or s ~= s then argerror(F, 1, "field 'quantizer_scale' must be a number", 3) end
    self.quantizer_scale = s
    self.quantizer_num_bits = int_opt(F, o, "quantizer_num_bits", 14, 1, 14)
  end
  -- DN values: resolved as Rockpool does (threshold mode ignores them, DN mode ignores fixed thresholds)
  local b = o.dn_rate_scale_bitshift
  if b ~= nil then
    local l = lp.is_tensor(b) and b:reshape(-1):totable() or b
    if type(l) ~= "table" or #l ~= 2 then argerror(F, 1, "field 'dn_rate_scale_bitshift' must be a pair {b1, b2}", 3) end
    b = l
  end
  local p
  if mode_sg == "divisive_norm" then
    p = dn_params(F, n, mode_sg, { b = b or { 6, 0 }, bname = "dn_rate_scale_bitshift", lname = "dn_low_pass_bitshift",
      ename = "dn_EPS", tname = "fixed_threshold_vec", dn_low_pass_bitshift = o.dn_low_pass_bitshift,
      dn_EPS = o.dn_EPS, fixed_threshold_vec = 0 })
    self.dn_rate_scale_bitshift = { p.b1[1], p.b2[1] }
    self.dn_low_pass_bitshift = p.lowpass[1]
    self.dn_EPS = o.dn_EPS == nil and 1 or (type(o.dn_EPS) == "number" and o.dn_EPS or p.eps)
    self.fixed_threshold_vec = 0
  else
    p = dn_params(F, n, mode_sg, { b = { 1, 0 }, bname = "dn_rate_scale_bitshift", lname = "dn_low_pass_bitshift",
      ename = "dn_EPS", tname = "fixed_threshold_vec", dn_low_pass_bitshift = 0, dn_EPS = 1,
      fixed_threshold_vec = o.fixed_threshold_vec })
    self.dn_rate_scale_bitshift, self.dn_low_pass_bitshift, self.dn_EPS = { 1, 0 }, 0, 1
    self.fixed_threshold_vec = o.fixed_threshold_vec == nil and 2 ^ 27 or
      (type(o.fixed_threshold_vec) == "number" and o.fixed_threshold_vec or p.threshold)
  end
  self.dn_resolved = p
  self._p = dn_tensors(p)
  self.dt = self.down_sampling_factor / FS
  return self
end

--- AFESimExternal{...}: audio (T) / (B, T) float -> raster (B, T', N); see the file header.
M.AFESimExternal = AFESim:extend("AFESimExternal")
setmetatable(M.AFESimExternal, { __index = AFESim, __name = "AFESimExternal",
  __call = function(cls, opts) return build(cls, "AFESimExternal", "external", opts, EXTERNAL) end })

--- AFESimPDM{...}: float audio at input_sample_rate (through the microphone model) or integer PDM
-- bits 0/1 at 1.5625 MHz (model skipped) -> raster (B, T', N).
M.AFESimPDM = AFESim:extend("AFESimPDM")
setmetatable(M.AFESimPDM, { __index = AFESim, __name = "AFESimPDM",
  __call = function(cls, opts) return build(cls, "AFESimPDM", "pdm", opts, COMMON) end })

-- The front part of each chain: input -> 14-bit audio (B, T) int32, records.
local function front(self, x, record, rec)
  local t = signal("evolve", x)
  if self.input_mode == "external" then
    if not is_float(t) then t = t:astype("float64") end
    t = t:astype("float64")
    if self.input_sample_rate ~= FS then
      t = check("evolve", A.resample(t, self.input_sample_rate, FS))
      if record then rec.resampled = col(t) end
    end
    local q, msg = A.quantize(t, self.quantizer_scale, self.quantizer_num_bits)
    check("evolve", q, msg)
    if record then rec.quantized = col(q) end
    return q
  end
  if is_float(t) then
    local bits, msg = A.pdm_mic(t:astype("float64"), self.input_sample_rate)
    t = check("evolve", bits, msg)
    if record then rec.pdm_bits = col(t) end
  elseif t.dtype == "bool" then
    t = t:astype("int32")
  end
  local y, msg = A.pdm_fir(t)
  check("evolve", y, msg)
  if record then rec.pdm_adc = col(y) end
  return y
end

--- afe:evolve(input[, record]) -> raster (B, T', N) int32, {}, record
-- record: quantized (external) or pdm_adc (PDM) (B, T, 1), filterbank (B, T, N) int32,
-- spikes (B, T, N) int32 (the audio-rate spike raster); also resampled (external, when
-- resampling) and pdm_bits (PDM from audio).
function AFESim:evolve(x, record)
  local rec = {}
  local q = front(self, x, record, rec)
  local fb, msg = A.filterbank(q, self.select_filters, self.flip_and_encode)
  check("evolve", fb, msg)
  if record then rec.filterbank = fb end
  local spk, ras = A.dn3(fb, self._p, self.flip_and_encode, record and true or false, self.down_sampling_factor, MAX_SPIKES, false)
  if spk == nil and ras ~= nil and type(ras) == "string" then argerror("evolve", 1, ras, 2) end
  if record then rec.spikes = spk end
  return ras, {}, rec
end

function AFESim:describe()
  local ids = {}
  for i, f in ipairs(self.select_filters) do ids[i] = f + 1 end
  return ("%d filters {%s}, %s, dt %.6g s"):format(#ids, table.concat(ids, ", "), self.spike_gen_mode, self.dt)
end

--- afe:simulation_parameters() -> the resolved options (as Rockpool's attributes).
function AFESim:simulation_parameters()
  local ids = {}
  for i, f in ipairs(self.select_filters) do ids[i] = f + 1 end
  return { input_mode = self.input_mode, select_filters = ids, spike_gen_mode = self.spike_gen_mode,
    dn_rate_scale_bitshift = self.dn_rate_scale_bitshift, dn_low_pass_bitshift = self.dn_low_pass_bitshift,
    dn_EPS = self.dn_EPS, fixed_threshold_vec = self.fixed_threshold_vec,
    down_sampling_factor = self.down_sampling_factor, audio_sampling_rate = self.audio_sampling_rate,
    input_sample_rate = self.input_sample_rate, flip_and_encode = self.flip_and_encode,
    quantizer_scale = self.quantizer_scale, quantizer_num_bits = self.quantizer_num_bits, dt = self.dt }
end

--- Class.from_specification{rate_scale_factor = 63, low_pass_averaging_window = 84e-3, dt = 1.024e-3,
-- select_filters, spike_gen_mode, dn_EPS, fixed_threshold_vec, + the other options} -> module.
local function from_spec(cls, opts)
  opts = opts or {}
  local o = {}
  for k, v in pairs(opts) do o[k] = v end
  local rate = o.rate_scale_factor; o.rate_scale_factor = nil
  local win = o.low_pass_averaging_window; o.low_pass_averaging_window = nil
  local dt = o.dt; o.dt = nil
  if rate == nil then rate = 63 end
  if win == nil then win = 84e-3 end
  if dt == nil then dt = 1024e-6 end
  if rate ~= false then o.dn_rate_scale_bitshift = M.get_dn_rate_scale_bitshift(rate) end
  if win ~= false then o.dn_low_pass_bitshift = M.get_dn_low_pass_bitshift(FS, win) end
  o.down_sampling_factor = M.get_down_sampling_factor(FS, dt)
  return cls(o)
end
function M.AFESimExternal.from_specification(opts) return from_spec(M.AFESimExternal, opts) end
function M.AFESimPDM.from_specification(opts) return from_spec(M.AFESimPDM, opts) end
M.AFESimExternal.get_dn_rate_scale_bitshift = M.get_dn_rate_scale_bitshift
M.AFESimExternal.get_dn_low_pass_bitshift = M.get_dn_low_pass_bitshift
M.AFESimExternal.get_down_sampling_factor = M.get_down_sampling_factor
M.AFESimPDM.get_dn_rate_scale_bitshift = M.get_dn_rate_scale_bitshift
M.AFESimPDM.get_dn_low_pass_bitshift = M.get_dn_low_pass_bitshift
M.AFESimPDM.get_down_sampling_factor = M.get_down_sampling_factor

return M
