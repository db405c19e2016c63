/*
** lua/include/limpet/limpet.h -- embedding limpet's Lua layer in a C host.
** Owns: opening a Lua state with limpet loaded, running files and strings
** with tracebacks, moving tensors between the Lua stack and C, Ctrl-C.
** Not here: the tensor API itself (core.h, tensor.h, ops.h), the binding
** helpers used inside limpet (lua/lbind.h).
**
**   lua_State *L = lp_lua_open();
**   if (L && lp_lua_dostring(L, "return lp.arange(0, 6):reshape(2, 3)") == 0) {
**     const lp_tensor *t = lp_lua_totensor(L, -1);   (borrowed from the stack)
**     ... lp_tensor_shape(t), lp_tensor_get(...) ...
**   }
**   lp_lua_close(L);
**
** limpet's Lua modules are found through $LIMPET_ROOT (a source tree or an
** install prefix), the executable's folder, then the source tree and the
** install prefix the library was built for.
*/
#ifndef LIMPET_LIMPET_H
#define LIMPET_LIMPET_H

#include <signal.h>
#include <lua.h>
#include "limpet/core.h"
#include "limpet/tensor.h"

/* A new state with the standard libraries, limpet's module paths set and
   `lp = require "limpet"` as a global. NULL when the state cannot be made
   or limpet does not load. */
lua_State       *lp_lua_open(void);
void             lp_lua_close(lua_State *L);              /* NULL is a no-op */

/* For a state the host made itself (standard libraries open): put
   limpet.core in package.preload and limpet's Lua folders in front of
   package.path, so that `require "limpet"` works. Returns 0, or -1 with a
   message pushed when limpet's Lua modules were not found (limpet.core is
   preloaded even then). Honours the registry field LUA_NOENV as the package
   library does (no $LIMPET_ROOT then). */
int              lp_lua_setup(lua_State *L);

/* Run a file / a string. Returns 0 with the chunk's results pushed, or a
   Lua status (LUA_ERRSYNTAX, LUA_ERRRUN, ...) with one message pushed; run
   time errors carry a stack traceback. */
int              lp_lua_dofile(lua_State *L, const char *path);
int              lp_lua_dostring(lua_State *L, const char *code);

/* The tensor at idx, or NULL when it is not a live tensor. Borrowed: valid
   while the value stays reachable from Lua (e.g. on the stack). */
const lp_tensor *lp_lua_totensor(lua_State *L, int idx);
/* Push t as a Lua tensor; the state takes its own reference. */
void             lp_lua_pushtensor(lua_State *L, lp_tensor *t);
/* The engine context of this state (to make tensors for lp_lua_pushtensor). */
lp_ctx          *lp_lua_ctx(lua_State *L);

/* Point the engine at a flag the host's SIGINT handler sets: long kernels
   poll it and stop with an "interrupted" error while it is non-zero (to
   stop pure Lua loops too, the handler also arms a hook, as the limpet
   executable does). The host clears it. */
void             lp_lua_set_interrupt_flag(lua_State *L, volatile sig_atomic_t *flag);

#endif
