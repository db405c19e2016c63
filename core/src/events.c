/*
** core/src/events.c -- kernels for event streams: argsort, searchsorted,
** per-slice cell counts (ToFrame), Tonic's Denoise filter, choosing k of n,
** and draws from an explicit (seed, counter).
** Owns: the loops a Lua transform cannot vectorise with tensor ops, and the
** exact integer time arithmetic (whole microseconds, 128-bit window bounds).
** Not here: slicing rules, options, 1-based ids
** (stdlib/limpet/data/transforms.lua).
** Notation: n events, T slices, 0-based positions and coordinates.
*/
#include "limpet/events.h"
#include "tensor_impl.h"
#include <math.h>

#define CHUNK 65536   /* events between interrupt polls */

/* A contiguous copy (or retained self) of a 1-d tensor in dtype dt. */
static lp_status as_vec(lp_ctx *ctx, const lp_tensor *t, lp_dtype dt, int arg, lp_tensor **out) {
  *out = NULL;
  if (t->ndim != 1)
    return lp_ctx_error(ctx, LP_ESHAPE, arg, "expected a 1-d tensor, got %d dims", t->ndim);
  if (t->dtype == LP_BOOL && dt != LP_BOOL)
    return lp_ctx_error(ctx, LP_ETYPE, arg, "expected a numeric tensor, got bool");
  if (t->dtype == dt) return lp_tensor_contiguous(ctx, (lp_tensor *)t, out);
  return lp_tensor_astype(ctx, t, dt, out);
}

static lp_status vec_out(lp_ctx *ctx, lp_dtype dt, int64_t n, lp_tensor **out) {
  return lp_tensor_empty(ctx, dt, 1, &n, out);
}

/* ---- argsort: bottom-up stable merge sort of positions by key ---------- */

/* NaN-last total order on doubles (NumPy's sort order). */
static int before(double a, double b) { return a < b || (a == a && b != b); }

static void merge_pass(const double *key, const int64_t *src, int64_t *dst, int64_t n, int64_t w) {
  int64_t lo;
  for (lo = 0; lo < n; lo += 2 * w) {
    int64_t mid = lo + w < n ? lo + w : n, hi = lo + 2 * w < n ? lo + 2 * w : n;
    int64_t i = lo, j = mid, k = lo;
    while (i < mid && j < hi) dst[k++] = before(key[src[j]], key[src[i]]) ? src[j++] : src[i++];
    while (i < mid) dst[k++] = src[i++];
    while (j < hi) dst[k++] = src[j++];
  }
}

lp_status lp_events_argsort(lp_ctx *ctx, const lp_tensor *v, lp_tensor **out) {
  lp_tensor *kv;
  lp_status st;
  const double *key;
  int64_t n, i, w, *a, *b = NULL;
  int sorted = 1;
  *out = NULL;
  if ((st = as_vec(ctx, v, LP_F64, 1, &kv)) != LP_OK) return st;
  n = kv->shape[0];
  key = (const double *)lp_ptr(kv);
  if ((st = vec_out(ctx, LP_I64, n, out)) != LP_OK) goto done;
  a = lp_tensor_data(*out);
  for (i = 0; i < n; i++) {
    a[i] = i;
    if (i > 0 && before(key[i], key[i - 1])) sorted = 0;
  }
  if (sorted) goto done;
  b = lp_ctx_alloc_raw(ctx, (size_t)n * sizeof *b);
  if (!b) { st = LP_ENOMEM; goto done; }
  /* runs of 16 by insertion sort, then merges ping-pong between a and b */
  for (i = 0; i < n; i += 16) {
    int64_t hi = i + 16 < n ? i + 16 : n, j;
    for (j = i + 1; j < hi; j++) {
      int64_t p = a[j], k = j;
      while (k > i && before(key[p], key[a[k - 1]])) { a[k] = a[k - 1]; k--; }
      a[k] = p;
    }
  }
  {
    int64_t *src = a, *dst = b;
    for (w = 16; w < n; w *= 2) {
      int64_t *tmp;
      if ((st = lp_ctx_check_interrupt(ctx)) != LP_OK) goto done;
      merge_pass(key, src, dst, n, w);
      tmp = src; src = dst; dst = tmp;
    }
    if (src != a) memcpy(a, src, (size_t)n * sizeof *a);
  }
done:
  if (b) lp_ctx_dealloc(ctx, b, (size_t)n * sizeof *b);
  lp_tensor_release(kv);
  if (st != LP_OK) { lp_tensor_release(*out); *out = NULL; }
  return st;
}

