/* Drawing helpers shared by overlay.c and grid.c (see draw.h). */
#include "render/draw.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "image/imageio.h"
#include "util/error.h"

/* ---------------------------------------------------------------- bilinear taps */

vte_axis_tap vte_draw_axis_tap(int in, int out, int d) {
    const float scale = (float)in / (float)out;
    float src = scale * ((float)d + 0.5f) - 0.5f;
    if (src < 0.0f) src = 0.0f;
    int i0 = (int)src; /* floor: src >= 0 */
    if (i0 > in - 1) i0 = in - 1;
    float lambda = src - (float)i0;
    if (lambda < 0.0f) lambda = 0.0f;
    if (lambda > 1.0f) lambda = 1.0f;
    vte_axis_tap t = {i0, i0 < in - 1 ? i0 + 1 : i0, 1.0f - lambda, lambda};
    return t;
}

void vte_draw_axis_taps(int in, int out, vte_axis_tap *taps) {
    for (int d = 0; d < out; d++) taps[d] = vte_draw_axis_tap(in, out, d);
}

/* Same expression order as PyTorch's kernel: h0*(w0*a + w1*b) + h1*(w0*c + w1*d). */
void vte_draw_upsample_row(const float *grid, int grid_w, const vte_axis_tap *ty, const vte_axis_tap *tx, int width,
                           float *row) {
    const float *r0 = grid + (size_t)ty->i0 * (size_t)grid_w;
    const float *r1 = grid + (size_t)ty->i1 * (size_t)grid_w;
    for (int x = 0; x < width; x++) {
        const vte_axis_tap *t = &tx[x];
        row[x] = ty->l0 * (t->l0 * r0[t->i0] + t->l1 * r0[t->i1]) + ty->l1 * (t->l0 * r1[t->i0] + t->l1 * r1[t->i1]);
    }
}

/* ---------------------------------------------------------------- colours and pixels */

vte_status vte_draw_jet_lut(unsigned char lut[256 * 3], vte_error *err) {
    unsigned char levels[256];
    for (int i = 0; i < 256; i++) levels[i] = (unsigned char)i;
    return vte_cv_colormap_jet(levels, 256, lut, err);
}

static unsigned char map_level(float v) {
    /* NaN fails both comparisons and gives 0. */
    if (!(v > 0.0f)) return 0;
    if (!(v < 1.0f)) return 255;
    return (unsigned char)lrintf(v * 255.0f);
}

vte_status vte_draw_blend_map(const unsigned char *src, int width, int height, const float *map, int grid_h,
                              int grid_w, float alpha, const unsigned char *lut, unsigned char *dst, vte_error *err) {
    vte_axis_tap *tx = malloc((size_t)width * sizeof *tx);
    vte_axis_tap *tys = malloc((size_t)height * sizeof *tys);
    float *row = malloc((size_t)width * sizeof *row);
    if (!tx || !tys || !row) {
        free(tx);
        free(tys);
        free(row);
        return vte_error_set(err, VTE_ERR_OUT_OF_MEMORY, "overlay: cannot allocate row buffers for a %dx%d image",
                             width, height);
    }
    vte_draw_axis_taps(grid_w, width, tx);
    vte_draw_axis_taps(grid_h, height, tys);
    const float a = alpha, b = 1.0f - alpha;
    for (int y = 0; y < height; y++) {
        vte_draw_upsample_row(map, grid_w, &tys[y], tx, width, row);
        const unsigned char *s = src + (size_t)y * (size_t)width * 3;
        unsigned char *d = dst + (size_t)y * (size_t)width * 3;
        for (int x = 0; x < width; x++) {
            const unsigned char *j = lut + 3 * map_level(row[x]);
            for (int c = 0; c < 3; c++) {
                long v = lrintf(b * (float)s[3 * x + c] + a * (float)j[c]);
                d[3 * x + c] = (unsigned char)(v < 0 ? 0 : v > 255 ? 255 : v);
            }
        }
    }
    free(tx);
    free(tys);
    free(row);
    return VTE_OK;
}

