/*
** core/src/grad_ops.c -- the differentiable versions of the engine's ops
** (lp_ag_* of limpet/autograd.h). Each runs the plain op and, when grad mode
** is on and an input requires grad, records a node with its backward and
** saves what that backward needs. Backward formulas are composed from the
** plain kernels (the engine runs them with grad mode off, so they record
** nothing), plus three loops written here: the scatters of masked_select
** and index_select, and the exclusive products of prod.
** Conventions:
**   - maximum/minimum give the gradient to the chosen operand and split it
**     equally on ties; max/min reductions split it equally among tied
**     extrema (over the reduced dim, or over every element).
**   - floor, ceil, round, trunc, sign and floor_divide record a node whose
**     gradient is zero; mod passes the gradient to a unchanged and
**     -floor(a/b) to b.
**   - median passes the gradient to the middle element of each line (half
**     to each of the two middle ones for an even count), quantile to the
**     two sorted neighbours it interpolates between; nanmax/nanmin and
**     nansum/nanmean give NaN elements a zero gradient.
**   - cumsum's gradient is the reverse cumulative sum of g; cumprod's is
**     computed per line without dividing by zeros; cummax/cummin pass the
**     gradient to the running extremum's position.
**   - results that are not float (comparisons, logical ops, argmax/argmin,
**     isnan/isinf, casts to integers) never record.
**   - pow: d(a^b)/db is taken as 0 where a == 0.
** Not here: the engine (autograd.c) and fused ops with their own nodes
** (lif.c, ...).
*/
#include "limpet/autograd.h"
#include "limpet/random.h"
#include "tensor_impl.h"
#include <math.h>
#include <stdlib.h>

#define TRY(x) do { if ((st = (x)) != LP_OK) goto done; } while (0)

/* ---- helpers ------------------------------------------------------------ */
static void drop(lp_tensor **t, int n) {
  int i;
  for (i = 0; i < n; i++) { lp_tensor_release(t[i]); t[i] = NULL; }
}

/* Record a one-output node; *node stays NULL when there is nothing to record
   (a result that is not float, or that is one of the inputs itself). */
static lp_status rec1(lp_ctx *ctx, const char *name, lp_backward_fn fn, int nin,
                      const lp_tensor *const *in, lp_tensor *out, size_t pb, lp_node **node) {
  int i;
  *node = NULL;
  if (!lp_dtype_is_float(out->dtype)) return LP_OK;
  for (i = 0; i < nin; i++) if (in[i] == out) return LP_OK;
  return lp_node_record(ctx, name, fn, nin, in, 1, &out, pb, node);
}

/* On failure, drop the result. */
static lp_status settle(lp_status st, lp_tensor **out) {
  if (st != LP_OK) { lp_tensor_release(*out); *out = NULL; }
  return st;
}

/* gin = g summed down to input i's shape; takes over g. */
static lp_status to_input(lp_ctx *ctx, lp_node *n, int i, lp_tensor *g, lp_tensor **gin) {
  lp_status st = lp_sum_to_shape(ctx, g, lp_node_input_ndim(n, i), lp_node_input_shape(n, i), gin);
  lp_tensor_release(g);
  return st;
}

static lp_status scalar0(lp_ctx *ctx, lp_dtype dt, double v, lp_tensor **out) {
  return lp_full(ctx, dt, 0, NULL, lp_float(v), out);
}

static lp_status mul_s(lp_ctx *ctx, const lp_tensor *t, double s, lp_tensor **out) {
  return lp_binary_scalar(ctx, LP_MUL, t, lp_float(s), 0, out);
}

/* where(mask, g, 0) */
static lp_status keep(lp_ctx *ctx, const lp_tensor *mask, const lp_tensor *g, lp_tensor **out) {
  lp_tensor *z = NULL;
  lp_status st = scalar0(ctx, g->dtype, 0, &z);
  if (st == LP_OK) st = lp_where(ctx, mask, g, z, out);
  lp_tensor_release(z);
  return st;
}

static lp_status zeros_input(lp_ctx *ctx, lp_node *n, int i, lp_dtype dt, lp_tensor **out) {
  return lp_tensor_new(ctx, dt, lp_node_input_ndim(n, i), lp_node_input_shape(n, i), out);
}

/* ---- binary --------------------------------------------------------------- */
typedef struct bin_pl {
  int op, sa, sb;               /* saved slots of a and b, -1 when not saved */
  int scalar_left;              /* scalar form: s op a */
  double s;
} bin_pl;

/* Weight of a in maximum/minimum: 1 where a wins, 0.5 on ties, else 0. */
static lp_status minmax_weight(lp_ctx *ctx, int is_max, const lp_tensor *a, const lp_tensor *b,
                               double s, lp_dtype dt, lp_tensor **out) {
  lp_tensor *t[4] = {NULL, NULL, NULL, NULL};
  lp_status st;
  *out = NULL;
  if (b) {
    TRY(lp_binary(ctx, is_max ? LP_GT : LP_LT, a, b, &t[0]));
    TRY(lp_binary(ctx, LP_EQ, a, b, &t[1]));
  } else {
    TRY(lp_binary_scalar(ctx, is_max ? LP_GT : LP_LT, a, lp_float(s), 0, &t[0]));
    TRY(lp_binary_scalar(ctx, LP_EQ, a, lp_float(s), 0, &t[1]));
  }
  TRY(lp_tensor_astype(ctx, t[0], dt, &t[2]));
  TRY(lp_tensor_astype(ctx, t[1], dt, &t[3]));
  TRY(lp_binary_scalar_(ctx, LP_MUL, t[3], lp_float(0.5)));
  st = lp_binary(ctx, LP_ADD, t[2], t[3], out);
done:
  drop(t, 4);
  return st;
}

static lp_status binary_bw(lp_ctx *ctx, lp_node *n, lp_tensor *const *gout, lp_tensor **gin) {
  bin_pl *p = lp_node_payload(n);
  const lp_tensor *g = gout[0];
  lp_tensor *a = p->sa >= 0 ? lp_node_saved(n, p->sa) : NULL;
  lp_tensor *b = p->sb >= 0 ? lp_node_saved(n, p->sb) : NULL;
  int na = lp_node_input_needs_grad(n, 0), nb = lp_node_input_needs_grad(n, 1);
  lp_tensor *ga = NULL, *gb = NULL, *t[4] = {NULL, NULL, NULL, NULL};
  lp_status st = LP_OK;
  switch ((lp_binop)p->op) {
    case LP_ADD:
      if (na) ga = lp_tensor_retain((lp_tensor *)g);
      if (nb) gb = lp_tensor_retain((lp_tensor *)g);
      break;
    case LP_SUB:
      if (na) ga = lp_tensor_retain((lp_tensor *)g);
      if (nb) TRY(lp_unary(ctx, LP_NEG, g, &gb));
      break;
    case LP_MUL:
      if (na) TRY(lp_binary(ctx, LP_MUL, g, b, &ga));
      if (nb) TRY(lp_binary(ctx, LP_MUL, g, a, &gb));
      break;
    case LP_DIV:
      if (na) TRY(lp_binary(ctx, LP_DIV, g, b, &ga));
      if (nb) {                                     /* -g a / b^2 */
        TRY(lp_binary(ctx, LP_MUL, g, a, &t[0]));
        TRY(lp_binary(ctx, LP_MUL, b, b, &t[1]));
        TRY(lp_binary(ctx, LP_DIV, t[0], t[1], &t[2]));
        TRY(lp_unary(ctx, LP_NEG, t[2], &gb));
      }
      break;
    case LP_POW:
      if (na) {                                     /* g b a^(b-1) */
        TRY(lp_binary_scalar(ctx, LP_SUB, b, lp_int(1), 0, &t[0]));
        TRY(lp_binary(ctx, LP_POW, a, t[0], &t[1]));
        TRY(lp_binary(ctx, LP_MUL, t[1], b, &t[2]));
        TRY(lp_binary(ctx, LP_MUL, g, t[2], &ga));
        drop(t, 4);
      }
      if (nb) {                                     /* g a^b log a, 0 where a == 0 */
        TRY(lp_binary(ctx, LP_POW, a, b, &t[0]));
        TRY(lp_unary(ctx, LP_LOG, a, &t[1]));
        TRY(lp_binary(ctx, LP_MUL, t[0], t[1], &t[2]));
        TRY(lp_binary_scalar(ctx, LP_NE, a, lp_int(0), 0, &t[3]));
        lp_tensor_release(t[0]);
        t[0] = NULL;
        TRY(keep(ctx, t[3], t[2], &t[0]));
        TRY(lp_binary(ctx, LP_MUL, g, t[0], &gb));
      }
      break;
    case LP_MAXIMUM: case LP_MINIMUM:
      TRY(minmax_weight(ctx, p->op == LP_MAXIMUM, a, b, 0, g->dtype, &t[0]));
      TRY(lp_binary(ctx, LP_MUL, g, t[0], &t[1]));
      if (nb) TRY(lp_binary(ctx, LP_SUB, g, t[1], &gb));
      if (na) { ga = t[1]; t[1] = NULL; }
      break;
    case LP_MOD:
      if (na) ga = lp_tensor_retain((lp_tensor *)g);
      if (nb) {                                     /* -g floor(a / b) */
        TRY(lp_binary(ctx, LP_DIV, a, b, &t[0]));
        TRY(lp_unary(ctx, LP_FLOOR, t[0], &t[1]));
        TRY(lp_binary(ctx, LP_MUL, g, t[1], &t[2]));
        TRY(lp_unary(ctx, LP_NEG, t[2], &gb));
      }
      break;
    case LP_FLOORDIV:                               /* piecewise constant */
      if (na) TRY(zeros_input(ctx, n, 0, g->dtype, &gin[0]));
      if (nb) TRY(zeros_input(ctx, n, 1, g->dtype, &gin[1]));
      break;
    case LP_ATAN2:                                  /* atan2(a, b): (g b, -g a) / (a^2 + b^2) */
      TRY(lp_binary(ctx, LP_HYPOT, a, b, &t[0]));
      TRY(lp_binary(ctx, LP_MUL, t[0], t[0], &t[1]));
      TRY(lp_binary(ctx, LP_DIV, g, t[1], &t[2]));
      if (na) TRY(lp_binary(ctx, LP_MUL, t[2], b, &ga));
      if (nb) {
        TRY(lp_binary(ctx, LP_MUL, t[2], a, &t[3]));
        TRY(lp_unary(ctx, LP_NEG, t[3], &gb));
      }
      break;
    case LP_HYPOT:                                  /* (g a, g b) / hypot(a, b) */
      TRY(lp_binary(ctx, LP_HYPOT, a, b, &t[0]));
      TRY(lp_binary(ctx, LP_DIV, g, t[0], &t[1]));
      if (na) TRY(lp_binary(ctx, LP_MUL, t[1], a, &ga));
      if (nb) TRY(lp_binary(ctx, LP_MUL, t[1], b, &gb));
      break;
    default:
      break;
  }
  if (ga) { st = to_input(ctx, n, 0, ga, &gin[0]); ga = NULL; if (st != LP_OK) goto done; }
  if (gb) { st = to_input(ctx, n, 1, gb, &gin[1]); gb = NULL; }
done:
  lp_tensor_release(ga);
  lp_tensor_release(gb);
  drop(t, 4);
  return st;
}

