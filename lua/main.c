/*
** lua/main.c -- the `limpet` executable: script runner and interactive REPL.
** Owns: the lua5.4-compatible command line (-e -l -i -v -E -W - --, LUA_INIT,
** the `arg` table), the protected main and its traceback handler, Ctrl-C
** (SIGINT flag, Lua hook, engine interrupt flag), the REPL's terminal
** side: GNU readline, persistent history, tab completion, the prompt loop,
** and the process's malloc policy (keep_freed_memory, below).
** Not here: what the REPL compiles, prints and completes
** (stdlib/limpet/repl.lua), module paths (lua/paths.c), numerics (core/).
**
** The one C global of the project lives here: the SIGINT state. A signal
** handler and readline's callbacks take no user data, so the state they act
** on (the flag and the lua_State) has to be reachable from them.
*/
#include <errno.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <lua.h>
#include <lauxlib.h>
#include <lualib.h>

#include <readline/readline.h>
#include <readline/history.h>

#include "limpet/core.h"
#include "limpet/limpet.h"
#include "lbind.h"

int luaopen_limpet_core(lua_State *L);

#define PROGNAME      "limpet"
#define HISTORY_LINES 1000

static struct {
  volatile sig_atomic_t interrupted;  /* set by SIGINT, polled by kernels      */
  lua_State *L;                       /* the state the handler interrupts      */
} sigstate;

static const char *progname = PROGNAME;

/* ---- messages ----------------------------------------------------------- */

/* The options, as lua5.4 prints them; print_usage and print_help share them. */
static const char OPTIONS[] =
  "  -e stat   execute string 'stat'\n"
  "  -i        enter interactive mode after executing 'script'\n"
  "  -l mod    require library 'mod' into global 'mod'\n"
  "  -l g=mod  require library 'mod' into global 'g'\n"
  "  -v        show version information\n"
  "  -E        ignore environment variables\n"
  "  -W        turn warnings on\n"
  "  --        stop handling options\n"
  "  -         stop handling options and execute stdin\n";

static void print_usage(const char *badopt) {
  if (badopt[1] == 'e' || badopt[1] == 'l')
    fprintf(stderr, "%s: '%s' needs argument\n", progname, badopt);
  else
    fprintf(stderr, "%s: unrecognized option '%s'\n", progname, badopt);
  fprintf(stderr, "usage: %s [options] [script [args]]\nAvailable options are:\n%s", progname, OPTIONS);
  fflush(stderr);
}

/* limpet --help: what the man page (lua/limpet.1) says, in short. */
static void print_help(void) {
  printf(
    "limpet %s -- spiking neural networks: a C engine under Lua 5.4\n"
    "\n"
    "usage: limpet [options] [script [args]]\n"
    "       limpet                 an interactive prompt (REPL) with limpet loaded as lp\n"
    "       limpet experiment.lua  run a script; `local lp = require \"limpet\"` inside it\n"
    "\n"
    "options (those of lua5.4, plus two):\n"
    "%s"
    "  --help    show this help and exit\n"
    "  --version show the version and exit\n"
    "\n"
    "environment:\n"
    "  LIMPET_ROOT       folder holding stdlib/ and devices/ (default: found next to the executable)\n"
    "  OMP_NUM_THREADS   engine threads (OpenMP and OpenBLAS); lp.config{threads = n} at run time\n"
    "  OMP_WAIT_POLICY   idle-thread policy; limpet picks 'passive' unless you set one\n"
    "  LUA_INIT_5_4, LUA_INIT, LUA_PATH, LUA_CPATH   as for lua5.4\n"
    "\n"
    "In the REPL: Tab completes, Ctrl-C interrupts a running computation, help() lists the areas.\n"
    "More: man limpet, and the README.\n", LP_VERSION, OPTIONS);
  fflush(stdout);
}

static void print_message(const char *pname, const char *msg) {
  if (pname) fprintf(stderr, "%s: ", pname);
  fprintf(stderr, "%s\n", msg);
  fflush(stderr);
}