/* ---- take (gather rows) --------------------------------------------------- */

lp_status lp_events_take(lp_ctx *ctx, const lp_tensor *v, const lp_tensor *index, lp_tensor **out) {
  lp_tensor *vc = NULL, *ic = NULL;
  lp_status st;
  int64_t n, m, i, shape[LP_MAXDIM];
  size_t row;
  const int64_t *ip;
  const char *src;
  char *dst;
  int d;
  *out = NULL;
  if (v->ndim < 1) return lp_ctx_error(ctx, LP_ESHAPE, 1, "expected at least 1 dim, got 0");
  if ((st = as_vec(ctx, index, LP_I64, 2, &ic)) != LP_OK) return st;
  if ((st = lp_tensor_contiguous(ctx, (lp_tensor *)v, &vc)) != LP_OK) goto done;
  n = v->shape[0]; m = ic->shape[0];
  row = lp_dtype_size(v->dtype);
  for (d = 1; d < v->ndim; d++) row *= (size_t)v->shape[d];
  ip = (const int64_t *)lp_ptr(ic);
  for (i = 0; i < m; i++)
    if (ip[i] < 0 || ip[i] >= n) {
      st = lp_ctx_error(ctx, LP_ERANGE, 2, "position %lld outside 0..%lld", (long long)ip[i], (long long)(n - 1));
      goto done;
    }
  for (d = 0; d < v->ndim; d++) shape[d] = v->shape[d];
  shape[0] = m;
  if ((st = lp_tensor_empty(ctx, v->dtype, v->ndim, shape, out)) != LP_OK) goto done;
  src = lp_ptr(vc); dst = lp_tensor_data(*out);
  switch (row) {
  case 1: for (i = 0; i < m; i++) dst[i] = src[ip[i]]; break;
  case 2: for (i = 0; i < m; i++) ((uint16_t *)dst)[i] = ((const uint16_t *)src)[ip[i]]; break;
  case 4: for (i = 0; i < m; i++) ((uint32_t *)dst)[i] = ((const uint32_t *)src)[ip[i]]; break;
  case 8: for (i = 0; i < m; i++) ((uint64_t *)dst)[i] = ((const uint64_t *)src)[ip[i]]; break;
  default: for (i = 0; i < m; i++) memcpy(dst + (size_t)i * row, src + (size_t)ip[i] * row, row);
  }
done:
  lp_tensor_release(vc); lp_tensor_release(ic);
  if (st != LP_OK) { lp_tensor_release(*out); *out = NULL; }
  return st;
}

/* ---- searchsorted ----------------------------------------------------- */

lp_status lp_events_searchsorted(lp_ctx *ctx, const lp_tensor *sorted, const lp_tensor *values,
                                 int right, lp_tensor **out) {
  lp_tensor *s = NULL, *v = NULL;
  lp_status st;
  int64_t n, m, i, *o;
  const double *sp, *vp;
  *out = NULL;
  if ((st = as_vec(ctx, sorted, LP_F64, 1, &s)) != LP_OK) return st;
  if ((st = as_vec(ctx, values, LP_F64, 2, &v)) != LP_OK) goto done;
  n = s->shape[0]; m = v->shape[0];
  sp = (const double *)lp_ptr(s); vp = (const double *)lp_ptr(v);
  if ((st = vec_out(ctx, LP_I64, m, out)) != LP_OK) goto done;
  o = lp_tensor_data(*out);
  for (i = 0; i < m; i++) {
    int64_t lo = 0, hi = n;
    double x = vp[i];
    while (lo < hi) {
      int64_t mid = lo + (hi - lo) / 2;
      if (right ? sp[mid] <= x : sp[mid] < x) lo = mid + 1; else hi = mid;
    }
    o[i] = lo;
  }
done:
  lp_tensor_release(s);
  lp_tensor_release(v);
  return st;
}

/* ---- the microsecond grid ------------------------------------------------ */

#define TIME_LIMIT 9007199254740992.0   /* 2^53 microseconds: times x 1000 (ns) fit int64 */

