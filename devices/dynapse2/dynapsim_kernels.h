/*
** devices/dynapse2/dynapsim_kernels.h -- private: the time loops of DynapSim
** (forward and BPTT backward) for one float type. Included by dynapsim.c
** once per type with REAL (float or double), FN(name) (name##_f32 /
** name##_f64), EXP_R, LOG_R, CEIL_R defined. Pure loops over contiguous
** row-major buffers: checks, allocation and autograd recording are in
** dynapsim.c. The equations and their order are in dynapsim.h.
** Two forward step bodies: dsim_step_ref, a literal transcription of §2.4
** (divisions and logarithms as written), and dsim_step, the fast one
** (reciprocals hoisted out of the time loop, one logarithm per neuron and
** step, spike-count logarithm only above threshold), which the specs
** compare with the reference. Backward recomputes the forward's
** intermediates of a step from the saved states.
*/
#if !defined(REAL) || !defined(FN) || !defined(EXP_R) || !defined(LOG_R) || !defined(CEIL_R) || \
    !defined(FEXP_R) || !defined(FLOG_R)
#error "define REAL, FN, EXP_R, LOG_R, CEIL_R, FEXP_R and FLOG_R before including dynapsim_kernels.h"
#endif

/* per-neuron coefficients (N), as given */
typedef struct FN(dsim_par) {
  const REAL *syn_a, *syn_q, *syn_g, *ahp_a, *ahp_h;
  const REAL *itm, *igm, *idc, *io, *mc, *fv, *utk, *thr, *tref, *sg;   /* sg may be NULL (= 1) */
} FN(dsim_par);

/* The loops read the coefficients from one packed block, row k*N..(k+1)*N
   for coefficient k (one restrict pointer: the vectoriser then needs no
   aliasing checks between them), with the fast step's derived rows. */
#ifndef DSIM_K_ENUM
#define DSIM_K_ENUM
enum { K_SYN_A, K_SYN_Q, K_SYN_G, K_AHP_A, K_AHP_H, K_ITM, K_IGM, K_IDC, K_IO, K_MC, K_FV, K_UTK, K_THR, K_TREF,
       K_SG, K_KMEM, K_INV_ITM, K_INV_MC, K_INV_IO, K_LTHR, K_INV_UTK, K_N };
/* the per-batch-row work rows of the forward loop */
enum { W_ISYN, W_IAHP, W_IMEM, W_VMEM, W_S, W_TIMER, W_U, W_F, W_IMP, W_R, W_N };
/* record rows of one step (the driver points unrecorded ones at scratch) */
enum { R_IM, R_IS, R_IA, R_V, R_IMP, R_R, R_N };
/* The row stride of the packed coefficients and of the work rows: a
   multiple of 16 elements plus 16, so that no two rows sit a multiple of
   4 KiB apart (loads behind stores to such addresses stall: 4K aliasing,
   which tripled the step's time at N = 1024). */
static inline int64_t dsim_ld(int64_t N) { return ((N + 15) / 16) * 16 + 16; }
#endif

static void FN(dsim_pack)(const FN(dsim_par) *p, int64_t N, REAL *cf) {
  const REAL *const rows[K_SG] = {p->syn_a, p->syn_q, p->syn_g, p->ahp_a, p->ahp_h, p->itm, p->igm,
                                  p->idc, p->io, p->mc, p->fv, p->utk, p->thr, p->tref};
  const int64_t ld = dsim_ld(N);
  int64_t j;
  int k;
  for (k = 0; k < K_SG; k++) memcpy(cf + k * ld, rows[k], (size_t)N * sizeof *cf);
  for (j = 0; j < N; j++) {
    cf[K_SG * ld + j] = p->sg ? p->sg[j] : (REAL)1;
    cf[K_KMEM * ld + j] = p->igm[j] / p->itm[j];
    cf[K_INV_ITM * ld + j] = 1 / p->itm[j];
    cf[K_INV_MC * ld + j] = 1 / p->mc[j];
    cf[K_INV_IO * ld + j] = 1 / p->io[j];
    cf[K_LTHR * ld + j] = LOG_R(p->thr[j] / p->io[j]);
    cf[K_INV_UTK * ld + j] = 1 / p->utk[j];
  }
}

