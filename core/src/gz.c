/*
** core/src/gz.c -- byte-level readers for the data sets: plain files, gzip
** (zlib, every member, output capped by the ctx's size cap), IDX (the
** MNIST / Fashion-MNIST container), N-MNIST's 5-byte event records, and
** folder listings. Not here: HDF5 (h5.c), the data-set classes
** (stdlib/limpet/data/), .npy/.npz (npy.c, npz.c).
** Formats: gzip = RFC 1952 (magic 1f 8b; concatenated members allowed;
** ISIZE, the last 4 bytes, is only a size hint). IDX = magic 00 00 TT NN
** (TT the element type, NN the number of dims), NN big-endian uint32 dims,
** then row-major big-endian data. N-MNIST: see limpet/data.h.
** Messages: "'path' at offset N: ..." with N a byte offset in the file as
** stored (for gzip, in the compressed file).
*/
#include <dirent.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <zlib.h>

#include "tensor_impl.h"
#include "limpet/data.h"
#include "io_impl.h"

#define GZ_CHUNK (256 * 1024)
#define GZ_MIN_CAP (64 * 1024)
#define GZ_MAX_RATIO 8        /* ISIZE is believed up to 8x the compressed size */

#define at_error lp_file_error_   /* "'path' at offset N: ..." (below) */

/* Open path for reading; a folder is refused like a missing file. */
static lp_status open_read(lp_ctx *ctx, const char *path, FILE **fp, uint64_t *size) {
  struct stat sb;
  *fp = fopen(path, "rb");
  if (!*fp) return lp_ctx_error(ctx, LP_EIO, 0, "cannot open '%s': %s", path, strerror(errno));
  if (fstat(fileno(*fp), &sb) != 0 || S_ISDIR(sb.st_mode)) {
    int e = S_ISDIR(sb.st_mode) ? EISDIR : errno;
    fclose(*fp);
    *fp = NULL;
    return lp_ctx_error(ctx, LP_EIO, 0, "cannot open '%s': %s", path, strerror(e));
  }
  *size = (uint64_t)sb.st_size;
  return LP_OK;
}

lp_status lp_file_read(lp_ctx *ctx, const char *path, lp_tensor **out) {
  FILE *fp;
  uint64_t size;
  int64_t n;
  lp_tensor *t = NULL;
  size_t got;
  lp_status st;
  *out = NULL;
  if ((st = open_read(ctx, path, &fp, &size))) return st;
  n = (int64_t)size;
  if ((st = lp_tensor_empty(ctx, LP_U8, 1, &n, &t))) { fclose(fp); return st; }
  got = size ? fread(lp_tensor_data(t), 1, (size_t)size, fp) : 0;
  if (got != size || ferror(fp)) {
    int e = errno;
    fclose(fp);
    lp_tensor_release(t);
    return lp_ctx_error(ctx, LP_EIO, 0, "cannot read '%s': %s", path, strerror(e ? e : EIO));
  }
  fclose(fp);
  *out = t;
  return LP_OK;
}

/* ---- gzip --------------------------------------------------------------- */
/* zlib's own allocations go through the ctx, so they are accounted and the
   test allocator can fail them. A size word sits in front of each block.
   Declared in io_impl.h. */
#define ZHDR 16
voidpf lp_zalloc_(voidpf opaque, uInt items, uInt size) {
  size_t n = (size_t)items * size + ZHDR;
  char *p = lp_ctx_alloc_raw(opaque, n);
  if (!p) return Z_NULL;
  memcpy(p, &n, sizeof n);
  return p + ZHDR;
}
void lp_zfree_(voidpf opaque, voidpf ptr) {
  size_t n;
  char *p;
  if (!ptr) return;
  p = (char *)ptr - ZHDR;
  memcpy(&n, p, sizeof n);
  lp_ctx_dealloc(opaque, p, n);
}

lp_status lp_file_error_(lp_ctx *ctx, const char *path, uint64_t off, const char *fmt, ...) {
  char msg[LP_ERRMSG_MAX];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  return lp_ctx_error(ctx, LP_EFORMAT, 0, "'%s' at offset %llu: %s", path,
                      (unsigned long long)off, msg);
}



/* Where inflated bytes go: a growing uint8 tensor, or a file. */
typedef struct gz_sink {
  lp_tensor *buf;        /* memory: capacity = numel */
  int64_t len;
  FILE *fp;              /* file */
  const char *dst;
  unsigned char *chunk;  /* file: staging */
} gz_sink;

