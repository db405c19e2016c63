-- stdlib/limpet/timeseries/continuous.lua -- lp.TSContinuous: a sampled,
-- multichannel signal in continuous time (Rockpool's TSContinuous).
-- Owns: construction (times + samples, or from_clocked), interpolation on
-- call, ts[t] (resampling at times), arithmetic with numbers / tensors /
-- other series (Rockpool's NaN rules), matmul, clip, resample, to_clocked, merge, append_c, append_t,
-- concatenate_t, delay, start_at, periodic series, the `inplace` option,
-- print. Not here: the kernels (core/src/tseries.c), files (io.lua),
-- plotting (limpet.plot).
--
-- Sampling (as Rockpool 3): a periodic series first wraps every time into
-- [t_start, t_start + duration). Times before the first sample, or after
-- the last one (after t_stop for interp_kind "previous"), raise unless
-- `beyond_range_exception = false`; then they are sampled anyway with a
-- warning, and every time outside [t_start, t_stop] reads NaN. Times within
-- rounding (1e-9 relative) of those limits count as the limits
-- (`approx_limit_times`, default true). Between samples the rule is
-- `interp_kind` ("previous" default, "linear", "next", "nearest");
-- `fill_value` "extrapolate" (default) continues it past the first and
-- last samples as scipy's interp1d does, a number is used there instead.
local core = require "limpet.core"
local U = require "limpet.timeseries.util"
local kernels = core._ts

local TSContinuous

local KINDS = { previous = true, linear = true, next = true, nearest = true }
local CTOR_OPTS = { t_start = true, t_stop = true, periodic = true, name = true, units = true,
                    interp_kind = true, fill_value = true, beyond_range_exception = true,
                    num_channels = true, approx_limit_times = true }

-- samples as a (T, C) float tensor. Rockpool's shapes: a number is one
-- sample of one channel; a 1-d list is one channel per time, except with a
-- single time, where it is that time's channels.
local function samples_tensor(s, fname, k, nt)
  local t
  if core.is_tensor(s) then t = s
  elseif type(s) == "number" then t = core.tensor({ s }, "float32")
  elseif type(s) == "table" then t = core.tensor(s, "float32")
  else U.argerror(fname, k, "expected samples as a tensor or table, got " .. type(s), 3) end
  if t:dim() == 0 then t = t:reshape(1, 1) end
  if t:dim() == 1 then
    if nt == 1 and t.shape[1] ~= 1 then t = t:reshape(1, t.shape[1]) else t = t:reshape(t.shape[1], 1) end
  end
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
  self.approx_limit_times = s.approx_limit_times ~= false
  return self
end

local function settings(self, over)
  local s = { t_start = self.t_start, t_stop = self.t_stop, periodic = self.periodic, name = self.name,
              units = self.units, interp_kind = self.interp_kind, fill_value = self.fill_value,
              beyond_range_exception = self.beyond_range_exception,
              approx_limit_times = self.approx_limit_times }
  for k, v in pairs(over or {}) do s[k] = v end
  return s
end

local function new(times, samples, opts)
  local F = "TSContinuous"
  opts = U.opts(opts, CTOR_OPTS, F, 3)
  local t, x
  if times == nil then
    if samples ~= nil then U.argerror(F, 1, "samples given without times", 2) end
    local nc = opts.num_channels or 0
    if math.type(nc) ~= "integer" or nc < 0 then U.argerror(F, 3, "field 'num_channels' must be a non-negative integer", 2) end
    t = core.zeros({ 0 }, "float64")
    x = core.zeros({ 0, nc }, "float32")
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
                      interp_kind = kind, fill_value = fv, beyond_range_exception = opts.beyond_range_exception,
                      approx_limit_times = opts.approx_limit_times })
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
-- ts[t] and ts[{t1, t2, ...}] (times, not positions, as Rockpool's ts[t]):
-- the series resampled at those times.
C.__index = function(s, k)
  local p = props[k]
  if p then return p(s) end
  local m = C[k]
  if m ~= nil or type(k) == "string" then return m end
  if type(k) == "number" or (type(k) == "table" and getmetatable(k) == nil) or core.is_tensor(k) then
    return s:resample(k)
  end
  return nil
end

local FC_OPTS = { dt = true, t_start = true, periodic = true, name = true, units = true, interp_kind = true,
                  fill_value = true, beyond_range_exception = true }
-- TSContinuous.from_clocked(samples (T, C), {dt = 1e-3, t_start = 0, ...}),
-- or from_clocked(samples, dt[, opts]) as Rockpool: sample k at
-- t_start + (k-1)·dt; t_stop = t_start + T·dt.
function C.from_clocked(samples, opts, more)
  local F = "from_clocked"
  if type(opts) == "number" then
    local o = U.opts(more, FC_OPTS, F, 3)
    if o.dt ~= nil then U.argerror(F, 3, "dt given twice", 2) end
    local c = {}
    for k, v in pairs(o) do c[k] = v end
    c.dt = opts
    opts = c
  else
    U.no_more(F, 3, more)
  end
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

-- Wrap, check and approximate query times q (float64 1-d); returns q and
-- whether some lie outside [t_start, t_stop] (to be set to NaN).
local function prepare(self, q, fname)
  local m = q.shape[1]
  if m == 0 then return q, false end
  if q:isnan():any():item() then U.argerror(fname, 1, "times must not be NaN", 3) end
  if self.periodic and self.duration > 0 then
    q = (q - self.t_start):mod(self.duration) + self.t_start
  end
  local n = self.times.shape[1]
  local first = self.times[1]
  local last = self.interp_kind == "previous" and self.t_stop or self.times[n]
  if self.approx_limit_times ~= false then
    local tol = U.TOL * math.max(1, math.abs(first), math.abs(last))
    local lo = q:lt(first):logical_and(q:ge(first - tol))
    local hi = q:gt(last):logical_and(q:le(last + tol))
    if lo:any():item() or hi:any():item() then
      q = core.where(lo, first, core.where(hi, last, q)):contiguous()
    end
  end
  local out = q:lt(first):logical_or(q:gt(last))
  if out:any():item() then
    local bad = q[out][1]
    if self.beyond_range_exception then
      U.argerror(fname, 1, ("time %s is outside the sampled range [%s, %s] of the series (set beyond_range_exception = false for NaN there)")
        :format(U.fmt(bad), U.fmt(first), U.fmt(last)), 3)
    end
    U.warn(("TSContinuous%s: time %s is outside the sampled range [%s, %s]; NaN outside [t_start, t_stop]")
      :format(self.name and (" '" .. self.name .. "'") or "", U.fmt(bad), U.fmt(first), U.fmt(last)))
  end
  local nan = q:lt(self.t_start):logical_or(q:gt(self.t_stop))
  return q, nan:any():item() and nan or false
end

-- The series at the given times; fname names the API function in errors.
local function sample(self, times, fname)
  local q = U.times(times, fname, 1)
  if self.times.shape[1] == 0 then           -- Rockpool: no samples, no values
    return core.full({ q.shape[1], self.num_channels }, 0 / 0, self.samples.dtype)
  end
  local nan
  q, nan = prepare(self, q, fname)
  local extra = self.fill_value == "extrapolate"
  local r = kernels.interp(self.times, self.samples, q, self.interp_kind, extra, extra and 0 or self.fill_value)
  if nan then r = core.where(nan:reshape(q.shape[1], 1), 0 / 0, r):astype(r.dtype):contiguous() end
  return r
end
-- ts:sample(times) -> (m, C): the series at the given times (number, table
-- or tensor). ts(times) is the same.
function C:sample(times, ...)
  U.no_more("sample", 2, ...)
  return sample(self, times, "sample")
end
C.__call = function(self, times, ...)
  U.no_more("TSContinuous", 2, ...)
  return sample(self, times, "TSContinuous")
end

function C:copy(...)
  U.no_more("copy", 1, ...)
  return make(self.times:clone(), self.samples:clone(), settings(self))
end

function C:isempty(...) U.no_more("isempty", 1, ...); return self.times.shape[1] == 0 end

-- ts:contains(times): every time within [t_start, t_stop] (always, periodic).
function C:contains(t, ...)
  U.no_more("contains", 2, ...)
  if self.periodic then return true end
  local q = U.times(t, "contains", 1)
  if q.shape[1] == 0 then return true end
  return U.within(q:min():item(), self.t_start, self.t_stop) and U.within(q:max():item(), self.t_start, self.t_stop)
end

function C:__len() return self.times.shape[1] end

-- Largest / smallest sample, NaNs ignored (Rockpool's nanmax / nanmin).
function C:max(...) U.no_more("max", 1, ...); return self.samples:nanmax():item() end
function C:min(...) U.no_more("min", 1, ...); return self.samples:nanmin():item() end

-- ---- arithmetic ------------------------------------------------------------

-- The other operand as something samples can be combined with.
local function operand(self, other, fname)
  if getmetatable(other) == TSContinuous then
    local v = sample(other, self.times, fname)
    if v.shape[2] ~= self.num_channels and v.shape[2] ~= 1 and self.num_channels ~= 1 then
      U.argerror(fname, 2, ("series have %d and %d channels"):format(self.num_channels, v.shape[2]), 3)
    end
    return v
  end
  if type(other) == "number" or core.is_tensor(other) then return other end
  U.argerror(fname, 2, "expected a number, tensor or TSContinuous, got " .. type(other), 3)
end

local function as_float(r)
  if r.dtype ~= "float32" and r.dtype ~= "float64" then r = r:astype "float32" end
  return r:contiguous()
end

local function binop(name, f)
  return function(a, b)
    if getmetatable(a) == TSContinuous then
      return make(a.times:clone(), as_float(f(a.samples, operand(a, b, name))), settings(a))
    end
    return make(b.times:clone(), as_float(f(operand(b, a, name), b.samples)), settings(b))
  end
end

local function lift(x, like) return core.is_tensor(x) and x or core.full({ 1 }, x, like.dtype) end

-- Rockpool adds and subtracts NaN as zero unless both operands are NaN.
local function nan_as_zero(op)
  return function(x, y)
    local tx, ty = lift(x, core.is_tensor(y) and y or x), lift(y, core.is_tensor(x) and x or y)
    local nx, ny = tx:isnan(), ty:isnan()
    local r = op(core.where(nx, 0, tx), core.where(ny, 0, ty))
    return core.where(nx:logical_and(ny), 0 / 0, r)
  end
end

C.__add = binop("__add", nan_as_zero(function(x, y) return x + y end))
C.__sub = binop("__sub", nan_as_zero(function(x, y) return x - y end))
C.__mul = binop("__mul", function(x, y) return x * y end)
C.__div = binop("__div", function(x, y) return core.is_tensor(x) and x / y or lift(x, y) / y end)
C.__pow = binop("__pow", function(x, y) return core.is_tensor(x) and x ^ y or lift(x, y) ^ y end)
C.__idiv = binop("__idiv", function(x, y) return (core.is_tensor(x) and x / y or lift(x, y) / y):floor() end)
C.__mod = binop("__mod", function(x, y) return core.is_tensor(x) and x % y or lift(x, y) % y end)
function C.__unm(a) return make(a.times:clone(), (-a.samples):contiguous(), settings(a)) end
function C:abs(...)
  U.no_more("abs", 1, ...)
  return make(self.times:clone(), self.samples:abs():contiguous(), settings(self))
end

-- ts:matmul(M) (Rockpool's ts @ M): samples (T, C) times M (C, K), same times.
function C:matmul(m, ...)
  U.no_more("matmul", 2, ...)
  if type(m) == "table" and getmetatable(m) == nil then
    local ok, t = pcall(core.tensor, m)
    if not ok then U.argerror("matmul", 1, "expected a matrix (tensor or table): " .. tostring(t):gsub("^.-%((.*)%)$", "%1"), 2) end
    m = t
  end
  if not core.is_tensor(m) then U.argerror("matmul", 1, "expected a matrix (tensor or table), got " .. type(m), 2) end
  if m:dim() ~= 2 or m.shape[1] ~= self.num_channels then
    U.argerror("matmul", 1, ("expected a matrix (%d, K), got shape (%s)"):format(self.num_channels,
      table.concat(m.shape, ", ")), 2)
  end
  local x = self.samples
  if m.dtype ~= x.dtype then m = m:astype(x.dtype) end
  return make(self.times:clone(), core.matmul(x, m):contiguous(), settings(self))
end

-- ---- reshaping in time and channels -----------------------------------------

local function select_channels(x, channels, fname, k)
  if channels == nil then return x end
  local idx = core.is_tensor(channels) and channels:astype "int64" or
              core.tensor(type(channels) == "number" and { channels } or channels, "int64")
  local n = x.shape[2]
  if idx:numel() > 0 and (n == 0 or idx:min():item() < 1 or idx:max():item() > n) then
    U.argerror(fname, k, n == 0 and "the series has no channels" or ("channels must lie in 1..%d"):format(n), 3)
  end
  if idx:numel() == 0 then return core.zeros({ x.shape[1], 0 }, x.dtype) end
  return x:transpose(1, 2)[idx]:transpose(1, 2):contiguous()
end

local CLIP_OPTS = { channels = true, include_stop = true, sample_limits = true, inplace = true }
-- ts:clip([t_start[, t_stop[, {channels, include_stop = true, sample_limits =
-- true, inplace}]]]): the samples in [t_start, t_stop] (t_stop excluded with
-- include_stop = false), with interpolated samples added at the limits
-- (sample_limits); a periodic series is repeated over the range.
function C:clip(t0, t1, opts)
  local F = "clip"
  local inplace
  opts, inplace = U.inplace_opts(opts, CLIP_OPTS, F, 3)
  local incl = opts.include_stop ~= false or t1 == nil
  t0 = t0 == nil and self.t_start or U.number(t0, F, 1, "t_start")
  t1 = t1 == nil and self.t_stop or U.number(t1, F, 2, "t_stop")
  if t1 < t0 then t0, t1 = t1, t0 end                      -- Rockpool sorts the bounds
  local all, reps = self.times, 1
  if self.periodic then all, reps = U.periodic_times(self.times, self.t_start, self.t_stop, t0, t1) end
  local mask = all:ge(t0):logical_and(incl and all:le(t1) or all:lt(t1))
  local times = all[mask]
  local samples
  if reps == 1 then samples = self.samples[mask] else samples = U.tile(self.samples, reps)[mask] end
  if times:numel() == 0 then samples = core.zeros({ 0, self.num_channels }, self.samples.dtype) end
  if opts.sample_limits ~= false and self.times.shape[1] > 0 then
    local n = times.shape[1]
    local lo = (n == 0 or times[1] > t0) and { t0 } or {}
    local hi = (incl and (n == 0 or times[n] < t1) and t1 > t0) and { t1 } or {}
    if #lo == 1 then
      if not self:contains(t0) then U.warn("TSContinuous clip: t_start is beyond the series' range") end
      times = core.cat({ core.tensor(lo, "float64"), times }, 1)
      samples = core.cat({ sample(self, lo, F):astype(samples.dtype), samples }, 1)
    end
    if #hi == 1 then
      if not self:contains(t1) then U.warn("TSContinuous clip: t_stop is beyond the series' range") end
      times = core.cat({ times, core.tensor(hi, "float64") }, 1)
      samples = core.cat({ samples, sample(self, hi, F):astype(samples.dtype) }, 1)
    end
  end
  samples = select_channels(samples:contiguous(), opts.channels, F, 3)
  return U.result(self, make(times:contiguous(), samples, settings(self, { t_start = t0, t_stop = t1 })), inplace)
end

local RS_OPTS = { channels = true, inplace = true }
-- ts:resample(times[, {channels, inplace}]): a series sampled at the given
-- times (t_start and t_stop become the first and last of them).
function C:resample(times, opts)
  local F = "resample"
  local inplace
  opts, inplace = U.inplace_opts(opts, RS_OPTS, F, 2)
  local q = U.times(times, F, 1)
  local x = select_channels(sample(self, q, F), opts.channels, F, 2)
  local n = q.shape[1]
  return U.result(self, make(q:clone(), x, settings(self, {
    t_start = n > 0 and q[1] or self.t_start, t_stop = n > 0 and q[n] or self.t_stop })), inplace)
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
  return sample(self, core.arange(0, T, "float64") * dt + t0, F)
end

local function as_list(x, fname) return U.series_list(x, TSContinuous, fname) end

-- An empty series with no channels takes on `nc` channels (Rockpool).
local function with_channels(s, nc)
  if s.times.shape[1] == 0 and s.num_channels == 0 and nc > 0 then
    return make(s.times, core.zeros({ 0, nc }, "float32"), settings(s))
  end
  return s
end

local MERGE_OPTS = { remove_duplicates = true, inplace = true }
-- ts:merge(other or {others...}[, {remove_duplicates = true, inplace}]): the
-- samples of all series in time order (stable); with remove_duplicates, a
-- later series' samples at times an earlier one has are dropped.
function C:merge(other, opts)
  local F = "merge"
  local inplace
  opts, inplace = U.inplace_opts(opts, MERGE_OPTS, F, 2)
  local list = { self }
  for _, o in ipairs(as_list(other, F)) do list[#list + 1] = o end
  local nc = 0
  for _, s in ipairs(list) do nc = math.max(nc, s.num_channels) end
  if self.times.shape[1] > 0 or self.num_channels > 0 then nc = self.num_channels end
  local dtype = self.samples.dtype
  for i, s in ipairs(list) do
    list[i] = with_channels(s, nc)
    if list[i].num_channels ~= nc then
      U.argerror(F, 1, ("series have %d and %d channels"):format(nc, list[i].num_channels), 2)
    end
  end
  local ts, xs, seen = {}, {}, {}
  local t0, t1 = math.huge, -math.huge
  for i, s in ipairs(list) do
    local times, samples = s.times, s.samples:astype(dtype)
    if i > 1 and opts.remove_duplicates ~= false and times.shape[1] > 0 then
      local keep, any_dropped = {}, false
      for j, v in ipairs(times:totable()) do keep[j] = not seen[v]; any_dropped = any_dropped or seen[v] end
      if any_dropped then
        local m = core.tensor(keep, "bool")
        times, samples = times[m], samples[m]
        if times:numel() == 0 then samples = core.zeros({ 0, nc }, dtype) end
      end
    end
    for _, v in ipairs(s.times:totable()) do seen[v] = true end
    ts[#ts + 1], xs[#xs + 1] = times, samples
    t0, t1 = math.min(t0, s.t_start), math.max(t1, s.t_stop)
  end
  local times, samples = core.cat(ts, 1), core.cat(xs, 1)
  local order = kernels.argsort(times) + 1
  if times:numel() > 0 then times, samples = times[order], samples[order] end
  return U.result(self, make(times:contiguous(), samples:contiguous(),
                             settings(self, { t_start = t0, t_stop = t1 })), inplace)
end

-- ts:append_c(other[, {inplace}]): other's channels after self's, other
-- sampled at self's times.
function C:append_c(other, opts)
  local F = "append_c"
  local inplace
  opts, inplace = U.inplace_opts(opts, nil, F, 2)
  if getmetatable(other) ~= TSContinuous then U.argerror(F, 1, "expected a TSContinuous", 2) end
  local v = sample(other, self.times, F):astype(self.samples.dtype)
  return U.result(self, make(self.times:clone(), core.cat({ self.samples, v }, 2):contiguous(), settings(self)), inplace)
end

local AT_OPTS = { offset = true, inplace = true }
-- ts:append_t(other or {others...}[, {offset, inplace}]): each series delayed
-- to start at the previous one's t_stop + offset, then merged. offset: a
-- number or one per series; by default (as Rockpool) the median step of the
-- previous series' times (0 when it has fewer than two samples or the next
-- one is empty).
function C:append_t(other, opts)
  local F = "append_t"
  local inplace
  opts, inplace = U.inplace_opts(opts, AT_OPTS, F, 2)
  local list = as_list(other, F)
  local offsets = U.per_series(opts.offset, #list, false, F, 2, "offset")
  local delayed, prev, stop = {}, self, self.t_stop
  for i, s in ipairs(list) do
    local off = offsets[i]
    if off == false then
      off = 0
      if s.times.shape[1] > 0 and prev.times.shape[1] > 1 then
        off = prev.times:diff():median():item()
      end
    end
    local d = stop + off - s.t_start
    delayed[i] = s:delay(d)
    stop = s.t_stop + d
    prev = s
  end
  return U.result(self, self:merge(delayed, { remove_duplicates = false }), inplace)
end

U.shared_methods(TSContinuous, { make = make, settings = settings, new = new, data = "samples", noun = "samples",
  row = function(self, i)
    local v = self.samples[i]:totable()
    for k = 1, #v do v[k] = U.fmt(v[k]) end
    return ("%s:\t%s"):format(U.fmt(self.times[i]), table.concat(v, " "))
  end,
  empty = function(first)
    return make(core.zeros({ 0 }, "float64"), core.zeros({ 0, 0 }, "float32"), settings(first, { t_stop = first.t_start }))
  end })

-- ts:plot(path[, opts]): staggered traces (lp.plot.traces).
function C:plot(path, opts) return require("limpet.plot")._plot_method("traces", "plot", self, path, opts) end

C._make, C._settings = make, settings
return C
