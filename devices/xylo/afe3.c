/*
** devices/xylo/afe3.c -- the Xylo Audio 3 digital audio front end
** (declared in afe.h; reference/xylo.md §11.3), bit-exact with the
** reference's integer kernels, plus the linear resampler both front ends use.
** Owns: np.interp-exact resampling, the 14-bit quantiser, the delta-sigma
** PDM microphone model, the polyphase decimation FIR, the integer
** Butterworth filter bank, divisive normalisation / spike generation and
** rasterisation, each over all B rows in one call.
** Not here: options and the reference's quirks as choices (afe3.lua).
**
** Notation: W[n] is a filter's AR state, z[n] its output; H, low, acc are the
** DN's high-resolution low-pass, low-resolution value and IAF accumulator.
** The boundary trick ("flip") runs the time-reversed signal first, from zero
** state, and keeps only the outputs of the second (forward) half: the
** reversed copy is never built, the loops just read the input backwards.
**
** Speed: the filter bank and the DN run all 16 channels per sample in one
** inner loop over fixed-size lane arrays (padded lanes hold zeros), written
** so that the compiler vectorises it; an AVX2 copy is picked at run time.
** Arithmetic right shifts of negative 64-bit values are written as
** ((v ^ s) >> k) ^ s with s the sign mask (the same bits as v >> k, which
** AVX2 can do per lane); products of the 16-bit coefficients with the AR
** states (|W| < 2^28) are 32×32→64-bit multiplies.
*/
#include "afe.h"
#include <math.h>
#include <string.h>
#if defined(__GNUC__) && defined(__x86_64__)
#include <immintrin.h>
#endif

/* no a·b + c contraction: -std=c11 builds with -ffp-contract=off */

#define NF LP_AFE3_NFILT

/* ---- constants --------------------------------------------------------------- */

/* Block-diagram constants of the 16 filters (§11.3 (c)): B_worst_case, B_b,
   B_af, a1, a2; B_in = 14, B_wf = 8, B_w = B_out = 14 + B_worst_case + 8. */
static const int FB[NF][5] = {
  {7, 8, 6, -32694, 16313}, {6, 8, 6, -32663, 16284}, {6, 7, 7, -32617, 16244},
  {5, 7, 7, -32551, 16188}, {5, 6, 8, -32453, 16110}, {4, 6, 8, -32305, 16000},
  {4, 5, 9, -32077, 15848}, {3, 5, 9, -31718, 15638}, {3, 4, 10, -31139, 15347},
  {2, 4, 10, -30185, 14947}, {2, 4, 10, -28582, 14402}, {2, 3, 11, -25862, 13666},
  {2, 3, 11, -21262, 12687}, {2, 2, 13, -27375, 22803}, {2, 2, 13, -4180, 19488},
  {2, 1, 14, 25566, 15280},
};
#define B_IN 14
#define B_WF 8

void lp_afe3_filter_coeffs(int i, int *b_wc, int *b_b, int *b_af, int *a1, int *a2) {
  if (i < 0 || i >= NF) i = 0;
  *b_wc = FB[i][0]; *b_b = FB[i][1]; *b_af = FB[i][2]; *a1 = FB[i][3]; *a2 = FB[i][4];
}

/* The decimation FIR: scipy firwin(256, 20 kHz, fs = 1.5625 MHz) (Hamming),
   scaled to peak 1, quantised to 16 bits, rescaled so that Σ|h| just fits
   21 bits and quantised again by truncation (§11.3 (a)). Output =
   (2·Σ h·b − Σ h) >> (21 − 14). */
static const int16_t FIR_H[LP_AFE3_FIR_TAPS] = {
  -115, -107, -98, -90, -80, -70, -59, -47, -34, -20, -4, 11, 29, 48, 68, 90, 113, 138,
  163, 190, 218, 248, 277, 308, 338, 369, 399, 429, 457, 484, 510, 533, 553, 570, 583, 592,
  596, 595, 588, 575, 556, 529, 495, 454, 405, 347, 282, 208, 126, 35, -62, -168, -282, -402,
  -529, -662, -799, -941, -1086, -1233, -1382, -1530, -1677, -1822, -1962, -2096, -2224,
  -2342, -2451, -2547, -2630, -2697, -2748, -2780, -2792, -2782, -2750, -2693, -2610, -2500,
  -2363, -2197, -2001, -1775, -1517, -1229, -910, -559, -176, 236, 679, 1151, 1652, 2181,
  2735, 3314, 3916, 4538, 5180, 5838, 6511, 7195, 7889, 8589, 9293, 9998, 10700, 11398,
  12087, 12765, 13429, 14076, 14702, 15305, 15883, 16432, 16949, 17433, 17881, 18290, 18659,
  18987, 19270, 19509, 19701, 19846, 19943, 19991, 19991, 19943, 19846, 19701, 19509, 19270,
  18987, 18659, 18290, 17881, 17433, 16949, 16432, 15883, 15305, 14702, 14076, 13429, 12765,
  12087, 11398, 10700, 9998, 9293, 8589, 7889, 7195, 6511, 5838, 5180, 4538, 3916, 3314,
  2735, 2181, 1652, 1151, 679, 236, -176, -559, -910, -1229, -1517, -1775, -2001, -2197,
  -2363, -2500, -2610, -2693, -2750, -2782, -2792, -2780, -2748, -2697, -2630, -2547, -2451,
  -2342, -2224, -2096, -1962, -1822, -1677, -1530, -1382, -1233, -1086, -941, -799, -662,
  -529, -402, -282, -168, -62, 35, 126, 208, 282, 347, 405, 454, 495, 529, 556, 575, 588,
  595, 596, 592, 583, 570, 553, 533, 510, 484, 457, 429, 399, 369, 338, 308, 277, 248, 218,
  190, 163, 138, 113, 90, 68, 48, 29, 11, -4, -20, -34, -47, -59, -70, -80, -90, -98, -107,
  -115,
};
#define FIR_SHIFT (21 - 14)

const int16_t *lp_afe3_fir_taps(int *shift) {
  if (shift) *shift = FIR_SHIFT;
  return FIR_H;
}

/* The microphone's delta-sigma loop (§11.3 (a)): an analog 4th-order
   Butterworth low-pass (20 kHz) in block-diagram form, states normalised by
   the PDM rate, forward Euler at 1.5625 MHz:
     d_0 = B_0·x + AQ_0·q,   d_i = A_i·s_{i−1} + AQ_i·q (i = 1..3)
     s_i += d_i / fs,        q = s_3 > 0 ? +1 : −1   (q = 0 before the first step)
   The constants are the reference's float64 values. */
static const double DS_A[3] = { 1562499.9999999998, 1562500.0, 1562500.0 };
static const double DS_AQ[4] = { -65.37013442564489, -2123.9773417538736, -34505.663694291434,
                                 -328375.08895264997 };
static const double DS_B0 = 65.37013442564489;

/* ---- helpers ----------------------------------------------------------------- */

