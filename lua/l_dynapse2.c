/*
** lua/l_dynapse2.c -- the Lua face of the Dynap-SE2 C code: the private
** table core._dynapse2 = { dynapsim = , normal = }.
**   dynapsim(x, opts) -> spikes, record | nil, final   (devices/dynapse2/dynapsim.h)
**   normal(seed, stream, n[, dtype]) -> (n) standard normal draws, a pure
**     function of (seed, stream, index): the seeded mismatch of
**     devices/dynapse2/mismatch.lua, independent of lp.seed's stream.
** devices/dynapse2/dynapsim.lua is the only caller of dynapsim: it computes
** the coefficients from the currents and owns the user-facing messages.
*/
#include "lbind.h"
#include "../devices/dynapse2/dynapsim.h"
#include "limpet/autograd.h"
#include <math.h>
#include <string.h>

/* Field `name` of the options table at arg as a borrowed tensor (NULL when
   nil); the value stays on the stack so the tensor lives through the call. */
static const lp_tensor *opt_tensor(lua_State *L, int arg, const char *name) {
  lp_tensor *t;
  lua_getfield(L, arg, name);
  if (lua_isnil(L, -1)) return NULL;
  if (!(t = lt_totensor(L, -1)))
    luaL_argerror(L, arg, lua_pushfstring(L, "field '%s': expected a tensor, got %s", name, luaL_typename(L, -1)));
  return t;
}

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

static void setfield_tensor(lua_State *L, const char *name, lp_tensor **t) {
  if (!*t) return;
  lt_pushtensor(L, *t);
  *t = NULL;
  lua_setfield(L, -2, name);
}

static const char *const dsim_fields[] = {
  "w_rec", "syn_a", "syn_q", "syn_g", "ahp_a", "ahp_h", "itau_mem", "igain_mem", "idc", "io", "mem_c", "fv",
  "utk", "ispkthr", "t_ref", "sg", "iahp", "imem", "isyn", "spikes", "timer_ref", "vmem", "dt", "record",
  "reference", "w_ptr", "w_idx", "w_val", "wt_ptr", "wt_idx", "wt_val", NULL};

static int l_dynapsim(lua_State *L) {
  lp_dynapsim_args a;
  lp_dynapsim_out r;
  lp_status st;
  memset(&a, 0, sizeof a);
  a.x = lt_checktensor(L, 1);
  luaL_checktype(L, 2, LUA_TTABLE);
  lua_settop(L, 2);
  check_fields(L, 2, dsim_fields);
  lua_checkstack(L, 40);
  a.w_rec = opt_tensor(L, 2, "w_rec");
  a.syn_a = opt_tensor(L, 2, "syn_a"); a.syn_q = opt_tensor(L, 2, "syn_q"); a.syn_g = opt_tensor(L, 2, "syn_g");
  a.ahp_a = opt_tensor(L, 2, "ahp_a"); a.ahp_h = opt_tensor(L, 2, "ahp_h");
  a.itau_mem = opt_tensor(L, 2, "itau_mem"); a.igain_mem = opt_tensor(L, 2, "igain_mem");
  a.idc = opt_tensor(L, 2, "idc"); a.io = opt_tensor(L, 2, "io"); a.mem_c = opt_tensor(L, 2, "mem_c");
  a.fv = opt_tensor(L, 2, "fv"); a.utk = opt_tensor(L, 2, "utk"); a.ispkthr = opt_tensor(L, 2, "ispkthr");
  a.t_ref = opt_tensor(L, 2, "t_ref"); a.sg = opt_tensor(L, 2, "sg");
  a.iahp = opt_tensor(L, 2, "iahp"); a.imem = opt_tensor(L, 2, "imem"); a.isyn = opt_tensor(L, 2, "isyn");
  a.spikes = opt_tensor(L, 2, "spikes"); a.timer_ref = opt_tensor(L, 2, "timer_ref");
  a.vmem = opt_tensor(L, 2, "vmem");
  a.w_ptr = opt_tensor(L, 2, "w_ptr"); a.w_idx = opt_tensor(L, 2, "w_idx"); a.w_val = opt_tensor(L, 2, "w_val");
  a.wt_ptr = opt_tensor(L, 2, "wt_ptr"); a.wt_idx = opt_tensor(L, 2, "wt_idx"); a.wt_val = opt_tensor(L, 2, "wt_val");
  lua_getfield(L, 2, "dt");
  a.dt = luaL_optnumber(L, -1, 1e-3);
  lua_getfield(L, 2, "record");
  a.record = lua_toboolean(L, -1);
  lua_getfield(L, 2, "reference");
  a.reference = lua_toboolean(L, -1);
  lua_pop(L, 3);
  st = lp_dynapsim(lt_ctx(L), &a, &r);
  if (st != LP_OK) return lt_raise(L, st);
  lt_pushtensor(L, r.spikes);
  r.spikes = NULL;
  if (r.imem) {
    lua_createtable(L, 0, 4);
    setfield_tensor(L, "imem", &r.imem);
    setfield_tensor(L, "isyn", &r.isyn);
    setfield_tensor(L, "iahp", &r.iahp);
    setfield_tensor(L, "vmem", &r.vmem);
  } else {
    lua_pushnil(L);
  }
  lua_createtable(L, 0, 6);
  setfield_tensor(L, "iahp", &r.f_iahp);
  setfield_tensor(L, "imem", &r.f_imem);
  setfield_tensor(L, "isyn", &r.f_isyn);
  setfield_tensor(L, "spikes", &r.f_spikes);
  setfield_tensor(L, "timer_ref", &r.f_timer);
  setfield_tensor(L, "vmem", &r.f_vmem);
  lp_dynapsim_out_release(&r);
  return 3;
}

