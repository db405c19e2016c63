/*
** devices/dynapse2/dynapsim.c -- the DynapSim fused op (dynapsim.h): checks,
** buffers (all allocated before the time loop), the autograd node and its
** backward. The loops are in dynapsim_kernels.h (float and double).
** Inputs of the node: 0 x, 1 w_rec, 2 syn_a, 3 syn_q, 4 syn_g, 5 ahp_a,
** 6 ahp_h, 7 itau_mem, 8 igain_mem, 9 idc, 10 io, 11 mem_c, 12 fv, 13 utk;
** outputs: 0 spikes, 1 imem, 2 isyn, 3 iahp, 4 vmem (B, T, N).
*/
#include "dynapsim.h"
#include "limpet/autograd.h"
#include <math.h>
#include <stdio.h>
#include <string.h>

#if defined(__GNUC__) && !defined(__clang__)
/* fp-contract: fused multiply-adds in the polynomials (faster, rounded once);
   the reference step turns them off again (DSIM_LITERAL) */
#pragma GCC optimize("O3", "no-trapping-math", "fp-contract=fast")
#define DSIM_LITERAL __attribute__((optimize("fp-contract=off")))
#endif
#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && defined(__linux__)
#define DSIM_CLONES __attribute__((noinline, target_clones("avx512f", "avx2", "default")))
#else
#define DSIM_CLONES __attribute__((noinline))
#endif
#ifndef DSIM_LITERAL
#define DSIM_LITERAL
#endif
#include "fastmath.h"          /* after the pragma: its functions get the same options */

#define REAL float
#define FN(name) name##_f32
#define EXP_R expf
#define LOG_R logf
#define CEIL_R ceilf
#define FEXP_R fm_expf
#define FLOG_R fm_logf
#include "dynapsim_kernels.h"
#undef REAL
#undef FN
#undef EXP_R
#undef LOG_R
#undef CEIL_R
#undef FEXP_R
#undef FLOG_R
#define REAL double
#define FN(name) name##_f64
#define EXP_R exp
#define LOG_R log
#define CEIL_R ceil
#define FEXP_R fm_exp
#define FLOG_R fm_log
#include "dynapsim_kernels.h"
#undef REAL
#undef FN
#undef EXP_R
#undef LOG_R
#undef CEIL_R
#undef FEXP_R
#undef FLOG_R

enum { IN_X, IN_W, IN_SYN_A, IN_SYN_Q, IN_SYN_G, IN_AHP_A, IN_AHP_H, IN_ITM, IN_IGM, IN_IDC, IN_IO, IN_MC, IN_FV,
       IN_UTK, IN_N };
/* coefficient tensors, in lp_dynapsim_args order from syn_a */
enum { C_SYN_A, C_SYN_Q, C_SYN_G, C_AHP_A, C_AHP_H, C_ITM, C_IGM, C_IDC, C_IO, C_MC, C_FV, C_UTK, C_THR, C_TREF,
       C_SG, C_N };
static const char *const coef_names[C_N] = {"syn_a", "syn_q", "syn_g", "ahp_a", "ahp_h", "itau_mem", "igain_mem",
                                            "idc", "io", "mem_c", "fv", "utk", "ispkthr", "t_ref", "sg"};
/* state tensors */
enum { ST_ISYN, ST_IAHP, ST_IMEM, ST_VMEM, ST_S, ST_TIMER, ST_N };
/* saved slots */
enum { SV_W, SV_COEF, SV_S = SV_COEF + C_N, SV_IM, SV_IS, SV_IA, SV_V, SV_X, SV_R, SV_WTP, SV_WTI, SV_WTV, SV_WP,
       SV_WI, SV_WV, SV_INIT, SV_COUNT = SV_INIT + 5 };

typedef struct dsim_payload {
  int64_t B, T, N;
  double dt;
  lp_dtype dt_;
  int reference;
  int slot[SV_COUNT];
} dsim_payload;

static lp_status bad_shape(lp_ctx *ctx, int arg, const char *field, const lp_tensor *t, const char *want) {
  char got[160];
  lp_shape_str(lp_tensor_ndim(t), lp_tensor_shape(t), got, sizeof got);
  if (field) return lp_ctx_error(ctx, LP_ESHAPE, arg, "field '%s': expected shape %s, got %s", field, want, got);
  return lp_ctx_error(ctx, LP_ESHAPE, arg, "expected shape %s, got %s", want, got);
}

/* A contiguous tensor of dtype dt with t's values (t retained when it is one). */
static lp_status prep(lp_ctx *ctx, const lp_tensor *t, lp_dtype dt, lp_tensor **out) {
  *out = NULL;
  if (!t) return LP_OK;
  if (lp_tensor_dtype(t) != dt) return lp_tensor_astype(ctx, t, dt, out);
  return lp_tensor_contiguous(ctx, (lp_tensor *)t, out);
}

