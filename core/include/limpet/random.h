/*
** core/include/limpet/random.h -- random draws and value generators.
** Owns: rand, randn, randint, bernoulli (counter-based, reproducible on any
** thread count: element k of a draw depends only on the seed and the
** context's counter + k), and arange, linspace, eye, full.
** Implemented in core/src/random.c and core/src/generate.c.
*/
#ifndef LIMPET_RANDOM_H
#define LIMPET_RANDOM_H

#include "limpet/tensor.h"

/* Uniform on [0, 1) (float dtypes only). */
lp_status lp_rand(lp_ctx *ctx, lp_dtype dt, int ndim, const int64_t *shape, lp_tensor **out);
/* Standard normal (float dtypes only). */
lp_status lp_randn(lp_ctx *ctx, lp_dtype dt, int ndim, const int64_t *shape, lp_tensor **out);
/* Integers uniform on [lo, hi) (integer dtypes; lo < hi). */
lp_status lp_randint(lp_ctx *ctx, int64_t lo, int64_t hi, lp_dtype dt, int ndim,
                     const int64_t *shape, lp_tensor **out);
/* 1 with probability p (elementwise from a tensor of probabilities in [0, 1]),
   result in dtype dt. */
lp_status lp_bernoulli(lp_ctx *ctx, const lp_tensor *p, lp_dtype dt, lp_tensor **out);
lp_status lp_bernoulli_scalar(lp_ctx *ctx, double p, lp_dtype dt, int ndim,
                              const int64_t *shape, lp_tensor **out);

/* NumPy's arange: start, start+step, ... while < stop (step > 0) or > stop. */
lp_status lp_arange(lp_ctx *ctx, double start, double stop, double step, lp_dtype dt,
                    lp_tensor **out);
/* n values from a to b inclusive. */
lp_status lp_linspace(lp_ctx *ctx, double a, double b, int64_t n, lp_dtype dt, lp_tensor **out);
lp_status lp_eye(lp_ctx *ctx, int64_t n, int64_t m, lp_dtype dt, lp_tensor **out);
lp_status lp_full(lp_ctx *ctx, lp_dtype dt, int ndim, const int64_t *shape, lp_scalar v,
                  lp_tensor **out);

#endif
