/*
** core/src/tensor.c -- tensor life, queries, views, copies and casts,
** element access, cat/stack and selection.
** Owns everything declared in limpet/tensor.h. Not here: arithmetic
** (elementwise.c), reductions (reduce.c), random draws (random.c).
** Notation: dims, positions 0-based; strides in elements (in bytes only
** inside lp_iter).
*/
#include "tensor_impl.h"
#include "limpet/autograd.h"
#include <stdlib.h>
#include <stdio.h>


/* ---- life ------------------------------------------------------------- */
lp_status lp_tensor_check_size(lp_ctx *ctx, lp_dtype dt, int ndim, const int64_t *shape,
                               size_t *nbytes) {
  int d;
  uint64_t n = 1, es = lp_dtype_size(dt);
  char buf[200];
  if (ndim < 0 || ndim > LP_MAXDIM)
    return lp_ctx_error(ctx, LP_EARG, 0, "tensors have at most %d dims, got %d", LP_MAXDIM, ndim);
  if ((unsigned)dt >= LP_NDTYPES) return lp_ctx_error(ctx, LP_ETYPE, 0, "unknown dtype");
  for (d = 0; d < ndim; d++) {
    if (shape[d] < 0)
      return lp_ctx_error(ctx, LP_EARG, 0, "negative size %lld in shape %s", (long long)shape[d],
                          lp_shape_str(ndim, shape, buf, sizeof buf));
    n *= (uint64_t)shape[d];
  }
  /* the strides multiply every size, zero-size tensors included */
  if (!lp_shape_span_ok(ndim, shape))
    return lp_ctx_error(ctx, LP_ESIZE, 0, "shape %s is too large",
                        lp_shape_str(ndim, shape, buf, sizeof buf));
  if (n * es > ctx->max_bytes)
    return lp_ctx_error(ctx, LP_ESIZE, 0,
                        "shape %s of %s needs %llu bytes, more than the cap of %llu bytes",
                        lp_shape_str(ndim, shape, buf, sizeof buf), lp_dtype_name(dt),
                        (unsigned long long)(n * es), (unsigned long long)ctx->max_bytes);
  if (nbytes) *nbytes = (size_t)(n * es);
  return LP_OK;
}

static void set_contiguous_strides(lp_tensor *t) {
  int d;
  int64_t s = 1;
  for (d = t->ndim - 1; d >= 0; d--) { t->stride[d] = s; s *= t->shape[d] ? t->shape[d] : 1; }
}

static lp_status tensor_make(lp_ctx *ctx, lp_dtype dt, int ndim, const int64_t *shape, int zero,
                             lp_tensor **out) {
  size_t nbytes;
  lp_status st;
  lp_tensor *t;
  lp_storage *s;
  *out = NULL;
  if ((st = lp_tensor_check_size(ctx, dt, ndim, shape, &nbytes)) != LP_OK) return st;
  t = lp_ctx_alloc(ctx, sizeof *t);
  if (!t) return LP_ENOMEM;
  s = lp_ctx_alloc(ctx, sizeof *s);
  if (!s) { lp_ctx_dealloc(ctx, t, sizeof *t); return LP_ENOMEM; }
  s->data = zero ? lp_ctx_alloc(ctx, nbytes) : lp_ctx_alloc_raw(ctx, nbytes);
  if (!s->data) {
    lp_ctx_dealloc(ctx, s, sizeof *s);
    lp_ctx_dealloc(ctx, t, sizeof *t);
    return LP_ENOMEM;
  }
  s->refcount = 1; s->ctx = ctx; s->nbytes = nbytes; s->version = 0;
  lp_ctx_ref_(ctx);                 /* one for the storage, one for the header */
  lp_ctx_ref_(ctx);
  t->refcount = 1; t->ctx = ctx; t->storage = s; t->offset = 0;
  t->dtype = dt; t->ndim = ndim;
  if (ndim) memcpy(t->shape, shape, (size_t)ndim * sizeof *shape);
  set_contiguous_strides(t);
  *out = t;
  return LP_OK;
}

lp_status lp_tensor_new(lp_ctx *ctx, lp_dtype dt, int ndim, const int64_t *shape, lp_tensor **out) {
  return tensor_make(ctx, dt, ndim, shape, 1, out);
}
lp_status lp_tensor_empty(lp_ctx *ctx, lp_dtype dt, int ndim, const int64_t *shape, lp_tensor **out) {
  return tensor_make(ctx, dt, ndim, shape, 0, out);
}
lp_status lp_tensor_from_data(lp_ctx *ctx, lp_dtype dt, int ndim, const int64_t *shape,
                              const void *data, lp_tensor **out) {
  lp_status st = tensor_make(ctx, dt, ndim, shape, 0, out);
  if (st == LP_OK && (*out)->storage->nbytes)
    memcpy((*out)->storage->data, data, (size_t)lp_tensor_numel(*out) * lp_dtype_size(dt));
  return st;
}

lp_tensor *lp_tensor_retain(lp_tensor *t) { if (t) t->refcount++; return t; }

