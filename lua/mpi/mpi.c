/*
** lua/mpi/mpi.c -- the `limpet.mpi` C module: Open MPI for lp.dist.
** Built as its own shared object (build/<cfg>/lib/lua/5.4/limpet/mpi.so),
** linked with libmpi, and loaded only when a script uses lp.dist under
** mpirun or srun: a plain limpet never loads MPI.
** Owns: MPI's life (init, finalize at exit), the collectives on raw memory
** (the Lua side hands over a contiguous tensor's address, byte size and
** dtype: this module sees no tensor type, so it needs no limpet symbols),
** deadlines on every collective, strings between ranks, and a shared
** counter (one-sided MPI) for dynamic work assignment.
** Collectives are started non-blocking and polled until done or until the
** deadline (lp.dist.init{timeout = s}, default 300 s): then the job is
** aborted with a message naming the call, instead of hanging forever on a
** rank that died or stopped.
** Ranks are 0-based here; lp.dist (stdlib/limpet/dist.lua) shows 1-based.
*/
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <dlfcn.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <mpi.h>

#include <lua.h>
#include <lauxlib.h>

int luaopen_limpet_mpi(lua_State *L);

typedef struct {
  int inited, rank, size;
  double timeout;
} mpistate;

#define STATE "limpet.mpi.state"

static mpistate *state(lua_State *L) {
  lua_getfield(L, LUA_REGISTRYINDEX, STATE);
  mpistate *s = lua_touserdata(L, -1);
  lua_pop(L, 1);
  return s;
}

static double now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

static int mpi_fail(lua_State *L, const char *fn, int rc) {
  char msg[MPI_MAX_ERROR_STRING];
  int len = 0;
  MPI_Error_string(rc, msg, &len);
  return luaL_error(L, "%s: MPI error: %s", fn, msg);
}

/* Wait for req, polling; past the deadline the whole job is aborted. */
static void wait_for(lua_State *L, MPI_Request *req, const char *fn) {
  mpistate *s = state(L);
  double deadline = now() + s->timeout;
  long spins = 0;
  for (;;) {
    int done = 0;
    int rc = MPI_Test(req, &done, MPI_STATUS_IGNORE);
    if (rc != MPI_SUCCESS) mpi_fail(L, fn, rc);
    if (done) return;
    if (++spins > 20000) {
      struct timespec ts = { 0, 50000 };        /* 50 us: idle ranks sleep */
      nanosleep(&ts, NULL);
      if (now() > deadline) {
        fprintf(stderr, "%s: rank %d waited %.0f s for the other ranks (did one die or stop?); "
                "aborting the job\n", fn, s->rank + 1, s->timeout);
        fflush(stderr);
        MPI_Abort(MPI_COMM_WORLD, 3);
        exit(3);
      }
    }
  }
}

static int fin_gc(lua_State *L) {
  mpistate *s = lua_touserdata(L, 1);
  int finalized = 0;
  if (s->inited) {
    MPI_Finalized(&finalized);
    if (!finalized) MPI_Finalize();
    s->inited = 0;
  }
  return 0;
}

/* init(timeout) -> rank (0-based), size */
static int l_init(lua_State *L) {
  mpistate *s = state(L);
  double timeout = luaL_optnumber(L, 1, 300);
  luaL_argcheck(L, timeout > 0, 1, "timeout must be positive");
  s->timeout = timeout;
  if (!s->inited) {
    int already = 0, provided;
    MPI_Initialized(&already);
    if (!already) {
      int rc = MPI_Init_thread(NULL, NULL, MPI_THREAD_FUNNELED, &provided);
      if (rc != MPI_SUCCESS) return mpi_fail(L, "lp.dist.init", rc);
    }
    MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
    MPI_Comm_rank(MPI_COMM_WORLD, &s->rank);
    MPI_Comm_size(MPI_COMM_WORLD, &s->size);
    s->inited = 1;
  }
  lua_pushinteger(L, s->rank);
  lua_pushinteger(L, s->size);
  return 2;
}