typedef struct FN(dsim_bufs) {
  int64_t B, T, N;
  REAL dt;
  const REAL *x;                      /* (B, T, N)                          */
  const REAL *W;                      /* (N, N) or NULL                     */
  const REAL *WT;                     /* (N, N) transpose (backward) or NULL */
  /* w_rec's non-zeros when sparse (then W and WT are NULL): rows of w_rec
     (forward) or of its transpose (backward), CSR */
  const int64_t *wptr;
  const int32_t *widx;
  const REAL *wval;
  /* running state (B, N): initial in, final out */
  REAL *isyn, *iahp, *imem, *vmem, *s, *timer;
  /* records / saved (B, T, N); NULL when not wanted (IM, IS, IA, V together) */
  REAL *S, *IM, *IS, *IA, *V;         /* spikes, imem (after reset), isyn, iahp, vmem */
  REAL *R;                            /* refractory flag (for backward)      */
  /* backward only: w_rec's rows as CSR (wptr.. hold the transpose's), to
     recompute u = x + w_rec^T s */
  const int64_t *rptr;
  const int32_t *ridx;
  const REAL *rval;
  REAL *scratch;                      /* forward: (B, W_N + R_N, ld) work rows */
  int reference;
} FN(dsim_bufs);

/* ---- forward: one step of one batch row ---------------------------------- */
/* Both steps work on the work rows w (stride ld: W_* rows; u = w[W_U] is
   the step's input, W_F / W_IMP / W_R are filled with F, imem before the
   reset and the refractory flag) and write the spike counts to St. */
#define CF(k) cf[(k) * ld + j]
#define WR(k) w[(k) * ld + j]

/* Literal §2.4 (the plain reference). */
DSIM_LITERAL static void FN(dsim_step_ref)(const REAL *cf, int64_t ld, int64_t N, REAL dt, REAL *w, REAL *St, REAL *const *rec) {
  int64_t j;
  for (j = 0; j < N; j++) {
    const REAL io = CF(K_IO), itm = CF(K_ITM), igm = CF(K_IGM);
    const REAL z = CF(K_SYN_G) * WR(W_U);
    const REAL iinf = z > io ? z : io;
    const REAL is = CF(K_SYN_A) * WR(W_ISYN) + CF(K_SYN_Q) * iinf;
    const REAL y = CF(K_AHP_A) * WR(W_IAHP) + CF(K_AHP_H) * WR(W_S);
    const REAL ia = y > io ? y : io;
    const REAL F = EXP_R(CF(K_FV) * WR(W_VMEM));
    const REAL L = itm + ia;
    const int ref = WR(W_TIMER) > 0;
    REAL a = is - L + CF(K_IDC), iin, minf, f, tau, im0, di, r, imp, v, n, tm;
    if (ref) a = 0;
    iin = a > io ? a : io;
    minf = igm / itm * (iin - L);
    im0 = WR(W_IMEM);
    f = io * F / L * (im0 + igm);
    tau = CF(K_MC) / L;
    di = im0 / (tau * (im0 + igm)) * (minf + f - im0 * (1 + ia / itm));
    r = im0 + dt * di;
    imp = r > io ? r : io;
    v = CF(K_UTK) * LOG_R(imp / io);
    n = CEIL_R(LOG_R(imp / CF(K_THR)));
    if (!(n > 0)) n = 0;
    tm = WR(W_TIMER) - dt;
    if (!(tm > 0)) tm = 0;
    WR(W_ISYN) = is; WR(W_IAHP) = ia; WR(W_VMEM) = v; WR(W_S) = n; WR(W_F) = F; WR(W_IMP) = imp;
    WR(W_IMEM) = n > 0 ? io : imp;
    WR(W_TIMER) = n > 0 ? CF(K_TREF) : tm;
    WR(W_R) = (REAL)ref;
    St[j] = n;
    rec[R_IM][j] = WR(W_IMEM); rec[R_IS][j] = is; rec[R_IA][j] = ia; rec[R_V][j] = v; rec[R_IMP][j] = imp;
    rec[R_R][j] = (REAL)ref;
  }
}

/* The same step in three branch-free passes the compiler vectorises (one
   long dependency chain per neuron would leave the core waiting: split, the
   out-of-order window covers several neurons), with the divisions by
   per-neuron constants hoisted, one division for 1/L and 1/P, and one
   logarithm per neuron: lr = ln(imp/io) gives vmem, and the spike count
   ceil(ln(imp/thr)) = ceil(lr - ln(thr/io)) (equal but for rounding). */
