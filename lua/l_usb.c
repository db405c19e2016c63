/*
** lua/l_usb.c -- the Lua face of USB discovery (devices/usb/usb.h): the
** private table core._usb = { list, inject }. One discovery session per Lua
** state, kept in the registry and closed by the collector. Converts device
** records to Lua tables and back; which ids are SynSense kits and every
** message users see live in devices/usb/init.lua.
**
**   core._usb.list([vids]) -> { {vid, pid, bus, address, ports = {..}, open =
**       "ok" | "access" | "busy" | "gone" | "error", error, manufacturer,
**       product, serial}, ... }, note | nil
**   core._usb.inject(list | nil)   -- fields as above; nil: back to libusb
*/
#include "lbind.h"
#include "../devices/usb/usb.h"
#include <string.h>

#define LT_USB "limpet.UsbSession"

typedef struct lt_Usb { lp_usb *u; } lt_Usb;

static const char *const open_names[] = {"ok", "access", "busy", "gone", "error", NULL};

static int usb_gc(lua_State *L) {
  lt_Usb *s = luaL_checkudata(L, 1, LT_USB);
  lp_usb_free(s->u);
  s->u = NULL;
  return 0;
}

static lp_usb *session(lua_State *L) {
  lt_Usb *s;
  if (lua_getfield(L, LUA_REGISTRYINDEX, LT_USB ".session") == LUA_TUSERDATA) {
    s = lua_touserdata(L, -1);
    lua_pop(L, 1);
    return s->u;
  }
  lua_pop(L, 1);
  s = lua_newuserdatauv(L, sizeof *s, 0);
  s->u = NULL;
  luaL_setmetatable(L, LT_USB);
  if (lp_usb_new(lt_ctx(L), &s->u) != LP_OK) luaL_error(L, "usb: not enough memory");
  lua_setfield(L, LUA_REGISTRYINDEX, LT_USB ".session");
  return s->u;
}

static void set_str(lua_State *L, const char *k, const char *v) {
  if (!v[0]) return;
  lua_pushstring(L, v);
  lua_setfield(L, -2, k);
}

static void set_int(lua_State *L, const char *k, lua_Integer v) {
  lua_pushinteger(L, v);
  lua_setfield(L, -2, k);
}

static int l_list(lua_State *L) {
  lp_usb *u = session(L);
  uint16_t vids[64];
  int nv = 0, n = 0, i, j;
  lp_usb_info *list = NULL;
  char note[160];
  lp_status st;
  if (!lua_isnoneornil(L, 1)) {
    luaL_checktype(L, 1, LUA_TTABLE);
    nv = (int)luaL_len(L, 1);
    luaL_argcheck(L, nv <= 64, 1, "at most 64 vendor ids");
    for (i = 0; i < nv; i++) {
      lua_geti(L, 1, i + 1);
      vids[i] = (uint16_t)luaL_checkinteger(L, -1);
      lua_pop(L, 1);
    }
  }
  st = lp_usb_list(u, vids, nv, &list, &n, note, sizeof note);
  if (st != LP_OK) return lt_raise(L, st);
  lua_createtable(L, n, 0);
  for (i = 0; i < n; i++) {
    const lp_usb_info *d = &list[i];
    lua_createtable(L, 0, 12);
    set_int(L, "vid", d->vid);
    set_int(L, "pid", d->pid);
    set_int(L, "bus", d->bus);
    set_int(L, "address", d->address);
    lua_createtable(L, d->nports, 0);
    for (j = 0; j < d->nports; j++) { lua_pushinteger(L, d->ports[j]); lua_rawseti(L, -2, j + 1); }
    lua_setfield(L, -2, "ports");
    lua_pushstring(L, open_names[d->open]);
    lua_setfield(L, -2, "open");
    set_str(L, "error", d->error);
    set_str(L, "manufacturer", d->manufacturer);
    set_str(L, "product", d->product);
    set_str(L, "serial", d->serial);
    lua_rawseti(L, -2, i + 1);
  }
  lp_usb_list_free(u, list);
  if (note[0]) lua_pushstring(L, note);
  else lua_pushnil(L);
  return 2;
}