/* Make room for at least one more byte in the memory sink. */
static lp_status sink_grow(lp_ctx *ctx, const char *path, gz_sink *s) {
  int64_t cap = lp_tensor_numel(s->buf), ncap;
  int64_t max = (int64_t)(lp_ctx_max_bytes(ctx) > (size_t)INT64_MAX ? INT64_MAX : lp_ctx_max_bytes(ctx));
  lp_tensor *nb = NULL;
  lp_status st;
  if (cap >= max)
    return lp_ctx_error(ctx, LP_ESIZE, 0, "'%s': decompressed size exceeds the cap of %lld bytes",
                        path, (long long)max);
  ncap = cap > max / 2 ? max : 2 * cap;
  if ((st = lp_tensor_empty(ctx, LP_U8, 1, &ncap, &nb))) return st;
  memcpy(lp_tensor_data(nb), lp_tensor_data(s->buf), (size_t)s->len);
  lp_tensor_release(s->buf);
  s->buf = nb;
  return LP_OK;
}

/* Inflate every member of path into the sink. */
static lp_status gz_run(lp_ctx *ctx, const char *path, gz_sink *s) {
  FILE *fp;
  uint64_t size, consumed = 0;
  unsigned char *in = NULL;
  z_stream z;
  int zinit = 0, ended = 0, out_full = 0, zr;
  lp_status st;
  if ((st = open_read(ctx, path, &fp, &size))) return st;
  if (size < 2) { fclose(fp); return at_error(ctx, path, size, "not a gzip file (%s)", size ? "1 byte" : "empty"); }
  {
    unsigned char magic[2];
    if (fread(magic, 1, 2, fp) != 2 || magic[0] != 0x1f || magic[1] != 0x8b) {
      fclose(fp);
      return at_error(ctx, path, 0, "not a gzip file (bad magic)");
    }
    rewind(fp);
  }
  if (!s->fp && s->buf == NULL) {        /* memory sink: first capacity from ISIZE */
    int64_t cap = GZ_MIN_CAP;
    if (size >= 18) {
      /* ISIZE is only a hint, and a corrupt file's is anything: it is
         believed up to GZ_MAX_RATIO times the compressed size, so a short
         file never reserves much before inflate finds it corrupt; beyond
         that the buffer grows as data arrive (sink_grow, bounded by the cap) */
      unsigned char tail[4];
      if (fseek(fp, -4, SEEK_END) == 0 && fread(tail, 1, 4, fp) == 4) {
        uint32_t isize = (uint32_t)tail[0] | (uint32_t)tail[1] << 8 | (uint32_t)tail[2] << 16 |
                         (uint32_t)tail[3] << 24;
        int64_t hint = (int64_t)isize + 1;     /* +1: the end shows without a grow */
        int64_t bound = (int64_t)size * GZ_MAX_RATIO;
        if (hint > bound) hint = bound;
        if (hint > cap) cap = hint;
      }
      rewind(fp);
    }
    if ((size_t)cap > lp_ctx_max_bytes(ctx)) cap = (int64_t)lp_ctx_max_bytes(ctx);
    if (cap < 1) cap = 1;
    if ((st = lp_tensor_empty(ctx, LP_U8, 1, &cap, &s->buf))) { fclose(fp); return st; }
  }
  in = lp_ctx_alloc_raw(ctx, GZ_CHUNK);
  if (!in) { st = LP_ENOMEM; goto done; }
  memset(&z, 0, sizeof z);
  z.zalloc = lp_zalloc_; z.zfree = lp_zfree_; z.opaque = ctx;
  zr = inflateInit2(&z, 15 + 16);
  if (zr != Z_OK) { st = zr == Z_MEM_ERROR ? LP_ENOMEM : lp_ctx_error(ctx, LP_EIO, 0, "zlib: %s", z.msg ? z.msg : "init failed"); goto done; }
  zinit = 1;
  for (;;) {
    size_t got;
    if ((st = lp_ctx_check_interrupt(ctx))) goto done;
    if (z.avail_in == 0 && !out_full) {
      got = fread(in, 1, GZ_CHUNK, fp);
      if (got == 0) {
        if (ferror(fp)) { st = lp_ctx_error(ctx, LP_EIO, 0, "cannot read '%s': %s", path, strerror(errno)); goto done; }
        break;                                   /* end of file */
      }
      if (ended) {                               /* bytes after a finished member */
        if (got >= 2 && in[0] == 0x1f && in[1] == 0x8b) { inflateReset(&z); ended = 0; }
        else if (got < 2 && in[0] == 0x1f) {
          st = at_error(ctx, path, consumed, "truncated gzip member header"); goto done;
        } else {
          size_t k;
          for (k = 0; k < got && in[k] == 0; k++) {}
          if (k < got) { st = at_error(ctx, path, consumed + k, "not a gzip member after the end of the previous one"); goto done; }
          consumed += got;                       /* zero padding, as gzip(1) allows */
          continue;
        }
      }
      z.next_in = in;
      z.avail_in = (uInt)got;
    } else if (ended) {
      if (z.avail_in >= 2 && z.next_in[0] == 0x1f && z.next_in[1] == 0x8b) { inflateReset(&z); ended = 0; }
      else {
        size_t k;
        for (k = 0; k < z.avail_in && z.next_in[k] == 0; k++) {}
        if (k < z.avail_in) {
          st = at_error(ctx, path, consumed, "not a gzip member after the end of the previous one");
          goto done;
        }
        consumed += z.avail_in;
        z.avail_in = 0;
        continue;
      }
    }
    /* inflate into the sink */
    {
      unsigned char *dst;
      size_t room;
      uInt before_in = z.avail_in;
      if (s->fp) { dst = s->chunk; room = GZ_CHUNK; }
      else {
        if (s->len == lp_tensor_numel(s->buf) && (st = sink_grow(ctx, path, s))) goto done;
        dst = (unsigned char *)lp_tensor_data(s->buf) + s->len;
        room = (size_t)(lp_tensor_numel(s->buf) - s->len);
        if (room > (1u << 30)) room = 1u << 30;
      }
      z.next_out = dst;
      z.avail_out = (uInt)room;
      zr = inflate(&z, Z_NO_FLUSH);
      consumed += before_in - z.avail_in;
      if (zr == Z_MEM_ERROR) { st = LP_ENOMEM; goto done; }
      if (zr == Z_DATA_ERROR || zr == Z_NEED_DICT) {
        st = at_error(ctx, path, consumed, "corrupt gzip data (%s)", z.msg ? z.msg : "bad data");
        goto done;
      }
      {
        size_t made = room - z.avail_out;
        if (s->fp) {
          if (made && fwrite(dst, 1, made, s->fp) != made) {
            st = lp_ctx_error(ctx, LP_EIO, 0, "cannot write '%s': %s", s->dst, strerror(errno));
            goto done;
          }
        } else s->len += (int64_t)made;
      }
      out_full = z.avail_out == 0;
      if (zr == Z_STREAM_END) { ended = 1; out_full = 0; }
    }
  }
  if (!ended) { st = at_error(ctx, path, consumed, "truncated gzip data (unexpected end of file)"); goto done; }
  st = LP_OK;
done:
  if (zinit) inflateEnd(&z);
  if (in) lp_ctx_dealloc(ctx, in, GZ_CHUNK);
  fclose(fp);
  return st;
}

