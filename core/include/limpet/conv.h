/*
** core/include/limpet/conv.h -- 2-D convolution and sum pooling, batch of
** images (N, C, H, W), PyTorch's cross-correlation semantics.
** Implemented in core/src/conv.c. 1-D convolution is the 2-D one with W = 1.
*/
#ifndef LIMPET_CONV_H
#define LIMPET_CONV_H

#include "limpet/tensor.h"

typedef struct lp_conv2d_opts {
  int64_t stride[2], padding[2], dilation[2];
  int64_t groups;
} lp_conv2d_opts;

/* y (N, O, OH, OW) = x (N, C, H, W) * w (O, C/groups, KH, KW) + b (O, or
   NULL); float32 or float64, x and w of one dtype. OH = (H + 2 pad - dil
   (KH - 1) - 1) / stride + 1. */
lp_status lp_conv2d(lp_ctx *ctx, const lp_tensor *x, const lp_tensor *w, const lp_tensor *b,
                    const lp_conv2d_opts *o, lp_tensor **out);
/* The same, recorded for autodiff (dx, dw, db). */
lp_status lp_ag_conv2d(lp_ctx *ctx, const lp_tensor *x, const lp_tensor *w, const lp_tensor *b,
                       const lp_conv2d_opts *o, lp_tensor **out);
/* The plain direct loop (reference for the im2col + GEMM path). */
lp_status lp_conv2d_ref(lp_ctx *ctx, const lp_tensor *x, const lp_tensor *w, const lp_tensor *b,
                        const lp_conv2d_opts *o, lp_tensor **out);

/* y (N, C, OH, OW): sum over each kernel window (zero padding). */
lp_status lp_sum_pool2d(lp_ctx *ctx, const lp_tensor *x, const int64_t k[2], const int64_t s[2],
                        const int64_t p[2], lp_tensor **out);
/* The plain per-element loop (reference for lp_sum_pool2d's row loops). */
lp_status lp_sum_pool2d_ref(lp_ctx *ctx, const lp_tensor *x, const int64_t k[2], const int64_t s[2],
                            const int64_t p[2], lp_tensor **out);
lp_status lp_ag_sum_pool2d(lp_ctx *ctx, const lp_tensor *x, const int64_t k[2], const int64_t s[2],
                           const int64_t p[2], lp_tensor **out);

#endif