/* Print the error at the top (if status says there is one) and pop it. */
static int report(lua_State *L, int status) {
  if (status != LUA_OK) {
    const char *msg = lua_tostring(L, -1);
    print_message(progname, msg ? msg : "(error object is not a string)");
    lua_pop(L, 1);
  }
  return status;
}

static void print_version(void) {
  printf("limpet %s (%s)\n", LP_VERSION, LUA_RELEASE);
  fflush(stdout);
}

/* ---- Ctrl-C -------------------------------------------------------------- */

/* Runs at the next Lua call, return or instruction after a SIGINT: one
   Ctrl-C, one error. When a kernel saw the flag first and raised, lt_raise
   lowered the flag, so the hook only disarms itself and a pcall around the
   kernel catches the one error. */
static void stop_hook(lua_State *L, lua_Debug *ar) {
  (void)ar;
  lua_sethook(L, NULL, 0, 0);
  if (sigstate.interrupted) {
    sigstate.interrupted = 0;
    luaL_error(L, "interrupted!");
  }
}

static void on_sigint(int sig) {
  (void)sig;
  sigstate.interrupted = 1;
  if (sigstate.L)      /* lua_sethook is safe to call from a signal handler */
    lua_sethook(sigstate.L, stop_hook, LUA_MASKCALL | LUA_MASKRET | LUA_MASKCOUNT, 1);
}

/* Our handler, without SA_RESTART: a blocking read (readline's) returns
   EINTR so the prompt can be abandoned. */
static void catch_sigint(struct sigaction *old) {
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_sigint;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, old);
}

/* Forget an interrupt that arrived while no user code ran, or that a
   kernel already reported. */
static void clear_interrupt(lua_State *L) {
  if (lua_gethook(L) == stop_hook) lua_sethook(L, NULL, 0, 0);
  sigstate.interrupted = 0;
}

/* ---- running code ------------------------------------------------------ */

/* Message handler: the message and a traceback of where it was raised. */
static int msghandler(lua_State *L) {
  const char *msg = lua_tostring(L, 1);
  if (msg == NULL) {
    if (luaL_callmeta(L, 1, "__tostring") && lua_type(L, -1) == LUA_TSTRING) return 1;
    msg = lua_pushfstring(L, "(error object is a %s value)", luaL_typename(L, 1));
  }
  luaL_traceback(L, L, msg, 1);
  return 1;
}

/* Call the function below narg arguments with the traceback handler and
   Ctrl-C armed. Leaves nres results (or one message). */
static int docall(lua_State *L, int narg, int nres) {
  struct sigaction old;
  int status, base = lua_gettop(L) - narg;
  lua_pushcfunction(L, msghandler);
  lua_insert(L, base);
  clear_interrupt(L);
  catch_sigint(&old);
  status = lua_pcall(L, narg, nres, base);
  sigaction(SIGINT, &old, NULL);
  clear_interrupt(L);
  lua_remove(L, base);
  return status;
}

static int dochunk(lua_State *L, int status) {
  if (status == LUA_OK) status = docall(L, 0, 0);
  return report(L, status);
}

static int dostring(lua_State *L, const char *s, const char *name) {
  return dochunk(L, luaL_loadbuffer(L, s, strlen(s), name));
}

static int dofile(lua_State *L, const char *name) {
  return dochunk(L, luaL_loadfile(L, name));
}

/* -l mod or -l g=mod: global g (or mod) = require(mod). */
static int dolibrary(lua_State *L, char *spec) {
  int status;
  char *eq = strchr(spec, '=');
  const char *glob = spec, *mod = spec;
  if (eq) { *eq = '\0'; mod = eq + 1; }
  lua_getglobal(L, "require");
  lua_pushstring(L, mod);
  status = docall(L, 1, 1);
  if (status == LUA_OK) lua_setglobal(L, glob);
  if (eq) *eq = '=';
  return report(L, status);
}

/* arg: arg[0] the script, arg[1..] its arguments, arg[-k] what came before. */
static void create_arg_table(lua_State *L, char **argv, int argc, int script) {
  int i;
  if (script == argc) script = 0;        /* no script: arg[0] is the program */
  lua_createtable(L, argc - script - 1 > 0 ? argc - script - 1 : 0, script + 1);
  for (i = 0; i < argc; i++) {
    lua_pushstring(L, argv[i]);
    lua_rawseti(L, -2, i - script);
  }
  lua_setglobal(L, "arg");
}

