-- stdlib/limpet/timeseries/util.lua -- helpers shared by the time-series
-- classes: a small class maker, argument errors in luaL_argerror's words,
-- option checking, conversion of times and ids to tensors, the
-- float-tolerant step count, warnings, `inplace` options and results,
-- per-series offsets, the repetition of a periodic series' times, and the
-- methods both classes share (U.shared_methods: concatenate_t, delay,
-- start_at, start_at_zero, save, to_dict, load). Not here: the rest of the
-- classes (continuous.lua, event.lua), the file layout (io.lua).
local core = require "limpet.core"

local U = {}

-- Relative tolerance under which two times count as the same instant.
U.TOL = 1e-9

-- A class: a table that is its objects' metatable; calling it constructs.
function U.class(name, ctor)
  local C = { __name = name }
  C.__index = C
  return setmetatable(C, { __call = function(_, ...) return ctor(...) end })
end

-- Raise "bad argument #k to 'fn' (msg)" at the caller of the API function.
function U.argerror(fname, k, msg, level)
  error(("bad argument #%d to '%s' (%s)"):format(k, fname, msg), (level or 2) + 1)
end

-- Check an options table: nil or a table whose keys are all in `allowed`.
-- (level: as U.argerror's, counted from U.opts's caller; default 2)
function U.opts(o, allowed, fname, k, level)
  if o == nil then return {} end
  if type(o) ~= "table" then U.argerror(fname, k, "expected an options table, got " .. type(o), level or 2) end
  for key in pairs(o) do
    if not allowed[key] then U.argerror(fname, k, ("unknown field '%s'"):format(tostring(key)), level or 2) end
  end
  return o
end

