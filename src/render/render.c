/* Heat-map overlays, the --grid picture, the live view's text box and atomic PNG writing (see render.h). */
#include "render/render.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "image/imageio.h"
#include "util/error.h"

/* ---------------------------------------------------------------- bilinear upsampling */

/* One output coordinate's two source taps along an axis (PyTorch's upsample_bilinear2d, align_corners=False). */
typedef struct axis_tap {
    int i0, i1;     /* lower and upper source index (equal at the last row/column) */
    float l0, l1;   /* their weights: 1 - lambda, lambda */
} axis_tap;

static axis_tap tap_at(int in, int out, int d) {
    const float scale = (float)in / (float)out;
    float src = scale * ((float)d + 0.5f) - 0.5f;
    if (src < 0.0f) src = 0.0f;
    int i0 = (int)src; /* floor: src >= 0 */
    if (i0 > in - 1) i0 = in - 1;
    float lambda = src - (float)i0;
    if (lambda < 0.0f) lambda = 0.0f;
    if (lambda > 1.0f) lambda = 1.0f;
    axis_tap t = {i0, i0 < in - 1 ? i0 + 1 : i0, 1.0f - lambda, lambda};
    return t;
}

static void axis_taps(int in, int out, axis_tap *taps) {
    for (int d = 0; d < out; d++) taps[d] = tap_at(in, out, d);
}

/* Output row `ty` of the upsampled map, given the column taps. Same expression order as PyTorch's kernel:
 * h0*(w0*a + w1*b) + h1*(w0*c + w1*d). */
static void upsample_row(const float *grid, int grid_w, const axis_tap *ty, const axis_tap *tx, int width,
                         float *row) {
    const float *r0 = grid + (size_t)ty->i0 * (size_t)grid_w;
    const float *r1 = grid + (size_t)ty->i1 * (size_t)grid_w;
    for (int x = 0; x < width; x++) {
        const axis_tap *t = &tx[x];
        row[x] = ty->l0 * (t->l0 * r0[t->i0] + t->l1 * r0[t->i1]) + ty->l1 * (t->l0 * r1[t->i0] + t->l1 * r1[t->i1]);
    }
}

void vte_map_upsample(const float *grid, int grid_h, int grid_w, float *out, int height, int width) {
    if (!grid || !out || grid_h <= 0 || grid_w <= 0 || height <= 0 || width <= 0) return;
    axis_tap *tx = malloc((size_t)width * sizeof *tx);
    for (int y = 0; y < height; y++) {
        const axis_tap ty = tap_at(grid_h, height, y);
        float *row = out + (size_t)y * (size_t)width;
        if (tx) {
            if (y == 0) axis_taps(grid_w, width, tx);
            upsample_row(grid, grid_w, &ty, tx, width, row);
        } else { /* no memory for the column table: one tap at a time, same values */
            for (int x = 0; x < width; x++) {
                const axis_tap col = tap_at(grid_w, width, x);
                upsample_row(grid, grid_w, &ty, &col, 1, row + x);
            }
        }
    }
    free(tx);
}

/* ---------------------------------------------------------------- shared helpers */

static const unsigned char WHITE[3] = {255, 255, 255};
static const unsigned char INK[3] = {20, 20, 20};

static int image_valid(const vte_image *image) {
    return image && image->rgb && image->width > 0 && image->height > 0;
}

static int imin(int a, int b) { return a < b ? a : b; }
static int imax(int a, int b) { return a > b ? a : b; }

