/*
** lua/l_imuif.c -- the Lua face of the Xylo IMU interface's C stages
** (devices/xylo/imuif.h): the private table core._imuif = { subspace,
** sample_hold, jsvd, rotate, filterbank, encode_scale, encode_iaf, run }.
** Converts tensors and Lua tables to what the stages take; option names,
** defaults and user-facing messages live in devices/xylo/imuif.lua, the
** only caller. Errors about values (LP_EARG, LP_ESHAPE, LP_ETYPE) come back
** as nil, msg for the Lua layer to word; memory and interrupts raise.
*/
#include "lbind.h"
#include "../devices/xylo/imuif.h"
#include <string.h>

static int soft_fail(lua_State *L, lp_status st) {
  if (st == LP_EARG || st == LP_ESHAPE || st == LP_ETYPE) return lt_fail(L, st);
  return lt_raise(L, st);
}

/* An integer array of n entries from the Lua sequence at arg. */
static void int_array(lua_State *L, int arg, int64_t *out, int n, const char *what) {
  int i;
  luaL_checktype(L, arg, LUA_TTABLE);
  if ((int)luaL_len(L, arg) != n) luaL_error(L, "core._imuif: %s: expected %d values", what, n);
  for (i = 0; i < n; i++) {
    int isint;
    lua_geti(L, arg, i + 1);
    out[i] = (int64_t)lua_tointegerx(L, -1, &isint);
    if (!isint) luaL_error(L, "core._imuif: %s[%d] is not an integer", what, i + 1);
    lua_pop(L, 1);
  }
}

/* _imuif.subspace(x, k, state (9 integers)) -> C (B, T, 9), state (9 integers) | nil, msg */
static int l_subspace(lua_State *L) {
  lp_tensor *x = lt_checktensor(L, 1), *out = NULL;
  int k = (int)luaL_checkinteger(L, 2);
  int64_t st9[9];
  lp_status st;
  int i;
  int_array(L, 3, st9, 9, "state");
  st = lp_imuif_subspace(lt_ctx(L), x, k, st9, &out);
  if (st != LP_OK) return soft_fail(L, st);
  lt_pushtensor(L, out);
  lua_createtable(L, 9, 0);
  for (i = 0; i < 9; i++) { lua_pushinteger(L, (lua_Integer)st9[i]); lua_rawseti(L, -2, i + 1); }
  return 2;
}

/* _imuif.sample_hold(x, period) -> out | nil, msg */
static int l_sample_hold(lua_State *L) {
  lp_tensor *x = lt_checktensor(L, 1), *out = NULL;
  lp_status st = lp_imuif_sample_hold(lt_ctx(L), x, (int)luaL_checkinteger(L, 2), &out);
  if (st != LP_OK) return soft_fail(L, st);
  lt_pushtensor(L, out);
  return 1;
}

/* _imuif.jsvd(C (9 integers, row-major)) -> R, D (9 integers each) | nil, msg */
static int l_jsvd(lua_State *L) {
  int64_t C[9], R[9], D[9];
  lp_status st;
  int i;
  int_array(L, 1, C, 9, "covariance");
  st = lp_imuif_jsvd(lt_ctx(L), C, R, D);
  if (st != LP_OK) return soft_fail(L, st);
  lua_createtable(L, 9, 0);
  for (i = 0; i < 9; i++) { lua_pushinteger(L, (lua_Integer)R[i]); lua_rawseti(L, -2, i + 1); }
  lua_createtable(L, 9, 0);
  for (i = 0; i < 9; i++) { lua_pushinteger(L, (lua_Integer)D[i]); lua_rawseti(L, -2, i + 1); }
  return 2;
}

/* _imuif.rotate(x, cov) -> out | nil, msg */
static int l_rotate(lua_State *L) {
  lp_tensor *x = lt_checktensor(L, 1), *c = lt_checktensor(L, 2), *out = NULL;
  lp_status st = lp_imuif_rotate(lt_ctx(L), x, c, &out);
  if (st != LP_OK) return soft_fail(L, st);
  lt_pushtensor(L, out);
  return 1;
}

