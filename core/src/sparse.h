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

#endif
