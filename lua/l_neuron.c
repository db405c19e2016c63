/*
** lua/l_neuron.c -- the Lua face of the fused neuron ops: core.lif,
** core.expsyn, core.rate, and core.first_outside, the parameter range check
** (limpet/neuron.h). Checks and converts option
** tables (unknown fields rejected by name), calls the core, and builds the
** result tables. The numerics and BPTT are in core/src/lif.c; modules
** (taus -> decays, state) in stdlib/limpet/nn/.
*/
#include "lbind.h"
#include "limpet/neuron.h"
#include <string.h>

/* Reject fields of the options table at arg not in `known` (NULL-ended). */
static void check_fields(lua_State *L, int arg, const char *const *known) {
  lua_pushnil(L);
  while (lua_next(L, arg)) {
    int i, ok = 0;
    lua_pop(L, 1);
    if (lua_type(L, -1) == LUA_TSTRING) {
      const char *k = lua_tostring(L, -1);
      for (i = 0; known[i]; i++) if (strcmp(k, known[i]) == 0) { ok = 1; break; }
    }
    if (!ok) luaL_argerror(L, arg, lua_pushfstring(L, "unknown field '%s'", luaL_tolstring(L, -1, NULL)));
  }
}

/* Field `name` of the table at arg as a borrowed tensor (NULL when nil); the
   value stays on the stack so the tensor lives through the call. */
static const lp_tensor *opt_tensor(lua_State *L, int arg, const char *name) {
  lp_tensor *t;
  lua_getfield(L, arg, name);
  if (lua_isnil(L, -1)) return NULL;
  if (!(t = lt_totensor(L, -1)))
    luaL_argerror(L, arg, lua_pushfstring(L, "field '%s': expected a tensor, got %s", name, luaL_typename(L, -1)));
  return t;
}

static double opt_number(lua_State *L, int arg, const char *name, double def) {
  double v = def;
  lua_getfield(L, arg, name);
  if (!lua_isnil(L, -1)) {
    if (!lua_isnumber(L, -1))
      luaL_argerror(L, arg, lua_pushfstring(L, "field '%s': expected a number, got %s", name, luaL_typename(L, -1)));
    v = lua_tonumber(L, -1);
  }
  lua_pop(L, 1);
  return v;
}

static const char *opt_string(lua_State *L, int arg, const char *name, const char *def) {
  const char *s = def;
  lua_getfield(L, arg, name);
  if (!lua_isnil(L, -1)) {
    if (lua_type(L, -1) != LUA_TSTRING)
      luaL_argerror(L, arg, lua_pushfstring(L, "field '%s': expected a string, got %s", name, luaL_typename(L, -1)));
    s = lua_tostring(L, -1);
  }
  lua_pop(L, 1);                 /* the string stays alive in the options table */
  return s;
}

static void setfield_tensor(lua_State *L, const char *name, lp_tensor **t) {
  if (!*t) return;
  lt_pushtensor(L, *t);
  *t = NULL;
  lua_setfield(L, -2, name);
}

/* core.lif(x, opts) -> spikes, rec | nil, final. opts.record: true (all
   records) or a list of names; opts.w_in / b_in: the fused input projection. */
static const char *const lif_fields[] = {
  "alpha", "beta", "bias", "threshold", "w_rec", "noise", "vmem", "isyn", "spikes", "iahp",
  "max_spikes_per_dt", "spike_fn", "learning_window", "surrogate_scale", "w_ahp", "beta_ahp",
  "record", "membrane_only", "w_in", "b_in", "rec_targets", NULL};

/* opts.record: a boolean, or a list of the records wanted ("vmem", "isyn",
   "irec", "iahp", "spikes"): sets o->record and o->record_mask. */
static void record_opt(lua_State *L, int arg, lp_lif_opts *o) {
  static const char *const names[] = {"vmem", "isyn", "irec", "spikes", "iahp", NULL};
  static const unsigned bits[] = {LP_LIF_REC_VMEM, LP_LIF_REC_ISYN, LP_LIF_REC_IREC, LP_LIF_REC_SPIKES,
                                  LP_LIF_REC_IAHP};
  lua_Integer i, n;
  lua_getfield(L, arg, "record");
  if (!lua_istable(L, -1)) {
    o->record = lua_toboolean(L, -1);
    lua_pop(L, 1);
    return;
  }
  o->record = 1;
  o->record_mask = LP_LIF_REC_SPIKES;
  n = (lua_Integer)lua_rawlen(L, -1);
  for (i = 1; i <= n; i++) {
    int j, found = 0;
    const char *s;
    lua_rawgeti(L, -1, i);
    s = lua_tostring(L, -1);
    for (j = 0; s && names[j]; j++)
      if (strcmp(s, names[j]) == 0) { o->record_mask |= bits[j]; found = 1; break; }
    if (!found)
      luaL_argerror(L, arg, lua_pushfstring(L, "field 'record': unknown record '%s' (vmem, isyn, irec, iahp or spikes)",
                                            luaL_tolstring(L, -1, NULL)));
    lua_pop(L, 1);
  }
  lua_pop(L, 1);
}

