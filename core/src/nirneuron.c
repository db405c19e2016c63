/*
** core/src/nirneuron.c -- NIR's neuron family (I, IF, LI, LIF, CubaLI,
** CubaLIF) over all T steps: forward loop and BPTT backward side by side,
** one autodiff node. See limpet/nirneuron.h for the step.
** Owns: argument checks, the saved buffers (u and i of every step), the
** per-neuron coefficient gradients summed over batch and time.
** Not here: tau/r/dt -> coefficients (stdlib/limpet/nn/nir_neurons.lua,
** with tensor ops, so their gradients reach the taus).
** Shapes: (B, T, N) (x with its neurons contiguous is read in place, any
** strides over B and T: a repeat over T costs no copy); coefficients (N).
*/
#include <math.h>
#include <string.h>

#include "tensor_impl.h"
#include "limpet/autograd.h"
#include "limpet/nirneuron.h"

#define TRY(x) do { if ((st = (x)) != LP_OK) goto done; } while (0)

enum { C_AM, C_GM, C_CM, C_AS, C_GS, C_TH, C_VR, NCOEF };

typedef struct nn_dims {
  int64_t B, T, N;
  int syn, spk; lp_surrogate sg; double scale;
  int64_t v0s, i0s;              /* row stride of v0 / i0: N, or 0 when given as (N) */
  int64_t xsb, xst;              /* x's strides over B and T (elements; 0 for a repeat) */
} nn_dims;

static double surr(const nn_dims *d, double du) {
  if (d->sg == LP_SG_ATAN) {
    double q = 1.5707963267948966 * d->scale * du;
    return (d->scale / 2) / (1 + q * q);
  }
  {
    double q = 1 + d->scale * fabs(du);
    return 1 / (q * q);
  }
}

#define DEFINE_NN(REAL, SFX)                                                                  \
static void fwd_##SFX(const nn_dims *d, const REAL *x, REAL *const *c, const REAL *v0,         \
                      const REAL *i0, REAL *out, REAL *vm, REAL *U, REAL *I, REAL *vT, REAL *iT) { \
  int64_t b, t, n, N = d->N;                                                                   \
  for (b = 0; b < d->B; b++) {                                                                 \
    REAL *v = vT + b * N, *i = iT ? iT + b * N : NULL;                                         \
    for (n = 0; n < N; n++) v[n] = v0 ? v0[b * d->v0s + n] : 0;                                \
    if (i) for (n = 0; n < N; n++) i[n] = i0 ? i0[b * d->i0s + n] : 0;                         \
    for (t = 0; t < d->T; t++) {                                                               \
      const int64_t o = (b * d->T + t) * N;                                                    \
      for (n = 0; n < N; n++) {                                                                \
        REAL in = x[b * d->xsb + t * d->xst + n], u, z = 0;                                     \
        if (d->syn) { i[n] = c[C_AS][n] * i[n] + c[C_GS][n] * in; in = i[n]; I[o + n] = i[n]; } \
        u = c[C_AM][n] * v[n] + c[C_GM][n] * in + c[C_CM][n];                                  \
        U[o + n] = u;                                                                          \
        if (d->spk && u > c[C_TH][n]) z = 1;                                                   \
        v[n] = z != 0 ? c[C_VR][n] : u;                                                        \
        if (vm) vm[o + n] = v[n];                                                              \
        out[o + n] = d->spk ? z : v[n];                                                        \
      }                                                                                        \
    }                                                                                          \
  }                                                                                            \
}                                                                                              \
/* go: dL/dout. gx (B,T,N) written; gc[k] (N) accumulated (NULL: not wanted). */               \
static void bwd_##SFX(const nn_dims *d, const REAL *x, REAL *const *c, const REAL *v0,         \
                      const REAL *i0, const REAL *U, const REAL *I, const REAL *go, REAL *gx,  \
                      double *const *gc) {                                                     \
  int64_t b, t, n, N = d->N;                                                                   \
  for (b = 0; b < d->B; b++) for (n = 0; n < N; n++) {                                         \
    double gv = 0, gi = 0;                 /* adjoints carried from step t+1 */                \
    for (t = d->T - 1; t >= 0; t--) {                                                          \
      const int64_t o = (b * d->T + t) * N + n, ox = b * d->xsb + t * d->xst + n;             \
      const double u = U[o];                                                                   \
      double z = 0, gu, gin, vprev, iprev = 0, in;                                             \
      if (d->spk && u > c[C_TH][n]) z = 1;                                                     \
      /* adjoint of v_t: next step's a_m gu (carried in gv) + output (non-spiking) */           \
      if (!d->spk) gv += go[o];                                                                \
      gu = gv * (1 - z);                                                                       \
      if (d->spk) {                                                                            \
        double s = surr(d, u - c[C_TH][n]);                                                    \
        gu += go[o] * s;                                                                       \
        if (gc[C_TH]) gc[C_TH][n] -= go[o] * s;                                                \
        if (gc[C_VR]) gc[C_VR][n] += gv * z;                                                   \
      }                                                                                        \
      if (t > 0) {                                                                             \
        const int64_t op = o - N;                                                              \
        const double up = U[op];                                                               \
        vprev = (d->spk && up > c[C_TH][n]) ? c[C_VR][n] : up;                                 \
        if (d->syn) iprev = I[op];                                                             \
      } else {                                                                                 \
        vprev = v0 ? v0[b * d->v0s + n] : 0;                                                   \
        if (d->syn) iprev = i0 ? i0[b * d->i0s + n] : 0;                                       \
      }                                                                                        \
      in = d->syn ? I[o] : x[ox];                                                              \
      if (gc[C_AM]) gc[C_AM][n] += gu * vprev;                                                 \
      if (gc[C_GM]) gc[C_GM][n] += gu * in;                                                    \
      if (gc[C_CM]) gc[C_CM][n] += gu;                                                         \
      gin = c[C_GM][n] * gu;                                                                   \
      if (d->syn) {                                                                            \
        gi = gin + c[C_AS][n] * gi;                                                            \
        if (gc[C_AS]) gc[C_AS][n] += gi * iprev;                                               \
        if (gc[C_GS]) gc[C_GS][n] += gi * x[ox];                                               \
        if (gx) gx[o] = (REAL)(c[C_GS][n] * gi);                                               \
      } else if (gx) gx[o] = (REAL)gin;                                                        \
      gv = c[C_AM][n] * gu;                                                                    \
    }                                                                                          \
  }                                                                                            \
}

