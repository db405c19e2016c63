-- stdlib/limpet/nn/ffwd_stack.lua -- nn.FFwdStack: modules with a Linear
-- weight layer inserted between each pair (Rockpool's FFwdStack).
-- Owns: the insertion; naming and evolution are Sequential's.
local Sequential = require "limpet.nn.sequential"
local Linear = require "limpet.nn.linear"
local U = require "limpet.nn.util"

local FFwdStack = Sequential:extend("FFwdStack")

--- nn.FFwdStack(m1, m2, ...) or nn.FFwdStack{m1, m2, ...}
function FFwdStack:init(...)
  Sequential.init(self)
  local mods, names = Sequential.collect_args("FFwdStack", ...)
  for i = 1, mods.n do
    local m = mods[i]
    if i > 1 then
      local prev = mods[i - 1]
      if not (prev.size_out and m.size_in) then
        U.argerror("FFwdStack", i, "modules need a shape to size the weights between them", 3)
      end
      self:_append(Linear({ prev.size_out, m.size_in }), nil, 4)
    end
    self:_append(m, names[i], 4)
  end
end

return FFwdStack
