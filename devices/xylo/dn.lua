-- devices/xylo/dn.lua -- Xylo Audio 2 divisive normalisation (reference/xylo.md
-- §11.2): lp.xylo.audio2.DivisiveNormalisation and DivisiveNormalisationNoLFSR,
-- bit-exact with Rockpool's simulation (syns61201/xylo_divisive_normalisation.py).
-- Owns: options, defaults, checks (errors name the field), the state carried
-- between calls, batching. The arithmetic is C: devices/xylo/dn2.c.
--
--   local dn = lp.xylo.audio2.DivisiveNormalisation(16, {bits_shift_lowpass = 5})
--   local out, state, rec = dn(spikes, true)   -- spikes (T, N) or (B, T, N) counts at dt
--   -- out (B, T', N) int32 at dt, T' covering whole frames; rec.E, rec.M (B, frames, N)
--
-- Options (Rockpool's names and defaults): dt = 1e-4 (s), frame_dt = 0.05 (s),
-- bits_counter = 10, bits_lowpass = 16, bits_shift_lowpass = 5, p_local = 12,
-- bits_lfsr = 10, low_pass_mode = "UNDERFLOW_PROTECT" | "OVERFLOW_PROTECT",
-- code_lfsr (a list of 2^bits_lfsr − 1 values; default: the chip's 10-bit LFSR),
-- initial states IAF_counter, M_lowpass_state (N). The NoLFSR variant takes the
-- same options and ignores bits_lfsr and code_lfsr: input events drive the
-- counter directly.
--
-- Decisions on the reference's behaviour (kept, so results are bit for bit):
--   * an odd p_local is rounded up to the next even number (the local clock's
--     return-to-zero pulse halves the rate; Rockpool warns, limpet records the
--     rounded value in dn.p_local);
--   * the output covers whole frames: T' = ceil(frames·frame_dt/dt) with the
--     reference's float arithmetic (0.6/1e-4 gives 6001 rows, for example);
--   * the IAF counter carried from the previous frame enters only the frame's
--     first comparison (the reference restarts the frame's count at zero);
--   * a count step that wraps the counter twice emits one event, one that adds
--     a multiple of M + 1 emits none (NoLFSR with counts > 1 per step).
--   Every batch row starts from the module's state; row 1's final state is kept.
local lp = require "limpet"
local core = require "limpet.core"
local class = require "limpet.class"

local A = core._afe
local M = {}

local U = require "limpet.nn.util"
local argerror, to_tensor = U.argerror, U.tensor_arg

local function is_int(v) return math.type(v) == "integer" or (type(v) == "number" and v == math.floor(v) and math.abs(v) < 2^53) end

local KNOWN = { dt = true, frame_dt = true, bits_counter = true, bits_lowpass = true, bits_shift_lowpass = true,
  p_local = true, bits_lfsr = true, low_pass_mode = true, code_lfsr = true, IAF_counter = true,
  M_lowpass_state = true, E_frame_counter = true }

local LFSR10

local Base = class.Object:extend("DivisiveNormalisation")

local function build(cls, name, lfsr, shape, opts)
  local self = setmetatable({}, cls)
  local n = shape
  if type(n) == "table" then n = n[#n] end
  if not is_int(n) or n < 1 then argerror(name, 1, ("expected the number of channels, got %s"):format(tostring(shape)), 3) end
  n = math.tointeger(n)
  if opts == nil then opts = {} end
  if type(opts) ~= "table" then argerror(name, 2, ("expected an options table, got %s"):format(type(opts)), 3) end
  for k in pairs(opts) do
    if not KNOWN[k] then argerror(name, 2, ("unknown field '%s'"):format(tostring(k)), 3) end
  end
  local function num(k, def)
    local v = opts[k]
    if v == nil then return def end
    if type(v) ~= "number" or not (v > 0) or v == math.huge then
      argerror(name, 2, ("field '%s' must be a positive number, got %s"):format(k, tostring(v)), 4)
    end
    return v
  end
  local function int(k, def, lo, hi)
    local v = opts[k]
    if v == nil then return def end
    if not is_int(v) or v < lo or v > hi then
      argerror(name, 2, ("field '%s' must be an integer in %d..%d, got %s"):format(k, lo, hi, tostring(v)), 4)
    end
    return math.tointeger(v)
  end
  self.name = name
  self.size_in, self.size_out, self.shape = n, n, { n, n }
  self.dt = num("dt", 0.1e-3)
  self.frame_dt = num("frame_dt", 50e-3)
  if self.frame_dt < self.dt then argerror(name, 2, "field 'frame_dt' must be at least dt", 3) end
  self.bits_counter = int("bits_counter", 10, 1, 40)
  self.bits_lowpass = int("bits_lowpass", 16, 1, 48)
  self.bits_shift_lowpass = int("bits_shift_lowpass", 5, 0, 15)
  local p = int("p_local", 12, 1, 1 << 20)
  self.p_local = math.floor((1 + p) / 2) * 2
  local mode = opts.low_pass_mode == nil and "UNDERFLOW_PROTECT" or opts.low_pass_mode
  if mode ~= "UNDERFLOW_PROTECT" and mode ~= "OVERFLOW_PROTECT" then
    argerror(name, 2, ("field 'low_pass_mode' must be 'UNDERFLOW_PROTECT' or 'OVERFLOW_PROTECT', got '%s'"):format(tostring(mode)), 3)
  end
  self.low_pass_mode = mode
  self.lfsr = lfsr
  if lfsr then
    self.bits_lfsr = int("bits_lfsr", 10, 1, 24)
    local code = opts.code_lfsr
    if code == nil then
      LFSR10 = LFSR10 or A.lfsr10()
      code = LFSR10
    elseif not lp.is_tensor(code) then
      if type(code) ~= "table" then argerror(name, 2, "field 'code_lfsr' must be a list of integers", 3) end
      code = lp.tensor(code, "int32")
    end
    if code:numel() ~= (1 << self.bits_lfsr) - 1 then
      argerror(name, 2, ("field 'code_lfsr': a %d-bit LFSR has %d states, got %d"):format(
        self.bits_lfsr, (1 << self.bits_lfsr) - 1, code:numel()), 3)
    end
    self.code_lfsr = code:reshape(-1):astype("int32")
  end
  local function vec(k)
    local v = opts[k]
    if v == nil then return lp.zeros({ n }, "int64") end
    local t = lp.is_tensor(v) and v or lp.tensor(v, "int64")
    if t:numel() ~= n then argerror(name, 2, ("field '%s' must have %d values"):format(k, n), 4) end
    return t:reshape(n):astype("int64")
  end
  self._init = { M = vec("M_lowpass_state"), iaf = vec("IAF_counter") }
  vec("E_frame_counter")
  self:reset_state()
  return self
end


--- dn:reset_state(): the initial states (zeros unless given).
function Base:reset_state()
  self._state = { M = self._init.M:clone(), iaf = self._init.iaf:clone(), lfsr_index = 0 }
end

--- dn:state() -> {E_frame_counter, IAF_counter, M_lowpass_state (N) int64, lfsr_index}
function Base:state()
  local s = self._state
  return { E_frame_counter = lp.zeros({ self.size_in }, "int64"), IAF_counter = s.iaf:clone(),
    M_lowpass_state = s.M:clone(), lfsr_index = self.lfsr and s.lfsr_index or nil }
end

--- dn:evolve(input[, record]) -> output (B, T', N) int32, state, record {E, M}
function Base:evolve(x, record)
  local t = x
  if not lp.is_tensor(t) then
    if type(t) ~= "table" then argerror("evolve", 1, ("expected input counts (T, %d), got %s"):format(self.size_in, type(x)), 2) end
    t = to_tensor("evolve", 1, t, "int64")
  end
  if t:dim() == 2 then t = t:reshape(1, t.shape[1], t.shape[2]) end
  if t:dim() ~= 3 or t.shape[3] ~= self.size_in then
    argerror("evolve", 1, ("expected input counts (T, %d) or (B, T, %d)"):format(self.size_in, self.size_in), 2)
  end
  local p = { n = self.size_in, dt = self.dt, frame_dt = self.frame_dt, bits_counter = self.bits_counter,
    bits_lowpass = self.bits_lowpass, bits_shift_lowpass = self.bits_shift_lowpass, p_local = self.p_local,
    overflow_protect = self.low_pass_mode == "OVERFLOW_PROTECT", use_lfsr = self.lfsr, code = self.code_lfsr }
  local out, st, E, Mr = A.dn2(t, p, self._state, record and true or false)
  if not out then argerror("evolve", 1, st, 2) end
  self._state = st
  return out, self:state(), record and { E = E, M = Mr } or {}
end

function Base:__call(x, record) return self:evolve(x, record) end

function Base:__tostring()
  return ("%s(%d channels, dt %g s, frame_dt %g s, p_local %d)"):format(self.name, self.size_in, self.dt,
    self.frame_dt, self.p_local)
end

--- DivisiveNormalisation(shape, opts) / DivisiveNormalisationNoLFSR(shape, opts)
M.DivisiveNormalisation = Base:extend("DivisiveNormalisation")
setmetatable(M.DivisiveNormalisation, { __index = Base, __name = "DivisiveNormalisation",
  __call = function(cls, shape, opts) return build(cls, "DivisiveNormalisation", true, shape, opts) end })
M.DivisiveNormalisationNoLFSR = Base:extend("DivisiveNormalisationNoLFSR")
setmetatable(M.DivisiveNormalisationNoLFSR, { __index = Base, __name = "DivisiveNormalisationNoLFSR",
  __call = function(cls, shape, opts) return build(cls, "DivisiveNormalisationNoLFSR", false, shape, opts) end })

return M
