-- stdlib/limpet/nn/timed.lua -- nn.TimedModule: the high-level API taking
-- and returning time series (Rockpool's TimedModuleWrapper, `mod:timed{}`).
-- Owns: the wrapper's global clock (an integer count of dt steps; t = that
-- count times dt), turning an input series into a (1, T, N) tensor on the
-- dt grid from the current time (TSEvent: rasterised, bool or counts with
-- add_events; TSContinuous: sampled), running the wrapped module, and
-- turning its output and record back into series that start at the old t
-- (spiking output: TSEvent; otherwise TSContinuous). reset_time,
-- reset_all. Not here: the series themselves (limpet/timeseries), the
-- dynamics (the wrapped module).
--   local tmod = mod:timed{dt = 1e-3, output_num = 1, add_events = false}
--   local out_ts, state, rec = tmod(input_ts[, record | {record =, duration =, num_timesteps =}])
-- The window simulated runs from tmod.t for num_timesteps steps, or for
-- `duration` seconds, or up to the input's t_stop; without input, zeros.
local lp = require "limpet"
local class = require "limpet.class"
-- lp.nn's Module (not a fresh require of nn/module.lua), so that the wrapped
-- module and the wrapper share one base class even where package.loaded
-- was reset in between (busted's insulation does that).
local Module = lp.nn.Module
local U = require "limpet.nn.util"

local TimedModule = Module:extend("TimedModule")

local SPIKING = { LIF = true, LIFBitshift = true, LIFNeuron = true, aLIF = true }

-- Does `mod` emit spikes? Its own `spiking_output` when it says; a
-- sequence answers as its last member; the LIF family spikes.
local function spiking(mod)
  local s = mod.spiking_output
  if type(s) == "boolean" then return s end
  local subs = mod:modules()
  if #subs > 0 then return spiking(subs[#subs]) end
  return SPIKING[getmetatable(mod).__name] == true
end

-- The module's own dt, or the first its sub-modules have.
local function module_dt(mod)
  local d = mod.dt
  if type(d) == "number" and d > 0 then return d end
  if lp.is_tensor(d) and d:numel() == 1 then return d:item() end
  for _, m in ipairs(mod:modules()) do
    local x = module_dt(m)
    if x then return x end
  end
  return nil
end

local function name_of(x)
  if type(x) == "table" then
    local mt = getmetatable(x)
    if mt and mt.__name then return mt.__name end
  end
  return lp.is_tensor(x) and "tensor" or type(x)
end

local function is_series(x, kind)
  local mt = type(x) == "table" and getmetatable(x)
  return mt and mt.__name == kind
end

--- nn.TimedModule(mod, {dt =, output_num = 1, add_events = false}), also
--- mod:timed{...}. dt defaults to the module's (or its first sub-module's)
--- dt, else 1e-3.
function TimedModule:init(mod, opts)
  if not class.is_a(mod, Module) then
    U.argerror("timed", 1, "module expected, got " .. name_of(mod), 4)
  end
  local o = U.options("timed", 1, opts, { dt = U.NONE, output_num = 1, add_events = false }, 4)
  local dt = o.dt
  if dt == nil then dt = module_dt(mod) or 1e-3 end
  if type(dt) ~= "number" or not (dt > 0) or dt == math.huge then
    U.argerror("timed", 1, "field 'dt' must be a positive number", 4)
  end
  if math.type(o.output_num) ~= "integer" or o.output_num < 1 then
    U.argerror("timed", 1, "field 'output_num' must be an integer >= 1", 4)
  end
  if type(o.add_events) ~= "boolean" then
    U.argerror("timed", 1, "field 'add_events' must be a boolean", 4)
  end
  Module.init(self, mod.shape)
  self:submodule("module", mod)
  rawset(self, "dt", dt)
  rawset(self, "output_num", o.output_num)
  rawset(self, "add_events", o.add_events)
  rawset(self, "spiking_output", spiking(mod))
  rawset(self, "_step", 0)
  rawset(self, "t", 0.0)
end

--- tmod:reset_time(): the clock back to 0; returns tmod.
function TimedModule:reset_time()
  rawset(self, "_step", 0)
  rawset(self, "t", 0.0)
  return self
end

--- tmod:reset_all(): reset_time and reset_state; returns tmod.
function TimedModule:reset_all()
  self:reset_time()
  return self:reset_state()
end

local EVOLVE_OPTS = { record = false, duration = U.NONE, num_timesteps = U.NONE }

-- The number of steps from self.t to t_stop (tolerant to float rounding).
local function steps_to(self, t_stop)
  local n = (t_stop - self.t) / self.dt
  local r = math.floor(n + 0.5)
  if math.abs(n - r) <= 1e-9 * math.max(1, math.abs(n)) then return math.tointeger(r) end
  return math.tointeger(math.ceil(n))
end