lp_status lp_events_micros(lp_ctx *ctx, const lp_tensor *t, lp_tensor **out) {
  lp_tensor *tv;
  lp_status st;
  int64_t n, i, *o;
  const double *tp;
  *out = NULL;
  if ((st = as_vec(ctx, t, LP_F64, 1, &tv)) != LP_OK) return st;
  n = tv->shape[0];
  tp = (const double *)lp_ptr(tv);
  if ((st = vec_out(ctx, LP_I64, n, out)) != LP_OK) goto done;
  o = lp_tensor_data(*out);
  for (i = 0; i < n; i++) {
    double p = tp[i] * 1e6, r, tol;
    if (!(fabs(p) < TIME_LIMIT)) {
      st = lp_ctx_error(ctx, LP_ERANGE, 1, "event %lld has time %g s, outside the microsecond range",
                        (long long)(i + 1), tp[i]);
      goto done;
    }
    r = nearbyint(p);
    tol = fabs(p) > 1.0 ? fabs(p) * 0x1p-40 : 0x1p-40;
    o[i] = (int64_t)(fabs(p - r) <= tol ? r : floor(p));
  }
done:
  lp_tensor_release(tv);
  if (st != LP_OK) { lp_tensor_release(*out); *out = NULL; }
  return st;
}

/* ---- exact time windows ------------------------------------------------- */

typedef __int128 i128;

/* First position i in t[0..n) with t[i] * c >= x (t ascending). */
static int64_t first_at_or_after(const int64_t *t, int64_t n, i128 c, i128 x) {
  int64_t lo = 0, hi = n;
  while (lo < hi) {
    int64_t mid = lo + (hi - lo) / 2;
    if ((i128)t[mid] * c < x) lo = mid + 1; else hi = mid;
  }
  return lo;
}

lp_status lp_events_time_slices(lp_ctx *ctx, const lp_tensor *t, int64_t nslices,
                                const int64_t a[2], const int64_t b[2], const int64_t w[2],
                                int64_t c, lp_tensor **start, lp_tensor **stop) {
  const i128 cap = (i128)1 << 124;
  lp_tensor *tv;
  lp_status st;
  i128 A = (i128)a[0] * a[1], B = (i128)b[0] * b[1], W = (i128)w[0] * w[1];
  int64_t n, k, *sp, *ep;
  const int64_t *tp;
  *start = *stop = NULL;
  if (nslices < 0 || c <= 0)
    return lp_ctx_error(ctx, LP_EARG, 0, "need nslices >= 0 and c > 0, got %lld and %lld",
                        (long long)nslices, (long long)c);
  if (A >= cap || A <= -cap || W >= cap || W <= -cap || B >= cap || B <= -cap ||
      (nslices > 0 && (B >= cap / nslices || B <= -cap / nslices)))
    return lp_ctx_error(ctx, LP_EARG, 0, "time window bounds too large for exact arithmetic");
  if ((st = as_vec(ctx, t, LP_I64, 1, &tv)) != LP_OK) return st;
  n = tv->shape[0];
  tp = (const int64_t *)lp_ptr(tv);
  if ((st = vec_out(ctx, LP_I64, nslices, start)) != LP_OK) goto done;
  if ((st = vec_out(ctx, LP_I64, nslices, stop)) != LP_OK) goto done;
  sp = lp_tensor_data(*start); ep = lp_tensor_data(*stop);
  for (k = 0; k < nslices; k++) {
    i128 lo = A + (i128)k * B;
    if (k % CHUNK == CHUNK - 1 && (st = lp_ctx_check_interrupt(ctx)) != LP_OK) goto done;
    sp[k] = first_at_or_after(tp, n, c, lo);
    ep[k] = first_at_or_after(tp, n, c, lo + W);
    if (ep[k] < sp[k]) ep[k] = sp[k];   /* unsorted times: never a negative slice */
  }
done:
  lp_tensor_release(tv);
  if (st != LP_OK) {
    lp_tensor_release(*start); lp_tensor_release(*stop);
    *start = *stop = NULL;
  }
  return st;
}

/* ---- per-slice counts --------------------------------------------------- */

