/*
** examples/embed/host.c -- a C program that embeds limpet's Lua layer.
** Owns: the embedding walkthrough: open a state, run a script that builds a
** tensor, read it back through the core accessors, hand a C tensor to Lua,
** and report a script error with its traceback. Exits 0 only when every
** value is right (spec/embed_spec.lua runs it).
** Build: make (-> build/<cfg>/examples/embed/host), or against an install:
**   cc host.c $(pkg-config --cflags --libs limpet)
*/
#include <stdio.h>
#include <string.h>

#include <lua.h>

#include "limpet/limpet.h"
#include "limpet/tensor.h"

static int failures = 0;

static void expect(int ok, const char *what) {
  if (!ok) {
    fprintf(stderr, "host: FAILED: %s\n", what);
    failures++;
  }
}

/* Lua builds a tensor; C reads its shape and values. */
static void read_back(lua_State *L) {
  const lp_tensor *t;
  const int64_t *shape;
  int64_t i, j;
  if (lp_lua_dostring(L, "return lp.arange(0, 6):reshape(2, 3) * 2") != 0) {
    fprintf(stderr, "host: %s\n", lua_tostring(L, -1));
    failures++;
    lua_pop(L, 1);
    return;
  }
  t = lp_lua_totensor(L, -1);
  expect(t != NULL, "the script returns a tensor");
  if (t == NULL) { lua_pop(L, 1); return; }
  shape = lp_tensor_shape(t);
  expect(lp_tensor_ndim(t) == 2 && shape[0] == 2 && shape[1] == 3, "shape (2, 3)");
  printf("tensor %s, shape (%lld, %lld):", lp_dtype_name(lp_tensor_dtype(t)),
         (long long)shape[0], (long long)shape[1]);
  for (i = 0; i < 2; i++)
    for (j = 0; j < 3; j++) {
      int64_t idx[2];
      lp_scalar v;
      idx[0] = i; idx[1] = j;
      if (lp_tensor_get(lp_tensor_ctx(t), t, idx, &v) != LP_OK) {
        expect(0, "lp_tensor_get succeeds");
        continue;
      }
      printf(" %g", lp_scalar_f(v));
      expect(lp_scalar_f(v) == (double)(2 * (3 * i + j)), "value 2 * (3i + j)");
    }
  printf("\n");
  lua_pop(L, 1);
}

/* C builds a tensor; Lua computes with it. */
static void hand_over(lua_State *L) {
  static const double data[4] = {1.5, 2.5, 3.5, 4.5};
  const int64_t shape[1] = {4};
  lp_tensor *t = NULL;
  if (lp_tensor_from_data(lp_lua_ctx(L), LP_F64, 1, shape, data, &t) != LP_OK) {
    expect(0, "lp_tensor_from_data succeeds");
    return;
  }
  lp_lua_pushtensor(L, t);
  lp_tensor_release(t);                  /* Lua holds its own reference now */
  lua_setglobal(L, "x");
  if (lp_lua_dostring(L, "return x:get(4), x.dtype, #x") != 0) {
    fprintf(stderr, "host: %s\n", lua_tostring(L, -1));
    failures++;
    lua_pop(L, 1);
    return;
  }
  printf("from C: x:get(4) = %g, dtype %s, #x = %lld\n", lua_tonumber(L, -3),
         lua_tostring(L, -2), (long long)lua_tointeger(L, -1));
  expect(lua_tonumber(L, -3) == 4.5, "x:get(4) == 4.5");
  expect(lua_tostring(L, -2) && strcmp(lua_tostring(L, -2), "float64") == 0, "dtype float64");
  expect(lua_tointeger(L, -1) == 4, "#x == 4");
  lua_pop(L, 3);
}

/* A failing script: non-zero status, message with a traceback. */
static void report_error(lua_State *L) {
  int status = lp_lua_dostring(L, "local function inner() error('boom') end\ninner()");
  const char *msg = lua_tostring(L, -1);
  expect(status != 0, "error() gives a non-zero status");
  expect(msg && strstr(msg, "boom") && strstr(msg, "stack traceback:"), "message with traceback");
  printf("error reported: %s\n", msg && strstr(msg, "boom") ? "yes" : "no");
  lua_pop(L, 1);
}

int main(void) {
  lua_State *L = lp_lua_open();
  if (L == NULL) {
    fprintf(stderr, "host: cannot open limpet (is LIMPET_ROOT right?)\n");
    return 1;
  }
  read_back(L);
  hand_over(L);
  report_error(L);
  expect(lua_gettop(L) == 0, "the stack is balanced");
  lp_lua_close(L);
  if (failures) return 1;
  printf("ok\n");
  return 0;
}
