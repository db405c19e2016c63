/*
** core/src/norm.c -- batch normalisation over (R, C, S), forward and
** backward side by side, with its autodiff node.
** Owns: argument checks, the per-channel statistics (mean, then the
** biased variance about it: two passes, sums in double), the normalised
** output, the backward's two passes (per-channel sums of dy and dy·x̂,
** then dx), the gradients of the per-channel weight and bias.
** Not here: running statistics, train/eval modes, tdBN's alpha·v_threshold
** (stdlib/limpet/nn/batchnorm.lua passes it as gain); the Lua face
** (lua/l_conv.c).
** Why a fused op: nn.BatchNorm written with broadcast tensor ops made
** seven passes over (B, T, C, H, W) forward and as many backward, 17 % of
** the CNN example's CPU time with batch norm on (perf, 2026-12-08); here
** the forward reads x twice and writes y once, the backward reads x and dy
** twice and writes dx once.
** Formulas (M = R·S values per channel, x̂ = (x - mean)·istd, istd =
** 1/sqrt(var + eps), g = gain·w):
**   y  = g·x̂ + b
**   db = Σ dy,  dw = gain·Σ dy·x̂
**   dx = g·istd·(dy - Σdy/M - x̂·Σ(dy·x̂)/M)
** The plain reference is the same computation with tensor ops
** (spec/nn/batchnorm_spec.lua checks the two against each other).
*/
#include <math.h>
#include <string.h>

#include "tensor_impl.h"
#include "limpet/autograd.h"
#include "limpet/norm.h"

#define TRY(x) do { if ((st = (x)) != LP_OK) goto done; } while (0)

typedef struct bgeom { int64_t R, C, S; } bgeom;

/* x viewed as (R, C, S) about dimension cdim */
static void bgeom_of(const lp_tensor *x, int cdim, bgeom *g) {
  int i;
  g->R = g->S = 1;
  g->C = x->shape[cdim];
  for (i = 0; i < cdim; i++) g->R *= x->shape[i];
  for (i = cdim + 1; i < x->ndim; i++) g->S *= x->shape[i];
}

static lp_status check(lp_ctx *ctx, const lp_tensor *x, int cdim, const lp_tensor *w, const lp_tensor *b,
                       double eps, double gain, bgeom *g) {
  int i;
  if (!lp_dtype_is_float(x->dtype)) return lp_ctx_error(ctx, LP_ETYPE, 1, "input must be float32 or float64");
  if (cdim < 0 || cdim >= x->ndim)
    return lp_ctx_error(ctx, LP_EARG, 2, "channel dimension %d is out of range for %d dims", cdim + 1, x->ndim);
  bgeom_of(x, cdim, g);
  if (g->R * g->C * g->S == 0) return lp_ctx_error(ctx, LP_ESHAPE, 1, "input is empty");
  for (i = 0; i < 2; i++) {
    const lp_tensor *p = i ? b : w;
    if (!p) continue;
    if (p->ndim != 1 || p->shape[0] != g->C)
      return lp_ctx_error(ctx, LP_ESHAPE, 3 + i, "%s must be a vector of %lld (the channels)", i ? "bias" : "weight",
                          (long long)g->C);
    if (p->dtype != x->dtype) return lp_ctx_error(ctx, LP_ETYPE, 3 + i, "%s must have the input's dtype", i ? "bias" : "weight");
  }
  if (!(eps >= 0) || !isfinite(eps)) return lp_ctx_error(ctx, LP_EARG, 5, "eps must be a finite number >= 0");
  if (!(gain > 0) || !isfinite(gain)) return lp_ctx_error(ctx, LP_EARG, 5, "gain must be a finite number > 0");
  return LP_OK;
}

/* One row's sum and dot products, eight partial sums (a fixed order, so the
   results do not depend on alignment; the compiler keeps them in vector
   lanes). */
