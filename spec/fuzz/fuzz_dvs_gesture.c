/*
** spec/fuzz/fuzz_dvs_gesture.c -- fuzz harness: DVS Gesture samples in
** Tonic's layout (.npy through stdlib/limpet/data/dvs_gesture.lua).
** Input: the bytes of one <root>/ibmGestureTrain/user01_fluorescent/0.npy.
** lp.data.DVSGesture reads it and ToFrame bins it. Refusals must name the
** data set and the file.
*/
#include "harness.h"

static const char *setup =
  "local lp = require 'limpet'\n"
  "local frame = lp.data.transforms.ToFrame { sensor_size = { 128, 128, 2 }, time_window = 0.05 }\n"
  "-- a sample the reader accepted bins into frames, or is refused by name\n"
  "local function check_frame(f, s)\n"
  "  local ok, err = pcall(f, s)\n"
  "  if not ok and (type(err) ~= 'string' or err:find('attempt to', 1, true)) then\n"
  "    fuzz_fail('ToFrame failed inside: ' .. tostring(err))\n"
  "  end\n"
  "end\n"
  "return function(path)\n"
  "  local root = path:match('^(.*)/ibmGestureTrain/')\n"
  "  local ok, s = pcall(function()\n"
  "    local ds = assert(lp.data.DVSGesture { root = root })\n"
  "    return ds:get(1)\n"
  "  end)\n"
  "  if not ok and not (tostring(s):find(path, 1, true) and tostring(s):find('^DVSGesture: ')) then\n"
  "    fuzz_fail('DVSGesture error does not name the data set and the file: ' .. tostring(s))\n"
  "  end\n"
  "  if ok then check_frame(frame, s) end\n"
  "end\n";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  return fz_lua_file(setup, "dvs/ibmGestureTrain/user01_fluorescent/0.npy", data, size);
}
