/*
** spec/c/test_imuif.c -- the IMU interface's C stages (devices/xylo/imuif.c): the
** fused lp_imuif_run equals the stages chained one by one (both encoders, JSVD on
** and bypassed, records included), a JSVD property, refused inputs, and the
** allocation-failure loop (every failure is LP_ENOMEM, nothing leaks).
*/
#include "../../devices/xylo/imuif.h"
#include "check.h"
#include <string.h>

static lp_ctx *ctx;

#define B 2
#define T 150
#define NF 15

static lp_imuif_filter filt[NF];
static int chan[NF], scale[NF];
static int64_t thr[NF];

static void setup_filters(void) {
  /* the default bank's taps (1-2 ... 16-32 Hz at 200 Hz) */
  static const int bb[5] = {6, 5, 4, 3, 2}, baf[5] = {9, 10, 11, 12, 13};
  static const int64_t a1[5] = {-64458, -63288, -60684, -54529, -39246};
  static const int64_t a2[5] = {31754, 30771, 28888, 25417, 19378};
  int f;
  for (f = 0; f < NF; f++) {
    filt[f].B_b = bb[f % 5]; filt[f].B_wf = 8; filt[f].B_af = baf[f % 5];
    filt[f].a1 = a1[f % 5]; filt[f].a2 = a2[f % 5];
    chan[f] = f / 5; scale[f] = 3 + f % 4; thr[f] = 500 + 100 * f;
  }
}

/* a deterministic signal: gravity turning, a shake, a sawtooth */
static lp_tensor *imu_signal(void) {
  int64_t shape[3] = {B, T, 3};
  lp_tensor *x = NULL;
  int64_t *p;
  int b, t;
  lp_tensor_new(ctx, LP_I64, 3, shape, &x);
  p = lp_tensor_data(x);
  for (b = 0; b < B; b++)
    for (t = 0; t < T; t++) {
      double s = t / 200.0;
      p[(b * T + t) * 3 + 0] = (int64_t)(12000 * sin(6.0 * s + b) + 2000 * sin(40.0 * s));
      p[(b * T + t) * 3 + 1] = (int64_t)(9000 * cos(6.0 * s));
      p[(b * T + t) * 3 + 2] = (int64_t)(4000 + 300 * (t % 17) - 1000 * b);
    }
  return x;
}

static int same(const lp_tensor *a, const lp_tensor *b) {
  return lp_tensor_numel(a) == lp_tensor_numel(b) &&
         memcmp(lp_tensor_data(a), lp_tensor_data(b), (size_t)lp_tensor_numel(a) * sizeof(int64_t)) == 0;
}

static void test_fused_equals_stages(void) {
  lp_tensor *x = imu_signal();
  int bypass, iaf;
  for (bypass = 0; bypass < 2; bypass++)
    for (iaf = 0; iaf < 2; iaf++) {
      lp_imuif_params p;
      lp_imuif_result r, r2;
      int64_t st1[9] = {0}, st2[9] = {0};
      lp_tensor *C = NULL, *H = NULL, *R = NULL, *F = NULL, *S = NULL;
      memset(&p, 0, sizeof p);
      p.bypass_jsvd = bypass; p.select_iaf_output = iaf; p.num_avg_bitshift = 4; p.sah_period = 10;
      p.nfilt = NF; p.filt = filt; p.chan = chan; p.scale = scale; p.threshold = thr;
      CHECK_OK(lp_imuif_run(ctx, &p, x, st1, 0, &r));
      CHECK_OK(lp_imuif_run(ctx, &p, x, st2, 1, &r2));
      CHECK(same(r.spikes, r2.spikes));
      CHECK(memcmp(st1, st2, sizeof st1) == 0);
      if (!bypass) {
        int64_t st3[9] = {0};
        CHECK_OK(lp_imuif_subspace(ctx, x, 4, st3, &C));
        CHECK_OK(lp_imuif_sample_hold(ctx, C, 10, &H));
        CHECK_OK(lp_imuif_rotate(ctx, x, H, &R));
        CHECK(memcmp(st1, st3, sizeof st1) == 0);
        CHECK(same(H, r2.covariance));
        CHECK(same(R, r2.rotated));
      } else {
        CHECK(r2.rotated == NULL && r2.covariance == NULL);
        CHECK(st1[0] == 0);
      }
      CHECK_OK(lp_imuif_filterbank(ctx, bypass ? x : R, filt, chan, NF, 1, &F));
      CHECK(same(F, r2.filtered));
      if (iaf) CHECK_OK(lp_imuif_encode_iaf(ctx, F, thr, &S));
      else CHECK_OK(lp_imuif_encode_scale(ctx, F, scale, &S));
      CHECK(same(S, r.spikes));
      lp_tensor_release(C); lp_tensor_release(H); lp_tensor_release(R);
      lp_tensor_release(F); lp_tensor_release(S);
      lp_imuif_result_release(&r);
      lp_imuif_result_release(&r2);
    }
  lp_tensor_release(x);
}

