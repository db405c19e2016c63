-- stdlib/limpet/nn/timed.lua -- the high-level API on time series
-- (Rockpool's timed_module.py): nn.TimedModule, the base class of modules
-- that take and return time series, and nn.TimedModuleWrapper (also
-- `mod:timed{}`), which wraps any module.
-- Owns: the global clock (an integer count of dt steps; t = that count
-- times dt), how many steps a call runs (num_timesteps, else duration, else
-- to the input's t_stop from t, or one full period of a periodic input, as
-- Rockpool), turning an input series into a (T, N) raster on the dt grid
-- from t (TSEvent: rasterised, bool or counts with add_events, missing top
-- channels zero; TSContinuous: sampled, a one-channel series broadcast over
-- the module's channels), turning output and records back into series that
-- start at the old t (spiking output: TSEvent; otherwise TSContinuous),
-- reset_time, reset_all. The wrapper is transparent: parameters, state,
-- set_attributes, reset_* and train/eval are the wrapped module's, so the
-- state a call returns is the wrapped module's and either accepts it; the
-- wrapped module keeps its name.
-- Not here: the series themselves (limpet/timeseries), the dynamics (the
-- wrapped module).
--   local tmod = mod:timed{dt = 1e-3, output_num = 1, add_events = false}
--   local out_ts, state, rec = tmod(input_ts[, record | {record =, duration =, num_timesteps =}])
--   tmod{duration = 0.5}                  -- no input: zeros
-- Subclassing (Rockpool's TimedModule):
--   local My = nn.TimedModule:extend("My")
--   function My:init(N, opts) nn.TimedModule.init(self, N, {dt = opts.dt}) ... end
--   function My:evolve(ts, opts)
--     local time_base, x, T = self:_prepare_input(ts, opts)    -- x: (T, N)
--     ...
--     return self:_gen_timeseries(y), self:state(), {}
--   end
-- Calling an instance runs evolve and then advances the clock by T steps.
local lp = require "limpet"
local class = require "limpet.class"
-- lp.nn's Module (not a fresh require of nn/module.lua), so that the wrapped
-- module and the wrapper share one base class even where package.loaded
-- was reset in between (busted's insulation does that).
local Module = lp.nn.Module
local U = require "limpet.nn.util"
local V = require "limpet.nn.validate"

local TimedModule = Module:extend("TimedModule")

-- Does `mod` emit spikes? Its spiking_output (nn/module.lua: the LIF
-- family spikes, a chain answers as its last member).
local function spiking(mod)
  return mod.spiking_output == true
end

-- The dts of mod and its sub-modules, in order, without repeats.
local function module_dts(mod, out)
  out = out or {}
  local d = mod.dt
  if lp.is_tensor(d) and d:numel() == 1 then d = d:item() end
  if type(d) == "number" and d > 0 then
    local seen = false
    for _, x in ipairs(out) do if math.abs(x - d) <= 1e-12 * math.max(x, d) then seen = true end end
    if not seen then out[#out + 1] = d end
  end
  for _, m in ipairs(mod:modules()) do module_dts(m, out) end
  return out
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

local function check_dt(fname, argno, dt, level)
  if type(dt) ~= "number" or not (dt > 0) or dt == math.huge then
    U.argerror(fname, argno, "field 'dt' must be a positive number", level + 1)
  end
end

--- nn.TimedModule(shape, {dt =, spiking_input = false, spiking_output = false,
--- add_events = false}): the base class (see the header).
function TimedModule:init(shape, opts)
  local split
  shape, opts, split = U.split_shape("TimedModule", shape, opts, 3)
  if split then rawset(self, "_args", table.pack(shape, opts)) end
  local o = U.options("TimedModule", 2, opts, { dt = U.NONE, spiking_input = false, spiking_output = false,
                                                add_events = false }, 3)
  check_dt("TimedModule", 2, o.dt, 3)
  Module.init(self, shape)
  rawset(self, "dt", o.dt)
  rawset(self, "spiking_input", o.spiking_input and true or false)
  rawset(self, "spiking_output", o.spiking_output and true or false)
  rawset(self, "add_events", o.add_events and true or false)
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

function TimedModule:_advance(T)
  rawset(self, "_step", self._step + T)
  rawset(self, "t", self._step * self.dt)
end

local EVOLVE_OPTS = { record = false, duration = U.NONE, num_timesteps = U.NONE }

-- (ts, opts) of a call: opts may be a boolean (record); a plain table as
-- the only argument is the options (tmod{duration = 1}).
local function call_args(fname, ts, opts, level)
  if opts == nil and type(ts) == "table" and getmetatable(ts) == nil then ts, opts = nil, ts end
  if type(opts) == "boolean" then opts = { record = opts } end
  local o = U.options(fname, 2, opts, EVOLVE_OPTS, level + 1)
  if type(o.record) ~= "boolean" then U.argerror(fname, 2, "field 'record' must be a boolean", level + 1) end
  if ts ~= nil and not is_series(ts, "TSEvent") and not is_series(ts, "TSContinuous") then
    U.argerror(fname, 1, "expected a TSEvent or TSContinuous, got " .. name_of(ts), level + 1)
  end
  return ts, o
end

-- floor(x / dt) tolerant to float rounding (0.003 / 1e-3 is 3 steps)
local function steps_in(x, dt)
  local n = x / dt
  local r = math.floor(n + 0.5)
  if math.abs(n - r) <= 1e-9 * math.max(1, math.abs(n)) then return math.tointeger(r) end
  return math.tointeger(math.floor(n))
end

--- tmod:_determine_timesteps(ts, opts) -> T: num_timesteps, else duration,
--- else one period of a periodic ts, else from t to ts.t_stop (Rockpool).
function TimedModule:_determine_timesteps(ts, o, level)
  level = (level or 1) + 1
  if o.num_timesteps ~= nil then
    local T = o.num_timesteps
    if math.type(T) ~= "integer" or T < 0 then
      U.argerror("evolve", 2, "field 'num_timesteps' must be an integer >= 0", level)
    end
    return T
  end
  if o.duration ~= nil then
    if type(o.duration) ~= "number" or not (o.duration >= 0) or o.duration == math.huge then
      U.argerror("evolve", 2, "field 'duration' must be a number >= 0", level)
    end
    return steps_in(o.duration, self.dt)
  end
  if ts == nil then
    U.argerror("evolve", 2, "without an input series, 'duration' or 'num_timesteps' is required", level)
  end
  if ts.periodic then return steps_in(ts.t_stop - ts.t_start, self.dt) end
  if ts.t_stop <= self.t then
    U.argerror("evolve", 1, ("the input ends at t = %.6g, not after the module's time t = %.6g (use reset_time or give duration)")
      :format(ts.t_stop, self.t), level)
  end
  return steps_in(ts.t_stop - self.t, self.dt)
end

--- tmod:_prepare_input(ts, opts) -> time_base (T float64 times from t),
--- input (T, N) float32, T. Without ts: zeros (the module needs a shape).
function TimedModule:_prepare_input(ts, opts, level)
  level = (level or 1) + 1
  local o = U.options("evolve", 2, opts, EVOLVE_OPTS, level)
  local T = self:_determine_timesteps(ts, o, level)
  local who = self._wrapped_name and self:_wrapped_name() or self.full_name
  local N = self.size_in
  local time_base = lp.arange(0, T, "float64") * self.dt + self.t
  local x
  if ts == nil then
    if not N then
      U.argerror("evolve", 1, ("without an input series, %s needs a shape to make zeros"):format(who), level)
    end
    return time_base, lp.zeros({ T, N }, "float32"), T
  end
  local C = ts.num_channels
  if is_series(ts, "TSEvent") then
    if N and C > N then
      U.argerror("evolve", 1, ("%s expects %d input channels, got a TSEvent with %d"):format(who, N, C), level)
    end
    x = ts:raster(self.dt, { t_start = self.t, num_timesteps = T, add_events = self.add_events })
    x = x:astype("float32")
    if N and C < N then                 -- channels without events at the top: zeros
      x = lp.cat({ x, lp.zeros({ T, N - C }, "float32") }, 2)
    end
  else
    if N and C ~= N and C ~= 1 then
      U.argerror("evolve", 1, ("%s expects %d input channels, got a TSContinuous with %d"):format(who, N, C), level)
    end
    x = ts:to_clocked(self.dt, { t_start = self.t, num_timesteps = T })
    if x.dtype ~= "float32" then x = x:astype("float32") end
    if N and C == 1 and N > 1 then x = x:expand({ T, N }):contiguous() end   -- one channel feeds all
  end
  return time_base, x, T
end

-- (1, T, ...) or (T, ...) tensor -> a series from t0 (spikes: TSEvent)
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

--- tmod:_gen_timeseries(output[, {spiking =, name =}]) -> the output (T, N)
--- or (1, T, N) as a series from the current t (TSEvent when spiking).
function TimedModule:_gen_timeseries(out, opts)
  opts = U.options("_gen_timeseries", 2, opts, { spiking = U.NONE, name = U.NONE }, 2)
  local sp = opts.spiking
  if sp == nil then sp = self.spiking_output end
  return as_series(out, sp, self.dt, self.t, opts.name)
end

-- Calling a timed module: evolve, then the clock advances by T steps.
function TimedModule:__call(ts, opts, ...)
  if Module._chained(opts, select("#", ...) + 2, (...)) then opts = nil end   -- tm2(tm1(ts))
  ts, opts = call_args("evolve", ts, opts, 2)
  if not self._checks_in_evolve then V.check_forward(self, 2) end
  local T = self:_determine_timesteps(ts, opts, 2)
  local o = { record = opts.record, duration = opts.duration, num_timesteps = T }
  local out, state, rec = self:evolve(ts, o)
  self:_advance(T)
  return out, state, rec
end

-- TimedModuleWrapper ------------------------------------------------------------

local TimedModuleWrapper = TimedModule:extend("TimedModuleWrapper")

--- nn.TimedModuleWrapper(mod, {dt =, output_num = 1, add_events = false}),
--- also mod:timed{...}. dt is the module's (its sub-modules' common) dt;
--- give it only for a module without one (default 1e-3). output_num picks
--- one of several outputs (1-based).
-- A module, or an object with the module face (evolve, state, shape:
-- XyloSim).
local function module_like(mod)
  if class.is_a(mod, Module) then return true end
  return type(mod) == "table" and type(mod.evolve) == "function" and type(mod.state) == "function"
    and type(mod.set_attributes) == "function"
end

-- via: "timed" when mod:timed{...} made it (the options are then argument
-- #1 of 'timed'), else errors name TimedModuleWrapper with the options #2.
function TimedModuleWrapper:init(mod, opts, via)
  local F = via == "timed" and "timed" or "TimedModuleWrapper"
  local optn = F == "timed" and 1 or 2
  if not module_like(mod) then
    U.argerror(F, 1, "module expected, got " .. name_of(mod), 4)
  end
  local o = U.options(F, optn, opts, { dt = U.NONE, output_num = 1, add_events = false }, 4)
  -- the module's dt is the clock: one dt for the whole module, and a dt
  -- given here only for a module that has none (Rockpool ignores it then,
  -- with a warning; rasterising on another dt than the module steps on
  -- would be a silent error)
  local dts = module_dts(mod)
  if #dts > 1 then
    local list = {}
    for i, d in ipairs(dts) do list[i] = ("%g"):format(d) end
    U.argerror(F, optn, ("the module's sub-modules have different dt (%s); give them one dt")
      :format(table.concat(list, ", ")), 4)
  end
  local dt = o.dt
  if dt ~= nil then check_dt(F, optn, dt, 4) end
  if dt ~= nil and dts[1] and math.abs(dt - dts[1]) > 1e-12 * math.max(math.abs(dt), dts[1]) then
    U.argerror(F, optn, ("field 'dt' = %g differs from the module's dt = %g (the module steps on its own dt)")
      :format(dt, dts[1]), 4)
  end
  if dt == nil then dt = dts[1] or 1e-3 end
  check_dt(F, optn, dt, 4)
  if math.type(o.output_num) ~= "integer" or o.output_num < 1 then
    U.argerror(F, optn, "field 'output_num' must be an integer >= 1", 4)
  end
  if type(o.add_events) ~= "boolean" then
    U.argerror(F, optn, "field 'add_events' must be a boolean", 4)
  end
  TimedModule.init(self, mod.shape or { 1 }, { dt = dt, add_events = o.add_events,
                                              spiking_input = mod.spiking_input, spiking_output = spiking(mod) })
  if not mod.shape then Module.init(self, nil) end
  rawset(self, "module", mod)             -- not a sub-module: mod keeps its name
  rawset(self, "output_num", o.output_num)
end

function TimedModuleWrapper:_wrapped_name() return self.module.full_name end

-- Transparent: the wrapped module's attributes are the wrapper's.
function TimedModuleWrapper:_collect(kind, family)
  local m = self.module
  if m._collect then return m:_collect(kind, family) end
  if kind == "state" then return m:state() end
  if kind == "parameter" and m.parameters then return m:parameters(family) end
  return {}
end
function TimedModuleWrapper:set_attributes(tbl)
  self.module:set_attributes(tbl)
  return self
end
function TimedModuleWrapper:reset_state() self.module:reset_state(); return self end
function TimedModuleWrapper:reset_parameters()
  if self.module.reset_parameters then self.module:reset_parameters() end
  return self
end
function TimedModuleWrapper:train(mode)
  if self.module.train then
    self.module:train(mode)
    rawset(self, "training", self.module.training)
  end
  return self
end
function TimedModuleWrapper:count_parameters()
  return self.module.count_parameters and self.module:count_parameters() or 0
end
function TimedModuleWrapper:modules() return { self.module } end
function TimedModuleWrapper:as_graph() return self.module:as_graph() end

function TimedModuleWrapper:__tostring()
  local head = ("TimedModuleWrapper with shape %s, dt = %g, t = %g {")
    :format(self.shape and U.fmt_shape(self.shape) or "()", self.dt, self.t)
  local inner = tostring(self.module):gsub("\n", "\n    ")
  return head .. "\n    " .. inner .. "\n}"
end

-- a record (nested tables of (1, T, ...) tensors) -> the same tree of series;
-- `spikes` keys and the "<member>_output" entries of spiking members are events.
local function record_series(rec, mod, dt, t0)
  local out = {}
  for k, v in pairs(rec) do
    if lp.is_tensor(v) then
      local spikes = k == "spikes"
      local member = type(k) == "string" and k:match("^(.*)_output$")
      local mods = rawget(mod, "_mods") or {}
      if member and mods[member] then spikes = spiking(mods[member]) end
      out[k] = as_series(v, spikes, dt, t0, type(k) == "string" and k or nil)
    elseif type(v) == "table" then
      local sub = type(k) == "string" and (rawget(mod, "_mods") or {})[k] or mod
      out[k] = record_series(v, sub, dt, t0)
    else
      out[k] = v
    end
  end
  return out
end

--- tmod:evolve(ts[, record | {record =, duration =, num_timesteps =}]) ->
--- output series, the wrapped module's new state, record (a tree of
--- series when asked, else {}). The series start at the old tmod.t, which
--- then advances by T·dt.
function TimedModuleWrapper:evolve(ts, opts, ...)
  if Module._chained(opts, select("#", ...) + 2, (...)) then opts = nil end   -- tm2(tm1(ts))
  ts, opts = call_args("evolve", ts, opts, 2)
  local _, x, T = self:_prepare_input(ts, opts, 2)
  x = x:reshape(1, T, -1)
  local mod = self.module
  local t0 = self.t
  local out, state, rec = mod(x, opts.record)
  if type(out) == "table" and not lp.is_tensor(out) then
    local picked = out[self.output_num]
    if picked == nil then
      U.argerror("evolve", 1, ("%s returned %d outputs; output_num = %d")
        :format(mod.full_name, #out, self.output_num), 2)
    end
    out = picked
  elseif self.output_num ~= 1 then
    U.argerror("evolve", 1, ("%s returns one output; output_num = %d")
      :format(mod.full_name, self.output_num), 2)
  end
  self:_advance(T)
  local ts_out = as_series(out, self.spiking_output, self.dt, t0)
  local ts_rec = {}
  if opts.record and type(rec) == "table" then ts_rec = record_series(rec, mod, self.dt, t0) end
  return ts_out, state, ts_rec
end
TimedModuleWrapper.__call = TimedModuleWrapper.evolve

return { TimedModule = TimedModule, TimedModuleWrapper = TimedModuleWrapper }