-- A number as messages show it (NaN without the sign C's printf may give it).
local function shown(v) if v ~= v then return "nan" end return tostring(v) end

function U.number(v, fname, k, field)
  if type(v) ~= "number" then
    U.argerror(fname, k, ("field '%s' must be a number, got %s"):format(field, type(v)), 3)
  end
  if v ~= v or v == math.huge or v == -math.huge then   -- times and steps are finite
    U.argerror(fname, k, ("field '%s' must be a finite number, got %s"):format(field, shown(v)), 3)
  end
  return v
end

-- Raise unless every time in t (1-d float64) is finite: a NaN or infinite
-- time falls out of every bin and makes t_stop NaN.
function U.finite_times(t, fname, k, what, level)
  if t.shape[1] == 0 then return end
  local bad = t:isnan():logical_or(t:isinf())
  if bad:sum():item() > 0 then
    local i = bad:astype("int8"):argmax():item()
    U.argerror(fname, k, ("%s must be finite, got %s at position %d"):format(what or "times", shown(t[i]), i),
      (level or 2) + 1)
  end
end

-- A 1-d float64 contiguous tensor from a tensor, a Lua table or a number.
function U.times(x, fname, k, what)
  what = what or "times"
  local t
  if core.is_tensor(x) then
    t = x
  elseif type(x) == "table" then
    local ok, r = pcall(core.tensor, x, "float64")
    if not ok then
      U.argerror(fname, k, ("expected %s as a flat table of numbers (%s)"):format(what,
        tostring(r):match("%((.*)%)$") or tostring(r)), 2)
    end
    t = r
  elseif type(x) == "number" then
    t = core.tensor({ x }, "float64")
  else
    U.argerror(fname, k, ("expected %s as a tensor or table, got %s"):format(what, type(x)), 2)
  end
  if t:dim() ~= 1 then
    U.argerror(fname, k, ("expected 1-d %s, got %d dims"):format(what, t:dim()), 2)
  end
  if t.dtype ~= "float64" then t = t:astype "float64" end
  return t:contiguous()
end

-- Number of dt steps covering a duration: ceil(duration / dt), where a
-- quotient within rounding of an integer counts as that integer.
function U.nsteps(duration, dt)
  local n = duration / dt
  local r = math.floor(n + 0.5)
  if math.abs(n - r) <= U.TOL * math.max(1, math.abs(n)) then return math.max(0, r) end
  return math.max(0, math.ceil(n))
end

-- The next double above x (x finite).
function U.nextup(x)
  if x == 0 then return 4.9406564584124654e-324 end
  local i = string.unpack("<i8", string.pack("<d", x))
  i = x > 0 and i + 1 or i - 1
  return (string.unpack("<d", string.pack("<i8", i)))
end

function U.fmt(x) return ("%.6g"):format(x) end

-- Warnings (Rockpool warns where it returns NaN): one line on stderr.
-- Replace U.warn to collect or silence them.
function U.warn(msg)
  io.stderr:write("limpet: warning: ", msg, "\n")
end

-- A method that takes no options: refuse an extra argument instead of
-- ignoring it (`ts:copy{inplace = true}` must not pass silently).
function U.no_more(fname, k, ...)
  if select("#", ...) > 0 and (...) ~= nil then
    U.argerror(fname, k, ("unexpected argument (%s): %s takes no options"):format(type((...)), fname), 3)
  end
end

-- The `inplace` option: copy result's fields into self and return self, or
-- return result as is.
function U.result(self, result, inplace)
  if not inplace then return result end
  for k in pairs(self) do self[k] = nil end
  for k, v in pairs(result) do self[k] = v end
  return self
end

-- Check field 'inplace' (a boolean when given).
function U.inplace(opts, fname, k, level)
  local v = opts.inplace
  if v ~= nil and type(v) ~= "boolean" then
    U.argerror(fname, k, "field 'inplace' must be a boolean, got " .. type(v), level or 3)
  end
  return v == true
end

-- The preamble of every method that can work in place: check options
-- argument k (keys of `allowed`, default just `inplace`) and its field
-- 'inplace'; -> opts, inplace. Errors as U.opts and U.inplace give them.
local INPLACE_ONLY = { inplace = true }
function U.inplace_opts(o, allowed, fname, k)
  o = U.opts(o, allowed or INPLACE_ONLY, fname, k, 3)
  return o, U.inplace(o, fname, k, 4)
end

-- x: one series of class C or a list of them -> the list ("expected a
-- <class> or a list of them", "item i is not a <class>" otherwise).
function U.series_list(x, C, fname)
  if getmetatable(x) == C then return { x } end
  if type(x) ~= "table" then U.argerror(fname, 1, ("expected a %s or a list of them"):format(C.__name), 3) end
  for i, o in ipairs(x) do
    if getmetatable(o) ~= C then U.argerror(fname, 1, ("item %d is not a %s"):format(i, C.__name), 3) end
  end
  return x
end

-- The methods TSContinuous and TSEvent share, over the class's own parts:
-- spec = {make = make(times, data, settings), settings = settings(self,
-- over), new = the constructor, data = "samples" | "channels", empty =
-- function(first) -> the empty series concatenate_t starts from}.
-- For printing: noun = "samples" | "events", row = function(self, i) -> the
-- text of entry i, header = a line before the rows (or nil).
-- Defines C:__tostring, C:print, C.concatenate_t, C:delay, C:start_at,
-- C:start_at_zero, C:save, C:to_dict and C.load.
function U.shared_methods(C, spec)
  local make, settings, data = spec.make, spec.settings, spec.data

  function C:__tostring()
    return ("%s%s%s from t=%s to %s: %d %s, %d channel%s"):format(
      self.periodic and "periodic " or "", C.__name, self.name and (" '" .. self.name .. "'") or "",
      U.fmt(self.t_start), U.fmt(self.t_stop), self.times.shape[1], spec.noun, self.num_channels,
      self.num_channels == 1 and "" or "s")
  end

  -- ts:print([{full = false}]): the description, then one line per entry
  -- (the first and last four beyond ten).
  function C:print(opts)
    opts = U.opts(opts, { full = true }, "print", 1)
    local lines = { tostring(self), spec.header }
    local n = self.times.shape[1]
    local function row(i) lines[#lines + 1] = spec.row(self, i) end
    if n <= 10 or opts.full then for i = 1, n do row(i) end
    else
      for i = 1, 4 do row(i) end
      lines[#lines + 1] = "\t..."
      for i = n - 3, n do row(i) end
    end
    print(table.concat(lines, "\n"))
  end

  -- C.concatenate_t({series...}[, {offset}]): the series one after the other.
  function C.concatenate_t(list, opts)
    local F = "concatenate_t"
    list = U.series_list(list, C, F)
    opts = U.opts(opts, { offset = true }, F, 2)
    if #list == 0 then return spec.new() end
    return spec.empty(list[1]):append_t(list, { offset = opts.offset })
  end

  -- ts:delay(offset[, {inplace}]): the series shifted later in time by offset.
  function C:delay(offset, opts)
    local F = "delay"
    if type(offset) ~= "number" then U.argerror(F, 1, "expected a number, got " .. type(offset), 2) end
    local inplace
    opts, inplace = U.inplace_opts(opts, nil, F, 2)
    return U.result(self, make(self.times + offset, inplace and self[data] or self[data]:clone(),
      settings(self, { t_start = self.t_start + offset, t_stop = self.t_stop + offset })), inplace)
  end
  function C:start_at(t, opts)
    if type(t) ~= "number" then U.argerror("start_at", 1, "expected a number, got " .. type(t), 2) end
    opts = U.opts(opts, INPLACE_ONLY, "start_at", 2)
    return self:delay(t - self.t_start, opts)
  end
  function C:start_at_zero(opts)
    opts = U.opts(opts, INPLACE_ONLY, "start_at_zero", 1)
    return self:delay(-self.t_start, opts)
  end

  -- ts:save(path[, {dtype_times, dtype_samples | dtype_channels}]),
  -- ts:to_dict(...), C.load(path): Rockpool's .npz layout (timeseries/io.lua).
  function C:save(path, opts) return require("limpet.timeseries.io").save(self, path, opts, "save") end
  function C:to_dict(opts) return require("limpet.timeseries.io").to_dict(self, opts, "to_dict") end
  function C.load(path, ...)
    U.no_more("load", 2, ...)
    return require("limpet.timeseries.io").load(path, C.__name, "load")
  end
end

-- Per-series values from a number (the same for all), a list (one each) or
-- nil (`default`), n series.
function U.per_series(v, n, default, fname, k, field)
  local out = {}
  if v == nil or type(v) == "number" then
    for i = 1, n do if v == nil then out[i] = default else out[i] = v end end
    return out
  end
  if type(v) ~= "table" then
    U.argerror(fname, k, ("field '%s' must be a number or a list of numbers"):format(field), 3)
  end
  for i = 1, n do
    local x = v[i]
    if x ~= nil and type(x) ~= "number" then
      U.argerror(fname, k, ("field '%s': item %d is not a number"):format(field, i), 3)
    end
    if x == nil then out[i] = default else out[i] = x end
  end
  if #v > n then U.warn(("%s: %d values of '%s' for %d series; the extra ones are ignored"):format(fname, #v, field, n)) end
  return out
end

-- A periodic series' times repeated to cover [t0, t1) (Rockpool's
-- _extend_periodic_times): returns the times (float64) and the number of
-- copies, for tiling the channels or samples alongside.
function U.periodic_times(times, t_start, t_stop, t0, t1)
  local duration = t_stop - t_start
  if not (duration > 0) or times.shape[1] == 0 then return times, 1 end
  local after = t1 > t_stop and math.ceil((t1 - t_start) / duration) or 1
  local before = t0 < t_start and math.ceil((t_start - t0) / duration) or 0
  local parts = {}
  for p = -before, after - 1 do parts[#parts + 1] = times + p * duration end
  return core.cat(parts, 1):contiguous(), before + after
end

-- x (rows) repeated n times along dim 1.
function U.tile(x, n)
  if n == 1 then return x end
  local parts = {}
  for i = 1, n do parts[i] = x end
  return core.cat(parts, 1):contiguous()
end

-- Is t (a number) within [a, b], with tolerance?
function U.within(t, a, b)
  local tol = U.TOL * math.max(1, math.abs(a), math.abs(b))
  return t >= a - tol and t <= b + tol
end

return U
