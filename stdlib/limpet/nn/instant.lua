-- stdlib/limpet/nn/instant.lua -- nn.Instant: a stateless module applying a
-- function to its input at every time step (Rockpool's Instant).
-- Owns: wrapping a Lua function, or the name of an lp function ("tanh",
-- "relu", "sigmoid", ...); only the named form can be saved by nn save.
local lp = require "limpet"
local Module = require "limpet.nn.module"
local U = require "limpet.nn.util"

local Instant = Module:extend("Instant")

--- nn.Instant(fn[, shape]): fn is a function tensor -> tensor or a name of an lp function.
function Instant:init(fn, shape)
  local f = fn
  if type(fn) == "string" then
    f = lp[fn]
    if type(f) ~= "function" then U.argerror("Instant", 1, ("no lp function named '%s'"):format(fn), 3) end
  elseif type(fn) ~= "function" then
    U.argerror("Instant", 1, "function or function name expected, got " .. type(fn), 3)
  end
  Module.init(self, shape)
  rawset(self, "fn", f)
  rawset(self, "fn_name", type(fn) == "string" and fn or nil)
end

function Instant:evolve(x, record)
  x = self:_auto_batch(x)
  return self.fn(x), {}, {}
end

return Instant
