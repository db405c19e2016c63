/*
** lua/l_tensor.c -- limpet.Tensor: the userdata box, the per-state engine
** context, argument checkers, constructors from Lua values, views,
** indexing (numbers, masks, index tensors), element access, cat/stack.
** Owns the lt_* helpers declared in lbind.h. Not here: arithmetic and
** reductions (l_ops.c), random draws and generators (l_random.c), files
** (l_io.c), pretty-printing (stdlib/limpet/format.lua).
** Views, casts, selection and cat/stack call the lp_ag_* versions
** (limpet/autograd.h); t[i] = v and t[mask] = v refuse tensors that
** require grad while grad mode is on.
** Lua positions and dims are 1-based (negative from the end); the core is
** 0-based, and the conversion happens here and only here.
*/
#include "lbind.h"
#include "limpet/ops.h"
#include "limpet/random.h"
#include "limpet/autograd.h"
#include <string.h>
#include <math.h>

static const char lt_ctx_key = 'c';      /* registry key: address only */
static const char lt_methods_key = 'm';  /* registry key: method table */

typedef struct lt_CtxBox { lp_ctx *ctx; } lt_CtxBox;

/* ---- context ---------------------------------------------------------- */
lp_ctx *lt_ctx(lua_State *L) {
  lt_CtxBox *b;
  lua_rawgetp(L, LUA_REGISTRYINDEX, &lt_ctx_key);
  b = lua_touserdata(L, -1);
  lua_pop(L, 1);
  if (!b || !b->ctx) luaL_error(L, "limpet.core is not initialised in this Lua state");
  return b->ctx;
}

static int ctx_gc(lua_State *L) {
  lt_CtxBox *b = lua_touserdata(L, 1);
  lp_ctx_free(b->ctx);
  b->ctx = NULL;
  return 0;
}

void lt_set_interrupt_flag(lua_State *L, volatile sig_atomic_t *flag) {
  lp_ctx_set_interrupt_flag(lt_ctx(L), flag);
}

/* ---- errors ----------------------------------------------------------- */
/* The key under which table t (at the top) holds the function at fn, or NULL. */
static const char *key_of(lua_State *L, int fn) {
  if (!lua_istable(L, -1)) return NULL;
  lua_pushnil(L);
  while (lua_next(L, -2)) {
    if (lua_type(L, -2) == LUA_TSTRING && lua_rawequal(L, -1, fn)) {
      const char *k = lua_tostring(L, -2);   /* anchored by the table */
      lua_pop(L, 2);
      return k;
    }
    lua_pop(L, 1);
  }
  return NULL;
}

/* The name of the running C function: from the call site, or (called
   through pcall and the like, which give no name) its key in limpet.core or
   in the tensor methods. */
static const char *current_fname(lua_State *L) {
  lua_Debug ar;
  const char *name = NULL;
  int top = lua_gettop(L), fn;
  if (!lua_getstack(L, 0, &ar) || !lua_getinfo(L, "nf", &ar)) return "?";
  if (ar.name) { lua_settop(L, top); return ar.name; }
  fn = lua_gettop(L);
  lua_getfield(L, LUA_REGISTRYINDEX, LUA_LOADED_TABLE);
  lua_getfield(L, -1, "limpet.core");
  name = key_of(L, fn);
  if (!name) {
    lua_rawgetp(L, LUA_REGISTRYINDEX, &lt_methods_key);
    name = key_of(L, fn);
  }
  lua_settop(L, top);
  return name ? name : "?";
}

int lt_raise_at(lua_State *L, lp_status st, int argoffset) {
  lp_ctx *ctx = lt_ctx(L);
  int arg = lp_ctx_errarg(ctx);
  const char *msg = lp_ctx_errmsg(ctx);
  if (st == LP_EINTR) { lp_ctx_clear_interrupt(ctx); return luaL_error(L, "interrupted!"); }
  if (arg > 0 && st != LP_ENOMEM && st != LP_ESIZE && st != LP_EIO && st != LP_EFORMAT)
    return luaL_argerror(L, arg + argoffset, msg);
  return luaL_error(L, "%s: %s", current_fname(L), msg);
}
int lt_raise(lua_State *L, lp_status st) { return lt_raise_at(L, st, 0); }

int lt_fail(lua_State *L, lp_status st) {
  if (st == LP_EINTR) return lt_raise(L, st);
  lua_pushnil(L);
  lua_pushstring(L, lp_ctx_errmsg(lt_ctx(L)));
  lua_pushinteger(L, (lua_Integer)st);
  return 3;
}

void lt_account(lua_State *L) {
  size_t n = lp_ctx_take_allocated(lt_ctx(L));
  /* tell the collector about memory it cannot see (DESIGN: engine) */
  if (n >= 1024) lua_gc(L, LUA_GCSTEP, (int)(n >> 10 > 0x7fffffff ? 0x7fffffff : n >> 10));
}

/* ---- boxes ------------------------------------------------------------ */
lt_Box *lt_newbox(lua_State *L) {
  lt_Box *b = lua_newuserdatauv(L, sizeof *b, 1);
  b->t = NULL;
  luaL_setmetatable(L, LT_TENSOR);
  return b;
}

void lt_pushtensor(lua_State *L, lp_tensor *t) {
  lt_Box *b = lua_newuserdatauv(L, sizeof *b, 1);   /* may raise: t leaks only on OOM of Lua */
  b->t = t;
  luaL_setmetatable(L, LT_TENSOR);
  lt_account(L);
}

lp_tensor *lt_totensor(lua_State *L, int arg) {
  lt_Box *b = luaL_testudata(L, arg, LT_TENSOR);
  return b ? b->t : NULL;
}

lp_tensor *lt_checktensor(lua_State *L, int arg) {
  lt_Box *b = luaL_testudata(L, arg, LT_TENSOR);
  if (!b) {
    const char *got = luaL_typename(L, arg);
    luaL_argerror(L, arg, lua_pushfstring(L, "tensor expected, got %s", got));
  }
  luaL_argcheck(L, b->t != NULL, arg, "tensor was released");
  return b->t;
}

static int t_gc(lua_State *L) {
  lt_Box *b = luaL_checkudata(L, 1, LT_TENSOR);
  lp_tensor_release(b->t);
  b->t = NULL;
  return 0;
}