/* A contiguous copy-or-view of t with dtype dt. */
static lp_status as_contig(lp_ctx *ctx, const lp_tensor *t, lp_dtype dt, lp_tensor **out) {
  if (lp_tensor_dtype(t) == dt) return lp_tensor_contiguous(ctx, (lp_tensor *)t, out);
  return lp_tensor_astype(ctx, t, dt, out);
}

/* A contiguous int32 copy-or-view of integer tensor t; values beyond int32
   are refused (arg names the operand). */
static lp_status as_i32(lp_ctx *ctx, const lp_tensor *t, int arg, lp_tensor **out) {
  lp_tensor *t64 = NULL;
  lp_status st;
  int64_t i, n;
  lp_dtype dt = lp_tensor_dtype(t);
  if (dt == LP_I32 || dt == LP_I16 || dt == LP_I8 || dt == LP_U8 || dt == LP_BOOL) return as_contig(ctx, t, LP_I32, out);
  if ((st = as_contig(ctx, t, LP_I64, &t64)) != LP_OK) return st;
  n = lp_tensor_numel(t64);
  for (i = 0; i < n; i++) {
    int64_t v = ((const int64_t *)lp_tensor_data(t64))[i];
    if (v > INT32_MAX || v < -INT32_MAX) {
      lp_tensor_release(t64);
      return lp_ctx_error(ctx, LP_ERANGE, arg, "value %lld is beyond 31 bits", (long long)v);
    }
  }
  st = lp_tensor_astype(ctx, t64, LP_I32, out);
  lp_tensor_release(t64);
  return st;
}

static int poll(lp_ctx *ctx, lp_status *st) {
  if (lp_ctx_interrupted(ctx)) { *st = lp_ctx_check_interrupt(ctx); return 1; }
  return 0;
}

/* Arithmetic shift right of a 64-bit value, written so that it vectorises. */
#define SRA64(v, k) ((int64_t)(((uint64_t)((v) ^ ((v) >> 63))) >> (k)) ^ ((v) >> 63))

/* ---- resampling ---------------------------------------------------------------- */

int64_t lp_afe_resample_len(int64_t T, double fs_in, double fs_out) {
  double dur, step, n;
  if (T < 2) return 0;
  dur = (double)(T - 1) / fs_in;
  step = 1.0 / fs_out;
  n = ceil(dur / step);            /* NumPy's arange length */
  return n > 0 ? (int64_t)n : 0;
}

/* One value of np.interp(t, arange(T)/fs_in, x) for t in [0, (T−1)/fs_in). */
static inline double interp_at(const double *x, int64_t T, double fs_in, double t, int64_t *guess) {
  int64_t j = *guess;
  double xj, s;
  if (j < 0) j = 0;
  if (j > T - 1) j = T - 1;
  while (j > 0 && (double)j / fs_in > t) j--;
  while (j + 1 < T && (double)(j + 1) / fs_in <= t) j++;
  *guess = j;
  if (j >= T - 1) return x[T - 1];
  xj = (double)j / fs_in;
  if (t == xj) return x[j];
  s = (x[j + 1] - x[j]) / ((double)(j + 1) / fs_in - xj);
  return s * (t - xj) + x[j];
}

/* The same for increasing t, one segment cached (its ends and slope are the
   values NumPy computes: j/fs_in and (x[j+1] − x[j]) / (xp[j+1] − xp[j])). */
typedef struct seg_interp {
  const double *x;
  int64_t T, j;
  double fs_in, xj, xj1, slope;
} seg_interp;

static void seg_init(seg_interp *s, const double *x, int64_t T, double fs_in) {
  s->x = x; s->T = T; s->fs_in = fs_in; s->j = 0;
  s->xj = 0.0 / fs_in; s->xj1 = 1.0 / fs_in;
  s->slope = T > 1 ? (x[1] - x[0]) / (s->xj1 - s->xj) : 0;
}

static inline double seg_at(seg_interp *s, double t) {
  if (s->xj1 <= t) {
    while (s->j + 1 < s->T && s->xj1 <= t) {
      s->j++;
      s->xj = s->xj1;
      s->xj1 = (double)(s->j + 1) / s->fs_in;
    }
    if (s->j + 1 < s->T) s->slope = (s->x[s->j + 1] - s->x[s->j]) / (s->xj1 - s->xj);
  }
  if (s->j >= s->T - 1) return s->x[s->T - 1];
  if (t == s->xj) return s->x[s->j];
  return s->slope * (t - s->xj) + s->x[s->j];
}

lp_status lp_afe_resample(lp_ctx *ctx, const lp_tensor *x, double fs_in, double fs_out,
                          lp_tensor **out) {
  lp_tensor *xc = NULL, *r = NULL;
  lp_status st;
  int64_t B, T, To, b, k, shape[2];
  double step = 1.0 / fs_out;
  *out = NULL;
  if (lp_tensor_ndim(x) != 2) return lp_ctx_error(ctx, LP_ESHAPE, 1, "expected audio (B, T)");
  if (!(fs_in > 0) || !(fs_out > 0) || !isfinite(fs_in) || !isfinite(fs_out))
    return lp_ctx_error(ctx, LP_EARG, 2, "sample rates must be positive");
  if ((st = as_contig(ctx, x, LP_F64, &xc)) != LP_OK) return st;
  B = lp_tensor_size(xc, 0); T = lp_tensor_size(xc, 1);
  To = lp_afe_resample_len(T, fs_in, fs_out);
  shape[0] = B; shape[1] = To;
  if ((st = lp_tensor_empty(ctx, LP_F64, 2, shape, &r)) != LP_OK) goto done;
  for (b = 0; b < B; b++) {
    const double *xv = (const double *)lp_tensor_data(xc) + b * T;
    double *yv = (double *)lp_tensor_data(r) + b * To;
    int64_t g = 0;
    for (k = 0; k < To; k++) {
      double t = (double)k * step;
      if (k > 0) g = (int64_t)(t * fs_in);
      yv[k] = interp_at(xv, T, fs_in, t, &g);
    }
    if (poll(ctx, &st)) goto done;
  }
  *out = r; r = NULL;
done:
  lp_tensor_release(xc);
  lp_tensor_release(r);
  return st;
}

/* ---- quantiser ------------------------------------------------------------------ */

lp_status lp_afe3_quantize(lp_ctx *ctx, const lp_tensor *x, double scale, int num_bits,
                           lp_tensor **out) {
  lp_tensor *xc = NULL, *r = NULL;
  lp_status st;
  int64_t n, i;
  double m;
  *out = NULL;
  if (num_bits < 1 || num_bits > 31) return lp_ctx_error(ctx, LP_EARG, 3, "num_bits must be 1..31");
  m = ldexp(1.0, num_bits - 1);
  if ((st = as_contig(ctx, x, LP_F64, &xc)) != LP_OK) return st;
  if ((st = lp_tensor_empty(ctx, LP_I32, lp_tensor_ndim(xc), lp_tensor_shape(xc), &r)) != LP_OK) goto done;
  n = lp_tensor_numel(xc);
  {
    const double *xv = lp_tensor_data(xc);
    int32_t *yv = lp_tensor_data(r);
    for (i = 0; i < n; i++) {
      double v = scale * xv[i] * m;
      if (v != v) { st = lp_ctx_error(ctx, LP_ERANGE, 1, "audio sample %lld is NaN", (long long)i); goto done; }
      v = trunc(v);
      yv[i] = v >= 2147483647.0 ? INT32_MAX : v <= -2147483648.0 ? INT32_MIN : (int32_t)v;
    }
  }
  *out = r; r = NULL;
done:
  lp_tensor_release(xc);
  lp_tensor_release(r);
  return st;
}

