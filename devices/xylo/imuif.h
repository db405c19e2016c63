/*
** devices/xylo/imuif.h -- the Xylo IMU input interface (IMU IF, SYNS63300),
** bit-exact after Rockpool's IMUIFSim (reference/xylo.md §11.4): rotation
** removal (covariance estimate, sample-and-hold, Jacobi SVD, rotation),
** the integer band-pass filter bank and the two spike encoders.
** Owns: the integer sample loops of every stage, each callable on its own.
** Not here: options, defaults, filter design and messages about option
** values (devices/xylo/imuif.lua), the Lua face (lua/l_imuif.c).
**
** Tensors are batch-major: (B, T, C). Inputs of any integer dtype (or
** floats holding integers); outputs are new int64 tensors. Every batch row
** runs from the same starting state. Arithmetic is 64-bit (128-bit where a
** product can leave 64 bits) and matches Rockpool's unbounded Python
** integers because every value is range-checked where Rockpool checks it;
** where Rockpool raises, these return LP_EARG with Rockpool's reason.
*/
#ifndef LIMPET_IMUIF_H
#define LIMPET_IMUIF_H

#include "limpet/tensor.h"

#define LP_IMUIF_MAXFILT 64

/* One band-pass filter of the bank (Rockpool's BandPassFilter): 4-bit
   B_b, B_wf, B_af, 17-bit signed a1, a2. */
typedef struct lp_imuif_filter {
  int B_b, B_wf, B_af;
  int64_t a1, a2;
} lp_imuif_filter;

/* Covariance estimate (SubSpace): per sample P = x xᵀ, C_hp += P - (C_hp >> k),
   output C_hp >> k, flattened row-major (B, T, 9). x: (B, T, 3) with
   |x| <= 32767. state: the 9 high-precision words every row starts from;
   on return it holds row 0's final words. k: 0..31. */
lp_status lp_imuif_subspace(lp_ctx *ctx, const lp_tensor *x, int k, int64_t state[9],
                            lp_tensor **out);

/* Sample and hold along time: out[t] = x[period * floor(t / period)]. */
lp_status lp_imuif_sample_hold(lp_ctx *ctx, const lp_tensor *x, int period, lp_tensor **out);

/* Jacobi SVD of one symmetric covariance (9 words, row-major, |c| < 2^30):
   rotation R (columns sorted by descending singular value) and the almost
   diagonal D, both 9 words. */
lp_status lp_imuif_jsvd(lp_ctx *ctx, const int64_t C[9], int64_t R[9], int64_t D[9]);

/* Rotation removal given the held covariances cov (B, T, 9): whenever the
   covariance changes, a new JSVD rotation (sign-aligned with the previous
   one) is computed; each sample is rotated by Rᵀ (products >> 32).
   x: (B, T, 3). Output (B, T, 3). */
lp_status lp_imuif_rotate(lp_ctx *ctx, const lp_tensor *x, const lp_tensor *cov, lp_tensor **out);

/* Filter bank: filter f reads input channel chan[f] of x (B, T, Cin), from
   zero state. mirror: the time-reversed signal is prepended and its T
   outputs dropped (Rockpool's boundary trick in FilterBank; a lone
   BandPassFilter runs without it). Output (B, T, nfilt). */
lp_status lp_imuif_filterbank(lp_ctx *ctx, const lp_tensor *x, const lp_imuif_filter *filt,
                              const int *chan, int nfilt, int mirror, lp_tensor **out);

/* Spike encoders over y (B, T, C): scale: min(|y| >> scale[c], 15);
   IAF: floor(S_t / th) - floor(S_{t-1} / th) clipped to 0..1 with S_t the
   running sum of |y| (th >= 1). */
lp_status lp_imuif_encode_scale(lp_ctx *ctx, const lp_tensor *y, const int *scale, lp_tensor **out);
lp_status lp_imuif_encode_iaf(lp_ctx *ctx, const lp_tensor *y, const int64_t *threshold,
                              lp_tensor **out);

/* The whole interface (IMUIFSim): rotation removal unless bypass_jsvd, the
   filter bank over the rotated signal (mirror on), then the chosen encoder,
   in one pass per batch row without intermediate tensors unless record is
   set. chan: the input axis (0..2) of each filter. state as for
   lp_imuif_subspace (untouched when bypassed). */
typedef struct lp_imuif_params {
  int bypass_jsvd, select_iaf_output;
  int num_avg_bitshift, sah_period;
  int nfilt;                            /* 1..LP_IMUIF_MAXFILT */
  const lp_imuif_filter *filt;
  const int *chan;
  const int *scale;                     /* per filter, scale encoder */
  const int64_t *threshold;             /* per filter, IAF encoder   */
} lp_imuif_params;

/* New int64 tensors: spikes (B, T, nfilt); with record also covariance
   (B, T, 9, after sample-and-hold) and rotated (B, T, 3) unless bypassed, and
   filtered (B, T, nfilt). */
typedef struct lp_imuif_result {
  lp_tensor *spikes, *covariance, *rotated, *filtered;
} lp_imuif_result;

lp_status lp_imuif_run(lp_ctx *ctx, const lp_imuif_params *p, const lp_tensor *x, int64_t state[9],
                       int record, lp_imuif_result *out);
void      lp_imuif_result_release(lp_imuif_result *r);

#endif
