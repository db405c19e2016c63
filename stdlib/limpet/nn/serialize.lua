-- stdlib/limpet/nn/serialize.lua -- net:save(path) and nn.load(path).
-- Owns: the model file format and the class registry (nn.register).
-- Format: one .npz (written atomically by lp.save, readable by NumPy):
--   * every tensor attribute (parameter, state, simulation parameter) as an
--     array named by its path, e.g. "1_Linear.weight", "2_LIF.vmem"
--     (a root module's own attributes have no prefix);
--   * tensors among constructor arguments as "__args__.<n>";
--   * the module tree as UTF-8 JSON bytes in the uint8 array
--     "__module_tree__": {format = "limpet.nn/1", root = node}, a node being
--     {class, name, args (the constructor arguments; tensors, constants and
--     modules as tagged objects), attrs (non-tensor attribute values),
--     training, children (only for chains, which are rebuilt by append)}.
-- Loading calls each class's constructor with the saved arguments, then
-- overwrites every attribute with its saved value, so the rebuilt network
-- computes exactly what the saved one did.
-- Errors: a missing or unreadable file returns nil, msg; a file that is not
-- a model, holds a corrupt tree, an unknown class or arrays that do not fit
-- raises "nn.load: '<path>': <problem>".
local lp = require "limpet"
local class = require "limpet.class"
local json = require "limpet.json"
local Module = require "limpet.nn.module"
local P = require "limpet.nn.parameters"

local S = {}
local FORMAT = "limpet.nn/1"
local TREE = "__module_tree__"

local registry = {}

--- nn.register(Class[, name]) lets nn.load rebuild instances of Class.
function S.register(C, name)
  if not (type(C) == "table" and (C == Module or class.is_a(setmetatable({}, C), Module))) then
    error("bad argument #1 to 'register' (a Module class expected)", 2)
  end
  name = name or C.__name
  if type(name) ~= "string" then error("bad argument #2 to 'register' (string expected)", 2) end
  local old = registry[name]
  if old and old ~= C then
    error(("bad argument #1 to 'register' (another class is registered as '%s')"):format(name), 2)
  end
  registry[name] = C
  return C
end

function S.registered(name) return registry[name] end

-- string <-> uint8 tensor
local function to_bytes(s)
  local out = {}
  for i = 1, #s, 4096 do
    local chunk = { s:byte(i, math.min(i + 4095, #s)) }
    for j = 1, #chunk do out[#out + 1] = chunk[j] end
  end
  if #out == 0 then return lp.zeros({ 0 }, "uint8") end
  return lp.tensor(out, "uint8")
end

local function from_bytes(t)
  local v = t:reshape(-1):totable()
  local parts = {}
  for i = 1, #v, 4096 do
    parts[#parts + 1] = string.char(table.unpack(v, i, math.min(i + 4095, #v)))
  end
  return table.concat(parts)
end

-- saving ------------------------------------------------------------------

local encode_node

local function encode_arg(v, ctx, where)
  local t = type(v)
  if v == nil then return json.null end
  if t == "number" or t == "string" or t == "boolean" then return v end
  if lp.is_tensor(v) then
    ctx.nargs = ctx.nargs + 1
    local key = "__args__." .. ctx.nargs
    ctx.arrays[key] = v:detach()
    return { __array = key }
  end
  if P.is_constant(v) then return { __constant = encode_arg(v.value, ctx, where) } end
  if class.is_a(v, Module) then return { __module = encode_node(v, ctx, nil) } end
  if t == "table" then
    local out = {}
    local n = #v
    local count = 0
    for _ in pairs(v) do count = count + 1 end
    if count == n and n > 0 then
      for i = 1, n do out[i] = encode_arg(v[i], ctx, where) end
      return { __list = out }
    end
    for k, x in pairs(v) do
      if type(k) ~= "string" then
        error(("nn.save: cannot save %s: %s holds a table with mixed keys"):format(ctx.who, where), 0)
      end
      -- initialisers only shape the first values, which the file holds:
      -- the rebuilt module gets the default ones (for reset_parameters)
      if not (type(x) == "function" and k:match("_init_func$")) then
        out[k] = encode_arg(x, ctx, where)
      end
    end
    return out
  end
  error(("nn.save: cannot save %s: %s is a %s"):format(ctx.who, where, t), 0)
end

function encode_node(mod, ctx, name)
  local saved_who = ctx.who
  ctx.who = mod.full_name
  local C = getmetatable(mod)
  local node = { class = C.__name, name = name or json.null, training = mod.training }
  if not registry[C.__name] or registry[C.__name] ~= C then
    error(("nn.save: cannot save %s: class '%s' is not registered (nn.register)"):format(ctx.who, C.__name), 0)
  end
  if C.rebuild then
    node.children = {}
    for i, n in ipairs(mod._mod_order) do node.children[i] = encode_node(mod._mods[n], ctx, n) end
    node.children = json.array(node.children)
  else
    local args = rawget(mod, "_args") or { n = 0 }
    local out = {}
    for i = 1, args.n do out[i] = encode_arg(args[i], ctx, ("constructor argument #%d"):format(i)) end
    node.args = json.array(out)
    node.nargs = args.n
  end
  local attrs = {}
  for _, n in ipairs(mod._order) do
    local v = mod._values[n]
    if not lp.is_tensor(v) then
      local t = type(v)
      if t == "number" or t == "string" or t == "boolean" then attrs[n] = v end
    end
  end
  node.attrs = attrs
  ctx.who = saved_who
  return node
end

local function collect_arrays(mod, prefix, arrays)
  for _, n in ipairs(mod._order) do
    local v = mod._values[n]
    if lp.is_tensor(v) then arrays[prefix .. n] = v:detach() end
  end
  for _, n in ipairs(mod._mod_order) do
    collect_arrays(mod._mods[n], prefix .. n .. ".", arrays)
  end
end

--- S.save(mod, path) -> true | nil, msg
function S.save(mod, path)
  if not class.is_a(mod, Module) then error("bad argument #1 to 'save' (module expected)", 2) end
  if type(path) ~= "string" then error("bad argument #2 to 'save' (string expected, got " .. type(path) .. ")", 2) end
  if not path:lower():match("%.npz$") then
    error(("bad argument #2 to 'save' (expected a path ending in .npz, got '%s')"):format(path), 2)
  end
  local ctx = { arrays = {}, nargs = 0, who = mod.full_name }
  local root = encode_node(mod, ctx, rawget(mod, "_name"))
  collect_arrays(mod, "", ctx.arrays)
  ctx.arrays[TREE] = to_bytes(json.encode { format = FORMAT, root = root })
  return lp.save(path, ctx.arrays)
end

-- loading -----------------------------------------------------------------

local function lerr(path, msg) error(("nn.load: '%s': %s"):format(path, msg), 0) end

local decode_node

local function decode_arg(v, ctx)
  if v == json.null then return nil end
  if type(v) ~= "table" then return v end
  if v.__array then
    local t = ctx.arrays[v.__array]
    if not t then lerr(ctx.path, ("missing array '%s'"):format(tostring(v.__array))) end
    return t
  end
  if v.__constant ~= nil then return P.Constant(decode_arg(v.__constant, ctx)) end
  if v.__module then return decode_node(v.__module, ctx) end
  if v.__list then
    local out = {}
    for i, x in ipairs(v.__list) do out[i] = decode_arg(x, ctx) end
    return out
  end
  local out = {}
  for k, x in pairs(v) do out[k] = decode_arg(x, ctx) end
  return out
end

function decode_node(node, ctx)
  if type(node) ~= "table" or type(node.class) ~= "string" then
    lerr(ctx.path, "corrupt module tree (a node has no class)")
  end
  local C = registry[node.class] or (S.lazy and S.lazy(node.class))
  if not C then
    lerr(ctx.path, ("unknown module class '%s' (register it with nn.register)"):format(node.class))
  end
  local mod
  if C.rebuild then
    mod = C.rebuild(C)
    for _, child in ipairs(node.children or {}) do
      local m = decode_node(child, ctx)
      local ok, err = pcall(mod._append, mod, m, child.name, 1)
      if not ok then lerr(ctx.path, tostring(err)) end
    end
  else
    local args = {}
    if type(node.args) ~= "table" then lerr(ctx.path, "corrupt module tree (a node has no args)") end
    for i, a in ipairs(node.args) do args[i] = decode_arg(a, ctx) end
    local ok, res = pcall(C, table.unpack(args, 1, node.nargs or #node.args))
    if not ok then
      lerr(ctx.path, ("cannot rebuild %s: %s"):format(node.class, tostring(res)))
    end
    mod = res
  end
  if type(node.name) == "string" then rawset(mod, "_name", node.name) end
  if type(node.attrs) == "table" then
    for k, v in pairs(node.attrs) do
      if mod._attrs[k] and not lp.is_tensor(mod._values[k]) then mod._values[k] = v end
    end
  end
  if node.training == false then mod:train(false) end
  return mod
end

local function apply_arrays(mod, prefix, ctx)
  for _, n in ipairs(mod._order) do
    if lp.is_tensor(mod._values[n]) then
      local key = prefix .. n
      local a = ctx.arrays[key]
      if not a then lerr(ctx.path, ("missing array '%s'"):format(key)) end
      ctx.used[key] = true
      local ok, err = pcall(mod._assign, mod, n, a, 1)
      if not ok then
        lerr(ctx.path, ("array '%s' does not fit: %s"):format(key, tostring(err):match("%((.*)%)$") or tostring(err)))
      end
    end
  end
  for _, n in ipairs(mod._mod_order) do apply_arrays(mod._mods[n], prefix .. n .. ".", ctx) end
end

--- S.load(path) -> module | nil, msg
function S.load(path)
  if type(path) ~= "string" then error("bad argument #1 to 'load' (string expected, got " .. type(path) .. ")", 2) end
  if not path:lower():match("%.npz$") then
    error(("bad argument #1 to 'load' (expected a path ending in .npz, got '%s')"):format(path), 2)
  end
  local ok, arrays, msg = pcall(lp.load, path)
  if not ok then lerr(path, tostring(arrays):gsub("^load: ", ""):gsub("^'[^']*' ?", "")) end
  if not arrays then return nil, msg end
  local tree_t = arrays[TREE]
  if not tree_t then lerr(path, "not a model file (no '" .. TREE .. "' entry)") end
  if tree_t.dtype ~= "uint8" then lerr(path, "corrupt module tree (not a uint8 array)") end
  local ok2, tree = pcall(json.decode, from_bytes(tree_t))
  if not ok2 then lerr(path, "corrupt module tree (" .. tostring(tree):gsub("^bad argument #1 to 'decode' %(", ""):gsub("%)$", "") .. ")") end
  if type(tree) ~= "table" or tree.format ~= FORMAT then
    lerr(path, "corrupt module tree (format is not '" .. FORMAT .. "')")
  end
  local ctx = { arrays = arrays, path = path, used = {} }
  local mod = decode_node(tree.root, ctx)
  apply_arrays(mod, "", ctx)
  return mod
end

return S