static int l_lif(lua_State *L) {
  lp_lif_args a;
  lp_lif_opts o;
  lp_lif_out r;
  lp_status st;
  const char *fn;
  memset(&a, 0, sizeof a);
  a.x = lt_checktensor(L, 1);
  luaL_checktype(L, 2, LUA_TTABLE);
  lua_settop(L, 2);
  check_fields(L, 2, lif_fields);
  lp_lif_opts_default(&o);
  fn = opt_string(L, 2, "spike_fn", "StepPWL");
  if (!lp_surrogate_from_name(fn, &o.surrogate))
    return luaL_argerror(L, 2, lua_pushfstring(L, "field 'spike_fn': unknown spike function '%s' "
                         "(StepPWL, PeriodicExponential, FastSigmoid or ATan)", fn));
  o.max_spikes_per_dt = opt_number(L, 2, "max_spikes_per_dt", o.max_spikes_per_dt);
  o.learning_window = opt_number(L, 2, "learning_window", o.learning_window);
  o.surrogate_scale = opt_number(L, 2, "surrogate_scale", lp_surrogate_default_scale(o.surrogate));
  record_opt(L, 2, &o);
  lua_getfield(L, 2, "membrane_only");
  o.membrane_only = lua_toboolean(L, -1);
  lua_pop(L, 1);
  a.alpha = opt_tensor(L, 2, "alpha");
  a.beta = opt_tensor(L, 2, "beta");
  a.bias = opt_tensor(L, 2, "bias");
  a.threshold = opt_tensor(L, 2, "threshold");
  a.w_rec = opt_tensor(L, 2, "w_rec");
  a.w_ahp = opt_tensor(L, 2, "w_ahp");
  a.beta_ahp = opt_tensor(L, 2, "beta_ahp");
  a.noise = opt_tensor(L, 2, "noise");
  a.vmem = opt_tensor(L, 2, "vmem");
  a.isyn = opt_tensor(L, 2, "isyn");
  a.spikes = opt_tensor(L, 2, "spikes");
  a.iahp = opt_tensor(L, 2, "iahp");
  a.w_in = opt_tensor(L, 2, "w_in");
  a.b_in = opt_tensor(L, 2, "b_in");
  a.rec_targets = opt_tensor(L, 2, "rec_targets");
  lua_checkstack(L, 8);
  st = lp_lif(lt_ctx(L), &a, &o, &r);
  if (st != LP_OK) return lt_raise(L, st);
  /* from here every tensor in r is pushed (boxes take the references) */
  lt_pushtensor(L, r.spikes);
  lua_pushvalue(L, -1);
  r.spikes = NULL;
  if (o.record) {
    lua_createtable(L, 0, 4);
    lua_insert(L, -2);
    lua_setfield(L, -2, "spikes");
    setfield_tensor(L, "vmem", &r.vmem);
    setfield_tensor(L, "isyn", &r.isyn);
    setfield_tensor(L, "irec", &r.irec);
    setfield_tensor(L, "iahp", &r.iahp);
  } else {
    lua_pop(L, 1);
    lua_pushnil(L);
  }
  lua_createtable(L, 0, 4);
  setfield_tensor(L, "vmem", &r.vmem_final);
  setfield_tensor(L, "isyn", &r.isyn_final);
  setfield_tensor(L, "spikes", &r.spikes_final);
  setfield_tensor(L, "iahp", &r.iahp_final);
  lp_lif_out_release(&r);
  return 3;
}

/* core.expsyn(x, {beta, isyn, noise}) -> out, {isyn = } */
static const char *const expsyn_fields[] = {"beta", "isyn", "noise", NULL};

static int l_expsyn(lua_State *L) {
  lp_expsyn_args a;
  lp_tensor *out = NULL, *fin = NULL;
  lp_status st;
  memset(&a, 0, sizeof a);
  a.x = lt_checktensor(L, 1);
  luaL_checktype(L, 2, LUA_TTABLE);
  lua_settop(L, 2);
  check_fields(L, 2, expsyn_fields);
  a.beta = opt_tensor(L, 2, "beta");
  a.isyn = opt_tensor(L, 2, "isyn");
  a.noise = opt_tensor(L, 2, "noise");
  st = lp_expsyn(lt_ctx(L), &a, &out, &fin);
  if (st != LP_OK) return lt_raise(L, st);
  lt_pushtensor(L, out);
  lua_createtable(L, 0, 1);
  setfield_tensor(L, "isyn", &fin);
  return 2;
}

