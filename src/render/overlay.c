/* Bilinear upsampling of a map, the heat-map overlay the tool saves, and the live view's text box (see
 * render.h). */
#include "render/render.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "image/imageio.h"
#include "render/draw.h"
#include "util/error.h"

/* ---------------------------------------------------------------- bilinear upsampling */

void vte_map_upsample(const float *grid, int grid_h, int grid_w, float *out, int height, int width) {
    if (!grid || !out || grid_h <= 0 || grid_w <= 0 || height <= 0 || width <= 0) return;
    vte_axis_tap *tx = malloc((size_t)width * sizeof *tx);
    for (int y = 0; y < height; y++) {
        const vte_axis_tap ty = vte_draw_axis_tap(grid_h, height, y);
        float *row = out + (size_t)y * (size_t)width;
        if (tx) {
            if (y == 0) vte_draw_axis_taps(grid_w, width, tx);
            vte_draw_upsample_row(grid, grid_w, &ty, tx, width, row);
        } else { /* no memory for the column table: one tap at a time, same values */
            for (int x = 0; x < width; x++) {
                const vte_axis_tap col = vte_draw_axis_tap(grid_w, width, x);
                vte_draw_upsample_row(grid, grid_w, &ty, &col, 1, row + x);
            }
        }
    }
    free(tx);
}

/* ---------------------------------------------------------------- overlay */

/* The smallest title scale; a title still too wide at it is cut with "...". */
#define TITLE_MIN_SCALE 0.3

/* Step 4 of vte_render_overlay: the darkened band across the top of `out` with `title` in white. */
static vte_status draw_title_band(vte_image *out, const char *title, vte_error *err) {
    const int band = draw_max(20, (int)lrint(0.075 * draw_min(out->width, out->height)));
    const int margin = draw_max(3, (int)lrint(band * 0.3));
    const int avail = out->width - 2 * margin;
    vte_text_metrics m1;
    /* "Ag" spans cap height and descender depth: size the font on it. */
    vte_status st = vte_draw_measure("Ag", 1.0, &m1, err);
    if (st != VTE_OK) return st;
    double scale = 0.7 * band / (double)(m1.height + m1.baseline);
    vte_text_metrics m;
    if ((st = vte_draw_measure(title, scale, &m, err)) != VTE_OK) return st;
    if (m.width > avail) {
        scale *= (double)avail / (double)m.width;
        if (scale < TITLE_MIN_SCALE) scale = TITLE_MIN_SCALE;
    }
    char text[1024];
    if ((st = vte_draw_fit_text(title, scale, avail, text, sizeof text, err)) != VTE_OK) return st;
    vte_draw_darken_rect(out, 0, 0, out->width, band);
    if (!text[0]) return VTE_OK;
    vte_text_metrics ag;
    if ((st = vte_draw_measure("Ag", scale, &ag, err)) != VTE_OK) return st;
    const int top = (band - (ag.height + ag.baseline)) / 2;
    return vte_cv_put_text(out, text, margin, top + ag.height, scale, DRAW_WHITE, draw_text_thickness(scale), err);
}

vte_status vte_render_overlay(const vte_image *image, const float *map, int grid_h, int grid_w, float alpha,
                              const char *title, vte_image *out, vte_error *err) {
    if (!out) return vte_error_set(err, VTE_ERR_INVALID_ARGUMENT, "overlay: NULL output");
    out->width = out->height = 0;
    out->rgb = NULL;
    if (!draw_image_valid(image)) return vte_error_set(err, VTE_ERR_INVALID_ARGUMENT, "overlay: empty image");
    if (!map || grid_h <= 0 || grid_w <= 0)
        return vte_error_set(err, VTE_ERR_INVALID_ARGUMENT, "overlay: bad map (%dx%d grid)", grid_h, grid_w);
    if (!(alpha >= 0.0f && alpha <= 1.0f))
        return vte_error_set(err, VTE_ERR_INVALID_ARGUMENT, "overlay: alpha %g is not in [0, 1]", (double)alpha);
    unsigned char lut[256 * 3];
    vte_status st = vte_draw_jet_lut(lut, err);
    if (st != VTE_OK) return st;
    vte_image shrunk = {0};
    const int longer = draw_max(image->width, image->height);
    if (longer > VTE_OVERLAY_MAX_SIDE) {
        const double scale = (double)VTE_OVERLAY_MAX_SIDE / longer;
        const int width = draw_max(1, (int)lrint(image->width * scale));
        const int height = draw_max(1, (int)lrint(image->height * scale));
        if ((st = vte_cv_resize(image, width, height, &shrunk, err)) != VTE_OK) return st;
        image = &shrunk;
    }
    st = vte_draw_alloc_image(out, image->width, image->height, "overlay", err);
    if (st != VTE_OK) return st;
    st = vte_draw_blend_map(image->rgb, image->width, image->height, map, grid_h, grid_w, alpha, lut, out->rgb, err);
    if (st == VTE_OK && title && *title && image->width >= 48 && image->height >= 48)
        st = draw_title_band(out, title, err);
    vte_image_free(&shrunk);
    if (st != VTE_OK) vte_image_free(out);
    return st;
}

