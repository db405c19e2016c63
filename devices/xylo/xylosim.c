/*
** devices/xylo/xylosim.c -- XyloSim, the bit-exact integer Xylo core
** (declared in xylosim.h; arithmetic and order of reference/xylo.md §3).
** Owns: compiling dense weights into synapse lists in xylosim's delivery
** order, the state, and the time loop. States are held as int32 but always
** stay inside int16 (every add saturates there); they are stored in
** separate syn-1 / syn-2 blocks so that a synapse target is one index
** (s * nhid + j) and the neuron update runs as a vector loop.
**
** These facts make the loop fast without changing a single bit:
** - n successive saturating adds of the same w equal one add of n*w
**   clamped once (the partial sums move monotonically towards one limit),
**   so a pre-neuron with n events costs one add per synapse;
** - a dense row (input rows usually) touches every target once, so it runs
**   as a vector loop, rows in order; when every input channel with events
**   has one, the rows are added inside the integration pass (xy_rows);
** - recurrent events are summed without order into P/N sums (one 4-lane
**   saturating uint16 add per (pre, post) pair when the synapses share
**   targets, else one scalar add per synapse into 32-bit planes) and
**   settled in the integration pass where
**   no order could saturate, or all adds have one sign; the rest of the
**   neurons replay their events in order from their incoming pairs (see
**   rec_pn), so the cost does not grow with saturation;
** - the Isyn/Vmem update of a neuron does not depend on spike counts, so it
**   runs for all neurons first (vectorised), and the spike loop and aliases
**   follow in ascending id order, which is all the order they need; without
**   aliases it visits only the neurons at threshold (listed, branch-free,
**   by the AVX2 integration pass itself).
** - on a step whose input counts are all 0 or 1 the AVX2 integration pass
**   runs 16 neurons per vector in int16 lanes (ipn16_avx2_loop): every
**   quantity there fits int16 or is made to (the P/N sums packed with
**   saturation at 65535, exact as for the pair sums), so saturating int16
**   adds are xylosim's sat16 adds; the per-neuron decays, which AVX2 cannot
**   shift per 16-bit lane, are a multiplication (xy_nt); the state stays
**   int32 in memory. Other steps take the 32-bit pass (8 per vector).
** Vector kernels are compiled per instruction set (AVX-512, AVX2, portable)
** and picked at run time with __builtin_cpu_supports (the AVX-512 choice
** runs the AVX2 integration passes; this machine's VM shows no AVX-512, so
** no kernel of its own is written for it untested); lp_xylo_set_path
** forces the portable kernels or the plain reference loop (xy_step's ref:
** every event one ordered saturating add through the CSR lists). Nothing is
** recorded unless asked for. test_xylosim checks every path against its own
** plain loop on random networks made to saturate (also with 0/1 input
** counts, with and without dashes of 0: the 16-bit pass), sim_paths_spec
** the paths against each other on Audio 2 sized fan-outs.
*/
#include "xylosim.h"
#include <string.h>
#include <math.h>
#if defined(__GNUC__) && defined(__x86_64__)
#include <immintrin.h>
#endif

#define XY_MAX_IN   15
#define XY_MAX_HID  31
#define XY_MAX_OUT  1
#define XY_SMIN     (-32768)
#define XY_SMAX     32767
#define XY_OUT_DENSE 64
/* the vector kernels are inlined into their per-instruction-set copies */
#if defined(__GNUC__)
#define XY_INLINE static inline __attribute__((always_inline))
#define XY_PREFETCH(p) __builtin_prefetch(p)
#else
#define XY_INLINE static inline
#define XY_PREFETCH(p) ((void)(p))
#endif        /* readouts up to this size are delivered as dense rows */

struct lp_xylo {
  lp_ctx *ctx;
  size_t bytes;                          /* of this block (struct + arrays) */
  int nin, nhid, nout, nsyn;
  size_t nhid_bytes;
  int64_t n_in, n_rec, n_out, n_alias;
  int64_t n_dense;                       /* input rows also stored densely */
  int32_t *in_dense;                     /* per input row: dense row number or -1 */
  int32_t *dense;                        /* n_dense rows of nsyn*nhid (w << shift, zeros kept) */
  int32_t *dense_span;                   /* per dense row: first and one past the last nonzero */
  int16_t *dense16;                      /* the dense rows again as int16 (the 16-bit pass, xy_nt) */
  uint16_t *nt16;                        /* per-neuron int16 tables of the 16-bit pass (xy_nt) */
  int nt_d0;                             /* some hidden dash is 0 (the 16-bit pass blends those lanes) */
  int64_t n_pair;                        /* recurrent (pre, post) pairs with a nonzero weight */
  int32_t *pair_ptr;                     /* CSR per hidden neuron ... */
  uint32_t *pair_tgt;                    /* ... each post-neuron's P/N slot (xy_slot) */
  uint64_t *pair_pn;                     /* per pair: 4 uint16 P1, N1, P2, N2 (|w << shift| by sign) */
  int32_t *inc_ptr;                      /* the pairs again, CSR per post-neuron ... */
  uint16_t *inc_pre;                     /* ... pre ids ascending (the delivery order) */
  int32_t *inc_w;                        /* ... w1 << shift, w2 << shift per pair */
  uint32_t *ev_idx;                      /* per recurrent synapse (rec CSR order): its P/N field, */
  uint16_t *ev_val;                      /* 4 * slot + 2 * syn + (w < 0), and |w << shift| */
  int pn;                                /* recurrent delivery through P/N sums (see rec_pn) */
  int by_pair;                           /* P/N sums added per pair (else per synapse) */
  int path;                              /* lp_xylo_path: which kernels evolve runs */
  int out_is_dense;                      /* readout rows stored densely in out_dense */
  int32_t *out_dense;                    /* nhid rows of nout (w << shift, zeros kept) */
  int32_t *in_ptr, *in_tgt, *in_w;       /* CSR per input channel  */
  int32_t *rec_ptr, *rec_tgt, *rec_w;    /* CSR per hidden neuron  */
  int32_t *out_ptr, *out_tgt, *out_w;    /* CSR per hidden neuron  */
  int32_t *alias_ptr, *alias_idx;        /* CSR; alias_ptr NULL: none */
  int32_t *dsyn, *dmem, *th, *bias;      /* dsyn: nsyn*nhid blocks */
  int32_t *dsyn_o, *dmem_o, *th_o, *bias_o;
  /* stored state */
  int32_t *isyn, *vmem, *isyn_o, *vmem_o; /* isyn: 2*nhid (syn-2 block zero when nsyn=1) */
  uint8_t *spk;                          /* hidden counts of the last step */
};

/* ---- integer helpers ------------------------------------------------- */

static inline int32_t sat16(int32_t v) { return v > XY_SMAX ? XY_SMAX : (v < XY_SMIN ? XY_SMIN : v); }
static inline int32_t wrap16(int32_t v) { return (int32_t)((uint32_t)(v + 32768) & 0xffffu) - 32768; }
/* arithmetic right shift, explicit (>> on a negative int is implementation-defined) */
#if defined(__GNUC__)                   /* GCC and Clang define >> on negatives as sign-extending */
static inline int32_t asr(int32_t v, int32_t d) { return v >> d; }
#else
static inline int32_t asr(int32_t v, int32_t d) { return v < 0 ? ~(~v >> d) : v >> d; }
#endif
/* xylosim's decrement: floor(v / 2^d), at least 1 for positive v (§3.1) */
static inline int32_t leak(int32_t v, int32_t d) {
  int32_t q = asr(v, d);
  return q + ((q == 0) & (v > 0));
}
/* v2 membrane update (§3.3): dV = sat(-leak + S); dV = sat(dV + bias);
   V = sat(V + dV). The negation wraps in 16 bits as in xylosim. */
static inline int32_t vmem_step(int32_t v, int32_t dmem, int32_t s, int32_t bias) {
  int32_t q = leak(v, dmem);
  int32_t nl = q == XY_SMIN ? XY_SMIN : -q;
  int32_t dv = sat16(nl + s);
  dv = sat16(dv + bias);
  return sat16(v + dv);
}

/* subtractive reset, multi-spike: n counts already present, up to max */
static inline int32_t fire(int32_t *pv, int32_t th, int32_t n, int32_t max) {
  int32_t v = *pv;
  if (th > 0) {
    int32_t k = v - th < th ? 1 : v / th; /* v >= th > 0: k >= 1, v - k*th >= 0 */
    if (k > max - n) k = max - n;
    v -= k * th;
    n += k;
  } else {
    while (v >= th && n < max) { n++; v = wrap16(v - th); }
  }
  *pv = v;
  return n;
}

/* ---- construction ---------------------------------------------------- */

static lp_status check_range(lp_ctx *ctx, const char *field, const int32_t *a, int64_t n, int32_t lo, int32_t hi) {
  int64_t i;
  if (!a) return LP_OK;
  for (i = 0; i < n; i++)
    if (a[i] < lo || a[i] > hi)
      return lp_ctx_error(ctx, LP_EARG, 1, "%s: value %d at position %lld is out of range %d..%d",
                          field, (int)a[i], (long long)i, (int)lo, (int)hi);
  return LP_OK;
}

static lp_status check_spec(lp_ctx *ctx, const lp_xylo_spec *s) {
  lp_status st;
  int64_t nh = s->nhid, no = s->nout;
  if (s->nin < 0 || s->nhid < 1 || s->nout < 1 || s->nin > 65536 || s->nhid > 65536 || s->nout > 65536)
    return lp_ctx_error(ctx, LP_EARG, 1, "sizes: nin %d, nhid %d, nout %d not allowed", s->nin, s->nhid, s->nout);
  if (s->nsyn != 1 && s->nsyn != 2)
    return lp_ctx_error(ctx, LP_EARG, 1, "nsyn: expected 1 or 2, got %d", s->nsyn);
  if (!s->w_in || !s->w_out || !s->dash_mem || !s->dash_syn || !s->threshold || !s->dash_mem_out ||
      !s->dash_syn_out || !s->threshold_out || (s->nsyn == 2 && !s->dash_syn2) || (s->alias_ptr && !s->alias_idx))
    return lp_ctx_error(ctx, LP_EARG, 1, "missing array in the specification");
  if ((st = check_range(ctx, "weights_in", s->w_in, (int64_t)s->nin * nh * s->nsyn, -128, 127)) ||
      (st = check_range(ctx, "weights_rec", s->w_rec, nh * nh * s->nsyn, -128, 127)) ||
      (st = check_range(ctx, "weights_out", s->w_out, nh * no, -128, 127)) ||
      (st = check_range(ctx, "dash_mem", s->dash_mem, nh, 0, 15)) ||
      (st = check_range(ctx, "dash_syn", s->dash_syn, nh, 0, 15)) ||
      (st = check_range(ctx, "dash_syn_2", s->nsyn == 2 ? s->dash_syn2 : NULL, nh, 0, 15)) ||
      (st = check_range(ctx, "dash_mem_out", s->dash_mem_out, no, 0, 15)) ||
      (st = check_range(ctx, "dash_syn_out", s->dash_syn_out, no, 0, 15)) ||
      (st = check_range(ctx, "threshold", s->threshold, nh, XY_SMIN, XY_SMAX)) ||
      (st = check_range(ctx, "threshold_out", s->threshold_out, no, XY_SMIN, XY_SMAX)) ||
      (st = check_range(ctx, "bias", s->bias, nh, XY_SMIN, XY_SMAX)) ||
      (st = check_range(ctx, "bias_out", s->bias_out, no, XY_SMIN, XY_SMAX)))
    return st;
  if (s->shift_in < 0 || s->shift_in > 7 || s->shift_rec < 0 || s->shift_rec > 7 || s->shift_out < 0 || s->shift_out > 7)
    return lp_ctx_error(ctx, LP_EARG, 1, "weight shifts must be in 0..7 (got %d, %d, %d)",
                        s->shift_in, s->shift_rec, s->shift_out);
  if (s->alias_ptr) {
    int64_t i;
    if (s->alias_ptr[0] != 0) return lp_ctx_error(ctx, LP_EARG, 1, "aliases: offsets must start at 0");
    for (i = 0; i < nh; i++)
      if (s->alias_ptr[i + 1] < s->alias_ptr[i] || s->alias_ptr[i + 1] > (int64_t)nh * 64)
        return lp_ctx_error(ctx, LP_EARG, 1, "aliases: bad offsets at neuron %lld", (long long)i);
    if ((st = check_range(ctx, "aliases", s->alias_idx, s->alias_ptr[nh], 0, s->nhid - 1))) return st;
  }
  return LP_OK;
}

static size_t align64(size_t n) { return (n + 63) & ~(size_t)63; }

/* The per-neuron tables of the 16-bit integration pass (ipn16_avx2_loop),
   uint16 rows of xy_nt_stride(nhid): per decay (Isyn 1, Isyn 2, Vmem) the
   multiplier M = 2^(16-d), the offset C = 32768 >> d and the mask Z (0xffff
   where d = 0, M = C = 0 there): floor(v / 2^d) = mulhi_epu16(v + 32768, M)
   - C for d in 1..15 (v + 32768 is v ^ 0x8000 as uint16; 32768 / 2^d is an
   integer), the lanes with d = 0 take v itself. Then the bias and the
   threshold as int16. One synapse: the zero syn-2 block gets d = 1's M and
   C (0 stays 0), so that Z2 is not needed. */
enum { XY_NT_M1, XY_NT_C1, XY_NT_Z1, XY_NT_M2, XY_NT_C2, XY_NT_Z2, XY_NT_MM, XY_NT_CM, XY_NT_ZM,
       XY_NT_BIAS, XY_NT_TH, XY_NT_N };
