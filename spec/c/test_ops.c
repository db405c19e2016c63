/*
** spec/c/test_ops.c -- C tests of limpet/ops.h: promotion, broadcasting,
** every binary and unary op on small inputs, strided operands, reductions,
** matrix products against a naive loop, and allocation failures (every op
** returns LP_ENOMEM cleanly and leaks nothing). Links only the core archive.
** Expected values were computed with NumPy 1.24.
*/
#include "limpet/ops.h"
#include "tensor_impl.h"
#include "check.h"
#include <string.h>
#include <stdlib.h>

static lp_ctx *ctx;

/* A contiguous tensor of dtype dt holding vals (row-major). */
static lp_tensor *mk(lp_dtype dt, int ndim, const int64_t *shape, const double *vals) {
  lp_tensor *t = NULL;
  int64_t k, n;
  size_t es = lp_dtype_size(dt);
  if (lp_tensor_empty(ctx, dt, ndim, shape, &t) != LP_OK) return NULL;
  n = lp_tensor_numel(t);
  for (k = 0; k < n; k++) lp_store_f(dt, (char *)lp_tensor_data(t) + k * (int64_t)es, vals[k]);
  return t;
}
static lp_tensor *mk1(lp_dtype dt, int64_t n, const double *vals) { return mk(dt, 1, &n, vals); }
static double at(const lp_tensor *t, int64_t k) { return lp_scalar_f(lp_tensor_get_flat(t, k)); }

/* t's elements equal want (NaN matches NaN) */
static int same(const lp_tensor *t, const double *want, int64_t n) {
  int64_t k;
  if (lp_tensor_numel(t) != n) return 0;
  for (k = 0; k < n; k++) {
    double v = at(t, k);
    if (want[k] != want[k]) { if (v == v) return 0; }
    else if (fabs(v - want[k]) > 1e-6 * (1 + fabs(want[k]))) {
      fprintf(stderr, "  element %lld: got %.9g, want %.9g\n", (long long)k, v, want[k]);
      return 0;
    }
  }
  return 1;
}

static void test_promotion(void) {
  CHECK(lp_binop_dtype(LP_ADD, LP_I16, LP_I16) == LP_I16);
  CHECK(lp_binop_dtype(LP_ADD, LP_F32, LP_I32) == LP_F64);
  CHECK(lp_binop_dtype(LP_ADD, LP_F32, LP_I16) == LP_F32);
  CHECK(lp_binop_dtype(LP_ADD, LP_U8, LP_I8) == LP_I16);
  CHECK(lp_binop_dtype(LP_DIV, LP_I32, LP_I32) == LP_F32);
  CHECK(lp_binop_dtype(LP_DIV, LP_F64, LP_I32) == LP_F64);
  CHECK(lp_binop_dtype(LP_ADD, LP_BOOL, LP_BOOL) == LP_I64);
  CHECK(lp_binop_dtype(LP_MAXIMUM, LP_BOOL, LP_BOOL) == LP_BOOL);
  CHECK(lp_binop_dtype(LP_GT, LP_F32, LP_I64) == LP_BOOL);
  CHECK(lp_binop_dtype(LP_AND, LP_F32, LP_I64) == LP_BOOL);
  CHECK(lp_binop_dtype(LP_POW, LP_I8, LP_I8) == LP_I8);
  CHECK(lp_binop_dtype(LP_MOD, LP_U8, LP_BOOL) == LP_U8);
  CHECK(strcmp(lp_binop_name(LP_MAXIMUM), "maximum") == 0);
  CHECK(strcmp(lp_unop_name(LP_SIGMOID), "sigmoid") == 0);
  CHECK(strcmp(lp_redop_name(LP_ARGMAX), "argmax") == 0);
}

static void test_binary_broadcast(void) {
  int64_t s23[2] = {2, 3}, s3 = 3, s21[2] = {2, 1};
  double va[6] = {1, 2, 3, 4, 5, 6}, vb[3] = {10, 20, 30}, vc[2] = {-1, 1};
  lp_tensor *a = mk(LP_F32, 2, s23, va), *b = mk1(LP_F32, s3, vb), *c = mk(LP_I32, 2, s21, vc);
  lp_tensor *r = NULL, *bad = NULL;
  CHECK_OK(lp_binary(ctx, LP_ADD, a, b, &r));
  { double w[6] = {11, 22, 33, 14, 25, 36}; CHECK(same(r, w, 6)); }
  CHECK(lp_tensor_dtype(r) == LP_F32 && lp_tensor_ndim(r) == 2);
  lp_tensor_release(r);
  CHECK_OK(lp_binary(ctx, LP_MUL, c, b, &r));            /* (2,1) x (3,): f64 */
  { double w[6] = {-10, -20, -30, 10, 20, 30}; CHECK(same(r, w, 6)); }
  CHECK(lp_tensor_dtype(r) == LP_F64);
  lp_tensor_release(r);
  bad = mk1(LP_F32, 2, vc);
  CHECK(lp_binary(ctx, LP_ADD, a, bad, &r) == LP_ESHAPE && r == NULL);
  CHECK(strcmp(lp_ctx_errmsg(ctx), "shapes (2, 3) and (2,) cannot be broadcast together") == 0);
  lp_tensor_release(a); lp_tensor_release(b); lp_tensor_release(c); lp_tensor_release(bad);
}