/* csr(w[, transpose]) -> ptr, idx, val | nil (w too dense or small) */
static int l_csr(lua_State *L) {
  lp_tensor *w = lt_checktensor(L, 1), *p = NULL, *i = NULL, *v = NULL;
  lp_status st = lp_dynapsim_csr(lt_ctx(L), w, lua_toboolean(L, 2), &p, &i, &v);
  if (st != LP_OK) return lt_raise(L, st);
  if (!p) { lua_pushnil(L); return 1; }
  lt_pushtensor(L, p);
  lt_pushtensor(L, i);
  lt_pushtensor(L, v);
  return 3;
}

/* version(t) -> the version of t's storage (changes on every in-place write) */
static int l_version(lua_State *L) {
  lua_pushinteger(L, (lua_Integer)lp_tensor_version(lt_checktensor(L, 1)));
  return 1;
}

/* splitmix64: a bijective mix of a 64-bit counter */
static uint64_t mix64(uint64_t z) {
  z += 0x9e3779b97f4a7c15ULL;
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

/* uniform in (0, 1): 53 bits, never 0 */
static double unif(uint64_t key, uint64_t i) {
  return ((double)(mix64(key ^ mix64(i)) >> 11) + 0.5) * (1.0 / 9007199254740992.0);
}

/* normal(seed, stream, n[, dtype = "float64"]) -> (n) tensor (Box-Muller on counters) */
static int l_normal(lua_State *L) {
  const uint64_t seed = (uint64_t)luaL_checkinteger(L, 1), stream = (uint64_t)luaL_checkinteger(L, 2);
  const lua_Integer n = luaL_checkinteger(L, 3);
  const lp_dtype dt = lt_optdtype(L, 4, LP_F64);
  const uint64_t key = mix64(mix64(seed) ^ (stream * 0xd1b54a32d192ed03ULL));
  int64_t shape[1];
  lt_Box *b;
  lp_tensor *t = NULL;
  lp_status st;
  lua_Integer i;
  if (n < 0) return luaL_argerror(L, 3, "count must be non-negative");
  if (dt != LP_F32 && dt != LP_F64) return luaL_argerror(L, 4, "float32 or float64 expected");
  shape[0] = n;
  b = lt_newbox(L);
  if ((st = lp_tensor_empty(lt_ctx(L), dt, 1, shape, &t)) != LP_OK) return lt_raise(L, st);
  b->t = t;
  for (i = 0; i < n; i += 2) {
    const double u1 = unif(key, (uint64_t)i), u2 = unif(key, (uint64_t)i + 1);
    const double rad = sqrt(-2.0 * log(u1)), ang = 6.283185307179586 * u2;
    const double z0 = rad * cos(ang), z1 = rad * sin(ang);
    if (dt == LP_F64) {
      double *p = lp_tensor_data(t);
      p[i] = z0;
      if (i + 1 < n) p[i + 1] = z1;
    } else {
      float *p = lp_tensor_data(t);
      p[i] = (float)z0;
      if (i + 1 < n) p[i + 1] = (float)z1;
    }
  }
  lt_account(L);
  return 1;
}

void lt_open_dynapse2(lua_State *L, int mod) {
  static const luaL_Reg fns[] = {{"dynapsim", l_dynapsim}, {"normal", l_normal}, {"csr", l_csr},
                                 {"version", l_version}, {NULL, NULL}};
  mod = lua_absindex(L, mod);
  luaL_newlib(L, fns);
  lua_setfield(L, mod, "_dynapse2");
}
