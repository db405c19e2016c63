/*
** core/src/conv.c -- 2-D convolution (im2col + OpenBLAS GEMM) and sum
** pooling, forward and backward side by side, with their autodiff nodes.
** Owns: shape checks, the im2col / col2im loops, the per-sample, per-group
** GEMMs (samples in parallel over the context's threads, each thread with
** its own column buffer and partial dw/db, reduced after), the plain direct-loop reference (lp_conv2d_ref) the fast path is
** checked against, pooling's window sums and scatter-back.
** Not here: the Lua face (lua/l_conv.c), modules (stdlib/limpet/nn/conv.lua).
** Shapes: x (N, C, H, W), w (O, C/G, KH, KW), y (N, O, OH, OW); per group
** g: Cg = C/G input and Og = O/G output channels, K = Cg·KH·KW rows of the
** column matrix col (K, OH·OW) of one sample.
** Sparse input (under 15 % nonzero, e.g. spikes): an event-driven path
** scatters each active input's weights (forward) and gathers dy into dw
** (backward); dx is the dense col2im path either way.
*/
#include <string.h>
#include <cblas.h>
#ifdef _OPENMP
#include <omp.h>
#else
/* built without OpenMP (the fuzz build): one thread, number 0 */
static inline int omp_get_thread_num(void) { return 0; }
#endif

#include "tensor_impl.h"
#include "limpet/autograd.h"
#include "limpet/conv.h"

#define TRY(x) do { if ((st = (x)) != LP_OK) goto done; } while (0)

typedef struct cgeom {
  int64_t N, C, H, W, O, KH, KW, OH, OW, G, Cg, Og, K, P;
  int64_t sh, sw, ph, pw, dh, dw;
  int threads;     /* samples run in parallel, one GEMM per sample (OpenBLAS single-threaded inside) */
} cgeom;

static lp_status geom(lp_ctx *ctx, const lp_tensor *x, const lp_tensor *w, const lp_tensor *b,
                      const lp_conv2d_opts *o, cgeom *g) {
  const int64_t *xs = x->shape, *ws = w->shape;
  int i;
  if (x->ndim != 4) return lp_ctx_error(ctx, LP_ESHAPE, 1, "input must be (N, C, H, W), got %d dims", x->ndim);
  if (w->ndim != 4) return lp_ctx_error(ctx, LP_ESHAPE, 2, "weight must be (O, C/groups, KH, KW), got %d dims", w->ndim);
  if (!lp_dtype_is_float(x->dtype) || x->dtype != w->dtype)
    return lp_ctx_error(ctx, LP_ETYPE, 2, "input and weight must be float32 or float64 of one dtype");
  if (b && (b->dtype != x->dtype || b->ndim != 1 || b->shape[0] != ws[0]))
    return lp_ctx_error(ctx, LP_ESHAPE, 3, "bias must be (%lld,) of the input's dtype", (long long)ws[0]);
  for (i = 0; i < 2; i++) {
    if (o->stride[i] < 1 || o->dilation[i] < 1 || o->padding[i] < 0)
      return lp_ctx_error(ctx, LP_EARG, 4, "stride and dilation must be >= 1, padding >= 0");
  }
  if (o->groups < 1 || xs[1] % o->groups || ws[0] % o->groups || ws[1] * o->groups != xs[1])
    return lp_ctx_error(ctx, LP_ESHAPE, 2, "weight (%lld, %lld, ...) with groups %lld does not fit %lld input channels",
                        (long long)ws[0], (long long)ws[1], (long long)o->groups, (long long)xs[1]);
  g->N = xs[0]; g->C = xs[1]; g->H = xs[2]; g->W = xs[3];
  g->O = ws[0]; g->KH = ws[2]; g->KW = ws[3];
  g->sh = o->stride[0]; g->sw = o->stride[1]; g->ph = o->padding[0]; g->pw = o->padding[1];
  g->dh = o->dilation[0]; g->dw = o->dilation[1];
  g->OH = (g->H + 2 * g->ph - g->dh * (g->KH - 1) - 1) / g->sh + 1;
  g->OW = (g->W + 2 * g->pw - g->dw * (g->KW - 1) - 1) / g->sw + 1;
  if (g->H + 2 * g->ph - g->dh * (g->KH - 1) - 1 < 0 || g->W + 2 * g->pw - g->dw * (g->KW - 1) - 1 < 0)
    return lp_ctx_error(ctx, LP_ESHAPE, 1, "input %lldx%lld is smaller than the (dilated) kernel",
                        (long long)g->H, (long long)g->W);
  g->G = o->groups; g->Cg = g->C / g->G; g->Og = g->O / g->G;
  g->K = g->Cg * g->KH * g->KW; g->P = g->OH * g->OW;
  g->threads = lp_ctx_threads(ctx);
  if (g->threads < 1) g->threads = 1;
  if (g->threads > g->N) g->threads = g->N > 0 ? (int)g->N : 1;
  return LP_OK;
}

/* ---- typed kernels (float and double) ------------------------------------ */
/* the output columns ow whose input column iw = ow sw - pw + kw dw lies in
   [0, W): [*lo, *hi) (so im2col / col2im test no bounds per element) */
