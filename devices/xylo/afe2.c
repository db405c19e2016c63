/*
** devices/xylo/afe2.c -- the Xylo Audio 2 analog front-end model (declared
** in afe.h; reference/xylo.md §11.1), float64, after the reference's
** empirical model: microphone distortion, LNA, 16 Butterworth band-pass
** filters, the AC-coupling high-pass with zero-phase filtering, full-wave
** rectifier, the IAF spike generator, the digital counter and the raster.
** Owns: the filter designs (Butterworth by bilinear transform, as scipy's
** butter), the sample loops in the reference's float operation order (so
** that with the reference's filter coefficients the traces agree to the last
** bits), and the noise generator (white Gaussian noise shaped by
** (knee/f)^alpha below the knee in the frequency domain).
** Not here: defaults, mismatch draws and options (devices/xylo/afe2.lua).
**
** Notation: the doubled signal d = [reverse(x), x] (length 2T) runs through
** every stage but the spike generator, which sees the second half only
** (the reference's boundary trick). Per sample the 16 channels sit side by
** side in memory, (2T, 16), so that the channel loops vectorise.
** Operation orders copied from the reference (NumPy / SciPy):
**   mic   y = u + (THD·vc)·((3u)/vc − 4·(u/vc)³), clipped, + input_offset
**   LNA   s = g·(y + off); y = vc·(s/vc − D·(s/vc)³), clipped, + off
**   (cubes as products: within an ulp of NumPy's power, which the tolerance allows)
**   sos   y = b0·x + z0; z0 = (b1·x − a1·y) + z1; z1 = b2·x − a2·y  (per section)
**   lfilter (first order) y = z + b0·x; z = x·b1 − y·a1
**   filtfilt: odd extension by 6, zi = (b1 − a1·b0)/(1 + a1) times the first
**         value, forward, then backward from the last output
**   IAF   dv = (dt·(v2i·r) − (leak·V)·dt)/C; V += dv; clip [0, VCC]; spike at V ≥ thr, V = 0
*/
#include "afe.h"
#include <math.h>
#include <string.h>
#include <complex.h>

/* no a·b + c contraction: -std=c11 builds with -ffp-contract=off */

#define NC 16
#define EDGE 6

/* ---- filter design (scipy.signal.butter, digital, fs = 2 normalisation) ---------- */

void lp_afe2_design_highpass(double fc, double fs, double b[2], double a[2]) {
  /* prototype pole −1; lp2hp: pole −wo, zero 0; bilinear (fs2 = 4) */
  double wn = fc / (0.5 * fs);
  double wo = 4.0 * tan(M_PI * wn / 2.0);
  double pz = (4.0 + (-wo)) / (4.0 - (-wo));
  double k = (4.0 - 0.0) / (4.0 - (-wo));
  b[0] = k; b[1] = -k;
  a[0] = 1.0; a[1] = -pz;
}