/* _imuif.filterbank(x, {{B_b, B_wf, B_af, a1, a2}, ...}, {chan (0-based), ...}, mirror) -> out | nil, msg */
static int l_filterbank(lua_State *L) {
  lp_tensor *x = lt_checktensor(L, 1), *out = NULL;
  lp_imuif_filter f[LP_IMUIF_MAXFILT];
  int chan[LP_IMUIF_MAXFILT];
  int64_t v[5], c[LP_IMUIF_MAXFILT];
  int n, i;
  lp_status st;
  luaL_checktype(L, 2, LUA_TTABLE);
  n = (int)luaL_len(L, 2);
  luaL_argcheck(L, n >= 1 && n <= LP_IMUIF_MAXFILT, 2, "1..64 filters expected");
  for (i = 0; i < n; i++) {
    lua_geti(L, 2, i + 1);
    int_array(L, lua_gettop(L), v, 5, "filter");
    lua_pop(L, 1);
    f[i].B_b = (int)v[0]; f[i].B_wf = (int)v[1]; f[i].B_af = (int)v[2];
    f[i].a1 = v[3]; f[i].a2 = v[4];
  }
  int_array(L, 3, c, n, "channels");
  for (i = 0; i < n; i++) chan[i] = (int)c[i];
  st = lp_imuif_filterbank(lt_ctx(L), x, f, chan, n, lua_toboolean(L, 4), &out);
  if (st != LP_OK) return soft_fail(L, st);
  lt_pushtensor(L, out);
  return 1;
}

/* Number of channels (last dim) of a (B, T, C) tensor; 0 when it is not 3-D. */
static int last_dim(const lp_tensor *t) {
  return lp_tensor_ndim(t) == 3 ? (int)lp_tensor_shape(t)[2] : 0;
}

/* _imuif.encode_scale(y, {scale per channel}) -> out | nil, msg */
static int l_encode_scale(lua_State *L) {
  lp_tensor *y = lt_checktensor(L, 1), *out = NULL;
  int64_t v[LP_IMUIF_MAXFILT];
  int s[LP_IMUIF_MAXFILT], n = last_dim(y), i;
  lp_status st;
  luaL_argcheck(L, n >= 1 && n <= LP_IMUIF_MAXFILT, 1, "expected (B, T, C) with 1 <= C <= 64");
  int_array(L, 2, v, n, "scale_values");
  for (i = 0; i < n; i++) s[i] = v[i] < -1 ? -1 : v[i] > 64 ? 64 : (int)v[i];
  st = lp_imuif_encode_scale(lt_ctx(L), y, s, &out);
  if (st != LP_OK) return soft_fail(L, st);
  lt_pushtensor(L, out);
  return 1;
}

/* _imuif.encode_iaf(y, {threshold per channel}) -> out | nil, msg */
static int l_encode_iaf(lua_State *L) {
  lp_tensor *y = lt_checktensor(L, 1), *out = NULL;
  int64_t th[LP_IMUIF_MAXFILT];
  int n = last_dim(y);
  lp_status st;
  luaL_argcheck(L, n >= 1 && n <= LP_IMUIF_MAXFILT, 1, "expected (B, T, C) with 1 <= C <= 64");
  int_array(L, 2, th, n, "iaf_threshold_values");
  st = lp_imuif_encode_iaf(lt_ctx(L), y, th, &out);
  if (st != LP_OK) return soft_fail(L, st);
  lt_pushtensor(L, out);
  return 1;
}

static int bool_field(lua_State *L, int idx, const char *k) {
  int v;
  lua_getfield(L, idx, k);
  v = lua_toboolean(L, -1);
  lua_pop(L, 1);
  return v;
}

static int int_field(lua_State *L, int idx, const char *k) {
  int v;
  lua_getfield(L, idx, k);
  v = (int)luaL_optinteger(L, -1, 0);
  lua_pop(L, 1);
  return v;
}