static int differentiable_binop(lp_binop op) {
  return op <= LP_MINIMUM || op == LP_FLOORDIV || op == LP_ATAN2 || op == LP_HYPOT;
}

lp_status lp_ag_binary(lp_ctx *ctx, lp_binop op, const lp_tensor *a, const lp_tensor *b, lp_tensor **out) {
  const lp_tensor *in[2];
  lp_node *n;
  bin_pl *p;
  int na, nb, save_a = 0, save_b = 0;
  lp_status st = lp_binary(ctx, op, a, b, out);
  in[0] = a; in[1] = b;
  if (st != LP_OK || !differentiable_binop(op) || !lp_needs_grad(ctx, 2, in)) return st;
  if ((st = rec1(ctx, lp_binop_name(op), binary_bw, 2, in, *out, sizeof(bin_pl), &n)) != LP_OK || !n)
    return settle(st, out);
  p = lp_node_payload(n);
  p->op = (int)op; p->sa = p->sb = -1;
  na = lp_node_input_needs_grad(n, 0); nb = lp_node_input_needs_grad(n, 1);
  switch (op) {
    case LP_MUL: save_a = nb; save_b = na; break;
    case LP_DIV: save_a = nb; save_b = 1; break;
    case LP_POW: case LP_MAXIMUM: case LP_MINIMUM: case LP_ATAN2: case LP_HYPOT:
      save_a = save_b = 1;
      break;
    case LP_MOD: save_a = save_b = nb; break;
    default: break;
  }
  if (save_a) st = lp_node_save(ctx, n, a, &p->sa);
  if (st == LP_OK && save_b) st = lp_node_save(ctx, n, b, &p->sb);
  return settle(st, out);
}

static lp_status binary_scalar_bw(lp_ctx *ctx, lp_node *n, lp_tensor *const *gout, lp_tensor **gin) {
  bin_pl *p = lp_node_payload(n);
  const lp_tensor *g = gout[0];
  lp_tensor *a = p->sa >= 0 ? lp_node_saved(n, p->sa) : NULL;
  lp_tensor *t[4] = {NULL, NULL, NULL, NULL};
  lp_status st = LP_OK;
  double s = p->s;
  int left = p->scalar_left;
  switch ((lp_binop)p->op) {
    case LP_ADD:
      gin[0] = lp_tensor_retain((lp_tensor *)g);
      break;
    case LP_SUB:
      if (left) st = lp_unary(ctx, LP_NEG, g, &gin[0]);
      else gin[0] = lp_tensor_retain((lp_tensor *)g);
      break;
    case LP_MUL:
      st = mul_s(ctx, g, s, &gin[0]);
      break;
    case LP_DIV:
      if (!left) st = lp_binary_scalar(ctx, LP_DIV, g, lp_float(s), 0, &gin[0]);
      else {                                          /* d(s/a) = -s/a^2 */
        TRY(lp_binary(ctx, LP_MUL, a, a, &t[0]));
        TRY(lp_binary(ctx, LP_DIV, g, t[0], &t[1]));
        st = mul_s(ctx, t[1], -s, &gin[0]);
      }
      break;
    case LP_POW:
      if (!left) {                                    /* s a^(s-1) */
        if (s == 0) { st = zeros_input(ctx, n, 0, g->dtype, &gin[0]); break; }
        TRY(lp_binary_scalar(ctx, LP_POW, a, lp_float(s - 1), 0, &t[0]));
        TRY(mul_s(ctx, t[0], s, &t[1]));
        st = lp_binary(ctx, LP_MUL, g, t[1], &gin[0]);
      } else {                                        /* s^a log s */
        TRY(lp_binary_scalar(ctx, LP_POW, a, lp_float(s), 1, &t[0]));
        TRY(mul_s(ctx, t[0], log(s), &t[1]));
        st = lp_binary(ctx, LP_MUL, g, t[1], &gin[0]);
      }
      break;
    case LP_MAXIMUM: case LP_MINIMUM:
      TRY(minmax_weight(ctx, p->op == LP_MAXIMUM, a, NULL, s, g->dtype, &t[0]));
      st = lp_binary(ctx, LP_MUL, g, t[0], &gin[0]);
      break;
    case LP_MOD:
      if (!left) gin[0] = lp_tensor_retain((lp_tensor *)g);
      else {                                          /* d(s mod a)/da = -floor(s/a) */
        TRY(lp_binary_scalar(ctx, LP_DIV, a, lp_float(s), 1, &t[0]));
        TRY(lp_unary(ctx, LP_FLOOR, t[0], &t[1]));
        TRY(lp_binary(ctx, LP_MUL, g, t[1], &t[2]));
        st = lp_unary(ctx, LP_NEG, t[2], &gin[0]);
      }
      break;
    case LP_FLOORDIV:
      st = zeros_input(ctx, n, 0, g->dtype, &gin[0]);
      break;
    case LP_ATAN2: {                                  /* atan2(a, s): g s / r^2; atan2(s, a): -g s / r^2 */
      TRY(lp_binary_scalar(ctx, LP_HYPOT, a, lp_float(s), 0, &t[0]));
      TRY(lp_binary(ctx, LP_MUL, t[0], t[0], &t[1]));
      TRY(lp_binary(ctx, LP_DIV, g, t[1], &t[2]));
      st = mul_s(ctx, t[2], left ? -s : s, &gin[0]);
      break;
    }
    case LP_HYPOT:                                    /* g a / hypot(a, s) */
      TRY(lp_binary_scalar(ctx, LP_HYPOT, a, lp_float(s), 0, &t[0]));
      TRY(lp_binary(ctx, LP_DIV, a, t[0], &t[1]));
      st = lp_binary(ctx, LP_MUL, g, t[1], &gin[0]);
      break;
    default:
      break;
  }
done:
  drop(t, 4);
  return st;
}

lp_status lp_ag_binary_scalar(lp_ctx *ctx, lp_binop op, const lp_tensor *a, lp_scalar s,
                              int scalar_left, lp_tensor **out) {
  lp_node *n;
  bin_pl *p;
  int save_a = 0;
  lp_status st = lp_binary_scalar(ctx, op, a, s, scalar_left, out);
  if (st != LP_OK || !differentiable_binop(op) || !lp_needs_grad(ctx, 1, &a)) return st;
  if ((st = rec1(ctx, lp_binop_name(op), binary_scalar_bw, 1, &a, *out, sizeof(bin_pl), &n)) != LP_OK || !n)
    return settle(st, out);
  p = lp_node_payload(n);
  p->op = (int)op; p->sa = p->sb = -1; p->scalar_left = scalar_left; p->s = lp_scalar_f(s);
  switch (op) {
    case LP_DIV: case LP_MOD: save_a = scalar_left; break;
    case LP_POW: case LP_MAXIMUM: case LP_MINIMUM: case LP_ATAN2: case LP_HYPOT: save_a = 1; break;
    default: break;
  }
  if (save_a) st = lp_node_save(ctx, n, a, &p->sa);
  return settle(st, out);
}

/* ---- unary ---------------------------------------------------------------- */
typedef struct un_pl { int op, slot; } un_pl;

