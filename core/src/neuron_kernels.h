/*
** core/src/neuron_kernels.h -- private: the time loops of the fused neuron
** ops (LIF, ExpSyn, Rate) for one float type, forward and BPTT backward side
** by side. Included by core/src/lif.c once per type with REAL (float or
** double) and FN(name) (name##_f32 or name##_f64) defined, like TH's generic
** files. Pure loops over contiguous row-major buffers: shape checks, tensor
** allocation and autograd recording live in lif.c.
** Notation: B batch, T time, N neurons, k synapses, K = k*N input columns.
** Per-batch-row partial sums of parameter gradients (B, ...) are reduced by
** the caller in a fixed order, so results do not depend on thread count.
*/
#if !defined(REAL) || !defined(FN) || !defined(FLOOR_R)
#error "define REAL, FN and FLOOR_R before including neuron_kernels.h"
#endif

/* 32-byte vectors of any alignment (GCC / Clang vector extensions): one
   AVX2 register. (They were 64 bytes: on CPUs without AVX-512, GCC lowered
   each 64-byte operation, the scalar broadcasts included, through the
   stack, ten times the instructions of the loop (callgrind, W1 user form);
   the AVX-512 clone runs them as 256-bit operations.) Per-element sums
   keep their order whatever the width. */
typedef REAL FN(vec) __attribute__((vector_size(32), aligned(sizeof(REAL)), may_alias));

/* ---- surrogate gradients ------------------------------------------------ */
static inline REAL FN(spike_count)(REAL u, REAL th, REAL maxs) {
  REAL n = u >= th ? (REAL)floor(u / th) : (REAL)0;
  if (n > maxs) n = maxs;
  if (n < 0) n = 0;
  return n;
}

/* ds/du into *gu and ds/dth into *gth for membrane u before reset. */
static inline void FN(surrogate)(const lif_dims *d, REAL u, REAL th, REAL *gu, REAL *gth) {
  double g;
  switch (d->sg) {
  case LP_SG_STEP_PWL:
    if (u >= th - (REAL)d->window) { *gu = (REAL)1 / th; *gth = -u / (th * th); }
    else { *gu = 0; *gth = 0; }
    return;
  case LP_SG_PERIODIC_EXP: {
    REAL half = th / 2, vs = u - half, ns = (REAL)floor(vs / th), w, p;
    if (ns > (REAL)d->maxs - 1) ns = (REAL)d->maxs - 1;
    w = u >= th ? vs - ns * th : vs;
    p = (REAL)exp(-fabs((double)(w - half)) / d->window) / th;
    *gu = p; *gth = -p * u / th;
    return;
  }
  case LP_SG_FAST_SIGMOID: {
    double z = (double)u / th - 1, q = 1 + d->scale * fabs(z);
    g = 1 / (q * q);
    break;
  }
  default: {          /* LP_SG_ATAN */
    double z = (double)u / th - 1, q = 1.5707963267948966 * d->scale * z;
    g = d->scale / 2 / (1 + q * q);
    break;
  }
  }
  *gu = (REAL)(g / th);
  *gth = (REAL)(-g * u / ((double)th * th));
}

/* Software prefetches (hints: no value or result changes; lines past a
   buffer's end do not fault) of the whole lines of the n values at p, for
   reading or for writing: where the time loops read rows the hardware
   prefetchers do not see coming (lif_bpf, the backward). */
static inline __attribute__((always_inline)) void FN(prefetch_row)(const REAL *p, int64_t n) {
  const uintptr_t a = (uintptr_t)p;
  uintptr_t o;
  for (o = 0; o < (uintptr_t)n * sizeof(REAL); o += 64) __builtin_prefetch((const void *)(a + o), 0);
}
static inline __attribute__((always_inline)) void FN(prefetchw_row)(const REAL *p, int64_t n) {
  const uintptr_t a = (uintptr_t)p;
  uintptr_t o;
  for (o = 0; o < (uintptr_t)n * sizeof(REAL); o += 64) __builtin_prefetch((const void *)(a + o), 1);
}

/* ---- LIF ------------------------------------------------------------------ */
typedef struct FN(lif_bufs) {
  /* parameters */
  const REAL *x;                  /* (B, T, K)                              */
  const REAL *alpha, *beta;       /* (N), (N, k)                            */
  const REAL *bias, *th;          /* (N)                                    */
  const REAL *W;                  /* (N, K) or NULL                         */
  const REAL *wahp, *bahp;        /* (N) or NULL                            */
  const REAL *noise;              /* (B, T, N) or NULL                      */
  /* running state, initial values in, final values out */
  REAL *v, *isyn, *s, *iahp;      /* (B, N), (B, N, k), (B, N), (B, N)       */
  /* outputs */
  REAL *S;                        /* (B, T, N) spikes                        */
  REAL *V, *Isr, *Rec;            /* (B, T, N), (B, T, N, k) x 2, or NULL    */
  REAL *Iar;                      /* (B, T, N) iahp after decay, or NULL     */
  /* saved for backward (NULL when no grad) */
  REAL *U;                        /* (B, T, N) membrane before reset         */
  REAL *C;                        /* (B, T, N, k) synaptic current before decay */
  REAL *A;                        /* (B, T, N) ahp current before decay      */
  REAL *r;                        /* scratch (B, 4K): recurrent input, rows  */
  /* fused input projection from sparse x: x's index (rows b*T+t) and w_in
     (Nin, K), b_in (K) or NULL; xval NULL when every value is 1; xix NULL when not fused or x was dense
     (then x already holds the projection) */
  const int64_t *xrp;
  const int32_t *xix;
  const REAL *xval, *win, *bin;
  /* w_rec's per-neuron target lists (N, F) and their weights packed (N, F), or NULL (dense w_rec) */
  const int32_t *tg;
  const REAL *wv;
} FN(lif_bufs);

/* Row gathers of narrow rows (VW <= K < 8 VW: W1's 20-neuron readout):
   out[0..K) = sum over the events e0..e1 (ascending) of val[e] * src[idx[e], :]
   (val NULL: every value 1, no products), every column vector summed in one
   pass over the events: nv = ceil(K / VW) accumulators, the last vector
   ending at K (its columns shared with the one before get the same sums
   twice), one index read per event instead of one per vector. Each element
   sums its terms from 0 in event order as the wide loops do: the
   same bits as the plain vector-at-a-time loops it replaces (kept below it
   for the wider rows; spec/fusion_spec.lua holds them to sparse.c's
   gathers). Issue 17: the readout's forward projection and its dL/dw_in
   read each event's index three times (1.75 M and 1.72 M of W1r's 78 M
   instructions per step). */
static inline __attribute__((always_inline)) void FN(gather_narrow_n)(const int64_t nv, int64_t K, int64_t e0,
                                                                     int64_t e1, const int32_t *restrict idx,
                                                                     const REAL *restrict val,
                                                                     const REAL *restrict src, REAL *restrict out) {
  const int64_t VW = (int64_t)(sizeof(FN(vec)) / sizeof(REAL));
  FN(vec) a[8];
  int64_t off[8], e, i;
  for (i = 0; i < nv; i++) {
    a[i] = (FN(vec)){0};
    off[i] = i + 1 < nv ? i * VW : K - VW;   /* the last vector ends at K */
  }
  if (val)
    for (e = e0; e < e1;) {        /* runs of values of 1 without the products, as lif_grad_w_rows */
      for (; e < e1 && val[e] == 1; e++) {
        const REAL *w = src + (int64_t)idx[e] * K;
        for (i = 0; i < nv; i++) a[i] += *(const FN(vec) *)(w + off[i]);
      }
      for (; e < e1 && val[e] != 1; e++) {
        const REAL *w = src + (int64_t)idx[e] * K, v = val[e];
        for (i = 0; i < nv; i++) a[i] += v * *(const FN(vec) *)(w + off[i]);
      }
    }
  else
    for (e = e0; e < e1; e++) {
      const REAL *w = src + (int64_t)idx[e] * K;
      for (i = 0; i < nv; i++) a[i] += *(const FN(vec) *)(w + off[i]);
    }
  for (i = 0; i < nv; i++) *(FN(vec) *)(out + off[i]) = a[i];   /* the overlap gets the same values twice */
}

static inline __attribute__((always_inline)) void FN(gather_narrow)(int64_t K, int64_t e0, int64_t e1, const int32_t *restrict idx,
                                     const REAL *restrict val, const REAL *restrict src, REAL *restrict out) {
  const int64_t VW = (int64_t)(sizeof(FN(vec)) / sizeof(REAL));
  switch ((K + VW - 1) / VW) {     /* a constant count of vectors in each: unrolled, in registers */
  case 1: FN(gather_narrow_n)(1, K, e0, e1, idx, val, src, out); break;
  case 2: FN(gather_narrow_n)(2, K, e0, e1, idx, val, src, out); break;
  case 3: FN(gather_narrow_n)(3, K, e0, e1, idx, val, src, out); break;
  case 4: FN(gather_narrow_n)(4, K, e0, e1, idx, val, src, out); break;
  case 5: FN(gather_narrow_n)(5, K, e0, e1, idx, val, src, out); break;
  case 6: FN(gather_narrow_n)(6, K, e0, e1, idx, val, src, out); break;
  case 7: FN(gather_narrow_n)(7, K, e0, e1, idx, val, src, out); break;
  default: FN(gather_narrow_n)(8, K, e0, e1, idx, val, src, out); break;
  }
}

/* Wide rows of 0/1 gathers, 128 floats (16 vectors) at a time from column j:
   out[j..) = sum over the events e0..e1 (ascending) of src[idx[e], j..), one
   index read per 16 vectors; returns the first column it did not cover
   (the 8-vector and narrower loops take the rest). Same sums in the same
   order as those loops. Used by lif_inproj1 (forward) and lif_grad_w_rows
   (dL/dw_in, no values). Issue 17: prefetching the rows of the event
   three ahead changed the forward's CPU time by x1.00 and the W1r step's
   (with lif_grad_w_rows' valued loop) by x0.99-1.00 for 4.4 M more
   instructions (+6 %): not kept. */
static inline __attribute__((always_inline)) int64_t FN(gather16_ones)(int64_t K, int64_t j, int64_t e0, int64_t e1,
                                                                      const int32_t *restrict idx,
                                                                      const REAL *restrict src, REAL *restrict out) {
  const int64_t VW = (int64_t)(sizeof(FN(vec)) / sizeof(REAL));
  for (; j + 16 * VW <= K; j += 16 * VW) {
    FN(vec) a[16];
    int64_t e;
    int q;
    for (q = 0; q < 16; q++) a[q] = (FN(vec)){0};
    for (e = e0; e < e1; e++) {
      const REAL *w = src + (int64_t)idx[e] * K + j;
      for (q = 0; q < 16; q++) a[q] += *(const FN(vec) *)(w + q * VW);
    }
    for (q = 0; q < 16; q++) *(FN(vec) *)(out + j + q * VW) = a[q];
  }
  return j;
}

