/*
** spec/c/test_tensor.c -- the tensor core without Lua: life and reference
** counts, views, copies and casts, element access, cat/stack, selection,
** random draws, the size cap, and the out-of-memory path of every function
** (the context's test allocator fails the Nth allocation).
*/
#include "check.h"
#include "limpet/tensor.h"
#include "limpet/random.h"
#include <string.h>

static lp_ctx *ctx;

static double at(const lp_tensor *t, int64_t k) { return lp_scalar_f(lp_tensor_get_flat(t, k)); }

static lp_tensor *arange(int64_t n, lp_dtype dt) {
  lp_tensor *t = NULL;
  lp_arange(ctx, 0, (double)n, 1, dt, &t);
  return t;
}

static void test_new_and_release(void) {
  int64_t shape[2] = {2, 3};
  lp_tensor *t = NULL;
  size_t before = lp_ctx_bytes_live(ctx);
  CHECK_OK(lp_tensor_new(ctx, LP_F32, 2, shape, &t));
  CHECK(lp_tensor_numel(t) == 6);
  CHECK(lp_tensor_ndim(t) == 2);
  CHECK(lp_tensor_is_contiguous(t));
  CHECK(at(t, 5) == 0);
  CHECK(lp_tensor_retain(t) == t);
  lp_tensor_release(t);
  CHECK(lp_ctx_bytes_live(ctx) > before);
  lp_tensor_release(t);
  CHECK(lp_ctx_bytes_live(ctx) == before);
  lp_tensor_release(NULL);
}

static void test_scalar_and_empty(void) {
  lp_tensor *s = NULL, *e = NULL;
  int64_t shape[2] = {0, 3};
  lp_scalar v;
  CHECK_OK(lp_full(ctx, LP_F64, 0, NULL, lp_float(2.5), &s));
  CHECK(lp_tensor_numel(s) == 1);
  CHECK_OK(lp_tensor_item(ctx, s, &v));
  CHECK(!v.isint && v.f == 2.5);
  CHECK_OK(lp_tensor_new(ctx, LP_I32, 2, shape, &e));
  CHECK(lp_tensor_numel(e) == 0);
  CHECK(lp_tensor_item(ctx, e, &v) == LP_ESHAPE);
  lp_tensor_release(s);
  lp_tensor_release(e);
}

static void test_views(void) {
  lp_tensor *t = arange(24, LP_I64), *r = NULL, *p = NULL, *c = NULL, *s = NULL, *sel = NULL;
  int64_t shape[3] = {2, 3, 4}, bad[2] = {5, 5};
  int perm[3] = {2, 0, 1};
  CHECK_OK(lp_tensor_reshape(ctx, t, 3, shape, &r));
  CHECK(lp_tensor_same_storage(t, r));
  CHECK_OK(lp_tensor_permute(ctx, r, perm, &p));
  CHECK(lp_tensor_shape(p)[0] == 4 && lp_tensor_shape(p)[1] == 2 && lp_tensor_shape(p)[2] == 3);
  CHECK(!lp_tensor_is_contiguous(p));
  CHECK(at(p, 1) == 4);                 /* p[0][0][1] = r[0][1][0] = 4 */
  CHECK_OK(lp_tensor_contiguous(ctx, p, &c));
  CHECK(lp_tensor_is_contiguous(c) && !lp_tensor_same_storage(c, p));
  CHECK(at(c, 1) == 4 && at(c, 3) == 12);
  CHECK_OK(lp_tensor_slice(ctx, r, 2, 1, 4, 2, &s));   /* [:, :, 1:4:2] */
  CHECK(lp_tensor_shape(s)[2] == 2 && at(s, 0) == 1 && at(s, 1) == 3 && at(s, 2) == 5);
  CHECK_OK(lp_tensor_select(ctx, r, 1, 2, &sel));     /* r[:, 2, :] */
  CHECK(lp_tensor_ndim(sel) == 2 && at(sel, 0) == 8 && at(sel, 4) == 20);
  lp_tensor_release(r);
  CHECK(lp_tensor_reshape(ctx, t, 2, bad, &r) == LP_ESHAPE);
  CHECK(r == NULL);
  CHECK(strstr(lp_ctx_errmsg(ctx), "cannot reshape (24,) (24 elements) to (5, 5)") != NULL);
  lp_tensor_release(t); lp_tensor_release(p); lp_tensor_release(c);
  lp_tensor_release(s); lp_tensor_release(sel);
}

