/*
** spec/fuzz/fuzz_json.c -- fuzz harness: generic JSON text (lp.json.decode:
** lua/l_json.c through libjansson, and core's numeric-array scanner,
** core/src/json_num.c, behind the `tensors` option). Every JSON reader of
** limpet goes through here: model trees, Xylo and Dynap-SE2 configurations,
** sweep.jsonl records.
** Input: JSON text. A refusal must be "bad argument #1 to 'decode' (...)".
** An accepted value must encode and decode back to the same value (deep:
** keys, array marks, integers vs floats, json.null), and the encoded text
** must be stable (encode(decode(encode(v))) == encode(v)); decoded with
** tensors = true it must give the same numbers.
*/
#include "harness.h"

static const char *setup =
  "local lp = require 'limpet'\n"
  "local json = lp.json\n"
  "local function same(a, b, depth)\n"
  "  if depth > 200 then return true end\n"
  "  if type(a) ~= type(b) then return false end\n"
  "  if type(a) ~= 'table' then return a == b and math.type(a) == math.type(b) end\n"
  "  if getmetatable(a) ~= getmetatable(b) then return false end\n"
  "  for k, v in pairs(a) do if not same(v, b[k], depth + 1) then return false end end\n"
  "  for k in pairs(b) do if a[k] == nil then return false end end\n"
  "  return true\n"
  "end\n"
  "local function check_err(e, what)\n"
  "  if type(e) ~= 'string' or not e:find(\"^bad argument #1 to '\" .. what .. \"' %(\") then\n"
  "    fuzz_fail(what .. ' error is not an argument error: ' .. tostring(e))\n"
  "  end\n"
  "end\n"
  "return function(path)\n"
  "  local f = assert(io.open(path, 'rb'))\n"
  "  local text = f:read('a')\n"
  "  f:close()\n"
  "  local ok, v = pcall(json.decode, text)\n"
  "  if not ok then check_err(v, 'decode') return end\n"
  "  local eok, s = pcall(json.encode, v)\n"
  "  if not eok then fuzz_fail('a decoded value does not encode: ' .. tostring(s)) end\n"
  "  local dok, back = pcall(json.decode, s)\n"
  "  if not dok then fuzz_fail('encoded text does not decode: ' .. tostring(back)) end\n"
  "  if not same(v, back, 0) then fuzz_fail('round trip changed the value: ' .. s:sub(1, 200)) end\n"
  "  if json.encode(back) ~= s then fuzz_fail('encoding is not stable: ' .. s:sub(1, 200)) end\n"
  "  local tok, tv = pcall(json.decode, text, { tensors = true })\n"
  "  if not tok then\n"
  "    if not tostring(tv):find('not enough memory', 1, true) and not tostring(tv):find('cap', 1, true) then\n"
  "      fuzz_fail('decodes, but not with tensors = true: ' .. tostring(tv))\n"
  "    end\n"
  "    return\n"
  "  end\n"
  "  if type(tv) == 'table' and type(v) == 'table' and getmetatable(v) == nil then\n"
  "    for k, x in pairs(tv) do\n"
  "      if lp.is_tensor(x) then\n"
  "        local flat, want = x:reshape(-1):totable(), {}\n"
  "        local function walk(t) for _, y in ipairs(t) do if type(y) == 'table' then walk(y) else want[#want + 1] = y end end end\n"
  "        walk(v[k])\n"
  "        if #flat ~= #want then fuzz_fail(('tensors = true: member %s has %d numbers, not %d'):format(k, #flat, #want)) end\n"
  "        for i = 1, #flat do\n"
  "          if flat[i] ~= want[i] + 0.0 then fuzz_fail(('tensors = true: member %s number %d is %.17g, not %.17g'):format(k, i, flat[i], want[i])) end\n"
  "        end\n"
  "      elseif not same(x, v[k], 0) then fuzz_fail('tensors = true changed member ' .. tostring(k))\n"
  "      end\n"
  "    end\n"
  "  end\n"
  "end\n";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  return fz_lua_file(setup, "input.json", data, size);
}
