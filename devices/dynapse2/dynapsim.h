/*
** devices/dynapse2/dynapsim.h -- DynapSim, the Dynap-SE2 neuron model
** (reference/dynapse2.md §2), as one fused op over all T steps: forward
** Euler in C, and, when autograd records, one node whose backward is a
** hand-written BPTT through the §2.5 surrogate.
** Owns: argument checks, the time loop (float32 and float64, OpenMP over
** batch rows, no allocation inside the loop), the records, the backward.
** Not here: the currents -> coefficients conversion (§2.3) and the module
** state (devices/dynapse2/dynapsim.lua computes the coefficients with
** differentiable tensor ops, so gradients reach every current through
** them), the Lua face (lua/l_dynapse2.c).
**
** One step for neuron j (§2.4; s = spike counts of the previous step, all
** coefficients per neuron, (N) vectors):
**   u      = x[t] + (w_rec^T s)_j                        weighted input (units of Iscale)
**   isyn   = syn_a*isyn + syn_q*max(syn_g*u, Io)         syn_g = Igain_syn/Itau_syn*Iscale
**   iahp   = max(ahp_a*iahp + ahp_h*s_j, Io)             ahp_h = q_ahp*Igain_ahp/Itau_ahp*Iw_ahp
**   L      = itau_mem + iahp;  F = exp(fv*vmem)          vmem of the previous step
**   Iin    = max(refractory ? 0 : isyn - L + idc, Io)
**   Minf   = igain_mem/itau_mem*(Iin - L);  f = Io*F/L*(imem + igain_mem);  tau = mem_c/L
**   imem   = max(imem + dt*imem/(tau*(imem + igain_mem))*(Minf + f - imem*(1 + iahp/itau_mem)), Io)
**   vmem   = utk*ln(imem/Io)                             before the reset
**   n      = max(ceil(ln(imem/ispkthr)), 0)              spike count (output)
**   n > 0: imem = Io;  timer = max(timer - dt, 0);  n > 0: timer = t_ref
** (mem_c = Ut/kappa*C_mem, fv = kappa^2/((kappa+1)*Ut), utk = Ut/kappa.)
**
** Backward (BPTT): exact derivatives of every step above, except
**   dn/dimem = sg * [imem > Io]   (§2.5: a straight-through estimator; sg = 1
**                                  per ampere as the reference, or any (N) scale)
** and no gradient through the spike condition of the reset, through the
** refractory gate, or to ispkthr and t_ref (they act through discrete
** choices only). A max(a, Io) passes the gradient to a when a > Io, else
** to Io. Differentiable inputs: x, w_rec and every coefficient but ispkthr
** and t_ref.
*/
#ifndef LIMPET_DYNAPSIM_H
#define LIMPET_DYNAPSIM_H

#include "limpet/tensor.h"

/* All tensors borrowed. Coefficients are (N); initial states (N) or (B, N)
   (NULL: zeros, and Io for the three currents). Inputs of another float
   dtype are cast to x's (float32 or float64). */
typedef struct lp_dynapsim_args {
  const lp_tensor *x;                      /* (B, T, N) weighted input         */
  const lp_tensor *w_rec;                  /* (N, N) rows = pre, or NULL       */
  const lp_tensor *syn_a, *syn_q, *syn_g;  /* synapse DPI                      */
  const lp_tensor *ahp_a, *ahp_h;          /* AHP DPI                          */
  const lp_tensor *itau_mem, *igain_mem, *idc, *io, *mem_c, *fv, *utk;
  const lp_tensor *ispkthr, *t_ref;        /* not differentiated               */
  const lp_tensor *sg;                     /* surrogate scale (N), NULL = 1    */
  const lp_tensor *iahp, *imem, *isyn, *spikes, *timer_ref, *vmem;  /* initial state */
  /* w_rec's non-zeros made beforehand by lp_dynapsim_csr (by rows, and by
     rows of the transpose), or NULL: made here when w_rec is sparse enough.
     They must hold w_rec's current values (the module keeps them keyed on
     lp_tensor_version). */
  const lp_tensor *w_ptr, *w_idx, *w_val, *wt_ptr, *wt_idx, *wt_val;
  double dt;
  int record;                              /* fill the state records           */
  int reference;                           /* the plain reference loop, dense w_rec */
} lp_dynapsim_args;

/* Results: new tensors. spikes (B, T, N) always; the records (B, T, N)
   with record or when autograd records (they are outputs of the node, so a
   loss on them is differentiated); the final state (B, N). */
typedef struct lp_dynapsim_out {
  lp_tensor *spikes, *imem, *isyn, *iahp, *vmem;
  lp_tensor *f_iahp, *f_imem, *f_isyn, *f_spikes, *f_timer, *f_vmem;
} lp_dynapsim_out;

lp_status lp_dynapsim(lp_ctx *ctx, const lp_dynapsim_args *a, lp_dynapsim_out *out);

/* w's (N, N) non-zeros as CSR by rows of w (transpose = 0) or of w^T (1):
   *ptr int64 (N + 1), *idx int32, *val of w's float dtype (new tensors);
   all three NULL when N < 64 or more than N*N/8 are non-zero (the dense
   loops are then as fast). */
lp_status lp_dynapsim_csr(lp_ctx *ctx, const lp_tensor *w, int transpose, lp_tensor **ptr, lp_tensor **idx,
                          lp_tensor **val);
void      lp_dynapsim_out_release(lp_dynapsim_out *out);

#endif
