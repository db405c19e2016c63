/*
** spec/c/test_io.c -- .npy / .npz reading and writing (core/src/npy.c, npz.c).
** Owns: round trips for every dtype and shape, NumPy-written fixtures
** (spec/fixtures/npy/, made by make_fixtures.py), NumPy's exact bytes for
** what limpet writes, corrupt files with exact messages, atomic writes, and
** the allocation-failure loop. Runs from the repository root; scratch files
** go to a fresh folder under /tmp.
*/
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "limpet/io.h"
#include "check.h"
#include "fail_alloc.h"

#define FX "spec/fixtures/npy/"

static lp_ctx *ctx;
static char scratch[64];

static const char *tmp_path(const char *name) {
  static char buf[4][256];
  static int k;
  k = (k + 1) % 4;
  snprintf(buf[k], sizeof buf[k], "%s/%s", scratch, name);
  return buf[k];
}

static unsigned char *slurp(const char *path, size_t *len) {
  FILE *fp = fopen(path, "rb");
  unsigned char *b;
  long n;
  if (!fp) return NULL;
  fseek(fp, 0, SEEK_END);
  n = ftell(fp);
  fseek(fp, 0, SEEK_SET);
  b = malloc((size_t)n + 1);
  *len = fread(b, 1, (size_t)n, fp);
  fclose(fp);
  return b;
}

static int same_file(const char *a, const char *b) {
  size_t la = 0, lb = 0;
  unsigned char *x = slurp(a, &la), *y = slurp(b, &lb);
  int eq = x && y && la == lb && memcmp(x, y, la) == 0;
  free(x); free(y);
  return eq;
}

static void spit(const char *path, const char *text) {
  FILE *fp = fopen(path, "wb");
  fputs(text, fp);
  fclose(fp);
}

/* Files in the scratch folder whose name contains ".tmp.". */
static int stray_temps(void) {
  DIR *d = opendir(scratch);
  struct dirent *e;
  int n = 0;
  while ((e = readdir(d)))
    if (strstr(e->d_name, ".tmp.")) n++;
  closedir(d);
  return n;
}

static int same_tensor(const lp_tensor *a, const lp_tensor *b) {
  int64_t k, n;
  int d;
  if (!a || !b || lp_tensor_dtype(a) != lp_tensor_dtype(b) || lp_tensor_ndim(a) != lp_tensor_ndim(b))
    return 0;
  for (d = 0; d < lp_tensor_ndim(a); d++)
    if (lp_tensor_shape(a)[d] != lp_tensor_shape(b)[d]) return 0;
  n = lp_tensor_numel(a);
  for (k = 0; k < n; k++) {
    lp_scalar x = lp_tensor_get_flat(a, k), y = lp_tensor_get_flat(b, k);
    if (x.isint != y.isint || (x.isint ? x.i != y.i : memcmp(&x.f, &y.f, sizeof x.f) != 0))
      return 0;
  }
  return 1;
}

/* The values make_fixtures.py stores for each dtype, shape (2, 3). */
static const float    v_f4[] = {0.0f, 1.5f, -2.25f, 3.0e38f, -1.0e-30f, 7.0f};
static const double   v_f8[] = {0.0, 1.5, -2.25, 1.0e300, -1.0e-300, 0.1};
static const int8_t   v_i1[] = {-128, 127, 0, 1, -1, 5};
static const int16_t  v_i2[] = {-32768, 32767, 0, 1, -1, 300};
static const int32_t  v_i4[] = {INT32_MIN, INT32_MAX, 0, 1, -1, 70000};
static const int64_t  v_i8[] = {INT64_MIN, INT64_MAX, 0, 1, -1, (int64_t)1 << 40};
static const uint8_t  v_u1[] = {0, 255, 1, 2, 128, 7};
static const uint8_t  v_b1[] = {1, 0, 1, 0, 0, 1};

static const struct { const char *code; lp_dtype dt; const void *v; } DTYPES[] = {
  {"f4", LP_F32, v_f4}, {"f8", LP_F64, v_f8}, {"i1", LP_I8, v_i1}, {"i2", LP_I16, v_i2},
  {"i4", LP_I32, v_i4}, {"i8", LP_I64, v_i8}, {"u1", LP_U8, v_u1}, {"b1", LP_BOOL, v_b1},
};
#define NDT ((int)(sizeof DTYPES / sizeof DTYPES[0]))

