/*
** spec/fuzz/fuzz_xylo_config.c -- fuzz harness: Xylo configuration files,
** what xylo.load_config parses (devices/xylo/config.lua).
** Input: the JSON text of a configuration file. A refusal must name
** load_config and the file. A configuration that loads must save (it
** passed validation), load back, and build a simulator that runs a few
** steps.
*/
#include "harness.h"

static const char *setup =
  "local lp = require 'limpet'\n"
  "local xylo = lp.xylo\n"
  "return function(path)\n"
  "  local ok, c = pcall(xylo.load_config, path)\n"
  "  if not ok then return fuzz_refusal(c, \"load_config: '\" .. path .. \"' \", 'load_config') end\n"
  "  local copy = path .. '.copy.json'\n"
  "  local sok, saved, serr = pcall(xylo.save_config, c, copy)\n"
  "  if not sok or not saved then fuzz_fail('a loaded configuration does not save: ' .. tostring(saved or serr)) end\n"
  "  local lok, back = pcall(xylo.load_config, copy)\n"
  "  if not lok then fuzz_fail('a saved configuration does not load: ' .. tostring(back)) end\n"
  "  os.remove(copy)\n"
  "  local sim = xylo[c.variant].XyloSim.from_config(c)\n"
  "  local rok, err = pcall(sim, lp.ones(4, c.n_in, 'int32'))\n"
  "  if not rok and (type(err) ~= 'string' or err:find('attempt to', 1, true)) then\n"
  "    fuzz_fail('the simulator failed inside: ' .. tostring(err))\n"
  "  end\n"
  "end\n";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  return fz_lua_file(setup, "config.json", data, size);
}
