/*
** lua/l_ops.c -- Lua face of limpet/ops.h: arithmetic metamethods, the
** elementwise, reduction and product methods of limpet.Tensor, and the same
** as module functions (lp.exp(t), lp.sum(t, dim), lp.matmul(a, b), ...).
** Owns: argument conversion (Lua numbers are weak scalars; tables become
** tensors), 1-based dims and positions, and raising core errors in
** luaL_argerror's words. Differentiable ops call the lp_ag_* versions
** (limpet/autograd.h), so they record when an operand requires grad.
** Not here: numerics (core/src/elementwise.c,
** reduce.c, linalg.c), tensor construction and views (l_tensor.c).
**
** Lua API (t a tensor; "x" a tensor, number, boolean or nested table):
**   t + x, x + t, t - x, t * x, t / x, t ^ x, t % x, -t   (metamethods)
**   t:add(x) sub mul div pow mod maximum minimum            (binary, broadcast)
**   t:gt(x) ge lt le eq ne                                  (bool results; no __eq/__lt:
**                                                            Lua requires booleans there)
**   t:logical_and(x) logical_or logical_xor logical_not
**   t:abs() exp log sqrt tanh sigmoid relu floor ceil round sign isnan isinf neg
**   t:sin() cos tan arcsin arccos arctan sinh cosh arcsinh arccosh arctanh
**     (asin acos atan asinh acosh atanh: the same) log1p expm1 log2 log10
**     exp2 square reciprocal cbrt trunc isfinite         (NumPy's ufuncs)
**   t:floor_divide(x) (also t // x) arctan2(x) (atan2) hypot(x)
**   t:clamp(lo, hi)  t:clamp_(lo, hi)                      (either bound may be nil)
**   t:add_(x[, scale]) (t += scale * x)  t:sub_(x) t:mul_(x) t:div_(x)  (return t)
**   t:where(cond, other) == lp.where(cond, t, other)
**   t:sum([dim[, keepdim]]) mean max min argmax argmin prod all any median
**     nansum nanmean nanmax nanmin logsumexp
**   t:quantile(q[, dim[, keepdim]]) (q in [0, 1]) t:percentile(p, ...)  (NumPy, 'linear')
**   t:cumsum([dim]) cumprod cummax cummin                  (no dim: over the
**     flattened tensor, NumPy)
**   t:var([dim[, keepdim[, ddof]]]) t:std(...)             (ddof defaults to 0, NumPy)
**     dim: 1-based, negative from the end; none: every element (0-d result).
**     Reductions always return tensors (t:sum():item() gives the number).
**     argmax/argmin give 1-based int64 positions (in the flattened tensor
**     when no dim); t:max(dim) / t:min(dim) also return the 1-based positions.
**   t:matmul(x) outer dot; lp.matmul(a, b), lp.outer(a, b), lp.dot(a, b)
** Every method is also a module function taking the tensor first.
*/
#include "lbind.h"
#include "limpet/ops.h"
#include "limpet/autograd.h"

/* ---- operands ------------------------------------------------------------ */
static int is_scalar(lua_State *L, int arg) {
  return lua_type(L, arg) == LUA_TNUMBER || lua_isboolean(L, arg);
}

/* The tensor at arg, converting a number, boolean or table into a tensor
   that replaces the value on the stack (so the stack owns it). Borrowed. */
static lp_tensor *check_operand(lua_State *L, int arg) {
  lp_tensor *t;
  if (luaL_testudata(L, arg, LT_TENSOR)) return lt_checktensor(L, arg);
  if (!is_scalar(L, arg) && !lua_istable(L, arg))
    luaL_argerror(L, arg, lua_pushfstring(L, "tensor or number expected, got %s",
                                          luaL_typename(L, arg)));
  t = lt_checktensorlike(L, arg);
  lt_pushtensor(L, t);
  lua_replace(L, arg);
  return t;
}

