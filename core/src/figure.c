/*
** core/src/figure.c -- lp_figure over PLplot (see figure.h).
** Owns: one PLplot stream per figure (plmkstrm / plsstrm / plend1), the
** device choice by extension, the house style (white page, black axes,
** readable text), the two colour maps, and the atomic file write. Every call
** makes its stream current first, so several figures may be open at once.
** PLplot ends the process on fatal errors (plexit): the file it opens is one
** we created ourselves first, and every size and coordinate is checked
** before it is passed on, so no user input reaches such an error.
*/
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <plplot.h>

#include "limpet/figure.h"

struct lp_figure {
  lp_ctx *ctx;
  PLINT stream;
  int open;                 /* stream initialised and not yet ended */
  int rows, cols, width, height;
  char *path, *tmp;
};

static const char *device_of(const char *path) {
  const char *dot = strrchr(path, '.');
  if (!dot) return NULL;
  if (!strcasecmp(dot, ".png")) return "pngcairo";
  if (!strcasecmp(dot, ".svg")) return "svgcairo";
  if (!strcasecmp(dot, ".pdf")) return "pdfcairo";
  return NULL;
}

static void use(lp_figure *f) { plsstrm(f->stream); }

lp_status lp_figure_open(lp_ctx *ctx, const char *path, int width, int height, int rows,
                         int cols, lp_figure **out) {
  *out = NULL;
  const char *dev = device_of(path);
  if (!dev) return lp_ctx_error(ctx, LP_EARG, 1, "expected a path ending in .png, .svg or .pdf, got '%s'", path);
  if (width < 100 || width > 20000 || height < 80 || height > 20000)
    return lp_ctx_error(ctx, LP_EARG, 2, "width and height must be in 100..20000 and 80..20000, got %d x %d",
                        width, height);
  if (rows < 1 || rows > 16 || cols < 1 || cols > 16)
    return lp_ctx_error(ctx, LP_EARG, 3, "rows and cols must be in 1..16, got %d x %d", rows, cols);
  lp_figure *f = calloc(1, sizeof *f);
  if (!f) return lp_ctx_error(ctx, LP_ENOMEM, 0, "not enough memory for a figure");
  f->ctx = ctx; f->rows = rows; f->cols = cols; f->width = width; f->height = height;
  size_t n = strlen(path);
  f->path = malloc(n + 1);
  f->tmp = malloc(n + 16);
  if (!f->path || !f->tmp) { lp_figure_release(f); return lp_ctx_error(ctx, LP_ENOMEM, 0, "not enough memory for a figure"); }
  memcpy(f->path, path, n + 1);
  snprintf(f->tmp, n + 16, "%s.tmpXXXXXX", path);
  int fd = mkstemp(f->tmp);
  if (fd < 0) {
    int e = errno;
    f->tmp[0] = 0;
    lp_figure_release(f);
    return lp_ctx_error(ctx, LP_EIO, 1, "cannot open '%s' for writing: %s", path, strerror(e));
  }
  close(fd);
  plmkstrm(&f->stream);
  if (f->stream < 0) {
    lp_figure_release(f);
    return lp_ctx_error(ctx, LP_ENOMEM, 0, "PLplot has no free stream for another figure");
  }
  plsdev(dev);
  plsfnam(f->tmp);
  plspage(0, 0, width, height, 0, 0);
  plscolbg(255, 255, 255);
  plscol0(1, 0, 0, 0);
  plssub(cols, rows);
  plscmap1n(256);
  plinit();
  f->open = 1;
  plcol0(1);
  plwidth(1.0);
  *out = f;
  return LP_OK;
}

lp_status lp_figure_panel(lp_figure *f, int k) {
  if (k < 1 || k > f->rows * f->cols)
    return lp_ctx_error(f->ctx, LP_EARG, 1, "panel %d is not in 1..%d", k, f->rows * f->cols);
  use(f);
  pladv(k);
  return LP_OK;
}

static int finite4(double a, double b, double c, double d) {
  return isfinite(a) && isfinite(b) && isfinite(c) && isfinite(d);
}

