/*
** core/src/npz.c -- NumPy .npz files: a zip reader and writer on zlib.
** Owns: the zip container (end of central directory, zip64 end record and
** extra fields on read, central directory, local headers, CRC-32), entries
** stored (method 0, np.savez) or deflated (method 8, np.savez_compressed)
** as raw deflate streams, and naming (entry "w.npy" is array "w").
** Not here: the .npy image inside each entry (npy.c), Lua (lua/l_io.c).
** Zip facts: little-endian fields; signatures PK\3\4 (local header),
** PK\1\2 (central entry), PK\5\6 (end record), PK\6\6 / PK\6\7 (zip64
** end record / locator). Writing assumes entries and offsets below 4 GiB.
*/
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <zlib.h>

#include "tensor_impl.h"
#include "io_impl.h"

#define SIG_LOCAL   0x04034b50u
#define SIG_CENTRAL 0x02014b50u
#define SIG_EOCD    0x06054b50u
#define SIG_EOCD64  0x06064b50u
#define SIG_LOC64   0x07064b50u
#define ZIP_CHUNK   (64 * 1024)
#define U32_MAX_    0xFFFFFFFFu

static uint16_t rd16(const unsigned char *p) { return (uint16_t)(p[0] | p[1] << 8); }
static uint32_t rd32(const unsigned char *p) {
  return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}
static uint64_t rd64(const unsigned char *p) { return (uint64_t)rd32(p) | (uint64_t)rd32(p + 4) << 32; }
static void wr16(unsigned char *p, unsigned v) { p[0] = (unsigned char)v; p[1] = (unsigned char)(v >> 8); }
static void wr32(unsigned char *p, uint32_t v) { wr16(p, v & 0xFFFF); wr16(p + 2, v >> 16); }

static uint32_t crc_update(uint32_t crc, const void *p, size_t n) {
  const unsigned char *b = p;
  while (n > 0) {
    uInt k = n > (1u << 30) ? (1u << 30) : (uInt)n;
    crc = (uint32_t)crc32(crc, b, k);
    b += k; n -= k;
  }
  return crc;
}

/* zlib's own allocations go through the ctx, so they are accounted and the
   test allocator can fail them. A size word sits in front of each block.
   Shared with gz.c through io_impl.h. */
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
#define zip_error lp_file_error_

static lp_status read_error(lp_ctx *ctx, const char *path) {
  return lp_ctx_error(ctx, LP_EIO, 0, "cannot read '%s': %s", path, strerror(errno));
}

/* Read n bytes at off; *got < n at the end of the file. */
static lp_status read_at(lp_ctx *ctx, FILE *fp, const char *path, uint64_t off, void *dst,
                         size_t n, size_t *got) {
  if (fseeko(fp, (off_t)off, SEEK_SET) != 0) return read_error(ctx, path);
  *got = fread(dst, 1, n, fp);
  if (*got < n && ferror(fp)) return read_error(ctx, path);
  return LP_OK;
}

/* ---- reading: entry sources --------------------------------------------- */
typedef struct zsrc {
  lp_ctx *ctx;
  FILE *fp;
  const char *path, *name;
  uint64_t cleft;            /* compressed bytes not yet read from the file */
  uint64_t dstart;           /* file offset of the entry's data */
  uint64_t total;            /* uncompressed bytes handed out */
  uint32_t crc;
  int deflated, zinit, ended;
  z_stream z;
  unsigned char *in;         /* ZIP_CHUNK bytes, deflated entries only */
} zsrc;

static lp_status stored_read(void *ud, void *dst, size_t n, size_t *got) {
  zsrc *s = ud;
  size_t k = s->cleft < n ? (size_t)s->cleft : n;
  *got = k ? fread(dst, 1, k, s->fp) : 0;
  if (*got < k && ferror(s->fp)) return read_error(s->ctx, s->path);
  s->cleft -= *got;
  s->total += *got;
  s->crc = crc_update(s->crc, dst, *got);
  return LP_OK;
}

