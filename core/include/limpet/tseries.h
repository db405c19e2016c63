/*
** core/include/limpet/tseries.h -- kernels behind the time-series classes
** (stdlib/limpet/timeseries/): binning events into rasters, a stable sort of
** event times, and interpolation of sampled signals. Positions and channel
** ids are 0-based here; the Lua classes convert. Implemented in
** core/src/tseries.c.
*/
#ifndef LIMPET_TSERIES_H
#define LIMPET_TSERIES_H

#include "limpet/tensor.h"

/* Raster of events (times: float64 (n) seconds, channels: int64 (n) 0-based)
   into nsteps bins of width dt from t_start: bin k holds [t_start + k·dt,
   t_start + (k+1)·dt). An event whose bin position (t − t_start)/dt lies
   within 1e-9 (relative) below an integer counts in that integer's bin, so
   float rounding of clocked times never moves an event one bin early.
   Events outside [0, nsteps) bins or with channels outside [0, nchan) are
   dropped. out: (nsteps, nchan) bool (add_events 0) or int32 counts. */
lp_status lp_ts_raster(lp_ctx *ctx, const lp_tensor *times, const lp_tensor *channels,
                       double t_start, double dt, int64_t nsteps, int64_t nchan,
                       int add_events, lp_tensor **out);

/* Stable ascending sort positions of a 1-d float64 tensor: int64 (n),
   0-based. NaNs sort last. */
lp_status lp_ts_argsort(lp_ctx *ctx, const lp_tensor *v, lp_tensor **out);

typedef enum lp_interp { LP_INTERP_PREVIOUS = 0, LP_INTERP_LINEAR, LP_INTERP_NEXT,
                         LP_INTERP_NEAREST } lp_interp;

/* Interpolate samples ys (n, C) (float32 or float64) taken at the sorted
   times xs (float64 (n)) at the query times q (float64 (m)) -> (m, C) in ys's
   dtype. Outside [xs[0], xs[n-1]]: extrapolate != 0 continues the rule
   (previous: the last sample after the end, NaN before the start; next: the
   reverse; nearest: the edge sample; linear: the edge segment's line),
   otherwise every channel reads `fill`. With n == 1 every query inside or
   extrapolated reads the single sample. n == 0 is an error. */
lp_status lp_ts_interp(lp_ctx *ctx, const lp_tensor *xs, const lp_tensor *ys, const lp_tensor *q,
                       lp_interp kind, int extrapolate, double fill, lp_tensor **out);

#endif
