/*
** core/src/param_check.c -- the one-pass range check of module parameters.
** Owns: lp_param_first_outside, which the nn modules call on every forward
** (stdlib/limpet/nn/validate.lua) to find a time constant that is not
** positive, a decay outside [0, 1] or a value that is not finite, without
** allocating. Not here: which range a parameter has (the Lua side decides),
** the dynamics (lif.c).
*/
#include "limpet/neuron.h"
#include <math.h>

/* v is inside when finite, above lo (strictly when lo_open) and <= hi. */
#define SCAN(T)                                                                     \
  do {                                                                              \
    const char *base = (const char *)lp_tensor_data(t);                             \
    for (i = 0; i < n; i++) {                                                       \
      int64_t off = 0, r = i, d;                                                    \
      double v;                                                                     \
      if (contig) off = i * (int64_t)sizeof(T);                                     \
      else                                                                          \
        for (d = nd - 1; d >= 0; d--) {                                             \
          off += (r % shape[d]) * strides[d] * (int64_t)sizeof(T);                  \
          r /= shape[d];                                                            \
        }                                                                           \
      v = (double)*(const T *)(base + off);                                         \
      if (!isfinite(v) || (lo_open ? !(v > lo) : !(v >= lo)) || !(v <= hi)) {       \
        *index = i; *value = v;                                                     \
        return LP_OK;                                                               \
      }                                                                             \
    }                                                                               \
  } while (0)

lp_status lp_param_first_outside(lp_ctx *ctx, const lp_tensor *t, double lo, double hi, int lo_open,
                                 int64_t *index, double *value) {
  int64_t i, n, nd;
  const int64_t *shape, *strides;
  int contig;
  *index = -1;
  *value = 0;
  if (!t) return lp_ctx_error(ctx, LP_EARG, 1, "expected a tensor");
  n = lp_tensor_numel(t);
  nd = lp_tensor_ndim(t);
  shape = lp_tensor_shape(t);
  strides = lp_tensor_strides(t);
  contig = lp_tensor_is_contiguous(t);
  switch (lp_tensor_dtype(t)) {
    case LP_F32: SCAN(float); break;
    case LP_F64: SCAN(double); break;
    default: return lp_ctx_error(ctx, LP_EARG, 1, "expected a float32 or float64 tensor");
  }
  return LP_OK;
}
