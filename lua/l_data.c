/*
** lua/l_data.c -- the data-set file formats from Lua: gzip and IDX files,
** N-MNIST records, folder listings, HDF5 handles, the seeded rate encoder.
** Owns: argument checking and the Lua shapes of the results (1-based row
** numbers, tables of tensors for variable-length rows, strings).
** Not here: the formats (core/src/gz.c, h5.c, encode.c), the data-set
** classes (stdlib/limpet/data/).
** Functions (in `limpet.core`): gz_read(path) -> uint8 tensor;
** idx_read(path) -> tensor; nmnist_decode(bytes[, {width=, height=}]) and
** nmnist_read(path[, {...}]) -> t, x, y, p; listdir(path) -> names;
** h5_open(path) -> handle; encode_rate(p, T, seed, key[, dtype]) -> tensor.
** A missing file returns nil, message, code; malformed content raises
** "fn: 'path' at offset N: ...".
*/
#include <string.h>

#include "lbind.h"
#include "limpet/data.h"

#define LT_H5 "limpet.H5File"
#define LT_H5VAL "limpet.h5_value"
#define LT_NAMES "limpet.name_list"

static const char *check_path(lua_State *L, int arg) {
  size_t len;
  const char *p = luaL_checklstring(L, arg, &len);
  if (strlen(p) != len) luaL_argerror(L, arg, "path contains a zero byte");
  return p;
}

/* Raise a format/argument error, or return nil, msg for environment ones. */
static int fail(lua_State *L, lp_status st) {
  if (st == LP_EIO) return lt_fail(L, st);
  return lt_raise(L, st);
}

static int l_gz_read(lua_State *L) {
  const char *path = check_path(L, 1);
  lt_Box *b = lt_newbox(L);
  lp_status st = lp_gz_read(lt_ctx(L), path, &b->t);
  if (st) return fail(L, st);
  lt_account(L);
  return 1;
}

static int l_idx_read(lua_State *L) {
  const char *path = check_path(L, 1);
  lt_Box *b = lt_newbox(L);
  lp_status st = lp_idx_read(lt_ctx(L), path, &b->t);
  if (st) return fail(L, st);
  lt_account(L);
  return 1;
}

/* {width = , height = } at arg (optional): the sensor bounds checked. */
static void sensor_opts(lua_State *L, int arg, int *w, int *h) {
  *w = *h = 0;
  if (lua_isnoneornil(L, arg)) return;
  luaL_checktype(L, arg, LUA_TTABLE);
  lua_pushnil(L);
  while (lua_next(L, arg)) {
    const char *k = lua_type(L, -2) == LUA_TSTRING ? lua_tostring(L, -2) : NULL;
    int isnum;
    lua_Integer v = lua_tointegerx(L, -1, &isnum);
    if (!k || (strcmp(k, "width") != 0 && strcmp(k, "height") != 0))
      luaL_argerror(L, arg, lua_pushfstring(L, "unknown field '%s'", luaL_tolstring(L, -2, NULL)));
    if (!isnum || v < 1 || v > 65535)
      luaL_argerror(L, arg, lua_pushfstring(L, "field '%s' must be an integer in 1..65535", k));
    if (k[0] == 'w') *w = (int)v; else *h = (int)v;
    lua_pop(L, 1);
  }
}

static int push_events(lua_State *L, const void *buf, size_t len, const char *label, int w, int h) {
  lt_Box *bt = lt_newbox(L), *bx = lt_newbox(L), *by = lt_newbox(L), *bp = lt_newbox(L);
  lp_status st = lp_nmnist_decode(lt_ctx(L), buf, len, label, w, h, &bt->t, &bx->t, &by->t, &bp->t);
  if (st) return lt_raise(L, st);
  lt_account(L);
  return 4;
}

static int l_nmnist_decode(lua_State *L) {
  size_t len = 0;
  const void *buf;
  int w, h;
  lp_tensor *t = lt_totensor(L, 1);
  if (t) {
    if (lp_tensor_dtype(t) != LP_U8 || lp_tensor_ndim(t) != 1 || !lp_tensor_is_contiguous(t))
      return luaL_argerror(L, 1, "expected a string or a contiguous 1-d uint8 tensor");
    buf = lp_tensor_data(t);
    len = (size_t)lp_tensor_numel(t);
  } else {
    if (lua_type(L, 1) != LUA_TSTRING) return luaL_typeerror(L, 1, "string or uint8 tensor");
    buf = lua_tolstring(L, 1, &len);
  }
  sensor_opts(L, 2, &w, &h);
  return push_events(L, buf, len, "events", w, h);
}