/* ---- PDM microphone ----------------------------------------------------------------- */

#if defined(__GNUC__) && defined(__x86_64__)
/* The same loop with the state as one vector (s0..s3): d = (B0·u, A0·s0, A1·s1,
   A2·s2) + AQ·q, s += d / fs, lane by lane the operations of the scalar loop. */
__attribute__((target("avx2"))) static void mic_run_avx2(seg_interp *si, const double *xv, int direct,
                                                         int64_t Tp, double step, uint8_t *bv) {
  const __m256d A4 = _mm256_setr_pd(DS_B0, DS_A[0], DS_A[1], DS_A[2]);
  const __m256d AQ = _mm256_setr_pd(DS_AQ[0], DS_AQ[1], DS_AQ[2], DS_AQ[3]);
  const __m256d fsv = _mm256_set1_pd(LP_AFE3_PDM_FS);
  const __m256d nAQ = _mm256_sub_pd(_mm256_setzero_pd(), AQ);
  __m256d sv = _mm256_setzero_pd(), aq = _mm256_setzero_pd();   /* AQ·q, q = 0 at first */
  int64_t k;
  for (k = 0; k < Tp; k++) {
    double u = direct ? xv[k] : seg_at(si, (double)k * step);
    /* (u, s0, s1, s2): shift the lanes up by one and put u in lane 0 */
    __m256d sh = _mm256_permute4x64_pd(sv, 0x90);           /* s0 s0 s1 s2 */
    __m256d d, s3v;
    sh = _mm256_blend_pd(sh, _mm256_set1_pd(u), 1);
    d = _mm256_add_pd(_mm256_mul_pd(A4, sh), aq);
    sv = _mm256_add_pd(sv, _mm256_div_pd(d, fsv));
    s3v = _mm256_permute4x64_pd(sv, 0xff);
    {
      __m256d m = _mm256_cmp_pd(s3v, _mm256_setzero_pd(), _CMP_GT_OQ);   /* s3 > 0, no branch */
      aq = _mm256_blendv_pd(nAQ, AQ, m);
      bv[k] = (uint8_t)(_mm256_movemask_pd(m) & 1);
    }
  }
}
#endif

lp_status lp_afe3_pdm_mic(lp_ctx *ctx, const lp_tensor *x, double fs_in, int64_t npre,
                          lp_tensor **bits, lp_tensor **pre_q) {
  lp_tensor *xc = NULL, *rb = NULL, *rp = NULL;
  lp_status st;
  int64_t B, T, Tp, b, k, shape[2];
  const double fs = LP_AFE3_PDM_FS, step = 1.0 / LP_AFE3_PDM_FS;
  int use_avx2 = 0;
#if defined(__GNUC__) && defined(__x86_64__)
  use_avx2 = __builtin_cpu_supports("avx2");
#endif
  *bits = NULL;
  if (pre_q) *pre_q = NULL;
  if (lp_tensor_ndim(x) != 2) return lp_ctx_error(ctx, LP_ESHAPE, 1, "expected audio (B, T)");
  if (!(fs_in > 0) || !isfinite(fs_in)) return lp_ctx_error(ctx, LP_EARG, 2, "sample rate must be positive");
  if ((st = as_contig(ctx, x, LP_F64, &xc)) != LP_OK) return st;
  B = lp_tensor_size(xc, 0); T = lp_tensor_size(xc, 1);
  {
    const double *xv = lp_tensor_data(xc);
    for (k = 0; k < B * T; k++)
      if (!(fabs(xv[k]) <= 1.0)) {
        st = lp_ctx_error(ctx, LP_ERANGE, 1,
                          "audio sample %lld of row %lld is %g: the PDM microphone takes audio in [-1, 1]",
                          (long long)(k % (T ? T : 1) + 1), (long long)(k / (T ? T : 1) + 1), xv[k]);
        goto done;
      }
  }
  Tp = fs_in == fs ? T : lp_afe_resample_len(T, fs_in, fs);
  shape[0] = B; shape[1] = Tp;
  if ((st = lp_tensor_empty(ctx, LP_U8, 2, shape, &rb)) != LP_OK) goto done;
  if (pre_q) {
    shape[1] = npre < Tp ? (npre < 0 ? 0 : npre) : Tp;
    if ((st = lp_tensor_empty(ctx, LP_F64, 2, shape, &rp)) != LP_OK) goto done;
  }
  for (b = 0; b < B; b++) {
    const double *xv = (const double *)lp_tensor_data(xc) + b * T;
    uint8_t *bv = (uint8_t *)lp_tensor_data(rb) + b * Tp;
    double *pv = rp ? (double *)lp_tensor_data(rp) + b * lp_tensor_size(rp, 1) : NULL;
    int64_t np = rp ? lp_tensor_size(rp, 1) : 0, g = 0;
    double s0 = 0, s1 = 0, s2 = 0, s3 = 0, q = 0;
    seg_interp si;
    seg_init(&si, xv, T, fs_in);
    (void)g;
#if defined(__GNUC__) && defined(__x86_64__)
    if (use_avx2 && np == 0) {
      mic_run_avx2(&si, xv, fs_in == fs, Tp, step, bv);
      continue;
    }
#endif
    for (k = 0; k < Tp; k++) {
      double u, d0, d1, d2, d3;
      if (fs_in == fs) u = xv[k];
      else u = seg_at(&si, (double)k * step);
      /* d = A·s + B·u + AQ·q in the reference's order (its zero terms are exact) */
      d0 = DS_B0 * u + DS_AQ[0] * q;
      d1 = DS_A[0] * s0 + DS_AQ[1] * q;
      d2 = DS_A[1] * s1 + DS_AQ[2] * q;
      d3 = DS_A[2] * s2 + DS_AQ[3] * q;
      s0 += d0 / fs; s1 += d1 / fs; s2 += d2 / fs; s3 += d3 / fs;
      if (k < np) pv[k] = s3;
      q = s3 > 0 ? 1.0 : -1.0;
      bv[k] = s3 > 0;
      if ((k & 0xfffff) == 0xfffff && poll(ctx, &st)) goto done;
    }
  }
  *bits = rb; rb = NULL;
  if (pre_q) { *pre_q = rp; rp = NULL; }
done:
  lp_tensor_release(xc);
  lp_tensor_release(rb);
  lp_tensor_release(rp);
  return st;
}

/* ---- polyphase decimation FIR ------------------------------------------------------------ */