static int64_t xy_nt_stride(int64_t nh) { return (nh + 15) & ~(int64_t)15; }
static int64_t xy_nt_at(int64_t k, int64_t j) { return (j & ~(int64_t)15) * XY_NT_N + k * 16 + (j & 15); }
static void nt_decay(uint16_t *t, int k, int64_t j, int32_t d) {
  t[xy_nt_at(k, j)] = (uint16_t)(d ? 1u << (16 - d) : 0u);
  t[xy_nt_at(k + 1, j)] = (uint16_t)(d ? 32768u >> d : 0u);
  t[xy_nt_at(k + 2, j)] = (uint16_t)(d ? 0u : 0xffffu);
}

/* Carve n elements of size sz from the block at *off (64-byte aligned). */
static void *carve(char *base, size_t *off, size_t n, size_t sz) {
  void *p = base ? base + *off : NULL;
  *off += align64(n * sz);
  return p;
}

/* Lay out the block: called once with base NULL (sizes) and once to carve. */
static size_t layout(lp_xylo *x, char *base) {
  size_t off = align64(sizeof(lp_xylo));
  int64_t nh = x->nhid, no = x->nout;
  x->in_ptr = carve(base, &off, (size_t)x->nin + 1, 4);
  x->in_tgt = carve(base, &off, (size_t)x->n_in, 4);
  x->in_w = carve(base, &off, (size_t)x->n_in, 4);
  x->rec_ptr = carve(base, &off, (size_t)nh + 1, 4);
  x->rec_tgt = carve(base, &off, (size_t)x->n_rec, 4);
  x->rec_w = carve(base, &off, (size_t)x->n_rec, 4);
  x->out_ptr = carve(base, &off, (size_t)nh + 1, 4);
  x->out_tgt = carve(base, &off, (size_t)x->n_out, 4);
  x->out_w = carve(base, &off, (size_t)x->n_out, 4);
  x->in_dense = carve(base, &off, (size_t)x->nin, 4);
  x->dense = carve(base, &off, (size_t)x->n_dense * (size_t)x->nsyn * (size_t)nh, 4);
  x->dense_span = carve(base, &off, 2 * (size_t)x->n_dense, 4);
  x->dense16 = carve(base, &off, (size_t)x->n_dense * (size_t)x->nsyn * (size_t)nh, 2);
  x->nt16 = carve(base, &off, (size_t)XY_NT_N * (size_t)xy_nt_stride(nh), 2);
  x->pair_ptr = carve(base, &off, x->pn ? (size_t)nh + 1 : 0, 4);
  x->pair_tgt = carve(base, &off, (size_t)x->n_pair, 4);
  x->pair_pn = carve(base, &off, (size_t)x->n_pair, 8);
  x->inc_ptr = carve(base, &off, x->pn ? (size_t)nh + 1 : 0, 4);
  x->ev_idx = carve(base, &off, (size_t)x->n_rec, 4);
  x->ev_val = carve(base, &off, (size_t)x->n_rec, 2);
  x->inc_pre = carve(base, &off, (size_t)x->n_pair, 2);
  x->inc_w = carve(base, &off, 2 * (size_t)x->n_pair, 4);
  x->out_dense = carve(base, &off, x->out_is_dense ? (size_t)nh * (size_t)no : 0, 4);
  x->alias_ptr = carve(base, &off, (size_t)nh + 1, 4);
  x->alias_idx = carve(base, &off, (size_t)x->n_alias, 4);
  x->dsyn = carve(base, &off, 2 * (size_t)nh, 4);
  x->dmem = carve(base, &off, (size_t)nh, 4);
  x->th = carve(base, &off, (size_t)nh, 4);
  x->bias = carve(base, &off, (size_t)nh, 4);
  x->dsyn_o = carve(base, &off, (size_t)no, 4);
  x->dmem_o = carve(base, &off, (size_t)no, 4);
  x->th_o = carve(base, &off, (size_t)no, 4);
  x->bias_o = carve(base, &off, (size_t)no, 4);
  x->isyn = carve(base, &off, 2 * (size_t)nh, 4);
  x->vmem = carve(base, &off, (size_t)nh, 4);
  x->isyn_o = carve(base, &off, (size_t)no, 4);
  x->vmem_o = carve(base, &off, (size_t)no, 4);
  x->spk = carve(base, &off, (size_t)nh, 1);
  return off;
}

/* Fill a CSR from a dense (npre, npost, nsyn) matrix: per pre row the
   syn-1 targets ascending, then the syn-2 targets ascending (the order of
   Rockpool's from_config, §3.2). Target index s * nhid_stride + post. */
static void fill_csr(const int32_t *w, int64_t npre, int64_t npost, int nsyn, int64_t stride,
                     int shift, int32_t *ptr, int32_t *tgt, int32_t *wt) {
  int64_t i, j, k = 0;
  int s;
  ptr[0] = 0;
  for (i = 0; i < npre; i++) {
    if (w)
      for (s = 0; s < nsyn; s++)
        for (j = 0; j < npost; j++) {
          int32_t v = w[(i * npost + j) * nsyn + s];
          if (v) { tgt[k] = (int32_t)(s * stride + j); wt[k] = (int32_t)(v * (1 << shift)); k++; }
        }
    ptr[i + 1] = (int32_t)k;
  }
}

/* A row with at least 1/DENSE_FRAC of its targets nonzero is also stored
   densely: one vector pass over all targets beats scattered adds there.
   Every target is touched once per row either way, so the result is the same. */
#define DENSE_FRAC 8
static int row_is_dense(const int32_t *w, int64_t i, int64_t npost, int nsyn) {
  int64_t k, n = npost * nsyn, c = 0;
  const int32_t *r = w + i * n;
  for (k = 0; k < n; k++) c += r[k] != 0;
  return c * DENSE_FRAC >= n && c > 0;
}

/* Mark dense rows (numbered from *next) and fill them. */
static void fill_dense(const int32_t *w, int64_t npre, int64_t npost, int nsyn, int shift, int32_t *rowmap,
                       int32_t *dense, int32_t *span, int64_t *next) {
  int64_t i, j;
  int s;
  for (i = 0; i < npre; i++) {
    rowmap[i] = -1;
    if (!w || !row_is_dense(w, i, npost, nsyn)) continue;
    if (dense) {
      int32_t *d = dense + *next * nsyn * npost;
      int64_t lo = -1, hi = 0;
      for (s = 0; s < nsyn; s++)
        for (j = 0; j < npost; j++) {
          int32_t v = w[(i * npost + j) * nsyn + s];
          d[s * npost + j] = v * (1 << shift);
          if (v) { if (lo < 0) lo = s * npost + j; hi = s * npost + j + 1; }
        }
      span[2 * *next] = (int32_t)lo;
      span[2 * *next + 1] = (int32_t)hi;
    }
    rowmap[i] = (int32_t)(*next)++;
  }
}

/* (pre, post) pairs of a (nh, nh, nsyn) matrix with some nonzero weight */
static int64_t count_pairs(const int32_t *w, int64_t nh, int nsyn) {
  int64_t i, c = 0;
  for (i = 0; i < nh * nh; i++) {
    int s, any = 0;
    for (s = 0; s < nsyn; s++) any |= w[i * nsyn + s] != 0;
    c += any;
  }
  return c;
}

/* The P/N slot of hidden neuron j when the sums are added per pair: its 4
   uint16 fields sit at acc16[4 * slot]. Within each block of 8 neurons
   bits 1 and 2 of the id are swapped, so that the AVX2 integration pass,
   loading 8 slots as 2 vectors and splitting them with masks, shifts and
   two shuffles, gets each field with the neurons in id order. (The swap is
   its own inverse: it also maps a slot to its id.) */
static inline int32_t xy_slot(int32_t j) { return (j & ~7) | (j & 1) | ((j & 2) << 1) | ((j & 4) >> 1); }
/* Per synapse (x->by_pair unset) the sums are planar instead, in blocks of
   16 neurons: a block's P1, N1, P2, N2 are 4 rows of 16 uint32, one after
   the other (field f of neuron j at xy_pn_at(j) + 16 f), so that the
   integration passes load them without the transpose and from one base.
   Both layouts fit in 4 words per neuron, nhid rounded up to 16. */
#define XY_PN_BLK 16
static inline int32_t xy_pn_at(int32_t j) { return (j & ~(XY_PN_BLK - 1)) * 4 + (j & (XY_PN_BLK - 1)); }

/* The pair CSR: per pre-neuron its post-neurons ascending (as slots), with
   the weights of both synapses as P/N halves (see rec_pn; the order inside
   a row does not matter: every target synapse gets at most one add per
   row); and the same pairs per post-neuron, pre-neurons ascending, for the
   ordered replay. Returns 0 when a P/N sum of a step could exceed 2^31
   - 2^16 (31 events of every incoming weight): the P/N path is then off. */
static int fill_pairs(const int32_t *w, int64_t nh, int nsyn, int shift, lp_xylo *x) {
  int64_t i, j, k = 0;
  int s, ok = 1;
  x->pair_ptr[0] = 0;
  memset(x->inc_ptr, 0, (size_t)(nh + 1) * 4);
  for (i = 0; i < nh; i++) {
    for (j = 0; j < nh; j++) {
      const int32_t *v = w + (i * nh + j) * nsyn;
      int any = 0;
      for (s = 0; s < nsyn; s++) any |= v[s] != 0;
      if (!any) continue;
      x->pair_tgt[k] = (uint32_t)xy_slot((int32_t)j);
      {
        uint16_t half[4] = {0, 0, 0, 0};   /* P1, N1, P2, N2 */
        for (s = 0; s < nsyn; s++) {
          int32_t u = v[s] * (1 << shift);  /* |u| <= 16384 */
          half[2 * s + (u < 0)] = (uint16_t)(u < 0 ? -u : u);
        }
        memcpy(&x->pair_pn[k], half, 8);
      }
      x->inc_ptr[j + 1]++;
      k++;
    }
    x->pair_ptr[i + 1] = (int32_t)k;
  }
  for (j = 0; j < nh; j++) x->inc_ptr[j + 1] += x->inc_ptr[j];
  {                                         /* the transpose, pre-neurons ascending: */
    int64_t e;                              /* inc_ptr[j] is j's cursor, then its end */
    for (j = nh; j > 0; j--) x->inc_ptr[j] = x->inc_ptr[j - 1];
    for (i = 0; i < nh; i++)
      for (e = x->pair_ptr[i]; e < x->pair_ptr[i + 1]; e++) {
        int32_t jn = xy_slot((int32_t)x->pair_tgt[e]);  /* slot -> id */
        int32_t at = x->inc_ptr[jn + 1]++;
        const int32_t *v = w + (i * nh + jn) * nsyn;
        x->inc_pre[at] = (uint16_t)i;
        x->inc_w[2 * at] = v[0] * (1 << shift);
        x->inc_w[2 * at + 1] = nsyn == 2 ? v[1] * (1 << shift) : 0;
      }
  }
  for (j = 0; j < nh; j++) {                /* bound of every field: 31 * sum |w| */
    int64_t sum[4] = {0, 0, 0, 0}, e;
    int f;
    for (e = x->inc_ptr[j]; e < x->inc_ptr[j + 1]; e++)
      for (s = 0; s < 2; s++) {
        int64_t u = x->inc_w[2 * e + s];
        sum[2 * s + (u < 0)] += u < 0 ? -u : u;
      }
    for (f = 0; f < 4; f++) if (sum[f] * XY_MAX_HID > (int64_t)INT32_MAX - 65536) ok = 0;
  }
  return ok;
}

static int64_t count_nz(const int32_t *w, int64_t n) {
  int64_t i, c = 0;
  if (!w) return 0;
  for (i = 0; i < n; i++) c += w[i] != 0;
  return c;
}

