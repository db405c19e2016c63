/*
** core/src/lif.c -- fused neuron ops: LIF (with recurrence and aLIF
** after-hyperpolarisation), ExpSyn and Rate over all T steps, each one
** autograd node with a hand-written BPTT backward.
** Owns: argument checking, buffer allocation (all before the time loop),
** recording the node and what it saves, reducing per-row gradient partial
** sums, the gradients of w_rec and of the fused projection (w_in, x), and
** the float32 AVX2 / FMA fast paths (each beside its plain reference in
** neuron_kernels.h, chosen at run time by CPU). The time loops themselves,
** forward and backward side by side, are in neuron_kernels.h (float and
** double).
** Not here: taus -> decays and module state (stdlib/limpet/nn/).
** Shapes: (B, T, N) = batch, time, neurons; K = k*N input columns.
** Recurrent product: forward gathers the rows of w_rec of the neurons that
** spiked (spikes are sparse: cost ~ spikes*K rather than N*K); backward
** needs W.dc per step (only for the neurons inside the surrogate's window;
** float32 on AVX2+FMA: all of a thread's batch rows at once, each W row read
** once per step) and dW = sum_t s_{t-1}^T dc_t, done after the loop over all
** (b, t) as gathers over each neuron's spike events (one GEMM when they are
** dense).
** With w_in, x may be uint8 / bool spikes, indexed as bytes; dL/dw_in
** gathers over each input's events, dL/dx of a narrow layer (K <= 32) by
** FMA rows, else a GEMM.
*/
#include "limpet/neuron.h"
#include "limpet/autograd.h"
#include "limpet/ops.h"
#include "sparse.h"
#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* The per-step loops are unit-stride vector loops: O3, and on x86-64 with
   GCC AVX-512 / AVX2 / baseline versions chosen at load time. */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC optimize("O3", "no-trapping-math")   /* no value changes: lets floor vectorise */
#endif
#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && defined(__linux__)
#define LIF_CLONES __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#define LIF_CLONES
#endif

typedef struct lif_dims {
  int64_t B, T, N, k;
  int threads;
  lp_surrogate sg;
  double window, scale, maxs;
  int membrane_only;          /* LIFNeuron: isyn_t = x_t, no synaptic memory */
  int64_t F;                  /* w_rec's targets per neuron (rec_targets), 0: dense */
  int tgblk;                  /* the targets are runs of 8 adjacent columns from multiples of 8 */
} lif_dims;

typedef struct lif_tensors {
  lp_tensor *x, *alpha, *beta, *bias, *th, *W, *wahp, *bahp, *noise;  /* contiguous, compute dtype */
  lp_tensor *v, *isyn, *s, *iahp;          /* (B, N) ... running state -> final  */
  lp_tensor *S, *V, *Isr, *Rec, *Iar;     /* outputs (Iar: aLIF iahp record)    */
  lp_tensor *U, *C, *A, *V0, *S0;          /* saved for backward                 */
  lp_tensor *win, *bin;                    /* fused input projection (or NULL)   */
  lp_tensor *xrp, *xix, *xval;             /* x's index when sparse: int64, int32, dt */
  lp_tensor *xin;                          /* x (B, T, Nin) when dense and fused */
  lp_tensor *tg;                           /* rec_targets (N, F) as int32, or NULL */
  lp_tensor *wv;                           /* w_rec at the targets, packed (N, F) */
} lif_tensors;

/* The recurrent backward's dot products with fused multiply-adds (float32,
   x86-64 with AVX2 and FMA), for a block of batch rows at one step:
   dL/ds_{t-1}[r][m] = W[m, :] . dc_r for the (r, m) whose membrane
   u_prev[r][m] (step t-1) is within the StepPWL window of threshold, zero
   elsewhere, as lif_rec_back_f32 (the plain reference beside it in
   neuron_kernels.h, one row at a time) computes them, each sum with one
   rounding per multiply-add instead of two (so not the same bits:
   spec/lif_fast_spec.lua holds both to the general loop). Row m of W is
   read once for all the rows that need it (up to six at a time: six dc
   rows against the same W loads), not once per batch row: W (N x N, past
   L1) streamed from L2 once per step instead of once per (row, step), and
   a quarter fewer instructions per product. Each (r, m) sums in one fixed
   order whatever rows share its pass (so on any thread count): two 8-lane
   accumulators over 16 columns, 8 more columns into the first, the two
   added, their lanes in a fixed tree (four rows' at once by horizontal
   adds), then a scalar tail. */
#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && defined(__linux__)
#include <immintrin.h>
/* out[i] = w . dc[i] for i < G (G a constant where it is inlined; out holds 8) */
static inline __attribute__((always_inline, target("avx2,fma"))) void fma_dots_f32(int G, int64_t N,
                                                                                    const float *restrict w,
                                                                                    const float *const *dc,
                                                                                    float *out) {
  __m256 a[6], b[6];
  int i;
  int64_t j = 0;
  for (i = 0; i < G; i++) { a[i] = _mm256_setzero_ps(); b[i] = _mm256_setzero_ps(); }
  for (; j + 16 <= N; j += 16) {
    const __m256 w0 = _mm256_loadu_ps(w + j), w1 = _mm256_loadu_ps(w + j + 8);
    for (i = 0; i < G; i++) {
      a[i] = _mm256_fmadd_ps(w0, _mm256_loadu_ps(dc[i] + j), a[i]);
      b[i] = _mm256_fmadd_ps(w1, _mm256_loadu_ps(dc[i] + j + 8), b[i]);
    }
  }
  if (j + 8 <= N) {
    const __m256 w0 = _mm256_loadu_ps(w + j);
    for (i = 0; i < G; i++) a[i] = _mm256_fmadd_ps(w0, _mm256_loadu_ps(dc[i] + j), a[i]);
    j += 8;
  }
  {                     /* each row's lanes x = a + b: ((x0+x1)+(x2+x3)) + ((x4+x5)+(x6+x7)), four rows per hadd tree */
    __m256 x[8];
    for (i = 0; i < 8; i++) x[i] = i < G ? _mm256_add_ps(a[i], b[i]) : _mm256_setzero_ps();
    for (i = 0; i < G; i += 4) {
      const __m256 q = _mm256_hadd_ps(_mm256_hadd_ps(x[i], x[i + 1]), _mm256_hadd_ps(x[i + 2], x[i + 3]));
      _mm_storeu_ps(out + i, _mm_add_ps(_mm256_castps256_ps128(q), _mm256_extractf128_ps(q, 1)));
    }
  }
  if (j < N)
    for (i = 0; i < G; i++) {
      float acc = out[i];
      int64_t k;
      for (k = j; k < N; k++) acc += w[k] * dc[i][k];
      out[i] = acc;
    }
}

__attribute__((target("avx2,fma"))) static void lif_rec_back_rows_fma_f32(int64_t nr, int64_t N, float window,
                                                                          const float *restrict W,
                                                                          const float *restrict th,
                                                                          const float *const *uprev,
                                                                          const float *const *dc,
                                                                          float *const *gs) {
  const __m256 vwin = _mm256_set1_ps(window);
  int64_t r0, m0;
  for (r0 = 0; r0 < nr; r0 += 64)              /* blocks of up to 64 rows ... */
    for (m0 = 0; m0 < N; m0 += 256) {          /* ... and 256 neurons */
      const int64_t nb = nr - r0 < 64 ? nr - r0 : 64, m1 = N - m0 < 256 ? N : m0 + 256;
      uint64_t msk[256];                       /* bit r: row r0 + r needs neuron m0 + k's dot */
      uint8_t mb[32][64];                      /* the window bits of eight neurons, a byte per row */
      int64_t r, m;
      const int64_t m8 = m0 + ((m1 - m0) & ~(int64_t)7);
      /* each row's neurons inside the window, by 8-lane compares (NaN:
         outside, as `>=` has it): a byte per (row, eight neurons), rows past
         nb zero; then each neuron's bit of those bytes across the rows, by
         movemasks of the bytes shifted up (a transpose of 8 x 64 bits),
         into its row mask; gs zeroed (the neurons outside keep the zero) */
      if (nb < 64) memset(mb, 0, sizeof mb);
      for (m = m8; m < m1; m++) msk[m - m0] = 0;
      for (r = 0; r < nb; r++) {
        const float *u = uprev[r0 + r];
        float *g = gs[r0 + r];
        for (m = m0; m < m8; m += 8) {
          mb[(m - m0) >> 3][r] = (uint8_t)_mm256_movemask_ps(
              _mm256_cmp_ps(_mm256_loadu_ps(u + m), _mm256_sub_ps(_mm256_loadu_ps(th + m), vwin), _CMP_GE_OQ));
          _mm256_storeu_ps(g + m, _mm256_setzero_ps());
        }
        for (; m < m1; m++) {
          g[m] = 0;
          if (u[m] >= th[m] - window) msk[m - m0] |= (uint64_t)1 << r;
        }
      }
      for (m = m0; m < m8; m += 8) {
        __m256i lo = _mm256_loadu_si256((const __m256i *)mb[(m - m0) >> 3]);
        __m256i hi = _mm256_loadu_si256((const __m256i *)(mb[(m - m0) >> 3] + 32));
        int k;
        for (k = 7; k >= 0; k--) {              /* bit k of each byte is its top bit after 7 - k doublings */
          msk[m - m0 + k] = (uint64_t)(uint32_t)_mm256_movemask_epi8(lo) |
                            (uint64_t)(uint32_t)_mm256_movemask_epi8(hi) << 32;
          lo = _mm256_add_epi8(lo, lo);
          hi = _mm256_add_epi8(hi, hi);
        }
      }
      /* each neuron's rows, ascending, six at a time (the rest in one last
         group): the same groups as a list of them would give */
      for (m = m0; m < m1; m++) {
        const float *w = W + m * N;
        uint64_t bits = msk[m - m0];
        while (bits) {
          const float *dca[6];
          float out[8];
          int rr[6], G = 0, q;
          do {
            const int r1 = __builtin_ctzll(bits);
            bits &= bits - 1;
            rr[G] = r1;
            dca[G++] = dc[r0 + r1];
          } while (bits && G < 6);
          switch (G) {
          case 6: fma_dots_f32(6, N, w, dca, out); break;
          case 5: fma_dots_f32(5, N, w, dca, out); break;
          case 4: fma_dots_f32(4, N, w, dca, out); break;
          case 3: fma_dots_f32(3, N, w, dca, out); break;
          case 2: fma_dots_f32(2, N, w, dca, out); break;
          default: fma_dots_f32(1, N, w, dca, out); break;
          }
          for (q = 0; q < G; q++) gs[r0 + rr[q]][m] = out[q];
        }
      }
    }
}
#define LIF_REC_BACK_ROWS_FAST lif_rec_back_rows_fma_f32
/* lif_sprev_scan_f32 (neuron_kernels.h, its plain reference) with eight
   compares at a time: the bits of the nonzero values (NaN included, -0
   not: _CMP_NEQ_UQ is `!=`), then the set ones in ascending order; the
   same lists. */
__attribute__((target("avx2"))) static int64_t lif_sprev_scan_avx2_f32(int64_t B, int64_t T, int64_t N,
                                                                      const float *S, const float *S0,
                                                                      int64_t cap, int32_t *em, int64_t *rowp,
                                                                      int64_t *cnt, int *ones) {
  const __m256 z = _mm256_setzero_ps(), one = _mm256_set1_ps(1.0f);
  int64_t b, t, m, nnz = 0;
  unsigned notone = 0;
  for (m = 0; m < N; m++) cnt[m] = 0;
  for (b = 0; b < B; b++)
    for (t = 0; t < T; t++) {
      const float *sp = t ? S + (b * T + t - 1) * N : S0 + b * N;
      rowp[b * T + t] = nnz;
      for (m = 0; m + 8 <= N; m += 8) {
        const __m256 x = _mm256_loadu_ps(sp + m);
        unsigned bits = (unsigned)_mm256_movemask_ps(_mm256_cmp_ps(x, z, _CMP_NEQ_UQ));
        if (!bits) continue;
        if (nnz + __builtin_popcount(bits) > cap) return -1;
        notone |= bits & ~(unsigned)_mm256_movemask_ps(_mm256_cmp_ps(x, one, _CMP_EQ_OQ));
        while (bits) {
          const int64_t k = m + __builtin_ctz(bits);
          em[nnz++] = (int32_t)k;
          cnt[k]++;
          bits &= bits - 1;
        }
      }
      for (; m < N; m++)
        if (sp[m] != 0) {
          if (nnz == cap) return -1;
          em[nnz++] = (int32_t)m;
          cnt[m]++;
          notone |= sp[m] != 1;
        }
    }
  rowp[B * T] = nnz;
  *ones = !notone;
  return nnz;
}

