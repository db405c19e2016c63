/*
** spec/fuzz/fuzz_nmnist.c -- fuzz harness: N-MNIST event files
** (core/src/gz.c's 5-byte records through stdlib/limpet/data/nmnist.lua).
** Input: the bytes of one <root>/Train/0/00001.bin. lp.data.NMNIST reads it
** (with and without first_saccade_only) and ToFrame bins it. The reader's
** refusals must name the data set and the file; ToFrame's must be clean
** Lua errors (a sample the reader accepts can still be too long to bin).
*/
#include "harness.h"

static const char *setup =
  "local lp = require 'limpet'\n"
  "local frame = lp.data.transforms.ToFrame { sensor_size = { 34, 34, 2 }, n_time_bins = 3 }\n"
  "-- a sample the reader accepted bins into frames, or is refused by name\n"
  "local function check_frame(f, s)\n"
  "  local ok, err = pcall(f, s)\n"
  "  if not ok and (type(err) ~= 'string' or err:find('attempt to', 1, true)) then\n"
  "    fuzz_fail('ToFrame failed inside: ' .. tostring(err))\n"
  "  end\n"
  "end\n"
  "return function(path)\n"
  "  local root = path:match('^(.*)/Train/0/[^/]*$')\n"
  "  for _, first in ipairs { false, true } do\n"
  "    local ok, s = pcall(function()\n"
  "      local ds = assert(lp.data.NMNIST { root = root, first_saccade_only = first })\n"
  "      return ds:get(1)\n"
  "    end)\n"
  "    if not ok and not (tostring(s):find(path, 1, true) and tostring(s):find('^NMNIST: ')) then\n"
  "      fuzz_fail('NMNIST error does not name the data set and the file: ' .. tostring(s))\n"
  "    end\n"
  "    if ok then check_frame(frame, s) end\n"
  "  end\n"
  "end\n";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  return fz_lua_file(setup, "nmnist/Train/0/00001.bin", data, size);
}
