/*
** core/include/limpet/png.h -- PNG images to and from uint8 tensors.
** Owns: encoding an (H, W, C) uint8 tensor (C = 1 gray, 2 gray+alpha,
** 3 RGB, 4 RGBA) as an 8-bit PNG, written atomically; decoding any PNG
** libpng reads to an (H, W, C) uint8 tensor (palettes expand to RGB or
** RGBA; 16-bit samples become 8-bit sRGB values as libpng's simplified API
** converts them). Both through libpng. Not here: drawing (figure.h), other
** image formats.
** Errors: a file that cannot be opened or written gives LP_EIO; malformed
** content LP_EFORMAT: "'path' at offset N: ..." for a broken chunk
** structure or CRC, "'path': corrupt PNG (libpng: ...)" for bad content.
** Implemented in core/src/png.c.
*/
#ifndef LIMPET_PNG_H
#define LIMPET_PNG_H

#include "limpet/tensor.h"

lp_status lp_png_write(lp_ctx *ctx, const char *path, lp_tensor *img);
lp_status lp_png_read(lp_ctx *ctx, const char *path, lp_tensor **out);

/* The same on memory. lp_png_encode: *out_buf comes from lp_ctx_alloc_raw;
   free it with lp_ctx_dealloc(ctx, *out_buf, *out_len). `what` names the
   buffer in decode errors. */
lp_status lp_png_encode(lp_ctx *ctx, lp_tensor *img, unsigned char **out_buf,
                        size_t *out_len);
lp_status lp_png_decode(lp_ctx *ctx, const unsigned char *buf, size_t len, const char *what,
                        lp_tensor **out);

#endif
