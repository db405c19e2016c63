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
#if !defined(REAL) || !defined(FN) || !defined(EXP_R) || !defined(LOG_R) || !defined(CEIL_R)
#error "define REAL, FN, EXP_R, LOG_R and CEIL_R before including dynapsim_kernels.h"
#endif

/* per-neuron coefficients (N) */
typedef struct FN(dsim_par) {
  const REAL *syn_a, *syn_q, *syn_g, *ahp_a, *ahp_h;
  const REAL *itm, *igm, *idc, *io, *mc, *fv, *utk, *thr, *tref, *sg;
  /* derived once per call for the fast step (N each) */
  const REAL *k_mem;       /* igm / itm */
  const REAL *inv_itm;     /* 1 / itm */
  const REAL *inv_mc;      /* 1 / mc */
  const REAL *inv_io;      /* 1 / io */
  const REAL *lthr;        /* ln(thr / io) */
} FN(dsim_par);

typedef struct FN(dsim_bufs) {
  int64_t B, T, N;
  REAL dt;
  const REAL *x;                      /* (B, T, N)                          */
  const REAL *W;                      /* (N, N) or NULL                     */
  const REAL *WT;                     /* (N, N) transpose (backward) or NULL */
  /* running state (B, N): initial in, final out */
  REAL *isyn, *iahp, *imem, *vmem, *s, *timer;
  /* records / saved (B, T, N); NULL when not wanted */
  REAL *S, *IM, *IS, *IA, *V;         /* spikes, imem (after reset), isyn, iahp, vmem */
  REAL *U, *IMP, *R;                  /* u, imem before reset, refractory flag */
  REAL *scratch;                      /* (B, 9N)                            */
  int reference;
} FN(dsim_bufs);

/* ---- forward: one step of one batch row ---------------------------------- */
/* Literal §2.4 (the plain reference). */
static void FN(dsim_step_ref)(const FN(dsim_par) *p, int64_t N, REAL dt, const REAL *u, REAL *isyn,
                              REAL *iahp, REAL *imem, REAL *vmem, REAL *s, REAL *timer, REAL *St, REAL *IMt,
                              REAL *ISt, REAL *IAt, REAL *Vt, REAL *IMPt, REAL *Rt) {
  int64_t j;
  for (j = 0; j < N; j++) {
    const REAL io = p->io[j], itm = p->itm[j], igm = p->igm[j];
    const REAL z = p->syn_g[j] * u[j];
    const REAL iinf = z > io ? z : io;
    const REAL is = p->syn_a[j] * isyn[j] + p->syn_q[j] * iinf;
    const REAL y = p->ahp_a[j] * iahp[j] + p->ahp_h[j] * s[j];
    const REAL ia = y > io ? y : io;
    const REAL F = EXP_R(p->fv[j] * vmem[j]);
    const REAL L = itm + ia;
    const int ref = timer[j] > 0;
    REAL a = is - L + p->idc[j], iin, minf, f, tau, im0, di, r, imp, v, n, tm;
    if (ref) a = 0;
    iin = a > io ? a : io;
    minf = igm / itm * (iin - L);
    f = io * F / L * (imem[j] + igm);
    tau = p->mc[j] / L;
    im0 = imem[j];
    di = im0 / (tau * (im0 + igm)) * (minf + f - im0 * (1 + ia / itm));
    r = im0 + dt * di;
    imp = r > io ? r : io;
    v = p->utk[j] * LOG_R(imp / io);
    n = CEIL_R(LOG_R(imp / p->thr[j]));
    if (!(n > 0)) n = 0;
    tm = timer[j] - dt;
    if (!(tm > 0)) tm = 0;
    isyn[j] = is; iahp[j] = ia; vmem[j] = v; s[j] = n;
    imem[j] = n > 0 ? io : imp;
    timer[j] = n > 0 ? p->tref[j] : tm;
    St[j] = n; IMt[j] = imem[j]; ISt[j] = is; IAt[j] = ia; Vt[j] = v; IMPt[j] = imp; Rt[j] = (REAL)ref;
  }
}

/* The same step with the divisions by per-neuron constants hoisted and one
   logarithm per neuron: ln(imp/io) gives vmem, and n > 0 exactly when
   imp > thr, so the spike count's logarithm is taken only then. */
