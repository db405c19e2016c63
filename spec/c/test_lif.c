/*
** spec/c/test_lif.c -- C tests of limpet/neuron.h: the LIF forward against a
** naive loop (float32, recurrent, two synapses), BPTT backward against
** central finite differences (float64, below threshold, recurrent, aLIF),
** and allocation failures (forward with recording and backward return
** LP_ENOMEM cleanly and leak nothing). Links only the core archive.
*/
#include "limpet/neuron.h"
#include "limpet/autograd.h"
#include "limpet/ops.h"
#include "check.h"
#include <math.h>
#include <string.h>
#include <stdlib.h>

static lp_ctx *ctx;

enum { B = 2, T = 6, N = 3, K = 2, NK = N * K };

static double rnd(unsigned *s) { *s = *s * 1103515245u + 12345u; return ((*s >> 8) & 0xffff) / 65536.0; }

static lp_tensor *mk(lp_dtype dt, int ndim, const int64_t *shape, double lo, double hi, unsigned seed) {
  lp_tensor *t = NULL;
  int64_t i, n;
  if (lp_tensor_empty(ctx, dt, ndim, shape, &t) != LP_OK) return NULL;
  n = lp_tensor_numel(t);
  for (i = 0; i < n; i++)
    lp_store_f(dt, (char *)lp_tensor_data(t) + i * (int64_t)lp_dtype_size(dt), lo + (hi - lo) * rnd(&seed));
  return t;
}
static double at(const lp_tensor *t, int64_t i) { return lp_scalar_f(lp_tensor_get_flat(t, i)); }

typedef struct fixture {
  lp_tensor *x, *alpha, *beta, *bias, *th, *W, *wahp, *bahp, *s0;
} fixture;

static void fixture_make(fixture *f, lp_dtype dt, double thr) {
  int64_t sx[3] = {B, T, NK}, sn[1] = {N}, snk[2] = {N, NK}, sb[2] = {N, K}, s0[2] = {B, N};
  f->x = mk(dt, 3, sx, -0.2, 1.0, 1);
  f->alpha = mk(dt, 1, sn, 0.6, 0.95, 2);
  f->beta = mk(dt, 2, sb, 0.3, 0.9, 3);
  f->bias = mk(dt, 1, sn, -0.05, 0.05, 4);
  f->th = mk(dt, 1, sn, thr, thr, 5);
  f->W = mk(dt, 2, snk, -0.6, 0.6, 6);
  f->wahp = mk(dt, 1, sn, -0.9, -0.1, 7);
  f->bahp = mk(dt, 1, sn, 0.5, 0.9, 8);
  f->s0 = mk(dt, 2, s0, 0, 2, 9);
  lp_tensor_fill_(ctx, f->s0, lp_float(1));
}
static void fixture_free(fixture *f) {
  lp_tensor **p = (lp_tensor **)f;
  size_t i;
  for (i = 0; i < sizeof *f / sizeof *p; i++) lp_tensor_release(p[i]);
}
static void args_of(const fixture *f, lp_lif_args *a, int ahp) {
  memset(a, 0, sizeof *a);
  a->x = f->x; a->alpha = f->alpha; a->beta = f->beta; a->bias = f->bias; a->threshold = f->th;
  a->w_rec = f->W; a->spikes = f->s0;
  if (ahp) { a->w_ahp = f->wahp; a->beta_ahp = f->bahp; }
}

