/*
** devices/xylo/imuif.c -- the Xylo IMU input interface, bit-exact
** (declared in imuif.h; algorithm of reference/xylo.md §11.4 and of
** Rockpool's syns63300/imuif, whose integer arithmetic is reproduced here).
** Owns: the sample loops of SubSpace, SampleAndHold, JSVD (with its
** 64-angle lookup table), the rotation, the band-pass filter bank and the
** scale / IAF spike encoders.
**
** Rockpool computes with unbounded Python integers and checks ranges at
** fixed points; every value here stays far inside int64 between those
** checks (the widest: 2^50 in the JSVD updates), the one product that can
** leave 64 bits (the sign test of two rotations) runs in 128 bits.
** Shifts of negative values are floor shifts (Python's >>), which is what
** gcc and clang do for >> on signed integers.
**
** Quirks of the reference that are reproduced (the oracle depends on them):
** - the lookup-table row is the count of table angles below the target,
**   so the angle chosen is the next one up;
** - a rotation column whose sign test against the previous rotation gives
**   0 (orthogonal columns, e.g. after an all-zero covariance) is zeroed,
**   and stays zero for the rest of the call;
** - ties between singular values are ordered by the larger index first
**   (a stable ascending argsort, reversed).
*/
#include "imuif.h"
#include <math.h>
#include <string.h>

#define NUM_BITS        16      /* signal and lookup-table precision */
#define NUM_ANGLES      64
#define NROUND          4
#define ROT_BITS        32
#define COV_BITS        31
#define COV_EXTRA       2
#define ROT_EXTRA       1
#define B_WORST_CASE    9
#define SPIKE_MAX       15
#define SIG_MAX         32767   /* 2^15 - 1: the largest |sample| */

/* ---- tensors ------------------------------------------------------------ */

/* x as a contiguous int64 tensor of 3 dims with last dim `c` (c < 0: any). */
static lp_status as_i64(lp_ctx *ctx, const lp_tensor *x, int arg, int c, const char *what,
                        lp_tensor **out) {
  lp_dtype dt = lp_tensor_dtype(x);
  const int64_t *s = lp_tensor_shape(x);
  lp_tensor *t = NULL;
  lp_status st;
  char buf[64];
  *out = NULL;
  if (lp_tensor_ndim(x) != 3 || (c >= 0 && s[2] != c))
    return lp_ctx_error(ctx, LP_ESHAPE, arg, "%s: expected shape (B, T, %s), got %s", what,
                        c >= 0 ? (c == 3 ? "3" : c == 9 ? "9" : "C") : "C",
                        lp_shape_str(lp_tensor_ndim(x), s, buf, sizeof buf));
  if (dt == LP_BOOL)
    return lp_ctx_error(ctx, LP_ETYPE, arg, "%s: expected integer samples, got a bool tensor", what);
  if (lp_dtype_is_float(dt)) {
    lp_tensor *f;
    int64_t n, i;
    const double *p;
    st = lp_tensor_astype(ctx, x, LP_F64, &f);
    if (st != LP_OK) return st;
    n = lp_tensor_numel(f);
    p = lp_tensor_data(f);
    for (i = 0; i < n; i++)
      if (p[i] != floor(p[i]) || fabs(p[i]) > 9.0e15) {
        double v = p[i];
        lp_tensor_release(f);
        return lp_ctx_error(ctx, LP_EARG, arg, "%s: values must be integers (quantise first), got %g",
                            what, v);
      }
    lp_tensor_release(f);
  }
  st = lp_tensor_astype(ctx, x, LP_I64, &t);
  if (st != LP_OK) return st;
  if (!lp_tensor_is_contiguous(t)) {
    lp_tensor *c2;
    st = lp_tensor_contiguous(ctx, t, &c2);
    lp_tensor_release(t);
    if (st != LP_OK) return st;
    t = c2;
  }
  *out = t;
  return LP_OK;
}

static lp_status new_i64(lp_ctx *ctx, int64_t B, int64_t T, int64_t C, lp_tensor **out) {
  int64_t shape[3];
  shape[0] = B; shape[1] = T; shape[2] = C;
  return lp_tensor_new(ctx, LP_I64, 3, shape, out);
}

static int64_t iabs64(int64_t v) { return v < 0 ? -v : v; }

/* Every sample must fit the 16-bit signed range Rockpool checks (|x| <= 2^15 - 1). */
static lp_status check_samples(lp_ctx *ctx, const int64_t *x, int64_t n, int arg, const char *what) {
  int64_t i;
  for (i = 0; i < n; i++)
    if (x[i] > SIG_MAX || x[i] < -SIG_MAX)
      return lp_ctx_error(ctx, LP_EARG, arg,
                          "%s: sample %lld is outside -32767..32767 (16-bit IMU samples)", what,
                          (long long)x[i]);
  return LP_OK;
}

