/*
** lua/l_events.c -- the event-stream kernels (limpet/events.h) as
** `limpet.core._events`, a private table used by
** stdlib/limpet/data/transforms.lua. Owns: argument conversion and the
** choice of random stream (an explicit seed, or the context's seed and
** counters when seed is nil). Not here: numerics (core/src/events.c).
**
** Lua API (0-based positions and coordinates, as the C kernels):
**   _events.argsort(v) -> int64 positions          (stable, ascending)
**   _events.take(v, positions) -> rows of v at the positions
**   _events.searchsorted(sorted, values[, right]) -> int64 insertion points
**   _events.micros(t) -> int64 whole microseconds of times in seconds
**   _events.time_slices(t, nslices, a1, a2, b1, b2, w1, w2, c) -> start, stop
**       (int64 positions of the exact windows a1 a2 + k b1 b2 <= t c < ... + w1 w2)
**   _events.count(cell, start, stop, ncells) -> float32 (T, ncells)
**   _events.denoise(t, x, y, filter_time) -> bool keep mask (integer times)
**   _events.choose(n, k, seed, counter) -> bool mask with k true entries
**   _events.uniform(n, seed, counter), _events.normal(n, seed, counter) -> float64 (n)
*/
#include "lbind.h"
#include "limpet/events.h"

/* The stream: (seed, counter) given, or the context's seed with `need`
   counters reserved when seed is nil. */
static void stream(lua_State *L, int arg, uint64_t need, uint64_t *seed, uint64_t *counter) {
  lp_ctx *ctx = lt_ctx(L);
  if (lua_isnoneornil(L, arg)) {
    *seed = lp_ctx_seed_value(ctx);
    *counter = lp_ctx_reserve_counters(ctx, need);
  } else {
    *seed = (uint64_t)luaL_checkinteger(L, arg);
    *counter = (uint64_t)luaL_checkinteger(L, arg + 1);
  }
}

static int finish(lua_State *L, lp_status st) {
  if (st != LP_OK) return lt_raise(L, st);
  lt_account(L);
  return 1;
}

static int e_argsort(lua_State *L) {
  lp_tensor *v = lt_checktensor(L, 1);
  lt_Box *b = lt_newbox(L);
  return finish(L, lp_events_argsort(lt_ctx(L), v, &b->t));
}

static int e_take(lua_State *L) {
  lp_tensor *v = lt_checktensor(L, 1), *i = lt_checktensor(L, 2);
  lt_Box *b = lt_newbox(L);
  return finish(L, lp_events_take(lt_ctx(L), v, i, &b->t));
}

static int e_searchsorted(lua_State *L) {
  lp_tensor *s = lt_checktensor(L, 1), *v = lt_checktensor(L, 2);
  int right = lua_toboolean(L, 3);
  lt_Box *b = lt_newbox(L);
  return finish(L, lp_events_searchsorted(lt_ctx(L), s, v, right, &b->t));
}

static int e_micros(lua_State *L) {
  lp_tensor *t = lt_checktensor(L, 1);
  lt_Box *b = lt_newbox(L);
  return finish(L, lp_events_micros(lt_ctx(L), t, &b->t));
}

static int e_time_slices(lua_State *L) {
  lp_tensor *t = lt_checktensor(L, 1);
  lua_Integer ns = luaL_checkinteger(L, 2);
  int64_t a[2], b[2], w[2], c;
  lt_Box *s, *e;
  lp_status st;
  a[0] = (int64_t)luaL_checkinteger(L, 3); a[1] = (int64_t)luaL_checkinteger(L, 4);
  b[0] = (int64_t)luaL_checkinteger(L, 5); b[1] = (int64_t)luaL_checkinteger(L, 6);
  w[0] = (int64_t)luaL_checkinteger(L, 7); w[1] = (int64_t)luaL_checkinteger(L, 8);
  c = (int64_t)luaL_checkinteger(L, 9);
  s = lt_newbox(L);
  e = lt_newbox(L);
  st = lp_events_time_slices(lt_ctx(L), t, (int64_t)ns, a, b, w, c, &s->t, &e->t);
  if (st != LP_OK) return lt_raise(L, st);
  lt_account(L);
  return 2;
}

static int e_count(lua_State *L) {
  lp_tensor *c = lt_checktensor(L, 1), *a = lt_checktensor(L, 2), *z = lt_checktensor(L, 3);
  lua_Integer ncells = luaL_checkinteger(L, 4);
  lt_Box *b = lt_newbox(L);
  return finish(L, lp_events_count(lt_ctx(L), c, a, z, (int64_t)ncells, &b->t));
}

static int e_denoise(lua_State *L) {
  lp_tensor *t = lt_checktensor(L, 1), *x = lt_checktensor(L, 2), *y = lt_checktensor(L, 3);
  lua_Integer ft = luaL_checkinteger(L, 4);
  lt_Box *b = lt_newbox(L);
  return finish(L, lp_events_denoise(lt_ctx(L), t, x, y, (int64_t)ft, &b->t));
}

static int e_choose(lua_State *L) {
  lua_Integer n = luaL_checkinteger(L, 1), k = luaL_checkinteger(L, 2);
  uint64_t seed, counter;
  lt_Box *b;
  stream(L, 3, (uint64_t)(k > 0 ? k : 0), &seed, &counter);
  b = lt_newbox(L);
  return finish(L, lp_events_choose(lt_ctx(L), seed, counter, (int64_t)n, (int64_t)k, &b->t));
}

static int draw(lua_State *L, int normal) {
  lua_Integer n = luaL_checkinteger(L, 1);
  uint64_t seed, counter;
  lt_Box *b;
  if (n < 0) return luaL_argerror(L, 1, "count must be non-negative");
  stream(L, 2, (uint64_t)n * (normal ? 2u : 1u), &seed, &counter);
  b = lt_newbox(L);
  return finish(L, normal ? lp_events_normal(lt_ctx(L), seed, counter, (int64_t)n, &b->t)
                          : lp_events_uniform(lt_ctx(L), seed, counter, (int64_t)n, &b->t));
}
static int e_uniform(lua_State *L) { return draw(L, 0); }
static int e_normal(lua_State *L) { return draw(L, 1); }

static const luaL_Reg fns[] = {
  {"argsort", e_argsort}, {"take", e_take}, {"searchsorted", e_searchsorted}, {"micros", e_micros},
  {"time_slices", e_time_slices}, {"count", e_count},
  {"denoise", e_denoise}, {"choose", e_choose}, {"uniform", e_uniform}, {"normal", e_normal},
  {NULL, NULL}
};

void lt_open_events(lua_State *L, int mod) {
  mod = lua_absindex(L, mod);
  luaL_newlib(L, fns);
  lua_setfield(L, mod, "_events");
}