static void ow_range(const cgeom *g, int64_t kw, int64_t *lo, int64_t *hi) {
  int64_t off = kw * g->dw - g->pw, a, b;          /* iw = ow sw + off */
  a = off >= 0 ? 0 : (-off + g->sw - 1) / g->sw;
  b = (g->W - 1 - off) < 0 ? 0 : (g->W - 1 - off) / g->sw + 1;
  if (b > g->OW) b = g->OW;
  if (a > b) a = b;
  *lo = a; *hi = b;
}
#define DEFINE_CONV(REAL, SFX, GEMM)                                                          \
static void im2col_##SFX(const cgeom *g, const REAL *x, REAL *col) {                          \
  int64_t c, kh, kw, oh, ow;                                                                  \
  for (c = 0; c < g->Cg; c++) for (kh = 0; kh < g->KH; kh++) for (kw = 0; kw < g->KW; kw++) { \
    REAL *row = col + ((c * g->KH + kh) * g->KW + kw) * g->P;                                 \
    int64_t lo, hi, off = kw * g->dw - g->pw;                                                 \
    ow_range(g, kw, &lo, &hi);                                                                \
    for (oh = 0; oh < g->OH; oh++) {                                                          \
      int64_t ih = oh * g->sh - g->ph + kh * g->dh;                                           \
      REAL *r = row + oh * g->OW;                                                             \
      const REAL *xr;                                                                         \
      if (ih < 0 || ih >= g->H) { for (ow = 0; ow < g->OW; ow++) r[ow] = 0; continue; }       \
      xr = x + (c * g->H + ih) * g->W;                                                        \
      for (ow = 0; ow < lo; ow++) r[ow] = 0;                                                  \
      if (g->sw == 1 && hi > lo) memcpy(r + lo, xr + lo + off, sizeof *r * (size_t)(hi - lo)); \
      else for (ow = lo; ow < hi; ow++) r[ow] = xr[ow * g->sw + off];                         \
      for (ow = hi; ow < g->OW; ow++) r[ow] = 0;                                              \
    }                                                                                         \
  }                                                                                           \
}                                                                                             \
static void col2im_##SFX(const cgeom *g, const REAL *col, REAL *dx) {                         \
  int64_t c, kh, kw, oh, ow;                                                                  \
  for (c = 0; c < g->Cg; c++) for (kh = 0; kh < g->KH; kh++) for (kw = 0; kw < g->KW; kw++) { \
    const REAL *row = col + ((c * g->KH + kh) * g->KW + kw) * g->P;                           \
    int64_t lo, hi, off = kw * g->dw - g->pw;                                                 \
    ow_range(g, kw, &lo, &hi);                                                                \
    for (oh = 0; oh < g->OH; oh++) {                                                          \
      int64_t ih = oh * g->sh - g->ph + kh * g->dh;                                           \
      const REAL *r = row + oh * g->OW;                                                       \
      REAL *dr;                                                                               \
      if (ih < 0 || ih >= g->H) continue;                                                     \
      dr = dx + (c * g->H + ih) * g->W;                                                       \
      for (ow = lo; ow < hi; ow++) dr[ow * g->sw + off] += r[ow];                             \
    }                                                                                         \
  }                                                                                           \
}                                                                                             \
/* y = w . col (+ b), per sample and group */                                                 \
static void fwd_##SFX(const cgeom *g, const REAL *x, const REAL *w, const REAL *b, REAL *y,   \
                      REAL *cols) {                                                           \
  int64_t n;                                                                                  \
  _Pragma("omp parallel for schedule(static) num_threads(g->threads) if (g->threads > 1 && g->N > 1)") \
  for (n = 0; n < g->N; n++) {                                                                \
  int64_t gi, o, p;                                                                           \
  REAL *col = cols + (int64_t)omp_get_thread_num() * g->K * g->P;                             \
  for (gi = 0; gi < g->G; gi++) {                                                             \
    const REAL *xs = x + (n * g->C + gi * g->Cg) * g->H * g->W;                               \
    REAL *ys = y + (n * g->O + gi * g->Og) * g->P;                                            \
    im2col_##SFX(g, xs, col);                                                                 \
    GEMM(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)g->Og, (int)g->P, (int)g->K, 1,      \
         w + gi * g->Og * g->K, (int)g->K, col, (int)g->P, 0, ys, (int)g->P);                 \
    if (b) for (o = 0; o < g->Og; o++) for (p = 0; p < g->P; p++) ys[o * g->P + p] += b[gi * g->Og + o]; \
  }                                                                                           \
  }                                                                                           \
}                                                                                             \
/* dx += col2im(w^T . dy); dw += dy . col^T; db += sum dy */                                  \
static void bwd_##SFX(const cgeom *g, const REAL *x, const REAL *w, const REAL *dy, REAL *dx,  \
                      REAL *dw0, REAL *db0, REAL *cols, REAL *dws, REAL *dbs) {               \
  int64_t n, t, i;                                                                            \
  _Pragma("omp parallel for schedule(static) num_threads(g->threads) if (g->threads > 1 && g->N > 1)") \
  for (n = 0; n < g->N; n++) {                                                                \
  int64_t gi, o, p;                                                                           \
  const int th = omp_get_thread_num();                                                        \
  REAL *col = cols + (int64_t)th * g->K * g->P;                                               \
  REAL *dw = dw0 ? dws + (int64_t)th * g->O * g->K : NULL;                                    \
  REAL *db = db0 ? dbs + (int64_t)th * g->O : NULL;                                           \
  for (gi = 0; gi < g->G; gi++) {                                                             \
    const REAL *dys = dy + (n * g->O + gi * g->Og) * g->P;                                    \
    if (dw) {                                                                                 \
      im2col_##SFX(g, x + (n * g->C + gi * g->Cg) * g->H * g->W, col);                        \
      GEMM(CblasRowMajor, CblasNoTrans, CblasTrans, (int)g->Og, (int)g->K, (int)g->P, 1, dys,  \
           (int)g->P, col, (int)g->P, 1, dw + gi * g->Og * g->K, (int)g->K);                  \
    }                                                                                         \
    if (db) for (o = 0; o < g->Og; o++) {   /* four partial sums: the adds pipeline */       \
      const REAL *r = dys + o * g->P;                                                         \
      REAL s0 = 0, s1 = 0, s2 = 0, s3 = 0;                                                    \
      for (p = 0; p + 4 <= g->P; p += 4) { s0 += r[p]; s1 += r[p + 1]; s2 += r[p + 2]; s3 += r[p + 3]; } \
      for (; p < g->P; p++) s0 += r[p];                                                       \
      db[gi * g->Og + o] += (s0 + s1) + (s2 + s3);                                            \
    }                                                                                         \
    if (dx) {                                                                                 \
      GEMM(CblasRowMajor, CblasTrans, CblasNoTrans, (int)g->K, (int)g->P, (int)g->Og, 1,       \
           w + gi * g->Og * g->K, (int)g->K, dys, (int)g->P, 0, col, (int)g->P);              \
      col2im_##SFX(g, col, dx + (n * g->C + gi * g->Cg) * g->H * g->W);                       \
    }                                                                                         \
  }                                                                                           \
  }                                                                                           \
  for (t = 0; t < g->threads; t++) {        /* reduce the per-thread partial sums */          \
    if (dw0) for (i = 0; i < g->O * g->K; i++) dw0[i] += dws[t * g->O * g->K + i];            \
    if (db0) for (i = 0; i < g->O; i++) db0[i] += dbs[t * g->O + i];                          \
  }                                                                                           \
}                                                                                             \
/* the plain reference: one output element at a time */                                     \
static void ref_##SFX(const cgeom *g, const REAL *x, const REAL *w, const REAL *b, REAL *y) { \
  int64_t n, o, oh, ow, c, kh, kw;                                                            \
  for (n = 0; n < g->N; n++) for (o = 0; o < g->O; o++) {                                     \
    int64_t gi = o / g->Og;                                                                   \
    for (oh = 0; oh < g->OH; oh++) for (ow = 0; ow < g->OW; ow++) {                           \
      double s = b ? b[o] : 0;                                                                \
      for (c = 0; c < g->Cg; c++) for (kh = 0; kh < g->KH; kh++) for (kw = 0; kw < g->KW; kw++) { \
        int64_t ih = oh * g->sh - g->ph + kh * g->dh, iw = ow * g->sw - g->pw + kw * g->dw;  \
        if (ih < 0 || ih >= g->H || iw < 0 || iw >= g->W) continue;                           \
        s += (double)x[((n * g->C + gi * g->Cg + c) * g->H + ih) * g->W + iw] *              \
             w[((o * g->Cg + c) * g->KH + kh) * g->KW + kw];                                  \
      }                                                                                       \
      y[((n * g->O + o) * g->OH + oh) * g->OW + ow] = (REAL)s;                                \
    }                                                                                         \
  }                                                                                           \
}

DEFINE_CONV(float, f, cblas_sgemm)
DEFINE_CONV(double, d, cblas_dgemm)