lp_status lp_gz_read(lp_ctx *ctx, const char *path, lp_tensor **out) {
  gz_sink s;
  lp_status st;
  *out = NULL;
  memset(&s, 0, sizeof s);
  st = gz_run(ctx, path, &s);
  if (st) { lp_tensor_release(s.buf); return st; }
  if (s.len == lp_tensor_numel(s.buf)) { *out = s.buf; return LP_OK; }
  /* shrink: a copy of exactly the bytes made */
  {
    lp_tensor *t = NULL;
    int64_t n = s.len;
    st = lp_tensor_empty(ctx, LP_U8, 1, &n, &t);
    if (st) { lp_tensor_release(s.buf); return st; }
    if (n) memcpy(lp_tensor_data(t), lp_tensor_data(s.buf), (size_t)n);
    lp_tensor_release(s.buf);
    *out = t;
  }
  return LP_OK;
}

lp_status lp_gz_decompress_file(lp_ctx *ctx, const char *src, const char *dst) {
  gz_sink s;
  lp_status st;
  memset(&s, 0, sizeof s);
  s.dst = dst;
  s.chunk = lp_ctx_alloc_raw(ctx, GZ_CHUNK);
  if (!s.chunk) return LP_ENOMEM;
  s.fp = fopen(dst, "wb");
  if (!s.fp) {
    lp_ctx_dealloc(ctx, s.chunk, GZ_CHUNK);
    return lp_ctx_error(ctx, LP_EIO, 0, "cannot open '%s' for writing: %s", dst, strerror(errno));
  }
  s.buf = NULL;
  /* gz_run makes a memory buffer when buf is NULL and fp is not set; fp is set */
  st = gz_run(ctx, src, &s);
  if (fclose(s.fp) != 0 && st == LP_OK)
    st = lp_ctx_error(ctx, LP_EIO, 0, "cannot write '%s': %s", dst, strerror(errno));
  lp_ctx_dealloc(ctx, s.chunk, GZ_CHUNK);
  return st;
}