DSIM_CLONES static void FN(dsim_step)(const FN(dsim_par) *restrict p, int64_t N, REAL dt,
                                      const REAL *restrict u, REAL *restrict isyn, REAL *restrict iahp,
                                      REAL *restrict imem, REAL *restrict vmem, REAL *restrict s,
                                      REAL *restrict timer, REAL *restrict St, REAL *restrict IMt,
                                      REAL *restrict ISt, REAL *restrict IAt, REAL *restrict Vt,
                                      REAL *restrict IMPt, REAL *restrict Rt) {
  const REAL *restrict syn_a = p->syn_a, *restrict syn_q = p->syn_q, *restrict syn_g = p->syn_g;
  const REAL *restrict ahp_a = p->ahp_a, *restrict ahp_h = p->ahp_h, *restrict itm = p->itm;
  const REAL *restrict igm = p->igm, *restrict idc = p->idc, *restrict iop = p->io, *restrict fv = p->fv;
  const REAL *restrict utk = p->utk, *restrict thr = p->thr, *restrict tref = p->tref;
  const REAL *restrict k_mem = p->k_mem, *restrict inv_itm = p->inv_itm, *restrict inv_mc = p->inv_mc;
  const REAL *restrict inv_io = p->inv_io;
  int64_t j;
  int any = 0;
  for (j = 0; j < N; j++) {
    const REAL io = iop[j];
    const REAL z = syn_g[j] * u[j];
    const REAL iinf = z > io ? z : io;
    const REAL is = syn_a[j] * isyn[j] + syn_q[j] * iinf;
    const REAL y = ahp_a[j] * iahp[j] + ahp_h[j] * s[j];
    const REAL ia = y > io ? y : io;
    const REAL F = EXP_R(fv[j] * vmem[j]);
    const REAL L = itm[j] + ia, invL = 1 / L;
    const REAL tj = timer[j];
    const REAL a0 = is - L + idc[j];
    const REAL a = tj > 0 ? (REAL)0 : a0;
    const REAL iin = a > io ? a : io;
    const REAL minf = k_mem[j] * (iin - L);
    const REAL im0 = imem[j], P = im0 + igm[j];
    const REAL f = io * F * invL * P;
    /* im0 / (tau * P) with tau = mc / L */
    const REAL di = im0 * L * inv_mc[j] / P * (minf + f - im0 * (1 + ia * inv_itm[j]));
    const REAL r = im0 + dt * di;
    const REAL imp = r > io ? r : io;
    const REAL v = utk[j] * LOG_R(imp * inv_io[j]);
    const REAL spk = imp / thr[j] > 1;         /* ln(imp/thr) > 0 */
    const REAL tm0 = tj - dt;
    const REAL tm = tm0 > 0 ? tm0 : 0;
    isyn[j] = is; iahp[j] = ia; vmem[j] = v;
    s[j] = spk;                                /* 1 for now; counts above 1 fixed below */
    imem[j] = spk > 0 ? io : imp;
    timer[j] = spk > 0 ? tref[j] : tm;
    IMt[j] = imem[j]; ISt[j] = is; IAt[j] = ia; Vt[j] = v; IMPt[j] = imp; Rt[j] = tj > 0 ? (REAL)1 : (REAL)0;
    any |= spk > 0;
  }
  if (any) {                                   /* the spike count: ceil(ln(imp / thr)) */
    for (j = 0; j < N; j++) {
      if (s[j] > 0) {
        s[j] = CEIL_R(LOG_R(IMPt[j] / thr[j]));  /* >= 1 since the ratio is > 1 */
      }
    }
  }
  for (j = 0; j < N; j++) St[j] = s[j];
}

/* u = x_t + w_rec^T s (rows of spiking neurons gathered) */
DSIM_CLONES static void FN(dsim_input)(int64_t N, const REAL *restrict xt, const REAL *restrict s,
                                       const REAL *restrict W, REAL *restrict u) {
  int64_t i, j;
  for (j = 0; j < N; j++) u[j] = xt[j];
  if (!W) return;
  for (i = 0; i < N; i++) {
    const REAL si = s[i];
    const REAL *restrict wi;
    if (si == 0) continue;
    wi = W + i * N;
    for (j = 0; j < N; j++) u[j] += si * wi[j];
  }
}

