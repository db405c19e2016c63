/*
** core/src/npy.c -- NumPy .npy files: streaming reader and writer.
** Owns: the .npy header (format 1.0-3.0: magic, version, length, a Python
** dict literal with 'descr', 'fortran_order' and 'shape'), byte order and
** Fortran order on read, numpy.save's exact bytes on write, and the atomic
** file replacement shared with npz.c (io_impl.h). Not here: the zip
** container (npz.c), Lua (lua/l_io.c).
** Format facts: magic "\x93NUMPY", major, minor; header length u16 (1.0) or
** u32 (2.0, 3.0) little endian; the dict is padded with spaces and a final
** '\n' so the data start at a multiple of 64 bytes.
*/
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tensor_impl.h"
#include "io_impl.h"

#define NPY_MAGIC "\x93NUMPY"
#define NPY_MAX_HEADER (1u << 20)   /* a longer header is corruption, not data */
#define NPY_ALIGN 64
#define NPY_CHUNK (64 * 1024)

static int host_is_le(void) {
  const uint16_t one = 1;
  return *(const unsigned char *)&one == 1;
}

static const char *npy_descr(lp_dtype dt) {
  switch (dt) {
  case LP_F32:  return "<f4";
  case LP_F64:  return "<f8";
  case LP_I8:   return "|i1";
  case LP_I16:  return "<i2";
  case LP_I32:  return "<i4";
  case LP_I64:  return "<i8";
  case LP_U8:   return "|u1";
  case LP_BOOL: return "|b1";
  default:      return "|V0";
  }
}

/* Record "<label> at offset N: <message>" as LP_EFORMAT. */
static lp_status fmt_error(lp_ctx *ctx, const char *label, uint64_t off, const char *fmt, ...)
#if defined(__GNUC__)
  __attribute__((format(printf, 4, 5)))
#endif
  ;
static lp_status fmt_error(lp_ctx *ctx, const char *label, uint64_t off, const char *fmt, ...) {
  char msg[LP_ERRMSG_MAX];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  return lp_ctx_error(ctx, LP_EFORMAT, 0, "%s at offset %llu: %s", label,
                      (unsigned long long)off, msg);
}

lp_status lp_io_prefix_error(lp_ctx *ctx, lp_status st, const char *label) {
  char msg[LP_ERRMSG_MAX];
  snprintf(msg, sizeof msg, "%s", lp_ctx_errmsg(ctx));
  return lp_ctx_error(ctx, st, 0, "%s: %s", label, msg);
}

/* ---- header dict parser -------------------------------------------------
** A small reader for the Python literal numpy writes:
**   {'descr': '<f4', 'fortran_order': False, 'shape': (3, 4), }
** Keys in any order, either quote, any whitespace, trailing commas. */
typedef struct npy_info {
  lp_dtype dt;
  int swap, fortran, ndim;      /* ndim may exceed LP_MAXDIM: refused later */
  int64_t shape[LP_MAXDIM];
  const char *descr;            /* raw text of the descr value, for messages */
  size_t descr_len;
  int descr_is_str;
} npy_info;

typedef struct hparse {
  lp_ctx *ctx;
  const char *label;
  const char *h;
  size_t n, p;
  uint64_t base;                /* file offset of h[0] */
} hparse;

static lp_status hp_err(hparse *hp, const char *what) {
  return fmt_error(hp->ctx, hp->label, hp->base + hp->p, "bad header dict (%s)", what);
}

static void hp_ws(hparse *hp) {
  while (hp->p < hp->n && (hp->h[hp->p] == ' ' || hp->h[hp->p] == '\t' ||
                           hp->h[hp->p] == '\n' || hp->h[hp->p] == '\r'))
    hp->p++;
}

static int hp_peek(hparse *hp) { hp_ws(hp); return hp->p < hp->n ? (unsigned char)hp->h[hp->p] : -1; }

static lp_status hp_expect(hparse *hp, char c, const char *what) {
  if (hp_peek(hp) != c) return hp_err(hp, what);
  hp->p++;
  return LP_OK;
}

