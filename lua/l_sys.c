/*
** lua/l_sys.c -- small system facts for users' own measurements:
** core.clock() (monotonic wall seconds, CLOCK_MONOTONIC) and
** core.peak_rss() (the process's peak resident set size in bytes, from
** getrusage). Both are reachable as lp.clock / lp.peak_rss.
*/
#include "lbind.h"
#include <sys/resource.h>
#include <time.h>

static int l_clock(lua_State *L) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  lua_pushnumber(L, (lua_Number)ts.tv_sec + (lua_Number)ts.tv_nsec * 1e-9);
  return 1;
}

static int l_peak_rss(lua_State *L) {
  struct rusage ru;
  if (getrusage(RUSAGE_SELF, &ru) != 0) { lua_pushnil(L); lua_pushliteral(L, "getrusage failed"); return 2; }
  lua_pushinteger(L, (lua_Integer)ru.ru_maxrss * 1024);   /* Linux: kilobytes */
  return 1;
}

void lt_open_sys(lua_State *L, int mod) {
  static const luaL_Reg fns[] = {{"clock", l_clock}, {"peak_rss", l_peak_rss}, {NULL, NULL}};
  lua_pushvalue(L, mod);
  luaL_setfuncs(L, fns, 0);
  lua_pop(L, 1);
}
