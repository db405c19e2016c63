/*
** devices/xylo/afe.h -- the Xylo audio front ends in C (reference/xylo.md §11):
** the Audio 3 digital front end (resampling, 14-bit quantiser, PDM
** microphone model, polyphase decimation FIR, integer Butterworth filter
** bank, divisive normalisation / spike generation, rasterisation), the
** Audio 2 divisive normalisation and the Audio 2 analog front-end model.
** Owns: the sample-rate loops, bit-exact where the chip is digital.
** Not here: options, defaults, option names and their messages, batching
** conventions, the reference's quirks as user-facing choices
** (devices/xylo/afe3.lua, afe2.lua, dn.lua); the Lua face (lua/l_afe.c).
** Shapes: (B, T) = batch, time; (B, T, N) = batch, time, channel.
** Every function takes contiguous or strided tensors of any numeric dtype
** (converted as documented) and returns new tensors the caller owns. Ids
** are 0-based. Errors: LP_EARG / LP_ESHAPE naming the operand, LP_ERANGE
** for a value out of the chip's range (the message names the sample),
** LP_EINTR when interrupted.
*/
#ifndef LIMPET_XYLO_AFE_H
#define LIMPET_XYLO_AFE_H

#include "limpet/tensor.h"

#define LP_AFE3_NFILT       16
#define LP_AFE3_FS          48828.125      /* audio sample rate: 50 MHz / (64·16) */
#define LP_AFE3_PDM_FS      1562500.0      /* PDM bit rate: 32 × the audio rate */
#define LP_AFE3_PDM_DECIM   32
#define LP_AFE3_FIR_TAPS    256

/* ---- shared -------------------------------------------------------------- */

/* Linear resampling exactly as NumPy's interp onto arange(0, (T−1)/fs_in,
   1/fs_out) with sample times arange(T)/fs_in. x: (B, T) → (B, T') float64. */
lp_status lp_afe_resample(lp_ctx *ctx, const lp_tensor *x, double fs_in, double fs_out,
                          lp_tensor **out);
/* Output length of lp_afe_resample for T input samples. */
int64_t   lp_afe_resample_len(int64_t T, double fs_in, double fs_out);

/* ---- Audio 3 (§11.3) -------------------------------------------------------- */

/* int(scale · x · 2^(num_bits−1)) (truncation toward zero): (B, T) float → (B, T)
   int32 (saturating at the int32 range; the filter bank refuses |x| ≥ 2^13). */
lp_status lp_afe3_quantize(lp_ctx *ctx, const lp_tensor *x, double scale, int num_bits,
                           lp_tensor **out);

/* The delta-sigma PDM microphone model (4th order, forward Euler, float64):
   x (B, T) in [−1, 1] at fs_in, linearly resampled to 1.5625 MHz as
   lp_afe_resample does. bits: (B, T') uint8 0/1. pre_q (optional, may be
   NULL): (B, min(T', npre)) float64, the loop-filter output before the sign. */
lp_status lp_afe3_pdm_mic(lp_ctx *ctx, const lp_tensor *x, double fs_in, int64_t npre,
                          lp_tensor **bits, lp_tensor **pre_q);

/* The polyphase decimation FIR: bits (B, Tp) 0/1 (any integer dtype) →
   (B, ceil(Tp/32) + 8) int32 14-bit audio (the FIR's full convolution,
   zero-padded, every 32nd output). */
lp_status lp_afe3_pdm_fir(lp_ctx *ctx, const lp_tensor *bits, lp_tensor **out);
/* The 256 integer taps and the output shift (for documentation and specs). */
const int16_t *lp_afe3_fir_taps(int *shift);

/* The 16-filter integer Butterworth bank: x (B, T) integers with |x| < 2^13
   → (B, T, n) int32, filters sel[0..n−1] (0-based, any order) in that
   column order. flip: run the time-reversed input first and keep the second
   half (the reference's boundary trick); 0: start from zero state. */
lp_status lp_afe3_filterbank(lp_ctx *ctx, const lp_tensor *x, int n, const int *sel, int flip,
                             lp_tensor **out);
/* The block-diagram constants of filter i (0..15): B_worst_case, B_b, B_af,
   a1, a2 (B_in 14, B_a 16, B_wf 8 for all). */
void      lp_afe3_filter_coeffs(int i, int *b_wc, int *b_b, int *b_af, int *a1, int *a2);

/* Divisive normalisation + spike generation (per channel vectors, n ≤ 16). */
typedef struct lp_afe3_dn_params {
  int n;
  const int32_t *enable;      /* 1: adaptive (DN) threshold, 0: fixed threshold */
  const int32_t *b1, *b2;     /* rate-scale bit shifts, 0 ≤ b2 < b1 ≤ 31       */
  const int32_t *lowpass;     /* low-pass bit shift L, 0..31                     */
  const int64_t *eps;         /* lower bound on the low-pass value, ≥ 0          */
  const int64_t *threshold;   /* fixed thresholds, ≥ 0                           */
  int joint;                  /* 1: the DN threshold is the max over channels    */
} lp_afe3_dn_params;
/* Records of the DN states, (B, T, n) int64, after each step (thresholds:
   the ones used in the step). Set the pointers you want to a non-NULL
   dummy (any value) before the call; NULL ones are not made. */