static lp_status unary_bw(lp_ctx *ctx, lp_node *n, lp_tensor *const *gout, lp_tensor **gin) {
  un_pl *p = lp_node_payload(n);
  const lp_tensor *g = gout[0];
  lp_tensor *x = p->slot >= 0 ? lp_node_saved(n, p->slot) : NULL;   /* a or out */
  lp_tensor *t[2] = {NULL, NULL};
  lp_status st = LP_OK;
  switch ((lp_unop)p->op) {
    case LP_NEG: st = lp_unary(ctx, LP_NEG, g, &gin[0]); break;
    case LP_ABS:
      TRY(lp_unary(ctx, LP_SIGN, x, &t[0]));
      st = lp_binary(ctx, LP_MUL, g, t[0], &gin[0]);
      break;
    case LP_EXP: st = lp_binary(ctx, LP_MUL, g, x, &gin[0]); break;
    case LP_LOG: st = lp_binary(ctx, LP_DIV, g, x, &gin[0]); break;
    case LP_SQRT:                                       /* g / (2 out) */
      TRY(lp_binary(ctx, LP_DIV, g, x, &t[0]));
      st = mul_s(ctx, t[0], 0.5, &gin[0]);
      break;
    case LP_TANH:                                       /* g (1 - out^2) */
      TRY(lp_binary(ctx, LP_MUL, x, x, &t[0]));
      TRY(lp_binary_scalar(ctx, LP_SUB, t[0], lp_int(1), 1, &t[1]));
      st = lp_binary(ctx, LP_MUL, g, t[1], &gin[0]);
      break;
    case LP_SIGMOID:                                    /* g out (1 - out) */
      TRY(lp_binary_scalar(ctx, LP_SUB, x, lp_int(1), 1, &t[0]));
      TRY(lp_binary(ctx, LP_MUL, x, t[0], &t[1]));
      st = lp_binary(ctx, LP_MUL, g, t[1], &gin[0]);
      break;
    case LP_RELU:
      TRY(lp_binary_scalar(ctx, LP_GT, x, lp_int(0), 0, &t[0]));
      st = keep(ctx, t[0], g, &gin[0]);
      break;
    case LP_SIN:                                        /* g cos a */
      TRY(lp_unary(ctx, LP_COS, x, &t[0]));
      st = lp_binary(ctx, LP_MUL, g, t[0], &gin[0]);
      break;
    case LP_COS:                                        /* -g sin a */
      TRY(lp_unary(ctx, LP_SIN, x, &t[0]));
      TRY(lp_binary(ctx, LP_MUL, g, t[0], &t[1]));
      st = lp_unary(ctx, LP_NEG, t[1], &gin[0]);
      break;
    case LP_TAN:                                        /* g (1 + out^2) */
      TRY(lp_binary(ctx, LP_MUL, x, x, &t[0]));
      TRY(lp_binary_scalar(ctx, LP_ADD, t[0], lp_int(1), 0, &t[1]));
      st = lp_binary(ctx, LP_MUL, g, t[1], &gin[0]);
      break;
    case LP_ASIN: case LP_ACOS:                         /* +-g / sqrt(1 - a^2) */
      TRY(lp_binary(ctx, LP_MUL, x, x, &t[0]));
      TRY(lp_binary_scalar(ctx, LP_SUB, t[0], lp_int(1), 1, &t[1]));
      lp_tensor_release(t[0]); t[0] = NULL;
      TRY(lp_unary(ctx, LP_SQRT, t[1], &t[0]));
      lp_tensor_release(t[1]); t[1] = NULL;
      TRY(lp_binary(ctx, LP_DIV, g, t[0], &t[1]));
      if (p->op == LP_ASIN) { gin[0] = t[1]; t[1] = NULL; }
      else st = lp_unary(ctx, LP_NEG, t[1], &gin[0]);
      break;
    case LP_ATAN:                                       /* g / (1 + a^2) */
      TRY(lp_binary(ctx, LP_MUL, x, x, &t[0]));
      TRY(lp_binary_scalar(ctx, LP_ADD, t[0], lp_int(1), 0, &t[1]));
      st = lp_binary(ctx, LP_DIV, g, t[1], &gin[0]);
      break;
    case LP_SINH:                                       /* g cosh a */
      TRY(lp_unary(ctx, LP_COSH, x, &t[0]));
      st = lp_binary(ctx, LP_MUL, g, t[0], &gin[0]);
      break;
    case LP_COSH:                                       /* g sinh a */
      TRY(lp_unary(ctx, LP_SINH, x, &t[0]));
      st = lp_binary(ctx, LP_MUL, g, t[0], &gin[0]);
      break;
    case LP_ASINH: case LP_ACOSH:                       /* g / sqrt(a^2 +- 1) */
      TRY(lp_binary(ctx, LP_MUL, x, x, &t[0]));
      TRY(lp_binary_scalar(ctx, p->op == LP_ASINH ? LP_ADD : LP_SUB, t[0], lp_int(1), 0, &t[1]));
      lp_tensor_release(t[0]); t[0] = NULL;
      TRY(lp_unary(ctx, LP_SQRT, t[1], &t[0]));
      st = lp_binary(ctx, LP_DIV, g, t[0], &gin[0]);
      break;
    case LP_ATANH:                                      /* g / (1 - a^2) */
      TRY(lp_binary(ctx, LP_MUL, x, x, &t[0]));
      TRY(lp_binary_scalar(ctx, LP_SUB, t[0], lp_int(1), 1, &t[1]));
      st = lp_binary(ctx, LP_DIV, g, t[1], &gin[0]);
      break;
    case LP_LOG1P:                                      /* g / (1 + a) */
      TRY(lp_binary_scalar(ctx, LP_ADD, x, lp_int(1), 0, &t[0]));
      st = lp_binary(ctx, LP_DIV, g, t[0], &gin[0]);
      break;
    case LP_EXPM1:                                      /* g (out + 1) */
      TRY(lp_binary_scalar(ctx, LP_ADD, x, lp_int(1), 0, &t[0]));
      st = lp_binary(ctx, LP_MUL, g, t[0], &gin[0]);
      break;
    case LP_LOG2: case LP_LOG10:                        /* g / (a ln b) */
      TRY(lp_binary(ctx, LP_DIV, g, x, &t[0]));
      st = mul_s(ctx, t[0], p->op == LP_LOG2 ? 1.0 / log(2.0) : 1.0 / log(10.0), &gin[0]);
      break;
    case LP_EXP2:                                       /* g out ln 2 */
      TRY(lp_binary(ctx, LP_MUL, g, x, &t[0]));
      st = mul_s(ctx, t[0], log(2.0), &gin[0]);
      break;
    case LP_SQUARE:                                     /* 2 g a */
      TRY(lp_binary(ctx, LP_MUL, g, x, &t[0]));
      st = mul_s(ctx, t[0], 2.0, &gin[0]);
      break;
    case LP_RECIPROCAL:                                 /* -g out^2 */
      TRY(lp_binary(ctx, LP_MUL, x, x, &t[0]));
      TRY(lp_binary(ctx, LP_MUL, g, t[0], &t[1]));
      st = lp_unary(ctx, LP_NEG, t[1], &gin[0]);
      break;
    case LP_CBRT:                                       /* g / (3 out^2) */
      TRY(lp_binary(ctx, LP_MUL, x, x, &t[0]));
      TRY(lp_binary(ctx, LP_DIV, g, t[0], &t[1]));
      st = mul_s(ctx, t[1], 1.0 / 3.0, &gin[0]);
      break;
    default:                                            /* floor, ceil, round, sign, trunc */
      st = zeros_input(ctx, n, 0, g->dtype, &gin[0]);
      break;
  }
done:
  drop(t, 2);
  return st;
}

lp_status lp_ag_unary(lp_ctx *ctx, lp_unop op, const lp_tensor *a, lp_tensor **out) {
  lp_node *n;
  un_pl *p;
  lp_status st = lp_unary(ctx, op, a, out);
  if (st != LP_OK || !lp_needs_grad(ctx, 1, &a)) return st;
  if ((st = rec1(ctx, lp_unop_name(op), unary_bw, 1, &a, *out, sizeof(un_pl), &n)) != LP_OK || !n)
    return settle(st, out);
  p = lp_node_payload(n);
  p->op = (int)op; p->slot = -1;
  switch (op) {
    case LP_ABS: case LP_LOG: case LP_RELU: case LP_SIN: case LP_COS: case LP_ASIN: case LP_ACOS:
    case LP_ATAN: case LP_SINH: case LP_COSH: case LP_ASINH: case LP_ACOSH: case LP_ATANH:
    case LP_LOG1P: case LP_LOG2: case LP_LOG10: case LP_SQUARE:
      st = lp_node_save(ctx, n, a, &p->slot);
      break;
    case LP_EXP: case LP_SQRT: case LP_TANH: case LP_SIGMOID: case LP_TAN: case LP_EXPM1:
    case LP_EXP2: case LP_RECIPROCAL: case LP_CBRT:
      st = lp_node_save(ctx, n, *out, &p->slot);
      break;
    default: break;
  }
  return settle(st, out);
}

