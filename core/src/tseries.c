/*
** core/src/tseries.c -- time-series kernels (see limpet/tseries.h): event
** rasters, sorting event times (through the merge sort of events.c),
** interpolation.
*/
#include <math.h>
#include <string.h>

#include "limpet/tseries.h"
#include "limpet/events.h"

/* A contiguous float64 / int64 copy-or-view of a 1-d tensor. */
static lp_status as_1d(lp_ctx *ctx, const lp_tensor *t, lp_dtype dt, int arg, const char *what,
                       lp_tensor **out) {
  lp_tensor *c;
  lp_status st;
  *out = NULL;
  if (lp_tensor_ndim(t) != 1)
    return lp_ctx_error(ctx, LP_ESHAPE, arg, "expected a 1-d tensor of %s, got %d dims", what,
                        lp_tensor_ndim(t));
  if (lp_tensor_dtype(t) == dt) return lp_tensor_contiguous(ctx, (lp_tensor *)t, out);
  if ((st = lp_tensor_astype(ctx, t, dt, &c)) != LP_OK) return st;
  *out = c;
  return LP_OK;
}

lp_status lp_ts_raster(lp_ctx *ctx, const lp_tensor *times, const lp_tensor *channels,
                       double t_start, double dt, int64_t nsteps, int64_t nchan,
                       int add_events, lp_tensor **out) {
  lp_tensor *tt = NULL, *cc = NULL, *r = NULL;
  int64_t n, i, shape[2];
  const double *tv;
  const int64_t *cv;
  lp_status st;
  *out = NULL;
  if (!(dt > 0) || !isfinite(dt)) return lp_ctx_error(ctx, LP_EARG, 0, "dt must be positive, got %g", dt);
  if (nsteps < 0 || nchan < 0) return lp_ctx_error(ctx, LP_EARG, 0, "negative raster size");
  if ((st = as_1d(ctx, times, LP_F64, 1, "times", &tt)) != LP_OK) return st;
  if ((st = as_1d(ctx, channels, LP_I64, 2, "channels", &cc)) != LP_OK) goto done;
  n = lp_tensor_size(tt, 0);
  if (lp_tensor_size(cc, 0) != n) {
    st = lp_ctx_error(ctx, LP_ESHAPE, 2, "expected %lld channels (one per event), got %lld",
                      (long long)n, (long long)lp_tensor_size(cc, 0));
    goto done;
  }
  shape[0] = nsteps; shape[1] = nchan;
  if ((st = lp_tensor_new(ctx, add_events ? LP_I32 : LP_BOOL, 2, shape, &r)) != LP_OK) goto done;
  tv = lp_tensor_data(tt);
  cv = lp_tensor_data(cc);
  {
    char *data = lp_tensor_data(r);
    for (i = 0; i < n; i++) {
      double x = (tv[i] - t_start) / dt, f;
      int64_t k, c = cv[i];
      if (!(x > -1e-9) || c < 0 || c >= nchan) continue;
      f = floor(x);
      if (x - f >= 1.0 - 1e-9 * (x > 1.0 ? x : 1.0)) f += 1.0;   /* rounding just below a bin edge */
      if (f >= (double)nsteps) continue;
      k = (int64_t)f;
      if (k < 0) k = 0;
      if (add_events) {
        int32_t *p = (int32_t *)data + k * nchan + c;
        if (*p < INT32_MAX) (*p)++;
      } else {
        ((unsigned char *)data)[k * nchan + c] = 1;
      }
    }
  }
  *out = r;
  r = NULL;
done:
  lp_tensor_release(tt);
  lp_tensor_release(cc);
  lp_tensor_release(r);
  return st;
}

/* Stable, NaN-last: the event kernels' merge sort (events.c), after the
   check that names the argument "times". */
lp_status lp_ts_argsort(lp_ctx *ctx, const lp_tensor *v, lp_tensor **out) {
  lp_tensor *vv = NULL;
  lp_status st;
  *out = NULL;
  if ((st = as_1d(ctx, v, LP_F64, 1, "times", &vv)) != LP_OK) return st;
  st = lp_events_argsort(ctx, vv, out);
  lp_tensor_release(vv);
  return st;
}

