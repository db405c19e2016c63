/*
** core/src/h5w.c -- writing HDF5 files through libhdf5 (NIR graphs).
** Owns: lp_h5w handles: an atomic write (a "<path>.tmp.XXXXXX" file beside
** the target, renamed over it on commit, removed on abort), groups, scalar
** and 2-D variable-length UTF-8 string datasets (NIR's `type`, `version`,
** `edges`), numeric datasets of any rank (rank 0 for 0-d tensors), with or
** without gzip (deflate level 4, chunked as one chunk).
** Not here: reading (h5.c), what the groups mean (stdlib/limpet/nir/).
** As in h5.c, libhdf5's printed error stack is switched off for the length
** of each call and its text goes into the lp_ctx message.
*/
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <hdf5.h>
#include "h5_lazy.h"

#include "tensor_impl.h"
#include "limpet/data.h"

struct lp_h5w {
  hid_t file;
  char *path, *tmp;
};

typedef struct wquiet { H5E_auto2_t fn; void *data; } wquiet;
static void wq_on(wquiet *q) { H5Eget_auto2(H5E_DEFAULT, &q->fn, &q->data); H5Eset_auto2(H5E_DEFAULT, NULL, NULL); }
static void wq_off(wquiet *q) { H5Eclear2(H5E_DEFAULT); H5Eset_auto2(H5E_DEFAULT, q->fn, q->data); }

static herr_t last_cb(unsigned n, const H5E_error2_t *e, void *ud) {
  (void)n;
  snprintf(ud, 200, "%s", e->desc ? e->desc : "");
  return 0;
}

static lp_status wfail(lp_ctx *ctx, lp_h5w *w, lp_status st, const char *what, const char *name) {
  char text[200] = "libhdf5 error";
  H5Ewalk2(H5E_DEFAULT, H5E_WALK_DOWNWARD, last_cb, text);
  return lp_ctx_error(ctx, st, 0, "'%s': cannot %s '%s' (%s)", w->path, what, name, text);
}

static hid_t native_type_of(lp_dtype dt) {
  switch (dt) {
  case LP_F32: return H5T_NATIVE_FLOAT;
  case LP_F64: return H5T_NATIVE_DOUBLE;
  case LP_I8:  return H5T_NATIVE_INT8;
  case LP_U8:  return H5T_NATIVE_UINT8;
  case LP_I16: return H5T_NATIVE_INT16;
  case LP_I32: return H5T_NATIVE_INT32;
  default:     return H5T_NATIVE_INT64;
  }
}

static void w_free(lp_h5w *w) {
  if (!w) return;
  free(w->path);
  free(w->tmp);
  free(w);
}