DEFINE_NN(float, f)
DEFINE_NN(double, d)

/* ---- the float fast path ------------------------------------------------
   The same step and BPTT as fwd_f / bwd_f (the plain references above,
   selected by args->reference), laid out for the vector units: time runs
   in the outer loop and neurons in the inner one (contiguous, no branch:
   selects), one inner loop per (synapse, spiking, surrogate) combination
   (nn_*_row are always inlined with constant flags). The forward computes
   the same float operations in the same order as fwd_f (ISO C mode: no FMA
   contraction), so its outputs are bit-equal; the backward carries its
   adjoints in float and sums each neuron's coefficient gradients over one
   batch row's T steps in float before adding them into the double totals
   (bwd_f: double throughout), so its gradients agree to float rounding
   (spec: spec/nn/nir_neurons_spec.lua, fast against reference). */
#define NN_INLINE static inline __attribute__((always_inline))

/* one step of one batch row: x -> out, U (and I); v, i carried */
NN_INLINE void nn_fwd_row(int64_t N, const int syn, const int spk, const float *restrict xt,
                          float *const *c, float *restrict v, float *restrict i, float *restrict ut,
                          float *restrict it, float *restrict ot) {
  const float *restrict am = c[C_AM], *restrict gm = c[C_GM], *restrict cm = c[C_CM];
  const float *restrict as = c[C_AS], *restrict gs = c[C_GS], *restrict th = c[C_TH], *restrict vr = c[C_VR];
  int64_t n;
  if (syn) {
#pragma GCC ivdep
    for (n = 0; n < N; n++) { float q = as[n] * i[n] + gs[n] * xt[n]; i[n] = q; it[n] = q; }
    xt = it;
  }
  if (spk)
#pragma GCC ivdep
    for (n = 0; n < N; n++) {          /* every load unconditional: selects, no branch */
      const float u = am[n] * v[n] + gm[n] * xt[n] + cm[n], r = vr[n];
      const int z = u > th[n];
      ut[n] = u;
      v[n] = z ? r : u;
      ot[n] = z ? 1.0f : 0.0f;
    }
  else
#pragma GCC ivdep
    for (n = 0; n < N; n++) {
      float u = am[n] * v[n] + gm[n] * xt[n] + cm[n];
      ut[n] = u; v[n] = u; ot[n] = u;
    }
}