/* lif_actives_f32 (neuron_kernels.h, its plain reference) with eight
   compares at a time (_CMP_NEQ_UQ is `!=`: NaN active, -0 not): the next
   up to 64 (+7) active neurons from *pm on, ascending; the same list. */
__attribute__((target("avx2"))) static int64_t lif_actives_avx2_f32(int64_t N, const float *restrict s, int64_t *pm,
                                                                   int32_t *act) {
  const __m256 z = _mm256_setzero_ps();
  int64_t m = *pm, na = 0;
  while (m < N && na < 64) {
    if (m + 8 <= N) {
      unsigned bits = (unsigned)_mm256_movemask_ps(_mm256_cmp_ps(_mm256_loadu_ps(s + m), z, _CMP_NEQ_UQ));
      while (bits) {
        act[na++] = (int32_t)(m + __builtin_ctz(bits));
        bits &= bits - 1;
      }
      m += 8;
    } else {
      if (s[m] != 0) act[na++] = (int32_t)m;
      m++;
    }
  }
  *pm = m;
  return na;
}
#define LIF_ACTIVES_FAST lif_actives_avx2_f32
#define LIF_ACTIVES_FAST_OK() (__builtin_cpu_supports("avx2"))

/* dL/dx of the fused input projection when the layer is narrow (K <= 32:
   W1's readout, 256 -> 20): rows r0..r1 of C (R, nin) = D (R, K) . wT
   (wT = w_in^T, (K, nin), made by the caller), each element summed over k
   ascending from 0 by fused multiply-adds (vector or scalar: the same
   bits, on any thread count); 64 columns at a time, then 8, then one. The
   reference is the GEMM the wider layers take (spec/fusion_spec.lua holds
   them together). OpenBLAS spent more zeroing C and packing than on the
   products at this shape (callgrind, W1r: 8.6 M of 84 M per step). */
__attribute__((target("avx2,fma"))) static void lif_in_back_fma_f32(int64_t r0, int64_t r1, int64_t K, int64_t nin,
                                                                   const float *restrict D,
                                                                   const float *restrict wT,
                                                                   float *restrict C) {
  int64_t i, j, k, q;
  for (i = r0; i < r1; i++) {
    const float *d = D + i * K;
    float *c = C + i * nin;
    for (j = 0; j + 64 <= nin; j += 64) {
      __m256 a[8];
      for (q = 0; q < 8; q++) a[q] = _mm256_setzero_ps();
      for (k = 0; k < K; k++) {
        const __m256 dk = _mm256_broadcast_ss(d + k);
        const float *w = wT + k * nin + j;
        for (q = 0; q < 8; q++) a[q] = _mm256_fmadd_ps(dk, _mm256_loadu_ps(w + 8 * q), a[q]);
      }
      for (q = 0; q < 8; q++) _mm256_storeu_ps(c + j + 8 * q, a[q]);
    }
    for (; j + 8 <= nin; j += 8) {
      __m256 a = _mm256_setzero_ps();
      for (k = 0; k < K; k++) a = _mm256_fmadd_ps(_mm256_broadcast_ss(d + k), _mm256_loadu_ps(wT + k * nin + j), a);
      _mm256_storeu_ps(c + j, a);
    }
    for (; j < nin; j++) {
      __m128 a = _mm_setzero_ps();
      for (k = 0; k < K; k++) a = _mm_fmadd_ss(_mm_load_ss(d + k), _mm_load_ss(wT + k * nin + j), a);
      c[j] = _mm_cvtss_f32(a);
    }
  }
}
/* The spike count of u against threshold t as lif_step1 has it, eight lanes:
   floor(u / t) clamped to [0, maxs] (min, max: `q > maxs ? maxs : q` and
   `. < 0 ? 0 : .` exactly, NaN and -0 included), and 0 where u < t (an AND
   leaves +0). Shared by the AVX2 forward and backward steps below. */