/* ---- event-driven path (sparse input) -------------------------------------
   For each nonzero input x[c, ih, iw] of a sample, the outputs it reaches:
   oh = (ih + ph - kh dh) / sh when that divides and lands in range (same for
   w). Tap tables, built once per call, list for every input row ih the
   (kh, oh) pairs that reach an output row (at most KH) and for every input
   column iw the (kw, ow) pairs, so the per-event loop has no divisions or
   range tests. Forward scatters w[:, c, kh, kw] v into a per-thread
   (P, Og) accumulator (position-major, so the Og loop is unit-stride and
   vectorises; a scatter straight into y's (Og, P) layout was 2x slower by
   perf), transposed into y with the bias after each sample; backward
   gathers dy[:, oh, ow] v into dw[:, c, kh, kw] from a (P, Og) transpose of
   the sample's dy (no im2col). wt is w laid out (G, Cg, KH, KW, Og) so the
   Og loop reads one contiguous row. Cost ~ nnz (taps per event) Og + P Og
   per sample, instead of the GEMM's Og K P.
   tap layout (int64): rn[H], rk[H KH], ro[H KH], cn[W], ck[W KW], co[W KW]. */
/* The event loops in an AVX2+FMA build beside the baseline one, picked per
   call by what the CPU reports (__builtin_cpu_supports). Not GCC's
   target_clones("arch=haswell"): its resolver asks for an Intel Haswell by
   model, so AMD CPUs with AVX2 (this project's machines: EPYC) got the
   baseline clone (perf showed ev_visit_f.default). */
#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__)
#define LP_CONV_AVX2 1
#define LP_CONV_TARGET_AVX2 __attribute__((target("avx2,fma")))
static int cpu_has_avx2(void) {
  static int has = -1;            /* a benign race: every thread computes the same value */
  if (has < 0) { __builtin_cpu_init(); has = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"); }
  return has;
}
#else
#define LP_CONV_AVX2 0
#define LP_CONV_TARGET_AVX2
static int cpu_has_avx2(void) { return 0; }
#endif
static int64_t taps_len(const cgeom *g) { return g->H * (1 + 2 * g->KH) + g->W * (1 + 2 * g->KW); }
static void taps_build(const cgeom *g, int64_t *t) {
  int64_t *rn = t, *rk = rn + g->H, *ro = rk + g->H * g->KH;
  int64_t *cn = ro + g->H * g->KH, *ck = cn + g->W, *co = ck + g->W * g->KW;
  int64_t i, k;
  for (i = 0; i < g->H; i++) {
    rn[i] = 0;
    for (k = 0; k < g->KH; k++) {
      int64_t th = i + g->ph - k * g->dh;
      if (th < 0 || th % g->sh || th / g->sh >= g->OH) continue;
      rk[i * g->KH + rn[i]] = k; ro[i * g->KH + rn[i]] = th / g->sh; rn[i]++;
    }
  }
  for (i = 0; i < g->W; i++) {
    cn[i] = 0;
    for (k = 0; k < g->KW; k++) {
      int64_t tw = i + g->pw - k * g->dw;
      if (tw < 0 || tw % g->sw || tw / g->sw >= g->OW) continue;
      ck[i * g->KW + cn[i]] = k; co[i * g->KW + cn[i]] = tw / g->sw; cn[i]++;
    }
  }
}
/* The event list (built once in the forward, saved for the backward's dw):
   for every (sample n, group gi) in order, the nonzero inputs of that
   sample's group, from off[n G + gi] to off[n G + gi + 1]: pos (int32
   triples: channel within the group, ih, iw) and val (the input's value,
   any value: spike counts 0..4 as well as 0/1). Counting first (a
   vectorised count, stopping as soon as it passes the density bound), then
   filling, per sample in parallel, 8 inputs tested at once; a decode table
   (ih of each position in a channel plane) saves a division per event. */
#define DEFINE_EVENT(REAL, SFX)                                                                \
/* nonzero inputs in p[0..len) */                                                              \
static inline __attribute__((always_inline))                                                  \
int64_t ev_count_body_##SFX(const REAL *restrict p, int64_t len) {                             \
  int64_t j, nz = 0;                                                                           \
  int32_t part = 0;                                                                            \
  for (j = 0; j + 1024 <= len; j += 1024) {   /* int32 partial sums: 8-wide compares */       \
    int32_t k; part = 0;                                                                       \
    for (k = 0; k < 1024; k++) part += p[j + k] != 0;                                          \
    nz += part;                                                                                \
  }                                                                                            \
  for (; j < len; j++) nz += p[j] != 0;                                                        \
  return nz;                                                                                   \
}                                                                                              \
/* events of sample n, all groups, written from off[n G] on */                                 \
static inline __attribute__((always_inline))                                                  \
void ev_fill_body_##SFX(const cgeom *g, const int32_t *restrict rowof, const REAL *x, int64_t n, \
                        const int64_t *off, int32_t *restrict pos, REAL *restrict val) {       \
  const int64_t HW = g->H * g->W;                                                              \
  int64_t gi, c, r, j, e;                                                                      \
  for (gi = 0; gi < g->G; gi++) {                                                              \
    e = off[n * g->G + gi];                                                                    \
    for (c = 0; c < g->Cg; c++) {                                                              \
      const REAL *restrict xp = x + (n * g->C + gi * g->Cg + c) * HW;                          \
      for (r = 0; r < HW; r += 8) {                                                            \
        const int64_t end = r + 8 < HW ? r + 8 : HW;                                           \
        if (end - r == 8) {                                                                    \
          int m = 0, k;                                                                        \
          for (k = 0; k < 8; k++) m |= xp[r + k] != 0;                                         \
          if (!m) continue;                                                                    \
        }                                                                                      \
        for (j = r; j < end; j++) {                                                            \
          if (xp[j] == 0) continue;                                                            \
          pos[3 * e] = (int32_t)c; pos[3 * e + 1] = rowof[j];                                  \
          pos[3 * e + 2] = (int32_t)(j - (int64_t)rowof[j] * g->W);                            \
          val[e++] = xp[j];                                                                    \
        }                                                                                      \
      }                                                                                        \
    }                                                                                          \
  }                                                                                            \
}                                                                                              \
/* one sample n, group gi, its events: back = 0: acc (P, Og) += scatter of  \
   wt; back = 1: dwt (K, Og) += gather of dyt (P, Og) */                                       \
