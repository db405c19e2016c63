-- stdlib/limpet/optim/base.lua -- what every optimiser shares.
-- Owns: flattening a (nested) parameter table into a named list, option
-- checking (unknown fields rejected by name), the Optimizer base class
-- (zero_grad, step skeleton, state_dict / load_state_dict) and `extend`.
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

-- Generic constructor: checks options, flattens parameters, then cls:init().
function Optimizer.new(cls, params, opts)
  local o = setmetatable({}, cls)
  o.params = M.flatten(params, cls.__name, 1, 3)
  local op = M.options(cls.__name, 2, opts, cls.defaults, 3)
  for k, v in pairs(op) do o[k] = v end
  o.hyper = {}
  for k in pairs(cls.defaults) do o.hyper[#o.hyper + 1] = k end
  table.sort(o.hyper)
  o.state = {}          -- state[buffer][parameter name] = tensor
  o.step_count = 0
  if o.lr < 0 then M.argerror(2, cls.__name, ("field 'lr' must be >= 0, got %g"):format(o.lr), 3) end
  if cls.init then cls.init(o) end
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
  core.no_grad(function()
    for _, p in ipairs(self.params) do
      local g = p.t.grad
      if g then self:update(p, g) end
    end
  end)
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
  self.step_count = math.tointeger(steps) or steps
  self.state = state
  return self
end

return M