/* ---- checkers --------------------------------------------------------- */
lp_dtype lt_checkdtype(lua_State *L, int arg) {
  const char *name = luaL_checkstring(L, arg);
  lp_dtype dt;
  if (!lp_dtype_from_name(name, &dt))
    luaL_argerror(L, arg, lua_pushfstring(L, "unknown dtype '%s'", name));
  return dt;
}

lp_dtype lt_optdtype(lua_State *L, int arg, lp_dtype def) {
  return lua_isnoneornil(L, arg) ? def : lt_checkdtype(L, arg);
}

int lt_checkdim(lua_State *L, int arg, int ndim) {
  lua_Integer d = luaL_checkinteger(L, arg);
  if (d < 0) d += ndim + 1;
  if (d < 1 || d > ndim)
    luaL_argerror(L, arg, lua_pushfstring(L, "dim %d out of range for a %d-d tensor",
                                          (int)luaL_checkinteger(L, arg), ndim));
  return (int)d - 1;
}

int lt_optdim(lua_State *L, int arg, int ndim, int def) {
  return lua_isnoneornil(L, arg) ? def : lt_checkdim(L, arg, ndim);
}

static int64_t check_size(lua_State *L, int arg, int idx, int allow_infer) {
  int isnum;
  lua_Integer v = lua_tointegerx(L, idx, &isnum);
  if (!isnum) {
    if (lua_type(L, idx) == LUA_TNUMBER) luaL_argerror(L, arg, "sizes must be integers");
    luaL_argerror(L, arg, lua_pushfstring(L, "shape expected, got %s", luaL_typename(L, idx)));
  }
  if (v < 0 && !(allow_infer && v == -1)) luaL_argerror(L, arg, lua_pushfstring(L, "negative size %I in shape", v));
  return (int64_t)v;
}

static int check_shape(lua_State *L, int arg, int64_t *shape, int allow_infer) {
  int n = 0;
  if (lua_istable(L, arg)) {
    lua_Integer i, len = (lua_Integer)luaL_len(L, arg);
    if (len > LP_MAXDIM)
      luaL_argerror(L, arg, lua_pushfstring(L, "tensors have at most %d dims, got %d", LP_MAXDIM, (int)len));
    for (i = 1; i <= len; i++) {
      lua_geti(L, arg, i);
      shape[n++] = check_size(L, arg, -1, allow_infer);
      lua_pop(L, 1);
    }
    return n;
  }
  while (lua_type(L, arg + n) == LUA_TNUMBER) {
    if (n >= LP_MAXDIM)
      luaL_argerror(L, arg + n, lua_pushfstring(L, "tensors have at most %d dims", LP_MAXDIM));
    shape[n] = check_size(L, arg + n, arg + n, allow_infer);
    n++;
  }
  if (n == 0 && !lua_isnoneornil(L, arg) && lua_type(L, arg) != LUA_TSTRING)
    luaL_argerror(L, arg, lua_pushfstring(L, "shape expected, got %s", luaL_typename(L, arg)));
  return n;
}

int lt_checkshape(lua_State *L, int arg, int64_t *shape) { return check_shape(L, arg, shape, 0); }

lp_scalar lt_checkscalar(lua_State *L, int arg) {
  if (lua_isboolean(L, arg)) return lp_int(lua_toboolean(L, arg));
  if (lua_isinteger(L, arg)) return lp_int((int64_t)lua_tointeger(L, arg));
  if (lua_type(L, arg) == LUA_TNUMBER) return lp_float(lua_tonumber(L, arg));
  luaL_argerror(L, arg, lua_pushfstring(L, "number expected, got %s", luaL_typename(L, arg)));
  return lp_int(0);
}

void lt_pushscalar(lua_State *L, lp_scalar s, lp_dtype dt) {
  if (dt == LP_BOOL) lua_pushboolean(L, s.i != 0);
  else if (s.isint) lua_pushinteger(L, (lua_Integer)s.i);
  else lua_pushnumber(L, s.f);
}

void lt_pushshape(lua_State *L, const lp_tensor *t) {
  int d, n = lp_tensor_ndim(t);
  const int64_t *sh = lp_tensor_shape(t);
  lua_createtable(L, n, 0);
  for (d = 0; d < n; d++) { lua_pushinteger(L, (lua_Integer)sh[d]); lua_rawseti(L, -2, d + 1); }
}

void lt_addmethods(lua_State *L, const luaL_Reg *fns) {
  lua_rawgetp(L, LUA_REGISTRYINDEX, &lt_methods_key);
  luaL_setfuncs(L, fns, 0);
  lua_pop(L, 1);
}

void lt_addmeta(lua_State *L, const luaL_Reg *fns) {
  luaL_getmetatable(L, LT_TENSOR);
  luaL_setfuncs(L, fns, 0);
  lua_pop(L, 1);
}

/* ---- tensors from Lua values ------------------------------------------ */
/* Walk a nested table: find its shape (from the first elements) and the
   kind of its leaves (2 float, 1 integer, 3 boolean). */
static void table_shape(lua_State *L, int arg, int idx, int depth, int *ndim, int64_t *shape, int *kind) {
  lua_Integer len;
  idx = lua_absindex(L, idx);
  if (lua_istable(L, idx)) {
    if (depth >= LP_MAXDIM)
      luaL_argerror(L, arg, lua_pushfstring(L, "nested more than %d deep", LP_MAXDIM));
    len = (lua_Integer)lua_rawlen(L, idx);
    if (depth == *ndim) { shape[depth] = len; (*ndim)++; }
    if (len > 0) { lua_rawgeti(L, idx, 1); table_shape(L, arg, -1, depth + 1, ndim, shape, kind); lua_pop(L, 1); }
  } else if (lua_isboolean(L, idx)) {
    if (*kind == 0) *kind = 3;
  } else if (lua_type(L, idx) == LUA_TNUMBER) {
    if (lua_isinteger(L, idx)) { if (*kind == 0) *kind = 1; }
    else if (*kind == 0 || *kind == 1) *kind = 2;
  } else {
    luaL_argerror(L, arg, lua_pushfstring(L, "number expected in table, got %s", luaL_typename(L, idx)));
  }
}