/* ---- binary ---------------------------------------------------------------- */
static int do_binary(lua_State *L, lp_binop op) {
  lp_ctx *ctx = lt_ctx(L);
  lt_Box *r;
  lp_status st;
  lp_tensor *a, *b;
  lua_settop(L, 2);
  if (luaL_testudata(L, 1, LT_TENSOR) && is_scalar(L, 2)) {
    a = lt_checktensor(L, 1);
    r = lt_newbox(L);
    st = lp_ag_binary_scalar(ctx, op, a, lt_checkscalar(L, 2), 0, &r->t);
    return st == LP_OK ? (lt_account(L), 1) : lt_raise(L, st);
  }
  if (is_scalar(L, 1) && luaL_testudata(L, 2, LT_TENSOR)) {
    b = lt_checktensor(L, 2);
    r = lt_newbox(L);
    st = lp_ag_binary_scalar(ctx, op, b, lt_checkscalar(L, 1), 1, &r->t);
    return st == LP_OK ? (lt_account(L), 1) : lt_raise_at(L, st, 1);
  }
  a = check_operand(L, 1);
  b = check_operand(L, 2);
  r = lt_newbox(L);
  st = lp_ag_binary(ctx, op, a, b, &r->t);
  return st == LP_OK ? (lt_account(L), 1) : lt_raise(L, st);
}

#define BINARY_FN(NAME, OP) static int o_##NAME(lua_State *L) { return do_binary(L, OP); }
BINARY_FN(add, LP_ADD)
BINARY_FN(sub, LP_SUB)
BINARY_FN(mul, LP_MUL)
BINARY_FN(div, LP_DIV)
BINARY_FN(pow, LP_POW)
BINARY_FN(mod, LP_MOD)
BINARY_FN(maximum, LP_MAXIMUM)
BINARY_FN(minimum, LP_MINIMUM)
BINARY_FN(gt, LP_GT)
BINARY_FN(ge, LP_GE)
BINARY_FN(lt, LP_LT)
BINARY_FN(le, LP_LE)
BINARY_FN(eq, LP_EQ)
BINARY_FN(ne, LP_NE)
BINARY_FN(logical_and, LP_AND)
BINARY_FN(logical_or, LP_OR)
BINARY_FN(logical_xor, LP_XOR)
BINARY_FN(floor_divide, LP_FLOORDIV)
BINARY_FN(arctan2, LP_ATAN2)
BINARY_FN(hypot, LP_HYPOT)

/* In place: t op= x; returns t. */
static int do_binary_(lua_State *L, lp_binop op) {
  lp_ctx *ctx = lt_ctx(L);
  lp_tensor *a = lt_checktensor(L, 1);
  lp_status st;
  if (is_scalar(L, 2)) st = lp_binary_scalar_(ctx, op, a, lt_checkscalar(L, 2));
  else st = lp_binary_(ctx, op, a, check_operand(L, 2));
  if (st != LP_OK) return lt_raise(L, st);
  lt_account(L);
  lua_settop(L, 1);
  return 1;
}

/* t:add_(x[, scale]): t += scale * x */
static int o_add_(lua_State *L) {
  lp_ctx *ctx = lt_ctx(L);
  lp_tensor *a = lt_checktensor(L, 1);
  lp_status st;
  double scale;
  if (lua_isnoneornil(L, 3)) return do_binary_(L, LP_ADD);
  scale = luaL_checknumber(L, 3);
  if (is_scalar(L, 2)) {
    lp_scalar s = lt_checkscalar(L, 2);
    st = lp_binary_scalar_(ctx, LP_ADD, a, lp_float(scale * lp_scalar_f(s)));
  } else {
    st = lp_axpy_(ctx, a, scale, check_operand(L, 2));
  }
  if (st != LP_OK) return lt_raise(L, st);
  lt_account(L);
  lua_settop(L, 1);
  return 1;
}
static int o_sub_(lua_State *L) { lua_settop(L, 2); return do_binary_(L, LP_SUB); }
static int o_mul_(lua_State *L) { lua_settop(L, 2); return do_binary_(L, LP_MUL); }
static int o_div_(lua_State *L) { lua_settop(L, 2); return do_binary_(L, LP_DIV); }

/* ---- unary ------------------------------------------------------------------ */
static int do_unary(lua_State *L, lp_unop op) {
  lp_tensor *a = check_operand(L, 1);
  lt_Box *r = lt_newbox(L);
  lp_status st = lp_ag_unary(lt_ctx(L), op, a, &r->t);
  return st == LP_OK ? (lt_account(L), 1) : lt_raise(L, st);
}