static inline __attribute__((always_inline))                                                  \
void ev_visit_body_##SFX(const cgeom *g, const int64_t *tap, const int32_t *restrict pos,      \
                         const REAL *restrict val, int64_t e0, int64_t e1, int64_t gi, int back, \
                         const REAL *wt, const REAL *dys, REAL *ys, REAL *dwt) {             \
  const int64_t *rn = tap, *rk = rn + g->H, *ro = rk + g->H * g->KH;                           \
  const int64_t *cn = ro + g->H * g->KH, *ck = cn + g->W, *co = ck + g->W * g->KW;             \
  const int64_t Og = g->Og, KH = g->KH, KW = g->KW;                                           \
  int64_t ev, a, e, o;                                                                         \
  for (ev = e0; ev < e1; ev++) {                                                               \
    const int64_t c = pos[3 * ev], ih = pos[3 * ev + 1], iw = pos[3 * ev + 2];                 \
    const REAL v = val[ev];                                                                    \
    for (a = 0; a < rn[ih]; a++) {                                                             \
      const int64_t kb = (c * KH + rk[ih * KH + a]) * KW, pb = ro[ih * KH + a] * g->OW;        \
      for (e = 0; e < cn[iw]; e++) {                                                           \
        const int64_t k = kb + ck[iw * KW + e], p = pb + co[iw * KW + e];                      \
        if (!back) {                                                                           \
          const REAL *restrict wk = wt + (gi * g->K + k) * Og;                                 \
          REAL *restrict yo = ys + p * Og;                                                     \
          switch (Og) {   /* fixed lengths unroll into whole vectors */                        \
          case 8: for (o = 0; o < 8; o++) yo[o] += wk[o] * v; break;                           \
          case 16: for (o = 0; o < 16; o++) yo[o] += wk[o] * v; break;                         \
          case 32: for (o = 0; o < 32; o++) yo[o] += wk[o] * v; break;                         \
          default: for (o = 0; o < Og; o++) yo[o] += wk[o] * v;                                \
          }                                                                                    \
        } else {                                                                               \
          const REAL *restrict d = dys + p * Og;                                               \
          REAL *restrict dk = dwt + (gi * g->K + k) * Og;                                      \
          switch (Og) {                                                                        \
          case 8: for (o = 0; o < 8; o++) dk[o] += d[o] * v; break;                            \
          case 16: for (o = 0; o < 16; o++) dk[o] += d[o] * v; break;                          \
          case 32: for (o = 0; o < 32; o++) dk[o] += d[o] * v; break;                          \
          default: for (o = 0; o < Og; o++) dk[o] += d[o] * v;                                 \
          }                                                                                    \
        }                                                                                      \
      }                                                                                        \
    }                                                                                          \
  }                                                                                            \
}                                                                                              \
/* the two builds of the loops above, and the pick between them */                           \
LP_CONV_TARGET_AVX2 static int64_t ev_count_avx2_##SFX(const REAL *p, int64_t len) {           \
  return ev_count_body_##SFX(p, len);                                                          \
}                                                                                              \
static int64_t ev_count_base_##SFX(const REAL *p, int64_t len) { return ev_count_body_##SFX(p, len); } \
static int64_t ev_count_##SFX(const REAL *p, int64_t len) {                                    \
  return LP_CONV_AVX2 && cpu_has_avx2() ? ev_count_avx2_##SFX(p, len) : ev_count_base_##SFX(p, len); \
}                                                                                              \
LP_CONV_TARGET_AVX2 static void ev_fill_avx2_##SFX(const cgeom *g, const int32_t *rowof, const REAL *x, \
                                                   int64_t n, const int64_t *off, int32_t *pos, REAL *val) { \
  ev_fill_body_##SFX(g, rowof, x, n, off, pos, val);                                           \
}                                                                                              \
static void ev_fill_base_##SFX(const cgeom *g, const int32_t *rowof, const REAL *x, int64_t n, \
                               const int64_t *off, int32_t *pos, REAL *val) {                  \
  ev_fill_body_##SFX(g, rowof, x, n, off, pos, val);                                           \
}                                                                                              \
LP_CONV_TARGET_AVX2                                                                            \
static void ev_visit_avx2_##SFX(const cgeom *g, const int64_t *tap, const int32_t *pos, const REAL *val, \
                                int64_t e0, int64_t e1, int64_t gi, int back, const REAL *wt,  \
                                const REAL *dys, REAL *ys, REAL *dwt) {                      \
  ev_visit_body_##SFX(g, tap, pos, val, e0, e1, gi, back, wt, dys, ys, dwt);                   \
}                                                                                              \
static void ev_visit_base_##SFX(const cgeom *g, const int64_t *tap, const int32_t *pos, const REAL *val, \
                                int64_t e0, int64_t e1, int64_t gi, int back, const REAL *wt,  \
                                const REAL *dys, REAL *ys, REAL *dwt) {                      \
  ev_visit_body_##SFX(g, tap, pos, val, e0, e1, gi, back, wt, dys, ys, dwt);                   \
}                                                                                              \
static void ev_visit_##SFX(const cgeom *g, const int64_t *tap, const int32_t *pos, const REAL *val, \
                           int64_t e0, int64_t e1, int64_t gi, int back, const REAL *wt,       \
                           const REAL *dys, REAL *ys, REAL *dwt) {                           \
  if (LP_CONV_AVX2 && cpu_has_avx2()) ev_visit_avx2_##SFX(g, tap, pos, val, e0, e1, gi, back, wt, dys, ys, dwt); \
  else ev_visit_base_##SFX(g, tap, pos, val, e0, e1, gi, back, wt, dys, ys, dwt);              \
}                                                                                              \
/* Counts events per (n, gi) into off (off[0] = 0, off[n G + gi + 1] the    \
   running total); 1 when the total stays under cap (the event path runs),  \
   0 as soon as it does not. */                                                                \
static int ev_count_all_##SFX(const cgeom *g, const REAL *x, int64_t cap, int64_t *off) {      \
  const int64_t HW = g->H * g->W;                                                              \
  int64_t n, gi, tot = 0;                                                                      \
  off[0] = 0;                                                                                  \
  for (n = 0; n < g->N; n++) for (gi = 0; gi < g->G; gi++) {                                   \
    tot += ev_count_##SFX(x + (n * g->C + gi * g->Cg) * HW, g->Cg * HW);                       \
    if (tot >= cap && tot > 0) return 0;                                                       \
    off[n * g->G + gi + 1] = tot;                                                              \
  }                                                                                            \
  return 1;                                                                                    \
}                                                                                              \
static void ev_fill_all_##SFX(const cgeom *g, const int32_t *rowof, const REAL *x, const int64_t *off, \
                              int32_t *pos, REAL *val) {                                       \
  const int avx2 = LP_CONV_AVX2 && cpu_has_avx2();                                             \
  int64_t n;                                                                                   \
  _Pragma("omp parallel for schedule(static) num_threads(g->threads) if (g->threads > 1 && g->N > 1)") \
  for (n = 0; n < g->N; n++) {                                                                 \
    if (avx2) ev_fill_avx2_##SFX(g, rowof, x, n, off, pos, val);                               \
    else ev_fill_base_##SFX(g, rowof, x, n, off, pos, val);                                    \
  }                                                                                            \
}                                                                                              \
/* y = conv(x) (+ b), event-driven; wt scratch (G Cg KH KW Og), then per  \
   thread a (P, Og) accumulator (tp: threads x P x Og) */                                      \
static void ev_fwd_##SFX(const cgeom *g, const int64_t *tap, const int32_t *pos, const REAL *val, \
                         const int64_t *off, const REAL *w, const REAL *b, REAL *y, REAL *wt, REAL *tp) { \
  int64_t n, gi, o, k;                                                                         \
  for (gi = 0; gi < g->G; gi++) for (o = 0; o < g->Og; o++) for (k = 0; k < g->K; k++)         \
    wt[(gi * g->K + k) * g->Og + o] = w[(gi * g->Og + o) * g->K + k];                          \
  _Pragma("omp parallel for schedule(static) num_threads(g->threads) if (g->threads > 1 && g->N > 1)") \
  for (n = 0; n < g->N; n++) {                                                                 \
    int64_t gj, oo, p;                                                                         \
    REAL *acc = tp + (int64_t)omp_get_thread_num() * g->P * g->Og;                             \
    for (gj = 0; gj < g->G; gj++) {                                                            \
      REAL *ys = y + (n * g->O + gj * g->Og) * g->P;                                           \
      const int64_t e0 = off[n * g->G + gj], e1 = off[n * g->G + gj + 1];                      \
      if (e0 == e1) {                  /* no events: the bias alone */                         \
        for (oo = 0; oo < g->Og; oo++) {                                                       \
          const REAL bb = b ? b[gj * g->Og + oo] : 0;                                          \
          for (p = 0; p < g->P; p++) ys[oo * g->P + p] = bb;                                   \
        }                                                                                      \
        continue;                                                                              \
      }                                                                                        \
      memset(acc, 0, sizeof *acc * (size_t)(g->P * g->Og));                                    \
      ev_visit_##SFX(g, tap, pos, val, e0, e1, gj, 0, wt, NULL, acc, NULL);                    \
      for (oo = 0; oo < g->Og; oo++) {                                                         \
        const REAL bb = b ? b[gj * g->Og + oo] : 0;                                            \
        for (p = 0; p < g->P; p++) ys[oo * g->P + p] = acc[p * g->Og + oo] + bb;               \
      }                                                                                        \
    }                                                                                          \
  }                                                                                            \
}                                                                                              \
/* dw += dy . col^T, event-driven, from the forward's event list; db += sum \
   dy in the same pass over dy (db0 may be NULL). dwt scratch (zeroed, the  \
   dtype's precision as the GEMM path's sums): per thread a (G K Og) block then O bias sums, summed at the end; \
   tp: threads x (P, Og) */                                                                    \
