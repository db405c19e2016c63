-- stdlib/limpet/timeseries/continuous.lua -- lp.TSContinuous: a sampled,
-- multichannel signal in continuous time (Rockpool's TSContinuous).
-- Owns: construction (times + samples, or from_clocked), interpolation on
-- call, arithmetic with numbers / tensors / other series, clip, resample,
-- to_clocked, merge, append_c, append_t, delay, start_at, periodic series.
-- Not here: the kernels (core/src/tseries.c), plotting (limpet.plot).
--
-- Out of range (as Rockpool): sampling outside [t_start, t_stop] raises
-- unless `beyond_range_exception = false`; times within rounding (1e-9
-- relative) of the limits are taken as the limits. Inside that range,
-- between sample times, the rule is `interp_kind` ("previous" default,
-- "linear", "next", "nearest"); outside the first..last sample, `fill_value`
-- "extrapolate" (default) continues the rule the way scipy's interp1d does
-- ("previous" holds the last sample after the end and reads NaN before the
-- first sample), and a number is returned as is. A periodic series wraps
-- every time into [t_start, t_start + duration) first.
local core = require "limpet.core"
local U = require "limpet.timeseries.util"
local kernels = core._ts

local TSContinuous

local KINDS = { previous = true, linear = true, next = true, nearest = true }
local CTOR_OPTS = { t_start = true, t_stop = true, periodic = true, name = true, units = true,
                    interp_kind = true, fill_value = true, beyond_range_exception = true,
                    num_channels = true }

local function samples_tensor(s, fname, k, nt)
  local t
  if core.is_tensor(s) then t = s
  elseif type(s) == "table" then t = core.tensor(s, "float32")
  else U.argerror(fname, k, "expected samples as a tensor or table, got " .. type(s), 3) end
  if t:dim() == 1 then t = t:reshape(t.shape[1], 1) end
  if t:dim() ~= 2 then U.argerror(fname, k, ("expected samples (T) or (T, C), got %d dims"):format(t:dim()), 3) end
  if t.dtype ~= "float32" and t.dtype ~= "float64" then t = t:astype "float32" end
  if nt and t.shape[1] ~= nt then
    U.argerror(fname, k, ("expected %d samples (one per time), got %d"):format(nt, t.shape[1]), 3)
  end
  return t:contiguous()
end

-- Build a series from already checked tensors and a table of settings.
local function make(times, samples, s)
  local self = setmetatable({}, TSContinuous)
  self.times, self.samples = times, samples
  self.t_start, self.t_stop = s.t_start, s.t_stop
  self.periodic = s.periodic or false
  self.name, self.units = s.name, s.units
  self.interp_kind = s.interp_kind or "previous"
  self.fill_value = s.fill_value == nil and "extrapolate" or s.fill_value
  if s.beyond_range_exception == nil then self.beyond_range_exception = true
  else self.beyond_range_exception = s.beyond_range_exception end
  return self
end

local function settings(self, over)
  local s = { t_start = self.t_start, t_stop = self.t_stop, periodic = self.periodic, name = self.name,
              units = self.units, interp_kind = self.interp_kind, fill_value = self.fill_value,
              beyond_range_exception = self.beyond_range_exception }
  for k, v in pairs(over or {}) do s[k] = v end
  return s
end

local function new(times, samples, opts)
  local F = "TSContinuous"
  opts = U.opts(opts, CTOR_OPTS, F, 3)
  local t, x
  if times == nil then
    if samples ~= nil then U.argerror(F, 1, "samples given without times", 2) end
    t = core.zeros({ 0 }, "float64")
    x = core.zeros({ 0, opts.num_channels or 0 }, "float32")
  else
    t = U.times(times, F, 1)
    if samples == nil then U.argerror(F, 2, "expected samples (T, C), got nil", 2) end
    x = samples_tensor(samples, F, 2, t.shape[1])
    if opts.num_channels and opts.num_channels ~= x.shape[2] then
      U.argerror(F, 3, ("field 'num_channels' is %d but the samples have %d channels"):format(opts.num_channels, x.shape[2]), 2)
    end
  end
  local n = t.shape[1]
  if n > 1 and t:slice(1, 2, n):lt(t:slice(1, 1, n - 1)):sum():item() > 0 then
    U.argerror(F, 1, "times must be sorted in ascending order", 2)
  end
  if n > 0 then U.finite_times(t, F, 1, "times", 2) end
  local first = n > 0 and t[1] or 0
  local last = n > 0 and t[n] or 0
  local t0 = opts.t_start == nil and first or U.number(opts.t_start, F, 3, "t_start")
  local t1 = opts.t_stop == nil and math.max(last, t0) or U.number(opts.t_stop, F, 3, "t_stop")
  if n > 0 and t0 > first then
    U.argerror(F, 3, ("t_start %s is after the first sample time %s"):format(U.fmt(t0), U.fmt(first)), 2)
  end
  if n > 0 and t1 < last then
    U.argerror(F, 3, ("t_stop %s is before the last sample time %s"):format(U.fmt(t1), U.fmt(last)), 2)
  end
  if t1 < t0 then U.argerror(F, 3, ("t_stop %s is before t_start %s"):format(U.fmt(t1), U.fmt(t0)), 2) end
  local kind = opts.interp_kind or "previous"
  if not KINDS[kind] then
    U.argerror(F, 3, ("field 'interp_kind' must be one of 'previous', 'linear', 'next', 'nearest', got '%s'"):format(tostring(kind)), 2)
  end
  local fv = opts.fill_value
  if fv ~= nil and fv ~= "extrapolate" and type(fv) ~= "number" then
    U.argerror(F, 3, "field 'fill_value' must be 'extrapolate' or a number", 2)
  end
  return make(t, x, { t_start = t0, t_stop = t1, periodic = opts.periodic, name = opts.name, units = opts.units,
                      interp_kind = kind, fill_value = fv, beyond_range_exception = opts.beyond_range_exception })
end

TSContinuous = U.class("TSContinuous", new)
local C = TSContinuous

-- Computed properties.
local props = {
  duration = function(s) return s.t_stop - s.t_start end,
  num_channels = function(s) return s.samples.shape[2] end,
  num_traces = function(s) return s.samples.shape[2] end,
  num_samples = function(s) return s.times.shape[1] end,
}
C.__index = function(s, k)
  local p = props[k]
  if p then return p(s) end
  return C[k]
end

local FC_OPTS = { dt = true, t_start = true, periodic = true, name = true, units = true, interp_kind = true,
                  fill_value = true, beyond_range_exception = true }
-- TSContinuous.from_clocked(samples (T, C), {dt = 1e-3, t_start = 0, ...}):
-- sample k at t_start + (k-1)·dt; t_stop = t_start + T·dt.
function C.from_clocked(samples, opts)
  local F = "from_clocked"
  opts = U.opts(opts, FC_OPTS, F, 2)
  local x = samples_tensor(samples, F, 1)
  local dt = opts.dt == nil and 1e-3 or U.number(opts.dt, F, 2, "dt")
  if not (dt > 0) then U.argerror(F, 2, "field 'dt' must be positive", 2) end
  local t0 = opts.t_start == nil and 0 or U.number(opts.t_start, F, 2, "t_start")
  local T = x.shape[1]
  local times = core.arange(0, T, "float64") * dt + t0
  local o = {}
  for k, v in pairs(opts) do if k ~= "dt" then o[k] = v end end
  o.t_start, o.t_stop = t0, t0 + T * dt
  return new(times, x, o)
end

-- Wrap, clamp and range-check query times (a float64 tensor).
local function prepare(self, q, fname)
  if q.shape[1] == 0 then return q end
  if self.periodic and self.duration > 0 then
    q = (q - self.t_start):mod(self.duration) + self.t_start
    return q
  end
  local lo, hi = q:min():item(), q:max():item()
  if lo ~= lo or hi ~= hi then U.argerror(fname, 1, "times must not be NaN", 3) end
  local inside = U.within(lo, self.t_start, self.t_stop) and U.within(hi, self.t_start, self.t_stop)
  if not inside then
    if self.beyond_range_exception then
      local bad = U.within(lo, self.t_start, self.t_stop) and hi or lo
      U.argerror(fname, 1, ("time %s is outside the series' range [%s, %s] (set beyond_range_exception = false to fill)")
        :format(U.fmt(bad), U.fmt(self.t_start), U.fmt(self.t_stop)), 3)
    end
    return q
  end
  return q:clamp(self.t_start, self.t_stop)
end

-- ts:sample(times) -> (m, C): the series at the given times (number, table
-- or tensor). ts(times) is the same.
local sample_as
function C:sample(times) return sample_as(self, times, "sample") end
-- the same, errors naming fname (the public function the caller is)
function sample_as(self, times, fname)
  local q = U.times(times, fname, 1)
  if self.times.shape[1] == 0 then
    U.argerror(fname, 1, "cannot sample a series without samples", 2)
  end
  q = prepare(self, q, fname)
  local extra = self.fill_value == "extrapolate"
  return kernels.interp(self.times, self.samples, q, self.interp_kind, extra,
                        extra and 0 or self.fill_value)
end
C.__call = function(self, times) return sample_as(self, times, "TSContinuous") end

function C:copy() return make(self.times:clone(), self.samples:clone(), settings(self)) end

function C:isempty() return self.times.shape[1] == 0 end

function C:contains(t)
  local q = U.times(t, "contains", 1)
  if q.shape[1] == 0 then return true end
  return U.within(q:min():item(), self.t_start, self.t_stop) and U.within(q:max():item(), self.t_start, self.t_stop)
end

function C:__len() return self.times.shape[1] end

function C:__tostring()
  return ("%sTSContinuous%s from t=%s to %s: %d samples, %d channel%s"):format(
    self.periodic and "periodic " or "", self.name and (" '" .. self.name .. "'") or "",
    U.fmt(self.t_start), U.fmt(self.t_stop), self.times.shape[1], self.num_channels,
    self.num_channels == 1 and "" or "s")
end

function C:max() return self.samples:max():item() end
function C:min() return self.samples:min():item() end

-- ---- arithmetic ------------------------------------------------------------

-- The other operand as something samples can be combined with.
local function operand(self, other, fname)
  if getmetatable(other) == TSContinuous then
    local v = sample_as(other, self.times, fname)
    if v.shape[2] ~= self.num_channels and v.shape[2] ~= 1 and self.num_channels ~= 1 then
      U.argerror(fname, 2, ("series have %d and %d channels"):format(self.num_channels, v.shape[2]), 3)
    end
    return v
  end
  if type(other) == "number" or core.is_tensor(other) then return other end
  U.argerror(fname, 2, "expected a number, tensor or TSContinuous, got " .. type(other), 3)
end

local function binop(name, f)
  return function(a, b)
    if getmetatable(a) == TSContinuous then
      local r = f(a.samples, operand(a, b, name))
      if r.dtype ~= "float32" and r.dtype ~= "float64" then r = r:astype "float32" end
      return make(a.times:clone(), r:contiguous(), settings(a))
    end
    local r = f(operand(b, a, name), b.samples)
    if r.dtype ~= "float32" and r.dtype ~= "float64" then r = r:astype "float32" end
    return make(b.times:clone(), r:contiguous(), settings(b))
  end
end

local function lift(x) return core.is_tensor(x) and x or core.full({ 1 }, x, "float64") end
C.__add = binop("__add", function(x, y) return x + y end)
C.__sub = binop("__sub", function(x, y) return core.is_tensor(x) and x - y or lift(x):astype(y.dtype) - y end)
C.__mul = binop("__mul", function(x, y) return x * y end)
C.__div = binop("__div", function(x, y) return core.is_tensor(x) and x / y or lift(x):astype(y.dtype) / y end)
C.__pow = binop("__pow", function(x, y) return core.is_tensor(x) and x ^ y or lift(x):astype(y.dtype) ^ y end)
C.__idiv = binop("__idiv", function(x, y) return (core.is_tensor(x) and x / y or lift(x):astype(y.dtype) / y):floor() end)
C.__mod = binop("__mod", function(x, y) return core.is_tensor(x) and x % y or lift(x):astype(y.dtype) % y end)
function C.__unm(a) return make(a.times:clone(), (-a.samples):contiguous(), settings(a)) end
function C:abs() return make(self.times:clone(), self.samples:abs():contiguous(), settings(self)) end

-- ---- reshaping in time and channels -----------------------------------------

local function select_channels(x, channels, fname, k)
  if channels == nil then return x end
  local idx = core.is_tensor(channels) and channels:astype "int64" or
              core.tensor(type(channels) == "number" and { channels } or channels, "int64")
  local n = x.shape[2]
  if idx:numel() > 0 and (idx:min():item() < 1 or idx:max():item() > n) then
    U.argerror(fname, k, ("channels must lie in 1..%d"):format(n), 3)
  end
  return x:transpose(1, 2)[idx]:transpose(1, 2):contiguous()
end

local CLIP_OPTS = { channels = true, include_stop = true, sample_limits = true }
-- ts:clip(t_start, t_stop[, {channels, include_stop = true, sample_limits = true}]):
-- the samples in [t_start, t_stop] (t_stop excluded with include_stop =
-- false), with interpolated samples added at the limits (sample_limits).
function C:clip(t0, t1, opts)
  local F = "clip"
  opts = U.opts(opts, CLIP_OPTS, F, 3)
  t0 = t0 == nil and self.t_start or U.number(t0, F, 1, "t_start")
  t1 = t1 == nil and self.t_stop or U.number(t1, F, 2, "t_stop")
  if t1 < t0 then U.argerror(F, 2, ("t_stop %s is before t_start %s"):format(U.fmt(t1), U.fmt(t0)), 2) end
  local incl = opts.include_stop ~= false
  local mask = self.times:ge(t0):logical_and(incl and self.times:le(t1) or self.times:lt(t1))
  local times, samples = self.times[mask], self.samples[mask]
  if opts.sample_limits ~= false and self.times.shape[1] > 0 then
    local a, b = math.max(t0, self.t_start), math.min(t1, self.t_stop)
    local n = times.shape[1]
    local lo = (a <= b and (n == 0 or times[1] > a)) and { a } or {}
    local hi = (incl and a <= b and ((n == 0 and b > a) or (n > 0 and times[n] < b))) and { b } or {}
    if #lo == 1 then
      times = core.cat({ core.tensor(lo, "float64"), times }, 1)
      samples = core.cat({ self:sample(lo):astype(samples.dtype), samples }, 1)
    end
    if #hi == 1 then
      times = core.cat({ times, core.tensor(hi, "float64") }, 1)
      samples = core.cat({ samples, self:sample(hi):astype(samples.dtype) }, 1)
    end
  end
  samples = select_channels(samples:contiguous(), opts.channels, F, 3)
  return make(times:contiguous(), samples, settings(self, { t_start = t0, t_stop = t1 }))
end

-- ts:resample(times): a series sampled at the given times (t_start and
-- t_stop become the first and last of them).
function C:resample(times)
  local q = U.times(times, "resample", 1)
  local x = sample_as(self, q, "resample")
  local n = q.shape[1]
  return new(q, x, { t_start = n > 0 and q[1] or self.t_start, t_stop = n > 0 and q[n] or self.t_start,
                     periodic = self.periodic, name = self.name, units = self.units,
                     interp_kind = self.interp_kind, fill_value = self.fill_value,
                     beyond_range_exception = self.beyond_range_exception })
end

local TC_OPTS = { t_start = true, t_stop = true, num_timesteps = true }
-- ts:to_clocked(dt[, {t_start, t_stop, num_timesteps}]) -> (T, C) samples at
-- t_start + k·dt, T = ceil((t_stop − t_start)/dt) (tolerant to rounding).
function C:to_clocked(dt, opts)
  local F = "to_clocked"
  dt = dt == nil and 1e-3 or dt
  if type(dt) ~= "number" or not (dt > 0) then U.argerror(F, 1, "dt must be a positive number", 2) end
  opts = U.opts(opts, TC_OPTS, F, 2)
  local t0 = opts.t_start or self.t_start
  local T = opts.num_timesteps or U.nsteps((opts.t_stop or self.t_stop) - t0, dt)
  if T == 0 then return core.zeros({ 0, self.num_channels }, self.samples.dtype) end
  return sample_as(self, core.arange(0, T, "float64") * dt + t0, F)
end

local MERGE_OPTS = { remove_duplicates = true }
-- ts:merge(other[, {remove_duplicates = true}]): the samples of both series
-- in time order; with remove_duplicates, other's samples at times self
-- already has are dropped.
function C:merge(other, opts)
  local F = "merge"
  opts = U.opts(opts, MERGE_OPTS, F, 2)
  if getmetatable(other) ~= TSContinuous then U.argerror(F, 1, "expected a TSContinuous", 2) end
  if other.num_channels ~= self.num_channels then
    U.argerror(F, 1, ("series have %d and %d channels"):format(self.num_channels, other.num_channels), 2)
  end
  local ot, os = other.times, other.samples:astype(self.samples.dtype)
  if opts.remove_duplicates ~= false and ot.shape[1] > 0 and self.times.shape[1] > 0 then
    local have = {}
    for _, v in ipairs(self.times:totable()) do have[v] = true end
    local keep = {}
    for i, v in ipairs(ot:totable()) do keep[i] = not have[v] end
    local m = core.tensor(keep, "bool")
    ot, os = ot[m], os[m]
  end
  local times = core.cat({ self.times, ot }, 1)
  local samples = core.cat({ self.samples, os }, 1)
  local order = kernels.argsort(times) + 1
  return make(times[order]:contiguous(), samples[order]:contiguous(),
              settings(self, { t_start = math.min(self.t_start, other.t_start),
                               t_stop = math.max(self.t_stop, other.t_stop) }))
end

-- ts:append_c(other): other's channels after self's, other sampled at self's times.
function C:append_c(other)
  if getmetatable(other) ~= TSContinuous then U.argerror("append_c", 1, "expected a TSContinuous", 2) end
  local v = sample_as(other, self.times, "append_c"):astype(self.samples.dtype)
  return make(self.times:clone(), core.cat({ self.samples, v }, 2):contiguous(), settings(self))
end

local AT_OPTS = { offset = true }
-- ts:append_t(other[, {offset = 0}]): other delayed to start at
-- self.t_stop + offset, its samples after self's. other may be a list.
function C:append_t(other, opts)
  local F = "append_t"
  opts = U.opts(opts, AT_OPTS, F, 2)
  local list = getmetatable(other) == TSContinuous and { other } or other
  if type(list) ~= "table" then U.argerror(F, 1, "expected a TSContinuous or a list of them", 2) end
  local offset = opts.offset or 0
  local r = self
  for i, o in ipairs(list) do
    if getmetatable(o) ~= TSContinuous then U.argerror(F, 1, ("item %d is not a TSContinuous"):format(i), 2) end
    if o.num_channels ~= r.num_channels then
      U.argerror(F, 1, ("series have %d and %d channels"):format(r.num_channels, o.num_channels), 2)
    end
    local shift = r.t_stop + offset - o.t_start
    r = make(core.cat({ r.times, o.times + shift }, 1):contiguous(),
             core.cat({ r.samples, o.samples:astype(r.samples.dtype) }, 1):contiguous(),
             settings(r, { t_stop = o.t_stop + shift }))
  end
  return r
end

-- ts:delay(offset): the series shifted later in time by offset seconds.
function C:delay(offset)
  if type(offset) ~= "number" then U.argerror("delay", 1, "expected a number, got " .. type(offset), 2) end
  return make(self.times + offset, self.samples:clone(),
              settings(self, { t_start = self.t_start + offset, t_stop = self.t_stop + offset }))
end
function C:start_at(t)
  if type(t) ~= "number" then U.argerror("start_at", 1, "expected a number, got " .. type(t), 2) end
  return self:delay(t - self.t_start)
end
function C:start_at_zero() return self:delay(-self.t_start) end

-- ts:plot(path[, opts]): staggered traces (lp.plot.traces).
function C:plot(path, opts) return require("limpet.plot").traces(self, path, opts) end

return C