static void FN(dsim_forward)(lp_ctx *ctx, int threads, const FN(dsim_par) *p, const FN(dsim_bufs) *q,
                             int *stop) {
  const int64_t B = q->B, T = q->T, N = q->N;
  int64_t b;
#pragma omp parallel for schedule(static) num_threads(threads) if (threads > 1 && B > 1)
  for (b = 0; b < B; b++) {
    REAL *isyn = q->isyn + b * N, *iahp = q->iahp + b * N, *imem = q->imem + b * N;
    REAL *vmem = q->vmem + b * N, *s = q->s + b * N, *timer = q->timer + b * N;
    REAL *scr = q->scratch + b * 9 * N;
    REAL *u0 = scr, *dIM = scr + N, *dIS = scr + 2 * N, *dIA = scr + 3 * N, *dV = scr + 4 * N;
    REAL *dIMP = scr + 5 * N, *dR = scr + 6 * N;
    int64_t t;
    for (t = 0; t < T; t++) {
      const int64_t o = (b * T + t) * N;
      REAL *u = q->U ? q->U + o : u0;
      if (*stop || lp_ctx_interrupted(ctx)) { *stop = 1; break; }
      FN(dsim_input)(N, q->x + o, s, q->W, u);
      (q->reference ? FN(dsim_step_ref) : FN(dsim_step))(
          p, N, q->dt, u, isyn, iahp, imem, vmem, s, timer, q->S + o, q->IM ? q->IM + o : dIM,
          q->IS ? q->IS + o : dIS, q->IA ? q->IA + o : dIA, q->V ? q->V + o : dV, q->IMP ? q->IMP + o : dIMP,
          q->R ? q->R + o : dR);
    }
  }
}

/* ---- backward -------------------------------------------------------------- */
/* Per-batch-row partial sums of the coefficient gradients, (B, N) each. */
#ifndef DSIM_DG_ENUM
#define DSIM_DG_ENUM
enum { DG_SYN_A, DG_SYN_Q, DG_SYN_G, DG_AHP_A, DG_AHP_H, DG_ITM, DG_IGM, DG_IDC, DG_IO, DG_MC, DG_FV, DG_UTK,
       DG_N };
#endif

typedef struct FN(dsim_grads) {
  const REAL *gS, *gIM, *gIS, *gIA, *gV;   /* (B, T, N) output gradients or NULL */
  const REAL *isyn0, *iahp0, *imem0, *vmem0, *s0;   /* (B, N) initial state */
  REAL *dX;                                 /* (B, T, N) dL/du = dL/dx          */
  REAL *dpar;                               /* DG_N blocks of (B, N)             */
  REAL *carry;                              /* (B, 5N): isyn, iahp, imem, vmem, s */
} FN(dsim_grads);

/* One step back for one batch row. The carries hold the adjoints of the
   state after step t on entry and after step t-1 on return; gs gets the
   AHP part of the adjoint of s_{t-1} (the recurrent part is added by the
   caller from du). */