static void get_str(lua_State *L, int idx, const char *k, char *buf, size_t n) {
  buf[0] = 0;
  if (lua_getfield(L, idx, k) != LUA_TNIL) {
    const char *s = luaL_checkstring(L, -1);
    strncpy(buf, s, n - 1);
    buf[n - 1] = 0;
  }
  lua_pop(L, 1);
}

static lua_Integer get_int(lua_State *L, int idx, const char *k, lua_Integer def, lua_Integer hi) {
  lua_Integer v = def;
  if (lua_getfield(L, idx, k) != LUA_TNIL) {
    int ok;
    v = lua_tointegerx(L, -1, &ok);
    if (!ok || v < 0 || v > hi) luaL_error(L, "usb inject: field '%s' must be an integer in 0..%d", k, (int)hi);
  }
  lua_pop(L, 1);
  return v;
}

static int l_inject(lua_State *L) {
  lp_usb *u = session(L);
  lp_usb_info *arr;
  int n, i, j;
  lp_status st;
  if (lua_isnoneornil(L, 1)) {
    st = lp_usb_inject(u, NULL, -1);
    if (st != LP_OK) return lt_raise(L, st);
    return 0;
  }
  luaL_checktype(L, 1, LUA_TTABLE);
  n = (int)luaL_len(L, 1);
  luaL_argcheck(L, n <= 4096, 1, "at most 4096 devices");
  arr = lua_newuserdatauv(L, (size_t)(n > 0 ? n : 1) * sizeof *arr, 0);  /* freed by the collector */
  memset(arr, 0, (size_t)(n > 0 ? n : 1) * sizeof *arr);
  for (i = 0; i < n; i++) {
    lp_usb_info *d = &arr[i];
    int idx;
    lua_geti(L, 1, i + 1);
    luaL_argcheck(L, lua_istable(L, -1), 1, "each device must be a table");
    idx = lua_gettop(L);
    d->vid = (uint16_t)get_int(L, idx, "vid", 0, 0xFFFF);
    d->pid = (uint16_t)get_int(L, idx, "pid", 0, 0xFFFF);
    d->bus = (uint8_t)get_int(L, idx, "bus", 1, 255);
    d->address = (uint8_t)get_int(L, idx, "address", (lua_Integer)(i + 2), 255);
    if (lua_getfield(L, idx, "ports") == LUA_TTABLE) {
      int np = (int)luaL_len(L, -1);
      if (np > LP_USB_MAXPORTS) np = LP_USB_MAXPORTS;
      for (j = 0; j < np; j++) {
        lua_geti(L, -1, j + 1);
        d->ports[j] = (uint8_t)luaL_checkinteger(L, -1);
        lua_pop(L, 1);
      }
      d->nports = np;
    }
    lua_pop(L, 1);
    lua_getfield(L, idx, "open");
    d->open = lua_isnil(L, -1) ? LP_USB_OPEN_OK : (lp_usb_open)luaL_checkoption(L, -1, NULL, open_names);
    lua_pop(L, 1);
    get_str(L, idx, "error", d->error, sizeof d->error);
    if (d->open != LP_USB_OPEN_OK && !d->error[0])
      strcpy(d->error, d->open == LP_USB_OPEN_ACCESS ? "LIBUSB_ERROR_ACCESS"
                     : d->open == LP_USB_OPEN_BUSY ? "LIBUSB_ERROR_BUSY"
                     : d->open == LP_USB_OPEN_GONE ? "LIBUSB_ERROR_NO_DEVICE" : "LIBUSB_ERROR_OTHER");
    get_str(L, idx, "manufacturer", d->manufacturer, sizeof d->manufacturer);
    get_str(L, idx, "product", d->product, sizeof d->product);
    get_str(L, idx, "serial", d->serial, sizeof d->serial);
    lua_pop(L, 1);
  }
  st = lp_usb_inject(u, arr, n);
  if (st != LP_OK) return lt_raise(L, st);
  return 0;
}

void lt_open_usb(lua_State *L, int mod) {
  static const luaL_Reg fns[] = {{"list", l_list}, {"inject", l_inject}, {NULL, NULL}};
  mod = lua_absindex(L, mod);
  if (luaL_newmetatable(L, LT_USB)) {
    lua_pushcfunction(L, usb_gc);
    lua_setfield(L, -2, "__gc");
  }
  lua_pop(L, 1);
  luaL_newlib(L, fns);
  lua_setfield(L, mod, "_usb");
}
