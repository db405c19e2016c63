/*
** spec/fuzz/fuzz_idx.c -- fuzz harness: gzip and IDX files (core/src/gz.c),
** the readers behind lp.data.FashionMNIST.
** Input: the bytes of an IDX file, gzipped or not; written as input.idx.gz
** when they start with gzip's magic (lp_idx_read gunzips by name), else as
** input.idx. The gzip path is also read alone (lp_gz_read).
*/
#include "harness.h"
#include "limpet/data.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  lp_ctx *ctx = fz_ctx();
  lp_tensor *t = NULL;
  int gz = size >= 2 && data[0] == 0x1f && data[1] == 0x8b;
  char path[1024];
  snprintf(path, sizeof path, "%s", fz_write(gz ? "input.idx.gz" : "input.idx", data, size));
  if (lp_idx_read(ctx, path, &t) == LP_OK) lp_tensor_release(t);
  if (gz && lp_gz_read(ctx, path, &t) == LP_OK) lp_tensor_release(t);
  unlink(path);
  return 0;
}