static void *ptr_arg(lua_State *L, int arg) {
  luaL_checktype(L, arg, LUA_TLIGHTUSERDATA);
  return lua_touserdata(L, arg);
}

static MPI_Datatype dtype_arg(lua_State *L, int arg) {
  static const char *const names[] = { "float32", "float64", "int8", "int16", "int32", "int64", "uint8", "bool", NULL };
  switch (luaL_checkoption(L, arg, NULL, names)) {
  case 0: return MPI_FLOAT;
  case 1: return MPI_DOUBLE;
  case 2: return MPI_INT8_T;
  case 3: return MPI_INT16_T;
  case 4: return MPI_INT32_T;
  case 5: return MPI_INT64_T;
  case 6: return MPI_UINT8_T;
  default: return MPI_C_BOOL;
  }
}

static void need_init(lua_State *L, const char *fn) {
  if (!state(L)->inited) luaL_error(L, "%s: lp.dist.init() has not run", fn);
}

/* all_reduce(ptr, count, dtype, op) in place; op "sum" | "max" | "min" */
static int l_all_reduce(lua_State *L) {
  need_init(L, "lp.dist.all_reduce");
  void *p = ptr_arg(L, 1);
  lua_Integer n = luaL_checkinteger(L, 2);
  MPI_Datatype dt = dtype_arg(L, 3);
  static const char *const ops[] = { "sum", "max", "min", NULL };
  int o = luaL_checkoption(L, 4, "sum", ops);
  MPI_Op op = o == 0 ? MPI_SUM : o == 1 ? MPI_MAX : MPI_MIN;
  MPI_Request req;
  /* counts beyond INT_MAX in chunks */
  int esize;
  MPI_Type_size(dt, &esize);
  char *base = p;
  while (n > 0) {
    int k = n > (1 << 30) ? (1 << 30) : (int)n;
    int rc = MPI_Iallreduce(MPI_IN_PLACE, base, k, dt, op, MPI_COMM_WORLD, &req);
    if (rc != MPI_SUCCESS) return mpi_fail(L, "lp.dist.all_reduce", rc);
    wait_for(L, &req, "lp.dist.all_reduce");
    base += (size_t)k * (size_t)esize;
    n -= k;
  }
  return 0;
}

/* broadcast(ptr, nbytes, root) */
static int l_broadcast(lua_State *L) {
  need_init(L, "lp.dist.broadcast");
  char *p = ptr_arg(L, 1);
  lua_Integer n = luaL_checkinteger(L, 2);
  int root = (int)luaL_checkinteger(L, 3);
  MPI_Request req;
  while (n > 0) {
    int k = n > (1 << 30) ? (1 << 30) : (int)n;
    int rc = MPI_Ibcast(p, k, MPI_BYTE, root, MPI_COMM_WORLD, &req);
    if (rc != MPI_SUCCESS) return mpi_fail(L, "lp.dist.broadcast", rc);
    wait_for(L, &req, "lp.dist.broadcast");
    p += k;
    n -= k;
  }
  return 0;
}

/* all_gather(src, nbytes, dst): dst holds size * nbytes */
static int l_all_gather(lua_State *L) {
  need_init(L, "lp.dist.all_gather");
  void *src = ptr_arg(L, 1), *dst = ptr_arg(L, 3);
  lua_Integer n = luaL_checkinteger(L, 2);
  luaL_argcheck(L, n <= (1 << 30), 2, "at most 1 GiB per rank");
  MPI_Request req;
  int rc = MPI_Iallgather(src, (int)n, MPI_BYTE, dst, (int)n, MPI_BYTE, MPI_COMM_WORLD, &req);
  if (rc != MPI_SUCCESS) return mpi_fail(L, "lp.dist.all_gather", rc);
  wait_for(L, &req, "lp.dist.all_gather");
  return 0;
}

static int l_barrier(lua_State *L) {
  need_init(L, "lp.dist.barrier");
  MPI_Request req;
  int rc = MPI_Ibarrier(MPI_COMM_WORLD, &req);
  if (rc != MPI_SUCCESS) return mpi_fail(L, "lp.dist.barrier", rc);
  wait_for(L, &req, "lp.dist.barrier");
  return 0;
}