lp_status lp_figure_axes(lp_figure *f, const lp_axes *a, double area[4]) {
  if (!finite4(a->vx0, a->vx1, a->vy0, a->vy1) || a->vx0 < 0 || a->vx1 > 1 || a->vy0 < 0 ||
      a->vy1 > 1 || a->vx0 >= a->vx1 || a->vy0 >= a->vy1)
    return lp_ctx_error(f->ctx, LP_EARG, 1, "viewport must lie inside 0..1 with x0 < x1 and y0 < y1");
  if (!finite4(a->x0, a->x1, a->y0, a->y1) || a->x0 == a->x1 || a->y0 == a->y1)
    return lp_ctx_error(f->ctx, LP_EARG, 1, "data window must be finite and non-empty");
  use(f);
  plvpor(a->vx0, a->vx1, a->vy0, a->vy1);
  plwind(a->x0, a->x1, a->y0, a->y1);
  plcol0(1);
  plwidth(1.0);
  pllsty(1);
  plbox(a->xopt ? a->xopt : "", 0.0, 0, a->yopt ? a->yopt : "", 0.0, 0);
  pllab(a->xlabel ? a->xlabel : "", a->ylabel ? a->ylabel : "", a->title ? a->title : "");
  if (area) {
    PLFLT x0, x1, y0, y1;
    plgvpd(&x0, &x1, &y0, &y1);    /* normalised device coordinates of the page */
    area[0] = floor(x0 * f->width + 0.5);
    area[1] = floor((1 - y1) * f->height + 0.5);
    area[2] = floor(x1 * f->width + 0.5);
    area[3] = floor((1 - y0) * f->height + 0.5);
  }
  return LP_OK;
}

void lp_figure_color(lp_figure *f, int r, int g, int b, double alpha) {
  use(f);
  if (!(alpha >= 0 && alpha <= 1)) alpha = 1;
  plscol0a(15, r & 255, g & 255, b & 255, alpha);
  plcol0(15);
}

void lp_figure_width(lp_figure *f, double width) {
  use(f);
  plwidth(isfinite(width) && width > 0 && width < 100 ? width : 1.0);
}

void lp_figure_dashed(lp_figure *f, int dashed) {
  use(f);
  pllsty(dashed ? 2 : 1);
}

void lp_figure_text_size(lp_figure *f, double scale) {
  use(f);
  plschr(0, isfinite(scale) && scale > 0.05 && scale < 20 ? scale : 1.0);
}

static lp_status check_xy(lp_figure *f, int64_t n, const double *x, const double *y) {
  if (n < 0 || n > (int64_t)1 << 30) return lp_ctx_error(f->ctx, LP_EARG, 1, "bad number of points %lld", (long long)n);
  for (int64_t i = 0; i < n; i++) {
    if (!isfinite(x[i])) return lp_ctx_error(f->ctx, LP_EARG, 2, "x[%lld] is not finite", (long long)i + 1);
    if (!isfinite(y[i])) return lp_ctx_error(f->ctx, LP_EARG, 3, "y[%lld] is not finite", (long long)i + 1);
  }
  return LP_OK;
}

lp_status lp_figure_line(lp_figure *f, int64_t n, const double *x, const double *y) {
  lp_status st = check_xy(f, n, x, y);
  if (st != LP_OK || n < 2) return st;
  use(f);
  plline((PLINT)n, x, y);
  return LP_OK;
}

lp_status lp_figure_points(lp_figure *f, int64_t n, const double *x, const double *y, double size) {
  lp_status st = check_xy(f, n, x, y);
  if (st != LP_OK || n < 1) return st;
  use(f);
  PLFLT def, cur;
  plgchr(&def, &cur);
  plschr(0, isfinite(size) && size > 0.05 && size < 20 ? size : 1.0);
  plstring((PLINT)n, x, y, "•");
  plschr(0, cur / def);
  return LP_OK;
}

lp_status lp_figure_rects(lp_figure *f, int64_t n, const double *x0, const double *x1,
                          const double *y0, const double *y1) {
  lp_status st = check_xy(f, n, x0, y0);
  if (st == LP_OK) st = check_xy(f, n, x1, y1);
  if (st != LP_OK) return st;
  use(f);
  for (int64_t i = 0; i < n; i++) {
    PLFLT xs[4] = { x0[i], x1[i], x1[i], x0[i] }, ys[4] = { y0[i], y0[i], y1[i], y1[i] };
    plfill(4, xs, ys);
  }
  return LP_OK;
}

static void set_cmap(lp_cmap cmap) {
  if (cmap == LP_CMAP_DIVERGING) {       /* blue - white - red (ColorBrewer RdBu ends) */
    PLFLT pos[3] = { 0, 0.5, 1 }, r[3] = { 33 / 255.0, 1, 178 / 255.0 },
          g[3] = { 102 / 255.0, 1, 24 / 255.0 }, b[3] = { 172 / 255.0, 1, 43 / 255.0 };
    plscmap1l(1, 3, pos, r, g, b, NULL);
  } else {                               /* light yellow - teal - dark blue (YlGnBu) */
    PLFLT pos[3] = { 0, 0.5, 1 }, r[3] = { 1, 65 / 255.0, 8 / 255.0 },
          g[3] = { 1, 182 / 255.0, 29 / 255.0 }, b[3] = { 217 / 255.0, 196 / 255.0, 88 / 255.0 };
    plscmap1l(1, 3, pos, r, g, b, NULL);
  }
}

