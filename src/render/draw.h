/* Drawing helpers shared by the render module's files (overlay.c, grid.c); not used outside src/render/.
 * Functions defined in draw.c carry the vte_draw_ prefix because the library is linked into other programs;
 * the small inline ones are private to each file that includes this header. */
#ifndef VTE_RENDER_DRAW_H
#define VTE_RENDER_DRAW_H

#include <math.h>
#include <stddef.h>

#include "vitexplain.h"

/* Text colours: white on darkened bands, ink on the grid's white canvas. */
static const unsigned char DRAW_WHITE[3] = {255, 255, 255};
static const unsigned char DRAW_INK[3] = {20, 20, 20};

static inline int draw_min(int a, int b) { return a < b ? a : b; }
static inline int draw_max(int a, int b) { return a > b ? a : b; }

static inline int draw_image_valid(const vte_image *image) {
    return image && image->rgb && image->width > 0 && image->height > 0;
}

/* Stroke thickness of Hershey text at `scale`. */
static inline int draw_text_thickness(double scale) {
    const int t = (int)lrint(scale * 1.5);
    return t < 1 ? 1 : t;
}

/* ---------------------------------------------------------------- bilinear taps (see vte_map_upsample) */

/* One output coordinate's two source taps along an axis (PyTorch's upsample_bilinear2d, align_corners=False). */
typedef struct vte_axis_tap {
    int i0, i1;   /* lower and upper source index (equal at the last row/column) */
    float l0, l1; /* their weights: 1 - lambda, lambda */
} vte_axis_tap;

vte_axis_tap vte_draw_axis_tap(int in, int out, int d);
/* The taps of all `out` coordinates. */
void vte_draw_axis_taps(int in, int out, vte_axis_tap *taps);
/* Output row `ty` of the upsampled map (width values), given the column taps. */
void vte_draw_upsample_row(const float *grid, int grid_w, const vte_axis_tap *ty, const vte_axis_tap *tx, int width,
                           float *row);

/* ---------------------------------------------------------------- colours and pixels */

/* OpenCV's jet colours of all 256 levels, RGB. */
vte_status vte_draw_jet_lut(unsigned char lut[256 * 3], vte_error *err);

/* dst (width x height RGB) = blend of src and the jet colour of the upsampled map, as documented for
 * vte_render_overlay (steps 1-3); `lut` from vte_draw_jet_lut. */
vte_status vte_draw_blend_map(const unsigned char *src, int width, int height, const float *map, int grid_h,
                              int grid_w, float alpha, const unsigned char *lut, unsigned char *dst, vte_error *err);

/* Darkens a rectangle (clipped to the image): v -> (v*90+128)>>8, about 0.35*v. */
void vte_draw_darken_rect(vte_image *image, int x0, int y0, int w, int h);

/* out->rgb = malloc'ed width x height picture (contents undefined); `what` names the caller in the error. */
vte_status vte_draw_alloc_image(vte_image *out, int width, int height, const char *what, vte_error *err);

/* Draws `text` in ink reading upwards (rotated 90 degrees counter-clockwise: OpenCV draws only horizontal text),
 * its box's left edge at x and centred vertically on cy. */
vte_status vte_draw_put_text_up(vte_image *canvas, const char *text, double scale, int x, int cy, vte_error *err);

/* ---------------------------------------------------------------- text */

typedef struct vte_text_metrics {
    int width, height, baseline;
} vte_text_metrics;

/* Size of `text` at `scale` (thickness from draw_text_thickness). */
vte_status vte_draw_measure(const char *text, double scale, vte_text_metrics *m, vte_error *err);

/* Copies `text` into buf (size cap), cut and ended with "..." so that it is at most max_width pixels wide at
 * `scale`; an empty string when not even "..." fits. */
vte_status vte_draw_fit_text(const char *text, double scale, int max_width, char *buf, size_t cap, vte_error *err);

#endif