static lp_status hp_string(hparse *hp, size_t *start, size_t *len) {
  int q = hp_peek(hp);
  size_t i;
  if (q != '\'' && q != '"') return hp_err(hp, "expected a string");
  for (i = hp->p + 1; i < hp->n && hp->h[i] != q; i++) {}
  if (i >= hp->n) return hp_err(hp, "unterminated string");
  *start = hp->p + 1;
  *len = i - hp->p - 1;
  hp->p = i + 1;
  return LP_OK;
}

static lp_status hp_int(hparse *hp, int64_t *v) {
  int64_t x = 0;
  int c = hp_peek(hp);
  if (c < '0' || c > '9') return hp_err(hp, "expected a non-negative integer in 'shape'");
  while (hp->p < hp->n && hp->h[hp->p] >= '0' && hp->h[hp->p] <= '9') {
    int dgt = hp->h[hp->p] - '0';
    if (x > (INT64_MAX - dgt) / 10) return hp_err(hp, "integer too large in 'shape'");
    x = x * 10 + dgt;
    hp->p++;
  }
  if (hp->p < hp->n && hp->h[hp->p] == 'L') hp->p++;   /* Python 2 long */
  *v = x;
  return LP_OK;
}

/* Skip a bracketed value (a structured dtype's list), strings included. */
static lp_status hp_skip_nested(hparse *hp) {
  int depth = 0;
  while (hp->p < hp->n) {
    char c = hp->h[hp->p];
    if (c == '\'' || c == '"') {
      size_t s, l;
      lp_status st = hp_string(hp, &s, &l);
      if (st) return st;
      continue;
    }
    if (c == '[' || c == '(' || c == '{') depth++;
    else if (c == ']' || c == ')' || c == '}') { if (--depth == 0) { hp->p++; return LP_OK; } }
    hp->p++;
  }
  return hp_err(hp, "unterminated list");
}

static lp_status hp_word(hparse *hp, int *b) {
  hp_ws(hp);
  if (hp->n - hp->p >= 4 && memcmp(hp->h + hp->p, "True", 4) == 0) { *b = 1; hp->p += 4; return LP_OK; }
  if (hp->n - hp->p >= 5 && memcmp(hp->h + hp->p, "False", 5) == 0) { *b = 0; hp->p += 5; return LP_OK; }
  return hp_err(hp, "'fortran_order' must be True or False");
}

static lp_status hp_shape(hparse *hp, npy_info *info) {
  lp_status st;
  int c;
  if ((st = hp_expect(hp, '(', "'shape' must be a tuple"))) return st;
  info->ndim = 0;
  if (hp_peek(hp) == ')') { hp->p++; return LP_OK; }
  for (;;) {
    int64_t v = 0;
    if ((st = hp_int(hp, &v))) return st;
    if (info->ndim < LP_MAXDIM) info->shape[info->ndim] = v;
    info->ndim++;
    c = hp_peek(hp);
    if (c == ')') { hp->p++; return LP_OK; }
    if (c != ',') return hp_err(hp, "expected ',' or ')' in 'shape'");
    hp->p++;
    if (hp_peek(hp) == ')') { hp->p++; return LP_OK; }
  }
}