__attribute__((target("avx2"))) static inline __m256 lif_spike_avx2(__m256 u, __m256 t, __m256 mx) {
  const __m256 q = _mm256_round_ps(_mm256_div_ps(u, t), _MM_FROUND_TO_NEG_INF | _MM_FROUND_NO_EXC);
  return _mm256_and_ps(_mm256_max_ps(_mm256_setzero_ps(), _mm256_min_ps(mx, q)), _mm256_cmp_ps(u, t, _CMP_GE_OQ));
}
/* the lanes below rem (1..7) of a masked load or store of the last N % 8 */
__attribute__((target("avx2"))) static inline __m256i lif_tail_mask_avx2(int64_t rem) {
  return _mm256_cmpgt_epi32(_mm256_set1_epi32((int)rem), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}

/* lif_step1_f32 (neuron_kernels.h, its plain reference) without noise,
   eight neurons per AVX2 operation, the last N % 8 by masked loads and
   stores: the same operations in the same order (u = ((alpha v + is) +
   bias) + 0, its floor(u / th)), so the same bits; the spike count's two
   clamps and the threshold test as min, max and an AND: min(maxs, q) is
   `q > maxs ? maxs : q` and max(0, .) is `. < 0 ? 0 : .` exactly (NaN
   and -0 included: the instructions return their second operand when
   unordered or equal), the mask of u >= th leaves +0 where the reference
   writes 0. Ut, Ct and s may be NULL: not stored (the forward without
   autograd keeps no u or c rows; without w_rec the running spikes are
   needed after the last step only). Issue 17: lif_step1 was 22 % of the
   W1 user forward's instructions, 36 per eight neurons (the clamps as two
   blends of three compares, u and c written to scratch rows). */
__attribute__((target("avx2"))) static void lif_step1_avx2_f32(int64_t N, const float *restrict in,
                                                              const float *restrict alpha,
                                                              const float *restrict beta,
                                                              const float *restrict bias,
                                                              const float *restrict th, float maxs,
                                                              float *restrict v, float *restrict isyn,
                                                              float *restrict s, float *restrict St,
                                                              float *restrict Ut, float *restrict Ct) {
  const __m256 z = _mm256_setzero_ps(), mx = _mm256_set1_ps(maxs);
  int64_t n = 0;
#define STEP1_AVX2(LD, ST)                                                                              \
  do {                                                                                                  \
    const __m256 cur = _mm256_add_ps(LD(isyn), LD(in));                                                \
    const __m256 is = _mm256_mul_ps(LD(beta), cur);                                                    \
    const __m256 u = _mm256_add_ps(_mm256_add_ps(_mm256_add_ps(_mm256_mul_ps(LD(alpha), LD(v)), is),   \
                                                 LD(bias)), z);                                        \
    const __m256 t = LD(th);                                                                           \
    const __m256 sp = lif_spike_avx2(u, t, mx);                                                       \
    if (Ct) ST(Ct, cur);                                                                               \
    ST(isyn, is);                                                                                      \
    if (Ut) ST(Ut, u);                                                                                 \
    ST(v, _mm256_sub_ps(u, _mm256_mul_ps(sp, t)));                                                     \
    if (s) ST(s, sp);                                                                                  \
    ST(St, sp);                                                                                        \
  } while (0)
#define STEP1_LD(p) _mm256_loadu_ps((p) + n)
#define STEP1_ST(p, x) _mm256_storeu_ps((p) + n, (x))
  for (; n + 8 <= N; n += 8) STEP1_AVX2(STEP1_LD, STEP1_ST);
  if (n < N) {                                 /* the last N % 8: lanes past N neither read nor written */
    const __m256i msk = lif_tail_mask_avx2(N - n);
#define STEP1_MLD(p) _mm256_maskload_ps((p) + n, msk)
#define STEP1_MST(p, x) _mm256_maskstore_ps((p) + n, msk, (x))
    STEP1_AVX2(STEP1_MLD, STEP1_MST);
#undef STEP1_MLD
#undef STEP1_MST
  }
#undef STEP1_LD
#undef STEP1_ST
#undef STEP1_AVX2
}
#define LIF_STEP1_FAST lif_step1_avx2_f32
#define LIF_STEP1_FAST_OK() (__builtin_cpu_supports("avx2"))

/* lif_bstep1_f32 (neuron_kernels.h, its plain reference) by AVX2, eight
   neurons per operation, the last N % 8 by masked loads and stores: the
   same operations in the same order (the absent gS / gV as + 0, as the
   reference adds them; -u as a sign flip), so the same bits; the spike
   counts of u_t and u_{t-1} as lif_step1_avx2_f32 clamps them (min, max,
   AND), the surrogate's window as an AND. Issue 17: lif_bstep1 was 12 % of
   the W1r step (85 instructions per eight neurons, the two spike counts'
   clamps as blends of compares). */
__attribute__((target("avx2"))) static void lif_bstep1_avx2_f32(
    int64_t N, float window, float maxs, const float *restrict alpha, const float *restrict beta,
    const float *restrict th, const float *restrict ith, const float *restrict ith2, const float *restrict U,
    const float *restrict C, const float *restrict Uprev, const float *restrict V0, const float *restrict gS,
    const float *restrict gV, float *restrict gv, float *restrict gs, float *restrict gi, float *restrict dc,
    float *restrict dalpha, float *restrict dbeta, float *restrict dbias, float *restrict dth) {
  const __m256 z = _mm256_setzero_ps(), mx = _mm256_set1_ps(maxs), vw = _mm256_set1_ps(window);
  const __m256 sgn = _mm256_set1_ps(-0.0f);
  int64_t n = 0;
  __m256i msk = _mm256_setzero_si256();
#define BS_SPIKE(u, t) lif_spike_avx2((u), (t), mx)
#define BS_BODY(LD, ST)                                                                                   \
  do {                                                                                                    \
    const __m256 thn = LD(th), u = LD(U);                                                                \
    const __m256 gvn = _mm256_add_ps(LD(gv), gV ? LD(gV) : z);                                           \
    const __m256 gsn = _mm256_sub_ps(_mm256_add_ps(LD(gs), gS ? LD(gS) : z), _mm256_mul_ps(thn, gvn));   \
    const __m256 on = _mm256_cmp_ps(u, _mm256_sub_ps(thn, vw), _CMP_GE_OQ);                              \
    const __m256 su = _mm256_and_ps(on, LD(ith));                                                        \
    const __m256 sth = _mm256_and_ps(on, _mm256_mul_ps(_mm256_xor_ps(u, sgn), LD(ith2)));                \
    const __m256 d_u = _mm256_add_ps(gvn, _mm256_mul_ps(gsn, su));                                       \
    const __m256 di = _mm256_add_ps(d_u, LD(gi)), dcn = _mm256_mul_ps(LD(beta), di);                     \
    __m256 vprev;                                                                                         \
    if (Uprev) {                                                                                          \
      const __m256 up = LD(Uprev);                                                                        \
      vprev = _mm256_sub_ps(up, _mm256_mul_ps(BS_SPIKE(up, thn), thn));                                   \
    } else vprev = LD(V0);                                                                                \
    ST(dth, _mm256_add_ps(LD(dth), _mm256_add_ps(_mm256_mul_ps(_mm256_xor_ps(gvn, sgn), BS_SPIKE(u, thn)), \
                                                  _mm256_mul_ps(gsn, sth))));                            \
    ST(dalpha, _mm256_add_ps(LD(dalpha), _mm256_mul_ps(d_u, vprev)));                                    \
    ST(dbias, _mm256_add_ps(LD(dbias), d_u));                                                            \
    ST(gv, _mm256_mul_ps(LD(alpha), d_u));                                                               \
    ST(dbeta, _mm256_add_ps(LD(dbeta), _mm256_mul_ps(di, LD(C))));                                       \
    ST(dc, dcn);                                                                                          \
    ST(gi, dcn);                                                                                          \
  } while (0)
#define BS_LD(p) _mm256_loadu_ps((p) + n)
#define BS_ST(p, x) _mm256_storeu_ps((p) + n, (x))
#define BS_MLD(p) _mm256_maskload_ps((p) + n, msk)
#define BS_MST(p, x) _mm256_maskstore_ps((p) + n, msk, (x))
  for (; n + 8 <= N; n += 8) BS_BODY(BS_LD, BS_ST);
  if (n < N) {                                 /* the last N % 8: lanes past N neither read nor written */
    msk = lif_tail_mask_avx2(N - n);
    BS_BODY(BS_MLD, BS_MST);
  }
#undef BS_LD
#undef BS_ST
#undef BS_MLD
#undef BS_MST
#undef BS_BODY
#undef BS_SPIKE
}
#define LIF_BSTEP1_FAST lif_bstep1_avx2_f32
#define LIF_BSTEP1_FAST_OK() (__builtin_cpu_supports("avx2"))

#define LIF_IN_BACK_FAST lif_in_back_fma_f32
#define LIF_IN_BACK_FAST_OK() (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))
#define LIF_SPREV_SCAN_FAST lif_sprev_scan_avx2_f32
#define LIF_SPREV_SCAN_FAST_OK() (__builtin_cpu_supports("avx2"))

#define LIF_REC_BACK_FAST_OK() (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))
#endif

#define REAL float
#define FN(name) name##_f32
#define FLOOR_R floorf
#include "neuron_kernels.h"
#undef REAL
#undef FN
#undef LIF_REC_BACK_ROWS_FAST
#undef LIF_ACTIVES_FAST
#undef LIF_REC_BACK_FAST_OK
#undef LIF_STEP1_FAST
#undef LIF_BSTEP1_FAST
#undef FLOOR_R
#define REAL double
#define FN(name) name##_f64
#define FLOOR_R floor
#include "neuron_kernels.h"
#undef REAL
#undef FN
#undef FLOOR_R

/* ---- names ---------------------------------------------------------------- */
static const char *const sg_names[] = {"StepPWL", "PeriodicExponential", "FastSigmoid", "ATan"};

int lp_surrogate_from_name(const char *name, lp_surrogate *out) {
  int i;
  for (i = 0; i < 4; i++)
    if (strcmp(name, sg_names[i]) == 0) { *out = (lp_surrogate)i; return 1; }
  return 0;
}
const char *lp_surrogate_name(lp_surrogate sg) { return (unsigned)sg < 4 ? sg_names[sg] : "?"; }
double lp_surrogate_default_scale(lp_surrogate sg) { return sg == LP_SG_ATAN ? 2.0 : 10.0; }

int lp_rate_act_from_name(const char *name, lp_rate_act *out) {
  static const char *const names[] = {"relu", "tanh", "sigmoid"};
  int i;
  for (i = 0; i < 3; i++)
    if (strcmp(name, names[i]) == 0) { *out = (lp_rate_act)i; return 1; }
  return 0;
}

void lp_lif_opts_default(lp_lif_opts *o) {
  o->surrogate = LP_SG_STEP_PWL;
  o->max_spikes_per_dt = 65536;
  o->learning_window = 0.5;
  o->surrogate_scale = 10;
  o->record = 0;
  o->record_mask = 0;
  o->membrane_only = 0;
}

/* ---- argument helpers ------------------------------------------------------- */
static int same_shape(const lp_tensor *t, int ndim, const int64_t *shape) {
  int i;
  if (lp_tensor_ndim(t) != ndim) return 0;
  for (i = 0; i < ndim; i++) if (lp_tensor_shape(t)[i] != shape[i]) return 0;
  return 1;
}

static lp_status bad_shape(lp_ctx *ctx, int arg, const char *field, const lp_tensor *t, const char *want) {
  char got[160];
  lp_shape_str(lp_tensor_ndim(t), lp_tensor_shape(t), got, sizeof got);
  if (field) return lp_ctx_error(ctx, LP_ESHAPE, arg, "field '%s': expected shape %s, got %s", field, want, got);
  return lp_ctx_error(ctx, LP_ESHAPE, arg, "expected shape %s, got %s", want, got);
}

/* t must have exactly shape (ndim, shape); field names it in the message. */
static lp_status want_shape(lp_ctx *ctx, int arg, const char *field, const lp_tensor *t, int ndim,
                            const int64_t *shape) {
  char want[160];
  if (same_shape(t, ndim, shape)) return LP_OK;
  return bad_shape(ctx, arg, field, t, lp_shape_str(ndim, shape, want, sizeof want));
}

static lp_status required(lp_ctx *ctx, const lp_tensor *t, const char *field) {
  return t ? LP_OK : lp_ctx_error(ctx, LP_EARG, 2, "field '%s' is required", field);
}

/* A contiguous tensor of dtype dt with t's values (t retained when it is one). */
static lp_status prep(lp_ctx *ctx, const lp_tensor *t, lp_dtype dt, lp_tensor **out) {
  *out = NULL;
  if (!t) return LP_OK;
  if (lp_tensor_dtype(t) != dt) return lp_tensor_astype(ctx, t, dt, out);
  return lp_tensor_contiguous(ctx, (lp_tensor *)t, out);
}

/* Initial state: t of shape `shape` or (B, shape...) (or NULL: zeros), as a
   new contiguous (B, shape...) tensor of dtype dt. */
static lp_status state_rows(lp_ctx *ctx, const char *field, const lp_tensor *t, lp_dtype dt, int64_t B,
                            int nd, const int64_t *shape, lp_tensor **out) {
  int64_t full[LP_MAXDIM];
  lp_status st;
  *out = NULL;
  full[0] = B;
  memcpy(full + 1, shape, (size_t)nd * sizeof *shape);
  if (t && !same_shape(t, nd, shape) && !same_shape(t, nd + 1, full)) {
    char w1[80], w2[80], want[180];
    snprintf(want, sizeof want, "%s or %s", lp_shape_str(nd, shape, w1, sizeof w1),
             lp_shape_str(nd + 1, full, w2, sizeof w2));
    return bad_shape(ctx, 2, field, t, want);
  }
  if ((st = lp_tensor_new(ctx, dt, nd + 1, full, out)) != LP_OK) return st;
  if (t && (st = lp_tensor_copy_(ctx, *out, t)) != LP_OK) { lp_tensor_release(*out); *out = NULL; }
  return st;
}

static lp_status interrupted(lp_ctx *ctx) {
  lp_status st = lp_ctx_check_interrupt(ctx);
  return st != LP_OK ? st : lp_ctx_error(ctx, LP_EINTR, 0, "interrupted");
}

static void release_all(lp_tensor **ts, size_t n) {
  size_t i;
  for (i = 0; i < n; i++) { lp_tensor_release(ts[i]); ts[i] = NULL; }
}

/* Saved-tensor slots of the LIF node. */
enum { SV_ALPHA, SV_BETA, SV_TH, SV_W, SV_WAHP, SV_BAHP, SV_S, SV_V, SV_U, SV_C, SV_A, SV_V0, SV_S0,
       SV_WIN, SV_XRP, SV_XIX, SV_XVAL, SV_XIN, SV_TG, SV_WV, SV_N };
typedef struct lif_payload {
  lif_dims d;
  lp_dtype dt;
  int64_t nin;                   /* fused input projection: x's channels (0: none) */
  int has_v;                     /* output 1 (vmem) exists: recorded or needed by the plain backward */
  int slot[SV_N];                /* index for lp_node_saved, -1 when absent */
} lif_payload;

/* gin[i] = sum over rows of part (B, n), in input i's recorded shape. */
static lp_status grad_from_rows(lp_ctx *ctx, lp_node *node, int i, lp_dtype dt, const void *part,
                                int64_t B, int64_t n, lp_tensor **gin) {
  lp_status st;
  if (!lp_node_input_needs_grad(node, i)) return LP_OK;
  st = lp_tensor_empty(ctx, dt, lp_node_input_ndim(node, i), lp_node_input_shape(node, i), &gin[i]);
  if (st != LP_OK) return st;
  if (dt == LP_F32) reduce_rows_f32(part, B, n, gin[i]);
  else reduce_rows_f64(part, B, n, gin[i]);
  return LP_OK;
}

/* dW (N, K) = sum_{b,t} s_{b,t-1}^T dX_{b,t}, with s_{b,-1} = S0[b]: a
   scatter-add over the spikes' events when sparse, else one GEMM. */
static lp_status grad_w(lp_ctx *ctx, const lif_dims *d, lp_dtype dt, const lp_tensor *S,
                        const lp_tensor *S0, const lp_tensor *dX, int64_t ncols, const lp_tensor *tg,
                        lp_tensor **out) {
  const int64_t B = d->B, T = d->T, N = d->N, BT = B * T;
  const size_t es = lp_dtype_size(dt), row = (size_t)N * es;
  int64_t shape[2], b;
  int done = 0;
  char *sprev;
  const char *ps = lp_tensor_data(S), *p0 = lp_tensor_data(S0);
  lp_status st;
  shape[0] = N; shape[1] = ncols;
  if ((st = lp_tensor_new(ctx, dt, 2, shape, out)) != LP_OK) return st;
  if (BT == 0 || N == 0 || ncols == 0) return LP_OK;
  if (tg) {                    /* only the targets: F per spike event (lif_grad_w_tg) */
    const size_t nb = (size_t)(N * d->F) * es;
    void *dwv = lp_ctx_alloc_raw(ctx, nb ? nb : 1);
    if (!dwv) { lp_tensor_release(*out); *out = NULL; return LP_ENOMEM; }
    if (dt == LP_F32) {
      lif_grad_w_tg_f32(d->threads, d->tgblk, d->B, T, N, ncols, d->F, lp_tensor_data(S), lp_tensor_data(S0),
                        lp_tensor_data(dX), lp_tensor_data(tg), dwv);
      lif_unpack_tg_f32(N, ncols, d->F, dwv, lp_tensor_data(tg), lp_tensor_data(*out));
    } else {
      lif_grad_w_tg_f64(d->threads, d->tgblk, d->B, T, N, ncols, d->F, lp_tensor_data(S), lp_tensor_data(S0),
                        lp_tensor_data(dX), lp_tensor_data(tg), dwv);
      lif_unpack_tg_f64(N, ncols, d->F, dwv, lp_tensor_data(tg), lp_tensor_data(*out));
    }
    lp_ctx_dealloc(ctx, dwv, nb ? nb : 1);
    return LP_OK;
  }
  if (BT <= INT32_MAX && ncols >= 4) {   /* sparse spikes: per-neuron event lists, then gathers (neuron_kernels.h) */
    const int64_t cap = (int64_t)(LP_SP_DENSITY_MAX * (double)BT * (double)N);
    const size_t nix = (size_t)(cap > 0 ? cap : 1) * sizeof(int32_t);
    const size_t nrp = (size_t)(BT + 1 + 2 * N + 1) * sizeof(int64_t), nval = (size_t)(cap > 0 ? cap : 1) * es;
    int64_t *rowp = lp_ctx_alloc_raw(ctx, nrp), *cnt = rowp ? rowp + BT + 1 : NULL, *rp = cnt ? cnt + N : NULL, nnz;
    int32_t *em = rowp ? lp_ctx_alloc_raw(ctx, nix) : NULL, *ev = em ? lp_ctx_alloc_raw(ctx, nix) : NULL;
    void *val = ev ? lp_ctx_alloc_raw(ctx, nval) : NULL;
    int ones = 1;
    if (!val) {
      if (ev) lp_ctx_dealloc(ctx, ev, nix);
      if (em) lp_ctx_dealloc(ctx, em, nix);
      if (rowp) lp_ctx_dealloc(ctx, rowp, nrp);
      lp_tensor_release(*out); *out = NULL;
      return LP_ENOMEM;
    }
    if (dt == LP_F32) {
#ifdef LIF_SPREV_SCAN_FAST
      if (LIF_SPREV_SCAN_FAST_OK())
        nnz = LIF_SPREV_SCAN_FAST(d->B, T, N, lp_tensor_data(S), lp_tensor_data(S0), cap, em, rowp, cnt, &ones);
      else
#endif
        nnz = lif_sprev_scan_f32(d->B, T, N, lp_tensor_data(S), lp_tensor_data(S0), cap, em, rowp, cnt, &ones);
      if (nnz >= 0) {
        lif_sprev_bucket_f32(d->B, T, N, lp_tensor_data(S), lp_tensor_data(S0), em, rowp, cnt, rp, ev,
                             ones ? NULL : val);
        lif_grad_w_ev_f32(d->threads, N, ncols, rp, ev, ones ? NULL : val, lp_tensor_data(dX),
                          lp_tensor_data(*out));
      }
    } else {
      nnz = lif_sprev_scan_f64(d->B, T, N, lp_tensor_data(S), lp_tensor_data(S0), cap, em, rowp, cnt, &ones);
      if (nnz >= 0) {
        lif_sprev_bucket_f64(d->B, T, N, lp_tensor_data(S), lp_tensor_data(S0), em, rowp, cnt, rp, ev,
                             ones ? NULL : val);
        lif_grad_w_ev_f64(d->threads, N, ncols, rp, ev, ones ? NULL : val, lp_tensor_data(dX),
                          lp_tensor_data(*out));
      }
    }
    lp_ctx_dealloc(ctx, val, nval);
    lp_ctx_dealloc(ctx, ev, nix);
    lp_ctx_dealloc(ctx, em, nix);
    lp_ctx_dealloc(ctx, rowp, nrp);
    if (nnz >= 0) return LP_OK;
    /* denser than LP_SP_DENSITY_MAX: one GEMM (below) */
  }
  sprev = lp_ctx_alloc_raw(ctx, (size_t)BT * row);
  if (!sprev) { lp_tensor_release(*out); *out = NULL; return LP_ENOMEM; }
  for (b = 0; b < B; b++) {
    memcpy(sprev + (size_t)(b * T) * row, p0 + (size_t)b * row, row);
    if (T > 1) memcpy(sprev + (size_t)(b * T + 1) * row, ps + (size_t)(b * T) * row, (size_t)(T - 1) * row);
  }
  /* spikes are sparse: the scatter-add over s's events (sparse.c) when
     sparse enough, else one GEMM */
  if ((st = lp_sp_gemm(ctx, dt, N, ncols, BT, sprev, N, 1, lp_tensor_data(dX), ncols, lp_tensor_data(*out),
                       d->threads, &done)) != LP_OK) {
    lp_ctx_dealloc(ctx, sprev, (size_t)BT * row);
    lp_tensor_release(*out); *out = NULL;
    return st;
  }
  if (!done && dt == LP_F32)
    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)N, (int)ncols, (int)BT, 1.0f,
                (const float *)sprev, (int)N, (const float *)lp_tensor_data(dX), (int)ncols, 0.0f,
                (float *)lp_tensor_data(*out), (int)ncols);
  else if (!done)
    cblas_dgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)N, (int)ncols, (int)BT, 1.0,
                (const double *)sprev, (int)N, (const double *)lp_tensor_data(dX), (int)ncols, 0.0,
                (double *)lp_tensor_data(*out), (int)ncols);
  lp_ctx_dealloc(ctx, sprev, (size_t)BT * row);
  return LP_OK;
}