/* out[0..K) = sum over the events e0..e1 (ascending) of val[e] * win[idx[e], :],
   then + bin: the same sums in the same order as sparse.c's row gathers
   followed by the bias add, so fused and unfused inputs agree. */
LIF_CLONES static void FN(lif_inproj)(int64_t K, int64_t e0, int64_t e1, const int32_t *restrict idx,
                                      const REAL *restrict val, const REAL *restrict win,
                                      const REAL *restrict bin, REAL *restrict out) {
  const int64_t VW = (int64_t)(sizeof(FN(vec)) / sizeof(REAL));
  int64_t e, j = 0;
  if (K >= VW && K < 8 * VW) {           /* narrow: every vector in one pass */
    FN(gather_narrow)(K, e0, e1, idx, val, win, out);
    if (bin) for (j = 0; j < K; j++) out[j] = out[j] + bin[j];
    return;
  }
  for (; j + 8 * VW <= K; j += 8 * VW) {   /* eight accumulators: one index read per 64 floats */
    FN(vec) a0 = {0}, a1 = {0}, a2 = {0}, a3 = {0}, a4 = {0}, a5 = {0}, a6 = {0}, a7 = {0};
    for (e = e0; e < e1; e++) {
      const REAL *w = win + (int64_t)idx[e] * K + j, v = val[e];
      a0 += v * *(const FN(vec) *)w; a1 += v * *(const FN(vec) *)(w + VW);
      a2 += v * *(const FN(vec) *)(w + 2 * VW); a3 += v * *(const FN(vec) *)(w + 3 * VW);
      a4 += v * *(const FN(vec) *)(w + 4 * VW); a5 += v * *(const FN(vec) *)(w + 5 * VW);
      a6 += v * *(const FN(vec) *)(w + 6 * VW); a7 += v * *(const FN(vec) *)(w + 7 * VW);
    }
    *(FN(vec) *)(out + j) = a0; *(FN(vec) *)(out + j + VW) = a1;
    *(FN(vec) *)(out + j + 2 * VW) = a2; *(FN(vec) *)(out + j + 3 * VW) = a3;
    *(FN(vec) *)(out + j + 4 * VW) = a4; *(FN(vec) *)(out + j + 5 * VW) = a5;
    *(FN(vec) *)(out + j + 6 * VW) = a6; *(FN(vec) *)(out + j + 7 * VW) = a7;
  }
  for (; j + 4 * VW <= K; j += 4 * VW) {
    FN(vec) a0 = {0}, a1 = {0}, a2 = {0}, a3 = {0};
    for (e = e0; e < e1; e++) {
      const REAL *w = win + (int64_t)idx[e] * K + j, v = val[e];
      a0 += v * *(const FN(vec) *)w;
      a1 += v * *(const FN(vec) *)(w + VW);
      a2 += v * *(const FN(vec) *)(w + 2 * VW);
      a3 += v * *(const FN(vec) *)(w + 3 * VW);
    }
    *(FN(vec) *)(out + j) = a0; *(FN(vec) *)(out + j + VW) = a1;
    *(FN(vec) *)(out + j + 2 * VW) = a2; *(FN(vec) *)(out + j + 3 * VW) = a3;
  }
  for (; j < K && K >= VW; j += VW) {   /* the last columns: one vector ending at K */
    if (j + VW > K) j = K - VW;
    FN(vec) a0 = {0};
    for (e = e0; e < e1; e++) a0 += val[e] * *(const FN(vec) *)(win + (int64_t)idx[e] * K + j);
    *(FN(vec) *)(out + j) = a0;
  }
  for (; j < K; j++) {
    REAL a0 = 0;
    for (e = e0; e < e1; e++) a0 += val[e] * win[(int64_t)idx[e] * K + j];
    out[j] = a0;
  }
  if (bin) for (j = 0; j < K; j++) out[j] = out[j] + bin[j];
}

/* lif_inproj when every value is 1 (spikes as 0/1, val NULL): the same sums
   without the products by 1, which change no bit. */
LIF_CLONES static void FN(lif_inproj1)(int64_t K, int64_t e0, int64_t e1, const int32_t *restrict idx,
                                      const REAL *restrict val, const REAL *restrict win,
                                      const REAL *restrict bin, REAL *restrict out) {
  const int64_t VW = (int64_t)(sizeof(FN(vec)) / sizeof(REAL));
  int64_t e, j = 0;
  if (K >= VW && K < 8 * VW) {           /* narrow: every vector in one pass */
    FN(gather_narrow)(K, e0, e1, idx, NULL, win, out);
    if (bin) for (j = 0; j < K; j++) out[j] = out[j] + bin[j];
    return;
  }
  (void)val;
  j = FN(gather16_ones)(K, j, e0, e1, idx, win, out);   /* sixteen accumulators: one index read per 128 floats */
  for (; j + 8 * VW <= K; j += 8 * VW) {   /* eight accumulators: one index read per 64 floats */
    FN(vec) a0 = {0}, a1 = {0}, a2 = {0}, a3 = {0}, a4 = {0}, a5 = {0}, a6 = {0}, a7 = {0};
    for (e = e0; e < e1; e++) {
      const REAL *w = win + (int64_t)idx[e] * K + j;
      a0 += *(const FN(vec) *)w; a1 += *(const FN(vec) *)(w + VW);
      a2 += *(const FN(vec) *)(w + 2 * VW); a3 += *(const FN(vec) *)(w + 3 * VW);
      a4 += *(const FN(vec) *)(w + 4 * VW); a5 += *(const FN(vec) *)(w + 5 * VW);
      a6 += *(const FN(vec) *)(w + 6 * VW); a7 += *(const FN(vec) *)(w + 7 * VW);
    }
    *(FN(vec) *)(out + j) = a0; *(FN(vec) *)(out + j + VW) = a1;
    *(FN(vec) *)(out + j + 2 * VW) = a2; *(FN(vec) *)(out + j + 3 * VW) = a3;
    *(FN(vec) *)(out + j + 4 * VW) = a4; *(FN(vec) *)(out + j + 5 * VW) = a5;
    *(FN(vec) *)(out + j + 6 * VW) = a6; *(FN(vec) *)(out + j + 7 * VW) = a7;
  }
  for (; j + 4 * VW <= K; j += 4 * VW) {
    FN(vec) a0 = {0}, a1 = {0}, a2 = {0}, a3 = {0};
    for (e = e0; e < e1; e++) {
      const REAL *w = win + (int64_t)idx[e] * K + j;
      a0 += *(const FN(vec) *)w;
      a1 += *(const FN(vec) *)(w + VW);
      a2 += *(const FN(vec) *)(w + 2 * VW);
      a3 += *(const FN(vec) *)(w + 3 * VW);
    }
    *(FN(vec) *)(out + j) = a0; *(FN(vec) *)(out + j + VW) = a1;
    *(FN(vec) *)(out + j + 2 * VW) = a2; *(FN(vec) *)(out + j + 3 * VW) = a3;
  }
  for (; j < K && K >= VW; j += VW) {   /* the last columns: one vector ending at K */
    if (j + VW > K) j = K - VW;
    FN(vec) a0 = {0};
    for (e = e0; e < e1; e++) a0 += *(const FN(vec) *)(win + (int64_t)idx[e] * K + j);
    *(FN(vec) *)(out + j) = a0;
  }
  for (; j < K; j++) {
    REAL a0 = 0;
    for (e = e0; e < e1; e++) a0 += win[(int64_t)idx[e] * K + j];
    out[j] = a0;
  }
  if (bin) for (j = 0; j < K; j++) out[j] = out[j] + bin[j];
}

/* the fused input projection of events e0..e1: val NULL means all ones */
static inline void FN(lif_inproj_any)(int64_t K, int64_t e0, int64_t e1, const int32_t *idx, const REAL *val,
                                      const REAL *win, const REAL *bin, REAL *out) {
  if (val) FN(lif_inproj)(K, e0, e1, idx, val, win, bin, out);
  else FN(lif_inproj1)(K, e0, e1, idx, val, win, bin, out);
}

/* One step of the plain LIF (k = 1, no ahp, synaptic memory) for one batch
   row, as unit-stride loops the compiler vectorises: in = x_t (+ recurrent
   input), C/U rows saved (scratch rows when no grad), state updated in place.
   The plain reference of lif.c's AVX2 lif_step1_avx2_f32 (float32, no
   noise: the same bits; spec/lif_fast_spec.lua holds them together). */
LIF_CLONES static void FN(lif_step1)(int64_t N, const REAL *restrict in, const REAL *restrict alpha,
                                     const REAL *restrict beta, const REAL *restrict bias,
                                     const REAL *restrict th, const REAL *restrict noise, REAL maxs,
                                     REAL *restrict v, REAL *restrict isyn, REAL *restrict s,
                                     REAL *restrict St, REAL *restrict Ut, REAL *restrict Ct) {
  int64_t n;
#define LIF_STEP1_BODY(NOISE)                                                     \
  for (n = 0; n < N; n++) {                                                      \
    const REAL cur = isyn[n] + in[n];                                            \
    const REAL is = beta[n] * cur;                                               \
    const REAL u = alpha[n] * v[n] + is + bias[n] + (NOISE);                      \
    const REAL q = FLOOR_R(u / th[n]);                                           \
    REAL sp = u >= th[n] ? q : (REAL)0;                                          \
    sp = sp > maxs ? maxs : sp;                                                  \
    sp = sp < 0 ? 0 : sp;                                                        \
    Ct[n] = cur;                                                                 \
    isyn[n] = is;                                                                \
    Ut[n] = u;                                                                   \
    v[n] = u - sp * th[n];                                                       \
    s[n] = sp;                                                                   \
    St[n] = sp;                                                                  \
  }
  if (noise) { LIF_STEP1_BODY(noise[n]) }
  else { LIF_STEP1_BODY(0) }
#undef LIF_STEP1_BODY
}

