/*
** lua/embed.c -- the C embedding API of limpet/limpet.h.
** Owns: lp_lua_open/close, lp_lua_dofile/dostring (traceback on error),
** tensors across the stack (lp_lua_totensor/pushtensor), the host's
** interrupt flag. Not here: module paths (paths.c), the executable (main.c).
*/
#include <string.h>

#include <lua.h>
#include <lauxlib.h>
#include <lualib.h>

#include "limpet/limpet.h"
#include "lbind.h"

/* Message handler: the message plus a traceback from where it was raised. */
static int traceback(lua_State *L) {
  const char *msg = lua_tostring(L, 1);
  if (msg == NULL) {
    if (luaL_callmeta(L, 1, "__tostring") && lua_type(L, -1) == LUA_TSTRING) return 1;
    msg = lua_pushfstring(L, "(error object is a %s value)", luaL_typename(L, 1));
  }
  luaL_traceback(L, L, msg, 1);
  return 1;
}

/* Call the function at the top with no arguments under the traceback
   handler, leaving its results or one message. */
static int run(lua_State *L, int status) {
  int base;
  if (status != LUA_OK) return status;
  base = lua_gettop(L);                      /* the chunk */
  lua_pushcfunction(L, traceback);
  lua_insert(L, base);
  status = lua_pcall(L, 0, LUA_MULTRET, base);
  lua_remove(L, base);
  return status;
}

int lp_lua_dofile(lua_State *L, const char *path) {
  return run(L, luaL_loadfile(L, path));
}

int lp_lua_dostring(lua_State *L, const char *code) {
  return run(L, luaL_loadbuffer(L, code, strlen(code), code));
}

/* Opens everything in protected mode, so a memory error cannot escape. */
static int open_all(lua_State *L) {
  luaL_openlibs(L);
  if (lp_lua_setup(L) != 0) return lua_error(L);
  lua_getglobal(L, "require");
  lua_pushliteral(L, "limpet");
  lua_call(L, 1, 1);
  lua_setglobal(L, "lp");
  return 0;
}

lua_State *lp_lua_open(void) {
  lua_State *L = luaL_newstate();
  if (L == NULL) return NULL;
  lua_pushcfunction(L, open_all);
  if (lua_pcall(L, 0, 0, 0) != LUA_OK) {
    lua_close(L);
    return NULL;
  }
  return L;
}

void lp_lua_close(lua_State *L) {
  if (L) lua_close(L);
}

const lp_tensor *lp_lua_totensor(lua_State *L, int idx) {
  return lt_totensor(L, idx);
}

void lp_lua_pushtensor(lua_State *L, lp_tensor *t) {
  lt_pushtensor(L, lp_tensor_retain(t));
}

lp_ctx *lp_lua_ctx(lua_State *L) {
  return lt_ctx(L);
}

void lp_lua_set_interrupt_flag(lua_State *L, volatile sig_atomic_t *flag) {
  lt_set_interrupt_flag(L, flag);
}