/* dL/dw_in (nin, K) = x^T . dX from x's saved index (BT rows: xrp, xix,
   xval or NULL): its events listed per input (lif_index_bucket), then
   lif_grad_w_ev's gathers, eight vectors of columns per pass: the same
   sums in the same order as lp_sp_gemm_tn_index (sparse.c), so the same
   bits, in about half its instructions (W1: its gathers 4.1 M and
   transpose 1.9 M of 79 M per W1r step; callgrind). */
static lp_status in_grad_w(lp_ctx *ctx, lp_dtype dt, int64_t BT, int64_t nin, int64_t K, const int64_t *xrp,
                           const int32_t *xix, const void *xval, const void *dX, void *out, int threads) {
  const int64_t nz = xrp[BT];
  const size_t es = lp_dtype_size(dt), nrp = (size_t)(2 * nin + 1) * sizeof(int64_t),
               nev = (size_t)(nz ? nz : 1) * sizeof(int32_t), nval = (size_t)(nz ? nz : 1) * es;
  int64_t *rp = lp_ctx_alloc_raw(ctx, nrp);
  int32_t *ev = rp ? lp_ctx_alloc_raw(ctx, nev) : NULL;
  void *val2 = ev && xval ? lp_ctx_alloc_raw(ctx, nval) : NULL;
  if (!ev || (xval && !val2)) {
    if (ev) lp_ctx_dealloc(ctx, ev, nev);
    if (rp) lp_ctx_dealloc(ctx, rp, nrp);
    return LP_ENOMEM;
  }
  if (dt == LP_F32) {
    lif_index_bucket_f32(BT, nin, xrp, xix, xval, rp + nin + 1, rp, ev, val2);
    lif_grad_w_ev_f32(threads, nin, K, rp, ev, val2, dX, out);
  } else {
    lif_index_bucket_f64(BT, nin, xrp, xix, xval, rp + nin + 1, rp, ev, val2);
    lif_grad_w_ev_f64(threads, nin, K, rp, ev, val2, dX, out);
  }
  if (val2) lp_ctx_dealloc(ctx, val2, nval);
  lp_ctx_dealloc(ctx, ev, nev);
  lp_ctx_dealloc(ctx, rp, nrp);
  return LP_OK;
}

/* Gradients of the fused input projection c_in = x . w_in + b_in from
   dL/dc_in = dX (B*T rows of K): w_in (input 8) = x^T . dX, as a
   scatter-add over x's saved index (or one GEMM when x was dense); b_in
   (input 9) = column sums of dX; x (input 0) = dX . w_in^T, only when x
   needs it. */
static lp_status fused_in_grads(lp_ctx *ctx, lp_node *node, const lif_payload *pl, const lif_dims *d,
                                lp_dtype dt, const lp_tensor *dX, lp_tensor **gin) {
  const int64_t BT = d->B * d->T, K = d->N * d->k, nin = pl->nin;
  const lp_tensor *win = lp_node_saved(node, pl->slot[SV_WIN]);
  lp_status st;
  /* the products below write every element: no zeroing first, except when empty */
  const int full = BT > 0 && K > 0 && nin > 0;
  if (lp_node_input_needs_grad(node, 8)) {
    if ((st = (full ? lp_tensor_empty : lp_tensor_new)(ctx, dt, 2, lp_node_input_shape(node, 8), &gin[8])) != LP_OK)
      return st;
    if (full) {
      if (pl->slot[SV_XIX] >= 0) {
        st = in_grad_w(ctx, dt, BT, nin, K, lp_tensor_data(lp_node_saved(node, pl->slot[SV_XRP])),
                       lp_tensor_data(lp_node_saved(node, pl->slot[SV_XIX])),
                       pl->slot[SV_XVAL] >= 0 ? lp_tensor_data(lp_node_saved(node, pl->slot[SV_XVAL])) : NULL,
                       lp_tensor_data(dX), lp_tensor_data(gin[8]), d->threads);
        if (st != LP_OK) return st;
      } else {
        const void *xp = lp_tensor_data(lp_node_saved(node, pl->slot[SV_XIN]));
        if (dt == LP_F32)
          cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)nin, (int)K, (int)BT, 1.0f, xp, (int)nin,
                      lp_tensor_data(dX), (int)K, 0.0f, lp_tensor_data(gin[8]), (int)K);
        else
          cblas_dgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)nin, (int)K, (int)BT, 1.0, xp, (int)nin,
                      lp_tensor_data(dX), (int)K, 0.0, lp_tensor_data(gin[8]), (int)K);
      }
    }
  }
  if ((st = grad_from_rows(ctx, node, 9, dt, lp_tensor_data(dX), BT, K, gin)) != LP_OK) return st;
  if (lp_node_input_needs_grad(node, 0)) {
    if ((st = (full ? lp_tensor_empty : lp_tensor_new)(ctx, dt, 3, lp_node_input_shape(node, 0), &gin[0])) != LP_OK)
      return st;
#ifdef LIF_IN_BACK_FAST
    if (full && dt == LP_F32 && K <= 32 && LIF_IN_BACK_FAST_OK()) {   /* narrow layer: FMA rows (above) */
      const size_t nw = (size_t)(K * nin) * sizeof(float);
      float *wT = lp_ctx_alloc_raw(ctx, nw);
      const float *w = lp_tensor_data(win), *D = lp_tensor_data(dX);
      float *C = lp_tensor_data(gin[0]);
      const int64_t nch = d->threads > 1 && BT > 1 ? (BT < 4 * d->threads ? BT : 4 * d->threads) : 1;
      int64_t n, k, q;
      if (!wT) return LP_ENOMEM;
      for (n = 0; n < nin; n++)
        for (k = 0; k < K; k++) wT[k * nin + n] = w[n * K + k];
#pragma omp parallel for schedule(static) num_threads(d->threads) if (nch > 1)
      for (q = 0; q < nch; q++) LIF_IN_BACK_FAST(BT * q / nch, BT * (q + 1) / nch, K, nin, D, wT, C);
      lp_ctx_dealloc(ctx, wT, nw);
      return LP_OK;
    }
#endif
    if (full) {
      if (dt == LP_F32)
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)BT, (int)nin, (int)K, 1.0f, lp_tensor_data(dX),
                    (int)K, lp_tensor_data(win), (int)K, 0.0f, lp_tensor_data(gin[0]), (int)nin);
      else
        cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)BT, (int)nin, (int)K, 1.0, lp_tensor_data(dX),
                    (int)K, lp_tensor_data(win), (int)K, 0.0, lp_tensor_data(gin[0]), (int)nin);
    }
  }
  return LP_OK;
}

/* Does the backward take the fast path (lif_backward_fast in
   neuron_kernels.h, which reads neither S nor V)? The same test as
   lif_backward's. */
static int lif_fast_backward(const lif_dims *d, int has_ahp) {
  return d->k == 1 && !d->membrane_only && !has_ahp && d->sg == LP_SG_STEP_PWL && d->B * d->N > 0;
}

/* ---- LIF: backward ----------------------------------------------------------- */
/* inputs: 0 x, 1 alpha, 2 beta, 3 bias, 4 threshold, 5 w_rec, 6 w_ahp, 7 beta_ahp,
   8 w_in, 9 b_in; outputs: 0 spikes (B, T, N), 1 vmem (B, T, N) */
