/*
** core/include/limpet/core.h -- the engine context, status codes and dtypes.
** Owns: lp_ctx (allocator with accounting and fault injection, size cap,
** last error, interrupt flag, random-number counter), lp_status, lp_dtype,
** lp_scalar. Not here: tensors (tensor.h), kernels (ops.h), files (io.h).
** The engine never includes lua.h; hosts reach it through these headers.
*/
#ifndef LIMPET_CORE_H
#define LIMPET_CORE_H

#include <stddef.h>
#include <stdint.h>
#include <signal.h>

#define LP_VERSION "0.1.0"
#define LP_MAXDIM 8

typedef enum lp_status {
  LP_OK = 0,
  LP_EARG,     /* bad argument value (message names it)            */
  LP_ESHAPE,   /* shapes do not match or are not allowed            */
  LP_ETYPE,    /* dtype not allowed for this operation              */
  LP_ERANGE,   /* index or position out of range                    */
  LP_ENOMEM,   /* an allocation failed                              */
  LP_ESIZE,    /* a size beyond the context's cap, refused up front */
  LP_EIO,      /* the environment failed: open, read, write, rename */
  LP_EFORMAT,  /* malformed file content (message names file, offset) */
  LP_EINTR     /* interrupted by the host (Ctrl-C)                  */
} lp_status;

typedef enum lp_dtype {
  LP_F32 = 0, LP_F64, LP_I8, LP_I16, LP_I32, LP_I64, LP_U8, LP_BOOL,
  LP_NDTYPES
} lp_dtype;

/* A number crossing the API. Integer and bool values use i, floats use f. */
typedef struct lp_scalar {
  int isint;      /* 1: i holds the value; 0: f holds it */
  int64_t i;
  double f;
} lp_scalar;

static inline lp_scalar lp_int(int64_t i)   { lp_scalar s; s.isint = 1; s.i = i; s.f = (double)i; return s; }
static inline lp_scalar lp_float(double f)  { lp_scalar s; s.isint = 0; s.i = (int64_t)0; s.f = f; return s; }
static inline double lp_scalar_f(lp_scalar s) { return s.isint ? (double)s.i : s.f; }

typedef struct lp_ctx lp_ctx;

/* ---- context ---------------------------------------------------------- */
lp_status   lp_ctx_new(lp_ctx **out);            /* out: caller owns it */
void        lp_ctx_free(lp_ctx *ctx);            /* NULL is a no-op     */

/* Last error. Functions that fail set it; a success does not clear it. */
const char *lp_ctx_errmsg(const lp_ctx *ctx);
int         lp_ctx_errarg(const lp_ctx *ctx);    /* 1-based operand at fault, 0 if none */
void        lp_ctx_clear_error(lp_ctx *ctx);
/* Record an error and return st, so callers write `return lp_ctx_error(...)`.
   The message is printf-formatted; arg is the 1-based operand at fault or 0. */
lp_status   lp_ctx_error(lp_ctx *ctx, lp_status st, int arg, const char *fmt, ...)
#if defined(__GNUC__)
  __attribute__((format(printf, 4, 5)))
#endif
  ;

/* Memory. Every byte of tensor storage goes through these, so the host can
   account it to its collector and tests can fail the Nth allocation. On
   failure lp_ctx_alloc returns NULL with LP_ENOMEM recorded in ctx. */
void       *lp_ctx_alloc(lp_ctx *ctx, size_t nbytes);   /* zeroed */
void       *lp_ctx_alloc_raw(lp_ctx *ctx, size_t nbytes); /* not zeroed */
void        lp_ctx_dealloc(lp_ctx *ctx, void *p, size_t nbytes);
size_t      lp_ctx_take_allocated(lp_ctx *ctx);  /* bytes allocated since the last call */
size_t      lp_ctx_bytes_live(const lp_ctx *ctx);/* bytes allocated and not yet freed */
void        lp_ctx_fail_alloc_after(lp_ctx *ctx, long n); /* fail the nth allocation from now (1 = next); 0 = never */
long        lp_ctx_alloc_count(const lp_ctx *ctx); /* allocations made so far */

/* Size cap: one tensor's storage larger than this is refused with LP_ESIZE
   before anything is allocated. Default: the machine's physical memory. */
void        lp_ctx_set_max_bytes(lp_ctx *ctx, size_t nbytes);
size_t      lp_ctx_max_bytes(const lp_ctx *ctx);

/* Interrupt: the host points the context at a flag its signal handler sets;
   long kernels poll lp_ctx_interrupted between time steps or chunks and
   return LP_EINTR (via lp_ctx_check_interrupt, which records the message). */
void        lp_ctx_set_interrupt_flag(lp_ctx *ctx, volatile sig_atomic_t *flag);
int         lp_ctx_interrupted(const lp_ctx *ctx);
lp_status   lp_ctx_check_interrupt(lp_ctx *ctx);
/* Lower the host's flag once an interrupt has been reported, so one Ctrl-C
   gives one error. */
void        lp_ctx_clear_interrupt(lp_ctx *ctx);

/* Random numbers: counter-based. Element k of a draw uses counter c + k, so
   a seed gives the same numbers on any thread count. */
void        lp_ctx_seed(lp_ctx *ctx, uint64_t seed);
uint64_t    lp_ctx_seed_value(const lp_ctx *ctx);
uint64_t    lp_ctx_reserve_counters(lp_ctx *ctx, uint64_t n); /* returns first counter */
uint64_t    lp_random_u64(uint64_t seed, uint64_t counter);   /* pure function */
double      lp_random_uniform(uint64_t seed, uint64_t counter); /* [0, 1), 53 bits */

/* Threads used by the engine's parallel loops (OpenMP and OpenBLAS). */
void        lp_ctx_set_threads(lp_ctx *ctx, int n);
int         lp_ctx_threads(const lp_ctx *ctx);

/* ---- dtypes ----------------------------------------------------------- */
size_t      lp_dtype_size(lp_dtype dt);
const char *lp_dtype_name(lp_dtype dt);        /* "float32", ... */
const char *lp_dtype_short(lp_dtype dt);       /* "f32", ... */
int         lp_dtype_from_name(const char *name, lp_dtype *out); /* 1 if known ("float32"/"f32"/"float"...) */
int         lp_dtype_is_float(lp_dtype dt);
int         lp_dtype_is_int(lp_dtype dt);      /* signed or unsigned integer, not bool */
/* NumPy promotion of two tensor dtypes (f32 + i32 -> f64, u8 + i8 -> i16, ...). */
lp_dtype    lp_dtype_promote(lp_dtype a, lp_dtype b);
/* Promotion of a tensor dtype with a weak Lua number: the tensor's dtype wins
   within its kind; an int or bool tensor with a float number gives float32
   (limpet's default float); a bool tensor with an integer gives int64. */
lp_dtype    lp_dtype_promote_scalar(lp_dtype t, lp_scalar s);

const char *lp_status_name(lp_status st);

/* Read / write one element of dtype dt at p, converting (floats to ints
   truncate and saturate, NaN gives 0; integer narrowing wraps like NumPy). */
double    lp_load_f(lp_dtype dt, const void *p);
int64_t   lp_load_i(lp_dtype dt, const void *p);
lp_scalar lp_load_scalar(lp_dtype dt, const void *p);
void      lp_store_f(lp_dtype dt, void *p, double v);
void      lp_store_i(lp_dtype dt, void *p, int64_t v);
void      lp_store_scalar(lp_dtype dt, void *p, lp_scalar v);

#endif
