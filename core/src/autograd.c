/*
** core/src/autograd.c -- the autodiff engine: grad mode, tensor autograd
** attributes, recording nodes, and the backward walk.
** Owns: lp_node and the functions of limpet/autograd.h up to lp_sum_to_shape.
** Not here: the backward formulas of individual ops (grad_ops.c, and each
** fused op's own file, e.g. lif.c).
** Ownership: an output tensor holds one reference to its node; a node holds
** references to the nodes of its inputs, to leaf inputs (to accumulate into)
** and to detached aliases of saved tensors. Nothing points back, so there
** are no cycles and a graph is freed with the last of its outputs.
*/
#include "limpet/autograd.h"
#include "limpet/random.h"
#include "tensor_impl.h"
#include <stdlib.h>
#include <stdio.h>

typedef struct lp_edge {
  struct lp_node *node;    /* producing node of a non-leaf input (owned ref) */
  int index;               /* its output index */
  lp_tensor *leaf;         /* leaf input that requires grad (owned ref) */
  int needs_grad;
  lp_dtype dtype;
  int ndim;
  int64_t shape[LP_MAXDIM];
} lp_edge;

typedef struct lp_saved {
  lp_tensor *t;            /* detached alias */
  uint64_t version;        /* storage version when saved */
} lp_saved;

struct lp_node {
  long refcount;
  uint64_t seq;
  const char *name;
  lp_backward_fn backward;
  lp_ctx *ctx;
  int nin, nout, nsaved, capsaved, released;
  lp_edge *in;
  lp_saved *saved;
  void *payload;
  size_t payload_bytes;
  /* scratch used by one backward walk */
  lp_tensor **gout;
  int visited;
};

/* ---- grad mode -------------------------------------------------------- */
int lp_grad_enabled(const lp_ctx *ctx) { return ctx->grad_enabled; }
int lp_grad_set_enabled(lp_ctx *ctx, int on) {
  int old = ctx->grad_enabled;
  ctx->grad_enabled = on != 0;
  return old;
}

/* ---- nodes: life ------------------------------------------------------ */
static void node_release_saved(lp_node *n) {
  int i;
  for (i = 0; i < n->nsaved; i++) { lp_tensor_release(n->saved[i].t); n->saved[i].t = NULL; }
  n->released = 1;
}

/* Release a node; freeing cascades to its input nodes without recursion (a
   chain of 100,000 ops must not overflow the C stack). */
static void node_unref(lp_node *first) {
  lp_node *stack_local[64], **stack = stack_local;
  size_t top = 0, cap = 64;
  if (!first) return;
  stack[top++] = first;
  while (top > 0) {
    lp_node *n = stack[--top];
    lp_ctx *ctx = n->ctx;
    int i;
    if (--n->refcount > 0) continue;
    for (i = 0; i < n->nin; i++) {
      lp_tensor_release(n->in[i].leaf);
      if (n->in[i].node) {
        if (top == cap) {          /* grow the explicit stack (plain malloc: not tensor memory) */
          lp_node **bigger = malloc(2 * cap * sizeof *bigger);
          if (!bigger) { node_unref(n->in[i].node); continue; }   /* fall back to recursion */
          memcpy(bigger, stack, top * sizeof *stack);
          if (stack != stack_local) free(stack);
          stack = bigger; cap *= 2;
        }
        stack[top++] = n->in[i].node;
      }
    }
    node_release_saved(n);
    lp_ctx_dealloc(ctx, n->saved, (size_t)n->capsaved * sizeof *n->saved);
    lp_ctx_dealloc(ctx, n->in, (size_t)(n->nin ? n->nin : 1) * sizeof *n->in);
    if (n->payload) lp_ctx_dealloc(ctx, n->payload, n->payload_bytes);
    lp_ctx_dealloc(ctx, n, sizeof *n);
    lp_ctx_unref_(ctx);
  }
  if (stack != stack_local) free(stack);
}

void lp_agmeta_free_(lp_tensor *t) {
  lp_agmeta *m = t->ext;
  t->ext = NULL;
  lp_tensor_release(m->grad);
  node_unref(m->node);
  lp_ctx_dealloc(t->ctx, m, sizeof *m);
}

static lp_agmeta *meta(lp_ctx *ctx, lp_tensor *t) {
  if (!t->ext) {
    t->ext = lp_ctx_alloc(ctx, sizeof *t->ext);   /* zeroed */
  }
  return t->ext;
}

