/*
** spec/fuzz/fuzz_xylo_image.c -- fuzz harness: Xylo memory images, the
** register and RAM words image_to_config decodes back into a configuration
** (devices/xylo/image.lua: what a chip's memory, or VirtualHDK's, reads as).
** Input: one byte choosing the variant (audio2, audio3, imu), then writes of
** 7 bytes each: a 24-bit address and a 32-bit word (little-endian). A
** refusal must be "bad argument #1 to 'image_to_config' (...)". A decoded
** configuration must validate, and encode to an image that decodes to the
** same configuration (saved text compared).
*/
#include "harness.h"

static const char *setup =
  "local lp = require 'limpet'\n"
  "local xylo = lp.xylo\n"
  "local VARIANTS = { 'audio2', 'audio3', 'imu' }\n"
  "local function text(c, p) assert(xylo.save_config(c, p)) local f = assert(io.open(p, 'rb')) local s = f:read('a') f:close() os.remove(p) return s end\n"
  "return function(path)\n"
  "  local f = assert(io.open(path, 'rb'))\n"
  "  local bytes = f:read('a')\n"
  "  f:close()\n"
  "  if #bytes < 1 then return end\n"
  "  local variant = VARIANTS[bytes:byte(1) % 3 + 1]\n"
  "  local writes = {}\n"
  "  for p = 2, #bytes - 6, 7 do\n"
  "    local a, v = string.unpack('<I3I4', bytes, p)\n"
  "    writes[#writes + 1] = { a, v }\n"
  "  end\n"
  "  local ok, c = pcall(xylo[variant].image_to_config, writes)\n"
  "  if not ok then\n"
  "    if type(c) ~= 'string' or not c:find(\"bad argument #1 to 'image_to_config' (\", 1, true) then\n"
  "      fuzz_fail('image_to_config error is not an argument error naming it: ' .. tostring(c))\n"
  "    end\n"
  "    return\n"
  "  end\n"
  "  local valid, why = xylo.validate_config(c)\n"
  "  if not valid then fuzz_fail('a decoded configuration does not validate: ' .. tostring(why)) end\n"
  "  local eok, img = pcall(xylo[variant].config_to_image, c)\n"
  "  if not eok then fuzz_fail('a decoded configuration does not encode: ' .. tostring(img)) end\n"
  "  local dok, c2 = pcall(xylo[variant].image_to_config, img)\n"
  "  if not dok then fuzz_fail('an encoded image does not decode: ' .. tostring(c2)) end\n"
  "  local p = FUZZ_DIR .. '/image.json'\n"
  "  if text(c, p) ~= text(c2, p) then fuzz_fail('decode, encode, decode changed the configuration') end\n"
  "end\n";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  return fz_lua_file(setup, "image.bin", data, size);
}