static lp_status interrupted(lp_ctx *ctx) {
  lp_status st = lp_ctx_check_interrupt(ctx);
  return st != LP_OK ? st : lp_ctx_error(ctx, LP_EINTR, 0, "interrupted");
}

void lp_dynapsim_out_release(lp_dynapsim_out *out) {
  lp_tensor **ts[] = {&out->spikes, &out->imem, &out->isyn, &out->iahp, &out->vmem, &out->f_iahp,
                      &out->f_imem, &out->f_isyn, &out->f_spikes, &out->f_timer, &out->f_vmem};
  size_t i;
  for (i = 0; i < sizeof ts / sizeof *ts; i++) { lp_tensor_release(*ts[i]); *ts[i] = NULL; }
}

static const lp_tensor *coef_arg(const lp_dynapsim_args *a, int i) {
  const lp_tensor *const c[C_N] = {a->syn_a, a->syn_q, a->syn_g, a->ahp_a, a->ahp_h, a->itau_mem, a->igain_mem,
                                   a->idc, a->io, a->mem_c, a->fv, a->utk, a->ispkthr, a->t_ref, a->sg};
  return c[i];
}

static lp_status check(lp_ctx *ctx, const lp_dynapsim_args *a, int64_t *N) {
  char want[160];
  int i;
  if (!a->x) return lp_ctx_error(ctx, LP_EARG, 1, "expected a tensor");
  if (lp_tensor_ndim(a->x) != 3) return bad_shape(ctx, 1, NULL, a->x, "(B, T, N)");
  if (lp_tensor_dtype(a->x) != LP_F32 && lp_tensor_dtype(a->x) != LP_F64)
    return lp_ctx_error(ctx, LP_EARG, 1, "expected a float32 or float64 tensor");
  *N = lp_tensor_shape(a->x)[2];
  snprintf(want, sizeof want, "(%lld,)", (long long)*N);
  for (i = 0; i < C_N; i++) {
    const lp_tensor *t = coef_arg(a, i);
    if (!t) {
      if (i == C_SG) continue;
      return lp_ctx_error(ctx, LP_EARG, 2, "field '%s' is required", coef_names[i]);
    }
    if (lp_tensor_ndim(t) != 1 || lp_tensor_shape(t)[0] != *N) return bad_shape(ctx, 2, coef_names[i], t, want);
  }
  if (a->w_rec && (lp_tensor_ndim(a->w_rec) != 2 || lp_tensor_shape(a->w_rec)[0] != *N ||
                   lp_tensor_shape(a->w_rec)[1] != *N)) {
    snprintf(want, sizeof want, "(%lld, %lld)", (long long)*N, (long long)*N);
    return bad_shape(ctx, 2, "w_rec", a->w_rec, want);
  }
  if (!(a->dt > 0)) return lp_ctx_error(ctx, LP_EARG, 2, "field 'dt': must be positive, got %g", a->dt);
  return LP_OK;
}

/* Initial state t ((N) or (B, N), NULL: fill) as a new contiguous (B, N). */
static lp_status state_rows(lp_ctx *ctx, const char *field, const lp_tensor *t, lp_dtype dt, int64_t B, int64_t N,
                            const lp_tensor *fill, lp_tensor **out) {
  int64_t sh[2];
  lp_status st;
  *out = NULL;
  sh[0] = B; sh[1] = N;
  if (t && !(lp_tensor_ndim(t) == 1 && lp_tensor_shape(t)[0] == N) &&
      !(lp_tensor_ndim(t) == 2 && lp_tensor_shape(t)[0] == B && lp_tensor_shape(t)[1] == N)) {
    char want[120];
    snprintf(want, sizeof want, "(%lld,) or (%lld, %lld)", (long long)N, (long long)B, (long long)N);
    return bad_shape(ctx, 2, field, t, want);
  }
  if ((st = lp_tensor_new(ctx, dt, 2, sh, out)) != LP_OK) return st;
  if (!t) t = fill;
  if (t && (st = lp_tensor_copy_(ctx, *out, t)) != LP_OK) { lp_tensor_release(*out); *out = NULL; }
  return st;
}

#define PTR(t) ((t) ? lp_tensor_data(t) : NULL)

/* w_rec's non-zeros, CSR by rows of w_rec (transpose = 0) or of its
   transpose (1), when there are at most N*N/8 of them (else *ok = 0 and
   nothing is kept). Buffers from lp_ctx_alloc_raw; free with csr_free. */