static void ev_dw_##SFX(const cgeom *g, const int64_t *tap, const int32_t *pos, const REAL *val, \
                        const int64_t *off, const REAL *dy, REAL *dw, REAL *db0, REAL *dwt, REAL *tp) { \
  int64_t gi, o, k, t, M = g->G * g->K * g->Og, S = M + g->O;                                  \
  int64_t n;                                                                                   \
  _Pragma("omp parallel for schedule(static) num_threads(g->threads) if (g->threads > 1 && g->N > 1)") \
  for (n = 0; n < g->N; n++) {                                                                 \
    int64_t gj, oo, p;                                                                         \
    const int th = omp_get_thread_num();                                                       \
    REAL *mine = dwt + (int64_t)th * S, *dbm = mine + M;                                     \
    REAL *dyt = tp + (int64_t)th * g->P * g->Og;                                               \
    for (gj = 0; gj < g->G; gj++) {                                                            \
      const REAL *dys = dy + (n * g->O + gj * g->Og) * g->P;                                   \
      const int64_t e0 = off[n * g->G + gj], e1 = off[n * g->G + gj + 1];                      \
      if (db0) for (oo = 0; oo < g->Og; oo++) {                                                \
        const REAL *r = dys + oo * g->P;                                                       \
        REAL s0 = 0, s1 = 0, s2 = 0, s3 = 0;                                                   \
        for (p = 0; p + 4 <= g->P; p += 4) { s0 += r[p]; s1 += r[p + 1]; s2 += r[p + 2]; s3 += r[p + 3]; } \
        for (; p < g->P; p++) s0 += r[p];                                                      \
        dbm[gj * g->Og + oo] += (s0 + s1) + (s2 + s3);                               \
      }                                                                                        \
      if (e0 == e1) continue;                                                                  \
      for (oo = 0; oo < g->Og; oo++) for (p = 0; p < g->P; p++) dyt[p * g->Og + oo] = dys[oo * g->P + p]; \
      ev_visit_##SFX(g, tap, pos, val, e0, e1, gj, 1, NULL, dyt, NULL, mine);                  \
    }                                                                                          \
  }                                                                                            \
  for (t = 1; t < g->threads; t++) for (k = 0; k < S; k++) dwt[k] += dwt[t * S + k];          \
  for (gi = 0; gi < g->G; gi++) for (o = 0; o < g->Og; o++) for (k = 0; k < g->K; k++)         \
    dw[(gi * g->Og + o) * g->K + k] += dwt[(gi * g->K + k) * g->Og + o];                       \
  if (db0) for (o = 0; o < g->O; o++) db0[o] += dwt[M + o];                              \
}

DEFINE_EVENT(float, f)
DEFINE_EVENT(double, d)

/* Below this input density the event-driven path runs (forward and dw). */
#define EVENT_DENSITY 0.15

/* The event list of a contiguous x (new tensors in ev) when under
   EVENT_DENSITY of it is nonzero; *sparse says whether it is. */
typedef struct evlist { lp_tensor *pos, *val, *off; } evlist;
static void evlist_release(evlist *e) {
  lp_tensor_release(e->pos); lp_tensor_release(e->val); lp_tensor_release(e->off);
  e->pos = e->val = e->off = NULL;
}
static lp_status evlist_build(lp_ctx *ctx, const cgeom *g, const lp_tensor *x, evlist *ev, int *sparse) {
  int64_t n = lp_tensor_numel(x), cap = (int64_t)(EVENT_DENSITY * (double)n), no = g->N * g->G + 1;
  int64_t HW = g->H * g->W, nnz, np, i;
  lp_tensor *rowof = NULL;
  lp_status st;
  *sparse = 0;
  ev->pos = ev->val = ev->off = NULL;
  if ((st = lp_tensor_empty(ctx, LP_I64, 1, &no, &ev->off))) return st;
  if (!(x->dtype == LP_F32 ? ev_count_all_f(g, lp_tensor_data(x), cap, lp_tensor_data(ev->off))
                           : ev_count_all_d(g, lp_tensor_data(x), cap, lp_tensor_data(ev->off)))) {
    evlist_release(ev);
    return LP_OK;
  }
  nnz = ((int64_t *)lp_tensor_data(ev->off))[no - 1];
  np = 3 * (nnz > 0 ? nnz : 1);
  TRY(lp_tensor_empty(ctx, LP_I32, 1, &np, &ev->pos));
  np = nnz > 0 ? nnz : 1;
  TRY(lp_tensor_empty(ctx, x->dtype, 1, &np, &ev->val));
  TRY(lp_tensor_empty(ctx, LP_I32, 1, &HW, &rowof));
  for (i = 0; i < HW; i++) ((int32_t *)lp_tensor_data(rowof))[i] = (int32_t)(i / g->W);
  if (x->dtype == LP_F32)
    ev_fill_all_f(g, lp_tensor_data(rowof), lp_tensor_data(x), lp_tensor_data(ev->off), lp_tensor_data(ev->pos), lp_tensor_data(ev->val));
  else
    ev_fill_all_d(g, lp_tensor_data(rowof), lp_tensor_data(x), lp_tensor_data(ev->off), lp_tensor_data(ev->pos), lp_tensor_data(ev->val));
  *sparse = 1;
done:
  lp_tensor_release(rowof);
  if (st != LP_OK) evlist_release(ev);
  return st;
}

/* contiguous versions of the operands (new references) */
static lp_status contig3(lp_ctx *ctx, const lp_tensor *x, const lp_tensor *w, const lp_tensor *b,
                         lp_tensor **xc, lp_tensor **wc, lp_tensor **bc) {
  lp_status st;
  *xc = *wc = *bc = NULL;
  if ((st = lp_tensor_contiguous(ctx, (lp_tensor *)x, xc))) return st;
  if ((st = lp_tensor_contiguous(ctx, (lp_tensor *)w, wc))) return st;
  if (b && (st = lp_tensor_contiguous(ctx, (lp_tensor *)b, bc))) return st;
  return LP_OK;
}

/* keep (may be NULL): receives the event list when the event-driven path
   ran (the caller owns it), all NULL when the dense one did */