/* Each binop on x = [-7, -1, 0, 5, 7], y = [2, -3, 4, 0, 7] */
static void test_binops_int(void) {
  double vx[5] = {-7, -1, 0, 5, 7}, vy[5] = {2, -3, 4, 0, 7};
  lp_tensor *x = mk1(LP_I32, 5, vx), *y = mk1(LP_I32, 5, vy), *r = NULL;
  static const double want[LP_NBINOPS][5] = {
    {-5, -4, 4, 5, 14},            /* add */
    {-9, 2, -4, 5, 0},             /* sub */
    {-14, 3, 0, 0, 49},            /* mul */
    {-3.5, 0.33333334, 0, INFINITY, 1}, /* div -> f32 */
    {49, -1, 0, 1, 823543},        /* pow (-1)^-3 = -1 */
    {1, -1, 0, 0, 0},              /* mod: floor, x % 0 = 0 */
    {2, -1, 4, 5, 7},              /* maximum */
    {-7, -3, 0, 0, 7},             /* minimum */
    {0, 1, 0, 1, 0}, {0, 1, 0, 1, 1}, {1, 0, 1, 0, 0}, {1, 0, 1, 0, 1},
    {0, 0, 0, 0, 1}, {1, 1, 1, 1, 0},
    {1, 1, 0, 0, 1}, {1, 1, 1, 1, 1}, {0, 0, 1, 1, 0},  /* and or xor */
    {-4, 0, 0, 0, 1},              /* floor_divide: floor, x // 0 = 0 */
    {-1.2924967, -2.8198421, 0, 1.5707964, 0.78539819},  /* arctan2 -> f32 */
    {7.2801099, 3.1622777, 4, 5, 9.8994949}             /* hypot -> f32 */
  };
  int op;
  for (op = 0; op < LP_NBINOPS; op++) {
    CHECK_OK(lp_binary(ctx, (lp_binop)op, x, y, &r));
    if (!same(r, want[op], 5)) { fprintf(stderr, "  op %s\n", lp_binop_name((lp_binop)op)); CHECK(0); }
    CHECK(lp_tensor_dtype(r) == lp_binop_dtype((lp_binop)op, LP_I32, LP_I32));
    lp_tensor_release(r);
  }
  /* negative exponents: 2^-1 = 0, 1^-5 = 1, (-1)^-2 = 1, 0^-1 = 0 */
  {
    double b[4] = {2, 1, -1, 0}, e[4] = {-1, -5, -2, -1}, w[4] = {0, 1, 1, 0};
    lp_tensor *tb = mk1(LP_I64, 4, b), *te = mk1(LP_I64, 4, e);
    CHECK_OK(lp_binary(ctx, LP_POW, tb, te, &r));
    CHECK(same(r, w, 4));
    lp_tensor_release(r); lp_tensor_release(tb); lp_tensor_release(te);
  }
  /* int8 wraps */
  {
    double a8[2] = {100, -128}, w[2] = {-56, 0};
    lp_tensor *t8 = mk1(LP_I8, 2, a8);
    CHECK_OK(lp_binary(ctx, LP_ADD, t8, t8, &r));
    CHECK(same(r, w, 2));
    lp_tensor_release(r); lp_tensor_release(t8);
  }
  lp_tensor_release(x); lp_tensor_release(y);
}

static void test_binops_float(void) {
  double vx[5] = {-7.5, -1, 0, 5, NAN}, vy[5] = {2, -3, 4, 0, 1};
  lp_tensor *x = mk1(LP_F64, 5, vx), *y = mk1(LP_F64, 5, vy), *r = NULL;
  { double w[5] = {0.5, -1, 0, NAN, NAN};               /* np.mod */
    CHECK_OK(lp_binary(ctx, LP_MOD, x, y, &r)); CHECK(same(r, w, 5)); lp_tensor_release(r); }
  { double w[5] = {2, -1, 4, 5, NAN};
    CHECK_OK(lp_binary(ctx, LP_MAXIMUM, x, y, &r)); CHECK(same(r, w, 5)); lp_tensor_release(r); }
  { double w[5] = {-7.5, -3, 0, 0, NAN};
    CHECK_OK(lp_binary(ctx, LP_MINIMUM, x, y, &r)); CHECK(same(r, w, 5)); lp_tensor_release(r); }
  { double w[5] = {-3.75, 0.33333333333333331, 0, INFINITY, NAN};
    CHECK_OK(lp_binary(ctx, LP_DIV, x, y, &r)); CHECK(same(r, w, 5)); lp_tensor_release(r); }
  { double w[5] = {56.25, -1, 0, 1, NAN};
    CHECK_OK(lp_binary(ctx, LP_POW, x, y, &r)); CHECK(same(r, w, 5)); lp_tensor_release(r); }
  { double w[5] = {0, 0, 0, 0, 0};
    CHECK_OK(lp_binary(ctx, LP_EQ, x, x, &r)); w[0] = w[1] = w[2] = w[3] = 1;
    CHECK(same(r, w, 5)); lp_tensor_release(r); }
  lp_tensor_release(x); lp_tensor_release(y);
}

static void test_scalar(void) {
  double v[3] = {1, 2, 3};
  lp_tensor *t = mk1(LP_I16, 3, v), *r = NULL;
  CHECK_OK(lp_binary_scalar(ctx, LP_MUL, t, lp_int(2), 0, &r));
  CHECK(lp_tensor_dtype(r) == LP_I16);
  { double w[3] = {2, 4, 6}; CHECK(same(r, w, 3)); }
  lp_tensor_release(r);
  CHECK_OK(lp_binary_scalar(ctx, LP_MUL, t, lp_float(0.5), 0, &r));
  CHECK(lp_tensor_dtype(r) == LP_F32);
  { double w[3] = {0.5, 1, 1.5}; CHECK(same(r, w, 3)); }
  lp_tensor_release(r);
  CHECK_OK(lp_binary_scalar(ctx, LP_SUB, t, lp_int(10), 1, &r));
  { double w[3] = {9, 8, 7}; CHECK(same(r, w, 3)); }
  lp_tensor_release(r);
  CHECK_OK(lp_binary_scalar(ctx, LP_DIV, t, lp_int(2), 0, &r));
  CHECK(lp_tensor_dtype(r) == LP_F32);
  { double w[3] = {0.5, 1, 1.5}; CHECK(same(r, w, 3)); }
  lp_tensor_release(r);
  CHECK_OK(lp_binary_scalar(ctx, LP_GT, t, lp_float(1.5), 0, &r));
  CHECK(lp_tensor_dtype(r) == LP_BOOL);
  { double w[3] = {0, 1, 1}; CHECK(same(r, w, 3)); }
  lp_tensor_release(r);
  CHECK_OK(lp_binary_scalar(ctx, LP_LT, t, lp_int(100000), 0, &r));   /* exact compare */
  { double w[3] = {1, 1, 1}; CHECK(same(r, w, 3)); }
  lp_tensor_release(r);
  CHECK_OK(lp_binary_scalar(ctx, LP_MOD, t, lp_int(-2), 0, &r));
  { double w[3] = {-1, 0, -1}; CHECK(same(r, w, 3)); }
  lp_tensor_release(r);
  CHECK_OK(lp_binary_scalar(ctx, LP_POW, t, lp_int(2), 1, &r));       /* 2 ^ t */
  { double w[3] = {2, 4, 8}; CHECK(same(r, w, 3)); }
  lp_tensor_release(r);
  lp_tensor_release(t);
}