static lp_tensor *expected(int i) {
  int64_t shape[2] = {2, 3};
  lp_tensor *t = NULL;
  CHECK_OK(lp_tensor_from_data(ctx, DTYPES[i].dt, 2, shape, DTYPES[i].v, &t));
  return t;
}

/* arange(n) reshaped to shape, in dtype dt (bool: odd values true). */
static lp_tensor *arange(lp_dtype dt, int ndim, const int64_t *shape, double scale, double shift) {
  lp_tensor *t = NULL;
  int64_t k, n, idx[LP_MAXDIM];
  int d;
  CHECK_OK(lp_tensor_new(ctx, dt, ndim, shape, &t));
  n = lp_tensor_numel(t);
  for (k = 0; k < n; k++) {
    int64_t r = k;
    for (d = ndim - 1; d >= 0; d--) { idx[d] = r % shape[d]; r /= shape[d]; }
    if (dt == LP_BOOL) CHECK_OK(lp_tensor_set(ctx, t, idx, lp_int(k % 2)));
    else if (lp_dtype_is_float(dt)) CHECK_OK(lp_tensor_set(ctx, t, idx, lp_float((double)k * scale + shift)));
    else CHECK_OK(lp_tensor_set(ctx, t, idx, lp_int((int64_t)((double)k * scale + shift))));
  }
  return t;
}

static lp_tensor *read_ok(const char *path) {
  lp_tensor *t = NULL;
  lp_status st = lp_npy_read(ctx, path, &t);
  if (st) fprintf(stderr, "  %s: %s\n", path, lp_ctx_errmsg(ctx));
  CHECK(st == LP_OK);
  return t;
}

static int fails_with(lp_status got, lp_status want, const char *msg) {
  if (got == want && strcmp(lp_ctx_errmsg(ctx), msg) == 0) return 1;
  fprintf(stderr, "  expected %s \"%s\"\n       got %s \"%s\"\n", lp_status_name(want), msg,
          lp_status_name(got), lp_ctx_errmsg(ctx));
  return 0;
}

/* ---- reading NumPy's files ---------------------------------------------- */
static void test_read_dtypes(void) {
  int i;
  char p[128];
  for (i = 0; i < NDT; i++) {
    lp_tensor *e = expected(i), *t;
    snprintf(p, sizeof p, FX "%s.npy", DTYPES[i].code);
    t = read_ok(p);
    CHECK(same_tensor(t, e));
    lp_tensor_release(t);
    if (lp_dtype_size(DTYPES[i].dt) > 1) {
      snprintf(p, sizeof p, FX "be_%s.npy", DTYPES[i].code);
      t = read_ok(p);
      CHECK(same_tensor(t, e));
      lp_tensor_release(t);
    }
    lp_tensor_release(e);
  }
}

static void test_read_shapes(void) {
  lp_tensor *t, *e;
  int64_t s3[3] = {2, 3, 4}, s0[2] = {0, 3}, s1[1] = {5};
  lp_scalar v;
  t = read_ok(FX "scalar_f8.npy");
  CHECK(t && lp_tensor_ndim(t) == 0 && lp_tensor_dtype(t) == LP_F64);
  CHECK_OK(lp_tensor_item(ctx, t, &v));
  CHECK(v.f == 3.5);
  lp_tensor_release(t);

  t = read_ok(FX "empty_f4.npy");
  CHECK(t && lp_tensor_ndim(t) == 2 && lp_tensor_shape(t)[0] == 0 && lp_tensor_shape(t)[1] == 3);
  lp_tensor_release(t);
  e = arange(LP_F32, 2, s0, 1, 0);
  t = read_ok(FX "empty_f4.npy");
  CHECK(same_tensor(t, e));
  lp_tensor_release(t); lp_tensor_release(e);

  e = arange(LP_I32, 3, s3, 1, -12);
  t = read_ok(FX "d3_i4.npy");
  CHECK(same_tensor(t, e));
  lp_tensor_release(t); lp_tensor_release(e);

  e = arange(LP_U8, 1, s1, -1, 9);
  t = read_ok(FX "d1_u1.npy");
  CHECK(same_tensor(t, e));
  lp_tensor_release(t); lp_tensor_release(e);
}