void lp_tensor_release(lp_tensor *t) {
  lp_storage *s;
  lp_ctx *ctx;
  if (!t || --t->refcount > 0) return;
  s = t->storage; ctx = t->ctx;
  if (t->ext) lp_agmeta_free_(t);
  lp_ctx_dealloc(ctx, t, sizeof *t);
  lp_ctx_unref_(ctx);
  if (--s->refcount == 0) {
    ctx = s->ctx;
    lp_ctx_dealloc(ctx, s->data, s->nbytes);
    lp_ctx_dealloc(ctx, s, sizeof *s);
    lp_ctx_unref_(ctx);
  }
}

lp_status lp_tensor_alias(lp_ctx *ctx, const lp_tensor *t, lp_tensor **out) {
  lp_tensor *v = lp_ctx_alloc(ctx, sizeof *v);
  *out = NULL;
  if (!v) return LP_ENOMEM;
  *v = *t;
  v->refcount = 1;
  v->ctx = ctx;           /* each header keeps its context alive */
  v->ext = NULL;
  lp_ctx_ref_(ctx);
  t->storage->refcount++;
  *out = v;
  return LP_OK;
}

/* ---- queries ---------------------------------------------------------- */
lp_dtype lp_tensor_dtype(const lp_tensor *t) { return t->dtype; }
int lp_tensor_ndim(const lp_tensor *t) { return t->ndim; }
const int64_t *lp_tensor_shape(const lp_tensor *t) { return t->shape; }
const int64_t *lp_tensor_strides(const lp_tensor *t) { return t->stride; }
int64_t lp_tensor_size(const lp_tensor *t, int dim) { return t->shape[dim]; }
int64_t lp_tensor_numel(const lp_tensor *t) {
  int64_t n = 1;
  int d;
  for (d = 0; d < t->ndim; d++) if (t->shape[d] == 0) return 0;
  for (d = 0; d < t->ndim; d++) n *= t->shape[d];
  return n;
}
void *lp_tensor_data(const lp_tensor *t) { return lp_ptr(t); }
int lp_tensor_is_contiguous(const lp_tensor *t) {
  int64_t s = 1;
  int d;
  for (d = t->ndim - 1; d >= 0; d--) {
    if (t->shape[d] != 1 && t->stride[d] != s) return 0;
    s *= t->shape[d];
  }
  return 1;
}
int lp_tensor_same_storage(const lp_tensor *a, const lp_tensor *b) { return a->storage == b->storage; }
lp_ctx *lp_tensor_ctx(const lp_tensor *t) { return t->ctx; }

/* ---- copies and casts ------------------------------------------------- */
/* dst = src elementwise over dst's shape (src already broadcast in bstrides). */
static lp_status copy_into(lp_ctx *ctx, lp_tensor *dst, const lp_tensor *src) {
  int64_t st[2][LP_MAXDIM];
  char *bases[2];
  lp_iter it;
  int d;
  size_t es = lp_dtype_size(dst->dtype);
  lp_dtype dd = dst->dtype, sd = src->dtype;
  for (d = 0; d < dst->ndim; d++) st[0][d] = dst->stride[d] * (int64_t)es;
  lp_broadcast_strides(src, dst->ndim, dst->shape, st[1]);
  bases[0] = lp_ptr(dst); bases[1] = lp_ptr(src);
  lp_iter_init(&it, dst->ndim, dst->shape, 2, bases, (const int64_t (*)[LP_MAXDIM])st);
  while (lp_iter_next(&it)) {
    int64_t i, n = it.n, s0 = it.step[0], s1 = it.step[1];
    char *p0 = it.ptr[0], *p1 = it.ptr[1];
    if (dd == sd && s0 == (int64_t)es && s1 == (int64_t)es) {
      memmove(p0, p1, (size_t)n * es);
    } else if (dd == sd && es == 4 && s1 == 0) {       /* broadcast: fill (no per-element memcpy call) */
      uint32_t v; memcpy(&v, p1, 4);
      for (i = 0; i < n; i++) memcpy(p0 + i * s0, &v, 4);
    } else if (dd == sd && es == 8 && s1 == 0) {
      uint64_t v; memcpy(&v, p1, 8);
      for (i = 0; i < n; i++) memcpy(p0 + i * s0, &v, 8);
    } else if (dd == sd && es == 4) {                   /* strided 4-byte elements: fixed-size copies inline */
      for (i = 0; i < n; i++) memcpy(p0 + i * s0, p1 + i * s1, 4);
    } else if (dd == sd && es == 8) {
      for (i = 0; i < n; i++) memcpy(p0 + i * s0, p1 + i * s1, 8);
    } else if (dd == sd) {
      for (i = 0; i < n; i++) memcpy(p0 + i * s0, p1 + i * s1, es);
    } else if (dd == LP_F32 && sd == LP_F64) {
      for (i = 0; i < n; i++) *(float *)(p0 + i * s0) = (float)*(double *)(p1 + i * s1);
    } else if (dd == LP_F64 && sd == LP_F32) {
      for (i = 0; i < n; i++) *(double *)(p0 + i * s0) = *(float *)(p1 + i * s1);
    } else if (dd == LP_F32 && sd == LP_U8) {          /* images (as lp_load_i / lp_store_f, inline) */
      for (i = 0; i < n; i++) *(float *)(p0 + i * s0) = (float)*(const uint8_t *)(p1 + i * s1);
    } else if (dd == LP_F32 && sd == LP_BOOL) {        /* spikes from a comparison */
      for (i = 0; i < n; i++) *(float *)(p0 + i * s0) = *(const uint8_t *)(p1 + i * s1) != 0;
    } else if (dd == LP_F64 && sd == LP_U8) {
      for (i = 0; i < n; i++) *(double *)(p0 + i * s0) = (double)*(const uint8_t *)(p1 + i * s1);
    } else if (lp_dtype_is_float(sd)) {
      for (i = 0; i < n; i++) lp_store_f(dd, p0 + i * s0, lp_load_f(sd, p1 + i * s1));
    } else {
      for (i = 0; i < n; i++) lp_store_i(dd, p0 + i * s0, lp_load_i(sd, p1 + i * s1));
    }
  }
  (void)ctx;
  return LP_OK;
}