#define UNARY_FN(NAME, OP) static int o_##NAME(lua_State *L) { return do_unary(L, OP); }
UNARY_FN(neg, LP_NEG)
UNARY_FN(abs, LP_ABS)
UNARY_FN(exp, LP_EXP)
UNARY_FN(log, LP_LOG)
UNARY_FN(sqrt, LP_SQRT)
UNARY_FN(tanh, LP_TANH)
UNARY_FN(sigmoid, LP_SIGMOID)
UNARY_FN(relu, LP_RELU)
UNARY_FN(floor, LP_FLOOR)
UNARY_FN(ceil, LP_CEIL)
UNARY_FN(round, LP_ROUND)
UNARY_FN(sign, LP_SIGN)
UNARY_FN(logical_not, LP_NOT)
UNARY_FN(isnan, LP_ISNAN)
UNARY_FN(isinf, LP_ISINF)
UNARY_FN(isfinite, LP_ISFINITE)
UNARY_FN(sin, LP_SIN)
UNARY_FN(cos, LP_COS)
UNARY_FN(tan, LP_TAN)
UNARY_FN(arcsin, LP_ASIN)
UNARY_FN(arccos, LP_ACOS)
UNARY_FN(arctan, LP_ATAN)
UNARY_FN(sinh, LP_SINH)
UNARY_FN(cosh, LP_COSH)
UNARY_FN(arcsinh, LP_ASINH)
UNARY_FN(arccosh, LP_ACOSH)
UNARY_FN(arctanh, LP_ATANH)
UNARY_FN(log1p, LP_LOG1P)
UNARY_FN(expm1, LP_EXPM1)
UNARY_FN(log2, LP_LOG2)
UNARY_FN(log10, LP_LOG10)
UNARY_FN(exp2, LP_EXP2)
UNARY_FN(square, LP_SQUARE)
UNARY_FN(reciprocal, LP_RECIPROCAL)
UNARY_FN(cbrt, LP_CBRT)
UNARY_FN(trunc, LP_TRUNC)

/* The NumPy/C names asin acos atan asinh acosh atanh atan2 are functions of
   their own, not the same C function registered twice: Lua names a C
   function in an error by finding it among the loaded modules, so an error
   from lp.acos says 'acos' and one from lp.arccos says 'arccos'. */
#define ALIAS_FN(alias, fn) static int o_##alias(lua_State *L) { return o_##fn(L); }
ALIAS_FN(asin, arcsin)
ALIAS_FN(acos, arccos)
ALIAS_FN(atan, arctan)
ALIAS_FN(asinh, arcsinh)
ALIAS_FN(acosh, arccosh)
ALIAS_FN(atanh, arctanh)
ALIAS_FN(atan2, arctan2)
#undef ALIAS_FN

/* __unm receives the operand twice */
static int o_unm(lua_State *L) { lua_settop(L, 1); return do_unary(L, LP_NEG); }

/* ---- clamp ------------------------------------------------------------------- */
static void check_bounds(lua_State *L, int *has_lo, double *lo, int *has_hi, double *hi) {
  *has_lo = !lua_isnoneornil(L, 2);
  *has_hi = !lua_isnoneornil(L, 3);
  *lo = *has_lo ? luaL_checknumber(L, 2) : 0;
  *hi = *has_hi ? luaL_checknumber(L, 3) : 0;
}

static int o_clamp(lua_State *L) {
  lp_tensor *a = check_operand(L, 1);
  int has_lo, has_hi;
  double lo, hi;
  lt_Box *r;
  lp_status st;
  check_bounds(L, &has_lo, &lo, &has_hi, &hi);
  r = lt_newbox(L);
  st = lp_ag_clamp(lt_ctx(L), a, has_lo, lo, has_hi, hi, &r->t);
  return st == LP_OK ? (lt_account(L), 1) : lt_raise(L, st);
}

static int o_clamp_(lua_State *L) {
  lp_tensor *a = lt_checktensor(L, 1);
  int has_lo, has_hi;
  double lo, hi;
  lp_status st;
  check_bounds(L, &has_lo, &lo, &has_hi, &hi);
  st = lp_clamp_(lt_ctx(L), a, has_lo, lo, has_hi, hi);
  if (st != LP_OK) return lt_raise(L, st);
  lua_settop(L, 1);
  return 1;
}

/* ---- where -------------------------------------------------------------------- */
/* A value operand of where: a number next to a tensor becomes a 0-d tensor of
   the tensor's dtype promoted with it as a weak scalar. */
