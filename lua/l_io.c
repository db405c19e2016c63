/*
** lua/l_io.c -- lp.save and lp.load: NumPy .npy and .npz files from Lua.
** Owns: choosing the format by extension, the options table, turning a Lua
** table of named tensors into an archive and back. Not here: the formats
** themselves (core/src/npy.c, core/src/npz.c).
** Errors: misuse raises in luaL_argerror's words; a file that cannot be
** opened or written returns nil, message, code; malformed content raises
** "load: 'x.npy' at offset N: ...".
*/
#include <stdlib.h>
#include <string.h>

#include "lbind.h"
#include "limpet/io.h"

#define LT_NPZ_GUARD "limpet.npz_guard"

enum { FMT_NPY, FMT_NPZ };

/* Arrays read from an .npz wait in this userdata until they are boxed, so a
   Lua error (out of memory) half way through frees what is left. */
typedef struct npz_guard {
  int n;
  char **names;
  lp_tensor **ts;
} npz_guard;

static int guard_gc(lua_State *L) {
  npz_guard *g = luaL_checkudata(L, 1, LT_NPZ_GUARD);
  lp_npz_free(g->n, g->names, g->ts);
  g->n = 0; g->names = NULL; g->ts = NULL;
  return 0;
}

static int lower(int c) { return c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c; }

/* The path at arg and its format, from the extension (any case). */
static int check_path(lua_State *L, int arg, const char **path) {
  size_t len;
  const char *p = luaL_checklstring(L, arg, &len);
  *path = p;
  if (strlen(p) != len) luaL_argerror(L, arg, "path contains a zero byte");
  if (len >= 4 && p[len - 4] == '.' && lower(p[len - 3]) == 'n' && lower(p[len - 2]) == 'p') {
    if (lower(p[len - 1]) == 'y') return FMT_NPY;
    if (lower(p[len - 1]) == 'z') return FMT_NPZ;
  }
  return luaL_argerror(L, arg, lua_pushfstring(L, "expected a path ending in .npy or .npz, got '%s'", p));
}

static int finish(lua_State *L, lp_status st) {
  if (st == LP_OK) { lua_pushboolean(L, 1); return 1; }
  if (st == LP_EIO) return lt_fail(L, st);
  return lt_raise(L, st);
}

typedef struct named { const char *name; lp_tensor *t; } named;

static int by_name(const void *a, const void *b) {
  return strcmp(((const named *)a)->name, ((const named *)b)->name);
}

