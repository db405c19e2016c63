/*
** core/src/sparse.c -- event-driven matrix products over spike tensors.
** Owns: density detection on the fly, the compressed index of a sparse
** operand (rows of nonzero positions and values), and the two products
** built on it: row gathers (x . W: each output row is the sum of W's rows
** picked by the input's events) and scatter-adds (x^T . g, the weight
** gradient: each event adds its g row into one output row). Not here: the
** dense path and the NumPy semantics of matmul (linalg.c).
** Reproducibility: every element of the result sums its terms in the same
** order (k ascending) on any thread count; threads split output rows
** (gather) or output columns (scatter).
*/
#include "sparse.h"
#include "tensor_impl.h"
#include <stdint.h>

/* The inner loops are short vector loops: compile them at O3 and, on x86-64
   with GCC, in AVX-512 / AVX2 / baseline versions picked at load time. */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC optimize("O3")
#endif
#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && defined(__linux__)
#define SP_CLONES __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#define SP_CLONES
#endif

/* c[0..n) += v * b[0..n) */
SP_CLONES static void axpy_f32(float *c, const float *b, float v, int64_t n) {
  int64_t j;
  if (v == 1) for (j = 0; j < n; j++) c[j] += b[j];
  else for (j = 0; j < n; j++) c[j] += v * b[j];
}
SP_CLONES static void axpy_f64(double *c, const double *b, double v, int64_t n) {
  int64_t j;
  if (v == 1) for (j = 0; j < n; j++) c[j] += b[j];
  else for (j = 0; j < n; j++) c[j] += v * b[j];
}
/* bit u of the result set when p[u] != 0, u < 16 */
SP_CLONES static unsigned nzmask16_f32(const float *p) {
  unsigned m = 0, u;
  for (u = 0; u < 16; u++) m |= (unsigned)(p[u] != 0) << u;
  return m;
}
SP_CLONES static unsigned nzmask16_f64(const double *p) {
  unsigned m = 0, u;
  for (u = 0; u < 16; u++) m |= (unsigned)(p[u] != 0) << u;
  return m;
}

/* Per-type kernels. */
#define SP_KERNELS(REAL, SUF)                                                                   \
  static int64_t count_##SUF(const REAL *p, int64_t n, int64_t cap) {                           \
    int64_t i, nz = 0;                                                                           \
    const int64_t blk = 4096;                                                                    \
    for (i = 0; i < n; i += blk) {                                                               \
      int64_t j, e = i + blk < n ? i + blk : n, c = 0;                                           \
      for (j = i; j < e; j++) c += p[j] != 0;                                                    \
      nz += c;                                                                                   \
      if (nz > cap) return cap + 1;                                                              \
    }                                                                                            \
    return nz;                                                                                   \
  }                                                                                              \
  /* Index the R stored rows (length L, stride ld) of p: rowptr[R + 1], idx, val.               \
     Returns 0 when more than cap nonzeros. */                                                   \
  static int index_##SUF(const REAL *p, int64_t R, int64_t L, int64_t ld, int64_t cap,          \
                         int64_t *rowptr, int32_t *idx, REAL *val) {                             \
    int64_t r, j, nz = 0;                                                                        \
    rowptr[0] = 0;                                                                               \
    for (r = 0; r < R; r++) {                                                                    \
      const REAL *row = p + r * ld;                                                              \
      for (j = 0; j + 16 <= L; j += 16) {                                                        \
        unsigned m = nzmask16_##SUF(row + j);                                                    \
        while (m) {                                                                              \
          const int u = __builtin_ctz(m);                                                        \
          m &= m - 1;                                                                            \
          if (nz >= cap) return 0;                                                               \
          idx[nz] = (int32_t)(j + u); val[nz] = row[j + u]; nz++;                                \
        }                                                                                        \
      }                                                                                          \
      for (; j < L; j++) {                                                                       \
        if (row[j] != 0) {                                                                       \
          if (nz >= cap) return 0;                                                               \
          idx[nz] = (int32_t)j; val[nz] = row[j]; nz++;                                          \
        }                                                                                        \
      }                                                                                          \
      rowptr[r + 1] = nz;                                                                        \
    }                                                                                            \
    return 1;                                                                                    \
  }                                                                                              \
  /* C[i, :] = sum over row i's events (k, v) of v * B[k, :] */                                 \
  static void gather_##SUF(int64_t M, int64_t N, const int64_t *rowptr, const int32_t *idx,     \
                           const REAL *val, const REAL *B, int64_t ldb, REAL *C, int threads) { \
    int64_t i;                                                                                   \
    _Pragma("omp parallel for schedule(static) num_threads(threads) if (threads > 1 && M > 1)")  \
    for (i = 0; i < M; i++) {                                                                    \
      REAL *c = C + i * N;                                                                       \
      int64_t e, j;                                                                              \
      for (j = 0; j < N; j++) c[j] = 0;                                                          \
      for (e = rowptr[i]; e < rowptr[i + 1]; e++) {                                              \
        axpy_##SUF(c, B + (int64_t)idx[e] * ldb, val[e], N);                                     \
      }                                                                                          \
    }                                                                                            \
  }                                                                                              \
  /* C (M x N) = sum over stored rows k, events (i, v): C[i, :] += v * B[k, :].                  \
     Threads own column blocks of C. */                                                          \
  static void scatter_##SUF(int64_t M, int64_t N, int64_t K, const int64_t *rowptr,            \
                            const int32_t *idx, const REAL *val, const REAL *B, int64_t ldb,    \
                            REAL *C, int threads) {                                              \
    int64_t nblk = (N + 63) / 64, q;                                                             \
    (void)M;                                                                                     \
    _Pragma("omp parallel for schedule(static) num_threads(threads) if (threads > 1 && nblk > 1)") \
    for (q = 0; q < nblk; q++) {                                                                 \
      const int64_t n0 = q * 64, n1 = n0 + 64 < N ? n0 + 64 : N;                                 \
      int64_t k, e, j, i;                                                                        \
      for (i = 0; i < M; i++) for (j = n0; j < n1; j++) C[i * N + j] = 0;                        \
      for (k = 0; k < K; k++) {                                                                  \
        const REAL *b = B + k * ldb;                                                             \
        for (e = rowptr[k]; e < rowptr[k + 1]; e++) {                                            \
          axpy_##SUF(C + (int64_t)idx[e] * N + n0, b + n0, val[e], n1 - n0);                     \
        }                                                                                        \
      }                                                                                          \
    }                                                                                            \
  }

