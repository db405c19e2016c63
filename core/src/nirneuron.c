/*
** core/src/nirneuron.c -- NIR's neuron family (I, IF, LI, LIF, CubaLI,
** CubaLIF) over all T steps: forward loop and BPTT backward side by side,
** one autodiff node. See limpet/nirneuron.h for the step.
** Owns: argument checks, the saved buffers (u and i of every step), the
** per-neuron coefficient gradients summed over batch and time.
** Not here: tau/r/dt -> coefficients (stdlib/limpet/nn/nir_neurons.lua,
** with tensor ops, so their gradients reach the taus).
** Shapes: (B, T, N); coefficients (N).
*/
#include <math.h>
#include <string.h>

#include "tensor_impl.h"
#include "limpet/autograd.h"
#include "limpet/nirneuron.h"

#define TRY(x) do { if ((st = (x)) != LP_OK) goto done; } while (0)

enum { C_AM, C_GM, C_CM, C_AS, C_GS, C_TH, C_VR, NCOEF };

typedef struct nn_dims { int64_t B, T, N; int syn, spk; lp_surrogate sg; double scale; } nn_dims;

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
    REAL *v = vT + b * N, *i = iT + b * N;                                                     \
    for (n = 0; n < N; n++) { v[n] = v0 ? v0[b * N + n] : 0; i[n] = i0 ? i0[b * N + n] : 0; } \
    for (t = 0; t < d->T; t++) {                                                               \
      const int64_t o = (b * d->T + t) * N;                                                    \
      for (n = 0; n < N; n++) {                                                                \
        REAL in = x[o + n], u, z = 0;                                                          \
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
      const int64_t o = (b * d->T + t) * N + n;                                                \
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
        vprev = v0 ? v0[b * N + n] : 0;                                                        \
        if (d->syn) iprev = i0 ? i0[b * N + n] : 0;                                            \
      }                                                                                        \
      in = d->syn ? I[o] : x[o];                                                               \
      if (gc[C_AM]) gc[C_AM][n] += gu * vprev;                                                 \
      if (gc[C_GM]) gc[C_GM][n] += gu * in;                                                    \
      if (gc[C_CM]) gc[C_CM][n] += gu;                                                         \
      gin = c[C_GM][n] * gu;                                                                   \
      if (d->syn) {                                                                            \
        gi = gin + c[C_AS][n] * gi;                                                            \
        if (gc[C_AS]) gc[C_AS][n] += gi * iprev;                                               \
        if (gc[C_GS]) gc[C_GS][n] += gi * x[o];                                                \
        if (gx) gx[o] = (REAL)(c[C_GS][n] * gi);                                               \
      } else if (gx) gx[o] = (REAL)gin;                                                        \
      gv = c[C_AM][n] * gu;                                                                    \
    }                                                                                          \
  }                                                                                            \
}

DEFINE_NN(float, f)
DEFINE_NN(double, d)

typedef struct nn_pl { nn_dims d; int sx, su, si, sc[NCOEF], sv0, si0; } nn_pl;

static lp_status nn_bw(lp_ctx *ctx, lp_node *node, lp_tensor *const *gout, lp_tensor **gin) {
  nn_pl *p = lp_node_payload(node);
  const nn_dims *d = &p->d;
  lp_dtype dt = lp_node_input_dtype(node, 0);
  lp_tensor *go = NULL, *gx = NULL, *gcd[NCOEF] = {0};
  double *gcp[NCOEF] = {0};
  void *cp[NCOEF] = {0};
  const lp_tensor *x = lp_node_saved(node, p->sx), *U = lp_node_saved(node, p->su);
  const lp_tensor *I = p->si >= 0 ? lp_node_saved(node, p->si) : NULL;
  const lp_tensor *v0 = p->sv0 >= 0 ? lp_node_saved(node, p->sv0) : NULL;
  const lp_tensor *i0 = p->si0 >= 0 ? lp_node_saved(node, p->si0) : NULL;
  lp_status st = LP_OK;
  int k;
  if (!gout[0]) return LP_OK;
  TRY(lp_tensor_astype(ctx, gout[0], dt, &go));
  { lp_tensor *c; TRY(lp_tensor_contiguous(ctx, go, &c)); lp_tensor_release(go); go = c; }
  if (lp_node_input_needs_grad(node, 0)) TRY(lp_tensor_new(ctx, dt, 3, x->shape, &gx));
  for (k = 0; k < NCOEF; k++) {
    if (p->sc[k] < 0) continue;
    cp[k] = lp_tensor_data(lp_node_saved(node, p->sc[k]));
    if (lp_node_input_needs_grad(node, 1 + k)) {
      TRY(lp_tensor_new(ctx, LP_F64, 1, &d->N, &gcd[k]));
      gcp[k] = lp_tensor_data(gcd[k]);
    }
  }
  if (dt == LP_F32)
    bwd_f(d, lp_tensor_data(x), (float *const *)cp, v0 ? lp_tensor_data(v0) : NULL, i0 ? lp_tensor_data(i0) : NULL,
          lp_tensor_data(U), I ? lp_tensor_data(I) : NULL, lp_tensor_data(go), gx ? lp_tensor_data(gx) : NULL, gcp);
  else
    bwd_d(d, lp_tensor_data(x), (double *const *)cp, v0 ? lp_tensor_data(v0) : NULL, i0 ? lp_tensor_data(i0) : NULL,
          lp_tensor_data(U), I ? lp_tensor_data(I) : NULL, lp_tensor_data(go), gx ? lp_tensor_data(gx) : NULL, gcp);
  gin[0] = gx;
  gx = NULL;
  for (k = 0; k < NCOEF; k++) { gin[1 + k] = gcd[k]; gcd[k] = NULL; }
done:
  lp_tensor_release(go); lp_tensor_release(gx);
  for (k = 0; k < NCOEF; k++) lp_tensor_release(gcd[k]);
  return st;
}