lp_status lp_tensor_copy_(lp_ctx *ctx, lp_tensor *dst, const lp_tensor *src) {
  int n; int64_t shape[LP_MAXDIM];
  lp_status st = lp_broadcast_shape(ctx, dst->ndim, dst->shape, src->ndim, src->shape, &n, shape);
  char b1[160], b2[160];
  { lp_status ip_ = lp_check_inplace(ctx, dst, 1); if (ip_ != LP_OK) return ip_; lp_tensor_bump_version(dst); }
  if (st != LP_OK || n != dst->ndim || memcmp(shape, dst->shape, (size_t)n * sizeof *shape) != 0)
    return lp_ctx_error(ctx, LP_ESHAPE, 2, "cannot copy shape %s into shape %s",
                        lp_shape_str(src->ndim, src->shape, b1, sizeof b1),
                        lp_shape_str(dst->ndim, dst->shape, b2, sizeof b2));
  if (lp_tensor_same_storage(dst, src) && !(dst->offset == src->offset && dst->ndim == src->ndim &&
      memcmp(dst->stride, src->stride, (size_t)dst->ndim * sizeof(int64_t)) == 0 && dst->dtype == src->dtype)) {
    /* overlapping views: go through a temporary */
    lp_tensor *tmp;
    if ((st = lp_tensor_clone(ctx, src, &tmp)) != LP_OK) return st;
    st = copy_into(ctx, dst, tmp);
    lp_tensor_release(tmp);
    return st;
  }
  return copy_into(ctx, dst, src);
}

lp_status lp_tensor_clone(lp_ctx *ctx, const lp_tensor *t, lp_tensor **out) {
  return lp_tensor_astype(ctx, t, t->dtype, out);
}

lp_status lp_tensor_astype(lp_ctx *ctx, const lp_tensor *t, lp_dtype dt, lp_tensor **out) {
  lp_status st = lp_tensor_empty(ctx, dt, t->ndim, t->shape, out);
  if (st != LP_OK) return st;
  return copy_into(ctx, *out, t);
}

lp_status lp_tensor_contiguous(lp_ctx *ctx, lp_tensor *t, lp_tensor **out) {
  if (lp_tensor_is_contiguous(t)) { *out = lp_tensor_retain(t); return LP_OK; }
  return lp_tensor_clone(ctx, t, out);
}

lp_status lp_tensor_fill_(lp_ctx *ctx, lp_tensor *t, lp_scalar v) {
  int64_t st[1][LP_MAXDIM];
  char *bases[1];
  char val[8];
  lp_iter it;
  int d;
  size_t es = lp_dtype_size(t->dtype);
  { lp_status ip_ = lp_check_inplace(ctx, t, 1); if (ip_ != LP_OK) return ip_; lp_tensor_bump_version(t); }
  lp_store_scalar(t->dtype, val, v);
  for (d = 0; d < t->ndim; d++) st[0][d] = t->stride[d] * (int64_t)es;
  bases[0] = lp_ptr(t);
  lp_iter_init(&it, t->ndim, t->shape, 1, bases, (const int64_t (*)[LP_MAXDIM])st);
  while (lp_iter_next(&it)) {
    int64_t i;
    for (i = 0; i < it.n; i++) memcpy(it.ptr[0] + i * it.step[0], val, es);
  }
  (void)ctx;
  return LP_OK;
}

/* ---- views ------------------------------------------------------------ */
static lp_status resolve_shape(lp_ctx *ctx, const lp_tensor *t, int ndim, const int64_t *shape,
                               int64_t *res) {
  int d, infer = -1;
  int64_t known = 1, n = lp_tensor_numel(t);
  char b1[160], b2[160];
  if (ndim < 0 || ndim > LP_MAXDIM)
    return lp_ctx_error(ctx, LP_EARG, 2, "tensors have at most %d dims, got %d", LP_MAXDIM, ndim);
  for (d = 0; d < ndim; d++) {
    if (shape[d] == -1) {
      if (infer >= 0) return lp_ctx_error(ctx, LP_EARG, 2, "only one dim can be -1");
      infer = d;
    } else if (shape[d] < 0) {
      return lp_ctx_error(ctx, LP_EARG, 2, "negative size %lld in shape", (long long)shape[d]);
    } else if (__builtin_mul_overflow(known, shape[d], &known)) {
      goto mismatch;
    }
    res[d] = shape[d];
  }
  if (infer >= 0) {
    if (known == 0 || n % known != 0) goto mismatch;
    res[infer] = n / known;
  } else if (known != n) {
    goto mismatch;
  }
  if (!lp_shape_span_ok(ndim, res))   /* zero elements, but strides beyond int64 */
    return lp_ctx_error(ctx, LP_ESIZE, 2, "shape %s is too large", lp_shape_str(ndim, res, b2, sizeof b2));
  return LP_OK;
mismatch:
  return lp_ctx_error(ctx, LP_ESHAPE, 2, "cannot reshape %s (%lld elements) to %s",
                      lp_shape_str(t->ndim, t->shape, b1, sizeof b1), (long long)n,
                      lp_shape_str(ndim, shape, b2, sizeof b2));
}

