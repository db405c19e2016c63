/*
** spec/c/test_data.c -- the data-set formats (core/src/gz.c, h5.c, encode.c).
** Owns: gzip (multi-member, truncated, foreign, lying about its size), IDX element types, N-MNIST
** record decoding, folder listings, HDF5 reads of the SHD fixture, the
** seeded rate encoder, and the allocation-failure loop over each of them.
** Fixtures: spec/fixtures/data/ (make_fixtures.py). Runs from the repo root.
*/
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "limpet/data.h"
#include "check.h"
#include "fail_alloc.h"

#define FX "spec/fixtures/data/"

static lp_ctx *ctx;

static int msg_is(const char *want) {
  if (strcmp(lp_ctx_errmsg(ctx), want) == 0) return 1;
  fprintf(stderr, "  message: %s\n  wanted:  %s\n", lp_ctx_errmsg(ctx), want);
  return 0;
}

static void test_gz(void) {
  lp_tensor *t = NULL;
  char tmp[] = "/tmp/limpet-test-gz-XXXXXX";
  int fd;
  FILE *fp;
  CHECK_OK(lp_gz_read(ctx, FX "two_members.gz", &t));
  CHECK(t && lp_tensor_numel(t) == 12 && memcmp(lp_tensor_data(t), "hello, world", 12) == 0);
  lp_tensor_release(t); t = NULL;
  CHECK(lp_gz_read(ctx, "spec/c/check.h", &t) == LP_EFORMAT && !t);
  CHECK(msg_is("'spec/c/check.h' at offset 0: not a gzip file (bad magic)"));
  CHECK(lp_gz_read(ctx, "/nonexistent.gz", &t) == LP_EIO);
  CHECK(msg_is("cannot open '/nonexistent.gz': No such file or directory"));
  CHECK(lp_gz_read(ctx, "spec", &t) == LP_EIO);
  CHECK(msg_is("cannot open 'spec': Is a directory"));
  /* a truncated copy */
  fd = mkstemp(tmp);
  fp = fdopen(fd, "wb");
  {
    FILE *src = fopen(FX "fmnist/t10k-labels-idx1-ubyte.gz", "rb");
    char buf[25];
    size_t n = fread(buf, 1, sizeof buf, src);
    fclose(src);
    fwrite(buf, 1, n, fp);
    fclose(fp);
  }
  CHECK(lp_gz_read(ctx, tmp, &t) == LP_EFORMAT);
  {
    char want[256];
    snprintf(want, sizeof want, "'%s' at offset 25: truncated gzip data (unexpected end of file)", tmp);
    CHECK(msg_is(want));
  }
  /* the size cap refuses big output */
  lp_ctx_set_max_bytes(ctx, 8);
  CHECK(lp_gz_read(ctx, FX "two_members.gz", &t) == LP_ESIZE);
  CHECK(msg_is("'" FX "two_members.gz': decompressed size exceeds the cap of 8 bytes"));
  lp_ctx_set_max_bytes(ctx, (size_t)1 << 40);
  unlink(tmp);
}

/* Issue 16, finding 3: a 31-byte corrupt file whose trailer (ISIZE) claims
   4 GiB is a corrupt gzip, found before anything large is allocated. */
static void test_gz_isize(void) {
  static const unsigned char bomb[31] = {
    0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3,                       /* header */
    0xed, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,  /* broken deflate */
    0, 0, 0, 0,                                                 /* CRC32 */
    0xff, 0xff, 0xff, 0xff };                                   /* ISIZE: 4 GiB - 1 */
  char tmp[] = "/tmp/limpet-test-gz-XXXXXX";
  int fd = mkstemp(tmp);
  FILE *fp = fdopen(fd, "wb");
  lp_tensor *t = NULL;
  size_t made;
  fwrite(bomb, 1, sizeof bomb, fp);
  fclose(fp);
  lp_ctx_take_allocated(ctx);
  CHECK(lp_gz_read(ctx, tmp, &t) == LP_EFORMAT && !t);
  made = lp_ctx_take_allocated(ctx);
  CHECK(made < ((size_t)1 << 20));
  if (made >= ((size_t)1 << 20)) fprintf(stderr, "  allocated %zu bytes for a 31-byte file\n", made);
  CHECK(strstr(lp_ctx_errmsg(ctx), tmp) != NULL && strstr(lp_ctx_errmsg(ctx), "gzip data") != NULL);
  unlink(tmp);
}

