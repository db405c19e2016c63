/*
** lua/l_plot.c -- figures from Lua: core._figure(path, width, height, rows,
** cols) -> a Figure handle over core/src/figure.c (PLplot).
** Owns: argument conversion (coordinates from tensors or Lua lists, as
** float64), the Figure userdata and its methods, the nil, msg convention for
** files that cannot be written. Not here: what a raster or a histogram is
** (stdlib/limpet/plot/).
**   fig:panel(k)  fig:axes{vx0=,vx1=,vy0=,vy1=, x0=,x1=,y0=,y1=, xopt=,yopt=,
**   xlabel=,ylabel=,title=} -> {x0, y0, x1, y1} (data area in pixels)
**   fig:color(r, g, b[, alpha])  fig:width(w)  fig:dashed(bool)  fig:text_size(s)
**   fig:line(xs, ys)  fig:points(xs, ys[, size])  fig:rects(x0s, x1s, y0s, y1s)
**   fig:image(z (ny, nx), x0, x1, y0, y1, zlo, zhi[, "diverging"|"sequential"])
**   fig:text(x, y, s[, just, angle])  fig:mtext(side, disp, pos, just, s)
**   fig:close() -> true | nil, msg
*/
#include <string.h>

#include "lbind.h"
#include "limpet/figure.h"

#define LT_FIGURE "limpet.Figure"

typedef struct { lp_figure *f; } fig_box;

static lp_figure *checkfig(lua_State *L) {
  fig_box *b = luaL_checkudata(L, 1, LT_FIGURE);
  if (!b->f) luaL_argerror(L, 1, "figure is closed");
  return b->f;
}

/* A float64 contiguous copy of arg (tensor or list of numbers; a list is
   read as doubles, never through float32); pushes the tensor that owns the
   data (keep it on the stack while the data is used). */
static const double *doubles(lua_State *L, int arg, int64_t *n) {
  lp_tensor *c = NULL;
  lp_status st;
  if (lua_type(L, arg) == LUA_TTABLE) {
    int64_t len = (int64_t)lua_rawlen(L, arg);
    st = lp_tensor_empty(lt_ctx(L), LP_F64, 1, &len, &c);
    if (st != LP_OK) lt_raise(L, st);
    lt_pushtensor(L, c);
    double *d = lp_tensor_data(c);
    for (int64_t i = 0; i < len; i++) {
      lua_rawgeti(L, arg, (lua_Integer)i + 1);
      int isnum;
      d[i] = lua_tonumberx(L, -1, &isnum);
      lua_pop(L, 1);
      if (!isnum) luaL_argerror(L, arg, lua_pushfstring(L, "element %d is not a number", (int)i + 1));
    }
    *n = len;
    return d;
  }
  lp_tensor *t = lt_checktensor(L, arg);
  st = lp_tensor_astype(lt_ctx(L), t, LP_F64, &c);
  if (st != LP_OK) lt_raise(L, st);
  lt_pushtensor(L, c);
  *n = lp_tensor_numel(c);
  return lp_tensor_data(c);
}

static int status(lua_State *L, lp_status st) {
  if (st != LP_OK) return lt_raise_at(L, st, 0);
  return 0;
}

static int l_figure(lua_State *L) {
  size_t len;
  const char *path = luaL_checklstring(L, 1, &len);
  if (strlen(path) != len) luaL_argerror(L, 1, "path contains a zero byte");
  int w = (int)luaL_checkinteger(L, 2), h = (int)luaL_checkinteger(L, 3);
  int rows = (int)luaL_optinteger(L, 4, 1), cols = (int)luaL_optinteger(L, 5, 1);
  fig_box *b = lua_newuserdatauv(L, sizeof *b, 0);
  b->f = NULL;
  luaL_setmetatable(L, LT_FIGURE);
  lp_status st = lp_figure_open(lt_ctx(L), path, w, h, rows, cols, &b->f);
  if (st == LP_EIO) return lt_fail(L, st);
  if (st != LP_OK) return lt_raise(L, st);
  return 1;
}

static int l_panel(lua_State *L) {
  lp_figure *f = checkfig(L);
  status(L, lp_figure_panel(f, (int)luaL_checkinteger(L, 2)));
  return 0;
}

static double field_num(lua_State *L, const char *k) {
  lua_getfield(L, 2, k);
  if (!lua_isnumber(L, -1)) luaL_error(L, "bad argument #1 to 'axes' (field '%s' must be a number)", k);
  double v = lua_tonumber(L, -1);
  lua_pop(L, 1);
  return v;
}
static const char *field_str(lua_State *L, const char *k) {
  lua_getfield(L, 2, k);                 /* the string stays referenced by the table */
  const char *s = lua_isnil(L, -1) ? NULL : lua_tostring(L, -1);
  if (!lua_isnil(L, -1) && !s) luaL_error(L, "bad argument #1 to 'axes' (field '%s' must be a string)", k);
  lua_pop(L, 1);
  return s;
}

static int l_axes(lua_State *L) {
  lp_figure *f = checkfig(L);
  luaL_checktype(L, 2, LUA_TTABLE);
  lp_axes a;
  a.vx0 = field_num(L, "vx0"); a.vx1 = field_num(L, "vx1");
  a.vy0 = field_num(L, "vy0"); a.vy1 = field_num(L, "vy1");
  a.x0 = field_num(L, "x0"); a.x1 = field_num(L, "x1");
  a.y0 = field_num(L, "y0"); a.y1 = field_num(L, "y1");
  a.xopt = field_str(L, "xopt"); a.yopt = field_str(L, "yopt");
  a.xlabel = field_str(L, "xlabel"); a.ylabel = field_str(L, "ylabel");
  a.title = field_str(L, "title");
  double area[4];
  status(L, lp_figure_axes(f, &a, area));
  lua_createtable(L, 4, 0);
  for (int i = 0; i < 4; i++) { lua_pushinteger(L, (lua_Integer)area[i]); lua_rawseti(L, -2, i + 1); }
  return 1;
}