/* one step back of one batch row. first: t = 0, when vprev / iprev are the
   initial states pv / pi; else pv / pi are the previous step's U / I rows
   (vprev = the reset of u). Every load is unconditional, every choice a
   select. a[k]: per-row float accumulators of the coefficient gradients. */
NN_INLINE void nn_bwd_row(int64_t N, const int syn, const int spk, const int atan_sg, const int first,
                          const float scale, float *const *c, const float *restrict ut,
                          const float *restrict itr, const float *restrict pv, const float *restrict pi,
                          const float *restrict xt, const float *restrict got, float *restrict gv,
                          float *restrict gi, float *restrict gxt, float *const *a) {
  const float *restrict am = c[C_AM], *restrict gm = c[C_GM];
  const float *restrict as = c[C_AS], *restrict gs = c[C_GS], *restrict th = c[C_TH], *restrict vr = c[C_VR];
  float *restrict aAM = a[C_AM], *restrict aGM = a[C_GM], *restrict aCM = a[C_CM], *restrict aAS = a[C_AS];
  float *restrict aGS = a[C_GS], *restrict aTH = a[C_TH], *restrict aVR = a[C_VR];
  const float q0 = 1.5707963267948966f * scale, hs = scale / 2;
  int64_t n;
  /* every array distinct (scratch rows, outputs, read-only inputs): ivdep
     spares the vectoriser its (too many) runtime alias checks */
#pragma GCC ivdep
  for (n = 0; n < N; n++) {
    const float u = ut[n], gvn = gv[n], p = pv[n];
    float gu, vprev, gin;
    if (spk) {
      const float thn = th[n], r = vr[n], g = got[n], du = u - thn;
      float sg;
      if (atan_sg) { const float q = q0 * du; sg = hs / (1 + q * q); }
      else { const float q = 1 + scale * fabsf(du); sg = 1 / (q * q); }
      const float z = (float)(u > thn);      /* 0 or 1: products, not branches */
      gu = gvn * (1 - z) + g * sg;
      aTH[n] -= g * sg;
      aVR[n] += gvn * z;
      vprev = first ? p : (p > thn ? r : p);
    } else {
      gu = gvn + got[n];
      vprev = p;
    }
    const float in = syn ? itr[n] : xt[n];
    aAM[n] += gu * vprev;
    aGM[n] += gu * in;
    aCM[n] += gu;
    gin = gm[n] * gu;
    if (syn) {
      const float q = gin + as[n] * gi[n];
      gi[n] = q;
      aAS[n] += q * pi[n];
      aGS[n] += q * xt[n];
      gxt[n] = gs[n] * q;
    } else gxt[n] = gin;
    gv[n] = am[n] * gu;
  }
}

/* the row loop for this call's (synapse, spiking, surrogate, first step) */
#define NN_BWD_ROW(SYN, SPK, AT, FIRST) \
  nn_bwd_row(N, SYN, SPK, AT, FIRST, scale, c, U + o, itr, pv, pi, x + ox, go + o, gv, gi, gxt, a)
#define NN_BWD_FIRST(SYN, SPK, AT, F) do { if (F) NN_BWD_ROW(SYN, SPK, AT, 1); else NN_BWD_ROW(SYN, SPK, AT, 0); } while (0)
#define NN_BWD_DISPATCH(F)                                                                     \
  if (d->syn && d->spk) {                                                                      \
    if (d->sg == LP_SG_ATAN) NN_BWD_FIRST(1, 1, 1, F); else NN_BWD_FIRST(1, 1, 0, F);          \
  } else if (d->spk) {                                                                         \
    if (d->sg == LP_SG_ATAN) NN_BWD_FIRST(0, 1, 1, F); else NN_BWD_FIRST(0, 1, 0, F);          \
  } else if (d->syn) NN_BWD_FIRST(1, 0, 0, F);                                                 \
  else NN_BWD_FIRST(0, 0, 0, F);