typedef struct dsim_csr { int64_t *ptr; int32_t *idx; void *val; size_t nval, es; int64_t n; int owned; } dsim_csr;

static void csr_free(lp_ctx *ctx, dsim_csr *c) {
  if (!c->owned) { memset(c, 0, sizeof *c); return; }
  if (c->ptr) lp_ctx_dealloc(ctx, c->ptr, (size_t)(c->n + 1) * sizeof *c->ptr);
  if (c->idx) lp_ctx_dealloc(ctx, c->idx, c->nval * sizeof *c->idx + 1);
  if (c->val) lp_ctx_dealloc(ctx, c->val, c->nval * c->es + 1);
  memset(c, 0, sizeof *c);
}

static lp_status csr_build(lp_ctx *ctx, lp_dtype dt, const lp_tensor *W, int64_t N, int transpose, dsim_csr *c,
                           int *ok) {
  const size_t es = lp_dtype_size(dt);
  const int64_t cap = N * N / 8;
  const float *wf = lp_tensor_data(W);
  const double *wd = lp_tensor_data(W);
  int64_t i, j, e = 0;
  memset(c, 0, sizeof *c);
  *ok = 0;
  c->n = N; c->es = es; c->owned = 1;
  if (N < 64) return LP_OK;                       /* small: the dense loops are as fast */
  c->nval = (size_t)(cap + N);                    /* the scan writes up to a row past the cap */
  if (!(c->ptr = lp_ctx_alloc(ctx, (size_t)(N + 1) * sizeof *c->ptr)) ||
      !(c->idx = lp_ctx_alloc_raw(ctx, c->nval * sizeof *c->idx + 1)) ||
      !(c->val = lp_ctx_alloc_raw(ctx, c->nval * es + 1))) {
    csr_free(ctx, c);
    return LP_ENOMEM;
  }
  /* rows of w_rec in one branch-free pass (every entry written, the index
     advanced past the non-zeros), giving up above the cap */
  for (i = 0; i < N; i++) {
    if (dt == LP_F32) {
      const float *r = wf + i * N;
      float *v = c->val;
      for (j = 0; j < N; j += 8) {            /* blocks of 8: all-zero ones cost one test */
        const int64_t m = N - j < 8 ? N - j : 8;
        int k, any = 0;
        for (k = 0; k < m; k++) any |= r[j + k] != 0;
        if (!any) continue;
        for (k = 0; k < m; k++) { c->idx[e] = (int32_t)(j + k); v[e] = r[j + k]; e += r[j + k] != 0; }
      }
    } else {
      const double *r = wd + i * N;
      double *v = c->val;
      for (j = 0; j < N; j += 8) {
        const int64_t m = N - j < 8 ? N - j : 8;
        int k, any = 0;
        for (k = 0; k < m; k++) any |= r[j + k] != 0;
        if (!any) continue;
        for (k = 0; k < m; k++) { c->idx[e] = (int32_t)(j + k); v[e] = r[j + k]; e += r[j + k] != 0; }
      }
    }
    c->ptr[i + 1] = e;
    if (e > cap) { csr_free(ctx, c); return LP_OK; }
  }
  if (transpose) {                                /* the rows of w_rec^T: a counting sort by column */
    int64_t *cnt = lp_ctx_alloc(ctx, (size_t)(N + 1) * sizeof *cnt);
    int32_t *tidx = lp_ctx_alloc_raw(ctx, c->nval * sizeof *tidx + 1);
    char *tval = lp_ctx_alloc_raw(ctx, c->nval * es + 1);
    if (!cnt || !tidx || !tval) {
      if (cnt) lp_ctx_dealloc(ctx, cnt, (size_t)(N + 1) * sizeof *cnt);
      if (tidx) lp_ctx_dealloc(ctx, tidx, c->nval * sizeof *tidx + 1);
      if (tval) lp_ctx_dealloc(ctx, tval, c->nval * es + 1);
      csr_free(ctx, c);
      return LP_ENOMEM;
    }
    for (e = 0; e < c->ptr[N]; e++) cnt[c->idx[e] + 1]++;
    for (j = 0; j < N; j++) cnt[j + 1] += cnt[j];
    for (i = 0; i < N; i++)
      for (e = c->ptr[i]; e < c->ptr[i + 1]; e++) {
        const int64_t k = cnt[c->idx[e]]++;
        tidx[k] = (int32_t)i;
        memcpy(tval + (size_t)k * es, (char *)c->val + (size_t)e * es, es);
      }
    /* cnt[j] is now the end of column j = the start of column j + 1 */
    for (j = N; j > 0; j--) cnt[j] = cnt[j - 1];
    cnt[0] = 0;
    lp_ctx_dealloc(ctx, c->idx, c->nval * sizeof *c->idx + 1);
    lp_ctx_dealloc(ctx, c->val, c->nval * es + 1);
    memcpy(c->ptr, cnt, (size_t)(N + 1) * sizeof *cnt);
    lp_ctx_dealloc(ctx, cnt, (size_t)(N + 1) * sizeof *cnt);
    c->idx = tidx; c->val = tval;
  }
  *ok = 1;
  return LP_OK;
}