/* ---- tensor attributes ------------------------------------------------ */
lp_status lp_tensor_set_requires_grad(lp_ctx *ctx, lp_tensor *t, int on) {
  lp_agmeta *m;
  if (t->ext && t->ext->node)
    return lp_ctx_error(ctx, LP_EARG, 1, "requires_grad can only be set on leaf tensors (this one was made by %s)",
                        lp_tensor_grad_fn_name(t));
  if (on && !lp_dtype_is_float(t->dtype))
    return lp_ctx_error(ctx, LP_ETYPE, 1, "only float tensors can require grad, got %s", lp_dtype_name(t->dtype));
  if (!on && !t->ext) return LP_OK;
  if (!(m = meta(ctx, t))) return LP_ENOMEM;
  m->requires_grad = on != 0;
  return LP_OK;
}

int lp_tensor_requires_grad(const lp_tensor *t) { return t->ext && t->ext->requires_grad; }
int lp_tensor_is_leaf(const lp_tensor *t) { return !t->ext || !t->ext->node; }
lp_tensor *lp_tensor_grad(const lp_tensor *t) { return t->ext ? t->ext->grad : NULL; }
const char *lp_tensor_grad_fn_name(const lp_tensor *t) {
  return t->ext && t->ext->node ? t->ext->node->name : NULL;
}

lp_status lp_tensor_set_grad(lp_ctx *ctx, lp_tensor *t, lp_tensor *g) {
  lp_agmeta *m;
  char b1[160], b2[160];
  if (g && (g->ndim != t->ndim || memcmp(g->shape, t->shape, (size_t)t->ndim * sizeof(int64_t)) != 0))
    return lp_ctx_error(ctx, LP_ESHAPE, 2, "grad of shape %s for a tensor of shape %s",
                        lp_shape_str(g->ndim, g->shape, b1, sizeof b1), lp_shape_str(t->ndim, t->shape, b2, sizeof b2));
  if (!g && !t->ext) return LP_OK;
  if (!(m = meta(ctx, t))) return LP_ENOMEM;
  lp_tensor_retain(g);
  lp_tensor_release(m->grad);
  m->grad = g;
  return LP_OK;
}

lp_status lp_tensor_detach(lp_ctx *ctx, lp_tensor *t, lp_tensor **out) {
  return lp_tensor_alias(ctx, t, out);        /* aliases carry no autograd attributes */
}

void lp_tensor_bump_version(lp_tensor *t) { t->storage->version++; }
uint64_t lp_tensor_version(const lp_tensor *t) { return t->storage->version; }

lp_status lp_check_inplace(lp_ctx *ctx, const lp_tensor *t, int argno) {
  int d;
  if (ctx->grad_enabled && t->ext && t->ext->requires_grad)
    return lp_ctx_error(ctx, LP_EARG, argno,
                        "in-place operation on a tensor that requires grad (use lp.no_grad or detach)");
  /* an expanded view: many elements share one memory location, so a write
     would land several times on it (and walk the whole, maybe huge, view) */
  for (d = 0; d < t->ndim; d++)
    if (t->stride[d] == 0 && t->shape[d] > 1)
      return lp_ctx_error(ctx, LP_EARG, argno,
                          "in-place operation on an expanded view (its elements share memory; use clone first)");
  return LP_OK;
}

/* ---- recording -------------------------------------------------------- */
int lp_needs_grad(const lp_ctx *ctx, int n, const lp_tensor *const *ts) {
  int i;
  if (!ctx->grad_enabled) return 0;
  for (i = 0; i < n; i++) if (ts[i] && ts[i]->ext && ts[i]->ext->requires_grad) return 1;
  return 0;
}

