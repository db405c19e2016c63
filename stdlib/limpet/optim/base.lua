-- stdlib/limpet/optim/base.lua -- what every optimiser shares.
-- Owns: flattening a (nested) parameter table into a named list, option
-- checking (unknown fields rejected by name), the Optimizer base class
-- (zero_grad, step skeleton, state_dict / load_state_dict) and `extend`.
-- Parameter groups (PyTorch's param_groups: per-group hyperparameters)
-- and the `project` option (a hard projection after every step) live here.
-- Not here: the update rules (sgd.lua, adam.lua, rmsprop.lua), clipping
-- (clip.lua), schedules (schedule.lua).
-- Names: a parameter is named by its path in the table, keys joined with
-- "." ("1_Linear.weight"); state entries are "<buffer>/<parameter name>".
local core = require "limpet.core"

local M = {}

local function argerror(n, fname, msg, level)
  error(("bad argument #%d to '%s' (%s)"):format(n, fname, msg), (level or 2) + 1)
end
M.argerror = argerror

-- A default that marks a required number field.
M.REQUIRED = setmetatable({}, { __name = "required number" })

-- check.options: opts (nil or table) against defaults; unknown fields,
-- wrongly typed ones and missing required ones are errors naming the field.
-- Returns a fresh table.
function M.options(fname, n, opts, defaults, level)
  level = (level or 2) + 1
  local out = {}
  for k, v in pairs(defaults) do out[k] = v end
  if opts ~= nil and type(opts) ~= "table" then
    argerror(n, fname, ("expected a table of options, got %s"):format(type(opts)), level)
  end
  opts = opts or {}
  for k, v in pairs(opts) do
    if type(k) ~= "string" or defaults[k] == nil then
      argerror(n, fname, ("unknown field '%s'"):format(tostring(k)), level)
    end
    local want = defaults[k] == M.REQUIRED and "number" or type(defaults[k])
    if want ~= "table" and type(v) ~= want then
      argerror(n, fname, ("field '%s' must be a %s, got %s"):format(k, want, type(v)), level)
    end
    out[k] = v
  end
  local missing = {}
  for k, v in pairs(out) do if v == M.REQUIRED then missing[#missing + 1] = k end end
  if #missing > 0 then
    table.sort(missing)
    argerror(n, fname, ("field '%s' is required"):format(missing[1]), level)
  end
  return out
end

local function keyorder(a, b)
  local ta, tb = type(a), type(b)
  if ta == tb and (ta == "number" or ta == "string") then return a < b end
  if ta == "number" and tb ~= "number" then return true end
  if tb == "number" and ta ~= "number" then return false end
  return tostring(a) < tostring(b)
end

-- Walk a nested table of tensors in a fixed order (sorted keys), calling
-- fn(name, tensor) for each leaf. Non-tensor leaves are errors.
function M.walk(tbl, fn, fname, n, prefix, level)
  level = level or 2
  local keys = {}
  for k in pairs(tbl) do keys[#keys + 1] = k end
  table.sort(keys, keyorder)
  for _, k in ipairs(keys) do
    local v = tbl[k]
    local name = prefix and (prefix .. "." .. tostring(k)) or tostring(k)
    if core.is_tensor(v) then
      fn(name, v)
    elseif type(v) == "table" then
      M.walk(v, fn, fname, n, name, level + 1)
    else
      argerror(n, fname, ("parameter '%s' is a %s, expected a tensor"):format(name, type(v)), level + 1)
    end
  end
end

-- The parameter list {{name = , t = }, ...} of a nested table.
function M.flatten(params, fname, n, level)
  level = (level or 2) + 1
  if core.is_tensor(params) then return { { name = "1", t = params } } end
  if type(params) ~= "table" then
    argerror(n, fname, ("expected a table of parameters, got %s"):format(type(params)), level)
  end
  local list = {}
  M.walk(params, function(name, t)
    local dt = t.dtype
    if dt ~= "float32" and dt ~= "float64" then
      argerror(n, fname, ("parameter '%s' is %s, expected a float tensor"):format(name, dt), level + 3)
    end
    list[#list + 1] = { name = name, t = t }
  end, fname, n, nil, level + 1)
  if #list == 0 then argerror(n, fname, "no parameters to optimise", level) end
  return list
end

-- Classes: a metatable with __index and __name; `Base:extend(name)`.
local Optimizer = { __name = "Optimizer" }
Optimizer.__index = Optimizer
M.Optimizer = Optimizer

function Optimizer:extend(name)
  local cls = setmetatable({ __name = name }, { __index = self, __call = function(c, ...) return c.new(c, ...) end })
  cls.__index = cls
  cls.__tostring = function(o) return ("%s(lr=%g, %d parameters)"):format(name, o.lr, #o.params) end
  return cls
end

-- Is params a list of parameter groups ({params = tree, lr = ...}, ...)?
local function is_groups(params)
  if type(params) ~= "table" or core.is_tensor(params) or params[1] == nil then return false end
  local first = params[1]
  return type(first) == "table" and not core.is_tensor(first) and first.params ~= nil
end

-- Generic constructor: checks options, flattens parameters, then cls:init().
-- params: a (nested) table of tensors, or a list of parameter groups
-- {params = tree, <hyperparameter> = value, ...} (PyTorch's param_groups):
-- a group's fields override the optimiser's options for its parameters.
-- opts.project = fn: fn(params) runs after every step, without gradient,
-- to project the parameters back into their feasible set (hard constraints,
-- e.g. lp.loss.bounds_clip).
function Optimizer.new(cls, params, opts)
  local o = setmetatable({}, cls)
  local project, reparam = nil, true
  if type(opts) == "table" and (opts.project ~= nil or opts.reparametrise ~= nil) then
    project = opts.project
    local mt = getmetatable(project)
    if project ~= nil and type(project) ~= "function" and not (type(mt) == "table" and mt.__call) then
      M.argerror(2, cls.__name, ("field 'project' must be a function, got %s"):format(type(project)), 3)
    end
    if opts.reparametrise ~= nil then
      if type(opts.reparametrise) ~= "boolean" then
        M.argerror(2, cls.__name, ("field 'reparametrise' must be a boolean, got %s"):format(type(opts.reparametrise)), 3)
      end
      reparam = opts.reparametrise
    end
    local rest = {}
    for k, v in pairs(opts) do if k ~= "project" and k ~= "reparametrise" then rest[k] = v end end
    opts = rest
  end
  o.groups = {}
  if is_groups(params) then
    o.params = {}
    local seen_t, seen_n = {}, {}
    for gi, g in ipairs(params) do
      if type(g) ~= "table" or core.is_tensor(g) or g.params == nil then
        argerror(1, cls.__name, ("parameter group %d must be a table with a 'params' field"):format(gi), 3)
      end
      local hyper = {}
      for k, v in pairs(g) do
        if k ~= "params" then
          if type(k) ~= "string" or cls.defaults[k] == nil then
            argerror(1, cls.__name, ("parameter group %d: unknown field '%s'"):format(gi, tostring(k)), 3)
          end
          local want = cls.defaults[k] == M.REQUIRED and "number" or type(cls.defaults[k])
          if type(v) ~= want then
            argerror(1, cls.__name, ("parameter group %d: field '%s' must be a %s, got %s"):format(gi, k, want, type(v)), 3)
          end
          if k == "lr" and v < 0 then
            argerror(1, cls.__name, ("parameter group %d: field 'lr' must be >= 0, got %g"):format(gi, v), 3)
          end
          hyper[k] = v
        end
      end
      local list = M.flatten(g.params, cls.__name, 1, 3)
      for _, p in ipairs(list) do
        if seen_t[p.t] then
          argerror(1, cls.__name, ("parameter '%s' is in more than one group"):format(p.name), 3)
        end
        if seen_n[p.name] then
          argerror(1, cls.__name, ("two parameters are named '%s' (give the groups distinct paths)"):format(p.name), 3)
        end
        seen_t[p.t], seen_n[p.name] = true, true
        o.params[#o.params + 1] = p
      end
      o.groups[gi] = { params = list, hyper = hyper }
    end
  else
    o.params = M.flatten(params, cls.__name, 1, 3)
    o.groups[1] = { params = o.params, hyper = {} }
  end
  o.param_tree = params
  o.project = project
  o.reparametrise = reparam
  local op = M.options(cls.__name, 2, opts, cls.defaults, 3)
  for k, v in pairs(op) do o[k] = v end
  o.hyper = {}
  for k in pairs(cls.defaults) do o.hyper[#o.hyper + 1] = k end
  table.sort(o.hyper)
  o.state = {}          -- state[buffer][parameter name] = tensor
  o.step_count = 0
  if o.lr < 0 then M.argerror(2, cls.__name, ("field 'lr' must be >= 0, got %g"):format(o.lr), 3) end
  if cls.init then
    cls.init(o)
    for _, g in ipairs(o.groups) do       -- a group's own values pass the same checks
      if next(g.hyper) then
        local saved = {}
        for k, v in pairs(g.hyper) do saved[k] = o[k]; o[k] = v end
        cls.init(o)
        for k, v in pairs(g.hyper) do g.hyper[k] = o[k]; o[k] = saved[k] end
      end
    end
  end
  return o
end

-- Drop every gradient (PyTorch's set_to_none): the next backward starts fresh.
function Optimizer:zero_grad()
  for _, p in ipairs(self.params) do p.t.grad = nil end
end

-- A state buffer for parameter p, created with zeros (or from `init`) on first use.
function Optimizer:buffer(kind, p, init)
  local b = self.state[kind]
  if not b then b = {}; self.state[kind] = b end
  local t = b[p.name]
  if not t then
    t = init and init:clone() or core.zeros_like(p.t)
    b[p.name] = t
  end
  return t
end

function Optimizer:step()
  self.step_count = self.step_count + 1
  for _, sch in ipairs(self.step_schedules or {}) do sch:_at(self.step_count - 1) end
  core.no_grad(function()
    for _, grp in ipairs(self.groups) do
      local saved = {}
      for k, v in pairs(grp.hyper) do saved[k] = self[k]; self[k] = v end
      for _, p in ipairs(grp.params) do
        local g = p.t.grad
        if g then self:_constrained_update(p, g) end
      end
      for k in pairs(grp.hyper) do self[k] = saved[k] end
    end
    if self.project then self.project(self.param_tree) end
  end)
end

-- The update of one parameter, in the space its constraint names (see
-- nn/parameters.lua): log x for positive parameters (time constants,
-- thresholds), logit x for decays, then the constraint's clamps. Adam on
-- log x is Adam on the well-conditioned log-time-constant: a step scales x
-- by about exp(+-lr) and never changes its sign. The update rule's buffers
-- hold that space's moments. reparametrise = false: the plain update.
local ok_params, P = pcall(require, "limpet.nn.parameters")
function Optimizer:_constrained_update(p, g)
  local c = self.reparametrise and ok_params and P.constraint(p.t)
  if not c then return self:update(p, g) end
  local x = p.t
  if c.space == "log" then
    if x:le(0):astype("int64"):sum():item() > 0 then
      error(("%s: parameter '%s' holds values <= 0 but is stepped in log space (it must be positive; "
        .. "reparametrise = false steps it plainly)"):format(self.__name, p.name), 0)
    end
    local u = core.log(x)
    self:update({ name = p.name, t = u }, g * x)
    x:copy_(core.exp(u))
    x:clamp_(x.dtype == "float32" and 2 ^ -126 or 2 ^ -1022, nil)     -- no underflow to 0
  elseif c.space == "logit" then
    if x:le(0):logical_or(x:ge(1)):astype("int64"):sum():item() > 0 then
      error(("%s: parameter '%s' holds values outside (0, 1) but is stepped in logit space (a decay; "
        .. "reparametrise = false steps it plainly)"):format(self.__name, p.name), 0)
    end
    local u = core.log(x / (1 - x))
    self:update({ name = p.name, t = u }, g * x * (1 - x))
    x:copy_(core.sigmoid(u))
    local e = x.dtype == "float32" and 2 ^ -24 or 2 ^ -53          -- stays strictly inside (0, 1)
    x:clamp_(e, 1 - e)
  else
    self:update(p, g)
  end
  if c.lower or c.upper then x:clamp_(c.lower, c.upper) end
end

-- Named arrays: hyperparameters and the step count as 0-d float64 tensors,
-- buffers as "<kind>/<parameter name>". lp.save(path, opt:state_dict()) works.
function Optimizer:state_dict()
  local sd = { step = core.tensor(self.step_count, "float64") }
  for _, k in ipairs(self.hyper) do
    local v = self[k]
    if type(v) == "number" then sd[k] = core.tensor(v, "float64")
    elseif type(v) == "boolean" then sd[k] = core.tensor(v and 1 or 0, "float64")
    elseif type(v) == "table" then
      for i, x in ipairs(v) do sd[k .. "." .. i] = core.tensor(x, "float64") end
    end
  end
  for gi, g in ipairs(self.groups) do
    for k, v in pairs(g.hyper) do
      if type(v) == "number" then sd[("group%d.%s"):format(gi, k)] = core.tensor(v, "float64") end
    end
  end
  for kind, bufs in pairs(self.state) do
    for name, t in pairs(bufs) do sd[kind .. "/" .. name] = t:clone() end
  end
  return sd
end

function Optimizer:load_state_dict(sd)
  local fname = "load_state_dict"
  if type(sd) ~= "table" then argerror(1, fname, ("expected a table, got %s"):format(type(sd))) end
  local byname = {}
  for _, p in ipairs(self.params) do byname[p.name] = p end
  local function num(key)
    local t = sd[key]
    if not core.is_tensor(t) then argerror(1, fname, ("missing entry '%s'"):format(key), 3) end
    return t:item()
  end
  local hyper, state = {}, {}
  local known = { step = true }
  for _, k in ipairs(self.hyper) do
    local v = self[k]
    if type(v) == "number" then hyper[k] = num(k); known[k] = true
    elseif type(v) == "boolean" then hyper[k] = num(k) ~= 0; known[k] = true
    elseif type(v) == "table" then
      local t = {}
      for i = 1, #v do t[i] = num(k .. "." .. i); known[k .. "." .. i] = true end
      hyper[k] = t
    end
  end
  local ghyper = {}
  for gi, g in ipairs(self.groups) do
    for k, v in pairs(g.hyper) do
      if type(v) == "number" then
        local key = ("group%d.%s"):format(gi, k)
        ghyper[#ghyper + 1] = { g = g, k = k, v = num(key) }
        known[key] = true
      end
    end
  end
  local steps = num("step")
  local keys = {}
  for key in pairs(sd) do keys[#keys + 1] = tostring(key) end
  table.sort(keys)
  for _, key in ipairs(keys) do
    local t = sd[key]
    if not known[key] then
      local kind, name = tostring(key):match("^([^/]+)/(.+)$")
      local p = name and byname[name]
      if not p then argerror(1, fname, ("unexpected entry '%s'"):format(tostring(key))) end
      if not core.is_tensor(t) then argerror(1, fname, ("entry '%s' is not a tensor"):format(key)) end
      local a, b = t.shape, p.t.shape
      local same = #a == #b
      for i = 1, #a do same = same and a[i] == b[i] end
      if not same then
        local function fmt(sh) return #sh == 1 and ("(" .. sh[1] .. ",)") or ("(" .. table.concat(sh, ", ") .. ")") end
        argerror(1, fname, ("entry '%s' has shape %s, expected %s"):format(key, fmt(a), fmt(b)))
      end
      state[kind] = state[kind] or {}
      state[kind][name] = t:astype(p.t.dtype):clone()
    end
  end
  for k, v in pairs(hyper) do self[k] = v end
  for _, e in ipairs(ghyper) do e.g.hyper[e.k] = e.v end
  self.step_count = math.tointeger(steps) or steps
  self.state = state
  return self
end

return M