static void test_view_of_transposed(void) {
  lp_tensor *t = arange(6, LP_F32), *m = NULL, *tr = NULL, *v = NULL;
  int64_t shape[2] = {2, 3}, flat[1] = {6}, split[3] = {3, 1, 2};
  CHECK_OK(lp_tensor_view(ctx, t, 2, shape, &m));
  CHECK_OK(lp_tensor_transpose(ctx, m, 0, 1, &tr));
  CHECK(lp_tensor_view(ctx, tr, 1, flat, &v) == LP_ESHAPE);
  CHECK_OK(lp_tensor_view(ctx, tr, 3, split, &v));      /* (3, 2) -> (3, 1, 2) is a view */
  CHECK(at(v, 1) == 3);
  lp_tensor_release(t); lp_tensor_release(m); lp_tensor_release(tr); lp_tensor_release(v);
}

static void test_copy_cast(void) {
  lp_tensor *a = NULL, *b = NULL, *c = NULL;
  int64_t shape[1] = {3};
  float vals[3] = {1.5f, -2.7f, 300.0f};
  CHECK_OK(lp_tensor_from_data(ctx, LP_F32, 1, shape, vals, &a));
  CHECK_OK(lp_tensor_astype(ctx, a, LP_I8, &b));
  CHECK(at(b, 0) == 1 && at(b, 1) == -2 && at(b, 2) == 44);   /* 300 wraps to 44 */
  CHECK_OK(lp_tensor_astype(ctx, a, LP_BOOL, &c));
  CHECK(at(c, 0) == 1 && at(c, 1) == 1);
  CHECK_OK(lp_tensor_fill_(ctx, a, lp_int(7)));
  CHECK(at(a, 2) == 7);
  CHECK_OK(lp_tensor_copy_(ctx, a, b));
  CHECK(at(a, 2) == 44);
  lp_tensor_release(a); lp_tensor_release(b); lp_tensor_release(c);
}

static void test_elements(void) {
  lp_tensor *t = NULL;
  int64_t shape[2] = {2, 2}, idx[2] = {1, 0}, bad[2] = {2, 0};
  lp_scalar v;
  CHECK_OK(lp_tensor_new(ctx, LP_I16, 2, shape, &t));
  CHECK_OK(lp_tensor_set(ctx, t, idx, lp_int(-5)));
  CHECK_OK(lp_tensor_get(ctx, t, idx, &v));
  CHECK(v.isint && v.i == -5);
  CHECK(lp_tensor_get(ctx, t, bad, &v) == LP_ERANGE);
  CHECK(lp_ctx_errarg(ctx) == 2);
  lp_tensor_release(t);
}

static void test_cat_stack_select(void) {
  lp_tensor *a = arange(4, LP_I32), *b = arange(2, LP_F32), *c = NULL, *s = NULL;
  lp_tensor *mask = NULL, *m = NULL, *idx = NULL, *is = NULL;
  lp_tensor *parts[2];
  int64_t shape1[1] = {4};
  uint8_t mk[4] = {1, 0, 0, 1};
  int64_t ix[3] = {3, 3, 0};
  int64_t three[1] = {3};
  parts[0] = a; parts[1] = b;
  CHECK_OK(lp_tensor_cat(ctx, 2, parts, 0, &c));
  CHECK(lp_tensor_numel(c) == 6 && lp_tensor_dtype(c) == LP_F64 && at(c, 4) == 0 && at(c, 5) == 1);
  parts[1] = a;
  CHECK_OK(lp_tensor_stack(ctx, 2, parts, 1, &s));
  CHECK(lp_tensor_shape(s)[0] == 4 && lp_tensor_shape(s)[1] == 2 && at(s, 3) == 1);
  CHECK_OK(lp_tensor_from_data(ctx, LP_BOOL, 1, shape1, mk, &mask));
  CHECK_OK(lp_tensor_masked_select(ctx, a, mask, &m));
  CHECK(lp_tensor_numel(m) == 2 && at(m, 1) == 3);
  CHECK_OK(lp_tensor_masked_fill_(ctx, a, mask, lp_int(9)));
  CHECK(at(a, 0) == 9 && at(a, 1) == 1);
  CHECK_OK(lp_tensor_from_data(ctx, LP_I64, 1, three, ix, &idx));
  CHECK_OK(lp_tensor_index_select(ctx, a, 0, idx, &is));
  CHECK(at(is, 0) == 9 && at(is, 2) == 9 && lp_tensor_numel(is) == 3);
  lp_tensor_release(c);
  lp_tensor_release(m);
  CHECK(lp_tensor_masked_select(ctx, a, a, &m) == LP_ETYPE);
  lp_tensor_release(a); lp_tensor_release(b); lp_tensor_release(s);
  lp_tensor_release(mask); lp_tensor_release(idx); lp_tensor_release(is);
}