lp_status lp_node_record(lp_ctx *ctx, const char *name, lp_backward_fn fn, int nin,
                         const lp_tensor *const *inputs, int nout, lp_tensor *const *outputs,
                         size_t payload_bytes, lp_node **out) {
  lp_node *n;
  int i;
  if (out) *out = NULL;
  n = lp_ctx_alloc(ctx, sizeof *n);
  if (!n) return LP_ENOMEM;
  n->in = lp_ctx_alloc(ctx, (size_t)(nin ? nin : 1) * sizeof *n->in);
  if (!n->in) { lp_ctx_dealloc(ctx, n, sizeof *n); return LP_ENOMEM; }
  if (payload_bytes) {
    n->payload = lp_ctx_alloc(ctx, payload_bytes);
    if (!n->payload) {
      lp_ctx_dealloc(ctx, n->in, (size_t)(nin ? nin : 1) * sizeof *n->in);
      lp_ctx_dealloc(ctx, n, sizeof *n);
      return LP_ENOMEM;
    }
    n->payload_bytes = payload_bytes;
  }
  /* every output needs its attributes before we commit anything */
  for (i = 0; i < nout; i++) {
    if (!meta(ctx, outputs[i])) {
      if (n->payload) lp_ctx_dealloc(ctx, n->payload, payload_bytes);
      lp_ctx_dealloc(ctx, n->in, (size_t)(nin ? nin : 1) * sizeof *n->in);
      lp_ctx_dealloc(ctx, n, sizeof *n);
      return LP_ENOMEM;
    }
  }
  n->refcount = 0;
  n->ctx = ctx;
  lp_ctx_ref_(ctx);
  n->seq = ctx->node_seq++;
  n->name = name;
  n->backward = fn;
  n->nin = nin;
  n->nout = nout;
  for (i = 0; i < nin; i++) {
    const lp_tensor *t = inputs[i];
    lp_edge *e = &n->in[i];
    if (!t) continue;
    e->dtype = t->dtype;
    e->ndim = t->ndim;
    memcpy(e->shape, t->shape, sizeof e->shape);
    if (!(t->ext && t->ext->requires_grad)) continue;
    e->needs_grad = 1;
    if (t->ext->node) { e->node = t->ext->node; e->node->refcount++; e->index = t->ext->out_index; }
    else e->leaf = lp_tensor_retain((lp_tensor *)t);
  }
  for (i = 0; i < nout; i++) {
    lp_agmeta *m = outputs[i]->ext;
    node_unref(m->node);
    m->node = n;
    n->refcount++;
    m->out_index = i;
    m->requires_grad = 1;
  }
  if (nout == 0) { node_unref((n->refcount = 1, n)); return LP_OK; }
  if (out) *out = n;
  return LP_OK;
}

lp_status lp_node_save(lp_ctx *ctx, lp_node *node, const lp_tensor *t, int *index) {
  lp_tensor *a;
  lp_status st;
  if (node->nsaved == node->capsaved) {
    int cap = node->capsaved ? 2 * node->capsaved : 4;
    lp_saved *s = lp_ctx_alloc(ctx, (size_t)cap * sizeof *s);
    if (!s) return LP_ENOMEM;
    if (node->nsaved) memcpy(s, node->saved, (size_t)node->nsaved * sizeof *s);
    lp_ctx_dealloc(ctx, node->saved, (size_t)node->capsaved * sizeof *node->saved);
    node->saved = s;
    node->capsaved = cap;
  }
  if ((st = lp_tensor_alias(ctx, t, &a)) != LP_OK) return st;
  node->saved[node->nsaved].t = a;
  node->saved[node->nsaved].version = t->storage->version;
  if (index) *index = node->nsaved;
  node->nsaved++;
  return LP_OK;
}

lp_tensor *lp_node_saved(const lp_node *node, int i) { return node->saved[i].t; }
void *lp_node_payload(lp_node *node) { return node->payload; }
int lp_node_ninputs(const lp_node *node) { return node->nin; }
int lp_node_input_needs_grad(const lp_node *node, int i) { return node->in[i].needs_grad; }
int lp_node_input_ndim(const lp_node *node, int i) { return node->in[i].ndim; }
const int64_t *lp_node_input_shape(const lp_node *node, int i) { return node->in[i].shape; }
lp_dtype lp_node_input_dtype(const lp_node *node, int i) { return node->in[i].dtype; }
const char *lp_node_name(const lp_node *node) { return node->name; }

/* ---- backward --------------------------------------------------------- */
static int by_seq_desc(const void *a, const void *b) {
  uint64_t x = (*(lp_node *const *)a)->seq, y = (*(lp_node *const *)b)->seq;
  return x < y ? 1 : x > y ? -1 : 0;
}

/* acc = acc + g (acc may be NULL: becomes a copy of g in dtype dt and the
   given shape). */