void lp_afe2_design_bandpass(double lo, double hi, double fs, double sos[2][6]) {
  double nyq = 0.5 * fs;
  double w1 = 4.0 * tan(M_PI * (lo / nyq) / 2.0), w2 = 4.0 * tan(M_PI * (hi / nyq) / 2.0);
  double bw = w2 - w1, wo = sqrt(w1 * w2);
  double complex proto[2], pb[4], pz[4], num = 1, den = 1;
  double k, dist[2];
  int i, near, far;
  /* Butterworth prototype, order 2: −exp(±iπ/4) (scipy's buttap order) */
  proto[0] = -cexp(I * M_PI * -1.0 / 4.0);
  proto[1] = -cexp(I * M_PI * 1.0 / 4.0);
  /* lp2bp_zpk */
  for (i = 0; i < 2; i++) {
    double complex pl = proto[i] * bw / 2.0;
    double complex sq = csqrt(pl * pl - wo * wo);
    pb[i] = pl + sq;
    pb[i + 2] = pl - sq;
  }
  k = bw * bw;
  /* bilinear_zpk (fs = 2): zeros 0 → 1 (twice), plus 2 zeros at −1 */
  for (i = 0; i < 4; i++) pz[i] = (4.0 + pb[i]) / (4.0 - pb[i]);
  num = (4.0 - 0.0) * (4.0 - 0.0);
  for (i = 0; i < 4; i++) den *= (4.0 - pb[i]);
  k = k * creal(num / den);
  /* zpk2sos, pairing 'nearest': the upper-half-plane poles of the two pairs;
     the pair nearest the unit circle takes the nearer zero pair and goes last */
  {
    double complex up[2];
    int nu = 0;
    for (i = 0; i < 4 && nu < 2; i++) if (cimag(pz[i]) > 0) up[nu++] = pz[i];
    if (nu < 2) { up[0] = pz[0]; up[1] = pz[2]; }
    dist[0] = fabs(1.0 - cabs(up[0])); dist[1] = fabs(1.0 - cabs(up[1]));
    near = dist[0] <= dist[1] ? 0 : 1;
    far = 1 - near;
    /* nearer zero to the near pole: +1 or −1 */
    {
      int zplus_near = cabs(up[near] - 1.0) <= cabs(up[near] + 1.0);
      double zs_last = zplus_near ? 1.0 : -1.0, zs_first = -zs_last;
      double complex pf = up[far], pn = up[near];
      /* section 0: poles pf, zeros at zs_first (double), gain k */
      sos[0][0] = k * 1.0; sos[0][1] = k * (-2.0 * zs_first); sos[0][2] = k * 1.0;
      sos[0][3] = 1.0; sos[0][4] = -2.0 * creal(pf); sos[0][5] = creal(pf) * creal(pf) + cimag(pf) * cimag(pf);
      sos[1][0] = 1.0; sos[1][1] = -2.0 * zs_last; sos[1][2] = 1.0;
      sos[1][3] = 1.0; sos[1][4] = -2.0 * creal(pn); sos[1][5] = creal(pn) * creal(pn) + cimag(pn) * cimag(pn);
    }
  }
}

/* ---- noise ------------------------------------------------------------------------ */

static void fft(double complex *a, int64_t n, int inverse) {
  int64_t i, j, len;
  for (i = 1, j = 0; i < n; i++) {
    int64_t bit = n >> 1;
    for (; j & bit; bit >>= 1) j ^= bit;
    j ^= bit;
    if (i < j) { double complex t = a[i]; a[i] = a[j]; a[j] = t; }
  }
  for (len = 2; len <= n; len <<= 1) {
    double ang = 2 * M_PI / (double)len * (inverse ? 1 : -1);
    double complex wl = cexp(I * ang);
    for (i = 0; i < n; i += len) {
      double complex w = 1;
      for (j = 0; j < len / 2; j++) {
        double complex u = a[i + j], v = a[i + j + len / 2] * w;
        a[i + j] = u + v;
        a[i + j + len / 2] = u - v;
        w *= wl;
      }
    }
  }
  if (inverse) for (i = 0; i < n; i++) a[i] /= (double)n;
}

static double gauss(uint64_t seed, uint64_t ctr) {
  double u1 = lp_random_uniform(seed, 2 * ctr), u2 = lp_random_uniform(seed, 2 * ctr + 1);
  if (u1 < 1e-300) u1 = 1e-300;
  return sqrt(-2.0 * log(u1)) * cos(2 * M_PI * u2);
}

/* n samples of shaped noise into out[i·stride]; work: 2^m complex values. */
static void noise(double *out, int64_t stride, int64_t n, double fs, const double spec[3], uint64_t seed,
                  double complex *work, int64_t nfft) {
  double sigma = spec[0] * sqrt(fs / 2.0);
  int64_t i;
  for (i = 0; i < nfft; i++) work[i] = sigma * gauss(seed, (uint64_t)i);
  fft(work, nfft, 0);
  for (i = 1; i < nfft; i++) {
    int64_t kk = i <= nfft / 2 ? i : nfft - i;
    double f = (double)kk * fs / (double)nfft, g = 1.0;
    if (f < 1e-12) f = 1e-12;
    if (f < spec[1]) g = pow(spec[1] / f, spec[2]);
    work[i] *= g;
  }
  fft(work, nfft, 1);
  for (i = 0; i < n; i++) out[i * stride] += creal(work[i]);
}