/* OpenCV's jet colours of all 256 levels, RGB. */
static vte_status jet_lut(unsigned char lut[256 * 3], vte_error *err) {
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

/* dst (w x h RGB) = blend of src and jet(upsampled map), as documented for vte_render_overlay. */
static vte_status blend_map(const unsigned char *src, int width, int height, const float *map, int grid_h, int grid_w,
                            float alpha, const unsigned char *lut, unsigned char *dst, vte_error *err) {
    axis_tap *tx = malloc((size_t)width * sizeof *tx);
    axis_tap *tys = malloc((size_t)height * sizeof *tys);
    float *row = malloc((size_t)width * sizeof *row);
    if (!tx || !tys || !row) {
        free(tx);
        free(tys);
        free(row);
        return vte_error_set(err, VTE_ERR_OUT_OF_MEMORY, "overlay: cannot allocate row buffers for a %dx%d image",
                             width, height);
    }
    axis_taps(grid_w, width, tx);
    axis_taps(grid_h, height, tys);
    const float a = alpha, b = 1.0f - alpha;
    for (int y = 0; y < height; y++) {
        upsample_row(map, grid_w, &tys[y], tx, width, row);
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

/* Darkens a rectangle (clipped to the image): v -> (v*90+128)>>8. */
static void darken_rect(vte_image *im, int x0, int y0, int w, int h) {
    int x1 = imin(im->width, x0 + w), y1 = imin(im->height, y0 + h);
    x0 = imax(0, x0);
    y0 = imax(0, y0);
    for (int y = y0; y < y1; y++) {
        unsigned char *p = im->rgb + ((size_t)y * (size_t)im->width + (size_t)x0) * 3;
        for (int i = 0; i < (x1 - x0) * 3; i++) p[i] = (unsigned char)(((unsigned)p[i] * 90u + 128u) >> 8);
    }
}

static int thickness_for(double scale) {
    int t = (int)lrint(scale * 1.5);
    return t < 1 ? 1 : t;
}

/* Text metrics at a scale (thickness from thickness_for). */
typedef struct text_metrics {
    int width, height, baseline;
} text_metrics;

static vte_status measure(const char *text, double scale, text_metrics *m, vte_error *err) {
    return vte_cv_text_size(text, scale, thickness_for(scale), &m->width, &m->height, &m->baseline, err);
}

/* Copies `text` into buf (size cap), cut and ended with "..." so that it is at most max_width pixels wide at
 * `scale`; an empty string when not even "..." fits. */
static vte_status fit_text(const char *text, double scale, int max_width, char *buf, size_t cap, vte_error *err) {
    snprintf(buf, cap, "%s", text);
    text_metrics m;
    vte_status st = measure(buf, scale, &m, err);
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
        st = measure(buf, scale, &m, err);
        if (st != VTE_OK) return st;
        if (m.width <= max_width) return VTE_OK;
    }
    buf[0] = '\0';
    return VTE_OK;
}

static vte_status alloc_image(vte_image *out, int width, int height, const char *what, vte_error *err) {
    out->width = out->height = 0;
    out->rgb = malloc((size_t)width * (size_t)height * 3);
    if (!out->rgb)
        return vte_error_set(err, VTE_ERR_OUT_OF_MEMORY, "%s: cannot allocate a %dx%d picture", what, width, height);
    out->width = width;
    out->height = height;
    return VTE_OK;
}

/* ---------------------------------------------------------------- overlay */

#define TITLE_MIN_SCALE 0.3

vte_status vte_render_overlay(const vte_image *image, const float *map, int grid_h, int grid_w, float alpha,
                              const char *title, vte_image *out, vte_error *err) {
    if (!out) return vte_error_set(err, VTE_ERR_INVALID_ARGUMENT, "overlay: NULL output");
    out->width = out->height = 0;
    out->rgb = NULL;
    if (!image_valid(image)) return vte_error_set(err, VTE_ERR_INVALID_ARGUMENT, "overlay: empty image");
    if (!map || grid_h <= 0 || grid_w <= 0)
        return vte_error_set(err, VTE_ERR_INVALID_ARGUMENT, "overlay: bad map (%dx%d grid)", grid_h, grid_w);
    if (!(alpha >= 0.0f && alpha <= 1.0f))
        return vte_error_set(err, VTE_ERR_INVALID_ARGUMENT, "overlay: alpha %g is not in [0, 1]", (double)alpha);
    unsigned char lut[256 * 3];
    vte_status st = jet_lut(lut, err);
    if (st != VTE_OK) return st;
    st = alloc_image(out, image->width, image->height, "overlay", err);
    if (st != VTE_OK) return st;
    st = blend_map(image->rgb, image->width, image->height, map, grid_h, grid_w, alpha, lut, out->rgb, err);
    if (st != VTE_OK) goto fail;

    if (title && *title && image->width >= 48 && image->height >= 48) {
        const int band = imax(20, (int)lrint(0.075 * imin(image->width, image->height)));
        const int margin = imax(3, (int)lrint(band * 0.3));
        const int avail = image->width - 2 * margin;
        text_metrics m1;
        /* "Ag" spans cap height and descender depth: size the font on it. */
        if ((st = measure("Ag", 1.0, &m1, err)) != VTE_OK) goto fail;
        double scale = 0.7 * band / (double)(m1.height + m1.baseline);
        text_metrics m;
        if ((st = measure(title, scale, &m, err)) != VTE_OK) goto fail;
        if (m.width > avail) {
            scale *= (double)avail / (double)m.width;
            if (scale < TITLE_MIN_SCALE) scale = TITLE_MIN_SCALE;
        }
        char text[1024];
        if ((st = fit_text(title, scale, avail, text, sizeof text, err)) != VTE_OK) goto fail;
        darken_rect(out, 0, 0, image->width, band);
        if (text[0]) {
            text_metrics ag;
            if ((st = measure("Ag", scale, &ag, err)) != VTE_OK) goto fail;
            const int top = (band - (ag.height + ag.baseline)) / 2;
            st = vte_cv_put_text(out, text, margin, top + ag.height, scale, WHITE, thickness_for(scale), err);
            if (st != VTE_OK) goto fail;
        }
    }
    return VTE_OK;
fail:
    vte_image_free(out);
    return st;
}

/* ---------------------------------------------------------------- grid */

/* Everything vte_render_grid needs to place its parts. */
typedef struct grid_plan {
    vte_grid_layout l;
    double scale;
    int thick;
    int margin, line_step, line_h, text_h;
    int header_y;  /* first header baseline */
    int caption_y; /* caption baseline */
    int label_x;   /* labels' column */
    int label_w;
} grid_plan;

static vte_status plan_grid(const vte_image *image, int panel_count, int line_count, grid_plan *p, vte_error *err) {
    memset(p, 0, sizeof *p);
    const int n = panel_count + 1;
    const int limit = (2400 - 200) / n;
    double pw = image->width;
    if (pw > limit) pw = limit;
    if (pw < 256 && image->width < 256) pw = imin(256, limit);
    double ph = pw * (double)image->height / (double)image->width;
    if (ph > 1600) {
        pw *= 1600 / ph;
        ph = 1600;
    }
    p->l.panel_w = imax(1, (int)lrint(pw));
    p->l.panel_h = imax(1, (int)lrint(ph));

    double scale = p->l.panel_w / 450.0;
    if (scale < 0.45) scale = 0.45;
    if (scale > 1.4) scale = 1.4;
    p->scale = scale;
    p->thick = thickness_for(scale);
    text_metrics ag;
    vte_status st = measure("Ag", scale, &ag, err);
    if (st != VTE_OK) return st;
    p->text_h = ag.height;
    p->line_h = ag.height + ag.baseline;
    p->line_step = p->line_h + p->line_h / 3;
    p->margin = imax(10, p->line_h);
    p->l.gap = p->margin;

    const int m = p->margin;
    const int header_h = line_count > 0 ? line_count * p->line_step + m / 2 : 0;
    p->header_y = m + p->text_h;
    p->l.panel_x0 = m;
    p->l.panel_y = m + header_h;
    p->caption_y = p->l.panel_y + p->l.panel_h + m / 2 + p->text_h;

    p->l.bar_x = m + n * (p->l.panel_w + p->l.gap);
    p->l.bar_y = p->l.panel_y;
    p->l.bar_w = imax(12, (int)lrint(p->l.panel_w * 0.06));
    p->l.bar_h = p->l.panel_h;
    p->label_x = p->l.bar_x + p->l.bar_w + m / 2;
    text_metrics one, zero;
    if ((st = measure("1", scale, &one, err)) != VTE_OK) return st;
    if ((st = measure("0", scale, &zero, err)) != VTE_OK) return st;
    p->label_w = imax(imax(one.width, zero.width), p->line_h);

    p->l.width = p->label_x + p->label_w + m;
    p->l.height = p->caption_y + ag.baseline + m;
    return VTE_OK;
}

vte_status vte_render_grid_layout(const vte_image *image, int panel_count, int line_count, vte_grid_layout *layout,
                                  vte_error *err) {
    if (!image_valid(image) || !layout || panel_count < 0 || line_count < 0)
        return vte_error_set(err, VTE_ERR_INVALID_ARGUMENT, "grid: empty image or bad panel/line count");
    grid_plan p;
    vte_status st = plan_grid(image, panel_count, line_count, &p, err);
    if (st == VTE_OK) *layout = p.l;
    return st;
}

/* Pastes src (w x h) into dst at (x, y), clipped. */
static void paste(vte_image *dst, const unsigned char *src, int w, int h, int x, int y) {
    for (int r = 0; r < h; r++) {
        int yy = y + r;
        if (yy < 0 || yy >= dst->height) continue;
        for (int c = 0; c < w; c++) {
            int xx = x + c;
            if (xx < 0 || xx >= dst->width) continue;
            memcpy(dst->rgb + ((size_t)yy * (size_t)dst->width + (size_t)xx) * 3, src + ((size_t)r * (size_t)w + (size_t)c) * 3, 3);
        }
    }
}

/* Draws `text` reading upwards (rotated 90 degrees counter-clockwise), its box's left edge at x and centred
 * vertically on cy, in INK on the white canvas. */
static vte_status put_text_up(vte_image *canvas, const char *text, double scale, int x, int cy, vte_error *err) {
    text_metrics m;
    vte_status st = measure(text, scale, &m, err);
    if (st != VTE_OK) return st;
    vte_image tmp;
    const int tw = m.width + 2, th = m.height + m.baseline + 2;
    if ((st = alloc_image(&tmp, tw, th, "grid", err)) != VTE_OK) return st;
    memset(tmp.rgb, 255, (size_t)tw * (size_t)th * 3);
    st = vte_cv_put_text(&tmp, text, 1, 1 + m.height, scale, INK, thickness_for(scale), err);
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

/* Text centred horizontally on cx, cut to max_w. */
static vte_status put_text_centred(vte_image *canvas, const char *text, double scale, int cx, int baseline_y,
                                   int max_w, vte_error *err) {
    char buf[512];
    vte_status st = fit_text(text, scale, max_w, buf, sizeof buf, err);
    if (st != VTE_OK || !buf[0]) return st;
    text_metrics m;
    if ((st = measure(buf, scale, &m, err)) != VTE_OK) return st;
    return vte_cv_put_text(canvas, buf, cx - m.width / 2, baseline_y, scale, INK, thickness_for(scale), err);
}

vte_status vte_render_grid(const vte_image *image, const vte_grid_panel *panels, int panel_count, int grid_h,
                           int grid_w, float alpha, const char *const *header_lines, int line_count, vte_image *out,
                           vte_error *err) {
    if (!out) return vte_error_set(err, VTE_ERR_INVALID_ARGUMENT, "grid: NULL output");
    out->width = out->height = 0;
    out->rgb = NULL;
    if (!image_valid(image)) return vte_error_set(err, VTE_ERR_INVALID_ARGUMENT, "grid: empty image");
    if (panel_count < 0 || (panel_count > 0 && !panels) || line_count < 0 || (line_count > 0 && !header_lines))
        return vte_error_set(err, VTE_ERR_INVALID_ARGUMENT, "grid: bad panels (%d) or header lines (%d)", panel_count,
                             line_count);
    if (panel_count > 0 && (grid_h <= 0 || grid_w <= 0))
        return vte_error_set(err, VTE_ERR_INVALID_ARGUMENT, "grid: bad map grid %dx%d", grid_h, grid_w);
    for (int i = 0; i < panel_count; i++)
        if (!panels[i].map)
            return vte_error_set(err, VTE_ERR_INVALID_ARGUMENT, "grid: panel %d (%s) has no map", i,
                                 panels[i].caption ? panels[i].caption : "unnamed");
    if (!(alpha >= 0.0f && alpha <= 1.0f))
        return vte_error_set(err, VTE_ERR_INVALID_ARGUMENT, "grid: alpha %g is not in [0, 1]", (double)alpha);

    grid_plan p;
    vte_status st = plan_grid(image, panel_count, line_count, &p, err);
    if (st != VTE_OK) return st;
    const vte_grid_layout *L = &p.l;
    unsigned char lut[256 * 3];
    if ((st = jet_lut(lut, err)) != VTE_OK) return st;

    vte_image small = {0, 0, NULL};
    float *norm = NULL;
    unsigned char *panel = NULL;
    if ((st = vte_cv_resize(image, L->panel_w, L->panel_h, &small, err)) != VTE_OK) return st;
    const size_t cells = (size_t)(grid_h > 0 ? grid_h : 0) * (size_t)(grid_w > 0 ? grid_w : 0);
    norm = malloc((cells ? cells : 1) * sizeof *norm);
    panel = malloc((size_t)L->panel_w * (size_t)L->panel_h * 3);
    if (!norm || !panel) {
        st = vte_error_set(err, VTE_ERR_OUT_OF_MEMORY, "grid: cannot allocate panel buffers");
        goto done;
    }
    if ((st = alloc_image(out, L->width, L->height, "grid", err)) != VTE_OK) goto done;
    memset(out->rgb, 255, (size_t)L->width * (size_t)L->height * 3);

    /* Header */
    for (int i = 0; i < line_count; i++) {
        char buf[512];
        if (!header_lines[i]) continue;
        if ((st = fit_text(header_lines[i], p.scale, L->width - 2 * p.margin, buf, sizeof buf, err)) != VTE_OK)
            goto done;
        if (buf[0] && (st = vte_cv_put_text(out, buf, p.margin, p.header_y + i * p.line_step, p.scale, INK, p.thick,
                                            err)) != VTE_OK)
            goto done;
    }

    /* Panels and captions */
    for (int i = 0; i <= panel_count; i++) {
        const int x = L->panel_x0 + i * (L->panel_w + L->gap);
        const char *caption = "image";
        if (i == 0) {
            paste(out, small.rgb, L->panel_w, L->panel_h, x, L->panel_y);
        } else {
            const vte_grid_panel *pn = &panels[i - 1];
            caption = pn->caption ? pn->caption : "";
            float lo = INFINITY, hi = -INFINITY;
            for (size_t k = 0; k < cells; k++) {
                const float v = pn->map[k];
                if (v < lo) lo = v; /* NaN fails both */
                if (v > hi) hi = v;
            }
            const float range = hi - lo;
            for (size_t k = 0; k < cells; k++) {
                const float v = pn->map[k];
                norm[k] = (isfinite(range) && range > 0.0f && v == v) ? (v - lo) / range : 0.0f;
            }
            if ((st = blend_map(small.rgb, L->panel_w, L->panel_h, norm, grid_h, grid_w, alpha, lut, panel, err)) !=
                VTE_OK)
                goto done;
            paste(out, panel, L->panel_w, L->panel_h, x, L->panel_y);
        }
        if ((st = put_text_centred(out, caption, p.scale, x + L->panel_w / 2, p.caption_y, L->panel_w + L->gap / 2,
                                   err)) != VTE_OK)
            goto done;
    }

    /* Colour bar: level 255 in the top row, 0 in the bottom row. */
    for (int r = 0; r < L->bar_h; r++) {
        const int level = L->bar_h > 1 ? (int)lrint(255.0 * (double)(L->bar_h - 1 - r) / (double)(L->bar_h - 1)) : 255;
        unsigned char *row = out->rgb + ((size_t)(L->bar_y + r) * (size_t)L->width + (size_t)L->bar_x) * 3;
        for (int c = 0; c < L->bar_w; c++) memcpy(row + 3 * c, lut + 3 * level, 3);
    }
    if ((st = vte_cv_put_text(out, "1", p.label_x, L->bar_y + p.text_h, p.scale, INK, p.thick, err)) != VTE_OK)
        goto done;
    if ((st = vte_cv_put_text(out, "0", p.label_x, L->bar_y + L->bar_h, p.scale, INK, p.thick, err)) != VTE_OK)
        goto done;
    {
        text_metrics rel;
        if ((st = measure("relevance", p.scale, &rel, err)) != VTE_OK) goto done;
        /* Only when it fits between the "1" and the "0". */
        if (rel.width + 2 < L->bar_h - 2 * (p.line_h + 4))
            if ((st = put_text_up(out, "relevance", p.scale, p.label_x, L->bar_y + L->bar_h / 2, err)) != VTE_OK)
                goto done;
    }
    st = VTE_OK;
done:
    if (st != VTE_OK) vte_image_free(out);
    vte_image_free(&small);
    free(norm);
    free(panel);
    return st;
}

/* ---------------------------------------------------------------- text box */

vte_status vte_render_text_box(vte_image *frame, const char *const *lines, int line_count, vte_error *err) {
    if (!image_valid(frame)) return vte_error_set(err, VTE_ERR_INVALID_ARGUMENT, "text box: empty frame");
    if (line_count < 0 || (line_count > 0 && !lines))
        return vte_error_set(err, VTE_ERR_INVALID_ARGUMENT, "text box: bad line count %d", line_count);
    if (line_count == 0) return VTE_OK;
    double scale = imin(frame->width, frame->height) / 800.0;
    if (scale < 0.35) scale = 0.35;
    if (scale > 2.0) scale = 2.0;
    const int thick = thickness_for(scale);
    text_metrics ag;
    vte_status st = measure("Ag", scale, &ag, err);
    if (st != VTE_OK) return st;
    const int line_h = ag.height + ag.baseline;
    const int step = line_h + line_h / 4;
    const int pad = imax(4, line_h / 3);
    int widest = 0;
    for (int i = 0; i < line_count; i++) {
        if (!lines[i]) continue;
        text_metrics m;
        if ((st = measure(lines[i], scale, &m, err)) != VTE_OK) return st;
        widest = imax(widest, m.width);
    }
    darken_rect(frame, 0, 0, widest + 2 * pad, line_count * step - (step - line_h) + 2 * pad);
    for (int i = 0; i < line_count; i++) {
        if (!lines[i] || !lines[i][0]) continue;
        st = vte_cv_put_text(frame, lines[i], pad, pad + i * step + ag.height, scale, WHITE, thick, err);
        if (st != VTE_OK) return st;
    }
    return VTE_OK;
}

/* ---------------------------------------------------------------- PNG writing with text chunks */

static void put_u32(unsigned char *p, uint32_t v) {
    p[0] = (unsigned char)(v >> 24);
    p[1] = (unsigned char)(v >> 16);
    p[2] = (unsigned char)(v >> 8);
    p[3] = (unsigned char)v;
}

static uint32_t get_u32(const unsigned char *p) {
    return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | (uint32_t)p[3];
}

static int is_ascii(const char *s) {
    for (; *s; s++)
        if ((unsigned char)*s >= 0x80) return 0;
    return 1;
}

/* Size of the text chunk for keyword/value (length, type, data, CRC). */
static size_t text_chunk_size(const char *keyword, const char *value) {
    size_t data = strlen(keyword) + 1 + strlen(value);
    if (!is_ascii(value)) data += 4; /* iTXt: compression flag, method, empty language and translated keyword */
    return 12 + data;
}

/* Writes the chunk at p (text_chunk_size bytes). */
static void write_text_chunk(unsigned char *p, const char *keyword, const char *value) {
    const int itxt = !is_ascii(value);
    const size_t klen = strlen(keyword), vlen = strlen(value);
    const size_t data = klen + 1 + vlen + (itxt ? 4 : 0);
    put_u32(p, (uint32_t)data);
    memcpy(p + 4, itxt ? "iTXt" : "tEXt", 4);
    unsigned char *d = p + 8;
    memcpy(d, keyword, klen);
    d += klen;
    *d++ = 0;
    if (itxt) {
        *d++ = 0; /* not compressed */
        *d++ = 0; /* method */
        *d++ = 0; /* empty language tag */
        *d++ = 0; /* empty translated keyword */
    }
    memcpy(d, value, vlen);
    d += vlen;
    const uLong crc = crc32(crc32(0L, Z_NULL, 0), p + 4, (uInt)(4 + data));
    put_u32(d, (uint32_t)crc);
}

static vte_status write_all(int fd, const unsigned char *data, size_t size) {
    while (size > 0) {
        ssize_t n = write(fd, data, size);
        if (n < 0) {
            if (errno == EINTR) continue;
            return VTE_ERR_IO;
        }
        data += n;
        size -= (size_t)n;
    }
    return VTE_OK;
}

vte_status vte_png_write(const char *path, const vte_image *image, const char *title, const char *description,
                         vte_error *err) {
    if (!path || !*path) return vte_error_set(err, VTE_ERR_INVALID_ARGUMENT, "vte_png_write: empty path");
    if (!image_valid(image)) return vte_error_set(err, VTE_ERR_INVALID_ARGUMENT, "%s: empty image", path);
    const char *texts[2][2] = {{"Title", title}, {"Description", description}};

    unsigned char *png = NULL, *full = NULL;
    size_t png_size = 0;
    char *tmp = NULL;
    int fd = -1;
    vte_status st = vte_cv_encode_png(image, &png, &png_size, err);
    if (st != VTE_OK) return vte_error_prefix(err, "%s", path);
    /* signature (8) + IHDR chunk (4 length, 4 type, 13 data, 4 CRC) */
    static const unsigned char sig[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
    if (png_size < 33 || memcmp(png, sig, 8) != 0 || memcmp(png + 12, "IHDR", 4) != 0 || get_u32(png + 8) != 13) {
        st = vte_error_set(err, VTE_ERR_FORMAT, "%s: the PNG encoder's output does not start with IHDR", path);
        goto done;
    }
    size_t extra = 0;
    for (int i = 0; i < 2; i++)
        if (texts[i][1]) extra += text_chunk_size(texts[i][0], texts[i][1]);
    if (extra > 0) {
        full = malloc(png_size + extra);
        if (!full) {
            st = vte_error_set(err, VTE_ERR_OUT_OF_MEMORY, "%s: cannot allocate %zu bytes", path, png_size + extra);
            goto done;
        }
        memcpy(full, png, 33);
        size_t at = 33;
        for (int i = 0; i < 2; i++)
            if (texts[i][1]) {
                write_text_chunk(full + at, texts[i][0], texts[i][1]);
                at += text_chunk_size(texts[i][0], texts[i][1]);
            }
        memcpy(full + at, png + 33, png_size - 33);
        free(png);
        png = full;
        full = NULL;
        png_size += extra;
    }

    /* "<dir>/.<name>.tmp-<pid>" */
    const char *slash = strrchr(path, '/');
    const char *name = slash ? slash + 1 : path;
    const size_t dir_len = slash ? (size_t)(slash - path) : 0;
    if (!*name) {
        st = vte_error_set(err, VTE_ERR_INVALID_ARGUMENT, "%s: not a file name", path);
        goto done;
    }
    const size_t tmp_cap = strlen(path) + 64;
    tmp = malloc(tmp_cap);
    if (!tmp) {
        st = vte_error_set(err, VTE_ERR_OUT_OF_MEMORY, "%s: out of memory", path);
        goto done;
    }
    if (slash)
        snprintf(tmp, tmp_cap, "%.*s/.%s.tmp-%ld", (int)dir_len, path, name, (long)getpid());
    else
        snprintf(tmp, tmp_cap, ".%s.tmp-%ld", name, (long)getpid());

    fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
    if (fd < 0) {
        st = vte_error_set(err, VTE_ERR_IO, "%s: cannot create the temporary file %s: %s", path, tmp, strerror(errno));
        free(tmp);
        tmp = NULL; /* nothing to remove */
        goto done;
    }
    if (write_all(fd, png, png_size) != VTE_OK) {
        st = vte_error_set(err, VTE_ERR_IO, "%s: cannot write %s: %s", path, tmp, strerror(errno));
        goto done;
    }
    if (fsync(fd) != 0) {
        st = vte_error_set(err, VTE_ERR_IO, "%s: cannot fsync %s: %s", path, tmp, strerror(errno));
        goto done;
    }
    {
        const int rc = close(fd);
        fd = -1;
        if (rc != 0) {
            st = vte_error_set(err, VTE_ERR_IO, "%s: cannot close %s: %s", path, tmp, strerror(errno));
            goto done;
        }
    }
    if (rename(tmp, path) != 0) {
        st = vte_error_set(err, VTE_ERR_IO, "%s: cannot rename %s over it: %s", path, tmp, strerror(errno));
        goto done;
    }
    free(tmp);
    tmp = NULL;
    {
        /* Make the rename durable; a failure here does not undo the write, so it is not reported. */
        char *dir = malloc(dir_len + 2);
        if (dir) {
            if (slash && dir_len > 0) {
                memcpy(dir, path, dir_len);
                dir[dir_len] = '\0';
            } else {
                strcpy(dir, slash ? "/" : ".");
            }
            int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
            if (dfd >= 0) {
                (void)fsync(dfd);
                close(dfd);
            }
            free(dir);
        }
    }
    st = VTE_OK;
done:
    if (fd >= 0) close(fd);
    if (tmp) {
        unlink(tmp);
        free(tmp);
    }
    free(png);
    free(full);
    return st;
}

/* ---------------------------------------------------------------- reading text chunks back */

/* Inflates a zlib stream; malloc'ed and NUL-terminated, or NULL. */
static char *inflate_all(const unsigned char *src, size_t n) {
    z_stream zs;
    memset(&zs, 0, sizeof zs);
    if (inflateInit(&zs) != Z_OK) return NULL;
    size_t cap = n * 4 + 64, len = 0;
    char *out = malloc(cap);
    zs.next_in = (Bytef *)(uintptr_t)src;
    zs.avail_in = (uInt)n;
    int rc = Z_OK;
    while (out && rc == Z_OK) {
        if (cap - len < 2) {
            if (cap > (size_t)64 << 20) break; /* refuse a text bigger than 64 MiB */
            char *p = realloc(out, cap * 2);
            if (!p) break;
            out = p;
            cap *= 2;
        }
        zs.next_out = (Bytef *)out + len;
        zs.avail_out = (uInt)(cap - len - 1);
        rc = inflate(&zs, Z_NO_FLUSH);
        len = cap - 1 - zs.avail_out;
    }
    inflateEnd(&zs);
    if (rc != Z_STREAM_END) {
        free(out);
        return NULL;
    }
    out[len] = '\0';
    return out;
}

/* Latin-1 bytes to a malloc'ed UTF-8 string. */
static char *latin1_to_utf8(const unsigned char *s, size_t n) {
    char *out = malloc(2 * n + 1);
    if (!out) return NULL;
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < 0x80) {
            out[k++] = (char)s[i];
        } else {
            out[k++] = (char)(0xC0 | (s[i] >> 6));
            out[k++] = (char)(0x80 | (s[i] & 0x3F));
        }
    }
    out[k] = '\0';
    return out;
}

static char *text_chunk_value(const unsigned char *type, const unsigned char *d, size_t n, const char *key) {
    const size_t klen = strlen(key);
    if (n < klen + 1 || memcmp(d, key, klen) != 0 || d[klen] != 0) return NULL;
    const unsigned char *v = d + klen + 1;
    size_t vn = n - klen - 1;
    if (memcmp(type, "tEXt", 4) == 0) return latin1_to_utf8(v, vn);
    if (memcmp(type, "zTXt", 4) == 0) {
        if (vn < 1 || v[0] != 0) return NULL;
        char *raw = inflate_all(v + 1, vn - 1);
        if (!raw) return NULL;
        char *utf8 = latin1_to_utf8((const unsigned char *)raw, strlen(raw));
        free(raw);
        return utf8;
    }
    /* iTXt: flag, method, language\0, translated keyword\0, text */
    if (vn < 2) return NULL;
    const int compressed = v[0];
    const unsigned char *q = v + 2, *end = v + vn;
    for (int skip = 0; skip < 2; skip++) {
        const unsigned char *z = memchr(q, 0, (size_t)(end - q));
        if (!z) return NULL;
        q = z + 1;
    }
    if (compressed) return inflate_all(q, (size_t)(end - q));
    char *out = malloc((size_t)(end - q) + 1);
    if (!out) return NULL;
    memcpy(out, q, (size_t)(end - q));
    out[end - q] = '\0';
    return out;
}

char *vte_png_read_text(const char *path, const char *key) {
    if (!path || !key || !*key) return NULL;
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    static const unsigned char sig[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
    unsigned char head[8];
    char *result = NULL;
    if (fread(head, 1, 8, f) != 8 || memcmp(head, sig, 8) != 0) goto done;
    for (;;) {
        if (fread(head, 1, 8, f) != 8) break;
        const uint32_t len = get_u32(head);
        if (len > 0x7fffffffu) break;
        const unsigned char *type = head + 4;
        if (memcmp(type, "IEND", 4) == 0) break;
        if (memcmp(type, "tEXt", 4) == 0 || memcmp(type, "zTXt", 4) == 0 || memcmp(type, "iTXt", 4) == 0) {
            unsigned char *d = malloc(len ? len : 1);
            if (!d) break;
            if (fread(d, 1, len, f) != len) {
                free(d);
                break;
            }
            result = text_chunk_value(type, d, len, key);
            free(d);
            if (result) break;
            if (fseek(f, 4, SEEK_CUR) != 0) break; /* CRC */
        } else if (fseek(f, (long)len + 4, SEEK_CUR) != 0) {
            break;
        }
    }
done:
    fclose(f);
    return result;
}