lp_status lp_dynapsim_csr(lp_ctx *ctx, const lp_tensor *w, int transpose, lp_tensor **ptr, lp_tensor **idx,
                          lp_tensor **val) {
  lp_tensor *W = NULL;
  dsim_csr c;
  int ok = 0;
  int64_t N, sh[1];
  lp_dtype dt;
  lp_status st;
  *ptr = *idx = *val = NULL;
  if (!w || lp_tensor_ndim(w) != 2 || lp_tensor_shape(w)[0] != lp_tensor_shape(w)[1])
    return lp_ctx_error(ctx, LP_ESHAPE, 1, "expected a square matrix");
  dt = lp_tensor_dtype(w) == LP_F64 ? LP_F64 : LP_F32;
  N = lp_tensor_shape(w)[0];
  if ((st = prep(ctx, w, dt, &W)) != LP_OK) return st;
  st = csr_build(ctx, dt, W, N, transpose, &c, &ok);
  lp_tensor_release(W);
  if (st != LP_OK || !ok) return st;
  sh[0] = N + 1;
  if ((st = lp_tensor_empty(ctx, LP_I64, 1, sh, ptr)) != LP_OK) goto fail;
  sh[0] = c.ptr[N];
  if ((st = lp_tensor_empty(ctx, LP_I32, 1, sh, idx)) != LP_OK) goto fail;
  if ((st = lp_tensor_empty(ctx, dt, 1, sh, val)) != LP_OK) goto fail;
  memcpy(lp_tensor_data(*ptr), c.ptr, (size_t)(N + 1) * sizeof *c.ptr);
  memcpy(lp_tensor_data(*idx), c.idx, (size_t)c.ptr[N] * sizeof *c.idx);
  memcpy(lp_tensor_data(*val), c.val, (size_t)c.ptr[N] * c.es);
  csr_free(ctx, &c);
  return LP_OK;
fail:
  csr_free(ctx, &c);
  lp_tensor_release(*ptr); lp_tensor_release(*idx); lp_tensor_release(*val);
  *ptr = *idx = *val = NULL;
  return st;
}

/* A caller's CSR (ptr, idx, val) checked and viewed as a dsim_csr (val in
   dtype dt: *valc keeps a converted copy alive). */
static lp_status csr_given(lp_ctx *ctx, lp_dtype dt, int64_t N, const lp_tensor *ptr, const lp_tensor *idx,
                           const lp_tensor *val, lp_tensor **valc, dsim_csr *c, int *ok) {
  lp_status st;
  int64_t nnz;
  *ok = 0;
  memset(c, 0, sizeof *c);
  if (!ptr) return LP_OK;
  if (!idx || !val || lp_tensor_dtype(ptr) != LP_I64 || lp_tensor_dtype(idx) != LP_I32 ||
      lp_tensor_ndim(ptr) != 1 || lp_tensor_shape(ptr)[0] != N + 1 || !lp_tensor_is_contiguous(ptr) ||
      !lp_tensor_is_contiguous(idx))
    return lp_ctx_error(ctx, LP_EARG, 2, "fields 'w_ptr', 'w_idx', 'w_val': not a CSR of w_rec (lp_dynapsim_csr)");
  nnz = ((const int64_t *)lp_tensor_data(ptr))[N];
  if (lp_tensor_numel(idx) != nnz || lp_tensor_numel(val) != nnz)
    return lp_ctx_error(ctx, LP_EARG, 2, "fields 'w_ptr', 'w_idx', 'w_val': not a CSR of w_rec (lp_dynapsim_csr)");
  if ((st = prep(ctx, val, dt, valc)) != LP_OK) return st;
  c->ptr = lp_tensor_data(ptr);
  c->idx = lp_tensor_data(idx);
  c->val = lp_tensor_data(*valc);
  c->n = N;
  *ok = 1;
  return LP_OK;
}

