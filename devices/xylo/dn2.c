/*
** devices/xylo/dn2.c -- Xylo Audio 2 divisive normalisation (declared in
** afe.h; reference/xylo.md §11.2), bit-exact with the reference simulation,
** its time arithmetic included.
** Owns: frame counting (E), the low-pass M, the LFSR pulse train or the
** pass-through of events, the local-clock expansion, the counter IAF with
** modulus M + 1, and the rasterisation back to dt.
** Not here: options, defaults and messages (devices/xylo/dn.lua).
**
** The reference works with float event times; to give the same bins this
** file does the same float64 operations in the same order:
**   input event time   r·dt + dt/2            (an event per count)
**   frame of an event  floor(time / frame_dt), frames = ceil(T·dt / frame_dt)
**   ticks per frame    ceil(frame_dt / dt)
**   output time        i·(dt / p_local) + f·frame_dt   (sub-tick i of frame f)
**   output bin         floor(time / dt), kept when time < frames·frame_dt,
**                      bins = ceil(frames·frame_dt / dt)
** The IAF counts pulses modulo M + 1 and emits at a sub-tick where the
** counter value decreases (wraps): a step that adds a multiple of M + 1
** emits nothing and one that wraps twice emits once, as in the reference.
** The counter carried from the previous frame (or call) enters only the
** first comparison of a frame: the frame's count restarts at 0 (the
** reference's concatenate([IAF], cumsum(pulses)) % (M + 1)).
*/
#include "afe.h"
#include <math.h>
#include <string.h>

/* no a·b + c contraction: -std=c11 builds with -ffp-contract=off */

void lp_dn2_lfsr10(int32_t code[1023]) {
  int32_t s = 0;
  int i;
  for (i = 0; i < 1023; i++) {
    int nb;
    code[i] = s;
    nb = 1 - (((s >> 9) & 1) ^ ((s >> 6) & 1));
    s = ((s << 1) & 1023) | nb;
  }
}

static lp_status as_i64(lp_ctx *ctx, const lp_tensor *t, lp_tensor **out) {
  if (lp_tensor_dtype(t) == LP_I64) return lp_tensor_contiguous(ctx, (lp_tensor *)t, out);
  return lp_tensor_astype(ctx, t, LP_I64, out);
}