static lp_status inflate_read(void *ud, void *dst, size_t n, size_t *got) {
  zsrc *s = ud;
  unsigned char *out = dst;
  size_t done = 0;
  while (done < n && !s->ended) {
    int rc;
    size_t want = n - done > (1u << 30) ? (1u << 30) : n - done;
    if (s->z.avail_in == 0 && s->cleft > 0) {
      size_t k = s->cleft < ZIP_CHUNK ? (size_t)s->cleft : ZIP_CHUNK, r;
      r = fread(s->in, 1, k, s->fp);
      if (r < k && ferror(s->fp)) return read_error(s->ctx, s->path);
      s->cleft -= r;
      if (r == 0) s->cleft = 0;
      s->z.next_in = s->in;
      s->z.avail_in = (uInt)r;
    }
    s->z.next_out = out + done;
    s->z.avail_out = (uInt)want;
    rc = inflate(&s->z, Z_NO_FLUSH);
    done += want - s->z.avail_out;
    if (rc == Z_STREAM_END) { s->ended = 1; break; }
    if (rc == Z_MEM_ERROR) return LP_ENOMEM;
    if (rc == Z_BUF_ERROR && s->z.avail_in == 0 && s->cleft == 0) break;   /* input ran out */
    if (rc != Z_OK && rc != Z_BUF_ERROR)
      return zip_error(s->ctx, s->path, s->dstart + (s->z.total_in ? s->z.total_in - 1 : 0),
                       "corrupt deflate data in entry '%s' (%s)", s->name,
                       s->z.msg ? s->z.msg : "inflate failed");
  }
  *got = done;
  s->total += done;
  s->crc = crc_update(s->crc, out, done);
  return LP_OK;
}

/* ---- reading: the archive ----------------------------------------------- */
typedef struct zentry {
  uint64_t lho, csize, usize, cdpos;
  uint32_t crc;
  int method, flags;
  char *name;                /* malloc'd, the full entry name */
} zentry;