/* bcast_string(s or nil, root) -> s (on every rank) */
static int l_bcast_string(lua_State *L) {
  need_init(L, "lp.dist.broadcast_object");
  mpistate *s = state(L);
  int root = (int)luaL_checkinteger(L, 2);
  size_t len = 0;
  const char *str = s->rank == root ? luaL_checklstring(L, 1, &len) : NULL;
  int64_t n = (int64_t)len;
  MPI_Request req;
  int rc = MPI_Ibcast(&n, 1, MPI_INT64_T, root, MPI_COMM_WORLD, &req);
  if (rc != MPI_SUCCESS) return mpi_fail(L, "lp.dist.broadcast_object", rc);
  wait_for(L, &req, "lp.dist.broadcast_object");
  luaL_argcheck(L, n <= (1 << 30), 1, "object text over 1 GiB");
  char *buf = lua_newuserdatauv(L, (size_t)n + 1, 0);
  if (str) memcpy(buf, str, (size_t)n);
  rc = MPI_Ibcast(buf, (int)n, MPI_BYTE, root, MPI_COMM_WORLD, &req);
  if (rc != MPI_SUCCESS) return mpi_fail(L, "lp.dist.broadcast_object", rc);
  wait_for(L, &req, "lp.dist.broadcast_object");
  lua_pushlstring(L, buf, (size_t)n);
  return 1;
}

/* send_string(s, dest, tag): blocking send (small messages) */
static int l_send_string(lua_State *L) {
  need_init(L, "lp.sweep");
  size_t len;
  const char *str = luaL_checklstring(L, 1, &len);
  int dest = (int)luaL_checkinteger(L, 2), tag = (int)luaL_checkinteger(L, 3);
  MPI_Request req;
  int rc = MPI_Isend(str, (int)len, MPI_BYTE, dest, tag, MPI_COMM_WORLD, &req);
  if (rc != MPI_SUCCESS) return mpi_fail(L, "lp.sweep", rc);
  wait_for(L, &req, "lp.sweep (sending a result)");
  return 0;
}

