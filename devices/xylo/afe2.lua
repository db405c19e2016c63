-- devices/xylo/afe2.lua -- the Xylo Audio 2 analog front-end model
-- (reference/xylo.md §11.1): lp.xylo.audio2.AFESim, Rockpool's empirical
-- float64 model (syns61201/afe_sim_empirical.py) with its names.
-- Owns: options and defaults, the mismatch draws (seeded), the filter design,
-- the state (IAF voltages), records and the raster. The sample loops are C:
-- devices/xylo/afe2.c.
--
--   local afe = lp.xylo.audio2.AFESim{fs = 110e3, add_noise = false, add_mismatch = false,
--                                     add_offset = false}
--   local spikes, state, rec = afe(audio_volts, true)   -- (T) or (B, T) at fs; spikes (B, T, 16)
--   local raster = afe:raster(spikes)                    -- (B, bins, 16) counts ≤ 15 per 10 ms
--   -- rec: mic_out, LNA_out (B, T), BPF, rect (B, T, 16) float64, spikes_pre_counter (B, T, 16)
--
-- Options: fs (110e3 Hz; must be ≥ 6 × the highest centre), raster_period
-- (0.01 s), max_spike_per_raster_period (15), add_noise, add_offset,
-- add_mismatch (true), seed (mismatch draws and noise; default: drawn from
-- lp's generator, so lp.seed(...) makes runs reproducible), input_sample_rate
-- (fs; audio at another rate is resampled linearly first), Rockpool's
-- constants by their names: VCC, INPUT_MAX_AMPLITUDE, MIC_DISTORTION,
-- INPUT_MIC_MAX_AMPLITUDE, MAX_INPUT_OFFSET, F_CORNER_HIGHPASS, LNA_DISTORTION,
-- INPUT_LNA_MAX_AMPLITUDE, lna_gain_db (0, 6 or 12), MAX_LNA_OFFSET, Q,
-- design_fcs (16), design_bws (ignored: fcs/Q), ORDER_BPF (2), MAX_BPF_OFFSET,
-- BPF_FC_SHIFT, Q_MIS_MATCH, FC_MIS_MATCH, C_IAF, V2I_GIAN (or V2I_GAIN),
-- LEAKAGE, DIGITAL_COUNTER, THR_UP, VRMS_SQHZ_{LNA,BPF,FWR}, F_KNEE_{...},
-- F_ALPHA_{...}; and `mismatch` = {input_offset, lna_offset, bpf_offset (16),
-- Q_mismatch (16), fc_mismatch (16), bpf_fc_shift} to set drawn values, and
-- `filters` = {sos (16, 2, 6), hp_b (2), hp_a (2)} to use given coefficients.
--
-- Decisions on the reference's quirks (xa2afe README):
--   * Rockpool adds rectifier noise even when add_noise is false: limpet adds
--     no noise at all then (the oracle's cases are made that way).
--   * Every band-pass filter sees the LNA output plus the offset of filter 1
--     (bpf_offset[0] in Rockpool): kept, as the oracle records it.
--   * The LNA offset is added twice (before and after its gain), kept.
--   * The boundary trick (time-reversed copy first) is kept; the filters and
--     the counter restart each call, the IAF voltages carry over (Rockpool).
--   * raster(): when raster_period/dt is an integer k, Rockpool's cumsum stride:
--     bin 1 holds sample 1 only, bin i samples (i−2)k+2 .. (i−1)k+1, samples after
--     the last multiple of k are dropped; otherwise TSEvent binning. Kept.
--   * The noise follows the reference's model (white Gaussian noise shaped by
--     (knee/f)^alpha below the knee) but not its numbers (NumPy's generator).
--   * The filters are designed here (bilinear transform, as scipy's butter),
--     not copied: within ~1e-12 of scipy's sections; `filters` takes scipy's.
local lp = require "limpet"
local core = require "limpet.core"
local class = require "limpet.class"

local A = core._afe
local M = {}

local DESIGN_FCS = { 40, 54, 77, 137, 203, 290, 428, 674, 1177, 1700, 2226, 3418, 5154, 7884, 11630, 16940 }
M.design_fcs = DESIGN_FCS

local U = require "limpet.nn.util"
local argerror, to_tensor = U.argerror, U.tensor_arg

local DEFAULTS = {
  fs = 110e3, raster_period = 0.01, max_spike_per_raster_period = 15,
  add_noise = true, add_offset = true, add_mismatch = true,
  VCC = 1.1, MIC_DISTORTION = 0.01, INPUT_MIC_MAX_AMPLITUDE = 200e-3, MAX_INPUT_OFFSET = 0.0,
  F_CORNER_HIGHPASS = 20, LNA_DISTORTION = 0.01, lna_gain_db = 0.0, MAX_LNA_OFFSET = 5.0e-3, Q = 4,
  ORDER_BPF = 2, MAX_BPF_OFFSET = 5.0e-3, BPF_FC_SHIFT = -5e-2, Q_MIS_MATCH = 10e-2, FC_MIS_MATCH = 5e-2,
  C_IAF = 5e-12, V2I_GIAN = 0.333e-6, LEAKAGE = 1e-9, DIGITAL_COUNTER = 4, THR_UP = 0.5,
  VRMS_SQHZ_LNA = 70e-9, F_KNEE_LNA = 70e3, F_ALPHA_LNA = 1,
  VRMS_SQHZ_BPF = 1e-9, F_KNEE_BPF = 100e3, F_ALPHA_BPF = 1,
  VRMS_SQHZ_FWR = 700e-9, F_KNEE_FWR = 158, F_ALPHA_FWR = 1,
}
local OTHER = { seed = true, input_sample_rate = true, INPUT_MAX_AMPLITUDE = true, INPUT_LNA_MAX_AMPLITUDE = true,
  design_fcs = true, design_bws = true, V2I_GAIN = true, mismatch = true, filters = true }
local BOOLS = { add_noise = true, add_offset = true, add_mismatch = true }

local function list16(F, k, v, argno)
  local l = lp.is_tensor(v) and v:reshape(-1):totable() or v
  if type(l) ~= "table" or #l ~= 16 then argerror(F, argno or 1, ("field '%s' must have 16 values"):format(k), 4) end
  for i = 1, 16 do
    if type(l[i]) ~= "number" then argerror(F, argno or 1, ("field '%s': value %d must be a number"):format(k, i), 4) end
  end
  return l
end

local AFESim = class.Object:extend("AFESim")
M.AFESim = AFESim

--- AFESim{...} (see the file header)
function AFESim:init(opts)
  local F = "AFESim"
  opts = opts or {}
  if type(opts) ~= "table" then argerror(F, 1, ("expected an options table, got %s"):format(type(opts)), 3) end
  for k, v in pairs(opts) do
    if DEFAULTS[k] == nil and not OTHER[k] then argerror(F, 1, ("unknown field '%s'"):format(tostring(k)), 3) end
    if BOOLS[k] and type(v) ~= "boolean" then argerror(F, 1, ("field '%s' must be a boolean"):format(k), 3) end
    if DEFAULTS[k] ~= nil and not BOOLS[k] and (type(v) ~= "number" or v ~= v) then
      argerror(F, 1, ("field '%s' must be a number, got %s"):format(k, tostring(v)), 3)
    end
  end
  for k, v in pairs(DEFAULTS) do
    if opts[k] == nil then self[k] = v else self[k] = opts[k] end
  end
  if opts.V2I_GAIN ~= nil then self.V2I_GIAN = opts.V2I_GAIN end
  self.INPUT_MAX_AMPLITUDE = opts.INPUT_MAX_AMPLITUDE or self.VCC / 2.0
  self.INPUT_LNA_MAX_AMPLITUDE = opts.INPUT_LNA_MAX_AMPLITUDE or self.INPUT_MAX_AMPLITUDE * 0.8
  self.design_fcs = opts.design_fcs and list16(F, "design_fcs", opts.design_fcs) or { table.unpack(DESIGN_FCS) }
  self.Fs = self.fs
  if not (self.fs > 0) then argerror(F, 1, "field 'fs' must be positive", 3) end
  local top = 0
  for i = 1, 16 do top = math.max(top, self.design_fcs[i]) end
  if self.fs < 6 * top then
    argerror(F, 1, ("field 'fs': the model needs at least 6 times the highest centre frequency (%g Hz), got %g Hz"):format(
      6 * top, self.fs), 3)
  end
  if self.ORDER_BPF ~= 2 then argerror(F, 1, "field 'ORDER_BPF': only 2 is modelled", 3) end
  if self.lna_gain_db ~= 0 and self.lna_gain_db ~= 6 and self.lna_gain_db ~= 12 then
    argerror(F, 1, ("field 'lna_gain_db' must be 0, 6 or 12, got %s"):format(tostring(self.lna_gain_db)), 3)
  end
  if math.type(self.DIGITAL_COUNTER) ~= "integer" and self.DIGITAL_COUNTER ~= math.floor(self.DIGITAL_COUNTER) or self.DIGITAL_COUNTER < 1 then
    argerror(F, 1, "field 'DIGITAL_COUNTER' must be a positive integer", 3)
  end
  if not (self.raster_period > 0) then argerror(F, 1, "field 'raster_period' must be positive", 3) end
  self.input_sample_rate = opts.input_sample_rate or self.fs
  if type(self.input_sample_rate) ~= "number" or not (self.input_sample_rate > 0) then
    argerror(F, 1, "field 'input_sample_rate' must be a positive number", 3)
  end
  local seed = opts.seed
  if seed == nil then seed = lp.randint(0, 2147483647, { 1 }):item() end
  if math.type(seed) ~= "integer" then argerror(F, 1, "field 'seed' must be an integer", 3) end
  self.seed = seed
  self._draws = 0
  self._calls = 0
  self._given_mismatch = opts.mismatch
  if opts.filters ~= nil then
    local f = opts.filters
    if type(f) ~= "table" or f.sos == nil or f.hp_b == nil or f.hp_a == nil then
      argerror(F, 1, "field 'filters' must hold sos (16, 2, 6), hp_b and hp_a", 3)
    end
    local sos = lp.tensor(f.sos, "float64")
    if sos:numel() ~= 16 * 12 then argerror(F, 1, "field 'filters': sos must be (16, 2, 6)", 3) end
    self._filters = { sos = sos:reshape(16, 2, 6), hp_b = lp.tensor(f.hp_b, "float64"), hp_a = lp.tensor(f.hp_a, "float64") }
  end
  self:generate_mismatch()
end

-- uniform in [-1, 1) from the module's seed
local function u11(self)
  self._draws = self._draws + 1
  return 2 * A.uniform(self.seed, self._draws) - 1
end

--- afe:generate_mismatch(): draw offsets and mismatch again (Rockpool's), re-design the filters.
function AFESim:generate_mismatch()
  local g = self._given_mismatch or {}
  local function draw1(on, max) return on and max * u11(self) or 0.0 end
  local function drawv(on, max)
    local v = {}
    for i = 1, 16 do v[i] = on and max * u11(self) or 0.0 end
    return v
  end
  self.input_offset = g.input_offset or draw1(self.add_offset, self.MAX_INPUT_OFFSET)
  self.lna_offset = g.lna_offset or draw1(self.add_offset, self.MAX_LNA_OFFSET)
  self.bpf_offset = g.bpf_offset and list16("generate_mismatch", "bpf_offset", g.bpf_offset) or drawv(self.add_offset, self.MAX_BPF_OFFSET)
  self.Q_mismatch = g.Q_mismatch and list16("generate_mismatch", "Q_mismatch", g.Q_mismatch) or drawv(self.add_mismatch, self.Q_MIS_MATCH)
  self.fc_mismatch = g.fc_mismatch and list16("generate_mismatch", "fc_mismatch", g.fc_mismatch) or drawv(self.add_mismatch, self.FC_MIS_MATCH)
  self.bpf_fc_shift = g.bpf_fc_shift or draw1(self.add_mismatch, self.BPF_FC_SHIFT)
  self._given_mismatch = nil
  local fcs, Qs, bws = {}, {}, {}
  for i = 1, 16 do
    fcs[i] = self.design_fcs[i] * (1.0 + self.fc_mismatch[i])
    fcs[i] = fcs[i] * (1.0 + self.bpf_fc_shift)
    Qs[i] = self.Q * (1.0 + self.Q_mismatch[i])
    bws[i] = fcs[i] / Qs[i]
  end
  self.fcs, self.Qs, self.bws = fcs, Qs, bws
  if self._filters then
    self.sos, self.hp_b, self.hp_a = self._filters.sos, self._filters.hp_b, self._filters.hp_a
  else
    local sos = {}
    for i = 1, 16 do sos[i] = A.design_bandpass(fcs[i] - bws[i] / 2, fcs[i] + bws[i] / 2, self.fs) end
    local b, a = A.design_highpass(self.F_CORNER_HIGHPASS, self.fs)
    self.sos, self.hp_b, self.hp_a = lp.tensor(sos, "float64"), lp.tensor(b, "float64"), lp.tensor(a, "float64")
  end
  self.lif_state = lp.zeros({ 16 }, "float64")
end

--- afe:state() -> {lif_state = (16) float64}; afe:reset_state() zeroes it.
function AFESim:state() return { lif_state = self.lif_state:clone() } end
function AFESim:reset_state() self.lif_state = lp.zeros({ 16 }, "float64") end
--- afe.dt: 1 / fs
function AFESim:__index(k)
  if k == "dt" then return 1 / rawget(self, "fs") end
  return AFESim[k]
end

local function params(self)
  self._calls = self._calls + 1
  return {
    fs = self.fs, vcc = self.VCC, max_amp = self.INPUT_MAX_AMPLITUDE, mic_dist = self.MIC_DISTORTION,
    mic_vc = self.INPUT_MIC_MAX_AMPLITUDE, lna_dist = self.LNA_DISTORTION, lna_vc = self.INPUT_LNA_MAX_AMPLITUDE,
    lna_gain = 2 ^ (self.lna_gain_db / 6.0), input_offset = self.add_offset and self.input_offset or 0.0,
    lna_offset = self.lna_offset, bpf_offset = self.add_offset and self.bpf_offset[1] or 0.0,
    sos = self.sos, hp_b = self.hp_b, hp_a = self.hp_a, v2i = self.V2I_GIAN, c_iaf = self.C_IAF,
    leakage = self.LEAKAGE, thr = self.THR_UP, counter = math.tointeger(self.DIGITAL_COUNTER),
    add_noise = self.add_noise, seed = (self.seed * 1000003 + self._calls) & 0x7fffffffffff,
    noise_lna = { self.VRMS_SQHZ_LNA, self.F_KNEE_LNA, self.F_ALPHA_LNA },
    noise_bpf = { self.VRMS_SQHZ_BPF, self.F_KNEE_BPF, self.F_ALPHA_BPF },
    noise_fwr = { self.VRMS_SQHZ_FWR, self.F_KNEE_FWR, self.F_ALPHA_FWR },
  }
end

--- afe:evolve(input[, record]) -> spikes (B, T, 16) int32 (after the digital counter), state, record
function AFESim:evolve(x, record)
  local t = x
  if not lp.is_tensor(t) then
    if type(t) ~= "table" then argerror("evolve", 1, ("expected audio (T) or (B, T), got %s"):format(type(x)), 2) end
    t = to_tensor("evolve", 1, t, "float64")
  end
  if t:dim() == 1 then t = t:reshape(1, t.shape[1]) end
  if t:dim() == 3 and t.shape[3] == 1 then t = t:reshape(t.shape[1], t.shape[2]) end
  if t:dim() ~= 2 then argerror("evolve", 1, "expected audio (T), (B, T) or (B, T, 1)", 2) end
  t = t:astype("float64")
  if self.input_sample_rate ~= self.fs then
    t = A.resample(t, self.input_sample_rate, self.fs)
  end
  local spk, lif, rec = A.afe2(t, params(self), self.lif_state, record and true or false)
  if not spk then argerror("evolve", 1, lif, 2) end
  self.lif_state = lif
  local r = {}
  if rec then
    r = { mic_out = rec.mic, LNA_out = rec.lna, BPF = rec.bpf, rect = rec.rect,
      spikes_pre_counter = rec.spikes_pre, spks_out = spk }
  end
  return spk, self:state(), r
end

function AFESim:__call(x, record) return self:evolve(x, record) end

--- afe:raster(spikes (B, T, 16)) -> (B, bins, 16) int32 counts per raster_period, clipped.
function AFESim:raster(spikes)
  local t = to_tensor("raster", 1, spikes, "int64")
  if t:dim() == 2 then t = t:reshape(1, t.shape[1], t.shape[2]) end
  if t:dim() ~= 3 then argerror("raster", 1, "expected spikes (T, 16) or (B, T, 16)", 2) end
  local r, msg = A.afe2_raster(t, 1 / self.fs, self.raster_period, math.tointeger(self.max_spike_per_raster_period))
  if not r then argerror("raster", 1, msg, 2) end
  return r
end

function AFESim:__tostring()
  return ("AFESim(fs %g Hz, LNA %g dB, counter %d, raster %g s%s%s%s)"):format(self.fs, self.lna_gain_db,
    self.DIGITAL_COUNTER, self.raster_period, self.add_noise and ", noise" or "", self.add_offset and ", offset" or "",
    self.add_mismatch and ", mismatch" or "")
end

return M
