-- stdlib/limpet/json.lua -- JSON encode and decode (RFC 8259), pure Lua.
-- Owns: json.encode(value[, opts]) and json.decode(text), used by model
-- files (nn save/load) and configuration round trips.
-- Mapping: objects <-> tables with string keys, arrays <-> sequences (1..n),
-- json.null <-> the sentinel json.null, numbers <-> Lua numbers (integers
-- stay integers when written without fraction or exponent). Empty tables
-- encode as `{}` unless marked with json.array(t). Keys of objects are
-- written sorted so the output is deterministic.
-- Errors: encode raises "bad argument #1 to 'encode' (...)" for values JSON
-- cannot hold (functions, NaN, mixed tables, cycles); decode raises
-- "bad argument #1 to 'decode' (... at position N)".
local json = {}

json.null = setmetatable({}, { __name = "json.null", __tostring = function() return "null" end })
local array_mt = { __name = "json.array" }

--- json.array(t): mark t (default {}) to encode as an array even when empty.
function json.array(t) return setmetatable(t or {}, array_mt) end

local escapes = {
  ['"'] = '\\"', ["\\"] = "\\\\", ["\b"] = "\\b", ["\f"] = "\\f",
  ["\n"] = "\\n", ["\r"] = "\\r", ["\t"] = "\\t",
}
local function escape_str(s)
  return '"' .. s:gsub('[%c"\\]', function(c)
    return escapes[c] or ("\\u%04x"):format(c:byte())
  end) .. '"'
end

local function enc_error(msg) error("bad argument #1 to 'encode' (" .. msg .. ")", 0) end

local function encode_number(v)
  if math.type(v) == "integer" then return ("%d"):format(v) end
  if v ~= v then enc_error("cannot encode nan") end
  if v == math.huge or v == -math.huge then enc_error("cannot encode " .. (v > 0 and "inf" or "-inf")) end
  if v == math.floor(v) and math.abs(v) < 2^53 then
    return ("%.1f"):format(v)   -- keeps the value a float on the way back
  end
  local s = ("%.17g"):format(v)
  local short = ("%.15g"):format(v)   -- shortest of the two that round-trips
  if tonumber(short) == v then s = short end
  return s
end

