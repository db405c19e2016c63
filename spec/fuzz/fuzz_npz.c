/*
** spec/fuzz/fuzz_npz.c -- fuzz harness: .npz archives (core/src/npz.c).
** Input: the bytes of a .npz file (zip, stored or deflated .npy entries),
** read from a file as lp.load does. The arrays read are written back
** (deflated) and read again: the copy must hold the same names and bytes.
** In the fuzz build (FUZZING_BUILD_MODE_UNSAFE_FOR_PRODUCTION) a CRC
** mismatch is not an error, so mutated entries reach the .npy parser.
*/
#include "harness.h"
#include "limpet/io.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  lp_ctx *ctx = fz_ctx();
  int n = 0, m = 0, i;
  char **names = NULL, **names2 = NULL, copy[1024];
  lp_tensor **ts = NULL, **ts2 = NULL;
  const char *path = fz_write("input.npz", data, size);
  if (lp_npz_read(ctx, path, &n, &names, &ts) != LP_OK) return 0;
  snprintf(copy, sizeof copy, "%s/copy.npz", fz_dir());
  if (lp_npz_write(ctx, copy, n, (const char *const *)names, ts, 1) == LP_OK) {
    if (lp_npz_read(ctx, copy, &m, &names2, &ts2) != LP_OK) fz_fail("reading a written archive", lp_ctx_errmsg(ctx));
    if (m != n) fz_fail("round trip", "entry count differs");
    for (i = 0; i < n; i++) {
      const lp_tensor *a = ts[i], *b = ts2[i];
      if (strcmp(names[i], names2[i]) != 0 || lp_tensor_dtype(a) != lp_tensor_dtype(b) ||
          lp_tensor_numel(a) != lp_tensor_numel(b) ||
          memcmp(lp_tensor_data(a), lp_tensor_data(b), (size_t)lp_tensor_numel(a) * lp_dtype_size(lp_tensor_dtype(a))))
        fz_fail("round trip", names[i]);
    }
    lp_npz_free(m, names2, ts2);
  }
  lp_npz_free(n, names, ts);
  return 0;
}