static void test_idx(void) {
  lp_tensor *t = NULL;
  CHECK_OK(lp_idx_read(ctx, FX "i16.idx.gz", &t));
  CHECK(lp_tensor_dtype(t) == LP_I16 && lp_tensor_ndim(t) == 2 && lp_tensor_shape(t)[1] == 3);
  CHECK(lp_tensor_get_flat(t, 1).i == -2 && lp_tensor_get_flat(t, 2).i == 300 && lp_tensor_get_flat(t, 3).i == -32768);
  lp_tensor_release(t); t = NULL;
  CHECK_OK(lp_idx_read(ctx, FX "f64.idx", &t));
  CHECK(lp_tensor_dtype(t) == LP_F64 && lp_tensor_numel(t) == 3);
  CHECK(lp_tensor_get_flat(t, 1).f == -1.25 && lp_tensor_get_flat(t, 2).f == 1e300);
  lp_tensor_release(t); t = NULL;
  CHECK_OK(lp_idx_read(ctx, FX "fmnist/train-images-idx3-ubyte.gz", &t));
  CHECK(lp_tensor_ndim(t) == 3 && lp_tensor_shape(t)[0] == 4 && lp_tensor_get_flat(t, 300).i == 300 % 256);
  lp_tensor_release(t); t = NULL;
  {
    static const unsigned char bad[] = {0, 0, 0x07, 1, 0, 0, 0, 1, 5};
    lp_tensor *b = NULL;
    int64_t n = sizeof bad;
    CHECK_OK(lp_tensor_from_data(ctx, LP_U8, 1, &n, bad, &b));
    CHECK(lp_idx_decode(ctx, b, "x", &t) == LP_EFORMAT && msg_is("'x' at offset 2: unknown IDX element type 0x07"));
    lp_tensor_release(b);
  }
}

static const unsigned char events[] = {
  7, 15, 0x80, 0x02, 0x8e,       /* x 7, y 15, ON, t 654 */
  0, 240, 0, 0, 0,               /* overflow marker */
  33, 0, 0x7f, 0xff, 0xff,       /* OFF, t 2^23 - 1 */
};

static void test_nmnist(void) {
  lp_tensor *t, *x, *y, *p;
  CHECK_OK(lp_nmnist_decode(ctx, events, sizeof events, "e", 34, 34, &t, &x, &y, &p));
  CHECK(lp_tensor_numel(t) == 2);
  CHECK(lp_tensor_get_flat(t, 0).f == 654 / 1e6 && lp_tensor_get_flat(t, 1).f == (8388607.0 + 8192) / 1e6);
  CHECK(lp_tensor_get_flat(x, 0).i == 8 && lp_tensor_get_flat(x, 1).i == 34);
  CHECK(lp_tensor_get_flat(y, 0).i == 16 && lp_tensor_get_flat(y, 1).i == 1);
  CHECK(lp_tensor_get_flat(p, 0).i == 2 && lp_tensor_get_flat(p, 1).i == 1);
  lp_tensor_release(t); lp_tensor_release(x); lp_tensor_release(y); lp_tensor_release(p);
  CHECK(lp_nmnist_decode(ctx, events, 14, "e", 0, 0, &t, &x, &y, &p) == LP_EFORMAT && !t);
  CHECK(msg_is("'e' at offset 10: truncated event record (4 of 5 bytes)"));
  CHECK(lp_nmnist_decode(ctx, events, 15, "e", 33, 34, &t, &x, &y, &p) == LP_EFORMAT);
  CHECK(msg_is("'e' at offset 10: event (x 33, y 0) outside the 33x34 sensor"));
}

static void test_dir(void) {
  int64_t n = 0;
  char **names = NULL;
  CHECK_OK(lp_dir_list(ctx, FX "nmnist/Train", &n, &names));
  CHECK(n == 2 && strcmp(names[0], "0") == 0 && strcmp(names[1], "3") == 0);
  lp_names_free(n, names);
  CHECK(lp_dir_list(ctx, "/nonexistent", &n, &names) == LP_EIO && n == 0 && !names);
}

static void test_h5(void) {
  lp_h5 *h = NULL;
  lp_h5_value v;
  lp_h5_info info;
  CHECK_OK(lp_h5_open(ctx, FX "shd/shd_train.h5", &h));
  CHECK_OK(lp_h5_info_of(ctx, h, "spikes/units", &info));
  CHECK(info.kind == LP_H5_VLEN && info.dtype == LP_I32 && info.ndim == 1 && info.shape[0] == 5);
  CHECK_OK(lp_h5_read(ctx, h, "spikes/units", 1, 2, &v));
  CHECK(v.kind == LP_H5_VLEN && lp_tensor_numel(v.offsets) == 3 && lp_tensor_get_flat(v.offsets, 2).i == 12);
  lp_h5_value_free(&v);
  CHECK_OK(lp_h5_read(ctx, h, "extra/keys", 0, -1, &v));
  CHECK(v.kind == LP_H5_STRING && v.n == 5 && strcmp(v.strs[3], "english three") == 0);
  lp_h5_value_free(&v);
  CHECK(lp_h5_read(ctx, h, "labels", 4, 2, &v) == LP_ERANGE);
  CHECK(msg_is("'" FX "shd/shd_train.h5': rows 5..6 out of range for 'labels' with 5 rows"));
  lp_h5_close(h);
  lp_h5_close(NULL);
  CHECK(lp_h5_open(ctx, "spec/c/check.h", &h) == LP_EFORMAT && !h);
}

