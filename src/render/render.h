/* Pictures of explanations: heat-map overlays, the --grid comparison picture, the live view's text box, and
 * atomic PNG writing with text metadata. Plain C; every OpenCV use (jet colours, text, resizing, PNG encoding)
 * goes through the shim in image/imageio.h. One section per source file; render/draw.h holds the helpers they
 * share. */
#ifndef VTE_RENDER_RENDER_H
#define VTE_RENDER_RENDER_H

#include "vitexplain.h"

/* ---------------------------------------------------------------- overlay.c */

/* Bilinear upsampling of a grid map [grid_h, grid_w] to [height, width] with PyTorch's
 * F.interpolate(mode="bilinear", align_corners=False) semantics, computed in float like PyTorch's CPU kernel:
 * scale = (float)grid/out, src = scale*(dst+0.5)-0.5 clamped at 0, lower index floor(src), upper neighbour
 * clamped to the last row/column, weights src-floor(src) and 1 minus it. Also works for downsampling (without
 * antialiasing, like PyTorch's default). Nothing is done when a size is not positive or a pointer is NULL. */
void vte_map_upsample(const float *grid, int grid_h, int grid_w, float *out, int height, int width);

/* The longest side of an overlay: a larger image is first shrunk to it, aspect kept (cv::INTER_AREA), so that a
 * huge photograph does not make a picture of hundreds of megabytes (the --grid picture has limits of its own). */
#define VTE_OVERLAY_MAX_SIDE 4096

/* The overlay the tool saves, same size as `image` (or shrunk to VTE_OVERLAY_MAX_SIDE on its longer side):
 *   1. `map` (grid_h x grid_w, values meant to be in [0,1]) is upsampled with vte_map_upsample to the image's
 *      size;
 *   2. each value v becomes the level L = lrintf(clamp(v,0,1)*255) (NaN counts as 0), coloured with OpenCV's
 *      COLORMAP_JET (J = jet(L) in RGB);
 *   3. each channel is blended as out = lrintf((1-alpha)*I + alpha*J), evaluated in single precision (the exact
 *      blend rounded to nearest, ties to even; float rounding can move a result that lies within ~1e-4 of a
 *      .5 tie by one level, so a test predicts pixels to +-1);
 *   4. when `title` is non-empty and the image is at least 48 x 48 pixels, a band across the top, of height
 *      max(20, lrint(0.075*min(width,height))), is darkened (each channel v -> (v*90+128)>>8, about 0.35*v) and
 *      the title is written in white (Hershey simplex, anti-aliased, about 70% of the band's height, shrunk to fit
 *      the width down to a minimum scale, then cut with "..."). Non-ASCII characters are drawn as in
 *      vte_cv_put_text (em dashes become '-').
 * alpha must be in [0,1]. out->rgb is malloc'ed (free it with vte_image_free). */
vte_status vte_render_overlay(const vte_image *image, const float *map, int grid_h, int grid_w, float alpha,
                              const char *title, vte_image *out, vte_error *err);

/* Text lines (e.g. FPS and per-stage milliseconds) in white on a dark box (pixels darkened like the overlay's
 * band) in the top-left corner of a frame, in place. The text scale follows the frame size
 * (clamp(min(width,height)/800, 0.35, 2)); lines wider than the frame are clipped. */
vte_status vte_render_text_box(vte_image *frame, const char *const *lines, int line_count, vte_error *err);

/* Small images (a 28x28 Fashion-MNIST garment) make unreadable pictures: the factor by which an image is enlarged
 * before drawing so that its shorter side reaches at least `min_side` (a whole number, 1 when it already does),
 * and the enlargement itself, nearest neighbour (every pixel becomes a factor x factor block, so the picture shows
 * the pixels the model saw). out->rgb is malloc'ed. */
int vte_render_enlarge_factor(const vte_image *image, int min_side);
vte_status vte_render_enlarge_nearest(const vte_image *image, int factor, vte_image *out, vte_error *err);

/* ---------------------------------------------------------------- grid.c */

/* The --grid picture, on a white background:
 *   - a header with `header_lines` (e.g. "1. tabby cat 0.53"), left-aligned, one per line;
 *   - a row of 1 + panel_count panels: the image, then one overlay per panel (the panel's map min-max normalised
 *     to [0,1] over its grid, a constant map giving 0, then blended as in vte_render_overlay with `alpha`, no
 *     title band); every panel is the image resized (cv::INTER_AREA down, INTER_LINEAR up) to the same size,
 *     aspect kept: as wide as the image, at most (2400-200)/(1+panel_count) px and at most 1600 px high, and at
 *     least min(256, that limit) px wide for small images, so the picture is at most about 2400 px wide;
 *   - a caption centred under each panel: "image", then each panel's caption;
 *   - to the right, a vertical colour bar as high as the panels: pure jet colours, level 255 in its top row down to
 *     level 0 in its bottom row (row r of bar_h: lrint(255*(bar_h-1-r)/(bar_h-1))), labelled "1" at the top, "0"
 *     at the bottom and "relevance" written upwards beside it (one shared scale: every map is normalised).
 * out->rgb is malloc'ed. */
typedef struct vte_grid_panel {
    const char *caption; /* method name */
    const float *map;    /* grid_h x grid_w */
} vte_grid_panel;
vte_status vte_render_grid(const vte_image *image, const vte_grid_panel *panels, int panel_count, int grid_h,
                           int grid_w, float alpha, const char *const *header_lines, int line_count, vte_image *out,
                           vte_error *err);

/* Where vte_render_grid put its parts (for tests and callers that want to annotate more): rectangles as x, y,
 * width, height in the output picture. Fills `layout` with what vte_render_grid(image, ..., panel_count, ...,
 * line_count) draws. */
typedef struct vte_grid_layout {
    int width, height;          /* the whole picture */
    int panel_x0, panel_y;      /* the first panel's top-left corner */
    int panel_w, panel_h, gap;  /* panel i starts at x = panel_x0 + i*(panel_w+gap) */
    int bar_x, bar_y, bar_w, bar_h;
} vte_grid_layout;
vte_status vte_render_grid_layout(const vte_image *image, int panel_count, int line_count, vte_grid_layout *layout,
                                  vte_error *err);

/* ---------------------------------------------------------------- png.c */

/* Writes an RGB image as PNG atomically: PNG-encoded in memory (OpenCV), then written with
 * vte_write_file_atomic (util/fileio.h: to "<dir>/.<name>.tmp-<pid>", fsync'ed, renamed over `path`, the folder
 * fsync'ed); on any failure the temporary is removed and err says "<path>: <reason>". The parent folder must
 * exist (the caller creates it). When non-NULL, `title` and `description` are stored right after IHDR as text
 * chunks with keywords "Title" and "Description": tEXt when the value is plain ASCII, else iTXt (UTF-8; tEXt is
 * Latin-1 by the PNG standard, so a UTF-8 title such as "LeGrad — Predicted: cat" goes into iTXt). Tests read
 * them back with tests/support/png_text.h. */
vte_status vte_png_write(const char *path, const vte_image *image, const char *title, const char *description,
                         vte_error *err);

#endif
