/*
** core/src/png.c -- PNG encoder and decoder over zlib (see limpet/png.h).
** Owns: the chunk layout (signature, IHDR, PLTE, tRNS, IDAT, IEND, CRCs),
** scanline filtering (the encoder writes filter 0 rows; the decoder undoes
** all five filters), sample depth and palette expansion, atomic writes.
** Scratch buffers come from the ctx allocator and are freed on every path.
*/
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <zlib.h>

#include "limpet/png.h"
#include "io_impl.h"

static const unsigned char png_sig[8] = { 137, 80, 78, 71, 13, 10, 26, 10 };

static void put32(unsigned char *p, uint32_t v) {
  p[0] = (unsigned char)(v >> 24); p[1] = (unsigned char)(v >> 16);
  p[2] = (unsigned char)(v >> 8);  p[3] = (unsigned char)v;
}
static uint32_t get32(const unsigned char *p) {
  return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | (uint32_t)p[3];
}

/* ---- encoder ------------------------------------------------------------ */

/* Append one chunk at out + *pos (room checked by the caller's sizing). */
static void put_chunk(unsigned char *out, size_t *pos, const char *type,
                      const unsigned char *data, uint32_t len) {
  unsigned char *p = out + *pos;
  uLong crc;
  put32(p, len);
  memcpy(p + 4, type, 4);
  if (len) memmove(p + 8, data, len);
  crc = crc32(0L, p + 4, 4 + len);
  put32(p + 8 + len, (uint32_t)crc);
  *pos += 12 + (size_t)len;
}

lp_status lp_png_encode(lp_ctx *ctx, lp_tensor *img, unsigned char **out_buf, size_t *out_len) {
  const int64_t *shape;
  int64_t h, w, c, y;
  size_t rowlen, rawlen, bound, total, pos;
  unsigned char *raw = NULL, *out = NULL, ihdr[13];
  const unsigned char *src;
  lp_tensor *ct = NULL;
  lp_status st;
  uLongf zlen;
  int zr;
  *out_buf = NULL; *out_len = 0;
  if (lp_tensor_dtype(img) != LP_U8)
    return lp_ctx_error(ctx, LP_ETYPE, 2, "expected a uint8 image, got %s",
                        lp_dtype_name(lp_tensor_dtype(img)));
  shape = lp_tensor_shape(img);
  if (lp_tensor_ndim(img) != 3 || shape[2] < 1 || shape[2] > 4 || shape[0] < 1 || shape[1] < 1) {
    char buf[96];
    lp_shape_str(lp_tensor_ndim(img), shape, buf, sizeof buf);
    return lp_ctx_error(ctx, LP_ESHAPE, 2, "expected shape (H, W, C) with C in 1..4, got %s", buf);
  }
  h = shape[0]; w = shape[1]; c = shape[2];
  if (h > 0x7fffffff || w > 0x7fffffff || (uint64_t)w * (uint64_t)c + 1 > (uint64_t)SIZE_MAX / (uint64_t)h)
    return lp_ctx_error(ctx, LP_ESIZE, 2, "image too large for PNG");
  if ((st = lp_tensor_contiguous(ctx, img, &ct)) != LP_OK) return st;
  rowlen = (size_t)(w * c);
  rawlen = (size_t)h * (rowlen + 1);
  raw = lp_ctx_alloc_raw(ctx, rawlen);
  if (!raw) { lp_tensor_release(ct); return LP_ENOMEM; }
  src = lp_tensor_data(ct);
  for (y = 0; y < h; y++) {
    raw[(size_t)y * (rowlen + 1)] = 0;                       /* filter: none */
    memcpy(raw + (size_t)y * (rowlen + 1) + 1, src + (size_t)y * rowlen, rowlen);
  }
  lp_tensor_release(ct);
  bound = compressBound((uLong)rawlen);
  total = 8 + (12 + 13) + (12 + bound) + 12;
  out = lp_ctx_alloc_raw(ctx, total);
  if (!out) { lp_ctx_dealloc(ctx, raw, rawlen); return LP_ENOMEM; }
  memcpy(out, png_sig, 8);
  pos = 8;
  put32(ihdr, (uint32_t)w); put32(ihdr + 4, (uint32_t)h);
  ihdr[8] = 8;                                               /* bit depth */
  ihdr[9] = (unsigned char)(c == 1 ? 0 : c == 2 ? 4 : c == 3 ? 2 : 6);
  ihdr[10] = ihdr[11] = ihdr[12] = 0;
  put_chunk(out, &pos, "IHDR", ihdr, 13);
  zlen = (uLongf)bound;
  zr = compress2(out + pos + 8, &zlen, raw, (uLong)rawlen, 6);
  lp_ctx_dealloc(ctx, raw, rawlen);
  if (zr != Z_OK || zlen > 0x7fffffffUL) {
    lp_ctx_dealloc(ctx, out, total);
    return zr == Z_MEM_ERROR ? lp_ctx_error(ctx, LP_ENOMEM, 0, "out of memory compressing a PNG")
                             : lp_ctx_error(ctx, LP_ESIZE, 0, "PNG data too large");
  }
  put_chunk(out, &pos, "IDAT", out + pos + 8, (uint32_t)zlen);
  put_chunk(out, &pos, "IEND", NULL, 0);
  /* hand back an exactly sized buffer, so the caller's dealloc size is right */
  *out_buf = lp_ctx_alloc_raw(ctx, pos);
  if (!*out_buf) { lp_ctx_dealloc(ctx, out, total); return LP_ENOMEM; }
  memcpy(*out_buf, out, pos);
  lp_ctx_dealloc(ctx, out, total);
  *out_len = pos;
  return LP_OK;
}