static void test_strided(void) {
  int64_t s23[2] = {2, 3};
  double va[6] = {1, 2, 3, 4, 5, 6};
  lp_tensor *a = mk(LP_F32, 2, s23, va), *at_ = NULL, *r = NULL, *sl = NULL;
  CHECK_OK(lp_tensor_transpose(ctx, a, 0, 1, &at_));         /* (3, 2): 1 4 / 2 5 / 3 6 */
  CHECK_OK(lp_binary(ctx, LP_SUB, at_, at_, &r));
  { double w[6] = {0, 0, 0, 0, 0, 0}; CHECK(same(r, w, 6)); }
  lp_tensor_release(r);
  CHECK_OK(lp_unary(ctx, LP_NEG, at_, &r));
  { double w[6] = {-1, -4, -2, -5, -3, -6}; CHECK(same(r, w, 6)); }
  lp_tensor_release(r);
  CHECK_OK(lp_tensor_slice(ctx, a, 1, 0, 3, 2, &sl));         /* (2, 2): 1 3 / 4 6 */
  CHECK_OK(lp_binary_scalar(ctx, LP_ADD, sl, lp_int(1), 0, &r));
  { double w[4] = {2, 4, 5, 7}; CHECK(same(r, w, 4)); }
  lp_tensor_release(r);
  /* in place into a strided view, then a += a^T-like overlap is safe */
  CHECK_OK(lp_binary_scalar_(ctx, LP_MUL, sl, lp_int(10)));
  { double w[6] = {10, 2, 30, 40, 5, 60}; CHECK(same(a, w, 6)); }
  lp_tensor_release(sl); lp_tensor_release(at_); lp_tensor_release(a);
  {
    int64_t s22[2] = {2, 2};
    double v[4] = {1, 2, 3, 4};
    lp_tensor *m = mk(LP_F64, 2, s22, v), *mt = NULL;
    CHECK_OK(lp_tensor_transpose(ctx, m, 0, 1, &mt));
    CHECK_OK(lp_binary_(ctx, LP_ADD, m, mt));                 /* m + m^T with overlap */
    { double w[4] = {2, 5, 5, 8}; CHECK(same(m, w, 4)); }
    lp_tensor_release(mt); lp_tensor_release(m);
  }
}

static void test_unary(void) {
  double v[8] = {-2.5, -0.5, 0.5, 1.5, 2.5, 0, NAN, INFINITY};
  lp_tensor *x = mk1(LP_F32, 8, v), *r = NULL;
  { double w[8] = {-2, -0., 0, 2, 2, 0, NAN, INFINITY};
    CHECK_OK(lp_unary(ctx, LP_ROUND, x, &r)); CHECK(same(r, w, 8)); lp_tensor_release(r); }
  { double w[8] = {-3, -1, 0, 1, 2, 0, NAN, INFINITY};
    CHECK_OK(lp_unary(ctx, LP_FLOOR, x, &r)); CHECK(same(r, w, 8)); lp_tensor_release(r); }
  { double w[8] = {-2, -0., 1, 2, 3, 0, NAN, INFINITY};
    CHECK_OK(lp_unary(ctx, LP_CEIL, x, &r)); CHECK(same(r, w, 8)); lp_tensor_release(r); }
  { double w[8] = {-1, -1, 1, 1, 1, 0, NAN, 1};
    CHECK_OK(lp_unary(ctx, LP_SIGN, x, &r)); CHECK(same(r, w, 8)); lp_tensor_release(r); }
  { double w[8] = {0, 0, 0.5, 1.5, 2.5, 0, NAN, INFINITY};
    CHECK_OK(lp_unary(ctx, LP_RELU, x, &r)); CHECK(same(r, w, 8)); lp_tensor_release(r); }
  { double w[8] = {2.5, 0.5, 0.5, 1.5, 2.5, 0, NAN, INFINITY};
    CHECK_OK(lp_unary(ctx, LP_ABS, x, &r)); CHECK(same(r, w, 8)); lp_tensor_release(r); }
  { double w[8] = {0.07585818, 0.37754067, 0.62245935, 0.81757448, 0.92414182, 0.5, NAN, 1};
    CHECK_OK(lp_unary(ctx, LP_SIGMOID, x, &r)); CHECK(same(r, w, 8)); lp_tensor_release(r); }
  { double w[8] = {-0.98661430, -0.46211716, 0.46211716, 0.90514825, 0.98661430, 0, NAN, 1};
    CHECK_OK(lp_unary(ctx, LP_TANH, x, &r)); CHECK(same(r, w, 8)); lp_tensor_release(r); }
  { double w[8] = {0, 0, 0, 0, 0, 0, 1, 0};
    CHECK_OK(lp_unary(ctx, LP_ISNAN, x, &r)); CHECK(same(r, w, 8));
    CHECK(lp_tensor_dtype(r) == LP_BOOL); lp_tensor_release(r); }
  { double w[8] = {0, 0, 0, 0, 0, 0, 0, 1};
    CHECK_OK(lp_unary(ctx, LP_ISINF, x, &r)); CHECK(same(r, w, 8)); lp_tensor_release(r); }
  { double w[8] = {0, 0, 0, 0, 0, 1, 0, 0};
    CHECK_OK(lp_unary(ctx, LP_NOT, x, &r)); CHECK(same(r, w, 8)); lp_tensor_release(r); }
  lp_tensor_release(x);
  {
    double vi[4] = {1, 4, 9, -3};
    lp_tensor *i = mk1(LP_I32, 4, vi);
    { double w[4] = {1, 2, 3, NAN};
      CHECK_OK(lp_unary(ctx, LP_SQRT, i, &r)); CHECK(same(r, w, 4));
      CHECK(lp_tensor_dtype(r) == LP_F32); lp_tensor_release(r); }
    { double w[4] = {2.7182817, 54.59815, 8103.084, 0.049787067};
      CHECK_OK(lp_unary(ctx, LP_EXP, i, &r)); CHECK(same(r, w, 4)); lp_tensor_release(r); }
    { double w[4] = {0, 1.3862944, 2.1972246, NAN};
      CHECK_OK(lp_unary(ctx, LP_LOG, i, &r)); CHECK(same(r, w, 4)); lp_tensor_release(r); }
    { double w[4] = {-1, -4, -9, 3};
      CHECK_OK(lp_unary(ctx, LP_NEG, i, &r)); CHECK(same(r, w, 4));
      CHECK(lp_tensor_dtype(r) == LP_I32); lp_tensor_release(r); }
    { double w[4] = {1, 4, 9, 3};
      CHECK_OK(lp_unary(ctx, LP_ABS, i, &r)); CHECK(same(r, w, 4)); lp_tensor_release(r); }
    CHECK_OK(lp_unary_(ctx, LP_SQRT, i));                      /* cast back to int32 */
    { double w[4] = {1, 2, 3, 0}; CHECK(same(i, w, 4)); }
    lp_tensor_release(i);
  }
  {
    double vb[2] = {1, 0};
    lp_tensor *b = mk1(LP_BOOL, 2, vb);
    { double w[2] = {-1, 0};
      CHECK_OK(lp_unary(ctx, LP_NEG, b, &r)); CHECK(same(r, w, 2));
      CHECK(lp_tensor_dtype(r) == LP_I64); lp_tensor_release(r); }
    lp_tensor_release(b);
  }
}