static void test_read_fortran_and_versions(void) {
  int64_t s3[3] = {2, 3, 4};
  lp_tensor *e = arange(LP_F64, 3, s3, 1, 0), *t;
  t = read_ok(FX "fortran_f8.npy");
  CHECK(same_tensor(t, e));
  CHECK(t && lp_tensor_is_contiguous(t));
  lp_tensor_release(t); lp_tensor_release(e);

  e = expected(3);   /* i2 */
  t = read_ok(FX "fortran_be_i2.npy");
  CHECK(same_tensor(t, e));
  lp_tensor_release(t); lp_tensor_release(e);

  e = expected(0);   /* f4 */
  t = read_ok(FX "v2_f4.npy");  CHECK(same_tensor(t, e)); lp_tensor_release(t);
  t = read_ok(FX "v3_f4.npy");  CHECK(same_tensor(t, e)); lp_tensor_release(t);
  t = read_ok(FX "native_f4.npy"); CHECK(same_tensor(t, e)); lp_tensor_release(t);
  lp_tensor_release(e);
}

static void expect_read_error(const char *path, lp_status want, const char *msg) {
  lp_tensor *t = (lp_tensor *)&t;
  size_t before = lp_ctx_bytes_live(ctx);
  CHECK(fails_with(lp_npy_read(ctx, path, &t), want, msg));
  CHECK(t == NULL);
  CHECK(lp_ctx_bytes_live(ctx) == before);
}

static void test_read_errors(void) {
  expect_read_error(FX "c16.npy", LP_ETYPE, "'" FX "c16.npy': unsupported dtype '<c16'");
  {  /* a NumPy unicode array: code points along an extra last dim */
    lp_tensor *t = read_ok(FX "u5.npy");
    CHECK(lp_npy_text_kind(t) == 2 && lp_tensor_dtype(t) == LP_I32);
    CHECK(lp_tensor_ndim(t) == 2 && lp_tensor_shape(t)[0] == 1 && lp_tensor_shape(t)[1] == 5);
    CHECK(((int32_t *)lp_tensor_data(t))[0] == 'a' && ((int32_t *)lp_tensor_data(t))[1] == 'b' &&
          ((int32_t *)lp_tensor_data(t))[2] == 0);
    lp_tensor_release(t);
    t = read_ok(FX "fortran_s2.npy");                 /* bytes, Fortran order: (2, 3, 2) */
    CHECK(lp_npy_text_kind(t) == 1 && lp_tensor_dtype(t) == LP_U8 && lp_tensor_ndim(t) == 3);
    CHECK(memcmp((char *)lp_tensor_data(t) + 2 * (1 * 3 + 2), "12", 2) == 0);
    lp_tensor_release(t);
    t = read_ok(FX "f4.npy");
    CHECK(lp_npy_text_kind(t) == 0);
    lp_tensor_release(t);
  }
  expect_read_error(FX "u2.npy", LP_ETYPE, "'" FX "u2.npy': unsupported dtype '<u2'");
  expect_read_error(FX "obj.npy", LP_ETYPE, "'" FX "obj.npy': unsupported dtype '|O'");
  expect_read_error(FX "struct.npy", LP_ETYPE,
                    "'" FX "struct.npy': unsupported dtype [('a', '<i4'), ('b', '<f8')]");
  expect_read_error(FX "bad_magic.npy", LP_EFORMAT,
                    "'" FX "bad_magic.npy' at offset 0: not a .npy file (bad magic string)");
  expect_read_error(FX "empty.npy", LP_EFORMAT,
                    "'" FX "empty.npy' at offset 0: not a .npy file (bad magic string)");
  expect_read_error(FX "bad_version.npy", LP_EFORMAT,
                    "'" FX "bad_version.npy' at offset 6: unsupported .npy format version 4.0");
  expect_read_error(FX "truncated_header.npy", LP_EFORMAT,
                    "'" FX "truncated_header.npy' at offset 40: truncated header "
                    "(118 bytes announced, 30 present)");
  expect_read_error(FX "truncated_data.npy", LP_EFORMAT,
                    "'" FX "truncated_data.npy' at offset 171: truncated data "
                    "(shape (2, 3) of float64 needs 48 bytes, 43 present)");
  expect_read_error(FX "extra_data.npy", LP_EFORMAT,
                    "'" FX "extra_data.npy' at offset 176: unexpected bytes after the data "
                    "of shape (2, 3)");
  expect_read_error(FX "bad_dict.npy", LP_EFORMAT,
                    "'" FX "bad_dict.npy' at offset 64: bad header dict "
                    "(expected a non-negative integer in 'shape')");
  expect_read_error(FX "neg_shape.npy", LP_EFORMAT,
                    "'" FX "neg_shape.npy' at offset 61: bad header dict "
                    "(expected a non-negative integer in 'shape')");
  expect_read_error(FX "bad_key.npy", LP_EFORMAT,
                    "'" FX "bad_key.npy' at offset 27: bad header dict "
                    "(unexpected key 'fortran_ordex')");
  expect_read_error(FX "bad_bool.npy", LP_EFORMAT,
                    "'" FX "bad_bool.npy' at offset 44: bad header dict "
                    "('fortran_order' must be True or False)");
  {   /* 10^15 float64 elements: refused up front, whatever the machine */
    lp_tensor *t = NULL;
    const char *want = "'" FX "huge.npy': shape (1000000000000000,) of float64 needs "
                       "8000000000000000 bytes, more than the cap of ";
    CHECK(lp_npy_read(ctx, FX "huge.npy", &t) == LP_ESIZE && t == NULL);
    CHECK(strncmp(lp_ctx_errmsg(ctx), want, strlen(want)) == 0);
  }
  expect_read_error(FX "ndim9.npy", LP_ESHAPE,
                    "'" FX "ndim9.npy': 9 dims, limpet tensors have at most 8");
  expect_read_error(FX "nope.npy", LP_EIO,
                    "cannot open '" FX "nope.npy': No such file or directory");
  expect_read_error("spec/fixtures/npy", LP_EIO,
                    "cannot open 'spec/fixtures/npy': Is a directory");
}

