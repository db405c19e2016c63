/*
** core/src/ctx.c -- the engine context: errors, accounted allocation with
** fault injection, the size cap, the interrupt flag, the random counter,
** and the block cache: freed blocks of 64 KiB or more are kept, per size
** class (four classes per power of two), for the next request of that
** class, up to cache_max bytes in all; this spares the page faults and
** kernel page clearing of a fresh mmap for the large per-step buffers of
** training loops. Cached bytes are not live: lp_ctx_bytes_live counts only
** what callers hold. The cache is emptied when the context goes, when the
** size cap changes, and before an allocation that malloc refuses is retried.
** Not here: tensors (tensor.c), random kernels (random.c).
*/
#include "tensor_impl.h"
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
#ifdef _OPENMP
#include <omp.h>
#endif
#include <cblas.h>
#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/asan_interface.h>
#define CACHE_POISON(p, n) ASAN_POISON_MEMORY_REGION(p, n)
#define CACHE_UNPOISON(p, n) ASAN_UNPOISON_MEMORY_REGION(p, n)
#else
#define CACHE_POISON(p, n) ((void)(p), (void)(n))
#define CACHE_UNPOISON(p, n) ((void)(p), (void)(n))
#endif

#define CACHE_MIN_SHIFT 16                    /* blocks below 64 KiB go straight to malloc */
/* At most 128 MiB cached (and max_bytes / 4): a W1 training step's working
   set is larger than 32 MiB, and below it the gradient buffers were mapped
   afresh every step (700K page faults in 300 steps against 16K). */
#define CACHE_MAX_DEFAULT ((size_t)128 << 20)

static size_t cache_limit(size_t max_bytes) {
  return max_bytes / 4 < CACHE_MAX_DEFAULT ? max_bytes / 4 : CACHE_MAX_DEFAULT;
}

/* Size class of an n-byte request (n >= 64 KiB) and that class's block size:
   2^e, 1.25 2^e, 1.5 2^e, 1.75 2^e. Returns -1 when n is past the classes. */
static int cache_class(size_t n, size_t *block) {
  int e = 63 - __builtin_clzll((unsigned long long)n), q, c;
  size_t base, quarter;
  if (e < CACHE_MIN_SHIFT) return -1;
  base = (size_t)1 << e;
  quarter = base >> 2;
  q = (int)((n - base + quarter - 1) / quarter);        /* 0..4 */
  if (q == 4) { e++; q = 0; base <<= 1; quarter <<= 1; }
  c = (e - CACHE_MIN_SHIFT) * 4 + q;
  if (c >= LP_CACHE_NCLASS) return -1;
  *block = base + (size_t)q * quarter;
  return c;
}

/* Free cached blocks until at most `keep` bytes remain (largest classes first). */
static void cache_trim(lp_ctx *ctx, size_t keep) {
  int c;
  for (c = LP_CACHE_NCLASS - 1; c >= 0 && ctx->cache_bytes > keep; c--) {
    size_t block = ((size_t)1 << (c / 4 + CACHE_MIN_SHIFT)) / 4 * (size_t)(4 + c % 4);
    while (ctx->cache[c] && ctx->cache_bytes > keep) {
      void *p = ctx->cache[c];
      CACHE_UNPOISON(p, block);
      ctx->cache[c] = *(void **)p;
      ctx->cache_bytes -= block;
      free(p);
    }
  }
}

static size_t physical_memory(void) {
  long pages = sysconf(_SC_PHYS_PAGES), size = sysconf(_SC_PAGESIZE);
  if (pages <= 0 || size <= 0) return (size_t)1 << 34;   /* 16 GiB if unknown */
  return (size_t)pages * (size_t)size;
}

lp_status lp_ctx_new(lp_ctx **out) {
  lp_ctx *ctx = calloc(1, sizeof *ctx);
  *out = ctx;
  if (!ctx) return LP_ENOMEM;
  ctx->refcount = 1;
  ctx->max_bytes = physical_memory();
  ctx->cache_max = cache_limit(ctx->max_bytes);
  ctx->seed = 0x853c49e6748fea9bULL;
  ctx->grad_enabled = 1;
#ifdef _OPENMP
  ctx->threads = omp_get_max_threads();
#else
  ctx->threads = 1;
#endif
  openblas_set_num_threads(ctx->threads);
  return LP_OK;
}