static void test_inplace_clamp_where(void) {
  int64_t s23[2] = {2, 3};
  double va[6] = {1, 2, 3, 4, 5, 6}, vb[3] = {1, 0, -1}, vc[2] = {1, 0};
  lp_tensor *a = mk(LP_F32, 2, s23, va), *b = mk1(LP_F64, 3, vb), *r = NULL;
  lp_tensor *c = mk1(LP_BOOL, 2, vc), *ai = mk(LP_I32, 2, s23, va);
  CHECK_OK(lp_binary_(ctx, LP_ADD, a, b));
  { double w[6] = {2, 2, 2, 5, 5, 5}; CHECK(same(a, w, 6)); CHECK(lp_tensor_dtype(a) == LP_F32); }
  CHECK_OK(lp_axpy_(ctx, a, 0.5, b));
  { double w[6] = {2.5, 2, 1.5, 5.5, 5, 4.5}; CHECK(same(a, w, 6)); }
  CHECK_OK(lp_binary_(ctx, LP_MUL, ai, b));                  /* int32 * f64, cast back */
  { double w[6] = {1, 0, -3, 4, 0, -6}; CHECK(same(ai, w, 6)); CHECK(lp_tensor_dtype(ai) == LP_I32); }
  CHECK(lp_binary_(ctx, LP_ADD, b, a) == LP_ESHAPE);
  CHECK(strcmp(lp_ctx_errmsg(ctx), "shape (2, 3) cannot be broadcast to (3,)") == 0);
  CHECK(lp_ctx_errarg(ctx) == 2);
  CHECK_OK(lp_clamp(ctx, a, 1, 2, 1, 5, &r));
  { double w[6] = {2.5, 2, 2, 5, 5, 4.5}; CHECK(same(r, w, 6)); }
  lp_tensor_release(r);
  CHECK_OK(lp_clamp(ctx, a, 0, 0, 1, 3, &r));
  { double w[6] = {2.5, 2, 1.5, 3, 3, 3}; CHECK(same(r, w, 6)); }
  lp_tensor_release(r);
  {
    double vi[4] = {-5, 0, 1, 7}, w[4] = {1, 1, 1, 2};
    lp_tensor *ti = mk1(LP_I8, 4, vi);
    CHECK_OK(lp_clamp_(ctx, ti, 1, 0.5, 1, 2.5));
    CHECK(same(ti, w, 4));
    lp_tensor_release(ti);
  }
  {
    /* where(c (2,) -> broadcast against (2,3)? needs (2,1)) */
    int64_t s21[2] = {2, 1};
    lp_tensor *c2 = mk(LP_BOOL, 2, s21, vc), *bi = mk1(LP_I32, 3, vb);
    CHECK_OK(lp_where(ctx, c2, a, bi, &r));
    { double w[6] = {2.5, 2, 1.5, 1, 0, -1}; CHECK(same(r, w, 6)); }
    CHECK(lp_tensor_dtype(r) == LP_F64);
    lp_tensor_release(r);
    CHECK(lp_where(ctx, c, a, bi, &r) == LP_ESHAPE);
    CHECK(lp_ctx_errarg(ctx) == 1);
    lp_tensor_release(c2); lp_tensor_release(bi);
  }
  lp_tensor_release(a); lp_tensor_release(b); lp_tensor_release(c); lp_tensor_release(ai);
}

/* NumPy's ufuncs, scans and the added reductions (values from NumPy). */
static void test_numpy_extras(void) {
  double vx[4] = {-0.5, 0.25, 2, -3};
  int64_t s23[2] = {2, 3};
  double va[6] = {3, 1, 2, 0, 5, 4}, vn[6] = {1, NAN, 3, NAN, NAN, NAN};
  lp_tensor *x = mk1(LP_F64, 4, vx), *a = mk(LP_F64, 2, s23, va), *n = mk(LP_F64, 2, s23, vn);
  lp_tensor *ai = mk(LP_I32, 2, s23, va), *r = NULL;
  { double w[4] = {-0.479425539, 0.247403959, 0.909297427, -0.141120008};
    CHECK_OK(lp_unary(ctx, LP_SIN, x, &r)); CHECK(same(r, w, 4)); lp_tensor_release(r); }
  { double w[4] = {-0.693147181, 0.223143551, 1.098612289, NAN};
    CHECK_OK(lp_unary(ctx, LP_LOG1P, x, &r)); CHECK(same(r, w, 4)); lp_tensor_release(r); }
  { double w[4] = {0.25, 0.0625, 4, 9};
    CHECK_OK(lp_unary(ctx, LP_SQUARE, x, &r)); CHECK(same(r, w, 4)); lp_tensor_release(r); }
  { double w[6] = {9, 1, 4, 0, 25, 16};                 /* int square stays int */
    CHECK_OK(lp_unary(ctx, LP_SQUARE, ai, &r)); CHECK(same(r, w, 6));
    CHECK(lp_tensor_dtype(r) == LP_I32); lp_tensor_release(r); }
  { double w[6] = {0.141120008, 0.841470985, 0.909297427, 0, -0.958924275, -0.756802495};
    CHECK_OK(lp_unary(ctx, LP_SIN, ai, &r)); CHECK(same(r, w, 6));
    CHECK(lp_tensor_dtype(r) == LP_F32); lp_tensor_release(r); }
  { double w[2] = {2, 4};                               /* np.median(a, axis=1) */
    CHECK_OK(lp_reduce(ctx, LP_MEDIAN, a, 1, 0, 0, &r)); CHECK(same(r, w, 2)); lp_tensor_release(r); }
  { double w[1] = {2.5};
    CHECK_OK(lp_reduce(ctx, LP_MEDIAN, ai, -1, 0, 0, &r)); CHECK(same(r, w, 1));
    CHECK(lp_tensor_dtype(r) == LP_F32); lp_tensor_release(r); }
  { double w[2] = {1, 0};                               /* all over dim 1 */
    CHECK_OK(lp_reduce(ctx, LP_ALL, a, 1, 0, 0, &r)); CHECK(same(r, w, 2));
    CHECK(lp_tensor_dtype(r) == LP_BOOL); lp_tensor_release(r); }
  { double w[2] = {4, 0};
    CHECK_OK(lp_reduce(ctx, LP_NANSUM, n, 1, 0, 0, &r)); CHECK(same(r, w, 2)); lp_tensor_release(r); }
  { double w[2] = {2, NAN};
    CHECK_OK(lp_reduce(ctx, LP_NANMEAN, n, 1, 0, 0, &r)); CHECK(same(r, w, 2)); lp_tensor_release(r); }
  { double w[2] = {3.40760596, 5.31817543};             /* scipy.special.logsumexp(a, axis=1) */
    CHECK_OK(lp_reduce(ctx, LP_LOGSUMEXP, a, 1, 0, 0, &r)); CHECK(same(r, w, 2)); lp_tensor_release(r); }
  { double w[6] = {3, 4, 6, 0, 5, 9};
    CHECK_OK(lp_scan(ctx, LP_CUMSUM, a, 1, 0, &r)); CHECK(same(r, w, 6)); lp_tensor_release(r); }
  { double w[6] = {6, 3, 2, 9, 9, 4};                   /* reverse: a[:, ::-1].cumsum(1)[:, ::-1] */
    CHECK_OK(lp_scan(ctx, LP_CUMSUM, a, 1, 1, &r)); CHECK(same(r, w, 6)); lp_tensor_release(r); }
  { double w[6] = {3, 1, 2, 0, 5, 8};
    CHECK_OK(lp_scan(ctx, LP_CUMPROD, a, 0, 0, &r)); CHECK(same(r, w, 6)); lp_tensor_release(r); }
  { double w[6] = {3, 3, 3, 0, 5, 5};
    CHECK_OK(lp_scan(ctx, LP_CUMMAX, ai, 1, 0, &r)); CHECK(same(r, w, 6));
    CHECK(lp_tensor_dtype(r) == LP_I32); lp_tensor_release(r); }
  { double w[6] = {3, 4, 6, 0, 5, 9};
    CHECK_OK(lp_scan(ctx, LP_CUMSUM, ai, 1, 0, &r)); CHECK(same(r, w, 6));
    CHECK(lp_tensor_dtype(r) == LP_I64); lp_tensor_release(r); }
  CHECK(lp_scan(ctx, LP_CUMSUM, a, 2, 0, &r) == LP_ERANGE && r == NULL);
  lp_tensor_release(x); lp_tensor_release(a); lp_tensor_release(n); lp_tensor_release(ai);
}

