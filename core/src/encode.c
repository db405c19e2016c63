/*
** core/src/encode.c -- spike encoders of the data sets that need random
** draws: the seeded Bernoulli rate encoder. Not here: the deterministic
** encoders (latency, sequential: stdlib/limpet/data/encoders.lua, plain
** tensor ops), the global generator (random.c).
** Draw (s, k) -- time step s, element k of p -- is uniform u from
** lp_random_uniform(lp_random_u64(seed, key), s * numel(p) + k); a spike
** when u < p. Shapes: p (...), out (T, ...).
*/
#include "tensor_impl.h"
#include "limpet/data.h"

lp_status lp_encode_rate(lp_ctx *ctx, const lp_tensor *p, int64_t T, uint64_t seed,
                         uint64_t key, lp_dtype dt, lp_tensor **out) {
  int64_t shape[LP_MAXDIM], n, s, k;
  int nd = lp_tensor_ndim(p), d;
  uint64_t sk = lp_random_u64(seed, key);
  lp_tensor *pc = NULL, *pf = NULL, *o = NULL;
  const float *pv;
  char *ov;
  size_t es = lp_dtype_size(dt);
  lp_status st;
  *out = NULL;
  if (T < 0) return lp_ctx_error(ctx, LP_EARG, 2, "number of steps must be non-negative, got %lld", (long long)T);
  if (nd + 1 > LP_MAXDIM) return lp_ctx_error(ctx, LP_ESHAPE, 1, "too many dims (%d)", nd);
  shape[0] = T;
  for (d = 0; d < nd; d++) shape[d + 1] = lp_tensor_shape(p)[d];
  if ((st = lp_tensor_astype(ctx, p, LP_F32, &pf))) return st;
  if ((st = lp_tensor_contiguous(ctx, pf, &pc))) { lp_tensor_release(pf); return st; }
  lp_tensor_release(pf);
  if ((st = lp_tensor_new(ctx, dt, nd + 1, shape, &o))) { lp_tensor_release(pc); return st; }
  n = lp_tensor_numel(pc);
  pv = lp_tensor_data(pc);
  ov = lp_tensor_data(o);
  for (s = 0; s < T; s++) {
    if ((st = lp_ctx_check_interrupt(ctx))) { lp_tensor_release(pc); lp_tensor_release(o); return st; }
    for (k = 0; k < n; k++) {
      double q = pv[k];
      if (q > 0 && lp_random_uniform(sk, (uint64_t)(s * n + k)) < q)
        lp_store_i(dt, ov + (size_t)(s * n + k) * es, 1);
    }
  }
  lp_tensor_release(pc);
  *out = o;
  return LP_OK;
}
