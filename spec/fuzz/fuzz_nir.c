/*
** spec/fuzz/fuzz_nir.c -- fuzz harness: NIR files (HDF5 through libhdf5 and
** core/src/h5.c, the graph walk of stdlib/limpet/nir/read.lua, the graph
** build of nir/graph.lua).
** Input: the bytes of a .nir file. lp.nir.load reads and builds it; a
** refusal must name the file (nir.load: '<path>': ... or the HDF5 open
** error, which names it too) and must not be a Lua runtime error from
** limpet's own code ("attempt to ..."). A graph that loads runs on a small
** random input (or refuses it with a clean error), and saves to a file that
** loads again (or the save refuses it with a clean error).
** libhdf5 leaks a little on some corrupt files (spec/fuzz/README.md): this
** harness runs with leak detection off, like fuzz_shd.
** fuzz-options: -detect_leaks=0
*/
#include "harness.h"

static const char *setup =
  "local lp = require 'limpet'\n"
  "fuzz_quiet()\n"
  "local clean = fuzz_clean\n"
  "return function(path)\n"
  "  local ok, net, msg = pcall(lp.nir.load, path)\n"
  "  if not ok or not net then\n"
  "    local e = ok and msg or net\n"
  "    if not clean(e) or not e:find(path, 1, true) then\n"
  "      fuzz_fail('nir.load error does not name the file: ' .. tostring(e))\n"
  "    end\n"
  "    return\n"
  "  end\n"
  "  local shape = net.input_shape\n"
  "  if type(shape) == 'table' then\n"
  "    local n = 1\n"
  "    for _, d in ipairs(shape) do n = n * d end\n"
  "    if n <= 4096 then\n"
  "      local rok, err = pcall(net, lp.rand({ 1, 3, table.unpack(shape) }))\n"
  "      if not rok and not clean(err) then fuzz_fail('a loaded graph failed inside: ' .. tostring(err)) end\n"
  "    end\n"
  "  end\n"
  "  local copy = path .. '.copy.nir'\n"
  "  local sok, saved, serr = pcall(lp.nir.save, net, copy)\n"
  "  if not sok then\n"
  "    if not clean(saved) then fuzz_fail('nir.save of a loaded graph failed inside: ' .. tostring(saved)) end\n"
  "  elseif saved then\n"
  "    local lok, back, berr = pcall(lp.nir.load, copy)\n"
  "    if not lok or not back then fuzz_fail('a saved graph does not load: ' .. tostring(lok and berr or back)) end\n"
  "  elseif not clean(serr) then fuzz_fail('nir.save: ' .. tostring(serr))\n"
  "  end\n"
  "  os.remove(copy)\n"
  "end\n";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  return fz_lua_file(setup, "graph.nir", data, size);
}
