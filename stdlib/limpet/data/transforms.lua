-- stdlib/limpet/data/transforms.lua -- Tonic's event transforms (`lp.data.transforms`).
-- Owns: ToFrame, Downsample, Denoise, TimeJitter, SpatialJitter, DropEvent,
-- DropPixel, RandomFlipPolarity, RandomTimeReversal, CropTime, Compose, and
-- `describe(fn)` (a canonical text of a transform and its options, used as
-- DiskCache's key). Not here: the loops tensor ops cannot express and the
-- exact time arithmetic (core/src/events.c through core._events), readers
-- (data/init.lua).
--
-- An event sample is a table of equal-length tensors {t = , x = , y = , p = }:
-- t in seconds (float64), ids 1-based (x in 1..W, y in 1..H, polarity p in
-- 1..P, OFF = 1, ON = 2); an audio sensor has only t and x. Every other
-- tensor field of the sample with the same length travels with the events;
-- other fields are passed on untouched. A transform is a function
-- sample -> sample that never modifies its input.
--
-- Time is Tonic's: whole microseconds, exact integer arithmetic. ToFrame,
-- Downsample, Denoise, CropTime, DropPixel's hot-pixel rate and
-- RandomTimeReversal read an event time t (seconds) as the microsecond
-- nearest to t * 1e6 when it lies within floating rounding of it (times
-- written as microseconds / 1e6, as every reader gives them), else as
-- floor(t * 1e6) (Tonic's readers truncate finer times, e.g. SHD's float16
-- seconds). Time options (time_window, overlap, start_time, end_time,
-- filter_time, min, max) are taken to whole nanoseconds, overlap fractions
-- (n_time_bins, n_event_bins) to 6 decimals; window bounds and comparisons
-- are then exact rationals (128-bit integers), so an event lying exactly on
-- a window bound lands where Tonic puts it. Times a transform writes
-- (Downsample, RandomTimeReversal) are whole microseconds / 1e6.
--
-- Tonic's behaviour is the default where the difference is only a choice:
--  * ToFrame{n_time_bins}: bins = "tonic" (default) floors the bin length to
--    whole microseconds, (t_last - t_first) // n * (1 + overlap) from t_first,
--    so the last event (and any within the floored remainder) lies in no
--    bin; bins = "even" (limpet's own) divides t_last - t_first exactly and
--    closes the last bin at t_last, so every event lands in a bin;
--  * Downsample{time_factor}: truncate = true (default) truncates t * factor
--    to whole microseconds, as Tonic's integer times; truncate = false keeps
--    the exact product t * factor.
-- ToFrame{start_time, end_time} (with time_window, as Tonic's): the windows
-- start at start_time (default: the first event) and their number follows
-- from end_time - start_time (end_time default: the last event), so frames
-- line up across samples; events before start_time fall in no window.
-- Other differences from Tonic (integer microseconds, 0-based ids):
--  * time options are in seconds, ids 1-based;
--  * ToFrame returns float32 (Tonic: int16), shaped (T, P, H, W) for a
--    sensor {W, H, P}, (T, P, W) for {W, 1, P} samples without y, and (T, W)
--    for a 1-d sensor {W}; never fewer than 1 slice;
--  * CropTime's default max is each sample's last time (Tonic's transform
--    keeps the first sample's for every later sample);
--  * DropPixel{hot_pixel_frequency} counts each pixel's events exactly
--    (Tonic's histogram takes its x bins from the y range and merges the
--    last two columns); the threshold is Tonic's, frequency x (t_last -
--    t_first in microseconds) x 1e-6;
--  * Denoise and DropPixel take 1-d (audio) samples too: a sensor of height
--    1, x neighbours only (Tonic's need y);
--  * TimeJitter keeps the jittered times exact (Tonic's integer field
--    truncates them toward zero to whole microseconds);
--  * random transforms draw from the limpet stream (lp.seed) or, with a
--    `seed` option, from their own stream: a new transform with the same
--    seed repeats the same sequence of draws. They cannot repeat NumPy's
--    draws; their deterministic parts match Tonic's (p = 0 or 1, std = 0,
--    clipping, round(p N) dropped events, order kept).
local core = require "limpet.core"
require "limpet.tensor"
local K = core._events

local M = {}

-- Raised whenever a transform's output changes for the same options
-- (DiskCache keys carry it, so older cache entries are rebuilt). 2: Tonic's
-- integer-microsecond arithmetic, ToFrame{n_time_bins} bins = "tonic",
-- Downsample truncating t to whole microseconds.
M.version = 2

-- ---- options --------------------------------------------------------------

local descriptions = setmetatable({}, { __mode = "k" })

local function argerr(fname, msg, level)
  error(("bad argument #1 to '%s' (%s)"):format(fname, msg), level + 1)
end

local function serialize(v)
  if type(v) == "table" then
    local parts = {}
    for i = 1, #v do parts[i] = serialize(v[i]) end
    return "{" .. table.concat(parts, ",") .. "}"
  elseif type(v) == "number" then
    return math.type(v) == "integer" and tostring(v) or ("%.17g"):format(v)
  elseif type(v) == "function" then
    return descriptions[v] or "<function>"
  end
  return tostring(v)
end

-- Checks opts against spec {field = checker}; checkers return an error
-- text for a bad value. Returns a copy of opts.
local function options(fname, opts, spec, level)
  level = (level or 2) + 1
  if opts == nil then opts = {} end
  if type(opts) ~= "table" then argerr(fname, "table expected, got " .. type(opts), level) end
  local out = {}
  for k, v in pairs(opts) do
    local check = spec[k]
    if not check then argerr(fname, ("unknown field '%s'"):format(tostring(k)), level) end
    local bad = check(v)
    if bad then argerr(fname, ("field '%s' %s"):format(k, bad), level) end
    out[k] = v
  end
  return out
end

local function number(lo, hi, lo_open, hi_open)
  return function(v)
    if type(v) ~= "number" or v ~= v then return "must be a number, got " .. type(v) end
    if lo and (v < lo or (lo_open and v == lo)) or hi and (v > hi or (hi_open and v == hi)) then
      local range = (lo_open and "(" or "[") .. (lo or "-inf") .. ", " .. (hi or "inf") .. (hi_open and ")" or "]")
      return ("must lie in %s, got %s"):format(range, serialize(v))
    end
  end
end
local function positive(v)
  if type(v) ~= "number" or v ~= v then return "must be a number, got " .. type(v) end
  if v <= 0 then return "must be positive, got " .. serialize(v) end
end
-- A time option in seconds: exact in whole nanoseconds below 2^62 ns.
local TIME_MAX = 4.6e9
local function seconds(v)
  if type(v) ~= "number" or v ~= v then return "must be a number, got " .. type(v) end
  if v <= -TIME_MAX or v >= TIME_MAX then return "must lie in (-4.6e9, 4.6e9) seconds, got " .. serialize(v) end
end
local function positive_seconds(v)
  return positive(v) or seconds(v)
end
local function count(v)
  if math.type(v) ~= "integer" then return "must be an integer, got " .. serialize(v) end
  if v < 1 then return "must be positive, got " .. v end
end
local function boolean(v)
  if type(v) ~= "boolean" then return "must be a boolean, got " .. type(v) end
end
local function integer(v)
  if math.type(v) ~= "integer" then return "must be an integer, got " .. type(v) end
end
local function sensor(v)
  if type(v) ~= "table" or (#v ~= 1 and #v ~= 3) then
    return "must be {W, H, P} or {W}"
  end
  for i = 1, #v do
    if math.type(v[i]) ~= "integer" or v[i] < 1 then return "must hold positive integers" end
  end
end
local function factor(v)
  if type(v) == "number" then return positive(v) end
  if type(v) ~= "table" or #v ~= 2 or positive(v[1]) or positive(v[2]) then
    return "must be a positive number or {fx, fy}"
  end
end
local function prob_or_range(v)
  if type(v) == "number" then return number(0, 1)(v) end
  if type(v) ~= "table" or #v ~= 2 or number(0, 1)(v[1]) or number(0, 1)(v[2]) or v[1] > v[2] then
    return "must be a probability or a range {pmin, pmax} in [0, 1]"
  end
end

-- Registers fn with its description and returns it.
local function make(fname, opts, fn)
  local keys = {}
  for k in pairs(opts) do keys[#keys + 1] = k end
  table.sort(keys)
  local parts = {}
  for i, k in ipairs(keys) do parts[i] = k .. "=" .. serialize(opts[k]) end
  descriptions[fn] = fname .. "{" .. table.concat(parts, ",") .. "}"
  return fn
end

--- transforms.describe(fn) -> text naming the transform and its options
--- (nil for a function these constructors did not make).
function M.describe(fn) return descriptions[fn] end

-- ---- samples --------------------------------------------------------------

local function events_of(fname, s, need)
  if type(s) ~= "table" or not core.is_tensor(s.t) then
    argerr(fname, "expected an event sample {t = , x = , ...}, got " ..
      (core.is_tensor(s) and "a tensor" or type(s)), 3)
  end
  for _, f in ipairs(need or {}) do
    if not core.is_tensor(s[f]) then argerr(fname, ("sample has no field '%s'"):format(f), 3) end
  end
  local n = s.t:dim() == 1 and s.t.shape[1] or -1
  for k, v in pairs(s) do
    if core.is_tensor(v) and (k == "t" or k == "x" or k == "y" or k == "p") then
      if v:dim() ~= 1 or v.shape[1] ~= n then
        argerr(fname, ("sample field '%s' must be 1-d with as many events as t"):format(k), 3)
      end
    end
  end
  if n > 0 and (s.t.dtype == "float32" or s.t.dtype == "float64") then
    -- a NaN or infinite time falls out of every bin and every comparison
    local bad = s.t:isnan():logical_or(s.t:isinf())
    if bad:sum():item() > 0 then
      local i = bad:astype("int8"):argmax():item()
      local v = s.t[i]
      argerr(fname, ("sample field 't' must hold finite times, got %s at event %d"):format(
        v ~= v and "nan" or tostring(v), i), 3)
    end
  end
  return n
end

local function copy(s)
  local o = {}
  for k, v in pairs(s) do o[k] = v end
  return o
end

-- The sample with every event field indexed by key: a bool mask, or int64
-- 0-based positions.
local function select(s, n, key)
  local o = {}
  local take = key.dtype ~= "bool"
  for k, v in pairs(s) do
    if core.is_tensor(v) and v:dim() >= 1 and v.shape[1] == n then
      o[k] = take and K.take(v, key) or v[key]
    else
      o[k] = v
    end
  end
  return o
end

local function reverse_index(n) return core.arange(n - 1, -1, -1) end

-- Random draws: the transform's own stream (seed) or limpet's.
local function stream(seed)
  if seed == nil then return function() return nil, nil end end
  local calls = -1
  return function()
    calls = calls + 1
    return seed, calls << 32
  end
end
local function uniform1(seed, base)
  return K.uniform(1, seed, base):item()
end

-- Casts v back to dtype dt (floats to ints truncate, as NumPy's assignment).
local function as(v, dt) return v.dtype == dt and v or v:astype(dt) end

-- ---- time ---------------------------------------------------------------

-- Event times on Tonic's grid: int64 whole microseconds (core/src/events.c).
local function micros(t) return K.micros(t) end

-- A time option (seconds) in whole nanoseconds.
local function nanos(v) return math.floor(v * 1e9 + 0.5) end

local function gcd(a, b)
  while b ~= 0 do a, b = b, a % b end
  return a
end

-- An overlap fraction o in [0, 1) as O / D (6 decimals, reduced).
local function fraction(o)
  local D = 1000000
  local O = math.floor(o * D + 0.5)
  local g = gcd(O, D)
  return O // g, D // g
end

local function ceil_div(a, b) return -((-a) // b) end

-- ---- ToFrame ---------------------------------------------------------------

--- ToFrame{sensor_size, time_window | event_count | n_time_bins | n_event_bins,
---   overlap = 0, include_incomplete = false, start_time, end_time,
---   bins = "tonic" | "even"}
function M.ToFrame(opts)
  local o = options("ToFrame", opts, {
    sensor_size = sensor, time_window = positive_seconds, event_count = count, n_time_bins = count,
    n_event_bins = count, overlap = number(0), include_incomplete = boolean,
    start_time = seconds, end_time = seconds,
    bins = function(v)
      if v ~= "tonic" and v ~= "even" then return "must be 'tonic' or 'even', got " .. serialize(v) end
    end,
  })
  if not o.sensor_size then argerr("ToFrame", "field 'sensor_size' is required", 2) end
  local modes = 0
  for _, k in ipairs { "time_window", "event_count", "n_time_bins", "n_event_bins" } do
    if o[k] ~= nil then modes = modes + 1 end
  end
  if modes ~= 1 then
    argerr("ToFrame", "exactly one of time_window, event_count, n_time_bins, n_event_bins is required", 2)
  end
  if (o.start_time or o.end_time) and not o.time_window then
    argerr("ToFrame", "fields 'start_time' and 'end_time' need time_window", 2)
  end
  if o.bins and not o.n_time_bins then argerr("ToFrame", "field 'bins' needs n_time_bins", 2) end
  local overlap = o.overlap or 0
  local window_ns, stride_ns, O, D
  if o.time_window then
    window_ns = nanos(o.time_window)
    if window_ns < 1 then argerr("ToFrame", "field 'time_window' must be at least 1e-9 (one nanosecond)", 2) end
    stride_ns = window_ns - nanos(overlap)
    if stride_ns <= 0 then argerr("ToFrame", "field 'overlap' must be smaller than time_window", 2) end
  elseif o.event_count and (math.type(overlap) ~= "integer" or overlap >= o.event_count) then
    argerr("ToFrame", "field 'overlap' must be an integer smaller than event_count", 2)
  elseif (o.n_time_bins or o.n_event_bins) then
    if overlap >= 1 then
      argerr("ToFrame", "field 'overlap' must be smaller than 1 with n_time_bins or n_event_bins", 2)
    end
    O, D = fraction(overlap)
    if O >= D then argerr("ToFrame", "field 'overlap' must be smaller than 1 with n_time_bins or n_event_bins", 2) end
    if o.n_time_bins and o.n_time_bins > (1 << 61) // (D * D) then
      argerr("ToFrame", "field 'n_time_bins' too large for an overlap of that many decimals", 2)
    end
  end
  local incomplete = o.include_incomplete or false
  local even = o.bins == "even"
  local sz = o.sensor_size
  local W, H, P = sz[1], sz[2] or 1, sz[3] or 1

  -- slice bounds as 0-based half-open event positions (int64 tensors)
  local function slices(t, n)
    local starts, stops = {}, {}
    if n == 0 then
      local nb = o.n_time_bins or o.n_event_bins or 1
      for k = 1, nb do starts[k], stops[k] = 0, 0 end
      return core.tensor(starts, "int64"), core.tensor(stops, "int64")
    end
    if o.event_count or o.n_event_bins then
      local cnt, stride, ns
      if o.event_count then
        cnt, stride = o.event_count, o.event_count - overlap
        local r = n - math.min(cnt, n)
        ns = (incomplete and ceil_div(r, stride) or r // stride) + 1
      else
        cnt = (n // o.n_event_bins) * (D + O) // D        -- Tonic: int(n // B * (1 + o))
        stride = cnt * (D - O) // D                      --        int(count * (1 - o))
        ns = o.n_event_bins
      end
      if ns < 1 then ns = 1 end
      for k = 1, ns do
        local a = (k - 1) * stride
        starts[k], stops[k] = math.min(a, n), math.min(a + cnt, n)
      end
      return core.tensor(starts, "int64"), core.tensor(stops, "int64")
    end
    local u = micros(t)
    local u0, u1 = u[1], u[n]
    if o.time_window then
      -- windows [S + k s, S + k s + w) in nanoseconds; t in microseconds
      local S = o.start_time and nanos(o.start_time) or u0 * 1000
      local E = o.end_time and nanos(o.end_time) or u1 * 1000
      local r = E - S - window_ns
      local ns = (incomplete and ceil_div(r, stride_ns) or r // stride_ns) + 1
      if ns < 1 then ns = 1 end
      return K.time_slices(u, ns, S, 1, stride_ns, 1, window_ns, 1, 1000)
    end
    local B = o.n_time_bins
    if even then
      -- window d (1 + o) / B, stride window (1 - o): t B D^2 against u0 B D^2 + k d (D+O)(D-O)
      local d = u1 - u0
      local a, b = K.time_slices(u, B, u0, B * D * D, d, (D + O) * (D - O), d, (D + O) * D, B * D * D)
      b[B] = n                                            -- the last bin closes at t_last
      return a, b
    end
    -- Tonic: window q (1 + o), stride window (1 - o), q = (t_last - t_first) // B microseconds
    local q = (u1 - u0) // B
    return K.time_slices(u, B, u0, D * D, q, (D + O) * (D - O), q, (D + O) * D, D * D)
  end

  local function check_range(fname, v, name, hi)
    local lo_v, hi_v = v:min():item(), v:max():item()
    if lo_v < 1 or hi_v > hi then
      argerr(fname, ("%s must lie in 1..%d for sensor %s, got %s..%s"):format(
        name, hi, serialize(sz), serialize(lo_v), serialize(hi_v)), 3)
    end
  end

  return make("ToFrame", o, function(s)
    local n = events_of("ToFrame", s, { "x" })
    local x = s.x:astype("int64")
    local has_y = core.is_tensor(s.y) and #sz == 3
    local cell
    if n > 0 then check_range("ToFrame", x, "x", W) end
    cell = x - 1
    if has_y then
      local y = s.y:astype("int64")
      if n > 0 then check_range("ToFrame", y, "y", H) end
      cell = cell + (y - 1) * W
    elseif #sz == 3 and H ~= 1 then
      argerr("ToFrame", ("sample has no field 'y' but sensor %s has height %d"):format(serialize(sz), H), 3)
    end
    if P > 1 then
      if not core.is_tensor(s.p) then
        argerr("ToFrame", ("sample has no field 'p' but sensor %s has %d polarities"):format(serialize(sz), P), 3)
      end
      local p = s.p:astype("int64")
      if n > 0 then check_range("ToFrame", p, "p", P) end
      cell = cell + (p - 1) * (has_y and W * H or W)
    end
    local a, b = slices(s.t, n)
    local frames = K.count(cell, a, b, has_y and W * H * P or W * P)
    local T = a.shape[1]
    if #sz == 1 then return frames:reshape(T, W) end
    if has_y then return frames:reshape(T, P, H, W) end
    return frames:reshape(T, P, W)
  end)
end

-- ---- event -> event transforms ----------------------------------------------

--- Downsample{time_factor = 1, spatial_factor = 1 (or {fx, fy}), sensor_size, target_size,
---   truncate = true}
--- t <- t * time_factor, truncated to whole microseconds (Tonic's integer
--- times; truncate = false keeps the exact product); x0 <- trunc(x0 * fx),
--- y0 <- trunc(y0 * fy) in float64 (NumPy's) on 0-based coordinates
--- (x = x0 + 1); with target_size, fx, fy = target / sensor.
function M.Downsample(opts)
  local o = options("Downsample", opts, {
    time_factor = positive, spatial_factor = factor, sensor_size = sensor, truncate = boolean,
    target_size = function(v)
      if type(v) ~= "table" or #v < 1 or #v > 2 or count(v[1]) or (v[2] ~= nil and count(v[2])) then
        return "must be {W, H} or {W}"
      end
    end,
  })
  local fx, fy
  if o.target_size then
    if not o.sensor_size then argerr("Downsample", "field 'target_size' needs field 'sensor_size'", 2) end
    if o.spatial_factor then argerr("Downsample", "give spatial_factor or target_size, not both", 2) end
    fx = o.target_size[1] / o.sensor_size[1]
    fy = (o.target_size[2] or 1) / (o.sensor_size[2] or 1)
  else
    local f = o.spatial_factor or 1
    if type(f) == "table" then fx, fy = f[1], f[2] else fx, fy = f, f end
  end
  local tf = o.time_factor or 1
  local truncate = o.truncate ~= false
  -- 0-based coordinates times f in float64 (an int16 tensor times a Lua
  -- number would be float32), truncated back to the coordinates' dtype
  local function scale(v, f) return as((v - 1):astype("float64") * f, v.dtype) + 1 end
  return make("Downsample", o, function(s)
    events_of("Downsample", s)
    local r = copy(s)
    if tf ~= 1 then
      if truncate then
        r.t = as(micros(s.t):astype("float64") * tf, "int64"):astype("float64") / 1e6
      else
        r.t = s.t * tf
      end
    end
    if core.is_tensor(s.x) and fx ~= 1 then r.x = scale(s.x, fx) end
    if core.is_tensor(s.y) and fy ~= 1 then r.y = scale(s.y, fy) end
    return r
  end)
end

--- Denoise{filter_time}: keeps an event when one of its 4 neighbouring pixels
--- fired less than filter_time seconds before it (Tonic's filter, including
--- its start: every pixel counts as having fired at time 0), compared exactly
--- on the microsecond grid. 1-d samples (no y) use the 2 neighbours in x.
function M.Denoise(opts)
  local o = options("Denoise", opts, { filter_time = positive_seconds })
  if not o.filter_time then argerr("Denoise", "field 'filter_time' is required", 2) end
  local ft = nanos(o.filter_time)
  return make("Denoise", o, function(s)
    local n = events_of("Denoise", s, { "x" })
    if n == 0 then return copy(s) end
    local x0 = s.x:astype("int64") - 1
    local y0 = core.is_tensor(s.y) and s.y:astype("int64") - 1 or core.zeros(n, "int64")
    if x0:min():item() < 0 or y0:min():item() < 0 then argerr("Denoise", "ids must be 1-based", 2) end
    return select(s, n, K.denoise(micros(s.t) * 1000, x0, y0, ft))
  end)
end

--- TimeJitter{std, clip_negative = true, sort_timestamps = false, seed}
function M.TimeJitter(opts)
  local o = options("TimeJitter", opts, {
    std = number(0), clip_negative = boolean, sort_timestamps = boolean, seed = integer,
  })
  if not o.std then argerr("TimeJitter", "field 'std' is required", 2) end
  local clip = o.clip_negative ~= false
  local draw = stream(o.seed)
  return make("TimeJitter", o, function(s)
    local n = events_of("TimeJitter", s)
    local seed, base = draw()
    local r = copy(s)
    r.t = s.t:astype("float64") + K.normal(n, seed, base) * o.std
    if clip then r = select(r, n, r.t:ge(0)); n = r.t.shape[1] end
    if o.sort_timestamps then r = select(r, n, K.argsort(r.t)) end
    return r
  end)
end

--- SpatialJitter{sensor_size, var_x = 1, var_y = 1, sigma_xy = 0,
---   clip_outliers = false, seed}: adds 2-d Gaussian noise with covariance
--- [[var_x, sigma_xy], [sigma_xy, var_y]] to the 0-based coordinates,
--- truncated back to the coordinates' dtype (as Tonic's integer fields).
function M.SpatialJitter(opts)
  local o = options("SpatialJitter", opts, {
    sensor_size = sensor, var_x = number(0), var_y = number(0), sigma_xy = number(),
    clip_outliers = boolean, seed = integer,
  })
  if not o.sensor_size then argerr("SpatialJitter", "field 'sensor_size' is required", 2) end
  local vx, vy, sxy = o.var_x or 1, o.var_y or 1, o.sigma_xy or 0
  if sxy * sxy > vx * vy then
    argerr("SpatialJitter", "covariance must be positive semi-definite (sigma_xy^2 <= var_x * var_y)", 2)
  end
  -- Cholesky factor of the covariance: dx = a z1, dy = b z1 + c z2
  local a = math.sqrt(vx)
  local b = a > 0 and sxy / a or 0
  local c = math.sqrt(math.max(vy - b * b, 0))
  local W, H = o.sensor_size[1], o.sensor_size[2] or 1
  local draw = stream(o.seed)
  return make("SpatialJitter", o, function(s)
    local n = events_of("SpatialJitter", s, { "x" })
    local seed, base = draw()
    if n == 0 then return copy(s) end
    local z = K.normal(2 * n, seed, base)
    local z1, z2 = z:slice(1, 1, n), z:slice(1, n + 1, 2 * n)
    local r = copy(s)
    local x0 = as((s.x - 1) + z1 * a, s.x.dtype)
    r.x = x0 + 1
    local keep
    if o.clip_outliers then keep = x0:ge(0):logical_and(x0:lt(W)) end
    if core.is_tensor(s.y) then
      local y0 = as((s.y - 1) + z1 * b + z2 * c, s.y.dtype)
      r.y = y0 + 1
      if keep then keep = keep:logical_and(y0:ge(0)):logical_and(y0:lt(H)) end
    end
    if keep then r = select(r, n, keep) end
    return r
  end)
end

--- DropEvent{p, seed}: deletes round(p * N) events chosen at random
--- (p = {pmin, pmax}: p drawn uniformly from the range for each sample).
function M.DropEvent(opts)
  local o = options("DropEvent", opts, { p = prob_or_range, seed = integer })
  if o.p == nil then argerr("DropEvent", "field 'p' is required", 2) end
  local draw = stream(o.seed)
  return make("DropEvent", o, function(s)
    local n = events_of("DropEvent", s)
    local seed, base = draw()
    local p = o.p
    if type(p) == "table" then p = p[1] + (p[2] - p[1]) * uniform1(seed, base) end
    local k = math.floor(p * n + 0.5)
    if k == 0 then return copy(s) end
    return select(s, n, K.choose(n, k, seed, base and base + 1):logical_not())
  end)
end

--- DropPixel{coordinates = {{x, y}, ...} | hot_pixel_frequency = Hz}: deletes
--- every event of the listed pixels (1-based; {x} or x for 1-d samples), or
--- of the pixels whose event count exceeds hot_pixel_frequency x duration
--- (Tonic's threshold: frequency x (t_last - t_first in microseconds) x 1e-6).
function M.DropPixel(opts)
  local o = options("DropPixel", opts, {
    hot_pixel_frequency = positive,
    coordinates = function(v)
      if type(v) ~= "table" then return "must be a list of {x, y} pairs" end
      for _, c in ipairs(v) do
        if type(c) == "number" then c = { c } end
        if type(c) ~= "table" or #c < 1 or #c > 2 or count(c[1]) or (c[2] ~= nil and count(c[2])) then
          return "must be a list of 1-based {x, y} pairs"
        end
      end
    end,
  })
  if (o.coordinates == nil) == (o.hot_pixel_frequency == nil) then
    argerr("DropPixel", "exactly one of coordinates, hot_pixel_frequency is required", 2)
  end
  return make("DropPixel", o, function(s)
    local n = events_of("DropPixel", s, { "x" })
    if n == 0 then return copy(s) end
    local x = s.x:astype("int64")
    local y = core.is_tensor(s.y) and s.y:astype("int64") or nil
    if x:min():item() < 1 or (y and y:min():item() < 1) then argerr("DropPixel", "ids must be 1-based", 2) end
    local W, H = x:max():item(), y and y:max():item() or 1
    local cell = y and (y - 1) * W + (x - 1) or x - 1
    local hot
    if o.hot_pixel_frequency then
      local u = micros(s.t)
      local limit = o.hot_pixel_frequency * (u[n] - u[1]) * 1e-6
      local counts = K.count(cell, core.tensor({ 0 }, "int64"), core.tensor({ n }, "int64"), W * H)
      hot = counts:reshape(W * H):astype("float64"):gt(limit)
    else
      local cells = {}
      for _, c in ipairs(o.coordinates) do
        if type(c) == "number" then c = { c } end
        local cx, cy = c[1], c[2] or 1
        if cx <= W and cy <= H then cells[#cells + 1] = (cy - 1) * W + (cx - 1) end
      end
      if #cells == 0 then return copy(s) end
      local m = #cells
      hot = K.count(core.tensor(cells, "int64"), core.tensor({ 0 }, "int64"), core.tensor({ m }, "int64"), W * H)
        :reshape(W * H):gt(0)
    end
    return select(s, n, K.take(hot, cell):logical_not())
  end)
end

local function flip_p(p)
  if p.dtype == "bool" then return p:logical_not() end
  return 3 - p
end

--- RandomFlipPolarity{p = 0.5, seed}: with probability p, every polarity
--- swaps (1 <-> 2).
function M.RandomFlipPolarity(opts)
  local o = options("RandomFlipPolarity", opts, { p = number(0, 1), seed = integer })
  local prob = o.p or 0.5
  local draw = stream(o.seed)
  return make("RandomFlipPolarity", o, function(s)
    events_of("RandomFlipPolarity", s, { "p" })
    local seed, base = draw()
    local r = copy(s)
    if uniform1(seed, base) <= prob and prob > 0 then r.p = flip_p(s.p) end
    return r
  end)
end

--- RandomTimeReversal{p = 0.5, flip_polarities = true, seed}: with
--- probability p, t <- max(t) - t (whole microseconds), the events in
--- reverse order, polarities swapped.
function M.RandomTimeReversal(opts)
  local o = options("RandomTimeReversal", opts, { p = number(0, 1), flip_polarities = boolean, seed = integer })
  local prob = o.p or 0.5
  local flip = o.flip_polarities ~= false
  local draw = stream(o.seed)
  return make("RandomTimeReversal", o, function(s)
    local n = events_of("RandomTimeReversal", s)
    local seed, base = draw()
    if not (uniform1(seed, base) < prob) or n == 0 then return copy(s) end
    local r = select(s, n, reverse_index(n))
    local u = micros(r.t)
    r.t = (u:max():item() - u):astype("float64") / 1e6
    if flip and core.is_tensor(r.p) then r.p = flip_p(r.p) end
    return r
  end)
end

--- CropTime{min = 0, max = last t}: keeps events with min <= t <= max
--- (seconds; compared exactly on the microsecond grid).
function M.CropTime(opts)
  local o = options("CropTime", opts, { min = seconds, max = seconds })
  local lo = nanos(o.min or 0)
  local hi = o.max and nanos(o.max)
  return make("CropTime", o, function(s)
    local n = events_of("CropTime", s)
    if n == 0 then return copy(s) end
    local t = micros(s.t) * 1000
    local keep = t:ge(lo)
    if hi then keep = keep:logical_and(t:le(hi)) end
    return select(s, n, keep)
  end)
end

--- Compose{f1, f2, ...}: applies the transforms in order.
function M.Compose(list)
  if type(list) ~= "table" then argerr("Compose", "table expected, got " .. type(list), 2) end
  local fs = {}
  for k, f in pairs(list) do
    if math.type(k) ~= "integer" or k < 1 or k > #list then
      argerr("Compose", ("unknown field '%s'"):format(tostring(k)), 2)
    end
    local mt = getmetatable(f)
    if type(f) ~= "function" and not (mt and mt.__call) then
      argerr("Compose", ("element %d must be a function, got %s"):format(k, type(f)), 2)
    end
  end
  for i = 1, #list do fs[i] = list[i] end
  local fn = function(s)
    for i = 1, #fs do s = fs[i](s) end
    return s
  end
  local parts = {}
  for i, f in ipairs(fs) do parts[i] = serialize(f) end
  descriptions[fn] = "Compose{" .. table.concat(parts, ",") .. "}"
  return fn
end

return M