DSIM_CLONES static void FN(dsim_step_back)(const FN(dsim_par) *restrict p, int64_t N, REAL dt,
                                           const REAL *restrict u, const REAL *restrict isyn0,
                                           const REAL *restrict iahp0, const REAL *restrict imem0,
                                           const REAL *restrict vmem0, const REAL *restrict s0,
                                           const REAL *restrict isyn1, const REAL *restrict iahp1,
                                           const REAL *restrict impt, const REAL *restrict nt,
                                           const REAL *restrict vt, const REAL *restrict reft,
                                           const REAL *restrict gSt, const REAL *restrict gIMt,
                                           const REAL *restrict gISt, const REAL *restrict gIAt,
                                           const REAL *restrict gVt, REAL *restrict c_isyn,
                                           REAL *restrict c_iahp, REAL *restrict c_imem, REAL *restrict c_vmem,
                                           REAL *restrict c_s, REAL *restrict du, REAL *restrict dp, int64_t BN) {
  int64_t j;
  for (j = 0; j < N; j++) {
    const REAL io = p->io[j], itm = p->itm[j], igm = p->igm[j], mc = p->mc[j], fv = p->fv[j];
    const REAL utk = p->utk[j], sgv = p->sg ? p->sg[j] : (REAL)1;
    /* forward intermediates */
    const REAL z = p->syn_g[j] * u[j];
    const int zon = z > io;
    const REAL iinf = zon ? z : io;
    const REAL y = p->ahp_a[j] * iahp0[j] + p->ahp_h[j] * s0[j];
    const int yon = y > io;
    const REAL ia = iahp1[j], is = isyn1[j];
    const REAL F = EXP_R(fv * vmem0[j]);
    const REAL L = itm + ia;
    const int ref = reft[j] > 0;
    const REAL a = ref ? (REAL)0 : is - L + p->idc[j];
    const int aon = a > io;
    const REAL iin = aon ? a : io;
    const REAL K = igm / itm;
    const REAL minf = K * (iin - L);
    const REAL ifb = io * F;
    const REAL im0 = imem0[j];
    const REAL P = im0 + igm;
    const REAL f = ifb / L * P;
    const REAL tau = mc / L;
    const REAL D = minf + f - im0 * (1 + ia / itm);
    const REAL TP = tau * P;
    const REAL E = im0 / TP;
    const REAL di = E * D;
    const REAL r = im0 + dt * di;
    const int ron = r > io;
    const REAL imp = impt[j], n = nt[j];
    /* adjoints of the outputs of this step */
    const REAL Gn = (gSt ? gSt[j] : 0) + c_s[j];
    const REAL Gim1 = (gIMt ? gIMt[j] : 0) + c_imem[j];
    REAL Gis1 = (gISt ? gISt[j] : 0) + c_isyn[j];
    REAL Gia1 = (gIAt ? gIAt[j] : 0) + c_iahp[j];
    const REAL Gv1 = (gVt ? gVt[j] : 0) + c_vmem[j];
    REAL Gimp, Gio, Gr, Gim0, GdI, GD, GE, Gtau, GP, Gitm, Gmc, GL, Gf, GIfb, Gigm, GF, GK, GIin, Ga, Gy, GIinf, Gz;
    /* n, reset, vmem */
    Gimp = (n > 0 ? (REAL)0 : Gim1) + (imp > io ? Gn * sgv : (REAL)0) + Gv1 * utk / imp;
    Gio = (n > 0 ? Gim1 : (REAL)0) - Gv1 * utk / io;
    dp[DG_UTK * BN + j] += Gv1 * vt[j] / utk;
    /* imp = max(r, io); r = im0 + dt*E*D */
    Gr = ron ? Gimp : 0;
    Gio += ron ? (REAL)0 : Gimp;
    Gim0 = Gr;
    GdI = dt * Gr;
    GD = GdI * E;
    GE = GdI * D;
    Gim0 += GE / TP;
    Gtau = -GE * E / tau;
    GP = -GE * E / P;
    /* D = minf + f - im0*(1 + ia/itm) */
    Gim0 -= GD * (1 + ia / itm);
    Gia1 -= GD * im0 / itm;
    Gitm = GD * im0 * ia / (itm * itm);
    /* tau = mc / L */
    Gmc = Gtau / L;
    GL = -Gtau * tau / L;
    /* f = ifb / L * P */
    Gf = GD;
    GIfb = Gf * P / L;
    GP += Gf * ifb / L;
    GL -= Gf * f / L;
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
    Gigm += GK / itm;
    Gitm -= GK * K / itm;
    /* iin = max(ref ? 0 : is - L + idc, io) */
    Ga = aon ? GIin : 0;
    Gio += aon ? (REAL)0 : GIin;
    if (ref) Ga = 0;
    Gis1 += Ga;
    GL -= Ga;
    dp[DG_IDC * BN + j] += Ga;
    /* L = itm + ia */
    Gitm += GL;
    Gia1 += GL;
    /* F = exp(fv * vmem0) */
    dp[DG_FV * BN + j] += GF * F * vmem0[j];
    c_vmem[j] = GF * F * fv;
    /* ia = max(y, io), y = ahp_a*iahp0 + ahp_h*s0 */
    Gy = yon ? Gia1 : 0;
    Gio += yon ? (REAL)0 : Gia1;
    dp[DG_AHP_A * BN + j] += Gy * iahp0[j];
    dp[DG_AHP_H * BN + j] += Gy * s0[j];
    c_iahp[j] = Gy * p->ahp_a[j];
    c_s[j] = Gy * p->ahp_h[j];
    /* is = syn_a*isyn0 + syn_q*iinf, iinf = max(syn_g*u, io) */
    dp[DG_SYN_A * BN + j] += Gis1 * isyn0[j];
    c_isyn[j] = Gis1 * p->syn_a[j];
    dp[DG_SYN_Q * BN + j] += Gis1 * iinf;
    GIinf = Gis1 * p->syn_q[j];
    Gz = zon ? GIinf : 0;
    Gio += zon ? (REAL)0 : GIinf;
    dp[DG_SYN_G * BN + j] += Gz * u[j];
    du[j] = Gz * p->syn_g[j];
    c_imem[j] = Gim0;
    dp[DG_ITM * BN + j] += Gitm;
    dp[DG_IGM * BN + j] += Gigm;
    dp[DG_MC * BN + j] += Gmc;
    dp[DG_IO * BN + j] += Gio;
  }
}

