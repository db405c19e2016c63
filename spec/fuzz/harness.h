/*
** spec/fuzz/harness.h -- what every fuzz harness (spec/fuzz/fuzz_<reader>.c)
** shares: the libFuzzer entry points, one engine context with a small size
** cap, a private temporary folder for readers that take a path, and a Lua
** state with limpet loaded for the readers written in Lua.
** Not here: running the fuzzers (spec/fuzz/run.sh, `make fuzz`), replaying
** corpora and regressions (spec/fuzz/replay.c, `make test`).
**
** A harness defines LLVMFuzzerTestOneInput and nothing else that must be
** public. It is built twice: with clang's libFuzzer under ASan and UBSan
** (`make fuzz`, build/fuzz/) and, with replay.c as its main, by the normal
** compiler into build/<cfg>/tests/test_fuzz_<reader> (`make test`, `make
** check`), which feeds it every file of spec/fuzz/corpus/<reader>/ and
** spec/fuzz/regressions/<reader>/. A malformed input must end in an error
** status or a Lua error; only crashes, sanitizer reports, leaks and the
** harness's own checks (fz_fail) count as findings.
*/
#ifndef LIMPET_FUZZ_HARNESS_H
#define LIMPET_FUZZ_HARNESS_H

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <dirent.h>

#include <lua.h>
#include <lauxlib.h>

#include "limpet/core.h"
#include "limpet/tensor.h"
#include "limpet/limpet.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#ifndef FUZZ_ROOT
#error "FUZZ_ROOT (the spec/fuzz folder) comes from the Makefile"
#endif

/* The engine's size cap inside harnesses: large enough for every seed,
   small enough that a header announcing gigabytes is refused by the cap
   instead of being allocated (libFuzzer counts a huge malloc as a crash). */
#define FZ_MAX_BYTES ((size_t)64 << 20)

/* A harness check that failed: print why and abort (libFuzzer saves the
   input as a crash; the replay driver dies with the message). */
static inline void fz_fail(const char *what, const char *detail) {
  fprintf(stderr, "fuzz harness check failed: %s%s%s\n", what, detail ? ": " : "", detail ? detail : "");
  fflush(stderr);
  abort();
}

static inline lp_ctx *fz_ctx(void) {
  static lp_ctx *ctx;
  if (!ctx) {
    if (lp_ctx_new(&ctx) != LP_OK) fz_fail("lp_ctx_new", NULL);
    lp_ctx_set_max_bytes(ctx, FZ_MAX_BYTES);
    lp_ctx_set_threads(ctx, 1);
  }
  return ctx;
}

/* ---- a private temporary folder ---------------------------------------- */
static char fz_dir_[512];

static inline void fz_rmtree_(const char *dir) {
  DIR *d = opendir(dir);
  struct dirent *e;
  char p[2048];
  if (!d) return;
  while ((e = readdir(d))) {
    struct stat sb;
    if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) continue;
    if (snprintf(p, sizeof p, "%s/%s", dir, e->d_name) >= (int)sizeof p) continue;
    if (lstat(p, &sb) == 0 && S_ISDIR(sb.st_mode)) fz_rmtree_(p);
    else unlink(p);
  }
  closedir(d);
  rmdir(dir);
}

static inline void fz_cleanup_(void) { if (fz_dir_[0]) fz_rmtree_(fz_dir_); }

/* The harness's folder ($TMPDIR or /tmp, removed at exit). */
static inline const char *fz_dir(void) {
  if (!fz_dir_[0]) {
    const char *t = getenv("TMPDIR");
    snprintf(fz_dir_, sizeof fz_dir_, "%s/limpet-fuzz-XXXXXX", t && *t ? t : "/tmp");
    if (!mkdtemp(fz_dir_)) fz_fail("mkdtemp", strerror(errno));
    atexit(fz_cleanup_);
  }
  return fz_dir_;
}

/* Make the folders of rel (a path inside fz_dir) and write data there.
   Returns the full path (a static buffer, valid until the next call). */
static inline const char *fz_write(const char *rel, const uint8_t *data, size_t size) {
  static char path[1024];
  char *p;
  FILE *fp;
  snprintf(path, sizeof path, "%s/%s", fz_dir(), rel);
  for (p = path + strlen(fz_dir()) + 1; (p = strchr(p, '/')); p++) {
    *p = '\0';
    mkdir(path, 0700);
    *p = '/';
  }
  fp = fopen(path, "wb");
  if (!fp) fz_fail("cannot write the input", strerror(errno));
  if (size && fwrite(data, 1, size, fp) != size) fz_fail("cannot write the input", strerror(errno));
  if (fclose(fp) != 0) fz_fail("cannot write the input", strerror(errno));
  return path;
}