void vte_draw_darken_rect(vte_image *image, int x0, int y0, int w, int h) {
    const int x1 = draw_min(image->width, x0 + w), y1 = draw_min(image->height, y0 + h);
    x0 = draw_max(0, x0);
    y0 = draw_max(0, y0);
    for (int y = y0; y < y1; y++) {
        unsigned char *p = image->rgb + ((size_t)y * (size_t)image->width + (size_t)x0) * 3;
        for (int i = 0; i < (x1 - x0) * 3; i++) p[i] = (unsigned char)(((unsigned)p[i] * 90u + 128u) >> 8);
    }
}

vte_status vte_draw_alloc_image(vte_image *out, int width, int height, const char *what, vte_error *err) {
    out->width = out->height = 0;
    out->rgb = malloc((size_t)width * (size_t)height * 3);
    if (!out->rgb)
        return vte_error_set(err, VTE_ERR_OUT_OF_MEMORY, "%s: cannot allocate a %dx%d picture", what, width, height);
    out->width = width;
    out->height = height;
    return VTE_OK;
}

/* ---------------------------------------------------------------- text */

vte_status vte_draw_measure(const char *text, double scale, vte_text_metrics *m, vte_error *err) {
    return vte_cv_text_size(text, scale, draw_text_thickness(scale), &m->width, &m->height, &m->baseline, err);
}

vte_status vte_draw_fit_text(const char *text, double scale, int max_width, char *buf, size_t cap, vte_error *err) {
    snprintf(buf, cap, "%s", text);
    vte_text_metrics m;
    vte_status st = vte_draw_measure(buf, scale, &m, err);
    if (st != VTE_OK) return st;
    if (m.width <= max_width) return VTE_OK;
    size_t n = strlen(buf);
    while (n > 0) {
        n--;
        /* do not cut inside a UTF-8 sequence */
        while (n > 0 && ((unsigned char)text[n] & 0xC0) == 0x80) n--;
        if (n + 4 > cap) continue;
        memcpy(buf, text, n);
        /* drop spaces before the ellipsis */
        size_t k = n;
        while (k > 0 && buf[k - 1] == ' ') k--;
        memcpy(buf + k, "...", 4);
        st = vte_draw_measure(buf, scale, &m, err);
        if (st != VTE_OK) return st;
        if (m.width <= max_width) return VTE_OK;
    }
    buf[0] = '\0';
    return VTE_OK;
}

/* Draws `text` reading upwards (rotated 90 degrees counter-clockwise), its box's left edge at x and centred
 * vertically on cy, in ink on the white canvas. */
vte_status vte_draw_put_text_up(vte_image *canvas, const char *text, double scale, int x, int cy, vte_error *err) {
    vte_text_metrics m;
    vte_status st = vte_draw_measure(text, scale, &m, err);
    if (st != VTE_OK) return st;
    vte_image tmp;
    const int tw = m.width + 2, th = m.height + m.baseline + 2;
    if ((st = vte_draw_alloc_image(&tmp, tw, th, "rotated text", err)) != VTE_OK) return st;
    memset(tmp.rgb, 255, (size_t)tw * (size_t)th * 3);
    st = vte_cv_put_text(&tmp, text, 1, 1 + m.height, scale, DRAW_INK, draw_text_thickness(scale), err);
    if (st == VTE_OK) {
        /* (tx, ty) -> (x + ty, top + tw-1-tx); text top (ty = 0) ends up on the left. */
        const int top = cy - tw / 2;
        for (int ty = 0; ty < th; ty++)
            for (int tx = 0; tx < tw; tx++) {
                const int xx = x + ty, yy = top + (tw - 1 - tx);
                if (xx < 0 || yy < 0 || xx >= canvas->width || yy >= canvas->height) continue;
                memcpy(canvas->rgb + ((size_t)yy * (size_t)canvas->width + (size_t)xx) * 3,
                       tmp.rgb + ((size_t)ty * (size_t)tw + (size_t)tx) * 3, 3);
            }
    }
    vte_image_free(&tmp);
    return st;
}
