/*
** core/include/limpet/autograd.h -- reverse-mode automatic differentiation.
** Owns: grad mode, per-tensor autograd attributes (requires_grad, grad,
** the node that made it), recording nodes, the backward walk, and the
** differentiable versions of the engine's ops (lp_ag_*).
** A node records one op: its backward, edges to its inputs (the nodes that
** made them, or the leaf tensors to accumulate into) and the tensors it
** saved. Outputs hold their node; nodes hold nothing that holds them back
** (saved tensors are stored detached), so graphs die with their outputs.
** Walk order: nodes carry a sequence number; backward visits the nodes
** reachable from the root in decreasing sequence, which is the reverse of
** the order they were recorded in: the tape.
** Implemented in core/src/autograd.c (engine) and core/src/grad_ops.c.
*/
#ifndef LIMPET_AUTOGRAD_H
#define LIMPET_AUTOGRAD_H

#include "limpet/tensor.h"
#include "limpet/ops.h"

typedef struct lp_node lp_node;

/* Backward of one recorded op. gout[k] is the gradient of output k (NULL
   when that output got none: treat as zeros). Fill gin[i] with a new
   reference to the gradient of input i, of input i's shape (any dtype; the
   engine casts), or leave it NULL when input i needs none
   (lp_node_input_needs_grad). The engine runs backward with grad mode off. */
typedef lp_status (*lp_backward_fn)(lp_ctx *ctx, lp_node *node, lp_tensor *const *gout,
                                    lp_tensor **gin);

/* ---- grad mode -------------------------------------------------------- */
int       lp_grad_enabled(const lp_ctx *ctx);
int       lp_grad_set_enabled(lp_ctx *ctx, int on);            /* returns the previous mode */

/* ---- tensor attributes ------------------------------------------------ */
/* Only float tensors can require grad; only leaves (no node) can be set. */
lp_status  lp_tensor_set_requires_grad(lp_ctx *ctx, lp_tensor *t, int on);
int        lp_tensor_requires_grad(const lp_tensor *t);
int        lp_tensor_is_leaf(const lp_tensor *t);              /* made by no recorded op */
lp_tensor *lp_tensor_grad(const lp_tensor *t);                 /* borrowed; NULL if none */
/* Replace t's grad (retains g; NULL clears). g must have t's shape. */
lp_status  lp_tensor_set_grad(lp_ctx *ctx, lp_tensor *t, lp_tensor *g);
const char *lp_tensor_grad_fn_name(const lp_tensor *t);        /* NULL for leaves */
/* A new header over t's storage with no history (and not requiring grad). */
lp_status  lp_tensor_detach(lp_ctx *ctx, lp_tensor *t, lp_tensor **out);
/* In-place writes bump the storage's version so the engine can tell when a
   tensor saved for backward was modified after being saved. */
void       lp_tensor_bump_version(lp_tensor *t);
/* The storage's version: changes whenever the storage is written in place
   (a cache keyed on it sees every such write). */
uint64_t   lp_tensor_version(const lp_tensor *t);
/* In-place ops call this first: refuses (LP_EARG, operand argno) to write
   in place into a tensor that requires grad while grad mode is on. */
lp_status  lp_check_inplace(lp_ctx *ctx, const lp_tensor *t, int argno);

/* ---- recording -------------------------------------------------------- */
/* True when grad mode is on and one of the n tensors (NULLs skipped)
   requires grad: only then do ops record. */
int        lp_needs_grad(const lp_ctx *ctx, int n, const lp_tensor *const *ts);
/* Record a node for outputs[0..nout) computed from inputs[0..nin) (NULL
   inputs allowed: no edge). Sets each output's node and requires_grad.
   payload_bytes of zeroed scratch are attached (lp_node_payload). The node
   is owned by its outputs; *out is borrowed (may be NULL). */
lp_status  lp_node_record(lp_ctx *ctx, const char *name, lp_backward_fn fn,
                          int nin, const lp_tensor *const *inputs,
                          int nout, lp_tensor *const *outputs,
                          size_t payload_bytes, lp_node **out);
/* Save t for backward (stored detached; its storage version is checked at
   backward). Returns the index to pass to lp_node_saved. */
lp_status  lp_node_save(lp_ctx *ctx, lp_node *node, const lp_tensor *t, int *index);
lp_tensor *lp_node_saved(const lp_node *node, int i);          /* borrowed */
void      *lp_node_payload(lp_node *node);
int        lp_node_ninputs(const lp_node *node);
int        lp_node_input_needs_grad(const lp_node *node, int i);
/* Shape and dtype of input i as it was when recorded. */
int            lp_node_input_ndim(const lp_node *node, int i);
const int64_t *lp_node_input_shape(const lp_node *node, int i);
lp_dtype       lp_node_input_dtype(const lp_node *node, int i);
const char    *lp_node_name(const lp_node *node);

