/*
** lua/l_conv.c -- convolution, pooling and batch normalisation from Lua.
** Owns: argument and option checks (unknown fields are errors; ints or
** {h, w} pairs), the Lua shapes of the results.
**   core.conv2d(x, w[, b][, {stride =, padding =, dilation =, groups =}])
**   core.conv2d_ref(...)  -- the direct-loop reference, same arguments
**   core.sum_pool2d(x, {kernel_size =, stride = kernel_size, padding = 0})
**   core.sum_pool2d_ref(...)  -- the per-element reference loop, same arguments
** x (N, C, H, W); differentiable (lp_ag_* versions).
**   core.batch_norm(x, cdim, w|nil, b|nil, {eps =, gain =}) -> y, mean, var
**     per channel (dimension cdim) over all the others: y differentiable
**     for x, w and b; mean and the biased variance plain tensors.
** Not here: the kernels (core/src/conv.c, core/src/norm.c).
*/
#include <string.h>

#include "lbind.h"
#include "limpet/conv.h"
#include "limpet/norm.h"

/* field of the options table at idx: an int >= lo or a pair; def if absent */
static void opt_pair(lua_State *L, int idx, int argno, const char *fname, const char *field,
                     int64_t lo, int64_t def0, int64_t def1, int64_t out[2]) {
  int t = lua_getfield(L, idx, field);
  out[0] = def0; out[1] = def1;
  if (t == LUA_TNUMBER && lua_isinteger(L, -1)) {
    out[0] = out[1] = (int64_t)lua_tointeger(L, -1);
  } else if (t == LUA_TTABLE && lua_rawlen(L, -1) == 2) {
    int i;
    for (i = 0; i < 2; i++) {
      lua_rawgeti(L, -1, i + 1);
      if (!lua_isinteger(L, -1)) goto bad;
      out[i] = (int64_t)lua_tointeger(L, -1);
      lua_pop(L, 1);
    }
  } else if (t != LUA_TNIL) {
    goto bad;
  }
  lua_pop(L, 1);
  if (out[0] < lo || out[1] < lo) {
    lua_pushfstring(L, "field '%s' must be >= %d", field, (int)lo);
    luaL_argerror(L, argno, lua_tostring(L, -1));
  }
  (void)fname;
  return;
bad:
  lua_pushfstring(L, "field '%s' must be an integer or a pair of integers", field);
  luaL_argerror(L, argno, lua_tostring(L, -1));
}

static void check_fields(lua_State *L, int idx, int argno, const char *const *known) {
  lua_pushnil(L);
  while (lua_next(L, idx)) {
    int ok = 0, i;
    if (lua_type(L, -2) == LUA_TSTRING) {
      const char *k = lua_tostring(L, -2);
      for (i = 0; known[i]; i++) if (strcmp(k, known[i]) == 0) ok = 1;
    }
    if (!ok) {
      lua_pushfstring(L, "unknown field '%s'", luaL_tolstring(L, -2, NULL));
      luaL_argerror(L, argno, lua_tostring(L, -1));
    }
    lua_pop(L, 1);
  }
}

static int conv(lua_State *L, int ref) {
  static const char *const known[] = {"stride", "padding", "dilation", "groups", NULL};
  lp_tensor *x = lt_checktensor(L, 1), *w = lt_checktensor(L, 2), *b = NULL;
  lp_conv2d_opts o;
  int oi = 3;
  lt_Box *r;
  lp_status st;
  if (lua_gettop(L) >= 3 && !lua_istable(L, 3)) {
    if (!lua_isnil(L, 3)) b = lt_checktensor(L, 3);
    oi = 4;
  } else if (lua_istable(L, 3) && lt_totensor(L, 3)) {
    b = lt_checktensor(L, 3);
    oi = 4;
  }
  memset(&o, 0, sizeof o);
  o.stride[0] = o.stride[1] = o.dilation[0] = o.dilation[1] = 1;
  o.groups = 1;
  if (!lua_isnoneornil(L, oi)) {
    int64_t g[2];
    luaL_checktype(L, oi, LUA_TTABLE);
    check_fields(L, oi, oi, known);
    opt_pair(L, oi, oi, "conv2d", "stride", 1, 1, 1, o.stride);
    opt_pair(L, oi, oi, "conv2d", "padding", 0, 0, 0, o.padding);
    opt_pair(L, oi, oi, "conv2d", "dilation", 1, 1, 1, o.dilation);
    opt_pair(L, oi, oi, "conv2d", "groups", 1, 1, 1, g);
    o.groups = g[0];
  }
  r = lt_newbox(L);
  st = ref ? lp_conv2d_ref(lt_ctx(L), x, w, b, &o, &r->t) : lp_ag_conv2d(lt_ctx(L), x, w, b, &o, &r->t);
  if (st) return lt_raise(L, st);
  lt_account(L);
  return 1;
}