static lp_status parse_header(lp_ctx *ctx, const char *label, const char *h, size_t n,
                              uint64_t base, npy_info *info) {
  hparse hp;
  lp_status st;
  int have_descr = 0, have_fortran = 0, have_shape = 0;
  hp.ctx = ctx; hp.label = label; hp.h = h; hp.n = n; hp.p = 0; hp.base = base;
  if ((st = hp_expect(&hp, '{', "expected '{'"))) return st;
  for (;;) {
    size_t ks, kl;
    if (hp_peek(&hp) == '}') { hp.p++; break; }
    if ((st = hp_string(&hp, &ks, &kl))) return st;
    if ((st = hp_expect(&hp, ':', "expected ':'"))) return st;
    if (kl == 5 && memcmp(h + ks, "descr", 5) == 0) {
      size_t vs, vl;
      int c = hp_peek(&hp);
      if (c == '\'' || c == '"') {
        if ((st = hp_string(&hp, &vs, &vl))) return st;
        info->descr = h + vs; info->descr_len = vl; info->descr_is_str = 1;
      } else if (c == '[' || c == '(') {
        vs = hp.p;
        if ((st = hp_skip_nested(&hp))) return st;
        info->descr = h + vs; info->descr_len = hp.p - vs; info->descr_is_str = 0;
      } else {
        return hp_err(&hp, "'descr' must be a string");
      }
      have_descr = 1;
    } else if (kl == 13 && memcmp(h + ks, "fortran_order", 13) == 0) {
      if ((st = hp_word(&hp, &info->fortran))) return st;
      have_fortran = 1;
    } else if (kl == 5 && memcmp(h + ks, "shape", 5) == 0) {
      if ((st = hp_shape(&hp, info))) return st;
      have_shape = 1;
    } else {
      char key[64];
      hp.p = ks - 1;
      snprintf(key, sizeof key, "unexpected key '%.*s'", (int)(kl < 40 ? kl : 40), h + ks);
      return hp_err(&hp, key);
    }
    {
      int c = hp_peek(&hp);
      if (c == ',') { hp.p++; continue; }
      if (c == '}') { hp.p++; break; }
      return hp_err(&hp, "expected ',' or '}'");
    }
  }
  if (hp_peek(&hp) != -1) return hp_err(&hp, "text after the closing '}'");
  hp.p = 0;
  if (!have_descr) return hp_err(&hp, "no 'descr' key");
  if (!have_fortran) return hp_err(&hp, "no 'fortran_order' key");
  if (!have_shape) return hp_err(&hp, "no 'shape' key");
  return LP_OK;
}

/* descr ("<f4", ">i8", "|b1", "=u1", "f8") -> dtype and whether to swap.
   String arrays ("|S5", "<U3"; "a5" is numpy's old name of S) give *text
   1 (bytes: uint8) or 2 (unicode: int32 code points) and *chars, the
   characters per element, which become an extra last dim. */
static int parse_descr(const char *s, size_t n, lp_dtype *dt, int *swap, int *text, int64_t *chars) {
  char order = '=';
  size_t i = 0;
  *text = 0;
  if (n > 0 && (s[0] == '<' || s[0] == '>' || s[0] == '=' || s[0] == '|')) order = s[i++];
  if (n - i >= 2 && (s[i] == 'S' || s[i] == 'a' || s[i] == 'U')) {
    int64_t k = 0;
    size_t j;
    for (j = i + 1; j < n; j++) {
      if (s[j] < '0' || s[j] > '9' || k > (INT64_MAX - 9) / 10) return 0;
      k = k * 10 + (s[j] - '0');
    }
    *text = s[i] == 'U' ? 2 : 1;
    *chars = k;
    *dt = s[i] == 'U' ? LP_I32 : LP_U8;
    *swap = *text == 2 && ((order == '>' && host_is_le()) || (order == '<' && !host_is_le()));
    return 1;
  }
  if (n - i != 2) return 0;
  switch (s[i]) {
  case 'f': if (s[i + 1] == '4') *dt = LP_F32; else if (s[i + 1] == '8') *dt = LP_F64; else return 0; break;
  case 'i':
    if (s[i + 1] == '1') *dt = LP_I8; else if (s[i + 1] == '2') *dt = LP_I16;
    else if (s[i + 1] == '4') *dt = LP_I32; else if (s[i + 1] == '8') *dt = LP_I64; else return 0;
    break;
  case 'u': if (s[i + 1] == '1') *dt = LP_U8; else return 0; break;
  case 'b': if (s[i + 1] == '1') *dt = LP_BOOL; else return 0; break;
  default: return 0;
  }
  *swap = lp_dtype_size(*dt) > 1 &&
          ((order == '>' && host_is_le()) || (order == '<' && !host_is_le()));
  return 1;
}

