-- stdlib/limpet/class.lua -- the small class helper every Lua class uses.
-- Owns: `Object`, `Object:extend(name)`, `Object:new(...)`, `class.is_a`.
-- A class is a table that is the metatable of its instances: `__index` is
-- the class, `__name` its name. `extend` copies the parent's metamethods
-- (Lua looks them up raw) and chains method lookup to the parent; calling a
-- class makes an instance and runs `init(...)` on it.
local class = {}

local Object = { __name = "Object" }
Object.__index = Object

local function call_class(cls, ...) return cls:new(...) end

--- Object:extend(name) -> a subclass named `name`.
function Object:extend(name)
  if type(name) ~= "string" then
    error(("bad argument #1 to 'extend' (string expected, got %s)"):format(type(name)), 2)
  end
  local C = {}
  for k, v in pairs(self) do
    if type(k) == "string" and k:sub(1, 2) == "__" then C[k] = v end
  end
  C.__index = C
  C.__name = name
  C.super = self
  return setmetatable(C, { __index = self, __call = call_class, __name = name })
end

--- Object:new(...) -> a fresh instance with init(...) run on it.
function Object:new(...)
  local obj = setmetatable({}, self)
  if obj.init then obj:init(...) end
  return obj
end

setmetatable(Object, { __call = call_class })

--- class.is_a(x, C): x is an instance of C or of a subclass of C.
function class.is_a(x, C)
  if type(x) ~= "table" then return false end
  local mt = getmetatable(x)
  while mt do
    if mt == C then return true end
    mt = rawget(mt, "super")
  end
  return false
end

class.Object = Object
return class
