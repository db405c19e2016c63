/*
** core/src/random.c -- random draws: rand, randn, randint, bernoulli.
** Every draw reserves a block of counters in the context; element k uses
** counter c + k (randn uses 2 per element, Box-Muller), so results depend
** only on the seed and the order of draws, never on the thread count.
*/
#include "limpet/random.h"
#include "tensor_impl.h"
#include <math.h>

static lp_status need_float(lp_ctx *ctx, lp_dtype dt, const char *fn) {
  if (!lp_dtype_is_float(dt))
    return lp_ctx_error(ctx, LP_ETYPE, 0, "%s needs a float dtype, got %s", fn, lp_dtype_name(dt));
  return LP_OK;
}

lp_status lp_rand(lp_ctx *ctx, lp_dtype dt, int ndim, const int64_t *shape, lp_tensor **out) {
  lp_status st;
  int64_t i, n;
  uint64_t seed = ctx->seed, c0;
  *out = NULL;
  if ((st = need_float(ctx, dt, "rand")) != LP_OK) return st;
  if ((st = lp_tensor_empty(ctx, dt, ndim, shape, out)) != LP_OK) return st;
  n = lp_tensor_numel(*out);
  c0 = lp_ctx_reserve_counters(ctx, (uint64_t)n);
  if (dt == LP_F32) {
    float *p = lp_tensor_data(*out);
    #pragma omp parallel for if (n > 65536) num_threads(lp_ctx_threads(ctx))
    for (i = 0; i < n; i++) {
      /* 24 random bits: uniform on [0, 1) exactly representable in float */
      p[i] = (float)(lp_random_u64(seed, c0 + (uint64_t)i) >> 40) * 0x1.0p-24f;
    }
  } else {
    double *p = lp_tensor_data(*out);
    #pragma omp parallel for if (n > 65536) num_threads(lp_ctx_threads(ctx))
    for (i = 0; i < n; i++) p[i] = lp_random_uniform(seed, c0 + (uint64_t)i);
  }
  return LP_OK;
}

lp_status lp_randn(lp_ctx *ctx, lp_dtype dt, int ndim, const int64_t *shape, lp_tensor **out) {
  lp_status st;
  int64_t i, n;
  uint64_t seed = ctx->seed, c0;
  void *data;
  *out = NULL;
  if ((st = need_float(ctx, dt, "randn")) != LP_OK) return st;
  if ((st = lp_tensor_empty(ctx, dt, ndim, shape, out)) != LP_OK) return st;
  n = lp_tensor_numel(*out);
  c0 = lp_ctx_reserve_counters(ctx, 2 * (uint64_t)n);
  data = lp_tensor_data(*out);
  #pragma omp parallel for if (n > 16384) num_threads(lp_ctx_threads(ctx))
  for (i = 0; i < n; i++) {
    /* Box-Muller on (0, 1] x [0, 1): u1 > 0 keeps log finite */
    double u1 = 1.0 - lp_random_uniform(seed, c0 + 2 * (uint64_t)i);
    double u2 = lp_random_uniform(seed, c0 + 2 * (uint64_t)i + 1);
    double z = sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2);
    if (dt == LP_F32) ((float *)data)[i] = (float)z; else ((double *)data)[i] = z;
  }
  return LP_OK;
}

lp_status lp_randint(lp_ctx *ctx, int64_t lo, int64_t hi, lp_dtype dt, int ndim,
                     const int64_t *shape, lp_tensor **out) {
  lp_status st;
  int64_t i, n;
  uint64_t seed = ctx->seed, c0, range;
  char *data;
  size_t es = lp_dtype_size(dt);
  *out = NULL;
  if (!lp_dtype_is_int(dt))
    return lp_ctx_error(ctx, LP_ETYPE, 0, "randint needs an integer dtype, got %s", lp_dtype_name(dt));
  if (lo >= hi)
    return lp_ctx_error(ctx, LP_EARG, 2, "randint needs low < high, got [%lld, %lld)", (long long)lo, (long long)hi);
  if ((st = lp_tensor_empty(ctx, dt, ndim, shape, out)) != LP_OK) return st;
  n = lp_tensor_numel(*out);
  range = (uint64_t)hi - (uint64_t)lo;
  c0 = lp_ctx_reserve_counters(ctx, (uint64_t)n);
  data = lp_tensor_data(*out);
  for (i = 0; i < n; i++) {
    /* multiply-shift keeps the bias below 2^-64 * range: negligible */
    unsigned __int128 m = (unsigned __int128)lp_random_u64(seed, c0 + (uint64_t)i) * range;
    lp_store_i(dt, data + i * (int64_t)es, (int64_t)((uint64_t)lo + (uint64_t)(m >> 64)));
  }
  return LP_OK;
}

lp_status lp_bernoulli(lp_ctx *ctx, const lp_tensor *p, lp_dtype dt, lp_tensor **out) {
  lp_status st;
  int64_t i, n;
  uint64_t seed = ctx->seed, c0;
  char *data;
  size_t es = lp_dtype_size(dt);
  *out = NULL;
  n = lp_tensor_numel(p);
  for (i = 0; i < n; i++) {
    double q = lp_scalar_f(lp_tensor_get_flat(p, i));
    if (!(q >= 0 && q <= 1))
      return lp_ctx_error(ctx, LP_EARG, 1, "probabilities must lie in [0, 1], got %g", q);
  }
  if ((st = lp_tensor_empty(ctx, dt, lp_tensor_ndim(p), lp_tensor_shape(p), out)) != LP_OK) return st;
  c0 = lp_ctx_reserve_counters(ctx, (uint64_t)n);
  data = lp_tensor_data(*out);
  for (i = 0; i < n; i++) {
    double q = lp_scalar_f(lp_tensor_get_flat(p, i));
    lp_store_i(dt, data + i * (int64_t)es, lp_random_uniform(seed, c0 + (uint64_t)i) < q);
  }
  return LP_OK;
}

lp_status lp_bernoulli_scalar(lp_ctx *ctx, double p, lp_dtype dt, int ndim, const int64_t *shape,
                              lp_tensor **out) {
  lp_status st;
  int64_t i, n;
  uint64_t seed = ctx->seed, c0;
  char *data;
  size_t es = lp_dtype_size(dt);
  *out = NULL;
  if (!(p >= 0 && p <= 1))
    return lp_ctx_error(ctx, LP_EARG, 1, "probability must lie in [0, 1], got %g", p);
  if ((st = lp_tensor_empty(ctx, dt, ndim, shape, out)) != LP_OK) return st;
  n = lp_tensor_numel(*out);
  c0 = lp_ctx_reserve_counters(ctx, (uint64_t)n);
  data = lp_tensor_data(*out);
  if (es == 1) {
    #pragma omp parallel for if (n > 65536) num_threads(lp_ctx_threads(ctx))
    for (i = 0; i < n; i++) data[i] = lp_random_uniform(seed, c0 + (uint64_t)i) < p;
  } else {
    for (i = 0; i < n; i++) lp_store_i(dt, data + i * (int64_t)es, lp_random_uniform(seed, c0 + (uint64_t)i) < p);
  }
  return LP_OK;
}