#define DEFINE_NORM(REAL, SFX)                                                                  \
static double rsum_##SFX(const REAL *restrict r, int64_t n) {                                   \
  REAL a[8] = { 0 };                                                                            \
  int64_t i, k;                                                                                 \
  double s = 0;                                                                                 \
  for (i = 0; i + 8 <= n; i += 8) for (k = 0; k < 8; k++) a[k] += r[i + k];                     \
  for (; i < n; i++) s += r[i];                                                                 \
  return s + ((((double)a[0] + a[1]) + ((double)a[2] + a[3])) + (((double)a[4] + a[5]) + ((double)a[6] + a[7]))); \
}                                                                                               \
/* Σ (r - m)², Σ d·(r - m) (d NULL: the former) */                                             \
static double rdot_##SFX(const REAL *restrict r, const REAL *restrict d, REAL m, int64_t n) {   \
  REAL a[8] = { 0 };                                                                            \
  int64_t i, k;                                                                                 \
  double s = 0;                                                                                 \
  if (d) {                                                                                      \
    for (i = 0; i + 8 <= n; i += 8) for (k = 0; k < 8; k++) a[k] += d[i + k] * (r[i + k] - m);  \
    for (; i < n; i++) s += (double)d[i] * (r[i] - m);                                          \
  } else {                                                                                      \
    for (i = 0; i + 8 <= n; i += 8) for (k = 0; k < 8; k++) a[k] += (r[i + k] - m) * (r[i + k] - m); \
    for (; i < n; i++) s += (double)(r[i] - m) * (r[i] - m);                                    \
  }                                                                                             \
  return s + ((((double)a[0] + a[1]) + ((double)a[2] + a[3])) + (((double)a[4] + a[5]) + ((double)a[6] + a[7]))); \
}                                                                                               \
/* mean and biased variance per channel (double), two passes */                                 \
static void stats_##SFX(const bgeom *g, const REAL *x, double *mean, double *var) {             \
  int64_t r, c;                                                                                 \
  const double M = (double)(g->R * g->S);                                                       \
  for (c = 0; c < g->C; c++) mean[c] = var[c] = 0;                                              \
  for (r = 0; r < g->R; r++) for (c = 0; c < g->C; c++)                                         \
    mean[c] += rsum_##SFX(x + (r * g->C + c) * g->S, g->S);                                     \
  for (c = 0; c < g->C; c++) mean[c] /= M;                                                      \
  for (r = 0; r < g->R; r++) for (c = 0; c < g->C; c++)                                         \
    var[c] += rdot_##SFX(x + (r * g->C + c) * g->S, NULL, (REAL)mean[c], g->S);                 \
  for (c = 0; c < g->C; c++) var[c] /= M;                                                       \
}                                                                                               \
/* y = x·sc_c + sh_c */                                                                         \
static void affine_##SFX(const bgeom *g, const REAL *x, const double *sc, const double *sh, REAL *y) { \
  int64_t r, c, i;                                                                              \
  for (r = 0; r < g->R; r++) for (c = 0; c < g->C; c++) {                                       \
    const REAL *restrict xr = x + (r * g->C + c) * g->S;                                        \
    REAL *restrict yr = y + (r * g->C + c) * g->S;                                              \
    const REAL a = (REAL)sc[c], s = (REAL)sh[c];                                                \
    for (i = 0; i < g->S; i++) yr[i] = xr[i] * a + s;                                           \
  }                                                                                             \
}                                                                                               \
/* backward: per-channel Σdy (sdy) and Σdy·(x - mean) (sdx), then                               \
   dx = A·dy + B·x + D with A = g·istd, B = -A·istd²·sdx/M,                                     \
   D = A·(istd²·sdx·mean - sdy)/M */                                                            \
static void back_##SFX(const bgeom *g, const REAL *x, const REAL *dy, const double *mean,       \
                       const double *istd, const double *gc, double *sdy, double *sdx, REAL *dx) { \
  int64_t r, c, i;                                                                              \
  const double M = (double)(g->R * g->S);                                                       \
  for (c = 0; c < g->C; c++) sdy[c] = sdx[c] = 0;                                               \
  for (r = 0; r < g->R; r++) for (c = 0; c < g->C; c++) {                                       \
    const int64_t o = (r * g->C + c) * g->S;                                                    \
    sdy[c] += rsum_##SFX(dy + o, g->S);                                                         \
    sdx[c] += rdot_##SFX(x + o, dy + o, (REAL)mean[c], g->S);                                   \
  }                                                                                             \
  if (!dx) return;                                                                              \
  for (r = 0; r < g->R; r++) for (c = 0; c < g->C; c++) {                                       \
    const int64_t o = (r * g->C + c) * g->S;                                                    \
    const double A = gc[c] * istd[c], i2 = istd[c] * istd[c];                                   \
    const REAL a = (REAL)A, bb = (REAL)(-A * i2 * sdx[c] / M),                                  \
               d = (REAL)(A * (i2 * sdx[c] * mean[c] - sdy[c]) / M);                            \
    const REAL *restrict xr = x + o, *restrict dr = dy + o;                                     \
    REAL *restrict out = dx + o;                                                                \
    for (i = 0; i < g->S; i++) out[i] = a * dr[i] + bb * xr[i] + d;                             \
  }                                                                                             \
}
DEFINE_NORM(float, f)
DEFINE_NORM(double, d)