/* Locate and parse the central directory into entries (allocated through ctx). */
static lp_status read_directory(lp_ctx *ctx, FILE *fp, const char *path, uint64_t fsize,
                                zentry **out, uint64_t *nout) {
  unsigned char *buf = NULL, *cd = NULL, rec[56];
  size_t tail, got, i;
  uint64_t eocd = 0, nent = 0, cdsize = 0, cdoff, limit, k, p;
  int found = 0;
  zentry *es = NULL;
  lp_status st = LP_OK;
  *out = NULL; *nout = 0;

  tail = fsize < 22 + 0xFFFF ? (size_t)fsize : 22 + 0xFFFF;
  if (tail < 22)
    return zip_error(ctx, path, fsize, "no end of central directory record "
                                       "(truncated, or not a zip archive)");
  if (!(buf = lp_ctx_alloc_raw(ctx, tail))) return LP_ENOMEM;
  if ((st = read_at(ctx, fp, path, fsize - tail, buf, tail, &got))) goto done;
  for (i = tail - 22 + 1; i-- > 0;)
    if (rd32(buf + i) == SIG_EOCD && i + 22 + rd16(buf + i + 20) <= tail) { found = 1; break; }
  if (!found || got < tail) {
    st = zip_error(ctx, path, fsize, "no end of central directory record "
                                     "(truncated, or not a zip archive)");
    goto done;
  }
  eocd = fsize - tail + i;
  nent = rd16(buf + i + 10);
  cdsize = rd32(buf + i + 12);
  cdoff = rd32(buf + i + 16);
  limit = eocd;
  if (nent == 0xFFFF || cdsize == U32_MAX_ || cdoff == U32_MAX_) {
    uint64_t z64;
    if (eocd < 20 || (st = read_at(ctx, fp, path, eocd - 20, rec, 20, &got))) {
      if (!st) st = zip_error(ctx, path, eocd, "zip64 end of central directory locator missing");
      goto done;
    }
    if (rd32(rec) != SIG_LOC64) {
      st = zip_error(ctx, path, eocd - 20, "zip64 end of central directory locator missing");
      goto done;
    }
    z64 = rd64(rec + 8);
    if (z64 > eocd - 20 || (st = read_at(ctx, fp, path, z64, rec, 56, &got)) || got < 56 ||
        rd32(rec) != SIG_EOCD64) {
      if (!st) st = zip_error(ctx, path, z64, "bad zip64 end of central directory record");
      goto done;
    }
    nent = rd64(rec + 32);
    cdsize = rd64(rec + 40);
    cdoff = rd64(rec + 48);
    limit = z64;
  }
  if (cdoff > limit || cdsize > limit - cdoff) {
    st = zip_error(ctx, path, eocd, "central directory (offset %llu, %llu bytes) lies outside "
                   "the file", (unsigned long long)cdoff, (unsigned long long)cdsize);
    goto done;
  }
  if (nent > cdsize / 46) {
    st = zip_error(ctx, path, eocd, "%llu entries cannot fit in a central directory of %llu bytes",
                   (unsigned long long)nent, (unsigned long long)cdsize);
    goto done;
  }
  if (nent == 0) goto done;
  if (!(cd = lp_ctx_alloc_raw(ctx, (size_t)cdsize)) ||
      !(es = lp_ctx_alloc(ctx, (size_t)nent * sizeof *es))) {
    st = LP_ENOMEM;
    goto done;
  }
  if ((st = read_at(ctx, fp, path, cdoff, cd, (size_t)cdsize, &got))) goto done;
  for (k = 0, p = 0; k < nent; k++) {
    zentry *e = &es[k];
    unsigned nlen, elen, clen;
    uint64_t q, qend;
    if (p + 46 > cdsize || rd32(cd + p) != SIG_CENTRAL) {
      st = zip_error(ctx, path, cdoff + p, "bad central directory entry signature");
      goto done;
    }
    e->flags = rd16(cd + p + 8);
    e->method = rd16(cd + p + 10);
    e->crc = rd32(cd + p + 16);
    e->csize = rd32(cd + p + 20);
    e->usize = rd32(cd + p + 24);
    nlen = rd16(cd + p + 28);
    elen = rd16(cd + p + 30);
    clen = rd16(cd + p + 32);
    e->lho = rd32(cd + p + 42);
    e->cdpos = cdoff + p;
    if (p + 46 + nlen + elen + clen > cdsize) {
      st = zip_error(ctx, path, cdoff + p, "central directory entry runs past the directory");
      goto done;
    }
    if (!(e->name = malloc(nlen + 1))) {
      st = lp_ctx_error(ctx, LP_ENOMEM, 0, "not enough memory for %u bytes", nlen + 1);
      goto done;
    }
    memcpy(e->name, cd + p + 46, nlen);
    e->name[nlen] = '\0';
    for (q = p + 46 + nlen, qend = q + elen; q + 4 <= qend;) {   /* extra fields */
      unsigned id = rd16(cd + q), sz = rd16(cd + q + 2);
      uint64_t r = q + 4, rend = q + 4 + sz;
      if (rend > qend) break;
      if (id == 0x0001) {
        uint64_t *fields[3];
        int f;
        fields[0] = e->usize == U32_MAX_ ? &e->usize : NULL;
        fields[1] = e->csize == U32_MAX_ ? &e->csize : NULL;
        fields[2] = e->lho == U32_MAX_ ? &e->lho : NULL;
        for (f = 0; f < 3; f++) {
          if (!fields[f]) continue;
          if (r + 8 > rend) {
            st = zip_error(ctx, path, cdoff + q, "zip64 extra field too short in entry '%s'",
                           e->name);
            goto done;
          }
          *fields[f] = rd64(cd + r);
          r += 8;
        }
      }
      q = rend;
    }
    if (e->flags & 1) {
      st = zip_error(ctx, path, cdoff + p, "entry '%s' is encrypted", e->name);
      goto done;
    }
    if (e->method != 0 && e->method != 8) {
      st = zip_error(ctx, path, cdoff + p, "entry '%s' uses compression method %d "
                     "(only stored and deflated are read)", e->name, e->method);
      goto done;
    }
    p += 46 + nlen + elen + clen;
  }
done:
  if (buf) lp_ctx_dealloc(ctx, buf, tail);
  if (cd) lp_ctx_dealloc(ctx, cd, (size_t)cdsize);
  if (st) {
    if (es) {
      for (k = 0; k < nent; k++) free(es[k].name);
      lp_ctx_dealloc(ctx, es, (size_t)nent * sizeof *es);
    }
    return st;
  }
  *out = es;
  *nout = nent;
  return LP_OK;
}

