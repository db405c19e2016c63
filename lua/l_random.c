/*
** lua/l_random.c -- lp.seed, rand, randn, randint, bernoulli, and the value
** generators arange, linspace, eye. Numerics in core/src/random.c and
** core/src/generate.c.
*/
#include "lbind.h"
#include "limpet/random.h"
#include <math.h>

static int l_seed(lua_State *L) {
  lp_ctx *ctx = lt_ctx(L);
  if (lua_isnoneornil(L, 1)) { lua_pushinteger(L, (lua_Integer)lp_ctx_seed_value(ctx)); return 1; }
  lp_ctx_seed(ctx, (uint64_t)luaL_checkinteger(L, 1));
  return 0;
}

typedef lp_status (*draw_fn)(lp_ctx *, lp_dtype, int, const int64_t *, lp_tensor **);

static int draw(lua_State *L, draw_fn fn) {
  int64_t shape[LP_MAXDIM];
  int n = lt_checkshape(L, 1, shape);
  lp_dtype dt = lt_optdtype(L, lua_istable(L, 1) ? 2 : 1 + n, LP_F32);
  lt_Box *b = lt_newbox(L);
  lp_status st = fn(lt_ctx(L), dt, n, shape, &b->t);
  if (st != LP_OK) return lt_raise_at(L, st, lua_istable(L, 1) ? 1 : n);
  lt_account(L);
  return 1;
}
static int l_rand(lua_State *L) { return draw(L, lp_rand); }
static int l_randn(lua_State *L) { return draw(L, lp_randn); }

/* randint(low, high, shape..., dtype) -- [low, high), NumPy's meaning */
static int l_randint(lua_State *L) {
  lua_Integer lo = luaL_checkinteger(L, 1), hi = luaL_checkinteger(L, 2);
  int64_t shape[LP_MAXDIM];
  int n = lt_checkshape(L, 3, shape);
  lp_dtype dt = lt_optdtype(L, lua_istable(L, 3) ? 4 : 3 + n, LP_I64);
  lt_Box *b;
  lp_status st;
  if (lo >= hi) return luaL_argerror(L, 2, lua_pushfstring(L, "high must be greater than low (%I)", lo));
  b = lt_newbox(L);
  st = lp_randint(lt_ctx(L), (int64_t)lo, (int64_t)hi, dt, n, shape, &b->t);
  if (st != LP_OK) return lt_raise_at(L, st, 2);
  lt_account(L);
  return 1;
}

/* bernoulli(p_tensor[, dtype]) or bernoulli(p, shape...[, dtype]); dtype
   defaults to float32 (the input of a network). */
static int l_bernoulli(lua_State *L) {
  lp_tensor *p = lt_totensor(L, 1);
  lt_Box *b;
  lp_status st;
  if (p) {
    lp_dtype dt = lt_optdtype(L, 2, LP_F32);
    b = lt_newbox(L);
    st = lp_bernoulli(lt_ctx(L), p, dt, &b->t);
  } else {
    double q = luaL_checknumber(L, 1);
    int64_t shape[LP_MAXDIM];
    int n = lt_checkshape(L, 2, shape);
    lp_dtype dt = lt_optdtype(L, lua_istable(L, 2) ? 3 : 2 + n, LP_F32);
    if (!(q >= 0 && q <= 1)) return luaL_argerror(L, 1, lua_pushfstring(L, "probability must lie in [0, 1], got %f", q));
    b = lt_newbox(L);
    st = lp_bernoulli_scalar(lt_ctx(L), q, dt, n, shape, &b->t);
  }
  if (st != LP_OK) return lt_raise(L, st);
  lt_account(L);
  return 1;
}

/* arange(stop) / arange(start, stop[, step])[, dtype]: int64 when every
   bound is an integer, else float32 (NumPy's rule with limpet's float). */
static int l_arange(lua_State *L) {
  int nnum = 0, allint = 1, i;
  double v[3];
  lp_dtype dt;
  lt_Box *b;
  lp_status st;
  while (nnum < 3 && lua_type(L, nnum + 1) == LUA_TNUMBER) {
    if (!lua_isinteger(L, nnum + 1)) allint = 0;
    v[nnum] = lua_tonumber(L, nnum + 1);
    nnum++;
  }
  if (nnum == 0) return luaL_argerror(L, 1, lua_pushfstring(L, "number expected, got %s", luaL_typename(L, 1)));
  for (i = 0; i < nnum; i++)
    if (!isfinite(v[i])) return luaL_argerror(L, i + 1, "bounds must be finite");
  dt = lt_optdtype(L, nnum + 1, allint ? LP_I64 : LP_F32);
  if (nnum == 1) { v[1] = v[0]; v[0] = 0; }
  if (nnum < 3) v[2] = 1;
  if (v[2] == 0) return luaL_argerror(L, 3, "step must be nonzero");
  b = lt_newbox(L);
  st = lp_arange(lt_ctx(L), v[0], v[1], v[2], dt, &b->t);
  if (st != LP_OK) return lt_raise(L, st);
  lt_account(L);
  return 1;
}

static int l_linspace(lua_State *L) {
  double a = luaL_checknumber(L, 1), c = luaL_checknumber(L, 2);
  lua_Integer n = luaL_optinteger(L, 3, 50);
  lp_dtype dt = lt_optdtype(L, 4, LP_F32);
  lt_Box *b;
  lp_status st;
  if (n < 0) return luaL_argerror(L, 3, "number of points must be non-negative");
  b = lt_newbox(L);
  st = lp_linspace(lt_ctx(L), a, c, (int64_t)n, dt, &b->t);
  if (st != LP_OK) return lt_raise(L, st);
  lt_account(L);
  return 1;
}

/* eye(n[, m][, dtype]) */
static int l_eye(lua_State *L) {
  lua_Integer n = luaL_checkinteger(L, 1), m = n;
  int dtarg = 2;
  lt_Box *b;
  lp_status st;
  lp_dtype dt;
  if (lua_type(L, 2) == LUA_TNUMBER) { m = luaL_checkinteger(L, 2); dtarg = 3; }
  if (n < 0) return luaL_argerror(L, 1, "size must be non-negative");
  if (m < 0) return luaL_argerror(L, 2, "size must be non-negative");
  dt = lt_optdtype(L, dtarg, LP_F32);
  b = lt_newbox(L);
  st = lp_eye(lt_ctx(L), (int64_t)n, (int64_t)m, dt, &b->t);
  if (st != LP_OK) return lt_raise(L, st);
  lt_account(L);
  return 1;
}

static const luaL_Reg fns[] = {
  {"seed", l_seed}, {"rand", l_rand}, {"randn", l_randn}, {"randint", l_randint},
  {"bernoulli", l_bernoulli}, {"arange", l_arange}, {"linspace", l_linspace}, {"eye", l_eye},
  {NULL, NULL}
};

void lt_open_random(lua_State *L, int mod) {
  lua_pushvalue(L, mod);
  luaL_setfuncs(L, fns, 0);
  lua_pop(L, 1);
}