/* ---- clamp, where ----------------------------------------------------------- */
typedef struct clamp_pl { int has_lo, has_hi, slot; double lo, hi; } clamp_pl;

static lp_status clamp_bw(lp_ctx *ctx, lp_node *n, lp_tensor *const *gout, lp_tensor **gin) {
  clamp_pl *p = lp_node_payload(n);
  lp_tensor *a = lp_node_saved(n, p->slot), *t[3] = {NULL, NULL, NULL}, *m = NULL;
  lp_status st = LP_OK;
  if (!p->has_lo && !p->has_hi) { gin[0] = lp_tensor_retain(gout[0]); return LP_OK; }
  if (p->has_lo) { TRY(lp_binary_scalar(ctx, LP_GE, a, lp_float(p->lo), 0, &t[0])); m = t[0]; }
  if (p->has_hi) { TRY(lp_binary_scalar(ctx, LP_LE, a, lp_float(p->hi), 0, &t[1])); m = t[1]; }
  if (t[0] && t[1]) { TRY(lp_binary(ctx, LP_AND, t[0], t[1], &t[2])); m = t[2]; }
  st = keep(ctx, m, gout[0], &gin[0]);
done:
  drop(t, 3);
  return st;
}

lp_status lp_ag_clamp(lp_ctx *ctx, const lp_tensor *a, int has_lo, double lo, int has_hi,
                      double hi, lp_tensor **out) {
  lp_node *n;
  clamp_pl *p;
  lp_status st = lp_clamp(ctx, a, has_lo, lo, has_hi, hi, out);
  if (st != LP_OK || !lp_needs_grad(ctx, 1, &a)) return st;
  if ((st = rec1(ctx, "clamp", clamp_bw, 1, &a, *out, sizeof(clamp_pl), &n)) != LP_OK || !n)
    return settle(st, out);
  p = lp_node_payload(n);
  p->has_lo = has_lo; p->lo = lo; p->has_hi = has_hi; p->hi = hi;
  return settle(lp_node_save(ctx, n, a, &p->slot), out);
}

typedef struct where_pl { int slot; } where_pl;

static lp_status where_bw(lp_ctx *ctx, lp_node *n, lp_tensor *const *gout, lp_tensor **gin) {
  where_pl *p = lp_node_payload(n);
  lp_tensor *c = lp_node_saved(n, p->slot), *z = NULL, *t = NULL;
  const lp_tensor *g = gout[0];
  lp_status st;
  TRY(scalar0(ctx, g->dtype, 0, &z));
  if (lp_node_input_needs_grad(n, 1)) {
    TRY(lp_where(ctx, c, g, z, &t));
    st = to_input(ctx, n, 1, t, &gin[1]);
    t = NULL;
    if (st != LP_OK) goto done;
  }
  if (lp_node_input_needs_grad(n, 2)) {
    TRY(lp_where(ctx, c, z, g, &t));
    st = to_input(ctx, n, 2, t, &gin[2]);
    t = NULL;
  }
done:
  lp_tensor_release(z);
  lp_tensor_release(t);
  return st;
}

lp_status lp_ag_where(lp_ctx *ctx, const lp_tensor *cond, const lp_tensor *a, const lp_tensor *b,
                      lp_tensor **out) {
  const lp_tensor *in[3];
  lp_node *n;
  lp_status st = lp_where(ctx, cond, a, b, out);
  in[0] = NULL; in[1] = a; in[2] = b;                 /* no gradient to cond */
  if (st != LP_OK || !lp_needs_grad(ctx, 3, in)) return st;
  if ((st = rec1(ctx, "where", where_bw, 3, in, *out, sizeof(where_pl), &n)) != LP_OK || !n)
    return settle(st, out);
  return settle(lp_node_save(ctx, n, cond, &((where_pl *)lp_node_payload(n))->slot), out);
}

/* ---- reductions ------------------------------------------------------------- */
typedef struct red_pl { int op, dim, keepdim, ddof, sa, so; double q; } red_pl;

/* Exclusive products along the last dim of a contiguous float64 tensor. */
static void excl_prod(const double *x, double *e, int64_t lines, int64_t n) {
  int64_t l, i;
  for (l = 0; l < lines; l++) {
    const double *xl = x + l * n;
    double *el = e + l * n, acc = 1;
    for (i = 0; i < n; i++) { el[i] = acc; acc *= xl[i]; }
    acc = 1;
    for (i = n - 1; i >= 0; i--) { el[i] *= acc; acc *= xl[i]; }
  }
}

/* d prod / d a: a tensor of a's shape (float64). */
static lp_status prod_grad(lp_ctx *ctx, lp_tensor *a, int dim, lp_tensor **out) {
  int perm[LP_MAXDIM], inv[LP_MAXDIM], d, k = 0, nd = a->ndim;
  lp_tensor *pa = NULL, *x = NULL, *e = NULL;
  lp_status st;
  int64_t n, total;
  *out = NULL;
  if (dim < 0) {
    TRY(lp_tensor_astype(ctx, a, LP_F64, &x));
    n = lp_tensor_numel(x);
    TRY(lp_tensor_empty(ctx, LP_F64, x->ndim, x->shape, &e));
    excl_prod(lp_tensor_data(x), lp_tensor_data(e), n ? 1 : 0, n);
    *out = e; e = NULL;
    goto done;
  }
  for (d = 0; d < nd; d++) if (d != dim) perm[k++] = d;
  perm[k] = dim;
  for (d = 0; d < nd; d++) inv[perm[d]] = d;
  TRY(lp_tensor_permute(ctx, a, perm, &pa));
  TRY(lp_tensor_astype(ctx, pa, LP_F64, &x));
  TRY(lp_tensor_empty(ctx, LP_F64, x->ndim, x->shape, &e));
  n = a->shape[dim];
  total = lp_tensor_numel(x);
  if (n > 0) excl_prod(lp_tensor_data(x), lp_tensor_data(e), total / n, n);
  st = lp_tensor_permute(ctx, e, inv, out);
done:
  lp_tensor_release(pa);
  lp_tensor_release(x);
  lp_tensor_release(e);
  return st;
}

/* t with `dim` moved last, a contiguous float64 copy. */
static lp_status last_dim_f64(lp_ctx *ctx, const lp_tensor *t, int dim, lp_tensor **out) {
  int perm[LP_MAXDIM], d, k = 0;
  lp_tensor *pt = NULL;
  lp_status st;
  for (d = 0; d < t->ndim; d++) if (d != dim) perm[k++] = d;
  perm[k] = dim;
  if ((st = lp_tensor_permute(ctx, (lp_tensor *)t, perm, &pt)) != LP_OK) return st;
  st = lp_tensor_astype(ctx, pt, LP_F64, out);
  lp_tensor_release(pt);
  return st;
}

typedef struct vi { double v; int64_t i; } vi;
static int cmp_vi(const void *x, const void *y) {
  double a = ((const vi *)x)->v, b = ((const vi *)y)->v;
  if (a != b) return (a > b) - (a < b);
  return (((const vi *)x)->i > ((const vi *)y)->i) - (((const vi *)x)->i < ((const vi *)y)->i);
}

/* d quantile / d a (median: q = 0.5): weight 1 - t and t at the two sorted
   neighbours of position q (n - 1) of each line (1/2 and 1/2 for an even
   median), 0 elsewhere and on lines holding a NaN (float64, a's shape).
   The (value, position) pairs live in a float64 tensor (two slots per
   element) so that the memory is the context's. */
static lp_status quantile_weight(lp_ctx *ctx, lp_tensor *a, double q, int dim, lp_tensor **out) {
  lp_tensor *x = NULL, *w = NULL, *pairs = NULL;
  int perm[LP_MAXDIM], inv[LP_MAXDIM], d, k = 0, nd = a->ndim;
  int64_t len, lines, l, shape2[1];
  lp_status st;
  *out = NULL;
  if (dim < 0) { TRY(lp_tensor_astype(ctx, a, LP_F64, &x)); len = lp_tensor_numel(x); }
  else { TRY(last_dim_f64(ctx, a, dim, &x)); len = a->shape[dim]; }
  TRY(lp_tensor_new(ctx, LP_F64, x->ndim, x->shape, &w));
  shape2[0] = 2 * (len > 0 ? len : 1);
  TRY(lp_tensor_empty(ctx, LP_F64, 1, shape2, &pairs));
  lines = len ? lp_tensor_numel(x) / len : 0;
  for (l = 0; l < lines; l++) {
    const double *xl = (const double *)lp_tensor_data(x) + l * len;
    double *wl = (double *)lp_tensor_data(w) + l * len, pos, t;
    vi *pv = lp_tensor_data(pairs);
    int64_t i, nan = 0, il;
    for (i = 0; i < len; i++) { pv[i].v = xl[i]; pv[i].i = i; nan |= xl[i] != xl[i]; }
    if (nan) continue;
    qsort(pv, (size_t)len, sizeof *pv, cmp_vi);
    pos = q * (double)(len - 1);
    il = (int64_t)floor(pos);
    if (il >= len - 1) { wl[pv[len - 1].i] += 1; continue; }
    t = pos - (double)il;
    wl[pv[il].i] += 1 - t;
    wl[pv[il + 1].i] += t;
  }
  if (dim < 0) { *out = w; w = NULL; goto done; }
  for (d = 0; d < nd; d++) if (d != dim) perm[k++] = d;
  perm[k] = dim;
  for (d = 0; d < nd; d++) inv[perm[d]] = d;
  st = lp_tensor_permute(ctx, w, inv, out);
done:
  lp_tensor_release(x);
  lp_tensor_release(w);
  lp_tensor_release(pairs);
  return st;
}

