/*
** spec/fuzz/fuzz_disk_cache.c -- fuzz harness: lp.data.DiskCache entries
** (stdlib/limpet/data/cache.lua: a sample, label and meta encoded in an
** .npz, with the transform key and index), which the cache trusts only
** after checking them and rebuilds when missing, corrupt or written for
** another key.
** Input: the bytes of the entry file of sample 1. cache:get(1) must not
** raise: it returns the stored entry when the file is a well-formed entry
** for this key and index (what it holds is then the file's), else the
** data set's own sample, which it writes back.
*/
#include "harness.h"

static const char *setup =
  "local lp = require 'limpet'\n"
  "local ds = { sample = lp.tensor({ { 1, 2, 3 }, { 4, 5, 6 } }, 'float32') }\n"
  "function ds:get(i) return self.sample, 7, { name = 'seed', n = 3, ok = true } end\n"
  "setmetatable(ds, { __len = function() return 1 end })\n"
  "local cache = assert(lp.data.DiskCache { dataset = ds, path = FUZZ_DIR .. '/cache', transform_key = 'fuzz' })\n"
  "local hits = 0\n"
  "return function(path)\n"
  "  local f = assert(io.open(path, 'rb'))\n"
  "  local bytes = f:read('a')\n"
  "  f:close()\n"
  "  local entry = cache:file(1)\n"
  "  local w = assert(io.open(entry, 'wb'))\n"
  "  w:write(bytes)\n"
  "  w:close()\n"
  "  local h0 = cache.hits\n"
  "  local ok, s, l, m = pcall(cache.get, cache, 1)\n"
  "  if not ok then fuzz_fail('DiskCache:get raised on a damaged entry: ' .. tostring(s)) end\n"
  "  if cache.hits == h0 then\n"
  "    if not lp.equal(s, ds.sample) or l ~= 7 or type(m) ~= 'table' or m.name ~= 'seed' then\n"
  "      fuzz_fail('a rebuilt entry is not the data set sample')\n"
  "    end\n"
  "    local ok2, s2 = pcall(cache.get, cache, 1)\n"
  "    if not ok2 or cache.hits ~= h0 + 1 or not lp.equal(s2, ds.sample) then\n"
  "      fuzz_fail('the rebuilt entry does not read back: ' .. tostring(s2))\n"
  "    end\n"
  "  end\n"
  "  os.remove(entry)\n"
  "end\n";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  return fz_lua_file(setup, "entry.npz", data, size);
}
