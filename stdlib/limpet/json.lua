-- stdlib/limpet/json.lua -- JSON encode and decode (RFC 8259) through
-- libjansson (lua/l_json.c), with numeric arrays of large documents read
-- straight into tensors (core/src/json_num.c).
-- Owns: json.encode(value[, opts]), json.decode(text[, opts]), json.null,
-- json.array, json.numbers; used by model files (nn save/load) and
-- configuration files.
-- Mapping: objects <-> tables with string keys, arrays <-> sequences (1..n,
-- marked with json.array on decode), json.null <-> the sentinel json.null,
-- numbers <-> Lua numbers (integers stay integers when written without
-- fraction or exponent; floats keep a ".0" or a fraction). Empty tables
-- encode as `{}` unless marked with json.array(t). Object keys are written
-- sorted so the output is deterministic. Floats are written with 17
-- significant digits where fewer do not read back the same (jansson's
-- JSON_REAL_PRECISION(17)), so every double survives a round trip.
-- Errors: encode raises "bad argument #1 to 'encode' (...)" for values JSON
-- cannot hold (functions, NaN, infinities, mixed tables, cycles, strings that
-- are not UTF-8); decode raises "bad argument #1 to 'decode' (... at position
-- N)" with jansson's words and the 1-based byte position, and refuses
-- duplicate object keys.
local core = require "limpet.core"

local json = {}

json.null = setmetatable({}, { __name = "json.null", __tostring = function() return "null" end })
local array_mt = { __name = "json.array" }

--- json.array(t): mark t (default {}) to encode as an array even when empty.
function json.array(t) return setmetatable(t or {}, array_mt) end

local function check_opts(o, allowed, fname)
  if o == nil then return {} end
  if type(o) ~= "table" then
    error(("bad argument #2 to '%s' (options table expected, got %s)"):format(fname, type(o)), 3)
  end
  for k in pairs(o) do
    if not allowed[k] then error(("bad argument #2 to '%s' (unknown option '%s')"):format(fname, tostring(k)), 3) end
  end
  return o
end

--- json.encode(value[, {indent = 2 | "  "}]) -> string
function json.encode(v, opts)
  opts = check_opts(opts, { indent = true }, "encode")
  local indent = opts.indent
  if type(indent) == "string" then
    if indent:find("[^ ]") then error("bad argument #2 to 'encode' (indent must be spaces)", 2) end
    indent = #indent
  elseif indent ~= nil and math.type(indent) ~= "integer" then
    error(("bad argument #2 to 'encode' (indent must be an integer or a string of spaces, got %s)"):format(type(indent)), 2)
  end
  return core._json_encode(v, json.null, array_mt, indent)
end

--- json.decode(text[, {tensors = true}]) -> value (null becomes json.null).
--- With tensors, members of a top-level object that are rectangular arrays
--- of numbers come back as float64 tensors (configuration files use this).
function json.decode(s, opts)
  if type(s) ~= "string" then
    error(("bad argument #1 to 'decode' (string expected, got %s)"):format(type(s)), 2)
  end
  opts = check_opts(opts, { tensors = true }, "decode")
  return core._json_decode(s, json.null, array_mt, opts.tensors and true or false)
end

--- json.numbers(tensor) -> the compact JSON text of a tensor as nested arrays
--- (integers for integer dtypes; NaN/inf refused).
json.numbers = core._json_numbers

return json