static lp_status reduce_bw(lp_ctx *ctx, lp_node *n, lp_tensor *const *gout, lp_tensor **gin) {
  red_pl *p = lp_node_payload(n);
  int nd = lp_node_input_ndim(n, 0), d;
  const int64_t *ish = lp_node_input_shape(n, 0);
  int64_t kshape[LP_MAXDIM], cnt = 1;
  lp_tensor *gk = NULL, *a = p->sa >= 0 ? lp_node_saved(n, p->sa) : NULL;
  lp_tensor *o = p->so >= 0 ? lp_node_saved(n, p->so) : NULL, *ok = NULL;
  lp_tensor *t[4] = {NULL, NULL, NULL, NULL};
  lp_status st;
  for (d = 0; d < nd; d++) {
    kshape[d] = (p->dim < 0 || p->dim == d) ? 1 : ish[d];
    if (p->dim < 0 || p->dim == d) cnt *= ish[d];
  }
  TRY(lp_tensor_reshape(ctx, gout[0], nd, kshape, &gk));
  if (o) TRY(lp_tensor_reshape(ctx, o, nd, kshape, &ok));
  switch ((lp_redop)p->op) {
    case LP_SUM:
      st = lp_tensor_expand(ctx, gk, nd, ish, &gin[0]);
      break;
    case LP_MEAN:
      TRY(mul_s(ctx, gk, 1.0 / (double)cnt, &t[0]));
      st = lp_tensor_expand(ctx, t[0], nd, ish, &gin[0]);
      break;
    case LP_RMAX: case LP_RMIN: case LP_NANMAX: case LP_NANMIN:   /* equal shares among tied extrema */
      TRY(lp_binary(ctx, LP_EQ, a, ok, &t[0]));
      TRY(lp_tensor_astype(ctx, t[0], gk->dtype, &t[1]));
      lp_tensor_release(t[0]); t[0] = NULL;
      TRY(lp_reduce(ctx, LP_SUM, t[1], p->dim, 1, 0, &t[0]));
      TRY(lp_clamp(ctx, t[0], 1, 1.0, 0, 0.0, &t[2]));   /* an all-NaN line: no share */
      TRY(lp_binary(ctx, LP_DIV, gk, t[2], &t[3]));
      st = lp_binary(ctx, LP_MUL, t[1], t[3], &gin[0]);
      break;
    case LP_NANSUM: case LP_NANMEAN: {              /* g [/ count], 0 at NaNs */
      TRY(lp_unary(ctx, LP_ISNAN, a, &t[0]));
      TRY(lp_unary(ctx, LP_NOT, t[0], &t[1]));
      TRY(lp_tensor_astype(ctx, t[1], gk->dtype, &t[2]));
      if (p->op == LP_NANMEAN) {
        lp_tensor_release(t[0]); t[0] = NULL;
        TRY(lp_reduce(ctx, LP_SUM, t[2], p->dim, 1, 0, &t[0]));
        TRY(lp_binary(ctx, LP_DIV, gk, t[0], &t[3]));
      } else {
        t[3] = lp_tensor_retain(gk);
      }
      st = lp_binary(ctx, LP_MUL, t[2], t[3], &gin[0]);
      break;
    }
    case LP_MEDIAN: case LP_NREDOPS:                /* LP_NREDOPS: lp_ag_quantile's node */
      TRY(quantile_weight(ctx, a, p->op == LP_MEDIAN ? 0.5 : p->q, p->dim, &t[0]));
      TRY(lp_tensor_astype(ctx, t[0], gk->dtype, &t[1]));
      st = lp_binary(ctx, LP_MUL, t[1], gk, &gin[0]);
      break;
    case LP_LOGSUMEXP:                              /* g exp(a - out) */
      TRY(lp_binary(ctx, LP_SUB, a, ok, &t[0]));
      TRY(lp_unary(ctx, LP_EXP, t[0], &t[1]));
      st = lp_binary(ctx, LP_MUL, t[1], gk, &gin[0]);
      break;
    case LP_VAR: case LP_STD: {                     /* 2 (a - mean) / (n - ddof) [/ (2 std)] */
      double den = (double)cnt - (double)p->ddof;
      TRY(lp_reduce(ctx, LP_MEAN, a, p->dim, 1, 0, &t[0]));
      TRY(lp_binary(ctx, LP_SUB, a, t[0], &t[1]));
      if (p->op == LP_VAR) TRY(lp_binary_scalar(ctx, LP_DIV, gk, lp_float(den / 2), 0, &t[2]));
      else {
        TRY(lp_binary_scalar(ctx, LP_DIV, gk, lp_float(den), 0, &t[3]));
        TRY(lp_binary(ctx, LP_DIV, t[3], ok, &t[2]));
      }
      st = lp_binary(ctx, LP_MUL, t[1], t[2], &gin[0]);
      break;
    }
    case LP_PROD:
      TRY(prod_grad(ctx, a, p->dim, &t[0]));
      st = lp_binary(ctx, LP_MUL, t[0], gk, &gin[0]);
      break;
    default:
      break;
  }
done:
  lp_tensor_release(gk);
  lp_tensor_release(ok);
  drop(t, 4);
  return st;
}

lp_status lp_ag_reduce(lp_ctx *ctx, lp_redop op, const lp_tensor *a, int dim, int keepdim,
                       int ddof, lp_tensor **out) {
  lp_node *n;
  red_pl *p;
  lp_status st = lp_reduce(ctx, op, a, dim, keepdim, ddof, out);
  if (st != LP_OK || op == LP_ARGMAX || op == LP_ARGMIN || !lp_needs_grad(ctx, 1, &a)) return st;
  if ((st = rec1(ctx, lp_redop_name(op), reduce_bw, 1, &a, *out, sizeof(red_pl), &n)) != LP_OK || !n)
    return settle(st, out);
  p = lp_node_payload(n);
  p->op = (int)op; p->dim = dim; p->keepdim = keepdim; p->ddof = ddof; p->sa = p->so = -1;
  if (op != LP_SUM && op != LP_MEAN) st = lp_node_save(ctx, n, a, &p->sa);
  if (st == LP_OK && (op == LP_RMAX || op == LP_RMIN || op == LP_STD || op == LP_NANMAX ||
                      op == LP_NANMIN || op == LP_LOGSUMEXP))
    st = lp_node_save(ctx, n, *out, &p->so);
  return settle(st, out);
}

lp_status lp_ag_quantile(lp_ctx *ctx, const lp_tensor *a, double q, int dim, int keepdim,
                         lp_tensor **out) {
  lp_node *n;
  red_pl *p;
  lp_status st = lp_quantile(ctx, a, q, dim, keepdim, out);
  if (st != LP_OK || !lp_needs_grad(ctx, 1, &a)) return st;
  if ((st = rec1(ctx, "quantile", reduce_bw, 1, &a, *out, sizeof(red_pl), &n)) != LP_OK || !n)
    return settle(st, out);
  p = lp_node_payload(n);
  p->op = LP_NREDOPS; p->dim = dim; p->keepdim = keepdim; p->ddof = 0; p->sa = p->so = -1; p->q = q;
  return settle(lp_node_save(ctx, n, a, &p->sa), out);
}

/* ---- cumulative scans ----------------------------------------------------------- */
typedef struct scan_pl { int op, dim, reverse, sa, so; } scan_pl;

/* The gradient of cumprod / cummax / cummin along dim, per line in scan
   order (x: input, g: upstream gradient, both (lines, n) float64). */
static void scan_grad_lines(int op, int reverse, const double *x, const double *g, double *r,
                            int64_t lines, int64_t n) {
  int64_t l, j;
  for (l = 0; l < lines; l++) {
    const double *xl = x + l * n, *gl = g + l * n;
    double *rl = r + l * n;
#define AT(j_) (reverse ? n - 1 - (j_) : (j_))
    for (j = 0; j < n; j++) rl[j] = 0;
    if (op == LP_CUMPROD) {
      /* d out_j / d x_i = prod_{k <= j, k != i} x_k (scan order). Before the
         first zero z: (1 / x_i) sum_{j >= i} g_j out_j; at z: a forward sum;
         after z: 0. */
      int64_t z = n;
      double pre = 1, suffix = 0, q, acc = 0;
      for (j = 0; j < n; j++) if (xl[AT(j)] == 0) { z = j; break; }
      for (j = 0; j < z; j++) pre *= xl[AT(j)];            /* out_{z-1} */
      {
        double o = 1;
        double *outs = rl;                                 /* reuse r for out_j, j < z */
        for (j = 0; j < z; j++) { o *= xl[AT(j)]; outs[AT(j)] = o; }
        for (j = z - 1; j >= 0; j--) {
          suffix += gl[AT(j)] * outs[AT(j)];
          outs[AT(j)] = suffix / xl[AT(j)];
        }
      }
      if (z < n) {
        q = pre;
        for (j = z; j < n; j++) {
          if (j > z) q *= xl[AT(j)];
          acc += gl[AT(j)] * q;
        }
        rl[AT(z)] = acc;
        /* the part of the sums for i < z that runs past z adds nothing:
           out_j = 0 there */
      }
    } else {                                 /* cummax / cummin: to the running extremum */
      int64_t best = 0;
      for (j = 0; j < n; j++) {
        double v = xl[AT(j)], b = xl[AT(best)];
        if (j == 0) best = 0;
        else if (b == b && (v != v || (op == LP_CUMMAX ? v > b : v < b))) best = j;
        rl[AT(best)] += gl[AT(j)];
      }
    }
#undef AT
  }
}