/* ---- IDX ---------------------------------------------------------------- */
static uint32_t be32(const unsigned char *p) {
  return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | (uint32_t)p[3];
}

lp_status lp_idx_decode(lp_ctx *ctx, lp_tensor *bytes, const char *label, lp_tensor **out) {
  const unsigned char *b;
  int64_t len, shape[LP_MAXDIM], numel = 1, k;
  int nd, d;
  lp_dtype dt;
  size_t es;
  uint64_t hdr, need;
  lp_status st;
  *out = NULL;
  if (lp_tensor_dtype(bytes) != LP_U8 || lp_tensor_ndim(bytes) != 1 || !lp_tensor_is_contiguous(bytes))
    return lp_ctx_error(ctx, LP_EARG, 1, "expected a contiguous 1-d uint8 tensor");
  b = lp_tensor_data(bytes);
  len = lp_tensor_numel(bytes);
  if (len < 4) return at_error(ctx, label, (uint64_t)len, "truncated IDX header (%lld bytes)", (long long)len);
  if (b[0] != 0 || b[1] != 0)
    return at_error(ctx, label, 0, "not an IDX file (magic %02x %02x %02x %02x)", b[0], b[1], b[2], b[3]);
  switch (b[2]) {
  case 0x08: dt = LP_U8; es = 1; break;
  case 0x09: dt = LP_I8; es = 1; break;
  case 0x0B: dt = LP_I16; es = 2; break;
  case 0x0C: dt = LP_I32; es = 4; break;
  case 0x0D: dt = LP_F32; es = 4; break;
  case 0x0E: dt = LP_F64; es = 8; break;
  default: return at_error(ctx, label, 2, "unknown IDX element type 0x%02x", b[2]);
  }
  nd = b[3];
  if (nd < 1 || nd > LP_MAXDIM) return at_error(ctx, label, 3, "IDX with %d dims (1 to %d supported)", nd, LP_MAXDIM);
  hdr = 4 + 4 * (uint64_t)nd;
  if ((uint64_t)len < hdr) return at_error(ctx, label, (uint64_t)len, "truncated IDX header (%lld bytes, %llu needed)",
                                           (long long)len, (unsigned long long)hdr);
  for (d = 0; d < nd; d++) {
    shape[d] = be32(b + 4 + 4 * d);
    if (!lp_shape_span_ok(d + 1, shape))     /* zero sizes too: strides multiply them all */
      return at_error(ctx, label, 4 + 4 * (uint64_t)d, "IDX dims too large");
    numel *= shape[d];
  }
  need = hdr + (uint64_t)numel * es;
  if ((uint64_t)len < need)
    return at_error(ctx, label, (uint64_t)len, "truncated IDX data (%llu bytes expected, file ends after %lld)",
                    (unsigned long long)need, (long long)len);
  if ((uint64_t)len > need)
    return at_error(ctx, label, need, "%llu unexpected bytes after the IDX data",
                    (unsigned long long)((uint64_t)len - need));
  if (dt == LP_U8) {                           /* a view of the bytes */
    lp_tensor *v = NULL;
    if ((st = lp_tensor_slice(ctx, bytes, 0, (int64_t)hdr, len, 1, &v))) return st;
    st = lp_tensor_view(ctx, v, nd, shape, out);
    lp_tensor_release(v);
    return st;
  }
  if ((st = lp_tensor_empty(ctx, dt, nd, shape, out))) return st;
  {
    unsigned char *o = lp_tensor_data(*out);
    const unsigned char *src = b + hdr;
    for (k = 0; k < numel; k++) {             /* big endian to host */
      size_t j;
      for (j = 0; j < es; j++) {
        const uint16_t one = 1;
        int le = *(const unsigned char *)&one == 1;
        o[k * (int64_t)es + (int64_t)j] = le ? src[k * (int64_t)es + (int64_t)(es - 1 - j)] : src[k * (int64_t)es + (int64_t)j];
      }
    }
  }
  return LP_OK;
}

