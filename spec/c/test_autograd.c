/*
** spec/c/test_autograd.c -- C tests of the autodiff engine and the op
** backwards (limpet/autograd.h): recording and backward for a few ops,
** leaf accumulation, saved tensors released after backward, graphs freed
** with their outputs, a 100,000-op chain (no stack overflow either way),
** in-place refusal, and allocation failures in recording and in backward
** (LP_ENOMEM, nothing leaked). Links only the core archive.
*/
#include "limpet/autograd.h"
#include "limpet/random.h"
#include "tensor_impl.h"
#include "check.h"
#include <string.h>

static lp_ctx *ctx;

static lp_tensor *mk(int ndim, const int64_t *shape, const double *vals, int grad) {
  lp_tensor *t = NULL;
  if (lp_tensor_from_data(ctx, LP_F64, ndim, shape, vals, &t) != LP_OK) return NULL;
  if (grad && lp_tensor_set_requires_grad(ctx, t, 1) != LP_OK) { lp_tensor_release(t); return NULL; }
  return t;
}
static double at(const lp_tensor *t, int64_t k) { return lp_scalar_f(lp_tensor_get_flat(t, k)); }

static void test_record_backward(void) {
  int64_t s23[2] = {2, 3}, s3 = 3;
  double va[6] = {1, 2, 3, 4, 5, 6}, vb[3] = {0.5, -1, 2};
  lp_tensor *a = mk(2, s23, va, 1), *b = mk(1, &s3, vb, 1), *m = NULL, *p = NULL, *s = NULL;
  int k;
  /* s = sum(a * b + a) : da = b + 1 (broadcast), db = sum over rows of a */
  CHECK_OK(lp_ag_binary(ctx, LP_MUL, a, b, &m));
  CHECK_OK(lp_ag_binary(ctx, LP_ADD, m, a, &p));
  CHECK_OK(lp_ag_reduce(ctx, LP_SUM, p, -1, 0, 0, &s));
  CHECK(lp_tensor_requires_grad(s) && !lp_tensor_is_leaf(s));
  CHECK(strcmp(lp_tensor_grad_fn_name(s), "sum") == 0);
  CHECK(strcmp(lp_tensor_grad_fn_name(m), "mul") == 0);
  CHECK(lp_tensor_grad_fn_name(a) == NULL);
  CHECK_OK(lp_backward(ctx, s, NULL, 0));
  for (k = 0; k < 6; k++) CHECK_NEAR(at(lp_tensor_grad(a), k), vb[k % 3] + 1, 1e-12);
  CHECK_NEAR(at(lp_tensor_grad(b), 0), 5, 1e-12);
  CHECK_NEAR(at(lp_tensor_grad(b), 1), 7, 1e-12);
  CHECK_NEAR(at(lp_tensor_grad(b), 2), 9, 1e-12);
  /* integer results never record */
  {
    lp_tensor *c = NULL, *am = NULL;
    CHECK_OK(lp_ag_binary(ctx, LP_GT, a, b, &c));
    CHECK(!lp_tensor_requires_grad(c));
    CHECK_OK(lp_ag_reduce(ctx, LP_ARGMAX, a, 1, 0, 0, &am));
    CHECK(!lp_tensor_requires_grad(am));
    lp_tensor_release(c); lp_tensor_release(am);
  }
  /* grad mode off: nothing recorded */
  {
    lp_tensor *q = NULL;
    int old = lp_grad_set_enabled(ctx, 0);
    CHECK_OK(lp_ag_unary(ctx, LP_EXP, a, &q));
    CHECK(!lp_tensor_requires_grad(q));
    lp_grad_set_enabled(ctx, old);
    lp_tensor_release(q);
  }
  lp_tensor_release(m); lp_tensor_release(p); lp_tensor_release(s);
  lp_tensor_release(a); lp_tensor_release(b);
  CHECK(lp_ctx_bytes_live(ctx) == 0);
}

static void test_accumulate(void) {
  int64_t s2 = 2;
  double va[2] = {1, 2};
  lp_tensor *a = mk(1, &s2, va, 1);
  int i;
  for (i = 0; i < 2; i++) {
    lp_tensor *y = NULL, *s = NULL;
    CHECK_OK(lp_ag_binary(ctx, LP_MUL, a, a, &y));
    CHECK_OK(lp_ag_reduce(ctx, LP_SUM, y, -1, 0, 0, &s));
    CHECK_OK(lp_backward(ctx, s, NULL, 0));
    lp_tensor_release(y); lp_tensor_release(s);
  }
  CHECK_NEAR(at(lp_tensor_grad(a), 0), 4, 1e-12);
  CHECK_NEAR(at(lp_tensor_grad(a), 1), 8, 1e-12);
  CHECK_OK(lp_tensor_set_grad(ctx, a, NULL));
  CHECK(lp_tensor_grad(a) == NULL);
  lp_tensor_release(a);
  CHECK(lp_ctx_bytes_live(ctx) == 0);
}