/* ---- the model ------------------------------------------------------------------------- */

static lp_status as_f64(lp_ctx *ctx, const lp_tensor *t, lp_tensor **out) {
  if (lp_tensor_dtype(t) == LP_F64) return lp_tensor_contiguous(ctx, (lp_tensor *)t, out);
  return lp_tensor_astype(ctx, t, LP_F64, out);
}

static inline double clipv(double v, double m) { return v > m ? m : v < -m ? -m : v; }

/* The 16 band-pass filters over n samples of x + offset into y (n, 16):
   two sections each, scipy's sosfilt operations lane by lane (structure of
   arrays, so that the channel loop vectorises). */
#define BPF_KERNEL(ATTR, NAME)                                                      \
  ATTR static void NAME(const double (*restrict c)[NC], double off, const double *restrict x, int64_t n, double *restrict y) { \
    double z0[NC], z1[NC], z2[NC], z3[NC];                                          \
    int64_t i;                                                                      \
    int j;                                                                          \
    for (j = 0; j < NC; j++) z0[j] = z1[j] = z2[j] = z3[j] = 0;                     \
    for (i = 0; i < n; i++) {                                                       \
      const double xin = x[i] + off;                                                \
      double *yi = y + i * NC;                                                      \
      for (j = 0; j < NC; j++) {                                                    \
        double v0 = c[0][j] * xin + z0[j], v1;                                      \
        z0[j] = c[1][j] * xin - c[2][j] * v0 + z1[j];                               \
        z1[j] = c[3][j] * xin - c[4][j] * v0;                                       \
        v1 = c[5][j] * v0 + z2[j];                                                  \
        z2[j] = c[6][j] * v0 - c[7][j] * v1 + z3[j];                                \
        z3[j] = c[8][j] * v0 - c[9][j] * v1;                                        \
        yi[j] = v1;                                                                 \
      }                                                                             \
    }                                                                               \
  }
/* First-order lfilter over n rows of buf (n, 16) in place, forward (dir 1)
   or backward (dir −1), from the states z. */
#define HP_KERNEL(ATTR, NAME)                                                       \
  ATTR static void NAME(double *buf, int64_t n, int dir, double b0, double b1, double a1, double *z) { \
    int64_t i;                                                                      \
    int j;                                                                          \
    for (i = dir > 0 ? 0 : n - 1; dir > 0 ? i < n : i >= 0; i += dir) {             \
      double *v = buf + i * NC;                                                     \
      for (j = 0; j < NC; j++) {                                                    \
        double xn = v[j], yn = z[j] + b0 * xn;                                      \
        z[j] = xn * b1 - yn * a1;                                                   \
        v[j] = yn;                                                                  \
      }                                                                             \
    }                                                                               \
  }
BPF_KERNEL(, bpf_generic)
HP_KERNEL(, hp_generic)
#if defined(__GNUC__) && defined(__x86_64__)
BPF_KERNEL(__attribute__((target("avx2"))), bpf_avx2)
HP_KERNEL(__attribute__((target("avx2"))), hp_avx2)
#endif

static void bpf_run(const lp_afe2_params *p, const double *x, int64_t n, double *y) {
  double c[10][NC];
  int j;
  for (j = 0; j < NC; j++) {
    const double *s0 = p->sos[j][0], *s1 = p->sos[j][1];
    c[0][j] = s0[0]; c[1][j] = s0[1]; c[2][j] = s0[4]; c[3][j] = s0[2]; c[4][j] = s0[5];
    c[5][j] = s1[0]; c[6][j] = s1[1]; c[7][j] = s1[4]; c[8][j] = s1[2]; c[9][j] = s1[5];
  }
#if defined(__GNUC__) && defined(__x86_64__)
  if (__builtin_cpu_supports("avx2")) { bpf_avx2((const double (*)[NC])c, p->bpf_offset, x, n, y); return; }
#endif
  bpf_generic((const double (*)[NC])c, p->bpf_offset, x, n, y);
}