static lp_status check_vec(lp_ctx *ctx, const lp_tensor *t, lp_dtype dt, int64_t N, int arg, const char *name) {
  if (t->dtype != dt || t->ndim != 1 || t->shape[0] != N)
    return lp_ctx_error(ctx, LP_ESHAPE, arg, "'%s' must be (%lld,) of the input's dtype", name, (long long)N);
  return LP_OK;
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
    if (a->v0->dtype != x->dtype || a->v0->ndim != 2 || a->v0->shape[0] != d.B || a->v0->shape[1] != d.N)
      { st = lp_ctx_error(ctx, LP_ESHAPE, 2, "'v0' must be (B, N) of the input's dtype"); goto done; }
    TRY(lp_tensor_contiguous(ctx, (lp_tensor *)a->v0, &v0));
  }
  if (a->i0 && d.syn) {
    if (a->i0->dtype != x->dtype || a->i0->ndim != 2 || a->i0->shape[0] != d.B || a->i0->shape[1] != d.N)
      { st = lp_ctx_error(ctx, LP_ESHAPE, 2, "'i0' must be (B, N) of the input's dtype"); goto done; }
    TRY(lp_tensor_contiguous(ctx, (lp_tensor *)a->i0, &i0));
  }
  TRY(lp_tensor_contiguous(ctx, (lp_tensor *)x, &xc));
  TRY(lp_tensor_empty(ctx, x->dtype, 3, x->shape, out));
  TRY(lp_tensor_empty(ctx, x->dtype, 3, x->shape, &U));
  if (d.syn) TRY(lp_tensor_empty(ctx, x->dtype, 3, x->shape, &I));
  if (vmem) TRY(lp_tensor_empty(ctx, x->dtype, 3, x->shape, &vm));
  TRY(lp_tensor_empty(ctx, x->dtype, 2, st2, &vT));
  TRY(lp_tensor_empty(ctx, x->dtype, 2, st2, &iT));
  if (x->dtype == LP_F32)
    fwd_f(&d, lp_tensor_data(xc), (float *const *)cp, v0 ? lp_tensor_data(v0) : NULL, i0 ? lp_tensor_data(i0) : NULL,
          lp_tensor_data(*out), vm ? lp_tensor_data(vm) : NULL, lp_tensor_data(U), I ? lp_tensor_data(I) : NULL,
          lp_tensor_data(vT), lp_tensor_data(iT));
  else
    fwd_d(&d, lp_tensor_data(xc), (double *const *)cp, v0 ? lp_tensor_data(v0) : NULL, i0 ? lp_tensor_data(i0) : NULL,
          lp_tensor_data(*out), vm ? lp_tensor_data(vm) : NULL, lp_tensor_data(U), I ? lp_tensor_data(I) : NULL,
          lp_tensor_data(vT), lp_tensor_data(iT));
  inputs[0] = x;
  for (k = 0; k < NCOEF; k++) inputs[1 + k] = cin[k];
  if (lp_needs_grad(ctx, 1 + NCOEF, inputs)) {
    lp_node *node;
    nn_pl *p;
    TRY(lp_node_record(ctx, "nir_neuron", nn_bw, 1 + NCOEF, inputs, 1, out, sizeof(nn_pl), &node));
    p = lp_node_payload(node);
    p->d = d;
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