#if defined(__GNUC__) && defined(__x86_64__)
/* The FIR dot products with vpmaddwd: 16 int16 products per instruction
   (|h| < 2^15, bits 0/1, sums < 2^21: exact in int32). */
__attribute__((target("avx2"))) static void fir_run_avx2(const int16_t *hr, const int16_t *pad, int64_t M,
                                                         int32_t hsum, int32_t *yv) {
  __m256i h[LP_AFE3_FIR_TAPS / 16];
  int64_t m;
  int i;
  for (i = 0; i < LP_AFE3_FIR_TAPS / 16; i++) h[i] = _mm256_loadu_si256((const __m256i *)(hr + 16 * i));
  for (m = 0; m < M; m++) {
    const int16_t *p = pad + LP_AFE3_PDM_DECIM * m;
    __m256i acc = _mm256_setzero_si256();
    __m128i a;
    int32_t sum;
    for (i = 0; i < LP_AFE3_FIR_TAPS / 16; i++)
      acc = _mm256_add_epi32(acc, _mm256_madd_epi16(h[i], _mm256_loadu_si256((const __m256i *)(p + 16 * i))));
    a = _mm_add_epi32(_mm256_castsi256_si128(acc), _mm256_extracti128_si256(acc, 1));
    a = _mm_add_epi32(a, _mm_shuffle_epi32(a, 0x4e));
    a = _mm_add_epi32(a, _mm_shuffle_epi32(a, 0xb1));
    sum = _mm_cvtsi128_si32(a);
    yv[m] = (2 * sum - hsum) >> FIR_SHIFT;
  }
}
#endif

lp_status lp_afe3_pdm_fir(lp_ctx *ctx, const lp_tensor *bits, lp_tensor **out) {
  lp_tensor *bc = NULL, *r = NULL;
  lp_status st;
  int64_t B, Tp, M, b, m, i, shape[2];
  int16_t hr[LP_AFE3_FIR_TAPS];
  lp_dtype bdt;
  size_t es;
  int16_t *pad = NULL;
  size_t padn = 0;
  int32_t hsum = 0;
  int use_avx2 = 0;
#if defined(__GNUC__) && defined(__x86_64__)
  use_avx2 = __builtin_cpu_supports("avx2");
#endif
  *out = NULL;
  if (lp_tensor_ndim(bits) != 2) return lp_ctx_error(ctx, LP_ESHAPE, 1, "expected PDM bits (B, T)");
  if (lp_dtype_is_float(lp_tensor_dtype(bits))) return lp_ctx_error(ctx, LP_ETYPE, 1, "PDM bits must be integers 0/1");
  if ((st = lp_tensor_contiguous(ctx, (lp_tensor *)bits, &bc)) != LP_OK) return st;
  B = lp_tensor_size(bc, 0); Tp = lp_tensor_size(bc, 1);
  M = (Tp + LP_AFE3_PDM_DECIM - 1) / LP_AFE3_PDM_DECIM + 8;
  bdt = lp_tensor_dtype(bc);
  es = lp_dtype_size(bdt);
  shape[0] = B; shape[1] = M;
  if ((st = lp_tensor_empty(ctx, LP_I32, 2, shape, &r)) != LP_OK) goto done;
  for (i = 0; i < LP_AFE3_FIR_TAPS; i++) { hr[i] = FIR_H[LP_AFE3_FIR_TAPS - 1 - i]; hsum += FIR_H[i]; }
  /* padded bits: 255 zeros, the bits, zeros up to the last output's reach */
  padn = (size_t)(LP_AFE3_FIR_TAPS - 1) + (size_t)(LP_AFE3_PDM_DECIM * (M - 1) + 1);
  if ((size_t)Tp + LP_AFE3_FIR_TAPS - 1 > padn) padn = (size_t)Tp + LP_AFE3_FIR_TAPS - 1;
  pad = lp_ctx_alloc(ctx, padn * sizeof *pad);
  if (!pad) { st = LP_ENOMEM; goto done; }
  for (b = 0; b < B; b++) {
    const char *bv = (const char *)lp_tensor_data(bc) + (size_t)(b * Tp) * es;
    int32_t *yv = (int32_t *)lp_tensor_data(r) + b * M;
    int16_t *pb = pad + LP_AFE3_FIR_TAPS - 1;
    int bad = 0;
    memset(pad, 0, padn * sizeof *pad);
    switch (bdt) {     /* the bits, as 0/1 int16; any other value is refused below */
    case LP_U8: case LP_BOOL: for (i = 0; i < Tp; i++) { uint8_t v = ((const uint8_t *)bv)[i]; bad |= v > 1; pb[i] = v; } break;
    case LP_I8: for (i = 0; i < Tp; i++) { int8_t v = ((const int8_t *)bv)[i]; bad |= (v & ~1) != 0; pb[i] = (int16_t)(v & 1); } break;
    case LP_I32: for (i = 0; i < Tp; i++) { int32_t v = ((const int32_t *)bv)[i]; bad |= (v & ~1) != 0; pb[i] = (int16_t)(v & 1); } break;
    case LP_I64: for (i = 0; i < Tp; i++) { int64_t v = ((const int64_t *)bv)[i]; bad |= (v & ~(int64_t)1) != 0; pb[i] = (int16_t)(v & 1); } break;
    default: for (i = 0; i < Tp; i++) { int64_t v = lp_load_i(bdt, bv + i * es); bad |= (v & ~(int64_t)1) != 0; pb[i] = (int16_t)(v & 1); }
    }
    if (bad)
      for (i = 0; i < Tp; i++) {
        int64_t v = lp_load_i(bdt, bv + i * es);
        if (v != 0 && v != 1) {
          st = lp_ctx_error(ctx, LP_ERANGE, 1, "PDM bit %lld of row %lld is %lld: bits must be 0 or 1",
                            (long long)(i + 1), (long long)(b + 1), (long long)v);
          goto done;
        }
      }
    /* y[m] = Σ_k h[k]·b[32m − k] = Σ_i hr[i]·pad[32m + i] */
#if defined(__GNUC__) && defined(__x86_64__)
    if (use_avx2) fir_run_avx2(hr, pad, M, hsum, yv);
    else
#endif
    for (m = 0; m < M; m++) {
      const int16_t *p = pad + LP_AFE3_PDM_DECIM * m;
      int32_t acc = 0;
      for (i = 0; i < LP_AFE3_FIR_TAPS; i++) acc += (int32_t)hr[i] * (int32_t)p[i];
      yv[m] = (2 * acc - hsum) >> FIR_SHIFT;
    }
    if (poll(ctx, &st)) goto done;
  }
  *out = r; r = NULL;
done:
  if (pad) lp_ctx_dealloc(ctx, pad, padn * sizeof *pad);
  lp_tensor_release(bc);
  lp_tensor_release(r);
  return st;
}

/* ---- filter bank -------------------------------------------------------------------------- */

/* Lane arrays: NF lanes, lane j runs filter sel[j] (j < n) or nothing. */
typedef struct fb_lanes {
  int64_t a1[NF], a2[NF];
  int64_t baf[NF], bb[NF];
  int64_t lim_w[NF], lim_z[NF];   /* 2^(B_w−1): |W|, |z| must stay below */
} fb_lanes;

