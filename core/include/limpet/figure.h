/*
** core/include/limpet/figure.h -- figures drawn through PLplot's cairo
** devices (PNG, SVG, PDF: antialiased, real fonts).
** Owns: lp_figure, one PLplot stream writing one file: a grid of panels,
** axes with ticks and labels, lines, markers, filled rectangles, images with
** a colour map, text. The file is written atomically: a temporary file in
** the same folder, renamed on lp_figure_close; a released figure that was not
** closed leaves nothing behind. Arguments are checked here before PLplot
** sees them (PLplot ends the process on some errors: none can reach it).
** Not here: what a raster or a confusion matrix is (stdlib/limpet/plot/).
** Implemented in core/src/figure.c.
*/
#ifndef LIMPET_FIGURE_H
#define LIMPET_FIGURE_H

#include "limpet/core.h"

typedef struct lp_figure lp_figure;

/* Colour maps for images: a diverging blue-white-red map (centre white) and
   a sequential map (light yellow to dark blue, readable in grey). */
typedef enum lp_cmap { LP_CMAP_DIVERGING = 0, LP_CMAP_SEQUENTIAL = 1 } lp_cmap;

/* One panel's axes. Viewport in panel-relative coordinates (0..1, y up);
   window in data coordinates; xopt/yopt are PLplot box options (letters of
   "abcdfghilmnstv"), NULL or "" for none; labels may be NULL. */
typedef struct lp_axes {
  double vx0, vx1, vy0, vy1;
  double x0, x1, y0, y1;
  const char *xopt, *yopt;
  const char *xlabel, *ylabel, *title;
} lp_axes;

/* path's extension picks the device (.png, .svg, .pdf); width and height in
   pixels (points for SVG and PDF), 100..20000; rows, cols 1..16. LP_EIO when
   the file cannot be created (message names it). */
lp_status lp_figure_open(lp_ctx *ctx, const char *path, int width, int height, int rows,
                         int cols, lp_figure **out);
/* Make panel k (1-based, row-major) current. */
lp_status lp_figure_panel(lp_figure *f, int k);
/* Set up axes in the current panel and draw them; area (may be NULL) gets
   the data area in pixels of the whole page: x0, y0 (top left), x1, y1. */
lp_status lp_figure_axes(lp_figure *f, const lp_axes *a, double area[4]);
/* Drawing state. */
void      lp_figure_color(lp_figure *f, int r, int g, int b, double alpha);
void      lp_figure_width(lp_figure *f, double width);       /* line width, pixels */
void      lp_figure_dashed(lp_figure *f, int dashed);
void      lp_figure_text_size(lp_figure *f, double scale);   /* 1 = default */
/* Marks, in data coordinates of the current axes. Non-finite coordinates are
   refused (LP_EARG naming the operand). */
lp_status lp_figure_line(lp_figure *f, int64_t n, const double *x, const double *y);
lp_status lp_figure_points(lp_figure *f, int64_t n, const double *x, const double *y,
                           double size);
lp_status lp_figure_rects(lp_figure *f, int64_t n, const double *x0, const double *x1,
                          const double *y0, const double *y1);
/* z: ny rows of nx values (row 0 at y0), drawn over [x0, x1] x [y0, y1] with
   values zlo..zhi mapped through cmap (NaN cells blank). */
lp_status lp_figure_image(lp_figure *f, int64_t nx, int64_t ny, const double *z, double x0,
                          double x1, double y0, double y1, double zlo, double zhi, lp_cmap cmap);
/* Text at data (x, y): just 0 left, 0.5 centred, 1 right; angle in degrees. */
lp_status lp_figure_text(lp_figure *f, double x, double y, double angle, double just,
                         const char *s);
/* Text outside the data area: side "t", "b", "l", "r" (PLplot's plmtex:
   "lv"/"rv" for upright text beside the axis); disp in character heights
   out from the edge, pos along it 0..1. */
lp_status lp_figure_mtext(lp_figure *f, const char *side, double disp, double pos, double just,
                          const char *s);
/* Finish the file and move it into place. The figure is spent after this
   (release it). LP_EIO if the file could not be written. */
lp_status lp_figure_close(lp_figure *f);
void      lp_figure_release(lp_figure *f);   /* NULL is a no-op */

#endif