static lp_status lif_backward_node(lp_ctx *ctx, lp_node *node, lp_tensor *const *gout, lp_tensor **gin) {
  lif_payload *pl = lp_node_payload(node);
  lif_dims d = pl->d;
  lif_tensors ts;
  lp_tensor *gS = NULL, *gV = NULL, *dX = NULL;
  const lp_dtype dt = pl->dt;
  const size_t es = lp_dtype_size(dt);
  const int64_t BN = d.B * d.N, BK = d.B * d.N * d.k, K = d.N * d.k;
  int64_t shape[3];
  size_t nscratch = (size_t)(9 * BN + 2 * BK) * es;
  char *scratch = NULL;
  int stop = 0;
  lp_status st;
#define SAVED(i) (pl->slot[i] >= 0 ? lp_node_saved(node, pl->slot[i]) : NULL)
  memset(&ts, 0, sizeof ts);
  d.threads = lp_ctx_threads(ctx);
  ts.alpha = SAVED(SV_ALPHA); ts.beta = SAVED(SV_BETA); ts.th = SAVED(SV_TH); ts.W = SAVED(SV_W);
  ts.wahp = SAVED(SV_WAHP); ts.bahp = SAVED(SV_BAHP); ts.S = SAVED(SV_S); ts.V = SAVED(SV_V);
  ts.U = SAVED(SV_U); ts.C = SAVED(SV_C); ts.A = SAVED(SV_A); ts.V0 = SAVED(SV_V0); ts.S0 = SAVED(SV_S0);
  ts.tg = SAVED(SV_TG); ts.wv = SAVED(SV_WV);
#undef SAVED
  if ((st = prep(ctx, gout[0], dt, &gS)) != LP_OK) goto done;
  if (pl->has_v && (st = prep(ctx, gout[1], dt, &gV)) != LP_OK) goto done;
  shape[0] = d.B; shape[1] = d.T; shape[2] = K;
  if ((st = lp_tensor_empty(ctx, dt, 3, shape, &dX)) != LP_OK) goto done;   /* the loops write all of it */
  if (!(scratch = lp_ctx_alloc(ctx, nscratch ? nscratch : 1))) { st = LP_ENOMEM; goto done; }
  if (dt == LP_F32) lif_backward_t_f32(ctx, &d, &ts, gS, gV, dX, scratch, &stop);
  else lif_backward_t_f64(ctx, &d, &ts, gS, gV, dX, scratch, &stop);
  if (stop) { st = interrupted(ctx); goto done; }
  /* scratch layout (lif_backward_t): dalpha, dbias, dth, dwahp, dbahp (B, N); dbeta (B, K) */
  if ((st = grad_from_rows(ctx, node, 1, dt, scratch, d.B, d.N, gin)) != LP_OK) goto done;
  if ((st = grad_from_rows(ctx, node, 3, dt, scratch + 1 * BN * es, d.B, d.N, gin)) != LP_OK) goto done;
  if ((st = grad_from_rows(ctx, node, 4, dt, scratch + 2 * BN * es, d.B, d.N, gin)) != LP_OK) goto done;
  if (ts.wahp) {
    if ((st = grad_from_rows(ctx, node, 6, dt, scratch + 3 * BN * es, d.B, d.N, gin)) != LP_OK) goto done;
    if ((st = grad_from_rows(ctx, node, 7, dt, scratch + 4 * BN * es, d.B, d.N, gin)) != LP_OK) goto done;
  }
  if ((st = grad_from_rows(ctx, node, 2, dt, scratch + 5 * BN * es, d.B, K, gin)) != LP_OK) goto done;
  if (ts.W && lp_node_input_needs_grad(node, 5) &&
      (st = grad_w(ctx, &d, dt, ts.S, ts.S0, dX, K, ts.tg, &gin[5])) != LP_OK) goto done;
  if (pl->nin) st = fused_in_grads(ctx, node, pl, &d, dt, dX, gin);
  else if (lp_node_input_needs_grad(node, 0)) { gin[0] = dX; dX = NULL; }
done:
  if (scratch) lp_ctx_dealloc(ctx, scratch, nscratch ? nscratch : 1);
  lp_tensor_release(gS);
  lp_tensor_release(gV);
  lp_tensor_release(dX);
  return st;
}

/* ---- LIF: forward ------------------------------------------------------------- */
/* Are all n values (float or double) exactly 1? */
static int all_ones(lp_dtype dt, const void *val, int64_t n) {
  int64_t i;
  if (dt == LP_F64) {
    const double *v = val;
    for (i = 0; i < n; i++) if (v[i] != 1.0) return 0;
  } else {
    const float *v = val;
    for (i = 0; i < n; i++) if (v[i] != 1.0f) return 0;
  }
  return 1;
}

/* The fused input projection's operands: x (B*T rows of nin) indexed into
   ts->xrp/xix/xval when sparse enough for row gathers (as lp_matmul would
   choose), else the projection x . w_in + b_in computed here by one GEMM and
   put in ts->x's place (the original x kept in ts->xin for dL/dw_in). */
static lp_status fused_in_setup(lp_ctx *ctx, const lif_dims *d, lp_dtype dt, int64_t nin, lif_tensors *ts) {
  const int64_t BT = d->B * d->T, K = d->N * d->k;
  const size_t es = lp_dtype_size(dt);
  int64_t cap = (int64_t)(LP_SP_DENSITY_MAX * (double)BT * (double)nin), sh[3];
  lp_status st;
  if (BT > 0 && nin > 0 && K >= 4 && nin <= INT32_MAX) {
    size_t nix, nval;
    int32_t *idx;
    void *val;
    int ok;
    if (cap < 1) cap = 1;
    nix = (size_t)cap * sizeof *idx; nval = (size_t)cap * es;
    sh[0] = BT + 1;
    if ((st = lp_tensor_empty(ctx, LP_I64, 1, sh, &ts->xrp)) != LP_OK) return st;
    idx = lp_ctx_alloc_raw(ctx, nix);
    val = idx ? lp_ctx_alloc_raw(ctx, nval) : NULL;
    if (!val) {
      if (idx) lp_ctx_dealloc(ctx, idx, nix);
      return LP_ENOMEM;
    }
    ok = lp_sp_index_mt(dt, lp_tensor_dtype(ts->x), lp_tensor_data(ts->x), BT, nin, nin, cap, lp_tensor_data(ts->xrp),
                        idx, val, d->threads);
    if (ok) {
      /* spikes as 0/1 (float or bytes, detected here once per call): no
         values kept, the gathers add rows instead of multiplying them by 1 */
      const int ones = all_ones(dt, val, ((const int64_t *)lp_tensor_data(ts->xrp))[BT]);
      sh[0] = ((const int64_t *)lp_tensor_data(ts->xrp))[BT];
      if ((st = lp_tensor_empty(ctx, LP_I32, 1, sh, &ts->xix)) == LP_OK &&
          (ones || (st = lp_tensor_empty(ctx, dt, 1, sh, &ts->xval)) == LP_OK)) {
        memcpy(lp_tensor_data(ts->xix), idx, (size_t)sh[0] * sizeof *idx);
        if (!ones) memcpy(lp_tensor_data(ts->xval), val, (size_t)sh[0] * es);
      }
    }
    lp_ctx_dealloc(ctx, val, nval);
    lp_ctx_dealloc(ctx, idx, nix);
    if (ok) return st;
    lp_tensor_release(ts->xrp);
    ts->xrp = NULL;
  }
  if (lp_tensor_dtype(ts->x) != dt) {          /* spikes as bytes, too dense to index: as floats */
    lp_tensor *xf = NULL;
    if ((st = lp_tensor_astype(ctx, ts->x, dt, &xf)) != LP_OK) return st;
    lp_tensor_release(ts->x);
    ts->x = xf;
  }
  sh[0] = d->B; sh[1] = d->T; sh[2] = K;
  ts->xin = ts->x;
  ts->x = NULL;
  if ((st = lp_tensor_new(ctx, dt, 3, sh, &ts->x)) != LP_OK) return st;
  if (BT > 0 && K > 0 && nin > 0) {
    if (dt == LP_F32)
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)BT, (int)K, (int)nin, 1.0f,
                  lp_tensor_data(ts->xin), (int)nin, lp_tensor_data(ts->win), (int)K, 0.0f, lp_tensor_data(ts->x),
                  (int)K);
    else
      cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)BT, (int)K, (int)nin, 1.0,
                  lp_tensor_data(ts->xin), (int)nin, lp_tensor_data(ts->win), (int)K, 0.0, lp_tensor_data(ts->x),
                  (int)K);
  }
  if (ts->bin) {
    int64_t r, j;
    if (dt == LP_F32) {
      float *P = lp_tensor_data(ts->x);
      const float *bv = lp_tensor_data(ts->bin);
      for (r = 0; r < BT; r++) for (j = 0; j < K; j++) P[r * K + j] = P[r * K + j] + bv[j];
    } else {
      double *P = lp_tensor_data(ts->x);
      const double *bv = lp_tensor_data(ts->bin);
      for (r = 0; r < BT; r++) for (j = 0; j < K; j++) P[r * K + j] = P[r * K + j] + bv[j];
    }
  }
  return LP_OK;
}

/* rec_targets (N, F) -> ts->tg as int32, checked: needs w_rec, each row
   strictly ascending within 0..K-1. */
static lp_status targets_setup(lp_ctx *ctx, const lp_tensor *t, int64_t N, int64_t K, lif_tensors *ts,
                               int64_t *F, int *blk) {
  lp_tensor *c = NULL;
  lp_status st;
  int64_t m, f, sh[2];
  const int32_t *p32;
  const int64_t *p64;
  int32_t *o;
  if (!ts->W) return lp_ctx_error(ctx, LP_EARG, 2, "field 'rec_targets' needs 'w_rec'");
  if (lp_tensor_dtype(t) != LP_I32 && lp_tensor_dtype(t) != LP_I64)
    return lp_ctx_error(ctx, LP_EARG, 2, "field 'rec_targets': expected an int32 or int64 tensor, got %s",
                        lp_dtype_name(lp_tensor_dtype(t)));
  if (lp_tensor_ndim(t) != 2 || lp_tensor_shape(t)[0] != N || lp_tensor_shape(t)[1] < 1 ||
      lp_tensor_shape(t)[1] > K)
    return lp_ctx_error(ctx, LP_EARG, 2, "field 'rec_targets': expected shape (%lld, F) with 1 <= F <= %lld",
                        (long long)N, (long long)K);
  *F = lp_tensor_shape(t)[1];
  if ((st = lp_tensor_contiguous(ctx, (lp_tensor *)t, &c)) != LP_OK) return st;
  sh[0] = N; sh[1] = *F;
  if ((st = lp_tensor_empty(ctx, LP_I32, 2, sh, &ts->tg)) != LP_OK) { lp_tensor_release(c); return st; }
  o = lp_tensor_data(ts->tg);
  p32 = lp_tensor_dtype(c) == LP_I32 ? lp_tensor_data(c) : NULL;
  p64 = p32 ? NULL : lp_tensor_data(c);
  for (m = 0; m < N; m++)
    for (f = 0; f < *F; f++) {
      const int64_t v = p32 ? p32[m * *F + f] : p64[m * *F + f];
      if (v < 0 || v >= K || (f > 0 && v <= o[m * *F + f - 1])) {
        lp_tensor_release(c);
        return lp_ctx_error(ctx, LP_EARG, 2, "field 'rec_targets': row %lld must hold strictly ascending "
                            "columns in 0..%lld, got %lld at position %lld", (long long)m, (long long)(K - 1),
                            (long long)v, (long long)f);
      }
      o[m * *F + f] = (int32_t)v;
    }
  lp_tensor_release(c);
  *blk = *F % 8 == 0;                          /* runs of 8 from multiples of 8: the vector paths */
  for (m = 0; m < N && *blk; m++)
    for (f = 0; f < *F && *blk; f++)
      if (f % 8 == 0 ? o[m * *F + f] % 8 != 0 : o[m * *F + f] != o[m * *F + f - 1] + 1) *blk = 0;
  if ((st = lp_tensor_empty(ctx, lp_tensor_dtype(ts->W), 2, sh, &ts->wv)) != LP_OK) return st;
  if (lp_tensor_dtype(ts->W) == LP_F32)
    lif_pack_tg_f32(N, K, *F, lp_tensor_data(ts->W), o, lp_tensor_data(ts->wv));
  else
    lif_pack_tg_f64(N, K, *F, lp_tensor_data(ts->W), o, lp_tensor_data(ts->wv));
  return LP_OK;
}

