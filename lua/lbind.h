/*
** lua/lbind.h -- helpers shared by the binding files (l_*.c).
** Owns: the tensor userdata box, the per-state lp_ctx, argument checkers,
** and turning an lp_status into a Lua error in luaL_argerror's words.
** Bindings convert and check; they compute nothing (numerics live in core/).
*/
#ifndef LIMPET_LBIND_H
#define LIMPET_LBIND_H

#include <lua.h>
#include <lauxlib.h>
#include "limpet/core.h"
#include "limpet/tensor.h"

#define LT_TENSOR "limpet.Tensor"   /* metatable name == __name */

typedef struct lt_Box { lp_tensor *t; } lt_Box;

/* The lp_ctx of this Lua state (created by luaopen_limpet_core). */
lp_ctx    *lt_ctx(lua_State *L);

/* Tensor boxes. lt_newbox pushes a box holding NULL: fill b->t after the core
   call succeeds, so raising in between leaks nothing. lt_pushtensor takes
   over one reference of t. Every push also accounts new storage bytes to the
   Lua collector. */
lt_Box    *lt_newbox(lua_State *L);
void       lt_pushtensor(lua_State *L, lp_tensor *t);
lp_tensor *lt_checktensor(lua_State *L, int arg);
lp_tensor *lt_totensor(lua_State *L, int arg);     /* NULL if not a live tensor */
/* A tensor from arg: a tensor as is (retained), or a Lua number / nested
   table converted (dtype: float32 for floats, int64 for integers, bool for
   booleans). Caller releases. Raises on anything else. */
lp_tensor *lt_checktensorlike(lua_State *L, int arg);

/* Raise the context's last error. With an operand recorded, it becomes
   "bad argument #k to 'fn' (msg)" (k = errarg + argoffset); otherwise
   "fn: msg". Never returns. */
int        lt_raise(lua_State *L, lp_status st);
int        lt_raise_at(lua_State *L, lp_status st, int argoffset);
/* Environment failures (LP_EIO, LP_EINTR excepted): push nil, msg and return 2. */
int        lt_fail(lua_State *L, lp_status st);
/* Point the engine's interrupt flag at the host's (set by its SIGINT handler). */
void       lt_set_interrupt_flag(lua_State *L, volatile sig_atomic_t *flag);
/* Refuse a Lua table of `entries` slots (and `tables` tables) that the
   engine's size cap would not allow as a tensor: raises the cap error
   (with the caller's source position when `where` is set). */
void       lt_check_table(lua_State *L, const char *fname, const char *what, int64_t entries, int64_t tables,
                          int where);
/* Account bytes allocated in the engine to the collector (called by push). */
void       lt_account(lua_State *L);

/* Checkers. Dims and positions are 1-based in Lua, negative counting from the
   end; these return 0-based values or raise naming arg. */
lp_dtype   lt_checkdtype(lua_State *L, int arg);
lp_dtype   lt_optdtype(lua_State *L, int arg, lp_dtype def);
int        lt_checkdim(lua_State *L, int arg, int ndim);          /* dim in 1..ndim or -ndim..-1 */
int        lt_optdim(lua_State *L, int arg, int ndim, int def);  /* def returned when none (may be -1) */
/* A shape from a table at arg or from integers at arg..top. Returns ndim. */
int        lt_checkshape(lua_State *L, int arg, int64_t *shape);
lp_scalar  lt_checkscalar(lua_State *L, int arg);               /* number or boolean */
void       lt_pushscalar(lua_State *L, lp_scalar s, lp_dtype dt); /* bool dtypes push booleans */
/* Push a Lua table of t's shape. */
void       lt_pushshape(lua_State *L, const lp_tensor *t);

/* Add functions to the limpet.Tensor method table (for l_ops.c, l_io.c...). */
void       lt_addmethods(lua_State *L, const luaL_Reg *fns);
/* Add metamethods (__add, __lt, ...) to the limpet.Tensor metatable. */
void       lt_addmeta(lua_State *L, const luaL_Reg *fns);

/* Area openers called by luaopen_limpet_core; each leaves nothing on the stack
   and adds its functions to the module table at index `mod` (and methods
   through lt_addmethods). */
void       lt_open_tensor(lua_State *L, int mod);
void       lt_open_ops(lua_State *L, int mod);
void       lt_open_io(lua_State *L, int mod);
void       lt_open_random(lua_State *L, int mod);
void       lt_open_autograd(lua_State *L, int mod);
void       lt_open_data(lua_State *L, int mod);      /* l_data.c */
void       lt_open_png(lua_State *L, int mod);      /* core.png_read/png_write (l_png.c) */
void       lt_open_tseries(lua_State *L, int mod);  /* core._ts (l_tseries.c) */
void       lt_open_events(lua_State *L, int mod);   /* core._events (l_events.c) */
void       lt_open_neuron(lua_State *L, int mod);   /* core.lif/expsyn/rate (l_neuron.c) */
void       lt_open_sys(lua_State *L, int mod);      /* core.clock/peak_rss (l_sys.c) */
void       lt_open_xylo(lua_State *L, int mod);     /* core._xylo (l_xylo.c) */
void       lt_open_dynapse2(lua_State *L, int mod); /* core._dynapse2 (l_dynapse2.c) */
void       lt_open_optim(lua_State *L, int mod);    /* core._adam_step (l_optim.c) */
void       lt_open_json(lua_State *L, int mod);     /* core._json_decode/_json_encode/_json_numbers (l_json.c) */
void       lt_open_plot(lua_State *L, int mod);     /* core._figure (l_plot.c) */
void       lt_open_imuif(lua_State *L, int mod);    /* core._imuif (l_imuif.c) */
void       lt_open_usb(lua_State *L, int mod);      /* core._usb (l_usb.c) */
void       lt_open_afe(lua_State *L, int mod);      /* core._afe (l_afe.c) */
void       lt_open_audio(lua_State *L, int mod);    /* core.audio_load/audio_save (l_audio.c) */
void       lt_open_h5w(lua_State *L, int mod);      /* core.h5_create (l_h5w.c) */
void       lt_open_conv(lua_State *L, int mod);     /* core.conv2d/sum_pool2d (l_conv.c) */
void       lt_open_nirneuron(lua_State *L, int mod); /* core.nir_neuron (l_nirneuron.c) */

/* Autograd properties of a tensor (t.grad, t.is_leaf, t.grad_fn): push and
   return 1 when k is one of them, else return 0 (l_autograd.c). */
int        lt_autograd_property(lua_State *L, lp_tensor *t, const char *k);
int        lt_autograd_setproperty(lua_State *L, lp_tensor *t, const char *k, int v);

#endif