/* Decode entry e of the archive into a tensor. */
static lp_status read_entry(lp_ctx *ctx, FILE *fp, const char *path, uint64_t fsize,
                            const zentry *e, lp_tensor **out) {
  unsigned char lh[30];
  char label[LP_ERRMSG_MAX / 2];
  size_t got;
  uint64_t dstart;
  zsrc s;
  lp_io_src src;
  lp_status st;
  *out = NULL;
  if ((st = read_at(ctx, fp, path, e->lho, lh, 30, &got))) return st;
  if (got < 30 || rd32(lh) != SIG_LOCAL)
    return zip_error(ctx, path, e->lho, "bad local header signature for entry '%s'", e->name);
  dstart = e->lho + 30 + rd16(lh + 26) + rd16(lh + 28);
  if (dstart > fsize || e->csize > fsize - dstart)
    return zip_error(ctx, path, e->lho, "entry '%s' is truncated (%llu bytes of data announced, "
                     "%llu present)", e->name, (unsigned long long)e->csize,
                     (unsigned long long)(dstart > fsize ? 0 : fsize - dstart));
  if (e->method == 0 && e->csize != e->usize)
    return zip_error(ctx, path, e->cdpos, "stored entry '%s' has compressed size %llu but size %llu",
                     e->name, (unsigned long long)e->csize, (unsigned long long)e->usize);
  if (fseeko(fp, (off_t)dstart, SEEK_SET) != 0) return read_error(ctx, path);

  memset(&s, 0, sizeof s);
  s.ctx = ctx; s.fp = fp; s.path = path; s.name = e->name;
  s.cleft = e->csize; s.dstart = dstart; s.crc = (uint32_t)crc32(0L, Z_NULL, 0);
  s.deflated = e->method == 8;
  if (s.deflated) {
    int rc;
    if (!(s.in = lp_ctx_alloc_raw(ctx, ZIP_CHUNK))) return LP_ENOMEM;
    s.z.zalloc = lp_zalloc_; s.z.zfree = lp_zfree_; s.z.opaque = ctx;
    rc = inflateInit2(&s.z, -MAX_WBITS);
    if (rc != Z_OK) {
      lp_ctx_dealloc(ctx, s.in, ZIP_CHUNK);
      return rc == Z_MEM_ERROR ? LP_ENOMEM : lp_ctx_error(ctx, LP_EIO, 0, "zlib: inflateInit failed");
    }
    s.zinit = 1;
  }
  src.read = s.deflated ? inflate_read : stored_read;
  src.ud = &s;
  src.size = e->usize;
  snprintf(label, sizeof label, "'%s' entry '%s'", path, e->name);
  st = lp_npy_read_src(ctx, label, &src, out);
  if (!st && s.deflated && !s.ended)
    st = zip_error(ctx, path, dstart + e->csize, "deflate stream of entry '%s' is truncated", e->name);
  if (!st && s.total != e->usize)
    st = zip_error(ctx, path, e->cdpos, "entry '%s' holds %llu bytes, the directory says %llu",
                   e->name, (unsigned long long)s.total, (unsigned long long)e->usize);
#ifdef FUZZING_BUILD_MODE_UNSAFE_FOR_PRODUCTION   /* fuzzers mutate past the CRCs (spec/fuzz) */
  s.crc = e->crc;
#endif
  if (!st && s.crc != e->crc)
    st = zip_error(ctx, path, e->lho, "CRC mismatch in entry '%s' (stored %08x, computed %08x)",
                   e->name, (unsigned)e->crc, (unsigned)s.crc);
  if (s.zinit) inflateEnd(&s.z);
  if (s.in) lp_ctx_dealloc(ctx, s.in, ZIP_CHUNK);
  if (st) { lp_tensor_release(*out); *out = NULL; }
  return st;
}

void lp_npz_free(int n, char **names, lp_tensor **ts) {
  int i;
  for (i = 0; i < n; i++) {
    if (names) free(names[i]);
    if (ts) lp_tensor_release(ts[i]);
  }
  free(names);
  free(ts);
}