DSIM_CLONES static void FN(dsim_step)(const REAL *restrict cf, int64_t ld, int64_t N, REAL dt, REAL *restrict w,
                                      REAL *restrict St, REAL *restrict IMt, REAL *restrict ISt,
                                      REAL *restrict IAt, REAL *restrict Vt, REAL *restrict IMPt,
                                      REAL *restrict Rt) {
  int64_t j;
#pragma GCC ivdep    /* distinct rows; GCC cannot see it through the row offsets */
  for (j = 0; j < N; j++) {                    /* synapse and AHP; the feedback factor */
    const REAL io = CF(K_IO);
    const REAL z = CF(K_SYN_G) * WR(W_U);
    const REAL iinf = z > io ? z : io;
    const REAL y = CF(K_AHP_A) * WR(W_IAHP) + CF(K_AHP_H) * WR(W_S);
    const REAL is = CF(K_SYN_A) * WR(W_ISYN) + CF(K_SYN_Q) * iinf;
    const REAL ia = y > io ? y : io;
    WR(W_ISYN) = is; ISt[j] = is;
    WR(W_IAHP) = ia; IAt[j] = ia;
    WR(W_F) = FEXP_R(CF(K_FV) * WR(W_VMEM));
  }
#pragma GCC ivdep
  for (j = 0; j < N; j++) {                    /* membrane */
    const REAL io = CF(K_IO), ia = WR(W_IAHP);
    const REAL L = CF(K_ITM) + ia;
    const REAL a0 = WR(W_ISYN) - L + CF(K_IDC);
    const REAL a = WR(W_TIMER) > 0 ? (REAL)0 : a0;
    const REAL iin = a > io ? a : io;
    const REAL minf = CF(K_KMEM) * (iin - L);
    const REAL im0 = WR(W_IMEM), P = im0 + CF(K_IGM);
    const REAL inv_lp = 1 / (L * P);
    const REAL f = io * WR(W_F) * (P * inv_lp) * P;
    /* im0 / (tau * P) with tau = mc / L */
    const REAL di = im0 * L * CF(K_INV_MC) * (L * inv_lp) * (minf + f - im0 * (1 + ia * CF(K_INV_ITM)));
    const REAL r = im0 + dt * di;
    const REAL imp = r > io ? r : io;
    WR(W_IMP) = imp; IMPt[j] = imp;
  }
#pragma GCC ivdep
  for (j = 0; j < N; j++) {                    /* vmem, spike count, reset, refractory timer */
    const REAL io = CF(K_IO), imp = WR(W_IMP), tj = WR(W_TIMER);
    const REAL lr = FLOG_R(imp * CF(K_INV_IO));
    const REAL n0 = CEIL_R(lr - CF(K_LTHR));
    const REAL n = n0 > 0 ? n0 : (REAL)0;
    const REAL tm0 = tj - dt;
    const REAL tm = tm0 > 0 ? tm0 : 0;
    const REAL v = CF(K_UTK) * lr, imn = n > 0 ? io : imp, rf = tj > 0 ? (REAL)1 : (REAL)0;
    WR(W_VMEM) = v; Vt[j] = v;
    WR(W_S) = n; St[j] = n;
    WR(W_IMEM) = imn; IMt[j] = imn;
    WR(W_TIMER) = n > 0 ? CF(K_TREF) : tm;
    WR(W_R) = rf; Rt[j] = rf;
  }
}
#undef WR

/* u = x_t + w_rec^T s: rows of the spiking neurons gathered (dense), or
   their non-zeros scattered (CSR; the same sums: only zeros are skipped) */