/* Strides for viewing t with new shape, without copying; 0 if impossible.
   Walks groups of old dims that map onto groups of new dims (the rule
   NumPy and Torch use). */
static int view_strides(const lp_tensor *t, int ndim, const int64_t *shape, int64_t *stride) {
  int od = 0, nd = 0;
  int oN = t->ndim;
  int64_t oshape[LP_MAXDIM], ostride[LP_MAXDIM];
  int i;
  /* drop size-1 dims from the old layout */
  int m = 0;
  for (i = 0; i < oN; i++) if (t->shape[i] != 1) { oshape[m] = t->shape[i]; ostride[m] = t->stride[i]; m++; }
  if (lp_tensor_numel(t) == 0) {   /* any strides will do */
    int64_t s = 1;
    for (i = ndim - 1; i >= 0; i--) { stride[i] = s; s *= shape[i] ? shape[i] : 1; }
    return 1;
  }
  while (nd < ndim) {
    int64_t np, op;
    int nstart, ostart;
    if (shape[nd] == 1) { stride[nd] = 1; nd++; continue; }
    if (od >= m) return 0;
    nstart = nd; ostart = od;
    np = shape[nd++]; op = oshape[od++];
    while (np != op) {
      if (np < op) { while (nd < ndim && shape[nd] == 1) { stride[nd] = 1; nd++; } if (nd >= ndim) return 0; np *= shape[nd++]; }
      else { if (od >= m) return 0; op *= oshape[od++]; }
    }
    /* old dims ostart..od-1 must be mutually contiguous */
    for (i = ostart; i < od - 1; i++) if (ostride[i] != ostride[i + 1] * oshape[i + 1]) return 0;
    {
      int64_t s = ostride[od - 1];
      for (i = nd - 1; i >= nstart; i--) {
        stride[i] = s;
        if (shape[i] != 1) s *= shape[i];
      }
    }
  }
  return od == m;
}

lp_status lp_tensor_view(lp_ctx *ctx, lp_tensor *t, int ndim, const int64_t *shape, lp_tensor **out) {
  int64_t res[LP_MAXDIM], stride[LP_MAXDIM];
  lp_status st;
  char b1[160];
  *out = NULL;
  if ((st = resolve_shape(ctx, t, ndim, shape, res)) != LP_OK) return st;
  if (!view_strides(t, ndim, res, stride))
    return lp_ctx_error(ctx, LP_ESHAPE, 0, "cannot view a non-contiguous tensor of shape %s this way; use reshape",
                        lp_shape_str(t->ndim, t->shape, b1, sizeof b1));
  if ((st = lp_tensor_alias(ctx, t, out)) != LP_OK) return st;
  (*out)->ndim = ndim;
  if (ndim) { memcpy((*out)->shape, res, (size_t)ndim * sizeof *res); memcpy((*out)->stride, stride, (size_t)ndim * sizeof *stride); }
  return LP_OK;
}

lp_status lp_tensor_reshape(lp_ctx *ctx, lp_tensor *t, int ndim, const int64_t *shape, lp_tensor **out) {
  int64_t res[LP_MAXDIM], stride[LP_MAXDIM];
  lp_status st;
  lp_tensor *c;
  *out = NULL;
  if ((st = resolve_shape(ctx, t, ndim, shape, res)) != LP_OK) return st;
  if (view_strides(t, ndim, res, stride)) return lp_tensor_view(ctx, t, ndim, res, out);
  if ((st = lp_tensor_clone(ctx, t, &c)) != LP_OK) return st;
  st = lp_tensor_view(ctx, c, ndim, res, out);
  lp_tensor_release(c);
  return st;
}

static lp_status check_dim(lp_ctx *ctx, const lp_tensor *t, int dim, int argno, int extra) {
  if (dim < 0 || dim >= t->ndim + extra)
    return lp_ctx_error(ctx, LP_ERANGE, argno, "dim %d out of range for a %d-d tensor", dim + 1, t->ndim);
  return LP_OK;
}

lp_status lp_tensor_transpose(lp_ctx *ctx, lp_tensor *t, int d0, int d1, lp_tensor **out) {
  lp_status st;
  int64_t tmp;
  *out = NULL;
  if ((st = check_dim(ctx, t, d0, 2, 0)) != LP_OK) return st;
  if ((st = check_dim(ctx, t, d1, 3, 0)) != LP_OK) return st;
  if ((st = lp_tensor_alias(ctx, t, out)) != LP_OK) return st;
  tmp = (*out)->shape[d0]; (*out)->shape[d0] = (*out)->shape[d1]; (*out)->shape[d1] = tmp;
  tmp = (*out)->stride[d0]; (*out)->stride[d0] = (*out)->stride[d1]; (*out)->stride[d1] = tmp;
  return LP_OK;
}

