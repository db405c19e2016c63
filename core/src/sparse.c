/*
** core/src/sparse.c -- event-driven matrix products over spike tensors.
** Owns: density detection on the fly, the compressed index of a sparse
** operand (rows of nonzero positions and values; of float rows or of
** uint8 / bool spike rows, on several threads), and the two products
** built on it: row gathers (x . W: each output row is the sum of W's rows
** picked by the input's events) and scatter-adds (x^T . g, the weight
** gradient: the index is transposed by a stable counting sort, so each
** output row again gathers the g rows of its events). Gathers write each
** output element once. Not
** here: the dense path and the NumPy semantics of matmul (linalg.c).
** Reproducibility: every element of the result sums its terms in the same
** order (k ascending) on any thread count; threads split output rows.
** Gathers sum 4 x 32 bytes of output columns in registers.
*/
#include "sparse.h"
#include "tensor_impl.h"
#include <stdint.h>
#include <string.h>

/* The inner loops are short vector loops: compile them at O3 and, on x86-64
   with GCC, in AVX-512 / AVX2 / baseline versions picked at load time. */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC optimize("O3")
#endif
#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && defined(__linux__)
#define SP_CLONES __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#define SP_CLONES
#endif

/* bit u of the result set when p[u] != 0, u < 16 (NaN counts as nonzero):
   one AVX-512 compare where the CPU has it, a loop elsewhere */
#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && defined(__linux__)
#include <immintrin.h>
__attribute__((target("avx512f"), always_inline)) static inline unsigned nzmask16_f32_avx512(const float *p) {
  return (unsigned)_mm512_cmp_ps_mask(_mm512_loadu_ps(p), _mm512_setzero_ps(), _CMP_NEQ_UQ);
}
#define SP_HAVE_AVX512_MASK 1
#endif
/* The plain masks: the reference the vector ones are checked against
   (lp_sp_index_ref, spec/c/test_sparse.c), and the masks where x86 is not. */
static inline unsigned nzmask16_f32_ref(const float *p) {
  unsigned m = 0, u;
  for (u = 0; u < 16; u++) m |= (unsigned)(p[u] != 0) << u;
  return m;
}
static inline unsigned nzmask16_f64_ref(const double *p) {
  unsigned m = 0, u;
  for (u = 0; u < 16; u++) m |= (unsigned)(p[u] != 0) << u;
  return m;
}
/* x86-64's baseline SSE2: four (float) or eight (double) not-equal compares
   (unordered: NaN is nonzero, -0 is zero, as p[u] != 0) and their sign bits;
   the scalar loop took 14 % of a W1 user step on an AVX2 machine (callgrind) */
#if defined(__SSE2__)
#include <emmintrin.h>
static inline unsigned nzmask16_f32(const float *p) {
  const __m128 z = _mm_setzero_ps();
  return (unsigned)_mm_movemask_ps(_mm_cmpneq_ps(_mm_loadu_ps(p), z)) |
         (unsigned)_mm_movemask_ps(_mm_cmpneq_ps(_mm_loadu_ps(p + 4), z)) << 4 |
         (unsigned)_mm_movemask_ps(_mm_cmpneq_ps(_mm_loadu_ps(p + 8), z)) << 8 |
         (unsigned)_mm_movemask_ps(_mm_cmpneq_ps(_mm_loadu_ps(p + 12), z)) << 12;
}
static inline unsigned nzmask16_f64(const double *p) {
  const __m128d z = _mm_setzero_pd();
  unsigned m = 0, u;
  for (u = 0; u < 16; u += 2) m |= (unsigned)_mm_movemask_pd(_mm_cmpneq_pd(_mm_loadu_pd(p + u), z)) << u;
  return m;
}
#else
#define nzmask16_f32 nzmask16_f32_ref
#define nzmask16_f64 nzmask16_f64_ref
#endif
#if defined(SP_HAVE_AVX512_MASK)
/* AVX: two 8-float compares */
__attribute__((target("avx"), always_inline)) static inline unsigned nzmask16_f32_avx(const float *p) {
  const __m256 z = _mm256_setzero_ps();
  return (unsigned)_mm256_movemask_ps(_mm256_cmp_ps(_mm256_loadu_ps(p), z, _CMP_NEQ_UQ)) |
         (unsigned)_mm256_movemask_ps(_mm256_cmp_ps(_mm256_loadu_ps(p + 8), z, _CMP_NEQ_UQ)) << 8;
}
#endif

/* 32-byte vectors of any alignment (GCC / Clang vector extensions): the
   gathers' accumulators, one AVX2 register each; the default clone lowers
   them to SSE pairs. (64-byte ones went through the stack on CPUs without
   AVX-512: ten times the instructions, callgrind on W1.) */
