/*
** core/src/audio.c -- sound files through libsndfile (see limpet/audio.h).
** Reading goes through sf_readf_double (libsndfile scales integer formats to
** [-1, 1]); writing goes to "<path>.tmp.XXXXXX" (io_impl.h) through
** sf_open_fd and is renamed over path only when everything was written.
*/
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sndfile.h>

#include "limpet/audio.h"
#include "io_impl.h"

/* The header's frame count is believed only up to AUDIO_HINT_RATIO frames a
   byte of the file: a short corrupt file announcing billions of frames
   reserves little before its data run out (reported as truncated); beyond
   that the buffer grows as frames arrive, bounded by the size cap. */
#define AUDIO_HINT_RATIO 16
#define AUDIO_MIN_FRAMES 4096

/* Read info->frames frames of sf into a new (frames, channels) float64
   tensor. */
static lp_status read_frames(lp_ctx *ctx, SNDFILE *sf, const char *path, const SF_INFO *info, long file_size,
                             lp_tensor **out) {
  const int64_t ch = info->channels, want = (int64_t)info->frames;
  const int64_t maxf = (int64_t)(lp_ctx_max_bytes(ctx) / sizeof(double) / (size_t)ch);
  int64_t cap = want, have = 0, shape[2];
  double *buf = NULL;
  lp_status st;
  if (file_size > 0 && cap > (int64_t)file_size * AUDIO_HINT_RATIO) cap = (int64_t)file_size * AUDIO_HINT_RATIO;
  if (cap < AUDIO_MIN_FRAMES) cap = want < AUDIO_MIN_FRAMES ? want : AUDIO_MIN_FRAMES;
  if (cap > maxf) cap = maxf;
  if (cap > 0 && !(buf = lp_ctx_alloc_raw(ctx, (size_t)(cap * ch) * sizeof(double)))) return LP_ENOMEM;
  while (have < want) {
    sf_count_t got;
    if (have == cap) {                       /* more frames than reserved: grow */
      int64_t ncap = cap > want / 2 ? want : 2 * cap;
      double *nbuf;
      if (ncap > maxf) ncap = maxf;
      if (ncap <= cap) {
        st = lp_ctx_error(ctx, LP_ESIZE, 1, "'%s': %lld frames of %lld channels need %llu bytes, more than the cap of %zu bytes",
                          path, (long long)want, (long long)ch, (unsigned long long)want * (unsigned long long)ch * 8ull,
                          lp_ctx_max_bytes(ctx));
        lp_ctx_dealloc(ctx, buf, (size_t)(cap * ch) * sizeof(double));
        return st;
      }
      if (!(nbuf = lp_ctx_alloc_raw(ctx, (size_t)(ncap * ch) * sizeof(double)))) {
        lp_ctx_dealloc(ctx, buf, (size_t)(cap * ch) * sizeof(double));
        return LP_ENOMEM;
      }
      memcpy(nbuf, buf, (size_t)(have * ch) * sizeof(double));
      lp_ctx_dealloc(ctx, buf, (size_t)(cap * ch) * sizeof(double));
      buf = nbuf;
      cap = ncap;
    }
    got = sf_readf_double(sf, buf + have * ch, (sf_count_t)(cap - have));
    if (got <= 0) break;
    have += got;
  }
  if (have != want) {
    st = lp_ctx_error(ctx, LP_EFORMAT, 1, "'%s': truncated after %lld of %lld frames (%s)", path, (long long)have,
                      (long long)want, sf_strerror(sf));
  } else {
    shape[0] = want;
    shape[1] = ch;
    if ((st = lp_tensor_new(ctx, LP_F64, 2, shape, out)) == LP_OK && have > 0)
      memcpy(lp_tensor_data(*out), buf, (size_t)(have * ch) * sizeof(double));
  }
  if (buf) lp_ctx_dealloc(ctx, buf, (size_t)(cap * ch) * sizeof(double));
  return st;
}

lp_status lp_audio_load(lp_ctx *ctx, const char *path, lp_tensor **samples, double *rate) {
  SF_INFO info;
  SNDFILE *sf;
  FILE *probe;
  lp_tensor *t = NULL;
  lp_status st;
  long file_size = 0;
  *samples = NULL;
  *rate = 0;
  probe = fopen(path, "rb");              /* missing / unreadable: the environment's failure */
  if (!probe) return lp_ctx_error(ctx, LP_EIO, 1, "cannot open '%s': %s", path, strerror(errno));
  if (fseek(probe, 0, SEEK_END) == 0) file_size = ftell(probe);
  fclose(probe);
  memset(&info, 0, sizeof info);
  sf = sf_open(path, SFM_READ, &info);
  if (!sf) return lp_ctx_error(ctx, LP_EFORMAT, 1, "'%s' is not a sound file libsndfile can read (%s)", path, sf_strerror(NULL));
  if (info.channels < 1 || info.frames < 0 || info.samplerate <= 0) {
    sf_close(sf);
    return lp_ctx_error(ctx, LP_EFORMAT, 1, "'%s': bad header (%d channels, rate %d)", path, info.channels, info.samplerate);
  }
  {
    /* libsndfile reads a file whose sample data end before its header says
       (a cut-off download) as a shorter sound, without an error; its log
       says so ("data : 8 (should be 5)"): that is a truncated file here. */
    char log[2048];
    log[0] = 0;
    sf_command(sf, SFC_GET_LOG_INFO, log, sizeof log);
    const char *d = strstr(log, "\ndata : ");
    const char *eol = d ? strchr(d + 1, '\n') : NULL;
    const char *sb = d ? strstr(d, "(should be ") : NULL;
    if (sb && (!eol || sb < eol)) {
      long declared = strtol(d + 8, NULL, 10), present = strtol(sb + 11, NULL, 10);
      sf_close(sf);
      return lp_ctx_error(ctx, LP_EFORMAT, 1, "'%s': truncated: its data chunk announces %ld bytes, %ld are present",
                          path, declared, present);
    }
  }
  st = read_frames(ctx, sf, path, &info, file_size, &t);
  sf_close(sf);
  if (st != LP_OK) return st;
  {
    /* a float or double file can hold NaN or an infinity: corrupt content,
       refused where it enters (nothing downstream expects it) */
    const double *x = lp_tensor_data(t);
    int64_t i, n = (int64_t)info.frames * info.channels;
    for (i = 0; i < n; i++) {
      if (!isfinite(x[i])) {
        st = lp_ctx_error(ctx, LP_EFORMAT, 1, "'%s': frame %lld, channel %lld holds a non-finite sample (%g)", path,
                          (long long)(i / info.channels + 1), (long long)(i % info.channels + 1), x[i]);
        lp_tensor_release(t);
        return st;
      }
    }
  }
  *samples = t;
  *rate = (double)info.samplerate;
  return LP_OK;
}

