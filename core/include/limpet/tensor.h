/*
** core/include/limpet/tensor.h -- n-d strided tensors over shared storage.
** Owns: creation, reference counting, shape queries, views (reshape,
** transpose, permute, squeeze, slice, select), copies and casts, element
** access, cat/stack, mask and index selection. Not here: arithmetic and
** reductions (ops.h), random draws and value generators (random.h), files (io.h).
** Conventions: C is 0-based; dims and positions passed here are already
** normalised by the caller (negative values are errors). Shapes are int64_t.
** Strides are in elements, not bytes.
*/
#ifndef LIMPET_TENSOR_H
#define LIMPET_TENSOR_H

#include "limpet/core.h"

typedef struct lp_tensor lp_tensor;

/* ---- life ------------------------------------------------------------- */
/* A new contiguous tensor filled with zeros. ndim 0 is a scalar tensor. */
lp_status  lp_tensor_new(lp_ctx *ctx, lp_dtype dt, int ndim, const int64_t *shape,
                         lp_tensor **out);                 /* out: caller owns 1 ref */
/* Same without zeroing, for kernels that write every element. */
lp_status  lp_tensor_empty(lp_ctx *ctx, lp_dtype dt, int ndim, const int64_t *shape,
                           lp_tensor **out);
/* A new tensor wrapping a copy of `data` (contiguous, row-major). */
lp_status  lp_tensor_from_data(lp_ctx *ctx, lp_dtype dt, int ndim, const int64_t *shape,
                               const void *data, lp_tensor **out);
lp_tensor *lp_tensor_retain(lp_tensor *t);
void       lp_tensor_release(lp_tensor *t);                /* NULL is a no-op */

/* Bytes a tensor of this shape would need; LP_ESIZE (recorded in ctx) when
   the element count overflows or exceeds the cap. Used before allocating. */
lp_status  lp_tensor_check_size(lp_ctx *ctx, lp_dtype dt, int ndim, const int64_t *shape,
                                size_t *nbytes);

/* ---- queries (all borrowed, valid while t lives) ---------------------- */
lp_dtype       lp_tensor_dtype(const lp_tensor *t);
int            lp_tensor_ndim(const lp_tensor *t);
const int64_t *lp_tensor_shape(const lp_tensor *t);
const int64_t *lp_tensor_strides(const lp_tensor *t);
int64_t        lp_tensor_size(const lp_tensor *t, int dim);
int64_t        lp_tensor_numel(const lp_tensor *t);
void          *lp_tensor_data(const lp_tensor *t);  /* address of element (0,...,0) */
int            lp_tensor_is_contiguous(const lp_tensor *t);
int            lp_tensor_same_storage(const lp_tensor *a, const lp_tensor *b);
lp_ctx        *lp_tensor_ctx(const lp_tensor *t);   /* the context that made it */
/* "(3, 4)" into buf; returns buf. */
char          *lp_shape_str(int ndim, const int64_t *shape, char *buf, size_t n);

/* ---- copies and casts ------------------------------------------------- */
/* A contiguous tensor with the same values: t itself (retained) when it is
   already contiguous. */
lp_status lp_tensor_contiguous(lp_ctx *ctx, lp_tensor *t, lp_tensor **out);
lp_status lp_tensor_clone(lp_ctx *ctx, const lp_tensor *t, lp_tensor **out);
lp_status lp_tensor_astype(lp_ctx *ctx, const lp_tensor *t, lp_dtype dt, lp_tensor **out);
/* dst[...] = src broadcast to dst's shape, cast to dst's dtype. */
lp_status lp_tensor_copy_(lp_ctx *ctx, lp_tensor *dst, const lp_tensor *src);
lp_status lp_tensor_fill_(lp_ctx *ctx, lp_tensor *t, lp_scalar v);

/* ---- views (share storage; out: caller owns 1 ref) -------------------- */
/* reshape: a view when strides allow, else a contiguous copy. One entry of
   shape may be -1 (inferred). view: refuses (LP_ESHAPE) when a copy would
   be needed. */
lp_status lp_tensor_reshape(lp_ctx *ctx, lp_tensor *t, int ndim, const int64_t *shape,
                            lp_tensor **out);
lp_status lp_tensor_view(lp_ctx *ctx, lp_tensor *t, int ndim, const int64_t *shape,
                         lp_tensor **out);
lp_status lp_tensor_transpose(lp_ctx *ctx, lp_tensor *t, int d0, int d1, lp_tensor **out);
lp_status lp_tensor_permute(lp_ctx *ctx, lp_tensor *t, const int *perm, lp_tensor **out);
/* dim -1: every dim of size 1. */
lp_status lp_tensor_squeeze(lp_ctx *ctx, lp_tensor *t, int dim, lp_tensor **out);
lp_status lp_tensor_unsqueeze(lp_ctx *ctx, lp_tensor *t, int dim, lp_tensor **out);
/* Elements start, start+step, ... while < stop (step > 0), half-open, 0-based. */
lp_status lp_tensor_slice(lp_ctx *ctx, lp_tensor *t, int dim, int64_t start, int64_t stop,
                          int64_t step, lp_tensor **out);
/* Drop dim, keeping position i. */
lp_status lp_tensor_select(lp_ctx *ctx, lp_tensor *t, int dim, int64_t i, lp_tensor **out);
/* A view with the given shape broadcast from t (stride 0 on new or size-1 dims). */
lp_status lp_tensor_expand(lp_ctx *ctx, lp_tensor *t, int ndim, const int64_t *shape,
                           lp_tensor **out);

/* ---- elements --------------------------------------------------------- */
lp_status lp_tensor_get(lp_ctx *ctx, const lp_tensor *t, const int64_t *idx, lp_scalar *out);
lp_status lp_tensor_set(lp_ctx *ctx, lp_tensor *t, const int64_t *idx, lp_scalar v);
/* The single value of a one-element tensor. */
lp_status lp_tensor_item(lp_ctx *ctx, const lp_tensor *t, lp_scalar *out);
/* Read element k (row-major order over t's shape) without bounds checks. */
lp_scalar lp_tensor_get_flat(const lp_tensor *t, int64_t k);

/* ---- joining and selection -------------------------------------------- */
lp_status lp_tensor_cat(lp_ctx *ctx, int n, lp_tensor *const *ts, int dim, lp_tensor **out);
lp_status lp_tensor_stack(lp_ctx *ctx, int n, lp_tensor *const *ts, int dim, lp_tensor **out);
/* NumPy's t[mask]. A mask of t's leading dims selects rows: shape
   (count, trailing dims...). Otherwise the mask (bool) is broadcast to t
   and the result is the 1-d tensor of elements where it is true. */
lp_status lp_tensor_masked_select(lp_ctx *ctx, const lp_tensor *t, const lp_tensor *mask,
                                  lp_tensor **out);
/* t[mask] = v (mask bool, broadcastable to t). */
lp_status lp_tensor_masked_fill_(lp_ctx *ctx, lp_tensor *t, const lp_tensor *mask, lp_scalar v);
/* Rows of t along dim at the 0-based positions in index (integer, 1-d). */
lp_status lp_tensor_index_select(lp_ctx *ctx, const lp_tensor *t, int dim,
                                 const lp_tensor *index, lp_tensor **out);

#endif
