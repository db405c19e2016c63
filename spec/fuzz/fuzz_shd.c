/*
** spec/fuzz/fuzz_shd.c -- fuzz harness: HDF5 files in the SHD/SSC layout
** (core/src/h5.c through libhdf5, stdlib/limpet/data/shd.lua).
** Input: the bytes of shd_train.h5 (or of shd_train.h5.gz when they start
** with gzip's magic). lp.data.SHD opens it and reads up to 16 samples;
** then a generic walk lists groups and reads every dataset. Attributes are
** not read: libhdf5 1.10 parses the global heap behind variable-length
** attributes without bounds checks (it loops or copies out of bounds on a
** corrupt one) and limpet cannot reach an attribute's stored descriptors to
** check them first, as it does for datasets (core/src/h5.c, vlen_check).
** Refusals must name the file. libhdf5 itself leaks a little on some
** corrupt files (spec/fuzz/README.md): this harness runs with leak
** detection off.
** fuzz-options: -detect_leaks=0
*/
#include "harness.h"

static const char *setup =
  "local lp = require 'limpet'\n"
  "local core = require 'limpet.core'\n"
  "local function walk(h, group, depth, budget)\n"
  "  for _, name in ipairs(h:list(group)) do\n"
  "    budget.n = budget.n - 1\n"
  "    if budget.n < 0 then return end\n"
  "    local full = (group == '/' and '' or group .. '/') .. name\n"
  "    local info = h:info(full)\n"
  "    if info and info.kind == 'group' and depth < 4 then walk(h, full, depth + 1, budget)\n"
  "    elseif info and info.kind ~= 'other' then\n"
  "      local rows = info.shape and info.shape[1] or 1\n"
  "      if rows > 0 then pcall(h.read, h, full, 1) end\n"
  "      pcall(h.read, h, full)\n"
  "    end\n"
  "  end\n"
  "end\n"
  "return function(path)\n"
  "  local root = path:match('^(.*)/[^/]*$')\n"
  "  local ok, err = pcall(function()\n"
  "    local ds, msg = lp.data.SHD { root = root, split = 'train' }\n"
  "    if not ds then error(msg, 0) end\n"
  "    local ok2, err2 = pcall(function() for i = 1, math.min(#ds, 16) do ds:get(i) end end)\n"
  "    ds:close()\n"
  "    if not ok2 then error(err2, 0) end\n"
  "  end)\n"
  "  if not ok and not tostring(err):find(path, 1, true) then\n"
  "    fuzz_fail('SHD error does not name the file: ' .. tostring(err))\n"
  "  end\n"
  "  local h = core.h5_open(path)\n"
  "  if h then\n"
  "    pcall(walk, h, '/', 1, { n = 64 })\n"
  "    h:close()\n"
  "  end\n"
  "end\n";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  lua_State *L = fz_lua(setup);
  int gz = size >= 2 && data[0] == 0x1f && data[1] == 0x8b;
  const char *path = fz_write(gz ? "shd/shd_train.h5.gz" : "shd/shd_train.h5", data, size);
  char keep[1024];
  snprintf(keep, sizeof keep, "%s", path);
  fz_lua_run(L, keep);
  unlink(keep);
  return 0;
}