static void test_reduce(void) {
  int64_t s23[2] = {2, 3};
  double va[6] = {1, 5, 3, 4, 2, 6};
  lp_tensor *a = mk(LP_F32, 2, s23, va), *r = NULL, *at_ = NULL;
  CHECK_OK(lp_reduce(ctx, LP_SUM, a, -1, 0, 0, &r));
  CHECK(lp_tensor_ndim(r) == 0 && at(r, 0) == 21 && lp_tensor_dtype(r) == LP_F32);
  lp_tensor_release(r);
  CHECK_OK(lp_reduce(ctx, LP_SUM, a, 0, 0, 0, &r));
  { double w[3] = {5, 7, 9}; CHECK(same(r, w, 3)); CHECK(lp_tensor_ndim(r) == 1); }
  lp_tensor_release(r);
  CHECK_OK(lp_reduce(ctx, LP_MEAN, a, 1, 1, 0, &r));
  { double w[2] = {3, 4}; CHECK(same(r, w, 2)); CHECK(lp_tensor_ndim(r) == 2 && lp_tensor_size(r, 1) == 1); }
  lp_tensor_release(r);
  CHECK_OK(lp_reduce(ctx, LP_ARGMAX, a, 1, 0, 0, &r));
  { double w[2] = {1, 2}; CHECK(same(r, w, 2)); CHECK(lp_tensor_dtype(r) == LP_I64); }
  lp_tensor_release(r);
  CHECK_OK(lp_reduce(ctx, LP_ARGMIN, a, -1, 0, 0, &r));
  CHECK(at(r, 0) == 0);
  lp_tensor_release(r);
  CHECK_OK(lp_reduce(ctx, LP_VAR, a, 1, 0, 1, &r));
  { double w[2] = {4, 4}; CHECK(same(r, w, 2)); }
  lp_tensor_release(r);
  CHECK_OK(lp_reduce(ctx, LP_STD, a, -1, 1, 0, &r));
  { double w[1] = {1.707825127659933}; CHECK(same(r, w, 1)); CHECK(lp_tensor_ndim(r) == 2); }
  lp_tensor_release(r);
  CHECK_OK(lp_reduce(ctx, LP_PROD, a, 0, 0, 0, &r));
  { double w[3] = {4, 10, 18}; CHECK(same(r, w, 3)); }
  lp_tensor_release(r);
  CHECK_OK(lp_tensor_transpose(ctx, a, 0, 1, &at_));         /* strided source */
  CHECK_OK(lp_reduce(ctx, LP_RMAX, at_, 1, 0, 0, &r));
  { double w[3] = {4, 5, 6}; CHECK(same(r, w, 3)); }
  lp_tensor_release(r);
  CHECK_OK(lp_reduce(ctx, LP_SUM, at_, -1, 0, 0, &r));
  CHECK(at(r, 0) == 21);
  lp_tensor_release(r);
  lp_tensor_release(at_);
  lp_tensor_release(a);
  {
    double v[4] = {1, NAN, 3, NAN};
    lp_tensor *n = mk1(LP_F64, 4, v);
    CHECK_OK(lp_reduce(ctx, LP_ARGMAX, n, -1, 0, 0, &r)); CHECK(at(r, 0) == 1); lp_tensor_release(r);
    CHECK_OK(lp_reduce(ctx, LP_RMIN, n, 0, 0, 0, &r)); CHECK(at(r, 0) != at(r, 0)); lp_tensor_release(r);
    lp_tensor_release(n);
  }
  {
    double v[4] = {1, 2, 3, 4};
    lp_tensor *i = mk1(LP_I8, 4, v);
    CHECK_OK(lp_reduce(ctx, LP_SUM, i, -1, 0, 0, &r));
    CHECK(lp_tensor_dtype(r) == LP_I64 && at(r, 0) == 10); lp_tensor_release(r);
    CHECK_OK(lp_reduce(ctx, LP_MEAN, i, 0, 0, 0, &r));
    CHECK(lp_tensor_dtype(r) == LP_F32 && at(r, 0) == 2.5); lp_tensor_release(r);
    CHECK_OK(lp_reduce(ctx, LP_RMAX, i, 0, 0, 0, &r));
    CHECK(lp_tensor_dtype(r) == LP_I8 && at(r, 0) == 4); lp_tensor_release(r);
    CHECK_OK(lp_reduce(ctx, LP_VAR, i, 0, 0, 0, &r));
    CHECK(at(r, 0) == 1.25); lp_tensor_release(r);
    lp_tensor_release(i);
  }
  {
    int64_t s02[2] = {0, 2};
    lp_tensor *e = NULL;
    CHECK_OK(lp_tensor_new(ctx, LP_F32, 2, s02, &e));
    CHECK_OK(lp_reduce(ctx, LP_SUM, e, 0, 0, 0, &r));
    { double w[2] = {0, 0}; CHECK(same(r, w, 2)); } lp_tensor_release(r);
    CHECK_OK(lp_reduce(ctx, LP_PROD, e, 0, 0, 0, &r));
    { double w[2] = {1, 1}; CHECK(same(r, w, 2)); } lp_tensor_release(r);
    CHECK_OK(lp_reduce(ctx, LP_MEAN, e, -1, 0, 0, &r));
    CHECK(at(r, 0) != at(r, 0)); lp_tensor_release(r);
    CHECK_OK(lp_reduce(ctx, LP_RMAX, e, 1, 0, 0, &r));     /* nothing to reduce: (0,) */
    CHECK(lp_tensor_numel(r) == 0); lp_tensor_release(r);
    r = NULL;
    CHECK(lp_reduce(ctx, LP_RMAX, e, 0, 0, 0, &r) == LP_EARG && r == NULL);
    CHECK(strcmp(lp_ctx_errmsg(ctx), "cannot reduce an empty dim with max") == 0);
    lp_tensor_release(e);
  }
}