static lp_status conv_run(lp_ctx *ctx, const lp_tensor *x, const lp_tensor *w, const lp_tensor *b,
                          const lp_conv2d_opts *o, int ref, lp_tensor **out, evlist *keep) {
  cgeom g;
  lp_tensor *xc = NULL, *wc = NULL, *bc = NULL, *col = NULL, *tap = NULL;
  evlist ev = { NULL, NULL, NULL };
  int64_t ys[4], cs[1];
  int sparse = 0;
  lp_status st;
  *out = NULL;
  if (keep) keep->pos = keep->val = keep->off = NULL;
  if ((st = geom(ctx, x, w, b, o, &g))) return st;
  ys[0] = g.N; ys[1] = g.O; ys[2] = g.OH; ys[3] = g.OW;
  TRY(contig3(ctx, x, w, b, &xc, &wc, &bc));
  TRY(lp_tensor_empty(ctx, x->dtype, 4, ys, out));
  if (!ref) TRY(evlist_build(ctx, &g, xc, &ev, &sparse));
  if (sparse) {
    int64_t tl = taps_len(&g);
    cs[0] = g.G * g.K * g.Og + g.threads * g.P * g.Og;   /* transposed weights, then accumulators */
    TRY(lp_tensor_empty(ctx, x->dtype, 1, cs, &col));
    TRY(lp_tensor_empty(ctx, LP_I64, 1, &tl, &tap));
    taps_build(&g, lp_tensor_data(tap));
    if (x->dtype == LP_F32)
      ev_fwd_f(&g, lp_tensor_data(tap), lp_tensor_data(ev.pos), lp_tensor_data(ev.val), lp_tensor_data(ev.off),
               lp_tensor_data(wc), bc ? lp_tensor_data(bc) : NULL,
               lp_tensor_data(*out), lp_tensor_data(col), (float *)lp_tensor_data(col) + g.G * g.K * g.Og);
    else
      ev_fwd_d(&g, lp_tensor_data(tap), lp_tensor_data(ev.pos), lp_tensor_data(ev.val), lp_tensor_data(ev.off),
               lp_tensor_data(wc), bc ? lp_tensor_data(bc) : NULL,
               lp_tensor_data(*out), lp_tensor_data(col), (double *)lp_tensor_data(col) + g.G * g.K * g.Og);
    if (keep) { *keep = ev; ev.pos = ev.val = ev.off = NULL; }
    goto done;
  }
  if (!ref) { cs[0] = g.threads * g.K * g.P; TRY(lp_tensor_empty(ctx, x->dtype, 1, cs, &col)); }
  if (x->dtype == LP_F32) {
    if (ref) ref_f(&g, lp_tensor_data(xc), lp_tensor_data(wc), bc ? lp_tensor_data(bc) : NULL, lp_tensor_data(*out));
    else fwd_f(&g, lp_tensor_data(xc), lp_tensor_data(wc), bc ? lp_tensor_data(bc) : NULL, lp_tensor_data(*out), lp_tensor_data(col));
  } else {
    if (ref) ref_d(&g, lp_tensor_data(xc), lp_tensor_data(wc), bc ? lp_tensor_data(bc) : NULL, lp_tensor_data(*out));
    else fwd_d(&g, lp_tensor_data(xc), lp_tensor_data(wc), bc ? lp_tensor_data(bc) : NULL, lp_tensor_data(*out), lp_tensor_data(col));
  }
done:
  lp_tensor_release(xc); lp_tensor_release(wc); lp_tensor_release(bc); lp_tensor_release(col);
  lp_tensor_release(tap);
  evlist_release(&ev);
  if (st != LP_OK) { lp_tensor_release(*out); *out = NULL; if (keep) evlist_release(keep); }
  return st;
}

lp_status lp_conv2d(lp_ctx *ctx, const lp_tensor *x, const lp_tensor *w, const lp_tensor *b,
                    const lp_conv2d_opts *o, lp_tensor **out) {
  return conv_run(ctx, x, w, b, o, 0, out, NULL);
}

lp_status lp_conv2d_ref(lp_ctx *ctx, const lp_tensor *x, const lp_tensor *w, const lp_tensor *b,
                        const lp_conv2d_opts *o, lp_tensor **out) {
  return conv_run(ctx, x, w, b, o, 1, out, NULL);
}

/* ---- autodiff ------------------------------------------------------------ */
typedef struct conv_pl {
  lp_conv2d_opts o;
  int sx, sw, sparse;           /* sparse: the forward ran event-driven and saved its event list */
  int spos, sval, soff;
} conv_pl;

static lp_status conv_bw(lp_ctx *ctx, lp_node *n, lp_tensor *const *gout, lp_tensor **gin) {
  conv_pl *p = lp_node_payload(n);
  const lp_tensor *x = lp_node_saved(n, p->sx), *w = lp_node_saved(n, p->sw);
  lp_tensor *gy = NULL, *col = NULL, *dx = NULL, *dw = NULL, *db = NULL, *dwt = NULL, *dws = NULL, *dbs = NULL;
  lp_tensor *tap = NULL, *dyt = NULL;
  int has_b = lp_node_ninputs(n) > 2, ev_dw = 0;
  cgeom g;
  int64_t cs[1];
  lp_status st;
  if (!gout[0]) return LP_OK;
  if ((st = geom(ctx, x, w, NULL, &p->o, &g))) return st;
  TRY(lp_tensor_contiguous(ctx, gout[0], &gy));
  if (gy->dtype != x->dtype) { lp_tensor *c; TRY(lp_tensor_astype(ctx, gy, x->dtype, &c)); lp_tensor_release(gy); gy = c; }
  if (lp_node_input_needs_grad(n, 0)) TRY(lp_tensor_new(ctx, x->dtype, 4, x->shape, &dx));
  if (lp_node_input_needs_grad(n, 1)) TRY(lp_tensor_new(ctx, x->dtype, 4, w->shape, &dw));
  if (has_b && lp_node_input_needs_grad(n, 2)) TRY(lp_tensor_new(ctx, x->dtype, 1, &g.O, &db));
  if (dw && p->sparse) {     /* dw event-driven from the forward's event list, db in the same pass */
    const lp_tensor *epos = lp_node_saved(n, p->spos), *eval = lp_node_saved(n, p->sval), *eoff = lp_node_saved(n, p->soff);
    int64_t m = g.threads * (g.G * g.K * g.Og + g.O), tl = taps_len(&g), tn = g.threads * g.P * g.Og;
    TRY(lp_tensor_new(ctx, x->dtype, 1, &m, &dwt));
    TRY(lp_tensor_empty(ctx, x->dtype, 1, &tn, &dyt));
    TRY(lp_tensor_empty(ctx, LP_I64, 1, &tl, &tap));
    taps_build(&g, lp_tensor_data(tap));
    if (x->dtype == LP_F32)
      ev_dw_f(&g, lp_tensor_data(tap), lp_tensor_data(epos), lp_tensor_data(eval), lp_tensor_data(eoff),
              lp_tensor_data(gy), lp_tensor_data(dw), db ? lp_tensor_data(db) : NULL, lp_tensor_data(dwt), lp_tensor_data(dyt));
    else
      ev_dw_d(&g, lp_tensor_data(tap), lp_tensor_data(epos), lp_tensor_data(eval), lp_tensor_data(eoff),
              lp_tensor_data(gy), lp_tensor_data(dw), db ? lp_tensor_data(db) : NULL, lp_tensor_data(dwt), lp_tensor_data(dyt));
    ev_dw = 1;
  }
  if (dx || (db && !ev_dw) || (dw && !ev_dw)) {
    int64_t pw = g.threads * g.O * g.K, pb = g.threads * g.O;   /* per-thread partial dw, db */
    int want_db = db && !ev_dw;
    if (dw && !ev_dw) TRY(lp_tensor_new(ctx, x->dtype, 1, &pw, &dws));
    if (want_db) TRY(lp_tensor_new(ctx, x->dtype, 1, &pb, &dbs));
    cs[0] = g.threads * g.K * g.P;
    TRY(lp_tensor_empty(ctx, x->dtype, 1, cs, &col));
    if (x->dtype == LP_F32)
      bwd_f(&g, lp_tensor_data(x), lp_tensor_data(w), lp_tensor_data(gy), dx ? lp_tensor_data(dx) : NULL,
            dw && !ev_dw ? lp_tensor_data(dw) : NULL, want_db ? lp_tensor_data(db) : NULL, lp_tensor_data(col),
            dws ? lp_tensor_data(dws) : NULL, dbs ? lp_tensor_data(dbs) : NULL);
    else
      bwd_d(&g, lp_tensor_data(x), lp_tensor_data(w), lp_tensor_data(gy), dx ? lp_tensor_data(dx) : NULL,
            dw && !ev_dw ? lp_tensor_data(dw) : NULL, want_db ? lp_tensor_data(db) : NULL, lp_tensor_data(col),
            dws ? lp_tensor_data(dws) : NULL, dbs ? lp_tensor_data(dbs) : NULL);
  }
  gin[0] = dx; gin[1] = dw;
  if (has_b) gin[2] = db;
  dx = dw = db = NULL;
done:
  lp_tensor_release(gy); lp_tensor_release(col); lp_tensor_release(dwt); lp_tensor_release(tap);
  lp_tensor_release(dyt);
  lp_tensor_release(dws); lp_tensor_release(dbs);
  lp_tensor_release(dx); lp_tensor_release(dw); lp_tensor_release(db);
  return st;
}

