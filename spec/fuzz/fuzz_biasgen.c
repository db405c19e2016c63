/*
** spec/fuzz/fuzz_biasgen.c -- fuzz harness: Dynap-SE2 bias-generator tables
** (devices/dynapse2/biasgen.lua, load_table / parse_table: the measured
** coarse x fine -> current tables, JSON or Python text).
** Input: the text of a table file. load_table returns the table or nil and
** a message naming the file; it must never raise. An accepted table must
** hold 256 finite, non-negative currents for each of the six coarse values of both
** types, and be usable: use_table, then digital_to_analog and
** analog_to_digital on it (or clean errors).
*/
#include "harness.h"

static const char *setup =
  "local lp = require 'limpet'\n"
  "local B = lp.dynapse2.biasgen\n"
  "return function(path)\n"
  "  local ok, t, msg = pcall(B.load_table, path)\n"
  "  if not ok then fuzz_fail('load_table raised: ' .. tostring(t)) end\n"
  "  if not t then\n"
  "    if type(msg) ~= 'string' or msg:sub(1, #path + 1) ~= path .. ':' then\n"
  "      fuzz_fail('load_table message does not name the file: ' .. tostring(msg))\n"
  "    end\n"
  "    return\n"
  "  end\n"
  "  for _, ty in ipairs { 'N', 'P' } do\n"
  "    for c = 0, 5 do\n"
  "      local row = t[ty][c]\n"
  "      if type(row) ~= 'table' then fuzz_fail(('accepted table: no row %s %d'):format(ty, c)) end\n"
  "      for f = 0, 255 do\n"
  "        local v = row[f]\n"
  "        if type(v) ~= 'number' or not (v >= 0 and v < math.huge) then\n"
  "          fuzz_fail(('accepted table: %s coarse %d fine %d is %s'):format(ty, c, f, tostring(v)))\n"
  "        end\n"
  "      end\n"
  "    end\n"
  "  end\n"
  "  local old = B.use_table(t)\n"
  "  local uok, err = pcall(function()\n"
  "    for c = 0, 5 do\n"
  "      for _, f in ipairs { 0, 1, 128, 255 } do\n"
  "        local i = B.digital_to_analog(c, f, 1, 'N')\n"
  "        local ok2, e2 = pcall(B.analog_to_digital, i, 1, 'N')\n"
  "        if not ok2 and (type(e2) ~= 'string' or e2:find('attempt to', 1, true)) then error(e2, 0) end\n"
  "      end\n"
  "    end\n"
  "  end)\n"
  "  B.use_table(old)\n"
  "  if not uok then fuzz_fail('a loaded table failed in use: ' .. tostring(err)) end\n"
  "end\n";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  return fz_lua_file(setup, "biasgen_table.txt", data, size);
}