/* per-channel gain·w_c (w NULL: gain; any stride) */
static void gains(const lp_tensor *w, double gain, int64_t C, double *gc) {
  int64_t c;
  for (c = 0; c < C; c++) gc[c] = gain * (w ? lp_scalar_f(lp_tensor_get_flat(w, c)) : 1);
}
static void put(lp_tensor *t, int64_t i, double v) {
  if (t->dtype == LP_F32) ((float *)lp_tensor_data(t))[i] = (float)v;
  else ((double *)lp_tensor_data(t))[i] = v;
}

/* the forward; *stats (if not NULL) receives a float64 (2, C) tensor: mean, istd */
static lp_status bn_run(lp_ctx *ctx, const lp_tensor *x, int cdim, const lp_tensor *w, const lp_tensor *b,
                        double eps, double gain, lp_tensor **y, lp_tensor **mean, lp_tensor **var,
                        lp_tensor **xcout, lp_tensor **stats) {
  bgeom g;
  lp_tensor *xc = NULL, *st2 = NULL, *tmp = NULL;
  double *mu, *iv, *sc, *sh;
  int64_t c, two[2], n3;
  lp_status st;
  *y = *mean = *var = NULL;
  if ((st = check(ctx, x, cdim, w, b, eps, gain, &g))) return st;
  TRY(lp_tensor_contiguous(ctx, (lp_tensor *)x, &xc));
  two[0] = 2; two[1] = g.C;
  TRY(lp_tensor_empty(ctx, LP_F64, 2, two, &st2));
  mu = lp_tensor_data(st2); iv = mu + g.C;
  n3 = 3 * g.C;
  TRY(lp_tensor_empty(ctx, LP_F64, 1, &n3, &tmp));    /* scale, shift (variance first), gains */
  sc = lp_tensor_data(tmp);
  sh = sc + g.C;
  if (x->dtype == LP_F32) stats_f(&g, lp_tensor_data(xc), mu, sh);
  else stats_d(&g, lp_tensor_data(xc), mu, sh);
  TRY(lp_tensor_empty(ctx, x->dtype, 1, &g.C, mean));
  TRY(lp_tensor_empty(ctx, x->dtype, 1, &g.C, var));
  gains(w, gain, g.C, sh + g.C);
  for (c = 0; c < g.C; c++) {
    put(*mean, c, mu[c]);
    put(*var, c, sh[c]);
    iv[c] = 1 / sqrt(sh[c] + eps);
    sc[c] = sh[g.C + c] * iv[c];
    sh[c] = (b ? lp_scalar_f(lp_tensor_get_flat(b, c)) : 0) - mu[c] * sc[c];
  }
  TRY(lp_tensor_empty(ctx, x->dtype, x->ndim, x->shape, y));
  if (x->dtype == LP_F32) affine_f(&g, lp_tensor_data(xc), sc, sh, lp_tensor_data(*y));
  else affine_d(&g, lp_tensor_data(xc), sc, sh, lp_tensor_data(*y));
  if (xcout) { *xcout = xc; xc = NULL; }
  if (stats) { *stats = st2; st2 = NULL; }
done:
  lp_tensor_release(tmp);
  lp_tensor_release(xc); lp_tensor_release(st2);
  if (st != LP_OK) {
    lp_tensor_release(*y); lp_tensor_release(*mean); lp_tensor_release(*var);
    *y = *mean = *var = NULL;
  }
  return st;
}

lp_status lp_batch_norm(lp_ctx *ctx, const lp_tensor *x, int cdim, const lp_tensor *w, const lp_tensor *b,
                        double eps, double gain, lp_tensor **y, lp_tensor **mean, lp_tensor **var) {
  return bn_run(ctx, x, cdim, w, b, eps, gain, y, mean, var, NULL, NULL);
}

typedef struct bn_pl { int cdim; double gain; int sx, sstats, sw; } bn_pl;