/* Check every leaf sits at the same depth with the same lengths, refine
   the kind (a float anywhere makes floats), write values. */
static void table_fill(lua_State *L, int arg, int idx, int depth, int ndim, const int64_t *shape,
                       lp_dtype dt, char **p, int *kind, int pass) {
  lua_Integer i, len;
  idx = lua_absindex(L, idx);
  if (depth == ndim) {
    if (lua_istable(L, idx)) luaL_argerror(L, arg, "ragged nested table (deeper than its first row)");
    if (lua_isboolean(L, idx)) {
      if (pass == 0 && *kind != 3) luaL_argerror(L, arg, "booleans mixed with numbers");
      if (pass == 1) lp_store_i(dt, *p, lua_toboolean(L, idx));
    } else if (lua_type(L, idx) == LUA_TNUMBER) {
      if (pass == 0 && *kind == 3) luaL_argerror(L, arg, "booleans mixed with numbers");
      if (pass == 0 && !lua_isinteger(L, idx)) *kind = 2;
      if (pass == 1) {
        if (lua_isinteger(L, idx)) lp_store_i(dt, *p, (int64_t)lua_tointeger(L, idx));
        else lp_store_f(dt, *p, lua_tonumber(L, idx));
      }
    } else {
      luaL_argerror(L, arg, lua_pushfstring(L, "number expected in table, got %s", luaL_typename(L, idx)));
    }
    if (pass == 1) *p += lp_dtype_size(dt);
    return;
  }
  if (!lua_istable(L, idx)) luaL_argerror(L, arg, "ragged nested table (shallower than its first row)");
  len = (lua_Integer)lua_rawlen(L, idx);
  if (len != shape[depth])
    luaL_argerror(L, arg, lua_pushfstring(L, "ragged nested table (a row of length %I, expected %I)",
                                          len, (lua_Integer)shape[depth]));
  for (i = 1; i <= len; i++) {
    lua_rawgeti(L, idx, i);
    table_fill(L, arg, -1, depth + 1, ndim, shape, dt, p, kind, pass);
    lua_pop(L, 1);
  }
}

/* Build a tensor from the Lua value at arg (number, boolean or nested table);
   dt < 0: inferred. Pushes the box and returns the tensor. */
static lp_tensor *push_from_value(lua_State *L, int arg, int dt_in) {
  int ndim = 0, kind = 0;
  int64_t shape[LP_MAXDIM];
  lp_dtype dt;
  lt_Box *b;
  lp_status st;
  char *p;
  table_shape(L, arg, arg, 0, &ndim, shape, &kind);
  if (lua_istable(L, arg)) { p = NULL; table_fill(L, arg, arg, 0, ndim, shape, LP_F64, &p, &kind, 0); }
  dt = dt_in >= 0 ? (lp_dtype)dt_in : kind == 3 ? LP_BOOL : kind == 1 ? LP_I64 : LP_F32;
  b = lt_newbox(L);
  if ((st = lp_tensor_empty(lt_ctx(L), dt, ndim, shape, &b->t)) != LP_OK) lt_raise_at(L, st, arg);
  p = lp_tensor_data(b->t);
  if (lua_istable(L, arg)) table_fill(L, arg, arg, 0, ndim, shape, dt, &p, &kind, 1);
  else if (lua_isboolean(L, arg)) lp_store_i(dt, p, lua_toboolean(L, arg));
  else if (lua_isinteger(L, arg)) lp_store_i(dt, p, (int64_t)lua_tointeger(L, arg));
  else lp_store_f(dt, p, lua_tonumber(L, arg));
  lt_account(L);
  return b->t;
}

lp_tensor *lt_checktensorlike(lua_State *L, int arg) {
  lp_tensor *t = lt_totensor(L, arg);
  if (t) return lp_tensor_retain(t);
  if (lua_type(L, arg) == LUA_TNUMBER || lua_isboolean(L, arg) || lua_istable(L, arg)) {
    t = lp_tensor_retain(push_from_value(L, arg, -1));
    lua_pop(L, 1);
    return t;
  }
  luaL_argerror(L, arg, lua_pushfstring(L, "tensor or number expected, got %s", luaL_typename(L, arg)));
  return NULL;
}

/* lp.tensor(value[, dtype]) */
static int l_tensor(lua_State *L) {
  lp_tensor *t = lt_totensor(L, 1);
  int dt = lua_isnoneornil(L, 2) ? -1 : (int)lt_checkdtype(L, 2);
  if (t) {                                         /* a copy, optionally cast */
    lt_Box *b = lt_newbox(L);
    lp_status st = lp_tensor_astype(lt_ctx(L), t, dt < 0 ? lp_tensor_dtype(t) : (lp_dtype)dt, &b->t);
    if (st != LP_OK) return lt_raise(L, st);
    lt_account(L);
    return 1;
  }
  if (lua_type(L, 1) != LUA_TNUMBER && !lua_isboolean(L, 1) && !lua_istable(L, 1))
    return luaL_argerror(L, 1, lua_pushfstring(L, "number, boolean or table expected, got %s",
                                               luaL_typename(L, 1)));
  push_from_value(L, 1, dt);
  return 1;
}

/* shape then optional dtype: zeros(2, 3), zeros({2, 3}, "int32") */
static int shape_and_dtype(lua_State *L, int arg, int64_t *shape, lp_dtype *dt, lp_dtype def) {
  int n = lt_checkshape(L, arg, shape);
  int dtarg = lua_istable(L, arg) ? arg + 1 : arg + n;
  *dt = lt_optdtype(L, dtarg, def);
  return n;
}

static int fill_ctor(lua_State *L, lp_scalar v) {
  int64_t shape[LP_MAXDIM];
  lp_dtype dt;
  int n = shape_and_dtype(L, 1, shape, &dt, LP_F32);
  lt_Box *b = lt_newbox(L);
  lp_status st = lp_full(lt_ctx(L), dt, n, shape, v, &b->t);
  if (st != LP_OK) return lt_raise(L, st);
  lt_account(L);
  return 1;
}
static int l_zeros(lua_State *L) { return fill_ctor(L, lp_int(0)); }
static int l_ones(lua_State *L) { return fill_ctor(L, lp_int(1)); }