/* _imuif.run(x, {bypass_jsvd, select_iaf_output, num_avg_bitshift, sah_period,
   filters = {{B_b, B_wf, B_af, a1, a2}, ...}, channels = {0-based}, scale = {..},
   threshold = {..}}, state (9 integers), record)
   -> spikes, state, rec {covariance, rotation_removal, filterbank} | nil, msg */
static int l_run(lua_State *L) {
  lp_tensor *x = lt_checktensor(L, 1);
  lp_imuif_params p;
  lp_imuif_filter f[LP_IMUIF_MAXFILT];
  int chan[LP_IMUIF_MAXFILT], scale[LP_IMUIF_MAXFILT];
  int64_t th[LP_IMUIF_MAXFILT], v[LP_IMUIF_MAXFILT], st9[9];
  int n, i, record = lua_toboolean(L, 4);
  lp_imuif_result r;
  lp_status st;
  luaL_checktype(L, 2, LUA_TTABLE);
  int_array(L, 3, st9, 9, "state");
  memset(&p, 0, sizeof p);
  p.bypass_jsvd = bool_field(L, 2, "bypass_jsvd");
  p.select_iaf_output = bool_field(L, 2, "select_iaf_output");
  p.num_avg_bitshift = int_field(L, 2, "num_avg_bitshift");
  p.sah_period = int_field(L, 2, "sah_period");
  lua_getfield(L, 2, "filters");
  luaL_checktype(L, -1, LUA_TTABLE);
  n = (int)luaL_len(L, -1);
  luaL_argcheck(L, n >= 1 && n <= LP_IMUIF_MAXFILT, 2, "1..64 filters expected");
  for (i = 0; i < n; i++) {
    int64_t w[5];
    lua_geti(L, -1, i + 1);
    int_array(L, lua_gettop(L), w, 5, "filter");
    lua_pop(L, 1);
    f[i].B_b = (int)w[0]; f[i].B_wf = (int)w[1]; f[i].B_af = (int)w[2]; f[i].a1 = w[3]; f[i].a2 = w[4];
  }
  lua_pop(L, 1);
  lua_getfield(L, 2, "channels");
  int_array(L, lua_gettop(L), v, n, "channels");
  lua_pop(L, 1);
  for (i = 0; i < n; i++) chan[i] = (int)v[i];
  lua_getfield(L, 2, "scale");
  int_array(L, lua_gettop(L), v, n, "scale");
  lua_pop(L, 1);
  for (i = 0; i < n; i++) scale[i] = v[i] < -1 ? -1 : v[i] > 64 ? 64 : (int)v[i];
  lua_getfield(L, 2, "threshold");
  int_array(L, lua_gettop(L), th, n, "threshold");
  lua_pop(L, 1);
  p.nfilt = n; p.filt = f; p.chan = chan; p.scale = scale; p.threshold = th;
  lua_checkstack(L, 8);
  st = lp_imuif_run(lt_ctx(L), &p, x, st9, record, &r);
  if (st != LP_OK) return soft_fail(L, st);
  lt_pushtensor(L, r.spikes);
  lua_createtable(L, 9, 0);
  for (i = 0; i < 9; i++) { lua_pushinteger(L, (lua_Integer)st9[i]); lua_rawseti(L, -2, i + 1); }
  lua_createtable(L, 0, 3);
  if (r.covariance) { lt_pushtensor(L, r.covariance); lua_setfield(L, -2, "covariance"); }
  if (r.rotated) { lt_pushtensor(L, r.rotated); lua_setfield(L, -2, "rotation_removal"); }
  if (r.filtered) { lt_pushtensor(L, r.filtered); lua_setfield(L, -2, "filterbank"); }
  return 3;
}

void lt_open_imuif(lua_State *L, int mod) {
  static const luaL_Reg fns[] = {
    {"subspace", l_subspace}, {"sample_hold", l_sample_hold}, {"jsvd", l_jsvd},
    {"rotate", l_rotate}, {"filterbank", l_filterbank}, {"encode_scale", l_encode_scale},
    {"encode_iaf", l_encode_iaf}, {"run", l_run}, {NULL, NULL}};
  mod = lua_absindex(L, mod);
  luaL_newlib(L, fns);
  lua_setfield(L, mod, "_imuif");
}