static int l_nmnist_read(lua_State *L) {
  const char *path = check_path(L, 1);
  int w, h;
  lt_Box *b;
  lp_status st;
  sensor_opts(L, 2, &w, &h);
  b = lt_newbox(L);
  st = lp_file_read(lt_ctx(L), path, &b->t);
  if (st) return fail(L, st);
  return push_events(L, lp_tensor_data(b->t), (size_t)lp_tensor_numel(b->t), path, w, h);
}

/* A name list waiting to become a Lua table (freed by __gc if we raise). */
typedef struct names_guard { int64_t n; char **v; } names_guard;

static int names_gc(lua_State *L) {
  names_guard *g = luaL_checkudata(L, 1, LT_NAMES);
  lp_names_free(g->n, g->v);
  g->n = 0; g->v = NULL;
  return 0;
}

static names_guard *new_names_guard(lua_State *L) {
  names_guard *g = lua_newuserdatauv(L, sizeof *g, 0);
  g->n = 0; g->v = NULL;
  luaL_setmetatable(L, LT_NAMES);
  return g;
}

static void push_names(lua_State *L, names_guard *g) {
  int64_t i;
  lua_createtable(L, (int)(g->n > 1 << 24 ? 0 : g->n), 0);
  for (i = 0; i < g->n; i++) {
    lua_pushstring(L, g->v[i]);
    lua_rawseti(L, -2, (lua_Integer)i + 1);
  }
}

static int l_listdir(lua_State *L) {
  const char *path = check_path(L, 1);
  names_guard *g = new_names_guard(L);
  lp_status st = lp_dir_list(lt_ctx(L), path, &g->n, &g->v);
  if (st) return fail(L, st);
  push_names(L, g);
  return 1;
}

static int l_encode_rate(lua_State *L) {
  lp_tensor *p = lt_checktensor(L, 1);
  lua_Integer T = luaL_checkinteger(L, 2);
  lua_Integer seed = luaL_checkinteger(L, 3);
  lua_Integer key = luaL_optinteger(L, 4, 0);
  lp_dtype dt = lt_optdtype(L, 5, LP_F32);
  lt_Box *b;
  lp_status st;
  if (T < 0) return luaL_argerror(L, 2, "number of steps must be non-negative");
  b = lt_newbox(L);
  st = lp_encode_rate(lt_ctx(L), p, (int64_t)T, (uint64_t)seed, (uint64_t)key, dt, &b->t);
  if (st) return lt_raise(L, st);
  lt_account(L);
  return 1;
}

/* ---- HDF5 handles ------------------------------------------------------- */
typedef struct h5box { lp_h5 *h; } h5box;

static lp_h5 *check_h5(lua_State *L) {
  h5box *b = luaL_checkudata(L, 1, LT_H5);
  if (!b->h) luaL_error(L, "attempt to use a closed HDF5 file");
  return b->h;
}

static int h5_gc(lua_State *L) {
  h5box *b = luaL_checkudata(L, 1, LT_H5);
  lp_h5_close(b->h);
  b->h = NULL;
  return 0;
}

static int h5_tostring(lua_State *L) {
  h5box *b = luaL_checkudata(L, 1, LT_H5);
  if (b->h) lua_pushfstring(L, "limpet.H5File('%s')", lp_h5_path(b->h));
  else lua_pushliteral(L, "limpet.H5File(closed)");
  return 1;
}

static int l_h5_open(lua_State *L) {
  const char *path = check_path(L, 1);
  h5box *b = lua_newuserdatauv(L, sizeof *b, 0);
  lp_status st;
  b->h = NULL;
  luaL_setmetatable(L, LT_H5);
  st = lp_h5_open(lt_ctx(L), path, &b->h);
  if (st) return fail(L, st);
  return 1;
}

static lp_h5_value *new_value(lua_State *L) {
  lp_h5_value *v = lua_newuserdatauv(L, sizeof *v, 0);
  memset(v, 0, sizeof *v);
  luaL_setmetatable(L, LT_H5VAL);
  return v;
}

static int value_gc(lua_State *L) {
  lp_h5_value_free(luaL_checkudata(L, 1, LT_H5VAL));
  return 0;
}

/* Move a tensor out of the value into a box on the stack. */
static void push_owned(lua_State *L, lp_tensor **t) {
  lt_Box *b = lt_newbox(L);
  b->t = *t;
  *t = NULL;
}

/* Push value v (at stack index vi) in its Lua shape. single: one row
   (dim 0 dropped). */
