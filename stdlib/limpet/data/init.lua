-- stdlib/limpet/data/init.lua -- `lp.data`: the data-set protocol and readers.
-- Owns: the Dataset base class (`#ds`, `ds:get(i)` -> sample, label, meta;
-- the `transform` option applied in get), option checking shared by the
-- readers, and the table of readers (FashionMNIST, SHD, SSC, NMNIST,
-- DVSGesture, encoders). Loaded on first use: `transforms`, `DataLoader`,
-- `DiskCache` (their own files). Not here: file formats (core/src/gz.c,
-- h5.c through limpet.core), the readers themselves (one file each).
-- Conventions: indices and labels 1-based; event samples are tables of
-- equal-length tensors {t = seconds (float64), x = , y = , p = } with 1-based
-- ids (polarity 1 = OFF, 2 = ON); missing files give nil, message.
local class = require "limpet.class"

local data = {}

-- ---- option checking --------------------------------------------------------

local function argerr(fname, msg, level)
  error(("bad argument #1 to '%s' (%s)"):format(fname, msg), level + 1)
end
data._argerr = argerr

--- data._options(fname, opts, spec, level): opts checked against spec, a
--- table field -> checker(v) returning an error text or nil. Unknown fields
--- are rejected by name. Returns opts (or {}).
function data._options(fname, opts, spec, level)
  level = (level or 1) + 1
  if opts == nil then opts = {} end
  if type(opts) ~= "table" then argerr(fname, "table expected, got " .. type(opts), level) end
  for k, v in pairs(opts) do
    local check = spec[k]
    if not check then argerr(fname, ("unknown field '%s'"):format(tostring(k)), level) end
    local msg = check(v)
    if msg then argerr(fname, ("field '%s' %s"):format(k, msg), level) end
  end
  return opts
end

function data._one_of(...)
  local allowed = { ... }
  return function(v)
    for _, a in ipairs(allowed) do if v == a then return nil end end
    local q = {}
    for i, a in ipairs(allowed) do q[i] = ('"%s"'):format(a) end
    return ("must be one of %s, got %s"):format(table.concat(q, ", "),
      type(v) == "string" and ("'" .. v .. "'") or tostring(v))
  end
end
function data._string(v) if type(v) ~= "string" then return "must be a string, got " .. type(v) end end
function data._callable(v)
  if type(v) == "function" then return nil end
  local mt = getmetatable(v)
  if mt and mt.__call then return nil end
  return "must be a function, got " .. type(v)
end
function data._boolean(v) if type(v) ~= "boolean" then return "must be a boolean, got " .. type(v) end end

--- data._root(name, dflt): where the files of a data set live by default:
--- $LIMPET_DATA/<name> when that variable is set, else data/<name>.
function data._root(name)
  local base = os.getenv("LIMPET_DATA")
  if base and base ~= "" then return base .. "/" .. name end
  return "data/" .. name
end

function data._exists(path)
  local f = io.open(path, "rb")
  if f then f:close() return true end
  return false
end

-- ---- the Dataset base -------------------------------------------------------

local Dataset = class.Object:extend("limpet.data.Dataset")
data.Dataset = Dataset

--- Dataset:new(opts): a reader's constructor returns the data set, or
--- nil, message when its files are missing (init returns nil, message).
function Dataset:new(...)
  if type(rawget(self, "init")) ~= "function" then
    error(("%s is abstract: extend it (Dataset:extend(name)) and give the subclass an init"):format(
      tostring(self.__name)), 3)
  end
  local obj = setmetatable({}, self)
  local ok, msg = obj:init(...)
  if ok == nil and msg ~= nil then return nil, msg end
  return obj
end

function Dataset:__len() return self.n end

function Dataset:__tostring()
  return ("%s(split = '%s', %d samples)"):format(self.__name, tostring(self.split), self.n)
end

--- ds:get(i) -> sample, label, meta; the transform option (a function
--- sample -> sample) applies to the sample.
function Dataset:get(i)
  if math.type(i) ~= "integer" then
    if type(i) == "number" and math.tointeger(i) then i = math.tointeger(i)
    else error(("bad argument #1 to 'get' (integer expected, got %s)"):format(
      type(i) == "number" and "number" or type(i)), 2) end
  end
  if i < 1 or i > self.n then
    error(("bad argument #1 to 'get' (index %d out of range (1..%d))"):format(i, self.n), 2)
  end
  local sample, label, meta = self:_get(i)
  if self.transform then sample = self.transform(sample) end
  return sample, label, meta
end

--- ds:iter(): for i, sample, label, meta in ds:iter() do ... end
function Dataset:iter()
  local i = 0
  return function()
    i = i + 1
    if i > self.n then return nil end
    return i, self:get(i)
  end
end

-- ---- readers and lazily loaded parts ------------------------------------------

local lazy = {
  FashionMNIST = function() return require "limpet.data.fashion_mnist" end,
  SHD = function() return require("limpet.data.shd").SHD end,
  SSC = function() return require("limpet.data.shd").SSC end,
  NMNIST = function() return require "limpet.data.nmnist" end,
  DVSGesture = function() return require "limpet.data.dvs_gesture" end,
  SpokenDigits = function() return require "limpet.data.spoken_digits" end,
  encoders = function() return require "limpet.data.encoders" end,
  augment = function() return require "limpet.data.augment" end,
  transforms = function() return require "limpet.data.transforms" end,
  DataLoader = function() local m = require "limpet.data.loader"; return rawget(m, "DataLoader") or m end,
  DiskCache = function() local m = require "limpet.data.cache"; return rawget(m, "DiskCache") or m end,
}

return setmetatable(data, {
  __index = function(t, k)
    local load = lazy[k]
    if not load then return nil end
    local v = load()
    rawset(t, k, v)
    return v
  end,
})
