/*
** spec/c/test_events.c -- the event-stream kernels' exact time arithmetic
** (core/src/events.c): times on the whole-microsecond grid, time windows
** as exact rationals (128-bit bounds), Denoise on integer times, and the
** allocation-failure loop over each of them.
*/
#include <stdio.h>
#include <string.h>

#include "limpet/events.h"
#include "check.h"
#include "fail_alloc.h"

static lp_ctx *ctx;

static lp_tensor *vec(lp_dtype dt, int64_t n, const void *data) {
  lp_tensor *t = NULL;
  if (lp_tensor_from_data(ctx, dt, 1, &n, data, &t) != LP_OK) return NULL;
  return t;
}

static int64_t at(const lp_tensor *t, int64_t k) { return lp_tensor_get_flat(t, k).i; }

static void test_micros(void) {
  /* microseconds / 1e6 come back exactly; 9 * 0.001 is 9000 us; finer
     times (SHD's float16 seconds) are truncated */
  const double t[] = {0.0, 9000 / 1e6, 9 * 0.001, 8388607 / 1e6, 3600000000 / 1e6, -2000 / 1e6,
                      0.010009765625, -0.0000005};
  const int64_t want[] = {0, 9000, 9000, 8388607, 3600000000, -2000, 10009, -1};
  const double bad[] = {1.0, 0.0 / 0.0};
  lp_tensor *v = vec(LP_F64, 8, t), *u = NULL, *b = vec(LP_F64, 2, bad);
  int i;
  CHECK_OK(lp_events_micros(ctx, v, &u));
  for (i = 0; i < 8; i++) CHECK(at(u, i) == want[i]);
  lp_tensor_release(u); u = NULL;
  CHECK(lp_events_micros(ctx, b, &u) == LP_ERANGE && !u);
  lp_tensor_release(v); lp_tensor_release(b);
}

static void test_time_slices(void) {
  /* the case: events at 0, 9, 12 ms; 1 ms windows from 0 (ns bounds,
     us times: c = 1000); the 9 ms event opens window 9 (0-based) */
  const int64_t t[] = {0, 9000, 12000};
  const int64_t a[2] = {0, 1}, b[2] = {1000000, 1}, w[2] = {1000000, 1};
  lp_tensor *v = vec(LP_I64, 3, t), *s = NULL, *e = NULL;
  int k;
  CHECK_OK(lp_events_time_slices(ctx, v, 12, a, b, w, 1000, &s, &e));
  for (k = 0; k < 12; k++) {
    int64_t n = at(e, k) - at(s, k);
    CHECK(n == (k == 0 || k == 9 ? 1 : 0));
  }
  CHECK(at(s, 9) == 1 && at(e, 9) == 2);
  lp_tensor_release(s); lp_tensor_release(e); s = e = NULL;
  /* rational windows: stride 990/1 us, width 1100 (q = 1000, overlap 1/10:
     a = 0 * 100, b = 1000 * 99, w = 1000 * 110, c = 100) */
  {
    const int64_t a2[2] = {0, 100}, b2[2] = {1000, 99}, w2[2] = {1000, 110};
    const int64_t t2[] = {989, 990, 1099, 1100, 1979, 1980};
    lp_tensor *v2 = vec(LP_I64, 6, t2);
    CHECK_OK(lp_events_time_slices(ctx, v2, 3, a2, b2, w2, 100, &s, &e));
    CHECK(at(s, 0) == 0 && at(e, 0) == 3);     /* [0, 1100): 989, 990, 1099 */
    CHECK(at(s, 1) == 1 && at(e, 1) == 6);     /* [990, 2090) */
    CHECK(at(s, 2) == 5 && at(e, 2) == 6);     /* [1980, 3080) */
    lp_tensor_release(s); lp_tensor_release(e); s = e = NULL;
    lp_tensor_release(v2);
  }
  /* terms past 2^124 are refused */
  {
    const int64_t big[2] = {INT64_MAX, INT64_MAX};
    CHECK(lp_events_time_slices(ctx, v, 2, big, b, w, 1, &s, &e) == LP_EARG && !s && !e);
    CHECK(lp_events_time_slices(ctx, v, 2, a, b, w, 0, &s, &e) == LP_EARG && !s && !e);
  }
  lp_tensor_release(v);
}

static void test_denoise(void) {
  /* a neighbour exactly filter_time earlier does not keep an event */
  const int64_t t[] = {10000, 13000, 13500}, x[] = {0, 1, 0}, y[] = {0, 0, 0};
  lp_tensor *tv = vec(LP_I64, 3, t), *xv = vec(LP_I64, 3, x), *yv = vec(LP_I64, 3, y), *k = NULL;
  CHECK_OK(lp_events_denoise(ctx, tv, xv, yv, 3000, &k));
  CHECK(k && at(k, 0) == 0 && at(k, 1) == 0 && at(k, 2) == 1);
  lp_tensor_release(k); k = NULL;
  CHECK(lp_events_denoise(ctx, tv, xv, yv, -1, &k) == LP_EARG && !k);
  lp_tensor_release(tv); lp_tensor_release(xv); lp_tensor_release(yv);
}

static void fail_loop(const char *what, fail_alloc_op0 op) { fail_alloc_loop0(ctx, what, op); }

static lp_status op_micros(void) {
  const float t[] = {0.5f, 1.0f, 2.0f};
  int64_t n = 3;
  lp_tensor *v = NULL, *u = NULL;
  lp_status st = lp_tensor_from_data(ctx, LP_F32, 1, &n, t, &v);
  if (!st) st = lp_events_micros(ctx, v, &u);
  lp_tensor_release(v); lp_tensor_release(u);
  return st;
}

static lp_status op_slices(void) {
  const int32_t t[] = {0, 5, 10, 15};
  const int64_t a[2] = {0, 1}, b[2] = {5, 1}, w[2] = {5, 1};
  int64_t n = 4;
  lp_tensor *v = NULL, *s = NULL, *e = NULL;
  lp_status st = lp_tensor_from_data(ctx, LP_I32, 1, &n, t, &v);
  if (!st) st = lp_events_time_slices(ctx, v, 3, a, b, w, 1, &s, &e);
  lp_tensor_release(v); lp_tensor_release(s); lp_tensor_release(e);
  return st;
}

static lp_status op_denoise(void) {
  const int32_t t[] = {0, 5, 10}, x[] = {0, 1, 2}, y[] = {1, 1, 0};
  int64_t n = 3;
  lp_tensor *tv = NULL, *xv = NULL, *yv = NULL, *k = NULL;
  lp_status st = lp_tensor_from_data(ctx, LP_I32, 1, &n, t, &tv);
  if (!st) st = lp_tensor_from_data(ctx, LP_I32, 1, &n, x, &xv);
  if (!st) st = lp_tensor_from_data(ctx, LP_I32, 1, &n, y, &yv);
  if (!st) st = lp_events_denoise(ctx, tv, xv, yv, 6, &k);
  lp_tensor_release(tv); lp_tensor_release(xv); lp_tensor_release(yv); lp_tensor_release(k);
  return st;
}

static void test_alloc_failures(void) {
  fail_loop("micros", op_micros);
  fail_loop("time_slices", op_slices);
  fail_loop("denoise", op_denoise);
}

int main(void) {
  if (lp_ctx_new(&ctx) != LP_OK) return 1;
  RUN(test_micros);
  RUN(test_time_slices);
  RUN(test_denoise);
  RUN(test_alloc_failures);
  lp_ctx_free(ctx);
  return TEST_REPORT("test_events");
}
