/*
** core/src/json_num.c -- numeric JSON arrays <-> tensors (see json.h for why
** this is ours and not the JSON library's).
** Owns: the strict JSON number grammar (RFC 8259 §6), the rectangular-shape
** check, and number formatting. Integers without fraction or exponent are
** accumulated exactly in int64 (falling back on strtod past 2^63); other
** numbers go through strtod.
*/
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "limpet/json.h"

static int is_ws(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }
static int is_digit(char c) { return c >= '0' && c <= '9'; }

/* One JSON number at s[i..n); returns the index after it, or 0 when the text
   there is not a number in JSON's grammar. */
static size_t scan_number(const char *s, size_t i, size_t n, double *v) {
  size_t start = i;
  int neg = 0, plain = 1;
  uint64_t acc = 0;
  int digits = 0;
  if (i < n && s[i] == '-') { neg = 1; i++; }
  if (i >= n || !is_digit(s[i])) return 0;
  if (s[i] == '0') {
    i++;
    if (i < n && is_digit(s[i])) return 0;   /* leading zero */
  } else {
    while (i < n && is_digit(s[i])) {
      if (digits < 19) acc = acc * 10 + (uint64_t)(s[i] - '0'); else plain = 0;
      digits++;
      i++;
    }
  }
  if (i < n && s[i] == '.') {
    plain = 0; i++;
    if (i >= n || !is_digit(s[i])) return 0;
    while (i < n && is_digit(s[i])) i++;
  }
  if (i < n && (s[i] == 'e' || s[i] == 'E')) {
    plain = 0; i++;
    if (i < n && (s[i] == '+' || s[i] == '-')) i++;
    if (i >= n || !is_digit(s[i])) return 0;
    while (i < n && is_digit(s[i])) i++;
  }
  if (plain && acc <= ((uint64_t)1 << 63)) {
    *v = neg ? -(double)acc : (double)acc;
  } else {
    char tmp[64];
    size_t k = i - start;
    if (k < sizeof tmp) {
      memcpy(tmp, s + start, k); tmp[k] = 0;
      *v = strtod(tmp, NULL);
    } else {
      char *big = malloc(k + 1);
      if (!big) return 0;
      memcpy(big, s + start, k); big[k] = 0;
      *v = strtod(big, NULL);
      free(big);
    }
  }
  return i;
}

lp_status lp_json_read_numbers(lp_ctx *ctx, const char *s, size_t n, size_t *used,
                               lp_tensor **out) {
  int64_t shape[LP_MAXDIM], count[LP_MAXDIM];
  int depth = 0, ndim = -1;       /* ndim fixed at the first number */
  size_t i = 0, cap = 0, nv = 0;
  double *vals = NULL;
  *out = NULL;
  for (int d = 0; d < LP_MAXDIM; d++) { shape[d] = -1; count[d] = 0; }
  if (n == 0 || s[0] != '[') return lp_ctx_error(ctx, LP_EFORMAT, 0, "not an array");
  for (;;) {
    /* at i: the start of a value inside an array at `depth` (or the outer '[') */
    while (i < n && is_ws(s[i])) i++;
    if (i >= n) goto notnum;
    if (s[i] == '[') {
      if (depth >= LP_MAXDIM || (ndim >= 0 && depth >= ndim)) goto notnum;
      count[depth] = 0;
      depth++;
      i++;
      continue;
    }
    if (ndim < 0) ndim = depth;
    if (depth != ndim) goto notnum;    /* a number where arrays were, or vice versa */
    if (nv == cap) {
      size_t ncap = cap ? cap * 2 : 256;
      if (ncap * sizeof(double) > lp_ctx_max_bytes(ctx)) { free(vals); goto toobig; }
      double *nvs = realloc(vals, ncap * sizeof(double));
      if (!nvs) { free(vals); return lp_ctx_error(ctx, LP_ENOMEM, 0, "not enough memory for a JSON array"); }
      vals = nvs; cap = ncap;
    }
    size_t j = scan_number(s, i, n, &vals[nv]);
    if (!j) goto notnum;
    nv++;
    i = j;
    /* after a value: ',' continues this array; ']' closes it and maybe its parents */
    for (;;) {
      while (i < n && is_ws(s[i])) i++;
      if (i >= n) goto notnum;
      if (s[i] == ',') { count[depth - 1]++; i++; break; }
      if (s[i] != ']') goto notnum;
      count[depth - 1]++;
      int d = depth - 1;
      if (shape[d] < 0) shape[d] = count[d];
      else if (shape[d] != count[d]) goto notnum;          /* ragged */
      depth--;
      i++;
      if (depth == 0) goto done;
    }
  }
done:
  {
    lp_status st = lp_tensor_from_data(ctx, LP_F64, ndim, shape, vals, out);
    free(vals);
    if (st != LP_OK) return st;
    *used = i;
    return LP_OK;
  }
notnum:
  free(vals);
  return lp_ctx_error(ctx, LP_EFORMAT, 0, "not a rectangular array of numbers");
toobig:
  return lp_ctx_error(ctx, LP_ESIZE, 0, "a JSON array needs more than the cap of %zu bytes",
                      lp_ctx_max_bytes(ctx));
}