lp_status lp_h5w_create(lp_ctx *ctx, const char *path, lp_h5w **out) {
  wquiet q;
  lp_h5w *w;
  size_t n = strlen(path);
  int fd;
  *out = NULL;
  {
    lp_status lst = lp_h5_load(ctx);
    if (lst != LP_OK) return lst;
  }
  w = calloc(1, sizeof *w);
  if (!w) return lp_ctx_error(ctx, LP_ENOMEM, 0, "out of memory");
  w->file = -1;
  w->path = malloc(n + 1);
  w->tmp = malloc(n + 16);
  if (!w->path || !w->tmp) { w_free(w); return lp_ctx_error(ctx, LP_ENOMEM, 0, "out of memory"); }
  memcpy(w->path, path, n + 1);
  snprintf(w->tmp, n + 16, "%s.tmp.XXXXXX", path);
  fd = mkstemp(w->tmp);
  if (fd < 0) {
    lp_status st = lp_ctx_error(ctx, LP_EIO, 0, "'%s': %s", path, strerror(errno));
    w_free(w);
    return st;
  }
  close(fd);
  wq_on(&q);
  w->file = H5Fcreate(w->tmp, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
  if (w->file < 0) {
    lp_status st = wfail(ctx, w, LP_EIO, "create", w->tmp);
    wq_off(&q);
    unlink(w->tmp);
    w_free(w);
    return st;
  }
  wq_off(&q);
  *out = w;
  return LP_OK;
}

void lp_h5w_abort(lp_h5w *w) {
  wquiet q;
  if (!w) return;
  wq_on(&q);
  if (w->file >= 0) H5Fclose(w->file);
  wq_off(&q);
  unlink(w->tmp);
  w_free(w);
}

lp_status lp_h5w_commit(lp_ctx *ctx, lp_h5w *w) {
  wquiet q;
  herr_t r;
  wq_on(&q);
  r = H5Fclose(w->file);
  w->file = -1;
  if (r < 0) {
    lp_status st = wfail(ctx, w, LP_EIO, "write", w->path);
    wq_off(&q);
    lp_h5w_abort(w);
    return st;
  }
  wq_off(&q);
  if (rename(w->tmp, w->path) != 0) {
    lp_status st = lp_ctx_error(ctx, LP_EIO, 0, "'%s': %s", w->path, strerror(errno));
    lp_h5w_abort(w);
    return st;
  }
  w_free(w);
  return LP_OK;
}

lp_status lp_h5w_group(lp_ctx *ctx, lp_h5w *w, const char *name) {
  wquiet q;
  hid_t g;
  wq_on(&q);
  g = H5Gcreate2(w->file, name, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
  if (g < 0) { lp_status st = wfail(ctx, w, LP_EARG, "create group", name); wq_off(&q); return st; }
  H5Gclose(g);
  wq_off(&q);
  return LP_OK;
}

/* n strings, as a scalar (rows 0) or an (rows, cols) dataset. */
lp_status lp_h5w_strings(lp_ctx *ctx, lp_h5w *w, const char *name, int64_t rows, int64_t cols,
                         const char *const *strs) {
  wquiet q;
  hid_t t, sp, ds;
  herr_t r = -1;
  lp_status st = LP_OK;
  hsize_t dims[2];
  dims[0] = (hsize_t)rows;
  dims[1] = (hsize_t)cols;
  wq_on(&q);
  t = H5Tcopy(H5T_C_S1);
  H5Tset_size(t, H5T_VARIABLE);
  H5Tset_cset(t, H5T_CSET_UTF8);
  sp = rows == 0 ? H5Screate(H5S_SCALAR) : H5Screate_simple(2, dims, NULL);
  ds = H5Dcreate2(w->file, name, t, sp, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
  if (ds >= 0 && (rows == 0 || rows * cols > 0)) r = H5Dwrite(ds, t, H5S_ALL, H5S_ALL, H5P_DEFAULT, strs);
  else if (ds >= 0) r = 0;
  if (ds < 0 || r < 0) st = wfail(ctx, w, LP_EARG, "write dataset", name);
  if (ds >= 0) H5Dclose(ds);
  H5Sclose(sp);
  H5Tclose(t);
  wq_off(&q);
  return st;
}

/* A numeric dataset with the tensor's dtype and shape (rank 0 for 0-d);
   gzip: deflate level 4 (not for scalars or empty tensors). */
lp_status lp_h5w_tensor(lp_ctx *ctx, lp_h5w *w, const char *name, const lp_tensor *t, int gzip) {
  wquiet q;
  hid_t sp, ds, pl = H5P_DEFAULT, mt;
  hsize_t dims[LP_MAXDIM];
  int nd = lp_tensor_ndim(t), i;
  int64_t n = lp_tensor_numel(t);
  lp_status st = LP_OK;
  lp_dtype dt = lp_tensor_dtype(t);
  if (dt == LP_BOOL) return lp_ctx_error(ctx, LP_ETYPE, 0, "'%s': dataset '%s': bool tensors are not written", w->path, name);
  if (!lp_tensor_is_contiguous(t))
    return lp_ctx_error(ctx, LP_EARG, 0, "'%s': dataset '%s': tensor must be contiguous", w->path, name);
  for (i = 0; i < nd; i++) dims[i] = (hsize_t)lp_tensor_shape(t)[i];
  mt = native_type_of(dt);
  wq_on(&q);
  sp = nd == 0 ? H5Screate(H5S_SCALAR) : H5Screate_simple(nd, dims, NULL);
  if (gzip && nd > 0 && n > 0) {
    pl = H5Pcreate(H5P_DATASET_CREATE);
    H5Pset_chunk(pl, nd, dims);
    H5Pset_deflate(pl, 4);
  }
  ds = H5Dcreate2(w->file, name, mt, sp, H5P_DEFAULT, pl, H5P_DEFAULT);
  if (ds < 0 || (n > 0 && H5Dwrite(ds, mt, H5S_ALL, H5S_ALL, H5P_DEFAULT, lp_tensor_data(t)) < 0))
    st = wfail(ctx, w, LP_EARG, "write dataset", name);
  if (ds >= 0) H5Dclose(ds);
  if (pl != H5P_DEFAULT) H5Pclose(pl);
  H5Sclose(sp);
  wq_off(&q);
  return st;
}
