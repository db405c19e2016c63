/*
** lua/l_xylo.c -- the Lua face of XyloSim's C core (devices/xylo/xylosim.h):
** the private table core._xylo = { new = , counts = } and the methods of a
** core object (userdata "limpet.XyloCore"): evolve, reset, state,
** set_state, dims. Converts tensors to the int32 arrays the core takes;
** field names, defaults, variant limits and user-facing messages live in
** devices/xylo/xylosim.lua, which is the only caller.
** Errors the Lua layer rewords (LP_EARG, LP_ESHAPE) come back as nil, msg;
** the rest (memory, interrupt) are raised.
*/
#include "lbind.h"
#include "../devices/xylo/xylosim.h"
#include <string.h>

#define LT_XYLO "limpet.XyloCore"

typedef struct lt_Xylo { lp_xylo *x; } lt_Xylo;

static lp_xylo *check_xylo(lua_State *L, int arg) {
  lt_Xylo *u = luaL_checkudata(L, arg, LT_XYLO);
  if (!u->x) luaL_argerror(L, arg, "XyloSim core already freed");
  return u->x;
}

static int soft_fail(lua_State *L, lp_status st) {
  if (st == LP_EARG || st == LP_ESHAPE) return lt_fail(L, st);
  return lt_raise(L, st);
}

/* Field `name` of the table at 1 as a contiguous int32 array of n elements
   (NULL when absent and optional). Keeps the converted tensor on the stack. */
static const int32_t *field_i32(lua_State *L, const char *name, int64_t n, int optional) {
  lp_tensor *t, *c = NULL;
  lp_status st;
  lua_getfield(L, 1, name);
  if (lua_isnil(L, -1)) {
    lua_pop(L, 1);
    if (!optional) luaL_error(L, "core._xylo.new: field '%s' missing", name);
    return NULL;
  }
  t = lt_checktensorlike(L, -1);
  lua_pop(L, 1);
  if (lp_tensor_numel(t) != n) {
    int64_t got = lp_tensor_numel(t);
    lp_tensor_release(t);
    luaL_error(L, "core._xylo.new: field '%s' has %d elements, expected %d", name, (int)got, (int)n);
  }
  st = lp_tensor_astype(lt_ctx(L), t, LP_I32, &c);
  lp_tensor_release(t);
  if (st != LP_OK) lt_raise(L, st);
  lt_pushtensor(L, c);            /* the box keeps the array alive */
  return lp_tensor_data(c);
}

static int int_field(lua_State *L, const char *name, int def) {
  int v;
  lua_getfield(L, 1, name);
  v = lua_isnil(L, -1) ? def : (int)luaL_checkinteger(L, -1);
  lua_pop(L, 1);
  return v;
}

/* core._xylo.new{nin=, nhid=, nout=, nsyn=, w_in=, ...} -> core | nil, msg */
static int l_new(lua_State *L) {
  lp_xylo_spec s;
  lp_status st;
  lt_Xylo *u;
  int64_t nh, no, ni, ns;
  luaL_checktype(L, 1, LUA_TTABLE);
  lua_settop(L, 1);
  memset(&s, 0, sizeof s);
  s.nin = int_field(L, "nin", 0); s.nhid = int_field(L, "nhid", 0);
  s.nout = int_field(L, "nout", 0); s.nsyn = int_field(L, "nsyn", 1);
  s.shift_in = int_field(L, "shift_in", 0); s.shift_rec = int_field(L, "shift_rec", 0);
  s.shift_out = int_field(L, "shift_out", 0);
  if (s.nin < 0 || s.nhid < 1 || s.nout < 1 || (s.nsyn != 1 && s.nsyn != 2) || s.nhid > 65536 || s.nin > 65536 ||
      s.nout > 65536)
    return luaL_error(L, "core._xylo.new: bad sizes");
  ni = s.nin; nh = s.nhid; no = s.nout; ns = s.nsyn;
  lua_checkstack(L, 24);
  s.w_in = field_i32(L, "w_in", ni * nh * ns, 0);
  s.w_rec = field_i32(L, "w_rec", nh * nh * ns, 1);
  s.w_out = field_i32(L, "w_out", nh * no, 0);
  s.dash_mem = field_i32(L, "dash_mem", nh, 0);
  s.dash_syn = field_i32(L, "dash_syn", nh, 0);
  s.dash_syn2 = field_i32(L, "dash_syn2", nh, s.nsyn == 1);
  s.threshold = field_i32(L, "threshold", nh, 0);
  s.bias = field_i32(L, "bias", nh, 1);
  s.dash_mem_out = field_i32(L, "dash_mem_out", no, 0);
  s.dash_syn_out = field_i32(L, "dash_syn_out", no, 0);
  s.threshold_out = field_i32(L, "threshold_out", no, 0);
  s.bias_out = field_i32(L, "bias_out", no, 1);
  s.alias_ptr = field_i32(L, "alias_ptr", nh + 1, 1);
  if (s.alias_ptr) s.alias_idx = field_i32(L, "alias_idx", s.alias_ptr[nh], 0);
  u = lua_newuserdatauv(L, sizeof *u, 0);
  u->x = NULL;
  luaL_setmetatable(L, LT_XYLO);
  st = lp_xylo_new(lt_ctx(L), &s, &u->x);
  if (st != LP_OK) return soft_fail(L, st);
  lt_account(L);
  return 1;
}

static int l_gc(lua_State *L) {
  lt_Xylo *u = luaL_checkudata(L, 1, LT_XYLO);
  lp_xylo_free(u->x);
  u->x = NULL;
  return 0;
}