lp_status lp_ag_conv2d(lp_ctx *ctx, const lp_tensor *x, const lp_tensor *w, const lp_tensor *b,
                       const lp_conv2d_opts *o, lp_tensor **out) {
  const lp_tensor *in[3];
  lp_tensor *xc = NULL, *wc = NULL, *bc = NULL;
  evlist ev = { NULL, NULL, NULL };
  lp_node *n;
  conv_pl *p;
  int grad;
  lp_status st;
  in[0] = x; in[1] = w; in[2] = b;
  grad = lp_needs_grad(ctx, b ? 3 : 2, in);
  st = conv_run(ctx, x, w, b, o, 0, out, grad ? &ev : NULL);
  if (st != LP_OK || !grad) return st;
  TRY(lp_node_record(ctx, "conv2d", conv_bw, b ? 3 : 2, in, 1, out, sizeof(conv_pl), &n));
  p = lp_node_payload(n);
  p->o = *o;
  TRY(contig3(ctx, x, w, NULL, &xc, &wc, &bc));
  TRY(lp_node_save(ctx, n, xc, &p->sx));
  TRY(lp_node_save(ctx, n, wc, &p->sw));
  if (ev.off) {
    TRY(lp_node_save(ctx, n, ev.pos, &p->spos));
    TRY(lp_node_save(ctx, n, ev.val, &p->sval));
    TRY(lp_node_save(ctx, n, ev.off, &p->soff));
    p->sparse = 1;
  }
done:
  lp_tensor_release(xc); lp_tensor_release(wc); lp_tensor_release(bc);
  evlist_release(&ev);
  if (st != LP_OK) { lp_tensor_release(*out); *out = NULL; }
  return st;
}

/* ---- sum pooling ---------------------------------------------------------- */
static lp_status pool_geom(lp_ctx *ctx, const lp_tensor *x, const int64_t k[2], const int64_t s[2],
                           const int64_t p[2], int64_t ys[4]) {
  int i;
  if (x->ndim != 4) return lp_ctx_error(ctx, LP_ESHAPE, 1, "input must be (N, C, H, W), got %d dims", x->ndim);
  if (!lp_dtype_is_float(x->dtype)) return lp_ctx_error(ctx, LP_ETYPE, 1, "input must be float32 or float64");
  for (i = 0; i < 2; i++) {
    if (k[i] < 1 || s[i] < 1 || p[i] < 0 || 2 * p[i] > k[i])
      return lp_ctx_error(ctx, LP_EARG, 2, "kernel and stride must be >= 1, 0 <= padding <= kernel/2");
    if (x->shape[2 + i] + 2 * p[i] < k[i])
      return lp_ctx_error(ctx, LP_ESHAPE, 1, "input is smaller than the kernel");
    ys[2 + i] = (x->shape[2 + i] + 2 * p[i] - k[i]) / s[i] + 1;
  }
  ys[0] = x->shape[0]; ys[1] = x->shape[1];
  return LP_OK;
}

/* y[o] = sum of the window (forward); dx[window] += dy[o] (backward): the
   plain reference, one output element and one bounds test at a time. */
#define DEFINE_POOL(REAL, SFX)                                                                 \
static void pool_ref_##SFX(const int64_t *xs, const int64_t *ys, const int64_t k[2], const int64_t s[2], \
                       const int64_t p[2], REAL *x, REAL *y, int back) {                       \
  int64_t nc, oh, ow, a, b, NC = xs[0] * xs[1], H = xs[2], W = xs[3];                          \
  for (nc = 0; nc < NC; nc++) for (oh = 0; oh < ys[2]; oh++) for (ow = 0; ow < ys[3]; ow++) {  \
    REAL *yo = y + (nc * ys[2] + oh) * ys[3] + ow;                                             \
    REAL acc = 0;                                                                              \
    for (a = 0; a < k[0]; a++) {                                                               \
      int64_t ih = oh * s[0] - p[0] + a;                                                       \
      if (ih < 0 || ih >= H) continue;                                                         \
      for (b = 0; b < k[1]; b++) {                                                             \
        int64_t iw = ow * s[1] - p[1] + b;                                                     \
        if (iw < 0 || iw >= W) continue;                                                       \
        if (back) x[(nc * H + ih) * W + iw] += *yo; else acc += x[(nc * H + ih) * W + iw];     \
      }                                                                                        \
    }                                                                                          \
    if (!back) *yo = acc;                                                                      \
  }                                                                                            \
}                                                                                              \
/* The fast path, same sums in the same order: whole output rows at a time,   \
   the valid window rows and columns worked out once per row and per kernel   \
   column (no per-element bounds tests); 2x2 stride 2 unpadded (SumPool2, the \
   usual case) as its own loop. back: x is dx, zeroed unless exact is set     \
   (the windows tile the input exactly: every dx element is written once). */ \