static void test_saved_released(void) {
  int64_t n = 1000;
  lp_tensor *a = NULL, *e = NULL, *s = NULL;
  size_t before, after;
  CHECK_OK(lp_randn(ctx, LP_F64, 1, &n, &a));
  CHECK_OK(lp_tensor_set_requires_grad(ctx, a, 1));
  CHECK_OK(lp_ag_unary(ctx, LP_EXP, a, &e));     /* saves its output */
  CHECK_OK(lp_ag_reduce(ctx, LP_SUM, e, -1, 0, 0, &s));
  lp_tensor_release(e);                          /* its storage lives on in the node */
  before = lp_ctx_bytes_live(ctx);
  CHECK_OK(lp_backward(ctx, s, NULL, 0));
  CHECK_OK(lp_tensor_set_grad(ctx, a, NULL));
  after = lp_ctx_bytes_live(ctx);
  CHECK(after + (size_t)n * sizeof(double) <= before);
  /* a second backward is refused */
  CHECK(lp_backward(ctx, s, NULL, 0) == LP_EARG);
  lp_tensor_release(s);
  lp_tensor_release(a);
  CHECK(lp_ctx_bytes_live(ctx) == 0);
}

static void test_graph_freed(void) {
  int64_t s3 = 3;
  double v[3] = {1, 2, 3};
  lp_tensor *a = mk(1, &s3, v, 1), *x = lp_tensor_retain(a);
  int i;
  /* a graph built and dropped without backward frees everything */
  for (i = 0; i < 10; i++) {
    lp_tensor *y = NULL;
    CHECK_OK(lp_ag_binary(ctx, LP_MUL, x, a, &y));
    lp_tensor_release(x);
    x = y;
  }
  lp_tensor_release(x);
  lp_tensor_release(a);
  CHECK(lp_ctx_bytes_live(ctx) == 0);
}

static void test_long_chain(void) {
  int64_t s2 = 2;
  double v[2] = {1, -1};
  lp_tensor *a = mk(1, &s2, v, 1), *y = lp_tensor_retain(a), *s = NULL;
  int i;
  for (i = 0; i < 100000; i++) {
    lp_tensor *z = NULL;
    if (lp_ag_binary_scalar(ctx, LP_ADD, y, lp_float(1e-6), 0, &z) != LP_OK) break;
    lp_tensor_release(y);
    y = z;
  }
  CHECK(i == 100000);
  CHECK_OK(lp_ag_reduce(ctx, LP_SUM, y, -1, 0, 0, &s));
  CHECK_OK(lp_backward(ctx, s, NULL, 0));
  CHECK_NEAR(at(lp_tensor_grad(a), 0), 1, 1e-12);
  lp_tensor_release(y);
  lp_tensor_release(s);                          /* frees the 100,000 nodes */
  /* and a chain dropped without backward */
  y = lp_tensor_retain(a);
  for (i = 0; i < 100000; i++) {
    lp_tensor *z = NULL;
    if (lp_ag_unary(ctx, LP_NEG, y, &z) != LP_OK) break;
    lp_tensor_release(y);
    y = z;
  }
  lp_tensor_release(y);
  lp_tensor_release(a);
  CHECK(lp_ctx_bytes_live(ctx) == 0);
}

static void test_inplace(void) {
  int64_t s2 = 2;
  double v[2] = {1, 2};
  lp_tensor *a = mk(1, &s2, v, 1), *y = NULL, *x = mk(1, &s2, v, 0), *s = NULL;
  CHECK(lp_binary_scalar_(ctx, LP_ADD, a, lp_int(1)) == LP_EARG);
  CHECK(lp_tensor_fill_(ctx, a, lp_int(0)) == LP_EARG);
  CHECK(lp_ctx_errarg(ctx) == 1);
  CHECK(strcmp(lp_ctx_errmsg(ctx), "in-place operation on a tensor that requires grad (use lp.no_grad or detach)") == 0);
  /* a saved tensor modified after saving */
  CHECK_OK(lp_ag_binary(ctx, LP_MUL, a, x, &y));
  CHECK_OK(lp_ag_reduce(ctx, LP_SUM, y, -1, 0, 0, &s));
  CHECK_OK(lp_binary_scalar_(ctx, LP_ADD, x, lp_int(1)));
  CHECK(lp_backward(ctx, s, NULL, 0) == LP_EARG);
  lp_tensor_release(y); lp_tensor_release(s); lp_tensor_release(x); lp_tensor_release(a);
  CHECK(lp_ctx_bytes_live(ctx) == 0);
}