static lp_tensor *where_value(lua_State *L, int arg, int other) {
  lp_tensor *o;
  if (is_scalar(L, arg) && (o = lt_totensor(L, other)) != NULL) {
    lp_scalar s = lt_checkscalar(L, arg);
    lp_dtype dt = lua_isboolean(L, arg) && lp_tensor_dtype(o) == LP_BOOL
                    ? LP_BOOL : lp_dtype_promote_scalar(lp_tensor_dtype(o), s);
    lt_Box *b = lt_newbox(L);
    lp_status st = lp_tensor_new(lt_ctx(L), dt, 0, NULL, &b->t);
    if (st == LP_OK) st = lp_tensor_fill_(lt_ctx(L), b->t, s);
    if (st != LP_OK) lt_raise(L, st);
    lua_replace(L, arg);
    return b->t;
  }
  return check_operand(L, arg);
}

/* where with cond, a, b at stack positions ic, ia, ib; errarg k of the core
   (1 cond, 2 a, 3 b) maps back to those positions. */
static int do_where(lua_State *L, int ic, int ia, int ib) {
  lp_tensor *c = check_operand(L, ic), *a, *b;
  lt_Box *r;
  lp_status st;
  if (is_scalar(L, ia) && is_scalar(L, ib)) {
    a = check_operand(L, ia);
    b = check_operand(L, ib);
  } else {
    if (!is_scalar(L, ia)) { a = where_value(L, ia, ib); b = where_value(L, ib, ia); }
    else { b = where_value(L, ib, ia); a = where_value(L, ia, ib); }
  }
  r = lt_newbox(L);
  st = lp_ag_where(lt_ctx(L), c, a, b, &r->t);
  if (st != LP_OK) {
    int k = lp_ctx_errarg(lt_ctx(L));
    int pos = k == 1 ? ic : k == 2 ? ia : k == 3 ? ib : 0;
    return lt_raise_at(L, st, pos - k);
  }
  lt_account(L);
  return 1;
}

static int o_where(lua_State *L) { lua_settop(L, 3); return do_where(L, 1, 2, 3); }
/* t:where(cond, other) */
static int m_where(lua_State *L) { lua_settop(L, 3); return do_where(L, 2, 1, 3); }

/* ---- reductions ------------------------------------------------------------------ */
static int do_reduce(lua_State *L, lp_redop op) {
  lp_ctx *ctx = lt_ctx(L);
  lp_tensor *a = check_operand(L, 1);
  int dim = lt_optdim(L, 2, lp_tensor_ndim(a), -1);
  int keepdim = lua_toboolean(L, 3);
  int ddof = 0;
  lt_Box *r;
  lp_status st;
  if (op == LP_VAR || op == LP_STD) {
    lua_Integer d = luaL_optinteger(L, 4, 0);
    luaL_argcheck(L, d >= 0 && d <= 0x7fffffff, 4, "ddof must be a non-negative integer");
    ddof = (int)d;
  }
  r = lt_newbox(L);
  st = lp_ag_reduce(ctx, op, a, dim, keepdim, ddof, &r->t);
  if (st == LP_OK && (op == LP_ARGMAX || op == LP_ARGMIN))
    st = lp_binary_scalar_(ctx, LP_ADD, r->t, lp_int(1));        /* 1-based */
  if (st != LP_OK) return lt_raise(L, st);
  lt_account(L);
  return 1;
}

/* max/min: values; with a dim also the 1-based positions. */
static int do_maxmin(lua_State *L, lp_redop vop, lp_redop aop) {
  lp_ctx *ctx = lt_ctx(L);
  lp_tensor *a;
  lt_Box *r, *ri;
  lp_status st;
  int dim, keepdim;
  if (lua_isnoneornil(L, 2)) return do_reduce(L, vop);
  a = check_operand(L, 1);
  dim = lt_checkdim(L, 2, lp_tensor_ndim(a));
  keepdim = lua_toboolean(L, 3);
  r = lt_newbox(L);
  ri = lt_newbox(L);
  st = lp_ag_reduce(ctx, vop, a, dim, keepdim, 0, &r->t);
  if (st == LP_OK) st = lp_reduce(ctx, aop, a, dim, keepdim, 0, &ri->t);
  if (st == LP_OK) st = lp_binary_scalar_(ctx, LP_ADD, ri->t, lp_int(1));
  if (st != LP_OK) return lt_raise(L, st);
  lt_account(L);
  return 2;
}