typedef struct topk_item { double a; int64_t j; } topk_item;
/* p before q: |w| larger, or equal and the lower column */
static int topk_before(const topk_item *p, const topk_item *q) {
  return p->a > q->a || (p->a == q->a && p->j < q->j);
}
/* it[0..F) := the F first items of it[0..n) in topk_before order (any
   order among themselves): quickselect, linear on average. The order is
   total (columns differ), so the set is unique. */
static void topk_select(topk_item *it, int64_t n, int64_t F) {
  int64_t lo = 0, hi = n - 1;
  while (lo < hi) {
    const topk_item piv = it[lo + (hi - lo) / 2];
    int64_t i = lo, j = hi;
    while (i <= j) {
      while (topk_before(&it[i], &piv)) i++;
      while (topk_before(&piv, &it[j])) j--;
      if (i <= j) { topk_item t = it[i]; it[i] = it[j]; it[j] = t; i++; j--; }
    }
    if (F - 1 <= j) hi = j;
    else if (F - 1 >= i) lo = i;
    else break;
  }
}
static int col_cmp(const void *x, const void *y) {
  const int32_t a = *(const int32_t *)x, b = *(const int32_t *)y;
  return (a > b) - (a < b);
}

lp_status lp_lif_rec_topk(lp_ctx *ctx, const lp_tensor *w, int64_t F, int64_t blk, lp_tensor **out) {
  lp_tensor *c = NULL;
  lp_status st;
  int64_t N, K, NB, FB, m, j, i, sh[2];
  topk_item *it;
  int32_t *o;
  *out = NULL;
  if (!w || lp_tensor_ndim(w) != 2) return lp_ctx_error(ctx, LP_EARG, 1, "expected a 2-d weight tensor (N, K)");
  N = lp_tensor_shape(w)[0]; K = lp_tensor_shape(w)[1];
  if (F < 1 || F > K || K > INT32_MAX)
    return lp_ctx_error(ctx, LP_EARG, 2, "fan-out must be in 1..%lld, got %lld", (long long)K, (long long)F);
  if (blk < 1 || K % blk != 0 || F % blk != 0)
    return lp_ctx_error(ctx, LP_EARG, 3, "block %lld must divide the fan-out %lld and the row length %lld",
                        (long long)blk, (long long)F, (long long)K);
  NB = K / blk; FB = F / blk;
  if ((st = lp_tensor_astype(ctx, w, LP_F64, &c)) != LP_OK) return st;
  sh[0] = N; sh[1] = F;
  if ((st = lp_tensor_empty(ctx, LP_I32, 2, sh, out)) != LP_OK) { lp_tensor_release(c); return st; }
  if (!(it = lp_ctx_alloc_raw(ctx, (size_t)(NB ? NB : 1) * sizeof *it))) {
    lp_tensor_release(c); lp_tensor_release(*out); *out = NULL;
    return LP_ENOMEM;
  }
  o = lp_tensor_data(*out);
  for (m = 0; m < N; m++) {
    const double *row = (const double *)lp_tensor_data(c) + m * K;
    for (j = 0; j < NB; j++) {              /* a block's score: the sum of its |w| */
      double a = 0;
      for (i = 0; i < blk; i++) a += fabs(row[j * blk + i]);
      it[j].a = a == a ? a : HUGE_VAL;      /* a NaN counts as the largest (it is kept, not hidden) */
      it[j].j = j;
    }
    if (FB < NB) topk_select(it, NB, FB);
    for (j = 0; j < FB; j++) o[m * F + j] = (int32_t)it[j].j;
    qsort(o + m * F, (size_t)FB, sizeof *o, col_cmp);
    for (j = FB - 1; j >= 0; j--)           /* blocks -> their columns, in place from the end */
      for (i = blk - 1; i >= 0; i--) o[m * F + j * blk + i] = (int32_t)(o[m * F + j] * blk + i);
  }
  lp_ctx_dealloc(ctx, it, (size_t)(NB ? NB : 1) * sizeof *it);
  lp_tensor_release(c);
  return LP_OK;
}

void lp_lif_out_release(lp_lif_out *out) {
  lp_tensor **ts[] = {&out->spikes, &out->vmem, &out->isyn, &out->irec, &out->iahp, &out->vmem_final,
                      &out->isyn_final, &out->spikes_final, &out->iahp_final};
  size_t i;
  for (i = 0; i < sizeof ts / sizeof *ts; i++) { lp_tensor_release(*ts[i]); *ts[i] = NULL; }
}

static lp_status lif_check(lp_ctx *ctx, const lp_lif_args *a, const lp_lif_opts *o, int64_t *N, int64_t *k) {
  lp_status st;
  int64_t sh[3];
  char want[160];
  if (!a->x) return lp_ctx_error(ctx, LP_EARG, 1, "expected a tensor");
  if (lp_tensor_ndim(a->x) != 3)
    return bad_shape(ctx, 1, NULL, a->x, "(B, T, k*N)");
  if ((st = required(ctx, a->alpha, "alpha")) != LP_OK || (st = required(ctx, a->beta, "beta")) != LP_OK ||
      (st = required(ctx, a->bias, "bias")) != LP_OK || (st = required(ctx, a->threshold, "threshold")) != LP_OK)
    return st;
  if (lp_tensor_ndim(a->alpha) != 1) return bad_shape(ctx, 2, "alpha", a->alpha, "(N,)");
  *N = lp_tensor_shape(a->alpha)[0];
  if (lp_tensor_ndim(a->beta) == 1 && lp_tensor_shape(a->beta)[0] == *N) *k = 1;
  else if (lp_tensor_ndim(a->beta) == 2 && lp_tensor_shape(a->beta)[0] == *N && lp_tensor_shape(a->beta)[1] > 0)
    *k = lp_tensor_shape(a->beta)[1];
  else {
    snprintf(want, sizeof want, "(%lld, k)", (long long)*N);
    return bad_shape(ctx, 2, "beta", a->beta, want);
  }
  if (a->b_in && !a->w_in) return lp_ctx_error(ctx, LP_EARG, 2, "field 'b_in' needs 'w_in'");
  if (a->w_in) {
    if (lp_tensor_ndim(a->w_in) != 2 || lp_tensor_shape(a->w_in)[1] != *N * *k) {
      snprintf(want, sizeof want, "(Nin, %lld)", (long long)(*N * *k));
      return bad_shape(ctx, 2, "w_in", a->w_in, want);
    }
    if (lp_tensor_shape(a->x)[2] != lp_tensor_shape(a->w_in)[0]) {
      snprintf(want, sizeof want, "(B, T, %lld)", (long long)lp_tensor_shape(a->w_in)[0]);
      return bad_shape(ctx, 1, NULL, a->x, want);
    }
  } else if (lp_tensor_shape(a->x)[2] != *N * *k) {
    snprintf(want, sizeof want, "(B, T, %lld)", (long long)(*N * *k));
    return bad_shape(ctx, 1, NULL, a->x, want);
  }
  sh[0] = *N;
  if ((st = want_shape(ctx, 2, "bias", a->bias, 1, sh)) != LP_OK) return st;
  if ((st = want_shape(ctx, 2, "threshold", a->threshold, 1, sh)) != LP_OK) return st;
  if ((a->w_ahp != NULL) != (a->beta_ahp != NULL))
    return lp_ctx_error(ctx, LP_EARG, 2, "fields 'w_ahp' and 'beta_ahp' go together");
  if (a->w_ahp && (st = want_shape(ctx, 2, "w_ahp", a->w_ahp, 1, sh)) != LP_OK) return st;
  if (a->beta_ahp && (st = want_shape(ctx, 2, "beta_ahp", a->beta_ahp, 1, sh)) != LP_OK) return st;
  sh[1] = *N * *k;
  if (a->w_rec && (st = want_shape(ctx, 2, "w_rec", a->w_rec, 2, sh)) != LP_OK) return st;
  if (a->b_in && (st = want_shape(ctx, 2, "b_in", a->b_in, 1, sh + 1)) != LP_OK) return st;
  sh[0] = lp_tensor_shape(a->x)[0]; sh[1] = lp_tensor_shape(a->x)[1]; sh[2] = *N;
  if (a->noise && (st = want_shape(ctx, 2, "noise", a->noise, 3, sh)) != LP_OK) return st;
  if (!(o->max_spikes_per_dt > 0))
    return lp_ctx_error(ctx, LP_EARG, 2, "field 'max_spikes_per_dt': must be positive, got %g", o->max_spikes_per_dt);
  if (!(o->learning_window >= 0))
    return lp_ctx_error(ctx, LP_EARG, 2, "field 'learning_window': must be >= 0, got %g", o->learning_window);
  if (!(o->surrogate_scale > 0))
    return lp_ctx_error(ctx, LP_EARG, 2, "field 'surrogate_scale': must be positive, got %g", o->surrogate_scale);
  if ((unsigned)o->surrogate > LP_SG_ATAN) return lp_ctx_error(ctx, LP_EARG, 2, "unknown surrogate");
  return LP_OK;
}