/* full(shape, value[, dtype]): dtype defaults to the value's (float32 for
   floats, int64 for integers, bool for booleans). */
static int l_full(lua_State *L) {
  int64_t shape[LP_MAXDIM];
  int n = lt_checkshape(L, 1, shape), varg = lua_istable(L, 1) ? 2 : 1 + n;
  lp_scalar v = lt_checkscalar(L, varg);
  lp_dtype def = lua_isboolean(L, varg) ? LP_BOOL : v.isint ? LP_I64 : LP_F32;
  lp_dtype dt = lt_optdtype(L, varg + 1, def);
  lt_Box *b = lt_newbox(L);
  lp_status st = lp_full(lt_ctx(L), dt, n, shape, v, &b->t);
  if (st != LP_OK) return lt_raise(L, st);
  lt_account(L);
  return 1;
}

/* like(t): zeros_like / ones_like / full_like */
static int l_zeros_like(lua_State *L) {
  lp_tensor *t = lt_checktensor(L, 1);
  lp_dtype dt = lt_optdtype(L, 2, lp_tensor_dtype(t));
  lt_Box *b = lt_newbox(L);
  lp_status st = lp_tensor_new(lt_ctx(L), dt, lp_tensor_ndim(t), lp_tensor_shape(t), &b->t);
  if (st != LP_OK) return lt_raise(L, st);
  lt_account(L);
  return 1;
}
static int l_ones_like(lua_State *L) {
  lp_tensor *t = lt_checktensor(L, 1);
  lp_dtype dt = lt_optdtype(L, 2, lp_tensor_dtype(t));
  lt_Box *b = lt_newbox(L);
  lp_status st = lp_full(lt_ctx(L), dt, lp_tensor_ndim(t), lp_tensor_shape(t), lp_int(1), &b->t);
  if (st != LP_OK) return lt_raise(L, st);
  lt_account(L);
  return 1;
}

/* ---- properties and simple methods ------------------------------------ */
static int m_dim(lua_State *L) { lua_pushinteger(L, lp_tensor_ndim(lt_checktensor(L, 1))); return 1; }
static int m_numel(lua_State *L) { lua_pushinteger(L, (lua_Integer)lp_tensor_numel(lt_checktensor(L, 1))); return 1; }
static int m_size(lua_State *L) {
  lp_tensor *t = lt_checktensor(L, 1);
  if (lua_isnoneornil(L, 2)) { lt_pushshape(L, t); return 1; }
  lua_pushinteger(L, (lua_Integer)lp_tensor_size(t, lt_checkdim(L, 2, lp_tensor_ndim(t))));
  return 1;
}
static int m_is_contiguous(lua_State *L) {
  lua_pushboolean(L, lp_tensor_is_contiguous(lt_checktensor(L, 1)));
  return 1;
}

static int m_astype(lua_State *L) {
  lp_tensor *t = lt_checktensor(L, 1);
  lp_dtype dt = lt_checkdtype(L, 2);
  lt_Box *b = lt_newbox(L);
  lp_status st = lp_ag_astype(lt_ctx(L), t, dt, &b->t);
  if (st != LP_OK) return lt_raise(L, st);
  lt_account(L);
  return 1;
}
static int m_clone(lua_State *L) {
  lp_tensor *t = lt_checktensor(L, 1);
  lt_Box *b = lt_newbox(L);
  lp_status st = lp_ag_clone(lt_ctx(L), t, &b->t);
  if (st != LP_OK) return lt_raise(L, st);
  lt_account(L);
  return 1;
}
static int m_contiguous(lua_State *L) {
  lp_tensor *t = lt_checktensor(L, 1);
  lt_Box *b;
  lp_status st;
  if (lp_tensor_is_contiguous(t)) { lua_settop(L, 1); return 1; }
  b = lt_newbox(L);
  st = lp_ag_contiguous(lt_ctx(L), t, &b->t);
  if (st != LP_OK) return lt_raise(L, st);
  lt_account(L);
  return 1;
}

static int reshape_like(lua_State *L, int view) {
  lp_tensor *t = lt_checktensor(L, 1);
  int64_t shape[LP_MAXDIM];
  int n = check_shape(L, 2, shape, 1);          /* one -1 is inferred */
  lt_Box *b = lt_newbox(L);
  lp_status st = view ? lp_ag_view(lt_ctx(L), t, n, shape, &b->t)
                      : lp_ag_reshape(lt_ctx(L), t, n, shape, &b->t);
  if (st != LP_OK) return lt_raise(L, st);
  lt_account(L);
  return 1;
}
static int m_reshape(lua_State *L) { return reshape_like(L, 0); }
static int m_view(lua_State *L) { return reshape_like(L, 1); }

static int m_transpose(lua_State *L) {
  lp_tensor *t = lt_checktensor(L, 1);
  int nd = lp_tensor_ndim(t);
  int a = lt_optdim(L, 2, nd, nd >= 2 ? nd - 2 : 0), c = lt_optdim(L, 3, nd, nd >= 1 ? nd - 1 : 0);
  lt_Box *b = lt_newbox(L);
  lp_status st;
  if (nd == 0) { lua_settop(L, 1); return 1; }
  st = lp_ag_transpose(lt_ctx(L), t, a, c, &b->t);
  if (st != LP_OK) return lt_raise(L, st);
  return 1;
}

static int m_permute(lua_State *L) {
  lp_tensor *t = lt_checktensor(L, 1);
  int nd = lp_tensor_ndim(t), perm[LP_MAXDIM], i, n;
  int tbl = lua_istable(L, 2);
  lt_Box *b;
  lp_status st;
  n = tbl ? (int)luaL_len(L, 2) : lua_gettop(L) - 1;
  if (n != nd)
    return luaL_argerror(L, 2, lua_pushfstring(L, "expected a permutation of %d dims, got %d", nd, n));
  for (i = 0; i < n; i++) {
    if (tbl) { lua_geti(L, 2, i + 1); perm[i] = lt_checkdim(L, -1, nd); lua_pop(L, 1); }
    else perm[i] = lt_checkdim(L, i + 2, nd);
  }
  b = lt_newbox(L);
  st = lp_ag_permute(lt_ctx(L), t, perm, &b->t);
  if (st != LP_OK) return lt_raise(L, st);
  return 1;
}