static void test_jsvd(void) {
  int64_t C[9] = {900000, 300000, 1000, 300000, 400000, -2000, 1000, -2000, 50000}, R[9], D[9];
  int64_t Z[9] = {0};
  CHECK_OK(lp_imuif_jsvd(ctx, C, R, D));
  CHECK(D[0] >= D[4] && D[4] >= D[8]);
  CHECK(D[1] == D[3] && D[2] == D[6] && D[5] == D[7]);
  CHECK_OK(lp_imuif_jsvd(ctx, Z, R, D));
  CHECK(R[2] == 2147483647 && R[4] == 2147483647 && R[6] == 2147483647);   /* ties: larger index first */
  C[1] = 7;                                                                   /* not symmetric */
  CHECK(lp_imuif_jsvd(ctx, C, R, D) == LP_EARG);
}

static void test_refusals(void) {
  int64_t shape[3] = {1, 4, 3};
  lp_tensor *x = NULL, *o = NULL;
  int64_t st[9] = {0};
  lp_tensor_new(ctx, LP_I64, 3, shape, &x);
  ((int64_t *)lp_tensor_data(x))[5] = 32768;
  CHECK(lp_imuif_subspace(ctx, x, 4, st, &o) == LP_EARG && o == NULL);
  CHECK(strstr(lp_ctx_errmsg(ctx), "outside -32767..32767") != NULL);
  CHECK(lp_imuif_sample_hold(ctx, x, 0, &o) == LP_EARG);
  ((int64_t *)lp_tensor_data(x))[5] = 0;
  CHECK(lp_imuif_subspace(ctx, x, 32, st, &o) == LP_EARG);
  lp_tensor_release(x);
}

static void test_alloc_failures(void) {
  lp_tensor *x = imu_signal();
  size_t base = lp_ctx_bytes_live(ctx);
  long k;
  int rec;
  for (rec = 0; rec < 2; rec++)
    for (k = 1; k < 12; k++) {
      lp_imuif_params p;
      lp_imuif_result r;
      int64_t st[9] = {0};
      lp_status s;
      memset(&p, 0, sizeof p);
      p.num_avg_bitshift = 4; p.sah_period = 10; p.nfilt = NF;
      p.filt = filt; p.chan = chan; p.scale = scale; p.threshold = thr;
      lp_ctx_fail_alloc_after(ctx, k);
      s = lp_imuif_run(ctx, &p, x, st, rec, &r);
      lp_ctx_fail_alloc_after(ctx, 0);
      CHECK(s == LP_OK || s == LP_ENOMEM);
      if (s == LP_OK) lp_imuif_result_release(&r);
      else CHECK(r.spikes == NULL && r.filtered == NULL);
      CHECK(lp_ctx_bytes_live(ctx) == base);
    }
  lp_tensor_release(x);
}

int main(void) {
  int rc;
  lp_ctx_new(&ctx);
  setup_filters();
  RUN(test_fused_equals_stages);
  RUN(test_jsvd);
  RUN(test_refusals);
  RUN(test_alloc_failures);
  rc = TEST_REPORT("test_imuif");
  lp_ctx_free(ctx);
  return rc;
}