/* scratch rows: gv, gi, a spare gx row (gx not wanted), a zero row (no
   initial state) and the 7 accumulators. Coefficients a variant does not
   have (no synapse, not spiking: NULL) are never read; accumulators of
   coefficients that want no gradient keep summing, unread. */
#define NN_BODIES(SFX, ATTR)                                                                   \
ATTR static void fwdfast_##SFX(const nn_dims *d, const float *x, float *const *c, const float *v0, \
                               const float *i0, float *out, float *vm, float *U, float *I,     \
                               float *vT, float *iT) {                                         \
  const int64_t N = d->N;                                                                      \
  int64_t b, t, n;                                                                             \
  for (b = 0; b < d->B; b++) {                                                                 \
    float *v = vT + b * N, *i = iT ? iT + b * N : NULL;                                        \
    for (n = 0; n < N; n++) v[n] = v0 ? v0[b * d->v0s + n] : 0;                                \
    if (i) for (n = 0; n < N; n++) i[n] = i0 ? i0[b * d->i0s + n] : 0;                         \
    for (t = 0; t < d->T; t++) {                                                               \
      const int64_t o = (b * d->T + t) * N;                                                    \
      const float *xt = x + b * d->xsb + t * d->xst;                                           \
      if (d->syn && d->spk) nn_fwd_row(N, 1, 1, xt, c, v, i, U + o, I + o, out + o);          \
      else if (d->syn) nn_fwd_row(N, 1, 0, xt, c, v, i, U + o, I + o, out + o);               \
      else if (d->spk) nn_fwd_row(N, 0, 1, xt, c, v, NULL, U + o, NULL, out + o);             \
      else nn_fwd_row(N, 0, 0, xt, c, v, NULL, U + o, NULL, out + o);                         \
      if (vm) memcpy(vm + o, v, sizeof *v * (size_t)N);                                        \
    }                                                                                          \
  }                                                                                            \
}                                                                                              \
ATTR static void bwdfast_##SFX(const nn_dims *d, const float *x, float *const *c, const float *v0, \
                               const float *i0, const float *U, const float *I, const float *go, \
                               float *gx, double *const *gc, float *scratch) {                 \
  const int64_t N = d->N;                                                                      \
  const float scale = (float)d->scale;                                                         \
  float *gv = scratch, *gi = scratch + N, *spare = scratch + 2 * N, *zero = scratch + 3 * N;   \
  float *a[NCOEF];                                                                             \
  int64_t b, t, n;                                                                             \
  int k;                                                                                       \
  for (k = 0; k < NCOEF; k++) a[k] = scratch + (4 + k) * N;                                    \
  /* all zeroed once; per row only gv, gi and the wanted accumulators (the   \
     others only sum, unread) */                                               \
  memset(scratch, 0, sizeof *scratch * (size_t)((4 + NCOEF) * N));                             \
  for (b = 0; b < d->B; b++) {                                                                 \
    const float *v0r = v0 ? v0 + b * d->v0s : zero, *i0r = i0 ? i0 + b * d->i0s : zero;       \
    if (b > 0) {                                                                               \
      memset(scratch, 0, sizeof *scratch * (size_t)(2 * N));                                   \
      for (k = 0; k < NCOEF; k++) if (gc[k]) memset(a[k], 0, sizeof *scratch * (size_t)N);     \
    }                                                                                          \
    for (t = d->T - 1; t >= 0; t--) {                                                          \
      const int64_t o = (b * d->T + t) * N, ox = b * d->xsb + t * d->xst;                      \
      const float *pv = t > 0 ? U + o - N : v0r, *pi = (t > 0 && I) ? I + o - N : i0r;         \
      const float *itr = I ? I + o : NULL;                                                     \
      float *gxt = gx ? gx + o : spare;                                                        \
      NN_BWD_DISPATCH(t == 0)                                                                  \
    }                                                                                          \
    for (k = 0; k < NCOEF; k++)                                                                \
      if (gc[k]) for (n = 0; n < N; n++) gc[k][n] += a[k][n];                                  \
  }                                                                                            \
}

NN_BODIES(generic, )
#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__)
NN_BODIES(avx2, __attribute__((target("avx2,fma"))))
/* by what the CPU reports (see core/src/conv.c on target_clones) */
static int nn_avx2(void) {
  __builtin_cpu_init();
  return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
}
#else
#define fwdfast_avx2 fwdfast_generic
#define bwdfast_avx2 bwdfast_generic
static int nn_avx2(void) { return 0; }
#endif