/* forward: spikes, vmem and isyn of a naive loop over the documented step */
static void test_forward_naive(void) {
  fixture f;
  lp_lif_args a;
  lp_lif_opts o;
  lp_lif_out r;
  int b, t, n, j, m, total = 0;
  fixture_make(&f, LP_F32, 0.8);
  args_of(&f, &a, 1);
  lp_lif_opts_default(&o);
  o.record = 1;
  CHECK_OK(lp_lif(ctx, &a, &o, &r));
  for (b = 0; b < B; b++) {
    float v[N] = {0}, is[N][K] = {{0}}, s[N], ia[N] = {0}, ns[N];
    for (n = 0; n < N; n++) s[n] = (float)at(f.s0, b * N + n);
    for (t = 0; t < T; t++) {
      for (n = 0; n < N; n++) {
        float sum = 0, u, a_;
        for (j = 0; j < K; j++) {
          float rr = 0, c;
          for (m = 0; m < N; m++) rr += s[m] * (float)at(f.W, m * NK + n * K + j);
          c = is[n][j] + (float)at(f.x, (b * T + t) * NK + n * K + j) + rr;
          is[n][j] = (float)at(f.beta, n * K + j) * c;
          sum += is[n][j];
          CHECK_NEAR(at(r.isyn, ((b * T + t) * N + n) * K + j), is[n][j], 1e-5);
        }
        a_ = ia[n] + (float)at(f.wahp, n) * s[n];
        ia[n] = (float)at(f.bahp, n) * a_;
        u = (float)at(f.alpha, n) * v[n] + sum + ia[n] + (float)at(f.bias, n);
        ns[n] = u >= 0.8f ? floorf(u / 0.8f) : 0;
        v[n] = u - ns[n] * 0.8f;
        CHECK(at(r.spikes, (b * T + t) * N + n) == ns[n]);
        CHECK_NEAR(at(r.vmem, (b * T + t) * N + n), v[n], 1e-5);
        total += (int)ns[n];
      }
      memcpy(s, ns, sizeof s);
    }
    for (n = 0; n < N; n++) CHECK_NEAR(at(r.vmem_final, b * N + n), v[n], 1e-5);
  }
  CHECK(total > 3);
  CHECK(lp_tensor_requires_grad(r.spikes) == 0);
  lp_lif_out_release(&r);
  fixture_free(&f);
}

/* L = sum(vmem * R), threshold high (no spikes): smooth in every parameter */
static double loss_of(const fixture *f, const lp_tensor *R) {
  lp_lif_args a;
  lp_lif_opts o;
  lp_lif_out r;
  double L = 0;
  int64_t i;
  args_of(f, &a, 1);
  lp_lif_opts_default(&o);
  o.record = 1;
  if (lp_lif(ctx, &a, &o, &r) != LP_OK) return NAN;
  for (i = 0; i < lp_tensor_numel(R); i++) L += at(r.vmem, i) * at(R, i);
  lp_lif_out_release(&r);
  return L;
}

static void test_backward_fd(void) {
  fixture f;
  lp_lif_args a;
  lp_lif_opts o;
  lp_lif_out r;
  lp_tensor *R;
  int64_t sR[3] = {B, T, N};
  lp_tensor *params[8];
  int p;
  fixture_make(&f, LP_F64, 100.0);
  R = mk(LP_F64, 3, sR, -1, 1, 10);
  params[0] = f.x; params[1] = f.alpha; params[2] = f.beta; params[3] = f.bias;
  params[4] = f.W; params[5] = f.wahp; params[6] = f.bahp; params[7] = f.th;
  for (p = 0; p < 8; p++) CHECK_OK(lp_tensor_set_requires_grad(ctx, params[p], 1));
  args_of(&f, &a, 1);
  lp_lif_opts_default(&o);
  o.record = 1;
  CHECK_OK(lp_lif(ctx, &a, &o, &r));
  CHECK(lp_tensor_requires_grad(r.vmem));
  CHECK_OK(lp_backward(ctx, r.vmem, R, 0));
  lp_lif_out_release(&r);
  for (p = 0; p < 7; p++) {          /* threshold: no spikes, so only through nothing: grad 0 */
    lp_tensor *g = lp_tensor_grad(params[p]);
    double *d = lp_tensor_data(params[p]);
    int64_t i;
    CHECK(g != NULL);
    if (!g) continue;
    for (i = 0; i < lp_tensor_numel(params[p]); i++) {
      double x0 = d[i], h = 1e-6, num;
      d[i] = x0 + h; num = loss_of(&f, R);
      d[i] = x0 - h; num -= loss_of(&f, R);
      d[i] = x0;
      num /= 2 * h;
      CHECK_NEAR(at(g, i), num, 1e-6 + 1e-5 * fabs(num));
    }
  }
  CHECK(lp_tensor_grad(f.th) != NULL);
  if (lp_tensor_grad(f.th)) CHECK_NEAR(at(lp_tensor_grad(f.th), 0), 0, 0);
  lp_tensor_release(R);
  fixture_free(&f);
}