DSIM_CLONES static void FN(dsim_input)(int64_t N, const REAL *restrict xt, const REAL *restrict s,
                                       const REAL *restrict W, const int64_t *restrict wptr,
                                       const int32_t *restrict widx, const REAL *restrict wval, REAL *restrict u) {
  int64_t i, j, e;
  memcpy(u, xt, (size_t)N * sizeof *u);
  if (wptr) {
    for (i = 0; i < N; i += 16) {              /* blocks of 16 spike counts: most are all zero */
      const int64_t m = N - i < 16 ? N - i : 16;
      int64_t k;
      int any = 0;
      for (k = 0; k < m; k++) any |= s[i + k] != 0;
      if (!any) continue;
      for (k = i; k < i + m; k++) {
        const REAL si = s[k];
        if (si == 0) continue;
        for (e = wptr[k]; e < wptr[k + 1]; e++) u[widx[e]] += si * wval[e];
      }
    }
    return;
  }
  if (!W) return;
  for (i = 0; i < N; i++) {
    const REAL si = s[i];
    const REAL *restrict wi;
    if (si == 0) continue;
    wi = W + i * N;
    for (j = 0; j < N; j++) u[j] += si * wi[j];
  }
}

static void FN(dsim_forward)(lp_ctx *ctx, int threads, const REAL *cf, const FN(dsim_bufs) *q, int *stop) {
  const int64_t B = q->B, T = q->T, N = q->N, ld = dsim_ld(N);
  const size_t row = (size_t)N * sizeof(REAL);
  int64_t b;
#pragma omp parallel for schedule(static) num_threads(threads) if (threads > 1 && B > 1)
  for (b = 0; b < B; b++) {
    REAL *st[6];
    REAL *w = q->scratch + b * (W_N + R_N) * ld, *dummy = w + W_N * ld;
    int64_t t;
    int k;
    st[W_ISYN] = q->isyn + b * N; st[W_IAHP] = q->iahp + b * N; st[W_IMEM] = q->imem + b * N;
    st[W_VMEM] = q->vmem + b * N; st[W_S] = q->s + b * N; st[W_TIMER] = q->timer + b * N;
    for (k = 0; k < 6; k++) memcpy(w + k * ld, st[k], row);
    for (t = 0; t < T; t++) {
      const int64_t o = (b * T + t) * N;
      REAL *rec[R_N];
      rec[R_IM] = q->IM ? q->IM + o : dummy; rec[R_IS] = q->IS ? q->IS + o : dummy + ld;
      rec[R_IA] = q->IA ? q->IA + o : dummy + 2 * ld; rec[R_V] = q->V ? q->V + o : dummy + 3 * ld;
      rec[R_IMP] = dummy + 4 * ld; rec[R_R] = q->R ? q->R + o : dummy + 5 * ld;
      if (*stop || lp_ctx_interrupted(ctx)) { *stop = 1; break; }
      FN(dsim_input)(N, q->x + o, w + W_S * ld, q->W, q->wptr, q->widx, q->wval, w + W_U * ld);
      if (q->reference) FN(dsim_step_ref)(cf, ld, N, q->dt, w, q->S + o, rec);
      else FN(dsim_step)(cf, ld, N, q->dt, w, q->S + o, rec[R_IM], rec[R_IS], rec[R_IA], rec[R_V], rec[R_IMP],
                         rec[R_R]);
    }
    for (k = 0; k < 6; k++) memcpy(st[k], w + k * ld, row);
  }
}

/* ---- backward -------------------------------------------------------------- */
/* Per batch row, a block of B_N rows (stride ld): the carried adjoints of
   the state (isyn, iahp, imem, vmem, s), the step's dL/du, and the partial
   sums of the coefficient gradients (DG_* rows). */
#ifndef DSIM_DG_ENUM
#define DSIM_DG_ENUM
enum { DG_SYN_A, DG_SYN_Q, DG_SYN_G, DG_AHP_A, DG_AHP_H, DG_ITM, DG_IGM, DG_IDC, DG_IO, DG_MC, DG_FV, DG_UTK,
       DG_N };
enum { B_ISYN, B_IAHP, B_IMEM, B_VMEM, B_S, B_DU, B_U, B_DP, B_N = B_DP + DG_N };
#endif

typedef struct FN(dsim_grads) {
  const REAL *gS, *gIM, *gIS, *gIA, *gV;   /* (B, T, N) output gradients or NULL */
  const REAL *isyn0, *iahp0, *imem0, *vmem0, *s0;   /* (B, N) initial state */
  REAL *dX;                                 /* (B, T, N) dL/du = dL/dx          */
  REAL *blocks;                             /* (B, B_N, ld), zeroed              */
  const REAL *zero;                         /* (N) zeros                         */
} FN(dsim_grads);

/* One step back for one batch row. The carries hold the adjoints of the
   state after step t on entry and after step t-1 on return; gs gets the
   AHP part of the adjoint of s_{t-1} (the recurrent part is added by the
   caller from du). */