/* ---- SubSpace ------------------------------------------------------------ */

/* One sample of the covariance filter: c += v vᵀ - (c >> k); 1 on overflow
   (|c| must stay below lim = 2^(31+k-1)). */
static int cov_step(int64_t c[9], const int64_t *v, int k, int64_t lim) {
  int i, j, bad = 0;
  /* the 31-bit multiplier keeps all 2*16-1 product bits: no shift */
  for (i = 0; i < 3; i++)
    for (j = 0; j < 3; j++) {
      int64_t *cij = &c[3 * i + j];
      *cij = *cij - (*cij >> k) + v[i] * v[j];
      bad |= iabs64(*cij) >= lim;
    }
  return bad;
}

static lp_status cov_overflow(lp_ctx *ctx, int k) {
  return lp_ctx_error(ctx, LP_EARG, 1,
                      "input: overflow in the covariance filter (2^%d bits with num_avg_bitshift %d); "
                      "scale the IMU samples down", COV_BITS + k - 1, k);
}

lp_status lp_imuif_subspace(lp_ctx *ctx, const lp_tensor *x, int k, int64_t state[9],
                            lp_tensor **out) {
  lp_tensor *xi = NULL, *o = NULL;
  lp_status st;
  int64_t B, T, b, t, lim;
  int64_t first[9];
  *out = NULL;
  if (k < 0 || k > 31) return lp_ctx_error(ctx, LP_EARG, 2, "num_avg_bitshift must be in 0..31, got %d", k);
  st = as_i64(ctx, x, 1, 3, "input", &xi);
  if (st != LP_OK) return st;
  B = lp_tensor_shape(xi)[0]; T = lp_tensor_shape(xi)[1];
  st = check_samples(ctx, lp_tensor_data(xi), B * T * 3, 1, "input");
  if (st == LP_OK) st = new_i64(ctx, B, T, 9, &o);
  if (st != LP_OK) { lp_tensor_release(xi); return st; }
  lim = (int64_t)1 << (COV_BITS + k - 1);
  memcpy(first, state, sizeof first);
  for (b = 0; b < B; b++) {
    const int64_t *xs = (const int64_t *)lp_tensor_data(xi) + b * T * 3;
    int64_t *os = (int64_t *)lp_tensor_data(o) + b * T * 9;
    int64_t c[9];
    int i;
    memcpy(c, state, sizeof c);
    for (t = 0; t < T; t++) {
      if (cov_step(c, xs + 3 * t, k, lim)) {
        lp_tensor_release(xi); lp_tensor_release(o);
        return cov_overflow(ctx, k);
      }
      for (i = 0; i < 9; i++) os[9 * t + i] = c[i] >> k;
    }
    if (b == 0) memcpy(first, c, sizeof first);
  }
  memcpy(state, first, sizeof first);
  lp_tensor_release(xi);
  *out = o;
  return LP_OK;
}

/* ---- SampleAndHold ----------------------------------------------------------- */

lp_status lp_imuif_sample_hold(lp_ctx *ctx, const lp_tensor *x, int period, lp_tensor **out) {
  lp_tensor *xi = NULL, *o = NULL;
  lp_status st;
  int64_t B, T, C, b, t;
  *out = NULL;
  if (period < 1) return lp_ctx_error(ctx, LP_EARG, 2, "SAH_period must be at least 1, got %d", period);
  st = as_i64(ctx, x, 1, -1, "input", &xi);
  if (st != LP_OK) return st;
  B = lp_tensor_shape(xi)[0]; T = lp_tensor_shape(xi)[1]; C = lp_tensor_shape(xi)[2];
  st = new_i64(ctx, B, T, C, &o);
  if (st != LP_OK) { lp_tensor_release(xi); return st; }
  for (b = 0; b < B; b++) {
    const int64_t *xs = (const int64_t *)lp_tensor_data(xi) + b * T * C;
    int64_t *os = (int64_t *)lp_tensor_data(o) + b * T * C;
    for (t = 0; t < T; t++)
      memcpy(os + t * C, xs + (t - t % period) * C, (size_t)C * sizeof(int64_t));
  }
  lp_tensor_release(xi);
  *out = o;
  return LP_OK;
}

/* ---- JSVD -------------------------------------------------------------------- */

/* The angle lookup table: 64 angles evenly over [0, 45] degrees (numpy's
   linspace), tan(2θ) and 1/(2cos 2θ) on the low half (θ <= 22.5°), cot(2θ)
   and 1/(2 sin 2θ) on the high half, sin θ and cos θ everywhere, each
   truncated to an integer as the reference does. */
