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
-- Every problem with the file raises "nn.load: '<path>': <problem>", naming
-- the field at fault: the tree is checked for types and counts before
-- anything is built from it, attribute values keep the types the rebuilt
-- module gives them, and time constants (family "taus") and time steps
-- (`dt`) must be positive and finite. Running out of memory is reported as
-- "not enough memory", never as corrupt content.

local function lerr(path, msg) error(("nn.load: '%s': %s"):format(path, msg), 0) end

-- Did memory run out? (not a content error: limpet.jsonfile says how it tells)
local is_oom = require("limpet.jsonfile").is_oom
-- After a pcall inside the loader: a memory error goes up as it is.
local function pass_oom(ok, err) if not ok and is_oom(err) then error(err, 0) end end

local function is_array(v) return type(v) == "table" and v ~= json.null end

-- "node 2_LIF" / "the root node": where in the tree a problem is
local function where(node_path) return node_path == "" and "the root node" or ("node '" .. node_path .. "'") end

-- Time constants (family "taus") and time steps (`dt`) must be positive and
-- finite: a tau of 0 divides by zero, a negative one grows without bound, a
-- NaN one silences the layer (all-zero output). Checked on the values from
-- the file, before they are assigned.
local function shown(v) if v ~= v then return "nan" end return tostring(v) end
local function time_value(meta, name)
  if meta and meta.family == "taus" then return "time constants" end
  if name == "dt" then return "the time step" end
end
local function check_time(ctx, field, what, v)
  if lp.is_tensor(v) then
    if v:numel() == 0 then return end
    local bad = v:le(0):logical_or(v:isnan()):logical_or(v:isinf()):reshape(-1)
    if bad:sum():item() > 0 then
      local i = bad:astype("int8"):argmax():item()
      lerr(ctx.path, ("%s holds %s at position %d (%s must be positive and finite)"):format(field,
        shown(v:reshape(-1)[i]), i, what))
    end
  elseif type(v) == "number" and not (v > 0 and v < math.huge) then
    lerr(ctx.path, ("%s is %s (%s must be positive and finite)"):format(field, shown(v), what))
  end
end

local decode_node

local function decode_arg(v, ctx, at)
  if v == json.null then return nil end
  if type(v) ~= "table" then return v end
  if v.__array ~= nil then
    if type(v.__array) ~= "string" then lerr(ctx.path, ("%s: field '__array' must be a string"):format(at)) end
    local t = ctx.arrays[v.__array]
    if not t then lerr(ctx.path, ("missing array '%s'"):format(v.__array)) end
    return t
  end
  if v.__constant ~= nil then return P.Constant(decode_arg(v.__constant, ctx, at)) end
  if v.__module ~= nil then
    if type(v.__module) ~= "table" then lerr(ctx.path, ("%s: field '__module' must be a node"):format(at)) end
    return decode_node(v.__module, ctx, at)
  end
  if v.__list ~= nil then
    if not is_array(v.__list) then lerr(ctx.path, ("%s: field '__list' must be an array"):format(at)) end
    local out = {}
    for i, x in ipairs(v.__list) do out[i] = decode_arg(x, ctx, at) end
    return out
  end
  local out = {}
  for k, x in pairs(v) do out[k] = decode_arg(x, ctx, at) end
  return out
end

local MAX_ARGS = 64

