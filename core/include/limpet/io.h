/*
** core/include/limpet/io.h -- NumPy .npy and .npz files.
** Owns: reading and writing .npy (format 1.0-3.0, little and big endian,
** C and Fortran order on read) and .npz (zip, stored or deflated with zlib).
** Writes are atomic: a temporary file in the same folder, then rename.
** Environment failures return LP_EIO; malformed content LP_EFORMAT with the
** file name and byte offset in the message.
** Implemented in core/src/npy.c and core/src/npz.c.
*/
#ifndef LIMPET_IO_H
#define LIMPET_IO_H

#include "limpet/tensor.h"

lp_status lp_npy_read(lp_ctx *ctx, const char *path, lp_tensor **out);
lp_status lp_npy_write(lp_ctx *ctx, const char *path, const lp_tensor *t);

/* Parse / produce a .npy image in memory (used by .npz). `what` names the
   source in error messages. *out_buf is malloc'd; free it with free(). */
lp_status lp_npy_decode(lp_ctx *ctx, const void *buf, size_t len, const char *what,
                        lp_tensor **out);
lp_status lp_npy_encode(lp_ctx *ctx, const lp_tensor *t, void **out_buf, size_t *out_len);

/* NumPy string arrays ('|S<n>' bytes, '<U<n>' unicode) are read as their
   characters along an extra last dim of n: uint8 bytes, or int32 code
   points. lp_npy_text_kind(t) says which: 1 bytes, 2 unicode, 0 for a
   numeric array (lp.load turns string arrays into Lua strings). */
int       lp_npy_text_kind(const lp_tensor *t);

/* .npz: n arrays named names[i] (without ".npy"). On read, *names and *ts
   are arrays of n entries allocated with malloc; free them with
   lp_npz_free. compress: 1 = deflate (np.savez_compressed), 0 = stored. */
lp_status lp_npz_read(lp_ctx *ctx, const char *path, int *n, char ***names, lp_tensor ***ts);
lp_status lp_npz_write(lp_ctx *ctx, const char *path, int n, const char *const *names,
                       lp_tensor *const *ts, int compress);
void      lp_npz_free(int n, char **names, lp_tensor **ts);

#endif
