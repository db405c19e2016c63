/*
** core/src/generate.c -- value generators: arange, linspace, eye, full.
** NumPy's meanings: arange is half-open, linspace includes both ends.
*/
#include "limpet/random.h"
#include "tensor_impl.h"
#include <math.h>

lp_status lp_arange(lp_ctx *ctx, double start, double stop, double step, lp_dtype dt, lp_tensor **out) {
  double count;
  int64_t n, i;
  lp_status st;
  char *data;
  size_t es = lp_dtype_size(dt);
  *out = NULL;
  if (step == 0 || step != step) return lp_ctx_error(ctx, LP_EARG, 3, "step must be nonzero");
  if (!isfinite(start) || !isfinite(stop))
    return lp_ctx_error(ctx, LP_EARG, 1, "arange needs finite bounds");
  count = ceil((stop - start) / step);
  if (count < 0) count = 0;
  if (count > 9.0e18) return lp_ctx_error(ctx, LP_ESIZE, 2, "arange would have %g elements", count);
  n = (int64_t)count;
  if ((st = lp_tensor_empty(ctx, dt, 1, &n, out)) != LP_OK) return st;
  data = lp_tensor_data(*out);
  for (i = 0; i < n; i++) lp_store_f(dt, data + i * (int64_t)es, start + (double)i * step);
  return LP_OK;
}

lp_status lp_linspace(lp_ctx *ctx, double a, double b, int64_t n, lp_dtype dt, lp_tensor **out) {
  int64_t i;
  lp_status st;
  char *data;
  size_t es = lp_dtype_size(dt);
  *out = NULL;
  if (n < 0) return lp_ctx_error(ctx, LP_EARG, 3, "number of points must be non-negative, got %lld", (long long)n);
  if ((st = lp_tensor_empty(ctx, dt, 1, &n, out)) != LP_OK) return st;
  data = lp_tensor_data(*out);
  for (i = 0; i < n; i++) {
    double v = n == 1 ? a : (i == n - 1 ? b : a + (b - a) * (double)i / (double)(n - 1));
    lp_store_f(dt, data + i * (int64_t)es, v);
  }
  return LP_OK;
}

lp_status lp_eye(lp_ctx *ctx, int64_t n, int64_t m, lp_dtype dt, lp_tensor **out) {
  int64_t shape[2] = {n, m}, i;
  lp_status st;
  char *data;
  size_t es = lp_dtype_size(dt);
  *out = NULL;
  if ((st = lp_tensor_new(ctx, dt, 2, shape, out)) != LP_OK) return st;
  data = lp_tensor_data(*out);
  for (i = 0; i < n && i < m; i++) lp_store_i(dt, data + (i * m + i) * (int64_t)es, 1);
  return LP_OK;
}

lp_status lp_full(lp_ctx *ctx, lp_dtype dt, int ndim, const int64_t *shape, lp_scalar v, lp_tensor **out) {
  lp_status st = lp_tensor_empty(ctx, dt, ndim, shape, out);
  if (st != LP_OK) return st;
  return lp_tensor_fill_(ctx, *out, v);
}
