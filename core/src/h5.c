/*
** core/src/h5.c -- HDF5 files through libhdf5, for SHD/SSC (and NIR).
** Owns: lp_h5 handles (read-only), object kinds, group listings, reading
** rows of numeric, variable-length and string datasets and attributes into
** tensors and strings, `.h5.gz` via an unlinked temporary file, and turning
** libhdf5's error stack into one message. Not here: the data-set classes
** (stdlib/limpet/data/shd.lua), writing HDF5.
** libhdf5 prints its error stack by default; every entry point here turns
** that off for its duration (H5Eget_auto2/H5Eset_auto2) and restores it,
** so the library's state is left as found. Integer types without a limpet
** dtype widen (uint16 -> int32, uint32 and uint64 -> int64), float16 reads
** as float32: libhdf5 converts on read.
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

#define H5_CHECKED_MAX 16

struct lp_h5 {
  hid_t file;
  char *path;
  char *checked[H5_CHECKED_MAX];   /* chunked vlen datasets whose descriptors passed vlen_check */
  int nchecked;
};

/* ---- libhdf5's error stack ---------------------------------------------- */
typedef struct quiet { H5E_auto2_t fn; void *data; } quiet;

static void quiet_on(quiet *q) {
  H5Eget_auto2(H5E_DEFAULT, &q->fn, &q->data);
  H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
}
static void quiet_off(quiet *q) {
  H5Eclear2(H5E_DEFAULT);
  H5Eset_auto2(H5E_DEFAULT, q->fn, q->data);
}

typedef struct ewalk { char outer[160], inner[160]; int n; } ewalk;

static herr_t ewalk_cb(unsigned n, const H5E_error2_t *e, void *ud) {
  ewalk *w = ud;
  const char *d = e->desc ? e->desc : "";
  if (n == 0) snprintf(w->outer, sizeof w->outer, "%s", d);
  snprintf(w->inner, sizeof w->inner, "%s", d);
  w->n++;
  return 0;
}

/* "outer: inner" from the current stack (or a fallback), then cleared. */
static void stack_text(char *buf, size_t n) {
  ewalk w;
  memset(&w, 0, sizeof w);
  H5Ewalk2(H5E_DEFAULT, H5E_WALK_DOWNWARD, ewalk_cb, &w);
  H5Eclear2(H5E_DEFAULT);
  if (w.n == 0) snprintf(buf, n, "libhdf5 error");
  else if (w.n == 1 || strcmp(w.outer, w.inner) == 0) snprintf(buf, n, "%s", w.inner);
  else snprintf(buf, n, "%s: %s", w.outer, w.inner);
}

static lp_status h5_fail(lp_ctx *ctx, const lp_h5 *h, const char *what, const char *name) {
  char text[340];
  stack_text(text, sizeof text);
  return lp_ctx_error(ctx, LP_EFORMAT, 0, "'%s': cannot %s '%s' (%s)", h->path, what, name, text);
}

/* ---- open and close ----------------------------------------------------- */
static int ends_with(const char *s, const char *suffix) {
  size_t n = strlen(s), m = strlen(suffix);
  return n >= m && strcmp(s + n - m, suffix) == 0;
}

lp_status lp_h5_open(lp_ctx *ctx, const char *path, lp_h5 **out) {
  quiet q;
  htri_t is;
  hid_t f;
  lp_h5 *h;
  char tmp[4096];
  const char *real = path;
  int gz = ends_with(path, ".gz");
  lp_status st;
  FILE *probe;
  *out = NULL;
  probe = fopen(path, "rb");
  if (!probe) return lp_ctx_error(ctx, LP_EIO, 0, "cannot open '%s': %s", path, strerror(errno));
  fclose(probe);
  if ((st = lp_h5_load(ctx)) != LP_OK) return st;
  if (gz) {
    const char *dir = getenv("TMPDIR");
    int fd;
    if (!dir || !*dir) dir = "/tmp";
    snprintf(tmp, sizeof tmp, "%s/limpet-h5-XXXXXX", dir);
    fd = mkstemp(tmp);
    if (fd < 0) return lp_ctx_error(ctx, LP_EIO, 0, "cannot make a temporary file in '%s' for '%s': %s",
                                    dir, path, strerror(errno));
    close(fd);
    st = lp_gz_decompress_file(ctx, path, tmp);
    if (st) { unlink(tmp); return st; }
    real = tmp;
  }
  h = calloc(1, sizeof *h);
  if (h) h->path = strdup(path);
  if (!h || !h->path) {
    if (gz) unlink(tmp);
    free(h);
    return lp_ctx_error(ctx, LP_ENOMEM, 0, "out of memory opening '%s'", path);
  }
  quiet_on(&q);
  is = H5Fis_hdf5(real);
  if (is <= 0) {
    quiet_off(&q);
    if (gz) unlink(tmp);
    free(h->path); free(h);
    return lp_ctx_error(ctx, LP_EFORMAT, 0, "'%s' at offset 0: not an HDF5 file (no HDF5 signature)", path);
  }
  f = H5Fopen(real, H5F_ACC_RDONLY, H5P_DEFAULT);
  if (gz) unlink(tmp);             /* the open file stays readable until closed */
  if (f < 0) {
    char text[340];
    stack_text(text, sizeof text);
    quiet_off(&q);
    free(h->path); free(h);
    return lp_ctx_error(ctx, LP_EFORMAT, 0, "'%s': not a readable HDF5 file (%s)", path, text);
  }
  quiet_off(&q);
  h->file = f;
  *out = h;
  return LP_OK;
}

