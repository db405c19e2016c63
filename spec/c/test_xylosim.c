/*
** spec/c/test_xylosim.c -- C tests of devices/xylo/xylosim.h: the integer
** facts of reference/xylo.md §3 on one- and two-neuron networks (bit-shift
** decay of positive and negative values, saturation order of deliveries,
** multi-spike subtractive reset with the 31 cap, aliases into higher and
** lower ids, input clipping to 15), range checks, and allocation failures
** (every allocation of new + evolve with records fails once: LP_ENOMEM,
** nothing leaks, the state is unchanged). Links only the core archive.
*/
#include "../../devices/xylo/xylosim.h"
#include "check.h"
#include <string.h>

static lp_ctx *ctx;

/* A network of nh hidden neurons, 1 input, 1 output; arrays zeroed. */
typedef struct net {
  int32_t w_in[4 * 8 * 2], w_rec[8 * 8 * 2], w_out[8 * 2];
  int32_t dm[8], ds[8], ds2[8], th[8], bias[8], dmo[2], dso[2], tho[2], bo[2];
  int32_t aptr[9], aidx[8];
  lp_xylo_spec s;
} net;

static void net_init(net *n, int nin, int nh, int nsyn) {
  int i;
  memset(n, 0, sizeof *n);
  n->s.nin = nin; n->s.nhid = nh; n->s.nout = 1; n->s.nsyn = nsyn;
  n->s.w_in = n->w_in; n->s.w_rec = n->w_rec; n->s.w_out = n->w_out;
  n->s.dash_mem = n->dm; n->s.dash_syn = n->ds; n->s.dash_syn2 = n->ds2;
  n->s.threshold = n->th; n->s.bias = n->bias;
  n->s.dash_mem_out = n->dmo; n->s.dash_syn_out = n->dso; n->s.threshold_out = n->tho; n->s.bias_out = n->bo;
  for (i = 0; i < 8; i++) n->th[i] = 30000;
  n->tho[0] = 30000;
}

static lp_tensor *counts(int64_t T, int64_t nin, const int32_t *v) {
  int64_t shape[2];
  lp_tensor *t = NULL;
  shape[0] = T; shape[1] = nin;
  if (lp_tensor_from_data(ctx, LP_I32, 2, shape, v, &t) != LP_OK) return NULL;
  return t;
}

static int32_t at(const lp_tensor *t, int64_t i) { return (int32_t)lp_tensor_get_flat(t, i).i; }

/* §3.1: Isyn decay with dash 4 from 17 and -17; dash 1 from -3; 1 -> 0 */
static void test_decay(void) {
  net n;
  lp_xylo *x = NULL;
  lp_xylo_result r;
  int32_t in[3] = {1, 0, 0};
  lp_tensor *X = counts(3, 1, in);
  net_init(&n, 1, 4, 1);
  n.w_in[0] = 17; n.w_in[1] = -17; n.w_in[2] = -3; n.w_in[3] = 1;
  n.ds[0] = 4; n.ds[1] = 4; n.ds[2] = 1; n.ds[3] = 3;
  n.dm[0] = n.dm[1] = n.dm[2] = n.dm[3] = 15;
  CHECK_OK(lp_xylo_new(ctx, &n.s, &x));
  CHECK_OK(lp_xylo_evolve(ctx, x, X, LP_XYLO_SPIKE, 1, &r));
  /* step 0: delivered then decayed once */
  CHECK(at(r.isyn, 0) == 16); CHECK(at(r.isyn, 1) == -15); CHECK(at(r.isyn, 2) == -1); CHECK(at(r.isyn, 3) == 0);
  /* step 1: 16 -> 15, -15 -> -14 (ceil(15/16) = 1), -1 -> 0 */
  CHECK(at(r.isyn, 4) == 15); CHECK(at(r.isyn, 5) == -14); CHECK(at(r.isyn, 6) == 0);
  /* Vmem integrates the decayed Isyn: dash_mem 15 leaks 1 from positive values */
  CHECK(at(r.vmem, 0) == 16 - 0); CHECK(at(r.vmem, 4) == 16 - 1 + 15);
  lp_xylo_result_release(&r);
  lp_xylo_free(x);
  lp_tensor_release(X);
}

