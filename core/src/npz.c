/*
** core/src/npz.c -- NumPy .npz files through libzip.
** Owns: naming (entry "w.npy" is array "w"), streaming each entry's .npy
** image into a tensor (reading) and out of one (writing: a libzip source
** that hands out the .npy header and then the tensor's own bytes, so a
** contiguous tensor is never copied), stored (np.savez) or deflated
** (np.savez_compressed) entries, and turning libzip's errors into limpet's.
** libzip does the container: zip64 (archives or members past 4 GiB, more
** than 65,535 members) on read and write, CRCs, consistency of the local
** headers with the central directory (ZIP_CHECKCONS), and the atomic write
** (zip_close writes a temporary file beside the archive and renames it).
** Not here: the .npy image (npy.c), Lua (lua/l_io.c).
** Measured against the zip code this file replaces (bench/npz.lua, same
** machine): loading a 537 MB stored archive 3.9 s before, see the bench
** header for after; the old writer refused more than 65,535 members.
*/
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <zip.h>

#include "tensor_impl.h"
#include "io_impl.h"

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "npz.c writes tensor bytes as they are: .npz data are little-endian"
#endif

/* ---- reading ------------------------------------------------------------ */

typedef struct zsrc {
  lp_ctx *ctx;
  zip_file_t *zf;
  const char *label;
} zsrc;

static lp_status entry_read(void *ud, void *dst, size_t n, size_t *got) {
  zsrc *s = ud;
  size_t done = 0;
  while (done < n) {
    zip_int64_t k = zip_fread(s->zf, (char *)dst + done, (zip_uint64_t)(n - done));
    if (k < 0) {
      zip_error_t *e = zip_file_get_error(s->zf);
      if (zip_error_code_zip(e) == ZIP_ER_MEMORY) return lp_ctx_error(s->ctx, LP_ENOMEM, 0, "not enough memory reading %s", s->label);
      return lp_ctx_error(s->ctx, LP_EFORMAT, 0, "%s: %s", s->label, zip_error_strerror(e));
    }
    if (k == 0) break;
    done += (size_t)k;
  }
  *got = done;
  return LP_OK;
}

void lp_npz_free(int n, char **names, lp_tensor **ts) {
  for (int i = 0; i < n; i++) {
    if (names) free(names[i]);
    if (ts) lp_tensor_release(ts[i]);
  }
  free(names);
  free(ts);
}

static lp_status open_error(lp_ctx *ctx, const char *path, int code) {
  zip_error_t e;
  zip_error_init_with_code(&e, code);
  lp_status st;
  if (code == ZIP_ER_MEMORY)
    st = lp_ctx_error(ctx, LP_ENOMEM, 0, "not enough memory to open '%s'", path);
  else if (code == ZIP_ER_NOZIP || code == ZIP_ER_INCONS || code == ZIP_ER_CRC || code == ZIP_ER_COMPNOTSUPP ||
           code == ZIP_ER_ENCRNOTSUPP || code == ZIP_ER_NOENT || code == ZIP_ER_EOF)
    st = lp_ctx_error(ctx, LP_EFORMAT, 0, "'%s': not a valid zip archive (%s)", path, zip_error_strerror(&e));
  else
    st = lp_ctx_error(ctx, LP_EIO, 0, "cannot read '%s': %s", path, zip_error_strerror(&e));
  zip_error_fini(&e);
  return st;
}