typedef struct nn_pl { nn_dims d; int sx, su, si, sc[NCOEF], sv0, si0, reference; } nn_pl;

static lp_status nn_bw(lp_ctx *ctx, lp_node *node, lp_tensor *const *gout, lp_tensor **gin) {
  nn_pl *p = lp_node_payload(node);
  const nn_dims *d = &p->d;
  lp_dtype dt = lp_node_input_dtype(node, 0);
  lp_tensor *go = NULL, *gx = NULL, *gcd[NCOEF] = {0}, *scratch = NULL;
  double *gcp[NCOEF] = {0};
  void *cp[NCOEF] = {0};
  const lp_tensor *x = lp_node_saved(node, p->sx), *U = lp_node_saved(node, p->su);
  const lp_tensor *I = p->si >= 0 ? lp_node_saved(node, p->si) : NULL;
  const lp_tensor *v0 = p->sv0 >= 0 ? lp_node_saved(node, p->sv0) : NULL;
  const lp_tensor *i0 = p->si0 >= 0 ? lp_node_saved(node, p->si0) : NULL;
  lp_status st = LP_OK;
  int k;
  if (!gout[0]) return LP_OK;
  if (gout[0]->dtype == dt) TRY(lp_tensor_contiguous(ctx, gout[0], &go));   /* no copy when it is */
  else TRY(lp_tensor_astype(ctx, gout[0], dt, &go));
  if (lp_node_input_needs_grad(node, 0)) TRY(lp_tensor_empty(ctx, dt, 3, x->shape, &gx));   /* all written */
  for (k = 0; k < NCOEF; k++) {
    if (p->sc[k] < 0) continue;
    cp[k] = lp_tensor_data(lp_node_saved(node, p->sc[k]));
    if (lp_node_input_needs_grad(node, 1 + k)) {
      TRY(lp_tensor_new(ctx, LP_F64, 1, &d->N, &gcd[k]));
      gcp[k] = lp_tensor_data(gcd[k]);
    }
  }
  if (dt == LP_F32 && !p->reference) {
    int64_t ns = (4 + NCOEF) * d->N;
    TRY(lp_tensor_empty(ctx, LP_F32, 1, &ns, &scratch));
    (nn_avx2() ? bwdfast_avx2 : bwdfast_generic)(d, lp_tensor_data(x), (float *const *)cp,
        v0 ? lp_tensor_data(v0) : NULL, i0 ? lp_tensor_data(i0) : NULL, lp_tensor_data(U),
        I ? lp_tensor_data(I) : NULL, lp_tensor_data(go), gx ? lp_tensor_data(gx) : NULL, gcp,
        lp_tensor_data(scratch));
  } else if (dt == LP_F32)
    bwd_f(d, lp_tensor_data(x), (float *const *)cp, v0 ? lp_tensor_data(v0) : NULL, i0 ? lp_tensor_data(i0) : NULL,
          lp_tensor_data(U), I ? lp_tensor_data(I) : NULL, lp_tensor_data(go), gx ? lp_tensor_data(gx) : NULL, gcp);
  else
    bwd_d(d, lp_tensor_data(x), (double *const *)cp, v0 ? lp_tensor_data(v0) : NULL, i0 ? lp_tensor_data(i0) : NULL,
          lp_tensor_data(U), I ? lp_tensor_data(I) : NULL, lp_tensor_data(go), gx ? lp_tensor_data(gx) : NULL, gcp);
  gin[0] = gx;
  gx = NULL;
  for (k = 0; k < NCOEF; k++) { gin[1 + k] = gcd[k]; gcd[k] = NULL; }
done:
  lp_tensor_release(go); lp_tensor_release(gx); lp_tensor_release(scratch);
  for (k = 0; k < NCOEF; k++) lp_tensor_release(gcd[k]);
  return st;
}

static lp_status check_vec(lp_ctx *ctx, const lp_tensor *t, lp_dtype dt, int64_t N, int arg, const char *name) {
  if (t->dtype != dt || t->ndim != 1 || t->shape[0] != N)
    return lp_ctx_error(ctx, LP_ESHAPE, arg, "'%s' must be (%lld,) of the input's dtype", name, (long long)N);
  return LP_OK;
}