/* Storages keep the context alive, so tensors outliving their host's handle
   still free into a valid context. */
void lp_ctx_unref_(lp_ctx *ctx) {
  if (ctx && --ctx->refcount == 0) {
    cache_trim(ctx, 0);
    free(ctx);
  }
}
void lp_ctx_ref_(lp_ctx *ctx) { ctx->refcount++; }

void lp_ctx_free(lp_ctx *ctx) { lp_ctx_unref_(ctx); }

const char *lp_ctx_errmsg(const lp_ctx *ctx) { return ctx->errmsg[0] ? ctx->errmsg : "no error"; }
int lp_ctx_errarg(const lp_ctx *ctx) { return ctx->errarg; }
void lp_ctx_clear_error(lp_ctx *ctx) { ctx->errmsg[0] = 0; ctx->errarg = 0; }

lp_status lp_ctx_error(lp_ctx *ctx, lp_status st, int arg, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(ctx->errmsg, sizeof ctx->errmsg, fmt, ap);
  va_end(ap);
  ctx->errarg = arg;
  return st;
}

static void *ctx_alloc(lp_ctx *ctx, size_t nbytes, int zero) {
  void *p;
  ctx->alloc_count++;
  if (ctx->fail_at && ctx->alloc_count >= ctx->fail_at) {
    ctx->fail_at = 0;                         /* one injected failure */
    lp_ctx_error(ctx, LP_ENOMEM, 0, "not enough memory (injected failure)");
    return NULL;
  }
  if (nbytes == 0) nbytes = 1;
  if (nbytes >= ((size_t)1 << CACHE_MIN_SHIFT)) {
    size_t block;
    int c = cache_class(nbytes, &block);
    if (c >= 0) {
      if ((p = ctx->cache[c]) != NULL) {
        CACHE_UNPOISON(p, block);
        ctx->cache[c] = *(void **)p;
        ctx->cache_bytes -= block;
        if (zero) memset(p, 0, nbytes);
      } else {
        p = zero ? calloc(1, block) : malloc(block);
        if (!p && ctx->cache_bytes) { cache_trim(ctx, 0); p = zero ? calloc(1, block) : malloc(block); }
      }
      if (!p) {
        lp_ctx_error(ctx, LP_ENOMEM, 0, "not enough memory for %zu bytes", nbytes);
        return NULL;
      }
      CACHE_POISON((char *)p + nbytes, block - nbytes);   /* the slack past the request */
      ctx->bytes_live += nbytes;
      ctx->bytes_since_take += nbytes;
      return p;
    }
  }
  p = zero ? calloc(1, nbytes) : malloc(nbytes);
  if (!p && ctx->cache_bytes) { cache_trim(ctx, 0); p = zero ? calloc(1, nbytes) : malloc(nbytes); }
  if (!p) {
    lp_ctx_error(ctx, LP_ENOMEM, 0, "not enough memory for %zu bytes", nbytes);
    return NULL;
  }
  ctx->bytes_live += nbytes;
  ctx->bytes_since_take += nbytes;
  return p;
}

void *lp_ctx_alloc(lp_ctx *ctx, size_t nbytes) { return ctx_alloc(ctx, nbytes, 1); }
void *lp_ctx_alloc_raw(lp_ctx *ctx, size_t nbytes) { return ctx_alloc(ctx, nbytes, 0); }

void lp_ctx_dealloc(lp_ctx *ctx, void *p, size_t nbytes) {
  if (!p) return;
  if (nbytes == 0) nbytes = 1;
  ctx->bytes_live -= nbytes;
  if (nbytes >= ((size_t)1 << CACHE_MIN_SHIFT)) {
    size_t block;
    int c = cache_class(nbytes, &block);
    if (c >= 0) {                              /* allocated as a whole class block */
      CACHE_UNPOISON(p, block);
      if (ctx->cache_bytes + block <= ctx->cache_max) {
        *(void **)p = ctx->cache[c];
        ctx->cache[c] = p;
        ctx->cache_bytes += block;
        CACHE_POISON((char *)p + sizeof(void *), block - sizeof(void *));
        return;
      }
    }
  }
  free(p);
}