/* naive reference: out[b, i, j] = sum_k a[b, i, k] * b[b, k, j], via get_flat */
static void naive_mm(const lp_tensor *a, const lp_tensor *b, int64_t batch_a, int64_t batch_b,
                     int64_t M, int64_t K, int64_t N, double *out, int64_t nbatch) {
  int64_t bi, i, j, k;
  for (bi = 0; bi < nbatch; bi++) {
    int64_t ba = batch_a == 1 ? 0 : bi, bb = batch_b == 1 ? 0 : bi;
    for (i = 0; i < M; i++)
      for (j = 0; j < N; j++) {
        double s = 0;
        for (k = 0; k < K; k++)
          s += at(a, (ba * M + i) * K + k) * at(b, (bb * K + k) * N + j);
        out[(bi * M + i) * N + j] = s;
      }
  }
}

static lp_tensor *seq(lp_dtype dt, int ndim, const int64_t *shape) {
  double v[256];
  int k;
  for (k = 0; k < 256; k++) v[k] = (double)((k * 7) % 11) - 5;
  return mk(dt, ndim, shape, v);
}

static void test_matmul(void) {
  double want[256];
  lp_tensor *r = NULL;
  {
    int64_t sa[2] = {3, 4}, sb[2] = {4, 5};
    lp_tensor *a = seq(LP_F32, 2, sa), *b = seq(LP_F32, 2, sb);
    CHECK_OK(lp_matmul(ctx, a, b, &r));
    naive_mm(a, b, 1, 1, 3, 4, 5, want, 1);
    CHECK(same(r, want, 15) && lp_tensor_dtype(r) == LP_F32);
    lp_tensor_release(r);
    lp_tensor_release(a); lp_tensor_release(b);
  }
  {
    /* transposed operands: (aT)^T . (bT)^T, stored transposed */
    int64_t sa[2] = {4, 3}, sb[2] = {5, 4};
    lp_tensor *a = seq(LP_F64, 2, sa), *b = seq(LP_F64, 2, sb), *ta = NULL, *tb = NULL;
    lp_tensor *ca = NULL, *cb = NULL;
    CHECK_OK(lp_tensor_transpose(ctx, a, 0, 1, &ta));
    CHECK_OK(lp_tensor_transpose(ctx, b, 0, 1, &tb));
    CHECK_OK(lp_tensor_clone(ctx, ta, &ca));                 /* contiguous copies as reference */
    CHECK_OK(lp_tensor_clone(ctx, tb, &cb));
    CHECK_OK(lp_matmul(ctx, ta, tb, &r));
    naive_mm(ca, cb, 1, 1, 3, 4, 5, want, 1);
    CHECK(same(r, want, 15));
    lp_tensor_release(r);
    /* a slice with a row stride (every other column): copied path */
    {
      int64_t s6[2] = {3, 8};
      lp_tensor *big = seq(LP_F64, 2, s6), *sl = NULL, *csl = NULL;
      CHECK_OK(lp_tensor_slice(ctx, big, 1, 0, 8, 2, &sl));   /* (3, 4), col stride 2 */
      CHECK_OK(lp_tensor_clone(ctx, sl, &csl));
      CHECK_OK(lp_matmul(ctx, sl, cb, &r));
      naive_mm(csl, cb, 1, 1, 3, 4, 5, want, 1);
      CHECK(same(r, want, 15));
      lp_tensor_release(r); lp_tensor_release(sl); lp_tensor_release(csl); lp_tensor_release(big);
    }
    lp_tensor_release(a); lp_tensor_release(b); lp_tensor_release(ta); lp_tensor_release(tb);
    lp_tensor_release(ca); lp_tensor_release(cb);
  }
  {
    /* batched with broadcast: (2, 3, 4) @ (4, 2) and (1, 3, 4) @ (2, 4, 2) */
    int64_t sa[3] = {2, 3, 4}, sb[2] = {4, 2}, sa1[3] = {1, 3, 4}, sb2[3] = {2, 4, 2};
    lp_tensor *a = seq(LP_F32, 3, sa), *b = seq(LP_F32, 2, sb);
    lp_tensor *a1 = seq(LP_F32, 3, sa1), *b2 = seq(LP_F32, 3, sb2);
    CHECK_OK(lp_matmul(ctx, a, b, &r));
    naive_mm(a, b, 2, 1, 3, 4, 2, want, 2);
    CHECK(same(r, want, 12) && lp_tensor_ndim(r) == 3);
    lp_tensor_release(r);
    CHECK_OK(lp_matmul(ctx, a1, b2, &r));
    naive_mm(a1, b2, 1, 2, 3, 4, 2, want, 2);
    CHECK(same(r, want, 12) && lp_tensor_size(r, 0) == 2);
    lp_tensor_release(r);
    lp_tensor_release(a); lp_tensor_release(b); lp_tensor_release(a1); lp_tensor_release(b2);
  }
  {
    /* 1-d promotion, ints, dot, outer, errors */
    int64_t s4 = 4, s45[2] = {4, 5}, s52[2] = {5, 2}, s3 = 3;
    lp_tensor *v = seq(LP_I32, 1, &s4), *m = seq(LP_I16, 2, s45), *bad = seq(LP_F32, 2, s52);
    lp_tensor *w3 = seq(LP_F32, 1, &s3);
    CHECK_OK(lp_matmul(ctx, v, m, &r));                      /* (4) @ (4, 5) -> (5) */
    naive_mm(v, m, 1, 1, 1, 4, 5, want, 1);
    CHECK(same(r, want, 5) && lp_tensor_ndim(r) == 1 && lp_tensor_dtype(r) == LP_I64);
    lp_tensor_release(r);
    CHECK_OK(lp_dot(ctx, v, v, &r));
    CHECK(lp_tensor_ndim(r) == 0 && at(r, 0) == 25 + 4 + 4 + 25);
    lp_tensor_release(r);
    CHECK_OK(lp_outer(ctx, v, w3, &r));
    CHECK(lp_tensor_ndim(r) == 2 && lp_tensor_size(r, 0) == 4 && lp_tensor_size(r, 1) == 3);
    CHECK(at(r, 5) == at(v, 1) * at(w3, 2) && lp_tensor_dtype(r) == LP_F64);
    lp_tensor_release(r);
    CHECK_OK(lp_matmul(ctx, m, bad, &r));                   /* int16 @ float32 -> float32 */
    CHECK(lp_tensor_dtype(r) == LP_F32);
    naive_mm(m, bad, 1, 1, 4, 5, 2, want, 1);
    CHECK(same(r, want, 8));
    lp_tensor_release(r);
    lp_tensor_release(bad);
    {
      int64_t s42[2] = {5, 2}, s34[2] = {3, 4};
      lp_tensor *a = seq(LP_F32, 2, s34), *b = seq(LP_F32, 2, s42);
      CHECK(lp_matmul(ctx, a, b, &r) == LP_ESHAPE);
      CHECK(strcmp(lp_ctx_errmsg(ctx), "expected shape (4, *), got (5, 2)") == 0);
      CHECK(lp_ctx_errarg(ctx) == 2);
      CHECK(lp_dot(ctx, v, w3, &r) == LP_ESHAPE);
      CHECK(strcmp(lp_ctx_errmsg(ctx), "expected shape (4,), got (3,)") == 0);
      CHECK(lp_dot(ctx, a, v, &r) == LP_ESHAPE);
      CHECK(strcmp(lp_ctx_errmsg(ctx), "expected a 1-d tensor, got shape (3, 4)") == 0);
      lp_tensor_release(a); lp_tensor_release(b);
    }
    lp_tensor_release(v); lp_tensor_release(m); lp_tensor_release(w3);
  }
}

