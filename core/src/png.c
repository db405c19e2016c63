/*
** core/src/png.c -- PNG files through libpng (see limpet/png.h).
** Owns: the tensor <-> libpng "simplified API" glue (png_image: it keeps
** libpng's setjmp error handling inside libpng, so nothing here jumps),
** size checks before any allocation, and atomic writes. libpng does the
** format: every colour type and bit depth, filters, palettes, interlacing,
** CRCs (checked here too, see check_chunks). Reading converts to 8-bit samples the way libpng's simplified API
** does (16-bit data are taken as linear and encoded to 8-bit sRGB;
** palettes expand to RGB or RGBA).
*/
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <png.h>
#include <zlib.h>

#include "limpet/png.h"
#include "io_impl.h"

static int format_of(int64_t c) {
  return c == 1 ? PNG_FORMAT_GRAY : c == 2 ? PNG_FORMAT_GA : c == 3 ? PNG_FORMAT_RGB : PNG_FORMAT_RGBA;
}

lp_status lp_png_encode(lp_ctx *ctx, lp_tensor *img, unsigned char **out_buf, size_t *out_len) {
  *out_buf = NULL; *out_len = 0;
  if (lp_tensor_dtype(img) != LP_U8)
    return lp_ctx_error(ctx, LP_ETYPE, 2, "expected a uint8 image, got %s",
                        lp_dtype_name(lp_tensor_dtype(img)));
  const int64_t *shape = lp_tensor_shape(img);
  if (lp_tensor_ndim(img) != 3 || shape[2] < 1 || shape[2] > 4 || shape[0] < 1 || shape[1] < 1) {
    char buf[96];
    lp_shape_str(lp_tensor_ndim(img), shape, buf, sizeof buf);
    return lp_ctx_error(ctx, LP_ESHAPE, 2, "expected shape (H, W, C) with C in 1..4, got %s", buf);
  }
  int64_t h = shape[0], w = shape[1], c = shape[2];
  if (h > 0x7fffffff || w > 0x7fffffff / c) return lp_ctx_error(ctx, LP_ESIZE, 2, "image too large for PNG");
  lp_tensor *ct = NULL;
  lp_status st = lp_tensor_contiguous(ctx, img, &ct);
  if (st != LP_OK) return st;
  png_image im;
  memset(&im, 0, sizeof im);
  im.version = PNG_IMAGE_VERSION;
  im.width = (png_uint_32)w;
  im.height = (png_uint_32)h;
  im.format = (png_uint_32)format_of(c);
  png_alloc_size_t need = 0;
  if (!png_image_write_to_memory(&im, NULL, &need, 0, lp_tensor_data(ct), 0, NULL)) {
    lp_tensor_release(ct);
    return lp_ctx_error(ctx, LP_EARG, 2, "libpng cannot encode this image: %s", im.message);
  }
  unsigned char *out = lp_ctx_alloc_raw(ctx, need);
  if (!out) { lp_tensor_release(ct); return LP_ENOMEM; }
  png_alloc_size_t len = need;
  int ok = png_image_write_to_memory(&im, out, &len, 0, lp_tensor_data(ct), 0, NULL);
  lp_tensor_release(ct);
  if (!ok) {
    lp_ctx_dealloc(ctx, out, need);
    return lp_ctx_error(ctx, LP_ENOMEM, 0, "libpng could not encode the image: %s", im.message);
  }
  if (len != need) {                       /* hand back an exactly sized buffer */
    unsigned char *exact = lp_ctx_alloc_raw(ctx, len);
    if (!exact) { lp_ctx_dealloc(ctx, out, need); return LP_ENOMEM; }
    memcpy(exact, out, len);
    lp_ctx_dealloc(ctx, out, need);
    out = exact;
  }
  *out_buf = out;
  *out_len = len;
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

/* libpng's simplified reader stops once it has the rows it needs: the CRC of
   the last IDAT and everything after it go unchecked (a flipped byte there
   loaded silently when tried). So the chunk sequence is walked here first:
   lengths inside the file, every CRC, IEND last. */
static lp_status check_chunks(lp_ctx *ctx, const unsigned char *buf, size_t len, const char *what) {
  size_t pos = 8;
  for (;;) {
    if (len - pos < 12)
      return lp_ctx_error(ctx, LP_EFORMAT, 0, "'%s' at offset %zu: truncated chunk header", what, pos);
    uint32_t n = (uint32_t)buf[pos] << 24 | (uint32_t)buf[pos + 1] << 16 | (uint32_t)buf[pos + 2] << 8 | buf[pos + 3];
    if (n > 0x7fffffffu || n > len - pos - 12)
      return lp_ctx_error(ctx, LP_EFORMAT, 0, "'%s' at offset %zu: chunk length %u runs past the end of the file",
                          what, pos, n);
    const unsigned char *type = buf + pos + 4, *c = buf + pos + 8 + n;
    uint32_t want = (uint32_t)c[0] << 24 | (uint32_t)c[1] << 16 | (uint32_t)c[2] << 8 | c[3];
#ifndef FUZZING_BUILD_MODE_UNSAFE_FOR_PRODUCTION   /* fuzzers mutate past the CRCs (spec/fuzz) */
    if ((uint32_t)crc32(crc32(0L, Z_NULL, 0), type, n + 4) != want)
      return lp_ctx_error(ctx, LP_EFORMAT, 0, "'%s' at offset %zu: CRC mismatch in chunk '%.4s'", what, pos, (const char *)type);
#else
    (void)want;
#endif
    pos += 12 + (size_t)n;
    if (!memcmp(type, "IEND", 4)) return LP_OK;
    if (pos == len) return lp_ctx_error(ctx, LP_EFORMAT, 0, "'%s' at offset %zu: missing IEND chunk", what, pos);
  }
}

lp_status lp_png_decode(lp_ctx *ctx, const unsigned char *buf, size_t len, const char *what,
                        lp_tensor **out) {
  *out = NULL;
  png_image im;
  memset(&im, 0, sizeof im);
  im.version = PNG_IMAGE_VERSION;
  if (len < 8 || png_sig_cmp(buf, 0, 8))
    return lp_ctx_error(ctx, LP_EFORMAT, 0, "'%s': not a PNG file (bad signature)", what);
  lp_status cst = check_chunks(ctx, buf, len, what);
  if (cst != LP_OK) return cst;
  if (!png_image_begin_read_from_memory(&im, buf, len))
    return lp_ctx_error(ctx, LP_EFORMAT, 0, "'%s': corrupt PNG (libpng: %s)", what, im.message);
  int c = (im.format & PNG_FORMAT_FLAG_COLOR ? 3 : 1) + (im.format & PNG_FORMAT_FLAG_ALPHA ? 1 : 0);
  im.format = (png_uint_32)format_of(c);
  int64_t shape[3] = { (int64_t)im.height, (int64_t)im.width, c };
  lp_tensor *img = NULL;
  lp_status st = lp_tensor_empty(ctx, LP_U8, 3, shape, &img);   /* the size cap applies here */
  if (st != LP_OK) { png_image_free(&im); return st; }
  if (!png_image_finish_read(&im, NULL, lp_tensor_data(img), 0, NULL)) {
    lp_tensor_release(img);
    return lp_ctx_error(ctx, LP_EFORMAT, 0, "'%s': corrupt PNG (libpng: %s)", what, im.message);
  }
  *out = img;
  return LP_OK;
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