static void FN(dsim_backward)(lp_ctx *ctx, int threads, const FN(dsim_par) *p, const FN(dsim_bufs) *q,
                              const FN(dsim_grads) *g, int *stop) {
  const int64_t B = q->B, T = q->T, N = q->N, BN = B * N;
  int64_t b;
#pragma omp parallel for schedule(static) num_threads(threads) if (threads > 1 && B > 1)
  for (b = 0; b < B; b++) {
    REAL *c = g->carry + b * 5 * N;
    REAL *c_isyn = c, *c_iahp = c + N, *c_imem = c + 2 * N, *c_vmem = c + 3 * N, *c_s = c + 4 * N;
    REAL *dp = g->dpar + b * N;
    int64_t t, i, j;
    for (t = T - 1; t >= 0; t--) {
      const int64_t o = (b * T + t) * N, op = o - N;
      const REAL *isyn0 = t > 0 ? q->IS + op : g->isyn0 + b * N;
      const REAL *iahp0 = t > 0 ? q->IA + op : g->iahp0 + b * N;
      const REAL *imem0 = t > 0 ? q->IM + op : g->imem0 + b * N;
      const REAL *vmem0 = t > 0 ? q->V + op : g->vmem0 + b * N;
      const REAL *s0 = t > 0 ? q->S + op : g->s0 + b * N;
      REAL *du = g->dX + o;
      if (*stop || ((t & 15) == 0 && lp_ctx_interrupted(ctx))) { *stop = 1; break; }
      FN(dsim_step_back)(p, N, q->dt, q->U + o, isyn0, iahp0, imem0, vmem0, s0, q->IS + o, q->IA + o,
                         q->IMP + o, q->S + o, q->V + o, q->R + o, g->gS ? g->gS + o : NULL,
                         g->gIM ? g->gIM + o : NULL, g->gIS ? g->gIS + o : NULL, g->gIA ? g->gIA + o : NULL,
                         g->gV ? g->gV + o : NULL, c_isyn, c_iahp, c_imem, c_vmem, c_s, du, dp, BN);
      if (q->WT) {                 /* c_s += w_rec . du, over the inputs that passed the clamp */
        for (j = 0; j < N; j++) {
          const REAL dj = du[j];
          const REAL *restrict wj;
          if (dj == 0) continue;
          wj = q->WT + j * N;
          for (i = 0; i < N; i++) c_s[i] += dj * wj[i];
        }
      }
    }
  }
}

/* dW (N, N) = sum_{b,t} s_{b,t-1}^T du_{b,t}: a scatter-add over the spikes,
   columns split between threads (each thread owns its columns: the same
   sums in the same order on any thread count). */
static void FN(dsim_grad_w)(int threads, int64_t B, int64_t T, int64_t N, const REAL *S, const REAL *S0,
                            const REAL *dX, REAL *dW) {
  int nth = threads > 1 && N >= 256 ? threads : 1;
  int th;
#pragma omp parallel for schedule(static) num_threads(nth) if (nth > 1)
  for (th = 0; th < nth; th++) {
    const int64_t j0 = N * th / nth, j1 = N * (th + 1) / nth;
    int64_t b, t, i, j;
    for (b = 0; b < B; b++) {
      for (t = 0; t < T; t++) {
        const REAL *sp = t > 0 ? S + (b * T + t - 1) * N : S0 + b * N;
        const REAL *d = dX + (b * T + t) * N;
        for (i = 0; i < N; i++) {
          const REAL si = sp[i];
          REAL *wi;
          if (si == 0) continue;
          wi = dW + i * N;
          for (j = j0; j < j1; j++) wi[j] += si * d[j];
        }
      }
    }
  }
}

/* out[i] = sum_b part[b*n + i] (fixed order) */
static void FN(dsim_reduce_rows)(const REAL *part, int64_t B, int64_t n, REAL *o) {
  int64_t b, i;
  for (i = 0; i < n; i++) o[i] = 0;
  for (b = 0; b < B; b++) for (i = 0; i < n; i++) o[i] += part[b * n + i];
}