/* §3.2: +2000 then -2000 onto 32000 saturates in between: 30767 (before decay) */
static void test_saturation_order(void) {
  net n;
  lp_xylo *x = NULL;
  lp_xylo_result r;
  int32_t in[2 * 3] = {0, 0, 0, 0, 0, 0};
  lp_tensor *X;
  lp_xylo_state st;
  net_init(&n, 3, 1, 1);
  /* channel 0: +2000 (125 << 4), channel 1: -2000 */
  n.w_in[0] = 125; n.w_in[1] = -125;
  n.s.shift_in = 4;
  n.ds[0] = 15; n.dm[0] = 15;
  CHECK_OK(lp_xylo_new(ctx, &n.s, &x));
  CHECK_OK(lp_xylo_get_state(ctx, x, &st));
  lp_tensor_fill_(ctx, st.isyn, lp_int(32000));
  CHECK_OK(lp_xylo_set_state(ctx, x, &st));
  in[0] = 1; in[1] = 1;
  X = counts(1, 3, in);
  CHECK_OK(lp_xylo_evolve(ctx, x, X, LP_XYLO_SPIKE, 1, &r));
  /* 32000 + 2000 -> 32767, - 2000 -> 30767, decay (dash 15) -> 30766 */
  CHECK(at(r.isyn, 0) == 30766);
  lp_xylo_result_release(&r);
  lp_tensor_release(X);
  lp_xylo_state_release(&st);
  lp_xylo_free(x);
}

/* §3.3 / §3.4: multi-spike reset capped at 31, alias into a higher id and a lower id */
static void test_spikes_aliases(void) {
  net n;
  lp_xylo *x = NULL;
  lp_xylo_result r;
  int32_t in[1] = {20};          /* clipped to 15 */
  lp_tensor *X = counts(1, 1, in);
  net_init(&n, 1, 3, 1);
  n.w_in[0] = 100; n.w_in[1] = 0; n.w_in[2] = 0;
  n.s.shift_in = 7;              /* 12800 per event, 15 events: saturates at 32767 */
  n.ds[0] = 15; n.dm[0] = 15;
  n.th[0] = 100;                 /* 32766 / 100 = 327 spikes wanted: capped at 31 */
  n.th[1] = 30000; n.th[2] = 30000;
  n.aptr[0] = 0; n.aptr[1] = 1; n.aptr[2] = 2; n.aptr[3] = 2;
  n.aidx[0] = 2;                 /* 0 -> 2 (higher id) */
  n.aidx[1] = 0;                 /* 1 -> 0 (lower id; 1 does not spike) */
  n.s.alias_ptr = n.aptr; n.s.alias_idx = n.aidx;
  CHECK_OK(lp_xylo_new(ctx, &n.s, &x));
  CHECK_OK(lp_xylo_evolve(ctx, x, X, LP_XYLO_SPIKE, 1, &r));
  CHECK(at(r.isyn, 0) == 32766);
  CHECK(at(r.spikes, 0) == 31);
  CHECK(at(r.vmem, 0) == 32766 - 31 * 100);
  CHECK(at(r.spikes, 1) == 0);
  CHECK(at(r.spikes, 2) == 31);  /* aliased count */
  lp_xylo_result_release(&r);
  lp_xylo_free(x);
  lp_tensor_release(X);
}

