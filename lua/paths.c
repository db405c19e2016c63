/*
** lua/paths.c -- where a Lua state finds limpet's modules.
** Owns: lp_lua_setup (limpet.core in package.preload, limpet's Lua folders
** in front of package.path, the searcher for devices/<chip>/ in a source
** tree, the folder of limpet's optional C modules in front of package.cpath).
** Used by the executable (main.c) and by embedding hosts (embed.c).
** Not here: the command line (main.c), running code (embed.c).
**
** A root is looked for in this order; the first that holds limpet's
** init.lua wins:
**   1. $LIMPET_ROOT (skipped when the registry has LUA_NOENV, i.e. `-E`):
**      a source tree or an install prefix;
**   2. next to the running executable (/proc/self/exe): <exe>/../share/lua/5.4
**      (installed) or <exe>/../.. (the build tree, build/<cfg>/limpet);
**   3. LIMPET_SOURCE_ROOT, the source tree this file was compiled in;
**   4. LIMPET_PREFIX, the install prefix this file was compiled for.
** A source tree R gives R/stdlib/?.lua;R/stdlib/?/init.lua plus a searcher
** mapping `limpet.<chip>[.<mod>]` to R/devices/<chip>/{init,<mod>}.lua; an
** installed share folder S gives S/?.lua;S/?/init.lua (devices are
** installed under S/limpet/<chip>/).
*/
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <lua.h>
#include <lauxlib.h>

#include "limpet/limpet.h"

#ifndef PATH_MAX
#define PATH_MAX 4096
#endif

int luaopen_limpet_core(lua_State *L);

enum { LAYOUT_NONE = 0, LAYOUT_SOURCE, LAYOUT_SHARE };

static int file_exists(const char *path) {
  return access(path, R_OK) == 0;
}

/* Classify dir: a source tree (stdlib/limpet/init.lua), an install prefix
   (share/lua/5.4/limpet/init.lua) or a share folder (limpet/init.lua). On a
   match, out receives the canonical folder to use (the root for a source
   tree, the share folder otherwise). */
static int classify(const char *dir, char *out) {
  char probe[PATH_MAX + 64], real[PATH_MAX];
  if (!dir || !*dir || strlen(dir) >= PATH_MAX) return LAYOUT_NONE;
  snprintf(probe, sizeof probe, "%s/stdlib/limpet/init.lua", dir);
  if (file_exists(probe) && realpath(dir, real)) { strcpy(out, real); return LAYOUT_SOURCE; }
  snprintf(probe, sizeof probe, "%s/share/lua/5.4/limpet/init.lua", dir);
  if (file_exists(probe)) {
    snprintf(probe, sizeof probe, "%s/share/lua/5.4", dir);
    if (realpath(probe, real)) { strcpy(out, real); return LAYOUT_SHARE; }
  }
  return LAYOUT_NONE;
}

/* The folder of the running executable, or 0. */
static int exe_dir(char *out) {
  char *slash;
  if (!realpath("/proc/self/exe", out)) return 0;
  slash = strrchr(out, '/');
  if (!slash) return 0;
  *slash = '\0';
  return 1;
}

static int find_root(lua_State *L, char *out) {
  char dir[PATH_MAX], up[PATH_MAX + 8];
  int layout, noenv;
  lua_getfield(L, LUA_REGISTRYINDEX, "LUA_NOENV");
  noenv = lua_toboolean(L, -1);
  lua_pop(L, 1);
  if (!noenv && (layout = classify(getenv("LIMPET_ROOT"), out)) != LAYOUT_NONE) return layout;
  if (exe_dir(dir)) {
    snprintf(up, sizeof up, "%s/..", dir);           /* <prefix>/bin/limpet */
    if ((layout = classify(up, out)) == LAYOUT_SHARE) return layout;
    snprintf(up, sizeof up, "%s/../..", dir);        /* <root>/build/<cfg>/limpet */
    if ((layout = classify(up, out)) == LAYOUT_SOURCE) return layout;
  }
#ifdef LIMPET_SOURCE_ROOT
  if ((layout = classify(LIMPET_SOURCE_ROOT, out)) != LAYOUT_NONE) return layout;
#endif
#ifdef LIMPET_PREFIX
  if ((layout = classify(LIMPET_PREFIX, out)) != LAYOUT_NONE) return layout;
#endif
  return LAYOUT_NONE;
}

/* package.searchers entry for a source tree: `limpet.<chip>` and
   `limpet.<chip>.<mod>` from upvalue 1's devices folder (a search path
   template), through package.searchpath (upvalue 2). */