/* save(path, tensor_or_table[, {compress = bool}]) -> true | nil, msg, code */
static int l_save(lua_State *L) {
  const char *path;
  int fmt = check_path(L, 1, &path), compress = 1, has_compress = 0;
  lp_ctx *ctx = lt_ctx(L);
  if (!lua_isnoneornil(L, 3)) {
    luaL_checktype(L, 3, LUA_TTABLE);
    lua_pushnil(L);
    while (lua_next(L, 3)) {
      if (lua_type(L, -2) != LUA_TSTRING || strcmp(lua_tostring(L, -2), "compress") != 0)
        return luaL_argerror(L, 3, lua_pushfstring(L, "unknown field '%s'", luaL_tolstring(L, -2, NULL)));
      if (!lua_isboolean(L, -1))
        return luaL_argerror(L, 3, lua_pushfstring(L, "field 'compress' must be a boolean, got %s",
                                                   luaL_typename(L, -1)));
      compress = lua_toboolean(L, -1);
      has_compress = 1;
      lua_pop(L, 1);
    }
  }
  if (fmt == FMT_NPY) {
    lp_tensor *t = lt_checktensor(L, 2);
    if (has_compress) return luaL_argerror(L, 3, "option 'compress' applies to .npz files only");
    return finish(L, lp_npy_write(ctx, path, t));
  }
  {
    named *items;
    const char **names;
    lp_tensor **ts;
    int n = 0, i;
    if (lt_totensor(L, 2)) {                     /* a lone tensor: numpy's positional name */
      lp_tensor *t = lt_checktensor(L, 2);
      const char *one = "arr_0";
      return finish(L, lp_npz_write(ctx, path, 1, &one, &t, compress));
    }
    if (!lua_istable(L, 2)) return luaL_typeerror(L, 2, "tensor or table of tensors");
    lua_pushnil(L);
    while (lua_next(L, 2)) {
      size_t len;
      if (lua_type(L, -2) != LUA_TSTRING)
        return luaL_argerror(L, 2, lua_pushfstring(L, "expected string keys, got a %s key",
                                                   luaL_typename(L, -2)));
      lua_tolstring(L, -2, &len);
      if (strlen(lua_tostring(L, -2)) != len)
        return luaL_argerror(L, 2, "array names must not contain zero bytes");
      if (!luaL_testudata(L, -1, LT_TENSOR))
        return luaL_argerror(L, 2, lua_pushfstring(L, "field '%s' is not a tensor (got %s)",
                                                   lua_tostring(L, -2), luaL_typename(L, -1)));
      if (!lt_totensor(L, -1))
        return luaL_argerror(L, 2, lua_pushfstring(L, "field '%s' holds a released tensor",
                                                   lua_tostring(L, -2)));
      if (n == 0x7FFFFFFF) return luaL_argerror(L, 2, "more than 2^31 - 1 arrays");
      n++;
      lua_pop(L, 1);
    }
    /* scratch arrays as userdata: the collector frees them whatever happens */
    items = lua_newuserdatauv(L, (size_t)n * sizeof *items + 1, 0);
    names = lua_newuserdatauv(L, (size_t)n * sizeof *names + 1, 0);
    ts = lua_newuserdatauv(L, (size_t)n * sizeof *ts + 1, 0);
    i = 0;
    lua_pushnil(L);
    while (lua_next(L, 2)) {
      items[i].name = lua_tostring(L, -2);      /* anchored by the table at arg 2 */
      items[i].t = lt_totensor(L, -1);
      i++;
      lua_pop(L, 1);
    }
    qsort(items, (size_t)n, sizeof *items, by_name);   /* the same bytes on every run */
    for (i = 0; i < n; i++) { names[i] = items[i].name; ts[i] = items[i].t; }
    return finish(L, lp_npz_write(ctx, path, n, names, ts, compress));
  }
}

/* ---- NumPy string arrays -> Lua strings ---------------------------------- */
/* One element: n units (bytes, or UTF-32 code points written as UTF-8),
   trailing NULs dropped as NumPy does. */
static void push_item(lua_State *L, const lp_tensor *t, int kind, int64_t off, int64_t n) {
  luaL_Buffer b;
  int64_t i, len = n;
  if (kind == 1) {
    const char *p = (const char *)lp_tensor_data(t) + off;
    while (len > 0 && p[len - 1] == 0) len--;
    lua_pushlstring(L, p, (size_t)len);
    return;
  }
  {
    const int32_t *p = (const int32_t *)lp_tensor_data(t) + off;
    while (len > 0 && p[len - 1] == 0) len--;
    luaL_buffinit(L, &b);
    for (i = 0; i < len; i++) {
      uint32_t c = (uint32_t)p[i];
      char u[4];
      int k;
      if (c > 0x10FFFF || (c >= 0xD800 && c <= 0xDFFF))
        luaL_error(L, "load: invalid unicode code point %d in a string array", (int)p[i]);
      if (c < 0x80) { u[0] = (char)c; k = 1; }
      else if (c < 0x800) { u[0] = (char)(0xC0 | c >> 6); u[1] = (char)(0x80 | (c & 0x3F)); k = 2; }
      else if (c < 0x10000) {
        u[0] = (char)(0xE0 | c >> 12); u[1] = (char)(0x80 | ((c >> 6) & 0x3F));
        u[2] = (char)(0x80 | (c & 0x3F)); k = 3;
      } else {
        u[0] = (char)(0xF0 | c >> 18); u[1] = (char)(0x80 | ((c >> 12) & 0x3F));
        u[2] = (char)(0x80 | ((c >> 6) & 0x3F)); u[3] = (char)(0x80 | (c & 0x3F)); k = 4;
      }
      luaL_addlstring(&b, u, (size_t)k);
    }
    luaL_pushresult(&b);
  }
}