static void test_checks(void) {
  net n;
  lp_xylo *x = NULL;
  lp_xylo_result r;
  int32_t in[2] = {1, 0};
  lp_tensor *X = counts(1, 2, in);
  net_init(&n, 1, 2, 2);
  n.dm[1] = 16;
  CHECK(lp_xylo_new(ctx, &n.s, &x) == LP_EARG && x == NULL);
  CHECK(strstr(lp_ctx_errmsg(ctx), "dash_mem") != NULL);
  n.dm[1] = 0; n.w_rec[3] = 128;
  CHECK(lp_xylo_new(ctx, &n.s, &x) == LP_EARG);
  n.w_rec[3] = 0; n.s.shift_out = 8;
  CHECK(lp_xylo_new(ctx, &n.s, &x) == LP_EARG);
  n.s.shift_out = 0;
  CHECK_OK(lp_xylo_new(ctx, &n.s, &x));
  CHECK(lp_xylo_evolve(ctx, x, X, LP_XYLO_SPIKE, 0, &r) == LP_ESHAPE);   /* 2 channels, net has 1 */
  lp_xylo_free(x);
  lp_tensor_release(X);
}

/* every allocation of new + get_state + evolve(record) fails once */
static void test_alloc_failures(void) {
  net n;
  int32_t in[4 * 4];
  long k;
  int i, done = 0;
  lp_tensor *X;
  for (i = 0; i < 16; i++) in[i] = i % 3;
  X = counts(4, 4, in);
  net_init(&n, 4, 6, 2);
  for (i = 0; i < 4 * 6 * 2; i++) n.w_in[i] = (i * 37) % 200 - 100;
  for (i = 0; i < 6 * 6 * 2; i++) n.w_rec[i] = (i * 53) % 250 - 125;
  for (i = 0; i < 6; i++) { n.th[i] = 500; n.dm[i] = 2; n.ds[i] = 1; n.ds2[i] = 3; n.w_out[i] = 50; }
  for (k = 1; k < 200 && !done; k++) {
    size_t live = lp_ctx_bytes_live(ctx);
    lp_xylo *x = NULL;
    lp_xylo_result r;
    lp_xylo_state st;
    lp_status s1, s2 = LP_OK, s3 = LP_OK;
    memset(&st, 0, sizeof st);
    lp_ctx_fail_alloc_after(ctx, k);
    s1 = lp_xylo_new(ctx, &n.s, &x);
    if (s1 == LP_OK) s2 = lp_xylo_evolve(ctx, x, X, LP_XYLO_VMEM, 1, &r);
    if (s1 == LP_OK && s2 == LP_OK) s3 = lp_xylo_get_state(ctx, x, &st);
    lp_ctx_fail_alloc_after(ctx, 0);
    CHECK(s1 == LP_OK || s1 == LP_ENOMEM);
    CHECK(s2 == LP_OK || s2 == LP_ENOMEM);
    CHECK(s3 == LP_OK || s3 == LP_ENOMEM);
    if (s1 != LP_OK) CHECK(x == NULL);
    if (s2 == LP_ENOMEM) {           /* nothing produced, state untouched */
      lp_xylo_state z;
      CHECK(r.output == NULL && r.vmem == NULL);
      CHECK_OK(lp_xylo_get_state(ctx, x, &z));
      CHECK(lp_tensor_numel(z.vmem) == 6 && at(z.vmem, 0) == 0);
      lp_xylo_state_release(&z);
    }
    if (s1 == LP_OK && s2 == LP_OK) {
      if (s3 == LP_OK) done = 1;
      lp_xylo_result_release(&r);
    }
    lp_xylo_state_release(&st);
    lp_xylo_free(x);
    CHECK(lp_ctx_bytes_live(ctx) == live);
  }
  CHECK(done);
  lp_tensor_release(X);
}

int main(void) {
  if (lp_ctx_new(&ctx) != LP_OK) return 1;
  RUN(test_decay);
  RUN(test_saturation_order);
  RUN(test_spikes_aliases);
  RUN(test_checks);
  RUN(test_alloc_failures);
  lp_ctx_free(ctx);
  return TEST_REPORT("test_xylosim");
}
