/*
** core/src/h5.c -- HDF5 files through libhdf5, for SHD/SSC (and NIR).
** Owns: lp_h5 handles (read-only), object kinds, group listings, reading
** rows of numeric, variable-length and string datasets and attributes into
** tensors and strings, `.h5.gz` via an unlinked temporary file, and turning
** libhdf5's error stack into one message, and the checks of what libhdf5
** would trust blindly (old-style groups, variable-length descriptors,
** compact data) before it reads them. Not here: the data-set classes
** (stdlib/limpet/data/shd.lua), writing HDF5.
** libhdf5 prints its error stack by default; every entry point here turns
** that off for its duration (H5Eget_auto2/H5Eset_auto2) and restores it,
** so the library's state is left as found. Integer types without a limpet
** dtype widen (uint16 -> int32, uint32 and uint64 -> int64), float16 reads
** as float32: libhdf5 converts on read.
*/
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include <hdf5.h>
#include "h5_lazy.h"

#include "tensor_impl.h"
#include "limpet/data.h"

#define H5_CHECKED_MAX 16
#define H5_GROUPS_MAX 64

struct lp_h5 {
  hid_t file;
  char *path;
  char *checked[H5_CHECKED_MAX];   /* chunked vlen datasets whose descriptors passed vlen_check */
  int nchecked;
  uint64_t groups[H5_GROUPS_MAX];  /* object header addresses of groups that passed group_check */
  int ngroups;
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

/* little-endian unsigned of n bytes */
static uint64_t le_n(const unsigned char *p, size_t n) {
  uint64_t v = 0;
  while (n-- > 0) v = v << 8 | p[n];
  return v;
}

/* ---- old-style groups ----------------------------------------------------
** libhdf5 1.10 looks a name up in an old-style group (a symbol-table message
** in the group's object header: a v1 B-tree whose leaves are symbol nodes,
** the names in a local heap) trusting every address and offset it meets on
** the way: a symbol-table message whose heap address was undefined made
** H5Lexists copy from a NULL buffer in H5F__accum_read (H5G__stab_lookup ->
** H5HL_protect; fuzz_nir, spec/fuzz/regressions/nir/
** libhdf5-segv-h5lexists-local-heap.nir). So before a name is looked up in a
** group, or the group is listed, its object header is read here (v1 or v2,
** with its continuation chunks) and, when it holds a symbol-table message
** (and no link-info message, which would make libhdf5 use the new-style
** links instead), everything libhdf5 follows from there is checked: the
** local heap ("HEAP", version 0, data segment inside the file, free list
** inside the segment and finite), every B-tree node ("TREE", group type,
** levels going down by one, entries within the capacity the file's creation
** properties give, keys naming strings that end inside the heap, children
** inside the file) and every symbol node ("SNOD", version 1, entries within
** capacity, names and soft-link values ending inside the heap, object
** addresses inside the file). Sound nodes do not overlap, so the bytes of
** the nodes visited may not exceed the file's size: that bounds the work on
** a tree whose nodes point at each other. Groups that pass are remembered
** per handle (by object header address). New-style groups whose links sit
** in a fractal heap (dense storage) are not checked here. */
typedef struct grp_scan {
  lp_ctx *ctx;
  const lp_h5 *h;
  const char *grp;
  int fd;
  uint64_t base, fsize;          /* base address (user block), file size in bytes */
  size_t sa, ss;                 /* bytes per address, per length */
  unsigned ik, lk;               /* group B-tree internal K, symbol node leaf K */
  unsigned char *heap;           /* the local heap's data segment */
  uint64_t hsize;
  uint64_t used;                 /* bytes of B-tree and symbol nodes visited */
} grp_scan;

static lp_status grp_corrupt(grp_scan *g, const char *fmt, ...)
#if defined(__GNUC__)
  __attribute__((format(printf, 2, 3)))
#endif
  ;
static lp_status grp_corrupt(grp_scan *g, const char *fmt, ...) {
  char text[256];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(text, sizeof text, fmt, ap);
  va_end(ap);
  return lp_ctx_error(g->ctx, LP_EFORMAT, 0, "corrupt HDF5 file '%s': group '%s' %s", g->h->path, g->grp, text);
}

static int addr_undef(const grp_scan *g, uint64_t a) {
  return g->sa >= 8 ? a == UINT64_MAX : a == ((uint64_t)1 << (8 * g->sa)) - 1;
}

/* Read n bytes at file address addr (relative to the base address), naming
   `what` when they do not lie inside the file. */
static lp_status grp_read(grp_scan *g, const char *what, uint64_t addr, uint64_t n, unsigned char *out) {
  ssize_t got;
  if (addr_undef(g, addr))
    return grp_corrupt(g, "has its %s at an undefined address", what);
  if (addr > g->fsize - g->base || n > g->fsize - g->base - addr)
    return grp_corrupt(g, "has its %s at address %llu (%llu bytes), outside the file of %llu bytes", what,
                       (unsigned long long)addr, (unsigned long long)n, (unsigned long long)g->fsize);
  got = pread(g->fd, out, (size_t)n, (off_t)(g->base + addr));
  if (got < 0 || (uint64_t)got != n)
    return lp_ctx_error(g->ctx, LP_EIO, 0, "cannot read '%s': %s", g->h->path, got < 0 ? strerror(errno) : "short read");
  return LP_OK;
}

/* The heap offset `off` must start a string that ends inside the heap. */
static int heap_str_ok(const grp_scan *g, uint64_t off) {
  return off < g->hsize && memchr(g->heap + off, '\0', (size_t)(g->hsize - off)) != NULL;
}

/* Find the symbol-table message of the object header at addr as libhdf5
   does (its first one, chunks in the order their continuation messages
   appear). *found: 1 with *btree and *heap set; 0 when there is none, or
   when a link-info message makes the group new-style. */
#define GRP_MAX_CHUNKS 256
static lp_status grp_stab_msg(grp_scan *g, uint64_t addr, int *found, uint64_t *btree, uint64_t *heap) {
  uint64_t caddr[GRP_MAX_CHUNKS], clen[GRP_MAX_CHUNKS];
  int nchunks = 1, c, v2, linfo = 0, stab = 0;
  unsigned char pre[40];                           /* a v2 prefix: at most 6 + 16 + 4 + 8 bytes */
  unsigned flags = 0;
  size_t mh;
  lp_status st;
  *found = 0;
  if ((st = grp_read(g, "object header", addr, 16, pre))) return st;
  if (memcmp(pre, "OHDR", 4) == 0) {               /* v2: messages of chunk 0, then a checksum */
    size_t p = 6, csz;
    v2 = 1;
    flags = pre[5];
    if (pre[4] != 2) return grp_corrupt(g, "has an object header of unknown version %u", pre[4]);
    if (flags & 0x20) p += 16;
    if (flags & 0x10) p += 4;
    csz = (size_t)1 << (flags & 3);
    if ((st = grp_read(g, "object header", addr, p + csz, pre))) return st;
    caddr[0] = addr + p + csz;
    clen[0] = le_n(pre + p, csz);
  } else if (pre[0] == 1) {                         /* v1: a 16-byte prefix */
    v2 = 0;
    caddr[0] = addr + 16;
    clen[0] = le_n(pre + 8, 4);
  } else {
    return grp_corrupt(g, "has an object header of unknown version %u", pre[0]);
  }
  mh = v2 ? (flags & 0x04 ? 6 : 4) : 8;             /* bytes of a message's own header */
  for (c = 0; c < nchunks; c++) {
    uint64_t len = clen[c], p = 0, end = len;
    unsigned char *b;
    if (len == 0 || len > g->fsize)
      return grp_corrupt(g, "has an object header chunk of %llu bytes", (unsigned long long)len);
    if (!(b = lp_ctx_alloc_raw(g->ctx, (size_t)len))) return LP_ENOMEM;
    if ((st = grp_read(g, "object header chunk", caddr[c], len, b))) { lp_ctx_dealloc(g->ctx, b, (size_t)len); return st; }
    if (v2 && c > 0) {                              /* "OCHK", messages, checksum */
      if (len < 8 || memcmp(b, "OCHK", 4) != 0) {
        lp_ctx_dealloc(g->ctx, b, (size_t)len);
        return grp_corrupt(g, "has an object header continuation without its signature");
      }
      p = 4;
      end = len - 4;
    }
    while (p + mh <= end) {                         /* what is left after the last message is a gap */
      unsigned type = v2 ? b[p] : (unsigned)le_n(b + p, 2), mflags = b[p + (v2 ? 3 : 4)];
      uint64_t msize = le_n(b + p + (v2 ? 1 : 2), 2);
      const unsigned char *d = b + p + mh;
      if (msize > end - p - mh) { st = grp_corrupt(g, "has an object header message running past its chunk"); break; }
      if (type == 0x02) linfo = 1;
      else if (type == 0x10) {                      /* continuation: address, length */
        if (msize < g->sa + g->ss) { st = grp_corrupt(g, "has a short object header continuation message"); break; }
        if (nchunks == GRP_MAX_CHUNKS) { st = grp_corrupt(g, "has more than %d object header chunks", GRP_MAX_CHUNKS); break; }
        caddr[nchunks] = le_n(d, g->sa);
        clen[nchunks] = le_n(d + g->sa, g->ss);
        nchunks++;
      } else if (type == 0x11 && !stab) {           /* symbol table: B-tree address, heap address */
        if ((mflags & 0x02) || msize < 2 * g->sa) { st = grp_corrupt(g, "has a malformed symbol-table message"); break; }
        *btree = le_n(d, g->sa);
        *heap = le_n(d + g->sa, g->sa);
        stab = 1;
      }
      p += mh + msize;
    }
    lp_ctx_dealloc(g->ctx, b, (size_t)len);
    if (st) return st;
  }
  *found = stab && !linfo;
  return LP_OK;
}

/* The local heap at addr: header, data segment (kept in g->heap), free list. */
static lp_status grp_heap(grp_scan *g, uint64_t addr) {
  unsigned char hdr[32];
  uint64_t daddr, fl, steps = 0;
  lp_status st;
  if ((st = grp_read(g, "local heap", addr, 8 + 2 * g->ss + g->sa, hdr))) return st;
  if (memcmp(hdr, "HEAP", 4) != 0 || hdr[4] != 0)
    return grp_corrupt(g, "has no local heap at address %llu (no \"HEAP\" signature of version 0)", (unsigned long long)addr);
  g->hsize = le_n(hdr + 8, g->ss);
  fl = le_n(hdr + 8 + g->ss, g->ss);
  daddr = le_n(hdr + 8 + 2 * g->ss, g->sa);
  if (g->hsize == 0 || g->hsize > g->fsize)
    return grp_corrupt(g, "has a local heap of %llu bytes in a file of %llu", (unsigned long long)g->hsize,
                       (unsigned long long)g->fsize);
  if (!(g->heap = lp_ctx_alloc_raw(g->ctx, (size_t)g->hsize))) return LP_ENOMEM;
  if ((st = grp_read(g, "local heap data", daddr, g->hsize, g->heap))) return st;
  while (fl != 1) {                                 /* 1 ends the free list (H5HL_FREE_NULL) */
    uint64_t next, size;
    if (fl > g->hsize || 2 * g->ss > g->hsize - fl || ++steps > g->hsize / (2 * g->ss))
      return grp_corrupt(g, "has a local heap whose free list runs outside it");
    next = le_n(g->heap + fl, g->ss);
    size = le_n(g->heap + fl + g->ss, g->ss);
    if (next == 0 || size > g->hsize - fl)
      return grp_corrupt(g, "has a local heap whose free list runs outside it");
    fl = next;
  }
  return LP_OK;
}

/* A symbol node: what H5G__node_found and H5G__node_iterate read. */
static lp_status grp_snod(grp_scan *g, uint64_t addr) {
  size_t es = g->ss + g->sa + 4 + 4 + 16, k;
  uint64_t n = 8 + 2 * (uint64_t)g->lk * es;
  unsigned nsym;
  unsigned char *b;
  lp_status st = LP_OK;
  if (n > g->fsize - g->used)
    return grp_corrupt(g, "has a symbol table reaching more nodes than the file holds (a node is reached twice)");
  g->used += n;
  if (!(b = lp_ctx_alloc_raw(g->ctx, (size_t)n))) return LP_ENOMEM;
  if ((st = grp_read(g, "symbol node", addr, n, b))) goto done;
  nsym = (unsigned)le_n(b + 6, 2);
  if (memcmp(b, "SNOD", 4) != 0 || b[4] != 1) {
    st = grp_corrupt(g, "has no symbol node at address %llu (no \"SNOD\" signature of version 1)", (unsigned long long)addr);
    goto done;
  }
  if (nsym > 2 * g->lk) {
    st = grp_corrupt(g, "has a symbol node of %u entries, more than its %u", nsym, 2 * g->lk);
    goto done;
  }
  for (k = 0; k < nsym && st == LP_OK; k++) {
    const unsigned char *e = b + 8 + k * es;
    uint64_t name = le_n(e, g->ss), obj = le_n(e + g->ss, g->sa);
    unsigned cache = (unsigned)le_n(e + g->ss + g->sa, 4);
    if (!heap_str_ok(g, name))
      st = grp_corrupt(g, "has a member name at heap offset %llu, outside its local heap of %llu bytes",
                       (unsigned long long)name, (unsigned long long)g->hsize);
    else if (cache > 2)
      st = grp_corrupt(g, "has a member of unknown cache type %u", cache);
    else if (cache == 2) {                           /* a soft link: its value sits in the heap */
      uint64_t val = le_n(e + g->ss + g->sa + 8, 4);
      if (!heap_str_ok(g, val))
        st = grp_corrupt(g, "has a soft link whose value lies outside its local heap");
    } else if (addr_undef(g, obj) || obj >= g->fsize - g->base)
      st = grp_corrupt(g, "has a member '%.64s' whose object header lies outside the file",
                       (const char *)g->heap + name);
  }
done:
  lp_ctx_dealloc(g->ctx, b, (size_t)n);
  return st;
}

/* A group B-tree node and all below it; level -1: the root, any level. */
static lp_status grp_tree(grp_scan *g, uint64_t addr, int level) {
  uint64_t n = 8 + 2 * (uint64_t)g->sa + (2 * (uint64_t)g->ik + 1) * g->ss + 2 * (uint64_t)g->ik * g->sa;
  unsigned char *b;
  unsigned used, k;
  int lv;
  lp_status st = LP_OK;
  if (n > g->fsize - g->used)
    return grp_corrupt(g, "has a symbol table reaching more nodes than the file holds (a node is reached twice)");
  g->used += n;
  if (!(b = lp_ctx_alloc_raw(g->ctx, (size_t)n))) return LP_ENOMEM;
  if ((st = grp_read(g, "symbol-table B-tree", addr, n, b))) goto done;
  lv = b[5];
  used = (unsigned)le_n(b + 6, 2);
  if (memcmp(b, "TREE", 4) != 0 || b[4] != 0) {
    st = grp_corrupt(g, "has no group B-tree node at address %llu (no \"TREE\" signature of type 0)", (unsigned long long)addr);
    goto done;
  }
  if (level >= 0 && lv != level) {
    st = grp_corrupt(g, "has a B-tree node of level %d where one of level %d belongs", lv, level);
    goto done;
  }
  if (used > 2 * g->ik) {
    st = grp_corrupt(g, "has a B-tree node of %u entries, more than its %u", used, 2 * g->ik);
    goto done;
  }
  for (k = 0; k < 2 && st == LP_OK; k++) {         /* siblings: undefined or inside the file */
    uint64_t s = le_n(b + 8 + k * g->sa, g->sa);
    if (!addr_undef(g, s) && s >= g->fsize - g->base)
      st = grp_corrupt(g, "has a B-tree sibling at address %llu, outside the file", (unsigned long long)s);
  }
  for (k = 0; used > 0 && k <= used && st == LP_OK; k++) {   /* key k, child k; a last key */
    const unsigned char *p = b + 8 + 2 * g->sa + k * (g->ss + g->sa);
    uint64_t key = le_n(p, g->ss);
    if (!heap_str_ok(g, key)) {
      st = grp_corrupt(g, "has a B-tree key at heap offset %llu, outside its local heap of %llu bytes",
                       (unsigned long long)key, (unsigned long long)g->hsize);
      break;
    }
    if (k == used) break;
    st = lv > 0 ? grp_tree(g, le_n(p + g->ss, g->sa), lv - 1) : grp_snod(g, le_n(p + g->ss, g->sa));
  }
done:
  lp_ctx_dealloc(g->ctx, b, (size_t)n);
  return st;
}

/* Check the group `grp` (every link on its path found to exist) before
   libhdf5 looks a name up in it or lists it. */
static lp_status group_check(lp_ctx *ctx, lp_h5 *h, const char *grp) {
  H5O_info_t oi;
  hid_t fcpl = -1, fapl = -1;
  hsize_t ub = 0;
  void *handle = NULL;
  struct stat sb;
  grp_scan g;
  uint64_t btree = 0, heap = 0;
  int found = 0, i;
  herr_t r;
  lp_status st = LP_OK;
  r = strcmp(grp, "/") == 0 || strcmp(grp, ".") == 0 ? H5Oget_info2(h->file, &oi, H5O_INFO_BASIC)
                                                     : H5Oget_info_by_name2(h->file, grp, &oi, H5O_INFO_BASIC, H5P_DEFAULT);
  if (r < 0 || oi.type != H5O_TYPE_GROUP) { H5Eclear2(H5E_DEFAULT); return LP_OK; }   /* libhdf5 says so itself */
  for (i = 0; i < h->ngroups; i++) if (h->groups[i] == (uint64_t)oi.addr) return LP_OK;
  memset(&g, 0, sizeof g);
  g.ctx = ctx; g.h = h; g.grp = grp;
  fcpl = H5Fget_create_plist(h->file);
  fapl = H5Fget_access_plist(h->file);
  if (fcpl < 0 || fapl < 0 || H5Pget_sizes(fcpl, &g.sa, &g.ss) < 0 || H5Pget_sym_k(fcpl, &g.ik, &g.lk) < 0 ||
      H5Pget_userblock(fcpl, &ub) < 0 || H5Pget_driver(fapl) != H5FD_SEC2 ||
      H5Fget_vfd_handle(h->file, fapl, &handle) < 0 || !handle) {
    st = h5_fail(ctx, h, "look into group", grp);
    goto done;
  }
  g.fd = *(int *)handle;
  if (g.sa < 2 || g.sa > 8 || g.ss < 2 || g.ss > 8 || g.ik == 0 || g.lk == 0) {
    st = lp_ctx_error(ctx, LP_EFORMAT, 0, "corrupt HDF5 file '%s': addresses of %zu bytes, lengths of %zu, "
                      "B-tree K %u and %u", h->path, g.sa, g.ss, g.ik, g.lk);
    goto done;
  }
  if (fstat(g.fd, &sb) != 0) { st = lp_ctx_error(ctx, LP_EIO, 0, "cannot read '%s': %s", h->path, strerror(errno)); goto done; }
  g.fsize = (uint64_t)sb.st_size;
  g.base = (uint64_t)ub;
  if (g.base > g.fsize) { st = grp_corrupt(&g, "lies in a file shorter than its user block"); goto done; }
  if ((st = grp_stab_msg(&g, (uint64_t)oi.addr, &found, &btree, &heap)) || !found) goto done;
  if ((st = grp_heap(&g, heap))) goto done;
  st = grp_tree(&g, btree, -1);
done:
  if (g.heap) lp_ctx_dealloc(ctx, g.heap, (size_t)g.hsize);
  if (fapl >= 0) H5Pclose(fapl);
  if (fcpl >= 0) H5Pclose(fcpl);
  H5Eclear2(H5E_DEFAULT);
  if (st == LP_OK && h->ngroups < H5_GROUPS_MAX) h->groups[h->ngroups++] = (uint64_t)oi.addr;
  return st;
}

/* ---- objects ------------------------------------------------------------ */
/* Open name as an object: LP_OK with *o = -1 (stack cleared) when it does
   not exist; an error when a group on the way is corrupt (group_check runs
   on each group before libhdf5 looks the next name up in it). */
static lp_status obj_open(lp_ctx *ctx, lp_h5 *h, const char *name, hid_t *o) {
  lp_status st;
  *o = -1;
  if (strcmp(name, "/") != 0 && strcmp(name, ".") != 0) {
    /* every link on the way must exist, or H5Oopen complains */
    char buf[1024];
    size_t i, n = strlen(name), parent = 0;     /* buf[0..parent) holds the group looked into */
    if (n >= sizeof buf) return LP_OK;
    memcpy(buf, name, n + 1);
    for (i = 1; i <= n; i++) {
      if (buf[i] == '/' || buf[i] == '\0') {
        char c = buf[i];
        htri_t ex;
        if (!(i == 1 && buf[0] == '/')) {
          char pc = buf[parent];
          buf[parent] = '\0';
          st = group_check(ctx, h, parent == 0 ? "/" : buf);
          buf[parent] = pc;
          if (st) return st;
        }
        buf[i] = '\0';
        ex = (i == 1 && buf[0] == '/') ? 1 : H5Lexists(h->file, buf, H5P_DEFAULT);
        buf[i] = c;
        if (ex <= 0) { H5Eclear2(H5E_DEFAULT); return LP_OK; }
        parent = i;
      }
    }
  }
  *o = H5Oopen(h->file, name, H5P_DEFAULT);
  if (*o < 0) H5Eclear2(H5E_DEFAULT);
  return LP_OK;
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
  memset(out, 0, sizeof *out);
  quiet_on(&q);
  if ((st = obj_open(ctx, h, name, &o))) { quiet_off(&q); return st; }
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
  if ((st = obj_open(ctx, h, group, &o))) { quiet_off(&q); return st; }
  if (o < 0 || H5Iget_type(o) != H5I_GROUP) {
    if (o >= 0) H5Oclose(o);
    quiet_off(&q);
    return lp_ctx_error(ctx, LP_EARG, 0, "'%s': no group '%s'", h->path, group);
  }
  if ((st = group_check(ctx, h, group))) { H5Oclose(o); quiet_off(&q); return st; }
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
  if ((st = obj_open(ctx, h, obj, &o))) { quiet_off(&q); return st; }
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
  if ((st = obj_open(ctx, h, name, &o))) { quiet_off(&q); return st; }
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
  if ((st = obj_open(ctx, h, obj, &o))) { quiet_off(&q); return st; }
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
