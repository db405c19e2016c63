/*
** core/src/io_impl.h -- private: the plumbing shared by npy.c, npz.c and gz.c.
** Owns: byte sources and sinks (callbacks, so a .npy image can stream from
** a file, a memory buffer or a zip entry), the streaming .npy
** reader and writer built on them, and atomic file replacement (temporary
** file in the target's folder, then rename). Not here: the zip container
** (npz.c, over libzip), the public entry points (limpet/io.h).
** Offsets in messages are byte offsets from the start of the named source.
*/
#ifndef LIMPET_IO_IMPL_H
#define LIMPET_IO_IMPL_H

#include <stdio.h>
#include "limpet/io.h"

/* Read up to n bytes into dst; *got < n means the source is exhausted.
   Any other failure records its message in the ctx and returns its status. */
typedef lp_status (*lp_io_readfn)(void *ud, void *dst, size_t n, size_t *got);
/* Write n bytes or record the failure and return its status. */
typedef lp_status (*lp_io_writefn)(void *ud, const void *src, size_t n);

typedef struct lp_io_src {
  lp_io_readfn read;
  void *ud;
  uint64_t size;          /* bytes the source holds, UINT64_MAX when unknown */
} lp_io_src;

/* Decode one .npy image from src. label names the source in messages, quoted
   as it should appear ("'x.npy'", "'a.npz' entry 'w.npy'"). The image must
   end exactly where the data end. */
lp_status lp_npy_read_src(lp_ctx *ctx, const char *label, const lp_io_src *src,
                          lp_tensor **out);

/* The .npy header (magic, version, length, dict, padding) numpy.save writes
   for t; returns its length, 0 when it does not fit in cap bytes. */
size_t    lp_npy_header(const lp_tensor *t, char *buf, size_t cap);
/* Header and data of t through wr (data in C order, little endian). */
lp_status lp_npy_write_sink(lp_ctx *ctx, const lp_tensor *t, lp_io_writefn wr, void *ud);
/* Bytes of the .npy image of t (header plus data). */
uint64_t  lp_npy_image_size(const lp_tensor *t);

/* Atomic replacement of path. lp_io_tmp_open creates "<path>.tmp.XXXXXX"
   (*tmp, allocated through ctx) and opens it; lp_io_tmp_commit flushes,
   syncs, closes and renames it over path; lp_io_tmp_abort closes and removes
   it. Both commit and abort free *tmp; commit aborts by itself on failure. */
typedef struct lp_io_tmp {
  char *tmp;
  size_t tmpsize;
  FILE *fp;
} lp_io_tmp;
lp_status lp_io_tmp_open(lp_ctx *ctx, const char *path, lp_io_tmp *f);
lp_status lp_io_tmp_commit(lp_ctx *ctx, const char *path, lp_io_tmp *f);
void      lp_io_tmp_abort(lp_ctx *ctx, lp_io_tmp *f);

/* Keep the message in ctx but put prefix ("'x.npy': ") in front of it. */
lp_status lp_io_prefix_error(lp_ctx *ctx, lp_status st, const char *label);

/* zlib allocation callbacks routing zlib's memory through the ctx (opaque =
   lp_ctx *): accounted, and failable by the test allocator. */
#include <zlib.h>
voidpf lp_zalloc_(voidpf opaque, uInt items, uInt size);
void   lp_zfree_(voidpf opaque, voidpf ptr);

/* Record LP_EFORMAT with "'path' at offset N: <message>" (gz.c). */
lp_status lp_file_error_(lp_ctx *ctx, const char *path, uint64_t off, const char *fmt, ...)
#if defined(__GNUC__)
  __attribute__((format(printf, 4, 5)))
#endif
  ;

#endif
