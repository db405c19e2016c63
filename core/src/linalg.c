/*
** core/src/linalg.c -- matrix products: matmul (NumPy semantics), outer, dot.
** Owns: lp_matmul, lp_outer, lp_dot. Not here: elementwise ops
** (elementwise.c), reductions (reduce.c).
** Notation: a is (..., m, k), b is (..., k, n), out is (batch..., m, n);
** 1-d operands are promoted (a: (k) -> (1, k), b: (k) -> (k, 1)) and the
** added dim removed from the result. float32/float64 go to OpenBLAS
** (cblas_sgemm / cblas_dgemm), with transposed operands passed through the
** trans flags and other layouts copied to contiguous first. Integer and bool
** operands compute in int64 (wrapping) and give int64; a float operand with
** an integer one promotes (lp_dtype_promote). Batch items poll the
** context's interrupt flag.
** Speed: when b is one matrix shared by every batch item and a is
** contiguous, the batch folds into one product of batch*m rows. Float
** products whose left operand is sparse (spike trains, their transposes in
** weight gradients) go to the event-driven kernels of sparse.c, chosen by
** density measured on the fly; OpenBLAS takes the rest.
*/
#include "limpet/ops.h"
#include "tensor_impl.h"
#include "sparse.h"
#include <cblas.h>
#include <stdio.h>

/* One operand seen as a stack of (r, c) matrices. */
typedef struct mat {
  lp_tensor *t;          /* owned: in the compute dtype, layout usable */
  int64_t r, c, sr, sc;  /* rows, cols, strides in elements */
  int trans;             /* BLAS: 0 = row-major (ld = sr), 1 = transposed (ld = sc) */
  int64_t ld;
} mat;

static void mat_dims(const lp_tensor *t, int is_a, mat *m) {
  int nd = t->ndim;
  if (nd == 1) {
    if (is_a) { m->r = 1; m->c = t->shape[0]; m->sr = 0; m->sc = t->stride[0]; }
    else { m->r = t->shape[0]; m->c = 1; m->sr = t->stride[0]; m->sc = 0; }
  } else {
    m->r = t->shape[nd - 2]; m->c = t->shape[nd - 1];
    m->sr = t->stride[nd - 2]; m->sc = t->stride[nd - 1];
  }
}

/* Can BLAS read this matrix as it is? Sets trans and ld. */
static int mat_blas_ok(mat *m) {
  int64_t r = m->r, c = m->c;
  if ((c == 1 || m->sc == 1) && (r == 1 || m->sr >= (c > 1 ? c : 1))) {
    m->trans = 0;
    m->ld = r == 1 ? (c > 1 ? c : 1) : m->sr;
    return 1;
  }
  if ((r == 1 || m->sr == 1) && (c == 1 || m->sc >= (r > 1 ? r : 1))) {
    m->trans = 1;
    m->ld = c == 1 ? (r > 1 ? r : 1) : m->sc;
    return 1;
  }
  return 0;
}

/* "(*, 4, *)": what b's shape should have been. */
static void expected_b(const lp_tensor *b, int64_t k, char *buf, size_t n) {
  size_t used = 0;
  int d;
  if (b->ndim == 1) { snprintf(buf, n, "(%lld,)", (long long)k); return; }
  used += (size_t)snprintf(buf, n, "(");
  for (d = 0; d < b->ndim - 2 && used < n; d++) used += (size_t)snprintf(buf + used, n - used, "*, ");
  if (used < n) snprintf(buf + used, n - used, "%lld, *)", (long long)k);
}

static lp_status prepare(lp_ctx *ctx, const lp_tensor *t, lp_dtype cdt, int is_a, mat *m) {
  lp_status st;
  mat_dims(t, is_a, m);
  m->t = NULL;
  if (t->dtype != cdt) {
    if ((st = lp_tensor_astype(ctx, t, cdt, &m->t)) != LP_OK) return st;
    mat_dims(m->t, is_a, m);
  } else {
    m->t = lp_tensor_retain((lp_tensor *)t);
  }
  if (lp_dtype_is_float(cdt) && !mat_blas_ok(m)) {
    lp_tensor *c = NULL;
    if ((st = lp_tensor_clone(ctx, m->t, &c)) != LP_OK) return st;
    lp_tensor_release(m->t);
    m->t = c;
    mat_dims(c, is_a, m);
    mat_blas_ok(m);
  }
  return LP_OK;
}

/* C (m x n, contiguous) = A (m x k) . B (k x n), int64, wrapping; polls the
   interrupt flag every 64 rows. */
