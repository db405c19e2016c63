/*
** spec/fuzz/fuzz_npy.c -- fuzz harness: .npy images (core/src/npy.c).
** Input: the bytes of a .npy file, decoded from memory (the path reader
** and .npz entries share lp_npy_read_src). A decoded array is written back
** and read again: the copy must be the same array.
*/
#include "harness.h"
#include "limpet/io.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  lp_ctx *ctx = fz_ctx();
  lp_tensor *t = NULL, *u = NULL;
  void *buf = NULL;
  size_t len = 0;
  if (lp_npy_decode(ctx, data, size, "input.npy", &t) != LP_OK) return 0;
  if (lp_npy_encode(ctx, t, &buf, &len) != LP_OK) fz_fail("encode of a decoded array", lp_ctx_errmsg(ctx));
  if (lp_npy_decode(ctx, buf, len, "copy.npy", &u) != LP_OK) fz_fail("decode of an encoded array", lp_ctx_errmsg(ctx));
  if (lp_tensor_dtype(u) != lp_tensor_dtype(t) || lp_tensor_ndim(u) != lp_tensor_ndim(t) ||
      memcmp(lp_tensor_shape(u), lp_tensor_shape(t), (size_t)lp_tensor_ndim(t) * sizeof(int64_t)) != 0 ||
      memcmp(lp_tensor_data(u), lp_tensor_data(t),
             (size_t)lp_tensor_numel(t) * lp_dtype_size(lp_tensor_dtype(t))) != 0)
    fz_fail("round trip", "the copy differs");
  free(buf);
  lp_tensor_release(u);
  lp_tensor_release(t);
  return 0;
}