static int push_script_args(lua_State *L) {
  int i, n;
  if (lua_getglobal(L, "arg") != LUA_TTABLE) luaL_error(L, "'arg' is not a table");
  n = (int)luaL_len(L, -1);
  luaL_checkstack(L, n + 3, "too many arguments to script");
  for (i = 1; i <= n; i++) lua_rawgeti(L, -i, i);
  lua_remove(L, -i);
  return n;
}

static int handle_script(lua_State *L, char **argv) {
  const char *fname = argv[0];
  int status;
  if (strcmp(fname, "-") == 0 && strcmp(argv[-1], "--") != 0) fname = NULL;  /* stdin */
  status = luaL_loadfile(L, fname);
  if (status == LUA_OK) {
    int n = push_script_args(L);
    status = docall(L, n, LUA_MULTRET);
  }
  return report(L, status);
}

enum { ARG_ERROR = 1, ARG_I = 2, ARG_V = 4, ARG_E = 8, ARG_NOENV = 16, ARG_HELP = 32, ARG_VERSION = 64 };

/* Scan the options; *script is the index of the script (argc if none), or
   of the bad option on ARG_ERROR. */
static int collect_args(char **argv, int *script) {
  int flags = 0, i;
  for (i = 1; argv[i] != NULL; i++) {
    const char *a = argv[i];
    *script = i;
    if (a[0] != '-') return flags;                 /* the script */
    switch (a[1]) {
      case '-':                                    /* --, --help, --version */
        if (!strcmp(a, "--help")) return flags | ARG_HELP;
        if (!strcmp(a, "--version")) return flags | ARG_VERSION;
        if (a[2] != '\0') return ARG_ERROR;
        *script = i + 1;
        return flags;
      case '\0':                                   /* - : stdin */
        return flags;
      case 'E': if (a[2]) return ARG_ERROR; flags |= ARG_NOENV; break;
      case 'W': if (a[2]) return ARG_ERROR; break;
      case 'i': if (a[2]) return ARG_ERROR; flags |= ARG_I | ARG_V; break;
      case 'v': if (a[2]) return ARG_ERROR; flags |= ARG_V; break;
      case 'e': case 'l':
        if (a[1] == 'e') flags |= ARG_E;
        if (a[2] == '\0') {                        /* argument in the next word */
          i++;
          if (argv[i] == NULL || argv[i][0] == '-') { *script = i - 1; return ARG_ERROR; }
        }
        break;
      default:
        return ARG_ERROR;
    }
  }
  *script = i;
  return flags;
}

/* Run -e, -l and -W in their order on the command line. */
static int run_args(lua_State *L, char **argv, int n) {
  int i;
  for (i = 1; i < n; i++) {
    char opt = argv[i][1];
    if (opt == 'e' || opt == 'l') {
      char *extra = argv[i] + 2;
      if (*extra == '\0') extra = argv[++i];
      if ((opt == 'e' ? dostring(L, extra, "=(command line)") : dolibrary(L, extra)) != LUA_OK)
        return 0;
    } else if (opt == 'W') {
      lua_warning(L, "@on", 0);
    }
  }
  return 1;
}

static int handle_luainit(lua_State *L) {
  const char *name = "=LUA_INIT_5_4";
  const char *init = getenv(name + 1);
  if (init == NULL) {
    name = "=LUA_INIT";
    init = getenv(name + 1);
  }
  if (init == NULL) return LUA_OK;
  if (init[0] == '@') return dofile(L, init + 1);
  return dostring(L, init, name);
}

/* ---- the REPL: terminal side ------------------------------------------- */

/* readline reads through this: a Ctrl-C ends the line at once (read gets
   EINTR), and the loop then drops it. */