typedef struct jsvd_lut {
  int nlow;                                   /* rows 0..nlow-1 are low angles */
  int64_t tan2[NUM_ANGLES], cot2[NUM_ANGLES];
  int64_t sinq[NUM_ANGLES], cosq[NUM_ANGLES];
  int64_t inv2cos2[NUM_ANGLES], inv2sin2[NUM_ANGLES];
} jsvd_lut;

static void lut_init(jsvd_lut *L) {
  const double pi = 3.141592653589793;
  const double maxr = 45.0 / 180.0 * pi;
  const double step = maxr / (NUM_ANGLES - 1);
  const double one = 65536.0, one_m1 = 65535.0;
  int i;
  L->nlow = 0;
  for (i = 0; i < NUM_ANGLES; i++) {
    double r = i == NUM_ANGLES - 1 ? maxr : (double)i * step + 0.0;
    double deg = r / pi * 180.0;
    L->sinq[i] = (int64_t)(one_m1 * sin(r));
    L->cosq[i] = (int64_t)(one_m1 * cos(r));
    if (deg <= 22.5) {
      L->nlow = i + 1;
      L->tan2[i] = (int64_t)(tan(2.0 * r) * one);
      L->inv2cos2[i] = (int64_t)(one * (1.0 / (2.0 * cos(2.0 * r) + 10e-30)));
      L->cot2[i] = L->inv2sin2[i] = -1;
    } else {
      L->cot2[i] = (int64_t)((1.0 / tan(2.0 * r)) * one);
      L->inv2sin2[i] = (int64_t)(one * (1.0 / (2.0 * sin(2.0 * r) + 10e-30)));
      L->tan2[i] = L->inv2cos2[i] = -1;
    }
  }
}

/* Row of the table for a, b, c >= 0 (b != 0). */
static int lut_row(const jsvd_lut *L, int64_t a, int64_t b, int64_t c) {
  int64_t d = iabs64(a - c), b2 = 2 * b;
  int row, i;
  if (a == c) return NUM_ANGLES - 1;
  if (b2 <= d) {
    /* count the low rows with tan(2θ)·|a−c| <= |2b|·2^16 */
    row = 0;
    for (i = 0; i < L->nlow; i++) row += L->tan2[i] * d <= b2 * ((int64_t)1 << NUM_BITS);
    if (row >= L->nlow) row = L->nlow - 1;
  } else {
    /* the low rows count as matches; then the high rows with cot(2θ)·|2b| >= |a−c|·2^16 */
    row = L->nlow;
    for (i = L->nlow; i < NUM_ANGLES; i++) row += L->cot2[i] * b2 >= d * ((int64_t)1 << NUM_BITS);
    if (row == NUM_ANGLES) row = NUM_ANGLES - 1;
  }
  return row;
}