static void byteswap(void *p, int64_t count, size_t es) {
  unsigned char *b = p;
  int64_t k;
  size_t i;
  for (k = 0; k < count; k++, b += es)
    for (i = 0; i < es / 2; i++) { unsigned char c = b[i]; b[i] = b[es - 1 - i]; b[es - 1 - i] = c; }
}

/* ---- reading ------------------------------------------------------------ */
lp_status lp_npy_read_src(lp_ctx *ctx, const char *label, const lp_io_src *src,
                          lp_tensor **out) {
  unsigned char pre[12];
  size_t got, nbytes, lensz;
  uint64_t hlen, hstart, dstart;
  char *hbuf;
  npy_info info;
  lp_tensor *t = NULL;
  lp_status st;
  char sbuf[200];
  int text = 0;
  int64_t chars = 0;
  *out = NULL;
  memset(&info, 0, sizeof info);

  if ((st = src->read(src->ud, pre, 8, &got))) return st;
  if (got < 6 || memcmp(pre, NPY_MAGIC, 6) != 0)
    return fmt_error(ctx, label, 0, "not a .npy file (bad magic string)");
  if (got < 8)
    return fmt_error(ctx, label, got, "truncated before the header (%zu bytes)", got);
  if (pre[6] < 1 || pre[6] > 3 || pre[7] != 0)
    return fmt_error(ctx, label, 6, "unsupported .npy format version %d.%d", pre[6], pre[7]);
  lensz = pre[6] == 1 ? 2 : 4;
  if ((st = src->read(src->ud, pre + 8, lensz, &got))) return st;
  if (got < lensz) return fmt_error(ctx, label, 8 + got, "truncated header length");
  hlen = lensz == 2 ? (uint64_t)pre[8] | (uint64_t)pre[9] << 8
                    : (uint64_t)pre[8] | (uint64_t)pre[9] << 8 | (uint64_t)pre[10] << 16 |
                      (uint64_t)pre[11] << 24;
  hstart = 8 + lensz;
  if (hlen > NPY_MAX_HEADER)
    return fmt_error(ctx, label, 8, "header length %llu is implausible", (unsigned long long)hlen);
  if (src->size != UINT64_MAX && hstart + hlen > src->size)
    return fmt_error(ctx, label, src->size, "truncated header (%llu bytes announced, %llu present)",
                     (unsigned long long)hlen, (unsigned long long)(src->size - hstart));
  hbuf = lp_ctx_alloc_raw(ctx, (size_t)hlen + 1);
  if (!hbuf) return LP_ENOMEM;
  if ((st = src->read(src->ud, hbuf, (size_t)hlen, &got))) goto hfail;
  if (got < hlen) {
    st = fmt_error(ctx, label, hstart + got, "truncated header (%llu bytes announced, %zu present)",
                   (unsigned long long)hlen, got);
    goto hfail;
  }
  if ((st = parse_header(ctx, label, hbuf, (size_t)hlen, hstart, &info))) goto hfail;
  if (!info.descr_is_str ||
      !parse_descr(info.descr, info.descr_len, &info.dt, &info.swap, &text, &chars)) {
    st = lp_ctx_error(ctx, LP_ETYPE, 0, "%s: unsupported dtype %s%.*s%s", label,
                      info.descr_is_str ? "'" : "", (int)(info.descr_len < 80 ? info.descr_len : 80),
                      info.descr, info.descr_is_str ? "'" : "");
    goto hfail;
  }
  lp_ctx_dealloc(ctx, hbuf, (size_t)hlen + 1);
  hbuf = NULL;

  if (info.ndim + (text != 0) > LP_MAXDIM)
    return lp_ctx_error(ctx, LP_ESHAPE, 0, "%s: %d dims, limpet tensors have at most %d",
                        label, info.ndim + (text != 0), LP_MAXDIM);
  if (text) info.shape[info.ndim++] = chars;   /* the characters: an extra, innermost dim */
  if ((st = lp_tensor_check_size(ctx, info.dt, info.ndim, info.shape, &nbytes)))
    return lp_io_prefix_error(ctx, st, label);
  dstart = hstart + hlen;
  if (src->size != UINT64_MAX && dstart + nbytes > src->size)
    return fmt_error(ctx, label, src->size,
                     "truncated data (shape %s of %s needs %zu bytes, %llu present)",
                     lp_shape_str(info.ndim, info.shape, sbuf, sizeof sbuf),
                     lp_dtype_name(info.dt), nbytes, (unsigned long long)(src->size - dstart));

  if (info.fortran && info.ndim - (text != 0) > 1) {
    int64_t rev[LP_MAXDIM];
    int d, ne = info.ndim - (text != 0);    /* element dims; the char dim stays last */
    for (d = 0; d < ne; d++) rev[d] = info.shape[ne - 1 - d];
    if (text) rev[ne] = chars;
    st = lp_tensor_empty(ctx, info.dt, info.ndim, rev, &t);
  } else {
    st = lp_tensor_empty(ctx, info.dt, info.ndim, info.shape, &t);
  }
  if (st) return st;
  if (nbytes > 0) {
    if ((st = src->read(src->ud, lp_tensor_data(t), nbytes, &got))) goto fail;
    if (got < nbytes) {
      st = fmt_error(ctx, label, dstart + got,
                     "truncated data (shape %s of %s needs %zu bytes, %zu present)",
                     lp_shape_str(info.ndim, info.shape, sbuf, sizeof sbuf),
                     lp_dtype_name(info.dt), nbytes, got);
      goto fail;
    }
  }
  {
    unsigned char extra;
    if ((st = src->read(src->ud, &extra, 1, &got))) goto fail;
    if (got) {
      st = fmt_error(ctx, label, dstart + nbytes, "unexpected bytes after the data of shape %s",
                     lp_shape_str(info.ndim, info.shape, sbuf, sizeof sbuf));
      goto fail;
    }
  }
  if (info.swap) byteswap(lp_tensor_data(t), lp_tensor_numel(t), lp_dtype_size(info.dt));
  if (info.dt == LP_BOOL) {
    unsigned char *b = lp_tensor_data(t);
    size_t i;
    for (i = 0; i < nbytes; i++) b[i] = b[i] != 0;
  }
  if (info.fortran && info.ndim - (text != 0) > 1) {
    int perm[LP_MAXDIM], d, ne = info.ndim - (text != 0);
    lp_tensor *v = NULL, *c = NULL;
    for (d = 0; d < ne; d++) perm[d] = ne - 1 - d;
    if (text) perm[ne] = ne;
    if ((st = lp_tensor_permute(ctx, t, perm, &v))) goto fail;
    st = lp_tensor_clone(ctx, v, &c);
    lp_tensor_release(v);
    if (st) goto fail;
    lp_tensor_release(t);
    t = c;
  }
  t->text = (unsigned char)text;
  *out = t;
  return LP_OK;

hfail:
  lp_ctx_dealloc(ctx, hbuf, (size_t)hlen + 1);
  return st;
fail:
  lp_tensor_release(t);
  return st;
}

