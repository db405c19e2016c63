/*
** spec/c/test_sparse.c -- C tests of the event-driven matmul paths
** (core/src/sparse.c through lp_matmul): gathers and scatter-adds against a
** naive double loop, float32 and float64, with batch folding; the same bits
** on 1 and 3 threads; allocation failures return LP_ENOMEM and leak nothing;
** the vector nonzero masks of the index (lp_sp_index, lp_sp_index_mt)
** against the plain scalar test (lp_sp_index_ref) on NaN, -0, infinities,
** subnormals and every row-length remainder; the scatter-add of 0/1 spikes
** without values against the one with values 1.
*/
#include "limpet/ops.h"
#include "../../core/src/sparse.h"
#include "check.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>

static lp_ctx *ctx;

static double rnd(unsigned *s) { *s = *s * 1103515245u + 12345u; return ((*s >> 8) & 0xffff) / 65536.0; }

/* (rows, cols) tensor: spikes (0/1, p) when p > 0, else uniform in [-1, 1) */
static lp_tensor *mk(lp_dtype dt, int ndim, const int64_t *shape, double p, unsigned seed) {
  lp_tensor *t = NULL;
  int64_t i, n;
  if (lp_tensor_empty(ctx, dt, ndim, shape, &t) != LP_OK) return NULL;
  n = lp_tensor_numel(t);
  for (i = 0; i < n; i++) {
    double v = p > 0 ? (rnd(&seed) < p ? 1.0 : 0.0) : 2 * rnd(&seed) - 1;
    lp_store_f(dt, (char *)lp_tensor_data(t) + i * (int64_t)lp_dtype_size(dt), v);
  }
  return t;
}

static double at(const lp_tensor *t, int64_t i) {
  return lp_load_f(lp_tensor_dtype(t), (const char *)lp_tensor_data(t) + i * (int64_t)lp_dtype_size(lp_tensor_dtype(t)));
}

/* y = x . w (x: (M, K) flattened, w (K, N)) against the naive loop */
static void check_gather(lp_dtype dt, double tol) {
  int64_t xs[3] = {3, 40, 64}, ws[2] = {64, 37}, M = 120, K = 64, N = 37, i, j, k;
  lp_tensor *x = mk(dt, 3, xs, 0.05, 1), *w = mk(dt, 2, ws, 0, 2), *y = NULL;
  CHECK(x && w);
  CHECK_OK(lp_matmul(ctx, x, w, &y));
  CHECK(y && lp_tensor_ndim(y) == 3 && lp_tensor_shape(y)[2] == N);
  for (i = 0; y && i < M; i++)
    for (j = 0; j < N; j++) {
      double ref = 0;
      for (k = 0; k < K; k++) ref += at(x, i * K + k) * at(w, k * N + j);
      CHECK_NEAR(at(y, i * N + j), ref, tol);
    }
  lp_tensor_release(x); lp_tensor_release(w); lp_tensor_release(y);
}

static void test_gather(void) { check_gather(LP_F32, 1e-5); check_gather(LP_F64, 1e-12); }

/* g = x^T . d, x (M, K) spikes: scatter-adds */
static void test_scatter(void) {
  int64_t xs[2] = {150, 48}, ds[2] = {150, 70}, M = 150, K = 48, N = 70, i, j, m;
  lp_tensor *x = mk(LP_F32, 2, xs, 0.04, 3), *d = mk(LP_F32, 2, ds, 0, 4), *xt = NULL, *g = NULL;
  CHECK_OK(lp_tensor_transpose(ctx, x, 0, 1, &xt));
  CHECK_OK(lp_matmul(ctx, xt, d, &g));
  for (i = 0; g && i < K; i++)
    for (j = 0; j < N; j++) {
      double ref = 0;
      for (m = 0; m < M; m++) ref += at(x, m * K + i) * at(d, m * N + j);
      CHECK_NEAR(at(g, i * N + j), ref, 1e-5);
    }
  lp_tensor_release(x); lp_tensor_release(d); lp_tensor_release(xt); lp_tensor_release(g);
}

static void test_threads(void) {
  int64_t xs[2] = {90, 200}, ws[2] = {200, 300};
  lp_tensor *x = mk(LP_F32, 2, xs, 0.03, 5), *w = mk(LP_F32, 2, ws, 0, 6), *xt = NULL;
  lp_tensor *y1 = NULL, *y3 = NULL, *g1 = NULL, *g3 = NULL;
  int old = lp_ctx_threads(ctx);
  CHECK_OK(lp_tensor_transpose(ctx, x, 0, 1, &xt));
  lp_ctx_set_threads(ctx, 1);
  CHECK_OK(lp_matmul(ctx, x, w, &y1));
  CHECK_OK(lp_matmul(ctx, xt, y1, &g1));
  lp_ctx_set_threads(ctx, 3);
  CHECK_OK(lp_matmul(ctx, x, w, &y3));
  CHECK_OK(lp_matmul(ctx, xt, y1, &g3));
  lp_ctx_set_threads(ctx, old);
  CHECK(y1 && y3 && memcmp(lp_tensor_data(y1), lp_tensor_data(y3), 90 * 300 * sizeof(float)) == 0);
  CHECK(g1 && g3 && memcmp(lp_tensor_data(g1), lp_tensor_data(g3), 200 * 300 * sizeof(float)) == 0);
  lp_tensor_release(x); lp_tensor_release(w); lp_tensor_release(xt);
  lp_tensor_release(y1); lp_tensor_release(y3); lp_tensor_release(g1); lp_tensor_release(g3);
}