static void hp_run(double *buf, int64_t n, int dir, double b0, double b1, double a1, double *z) {
#if defined(__GNUC__) && defined(__x86_64__)
  if (__builtin_cpu_supports("avx2")) { hp_avx2(buf, n, dir, b0, b1, a1, z); return; }
#endif
  hp_generic(buf, n, dir, b0, b1, a1, z);
}

lp_status lp_afe2_evolve(lp_ctx *ctx, const lp_tensor *x, const lp_afe2_params *p, double *lif,
                         lp_tensor **spikes, lp_afe2_record *rec) {
  lp_tensor *xc = NULL, *rs = NULL, *rmic = NULL, *rlna = NULL, *rbpf = NULL, *rrect = NULL, *rpre = NULL;
  lp_status st = LP_OK;
  int64_t B, T, N, b, i, shape[3];
  double *buf = NULL, *lna = NULL, *zi = NULL;
  double complex *work = NULL;
  size_t bufn = 0, workn = 0;
  int64_t nfft = 1;
  double lif0[NC];
  const double dt = 1.0 / p->fs;
  int c;
  *spikes = NULL;
  if (lp_tensor_ndim(x) != 2) return lp_ctx_error(ctx, LP_ESHAPE, 1, "expected audio (B, T)");
  if ((st = as_f64(ctx, x, &xc)) != LP_OK) return st;
  B = lp_tensor_size(xc, 0); T = lp_tensor_size(xc, 1); N = 2 * T;
  if (T < 4) { st = lp_ctx_error(ctx, LP_ESHAPE, 1, "the Audio 2 front end needs at least 4 samples, got %lld", (long long)T); goto done; }
  shape[0] = B; shape[1] = T; shape[2] = NC;
  if ((st = lp_tensor_new(ctx, LP_I32, 3, shape, &rs)) != LP_OK) goto done;
  if (rec) {
    if (rec->bpf && (st = lp_tensor_empty(ctx, LP_F64, 3, shape, &rbpf)) != LP_OK) goto done;
    if (rec->rect && (st = lp_tensor_empty(ctx, LP_F64, 3, shape, &rrect)) != LP_OK) goto done;
    if (rec->spikes_pre && (st = lp_tensor_new(ctx, LP_I32, 3, shape, &rpre)) != LP_OK) goto done;
    if (rec->mic && (st = lp_tensor_empty(ctx, LP_F64, 2, shape, &rmic)) != LP_OK) goto done;
    if (rec->lna && (st = lp_tensor_empty(ctx, LP_F64, 2, shape, &rlna)) != LP_OK) goto done;
  }
  bufn = (size_t)(N + 2 * EDGE) * NC;
  buf = lp_ctx_alloc_raw(ctx, bufn * sizeof *buf);
  lna = lp_ctx_alloc_raw(ctx, (size_t)N * sizeof *lna);
  zi = lp_ctx_alloc(ctx, 4 * NC * sizeof *zi);
  if (!buf || !lna || !zi) { st = LP_ENOMEM; goto done; }
  if (p->add_noise) {
    while (nfft < N) nfft <<= 1;
    workn = (size_t)nfft;
    work = lp_ctx_alloc_raw(ctx, workn * sizeof *work);
    if (!work) { st = LP_ENOMEM; goto done; }
  }
  memcpy(lif0, lif, sizeof lif0);
  for (b = 0; b < B; b++) {
    const double *xv = (const double *)lp_tensor_data(xc) + b * T;
    double *y = buf + EDGE * NC;              /* y[i·NC + c], i in 0..N−1 */
    double V[NC];
    int64_t count[NC];
    uint64_t seed = lp_random_u64(p->seed, (uint64_t)b);
    const double thd_vc = p->mic_dist * p->mic_vc;
    /* microphone and LNA over the doubled signal */
    for (i = 0; i < N; i++) {
      double u = i < T ? xv[T - 1 - i] : xv[i - T], m, s;
      double uv = u / p->mic_vc;
      m = u + thd_vc * ((3 * u) / p->mic_vc - 4 * (uv * uv * uv));
      m = clipv(m, p->max_amp);
      if (rmic && i >= T) ((double *)lp_tensor_data(rmic))[b * T + i - T] = m;
      m += p->input_offset;
      s = p->lna_gain * (m + p->lna_offset);
      { double sv = s / p->lna_vc; s = p->lna_vc * (sv - p->lna_dist * (sv * sv * sv)); }
      s = clipv(s, p->max_amp);
      s += p->lna_offset;
      lna[i] = s;
    }
    if (p->add_noise) noise(lna, 1, N, p->fs, p->noise_lna, lp_random_u64(seed, 1000), work, nfft);
    if (rlna) memcpy((double *)lp_tensor_data(rlna) + b * T, lna + T, (size_t)T * sizeof *lna);
    /* band-pass filters: every filter sees lna + bpf_offset */
    bpf_run(p, lna, N, y);
    if (lp_ctx_interrupted(ctx)) { st = lp_ctx_check_interrupt(ctx); goto done; }
    if (p->add_noise)
      for (c = 0; c < NC; c++) noise(y + c, NC, N, p->fs, p->noise_bpf, lp_random_u64(seed, 2000 + (uint64_t)c), work, nfft);
    if (rbpf)
      for (i = 0; i < T; i++) memcpy((double *)lp_tensor_data(rbpf) + (b * T + i) * NC, y + (T + i) * NC, NC * sizeof(double));
    /* high-pass, zero phase (scipy filtfilt, padtype odd, padlen 6) */
    {
      const double b0 = p->hp_b[0], b1 = p->hp_b[1], a1 = p->hp_a[1] / p->hp_a[0];
      const double bb0 = b0 / p->hp_a[0], bb1 = b1 / p->hp_a[0];
      const double zic = (bb1 - a1 * bb0) / (1.0 + a1);
      double z[NC];
      for (i = 0; i < EDGE; i++)
        for (c = 0; c < NC; c++) {
          buf[i * NC + c] = 2 * y[c] - y[(EDGE - i) * NC + c];
          buf[(EDGE + N + i) * NC + c] = 2 * y[(N - 1) * NC + c] - y[(N - 2 - i) * NC + c];
        }
      for (c = 0; c < NC; c++) z[c] = zic * buf[c];
      hp_run(buf, N + 2 * EDGE, 1, bb0, bb1, a1, z);
      for (c = 0; c < NC; c++) z[c] = zic * buf[(N + 2 * EDGE - 1) * NC + c];
      hp_run(buf, N + 2 * EDGE, -1, bb0, bb1, a1, z);
    }
    if (p->add_noise)
      for (c = 0; c < NC; c++) noise(y + c, NC, N, p->fs, p->noise_fwr, lp_random_u64(seed, 3000 + (uint64_t)c), work, nfft);
    /* rectifier (second half), spike generator, counter */
    memcpy(V, lif0, sizeof V);
    memset(count, 0, sizeof count);
    {
      int32_t *sv = (int32_t *)lp_tensor_data(rs) + b * T * NC;
      int32_t *pv = rpre ? (int32_t *)lp_tensor_data(rpre) + b * T * NC : NULL;
      double *rv = rrect ? (double *)lp_tensor_data(rrect) + b * T * NC : NULL;
      for (i = 0; i < T; i++) {
        const double *yi = y + (T + i) * NC;
        for (c = 0; c < NC; c++) {
          double r = fabs(yi[c]);
          double cur = r * p->v2i;
          double dv = (dt * cur - (p->leakage * V[c]) * dt) / p->c_iaf;
          double v = V[c] + dv;
          int spk;
          if (rv) rv[i * NC + c] = r;
          v = v < 0.0 ? 0.0 : v;
          v = v > p->vcc ? p->vcc : v;
          spk = v >= p->thr;
          V[c] = spk ? v * 0.0 : v;
          if (spk) {
            count[c]++;
            if (pv) pv[i * NC + c] = 1;
            if (p->counter <= 1 || count[c] % p->counter == p->counter - 1) sv[i * NC + c] = 1;
          }
        }
      }
    }
    if (b == 0) memcpy(lif, V, sizeof V);
    if (lp_ctx_interrupted(ctx)) { st = lp_ctx_check_interrupt(ctx); goto done; }
  }
  *spikes = rs; rs = NULL;
  if (rec) {
    rec->mic = rmic; rec->lna = rlna; rec->bpf = rbpf; rec->rect = rrect; rec->spikes_pre = rpre;
    rmic = rlna = rbpf = rrect = rpre = NULL;
  }
done:
  if (buf) lp_ctx_dealloc(ctx, buf, bufn * sizeof *buf);
  if (lna) lp_ctx_dealloc(ctx, lna, (size_t)N * sizeof *lna);
  if (zi) lp_ctx_dealloc(ctx, zi, 4 * NC * sizeof *zi);
  if (work) lp_ctx_dealloc(ctx, work, workn * sizeof *work);
  lp_tensor_release(xc);
  lp_tensor_release(rs); lp_tensor_release(rmic); lp_tensor_release(rlna);
  lp_tensor_release(rbpf); lp_tensor_release(rrect); lp_tensor_release(rpre);
  if (st != LP_OK && rec) rec->mic = rec->lna = rec->bpf = rec->rect = rec->spikes_pre = NULL;
  return st;
}

