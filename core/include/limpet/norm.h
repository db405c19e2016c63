/*
** core/include/limpet/norm.h -- batch normalisation in one pass pair, with
** its autodiff node. Implemented in core/src/norm.c.
*/
#ifndef LIMPET_NORM_H
#define LIMPET_NORM_H

#include "limpet/tensor.h"

/* x viewed as (R, C, S): C = x->shape[cdim] channels, R the product of the
   dimensions before it, S of those after. Per channel c, over its R·S
   values: mean_c, the biased variance var_c, and
     y = (x - mean_c) · gain · w_c / sqrt(var_c + eps) + b_c
   (w NULL: weight 1; b NULL: no shift). x float32 or float64, w and b
   vectors of C of x's dtype. *mean and *var (C, x's dtype) are plain
   tensors (no gradient flows through them). eps >= 0, gain > 0. */
lp_status lp_batch_norm(lp_ctx *ctx, const lp_tensor *x, int cdim, const lp_tensor *w, const lp_tensor *b,
                        double eps, double gain, lp_tensor **y, lp_tensor **mean, lp_tensor **var);
/* The same, recorded for autodiff: gradients for x, w and b through y. */
lp_status lp_ag_batch_norm(lp_ctx *ctx, const lp_tensor *x, int cdim, const lp_tensor *w, const lp_tensor *b,
                           double eps, double gain, lp_tensor **y, lp_tensor **mean, lp_tensor **var);

#endif