/* A graph over most kinds of op; only the root and the leaves are kept. */
static lp_status build(lp_tensor *a, lp_tensor *b, lp_tensor **root) {
  lp_tensor *t[12];
  lp_tensor *parts[2];
  lp_tensor *idx = NULL;
  int64_t i2[3] = {2, 0, 2}, s3 = 3;
  lp_status st;
  int k;
  memset(t, 0, sizeof t);
  *root = NULL;
  if ((st = lp_tensor_from_data(ctx, LP_I64, 1, &s3, i2, &idx)) != LP_OK) return st;
  if ((st = lp_ag_matmul(ctx, a, a, &t[0])) != LP_OK) goto done;
  if ((st = lp_ag_binary(ctx, LP_MUL, t[0], b, &t[1])) != LP_OK) goto done;
  if ((st = lp_ag_unary(ctx, LP_TANH, t[1], &t[2])) != LP_OK) goto done;
  if ((st = lp_ag_slice(ctx, t[2], 1, 0, 3, 2, &t[3])) != LP_OK) goto done;
  parts[0] = t[3]; parts[1] = a;
  if ((st = lp_ag_cat(ctx, 2, parts, 1, &t[4])) != LP_OK) goto done;
  if ((st = lp_ag_index_select(ctx, t[4], 0, idx, &t[5])) != LP_OK) goto done;
  if ((st = lp_ag_reduce(ctx, LP_RMAX, t[5], 1, 0, 0, &t[6])) != LP_OK) goto done;
  if ((st = lp_ag_reduce(ctx, LP_STD, t[5], 0, 0, 0, &t[7])) != LP_OK) goto done;
  if ((st = lp_ag_reduce(ctx, LP_SUM, t[6], -1, 0, 0, &t[8])) != LP_OK) goto done;
  if ((st = lp_ag_reduce(ctx, LP_PROD, t[7], -1, 0, 0, &t[9])) != LP_OK) goto done;
  if ((st = lp_ag_binary(ctx, LP_DIV, t[8], t[9], &t[10])) != LP_OK) goto done;
  *root = t[10];
  t[10] = NULL;
done:
  for (k = 0; k < 12; k++) lp_tensor_release(t[k]);
  lp_tensor_release(idx);
  return st;
}

static void test_alloc_failures(void) {
  int64_t s33[2] = {3, 3}, s3 = 3;
  double va[9] = {0.1, 0.2, -0.3, 0.4, 0.5, 0.6, -0.7, 0.8, 0.9}, vb[3] = {1, 2, 3};
  long nfail;
  int ok = 0;
  /* recording */
  for (nfail = 1; nfail < 400 && !ok; nfail++) {
    lp_tensor *a = mk(2, s33, va, 1), *b = mk(1, &s3, vb, 1), *r = NULL;
    lp_status st;
    lp_ctx_fail_alloc_after(ctx, nfail);
    st = build(a, b, &r);
    lp_ctx_fail_alloc_after(ctx, 0);
    if (st == LP_OK) ok = 1;
    else { CHECK(st == LP_ENOMEM); CHECK(r == NULL); }
    lp_tensor_release(r); lp_tensor_release(a); lp_tensor_release(b);
    CHECK(lp_ctx_bytes_live(ctx) == 0);
  }
  CHECK(ok);
  CHECK(nfail > 20);                             /* many failure points were visited */
  /* backward */
  ok = 0;
  for (nfail = 1; nfail < 2000 && !ok; nfail++) {
    lp_tensor *a = mk(2, s33, va, 1), *b = mk(1, &s3, vb, 1), *r = NULL;
    lp_status st;
    CHECK_OK(build(a, b, &r));
    lp_ctx_fail_alloc_after(ctx, nfail);
    st = lp_backward(ctx, r, NULL, 0);
    lp_ctx_fail_alloc_after(ctx, 0);
    if (st == LP_OK) {
      ok = 1;
      CHECK(lp_tensor_grad(a) != NULL && lp_tensor_grad(b) != NULL);
    } else {
      if (st != LP_ENOMEM) fprintf(stderr, "  N %ld: status %d (%s)\n", nfail, (int)st, lp_ctx_errmsg(ctx));
      CHECK(st == LP_ENOMEM);
    }
    lp_tensor_release(r); lp_tensor_release(a); lp_tensor_release(b);
    CHECK(lp_ctx_bytes_live(ctx) == 0);
  }
  CHECK(ok);
  CHECK(nfail > 20);
}

int main(void) {
  if (lp_ctx_new(&ctx) != LP_OK) return 2;
  RUN(test_record_backward);
  RUN(test_accumulate);
  RUN(test_saved_released);
  RUN(test_graph_freed);
  RUN(test_long_chain);
  RUN(test_inplace);
  RUN(test_alloc_failures);
  lp_ctx_free(ctx);
  return TEST_REPORT("test_autograd");
}