lp_status lp_npz_read(lp_ctx *ctx, const char *path, int *n, char ***names, lp_tensor ***ts) {
  struct stat sb;
  *n = 0; *names = NULL; *ts = NULL;
  /* the environment's failures first, in the words of every other reader */
  FILE *fp = fopen(path, "rb");
  if (!fp) return lp_ctx_error(ctx, LP_EIO, 0, "cannot open '%s': %s", path, strerror(errno));
  int isreg = fstat(fileno(fp), &sb) == 0 && S_ISREG(sb.st_mode);
  fclose(fp);
  if (!isreg) return lp_ctx_error(ctx, LP_EIO, 0, "cannot open '%s': %s", path, strerror(S_ISDIR(sb.st_mode) ? EISDIR : EINVAL));
  int code = 0;
  zip_t *za = zip_open(path, ZIP_RDONLY | ZIP_CHECKCONS, &code);
  if (!za) return open_error(ctx, path, code);
  zip_int64_t nent = zip_get_num_entries(za, 0);
  lp_status st = LP_OK;
  char **nm = NULL;
  lp_tensor **tv = NULL;
  if (nent < 0 || nent > 0x7FFFFFFF) { st = lp_ctx_error(ctx, LP_ESIZE, 0, "'%s': too many entries", path); goto done; }
  nm = calloc(nent ? (size_t)nent : 1, sizeof *nm);
  tv = calloc(nent ? (size_t)nent : 1, sizeof *tv);
  if (!nm || !tv) { st = lp_ctx_error(ctx, LP_ENOMEM, 0, "not enough memory for %lld entries", (long long)nent); goto done; }
  for (zip_int64_t k = 0; k < nent; k++) {
    zip_stat_t zs;
    char label[LP_ERRMSG_MAX / 2];
    if (zip_stat_index(za, (zip_uint64_t)k, 0, &zs) != 0 || !(zs.valid & ZIP_STAT_NAME) || !(zs.valid & ZIP_STAT_SIZE)) {
      st = lp_ctx_error(ctx, LP_EFORMAT, 0, "'%s': entry %lld: %s", path, (long long)k + 1, zip_strerror(za));
      goto done;
    }
    snprintf(label, sizeof label, "'%s' entry '%s'", path, zs.name);
    zip_file_t *zf = zip_fopen_index(za, (zip_uint64_t)k, 0);
    if (!zf) {
      zip_error_t *e = zip_get_error(za);
      st = zip_error_code_zip(e) == ZIP_ER_MEMORY ? lp_ctx_error(ctx, LP_ENOMEM, 0, "not enough memory reading %s", label)
                                                  : lp_ctx_error(ctx, LP_EFORMAT, 0, "%s: %s", label, zip_error_strerror(e));
      goto done;
    }
    zsrc s = { ctx, zf, label };
    lp_io_src src = { entry_read, &s, zs.size };
    st = lp_npy_read_src(ctx, label, &src, &tv[k]);
    if (st == LP_OK) {          /* read past the image so libzip checks the CRC at the end */
      char extra;
      size_t got = 0;
      st = entry_read(&s, &extra, 1, &got);
      if (st == LP_OK && got) st = lp_ctx_error(ctx, LP_EFORMAT, 0, "%s: bytes after the .npy image", label);
    }
    zip_fclose(zf);
    if (st != LP_OK) goto done;
    size_t len = strlen(zs.name);
    nm[k] = malloc(len + 1);
    if (!nm[k]) { st = lp_ctx_error(ctx, LP_ENOMEM, 0, "not enough memory for entry names"); goto done; }
    memcpy(nm[k], zs.name, len + 1);
    if (len >= 4 && strcmp(nm[k] + len - 4, ".npy") == 0) nm[k][len - 4] = '\0';
  }
done:
  zip_discard(za);
  if (st != LP_OK) { lp_npz_free(nent > 0 ? (int)nent : 0, nm, tv); return st; }
  *n = (int)nent; *names = nm; *ts = tv;
  return LP_OK;
}

/* ---- writing ------------------------------------------------------------ */

/* A libzip source over one tensor's .npy image: the header, then the bytes
   of a contiguous (retained or copied) tensor. */
typedef struct npysrc {
  lp_tensor *t;                 /* contiguous, owned reference */
  char head[256];
  size_t hlen;
  uint64_t dlen, pos;
  zip_error_t err;
} npysrc;

static zip_int64_t npysrc_cb(void *ud, void *data, zip_uint64_t len, zip_source_cmd_t cmd) {
  npysrc *s = ud;
  switch (cmd) {
  case ZIP_SOURCE_OPEN: s->pos = 0; return 0;
  case ZIP_SOURCE_READ: {
    uint64_t total = s->hlen + s->dlen, k = total - s->pos < len ? total - s->pos : len, done = 0;
    while (done < k) {
      uint64_t p = s->pos + done, m;
      if (p < s->hlen) {
        m = s->hlen - p < k - done ? s->hlen - p : k - done;
        memcpy((char *)data + done, s->head + p, (size_t)m);
      } else {
        m = k - done;
        memcpy((char *)data + done, (const char *)lp_tensor_data(s->t) + (p - s->hlen), (size_t)m);
      }
      done += m;
    }
    s->pos += k;
    return (zip_int64_t)k;
  }
  case ZIP_SOURCE_CLOSE: return 0;
  case ZIP_SOURCE_STAT: {
    zip_stat_t *st = data;
    zip_stat_init(st);
    st->size = s->hlen + s->dlen;
    st->valid |= ZIP_STAT_SIZE;
    return sizeof *st;
  }
  case ZIP_SOURCE_ERROR: return zip_error_to_data(&s->err, data, len);
  case ZIP_SOURCE_FREE:
    lp_tensor_release(s->t);
    zip_error_fini(&s->err);
    free(s);
    return 0;
  case ZIP_SOURCE_SUPPORTS:
    return zip_source_make_command_bitmap(ZIP_SOURCE_OPEN, ZIP_SOURCE_READ, ZIP_SOURCE_CLOSE,
                                          ZIP_SOURCE_STAT, ZIP_SOURCE_ERROR, ZIP_SOURCE_FREE, -1);
  default:
    zip_error_set(&s->err, ZIP_ER_OPNOTSUPP, 0);
    return -1;
  }
}

