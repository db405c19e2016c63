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
  lim = (int64_t)1 << (COV_BITS + k - 1);         /* |C_hp| must stay below 2^(31+k-1) */
  memcpy(first, state, sizeof first);
  for (b = 0; b < B; b++) {
    const int64_t *xs = (const int64_t *)lp_tensor_data(xi) + b * T * 3;
    int64_t *os = (int64_t *)lp_tensor_data(o) + b * T * 9;
    int64_t c[9];
    memcpy(c, state, sizeof c);
    for (t = 0; t < T; t++) {
      const int64_t *v = xs + 3 * t;
      int i, j;
      /* the 31-bit multiplier keeps all 2*16-1 product bits: no shift */
      for (i = 0; i < 3; i++)
        for (j = 0; j < 3; j++) {
          int64_t *cij = &c[3 * i + j];
          *cij = *cij - (*cij >> k) + v[i] * v[j];
          if (iabs64(*cij) >= lim) {
            lp_tensor_release(xi); lp_tensor_release(o);
            return lp_ctx_error(ctx, LP_EARG, 1,
                                "input: overflow in the covariance filter (2^%d bits with num_avg_bitshift %d); "
                                "scale the IMU samples down", COV_BITS + k - 1, k);
          }
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
  for (b = 0; b < B; b++) {
    const int64_t *xs = (const int64_t *)lp_tensor_data(xi) + b * T * 3;
    const int64_t *cs = (const int64_t *)lp_tensor_data(ci) + b * T * 9;
    int64_t *os = (int64_t *)lp_tensor_data(o) + b * T * 3;
    int64_t cold[9], Rold[9];
    int i, j;
    for (i = 0; i < 9; i++) { cold[i] = -1; Rold[i] = (i % 4 == 0); }
    for (t = 0; t < T; t++) {
      const int64_t *cn = cs + 9 * t, *v = xs + 3 * t;
      if (memcmp(cn, cold, sizeof cold) != 0) {
        int64_t Rn[9], Dn[9];
        st = jsvd_run(ctx, &L, cn, Rn, Dn);
        if (st != LP_OK) { lp_tensor_release(xi); lp_tensor_release(ci); lp_tensor_release(o); return st; }
        /* align the sign of each column with the previous rotation: sign(diag(Rnᵀ Rold)) */
        for (j = 0; j < 3; j++) {
          wide_t dot = 0;
          int s;
          for (i = 0; i < 3; i++) dot += (wide_t)Rn[3 * i + j] * (wide_t)Rold[3 * i + j];
          s = dot > 0 ? 1 : dot < 0 ? -1 : 0;
          for (i = 0; i < 3; i++) Rn[3 * i + j] *= s;
        }
        memcpy(cold, cn, sizeof cold);
        memcpy(Rold, Rn, sizeof Rold);
      }
      /* out_i = Σ_j (R_ji · x_j) >> 32, each partial checked against 16 bits */
      for (i = 0; i < 3; i++) {
        int64_t acc = 0;
        for (j = 0; j < 3; j++) {
          int64_t u = (Rold[3 * j + i] * v[j]) >> ROT_BITS;
          if (iabs64(u) > SIG_MAX || iabs64(acc + u) > SIG_MAX) {
            lp_tensor_release(xi); lp_tensor_release(ci); lp_tensor_release(o);
            return lp_ctx_error(ctx, LP_EARG, 1, "input: the rotated sample leaves the 16-bit range");
          }
          acc += u;
        }
        os[3 * t + i] = acc;
      }
    }
  }
  lp_tensor_release(xi);
  lp_tensor_release(ci);
  *out = o;
  return LP_OK;
}

/* ---- filter bank ------------------------------------------------------------- */

lp_status lp_imuif_filterbank(lp_ctx *ctx, const lp_tensor *x, const lp_imuif_filter *filt,
                              const int *chan, int nfilt, int mirror, lp_tensor **out) {
  lp_tensor *xi = NULL, *o = NULL;
  lp_status st;
  int64_t B, T, C, b;
  int f;
  *out = NULL;
  if (nfilt < 1 || nfilt > LP_IMUIF_MAXFILT)
    return lp_ctx_error(ctx, LP_EARG, 2, "filter bank: 1..%d filters, got %d", LP_IMUIF_MAXFILT, nfilt);
  for (f = 0; f < nfilt; f++) {
    const lp_imuif_filter *p = &filt[f];
    if (p->B_b < 0 || p->B_b > 15 || p->B_wf < 0 || p->B_wf > 15 || p->B_af < 0 || p->B_af > 15)
      return lp_ctx_error(ctx, LP_EARG, 2, "filter %d: B_b, B_wf and B_af must be in 0..15", f + 1);
    if (p->a1 < -65536 || p->a1 > 65535 || p->a2 < -65536 || p->a2 > 65535)
      return lp_ctx_error(ctx, LP_EARG, 2, "filter %d: a1 and a2 must be 17-bit signed integers", f + 1);
  }
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
  if (st != LP_OK) { lp_tensor_release(xi); return st; }
  for (b = 0; b < B; b++) {
    const int64_t *xs = (const int64_t *)lp_tensor_data(xi) + b * T * C;
    int64_t *os = (int64_t *)lp_tensor_data(o) + b * T * nfilt;
    for (f = 0; f < nfilt; f++) {
      const lp_imuif_filter *p = &filt[f];
      const int64_t wlim = ((int64_t)1 << (NUM_BITS + B_WORST_CASE + p->B_wf - 1)) - 1;
      const int64_t olim = ((int64_t)1 << (NUM_BITS + B_WORST_CASE - 1)) - 1;
      const int ch = chan[f];
      const int64_t pre = mirror ? T : 0;
      int64_t w1 = 0, w2 = 0, n;
      /* the doubled signal: x reversed, then x; outputs of the second half are kept */
      for (n = 0; n < pre + T; n++) {
        int64_t v = n < pre ? xs[(T - 1 - n) * C + ch] : xs[(n - pre) * C + ch];
        int64_t w = ((v * ((int64_t)1 << p->B_wf)) + ((-p->a2 * w2 - p->a1 * w1) >> p->B_af)) >> p->B_b;
        int64_t z;
        if (iabs64(w) > wlim) {
          lp_tensor_release(xi); lp_tensor_release(o);
          return lp_ctx_error(ctx, LP_EARG, 1,
                              "input: filter %d overflows its %d-bit AR register (unstable taps or input too large)",
                              f + 1, NUM_BITS + B_WORST_CASE + p->B_wf);
        }
        z = (n >= 2 ? w - w2 : w) >> p->B_wf;
        if (iabs64(z) > olim) {
          lp_tensor_release(xi); lp_tensor_release(o);
          return lp_ctx_error(ctx, LP_EARG, 1, "input: filter %d output overflows 25 bits", f + 1);
        }
        if (n >= pre) os[(n - pre) * nfilt + f] = z;
        w2 = w1;
        w1 = w;
      }
    }
  }
  lp_tensor_release(xi);
  *out = o;
  return LP_OK;
}

/* ---- spike encoders ------------------------------------------------------------ */

lp_status lp_imuif_encode_scale(lp_ctx *ctx, const lp_tensor *y, const int *scale, lp_tensor **out) {
  lp_tensor *yi = NULL, *o = NULL;
  lp_status st;
  int64_t B, T, C, i, n;
  *out = NULL;
  st = as_i64(ctx, y, 1, -1, "input", &yi);
  if (st != LP_OK) return st;
  B = lp_tensor_shape(yi)[0]; T = lp_tensor_shape(yi)[1]; C = lp_tensor_shape(yi)[2];
  for (i = 0; i < C; i++)
    if (scale[i] < 0 || scale[i] > 31) {
      lp_tensor_release(yi);
      return lp_ctx_error(ctx, LP_EARG, 2, "scale_values: %d is outside 0..31", scale[i]);
    }
  st = new_i64(ctx, B, T, C, &o);
  if (st != LP_OK) { lp_tensor_release(yi); return st; }
  {
    const int64_t *ys = lp_tensor_data(yi);
    int64_t *os = lp_tensor_data(o);
    n = B * T;
    for (i = 0; i < n; i++) {
      int64_t c;
      for (c = 0; c < C; c++) {
        int64_t v = iabs64(ys[i * C + c]) >> scale[c];
        os[i * C + c] = v > SPIKE_MAX ? SPIKE_MAX : v;
      }
    }
  }
  lp_tensor_release(yi);
  *out = o;
  return LP_OK;
}

lp_status lp_imuif_encode_iaf(lp_ctx *ctx, const lp_tensor *y, const int64_t *threshold,
                              lp_tensor **out) {
  lp_tensor *yi = NULL, *o = NULL;
  lp_status st;
  int64_t B, T, C, b, t, c;
  *out = NULL;
  st = as_i64(ctx, y, 1, -1, "input", &yi);
  if (st != LP_OK) return st;
  B = lp_tensor_shape(yi)[0]; T = lp_tensor_shape(yi)[1]; C = lp_tensor_shape(yi)[2];
  for (c = 0; c < C; c++)
    if (threshold[c] < 1 || threshold[c] > 2147483647) {
      lp_tensor_release(yi);
      return lp_ctx_error(ctx, LP_EARG, 2, "iaf_threshold_values: %lld is outside 1..2147483647",
                          (long long)threshold[c]);
    }
  st = new_i64(ctx, B, T, C, &o);
  if (st != LP_OK) { lp_tensor_release(yi); return st; }
  for (b = 0; b < B; b++) {
    const int64_t *ys = (const int64_t *)lp_tensor_data(yi) + b * T * C;
    int64_t *os = (int64_t *)lp_tensor_data(o) + b * T * C;
    for (c = 0; c < C; c++) {
      int64_t sum = 0, prev = 0;
      for (t = 0; t < T; t++) {
        int64_t cnt;
        sum += iabs64(ys[t * C + c]);
        cnt = sum / threshold[c];             /* sum >= 0: truncation is floor */
        os[t * C + c] = cnt - prev > 0 ? 1 : 0;
        prev = cnt;
      }
    }
  }
  lp_tensor_release(yi);
  *out = o;
  return LP_OK;
}