lp_status lp_tensor_permute(lp_ctx *ctx, lp_tensor *t, const int *perm, lp_tensor **out) {
  int seen[LP_MAXDIM] = {0}, d;
  lp_status st;
  *out = NULL;
  for (d = 0; d < t->ndim; d++) {
    if (perm[d] < 0 || perm[d] >= t->ndim || seen[perm[d]]++)
      return lp_ctx_error(ctx, LP_EARG, 2, "permutation must list each of the %d dims once", t->ndim);
  }
  if ((st = lp_tensor_alias(ctx, t, out)) != LP_OK) return st;
  for (d = 0; d < t->ndim; d++) {
    (*out)->shape[d] = t->shape[perm[d]];
    (*out)->stride[d] = t->stride[perm[d]];
  }
  return LP_OK;
}

lp_status lp_tensor_squeeze(lp_ctx *ctx, lp_tensor *t, int dim, lp_tensor **out) {
  lp_status st;
  int d, n = 0;
  *out = NULL;
  if (dim >= 0 && (st = check_dim(ctx, t, dim, 2, 0)) != LP_OK) return st;
  if ((st = lp_tensor_alias(ctx, t, out)) != LP_OK) return st;
  for (d = 0; d < t->ndim; d++) {
    if (t->shape[d] == 1 && (dim < 0 || dim == d)) continue;
    (*out)->shape[n] = t->shape[d];
    (*out)->stride[n] = t->stride[d];
    n++;
  }
  (*out)->ndim = n;
  return LP_OK;
}

lp_status lp_tensor_unsqueeze(lp_ctx *ctx, lp_tensor *t, int dim, lp_tensor **out) {
  lp_status st;
  int d;
  *out = NULL;
  if (t->ndim >= LP_MAXDIM)
    return lp_ctx_error(ctx, LP_EARG, 1, "tensors have at most %d dims", LP_MAXDIM);
  if ((st = check_dim(ctx, t, dim, 2, 1)) != LP_OK) return st;
  if ((st = lp_tensor_alias(ctx, t, out)) != LP_OK) return st;
  for (d = t->ndim; d > dim; d--) {
    (*out)->shape[d] = t->shape[d - 1];
    (*out)->stride[d] = t->stride[d - 1];
  }
  (*out)->shape[dim] = 1;
  (*out)->stride[dim] = dim < t->ndim ? t->stride[dim] * t->shape[dim] : 1;
  (*out)->ndim = t->ndim + 1;
  return LP_OK;
}

lp_status lp_tensor_slice(lp_ctx *ctx, lp_tensor *t, int dim, int64_t start, int64_t stop,
                          int64_t step, lp_tensor **out) {
  lp_status st;
  int64_t n;
  *out = NULL;
  if ((st = check_dim(ctx, t, dim, 2, 0)) != LP_OK) return st;
  if (step <= 0) return lp_ctx_error(ctx, LP_EARG, 5, "step must be positive, got %lld", (long long)step);
  if (start < 0 || start > t->shape[dim])
    return lp_ctx_error(ctx, LP_ERANGE, 3, "position %lld out of range for dim %d of size %lld",
                        (long long)start + 1, dim + 1, (long long)t->shape[dim]);
  if (stop < start || stop > t->shape[dim])
    return lp_ctx_error(ctx, LP_ERANGE, 4, "position %lld out of range for dim %d of size %lld",
                        (long long)stop, dim + 1, (long long)t->shape[dim]);
  n = stop > start ? (stop - start + step - 1) / step : 0;
  if ((st = lp_tensor_alias(ctx, t, out)) != LP_OK) return st;
  if (n > 0) (*out)->offset += start * t->stride[dim];
  (*out)->shape[dim] = n;
  (*out)->stride[dim] = t->stride[dim] * step;
  return LP_OK;
}

lp_status lp_tensor_select(lp_ctx *ctx, lp_tensor *t, int dim, int64_t i, lp_tensor **out) {
  lp_status st;
  int d;
  *out = NULL;
  if ((st = check_dim(ctx, t, dim, 2, 0)) != LP_OK) return st;
  if (i < 0 || i >= t->shape[dim])
    return lp_ctx_error(ctx, LP_ERANGE, 2, "index %lld out of range for dim %d of size %lld",
                        (long long)i + 1, dim + 1, (long long)t->shape[dim]);
  if ((st = lp_tensor_alias(ctx, t, out)) != LP_OK) return st;
  (*out)->offset += i * t->stride[dim];
  for (d = dim; d < t->ndim - 1; d++) {
    (*out)->shape[d] = t->shape[d + 1];
    (*out)->stride[d] = t->stride[d + 1];
  }
  (*out)->ndim = t->ndim - 1;
  return LP_OK;
}