/* Large inputs take the threaded paths; results equal the serial ones. */
static void test_large(void) {
  int64_t n = 100000, k;
  lp_tensor *a = NULL, *r = NULL, *s = NULL;
  CHECK_OK(lp_tensor_empty(ctx, LP_F32, 1, &n, &a));
  for (k = 0; k < n; k++) ((float *)lp_tensor_data(a))[k] = (float)(k % 7);
  CHECK_OK(lp_binary(ctx, LP_MUL, a, a, &r));
  CHECK(at(r, 99999) == (99999 % 7) * (99999 % 7));
  CHECK_OK(lp_reduce(ctx, LP_SUM, a, -1, 0, 0, &s));
  { double want = 0; for (k = 0; k < n; k++) want += k % 7; CHECK(at(s, 0) == want); }
  lp_tensor_release(s);
  CHECK_OK(lp_unary_(ctx, LP_SQRT, r));
  CHECK_NEAR(at(r, 99999), 99999 % 7, 1e-6);
  CHECK_OK(lp_axpy_(ctx, r, -1.0, a));
  CHECK_OK(lp_reduce(ctx, LP_RMAX, r, 0, 0, 0, &s));
  CHECK(at(s, 0) == 0);
  lp_tensor_release(s); lp_tensor_release(r); lp_tensor_release(a);
}

/* A raised interrupt flag stops a batched product with LP_EINTR. */
static void test_interrupt(void) {
  volatile sig_atomic_t flag = 1;
  int64_t s[3] = {4, 3, 3};
  lp_tensor *a = seq(LP_I32, 3, s), *f = seq(LP_F32, 3, s), *r = NULL;
  size_t base = lp_ctx_bytes_live(ctx);
  lp_ctx_set_interrupt_flag(ctx, &flag);
  CHECK(lp_matmul(ctx, a, a, &r) == LP_EINTR && r == NULL);
  CHECK(lp_matmul(ctx, f, f, &r) == LP_EINTR && r == NULL);
  CHECK(lp_ctx_bytes_live(ctx) == base);
  flag = 0;
  CHECK_OK(lp_matmul(ctx, a, a, &r));
  lp_ctx_set_interrupt_flag(ctx, NULL);
  lp_tensor_release(r); lp_tensor_release(a); lp_tensor_release(f);
}

/* ---- allocation failures ------------------------------------------------ */
typedef lp_status (*op_fn)(lp_tensor *a, lp_tensor *b, lp_tensor *c, lp_tensor **out);