/* ---------------------------------------------------------------- text box */

vte_status vte_render_text_box(vte_image *frame, const char *const *lines, int line_count, vte_error *err) {
    if (!draw_image_valid(frame)) return vte_error_set(err, VTE_ERR_INVALID_ARGUMENT, "text box: empty frame");
    if (line_count < 0 || (line_count > 0 && !lines))
        return vte_error_set(err, VTE_ERR_INVALID_ARGUMENT, "text box: bad line count %d", line_count);
    if (line_count == 0) return VTE_OK;
    double scale = draw_min(frame->width, frame->height) / 800.0;
    if (scale < 0.35) scale = 0.35;
    if (scale > 2.0) scale = 2.0;
    const int thick = draw_text_thickness(scale);
    vte_text_metrics ag;
    vte_status st = vte_draw_measure("Ag", scale, &ag, err);
    if (st != VTE_OK) return st;
    const int line_h = ag.height + ag.baseline;
    const int step = line_h + line_h / 4;
    const int pad = draw_max(4, line_h / 3);
    int widest = 0;
    for (int i = 0; i < line_count; i++) {
        if (!lines[i]) continue;
        vte_text_metrics m;
        if ((st = vte_draw_measure(lines[i], scale, &m, err)) != VTE_OK) return st;
        widest = draw_max(widest, m.width);
    }
    vte_draw_darken_rect(frame, 0, 0, widest + 2 * pad, line_count * step - (step - line_h) + 2 * pad);
    for (int i = 0; i < line_count; i++) {
        if (!lines[i] || !lines[i][0]) continue;
        st = vte_cv_put_text(frame, lines[i], pad, pad + i * step + ag.height, scale, DRAW_WHITE, thick, err);
        if (st != VTE_OK) return st;
    }
    return VTE_OK;
}

/* ---------------------------------------------------------------- enlarging small images */

int vte_render_enlarge_factor(const vte_image *image, int min_side) {
    if (!draw_image_valid(image) || min_side <= 0) return 1;
    const int shorter = draw_min(image->width, image->height);
    const int factor = (min_side + shorter - 1) / shorter;
    /* Never past 8192 pixels on the longer side. */
    const int longer = draw_max(image->width, image->height);
    const int limit = 8192 / longer > 1 ? 8192 / longer : 1;
    return factor < 1 ? 1 : factor > limit ? limit : factor;
}

vte_status vte_render_enlarge_nearest(const vte_image *image, int factor, vte_image *out, vte_error *err) {
    if (!draw_image_valid(image) || factor < 1 || !out)
        return vte_error_set(err, VTE_ERR_INVALID_ARGUMENT, "enlarge: empty image or factor %d", factor);
    vte_status st = vte_draw_alloc_image(out, image->width * factor, image->height * factor, "enlarged image", err);
    if (st != VTE_OK) return st;
    for (int y = 0; y < out->height; y++) {
        const unsigned char *src = image->rgb + (size_t)(y / factor) * (size_t)image->width * 3;
        unsigned char *dst = out->rgb + (size_t)y * (size_t)out->width * 3;
        for (int x = 0; x < out->width; x++) memcpy(dst + 3 * x, src + 3 * (x / factor), 3);
    }
    return VTE_OK;
}