#define REDUCE_FN(NAME, OP) static int o_##NAME(lua_State *L) { return do_reduce(L, OP); }
REDUCE_FN(sum, LP_SUM)
REDUCE_FN(mean, LP_MEAN)
REDUCE_FN(argmax, LP_ARGMAX)
REDUCE_FN(argmin, LP_ARGMIN)
REDUCE_FN(var, LP_VAR)
REDUCE_FN(std, LP_STD)
REDUCE_FN(prod, LP_PROD)
REDUCE_FN(all, LP_ALL)
REDUCE_FN(any, LP_ANY)
REDUCE_FN(median, LP_MEDIAN)
REDUCE_FN(nansum, LP_NANSUM)
REDUCE_FN(nanmean, LP_NANMEAN)
REDUCE_FN(nanmax, LP_NANMAX)
REDUCE_FN(nanmin, LP_NANMIN)
REDUCE_FN(logsumexp, LP_LOGSUMEXP)

/* t:quantile(q[, dim[, keepdim]]), q in [0, 1]; t:percentile(p, ...), p in
   [0, 100] (NumPy's quantile / percentile, 'linear' method). */
static int do_quantile(lua_State *L, double scale) {
  lp_tensor *a = check_operand(L, 1);
  double q = luaL_checknumber(L, 2) * scale;
  int dim = lt_optdim(L, 3, lp_tensor_ndim(a), -1);
  int keepdim = lua_toboolean(L, 4);
  lt_Box *r;
  lp_status st;
  luaL_argcheck(L, q >= 0 && q <= 1, 2, scale == 1 ? "quantile must be in [0, 1]" : "percentile must be in [0, 100]");
  r = lt_newbox(L);
  st = lp_ag_quantile(lt_ctx(L), a, q, dim, keepdim, &r->t);
  if (st != LP_OK) return lt_raise(L, st);
  lt_account(L);
  return 1;
}
static int o_quantile(lua_State *L) { return do_quantile(L, 1); }
static int o_percentile(lua_State *L) { return do_quantile(L, 0.01); }

/* ---- cumulative scans ----------------------------------------------------------- */
static int do_scan(lua_State *L, lp_scanop op) {
  lp_ctx *ctx = lt_ctx(L);
  lp_tensor *a = check_operand(L, 1), *flat = NULL;
  lt_Box *r;
  lp_status st;
  int dim;
  if (lua_isnoneornil(L, 2) || lp_tensor_ndim(a) == 0) {     /* NumPy: over the flattened tensor */
    int64_t n = lp_tensor_numel(a);
    if (!lua_isnoneornil(L, 2)) lt_checkdim(L, 2, lp_tensor_ndim(a));
    r = lt_newbox(L);
    st = lp_ag_reshape(ctx, a, 1, &n, &flat);
    if (st == LP_OK) st = lp_ag_scan(ctx, op, flat, 0, 0, &r->t);
    lp_tensor_release(flat);
  } else {
    dim = lt_checkdim(L, 2, lp_tensor_ndim(a));
    r = lt_newbox(L);
    st = lp_ag_scan(ctx, op, a, dim, 0, &r->t);
  }
  if (st != LP_OK) return lt_raise(L, st);
  lt_account(L);
  return 1;
}
static int o_cumsum(lua_State *L) { return do_scan(L, LP_CUMSUM); }
static int o_cumprod(lua_State *L) { return do_scan(L, LP_CUMPROD); }
static int o_cummax(lua_State *L) { return do_scan(L, LP_CUMMAX); }
static int o_cummin(lua_State *L) { return do_scan(L, LP_CUMMIN); }
static int o_max(lua_State *L) { return do_maxmin(L, LP_RMAX, LP_ARGMAX); }
static int o_min(lua_State *L) { return do_maxmin(L, LP_RMIN, LP_ARGMIN); }

/* ---- products ---------------------------------------------------------------------- */
typedef lp_status (*product_fn)(lp_ctx *, const lp_tensor *, const lp_tensor *, lp_tensor **);

static int do_product(lua_State *L, product_fn fn) {
  lp_tensor *a, *b;
  lt_Box *r;
  lp_status st;
  lua_settop(L, 2);
  a = check_operand(L, 1);
  b = check_operand(L, 2);
  r = lt_newbox(L);
  st = fn(lt_ctx(L), a, b, &r->t);
  return st == LP_OK ? (lt_account(L), 1) : lt_raise(L, st);
}
static int o_matmul(lua_State *L) { return do_product(L, lp_ag_matmul); }
static int o_outer(lua_State *L) { return do_product(L, lp_ag_outer); }
static int o_dot(lua_State *L) { return do_product(L, lp_ag_dot); }

