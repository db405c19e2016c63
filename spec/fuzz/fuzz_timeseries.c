/*
** spec/fuzz/fuzz_timeseries.c -- fuzz harness: time series files, Rockpool's
** .npz layout that lp.load_ts_from_file, TSContinuous.load and TSEvent.load
** read (stdlib/limpet/timeseries/io.lua on core/src/npz.c).
** Input: the bytes of an .npz file. A refusal must name the file and must
** not be a Lua runtime error from limpet's own code ("attempt to ..."). A
** series that loads must save, load back as the same class with the same
** times, and sample (TSContinuous at its times; TSEvent's raster) or refuse
** with a clean error.
*/
#include "harness.h"

static const char *setup =
  "local lp = require 'limpet'\n"
  "fuzz_quiet()\n"
  "local clean = fuzz_clean\n"
  "return function(path)\n"
  "  local ok, ts, msg = pcall(lp.load_ts_from_file, path)\n"
  "  if not ok or not ts then\n"
  "    local e = ok and msg or ts\n"
  "    if not clean(e) or not e:find(path, 1, true) then\n"
  "      fuzz_fail('load_ts_from_file error does not name the file: ' .. tostring(e))\n"
  "    end\n"
  "    return\n"
  "  end\n"
  "  local kind = getmetatable(ts).__name\n"
  "  local copy = path .. '.copy.npz'\n"
  "  local sok, saved, serr = pcall(ts.save, ts, copy)\n"
  "  if not sok or not saved then fuzz_fail('a loaded series does not save: ' .. tostring(sok and serr or saved)) end\n"
  "  local lok, back, berr = pcall(lp.load_ts_from_file, copy)\n"
  "  if not lok or not back then fuzz_fail('a saved series does not load: ' .. tostring(lok and berr or back)) end\n"
  "  os.remove(copy)\n"
  "  if getmetatable(back).__name ~= kind then fuzz_fail('round trip changed the class') end\n"
  "  if back.times:numel() ~= ts.times:numel() or (ts.times:numel() > 0 and not lp.equal(back.times:astype('float64'), ts.times:astype('float64'))) then\n"
  "    fuzz_fail('round trip changed the times')\n"
  "  end\n"
  "  local rok, err = pcall(function()\n"
  "    if kind == 'TSEvent' then\n"
  "      if ts.num_channels <= 256 and ts.duration / 1e-3 < 1e5 then ts:raster(1e-3) end\n"
  "    elseif ts.times:numel() > 0 then ts(ts.times) end\n"
  "  end)\n"
  "  if not rok and not clean(err) then fuzz_fail('a loaded series fails inside: ' .. tostring(err)) end\n"
  "end\n";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  return fz_lua_file(setup, "series.npz", data, size);
}