/* ---- backward --------------------------------------------------------- */
/* Accumulate d(root)/d(leaf) into every leaf's grad. grad: the gradient of
   root (NULL: root must have one element, seeded with 1). Unless
   retain_graph, saved tensors are released afterwards and a second
   backward through the same nodes is refused. */
lp_status  lp_backward(lp_ctx *ctx, lp_tensor *root, const lp_tensor *grad, int retain_graph);

/* Sum g over broadcast dims down to shape (the backward of broadcasting). */
lp_status  lp_sum_to_shape(lp_ctx *ctx, const lp_tensor *g, int ndim, const int64_t *shape,
                           lp_tensor **out);

/* ---- differentiable ops (same meaning as the plain ones) -------------- */
lp_status lp_ag_binary(lp_ctx *ctx, lp_binop op, const lp_tensor *a, const lp_tensor *b, lp_tensor **out);
lp_status lp_ag_binary_scalar(lp_ctx *ctx, lp_binop op, const lp_tensor *a, lp_scalar s,
                              int scalar_left, lp_tensor **out);
lp_status lp_ag_unary(lp_ctx *ctx, lp_unop op, const lp_tensor *a, lp_tensor **out);
lp_status lp_ag_clamp(lp_ctx *ctx, const lp_tensor *a, int has_lo, double lo, int has_hi,
                      double hi, lp_tensor **out);
lp_status lp_ag_where(lp_ctx *ctx, const lp_tensor *cond, const lp_tensor *a, const lp_tensor *b,
                      lp_tensor **out);
lp_status lp_ag_reduce(lp_ctx *ctx, lp_redop op, const lp_tensor *a, int dim, int keepdim,
                       int ddof, lp_tensor **out);
lp_status lp_ag_quantile(lp_ctx *ctx, const lp_tensor *a, double q, int dim, int keepdim,
                         lp_tensor **out);
lp_status lp_ag_scan(lp_ctx *ctx, lp_scanop op, const lp_tensor *a, int dim, int reverse,
                     lp_tensor **out);
lp_status lp_ag_matmul(lp_ctx *ctx, const lp_tensor *a, const lp_tensor *b, lp_tensor **out);
lp_status lp_ag_outer(lp_ctx *ctx, const lp_tensor *a, const lp_tensor *b, lp_tensor **out);
lp_status lp_ag_dot(lp_ctx *ctx, const lp_tensor *a, const lp_tensor *b, lp_tensor **out);
lp_status lp_ag_astype(lp_ctx *ctx, const lp_tensor *t, lp_dtype dt, lp_tensor **out);
lp_status lp_ag_clone(lp_ctx *ctx, const lp_tensor *t, lp_tensor **out);
lp_status lp_ag_contiguous(lp_ctx *ctx, lp_tensor *t, lp_tensor **out);
lp_status lp_ag_reshape(lp_ctx *ctx, lp_tensor *t, int ndim, const int64_t *shape, lp_tensor **out);
lp_status lp_ag_view(lp_ctx *ctx, lp_tensor *t, int ndim, const int64_t *shape, lp_tensor **out);
lp_status lp_ag_transpose(lp_ctx *ctx, lp_tensor *t, int d0, int d1, lp_tensor **out);
lp_status lp_ag_permute(lp_ctx *ctx, lp_tensor *t, const int *perm, lp_tensor **out);
lp_status lp_ag_squeeze(lp_ctx *ctx, lp_tensor *t, int dim, lp_tensor **out);
lp_status lp_ag_unsqueeze(lp_ctx *ctx, lp_tensor *t, int dim, lp_tensor **out);
lp_status lp_ag_slice(lp_ctx *ctx, lp_tensor *t, int dim, int64_t start, int64_t stop,
                      int64_t step, lp_tensor **out);
lp_status lp_ag_select(lp_ctx *ctx, lp_tensor *t, int dim, int64_t i, lp_tensor **out);
lp_status lp_ag_expand(lp_ctx *ctx, lp_tensor *t, int ndim, const int64_t *shape, lp_tensor **out);
lp_status lp_ag_cat(lp_ctx *ctx, int n, lp_tensor *const *ts, int dim, lp_tensor **out);
lp_status lp_ag_stack(lp_ctx *ctx, int n, lp_tensor *const *ts, int dim, lp_tensor **out);
lp_status lp_ag_masked_select(lp_ctx *ctx, const lp_tensor *t, const lp_tensor *mask, lp_tensor **out);
lp_status lp_ag_index_select(lp_ctx *ctx, const lp_tensor *t, int dim, const lp_tensor *index,
                             lp_tensor **out);

#endif
