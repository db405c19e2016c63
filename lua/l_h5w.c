/*
** lua/l_h5w.c -- writing HDF5 files from Lua (used by lp.nir.save).
** Owns: the writer handle's Lua face and its argument checks:
**   core.h5_create(path) -> writer | nil, msg
**   w:group(name); w:string(name, s); w:strings(name, {s...}, cols);
**   w:tensor(name, t[, gzip]); w:commit() -> true | nil, msg; w:abort()
** A writer collected or closed without commit is aborted (the target file
** is left untouched). Not here: the HDF5 calls (core/src/h5w.c).
*/
#include <string.h>

#include "lbind.h"
#include "limpet/data.h"

#define LT_H5W "limpet.H5Writer"

typedef struct h5wbox { lp_h5w *w; } h5wbox;

static lp_h5w *check_w(lua_State *L) {
  h5wbox *b = luaL_checkudata(L, 1, LT_H5W);
  luaL_argcheck(L, b->w != NULL, 1, "writer was committed or aborted");
  return b->w;
}

static const char *check_name(lua_State *L, int arg) {
  size_t len;
  const char *p = luaL_checklstring(L, arg, &len);
  if (strlen(p) != len || len == 0) luaL_argerror(L, arg, "name must be a non-empty string without zero bytes");
  return p;
}

static int w_raise(lua_State *L, lp_status st) {
  if (st == LP_EIO) return lt_fail(L, st);
  return luaL_error(L, "%s", lp_ctx_errmsg(lt_ctx(L)));
}

static int l_h5_create(lua_State *L) {
  const char *path = check_name(L, 1);
  h5wbox *b = lua_newuserdatauv(L, sizeof *b, 0);
  lp_status st;
  b->w = NULL;
  luaL_setmetatable(L, LT_H5W);
  st = lp_h5w_create(lt_ctx(L), path, &b->w);
  if (st) return lt_fail(L, st);
  return 1;
}

static int w_group(lua_State *L) {
  lp_h5w *w = check_w(L);
  lp_status st = lp_h5w_group(lt_ctx(L), w, check_name(L, 2));
  return st ? w_raise(L, st) : 0;
}

static int w_string(lua_State *L) {
  lp_h5w *w = check_w(L);
  const char *name = check_name(L, 2);
  const char *s = luaL_checkstring(L, 3);
  lp_status st = lp_h5w_strings(lt_ctx(L), w, name, 0, 1, &s);
  return st ? w_raise(L, st) : 0;
}

static int w_strings(lua_State *L) {
  lp_h5w *w = check_w(L);
  const char *name = check_name(L, 2);
  lua_Integer cols = luaL_checkinteger(L, 4), n, i;
  const char **v;
  lp_status st;
  luaL_checktype(L, 3, LUA_TTABLE);
  n = (lua_Integer)lua_rawlen(L, 3);
  luaL_argcheck(L, cols > 0 && n % cols == 0, 4, "the number of strings must be a multiple of cols");
  v = lua_newuserdatauv(L, sizeof *v * (size_t)(n > 0 ? n : 1), 0);   /* collected with the stack */
  for (i = 0; i < n; i++) {
    lua_rawgeti(L, 3, i + 1);
    if (!lua_isstring(L, -1)) return luaL_argerror(L, 3, "strings expected");
    v[i] = lua_tostring(L, -1);
    lua_pop(L, 1);   /* still referenced by the table */
  }
  st = lp_h5w_strings(lt_ctx(L), w, name, n / cols, cols, v);
  return st ? w_raise(L, st) : 0;
}

static int w_tensor(lua_State *L) {
  lp_h5w *w = check_w(L);
  const char *name = check_name(L, 2);
  lp_tensor *t = lt_checktensor(L, 3);
  int gz = lua_toboolean(L, 4);
  lp_status st = lp_h5w_tensor(lt_ctx(L), w, name, t, gz);
  return st ? w_raise(L, st) : 0;
}

static int w_commit(lua_State *L) {
  h5wbox *b = luaL_checkudata(L, 1, LT_H5W);
  lp_h5w *w = check_w(L);
  lp_status st;
  b->w = NULL;
  st = lp_h5w_commit(lt_ctx(L), w);
  if (st) return lt_fail(L, st);
  lua_pushboolean(L, 1);
  return 1;
}

static int w_gc(lua_State *L) {
  h5wbox *b = luaL_checkudata(L, 1, LT_H5W);
  lp_h5w_abort(b->w);
  b->w = NULL;
  return 0;
}

void lt_open_h5w(lua_State *L, int mod) {
  static const luaL_Reg m[] = {
    {"group", w_group}, {"string", w_string}, {"strings", w_strings}, {"tensor", w_tensor},
    {"commit", w_commit}, {"abort", w_gc}, {NULL, NULL}
  };
  mod = lua_absindex(L, mod);
  if (luaL_newmetatable(L, LT_H5W)) {
    luaL_newlib(L, m);
    lua_setfield(L, -2, "__index");
    lua_pushcfunction(L, w_gc);
    lua_setfield(L, -2, "__gc");
    lua_pushcfunction(L, w_gc);
    lua_setfield(L, -2, "__close");
  }
  lua_pop(L, 1);
  lua_pushcfunction(L, l_h5_create);
  lua_setfield(L, mod, "h5_create");
}
