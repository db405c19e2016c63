-- stdlib/limpet/nn/parameters.lua -- attribute descriptors (Rockpool's
-- rockpool.parameters): Parameter, State, SimulationParameter, Constant.
-- Owns: the descriptor objects and their checks. A descriptor assigned to a
-- module field (`self.tau = nn.Parameter(0.02, {family = "taus"})`) or
-- passed to `self:parameter(...)` registers the attribute; Constant(x) marks
-- a value that must not be trained (it becomes a simulation parameter).
-- Not here: registration and storage (module.lua).
local U = require "limpet.nn.util"

local P = {}

local Desc = { __name = "nn.Descriptor" }
Desc.__index = Desc
local Const = { __name = "nn.Constant" }
Const.__index = Const

local function make(kind, fname)
  return function(value, opts)
    opts = U.options(fname, 2, opts, { family = U.NONE, init = U.NONE, shape = U.NONE }, 2)
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
                          init = opts.init, shape = opts.shape }, Desc)
  end
end

--- nn.Parameter(value, {family =, init = function(shape) -> tensor, shape =})
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