void lp_h5_close(lp_h5 *h) {
  quiet q;
  if (!h) return;
  quiet_on(&q);
  H5Fclose(h->file);
  quiet_off(&q);
  while (h->nchecked > 0) free(h->checked[--h->nchecked]);
  free(h->path);
  free(h);
}

const char *lp_h5_path(const lp_h5 *h) { return h->path; }

/* ---- types -------------------------------------------------------------- */
/* The limpet dtype a numeric HDF5 type reads as; -1 if none. */
static int numeric_dtype(hid_t t) {
  H5T_class_t c = H5Tget_class(t);
  size_t sz = H5Tget_size(t);
  if (c == H5T_INTEGER) {
    int sgn = H5Tget_sign(t) == H5T_SGN_2;
    if (sz == 1) return sgn ? LP_I8 : LP_U8;
    if (sz == 2) return sgn ? LP_I16 : LP_I32;
    if (sz == 4) return sgn ? LP_I32 : LP_I64;
    if (sz == 8) return LP_I64;
    return -1;
  }
  if (c == H5T_FLOAT) return sz <= 4 ? LP_F32 : sz == 8 ? LP_F64 : -1;
  return -1;
}

static hid_t native_of(lp_dtype dt) {
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

/* Kind and read dtype of a (file) type. */
static lp_h5_kind kind_of(hid_t t, lp_dtype *dt) {
  H5T_class_t c = H5Tget_class(t);
  int d;
  *dt = LP_F32;
  if (c == H5T_STRING) return LP_H5_STRING;
  if (c == H5T_VLEN) {
    hid_t base = H5Tget_super(t);
    lp_h5_kind k = LP_H5_OTHER;
    if (base >= 0) {
      d = numeric_dtype(base);
      if (d >= 0) { *dt = (lp_dtype)d; k = LP_H5_VLEN; }
      H5Tclose(base);
    }
    return k;
  }
  d = numeric_dtype(t);
  if (d >= 0) { *dt = (lp_dtype)d; return LP_H5_NUMERIC; }
  return LP_H5_OTHER;
}

/* ---- objects ------------------------------------------------------------ */
/* Open name as an object; -1 (stack cleared) when it does not exist. */
static hid_t obj_open(lp_h5 *h, const char *name) {
  hid_t o;
  if (strcmp(name, "/") != 0 && strcmp(name, ".") != 0) {
    /* every link on the way must exist, or H5Oopen complains */
    char buf[1024];
    size_t i, n = strlen(name);
    if (n >= sizeof buf) return -1;
    memcpy(buf, name, n + 1);
    for (i = 1; i <= n; i++) {
      if (buf[i] == '/' || buf[i] == '\0') {
        char c = buf[i];
        htri_t ex;
        buf[i] = '\0';
        ex = (i == 0 || (i == 1 && buf[0] == '/')) ? 1 : H5Lexists(h->file, buf, H5P_DEFAULT);
        buf[i] = c;
        if (ex <= 0) { H5Eclear2(H5E_DEFAULT); return -1; }
      }
    }
  }
  o = H5Oopen(h->file, name, H5P_DEFAULT);
  if (o < 0) H5Eclear2(H5E_DEFAULT);
  return o;
}

static lp_status info_of(lp_h5 *h, hid_t o, lp_h5_info *out) {
  H5I_type_t it = H5Iget_type(o);
  memset(out, 0, sizeof *out);
  if (it == H5I_GROUP) { out->kind = LP_H5_GROUP; return LP_OK; }
  if (it == H5I_DATASET) {
    hid_t t = H5Dget_type(o), s = H5Dget_space(o);
    hsize_t dims[H5S_MAX_RANK];
    int nd = s >= 0 ? H5Sget_simple_extent_ndims(s) : -1, d;
    out->kind = t >= 0 ? kind_of(t, &out->dtype) : LP_H5_OTHER;
    if (nd > LP_MAXDIM || nd < 0) out->kind = LP_H5_OTHER;
    else {
      H5Sget_simple_extent_dims(s, dims, NULL);
      out->ndim = nd;
      for (d = 0; d < nd; d++) out->shape[d] = (int64_t)dims[d];
    }
    if (t >= 0) H5Tclose(t);
    if (s >= 0) H5Sclose(s);
    return LP_OK;
  }
  (void)h;
  out->kind = LP_H5_OTHER;
  return LP_OK;
}

lp_status lp_h5_info_of(lp_ctx *ctx, lp_h5 *h, const char *name, lp_h5_info *out) {
  quiet q;
  hid_t o;
  lp_status st;
  (void)ctx;
  memset(out, 0, sizeof *out);
  quiet_on(&q);
  o = obj_open(h, name);
  if (o < 0) { quiet_off(&q); out->kind = LP_H5_NONE; return LP_OK; }
  st = info_of(h, o, out);
  H5Oclose(o);
  quiet_off(&q);
  return st;
}

/* ---- name lists --------------------------------------------------------- */
typedef struct namelist { int64_t n, cap; char **v; int oom; } namelist;

static int names_add(namelist *nl, const char *s) {
  if (nl->n == nl->cap) {
    int64_t nc = nl->cap ? 2 * nl->cap : 16;
    char **nv = realloc(nl->v, (size_t)nc * sizeof *nv);
    if (!nv) { nl->oom = 1; return -1; }
    nl->v = nv; nl->cap = nc;
  }
  nl->v[nl->n] = strdup(s);
  if (!nl->v[nl->n]) { nl->oom = 1; return -1; }
  nl->n++;
  return 0;
}

static int by_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

static herr_t link_cb(hid_t g, const char *name, const H5L_info_t *info, void *ud) {
  (void)g; (void)info;
  return names_add(ud, name) ? -1 : 0;
}

static herr_t attr_cb(hid_t o, const char *name, const H5A_info_t *info, void *ud) {
  (void)o; (void)info;
  return names_add(ud, name) ? -1 : 0;
}

static lp_status names_done(lp_ctx *ctx, namelist *nl, herr_t r, lp_h5 *h, const char *what,
                            const char *name, int64_t *n, char ***names) {
  if (nl->oom) {
    lp_names_free(nl->n, nl->v);
    H5Eclear2(H5E_DEFAULT);
    return lp_ctx_error(ctx, LP_ENOMEM, 0, "out of memory listing '%s'", name);
  }
  if (r < 0) { lp_names_free(nl->n, nl->v); return h5_fail(ctx, h, what, name); }
  if (nl->n) qsort(nl->v, (size_t)nl->n, sizeof *nl->v, by_str);
  *n = nl->n; *names = nl->v;
  return LP_OK;
}

lp_status lp_h5_list(lp_ctx *ctx, lp_h5 *h, const char *group, int64_t *n, char ***names) {
  quiet q;
  namelist nl;
  hid_t o;
  herr_t r;
  lp_status st;
  memset(&nl, 0, sizeof nl);
  *n = 0; *names = NULL;
  quiet_on(&q);
  o = obj_open(h, group);
  if (o < 0 || H5Iget_type(o) != H5I_GROUP) {
    if (o >= 0) H5Oclose(o);
    quiet_off(&q);
    return lp_ctx_error(ctx, LP_EARG, 0, "'%s': no group '%s'", h->path, group);
  }
  r = H5Literate(o, H5_INDEX_NAME, H5_ITER_INC, NULL, link_cb, &nl);
  st = names_done(ctx, &nl, r, h, "list", group, n, names);
  H5Oclose(o);
  quiet_off(&q);
  return st;
}

lp_status lp_h5_attr_names(lp_ctx *ctx, lp_h5 *h, const char *obj, int64_t *n, char ***names) {
  quiet q;
  namelist nl;
  hid_t o;
  herr_t r;
  lp_status st;
  memset(&nl, 0, sizeof nl);
  *n = 0; *names = NULL;
  quiet_on(&q);
  o = obj_open(h, obj);
  if (o < 0) {
    quiet_off(&q);
    return lp_ctx_error(ctx, LP_EARG, 0, "'%s': no object '%s'", h->path, obj);
  }
  r = H5Aiterate2(o, H5_INDEX_NAME, H5_ITER_INC, NULL, attr_cb, &nl);
  st = names_done(ctx, &nl, r, h, "list the attributes of", obj, n, names);
  H5Oclose(o);
  quiet_off(&q);
  return st;
}

/* ---- reading -------------------------------------------------------------
** One reader for datasets and attributes: `ds` is a dataset or attribute id,
** `isattr` says which; attributes are read whole. */
void lp_h5_value_free(lp_h5_value *v) {
  if (!v) return;
  lp_tensor_release(v->tensor);
  lp_tensor_release(v->offsets);
  lp_names_free(v->n, v->strs);
  memset(v, 0, sizeof *v);
}

static herr_t do_read(hid_t ds, int isattr, hid_t mt, hid_t ms, hid_t fs, void *buf) {
  return isattr ? H5Aread(ds, mt, buf) : H5Dread(ds, mt, ms, fs, H5P_DEFAULT, buf);
}

/* ---- variable-length descriptors ------------------------------------------
** libhdf5 trusts the length stored with each variable-length element
** (sequences and variable-length strings alike) and reserves length x size
** bytes for its conversion before it reads the data (H5T__conv_vlen): one
** corrupt length in a small file asks for gigabytes. So before a dataset of
** such elements is read, its stored descriptors (a 4-byte little-endian
** length, then a global heap id) are read here from the file, and a length
** whose data could not fit in the file is refused, as is a total beyond the
** ctx's cap. Contiguous data are checked row range by row range, unfiltered
** chunks once per dataset and handle; compact and filtered layouts, which
** cannot be read raw, are refused for variable-length data (h5py writes
** neither). */
static lp_status raw_read(lp_ctx *ctx, lp_h5 *h, int fd, uint64_t fsize, uint64_t addr, size_t n,
                          unsigned char *buf, const char *name) {
  ssize_t got;
  if (addr > fsize || n > fsize - addr)
    return lp_ctx_error(ctx, LP_EFORMAT, 0, "'%s': the data of '%s' lie outside the file", h->path, name);
  got = pread(fd, buf, n, (off_t)addr);
  if (got < 0 || (size_t)got != n)
    return lp_ctx_error(ctx, LP_EIO, 0, "cannot read '%s': %s", h->path, got < 0 ? strerror(errno) : "short read");
  return LP_OK;
}

typedef struct vlen_scan {
  size_t desc, sa, ss;   /* bytes per stored descriptor, per file address, per file length */
  uint64_t base, mem;    /* bytes per element on disk, in memory */
  uint64_t fsize, total; /* file size; memory the read will need */
  int64_t per;           /* elements per row (for messages) */
  int fd;
  /* the global heap collection last parsed: object sizes by index, -1 = none */
  uint64_t gaddr;
  int64_t *gsize;
  size_t gn, gcap;
  unsigned char *gbuf;
  size_t gbufsize;
} vlen_scan;

static uint64_t le_n(const unsigned char *p, size_t n) {
  uint64_t v = 0;
  while (n-- > 0) v = v << 8 | p[n];
  return v;
}

#define H5HG_ALIGN8(x) (((x) + 7) & ~(uint64_t)7)

/* Parse the global heap collection at addr the way libhdf5 1.10 does
   (H5HG__cache_heap_deserialize) and record each object's size, so that a
   descriptor pointing at a missing object, or at one larger than its
   length says (which H5HG_read would copy past its buffer), is refused
   before libhdf5 reads it. */
static lp_status gcol_parse(lp_ctx *ctx, lp_h5 *h, const char *name, vlen_scan *v, uint64_t addr) {
  unsigned char hdr[24];
  uint64_t csize, pos, hsize = H5HG_ALIGN8(8 + v->ss), ohsize = H5HG_ALIGN8(8 + v->ss);
  lp_status st;
  size_t i;
  if (v->gsize && v->gaddr == addr) return LP_OK;
  v->gn = 0;
  if ((st = raw_read(ctx, h, v->fd, v->fsize, addr, 8 + v->ss, hdr, name))) return st;
  csize = le_n(hdr + 8, v->ss);
  if (memcmp(hdr, "GCOL", 4) != 0 || hdr[4] != 1 || csize < 4096 || csize > v->fsize - addr)
    return lp_ctx_error(ctx, LP_EFORMAT, 0, "'%s': the variable-length data of '%s' point at a corrupt "
                        "global heap (address %llu)", h->path, name, (unsigned long long)addr);
  if (csize > lp_ctx_max_bytes(ctx))
    return lp_ctx_error(ctx, LP_ESIZE, 0, "'%s': reading '%s' needs %llu bytes, more than the cap of %llu bytes",
                        h->path, name, (unsigned long long)csize, (unsigned long long)lp_ctx_max_bytes(ctx));
  if (csize > v->gbufsize) {
    if (v->gbuf) lp_ctx_dealloc(ctx, v->gbuf, v->gbufsize);
    v->gbufsize = (size_t)csize;
    if (!(v->gbuf = lp_ctx_alloc_raw(ctx, v->gbufsize))) { v->gbufsize = 0; return LP_ENOMEM; }
  }
  if ((st = raw_read(ctx, h, v->fd, v->fsize, addr, (size_t)csize, v->gbuf, name))) return st;
  for (pos = hsize; pos < csize;) {
    uint64_t idx, osize, need;
    if (pos + ohsize > csize) break;                       /* trailing free space */
    idx = le_n(v->gbuf + pos, 2);
    osize = le_n(v->gbuf + pos + 8, v->ss);
    if (idx >= v->gcap) {
      size_t nc = v->gcap ? 2 * v->gcap : 64;
      int64_t *ns;
      while (nc <= idx) nc *= 2;
      if (!(ns = lp_ctx_alloc_raw(ctx, nc * sizeof *ns))) return LP_ENOMEM;
      if (v->gsize) { memcpy(ns, v->gsize, v->gcap * sizeof *ns); lp_ctx_dealloc(ctx, v->gsize, v->gcap * sizeof *ns); }
      v->gsize = ns; v->gcap = nc;
    }
    for (i = v->gn; i <= idx; i++) v->gsize[i] = -1;
    if (idx + 1 > v->gn) v->gn = (size_t)idx + 1;
    /* libhdf5 steps its pointer by `need` with wrap-around: a step of 0
       loops forever, one of 2^63 or more may land before the collection */
    need = idx > 0 ? ohsize + H5HG_ALIGN8(osize) : osize;
    if (need == 0 || need >= (uint64_t)1 << 63)
      return lp_ctx_error(ctx, LP_EFORMAT, 0, "'%s': the variable-length data of '%s' point at a corrupt "
                          "global heap (address %llu)", h->path, name, (unsigned long long)addr);
    if (osize > csize || need > csize - pos) {           /* runs past the collection */
      if (idx > 0) v->gsize[idx] = -1;
      break;
    }
    if (idx > 0) v->gsize[idx] = (int64_t)osize;
    pos += need;
  }
  v->gaddr = addr;
  return LP_OK;
}

static lp_status scan_descs(lp_ctx *ctx, lp_h5 *h, const char *name, vlen_scan *v,
                            const unsigned char *b, size_t n, int64_t first) {
  size_t k;
  lp_status st;
  for (k = 0; k + v->desc <= n; k += v->desc) {
    uint64_t len = le_n(b + k, 4), gaddr = le_n(b + k + 4, v->sa), gidx = le_n(b + k + 4 + v->sa, 4);
    int64_t elem = first + (int64_t)(k / v->desc);
    if (len * v->base > v->fsize)
      return lp_ctx_error(ctx, LP_EFORMAT, 0, "'%s': row %lld of '%s' claims %llu bytes of variable-length data, "
                          "more than the file's %llu bytes", h->path, (long long)(elem / v->per + 1), name,
                          (unsigned long long)(len * v->base), (unsigned long long)v->fsize);
    v->total += len * v->mem + 16;
    if (v->total > lp_ctx_max_bytes(ctx))
      return lp_ctx_error(ctx, LP_ESIZE, 0, "'%s': reading '%s' needs more than %llu bytes, more than the cap of %llu bytes",
                          h->path, name, (unsigned long long)v->total, (unsigned long long)lp_ctx_max_bytes(ctx));
    if (gaddr == 0) continue;          /* a nil sequence: libhdf5 reads no heap object (it does for length 0) */
    if ((st = gcol_parse(ctx, h, name, v, gaddr))) return st;
    if (gidx == 0 || gidx >= v->gn || v->gsize[gidx] < 0 || (uint64_t)v->gsize[gidx] > len * v->base)
      return lp_ctx_error(ctx, LP_EFORMAT, 0, "'%s': row %lld of '%s' points at a missing or oversized "
                          "global heap object", h->path, (long long)(elem / v->per + 1), name);
  }
  return LP_OK;
}

static lp_status vlen_check(lp_ctx *ctx, lp_h5 *h, hid_t ds, hid_t ft, int is_str, lp_dtype dt,
                            const char *name, int nd, const hsize_t *dims, int64_t start, int64_t count) {
  hid_t fcpl = -1, fapl = -1, dcpl = -1;
  size_t sa = 0, ss = 0;
  hsize_t fsz = 0;
  void *handle = NULL;
  unsigned char *buf = NULL;
  size_t bufsize = 0;
  vlen_scan v;
  int fd, d, i;
  lp_status st = LP_OK;
  H5D_layout_t layout;
  memset(&v, 0, sizeof v);
  v.per = 1;
  for (d = 1; d < nd; d++) v.per *= (int64_t)dims[d];
  if (is_str) { v.base = 1; v.mem = 1; }
  else {
    hid_t bt = H5Tget_super(ft);
    v.base = bt >= 0 ? H5Tget_size(bt) : 0;
    if (bt >= 0) H5Tclose(bt);
    v.mem = lp_dtype_size(dt);
  }
  fcpl = H5Fget_create_plist(h->file);
  fapl = H5Fget_access_plist(h->file);
  dcpl = H5Dget_create_plist(ds);
  if (fcpl < 0 || fapl < 0 || dcpl < 0 || H5Pget_sizes(fcpl, &sa, &ss) < 0 || H5Fget_filesize(h->file, &fsz) < 0 ||
      v.base == 0 || H5Pget_driver(fapl) != H5FD_SEC2 || H5Fget_vfd_handle(h->file, fapl, &handle) < 0 || !handle) {
    st = h5_fail(ctx, h, "read", name);
    goto done;
  }
  fd = *(int *)handle;
  v.fd = fd;
  v.sa = sa; v.ss = ss;
  if (sa < 2 || sa > 8 || ss < 2 || ss > 8) { st = h5_fail(ctx, h, "read", name); goto done; }
  v.desc = 4 + (size_t)sa + 4;
  v.fsize = (uint64_t)fsz;
  layout = H5Pget_layout(dcpl);
  if (layout == H5D_CONTIGUOUS) {
    haddr_t addr = H5Dget_offset(ds);
    uint64_t off, n, done_bytes = 0;
    H5Eclear2(H5E_DEFAULT);
    if (addr == HADDR_UNDEF || count == 0) goto done;        /* nothing stored: fill values */
    off = (uint64_t)addr + (uint64_t)start * (uint64_t)v.per * v.desc;
    n = (uint64_t)count * (uint64_t)v.per * v.desc;
    bufsize = 64 * 1024 - (64 * 1024) % v.desc;
    if (!(buf = lp_ctx_alloc_raw(ctx, bufsize))) { st = LP_ENOMEM; bufsize = 0; goto done; }
    while (done_bytes < n && st == LP_OK) {
      size_t k = n - done_bytes < bufsize ? (size_t)(n - done_bytes) : bufsize;
      if ((st = raw_read(ctx, h, fd, v.fsize, off + done_bytes, k, buf, name))) break;
      st = scan_descs(ctx, h, name, &v, buf, k, start * v.per + (int64_t)(done_bytes / v.desc));
      done_bytes += k;
    }
  } else if (layout == H5D_CHUNKED && H5Pget_nfilters(dcpl) == 0) {
    hsize_t nchunks = 0, c;
    for (i = 0; i < h->nchecked; i++) if (strcmp(h->checked[i], name) == 0) goto done;
    if (H5Dget_num_chunks(ds, H5S_ALL, &nchunks) < 0) { st = h5_fail(ctx, h, "read", name); goto done; }
    for (c = 0; c < nchunks && st == LP_OK; c++) {
      unsigned mask = 0;
      haddr_t addr = HADDR_UNDEF;
      hsize_t size = 0;
      if (H5Dget_chunk_info(ds, H5S_ALL, c, NULL, &mask, &addr, &size) < 0) { st = h5_fail(ctx, h, "read", name); break; }
      if (addr == HADDR_UNDEF || size == 0) continue;
      if ((uint64_t)size > v.fsize) {
        st = lp_ctx_error(ctx, LP_EFORMAT, 0, "'%s': the data of '%s' lie outside the file", h->path, name);
        break;
      }
      if ((size_t)size > bufsize) {
        if (buf) lp_ctx_dealloc(ctx, buf, bufsize);
        bufsize = (size_t)size;
        if (!(buf = lp_ctx_alloc_raw(ctx, bufsize))) { st = LP_ENOMEM; bufsize = 0; break; }
      }
      if ((st = raw_read(ctx, h, fd, v.fsize, (uint64_t)addr, (size_t)size, buf, name))) break;
      v.total = 0;                 /* chunks are checked for lengths; the cap applies per read below */
      st = scan_descs(ctx, h, name, &v, buf, (size_t)size, 0);
    }
    if (st == LP_OK && h->nchecked < H5_CHECKED_MAX && (h->checked[h->nchecked] = strdup(name)) != NULL)
      h->nchecked++;
  } else {
    st = lp_ctx_error(ctx, LP_ETYPE, 0, "'%s': '%s' holds variable-length data in a %s layout "
                      "(limpet reads them from contiguous or unfiltered chunked datasets)", h->path, name,
                      layout == H5D_COMPACT ? "compact" : "filtered");
  }
done:
  if (buf) lp_ctx_dealloc(ctx, buf, bufsize);
  if (v.gbuf) lp_ctx_dealloc(ctx, v.gbuf, v.gbufsize);
  if (v.gsize) lp_ctx_dealloc(ctx, v.gsize, v.gcap * sizeof *v.gsize);
  if (dcpl >= 0) H5Pclose(dcpl);
  if (fapl >= 0) H5Pclose(fapl);
  if (fcpl >= 0) H5Pclose(fcpl);
  return st;
}

/* A compact dataset keeps its data in its object header; libhdf5 1.10 copies
   as many bytes as the dataspace says out of that buffer without checking
   its length (a heap-buffer-overflow on a corrupt file, found by fuzz_nir):
   the stored size must cover the dataspace before anything is read. */
static lp_status compact_check(lp_ctx *ctx, lp_h5 *h, hid_t ds, hid_t ft, const char *name, int nd,
                               const hsize_t *dims) {
  hid_t dcpl = H5Dget_create_plist(ds);
  H5D_layout_t layout;
  hsize_t stored, n = 1;
  size_t es = H5Tget_size(ft);
  int d, over = 0;
  if (dcpl < 0) return h5_fail(ctx, h, "read", name);
  layout = H5Pget_layout(dcpl);
  H5Pclose(dcpl);
  if (layout != H5D_COMPACT) return LP_OK;
  for (d = 0; d < nd; d++) {
    if (dims[d] && n > (hsize_t)-1 / dims[d]) over = 1;
    else n *= dims[d];
  }
  if (!over && es && n > (hsize_t)-1 / es) over = 1;
  stored = H5Dget_storage_size(ds);
  if (over || n * es > stored)
    return lp_ctx_error(ctx, LP_EFORMAT, 0, "'%s': '%s' is a compact dataset of %llu bytes, but its shape needs %s%llu",
                        h->path, name, (unsigned long long)stored, over ? "more than " : "",
                        over ? (unsigned long long)-1 : (unsigned long long)(n * es));
  return LP_OK;
}

static lp_status read_obj(lp_ctx *ctx, lp_h5 *h, hid_t ds, int isattr, const char *name,
                          int64_t start, int64_t count, lp_h5_value *out) {
  hid_t ft = isattr ? H5Aget_type(ds) : H5Dget_type(ds);
  hid_t fs = isattr ? H5Aget_space(ds) : H5Dget_space(ds);
  hid_t ms = -1, mt = -1;
  hsize_t dims[H5S_MAX_RANK], hstart[H5S_MAX_RANK], hcount[H5S_MAX_RANK];
  int nd, d;
  int64_t shape[LP_MAXDIM], rows = 1, per = 1, k;
  lp_dtype dt;
  lp_h5_kind kind;
  lp_status st = LP_OK;
  void *tmpbuf = NULL;
  size_t tmpsize = 0;
  const char *what = isattr ? "read attribute" : "read";
  if (ft < 0 || fs < 0) { st = h5_fail(ctx, h, what, name); goto done; }
  kind = kind_of(ft, &dt);
  nd = H5Sget_simple_extent_ndims(fs);
  if (nd < 0 || nd > LP_MAXDIM) { st = lp_ctx_error(ctx, LP_EFORMAT, 0, "'%s': '%s' has %d dims (at most %d supported)", h->path, name, nd, LP_MAXDIM); goto done; }
  if (kind == LP_H5_OTHER || kind == LP_H5_GROUP) {
    st = lp_ctx_error(ctx, LP_ETYPE, 0, "'%s': '%s' has a type limpet cannot read (class %d)", h->path, name, (int)H5Tget_class(ft));
    goto done;
  }
  H5Sget_simple_extent_dims(fs, dims, NULL);
  for (d = 0; d < nd; d++) {
    if (dims[d] > (hsize_t)INT64_MAX) break;
    shape[d] = (int64_t)dims[d];
  }
  if (d < nd || !lp_shape_span_ok(nd, shape)) {
    st = lp_ctx_error(ctx, LP_EFORMAT, 0, "'%s': '%s' has implausible dims", h->path, name);
    goto done;
  }
  /* the row range */
  if (nd == 0) {
    if (start != 0 || count > 1) { st = lp_ctx_error(ctx, LP_ERANGE, 0, "'%s': '%s' is a scalar: it has no rows", h->path, name); goto done; }
  } else {
    if (start < 0 || start > shape[0]) { st = lp_ctx_error(ctx, LP_ERANGE, 0, "'%s': row %lld out of range for '%s' with %lld rows", h->path, (long long)start + 1, name, (long long)shape[0]); goto done; }
    if (count < 0) count = shape[0] - start;
    if (count > shape[0] - start) { st = lp_ctx_error(ctx, LP_ERANGE, 0, "'%s': rows %lld..%lld out of range for '%s' with %lld rows", h->path, (long long)start + 1, (long long)(start + count), name, (long long)shape[0]); goto done; }
    if (isattr && (start != 0 || count != shape[0])) { st = lp_ctx_error(ctx, LP_EARG, 0, "attributes are read whole"); goto done; }
    shape[0] = count;
    for (d = 0; d < nd; d++) { hstart[d] = 0; hcount[d] = (hsize_t)shape[d]; }
    hstart[0] = (hsize_t)start;
    if (!isattr && H5Sselect_hyperslab(fs, H5S_SELECT_SET, hstart, NULL, hcount, NULL) < 0) { st = h5_fail(ctx, h, what, name); goto done; }
  }
  for (d = 0; d < nd; d++) rows *= shape[d];
  for (d = 1; d < nd; d++) per *= shape[d];
  (void)per;
  if (kind != LP_H5_NUMERIC) {   /* per-row buffers (hvl_t, string pointers) go through the cap too */
    uint64_t each = kind == LP_H5_VLEN ? sizeof(hvl_t) : 2 * sizeof(char *) + (H5Tis_variable_str(ft) > 0 ? 0 : H5Tget_size(ft) + 1);
    if ((uint64_t)rows > lp_ctx_max_bytes(ctx) / each) {
      st = lp_ctx_error(ctx, LP_ESIZE, 0, "'%s': reading %lld rows of '%s' needs %llu bytes, more than the cap of %llu bytes",
                        h->path, (long long)rows, name, (unsigned long long)((uint64_t)rows > UINT64_MAX / each ? UINT64_MAX : (uint64_t)rows * each),
                        (unsigned long long)lp_ctx_max_bytes(ctx));
      goto done;
    }
  }
  if (!isattr && (st = compact_check(ctx, h, ds, ft, name, nd, dims))) goto done;
  if (!isattr && (kind == LP_H5_VLEN || (kind == LP_H5_STRING && H5Tis_variable_str(ft) > 0)) &&
      (st = vlen_check(ctx, h, ds, ft, kind == LP_H5_STRING, dt, name, nd, dims, nd ? start : 0, nd ? shape[0] : 1)))
    goto done;
  ms = nd == 0 ? H5Screate(H5S_SCALAR) : H5Screate_simple(nd, hcount, NULL);
  if (ms < 0) { st = h5_fail(ctx, h, what, name); goto done; }
  out->kind = kind;
  if (kind == LP_H5_NUMERIC) {
    if ((st = lp_tensor_empty(ctx, dt, nd, shape, &out->tensor))) goto done;
    if (rows && do_read(ds, isattr, native_of(dt), ms, fs, lp_tensor_data(out->tensor)) < 0) { st = h5_fail(ctx, h, what, name); goto done; }
  } else if (kind == LP_H5_VLEN) {
    hvl_t *vl;
    int64_t total = 0, one = rows + 1;
    int64_t *off;
    size_t es = lp_dtype_size(dt);
    mt = H5Tvlen_create(native_of(dt));
    if (mt < 0) { st = h5_fail(ctx, h, what, name); goto done; }
    tmpsize = (size_t)(rows ? rows : 1) * sizeof(hvl_t);
    tmpbuf = lp_ctx_alloc(ctx, tmpsize);
    if (!tmpbuf) { st = LP_ENOMEM; tmpsize = 0; goto done; }
    vl = tmpbuf;
    if (rows && do_read(ds, isattr, mt, ms, fs, vl) < 0) { st = h5_fail(ctx, h, what, name); goto done; }
    for (k = 0; k < rows; k++) total += (int64_t)vl[k].len;
    if ((st = lp_tensor_empty(ctx, dt, 1, &total, &out->tensor)) ||
        (st = lp_tensor_empty(ctx, LP_I64, 1, &one, &out->offsets))) {
      if (rows) H5Dvlen_reclaim(mt, ms, H5P_DEFAULT, vl);
      goto done;
    }
    off = lp_tensor_data(out->offsets);
    off[0] = 0;
    for (k = 0; k < rows; k++) {
      if (vl[k].len) memcpy((char *)lp_tensor_data(out->tensor) + (size_t)off[k] * es, vl[k].p, vl[k].len * es);
      off[k + 1] = off[k] + (int64_t)vl[k].len;
    }
    if (rows) H5Dvlen_reclaim(mt, ms, H5P_DEFAULT, vl);
  } else {                                   /* strings */
    int var = H5Tis_variable_str(ft) > 0;
    size_t sz = H5Tget_size(ft);
    out->strs = calloc((size_t)(rows ? rows : 1), sizeof *out->strs);
    if (!out->strs) { st = lp_ctx_error(ctx, LP_ENOMEM, 0, "out of memory reading '%s'", name); goto done; }
    out->n = rows;
    if (!var) sz += 1;                       /* room for the terminator we ask for */
    mt = H5Tcopy(H5T_C_S1);
    if (mt < 0 || H5Tset_size(mt, var ? H5T_VARIABLE : sz) < 0 || H5Tset_cset(mt, H5Tget_cset(ft)) < 0 ||
        H5Tset_strpad(mt, H5T_STR_NULLTERM) < 0) { st = h5_fail(ctx, h, what, name); goto done; }
    tmpsize = (size_t)(rows ? rows : 1) * (var ? sizeof(char *) : sz);
    tmpbuf = lp_ctx_alloc(ctx, tmpsize);
    if (!tmpbuf) { st = LP_ENOMEM; tmpsize = 0; goto done; }
    if (rows && do_read(ds, isattr, mt, ms, fs, tmpbuf) < 0) { st = h5_fail(ctx, h, what, name); goto done; }
    for (k = 0; k < rows; k++) {
      const char *s = var ? ((char **)tmpbuf)[k] : (const char *)tmpbuf + (size_t)k * sz;
      size_t len = s ? (var ? strlen(s) : strnlen(s, sz)) : 0;
      out->strs[k] = malloc(len + 1);
      if (out->strs[k]) { if (len) memcpy(out->strs[k], s, len); out->strs[k][len] = '\0'; }
      else st = lp_ctx_error(ctx, LP_ENOMEM, 0, "out of memory reading '%s'", name);
    }
    if (var && rows) H5Dvlen_reclaim(mt, ms, H5P_DEFAULT, tmpbuf);
  }
done:
  if (tmpbuf) lp_ctx_dealloc(ctx, tmpbuf, tmpsize);
  if (mt >= 0) H5Tclose(mt);
  if (ms >= 0) H5Sclose(ms);
  if (fs >= 0) H5Sclose(fs);
  if (ft >= 0) H5Tclose(ft);
  if (st) lp_h5_value_free(out);
  return st;
}

lp_status lp_h5_read(lp_ctx *ctx, lp_h5 *h, const char *name, int64_t start, int64_t count,
                     lp_h5_value *out) {
  quiet q;
  hid_t o;
  lp_status st;
  memset(out, 0, sizeof *out);
  quiet_on(&q);
  o = obj_open(h, name);
  if (o < 0 || H5Iget_type(o) != H5I_DATASET) {
    int grp = o >= 0;
    if (o >= 0) H5Oclose(o);
    quiet_off(&q);
    return lp_ctx_error(ctx, LP_EARG, 0, grp ? "'%s': '%s' is a group, not a dataset" : "'%s': no dataset '%s'",
                        h->path, name);
  }
  st = read_obj(ctx, h, o, 0, name, start, count, out);
  H5Oclose(o);
  quiet_off(&q);
  return st;
}

lp_status lp_h5_attr_read(lp_ctx *ctx, lp_h5 *h, const char *obj, const char *attr,
                          lp_h5_value *out) {
  quiet q;
  hid_t o, a;
  lp_status st;
  memset(out, 0, sizeof *out);
  quiet_on(&q);
  o = obj_open(h, obj);
  if (o < 0) { quiet_off(&q); return lp_ctx_error(ctx, LP_EARG, 0, "'%s': no object '%s'", h->path, obj); }
  if (H5Aexists(o, attr) <= 0) {
    H5Oclose(o);
    quiet_off(&q);
    return lp_ctx_error(ctx, LP_EARG, 0, "'%s': '%s' has no attribute '%s'", h->path, obj, attr);
  }
  a = H5Aopen(o, attr, H5P_DEFAULT);
  if (a < 0) { st = h5_fail(ctx, h, "read attribute", attr); H5Oclose(o); quiet_off(&q); return st; }
  st = read_obj(ctx, h, a, 1, attr, 0, -1, out);
  H5Aclose(a);
  H5Oclose(o);
  quiet_off(&q);
  return st;
}
