/*
** lua/l_json.c -- JSON text <-> Lua values, through libjansson.
** Owns: converting jansson's values to Lua (objects -> tables, arrays ->
** sequences marked with the caller's array metatable, null -> the caller's
** sentinel, integers -> Lua integers, reals -> floats) and back (keys
** sorted, so output is deterministic), with the errors of limpet.json.
**   _json_decode(text, null, array_mt[, tensors]) -> value
**     tensors: when the document is an object, a member whose value is a
**     rectangular numeric array is returned as a float64 tensor, read by
**     core's scanner (core/include/limpet/json.h says why).
**   _json_encode(value, null, array_mt[, indent]) -> text
**   _json_numbers(tensor) -> text    (the compact nested-array text)
** Errors: "bad argument #1 to 'decode' (<jansson's message> at position N)"
** (N: 1-based byte), "bad argument #1 to 'encode' (...)". Duplicate keys and
** text that is not UTF-8 are refused.
*/
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "lbind.h"
#include "limpet/json.h"

#define NULL_IDX 2
#define MT_IDX 3

/* ---- decode ----------------------------------------------------------- */

static void push_json(lua_State *L, json_t *v, int depth) {
  luaL_checkstack(L, 4, "JSON nesting too deep");
  switch (json_typeof(v)) {
  case JSON_OBJECT: {
    const char *k;
    json_t *m;
    lua_createtable(L, 0, (int)json_object_size(v));
    json_object_foreach(v, k, m) {
      push_json(L, m, depth + 1);
      lua_setfield(L, -2, k);
    }
    break;
  }
  case JSON_ARRAY: {
    size_t n = json_array_size(v);
    lua_createtable(L, (int)n, 0);
    for (size_t i = 0; i < n; i++) {
      push_json(L, json_array_get(v, i), depth + 1);
      lua_rawseti(L, -2, (lua_Integer)i + 1);
    }
    lua_pushvalue(L, MT_IDX);
    lua_setmetatable(L, -2);
    break;
  }
  case JSON_STRING: lua_pushlstring(L, json_string_value(v), json_string_length(v)); break;
  case JSON_INTEGER: lua_pushinteger(L, (lua_Integer)json_integer_value(v)); break;
  case JSON_REAL: lua_pushnumber(L, json_real_value(v)); break;
  case JSON_TRUE: lua_pushboolean(L, 1); break;
  case JSON_FALSE: lua_pushboolean(L, 0); break;
  default: lua_pushvalue(L, NULL_IDX); break;
  }
}

/* Errors carry no "file:line:" prefix (they name the function and argument). */
static int raise_plain(lua_State *L, const char *fmt, const char *what, size_t pos) {
  if (pos) lua_pushfstring(L, fmt, what, (int)pos);
  else lua_pushfstring(L, fmt, what);
  return lua_error(L);
}

static int decode_error(lua_State *L, const json_error_t *e, size_t base) {
  return raise_plain(L, "bad argument #1 to 'decode' (%s at position %d)", e->text,
                     base + (size_t)e->position + 1);
}

/* One value of jansson's at s[i..n), pushed; returns the index after it. */
static size_t decode_value(lua_State *L, const char *s, size_t i, size_t n, int last) {
  json_error_t e;
  size_t flags = JSON_DECODE_ANY | JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL;
  if (!last) flags |= JSON_DISABLE_EOF_CHECK;
  json_t *v = json_loadb(s + i, n - i, flags, &e);
  if (!v) return (size_t)decode_error(L, &e, i);
  push_json(L, v, 0);
  json_decref(v);
  return i + (last ? n - i : (size_t)e.position);
}