lp_status lp_lif(lp_ctx *ctx, const lp_lif_args *a, const lp_lif_opts *o, lp_lif_out *out) {
  lif_tensors ts;
  lif_dims d;
  lp_status st;
  lp_dtype dt;
  int64_t N = 0, k = 1, sh[4];
  int need_grad, stop = 0, i, rec_v, rec_i, rec_r, rec_a;
  void *r = NULL;
  size_t rbytes = 0;
  lp_node *node = NULL;
  const lp_tensor *inputs[10];
  memset(out, 0, sizeof *out);
  memset(&d, 0, sizeof d);
  memset(&ts, 0, sizeof ts);
  if ((st = lif_check(ctx, a, o, &N, &k)) != LP_OK) return st;
  dt = lp_tensor_dtype(a->x) == LP_F64 ? LP_F64 : LP_F32;
  if (a->w_in && (lp_tensor_dtype(a->x) == LP_U8 || lp_tensor_dtype(a->x) == LP_BOOL))
    dt = lp_tensor_dtype(a->w_in) == LP_F64 ? LP_F64 : LP_F32;     /* byte spikes: w_in's precision */
  d.B = lp_tensor_shape(a->x)[0]; d.T = lp_tensor_shape(a->x)[1]; d.N = N; d.k = k;
  d.threads = lp_ctx_threads(ctx);
  d.sg = o->surrogate; d.window = o->learning_window; d.scale = o->surrogate_scale;
  d.maxs = o->max_spikes_per_dt;
  d.membrane_only = o->membrane_only;
  inputs[0] = a->x; inputs[1] = a->alpha; inputs[2] = a->beta; inputs[3] = a->bias;
  inputs[4] = a->threshold; inputs[5] = a->w_rec; inputs[6] = a->w_ahp; inputs[7] = a->beta_ahp;
  inputs[8] = a->w_in; inputs[9] = a->b_in;
  need_grad = lp_needs_grad(ctx, 10, inputs);
  rec_v = o->record && (!o->record_mask || (o->record_mask & LP_LIF_REC_VMEM));
  rec_i = o->record && (!o->record_mask || (o->record_mask & LP_LIF_REC_ISYN));
  rec_r = o->record && (!o->record_mask || (o->record_mask & LP_LIF_REC_IREC));
  rec_a = o->record && (!o->record_mask || (o->record_mask & LP_LIF_REC_IAHP));

  /* with w_in, spikes given as bytes (uint8 / bool) are indexed as they are */
  if (a->w_in && (lp_tensor_dtype(a->x) == LP_U8 || lp_tensor_dtype(a->x) == LP_BOOL))
    st = lp_tensor_contiguous(ctx, (lp_tensor *)a->x, &ts.x);
  else
    st = prep(ctx, a->x, dt, &ts.x);
  if (st != LP_OK || (st = prep(ctx, a->alpha, dt, &ts.alpha)) != LP_OK ||
      (st = prep(ctx, a->beta, dt, &ts.beta)) != LP_OK || (st = prep(ctx, a->bias, dt, &ts.bias)) != LP_OK ||
      (st = prep(ctx, a->threshold, dt, &ts.th)) != LP_OK || (st = prep(ctx, a->w_rec, dt, &ts.W)) != LP_OK ||
      (st = prep(ctx, a->w_ahp, dt, &ts.wahp)) != LP_OK || (st = prep(ctx, a->beta_ahp, dt, &ts.bahp)) != LP_OK ||
      (st = prep(ctx, a->noise, dt, &ts.noise)) != LP_OK || (st = prep(ctx, a->w_in, dt, &ts.win)) != LP_OK ||
      (st = prep(ctx, a->b_in, dt, &ts.bin)) != LP_OK)
    goto fail;
  if (a->rec_targets && (st = targets_setup(ctx, a->rec_targets, N, N * k, &ts, &d.F, &d.tgblk)) != LP_OK) goto fail;
  if (a->w_in && (st = fused_in_setup(ctx, &d, dt, lp_tensor_shape(a->w_in)[0], &ts)) != LP_OK) goto fail;
  sh[0] = N; sh[1] = k;
  if ((st = state_rows(ctx, "vmem", a->vmem, dt, d.B, 1, sh, &ts.v)) != LP_OK) goto fail;
  if ((st = state_rows(ctx, "isyn", a->isyn, dt, d.B, 2, sh, &ts.isyn)) != LP_OK) goto fail;
  if ((st = state_rows(ctx, "spikes", a->spikes, dt, d.B, 1, sh, &ts.s)) != LP_OK) goto fail;
  if (a->iahp && !a->w_ahp) { st = lp_ctx_error(ctx, LP_EARG, 2, "field 'iahp' needs 'w_ahp'"); goto fail; }
  if (a->w_ahp && (st = state_rows(ctx, "iahp", a->iahp, dt, d.B, 1, sh, &ts.iahp)) != LP_OK) goto fail;

  sh[0] = d.B; sh[1] = d.T; sh[2] = N; sh[3] = k;
  if ((st = lp_tensor_empty(ctx, dt, 3, sh, &ts.S)) != LP_OK) goto fail;
  /* the membrane record: when asked for, or when the plain backward will
     read it (the fast one recomputes v_{t-1} from u_{t-1}); nothing else
     writes or keeps it (issue 17: 4 bytes per neuron and step less) */
  if ((rec_v || (need_grad && !lif_fast_backward(&d, a->w_ahp != NULL))) &&
      (st = lp_tensor_empty(ctx, dt, 3, sh, &ts.V)) != LP_OK)
    goto fail;
  if (rec_i && (st = lp_tensor_empty(ctx, dt, 4, sh, &ts.Isr)) != LP_OK) goto fail;
  if (rec_r && a->w_rec && (st = lp_tensor_empty(ctx, dt, 4, sh, &ts.Rec)) != LP_OK) goto fail;
  if (rec_a && a->w_ahp && (st = lp_tensor_empty(ctx, dt, 3, sh, &ts.Iar)) != LP_OK) goto fail;
  if (need_grad) {
    if ((st = lp_tensor_empty(ctx, dt, 3, sh, &ts.U)) != LP_OK) goto fail;
    if ((st = lp_tensor_empty(ctx, dt, 4, sh, &ts.C)) != LP_OK) goto fail;
    if (a->w_ahp && (st = lp_tensor_empty(ctx, dt, 3, sh, &ts.A)) != LP_OK) goto fail;
    if ((st = lp_tensor_clone(ctx, ts.v, &ts.V0)) != LP_OK) goto fail;
    if ((st = lp_tensor_clone(ctx, ts.s, &ts.S0)) != LP_OK) goto fail;
  }
  {                            /* recurrent input / projection / scratch rows: 4 of k*N per batch row */
    rbytes = (size_t)(4 * d.B * N * k) * lp_dtype_size(dt);
    if (!(r = lp_ctx_alloc_raw(ctx, rbytes ? rbytes : 1))) { st = LP_ENOMEM; goto fail; }
  }

  if (dt == LP_F32) lif_forward_t_f32(ctx, &d, &ts, r, &stop);
  else lif_forward_t_f64(ctx, &d, &ts, r, &stop);
  if (r) { lp_ctx_dealloc(ctx, r, rbytes ? rbytes : 1); r = NULL; }
  if (stop) { st = interrupted(ctx); goto fail; }

  if (need_grad) {
    lp_tensor *outs[2];
    lp_tensor *saves[SV_N];
    lif_payload *pl;
    outs[0] = ts.S; outs[1] = ts.V;
    if ((st = lp_node_record(ctx, "lif", lif_backward_node, a->w_in ? 10 : 8, inputs, ts.V ? 2 : 1, outs, sizeof *pl,
                             &node)) != LP_OK)
      goto fail;
    pl = lp_node_payload(node);
    pl->d = d;
    pl->dt = dt;
    pl->nin = a->w_in ? lp_tensor_shape(a->w_in)[0] : 0;
    pl->has_v = ts.V != NULL;
    saves[SV_ALPHA] = ts.alpha; saves[SV_BETA] = ts.beta; saves[SV_TH] = ts.th; saves[SV_W] = ts.W;
    saves[SV_WAHP] = ts.wahp; saves[SV_BAHP] = ts.bahp; saves[SV_S] = ts.S; saves[SV_V] = ts.V;
    saves[SV_U] = ts.U; saves[SV_C] = ts.C; saves[SV_A] = ts.A; saves[SV_V0] = ts.V0; saves[SV_S0] = ts.S0;
    saves[SV_WIN] = ts.win; saves[SV_XRP] = ts.xrp; saves[SV_XIX] = ts.xix; saves[SV_XVAL] = ts.xval;
    saves[SV_XIN] = ts.xin; saves[SV_TG] = ts.tg; saves[SV_WV] = ts.wv;
    for (i = 0; i < SV_N; i++) {
      pl->slot[i] = -1;
      if (saves[i] && (st = lp_node_save(ctx, node, saves[i], &pl->slot[i])) != LP_OK) goto fail;
    }
  }
  out->spikes = ts.S; ts.S = NULL;
  if (rec_v) { out->vmem = ts.V; ts.V = NULL; }
  out->isyn = ts.Isr; ts.Isr = NULL;
  out->irec = ts.Rec; ts.Rec = NULL;
  out->iahp = ts.Iar; ts.Iar = NULL;
  out->vmem_final = ts.v; ts.v = NULL;
  out->isyn_final = ts.isyn; ts.isyn = NULL;
  out->spikes_final = ts.s; ts.s = NULL;
  out->iahp_final = ts.iahp; ts.iahp = NULL;
  st = LP_OK;
fail:
  if (r) lp_ctx_dealloc(ctx, r, rbytes ? rbytes : 1);
  release_all((lp_tensor **)&ts, sizeof ts / sizeof(lp_tensor *));
  return st;
}

/* ---- ExpSyn ---------------------------------------------------------------------- */
enum { ES_X, ES_BETA, ES_I0, ES_O, ES_N };
typedef struct expsyn_payload { lif_dims d; lp_dtype dt; int slot[ES_N]; } expsyn_payload;

/* inputs: 0 x (B, T, N), 1 beta (N); output: 0 isyn record (B, T, N) */
static lp_status expsyn_backward_node(lp_ctx *ctx, lp_node *node, lp_tensor *const *gout, lp_tensor **gin) {
  expsyn_payload *pl = lp_node_payload(node);
  lif_dims d = pl->d;
  const lp_dtype dt = pl->dt;
  const size_t es = lp_dtype_size(dt), nscratch = (size_t)(2 * d.B * d.N) * es;
  lp_tensor *gO = NULL, *dX = NULL, *x = lp_node_saved(node, pl->slot[ES_X]);
  lp_tensor *beta = lp_node_saved(node, pl->slot[ES_BETA]), *i0 = lp_node_saved(node, pl->slot[ES_I0]);
  lp_tensor *O = lp_node_saved(node, pl->slot[ES_O]);
  char *scratch = NULL;
  int64_t shape[3];
  int stop = 0;
  lp_status st;
  d.threads = lp_ctx_threads(ctx);
  if ((st = prep(ctx, gout[0], dt, &gO)) != LP_OK) goto done;
  shape[0] = d.B; shape[1] = d.T; shape[2] = d.N;
  if ((st = lp_tensor_new(ctx, dt, 3, shape, &dX)) != LP_OK) goto done;
  if (!(scratch = lp_ctx_alloc(ctx, nscratch ? nscratch : 1))) { st = LP_ENOMEM; goto done; }
  if (dt == LP_F32)
    expsyn_backward_f32(ctx, &d, lp_tensor_data(x), lp_tensor_data(beta), lp_tensor_data(i0), lp_tensor_data(O),
                        lp_tensor_data(gO), lp_tensor_data(dX), (float *)scratch,
                        (float *)(scratch + nscratch / 2), &stop);
  else
    expsyn_backward_f64(ctx, &d, lp_tensor_data(x), lp_tensor_data(beta), lp_tensor_data(i0), lp_tensor_data(O),
                        lp_tensor_data(gO), lp_tensor_data(dX), (double *)scratch,
                        (double *)(scratch + nscratch / 2), &stop);
  if (stop) { st = interrupted(ctx); goto done; }
  if ((st = grad_from_rows(ctx, node, 1, dt, scratch, d.B, d.N, gin)) != LP_OK) goto done;
  if (lp_node_input_needs_grad(node, 0)) { gin[0] = dX; dX = NULL; }
done:
  if (scratch) lp_ctx_dealloc(ctx, scratch, nscratch ? nscratch : 1);
  lp_tensor_release(gO);
  lp_tensor_release(dX);
  return st;
}

lp_status lp_expsyn(lp_ctx *ctx, const lp_expsyn_args *a, lp_tensor **out, lp_tensor **isyn_final) {
  lp_tensor *x = NULL, *beta = NULL, *noise = NULL, *i = NULL, *i0 = NULL, *O = NULL;
  const lp_tensor *inputs[2];
  lif_dims d;
  lp_dtype dt;
  int64_t sh[3];
  int stop = 0, need_grad;
  lp_status st;
  *out = NULL; *isyn_final = NULL;
  memset(&d, 0, sizeof d);
  if (!a->x) return lp_ctx_error(ctx, LP_EARG, 1, "expected a tensor");
  if (lp_tensor_ndim(a->x) != 3) return bad_shape(ctx, 1, NULL, a->x, "(B, T, N)");
  if ((st = required(ctx, a->beta, "beta")) != LP_OK) return st;
  d.B = lp_tensor_shape(a->x)[0]; d.T = lp_tensor_shape(a->x)[1]; d.N = lp_tensor_shape(a->x)[2]; d.k = 1;
  d.threads = lp_ctx_threads(ctx);
  sh[0] = d.N;
  if ((st = want_shape(ctx, 2, "beta", a->beta, 1, sh)) != LP_OK) return st;
  sh[0] = d.B; sh[1] = d.T; sh[2] = d.N;
  if (a->noise && (st = want_shape(ctx, 2, "noise", a->noise, 3, sh)) != LP_OK) return st;
  dt = lp_tensor_dtype(a->x) == LP_F64 ? LP_F64 : LP_F32;
  inputs[0] = a->x; inputs[1] = a->beta;
  need_grad = lp_needs_grad(ctx, 2, inputs);
  if ((st = prep(ctx, a->x, dt, &x)) != LP_OK || (st = prep(ctx, a->beta, dt, &beta)) != LP_OK ||
      (st = prep(ctx, a->noise, dt, &noise)) != LP_OK)
    goto done;
  sh[0] = d.N;
  if ((st = state_rows(ctx, "isyn", a->isyn, dt, d.B, 1, sh, &i)) != LP_OK) goto done;
  if (need_grad && (st = lp_tensor_clone(ctx, i, &i0)) != LP_OK) goto done;
  sh[0] = d.B;
  if ((st = lp_tensor_empty(ctx, dt, 3, sh, &O)) != LP_OK) goto done;
  if (dt == LP_F32)
    expsyn_forward_f32(ctx, &d, lp_tensor_data(x), lp_tensor_data(beta), noise ? lp_tensor_data(noise) : NULL,
                       lp_tensor_data(i), lp_tensor_data(O), &stop);
  else
    expsyn_forward_f64(ctx, &d, lp_tensor_data(x), lp_tensor_data(beta), noise ? lp_tensor_data(noise) : NULL,
                       lp_tensor_data(i), lp_tensor_data(O), &stop);
  if (stop) { st = interrupted(ctx); goto done; }
  if (need_grad) {
    lp_node *node;
    expsyn_payload *pl;
    if ((st = lp_node_record(ctx, "expsyn", expsyn_backward_node, 2, inputs, 1, &O, sizeof *pl, &node)) != LP_OK)
      goto done;
    pl = lp_node_payload(node);
    pl->d = d; pl->dt = dt;
    if ((st = lp_node_save(ctx, node, x, &pl->slot[ES_X])) != LP_OK ||
        (st = lp_node_save(ctx, node, beta, &pl->slot[ES_BETA])) != LP_OK ||
        (st = lp_node_save(ctx, node, i0, &pl->slot[ES_I0])) != LP_OK ||
        (st = lp_node_save(ctx, node, O, &pl->slot[ES_O])) != LP_OK)
      goto done;
  }
  *out = O; O = NULL;
  *isyn_final = i; i = NULL;
done:
  lp_tensor_release(x); lp_tensor_release(beta); lp_tensor_release(noise);
  lp_tensor_release(i); lp_tensor_release(i0); lp_tensor_release(O);
  return st;
}