/* r[0..K) = x[0..K) + sum over active m (ascending) of s[m] * W[m, :]: the
   active rows are added eight at a time, each a sequential stream through
   W (what the hardware prefetchers follow best: a gather over many rows at
   once runs out of streams when W is past L2), r kept in L1; when the eight
   values are all 1 (single spikes, the usual case) without the products
   (1 * w is w: the same bits). The actives are collected 64 at a time,
   four values skipped by one test when all are zero (lif_recur scanned
   them one by one: over half of its instructions). Every element sums its terms in the same order as a register
   accumulation would (x first, then m ascending), whichever branch runs.
   Issue 17: W1r's forward recurrent input, 14.9 M of its 127 M
   instructions per step with four rows and products each; then 10.7 M of
   107.7 M, over 40 % of it the scan of s (now eight compares at a time on
   AVX2, lif.c) and a fifth the rows left over after the eights (now a four,
   then single rows without the product when 1): 7.8 M. */
/* Do any of p[0..4) differ from zero (-0 counts as zero, NaN as nonzero,
   as `!= 0` has it)? Their bits without the signs, OR'd: one test. */
static inline int FN(any4)(const REAL *p) {
  uint64_t a[sizeof(REAL) / 2];
  memcpy(a, p, sizeof a);
  if (sizeof(REAL) == 4) return ((a[0] | a[1]) & 0x7fffffff7fffffffull) != 0;
  return ((a[0] | a[1] | a[sizeof a / sizeof a[0] > 2 ? 2 : 0] | a[sizeof a / sizeof a[0] > 3 ? 3 : 0]) &
          0x7fffffffffffffffull) != 0;
}

/* act[0..) = the next up to 64 (+3) active neurons (s[m] != 0: -0 not, NaN
   yes) from *pm on, ascending; *pm moved past them: four values skipped at
   a time when all zero, else kept branch-free (act[na] written, kept when
   s[m] != 0). The plain reference of lif.c's AVX2 scan (float32). */
static inline int64_t FN(lif_actives)(int64_t N, const REAL *restrict s, int64_t *pm, int32_t *act) {
  int64_t m = *pm, na;
  for (na = 0; m < N && na < 64;) {
    if (m + 4 <= N) {
      if (FN(any4)(s + m)) {
        act[na] = (int32_t)m; na += s[m] != 0;
        act[na] = (int32_t)(m + 1); na += s[m + 1] != 0;
        act[na] = (int32_t)(m + 2); na += s[m + 2] != 0;
        act[na] = (int32_t)(m + 3); na += s[m + 3] != 0;
      }
      m += 4;
    } else {
      act[na] = (int32_t)m; na += s[m] != 0;
      m++;
    }
  }
  *pm = m;
  return na;
}

/* fast: the actives by LIF_ACTIVES_FAST (lif.c, float32 on AVX2) */
LIF_CLONES static void FN(lif_recur)(int64_t N, int64_t K, const REAL *restrict x, const REAL *restrict s,
                                     const REAL *restrict W, REAL *restrict r, int fast) {
  const int64_t VW = (int64_t)(sizeof(FN(vec)) / sizeof(REAL));
  int32_t act[64 + 8];
  int64_t j, m = 0, na, e, g;
  (void)fast;
  for (j = 0; j < K; j++) r[j] = x[j];
  while (m < N) {
#ifdef LIF_ACTIVES_FAST
    if (fast) na = LIF_ACTIVES_FAST(N, s, &m, act);
    else
#endif
      na = FN(lif_actives)(N, s, &m, act);
    for (g = 0; g + 8 <= na; g += 8) {
      const int32_t *ag = act + g;
      const REAL *w0 = W + (int64_t)ag[0] * K, *w1 = W + (int64_t)ag[1] * K;
      const REAL *w2 = W + (int64_t)ag[2] * K, *w3 = W + (int64_t)ag[3] * K;
      const REAL *w4 = W + (int64_t)ag[4] * K, *w5 = W + (int64_t)ag[5] * K;
      const REAL *w6 = W + (int64_t)ag[6] * K, *w7 = W + (int64_t)ag[7] * K;
      const REAL v0 = s[ag[0]], v1 = s[ag[1]], v2 = s[ag[2]], v3 = s[ag[3]];
      const REAL v4 = s[ag[4]], v5 = s[ag[5]], v6 = s[ag[6]], v7 = s[ag[7]];
      if (v0 == 1 && v1 == 1 && v2 == 1 && v3 == 1 && v4 == 1 && v5 == 1 && v6 == 1 && v7 == 1) {
        for (j = 0; j + VW <= K; j += VW) {
          FN(vec) a = *(FN(vec) *)(r + j);
          a += *(const FN(vec) *)(w0 + j); a += *(const FN(vec) *)(w1 + j);
          a += *(const FN(vec) *)(w2 + j); a += *(const FN(vec) *)(w3 + j);
          a += *(const FN(vec) *)(w4 + j); a += *(const FN(vec) *)(w5 + j);
          a += *(const FN(vec) *)(w6 + j); a += *(const FN(vec) *)(w7 + j);
          *(FN(vec) *)(r + j) = a;
        }
        for (; j < K; j++) {
          REAL a = r[j];
          a += w0[j]; a += w1[j]; a += w2[j]; a += w3[j]; a += w4[j]; a += w5[j]; a += w6[j]; a += w7[j];
          r[j] = a;
        }
      } else {
        for (j = 0; j + VW <= K; j += VW) {
          FN(vec) a = *(FN(vec) *)(r + j);
          a += v0 * *(const FN(vec) *)(w0 + j); a += v1 * *(const FN(vec) *)(w1 + j);
          a += v2 * *(const FN(vec) *)(w2 + j); a += v3 * *(const FN(vec) *)(w3 + j);
          a += v4 * *(const FN(vec) *)(w4 + j); a += v5 * *(const FN(vec) *)(w5 + j);
          a += v6 * *(const FN(vec) *)(w6 + j); a += v7 * *(const FN(vec) *)(w7 + j);
          *(FN(vec) *)(r + j) = a;
        }
        for (; j < K; j++) {
          REAL a = r[j];
          a += v0 * w0[j]; a += v1 * w1[j]; a += v2 * w2[j]; a += v3 * w3[j];
          a += v4 * w4[j]; a += v5 * w5[j]; a += v6 * w6[j]; a += v7 * w7[j];
          r[j] = a;
        }
      }
    }
    if (g + 4 <= na) {                         /* four more rows, as the eight */
      const int32_t *ag = act + g;
      const REAL *w0 = W + (int64_t)ag[0] * K, *w1 = W + (int64_t)ag[1] * K;
      const REAL *w2 = W + (int64_t)ag[2] * K, *w3 = W + (int64_t)ag[3] * K;
      const REAL v0 = s[ag[0]], v1 = s[ag[1]], v2 = s[ag[2]], v3 = s[ag[3]];
      if (v0 == 1 && v1 == 1 && v2 == 1 && v3 == 1) {
        for (j = 0; j + VW <= K; j += VW) {
          FN(vec) a = *(FN(vec) *)(r + j);
          a += *(const FN(vec) *)(w0 + j); a += *(const FN(vec) *)(w1 + j);
          a += *(const FN(vec) *)(w2 + j); a += *(const FN(vec) *)(w3 + j);
          *(FN(vec) *)(r + j) = a;
        }
        for (; j < K; j++) {
          REAL a = r[j];
          a += w0[j]; a += w1[j]; a += w2[j]; a += w3[j];
          r[j] = a;
        }
      } else {
        for (j = 0; j + VW <= K; j += VW) {
          FN(vec) a = *(FN(vec) *)(r + j);
          a += v0 * *(const FN(vec) *)(w0 + j); a += v1 * *(const FN(vec) *)(w1 + j);
          a += v2 * *(const FN(vec) *)(w2 + j); a += v3 * *(const FN(vec) *)(w3 + j);
          *(FN(vec) *)(r + j) = a;
        }
        for (; j < K; j++) {
          REAL a = r[j];
          a += v0 * w0[j]; a += v1 * w1[j]; a += v2 * w2[j]; a += v3 * w3[j];
          r[j] = a;
        }
      }
      g += 4;
    }
    for (e = g; e < na; e++) {
      const REAL *w = W + (int64_t)act[e] * K, v = s[act[e]];
      if (v == 1) {                            /* 1 * w is w: the same bits */
        for (j = 0; j + VW <= K; j += VW) *(FN(vec) *)(r + j) += *(const FN(vec) *)(w + j);
        for (; j < K; j++) r[j] += w[j];
        continue;
      }
      for (j = 0; j + VW <= K; j += VW) *(FN(vec) *)(r + j) += v * *(const FN(vec) *)(w + j);
      for (; j < K; j++) r[j] += v * w[j];
    }
  }
}

/* lif_recur through the target lists (d->F per neuron, ascending columns
   tg, their weights wv = W[m, tg[m, f]] packed (N, F)): r[0..K) = x + sum
   over active m (ascending) of s[m] * wv[m, f] at column tg[m, f]. The
   dense lif_recur with every other entry of W zero adds the same nonzero
   terms to each element in the same order, so the sums are the same (the
   plain reference the spec compares against); the cost is F per active
   neuron instead of K (the targets of one neuron are distinct: no
   element is touched twice per neuron). */
LIF_CLONES static void FN(lif_recur_tg)(int64_t N, int64_t K, int64_t F, const REAL *restrict x,
                                        const REAL *restrict s, const REAL *restrict wv,
                                        const int32_t *restrict tg, REAL *restrict r) {
  int64_t j, m, f;
  for (j = 0; j < K; j++) r[j] = x[j];
  for (m = 0; m < N; m++) {
    const REAL v = s[m], *w = wv + m * F;
    const int32_t *t = tg + m * F;
    if (v == 0) continue;
    for (f = 0; f < F; f++) r[t[f]] += v * w[f];
  }
}

/* lif_recur_tg for block targets (d->tgblk: each row's list is runs of 8
   adjacent columns starting at multiples of 8): each run one vector
   operation; the same terms in the same order per element. */
LIF_CLONES static void FN(lif_recur_tgb)(int64_t N, int64_t K, int64_t F, const REAL *restrict x,
                                         const REAL *restrict s, const REAL *restrict wv,
                                         const int32_t *restrict tg, REAL *restrict r) {
  const int64_t VW = (int64_t)(sizeof(FN(vec)) / sizeof(REAL));   /* 8 or 4: a run is 1 or 2 vectors */
  int64_t j, m, f;
  for (j = 0; j < K; j++) r[j] = x[j];
  for (m = 0; m < N; m++) {
    const REAL v = s[m], *w = wv + m * F;
    const int32_t *t = tg + m * F;
    if (v == 0) continue;
    for (f = 0; f < F; f += 8) {
      *(FN(vec) *)(r + t[f]) += v * *(const FN(vec) *)(w + f);
      if (VW < 8) *(FN(vec) *)(r + t[f] + VW) += v * *(const FN(vec) *)(w + f + VW);
    }
  }
}