lp_status lp_npz_read(lp_ctx *ctx, const char *path, int *n, char ***names, lp_tensor ***ts) {
  FILE *fp;
  struct stat sb;
  zentry *es = NULL;
  uint64_t nent = 0, k;
  char **nm = NULL;
  lp_tensor **tv = NULL;
  lp_status st = LP_OK;
  *n = 0; *names = NULL; *ts = NULL;
  memset(&sb, 0, sizeof sb);
  if (!(fp = fopen(path, "rb")))
    return lp_ctx_error(ctx, LP_EIO, 0, "cannot open '%s': %s", path, strerror(errno));
  if (fstat(fileno(fp), &sb) != 0 || !S_ISREG(sb.st_mode)) {
    int e = S_ISDIR(sb.st_mode) ? EISDIR : EINVAL;
    fclose(fp);
    return lp_ctx_error(ctx, LP_EIO, 0, "cannot open '%s': %s", path, strerror(e));
  }
  if ((st = read_directory(ctx, fp, path, (uint64_t)sb.st_size, &es, &nent))) goto done;
  if (nent > 0x7FFFFFFF) {
    st = lp_ctx_error(ctx, LP_ESIZE, 0, "'%s': too many entries", path);
    goto done;
  }
  nm = calloc(nent ? (size_t)nent : 1, sizeof *nm);
  tv = calloc(nent ? (size_t)nent : 1, sizeof *tv);
  if (!nm || !tv) {
    st = lp_ctx_error(ctx, LP_ENOMEM, 0, "not enough memory for %llu entries",
                      (unsigned long long)nent);
    goto done;
  }
  for (k = 0; k < nent; k++) {
    size_t len = strlen(es[k].name);
    if ((st = read_entry(ctx, fp, path, (uint64_t)sb.st_size, &es[k], &tv[k]))) goto done;
    if (len >= 4 && strcmp(es[k].name + len - 4, ".npy") == 0) es[k].name[len - 4] = '\0';
    nm[k] = es[k].name;            /* moves ownership */
    es[k].name = NULL;
  }
done:
  fclose(fp);
  if (es) {
    for (k = 0; k < nent; k++) free(es[k].name);
    lp_ctx_dealloc(ctx, es, (size_t)nent * sizeof *es);
  }
  if (st) {
    lp_npz_free((int)nent, nm, tv);
    return st;
  }
  *n = (int)nent; *names = nm; *ts = tv;
  return LP_OK;
}

/* ---- writing ------------------------------------------------------------ */
typedef struct zsink {
  lp_ctx *ctx;
  FILE *fp;
  const char *path;
  uint32_t crc;
  uint64_t usize, csize;
  int deflated;
  z_stream z;
  unsigned char *out;        /* ZIP_CHUNK bytes, deflated entries only */
} zsink;

static lp_status write_error(lp_ctx *ctx, const char *path) {
  return lp_ctx_error(ctx, LP_EIO, 0, "cannot write '%s': %s", path, strerror(errno));
}

static lp_status put(zsink *s, const void *p, size_t n) {
  if (n && fwrite(p, 1, n, s->fp) != n) return write_error(s->ctx, s->path);
  s->csize += n;
  return LP_OK;
}

/* Run deflate over what is in z.next_in with flush, writing full buffers. */
static lp_status pump(zsink *s, int flush) {
  for (;;) {
    int rc;
    s->z.next_out = s->out;
    s->z.avail_out = ZIP_CHUNK;
    rc = deflate(&s->z, flush);
    if (rc == Z_STREAM_ERROR) return lp_ctx_error(s->ctx, LP_EIO, 0, "zlib: deflate failed");
    {
      lp_status st = put(s, s->out, ZIP_CHUNK - s->z.avail_out);
      if (st) return st;
    }
    if (flush == Z_FINISH ? rc == Z_STREAM_END : (s->z.avail_in == 0 && s->z.avail_out != 0))
      return LP_OK;
  }
}

static lp_status sink_write(void *ud, const void *src, size_t n) {
  zsink *s = ud;
  const unsigned char *b = src;
  s->crc = crc_update(s->crc, src, n);
  s->usize += n;
  if (!s->deflated) return put(s, src, n);
  while (n > 0) {
    uInt k = n > (1u << 30) ? (1u << 30) : (uInt)n;
    lp_status st;
    s->z.next_in = (Bytef *)(uintptr_t)b;
    s->z.avail_in = k;
    if ((st = pump(s, Z_NO_FLUSH))) return st;
    b += k; n -= k;
  }
  return LP_OK;
}