typedef struct lp_afe3_dn_record {
  lp_tensor *high, *low, *iaf, *thr;
} lp_afe3_dn_record;
/* z: (B, T, n) integers (the filter-bank output). spikes (optional): (B, T, n)
   int32 0/1; raster (optional, k ≥ 1): (B, ceil(T/k), n) int32, the spikes
   summed over blocks of k samples (the last block may be partial), clipped
   at maxcount. flip as for the filter bank. */
lp_status lp_afe3_dn(lp_ctx *ctx, const lp_tensor *z, const lp_afe3_dn_params *p, int flip,
                     lp_tensor **spikes, int k, int maxcount, lp_tensor **raster,
                     lp_afe3_dn_record *rec);

/* Rasterisation alone: spikes (B, T, n) → (B, ceil(T/k), n) int32. */
lp_status lp_afe3_raster(lp_ctx *ctx, const lp_tensor *spikes, int k, int maxcount,
                         lp_tensor **out);

/* ---- Audio 2 divisive normalisation (§11.2) --------------------------------- */

typedef struct lp_dn2_params {
  int n;                      /* channels */
  double dt, frame_dt;        /* global clock step, frame length (s) */
  int bits_counter, bits_lowpass, bits_shift_lowpass;
  int p_local;                /* local clock factor, even (the caller rounds) */
  int overflow_protect;       /* 0: UNDERFLOW_PROTECT (default), 1: OVERFLOW_PROTECT */
  int use_lfsr;               /* 1: LFSR pulse train, 0: events passed through */
  const int32_t *code_lfsr;   /* ncode values (the chip's: ncode = 1023) */
  int ncode;
} lp_dn2_params;
/* The state carried between calls: M (n), IAF counter (n), LFSR index. */
typedef struct lp_dn2_state {
  int64_t *M, *iaf;
  int64_t lfsr_index;
} lp_dn2_state;
/* The chip's 10-bit LFSR sequence (1023 states from 0, XNOR of bits 9 and 6). */
void      lp_dn2_lfsr10(int32_t code[1023]);
/* input: (B, T, n) non-negative integer counts at dt. out: (B, T', n) int32,
   T' = the reference's raster length over whole frames. Every batch row
   starts from *st; row 0's final state is written back. E, M (optional):
   (B, frames, n) int64 records. */
lp_status lp_dn2_evolve(lp_ctx *ctx, const lp_tensor *input, const lp_dn2_params *p,
                        lp_dn2_state *st, lp_tensor **out, lp_tensor **rec_E, lp_tensor **rec_M);

/* ---- Audio 2 analog front-end model (§11.1) --------------------------------- */

typedef struct lp_afe2_params {
  double fs;                          /* sample rate of the input (Hz) */
  double vcc, max_amp;                /* supply, clip level (VCC/2) */
  double mic_dist, mic_vc;            /* microphone THD level, corner voltage */
  double lna_dist, lna_vc, lna_gain;  /* LNA cubic distortion, corner, linear gain */
  double input_offset, lna_offset;    /* offsets (0 when off) */
  double bpf_offset;                  /* the offset the band-pass filters see */
  double sos[16][2][6];               /* band-pass sections [b0 b1 b2 1 a1 a2] */
  double hp_b[2], hp_a[2];            /* 1st-order high-pass (filtfilt) */
  double v2i, c_iaf, leakage, thr;    /* spike generator */
  int counter;                        /* digital counter N (1: pass all) */
  int add_noise;                      /* LNA, BPF and rectifier noise */
  double noise_lna[3], noise_bpf[3], noise_fwr[3]; /* VRMS/√Hz, knee (Hz), alpha */
  uint64_t seed;                      /* noise seed (with the context's counters) */
} lp_afe2_params;
typedef struct lp_afe2_record {
  lp_tensor *mic, *lna;               /* (B, T) float64 */
  lp_tensor *bpf, *rect;              /* (B, T, 16) float64 */
  lp_tensor *spikes_pre;              /* (B, T, 16) int32, before the counter */
} lp_afe2_record;
/* x: (B, T) volts at fs. lif: (16) IAF voltages, in/out (row 0's final
   state). spikes: (B, T, 16) int32 after the digital counter. rec: NULL or
   a struct whose members are set to non-NULL for the wanted records. */
lp_status lp_afe2_evolve(lp_ctx *ctx, const lp_tensor *x, const lp_afe2_params *p, double *lif,
                         lp_tensor **spikes, lp_afe2_record *rec);
/* scipy butter(2, [lo, hi]/(fs/2), 'band', output='sos') for one filter. */
void      lp_afe2_design_bandpass(double lo, double hi, double fs, double sos[2][6]);
/* scipy butter(1, fc/(fs/2), 'high'): b, a. */
void      lp_afe2_design_highpass(double fc, double fs, double b[2], double a[2]);
/* The reference's raster of (B, T, 16) spikes at dt into raster_period bins
   (see afe2.c for its two paths), clipped at maxcount: (B, bins, 16) int32. */
lp_status lp_afe2_raster(lp_ctx *ctx, const lp_tensor *spikes, double dt, double raster_period,
                         int maxcount, lp_tensor **out);

#endif