/* dot_tg for block targets: lane i sums the i-th column of every run (a
   vector per run: 8 lanes in float32, two vectors of 4 in float64), then
   the lanes in order */
static inline REAL FN(dot_tgb)(int64_t F, const REAL *restrict w, const int32_t *restrict t,
                               const REAL *restrict dc) {
  const int64_t VW = (int64_t)(sizeof(FN(vec)) / sizeof(REAL));
  FN(vec) a0 = {0}, a1 = {0};
  REAL acc = 0;
  int64_t f, i;
  for (f = 0; f < F; f += 8) {
    a0 += *(const FN(vec) *)(w + f) * *(const FN(vec) *)(dc + t[f]);
    if (VW < 8) a1 += *(const FN(vec) *)(w + f + VW) * *(const FN(vec) *)(dc + t[f] + VW);
  }
  for (i = 0; i < VW; i++) acc += a0[i];
  if (VW < 8) for (i = 0; i < VW; i++) acc += a1[i];
  return acc;
}

/* sum_f w[f] dc[t[f]]: one vector of running sums (lane l takes f = l mod
   VW, the dc values gathered lane by lane), then its lanes in order and the
   remainder: a fixed order on any machine with the same vector width. */
static inline REAL FN(dot_tg)(int64_t F, const REAL *restrict w, const int32_t *restrict t,
                              const REAL *restrict dc) {
  const int64_t VW = (int64_t)(sizeof(FN(vec)) / sizeof(REAL));
  FN(vec) a = {0};
  REAL acc = 0;
  int64_t f = 0, i;
  for (; f + VW <= F; f += VW) {
    FN(vec) g;
    for (i = 0; i < VW; i++) g[i] = dc[t[f + i]];
    a += *(const FN(vec) *)(w + f) * g;
  }
  for (i = 0; i < VW; i++) acc += a[i];
  for (; f < F; f++) acc += w[f] * dc[t[f]];
  return acc;
}

/* dL/ds_{t-1} through the target lists: gs[m] = sum_f wv[m, f] dc[tg[m, f]]
   where the surrogate at t-1 is nonzero (lif_rec_back's test, window >= 0),
   else 0; window < 0: every m (the plain backward). */
LIF_CLONES static void FN(lif_rec_back_tg)(int64_t N, int64_t F, int blk, REAL window, const REAL *restrict wv,
                                           const int32_t *restrict tg, const REAL *restrict th,
                                           const REAL *restrict uprev, const REAL *restrict dc,
                                           REAL *restrict gs) {
  int64_t m;
  for (m = 0; m < N; m++) {
    if (window >= 0 && !(uprev[m] >= th[m] - window)) { gs[m] = 0; continue; }
    gs[m] = blk ? FN(dot_tgb)(F, wv + m * F, tg + m * F, dc) : FN(dot_tg)(F, wv + m * F, tg + m * F, dc);
  }
}

/* dL/dwv (N, F), written whole: at each target (m, f) the sum over (b, t)
   ascending of s_{b,t-1}[m] dX_{b,t}[tg[m, f]], s_{b,-1} = S0[b]. Cost: F
   per spike event (a gather), not a dense product; threads split the
   neurons (each element summed in the same order on any thread count). */
LIF_CLONES static void FN(lif_grad_w_tg)(int threads, int blk, int64_t B, int64_t T, int64_t N, int64_t K, int64_t F,
                              const REAL *S, const REAL *S0, const REAL *dX, const int32_t *tg, REAL *dwv) {
  const int64_t nth = threads > 1 && N >= 64 ? threads : 1;
  int64_t q;
#pragma omp parallel for schedule(static) num_threads(nth) if (nth > 1)
  for (q = 0; q < nth; q++) {
    const int64_t m0 = N * q / nth, m1 = N * (q + 1) / nth;
    int64_t b, t, m, f;
    for (f = m0 * F; f < m1 * F; f++) dwv[f] = 0;
    for (b = 0; b < B; b++)
      for (t = 0; t < T; t++) {
        const REAL *sp = t ? S + (b * T + t - 1) * N : S0 + b * N;
        const REAL *restrict dx = dX + (b * T + t) * K;
        for (m = m0; m < m1; m++) {
          const REAL v = sp[m];
          const int32_t *restrict c = tg + m * F;
          REAL *restrict w = dwv + m * F;
          if (v == 0) continue;
          if (blk)
            for (f = 0; f < F; f += 8) {
              const int64_t VW = (int64_t)(sizeof(FN(vec)) / sizeof(REAL));
              *(FN(vec) *)(w + f) += v * *(const FN(vec) *)(dx + c[f]);
              if (VW < 8) *(FN(vec) *)(w + f + VW) += v * *(const FN(vec) *)(dx + c[f] + VW);
            }
          else
            for (f = 0; f < F; f++) w[f] += v * dx[c[f]];
        }
      }
  }
}

/* dL/dw_rec for dense w_rec and sparse spikes, without copying the shifted
   spikes s_{b,t-1} and indexing them through sparse.c (the copy, the index,
   its transpose: 6 M of W1r's 97 M instructions per step, and the gathers
   with products and four vectors of columns per pass another 10 M):
   lif_sprev_scan lists the events (s_{b,t-1}[m] != 0, NaN included, as
   sparse.c's index has it; s_{b,-1} = S0[b]) row by row, b*T + t
   ascending: their neurons em, the rows' starts rowp (B*T + 1), each
   neuron's count cnt (N, zeroed by it), and whether every value is 1;
   -1 when there are more than cap. lif_sprev_bucket lists them per
   neuron (rp, N + 1), rows ascending, as b*T + t (and their values, val
   non-NULL); lif_grad_w_ev gathers: dW[m, :] = sum over m's events of
   v dX[b*T + t, :], each element summed from 0 in event order, as
   sparse.c's gather_rows (and its products by 1 left out, as
   gather_rows1) sums it: the same bits. Eight vectors of columns per
   pass, one event index read per 64 floats; threads split the neurons
   (the same order on any thread count). lif_sprev_scan is the plain
   reference of lif.c's AVX2 scan (float32, eight compares at a time). */
static inline const REAL *FN(sprev_row)(int64_t b, int64_t t, int64_t T, int64_t N, const REAL *S,
                                       const REAL *S0) {
  return t ? S + (b * T + t - 1) * N : S0 + b * N;
}

static int64_t FN(lif_sprev_scan)(int64_t B, int64_t T, int64_t N, const REAL *S, const REAL *S0, int64_t cap,
                                  int32_t *em, int64_t *rowp, int64_t *cnt, int *ones) {
  int64_t b, t, m, nnz = 0;
  int one = 1;
  for (m = 0; m < N; m++) cnt[m] = 0;
  for (b = 0; b < B; b++)
    for (t = 0; t < T; t++) {
      const REAL *sp = FN(sprev_row)(b, t, T, N, S, S0);
      rowp[b * T + t] = nnz;
      for (m = 0; m < N; m++)
        if (sp[m] != 0) {
          if (nnz == cap) return -1;
          em[nnz++] = (int32_t)m;
          cnt[m]++;
          one &= sp[m] == 1;
        }
    }
  rowp[B * T] = nnz;
  *ones = one;
  return nnz;
}

/* rp (N + 1) from cnt, then each neuron's events; cnt reused as positions */
static void FN(lif_sprev_bucket)(int64_t B, int64_t T, int64_t N, const REAL *S, const REAL *S0,
                                 const int32_t *em, const int64_t *rowp, int64_t *cnt, int64_t *rp,
                                 int32_t *ev, REAL *val) {
  int64_t bt, m, e, run = 0;
  for (m = 0; m < N; m++) { rp[m] = run; run += cnt[m]; cnt[m] = rp[m]; }
  rp[N] = run;
  for (bt = 0; bt < B * T; bt++) {
    const REAL *sp = FN(sprev_row)(bt / T, bt % T, T, N, S, S0);
    for (e = rowp[bt]; e < rowp[bt + 1]; e++) {
      const int64_t q = cnt[em[e]]++;
      ev[q] = (int32_t)bt;
      if (val) val[q] = sp[em[e]];
    }
  }
}

/* The events of a row index (R rows: starts rowp (R + 1), columns idx,
   values val or NULL), listed per column (L of them): rp (L + 1) the
   starts, ev the rows ascending, val2 their values (when val); pos (L)
   scratch. The transpose sparse.c's lp_sp_gemm_tn_index makes before its
   gathers, for lif_grad_w_ev (dL/dw_in of the fused projection). */
static void FN(lif_index_bucket)(int64_t R, int64_t L, const int64_t *rowp, const int32_t *idx, const REAL *val,
                                 int64_t *pos, int64_t *rp, int32_t *ev, REAL *val2) {
  int64_t r, e, c, run = 0;
  for (c = 0; c < L; c++) pos[c] = 0;
  for (e = 0; e < rowp[R]; e++) pos[idx[e]]++;
  for (c = 0; c < L; c++) { rp[c] = run; run += pos[c]; pos[c] = rp[c]; }
  rp[L] = run;
  for (r = 0; r < R; r++)
    for (e = rowp[r]; e < rowp[r + 1]; e++) {
      const int64_t q = pos[idx[e]]++;
      ev[q] = (int32_t)r;
      if (val) val2[q] = val[e];
    }
}