/* One step of all lanes: W_new from u = x << B_wf; returns nothing, updates
   w1, w2, w3 (W[n−1], W[n−2], W[n−3] after the step: w1 = W[n]). z[n] =
   W[n−1] − W[n−3] is computed before the update by the caller. */
#define FB_STEP(L, w1, w2, w3, u)                                                   \
  do {                                                                              \
    int j_;                                                                         \
    for (j_ = 0; j_ < NF; j_++) {                                                   \
      int64_t fbk = -(L)->a2[j_] * (int64_t)(int32_t)w2[j_] - (L)->a1[j_] * (int64_t)(int32_t)w1[j_]; \
      int64_t v = (u) + SRA64(fbk, (L)->baf[j_]);                                   \
      int64_t wn = SRA64(v, (L)->bb[j_]);                                           \
      w3[j_] = w2[j_]; w2[j_] = w1[j_]; w1[j_] = wn;                                \
    }                                                                               \
  } while (0)

/* The run over one row: returns the first sample (0-based, forward half) whose
   AR state or output left its range, or −1. */
#define FB_KERNEL(ATTR, NAME)                                                       \
  ATTR static int64_t NAME(const fb_lanes *L, const int32_t *x, int64_t T, int flip, \
                           int n, int32_t *out) {                                   \
    int64_t w1[NF], w2[NF], w3[NF];                                                 \
    int64_t t, bad = -1;                                                            \
    int j;                                                                          \
    memset(w1, 0, sizeof w1); memset(w2, 0, sizeof w2); memset(w3, 0, sizeof w3);   \
    if (flip)                                                                       \
      for (t = T - 1; t >= 0; t--) {                                                \
        int64_t u = (int64_t)x[t] * (1 << B_WF);                                    \
        FB_STEP(L, w1, w2, w3, u);                                                  \
      }                                                                             \
    for (t = 0; t < T; t++) {                                                       \
      int64_t u = (int64_t)x[t] * (1 << B_WF);                                      \
      int64_t ovf = 0;                                                              \
      for (j = 0; j < NF; j++) {                                                    \
        int64_t z = w1[j] - w3[j];                                                  \
        int64_t az = z < 0 ? -z : z, aw = w1[j] < 0 ? -w1[j] : w1[j];               \
        ovf |= (az >= L->lim_z[j]) | (aw >= L->lim_w[j]);                           \
        if (j < n) out[t * n + j] = (int32_t)z;                                     \
      }                                                                             \
      if (ovf && bad < 0) bad = t;                                                  \
      FB_STEP(L, w1, w2, w3, u);                                                    \
    }                                                                               \
    return bad;                                                                     \
  }

FB_KERNEL(, fb_run_generic)

#if defined(__GNUC__) && defined(__x86_64__)
#include <immintrin.h>
#define AVX2 __attribute__((target("avx2")))

/* v >> k per 64-bit lane, arithmetic (AVX2 has only the logical shift). */
AVX2 static inline __m256i sra64(__m256i v, __m256i k) {
  __m256i s = _mm256_cmpgt_epi64(_mm256_setzero_si256(), v);
  return _mm256_xor_si256(_mm256_srlv_epi64(_mm256_xor_si256(v, s), k), s);
}
/* the low 32 bits of the 4 lanes of v, packed */
AVX2 static inline __m128i pack32(__m256i v) {
  const __m256i idx = _mm256_setr_epi32(0, 2, 4, 6, 0, 2, 4, 6);
  return _mm256_castsi256_si128(_mm256_permutevar8x32_epi32(v, idx));
}

/* The filter bank with 4 vectors of 4 lanes. |W| < 2^28 and |a| < 2^15, so
   the products are 32×32 → 64-bit (vpmuldq). The overflow check keeps the OR
   of (v ^ sign) over the run (|v| or |v| − 1) per lane; when a lane reaches
   its limit − 1 the generic kernel runs again to find the exact sample. */
AVX2 static int64_t fb_run_avx2(const fb_lanes *L, const int32_t *x, int64_t T, int flip, int n,
                               int32_t *out) {
  __m256i w1[4], w2[4], w3[4], na1[4], na2[4], baf[4], bb[4], orz[4];
  int32_t row[NF];
  int64_t t, dir, t0, t1;
  int v, pass;
  for (v = 0; v < 4; v++) {
    w1[v] = w2[v] = w3[v] = orz[v] = _mm256_setzero_si256();
    na1[v] = _mm256_setr_epi64x(-L->a1[4 * v], -L->a1[4 * v + 1], -L->a1[4 * v + 2], -L->a1[4 * v + 3]);
    na2[v] = _mm256_setr_epi64x(-L->a2[4 * v], -L->a2[4 * v + 1], -L->a2[4 * v + 2], -L->a2[4 * v + 3]);
    baf[v] = _mm256_loadu_si256((const __m256i *)(L->baf + 4 * v));
    bb[v] = _mm256_loadu_si256((const __m256i *)(L->bb + 4 * v));
  }
  for (pass = flip ? 0 : 1; pass < 2; pass++) {
    if (pass == 0) { t0 = T - 1; t1 = -1; dir = -1; } else { t0 = 0; t1 = T; dir = 1; }
    for (t = t0; t != t1; t += dir) {
      const __m256i u = _mm256_set1_epi64x((int64_t)x[t] * (1 << B_WF));
      for (v = 0; v < 4; v++) {
        __m256i fbk, wn;
        if (pass == 1) {
          __m256i z = _mm256_sub_epi64(w1[v], w3[v]);
          __m256i sz = _mm256_cmpgt_epi64(_mm256_setzero_si256(), z);
          __m256i sw = _mm256_cmpgt_epi64(_mm256_setzero_si256(), w1[v]);
          orz[v] = _mm256_or_si256(orz[v], _mm256_or_si256(_mm256_xor_si256(z, sz), _mm256_xor_si256(w1[v], sw)));
          if (n == NF) _mm_storeu_si128((__m128i *)(out + t * n + 4 * v), pack32(z));
          else _mm_storeu_si128((__m128i *)(row + 4 * v), pack32(z));
        }
        fbk = _mm256_add_epi64(_mm256_mul_epi32(w2[v], na2[v]), _mm256_mul_epi32(w1[v], na1[v]));
        wn = sra64(_mm256_add_epi64(u, sra64(fbk, baf[v])), bb[v]);
        w3[v] = w2[v]; w2[v] = w1[v]; w1[v] = wn;
      }
      if (pass == 1 && n < NF) memcpy(out + t * n, row, (size_t)n * sizeof *row);
    }
  }
  {
    int64_t o[NF];
    int j;
    for (v = 0; v < 4; v++) _mm256_storeu_si256((__m256i *)(o + 4 * v), orz[v]);
    for (j = 0; j < n; j++)
      if (o[j] >= L->lim_z[j] - 1 || o[j] >= L->lim_w[j] - 1) return fb_run_generic(L, x, T, flip, n, out);
  }
  return -1;
}
#endif

