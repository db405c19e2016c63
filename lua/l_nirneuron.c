/*
** lua/l_nirneuron.c -- core.nir_neuron: NIR's neuron family as one fused op.
**   core.nir_neuron(x, {a_m =, g_m =, c_m =, a_s =, g_s =, theta =, v_reset =,
**                       v0 =, i0 =, surrogate = "FastSigmoid", scale =,
**                       record = true, reference = false})
**     -> out, vmem (nil when record = false), v_final, i_final
**   v0 / i0: (B, N) or (N) (the same state for every row); reference: the
**   plain loops instead of the float fast path (to check it).
** Owns: the option table (unknown fields are errors) and the results.
** Not here: the kernel (core/src/nirneuron.c), coefficients from taus
** (stdlib/limpet/nn/nir_neurons.lua).
*/
#include <string.h>

#include "lbind.h"
#include "limpet/nirneuron.h"

static const lp_tensor *opt_tensor(lua_State *L, int idx, const char *field) {
  const lp_tensor *t = NULL;
  int ty = lua_getfield(L, idx, field);
  if (ty != LUA_TNIL) {
    t = lt_totensor(L, -1);
    if (!t) {
      lua_pushfstring(L, "field '%s' must be a tensor", field);
      luaL_argerror(L, 2, lua_tostring(L, -1));
    }
  }
  lua_pop(L, 1);   /* the table keeps it alive */
  return t;
}

/* an optional boolean field of the table at 2 */
static int opt_bool(lua_State *L, const char *field, int dflt) {
  int ty = lua_getfield(L, 2, field), v = dflt;
  if (ty == LUA_TBOOLEAN) v = lua_toboolean(L, -1);
  else if (ty != LUA_TNIL) {
    lua_pushfstring(L, "field '%s' must be a boolean", field);
    return luaL_argerror(L, 2, lua_tostring(L, -1));
  }
  lua_pop(L, 1);
  return v;
}

static int l_nir_neuron(lua_State *L) {
  static const char *const known[] = {"a_m", "g_m", "c_m", "a_s", "g_s", "theta", "v_reset", "v0", "i0",
                                      "surrogate", "scale", "record", "reference", NULL};
  lp_tensor *x = lt_checktensor(L, 1);
  lp_nir_neuron_args a;
  lt_Box *o, *vm, *vf, *inf;
  lp_status st;
  int record;
  luaL_checktype(L, 2, LUA_TTABLE);
  lua_pushnil(L);
  while (lua_next(L, 2)) {
    int ok = 0, i;
    if (lua_type(L, -2) == LUA_TSTRING)
      for (i = 0; known[i]; i++) if (strcmp(lua_tostring(L, -2), known[i]) == 0) ok = 1;
    if (!ok) {
      lua_pushfstring(L, "unknown field '%s'", luaL_tolstring(L, -2, NULL));
      return luaL_argerror(L, 2, lua_tostring(L, -1));
    }
    lua_pop(L, 1);
  }
  memset(&a, 0, sizeof a);
  a.a_m = opt_tensor(L, 2, "a_m"); a.g_m = opt_tensor(L, 2, "g_m"); a.c_m = opt_tensor(L, 2, "c_m");
  a.a_s = opt_tensor(L, 2, "a_s"); a.g_s = opt_tensor(L, 2, "g_s");
  a.theta = opt_tensor(L, 2, "theta"); a.v_reset = opt_tensor(L, 2, "v_reset");
  a.v0 = opt_tensor(L, 2, "v0"); a.i0 = opt_tensor(L, 2, "i0");
  lua_getfield(L, 2, "surrogate");
  {
    const char *name = luaL_optstring(L, -1, "FastSigmoid");
    if (!lp_surrogate_from_name(name, &a.sg) || (a.sg != LP_SG_FAST_SIGMOID && a.sg != LP_SG_ATAN)) {
      lua_pushfstring(L, "field 'surrogate' must be 'FastSigmoid' or 'ATan', got '%s'", name);
      return luaL_argerror(L, 2, lua_tostring(L, -1));
    }
  }
  lua_pop(L, 1);
  lua_getfield(L, 2, "scale");
  a.scale = lua_isnil(L, -1) ? lp_surrogate_default_scale(a.sg) : lua_tonumber(L, -1);
  if (!(a.scale > 0)) return luaL_argerror(L, 2, "field 'scale' must be a positive number");
  lua_pop(L, 1);
  record = opt_bool(L, "record", 1);
  a.reference = opt_bool(L, "reference", 0);
  o = lt_newbox(L);
  if (record) vm = lt_newbox(L); else { vm = NULL; lua_pushnil(L); }
  vf = lt_newbox(L); inf = lt_newbox(L);
  st = lp_ag_nir_neuron(lt_ctx(L), x, &a, &o->t, vm ? &vm->t : NULL, &vf->t, &inf->t);
  if (st) return lt_raise(L, st);
  lt_account(L);
  return 4;
}

void lt_open_nirneuron(lua_State *L, int mod) {
  lua_pushcfunction(L, l_nir_neuron);
  lua_setfield(L, mod < 0 ? mod - 1 : mod, "nir_neuron");
}
