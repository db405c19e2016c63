-- stdlib/limpet/nn/module.lua -- nn.Module, the base of every module
-- (Rockpool's Module API).
-- Owns: attribute registration by kind (parameter / state / simulation
-- parameter) and family, sub-module registration, the nested views
-- parameters() / state() / simulation_parameters(), set_attributes,
-- reset_state / reset_parameters, train / eval, auto-batching of (T, N)
-- input (a one-channel input is broadcast over size_in channels, as
-- Rockpool), the printed tree, and `extend` for subclasses.
-- Not here: the dynamics (each module's file), saving (serialize.lua), the
-- valid ranges of parameters (validate.lua: checked at construction, on
-- every assignment and set_attributes, and on every forward call).
-- Functional use (Jax style): inside lp.autograd.value_and_grad, a tensor
-- the function was handed that is assigned to an attribute (set_attributes,
-- `mod.x = p.x`) is bound as it is, so the graph is built from it; the
-- module gets its own tensors back when value_and_grad returns.
-- Storage: an instance keeps its attributes in `_values` (name -> value) and
-- metadata in `_attrs`; sub-modules in `_mods` with their order in
-- `_mod_order`. `mod.x` reads them, `mod.x = v` goes through the same
-- conversion and checks as set_attributes. Parameters are leaf tensors with
-- requires_grad set; assigning a plain value to one copies it in place so
-- optimisers holding the tensor keep seeing it.
local lp = require "limpet"
local class = require "limpet.class"
local P = require "limpet.nn.parameters"
local U = require "limpet.nn.util"
local V = require "limpet.nn.validate"
local autograd = require "limpet.autograd"

local Module = class.Object:extend("Module")

-- computed read-only properties
local props = {}
function props.name(self) return rawget(self, "_name") end
function props.full_name(self)
  local n = rawget(self, "_name")
  local cls = getmetatable(self).__name
  if n then return ("%s '%s'"):format(cls, n) end
  return cls
end
function props.class_name(self) return getmetatable(self).__name end
-- Rockpool's spiking_input / spiking_output: the module (a constructor option,
-- rawset as _spiking_input / _spiking_output) or its class says, else a chain
-- answers as its first / last member.
function props.spiking_input(self)
  local v = rawget(self, "_spiking_input")
  if v == nil then v = getmetatable(self)._spiking_input end
  if v ~= nil then return v end
  local first = rawget(self, "_mod_order")[1]
  return first ~= nil and rawget(self, "_mods")[first].spiking_input or false
end
function props.spiking_output(self)
  local v = rawget(self, "_spiking_output")
  if v == nil then v = getmetatable(self)._spiking_output end
  if v ~= nil then return v end
  local order = rawget(self, "_mod_order")
  local last = order[#order]
  return last ~= nil and rawget(self, "_mods")[last].spiking_output or false
end

local function make_index(C)
  return function(t, k)
    local vals = rawget(t, "_values")
    if vals then
      local v = vals[k]
      if v ~= nil then return v end
      local m = rawget(t, "_mods")[k]
      if m ~= nil then return m end
    end
    local p = props[k]
    if p then return p(t) end
    return C[k]
  end
end
Module.__index = make_index(Module)

--- Module:extend(name): a subclass; its instances are modules.
function Module:extend(name)
  local C = class.Object.extend(self, name)
  C.__index = make_index(C)
  return C
end

--- Calling a class builds an instance: the bookkeeping first, then init(...).
function Module:new(...)
  local obj = setmetatable({}, self)
  rawset(obj, "_attrs", {})
  rawset(obj, "_order", {})
  rawset(obj, "_values", {})
  rawset(obj, "_mods", {})
  rawset(obj, "_mod_order", {})
  rawset(obj, "training", true)
  obj:init(...)
  -- a constructor that rewrote its arguments (options found inside the
  -- shape table) stored the normalised ones already
  if rawget(obj, "_args") == nil then rawset(obj, "_args", table.pack(...)) end
  V.check(obj, false, 3)
  return obj
end

local function norm_shape(shape, fname)
  if shape == nil then return nil end
  if type(shape) == "number" then shape = { shape } end
  if type(shape) ~= "table" or lp.is_tensor(shape) or #shape == 0 then
    U.argerror(fname, 1, "shape must be a positive integer or a table of them", 4)
  end
  local out = {}
  for i, n in ipairs(shape) do
    if math.type(n) ~= "integer" and not (type(n) == "number" and n == math.floor(n)) or n < 1 then
      U.argerror(fname, 1, "shape must be a positive integer or a table of them", 4)
    end
    out[i] = math.tointeger(n)
  end
  return out
end

--- Module:init(shape): the base constructor; subclasses call it
-- (`Module.init(self, shape)` or `self:set_shape(shape)`).
function Module:init(shape) self:set_shape(shape) end

--- mod:set_shape(shape): shape = N or {Nin, Nout} (or longer, as Rockpool).
function Module:set_shape(shape)
  local s = norm_shape(shape, getmetatable(self).__name)
  rawset(self, "shape", s)
  rawset(self, "size_in", s and s[1])
  rawset(self, "size_out", s and s[#s])
  return self
end

-- registration ----------------------------------------------------------------

local function fail(self, msg, level)
  U.argerror(getmetatable(self).__name, 2, msg, level + 1)
end

local function convert(self, meta, name, v, level)
  if meta.kind == "simulation" and not lp.is_tensor(v) and not meta.shape and type(v) ~= "table" then
    return v
  end
  local t, msg = U.to_tensor(v, meta.shape)
  if not t then fail(self, ("%s: %s"):format(name, msg), level + 1) end
  return t
end

-- Register (or re-register) attribute `name` of `kind` from a value or a
-- descriptor's fields. Returns the stored value.
function Module:_register(kind, name, value, opts, level)
  level = (level or 1) + 1
  if type(name) ~= "string" then fail(self, "attribute name must be a string", level) end
  if type(Module[name]) == "function" or props[name] or name:sub(1, 1) == "_" then
    fail(self, ("'%s' cannot be an attribute name"):format(name), level)
  end
  opts = opts or {}
  local v, const = P.unconstant(value)
  if const and kind == "parameter" then kind = "simulation" end
  local shape = opts.shape
  if type(shape) == "number" then shape = { shape } end
  -- a list of permitted shapes (Rockpool's shape=[(N,), ()]): the first is
  -- made by init; a value takes the first it fits, as it is or reshaped
  local shapes
  if type(shape) == "table" and (type(shape[1]) == "table" or (#shape > 1 and type(shape[#shape]) == "table")) then
    shapes = {}
    for i, sh in ipairs(shape) do shapes[i] = type(sh) == "number" and { sh } or sh end
    shape = shapes[1]
  end
  if v == nil then
    if not opts.init then fail(self, ("%s: a value or an init function is required"):format(name), level) end
    v = opts.init(shape)
  end
  if shapes and not P.is_constant(v) then
    local t = U.to_tensor(v)
    if t then
      local pick
      for _, sh in ipairs(shapes) do if U.same_shape(t.shape, sh) then pick = sh break end end
      if not pick then
        for _, sh in ipairs(shapes) do if U.numel(sh) == t:numel() then pick = sh break end end
      end
      if not pick then
        local names = {}
        for i, sh in ipairs(shapes) do names[i] = U.fmt_shape(sh) end
        fail(self, ("%s: expected one of the shapes %s, got %s"):format(name, table.concat(names, ", "),
          U.fmt_shape(t.shape)), level)
      end
      shape = pick
    end
  end
  local meta = { kind = kind, family = opts.family, init = opts.init, shape = shape,
                 persistent = kind == "state" and opts.persistent == true or nil }
  v = convert(self, meta, name, v, level)
  if kind == "simulation" and not lp.is_tensor(v) and opts.range == nil and opts.family == nil then
    meta.range = false                  -- plain settings (dt, names, counts): their module checks them
  else
    meta.range = V.range_for(kind, opts.family, opts.range)
  end
  if lp.is_tensor(v) then
    meta.shape = v.shape
    if not opts.init then
      local snap = v:clone()
      meta.init = function() return snap:clone() end
    end
    if kind == "parameter" then
      v:requires_grad(true)
      if opts.constraint then P.set_constraint(v, opts.constraint) end
    end
  elseif not opts.init then
    meta.init = function() return v end
  end
  if self._mods[name] then fail(self, ("'%s' is already a sub-module"):format(name), level) end
  if not self._attrs[name] then table.insert(self._order, name) end
  self._attrs[name] = meta
  self._values[name] = v
  return v
end

--- self:parameter(name, value, {family =, init =, shape =, constraint =}) -> the tensor
-- constraint: {space = "log" | "logit", lower =, upper =}, how optimisers
-- step it (nn/parameters.lua).
function Module:parameter(name, value, opts) return self:_register("parameter", name, value, opts, 2) end
--- self:state(name, value, opts) declares a state; self:state() reads all.
-- opts.persistent = true: reset_state leaves it alone (a statistic learnt
-- across batches, e.g. BatchNorm's running mean, not a per-sequence state).
function Module:state(name, value, opts)
  if name == nil or type(name) == "table" and not lp.is_tensor(name) then
    return self:_collect("state", name)
  end
  return self:_register("state", name, value, opts, 2)
end
--- self:simulation_parameter(name, value, opts); without arguments reads all.
function Module:simulation_parameter(name, value, opts)
  return self:_register("simulation", name, value, opts, 2)
end

--- self:submodule(name, mod) registers a sub-module (as `self[name] = mod`).
function Module:submodule(name, mod)
  if not class.is_a(mod, Module) then
    U.argerror("submodule", 2, "module expected, got " .. (lp.is_tensor(mod) and "tensor" or type(mod)), 2)
  end
  if self._attrs[name] then U.argerror("submodule", 1, ("'%s' is already an attribute"):format(name), 2) end
  if not self._mods[name] then table.insert(self._mod_order, name) end
  self._mods[name] = mod
  rawset(mod, "_name", name)
  return mod
end

-- Assign to a registered attribute: the same shape, inside its range;
-- parameters keep their tensor (copied in place) unless handed a tensor
-- computed from others, or a tensor of a running value_and_grad (bound, and
-- given back when it returns). Returns nil, or "shape"|"range", message.
local function assign_value(self, name, v)
  local meta = self._attrs[name]
  local vals = self._values
  local old = vals[name]
  v = P.unconstant(v)
  if lp.is_tensor(v) and lp.is_tensor(old) then
    local scope = autograd._functional_scope(v)
    if scope or (meta.kind == "parameter" and not v.is_leaf) then
      if not U.same_shape(v.shape, old.shape) then
        return "shape", ("%s: expected shape %s, got %s"):format(name, U.fmt_shape(old.shape), U.fmt_shape(v.shape))
      end
      local p = meta.range and V.problem(v, meta.range)
      if p then return "range", p end
      vals[name] = v
      if scope then scope.restores[#scope.restores + 1] = function() vals[name] = old end end
      return nil
    end
  end
  if not lp.is_tensor(old) then
    if meta.kind == "simulation" then
      local p = meta.range and V.problem(v, meta.range)
      if p then return "range", p end
      vals[name] = v
      return nil
    end
  end
  local t, msg = U.to_tensor(v, old.shape)
  if not t then return "shape", ("%s: %s"):format(name, msg) end
  local p = meta.range and V.problem(t, meta.range)
  if p then return "range", p end
  if meta.kind == "parameter" then
    if old.is_leaf then
      if t.dtype ~= old.dtype then t = t:astype(old.dtype) end
      lp.no_grad(function() old:copy_(t) end)
    else
      t:requires_grad(true)
      P.set_constraint(t, P.constraint(old))
      vals[name] = t
    end
  else
    vals[name] = t
  end
  return nil
end

function Module:_assign(name, v, level)
  level = (level or 1) + 1
  local what, msg = assign_value(self, name, v)
  if what == "range" then error(V.message(self, name, msg), level) end
  if what then fail(self, msg, level) end
end

function Module:__newindex(k, v)
  if type(k) == "string" then
    local vals = rawget(self, "_values")
    if vals then
      if self._attrs[k] then
        if P.is_descriptor(v) then
          self:_register(v.kind, k, v.value, v, 2)
        else
          self:_assign(k, v, 2)
        end
        return
      elseif P.is_descriptor(v) then
        self:_register(v.kind, k, v.value, v, 2)
        return
      elseif class.is_a(v, Module) then
        self:submodule(k, v)
        return
      elseif self._mods[k] then
        U.argerror(getmetatable(self).__name, 2, ("'%s' is a sub-module"):format(k), 2)
      end
    end
  end
  rawset(self, k, v)
end

-- views -------------------------------------------------------------------

local function family_ok(fam, want)
  if want == nil then return true end
  if type(want) == "table" then
    for _, w in ipairs(want) do if w == fam then return true end end
    return false
  end
  return fam == want
end

function Module:_collect(kind, family)
  local out = {}
  for _, n in ipairs(self._order) do
    local m = self._attrs[n]
    if m.kind == kind and family_ok(m.family, family) then out[n] = self._values[n] end
  end
  for _, n in ipairs(self._mod_order) do
    local sub = self._mods[n]:_collect(kind, family)
    if next(sub) ~= nil then out[n] = sub end
  end
  return out
end

--- mod:parameters([family]) -> nested table of the trainable tensors.
function Module:parameters(family) return self:_collect("parameter", family) end
--- mod:simulation_parameters([family]) -> nested table.
function Module:simulation_parameters(family) return self:_collect("simulation", family) end

--- mod:attributes() -> {name = kind} of this module's own attributes, in order.
function Module:attribute_names(kind)
  local out = {}
  for _, n in ipairs(self._order) do
    if kind == nil or self._attrs[n].kind == kind then out[#out + 1] = n end
  end
  return out
end
function Module:attribute_kind(name) local m = self._attrs[name]; return m and m.kind end
function Module:attribute_family(name) local m = self._attrs[name]; return m and m.family end

--- mod:attributes_named(name | {names}) -> nested table of the attributes
-- of that name (any kind) in this module and its sub-modules (Rockpool's
-- attributes_named), e.g. net:attributes_named("dt").
function Module:attributes_named(names)
  if type(names) == "string" then names = { names } end
  if type(names) ~= "table" then
    U.argerror("attributes_named", 1, "string or list of strings expected, got " .. type(names), 2)
  end
  local want = {}
  for _, n in ipairs(names) do want[n] = true end
  local out = {}
  for _, n in ipairs(self._order) do
    if want[n] then out[n] = self._values[n] end
  end
  for _, n in ipairs(self._mod_order) do
    local sub = self._mods[n]:attributes_named(names)
    if next(sub) ~= nil then out[n] = sub end
  end
  return out
end

--- mod:modules() -> the direct sub-modules, in order (each knows its .name).
function Module:modules()
  local out = {}
  for i, n in ipairs(self._mod_order) do out[i] = self._mods[n] end
  return out
end

--- mod:set_attributes(tbl): nested like parameters(); returns mod.
function Module:set_attributes(tbl, path)
  if type(tbl) ~= "table" or lp.is_tensor(tbl) then
    U.argerror("set_attributes", 1, "table expected, got " .. (lp.is_tensor(tbl) and "tensor" or type(tbl)), 2)
  end
  for k, v in pairs(tbl) do
    local where = path and (path .. "." .. tostring(k)) or tostring(k)
    if self._mods[k] then
      if type(v) ~= "table" or lp.is_tensor(v) then
        U.argerror("set_attributes", 1, ("'%s' is a sub-module and needs a table"):format(where), 2)
      end
      self._mods[k]:set_attributes(v, where)
    elseif self._attrs[k] then
      local what, msg = assign_value(self, k, v)
      if what == "range" then
        U.argerror("set_attributes", 1, V.message(self, k, msg), 2)
      elseif what then
        U.argerror("set_attributes", 1, (path and (path .. ".") or "") .. msg, 2)
      end
    else
      U.argerror("set_attributes", 1, ("no attribute '%s'"):format(where), 2)
    end
  end
  return self
end

local function reset(self, kind, recurse)
  for _, n in ipairs(self._order) do
    local m = self._attrs[n]
    if m.kind == kind and not m.persistent then
      local v = m.init(m.shape)
      if lp.is_tensor(self._values[n]) then
        local t, msg = U.to_tensor(v, m.shape)
        if not t then error(("%s: init of '%s' returned %s"):format(self.full_name, n, msg), 3) end
        if kind == "parameter" and self._values[n].is_leaf then
          local old = self._values[n]
          lp.no_grad(function() old:copy_(t:astype(old.dtype)) end)
        else
          if kind == "parameter" then
            t:requires_grad(true)
            P.set_constraint(t, P.constraint(self._values[n]))
          end
          self._values[n] = t
        end
      else
        self._values[n] = v
      end
    end
  end
  if recurse then
    for _, n in ipairs(self._mod_order) do reset(self._mods[n], kind, true) end
  end
end

--- mod:reset_state(): every state (but the persistent ones) back to its initial value; returns mod.
function Module:reset_state() reset(self, "state", true); return self end
--- mod:reset_parameters(): re-run the init functions (in place); returns mod.
function Module:reset_parameters() reset(self, "parameter", true); return self end

--- mod:train([mode = true]) / mod:eval(): dropout and noise act in training only.
function Module:train(mode)
  if mode == nil then mode = true end
  if type(mode) ~= "boolean" then
    U.argerror("train", 1, "boolean expected, got " .. type(mode), 2)
  end
  rawset(self, "training", mode)
  for _, n in ipairs(self._mod_order) do self._mods[n]:train(mode) end
  return self
end
function Module:eval() return self:train(false) end

-- evolution ----------------------------------------------------------------

function Module:evolve()
  error(("%s does not implement evolve"):format(self.full_name), 2)
end

-- Calling a module evolves it. The built-in modules check their parameters'
-- ranges in evolve itself (class field _checks_in_evolve); for the others,
-- the call does it.
-- m2(m1(x)) hands m2 all three results of m1 (Lua passes them on): m1's
-- state and record are then dropped (Rockpool's chaining of a call's
-- tuple); use nn.Sequential to keep them.
local function chained(record, n, third)
  return n >= 3 and type(record) == "table" and getmetatable(record) == nil
    and type(third) == "table" and getmetatable(third) == nil
end
Module._chained = chained

function Module:__call(x, record, ...)
  if chained(record, select("#", ...) + 2, (...)) then record = nil; return self(x, record) end
  if not self._checks_in_evolve then V.check_forward(self, 2) end
  return self:evolve(x, record, ...)
end

--- mod:timed{dt =, output_num = 1, add_events = false} -> a
-- TimedModuleWrapper taking and returning time series (nn/timed.lua).
function Module:timed(opts) return require("limpet.nn.timed").TimedModuleWrapper(self, opts, "timed") end

--- mod:as_graph() -> an lp.graph module (GraphModule or GraphHolder); each
-- module kind that can be mapped to hardware implements it.
function Module:as_graph()
  error(("%s does not implement as_graph"):format(self.full_name), 2)
end

-- The name a module's graph carries: its name in its parent, else its class.
function Module:_graph_name()
  return rawget(self, "_name") or getmetatable(self).__name
end

--- self:_auto_batch(x) -> x as (B, T, N), B, T. (T, N) gets a batch axis of
-- 1, (T) becomes (1, T, 1); a one-channel input is broadcast over size_in
-- channels (Rockpool). Checks N against size_in when the module has a shape.
function Module:_auto_batch(x)
  if not lp.is_tensor(x) then
    U.argerror("evolve", 1, ("%s expects a tensor, got %s"):format(self.full_name, type(x)), 3)
  end
  local d = x:dim()
  if d == 1 then x = x:reshape(1, x.shape[1], 1)
  elseif d == 2 then x = x:unsqueeze(1)
  elseif d ~= 3 then
    U.argerror("evolve", 1, ("%s expects input of shape (T), (T, N) or (B, T, N), got %s")
      :format(self.full_name, U.fmt_shape(x.shape)), 3)
  end
  local s = x.shape
  if s[3] == 1 and self.size_in and self.size_in > 1 then
    x = x:expand({ s[1], s[2], self.size_in })
    s = x.shape
  end
  if self.size_in and s[3] ~= self.size_in then
    U.argerror("evolve", 1, ("%s expects %d input channels, got %s")
      :format(self.full_name, self.size_in, U.fmt_shape(x.shape)), 3)
  end
  return x, s[1], s[2]
end

-- printing -----------------------------------------------------------------

--- mod:count_parameters([recurse = true]) -> number of trainable elements.
function Module:count_parameters(recurse)
  local n = 0
  for _, k in ipairs(self._order) do
    if self._attrs[k].kind == "parameter" then n = n + self._values[k]:numel() end
  end
  if recurse ~= false then
    for _, k in ipairs(self._mod_order) do n = n + self._mods[k]:count_parameters() end
  end
  return n
end

local function line(self)
  local s = self.full_name
  if self.shape then s = s .. " with shape " .. U.fmt_shape(self.shape) end
  local n = self:count_parameters()
  return s .. (", %d parameter%s"):format(n, n == 1 and "" or "s")
end

local function tree(self, indent, out)
  local l = indent .. line(self)
  if #self._mod_order > 0 then
    out[#out + 1] = l .. " {"
    for _, n in ipairs(self._mod_order) do tree(self._mods[n], indent .. "    ", out) end
    out[#out + 1] = indent .. "}"
  else
    out[#out + 1] = l
  end
end

function Module:__tostring()
  local out = {}
  tree(self, "", out)
  return table.concat(out, "\n")
end

-- Noise for the fused neuron ops: (B, T, N) Gaussian scaled by
-- noise_std * sqrt(dt), only in training mode and when noise_std > 0.
function Module:_noise(B, T, N)
  if self.training and (self.noise_std or 0) > 0 then
    return lp.randn(B, T, N) * (self.noise_std * math.sqrt(self.dt))
  end
  return nil
end

return Module