static void test_size_cap(void) {
  /* a header within the format but beyond the context's cap is refused
     before any allocation */
  size_t cap = lp_ctx_max_bytes(ctx);
  lp_tensor *t = NULL;
  lp_ctx_set_max_bytes(ctx, 40);
  CHECK(fails_with(lp_npy_read(ctx, FX "f8.npy", &t), LP_ESIZE,
                   "'" FX "f8.npy': shape (2, 3) of float64 needs 48 bytes, more than the cap "
                   "of 40 bytes"));
  lp_ctx_set_max_bytes(ctx, cap);
}

/* ---- writing: NumPy's bytes ---------------------------------------------- */
static void check_golden(const char *ref, lp_tensor *t) {
  void *buf = NULL;
  size_t len = 0, rlen = 0;
  unsigned char *r = slurp(ref, &rlen);
  const char *out = tmp_path("golden.npy");
  CHECK(r != NULL);
  CHECK_OK(lp_npy_encode(ctx, t, &buf, &len));
  if (!(r && buf && len == rlen && memcmp(buf, r, len) == 0))
    fprintf(stderr, "  encode differs from %s\n", ref);
  CHECK(r && buf && len == rlen && memcmp(buf, r, len) == 0);
  CHECK_OK(lp_npy_write(ctx, out, t));
  CHECK(same_file(out, ref));
  free(buf); free(r);
}

static void test_write_golden(void) {
  int i;
  char p[128];
  int64_t s23[2] = {2, 3}, s3[3] = {2, 3, 4}, s1[1] = {5}, s0[2] = {0, 3};
  int64_t s8[8] = {1, 1, 1, 1, 1, 1, 1, 0};
  lp_tensor *t, *v;
  for (i = 0; i < NDT; i++) {
    t = arange(DTYPES[i].dt, 2, s23, 1, 0);
    snprintf(p, sizeof p, FX "ref_%s.npy", DTYPES[i].code);
    check_golden(p, t);
    lp_tensor_release(t);
  }
  CHECK_OK(lp_tensor_new(ctx, LP_F64, 0, NULL, &t));
  CHECK_OK(lp_tensor_fill_(ctx, t, lp_float(2.5)));
  check_golden(FX "ref_scalar_f8.npy", t);
  lp_tensor_release(t);
  t = arange(LP_U8, 2, s0, 1, 0); check_golden(FX "ref_empty_u1.npy", t); lp_tensor_release(t);
  t = arange(LP_I16, 3, s3, 1, -12); check_golden(FX "ref_d3_i2.npy", t); lp_tensor_release(t);
  t = arange(LP_F32, 1, s1, 0.5, 0); check_golden(FX "ref_d1_f4.npy", t); lp_tensor_release(t);
  t = arange(LP_F32, 8, s8, 1, 0); check_golden(FX "ref_d8_f4.npy", t); lp_tensor_release(t);
  /* a non-contiguous view is written in C order of its own shape */
  t = arange(LP_F32, 2, s23, 1, 0);
  CHECK_OK(lp_tensor_transpose(ctx, t, 0, 1, &v));
  CHECK(!lp_tensor_is_contiguous(v));
  check_golden(FX "ref_t_f4.npy", v);
  lp_tensor_release(v); lp_tensor_release(t);
}