typedef struct zout {          /* what the central directory needs */
  uint64_t lho, csize, usize;
  uint32_t crc;
  unsigned flags;
} zout;

static unsigned name_flags(const char *name) {
  const unsigned char *p;
  for (p = (const unsigned char *)name; *p; p++)
    if (*p >= 0x80) return 1u << 11;           /* UTF-8 name */
  return 0;
}

/* One entry: local header with zero crc/sizes, data, then patch crc/sizes. */
static lp_status write_entry(lp_ctx *ctx, FILE *fp, const char *path, const char *name,
                             const lp_tensor *t, int compress, unsigned dtime, unsigned ddate,
                             zout *o) {
  unsigned char lh[30];
  size_t nlen = strlen(name);
  off_t pos;
  zsink s;
  lp_status st;
  memset(&s, 0, sizeof s);
  s.ctx = ctx; s.fp = fp; s.path = path; s.deflated = compress;
  s.crc = (uint32_t)crc32(0L, Z_NULL, 0);
  if ((pos = ftello(fp)) < 0) return write_error(ctx, path);
  o->lho = (uint64_t)pos;
  o->flags = name_flags(name);
  if (o->lho >= U32_MAX_ || lp_npy_image_size(t) >= U32_MAX_)
    return lp_ctx_error(ctx, LP_ESIZE, 0, "'%s': entry '%s.npy' does not fit in a zip archive "
                        "without zip64 (4 GiB)", path, name);
  memset(lh, 0, sizeof lh);
  wr32(lh, SIG_LOCAL);
  wr16(lh + 4, 20);
  wr16(lh + 6, o->flags);
  wr16(lh + 8, compress ? 8 : 0);
  wr16(lh + 10, dtime);
  wr16(lh + 12, ddate);
  wr16(lh + 26, (unsigned)(nlen + 4));
  if (fwrite(lh, 1, 30, fp) != 30 || fwrite(name, 1, nlen, fp) != nlen ||
      fwrite(".npy", 1, 4, fp) != 4)
    return write_error(ctx, path);
  if (compress) {
    int rc;
    if (!(s.out = lp_ctx_alloc_raw(ctx, ZIP_CHUNK))) return LP_ENOMEM;
    s.z.zalloc = lp_zalloc_; s.z.zfree = lp_zfree_; s.z.opaque = ctx;
    rc = deflateInit2(&s.z, Z_DEFAULT_COMPRESSION, Z_DEFLATED, -MAX_WBITS, 8, Z_DEFAULT_STRATEGY);
    if (rc != Z_OK) {
      lp_ctx_dealloc(ctx, s.out, ZIP_CHUNK);
      return rc == Z_MEM_ERROR ? LP_ENOMEM : lp_ctx_error(ctx, LP_EIO, 0, "zlib: deflateInit failed");
    }
  }
  st = lp_npy_write_sink(ctx, t, sink_write, &s);
  if (!st && compress) {
    s.z.next_in = Z_NULL;
    s.z.avail_in = 0;
    st = pump(&s, Z_FINISH);
  }
  if (compress) {
    deflateEnd(&s.z);
    lp_ctx_dealloc(ctx, s.out, ZIP_CHUNK);
  }
  if (st) return st;
  if (s.csize >= U32_MAX_)
    return lp_ctx_error(ctx, LP_ESIZE, 0, "'%s': entry '%s.npy' does not fit in a zip archive "
                        "without zip64 (4 GiB)", path, name);
  o->crc = s.crc; o->csize = s.csize; o->usize = s.usize;
  wr32(lh + 14, o->crc);
  wr32(lh + 18, (uint32_t)o->csize);
  wr32(lh + 22, (uint32_t)o->usize);
  if (fseeko(fp, (off_t)(o->lho + 14), SEEK_SET) != 0 || fwrite(lh + 14, 1, 12, fp) != 12 ||
      fseeko(fp, 0, SEEK_END) != 0)
    return write_error(ctx, path);
  return LP_OK;
}