static lp_status accumulate(lp_ctx *ctx, lp_tensor **acc, lp_tensor *g, lp_dtype dt, int ndim,
                            const int64_t *shape) {
  lp_status st;
  char b1[160], b2[160];
  if (g->ndim != ndim || memcmp(g->shape, shape, (size_t)ndim * sizeof(int64_t)) != 0)
    return lp_ctx_error(ctx, LP_ESHAPE, 0, "internal: backward produced a gradient of shape %s for shape %s",
                        lp_shape_str(g->ndim, g->shape, b1, sizeof b1), lp_shape_str(ndim, shape, b2, sizeof b2));
  if (!*acc) {
    /* a fresh gradient nobody else sees (one header, one storage, contiguous)
       is taken over instead of copied; views and shared tensors are copied */
    if (g->refcount == 1 && g->storage->refcount == 1 && !g->ext && g->dtype == dt &&
        lp_tensor_is_contiguous(g)) {
      *acc = lp_tensor_retain(g);
      return LP_OK;
    }
    return lp_tensor_astype(ctx, g, dt, acc);
  }
  st = lp_binary_(ctx, LP_ADD, *acc, g);
  return st;
}

lp_status lp_backward(lp_ctx *ctx, lp_tensor *root, const lp_tensor *grad, int retain_graph) {
  lp_node **order = NULL, *rn;
  size_t n = 0, cap = 0, head = 0, i;
  lp_tensor *seed = NULL;
  lp_status st = LP_OK;
  int old_mode, k;
  char b1[160];
  if (!root->ext || !root->ext->requires_grad)
    return lp_ctx_error(ctx, LP_EARG, 1, "tensor does not require grad and has no grad_fn");
  if (grad) {
    if (grad->ndim != root->ndim || memcmp(grad->shape, root->shape, (size_t)root->ndim * sizeof(int64_t)) != 0)
      return lp_ctx_error(ctx, LP_ESHAPE, 2, "gradient must have the tensor's shape %s",
                          lp_shape_str(root->ndim, root->shape, b1, sizeof b1));
    if ((st = lp_tensor_astype(ctx, grad, root->dtype, &seed)) != LP_OK) return st;
  } else {
    if (lp_tensor_numel(root) != 1)
      return lp_ctx_error(ctx, LP_ESHAPE, 1, "backward needs a gradient for a tensor of shape %s (only one-element tensors seed 1)",
                          lp_shape_str(root->ndim, root->shape, b1, sizeof b1));
    if ((st = lp_full(ctx, root->dtype, root->ndim, root->shape, lp_int(1), &seed)) != LP_OK) return st;
  }
  rn = root->ext->node;
  if (!rn) {                                     /* a leaf: d root / d root = 1 */
    lp_tensor *acc = lp_tensor_grad(root) ? lp_tensor_retain(lp_tensor_grad(root)) : NULL;
    int had = acc != NULL;
    old_mode = lp_grad_set_enabled(ctx, 0);
    st = accumulate(ctx, &acc, seed, root->dtype, root->ndim, root->shape);
    lp_grad_set_enabled(ctx, old_mode);
    if (st == LP_OK && !had) st = lp_tensor_set_grad(ctx, root, acc);
    lp_tensor_release(acc);
    lp_tensor_release(seed);
    return st;
  }
  /* collect the nodes reachable from the root (breadth first) */
#define PUSH(nd) do { \
    if (n == cap) { \
      size_t nc = cap ? 2 * cap : 64; \
      lp_node **o = lp_ctx_alloc(ctx, nc * sizeof *o); \
      if (!o) { st = LP_ENOMEM; goto done; } \
      if (n) memcpy(o, order, n * sizeof *o); \
      lp_ctx_dealloc(ctx, order, cap * sizeof *order); \
      order = o; cap = nc; \
    } \
    (nd)->visited = 1; order[n++] = (nd); \
  } while (0)
  PUSH(rn);
  while (head < n) {
    lp_node *nd = order[head++];
    for (k = 0; k < nd->nin; k++)
      if (nd->in[k].node && !nd->in[k].node->visited) PUSH(nd->in[k].node);
  }
