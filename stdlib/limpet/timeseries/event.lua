-- stdlib/limpet/timeseries/event.lua -- lp.TSEvent: discrete events on
-- numbered channels (Rockpool's TSEvent), channels 1-based.
-- Owns: construction (times sorted stably, t_start/t_stop/num_channels
-- checks), calling ts(t0, t1[, channels]), indexing ts[i], raster,
-- from_raster, clip, remap_channels, merge, append_c, append_t,
-- concatenate_t, delay, start_at, periodic series, the `inplace` option,
-- print. Not here: the binning kernel (core/src/tseries.c), files (io.lua),
-- plotting (limpet.plot).
--
-- As Rockpool 3: a series with events needs t_stop, after the last event
-- (events lie in [t_start, t_stop)); t_start defaults to the first event
-- time (0 without events), num_channels to the highest channel. A periodic
-- series repeats its events every duration when called, clipped or
-- rasterised beyond [t_start, t_stop).
local core = require "limpet.core"
local U = require "limpet.timeseries.util"
local kernels = core._ts

local TSEvent

local function make(times, channels, s)
  local self = setmetatable({}, TSEvent)
  self.times, self.channels = times, channels
  self.t_start, self.t_stop, self.num_channels = s.t_start, s.t_stop, s.num_channels
  self.name, self.periodic = s.name, s.periodic or false
  return self
end

local function settings(self, over)
  local s = { t_start = self.t_start, t_stop = self.t_stop, num_channels = self.num_channels,
              name = self.name, periodic = self.periodic }
  for k, v in pairs(over or {}) do s[k] = v end
  return s
end

local function ids(x, n, fname, k)
  local c
  if x == nil then c = core.ones({ n }, "int64")
  elseif type(x) == "number" then
    if math.type(x) ~= "integer" and x ~= math.floor(x) then U.argerror(fname, k, "channels must be integers", 3) end
    c = core.full({ n }, math.tointeger(x) or x, "int64")
  elseif core.is_tensor(x) then
    if x.dtype == "float32" or x.dtype == "float64" then
      if x:numel() > 0 and x:ne(x:floor()):sum():item() > 0 then U.argerror(fname, k, "channels must be integers", 3) end
    end
    c = x:astype "int64"
  elseif type(x) == "table" then
    c = #x == 0 and core.ones({ n }, "int64") or core.tensor(x, "int64")
  else
    U.argerror(fname, k, "expected channels as a tensor, table or number, got " .. type(x), 3)
  end
  if c:dim() ~= 1 then U.argerror(fname, k, ("expected 1-d channels, got %d dims"):format(c:dim()), 3) end
  if c.shape[1] ~= n then
    U.argerror(fname, k, ("expected %d channels (one per event), got %d"):format(n, c.shape[1]), 3)
  end
  return c:contiguous()
end

local CTOR_OPTS = { t_start = true, t_stop = true, num_channels = true, name = true, periodic = true }

local function new(times, channels, opts)
  local F = "TSEvent"
  opts = U.opts(opts, CTOR_OPTS, F, 3)
  local t = times == nil and core.zeros({ 0 }, "float64") or U.times(times, F, 1)
  local n = t.shape[1]
  local c = ids(channels, n, F, 2)
  if n > 0 then
    U.finite_times(t, F, 1, "times", 2)
    local order = kernels.argsort(t)
    t, c = t[order + 1]:contiguous(), c[order + 1]:contiguous()
    if c:min():item() < 1 then U.argerror(F, 2, ("channels must be >= 1, got %d"):format(c:min():item()), 2) end
  end
  local first, last = n > 0 and t[1] or nil, n > 0 and t[n] or nil
  local t1 = opts.t_stop ~= nil and U.number(opts.t_stop, F, 3, "t_stop") or nil
  if last then
    if t1 == nil then
      U.argerror(F, 3, ("field 't_stop' is required with events: a time after the last event, %s (Rockpool 3)")
        :format(U.fmt(last)), 2)
    end
    if not (last < t1) then
      U.argerror(F, 3, ("t_stop %s must be after the last event time %s"):format(U.fmt(t1), U.fmt(last)), 2)
    end
  end
  local t0 = opts.t_start ~= nil and U.number(opts.t_start, F, 3, "t_start") or first or 0
  if t1 == nil then t1 = t0 end
  if first and first < t0 then
    U.argerror(F, 3, ("t_start %s is after the first event time %s"):format(U.fmt(t0), U.fmt(first)), 2)
  end
  if t1 < t0 then U.argerror(F, 3, ("t_stop %s is before t_start %s"):format(U.fmt(t1), U.fmt(t0)), 2) end
  local maxc = n > 0 and c:max():item() or 0
  local nc = opts.num_channels
  if nc == nil then nc = maxc
  elseif math.type(nc) ~= "integer" or nc < 0 then
    U.argerror(F, 3, "field 'num_channels' must be a non-negative integer", 2)
  elseif nc < maxc then
    U.argerror(F, 3, ("field 'num_channels' is %d but channel %d occurs"):format(nc, maxc), 2)
  end
  return make(t, c, { t_start = t0, t_stop = t1, num_channels = nc, name = opts.name, periodic = opts.periodic })
end

TSEvent = U.class("TSEvent", new)
local E = TSEvent

local props = {
  duration = function(s) return s.t_stop - s.t_start end,
  num_events = function(s) return s.times.shape[1] end,
}

-- ts[i] (1-based, negative from the end), ts[{i, j, ...}], ts[mask] or
-- ts[int tensor]: a series with those events, in that order (Rockpool's
-- ts[...]); the other attributes are kept.
local function index_events(s, k)
  local n = s.times.shape[1]
  local idx
  if math.type(k) == "integer" then
    local i = k < 0 and n + 1 + k or k
    if i < 1 or i > n then
      error(("bad argument #2 to 'index' (event %d out of range 1..%d)"):format(k, n), 3)
    end
    idx = core.tensor({ i }, "int64")
  elseif type(k) == "table" and not core.is_tensor(k) then
    for _, i in ipairs(k) do
      if math.type(i) ~= "integer" or i == 0 or math.abs(i) > n then
        error(("bad argument #2 to 'index' (event %s out of range 1..%d)"):format(tostring(i), n), 3)
      end
    end
    local l = {}
    for j, i in ipairs(k) do l[j] = i < 0 and n + 1 + i or i end
    idx = core.tensor(l, "int64")
    if #l == 0 then idx = core.zeros({ 0 }, "int64") end
  elseif core.is_tensor(k) then
    if k.dtype ~= "bool" and n == 0 and k:numel() > 0 then
      error(("bad argument #2 to 'index' (event out of range 1..%d)"):format(n), 3)
    end
    local ok, r = pcall(function() return s.times[k], s.channels[k] end)
    if not ok then error(("bad argument #2 to 'index' (%s)"):format(tostring(r):match("%((.*)%)$") or r), 3) end
    local times, chans = s.times[k], s.channels[k]
    return make(times:contiguous(), chans:contiguous(), settings(s))
  else
    return nil
  end
  if idx:numel() == 0 then
    return make(core.zeros({ 0 }, "float64"), core.zeros({ 0 }, "int64"), settings(s))
  end
  return make(s.times[idx]:contiguous(), s.channels[idx]:contiguous(), settings(s))
end

E.__index = function(s, k)
  local p = props[k]
  if p then return p(s) end
  local m = E[k]
  if m ~= nil or type(k) == "string" then return m end
  return index_events(s, k)
end

function E:__len() return self.times.shape[1] end
function E:isempty(...) U.no_more("isempty", 1, ...); return self.times.shape[1] == 0 end
function E:copy(...)
  U.no_more("copy", 1, ...)
  return make(self.times:clone(), self.channels:clone(), settings(self))
end

-- Channel list (number, table or tensor) -> int64 ids, checked against 1..nc.
local function channel_list(ch, nc, fname, k)
  local list = core.is_tensor(ch) and ch:astype("int64"):reshape(-1):totable() or
               (type(ch) == "number" and { ch } or ch)
  if type(list) ~= "table" then U.argerror(fname, k, "field 'channels' must be a channel or a list of them", 3) end
  for _, c in ipairs(list) do
    if math.type(c) ~= "integer" or c < 1 or c > nc then
      U.argerror(fname, k, ("field 'channels': channel %s is not in 1..%d"):format(tostring(c), nc), 3)
    end
  end
  return list
end

-- The events in [t0, t1) on the listed channels, a periodic series'
-- repeated: times (float64) and channels (int64).
local function select_events(self, t0, t1, channels, fname, k)
  local times, chans = self.times, self.channels
  if self.periodic then
    local reps
    times, reps = U.periodic_times(self.times, self.t_start, self.t_stop, t0, t1)
    chans = U.tile(self.channels, reps)
  end
  local m = times:ge(t0):logical_and(times:lt(t1))
  if channels ~= nil then
    local list = channel_list(channels, self.num_channels, fname, k)
    local keep = {}
    for i = 1, self.num_channels do keep[i] = false end
    for _, c in ipairs(list) do keep[c] = true end
    if chans:numel() > 0 and self.num_channels > 0 then
      m = m:logical_and(core.tensor(keep, "bool")[chans])
    elseif chans:numel() > 0 then
      m = m:logical_and(false)
    end
  end
  if times:numel() == 0 then return times, chans end
  return times[m]:contiguous(), chans[m]:contiguous()
end

-- ts([t_start[, t_stop[, channels]]]) -> times, channels: the events in
-- [t_start, t_stop) (bounds in either order), on the listed channels
-- (Rockpool's ts(t0, t1, channels)); a periodic series repeats.
E.__call = function(self, t0, t1, channels)
  local F = "TSEvent"
  t0 = t0 == nil and self.t_start or U.number(t0, F, 1, "t_start")
  t1 = t1 == nil and self.t_stop or U.number(t1, F, 2, "t_stop")
  if t1 < t0 then t0, t1 = t1, t0 end
  return select_events(self, t0, t1, channels, F, 3)
end

local RASTER_OPTS = { t_start = true, t_stop = true, num_timesteps = true, add_events = true, channels = true }
-- ts:raster(dt[, {t_start, t_stop, num_timesteps, add_events, channels}]) ->
-- (T, C): bool, or int32 counts with add_events. Bins [t, t + dt) from
-- t_start; T = num_timesteps or ceil((t_stop − t_start)/dt) (tolerant to
-- rounding; give one of t_stop and num_timesteps); events at or after the
-- end are left out; a periodic series repeats its events over the whole
-- raster. channels: a list of channel ids giving the columns, in that order.
function E:raster(dt, opts)
  local F = "raster"
  if type(dt) ~= "number" or not (dt > 0) then U.argerror(F, 1, "dt must be a positive number", 2) end
  opts = U.opts(opts, RASTER_OPTS, F, 2)
  local t0 = opts.t_start == nil and self.t_start or U.number(opts.t_start, F, 2, "t_start")
  local T, t1
  if opts.num_timesteps ~= nil then
    if opts.t_stop ~= nil then U.argerror(F, 2, "give field 't_stop' or field 'num_timesteps', not both", 2) end
    T = opts.num_timesteps
    if math.type(T) ~= "integer" or T < 0 then U.argerror(F, 2, "field 'num_timesteps' must be a non-negative integer", 2) end
    t1 = t0 + T * dt
  else
    t1 = opts.t_stop == nil and self.t_stop or U.number(opts.t_stop, F, 2, "t_stop")
    if t1 < t0 then U.argerror(F, 2, ("t_stop %s is before t_start %s"):format(U.fmt(t1), U.fmt(t0)), 2) end
    T = U.nsteps(t1 - t0, dt)
  end
  local times, chans = self.times, self.channels
  if self.periodic then
    local reps
    times, reps = U.periodic_times(self.times, self.t_start, self.t_stop, t0, t1)
    chans = U.tile(self.channels, reps)
  end
  chans = chans - 1
  if times.shape[1] > 0 then            -- before t_stop only (the kernel drops bins past T)
    local m = times:lt(t1)
    if opts.num_timesteps == nil and not m:all():item() then times, chans = times[m], chans[m] end
  end
  local nc = self.num_channels
  if opts.channels ~= nil then
    local list = core.is_tensor(opts.channels) and opts.channels:totable() or opts.channels
    if type(list) ~= "table" then U.argerror(F, 2, "field 'channels' must be a list of channel ids", 2) end
    local map = {}
    for i = 1, nc do map[i] = 0 end
    for i, ch in ipairs(list) do
      if math.type(ch) ~= "integer" or ch < 1 or ch > nc then
        U.argerror(F, 2, ("field 'channels': channel %s is not in 1..%d"):format(tostring(ch), nc), 2)
      end
      map[ch] = i
    end
    if nc > 0 and chans:numel() > 0 then
      chans = core.tensor(map, "int64")[chans + 1] - 1     -- -1: dropped
    end
    nc = #list
  end
  return kernels.raster(times, chans, t0, dt, T, nc, opts.add_events and true or false)
end

local FR_OPTS = { t_start = true, t_stop = true, num_channels = true, spikes_at_bin_start = true,
                  name = true, periodic = true }
-- TSEvent.from_raster(raster (T, C), dt[, {t_start = 0, t_stop, num_channels,
-- spikes_at_bin_start = false, name, periodic}]): one event per unit of
-- each entry (counts repeat), at the bin's middle (or start); t_stop
-- defaults to t_start + T·dt, num_channels to C.
function E.from_raster(raster, dt, opts)
  local F = "from_raster"
  if not core.is_tensor(raster) then
    if type(raster) ~= "table" then U.argerror(F, 1, "expected a raster tensor (T, C), got " .. type(raster), 2) end
    raster = core.tensor(raster)
  end
  if raster:dim() == 1 then raster = raster:reshape(raster.shape[1], 1) end
  if raster:dim() ~= 2 then U.argerror(F, 1, ("expected a raster (T, C), got %d dims"):format(raster:dim()), 2) end
  dt = dt == nil and 1e-3 or dt
  if type(dt) ~= "number" or not (dt > 0) then U.argerror(F, 2, "dt must be a positive number", 2) end
  opts = U.opts(opts, FR_OPTS, F, 3)
  local T, Cn = raster.shape[1], raster.shape[2]
  local t0 = opts.t_start == nil and 0 or U.number(opts.t_start, F, 3, "t_start")
  local r = raster.dtype == "bool" and raster:astype "int64" or raster
  if r.dtype == "float32" or r.dtype == "float64" then
    if r:numel() > 0 and r:ne(r:floor()):sum():item() > 0 then U.argerror(F, 1, "raster entries must be whole counts", 2) end
    r = r:astype "int64"
  end
  local flat = r:reshape(-1)
  if flat:numel() > 0 and flat:min():item() < 0 then U.argerror(F, 1, "raster entries must be >= 0", 2) end
  local mask = flat:gt(0)
  local pos = core.arange(0, T * Cn, "float64")[mask]
  local counts = flat[mask]
  local row = (pos / Cn):floor()
  local ch = (pos - row * Cn):astype("int64") + 1
  local half = opts.spikes_at_bin_start and 0 or 0.5
  local times = (row + half) * dt + t0
  if counts:numel() > 0 and counts:max():item() > 1 then
    local tt, cc, ct = times:totable(), ch:totable(), counts:totable()
    local t2, c2 = {}, {}
    for i = 1, #ct do
      for _ = 1, ct[i] do t2[#t2 + 1] = tt[i]; c2[#c2 + 1] = cc[i] end
    end
    times, ch = core.tensor(t2, "float64"), core.tensor(c2, "int64")
  end
  local nc = opts.num_channels or Cn
  return new(times, ch, { t_start = t0, t_stop = opts.t_stop == nil and t0 + T * dt or opts.t_stop,
                          num_channels = nc, name = opts.name, periodic = opts.periodic })
end

local CLIP_OPTS = { channels = true, remap_channels = true, inplace = true }
-- ts:clip([t_start[, t_stop[, {channels, remap_channels = false, inplace}]]]):
-- the events in [t_start, t_stop) on the listed channels (a periodic series
-- repeated over the range). remap_channels (as Rockpool) numbers the
-- channels that remain 1..k in ascending order, and num_channels becomes
-- the number of distinct listed channels (or of remaining channels when
-- none are listed).
function E:clip(t0, t1, opts)
  local F = "clip"
  local inplace
  opts, inplace = U.inplace_opts(opts, CLIP_OPTS, F, 3)
  local nt0 = t0 == nil and self.t_start or U.number(t0, F, 1, "t_start")
  local nt1 = t1 == nil and self.t_stop or U.number(t1, F, 2, "t_stop")
  if nt1 < nt0 then nt0, nt1 = nt1, nt0 end
  local times, chans = select_events(self, nt0, nt1, opts.channels, F, 3)
  local nc = self.num_channels
  if opts.remap_channels then
    local present, order = {}, {}
    for _, c in ipairs(chans:totable()) do if not present[c] then present[c] = true; order[#order + 1] = c end end
    table.sort(order)
    local new_id = {}
    for i, c in ipairs(order) do new_id[c] = i end
    if chans:numel() > 0 then
      local map = {}
      for i = 1, self.num_channels do map[i] = new_id[i] or 0 end
      chans = core.tensor(map, "int64")[chans]:contiguous()
    end
    if opts.channels ~= nil then
      local distinct, seen = 0, {}
      for _, c in ipairs(channel_list(opts.channels, self.num_channels, F, 3)) do
        if not seen[c] then seen[c] = true; distinct = distinct + 1 end
      end
      nc = distinct
    else
      nc = #order
    end
  end
  return U.result(self, make(times, chans, settings(self, {
    t_start = t0 == nil and self.t_start or nt0, t_stop = t1 == nil and self.t_stop or nt1, num_channels = nc })), inplace)
end

-- ts:remap_channels(map[, {num_channels, inplace}]): channel c becomes map[c]
-- (a list or tensor covering 1..num_channels).
function E:remap_channels(map, opts)
  local F = "remap_channels"
  local inplace
  opts, inplace = U.inplace_opts(opts, { num_channels = true, inplace = true }, F, 2)
  local m
  if core.is_tensor(map) then m = map:astype "int64"
  elseif type(map) == "table" then
    if #map == 0 then m = core.zeros({ 0 }, "int64")
    else
      local ok, r = pcall(core.tensor, map, "int64")
      if not ok then U.argerror(F, 1, "expected a flat list of channel ids", 2) end
      m = r
    end
  else
    U.argerror(F, 1, "expected a list or tensor", 2)
  end
  if m:dim() ~= 1 or m.shape[1] < self.num_channels then
    U.argerror(F, 1, ("expected a map of at least %d channels, got %d"):format(self.num_channels, m:numel()), 2)
  end
  if m:numel() > 0 and m:min():item() < 1 then U.argerror(F, 1, "new channels must be >= 1", 2) end
  local chans = self.channels:numel() > 0 and m[self.channels]:contiguous() or self.channels:clone()
  local nc = opts.num_channels or (m:numel() > 0 and m:max():item() or 0)
  return U.result(self, new(self.times:clone(), chans, { t_start = self.t_start, t_stop = self.t_stop,
    num_channels = nc, name = self.name, periodic = self.periodic }), inplace)
end

local function as_list(x, fname) return U.series_list(x, TSEvent, fname) end

-- Events of self and list (each delayed by delays[i]) in time order
-- (stable); shift_channels: each series' channels after the previous ones'.
local function join(self, list, delays, shift_channels, remove_duplicates)
  local ts, cs = { self.times }, { self.channels }
  local t0, t1, nc = self.t_start, self.t_stop, self.num_channels
  for i, o in ipairs(list) do
    local d = delays and delays[i] or 0
    ts[#ts + 1] = o.times + d
    if shift_channels then
      cs[#cs + 1] = o.channels + nc
      nc = nc + o.num_channels
    else
      cs[#cs + 1] = o.channels
      nc = math.max(nc, o.num_channels)
    end
    t0, t1 = math.min(t0, o.t_start + d), math.max(t1, o.t_stop + d)
  end
  local times, chans = core.cat(ts, 1), core.cat(cs, 1)
  if times:numel() > 0 then
    local order = kernels.argsort(times) + 1
    times, chans = times[order], chans[order]
  end
  if remove_duplicates and times:numel() > 1 then
    local tt, cc, keep, seen, any = times:totable(), chans:totable(), {}, {}, false
    for i = 1, #tt do
      local key = ("%.17g|%d"):format(tt[i], cc[i])
      keep[i] = not seen[key]; seen[key] = true
      any = any or not keep[i]
    end
    if any then
      local m = core.tensor(keep, "bool")
      times, chans = times[m], chans[m]
    end
  end
  return make(times:contiguous(), chans:contiguous(), settings(self, { t_start = t0, t_stop = t1, num_channels = nc }))
end

local MERGE_OPTS = { delay = true, remove_duplicates = true, inplace = true }
-- ts:merge(other or {others...}[, {delay = 0, remove_duplicates = false,
-- inplace}]): all events on shared channels, in time order; others are
-- delayed first (delay: one number, or one per series).
function E:merge(other, opts)
  local F = "merge"
  local inplace
  opts, inplace = U.inplace_opts(opts, MERGE_OPTS, F, 2)
  local list = as_list(other, F)
  local delays = U.per_series(opts.delay, #list, 0, F, 2, "delay")
  return U.result(self, join(self, list, delays, false, opts.remove_duplicates), inplace)
end

-- ts:append_c(other or {others...}[, {inplace}]): other's channels numbered
-- after self's.
function E:append_c(other, opts)
  local F = "append_c"
  local inplace
  opts, inplace = U.inplace_opts(opts, nil, F, 2)
  return U.result(self, join(self, as_list(other, F), nil, true, false), inplace)
end

local AT_OPTS = { offset = true, remove_duplicates = true, inplace = true }
-- ts:append_t(other or {others...}[, {offset = 0, remove_duplicates, inplace}]):
-- each series delayed to start at the previous one's t_stop + offset
-- (offset: one number, or one per series).
function E:append_t(other, opts)
  local F = "append_t"
  local inplace
  opts, inplace = U.inplace_opts(opts, AT_OPTS, F, 2)
  local list = as_list(other, F)
  local offsets = U.per_series(opts.offset, #list, 0, F, 2, "offset")
  local delays, stop = {}, self.t_stop
  for i, o in ipairs(list) do
    delays[i] = stop + offsets[i] - o.t_start
    stop = o.t_stop + delays[i]
  end
  return U.result(self, join(self, list, delays, false, opts.remove_duplicates), inplace)
end

U.shared_methods(TSEvent, { make = make, settings = settings, new = new, data = "channels", noun = "events",
  header = "time\tchannel",
  row = function(self, i) return ("%s:\t%d"):format(U.fmt(self.times[i]), self.channels[i]) end,
  empty = function(first)
    return make(core.zeros({ 0 }, "float64"), core.zeros({ 0 }, "int64"),
                settings(first, { t_stop = first.t_start, num_channels = 0 }))
  end })

-- ts:plot(path[, opts]): a spike raster (lp.plot.raster).
function E:plot(path, opts) return require("limpet.plot")._plot_method("raster", "plot", self, path, opts) end

E._make, E._settings = make, settings
return E