/* ---- backward ----------------------------------------------------------------- */
static lp_status dsim_backward_node(lp_ctx *ctx, lp_node *node, lp_tensor *const *gout, lp_tensor **gin) {
  dsim_payload *pl = lp_node_payload(node);
  const lp_dtype dt = pl->dt_;
  const size_t es = lp_dtype_size(dt);
  const int64_t B = pl->B, T = pl->T, N = pl->N;
  lp_tensor *g[5] = {NULL}, *dX = NULL, *WT = NULL;
  const lp_tensor *W;
  size_t nscratch = (size_t)((B_N * B + K_N + 1) * dsim_ld(N)) * es;
  char *scratch = NULL;
  int64_t sh[3];
  int i, stop = 0, sparse = 0;
  dsim_csr csr, rcsr;
  int32_t *colbuf = NULL;
  lp_tensor *wtvc = NULL, *wvc = NULL;
  lp_status st = LP_OK;
  memset(&csr, 0, sizeof csr);
  memset(&rcsr, 0, sizeof rcsr);
#define SAVED(k) (pl->slot[k] >= 0 ? lp_node_saved(node, pl->slot[k]) : NULL)
  W = SAVED(SV_W);
  for (i = 0; i < 5; i++)
    if ((st = prep(ctx, gout[i], dt, &g[i])) != LP_OK) goto done;
  sh[0] = B; sh[1] = T; sh[2] = N;
  if ((st = lp_tensor_empty(ctx, dt, 3, sh, &dX)) != LP_OK) goto done;
  if (!(scratch = lp_ctx_alloc(ctx, nscratch ? nscratch : 1))) { st = LP_ENOMEM; goto done; }
  if (W && !pl->reference) {                    /* w_rec's CSR, by rows and by rows of the transpose */
    int ok2 = 0;
    if (SAVED(SV_WTP)) st = csr_given(ctx, dt, N, SAVED(SV_WTP), SAVED(SV_WTI), SAVED(SV_WTV), &wtvc, &csr, &sparse);
    else st = csr_build(ctx, dt, W, N, 1, &csr, &sparse);
    if (st != LP_OK) goto done;
    if (sparse) {
      if (SAVED(SV_WP)) st = csr_given(ctx, dt, N, SAVED(SV_WP), SAVED(SV_WI), SAVED(SV_WV), &wvc, &rcsr, &ok2);
      else st = csr_build(ctx, dt, W, N, 0, &rcsr, &ok2);
      if (st != LP_OK) goto done;
      if (!ok2) { csr_free(ctx, &csr); sparse = 0; }
    }
  }
  if (W && !sparse) {
    lp_tensor *v = NULL;
    csr_free(ctx, &rcsr);
    if ((st = lp_tensor_transpose(ctx, (lp_tensor *)W, 0, 1, &v)) != LP_OK) goto done;
    st = lp_tensor_contiguous(ctx, v, &WT);
    lp_tensor_release(v);
    if (st != LP_OK) goto done;
  }
#define BWD(RT, SUF)                                                                                      \
  do {                                                                                                    \
    dsim_par_##SUF p;                                                                                     \
    dsim_bufs_##SUF q;                                                                                    \
    dsim_grads_##SUF gr;                                                                                  \
    RT *w = (RT *)scratch, *cf = w + B_N * B * dsim_ld(N);                                                \
    memset(&p, 0, sizeof p); memset(&q, 0, sizeof q); memset(&gr, 0, sizeof gr);                         \
    p.syn_a = PTR(SAVED(SV_COEF + C_SYN_A)); p.syn_q = PTR(SAVED(SV_COEF + C_SYN_Q));                    \
    p.syn_g = PTR(SAVED(SV_COEF + C_SYN_G)); p.ahp_a = PTR(SAVED(SV_COEF + C_AHP_A));                    \
    p.ahp_h = PTR(SAVED(SV_COEF + C_AHP_H)); p.itm = PTR(SAVED(SV_COEF + C_ITM));                        \
    p.igm = PTR(SAVED(SV_COEF + C_IGM)); p.idc = PTR(SAVED(SV_COEF + C_IDC));                            \
    p.io = PTR(SAVED(SV_COEF + C_IO)); p.mc = PTR(SAVED(SV_COEF + C_MC)); p.fv = PTR(SAVED(SV_COEF + C_FV)); \
    p.utk = PTR(SAVED(SV_COEF + C_UTK)); p.thr = PTR(SAVED(SV_COEF + C_THR));                            \
    p.tref = PTR(SAVED(SV_COEF + C_TREF)); p.sg = PTR(SAVED(SV_COEF + C_SG));                            \
    dsim_pack_##SUF(&p, N, cf);                                                                           \
    q.B = B; q.T = T; q.N = N; q.dt = (RT)pl->dt;                                                          \
    q.W = PTR(W); q.WT = PTR(WT);                                                                         \
    if (sparse) { q.W = NULL; q.wptr = csr.ptr; q.widx = csr.idx; q.wval = csr.val; }                      \
    q.S = PTR(SAVED(SV_S)); q.IM = PTR(SAVED(SV_IM)); q.IS = PTR(SAVED(SV_IS)); q.IA = PTR(SAVED(SV_IA));   \
    q.V = PTR(SAVED(SV_V)); q.x = PTR(SAVED(SV_X)); q.R = PTR(SAVED(SV_R));                               \
    if (sparse) { q.rptr = rcsr.ptr; q.ridx = rcsr.idx; q.rval = rcsr.val; }                               \
    gr.gS = PTR(g[0]); gr.gIM = PTR(g[1]); gr.gIS = PTR(g[2]); gr.gIA = PTR(g[3]); gr.gV = PTR(g[4]);      \
    gr.isyn0 = PTR(SAVED(SV_INIT + 0)); gr.iahp0 = PTR(SAVED(SV_INIT + 1));                                \
    gr.imem0 = PTR(SAVED(SV_INIT + 2)); gr.vmem0 = PTR(SAVED(SV_INIT + 3)); gr.s0 = PTR(SAVED(SV_INIT + 4)); \
    gr.dX = PTR(dX); gr.blocks = w; gr.zero = cf + K_N * dsim_ld(N);   /* lp_ctx_alloc zeroes it */          \
    dsim_backward_##SUF(ctx, lp_ctx_threads(ctx), cf, &q, &gr, &stop);                                    \
  } while (0)
  if (dt == LP_F32) BWD(float, f32);
  else BWD(double, f64);
#undef BWD
  if (stop) { st = interrupted(ctx); goto done; }
  {
    static const int map[DG_N] = {IN_SYN_A, IN_SYN_Q, IN_SYN_G, IN_AHP_A, IN_AHP_H, IN_ITM, IN_IGM, IN_IDC, IN_IO,
                                  IN_MC, IN_FV, IN_UTK};
    int k;
    for (k = 0; k < DG_N; k++) {
      const int in = map[k];
      if (!lp_node_input_needs_grad(node, in)) continue;
      if ((st = lp_tensor_empty(ctx, dt, lp_node_input_ndim(node, in), lp_node_input_shape(node, in), &gin[in])) !=
          LP_OK)
        goto done;
      if (dt == LP_F32) dsim_reduce_rows_f32((const float *)scratch, B, N, k, PTR(gin[in]));
      else dsim_reduce_rows_f64((const double *)scratch, B, N, k, PTR(gin[in]));
    }
  }
  if (W && lp_node_input_needs_grad(node, IN_W)) {
    sh[0] = N; sh[1] = N;
    if ((st = lp_tensor_new(ctx, dt, 2, sh, &gin[IN_W])) != LP_OK) goto done;
    if (!(colbuf = lp_ctx_alloc_raw(ctx, (size_t)N * sizeof *colbuf + 1))) { st = LP_ENOMEM; goto done; }
    if (dt == LP_F32)
      dsim_grad_w_f32(lp_ctx_threads(ctx), B, T, N, PTR(SAVED(SV_S)), PTR(SAVED(SV_INIT + 4)), PTR(dX),
                      PTR(gin[IN_W]), colbuf);
    else
      dsim_grad_w_f64(lp_ctx_threads(ctx), B, T, N, PTR(SAVED(SV_S)), PTR(SAVED(SV_INIT + 4)), PTR(dX),
                      PTR(gin[IN_W]), colbuf);
  }
  if (lp_node_input_needs_grad(node, IN_X)) { gin[IN_X] = dX; dX = NULL; }
#undef SAVED
done:
  if (scratch) lp_ctx_dealloc(ctx, scratch, nscratch ? nscratch : 1);
  if (colbuf) lp_ctx_dealloc(ctx, colbuf, (size_t)N * sizeof *colbuf + 1);
  csr_free(ctx, &csr);
  csr_free(ctx, &rcsr);
  lp_tensor_release(wtvc);
  lp_tensor_release(wvc);
  for (i = 0; i < 5; i++) lp_tensor_release(g[i]);
  lp_tensor_release(dX);
  lp_tensor_release(WT);
  return st;
}

