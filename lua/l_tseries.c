/*
** lua/l_tseries.c -- the time-series kernels (limpet/tseries.h) as
** `limpet.core._ts`, a private table used by stdlib/limpet/timeseries/.
** Owns: argument conversion only (numerics in core/src/tseries.c).
** Lua API (0-based positions and channels, as the C kernels):
**   _ts.raster(times f64, channels i64, t_start, dt, nsteps, nchan, add_events)
**       -> bool or int32 (nsteps, nchan)
**   _ts.argsort(times) -> int64 positions (stable, ascending)
**   _ts.interp(xs, ys (n, C), q, kind, extrapolate, fill) -> (m, C)
**       kind: "previous" | "linear" | "next" | "nearest"
*/
#include "lbind.h"
#include "limpet/tseries.h"

static int ts_raster(lua_State *L) {
  lp_tensor *t = lt_checktensor(L, 1), *c = lt_checktensor(L, 2);
  double t0 = luaL_checknumber(L, 3), dt = luaL_checknumber(L, 4);
  lua_Integer ns = luaL_checkinteger(L, 5), nc = luaL_checkinteger(L, 6);
  int add = lua_toboolean(L, 7);
  lt_Box *b = lt_newbox(L);
  lp_status st = lp_ts_raster(lt_ctx(L), t, c, t0, dt, (int64_t)ns, (int64_t)nc, add, &b->t);
  if (st != LP_OK) return lt_raise(L, st);
  lt_account(L);
  return 1;
}

static int ts_argsort(lua_State *L) {
  lp_tensor *t = lt_checktensor(L, 1);
  lt_Box *b = lt_newbox(L);
  lp_status st = lp_ts_argsort(lt_ctx(L), t, &b->t);
  if (st != LP_OK) return lt_raise(L, st);
  lt_account(L);
  return 1;
}

static int ts_interp(lua_State *L) {
  static const char *const kinds[] = { "previous", "linear", "next", "nearest", NULL };
  lp_tensor *x = lt_checktensor(L, 1), *y = lt_checktensor(L, 2), *q = lt_checktensor(L, 3);
  int kind = luaL_checkoption(L, 4, "previous", kinds);
  int extra = lua_toboolean(L, 5);
  double fill = luaL_optnumber(L, 6, 0.0);
  lt_Box *b = lt_newbox(L);
  lp_status st = lp_ts_interp(lt_ctx(L), x, y, q, (lp_interp)kind, extra, fill, &b->t);
  if (st != LP_OK) return lt_raise(L, st);
  lt_account(L);
  return 1;
}

void lt_open_tseries(lua_State *L, int mod) {
  static const luaL_Reg fns[] = {
    { "raster", ts_raster },
    { "argsort", ts_argsort },
    { "interp", ts_interp },
    { NULL, NULL },
  };
  mod = lua_absindex(L, mod);
  luaL_newlib(L, fns);
  lua_setfield(L, mod, "_ts");
}