static void test_alloc_failures(void) {
  int64_t xs[2] = {60, 80}, ws[2] = {80, 20};
  lp_tensor *x = mk(LP_F32, 2, xs, 0.05, 7), *w = mk(LP_F32, 2, ws, 0, 8);
  size_t live = lp_ctx_bytes_live(ctx);
  long n;
  for (n = 1; n <= 6; n++) {
    lp_tensor *y = NULL;
    lp_status st;
    lp_ctx_fail_alloc_after(ctx, n);
    st = lp_matmul(ctx, x, w, &y);
    lp_ctx_fail_alloc_after(ctx, 0);
    CHECK(st == LP_OK || st == LP_ENOMEM);
    CHECK(st == LP_OK ? y != NULL : y == NULL);
    lp_tensor_release(y);
    CHECK(lp_ctx_bytes_live(ctx) == live);
  }
  lp_tensor_release(x); lp_tensor_release(w);
}

/* the index of R rows of length L (float32 or float64) by the vector masks
   equals the plain one's: rowptr, idx, val (bits), and the same refusal past cap */
static void check_index(lp_dtype dt, int64_t R, int64_t L, double p, int64_t cap, unsigned seed) {
  const size_t es = lp_dtype_size(dt);
  const double specials[] = {NAN, -0.0, INFINITY, -INFINITY, 1e-310, -1e-42, 1.0, 0.5};
  char *x = malloc((size_t)(R * L) * es), *v1 = malloc((size_t)(R * L + 1) * es), *v2 = malloc((size_t)(R * L + 1) * es);
  int64_t *rp1 = malloc((size_t)(R + 1) * sizeof *rp1), *rp2 = malloc((size_t)(R + 1) * sizeof *rp2), i;
  int32_t *i1 = malloc((size_t)(R * L + 1) * sizeof *i1), *i2 = malloc((size_t)(R * L + 1) * sizeof *i2);
  int ok1, ok2, ok3, th;
  CHECK(x && v1 && v2 && rp1 && rp2 && i1 && i2);
  if (!(x && v1 && v2 && rp1 && rp2 && i1 && i2)) goto out;
  for (i = 0; i < R * L; i++) {
    double r = rnd(&seed), val = 0;
    if (r < p) val = rnd(&seed) < 0.5 ? 1.0 : specials[(int)(rnd(&seed) * 8) & 7];
    else if (r < p + 0.05) val = -0.0;
    if (dt == LP_F32) ((float *)x)[i] = (float)val; else ((double *)x)[i] = val;
  }
  ok1 = lp_sp_index(dt, x, R, L, L, cap, rp1, i1, v1);
  ok2 = lp_sp_index_ref(dt, x, R, L, L, cap, rp2, i2, v2);
  CHECK(ok1 == ok2);
  if (ok1 && ok2) {
    CHECK(memcmp(rp1, rp2, (size_t)(R + 1) * sizeof *rp1) == 0);
    CHECK(memcmp(i1, i2, (size_t)rp2[R] * sizeof *i1) == 0);
    CHECK(memcmp(v1, v2, (size_t)rp2[R] * es) == 0);
  }
  for (th = 1; th <= 3; th += 2) {       /* the threaded index, from the same floats */
    memset(i1, 0, (size_t)(R * L + 1) * sizeof *i1);
    ok3 = lp_sp_index_mt(dt, dt, x, R, L, L, cap, rp1, i1, v1, th);
    CHECK(ok3 == ok2);
    if (ok3 && ok2) {
      CHECK(memcmp(rp1, rp2, (size_t)(R + 1) * sizeof *rp1) == 0);
      CHECK(memcmp(i1, i2, (size_t)rp2[R] * sizeof *i1) == 0);
      CHECK(memcmp(v1, v2, (size_t)rp2[R] * es) == 0);
    }
  }
out:
  free(x); free(v1); free(v2); free(rp1); free(rp2); free(i1); free(i2);
}

static void test_index_masks(void) {
  static const int64_t lens[] = {1, 7, 15, 16, 17, 31, 32, 33, 63, 64, 65, 700};
  size_t k;
  int d;
  for (d = 0; d < 2; d++) {
    const lp_dtype dt = d ? LP_F64 : LP_F32;
    for (k = 0; k < sizeof lens / sizeof *lens; k++) {
      check_index(dt, 70, lens[k], 0.1, 70 * lens[k], 11u + (unsigned)k);        /* cap never reached */
      check_index(dt, 70, lens[k], 0.6, 70 * lens[k] / 4, 23u + (unsigned)k);    /* refused past cap */
    }
  }
}