int lp_npy_text_kind(const lp_tensor *t) { return t ? t->text : 0; }

typedef struct mem_src { const unsigned char *p; size_t len, pos; } mem_src;

static lp_status mem_read(void *ud, void *dst, size_t n, size_t *got) {
  mem_src *m = ud;
  size_t k = m->len - m->pos < n ? m->len - m->pos : n;
  if (k) memcpy(dst, m->p + m->pos, k);
  m->pos += k;
  *got = k;
  return LP_OK;
}

lp_status lp_npy_decode(lp_ctx *ctx, const void *buf, size_t len, const char *what,
                        lp_tensor **out) {
  char label[LP_ERRMSG_MAX / 2];
  mem_src m;
  lp_io_src src;
  m.p = buf; m.len = len; m.pos = 0;
  src.read = mem_read; src.ud = &m; src.size = len;
  snprintf(label, sizeof label, "'%s'", what ? what : "buffer");
  return lp_npy_read_src(ctx, label, &src, out);
}

typedef struct file_src { FILE *fp; const char *path; lp_ctx *ctx; } file_src;

static lp_status file_read(void *ud, void *dst, size_t n, size_t *got) {
  file_src *f = ud;
  *got = n ? fread(dst, 1, n, f->fp) : 0;
  if (*got < n && ferror(f->fp))
    return lp_ctx_error(f->ctx, LP_EIO, 0, "cannot read '%s': %s", f->path, strerror(errno));
  return LP_OK;
}

