/*
** lua/init.c -- luaopen_limpet_core: builds the `limpet.core` module from
** the binding areas (tensor, ops, random, io). Writes nothing to _G.
*/
#include "lbind.h"

int luaopen_limpet_core(lua_State *L);

int luaopen_limpet_core(lua_State *L) {
  lua_newtable(L);
  lt_open_tensor(L, -1);
  lt_open_ops(L, -1);
  lt_open_random(L, -1);
  lt_open_io(L, -1);
  lt_open_autograd(L, -1);
  lt_open_data(L, -1);
  lt_open_png(L, -1);
  lt_open_tseries(L, -1);
  lt_open_events(L, -1);
  lt_open_neuron(L, -1);
  lt_open_sys(L, -1);
  lt_open_xylo(L, -1);
  lt_open_dynapse2(L, -1);
  lt_open_optim(L, -1);
  lt_open_json(L, -1);
  lt_open_plot(L, -1);
  lt_open_imuif(L, -1);
  lt_open_usb(L, -1);
  lt_open_afe(L, -1);
  lt_open_audio(L, -1);
  lua_pushliteral(L, LP_VERSION);
  lua_setfield(L, -2, "version");
  return 1;
}