static lp_status jsvd_run(lp_ctx *ctx, const jsvd_lut *L, const int64_t C[9], int64_t Rout[9],
                          int64_t Dout[9]) {
  const int64_t dlim = (int64_t)1 << (COV_BITS - 1 + COV_EXTRA);
  const int64_t plim = (int64_t)1 << (ROT_BITS + NUM_BITS - 1 + ROT_EXTRA);
  const int64_t rlim = (int64_t)1 << (ROT_BITS - 1 + ROT_EXTRA);
  int64_t R[9], D[9], mx = 0;
  int round, i, j, k;
  for (i = 0; i < 9; i++) mx = iabs64(C[i]) > mx ? iabs64(C[i]) : mx;
  if (mx > ((int64_t)1 << (COV_BITS - 1)) - 1)
    return lp_ctx_error(ctx, LP_EARG, 1, "covariance: %lld does not fit 30 bits", (long long)mx);
  for (i = 0; i < 3; i++)
    for (j = 0; j < 3; j++) {
      if (C[3 * i + j] != C[3 * j + i])
        return lp_ctx_error(ctx, LP_EARG, 1, "covariance: the matrix is not symmetric");
      R[3 * i + j] = i == j ? ((int64_t)1 << (ROT_BITS - 1)) - 1 : 0;
    }
  memcpy(D, C, sizeof D);
  for (round = 0; round < NROUND; round++) {
    int dim;
    if (D[1] == 0 && D[2] == 0 && D[3] == 0 && D[5] == 0 && D[6] == 0 && D[7] == 0) break;
    for (dim = 2; dim >= 0; dim--) {
      int p = dim == 0 ? 1 : 0, q = dim == 2 ? 1 : 2;
      int64_t a = D[3 * p + p], b = D[3 * p + q], c = D[3 * q + q];
      int64_t sgn, corr, half, an, cn, v0, v1, sq, cq, E[9];
      int row;
      if (b == 0) continue;
      /* sign of tan(2θ) = sign(b·(a − c)); sign(b) when a == c */
      if (a == c) sgn = b > 0 ? 1 : -1;
      else sgn = ((b > 0) == (a > c)) ? 1 : -1;
      row = lut_row(L, iabs64(a), iabs64(b), iabs64(c));
      sq = L->sinq[row]; cq = L->cosq[row];
      if (iabs64(2 * b) > iabs64(a - c)) corr = 2 * b * L->inv2sin2[row] * sgn;   /* large angles */
      else corr = (a - c) * L->inv2cos2[row];                                    /* small angles */
      half = ((a + c) * ((int64_t)1 << NUM_BITS)) >> 1;
      an = (half + corr) >> NUM_BITS;
      cn = (half - corr) >> NUM_BITS;
      if (iabs64(an) >= dlim || iabs64(cn) >= dlim)
        return lp_ctx_error(ctx, LP_EARG, 1, "covariance: over- or under-flow in the JSVD diagonal update");
      if (an < 0) an = 0;
      if (cn < 0) cn = 0;
      v0 = D[3 * p + dim]; v1 = D[3 * q + dim];
      if (iabs64(v0) >= dlim || iabs64(v1) >= dlim)
        return lp_ctx_error(ctx, LP_EARG, 1, "covariance: over- or under-flow in the JSVD off-diagonal update");
      D[3 * p + p] = an; D[3 * q + q] = cn;
      D[3 * p + q] = D[3 * q + p] = 0;
      D[3 * p + dim] = D[3 * dim + p] = (cq * v0 + sq * sgn * v1) >> NUM_BITS;
      D[3 * q + dim] = D[3 * dim + q] = (-sq * sgn * v0 + cq * v1) >> NUM_BITS;
      /* R <- (R · E) >> 16 with E the 2-D rotation embedded at (p, q) */
      memset(E, 0, sizeof E);
      E[3 * p + p] = cq; E[3 * p + q] = -sgn * sq;
      E[3 * q + p] = sgn * sq; E[3 * q + q] = cq;
      E[3 * dim + dim] = (int64_t)1 << NUM_BITS;
      {
        int64_t Rn[9];
        for (i = 0; i < 3; i++)
          for (j = 0; j < 3; j++) {
            int64_t acc = 0;
            for (k = 0; k < 3; k++) {
              acc += R[3 * i + k] * E[3 * k + j];
              if (iabs64(acc) >= plim)
                return lp_ctx_error(ctx, LP_EARG, 1, "covariance: over- or under-flow in the JSVD rotation update");
            }
            Rn[3 * i + j] = acc >> NUM_BITS;
            if (iabs64(Rn[3 * i + j]) >= rlim)
              return lp_ctx_error(ctx, LP_EARG, 1, "covariance: over- or under-flow in the JSVD rotation update");
          }
        memcpy(R, Rn, sizeof R);
      }
    }
  }
  /* order: a stable ascending sort of the diagonal, reversed */
  {
    int ord[3] = {0, 1, 2}, tmp, o[3];
    for (i = 1; i < 3; i++)
      for (j = i; j > 0 && D[4 * ord[j - 1]] > D[4 * ord[j]]; j--) {
        tmp = ord[j]; ord[j] = ord[j - 1]; ord[j - 1] = tmp;
      }
    o[0] = ord[2]; o[1] = ord[1]; o[2] = ord[0];
    for (i = 0; i < 3; i++)
      for (j = 0; j < 3; j++) {
        Rout[3 * i + j] = R[3 * i + o[j]];
        Dout[3 * i + j] = D[3 * o[i] + o[j]];
      }
  }
  return LP_OK;
}

lp_status lp_imuif_jsvd(lp_ctx *ctx, const int64_t C[9], int64_t R[9], int64_t D[9]) {
  jsvd_lut L;
  lut_init(&L);
  return jsvd_run(ctx, &L, C, R, D);
}

/* ---- rotation removal --------------------------------------------------------- */

#if defined(__SIZEOF_INT128__)
typedef __int128 wide_t;
#else
typedef long double wide_t;   /* enough to get the sign right for |terms| < 2^64 */
#endif

/* The rotation of one row: the last covariance a JSVD ran on and its rotation. */
typedef struct rot_state { int64_t cold[9], Rold[9]; } rot_state;

static void rot_init(rot_state *r) {
  int i;
  for (i = 0; i < 9; i++) { r->cold[i] = -1; r->Rold[i] = (i % 4 == 0); }
}