lp_status lp_afe3_filterbank(lp_ctx *ctx, const lp_tensor *x, int n, const int *sel, int flip,
                             lp_tensor **out) {
  lp_tensor *xc = NULL, *r = NULL;
  lp_status st;
  int64_t B, T, b, i, shape[3];
  fb_lanes L;
  int j, use_avx2 = 0;
  *out = NULL;
  if (lp_tensor_ndim(x) != 2) return lp_ctx_error(ctx, LP_ESHAPE, 1, "expected audio samples (B, T)");
  if (n < 1 || n > NF) return lp_ctx_error(ctx, LP_EARG, 2, "between 1 and 16 filters, got %d", n);
  memset(&L, 0, sizeof L);
  for (j = 0; j < NF; j++) { L.lim_w[j] = INT64_MAX; L.lim_z[j] = INT64_MAX; }
  for (j = 0; j < n; j++) {
    int f = sel[j];
    if (f < 0 || f >= NF) return lp_ctx_error(ctx, LP_EARG, 3, "filter id %d is not in 0..15", f);
    L.a1[j] = FB[f][3]; L.a2[j] = FB[f][4]; L.baf[j] = FB[f][2]; L.bb[j] = FB[f][1];
    L.lim_w[j] = L.lim_z[j] = (int64_t)1 << (B_IN + FB[f][0] + B_WF - 1);
  }
  if (lp_dtype_is_float(lp_tensor_dtype(x))) return lp_ctx_error(ctx, LP_ETYPE, 1, "audio samples must be integers");
  if ((st = as_i32(ctx, x, 1, &xc)) != LP_OK) return st;
  B = lp_tensor_size(xc, 0); T = lp_tensor_size(xc, 1);
  {
    const int32_t *xv = lp_tensor_data(xc);
    int32_t lo = 0, hi = 0;
    for (i = 0; i < B * T; i++) { lo = xv[i] < lo ? xv[i] : lo; hi = xv[i] > hi ? xv[i] : hi; }
    if (hi >= (1 << (B_IN - 1)) || lo <= -(1 << (B_IN - 1)))
      for (i = 0; i < B * T; i++)
        if (xv[i] >= (1 << (B_IN - 1)) || xv[i] <= -(1 << (B_IN - 1))) {
          st = lp_ctx_error(ctx, LP_ERANGE, 1,
                            "audio sample %lld of row %lld is %lld: the filter bank takes 14-bit audio (|x| < 8192)",
                            (long long)(i % T + 1), (long long)(i / T + 1), (long long)xv[i]);
          lp_tensor_release(xc);
          return st;
        }
  }
  shape[0] = B; shape[1] = T; shape[2] = n;
  if ((st = lp_tensor_empty(ctx, LP_I32, 3, shape, &r)) != LP_OK) goto done;
#if defined(__GNUC__) && defined(__x86_64__)
  use_avx2 = __builtin_cpu_supports("avx2");
#endif
  for (b = 0; b < B; b++) {
    const int32_t *xv = (const int32_t *)lp_tensor_data(xc) + b * T;
    int32_t *yv = (int32_t *)lp_tensor_data(r) + b * T * n;
    int64_t bad;
#if defined(__GNUC__) && defined(__x86_64__)
    bad = use_avx2 ? fb_run_avx2(&L, xv, T, flip, n, yv) : fb_run_generic(&L, xv, T, flip, n, yv);
#else
    (void)use_avx2;
    bad = fb_run_generic(&L, xv, T, flip, n, yv);
#endif
    if (bad >= 0) {
      st = lp_ctx_error(ctx, LP_ERANGE, 1, "filter bank overflow at sample %lld of row %lld",
                        (long long)(bad + 1), (long long)(b + 1));
      goto done;
    }
    if (poll(ctx, &st)) goto done;
  }
  *out = r; r = NULL;
done:
  lp_tensor_release(xc);
  lp_tensor_release(r);
  return st;
}

/* ---- divisive normalisation / spike generation ------------------------------------------------ */

typedef struct dn_lanes {
  int64_t en[NF];                 /* all ones: DN threshold; 0: fixed */
  int64_t b1[NF], b2[NF], L[NF], eps[NF], fix[NF];
  int64_t live[NF];               /* all ones for real lanes */
} dn_lanes;

typedef struct dn_out {
  int32_t *spikes;                /* (T, n) or NULL */
  int32_t *raster;                /* (ceil(T/k), n) or NULL */
  int k, maxcount;
  int64_t *high, *low, *iaf, *thr;  /* (T, n) or NULL */
} dn_out;

/* One DN step of all lanes for input r (|z|, lanes beyond n are 0):
   spk[j] = 1 when lane j fires. */
#define DN_STEP(D, H, acc, r, spk, lowv, thrv, joint)                               \
  do {                                                                              \
    int j_;                                                                         \
    int64_t tmax = 0;                                                               \
    for (j_ = 0; j_ < NF; j_++) {                                                   \
      int64_t lo = (int64_t)((uint64_t)H[j_] >> (D)->L[j_]);                        \
      int64_t t_;                                                                   \
      H[j_] = H[j_] - lo + r[j_];                                                   \
      t_ = lo > (D)->eps[j_] ? lo : (D)->eps[j_];                                   \
      t_ = (int64_t)(((uint64_t)t_ << (D)->b1[j_]) - ((uint64_t)t_ << (D)->b2[j_])); \
      t_ &= (D)->live[j_];                                                          \
      lowv[j_] = lo; thrv[j_] = t_;                                                 \
      tmax = t_ > tmax ? t_ : tmax;                                                 \
    }                                                                               \
    for (j_ = 0; j_ < NF; j_++) {                                                   \
      int64_t th = (joint) ? tmax : thrv[j_];                                       \
      int64_t ap = (th & (D)->en[j_]) | ((D)->fix[j_] & ~(D)->en[j_]);               \
      int64_t s_;                                                                   \
      acc[j_] += r[j_];                                                             \
      s_ = -(int64_t)(acc[j_] >= ap);                                               \
      acc[j_] -= ap & s_;                                                           \
      spk[j_] = s_ & 1;                                                             \
      thrv[j_] = ap;                                                                \
    }                                                                               \
  } while (0)