/* ---- forward --------------------------------------------------------------------- */
lp_status lp_dynapsim(lp_ctx *ctx, const lp_dynapsim_args *a, lp_dynapsim_out *out) {
  lp_tensor *x = NULL, *W = NULL, *coef[C_N] = {NULL}, *state[ST_N] = {NULL}, *init[5] = {NULL};
  lp_tensor *S = NULL, *IM = NULL, *IS = NULL, *IA = NULL, *V = NULL, *R = NULL;
  const lp_tensor *inputs[IN_N];
  int64_t N = 0, B, T, sh[3];
  lp_dtype dt;
  int need_grad, rec, i, stop = 0;
  void *scratch = NULL;
  size_t nscratch = 0;
  dsim_csr csr;
  int sparse = 0;
  lp_tensor *wvalc = NULL, *wtvalc = NULL;
  lp_status st;
  memset(out, 0, sizeof *out);
  memset(&csr, 0, sizeof csr);
  if ((st = check(ctx, a, &N)) != LP_OK) return st;
  dt = lp_tensor_dtype(a->x);
  B = lp_tensor_shape(a->x)[0]; T = lp_tensor_shape(a->x)[1];
  inputs[IN_X] = a->x; inputs[IN_W] = a->w_rec;
  for (i = 0; i <= C_UTK; i++) inputs[IN_SYN_A + i] = coef_arg(a, i);
  need_grad = lp_needs_grad(ctx, IN_N, inputs);
  rec = a->record || need_grad;
  if ((st = prep(ctx, a->x, dt, &x)) != LP_OK || (st = prep(ctx, a->w_rec, dt, &W)) != LP_OK) goto fail;
  if (W && !a->reference) {
    if (a->w_ptr) st = csr_given(ctx, dt, N, a->w_ptr, a->w_idx, a->w_val, &wvalc, &csr, &sparse);
    else st = csr_build(ctx, dt, W, N, 0, &csr, &sparse);
    if (st != LP_OK) goto fail;
    if (sparse && need_grad && a->wt_ptr) {         /* the transpose's, for backward */
      dsim_csr tmp;
      int ok2;
      if ((st = csr_given(ctx, dt, N, a->wt_ptr, a->wt_idx, a->wt_val, &wtvalc, &tmp, &ok2)) != LP_OK) goto fail;
    }
  }
  for (i = 0; i < C_N; i++)
    if ((st = prep(ctx, coef_arg(a, i), dt, &coef[i])) != LP_OK) goto fail;
  {
    const lp_tensor *given[ST_N] = {a->isyn, a->iahp, a->imem, a->vmem, a->spikes, a->timer_ref};
    static const char *const names[ST_N] = {"isyn", "iahp", "imem", "vmem", "spikes", "timer_ref"};
    for (i = 0; i < ST_N; i++)
      if ((st = state_rows(ctx, names[i], given[i], dt, B, N, i <= ST_IMEM ? coef[C_IO] : NULL, &state[i])) !=
          LP_OK)
        goto fail;
  }
  if (need_grad)
    for (i = 0; i < 5; i++)
      if ((st = lp_tensor_clone(ctx, state[i], &init[i])) != LP_OK) goto fail;
  sh[0] = B; sh[1] = T; sh[2] = N;
  if ((st = lp_tensor_empty(ctx, dt, 3, sh, &S)) != LP_OK) goto fail;
  if (rec && ((st = lp_tensor_empty(ctx, dt, 3, sh, &IM)) != LP_OK || (st = lp_tensor_empty(ctx, dt, 3, sh, &IS)) !=
              LP_OK || (st = lp_tensor_empty(ctx, dt, 3, sh, &IA)) != LP_OK ||
              (st = lp_tensor_empty(ctx, dt, 3, sh, &V)) != LP_OK))
    goto fail;
  if (need_grad && (st = lp_tensor_empty(ctx, dt, 3, sh, &R)) != LP_OK) goto fail;
  nscratch = (size_t)(((W_N + R_N) * B + K_N) * dsim_ld(N)) * lp_dtype_size(dt);
  if (!(scratch = lp_ctx_alloc_raw(ctx, nscratch ? nscratch : 1))) { st = LP_ENOMEM; goto fail; }
#define FWD(RT, SUF)                                                                                       \
  do {                                                                                                     \
    dsim_par_##SUF p;                                                                                      \
    dsim_bufs_##SUF q;                                                                                     \
    RT *cf = (RT *)scratch + (W_N + R_N) * B * dsim_ld(N);                                                         \
    memset(&p, 0, sizeof p); memset(&q, 0, sizeof q);                                                      \
    p.syn_a = PTR(coef[C_SYN_A]); p.syn_q = PTR(coef[C_SYN_Q]); p.syn_g = PTR(coef[C_SYN_G]);              \
    p.ahp_a = PTR(coef[C_AHP_A]); p.ahp_h = PTR(coef[C_AHP_H]); p.itm = PTR(coef[C_ITM]);                  \
    p.igm = PTR(coef[C_IGM]); p.idc = PTR(coef[C_IDC]); p.io = PTR(coef[C_IO]); p.mc = PTR(coef[C_MC]);    \
    p.fv = PTR(coef[C_FV]); p.utk = PTR(coef[C_UTK]); p.thr = PTR(coef[C_THR]); p.tref = PTR(coef[C_TREF]); \
    p.sg = PTR(coef[C_SG]);                                                                                \
    dsim_pack_##SUF(&p, N, cf);                                                                            \
    q.B = B; q.T = T; q.N = N; q.dt = (RT)a->dt; q.x = PTR(x); q.W = PTR(W);                               \
    q.isyn = PTR(state[ST_ISYN]); q.iahp = PTR(state[ST_IAHP]); q.imem = PTR(state[ST_IMEM]);              \
    q.vmem = PTR(state[ST_VMEM]); q.s = PTR(state[ST_S]); q.timer = PTR(state[ST_TIMER]);                  \
    q.S = PTR(S); q.IM = PTR(IM); q.IS = PTR(IS); q.IA = PTR(IA); q.V = PTR(V);                            \
    q.R = PTR(R); q.scratch = scratch; q.reference = a->reference;                                         \
    if (sparse) { q.W = NULL; q.wptr = csr.ptr; q.widx = csr.idx; q.wval = csr.val; }                      \
    dsim_forward_##SUF(ctx, lp_ctx_threads(ctx), cf, &q, &stop);                                           \
  } while (0)
  if (dt == LP_F32) FWD(float, f32);
  else FWD(double, f64);
#undef FWD
  lp_ctx_dealloc(ctx, scratch, nscratch ? nscratch : 1);
  scratch = NULL;
  if (stop) { st = interrupted(ctx); goto fail; }
  if (need_grad) {
    lp_tensor *outs[5];
    lp_node *node;
    dsim_payload *pl;
    lp_tensor *saves[SV_COUNT];
    outs[0] = S; outs[1] = IM; outs[2] = IS; outs[3] = IA; outs[4] = V;
    if ((st = lp_node_record(ctx, "dynapsim", dsim_backward_node, IN_N, inputs, 5, outs, sizeof *pl, &node)) !=
        LP_OK)
      goto fail;
    pl = lp_node_payload(node);
    pl->B = B; pl->T = T; pl->N = N; pl->dt = a->dt; pl->dt_ = dt; pl->reference = a->reference;
    memset(saves, 0, sizeof saves);
    saves[SV_W] = W;
    for (i = 0; i < C_N; i++) saves[SV_COEF + i] = coef[i];
    saves[SV_S] = S; saves[SV_IM] = IM; saves[SV_IS] = IS; saves[SV_IA] = IA; saves[SV_V] = V;
    saves[SV_X] = x; saves[SV_R] = R;
    if (wtvalc) { saves[SV_WTP] = (lp_tensor *)a->wt_ptr; saves[SV_WTI] = (lp_tensor *)a->wt_idx; saves[SV_WTV] = wtvalc; }
    if (wtvalc && wvalc) { saves[SV_WP] = (lp_tensor *)a->w_ptr; saves[SV_WI] = (lp_tensor *)a->w_idx; saves[SV_WV] = wvalc; }
    for (i = 0; i < 5; i++) saves[SV_INIT + i] = init[i];
    for (i = 0; i < SV_COUNT; i++) {
      pl->slot[i] = -1;
      if (saves[i] && (st = lp_node_save(ctx, node, saves[i], &pl->slot[i])) != LP_OK) goto fail;
    }
  }
  out->spikes = S; S = NULL;
  if (a->record || need_grad) {
    out->imem = IM; IM = NULL; out->isyn = IS; IS = NULL; out->iahp = IA; IA = NULL; out->vmem = V; V = NULL;
  }
  out->f_isyn = state[ST_ISYN]; out->f_iahp = state[ST_IAHP]; out->f_imem = state[ST_IMEM];
  out->f_vmem = state[ST_VMEM]; out->f_spikes = state[ST_S]; out->f_timer = state[ST_TIMER];
  for (i = 0; i < ST_N; i++) state[i] = NULL;
  st = LP_OK;
fail:
  if (scratch) lp_ctx_dealloc(ctx, scratch, nscratch ? nscratch : 1);
  csr_free(ctx, &csr);
  lp_tensor_release(wvalc); lp_tensor_release(wtvalc);
  lp_tensor_release(x); lp_tensor_release(W);
  for (i = 0; i < C_N; i++) lp_tensor_release(coef[i]);
  for (i = 0; i < ST_N; i++) lp_tensor_release(state[i]);
  for (i = 0; i < 5; i++) lp_tensor_release(init[i]);
  lp_tensor_release(S); lp_tensor_release(IM); lp_tensor_release(IS); lp_tensor_release(IA);
  lp_tensor_release(V); lp_tensor_release(R);
  if (st != LP_OK) lp_dynapsim_out_release(out);
  return st;
}