/* ---- round trips --------------------------------------------------------- */
static void round_trip(lp_tensor *t) {
  const char *p = tmp_path("rt.npy");
  lp_tensor *back = NULL, *dec = NULL;
  void *buf = NULL;
  size_t len = 0;
  CHECK_OK(lp_npy_write(ctx, p, t));
  CHECK_OK(lp_npy_read(ctx, p, &back));
  CHECK(same_tensor(back, t));
  CHECK_OK(lp_npy_encode(ctx, t, &buf, &len));
  CHECK_OK(lp_npy_decode(ctx, buf, len, "mem", &dec));
  CHECK(same_tensor(dec, t));
  CHECK(len % 64 == (size_t)(lp_tensor_numel(t) * (int64_t)lp_dtype_size(lp_tensor_dtype(t))) % 64);
  free(buf);
  lp_tensor_release(back); lp_tensor_release(dec);
}

static void test_round_trips(void) {
  static const int64_t shapes[][4] = {{0}, {7}, {0, 3}, {3, 0}, {2, 3}, {2, 3, 4}, {1, 2, 1, 3}};
  static const int ndims[] = {0, 1, 2, 2, 2, 3, 4};
  int i, s;
  for (i = 0; i < NDT; i++) {
    for (s = 0; s < (int)(sizeof ndims / sizeof ndims[0]); s++) {
      lp_tensor *t = arange(DTYPES[i].dt, ndims[s], shapes[s], 3, -5);
      round_trip(t);
      lp_tensor_release(t);
    }
    {   /* strided views: a transpose and a step-2 slice */
      int64_t sh[3] = {3, 4, 5};
      lp_tensor *t = arange(DTYPES[i].dt, 3, sh, 1, 0), *v = NULL, *w = NULL;
      CHECK_OK(lp_tensor_transpose(ctx, t, 0, 2, &v));
      round_trip(v);
      CHECK_OK(lp_tensor_slice(ctx, v, 1, 1, 4, 2, &w));
      round_trip(w);
      lp_tensor_release(w); lp_tensor_release(v); lp_tensor_release(t);
    }
  }
  {   /* larger than the writer's 64 KiB chunk, non-contiguous */
    int64_t sh[2] = {300, 100};
    lp_tensor *t = arange(LP_F64, 2, sh, 0.25, 0), *v = NULL;
    CHECK_OK(lp_tensor_transpose(ctx, t, 0, 1, &v));
    round_trip(v);
    lp_tensor_release(v); lp_tensor_release(t);
  }
}

/* ---- .npz ---------------------------------------------------------------- */
static lp_tensor *find(int n, char **names, lp_tensor **ts, const char *name) {
  int i;
  for (i = 0; i < n; i++)
    if (strcmp(names[i], name) == 0) return ts[i];
  return NULL;
}

static void check_npz_fixture(const char *path) {
  int n = 0;
  char **names = NULL;
  lp_tensor **ts = NULL, *e, *t;
  int64_t s0[2] = {0, 3}, s5[1] = {5};
  lp_scalar v;
  lp_status st = lp_npz_read(ctx, path, &n, &names, &ts);
  if (st) fprintf(stderr, "  %s: %s\n", path, lp_ctx_errmsg(ctx));
  CHECK(st == LP_OK);
  if (st) return;
  CHECK(n == 6);
  e = expected(0); CHECK(same_tensor(find(n, names, ts, "a"), e)); lp_tensor_release(e);
  e = expected(5); CHECK(same_tensor(find(n, names, ts, "b"), e)); lp_tensor_release(e);
  e = expected(7); CHECK(same_tensor(find(n, names, ts, "c"), e)); lp_tensor_release(e);
  e = arange(LP_F64, 2, s0, 1, 0); CHECK(same_tensor(find(n, names, ts, "e"), e)); lp_tensor_release(e);
  e = arange(LP_I32, 1, s5, 1, 0); CHECK(same_tensor(find(n, names, ts, "arr_0"), e)); lp_tensor_release(e);
  t = find(n, names, ts, "s");
  CHECK(t && lp_tensor_ndim(t) == 0 && lp_tensor_dtype(t) == LP_I16);
  if (t) { CHECK_OK(lp_tensor_item(ctx, t, &v)); CHECK(v.i == -7); }
  lp_npz_free(n, names, ts);
}