static void push_value(lua_State *L, lp_h5_value *v, int single, int scalar) {
  lp_ctx *ctx = lt_ctx(L);
  int64_t i;
  if (v->kind == LP_H5_NUMERIC) {
    push_owned(L, &v->tensor);
    if (single) {
      lt_Box *r = lt_newbox(L);
      lp_status st = lp_tensor_select(ctx, lt_checktensor(L, -2), 0, 0, &r->t);
      if (st) lt_raise(L, st);
      lua_remove(L, -2);
    }
  } else if (v->kind == LP_H5_VLEN) {
    const int64_t *off = lp_tensor_data(v->offsets);
    int64_t n = lp_tensor_numel(v->offsets) - 1;
    int vi;
    push_owned(L, &v->tensor);
    vi = lua_gettop(L);
    if (!single) lua_createtable(L, (int)(n > 1 << 24 ? 0 : n), 0);
    for (i = 0; i < n; i++) {
      lt_Box *r = lt_newbox(L);
      lp_status st = lp_tensor_slice(ctx, lt_checktensor(L, vi), 0, off[i], off[i + 1], 1, &r->t);
      if (st) lt_raise(L, st);
      if (!single) lua_rawseti(L, -2, (lua_Integer)i + 1);
    }
    lua_remove(L, vi);
  } else {
    if (single || scalar) lua_pushstring(L, v->n > 0 ? v->strs[0] : "");
    else {
      lua_createtable(L, (int)(v->n > 1 << 24 ? 0 : v->n), 0);
      for (i = 0; i < v->n; i++) {
        lua_pushstring(L, v->strs[i]);
        lua_rawseti(L, -2, (lua_Integer)i + 1);
      }
    }
  }
  lt_account(L);
}

static int h5_raise(lua_State *L, lp_status st) {
  if (st == LP_EARG || st == LP_ERANGE || st == LP_ETYPE)
    return luaL_argerror(L, 2, lp_ctx_errmsg(lt_ctx(L)));
  return lt_raise(L, st);
}

/* h:read(name[, i[, j]]): the whole dataset, row i, or rows i..j (1-based). */
static int h5_read(lua_State *L) {
  lp_h5 *h = check_h5(L);
  const char *name = luaL_checkstring(L, 2);
  lp_ctx *ctx = lt_ctx(L);
  lp_h5_info info;
  lp_h5_value *v;
  int64_t start = 0, count = -1;
  int single = 0;
  lp_status st;
  if ((st = lp_h5_info_of(ctx, h, name, &info))) return h5_raise(L, st);
  if (!lua_isnoneornil(L, 3)) {
    lua_Integer i = luaL_checkinteger(L, 3), j = luaL_optinteger(L, 4, i);
    int64_t rows = info.ndim > 0 ? info.shape[0] : 0;
    if (info.kind == LP_H5_NONE || info.kind == LP_H5_GROUP) {
      lua_settop(L, 2);                      /* let lp_h5_read name the problem */
    } else {
      if (i < 1 || i > rows)
        return luaL_argerror(L, 3, lua_pushfstring(L, "row %I out of range (1..%I)", i, (lua_Integer)rows));
      if (!lua_isnoneornil(L, 4) && (j < i - 1 || j > rows))
        return luaL_argerror(L, 4, lua_pushfstring(L, "row %I out of range (%I..%I)", j, i - 1, (lua_Integer)rows));
      start = (int64_t)i - 1;
      count = (int64_t)(j - i + 1);
      single = lua_isnoneornil(L, 4);
    }
  }
  v = new_value(L);
  if ((st = lp_h5_read(ctx, h, name, start, count, v))) return h5_raise(L, st);
  push_value(L, v, single, info.ndim == 0);
  return 1;
}

static const char *kind_name(lp_h5_kind k) {
  switch (k) {
  case LP_H5_GROUP: return "group";
  case LP_H5_NUMERIC: return "numeric";
  case LP_H5_VLEN: return "vlen";
  case LP_H5_STRING: return "string";
  default: return "other";
  }
}

