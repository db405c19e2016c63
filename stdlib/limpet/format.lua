-- stdlib/limpet/format.lua -- pretty-printing of tensors and tables.
-- Owns: `lp.format(value, opts)` (NumPy-like tensor text: aligned columns,
-- a common float format, summarised middles for large tensors; tables
-- recursively with sorted keys, cycles and a depth limit; module tables
-- such as `lp.nn` as a short summary), `t:show()`'s and `tostring(t)`'s
-- text and the REPL's result printing. Not here: the one-line
-- `limpet.Tensor(f32, (3, 4))` (t:brief(), lua/l_tensor.c), the REPL loop
-- (repl.lua).
-- Uses only the public tensor API: t.shape, t.dtype, t:dim(), t:numel(),
-- t:totable(), t:slice(), t[i].
--
--   tensor([[1, 2],
--           [3, 4]], dtype=int64, shape=(2, 2))
local core = require "limpet.core"

local M = {}

-- Defaults, changed for the session with format.set_options{...}.
M.defaults = {
  precision = 4,      -- significant digits shared by a float tensor's values
  threshold = 1000,   -- more elements than this: summarise with `...`
  edgeitems = 3,      -- items kept at each end of a summarised dim
  linewidth = 80,     -- rows wrap beyond this many characters
  depth = 4,          -- tables nested deeper print as {...}
}

local ELLIPSIS = setmetatable({}, { __tostring = function() return "..." end })

local function is_tensor(v)
  return type(v) == "userdata" and core.is_tensor(v)
end

-- opts merged over the defaults; unknown fields and wrong types raise in
-- luaL_argerror's words for argument `argno` of function `fname`.
local function options(fname, argno, opts)
  local o = {}
  for k, v in pairs(M.defaults) do o[k] = v end
  if opts == nil then return o end
  if type(opts) ~= "table" then
    error(("bad argument #%d to '%s' (table expected, got %s)"):format(argno, fname, type(opts)), 3)
  end
  for k, v in pairs(opts) do
    if M.defaults[k] == nil then
      error(("bad argument #%d to '%s' (unknown field '%s')"):format(argno, fname, tostring(k)), 3)
    end
    if math.type(v) ~= "integer" or v < (k == "precision" and 1 or 0) then
      error(("bad argument #%d to '%s' (field '%s' must be %s integer)")
        :format(argno, fname, k, k == "precision" and "a positive" or "a non-negative"), 3)
    end
    o[k] = v
  end
  return o
end

---------------------------------------------------------------------------
-- numbers

local function is_finite(x) return x == x and x ~= math.huge and x ~= -math.huge end

local function special(x)
  if x ~= x then return "nan" end
  return x > 0 and "inf" or "-inf"
end

