/*
** lua/l_audio.c -- the Lua face of limpet/audio.h: core._audio_load and
** core._audio_save (used by stdlib/limpet/audio.lua, which checks arguments
** and shapes). A file that cannot be opened or written returns nil, message,
** code; content libsndfile cannot read raises naming the file.
**   core._audio_load(path) -> samples (T, C) float64, rate
**   core._audio_save(path, samples, rate, encoding) -> true   (encoding: 0..5, see audio.h)
*/
#include "lbind.h"
#include "limpet/audio.h"

static int l_audio_load(lua_State *L) {
  const char *path = luaL_checkstring(L, 1);
  lp_tensor *t = NULL;
  double rate = 0;
  lp_status st = lp_audio_load(lt_ctx(L), path, &t, &rate);
  if (st == LP_EIO) return lt_fail(L, st);
  if (st != LP_OK) return luaL_error(L, "load: %s", lp_ctx_errmsg(lt_ctx(L)));
  lt_pushtensor(L, t);
  lua_pushnumber(L, rate);
  return 2;
}

static int l_audio_save(lua_State *L) {
  const char *path = luaL_checkstring(L, 1);
  lp_tensor *t = lt_checktensor(L, 2);
  lua_Integer rate = luaL_checkinteger(L, 3), enc = luaL_optinteger(L, 4, 0);
  lp_status st;
  luaL_argcheck(L, rate > 0 && rate <= 0x7fffffff, 3, "sample rate must be a positive integer");
  st = lp_audio_save(lt_ctx(L), path, t, (int)rate, (lp_audio_subtype)enc);
  if (st == LP_EIO) return lt_fail(L, st);
  if (st != LP_OK) return lt_raise(L, st);
  lua_pushboolean(L, 1);
  return 1;
}

void lt_open_audio(lua_State *L, int mod) {
  mod = lua_absindex(L, mod);
  lua_pushcfunction(L, l_audio_load);
  lua_setfield(L, mod, "_audio_load");
  lua_pushcfunction(L, l_audio_save);
  lua_setfield(L, mod, "_audio_save");
}