typedef float VEC_f32 __attribute__((vector_size(32), aligned(4), may_alias));
typedef double VEC_f64 __attribute__((vector_size(32), aligned(8), may_alias));

/* Per-type kernels. */
#define SP_KERNELS(REAL, SUF)                                                                   \
  static int64_t count_##SUF(const REAL *p, int64_t n, int64_t cap) {                           \
    int64_t i, nz = 0;                                                                           \
    const int64_t blk = 4096;                                                                    \
    for (i = 0; i < n; i += blk) {                                                               \
      int64_t j, e = i + blk < n ? i + blk : n, c = 0;                                           \
      for (j = i; j < e; j++) c += p[j] != 0;                                                    \
      nz += c;                                                                                   \
      if (nz > cap) return cap + 1;                                                              \
    }                                                                                            \
    return nz;                                                                                   \
  }                                                                                              \
  /* the set bits of mask m (block of row starting at column j), ascending, appended to idx,    \
     val from nz; the new count */                                                               \
  __attribute__((always_inline)) static inline int64_t emit_##SUF(uint32_t m, int64_t j, const REAL *row, \
                                                               int32_t *idx, REAL *val, int64_t nz) { \
    while (m) {                                                                                  \
      const int u = __builtin_ctz(m);                                                            \
      m &= m - 1;                                                                                \
      idx[nz] = (int32_t)(j + u); val[nz] = row[j + u]; nz++;                                    \
    }                                                                                            \
    return nz;                                                                                   \
  }                                                                                              \
  /* Index the R stored rows (length L, stride ld) of p: rowptr[1..R] (rowptr[0], 0, is the     \
     caller's), idx, val. Returns 0 when more than cap nonzeros. */                              \
  __attribute__((always_inline)) static inline int index_body_##SUF(const REAL *p, int64_t R, int64_t L, int64_t ld,          \
                                     int64_t cap, int64_t *rowptr, int32_t *idx, REAL *val,      \
                                     unsigned (*mask)(const REAL *)) {                           \
    int64_t r, j, nz = 0;                                                                        \
    for (r = 0; r < R; r++) {                                                                    \
      const REAL *row = p + r * ld;                                                              \
      for (j = 0; j + 16 <= L; j += 16) {                                                        \
        unsigned m = mask(row + j);                                                              \
        if (!m) continue;                                                                        \
        if (nz + 16 > cap && nz + __builtin_popcount(m) > cap) return 0;                         \
        nz = emit_##SUF(m, j, row, idx, val, nz);                                                \
      }                                                                                          \
      for (; j < L; j++) {                                                                       \
        if (row[j] != 0) {                                                                       \
          if (nz >= cap) return 0;                                                               \
          idx[nz] = (int32_t)j; val[nz] = row[j]; nz++;                                          \
        }                                                                                        \
      }                                                                                          \
      rowptr[r + 1] = nz;                                                                        \
    }                                                                                            \
    return 1;                                                                                    \
  }                                                                                              \
  static int index_##SUF(const REAL *p, int64_t R, int64_t L, int64_t ld, int64_t cap,         \
                         int64_t *rowptr, int32_t *idx, REAL *val) {                             \
    return index_body_##SUF(p, R, L, ld, cap, rowptr, idx, val, nzmask16_##SUF);                 \
  }                                                                                              \
  static int index_ref_##SUF(const REAL *p, int64_t R, int64_t L, int64_t ld, int64_t cap,     \
                             int64_t *rowptr, int32_t *idx, REAL *val) {                         \
    return index_body_##SUF(p, R, L, ld, cap, rowptr, idx, val, nzmask16_##SUF##_ref);           \
  }                                                                                              \
  /* The transposed index (rows = the L columns), by a stable counting sort on nch threads:       \
     chunk q of the rows counts its events per column into hist[q*L ..]; the counts become each   \
     chunk's first slot in each new row (chunks in order); each chunk then places its events.     \
     Each new row lists its events in ascending old-row order: the same index on any nch. */     \
  static void transpose_##SUF(int64_t R, int64_t L, const int64_t *rowptr, const int32_t *idx,  \
                              const REAL *val, int64_t *rp2, int32_t *ix2, REAL *val2,          \
                              int64_t *hist, int nch) {                                         \
    int64_t i, run = 0;                                                                          \
    int q;                                                                                       \
    _Pragma("omp parallel for schedule(static) num_threads(nch) if (nch > 1)")                   \
    for (q = 0; q < nch; q++) {                                                                  \
      int64_t *h = hist + (int64_t)q * L, e;                                                     \
      const int64_t e0 = rowptr[R * q / nch], e1 = rowptr[R * (q + 1) / nch];                    \
      memset(h, 0, (size_t)L * sizeof *h);                                                       \
      for (e = e0; e < e1; e++) h[idx[e]]++;                                                     \
    }                                                                                            \
    for (i = 0; i < L; i++) {                                                                    \
      int qq;                                                                                    \
      rp2[i] = run;                                                                              \
      for (qq = 0; qq < nch; qq++) {                                                             \
        const int64_t n = hist[(int64_t)qq * L + i];                                             \
        hist[(int64_t)qq * L + i] = run; run += n;                                               \
      }                                                                                          \
    }                                                                                            \
    rp2[L] = run;                                                                                \
    _Pragma("omp parallel for schedule(static) num_threads(nch) if (nch > 1)")                   \
    for (q = 0; q < nch; q++) {                                                                  \
      int64_t *h = hist + (int64_t)q * L, r, e;                                                  \
      const int64_t r1 = R * (q + 1) / nch;                                                      \
      for (r = R * q / nch; r < r1; r++)                                                         \
        for (e = rowptr[r]; e < rowptr[r + 1]; e++) {                                            \
          const int64_t p = h[idx[e]]++;                                                         \
          ix2[p] = (int32_t)r;                                                                   \
          if (val) val2[p] = val[e];                                                             \
        }                                                                                        \
    }                                                                                            \
  }                                                                                              \
  /* C[i, :] = sum over row i's events (k, v), k ascending, of v * B[k, :], rows i0..i1;        \
     4 vectors (32 bytes each) of columns at a time summed in registers, then single vectors,   \
     then the last columns one by one; C written once. */                                        \
  SP_CLONES static void gather_rows_##SUF(int64_t i0, int64_t i1, int64_t N,                   \
                                          const int64_t *restrict rowptr,                       \
                                          const int32_t *restrict idx, const REAL *restrict val,\
                                          const REAL *restrict B, int64_t ldb, REAL *restrict C) {\
    const int64_t VW = (int64_t)(sizeof(VEC_##SUF) / sizeof(REAL));                              \
    int64_t i;                                                                                   \
    for (i = i0; i < i1; i++) {                                                                  \
      REAL *c = C + i * N;                                                                       \
      const int64_t e0 = rowptr[i], e1 = rowptr[i + 1];                                          \
      int64_t e, j = 0;                                                                          \
      for (; j + 4 * VW <= N; j += 4 * VW) {                                                     \
        VEC_##SUF a0 = {0}, a1 = {0}, a2 = {0}, a3 = {0};                                        \
        for (e = e0; e < e1; e++) {                                                              \
          const REAL *b = B + (int64_t)idx[e] * ldb + j, v = val[e];                             \
          a0 += v * *(const VEC_##SUF *)b;                                                       \
          a1 += v * *(const VEC_##SUF *)(b + VW);                                                \
          a2 += v * *(const VEC_##SUF *)(b + 2 * VW);                                            \
          a3 += v * *(const VEC_##SUF *)(b + 3 * VW);                                            \
        }                                                                                        \
        *(VEC_##SUF *)(c + j) = a0; *(VEC_##SUF *)(c + j + VW) = a1;                             \
        *(VEC_##SUF *)(c + j + 2 * VW) = a2; *(VEC_##SUF *)(c + j + 3 * VW) = a3;                \
      }                                                                                          \
      for (; j < N && N >= VW; j += VW) {   /* the last columns: one vector ending at N */     \
        if (j + VW > N) j = N - VW;                                                            \
        VEC_##SUF a0 = {0};                                                                      \
        for (e = e0; e < e1; e++) a0 += val[e] * *(const VEC_##SUF *)(B + (int64_t)idx[e] * ldb + j); \
        *(VEC_##SUF *)(c + j) = a0;                                                              \
      }                                                                                          \
      for (; j < N; j++) {                                                                       \
        REAL a0 = 0;                                                                             \
        for (e = e0; e < e1; e++) a0 += val[e] * B[(int64_t)idx[e] * ldb + j];                   \
        c[j] = a0;                                                                               \
      }                                                                                          \
    }                                                                                            \
  }                                                                                              \
  /* gather_rows when every value is 1 (spikes as 0/1: val NULL): the same     \
     sums without the products by 1, which change no bit */                                        \
  SP_CLONES static void gather_rows1_##SUF(int64_t i0, int64_t i1, int64_t N,                   \
                                          const int64_t *restrict rowptr,                       \
                                          const int32_t *restrict idx, const REAL *restrict val,\
                                          const REAL *restrict B, int64_t ldb, REAL *restrict C) {\
    const int64_t VW = (int64_t)(sizeof(VEC_##SUF) / sizeof(REAL));                              \
    int64_t i;                                                                                   \
    (void)val;                                                                                   \
    for (i = i0; i < i1; i++) {                                                                  \
      REAL *c = C + i * N;                                                                       \
      const int64_t e0 = rowptr[i], e1 = rowptr[i + 1];                                          \
      int64_t e, j = 0;                                                                          \
      for (; j + 4 * VW <= N; j += 4 * VW) {                                                     \
        VEC_##SUF a0 = {0}, a1 = {0}, a2 = {0}, a3 = {0};                                        \
        for (e = e0; e < e1; e++) {                                                              \
          const REAL *b = B + (int64_t)idx[e] * ldb + j;                             \
          a0 += *(const VEC_##SUF *)b;                                                       \
          a1 += *(const VEC_##SUF *)(b + VW);                                                \
          a2 += *(const VEC_##SUF *)(b + 2 * VW);                                            \
          a3 += *(const VEC_##SUF *)(b + 3 * VW);                                            \
        }                                                                                        \
        *(VEC_##SUF *)(c + j) = a0; *(VEC_##SUF *)(c + j + VW) = a1;                             \
        *(VEC_##SUF *)(c + j + 2 * VW) = a2; *(VEC_##SUF *)(c + j + 3 * VW) = a3;                \
      }                                                                                          \
      for (; j < N && N >= VW; j += VW) {   /* the last columns: one vector ending at N */     \
        if (j + VW > N) j = N - VW;                                                            \
        VEC_##SUF a0 = {0};                                                                      \
        for (e = e0; e < e1; e++) a0 += *(const VEC_##SUF *)(B + (int64_t)idx[e] * ldb + j); \
        *(VEC_##SUF *)(c + j) = a0;                                                              \
      }                                                                                          \
      for (; j < N; j++) {                                                                       \
        REAL a0 = 0;                                                                             \
        for (e = e0; e < e1; e++) a0 += B[(int64_t)idx[e] * ldb + j];                   \
        c[j] = a0;                                                                               \
      }                                                                                          \
    }                                                                                            \
  }                                                                                              \
  static void gather_##SUF(int64_t M, int64_t N, const int64_t *rowptr, const int32_t *idx,     \
                           const REAL *val, const REAL *B, int64_t ldb, REAL *C, int threads) { \
    const int64_t nch = threads > 1 && M > 1 ? (M < 4 * threads ? M : 4 * threads) : 1;         \
    int64_t q;                                                                                   \
    _Pragma("omp parallel for schedule(static) num_threads(threads) if (nch > 1)")               \
    for (q = 0; q < nch; q++)                                                                    \
      (val ? gather_rows_##SUF : gather_rows1_##SUF)(M * q / nch, M * (q + 1) / nch, N, rowptr,  \
                                                      idx, val, B, ldb, C);                       \
  }

SP_KERNELS(float, f32)
SP_KERNELS(double, f64)

/* bit u of the result set when p[u] != 0, u < 64: four SSE2 byte compares
   on x86-64 (its baseline), a loop elsewhere */
#if defined(__SSE2__)
#include <emmintrin.h>
static inline uint64_t nzmask64_u8(const uint8_t *p) {
  const __m128i z = _mm_setzero_si128();
  const uint64_t m0 = (uint16_t)_mm_movemask_epi8(_mm_cmpeq_epi8(_mm_loadu_si128((const __m128i *)p), z));
  const uint64_t m1 = (uint16_t)_mm_movemask_epi8(_mm_cmpeq_epi8(_mm_loadu_si128((const __m128i *)(p + 16)), z));
  const uint64_t m2 = (uint16_t)_mm_movemask_epi8(_mm_cmpeq_epi8(_mm_loadu_si128((const __m128i *)(p + 32)), z));
  const uint64_t m3 = (uint16_t)_mm_movemask_epi8(_mm_cmpeq_epi8(_mm_loadu_si128((const __m128i *)(p + 48)), z));
  return ~(m0 | m1 << 16 | m2 << 32 | m3 << 48);
}
#else
static inline uint64_t nzmask64_u8(const uint8_t *p) {
  uint64_t m = 0;
  int u;
  for (u = 0; u < 64; u++) m |= (uint64_t)(p[u] != 0) << u;
  return m;
}
#endif

/* The index of R rows of bytes (uint8 / bool spike tensors: a quarter of
   the float32 bytes to scan), values converted to float or double: 64
   bytes tested at a time, then the set ones by bit scans; the last partial
   block of a row by one more 64-byte test that ends at the row's end (its
   bits already seen shifted out), or, on rows shorter than 64, of a
   zero-padded copy. Same contract as index_f32. */
#define SP_INDEX_U8(REAL, SUF)                                                                   \
  static int index_u8_##SUF(const uint8_t *p, int64_t R, int64_t L, int64_t ld, int64_t cap,    \
                            int64_t *rowptr, int32_t *idx, REAL *val) {                         \
    int64_t r, j, nz = 0;                                                                        \
    uint8_t pad[64];                                                                             \
    for (r = 0; r < R; r++) {                                                                    \
      const uint8_t *row = p + r * ld;                                                           \
      for (j = 0; j < L; j += 64) {                                                              \
        uint64_t m;                                                                              \
        const uint8_t *blk = row + j;                                                            \
        if (j + 64 <= L) m = nzmask64_u8(blk);                                                   \
        else if (L >= 64) { blk = row + L - 64; m = nzmask64_u8(blk) >> (j - (L - 64)); blk = row + j; } \
        else { memset(pad, 0, sizeof pad); memcpy(pad, row, (size_t)L); m = nzmask64_u8(pad); }  \
        if (!m) continue;                                                                        \
        if (nz + 64 > cap && nz + __builtin_popcountll(m) > cap) return 0;                       \
        while (m) {                                                                              \
          const int u = __builtin_ctzll(m);                                                      \
          m &= m - 1;                                                                            \
          idx[nz] = (int32_t)(j + u); val[nz] = (REAL)blk[u]; nz++;                              \
        }                                                                                        \
      }                                                                                          \
      rowptr[r + 1] = nz;                                                                        \
    }                                                                                            \
    return 1;                                                                                    \
  }
SP_INDEX_U8(float, f32)
SP_INDEX_U8(double, f64)

#ifdef SP_HAVE_AVX512_MASK
__attribute__((target("avx512f"))) static int index_f32_avx512(const float *p, int64_t R, int64_t L, int64_t ld,
                                                              int64_t cap, int64_t *rowptr, int32_t *idx,
                                                              float *val) {
  return index_body_f32(p, R, L, ld, cap, rowptr, idx, val, nzmask16_f32_avx512);
}
#endif
#ifdef SP_HAVE_AVX512_MASK
__attribute__((target("avx"))) static int index_f32_avx(const float *p, int64_t R, int64_t L, int64_t ld,
                                                        int64_t cap, int64_t *rowptr, int32_t *idx, float *val) {
  return index_body_f32(p, R, L, ld, cap, rowptr, idx, val, nzmask16_f32_avx);
}
#endif
#ifdef SP_HAVE_AVX512_MASK
/* AVX2: 32 floats per test, four not-equal compares packed to bytes and put
   back in order (vpackssdw / vpacksswb work within 128-bit lanes; one
   vpermd undoes that), one movemask; rows with room for all their values
   (the usual case) without a capacity check per block, and their last
   partial block (700 = 21 x 32 + 28) by one more 32-float test ending at
   the row's end, its bits already seen shifted out (it was a 16-wide
   mask and a scalar loop: 8 % of the index); else the 16-wide mask and the
   scalar tail as index_body_f32. Issue 17: the scan was a quarter of the W1 user
   forward's instructions with two 8-float masks per 16. Same index as the
   plain one (spec/c/test_sparse.c, test_index_masks). */
__attribute__((target("avx2"), always_inline)) static inline uint32_t nzmask32_f32_avx2(const float *p) {
  const __m256 z = _mm256_setzero_ps();
  const __m256i c0 = _mm256_castps_si256(_mm256_cmp_ps(_mm256_loadu_ps(p), z, _CMP_NEQ_UQ));
  const __m256i c1 = _mm256_castps_si256(_mm256_cmp_ps(_mm256_loadu_ps(p + 8), z, _CMP_NEQ_UQ));
  const __m256i c2 = _mm256_castps_si256(_mm256_cmp_ps(_mm256_loadu_ps(p + 16), z, _CMP_NEQ_UQ));
  const __m256i c3 = _mm256_castps_si256(_mm256_cmp_ps(_mm256_loadu_ps(p + 24), z, _CMP_NEQ_UQ));
  const __m256i b = _mm256_packs_epi16(_mm256_packs_epi32(c0, c1), _mm256_packs_epi32(c2, c3));
  return (uint32_t)_mm256_movemask_epi8(_mm256_permutevar8x32_epi32(b, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7)));
}
/* How far ahead of its scan index_f32_avx2 asks for x's lines: 4096 floats
   (16 KB, 256 lines; two prefetches per 32-float test). The W1 user form
   scans 9 MB of float32 spikes per forward, a stream the hardware
   prefetchers did not keep ahead of on the machine (2 vCPUs on one
   SMT core, the other busy): the scan was 28 % of the forward's CPU time
   by samples (perf, cpu-clock) for 27 % of its instructions, its time at
   the compares after the loads. Issue 17, process CPU time, 1 thread,
   forwards alternating with and without it in one process: 4096 floats
   ahead x0.91-0.94 (four runs, paired medians of 150, both orders); other
   distances, measured with an experimental projection on as well (x1.00
   by itself; medians of 80): 256 x0.97, 1024 x0.92-0.95, 2048 x0.90,
   8192 x0.85-0.92, 16384 x0.90. A hint: the index is the same (prefetches
   of lines past the buffer do not fault). After it the scan waits at the
   prefetches themselves: memory bandwidth. The byte scan (index_u8, 2.2
   MB for W1r) showed no change (x1.01): left without. */
#define SP_PREFETCH_F32 4096
__attribute__((target("avx2"))) static int index_f32_avx2(const float *p, int64_t R, int64_t L, int64_t ld,
                                                         int64_t cap, int64_t *rowptr, int32_t *idx, float *val) {
  int64_t r, j, nz = 0;
  for (r = 0; r < R; r++) {
    const float *row = p + r * ld;
    if (L >= 32 && L <= cap - nz) {    /* room for the whole row: no check per block; the last partial */
                                       /* block by one more test ending at L, its bits seen shifted out */
      for (j = 0; j + 32 <= L; j += 32) {
        const uintptr_t ahead = (uintptr_t)(row + j) + 4 * SP_PREFETCH_F32;   /* an address, not a pointer past x */
        _mm_prefetch((const char *)ahead, _MM_HINT_T0);
        _mm_prefetch((const char *)(ahead + 64), _MM_HINT_T0);
        nz = emit_f32(nzmask32_f32_avx2(row + j), j, row, idx, val, nz);
      }
      if (j < L) nz = emit_f32(nzmask32_f32_avx2(row + L - 32) >> (j - (L - 32)), j, row, idx, val, nz);
      rowptr[r + 1] = nz;
      continue;
    }
    for (j = 0; j + 32 <= L; j += 32) {
      uint32_t m = nzmask32_f32_avx2(row + j);
      if (!m) continue;
      if (nz + 32 > cap && nz + __builtin_popcount(m) > cap) return 0;
      nz = emit_f32(m, j, row, idx, val, nz);
    }
    for (; j + 16 <= L; j += 16) {
      unsigned m = nzmask16_f32_avx(row + j);
      if (!m) continue;
      if (nz + 16 > cap && nz + __builtin_popcount(m) > cap) return 0;
      nz = emit_f32(m, j, row, idx, val, nz);
    }
    for (; j < L; j++) {
      if (row[j] != 0) {
        if (nz >= cap) return 0;
        idx[nz] = (int32_t)j; val[nz] = row[j]; nz++;
      }
    }
    rowptr[r + 1] = nz;
  }
  return 1;
}
#endif
/* index_f32 on the best mask the CPU offers */
static int index_f32_best(const float *p, int64_t R, int64_t L, int64_t ld, int64_t cap, int64_t *rowptr,
                          int32_t *idx, float *val) {
#ifdef SP_HAVE_AVX512_MASK
  if (__builtin_cpu_supports("avx512f")) return index_f32_avx512(p, R, L, ld, cap, rowptr, idx, val);
  if (__builtin_cpu_supports("avx2")) return index_f32_avx2(p, R, L, ld, cap, rowptr, idx, val);
  if (__builtin_cpu_supports("avx")) return index_f32_avx(p, R, L, ld, cap, rowptr, idx, val);
#endif
  return index_f32(p, R, L, ld, cap, rowptr, idx, val);
}

int64_t lp_sp_count_nonzero(lp_dtype dt, const void *p, int64_t n, int64_t cap) {
  return dt == LP_F64 ? count_f64(p, n, cap) : count_f32(p, n, cap);
}

int lp_sp_index(lp_dtype dt, const void *p, int64_t R, int64_t L, int64_t ld, int64_t cap, int64_t *rowptr,
                int32_t *idx, void *val) {
  rowptr[0] = 0;
  return dt == LP_F64 ? index_f64(p, R, L, ld, cap, rowptr, idx, val)
                      : index_f32_best(p, R, L, ld, cap, rowptr, idx, val);
}

int lp_sp_index_ref(lp_dtype dt, const void *p, int64_t R, int64_t L, int64_t ld, int64_t cap, int64_t *rowptr,
                    int32_t *idx, void *val) {
  rowptr[0] = 0;
  return dt == LP_F64 ? index_ref_f64(p, R, L, ld, cap, rowptr, idx, val)
                      : index_ref_f32(p, R, L, ld, cap, rowptr, idx, val);
}

static int64_t index_chunks(int64_t R, int threads) {
  return threads > 1 && R >= 64 ? (R < threads ? R : threads) : 1;
}

/* Chunk q of the rows is indexed by one thread into slots [q*c, (q+1)*c),
   c = cap / nch, of idx/val with rowptr counts local to the chunk; then the
   chunks are moved down to follow each other and rowptr made global. When
   a chunk has more than c nonzeros (activity far from uniform, or near the
   cap), the whole index is made again on one thread. Same index as
   lp_sp_index. */
int lp_sp_index_mt(lp_dtype dt, lp_dtype src, const void *p, int64_t R, int64_t L, int64_t ld, int64_t cap,
                   int64_t *rowptr, int32_t *idx, void *val, int threads) {
  const int64_t nch = index_chunks(R, threads);
  const size_t es = lp_dtype_size(dt), ses = lp_dtype_size(src);
  const int bytes = src == LP_U8 || src == LP_BOOL;
  const int64_t c = cap / nch;
  int64_t q, base = 0, r;
  int ok = 1;
  rowptr[0] = 0;
  if (nch == 1 || c < 1) goto serial;
#pragma omp parallel for schedule(static) num_threads((int)nch) reduction(&& : ok) if (nch > 1)
  for (q = 0; q < nch; q++) {
    const int64_t r0 = R * q / nch, r1 = R * (q + 1) / nch;
    const char *pq = (const char *)p + (size_t)(r0 * ld) * ses;
    int32_t *iq = idx + q * c;
    void *vq = (char *)val + (size_t)(q * c) * es;
    int okq;
    if (bytes)
      okq = dt == LP_F64 ? index_u8_f64((const uint8_t *)pq, r1 - r0, L, ld, c, rowptr + r0, iq, vq)
                         : index_u8_f32((const uint8_t *)pq, r1 - r0, L, ld, c, rowptr + r0, iq, vq);
    else
      okq = dt == LP_F64 ? index_f64((const double *)pq, r1 - r0, L, ld, c, rowptr + r0, iq, vq)
                         : index_f32_best((const float *)pq, r1 - r0, L, ld, c, rowptr + r0, iq, vq);
    ok = ok && okq;
  }
  if (!ok) goto serial;
  for (q = 0; q < nch; q++) {       /* rowptr[r0] is already global (the previous chunk's end) */
    const int64_t r0 = R * q / nch, r1 = R * (q + 1) / nch, n = r1 > r0 ? rowptr[r1] : 0;
    if (q > 0 && n > 0) {
      memmove(idx + base, idx + q * c, (size_t)n * sizeof *idx);
      memmove((char *)val + (size_t)base * es, (char *)val + (size_t)(q * c) * es, (size_t)n * es);
    }
    for (r = r0 + 1; r <= r1; r++) rowptr[r] += base;
    base += n;
  }
  return 1;
serial:
  rowptr[0] = 0;
  if (bytes) return dt == LP_F64 ? index_u8_f64(p, R, L, ld, cap, rowptr, idx, val)
                                 : index_u8_f32(p, R, L, ld, cap, rowptr, idx, val);
  return lp_sp_index(dt, p, R, L, ld, cap, rowptr, idx, val);
}

lp_status lp_sp_gemm_tn_index(lp_ctx *ctx, lp_dtype dt, int64_t R, int64_t L, int64_t N, const int64_t *rowptr,
                              const int32_t *idx, const void *val, const void *b, int64_t ldb, void *c,
                              int threads) {
  const size_t es = lp_dtype_size(dt);
  const int64_t nz = rowptr[R];
  /* the transpose on several threads only when there are events enough to share */
  const int nch = threads > 1 && nz >= 8192 && R >= 2 * (int64_t)threads ? threads : 1;
  const size_t nrp2 = (size_t)(L + 1) * sizeof *rowptr, nix2 = (size_t)(nz ? nz : 1) * sizeof *idx,
               nval2 = (size_t)(nz ? nz : 1) * es, nh = (size_t)(L > 0 ? L : 1) * (size_t)nch * sizeof *rowptr;
  int64_t *rp2 = lp_ctx_alloc_raw(ctx, nrp2);
  int32_t *ix2 = rp2 ? lp_ctx_alloc_raw(ctx, nix2) : NULL;
  void *val2 = ix2 && val ? lp_ctx_alloc_raw(ctx, nval2) : NULL;
  int64_t *hist = ix2 && (val2 || !val) ? lp_ctx_alloc_raw(ctx, nh) : NULL;
  if (!hist) {
    if (val2) lp_ctx_dealloc(ctx, val2, nval2);
    if (ix2) lp_ctx_dealloc(ctx, ix2, nix2);
    if (rp2) lp_ctx_dealloc(ctx, rp2, nrp2);
    return LP_ENOMEM;
  }
  if (dt == LP_F64) {
    transpose_f64(R, L, rowptr, idx, val, rp2, ix2, val2, hist, nch);
    gather_f64(L, N, rp2, ix2, val2, b, ldb, c, threads);
  } else {
    transpose_f32(R, L, rowptr, idx, val, rp2, ix2, val2, hist, nch);
    gather_f32(L, N, rp2, ix2, val2, b, ldb, c, threads);
  }
  lp_ctx_dealloc(ctx, hist, nh);
  if (val2) lp_ctx_dealloc(ctx, val2, nval2);
  lp_ctx_dealloc(ctx, ix2, nix2);
  lp_ctx_dealloc(ctx, rp2, nrp2);
  return LP_OK;
}

/* Are the n values all exactly 1? */
static int all_ones(lp_dtype dt, const void *val, int64_t n) {
  int64_t i;
  int ok = 1;
  if (dt == LP_F64) {
    const double *v = val;
    for (i = 0; i < n; i++) ok &= v[i] == 1.0;
  } else {
    const float *v = val;
    for (i = 0; i < n; i++) ok &= v[i] == 1.0f;
  }
  return ok;
}

lp_status lp_sp_gemm(lp_ctx *ctx, lp_dtype dt, int64_t M, int64_t N, int64_t K, const void *a, int64_t lda,
                     int trans_a, const void *b, int64_t ldb, void *c, int threads, int *done) {
  const size_t es = lp_dtype_size(dt);
  /* stored rows of A: M rows of K (trans_a = 0) or K rows of M (trans_a = 1) */
  const int64_t R = trans_a ? K : M, L = trans_a ? M : K;
  int64_t cap = (int64_t)(LP_SP_DENSITY_MAX * (double)M * (double)K), *rowptr = NULL;
  int32_t *idx = NULL;
  void *val = NULL;
  const void *vuse;
  size_t nrp, nix, nval;
  int ok;
  *done = 0;
  if ((dt != LP_F32 && dt != LP_F64) || M <= 0 || N <= 0 || K <= 0 || L > INT32_MAX) return LP_OK;
  if (N < 4) return LP_OK;                     /* row products too short to gain */
  if (cap < 1) cap = 1;
  nrp = (size_t)(R + 1) * sizeof *rowptr; nix = (size_t)cap * sizeof *idx; nval = (size_t)cap * es;
  rowptr = lp_ctx_alloc_raw(ctx, nrp);
  idx = rowptr ? lp_ctx_alloc_raw(ctx, nix) : NULL;
  val = idx ? lp_ctx_alloc_raw(ctx, nval) : NULL;
  if (!val) {
    if (idx) lp_ctx_dealloc(ctx, idx, nix);
    if (rowptr) lp_ctx_dealloc(ctx, rowptr, nrp);
    return LP_ENOMEM;
  }
  ok = lp_sp_index(dt, a, R, L, lda, cap, rowptr, idx, val);
  /* every nonzero 1 (spikes): the gathers without the products, 1 * b
     being b (the same sums, bits included; issue 17) */
  vuse = ok && !all_ones(dt, val, rowptr[R]) ? val : NULL;
  if (ok && !trans_a) {
    if (dt == LP_F64) gather_f64(M, N, rowptr, idx, vuse, b, ldb, c, threads);
    else gather_f32(M, N, rowptr, idx, vuse, b, ldb, c, threads);
    *done = 1;
  } else if (ok) {                             /* rows of A^T: transpose the index, then gather */
    lp_status st = lp_sp_gemm_tn_index(ctx, dt, R, L, N, rowptr, idx, vuse, b, ldb, c, threads);
    if (st != LP_OK) {
      lp_ctx_dealloc(ctx, val, nval);
      lp_ctx_dealloc(ctx, idx, nix);
      lp_ctx_dealloc(ctx, rowptr, nrp);
      return st;
    }
    *done = 1;
  }
  lp_ctx_dealloc(ctx, val, nval);
  lp_ctx_dealloc(ctx, idx, nix);
  lp_ctx_dealloc(ctx, rowptr, nrp);
  return LP_OK;
}
