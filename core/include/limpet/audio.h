/*
** core/include/limpet/audio.h -- sound files through libsndfile: read any
** format libsndfile reads (WAV, FLAC, Ogg/Vorbis, AIFF, ...), write WAV,
** FLAC, AIFF or Ogg atomically.
** Owns: the file side of lp.audio.load / lp.audio.save. Not here: argument
** checks and the Lua face (lua/l_audio.c, stdlib/limpet/audio.lua).
** Samples are float64, normalised to [-1, 1] (libsndfile's float scaling),
** frame-major: (T, C).
*/
#ifndef LIMPET_AUDIO_H
#define LIMPET_AUDIO_H

#include "limpet/tensor.h"

/* Read path: samples (T, C) float64, the sample rate in Hz. Errors: LP_EIO
   when the file cannot be opened (missing, permission), LP_EFORMAT naming
   the file when libsndfile cannot read its content, when the data end
   before the header says, or when a sample is NaN or infinite (frame and
   channel named, 1-based). */
lp_status lp_audio_load(lp_ctx *ctx, const char *path, lp_tensor **samples, double *rate);

/* Sample encodings for lp_audio_save. */
typedef enum lp_audio_subtype {
  LP_AUDIO_PCM16 = 0, LP_AUDIO_PCM24, LP_AUDIO_PCM32, LP_AUDIO_FLOAT, LP_AUDIO_DOUBLE, LP_AUDIO_VORBIS
} lp_audio_subtype;

/* Write samples (T) or (T, C) (any numeric dtype; values beyond [-1, 1]
   clip in the integer and Vorbis encodings, FLOAT and DOUBLE keep them) at
   an integer rate, container chosen by the extension of path
   (.wav, .flac, .aiff/.aif, .ogg), atomically (a temporary file renamed over
   path). Errors: LP_EARG (arg 1: unknown extension; arg 4: an encoding the
   container cannot hold), LP_EIO when writing fails. */
lp_status lp_audio_save(lp_ctx *ctx, const char *path, const lp_tensor *samples, int rate,
                        lp_audio_subtype subtype);

#endif