lp_status lp_npy_read(lp_ctx *ctx, const char *path, lp_tensor **out) {
  char label[LP_ERRMSG_MAX / 2];
  struct stat sb;
  file_src f;
  lp_io_src src;
  lp_status st;
  *out = NULL;
  f.fp = fopen(path, "rb");
  if (!f.fp) return lp_ctx_error(ctx, LP_EIO, 0, "cannot open '%s': %s", path, strerror(errno));
  if (fstat(fileno(f.fp), &sb) == 0 && S_ISDIR(sb.st_mode)) {
    fclose(f.fp);
    return lp_ctx_error(ctx, LP_EIO, 0, "cannot open '%s': %s", path, strerror(EISDIR));
  }
  f.path = path; f.ctx = ctx;
  src.read = file_read; src.ud = &f;
  src.size = S_ISREG(sb.st_mode) ? (uint64_t)sb.st_size : UINT64_MAX;
  snprintf(label, sizeof label, "'%s'", path);
  st = lp_npy_read_src(ctx, label, &src, out);
  fclose(f.fp);
  return st;
}

/* ---- writing ------------------------------------------------------------ */
size_t lp_npy_header(const lp_tensor *t, char *buf, size_t cap) {
  char dict[600];
  int ndim = lp_tensor_ndim(t), d;
  const int64_t *shape = lp_tensor_shape(t);
  size_t n, hl, pad, pre, total;
  n = (size_t)snprintf(dict, sizeof dict, "{'descr': '%s', 'fortran_order': False, 'shape': (",
                       npy_descr(lp_tensor_dtype(t)));
  for (d = 0; d < ndim; d++)
    n += (size_t)snprintf(dict + n, sizeof dict - n, "%lld%s", (long long)shape[d],
                          d + 1 < ndim ? ", " : ndim == 1 ? "," : "");
  n += (size_t)snprintf(dict + n, sizeof dict - n, "), }");
  if (ndim > 0) {
    /* numpy leaves room for the first axis to grow to 21 digits */
    char digits[32];
    size_t nd = (size_t)snprintf(digits, sizeof digits, "%lld", (long long)shape[0]);
    for (; nd < 21; nd++) dict[n++] = ' ';
  }
  hl = n + 1;                                    /* the final '\n' */
  pre = 10;
  pad = NPY_ALIGN - (pre + hl) % NPY_ALIGN;
  if (hl + pad > 0xFFFF) { pre = 12; pad = NPY_ALIGN - (pre + hl) % NPY_ALIGN; }
  total = pre + hl + pad;
  if (total > cap) return 0;
  memcpy(buf, NPY_MAGIC, 6);
  buf[6] = pre == 10 ? 1 : 2;
  buf[7] = 0;
  {
    size_t L = hl + pad, i;
    for (i = 0; i < pre - 8; i++) buf[8 + i] = (char)((L >> (8 * i)) & 0xFF);
  }
  memcpy(buf + pre, dict, n);
  memset(buf + pre + n, ' ', pad);
  buf[total - 1] = '\n';
  return total;
}

uint64_t lp_npy_image_size(const lp_tensor *t) {
  char h[1024];
  return (uint64_t)lp_npy_header(t, h, sizeof h) +
         (uint64_t)lp_tensor_numel(t) * lp_dtype_size(lp_tensor_dtype(t));
}

