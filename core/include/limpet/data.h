/*
** core/include/limpet/data.h -- the file formats of the data-set readers.
** Owns: gzip files (zlib, multi-member, size cap), IDX files (MNIST /
** Fashion-MNIST), N-MNIST's 40-bit event records, folder listings, HDF5
** files through libhdf5 (numeric, variable-length and string datasets,
** attributes, groups; `.h5.gz` is decompressed to an unlinked temporary
** file), and the seeded Bernoulli rate encoder. Not here: the data-set
** classes, transforms and loaders (stdlib/limpet/data/), .npy (io.h).
** Implemented in core/src/gz.c, core/src/h5.c and core/src/encode.c.
** Errors: a file that cannot be opened or read is LP_EIO ("cannot open
** 'x': ..."); malformed content is LP_EFORMAT naming the file and the byte
** offset ("'x' at offset N: ..."; for HDF5, the object path instead, as
** libhdf5 reports no offsets). Sizes beyond the ctx's cap are LP_ESIZE.
*/
#ifndef LIMPET_DATA_H
#define LIMPET_DATA_H

#include "limpet/tensor.h"

/* ---- plain, gzip and IDX files ----------------------------------------- */
/* The bytes of a file as a 1-d uint8 tensor. */
lp_status lp_file_read(lp_ctx *ctx, const char *path, lp_tensor **out);
/* The decompressed bytes of a gzip file (every member) as a 1-d uint8
   tensor. Output beyond the ctx's size cap is refused (LP_ESIZE). Offsets in
   messages are offsets in the compressed file. */
lp_status lp_gz_read(lp_ctx *ctx, const char *path, lp_tensor **out);
/* Decompress the gzip file src into the (new or truncated) file dst. */
lp_status lp_gz_decompress_file(lp_ctx *ctx, const char *src, const char *dst);
/* An IDX image (magic 0x0000TTNN, big-endian dims, row-major data) from
   bytes (1-d uint8): a tensor of the stored shape. Type 0x08 gives uint8
   (a view of bytes), 0x09 int8, 0x0B int16, 0x0C int32, 0x0D float32,
   0x0E float64. label names the source in messages. */
lp_status lp_idx_decode(lp_ctx *ctx, lp_tensor *bytes, const char *label, lp_tensor **out);
/* lp_idx_decode of a file, gunzipped first when its name ends in ".gz". */
lp_status lp_idx_read(lp_ctx *ctx, const char *path, lp_tensor **out);

/* ---- N-MNIST events ----------------------------------------------------- */
/* Decode 5-byte N-MNIST records: x (byte 0), y (byte 1), polarity (bit 7
   of byte 2), 23-bit timestamp in µs (the rest). Records with y == 240 are
   overflow markers: dropped, and 8192 µs (2^13, as Orchard's reader) added
   to every later event. Out: t float64 seconds, x and y int16 ids as
   stored + 1 (1-based), p int8 polarity ids (1 = OFF, 2 = ON), all of one
   length.
   max_x, max_y > 0: a coordinate >= max is a format error naming the
   record's offset. len not a multiple of 5: a format error (truncated). */
lp_status lp_nmnist_decode(lp_ctx *ctx, const void *buf, size_t len, const char *label,
                           int max_x, int max_y, lp_tensor **t, lp_tensor **x,
                           lp_tensor **y, lp_tensor **p);

/* ---- folders ------------------------------------------------------------ */
/* The names in a folder (without "." and ".."), sorted bytewise; *names
   is an array of n strings, free both with lp_names_free. */
lp_status lp_dir_list(lp_ctx *ctx, const char *path, int64_t *n, char ***names);
void      lp_names_free(int64_t n, char **names);

/* ---- HDF5 --------------------------------------------------------------- */
typedef struct lp_h5 lp_h5;

typedef enum lp_h5_kind {
  LP_H5_NONE = 0,   /* no such object */
  LP_H5_GROUP,
  LP_H5_NUMERIC,    /* integers and floats (float16 is read as float32) */
  LP_H5_VLEN,       /* variable-length sequences of numbers (SHD's spikes) */
  LP_H5_STRING,     /* fixed or variable-length strings */
  LP_H5_OTHER       /* compound, reference, ...: listed, not read */
} lp_h5_kind;