static size_t skip_ws(const char *s, size_t i, size_t n) {
  while (i < n && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r')) i++;
  return i;
}

static int fail_at(lua_State *L, const char *what, size_t i) {
  return raise_plain(L, "bad argument #1 to 'decode' (%s at position %d)", what, i + 1);
}

/* The top-level object walked here so that numeric members become tensors. */
static int decode_object_tensors(lua_State *L, const char *s, size_t n) {
  size_t i = skip_ws(s, 0, n);
  lua_newtable(L);
  int obj = lua_gettop(L);
  i = skip_ws(s, i + 1, n);                       /* past '{' */
  if (i < n && s[i] == '}') goto close;
  for (;;) {
    if (i >= n || s[i] != '"') return fail_at(L, "string or '}' expected", i);
    i = decode_value(L, s, i, n, 0);             /* the key */
    const char *key = lua_tostring(L, -1);
    lua_pushvalue(L, -1);
    if (lua_rawget(L, obj) != LUA_TNIL) return fail_at(L, lua_pushfstring(L, "duplicate object key '%s'", key), i);
    lua_pop(L, 1);
    i = skip_ws(s, i, n);
    if (i >= n || s[i] != ':') return fail_at(L, "':' expected", i);
    i = skip_ws(s, i + 1, n);
    size_t used = 0;
    lt_Box *b = NULL;
    if (i < n && s[i] == '[') {
      b = lt_newbox(L);
      lp_status st = lp_json_read_numbers(lt_ctx(L), s + i, n - i, &used, &b->t);
      if (st == LP_ESIZE || st == LP_ENOMEM) return lt_raise(L, st);
      if (st != LP_OK) { lua_pop(L, 1); b = NULL; }
      else lt_account(L);
    }
    if (b) i += used;
    else i = decode_value(L, s, i, n, 0);
    lua_rawset(L, obj);
    i = skip_ws(s, i, n);
    if (i < n && s[i] == ',') { i = skip_ws(s, i + 1, n); continue; }
    if (i < n && s[i] == '}') break;
    return fail_at(L, "',' or '}' expected", i);
  }
close:
  i = skip_ws(s, i + 1, n);
  if (i < n) return fail_at(L, "end of file expected", i);
  return 1;
}

static int l_json_decode(lua_State *L) {
  size_t n;
  const char *s = luaL_checklstring(L, 1, &n);
  luaL_checktype(L, MT_IDX, LUA_TTABLE);
  int tensors = lua_toboolean(L, 4);
  lua_settop(L, 3);
  if (tensors) {
    size_t i = skip_ws(s, 0, n);
    if (i < n && s[i] == '{') return decode_object_tensors(L, s, n);
  }
  decode_value(L, s, 0, n, 1);
  return 1;
}

/* ---- encode ----------------------------------------------------------- */

#define SEEN_IDX 5

static int enc_error(lua_State *L, const char *msg) {
  return raise_plain(L, "bad argument #1 to 'encode' (%s)", msg, 0);
}

/* The value at stack index idx as a new jansson value (never NULL: raises). */
static json_t *to_json(lua_State *L, int idx, int depth);

static json_t *must(lua_State *L, json_t *v) {
  if (!v) enc_error(L, "not enough memory");
  return v;
}

/* jansson values built so far are owned by this userdata's chain so that a
   Lua error in the middle frees them: the root holder. */
typedef struct { json_t *root; } holder;
static void holder_release(holder *h) {
  json_decref(h->root);
  h->root = NULL;
}
static int holder_gc(lua_State *L) {
  holder_release(lua_touserdata(L, 1));
  return 0;
}
/* Push a holder of v (one reference of v moves into it). */
static holder *push_holder(lua_State *L, json_t *v) {
  holder *h = lua_newuserdatauv(L, sizeof(holder), 0);
  h->root = v;
  if (luaL_newmetatable(L, "limpet.json_holder")) {
    lua_pushcfunction(L, holder_gc);
    lua_setfield(L, -2, "__gc");
  }
  lua_setmetatable(L, -2);
  return h;
}

static json_t *table_to_json(lua_State *L, int idx, int depth) {
  if (depth > 512) enc_error(L, "nesting too deep");
  lua_pushvalue(L, idx);
  if (lua_rawget(L, SEEN_IDX) != LUA_TNIL) enc_error(L, "cycle in table");
  lua_pop(L, 1);
  lua_pushvalue(L, idx); lua_pushboolean(L, 1); lua_rawset(L, SEEN_IDX);
  lua_Integer n = (lua_Integer)lua_rawlen(L, idx), nkeys = 0;
  lua_pushnil(L);
  while (lua_next(L, idx)) { nkeys++; lua_pop(L, 1); }
  int is_array = 0;
  if (lua_getmetatable(L, idx)) {
    is_array = lua_rawequal(L, -1, MT_IDX);
    lua_pop(L, 1);
  }
  json_t *out;
  if (is_array || (n > 0 && nkeys == n)) {
    if (nkeys != n) enc_error(L, "array has non-sequence keys");
    out = must(L, json_array());
    holder *h = push_holder(L, out);   /* frees out if a child raises */
    for (lua_Integer i = 1; i <= n; i++) {
      lua_rawgeti(L, idx, i);
      json_t *c = to_json(L, lua_gettop(L), depth + 1);
      lua_pop(L, 1);
      if (json_array_append_new(out, c)) enc_error(L, "not enough memory");
    }
    json_incref(out);
    holder_release(h);                 /* drops the holder's reference */
    lua_pop(L, 1);
  } else {
    out = must(L, json_object());
    holder *h = push_holder(L, out);
    lua_pushnil(L);
    while (lua_next(L, idx)) {
      if (lua_type(L, -2) != LUA_TSTRING) {
        lua_pushfstring(L, "table mixes array and object keys or has a %s key", luaL_typename(L, -2));
        enc_error(L, lua_tostring(L, -1));
      }
      size_t klen;
      const char *k = lua_tolstring(L, -2, &klen);
      if (strlen(k) != klen) enc_error(L, "object key contains a zero byte");
      json_t *c = to_json(L, lua_gettop(L), depth + 1);
      if (json_object_set_new(out, k, c)) enc_error(L, "object key is not UTF-8");
      lua_pop(L, 1);
    }
    json_incref(out);
    holder_release(h);
    lua_pop(L, 1);
  }
  lua_pushvalue(L, idx); lua_pushnil(L); lua_rawset(L, SEEN_IDX);
  return out;
}

static json_t *to_json(lua_State *L, int idx, int depth) {
  switch (lua_type(L, idx)) {
  case LUA_TNIL: return must(L, json_null());
  case LUA_TBOOLEAN: return must(L, json_boolean(lua_toboolean(L, idx)));
  case LUA_TNUMBER:
    if (lua_isinteger(L, idx)) return must(L, json_integer((json_int_t)lua_tointeger(L, idx)));
    {
      double v = lua_tonumber(L, idx);
      if (isnan(v)) enc_error(L, "cannot encode nan");
      if (isinf(v)) enc_error(L, v > 0 ? "cannot encode inf" : "cannot encode -inf");
      return must(L, json_real(v));
    }
  case LUA_TSTRING: {
    size_t len;
    const char *p = lua_tolstring(L, idx, &len);
    json_t *v = json_stringn(p, len);
    if (!v) enc_error(L, "string is not UTF-8");
    return v;
  }
  case LUA_TTABLE:
    if (lua_rawequal(L, idx, NULL_IDX)) return must(L, json_null());
    return table_to_json(L, idx, depth);
  default:
    lua_pushfstring(L, "cannot encode a %s", luaL_typename(L, idx));
    enc_error(L, lua_tostring(L, -1));
    return NULL;
  }
}

static int l_json_encode(lua_State *L) {
  luaL_checkany(L, 1);
  luaL_checktype(L, MT_IDX, LUA_TTABLE);
  size_t flags = JSON_ENCODE_ANY | JSON_SORT_KEYS | JSON_REAL_PRECISION(17);
  if (lua_isnoneornil(L, 4)) flags |= JSON_COMPACT;
  else {
    lua_Integer ind = luaL_checkinteger(L, 4);
    luaL_argcheck(L, ind >= 0 && ind <= 31, 4, "indent must be 0..31 spaces");
    flags |= JSON_INDENT(ind);
    if (ind == 0) flags |= JSON_COMPACT;
  }
  lua_settop(L, 4);
  lua_newtable(L);                           /* SEEN_IDX */
  json_t *root = to_json(L, 1, 0);
  holder *h = push_holder(L, root);
  char *text = json_dumps(root, flags);
  holder_release(h);
  if (!text) return enc_error(L, "not enough memory");
  lua_pushstring(L, text);
  free(text);
  return 1;
}

static int l_json_numbers(lua_State *L) {
  lp_tensor *t = lt_checktensor(L, 1);
  char *buf;
  size_t len;
  lp_status st = lp_json_write_numbers(lt_ctx(L), t, &buf, &len);
  if (st != LP_OK) return lt_raise(L, st);
  lua_pushlstring(L, buf, len);
  free(buf);
  return 1;
}

void lt_open_json(lua_State *L, int mod) {
  static const luaL_Reg fns[] = {
    { "_json_decode", l_json_decode },
    { "_json_encode", l_json_encode },
    { "_json_numbers", l_json_numbers },
    { NULL, NULL },
  };
  mod = lua_absindex(L, mod);
  lua_pushvalue(L, mod);
  luaL_setfuncs(L, fns, 0);
  lua_pop(L, 1);
}