/* the weight-gradient scatter-add of 0/1 spikes with val NULL (rows added)
   equals the one with every value 1 (rows multiplied by 1), bit for bit */
static void test_tn_index_ones(void) {
  const int64_t R = 1700, L = 90, Nc = 45;   /* >= 8192 events: the transpose on 3 threads */
  int64_t *rp = malloc((size_t)(R + 1) * sizeof *rp), i, nz;
  int32_t *ix = malloc((size_t)(R * L) * sizeof *ix);
  float *x = malloc((size_t)(R * L) * sizeof *x), *val = malloc((size_t)(R * L) * sizeof *val);
  float *b = malloc((size_t)(R * Nc) * sizeof *b), *c1 = malloc((size_t)(L * Nc) * sizeof *c1);
  float *c2 = malloc((size_t)(L * Nc) * sizeof *c2);
  unsigned seed = 99;
  int th;
  CHECK(rp && ix && x && val && b && c1 && c2);
  if (!(rp && ix && x && val && b && c1 && c2)) goto out;
  for (i = 0; i < R * L; i++) x[i] = rnd(&seed) < 0.06 ? 1.0f : 0.0f;
  for (i = 0; i < R * Nc; i++) b[i] = (float)(2 * rnd(&seed) - 1);
  CHECK(lp_sp_index(LP_F32, x, R, L, L, R * L, rp, ix, val));
  nz = rp[R];
  CHECK(nz >= 8192);
  for (i = 0; i < nz; i++) CHECK(val[i] == 1.0f);
  for (th = 1; th <= 3; th += 2) {
    memset(c1, 0xff, (size_t)(L * Nc) * sizeof *c1);
    memset(c2, 0, (size_t)(L * Nc) * sizeof *c2);
    CHECK_OK(lp_sp_gemm_tn_index(ctx, LP_F32, R, L, Nc, rp, ix, val, b, Nc, c1, th));
    CHECK_OK(lp_sp_gemm_tn_index(ctx, LP_F32, R, L, Nc, rp, ix, NULL, b, Nc, c2, th));
    CHECK(memcmp(c1, c2, (size_t)(L * Nc) * sizeof *c1) == 0);
  }
out:
  free(rp); free(ix); free(x); free(val); free(b); free(c1); free(c2);
}

/* lp_sp_gemm on 0/1 spikes takes the gathers without products (issue 17):
   bit for bit the plain float loop that adds x[i,k] * w[k,j] for k
   ascending, for A and for A^T, and still the products when one value is 2 */
static void test_gemm_ones(void) {
  const int64_t M = 300, K = 70, N = 29;
  float *x = malloc((size_t)(M * K) * sizeof *x), *w = malloc((size_t)(M * N) * sizeof *w);
  float *c = malloc((size_t)(M * N) * sizeof *c), *ref = malloc((size_t)(M * N) * sizeof *ref);
  unsigned seed = 7;
  int64_t i, j, k;
  int done, tr, two;
  CHECK(x && w && c && ref);
  if (!(x && w && c && ref)) goto out;
  for (two = 0; two <= 1; two++)
    for (tr = 0; tr <= 1; tr++) {
      /* tr = 0: C (M x N) = X (M x K) . W (K x N); tr = 1: C (K x N) = X^T . W (M x N) */
      const int64_t rows = tr ? K : M, inner = tr ? M : K;
      seed = 7;
      for (i = 0; i < M * K; i++) x[i] = rnd(&seed) < 0.05 ? 1.0f : 0.0f;
      if (two) { for (i = 0; x[i] == 0; i++) {} x[i] = 2.0f; }
      for (i = 0; i < M * N; i++) w[i] = (float)(2 * rnd(&seed) - 1);
      for (i = 0; i < rows; i++)
        for (j = 0; j < N; j++) {
          float acc = 0;
          for (k = 0; k < inner; k++) {
            const float a = tr ? x[k * K + i] : x[i * K + k];
            if (a != 0) acc += a * w[k * N + j];
          }
          ref[i * N + j] = acc;
        }
      CHECK_OK(lp_sp_gemm(ctx, LP_F32, rows, N, inner, x, K, tr, w, N, c, 2, &done));
      CHECK(done == 1);
      CHECK(memcmp(c, ref, (size_t)(rows * N) * sizeof *c) == 0);
    }
out:
  free(x); free(w); free(c); free(ref);
}

int main(void) {
  int rc;
  if (lp_ctx_new(&ctx) != LP_OK) return 1;
  RUN(test_gather);
  RUN(test_scatter);
  RUN(test_threads);
  RUN(test_alloc_failures);
  RUN(test_index_masks);
  RUN(test_tn_index_ones);
  RUN(test_gemm_ones);
  rc = TEST_REPORT("test_sparse");
  CHECK(lp_ctx_bytes_live(ctx) == 0);
  lp_ctx_free(ctx);
  return rc;
}