/* recv_string(tag, block) -> s | nil: the next message with tag from anyone */
static int l_recv_string(lua_State *L) {
  need_init(L, "lp.sweep");
  int tag = (int)luaL_checkinteger(L, 1), block = lua_toboolean(L, 2);
  mpistate *s = state(L);
  MPI_Status st;
  int flag = 0;
  double deadline = now() + s->timeout;
  for (;;) {
    int rc = MPI_Iprobe(MPI_ANY_SOURCE, tag, MPI_COMM_WORLD, &flag, &st);
    if (rc != MPI_SUCCESS) return mpi_fail(L, "lp.sweep", rc);
    if (flag || !block) break;
    struct timespec ts = { 0, 200000 };
    nanosleep(&ts, NULL);
    if (now() > deadline) {
      fprintf(stderr, "lp.sweep: rank %d waited %.0f s for results from the other ranks (did one die?); "
              "aborting the job\n", s->rank + 1, s->timeout);
      fflush(stderr);
      MPI_Abort(MPI_COMM_WORLD, 3);
      exit(3);
    }
  }
  if (!flag) { lua_pushnil(L); return 1; }
  int n;
  MPI_Get_count(&st, MPI_BYTE, &n);
  char *buf = lua_newuserdatauv(L, (size_t)n + 1, 0);
  int rc = MPI_Recv(buf, n, MPI_BYTE, st.MPI_SOURCE, tag, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
  if (rc != MPI_SUCCESS) return mpi_fail(L, "lp.sweep", rc);
  lua_pushlstring(L, buf, (size_t)n);
  return 1;
}

/* ---- a shared counter on rank 0 (one-sided) ------------------------------ */

typedef struct { MPI_Win win; int64_t *cell; int live; } counter;
#define COUNTER "limpet.mpi.counter"

static int counter_free(lua_State *L) {
  counter *c = luaL_checkudata(L, 1, COUNTER);
  int finalized = 0;
  MPI_Finalized(&finalized);
  if (c->live && !finalized) MPI_Win_free(&c->win);
  c->live = 0;
  return 0;
}

/* counter(start) -> c   (collective) */
static int l_counter(lua_State *L) {
  need_init(L, "lp.sweep");
  mpistate *s = state(L);
  int64_t start = (int64_t)luaL_checkinteger(L, 1);
  counter *c = lua_newuserdatauv(L, sizeof *c, 0);
  c->live = 0;
  luaL_setmetatable(L, COUNTER);
  MPI_Aint bytes = s->rank == 0 ? (MPI_Aint)sizeof(int64_t) : 0;
  int rc = MPI_Win_allocate(bytes, sizeof(int64_t), MPI_INFO_NULL, MPI_COMM_WORLD, &c->cell, &c->win);
  if (rc != MPI_SUCCESS) return mpi_fail(L, "lp.sweep", rc);
  c->live = 1;
  if (s->rank == 0) {
    MPI_Win_lock(MPI_LOCK_EXCLUSIVE, 0, 0, c->win);
    *c->cell = start;
    MPI_Win_unlock(0, c->win);
  }
  MPI_Barrier(MPI_COMM_WORLD);
  return 1;
}

/* c:next() -> the counter's value before adding 1 */
static int l_counter_next(lua_State *L) {
  counter *c = luaL_checkudata(L, 1, COUNTER);
  if (!c->live) return luaL_error(L, "lp.sweep: counter is closed");
  int64_t one = 1, got = 0;
  MPI_Win_lock(MPI_LOCK_EXCLUSIVE, 0, 0, c->win);
  int rc = MPI_Fetch_and_op(&one, &got, MPI_INT64_T, 0, 0, MPI_SUM, c->win);
  MPI_Win_unlock(0, c->win);
  if (rc != MPI_SUCCESS) return mpi_fail(L, "lp.sweep", rc);
  lua_pushinteger(L, (lua_Integer)got);
  return 1;
}

static int l_abort(lua_State *L) {
  const char *msg = luaL_optstring(L, 1, "lp.dist.abort");
  fprintf(stderr, "%s\n", msg);
  fflush(stderr);
  MPI_Abort(MPI_COMM_WORLD, (int)luaL_optinteger(L, 2, 1));
  return 0;
}

int luaopen_limpet_mpi(lua_State *L) {
  /* Open MPI loads its components with dlopen and they look for libmpi's
     symbols globally; Lua opened this module (and libmpi with it) locally. */
  Dl_info info;
  if (dladdr((void *)MPI_Init_thread, &info) && info.dli_fname)
    dlopen(info.dli_fname, RTLD_NOW | RTLD_GLOBAL | RTLD_NOLOAD);
  static const luaL_Reg fns[] = {
    { "init", l_init }, { "all_reduce", l_all_reduce }, { "broadcast", l_broadcast },
    { "all_gather", l_all_gather }, { "barrier", l_barrier }, { "bcast_string", l_bcast_string },
    { "send_string", l_send_string }, { "recv_string", l_recv_string }, { "counter", l_counter },
    { "abort", l_abort }, { NULL, NULL },
  };
  lua_getfield(L, LUA_REGISTRYINDEX, STATE);
  if (lua_isnil(L, -1)) {
    mpistate *s = lua_newuserdatauv(L, sizeof *s, 0);
    memset(s, 0, sizeof *s);
    s->timeout = 300;
    lua_newtable(L);
    lua_pushcfunction(L, fin_gc);
    lua_setfield(L, -2, "__gc");
    lua_setmetatable(L, -2);
    lua_setfield(L, LUA_REGISTRYINDEX, STATE);
  }
  lua_pop(L, 1);
  if (luaL_newmetatable(L, COUNTER)) {
    lua_newtable(L);
    lua_pushcfunction(L, l_counter_next);
    lua_setfield(L, -2, "next");
    lua_pushcfunction(L, counter_free);
    lua_setfield(L, -2, "close");
    lua_setfield(L, -2, "__index");   /* no __gc: freeing a window is collective */
  }
  lua_pop(L, 1);
  luaL_newlib(L, fns);
  return 1;
}