DSIM_CLONES static void FN(dsim_step_back)(const REAL *restrict cf, int64_t ld, int64_t N, REAL dt,
                                           const REAL *restrict u, const REAL *restrict isyn0,
                                           const REAL *restrict iahp0, const REAL *restrict imem0,
                                           const REAL *restrict vmem0, const REAL *restrict s0,
                                           const REAL *restrict isyn1, const REAL *restrict iahp1,
                                           const REAL *restrict imt, const REAL *restrict nt,
                                           const REAL *restrict vt, const REAL *restrict reft,
                                           const REAL *restrict gSt, const REAL *restrict gIMt,
                                           const REAL *restrict gISt, const REAL *restrict gIAt,
                                           const REAL *restrict gVt, REAL *restrict c_isyn,
                                           REAL *restrict c_iahp, REAL *restrict c_imem, REAL *restrict c_vmem,
                                           REAL *restrict c_s, REAL *restrict du, REAL *restrict dp) {
  int64_t j;
#pragma GCC ivdep
  for (j = 0; j < N; j++) {
    const REAL io = CF(K_IO), igm = CF(K_IGM), fv = CF(K_FV), utk = CF(K_UTK), sgv = CF(K_SG);
    const REAL inv_itm = CF(K_INV_ITM), inv_mc = CF(K_INV_MC), K = CF(K_KMEM);
    /* forward intermediates (three divisions: 1/L, 1/P, 1/imp) */
    const REAL z = CF(K_SYN_G) * u[j];
    const int zon = z > io;
    const REAL iinf = zon ? z : io;
    const REAL y = CF(K_AHP_A) * iahp0[j] + CF(K_AHP_H) * s0[j];
    const int yon = y > io;
    const REAL ia = iahp1[j], is = isyn1[j];
    const REAL F = FEXP_R(fv * vmem0[j]);
    const REAL L = CF(K_ITM) + ia, inv_L = 1 / L;
    const int ref = reft[j] > 0;
    const REAL a = ref ? (REAL)0 : is - L + CF(K_IDC);
    const int aon = a > io;
    const REAL iin = aon ? a : io;
    const REAL minf = K * (iin - L);
    const REAL ifb = io * F;
    const REAL im0 = imem0[j];
    const REAL P = im0 + igm, inv_P = 1 / P;
    const REAL f = ifb * inv_L * P;
    const REAL tau = CF(K_MC) * inv_L;
    const REAL D = minf + f - im0 * (1 + ia * inv_itm);
    const REAL inv_TP = L * inv_mc * inv_P;    /* 1 / (tau * P) */
    const REAL E = im0 * inv_TP;
    const REAL r = im0 + dt * (E * D);
    const int ron = r > io;
    const REAL n = nt[j];
    /* imem before the reset: after it unless the neuron spiked; then from vmem = utk*ln(imp/io) */
    const REAL imp = n > 0 ? io * FEXP_R(vt[j] * CF(K_INV_UTK)) : imt[j];
    /* adjoints of the outputs of this step */
    const REAL Gn = gSt[j] + c_s[j];
    const REAL Gim1 = gIMt[j] + c_imem[j];
    const REAL Gv1 = gVt[j] + c_vmem[j];
    REAL Gis1 = gISt[j] + c_isyn[j];
    REAL Gia1 = gIAt[j] + c_iahp[j];
    REAL Gimp, Gio, Gr, Gim0, GdI, GD, GE, Gtau, GP, Gitm, Gmc, GL, Gf, GIfb, Gigm, GF, GK, GIin, Ga, Gy, GIinf, Gz;
    /* n, reset, vmem = utk*ln(imp/io) */
    Gimp = (n > 0 ? (REAL)0 : Gim1) + (imp > io ? Gn * sgv : (REAL)0) + Gv1 * utk / imp;
    Gio = (n > 0 ? Gim1 : (REAL)0) - Gv1 * utk * CF(K_INV_IO);
    dp[DG_UTK * ld + j] += Gv1 * vt[j] * CF(K_INV_UTK);
    /* imp = max(r, io); r = im0 + dt*E*D */
    Gr = ron ? Gimp : 0;
    Gio += ron ? (REAL)0 : Gimp;
    Gim0 = Gr;
    GdI = dt * Gr;
    GD = GdI * E;
    GE = GdI * D;
    /* E = im0 / (tau*P) */
    Gim0 += GE * inv_TP;
    Gtau = -GE * E * L * inv_mc;
    GP = -GE * E * inv_P;
    /* D = minf + f - im0*(1 + ia/itm) */
    Gim0 -= GD * (1 + ia * inv_itm);
    Gia1 -= GD * im0 * inv_itm;
    Gitm = GD * im0 * ia * inv_itm * inv_itm;
    /* tau = mc / L */
    Gmc = Gtau * inv_L;
    GL = -Gtau * tau * inv_L;
    /* f = ifb / L * P */
    Gf = GD;
    GIfb = Gf * P * inv_L;
    GP += Gf * ifb * inv_L;
    GL -= Gf * f * inv_L;
    /* P = im0 + igm */
    Gim0 += GP;
    Gigm = GP;
    /* ifb = io * F */
    Gio += GIfb * F;
    GF = GIfb * io;
    /* minf = K * (iin - L), K = igm / itm */
    GK = GD * (iin - L);
    GIin = GD * K;
    GL -= GD * K;
    Gigm += GK * inv_itm;
    Gitm -= GK * K * inv_itm;
    /* iin = max(ref ? 0 : is - L + idc, io) */
    Ga = aon ? GIin : 0;
    Gio += aon ? (REAL)0 : GIin;
    if (ref) Ga = 0;
    Gis1 += Ga;
    GL -= Ga;
    dp[DG_IDC * ld + j] += Ga;
    /* L = itm + ia */
    Gitm += GL;
    Gia1 += GL;
    /* F = exp(fv * vmem0) */
    dp[DG_FV * ld + j] += GF * F * vmem0[j];
    c_vmem[j] = GF * F * fv;
    /* ia = max(y, io), y = ahp_a*iahp0 + ahp_h*s0 */
    Gy = yon ? Gia1 : 0;
    Gio += yon ? (REAL)0 : Gia1;
    dp[DG_AHP_A * ld + j] += Gy * iahp0[j];
    dp[DG_AHP_H * ld + j] += Gy * s0[j];
    c_iahp[j] = Gy * CF(K_AHP_A);
    c_s[j] = Gy * CF(K_AHP_H);
    /* is = syn_a*isyn0 + syn_q*iinf, iinf = max(syn_g*u, io) */
    dp[DG_SYN_A * ld + j] += Gis1 * isyn0[j];
    c_isyn[j] = Gis1 * CF(K_SYN_A);
    dp[DG_SYN_Q * ld + j] += Gis1 * iinf;
    GIinf = Gis1 * CF(K_SYN_Q);
    Gz = zon ? GIinf : 0;
    Gio += zon ? (REAL)0 : GIinf;
    dp[DG_SYN_G * ld + j] += Gz * u[j];
    du[j] = Gz * CF(K_SYN_G);
    c_imem[j] = Gim0;
    dp[DG_ITM * ld + j] += Gitm;
    dp[DG_IGM * ld + j] += Gigm;
    dp[DG_MC * ld + j] += Gmc;
    dp[DG_IO * ld + j] += Gio;
  }
}