static lp_status scan_bw(lp_ctx *ctx, lp_node *n, lp_tensor *const *gout, lp_tensor **gin) {
  scan_pl *p = lp_node_payload(n);
  lp_tensor *a = p->sa >= 0 ? lp_node_saved(n, p->sa) : NULL;
  lp_tensor *x = NULL, *g = NULL, *r = NULL, *pr = NULL, *t = NULL;
  int perm[LP_MAXDIM], inv[LP_MAXDIM], d, k = 0, nd;
  int64_t len, lines;
  lp_status st;
  if (p->op == LP_CUMSUM) return lp_scan(ctx, LP_CUMSUM, gout[0], p->dim, !p->reverse, &gin[0]);
  nd = a->ndim;
  len = a->shape[p->dim];
  TRY(last_dim_f64(ctx, a, p->dim, &x));
  TRY(last_dim_f64(ctx, gout[0], p->dim, &g));
  TRY(lp_tensor_empty(ctx, LP_F64, x->ndim, x->shape, &r));
  lines = len ? lp_tensor_numel(x) / len : 0;
  scan_grad_lines(p->op, p->reverse, lp_tensor_data(x), lp_tensor_data(g), lp_tensor_data(r), lines, len);
  for (d = 0; d < nd; d++) if (d != p->dim) perm[k++] = d;
  perm[k] = p->dim;
  for (d = 0; d < nd; d++) inv[perm[d]] = d;
  TRY(lp_tensor_permute(ctx, r, inv, &pr));
  st = lp_tensor_astype(ctx, pr, gout[0]->dtype, &gin[0]);
done:
  lp_tensor_release(x);
  lp_tensor_release(g);
  lp_tensor_release(r);
  lp_tensor_release(pr);
  lp_tensor_release(t);
  return st;
}

lp_status lp_ag_scan(lp_ctx *ctx, lp_scanop op, const lp_tensor *a, int dim, int reverse,
                     lp_tensor **out) {
  lp_node *n;
  scan_pl *p;
  lp_status st = lp_scan(ctx, op, a, dim, reverse, out);
  if (st != LP_OK || !lp_needs_grad(ctx, 1, &a)) return st;
  if ((st = rec1(ctx, lp_scanop_name(op), scan_bw, 1, &a, *out, sizeof(scan_pl), &n)) != LP_OK || !n)
    return settle(st, out);
  p = lp_node_payload(n);
  p->op = (int)op; p->dim = dim; p->reverse = reverse; p->sa = p->so = -1;
  if (op != LP_CUMSUM) st = lp_node_save(ctx, n, a, &p->sa);
  return settle(st, out);
}

/* ---- products ------------------------------------------------------------------ */
typedef struct prod_pl { int sa, sb; } prod_pl;

static void save_pair(lp_ctx *ctx, lp_node *n, const lp_tensor *a, const lp_tensor *b, lp_status *st) {
  prod_pl *p = lp_node_payload(n);
  p->sa = p->sb = -1;
  if (lp_node_input_needs_grad(n, 1)) *st = lp_node_save(ctx, n, a, &p->sa);
  if (*st == LP_OK && lp_node_input_needs_grad(n, 0)) *st = lp_node_save(ctx, n, b, &p->sb);
}

/* t with dim `at` of size 1 inserted; takes over t. */
static lp_status unsq(lp_ctx *ctx, lp_tensor **t, int at) {
  lp_tensor *u;
  lp_status st = lp_tensor_unsqueeze(ctx, *t, at, &u);
  lp_tensor_release(*t);
  *t = u;
  return st;
}

static lp_status matmul_bw(lp_ctx *ctx, lp_node *n, lp_tensor *const *gout, lp_tensor **gin) {
  prod_pl *p = lp_node_payload(n);
  int and_ = lp_node_input_ndim(n, 0), bnd = lp_node_input_ndim(n, 1);
  lp_tensor *g = lp_tensor_retain(gout[0]), *a2 = NULL, *b2 = NULL, *tr = NULL, *r = NULL, *s = NULL;
  lp_status st = LP_OK;
  if (and_ == 1) TRY(unsq(ctx, &g, g->ndim - (bnd > 1 ? 1 : 0)));
  if (bnd == 1) TRY(unsq(ctx, &g, g->ndim));
  if (lp_node_input_needs_grad(n, 0)) {             /* ga = g b^T */
    int64_t sh[LP_MAXDIM];
    b2 = lp_tensor_retain(lp_node_saved(n, p->sb));
    if (bnd == 1) TRY(unsq(ctx, &b2, 1));
    TRY(lp_tensor_transpose(ctx, b2, b2->ndim - 2, b2->ndim - 1, &tr));
    TRY(lp_matmul(ctx, g, tr, &r));
    if (and_ == 1) { sh[0] = 1; sh[1] = lp_node_input_shape(n, 0)[0]; }
    else memcpy(sh, lp_node_input_shape(n, 0), (size_t)and_ * sizeof *sh);
    TRY(lp_sum_to_shape(ctx, r, and_ == 1 ? 2 : and_, sh, &s));
    TRY(lp_tensor_reshape(ctx, s, and_, lp_node_input_shape(n, 0), &gin[0]));
    lp_tensor_release(tr); lp_tensor_release(r); lp_tensor_release(s);
    tr = r = s = NULL;
  }
  if (lp_node_input_needs_grad(n, 1) && bnd == 2 && and_ > 2) {
    /* one shared b: gb = a^T g with a's and g's batch folded into rows, one
       product (sparse a: scatter-adds in linalg.c) and no batch of partial
       products to sum */
    int64_t sa[2], sg[2];
    lp_tensor *af = NULL, *gf = NULL;
    sa[1] = lp_node_input_shape(n, 0)[and_ - 1];
    sa[0] = lp_tensor_numel(lp_node_saved(n, p->sa)) / (sa[1] ? sa[1] : 1);
    sg[0] = sa[0]; sg[1] = lp_node_input_shape(n, 1)[1];
    st = lp_tensor_reshape(ctx, lp_node_saved(n, p->sa), 2, sa, &af);
    if (st == LP_OK) st = lp_tensor_reshape(ctx, g, 2, sg, &gf);
    if (st == LP_OK) st = lp_tensor_transpose(ctx, af, 0, 1, &tr);
    if (st == LP_OK) st = lp_matmul(ctx, tr, gf, &gin[1]);
    lp_tensor_release(af); lp_tensor_release(gf);
    if (st != LP_OK) goto done;
  } else if (lp_node_input_needs_grad(n, 1)) {      /* gb = a^T g */
    int64_t sh[LP_MAXDIM];
    a2 = lp_tensor_retain(lp_node_saved(n, p->sa));
    if (and_ == 1) TRY(unsq(ctx, &a2, 0));
    TRY(lp_tensor_transpose(ctx, a2, a2->ndim - 2, a2->ndim - 1, &tr));
    TRY(lp_matmul(ctx, tr, g, &r));
    if (bnd == 1) { sh[0] = lp_node_input_shape(n, 1)[0]; sh[1] = 1; }
    else memcpy(sh, lp_node_input_shape(n, 1), (size_t)bnd * sizeof *sh);
    TRY(lp_sum_to_shape(ctx, r, bnd == 1 ? 2 : bnd, sh, &s));
    TRY(lp_tensor_reshape(ctx, s, bnd, lp_node_input_shape(n, 1), &gin[1]));
  }
done:
  lp_tensor_release(g); lp_tensor_release(a2); lp_tensor_release(b2);
  lp_tensor_release(tr); lp_tensor_release(r); lp_tensor_release(s);
  return st;
}

lp_status lp_ag_matmul(lp_ctx *ctx, const lp_tensor *a, const lp_tensor *b, lp_tensor **out) {
  const lp_tensor *in[2];
  lp_node *n;
  lp_status st = lp_matmul(ctx, a, b, out);
  in[0] = a; in[1] = b;
  if (st != LP_OK || !lp_needs_grad(ctx, 2, in)) return st;
  if ((st = rec1(ctx, "matmul", matmul_bw, 2, in, *out, sizeof(prod_pl), &n)) != LP_OK || !n)
    return settle(st, out);
  save_pair(ctx, n, a, b, &st);
  return settle(st, out);
}