static int getc_interruptible(FILE *in) {
  unsigned char c;
  for (;;) {
    ssize_t n;
    if (sigstate.interrupted) return '\n';
    n = read(fileno(in), &c, 1);
    if (n == 1) return c;
    if (n == 0 || errno != EINTR) return EOF;
  }
}

/* repl.complete(text) in protected mode; leaves a table of candidates or
   nothing. */
static int call_complete(lua_State *L) {
  lua_getfield(L, LUA_REGISTRYINDEX, "limpet.repl");
  lua_getfield(L, -1, "complete");
  lua_pushvalue(L, 1);
  lua_call(L, 1, 1);
  return 1;
}

static char **complete(const char *text, int start, int end) {
  lua_State *L = sigstate.L;
  char **matches = NULL;
  int top = lua_gettop(L);
  (void)start; (void)end;
  rl_attempted_completion_over = 1;     /* no file-name completion */
  rl_completion_append_character = '\0';
  lua_pushcfunction(L, call_complete);
  lua_pushstring(L, text);
  if (lua_pcall(L, 1, 1, 0) == LUA_OK && lua_istable(L, -1)) {
    int n = (int)lua_rawlen(L, -1), i, k = 1;
    size_t common = 0;
    if (n > 0 && (matches = calloc((size_t)n + 2, sizeof *matches)) != NULL) {
      for (i = 1; i <= n; i++) {
        const char *s;
        lua_rawgeti(L, -1, i);
        s = lua_tostring(L, -1);
        if (s && (matches[k] = strdup(s)) != NULL) {
          if (k == 1) common = strlen(s);
          else {
            size_t j = 0;
            while (j < common && matches[1][j] == s[j]) j++;
            common = j;
          }
          k++;
        }
        lua_pop(L, 1);
      }
      if (k == 1) { free(matches); matches = NULL; }
      else if ((matches[0] = strndup(matches[1], common)) == NULL) {
        for (i = 1; i < k; i++) free(matches[i]);
        free(matches);
        matches = NULL;
      } else if (k == 2) {   /* one candidate: it is the substitution */
        free(matches[1]);
        matches[1] = NULL;
      }
    }
  }
  lua_settop(L, top);
  return matches;
}

static char *history_path(void) {
  const char *env = getenv("LIMPET_HISTORY"), *home;
  char *path;
  if (env && *env) return strdup(env);
  home = getenv("HOME");
  if (!home || !*home) return NULL;
  path = malloc(strlen(home) + sizeof "/.limpet_history");
  if (path) sprintf(path, "%s/.limpet_history", home);
  return path;
}

static void history_add(const char *path, const char *entry) {
  const char *p = entry;
  while (*p == ' ' || *p == '\t' || *p == '\n') p++;
  if (*p == '\0') return;
  add_history(entry);
  if (path && append_history(1, path) != 0) write_history(path);
}

/* repl.<fn>(args...) in protected mode with the traceback handler; reports
   errors. The function's arguments are the nargs values at the top. */
static int call_repl(lua_State *L, const char *fn, int nargs, int nres) {
  lua_getfield(L, LUA_REGISTRYINDEX, "limpet.repl");
  lua_getfield(L, -1, fn);
  lua_remove(L, -2);
  lua_insert(L, -nargs - 1);
  return docall(L, nargs, nres);
}

static void print_error(lua_State *L) {
  const char *msg = lua_tostring(L, -1);
  print_message(NULL, msg ? msg : "(error object is not a string)");
  lua_pop(L, 1);
}

/* One chunk: compile (repl.compile), run, print the results (repl.print).
   The chunk source is at the top; it is popped. Returns 0 when the chunk is
   incomplete (the source then stays pushed, waiting for more lines). */