static void FN(dsim_backward)(lp_ctx *ctx, int threads, const REAL *cf, const FN(dsim_bufs) *q,
                              const FN(dsim_grads) *g, int *stop) {
  const int64_t B = q->B, T = q->T, N = q->N, ld = dsim_ld(N);
  int64_t b;
#pragma omp parallel for schedule(static) num_threads(threads) if (threads > 1 && B > 1)
  for (b = 0; b < B; b++) {
    REAL *c = g->blocks + b * B_N * ld;
    REAL *c_isyn = c + B_ISYN * ld, *c_iahp = c + B_IAHP * ld, *c_imem = c + B_IMEM * ld;
    REAL *c_vmem = c + B_VMEM * ld, *c_s = c + B_S * ld, *du = c + B_DU * ld, *dp = c + B_DP * ld;
    REAL *uu = c + B_U * ld;
    const REAL *zero = g->zero;               /* the gradient of an output that got none */
    int64_t t, i, j;
    for (t = T - 1; t >= 0; t--) {
      const int64_t o = (b * T + t) * N, op = o - N;
      const REAL *isyn0 = t > 0 ? q->IS + op : g->isyn0 + b * N;
      const REAL *iahp0 = t > 0 ? q->IA + op : g->iahp0 + b * N;
      const REAL *imem0 = t > 0 ? q->IM + op : g->imem0 + b * N;
      const REAL *vmem0 = t > 0 ? q->V + op : g->vmem0 + b * N;
      const REAL *s0 = t > 0 ? q->S + op : g->s0 + b * N;
      if (*stop || ((t & 15) == 0 && lp_ctx_interrupted(ctx))) { *stop = 1; break; }
      FN(dsim_input)(N, q->x + o, s0, q->W, q->rptr, q->ridx, q->rval, uu);   /* the step's u again */
      FN(dsim_step_back)(cf, ld, N, q->dt, uu, isyn0, iahp0, imem0, vmem0, s0, q->IS + o, q->IA + o,
                         q->IM + o, q->S + o, q->V + o, q->R + o, g->gS ? g->gS + o : zero,
                         g->gIM ? g->gIM + o : zero, g->gIS ? g->gIS + o : zero, g->gIA ? g->gIA + o : zero,
                         g->gV ? g->gV + o : zero, c_isyn, c_iahp, c_imem, c_vmem, c_s, du, dp);
      memcpy(g->dX + o, du, (size_t)N * sizeof *du);
      if (q->WT) {                 /* c_s += w_rec . du, over the inputs that passed the clamp */
        for (j = 0; j < N; j++) {
          const REAL dj = du[j];
          const REAL *restrict wj;
          if (dj == 0) continue;
          wj = q->WT + j * N;
          for (i = 0; i < N; i++) c_s[i] += dj * wj[i];
        }
      } else if (q->wptr) {        /* the same from the rows of w_rec^T (CSR) */
        int64_t e;
        for (j = 0; j < N; j++) {
          const REAL dj = du[j];
          if (dj == 0) continue;
          for (e = q->wptr[j]; e < q->wptr[j + 1]; e++) c_s[q->widx[e]] += dj * q->wval[e];
        }
      }
    }
  }
}

