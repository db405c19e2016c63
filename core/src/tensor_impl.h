/*
** core/src/tensor_impl.h -- private: the bodies of lp_ctx, lp_storage and
** lp_tensor, and the strided iterator every kernel walks with.
** Not for hosts or devices: they use the accessors in limpet/tensor.h.
*/
#ifndef LIMPET_TENSOR_IMPL_H
#define LIMPET_TENSOR_IMPL_H

#include "limpet/core.h"
#include "limpet/tensor.h"
#include <string.h>

#define LP_ERRMSG_MAX 512
#define LP_CACHE_NCLASS 128         /* size classes of the block cache (ctx.c) */

struct lp_ctx {
  long refcount;              /* owner + one per live storage */
  char errmsg[LP_ERRMSG_MAX];
  int errarg;
  size_t bytes_live, bytes_since_take, max_bytes;
  long alloc_count, fail_at;  /* fail_at: allocation number that fails, 0 = never */
  volatile sig_atomic_t *interrupt;
  uint64_t seed, counter;
  int threads;
  int grad_enabled;           /* autograd records ops when set */
  uint64_t node_seq;          /* sequence number of the next recorded node */
  /* freed blocks of >= 64 KiB kept for reuse (ctx.c): one list per size
     class, linked through each block's first word */
  void *cache[LP_CACHE_NCLASS];
  size_t cache_bytes, cache_max;
};

typedef struct lp_storage {
  long refcount;
  lp_ctx *ctx;
  void *data;
  size_t nbytes;
  uint64_t version;           /* bumped by every in-place write (autograd checks) */
} lp_storage;

struct lp_tensor {
  long refcount;
  lp_ctx *ctx;
  lp_storage *storage;
  int64_t offset;             /* in elements */
  lp_dtype dtype;
  int ndim;
  int64_t shape[LP_MAXDIM];
  int64_t stride[LP_MAXDIM];  /* in elements */
  struct lp_agmeta *ext;      /* autograd attributes, NULL for plain tensors */
  unsigned char text;         /* read from a NumPy string array (npy.c): 1 bytes 'S', 2 unicode 'U' */
};

/* Autograd attributes of one tensor header (core/src/autograd.c). */
typedef struct lp_agmeta {
  int requires_grad;
  lp_tensor *grad;            /* accumulated gradient (leaves), owned */
  struct lp_node *node;       /* the op that made it (owned ref), NULL for leaves */
  int out_index;              /* which output of node */
} lp_agmeta;

/* Internal: free t's autograd attributes (called by lp_tensor_release). */
void lp_agmeta_free_(lp_tensor *t);

static inline char *lp_ptr(const lp_tensor *t) {
  return (char *)t->storage->data + t->offset * (int64_t)lp_dtype_size(t->dtype);
}

/* Largest span a shape may have: the product of its sizes with zeros counted
   as 1 (the contiguous strides multiply them all, whatever the element count).
   Every shape a tensor can take passes lp_shape_span_ok, so its strides,
   offsets and element count never overflow int64. */
#define LP_MAX_SPAN ((int64_t)1 << 60)
static inline int lp_shape_span_ok(int ndim, const int64_t *shape) {
  int64_t span = 1;
  int d;
  for (d = 0; d < ndim; d++) {
    int64_t s = shape[d] > 1 ? shape[d] : 1;
    if (span > LP_MAX_SPAN / s) return 0;
    span *= s;
  }
  return 1;
}

/* Internal: a tensor header sharing t's storage, shape and strides to be
   filled by the caller. */
lp_status lp_tensor_alias(lp_ctx *ctx, const lp_tensor *t, lp_tensor **out);
/* Internal: context reference counts (each tensor header and storage holds one). */
void lp_ctx_ref_(lp_ctx *ctx);
void lp_ctx_unref_(lp_ctx *ctx);

/* ---- the strided iterator ---------------------------------------------
** Walks up to LP_ITER_MAXOPS operands of one shape (strides in BYTES, 0 for
** broadcast dims), handing out inner runs: `n` elements from ptr[k] with
** byte stride step[k]. Adjacent dims that are contiguous for every operand
** are merged first, so contiguous tensors give one run.
**
**   lp_iter it;
**   lp_iter_init(&it, ndim, shape, nops, bases, strides);
**   while (lp_iter_next(&it)) { for (i = 0; i < it.n; i++) ... it.ptr[k] + i*it.step[k] }
*/
#define LP_ITER_MAXOPS 4
typedef struct lp_iter {
  int ndim, nops, started, done;
  int64_t n;                                   /* length of the current run */
  int64_t shape[LP_MAXDIM], idx[LP_MAXDIM];
  int64_t stride[LP_ITER_MAXOPS][LP_MAXDIM];   /* bytes; dim ndim-1 is the run dim */
  char *base[LP_ITER_MAXOPS];
  char *ptr[LP_ITER_MAXOPS];
  int64_t step[LP_ITER_MAXOPS];
} lp_iter;

void lp_iter_init(lp_iter *it, int ndim, const int64_t *shape, int nops, char *const *bases,
                  const int64_t (*strides)[LP_MAXDIM]);
int  lp_iter_next(lp_iter *it);

/* Byte strides of t broadcast to (ndim, shape): t's dims align to the right. */
void lp_broadcast_strides(const lp_tensor *t, int ndim, const int64_t *shape,
                          int64_t *bstrides);
/* NumPy broadcast of two shapes; LP_ESHAPE (message names both) if they clash. */
lp_status lp_broadcast_shape(lp_ctx *ctx, int na, const int64_t *sa, int nb, const int64_t *sb,
                             int *nout, int64_t *sout);

/* Element conversion helpers (lp_load_f, lp_store_i, ...) are public: core.h. */

#endif
