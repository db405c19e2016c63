/*
** core/include/limpet/ops.h -- arithmetic, comparisons, reductions, products.
** Owns the signatures of elementwise kernels (with NumPy broadcasting and
** promotion), reductions and matrix products. Implemented in
** core/src/elementwise.c, core/src/reduce.c, core/src/linalg.c.
** Not here: views and copies (tensor.h). dims are 0-based.
*/
#ifndef LIMPET_OPS_H
#define LIMPET_OPS_H

#include "limpet/tensor.h"

typedef enum lp_binop {
  LP_ADD, LP_SUB, LP_MUL, LP_DIV, LP_POW, LP_MOD, LP_MAXIMUM, LP_MINIMUM,
  LP_GT, LP_GE, LP_LT, LP_LE, LP_EQ, LP_NE,       /* comparisons: bool result */
  LP_AND, LP_OR, LP_XOR,                           /* logical: bool result     */
  LP_FLOORDIV,                                     /* floor(a / b); ints exact */
  LP_ATAN2, LP_HYPOT,                              /* float result             */
  LP_NBINOPS
} lp_binop;

typedef enum lp_unop {
  LP_NEG, LP_ABS, LP_EXP, LP_LOG, LP_SQRT, LP_TANH, LP_SIGMOID, LP_RELU,
  LP_FLOOR, LP_CEIL, LP_ROUND, LP_SIGN, LP_NOT, LP_ISNAN, LP_ISINF,
  /* NumPy's ufuncs (float results for integer input, except square/trunc) */
  LP_SIN, LP_COS, LP_TAN, LP_ASIN, LP_ACOS, LP_ATAN,
  LP_SINH, LP_COSH, LP_ASINH, LP_ACOSH, LP_ATANH,
  LP_LOG1P, LP_EXPM1, LP_LOG2, LP_LOG10, LP_EXP2,
  LP_SQUARE, LP_RECIPROCAL, LP_CBRT, LP_TRUNC, LP_ISFINITE,
  LP_NUNOPS
} lp_unop;

typedef enum lp_redop {
  LP_SUM, LP_MEAN, LP_RMAX, LP_RMIN, LP_ARGMAX, LP_ARGMIN, LP_VAR, LP_STD, LP_PROD,
  LP_ALL, LP_ANY,                                  /* bool results              */
  LP_MEDIAN, LP_NANSUM, LP_NANMEAN, LP_NANMAX, LP_NANMIN, LP_LOGSUMEXP,
  LP_NREDOPS
} lp_redop;

const char *lp_binop_name(lp_binop op);   /* "add", "gt", ... */
const char *lp_unop_name(lp_unop op);
const char *lp_redop_name(lp_redop op);

/* Result dtype of a binary op on tensors of these dtypes (NumPy rules:
   true division of integers gives float32 here, limpet's default float;
   comparisons and logical ops give bool). */
lp_dtype  lp_binop_dtype(lp_binop op, lp_dtype a, lp_dtype b);

/* out = a op b, broadcast. */
lp_status lp_binary(lp_ctx *ctx, lp_binop op, const lp_tensor *a, const lp_tensor *b,
                    lp_tensor **out);
/* out = a op s (scalar_left = 0) or s op a (scalar_left = 1); s is a weak scalar. */
lp_status lp_binary_scalar(lp_ctx *ctx, lp_binop op, const lp_tensor *a, lp_scalar s,
                           int scalar_left, lp_tensor **out);
/* a = a op b in place: b broadcast to a's shape, result cast to a's dtype. */
lp_status lp_binary_(lp_ctx *ctx, lp_binop op, lp_tensor *a, const lp_tensor *b);
lp_status lp_binary_scalar_(lp_ctx *ctx, lp_binop op, lp_tensor *a, lp_scalar s);
/* a += alpha * b in place (optimisers). */
lp_status lp_axpy_(lp_ctx *ctx, lp_tensor *a, double alpha, const lp_tensor *b);

lp_status lp_unary(lp_ctx *ctx, lp_unop op, const lp_tensor *a, lp_tensor **out);
lp_status lp_unary_(lp_ctx *ctx, lp_unop op, lp_tensor *a);

/* Clamp to [lo, hi]; a bound is ignored when its has_ flag is 0. */
lp_status lp_clamp(lp_ctx *ctx, const lp_tensor *a, int has_lo, double lo, int has_hi,
                   double hi, lp_tensor **out);
lp_status lp_clamp_(lp_ctx *ctx, lp_tensor *a, int has_lo, double lo, int has_hi, double hi);

/* out = cond ? a : b, broadcast; cond is converted to bool (nonzero). */
lp_status lp_where(lp_ctx *ctx, const lp_tensor *cond, const lp_tensor *a, const lp_tensor *b,
                   lp_tensor **out);

/* Reduce over dim (0-based) or over every element (dim = -1, result is a
   0-d tensor unless keepdim). argmax/argmin give int64 0-based positions
   (over the flattened tensor when dim = -1). ddof is for var/std. Sum of
   ints gives int64, of bool int64; mean/var/std of ints give float32.
   all/any give bool (nonzero is true; NaN is true, NumPy). median is
   NumPy's (the mean of the two middle values for an even count, NaN when
   the line holds a NaN). nansum/nanmean/nanmax/nanmin skip NaNs (nanmean
   of an all-NaN line is NaN, nanmax/nanmin of one is NaN). logsumexp is
   log(sum(exp(a))) computed stably (float result). */
lp_status lp_reduce(lp_ctx *ctx, lp_redop op, const lp_tensor *a, int dim, int keepdim,
                    int ddof, lp_tensor **out);

/* NumPy's quantile(a, q, axis) with its default 'linear' method: q in
   [0, 1], over dim (0-based) or every element (dim = -1); dtypes as median
   (float32 for integers), NaN for a line holding a NaN. */
lp_status lp_quantile(lp_ctx *ctx, const lp_tensor *a, double q, int dim, int keepdim, lp_tensor **out);

/* Cumulative sum / product along dim (0-based), the shape of a; reverse:
   from the end of the dim (NumPy's a[::-1].cumsum()[::-1]). Sum of ints
   and bools gives int64 (NumPy), floats keep their dtype and accumulate
   in double. */
typedef enum lp_scanop { LP_CUMSUM, LP_CUMPROD, LP_CUMMAX, LP_CUMMIN, LP_NSCANOPS } lp_scanop;
const char *lp_scanop_name(lp_scanop op);
lp_status lp_scan(lp_ctx *ctx, lp_scanop op, const lp_tensor *a, int dim, int reverse,
                  lp_tensor **out);

/* Matrix products (OpenBLAS for float32/float64; other dtypes promote to
   float32 unless both are integers, then int64 loops).
   matmul: NumPy semantics: 1-d operands are promoted and the added dim
   removed; batch dims broadcast. */
lp_status lp_matmul(lp_ctx *ctx, const lp_tensor *a, const lp_tensor *b, lp_tensor **out);
lp_status lp_outer(lp_ctx *ctx, const lp_tensor *a, const lp_tensor *b, lp_tensor **out);
lp_status lp_dot(lp_ctx *ctx, const lp_tensor *a, const lp_tensor *b, lp_tensor **out);

#endif
