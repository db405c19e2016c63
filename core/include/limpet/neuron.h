/*
** core/include/limpet/neuron.h -- fused neuron ops over all T time steps:
** LIF (Rockpool's LIFTorch, with multi-synapse input, recurrence and aLIF
** after-hyperpolarisation), ExpSyn and Rate. Each call is one op: a forward
** loop over time in C and, when autograd records, one node whose backward
** is a hand-written BPTT (core/src/lif.c, core/src/neuron_kernels.h).
** Not here: module bookkeeping (taus -> decays, parameters, states:
** stdlib/limpet/nn/), devices.
** Shapes: B batch, T time, N neurons, k synapses per neuron. Input column
** c = n*k + j feeds neuron n, synapse j (0-based, neuron-major).
**
** LIF step (Rockpool LIFTorch order, checked against its oracles):
**   c    = isyn + x[t] + s_prev . w_rec          (N, k)   integrate
**   isyn = beta * c                              (N, k)   then decay
**   a    = iahp + w_ahp * s_prev;  iahp = beta_ahp * a    (aLIF only)
**   u    = alpha * v + sum_j isyn + iahp + bias + noise[t]
**   s    = clip(floor(u/th) * [u >= th], 0, max_spikes_per_dt)
**   v    = u - s * th                            subtractive reset; the
**                                                surrogate grad flows through it
** Recorded: v (after reset), isyn (after decay), irec = s_prev . w_rec,
** iahp (after decay; aLIF).
** Fused input projection (optional w_in, b_in): x is then (B, T, Nin) and
** the step's input is x[t] . w_in + b_in, computed inside the loop: row
** gathers of w_in over the active inputs when x is sparse (x indexed once,
** the index reused by backward's scatter-add for dL/dw_in), one GEMM before
** the loop when it is dense. Same values as lp_matmul then + b_in. x may
** then also be uint8 or bool spikes (indexed as bytes; compute in w_in's
** float type).
*/
#ifndef LIMPET_NEURON_H
#define LIMPET_NEURON_H

#include "limpet/tensor.h"

/* Surrogate gradient of the spike count s(u, th) used by backward.
   z = u/th - 1 for the smooth ones.
   STEP_PWL:      ds/du = 1/th,  ds/dth = -u/th^2,  where u >= th - window
   PERIODIC_EXP:  ds/du = p = exp(-|w - th/2| / window) / th, ds/dth = -p u/th,
                  w = u - th/2 reduced modulo th above threshold (Rockpool)
   FAST_SIGMOID:  ds/du = g/th, ds/dth = -g u/th^2, g = 1/(1 + scale |z|)^2
   ATAN:          same with g = (scale/2) / (1 + (pi/2 scale z)^2)            */
typedef enum lp_surrogate {
  LP_SG_STEP_PWL = 0, LP_SG_PERIODIC_EXP, LP_SG_FAST_SIGMOID, LP_SG_ATAN
} lp_surrogate;

/* Name <-> enum ("StepPWL", "PeriodicExponential", "FastSigmoid", "ATan").
   lp_surrogate_from_name returns 1 when the name is known. */
int         lp_surrogate_from_name(const char *name, lp_surrogate *out);
const char *lp_surrogate_name(lp_surrogate sg);
double      lp_surrogate_default_scale(lp_surrogate sg);    /* 10 (FastSigmoid), 2 (ATan) */

/* ---- LIF ---------------------------------------------------------------- */
/* All tensors borrowed. Differentiable: x, alpha..beta_ahp, w_in, b_in. Optional
   (NULL): w_rec, w_ahp/beta_ahp (both or neither), noise, initial states
   (zeros). Parameters of another float dtype are cast to x's. */
typedef struct lp_lif_args {
  const lp_tensor *x;                    /* (B, T, k*N) float32 or float64 (+ u8/bool with w_in) */
  const lp_tensor *alpha;                /* (N)       membrane decay               */
  const lp_tensor *beta;                 /* (N, k), or (N) when k = 1              */
  const lp_tensor *bias, *threshold;     /* (N)                                    */
  const lp_tensor *w_rec;                /* (N, k*N) or NULL                       */
  const lp_tensor *w_ahp, *beta_ahp;     /* (N) or NULL                            */
  const lp_tensor *noise;                /* (B, T, N) or NULL, added to u          */
  const lp_tensor *vmem, *isyn, *spikes, *iahp;  /* initial: (N)|(B,N), (N,k)|(B,N,k), ... */
  const lp_tensor *w_in;                 /* (Nin, k*N) or NULL: x is (B, T, Nin)  */
  const lp_tensor *b_in;                 /* (k*N) or NULL (needs w_in)            */
  const lp_tensor *rec_targets;          /* (N, F) int32/int64 or NULL (needs w_rec): the
                                            columns of w_rec's row m that neuron m drives,
                                            strictly ascending in 0..k*N-1; only those
                                            entries are used (the rest count as 0) and
                                            only they get gradients: a per-neuron target
                                            list, F per step per spike, no dense row */
} lp_lif_args;

/* Which records lp_lif_opts.record fills (a mask; 0 = all of them). The
   spikes are always returned; LP_LIF_REC_SPIKES alone asks for nothing more. */
