-- stdlib/limpet/tensor.lua -- tensor methods that are plain Lua on top of
-- the C core: conveniences that compute nothing themselves.
-- Owns: t:show(), t:tolist() alias, t:float()/t:double()/t:long()/t:bool()
-- casts. Not here: anything numeric (core/), printing format (format.lua).
local core = require "limpet.core"
local T = core.Tensor

function T:float() return self:astype "float32" end
function T:double() return self:astype "float64" end
function T:long() return self:astype "int64" end
function T:int() return self:astype "int32" end
function T:bool() return self:astype "bool" end

-- Print the full NumPy-style view (the REPL does this for results).
function T:show(opts)
  print(require("limpet.format").format(self, opts))
  return self
end

return T