static lp_status f_binary(lp_tensor *a, lp_tensor *b, lp_tensor *c, lp_tensor **out) { (void)c; return lp_binary(ctx, LP_ADD, a, b, out); }
static lp_status f_div(lp_tensor *a, lp_tensor *b, lp_tensor *c, lp_tensor **out) { (void)c; return lp_binary(ctx, LP_DIV, c, b, out); (void)a; }
static lp_status f_scalar(lp_tensor *a, lp_tensor *b, lp_tensor *c, lp_tensor **out) { (void)b; (void)a; return lp_binary_scalar(ctx, LP_MUL, c, lp_float(0.5), 1, out); }
static lp_status f_inplace(lp_tensor *a, lp_tensor *b, lp_tensor *c, lp_tensor **out) { (void)c; *out = NULL; return lp_binary_(ctx, LP_SUB, a, c); (void)b; }
static lp_status f_inplace_cast(lp_tensor *a, lp_tensor *b, lp_tensor *c, lp_tensor **out) { (void)a; *out = NULL; return lp_binary_(ctx, LP_DIV, c, b); }
static lp_status f_scalar_(lp_tensor *a, lp_tensor *b, lp_tensor *c, lp_tensor **out) { (void)a; (void)b; *out = NULL; return lp_binary_scalar_(ctx, LP_ADD, c, lp_float(1.5)); }
static lp_status f_axpy(lp_tensor *a, lp_tensor *b, lp_tensor *c, lp_tensor **out) { (void)b; *out = NULL; return lp_axpy_(ctx, a, 2.0, c); }
static lp_status f_axpy_int(lp_tensor *a, lp_tensor *b, lp_tensor *c, lp_tensor **out) { (void)b; *out = NULL; return lp_axpy_(ctx, c, 2.0, a); }
static lp_status f_unary(lp_tensor *a, lp_tensor *b, lp_tensor *c, lp_tensor **out) { (void)a; (void)b; return lp_unary(ctx, LP_EXP, c, out); }
static lp_status f_unary_(lp_tensor *a, lp_tensor *b, lp_tensor *c, lp_tensor **out) { (void)a; (void)b; *out = NULL; return lp_unary_(ctx, LP_EXP, c); }
static lp_status f_clamp(lp_tensor *a, lp_tensor *b, lp_tensor *c, lp_tensor **out) { (void)b; (void)c; return lp_clamp(ctx, a, 1, 0, 1, 1, out); }
static lp_status f_where(lp_tensor *a, lp_tensor *b, lp_tensor *c, lp_tensor **out) { return lp_where(ctx, c, a, b, out); }
static lp_status f_sum(lp_tensor *a, lp_tensor *b, lp_tensor *c, lp_tensor **out) { (void)b; (void)c; return lp_reduce(ctx, LP_SUM, a, 0, 0, 0, out); }
static lp_status f_sum_all_t(lp_tensor *a, lp_tensor *b, lp_tensor *c, lp_tensor **out) {
  lp_tensor *t = NULL; lp_status st; (void)b; (void)c;
  if ((st = lp_tensor_transpose(ctx, a, 0, 1, &t)) != LP_OK) return st;
  st = lp_reduce(ctx, LP_VAR, t, -1, 1, 1, out);
  lp_tensor_release(t);
  return st;
}
static lp_status f_sin(lp_tensor *a, lp_tensor *b, lp_tensor *c, lp_tensor **out) { (void)a; (void)b; return lp_unary(ctx, LP_SIN, c, out); }
static lp_status f_median(lp_tensor *a, lp_tensor *b, lp_tensor *c, lp_tensor **out) { (void)a; (void)c; return lp_reduce(ctx, LP_MEDIAN, b, 1, 0, 0, out); }
static lp_status f_cumprod(lp_tensor *a, lp_tensor *b, lp_tensor *c, lp_tensor **out) { (void)b; (void)c; return lp_scan(ctx, LP_CUMPROD, a, 0, 1, out); }
static lp_status f_atan2(lp_tensor *a, lp_tensor *b, lp_tensor *c, lp_tensor **out) { (void)b; return lp_binary(ctx, LP_ATAN2, c, a, out); }
static lp_status f_matmul(lp_tensor *a, lp_tensor *b, lp_tensor *c, lp_tensor **out) { (void)c; return lp_matmul(ctx, a, b, out); }
static lp_status f_matmul_mixed(lp_tensor *a, lp_tensor *b, lp_tensor *c, lp_tensor **out) { (void)b; return lp_matmul(ctx, c, a, out); }
static lp_status f_matmul_t(lp_tensor *a, lp_tensor *b, lp_tensor *c, lp_tensor **out) {
  lp_tensor *t = NULL; lp_status st; (void)c;
  if ((st = lp_tensor_slice(ctx, b, 1, 0, 3, 2, &t)) != LP_OK) return st;
  st = lp_matmul(ctx, a, t, out);
  lp_tensor_release(t);
  return st;
}
static lp_status f_outer(lp_tensor *a, lp_tensor *b, lp_tensor *c, lp_tensor **out) { (void)c; return lp_outer(ctx, a, b, out); }

static void test_alloc_failures(void) {
  static const op_fn fns[] = {
    f_binary, f_div, f_scalar, f_inplace, f_inplace_cast, f_scalar_, f_axpy, f_axpy_int, f_unary,
    f_unary_, f_clamp, f_where, f_sum, f_sum_all_t, f_matmul, f_matmul_mixed, f_matmul_t, f_outer,
    f_sin, f_median, f_cumprod, f_atan2
  };
  int64_t s33[2] = {3, 3};
  double v[9] = {1, 2, 3, 4, 5, 6, 7, 8, 9};
  size_t i;
  for (i = 0; i < sizeof fns / sizeof fns[0]; i++) {
    long nfail;
    int ok = 0;
    for (nfail = 1; nfail < 50 && !ok; nfail++) {
      lp_tensor *a = mk(LP_F32, 2, s33, v), *b = mk(LP_F64, 2, s33, v), *c = mk(LP_I32, 2, s33, v);
      lp_tensor *out = NULL;
      size_t base = lp_ctx_bytes_live(ctx);
      lp_status st;
      lp_ctx_fail_alloc_after(ctx, nfail);
      st = fns[i](a, b, c, &out);
      lp_ctx_fail_alloc_after(ctx, 0);
      if (st == LP_OK) ok = 1;
      else {
        if (st != LP_ENOMEM) fprintf(stderr, "  op %d, N %ld: status %d\n", (int)i, nfail, (int)st);
        CHECK(st == LP_ENOMEM);
        CHECK(out == NULL);
        CHECK(lp_ctx_bytes_live(ctx) == base);
      }
      lp_tensor_release(out);
      if (ok) CHECK(lp_ctx_bytes_live(ctx) == base);
      lp_tensor_release(a); lp_tensor_release(b); lp_tensor_release(c);
    }
    if (!ok) fprintf(stderr, "  op %d never succeeded\n", (int)i);
    CHECK(ok);
  }
  CHECK(lp_ctx_bytes_live(ctx) == 0);
}

int main(void) {
  if (lp_ctx_new(&ctx) != LP_OK) return 2;
  RUN(test_promotion);
  RUN(test_binary_broadcast);
  RUN(test_binops_int);
  RUN(test_binops_float);
  RUN(test_scalar);
  RUN(test_strided);
  RUN(test_unary);
  RUN(test_inplace_clamp_where);
  RUN(test_numpy_extras);
  RUN(test_reduce);
  RUN(test_matmul);
  RUN(test_large);
  RUN(test_interrupt);
  RUN(test_alloc_failures);
  lp_ctx_free(ctx);
  return TEST_REPORT("test_ops");
}