static int eval_chunk(lua_State *L, const char *hist) {
  int top = lua_gettop(L), status;
  lua_pushvalue(L, -1);
  if (call_repl(L, "compile", 1, 2) != LUA_OK) {   /* repl.lua itself failed */
    print_error(L);
    lua_settop(L, top - 1);
    return 1;
  }
  if (lua_isnil(L, -2) && lua_isstring(L, -1) && strcmp(lua_tostring(L, -1), "incomplete") == 0) {
    lua_settop(L, top);
    return 0;
  }
  history_add(hist, lua_tostring(L, top));
  if (lua_isnil(L, -2)) {                           /* syntax error */
    print_message(NULL, lua_tostring(L, -1));
    lua_settop(L, top - 1);
    return 1;
  }
  lua_pop(L, 1);
  status = docall(L, 0, LUA_MULTRET);
  if (status != LUA_OK) print_error(L);
  else if (lua_gettop(L) > top) {
    int n = lua_gettop(L) - top;
    lua_pushinteger(L, n);
    lua_insert(L, top + 1);
    if (call_repl(L, "print", n + 1, 0) != LUA_OK) print_error(L);
  }
  lua_settop(L, top - 1);
  return 1;
}

static void repl(lua_State *L) {
  char *hist = history_path();
  int base;
  const char *prompt1 = "limpet> ", *prompt2 = ">> ";
  struct sigaction old;

  lua_getglobal(L, "require");
  lua_pushliteral(L, "limpet.repl");
  if (docall(L, 1, 1) != LUA_OK) {
    print_error(L);
    free(hist);
    return;
  }
  lua_setfield(L, LUA_REGISTRYINDEX, "limpet.repl");
  lua_pushliteral(L, LUA_RELEASE);
  if (call_repl(L, "start", 1, 1) != LUA_OK) print_error(L);
  else {
    if (lua_isstring(L, -1)) printf("%s\n", lua_tostring(L, -1));  /* the banner */
    lua_pop(L, 1);
  }
  fflush(stdout);
  lua_getfield(L, LUA_REGISTRYINDEX, "limpet.repl");
  lua_getfield(L, -1, "prompt");
  lua_getfield(L, -2, "prompt2");
  if (lua_isstring(L, -2)) prompt1 = lua_tostring(L, -2);
  if (lua_isstring(L, -1)) prompt2 = lua_tostring(L, -1);
  base = lua_gettop(L);                 /* keeps the prompt strings alive */

  rl_readline_name = "limpet";
  rl_catch_signals = 0;
  rl_getc_function = getc_interruptible;
  rl_attempted_completion_function = complete;
  rl_completer_word_break_characters = " \t\n\"'`@$><=;|&{}()[],+-*/%^~#";
  using_history();
  stifle_history(HISTORY_LINES);
  if (hist) read_history(hist);
  catch_sigint(&old);

  for (;;) {
    int pending = lua_gettop(L) > base;   /* an incomplete chunk is pushed */
    char *line;
    clear_interrupt(L);
    line = readline(pending ? prompt2 : prompt1);
    if (line == NULL) {                    /* Ctrl-D */
      printf("\n");
      break;
    }
    if (sigstate.interrupted) {            /* Ctrl-C: drop the line and any pending chunk */
      free(line);
      lua_settop(L, base);
      continue;
    }
    clear_interrupt(L);
    if (pending) {
      lua_pushfstring(L, "\n%s", line);
      lua_concat(L, 2);
    } else {
      lua_pushstring(L, line);
    }
    free(line);
    eval_chunk(L, hist);
    fflush(stdout);
  }
  sigaction(SIGINT, &old, NULL);
  if (hist) {
    history_truncate_file(hist, HISTORY_LINES);
    free(hist);
  }
  lua_settop(L, base - 3);
}

/* ---- main -------------------------------------------------------------- */

