-- devices/xylo/imuif.lua -- the Xylo IMU input interface (lp.xylo.imu.IMUIFSim and its
-- stages), bit-exact after Rockpool's IMUIFSim (reference/xylo.md §11.4).
-- Owns: the option tables (Rockpool's option names), their checks and defaults, the
-- filter design of BandPassFilter.from_specification (scipy's first-order Butterworth
-- band-pass, replayed in the same floating-point steps), the IMU Quantizer, the
-- stage modules and their chaining, and the IMU IF register fields
-- (IMUIFSim.from_config / :export_config). The sample loops are C
-- (devices/xylo/imuif.c, through core._imuif).
--
--   local imu = lp.xylo.imu
--   local q = imu.Quantizer{scale = 0.49, num_bits = 16}      -- float g -> int16 samples
--   local m = imu.IMUIFSim{bypass_jsvd = false, select_iaf_output = false,
--                          scale_values = 5, iaf_threshold_values = 1024,
--                          num_avg_bitshift = 4, SAH_period = 10, sampling_freq = 200,
--                          filter_list = nil}               -- nil: the 15 default bands
--   local spikes, state, rec = m(q(accel), true)             -- (B, T, 15) event counts
--   -- rec.rotation_removal (B, T, 3), rec.covariance (B, T, 9), rec.filterbank (B, T, 15)
--   -- stages: imu.SubSpace, imu.SampleAndHold, imu.JSVD, imu.RotationRemoval,
--   --         imu.BandPassFilter, imu.FilterBank, imu.ScaleSpikeEncoder, imu.IAFSpikeEncoder
--
-- Inputs are (T, 3) or (B, T, 3) integer samples (|x| <= 32767, Rockpool's check; the
-- Quantizer with num_bits = 16 gives 32768 for 1.0, which the interface refuses, as
-- Rockpool does). Outputs are int64 tensors, batch-major.
--
-- Decisions on the reference's behaviour (see also imuif.c):
-- * State: the covariance filter (SubSpace's high-precision words) carries over from
--   one call to the next, as in Rockpool; every batch row starts from the module's
--   state and row 1's final state is kept (limpet's rule for every module; Rockpool
--   carries it from row to row). Everything else restarts in each call, as in
--   Rockpool: the sample-and-hold phase, the JSVD "previous rotation" (identity at the
--   start of each row; Rockpool carries it across rows), the filter bank (time-reversed
--   prefix) and the IAF sums. reset_state() zeroes the covariance filter.
-- * Register fields (from_config / export_config): update_matrix_threshold holds
--   SAH_period - 1, the HDK's convention (xylo_imu_devkit_utils writes period - 1);
--   Rockpool's IMUIFSim.from_config reads it as the period itself, off by one.
-- * filter_list entries may be BandPassFilter objects or tables with the same fields.
-- * Errors where Rockpool raises (overflow in a filter or the covariance filter,
--   samples beyond 16 bits) are Lua errors naming the cause.
local lp = require "limpet"
local core = require "limpet.core"
local Module = require "limpet.nn.module"

local M = {}

local U = require "limpet.nn.util"
local argerror, to_tensor = U.argerror, U.tensor_arg

-- Option table: unknown fields are errors; returns a copy with the defaults filled in.
local NONE = {}   -- "no default": the field may be absent
local function options(fname, opts, defaults, level)
  level = (level or 1) + 1
  if opts == nil then opts = {} end
  if type(opts) ~= "table" or lp.is_tensor(opts) then
    argerror(fname, 1, ("option table expected, got %s"):format(lp.is_tensor(opts) and "tensor" or type(opts)), level)
  end
  local out = {}
  for k, v in pairs(defaults) do if v ~= NONE then out[k] = v end end
  for k, v in pairs(opts) do
    if type(k) ~= "string" or defaults[k] == nil then
      argerror(fname, 1, ("unknown field '%s'"):format(tostring(k)), level)
    end
    out[k] = v
  end
  return out
end

local function is_int(x) return math.type(x) == "integer" or (type(x) == "number" and x == math.floor(x) and x == x and math.abs(x) < 2^53) end

-- An integer option in lo..hi.
local function int_opt(fname, name, v, lo, hi, level)
  if not is_int(v) or v < lo or v > hi then
    argerror(fname, 1, ("field '%s' must be an integer in %d..%d, got %s"):format(name, lo, hi, tostring(v)), (level or 1) + 1)
  end
  return math.tointeger(v)
end

local function bool_opt(fname, name, v, level)
  if type(v) ~= "boolean" then
    argerror(fname, 1, ("field '%s' must be true or false, got %s"):format(name, tostring(v)), (level or 1) + 1)
  end
  return v
end

-- A per-channel integer option: a number (broadcast), a Lua array or a tensor of n.
local function vec_opt(fname, name, v, n, lo, hi, level)
  level = (level or 1) + 1
  local list
  if type(v) == "number" then
    list = {}
    for i = 1, n do list[i] = v end
  elseif lp.is_tensor(v) then
    list = v:reshape(-1):totable()
  elseif type(v) == "table" then
    list = v
  else
    argerror(fname, 1, ("field '%s' must be a number, a list or a tensor of %d integers, got %s"):format(name, n, type(v)), level)
  end
  if #list ~= n then
    argerror(fname, 1, ("field '%s' must hold %d values, got %d"):format(name, n, #list), level)
  end
  local out = {}
  for i = 1, n do
    local x = list[i]
    if not is_int(x) or x < lo or x > hi then
      argerror(fname, 1, ("field '%s': value %d must be an integer in %d..%d, got %s"):format(name, i, lo, hi, tostring(x)), level)
    end
    out[i] = math.tointeger(x)
  end
  return out
end

-- Input as (B, T, C) for the C stages; `what` names the module in messages.
local function batch(mod, x, level)
  level = (level or 1) + 1
  if type(x) == "table" and not lp.is_tensor(x) then
    local ok, t = pcall(lp.tensor, x)
    if not ok then argerror("evolve", 1, mod.full_name .. " expects a tensor or a nested table of integers", level) end
    x = t
  end
  if not lp.is_tensor(x) then
    argerror("evolve", 1, ("%s expects a tensor, got %s"):format(mod.full_name, type(x)), level)
  end
  local d = x:dim()
  if d == 2 then x = x:unsqueeze(1)
  elseif d ~= 3 then
    argerror("evolve", 1, ("%s expects input of shape (T, C) or (B, T, C), got %s"):format(mod.full_name, lp.format_shape and lp.format_shape(x.shape) or ("%dD"):format(d)), level)
  end
  if mod.size_in and x.shape[3] ~= mod.size_in then
    argerror("evolve", 1, ("%s expects %d input channels, got %d"):format(mod.full_name, mod.size_in, x.shape[3]), level)
  end
  return x
end

-- A C stage's result, or an error in the words of evolve.
local function checked(r, msg, level)
  if r == nil then argerror("evolve", 1, msg, (level or 1) + 1) end
  return r
end

-- Quantizer -------------------------------------------------------------------------

local Quantizer = Module:extend("Quantizer")
M.Quantizer = Quantizer

--- imu.Quantizer{shape = 3, scale = 1.0, num_bits = 16}: int(scale · x · 2^(num_bits-1)),
-- truncated toward zero (float64 arithmetic), as int64.
function Quantizer:init(opts)
  opts = options("Quantizer", opts, { shape = NONE, scale = 1.0, num_bits = 16 }, 2)
  if type(opts.scale) ~= "number" or opts.scale ~= opts.scale then
    argerror("Quantizer", 1, ("field 'scale' must be a number, got %s"):format(tostring(opts.scale)), 3)
  end
  local nb = int_opt("Quantizer", "num_bits", opts.num_bits, 1, 53, 2)
  Module.init(self, opts.shape)
  rawset(self, "scale", opts.scale + 0.0)
  rawset(self, "num_bits", nb)
end

function Quantizer:evolve(x, record)
  local _ = record
  if type(x) == "number" or (type(x) == "table" and not lp.is_tensor(x)) then
    local ok, t = pcall(lp.tensor, x, "float64")
    if not ok then
      argerror("evolve", 1, "Quantizer expects a tensor: " .. tostring(t):gsub("^.-%((.*)%)$", "%1"), 2)
    end
    x = t
  end
  if not lp.is_tensor(x) then argerror("evolve", 1, "Quantizer expects a tensor, got " .. type(x), 2) end
  if x:dim() == 2 then x = x:unsqueeze(1) end
  local y = x:astype("float64") * self.scale * (2.0 ^ (self.num_bits - 1))
  local mx = y:numel() > 0 and y:abs():max():item() or 0     -- an empty input gives an empty output
  if not (mx < 2^62) then argerror("evolve", 1, "Quantizer: input is not finite or too large", 2) end
  return y:astype("int64"), {}, {}
end

-- SubSpace ---------------------------------------------------------------------------

local ZERO9 = { 0, 0, 0, 0, 0, 0, 0, 0, 0 }

local SubSpace = Module:extend("SubSpace")
M.SubSpace = SubSpace

--- imu.SubSpace{num_avg_bitshift = 4}: (B, T, 3) -> covariance (B, T, 9) (row-major 3x3).
function SubSpace:init(opts)
  opts = options("SubSpace", opts, { shape = NONE, num_avg_bitshift = 4 }, 2)
  Module.init(self, { 3, 9 })
  rawset(self, "num_avg_bitshift", int_opt("SubSpace", "num_avg_bitshift", opts.num_avg_bitshift, 0, 31, 2))
  rawset(self, "_chp", { table.unpack(ZERO9) })
end

function SubSpace:evolve(x, record)
  local _ = record
  x = batch(self, x, 2)
  local C, st = core._imuif.subspace(x, self.num_avg_bitshift, self._chp)
  checked(C, st, 2)
  rawset(self, "_chp", st)
  return C, self:state(), {}
end

function SubSpace:_collect(kind, family)
  local out = Module._collect(self, kind, family)
  if kind == "state" and family == nil then
    out.C_highprec = lp.tensor(self._chp, "int64"):reshape(3, 3)
  end
  return out
end
function SubSpace:reset_state() rawset(self, "_chp", { table.unpack(ZERO9) }); return self end
--- sub:set_state{C_highprec = (3, 3) integers}
function SubSpace:set_state(s)
  local v = type(s) == "table" and s.C_highprec
  local t = lp.is_tensor(v) and v or (type(v) == "table" and lp.tensor(v, "int64"))
  if not t or t:numel() ~= 9 then argerror("set_state", 1, "expected {C_highprec = (3, 3) integers}", 2) end
  local flat = t:reshape(-1):totable()
  for i = 1, 9 do flat[i] = math.tointeger(flat[i]) or argerror("set_state", 1, "C_highprec must hold integers", 2) end
  rawset(self, "_chp", flat)
  return self
end

-- SampleAndHold ----------------------------------------------------------------------

local SampleAndHold = Module:extend("SampleAndHold")
M.SampleAndHold = SampleAndHold

--- imu.SampleAndHold{sampling_period = 10, shape = C}: out[t] = x[period·floor(t/period)].
function SampleAndHold:init(opts)
  opts = options("SampleAndHold", opts, { shape = NONE, sampling_period = 10 }, 2)
  Module.init(self, opts.shape)
  rawset(self, "sampling_period", int_opt("SampleAndHold", "sampling_period", opts.sampling_period, 1, 2047, 2))
end

function SampleAndHold:evolve(x, record)
  local _ = record
  x = batch(self, x, 2)
  local y, msg = core._imuif.sample_hold(x, self.sampling_period)
  return checked(y, msg, 2), {}, {}
end

-- JSVD -----------------------------------------------------------------------------------

local JSVD = {}
JSVD.__index = JSVD
JSVD.__name = "JSVD"
M.JSVD = setmetatable(JSVD, { __call = function(cls) return setmetatable({}, cls) end })

--- imu.JSVD()(C) -> R, D: the Jacobi SVD of a 3x3 integer covariance (a (3, 3) tensor, a
-- nested table or 9 numbers), rotation R with columns ordered by descending singular
-- value and the almost diagonal D, both (3, 3) int64 tensors.
function JSVD:__call(C)
  local flat
  if lp.is_tensor(C) then flat = C:reshape(-1):totable()
  elseif type(C) == "table" then
    flat = {}
    for _, row in ipairs(C) do
      if type(row) == "table" then for _, v in ipairs(row) do flat[#flat + 1] = v end
      else flat[#flat + 1] = row end
    end
  end
  if not flat or #flat ~= 9 then argerror("JSVD", 1, "expected a 3x3 covariance", 2) end
  for i = 1, 9 do
    if not is_int(flat[i]) then argerror("JSVD", 1, "the covariance must hold integers", 2) end
    flat[i] = math.tointeger(flat[i])
  end
  local R, D = core._imuif.jsvd(flat)
  if not R then argerror("JSVD", 1, D, 2) end
  return lp.tensor(R, "int64"):reshape(3, 3), lp.tensor(D, "int64"):reshape(3, 3)
end

-- RotationRemoval ------------------------------------------------------------------------

local RotationRemoval = Module:extend("RotationRemoval")
M.RotationRemoval = RotationRemoval

--- imu.RotationRemoval{num_avg_bitshift = 4, sampling_period = 10}: (B, T, 3) -> (B, T, 3).
-- Record: covariance (B, T, 9) after sample-and-hold.
function RotationRemoval:init(opts)
  opts = options("RotationRemoval", opts, { shape = NONE, num_avg_bitshift = 4, sampling_period = 10 }, 2)
  Module.init(self, { 3, 3 })
  self.subspace = SubSpace { num_avg_bitshift = opts.num_avg_bitshift }
  self.sample_and_hold = SampleAndHold { sampling_period = opts.sampling_period, shape = 9 }
  rawset(self, "num_avg_bitshift", self.subspace.num_avg_bitshift)
  rawset(self, "sampling_period", self.sample_and_hold.sampling_period)
end

function RotationRemoval:evolve(x, record)
  x = batch(self, x, 2)
  local C = self.subspace:evolve(x)
  local held = self.sample_and_hold:evolve(C)
  local y, msg = core._imuif.rotate(x, held)
  checked(y, msg, 2)
  return y, self:state(), record and { covariance = held } or {}
end

function RotationRemoval:reset_state() self.subspace:reset_state(); return self end

-- BandPassFilter ---------------------------------------------------------------------------

local BandPassFilter = {}
BandPassFilter.__index = BandPassFilter
BandPassFilter.__name = "BandPassFilter"
M.BandPassFilter = BandPassFilter

local BPF_FIELDS = { B_b = 6, B_wf = 8, B_af = 9, a1 = -36565, a2 = 31754, scale_out = NONE }

local function new_bpf(opts, fname, level)
  level = (level or 1) + 1
  opts = options(fname, opts, BPF_FIELDS, level)
  local f = setmetatable({}, BandPassFilter)
  f.B_b = int_opt(fname, "B_b", opts.B_b, 0, 15, level)
  f.B_wf = int_opt(fname, "B_wf", opts.B_wf, 0, 15, level)
  f.B_af = int_opt(fname, "B_af", opts.B_af, 0, 15, level)
  f.a1 = int_opt(fname, "a1", opts.a1, -65536, 65535, level)
  f.a2 = int_opt(fname, "a2", opts.a2, -65536, 65535, level)
  if opts.scale_out ~= nil then
    if type(opts.scale_out) ~= "number" or opts.scale_out < 0.5 or opts.scale_out > 1.0 then
      argerror(fname, 1, ("field 'scale_out' must be in [0.5, 1.0], got %s"):format(tostring(opts.scale_out)), level)
    end
    f.scale_out = opts.scale_out
  end
  f.B_w = 16 + 9 + f.B_wf          -- bits of the AR register
  f.B_out = 16 + 9                 -- bits of the output
  return f
end

setmetatable(BandPassFilter, { __call = function(_, opts) return new_bpf(opts, "BandPassFilter", 2) end })

-- scipy.signal.butter(1, (lo, hi), "bandpass", fs = fs) -> b0, a1, a2, replaying numpy's
-- floating-point steps (buttap pole -1, lp2bp_zpk, bilinear_zpk with fs 2 after
-- prewarping, complex division by Smith's method, np.poly) so that the truncated taps
-- are the reference's.
local function butter_bandpass(lo, hi, fs)
  local wn0, wn1 = 2 * lo / fs, 2 * hi / fs
  if not (wn0 > 0 and wn1 < 1) then return nil, "the band must lie inside (0, fs/2)" end
  local w0 = 4.0 * math.tan(math.pi * wn0 / 2.0)
  local w1 = 4.0 * math.tan(math.pi * wn1 / 2.0)
  local bw = w1 - w0
  local wo = math.sqrt(w0 * w1)
  local u = bw / 2                        -- the low-pass pole -1 scaled: -bw/2
  local d = u * u - wo * wo
  local x, y, den
  if d < 0 then
    local s = math.sqrt(-d)               -- poles -u ± i·s
    local nr, ni, dr, di = 4.0 - u, s, 4.0 + u, -s   -- (4 + p) / (4 - p)
    local rat = di / dr
    local scl = 1.0 / (dr + di * rat)
    x = (nr + ni * rat) * scl
    y = (ni - nr * rat) * scl
    den = dr * dr - di * (-di)            -- prod(4 - p) = (4+u)^2 + s^2
    return bw * (4.0 * (1.0 / den)), -(x + x), x * x - y * (-y)
  end
  -- two real poles -u ± s
  local s = math.sqrt(d)
  local pa, pb = -u + s, -u - s
  local za, zb = (4.0 + pa) / (4.0 - pa), (4.0 + pb) / (4.0 - pb)
  den = (4.0 - pa) * (4.0 - pb)
  return bw * (4.0 * (1.0 / den)), -za + -zb, za * zb
end

--- BandPassFilter.from_specification(low, high[, fs = 200]) -> the quantised first-order
-- Butterworth band-pass closest to (low, high) Hz (Rockpool's design rule:
-- B_b = floor(log2(1/|b0|)), B_wf = 8, B_af = 15 - B_b, a = trunc(2^15 · a)).
function BandPassFilter.from_specification(low, high, fs)
  local fname = "from_specification"
  fs = fs == nil and 200.0 or fs
  for i, v in ipairs { low, high, fs } do
    if type(v) ~= "number" or v ~= v then argerror(fname, i, "number expected, got " .. type(v), 2) end
  end
  if low >= high then argerror(fname, 1, "the low cut-off must be below the high cut-off", 2) end
  if low <= 0 then argerror(fname, 1, "the low cut-off must be positive", 2) end
  local b0, a1, a2 = butter_bandpass(low, high, fs)
  if not b0 then argerror(fname, 2, a1, 2) end
  if math.abs(b0) >= 1 or math.abs(a1) >= 2 or math.abs(a2) >= 2 then
    argerror(fname, 1, "the band gives taps outside the filter's range", 2)
  end
  local B_b = math.floor(math.log(1 / math.abs(b0), 2))
  local B_af = 16 - B_b - 1
  if B_b < 0 or B_b > 15 or B_af < 0 or B_af > 15 then
    argerror(fname, 1, "the band is too wide or too narrow for the filter's registers", 2)
  end
  local scale = 2.0 ^ (B_af + B_b)
  local function trunc(v) return v < 0 and -math.floor(-v) or math.floor(v) end
  return new_bpf({
    B_b = B_b, B_wf = 9 - 1, B_af = B_af,
    a1 = math.tointeger(trunc(scale * a1)), a2 = math.tointeger(trunc(scale * a2)),
    scale_out = b0 * 2.0 ^ B_b,
  }, fname, 2)
end

local function bpf_args(f) return { f.B_b, f.B_wf, f.B_af, f.a1, f.a2 } end

--- bpf(signal) -> the filtered 1-D signal (int64), without the time-reversed prefix the
-- filter bank adds (Rockpool's BandPassFilter.__call__).
function BandPassFilter:__call(signal)
  local t = to_tensor("BandPassFilter", 1, signal)
  if t:dim() ~= 1 then argerror("BandPassFilter", 1, "expected a 1-D signal", 2) end
  local y, msg = core._imuif.filterbank(t:reshape(1, -1, 1), { bpf_args(self) }, { 0 }, false)
  if not y then argerror("BandPassFilter", 1, msg, 2) end
  return y:reshape(-1)
end

function BandPassFilter:__tostring()
  return ("BandPassFilter(B_b %d, B_wf %d, B_af %d, a1 %d, a2 %d)"):format(self.B_b, self.B_wf, self.B_af, self.a1, self.a2)
end

--- The 15 default bands of Xylo IMU: 1-2, 2-4, 4-8, 8-16, 16-32 Hz per axis at 200 Hz.
M.DEFAULT_FILTER_BANDS = {}
for _ = 1, 3 do
  for _, b in ipairs { { 1, 2 }, { 2, 4 }, { 4, 8 }, { 8, 16 }, { 16, 32 } } do
    M.DEFAULT_FILTER_BANDS[#M.DEFAULT_FILTER_BANDS + 1] = { b[1] + 0.0, b[2] + 0.0, 200.0 }
  end
end

local default_filters
local function default_filter_list()
  if not default_filters then
    default_filters = {}
    for i, b in ipairs(M.DEFAULT_FILTER_BANDS) do
      default_filters[i] = BandPassFilter.from_specification(b[1], b[2], b[3])
    end
  end
  local out = {}
  for i, f in ipairs(default_filters) do out[i] = f end
  return out
end
M.default_filter_list = default_filter_list

-- filter_list entries -> BandPassFilter objects
local function filter_objects(fname, list, level)
  level = (level or 1) + 1
  if type(list) ~= "table" or lp.is_tensor(list) then
    argerror(fname, 1, "field 'filter_list' must be a list of BandPassFilter", level)
  end
  local out = {}
  for i, f in ipairs(list) do
    if getmetatable(f) == BandPassFilter then out[i] = f
    elseif type(f) == "table" then out[i] = new_bpf(f, fname, level)
    else argerror(fname, 1, ("field 'filter_list': entry %d is not a BandPassFilter"):format(i), level) end
  end
  return out
end

-- FilterBank -----------------------------------------------------------------------------

local FilterBank = Module:extend("FilterBank")
M.FilterBank = FilterBank

--- imu.FilterBank{shape = {3, 15}, filter_list = {BandPassFilter, ...}}: filter f reads
-- input channel sort(f mod Cin) (filters 1-5 -> channel 1, ...), with the time-reversed
-- prefix of Rockpool. nil filter_list: the default bands.
function FilterBank:init(opts)
  opts = options("FilterBank", opts, { shape = { 3, 15 }, filter_list = NONE }, 2)
  local shape = opts.shape
  if type(shape) == "number" then shape = { 1, shape } end
  Module.init(self, shape)
  local nin, nout = self.size_in, self.size_out
  if nout % nin ~= 0 then argerror("FilterBank", 1, "the number of filters must be a multiple of the input channels", 2) end
  local list = opts.filter_list and filter_objects("FilterBank", opts.filter_list, 2) or default_filter_list()
  if #list ~= nout then
    argerror("FilterBank", 1, ("%d filters for %d output channels"):format(#list, nout), 2)
  end
  if nout > 64 then argerror("FilterBank", 1, "at most 64 filters", 2) end
  rawset(self, "filters", list)
  -- channel of filter f (1-based): sort of (f-1) mod Cin
  local chans = {}
  for f = 1, nout do chans[f] = (f - 1) % nin end
  table.sort(chans)
  rawset(self, "channels", chans)
end

function FilterBank:_filter_args()
  local fs = {}
  for i, f in ipairs(self.filters) do fs[i] = bpf_args(f) end
  return fs
end

function FilterBank:evolve(x, record)
  local _ = record
  x = batch(self, x, 2)
  local y, msg = core._imuif.filterbank(x, self:_filter_args(), self.channels, true)
  return checked(y, msg, 2), {}, {}
end

for _, k in ipairs { "B_b", "B_wf", "B_af", "a1", "a2" } do
  FilterBank[k .. "_list"] = function(self)
    local out = {}
    for i, f in ipairs(self.filters) do out[i] = f[k] end
    return out
  end
end

-- Spike encoders ---------------------------------------------------------------------------

local ScaleSpikeEncoder = Module:extend("ScaleSpikeEncoder")
M.ScaleSpikeEncoder = ScaleSpikeEncoder

--- imu.ScaleSpikeEncoder{shape = 15, num_scale_bits = 5}: min(|y| >> s, 15) per channel.
function ScaleSpikeEncoder:init(opts)
  opts = options("ScaleSpikeEncoder", opts, { shape = 15, num_scale_bits = 5 }, 2)
  Module.init(self, opts.shape)
  rawset(self, "num_scale_bits", vec_opt("ScaleSpikeEncoder", "num_scale_bits", opts.num_scale_bits, self.size_out, 0, 31, 2))
end

function ScaleSpikeEncoder:evolve(x, record)
  local _ = record
  x = batch(self, x, 2)
  local y, msg = core._imuif.encode_scale(x, self.num_scale_bits)
  return checked(y, msg, 2), {}, {}
end

local IAFSpikeEncoder = Module:extend("IAFSpikeEncoder")
M.IAFSpikeEncoder = IAFSpikeEncoder

--- imu.IAFSpikeEncoder{shape = 15, threshold = 1024}: at most one event per step when the
-- running sum of |y| passes a multiple of the threshold.
function IAFSpikeEncoder:init(opts)
  opts = options("IAFSpikeEncoder", opts, { shape = 15, threshold = 1024 }, 2)
  Module.init(self, opts.shape)
  rawset(self, "threshold", vec_opt("IAFSpikeEncoder", "threshold", opts.threshold, self.size_out, 1, 2147483647, 2))
end

function IAFSpikeEncoder:evolve(x, record)
  local _ = record
  x = batch(self, x, 2)
  local y, msg = core._imuif.encode_iaf(x, self.threshold)
  return checked(y, msg, 2), {}, {}
end

-- IMUIFSim ---------------------------------------------------------------------------------

local IMUIFSim = Module:extend("IMUIFSim")
M.IMUIFSim = IMUIFSim

local SIM_DEFAULTS = {
  shape = NONE, select_iaf_output = false, bypass_jsvd = false, filter_list = NONE,
  scale_values = 5, iaf_threshold_values = 1024, num_avg_bitshift = 4, SAH_period = 10,
  sampling_freq = 200.0,
}

--- imu.IMUIFSim{...} (fields above, Rockpool's names and defaults).
function IMUIFSim:init(opts)
  local fname = "IMUIFSim"
  opts = options(fname, opts, SIM_DEFAULTS, 2)
  local shape = opts.shape or { 3, 15 }
  if type(shape) ~= "table" or shape[1] ~= 3 then argerror(fname, 1, "field 'shape' must be {3, Nfilters}", 2) end
  Module.init(self, shape)
  local n = self.size_out
  local list = opts.filter_list and filter_objects(fname, opts.filter_list, 2) or default_filter_list()
  if #list ~= n then
    argerror(fname, 1, ("the number of filters %d does not match the number of output channels %d"):format(#list, n), 2)
  end
  local iaf = bool_opt(fname, "select_iaf_output", opts.select_iaf_output, 2)
  local bypass = bool_opt(fname, "bypass_jsvd", opts.bypass_jsvd, 2)
  local scale = vec_opt(fname, "scale_values", opts.scale_values, n, 0, 31, 2)
  local thr = vec_opt(fname, "iaf_threshold_values", opts.iaf_threshold_values, n, 1, 2147483647, 2)
  local k = int_opt(fname, "num_avg_bitshift", opts.num_avg_bitshift, 0, 31, 2)
  local sah = int_opt(fname, "SAH_period", opts.SAH_period, 1, 2047, 2)
  local fs = opts.sampling_freq
  if type(fs) ~= "number" or not (fs > 0) or fs == math.huge then
    argerror(fname, 1, ("field 'sampling_freq' must be a positive number, got %s"):format(tostring(fs)), 2)
  end
  rawset(self, "select_iaf_output", iaf)
  rawset(self, "bypass_jsvd", bypass)
  rawset(self, "scale_values", scale)
  rawset(self, "iaf_threshold_values", thr)
  rawset(self, "num_avg_bitshift", k)
  rawset(self, "SAH_period", sah)
  rawset(self, "sampling_freq", fs + 0.0)
  rawset(self, "dt", 1 / fs)
  if not bypass then self.rotation_removal = RotationRemoval { num_avg_bitshift = k, sampling_period = sah } end
  self.filter_bank = FilterBank { shape = shape, filter_list = list }
  if iaf then self.spike_encoder = IAFSpikeEncoder { shape = n, threshold = thr }
  else self.spike_encoder = ScaleSpikeEncoder { shape = n, num_scale_bits = scale } end
end

--- m(input[, record]) -> spikes (B, T, Nfilt) int64, state, record
-- record: rotation_removal (B, T, 3) and covariance (B, T, 9) unless bypassed,
-- filterbank (B, T, Nfilt), spikes (the output).
function IMUIFSim:evolve(x, record)
  x = batch(self, x, 2)
  local rr = self.rotation_removal
  local chp = rr and rr.subspace._chp or ZERO9
  local fb = self.filter_bank
  local spikes, st, rec = core._imuif.run(x, {
    bypass_jsvd = self.bypass_jsvd, select_iaf_output = self.select_iaf_output,
    num_avg_bitshift = self.num_avg_bitshift, sah_period = self.SAH_period,
    filters = fb:_filter_args(), channels = fb.channels,
    scale = self.scale_values, threshold = self.iaf_threshold_values,
  }, chp, record and true or false)
  checked(spikes, st, 2)
  if rr then rawset(rr.subspace, "_chp", st) end
  if record then rec.spikes = spikes else rec = {} end
  return spikes, self:state(), rec
end

function IMUIFSim:reset_state()
  if self.rotation_removal then self.rotation_removal:reset_state() end
  return self
end

-- The register fields of the IMU interface (samna's InputInterfaceConfig names).
local IF_FIELDS = {
  enable = true, estimator_k_setting = true, select_iaf_output = true, update_matrix_threshold = true,
  delay_threshold = true, bpf_bb_values = true, bpf_bwf_values = true, bpf_baf_values = true,
  bpf_a1_values = true, bpf_a2_values = true, scale_values = true, iaf_threshold_values = true,
  bypass_jsvd = true,
}
M.IF_FIELDS = IF_FIELDS

--- m:export_config() -> the IMU IF register fields (a plain table, 15 entries per list).
function IMUIFSim:export_config()
  local fb = self.filter_bank
  return {
    enable = true,
    bypass_jsvd = self.bypass_jsvd,
    select_iaf_output = self.select_iaf_output,
    estimator_k_setting = self.num_avg_bitshift,
    update_matrix_threshold = self.SAH_period - 1,
    delay_threshold = 1,
    bpf_bb_values = fb:B_b_list(), bpf_bwf_values = fb:B_wf_list(), bpf_baf_values = fb:B_af_list(),
    bpf_a1_values = fb:a1_list(), bpf_a2_values = fb:a2_list(),
    scale_values = { table.unpack(self.scale_values) },
    iaf_threshold_values = { table.unpack(self.iaf_threshold_values) },
  }
end

--- IMUIFSim.from_config(fields[, {sampling_freq = 200}]) -> IMUIFSim
function IMUIFSim.from_config(cfg, opts)
  local fname = "from_config"
  if type(cfg) ~= "table" then argerror(fname, 1, "expected the IMU IF register fields (a table)", 2) end
  for k in pairs(cfg) do
    if not IF_FIELDS[k] then argerror(fname, 1, ("unknown field '%s'"):format(tostring(k)), 2) end
  end
  opts = options(fname, opts, { sampling_freq = 200.0 }, 2)
  local n = type(cfg.bpf_bb_values) == "table" and #cfg.bpf_bb_values or 15
  local list = {}
  for i = 1, n do
    local function at(k)
      local v = cfg[k]
      if type(v) ~= "table" or v[i] == nil then argerror(fname, 1, ("field '%s' must hold %d values"):format(k, n), 4) end
      return v[i]
    end
    list[i] = new_bpf({ B_b = at("bpf_bb_values"), B_wf = at("bpf_bwf_values"), B_af = at("bpf_baf_values"),
      a1 = at("bpf_a1_values"), a2 = at("bpf_a2_values") }, fname, 2)
  end
  local umt = cfg.update_matrix_threshold == nil and 9 or cfg.update_matrix_threshold
  if not is_int(umt) or umt < 0 or umt > 2046 then
    argerror(fname, 1, ("field 'update_matrix_threshold' must be an integer in 0..2046, got %s"):format(tostring(umt)), 2)
  end
  return IMUIFSim {
    shape = { 3, n },
    select_iaf_output = cfg.select_iaf_output == true,
    bypass_jsvd = cfg.bypass_jsvd == true,
    filter_list = list,
    scale_values = cfg.scale_values or 5,
    iaf_threshold_values = cfg.iaf_threshold_values or 1024,
    num_avg_bitshift = cfg.estimator_k_setting == nil and 4 or cfg.estimator_k_setting,
    SAH_period = umt + 1,
    sampling_freq = opts.sampling_freq,
  }
end

function IMUIFSim:__tostring()
  return ("IMUIFSim(%d filters, %s, %s, num_avg_bitshift %d, SAH_period %d, %g Hz)"):format(
    self.size_out, self.bypass_jsvd and "JSVD bypassed" or "rotation removal",
    self.select_iaf_output and "IAF encoder" or "scale encoder", self.num_avg_bitshift, self.SAH_period,
    self.sampling_freq)
end

return M
