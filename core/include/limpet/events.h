/*
** core/include/limpet/events.h -- kernels for event streams (the data
** pipeline's transforms: stdlib/limpet/data/transforms.lua).
** Owns: stable argsort, gather by positions, searchsorted, event times on
** Tonic's whole-microsecond grid, time windows in exact integer arithmetic,
** per-slice cell counts (frames), the nearest-neighbour denoise filter,
** choosing k of n without replacement, and seeded uniform / normal draws
** from an explicit (seed, counter).
** Not here: slicing rules and option handling (Lua), general random draws
** on the context's stream (random.h).
** Conventions: 0-based positions and coordinates; a 1-d tensor of any
** numeric dtype is accepted where "values" are read (converted on entry);
** results are new contiguous tensors the caller owns.
*/
#ifndef LIMPET_EVENTS_H
#define LIMPET_EVENTS_H

#include "limpet/tensor.h"

/* Positions (int64, 0-based) that sort v (1-d) ascending; equal values keep
   their order (stable). */
lp_status lp_events_argsort(lp_ctx *ctx, const lp_tensor *v, lp_tensor **out);

/* Gather: out[i] = v[index[i]] along dim 0 of v (any dtype, any trailing
   dims); index 1-d int64, 0-based, each checked against v's length. */
lp_status lp_events_take(lp_ctx *ctx, const lp_tensor *v, const lp_tensor *index, lp_tensor **out);

/* For each element of values (1-d), its insertion point (int64, 0-based) in
   sorted (1-d, ascending): left = first i with sorted[i] >= v, right = first
   i with sorted[i] > v (NumPy's searchsorted). */
lp_status lp_events_searchsorted(lp_ctx *ctx, const lp_tensor *sorted, const lp_tensor *values,
                                 int right, lp_tensor **out);

/* Event times t (seconds, any numeric dtype) on Tonic's grid: int64 whole
   microseconds. p = t * 1e6 counts as the integer nearest to it when it lies
   within floating rounding of it (|p - round(p)| <= 2^-40 max(|p|, 1): times
   written as microseconds / 1e6), otherwise as floor(p) (finer times are
   truncated, as Tonic's readers truncate t * 1e6 to an integer). A NaN,
   infinite or out-of-range (|p| >= 2^53) time is an error (LP_ERANGE). */
lp_status lp_events_micros(lp_ctx *ctx, const lp_tensor *t, lp_tensor **out);

/* Time windows in exact integer arithmetic. t: 1-d, integer times
   (ascending); window k = 0 .. nslices-1 holds the events with
       A + k B <= t c < A + k B + W,    A = a[0] a[1], B = b[0] b[1], W = w[0] w[1]
   (products and sums in 128 bits; c > 0), i.e. the window
   [(A + k B) / c, (A + k B + W) / c) as an exact rational. start, stop:
   int64 (nslices) positions into t, stop >= start (NumPy's searchsorted,
   left side, of both bounds). LP_EARG when a term does not fit. */
lp_status lp_events_time_slices(lp_ctx *ctx, const lp_tensor *t, int64_t nslices,
                                const int64_t a[2], const int64_t b[2], const int64_t w[2],
                                int64_t c, lp_tensor **start, lp_tensor **stop);

/* Frames: out (T, ncells) float32 with out[k, cell[i]] += 1 for every event
   start[k] <= i < stop[k] (start, stop: T positions into cell). A cell
   outside [0, ncells) is an error naming the event (LP_ERANGE, arg 1). */
lp_status lp_events_count(lp_ctx *ctx, const lp_tensor *cell, const lp_tensor *start,
                          const lp_tensor *stop, int64_t ncells, lp_tensor **out);

/* Tonic's Denoise: walking the events in order, event i (t, x, y) stamps its
   pixel with t + filter_time and is kept (bool out) when one of its 4
   neighbours inside [0, max x] x [0, max y] has a stamp > t; stamps start
   at filter_time. t: integer times (converted to int64; |t| < 2^62),
   filter_time in the same unit (0 <= filter_time < 2^62): exact
   comparisons. x, y: non-negative integers. */
lp_status lp_events_denoise(lp_ctx *ctx, const lp_tensor *t, const lp_tensor *x,
                            const lp_tensor *y, int64_t filter_time, lp_tensor **out);

/* A bool (n) mask with exactly k true entries chosen uniformly without
   replacement (partial Fisher-Yates on counters counter .. counter+k-1). */
lp_status lp_events_choose(lp_ctx *ctx, uint64_t seed, uint64_t counter, int64_t n, int64_t k,
                           lp_tensor **out);

/* n float64 draws: uniform on [0, 1) (counter + i) or standard normal
   (Box-Muller on counters counter + 2i, counter + 2i + 1). */
lp_status lp_events_uniform(lp_ctx *ctx, uint64_t seed, uint64_t counter, int64_t n,
                            lp_tensor **out);
lp_status lp_events_normal(lp_ctx *ctx, uint64_t seed, uint64_t counter, int64_t n,
                           lp_tensor **out);

#endif