lp_status lp_figure_image(lp_figure *f, int64_t nx, int64_t ny, const double *z, double x0,
                          double x1, double y0, double y1, double zlo, double zhi, lp_cmap cmap) {
  if (nx < 1 || ny < 1 || nx > 100000 || ny > 100000 || nx * ny > (int64_t)1 << 26)
    return lp_ctx_error(f->ctx, LP_EARG, 1, "image of %lld x %lld cells is empty or too large",
                        (long long)nx, (long long)ny);
  if (!finite4(x0, x1, y0, y1) || !isfinite(zlo) || !isfinite(zhi) || zlo >= zhi)
    return lp_ctx_error(f->ctx, LP_EARG, 2, "image extent and value range must be finite and non-empty");
  /* plimage colours the cell between grid points i and i+1 with point i's
     value: one extra (repeated) row and column give exactly nx x ny cells. */
  int64_t gx = nx + 1, gy = ny + 1;
  PLFLT **cols = malloc((size_t)gx * sizeof *cols);
  PLFLT *cells = malloc((size_t)(gx * gy) * sizeof *cells);
  if (!cols || !cells) {
    free(cols); free(cells);
    return lp_ctx_error(f->ctx, LP_ENOMEM, 0, "not enough memory for an image");
  }
  double off = zhi + (zhi - zlo) * 10;     /* outside [zlo, zhi]: PLplot leaves it blank */
  for (int64_t i = 0; i < gx; i++) {
    cols[i] = cells + i * gy;
    for (int64_t j = 0; j < gy; j++) {
      double v = z[(j < ny ? j : ny - 1) * nx + (i < nx ? i : nx - 1)];
      cols[i][j] = isnan(v) ? off : v < zlo ? zlo : v > zhi ? zhi : v;
    }
  }
  use(f);
  set_cmap(cmap);
  plimage((PLFLT_MATRIX)cols, (PLINT)gx, (PLINT)gy, x0, x1, y0, y1, zlo, zhi, x0, x1, y0, y1);
  free(cells); free(cols);
  return LP_OK;
}

lp_status lp_figure_text(lp_figure *f, double x, double y, double angle, double just, const char *s) {
  if (!finite4(x, y, angle, just)) return lp_ctx_error(f->ctx, LP_EARG, 1, "text position must be finite");
  use(f);
  double a = angle * M_PI / 180;
  plptex(x, y, cos(a), sin(a), just, s);
  return LP_OK;
}

lp_status lp_figure_mtext(lp_figure *f, const char *side, double disp, double pos, double just,
                          const char *s) {
  static const char *ok[] = { "t", "b", "l", "r", "lv", "rv", "tv", "bv", NULL };
  int known = 0;
  for (int i = 0; ok[i]; i++) known |= !strcmp(side, ok[i]);
  if (!known) return lp_ctx_error(f->ctx, LP_EARG, 1, "side must be t, b, l, r, lv or rv, got '%s'", side);
  if (!finite4(disp, pos, just, 0)) return lp_ctx_error(f->ctx, LP_EARG, 2, "text position must be finite");
  use(f);
  plmtex(side, disp, pos, just, s);
  return LP_OK;
}

lp_status lp_figure_close(lp_figure *f) {
  if (!f->open) return lp_ctx_error(f->ctx, LP_EARG, 1, "figure is already closed");
  use(f);
  plend1();
  f->open = 0;
  FILE *check = fopen(f->tmp, "rb");
  long size = -1;
  if (check) { fseek(check, 0, SEEK_END); size = ftell(check); fclose(check); }
  if (size <= 0) {
    remove(f->tmp);
    f->tmp[0] = 0;
    return lp_ctx_error(f->ctx, LP_EIO, 1, "cannot write '%s': the plotting device wrote nothing", f->path);
  }
  if (rename(f->tmp, f->path) != 0) {
    int e = errno;
    remove(f->tmp);
    f->tmp[0] = 0;
    return lp_ctx_error(f->ctx, LP_EIO, 1, "cannot write '%s': %s", f->path, strerror(e));
  }
  f->tmp[0] = 0;
  return LP_OK;
}

void lp_figure_release(lp_figure *f) {
  if (!f) return;
  if (f->open) { use(f); plend1(); }
  if (f->tmp && f->tmp[0]) remove(f->tmp);
  free(f->path);
  free(f->tmp);
  free(f);
}