static void test_random_reproducible_across_threads(void) {
  int64_t shape[1] = {200000};
  lp_tensor *a = NULL, *b = NULL;
  int64_t k;
  int same = 1;
  lp_ctx_set_threads(ctx, 1);
  lp_ctx_seed(ctx, 123);
  CHECK_OK(lp_randn(ctx, LP_F32, 1, shape, &a));
  lp_ctx_set_threads(ctx, 2);
  lp_ctx_seed(ctx, 123);
  CHECK_OK(lp_randn(ctx, LP_F32, 1, shape, &b));
  for (k = 0; k < shape[0]; k++) if (at(a, k) != at(b, k)) { same = 0; break; }
  CHECK(same);
  lp_tensor_release(a); lp_tensor_release(b);
}

static void test_size_cap(void) {
  int64_t huge[3] = {1000000, 1000000, 1000000}, over[2] = {INT64_MAX / 2, 4};
  lp_tensor *t = NULL;
  long allocs = lp_ctx_alloc_count(ctx);
  CHECK(lp_tensor_new(ctx, LP_F32, 3, huge, &t) == LP_ESIZE && t == NULL);
  CHECK(lp_tensor_new(ctx, LP_F32, 2, over, &t) == LP_ESIZE);
  CHECK(lp_ctx_alloc_count(ctx) == allocs);      /* refused before any allocation */
  lp_ctx_set_max_bytes(ctx, 100);
  {
    int64_t n[1] = {26};
    CHECK(lp_tensor_new(ctx, LP_F32, 1, n, &t) == LP_ESIZE);
    n[0] = 25;
    CHECK_OK(lp_tensor_new(ctx, LP_F32, 1, n, &t));
    lp_tensor_release(t);
  }
  lp_ctx_set_max_bytes(ctx, 0);                  /* back to physical memory */
}

static void test_tensor_outlives_context(void) {
  lp_ctx *c2 = NULL;
  lp_tensor *t = NULL;
  int64_t n[1] = {4};
  CHECK_OK(lp_ctx_new(&c2));
  CHECK_OK(lp_tensor_new(c2, LP_F32, 1, n, &t));
  lp_ctx_free(c2);                    /* the tensor keeps it alive */
  CHECK(lp_tensor_numel(t) == 4);
  lp_tensor_release(t);               /* frees the context too (ASan checks) */
}

/* Each function below runs with the Nth allocation failing, N = 1, 2, ...
   until it succeeds; every failure must be LP_ENOMEM and leave no bytes. */
typedef lp_status (*op_fn)(lp_tensor **out);
static lp_tensor *g_a, *g_b, *g_mask, *g_idx;