/* h:info(name) -> {kind =, shape =, dtype =} or nil when there is no such object */
static int h5_info(lua_State *L) {
  lp_h5 *h = check_h5(L);
  const char *name = luaL_checkstring(L, 2);
  lp_h5_info info;
  int d;
  lp_status st = lp_h5_info_of(lt_ctx(L), h, name, &info);
  if (st) return h5_raise(L, st);
  if (info.kind == LP_H5_NONE) { lua_pushnil(L); return 1; }
  lua_createtable(L, 0, 3);
  lua_pushstring(L, kind_name(info.kind));
  lua_setfield(L, -2, "kind");
  if (info.kind != LP_H5_GROUP && info.kind != LP_H5_OTHER) {
    lua_createtable(L, info.ndim, 0);
    for (d = 0; d < info.ndim; d++) { lua_pushinteger(L, (lua_Integer)info.shape[d]); lua_rawseti(L, -2, d + 1); }
    lua_setfield(L, -2, "shape");
    if (info.kind != LP_H5_STRING) { lua_pushstring(L, lp_dtype_name(info.dtype)); lua_setfield(L, -2, "dtype"); }
  }
  return 1;
}

static int h5_list(lua_State *L) {
  lp_h5 *h = check_h5(L);
  const char *group = luaL_optstring(L, 2, "/");
  names_guard *g = new_names_guard(L);
  lp_status st = lp_h5_list(lt_ctx(L), h, group, &g->n, &g->v);
  if (st) return h5_raise(L, st);
  push_names(L, g);
  return 1;
}

/* h:attrs([name]) -> {attr = number | string | tensor | {strings}} */
static int h5_attrs(lua_State *L) {
  lp_h5 *h = check_h5(L);
  const char *obj = luaL_optstring(L, 2, "/");
  lp_ctx *ctx = lt_ctx(L);
  names_guard *g = new_names_guard(L);
  int64_t i;
  lp_status st = lp_h5_attr_names(ctx, h, obj, &g->n, &g->v);
  if (st) return h5_raise(L, st);
  lua_createtable(L, 0, (int)(g->n > 1 << 20 ? 0 : g->n));
  for (i = 0; i < g->n; i++) {
    lp_h5_value *v = new_value(L);
    if ((st = lp_h5_attr_read(ctx, h, obj, g->v[i], v))) {
      if (st == LP_ETYPE) { lua_pop(L, 1); continue; }   /* unreadable types are skipped */
      return h5_raise(L, st);
    }
    if (v->kind == LP_H5_NUMERIC && lp_tensor_numel(v->tensor) == 1 && lp_tensor_ndim(v->tensor) <= 1) {
      lt_pushscalar(L, lp_tensor_get_flat(v->tensor, 0), lp_tensor_dtype(v->tensor));
    } else if (v->kind == LP_H5_STRING && v->n == 1) {
      lua_pushstring(L, v->strs[0]);
    } else {
      push_value(L, v, 0, 0);
    }
    lua_setfield(L, -3, g->v[i]);
    lua_pop(L, 1);                           /* the value guard */
  }
  return 1;
}

static int h5_close(lua_State *L) {
  h5box *b = luaL_checkudata(L, 1, LT_H5);
  lp_h5_close(b->h);
  b->h = NULL;
  return 0;
}

static int h5_path(lua_State *L) {
  lua_pushstring(L, lp_h5_path(check_h5(L)));
  return 1;
}

void lt_open_data(lua_State *L, int mod) {
  static const luaL_Reg fns[] = {
    {"gz_read", l_gz_read}, {"idx_read", l_idx_read}, {"nmnist_decode", l_nmnist_decode},
    {"nmnist_read", l_nmnist_read}, {"listdir", l_listdir}, {"h5_open", l_h5_open},
    {"encode_rate", l_encode_rate}, {NULL, NULL}
  };
  static const luaL_Reg h5m[] = {
    {"read", h5_read}, {"info", h5_info}, {"list", h5_list}, {"attrs", h5_attrs},
    {"close", h5_close}, {"path", h5_path}, {NULL, NULL}
  };
  mod = lua_absindex(L, mod);
  if (luaL_newmetatable(L, LT_H5)) {
    luaL_newlib(L, h5m);
    lua_setfield(L, -2, "__index");
    lua_pushcfunction(L, h5_gc);
    lua_setfield(L, -2, "__gc");
    lua_pushcfunction(L, h5_gc);
    lua_setfield(L, -2, "__close");
    lua_pushcfunction(L, h5_tostring);
    lua_setfield(L, -2, "__tostring");
  }
  lua_pop(L, 1);
  if (luaL_newmetatable(L, LT_H5VAL)) { lua_pushcfunction(L, value_gc); lua_setfield(L, -2, "__gc"); }
  lua_pop(L, 1);
  if (luaL_newmetatable(L, LT_NAMES)) { lua_pushcfunction(L, names_gc); lua_setfield(L, -2, "__gc"); }
  lua_pop(L, 1);
  lua_pushvalue(L, mod);
  luaL_setfuncs(L, fns, 0);
  lua_pop(L, 1);
}
