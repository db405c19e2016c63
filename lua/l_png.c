/*
** lua/l_png.c -- PNG files from Lua: core.png_write(path, img) and
** core.png_read(path). Owns: argument checks and the nil, msg convention
** for files that cannot be opened or written. Not here: the format
** (core/src/png.c).
**   png_write(path, img (H, W, C) uint8, C in 1..4) -> true | nil, msg, code
**   png_read(path) -> uint8 (H, W, C) | nil, msg, code; a corrupt file raises
**   "png_read: 'path' at offset N: ..." or "png_read: 'path': corrupt PNG (libpng: ...)".
*/
#include <string.h>

#include "lbind.h"
#include "limpet/png.h"

static const char *check_path(lua_State *L, int arg) {
  size_t len;
  const char *p = luaL_checklstring(L, arg, &len);
  if (strlen(p) != len) luaL_argerror(L, arg, "path contains a zero byte");
  return p;
}

static int l_png_write(lua_State *L) {
  const char *path = check_path(L, 1);
  lp_tensor *img = lt_checktensor(L, 2);
  lp_status st = lp_png_write(lt_ctx(L), path, img);
  if (st == LP_OK) { lua_pushboolean(L, 1); return 1; }
  if (st == LP_EIO) return lt_fail(L, st);
  return lt_raise(L, st);
}

static int l_png_read(lua_State *L) {
  const char *path = check_path(L, 1);
  lt_Box *b = lt_newbox(L);
  lp_status st = lp_png_read(lt_ctx(L), path, &b->t);
  if (st == LP_EIO) return lt_fail(L, st);
  if (st != LP_OK) return lt_raise(L, st);
  lt_account(L);
  return 1;
}

void lt_open_png(lua_State *L, int mod) {
  static const luaL_Reg fns[] = {
    { "png_write", l_png_write },
    { "png_read", l_png_read },
    { NULL, NULL },
  };
  mod = lua_absindex(L, mod);
  lua_pushvalue(L, mod);
  luaL_setfuncs(L, fns, 0);
  lua_pop(L, 1);
}