static int ends_with(const char *s, const char *suffix) {
  size_t n = strlen(s), m = strlen(suffix);
  return n >= m && strcmp(s + n - m, suffix) == 0;
}

lp_status lp_idx_read(lp_ctx *ctx, const char *path, lp_tensor **out) {
  lp_tensor *bytes = NULL;
  lp_status st;
  *out = NULL;
  st = ends_with(path, ".gz") ? lp_gz_read(ctx, path, &bytes) : lp_file_read(ctx, path, &bytes);
  if (st) return st;
  st = lp_idx_decode(ctx, bytes, path, out);
  lp_tensor_release(bytes);
  return st;
}

/* ---- N-MNIST ------------------------------------------------------------ */
lp_status lp_nmnist_decode(lp_ctx *ctx, const void *buf, size_t len, const char *label,
                           int max_x, int max_y, lp_tensor **t, lp_tensor **x,
                           lp_tensor **y, lp_tensor **p) {
  const unsigned char *b = buf;
  size_t nrec = len / 5, k;
  int64_t n = 0, i = 0;
  uint64_t overflow = 0;
  lp_status st;
  double *tv;
  int16_t *xv, *yv;
  int8_t *pv;
  *t = *x = *y = *p = NULL;
  if (len % 5)
    return at_error(ctx, label, (uint64_t)nrec * 5, "truncated event record (%zu of 5 bytes)", len % 5);
  for (k = 0; k < nrec; k++) {
    const unsigned char *r = b + 5 * k;
    if (r[1] == 240) continue;
    if ((max_x > 0 && r[0] >= max_x) || (max_y > 0 && r[1] >= max_y))
      return at_error(ctx, label, 5 * (uint64_t)k, "event (x %d, y %d) outside the %dx%d sensor",
                      r[0], r[1], max_x, max_y);
    n++;
  }
  if ((st = lp_tensor_empty(ctx, LP_F64, 1, &n, t)) || (st = lp_tensor_empty(ctx, LP_I16, 1, &n, x)) ||
      (st = lp_tensor_empty(ctx, LP_I16, 1, &n, y)) || (st = lp_tensor_empty(ctx, LP_I8, 1, &n, p))) {
    lp_tensor_release(*t); lp_tensor_release(*x); lp_tensor_release(*y); lp_tensor_release(*p);
    *t = *x = *y = *p = NULL;
    return st;
  }
  tv = lp_tensor_data(*t); xv = lp_tensor_data(*x); yv = lp_tensor_data(*y); pv = lp_tensor_data(*p);
  for (k = 0; k < nrec; k++) {
    const unsigned char *r = b + 5 * k;
    uint32_t ts;
    if (r[1] == 240) { overflow += 8192; continue; }
    ts = (uint32_t)(r[2] & 0x7f) << 16 | (uint32_t)r[3] << 8 | r[4];
    tv[i] = (double)(ts + overflow) / 1e6;   /* division: the double nearest the true time */
    xv[i] = (int16_t)(r[0] + 1);
    yv[i] = (int16_t)(r[1] + 1);
    pv[i] = (int8_t)((r[2] >> 7) + 1);
    i++;
  }
  return LP_OK;
}

/* ---- folders ------------------------------------------------------------ */
static int by_str(const void *a, const void *b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}

void lp_names_free(int64_t n, char **names) {
  int64_t i;
  if (!names) return;
  for (i = 0; i < n; i++) free(names[i]);
  free(names);
}

lp_status lp_dir_list(lp_ctx *ctx, const char *path, int64_t *n, char ***names) {
  DIR *d = opendir(path);
  struct dirent *e;
  int64_t cap = 0, k = 0;
  char **v = NULL;
  *n = 0; *names = NULL;
  if (!d) return lp_ctx_error(ctx, LP_EIO, 0, "cannot open '%s': %s", path, strerror(errno));
  while ((e = readdir(d))) {
    if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) continue;
    if (k == cap) {
      int64_t nc = cap ? 2 * cap : 64;
      char **nv = realloc(v, (size_t)nc * sizeof *nv);
      if (!nv) goto oom;
      v = nv; cap = nc;
    }
    v[k] = strdup(e->d_name);
    if (!v[k]) goto oom;
    k++;
  }
  closedir(d);
  if (k) qsort(v, (size_t)k, sizeof *v, by_str);
  *n = k; *names = v;
  return LP_OK;
oom:
  closedir(d);
  lp_names_free(k, v);
  return lp_ctx_error(ctx, LP_ENOMEM, 0, "out of memory listing '%s'", path);
}
