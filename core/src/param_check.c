/*
** core/src/param_check.c -- the one-pass range check of module parameters.
** Owns: lp_param_first_outside, which the nn modules call on every forward
** (stdlib/limpet/nn/validate.lua) to find a time constant that is not
** positive, a decay outside [0, 1] or a value that is not finite, without
** allocating. Not here: which range a parameter has (the Lua side decides),
** the dynamics (lif.c).
** Scheme: contiguous data is scanned in blocks of 1024 with a branch-free
** test the compiler vectorises; from the first block that holds a bad value
** (or the tail) on, element by element, to find the first one. Bounds are
** compared in the tensor's type (lo, hi: 0, 1 or +-inf, exact in both).
*/
#include "limpet/neuron.h"
#include <math.h>

#define BLOCK 1024

/* v is inside when finite, above lo (strictly when lo_open) and <= hi.
   Only float tensors are scanned; other dtypes count as inside. */
#define INSIDE(v) (((v) - (v) == 0) && (lo_open ? (v) > lo : (v) >= lo) && (v) <= hi)

/* Does a block of exactly BLOCK contiguous values hold one outside? Branch
   free with a constant trip count, so the compiler vectorises it at -O2. */
/* AVX2 / baseline versions on x86-64 GCC (the loop vectorises at O3; the
   check runs on every forward over every weight: 3.4 % of the W1 user
   forward's instructions at -O2, issue 17) */
#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && defined(__linux__)
#define BLOCK_ATTR __attribute__((target_clones("avx2", "default"), optimize("O3")))
#else
#define BLOCK_ATTR
#endif
#define BLOCK_FN(NAME, T, CMP)                                                      \
  BLOCK_ATTR static int NAME(const T *x, T lo, T hi) {                              \
    int i, bad = 0;                                                                 \
    for (i = 0; i < BLOCK; i++) {                                                   \
      T v = x[i];                                                                   \
      bad |= !((v - v == 0) & (v CMP lo) & (v <= hi));                              \
    }                                                                               \
    return bad;                                                                     \
  }
BLOCK_FN(block_open_f32, float, >)
BLOCK_FN(block_closed_f32, float, >=)
BLOCK_FN(block_open_f64, double, >)
BLOCK_FN(block_closed_f64, double, >=)

#define SCAN(T, OPEN, CLOSED)                                                       \
  do {                                                                              \
    const T *x = (const T *)lp_tensor_data(t);                                      \
    if (contig) {                                                                   \
      for (i = 0; i + BLOCK <= n; i += BLOCK)                                       \
        if ((lo_open ? OPEN(x + i, (T)lo, (T)hi) : CLOSED(x + i, (T)lo, (T)hi))) break; \
      for (; i < n; i++) {                                                          \
        double v = (double)x[i];                                                    \
        if (!INSIDE(v)) { *index = i; *value = v; return LP_OK; }                   \
      }                                                                             \
      return LP_OK;                                                                 \
    }                                                                               \
    for (i = 0; i < n; i++) {                                                       \
      int64_t off = 0, r = i, d;                                                    \
      double v;                                                                     \
      for (d = nd - 1; d >= 0; d--) {                                               \
        off += (r % shape[d]) * strides[d];                                         \
        r /= shape[d];                                                              \
      }                                                                             \
      v = (double)x[off];                                                           \
      if (!INSIDE(v)) { *index = i; *value = v; return LP_OK; }                     \
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
    case LP_F32: SCAN(float, block_open_f32, block_closed_f32); break;
    case LP_F64: SCAN(double, block_open_f64, block_closed_f64); break;
    default: break;                     /* integers and booleans are always finite */
  }
  return LP_OK;
}
