-- stdlib/limpet/data/cache.lua -- lp.data.DiskCache: transformed samples on disk.
-- Owns: the cache file per (index, transform key), encoding a sample, its
-- label and meta into an .npz (zlib, CRC-checked, written atomically by
-- lp.save), and rebuilding entries that are missing, corrupt, truncated or
-- written for another key. Not here: the .npz format (core/src/npz.c).
--
--   local cached = lp.data.DiskCache{dataset = ds, path = "cache/shd",
--                                    transform_key = "frames-1ms"}
--   #cached, cached:get(i) -> sample, label, meta   (same protocol as ds)
--   cached.hits, cached.misses                     (counters)
--
-- The key is transform_key, else the description of the data set's
-- `transform` (lp.data.transforms.describe) with the transforms' version
-- (lp.data.transforms.version: entries made before a transform's output
-- changed for the same options miss), else "none"; entries live in
-- `<path>/<i>-<16 hex digits of the key's FNV-1a hash>.npz` and also store
-- the key and index, which are checked on every read. A sample, label and
-- meta may be tensors, numbers, booleans, strings and tables of these.
-- DiskCache{...} returns nil, message when the folder cannot be made.
local core = require "limpet.core"
require "limpet.tensor"
local transforms = require "limpet.data.transforms"

local DiskCache = {}
DiskCache.__index = DiskCache
DiskCache.__name = "DiskCache"

local function argerr(msg, level)
  error(("bad argument #1 to 'DiskCache' (%s)"):format(msg), level + 1)
end

local function fnv1a(s)
  local h = -3750763034362895579          -- 14695981039346656037 as a signed 64-bit integer
  for i = 1, #s do
    h = h ~ s:byte(i)
    h = h * 1099511628211                -- wraps modulo 2^64
  end
  return ("%016x"):format(h)
end

local function shell_quote(s) return "'" .. s:gsub("'", "'\\''") .. "'" end

-- ---- encoding: a value becomes named tensors ---------------------------------