/* an initial state: (B, N), or (N) for the same state in every batch row
   (row stride 0) */
static lp_status check_state(lp_ctx *ctx, const lp_tensor *t, lp_dtype dt, int64_t B, int64_t N,
                             const char *name, int64_t *row_stride) {
  if (t->dtype == dt && t->ndim == 2 && t->shape[0] == B && t->shape[1] == N) { *row_stride = N; return LP_OK; }
  if (t->dtype == dt && t->ndim == 1 && t->shape[0] == N) { *row_stride = 0; return LP_OK; }
  return lp_ctx_error(ctx, LP_ESHAPE, 2, "'%s' must be (B, N) or (N) of the input's dtype", name);
}

lp_status lp_ag_nir_neuron(lp_ctx *ctx, const lp_tensor *x, const lp_nir_neuron_args *a,
                           lp_tensor **out, lp_tensor **vmem, lp_tensor **v_final, lp_tensor **i_final) {
  static const char *const names[NCOEF] = {"a_m", "g_m", "c_m", "a_s", "g_s", "theta", "v_reset"};
  const lp_tensor *cin[NCOEF];
  lp_tensor *cc[NCOEF] = {0}, *xc = NULL, *U = NULL, *I = NULL, *vT = NULL, *iT = NULL, *vm = NULL;
  lp_tensor *v0 = NULL, *i0 = NULL, *itmp = NULL;
  void *cp[NCOEF] = {0};
  const lp_tensor *inputs[1 + NCOEF];
  nn_dims d;
  int64_t st2[2];
  lp_status st = LP_OK;
  int k;
  *out = NULL;
  if (vmem) *vmem = NULL;
  if (v_final) *v_final = NULL;
  if (i_final) *i_final = NULL;
  if (x->ndim != 3 || !lp_dtype_is_float(x->dtype))
    return lp_ctx_error(ctx, LP_ESHAPE, 1, "input must be a float (B, T, N) tensor");
  cin[C_AM] = a->a_m; cin[C_GM] = a->g_m; cin[C_CM] = a->c_m; cin[C_AS] = a->a_s; cin[C_GS] = a->g_s;
  cin[C_TH] = a->theta; cin[C_VR] = a->v_reset;
  if (!a->a_m || !a->g_m || !a->c_m) return lp_ctx_error(ctx, LP_EARG, 2, "a_m, g_m and c_m are required");
  if (!a->a_s != !a->g_s) return lp_ctx_error(ctx, LP_EARG, 2, "a_s and g_s go together");
  if (!a->theta != !a->v_reset) return lp_ctx_error(ctx, LP_EARG, 2, "theta and v_reset go together");
  if (a->sg != LP_SG_FAST_SIGMOID && a->sg != LP_SG_ATAN)
    return lp_ctx_error(ctx, LP_EARG, 2, "surrogate must be FastSigmoid or ATan");
  memset(&d, 0, sizeof d);
  d.B = x->shape[0]; d.T = x->shape[1]; d.N = x->shape[2];
  d.syn = a->a_s != NULL; d.spk = a->theta != NULL; d.sg = a->sg; d.scale = a->scale;
  st2[0] = d.B; st2[1] = d.N;
  for (k = 0; k < NCOEF; k++) {
    if (!cin[k]) continue;
    if ((st = check_vec(ctx, cin[k], x->dtype, d.N, 2, names[k]))) return st;
    TRY(lp_tensor_contiguous(ctx, (lp_tensor *)cin[k], &cc[k]));
    cp[k] = lp_tensor_data(cc[k]);
  }
  if (a->v0) {
    if ((st = check_state(ctx, a->v0, x->dtype, d.B, d.N, "v0", &d.v0s))) goto done;
    TRY(lp_tensor_contiguous(ctx, (lp_tensor *)a->v0, &v0));
  }
  if (a->i0 && d.syn) {
    if ((st = check_state(ctx, a->i0, x->dtype, d.B, d.N, "i0", &d.i0s))) goto done;
    TRY(lp_tensor_contiguous(ctx, (lp_tensor *)a->i0, &i0));
  }
  /* x as it comes when its neurons are contiguous (a repeat over T from
     expand runs without being copied; saved as the view), else a copy */
  if (x->stride[2] == 1 || d.N == 1) xc = lp_tensor_retain((lp_tensor *)x);
  else TRY(lp_tensor_contiguous(ctx, (lp_tensor *)x, &xc));
  d.xsb = xc->stride[0]; d.xst = xc->stride[1];
  TRY(lp_tensor_empty(ctx, x->dtype, 3, x->shape, out));
  TRY(lp_tensor_empty(ctx, x->dtype, 3, x->shape, &U));
  if (d.syn) TRY(lp_tensor_empty(ctx, x->dtype, 3, x->shape, &I));
  if (vmem) TRY(lp_tensor_empty(ctx, x->dtype, 3, x->shape, &vm));
  TRY(lp_tensor_empty(ctx, x->dtype, 2, st2, &vT));
  if (d.syn) TRY(lp_tensor_empty(ctx, x->dtype, 2, st2, &iT));
  else if (i_final) TRY(lp_tensor_new(ctx, x->dtype, 2, st2, &iT));   /* zeros, never written */
  if (x->dtype == LP_F32 && !a->reference)
    (nn_avx2() ? fwdfast_avx2 : fwdfast_generic)(&d, lp_tensor_data(xc), (float *const *)cp,
        v0 ? lp_tensor_data(v0) : NULL, i0 ? lp_tensor_data(i0) : NULL, lp_tensor_data(*out),
        vm ? lp_tensor_data(vm) : NULL, lp_tensor_data(U), I ? lp_tensor_data(I) : NULL,
        lp_tensor_data(vT), d.syn ? lp_tensor_data(iT) : NULL);
  else if (x->dtype == LP_F32)
    fwd_f(&d, lp_tensor_data(xc), (float *const *)cp, v0 ? lp_tensor_data(v0) : NULL, i0 ? lp_tensor_data(i0) : NULL,
          lp_tensor_data(*out), vm ? lp_tensor_data(vm) : NULL, lp_tensor_data(U), I ? lp_tensor_data(I) : NULL,
          lp_tensor_data(vT), d.syn ? lp_tensor_data(iT) : NULL);
  else
    fwd_d(&d, lp_tensor_data(xc), (double *const *)cp, v0 ? lp_tensor_data(v0) : NULL, i0 ? lp_tensor_data(i0) : NULL,
          lp_tensor_data(*out), vm ? lp_tensor_data(vm) : NULL, lp_tensor_data(U), I ? lp_tensor_data(I) : NULL,
          lp_tensor_data(vT), d.syn ? lp_tensor_data(iT) : NULL);
  inputs[0] = x;
  for (k = 0; k < NCOEF; k++) inputs[1 + k] = cin[k];
  if (lp_needs_grad(ctx, 1 + NCOEF, inputs)) {
    lp_node *node;
    nn_pl *p;
    TRY(lp_node_record(ctx, "nir_neuron", nn_bw, 1 + NCOEF, inputs, 1, out, sizeof(nn_pl), &node));
    p = lp_node_payload(node);
    p->d = d;
    p->reference = a->reference;
    p->si = p->sv0 = p->si0 = -1;
    TRY(lp_node_save(ctx, node, xc, &p->sx));
    TRY(lp_node_save(ctx, node, U, &p->su));
    if (I) TRY(lp_node_save(ctx, node, I, &p->si));
    if (v0) TRY(lp_node_save(ctx, node, v0, &p->sv0));
    if (i0) TRY(lp_node_save(ctx, node, i0, &p->si0));
    for (k = 0; k < NCOEF; k++) {
      p->sc[k] = -1;
      if (cc[k]) TRY(lp_node_save(ctx, node, cc[k], &p->sc[k]));
    }
  }
  if (vmem) { *vmem = vm; vm = NULL; }
  if (v_final) { *v_final = vT; vT = NULL; }
  if (i_final) { *i_final = iT; iT = NULL; }
done:
  for (k = 0; k < NCOEF; k++) lp_tensor_release(cc[k]);
  lp_tensor_release(xc); lp_tensor_release(U); lp_tensor_release(I); lp_tensor_release(vT);
  lp_tensor_release(iT); lp_tensor_release(vm); lp_tensor_release(v0); lp_tensor_release(i0);
  lp_tensor_release(itmp);
  if (st != LP_OK) { lp_tensor_release(*out); *out = NULL; }
  return st;
}
