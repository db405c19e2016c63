-- stdlib/limpet/timeseries/io.lua -- time series in files: Rockpool's .npz
-- layout (to_dict, save, load_ts_from_file, TSContinuous.load,
-- TSEvent.load) and TSDictOnDisk (a table whose time series live in
-- temporary files).
-- Owns: the layout, both ways. Not here: the classes (continuous.lua,
-- event.lua), the .npz format (lp.save / lp.load, core/src/npz.c).
--
-- Layout (Rockpool 3's to_dict, so either program reads the other's files):
--   times, samples (TSContinuous) / channels (TSEvent, 0-based in the file),
--   t_start, t_stop (0-d float64), periodic (0-d bool), num_channels (0-d
--   int64, TSEvent), and empty arrays whose names carry strings:
--   type_TSContinuous | type_TSEvent, name_<name> ("unnamed" for none),
--   interp_kind_<kind> (TSContinuous). Older files hold str_type / strType,
--   name and interp_kind as string arrays; those load too.
local core = require "limpet.core"
local U = require "limpet.timeseries.util"

local M = {}

local function class_of(ts)
  local mt = getmetatable(ts)
  return mt and rawget(mt, "__name")
end

local INT_MAX = { int8 = 127, int16 = 32767, int32 = 2147483647, int64 = math.maxinteger, uint8 = 255 }
local FLOAT_RES = { float32 = 1e-6, float64 = 1e-15 }

--- to_dict(ts[, {dtype_times, dtype_samples | dtype_channels}]) -> {name = tensor}
function M.to_dict(ts, opts, fname)
  local kind = class_of(ts)
  local event = kind == "TSEvent"
  local allowed = event and { dtype_times = true, dtype_channels = true } or { dtype_times = true, dtype_samples = true }
  opts = U.opts(opts, allowed, fname, 2)
  local times, t0, t1 = ts.times, ts.t_start, ts.t_stop
  if opts.dtype_times ~= nil then
    local ok, cast = pcall(function() return times:astype(opts.dtype_times) end)
    if not ok then U.argerror(fname, 2, ("field 'dtype_times': unknown dtype '%s'"):format(tostring(opts.dtype_times)), 3) end
    times = cast
    if times:numel() > 0 then       -- cast times may round past the limits: widen them
      local back = times:astype "float64"
      t0 = math.min(t0, back:min():item())
      local hi = back:max():item()
      if event then t1 = math.max(t1, hi + (FLOAT_RES[opts.dtype_times] or 1)) else t1 = math.max(t1, hi) end
    end
  end
  local d = {
    times = times,
    t_start = core.tensor(t0, "float64"),
    t_stop = core.tensor(t1, "float64"),
    periodic = core.tensor(ts.periodic == true, "bool"),
    ["name_" .. (ts.name or "unnamed")] = core.zeros({ 0 }, "float64"),
    ["type_" .. kind] = core.zeros({ 0 }, "float64"),
  }
  if event then
    local ch = ts.channels - 1
    if opts.dtype_channels ~= nil then
      local max = INT_MAX[opts.dtype_channels]
      if not max then
        U.argerror(fname, 2, ("field 'dtype_channels' must be an integer dtype, got '%s'"):format(tostring(opts.dtype_channels)), 3)
      end
      if max < ts.num_channels then
        U.argerror(fname, 2, ("field 'dtype_channels': %s cannot hold the %d channels of this series")
          :format(opts.dtype_channels, ts.num_channels), 3)
      end
      ch = ch:astype(opts.dtype_channels)
    end
    d.channels = ch
    d.num_channels = core.tensor(ts.num_channels, "int64")
  else
    local x = ts.samples
    if opts.dtype_samples ~= nil then
      local ok, cast = pcall(function() return x:astype(opts.dtype_samples) end)
      if not ok then U.argerror(fname, 2, ("field 'dtype_samples': unknown dtype '%s'"):format(tostring(opts.dtype_samples)), 3) end
      x = cast
    end
    d.samples = x
    d["interp_kind_" .. ts.interp_kind] = core.zeros({ 0 }, "float64")
  end
  return d
end

--- save(ts, path[, opts]) -> true | nil, msg: numpy.savez's file (".npz"
--- appended to a path without it, as numpy does).
function M.save(ts, path, opts, fname)
  if type(path) ~= "string" then U.argerror(fname, 1, "expected a path, got " .. type(path), 2) end
  if path == "" or path:sub(-1) == "/" then U.argerror(fname, 1, "expected a file name, got '" .. path .. "'", 2) end
  if not path:lower():match("%.npz$") then path = path .. ".npz" end
  return core.save(path, M.to_dict(ts, opts, fname), { compress = false })