static lp_status op_new(lp_tensor **o) { int64_t s[2] = {3, 4}; return lp_tensor_new(ctx, LP_F32, 2, s, o); }
static lp_status op_clone(lp_tensor **o) { return lp_tensor_clone(ctx, g_a, o); }
static lp_status op_astype(lp_tensor **o) { return lp_tensor_astype(ctx, g_a, LP_F64, o); }
static lp_status op_reshape_copy(lp_tensor **o) {
  lp_tensor *tr = NULL; int64_t s[1] = {12}; lp_status st = lp_tensor_transpose(ctx, g_a, 0, 1, &tr);
  if (st == LP_OK) st = lp_tensor_reshape(ctx, tr, 1, s, o);
  lp_tensor_release(tr); return st;
}
static lp_status op_slice(lp_tensor **o) { return lp_tensor_slice(ctx, g_a, 1, 0, 2, 1, o); }
static lp_status op_cat(lp_tensor **o) { lp_tensor *p[2]; p[0] = g_a; p[1] = g_b; return lp_tensor_cat(ctx, 2, p, 0, o); }
static lp_status op_stack(lp_tensor **o) { lp_tensor *p[2]; p[0] = g_a; p[1] = g_a; return lp_tensor_stack(ctx, 2, p, 0, o); }
static lp_status op_masked(lp_tensor **o) { return lp_tensor_masked_select(ctx, g_a, g_mask, o); }
static lp_status op_index(lp_tensor **o) { return lp_tensor_index_select(ctx, g_a, 0, g_idx, o); }
static lp_status op_rand(lp_tensor **o) { int64_t s[1] = {10}; return lp_randn(ctx, LP_F32, 1, s, o); }
static lp_status op_arange(lp_tensor **o) { return lp_arange(ctx, 0, 10, 1, LP_I32, o); }
static lp_status op_eye(lp_tensor **o) { return lp_eye(ctx, 3, 3, LP_F32, o); }
static lp_status op_expand(lp_tensor **o) { int64_t s[3] = {2, 3, 4}; return lp_tensor_expand(ctx, g_a, 3, s, o); }

static void test_out_of_memory_paths(void) {
  static const struct { const char *name; op_fn fn; } ops[] = {
    {"new", op_new}, {"clone", op_clone}, {"astype", op_astype}, {"reshape_copy", op_reshape_copy},
    {"slice", op_slice}, {"cat", op_cat}, {"stack", op_stack}, {"masked_select", op_masked},
    {"index_select", op_index}, {"randn", op_rand}, {"arange", op_arange}, {"eye", op_eye},
    {"expand", op_expand},
  };
  int64_t s[2] = {3, 4}, m[1] = {4}, three[1] = {2};
  int64_t ix[2] = {2, 0};
  size_t k;
  CHECK_OK(lp_randn(ctx, LP_F32, 2, s, &g_a));
  CHECK_OK(lp_randn(ctx, LP_F32, 2, s, &g_b));
  CHECK_OK(lp_tensor_new(ctx, LP_BOOL, 1, m, &g_mask));
  CHECK_OK(lp_tensor_from_data(ctx, LP_I64, 1, three, ix, &g_idx));
  for (k = 0; k < sizeof ops / sizeof ops[0]; k++) {
    long n;
    int ok = 0;
    for (n = 1; n < 100 && !ok; n++) {
      lp_tensor *out = NULL;
      size_t live = lp_ctx_bytes_live(ctx);
      lp_status st;
      lp_ctx_fail_alloc_after(ctx, n);
      st = ops[k].fn(&out);
      lp_ctx_fail_alloc_after(ctx, 0);
      if (st == LP_OK) { ok = 1; lp_tensor_release(out); CHECK(lp_ctx_bytes_live(ctx) == live); break; }
      if (st != LP_ENOMEM || out != NULL || lp_ctx_bytes_live(ctx) != live) {
        fprintf(stderr, "  %s: failing allocation %ld gave status %d\n", ops[k].name, n, (int)st);
        CHECK(0);
        break;
      }
    }
    CHECK(ok);
  }
  lp_tensor_release(g_a); lp_tensor_release(g_b); lp_tensor_release(g_mask); lp_tensor_release(g_idx);
}

int main(void) {
  int rc;
  if (lp_ctx_new(&ctx) != LP_OK) return 1;
  RUN(test_new_and_release);
  RUN(test_scalar_and_empty);
  RUN(test_views);
  RUN(test_view_of_transposed);
  RUN(test_copy_cast);
  RUN(test_elements);
  RUN(test_cat_stack_select);
  RUN(test_random_reproducible_across_threads);
  RUN(test_size_cap);
  RUN(test_tensor_outlives_context);
  RUN(test_out_of_memory_paths);
  rc = TEST_REPORT("test_tensor");
  lp_ctx_free(ctx);
  return rc;
}