/* With the held covariance cn: a new JSVD rotation when it changed (its column
   signs aligned with the previous rotation: sign(diag(Rnᵀ Rold))), then
   out_i = Σ_j (R_ji · v_j) >> 32, every partial sum checked against 16 bits. */
static lp_status rot_step(lp_ctx *ctx, const jsvd_lut *L, rot_state *r, const int64_t *cn,
                          const int64_t *v, int64_t *out) {
  int i, j;
  if (memcmp(cn, r->cold, sizeof r->cold) != 0) {
    int64_t Rn[9], Dn[9];
    lp_status st = jsvd_run(ctx, L, cn, Rn, Dn);
    if (st != LP_OK) return st;
    for (j = 0; j < 3; j++) {
      wide_t dot = 0;
      int sg;
      for (i = 0; i < 3; i++) dot += (wide_t)Rn[3 * i + j] * (wide_t)r->Rold[3 * i + j];
      sg = dot > 0 ? 1 : dot < 0 ? -1 : 0;
      for (i = 0; i < 3; i++) Rn[3 * i + j] *= sg;
    }
    memcpy(r->cold, cn, sizeof r->cold);
    memcpy(r->Rold, Rn, sizeof r->Rold);
  }
  for (i = 0; i < 3; i++) {
    int64_t acc = 0;
    for (j = 0; j < 3; j++) {
      int64_t u = (r->Rold[3 * j + i] * v[j]) >> ROT_BITS;
      if (iabs64(u) > SIG_MAX || iabs64(acc + u) > SIG_MAX)
        return lp_ctx_error(ctx, LP_EARG, 1, "input: the rotated sample leaves the 16-bit range");
      acc += u;
    }
    out[i] = acc;
  }
  return LP_OK;
}

lp_status lp_imuif_rotate(lp_ctx *ctx, const lp_tensor *x, const lp_tensor *cov, lp_tensor **out) {
  lp_tensor *xi = NULL, *ci = NULL, *o = NULL;
  lp_status st;
  int64_t B, T, b, t;
  jsvd_lut L;
  *out = NULL;
  st = as_i64(ctx, x, 1, 3, "input", &xi);
  if (st != LP_OK) return st;
  st = as_i64(ctx, cov, 2, 9, "covariance", &ci);
  if (st != LP_OK) { lp_tensor_release(xi); return st; }
  B = lp_tensor_shape(xi)[0]; T = lp_tensor_shape(xi)[1];
  if (lp_tensor_shape(ci)[0] != B || lp_tensor_shape(ci)[1] != T) {
    lp_tensor_release(xi); lp_tensor_release(ci);
    return lp_ctx_error(ctx, LP_ESHAPE, 2, "covariance: expected (B, T) = (%lld, %lld) like the input",
                        (long long)B, (long long)T);
  }
  st = check_samples(ctx, lp_tensor_data(xi), B * T * 3, 1, "input");
  if (st == LP_OK) st = new_i64(ctx, B, T, 3, &o);
  if (st != LP_OK) { lp_tensor_release(xi); lp_tensor_release(ci); return st; }
  lut_init(&L);
  for (b = 0; b < B && st == LP_OK; b++) {
    const int64_t *xs = (const int64_t *)lp_tensor_data(xi) + b * T * 3;
    const int64_t *cs = (const int64_t *)lp_tensor_data(ci) + b * T * 9;
    int64_t *os = (int64_t *)lp_tensor_data(o) + b * T * 3;
    rot_state r;
    rot_init(&r);
    for (t = 0; t < T && st == LP_OK; t++) st = rot_step(ctx, &L, &r, cs + 9 * t, xs + 3 * t, os + 3 * t);
  }
  lp_tensor_release(xi);
  lp_tensor_release(ci);
  if (st != LP_OK) { lp_tensor_release(o); return st; }
  *out = o;
  return LP_OK;
}

/* ---- filter bank ------------------------------------------------------------- */

static lp_status check_filters(lp_ctx *ctx, const lp_imuif_filter *filt, int nfilt, int arg) {
  int f;
  if (nfilt < 1 || nfilt > LP_IMUIF_MAXFILT)
    return lp_ctx_error(ctx, LP_EARG, arg, "filter bank: 1..%d filters, got %d", LP_IMUIF_MAXFILT, nfilt);
  for (f = 0; f < nfilt; f++) {
    const lp_imuif_filter *p = &filt[f];
    if (p->B_b < 0 || p->B_b > 15 || p->B_wf < 0 || p->B_wf > 15 || p->B_af < 0 || p->B_af > 15)
      return lp_ctx_error(ctx, LP_EARG, arg, "filter %d: B_b, B_wf and B_af must be in 0..15", f + 1);
    if (p->a1 < -65536 || p->a1 > 65535 || p->a2 < -65536 || p->a2 > 65535)
      return lp_ctx_error(ctx, LP_EARG, arg, "filter %d: a1 and a2 must be 17-bit signed integers", f + 1);
  }
  return LP_OK;
}