lp_status lp_npz_write(lp_ctx *ctx, const char *path, int n, const char *const *names,
                       lp_tensor *const *ts, int compress) {
  lp_io_tmp tmp;
  zout *o = NULL;
  unsigned dtime, ddate;
  uint64_t cdstart = 0, cdsize;
  unsigned char rec[46];
  lp_status st = LP_OK;
  int i, j;
  if (n < 0 || n > 0xFFFF)
    return lp_ctx_error(ctx, LP_EARG, 0, "'%s': %d arrays, a zip archive holds 0 to 65535", path, n);
  for (i = 0; i < n; i++) {
    if (!names || !names[i] || !ts || !ts[i])
      return lp_ctx_error(ctx, LP_EARG, 0, "'%s': array %d has no name or no tensor", path, i + 1);
    if (strlen(names[i]) > 0xFFFF - 4)
      return lp_ctx_error(ctx, LP_EARG, 0, "'%s': array name %d is too long", path, i + 1);
    for (j = 0; j < i; j++)
      if (strcmp(names[i], names[j]) == 0)
        return lp_ctx_error(ctx, LP_EARG, 0, "'%s': duplicate array name '%s'", path, names[i]);
  }
  {
    time_t now = time(NULL);
    struct tm tmv;
    if (localtime_r(&now, &tmv) && tmv.tm_year >= 80) {
      dtime = (unsigned)(tmv.tm_hour << 11 | tmv.tm_min << 5 | tmv.tm_sec / 2);
      ddate = (unsigned)((tmv.tm_year - 80) << 9 | (tmv.tm_mon + 1) << 5 | tmv.tm_mday);
    } else {
      dtime = 0; ddate = 1 << 5 | 1;             /* 1980-01-01 */
    }
  }
  if (n > 0 && !(o = lp_ctx_alloc(ctx, (size_t)n * sizeof *o))) return LP_ENOMEM;
  if ((st = lp_io_tmp_open(ctx, path, &tmp))) goto done;
  for (i = 0; i < n && !st; i++)
    st = write_entry(ctx, tmp.fp, path, names[i], ts[i], compress, dtime, ddate, &o[i]);
  if (!st) {
    off_t pos = ftello(tmp.fp);
    if (pos < 0) st = write_error(ctx, path);
    cdstart = (uint64_t)pos;
  }
  for (i = 0; i < n && !st; i++) {
    size_t nlen = strlen(names[i]);
    memset(rec, 0, sizeof rec);
    wr32(rec, SIG_CENTRAL);
    wr16(rec + 4, 3 << 8 | 20);                  /* made by: Unix, zip 2.0 */
    wr16(rec + 6, 20);
    wr16(rec + 8, o[i].flags);
    wr16(rec + 10, compress ? 8 : 0);
    wr16(rec + 12, dtime);
    wr16(rec + 14, ddate);
    wr32(rec + 16, o[i].crc);
    wr32(rec + 20, (uint32_t)o[i].csize);
    wr32(rec + 24, (uint32_t)o[i].usize);
    wr16(rec + 28, (unsigned)(nlen + 4));
    wr32(rec + 38, (uint32_t)0100644 << 16);     /* regular file, rw-r--r-- */
    wr32(rec + 42, (uint32_t)o[i].lho);
    if (fwrite(rec, 1, 46, tmp.fp) != 46 || fwrite(names[i], 1, nlen, tmp.fp) != nlen ||
        fwrite(".npy", 1, 4, tmp.fp) != 4)
      st = write_error(ctx, path);
  }
  if (!st) {
    off_t pos = ftello(tmp.fp);
    if (pos < 0) st = write_error(ctx, path);
    cdsize = (uint64_t)pos - cdstart;
    if (!st && (uint64_t)pos >= U32_MAX_)
      st = lp_ctx_error(ctx, LP_ESIZE, 0, "'%s' does not fit in a zip archive without zip64 "
                        "(4 GiB)", path);
    if (!st) {
      memset(rec, 0, 22);
      wr32(rec, SIG_EOCD);
      wr16(rec + 8, (unsigned)n);
      wr16(rec + 10, (unsigned)n);
      wr32(rec + 12, (uint32_t)cdsize);
      wr32(rec + 16, (uint32_t)cdstart);
      if (fwrite(rec, 1, 22, tmp.fp) != 22) st = write_error(ctx, path);
    }
  }
  if (st) lp_io_tmp_abort(ctx, &tmp);
  else st = lp_io_tmp_commit(ctx, path, &tmp);
done:
  if (o) lp_ctx_dealloc(ctx, o, (size_t)n * sizeof *o);
  return st;
}