static int devices_searcher(lua_State *L) {
  const char *name = luaL_checkstring(L, 1);
  const char *file;
  if (strncmp(name, "limpet.", 7) != 0 || name[7] == '\0') return 0;
  lua_pushvalue(L, lua_upvalueindex(2));
  lua_pushstring(L, name + 7);
  lua_pushvalue(L, lua_upvalueindex(1));
  lua_call(L, 2, 2);
  if (lua_isnil(L, -2)) return 1;                  /* the "no file ..." message */
  file = lua_tostring(L, -2);
  if (luaL_loadfile(L, file) != LUA_OK)
    return luaL_error(L, "error loading module '%s' from file '%s':\n\t%s",
                      name, file, lua_tostring(L, -1));
  lua_pushstring(L, file);
  return 2;
}

/* Prepend "a;b;" to package[field] unless it is already there. Expects the
   package table at the top. */
static void prepend_field(lua_State *L, const char *field, const char *entries);
static void prepend_path(lua_State *L, const char *entries) { prepend_field(L, "path", entries); }
static void prepend_field(lua_State *L, const char *field, const char *entries) {
  const char *old;
  lua_getfield(L, -1, field);
  old = lua_tostring(L, -1);
  if (old && strncmp(old, entries, strlen(entries)) == 0) { lua_pop(L, 1); return; }
  lua_pushfstring(L, "%s%s", entries, old ? old : "");
  lua_setfield(L, -3, field);
  lua_pop(L, 1);
}

static void add_devices_searcher(lua_State *L, const char *root) {
  int n;
  lua_getfield(L, -1, "searchers");
  if (!lua_istable(L, -1)) { lua_pop(L, 1); return; }
  /* already installed by an earlier call? */
  lua_getfield(L, LUA_REGISTRYINDEX, "limpet.devices_searcher");
  if (!lua_isnil(L, -1)) { lua_pop(L, 2); return; }
  lua_pop(L, 1);
  lua_pushfstring(L, "%s/devices/?.lua;%s/devices/?/init.lua", root, root);
  lua_getfield(L, -3, "searchpath");
  lua_pushcclosure(L, devices_searcher, 2);
  lua_pushvalue(L, -1);
  lua_setfield(L, LUA_REGISTRYINDEX, "limpet.devices_searcher");
  /* insert at position 3: after preload and the Lua searcher */
  n = (int)luaL_len(L, -2);
  for (int i = n; i >= 3; i--) {
    lua_geti(L, -2, i);
    lua_seti(L, -3, i + 1);
  }
  lua_seti(L, -2, n >= 2 ? 3 : n + 1);
  lua_pop(L, 1);
}

int lp_lua_setup(lua_State *L) {
  char root[PATH_MAX], entries[2 * PATH_MAX + 64];
  int layout;
  luaL_checkstack(L, 8, "lp_lua_setup");
  lua_getglobal(L, "package");
  if (!lua_istable(L, -1)) {
    lua_pop(L, 1);
    lua_pushliteral(L, "limpet: the package library is not open");
    return -1;
  }
  lua_getfield(L, -1, "preload");
  if (lua_istable(L, -1)) {
    lua_pushcfunction(L, luaopen_limpet_core);
    lua_setfield(L, -2, "limpet.core");
  }
  lua_pop(L, 1);
  layout = find_root(L, root);
  if (layout == LAYOUT_NONE) {
    lua_pop(L, 1);
    lua_pushliteral(L, "limpet: its Lua modules were not found "
                       "(set LIMPET_ROOT to the source tree or install prefix)");
    return -1;
  }
  if (layout == LAYOUT_SOURCE)
    snprintf(entries, sizeof entries, "%s/stdlib/?.lua;%s/stdlib/?/init.lua;", root, root);
  else
    snprintf(entries, sizeof entries, "%s/?.lua;%s/?/init.lua;", root, root);
  prepend_path(L, entries);
  if (layout == LAYOUT_SOURCE) add_devices_searcher(L, root);
  /* C modules built beside limpet (limpet.mpi, loaded only by lp.dist): the
     build tree keeps them next to the executable, an install under
     <prefix>/lib/lua/5.4 */
  {
    char dir[PATH_MAX];
    if (layout == LAYOUT_SOURCE && exe_dir(dir))
      snprintf(entries, sizeof entries, "%s/lib/lua/5.4/?.so;", dir);
    else if (layout == LAYOUT_SHARE)
      snprintf(entries, sizeof entries, "%s/../../../lib/lua/5.4/?.so;", root);
    else
      entries[0] = '\0';
    if (entries[0]) prepend_field(L, "cpath", entries);
  }
  lua_pop(L, 1);
  return 0;
}