/* ---- writing ------------------------------------------------------------ */

typedef struct { char *p; size_t n, cap; int oom; } sbuf;

static void put(sbuf *b, const char *s, size_t k) {
  if (b->oom) return;
  if (b->n + k > b->cap) {
    size_t ncap = b->cap ? b->cap : 4096;
    while (ncap < b->n + k) ncap *= 2;
    char *np = realloc(b->p, ncap);
    if (!np) { b->oom = 1; return; }
    b->p = np; b->cap = ncap;
  }
  memcpy(b->p + b->n, s, k);
  b->n += k;
}

static size_t fmt_int(char *out, int64_t v) {
  char tmp[24];
  size_t k = 0;
  uint64_t u = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
  do { tmp[k++] = (char)('0' + u % 10); u /= 10; } while (u);
  size_t m = 0;
  if (v < 0) out[m++] = '-';
  while (k) out[m++] = tmp[--k];
  return m;
}

static size_t fmt_float(char *out, double v) {
  int k = snprintf(out, 32, "%.15g", v);
  if (strtod(out, NULL) != v) k = snprintf(out, 32, "%.17g", v);
  if (!strpbrk(out, ".eEn")) { out[k++] = '.'; out[k++] = '0'; out[k] = 0; }
  return (size_t)k;
}

static void write_dim(sbuf *b, const lp_tensor *t, int d, const char *base, int isf, lp_dtype dt) {
  int nd = lp_tensor_ndim(t);
  const int64_t *sh = lp_tensor_shape(t), *st = lp_tensor_strides(t);
  size_t es = lp_dtype_size(dt);
  char num[40];
  put(b, "[", 1);
  for (int64_t i = 0; i < sh[d]; i++) {
    if (i) put(b, ",", 1);
    const char *p = base + (ptrdiff_t)(i * st[d]) * (ptrdiff_t)es;
    if (d + 1 < nd) { write_dim(b, t, d + 1, p, isf, dt); continue; }
    size_t k = isf ? fmt_float(num, lp_load_f(dt, p)) : fmt_int(num, lp_load_i(dt, p));
    put(b, num, k);
  }
  put(b, "]", 1);
}

static int has_nonfinite(const lp_tensor *t, int d, const char *base) {
  int nd = lp_tensor_ndim(t);
  const int64_t *sh = lp_tensor_shape(t), *st = lp_tensor_strides(t);
  lp_dtype dt = lp_tensor_dtype(t);
  size_t es = lp_dtype_size(dt);
  if (nd == 0) return !isfinite(lp_load_f(dt, base));
  for (int64_t i = 0; i < sh[d]; i++) {
    const char *p = base + (ptrdiff_t)(i * st[d]) * (ptrdiff_t)es;
    if (d + 1 < nd ? has_nonfinite(t, d + 1, p) : !isfinite(lp_load_f(dt, p))) return 1;
  }
  return 0;
}

lp_status lp_json_write_numbers(lp_ctx *ctx, const lp_tensor *t, char **buf, size_t *len) {
  lp_dtype dt = lp_tensor_dtype(t);
  int isf = lp_dtype_is_float(dt);
  const char *base = lp_tensor_data(t);
  sbuf b = { NULL, 0, 0, 0 };
  *buf = NULL; *len = 0;
  if (isf && lp_tensor_numel(t) > 0 && has_nonfinite(t, 0, base))
    return lp_ctx_error(ctx, LP_EARG, 1, "JSON cannot hold NaN or infinite values");
  if (lp_tensor_ndim(t) == 0) {
    char num[40];
    size_t k = isf ? fmt_float(num, lp_load_f(dt, base)) : fmt_int(num, lp_load_i(dt, base));
    put(&b, num, k);
  } else {
    write_dim(&b, t, 0, base, isf, dt);
  }
  if (b.oom) { free(b.p); return lp_ctx_error(ctx, LP_ENOMEM, 0, "not enough memory for JSON text"); }
  *buf = b.p; *len = b.n;
  return LP_OK;
}