lp_status lp_afe2_raster(lp_ctx *ctx, const lp_tensor *spikes, double dt, double rp, int maxcount,
                         lp_tensor **out) {
  lp_tensor *sc = NULL, *r = NULL;
  lp_status st;
  int64_t B, T, n, nb, b, t, j, shape[3];
  double kf = rp / dt;
  int stride = kf == (double)(int64_t)kf && kf >= 1;
  *out = NULL;
  if (lp_tensor_ndim(spikes) != 3) return lp_ctx_error(ctx, LP_ESHAPE, 1, "expected spikes (B, T, N)");
  if (!(dt > 0) || !(rp > 0)) return lp_ctx_error(ctx, LP_EARG, 2, "dt and raster_period must be positive");
  if (lp_tensor_dtype(spikes) == LP_I64) st = lp_tensor_contiguous(ctx, (lp_tensor *)spikes, &sc);
  else st = lp_tensor_astype(ctx, spikes, LP_I64, &sc);
  if (st != LP_OK) return st;
  B = lp_tensor_size(sc, 0); T = lp_tensor_size(sc, 1); n = lp_tensor_size(sc, 2);
  if (stride) {
    int64_t k = (int64_t)kf;
    nb = (T + k - 1) / k;
  } else {
    nb = (int64_t)ceil(((double)T * dt - 0.0) / rp);
    if (T == 0) nb = 0;
  }
  shape[0] = B; shape[1] = nb; shape[2] = n;
  if ((st = lp_tensor_new(ctx, LP_I32, 3, shape, &r)) != LP_OK) goto done;
  for (b = 0; b < B; b++) {
    const int64_t *sv = (const int64_t *)lp_tensor_data(sc) + b * T * n;
    int32_t *rv = (int32_t *)lp_tensor_data(r) + b * nb * n;
    if (stride) {
      /* the reference's cumsum(spikes)[::k], differenced: bin 0 = sample 0,
         bin i = samples (i−1)k+1 .. ik; samples after the last multiple of k drop */
      int64_t k = (int64_t)kf;
      for (t = 0; t < T; t++) {
        int64_t bin = t == 0 ? 0 : (t + k - 1) / k;
        if (bin >= nb) continue;
        for (j = 0; j < n; j++) rv[bin * n + j] += (int32_t)sv[t * n + j];
      }
    } else {
      /* TSEvent.from_raster(spikes, dt).raster(rp, add_events=True) */
      double tstop = (double)T * dt;
      for (t = 0; t < T; t++) {
        double tm = (double)t * dt + 0.0 + dt / 2;
        int64_t bin;
        if (!(tm < tstop)) continue;
        bin = (int64_t)floor(tm / rp);
        if (bin < 0 || bin >= nb) continue;
        for (j = 0; j < n; j++) rv[bin * n + j] += (int32_t)sv[t * n + j];
      }
    }
    for (t = 0; t < nb * n; t++) if (rv[t] > maxcount) rv[t] = maxcount;
  }
  *out = r; r = NULL;
done:
  lp_tensor_release(sc);
  lp_tensor_release(r);
  return st;
}