local function encode(v, out, seen, indent, depth)
  local t = type(v)
  if v == nil or v == json.null then out[#out + 1] = "null"
  elseif t == "boolean" then out[#out + 1] = v and "true" or "false"
  elseif t == "number" then out[#out + 1] = encode_number(v)
  elseif t == "string" then out[#out + 1] = escape_str(v)
  elseif t == "table" then
    if seen[v] then enc_error("cycle in table") end
    seen[v] = true
    local n, nkeys = #v, 0
    for _ in pairs(v) do nkeys = nkeys + 1 end
    local nl = indent and ("\n" .. indent:rep(depth + 1)) or ""
    local close = indent and ("\n" .. indent:rep(depth)) or ""
    local sep = indent and ": " or ":"
    if getmetatable(v) == array_mt or (n > 0 and nkeys == n) then
      if nkeys ~= n then enc_error("array has non-sequence keys") end
      if n == 0 then out[#out + 1] = "[]" else
        out[#out + 1] = "["
        for i = 1, n do
          if i > 1 then out[#out + 1] = "," end
          out[#out + 1] = nl
          encode(v[i], out, seen, indent, depth + 1)
        end
        out[#out + 1] = close .. "]"
      end
    else
      local keys = {}
      for k in pairs(v) do
        if type(k) ~= "string" then enc_error("table mixes array and object keys or has a " .. type(k) .. " key") end
        keys[#keys + 1] = k
      end
      table.sort(keys)
      if #keys == 0 then out[#out + 1] = "{}" else
        out[#out + 1] = "{"
        for i, k in ipairs(keys) do
          if i > 1 then out[#out + 1] = "," end
          out[#out + 1] = nl .. escape_str(k) .. sep
          encode(v[k], out, seen, indent, depth + 1)
        end
        out[#out + 1] = close .. "}"
      end
    end
    seen[v] = nil
  else
    enc_error("cannot encode a " .. t)
  end
end

--- json.encode(value[, {indent = "  "}]) -> string
function json.encode(v, opts)
  local indent = opts and opts.indent
  if type(indent) == "number" then indent = (" "):rep(indent) end
  local out = {}
  encode(v, out, {}, indent, 0)
  return table.concat(out)
end

-- decoding ------------------------------------------------------------------
local function dec_error(msg, pos)
  error(("bad argument #1 to 'decode' (%s at position %d)"):format(msg, pos), 0)
end

local function skip(s, i)
  local b = s:byte(i)
  -- fast path: most values are not preceded by white space
  if b ~= 32 and b ~= 9 and b ~= 10 and b ~= 13 then return i end
  local _, e = s:find("^[ \t\r\n]*", i)
  return e + 1
end

local decode_value

local function utf8_char(cp) return utf8.char(cp) end

local function decode_string(s, i)   -- s:sub(i, i) == '"'
  local parts, j = {}, i + 1
  while true do
    local a, b = s:find('^[^"\\%c]+', j)
    if a then parts[#parts + 1] = s:sub(a, b); j = b + 1 end
    local c = s:sub(j, j)
    if c == '"' then return table.concat(parts), j + 1 end
    if c == "" then dec_error("unterminated string", i) end
    if c ~= "\\" then dec_error("control character in string", j) end
    local e = s:sub(j + 1, j + 1)
    local simple = ({ ['"'] = '"', ["\\"] = "\\", ["/"] = "/", b = "\b", f = "\f", n = "\n", r = "\r", t = "\t" })[e]
    if simple then parts[#parts + 1] = simple; j = j + 2
    elseif e == "u" then
      local hex = s:match("^%x%x%x%x", j + 2)
      if not hex then dec_error("bad \\u escape", j) end
      local cp = tonumber(hex, 16)
      j = j + 6
      if cp >= 0xD800 and cp <= 0xDBFF then
        local lo = s:match("^\\u(%x%x%x%x)", j)
        local l = lo and tonumber(lo, 16)
        if not l or l < 0xDC00 or l > 0xDFFF then dec_error("unpaired surrogate", j) end
        cp = 0x10000 + (cp - 0xD800) * 0x400 + (l - 0xDC00)
        j = j + 6
      elseif cp >= 0xDC00 and cp <= 0xDFFF then
        dec_error("unpaired surrogate", j - 6)
      end
      parts[#parts + 1] = utf8_char(cp)
    else
      dec_error("bad escape '\\" .. e .. "'", j)
    end
  end
end

local function decode_number(s, i)
  -- one match for the common shapes, then JSON's grammar checked on the text
  local text = s:match("^-?%d+%.?%d*[eE]?[-+]?%d*", i)
  if not text or text:find("^-?0%d") or text:find("%.$") or text:find("%.[eE]")
     or text:find("[eE][-+]?$") then
    -- fall back to the careful reader for the exact error position
    local int = s:match("^-?%d+", i)
    if not int or int:match("^-?0%d") then dec_error("bad number", i) end
    dec_error("bad number", i)
  end
  local j = i + #text
  if s:find("^[%.eE]", j) then dec_error("bad number", i) end
  local v = not text:find("[%.eE]") and math.tointeger(tonumber(text)) or nil
  if v == nil then v = tonumber(text) + 0.0 end
  return v, j
end

local B_LBRACE, B_RBRACE, B_LBRACK, B_RBRACK = 123, 125, 91, 93
local B_QUOTE, B_COLON, B_COMMA, B_MINUS = 34, 58, 44, 45

function decode_value(s, i, depth)
  if depth > 512 then dec_error("nesting too deep", i) end
  i = skip(s, i)
  local c = s:byte(i)
  if c == B_LBRACE then
    local obj = {}
    i = skip(s, i + 1)
    if s:byte(i) == B_RBRACE then return obj, i + 1 end
    while true do
      if s:byte(i) ~= B_QUOTE then dec_error("expected a string key", i) end
      local k
      k, i = decode_string(s, i)
      i = skip(s, i)
      if s:byte(i) ~= B_COLON then dec_error("expected ':'", i) end
      local v
      v, i = decode_value(s, i + 1, depth + 1)
      obj[k] = v
      i = skip(s, i)
      local d = s:byte(i)
      if d == B_RBRACE then return obj, i + 1 end
      if d ~= B_COMMA then dec_error("expected ',' or '}'", i) end
      i = skip(s, i + 1)
    end
  elseif c == B_LBRACK then
    local arr, n = json.array(), 0
    i = skip(s, i + 1)
    if s:byte(i) == B_RBRACK then return arr, i + 1 end
    -- fast path: a flat array of numbers (weights, spikes) read in one sweep
    local _, e = s:find("^[-%d%.eE+, \t\r\n]*%]", i)
    if e then
      local ok = true
      for tok in s:sub(i, e - 1):gmatch("[^,%s]+") do
        if not tok:find("^-?%d+%.?%d*[eE]?[-+]?%d*$") or tok:find("^-?0%d") or tok:find("%.$")
           or tok:find("%.[eE]") or tok:find("[eE][-+]?$") then ok = false; break end
        local v = not tok:find("[%.eE]") and math.tointeger(tonumber(tok)) or nil
        if v == nil then v = tonumber(tok) + 0.0 end
        n = n + 1
        arr[n] = v
      end
      -- the separators must be exactly one comma between values
      if ok and n > 0 and select(2, s:sub(i, e - 1):gsub(",", "")) == n - 1 then return arr, e + 1 end
      for k = n, 1, -1 do arr[k] = nil end
      n = 0
    end
    while true do
      local v
      local b = s:byte(i)
      if b == B_MINUS or (b and b >= 48 and b <= 57) then v, i = decode_number(s, i)
      else v, i = decode_value(s, i, depth + 1) end
      n = n + 1
      arr[n] = v
      i = skip(s, i)
      local d = s:byte(i)
      if d == B_RBRACK then return arr, i + 1 end
      if d ~= B_COMMA then dec_error("expected ',' or ']'", i) end
      i = skip(s, i + 1)
    end
  elseif c == B_QUOTE then return decode_string(s, i)
  elseif c == B_MINUS or (c and c >= 48 and c <= 57) then return decode_number(s, i)
  elseif s:sub(i, i + 3) == "true" then return true, i + 4
  elseif s:sub(i, i + 4) == "false" then return false, i + 5
  elseif s:sub(i, i + 3) == "null" then return json.null, i + 4
  elseif c == nil then dec_error("unexpected end of input", i)
  end
  dec_error("unexpected character '" .. string.char(c) .. "'", i)
end

--- json.decode(text) -> value (null becomes json.null)
function json.decode(s)
  if type(s) ~= "string" then
    error(("bad argument #1 to 'decode' (string expected, got %s)"):format(type(s)), 2)
  end
  local v, i = decode_value(s, 1, 0)
  i = skip(s, i)
  if i <= #s then dec_error("trailing characters", i) end
  return v
end

return json
