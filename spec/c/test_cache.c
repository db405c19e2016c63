/*
** spec/c/test_cache.c -- C tests of the context's block cache (core/src/ctx.c):
** a freed large block is reused for the next request of its size class,
** lp_tensor_new zeroes a reused block, cached bytes are not live, an
** injected allocation failure fails even when a cached block would fit, and
** changing the size cap trims the cache (the next block is fresh).
*/
#include "limpet/core.h"
#include "limpet/tensor.h"
#include "check.h"
#include <string.h>

static void test_reuse_and_zeroing(void) {
  lp_ctx *ctx = NULL;
  lp_tensor *a = NULL, *b = NULL;
  int64_t sh[1] = {300000}, i, nonzero = 0;
  void *pa;
  const float *f;
  CHECK_OK(lp_ctx_new(&ctx));
  CHECK_OK(lp_tensor_empty(ctx, LP_F32, 1, sh, &a));
  pa = lp_tensor_data(a);
  memset(pa, 0xff, (size_t)sh[0] * sizeof(float));
  CHECK(lp_ctx_bytes_live(ctx) >= (size_t)sh[0] * sizeof(float));
  lp_tensor_release(a);
  CHECK(lp_ctx_bytes_live(ctx) == 0);                  /* cached bytes are not live */
  CHECK_OK(lp_tensor_new(ctx, LP_F32, 1, sh, &b));     /* the same block, zeroed */
  CHECK(lp_tensor_data(b) == pa);
  f = lp_tensor_data(b);
  for (i = 0; i < sh[0]; i++) nonzero += f[i] != 0;
  CHECK(nonzero == 0);
  lp_tensor_release(b);
  sh[0] = 320000;                                       /* same size class (1.25 MiB blocks) */
  CHECK_OK(lp_tensor_empty(ctx, LP_F32, 1, sh, &a));
  CHECK(lp_tensor_data(a) == pa);
  lp_tensor_release(a);
  CHECK(lp_ctx_bytes_live(ctx) == 0);
  lp_ctx_free(ctx);
}

static void test_fail_with_cached_block(void) {
  lp_ctx *ctx = NULL;
  lp_tensor *a = NULL, *b = NULL;
  int64_t sh[1] = {300000};
  CHECK_OK(lp_ctx_new(&ctx));
  CHECK_OK(lp_tensor_empty(ctx, LP_F32, 1, sh, &a));
  lp_tensor_release(a);
  lp_ctx_fail_alloc_after(ctx, 1);                     /* the next request fails despite the cache */
  CHECK(lp_tensor_new(ctx, LP_F32, 1, sh, &b) == LP_ENOMEM);
  CHECK(b == NULL);
  CHECK(lp_ctx_bytes_live(ctx) == 0);
  CHECK_OK(lp_tensor_new(ctx, LP_F32, 1, sh, &b));     /* one failure only */
  lp_tensor_release(b);
  lp_ctx_free(ctx);
}

static void test_trim(void) {
  lp_ctx *ctx = NULL;
  lp_tensor *a = NULL;
  int64_t sh[1] = {300000};
  CHECK_OK(lp_ctx_new(&ctx));
  CHECK_OK(lp_tensor_empty(ctx, LP_F32, 1, sh, &a));
  lp_tensor_release(a);
  lp_ctx_set_max_bytes(ctx, 0);                        /* trims the cache: no block kept */
  CHECK_OK(lp_tensor_empty(ctx, LP_F32, 1, sh, &a));   /* a fresh block (ASan sees any stale one) */
  CHECK(lp_ctx_bytes_live(ctx) >= (size_t)sh[0] * sizeof(float));
  lp_tensor_release(a);
  CHECK(lp_ctx_bytes_live(ctx) == 0);
  lp_ctx_free(ctx);                                    /* frees what is cached: no leak */
}

int main(void) {
  RUN(test_reuse_and_zeroing);
  RUN(test_fail_with_cached_block);
  RUN(test_trim);
  return TEST_REPORT("test_cache");
}
