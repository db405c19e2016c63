-- stdlib/limpet/tensor.lua -- tensor methods that are plain Lua on top of
-- the C core: conveniences that compute nothing themselves.
-- Owns: t:show(), t:tolist() alias, t:float()/t:double()/t:long()/t:bool()
-- casts. Not here: anything numeric (core/), printing format (format.lua).
local core = require "limpet.core"
local T = core.Tensor

-- casts: t:float() ... (t.float() without the colon names the cast)
local function cast(name, dtype)
  T[name] = function(self)
    if not core.is_tensor(self) then
      error(("bad argument #1 to '%s' (limpet.Tensor expected, got %s)"):format(name, type(self)), 2)
    end
    return self:astype(dtype)
  end
end
cast("float", "float32")
cast("double", "float64")
cast("long", "int64")
cast("int", "int32")
cast("bool", "bool")

-- Print the full NumPy-style view (the REPL does this for results).
function T:show(opts)
  if not core.is_tensor(self) then
    error(("bad argument #1 to 'show' (limpet.Tensor expected, got %s)"):format(type(self)), 2)
  end
  if opts ~= nil and type(opts) ~= "table" then
    error(("bad argument #2 to 'show' (table of options expected, got %s)"):format(type(opts)), 2)
  end
  local ok, s = pcall(require("limpet.format").format, self, opts)
  if not ok then error((tostring(s):gsub("^bad argument #2 to 'format'", "bad argument #2 to 'show'")), 2) end
  print(s)
  return self
end

return T