static lp_status gemm_i64(lp_ctx *ctx, int64_t M, int64_t N, int64_t K, const int64_t *A, int64_t sar, int64_t sac,
                     const int64_t *B, int64_t sbr, int64_t sbc, int64_t *C) {
  int64_t i, j, kk;
  for (i = 0; i < M; i++) {
    uint64_t *c = (uint64_t *)(C + i * N);
    if (i % 64 == 63) { lp_status st = lp_ctx_check_interrupt(ctx); if (st != LP_OK) return st; }
    for (kk = 0; kk < K; kk++) {
      uint64_t av = (uint64_t)A[i * sar + kk * sac];
      const int64_t *brow = B + kk * sbr;
      if (sbc == 1) for (j = 0; j < N; j++) c[j] += av * (uint64_t)brow[j];
      else for (j = 0; j < N; j++) c[j] += av * (uint64_t)brow[j * sbc];
    }
  }
  return LP_OK;
}

lp_status lp_matmul(lp_ctx *ctx, const lp_tensor *a, const lp_tensor *b, lp_tensor **out) {
  mat A, B;
  lp_dtype p, cdt;
  int nba, nbb, nbo = 0, ond = 0, d, nt;
  int64_t bshape[LP_MAXDIM], oshape[LP_MAXDIM], sta[LP_MAXDIM], stb[LP_MAXDIM];
  int64_t M, N, K, nbatch = 1, bi;
  lp_tensor *r = NULL;
  lp_status st = LP_OK;
  char s1[160], s2[160];
  *out = NULL;
  A.t = B.t = NULL;
  if (a->ndim == 0)
    return lp_ctx_error(ctx, LP_ESHAPE, 1, "expected a tensor with at least 1 dim, got shape ()");
  if (b->ndim == 0)
    return lp_ctx_error(ctx, LP_ESHAPE, 2, "expected a tensor with at least 1 dim, got shape ()");
  mat_dims(a, 1, &A);
  mat_dims(b, 0, &B);
  if (A.c != B.r) {
    expected_b(b, A.c, s1, sizeof s1);
    return lp_ctx_error(ctx, LP_ESHAPE, 2, "expected shape %s, got %s", s1,
                        lp_shape_str(b->ndim, b->shape, s2, sizeof s2));
  }
  M = A.r; N = B.c; K = A.c;
  /* batch dims, right-aligned broadcast */
  nba = a->ndim > 2 ? a->ndim - 2 : 0;
  nbb = b->ndim > 2 ? b->ndim - 2 : 0;
  nbo = nba > nbb ? nba : nbb;
  for (d = 0; d < nbo; d++) {
    int ia = d - (nbo - nba), ib = d - (nbo - nbb);
    int64_t sa = ia >= 0 ? a->shape[ia] : 1, sb = ib >= 0 ? b->shape[ib] : 1;
    if (sa != sb && sa != 1 && sb != 1)
      return lp_ctx_error(ctx, LP_ESHAPE, 2, "batch dims of %s and %s cannot be broadcast together",
                          lp_shape_str(a->ndim, a->shape, s1, sizeof s1),
                          lp_shape_str(b->ndim, b->shape, s2, sizeof s2));
    bshape[d] = sa == 1 ? sb : sa;
    oshape[ond++] = bshape[d];
    nbatch *= bshape[d];
  }
  if (a->ndim > 1) oshape[ond++] = M;
  if (b->ndim > 1) oshape[ond++] = N;

  p = lp_dtype_promote(a->dtype, b->dtype);
  cdt = lp_dtype_is_float(p) ? p : LP_I64;
  if ((st = prepare(ctx, a, cdt, 1, &A)) != LP_OK) goto done;
  if ((st = prepare(ctx, b, cdt, 0, &B)) != LP_OK) goto done;
  /* float products with K > 0 overwrite every element (BLAS beta = 0, or the gathers) */
  if ((st = (lp_dtype_is_float(cdt) && K > 0 ? lp_tensor_empty : lp_tensor_new)(ctx, cdt, ond, oshape, &r)) != LP_OK)
    goto done;
  /* batch strides in elements (0 where broadcast) */
  for (d = 0; d < nbo; d++) {
    int ia = d - (nbo - nba), ib = d - (nbo - nbb);
    sta[d] = (ia >= 0 && A.t->shape[ia] != 1) ? A.t->stride[ia] : 0;
    stb[d] = (ib >= 0 && B.t->shape[ib] != 1) ? B.t->stride[ib] : 0;
  }
  nt = lp_ctx_threads(ctx);
  if (lp_dtype_is_float(cdt) && nt >= 1 && openblas_get_num_threads() != nt)
    openblas_set_num_threads(nt);
  if (M * N == 0 || K == 0) goto finish;
  if (lp_dtype_is_float(cdt) && nba > 0 && nbb == 0 && lp_tensor_is_contiguous(A.t)) {
    M *= nbatch;                       /* one shared b: fold a's batch into rows */
    nbatch = 1; nbo = 0;
    A.trans = 0; A.ld = K;
  }
  {
    size_t es = lp_dtype_size(cdt);
    char *pa = lp_ptr(A.t), *pb = lp_ptr(B.t), *pc = lp_ptr(r);
    for (bi = 0; bi < nbatch; bi++) {
      int sparse_done = 0;
      int64_t offa = 0, offb = 0, rem = bi;
      char *ca, *cb, *cc = pc + (size_t)(bi * M * N) * es;
      for (d = nbo - 1; d >= 0; d--) {
        int64_t ix = rem % bshape[d];
        rem /= bshape[d];
        offa += ix * sta[d];
        offb += ix * stb[d];
      }
      if (bi > 0 && (st = lp_ctx_check_interrupt(ctx)) != LP_OK) goto done;
      ca = pa + offa * (int64_t)es;
      cb = pb + offb * (int64_t)es;
      if (lp_dtype_is_float(cdt) && !B.trans &&
          (st = lp_sp_gemm(ctx, cdt, M, N, K, ca, A.ld, A.trans, cb, B.ld, cc, nt, &sparse_done)) != LP_OK)
        goto done;
      if (sparse_done) continue;
      if (cdt == LP_F32)
        cblas_sgemm(CblasRowMajor, A.trans ? CblasTrans : CblasNoTrans,
                    B.trans ? CblasTrans : CblasNoTrans, (int)M, (int)N, (int)K, 1.0f,
                    (const float *)ca, (int)A.ld, (const float *)cb, (int)B.ld, 0.0f,
                    (float *)cc, (int)N);
      else if (cdt == LP_F64)
        cblas_dgemm(CblasRowMajor, A.trans ? CblasTrans : CblasNoTrans,
                    B.trans ? CblasTrans : CblasNoTrans, (int)M, (int)N, (int)K, 1.0,
                    (const double *)ca, (int)A.ld, (const double *)cb, (int)B.ld, 0.0,
                    (double *)cc, (int)N);
      else if ((st = gemm_i64(ctx, M, N, K, (const int64_t *)ca, A.sr, A.sc, (const int64_t *)cb, B.sr, B.sc,
                          (int64_t *)cc)) != LP_OK)
        goto done;
    }
  }
finish:
  *out = r;
  r = NULL;
done:
  lp_tensor_release(A.t);
  lp_tensor_release(B.t);
  lp_tensor_release(r);
  return st;
}