/* One filter over one channel x[n * xs] (n < T), from zero state; with mirror
   the time-reversed signal runs first and its outputs are dropped. Writes
   z[n * zs]. f: the filter's 0-based position, for messages. */
static lp_status filter_channel(lp_ctx *ctx, const int64_t *x, int64_t xs, int64_t T,
                                const lp_imuif_filter *p, int mirror, int64_t *z, int64_t zs, int f) {
  const int64_t wlim = ((int64_t)1 << (NUM_BITS + B_WORST_CASE + p->B_wf - 1)) - 1;
  const int64_t olim = ((int64_t)1 << (NUM_BITS + B_WORST_CASE - 1)) - 1;
  const int64_t pre = mirror ? T : 0;
  const int64_t a1 = p->a1, a2 = p->a2;
  const int bwf = p->B_wf, baf = p->B_af, bb = p->B_b;
  int64_t w1 = 0, w2 = 0, n;
  for (n = 0; n < pre + T; n++) {
    int64_t v = n < pre ? x[(T - 1 - n) * xs] : x[(n - pre) * xs];
    int64_t w = ((v * ((int64_t)1 << bwf)) + ((-a2 * w2 - a1 * w1) >> baf)) >> bb;
    int64_t o;
    if (iabs64(w) > wlim)
      return lp_ctx_error(ctx, LP_EARG, 1,
                          "input: filter %d overflows its %d-bit AR register (unstable taps or input too large)",
                          f + 1, NUM_BITS + B_WORST_CASE + bwf);
    o = (n >= 2 ? w - w2 : w) >> bwf;
    if (iabs64(o) > olim)
      return lp_ctx_error(ctx, LP_EARG, 1, "input: filter %d output overflows 25 bits", f + 1);
    if (n >= pre) z[(n - pre) * zs] = o;
    w2 = w1;
    w1 = w;
  }
  return LP_OK;
}

lp_status lp_imuif_filterbank(lp_ctx *ctx, const lp_tensor *x, const lp_imuif_filter *filt,
                              const int *chan, int nfilt, int mirror, lp_tensor **out) {
  lp_tensor *xi = NULL, *o = NULL;
  lp_status st;
  int64_t B, T, C, b;
  int f;
  *out = NULL;
  st = check_filters(ctx, filt, nfilt, 2);
  if (st != LP_OK) return st;
  st = as_i64(ctx, x, 1, -1, "input", &xi);
  if (st != LP_OK) return st;
  B = lp_tensor_shape(xi)[0]; T = lp_tensor_shape(xi)[1]; C = lp_tensor_shape(xi)[2];
  for (f = 0; f < nfilt; f++)
    if (chan[f] < 0 || chan[f] >= C) {
      lp_tensor_release(xi);
      return lp_ctx_error(ctx, LP_ESHAPE, 1, "input: filter %d reads channel %d, the input has %lld",
                          f + 1, chan[f] + 1, (long long)C);
    }
  st = check_samples(ctx, lp_tensor_data(xi), B * T * C, 1, "input");
  if (st == LP_OK) st = new_i64(ctx, B, T, nfilt, &o);
  for (b = 0; b < B && st == LP_OK; b++) {
    const int64_t *xs = (const int64_t *)lp_tensor_data(xi) + b * T * C;
    int64_t *os = (int64_t *)lp_tensor_data(o) + b * T * nfilt;
    for (f = 0; f < nfilt && st == LP_OK; f++)
      st = filter_channel(ctx, xs + chan[f], C, T, &filt[f], mirror, os + f, nfilt, f);
  }
  lp_tensor_release(xi);
  if (st != LP_OK) { lp_tensor_release(o); return st; }
  *out = o;
  return LP_OK;
}

/* ---- spike encoders ------------------------------------------------------------ */

static lp_status check_scales(lp_ctx *ctx, const int *scale, int64_t C, int arg) {
  int64_t c;
  for (c = 0; c < C; c++)
    if (scale[c] < 0 || scale[c] > 31)
      return lp_ctx_error(ctx, LP_EARG, arg, "scale_values: %d is outside 0..31", scale[c]);
  return LP_OK;
}

static lp_status check_thresholds(lp_ctx *ctx, const int64_t *th, int64_t C, int arg) {
  int64_t c;
  for (c = 0; c < C; c++)
    if (th[c] < 1 || th[c] > 2147483647)
      return lp_ctx_error(ctx, LP_EARG, arg, "iaf_threshold_values: %lld is outside 1..2147483647",
                          (long long)th[c]);
  return LP_OK;
}