static int pmain(lua_State *L) {
  int argc = (int)lua_tointeger(L, 1);
  char **argv = (char **)lua_touserdata(L, 2);
  int script = argc, flags;
  flags = collect_args(argv, &script);
  if (flags & ARG_ERROR) {
    print_usage(argv[script]);
    return 0;
  }
  if (flags & (ARG_HELP | ARG_VERSION)) {     /* print and leave, like any Unix tool */
    if (flags & ARG_HELP) print_help(); else print_version();
    lua_pushboolean(L, 1);
    return 1;
  }
  if (flags & ARG_NOENV) {
    lua_pushboolean(L, 1);
    lua_setfield(L, LUA_REGISTRYINDEX, "LUA_NOENV");
  }
  luaL_openlibs(L);
  if (lp_lua_setup(L) != 0) lua_pop(L, 1);   /* `require "limpet"` will say why */
  /* The engine context exists once limpet.core is open: open it now, so
     kernels see the SIGINT flag from the start. */
  luaL_requiref(L, "limpet.core", luaopen_limpet_core, 0);
  lua_pop(L, 1);
  lt_set_interrupt_flag(L, &sigstate.interrupted);
  sigstate.L = L;
  create_arg_table(L, argv, argc, script);
  if ((flags & ARG_V) && !(flags & ARG_I)) print_version();
  if (!(flags & ARG_NOENV) && handle_luainit(L) != LUA_OK) return 0;
  if (!run_args(L, argv, script)) return 0;
  if (script < argc && handle_script(L, argv + script) != LUA_OK) return 0;
  if (flags & ARG_I) {
    progname = NULL;
    repl(L);
  } else if (script == argc && !(flags & (ARG_E | ARG_V))) {
    if (isatty(STDIN_FILENO)) {
      progname = NULL;
      repl(L);
    } else if (dofile(L, NULL) != LUA_OK) {
      return 0;
    }
  }
  lua_pushboolean(L, 1);
  return 1;
}

/* libgomp reads its wait policy when it is loaded, before main runs. Left
   to its default, idle OpenMP threads spin, and on a busy 2-core machine a
   spinning pool made W1 ten times slower (bench/w1.lua: 24 ms against
   2.5 ms). DESIGN asks idle threads to sleep, so unless the user chose a
   policy, OMP_WAIT_POLICY=passive is set from the executable's
   .preinit_array: the dynamic loader runs it after relocating everything
   and before any shared library's initialiser (libgomp's reads the
   environment there). It replaced a re-exec of /proc/self/exe, which loaded
   the 68 shared libraries twice: half of `limpet -e ''`'s CPU time (issue
   17). __libc_start_main then points environ back at the original block,
   so main sets the variable again for the process (os.getenv, children). */
static void ensure_sleeping_threads(int argc, char **argv, char **envp) {
  (void)argc;
  (void)argv;
  (void)envp;
  if (getenv("OMP_WAIT_POLICY") != NULL) return;
  (void)setenv("OMP_WAIT_POLICY", "passive", 1);
}
__attribute__((section(".preinit_array"), used)) static void (*const preinit_wait_policy)(int, char **,
                                                                                          char **) =
    ensure_sleeping_threads;

/* Training allocates and frees tensors of many MB every batch. glibc's
** defaults serve those with mmap and give them back at free (or trim the
** heap top), so each batch page-faults and zeroes the same memory again:
** measured on the spiking CNN example (640 images, one epoch), 7 CPU-s of
** which 1.6 s system time, against 5 CPU-s and 0.5 s with the policy below.
** Every block comes from the heap (no mmap: M_MMAP_THRESHOLD cannot go
** above 32 MiB, and convolution scratch is larger) and the heap top is
** trimmed only above 512 MiB free. The executable only: a program
** embedding limpet keeps its own policy. */
static void keep_freed_memory(void) {
#ifdef __GLIBC__
  mallopt(M_MMAP_MAX, 0);
  mallopt(M_TRIM_THRESHOLD, 512 * 1024 * 1024);
#endif
}

int main(int argc, char **argv) {
  int status, ok;
  lua_State *L;
  keep_freed_memory();
  ensure_sleeping_threads(argc, argv, NULL);
  L = luaL_newstate();
  if (argv[0] && argv[0][0]) progname = argv[0];
  if (L == NULL) {
    print_message(progname, "cannot create state: not enough memory");
    return EXIT_FAILURE;
  }
  lua_pushcfunction(L, pmain);
  lua_pushinteger(L, argc);
  lua_pushlightuserdata(L, argv);
  status = lua_pcall(L, 2, 1, 0);
  ok = lua_toboolean(L, -1);
  report(L, status);
  sigstate.L = NULL;
  lua_close(L);
  return (ok && status == LUA_OK) ? EXIT_SUCCESS : EXIT_FAILURE;
}
