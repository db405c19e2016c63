/*
** spec/c/fail_alloc.h -- the allocation-failure loop the C tests share:
** run an operation with the engine's n-th allocation failing, for n = 1,
** 2, ... until it succeeds; every failed run must return LP_ENOMEM and
** give back every byte (lp_ctx_bytes_live back where it was), and an
** optional check (stray temporary files, ...) must hold after each.
** Include after check.h. Used by test_data.c, test_events.c, test_io.c.
*/
#ifndef LIMPET_FAIL_ALLOC_H
#define LIMPET_FAIL_ALLOC_H
#include <stdio.h>

#include "limpet/core.h"

typedef lp_status (*fail_alloc_op)(void *arg);

/* Runs op(arg) under lp_ctx_fail_alloc_after(ctx, n) for n = 1 .. 999 and
   CHECKs what the header says; after_each (may be NULL) returns nonzero
   when something is wrong after a failed run. */
static inline void fail_alloc_loop(lp_ctx *ctx, const char *what, fail_alloc_op op, void *arg, int (*after_each)(void)) {
  size_t base = lp_ctx_bytes_live(ctx);
  long n;
  for (n = 1; n < 1000; n++) {
    lp_status st;
    lp_ctx_fail_alloc_after(ctx, n);
    st = op(arg);
    lp_ctx_fail_alloc_after(ctx, 0);
    if (st == LP_OK) break;
    if (st != LP_ENOMEM || lp_ctx_bytes_live(ctx) != base) {
      fprintf(stderr, "  %s: allocation %ld: %s (%s), %zu bytes live, %zu before\n", what, n,
              lp_status_name(st), lp_ctx_errmsg(ctx), lp_ctx_bytes_live(ctx), base);
      CHECK(0);
      return;
    }
    if (after_each) CHECK(after_each() == 0);
  }
  CHECK(n > 1 && n < 1000);
  CHECK(lp_ctx_bytes_live(ctx) == base);
}

/* The same for an operation that takes no argument. */
typedef lp_status (*fail_alloc_op0)(void);

static inline lp_status fail_alloc_call0_(void *arg) { return (*(fail_alloc_op0 *)arg)(); }

static inline void fail_alloc_loop0(lp_ctx *ctx, const char *what, fail_alloc_op0 op) {
  fail_alloc_loop(ctx, what, fail_alloc_call0_, &op, NULL);
}

#endif