/* min(|y| >> s, 15) over T values y[t * ys], into o[t * os] */
static void encode_scale_channel(const int64_t *y, int64_t ys, int64_t T, int s, int64_t *o, int64_t os) {
  int64_t t;
  for (t = 0; t < T; t++) {
    int64_t v = iabs64(y[t * ys]) >> s;
    o[t * os] = v > SPIKE_MAX ? SPIKE_MAX : v;
  }
}

/* floor(S_t / th) - floor(S_{t-1} / th), clipped to 0..1; S the running sum of |y| */
static void encode_iaf_channel(const int64_t *y, int64_t ys, int64_t T, int64_t th, int64_t *o, int64_t os) {
  int64_t t, sum = 0, prev = 0;
  for (t = 0; t < T; t++) {
    int64_t cnt;
    sum += iabs64(y[t * ys]);
    cnt = sum / th;                               /* sum >= 0: truncation is floor */
    o[t * os] = cnt - prev > 0 ? 1 : 0;
    prev = cnt;
  }
}

lp_status lp_imuif_encode_scale(lp_ctx *ctx, const lp_tensor *y, const int *scale, lp_tensor **out) {
  lp_tensor *yi = NULL, *o = NULL;
  lp_status st;
  int64_t B, T, C, b, c;
  *out = NULL;
  st = as_i64(ctx, y, 1, -1, "input", &yi);
  if (st != LP_OK) return st;
  B = lp_tensor_shape(yi)[0]; T = lp_tensor_shape(yi)[1]; C = lp_tensor_shape(yi)[2];
  st = check_scales(ctx, scale, C, 2);
  if (st == LP_OK) st = new_i64(ctx, B, T, C, &o);
  if (st != LP_OK) { lp_tensor_release(yi); return st; }
  for (b = 0; b < B; b++)
    for (c = 0; c < C; c++)
      encode_scale_channel((const int64_t *)lp_tensor_data(yi) + b * T * C + c, C, T, scale[c],
                           (int64_t *)lp_tensor_data(o) + b * T * C + c, C);
  lp_tensor_release(yi);
  *out = o;
  return LP_OK;
}

lp_status lp_imuif_encode_iaf(lp_ctx *ctx, const lp_tensor *y, const int64_t *threshold,
                              lp_tensor **out) {
  lp_tensor *yi = NULL, *o = NULL;
  lp_status st;
  int64_t B, T, C, b, c;
  *out = NULL;
  st = as_i64(ctx, y, 1, -1, "input", &yi);
  if (st != LP_OK) return st;
  B = lp_tensor_shape(yi)[0]; T = lp_tensor_shape(yi)[1]; C = lp_tensor_shape(yi)[2];
  st = check_thresholds(ctx, threshold, C, 2);
  if (st == LP_OK) st = new_i64(ctx, B, T, C, &o);
  if (st != LP_OK) { lp_tensor_release(yi); return st; }
  for (b = 0; b < B; b++)
    for (c = 0; c < C; c++)
      encode_iaf_channel((const int64_t *)lp_tensor_data(yi) + b * T * C + c, C, T, threshold[c],
                         (int64_t *)lp_tensor_data(o) + b * T * C + c, C);
  lp_tensor_release(yi);
  *out = o;
  return LP_OK;
}

/* ---- the whole interface ------------------------------------------------------------ */

void lp_imuif_result_release(lp_imuif_result *r) {
  lp_tensor_release(r->spikes);
  lp_tensor_release(r->covariance);
  lp_tensor_release(r->rotated);
  lp_tensor_release(r->filtered);
  memset(r, 0, sizeof *r);
}