function decode_node(node, ctx, node_path)
  local at = where(node_path)
  if type(node) ~= "table" or type(node.class) ~= "string" then
    lerr(ctx.path, ("corrupt module tree (%s has no class)"):format(at))
  end
  local C = registry[node.class] or (S.lazy and S.lazy(node.class))
  if not C then
    lerr(ctx.path, ("unknown module class '%s' (register it with nn.register)"):format(node.class))
  end
  for _, f in ipairs { { "name", "string" }, { "training", "boolean" } } do
    local v = node[f[1]]
    if v ~= nil and v ~= json.null and type(v) ~= f[2] then
      lerr(ctx.path, ("%s: field '%s' must be a %s, got %s"):format(at, f[1], f[2], type(v)))
    end
  end
  if node.attrs ~= nil and (type(node.attrs) ~= "table" or node.attrs == json.null) then
    lerr(ctx.path, ("%s: field 'attrs' must be an object, got %s"):format(at, type(node.attrs)))
  end
  local mod
  if C.rebuild then
    if node.children ~= nil and not is_array(node.children) then
      lerr(ctx.path, ("%s: field 'children' must be an array, got %s"):format(at, type(node.children)))
    end
    mod = C.rebuild(C)
    for i, child in ipairs(node.children or {}) do
      local cname = type(child) == "table" and child.name
      local m = decode_node(child, ctx, (node_path == "" and "" or node_path .. ".") ..
        (type(cname) == "string" and cname or tostring(i)))
      local ok, err = pcall(mod._append, mod, m, type(cname) == "string" and cname or nil, 1)
      pass_oom(ok, err)
      if not ok then lerr(ctx.path, tostring(err)) end
    end
  else
    if not is_array(node.args) then lerr(ctx.path, ("corrupt module tree (%s has no args)"):format(at)) end
    local nargs = node.nargs == nil and #node.args or node.nargs
    if math.type(nargs) ~= "integer" or nargs < 0 or nargs > #node.args or nargs > MAX_ARGS then
      lerr(ctx.path, ("%s: field 'nargs' must be an integer in 0..%d, got %s"):format(at,
        math.min(#node.args, MAX_ARGS), tostring(nargs)))
    end
    local args = {}
    for i = 1, nargs do args[i] = decode_arg(node.args[i], ctx, ("%s, argument #%d"):format(at, i)) end
    local ok, res = pcall(C, table.unpack(args, 1, nargs))
    pass_oom(ok, res)
    if not ok then
      lerr(ctx.path, ("cannot rebuild %s: %s"):format(node.class, tostring(res)))
    end
    mod = res
  end
  if type(node.name) == "string" then rawset(mod, "_name", node.name) end
  if node.attrs then
    local keys = {}
    for k in pairs(node.attrs) do keys[#keys + 1] = k end
    table.sort(keys)
    for _, k in ipairs(keys) do
      local v, old = node.attrs[k], mod._attrs[k] and mod._values[k]
      if old == nil or lp.is_tensor(old) then
        lerr(ctx.path, ("%s: unknown attribute '%s' for class %s"):format(at, k, node.class))
      end
      if type(v) ~= type(old) then
        lerr(ctx.path, ("%s: attribute '%s' must be a %s, got %s"):format(at, k, type(old),
          v == json.null and "null" or type(v)))
      end
      local what = time_value(mod._attrs[k], k)
      if what then
        check_time(ctx, ("attribute '%s'"):format(node_path == "" and k or node_path .. "." .. k), what, v)
      end
      mod._values[k] = v
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
      local what = time_value(mod._attrs[n], n)
      if what then check_time(ctx, ("array '%s'"):format(key), what, a) end
      local ok, err = pcall(mod._assign, mod, n, a, 1)
      pass_oom(ok, err)
      if not ok then
        lerr(ctx.path, ("array '%s' does not fit: %s"):format(key, tostring(err):match("%((.*)%)$") or tostring(err)))
      end
    end
  end
  for _, n in ipairs(mod._mod_order) do apply_arrays(mod._mods[n], prefix .. n .. ".", ctx) end
end

local function load_file(path)
  local ok, arrays, msg = pcall(lp.load, path)
  pass_oom(ok, arrays)
  if not ok then lerr(path, (tostring(arrays):gsub("^[^\n]-:%d+: ", ""):gsub("^load: ", ""):gsub("^'[^']*' ?", ""))) end
  if not arrays then return nil, msg end
  if lp.is_tensor(arrays) then lerr(path, "not a model file (a single array, not an archive)") end
  local tree_t = arrays[TREE]
  if not tree_t then lerr(path, "not a model file (no '" .. TREE .. "' entry)") end
  if tree_t.dtype ~= "uint8" then lerr(path, "corrupt module tree (not a uint8 array)") end
  local ok2, tree = pcall(json.decode, from_bytes(tree_t))
  pass_oom(ok2, tree)
  if not ok2 then lerr(path, "corrupt module tree (" .. tostring(tree):gsub("^bad argument #1 to 'decode' %(", ""):gsub("%)$", "") .. ")") end
  if type(tree) ~= "table" or tree.format ~= FORMAT then
    lerr(path, "corrupt module tree (format is not '" .. FORMAT .. "')")
  end
  local ctx = { arrays = arrays, path = path, used = {} }
  local mod = decode_node(tree.root, ctx, "")
  apply_arrays(mod, "", ctx)
  return mod
end

--- S.load(path) -> module | nil, msg
function S.load(path)
  if type(path) ~= "string" then error("bad argument #1 to 'load' (string expected, got " .. type(path) .. ")", 2) end
  if not path:lower():match("%.npz$") then
    error(("bad argument #1 to 'load' (expected a path ending in .npz, got '%s')"):format(path), 2)
  end
  local ok, mod, msg = pcall(load_file, path)
  if ok then return mod, msg end
  local e = tostring(mod)
  if is_oom(e) then error(("nn.load: '%s': not enough memory"):format(path), 0) end   -- the machine, not the file
  if e:sub(1, 9) ~= "nn.load: " then e = ("nn.load: '%s': %s"):format(path, e) end
  error(e, 0)
end

return S