static int m_squeeze(lua_State *L) {
  lp_tensor *t = lt_checktensor(L, 1);
  int d = lt_optdim(L, 2, lp_tensor_ndim(t), -1);
  lt_Box *b = lt_newbox(L);
  lp_status st = lp_ag_squeeze(lt_ctx(L), t, d, &b->t);
  if (st != LP_OK) return lt_raise(L, st);
  return 1;
}

static int m_unsqueeze(lua_State *L) {
  lp_tensor *t = lt_checktensor(L, 1);
  int d = lt_checkdim(L, 2, lp_tensor_ndim(t) + 1);
  lt_Box *b = lt_newbox(L);
  lp_status st = lp_ag_unsqueeze(lt_ctx(L), t, d, &b->t);
  if (st != LP_OK) return lt_raise(L, st);
  return 1;
}

static int m_expand(lua_State *L) {
  lp_tensor *t = lt_checktensor(L, 1);
  int64_t shape[LP_MAXDIM];
  int n = lt_checkshape(L, 2, shape);
  lt_Box *b = lt_newbox(L);
  lp_status st = lp_ag_expand(lt_ctx(L), t, n, shape, &b->t);
  if (st != LP_OK) return lt_raise(L, st);
  return 1;
}

/* A 1-based position (negative from the end) to 0-based; `size + 1` allowed
   when end_ok (an inclusive end one past nothing: empty ranges). */
static int64_t pos_value(lua_State *L, int arg, lua_Integer p, int64_t size, int dim) {
  lua_Integer q = p < 0 ? p + size + 1 : p;
  if (q < 1 || q > size)
    luaL_argerror(L, arg, lua_pushfstring(L, "position %I out of range for dim %d of size %I",
                                          p, dim + 1, (lua_Integer)size));
  return (int64_t)q - 1;
}
static int64_t check_pos(lua_State *L, int arg, int64_t size, int dim) {
  return pos_value(L, arg, luaL_checkinteger(L, arg), size, dim);
}

/* t:slice(dim, from, to[, step]): positions from..to inclusive. */
static int m_slice(lua_State *L) {
  lp_tensor *t = lt_checktensor(L, 1);
  int nd = lp_tensor_ndim(t);
  int d = lt_checkdim(L, 2, nd);
  int64_t size = lp_tensor_size(t, d), from, to;
  lua_Integer step = luaL_optinteger(L, 5, 1);
  lt_Box *b;
  lp_status st;
  if (step <= 0) return luaL_argerror(L, 5, "step must be positive");
  if (size == 0 && lua_isnoneornil(L, 3) && lua_isnoneornil(L, 4)) { from = 0; to = 0; }
  else {
    from = lua_isnoneornil(L, 3) ? 0 : check_pos(L, 3, size, d);
    if (lua_isnoneornil(L, 4)) to = size;
    else {
      lua_Integer p = luaL_checkinteger(L, 4), q = p < 0 ? p + size + 1 : p;
      /* an end before the start gives an empty slice; past the end is an error */
      if (q > size || q < 0)
        return luaL_argerror(L, 4, lua_pushfstring(L, "position %I out of range for dim %d of size %I",
                                                   p, d + 1, (lua_Integer)size));
      to = q < from ? from : (int64_t)q;
    }
  }
  b = lt_newbox(L);
  st = lp_ag_slice(lt_ctx(L), t, d, from, to, (int64_t)step, &b->t);
  if (st != LP_OK) return lt_raise(L, st);
  return 1;
}

/* Indices given as integers or one table: to 0-based, checked. */
static int check_index(lua_State *L, lp_tensor *t, int arg, int64_t *idx) {
  int nd = lp_tensor_ndim(t), n, i;
  const int64_t *sh = lp_tensor_shape(t);
  int tbl = lua_istable(L, arg);
  n = tbl ? (int)luaL_len(L, arg) : 0;
  if (!tbl) while (n < nd && lua_type(L, arg + n) == LUA_TNUMBER) n++;
  if (n != nd)
    luaL_argerror(L, arg, lua_pushfstring(L, "expected %d indices, got %d", nd, n));
  for (i = 0; i < nd; i++) {
    int a = tbl ? arg : arg + i;
    if (tbl) lua_geti(L, arg, i + 1); else lua_pushvalue(L, arg + i);
    if (!lua_isinteger(L, -1)) luaL_argerror(L, a, "indices must be integers");
    idx[i] = pos_value(L, a, lua_tointeger(L, -1), sh[i], i);
    lua_pop(L, 1);
  }
  return tbl ? arg + 1 : arg + nd;
}

static int m_get(lua_State *L) {
  lp_tensor *t = lt_checktensor(L, 1);
  int64_t idx[LP_MAXDIM];
  lp_scalar v;
  lp_status st;
  check_index(L, t, 2, idx);
  st = lp_tensor_get(lt_ctx(L), t, idx, &v);
  if (st != LP_OK) return lt_raise(L, st);
  lt_pushscalar(L, v, lp_tensor_dtype(t));
  return 1;
}

static int m_set(lua_State *L) {
  lp_tensor *t = lt_checktensor(L, 1);
  int64_t idx[LP_MAXDIM];
  int varg = check_index(L, t, 2, idx);
  lp_scalar v = lt_checkscalar(L, varg);
  lp_status st = lp_tensor_set(lt_ctx(L), t, idx, v);
  if (st != LP_OK) return lt_raise(L, st);
  lua_settop(L, 1);
  return 1;
}

static int m_item(lua_State *L) {
  lp_tensor *t = lt_checktensor(L, 1);
  lp_scalar v;
  lp_status st = lp_tensor_item(lt_ctx(L), t, &v);
  if (st != LP_OK) return lt_raise(L, st);
  lt_pushscalar(L, v, lp_tensor_dtype(t));
  return 1;
}