lp_status lp_xylo_new(lp_ctx *ctx, const lp_xylo_spec *s, lp_xylo **out) {
  lp_xylo tmp, *x;
  size_t bytes;
  int64_t nh, no, i;
  lp_status st;
  *out = NULL;
  if (!s) return lp_ctx_error(ctx, LP_EARG, 1, "no specification");
  if ((st = check_spec(ctx, s))) return st;
  nh = s->nhid; no = s->nout;
  memset(&tmp, 0, sizeof tmp);
  tmp.nin = s->nin; tmp.nhid = s->nhid; tmp.nhid_bytes = (size_t)nh; tmp.nout = s->nout; tmp.nsyn = s->nsyn;
  tmp.n_in = count_nz(s->w_in, (int64_t)s->nin * nh * s->nsyn);
  tmp.n_rec = count_nz(s->w_rec, nh * nh * s->nsyn);
  tmp.n_out = count_nz(s->w_out, nh * no);
  tmp.n_alias = s->alias_ptr ? s->alias_ptr[nh] : 0;
  if (tmp.n_rec > INT32_MAX / 2 || tmp.n_in > INT32_MAX / 2)
    return lp_ctx_error(ctx, LP_ESIZE, 1, "too many synapses");
  for (i = 0; i < s->nin; i++) tmp.n_dense += row_is_dense(s->w_in, i, nh, s->nsyn);
  tmp.out_is_dense = no <= XY_OUT_DENSE;
  tmp.pn = tmp.n_rec > 0;
  if (tmp.pn) tmp.n_pair = count_pairs(s->w_rec, nh, s->nsyn);
  bytes = layout(&tmp, NULL);
  if (!(x = lp_ctx_alloc(ctx, bytes))) return LP_ENOMEM;
  *x = tmp;
  x->ctx = ctx;
  x->bytes = bytes;
  layout(x, (char *)x);
  fill_csr(s->w_in, s->nin, nh, s->nsyn, nh, s->shift_in, x->in_ptr, x->in_tgt, x->in_w);
  fill_csr(s->w_rec, nh, nh, s->nsyn, nh, s->shift_rec, x->rec_ptr, x->rec_tgt, x->rec_w);
  fill_csr(s->w_out, nh, no, 1, no, s->shift_out, x->out_ptr, x->out_tgt, x->out_w);
  {
    int64_t next = 0;
    fill_dense(s->w_in, s->nin, nh, s->nsyn, s->shift_in, x->in_dense, x->dense, x->dense_span, &next);
  }
  if (x->pn) x->pn = fill_pairs(s->w_rec, nh, s->nsyn, s->shift_rec, x);
  /* a pair add costs about what two synapse adds cost: pairs when most
     pairs carry both synapses (the same targets on both) */
  x->by_pair = x->n_rec > 0 && 10 * x->n_rec >= 17 * x->n_pair;
  for (i = 0; i < x->n_rec; i++) {      /* the synapse events (rec CSR: tgt = s * nh + j), */
    int32_t t = x->rec_tgt[i], v = x->rec_w[i];  /* onto the planar P/N sums (see xy_pn_planes) */
    x->ev_idx[i] = (uint32_t)(xy_pn_at(t % (int32_t)nh) + XY_PN_BLK * (2 * (t / (int32_t)nh) + (v < 0)));
    x->ev_val[i] = (uint16_t)(v < 0 ? -v : v);
  }
  x->path = LP_XYLO_PATH_AUTO;
  if (x->out_is_dense)
    for (i = 0; i < nh * no; i++) x->out_dense[i] = s->w_out[i] * (1 << s->shift_out);
  if (s->alias_ptr) {
    memcpy(x->alias_ptr, s->alias_ptr, (size_t)(nh + 1) * 4);
    if (x->n_alias) memcpy(x->alias_idx, s->alias_idx, (size_t)x->n_alias * 4);
  }
  for (i = 0; i < nh; i++) {
    x->dsyn[i] = s->dash_syn[i];
    x->dsyn[nh + i] = s->nsyn == 2 ? s->dash_syn2[i] : 0;
    x->dmem[i] = s->dash_mem[i];
    x->th[i] = s->threshold[i];
    x->bias[i] = s->bias ? s->bias[i] : 0;
  }
  {                                     /* the 16-bit pass's tables (xy_nt) and int16 rows */
    int64_t ts = xy_nt_stride(nh), n16 = x->n_dense * x->nsyn * nh;
    uint16_t *t = x->nt16;
    memset(t, 0, (size_t)(XY_NT_N * ts) * 2);
    x->nt_d0 = 0;
    for (i = 0; i < nh; i++) {
      int32_t d2 = s->nsyn == 2 ? x->dsyn[nh + i] : 1;
      nt_decay(t, XY_NT_M1, i, x->dsyn[i]);
      nt_decay(t, XY_NT_M2, i, d2);
      nt_decay(t, XY_NT_MM, i, x->dmem[i]);
      x->nt_d0 |= x->dsyn[i] == 0 || d2 == 0 || x->dmem[i] == 0;
      t[xy_nt_at(XY_NT_BIAS, i)] = (uint16_t)x->bias[i];
      t[xy_nt_at(XY_NT_TH, i)] = (uint16_t)x->th[i];
    }
    for (i = 0; i < n16; i++) x->dense16[i] = (int16_t)x->dense[i];  /* |w << shift| <= 16384 */
  }
  for (i = 0; i < no; i++) {
    x->dsyn_o[i] = s->dash_syn_out[i];
    x->dmem_o[i] = s->dash_mem_out[i];
    x->th_o[i] = s->threshold_out[i];
    x->bias_o[i] = s->bias_out ? s->bias_out[i] : 0;
  }
  *out = x;
  return LP_OK;
}

void lp_xylo_free(lp_xylo *x) {
  if (x) lp_ctx_dealloc(x->ctx, x, x->bytes);
}

void lp_xylo_dims(const lp_xylo *x, int *nin, int *nhid, int *nout, int *nsyn) {
  if (nin) *nin = x->nin;
  if (nhid) *nhid = x->nhid;
  if (nout) *nout = x->nout;
  if (nsyn) *nsyn = x->nsyn;
}

void lp_xylo_counts(const lp_xylo *x, int64_t *n_in, int64_t *n_rec, int64_t *n_out) {
  if (n_in) *n_in = x->n_in;
  if (n_rec) *n_rec = x->n_rec;
  if (n_out) *n_out = x->n_out;
}

void lp_xylo_reset(lp_xylo *x) {
  size_t nh = (size_t)x->nhid, no = (size_t)x->nout;
  memset(x->isyn, 0, 2 * nh * 4);
  memset(x->vmem, 0, nh * 4);
  memset(x->isyn_o, 0, no * 4);
  memset(x->vmem_o, 0, no * 4);
  memset(x->spk, 0, nh);
}

/* ---- state ----------------------------------------------------------- */


void lp_xylo_state_release(lp_xylo_state *s) {
  if (!s) return;
  lp_tensor_release(s->isyn); lp_tensor_release(s->vmem); lp_tensor_release(s->spikes);
  lp_tensor_release(s->isyn_out); lp_tensor_release(s->vmem_out);
  memset(s, 0, sizeof *s);
}

static lp_status new_i32(lp_ctx *ctx, int ndim, int64_t d0, int64_t d1, int64_t d2, lp_tensor **out) {
  int64_t shape[3];
  shape[0] = d0; shape[1] = d1; shape[2] = d2;
  return lp_tensor_new(ctx, LP_I32, ndim, shape, out);
}

lp_status lp_xylo_get_state(lp_ctx *ctx, const lp_xylo *x, lp_xylo_state *out) {
  lp_status st;
  int64_t i, nh = x->nhid, no = x->nout;
  int32_t *p;
  memset(out, 0, sizeof *out);
  if ((st = new_i32(ctx, 2, nh, x->nsyn, 0, &out->isyn)) || (st = new_i32(ctx, 1, nh, 0, 0, &out->vmem)) ||
      (st = new_i32(ctx, 1, nh, 0, 0, &out->spikes)) || (st = new_i32(ctx, 1, no, 0, 0, &out->isyn_out)) ||
      (st = new_i32(ctx, 1, no, 0, 0, &out->vmem_out))) {
    lp_xylo_state_release(out);
    return st;
  }
  p = lp_tensor_data(out->isyn);
  for (i = 0; i < nh; i++) {
    p[i * x->nsyn] = x->isyn[i];
    if (x->nsyn == 2) p[i * 2 + 1] = x->isyn[nh + i];
  }
  memcpy(lp_tensor_data(out->vmem), x->vmem, (size_t)nh * 4);
  p = lp_tensor_data(out->spikes);
  for (i = 0; i < nh; i++) p[i] = x->spk[i];
  memcpy(lp_tensor_data(out->isyn_out), x->isyn_o, (size_t)no * 4);
  memcpy(lp_tensor_data(out->vmem_out), x->vmem_o, (size_t)no * 4);
  return LP_OK;
}

/* Check one state tensor: shape (n) or (n, k), integer values in lo..hi. */
static lp_status check_state_tensor(lp_ctx *ctx, const char *name, const lp_tensor *t, int ndim, int64_t n,
                                    int64_t k, int32_t lo, int32_t hi) {
  int64_t i, m;
  char buf[64];
  if (!t) return lp_ctx_error(ctx, LP_EARG, 1, "state '%s' missing", name);
  if (lp_tensor_ndim(t) != ndim || lp_tensor_shape(t)[0] != n || (ndim == 2 && lp_tensor_shape(t)[1] != k)) {
    int64_t want[2];
    want[0] = n; want[1] = k;
    lp_shape_str(ndim, want, buf, sizeof buf);
    return lp_ctx_error(ctx, LP_ESHAPE, 1, "state '%s': expected shape %s", name, buf);
  }
  m = lp_tensor_numel(t);
  for (i = 0; i < m; i++) {
    lp_scalar v = lp_tensor_get_flat(t, i);
    double f = lp_scalar_f(v);
    if (!(f >= lo && f <= hi) || f != floor(f))
      return lp_ctx_error(ctx, LP_EARG, 1, "state '%s': values must be integers in %d..%d", name, (int)lo, (int)hi);
  }
  return LP_OK;
}

lp_status lp_xylo_set_state(lp_ctx *ctx, lp_xylo *x, const lp_xylo_state *in) {
  lp_status st;
  int64_t i, nh = x->nhid, no = x->nout;
  if ((st = check_state_tensor(ctx, "Isyn", in->isyn, 2, nh, x->nsyn, XY_SMIN, XY_SMAX)) ||
      (st = check_state_tensor(ctx, "Vmem", in->vmem, 1, nh, 0, XY_SMIN, XY_SMAX)) ||
      (st = check_state_tensor(ctx, "Spikes", in->spikes, 1, nh, 0, 0, XY_MAX_HID)) ||
      (st = check_state_tensor(ctx, "Isyn_out", in->isyn_out, 1, no, 0, XY_SMIN, XY_SMAX)) ||
      (st = check_state_tensor(ctx, "Vmem_out", in->vmem_out, 1, no, 0, XY_SMIN, XY_SMAX)))
    return st;
  for (i = 0; i < nh; i++) {
    x->isyn[i] = (int32_t)lp_scalar_f(lp_tensor_get_flat(in->isyn, i * x->nsyn));
    x->isyn[nh + i] = x->nsyn == 2 ? (int32_t)lp_scalar_f(lp_tensor_get_flat(in->isyn, i * 2 + 1)) : 0;
    x->vmem[i] = (int32_t)lp_scalar_f(lp_tensor_get_flat(in->vmem, i));
    x->spk[i] = (uint8_t)lp_scalar_f(lp_tensor_get_flat(in->spikes, i));
  }
  for (i = 0; i < no; i++) {
    x->isyn_o[i] = (int32_t)lp_scalar_f(lp_tensor_get_flat(in->isyn_out, i));
    x->vmem_o[i] = (int32_t)lp_scalar_f(lp_tensor_get_flat(in->vmem_out, i));
  }
  return LP_OK;
}

/* ---- evolution ------------------------------------------------------- */

typedef struct xy_work {
  int32_t *isyn, *vmem, *isyn_o, *vmem_o;  /* working state            */
  uint8_t *prev, *cur;                     /* hidden counts t-1, t     */
  int32_t *plist, *clist;                  /* ascending ids with counts */
  int32_t np, nc;
  uint32_t *acc;                           /* P1, N1, P2, N2: uint16 per slot (pairs) or planes (xy_pn_at); nhid rounded up
                                              to 16 slots, 64-byte aligned; zero between steps */
  int32_t *flist;                          /* neurons whose recurrent events are replayed */
  uint8_t *fire;                           /* per hidden neuron: Vmem >= threshold (padded to 8) */
} xy_work;

/* Records of one step (NULL: not recorded). */
typedef struct xy_rec {
  int32_t *out, *vmem, *isyn, *isyn2, *spikes, *vmem_o, *isyn_o;
} xy_rec;

/* m events through the synapses lo..hi-1: one saturating add of m*w each
   (equal to m successive saturating adds of w). */
static inline void deliver(int32_t *restrict I, const int32_t *restrict tgt, const int32_t *restrict w,
                           int32_t lo, int32_t hi, int32_t m) {
  int32_t k;
  for (k = lo; k < hi; k++) {
    int32_t j = tgt[k];
    I[j] = sat16(I[j] + m * w[k]);
  }
}

/* Recurrent events through P/N sums. A step's recurrent events are summed
   per target synapse without clamping, and so without order: P, the sum of
   the positive adds, and N, the magnitude of the sum of the negative ones,
   32-bit fields that cannot overflow (lp_xylo_new turns this path off for
   a network where 31 events of every incoming weight could reach 2^31).
   xylosim's ordered saturating adds from I then give, without the order:
   - I + P - N when I - N >= -32768 and I + P <= 32767: every partial sum
     of the events, in any order, lies in I - N .. I + P, so none clamps;
   - sat16(I + P - N) when all adds have one sign (N = 0 or P = 0): the
     partial sums move monotonically towards one limit and clamp once.
   A neuron where neither holds for a synapse keeps its state, and its
   events are replayed in order from its incoming pairs (replay_one): pre
   ids ascending is xylosim's order for every target synapse.
   Added per synapse (x->by_pair unset), the four sums of a hidden neuron
   are uint32 in four planes (xy_pn_at). Added per pair (one
   pre-neuron, one post-neuron, both synapses: one 4-lane add of the pair's
   4 uint16 fields times the count), they are 4 uint16 at acc16[4 * slot]
   and every add saturates at 65535 (paddusw). That is exact here: a sum
   held at 65535 is at least 65535, so with the other sign's sum nonzero
   one of I + P <= 32767, I - N >= -32768 fails (replay), and with it zero
   sat16(I +- 65535) is the limit the true sum gives. The sums are settled
   in the integration pass (integrate_pn), which zeroes them. */

/* Isyn decay and Vmem integration of every hidden neuron (independent of
   spike counts, hence one vector loop). The per-lane variable shifts need
   AVX2 or AVX-512 on x86; each vector kernel is compiled for both and
   chosen at run time. */
XY_INLINE void integrate_body(int32_t nh, int nsyn, int32_t *restrict I1, int32_t *restrict I2,
                              int32_t *restrict V, const int32_t *restrict d1, const int32_t *restrict d2,
                              const int32_t *restrict dm, const int32_t *restrict bias) {
  int32_t i;
  if (nsyn == 2) {
#pragma omp simd
    for (i = 0; i < nh; i++) {
      int32_t a = I1[i], b = I2[i];
      a -= leak(a, d1[i]);
      b -= leak(b, d2[i]);
      I1[i] = a;
      I2[i] = b;
      V[i] = vmem_step(V[i], dm[i], a + b, bias[i]);
    }
  } else {
#pragma omp simd
    for (i = 0; i < nh; i++) {
      int32_t a = I1[i];
      a -= leak(a, d1[i]);
      I1[i] = a;
      V[i] = vmem_step(V[i], dm[i], a, bias[i]);
    }
  }
}

/* The input events of a step when every channel with events has a dense
   row (at most XY_FUSE of them): delivered inside the integration pass,
   channels ascending, before the P/N sums (xylosim's order per target). */