#undef PUSH
  qsort(order, n, sizeof *order, by_seq_desc);
  for (i = 0; i < n; i++) {
    lp_node *nd = order[i];
    if (nd->released) {
      st = lp_ctx_error(ctx, LP_EARG, 1, "backward through the graph a second time (%s's saved tensors were "
                        "released; pass retain_graph = true to the first backward)", nd->name);
      goto done;
    }
    for (k = 0; k < nd->nsaved; k++)
      if (nd->saved[k].t && nd->saved[k].t->storage->version != nd->saved[k].version) {
        st = lp_ctx_error(ctx, LP_EARG, 1, "a tensor saved for backward by %s was modified in place after it was saved",
                          nd->name);
        goto done;
      }
    nd->gout = lp_ctx_alloc(ctx, (size_t)nd->nout * sizeof *nd->gout);
    if (!nd->gout) { st = LP_ENOMEM; goto done; }
  }
  rn->gout[root->ext->out_index] = seed;
  seed = NULL;

  old_mode = lp_grad_set_enabled(ctx, 0);
  for (i = 0; i < n && st == LP_OK; i++) {
    lp_node *nd = order[i];
    lp_tensor *gin_local[8], **gin = gin_local;
    int any = 0;
    for (k = 0; k < nd->nout; k++) if (nd->gout[k]) any = 1;
    if (!any) continue;
    if ((st = lp_ctx_check_interrupt(ctx)) != LP_OK) break;
    if (nd->nin > 8) {
      gin = lp_ctx_alloc(ctx, (size_t)nd->nin * sizeof *gin);
      if (!gin) { st = LP_ENOMEM; break; }
    } else memset(gin_local, 0, sizeof gin_local);
    st = nd->backward(ctx, nd, nd->gout, gin);
    /* this node's output grads are consumed: free them now (flat memory),
       before the input grads are accumulated, so that a view of one (the
       grad of a reshape, a permute, an identity) is its storage's only
       holder and is taken over by accumulate instead of copied */
    for (k = 0; k < nd->nout; k++) { lp_tensor_release(nd->gout[k]); nd->gout[k] = NULL; }
    for (k = 0; k < nd->nin; k++) {
      lp_edge *e = &nd->in[k];
      if (!gin[k]) continue;
      if (st == LP_OK && e->needs_grad) {
        if (e->leaf) {
          lp_tensor *acc = lp_tensor_grad(e->leaf) ? lp_tensor_retain(lp_tensor_grad(e->leaf)) : NULL;
          int had = acc != NULL;
          st = accumulate(ctx, &acc, gin[k], e->leaf->dtype, e->ndim, e->shape);
          if (st == LP_OK && !had) st = lp_tensor_set_grad(ctx, e->leaf, acc);
          lp_tensor_release(acc);
        } else if (e->node) {
          st = accumulate(ctx, &e->node->gout[e->index], gin[k], e->dtype, e->ndim, e->shape);
        }
      }
      lp_tensor_release(gin[k]);
    }
    if (gin != gin_local) lp_ctx_dealloc(ctx, gin, (size_t)nd->nin * sizeof *gin);
    if (!retain_graph) node_release_saved(nd);
  }
  lp_grad_set_enabled(ctx, old_mode);

done:
  for (i = 0; i < n; i++) {
    lp_node *nd = order[i];
    nd->visited = 0;
    if (nd->gout) {
      for (k = 0; k < nd->nout; k++) lp_tensor_release(nd->gout[k]);
      lp_ctx_dealloc(ctx, nd->gout, (size_t)nd->nout * sizeof *nd->gout);
      nd->gout = NULL;
    }
  }
  lp_ctx_dealloc(ctx, order, cap * sizeof *order);
  lp_tensor_release(seed);
  return st;
}

lp_status lp_sum_to_shape(lp_ctx *ctx, const lp_tensor *g, int ndim, const int64_t *shape, lp_tensor **out) {
  lp_tensor *cur = lp_tensor_retain((lp_tensor *)g), *next = NULL;
  lp_status st = LP_OK;
  int d;
  *out = NULL;
  /* leading dims that shape lacks */
  while (cur->ndim > ndim) {
    if ((st = lp_reduce(ctx, LP_SUM, cur, 0, 0, 0, &next)) != LP_OK) { lp_tensor_release(cur); return st; }
    lp_tensor_release(cur);
    cur = next;
  }
  for (d = 0; d < ndim; d++) {
    if (shape[d] == 1 && cur->shape[d] != 1) {
      if ((st = lp_reduce(ctx, LP_SUM, cur, d, 1, 0, &next)) != LP_OK) { lp_tensor_release(cur); return st; }
      lp_tensor_release(cur);
      cur = next;
    }
  }
  *out = cur;
  return LP_OK;
}