static void set_tensor(lua_State *L, const char *name, lp_tensor **t) {
  if (!*t) return;
  lt_pushtensor(L, *t);
  *t = NULL;
  lua_setfield(L, -2, name);
}

/* core:evolve(input, mode, record) -> output, rec | nil  (or nil, msg) */
static int l_evolve(lua_State *L) {
  lp_xylo *x = check_xylo(L, 1);
  lp_tensor *in = lt_checktensor(L, 2);
  int mode = (int)luaL_checkinteger(L, 3);
  int record = lua_toboolean(L, 4);
  lp_xylo_result r;
  lp_status st;
  luaL_argcheck(L, mode >= 0 && mode <= 2, 3, "mode must be 0, 1 or 2");
  lua_checkstack(L, 8);
  st = lp_xylo_evolve(lt_ctx(L), x, in, (lp_xylo_mode)mode, record, &r);
  if (st != LP_OK) return soft_fail(L, st);
  lt_pushtensor(L, r.output);
  r.output = NULL;
  if (record) {
    lua_createtable(L, 0, 6);
    set_tensor(L, "Vmem", &r.vmem);
    set_tensor(L, "Isyn", &r.isyn);
    set_tensor(L, "Isyn2", &r.isyn2);
    set_tensor(L, "Spikes", &r.spikes);
    set_tensor(L, "Vmem_out", &r.vmem_out);
    set_tensor(L, "Isyn_out", &r.isyn_out);
  } else {
    lua_pushnil(L);
  }
  lp_xylo_result_release(&r);
  return 2;
}

static int l_reset(lua_State *L) {
  lp_xylo_reset(check_xylo(L, 1));
  return 0;
}

/* core:state() -> {Isyn (nhid, nsyn), Vmem, Spikes, Isyn_out, Vmem_out} */
static int l_state(lua_State *L) {
  lp_xylo *x = check_xylo(L, 1);
  lp_xylo_state s;
  lp_status st = lp_xylo_get_state(lt_ctx(L), x, &s);
  if (st != LP_OK) return lt_raise(L, st);
  lua_createtable(L, 0, 5);
  set_tensor(L, "Isyn", &s.isyn);
  set_tensor(L, "Vmem", &s.vmem);
  set_tensor(L, "Spikes", &s.spikes);
  set_tensor(L, "Isyn_out", &s.isyn_out);
  set_tensor(L, "Vmem_out", &s.vmem_out);
  lp_xylo_state_release(&s);
  return 1;
}

/* core:set_state{Isyn=, Vmem=, Spikes=, Isyn_out=, Vmem_out=} (tensors) -> true | nil, msg */
static int l_set_state(lua_State *L) {
  lp_xylo *x = check_xylo(L, 1);
  lp_xylo_state s;
  lp_status st;
  luaL_checktype(L, 2, LUA_TTABLE);
  lua_settop(L, 2);
  lua_getfield(L, 2, "Isyn"); s.isyn = lt_totensor(L, -1);
  lua_getfield(L, 2, "Vmem"); s.vmem = lt_totensor(L, -1);
  lua_getfield(L, 2, "Spikes"); s.spikes = lt_totensor(L, -1);
  lua_getfield(L, 2, "Isyn_out"); s.isyn_out = lt_totensor(L, -1);
  lua_getfield(L, 2, "Vmem_out"); s.vmem_out = lt_totensor(L, -1);
  st = lp_xylo_set_state(lt_ctx(L), x, &s);
  if (st != LP_OK) return soft_fail(L, st);
  lua_pushboolean(L, 1);
  return 1;
}

/* core:dims() -> nin, nhid, nout, nsyn */
static int l_dims(lua_State *L) {
  int a, b, c, d;
  lp_xylo_dims(check_xylo(L, 1), &a, &b, &c, &d);
  lua_pushinteger(L, a); lua_pushinteger(L, b); lua_pushinteger(L, c); lua_pushinteger(L, d);
  return 4;
}

/* core:counts() -> stored input, recurrent and readout synapses */
static int l_counts(lua_State *L) {
  int64_t a, b, c;
  lp_xylo_counts(check_xylo(L, 1), &a, &b, &c);
  lua_pushinteger(L, (lua_Integer)a); lua_pushinteger(L, (lua_Integer)b); lua_pushinteger(L, (lua_Integer)c);
  return 3;
}

/* core:path([name]) -> the kernel path ("auto", "generic", "reference"),
   set first when a name is given; and the instruction set "auto" uses */
static int l_path(lua_State *L) {
  static const char *const names[] = {"auto", "generic", "reference", NULL};
  lp_xylo *x = check_xylo(L, 1);
  if (!lua_isnoneornil(L, 2)) lp_xylo_set_path(x, (lp_xylo_path)luaL_checkoption(L, 2, NULL, names));
  lua_pushstring(L, names[lp_xylo_get_path(x)]);
  lua_pushstring(L, lp_xylo_isa());
  return 2;
}

void lt_open_xylo(lua_State *L, int mod) {
  static const luaL_Reg methods[] = {
    {"evolve", l_evolve}, {"reset", l_reset}, {"state", l_state}, {"set_state", l_set_state},
    {"dims", l_dims}, {"counts", l_counts}, {"path", l_path}, {NULL, NULL}};
  mod = lua_absindex(L, mod);
  if (luaL_newmetatable(L, LT_XYLO)) {
    lua_pushcfunction(L, l_gc);
    lua_setfield(L, -2, "__gc");
    luaL_newlib(L, methods);
    lua_setfield(L, -2, "__index");
  }
  lua_pop(L, 1);
  lua_createtable(L, 0, 1);
  lua_pushcfunction(L, l_new);
  lua_setfield(L, -2, "new");
  lua_setfield(L, mod, "_xylo");
}