local function bytes(s)
  local t = {}
  for i = 1, #s do t[i] = s:byte(i) end
  return core.tensor(#t > 0 and t or { 0 }, "uint8"), #s
end
local function unbytes(t, n)
  local v = t:totable()
  local c = {}
  for i = 1, n do c[i] = string.char(v[i]) end
  return table.concat(c)
end

-- Names: <prefix>:t tensor, :i integer, :f float, :b boolean, :s<len> string,
-- tables recurse as <prefix>.<key> (string keys) or <prefix>#<n> (integer keys).
local function encode(prefix, v, out)
  local tv = type(v)
  if core.is_tensor(v) then
    out[prefix .. ":t"] = v
  elseif math.type(v) == "integer" then
    out[prefix .. ":i"] = core.tensor({ v }, "int64")
  elseif tv == "number" then
    out[prefix .. ":f"] = core.tensor({ v }, "float64")
  elseif tv == "boolean" then
    out[prefix .. ":b"] = core.tensor({ v }, "bool")
  elseif tv == "string" then
    local t, n = bytes(v)
    out[prefix .. ":s" .. n] = t
  elseif tv == "table" then
    out[prefix .. ":{"] = core.tensor({ 0 }, "uint8")   -- marks an (possibly empty) table
    for k, w in pairs(v) do
      if math.type(k) == "integer" then
        encode(prefix .. "#" .. k, w, out)
      elseif type(k) == "string" and k:match("^[%w_]+$") then
        encode(prefix .. "." .. k, w, out)
      else
        return nil, ("cannot cache the key %s of %s"):format(tostring(k), prefix)
      end
    end
  elseif v ~= nil then
    return nil, ("cannot cache a %s (%s)"):format(tv, prefix)
  end
  return true
end

-- Rebuilds the value of `root` from the flat names; found is false when
-- nothing was stored for it (a nil label or meta).
local function decode(entries, root)
  local items = {}
  for name, t in pairs(entries) do
    local path, kind = name:match("^(.-):([^:]*)$")
    local head = path and path:sub(1, #root + 1)
    if path and (path == root or head == root .. "." or head == root .. "#") then
      items[#items + 1] = { path = path, kind = kind, t = t }
    end
  end
  if #items == 0 then return nil, false end
  -- parents (shorter paths) before children
  table.sort(items, function(a, b) return #a.path < #b.path or (#a.path == #b.path and a.path < b.path) end)
  local value
  for _, it in ipairs(items) do
    local kind, t, v = it.kind, it.t, nil
    if kind == "{" then v = {}
    elseif kind == "t" then v = t
    elseif kind == "i" or kind == "f" or kind == "b" then v = t:reshape(-1)[1]
    elseif kind:sub(1, 1) == "s" and tonumber(kind:sub(2)) then v = unbytes(t, tonumber(kind:sub(2)))
    else error("unknown entry " .. it.path .. ":" .. kind, 0) end
    if it.path == root then
      value = v
    else
      local segs = {}
      for sep, name in it.path:sub(#root + 1):gmatch("([%.#])([^%.#]+)") do
        segs[#segs + 1] = sep == "#" and math.tointeger(tonumber(name)) or name
      end
      local node = value
      for j = 1, #segs - 1 do node = node[segs[j]] end
      node[segs[#segs]] = v
    end
  end
  return value, true
end

-- ---- the cache ---------------------------------------------------------------

local fields = { dataset = true, path = true, transform_key = true }

local function new(_, opts)
  if type(opts) ~= "table" then argerr("table expected, got " .. type(opts), 2) end
  for k in pairs(opts) do
    if not fields[k] then argerr(("unknown field '%s'"):format(tostring(k)), 2) end
  end
  local ds = opts.dataset
  if ds == nil then argerr("field 'dataset' is required", 2) end
  local ok, len = pcall(function() return #ds end)
  if not ok or math.type(len) ~= "integer" or type(ds.get) ~= "function" then
    argerr("field 'dataset' must have #ds and ds:get(i)", 2)
  end
  if type(opts.path) ~= "string" or opts.path == "" then
    argerr("field 'path' must be a folder name, got " .. type(opts.path), 2)
  end
  if opts.transform_key ~= nil and type(opts.transform_key) ~= "string" then
    argerr("field 'transform_key' must be a string, got " .. type(opts.transform_key), 2)
  end
  local key = opts.transform_key
  if key == nil then
    local tf = type(ds) == "table" and ds.transform or nil
    local desc = tf and (transforms.describe(tf) or error(
      "bad argument #1 to 'DiskCache' (the data set's transform has no description; give transform_key)", 2))
    key = desc and ("%s (transforms %d)"):format(desc, transforms.version) or "none"
  end
  local path = opts.path:gsub("/+$", "")
  if path == "" then path = "/" end
  -- make the folder and prove it is writable
  os.execute("mkdir -p " .. shell_quote(path) .. " 2>/dev/null")
  local probe = path .. "/.limpet-cache-probe"
  local f, err = io.open(probe, "w")
  if not f then return nil, ("DiskCache: cannot write to '%s': %s"):format(path, err) end
  f:close()
  os.remove(probe)
  return setmetatable({
    dataset = ds, path = path, key = key, tag = fnv1a(key), hits = 0, misses = 0,
  }, DiskCache)
end

function DiskCache:__len() return #self.dataset end

--- cache:file(i) -> the entry's path
function DiskCache:file(i)
  if math.type(i) ~= "integer" then
    error(("bad argument #1 to 'file' (integer expected, got %s)"):format(math.type(i) or type(i)), 2)
  end
  return ("%s/%d-%s.npz"):format(self.path, i, self.tag)
end

-- The entry at file for index i, or nil when it is missing or bad.
local function read(self, file, i)
  local ok, entries = pcall(core.load, file)
  if not ok or type(entries) ~= "table" then return nil end
  local key = entries["key:s" .. #self.key]
  local idx = entries["index:i"]
  if not key or unbytes(key, #self.key) ~= self.key or not idx or math.tointeger(idx[1]) ~= i then
    return nil
  end
  local okd, s, found = pcall(decode, entries, "sample")
  if not okd or not found then return nil end
  local l = decode(entries, "label")
  local m = decode(entries, "meta")
  return { s, l, m }
end

--- cache:get(i) -> sample, label, meta (from disk; computed and stored on a miss)
function DiskCache:get(i)
  if math.type(i) ~= "integer" or i < 1 or i > #self.dataset then
    error(("bad argument #1 to 'get' (index %s outside 1..%d)"):format(tostring(i), #self.dataset), 2)
  end
  local file = self:file(i)
  local e = read(self, file, i)
  if e then
    self.hits = self.hits + 1
    return e[1], e[2], e[3]
  end
  self.misses = self.misses + 1
  os.remove(file)
  local s, l, m = self.dataset:get(i)
  local out = {}
  local ok, err = encode("sample", s, out)
  if ok then ok, err = encode("label", l, out) end
  if ok then ok, err = encode("meta", m, out) end
  if not ok then error("DiskCache: " .. err, 2) end
  local kt, kn = bytes(self.key)
  out["key:s" .. kn] = kt
  out["index:i"] = core.tensor({ i }, "int64")
  local saved, msg = core.save(file, out)
  if not saved then error(("DiskCache: cannot write '%s': %s"):format(file, msg), 2) end
  return s, l, m
end

return { DiskCache = setmetatable(DiskCache, { __call = new }) }