static lp_status bn_bw(lp_ctx *ctx, lp_node *n, lp_tensor *const *gout, lp_tensor **gin) {
  bn_pl *p = lp_node_payload(n);
  const lp_tensor *x = lp_node_saved(n, p->sx), *s2 = lp_node_saved(n, p->sstats);
  const lp_tensor *w = p->sw >= 0 ? lp_node_saved(n, p->sw) : NULL;
  lp_tensor *gy = NULL, *dx = NULL, *dw = NULL, *db = NULL, *tmp = NULL;
  const double *mu = lp_tensor_data(s2), *iv;
  double *gc, *sdy, *sdx;
  int nin = lp_node_ninputs(n);
  bgeom g;
  int64_t c;
  lp_status st = LP_OK;
  if (!gout[0]) return LP_OK;
  bgeom_of(x, p->cdim, &g);
  iv = mu + g.C;
  /* dy read in place when it is contiguous (it has y's dtype, x's) */
  if (gout[0]->dtype == x->dtype) TRY(lp_tensor_contiguous(ctx, gout[0], &gy));
  else TRY(lp_tensor_astype(ctx, gout[0], x->dtype, &gy));
  c = 3 * g.C;
  TRY(lp_tensor_empty(ctx, LP_F64, 1, &c, &tmp));
  gc = lp_tensor_data(tmp); sdy = gc + g.C; sdx = gc + 2 * g.C;
  gains(w, p->gain, g.C, gc);
  if (lp_node_input_needs_grad(n, 0)) TRY(lp_tensor_empty(ctx, x->dtype, x->ndim, x->shape, &dx));
  if (x->dtype == LP_F32) back_f(&g, lp_tensor_data(x), lp_tensor_data(gy), mu, iv, gc, sdy, sdx, dx ? lp_tensor_data(dx) : NULL);
  else back_d(&g, lp_tensor_data(x), lp_tensor_data(gy), mu, iv, gc, sdy, sdx, dx ? lp_tensor_data(dx) : NULL);
  if (nin > 1 && lp_node_input_needs_grad(n, 1)) {
    TRY(lp_tensor_empty(ctx, x->dtype, 1, &g.C, &dw));
    for (c = 0; c < g.C; c++) put(dw, c, p->gain * sdx[c] * iv[c]);
  }
  if (nin > 2 && lp_node_input_needs_grad(n, 2)) {
    TRY(lp_tensor_empty(ctx, x->dtype, 1, &g.C, &db));
    for (c = 0; c < g.C; c++) put(db, c, sdy[c]);
  }
  gin[0] = dx;
  if (nin > 1) gin[1] = dw;
  if (nin > 2) gin[2] = db;
  dx = dw = db = NULL;
done:
  lp_tensor_release(tmp);
  lp_tensor_release(gy); lp_tensor_release(dx); lp_tensor_release(dw); lp_tensor_release(db);
  return st;
}

lp_status lp_ag_batch_norm(lp_ctx *ctx, const lp_tensor *x, int cdim, const lp_tensor *w, const lp_tensor *b,
                           double eps, double gain, lp_tensor **y, lp_tensor **mean, lp_tensor **var) {
  const lp_tensor *in[3];
  lp_tensor *xc = NULL, *s2 = NULL;
  lp_node *n;
  bn_pl *p;
  int nin;
  lp_status st;
  in[0] = x; in[1] = w; in[2] = b;
  nin = b ? 3 : w ? 2 : 1;
  if (!lp_needs_grad(ctx, nin, in)) return bn_run(ctx, x, cdim, w, b, eps, gain, y, mean, var, NULL, NULL);
  if ((st = bn_run(ctx, x, cdim, w, b, eps, gain, y, mean, var, &xc, &s2))) return st;
  TRY(lp_node_record(ctx, "batch_norm", bn_bw, nin, in, 1, y, sizeof(bn_pl), &n));
  p = lp_node_payload(n);
  p->cdim = cdim; p->gain = gain; p->sw = -1;
  TRY(lp_node_save(ctx, n, xc, &p->sx));
  TRY(lp_node_save(ctx, n, s2, &p->sstats));
  if (w) TRY(lp_node_save(ctx, n, w, &p->sw));
done:
  lp_tensor_release(xc); lp_tensor_release(s2);
  if (st != LP_OK) {
    lp_tensor_release(*y); lp_tensor_release(*mean); lp_tensor_release(*var);
    *y = *mean = *var = NULL;
  }
  return st;
}
