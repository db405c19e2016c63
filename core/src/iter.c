/*
** core/src/iter.c -- the strided iterator and broadcasting helpers.
** Owns: lp_iter (walks up to four operands of one shape in inner runs,
** merging dims that are contiguous for all of them), NumPy broadcasting of
** shapes and strides. Notation: strides here are in bytes.
*/
#include "tensor_impl.h"
#include <stdio.h>

void lp_iter_init(lp_iter *it, int ndim, const int64_t *shape, int nops, char *const *bases,
                  const int64_t (*strides)[LP_MAXDIM]) {
  int d, k, nd = 0;
  int64_t empty = 0;
  memset(it, 0, sizeof *it);
  it->nops = nops;
  for (k = 0; k < nops; k++) it->base[k] = bases[k];
  for (d = 0; d < ndim; d++) if (shape[d] == 0) empty = 1;
  if (empty) { it->done = 1; return; }
  /* Drop size-1 dims, then merge dim d into the previous one when every
     operand steps through d and then d-1 as one run. */
  for (d = 0; d < ndim; d++) {
    if (shape[d] == 1) continue;
    if (nd > 0) {
      int merge = 1;
      for (k = 0; k < nops; k++)
        if (it->stride[k][nd - 1] != strides[k][d] * shape[d]) { merge = 0; break; }
      if (merge) {
        it->shape[nd - 1] *= shape[d];
        for (k = 0; k < nops; k++) it->stride[k][nd - 1] = strides[k][d];
        continue;
      }
    }
    it->shape[nd] = shape[d];
    for (k = 0; k < nops; k++) it->stride[k][nd] = strides[k][d];
    nd++;
  }
  if (nd == 0) {                      /* a single element */
    it->shape[0] = 1;
    for (k = 0; k < nops; k++) it->stride[k][0] = 0;
    nd = 1;
  }
  it->ndim = nd;
  it->n = it->shape[nd - 1];
  for (k = 0; k < nops; k++) it->step[k] = it->stride[k][nd - 1];
}

int lp_iter_next(lp_iter *it) {
  int d, k;
  if (it->done) return 0;
  if (!it->started) {
    it->started = 1;
    for (k = 0; k < it->nops; k++) it->ptr[k] = it->base[k];
    return 1;
  }
  /* advance the outer index (all dims but the run dim) like an odometer */
  for (d = it->ndim - 2; d >= 0; d--) {
    if (++it->idx[d] < it->shape[d]) {
      for (k = 0; k < it->nops; k++) it->ptr[k] += it->stride[k][d];
      return 1;
    }
    for (k = 0; k < it->nops; k++) it->ptr[k] -= it->stride[k][d] * (it->shape[d] - 1);
    it->idx[d] = 0;
  }
  it->done = 1;
  return 0;
}

void lp_broadcast_strides(const lp_tensor *t, int ndim, const int64_t *shape, int64_t *bstrides) {
  int d, off = ndim - t->ndim;
  int64_t es = (int64_t)lp_dtype_size(t->dtype);
  for (d = 0; d < ndim; d++) {
    int td = d - off;
    if (td < 0 || t->shape[td] == 1 || shape[d] == 1) bstrides[d] = 0;
    else bstrides[d] = t->stride[td] * es;
  }
}

lp_status lp_broadcast_shape(lp_ctx *ctx, int na, const int64_t *sa, int nb, const int64_t *sb,
                             int *nout, int64_t *sout) {
  int n = na > nb ? na : nb, d;
  for (d = 0; d < n; d++) {
    int ia = d - (n - na), ib = d - (n - nb);
    int64_t a = ia >= 0 ? sa[ia] : 1, b = ib >= 0 ? sb[ib] : 1;
    if (a != b && a != 1 && b != 1) {
      char bufa[160], bufb[160];
      return lp_ctx_error(ctx, LP_ESHAPE, 2, "shapes %s and %s cannot be broadcast together",
                          lp_shape_str(na, sa, bufa, sizeof bufa),
                          lp_shape_str(nb, sb, bufb, sizeof bufb));
    }
    sout[d] = a == 1 ? b : a;
  }
  *nout = n;
  return LP_OK;
}

char *lp_shape_str(int ndim, const int64_t *shape, char *buf, size_t n) {
  size_t used = 0;
  int d;
  used += (size_t)snprintf(buf, n, "(");
  for (d = 0; d < ndim && used < n; d++)
    used += (size_t)snprintf(buf + used, n - used, d ? ", %lld" : "%lld", (long long)shape[d]);
  if (used < n) snprintf(buf + used, n - used, ndim == 1 ? ",)" : ")");
  return buf;
}