lp_status lp_tensor_expand(lp_ctx *ctx, lp_tensor *t, int ndim, const int64_t *shape, lp_tensor **out) {
  int n, d;
  int64_t bs[LP_MAXDIM];
  lp_status st = lp_broadcast_shape(ctx, t->ndim, t->shape, ndim, shape, &n, bs);
  char b1[160], b2[160];
  *out = NULL;
  if (st != LP_OK || n != ndim || memcmp(bs, shape, (size_t)ndim * sizeof *shape) != 0)
    return lp_ctx_error(ctx, LP_ESHAPE, 2, "cannot broadcast shape %s to %s",
                        lp_shape_str(t->ndim, t->shape, b1, sizeof b1), lp_shape_str(ndim, shape, b2, sizeof b2));
  {
    int64_t count = 1;   /* a view allocates nothing, but its element count must fit */
    for (d = 0; d < ndim; d++)
      if (shape[d] < 0 || __builtin_mul_overflow(count, shape[d], &count) || count > ((int64_t)1 << 60))
        return lp_ctx_error(ctx, LP_ESIZE, 2, "shape %s is too large", lp_shape_str(ndim, shape, b2, sizeof b2));
    if (!lp_shape_span_ok(ndim, shape))
      return lp_ctx_error(ctx, LP_ESIZE, 2, "shape %s is too large", lp_shape_str(ndim, shape, b2, sizeof b2));
  }
  if ((st = lp_tensor_alias(ctx, t, out)) != LP_OK) return st;
  for (d = 0; d < ndim; d++) {
    int td = d - (ndim - t->ndim);
    (*out)->shape[d] = shape[d];
    (*out)->stride[d] = (td < 0 || t->shape[td] == 1) ? 0 : t->stride[td];
  }
  (*out)->ndim = ndim;
  return LP_OK;
}

/* ---- elements --------------------------------------------------------- */
static lp_status elem_ptr(lp_ctx *ctx, const lp_tensor *t, const int64_t *idx, char **p) {
  int d;
  int64_t off = 0;
  for (d = 0; d < t->ndim; d++) {
    if (idx[d] < 0 || idx[d] >= t->shape[d])
      return lp_ctx_error(ctx, LP_ERANGE, d + 2, "index %lld out of range for dim %d of size %lld",
                          (long long)idx[d] + 1, d + 1, (long long)t->shape[d]);
    off += idx[d] * t->stride[d];
  }
  *p = lp_ptr(t) + off * (int64_t)lp_dtype_size(t->dtype);
  return LP_OK;
}

lp_status lp_tensor_get(lp_ctx *ctx, const lp_tensor *t, const int64_t *idx, lp_scalar *out) {
  char *p;
  lp_status st = elem_ptr(ctx, t, idx, &p);
  if (st == LP_OK) *out = lp_load_scalar(t->dtype, p);
  return st;
}

lp_status lp_tensor_set(lp_ctx *ctx, lp_tensor *t, const int64_t *idx, lp_scalar v) {
  char *p;
  lp_status st = lp_check_inplace(ctx, t, 1);
  if (st != LP_OK) return st;
  lp_tensor_bump_version(t);
  st = elem_ptr(ctx, t, idx, &p);
  if (st == LP_OK) lp_store_scalar(t->dtype, p, v);
  return st;
}

lp_status lp_tensor_item(lp_ctx *ctx, const lp_tensor *t, lp_scalar *out) {
  char b[160];
  if (lp_tensor_numel(t) != 1)
    return lp_ctx_error(ctx, LP_ESHAPE, 1, "item needs a tensor with one element, got shape %s",
                        lp_shape_str(t->ndim, t->shape, b, sizeof b));
  *out = lp_load_scalar(t->dtype, lp_ptr(t));
  return LP_OK;
}

lp_scalar lp_tensor_get_flat(const lp_tensor *t, int64_t k) {
  int d;
  int64_t off = 0;
  for (d = t->ndim - 1; d >= 0; d--) {
    int64_t n = t->shape[d];
    off += (k % n) * t->stride[d];
    k /= n;
  }
  return lp_load_scalar(t->dtype, lp_ptr(t) + off * (int64_t)lp_dtype_size(t->dtype));
}

/* ---- joining and selection -------------------------------------------- */
lp_status lp_tensor_cat(lp_ctx *ctx, int n, lp_tensor *const *ts, int dim, lp_tensor **out) {
  int i, d;
  int64_t shape[LP_MAXDIM], off = 0;
  lp_dtype dt;
  lp_status st;
  char b1[160], b2[160];
  *out = NULL;
  if (n < 1) return lp_ctx_error(ctx, LP_EARG, 1, "expected at least one tensor");
  if (dim < 0 || dim >= ts[0]->ndim)
    return lp_ctx_error(ctx, LP_ERANGE, 2, "dim %d out of range for %d-d tensors", dim + 1, ts[0]->ndim);
  dt = ts[0]->dtype;
  memcpy(shape, ts[0]->shape, sizeof shape);
  shape[dim] = 0;
  for (i = 0; i < n; i++) {
    const lp_tensor *t = ts[i];
    int bad = t->ndim != ts[0]->ndim;
    for (d = 0; !bad && d < t->ndim; d++) if (d != dim && t->shape[d] != ts[0]->shape[d]) bad = 1;
    if (bad)
      return lp_ctx_error(ctx, LP_ESHAPE, 1, "tensor %d has shape %s, expected %s except in dim %d", i + 1,
                          lp_shape_str(t->ndim, t->shape, b1, sizeof b1),
                          lp_shape_str(ts[0]->ndim, ts[0]->shape, b2, sizeof b2), dim + 1);
    shape[dim] += t->shape[dim];
    dt = lp_dtype_promote(dt, t->dtype);
  }
  if ((st = lp_tensor_empty(ctx, dt, ts[0]->ndim, shape, out)) != LP_OK) return st;
  for (i = 0; i < n; i++) {
    lp_tensor *part;
    if ((st = lp_tensor_slice(ctx, *out, dim, off, off + ts[i]->shape[dim], 1, &part)) != LP_OK) break;
    st = copy_into(ctx, part, ts[i]);
    lp_tensor_release(part);
    if (st != LP_OK) break;
    off += ts[i]->shape[dim];
  }
  if (st != LP_OK) { lp_tensor_release(*out); *out = NULL; }
  return st;
}