lp_status lp_events_count(lp_ctx *ctx, const lp_tensor *cell, const lp_tensor *start,
                          const lp_tensor *stop, int64_t ncells, lp_tensor **out) {
  lp_tensor *c = NULL, *a = NULL, *b = NULL;
  lp_status st;
  int64_t n, T, k, i, shape[2];
  const int64_t *cp, *ap, *bp;
  float *o;
  *out = NULL;
  if (ncells < 0) return lp_ctx_error(ctx, LP_EARG, 0, "number of cells must be non-negative");
  if ((st = as_vec(ctx, cell, LP_I64, 1, &c)) != LP_OK) return st;
  if ((st = as_vec(ctx, start, LP_I64, 2, &a)) != LP_OK) goto done;
  if ((st = as_vec(ctx, stop, LP_I64, 3, &b)) != LP_OK) goto done;
  n = c->shape[0]; T = a->shape[0];
  if (b->shape[0] != T) {
    st = lp_ctx_error(ctx, LP_ESHAPE, 3, "expected %lld slice ends, got %lld", (long long)T,
                      (long long)b->shape[0]);
    goto done;
  }
  cp = (const int64_t *)lp_ptr(c); ap = (const int64_t *)lp_ptr(a); bp = (const int64_t *)lp_ptr(b);
  for (i = 0; i < n; i++)
    if (cp[i] < 0 || cp[i] >= ncells) {
      st = lp_ctx_error(ctx, LP_ERANGE, 1, "event %lld lies outside the %lld cells", (long long)(i + 1),
                        (long long)ncells);
      goto done;
    }
  for (k = 0; k < T; k++)
    if (ap[k] < 0 || bp[k] > n || ap[k] > bp[k]) {
      st = lp_ctx_error(ctx, LP_ERANGE, 2, "slice %lld [%lld, %lld) outside the %lld events",
                        (long long)(k + 1), (long long)ap[k], (long long)bp[k], (long long)n);
      goto done;
    }
  shape[0] = T; shape[1] = ncells;
  if ((st = lp_tensor_new(ctx, LP_F32, 2, shape, out)) != LP_OK) goto done;
  o = lp_tensor_data(*out);
  for (k = 0; k < T; k++) {
    float *row = o + k * ncells;
    if (k % 64 == 63 && (st = lp_ctx_check_interrupt(ctx)) != LP_OK) goto done;
    for (i = ap[k]; i < bp[k]; i++) row[cp[i]] += 1.0f;
  }
done:
  lp_tensor_release(c); lp_tensor_release(a); lp_tensor_release(b);
  if (st != LP_OK) { lp_tensor_release(*out); *out = NULL; }
  return st;
}

/* ---- denoise ------------------------------------------------------------ */

lp_status lp_events_denoise(lp_ctx *ctx, const lp_tensor *t, const lp_tensor *x,
                            const lp_tensor *y, int64_t filter_time, lp_tensor **out) {
  const int64_t limit = (int64_t)1 << 62;
  lp_tensor *tv = NULL, *xv = NULL, *yv = NULL;
  lp_status st;
  int64_t n, i, W = 0, H = 0;
  const int64_t *tp, *xp, *yp;
  int64_t *stamp = NULL;
  size_t nb = 0;
  uint8_t *keep;
  *out = NULL;
  if (filter_time < 0 || filter_time >= limit)
    return lp_ctx_error(ctx, LP_EARG, 4, "filter time must lie in [0, 2^62), got %lld", (long long)filter_time);
  if ((st = as_vec(ctx, t, LP_I64, 1, &tv)) != LP_OK) return st;
  if ((st = as_vec(ctx, x, LP_I64, 2, &xv)) != LP_OK) goto done;
  if ((st = as_vec(ctx, y, LP_I64, 3, &yv)) != LP_OK) goto done;
  n = tv->shape[0];
  if (xv->shape[0] != n || yv->shape[0] != n) {
    st = lp_ctx_error(ctx, LP_ESHAPE, xv->shape[0] != n ? 2 : 3, "expected %lld events", (long long)n);
    goto done;
  }
  tp = (const int64_t *)lp_ptr(tv); xp = (const int64_t *)lp_ptr(xv); yp = (const int64_t *)lp_ptr(yv);
  for (i = 0; i < n; i++) {
    if (tp[i] >= limit || tp[i] <= -limit) {
      st = lp_ctx_error(ctx, LP_ERANGE, 1, "event %lld has time %lld, outside (-2^62, 2^62)",
                        (long long)(i + 1), (long long)tp[i]);
      goto done;
    }
    if (xp[i] < 0 || yp[i] < 0) {
      st = lp_ctx_error(ctx, LP_ERANGE, xp[i] < 0 ? 2 : 3, "event %lld has a negative coordinate",
                        (long long)(i + 1));
      goto done;
    }
    if (xp[i] + 1 > W) W = xp[i] + 1;
    if (yp[i] + 1 > H) H = yp[i] + 1;
  }
  if ((st = vec_out(ctx, LP_BOOL, n, out)) != LP_OK) goto done;
  keep = lp_tensor_data(*out);
  if (n == 0) goto done;
  {
    int64_t shape[2]; size_t bytes;
    shape[0] = W; shape[1] = H;
    if ((st = lp_tensor_check_size(ctx, LP_I64, 2, shape, &bytes)) != LP_OK) goto done;
    nb = bytes;
  }
  stamp = lp_ctx_alloc_raw(ctx, nb);
  if (!stamp) { st = LP_ENOMEM; goto done; }
  for (i = 0; i < W * H; i++) stamp[i] = filter_time;
  for (i = 0; i < n; i++) {
    int64_t px = xp[i], py = yp[i], c = px * H + py, ti = tp[i];
    if (i % CHUNK == CHUNK - 1 && (st = lp_ctx_check_interrupt(ctx)) != LP_OK) goto done;
    stamp[c] = ti + filter_time;
    keep[i] = (px > 0 && stamp[c - H] > ti) || (px < W - 1 && stamp[c + H] > ti) ||
              (py > 0 && stamp[c - 1] > ti) || (py < H - 1 && stamp[c + 1] > ti);
  }
done:
  if (stamp) lp_ctx_dealloc(ctx, stamp, nb);
  lp_tensor_release(tv); lp_tensor_release(xv); lp_tensor_release(yv);
  if (st != LP_OK) { lp_tensor_release(*out); *out = NULL; }
  return st;
}