#define XY_FUSE 16
typedef struct xy_rows {
  int32_t n, nsyn;
  const int32_t *w[XY_FUSE];            /* dense rows, nsyn * nh: syn-1 block, syn-2 block */
  const int16_t *w16[XY_FUSE];          /* the same rows as int16 (the 16-bit pass) */
  const uint16_t *nt;                   /* the 16-bit pass's tables (xy_nt_at) */
  int32_t d0;                           /* some dash is 0 */
  int32_t m[XY_FUSE];                   /* event counts */
  int32_t planes;                       /* P/N layout: 0 slots (xy_slot), else the plane size */
  const int32_t *th;                    /* thresholds: the pass also lists ... */
  int32_t *L;                           /* ... the settled neurons with V >= th, ascending, */
  int32_t nl;                           /* ... and their number (set by the pass) */
} xy_rows;

/* The P/N sums (p, q) of one synapse from state a settle without order. */
static inline int32_t pn_ok(int32_t a, int32_t p, int32_t q) {
  return (p == 0) | (q == 0) | ((a + p <= XY_SMAX) & (a - q >= XY_SMIN));
}

/* integrate_body with the P/N sums settled in the same pass; the sums are
   zeroed. A neuron that cannot settle (see above) is left as it is and
   listed in F, ascending; the count is returned. (With one synapse I2 is
   the zero syn-2 block, d2 is 0 and the syn-2 sums stay 0.) This is the
   portable form; integrate_pn_avx2 below does 8 neurons at a time. */
static int32_t integrate_pn_tail(int32_t i0, int32_t nh, int32_t *restrict I1, int32_t *restrict I2,
                                 int32_t *restrict V, uint32_t *restrict A, const int32_t *restrict d1,
                                 const int32_t *restrict d2, const int32_t *restrict dm,
                                 const int32_t *restrict bias, int32_t *restrict F, xy_rows *in, int32_t nf) {
  int32_t i, r, nl = in->nl;
  for (i = i0; i < nh; i++) {
    int32_t ps = in->planes, p1, q1, p2, q2;
    int32_t a = I1[i], b = I2[i];
    if (ps) {                           /* planes of uint32 */
      uint32_t *a4 = A + xy_pn_at(i);
      p1 = (int32_t)a4[0]; q1 = (int32_t)a4[ps]; p2 = (int32_t)a4[2 * ps]; q2 = (int32_t)a4[3 * ps];
      a4[0] = a4[ps] = a4[2 * ps] = a4[3 * ps] = 0;
    } else {                            /* slots of 4 uint16 */
      uint16_t *a4 = (uint16_t *)A + 4 * xy_slot(i);
      p1 = a4[0]; q1 = a4[1]; p2 = a4[2]; q2 = a4[3];
      a4[0] = a4[1] = a4[2] = a4[3] = 0;
    }
    for (r = 0; r < in->n; r++) {
      a = sat16(a + in->m[r] * in->w[r][i]);
      if (in->nsyn == 2) b = sat16(b + in->m[r] * in->w[r][nh + i]);
    }
    if (!(pn_ok(a, p1, q1) & pn_ok(b, p2, q2))) {
      I1[i] = a;                        /* the input is in, the recurrent events are replayed */
      I2[i] = b;
      F[nf++] = i;
      continue;
    }
    a = sat16(a + p1 - q1);
    b = sat16(b + p2 - q2);
    a -= leak(a, d1[i]);
    b -= leak(b, d2[i]);
    I1[i] = a;
    I2[i] = b;
    V[i] = vmem_step(V[i], dm[i], a + b, bias[i]);
    in->L[nl] = i;                      /* branch-free: overwritten until kept */
    nl += V[i] >= in->th[i];
  }
  in->nl = nl;
  return nf;
}

/* F[i] = V[i] >= th[i] (its own pass: bytes in the loop above would make
   the compiler pick short vectors). */
XY_INLINE void flags_body(int32_t n, const int32_t *restrict V, const int32_t *restrict th, uint8_t *restrict F) {
  int32_t i;
#pragma omp simd
  for (i = 0; i < n; i++) F[i] = (uint8_t)(V[i] >= th[i]);
}

/* L = the ids i with V[i] >= th[i], ascending; returns how many. */
XY_INLINE int32_t list_body(int32_t n, const int32_t *restrict V, const int32_t *restrict th, int32_t *restrict L) {
  int32_t i, c = 0;
  for (i = 0; i < n; i++) {             /* branch-free: L[c] is overwritten until kept */
    L[c] = i;
    c += V[i] >= th[i];
  }
  return c;
}

/* I[k] = sat16(I[k] + m * W[k]) over a dense row. */
XY_INLINE void dense_body(int32_t *restrict I, const int32_t *restrict W, int32_t n, int32_t m) {
  int32_t k;
#pragma omp simd
  for (k = 0; k < n; k++) I[k] = sat16(I[k] + m * W[k]);
}

#define DENSE_ARGS int32_t *restrict I, const int32_t *restrict W, int32_t n, int32_t m
#define INTEGRATE_ARGS int32_t nh, int nsyn, int32_t *restrict I1, int32_t *restrict I2, int32_t *restrict V, \
  const int32_t *restrict d1, const int32_t *restrict d2, const int32_t *restrict dm, const int32_t *restrict bias
#define FLAGS_ARGS int32_t n, const int32_t *restrict V, const int32_t *restrict th, uint8_t *restrict F
#define LIST_ARGS int32_t n, const int32_t *restrict V, const int32_t *restrict th, int32_t *restrict L
#define INTEGRATE_PN_ARGS int32_t nh, int32_t *restrict I1, int32_t *restrict I2, int32_t *restrict V, \
  uint32_t *restrict A, const int32_t *restrict d1, const int32_t *restrict d2, const int32_t *restrict dm, \
  const int32_t *restrict bias, int32_t *restrict F, xy_rows *in
typedef void (*dense_fn)(DENSE_ARGS);
typedef void (*integrate_fn)(INTEGRATE_ARGS);
typedef void (*flags_fn)(FLAGS_ARGS);
typedef int32_t (*list_fn)(LIST_ARGS);
typedef int32_t (*integrate_pn_fn)(INTEGRATE_PN_ARGS);
struct xy_work;
typedef void (*pairs_fn)(const struct lp_xylo *x, struct xy_work *w);
/* the readout events of a step: Io += counts * rows, saturating, pre ascending */
#define OUTROWS_ARGS int32_t *restrict Io, const int32_t *restrict Wo, int32_t no, const int32_t *restrict plist, \
  int32_t np, const uint8_t *restrict prev
typedef void (*outrows_fn)(OUTROWS_ARGS);
typedef struct xy_kernels {
  integrate_fn integrate; integrate_pn_fn integrate_pn; flags_fn flags; list_fn list; dense_fn dense;
  pairs_fn pairs; outrows_fn outrows;
} xy_kernels;

/* One copy of the vector kernels per instruction set. */
#define XY_KERNELS(attr, sfx) \
  attr static void integrate_##sfx(INTEGRATE_ARGS) { integrate_body(nh, nsyn, I1, I2, V, d1, d2, dm, bias); } \
  attr static void dense_##sfx(DENSE_ARGS) { dense_body(I, W, n, m); } \
  attr static void flags_##sfx(FLAGS_ARGS) { flags_body(n, V, th, F); }