SP_KERNELS(float, f32)
SP_KERNELS(double, f64)

int64_t lp_sp_count_nonzero(lp_dtype dt, const void *p, int64_t n, int64_t cap) {
  return dt == LP_F64 ? count_f64(p, n, cap) : count_f32(p, n, cap);
}

lp_status lp_sp_gemm(lp_ctx *ctx, lp_dtype dt, int64_t M, int64_t N, int64_t K, const void *a, int64_t lda,
                     int trans_a, const void *b, int64_t ldb, void *c, int threads, int *done) {
  const size_t es = lp_dtype_size(dt);
  /* stored rows of A: M rows of K (trans_a = 0) or K rows of M (trans_a = 1) */
  const int64_t R = trans_a ? K : M, L = trans_a ? M : K;
  int64_t cap = (int64_t)(LP_SP_DENSITY_MAX * (double)M * (double)K), *rowptr = NULL;
  int32_t *idx = NULL;
  void *val = NULL;
  size_t nrp, nix, nval;
  int ok;
  *done = 0;
  if ((dt != LP_F32 && dt != LP_F64) || M <= 0 || N <= 0 || K <= 0 || L > INT32_MAX) return LP_OK;
  if (N < 4) return LP_OK;                     /* row products too short to gain */
  if (cap < 1) cap = 1;
  nrp = (size_t)(R + 1) * sizeof *rowptr; nix = (size_t)cap * sizeof *idx; nval = (size_t)cap * es;
  rowptr = lp_ctx_alloc_raw(ctx, nrp);
  idx = rowptr ? lp_ctx_alloc_raw(ctx, nix) : NULL;
  val = idx ? lp_ctx_alloc_raw(ctx, nval) : NULL;
  if (!val) {
    if (idx) lp_ctx_dealloc(ctx, idx, nix);
    if (rowptr) lp_ctx_dealloc(ctx, rowptr, nrp);
    return LP_ENOMEM;
  }
  ok = dt == LP_F64 ? index_f64(a, R, L, lda, cap, rowptr, idx, val)
                    : index_f32(a, R, L, lda, cap, rowptr, idx, val);
  if (ok) {
    if (!trans_a) {
      if (dt == LP_F64) gather_f64(M, N, rowptr, idx, val, b, ldb, c, threads);
      else gather_f32(M, N, rowptr, idx, val, b, ldb, c, threads);
    } else {
      if (dt == LP_F64) scatter_f64(M, N, K, rowptr, idx, val, b, ldb, c, threads);
      else scatter_f32(M, N, K, rowptr, idx, val, b, ldb, c, threads);
    }
    *done = 1;
  }
  lp_ctx_dealloc(ctx, val, nval);
  lp_ctx_dealloc(ctx, idx, nix);
  lp_ctx_dealloc(ctx, rowptr, nrp);
  return LP_OK;
}