lp_status lp_imuif_run(lp_ctx *ctx, const lp_imuif_params *p, const lp_tensor *x, int64_t state[9],
                       int record, lp_imuif_result *out) {
  lp_tensor *xi = NULL;
  lp_status st;
  int64_t B, T, b, t, first[9], lim = 0;
  int64_t *rot = NULL, *z = NULL;
  size_t rot_bytes = 0, z_bytes = 0;
  const int nf = p->nfilt;
  int f;
  jsvd_lut L;
  memset(out, 0, sizeof *out);
  st = check_filters(ctx, p->filt, nf, 2);
  if (st == LP_OK) st = p->select_iaf_output ? check_thresholds(ctx, p->threshold, nf, 2)
                                             : check_scales(ctx, p->scale, nf, 2);
  if (st == LP_OK && !p->bypass_jsvd && (p->num_avg_bitshift < 0 || p->num_avg_bitshift > 31))
    st = lp_ctx_error(ctx, LP_EARG, 2, "num_avg_bitshift must be in 0..31, got %d", p->num_avg_bitshift);
  if (st == LP_OK && !p->bypass_jsvd && p->sah_period < 1)
    st = lp_ctx_error(ctx, LP_EARG, 2, "SAH_period must be at least 1, got %d", p->sah_period);
  for (f = 0; f < nf && st == LP_OK; f++)
    if (p->chan[f] < 0 || p->chan[f] > 2) st = lp_ctx_error(ctx, LP_EARG, 2, "filter %d: channel out of 1..3", f + 1);
  if (st != LP_OK) return st;
  st = as_i64(ctx, x, 1, 3, "input", &xi);
  if (st != LP_OK) return st;
  B = lp_tensor_shape(xi)[0]; T = lp_tensor_shape(xi)[1];
  st = check_samples(ctx, lp_tensor_data(xi), B * T * 3, 1, "input");
  if (st == LP_OK) st = new_i64(ctx, B, T, nf, &out->spikes);
  if (st == LP_OK && record) {
    st = new_i64(ctx, B, T, nf, &out->filtered);
    if (st == LP_OK && !p->bypass_jsvd) st = new_i64(ctx, B, T, 9, &out->covariance);
    if (st == LP_OK && !p->bypass_jsvd) st = new_i64(ctx, B, T, 3, &out->rotated);
  }
  if (st == LP_OK && !record) {            /* scratch: one row's rotated signal, one filter output */
    rot_bytes = (size_t)(T > 0 ? T : 1) * 3 * sizeof(int64_t);
    z_bytes = (size_t)(T > 0 ? T : 1) * sizeof(int64_t);
    if (!p->bypass_jsvd && !(rot = lp_ctx_alloc_raw(ctx, rot_bytes))) st = LP_ENOMEM;
    if (st == LP_OK && !(z = lp_ctx_alloc_raw(ctx, z_bytes))) st = LP_ENOMEM;
  }
  if (!p->bypass_jsvd) { lut_init(&L); lim = (int64_t)1 << (COV_BITS + p->num_avg_bitshift - 1); }
  memcpy(first, state, sizeof first);
  for (b = 0; b < B && st == LP_OK; b++) {
    const int64_t *xs = (const int64_t *)lp_tensor_data(xi) + b * T * 3;
    const int64_t *sig = xs;                           /* what the filters read */
    int64_t *spk = (int64_t *)lp_tensor_data(out->spikes) + b * T * nf;
    if (lp_ctx_interrupted(ctx)) { st = lp_ctx_check_interrupt(ctx); break; }
    if (!p->bypass_jsvd) {
      const int k = p->num_avg_bitshift;
      int64_t c[9], held[9], *r = record ? (int64_t *)lp_tensor_data(out->rotated) + b * T * 3 : rot;
      int64_t *cv = record ? (int64_t *)lp_tensor_data(out->covariance) + b * T * 9 : NULL;
      rot_state rs;
      int i;
      memcpy(c, state, sizeof c);
      rot_init(&rs);
      for (t = 0; t < T && st == LP_OK; t++) {
        if (cov_step(c, xs + 3 * t, k, lim)) { st = cov_overflow(ctx, k); break; }
        if (t % p->sah_period == 0) for (i = 0; i < 9; i++) held[i] = c[i] >> k;
        if (cv) memcpy(cv + 9 * t, held, sizeof held);
        st = rot_step(ctx, &L, &rs, held, xs + 3 * t, r + 3 * t);
      }
      if (b == 0) memcpy(first, c, sizeof first);
      sig = r;
    }
    for (f = 0; f < nf && st == LP_OK; f++) {
      int64_t *zf = record ? (int64_t *)lp_tensor_data(out->filtered) + b * T * nf + f : z;
      int64_t zs = record ? nf : 1;
      st = filter_channel(ctx, sig + p->chan[f], 3, T, &p->filt[f], 1, zf, zs, f);
      if (st != LP_OK) break;
      if (p->select_iaf_output) encode_iaf_channel(zf, zs, T, p->threshold[f], spk + f, nf);
      else encode_scale_channel(zf, zs, T, p->scale[f], spk + f, nf);
    }
  }
  if (rot) lp_ctx_dealloc(ctx, rot, rot_bytes);
  if (z) lp_ctx_dealloc(ctx, z, z_bytes);
  lp_tensor_release(xi);
  if (st != LP_OK) { lp_imuif_result_release(out); return st; }
  if (!p->bypass_jsvd) memcpy(state, first, sizeof first);
  return LP_OK;
}
