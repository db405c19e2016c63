/*
** core/src/h5_lazy.c -- libhdf5 loaded with dlopen on the first HDF5 call
** (core/src/h5_lazy.h says why). Owns: the one process-wide table of
** libhdf5's symbols, filled once under pthread_once, and the message when
** the library or a symbol cannot be had. The library's name comes from the
** build (LP_HDF5_SONAME, the SONAME of the libhdf5 it compiled against).
*/
#define LP_H5_LAZY_IMPL
#include "h5_lazy.h"

#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#ifndef LP_HDF5_SONAME
#define LP_HDF5_SONAME "libhdf5_serial.so.103"
#endif

/* written once under pthread_once, read-only afterwards */
static struct {
  pthread_once_t once;
  lp_h5_api api;
  int ok;
  char err[256];
} h5lib = { PTHREAD_ONCE_INIT, { 0 }, 0, { 0 } };

static void load_once(void) {
  void *h = dlopen(LP_HDF5_SONAME, RTLD_NOW | RTLD_LOCAL);
  if (!h) h = dlopen("libhdf5.so", RTLD_NOW | RTLD_LOCAL);
  if (!h) {
    const char *e = dlerror();
    snprintf(h5lib.err, sizeof h5lib.err, "cannot load libhdf5 (%s): %s", LP_HDF5_SONAME, e ? e : "dlopen failed");
    return;
  }
#define LP_H5_LOOKUP(s)                                                                       \
  if ((*(void **)&h5lib.api.s = dlsym(h, #s)) == NULL) {                                      \
    snprintf(h5lib.err, sizeof h5lib.err, "libhdf5 (%s) lacks the symbol %s", LP_HDF5_SONAME, #s); \
    return;                                                                                   \
  }
  LP_H5_SYMBOLS(LP_H5_LOOKUP, LP_H5_LOOKUP)
#undef LP_H5_LOOKUP
  h5lib.ok = 1;
}

lp_status lp_h5_load(lp_ctx *ctx) {
  pthread_once(&h5lib.once, load_once);
  if (h5lib.ok) return LP_OK;
  return lp_ctx_error(ctx, LP_EIO, 0, "%s", h5lib.err);
}

const lp_h5_api *lp_h5_api_get(void) { return &h5lib.api; }