static lp_status write_error(lp_ctx *ctx, const char *path, zip_error_t *e) {
  int sys = zip_error_code_system(e);
  if (zip_error_code_zip(e) == ZIP_ER_MEMORY) return lp_ctx_error(ctx, LP_ENOMEM, 0, "not enough memory writing '%s'", path);
  if (zip_error_code_zip(e) == ZIP_ER_TMPOPEN || zip_error_code_zip(e) == ZIP_ER_OPEN)
    return lp_ctx_error(ctx, LP_EIO, 0, "cannot open '%s' for writing: %s", path, strerror(sys ? sys : EIO));
  return lp_ctx_error(ctx, LP_EIO, 0, "cannot write '%s': %s", path, zip_error_strerror(e));
}

lp_status lp_npz_write(lp_ctx *ctx, const char *path, int n, const char *const *names,
                       lp_tensor *const *ts, int compress) {
  /* refuse an unwritable place before building anything, as the other writers do */
  lp_io_tmp probe;
  lp_status st = lp_io_tmp_open(ctx, path, &probe);
  if (st != LP_OK) return st;
  lp_io_tmp_abort(ctx, &probe);
  struct stat sb;
  if (stat(path, &sb) == 0 && S_ISDIR(sb.st_mode))
    return lp_ctx_error(ctx, LP_EIO, 0, "cannot write '%s': %s", path, strerror(EISDIR));

  if (n == 0) {   /* libzip writes no file for an empty archive; NumPy writes the end record alone */
    static const unsigned char eocd[22] = { 'P', 'K', 5, 6 };
    lp_io_tmp f;
    if ((st = lp_io_tmp_open(ctx, path, &f)) != LP_OK) return st;
    if (fwrite(eocd, 1, sizeof eocd, f.fp) != sizeof eocd) {
      int e = errno;
      lp_io_tmp_abort(ctx, &f);
      return lp_ctx_error(ctx, LP_EIO, 0, "cannot write '%s': %s", path, strerror(e));
    }
    return lp_io_tmp_commit(ctx, path, &f);
  }
  int code = 0;
  zip_t *za = zip_open(path, ZIP_CREATE | ZIP_TRUNCATE, &code);
  if (!za) {
    zip_error_t e;
    zip_error_init_with_code(&e, code);
    st = write_error(ctx, path, &e);
    zip_error_fini(&e);
    return st;
  }
  for (int i = 0; i < n; i++) {
    size_t len = strlen(names[i]);
    char *entry = malloc(len + 5);
    npysrc *s = calloc(1, sizeof *s);
    if (!entry || !s) { free(entry); free(s); st = lp_ctx_error(ctx, LP_ENOMEM, 0, "not enough memory writing '%s'", path); goto fail; }
    memcpy(entry, names[i], len);
    memcpy(entry + len, ".npy", 5);
    if (zip_name_locate(za, entry, 0) >= 0) {   /* an archive cannot hold both */
      free(entry); free(s);
      st = lp_ctx_error(ctx, LP_EARG, 0, "'%s': duplicate array name '%s'", path, names[i]);
      goto fail;
    }
    zip_error_init(&s->err);
    if ((st = lp_tensor_contiguous(ctx, ts[i], &s->t)) != LP_OK) { free(entry); free(s); goto fail; }
    s->hlen = lp_npy_header(s->t, s->head, sizeof s->head);
    s->dlen = (uint64_t)lp_tensor_numel(s->t) * lp_dtype_size(lp_tensor_dtype(s->t));
    if (!s->hlen || s->hlen + s->dlen != lp_npy_image_size(s->t)) {
      lp_tensor_release(s->t); free(entry); free(s);
      st = lp_ctx_error(ctx, LP_EARG, 2, "array '%s' has no .npy header limpet can write", names[i]);
      goto fail;
    }
    zip_source_t *src = zip_source_function(za, npysrc_cb, s);
    if (!src) { lp_tensor_release(s->t); free(entry); free(s); st = write_error(ctx, path, zip_get_error(za)); goto fail; }
    zip_int64_t idx = zip_file_add(za, entry, src, ZIP_FL_ENC_UTF_8);
    free(entry);
    if (idx < 0) { zip_source_free(src); st = write_error(ctx, path, zip_get_error(za)); goto fail; }
    if (zip_set_file_compression(za, (zip_uint64_t)idx, compress ? ZIP_CM_DEFLATE : ZIP_CM_STORE, 0) != 0) {
      st = write_error(ctx, path, zip_get_error(za));
      goto fail;
    }
  }
  if (zip_close(za) != 0) {
    st = write_error(ctx, path, zip_get_error(za));
    zip_discard(za);
    return st;
  }
  return LP_OK;
fail:
  zip_discard(za);
  return st;
}