-- Remove the trailing zeros that every string has in common after the
-- decimal point (the point stays, NumPy's "1."). `mant` splits off an
-- exponent suffix first.
local function trim_common_zeros(strs, idx)
  local common = math.huge
  for _, i in ipairs(idx) do
    local m = strs[i]:match "^[^e]*"
    local frac = m:match "%.(%d*)$" or ""
    local z = #(frac:match "0*$")
    if z < common then common = z end
  end
  if common == 0 or common == math.huge then return end
  for _, i in ipairs(idx) do
    local m, e = strs[i]:match "^([^e]*)(.*)$"
    strs[i] = m:sub(1, #m - common) .. e
  end
end

-- Strings for float values with one shared format: fixed notation with the
-- decimals that give the largest magnitude `precision` significant digits,
-- or scientific when magnitudes span too much (NumPy's rule).
local function format_floats(vals, prec)
  local out, finite = {}, {}
  local maxa, mina = 0, math.huge
  for i, x in ipairs(vals) do
    if is_finite(x) then
      finite[#finite + 1] = i
      local a = math.abs(x)
      if a > maxa then maxa = a end
      if a > 0 and a < mina then mina = a end
    else
      out[i] = special(x)
    end
  end
  local sci = maxa >= 1e8 or mina < 1e-4 or (mina < math.huge and maxa / mina >= 1e3)
  local fmt
  if sci then
    fmt = "%." .. (prec - 1) .. "e"
  else
    local decimals = 0
    if maxa > 0 then decimals = math.max(0, prec - 1 - math.floor(math.log(maxa, 10))) end
    fmt = "%." .. decimals .. "f"
  end
  for _, i in ipairs(finite) do
    local s = fmt:format(vals[i])
    if not s:find "[%.e]" then s = s .. "." end
    if sci then s = s:gsub("^(%-?%d)e", "%1.e") end
    out[i] = s
  end
  trim_common_zeros(out, finite)
  return out
end

local function format_values(vals, dtype, prec)
  if dtype == "float32" or dtype == "float64" then return format_floats(vals, prec) end
  local out = {}
  for i, x in ipairs(vals) do
    if type(x) == "boolean" then out[i] = tostring(x)
    elseif math.type(x) == "integer" then out[i] = ("%d"):format(x)
    else out[i] = tostring(x) end
  end
  return out
end

---------------------------------------------------------------------------
-- tensors

local function shape_str(shape)
  if #shape == 1 then return "(" .. shape[1] .. ",)" end
  return "(" .. table.concat(shape, ", ") .. ")"
end

-- The values to show as nested tables, with ELLIPSIS where a summarised dim
-- skips its middle.
local function gather(t, summarise, edge)
  local n = t.shape[1]
  local cut = summarise and n > 2 * edge
  if t:dim() == 1 then
    if not cut then return t:totable() end
    local head, tail = t:slice(1, 1, edge):totable(), t:slice(1, n - edge + 1, n):totable()
    head[#head + 1] = ELLIPSIS
    for _, v in ipairs(tail) do head[#head + 1] = v end
    return head
  end
  local rows = {}
  local function add(i) rows[#rows + 1] = gather(t[i], summarise, edge) end
  if cut then
    for i = 1, edge do add(i) end
    rows[#rows + 1] = ELLIPSIS
    for i = n - edge + 1, n do add(i) end
  else
    for i = 1, n do add(i) end
  end
  return rows
end

local function leaves(node, depth, nd, out)
  for _, child in ipairs(node) do
    if child ~= ELLIPSIS then
      if depth == nd then out[#out + 1] = child else leaves(child, depth + 1, nd, out) end
    end
  end
end

-- Render node (a list at nesting level `depth`, 1-based) starting at column
-- `col` (where its "[" goes). Items are padded to `width`.
local function render(node, depth, nd, col, ctx)
  local parts = {}
  if depth == nd then
    local line, lines = "[", {}
    local limit = ctx.linewidth
    for i, x in ipairs(node) do
      local s
      if x == ELLIPSIS then s = "..."
      else
        ctx.k = ctx.k + 1
        s = ctx.strs[ctx.k]
        s = (" "):rep(ctx.width - #s) .. s
      end
      local sep = i < #node and "," or ""
      local used = #lines == 0 and col + #line or #line
      if i > 1 and used + 1 + #s + #sep > limit then
        lines[#lines + 1] = line
        line = (" "):rep(col + 1) .. s .. sep
      else
        line = line .. (i > 1 and " " or "") .. s .. sep
      end
    end
    lines[#lines + 1] = line .. "]"
    return table.concat(lines, "\n")
  end
  local gap = ",\n" .. ("\n"):rep(nd - depth - 1)
  for i, child in ipairs(node) do
    local s
    if child == ELLIPSIS then s = "..."
    else s = render(child, depth + 1, nd, col + 1, ctx) end
    parts[#parts + 1] = (i > 1 and (" "):rep(col + 1) or "") .. s
  end
  return "[" .. table.concat(parts, gap) .. "]"
end

--- format.tensor(t, opts) -> string
function M.tensor(t, opts)
  local o = options("tensor", 2, opts)
  return M._tensor(t, o)
end

function M._tensor(t, o)
  local shape = t.shape
  if shape == nil then return t:brief() end            -- released
  local dtype, nd, numel = t.dtype, #shape, t:numel()
  local tail = ", dtype=" .. dtype .. ", shape=" .. shape_str(shape) .. ")"
  if nd == 0 then
    return "tensor(" .. format_values({ t:totable() }, dtype, o.precision)[1] .. tail
  end
  if numel == 0 then return "tensor([]" .. tail end
  local data = gather(t, numel > o.threshold, o.edgeitems)
  local vals = {}
  leaves(data, 1, nd, vals)
  local strs = format_values(vals, dtype, o.precision)
  local width = 0
  for _, s in ipairs(strs) do if #s > width then width = #s end end
  local ctx = { strs = strs, width = width, k = 0, linewidth = o.linewidth }
  return "tensor(" .. render(data, 1, nd, #"tensor(", ctx) .. tail
end

---------------------------------------------------------------------------
-- tables and other values

local function quote(s)
  return (("%q"):format(s):gsub("\\\n", "\\n"))
end

local function is_identifier(k)
  return type(k) == "string" and k:match "^[%a_][%w_]*$" ~= nil and not ({
    ["and"] = 1, ["break"] = 1, ["do"] = 1, ["else"] = 1, ["elseif"] = 1, ["end"] = 1,
    ["false"] = 1, ["for"] = 1, ["function"] = 1, ["goto"] = 1, ["if"] = 1, ["in"] = 1,
    ["local"] = 1, ["nil"] = 1, ["not"] = 1, ["or"] = 1, ["repeat"] = 1, ["return"] = 1,
    ["then"] = 1, ["true"] = 1, ["until"] = 1, ["while"] = 1 })[k]
end

local type_rank = { number = 1, string = 2, boolean = 3 }

local function key_less(a, b)
  local ta, tb = type(a), type(b)
  if ta ~= tb then return (type_rank[ta] or 9) < (type_rank[tb] or 9) or
    ((type_rank[ta] or 9) == (type_rank[tb] or 9) and ta < tb) end
  if ta == "number" or ta == "string" then return a < b end
  return tostring(a) < tostring(b)
end

local function key_str(k)
  if is_identifier(k) then return k end
  if type(k) == "string" then return "[" .. quote(k) .. "]" end
  return "[" .. tostring(k) .. "]"
end

local value_str

-- A table at indentation `indent` (a string of spaces).
local function table_str(v, o, depth, seen, indent)
  if seen[v] then return "<cycle>" end
  if depth > o.depth then return "{...}" end
  seen[v] = true
  local items, n = {}, rawlen(v)
  for i = 1, n do items[#items + 1] = value_str(rawget(v, i), o, depth + 1, seen, indent .. "  ") end
  local keys = {}
  for k in next, v do
    if not (math.type(k) == "integer" and k >= 1 and k <= n) then keys[#keys + 1] = k end
  end
  table.sort(keys, key_less)
  for _, k in ipairs(keys) do
    items[#items + 1] = key_str(k) .. " = " .. value_str(rawget(v, k), o, depth + 1, seen, indent .. "  ")
  end
  seen[v] = nil
  if #items == 0 then return "{}" end
  local one = "{" .. table.concat(items, ", ") .. "}"
  if not one:find "\n" and #indent + #one <= o.linewidth then return one end
  return "{\n" .. indent .. "  " .. table.concat(items, ",\n" .. indent .. "  ") .. "\n" .. indent .. "}"
end

-- ---- module and class tables: a summary, not their internals ----------

-- table -> its name in package.loaded (the shortest, if several).
local function loaded_modules()
  local map = {}
  for name, m in pairs(package.loaded) do
    if type(name) == "string" and type(m) == "table" and (not map[m] or #name < #map[m]) then
      map[m] = name
    end
  end
  return map
end

-- A class (limpet/class.lua, the time-series classes): a table with a
-- string __name and an __index of its own.
local function class_name(v)
  local n = rawget(v, "__name")
  if type(n) == "string" and rawget(v, "__index") ~= nil then return n end
  return nil
end

-- "head: a, b, c" wrapped at o.linewidth with a hanging indent.
local function wrapped(head, names, o, indent)
  local lines, line = {}, indent .. head
  local pad = indent .. (" "):rep(#head)
  for i, n in ipairs(names) do
    local piece = n .. (i < #names and "," or "")
    if #line + 1 + #piece > o.linewidth and line ~= indent .. head then
      lines[#lines + 1] = line
      line = pad .. piece
    else
      line = line .. (line:sub(-1) == " " and "" or " ") .. piece
    end
  end
  lines[#lines + 1] = line
  return table.concat(lines, "\n")
end

local function module_summary(v, name, o)
  local groups = { classes = {}, submodules = {}, functions = {}, tables = {}, values = {} }
  local count = 0
  for k, x in next, v do
    if type(k) == "string" then
      count = count + 1
      local tx = type(x)
      if tx == "function" then groups.functions[#groups.functions + 1] = k
      elseif tx == "table" and class_name(x) then groups.classes[#groups.classes + 1] = k
      elseif tx == "table" and o.mods[x] then groups.submodules[#groups.submodules + 1] = k
      elseif tx == "table" or tx == "userdata" then groups.tables[#groups.tables + 1] = k
      else groups.values[#groups.values + 1] = k .. " = " .. (tx == "string" and quote(x) or tostring(x)) end
    end
  end
  local lazy = {}
  local mt = getmetatable(v)
  local more = type(mt) == "table" and rawget(mt, "__complete")
  if type(more) == "function" then more = more(v) end
  if type(more) == "table" then
    for _, k in ipairs(more) do
      if rawget(v, k) == nil then lazy[#lazy + 1] = k; count = count + 1 end
    end
  end
  local out = { ("module '%s': %d entries"):format(name, count) }
  for _, g in ipairs { { "classes", "classes: " }, { "submodules", "modules: " },
                       { "functions", "functions: " }, { "tables", "tables: " }, { "values", "values: " } } do
    local list = groups[g[1]]
    if #list > 0 then
      table.sort(list)
      out[#out + 1] = wrapped(g[2], list, o, "  ")
    end
  end
  if #lazy > 0 then
    table.sort(lazy)
    out[#out + 1] = wrapped("loaded on first use: ", lazy, o, "  ")
  end
  return table.concat(out, "\n")
end

local function class_summary(v, name, o)
  local methods, fields = {}, {}
  for k, x in next, v do
    if type(k) == "string" and k:sub(1, 2) ~= "__" and k ~= "super" then
      if type(x) == "function" then methods[#methods + 1] = k else fields[#fields + 1] = k end
    end
  end
  table.sort(methods)
  table.sort(fields)
  local super = rawget(v, "super")
  local head = ("class '%s'"):format(name)
  if type(super) == "table" and class_name(super) then head = head .. (" (a subclass of '%s')"):format(class_name(super)) end
  local out = { head }
  if #methods > 0 then out[#out + 1] = wrapped("methods: ", methods, o, "  ") end
  if #fields > 0 then out[#out + 1] = wrapped("fields: ", fields, o, "  ") end
  return table.concat(out, "\n")
end

function value_str(v, o, depth, seen, indent)
  local tv = type(v)
  if tv == "string" then return quote(v) end
  if tv == "table" then
    local mt = getmetatable(v)
    if mt and mt.__tostring then return tostring(v) end
    o.mods = o.mods or loaded_modules()
    local cls = class_name(v)
    if cls then return depth == 1 and class_summary(v, cls, o) or ("<class '%s'>"):format(cls) end
    local mod = o.mods[v]
    if mod then return depth == 1 and module_summary(v, mod, o) or ("<module '%s'>"):format(mod) end
    return table_str(v, o, depth, seen, indent)
  end
  if is_tensor(v) then
    local shape = v.shape
    if shape and #shape <= 1 and v:numel() <= 16 then return M._tensor(v, o) end
    return v:brief()
  end
  if math.type(v) == "integer" then return ("%d"):format(v) end
  return tostring(v)
end

--- format.format(value, opts) -> string: tensors NumPy-style, tables
--- recursively, strings quoted, anything else through tostring.
function M.format(v, opts)
  local o = options("format", 2, opts)
  if is_tensor(v) then return M._tensor(v, o) end
  return value_str(v, o, 1, {}, "")
end

--- format.tostring(t) -> string: tostring(t) of a tensor (the values with
--- the session's defaults; summarised with `...` beyond `threshold`
--- elements, as NumPy's print).
function M.tostring(t)
  return M._tensor(t, M.defaults)
end

--- format.show(value, opts): print format(value, opts).
function M.show(v, opts)
  print(M.format(v, opts))
  return v
end

--- format.set_options{precision = , threshold = , edgeitems = , linewidth = , depth = }:
--- change the defaults for the rest of the session.
function M.set_options(opts)
  local o = options("set_options", 1, opts)
  for k, v in pairs(o) do M.defaults[k] = v end
end

return M