/* What an object is. ndim/shape: the dataspace (for VLEN the number of
   sequences); dtype: the dtype a read gives (NUMERIC and VLEN). */
typedef struct lp_h5_info {
  lp_h5_kind kind;
  int ndim;
  int64_t shape[LP_MAXDIM];
  lp_dtype dtype;
} lp_h5_info;

/* A value read from a dataset or attribute. NUMERIC: tensor. VLEN: tensor
   holds every sequence concatenated and offsets (int64, count + 1) their
   0-based starts. STRING: n strings (malloc'd). Free with lp_h5_value_free. */
typedef struct lp_h5_value {
  lp_h5_kind kind;
  lp_tensor *tensor, *offsets;
  int64_t n;
  char **strs;
} lp_h5_value;

/* Open read-only. A missing or unreadable file is LP_EIO; a file that is
   not HDF5 (or is truncated) LP_EFORMAT. A name ending in ".gz" is
   decompressed first into an unlinked temporary file (in $TMPDIR or /tmp). */
lp_status lp_h5_open(lp_ctx *ctx, const char *path, lp_h5 **out);
void      lp_h5_close(lp_h5 *h);                      /* NULL is a no-op */
const char *lp_h5_path(const lp_h5 *h);               /* borrowed */
/* What name is; kind LP_H5_NONE (and LP_OK) when there is no such object.
   Every group on the way is checked before libhdf5 looks into it: a damaged
   symbol table (B-tree, symbol nodes, local heap) is LP_EFORMAT, "corrupt
   HDF5 file '<path>': group '<group>' ..." (as for list, read, attrs). */
lp_status lp_h5_info_of(lp_ctx *ctx, lp_h5 *h, const char *name, lp_h5_info *out);
/* Members of a group, sorted (free with lp_names_free). */
lp_status lp_h5_list(lp_ctx *ctx, lp_h5 *h, const char *group, int64_t *n, char ***names);
/* Read rows [start, start + count) of dim 0 of a dataset; count -1: all
   rows from start (a 0-d dataset: start 0, count -1). */
lp_status lp_h5_read(lp_ctx *ctx, lp_h5 *h, const char *name, int64_t start, int64_t count,
                     lp_h5_value *out);
/* Attributes of an object: names (sorted; lp_names_free) and one value. */
lp_status lp_h5_attr_names(lp_ctx *ctx, lp_h5 *h, const char *obj, int64_t *n, char ***names);
lp_status lp_h5_attr_read(lp_ctx *ctx, lp_h5 *h, const char *obj, const char *attr,
                          lp_h5_value *out);
void      lp_h5_value_free(lp_h5_value *v);

/* Writing (core/src/h5w.c): an atomic write ("<path>.tmp.XXXXXX" renamed
   over path on commit; abort removes it). Names are absolute or relative
   to the root; groups must exist before their members. */
typedef struct lp_h5w lp_h5w;
lp_status lp_h5w_create(lp_ctx *ctx, const char *path, lp_h5w **out);
lp_status lp_h5w_commit(lp_ctx *ctx, lp_h5w *w);   /* frees w, also on failure */
void      lp_h5w_abort(lp_h5w *w);                 /* NULL is a no-op; frees w */
lp_status lp_h5w_group(lp_ctx *ctx, lp_h5w *w, const char *name);
/* Variable-length UTF-8 strings: a scalar (rows 0, one string) or (rows, cols). */
lp_status lp_h5w_strings(lp_ctx *ctx, lp_h5w *w, const char *name, int64_t rows, int64_t cols,
                         const char *const *strs);
/* A numeric dataset (contiguous tensor, rank 0 for 0-d); gzip: deflate. */
lp_status lp_h5w_tensor(lp_ctx *ctx, lp_h5w *w, const char *name, const lp_tensor *t, int gzip);

/* ---- encoders ----------------------------------------------------------- */
/* Bernoulli spikes: out (T, shape of p) of dtype dt, out[s, ...] = 1 with
   probability p[...] (clamped to [0, 1]), each draw a pure function of
   (seed, key, element), so a sample encodes the same way in any order. */
lp_status lp_encode_rate(lp_ctx *ctx, const lp_tensor *p, int64_t T, uint64_t seed,
                         uint64_t key, lp_dtype dt, lp_tensor **out);

#endif