#define XY_PICK(k, sfx, lst, ipn) \
  ((k)->integrate = integrate_##sfx, (k)->integrate_pn = ipn, (k)->flags = flags_##sfx, \
   (k)->list = lst, (k)->dense = dense_##sfx)

static void rec_pn(const lp_xylo *x, xy_work *w);
#if defined(__GNUC__) && defined(__x86_64__)
static void rec_pn_avx2(const lp_xylo *x, xy_work *w);
#endif
static int32_t list_generic(LIST_ARGS) { return list_body(n, V, th, L); }
static void dense_generic(DENSE_ARGS);
static void outrows_generic(OUTROWS_ARGS) {
  int32_t k;
  for (k = 0; k < np; k++) dense_generic(Io, Wo + (size_t)plist[k] * no, no, prev[plist[k]]);
}
static int32_t integrate_pn_generic(INTEGRATE_PN_ARGS) {
  in->nl = 0;
  return integrate_pn_tail(0, nh, I1, I2, V, A, d1, d2, dm, bias, F, in, 0);
}
XY_KERNELS(, generic)
#if defined(__GNUC__) && defined(__x86_64__)
XY_KERNELS(__attribute__((target("avx2"))), avx2)
XY_KERNELS(__attribute__((target("avx512f,avx512bw,avx512vl"))), avx512)
/* 8 compares and one mask per step of 8; the set bits are the ids */
__attribute__((target("avx2,bmi")))
static int32_t list_avx2(LIST_ARGS) {
  int32_t i, c = 0;
  for (i = 0; i + 8 <= n; i += 8) {
    __m256i gt = _mm256_cmpgt_epi32(_mm256_loadu_si256((const __m256i *)(th + i)),
                                    _mm256_loadu_si256((const __m256i *)(V + i)));
    unsigned k = ~(unsigned)_mm256_movemask_ps(_mm256_castsi256_ps(gt)) & 0xffu;
    while (k) {
      L[c++] = i + __builtin_ctz(k);
      k &= k - 1;
    }
  }
  for (; i < n; i++) {
    L[c] = i;
    c += V[i] >= th[i];
  }
  return c;
}
/* The readout rows; 8 outputs (Audio 2) stay in one register throughout. */
static void dense_avx2(DENSE_ARGS);
__attribute__((target("avx2")))
static void outrows_avx2(OUTROWS_ARGS) {
  int32_t k;
  if (no == 8) {
    const __m256i smax = _mm256_set1_epi32(XY_SMAX), smin = _mm256_set1_epi32(XY_SMIN);
    __m256i acc = _mm256_loadu_si256((const __m256i *)Io);
    for (k = 0; k < np; k++) {
      int32_t p = plist[k], m = prev[p];
      __m256i w = _mm256_loadu_si256((const __m256i *)(Wo + (size_t)p * 8));
      if (m != 1) w = _mm256_mullo_epi32(w, _mm256_set1_epi32(m));
      acc = _mm256_min_epi32(_mm256_max_epi32(_mm256_add_epi32(acc, w), smin), smax);
    }
    _mm256_storeu_si256((__m256i *)Io, acc);
  } else {
    for (k = 0; k < np; k++) dense_avx2(Io, Wo + (size_t)plist[k] * no, no, prev[plist[k]]);
  }
}
/* The set bits of an 8-bit mask as byte indices, ascending (zeros after):
   a block's lanes go into a list with one store, without a branch. */
static const uint64_t xy_bits[256] = {
  0x0000000000000000u, 0x0000000000000000u, 0x0000000000000001u, 0x0000000000000100u,
  0x0000000000000002u, 0x0000000000000200u, 0x0000000000000201u, 0x0000000000020100u,
  0x0000000000000003u, 0x0000000000000300u, 0x0000000000000301u, 0x0000000000030100u,
  0x0000000000000302u, 0x0000000000030200u, 0x0000000000030201u, 0x0000000003020100u,
  0x0000000000000004u, 0x0000000000000400u, 0x0000000000000401u, 0x0000000000040100u,
  0x0000000000000402u, 0x0000000000040200u, 0x0000000000040201u, 0x0000000004020100u,
  0x0000000000000403u, 0x0000000000040300u, 0x0000000000040301u, 0x0000000004030100u,
  0x0000000000040302u, 0x0000000004030200u, 0x0000000004030201u, 0x0000000403020100u,
  0x0000000000000005u, 0x0000000000000500u, 0x0000000000000501u, 0x0000000000050100u,
  0x0000000000000502u, 0x0000000000050200u, 0x0000000000050201u, 0x0000000005020100u,
  0x0000000000000503u, 0x0000000000050300u, 0x0000000000050301u, 0x0000000005030100u,
  0x0000000000050302u, 0x0000000005030200u, 0x0000000005030201u, 0x0000000503020100u,
  0x0000000000000504u, 0x0000000000050400u, 0x0000000000050401u, 0x0000000005040100u,
  0x0000000000050402u, 0x0000000005040200u, 0x0000000005040201u, 0x0000000504020100u,
  0x0000000000050403u, 0x0000000005040300u, 0x0000000005040301u, 0x0000000504030100u,
  0x0000000005040302u, 0x0000000504030200u, 0x0000000504030201u, 0x0000050403020100u,
  0x0000000000000006u, 0x0000000000000600u, 0x0000000000000601u, 0x0000000000060100u,
  0x0000000000000602u, 0x0000000000060200u, 0x0000000000060201u, 0x0000000006020100u,
  0x0000000000000603u, 0x0000000000060300u, 0x0000000000060301u, 0x0000000006030100u,
  0x0000000000060302u, 0x0000000006030200u, 0x0000000006030201u, 0x0000000603020100u,
  0x0000000000000604u, 0x0000000000060400u, 0x0000000000060401u, 0x0000000006040100u,
  0x0000000000060402u, 0x0000000006040200u, 0x0000000006040201u, 0x0000000604020100u,
  0x0000000000060403u, 0x0000000006040300u, 0x0000000006040301u, 0x0000000604030100u,
  0x0000000006040302u, 0x0000000604030200u, 0x0000000604030201u, 0x0000060403020100u,
  0x0000000000000605u, 0x0000000000060500u, 0x0000000000060501u, 0x0000000006050100u,
  0x0000000000060502u, 0x0000000006050200u, 0x0000000006050201u, 0x0000000605020100u,
  0x0000000000060503u, 0x0000000006050300u, 0x0000000006050301u, 0x0000000605030100u,
  0x0000000006050302u, 0x0000000605030200u, 0x0000000605030201u, 0x0000060503020100u,
  0x0000000000060504u, 0x0000000006050400u, 0x0000000006050401u, 0x0000000605040100u,
  0x0000000006050402u, 0x0000000605040200u, 0x0000000605040201u, 0x0000060504020100u,
  0x0000000006050403u, 0x0000000605040300u, 0x0000000605040301u, 0x0000060504030100u,
  0x0000000605040302u, 0x0000060504030200u, 0x0000060504030201u, 0x0006050403020100u,
  0x0000000000000007u, 0x0000000000000700u, 0x0000000000000701u, 0x0000000000070100u,
  0x0000000000000702u, 0x0000000000070200u, 0x0000000000070201u, 0x0000000007020100u,
  0x0000000000000703u, 0x0000000000070300u, 0x0000000000070301u, 0x0000000007030100u,
  0x0000000000070302u, 0x0000000007030200u, 0x0000000007030201u, 0x0000000703020100u,
  0x0000000000000704u, 0x0000000000070400u, 0x0000000000070401u, 0x0000000007040100u,
  0x0000000000070402u, 0x0000000007040200u, 0x0000000007040201u, 0x0000000704020100u,
  0x0000000000070403u, 0x0000000007040300u, 0x0000000007040301u, 0x0000000704030100u,
  0x0000000007040302u, 0x0000000704030200u, 0x0000000704030201u, 0x0000070403020100u,
  0x0000000000000705u, 0x0000000000070500u, 0x0000000000070501u, 0x0000000007050100u,
  0x0000000000070502u, 0x0000000007050200u, 0x0000000007050201u, 0x0000000705020100u,
  0x0000000000070503u, 0x0000000007050300u, 0x0000000007050301u, 0x0000000705030100u,
  0x0000000007050302u, 0x0000000705030200u, 0x0000000705030201u, 0x0000070503020100u,
  0x0000000000070504u, 0x0000000007050400u, 0x0000000007050401u, 0x0000000705040100u,
  0x0000000007050402u, 0x0000000705040200u, 0x0000000705040201u, 0x0000070504020100u,
  0x0000000007050403u, 0x0000000705040300u, 0x0000000705040301u, 0x0000070504030100u,
  0x0000000705040302u, 0x0000070504030200u, 0x0000070504030201u, 0x0007050403020100u,
  0x0000000000000706u, 0x0000000000070600u, 0x0000000000070601u, 0x0000000007060100u,
  0x0000000000070602u, 0x0000000007060200u, 0x0000000007060201u, 0x0000000706020100u,
  0x0000000000070603u, 0x0000000007060300u, 0x0000000007060301u, 0x0000000706030100u,
  0x0000000007060302u, 0x0000000706030200u, 0x0000000706030201u, 0x0000070603020100u,
  0x0000000000070604u, 0x0000000007060400u, 0x0000000007060401u, 0x0000000706040100u,
  0x0000000007060402u, 0x0000000706040200u, 0x0000000706040201u, 0x0000070604020100u,
  0x0000000007060403u, 0x0000000706040300u, 0x0000000706040301u, 0x0000070604030100u,
  0x0000000706040302u, 0x0000070604030200u, 0x0000070604030201u, 0x0007060403020100u,
  0x0000000000070605u, 0x0000000007060500u, 0x0000000007060501u, 0x0000000706050100u,
  0x0000000007060502u, 0x0000000706050200u, 0x0000000706050201u, 0x0000070605020100u,
  0x0000000007060503u, 0x0000000706050300u, 0x0000000706050301u, 0x0000070605030100u,
  0x0000000706050302u, 0x0000070605030200u, 0x0000070605030201u, 0x0007060503020100u,
  0x0000000007060504u, 0x0000000706050400u, 0x0000000706050401u, 0x0000070605040100u,
  0x0000000706050402u, 0x0000070605040200u, 0x0000070605040201u, 0x0007060504020100u,
  0x0000000706050403u, 0x0000070605040300u, 0x0000070605040301u, 0x0007060504030100u,
  0x0000070605040302u, 0x0007060504030200u, 0x0007060504030201u, 0x0706050403020100u,
};
/* L[n..] = base + the set bits of k (8 words stored; L has room); returns n + count */
XY_INLINE __attribute__((target("avx2,popcnt"))) int32_t put_bits(int32_t *restrict L, int32_t n, unsigned k, int32_t base) {
  __m256i idx = _mm256_cvtepu8_epi32(_mm_loadl_epi64((const __m128i *)&xy_bits[k]));
  _mm256_storeu_si256((__m256i *)(L + n), _mm256_add_epi32(idx, _mm256_set1_epi32(base)));
  return n + __builtin_popcount(k);
}

/* integrate_pn_tail, 8 neurons at a time: their slots are 4 vectors, and
   two rounds of unpacks give P1, N1, P2, N2 with the neurons in id order
   (that is what xy_slot's interleaving is for). The input rows are added
   in a loop specialised by `mode` (0: every count 1, syn-1 rows only;
   1: every count 1, both synapses; 2: any counts), so that the common
   cases run without per-row tests. The threshold list is made here too,
   from the settled lanes (one compare and one mask per 8 neurons). */
XY_INLINE __attribute__((target("avx2,bmi,popcnt"))) int32_t ipn_avx2_loop(INTEGRATE_PN_ARGS, const int mode,
                                                                   const int planar, int32_t *restrict nlp,
                                                                   int32_t i0, int32_t nf) {
  const __m256i smax = _mm256_set1_epi32(XY_SMAX), smin = _mm256_set1_epi32(XY_SMIN);
  const __m256i zero = _mm256_setzero_si256();
  int32_t i, nl = *nlp, nr = in->n, two = in->nsyn == 2, r;
  const int32_t *wr[XY_FUSE];           /* locals: no store below can alias them */
  int32_t mr[XY_FUSE];
  const int32_t *restrict th = in->th;
  int32_t *restrict L = in->L;
  const int32_t ps = in->planes;
  for (r = 0; r < nr; r++) { wr[r] = in->w[r]; mr[r] = in->m[r]; }
  for (i = i0; i + 8 <= nh; i += 8) {
    __m256i *ap = (__m256i *)(planar ? A + xy_pn_at(i) : A + 2 * i), *ap1, *ap2, *ap3;
    __m256i p1, q1, p2, q2;
    if (planar) {                       /* the planes: field f at ap + f * planes words */
      ap1 = (__m256i *)((uint32_t *)ap + ps); ap2 = (__m256i *)((uint32_t *)ap + 2 * ps); ap3 = (__m256i *)((uint32_t *)ap + 3 * ps);
      p1 = _mm256_loadu_si256(ap); q1 = _mm256_loadu_si256(ap1);
      p2 = _mm256_loadu_si256(ap2); q2 = _mm256_loadu_si256(ap3);
    } else {                            /* 8 slots of 4 uint16: P halves, N halves, then by synapse */
      const __m256i lo16 = _mm256_set1_epi32(0xffff);
      __m256i r0 = _mm256_loadu_si256((const __m256i *)ap), r1 = _mm256_loadu_si256((const __m256i *)ap + 1);
      __m256 e0 = _mm256_castsi256_ps(_mm256_and_si256(r0, lo16)), e1 = _mm256_castsi256_ps(_mm256_and_si256(r1, lo16));
      __m256 o0 = _mm256_castsi256_ps(_mm256_srli_epi32(r0, 16)), o1 = _mm256_castsi256_ps(_mm256_srli_epi32(r1, 16));
      ap1 = ap2 = ap3 = ap + 1;
      p1 = _mm256_castps_si256(_mm256_shuffle_ps(e0, e1, 0x88)); p2 = _mm256_castps_si256(_mm256_shuffle_ps(e0, e1, 0xdd));
      q1 = _mm256_castps_si256(_mm256_shuffle_ps(o0, o1, 0x88)); q2 = _mm256_castps_si256(_mm256_shuffle_ps(o0, o1, 0xdd));
    }
    __m256i a0 = _mm256_loadu_si256((const __m256i *)(I1 + i)), b0 = _mm256_loadu_si256((const __m256i *)(I2 + i));
    __m256i v0 = _mm256_loadu_si256((const __m256i *)(V + i));
    if (mode == 0) {                    /* the input rows, channels ascending */
      for (r = 0; r < nr; r++)
        a0 = _mm256_min_epi32(_mm256_max_epi32(_mm256_add_epi32(a0, _mm256_loadu_si256((const __m256i *)(wr[r] + i))), smin), smax);
    } else if (mode == 1) {
      for (r = 0; r < nr; r++) {
        const int32_t *W = wr[r] + i;
        a0 = _mm256_min_epi32(_mm256_max_epi32(_mm256_add_epi32(a0, _mm256_loadu_si256((const __m256i *)W)), smin), smax);
        b0 = _mm256_min_epi32(_mm256_max_epi32(_mm256_add_epi32(b0, _mm256_loadu_si256((const __m256i *)(W + nh))), smin), smax);
      }
    } else for (r = 0; r < nr; r++) {
      const int32_t *W = wr[r] + i;
      __m256i w1 = _mm256_loadu_si256((const __m256i *)W);
      if (mr[r] != 1) w1 = _mm256_mullo_epi32(w1, _mm256_set1_epi32(mr[r]));
      a0 = _mm256_min_epi32(_mm256_max_epi32(_mm256_add_epi32(a0, w1), smin), smax);
      if (two) {
        __m256i w2 = _mm256_loadu_si256((const __m256i *)(W + nh));
        if (mr[r] != 1) w2 = _mm256_mullo_epi32(w2, _mm256_set1_epi32(mr[r]));
        b0 = _mm256_min_epi32(_mm256_max_epi32(_mm256_add_epi32(b0, w2), smin), smax);
      }
    }
    __m256i bad1 = _mm256_andnot_si256(_mm256_or_si256(_mm256_cmpeq_epi32(p1, zero), _mm256_cmpeq_epi32(q1, zero)),
                                       _mm256_or_si256(_mm256_cmpgt_epi32(_mm256_add_epi32(a0, p1), smax),
                                                       _mm256_cmpgt_epi32(smin, _mm256_sub_epi32(a0, q1))));
    __m256i bad2 = _mm256_andnot_si256(_mm256_or_si256(_mm256_cmpeq_epi32(p2, zero), _mm256_cmpeq_epi32(q2, zero)),
                                       _mm256_or_si256(_mm256_cmpgt_epi32(_mm256_add_epi32(b0, p2), smax),
                                                       _mm256_cmpgt_epi32(smin, _mm256_sub_epi32(b0, q2))));
    __m256i bad = _mm256_or_si256(bad1, bad2);
    __m256i a = _mm256_min_epi32(_mm256_max_epi32(_mm256_sub_epi32(_mm256_add_epi32(a0, p1), q1), smin), smax);
    __m256i b = _mm256_min_epi32(_mm256_max_epi32(_mm256_sub_epi32(_mm256_add_epi32(b0, p2), q2), smin), smax);
    __m256i q, s, nl_, dv, v;
    unsigned k;
    /* a -= leak(a, d1): leak = q + (q == 0 & a > 0), q = a >> d1 */
    q = _mm256_srav_epi32(a, _mm256_loadu_si256((const __m256i *)(d1 + i)));
    a = _mm256_sub_epi32(a, _mm256_sub_epi32(q, _mm256_and_si256(_mm256_cmpeq_epi32(q, zero), _mm256_cmpgt_epi32(a, zero))));
    q = _mm256_srav_epi32(b, _mm256_loadu_si256((const __m256i *)(d2 + i)));
    b = _mm256_sub_epi32(b, _mm256_sub_epi32(q, _mm256_and_si256(_mm256_cmpeq_epi32(q, zero), _mm256_cmpgt_epi32(b, zero))));
    /* vmem_step(v0, dm, a + b, bias) */
    q = _mm256_srav_epi32(v0, _mm256_loadu_si256((const __m256i *)(dm + i)));
    q = _mm256_sub_epi32(q, _mm256_and_si256(_mm256_cmpeq_epi32(q, zero), _mm256_cmpgt_epi32(v0, zero)));
    nl_ = _mm256_blendv_epi8(_mm256_sub_epi32(zero, q), smin, _mm256_cmpeq_epi32(q, smin));
    s = _mm256_add_epi32(a, b);
    dv = _mm256_min_epi32(_mm256_max_epi32(_mm256_add_epi32(nl_, s), smin), smax);
    dv = _mm256_min_epi32(_mm256_max_epi32(_mm256_add_epi32(dv, _mm256_loadu_si256((const __m256i *)(bias + i))), smin), smax);
    v = _mm256_min_epi32(_mm256_max_epi32(_mm256_add_epi32(v0, dv), smin), smax);
    _mm256_storeu_si256((__m256i *)(I1 + i), _mm256_blendv_epi8(a, a0, bad));
    _mm256_storeu_si256((__m256i *)(I2 + i), _mm256_blendv_epi8(b, b0, bad));
    _mm256_storeu_si256((__m256i *)(V + i), _mm256_blendv_epi8(v, v0, bad));
    _mm256_storeu_si256(ap, zero);
    _mm256_storeu_si256(ap1, zero);
    if (planar) {
      _mm256_storeu_si256(ap2, zero);
      _mm256_storeu_si256(ap3, zero);
    }
    k = (unsigned)_mm256_movemask_ps(_mm256_castsi256_ps(bad));
    if (k) nf = put_bits(F, nf, k, i);  /* rare, and predicted so */
    /* settled lanes at threshold: not (bad or th > v); branch-free */
    k = ~(unsigned)_mm256_movemask_ps(_mm256_castsi256_ps(
          _mm256_or_si256(bad, _mm256_cmpgt_epi32(_mm256_loadu_si256((const __m256i *)(th + i)), v)))) & 0xffu;
    nl = put_bits(L, nl, k, i);
  }
  *nlp = nl;
  return nf;
}
/* The four P/N sums of the 8 neurons at i as uint32 lanes in id order
   (planar, or slots split as in ipn_avx2_loop). */
XY_INLINE __attribute__((target("avx2"))) void pn8_avx2(const uint32_t *A, int32_t i, const int planar, int32_t ps,
                                                        __m256i *p1, __m256i *q1, __m256i *p2, __m256i *q2) {
  if (planar) {                         /* i: a multiple of 8, so that xy_pn_at(i) is this */
    const uint32_t *a = A + (i & ~(XY_PN_BLK - 1)) * 4 + (i & 8);
    *p1 = _mm256_loadu_si256((const __m256i *)a); *q1 = _mm256_loadu_si256((const __m256i *)(a + ps));
    *p2 = _mm256_loadu_si256((const __m256i *)(a + 2 * ps)); *q2 = _mm256_loadu_si256((const __m256i *)(a + 3 * ps));
  } else {
    const __m256i lo16 = _mm256_set1_epi32(0xffff);
    const __m256i *ap = (const __m256i *)(A + 2 * i);
    __m256i r0 = _mm256_loadu_si256(ap), r1 = _mm256_loadu_si256(ap + 1);
    __m256 e0 = _mm256_castsi256_ps(_mm256_and_si256(r0, lo16)), e1 = _mm256_castsi256_ps(_mm256_and_si256(r1, lo16));
    __m256 o0 = _mm256_castsi256_ps(_mm256_srli_epi32(r0, 16)), o1 = _mm256_castsi256_ps(_mm256_srli_epi32(r1, 16));
    *p1 = _mm256_castps_si256(_mm256_shuffle_ps(e0, e1, 0x88)); *p2 = _mm256_castps_si256(_mm256_shuffle_ps(e0, e1, 0xdd));
    *q1 = _mm256_castps_si256(_mm256_shuffle_ps(o0, o1, 0x88)); *q2 = _mm256_castps_si256(_mm256_shuffle_ps(o0, o1, 0xdd));
  }
}
/* 16 lanes of uint32 (x: ids 0-7, y: 8-15) as 16 uint16 in id order, saturating at
   65535 (vpackusdw: exact for the P/N sums, see ipn16_avx2_loop), or of int32 inside
   int16 (the state) as int16. */
#define XY_PACKU(x, y) _mm256_permute4x64_epi64(_mm256_packus_epi32((x), (y)), 0xd8)
#define XY_LD16(p) _mm256_permute4x64_epi64(_mm256_packs_epi32(_mm256_loadu_si256((const __m256i *)(p)), \
                                                               _mm256_loadu_si256((const __m256i *)((p) + 8))), 0xd8)