/* dW rows m0..m1 (K columns each, written whole) from the events; val NULL: every value 1 */
LIF_CLONES static void FN(lif_grad_w_rows)(int64_t m0, int64_t m1, int64_t K, const int64_t *restrict rp,
                                           const int32_t *restrict ev, const REAL *restrict val,
                                           const REAL *restrict dX, REAL *restrict dW) {
  const int64_t VW = (int64_t)(sizeof(FN(vec)) / sizeof(REAL));
  int64_t m;
  for (m = m0; m < m1; m++) {
    REAL *c = dW + m * K;
    const int64_t e0 = rp[m], e1 = rp[m + 1];
    int64_t e, j = 0;
    if (K >= VW && K < 8 * VW) {           /* narrow: every vector in one pass */
      FN(gather_narrow)(K, e0, e1, ev, val, dX, c);
      continue;
    }
    if (!val) j = FN(gather16_ones)(K, j, e0, e1, ev, dX, c);   /* ones: sixteen accumulators */
    for (; j + 8 * VW <= K; j += 8 * VW) {
      FN(vec) a0 = {0}, a1 = {0}, a2 = {0}, a3 = {0}, a4 = {0}, a5 = {0}, a6 = {0}, a7 = {0};
      if (val)
        for (e = e0; e < e1;) {
          /* the events in order, runs of values of exactly 1 added without
             the products (1 * x is x: the same bits; an add with its load
             folded instead of a load, a multiply and an add) */
          for (; e < e1 && val[e] == 1; e++) {
            const REAL *x = dX + (int64_t)ev[e] * K + j;
            a0 += *(const FN(vec) *)x; a1 += *(const FN(vec) *)(x + VW);
            a2 += *(const FN(vec) *)(x + 2 * VW); a3 += *(const FN(vec) *)(x + 3 * VW);
            a4 += *(const FN(vec) *)(x + 4 * VW); a5 += *(const FN(vec) *)(x + 5 * VW);
            a6 += *(const FN(vec) *)(x + 6 * VW); a7 += *(const FN(vec) *)(x + 7 * VW);
          }
          for (; e < e1 && val[e] != 1; e++) {
            const REAL *x = dX + (int64_t)ev[e] * K + j, v = val[e];
            a0 += v * *(const FN(vec) *)x; a1 += v * *(const FN(vec) *)(x + VW);
            a2 += v * *(const FN(vec) *)(x + 2 * VW); a3 += v * *(const FN(vec) *)(x + 3 * VW);
            a4 += v * *(const FN(vec) *)(x + 4 * VW); a5 += v * *(const FN(vec) *)(x + 5 * VW);
            a6 += v * *(const FN(vec) *)(x + 6 * VW); a7 += v * *(const FN(vec) *)(x + 7 * VW);
          }
        }
      else
        for (e = e0; e < e1; e++) {
          const REAL *x = dX + (int64_t)ev[e] * K + j;
          a0 += *(const FN(vec) *)x; a1 += *(const FN(vec) *)(x + VW);
          a2 += *(const FN(vec) *)(x + 2 * VW); a3 += *(const FN(vec) *)(x + 3 * VW);
          a4 += *(const FN(vec) *)(x + 4 * VW); a5 += *(const FN(vec) *)(x + 5 * VW);
          a6 += *(const FN(vec) *)(x + 6 * VW); a7 += *(const FN(vec) *)(x + 7 * VW);
        }
      *(FN(vec) *)(c + j) = a0; *(FN(vec) *)(c + j + VW) = a1;
      *(FN(vec) *)(c + j + 2 * VW) = a2; *(FN(vec) *)(c + j + 3 * VW) = a3;
      *(FN(vec) *)(c + j + 4 * VW) = a4; *(FN(vec) *)(c + j + 5 * VW) = a5;
      *(FN(vec) *)(c + j + 6 * VW) = a6; *(FN(vec) *)(c + j + 7 * VW) = a7;
    }
    for (; j < K && K >= VW; j += VW) {   /* the last columns: one vector ending at K */
      FN(vec) a0 = {0};
      if (j + VW > K) j = K - VW;
      if (val) for (e = e0; e < e1; e++) a0 += val[e] * *(const FN(vec) *)(dX + (int64_t)ev[e] * K + j);
      else for (e = e0; e < e1; e++) a0 += *(const FN(vec) *)(dX + (int64_t)ev[e] * K + j);
      *(FN(vec) *)(c + j) = a0;
    }
    for (; j < K; j++) {
      REAL a0 = 0;
      if (val) for (e = e0; e < e1; e++) a0 += val[e] * dX[(int64_t)ev[e] * K + j];
      else for (e = e0; e < e1; e++) a0 += dX[(int64_t)ev[e] * K + j];
      c[j] = a0;
    }
  }
}

static void FN(lif_grad_w_ev)(int threads, int64_t N, int64_t K, const int64_t *rp, const int32_t *ev,
                              const REAL *val, const REAL *dX, REAL *dW) {
  const int64_t nth = threads > 1 && N > 1 ? (N < 4 * threads ? N : 4 * threads) : 1;
  int64_t q;
#pragma omp parallel for schedule(static) num_threads(threads) if (nth > 1)
  for (q = 0; q < nth; q++) FN(lif_grad_w_rows)(N * q / nth, N * (q + 1) / nth, K, rp, ev, val, dX, dW);
}

/* The spikes' row the fast forward writes at row bt (LIF_PF_STEPS steps
   ahead of the one it computes), asked for ahead of its stores: S is a
   fresh tensor written once, a row per step and batch row (1 KB for W1),
   and the stores waited on their lines (perf, cpu-clock: the store of S
   was where lif_step1_avx2's time went). Issue 17, W1 user forward,
   process CPU time, 1 thread, forwards alternating with and without in
   one process (paired medians of 150, both orders), on top of the index
   scan's prefetch (sparse.c): x0.90-0.94 (x0.91-0.92 with that 8192
   floats ahead). The same for the saved U and C rows of a training step:
   x0.98-1.00 on W1r, x1.00 on the W1 user step: left out. */
#define LIF_PF_STEPS 4
static inline void FN(lif_fpf)(int64_t N, int64_t bt, const FN(lif_bufs) *p) {
  FN(prefetchw_row)(p->S + bt * N, N);
}

static int FN(lif_fast_ok)(const lif_dims *d, const FN(lif_bufs) *p) {
  return d->k == 1 && !d->membrane_only && !p->iahp && !p->Rec;
}

/* Forward, all T steps; OpenMP over batch rows. *stop set on interrupt. */
static void FN(lif_forward)(lp_ctx *ctx, const lif_dims *d, const FN(lif_bufs) *p, int *stop) {
  const int64_t B = d->B, T = d->T, N = d->N, k = d->k, K = N * d->k;
  const REAL maxs = (REAL)d->maxs;
  int64_t b;
#ifdef LIF_ACTIVES_FAST
  const int fast_act = LIF_ACTIVES_FAST_OK();
#else
  const int fast_act = 0;
#endif
#ifdef LIF_STEP1_FAST
  const int fast_step = LIF_STEP1_FAST_OK() && !p->noise;
#endif
  if (FN(lif_fast_ok)(d, p)) {
#pragma omp parallel for schedule(static) num_threads(d->threads) if (d->threads > 1 && B > 1)
    for (b = 0; b < B; b++) {
      REAL *v = p->v + b * N, *isyn = p->isyn + b * N, *s = p->s + b * N;
      REAL *r = p->r + b * 4 * N, *uscr = r + N, *cscr = r + 2 * N, *prow = r + 3 * N;  /* 4 rows per batch row */
      int64_t t;
      for (t = 0; t < T; t++) {
        const int64_t bt = b * T + t;
        const REAL *in;
        if (*stop || lp_ctx_interrupted(ctx)) { *stop = 1; break; }
        if (p->xix) { FN(lif_inproj_any)(N, p->xrp[bt], p->xrp[bt + 1], p->xix, p->xval, p->win, p->bin, prow); in = prow; }
        else in = p->x + bt * N;
        if (p->W && p->tg && d->tgblk) { FN(lif_recur_tgb)(N, N, d->F, in, s, p->wv, p->tg, r); in = r; }
        else if (p->W && p->tg) { FN(lif_recur_tg)(N, N, d->F, in, s, p->wv, p->tg, r); in = r; }
        else if (p->W) { FN(lif_recur)(N, N, in, s, p->W, r, fast_act); in = r; }
        if (t + LIF_PF_STEPS < T) FN(lif_fpf)(N, bt + LIF_PF_STEPS, p);
#ifdef LIF_STEP1_FAST
        if (fast_step)   /* no u, c rows without autograd; the running spikes for w_rec and after the last step */
          LIF_STEP1_FAST(N, in, p->alpha, p->beta, p->bias, p->th, maxs, v, isyn, p->W || t == T - 1 ? s : NULL,
                         p->S + bt * N, p->U ? p->U + bt * N : NULL, p->C ? p->C + bt * N : NULL);
        else
#endif
          FN(lif_step1)(N, in, p->alpha, p->beta, p->bias, p->th, p->noise ? p->noise + bt * N : NULL, maxs,
                        v, isyn, s, p->S + bt * N, p->U ? p->U + bt * N : uscr, p->C ? p->C + bt * N : cscr);
        if (p->V) memcpy(p->V + bt * N, v, (size_t)N * sizeof *v);
        if (p->Isr) memcpy(p->Isr + bt * N, isyn, (size_t)N * sizeof *isyn);
      }
    }
    return;
  }
#pragma omp parallel for schedule(static) num_threads(d->threads) if (d->threads > 1 && B > 1)
  for (b = 0; b < B; b++) {
    REAL *v = p->v + b * N, *isyn = p->isyn + b * N * k, *s = p->s + b * N;
    REAL *iahp = p->iahp ? p->iahp + b * N : NULL, *r = p->W ? p->r + b * 4 * K : NULL;
    REAL *prow = p->r + b * 4 * K + K;
    int64_t t, n, j, m;
    for (t = 0; t < T; t++) {
      const int64_t bt = b * T + t;
      const REAL *xt;
      if (*stop || lp_ctx_interrupted(ctx)) { *stop = 1; break; }
      if (p->xix) { FN(lif_inproj_any)(K, p->xrp[bt], p->xrp[bt + 1], p->xix, p->xval, p->win, p->bin, prow); xt = prow; }
      else xt = p->x + bt * K;
      if (p->W && p->tg) {                      /* through the target lists */
        for (j = 0; j < K; j++) r[j] = 0;
        for (m = 0; m < N; m++) {
          const REAL sm = s[m], *wm = p->wv + m * d->F;
          const int32_t *tm = p->tg + m * d->F;
          int64_t f;
          if (sm == 0) continue;
          for (f = 0; f < d->F; f++) r[tm[f]] += sm * wm[f];
        }
      } else if (p->W) {                        /* r = s_prev . W, gathering rows of active neurons */
        for (j = 0; j < K; j++) r[j] = 0;
        for (m = 0; m < N; m++) {
          const REAL sm = s[m], *wm = p->W + m * K;
          if (sm == 0) continue;
          for (j = 0; j < K; j++) r[j] += sm * wm[j];
        }
      }
      for (n = 0; n < N; n++) {
        REAL sum = 0, u, sp;
        for (j = 0; j < k; j++) {
          const int64_t c = n * k + j;
          REAL cur = (d->membrane_only ? 0 : isyn[c]) + xt[c];
          if (r) cur += r[c];
          if (p->C) p->C[bt * K + c] = cur;
          isyn[c] = p->beta[c] * cur;
          sum += isyn[c];
          if (p->Isr) p->Isr[bt * K + c] = isyn[c];
          if (p->Rec) p->Rec[bt * K + c] = r ? r[c] : 0;
        }
        if (iahp) {
          REAL a = iahp[n] + p->wahp[n] * s[n];
          if (p->A) p->A[bt * N + n] = a;
          iahp[n] = p->bahp[n] * a;
          sum += iahp[n];
          if (p->Iar) p->Iar[bt * N + n] = iahp[n];
        }
        u = p->alpha[n] * v[n] + sum + p->bias[n];
        if (p->noise) u += p->noise[bt * N + n];
        if (p->U) p->U[bt * N + n] = u;
        sp = FN(spike_count)(u, p->th[n], maxs);
        v[n] = u - sp * p->th[n];
        s[n] = sp;
        p->S[bt * N + n] = sp;
        if (p->V) p->V[bt * N + n] = v[n];
      }
    }
  }
}