lp_status lp_ag_dot(lp_ctx *ctx, const lp_tensor *a, const lp_tensor *b, lp_tensor **out) {
  const lp_tensor *in[2];
  lp_node *n;
  lp_status st = lp_dot(ctx, a, b, out);
  in[0] = a; in[1] = b;
  if (st != LP_OK || !lp_needs_grad(ctx, 2, in)) return st;
  if ((st = rec1(ctx, "dot", matmul_bw, 2, in, *out, sizeof(prod_pl), &n)) != LP_OK || !n)
    return settle(st, out);
  save_pair(ctx, n, a, b, &st);
  return settle(st, out);
}

static lp_status outer_bw(lp_ctx *ctx, lp_node *n, lp_tensor *const *gout, lp_tensor **gin) {
  prod_pl *p = lp_node_payload(n);
  lp_tensor *f = NULL, *tr = NULL, *r = NULL;
  lp_status st = LP_OK;
  int64_t m;
  if (lp_node_input_needs_grad(n, 0)) {             /* ga = g . b */
    m = lp_tensor_numel(lp_node_saved(n, p->sb));
    TRY(lp_tensor_reshape(ctx, lp_node_saved(n, p->sb), 1, &m, &f));
    TRY(lp_matmul(ctx, gout[0], f, &r));
    TRY(lp_tensor_reshape(ctx, r, lp_node_input_ndim(n, 0), lp_node_input_shape(n, 0), &gin[0]));
    lp_tensor_release(f); lp_tensor_release(r);
    f = r = NULL;
  }
  if (lp_node_input_needs_grad(n, 1)) {             /* gb = g^T . a */
    m = lp_tensor_numel(lp_node_saved(n, p->sa));
    TRY(lp_tensor_reshape(ctx, lp_node_saved(n, p->sa), 1, &m, &f));
    TRY(lp_tensor_transpose(ctx, gout[0], 0, 1, &tr));
    TRY(lp_matmul(ctx, tr, f, &r));
    TRY(lp_tensor_reshape(ctx, r, lp_node_input_ndim(n, 1), lp_node_input_shape(n, 1), &gin[1]));
  }
done:
  lp_tensor_release(f); lp_tensor_release(tr); lp_tensor_release(r);
  return st;
}

lp_status lp_ag_outer(lp_ctx *ctx, const lp_tensor *a, const lp_tensor *b, lp_tensor **out) {
  const lp_tensor *in[2];
  lp_node *n;
  lp_status st = lp_outer(ctx, a, b, out);
  in[0] = a; in[1] = b;
  if (st != LP_OK || !lp_needs_grad(ctx, 2, in)) return st;
  if ((st = rec1(ctx, "outer", outer_bw, 2, in, *out, sizeof(prod_pl), &n)) != LP_OK || !n)
    return settle(st, out);
  save_pair(ctx, n, a, b, &st);
  return settle(st, out);
}

/* ---- copies and views ------------------------------------------------------------- */
static lp_status identity_bw(lp_ctx *ctx, lp_node *n, lp_tensor *const *gout, lp_tensor **gin) {
  (void)ctx; (void)n;
  gin[0] = lp_tensor_retain(gout[0]);
  return LP_OK;
}

static lp_status reshape_bw(lp_ctx *ctx, lp_node *n, lp_tensor *const *gout, lp_tensor **gin) {
  return lp_tensor_reshape(ctx, gout[0], lp_node_input_ndim(n, 0), lp_node_input_shape(n, 0), gin);
}

static lp_status expand_bw(lp_ctx *ctx, lp_node *n, lp_tensor *const *gout, lp_tensor **gin) {
  return lp_sum_to_shape(ctx, gout[0], lp_node_input_ndim(n, 0), lp_node_input_shape(n, 0), gin);
}

typedef struct view_pl { int dim, d1; int64_t start, stop, step; int perm[LP_MAXDIM]; } view_pl;

static lp_status transpose_bw(lp_ctx *ctx, lp_node *n, lp_tensor *const *gout, lp_tensor **gin) {
  view_pl *p = lp_node_payload(n);
  return lp_tensor_transpose(ctx, gout[0], p->dim, p->d1, gin);
}

static lp_status permute_bw(lp_ctx *ctx, lp_node *n, lp_tensor *const *gout, lp_tensor **gin) {
  view_pl *p = lp_node_payload(n);
  int inv[LP_MAXDIM], d;
  for (d = 0; d < lp_node_input_ndim(n, 0); d++) inv[p->perm[d]] = d;
  return lp_tensor_permute(ctx, gout[0], inv, gin);
}

/* gin = zeros of the input's shape with g written into the slice or row. */
static lp_status place_bw(lp_ctx *ctx, lp_node *n, lp_tensor *const *gout, lp_tensor **gin, int select) {
  view_pl *p = lp_node_payload(n);
  lp_tensor *z = NULL, *v = NULL;
  lp_status st;
  TRY(zeros_input(ctx, n, 0, gout[0]->dtype, &z));
  if (select) TRY(lp_tensor_select(ctx, z, p->dim, p->start, &v));
  else TRY(lp_tensor_slice(ctx, z, p->dim, p->start, p->stop, p->step, &v));
  TRY(lp_tensor_copy_(ctx, v, gout[0]));
  gin[0] = z; z = NULL;
done:
  lp_tensor_release(z);
  lp_tensor_release(v);
  return st;
}
static lp_status slice_bw(lp_ctx *ctx, lp_node *n, lp_tensor *const *gout, lp_tensor **gin) {
  return place_bw(ctx, n, gout, gin, 0);
}
static lp_status select_bw(lp_ctx *ctx, lp_node *n, lp_tensor *const *gout, lp_tensor **gin) {
  return place_bw(ctx, n, gout, gin, 1);
}

/* Record a one-input op whose payload is a view_pl (may be NULL). */
static lp_status rec_view(lp_ctx *ctx, const char *name, lp_backward_fn fn, const lp_tensor *t,
                          lp_tensor **out, const view_pl *pl) {
  lp_node *n;
  lp_status st;
  if (!lp_needs_grad(ctx, 1, &t)) return LP_OK;
  if ((st = rec1(ctx, name, fn, 1, &t, *out, pl ? sizeof *pl : 0, &n)) != LP_OK || !n) return settle(st, out);
  if (pl) memcpy(lp_node_payload(n), pl, sizeof *pl);
  return LP_OK;
}

lp_status lp_ag_astype(lp_ctx *ctx, const lp_tensor *t, lp_dtype dt, lp_tensor **out) {
  lp_status st = lp_tensor_astype(ctx, t, dt, out);
  return st != LP_OK ? st : rec_view(ctx, "astype", identity_bw, t, out, NULL);
}
lp_status lp_ag_clone(lp_ctx *ctx, const lp_tensor *t, lp_tensor **out) {
  lp_status st = lp_tensor_clone(ctx, t, out);
  return st != LP_OK ? st : rec_view(ctx, "clone", identity_bw, t, out, NULL);
}
lp_status lp_ag_contiguous(lp_ctx *ctx, lp_tensor *t, lp_tensor **out) {
  lp_status st = lp_tensor_contiguous(ctx, t, out);     /* t itself when contiguous: no node */
  return st != LP_OK ? st : rec_view(ctx, "contiguous", identity_bw, t, out, NULL);
}
lp_status lp_ag_reshape(lp_ctx *ctx, lp_tensor *t, int ndim, const int64_t *shape, lp_tensor **out) {
  lp_status st = lp_tensor_reshape(ctx, t, ndim, shape, out);
  return st != LP_OK ? st : rec_view(ctx, "reshape", reshape_bw, t, out, NULL);
}
lp_status lp_ag_view(lp_ctx *ctx, lp_tensor *t, int ndim, const int64_t *shape, lp_tensor **out) {
  lp_status st = lp_tensor_view(ctx, t, ndim, shape, out);
  return st != LP_OK ? st : rec_view(ctx, "view", reshape_bw, t, out, NULL);
}
lp_status lp_ag_squeeze(lp_ctx *ctx, lp_tensor *t, int dim, lp_tensor **out) {
  lp_status st = lp_tensor_squeeze(ctx, t, dim, out);
  return st != LP_OK ? st : rec_view(ctx, "squeeze", reshape_bw, t, out, NULL);
}
lp_status lp_ag_unsqueeze(lp_ctx *ctx, lp_tensor *t, int dim, lp_tensor **out) {
  lp_status st = lp_tensor_unsqueeze(ctx, t, dim, out);
  return st != LP_OK ? st : rec_view(ctx, "unsqueeze", reshape_bw, t, out, NULL);
}
lp_status lp_ag_expand(lp_ctx *ctx, lp_tensor *t, int ndim, const int64_t *shape, lp_tensor **out) {
  lp_status st = lp_tensor_expand(ctx, t, ndim, shape, out);
  return st != LP_OK ? st : rec_view(ctx, "expand", expand_bw, t, out, NULL);
}
lp_status lp_ag_transpose(lp_ctx *ctx, lp_tensor *t, int d0, int d1, lp_tensor **out) {
  view_pl pl;
  lp_status st = lp_tensor_transpose(ctx, t, d0, d1, out);
  memset(&pl, 0, sizeof pl);
  pl.dim = d0; pl.d1 = d1;
  return st != LP_OK ? st : rec_view(ctx, "transpose", transpose_bw, t, out, &pl);
}
lp_status lp_ag_permute(lp_ctx *ctx, lp_tensor *t, const int *perm, lp_tensor **out) {
  view_pl pl;
  lp_status st = lp_tensor_permute(ctx, t, perm, out);
  memset(&pl, 0, sizeof pl);
  if (st == LP_OK) memcpy(pl.perm, perm, (size_t)t->ndim * sizeof *perm);
  return st != LP_OK ? st : rec_view(ctx, "permute", permute_bw, t, out, &pl);
}
lp_status lp_ag_slice(lp_ctx *ctx, lp_tensor *t, int dim, int64_t start, int64_t stop,
                      int64_t step, lp_tensor **out) {
  view_pl pl;
  lp_status st = lp_tensor_slice(ctx, t, dim, start, stop, step, out);
  memset(&pl, 0, sizeof pl);
  pl.dim = dim; pl.start = start; pl.stop = stop; pl.step = step;
  return st != LP_OK ? st : rec_view(ctx, "slice", slice_bw, t, out, &pl);
}
lp_status lp_ag_select(lp_ctx *ctx, lp_tensor *t, int dim, int64_t i, lp_tensor **out) {
  view_pl pl;
  lp_status st = lp_tensor_select(ctx, t, dim, i, out);
  memset(&pl, 0, sizeof pl);
  pl.dim = dim; pl.start = i;
  return st != LP_OK ? st : rec_view(ctx, "select", select_bw, t, out, &pl);
}