static void test_npz_read(void) {
  int n = -1;
  char **names = NULL;
  lp_tensor **ts = NULL, *e;
  check_npz_fixture(FX "stored.npz");
  check_npz_fixture(FX "compressed.npz");
  CHECK_OK(lp_npz_read(ctx, FX "empty.npz", &n, &names, &ts));
  CHECK(n == 0);
  lp_npz_free(n, names, ts);
  CHECK_OK(lp_npz_read(ctx, FX "zip64.npz", &n, &names, &ts));
  CHECK(n == 2 && strcmp(names[0], "x") == 0 && strcmp(names[1], "y") == 0);
  e = expected(1); CHECK(n == 2 && same_tensor(ts[0], e)); lp_tensor_release(e);
  e = expected(6); CHECK(n == 2 && same_tensor(ts[1], e)); lp_tensor_release(e);
  lp_npz_free(n, names, ts);
}

static void expect_npz_error(const char *path, lp_status want, const char *msg) {
  int n = -1;
  char **names = (char **)&n;
  lp_tensor **ts = (lp_tensor **)&n;
  size_t before = lp_ctx_bytes_live(ctx);
  CHECK(fails_with(lp_npz_read(ctx, path, &n, &names, &ts), want, msg));
  CHECK(n == 0 && names == NULL && ts == NULL);
  CHECK(lp_ctx_bytes_live(ctx) == before);
}

static void test_npz_errors(void) {      /* libzip's words, naming the file and entry */
  expect_npz_error(FX "bad_crc.npz", LP_EFORMAT, "'" FX "bad_crc.npz' entry 'a.npy': CRC error");
  expect_npz_error(FX "bad_sig.npz", LP_EFORMAT,
                   "'" FX "bad_sig.npz': not a valid zip archive (Not a zip archive)");
  expect_npz_error(FX "truncated.npz", LP_EFORMAT,
                   "'" FX "truncated.npz': not a valid zip archive (Not a zip archive)");
  expect_npz_error(FX "f8.npy", LP_EFORMAT, "'" FX "f8.npy': not a valid zip archive (Not a zip archive)");
  expect_npz_error(FX "bad_deflate.npz", LP_EFORMAT,
                   "'" FX "bad_deflate.npz' entry 'b.npy': Zlib error: data error");
  expect_npz_error(FX "nope.npz", LP_EIO,
                   "cannot open '" FX "nope.npz': No such file or directory");
}

static void npz_round_trip(int compress) {
  const char *p = tmp_path(compress ? "rt_c.npz" : "rt_s.npz");
  int64_t s3[3] = {2, 3, 4}, sh[2] = {400, 50};
  lp_tensor *big = arange(LP_F64, 2, sh, 1, 0), *tv[4];
  const char *nm[4] = {"weights", "w\xc3\xa9ight", "scalar", "big_T"};
  int n = 0, i;
  char **names = NULL;
  lp_tensor **ts = NULL;
  tv[0] = arange(LP_F32, 3, s3, 0.5, -1);
  tv[1] = expected(7);
  CHECK_OK(lp_tensor_new(ctx, LP_I8, 0, NULL, &tv[2]));
  CHECK_OK(lp_tensor_transpose(ctx, big, 0, 1, &tv[3]));
  CHECK_OK(lp_npz_write(ctx, p, 4, nm, tv, compress));
  CHECK_OK(lp_npz_read(ctx, p, &n, &names, &ts));
  CHECK(n == 4);
  for (i = 0; i < n && i < 4; i++) {
    CHECK(strcmp(names[i], nm[i]) == 0);
    CHECK(same_tensor(ts[i], tv[i]));
  }
  lp_npz_free(n, names, ts);
  for (i = 0; i < 4; i++) lp_tensor_release(tv[i]);
  lp_tensor_release(big);
  if (compress) {   /* compressed really is smaller: 160 KB of arange */
    struct stat sb;
    CHECK(stat(p, &sb) == 0 && sb.st_size < 100000);
  }
}