/* Elements of t in C order, little endian, through wr. */
static lp_status write_data(lp_ctx *ctx, const lp_tensor *t, lp_io_writefn wr, void *ud) {
  size_t es = lp_dtype_size(lp_tensor_dtype(t));
  int64_t numel = lp_tensor_numel(t), idx[LP_MAXDIM] = {0}, inner, istride;
  int ndim = lp_tensor_ndim(t), d, swap = !host_is_le();
  const int64_t *shape = lp_tensor_shape(t), *stride = lp_tensor_strides(t);
  const char *base = lp_tensor_data(t);
  char *chunk;
  size_t fill = 0, cap;
  lp_status st = LP_OK;
  if (numel == 0) return LP_OK;
  if (lp_tensor_is_contiguous(t) && !swap) return wr(ud, base, (size_t)numel * es);
  cap = NPY_CHUNK - NPY_CHUNK % es;
  chunk = lp_ctx_alloc_raw(ctx, NPY_CHUNK);
  if (!chunk) return LP_ENOMEM;
  inner = ndim ? shape[ndim - 1] : 1;
  istride = ndim ? stride[ndim - 1] * (int64_t)es : 0;
  for (;;) {
    const char *p = base;
    int64_t j;
    for (d = 0; d + 1 < ndim; d++) p += idx[d] * stride[d] * (int64_t)es;
    for (j = 0; j < inner; j++, p += istride) {
      memcpy(chunk + fill, p, es);
      if (swap) byteswap(chunk + fill, 1, es);
      fill += es;
      if (fill == cap) {
        if ((st = wr(ud, chunk, fill))) goto done;
        fill = 0;
      }
    }
    for (d = ndim - 2; d >= 0; d--) {
      if (++idx[d] < shape[d]) break;
      idx[d] = 0;
    }
    if (d < 0) break;
  }
  if (fill) st = wr(ud, chunk, fill);
done:
  lp_ctx_dealloc(ctx, chunk, NPY_CHUNK);
  return st;
}

lp_status lp_npy_write_sink(lp_ctx *ctx, const lp_tensor *t, lp_io_writefn wr, void *ud) {
  char h[1024];
  size_t hl = lp_npy_header(t, h, sizeof h);
  lp_status st;
  if (hl == 0) return lp_ctx_error(ctx, LP_EARG, 0, "tensor header too long for .npy");
  if ((st = wr(ud, h, hl))) return st;
  return write_data(ctx, t, wr, ud);
}

typedef struct mem_sink { unsigned char *p; size_t cap, pos; } mem_sink;

static lp_status mem_write(void *ud, const void *src, size_t n) {
  mem_sink *m = ud;
  if (n > m->cap - m->pos) return LP_EARG;   /* cannot happen: sized up front */
  memcpy(m->p + m->pos, src, n);
  m->pos += n;
  return LP_OK;
}

lp_status lp_npy_encode(lp_ctx *ctx, const lp_tensor *t, void **out_buf, size_t *out_len) {
  uint64_t size = lp_npy_image_size(t);
  mem_sink m;
  lp_status st;
  *out_buf = NULL; *out_len = 0;
  if (size > SIZE_MAX) return lp_ctx_error(ctx, LP_ESIZE, 0, ".npy image too large");
  m.p = malloc((size_t)size);
  if (!m.p) return lp_ctx_error(ctx, LP_ENOMEM, 0, "not enough memory for %llu bytes",
                                (unsigned long long)size);
  m.cap = (size_t)size; m.pos = 0;
  if ((st = lp_npy_write_sink(ctx, t, mem_write, &m))) { free(m.p); return st; }
  *out_buf = m.p;
  *out_len = m.pos;
  return LP_OK;
}

typedef struct file_sink { FILE *fp; const char *path; lp_ctx *ctx; } file_sink;

