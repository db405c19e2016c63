/*
** spec/fuzz/fuzz_png.c -- fuzz harness: PNG images (core/src/png.c, what
** lp.plot reads back and lp.image-style helpers load).
** Input: the bytes of a PNG file, decoded from memory. A decoded image is
** encoded and decoded again: the copy must be the same pixels. In the fuzz
** build a chunk CRC mismatch is not an error (FUZZING_BUILD_MODE_UNSAFE_FOR_
** PRODUCTION), so mutations reach the decoder proper.
*/
#include "harness.h"
#include "limpet/png.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  lp_ctx *ctx = fz_ctx();
  lp_tensor *img = NULL, *back = NULL;
  unsigned char *buf = NULL;
  size_t len = 0;
  if (lp_png_decode(ctx, data, size, "input.png", &img) != LP_OK) return 0;
  if (lp_png_encode(ctx, img, &buf, &len) != LP_OK) fz_fail("encode of a decoded image", lp_ctx_errmsg(ctx));
  if (lp_png_decode(ctx, buf, len, "copy.png", &back) != LP_OK) fz_fail("decode of an encoded image", lp_ctx_errmsg(ctx));
  if (lp_tensor_numel(back) != lp_tensor_numel(img) ||
      memcmp(lp_tensor_data(back), lp_tensor_data(img), (size_t)lp_tensor_numel(img)) != 0)
    fz_fail("round trip", "the pixels differ");
  lp_ctx_dealloc(ctx, buf, len);
  lp_tensor_release(back);
  lp_tensor_release(img);
  return 0;
}