lp_status lp_png_write(lp_ctx *ctx, const char *path, lp_tensor *img) {
  unsigned char *buf;
  size_t len;
  lp_io_tmp tmp;
  lp_status st = lp_png_encode(ctx, img, &buf, &len);
  if (st != LP_OK) return st;
  if ((st = lp_io_tmp_open(ctx, path, &tmp)) != LP_OK) { lp_ctx_dealloc(ctx, buf, len); return st; }
  if (fwrite(buf, 1, len, tmp.fp) != len) {
    int e = errno;
    lp_io_tmp_abort(ctx, &tmp);
    lp_ctx_dealloc(ctx, buf, len);
    return lp_ctx_error(ctx, LP_EIO, 0, "cannot write '%s': %s", path, strerror(e));
  }
  lp_ctx_dealloc(ctx, buf, len);
  return lp_io_tmp_commit(ctx, path, &tmp);
}

/* ---- decoder ------------------------------------------------------------ */

typedef struct png_dec {
  lp_ctx *ctx;
  const char *what;
  uint32_t w, h;
  int depth, ctype, nsamp;          /* samples per pixel in the file */
  unsigned char pal[256][4];
  int npal, has_trns;
} png_dec;

static lp_status bad(png_dec *d, size_t off, const char *msg) {
  return lp_ctx_error(d->ctx, LP_EFORMAT, 0, "'%s' at offset %zu: %s", d->what, off, msg);
}

static int paeth(int a, int b, int c) {
  int p = a + b - c, pa = abs(p - a), pb = abs(p - b), pc = abs(p - c);
  return pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
}

/* Undo the filters of h rows of `stride` bytes (each preceded by its filter
   byte) in place. Returns the row of a bad filter type, or -1. */
static int64_t unfilter(unsigned char *raw, uint32_t h, size_t stride, size_t bpp) {
  uint32_t y;
  size_t i;
  for (y = 0; y < h; y++) {
    unsigned char *row = raw + (size_t)y * (stride + 1);
    unsigned char *cur = row + 1;
    const unsigned char *prev = y ? raw + (size_t)(y - 1) * (stride + 1) + 1 : NULL;
    switch (row[0]) {
      case 0: break;
      case 1: for (i = bpp; i < stride; i++) cur[i] = (unsigned char)(cur[i] + cur[i - bpp]); break;
      case 2: if (prev) for (i = 0; i < stride; i++) cur[i] = (unsigned char)(cur[i] + prev[i]); break;
      case 3:
        for (i = 0; i < stride; i++) {
          int a = i >= bpp ? cur[i - bpp] : 0, b = prev ? prev[i] : 0;
          cur[i] = (unsigned char)(cur[i] + ((a + b) >> 1));
        }
        break;
      case 4:
        for (i = 0; i < stride; i++) {
          int a = i >= bpp ? cur[i - bpp] : 0, b = prev ? prev[i] : 0;
          int c = (prev && i >= bpp) ? prev[i - bpp] : 0;
          cur[i] = (unsigned char)(cur[i] + paeth(a, b, c));
        }
        break;
      default: return (int64_t)y;
    }
  }
  return -1;
}