end

-- The string after `prefix` in the name of an (empty) entry, if any.
local function keyed(d, prefix)
  for k in pairs(d) do
    if type(k) == "string" and k:sub(1, #prefix) == prefix then return k:sub(#prefix + 1) end
  end
  return nil
end

local function scalar(v)
  if core.is_tensor(v) then return v:numel() == 1 and v:reshape(-1)[1] or nil end
  return v
end

local function as_string(v)
  if type(v) == "string" then return v end
  if type(v) == "table" and type(v[1]) == "string" and #v == 1 then return v[1] end
  return nil
end

--- load(path[, expected_type, fname]) -> TSContinuous | TSEvent | nil, msg
function M.load(path, expected, fname)
  fname = fname or "load_ts_from_file"
  if type(path) ~= "string" then U.argerror(fname, 1, "expected a path, got " .. type(path), 3) end
  if expected ~= nil and expected ~= "TSContinuous" and expected ~= "TSEvent" then
    U.argerror(fname, 2, ("expected type must be 'TSContinuous' or 'TSEvent', got '%s'"):format(tostring(expected)), 3)
  end
  local okl, d, err = pcall(core.load, path)
  if not okl then     -- content or a name core.load refuses: its message, in fname's name
    local msg = tostring(d):gsub("^.-bad argument #%d+ to '[^']*' %((.*)%)$", "%1"):gsub("^load: ", "")
    error(("%s: %s"):format(fname, msg), 3)
  end
  if not d then return nil, err end
  if core.is_tensor(d) then error(("%s: '%s' holds one array, not a time series"):format(fname, path), 3) end
  local kind = as_string(d.str_type) or as_string(d.strType) or keyed(d, "type_")
  if not kind then
    if not expected then error(("%s: cannot tell the type of the time series in '%s'"):format(fname, path), 3) end
    U.warn(("%s: no type in '%s'; reading it as a %s"):format(fname, path, expected))
    kind = expected
  end
  if expected and kind ~= expected then
    error(("%s: '%s' holds a %s, not a %s"):format(fname, path, kind, expected), 3)
  end
  local name = as_string(d.name) or keyed(d, "name_")
  if name == "unnamed" then name = nil end
  local function need(key)
    if d[key] == nil then error(("%s: '%s' has no '%s'"):format(fname, path, key), 4) end
    return d[key]
  end
  local periodic = scalar(d.periodic)
  local common = { t_start = scalar(need "t_start"), t_stop = scalar(need "t_stop"),
                   periodic = periodic == true or periodic == 1, name = name }
  -- the constructor checks the content; its complaint names the file here
  -- ("bad argument #k to 'TSEvent' (why)" -> "<fname>: '<path>': TSEvent: why")
  local function build(cls, ...)
    local ok, ts = pcall(require("limpet.timeseries." .. (cls == "TSEvent" and "event" or "continuous")), ...)
    if ok then return ts end
    local msg = tostring(ts):gsub("^[^\n]-:%d+: ", "")
    msg = msg:match("^bad argument #%d+ to '[^']*' %((.*)%)$") or msg
    error(("%s: '%s': %s: %s"):format(fname, path, cls, msg), 4)
  end
  local ts
  if kind == "TSContinuous" then
    common.interp_kind = as_string(d.interp_kind) or keyed(d, "interp_kind_") or "linear"
    ts = build(kind, need "times", need "samples", common)
  elseif kind == "TSEvent" then
    local ch = need "channels"
    if not core.is_tensor(ch) then error(("%s: '%s': channels must be an array"):format(fname, path), 3) end
    if ch:numel() > 0 and (ch.dtype == "float32" or ch.dtype == "float64") then
      local cf = ch:astype("float64"):reshape(-1)
      local bad = cf:ne(cf:floor()):logical_or(cf:isfinite():logical_not())
      if bad:any():item() then
        local i = bad:astype("int64"):argmax():item()
        error(("%s: '%s': channel %s at position %d is not a whole number"):format(fname, path,
          tostring(cf[i]), i), 3)
      end
    end
    if ch:numel() > 0 and ch:min():item() < 0 then
      local i = ch:reshape(-1):argmin():item()
      error(("%s: '%s': channel %s at position %d is negative (channels are 0-based in the file)"):format(fname,
        path, tostring(ch:reshape(-1)[i]), i), 3)
    end
    common.num_channels = math.tointeger(scalar(d.num_channels))
    ts = build(kind, need "times", ch:astype("int64") + 1, common)
  else
    error(("%s: '%s' holds a '%s', not a time series"):format(fname, path, kind), 3)
  end
  if d.trial_start_times ~= nil then ts.trial_start_times = d.trial_start_times end
  return ts
end

-- ---- TSDictOnDisk --------------------------------------------------------

local D = {}
local STATE = {}                 -- the private key of a TSDictOnDisk's state
local function is_series(v)
  local n = type(v) == "table" and class_of(v)
  return n == "TSContinuous" or n == "TSEvent"
end

local function dod_set(self, key, value)
  local r = rawget(self, STATE)
  if r.files[key] then os.remove(r.files[key]); r.files[key] = nil end
  r.values[key] = nil
  if is_series(value) then
    local tmp = os.tmpname()
    os.remove(tmp)
    local path = tmp .. ".npz"
    local ok, err = M.save(value, path, nil, "TSDictOnDisk")
    if not ok then error(("TSDictOnDisk: cannot store '%s': %s"):format(tostring(key), tostring(err)), 3) end
    r.files[key] = path
  else
    r.values[key] = value
  end
  if value ~= nil and not r.order_seen[key] then r.order_seen[key] = true; r.order[#r.order + 1] = key end
end

local function dod_get(self, key)
  local r = rawget(self, STATE)
  if r.files[key] then return assert(M.load(r.files[key], nil, "TSDictOnDisk")) end
  return r.values[key]
end

--- d:get(key), d:set(key, value): also for keys that are method names.
function D:get(key) return dod_get(self, key) end
function D:set(key, value) dod_set(self, key, value) end

--- d:keys() -> the keys, in the order they were first set.
function D:keys()
  local r, out = rawget(self, STATE), {}
  for _, k in ipairs(r.order) do if r.files[k] or r.values[k] ~= nil then out[#out + 1] = k end end
  return out
end

--- d:insert(other): other's entries (a table or a TSDictOnDisk) replace d's;
--- a TSDictOnDisk's files are shared, a table's series stay in memory.
function D:insert(other)
  local r = rawget(self, STATE)
  if getmetatable(other) == D then
    local o = rawget(other, STATE)
    for _, k in ipairs(other:keys()) do
      dod_set(self, k, nil)
      if o.files[k] then
        local tmp = os.tmpname()
        os.remove(tmp)
        local path = tmp .. ".npz"
        local inp, outp = assert(io.open(o.files[k], "rb")), assert(io.open(path, "wb"))
        outp:write(inp:read("a")); inp:close(); outp:close()
        r.files[k] = path
      else
        r.values[k] = o.values[k]
      end
      if not r.order_seen[k] then r.order_seen[k] = true; r.order[#r.order + 1] = k end
    end
  elseif type(other) == "table" then
    for k, v in pairs(other) do
      dod_set(self, k, nil)
      r.values[k] = v
      if not r.order_seen[k] then r.order_seen[k] = true; r.order[#r.order + 1] = k end
    end
  else
    U.argerror("insert", 1, "expected a table or a TSDictOnDisk, got " .. type(other), 2)
  end
end

--- d:close(): remove the temporary files now (also done when d is collected).
function D:close()
  local r = rawget(self, STATE)
  for k, path in pairs(r.files) do os.remove(path); r.files[k] = nil end
end

D.__name = "TSDictOnDisk"
D.__index = function(self, k)
  local m = D[k]
  if m ~= nil then return m end
  return dod_get(self, k)
end
D.__newindex = function(self, k, v) dod_set(self, k, v) end
D.__pairs = function(self)
  local keys, i = self:keys(), 0
  return function()
    i = i + 1
    local k = keys[i]
    if k ~= nil then return k, dod_get(self, k) end
  end, self, nil
end
D.__len = function(self) return #self:keys() end
D.__gc = function(self) D.close(self) end
D.__close = D.__gc
D.__tostring = function(self) return ("TSDictOnDisk: %d entries"):format(#self:keys()) end

--- TSDictOnDisk([table or TSDictOnDisk]): a table that keeps the time
--- series it holds in temporary .npz files (read back on each access); other
--- values stay in memory. d[k] = v, d[k], pairs(d), #d, d:keys(), d:insert(t).
M.TSDictOnDisk = setmetatable({}, {
  __name = "TSDictOnDisk",
  __call = function(_, data)
    local self = setmetatable({ [STATE] = { files = {}, values = {}, order = {}, order_seen = {} } }, D)
    if data ~= nil then
      if getmetatable(data) == D then self:insert(data)
      elseif type(data) == "table" then
        for k, v in pairs(data) do dod_set(self, k, v) end
      else
        U.argerror("TSDictOnDisk", 1, "expected a table or a TSDictOnDisk, got " .. type(data), 2)
      end
    end
    return self
  end,
})

return M