/* ---- cat, stack ----------------------------------------------------------------------- */
typedef struct join_pl { int dim; } join_pl;

static lp_status cat_bw(lp_ctx *ctx, lp_node *n, lp_tensor *const *gout, lp_tensor **gin) {
  int dim = ((join_pl *)lp_node_payload(n))->dim, i;
  int64_t off = 0;
  lp_status st = LP_OK;
  for (i = 0; i < lp_node_ninputs(n) && st == LP_OK; i++) {
    int64_t sz = lp_node_input_shape(n, i)[dim];
    if (lp_node_input_needs_grad(n, i)) st = lp_tensor_slice(ctx, gout[0], dim, off, off + sz, 1, &gin[i]);
    off += sz;
  }
  return st;
}

static lp_status stack_bw(lp_ctx *ctx, lp_node *n, lp_tensor *const *gout, lp_tensor **gin) {
  int dim = ((join_pl *)lp_node_payload(n))->dim, i;
  lp_status st = LP_OK;
  for (i = 0; i < lp_node_ninputs(n) && st == LP_OK; i++)
    if (lp_node_input_needs_grad(n, i)) st = lp_tensor_select(ctx, gout[0], dim, i, &gin[i]);
  return st;
}

static lp_status join(lp_ctx *ctx, int n, lp_tensor *const *ts, int dim, lp_tensor **out, int stack) {
  const lp_tensor *const *in = (const lp_tensor *const *)ts;
  lp_node *nd;
  lp_status st = stack ? lp_tensor_stack(ctx, n, ts, dim, out) : lp_tensor_cat(ctx, n, ts, dim, out);
  if (st != LP_OK || !lp_needs_grad(ctx, n, in)) return st;
  if ((st = rec1(ctx, stack ? "stack" : "cat", stack ? stack_bw : cat_bw, n, in, *out, sizeof(join_pl), &nd)) != LP_OK || !nd)
    return settle(st, out);
  ((join_pl *)lp_node_payload(nd))->dim = dim;
  return LP_OK;
}
lp_status lp_ag_cat(lp_ctx *ctx, int n, lp_tensor *const *ts, int dim, lp_tensor **out) {
  return join(ctx, n, ts, dim, out, 0);
}
lp_status lp_ag_stack(lp_ctx *ctx, int n, lp_tensor *const *ts, int dim, lp_tensor **out) {
  return join(ctx, n, ts, dim, out, 1);
}

/* ---- masked_select, index_select ----------------------------------------------------- */
typedef struct sel_pl { int dim, slot; } sel_pl;

#define SCATTER_MASK(T) do {                                                   \
    T *z_ = lp_tensor_data(z); const T *g_ = lp_tensor_data(gc);               \
    for (k = 0; k < total; k++) if (m[k] && j < ng) z_[k] = g_[j++];           \
  } while (0)

static lp_status masked_bw(lp_ctx *ctx, lp_node *n, lp_tensor *const *gout, lp_tensor **gin) {
  sel_pl *p = lp_node_payload(n);
  lp_tensor *mask = lp_node_saved(n, p->slot), *r = NULL, *mv = NULL, *mc = NULL, *gc = NULL, *z = NULL;
  int nd = lp_node_input_ndim(n, 0), d;
  const int64_t *sh = lp_node_input_shape(n, 0);
  int64_t k, j = 0, total, ng;
  const uint8_t *m;
  lp_status st;
  if (mask->ndim >= 1 && mask->ndim < nd && memcmp(mask->shape, sh, (size_t)mask->ndim * sizeof *sh) == 0) {
    int64_t rs[LP_MAXDIM];                          /* row mask: over the leading dims */
    for (d = 0; d < nd; d++) rs[d] = d < mask->ndim ? mask->shape[d] : 1;
    TRY(lp_tensor_reshape(ctx, mask, nd, rs, &r));
    TRY(lp_tensor_expand(ctx, r, nd, sh, &mv));
  } else {
    TRY(lp_tensor_expand(ctx, mask, nd, sh, &mv));
  }
  TRY(lp_tensor_astype(ctx, mv, LP_BOOL, &mc));     /* contiguous, in row-major order */
  TRY(lp_tensor_contiguous(ctx, gout[0], &gc));
  TRY(zeros_input(ctx, n, 0, gc->dtype, &z));
  m = lp_tensor_data(mc);
  total = lp_tensor_numel(z);
  ng = lp_tensor_numel(gc);
  if (gc->dtype == LP_F64) SCATTER_MASK(double);
  else SCATTER_MASK(float);
  gin[0] = z; z = NULL;
done:
  lp_tensor_release(r); lp_tensor_release(mv); lp_tensor_release(mc);
  lp_tensor_release(gc); lp_tensor_release(z);
  return st;
}

lp_status lp_ag_masked_select(lp_ctx *ctx, const lp_tensor *t, const lp_tensor *mask, lp_tensor **out) {
  lp_node *n;
  lp_status st = lp_tensor_masked_select(ctx, t, mask, out);
  if (st != LP_OK || !lp_needs_grad(ctx, 1, &t)) return st;
  if ((st = rec1(ctx, "masked_select", masked_bw, 1, &t, *out, sizeof(sel_pl), &n)) != LP_OK || !n)
    return settle(st, out);
  return settle(lp_node_save(ctx, n, mask, &((sel_pl *)lp_node_payload(n))->slot), out);
}

#define SCATTER_ADD(T) do {                                                    \
    T *z_ = lp_tensor_data(z); const T *g_ = lp_tensor_data(gc);               \
    for (o = 0; o < outer; o++)                                                \
      for (i = 0; i < ni; i++) {                                               \
        T *dst = z_ + (o * size + ix[i]) * inner;                              \
        const T *src = g_ + (o * ni + i) * inner;                              \
        for (k = 0; k < inner; k++) dst[k] += src[k];                          \
      }                                                                        \
  } while (0)

static lp_status index_bw(lp_ctx *ctx, lp_node *n, lp_tensor *const *gout, lp_tensor **gin) {
  sel_pl *p = lp_node_payload(n);
  lp_tensor *idx = lp_node_saved(n, p->slot), *gc = NULL, *z = NULL;
  int nd = lp_node_input_ndim(n, 0), d;
  const int64_t *sh = lp_node_input_shape(n, 0), *ix = lp_tensor_data(idx);
  int64_t outer = 1, inner = 1, size = sh[p->dim], ni = lp_tensor_numel(idx), o, i, k;
  lp_status st;
  for (d = 0; d < p->dim; d++) outer *= sh[d];
  for (d = p->dim + 1; d < nd; d++) inner *= sh[d];
  TRY(lp_tensor_contiguous(ctx, gout[0], &gc));
  TRY(zeros_input(ctx, n, 0, gc->dtype, &z));
  if (gc->dtype == LP_F64) SCATTER_ADD(double);
  else SCATTER_ADD(float);
  gin[0] = z; z = NULL;
done:
  lp_tensor_release(gc); lp_tensor_release(z);
  return st;
}

lp_status lp_ag_index_select(lp_ctx *ctx, const lp_tensor *t, int dim, const lp_tensor *index,
                             lp_tensor **out) {
  lp_node *n;
  lp_tensor *ix = NULL;
  sel_pl *p;
  lp_status st = lp_tensor_index_select(ctx, t, dim, index, out);
  if (st != LP_OK || !lp_needs_grad(ctx, 1, &t)) return st;
  if ((st = rec1(ctx, "index_select", index_bw, 1, &t, *out, sizeof(sel_pl), &n)) != LP_OK || !n)
    return settle(st, out);
  p = lp_node_payload(n);
  p->dim = dim;
  st = lp_tensor_astype(ctx, index, LP_I64, &ix);   /* a private contiguous copy */
  if (st == LP_OK) st = lp_node_save(ctx, n, ix, &p->slot);
  lp_tensor_release(ix);
  return settle(st, out);
}
