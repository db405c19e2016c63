/*
** core/src/optim.c -- fused optimiser steps (limpet/optim.h): Adam and
** AdamW as one pass over p, g, m, v (split between threads on large
** tensors: elementwise, so the same bits on any thread count). Owns the
** kernel and its argument checks; the optimiser classes are
** stdlib/limpet/optim/.
** Bit-compatibility with the tensor-op formulation: no FMA contraction, each
** scalar factor rounded to the dtype first, the operations in the same order.
** The loop is a vector loop (built with -fno-math-errno: sqrt is exact either
** way; AVX-512 / AVX2 / baseline clones): it was scalar, 26 instructions
** per parameter (callgrind, W1 user form).
*/
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC optimize("O3", "fp-contract=off")   /* -fno-math-errno from the Makefile: sqrt inline, the loop vectorises */
#endif
#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && defined(__linux__)
#define ADAM_CLONES __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#define ADAM_CLONES
#endif
#include "limpet/optim.h"
#include "limpet/autograd.h"
#include "tensor_impl.h"
#include <math.h>

/* the fewest elements for which the step runs on several threads */
#define ADAM_PAR_MIN ((int64_t)65536)

#define ADAM_KERNEL(REAL, SUF, SQRT)                                                                \
  ADAM_CLONES static void adam_##SUF(int64_t n, REAL *restrict p, const REAL *restrict g, REAL *restrict m,      \
                         REAL *restrict v, REAL *restrict vmax, const lp_adam_opts *o) {            \
    const double bc1 = 1 - pow(o->beta1, (double)o->step), bc2 = 1 - pow(o->beta2, (double)o->step); \
    const REAL decay = (REAL)(1 - o->lr * o->weight_decay), wd = (REAL)o->weight_decay;           \
    const REAL b1 = (REAL)o->beta1, c1 = (REAL)(1 - o->beta1);                                     \
    const REAL b2 = (REAL)o->beta2, c2 = (REAL)(1 - o->beta2);                                     \
    const REAL ib2 = (REAL)(1 / bc2), eps = (REAL)o->eps, lrc = (REAL)(o->lr / bc1);               \
    const int dec = o->decoupled && o->weight_decay != 0, l2 = !o->decoupled && o->weight_decay != 0; \
    int64_t i;                                                                                      \
    for (i = 0; i < n; i++) {                                                                       \
      REAL pi = p[i], gi = g[i], mi, vi, den;                                                       \
      if (dec) pi = pi * decay;                                                                     \
      if (l2) gi = gi + pi * wd;                                                                    \
      mi = m[i] * b1;                                                                               \
      mi = mi + gi * c1;                                                                            \
      vi = v[i] * b2;                                                                               \
      vi = vi + (gi * gi) * c2;                                                                     \
      m[i] = mi;                                                                                    \
      v[i] = vi;                                                                                    \
      if (vmax) { const REAL w = vmax[i]; vi = (w > vi || w != w) ? w : vi; vmax[i] = vi; }          \
      den = SQRT(vi * ib2) + eps;                                                                   \
      p[i] = pi - (mi / den) * lrc;                                                                 \
    }                                                                                               \
  }
ADAM_KERNEL(float, f32, sqrtf)
ADAM_KERNEL(double, f64, sqrt)

static lp_status want(lp_ctx *ctx, const lp_tensor *t, const lp_tensor *p, int arg, const char *what) {
  if (!t) return lp_ctx_error(ctx, LP_EARG, arg, "%s: expected a tensor", what);
  if (t->dtype != p->dtype) return lp_ctx_error(ctx, LP_ETYPE, arg, "%s: expected %s", what, lp_dtype_name(p->dtype));
  if (lp_tensor_numel(t) != lp_tensor_numel(p))
    return lp_ctx_error(ctx, LP_ESHAPE, arg, "%s: expected %lld elements, got %lld", what,
                        (long long)lp_tensor_numel(p), (long long)lp_tensor_numel(t));
  if (!lp_tensor_is_contiguous(t)) return lp_ctx_error(ctx, LP_EARG, arg, "%s: expected a contiguous tensor", what);
  return LP_OK;
}

lp_status lp_adam_step(lp_ctx *ctx, lp_tensor *p, const lp_tensor *g, lp_tensor *m, lp_tensor *v, lp_tensor *vmax,
                       const lp_adam_opts *o) {
  lp_tensor *gc = NULL;
  lp_status st;
  if (!p || (p->dtype != LP_F32 && p->dtype != LP_F64))
    return lp_ctx_error(ctx, LP_ETYPE, 1, "expected a float32 or float64 tensor");
  if (!lp_tensor_is_contiguous(p)) return lp_ctx_error(ctx, LP_EARG, 1, "expected a contiguous tensor");
  if (o->step < 1) return lp_ctx_error(ctx, LP_EARG, 0, "step must be >= 1, got %ld", o->step);
  if (!g) return lp_ctx_error(ctx, LP_EARG, 2, "gradient: expected a tensor");
  if (lp_tensor_numel(g) != lp_tensor_numel(p))
    return lp_ctx_error(ctx, LP_ESHAPE, 2, "gradient: expected %lld elements, got %lld",
                        (long long)lp_tensor_numel(p), (long long)lp_tensor_numel(g));
  if ((st = want(ctx, m, p, 3, "exp_avg")) != LP_OK || (st = want(ctx, v, p, 4, "exp_avg_sq")) != LP_OK ||
      (vmax && (st = want(ctx, vmax, p, 5, "max_exp_avg_sq")) != LP_OK))
    return st;
  if (g->dtype != p->dtype) st = lp_tensor_astype(ctx, g, p->dtype, &gc);
  else st = lp_tensor_contiguous(ctx, (lp_tensor *)g, &gc);
  if (st != LP_OK) return st;
  {
    /* elementwise: chunks of 64 bytes' multiples on several threads when the tensor is big
       enough to pay for the parallel region; the same bits on any thread count */
    const int64_t n = lp_tensor_numel(p), es = (int64_t)lp_dtype_size(p->dtype);
    const int th = lp_ctx_threads(ctx);
    const int64_t nch = th > 1 && n >= ADAM_PAR_MIN ? th : 1;
    char *pd = lp_tensor_data(p), *md = lp_tensor_data(m), *vd = lp_tensor_data(v);
    char *xd = vmax ? lp_tensor_data(vmax) : NULL;
    const char *gd = lp_tensor_data(gc);
    int64_t q;
#pragma omp parallel for schedule(static) num_threads((int)nch) if (nch > 1)
    for (q = 0; q < nch; q++) {
      const int64_t i0 = n * q / nch / 16 * 16, i1 = q + 1 == nch ? n : n * (q + 1) / nch / 16 * 16;
      const size_t off = (size_t)(i0 * es);
      if (i1 <= i0) continue;
      if (p->dtype == LP_F32)
        adam_f32(i1 - i0, (float *)(pd + off), (const float *)(gd + off), (float *)(md + off),
                 (float *)(vd + off), xd ? (float *)(xd + off) : NULL, o);
      else
        adam_f64(i1 - i0, (double *)(pd + off), (const double *)(gd + off), (double *)(md + off),
                 (double *)(vd + off), xd ? (double *)(xd + off) : NULL, o);
    }
  }
  lp_tensor_release(gc);
  lp_tensor_bump_version(p);
  return LP_OK;
}