lp_status lp_ts_interp(lp_ctx *ctx, const lp_tensor *xs, const lp_tensor *ys, const lp_tensor *q,
                       lp_interp kind, int extrapolate, double fill, lp_tensor **out) {
  lp_tensor *xx = NULL, *yy = NULL, *qq = NULL, *r = NULL;
  lp_dtype dt = lp_tensor_dtype(ys);
  int64_t n, m, c, j, shape[2];
  const double *xv, *qv;
  lp_status st;
  *out = NULL;
  if (dt != LP_F32 && dt != LP_F64)
    return lp_ctx_error(ctx, LP_ETYPE, 2, "expected float32 or float64 samples, got %s", lp_dtype_name(dt));
  if (lp_tensor_ndim(ys) != 2)
    return lp_ctx_error(ctx, LP_ESHAPE, 2, "expected samples (T, C), got %d dims", lp_tensor_ndim(ys));
  if ((st = as_1d(ctx, xs, LP_F64, 1, "times", &xx)) != LP_OK) return st;
  if ((st = as_1d(ctx, q, LP_F64, 3, "times", &qq)) != LP_OK) goto done;
  if ((st = lp_tensor_contiguous(ctx, (lp_tensor *)ys, &yy)) != LP_OK) goto done;
  n = lp_tensor_size(xx, 0); c = lp_tensor_size(yy, 1); m = lp_tensor_size(qq, 0);
  if (lp_tensor_size(yy, 0) != n) {
    st = lp_ctx_error(ctx, LP_ESHAPE, 2, "expected %lld samples, got %lld", (long long)n,
                      (long long)lp_tensor_size(yy, 0));
    goto done;
  }
  if (n == 0) { st = lp_ctx_error(ctx, LP_EARG, 1, "cannot interpolate a series without samples"); goto done; }
  shape[0] = m; shape[1] = c;
  if ((st = lp_tensor_empty(ctx, dt, 2, shape, &r)) != LP_OK) goto done;
  xv = lp_tensor_data(xx); qv = lp_tensor_data(qq);
  {
    const void *yv = lp_tensor_data(yy);
    void *ov = lp_tensor_data(r);
#define YAT(i, k) (dt == LP_F64 ? ((const double *)yv)[(i) * c + (k)] : (double)((const float *)yv)[(i) * c + (k)])
#define OUT(i, k, v) do { if (dt == LP_F64) ((double *)ov)[(i) * c + (k)] = (v); \
                          else ((float *)ov)[(i) * c + (k)] = (float)(v); } while (0)
    for (j = 0; j < m; j++) {
      double t = qv[j];
      int64_t lo = 0, hi = n, k, i0, i1;   /* lo: number of xs <= t */
      int outside = !(t >= xv[0] && t <= xv[n - 1]);
      if ((j & 0xffff) == 0 && lp_ctx_check_interrupt(ctx)) { st = LP_EINTR; goto done; }
      while (lo < hi) { int64_t mid = lo + (hi - lo) / 2; if (xv[mid] <= t) lo = mid + 1; else hi = mid; }
      if (t != t || (outside && !extrapolate)) {
        double v = t != t ? NAN : fill;
        for (k = 0; k < c; k++) OUT(j, k, v);
        continue;
      }
      if (n == 1) { for (k = 0; k < c; k++) OUT(j, k, YAT(0, k)); continue; }
      i0 = lo - 1; i1 = lo;                /* xs[i0] <= t < xs[i1] */
      switch (kind) {
        case LP_INTERP_PREVIOUS:
          for (k = 0; k < c; k++) OUT(j, k, i0 < 0 ? NAN : YAT(i0, k));
          break;
        case LP_INTERP_NEXT: {
          int64_t s = (i0 >= 0 && xv[i0] == t) ? i0 : i1;
          for (k = 0; k < c; k++) OUT(j, k, s >= n ? NAN : YAT(s, k));
          break;
        }
        case LP_INTERP_NEAREST: {
          int64_t s = i0 < 0 ? 0 : i1 >= n ? n - 1 : (t - xv[i0] <= xv[i1] - t ? i0 : i1);
          for (k = 0; k < c; k++) OUT(j, k, YAT(s, k));
          break;
        }
        default: {
          int64_t a = i0 < 0 ? 0 : i0 >= n - 1 ? n - 2 : i0, b;
          double w;
          while (a > 0 && xv[a + 1] == xv[a]) a--;          /* a segment of nonzero width */
          b = a + 1;
          while (b < n - 1 && xv[b] == xv[a]) b++;
          w = xv[b] == xv[a] ? 0.0 : (t - xv[a]) / (xv[b] - xv[a]);
          if (i0 >= 0 && xv[i0] == t) { for (k = 0; k < c; k++) OUT(j, k, YAT(i0, k)); break; }
          for (k = 0; k < c; k++) OUT(j, k, YAT(a, k) + w * (YAT(b, k) - YAT(a, k)));
          break;
        }
      }
    }
#undef YAT
#undef OUT
  }
  *out = r;
  r = NULL;
done:
  lp_tensor_release(xx);
  lp_tensor_release(yy);
  lp_tensor_release(qq);
  lp_tensor_release(r);
  return st;
}