/* Sample k (0-based) of a row holding `depth`-bit samples. */
static unsigned sample_at(const unsigned char *row, size_t k, int depth) {
  if (depth == 8) return row[k];
  if (depth == 16) return row[2 * k];                      /* high byte */
  {
    size_t bit = k * (size_t)depth;
    unsigned byte = row[bit >> 3];
    unsigned shift = 8u - (unsigned)depth - (unsigned)(bit & 7);
    return (byte >> shift) & ((1u << depth) - 1u);
  }
}

lp_status lp_png_decode(lp_ctx *ctx, const unsigned char *buf, size_t len, const char *what,
                        lp_tensor **out) {
  png_dec d;
  size_t pos = 8, first_idat = 0, stride = 0, rawlen = 0, bpp;
  unsigned char *raw = NULL;
  int seen_ihdr = 0, seen_iend = 0, idat_state = 0;   /* 0 none yet, 1 in, 2 after */
  z_stream zs;
  int zinit = 0, zdone = 0;
  lp_status st = LP_OK;
  lp_tensor *img = NULL;
  *out = NULL;
  memset(&d, 0, sizeof d);
  d.ctx = ctx; d.what = what ? what : "buffer";
  if (len < 8 || memcmp(buf, png_sig, 8) != 0) return bad(&d, 0, "not a PNG file (bad signature)");
  memset(&zs, 0, sizeof zs);
  while (!seen_iend) {
    uint32_t clen;
    const unsigned char *type, *data;
    if (pos == len) { st = bad(&d, pos, "missing IEND chunk"); goto done; }
    if (len - pos < 12) { st = bad(&d, pos, "truncated chunk header"); goto done; }
    clen = get32(buf + pos);
    type = buf + pos + 4;
    if (clen > 0x7fffffffu) { st = bad(&d, pos, "chunk length out of range"); goto done; }
    if ((size_t)clen > len - pos - 12) { st = bad(&d, pos, "truncated chunk"); goto done; }
    data = buf + pos + 8;
#ifndef FUZZING_BUILD_MODE_UNSAFE_FOR_PRODUCTION   /* fuzzers mutate past the CRCs (spec/fuzz) */
    if ((uint32_t)crc32(0L, type, 4 + clen) != get32(data + clen)) {
      char msg[64];
      snprintf(msg, sizeof msg, "CRC mismatch in chunk '%c%c%c%c'",
               type[0] & 0x7f, type[1] & 0x7f, type[2] & 0x7f, type[3] & 0x7f);
      st = bad(&d, pos + 8 + clen, msg); goto done;
    }
#endif
    if (!seen_ihdr && memcmp(type, "IHDR", 4) != 0) { st = bad(&d, pos, "first chunk is not IHDR"); goto done; }
    if (memcmp(type, "IHDR", 4) == 0) {
      static const int ok[7] = { 0x1f /*1,2,4,8,16*/, 0, 0x18, 0x0f, 0x18, 0, 0x18 };
      int dbit;
      if (seen_ihdr) { st = bad(&d, pos, "second IHDR chunk"); goto done; }
      if (clen != 13) { st = bad(&d, pos, "IHDR length is not 13"); goto done; }
      d.w = get32(data); d.h = get32(data + 4);
      d.depth = data[8]; d.ctype = data[9];
      if (d.w == 0 || d.h == 0 || d.w > 0x7fffffffu || d.h > 0x7fffffffu) { st = bad(&d, pos + 8, "bad image size"); goto done; }
      dbit = d.depth == 1 ? 1 : d.depth == 2 ? 2 : d.depth == 4 ? 4 : d.depth == 8 ? 8 : d.depth == 16 ? 16 : 0;
      if (d.ctype > 6 || !dbit || !(ok[d.ctype] & (dbit == 16 ? 0x10 : dbit == 8 ? 0x08 : dbit == 4 ? 0x04 : dbit == 2 ? 0x02 : 0x01)))
        { st = bad(&d, pos + 16, "unsupported bit depth / colour type"); goto done; }
      if (data[10] != 0 || data[11] != 0) { st = bad(&d, pos + 18, "unknown compression or filter method"); goto done; }
      if (data[12] != 0) { st = bad(&d, pos + 20, "interlaced PNGs are not supported"); goto done; }
      d.nsamp = d.ctype == 0 ? 1 : d.ctype == 2 ? 3 : d.ctype == 3 ? 1 : d.ctype == 4 ? 2 : 4;
      {
        uint64_t bits = (uint64_t)d.w * (uint64_t)d.nsamp * (uint64_t)d.depth;
        int64_t shp[3];
        size_t nb;
        shp[0] = d.h; shp[1] = d.w; shp[2] = d.ctype == 3 ? 4 : d.nsamp;
        if ((st = lp_tensor_check_size(ctx, LP_U8, 3, shp, &nb)) != LP_OK) goto done;
        stride = (size_t)((bits + 7) / 8);
        if (stride + 1 > SIZE_MAX / d.h) { st = lp_ctx_error(ctx, LP_ESIZE, 0, "'%s': image too large", d.what); goto done; }
        rawlen = (size_t)d.h * (stride + 1);
        if ((st = lp_tensor_check_size(ctx, LP_U8, 1, (int64_t[]){ (int64_t)rawlen }, &nb)) != LP_OK) goto done;
      }
      seen_ihdr = 1;
    } else if (memcmp(type, "PLTE", 4) == 0) {
      uint32_t i;
      if (clen % 3 || clen / 3 > 256 || clen == 0) { st = bad(&d, pos, "bad PLTE length"); goto done; }
      d.npal = (int)(clen / 3);
      for (i = 0; i < clen / 3; i++) {
        d.pal[i][0] = data[3 * i]; d.pal[i][1] = data[3 * i + 1]; d.pal[i][2] = data[3 * i + 2];
        d.pal[i][3] = 255;
      }
    } else if (memcmp(type, "tRNS", 4) == 0) {
      if (d.ctype == 3) {
        uint32_t i;
        if (clen > 256) { st = bad(&d, pos, "bad tRNS length"); goto done; }
        for (i = 0; i < clen; i++) d.pal[i][3] = data[i];
        d.has_trns = 1;
      }
    } else if (memcmp(type, "IDAT", 4) == 0) {
      if (idat_state == 2) { st = bad(&d, pos, "IDAT chunks are not consecutive"); goto done; }
      if (d.ctype == 3 && d.npal == 0) { st = bad(&d, pos, "palette image without PLTE"); goto done; }
      if (idat_state == 0) {
        first_idat = pos;
        raw = lp_ctx_alloc_raw(ctx, rawlen);
        if (!raw) { st = LP_ENOMEM; goto done; }
        if (inflateInit(&zs) != Z_OK) { st = lp_ctx_error(ctx, LP_ENOMEM, 0, "out of memory inflating '%s'", d.what); goto done; }
        zinit = 1;
        if (rawlen > 0xffffffffu) { st = lp_ctx_error(ctx, LP_ESIZE, 0, "'%s': image too large", d.what); goto done; }
        zs.next_out = raw; zs.avail_out = (uInt)rawlen;
        idat_state = 1;
      }
      if (!zdone && clen) {
        int zr;
        zs.next_in = (unsigned char *)(uintptr_t)data; zs.avail_in = clen;
        zr = inflate(&zs, Z_NO_FLUSH);
        if (zr == Z_STREAM_END) zdone = 1;
        else if (zr == Z_BUF_ERROR && zs.avail_out == 0) { st = bad(&d, pos + 8 + (clen - zs.avail_in), "too much image data"); goto done; }
        else if (zr != Z_OK && zr != Z_BUF_ERROR) {
          char msg[128];
          snprintf(msg, sizeof msg, "corrupt image data (zlib: %s)", zs.msg ? zs.msg : "error");
          st = bad(&d, pos + 8 + (clen - zs.avail_in), msg); goto done;
        }
        if (zdone && zs.avail_out != 0) { st = bad(&d, pos + 8, "image data too short"); goto done; }
      }
    } else if (memcmp(type, "IEND", 4) == 0) {
      seen_iend = 1;
    } else if (!(type[0] & 0x20)) {
      st = bad(&d, pos, "unknown critical chunk"); goto done;
    }
    if (idat_state == 1 && memcmp(type, "IDAT", 4) != 0) idat_state = 2;
    pos += 12 + (size_t)clen;
  }
  if (idat_state == 0) { st = bad(&d, pos, "no IDAT chunk"); goto done; }
  if (!zdone) { st = bad(&d, first_idat, "image data truncated"); goto done; }
  bpp = (size_t)d.nsamp * (size_t)d.depth / 8;
  if (bpp == 0) bpp = 1;
  {
    int64_t badrow = unfilter(raw, d.h, stride, bpp);
    if (badrow >= 0) {
      char msg[80];
      snprintf(msg, sizeof msg, "bad filter type %d in row %lld", raw[(size_t)badrow * (stride + 1)], (long long)badrow);
      st = bad(&d, first_idat, msg); goto done;
    }
  }
  {
    int oc = d.ctype == 3 ? (d.has_trns ? 4 : 3) : d.nsamp;
    int64_t shp[3];
    unsigned char *o;
    uint32_t y, x;
    int k;
    unsigned maxv = (1u << (d.depth == 16 ? 8 : d.depth)) - 1u;
    shp[0] = d.h; shp[1] = d.w; shp[2] = oc;
    if ((st = lp_tensor_empty(ctx, LP_U8, 3, shp, &img)) != LP_OK) goto done;
    o = lp_tensor_data(img);
    for (y = 0; y < d.h; y++) {
      const unsigned char *row = raw + (size_t)y * (stride + 1) + 1;
      for (x = 0; x < d.w; x++) {
        if (d.ctype == 3) {
          unsigned idx = sample_at(row, x, d.depth);
          if ((int)idx >= d.npal) {
            lp_tensor_release(img); img = NULL;
            st = bad(&d, first_idat, "palette index out of range"); goto done;
          }
          for (k = 0; k < oc; k++) *o++ = d.pal[idx][k];
        } else {
          for (k = 0; k < d.nsamp; k++) {
            unsigned v = sample_at(row, (size_t)x * (size_t)d.nsamp + (size_t)k, d.depth);
            if (d.depth < 8) v = v * 255u / maxv;
            *o++ = (unsigned char)v;
          }
        }
      }
    }
  }
done:
  if (zinit) inflateEnd(&zs);
  if (raw) lp_ctx_dealloc(ctx, raw, rawlen);
  if (st == LP_OK) *out = img;
  return st;
}

