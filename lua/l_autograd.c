/*
** lua/l_autograd.c -- the Lua face of the autodiff engine: t:requires_grad,
** t.grad, t:backward, t:detach, t.is_leaf, t.grad_fn, lp.no_grad and grad
** mode switches. The engine is core/src/autograd.c; differentiable op
** bindings live with their areas (l_ops.c, l_tensor.c).
*/
#include "lbind.h"
#include "limpet/autograd.h"
#include <string.h>

/* t:requires_grad(flag) -> t ; t:requires_grad() -> boolean */
static int m_requires_grad(lua_State *L) {
  lp_tensor *t = lt_checktensor(L, 1);
  lp_status st;
  if (lua_isnone(L, 2)) { lua_pushboolean(L, lp_tensor_requires_grad(t)); return 1; }
  luaL_checktype(L, 2, LUA_TBOOLEAN);
  st = lp_tensor_set_requires_grad(lt_ctx(L), t, lua_toboolean(L, 2));
  if (st != LP_OK) return lt_raise(L, st);
  lua_settop(L, 1);
  return 1;
}

/* t:backward([grad][, retain_graph]) */
static int m_backward(lua_State *L) {
  lp_tensor *t = lt_checktensor(L, 1), *g = NULL;
  int retain = 0, garg = 2;
  lp_status st;
  if (lua_isboolean(L, 2)) { retain = lua_toboolean(L, 2); garg = 0; }
  else if (!lua_isnoneornil(L, 2)) { g = lt_checktensor(L, 2); retain = lua_toboolean(L, 3); }
  else retain = lua_toboolean(L, 3);
  (void)garg;
  st = lp_backward(lt_ctx(L), t, g, retain);
  if (st != LP_OK) return lt_raise(L, st);
  lt_account(L);
  return 0;
}

static int m_detach(lua_State *L) {
  lp_tensor *t = lt_checktensor(L, 1);
  lt_Box *b = lt_newbox(L);
  lp_status st = lp_tensor_detach(lt_ctx(L), t, &b->t);
  if (st != LP_OK) return lt_raise(L, st);
  return 1;
}

/* Run f(...) with grad mode set to `on`, restoring it even when f raises. */
static int with_mode(lua_State *L, int on) {
  lp_ctx *ctx = lt_ctx(L);
  int old, status, n = lua_gettop(L);
  luaL_checktype(L, 1, LUA_TFUNCTION);
  old = lp_grad_set_enabled(ctx, on);
  status = lua_pcall(L, n - 1, LUA_MULTRET, 0);
  lp_grad_set_enabled(ctx, old);
  if (status != LUA_OK) return lua_error(L);
  return lua_gettop(L);
}
static int l_no_grad(lua_State *L) { return with_mode(L, 0); }
static int l_enable_grad(lua_State *L) { return with_mode(L, 1); }

static int l_is_grad_enabled(lua_State *L) { lua_pushboolean(L, lp_grad_enabled(lt_ctx(L))); return 1; }
static int l_set_grad_enabled(lua_State *L) {
  luaL_checktype(L, 1, LUA_TBOOLEAN);
  lua_pushboolean(L, lp_grad_set_enabled(lt_ctx(L), lua_toboolean(L, 1)));
  return 1;   /* the previous mode */
}

/* Properties read through t.<name> (called by l_tensor.c's __index). */
int lt_autograd_property(lua_State *L, lp_tensor *t, const char *k) {
  if (strcmp(k, "grad") == 0) {
    lp_tensor *g = lp_tensor_grad(t);
    if (g) lt_pushtensor(L, lp_tensor_retain(g)); else lua_pushnil(L);
    return 1;
  }
  if (strcmp(k, "is_leaf") == 0) { lua_pushboolean(L, lp_tensor_is_leaf(t)); return 1; }
  if (strcmp(k, "grad_fn") == 0) {
    const char *n = lp_tensor_grad_fn_name(t);
    if (n) lua_pushstring(L, n); else lua_pushnil(L);
    return 1;
  }
  return 0;
}

/* t.grad = g | nil (called by __newindex). */
int lt_autograd_setproperty(lua_State *L, lp_tensor *t, const char *k, int v) {
  if (strcmp(k, "grad") == 0) {
    lp_tensor *g = lua_isnil(L, v) ? NULL : lt_checktensor(L, v);
    lp_status st = lp_tensor_set_grad(lt_ctx(L), t, g);
    if (st != LP_OK) return lt_raise_at(L, st, 1);
    return 1;
  }
  if (strcmp(k, "is_leaf") == 0 || strcmp(k, "grad_fn") == 0)
    return luaL_error(L, "'%s' is read-only", k);
  return 0;
}

static const luaL_Reg methods[] = {
  {"requires_grad", m_requires_grad}, {"backward", m_backward}, {"detach", m_detach},
  {NULL, NULL}
};

static const luaL_Reg fns[] = {
  {"no_grad", l_no_grad}, {"enable_grad", l_enable_grad},
  {"is_grad_enabled", l_is_grad_enabled}, {"set_grad_enabled", l_set_grad_enabled},
  {NULL, NULL}
};

void lt_open_autograd(lua_State *L, int mod) {
  lt_addmethods(L, methods);
  lua_pushvalue(L, mod);
  luaL_setfuncs(L, fns, 0);
  lua_pop(L, 1);
}