enum { LP_LIF_REC_VMEM = 1, LP_LIF_REC_ISYN = 2, LP_LIF_REC_IREC = 4, LP_LIF_REC_SPIKES = 8,
       LP_LIF_REC_IAHP = 16 };

typedef struct lp_lif_opts {
  lp_surrogate surrogate;
  double max_spikes_per_dt;              /* 65536 in Rockpool                     */
  double learning_window;                /* 0.5                                   */
  double surrogate_scale;                /* FastSigmoid / ATan                    */
  int record;                            /* fill vmem/isyn/irec records           */
  unsigned record_mask;                  /* with record: LP_LIF_REC_* bits, 0 = all */
  int membrane_only;                     /* LIFNeuron: c_t = x_t (+ rec), no synaptic
                                            memory; pass beta = 1              */
} lp_lif_opts;

void lp_lif_opts_default(lp_lif_opts *o);

/* Results: each a new reference (NULL when not produced). spikes and vmem
   carry the autograd node when one was recorded (vmem only when record);
   the final states are plain tensors. */
typedef struct lp_lif_out {
  lp_tensor *spikes;                     /* (B, T, N)                             */
  lp_tensor *vmem, *isyn, *irec;         /* (B, T, N), (B, T, N, k) x 2 (record)  */
  lp_tensor *iahp;                       /* (B, T, N) after decay (record, aLIF)  */
  lp_tensor *vmem_final, *isyn_final, *spikes_final, *iahp_final; /* (B,N) (B,N,k) (B,N) (B,N) */
} lp_lif_out;

/* Errors name the operand: arg 1 is x, arg 2 the argument struct, with
   messages "field 'bias': expected shape (4,), got (5,)". On failure out
   holds nothing. */
lp_status lp_lif(lp_ctx *ctx, const lp_lif_args *a, const lp_lif_opts *o, lp_lif_out *out);
void      lp_lif_out_release(lp_lif_out *out);

/* The F columns of each row of w (N, K) with the largest |w| (ties: the lower
   column first), each row's list in ascending order: *out (N, F) int32, for
   lp_lif_args.rec_targets (a structured top-k fan-out limit). 1 <= F <= K.
   blk > 1: whole blocks of blk adjacent columns (j·blk .. j·blk + blk - 1),
   the F/blk blocks with the largest sum of |w| (blk divides F and K): the
   block layout core.lif steps through as vectors. */
lp_status lp_lif_rec_topk(lp_ctx *ctx, const lp_tensor *w, int64_t F, int64_t blk, lp_tensor **out);

/* ---- ExpSyn --------------------------------------------------------------
   isyn = beta * (isyn + x[t]) + noise[t];  out[t] = isyn   (Rockpool ExpSynTorch:
   integrate, then decay). Differentiable: x, beta. */
typedef struct lp_expsyn_args {
  const lp_tensor *x;                    /* (B, T, N)                             */
  const lp_tensor *beta;                 /* (N)                                   */
  const lp_tensor *isyn;                 /* (N) | (B, N) initial, or NULL         */
  const lp_tensor *noise;                /* (B, T, N) or NULL                     */
} lp_expsyn_args;
lp_status lp_expsyn(lp_ctx *ctx, const lp_expsyn_args *a, lp_tensor **out, lp_tensor **isyn_final);

/* ---- Rate ----------------------------------------------------------------
   Euler step of tau dx/dt = -x + in + H(x) . w_rec + bias, alpha = dt/tau:
   x = x + alpha * (-x + in[t] + H(x_prev) . w_rec + bias) + noise[t];
   out[t] = H(x) with H(x) = act(x - threshold). Differentiable: x (input),
   alpha, bias, threshold, w_rec. */
typedef enum lp_rate_act { LP_ACT_RELU = 0, LP_ACT_TANH, LP_ACT_SIGMOID } lp_rate_act;
int lp_rate_act_from_name(const char *name, lp_rate_act *out);   /* "relu" | "tanh" | "sigmoid" */

typedef struct lp_rate_args {
  const lp_tensor *x;                    /* (B, T, N) input                       */
  const lp_tensor *alpha, *bias, *threshold;  /* (N)                              */
  const lp_tensor *w_rec;                /* (N, N) or NULL                        */
  const lp_tensor *state;                /* (N) | (B, N) initial x, or NULL       */
  const lp_tensor *noise;                /* (B, T, N) or NULL                     */
} lp_rate_args;
lp_status lp_rate(lp_ctx *ctx, const lp_rate_args *a, lp_rate_act act, lp_tensor **out,
                  lp_tensor **state_final);

/* ---- parameter ranges ----------------------------------------------------
   The first element of t (float32 or float64, any layout; other dtypes
   have none; flat row-major
   0-based index) that is not finite or lies outside lo < v (lo_open) or
   lo <= v, and v <= hi: *index and *value; *index = -1 when every element
   is inside. One pass, no allocation: the nn modules run it on every
   forward (core/src/param_check.c). */
lp_status lp_param_first_outside(lp_ctx *ctx, const lp_tensor *t, double lo, double hi, int lo_open,
                                 int64_t *index, double *value);

#endif