XY_INLINE __attribute__((target("avx2"))) void st16_avx2(int32_t *p, __m256i v) {
  _mm256_storeu_si256((__m256i *)p, _mm256_cvtepi16_epi32(_mm256_castsi256_si128(v)));
  _mm256_storeu_si256((__m256i *)(p + 8), _mm256_cvtepi16_epi32(_mm256_extracti128_si256(v, 1)));
}
/* leak(v, d) of 16 int16 lanes (xylosim's decrement, §3.1) from the tables
   at t (M, C, Z rows of stride st; see xy_nt): with q = floor(v / 2^d),
   q + (q == 0 & v > 0) is max(q, min(v, 1)) (v > 0: q >= 0, so max(q, 1);
   v <= 0: v <= q <= 0, so q). */
XY_INLINE __attribute__((target("avx2"))) __m256i leak16_avx2(__m256i v, const uint16_t *t, int32_t st, const int d0) {
  const __m256i sign = _mm256_set1_epi16((short)0x8000), one = _mm256_set1_epi16(1);
  __m256i q = _mm256_sub_epi16(_mm256_mulhi_epu16(_mm256_xor_si256(v, sign), _mm256_loadu_si256((const __m256i *)t)),
                               _mm256_loadu_si256((const __m256i *)(t + st)));
  if (d0) q = _mm256_blendv_epi8(q, v, _mm256_loadu_si256((const __m256i *)(t + 2 * st)));
  return _mm256_max_epi16(q, _mm256_min_epi16(v, one));
}
/* One synapse's P/N settle (see pn_ok) on 16 int16 lanes a with uint16 sums
   p, q: *ok gets the lanes that settle, the result is sat16(a + p - q) there.
   p > 32767 - a (as uint16: a ^ 0x7fff) is a + p > 32767, q > a + 32768
   (a ^ 0x8000) is a - q < -32768; settled lanes where neither holds take
   a + p - q wrapped (it is in range), the others (p > 0 = q, or q > 0 = p)
   the limit. */
XY_INLINE __attribute__((target("avx2"))) __m256i settle16_avx2(__m256i a, __m256i p, __m256i q, __m256i *ok) {
  const __m256i zero = _mm256_setzero_si256(), smax = _mm256_set1_epi16(XY_SMAX), smin = _mm256_set1_epi16((short)0x8000);
  __m256i u0 = _mm256_cmpeq_epi16(_mm256_subs_epu16(p, _mm256_xor_si256(a, smax)), zero);
  __m256i w0 = _mm256_cmpeq_epi16(_mm256_subs_epu16(q, _mm256_xor_si256(a, smin)), zero);
  __m256i one0 = _mm256_cmpeq_epi16(_mm256_min_epu16(p, q), zero);   /* p == 0 or q == 0 */
  __m256i r = _mm256_sub_epi16(_mm256_add_epi16(a, p), q);
  *ok = _mm256_or_si256(one0, _mm256_and_si256(u0, w0));
  r = _mm256_blendv_epi8(smax, r, u0);
  return _mm256_blendv_epi8(smin, r, w0);
}
/* ipn_avx2_loop, 16 neurons at a time in int16 lanes (counts 1 only): every
   quantity of the pass lies in int16 or is made to (the P/N sums saturate at
   65535, exact as for the pair sums: a sum held at 65535 is at least 65535,
   so with the other sum nonzero the lane is replayed either way, and with it
   zero the limit is the same), so that saturating int16 adds are xylosim's
   sat16 adds: input rows (int16, |w << shift| <= 16384) with vpaddsw, the
   bias and the Vmem update too; the decays by multiplication (xy_nt; AVX2
   has no per-lane 16-bit shift); only -leak + Isyn1 + Isyn2, which can
   leave int16 before its clamp, is summed in int32 (vpmaddwd of the
   interleaved halves) and clamped by vpackssdw. The state stays int32 in
   memory: loaded with vpackssdw, stored widened. Lists as ipn_avx2_loop
   (bits from vpmovmskb by pext). two: syn-2 input rows; d0: some dash 0. */
XY_INLINE __attribute__((target("avx2,bmi,bmi2,popcnt"))) int32_t ipn16_avx2_loop(INTEGRATE_PN_ARGS, const int two,
                                                                          const int planar, const int d0,
                                                                          int32_t *restrict nlp) {
  const __m256i zero = _mm256_setzero_si256(), one16 = _mm256_set1_epi16(1);
  int32_t i, nf = 0, nl = 0, nr = in->n, r, n16 = nh & ~15;
  const int16_t *wr[XY_FUSE];           /* locals: no store below can alias them */
  const uint16_t *restrict nt = in->nt;
  int32_t *restrict L = in->L;
  const int32_t ps = in->planes;
  (void)d1; (void)d2; (void)dm; (void)bias;
  for (r = 0; r < nr; r++) wr[XY_FUSE - nr + r] = in->w16[r];   /* the last nr entries (see below) */
  for (i = 0; i < n16; i += 16) {
    __m256i p1, q1, p2, q2, x1, y1, x2, y2, ok1, ok2, ok;
    __m256i a0, b0, v0, a, b, v, nlk, lo, hi, dv;
    const uint16_t *tb = nt + (size_t)i * XY_NT_N;   /* the block's tables (xy_nt_at) */
    unsigned k;
    pn8_avx2(A, i, planar, ps, &p1, &q1, &p2, &q2);
    pn8_avx2(A, i + 8, planar, ps, &x1, &y1, &x2, &y2);
    p1 = XY_PACKU(p1, x1); q1 = XY_PACKU(q1, y1); p2 = XY_PACKU(p2, x2); q2 = XY_PACKU(q2, y2);
    a0 = XY_LD16(I1 + i); b0 = XY_LD16(I2 + i); v0 = XY_LD16(V + i);
    /* the input rows, channels ascending: entered at case nr, the fall-through
       adds wr[16 - nr] .. wr[15] in order, without a loop counter */
#define XY_ROW(k) case XY_FUSE - (k): { const int16_t *W = wr[k] + i; \
      a0 = _mm256_adds_epi16(a0, _mm256_loadu_si256((const __m256i *)W)); \
      if (two) b0 = _mm256_adds_epi16(b0, _mm256_loadu_si256((const __m256i *)(W + nh))); } \
      __attribute__((fallthrough));
    switch (nr) {
      XY_ROW(0) XY_ROW(1) XY_ROW(2) XY_ROW(3) XY_ROW(4) XY_ROW(5) XY_ROW(6) XY_ROW(7)
      XY_ROW(8) XY_ROW(9) XY_ROW(10) XY_ROW(11) XY_ROW(12) XY_ROW(13) XY_ROW(14) XY_ROW(15)
      default: break;
    }
#undef XY_ROW
    a = settle16_avx2(a0, p1, q1, &ok1);
    b = settle16_avx2(b0, p2, q2, &ok2);
    ok = _mm256_and_si256(ok1, ok2);
    a = _mm256_sub_epi16(a, leak16_avx2(a, tb + XY_NT_M1 * 16, 16, d0));
    b = _mm256_sub_epi16(b, leak16_avx2(b, tb + XY_NT_M2 * 16, 16, d0));
    /* vmem_step: dV = sat(-leak + a + b) (in int32), sat(dV + bias), sat(V + dV);
       -leak wraps in 16 bits as in xylosim */
    nlk = _mm256_sub_epi16(zero, leak16_avx2(v0, tb + XY_NT_MM * 16, 16, d0));
    lo = _mm256_add_epi32(_mm256_madd_epi16(_mm256_unpacklo_epi16(a, b), one16),
                          _mm256_madd_epi16(_mm256_unpacklo_epi16(nlk, zero), one16));
    hi = _mm256_add_epi32(_mm256_madd_epi16(_mm256_unpackhi_epi16(a, b), one16),
                          _mm256_madd_epi16(_mm256_unpackhi_epi16(nlk, zero), one16));
    dv = _mm256_adds_epi16(_mm256_packs_epi32(lo, hi), _mm256_loadu_si256((const __m256i *)(tb + XY_NT_BIAS * 16)));
    v = _mm256_adds_epi16(v0, dv);
    a = _mm256_blendv_epi8(a0, a, ok);  /* lanes that did not settle: the input is in, the rest replayed */
    b = _mm256_blendv_epi8(b0, b, ok);
    v = _mm256_blendv_epi8(v0, v, ok);
    st16_avx2(I1 + i, a);
    st16_avx2(I2 + i, b);
    st16_avx2(V + i, v);
    if (planar) {
      __m256i *z = (__m256i *)(A + 4 * i);          /* the block's 4 x 16 words (xy_pn_at) */
      _mm256_storeu_si256(z, zero); _mm256_storeu_si256(z + 1, zero);
      _mm256_storeu_si256(z + 2, zero); _mm256_storeu_si256(z + 3, zero);
      _mm256_storeu_si256(z + 4, zero); _mm256_storeu_si256(z + 5, zero);
      _mm256_storeu_si256(z + 6, zero); _mm256_storeu_si256(z + 7, zero);
    } else {
      __m256i *z = (__m256i *)(A + 2 * i);
      _mm256_storeu_si256(z, zero); _mm256_storeu_si256(z + 1, zero);
      _mm256_storeu_si256(z + 2, zero); _mm256_storeu_si256(z + 3, zero);
    }
    k = _pext_u32((unsigned)_mm256_movemask_epi8(ok), 0x55555555u);
    if (k != 0xffffu) {                 /* rare, and predicted so */
      nf = put_bits(F, nf, ~k & 0xffu, i);
      nf = put_bits(F, nf, (~k >> 8) & 0xffu, i + 8);
    }
    /* settled lanes at threshold: ok and not th > v; branch-free */
    k = _pext_u32((unsigned)_mm256_movemask_epi8(_mm256_andnot_si256(
          _mm256_cmpgt_epi16(_mm256_loadu_si256((const __m256i *)(tb + XY_NT_TH * 16)), v), ok)), 0x55555555u);
    nl = put_bits(L, nl, k & 0xffu, i);
    nl = put_bits(L, nl, k >> 8, i + 8);
  }
  *nlp = nl;
  return nf;
}
#undef XY_PACKU
#undef XY_LD16
__attribute__((target("avx2,bmi,bmi2,popcnt")))
static int32_t integrate_pn_avx2(INTEGRATE_PN_ARGS) {
  int32_t r, nf = 0, ones = 1, i0 = 0;
  int pl = in->planes != 0, two = in->nsyn == 2;
  for (r = 0; r < in->n; r++) ones &= in->m[r] == 1;
  if (ones && in->nt) {                 /* 16 at a time in int16, then the old loop for 8 */
    if (in->d0)
      nf = two ? (pl ? ipn16_avx2_loop(nh, I1, I2, V, A, d1, d2, dm, bias, F, in, 1, 1, 1, &in->nl)
                     : ipn16_avx2_loop(nh, I1, I2, V, A, d1, d2, dm, bias, F, in, 1, 0, 1, &in->nl))
               : (pl ? ipn16_avx2_loop(nh, I1, I2, V, A, d1, d2, dm, bias, F, in, 0, 1, 1, &in->nl)
                     : ipn16_avx2_loop(nh, I1, I2, V, A, d1, d2, dm, bias, F, in, 0, 0, 1, &in->nl));
    else
      nf = two ? (pl ? ipn16_avx2_loop(nh, I1, I2, V, A, d1, d2, dm, bias, F, in, 1, 1, 0, &in->nl)
                     : ipn16_avx2_loop(nh, I1, I2, V, A, d1, d2, dm, bias, F, in, 1, 0, 0, &in->nl))
               : (pl ? ipn16_avx2_loop(nh, I1, I2, V, A, d1, d2, dm, bias, F, in, 0, 1, 0, &in->nl)
                     : ipn16_avx2_loop(nh, I1, I2, V, A, d1, d2, dm, bias, F, in, 0, 0, 0, &in->nl));
    i0 = nh & ~15;
  }
  if (ones && !two)
    nf = pl ? ipn_avx2_loop(nh, I1, I2, V, A, d1, d2, dm, bias, F, in, 0, 1, &in->nl, i0, nf)
            : ipn_avx2_loop(nh, I1, I2, V, A, d1, d2, dm, bias, F, in, 0, 0, &in->nl, i0, nf);
  else if (ones)
    nf = pl ? ipn_avx2_loop(nh, I1, I2, V, A, d1, d2, dm, bias, F, in, 1, 1, &in->nl, i0, nf)
            : ipn_avx2_loop(nh, I1, I2, V, A, d1, d2, dm, bias, F, in, 1, 0, &in->nl, i0, nf);
  else
    nf = pl ? ipn_avx2_loop(nh, I1, I2, V, A, d1, d2, dm, bias, F, in, 2, 1, &in->nl, i0, nf)
            : ipn_avx2_loop(nh, I1, I2, V, A, d1, d2, dm, bias, F, in, 2, 0, &in->nl, i0, nf);
  return integrate_pn_tail(nh & ~7, nh, I1, I2, V, A, d1, d2, dm, bias, F, in, nf);
}
/* 16 compares and one compress per step of 16 (a register compress and a
   full store: L has room, c <= i) */