lp_status lp_dn2_evolve(lp_ctx *ctx, const lp_tensor *input, const lp_dn2_params *p,
                        lp_dn2_state *st, lp_tensor **out, lp_tensor **rec_E, lp_tensor **rec_M) {
  lp_tensor *xc = NULL, *r = NULL, *rE = NULL, *rM = NULL;
  lp_status s = LP_OK;
  int64_t B, T, n, nf, cpf, nbins, b, t, f, i, shape[3];
  int64_t *E = NULL, *M = NULL, *Mst = NULL, *iaf = NULL, *iaf0 = NULL, lidx0 = st->lfsr_index, lidx_final = 0;
  size_t ebytes = 0;
  const double dt = p->dt, fdt = p->frame_dt;
  int half = p->p_local / 2, ch;
  *out = NULL;
  if (rec_E) *rec_E = NULL;
  if (rec_M) *rec_M = NULL;
  if (lp_tensor_ndim(input) != 3 || lp_tensor_size(input, 2) != p->n)
    return lp_ctx_error(ctx, LP_ESHAPE, 1, "expected input counts (B, T, %d)", p->n);
  if (lp_dtype_is_float(lp_tensor_dtype(input))) {
    /* floats must hold whole counts */
    lp_tensor *f64 = NULL;
    if ((s = lp_tensor_astype(ctx, input, LP_F64, &f64)) != LP_OK) return s;
    for (i = 0; i < lp_tensor_numel(f64); i++) {
      double v = ((const double *)lp_tensor_data(f64))[i];
      if (v != floor(v)) { lp_tensor_release(f64); return lp_ctx_error(ctx, LP_EARG, 1, "input counts must be whole numbers"); }
    }
    lp_tensor_release(f64);
  }
  if ((s = as_i64(ctx, input, &xc)) != LP_OK) return s;
  B = lp_tensor_size(xc, 0); T = lp_tensor_size(xc, 1); n = p->n;
  for (i = 0; i < B * T * n; i++)
    if (((const int64_t *)lp_tensor_data(xc))[i] < 0) { s = lp_ctx_error(ctx, LP_EARG, 1, "input counts must be >= 0"); goto done; }
  nf = (int64_t)ceil(((double)T * dt) / fdt);
  if (T == 0) nf = 0;
  cpf = (int64_t)ceil(fdt / dt);
  nbins = (int64_t)ceil((double)nf * fdt / dt);
  if (nf < 0) nf = 0;
  if (nbins < 0) nbins = 0;
  shape[0] = B; shape[1] = nbins; shape[2] = n;
  if ((s = lp_tensor_new(ctx, LP_I32, 3, shape, &r)) != LP_OK) goto done;
  shape[1] = nf;
  if (rec_E && (s = lp_tensor_new(ctx, LP_I64, 3, shape, &rE)) != LP_OK) goto done;
  if (rec_M && (s = lp_tensor_new(ctx, LP_I64, 3, shape, &rM)) != LP_OK) goto done;
  ebytes = (size_t)(nf > 0 ? nf : 1) * (size_t)n * sizeof(int64_t);
  E = lp_ctx_alloc(ctx, ebytes);
  M = lp_ctx_alloc(ctx, ebytes);
  Mst = lp_ctx_alloc(ctx, (size_t)n * sizeof(int64_t));
  iaf = lp_ctx_alloc(ctx, (size_t)n * sizeof(int64_t));
  iaf0 = lp_ctx_alloc(ctx, 2 * (size_t)n * sizeof(int64_t));   /* the initial M and IAF of every row */
  if (!E || !M || !Mst || !iaf || !iaf0) { s = LP_ENOMEM; goto done; }
  memcpy(iaf0, st->M, (size_t)n * sizeof(int64_t));
  memcpy(iaf0 + n, st->iaf, (size_t)n * sizeof(int64_t));
  for (b = 0; b < B; b++) {
    const int64_t *xv = (const int64_t *)lp_tensor_data(xc) + b * T * n;
    int32_t *ov = (int32_t *)lp_tensor_data(r) + b * nbins * n;
    int64_t lidx = lidx0;
    memcpy(Mst, iaf0, (size_t)n * sizeof(int64_t));
    memcpy(iaf, iaf0 + n, (size_t)n * sizeof(int64_t));
    /* (1) events per frame, clipped */
    memset(E, 0, ebytes);
    for (t = 0; t < T; t++) {
      double tm = (double)t * dt + dt / 2;
      int64_t fr = (int64_t)floor(tm / fdt);
      if (fr < 0 || fr >= nf) continue;
      for (ch = 0; ch < n; ch++) E[fr * n + ch] += xv[t * n + ch];
    }
    for (i = 0; i < nf * n; i++) {
      int64_t cap = (int64_t)1 << p->bits_counter;
      if (E[i] > cap) E[i] = cap;
    }
    /* (2) low-pass, clipped to bits_lowpass */
    for (f = 0; f < nf; f++)
      for (ch = 0; ch < n; ch++) {
        int64_t e = E[f * n + ch], m = f == 0 ? Mst[ch] : M[(f - 1) * n + ch], v;
        int sh = p->bits_shift_lowpass;
        if (p->overflow_protect) v = (e >> sh) + m - (m >> sh);
        else v = (e + (m << sh) - m) >> sh;
        M[f * n + ch] = v;
      }
    for (i = 0; i < nf * n; i++) {
      int64_t cap = ((int64_t)1 << p->bits_lowpass) - 1;
      if (M[i] < 0) M[i] = 0;
      if (M[i] > cap) M[i] = cap;
    }
    /* (3)-(6) pulses, local clock, counter IAF, raster */
    for (f = 0; f < nf; f++) {
      for (ch = 0; ch < n; ch++) {
        int64_t thr = M[f * n + ch] + 1, cum = 0, prev = iaf[ch] % thr, k;
        if (prev < 0) prev += thr;
        for (k = 0; k < cpf; k++) {
          int64_t pulse, sub;
          if (p->use_lfsr) {
            int64_t code = p->code_lfsr[(lidx + f * cpf + k) % p->ncode];
            pulse = E[f * n + ch] >= code;
          } else {
            int64_t tt = f * cpf + k;
            pulse = tt < T ? xv[tt * n + ch] : 0;
          }
          for (sub = 0; sub < p->p_local; sub++) {
            int64_t v;
            if (sub < half) cum += pulse;
            v = cum % thr;
            if (v < prev) {
              int64_t idx = k * p->p_local + sub;
              double tm = (double)idx * (dt / (double)p->p_local) + (double)f * fdt;
              if (tm < (double)nf * fdt) {
                int64_t bin = (int64_t)floor(tm / dt);
                if (bin >= 0 && bin < nbins) ov[bin * n + ch]++;
              }
            }
            prev = v;
          }
        }
        /* as the reference (concatenate([IAF], cumsum(pulses)) % thr): the carried
           counter enters the first comparison only; the frame's count starts at 0 */
        iaf[ch] = cum % thr;
      }
      if (lp_ctx_interrupted(ctx)) { s = lp_ctx_check_interrupt(ctx); goto done; }
    }
    if (p->use_lfsr && p->ncode > 0) lidx = (lidx + cpf * nf) % p->ncode;
    if (rE) memcpy((int64_t *)lp_tensor_data(rE) + b * nf * n, E, (size_t)(nf * n) * sizeof(int64_t));
    if (rM) memcpy((int64_t *)lp_tensor_data(rM) + b * nf * n, M, (size_t)(nf * n) * sizeof(int64_t));
    if (b == 0) {
      if (nf > 0) memcpy(st->M, M + (nf - 1) * n, (size_t)n * sizeof(int64_t));
      memcpy(st->iaf, iaf, (size_t)n * sizeof(int64_t));
      lidx_final = lidx;
    }
  }
  if (B > 0) st->lfsr_index = lidx_final;
  *out = r; r = NULL;
  if (rec_E) { *rec_E = rE; rE = NULL; }
  if (rec_M) { *rec_M = rM; rM = NULL; }
done:
  if (E) lp_ctx_dealloc(ctx, E, ebytes);
  if (M) lp_ctx_dealloc(ctx, M, ebytes);
  if (Mst) lp_ctx_dealloc(ctx, Mst, (size_t)n * sizeof(int64_t));
  if (iaf) lp_ctx_dealloc(ctx, iaf, (size_t)n * sizeof(int64_t));
  if (iaf0) lp_ctx_dealloc(ctx, iaf0, 2 * (size_t)n * sizeof(int64_t));
  lp_tensor_release(xc);
  lp_tensor_release(r); lp_tensor_release(rE); lp_tensor_release(rM);
  return s;
}
