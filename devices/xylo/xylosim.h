/*
** devices/xylo/xylosim.h -- XyloSim: the bit-exact integer simulator of one
** Xylo SNN core (Audio 2, Audio 3, IMU), after xylosim v2
** (reference/xylo.md §3). Owns: compiling a dense integer specification
** into sparse synapse lists, the core state (Isyn, Vmem, spike buffers),
** and the evolution over all T steps and B batch rows in one call.
** Not here: variant limits, defaults, field names and their messages
** (devices/xylo/xylosim.lua), the Lua face (lua/l_xylo.c).
**
** Per step (§3.5): deliver input counts (clipped to 15) through W_in << IWBS,
** then the hidden counts of the previous step (<= 31) through W_rec << RWBS
** and W_out << OWBS, every event a saturating 16-bit add in xylosim's order
** (channels / pre-neurons ascending, syn-1 targets ascending then syn-2
** targets ascending); then update hidden neurons in ascending id order
** (bit-shift decay of Isyn, v2 Vmem update with bias, subtractive reset up
** to 31 spikes, aliases), then output neurons (one synapse, at most 1 spike).
** Delivery is event-driven: only rows of channels / neurons with events are
** touched. All memory is allocated by lp_xylo_new and lp_xylo_evolve before
** the time loop; the interrupt flag is polled once per step.
*/
#ifndef LIMPET_XYLOSIM_H
#define LIMPET_XYLOSIM_H

#include "limpet/tensor.h"

/* A network, dense and 0-based. Every array is borrowed for the call of
   lp_xylo_new only. Ranges (checked, LP_EARG naming the field): weights
   -128..127, dashes 0..15, shifts 0..7, thresholds and biases -32768..32767,
   alias targets 0..nhid-1. */
typedef struct lp_xylo_spec {
  int nin, nhid, nout, nsyn;            /* nsyn: 1 or 2 synapses per hidden neuron */
  const int32_t *w_in;                  /* (nin, nhid, nsyn)  row-major            */
  const int32_t *w_rec;                 /* (nhid, nhid, nsyn) or NULL (no recurrence) */
  const int32_t *w_out;                 /* (nhid, nout)                            */
  const int32_t *dash_mem, *dash_syn;   /* (nhid)                                  */
  const int32_t *dash_syn2;             /* (nhid), or NULL when nsyn = 1           */
  const int32_t *threshold, *bias;      /* (nhid); bias NULL = zeros               */
  const int32_t *dash_mem_out, *dash_syn_out, *threshold_out, *bias_out; /* (nout); bias_out may be NULL */
  const int32_t *alias_ptr;             /* (nhid + 1) CSR offsets, or NULL (no aliases) */
  const int32_t *alias_idx;             /* (alias_ptr[nhid]) target ids            */
  int shift_in, shift_rec, shift_out;
} lp_xylo_spec;

typedef struct lp_xylo lp_xylo;

/* Output modes (Rockpool's output_mode): output spikes, output Vmem, output Isyn. */
typedef enum lp_xylo_mode { LP_XYLO_SPIKE = 0, LP_XYLO_VMEM, LP_XYLO_ISYN } lp_xylo_mode;

lp_status lp_xylo_new(lp_ctx *ctx, const lp_xylo_spec *spec, lp_xylo **out);
void      lp_xylo_free(lp_xylo *x);                  /* NULL is a no-op */
void      lp_xylo_dims(const lp_xylo *x, int *nin, int *nhid, int *nout, int *nsyn);
/* Number of stored (nonzero) synapses: input, recurrent, readout. */
void      lp_xylo_counts(const lp_xylo *x, int64_t *n_in, int64_t *n_rec, int64_t *n_out);
/* Zero Isyn, Vmem and the spike buffer. */
void      lp_xylo_reset(lp_xylo *x);

/* The state as new int32 tensors (caller owns them): isyn (nhid, nsyn),
   vmem (nhid), spikes (nhid, counts of the last step), isyn_out (nout),
   vmem_out (nout). */
typedef struct lp_xylo_state {
  lp_tensor *isyn, *vmem, *spikes, *isyn_out, *vmem_out;
} lp_xylo_state;
lp_status lp_xylo_get_state(lp_ctx *ctx, const lp_xylo *x, lp_xylo_state *out);
/* Set the state from tensors of those shapes (any integer dtype; values
   in int16 range, spikes 0..31). Nothing changes on error. */
lp_status lp_xylo_set_state(lp_ctx *ctx, lp_xylo *x, const lp_xylo_state *in);
void      lp_xylo_state_release(lp_xylo_state *s);

/* Results of one evolve: new int32 tensors, batch-major (B, T, N). The
   records are NULL unless asked for; isyn2 only with 2 synapses. */
typedef struct lp_xylo_result {
  lp_tensor *output;                    /* (B, T, nout) spikes / Vmem_out / Isyn_out */
  lp_tensor *vmem, *isyn, *isyn2, *spikes; /* (B, T, nhid) */
  lp_tensor *vmem_out, *isyn_out;       /* (B, T, nout) */
} lp_xylo_result;

/* Evolve over input counts (B, T, nin) (any dtype; non-negative integral
   values; above 15 clipped). Every batch row starts from the stored state;
   row 0's final state is kept (Rockpool's rule). Errors: arg 1 for the
   input; LP_EINTR when interrupted (state unchanged). */
lp_status lp_xylo_evolve(lp_ctx *ctx, lp_xylo *x, const lp_tensor *input, lp_xylo_mode mode,
                         int record, lp_xylo_result *out);
void      lp_xylo_result_release(lp_xylo_result *r);

/* Which kernels lp_xylo_evolve runs; every path gives the same bits.
   AUTO: P/N recurrent sums, dense input rows and the best vector kernels
   this CPU has (chosen at run time: AVX-512, AVX2, or portable); GENERIC:
   the same algorithms with the portable kernels only; REFERENCE: the plain
   loop, every event one saturating add in xylosim's order (the reference
   the fast paths are checked against). New simulators start in AUTO. */
typedef enum lp_xylo_path { LP_XYLO_PATH_AUTO = 0, LP_XYLO_PATH_GENERIC, LP_XYLO_PATH_REFERENCE } lp_xylo_path;
void         lp_xylo_set_path(lp_xylo *x, lp_xylo_path path);  /* an unknown value is AUTO */
lp_xylo_path lp_xylo_get_path(const lp_xylo *x);
/* The instruction set AUTO uses on this CPU: "avx512", "avx2" or "generic". */
const char  *lp_xylo_isa(void);

#endif
