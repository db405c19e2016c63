/*
** core/src/sparse.h -- private: event-driven matrix products for spike
** inputs (core/src/sparse.c). lp_matmul (linalg.c) offers every float
** product to lp_sp_gemm first; it takes the ones whose left operand is
** sparse enough and leaves the rest to OpenBLAS.
*/
#ifndef LIMPET_SPARSE_H
#define LIMPET_SPARSE_H

#include "limpet/core.h"

/* Density (nonzeros / elements of A) at or below which the event-driven
   path is used; measured on AVX-512 with OpenBLAS 0.3.21 (bench/). */
#define LP_SP_DENSITY_MAX 0.10

/* C (M x N, row stride N) = A (M x K) . B (K x N), dt float32 or float64.
   A: element (i, k) at a[i*lda + k] (trans_a = 0) or a[k*lda + i]
   (trans_a = 1). B: row-major, row stride ldb. When A's density is at most
   LP_SP_DENSITY_MAX, computes C as row gathers of B over A's nonzeros
   (trans_a = 1: over the nonzeros of A's transposed index, the scatter-add
   written as a gather), sets *done = 1;
   otherwise leaves C alone and sets *done = 0. The summation order per
   element of C is k ascending whatever the thread count. Returns LP_ENOMEM
   (recorded in ctx) when its index cannot be allocated. */
lp_status lp_sp_gemm(lp_ctx *ctx, lp_dtype dt, int64_t M, int64_t N, int64_t K, const void *a, int64_t lda,
                     int trans_a, const void *b, int64_t ldb, void *c, int threads, int *done);

/* Nonzeros of n elements of dt float32/float64 at p, counting stops once
   past cap (returns cap + 1 then). */
int64_t lp_sp_count_nonzero(lp_dtype dt, const void *p, int64_t n, int64_t cap);

/* The compressed index of a float matrix's R stored rows (length L, row
   stride ld): rowptr[R + 1], column idx and values of the nonzeros, rows in
   order, columns ascending. Returns 0 (index unusable) when there are more
   than cap nonzeros. Lets a caller index an operand once and use it twice
   (the fused LIF input projection: forward gathers, backward scatter-add). */
int lp_sp_index(lp_dtype dt, const void *p, int64_t R, int64_t L, int64_t ld, int64_t cap, int64_t *rowptr,
                int32_t *idx, void *val);

/* lp_sp_index with the plain scalar nonzero test in place of the vector
   masks: the reference spec/c/test_sparse.c compares lp_sp_index with. */
int lp_sp_index_ref(lp_dtype dt, const void *p, int64_t R, int64_t L, int64_t ld, int64_t cap, int64_t *rowptr,
                    int32_t *idx, void *val);

/* lp_sp_index on up to `threads` threads, each indexing a chunk of rows
   into its share of the cap slots of idx and val (when one chunk has more
   than its share: again on one thread); the same result as lp_sp_index's.
   p's elements are of dtype src: dt, or LP_U8 / LP_BOOL (spikes as bytes,
   values converted to dt). Returns 0 when more than cap nonzeros. */
int lp_sp_index_mt(lp_dtype dt, lp_dtype src, const void *p, int64_t R, int64_t L, int64_t ld, int64_t cap,
                   int64_t *rowptr, int32_t *idx, void *val, int threads);

/* C (L x N, contiguous) = A^T . B where A (R x L) is given by its index (as
   lp_sp_index makes it) and B is (R x N), row stride ldb: the scatter-add of
   a weight gradient, as lp_sp_gemm with trans_a = 1 computes it (same sums
   in the same order). val NULL: every value is 1 (spikes as 0/1), the same
   sums without the products. Returns LP_ENOMEM when its scratch cannot be had. */
lp_status lp_sp_gemm_tn_index(lp_ctx *ctx, lp_dtype dt, int64_t R, int64_t L, int64_t N, const int64_t *rowptr,
                              const int32_t *idx, const void *val, const void *b, int64_t ldb, void *c,
                              int threads);

#endif
