/*
** spec/fuzz/fuzz_model.c -- fuzz harness: model files, what nn.load parses
** (stdlib/limpet/nn/serialize.lua, stdlib/limpet/json.lua).
** Input: the JSON module tree of a model file. The harness stores it as the
** "__module_tree__" entry of an .npz beside the arrays of every network in
** spec/fuzz/model_seeds.lua (whose trees are the corpus) and loads that
** with nn.load. A refusal must name nn.load and the file; a network that
** loads must run on a small input or refuse it with a clean Lua error.
*/
#include "harness.h"

static const char *setup =
  "local lp = require 'limpet'\n"
  "local arrays = {}\n"
  "for i, m in ipairs(dofile(FUZZ_ROOT .. '/model_seeds.lua')(lp)) do\n"
  "  local p = FUZZ_DIR .. '/seed' .. i .. '.npz'\n"
  "  assert(m:save(p))\n"
  "  for k, v in pairs(assert(lp.load(p))) do\n"
  "    if k ~= '__module_tree__' and arrays[k] == nil then arrays[k] = v end\n"
  "  end\n"
  "  os.remove(p)\n"
  "end\n"
  "local function bytes(s)\n"
  "  local t = {}\n"
  "  for i = 1, #s do t[i] = s:byte(i) end\n"
  "  if #t == 0 then return lp.zeros({ 0 }, 'uint8') end\n"
  "  return lp.tensor(t, 'uint8')\n"
  "end\n"
  "return function(path)\n"
  "  local f = assert(io.open(path, 'rb'))\n"
  "  local text = f:read('a')\n"
  "  f:close()\n"
  "  local a = {}\n"
  "  for k, v in pairs(arrays) do a[k] = v end\n"
  "  a.__module_tree__ = bytes(text)\n"
  "  local model = path:gsub('%.json$', '.npz')\n"
  "  assert(lp.save(model, a))\n"
  "  local ok, net = pcall(lp.nn.load, model)\n"
  "  if not ok then\n"
  "    local head = \"nn.load: '\" .. model .. \"': \"\n"
  "    if type(net) ~= 'string' or net:sub(1, #head) ~= head then\n"
  "      fuzz_fail('nn.load error does not name nn.load and the file: ' .. tostring(net))\n"
  "    end\n"
  "    return\n"
  "  end\n"
  "  local n = lp.nn.Module and net.size_in\n"
  "  if math.type(n) == 'integer' and n > 0 and n <= 64 then\n"
  "    local ok2, err = pcall(net, lp.ones(2, n))\n"
  "    if not ok2 and (type(err) ~= 'string' or err:find('attempt to', 1, true)) then\n"
  "      fuzz_fail('a loaded network failed inside: ' .. tostring(err))\n"
  "    end\n"
  "  end\n"
  "end\n";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  return fz_lua_file(setup, "model.json", data, size);
}