static void push_nested(lua_State *L, const lp_tensor *t, int d, int64_t *k) {
  int64_t i, n;
  if (d == lp_tensor_ndim(t)) { lt_pushscalar(L, lp_tensor_get_flat(t, (*k)++), lp_tensor_dtype(t)); return; }
  n = lp_tensor_size(t, d);
  luaL_checkstack(L, 4, "tensor too deep");
  lua_createtable(L, (int)(n < 0x7fffffff ? n : 0), 0);
  for (i = 0; i < n; i++) { push_nested(L, t, d + 1, k); lua_rawseti(L, -2, (lua_Integer)i + 1); }
}

/* Lua tables that scale with a size the user gives go through the engine's
   cap like tensors do: a slot of a table's array part takes 16 bytes and
   each table about 56 more. Raises "fname: <what> of N entries needs B
   bytes, more than the cap of M bytes". */
#define LT_TABLE_SLOT 16
#define LT_TABLE_HEAD 56
void lt_check_table(lua_State *L, const char *fname, const char *what, int64_t entries, int64_t tables,
                    int where) {
  uint64_t cap = lp_ctx_max_bytes(lt_ctx(L)), need;
  if (entries < 0) entries = 0;
  if (tables < 0) tables = 0;
  if ((uint64_t)entries > UINT64_MAX / 4 / LT_TABLE_SLOT || (uint64_t)tables > UINT64_MAX / 4 / LT_TABLE_HEAD)
    need = UINT64_MAX;
  else
    need = (uint64_t)entries * LT_TABLE_SLOT + (uint64_t)tables * LT_TABLE_HEAD;
  if (need > cap) {
    if (where) luaL_where(L, 1); else lua_pushliteral(L, "");
    lua_pushfstring(L, "%s: %s of %I entries needs %s bytes, more than the cap of %s bytes", fname, what,
                    (lua_Integer)entries, lua_pushfstring(L, need == UINT64_MAX ? "more than %I" : "%I",
                    (lua_Integer)(need == UINT64_MAX ? INT64_MAX : (int64_t)need)),
                    lua_pushfstring(L, "%I", (lua_Integer)cap));
    lua_replace(L, -3);
    lua_pop(L, 1);
    lua_concat(L, 2);
    lua_error(L);
  }
}

static int m_totable(lua_State *L) {
  lp_tensor *t = lt_checktensor(L, 1);
  int64_t k = 0, tables = 1, d;
  for (d = 0; d + 1 < lp_tensor_ndim(t); d++) {  /* inner tables: products of the leading sizes */
    int64_t n = lp_tensor_size(t, d);
    tables = n && tables > INT64_MAX / n ? INT64_MAX : tables * n;
  }
  lt_check_table(L, "totable", "a table", lp_tensor_numel(t), tables, 1);
  push_nested(L, t, 0, &k);
  return 1;
}

/* core._check_table(fname, what, entries[, tables]): the same check for Lua
   code, about a table of `entries` slots (and `tables` tables besides). */
static int l_check_table(lua_State *L) {
  const char *fname = luaL_checkstring(L, 1), *what = luaL_checkstring(L, 2);
  lua_Integer n = luaL_checkinteger(L, 3), tables = luaL_optinteger(L, 4, 0);
  lt_check_table(L, fname, what, n, 1 + (tables > 0 ? tables : 0), 0);   /* a library's check: no source position */
  return 0;
}

static int m_copy_(lua_State *L) {
  lp_tensor *t = lt_checktensor(L, 1), *src = lt_checktensorlike(L, 2);
  lp_status st = lp_tensor_copy_(lt_ctx(L), t, src);
  lp_tensor_release(src);
  if (st != LP_OK) return lt_raise(L, st);
  lua_settop(L, 1);
  return 1;
}

static int m_fill_(lua_State *L) {
  lp_tensor *t = lt_checktensor(L, 1);
  lp_status st = lp_tensor_fill_(lt_ctx(L), t, lt_checkscalar(L, 2));
  if (st != LP_OK) return lt_raise(L, st);
  lua_settop(L, 1);
  return 1;
}

static int m_zero_(lua_State *L) {
  lp_tensor *t = lt_checktensor(L, 1);
  lp_status st = lp_tensor_fill_(lt_ctx(L), t, lp_int(0));
  if (st != LP_OK) return lt_raise(L, st);
  lua_settop(L, 1);
  return 1;
}

static int m_release(lua_State *L) {   /* t:release() and __close: free storage now */
  lt_Box *b = luaL_checkudata(L, 1, LT_TENSOR);
  lp_tensor_release(b->t);
  b->t = NULL;
  return 0;
}

/* ---- indexing: t[i], t[mask], t[index] --------------------------------- */
/* 1-based index tensor -> 0-based int64 tensor (caller releases). */
static lp_status zero_based(lp_ctx *ctx, const lp_tensor *idx, int64_t size, lp_tensor **out) {
  lp_tensor *i64 = NULL;
  lp_status st;
  int64_t k, n;
  *out = NULL;
  if ((st = lp_tensor_astype(ctx, idx, LP_I64, &i64)) != LP_OK) return st;
  n = lp_tensor_numel(i64);
  for (k = 0; k < n; k++) {
    int64_t *p = (int64_t *)lp_tensor_data(i64) + k;
    int64_t v = *p < 0 ? *p + size + 1 : *p;
    if (v < 1 || v > size) {
      long long bad = (long long)*p;
      lp_tensor_release(i64);
      return lp_ctx_error(ctx, LP_ERANGE, 2, "index %lld out of range for dim 1 of size %lld", bad,
                          (long long)size);
    }
    *p = v - 1;
  }
  *out = i64;
  return LP_OK;
}

