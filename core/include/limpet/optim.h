/*
** core/include/limpet/optim.h -- fused optimiser steps: one pass over the
** parameter, its gradient and the moment buffers instead of one tensor op
** per term (core/src/optim.c). The formulas, defaults and bookkeeping
** (step counts, buffers, parameter groups) live in stdlib/limpet/optim/.
*/
#ifndef LIMPET_OPTIM_H
#define LIMPET_OPTIM_H

#include "limpet/tensor.h"

/* Adam (PyTorch's formulation; decoupled = AdamW), step t >= 1:
     AdamW: p *= 1 - lr wd          Adam: g = grad + wd p
     m = b1 m + (1 - b1) g ;  v = b2 v + (1 - b2) g^2 ;  amsgrad: vmax = max(vmax, v), v = vmax
     p -= (m / (sqrt(v / (1 - b2^t)) + eps)) (lr / (1 - b1^t))
   Each scalar factor is rounded to the tensor dtype and each operation
   rounded as the tensor ops compute it, so the results are the same bits as
   the same formula written with lp tensor ops. */
typedef struct lp_adam_opts {
  double lr, beta1, beta2, eps, weight_decay;
  int decoupled;                 /* AdamW */
  long step;                     /* t, from 1 */
} lp_adam_opts;

/* p, m, v (and vmax for amsgrad, else NULL): contiguous, float32 or float64,
   all of p's dtype and numel; g the same numel (cast when its dtype differs).
   Updates p, m, v, vmax in place and bumps p's version (autograd's check
   of tensors saved for backward). */
lp_status lp_adam_step(lp_ctx *ctx, lp_tensor *p, const lp_tensor *g, lp_tensor *m, lp_tensor *v, lp_tensor *vmax,
                       const lp_adam_opts *o);

#endif