__attribute__((target("avx512f,avx512bw,avx512vl")))
static int32_t list_avx512(LIST_ARGS) {
  __m512i idx = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
  const __m512i step = _mm512_set1_epi32(16);
  int32_t i, c = 0;
  for (i = 0; i + 16 <= n; i += 16) {
    __mmask16 k = _mm512_cmpge_epi32_mask(_mm512_loadu_si512((const void *)(V + i)),
                                          _mm512_loadu_si512((const void *)(th + i)));
    _mm512_storeu_si512((void *)(L + c), _mm512_maskz_compress_epi32(k, idx));
    c += __builtin_popcount((unsigned)k);
    idx = _mm512_add_epi32(idx, step);
  }
  for (; i < n; i++) {
    L[c] = i;
    c += V[i] >= th[i];
  }
  return c;
}
static const char *cpu_isa(void) {
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vl") &&
      __builtin_cpu_supports("bmi") && __builtin_cpu_supports("bmi2") && __builtin_cpu_supports("popcnt"))
    return "avx512";
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("bmi") && __builtin_cpu_supports("bmi2") &&
      __builtin_cpu_supports("popcnt"))
    return "avx2";
  return "generic";
}
static void pick_kernels(xy_kernels *k, int path) {
  const char *isa = path == LP_XYLO_PATH_AUTO ? cpu_isa() : "generic";
  k->pairs = rec_pn;
  k->outrows = outrows_generic;
  if (isa[3] == '2' || isa[4] == '5') k->outrows = outrows_avx2;
  if (isa[4] == '5') XY_PICK(k, avx512, list_avx512, integrate_pn_avx2);
  else if (isa[3] == '2') XY_PICK(k, avx2, list_avx2, integrate_pn_avx2);
  else XY_PICK(k, generic, list_generic, integrate_pn_generic);
  if (isa[3] == '2' || isa[4] == '5') k->pairs = rec_pn_avx2;
}
#else
static const char *cpu_isa(void) { return "generic"; }
static void pick_kernels(xy_kernels *k, int path) {
  (void)path;
  XY_PICK(k, generic, list_generic, integrate_pn_generic);
  k->pairs = rec_pn;
  k->outrows = outrows_generic;
}
#endif

const char *lp_xylo_isa(void) { return cpu_isa(); }
void lp_xylo_set_path(lp_xylo *x, lp_xylo_path path) {
  x->path = path == LP_XYLO_PATH_GENERIC || path == LP_XYLO_PATH_REFERENCE ? (int)path : LP_XYLO_PATH_AUTO;
}
lp_xylo_path lp_xylo_get_path(const lp_xylo *x) { return (lp_xylo_path)x->path; }

/* The pair events of one pre-neuron with count m onto the P/N sums (see
   above): per pair, its 4 uint16 fields times m added to the 4 uint32 of
   its slot (SSE2, the x86-64 baseline: 16-bit products as low and high
   halves, interleaved into 32-bit lanes). */
XY_INLINE void pn_row(uint16_t *restrict A, const uint32_t *restrict tgt, const uint64_t *restrict pn,
                      int32_t lo, int32_t hi, int32_t m) {
  int32_t e;
#if defined(__GNUC__) && defined(__x86_64__)
  if (m == 1) {
    for (e = lo; e < hi; e++) {
      uint16_t *a = A + 4 * tgt[e];
      _mm_storel_epi64((__m128i *)a, _mm_adds_epu16(_mm_loadl_epi64((const __m128i *)a),
                                                    _mm_loadl_epi64((const __m128i *)(pn + e))));
    }
  } else {                              /* m * h saturated: the low half where the high half is 0 */
    const __m128i mm = _mm_set1_epi16((short)m), z = _mm_setzero_si128();
    for (e = lo; e < hi; e++) {
      uint16_t *a = A + 4 * tgt[e];
      __m128i h = _mm_loadl_epi64((const __m128i *)(pn + e));
      __m128i over = _mm_andnot_si128(_mm_cmpeq_epi16(_mm_mulhi_epu16(h, mm), z), _mm_set1_epi16(-1));
      h = _mm_or_si128(_mm_mullo_epi16(h, mm), over);
      _mm_storel_epi64((__m128i *)a, _mm_adds_epu16(_mm_loadl_epi64((const __m128i *)a), h));
    }
  }
#else
  for (e = lo; e < hi; e++) {
    uint16_t h[4];
    uint16_t *a = A + 4 * tgt[e];
    int f;
    memcpy(h, &pn[e], 8);
    for (f = 0; f < 4; f++) {
      uint32_t v = a[f] + (uint32_t)m * h[f];
      a[f] = (uint16_t)(v > 65535u ? 65535u : v);
    }
  }
#endif
}

/* The recurrent events of the last step (plist, pre-neurons ascending)
   onto the P/N sums. */
static void rec_pn(const lp_xylo *x, xy_work *w) {
  int32_t k;
  for (k = 0; k < w->np; k++) {
    int32_t p = w->plist[k];
    if (k + 1 < w->np) {                /* the next row, while this one runs */
      int32_t q = x->pair_ptr[w->plist[k + 1]];
      XY_PREFETCH(x->pair_pn + q);
      XY_PREFETCH(x->pair_tgt + q);
    }
    pn_row((uint16_t *)w->acc, x->pair_tgt, x->pair_pn, x->pair_ptr[p], x->pair_ptr[p + 1], w->prev[p]);
  }
}

#if defined(__GNUC__) && defined(__x86_64__)
/* rec_pn for AVX2 builds: the same saturating 4-lane adds (the SSE2 ones,
   compiled with VEX encodings), four pairs per round when m is 1. */
__attribute__((target("avx2")))
static void rec_pn_avx2(const lp_xylo *x, xy_work *w) {
  const uint32_t *restrict tgt = x->pair_tgt;
  uint64_t *restrict A = (uint64_t *)w->acc;   /* a slot: one 64-bit word */
  const uint64_t *restrict pn = x->pair_pn;
  int32_t k, e;
  for (k = 0; k < w->np; k++) {
    int32_t p = w->plist[k], lo = x->pair_ptr[p], hi = x->pair_ptr[p + 1], m = w->prev[p];
    if (k + 1 < w->np) {
      int32_t q = x->pair_ptr[w->plist[k + 1]];
      XY_PREFETCH(pn + q);
      XY_PREFETCH(tgt + q);
    }
    if (m == 1) {                       /* the slot's load is 16 bytes (the next slot's word rides
                                           along, unstored; acc has room after the last): one
                                           memory operand of the saturating add */
#define XY_PAIR_ADD(u) do { uint64_t *a_ = A + tgt[e + (u)]; \
  _mm_storel_epi64((__m128i *)a_, _mm_adds_epu16(_mm_loadl_epi64((const __m128i *)(pn + e + (u))), \
                                                 _mm_loadu_si128((const __m128i *)a_))); } while (0)
      for (e = lo; e + 4 <= hi; e += 4) {
        XY_PAIR_ADD(0); XY_PAIR_ADD(1); XY_PAIR_ADD(2); XY_PAIR_ADD(3);
      }
#undef XY_PAIR_ADD
      if (e < hi) pn_row((uint16_t *)A, tgt, pn, e, hi, 1);
    } else {
      pn_row((uint16_t *)A, tgt, pn, lo, hi, m);
    }
  }
}
#endif

/* The same, one add per synapse (x->by_pair unset). */
static void rec_pn_syn(const lp_xylo *x, xy_work *w) {
  uint32_t *restrict A = w->acc;
  const uint32_t *restrict idx = x->ev_idx;
  const uint16_t *restrict val = x->ev_val;
  int32_t k, e;
  for (k = 0; k < w->np; k++) {
    int32_t p = w->plist[k], lo = x->rec_ptr[p], hi = x->rec_ptr[p + 1];
    uint32_t m = w->prev[p];
    if (k + 1 < w->np) {
      int32_t q = x->rec_ptr[w->plist[k + 1]];
      XY_PREFETCH(idx + q);
      XY_PREFETCH(val + q);
    }
    if (m == 1) {                       /* 16 events a round: 3 instructions each (two loads, one
                                           add to memory), the loop's 4 shared */
      const uint32_t *ip = idx + lo, *ie = idx + hi;
      const uint16_t *vp = val + lo;
#define XY_EV(u) A[ip[u]] += vp[u]
      for (; ie - ip >= 16; ip += 16, vp += 16) {
        XY_EV(0); XY_EV(1); XY_EV(2); XY_EV(3); XY_EV(4); XY_EV(5); XY_EV(6); XY_EV(7);
        XY_EV(8); XY_EV(9); XY_EV(10); XY_EV(11); XY_EV(12); XY_EV(13); XY_EV(14); XY_EV(15);
      }
#undef XY_EV
      for (; ip < ie; ip++, vp++) A[*ip] += *vp;
    } else {
      for (e = lo; e < hi; e++) A[idx[e]] += m * val[e];
    }
  }
}

/* A neuron the P/N sums could not settle: its recurrent events of the last
   step in order, saturating (pre-neurons ascending), then its integration. */
static void replay_one(const lp_xylo *x, xy_work *w, int32_t j) {
  int32_t nh = x->nhid, e, a = w->isyn[j], b = w->isyn[nh + j];
  for (e = x->inc_ptr[j]; e < x->inc_ptr[j + 1]; e++) {
    int32_t m = w->prev[x->inc_pre[e]];
    if (m) {
      a = sat16(a + m * x->inc_w[2 * e]);
      b = sat16(b + m * x->inc_w[2 * e + 1]);
    }
  }
  a -= leak(a, x->dsyn[j]);
  b -= leak(b, x->dsyn[nh + j]);
  w->isyn[j] = a;
  w->isyn[nh + j] = b;
  w->vmem[j] = vmem_step(w->vmem[j], x->dmem[j], a + b, x->bias[j]);
}

/* One time step. ref: the plain reference (every event one ordered
   saturating add through the CSR lists, portable kernels). */