static void test_npz_write(void) {
  const char *p = tmp_path("dup.npz");
  const char *nm[2] = {"a", "a"};
  lp_tensor *tv[2];
  int n = -1;
  char **names = NULL;
  lp_tensor **ts = NULL;
  char msg[300];
  npz_round_trip(0);
  npz_round_trip(1);
  tv[0] = tv[1] = expected(0);
  snprintf(msg, sizeof msg, "'%s': duplicate array name 'a'", p);
  CHECK(fails_with(lp_npz_write(ctx, p, 2, nm, tv, 1), LP_EARG, msg));
  CHECK(access(p, F_OK) != 0);
  CHECK_OK(lp_npz_write(ctx, p, 0, NULL, NULL, 0));
  CHECK_OK(lp_npz_read(ctx, p, &n, &names, &ts));
  CHECK(n == 0);
  lp_npz_free(n, names, ts);
  lp_tensor_release(tv[0]);
}

/* ---- atomic writes -------------------------------------------------------- */
static void test_atomic(void) {
  const char *keep = tmp_path("keep.npy"), *dir = tmp_path("dir.npy");
  char msg[512], ro[300];
  lp_tensor *t = expected(0);
  spit(keep, "precious");
  /* the target is a folder: rename fails, the temporary file goes away */
  mkdir(dir, 0755);
  snprintf(msg, sizeof msg, "cannot write '%s': Is a directory", dir);
  CHECK(fails_with(lp_npy_write(ctx, dir, t), LP_EIO, msg));
  CHECK(fails_with(lp_npz_write(ctx, dir, 1, (const char *const[]){"x"}, &t, 1), LP_EIO, msg));
  CHECK(stray_temps() == 0);
  /* a folder that does not exist */
  snprintf(ro, sizeof ro, "%s/missing/x.npy", scratch);
  snprintf(msg, sizeof msg, "cannot open '%s' for writing: No such file or directory", ro);
  CHECK(fails_with(lp_npy_write(ctx, ro, t), LP_EIO, msg));
  /* a read-only folder (root ignores permissions: then this part is moot) */
  snprintf(ro, sizeof ro, "%s/ro", scratch);
  mkdir(ro, 0755);
  {
    char target[400], probe[400];
    FILE *fp;
    snprintf(target, sizeof target, "%s/keep.npy", ro);
    snprintf(probe, sizeof probe, "%s/probe", ro);
    spit(target, "precious");
    chmod(ro, 0555);
    fp = fopen(probe, "w");
    if (fp) { fclose(fp); unlink(probe); }
    else {
      snprintf(msg, sizeof msg, "cannot open '%s' for writing: Permission denied", target);
      CHECK(fails_with(lp_npy_write(ctx, target, t), LP_EIO, msg));
      CHECK(fails_with(lp_npz_write(ctx, target, 1, (const char *const[]){"x"}, &t, 0), LP_EIO, msg));
    }
    chmod(ro, 0755);
    {
      size_t len = 0;
      unsigned char *b = slurp(target, &len);
      CHECK(b && len == 8 && memcmp(b, "precious", 8) == 0);
      free(b);
    }
    unlink(target);
    rmdir(ro);
  }
  /* a write that fails half way (injected allocation failure) */
  {
    int64_t sh[2] = {4, 5};
    lp_tensor *a = arange(LP_F64, 2, sh, 1, 0), *v = NULL;
    size_t len = 0;
    unsigned char *b;
    CHECK_OK(lp_tensor_transpose(ctx, a, 0, 1, &v));   /* non-contiguous: a chunk buffer */
    lp_ctx_fail_alloc_after(ctx, 2);                    /* 1: temp name, 2: chunk */
    CHECK(lp_npy_write(ctx, keep, v) == LP_ENOMEM);
    lp_ctx_fail_alloc_after(ctx, 0);
    b = slurp(keep, &len);
    CHECK(b && len == 8 && memcmp(b, "precious", 8) == 0);
    free(b);
    CHECK(stray_temps() == 0);
    lp_tensor_release(v); lp_tensor_release(a);
  }
  /* a successful write replaces the file and keeps its mode */
  chmod(keep, 0640);
  CHECK_OK(lp_npy_write(ctx, keep, t));
  {
    struct stat sb;
    CHECK(stat(keep, &sb) == 0 && (sb.st_mode & 0777) == 0640);
  }
  lp_tensor_release(t);
  unlink(keep);
  rmdir(dir);
}