static void test_encode(void) {
  lp_tensor *p = NULL, *a = NULL, *b = NULL;
  int64_t n = 1000, k, ones = 0;
  float half = 0.5f;
  lp_tensor *ph = NULL;
  int64_t one = 1;
  CHECK_OK(lp_tensor_from_data(ctx, LP_F32, 1, &one, &half, &ph));
  CHECK_OK(lp_tensor_new(ctx, LP_F32, 1, &n, &p));
  CHECK_OK(lp_tensor_copy_(ctx, p, ph));
  CHECK_OK(lp_encode_rate(ctx, p, 3, 9, 1, LP_F32, &a));
  CHECK_OK(lp_encode_rate(ctx, p, 3, 9, 1, LP_F32, &b));
  for (k = 0; k < 3000; k++) {
    CHECK(lp_tensor_get_flat(a, k).f == lp_tensor_get_flat(b, k).f);
    ones += lp_tensor_get_flat(a, k).f == 1;
  }
  CHECK(ones > 1350 && ones < 1650);
  lp_tensor_release(a); lp_tensor_release(b); lp_tensor_release(p); lp_tensor_release(ph);
}

/* ---- allocation failures ------------------------------------------------ */
static void fail_loop(const char *what, fail_alloc_op0 op) { fail_alloc_loop0(ctx, what, op); }

static lp_status op_gz(void) {
  lp_tensor *t = NULL;
  lp_status st = lp_gz_read(ctx, FX "fmnist/train-images-idx3-ubyte.gz", &t);
  lp_tensor_release(t);
  return st;
}
static lp_status op_gz2(void) {
  lp_tensor *t = NULL;
  lp_status st = lp_gz_read(ctx, FX "two_members.gz", &t);
  lp_tensor_release(t);
  return st;
}
static lp_status op_idx(void) {
  lp_tensor *t = NULL;
  lp_status st = lp_idx_read(ctx, FX "i16.idx.gz", &t);
  lp_tensor_release(t);
  return st;
}
static lp_status op_nmnist(void) {
  lp_tensor *t = NULL, *x = NULL, *y = NULL, *p = NULL;
  lp_status st = lp_nmnist_decode(ctx, events, sizeof events, "e", 34, 34, &t, &x, &y, &p);
  lp_tensor_release(t); lp_tensor_release(x); lp_tensor_release(y); lp_tensor_release(p);
  return st;
}
static lp_status op_h5(void) {
  lp_h5 *h = NULL;
  lp_h5_value v;
  lp_status st = lp_h5_open(ctx, FX "shd_gz/shd_test.h5.gz", &h);
  if (st) return st;
  st = lp_h5_read(ctx, h, "spikes/times", 0, -1, &v);
  if (!st) lp_h5_value_free(&v);
  if (!st) st = lp_h5_read(ctx, h, "extra/keys", 0, -1, &v);
  if (!st) lp_h5_value_free(&v);
  if (!st) st = lp_h5_read(ctx, h, "labels", 1, 1, &v);
  if (!st) lp_h5_value_free(&v);
  lp_h5_close(h);
  return st;
}
static lp_status op_encode(void) {
  lp_tensor *p = NULL, *o = NULL;
  int64_t shape[2] = {2, 3};
  lp_status st = lp_tensor_new(ctx, LP_F64, 2, shape, &p);
  if (!st) st = lp_encode_rate(ctx, p, 4, 1, 2, LP_BOOL, &o);
  lp_tensor_release(o); lp_tensor_release(p);
  return st;
}

static void test_alloc_failures(void) {
  fail_loop("gz", op_gz);
  fail_loop("gz two members", op_gz2);
  fail_loop("idx", op_idx);
  fail_loop("nmnist", op_nmnist);
  fail_loop("h5", op_h5);
  fail_loop("encode", op_encode);
}

int main(void) {
  if (lp_ctx_new(&ctx) != LP_OK) return 1;
  RUN(test_gz);
  RUN(test_gz_isize);
  RUN(test_idx);
  RUN(test_nmnist);
  RUN(test_dir);
  RUN(test_h5);
  RUN(test_encode);
  RUN(test_alloc_failures);
  lp_ctx_free(ctx);
  return TEST_REPORT("test_data");
}