/* core.rate(x, {alpha, bias, threshold, w_rec, act, x, noise}) -> out, {x = } */
static const char *const rate_fields[] = {"alpha", "bias", "threshold", "w_rec", "act", "x", "noise", NULL};

static int l_rate(lua_State *L) {
  lp_rate_args a;
  lp_rate_act act;
  lp_tensor *out = NULL, *fin = NULL;
  const char *name;
  lp_status st;
  memset(&a, 0, sizeof a);
  a.x = lt_checktensor(L, 1);
  luaL_checktype(L, 2, LUA_TTABLE);
  lua_settop(L, 2);
  check_fields(L, 2, rate_fields);
  name = opt_string(L, 2, "act", "relu");
  if (!lp_rate_act_from_name(name, &act))
    return luaL_argerror(L, 2, lua_pushfstring(L, "field 'act': unknown activation '%s' (relu, tanh or sigmoid)",
                                               name));
  a.alpha = opt_tensor(L, 2, "alpha");
  a.bias = opt_tensor(L, 2, "bias");
  a.threshold = opt_tensor(L, 2, "threshold");
  a.w_rec = opt_tensor(L, 2, "w_rec");
  a.state = opt_tensor(L, 2, "x");
  a.noise = opt_tensor(L, 2, "noise");
  st = lp_rate(lt_ctx(L), &a, act, &out, &fin);
  if (st != LP_OK) return lt_raise(L, st);
  lt_pushtensor(L, out);
  lua_createtable(L, 0, 1);
  setfield_tensor(L, "x", &fin);
  return 2;
}

/* core.first_outside(t, lo, hi[, lo_open]) -> nil | index (1-based, flat), value:
   the first element that is not finite or lies outside [lo, hi] ((lo, hi]
   with lo_open). Reads t in place; used by nn/validate.lua on every forward. */
static int l_first_outside(lua_State *L) {
  const lp_tensor *t = lt_checktensor(L, 1);
  double lo = luaL_checknumber(L, 2), hi = luaL_checknumber(L, 3), v;
  int lo_open = lua_toboolean(L, 4);
  int64_t i;
  lp_status st = lp_param_first_outside(lt_ctx(L), t, lo, hi, lo_open, &i, &v);
  if (st != LP_OK) return lt_raise(L, st);
  if (i < 0) { lua_pushnil(L); return 1; }
  lua_pushinteger(L, (lua_Integer)i + 1);
  lua_pushnumber(L, v);
  return 2;
}

/* core.lif_rec_topk(w (N, K), F[, block = 1]) -> targets (N, F) int32
   (0-based columns, each row ascending), mask (N, K) in w's dtype (1 at the
   targets, else 0): each row's F largest |w|, or its F/block blocks of
   adjacent columns with the largest sum of |w| (lp_lif_rec_topk), for
   core.lif's rec_targets. */
static int l_lif_rec_topk(lua_State *L) {
  const lp_tensor *w = lt_checktensor(L, 1);
  lua_Integer F = luaL_checkinteger(L, 2), blk = luaL_optinteger(L, 3, 1);
  lp_tensor *tg = NULL, *mask = NULL;
  lp_status st = lp_lif_rec_topk(lt_ctx(L), w, (int64_t)F, (int64_t)blk, &tg);
  lp_dtype dt;
  int64_t m, f, N, K;
  if (st != LP_OK) return lt_raise(L, st);
  N = lp_tensor_shape(tg)[0]; K = lp_tensor_shape(w)[1];
  dt = lp_tensor_dtype(w) == LP_F32 ? LP_F32 : LP_F64;
  if ((st = lp_tensor_new(lt_ctx(L), dt, 2, lp_tensor_shape(w), &mask)) != LP_OK) {
    lp_tensor_release(tg);
    return lt_raise(L, st);
  }
  {
    const int32_t *t = lp_tensor_data(tg);
    for (m = 0; m < N; m++)
      for (f = 0; f < (int64_t)F; f++) {
        if (dt == LP_F32) ((float *)lp_tensor_data(mask))[m * K + t[m * F + f]] = 1.0f;
        else ((double *)lp_tensor_data(mask))[m * K + t[m * F + f]] = 1.0;
      }
  }
  lt_pushtensor(L, tg);
  lt_pushtensor(L, mask);
  return 2;
}

static const luaL_Reg neuron_fns[] = {
  {"lif", l_lif}, {"lif_rec_topk", l_lif_rec_topk}, {"expsyn", l_expsyn}, {"rate", l_rate}, {"first_outside", l_first_outside},
  {NULL, NULL}};

void lt_open_neuron(lua_State *L, int mod) {
  mod = lua_absindex(L, mod);
  lua_pushvalue(L, mod);
  luaL_setfuncs(L, neuron_fns, 0);
  lua_pop(L, 1);
}