static int t_index(lua_State *L) {
  lt_Box *box = luaL_checkudata(L, 1, LT_TENSOR);
  lp_tensor *t = box->t, *key;
  if (lua_type(L, 2) == LUA_TSTRING) {
    const char *k = lua_tostring(L, 2);
    if (t) {
      if (strcmp(k, "shape") == 0) { lt_pushshape(L, t); return 1; }
      if (strcmp(k, "dtype") == 0) { lua_pushstring(L, lp_dtype_name(lp_tensor_dtype(t))); return 1; }
      if (lt_autograd_property(L, t, k)) return 1;
    }
    lua_rawgetp(L, LUA_REGISTRYINDEX, &lt_methods_key);
    lua_pushvalue(L, 2);
    lua_rawget(L, -2);
    if (lua_isnil(L, -1)) {           /* user fields live in the uservalue table */
      if (lua_getiuservalue(L, 1, 1) == LUA_TTABLE) { lua_pushvalue(L, 2); lua_rawget(L, -2); }
    }
    return 1;
  }
  t = lt_checktensor(L, 1);
  if (lua_isinteger(L, 2)) {
    lt_Box *b;
    lp_status st;
    int64_t i;
    if (lp_tensor_ndim(t) == 0) return luaL_argerror(L, 2, "cannot index a 0-d tensor");
    i = check_pos(L, 2, lp_tensor_size(t, 0), 0);
    b = lt_newbox(L);
    st = lp_ag_select(lt_ctx(L), t, 0, i, &b->t);
    if (st != LP_OK) return lt_raise(L, st);
    if (lp_tensor_ndim(b->t) == 0) {   /* a 1-d tensor indexes to a number */
      lt_pushscalar(L, lp_tensor_get_flat(b->t, 0), lp_tensor_dtype(t));
    }
    return 1;
  }
  if ((key = lt_totensor(L, 2)) != NULL) {
    lt_Box *b = lt_newbox(L);
    lp_status st;
    if (lp_tensor_dtype(key) == LP_BOOL) {
      st = lp_ag_masked_select(lt_ctx(L), t, key, &b->t);
    } else if (lp_dtype_is_int(lp_tensor_dtype(key)) && lp_tensor_ndim(key) == 1 && lp_tensor_ndim(t) > 0) {
      lp_tensor *z;
      st = zero_based(lt_ctx(L), key, lp_tensor_size(t, 0), &z);
      if (st == LP_OK) { st = lp_ag_index_select(lt_ctx(L), t, 0, z, &b->t); lp_tensor_release(z); }
    } else {
      return luaL_argerror(L, 2, "index must be a bool mask or a 1-d integer tensor");
    }
    if (st != LP_OK) return lt_raise(L, st);
    lt_account(L);
    return 1;
  }
  return luaL_argerror(L, 2, lua_pushfstring(L, "cannot index a tensor with a %s", luaL_typename(L, 2)));
}

static int t_newindex(lua_State *L) {
  lp_tensor *t = lt_checktensor(L, 1), *key;
  lp_ctx *ctx = lt_ctx(L);
  lp_status st;
  if (lua_isinteger(L, 2) || lt_totensor(L, 2)) {     /* t[i] = v, t[mask] = v write into t */
    if ((st = lp_check_inplace(ctx, t, 1)) != LP_OK) return lt_raise(L, st);
  }
  if (lua_isinteger(L, 2)) {
    lp_tensor *row;
    int64_t i;
    if (lp_tensor_ndim(t) == 0) return luaL_argerror(L, 2, "cannot index a 0-d tensor");
    i = check_pos(L, 2, lp_tensor_size(t, 0), 0);
    if ((st = lp_tensor_select(ctx, t, 0, i, &row)) != LP_OK) return lt_raise(L, st);
    if (lt_totensor(L, 3)) st = lp_tensor_copy_(ctx, row, lt_totensor(L, 3));
    else if (lua_type(L, 3) == LUA_TNUMBER || lua_isboolean(L, 3)) st = lp_tensor_fill_(ctx, row, lt_checkscalar(L, 3));
    else { lp_tensor_release(row); return luaL_argerror(L, 3, "tensor or number expected"); }
    lp_tensor_release(row);
    if (st != LP_OK) return lt_raise_at(L, st, 1);
    return 0;
  }
  if ((key = lt_totensor(L, 2)) != NULL && lp_tensor_dtype(key) == LP_BOOL) {
    st = lp_tensor_masked_fill_(ctx, t, key, lt_checkscalar(L, 3));
    if (st != LP_OK) return lt_raise(L, st);
    return 0;
  }
  if (lua_type(L, 2) == LUA_TSTRING && lt_autograd_setproperty(L, t, lua_tostring(L, 2), 3)) return 0;
  if (lua_type(L, 2) == LUA_TSTRING) {   /* user fields: kept with the box */
    if (lua_getiuservalue(L, 1, 1) != LUA_TTABLE) {
      lua_pop(L, 1);
      lua_newtable(L);
      lua_pushvalue(L, -1);
      lua_setiuservalue(L, 1, 1);
    }
    lua_pushvalue(L, 2);
    lua_pushvalue(L, 3);
    lua_rawset(L, -3);
    return 0;
  }
  return luaL_argerror(L, 2, "index must be a position or a bool mask");
}

static int t_len(lua_State *L) {
  lp_tensor *t = lt_checktensor(L, 1);
  lua_pushinteger(L, lp_tensor_ndim(t) ? (lua_Integer)lp_tensor_size(t, 0) : 0);
  return 1;
}

static int t_tostring(lua_State *L) {
  lt_Box *b = luaL_checkudata(L, 1, LT_TENSOR);
  char buf[200];
  if (!b->t) { lua_pushstring(L, "limpet.Tensor(released)"); return 1; }
  lua_pushfstring(L, "limpet.Tensor(%s, %s)", lp_dtype_short(lp_tensor_dtype(b->t)),
                  lp_shape_str(lp_tensor_ndim(b->t), lp_tensor_shape(b->t), buf, sizeof buf));
  return 1;
}

/* ---- cat / stack ------------------------------------------------------ */
static int join(lua_State *L, int stack) {
  int n, i, nd;
  lp_tensor **ts;
  lt_Box *b;
  lp_status st;
  lua_Integer len;
  luaL_checktype(L, 1, LUA_TTABLE);
  len = luaL_len(L, 1);
  if (len < 1) return luaL_argerror(L, 1, "expected a non-empty list of tensors");
  if (len > (1 << 24)) return luaL_argerror(L, 1, "at most 16777216 tensors");
  n = (int)len;
  lua_settop(L, 2);                                        /* the buffer goes above the arguments */
  ts = lua_newuserdatauv(L, (size_t)n * sizeof *ts, 0);   /* any number; collected with the stack */
  for (i = 0; i < n; i++) {
    lua_geti(L, 1, i + 1);
    ts[i] = lt_totensor(L, -1);
    if (!ts[i]) return luaL_argerror(L, 1, lua_pushfstring(L, "element %d is not a tensor", i + 1));
    lua_pop(L, 1);   /* still referenced by the list */
  }
  nd = lp_tensor_ndim(ts[0]) + (stack ? 1 : 0);
  i = lt_optdim(L, 2, nd, 0);
  b = lt_newbox(L);
  st = stack ? lp_ag_stack(lt_ctx(L), n, ts, i, &b->t) : lp_ag_cat(lt_ctx(L), n, ts, i, &b->t);
  if (st != LP_OK) return lt_raise(L, st);
  lt_account(L);
  return 1;
}
static int l_cat(lua_State *L) { return join(L, 0); }
static int l_stack(lua_State *L) { return join(L, 1); }

