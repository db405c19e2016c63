-- stdlib/limpet/nn/instant.lua -- nn.Instant: a stateless module applying a
-- function to its input at every time step (Rockpool's Instant).
-- Owns: wrapping a Lua function, or the name of an lp function ("tanh",
-- "relu", "sigmoid", ...); only the named form can be saved by nn save.
-- Rockpool's argument order, shape first: nn.Instant(N, fn); the function
-- defaults to the identity. The older order nn.Instant(fn[, shape]) is
-- still read (a function or a name first cannot be a shape).
local lp = require "limpet"
local Module = require "limpet.nn.module"
local U = require "limpet.nn.util"

local Instant = Module:extend("Instant")
Instant._checks_in_evolve = true

local function identity(x) return x end

local function is_fn(f) return type(f) == "function" or type(f) == "string" end

--- nn.Instant(shape[, fn | {function = fn}]) or nn.Instant(fn[, shape]):
--- fn is a function tensor -> tensor or the name of an lp function;
--- without one, the identity.
function Instant:init(a, b)
  local shape, fn
  local fn_arg = is_fn(a) and 1 or 2
  if is_fn(a) then
    fn, shape = a, b
  else
    shape, fn = a, b
    if type(shape) == "table" and not lp.is_tensor(shape) and getmetatable(shape) == nil then
      local s, o, split = U.split_shape("Instant", shape, nil, 3)
      if split then
        local extra = U.options("Instant", 1, o, { ["function"] = U.NONE }, 3)
        if extra["function"] ~= nil then
          if fn ~= nil then U.argerror("Instant", 2, "the function is given twice", 3) end
          fn = extra["function"]
        end
        shape = s
      end
    end
    if type(fn) == "table" and not lp.is_tensor(fn) and getmetatable(fn) == nil then
      fn = U.options("Instant", 2, fn, { ["function"] = U.NONE }, 3)["function"]
    end
  end
  local f = fn
  if fn == nil then
    f = identity
  elseif type(fn) == "string" then
    f = lp[fn]
    if type(f) ~= "function" then U.argerror("Instant", fn_arg, ("no lp function named '%s'"):format(fn), 3) end
  elseif type(fn) ~= "function" then
    U.argerror("Instant", fn_arg, "function or function name expected, got " .. type(fn), 3)
  end
  Module.init(self, shape)
  rawset(self, "fn", f)
  rawset(self, "fn_name", type(fn) == "string" and fn or (fn == nil and "identity" or nil))
  -- saved (nn.save) in the shape-first order
  if fn == nil or type(fn) == "string" then rawset(self, "_args", table.pack(shape, fn)) end
end

function Instant:evolve(x, record)
  x = self:_auto_batch(x)
  return self.fn(x), {}, {}
end

return Instant