/* ---- Lua ----------------------------------------------------------------
** fz_lua(setup) opens one state for the process: limpet loaded as `lp`,
** the cap at FZ_MAX_BYTES, a global fuzz_fail(msg) that fails the harness,
** globals FUZZ_ROOT (spec/fuzz) and FUZZ_DIR (the temporary folder),
** then the chunk `setup` run; it must return a function run(path) that
** reads the input (fz_lua_file does all of it for one input). fz_lua_run
** calls it under pcall: a Lua error is a clean
** refusal (the chunk checks the messages it cares about and calls
** fuzz_fail when one is wrong). */
static inline int fz_lua_fail_(lua_State *L) {
  fz_fail("Lua check", luaL_tolstring(L, 1, NULL));
  return 0;
}

/* Lua helpers every setup chunk may use:
**   fuzz_clean(e)  whether error e is a clean refusal: a string, and not a
**                  Lua runtime error from limpet's own code ("attempt to ...")
**   fuzz_refusal(e, head, what)  fail unless e is clean and starts with head
**   fuzz_quiet()   drop what is written to io.stderr (warnings about a file
**                  are not findings, and would flood the log)
**   fuzz_slurp(path) -> the bytes of a file */
static const char *fz_lua_prelude_ =
  "function fuzz_clean(e) return type(e) == 'string' and not e:find('attempt to', 1, true) end\n"
  "function fuzz_refusal(e, head, what)\n"
  "  if not fuzz_clean(e) or e:sub(1, #head) ~= head then\n"
  "    fuzz_fail(what .. ' error does not start with ' .. head .. ': ' .. tostring(e))\n"
  "  end\n"
  "end\n"
  "function fuzz_quiet()\n"
  "  local quiet = {}\n"
  "  function quiet:write() return self end\n"
  "  io.stderr = quiet\n"
  "end\n"
  "function fuzz_slurp(p) local f = assert(io.open(p, 'rb')) local s = f:read('a') f:close() return s end\n";

static inline lua_State *fz_lua(const char *setup) {
  static lua_State *L;
  if (!L) {
    L = lp_lua_open();
    if (!L) fz_fail("lp_lua_open", "limpet does not load");
    lp_ctx_set_threads(lp_lua_ctx(L), 1);
    lp_ctx_set_max_bytes(lp_lua_ctx(L), FZ_MAX_BYTES);
    lua_pushcfunction(L, fz_lua_fail_);
    lua_setglobal(L, "fuzz_fail");
    lua_pushstring(L, FUZZ_ROOT);            /* spec/fuzz, for files the setup reads */
    lua_setglobal(L, "FUZZ_ROOT");
    lua_pushstring(L, fz_dir());
    lua_setglobal(L, "FUZZ_DIR");
    if (luaL_loadstring(L, fz_lua_prelude_) != LUA_OK || lua_pcall(L, 0, 0, 0) != LUA_OK)
      fz_fail("harness prelude", lua_tostring(L, -1));
    if (luaL_loadstring(L, setup) != LUA_OK || lua_pcall(L, 0, 1, 0) != LUA_OK)
      fz_fail("harness setup", lua_tostring(L, -1));
    if (lua_type(L, -1) != LUA_TFUNCTION) fz_fail("harness setup", "did not return a function");
    lua_setfield(L, LUA_REGISTRYINDEX, "limpet.fuzz.run");
  }
  return L;
}

static inline void fz_lua_run(lua_State *L, const char *path) {
  int top = lua_gettop(L);
  lua_getfield(L, LUA_REGISTRYINDEX, "limpet.fuzz.run");
  lua_pushstring(L, path);
  if (lua_pcall(L, 1, 0, 0) != LUA_OK && lua_type(L, -1) != LUA_TSTRING)
    fz_fail("error object is not a string", luaL_typename(L, -1));
  lua_settop(L, top);
  lua_gc(L, LUA_GCCOLLECT, 0);
}

/* The whole of a Lua-level harness's entry point: write the input to rel
   (a path inside fz_dir), run the setup's function on it, remove it. */
static inline int fz_lua_file(const char *setup, const char *rel, const uint8_t *data, size_t size) {
  lua_State *L = fz_lua(setup);
  char path[1024];
  snprintf(path, sizeof path, "%s", fz_write(rel, data, size));
  fz_lua_run(L, path);
  unlink(path);
  return 0;
}

#endif
