/*
** spec/fuzz/fuzz_dynapse2_config.c -- fuzz harness: Dynap-SE2 configuration
** files, what dynapse2.load_config parses (devices/dynapse2/config.lua).
** Input: the JSON text of a configuration file. A refusal must name
** load_config and the file, and must not be a Lua runtime error from
** limpet's own code ("attempt to ..."). A configuration that loads must
** validate, save, load back and save to the same text, and build a
** simulated network (dynapse2.from_config) or refuse with a clean error.
*/
#include "harness.h"

static const char *setup =
  "local lp = require 'limpet'\n"
  "local d2 = lp.dynapse2\n"
  "return function(path)\n"
  "  local ok, c = pcall(d2.load_config, path)\n"
  "  if not ok then return fuzz_refusal(c, \"load_config: '\" .. path .. \"'\", 'load_config') end\n"
  "  local vok, valid, why = pcall(d2.validate_config, c)\n"
  "  if not vok or not valid then fuzz_fail('a loaded configuration does not validate: ' .. tostring(why or valid)) end\n"
  "  local copy, copy2 = path .. '.copy.json', path .. '.copy2.json'\n"
  "  local sok, saved, serr = pcall(d2.save_config, c, copy)\n"
  "  if not sok or not saved then fuzz_fail('a loaded configuration does not save: ' .. tostring(saved or serr)) end\n"
  "  local lok, back = pcall(d2.load_config, copy)\n"
  "  if not lok then fuzz_fail('a saved configuration does not load: ' .. tostring(back)) end\n"
  "  assert(d2.save_config(back, copy2))\n"
  "  if fuzz_slurp(copy) ~= fuzz_slurp(copy2) then fuzz_fail('save, load, save changed the text') end\n"
  "  os.remove(copy) os.remove(copy2)\n"
  "  local nok, err = pcall(d2.from_config, c)\n"
  "  if not nok and (type(err) ~= 'string' or err:find('attempt to', 1, true)) then\n"
  "    fuzz_fail('from_config failed inside: ' .. tostring(err))\n"
  "  end\n"
  "end\n";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  return fz_lua_file(setup, "config.json", data, size);
}