/* Dims d.. of a string array (contiguous; last dim: characters) as nested
   tables of strings. */
static void push_strings(lua_State *L, const lp_tensor *t, int kind, int d, int64_t off) {
  int nd = lp_tensor_ndim(t);
  const int64_t *shape = lp_tensor_shape(t);
  int64_t i, inner = 1;
  int k;
  if (d == nd - 1) { push_item(L, t, kind, off, shape[d]); return; }
  luaL_checkstack(L, 3, "string array nested too deep");
  for (k = d + 1; k < nd; k++) inner *= shape[k];
  lua_createtable(L, shape[d] < 1 << 20 ? (int)shape[d] : 0, 0);
  for (i = 0; i < shape[d]; i++) {
    push_strings(L, t, kind, d + 1, off + i * inner);
    lua_rawseti(L, -2, (lua_Integer)(i + 1));
  }
}

/* load(path) -> tensor (.npy) | {name = tensor, ...} (.npz) | nil, msg, code
   A NumPy string array ('S' bytes or 'U' unicode) loads as a Lua string (0-d)
   or nested tables of strings (UTF-8). */
static int l_load(lua_State *L) {
  const char *path;
  int fmt = check_path(L, 1, &path), i;
  lp_ctx *ctx = lt_ctx(L);
  lp_status st;
  npz_guard *g;
  lua_settop(L, 1);
  if (fmt == FMT_NPY) {
    lt_Box *b = lt_newbox(L);
    st = lp_npy_read(ctx, path, &b->t);
    if (st) return st == LP_EIO ? lt_fail(L, st) : lt_raise(L, st);
    lt_account(L);
    if (lp_npy_text_kind(b->t)) push_strings(L, b->t, lp_npy_text_kind(b->t), 0, 0);
    return 1;
  }
  g = lua_newuserdatauv(L, sizeof *g, 0);
  g->n = 0; g->names = NULL; g->ts = NULL;
  luaL_setmetatable(L, LT_NPZ_GUARD);
  st = lp_npz_read(ctx, path, &g->n, &g->names, &g->ts);
  if (st) return st == LP_EIO ? lt_fail(L, st) : lt_raise(L, st);
  lua_createtable(L, 0, g->n);
  for (i = 0; i < g->n; i++) {
    if (lp_npy_text_kind(g->ts[i])) {          /* strings; the guard still owns the tensor */
      push_strings(L, g->ts[i], lp_npy_text_kind(g->ts[i]), 0, 0);
      lp_tensor_release(g->ts[i]);
      g->ts[i] = NULL;
    } else {
      lt_Box *b = lt_newbox(L);
      b->t = g->ts[i];                  /* the box owns it from here */
      g->ts[i] = NULL;
    }
    lua_setfield(L, -2, g->names[i]);
  }
  lp_npz_free(g->n, g->names, g->ts);
  g->n = 0; g->names = NULL; g->ts = NULL;
  lt_account(L);
  return 1;
}

void lt_open_io(lua_State *L, int mod) {
  mod = lua_absindex(L, mod);
  if (luaL_newmetatable(L, LT_NPZ_GUARD)) {
    lua_pushcfunction(L, guard_gc);
    lua_setfield(L, -2, "__gc");
  }
  lua_pop(L, 1);
  lua_pushcfunction(L, l_save);
  lua_setfield(L, mod, "save");
  lua_pushcfunction(L, l_load);
  lua_setfield(L, mod, "load");
}