size_t lp_ctx_take_allocated(lp_ctx *ctx) {
  size_t n = ctx->bytes_since_take;
  ctx->bytes_since_take = 0;
  return n;
}
size_t lp_ctx_bytes_live(const lp_ctx *ctx) { return ctx->bytes_live; }
void lp_ctx_fail_alloc_after(lp_ctx *ctx, long n) { ctx->fail_at = n > 0 ? ctx->alloc_count + n : 0; }
long lp_ctx_alloc_count(const lp_ctx *ctx) { return ctx->alloc_count; }

void lp_ctx_set_max_bytes(lp_ctx *ctx, size_t nbytes) {
  ctx->max_bytes = nbytes ? nbytes : physical_memory();
  ctx->cache_max = cache_limit(ctx->max_bytes);
  cache_trim(ctx, 0);
}
size_t lp_ctx_max_bytes(const lp_ctx *ctx) { return ctx->max_bytes; }

void lp_ctx_set_interrupt_flag(lp_ctx *ctx, volatile sig_atomic_t *flag) { ctx->interrupt = flag; }
int lp_ctx_interrupted(const lp_ctx *ctx) { return ctx->interrupt && *ctx->interrupt; }
lp_status lp_ctx_check_interrupt(lp_ctx *ctx) {
  if (ctx->interrupt && *ctx->interrupt)
    return lp_ctx_error(ctx, LP_EINTR, 0, "interrupted");
  return LP_OK;
}

void lp_ctx_clear_interrupt(lp_ctx *ctx) { if (ctx->interrupt) *ctx->interrupt = 0; }

void lp_ctx_seed(lp_ctx *ctx, uint64_t seed) { ctx->seed = seed; ctx->counter = 0; }
uint64_t lp_ctx_seed_value(const lp_ctx *ctx) { return ctx->seed; }
uint64_t lp_ctx_reserve_counters(lp_ctx *ctx, uint64_t n) {
  uint64_t c = ctx->counter;
  ctx->counter += n;
  return c;
}

/* SplitMix64's finaliser applied to (seed, counter): a counter-based
   generator, so element k of a draw needs no state from element k-1. The
   seed is mixed first so nearby seeds give unrelated streams. */
static uint64_t mix64(uint64_t z) {
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}
uint64_t lp_random_u64(uint64_t seed, uint64_t counter) {
  return mix64(mix64(seed) + counter * 0x9e3779b97f4a7c15ULL + 0x9e3779b97f4a7c15ULL);
}
double lp_random_uniform(uint64_t seed, uint64_t counter) {
  return (double)(lp_random_u64(seed, counter) >> 11) * 0x1.0p-53;
}

/* Thread policy: OpenBLAS's pool is kept at the engine's thread count, so a
   GEMM never runs more threads than the OpenMP regions around it (two
   pools of n on n cores, never 2n busy threads). Idle threads: libgomp
   reads OMP_WAIT_POLICY / GOMP_SPINCOUNT once, when the library loads, and
   offers no call to change them later; on a shared or busy machine run with
   OMP_WAIT_POLICY=passive so that idle workers sleep instead of spinning
   (bench/ prints the policy in effect). OpenBLAS's own workers sleep after
   a short spin (its THREAD_TIMEOUT build option). */
void lp_ctx_set_threads(lp_ctx *ctx, int n) {
  if (n < 1) n = 1;
  ctx->threads = n;
  openblas_set_num_threads(n);
}
int lp_ctx_threads(const lp_ctx *ctx) { return ctx->threads; }

const char *lp_status_name(lp_status st) {
  static const char *const names[] = {"ok", "bad argument", "shape mismatch", "wrong dtype",
    "out of range", "out of memory", "too large", "i/o error", "malformed file", "interrupted"};
  return (unsigned)st < sizeof names / sizeof names[0] ? names[st] : "unknown status";
}