static int ends_with(const char *s, const char *ext) {
  size_t n = strlen(s), m = strlen(ext);
  return n >= m && strcasecmp(s + n - m, ext) == 0;
}

lp_status lp_audio_save(lp_ctx *ctx, const char *path, const lp_tensor *samples, int rate,
                        lp_audio_subtype subtype) {
  SF_INFO info;
  SNDFILE *sf;
  lp_io_tmp tmp;
  lp_tensor *c = NULL;
  lp_status st;
  int major, minor, nd = lp_tensor_ndim(samples);
  int64_t frames, ch;
  static const int SUB[] = { SF_FORMAT_PCM_16, SF_FORMAT_PCM_24, SF_FORMAT_PCM_32, SF_FORMAT_FLOAT,
                             SF_FORMAT_DOUBLE, SF_FORMAT_VORBIS };
  if (ends_with(path, ".wav")) major = SF_FORMAT_WAV;
  else if (ends_with(path, ".flac")) major = SF_FORMAT_FLAC;
  else if (ends_with(path, ".aiff") || ends_with(path, ".aif")) major = SF_FORMAT_AIFF;
  else if (ends_with(path, ".ogg")) major = SF_FORMAT_OGG;
  else return lp_ctx_error(ctx, LP_EARG, 1, "unknown sound file extension in '%s' (use .wav, .flac, .aiff or .ogg)", path);
  if ((int)subtype < 0 || (int)subtype > LP_AUDIO_VORBIS) return lp_ctx_error(ctx, LP_EARG, 4, "unknown encoding");
  minor = SUB[subtype];
  if (major == SF_FORMAT_OGG && subtype == LP_AUDIO_PCM16) minor = SF_FORMAT_VORBIS;
  if (nd != 1 && nd != 2) return lp_ctx_error(ctx, LP_ESHAPE, 2, "expected samples (T) or (T, C), got %d dims", nd);
  frames = lp_tensor_size(samples, 0);
  ch = nd == 2 ? lp_tensor_size(samples, 1) : 1;
  if (ch < 1 || ch > 1024) return lp_ctx_error(ctx, LP_ESHAPE, 2, "expected 1 to 1024 channels, got %lld", (long long)ch);
  if (rate < 1) return lp_ctx_error(ctx, LP_EARG, 3, "sample rate must be a positive integer, got %d", rate);
  memset(&info, 0, sizeof info);
  info.samplerate = rate;
  info.channels = (int)ch;
  info.format = major | minor;
  if (!sf_format_check(&info))
    return lp_ctx_error(ctx, LP_EARG, 4, "'%s': this container cannot hold that encoding", path);
  if (lp_tensor_dtype(samples) == LP_F64) st = lp_tensor_contiguous(ctx, (lp_tensor *)samples, &c);
  else st = lp_tensor_astype(ctx, samples, LP_F64, &c);
  if (st != LP_OK) return st;
  if ((st = lp_io_tmp_open(ctx, path, &tmp)) != LP_OK) { lp_tensor_release(c); return st; }
  sf = sf_open_fd(fileno(tmp.fp), SFM_WRITE, &info, 0);
  if (!sf) {
    st = lp_ctx_error(ctx, LP_EIO, 1, "cannot write '%s': %s", path, sf_strerror(NULL));
    lp_io_tmp_abort(ctx, &tmp);
    lp_tensor_release(c);
    return st;
  }
  sf_command(sf, SFC_SET_CLIPPING, NULL, SF_TRUE);
  if (frames > 0 && sf_writef_double(sf, lp_tensor_data(c), frames) != frames) {
    st = lp_ctx_error(ctx, LP_EIO, 1, "cannot write '%s': %s", path, sf_strerror(sf));
    sf_close(sf);
    lp_io_tmp_abort(ctx, &tmp);
    lp_tensor_release(c);
    return st;
  }
  lp_tensor_release(c);
  if (sf_close(sf) != 0) {
    st = lp_ctx_error(ctx, LP_EIO, 1, "cannot write '%s'", path);
    lp_io_tmp_abort(ctx, &tmp);
    return st;
  }
  return lp_io_tmp_commit(ctx, path, &tmp);
}
