/*
** spec/fuzz/fuzz_audio.c -- fuzz harness: sound files through libsndfile
** (core/src/audio.c, what lp.audio.load and the SpokenDigits cache read).
** Input: the bytes of a sound file (WAV, AIFF, FLAC, Ogg, ...: libsndfile
** tells them apart by content). A refusal must name the file. Accepted
** samples must be finite and must round-trip exactly through a float64 WAV
** file (the DOUBLE encoding keeps values beyond [-1, 1]).
*/
#include <math.h>

#include "harness.h"
#include "limpet/audio.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  lp_ctx *ctx = fz_ctx();
  lp_tensor *s = NULL, *back = NULL;
  double rate = 0, rate2 = 0;
  char in[1024], out[1024];
  int64_t i, n;
  snprintf(in, sizeof in, "%s", fz_write("input.wav", data, size));
  snprintf(out, sizeof out, "%s/copy.wav", fz_dir());
  if (lp_audio_load(ctx, in, &s, &rate) != LP_OK) {
    if (!strstr(lp_ctx_errmsg(ctx), in)) fz_fail("audio error does not name the file", lp_ctx_errmsg(ctx));
    unlink(in);
    return 0;
  }
  n = lp_tensor_numel(s);
  const double *x = lp_tensor_data(s);
  for (i = 0; i < n; i++)
    if (!isfinite(x[i])) fz_fail("a loaded sound holds a non-finite sample", in);
  if (!(rate > 0) || rate > 2147483647.0 || rate != floor(rate)) fz_fail("bad sample rate", in);
  if (lp_audio_save(ctx, out, s, (int)rate, LP_AUDIO_DOUBLE) != LP_OK) {
    /* libsndfile cannot write every shape it reads (no frames, more
       channels than WAV holds): a clean refusal naming the file is fine */
    if (!strstr(lp_ctx_errmsg(ctx), out)) fz_fail("audio save error does not name the file", lp_ctx_errmsg(ctx));
  } else {
    if (lp_audio_load(ctx, out, &back, &rate2) != LP_OK) fz_fail("a saved sound does not load", lp_ctx_errmsg(ctx));
    if (rate2 != rate || lp_tensor_numel(back) != n || lp_tensor_ndim(back) != 2 ||
        lp_tensor_shape(back)[1] != lp_tensor_shape(s)[1])
      fz_fail("round trip", "shape or rate differ");
    const double *y = lp_tensor_data(back);
    for (i = 0; i < n; i++)
      if (y[i] != x[i]) fz_fail("round trip", "samples differ");
    lp_tensor_release(back);
    unlink(out);
  }
  lp_tensor_release(s);
  unlink(in);
  return 0;
}
