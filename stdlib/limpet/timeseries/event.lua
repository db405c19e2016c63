-- stdlib/limpet/timeseries/event.lua -- lp.TSEvent: discrete events on
-- numbered channels (Rockpool's TSEvent), channels 1-based.
-- Owns: construction (times sorted stably, t_start/t_stop/num_channels
-- defaults and checks), raster, from_raster, clip, remap_channels, merge,
-- append_c, append_t, delay, start_at. Not here: the binning kernel
-- (core/src/tseries.c), plotting (limpet.plot).
--
-- Defaults (as Rockpool): t_start = the first event time (0 without
-- events), t_stop = just after the last event (the next double), so the
-- last event lies inside [t_start, t_stop); num_channels = the highest
-- channel. Events must lie in [t_start, t_stop].
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
    c = core.tensor(x, "int64")
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
  local t0 = opts.t_start ~= nil and U.number(opts.t_start, F, 3, "t_start") or first or 0
  local t1 = opts.t_stop ~= nil and U.number(opts.t_stop, F, 3, "t_stop") or (last and U.nextup(last)) or t0
  if t1 < t0 then U.argerror(F, 3, ("t_stop %s is before t_start %s"):format(U.fmt(t1), U.fmt(t0)), 2) end
  if first and first < t0 then
    U.argerror(F, 3, ("t_start %s is after the first event time %s"):format(U.fmt(t0), U.fmt(first)), 2)
  end
  if last and last > t1 then
    U.argerror(F, 3, ("t_stop %s is before the last event time %s"):format(U.fmt(t1), U.fmt(last)), 2)
  end
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
E.__index = function(s, k)
  local p = props[k]
  if p then return p(s) end
  return E[k]
end

function E:__len() return self.times.shape[1] end
function E:isempty() return self.times.shape[1] == 0 end
function E:copy() return make(self.times:clone(), self.channels:clone(), settings(self)) end

function E:__tostring()
  return ("%sTSEvent%s from t=%s to %s: %d events, %d channel%s"):format(
    self.periodic and "periodic " or "", self.name and (" '" .. self.name .. "'") or "",
    U.fmt(self.t_start), U.fmt(self.t_stop), self.times.shape[1], self.num_channels,
    self.num_channels == 1 and "" or "s")
end

local RASTER_OPTS = { t_start = true, t_stop = true, num_timesteps = true, add_events = true, channels = true }
-- ts:raster(dt[, {t_start, t_stop, num_timesteps, add_events, channels}]) ->
-- (T, C): bool, or int32 counts with add_events. Bins [t, t + dt) from
-- t_start; T = num_timesteps or ceil((t_stop − t_start)/dt) (tolerant to
-- rounding); events at or after t_stop are left out. channels: a list of
-- channel ids giving the raster's columns, in that order.
function E:raster(dt, opts)
  local F = "raster"
  if type(dt) ~= "number" or not (dt > 0) then U.argerror(F, 1, "dt must be a positive number", 2) end
  opts = U.opts(opts, RASTER_OPTS, F, 2)
  local t0 = opts.t_start == nil and self.t_start or U.number(opts.t_start, F, 2, "t_start")
  local T, t1
  if opts.num_timesteps ~= nil then
    T = opts.num_timesteps
    if math.type(T) ~= "integer" or T < 0 then U.argerror(F, 2, "field 'num_timesteps' must be a non-negative integer", 2) end
    t1 = opts.t_stop
    if t1 ~= nil then U.number(t1, F, 2, "t_stop") end
  else
    t1 = opts.t_stop == nil and self.t_stop or U.number(opts.t_stop, F, 2, "t_stop")
    if t1 < t0 then U.argerror(F, 2, ("t_stop %s is before t_start %s"):format(U.fmt(t1), U.fmt(t0)), 2) end
    T = U.nsteps(t1 - t0, dt)
  end
  local times, chans = self.times, self.channels - 1
  if t1 ~= nil and times.shape[1] > 0 and times[times.shape[1]] >= t1 then
    local m = times:lt(t1)
    times, chans = times[m], chans[m]
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
      local m = core.tensor(map, "int64")[chans + 1] - 1     -- -1: dropped
      chans = m
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
-- defaults to t_start + T·dt.
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

local CLIP_OPTS = { channels = true, remap_channels = true }
-- ts:clip(t_start, t_stop[, {channels, remap_channels = false}]): the events in
-- [t_start, t_stop) (and on the listed channels; remap_channels renumbers
-- them 1..#channels in list order).
function E:clip(t0, t1, opts)
  local F = "clip"
  opts = U.opts(opts, CLIP_OPTS, F, 3)
  t0 = t0 == nil and self.t_start or U.number(t0, F, 1, "t_start")
  t1 = t1 == nil and self.t_stop or U.number(t1, F, 2, "t_stop")
  if t1 < t0 then U.argerror(F, 2, ("t_stop %s is before t_start %s"):format(U.fmt(t1), U.fmt(t0)), 2) end
  local m = self.times:ge(t0):logical_and(self.times:lt(t1))
  local times, chans = self.times[m], self.channels[m]
  local nc = self.num_channels
  if opts.channels ~= nil then
    local list = core.is_tensor(opts.channels) and opts.channels:totable() or
                 (type(opts.channels) == "number" and { opts.channels } or opts.channels)
    local map = {}
    for i = 1, nc do map[i] = 0 end
    for i, ch in ipairs(list) do
      if math.type(ch) ~= "integer" or ch < 1 or ch > nc then
        U.argerror(F, 3, ("field 'channels': channel %s is not in 1..%d"):format(tostring(ch), nc), 2)
      end
      map[ch] = opts.remap_channels and i or ch
    end
    if chans:numel() > 0 then
      local mapped = core.tensor(map, "int64")[chans]
      local keep = mapped:gt(0)
      times, chans = times[keep], mapped[keep]
    end
    if opts.remap_channels then nc = #list end
  end
  return make(times:contiguous(), chans:contiguous(), settings(self, { t_start = t0, t_stop = t1, num_channels = nc }))
end

-- ts:remap_channels(map[, {num_channels}]): channel c becomes map[c] (a list
-- or tensor covering 1..num_channels).
function E:remap_channels(map, opts)
  local F = "remap_channels"
  opts = U.opts(opts, { num_channels = true }, F, 2)
  local m
  if core.is_tensor(map) then m = map:astype "int64"
  elseif type(map) == "table" then
    local ok, r = pcall(core.tensor, map, "int64")
    if not ok then U.argerror(F, 1, "expected a flat list of channel ids", 2) end
    m = r
  else
    U.argerror(F, 1, "expected a list or tensor", 2)
  end
  if m:dim() ~= 1 or m.shape[1] < self.num_channels then
    U.argerror(F, 1, ("expected a map of at least %d channels, got %d"):format(self.num_channels, m:numel()), 2)
  end
  if m:numel() > 0 and m:min():item() < 1 then U.argerror(F, 1, "new channels must be >= 1", 2) end
  local chans = self.channels:numel() > 0 and m[self.channels]:contiguous() or self.channels:clone()
  local nc = opts.num_channels or (m:numel() > 0 and m:max():item() or 0)
  return new(self.times:clone(), chans, { t_start = self.t_start, t_stop = self.t_stop, num_channels = nc,
                                          name = self.name, periodic = self.periodic })
end

local function join(self, list, fname, shift_channels)
  local ts, cs = { self.times }, { self.channels }
  local t0, t1, nc = self.t_start, self.t_stop, self.num_channels
  for i, o in ipairs(list) do
    if getmetatable(o) ~= TSEvent then U.argerror(fname, 1, ("item %d is not a TSEvent"):format(i), 3) end
    ts[#ts + 1] = o.times
    if shift_channels then
      cs[#cs + 1] = o.channels + nc
      nc = nc + o.num_channels
    else
      cs[#cs + 1] = o.channels
      nc = math.max(nc, o.num_channels)
    end
    t0, t1 = math.min(t0, o.t_start), math.max(t1, o.t_stop)
  end
  local times, chans = core.cat(ts, 1), core.cat(cs, 1)
  local order = kernels.argsort(times) + 1
  return make(times[order]:contiguous(), chans[order]:contiguous(),
              settings(self, { t_start = t0, t_stop = t1, num_channels = nc }))
end

local function as_list(x, fname)
  if getmetatable(x) == TSEvent then return { x } end
  if type(x) ~= "table" then U.argerror(fname, 1, "expected a TSEvent or a list of them", 3) end
  return x
end

-- ts:merge(other or {others...}): all events on shared channels, in time order.
function E:merge(other) return join(self, as_list(other, "merge"), "merge", false) end
-- ts:append_c(other or {others...}): other's channels numbered after self's.
function E:append_c(other) return join(self, as_list(other, "append_c"), "append_c", true) end

-- ts:append_t(other or {others...}[, {offset = 0}]): other delayed to start at
-- self.t_stop + offset.
function E:append_t(other, opts)
  local F = "append_t"
  opts = U.opts(opts, { offset = true }, F, 2)
  local offset = opts.offset or 0
  local r = self
  for i, o in ipairs(as_list(other, F)) do
    if getmetatable(o) ~= TSEvent then U.argerror(F, 1, ("item %d is not a TSEvent"):format(i), 2) end
    local shift = r.t_stop + offset - o.t_start
    r = make(core.cat({ r.times, o.times + shift }, 1):contiguous(), core.cat({ r.channels, o.channels }, 1):contiguous(),
             settings(r, { t_stop = o.t_stop + shift, num_channels = math.max(r.num_channels, o.num_channels) }))
  end
  return r
end

function E:delay(offset)
  if type(offset) ~= "number" then U.argerror("delay", 1, "expected a number, got " .. type(offset), 2) end
  return make(self.times + offset, self.channels:clone(),
              settings(self, { t_start = self.t_start + offset, t_stop = self.t_stop + offset }))
end
function E:start_at(t)
  if type(t) ~= "number" then U.argerror("start_at", 1, "expected a number, got " .. type(t), 2) end
  return self:delay(t - self.t_start)
end
function E:start_at_zero() return self:delay(-self.t_start) end

-- ts:plot(path[, opts]): a spike raster (lp.plot.raster).
function E:plot(path, opts) return require("limpet.plot").raster(self, path, opts) end

return E
