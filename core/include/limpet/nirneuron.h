/*
** core/include/limpet/nirneuron.h -- NIR's neuron family (I, IF, LI, LIF,
** CubaLI, CubaLIF) as one fused op over all T steps with a hand-written
** BPTT backward (core/src/nirneuron.c).
** Step (per neuron n; the discretisation lives in the coefficients, which
** the caller computes from tau, r, v_leak, w_in and dt):
**   i_t = a_s i_{t-1} + g_s x_t          (with a synapse; else i_t = x_t)
**   u_t = a_m v_{t-1} + g_m i_t + c_m
**   z_t = [u_t > theta]                  (spiking; else z_t = 0)
**   v_t = z_t ? v_reset : u_t
**   out_t = z_t (spiking) or v_t
** Backward: the reset is detached (dv_t/du_t = 1 - z_t); dz/du is the
** surrogate g(u - theta): FastSigmoid 1/(1 + scale|d|)^2, ATan
** (scale/2)/(1 + (pi/2 scale d)^2).
** Shapes: x, out, vmem (B, T, N); coefficients (N); states (B, N) (v0, i0
** also (N): the same initial state for every batch row).
*/
#ifndef LIMPET_NIRNEURON_H
#define LIMPET_NIRNEURON_H

#include "limpet/tensor.h"
#include "limpet/neuron.h"

typedef struct lp_nir_neuron_args {
  const lp_tensor *a_m, *g_m, *c_m;    /* required */
  const lp_tensor *a_s, *g_s;          /* both or neither (synapse) */
  const lp_tensor *theta, *v_reset;    /* both or neither (spiking) */
  const lp_tensor *v0, *i0;            /* initial states (B, N), (N) (every row), or NULL (zeros) */
  lp_surrogate sg;                     /* LP_SG_FAST_SIGMOID or LP_SG_ATAN */
  double scale;
  int reference;                       /* 1: the plain loops (float too), to check the fast path */
} lp_nir_neuron_args;

/* out (recorded for autodiff through x and every coefficient), vmem (after
   reset; not recorded), final v and i (B, N). vmem, v_final, i_final may be
   NULL when not wanted. */
lp_status lp_ag_nir_neuron(lp_ctx *ctx, const lp_tensor *x, const lp_nir_neuron_args *a,
                           lp_tensor **out, lp_tensor **vmem, lp_tensor **v_final, lp_tensor **i_final);

#endif