static int l_color(lua_State *L) {
  lp_figure *f = checkfig(L);
  lp_figure_color(f, (int)luaL_checkinteger(L, 2), (int)luaL_checkinteger(L, 3),
                  (int)luaL_checkinteger(L, 4), luaL_optnumber(L, 5, 1.0));
  return 0;
}
static int l_width(lua_State *L) { lp_figure_width(checkfig(L), luaL_checknumber(L, 2)); return 0; }
static int l_dashed(lua_State *L) { lp_figure_dashed(checkfig(L), lua_toboolean(L, 2)); return 0; }
static int l_text_size(lua_State *L) { lp_figure_text_size(checkfig(L), luaL_checknumber(L, 2)); return 0; }

static int l_line(lua_State *L) {
  lp_figure *f = checkfig(L);
  int64_t nx, ny;
  const double *x = doubles(L, 2, &nx), *y = doubles(L, 3, &ny);
  if (nx != ny) luaL_argerror(L, 3, "x and y must have the same length");
  status(L, lp_figure_line(f, nx, x, y));
  return 0;
}

static int l_points(lua_State *L) {
  lp_figure *f = checkfig(L);
  int64_t nx, ny;
  double size = luaL_optnumber(L, 4, 1.0);
  const double *x = doubles(L, 2, &nx), *y = doubles(L, 3, &ny);
  if (nx != ny) luaL_argerror(L, 3, "x and y must have the same length");
  status(L, lp_figure_points(f, nx, x, y, size));
  return 0;
}

static int l_rects(lua_State *L) {
  lp_figure *f = checkfig(L);
  int64_t n[4];
  const double *v[4];
  for (int i = 0; i < 4; i++) v[i] = doubles(L, 2 + i, &n[i]);
  for (int i = 1; i < 4; i++) if (n[i] != n[0]) luaL_argerror(L, 2 + i, "all four lists must have the same length");
  status(L, lp_figure_rects(f, n[0], v[0], v[1], v[2], v[3]));
  return 0;
}

static int l_image(lua_State *L) {
  lp_figure *f = checkfig(L);
  lp_tensor *z = lt_checktensor(L, 2);
  if (lp_tensor_ndim(z) != 2) luaL_argerror(L, 2, "expected an image (ny, nx)");
  int64_t ny = lp_tensor_shape(z)[0], nx = lp_tensor_shape(z)[1], n;
  double e[6];
  for (int i = 0; i < 6; i++) e[i] = luaL_checknumber(L, 3 + i);
  static const char *const maps[] = { "diverging", "sequential", NULL };
  int cmap = luaL_checkoption(L, 9, "sequential", maps);
  const double *d = doubles(L, 2, &n);
  status(L, lp_figure_image(f, nx, ny, d, e[0], e[1], e[2], e[3], e[4], e[5], (lp_cmap)cmap));
  return 0;
}

static int l_text(lua_State *L) {
  lp_figure *f = checkfig(L);
  double x = luaL_checknumber(L, 2), y = luaL_checknumber(L, 3);
  const char *s = luaL_checkstring(L, 4);
  status(L, lp_figure_text(f, x, y, luaL_optnumber(L, 6, 0), luaL_optnumber(L, 5, 0.5), s));
  return 0;
}

static int l_mtext(lua_State *L) {
  lp_figure *f = checkfig(L);
  const char *side = luaL_checkstring(L, 2);
  status(L, lp_figure_mtext(f, side, luaL_checknumber(L, 3), luaL_checknumber(L, 4),
                            luaL_checknumber(L, 5), luaL_checkstring(L, 6)));
  return 0;
}

static int l_close(lua_State *L) {
  lp_figure *f = checkfig(L);
  fig_box *b = lua_touserdata(L, 1);
  lp_status st = lp_figure_close(f);
  lp_figure_release(f);
  b->f = NULL;
  if (st == LP_EIO) return lt_fail(L, st);
  if (st != LP_OK) return lt_raise(L, st);
  lua_pushboolean(L, 1);
  return 1;
}

static int l_gc(lua_State *L) {
  fig_box *b = luaL_checkudata(L, 1, LT_FIGURE);
  lp_figure_release(b->f);
  b->f = NULL;
  return 0;
}

void lt_open_plot(lua_State *L, int mod) {
  static const luaL_Reg methods[] = {
    { "panel", l_panel }, { "axes", l_axes }, { "color", l_color }, { "width", l_width },
    { "dashed", l_dashed }, { "text_size", l_text_size }, { "line", l_line },
    { "points", l_points }, { "rects", l_rects }, { "image", l_image }, { "text", l_text },
    { "mtext", l_mtext }, { "close", l_close }, { NULL, NULL },
  };
  mod = lua_absindex(L, mod);
  if (luaL_newmetatable(L, LT_FIGURE)) {
    luaL_newlib(L, methods);
    lua_setfield(L, -2, "__index");
    lua_pushcfunction(L, l_gc);
    lua_setfield(L, -2, "__gc");
    lua_pushcfunction(L, l_gc);
    lua_setfield(L, -2, "__close");
  }
  lua_pop(L, 1);
  lua_pushcfunction(L, l_figure);
  lua_setfield(L, mod, "_figure");
}