typedef struct FN(lif_grads) {
  const REAL *gS, *gV;            /* (B, T, N) gradients of spikes, vmem; or NULL */
  const REAL *V0, *S0;            /* (B, N) initial vmem, spikes             */
  REAL *dX;                       /* (B, T, K): dL/dx = dL/dc = dL/d(irec)   */
  /* per batch row partial sums, reduced by the caller */
  REAL *dalpha, *dbeta, *dbias, *dth, *dwahp, *dbahp;   /* (B, N), (B, N, k), (B, N) ... */
  /* scratch (B, N), (B, K), (B, N), (B, N), (B, N) */
  REAL *gv, *gi, *gs, *ga, *du;
} FN(lif_grads);

/* BPTT backward of lif_forward (p: the forward's parameters and saved S, V,
   U, C, A). Accumulates nothing outside g. Walks t = T-1 .. 0 carrying the
   adjoints of v, isyn, s and iahp into the previous step:
     dv_{t-1}    = alpha du_t            dc_t = beta (du_t + dc_{t+1})
     ds_{t-1}    = W . dc_t + w_ahp da_t  da_t = beta_ahp (du_t + da_{t+1})
   with du_t = gv_t + gs_t s'(u_t),  gv_t = dL/dv_t + dv_t (carried),
        gs_t = dL/ds_t + ds_t (carried) - th gv_t  (through the reset).      */
/* the spike count of membrane u as lif_step1 computes it (the same operations, so the same bits) */
static inline REAL FN(spike_step1)(REAL u, REAL th, REAL maxs) {
  const REAL q = FLOOR_R(u / th);
  REAL sp = u >= th ? q : (REAL)0;
  sp = sp > maxs ? maxs : sp;
  return sp < 0 ? 0 : sp;
}

/* the plain reference of lif.c's AVX2 lif_bstep1_avx2_f32 (float32: the same bits) */
LIF_CLONES static void FN(lif_bstep1)(int64_t N, REAL window, REAL maxs, const REAL *restrict alpha,
                                      const REAL *restrict beta, const REAL *restrict th,
                                      const REAL *restrict ith, const REAL *restrict ith2,
                                      const REAL *restrict U, const REAL *restrict C,
                                      const REAL *restrict Uprev, const REAL *restrict V0, const REAL *restrict gS,
                                      const REAL *restrict gV, REAL *restrict gv, REAL *restrict gs,
                                      REAL *restrict gi, REAL *restrict dc, REAL *restrict dalpha,
                                      REAL *restrict dbeta, REAL *restrict dbias, REAL *restrict dth) {
  int64_t n;
  /* s_t and s_{t-1} are recomputed from u as the forward's step computed
     them, and v_{t-1} = u_{t-1} - s_{t-1} th as its reset did (the row of
     u_{t-1} is read again at the next step anyway: two streams fewer than
     reading S and V); 1/th and 1/th^2 come
     precomputed (ith, ith2): no division in the loop. The same loop body
     for each case of the optional gradients, so that every version is a
     straight vector loop. */
#define LIF_BSTEP1_BODY(GS, GV, VPREV)                                            \
  for (n = 0; n < N; n++) {                                                      \
    const REAL thn = th[n], u = U[n];                                            \
    const REAL gvn = gv[n] + (GV);                                               \
    const REAL gsn = gs[n] + (GS) - thn * gvn;                                   \
    const int on = u >= thn - window;                                            \
    const REAL su = on ? ith[n] : 0, sth = on ? -u * ith2[n] : 0;                \
    const REAL d_u = gvn + gsn * su, di = d_u + gi[n], dcn = beta[n] * di;       \
    dth[n] += -gvn * FN(spike_step1)(u, thn, maxs) + gsn * sth;                                           \
    dalpha[n] += d_u * (VPREV);                                                  \
    dbias[n] += d_u;                                                             \
    gv[n] = alpha[n] * d_u;                                                      \
    dbeta[n] += di * C[n];                                                       \
    dc[n] = dcn;                                                                 \
    gi[n] = dcn;                                                                 \
  }
#define LIF_BSTEP1_CASES(VPREV)                                                   \
  if (gS && gV) { LIF_BSTEP1_BODY(gS[n], gV[n], VPREV) }                         \
  else if (gS) { LIF_BSTEP1_BODY(gS[n], 0, VPREV) }                              \
  else if (gV) { LIF_BSTEP1_BODY(0, gV[n], VPREV) }                              \
  else { LIF_BSTEP1_BODY(0, 0, VPREV) }
  if (Uprev) { LIF_BSTEP1_CASES(Uprev[n] - FN(spike_step1)(Uprev[n], thn, maxs) * thn) }
  else { LIF_BSTEP1_CASES(V0[n]) }
#undef LIF_BSTEP1_CASES
#undef LIF_BSTEP1_BODY
}

/* gs[m] = W[m, :] . dc for the neurons m whose membrane u_prev[m] (step
   t-1) is within the StepPWL window of threshold, else 0: dL/ds_{t-1}
   through the recurrent weights enters the backward only multiplied by
   the surrogate ds/du_{t-1} (zero outside the window), so only those dot
   products are needed (a quarter of them at W1r's activity). Each a row of
   W against dc, in a fixed order: two vector accumulators, then their
   lanes in order. */
LIF_CLONES static void FN(lif_rec_back)(int64_t N, REAL window, const REAL *restrict W,
                                        const REAL *restrict th, const REAL *restrict uprev,
                                        const REAL *restrict dc, REAL *restrict gs) {
  const int64_t VW = (int64_t)(sizeof(FN(vec)) / sizeof(REAL));
  int64_t m, j, i;
  for (m = 0; m < N; m++) {
    const REAL *w = W + m * N;
    FN(vec) a0 = {0}, a1 = {0}, b0 = {0}, b1 = {0};   /* lanes of two 64-byte accumulators: (a0 b0), (a1 b1) */
    REAL acc = 0;
    if (!(uprev[m] >= th[m] - window)) { gs[m] = 0; continue; }
    for (j = 0; j + 4 * VW <= N; j += 4 * VW) {
      a0 += *(const FN(vec) *)(w + j) * *(const FN(vec) *)(dc + j);
      b0 += *(const FN(vec) *)(w + j + VW) * *(const FN(vec) *)(dc + j + VW);
      a1 += *(const FN(vec) *)(w + j + 2 * VW) * *(const FN(vec) *)(dc + j + 2 * VW);
      b1 += *(const FN(vec) *)(w + j + 3 * VW) * *(const FN(vec) *)(dc + j + 3 * VW);
    }
    a0 += a1;
    b0 += b1;
    for (i = 0; i < VW; i++) acc += a0[i];
    for (i = 0; i < VW; i++) acc += b0[i];
    for (; j < N; j++) acc += w[j] * dc[j];
    gs[m] = acc;
  }
}

/* The rows the backward step of row bt - 1 (step tt - 1 of its batch row)
   reads and writes that lif_bstep1 at bt does not touch: C_{t-1}, U_{t-2},
   dX_{t-1}. The steps run T-1 .. 0, for 32 batch rows at once with w_rec:
   96 streams backwards, past what the hardware prefetchers follow (the
   loads of U and C were where lif_bstep1's time went: perf, cpu-clock).
   Issue 17, W1r step, process CPU time, 1 thread, steps alternating with
   and without in one process (paired medians of 100): x0.980, x0.985. */
static inline void FN(lif_bpf)(int64_t N, int64_t tt, int64_t bt, const FN(lif_bufs) *p, const FN(lif_grads) *g) {
  FN(prefetch_row)(p->C + (bt - 1) * N, N);
  if (tt >= 2) FN(prefetch_row)(p->U + (bt - 2) * N, N);
  FN(prefetchw_row)(g->dX + (bt - 1) * N, N);
}

/* Backward of the fast forward with the StepPWL surrogate. Without w_rec the
   batch rows are independent through time: one parallel region over rows,
   each walking t = T-1 .. 0 (no barrier per step). With w_rec the same,
   blocks of rows per thread, dL/ds_{t-1} = dc_t . W^T per step (below). */
