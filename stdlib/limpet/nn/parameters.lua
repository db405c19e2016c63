-- stdlib/limpet/nn/parameters.lua -- attribute descriptors (Rockpool's
-- rockpool.parameters): Parameter, State, SimulationParameter, Constant.
-- Owns: the descriptor objects and their checks. A descriptor assigned to a
-- module field (`self.tau = nn.Parameter(0.02, {family = "taus"})`) or
-- passed to `self:parameter(...)` registers the attribute; Constant(x) marks
-- a value that must not be trained (it becomes a simulation parameter).
-- Not here: registration and storage (module.lua).
local U = require "limpet.nn.util"
local V = require "limpet.nn.validate"

local P = {}

local Desc = { __name = "nn.Descriptor" }
Desc.__index = Desc
local Const = { __name = "nn.Constant" }
Const.__index = Const

local FIELDS = { family = U.NONE, init = U.NONE, shape = U.NONE, range = U.NONE }

-- nn.Parameter{0.1, 0.2, family = "taus"}: the named fields are options
-- (as nn.Parameter({0.1, 0.2}, {family = "taus"})); {family =, init =,
-- shape =} alone has no value.
local function split_value(fname, value, opts)
  if type(value) ~= "table" or getmetatable(value) ~= nil then return value, opts end
  local named
  for k in pairs(value) do
    if math.type(k) ~= "integer" then named = true break end
  end
  if not named then return value, opts end
  local v, o = {}, {}
  for k, x in pairs(value) do
    if math.type(k) == "integer" then v[k] = x else o[k] = x end
  end
  for k, x in pairs(opts or {}) do
    if o[k] ~= nil then U.argerror(fname, 2, ("field '%s' is given twice"):format(tostring(k)), 4) end
    o[k] = x
  end
  if #v == 0 then v = nil end
  return v, o
end

local function make(kind, fname)
  return function(value, opts)
    value, opts = split_value(fname, value, opts)
    opts = U.options(fname, 2, opts, FIELDS, 2)
    if opts.range ~= nil and opts.range ~= false and not V.RANGES[opts.range] then
      U.argerror(fname, 2, ("field 'range' must be one of positive, unit, nonnegative, finite or false, got '%s'")
        :format(tostring(opts.range)), 2)
    end
    if value == nil and opts.init == nil then
      U.argerror(fname, 1, "a value or an init function is required", 2)
    end
    if opts.init ~= nil and opts.shape == nil and value == nil then
      U.argerror(fname, 2, "field 'init' needs field 'shape'", 2)
    end
    local k = kind
    if getmetatable(value) == Const then
      value = value.value
      if k == "parameter" then k = "simulation" end
    end
    return setmetatable({ kind = k, value = value, family = opts.family,
                          init = opts.init, shape = opts.shape, range = opts.range }, Desc)
  end
end

--- nn.Parameter(value, {family =, init = function(shape) -> tensor, shape =,
--   range = "positive" | "unit" | "nonnegative" | "finite" | false}): the
--   valid range defaults to the family's (taus > 0, ...; nn/validate.lua).
P.Parameter = make("parameter", "Parameter")
--- nn.State(value, {...}): transient dynamical state, reset by reset_state.
P.State = make("state", "State")
--- nn.SimulationParameter(value, {...}): solver settings, never trained.
P.SimulationParameter = make("simulation", "SimulationParameter")

--- nn.Constant(x): x, marked as not trainable.
function P.Constant(x)
  if getmetatable(x) == Const then return x end
  return setmetatable({ value = x }, Const)
end

function P.is_constant(x) return getmetatable(x) == Const end

-- Constraints of trainable tensors: how optimisers step them (issue:
-- hardware-aware training). {space = "log"} (positive values: the update is
-- taken on log x, so a step scales x and never changes its sign) or
-- {space = "logit"} (values in (0, 1): the update is taken on
-- log(x / (1 - x))), with optional `lower` / `upper` clamps after the step.
-- Kept in a weak table keyed by the tensor, so the tensors stay plain.
local constraints = setmetatable({}, { __mode = "k" })
local SPACES = { log = true, logit = true }
function P.set_constraint(t, c)
  if c ~= nil then
    if type(c) ~= "table" or (c.space ~= nil and not SPACES[c.space])
       or (c.lower ~= nil and type(c.lower) ~= "number") or (c.upper ~= nil and type(c.upper) ~= "number") then
      error("bad argument #2 to 'set_constraint' (expected {space = 'log' | 'logit', lower =, upper =})", 2)
    end
  end
  constraints[t] = c
  return t
end
--- P.constraint(t) -> the constraint table of a parameter tensor, or nil
function P.constraint(t) return constraints[t] end
function P.is_descriptor(x) return getmetatable(x) == Desc end
--- P.unconstant(x) -> value, was_constant
function P.unconstant(x)
  if getmetatable(x) == Const then return x.value, true end
  return x, false
end

return P