/* out[i, j] = a[i] * b[j] over the flattened operands. */
lp_status lp_outer(lp_ctx *ctx, const lp_tensor *a, const lp_tensor *b, lp_tensor **out) {
  int64_t sa[2], sb[2];
  lp_tensor *va = NULL, *vb = NULL;
  lp_status st;
  *out = NULL;
  sa[0] = lp_tensor_numel(a); sa[1] = 1;
  sb[0] = 1; sb[1] = lp_tensor_numel(b);
  if ((st = lp_tensor_reshape(ctx, (lp_tensor *)a, 2, sa, &va)) != LP_OK) goto done;
  if ((st = lp_tensor_reshape(ctx, (lp_tensor *)b, 2, sb, &vb)) != LP_OK) goto done;
  st = lp_binary(ctx, LP_MUL, va, vb, out);
done:
  lp_tensor_release(va);
  lp_tensor_release(vb);
  return st;
}

/* 1-d . 1-d -> 0-d. */
lp_status lp_dot(lp_ctx *ctx, const lp_tensor *a, const lp_tensor *b, lp_tensor **out) {
  char s1[160];
  *out = NULL;
  if (a->ndim != 1)
    return lp_ctx_error(ctx, LP_ESHAPE, 1, "expected a 1-d tensor, got shape %s",
                        lp_shape_str(a->ndim, a->shape, s1, sizeof s1));
  if (b->ndim != 1)
    return lp_ctx_error(ctx, LP_ESHAPE, 2, "expected a 1-d tensor, got shape %s",
                        lp_shape_str(b->ndim, b->shape, s1, sizeof s1));
  return lp_matmul(ctx, a, b, out);
}
