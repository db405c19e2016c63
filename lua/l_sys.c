/*
** lua/l_sys.c -- small system facts for users' own measurements:
** core.clock() (monotonic wall seconds, CLOCK_MONOTONIC) and
** core.peak_rss() (the process's peak resident set size in bytes, from
** getrusage) and core.cpu_time() (the process's CPU seconds, user + system,
** all threads, from getrusage(RUSAGE_SELF)). All are reachable as lp.clock /
** lp.peak_rss / lp.cpu_time.
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

static int l_cpu_time(lua_State *L) {
  struct rusage ru;
  if (getrusage(RUSAGE_SELF, &ru) != 0) { lua_pushnil(L); lua_pushliteral(L, "getrusage failed"); return 2; }
  lua_pushnumber(L, (lua_Number)ru.ru_utime.tv_sec + (lua_Number)ru.ru_utime.tv_usec * 1e-6 +
                    (lua_Number)ru.ru_stime.tv_sec + (lua_Number)ru.ru_stime.tv_usec * 1e-6);
  return 1;
}

void lt_open_sys(lua_State *L, int mod) {
  static const luaL_Reg fns[] = {{"clock", l_clock}, {"peak_rss", l_peak_rss},
                                  {"cpu_time", l_cpu_time}, {NULL, NULL}};
  lua_pushvalue(L, mod);
  luaL_setfuncs(L, fns, 0);
  lua_pop(L, 1);
}