/* dW (N, N) = sum_{b,t} s_{b,t-1}^T du_{b,t}: a scatter-add over the spikes,
   columns split between threads (each thread owns its columns: the same
   sums in the same order on any thread count). */
static void FN(dsim_grad_w)(int threads, int64_t B, int64_t T, int64_t N, const REAL *S, const REAL *S0,
                            const REAL *dX, REAL *dW, int32_t *colbuf /* (N) scratch */) {
  int nth = threads > 1 && N >= 256 ? threads : 1;
  int th;
#pragma omp parallel for schedule(static) num_threads(nth) if (nth > 1)
  for (th = 0; th < nth; th++) {
    const int64_t j0 = N * th / nth, j1 = N * (th + 1) / nth;
    int64_t b, t, i, j, m, nz;
    int32_t *cols = colbuf + j0;   /* room for this thread's columns */
    for (b = 0; b < B; b++) {
      for (t = 0; t < T; t++) {
        const REAL *sp = t > 0 ? S + (b * T + t - 1) * N : S0 + b * N;
        const REAL *d = dX + (b * T + t) * N;
        nz = 0;
        for (j = j0; j < j1; j++) if (d[j] != 0) cols[nz++] = (int32_t)j;
        if (nz == 0) continue;
        for (i = 0; i < N; i++) {
          const REAL si = sp[i];
          REAL *wi;
          if (si == 0) continue;
          wi = dW + i * N;
          if (nz * 4 < j1 - j0) { for (m = 0; m < nz; m++) wi[cols[m]] += si * d[cols[m]]; }
          else for (j = j0; j < j1; j++) wi[j] += si * d[j];
        }
      }
    }
  }
}

#undef CF

/* o[j] = sum_b of row B_DP + k of batch row b's block (fixed order) */
static void FN(dsim_reduce_rows)(const REAL *blocks, int64_t B, int64_t N, int k, REAL *o) {
  const int64_t ld = dsim_ld(N);
  int64_t b, j;
  for (j = 0; j < N; j++) o[j] = 0;
  for (b = 0; b < B; b++) {
    const REAL *r = blocks + (b * B_N + B_DP + k) * ld;
    for (j = 0; j < N; j++) o[j] += r[j];
  }
}