/* ---- allocation failures ---------------------------------------------------
** Fail the Nth allocation for N = 1, 2, ... until the operation succeeds;
** each failure must be LP_ENOMEM with every byte given back. */
static void fail_loop(const char *what, fail_alloc_op op, void *arg) { fail_alloc_loop(ctx, what, op, arg, stray_temps); }

static lp_status op_read(void *arg) {
  lp_tensor *t = NULL;
  lp_status st = lp_npy_read(ctx, arg, &t);
  lp_tensor_release(t);
  return st;
}
static lp_status op_decode(void *arg) {
  size_t len = 0;
  unsigned char *b = slurp(arg, &len);
  lp_tensor *t = NULL;
  lp_status st = lp_npy_decode(ctx, b, len, arg, &t);
  lp_tensor_release(t);
  free(b);
  return st;
}
static lp_status op_npz_read(void *arg) {
  int n = 0;
  char **names = NULL;
  lp_tensor **ts = NULL;
  lp_status st = lp_npz_read(ctx, arg, &n, &names, &ts);
  lp_npz_free(n, names, ts);
  return st;
}
static lp_status op_write(void *arg) { return lp_npy_write(ctx, tmp_path("fail.npy"), arg); }
static lp_status op_encode(void *arg) {
  void *buf = NULL;
  size_t len = 0;
  lp_status st = lp_npy_encode(ctx, arg, &buf, &len);
  free(buf);
  return st;
}
static lp_status op_npz_write_s(void *arg) {
  const char *nm[2] = {"a", "b"};
  return lp_npz_write(ctx, tmp_path("fail.npz"), 2, nm, arg, 0);
}
static lp_status op_npz_write_c(void *arg) {
  const char *nm[2] = {"a", "b"};
  return lp_npz_write(ctx, tmp_path("fail.npz"), 2, nm, arg, 1);
}

static void test_alloc_failures(void) {
  int64_t sh[2] = {30, 40};
  lp_tensor *a = arange(LP_F32, 2, sh, 1, 0), *v = NULL, *pair[2];
  fail_loop("read", op_read, FX "f8.npy");
  fail_loop("read fortran", op_read, FX "fortran_f8.npy");
  fail_loop("read big endian", op_read, FX "be_i8.npy");
  fail_loop("decode", op_decode, FX "d3_i4.npy");
  fail_loop("npz read stored", op_npz_read, FX "stored.npz");
  fail_loop("npz read compressed", op_npz_read, FX "compressed.npz");
  fail_loop("npz read zip64", op_npz_read, FX "zip64.npz");
  CHECK_OK(lp_tensor_transpose(ctx, a, 0, 1, &v));
  fail_loop("write", op_write, v);
  fail_loop("encode", op_encode, v);
  pair[0] = a; pair[1] = v;
  fail_loop("npz write stored", op_npz_write_s, pair);
  fail_loop("npz write compressed", op_npz_write_c, pair);
  lp_tensor_release(v); lp_tensor_release(a);
}

int main(void) {
  int rc;
  strcpy(scratch, "/tmp/limpet_test_io_XXXXXX");
  if (!mkdtemp(scratch)) { perror("mkdtemp"); return 1; }
  if (lp_ctx_new(&ctx) != LP_OK) return 1;
  RUN(test_read_dtypes);
  RUN(test_read_shapes);
  RUN(test_read_fortran_and_versions);
  RUN(test_read_errors);
  RUN(test_size_cap);
  RUN(test_write_golden);
  RUN(test_round_trips);
  RUN(test_npz_read);
  RUN(test_npz_errors);
  RUN(test_npz_write);
  RUN(test_atomic);
  RUN(test_alloc_failures);
  lp_ctx_free(ctx);
  {
    DIR *d = opendir(scratch);
    struct dirent *e;
    char p[400];
    while (d && (e = readdir(d)))
      if (e->d_name[0] != '.') { snprintf(p, sizeof p, "%s/%s", scratch, e->d_name); unlink(p); }
    if (d) closedir(d);
    rmdir(scratch);
  }
  rc = TEST_REPORT("test_io");
  return rc;
}