#define DN_KERNEL(ATTR, NAME)                                                       \
  ATTR static void NAME(const dn_lanes *D, const int32_t *z, int64_t T, int n, int flip, \
                        int joint, const dn_out *o) {                               \
    int64_t H[NF], acc[NF], r[NF], spk[NF], lowv[NF], thrv[NF];                     \
    int64_t t;                                                                      \
    int j;                                                                          \
    memset(H, 0, sizeof H); memset(acc, 0, sizeof acc); memset(r, 0, sizeof r);     \
    if (flip)                                                                       \
      for (t = T - 1; t >= 0; t--) {                                                \
        for (j = 0; j < n; j++) { int64_t v = z[t * n + j]; r[j] = v < 0 ? -v : v; } \
        DN_STEP(D, H, acc, r, spk, lowv, thrv, joint);                              \
      }                                                                             \
    for (t = 0; t < T; t++) {                                                       \
      for (j = 0; j < n; j++) { int64_t v = z[t * n + j]; r[j] = v < 0 ? -v : v; }  \
      DN_STEP(D, H, acc, r, spk, lowv, thrv, joint);                                \
      if (o->spikes) for (j = 0; j < n; j++) o->spikes[t * n + j] = (int32_t)spk[j]; \
      if (o->raster) {                                                              \
        int32_t *row = o->raster + (t / o->k) * n;                                  \
        for (j = 0; j < n; j++) row[j] += (int32_t)spk[j];                          \
      }                                                                             \
      if (o->high) for (j = 0; j < n; j++) o->high[t * n + j] = H[j];               \
      if (o->low) for (j = 0; j < n; j++) o->low[t * n + j] = lowv[j];              \
      if (o->iaf) for (j = 0; j < n; j++) o->iaf[t * n + j] = acc[j];               \
      if (o->thr) for (j = 0; j < n; j++) o->thr[t * n + j] = thrv[j];              \
    }                                                                               \
  }

DN_KERNEL(, dn_run_generic)

#if defined(__GNUC__) && defined(__x86_64__)
/* The DN with 4 vectors of 4 lanes, for the common case: joint threshold,
   no state records. Spikes are stored when asked; the raster is kept as
   per-lane counts and written at the end of each block of k samples. */
AVX2 static void dn_run_avx2(const dn_lanes *D, const int32_t *z, int64_t T, int n, int flip,
                             const dn_out *o) {
  __m256i H[4], acc[4], L[4], eps[4], b1[4], b2[4], en[4], fix[4], live[4], cnt[4];
  int32_t zr[NF];
  int64_t t, t0, t1, dir, blk = 0;
  int v, pass, j;
  const __m256i zero = _mm256_setzero_si256();
  memset(zr, 0, sizeof zr);
  for (v = 0; v < 4; v++) {
    H[v] = acc[v] = cnt[v] = zero;
    L[v] = _mm256_loadu_si256((const __m256i *)(D->L + 4 * v));
    eps[v] = _mm256_loadu_si256((const __m256i *)(D->eps + 4 * v));
    b1[v] = _mm256_loadu_si256((const __m256i *)(D->b1 + 4 * v));
    b2[v] = _mm256_loadu_si256((const __m256i *)(D->b2 + 4 * v));
    en[v] = _mm256_loadu_si256((const __m256i *)(D->en + 4 * v));
    fix[v] = _mm256_loadu_si256((const __m256i *)(D->fix + 4 * v));
    live[v] = _mm256_loadu_si256((const __m256i *)(D->live + 4 * v));
  }
  for (pass = flip ? 0 : 1; pass < 2; pass++) {
    if (pass == 0) { t0 = T - 1; t1 = -1; dir = -1; } else { t0 = 0; t1 = T; dir = 1; }
    for (t = t0; t != t1; t += dir) {
      __m256i r[4], thr[4], m, s;
      const int32_t *zp = z + t * n;
      if (n < NF) { memcpy(zr, zp, (size_t)n * sizeof *zr); zp = zr; }
      for (v = 0; v < 4; v++) {
        __m256i lo, tt;
        r[v] = _mm256_cvtepu32_epi64(_mm_abs_epi32(_mm_loadu_si128((const __m128i *)(zp + 4 * v))));
        lo = _mm256_srlv_epi64(H[v], L[v]);
        H[v] = _mm256_add_epi64(_mm256_sub_epi64(H[v], lo), r[v]);
        tt = _mm256_blendv_epi8(eps[v], lo, _mm256_cmpgt_epi64(lo, eps[v]));
        tt = _mm256_sub_epi64(_mm256_sllv_epi64(tt, b1[v]), _mm256_sllv_epi64(tt, b2[v]));
        thr[v] = _mm256_and_si256(tt, live[v]);
      }
      /* joint threshold: the max over the 16 lanes, broadcast */
      m = _mm256_blendv_epi8(thr[1], thr[0], _mm256_cmpgt_epi64(thr[0], thr[1]));
      s = _mm256_blendv_epi8(thr[3], thr[2], _mm256_cmpgt_epi64(thr[2], thr[3]));
      m = _mm256_blendv_epi8(s, m, _mm256_cmpgt_epi64(m, s));
      s = _mm256_permute4x64_epi64(m, 0x4e);
      m = _mm256_blendv_epi8(s, m, _mm256_cmpgt_epi64(m, s));
      s = _mm256_permute4x64_epi64(m, 0xb1);
      m = _mm256_blendv_epi8(s, m, _mm256_cmpgt_epi64(m, s));
      for (v = 0; v < 4; v++) {
        __m256i ap = _mm256_blendv_epi8(fix[v], m, en[v]);
        __m256i sp;
        acc[v] = _mm256_add_epi64(acc[v], r[v]);
        sp = _mm256_andnot_si256(_mm256_cmpgt_epi64(ap, acc[v]), live[v]);   /* acc >= ap */
        acc[v] = _mm256_sub_epi64(acc[v], _mm256_and_si256(ap, sp));
        if (pass == 1) {
          cnt[v] = _mm256_sub_epi64(cnt[v], sp);
          if (o->spikes) {
            __m128i p32 = _mm_sub_epi32(_mm_setzero_si128(), pack32(sp));
            if (n == NF) _mm_storeu_si128((__m128i *)(o->spikes + t * n + 4 * v), p32);
            else _mm_storeu_si128((__m128i *)(zr + 4 * v), p32);
          }
        }
      }
      if (pass == 1) {
        if (o->spikes && n < NF) memcpy(o->spikes + t * n, zr, (size_t)n * sizeof *zr);
        if (o->raster && (++blk == o->k || t == T - 1)) {
          int64_t c[NF];
          int32_t *rowp = o->raster + (t / o->k) * n;
          for (v = 0; v < 4; v++) { _mm256_storeu_si256((__m256i *)(c + 4 * v), cnt[v]); cnt[v] = zero; }
          for (j = 0; j < n; j++) rowp[j] += (int32_t)c[j];
          blk = 0;
        }
      }
    }
  }
}
#endif

static lp_status new_btn(lp_ctx *ctx, lp_dtype dt, int64_t B, int64_t T, int64_t n, int zero,
                         lp_tensor **out) {
  int64_t shape[3];
  shape[0] = B; shape[1] = T; shape[2] = n;
  return zero ? lp_tensor_new(ctx, dt, 3, shape, out) : lp_tensor_empty(ctx, dt, 3, shape, out);
}