static int l_is_tensor(lua_State *L) { lua_pushboolean(L, lt_totensor(L, 1) != NULL); return 1; }

/* _memory(t) -> address (light userdata), bytes, dtype name: the storage of a
   contiguous tensor, for modules that move bytes without knowing tensors
   (limpet.mpi). The address is valid while t lives. */
static int l_memory(lua_State *L) {
  lp_tensor *t = lt_checktensor(L, 1);
  if (!lp_tensor_is_contiguous(t)) return luaL_argerror(L, 1, "expected a contiguous tensor");
  lua_pushlightuserdata(L, lp_tensor_data(t));
  lua_pushinteger(L, (lua_Integer)((size_t)lp_tensor_numel(t) * lp_dtype_size(lp_tensor_dtype(t))));
  lua_pushstring(L, lp_dtype_name(lp_tensor_dtype(t)));
  return 3;
}

/* lp.config{max_bytes = , threads = } and lp.config() -> current values */
static int l_config(lua_State *L) {
  lp_ctx *ctx = lt_ctx(L);
  if (!lua_isnoneornil(L, 1)) {
    luaL_checktype(L, 1, LUA_TTABLE);
    lua_pushnil(L);
    while (lua_next(L, 1)) {
      const char *k = lua_type(L, -2) == LUA_TSTRING ? lua_tostring(L, -2) : "?";
      if (strcmp(k, "max_bytes") == 0) {
        lua_Integer v = luaL_checkinteger(L, -1);
        if (v < 0) return luaL_argerror(L, 1, "max_bytes must be non-negative");
        lp_ctx_set_max_bytes(ctx, (size_t)v);
      } else if (strcmp(k, "threads") == 0) {
        lua_Integer v = luaL_checkinteger(L, -1);
        if (v < 1) return luaL_argerror(L, 1, "threads must be at least 1");
        lp_ctx_set_threads(ctx, (int)v);
      } else if (strcmp(k, "fail_alloc_after") == 0) {  /* for tests of out-of-memory paths */
        lp_ctx_fail_alloc_after(ctx, (long)luaL_checkinteger(L, -1));
      } else {
        return luaL_argerror(L, 1, lua_pushfstring(L, "unknown field '%s'", k));
      }
      lua_pop(L, 1);
    }
  }
  lua_createtable(L, 0, 3);
  lua_pushinteger(L, (lua_Integer)lp_ctx_max_bytes(ctx)); lua_setfield(L, -2, "max_bytes");
  lua_pushinteger(L, lp_ctx_threads(ctx)); lua_setfield(L, -2, "threads");
  lua_pushinteger(L, (lua_Integer)lp_ctx_bytes_live(ctx)); lua_setfield(L, -2, "bytes_live");
  return 1;
}

static const luaL_Reg tensor_methods[] = {
  {"dim", m_dim}, {"numel", m_numel}, {"size", m_size}, {"is_contiguous", m_is_contiguous},
  {"astype", m_astype}, {"clone", m_clone}, {"contiguous", m_contiguous},
  {"reshape", m_reshape}, {"view", m_view}, {"transpose", m_transpose}, {"permute", m_permute},
  {"squeeze", m_squeeze}, {"unsqueeze", m_unsqueeze}, {"expand", m_expand}, {"slice", m_slice},
  {"get", m_get}, {"set", m_set}, {"item", m_item}, {"totable", m_totable},
  {"copy_", m_copy_}, {"fill_", m_fill_}, {"zero_", m_zero_}, {"release", m_release},
  {NULL, NULL}
};

static const luaL_Reg tensor_meta[] = {
  {"__index", t_index}, {"__newindex", t_newindex}, {"__gc", t_gc}, {"__close", t_gc},
  {"__len", t_len}, {"__tostring", t_tostring},
  {NULL, NULL}
};

static const luaL_Reg module_fns[] = {
  {"tensor", l_tensor}, {"zeros", l_zeros}, {"ones", l_ones}, {"full", l_full},
  {"zeros_like", l_zeros_like}, {"ones_like", l_ones_like},
  {"cat", l_cat}, {"stack", l_stack}, {"is_tensor", l_is_tensor}, {"_memory", l_memory}, {"config", l_config},
  {"_check_table", l_check_table},
  {NULL, NULL}
};

void lt_open_tensor(lua_State *L, int mod) {
  lt_CtxBox *cb;
  mod = lua_absindex(L, mod);
  /* the context, finalised when the state closes */
  cb = lua_newuserdatauv(L, sizeof *cb, 0);
  cb->ctx = NULL;
  lua_createtable(L, 0, 1);
  lua_pushcfunction(L, ctx_gc);
  lua_setfield(L, -2, "__gc");
  lua_setmetatable(L, -2);
  if (lp_ctx_new(&cb->ctx) != LP_OK) luaL_error(L, "limpet: cannot create the engine context");
  lua_rawsetp(L, LUA_REGISTRYINDEX, &lt_ctx_key);

  luaL_newmetatable(L, LT_TENSOR);
  luaL_setfuncs(L, tensor_meta, 0);
  lua_pop(L, 1);
  lua_newtable(L);
  luaL_setfuncs(L, tensor_methods, 0);
  lua_pushvalue(L, -1);
  lua_setfield(L, mod, "Tensor");          /* method table, for Lua-side extensions */
  lua_rawsetp(L, LUA_REGISTRYINDEX, &lt_methods_key);
  lua_pushvalue(L, mod);
  luaL_setfuncs(L, module_fns, 0);
  lua_pop(L, 1);
}