static void FN(lif_backward_fast)(lp_ctx *ctx, const lif_dims *d, const FN(lif_bufs) *p,
                                  const FN(lif_grads) *g, int *stop) {
  const int64_t B = d->B, T = d->T, N = d->N;
  const REAL window = (REAL)d->window, maxs = (REAL)d->maxs;
  REAL *ith = g->du, *ith2 = g->ga;     /* (N) each, in scratch the fast path has no other use for */
#ifdef LIF_BSTEP1_FAST           /* the float32 AVX2 step where the CPU has it (lif.c) */
  void (*const BSTEP1)(int64_t, REAL, REAL, const REAL *, const REAL *, const REAL *, const REAL *, const REAL *,
                       const REAL *, const REAL *, const REAL *, const REAL *, const REAL *, const REAL *, REAL *,
                       REAL *, REAL *, REAL *, REAL *, REAL *, REAL *, REAL *) =
      LIF_BSTEP1_FAST_OK() ? LIF_BSTEP1_FAST : FN(lif_bstep1);
#else
#define BSTEP1 FN(lif_bstep1)
#endif
  int64_t b;
  for (b = 0; b < B * N; b++) { g->gv[b] = 0; g->gs[b] = 0; g->gi[b] = 0; }
  for (b = 0; b < N; b++) { ith[b] = (REAL)1 / p->th[b]; ith2[b] = (REAL)1 / (p->th[b] * p->th[b]); }
  if (!p->W) {
#pragma omp parallel for schedule(static) num_threads(d->threads) if (d->threads > 1 && B > 1)
    for (b = 0; b < B; b++) {
      int64_t tt;
      for (tt = T - 1; tt >= 0; tt--) {
        const int64_t bt = b * T + tt;
        if (*stop || ((tt & 15) == 0 && lp_ctx_interrupted(ctx))) { *stop = 1; break; }
        if (tt >= 1) FN(lif_bpf)(N, tt, bt, p, g);
        BSTEP1(N, window, maxs, p->alpha, p->beta, p->th, ith, ith2, p->U + bt * N,
                       p->C + bt * N, tt ? p->U + (bt - 1) * N : NULL,
                       g->V0 + b * N,
                       g->gS ? g->gS + bt * N : NULL, g->gV ? g->gV + bt * N : NULL,
                       g->gv + b * N, g->gs + b * N, g->gi + b * N, g->dX + bt * N,
                       g->dalpha + b * N, g->dbeta + b * N, g->dbias + b * N, g->dth + b * N);
      }
    }
    return;
  }
  /* w_rec: each batch row's adjoints depend only on that row, so the rows
     are split between threads once and each thread walks t = T-1 .. 0 over
     its rows (no barrier or BLAS call per step); dL/ds_{t-1} = W . dc_t
     only where the surrogate at t-1 is nonzero (lif_rec_back), after the
     step's lif_bstep1 of every row of the block (so that the float32 FMA
     kernel reads each row of W once for all the block's rows that need it).
     Each element summed in the same order on any thread count. */
  {
    const int64_t nth = d->threads > 1 && B > 1 ? (B < d->threads ? B : d->threads) : 1;
    int64_t q;
#ifdef LIF_REC_BACK_ROWS_FAST  /* the float32 dot products with FMA where the CPU has it (lif.c) */
    const int fast_dot = LIF_REC_BACK_FAST_OK();
#endif
#pragma omp parallel for schedule(static) num_threads(nth) if (nth > 1)
    for (q = 0; q < nth; q++) {
      const int64_t b0 = B * q / nth, b1 = B * (q + 1) / nth;
      int64_t tt, bb;
      for (tt = T - 1; tt >= 0; tt--) {
        if (*stop || ((tt & 15) == 0 && lp_ctx_interrupted(ctx))) { *stop = 1; break; }
        for (bb = b0; bb < b1; bb++) {
          const int64_t bt = bb * T + tt;
          if (tt >= 1) FN(lif_bpf)(N, tt, bt, p, g);
          BSTEP1(N, window, maxs, p->alpha, p->beta, p->th, ith, ith2, p->U + bt * N,
                         p->C + bt * N, tt ? p->U + (bt - 1) * N : NULL,
                         g->V0 + bb * N,
                         g->gS ? g->gS + bt * N : NULL, g->gV ? g->gV + bt * N : NULL,
                         g->gv + bb * N, g->gs + bb * N, g->gi + bb * N, g->dX + bt * N,
                         g->dalpha + bb * N, g->dbeta + bb * N, g->dbias + bb * N, g->dth + bb * N);
        }
        if (!tt) continue;
        /* dL/ds_{t-1} of every row of the block, from the dc_t just written */
        if (p->tg) {
          for (bb = b0; bb < b1; bb++)
            FN(lif_rec_back_tg)(N, d->F, d->tgblk, window, p->wv, p->tg, p->th, p->U + (bb * T + tt - 1) * N,
                                g->dX + (bb * T + tt) * N, g->gs + bb * N);
          continue;
        }
#ifdef LIF_REC_BACK_ROWS_FAST
        if (fast_dot) {           /* all the block's rows at once, 64 at a time: W read once per step */
          int64_t c0;
          for (c0 = b0; c0 < b1; c0 += 64) {
            const int64_t nc = b1 - c0 < 64 ? b1 - c0 : 64;
            const REAL *up[64], *dcr[64];
            REAL *gsr[64];
            int64_t i;
            for (i = 0; i < nc; i++) {
              up[i] = p->U + ((c0 + i) * T + tt - 1) * N;
              dcr[i] = g->dX + ((c0 + i) * T + tt) * N;
              gsr[i] = g->gs + (c0 + i) * N;
            }
            LIF_REC_BACK_ROWS_FAST(nc, N, window, p->W, p->th, up, dcr, gsr);
          }
          continue;
        }
#endif
        for (bb = b0; bb < b1; bb++)
          FN(lif_rec_back)(N, window, p->W, p->th, p->U + (bb * T + tt - 1) * N, g->dX + (bb * T + tt) * N,
                           g->gs + bb * N);
      }
    }
  }
}

#ifndef LIF_BSTEP1_FAST
#undef BSTEP1
#endif

static void FN(lif_backward)(lp_ctx *ctx, const lif_dims *d, const FN(lif_bufs) *p,
                             const FN(lif_grads) *g, int *stop) {
  const int64_t B = d->B, T = d->T, N = d->N, k = d->k, K = N * d->k;
  int64_t b;
  if (d->k == 1 && !d->membrane_only && !p->wahp && d->sg == LP_SG_STEP_PWL && B * N > 0) {
    FN(lif_backward_fast)(ctx, d, p, g, stop);
    return;
  }
#pragma omp parallel for schedule(static) num_threads(d->threads) if (d->threads > 1 && B > 1)
  for (b = 0; b < B; b++) {
    REAL *gv = g->gv + b * N, *gi = g->gi + b * K, *gs = g->gs + b * N, *ga = g->ga + b * N;
    REAL *du = g->du + b * N;
    REAL *dalpha = g->dalpha + b * N, *dbeta = g->dbeta + b * K, *dbias = g->dbias + b * N;
    REAL *dth = g->dth + b * N;
    REAL *dwahp = g->dwahp ? g->dwahp + b * N : NULL, *dbahp = g->dbahp ? g->dbahp + b * N : NULL;
    int64_t t, n, j, m;
    for (n = 0; n < N; n++) { gv[n] = 0; gs[n] = 0; ga[n] = 0; }
    for (j = 0; j < K; j++) gi[j] = 0;
    for (t = T - 1; t >= 0; t--) {
      const int64_t bt = b * T + t;
      const REAL *vprev = t ? p->V + (bt - 1) * N : g->V0 + b * N;
      const REAL *sprev = t ? p->S + (bt - 1) * N : g->S0 + b * N;
      REAL *dc = g->dX + bt * K;
      if (*stop || lp_ctx_interrupted(ctx)) { *stop = 1; break; }
      for (n = 0; n < N; n++) {
        const REAL th = p->th[n], u = p->U[bt * N + n], sp = p->S[bt * N + n];
        REAL gvn = gv[n] + (g->gV ? g->gV[bt * N + n] : 0);
        REAL gsn = gs[n] + (g->gS ? g->gS[bt * N + n] : 0) - th * gvn;
        REAL su, sth, d_u;
        FN(surrogate)(d, u, th, &su, &sth);
        dth[n] += -gvn * sp + gsn * sth;
        d_u = gvn + gsn * su;
        du[n] = d_u;
        dalpha[n] += d_u * vprev[n];
        dbias[n] += d_u;
        gv[n] = p->alpha[n] * d_u;                  /* carried to step t-1 */
        for (j = 0; j < k; j++) {
          const int64_t c = n * k + j;
          const REAL di = d_u + gi[c];            /* dL/d isyn_t */
          dbeta[c] += di * p->C[bt * K + c];
          dc[c] = p->beta[c] * di;
          gi[c] = d->membrane_only ? 0 : dc[c];   /* isyn_{t-1} enters c_t with weight 1 */
        }
        if (p->wahp) {
          const REAL dia = d_u + ga[n];           /* dL/d iahp_t */
          const REAL da = p->bahp[n] * dia;
          dbahp[n] += dia * p->A[bt * N + n];
          dwahp[n] += da * sprev[n];
          ga[n] = da;
        }
      }
      /* dL/ds_{t-1}: through the recurrent weights and the ahp current */
      for (m = 0; m < N; m++) {
        REAL acc = 0;
        if (p->W && p->tg) {
          acc = d->tgblk ? FN(dot_tgb)(d->F, p->wv + m * d->F, p->tg + m * d->F, dc)
                         : FN(dot_tg)(d->F, p->wv + m * d->F, p->tg + m * d->F, dc);
        } else if (p->W) {
          const REAL *wm = p->W + m * K;
          for (j = 0; j < K; j++) acc += wm[j] * dc[j];
        }
        if (p->wahp) acc += p->wahp[m] * ga[m];
        gs[m] = acc;
      }
    }
  }
}

/* ---- ExpSyn ---------------------------------------------------------------- */
/* isyn = beta (isyn + x_t) + noise_t; O_t = isyn.  x, O: (B, T, N); i: (B, N) state. */
static void FN(expsyn_forward)(lp_ctx *ctx, const lif_dims *d, const REAL *x, const REAL *beta,
                               const REAL *noise, REAL *i, REAL *O, int *stop) {
  const int64_t B = d->B, T = d->T, N = d->N;
  int64_t b;
#pragma omp parallel for schedule(static) num_threads(d->threads) if (d->threads > 1 && B > 1)
  for (b = 0; b < B; b++) {
    REAL *ib = i + b * N;
    int64_t t, n;
    for (t = 0; t < T; t++) {
      const int64_t bt = b * T + t;
      if (*stop || lp_ctx_interrupted(ctx)) { *stop = 1; break; }
      for (n = 0; n < N; n++) {
        REAL v = beta[n] * (ib[n] + x[bt * N + n]);
        if (noise) v += noise[bt * N + n];
        ib[n] = v;
        O[bt * N + n] = v;
      }
    }
  }
}

/* Backward: gi_t = gO_t + beta gi_{t+1}-carry; dx_t = beta gi_t; dbeta += gi_t (O_{t-1} + x_t). */
static void FN(expsyn_backward)(lp_ctx *ctx, const lif_dims *d, const REAL *x, const REAL *beta,
                                const REAL *I0, const REAL *O, const REAL *gO, REAL *dX,
                                REAL *dbeta /* (B, N) partial */, REAL *carry /* (B, N) */, int *stop) {
  const int64_t B = d->B, T = d->T, N = d->N;
  int64_t b;
#pragma omp parallel for schedule(static) num_threads(d->threads) if (d->threads > 1 && B > 1)
  for (b = 0; b < B; b++) {
    REAL *cb = carry + b * N, *db = dbeta + b * N;
    int64_t t, n;
    for (n = 0; n < N; n++) cb[n] = 0;
    for (t = T - 1; t >= 0; t--) {
      const int64_t bt = b * T + t;
      const REAL *iprev = t ? O + (bt - 1) * N : I0 + b * N;
      if (*stop || lp_ctx_interrupted(ctx)) { *stop = 1; break; }
      for (n = 0; n < N; n++) {
        const REAL gi = gO[bt * N + n] + cb[n];
        db[n] += gi * (iprev[n] + x[bt * N + n]);
        cb[n] = beta[n] * gi;
        dX[bt * N + n] = cb[n];
      }
    }
  }
}