lp_status lp_afe3_dn(lp_ctx *ctx, const lp_tensor *z, const lp_afe3_dn_params *p, int flip,
                     lp_tensor **spikes, int k, int maxcount, lp_tensor **raster,
                     lp_afe3_dn_record *rec) {
  lp_tensor *zc = NULL, *rs = NULL, *rr = NULL, *rh = NULL, *rl = NULL, *ri = NULL, *rt = NULL;
  lp_status st = LP_OK;
  int64_t B, T, b, i, nb = 0;
  int n = p->n, j, use_avx2 = 0;
  dn_lanes D;
  if (spikes) *spikes = NULL;
  if (raster) *raster = NULL;
  if (lp_tensor_ndim(z) != 3 || lp_tensor_size(z, 2) != n)
    return lp_ctx_error(ctx, LP_ESHAPE, 1, "expected filter-bank output (B, T, %d)", n);
  if (n < 1 || n > NF) return lp_ctx_error(ctx, LP_EARG, 2, "between 1 and 16 channels, got %d", n);
  if (raster && k < 1) return lp_ctx_error(ctx, LP_EARG, 5, "down-sampling factor must be >= 1");
  memset(&D, 0, sizeof D);
  for (j = 0; j < n; j++) {
    if (!(p->b2[j] >= 0 && p->b2[j] < p->b1[j] && p->b1[j] <= 31))
      return lp_ctx_error(ctx, LP_EARG, 2, "channel %d: rate-scale bit shifts need 0 <= b2 < b1 <= 31", j + 1);
    if (p->lowpass[j] < 0 || p->lowpass[j] > 31)
      return lp_ctx_error(ctx, LP_EARG, 2, "channel %d: low-pass bit shift must be 0..31", j + 1);
    if (p->eps[j] < 0 || p->threshold[j] < 0)
      return lp_ctx_error(ctx, LP_EARG, 2, "channel %d: EPS and thresholds must be >= 0", j + 1);
    D.en[j] = p->enable[j] ? -1 : 0;
    D.b1[j] = p->b1[j]; D.b2[j] = p->b2[j]; D.L[j] = p->lowpass[j];
    D.eps[j] = p->eps[j]; D.fix[j] = p->threshold[j]; D.live[j] = -1;
  }
  if (lp_dtype_is_float(lp_tensor_dtype(z))) return lp_ctx_error(ctx, LP_ETYPE, 1, "filter-bank output must be integers");
  if ((st = as_i32(ctx, z, 1, &zc)) != LP_OK) return st;   /* |z| of int32 is exact in the kernels */
  B = lp_tensor_size(zc, 0); T = lp_tensor_size(zc, 1);
  if (spikes && (st = new_btn(ctx, LP_I32, B, T, n, 0, &rs)) != LP_OK) goto done;
  if (raster) {
    nb = (T + k - 1) / k;
    if ((st = new_btn(ctx, LP_I32, B, nb, n, 1, &rr)) != LP_OK) goto done;
  }
  if (rec) {
    if (rec->high && (st = new_btn(ctx, LP_I64, B, T, n, 0, &rh)) != LP_OK) goto done;
    if (rec->low && (st = new_btn(ctx, LP_I64, B, T, n, 0, &rl)) != LP_OK) goto done;
    if (rec->iaf && (st = new_btn(ctx, LP_I64, B, T, n, 0, &ri)) != LP_OK) goto done;
    if (rec->thr && (st = new_btn(ctx, LP_I64, B, T, n, 0, &rt)) != LP_OK) goto done;
  }
#if defined(__GNUC__) && defined(__x86_64__)
  use_avx2 = __builtin_cpu_supports("avx2");
#endif
  for (b = 0; b < B; b++) {
    dn_out o;
    const int32_t *zv = (const int32_t *)lp_tensor_data(zc) + b * T * n;
    memset(&o, 0, sizeof o);
    o.k = k; o.maxcount = maxcount;
    if (rs) o.spikes = (int32_t *)lp_tensor_data(rs) + b * T * n;
    if (rr) o.raster = (int32_t *)lp_tensor_data(rr) + b * nb * n;
    if (rh) o.high = (int64_t *)lp_tensor_data(rh) + b * T * n;
    if (rl) o.low = (int64_t *)lp_tensor_data(rl) + b * T * n;
    if (ri) o.iaf = (int64_t *)lp_tensor_data(ri) + b * T * n;
    if (rt) o.thr = (int64_t *)lp_tensor_data(rt) + b * T * n;
#if defined(__GNUC__) && defined(__x86_64__)
    if (use_avx2 && p->joint && !o.high && !o.low && !o.iaf && !o.thr) dn_run_avx2(&D, zv, T, n, flip, &o);
    else dn_run_generic(&D, zv, T, n, flip, p->joint, &o);
#else
    (void)use_avx2;
    dn_run_generic(&D, zv, T, n, flip, p->joint, &o);
#endif
    if (o.raster)
      for (i = 0; i < nb * n; i++) if (o.raster[i] > maxcount) o.raster[i] = maxcount;
    if (poll(ctx, &st)) goto done;
  }
  if (spikes) { *spikes = rs; rs = NULL; }
  if (raster) { *raster = rr; rr = NULL; }
  if (rec) {
    rec->high = rh; rec->low = rl; rec->iaf = ri; rec->thr = rt;
    rh = rl = ri = rt = NULL;
  }
done:
  lp_tensor_release(zc);
  lp_tensor_release(rs); lp_tensor_release(rr);
  lp_tensor_release(rh); lp_tensor_release(rl); lp_tensor_release(ri); lp_tensor_release(rt);
  if (st != LP_OK && rec) { rec->high = rec->low = rec->iaf = rec->thr = NULL; }
  return st;
}

lp_status lp_afe3_raster(lp_ctx *ctx, const lp_tensor *spikes, int k, int maxcount, lp_tensor **out) {
  lp_tensor *sc = NULL, *r = NULL;
  lp_status st;
  int64_t B, T, n, nb, b, t, j;
  *out = NULL;
  if (lp_tensor_ndim(spikes) != 3) return lp_ctx_error(ctx, LP_ESHAPE, 1, "expected spikes (B, T, N)");
  if (k < 1) return lp_ctx_error(ctx, LP_EARG, 2, "down-sampling factor must be >= 1");
  if ((st = as_contig(ctx, spikes, LP_I64, &sc)) != LP_OK) return st;
  B = lp_tensor_size(sc, 0); T = lp_tensor_size(sc, 1); n = lp_tensor_size(sc, 2);
  nb = (T + k - 1) / k;
  if ((st = new_btn(ctx, LP_I32, B, nb, n, 1, &r)) != LP_OK) goto done;
  for (b = 0; b < B; b++) {
    const int64_t *sv = (const int64_t *)lp_tensor_data(sc) + b * T * n;
    int32_t *rv = (int32_t *)lp_tensor_data(r) + b * nb * n;
    for (t = 0; t < T; t++)
      for (j = 0; j < n; j++) {
        int64_t v = rv[(t / k) * n + j] + sv[t * n + j];
        rv[(t / k) * n + j] = (int32_t)(v > INT32_MAX ? INT32_MAX : v < INT32_MIN ? INT32_MIN : v);
      }
    for (t = 0; t < nb * n; t++) {
      if (rv[t] > maxcount) rv[t] = maxcount;
      if (rv[t] < 0) rv[t] = 0;
    }
  }
  *out = r; r = NULL;
done:
  lp_tensor_release(sc);
  lp_tensor_release(r);
  return st;
}
