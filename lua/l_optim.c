/*
** lua/l_optim.c -- the Lua face of the fused optimiser steps (limpet/optim.h):
** core._adam_step. Used by stdlib/limpet/optim/adam.lua, which owns the
** options, buffers and step counts; this file only converts arguments.
*/
#include "lbind.h"
#include "limpet/optim.h"

/* core._adam_step(p, g, m, v, vmax|nil, lr, beta1, beta2, eps, weight_decay, decoupled, step) */
static int l_adam_step(lua_State *L) {
  lp_tensor *p = lt_checktensor(L, 1), *g = lt_checktensor(L, 2), *m = lt_checktensor(L, 3);
  lp_tensor *v = lt_checktensor(L, 4), *vmax = lua_isnoneornil(L, 5) ? NULL : lt_checktensor(L, 5);
  lp_adam_opts o;
  lp_status st;
  o.lr = luaL_checknumber(L, 6);
  o.beta1 = luaL_checknumber(L, 7);
  o.beta2 = luaL_checknumber(L, 8);
  o.eps = luaL_checknumber(L, 9);
  o.weight_decay = luaL_checknumber(L, 10);
  o.decoupled = lua_toboolean(L, 11);
  o.step = (long)luaL_checkinteger(L, 12);
  if (o.step < 1) return luaL_argerror(L, 12, lua_pushfstring(L, "step must be >= 1, got %d", (int)o.step));
  st = lp_adam_step(lt_ctx(L), p, g, m, v, vmax, &o);
  if (st != LP_OK) return lt_raise(L, st);
  return 0;
}

static const luaL_Reg optim_fns[] = {{"_adam_step", l_adam_step}, {NULL, NULL}};

void lt_open_optim(lua_State *L, int mod) {
  mod = lua_absindex(L, mod);
  lua_pushvalue(L, mod);
  luaL_setfuncs(L, optim_fns, 0);
  lua_pop(L, 1);
}