lp_status lp_tensor_stack(lp_ctx *ctx, int n, lp_tensor *const *ts, int dim, lp_tensor **out) {
  lp_tensor **us;
  int i, made = 0;
  lp_status st = LP_OK;
  char b1[160], b2[160];
  *out = NULL;
  if (n < 1) return lp_ctx_error(ctx, LP_EARG, 1, "expected at least one tensor");
  if (dim < 0 || dim > ts[0]->ndim)
    return lp_ctx_error(ctx, LP_ERANGE, 2, "dim %d out of range for stacking %d-d tensors", dim + 1, ts[0]->ndim);
  for (i = 1; i < n; i++)
    if (ts[i]->ndim != ts[0]->ndim || memcmp(ts[i]->shape, ts[0]->shape, (size_t)ts[0]->ndim * sizeof(int64_t)))
      return lp_ctx_error(ctx, LP_ESHAPE, 1, "tensor %d has shape %s, expected %s", i + 1,
                          lp_shape_str(ts[i]->ndim, ts[i]->shape, b1, sizeof b1),
                          lp_shape_str(ts[0]->ndim, ts[0]->shape, b2, sizeof b2));
  us = lp_ctx_alloc(ctx, (size_t)n * sizeof *us);
  if (!us) return LP_ENOMEM;
  for (i = 0; i < n && st == LP_OK; i++)
    if ((st = lp_tensor_unsqueeze(ctx, ts[i], dim, &us[i])) == LP_OK) made++;
  if (st == LP_OK) st = lp_tensor_cat(ctx, n, us, dim, out);
  for (i = 0; i < made; i++) lp_tensor_release(us[i]);
  lp_ctx_dealloc(ctx, us, (size_t)n * sizeof *us);
  return st;
}

/* Broadcast mask to t's shape; checks dtype. */
static lp_status mask_view(lp_ctx *ctx, const lp_tensor *t, const lp_tensor *mask, lp_tensor **mv) {
  if (mask->dtype != LP_BOOL)
    return lp_ctx_error(ctx, LP_ETYPE, 2, "mask must be a bool tensor, got %s", lp_dtype_name(mask->dtype));
  if (mask->ndim >= 1 && mask->ndim < t->ndim &&
      memcmp(mask->shape, t->shape, (size_t)mask->ndim * sizeof(int64_t)) == 0) {
    /* a mask of leading dims (NumPy's row mask): trailing dims of size 1 */
    lp_tensor *r = NULL;
    int64_t shape[LP_MAXDIM];
    int d;
    lp_status st;
    for (d = 0; d < t->ndim; d++) shape[d] = d < mask->ndim ? mask->shape[d] : 1;
    if ((st = lp_tensor_reshape(ctx, (lp_tensor *)mask, t->ndim, shape, &r)) != LP_OK) return st;
    st = lp_tensor_expand(ctx, r, t->ndim, t->shape, mv);
    lp_tensor_release(r);
    return st;
  }
  return lp_tensor_expand(ctx, (lp_tensor *)mask, t->ndim, t->shape, mv);
}

/* NumPy's t[mask] with a mask over t's leading dims: rows where it is true,
   shape (count, trailing dims...). */
static lp_status masked_rows(lp_ctx *ctx, const lp_tensor *t, const lp_tensor *mask, lp_tensor **out) {
  int64_t shape[LP_MAXDIM], rows = lp_tensor_numel(mask), count = 0, i, k = 0;
  int d, nd = 1 + t->ndim - mask->ndim;
  lp_tensor *flat = NULL, *idx = NULL;
  lp_status st;
  shape[0] = rows;
  for (d = mask->ndim; d < t->ndim; d++) shape[1 + d - mask->ndim] = t->shape[d];
  for (i = 0; i < rows; i++) count += lp_tensor_get_flat(mask, i).i != 0;
  if ((st = lp_tensor_reshape(ctx, (lp_tensor *)t, nd, shape, &flat)) != LP_OK) return st;
  if ((st = lp_tensor_empty(ctx, LP_I64, 1, &count, &idx)) == LP_OK) {
    int64_t *ip = lp_tensor_data(idx);
    for (i = 0; i < rows; i++) if (lp_tensor_get_flat(mask, i).i) ip[k++] = i;
    st = lp_tensor_index_select(ctx, flat, 0, idx, out);
  }
  lp_tensor_release(idx);
  lp_tensor_release(flat);
  return st;
}

lp_status lp_tensor_masked_select(lp_ctx *ctx, const lp_tensor *t, const lp_tensor *mask, lp_tensor **out) {
  lp_tensor *mv;
  int64_t i, n = lp_tensor_numel(t), count = 0, k = 0;
  size_t es = lp_dtype_size(t->dtype);
  lp_status st;
  *out = NULL;
  if (mask->dtype == LP_BOOL && mask->ndim >= 1 && mask->ndim < t->ndim &&
      memcmp(mask->shape, t->shape, (size_t)mask->ndim * sizeof(int64_t)) == 0)
    return masked_rows(ctx, t, mask, out);
  if ((st = mask_view(ctx, t, mask, &mv)) != LP_OK) return st;
  for (i = 0; i < n; i++) count += lp_tensor_get_flat(mv, i).i != 0;
  if ((st = lp_tensor_empty(ctx, t->dtype, 1, &count, out)) == LP_OK) {
    char *dst = lp_ptr(*out);
    for (i = 0; i < n; i++)
      if (lp_tensor_get_flat(mv, i).i) lp_store_scalar(t->dtype, dst + (k++) * (int64_t)es, lp_tensor_get_flat(t, i));
  }
  lp_tensor_release(mv);
  return st;
}