static void pool_fast_##SFX(const int64_t *xs, const int64_t *ys, const int64_t k[2], const int64_t s[2], \
                            const int64_t p[2], REAL *x, REAL *y, int back, int exact) {      \
  const int64_t NC = xs[0] * xs[1], H = xs[2], W = xs[3], OH = ys[2], OW = ys[3];              \
  int64_t nc, oh, ow, a, b;                                                                    \
  if (k[0] == 2 && k[1] == 2 && s[0] == 2 && s[1] == 2 && p[0] == 0 && p[1] == 0) {            \
    for (nc = 0; nc < NC; nc++) for (oh = 0; oh < OH; oh++) {                                  \
      REAL *restrict r0 = x + (nc * H + 2 * oh) * W, *restrict r1 = r0 + W;                    \
      REAL *restrict yr = y + (nc * OH + oh) * OW;                                             \
      if (!back) for (ow = 0; ow < OW; ow++)                                                   \
        yr[ow] = ((r0[2 * ow] + r0[2 * ow + 1]) + r1[2 * ow]) + r1[2 * ow + 1];                \
      else if (exact) for (ow = 0; ow < OW; ow++)                                              \
        r0[2 * ow] = r0[2 * ow + 1] = r1[2 * ow] = r1[2 * ow + 1] = yr[ow];                    \
      else for (ow = 0; ow < OW; ow++) {                                                       \
        r0[2 * ow] += yr[ow]; r0[2 * ow + 1] += yr[ow]; r1[2 * ow] += yr[ow]; r1[2 * ow + 1] += yr[ow]; \
      }                                                                                        \
    }                                                                                          \
    return;                                                                                    \
  }                                                                                            \
  for (nc = 0; nc < NC; nc++) for (oh = 0; oh < OH; oh++) {                                    \
    REAL *restrict yr = y + (nc * OH + oh) * OW;                                               \
    if (!back) for (ow = 0; ow < OW; ow++) yr[ow] = 0;                                         \
    for (a = 0; a < k[0]; a++) {                                                               \
      const int64_t ih = oh * s[0] - p[0] + a;                                                 \
      REAL *restrict xr;                                                                       \
      if (ih < 0 || ih >= H) continue;                                                         \
      xr = x + (nc * H + ih) * W;                                                              \
      for (b = 0; b < k[1]; b++) {                                                             \
        const int64_t off = b - p[1];              /* iw = ow s + off in [0, W) */             \
        const int64_t lo = off >= 0 ? 0 : (-off + s[1] - 1) / s[1];                            \
        int64_t hi = W - 1 - off < 0 ? 0 : (W - 1 - off) / s[1] + 1;                           \
        if (hi > OW) hi = OW;                                                                  \
        if (back) for (ow = lo; ow < hi; ow++) xr[ow * s[1] + off] += yr[ow];                  \
        else for (ow = lo; ow < hi; ow++) yr[ow] += xr[ow * s[1] + off];                       \
      }                                                                                        \
    }                                                                                          \
  }                                                                                            \
}
DEFINE_POOL(float, f)
DEFINE_POOL(double, d)

/* whether 2x2 stride-2 unpadded windows cover x (H, W even) exactly */
static int pool_exact(const int64_t *xs, const int64_t k[2], const int64_t s[2], const int64_t p[2]) {
  return k[0] == 2 && k[1] == 2 && s[0] == 2 && s[1] == 2 && p[0] == 0 && p[1] == 0 &&
         xs[2] % 2 == 0 && xs[3] % 2 == 0;
}

static lp_status pool_run(lp_ctx *ctx, const lp_tensor *x, const int64_t k[2], const int64_t s[2],
                          const int64_t p[2], int ref, lp_tensor **out) {
  int64_t ys[4];
  lp_tensor *xc = NULL;
  lp_status st;
  *out = NULL;
  if ((st = pool_geom(ctx, x, k, s, p, ys))) return st;
  TRY(lp_tensor_contiguous(ctx, (lp_tensor *)x, &xc));
  TRY(lp_tensor_empty(ctx, x->dtype, 4, ys, out));
  if (x->dtype == LP_F32) {
    if (ref) pool_ref_f(x->shape, ys, k, s, p, lp_tensor_data(xc), lp_tensor_data(*out), 0);
    else pool_fast_f(x->shape, ys, k, s, p, lp_tensor_data(xc), lp_tensor_data(*out), 0, 0);
  } else {
    if (ref) pool_ref_d(x->shape, ys, k, s, p, lp_tensor_data(xc), lp_tensor_data(*out), 0);
    else pool_fast_d(x->shape, ys, k, s, p, lp_tensor_data(xc), lp_tensor_data(*out), 0, 0);
  }
done:
  lp_tensor_release(xc);
  if (st != LP_OK) { lp_tensor_release(*out); *out = NULL; }
  return st;
}

lp_status lp_sum_pool2d_ref(lp_ctx *ctx, const lp_tensor *x, const int64_t k[2], const int64_t s[2],
                            const int64_t p[2], lp_tensor **out) {
  return pool_run(ctx, x, k, s, p, 1, out);
}

lp_status lp_sum_pool2d(lp_ctx *ctx, const lp_tensor *x, const int64_t k[2], const int64_t s[2],
                        const int64_t p[2], lp_tensor **out) {
  return pool_run(ctx, x, k, s, p, 0, out);
}

typedef struct pool_pl { int64_t k[2], s[2], p[2]; } pool_pl;

static lp_status pool_bw(lp_ctx *ctx, lp_node *n, lp_tensor *const *gout, lp_tensor **gin) {
  pool_pl *p = lp_node_payload(n);
  lp_tensor *gy = NULL, *dx = NULL;
  const int64_t *xs = lp_node_input_shape(n, 0);
  lp_dtype dt = lp_node_input_dtype(n, 0);
  int64_t ys[4];
  int exact;
  lp_status st = LP_OK;
  if (!gout[0] || !lp_node_input_needs_grad(n, 0)) return LP_OK;
  TRY(lp_tensor_astype(ctx, gout[0], dt, &gy));
  { lp_tensor *c; TRY(lp_tensor_contiguous(ctx, gy, &c)); lp_tensor_release(gy); gy = c; }
  exact = pool_exact(xs, p->k, p->s, p->p);      /* every dx element written once: no zeroing */
  if (exact) TRY(lp_tensor_empty(ctx, dt, 4, xs, &dx));
  else TRY(lp_tensor_new(ctx, dt, 4, xs, &dx));
  memcpy(ys, gy->shape, sizeof ys);
  if (dt == LP_F32) pool_fast_f(xs, ys, p->k, p->s, p->p, lp_tensor_data(dx), lp_tensor_data(gy), 1, exact);
  else pool_fast_d(xs, ys, p->k, p->s, p->p, lp_tensor_data(dx), lp_tensor_data(gy), 1, exact);
  gin[0] = dx;
  dx = NULL;
done:
  lp_tensor_release(gy); lp_tensor_release(dx);
  return st;
}

lp_status lp_ag_sum_pool2d(lp_ctx *ctx, const lp_tensor *x, const int64_t k[2], const int64_t s[2],
                           const int64_t p[2], lp_tensor **out) {
  lp_node *n;
  pool_pl *pl;
  lp_status st = lp_sum_pool2d(ctx, x, k, s, p, out);
  if (st != LP_OK || !lp_needs_grad(ctx, 1, &x)) return st;
  TRY(lp_node_record(ctx, "sum_pool2d", pool_bw, 1, &x, 1, out, sizeof(pool_pl), &n));
  pl = lp_node_payload(n);
  memcpy(pl->k, k, sizeof pl->k); memcpy(pl->s, s, sizeof pl->s); memcpy(pl->p, p, sizeof pl->p);
done:
  if (st != LP_OK) { lp_tensor_release(*out); *out = NULL; }
  return st;
}