/* ---- Rate ------------------------------------------------------------------------- */
enum { RT_ALPHA, RT_TH, RT_W, RT_H0, RT_O, RT_D, RT_N };
typedef struct rate_payload { lif_dims d; lp_dtype dt; int act; int slot[RT_N]; } rate_payload;

/* inputs: 0 x, 1 alpha, 2 bias, 3 threshold, 4 w_rec; output 0: H(x) (B, T, N) */
static lp_status rate_backward_node(lp_ctx *ctx, lp_node *node, lp_tensor *const *gout, lp_tensor **gin) {
  rate_payload *pl = lp_node_payload(node);
  lif_dims d = pl->d;
  const lp_dtype dt = pl->dt;
  const size_t es = lp_dtype_size(dt);
  const int64_t BN = d.B * d.N;
  const size_t nscratch = (size_t)(5 * BN) * es;
  lp_tensor *gO = NULL, *dX = NULL;
  lp_tensor *W = pl->slot[RT_W] >= 0 ? lp_node_saved(node, pl->slot[RT_W]) : NULL;
  char *scratch = NULL;
  int64_t shape[3];
  int stop = 0;
  lp_status st;
  d.threads = lp_ctx_threads(ctx);
  if ((st = prep(ctx, gout[0], dt, &gO)) != LP_OK) goto done;
  shape[0] = d.B; shape[1] = d.T; shape[2] = d.N;
  if ((st = lp_tensor_new(ctx, dt, 3, shape, &dX)) != LP_OK) goto done;
  if (!(scratch = lp_ctx_alloc(ctx, nscratch ? nscratch : 1))) { st = LP_ENOMEM; goto done; }
#define RATE_BWD(RT, SUF) do { \
    rate_bufs_##SUF p; rate_grads_##SUF g; RT *w = (RT *)scratch; \
    memset(&p, 0, sizeof p); \
    p.alpha = lp_tensor_data(lp_node_saved(node, pl->slot[RT_ALPHA])); \
    p.th = lp_tensor_data(lp_node_saved(node, pl->slot[RT_TH])); \
    p.W = W ? lp_tensor_data(W) : NULL; \
    p.H0 = lp_tensor_data(lp_node_saved(node, pl->slot[RT_H0])); \
    p.O = lp_tensor_data(lp_node_saved(node, pl->slot[RT_O])); \
    p.D = lp_tensor_data(lp_node_saved(node, pl->slot[RT_D])); \
    g.gO = lp_tensor_data(gO); g.dX = lp_tensor_data(dX); \
    g.dalpha = w; g.dbias = w + BN; g.dth = w + 2 * BN; g.gx = w + 3 * BN; g.gh = w + 4 * BN; \
    rate_backward_##SUF(ctx, &d, &p, &g, pl->act, &stop); \
  } while (0)
  if (dt == LP_F32) RATE_BWD(float, f32);
  else RATE_BWD(double, f64);
#undef RATE_BWD
  if (stop) { st = interrupted(ctx); goto done; }
  if ((st = grad_from_rows(ctx, node, 1, dt, scratch, d.B, d.N, gin)) != LP_OK) goto done;
  if ((st = grad_from_rows(ctx, node, 2, dt, scratch + BN * es, d.B, d.N, gin)) != LP_OK) goto done;
  if ((st = grad_from_rows(ctx, node, 3, dt, scratch + 2 * BN * es, d.B, d.N, gin)) != LP_OK) goto done;
  if (W && lp_node_input_needs_grad(node, 4) &&   /* dW = sum_t h_{t-1}^T dX_t, h_{-1} = H(x0 - th) */
      (st = grad_w(ctx, &d, dt, lp_node_saved(node, pl->slot[RT_O]), lp_node_saved(node, pl->slot[RT_H0]), dX,
                   d.N, NULL, &gin[4])) != LP_OK)
    goto done;
  if (lp_node_input_needs_grad(node, 0)) { gin[0] = dX; dX = NULL; }
done:
  if (scratch) lp_ctx_dealloc(ctx, scratch, nscratch ? nscratch : 1);
  lp_tensor_release(gO);
  lp_tensor_release(dX);
  return st;
}

lp_status lp_rate(lp_ctx *ctx, const lp_rate_args *a, lp_rate_act act, lp_tensor **out, lp_tensor **state_final) {
  lp_tensor *t[9] = {NULL};       /* x alpha bias th W noise state H0 D */
  lp_tensor *O = NULL;
  const lp_tensor *inputs[5];
  lif_dims d;
  lp_dtype dt;
  int64_t sh[3];
  int stop = 0, need_grad, i;
  void *scratch = NULL;
  size_t nscratch;
  lp_status st;
  *out = NULL; *state_final = NULL;
  memset(&d, 0, sizeof d);
  if (!a->x) return lp_ctx_error(ctx, LP_EARG, 1, "expected a tensor");
  if (lp_tensor_ndim(a->x) != 3) return bad_shape(ctx, 1, NULL, a->x, "(B, T, N)");
  if ((st = required(ctx, a->alpha, "alpha")) != LP_OK || (st = required(ctx, a->bias, "bias")) != LP_OK ||
      (st = required(ctx, a->threshold, "threshold")) != LP_OK)
    return st;
  if ((unsigned)act > LP_ACT_SIGMOID) return lp_ctx_error(ctx, LP_EARG, 2, "unknown activation");
  d.B = lp_tensor_shape(a->x)[0]; d.T = lp_tensor_shape(a->x)[1]; d.N = lp_tensor_shape(a->x)[2]; d.k = 1;
  d.threads = lp_ctx_threads(ctx);
  sh[0] = d.N; sh[1] = d.N;
  if ((st = want_shape(ctx, 2, "alpha", a->alpha, 1, sh)) != LP_OK) return st;
  if ((st = want_shape(ctx, 2, "bias", a->bias, 1, sh)) != LP_OK) return st;
  if ((st = want_shape(ctx, 2, "threshold", a->threshold, 1, sh)) != LP_OK) return st;
  if (a->w_rec && (st = want_shape(ctx, 2, "w_rec", a->w_rec, 2, sh)) != LP_OK) return st;
  sh[0] = d.B; sh[1] = d.T; sh[2] = d.N;
  if (a->noise && (st = want_shape(ctx, 2, "noise", a->noise, 3, sh)) != LP_OK) return st;
  dt = lp_tensor_dtype(a->x) == LP_F64 ? LP_F64 : LP_F32;
  inputs[0] = a->x; inputs[1] = a->alpha; inputs[2] = a->bias; inputs[3] = a->threshold; inputs[4] = a->w_rec;
  need_grad = lp_needs_grad(ctx, 5, inputs);
  if ((st = prep(ctx, a->x, dt, &t[0])) != LP_OK || (st = prep(ctx, a->alpha, dt, &t[1])) != LP_OK ||
      (st = prep(ctx, a->bias, dt, &t[2])) != LP_OK || (st = prep(ctx, a->threshold, dt, &t[3])) != LP_OK ||
      (st = prep(ctx, a->w_rec, dt, &t[4])) != LP_OK || (st = prep(ctx, a->noise, dt, &t[5])) != LP_OK)
    goto done;
  sh[0] = d.N;
  if ((st = state_rows(ctx, "x", a->state, dt, d.B, 1, sh, &t[6])) != LP_OK) goto done;
  sh[0] = d.B; sh[1] = d.N;
  if (need_grad && (st = lp_tensor_empty(ctx, dt, 2, sh, &t[7])) != LP_OK) goto done;
  sh[1] = d.T; sh[2] = d.N;
  if (need_grad && (st = lp_tensor_empty(ctx, dt, 3, sh, &t[8])) != LP_OK) goto done;
  if ((st = lp_tensor_empty(ctx, dt, 3, sh, &O)) != LP_OK) goto done;
  nscratch = (size_t)(2 * d.B * d.N) * lp_dtype_size(dt);
  if (!(scratch = lp_ctx_alloc_raw(ctx, nscratch ? nscratch : 1))) { st = LP_ENOMEM; goto done; }
#define DATA(x) ((x) ? lp_tensor_data(x) : NULL)
#define RATE_FWD(RT, SUF) do { \
    rate_bufs_##SUF p; \
    p.x = DATA(t[0]); p.alpha = DATA(t[1]); p.bias = DATA(t[2]); p.th = DATA(t[3]); p.W = DATA(t[4]); \
    p.noise = DATA(t[5]); p.state = DATA(t[6]); p.H0 = DATA(t[7]); p.D = DATA(t[8]); p.O = DATA(O); \
    p.h = (RT *)scratch; p.r = (RT *)scratch + d.B * d.N; \
    rate_forward_##SUF(ctx, &d, &p, (int)act, &stop); \
  } while (0)
  if (dt == LP_F32) RATE_FWD(float, f32);
  else RATE_FWD(double, f64);
#undef RATE_FWD
#undef DATA
  lp_ctx_dealloc(ctx, scratch, nscratch ? nscratch : 1);
  scratch = NULL;
  if (stop) { st = interrupted(ctx); goto done; }
  if (need_grad) {
    lp_node *node;
    rate_payload *pl;
    if ((st = lp_node_record(ctx, "rate", rate_backward_node, 5, inputs, 1, &O, sizeof *pl, &node)) != LP_OK)
      goto done;
    pl = lp_node_payload(node);
    pl->d = d; pl->dt = dt; pl->act = (int)act;
    for (i = 0; i < RT_N; i++) pl->slot[i] = -1;
    if ((st = lp_node_save(ctx, node, t[1], &pl->slot[RT_ALPHA])) != LP_OK ||
        (st = lp_node_save(ctx, node, t[3], &pl->slot[RT_TH])) != LP_OK ||
        (t[4] && (st = lp_node_save(ctx, node, t[4], &pl->slot[RT_W])) != LP_OK) ||
        (st = lp_node_save(ctx, node, t[7], &pl->slot[RT_H0])) != LP_OK ||
        (st = lp_node_save(ctx, node, O, &pl->slot[RT_O])) != LP_OK ||
        (st = lp_node_save(ctx, node, t[8], &pl->slot[RT_D])) != LP_OK)
      goto done;
  }
  *out = O; O = NULL;
  *state_final = t[6]; t[6] = NULL;
done:
  if (scratch) lp_ctx_dealloc(ctx, scratch, nscratch ? nscratch : 1);
  for (i = 0; i < 9; i++) lp_tensor_release(t[i]);
  lp_tensor_release(O);
  return st;
}