static lp_status file_write(void *ud, const void *src, size_t n) {
  file_sink *f = ud;
  if (fwrite(src, 1, n, f->fp) != n)
    return lp_ctx_error(f->ctx, LP_EIO, 0, "cannot write '%s': %s", f->path, strerror(errno));
  return LP_OK;
}

lp_status lp_npy_write(lp_ctx *ctx, const char *path, const lp_tensor *t) {
  lp_io_tmp tmp;
  file_sink f;
  lp_status st;
  if ((st = lp_io_tmp_open(ctx, path, &tmp))) return st;
  f.fp = tmp.fp; f.path = path; f.ctx = ctx;
  if ((st = lp_npy_write_sink(ctx, t, file_write, &f))) { lp_io_tmp_abort(ctx, &tmp); return st; }
  return lp_io_tmp_commit(ctx, path, &tmp);
}

/* ---- atomic replacement ------------------------------------------------- */
static mode_t current_umask(void) {
  FILE *fp = fopen("/proc/self/status", "r");
  char line[256];
  unsigned m;
  mode_t old;
  if (fp) {
    while (fgets(line, sizeof line, fp))
      if (sscanf(line, "Umask: %o", &m) == 1) { fclose(fp); return (mode_t)m; }
    fclose(fp);
  }
  old = umask(022);     /* fallback: read it by setting it back at once */
  umask(old);
  return old;
}

lp_status lp_io_tmp_open(lp_ctx *ctx, const char *path, lp_io_tmp *f) {
  struct stat sb;
  mode_t mode;
  int fd, e;
  f->fp = NULL;
  f->tmpsize = strlen(path) + sizeof ".tmp.XXXXXX";
  f->tmp = lp_ctx_alloc_raw(ctx, f->tmpsize);
  if (!f->tmp) return LP_ENOMEM;
  snprintf(f->tmp, f->tmpsize, "%s.tmp.XXXXXX", path);
  fd = mkstemp(f->tmp);
  if (fd < 0) {
    e = errno;
    lp_ctx_dealloc(ctx, f->tmp, f->tmpsize);
    f->tmp = NULL;
    return lp_ctx_error(ctx, LP_EIO, 0, "cannot open '%s' for writing: %s", path, strerror(e));
  }
  /* mkstemp makes 0600; give the file the mode a plain fopen would */
  if (stat(path, &sb) == 0 && S_ISREG(sb.st_mode)) mode = sb.st_mode & 07777;
  else mode = 0666 & ~current_umask();
  (void)fchmod(fd, mode);
  f->fp = fdopen(fd, "wb");
  if (!f->fp) {
    e = errno;
    close(fd);
    unlink(f->tmp);
    lp_ctx_dealloc(ctx, f->tmp, f->tmpsize);
    f->tmp = NULL;
    return lp_ctx_error(ctx, LP_EIO, 0, "cannot open '%s' for writing: %s", path, strerror(e));
  }
  return LP_OK;
}

void lp_io_tmp_abort(lp_ctx *ctx, lp_io_tmp *f) {
  if (f->fp) fclose(f->fp);
  f->fp = NULL;
  if (f->tmp) {
    unlink(f->tmp);
    lp_ctx_dealloc(ctx, f->tmp, f->tmpsize);
    f->tmp = NULL;
  }
}

lp_status lp_io_tmp_commit(lp_ctx *ctx, const char *path, lp_io_tmp *f) {
  int e = 0;
  if (fflush(f->fp) != 0) e = errno;
  else if (fsync(fileno(f->fp)) != 0 && errno != EINVAL && errno != EROFS) e = errno;
  if (fclose(f->fp) != 0 && !e) e = errno;
  f->fp = NULL;
  if (!e && rename(f->tmp, path) != 0) e = errno;
  if (e) {
    lp_io_tmp_abort(ctx, f);
    return lp_ctx_error(ctx, LP_EIO, 0, "cannot write '%s': %s", path, strerror(e));
  }
  lp_ctx_dealloc(ctx, f->tmp, f->tmpsize);
  f->tmp = NULL;
  return LP_OK;
}