/* every allocation of forward + backward fails in turn: LP_ENOMEM, no leak */
static lp_status run_all(fixture *f) {
  lp_lif_args a;
  lp_lif_opts o;
  lp_lif_out r;
  lp_tensor *L = NULL;
  lp_status st;
  args_of(f, &a, 1);
  lp_lif_opts_default(&o);
  o.record = 1;
  if ((st = lp_lif(ctx, &a, &o, &r)) != LP_OK) return st;
  st = lp_ag_reduce(ctx, LP_SUM, r.spikes, -1, 0, 0, &L);
  if (st == LP_OK) st = lp_backward(ctx, L, NULL, 0);
  lp_tensor_release(L);
  lp_lif_out_release(&r);
  return st;
}

static void test_alloc_failures(void) {
  fixture f;
  long n;
  int ok = 0, p;
  lp_tensor **ps;
  fixture_make(&f, LP_F32, 0.8);
  ps = (lp_tensor **)&f;
  for (p = 0; p < 8; p++) CHECK_OK(lp_tensor_set_requires_grad(ctx, ps[p], 1));
  for (n = 1; n < 400; n++) {
    size_t live;
    lp_status st;
    for (p = 0; p < 8; p++) lp_tensor_set_grad(ctx, ps[p], NULL);
    live = lp_ctx_bytes_live(ctx);
    lp_ctx_fail_alloc_after(ctx, n);
    st = run_all(&f);
    lp_ctx_fail_alloc_after(ctx, 0);
    for (p = 0; p < 8; p++) lp_tensor_set_grad(ctx, ps[p], NULL);
    if (st == LP_OK) { ok = n > 20; break; }
    if (st != LP_ENOMEM || lp_ctx_bytes_live(ctx) != live) {
      fprintf(stderr, "  failing allocation %ld gave status %d (%s), live %zu vs %zu\n", n, (int)st,
              lp_ctx_errmsg(ctx), lp_ctx_bytes_live(ctx), live);
      CHECK(0);
      break;
    }
  }
  CHECK(ok);
  fixture_free(&f);
}

static void test_errors(void) {
  fixture f;
  lp_lif_args a;
  lp_lif_opts o;
  lp_lif_out r;
  lp_tensor *bad = NULL;
  int64_t s5 = 5;
  fixture_make(&f, LP_F32, 1.0);
  args_of(&f, &a, 0);
  lp_lif_opts_default(&o);
  CHECK_OK(lp_tensor_new(ctx, LP_F32, 1, &s5, &bad));
  a.bias = bad;
  CHECK(lp_lif(ctx, &a, &o, &r) == LP_ESHAPE);
  CHECK(strcmp(lp_ctx_errmsg(ctx), "field 'bias': expected shape (3,), got (5,)") == 0);
  CHECK(lp_ctx_errarg(ctx) == 2);
  CHECK(r.spikes == NULL);
  lp_tensor_release(bad);
  fixture_free(&f);
}

int main(void) {
  int rc;
  if (lp_ctx_new(&ctx) != LP_OK) return 1;
  RUN(test_forward_naive);
  RUN(test_backward_fd);
  RUN(test_alloc_failures);
  RUN(test_errors);
  rc = TEST_REPORT("test_lif");
  CHECK(lp_ctx_bytes_live(ctx) == 0);
  lp_ctx_free(ctx);
  return rc;
}