lp_status lp_png_read(lp_ctx *ctx, const char *path, lp_tensor **out) {
  FILE *fp;
  struct stat sb;
  unsigned char *buf;
  size_t len, got;
  lp_status st;
  *out = NULL;
  fp = fopen(path, "rb");
  if (!fp) return lp_ctx_error(ctx, LP_EIO, 0, "cannot open '%s': %s", path, strerror(errno));
  if (fstat(fileno(fp), &sb) != 0 || !S_ISREG(sb.st_mode)) {
    int e = S_ISDIR(sb.st_mode) ? EISDIR : errno;
    fclose(fp);
    return lp_ctx_error(ctx, LP_EIO, 0, "cannot open '%s': %s", path, strerror(e));
  }
  len = (size_t)sb.st_size;
  if ((st = lp_tensor_check_size(ctx, LP_U8, 1, (int64_t[]){ (int64_t)len }, &got)) != LP_OK) { fclose(fp); return st; }
  buf = lp_ctx_alloc_raw(ctx, len ? len : 1);
  if (!buf) { fclose(fp); return LP_ENOMEM; }
  got = len ? fread(buf, 1, len, fp) : 0;
  if (got < len && ferror(fp)) {
    int e = errno;
    fclose(fp);
    lp_ctx_dealloc(ctx, buf, len ? len : 1);
    return lp_ctx_error(ctx, LP_EIO, 0, "cannot read '%s': %s", path, strerror(e));
  }
  fclose(fp);
  st = lp_png_decode(ctx, buf, got, path, out);
  lp_ctx_dealloc(ctx, buf, len ? len : 1);
  return st;
}