/* ---- registration ------------------------------------------------------------------- */
#define COMMON_FNS                                                                   \
  {"add", o_add}, {"sub", o_sub}, {"mul", o_mul}, {"div", o_div}, {"pow", o_pow},     \
  {"mod", o_mod}, {"maximum", o_maximum}, {"minimum", o_minimum},                     \
  {"gt", o_gt}, {"ge", o_ge}, {"lt", o_lt}, {"le", o_le}, {"eq", o_eq}, {"ne", o_ne}, \
  {"logical_and", o_logical_and}, {"logical_or", o_logical_or},                       \
  {"logical_xor", o_logical_xor}, {"logical_not", o_logical_not},                     \
  {"neg", o_neg}, {"abs", o_abs}, {"exp", o_exp}, {"log", o_log}, {"sqrt", o_sqrt},   \
  {"tanh", o_tanh}, {"sigmoid", o_sigmoid}, {"relu", o_relu}, {"floor", o_floor},     \
  {"ceil", o_ceil}, {"round", o_round}, {"sign", o_sign}, {"isnan", o_isnan},         \
  {"isinf", o_isinf}, {"clamp", o_clamp}, {"clamp_", o_clamp_},                       \
  {"add_", o_add_}, {"sub_", o_sub_}, {"mul_", o_mul_}, {"div_", o_div_},             \
  {"sum", o_sum}, {"mean", o_mean}, {"max", o_max}, {"min", o_min},                   \
  {"argmax", o_argmax}, {"argmin", o_argmin}, {"var", o_var}, {"std", o_std},         \
  {"prod", o_prod}, {"matmul", o_matmul}, {"outer", o_outer}, {"dot", o_dot},         \
  {"all", o_all}, {"any", o_any}, {"median", o_median}, {"nansum", o_nansum},         \
  {"nanmean", o_nanmean}, {"nanmax", o_nanmax}, {"nanmin", o_nanmin},                 \
  {"logsumexp", o_logsumexp}, {"cumsum", o_cumsum}, {"cumprod", o_cumprod},           \
  {"cummax", o_cummax}, {"cummin", o_cummin}, {"quantile", o_quantile},               \
  {"percentile", o_percentile},                                                       \
  {"floor_divide", o_floor_divide}, {"arctan2", o_arctan2}, {"atan2", o_atan2},     \
  {"hypot", o_hypot}, {"isfinite", o_isfinite},                                       \
  {"sin", o_sin}, {"cos", o_cos}, {"tan", o_tan}, {"arcsin", o_arcsin},               \
  {"arccos", o_arccos}, {"arctan", o_arctan}, {"asin", o_asin}, {"acos", o_acos}, \
  {"atan", o_atan}, {"sinh", o_sinh}, {"cosh", o_cosh}, {"arcsinh", o_arcsinh},     \
  {"arccosh", o_arccosh}, {"arctanh", o_arctanh}, {"asinh", o_asinh},               \
  {"acosh", o_acosh}, {"atanh", o_atanh}, {"log1p", o_log1p}, {"expm1", o_expm1}, \
  {"log2", o_log2}, {"log10", o_log10}, {"exp2", o_exp2}, {"square", o_square},       \
  {"reciprocal", o_reciprocal}, {"cbrt", o_cbrt}, {"trunc", o_trunc}

static const luaL_Reg ops_methods[] = {
  COMMON_FNS,
  {"where", m_where},
  {NULL, NULL}
};

static const luaL_Reg ops_module[] = {
  COMMON_FNS,
  {"where", o_where},
  {NULL, NULL}
};

/* No __eq / __lt / __le: Lua turns their results into booleans. */
static const luaL_Reg ops_meta[] = {
  {"__add", o_add}, {"__sub", o_sub}, {"__mul", o_mul}, {"__div", o_div},
  {"__pow", o_pow}, {"__mod", o_mod}, {"__unm", o_unm}, {"__idiv", o_floor_divide},
  {NULL, NULL}
};

void lt_open_ops(lua_State *L, int mod) {
  mod = lua_absindex(L, mod);
  lt_addmethods(L, ops_methods);
  lt_addmeta(L, ops_meta);
  lua_pushvalue(L, mod);
  luaL_setfuncs(L, ops_module, 0);
  lua_pop(L, 1);
}