/* ---- Rate ------------------------------------------------------------------- */
static inline REAL FN(act)(int act, REAL z) {
  switch (act) {
  case LP_ACT_RELU: return z > 0 ? z : 0;
  case LP_ACT_TANH: return (REAL)tanh(z);
  default:          return (REAL)(1 / (1 + exp(-(double)z)));
  }
}
/* H'(z) from h = H(z) */
static inline REAL FN(act_grad)(int act, REAL h) {
  switch (act) {
  case LP_ACT_RELU: return h > 0 ? 1 : 0;
  case LP_ACT_TANH: return 1 - h * h;
  default:          return h * (1 - h);
  }
}

typedef struct FN(rate_bufs) {
  const REAL *x, *alpha, *bias, *th, *W, *noise;   /* (B,T,N), (N) x3, (N,N)|NULL, (B,T,N)|NULL */
  REAL *state;                     /* (B, N) initial in, final out          */
  REAL *H0;                        /* (B, N) H(x0 - th), written by forward when non-NULL */
  REAL *O;                         /* (B, T, N) H(x_t - th)                  */
  REAL *D;                         /* (B, T, N) drive -x_prev+in+rec+bias (saved) or NULL */
  REAL *h, *r;                     /* scratch (B, N) x 2                     */
} FN(rate_bufs);

static void FN(rate_forward)(lp_ctx *ctx, const lif_dims *d, const FN(rate_bufs) *p, int act, int *stop) {
  const int64_t B = d->B, T = d->T, N = d->N;
  int64_t b;
#pragma omp parallel for schedule(static) num_threads(d->threads) if (d->threads > 1 && B > 1)
  for (b = 0; b < B; b++) {
    REAL *xs = p->state + b * N, *h = p->h + b * N, *r = p->r + b * N;
    int64_t t, n, m;
    for (n = 0; n < N; n++) h[n] = FN(act)(act, xs[n] - p->th[n]);
    if (p->H0) for (n = 0; n < N; n++) p->H0[b * N + n] = h[n];
    for (t = 0; t < T; t++) {
      const int64_t bt = b * T + t;
      if (*stop || lp_ctx_interrupted(ctx)) { *stop = 1; break; }
      if (p->W) {                                   /* r = h . W (dense: rates are dense) */
        for (n = 0; n < N; n++) r[n] = 0;
        for (m = 0; m < N; m++) {
          const REAL hm = h[m], *wm = p->W + m * N;
          if (hm == 0) continue;
          for (n = 0; n < N; n++) r[n] += hm * wm[n];
        }
      }
      for (n = 0; n < N; n++) {
        REAL drive = -xs[n] + p->x[bt * N + n] + (p->W ? r[n] : 0) + p->bias[n];
        if (p->D) p->D[bt * N + n] = drive;
        xs[n] = xs[n] + p->alpha[n] * drive;
        if (p->noise) xs[n] += p->noise[bt * N + n];
        h[n] = FN(act)(act, xs[n] - p->th[n]);
        p->O[bt * N + n] = h[n];
      }
    }
  }
}

typedef struct FN(rate_grads) {
  const REAL *gO;                  /* (B, T, N)                              */
  REAL *dX;                        /* (B, T, N) = alpha gx_t = dL/d rec_t    */
  REAL *dalpha, *dbias, *dth;      /* (B, N) partial sums                    */
  REAL *gx, *gh;                   /* scratch (B, N) x 2                     */
} FN(rate_grads);

/* BPTT: gh_t = gO_t + W . dX_{t+1} (the recurrence reads h_t at t+1);
   gx_t = gx_{t+1} (1 - alpha) + gh_t H'(t); dX_t = alpha gx_t;
   dalpha += gx_t D_t; dbias += dX_t; dth -= gh_t H'(t). */
static void FN(rate_backward)(lp_ctx *ctx, const lif_dims *d, const FN(rate_bufs) *p,
                              const FN(rate_grads) *g, int act, int *stop) {
  const int64_t B = d->B, T = d->T, N = d->N;
  int64_t b;
#pragma omp parallel for schedule(static) num_threads(d->threads) if (d->threads > 1 && B > 1)
  for (b = 0; b < B; b++) {
    REAL *gx = g->gx + b * N, *gh = g->gh + b * N;
    REAL *dalpha = g->dalpha + b * N, *dbias = g->dbias + b * N, *dth = g->dth + b * N;
    int64_t t, n, m;
    for (n = 0; n < N; n++) { gx[n] = 0; gh[n] = 0; }
    for (t = T - 1; t >= -1; t--) {
      const int64_t bt = b * T + t;
      if (*stop || lp_ctx_interrupted(ctx)) { *stop = 1; break; }
      for (n = 0; n < N; n++) {
        REAL h, hg, ghn;
        if (t >= 0) { h = p->O[bt * N + n]; ghn = gh[n] + g->gO[bt * N + n]; }
        else { h = p->H0[b * N + n]; ghn = gh[n]; }
        hg = FN(act_grad)(act, h);
        dth[n] -= ghn * hg;
        if (t < 0) continue;                       /* x_{-1}: initial state, no grad */
        gx[n] = gx[n] + ghn * hg;
        dalpha[n] += gx[n] * p->D[bt * N + n];
        g->dX[bt * N + n] = p->alpha[n] * gx[n];
        dbias[n] += g->dX[bt * N + n];
        gx[n] = gx[n] * (1 - p->alpha[n]);          /* carried to t-1 */
      }
      if (t < 0) break;
      for (m = 0; m < N; m++) {                     /* gh_{t-1} = W . dX_t */
        REAL acc = 0;
        if (p->W) {
          const REAL *wm = p->W + m * N, *dx = g->dX + bt * N;
          for (n = 0; n < N; n++) acc += wm[n] * dx[n];
        }
        gh[m] = acc;
      }
    }
  }
}

/* wv[m, f] = W[m, tg[m, f]]: the targets' weights packed (N, F) */
static void FN(lif_pack_tg)(int64_t N, int64_t K, int64_t F, const REAL *W, const int32_t *tg, REAL *wv) {
  int64_t m, f;
  for (m = 0; m < N; m++) for (f = 0; f < F; f++) wv[m * F + f] = W[m * K + tg[m * F + f]];
}

/* dW (N, K) = 0 except dW[m, tg[m, f]] = dwv[m, f] */
static void FN(lif_unpack_tg)(int64_t N, int64_t K, int64_t F, const REAL *dwv, const int32_t *tg, REAL *dW) {
  int64_t m, f;
  for (m = 0; m < N * K; m++) dW[m] = 0;
  for (m = 0; m < N; m++) for (f = 0; f < F; f++) dW[m * K + tg[m * F + f]] = dwv[m * F + f];
}

/* ---- tensor-level wrappers (lif.c hands over tensors, we take pointers) -- */
#define PTR(t) ((t) ? (REAL *)lp_tensor_data(t) : NULL)
static void FN(lif_forward_t)(lp_ctx *ctx, const lif_dims *d, const lif_tensors *ts, void *scratch, int *stop) {
  FN(lif_bufs) p;
  p.x = PTR(ts->x); p.alpha = PTR(ts->alpha); p.beta = PTR(ts->beta); p.bias = PTR(ts->bias);
  p.th = PTR(ts->th); p.W = PTR(ts->W); p.wahp = PTR(ts->wahp); p.bahp = PTR(ts->bahp);
  p.noise = PTR(ts->noise);
  p.v = PTR(ts->v); p.isyn = PTR(ts->isyn); p.s = PTR(ts->s); p.iahp = PTR(ts->iahp);
  p.S = PTR(ts->S); p.V = PTR(ts->V); p.Isr = PTR(ts->Isr); p.Rec = PTR(ts->Rec); p.Iar = PTR(ts->Iar);
  p.U = PTR(ts->U); p.C = PTR(ts->C); p.A = PTR(ts->A);
  p.r = scratch;
  p.xrp = ts->xrp ? (const int64_t *)lp_tensor_data(ts->xrp) : NULL;
  p.xix = ts->xix ? (const int32_t *)lp_tensor_data(ts->xix) : NULL;
  p.xval = PTR(ts->xval); p.win = PTR(ts->win); p.bin = PTR(ts->bin);
  p.tg = ts->tg ? (const int32_t *)lp_tensor_data(ts->tg) : NULL;
  p.wv = PTR(ts->wv);
  FN(lif_forward)(ctx, d, &p, stop);
}

/* scratch: zeroed, lif_scratch_elems(d) elements of REAL */
static void FN(lif_backward_t)(lp_ctx *ctx, const lif_dims *d, const lif_tensors *ts,
                               const lp_tensor *gS, const lp_tensor *gV, lp_tensor *dX,
                               void *scratch, int *stop) {
  FN(lif_bufs) p;
  FN(lif_grads) g;
  REAL *w = scratch;
  const int64_t BN = d->B * d->N, BK = d->B * d->N * d->k;
  memset(&p, 0, sizeof p);
  p.alpha = PTR(ts->alpha); p.beta = PTR(ts->beta); p.th = PTR(ts->th); p.W = PTR(ts->W);
  p.wahp = PTR(ts->wahp); p.bahp = PTR(ts->bahp);
  p.S = PTR(ts->S); p.V = PTR(ts->V); p.U = PTR(ts->U); p.C = PTR(ts->C); p.A = PTR(ts->A);
  p.tg = ts->tg ? (const int32_t *)lp_tensor_data(ts->tg) : NULL;
  p.wv = PTR(ts->wv);
  g.gS = PTR(gS); g.gV = PTR(gV); g.V0 = PTR(ts->V0); g.S0 = PTR(ts->S0); g.dX = PTR(dX);
  g.dalpha = w; w += BN;  g.dbias = w; w += BN;  g.dth = w; w += BN;
  g.dwahp = w; w += BN;   g.dbahp = w; w += BN;  g.dbeta = w; w += BK;
  g.gv = w; w += BN; g.gs = w; w += BN; g.ga = w; w += BN; g.du = w; w += BN; g.gi = w;
  FN(lif_backward)(ctx, d, &p, &g, stop);
}

/* out[i] = sum_b part[b*n + i] (fixed order: reproducible on any thread count) */
static void FN(reduce_rows)(const REAL *part, int64_t B, int64_t n, lp_tensor *out) {
  REAL *o = PTR(out);
  int64_t b, i;
  for (i = 0; i < n; i++) o[i] = 0;
  for (b = 0; b < B; b++) for (i = 0; i < n; i++) o[i] += part[b * n + i];
}
#undef PTR