static void xy_step(const lp_xylo *x, xy_work *w, const uint8_t *in, const xy_rec *r, const xy_kernels *kern,
                    int ref) {
  int32_t nh = x->nhid, no = x->nout, i, k, nc = 0, unsorted = 0, width = x->nsyn * x->nhid;
  int32_t *I = w->isyn, *V = w->vmem, *Io = w->isyn_o, *Vo = w->vmem_o;
  uint8_t *cur = w->cur, *F = w->fire;
  const int32_t *th = x->th;
  int pn = !ref && x->pn && w->np, listed = 0;
  int fused = pn;                       /* the input rows delivered in the integration pass */
  xy_rows rows;
  rows.n = 0;
  rows.nsyn = 1;                        /* 2 once a row has a syn-2 weight */
  rows.th = th;
  rows.planes = x->by_pair ? 0 : XY_PN_BLK;
  rows.L = w->clist;
  rows.nl = 0;
  rows.nt = x->nt16;
  rows.d0 = x->nt_d0;
  for (i = 0; fused && i < x->nin; i++) {
    if (!in[i]) continue;
    if (x->in_dense[i] < 0 || rows.n == XY_FUSE) fused = 0;
    else {
      rows.w[rows.n] = x->dense + (size_t)x->in_dense[i] * width;
      rows.w16[rows.n] = x->dense16 + (size_t)x->in_dense[i] * width;
      rows.m[rows.n++] = in[i];
      if (x->dense_span[2 * x->in_dense[i] + 1] > nh) rows.nsyn = 2;
    }
  }
  if (!fused) rows.n = 0;
  /* 1. input events, channels ascending (counts already clipped to 15) */
  for (i = 0; !fused && i < x->nin; i++) {
    int32_t d = x->in_dense[i];
    if (!in[i]) continue;
    if (d >= 0 && !ref) {
      const int32_t *sp = x->dense_span + 2 * d;
      kern->dense(I + sp[0], x->dense + (size_t)d * width + sp[0], sp[1] - sp[0], in[i]);
    } else {
      deliver(I, x->in_tgt, x->in_w, x->in_ptr[i], x->in_ptr[i + 1], in[i]);
    }
  }
  /* 2. and 3. hidden counts of the last step, pre-neurons ascending */
  if (pn) {
    if (x->by_pair) kern->pairs(x, w);
    else rec_pn_syn(x, w);
  }
  if (!pn)
    for (k = 0; k < w->np; k++) {
      int32_t p = w->plist[k];
      deliver(I, x->rec_tgt, x->rec_w, x->rec_ptr[p], x->rec_ptr[p + 1], w->prev[p]);
    }
  if (x->out_is_dense && !ref) kern->outrows(Io, x->out_dense, no, w->plist, w->np, w->prev);
  else
    for (k = 0; k < w->np; k++) {
      int32_t p = w->plist[k];
      deliver(Io, x->out_tgt, x->out_w, x->out_ptr[p], x->out_ptr[p + 1], w->prev[p]);
    }
  /* 5. hidden neurons: integrate all, then spikes and aliases in id order */
  if (pn) {                             /* the P/N sums settled in the same pass */
    int32_t nf = kern->integrate_pn(nh, I, I + nh, V, w->acc, x->dsyn, x->dsyn + nh, x->dmem, x->bias, w->flist, &rows), f;
    int32_t nr = 0, a, o;
    for (f = 0; f < nf; f++) {          /* replayed, then those at threshold kept (ascending) */
      int32_t j = w->flist[f];
      replay_one(x, w, j);
      if (V[j] >= th[j]) w->flist[nr++] = j;
    }
    a = rows.nl - 1;                    /* merged into the list from the back */
    for (o = rows.nl + nr - 1, f = nr - 1; f >= 0; o--)
      w->clist[o] = a >= 0 && w->clist[a] > w->flist[f] ? w->clist[a--] : w->flist[f--];
    rows.nl += nr;
    listed = 1;
  } else {
    kern->integrate(nh, x->nsyn, I, I + nh, V, x->dsyn, x->dsyn + nh, x->dmem, x->bias);
  }
  memset(cur, 0, (size_t)x->nhid_bytes);
  if (!x->n_alias) {                    /* only the neurons at threshold, listed ascending */
    nc = listed ? rows.nl : kern->list(nh, V, th, w->clist);
    for (k = 0; k < nc; k++) {
      int32_t j = w->clist[k];
      cur[j] = (uint8_t)fire(&V[j], th[j], 0, XY_MAX_HID);
    }
  } else {
    kern->flags(nh, V, th, F);
    for (i = 0; i < nh; i++) {
      int32_t n = cur[i];
      if (F[i] && n < XY_MAX_HID) n = fire(&V[i], th[i], n, XY_MAX_HID);
      if (n) {
        cur[i] = (uint8_t)n;
        w->clist[nc++] = i;
        for (k = x->alias_ptr[i]; k < x->alias_ptr[i + 1]; k++) {
          int32_t a = x->alias_idx[k], sa = cur[a] + n;
          if (a < i && cur[a] == 0) unsorted = 1;
          cur[a] = (uint8_t)(sa > XY_MAX_HID ? XY_MAX_HID : sa);
        }
      }
    }
    if (unsorted) {                     /* an alias lit a lower id: rebuild */
      nc = 0;
      for (i = 0; i < nh; i++) if (cur[i]) w->clist[nc++] = i;
    }
  }
  /* 6. output neurons */
  for (k = 0; k < no; k++) {
    int32_t a = Io[k], v, n = 0;
    a -= leak(a, x->dsyn_o[k]);
    Io[k] = a;
    v = vmem_step(Vo[k], x->dmem_o[k], a, x->bias_o[k]);
    if (v >= x->th_o[k]) n = fire(&v, x->th_o[k], 0, XY_MAX_OUT);
    Vo[k] = v;
    if (r->out) r->out[k] = n;
    if (r->vmem_o) r->vmem_o[k] = v;
    if (r->isyn_o) r->isyn_o[k] = a;
  }
  /* 7. records; the counts become the spike buffer */
  if (r->vmem) memcpy(r->vmem, V, (size_t)nh * 4);
  if (r->isyn) memcpy(r->isyn, I, (size_t)nh * 4);
  if (r->isyn2) memcpy(r->isyn2, I + nh, (size_t)nh * 4);
  if (r->spikes) for (i = 0; i < nh; i++) r->spikes[i] = cur[i];
  {
    uint8_t *t8 = w->prev; int32_t *tl = w->plist;
    w->prev = w->cur; w->cur = t8;
    w->plist = w->clist; w->clist = tl;
    w->np = nc;
  }
}

void lp_xylo_result_release(lp_xylo_result *r) {
  if (!r) return;
  lp_tensor_release(r->output); lp_tensor_release(r->vmem); lp_tensor_release(r->isyn);
  lp_tensor_release(r->isyn2); lp_tensor_release(r->spikes); lp_tensor_release(r->vmem_out);
  lp_tensor_release(r->isyn_out);
  memset(r, 0, sizeof *r);
}

/* Input counts as bytes clipped to 15; every value a non-negative integer. */
static lp_status convert_input(lp_ctx *ctx, const lp_tensor *t, uint8_t *dst) {
  int64_t i, n = lp_tensor_numel(t);
  lp_dtype dt = lp_tensor_dtype(t);
  if (lp_tensor_is_contiguous(t) && dt == LP_U8) {
    const uint8_t *src = lp_tensor_data(t);
    for (i = 0; i < n; i++) dst[i] = src[i] > XY_MAX_IN ? XY_MAX_IN : src[i];
    return LP_OK;
  }
  if (lp_tensor_is_contiguous(t) && dt == LP_I32) {  /* the common dtypes without a per-value call */
    const int32_t *src = lp_tensor_data(t);
    for (i = 0; i < n; i++) {
      if (src[i] < 0)
        return lp_ctx_error(ctx, LP_EARG, 1, "input counts must be non-negative (got %lld)", (long long)src[i]);
      dst[i] = (uint8_t)(src[i] > XY_MAX_IN ? XY_MAX_IN : src[i]);
    }
    return LP_OK;
  }
  if (lp_tensor_is_contiguous(t) && dt == LP_F32) {
    const float *src = lp_tensor_data(t);
    for (i = 0; i < n; i++) {
      float v = src[i];
      if (!(v >= 0) || v != floorf(v))
        return lp_ctx_error(ctx, LP_EARG, 1, "input counts must be non-negative integers (got %g)", (double)v);
      dst[i] = (uint8_t)(v > XY_MAX_IN ? XY_MAX_IN : v);
    }
    return LP_OK;
  }
  for (i = 0; i < n; i++) {
    lp_scalar v = lp_tensor_get_flat(t, i);
    if (v.isint) {
      if (v.i < 0)
        return lp_ctx_error(ctx, LP_EARG, 1, "input counts must be non-negative (got %lld)", (long long)v.i);
      dst[i] = (uint8_t)(v.i > XY_MAX_IN ? XY_MAX_IN : v.i);
    } else {
      if (!(v.f >= 0) || v.f != floor(v.f))
        return lp_ctx_error(ctx, LP_EARG, 1, "input counts must be non-negative integers (got %g)", v.f);
      dst[i] = (uint8_t)(v.f > XY_MAX_IN ? XY_MAX_IN : v.f);
    }
  }
  return LP_OK;
}

static int32_t *rowptr(lp_tensor *t, int64_t off) { return t ? (int32_t *)lp_tensor_data(t) + off : NULL; }

lp_status lp_xylo_evolve(lp_ctx *ctx, lp_xylo *x, const lp_tensor *input, lp_xylo_mode mode, int record,
                         lp_xylo_result *out) {
  int64_t B, T, nin, b, t, nh = x->nhid, no = x->nout;
  int nd;
  size_t off, bytes, acc_n;
  char *blk = NULL;
  uint8_t *counts;
  int32_t *f_isyn, *f_vmem, *f_isyn_o, *f_vmem_o;
  uint8_t *f_spk;
  xy_work w;
  lp_status st = LP_OK;
  xy_kernels kern;
  memset(out, 0, sizeof *out);
  pick_kernels(&kern, x->path);
  nd = lp_tensor_ndim(input);
  if (nd != 2 && nd != 3)
    return lp_ctx_error(ctx, LP_ESHAPE, 1, "input: expected (T, %d) or (B, T, %d) counts, got %d dims",
                        x->nin, x->nin, nd);
  B = nd == 3 ? lp_tensor_shape(input)[0] : 1;
  T = lp_tensor_shape(input)[nd - 2];
  nin = lp_tensor_shape(input)[nd - 1];
  if (nin != x->nin)
    return lp_ctx_error(ctx, LP_ESHAPE, 1, "input: expected %d channels, got %lld", x->nin, (long long)nin);
  if ((int)mode < 0 || mode > LP_XYLO_ISYN) return lp_ctx_error(ctx, LP_EARG, 3, "unknown output mode");
  /* outputs */
  if ((st = new_i32(ctx, 3, B, T, no, &out->output))) goto fail;
  if (record) {
    if ((st = new_i32(ctx, 3, B, T, nh, &out->vmem)) || (st = new_i32(ctx, 3, B, T, nh, &out->isyn)) ||
        (x->nsyn == 2 && (st = new_i32(ctx, 3, B, T, nh, &out->isyn2))) ||
        (st = new_i32(ctx, 3, B, T, nh, &out->spikes)) || (st = new_i32(ctx, 3, B, T, no, &out->vmem_out)) ||
        (st = new_i32(ctx, 3, B, T, no, &out->isyn_out)))
      goto fail;
  }
  /* working memory, all of it before the loop */
  off = 0;
  {
    size_t n4 = (size_t)(2 * nh + nh + 2 * no);
    size_t width = (size_t)x->nsyn * (size_t)nh;
    acc_n = 4 * (((size_t)nh + 15) & ~(size_t)15);
    bytes = align64(n4 * 4) * 2 + align64((size_t)nh) * 3 + align64((size_t)nh * 4) * 2 +
            align64(acc_n * 4) + 64 + align64(width * 4) + align64((size_t)nh + 8) + align64((size_t)(B * T * nin));
  }
  if (!(blk = lp_ctx_alloc_raw(ctx, bytes))) { st = LP_ENOMEM; goto fail; }
  w.isyn = (int32_t *)blk; w.vmem = w.isyn + 2 * nh; w.isyn_o = w.vmem + nh; w.vmem_o = w.isyn_o + no;
  off += align64((size_t)(2 * nh + nh + 2 * no) * 4);
  f_isyn = (int32_t *)(blk + off); f_vmem = f_isyn + 2 * nh; f_isyn_o = f_vmem + nh; f_vmem_o = f_isyn_o + no;
  off += align64((size_t)(2 * nh + nh + 2 * no) * 4);
  w.prev = (uint8_t *)(blk + off); off += align64((size_t)nh);
  w.cur = (uint8_t *)(blk + off); off += align64((size_t)nh);
  f_spk = (uint8_t *)(blk + off); off += align64((size_t)nh);
  w.plist = (int32_t *)(blk + off); off += align64((size_t)nh * 4);
  w.clist = (int32_t *)(blk + off); off += align64((size_t)nh * 4);
  w.acc = (uint32_t *)(((uintptr_t)(blk + off) + 63) & ~(uintptr_t)63); off += align64(acc_n * 4) + 64;
  w.flist = (int32_t *)(blk + off); off += align64((size_t)x->nsyn * (size_t)nh * 4);
  w.fire = (uint8_t *)(blk + off); off += align64((size_t)nh + 8);
  memset(w.acc, 0, acc_n * 4);
  memset(w.fire, 0, (size_t)nh + 8);
  counts = (uint8_t *)(blk + off);
  if ((st = convert_input(ctx, input, counts))) goto fail;
  for (b = 0; b < B; b++) {
    int32_t i;
    memcpy(w.isyn, x->isyn, (size_t)nh * 8);
    memcpy(w.vmem, x->vmem, (size_t)nh * 4);
    memcpy(w.isyn_o, x->isyn_o, (size_t)no * 4);
    memcpy(w.vmem_o, x->vmem_o, (size_t)no * 4);
    memcpy(w.prev, x->spk, (size_t)nh);
    w.np = 0;
    for (i = 0; i < nh; i++) if (w.prev[i]) w.plist[w.np++] = i;
    for (t = 0; t < T; t++) {
      xy_rec r;
      int64_t ro = (b * T + t) * nh, oo = (b * T + t) * no;
      if ((st = lp_ctx_check_interrupt(ctx)) != LP_OK) goto fail;
      memset(&r, 0, sizeof r);
      r.vmem = rowptr(out->vmem, ro); r.isyn = rowptr(out->isyn, ro); r.isyn2 = rowptr(out->isyn2, ro);
      r.spikes = rowptr(out->spikes, ro); r.vmem_o = rowptr(out->vmem_out, oo); r.isyn_o = rowptr(out->isyn_out, oo);
      if (mode == LP_XYLO_SPIKE) r.out = rowptr(out->output, oo);
      else if (!record) {
        if (mode == LP_XYLO_VMEM) r.vmem_o = rowptr(out->output, oo);
        else r.isyn_o = rowptr(out->output, oo);
      }
      xy_step(x, &w, counts + (b * T + t) * nin, &r, &kern, x->path == LP_XYLO_PATH_REFERENCE);
    }
    if (record && mode != LP_XYLO_SPIKE)  /* output is a copy of a record */
      memcpy(rowptr(out->output, b * T * no), rowptr(mode == LP_XYLO_VMEM ? out->vmem_out : out->isyn_out, b * T * no),
             (size_t)(T * no) * 4);
    if (b == 0) {
      memcpy(f_isyn, w.isyn, (size_t)(2 * nh + nh + 2 * no) * 4);
      memcpy(f_spk, w.prev, (size_t)nh);
    }
  }
  if (B > 0) {
    memcpy(x->isyn, f_isyn, (size_t)nh * 8);
    memcpy(x->vmem, f_vmem, (size_t)nh * 4);
    memcpy(x->isyn_o, f_isyn_o, (size_t)no * 4);
    memcpy(x->vmem_o, f_vmem_o, (size_t)no * 4);
    memcpy(x->spk, f_spk, (size_t)nh);
  }
  lp_ctx_dealloc(ctx, blk, bytes);
  return LP_OK;
fail:
  if (blk) lp_ctx_dealloc(ctx, blk, bytes);
  lp_xylo_result_release(out);
  return st;
}