/* ---- random ------------------------------------------------------------- */

lp_status lp_events_choose(lp_ctx *ctx, uint64_t seed, uint64_t counter, int64_t n, int64_t k,
                           lp_tensor **out) {
  lp_status st;
  int64_t i, *perm;
  uint8_t *m;
  *out = NULL;
  if (n < 0 || k < 0 || k > n)
    return lp_ctx_error(ctx, LP_EARG, 0, "cannot choose %lld of %lld", (long long)k, (long long)n);
  if ((st = vec_out(ctx, LP_BOOL, n, out)) != LP_OK) return st;
  m = lp_tensor_data(*out);
  memset(m, 0, (size_t)n);
  if (k == 0) return LP_OK;
  perm = lp_ctx_alloc_raw(ctx, (size_t)n * sizeof *perm);
  if (!perm) { lp_tensor_release(*out); *out = NULL; return LP_ENOMEM; }
  for (i = 0; i < n; i++) perm[i] = i;
  for (i = 0; i < k; i++) {
    int64_t j = i + (int64_t)(lp_random_uniform(seed, counter + (uint64_t)i) * (double)(n - i)), tmp;
    if (j >= n) j = n - 1;
    tmp = perm[i]; perm[i] = perm[j]; perm[j] = tmp;
    m[perm[i]] = 1;
  }
  lp_ctx_dealloc(ctx, perm, (size_t)n * sizeof *perm);
  return LP_OK;
}

lp_status lp_events_uniform(lp_ctx *ctx, uint64_t seed, uint64_t counter, int64_t n,
                            lp_tensor **out) {
  lp_status st;
  int64_t i;
  double *p;
  if ((st = vec_out(ctx, LP_F64, n, out)) != LP_OK) return st;
  p = lp_tensor_data(*out);
  for (i = 0; i < n; i++) p[i] = lp_random_uniform(seed, counter + (uint64_t)i);
  return LP_OK;
}

lp_status lp_events_normal(lp_ctx *ctx, uint64_t seed, uint64_t counter, int64_t n,
                           lp_tensor **out) {
  lp_status st;
  int64_t i;
  double *p;
  if ((st = vec_out(ctx, LP_F64, n, out)) != LP_OK) return st;
  p = lp_tensor_data(*out);
  for (i = 0; i < n; i++) {
    double u1 = 1.0 - lp_random_uniform(seed, counter + 2 * (uint64_t)i);
    double u2 = lp_random_uniform(seed, counter + 2 * (uint64_t)i + 1);
    p[i] = sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2);
  }
  return LP_OK;
}