-- input series -> (1, T, N) float32 on the grid from self.t
local function clocked_input(self, ts, T)
  local N = self.size_in
  local x
  if is_series(ts, "TSEvent") then
    local C = ts.num_channels
    if N and C > N then
      U.argerror("evolve", 1, ("%s expects %d input channels, got a TSEvent with %d")
        :format(self.module.full_name, N, C), 4)
    end
    x = ts:raster(self.dt, { t_start = self.t, num_timesteps = T, add_events = self.add_events })
    x = x:astype("float32")
    if N and C < N then                 -- channels without events at the top: zeros
      x = lp.cat({ x, lp.zeros({ T, N - C }, "float32") }, 2)
    end
  else
    local C = ts.num_channels
    if N and C ~= N then
      U.argerror("evolve", 1, ("%s expects %d input channels, got a TSContinuous with %d")
        :format(self.module.full_name, N, C), 4)
    end
    x = ts:to_clocked(self.dt, { t_start = self.t, num_timesteps = T })
    if x.dtype ~= "float32" then x = x:astype("float32") end
  end
  return x:reshape(1, T, -1)
end

-- (1, T, ...) tensor -> a series from t0 (spikes: TSEvent)
local function as_series(x, spikes, dt, t0, name)
  if not lp.is_tensor(x) or x:dim() < 2 then return x end
  if x:dim() >= 3 then
    if x.shape[1] ~= 1 then return x end
    x = x[1]
  end
  if x:dim() > 2 then x = x:reshape(x.shape[1], -1) end
  x = x:detach()
  if spikes then
    return lp.TSEvent.from_raster(x, dt, { t_start = t0, num_channels = x.shape[2], name = name })
  end
  if x.dtype ~= "float32" and x.dtype ~= "float64" then x = x:astype("float32") end
  return lp.TSContinuous.from_clocked(x:contiguous(), { dt = dt, t_start = t0, name = name })
end

-- a record (nested tables of (1, T, ...) tensors) -> the same tree of series;
-- `spikes` keys and the "<member>_output" entries of spiking members are events.
local function record_series(rec, mod, dt, t0)
  local out = {}
  for k, v in pairs(rec) do
    if lp.is_tensor(v) then
      local spikes = k == "spikes"
      local member = type(k) == "string" and k:match("^(.*)_output$")
      if member and mod._mods[member] then spikes = spiking(mod._mods[member]) end
      out[k] = as_series(v, spikes, dt, t0, type(k) == "string" and k or nil)
    elseif type(v) == "table" then
      local sub = type(k) == "string" and mod._mods[k] or mod
      out[k] = record_series(v, sub, dt, t0)
    else
      out[k] = v
    end
  end
  return out
end

--- tmod:evolve(ts[, record | {record =, duration =, num_timesteps =}]) ->
--- output series, new state, record (a tree of series when asked, else {}).
--- The series start at the old tmod.t, which then advances by T·dt.
function TimedModule:evolve(ts, opts)
  if type(opts) == "boolean" then opts = { record = opts } end
  local o = U.options("evolve", 2, opts, EVOLVE_OPTS, 3)
  if type(o.record) ~= "boolean" then U.argerror("evolve", 2, "field 'record' must be a boolean", 3) end
  if ts ~= nil and not is_series(ts, "TSEvent") and not is_series(ts, "TSContinuous") then
    U.argerror("evolve", 1, "expected a TSEvent or TSContinuous, got " .. name_of(ts), 3)
  end
  local T
  if o.num_timesteps ~= nil then
    T = o.num_timesteps
    if math.type(T) ~= "integer" or T < 0 then
      U.argerror("evolve", 2, "field 'num_timesteps' must be an integer >= 0", 3)
    end
  elseif o.duration ~= nil then
    if type(o.duration) ~= "number" or not (o.duration >= 0) or o.duration == math.huge then
      U.argerror("evolve", 2, "field 'duration' must be a number >= 0", 3)
    end
    T = steps_to(self, self.t + o.duration)
  elseif ts ~= nil then
    if ts.t_stop <= self.t then
      U.argerror("evolve", 1, ("the input ends at t = %.6g, not after the module's time t = %.6g (use reset_time or give duration)")
        :format(ts.t_stop, self.t), 3)
    end
    T = steps_to(self, ts.t_stop)
  else
    U.argerror("evolve", 2, "without an input series, 'duration' or 'num_timesteps' is required", 3)
  end
  local x
  if ts ~= nil then
    x = clocked_input(self, ts, T)
  else
    if not self.size_in then
      U.argerror("evolve", 1, ("without an input series, %s needs a shape to make zeros")
        :format(self.module.full_name), 3)
    end
    x = lp.zeros({ 1, T, self.size_in }, "float32")
  end
  local t0 = self.t
  local out, state, rec = self.module(x, o.record)
  if type(out) == "table" and not lp.is_tensor(out) then
    local picked = out[self.output_num]
    if picked == nil then
      U.argerror("evolve", 1, ("%s returned %d outputs; output_num = %d")
        :format(self.module.full_name, #out, self.output_num), 3)
    end
    out = picked
  elseif self.output_num ~= 1 then
    U.argerror("evolve", 1, ("%s returns one output; output_num = %d")
      :format(self.module.full_name, self.output_num), 3)
  end
  rawset(self, "_step", self._step + T)
  rawset(self, "t", self._step * self.dt)
  local ts_out = as_series(out, self.spiking_output, self.dt, t0)
  local ts_rec = {}
  if o.record and type(rec) == "table" then ts_rec = record_series(rec, self.module, self.dt, t0) end
  return ts_out, state, ts_rec
end

return TimedModule