lp_status lp_tensor_masked_fill_(lp_ctx *ctx, lp_tensor *t, const lp_tensor *mask, lp_scalar v) {
  lp_tensor *mv;
  int64_t st2[2][LP_MAXDIM];
  char *bases[2];
  lp_iter it;
  int d;
  size_t es = lp_dtype_size(t->dtype);
  char val[8];
  lp_status st = lp_check_inplace(ctx, t, 1);
  if (st != LP_OK) return st;
  lp_tensor_bump_version(t);
  if ((st = mask_view(ctx, t, mask, &mv)) != LP_OK) return st;
  lp_store_scalar(t->dtype, val, v);
  for (d = 0; d < t->ndim; d++) { st2[0][d] = t->stride[d] * (int64_t)es; st2[1][d] = mv->stride[d]; }
  bases[0] = lp_ptr(t); bases[1] = lp_ptr(mv);
  lp_iter_init(&it, t->ndim, t->shape, 2, bases, (const int64_t (*)[LP_MAXDIM])st2);
  while (lp_iter_next(&it)) {
    int64_t i;
    for (i = 0; i < it.n; i++)
      if (it.ptr[1][i * it.step[1]]) memcpy(it.ptr[0] + i * it.step[0], val, es);
  }
  lp_tensor_release(mv);
  return LP_OK;
}

lp_status lp_tensor_index_select(lp_ctx *ctx, const lp_tensor *t, int dim, const lp_tensor *index,
                                 lp_tensor **out) {
  int64_t shape[LP_MAXDIM], i, n;
  lp_status st;
  *out = NULL;
  if ((st = check_dim(ctx, t, dim, 2, 0)) != LP_OK) return st;
  if (!lp_dtype_is_int(index->dtype) || index->ndim != 1)
    return lp_ctx_error(ctx, LP_ETYPE, 3, "index must be a 1-d integer tensor, got %d-d %s",
                        index->ndim, lp_dtype_name(index->dtype));
  n = index->shape[0];
  for (i = 0; i < n; i++) {
    int64_t k = lp_tensor_get_flat(index, i).i;
    if (k < 0 || k >= t->shape[dim])
      return lp_ctx_error(ctx, LP_ERANGE, 3, "index %lld out of range for dim %d of size %lld",
                          (long long)k + 1, dim + 1, (long long)t->shape[dim]);
  }
  memcpy(shape, t->shape, sizeof shape);
  shape[dim] = n;
  if ((st = lp_tensor_empty(ctx, t->dtype, t->ndim, shape, out)) != LP_OK) return st;
  if (lp_tensor_is_contiguous(t) && n > 0) {
    /* contiguous: whole slabs (the dims after dim) per index, as typed
       loads and stores when a slab is one 4- or 8-byte element (a gather
       from a flat tensor); the views below cost ~400 ns per index */
    const int64_t es = (int64_t)lp_dtype_size(t->dtype), size = t->shape[dim];
    int64_t outer = 1, slab = 1, o, d, *ix = lp_ctx_alloc(ctx, (size_t)n * sizeof *ix);
    const char *src = lp_ptr(t);
    char *dst = lp_ptr(*out);
    if (!ix) { lp_tensor_release(*out); *out = NULL; return LP_ENOMEM; }
    for (i = 0; i < n; i++) ix[i] = lp_tensor_get_flat(index, i).i;
    for (d = 0; d < dim; d++) outer *= t->shape[d];
    for (d = dim + 1; d < t->ndim; d++) slab *= t->shape[d];
    for (o = 0; o < outer; o++) {
      const char *so = src + o * size * slab * es;
      char *dd = dst + o * n * slab * es;
      if (slab * es == 4) for (i = 0; i < n; i++) memcpy(dd + i * 4, so + ix[i] * 4, 4);
      else if (slab * es == 8) for (i = 0; i < n; i++) memcpy(dd + i * 8, so + ix[i] * 8, 8);
      else for (i = 0; i < n; i++) memcpy(dd + i * slab * es, so + ix[i] * slab * es, (size_t)(slab * es));
    }
    lp_ctx_dealloc(ctx, ix, (size_t)n * sizeof *ix);
    return LP_OK;
  }
  for (i = 0; i < n && st == LP_OK; i++) {
    lp_tensor *src = NULL, *dst = NULL;
    st = lp_tensor_select(ctx, (lp_tensor *)t, dim, lp_tensor_get_flat(index, i).i, &src);
    if (st == LP_OK) st = lp_tensor_select(ctx, *out, dim, i, &dst);
    if (st == LP_OK) st = copy_into(ctx, dst, src);
    lp_tensor_release(src);
    lp_tensor_release(dst);
  }
  if (st != LP_OK) { lp_tensor_release(*out); *out = NULL; }
  return st;
}