static int l_conv2d(lua_State *L) { return conv(L, 0); }
static int l_conv2d_ref(lua_State *L) { return conv(L, 1); }

static int pool(lua_State *L, int ref) {
  static const char *const known[] = {"kernel_size", "stride", "padding", NULL};
  lp_tensor *x = lt_checktensor(L, 1);
  int64_t k[2], s[2], p[2];
  lt_Box *r;
  lp_status st;
  luaL_checktype(L, 2, LUA_TTABLE);
  check_fields(L, 2, 2, known);
  lua_getfield(L, 2, "kernel_size");
  if (lua_isnil(L, -1)) luaL_argerror(L, 2, "field 'kernel_size' is required");
  lua_pop(L, 1);
  opt_pair(L, 2, 2, "sum_pool2d", "kernel_size", 1, 1, 1, k);
  opt_pair(L, 2, 2, "sum_pool2d", "stride", 1, k[0], k[1], s);
  opt_pair(L, 2, 2, "sum_pool2d", "padding", 0, 0, 0, p);
  r = lt_newbox(L);
  st = ref ? lp_sum_pool2d_ref(lt_ctx(L), x, k, s, p, &r->t) : lp_ag_sum_pool2d(lt_ctx(L), x, k, s, p, &r->t);
  if (st) return lt_raise(L, st);
  lt_account(L);
  return 1;
}

static int l_sum_pool2d(lua_State *L) { return pool(L, 0); }
static int l_sum_pool2d_ref(lua_State *L) { return pool(L, 1); }

static double opt_number(lua_State *L, int idx, int argno, const char *field, double def) {
  double v = def;
  int t = lua_getfield(L, idx, field);
  if (t == LUA_TNUMBER) v = lua_tonumber(L, -1);
  else if (t != LUA_TNIL) {
    lua_pushfstring(L, "field '%s' must be a number", field);
    luaL_argerror(L, argno, lua_tostring(L, -1));
  }
  lua_pop(L, 1);
  return v;
}

static int l_batch_norm(lua_State *L) {
  static const char *const known[] = {"eps", "gain", NULL};
  lp_tensor *x = lt_checktensor(L, 1), *w = NULL, *b = NULL;
  int cdim = lt_checkdim(L, 2, lp_tensor_ndim(x));
  double eps = 1e-5, gain = 1;
  lt_Box *y, *m, *v;
  lp_tensor *ty, *tm, *tv;
  lp_status st;
  if (!lua_isnoneornil(L, 3)) w = lt_checktensor(L, 3);
  if (!lua_isnoneornil(L, 4)) b = lt_checktensor(L, 4);
  if (!lua_isnoneornil(L, 5)) {
    luaL_checktype(L, 5, LUA_TTABLE);
    check_fields(L, 5, 5, known);
    eps = opt_number(L, 5, 5, "eps", eps);
    gain = opt_number(L, 5, 5, "gain", gain);
  }
  y = lt_newbox(L); m = lt_newbox(L); v = lt_newbox(L);
  st = lp_ag_batch_norm(lt_ctx(L), x, cdim, w, b, eps, gain, &ty, &tm, &tv);
  if (st) return lt_raise(L, st);
  y->t = ty; m->t = tm; v->t = tv;
  lt_account(L);
  return 3;
}

void lt_open_conv(lua_State *L, int mod) {
  static const luaL_Reg fns[] = {
    {"conv2d", l_conv2d}, {"conv2d_ref", l_conv2d_ref}, {"sum_pool2d", l_sum_pool2d},
    {"sum_pool2d_ref", l_sum_pool2d_ref}, {"batch_norm", l_batch_norm}, {NULL, NULL}
  };
  lua_pushvalue(L, mod);
  luaL_setfuncs(L, fns, 0);
  lua_pop(L, 1);
}
