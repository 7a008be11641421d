/* The --grid picture: the image and one overlay per method side by side under a header, with one colour bar
 * (see render.h). */
#include "render/render.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "image/imageio.h"
#include "render/draw.h"
#include "util/error.h"

/* ---------------------------------------------------------------- layout */

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

/* The panels' size as documented for vte_render_grid: the image's width within the picture's limits, aspect
 * kept. */
static void plan_panel_size(const vte_image *image, int panel_count, grid_plan *p) {
    const int limit = (2400 - 200) / (panel_count + 1);
    double pw = image->width;
    if (pw > limit) pw = limit;
    if (pw < 256 && image->width < 256) pw = draw_min(256, limit);
    double ph = pw * (double)image->height / (double)image->width;
    if (ph > 1600) {
        pw *= 1600 / ph;
        ph = 1600;
    }
    p->l.panel_w = draw_max(1, (int)lrint(pw));
    p->l.panel_h = draw_max(1, (int)lrint(ph));
}

static vte_status plan_grid(const vte_image *image, int panel_count, int line_count, grid_plan *p, vte_error *err) {
    memset(p, 0, sizeof *p);
    const int n = panel_count + 1;
    plan_panel_size(image, panel_count, p);

    /* Text scales with the panels, within readable bounds. */
    double scale = p->l.panel_w / 450.0;
    if (scale < 0.45) scale = 0.45;
    if (scale > 1.4) scale = 1.4;
    p->scale = scale;
    p->thick = draw_text_thickness(scale);
    vte_text_metrics ag;
    vte_status st = vte_draw_measure("Ag", scale, &ag, err);
    if (st != VTE_OK) return st;
    p->text_h = ag.height;
    p->line_h = ag.height + ag.baseline;
    p->line_step = p->line_h + p->line_h / 3;
    p->margin = draw_max(10, p->line_h);
    p->l.gap = p->margin;

    const int m = p->margin;
    const int header_h = line_count > 0 ? line_count * p->line_step + m / 2 : 0;
    p->header_y = m + p->text_h;
    p->l.panel_x0 = m;
    p->l.panel_y = m + header_h;
    p->caption_y = p->l.panel_y + p->l.panel_h + m / 2 + p->text_h;

    p->l.bar_x = m + n * (p->l.panel_w + p->l.gap);
    p->l.bar_y = p->l.panel_y;
    p->l.bar_w = draw_max(12, (int)lrint(p->l.panel_w * 0.06));
    p->l.bar_h = p->l.panel_h;
    p->label_x = p->l.bar_x + p->l.bar_w + m / 2;
    vte_text_metrics one, zero;
    if ((st = vte_draw_measure("1", scale, &one, err)) != VTE_OK) return st;
    if ((st = vte_draw_measure("0", scale, &zero, err)) != VTE_OK) return st;
    p->label_w = draw_max(draw_max(one.width, zero.width), p->line_h);

    p->l.width = p->label_x + p->label_w + m;
    p->l.height = p->caption_y + ag.baseline + m;
    return VTE_OK;
}

vte_status vte_render_grid_layout(const vte_image *image, int panel_count, int line_count, vte_grid_layout *layout,
                                  vte_error *err) {
    if (!draw_image_valid(image) || !layout || panel_count < 0 || line_count < 0)
        return vte_error_set(err, VTE_ERR_INVALID_ARGUMENT, "grid: empty image or bad panel/line count");
    grid_plan p;
    vte_status st = plan_grid(image, panel_count, line_count, &p, err);
    if (st == VTE_OK) *layout = p.l;
    return st;
}

/* ---------------------------------------------------------------- drawing helpers */

/* Pastes src (w x h) into dst at (x, y), clipped. */
static void paste(vte_image *dst, const unsigned char *src, int w, int h, int x, int y) {
    for (int r = 0; r < h; r++) {
        int yy = y + r;
        if (yy < 0 || yy >= dst->height) continue;
        for (int c = 0; c < w; c++) {
            int xx = x + c;
            if (xx < 0 || xx >= dst->width) continue;
            memcpy(dst->rgb + ((size_t)yy * (size_t)dst->width + (size_t)xx) * 3,
                   src + ((size_t)r * (size_t)w + (size_t)c) * 3, 3);
        }
    }
}

/* Text centred horizontally on cx, cut to max_w. */
static vte_status put_text_centred(vte_image *canvas, const char *text, double scale, int cx, int baseline_y,
                                   int max_w, vte_error *err) {
    char buf[512];
    vte_status st = vte_draw_fit_text(text, scale, max_w, buf, sizeof buf, err);
    if (st != VTE_OK || !buf[0]) return st;
    vte_text_metrics m;
    if ((st = vte_draw_measure(buf, scale, &m, err)) != VTE_OK) return st;
    return vte_cv_put_text(canvas, buf, cx - m.width / 2, baseline_y, scale, DRAW_INK, draw_text_thickness(scale),
                           err);
}

/* ---------------------------------------------------------------- the picture's parts */

static vte_status check_grid_arguments(const vte_image *image, const vte_grid_panel *panels, int panel_count,
                                       int grid_h, int grid_w, float alpha, const char *const *header_lines,
                                       int line_count, vte_error *err) {
    if (!draw_image_valid(image)) return vte_error_set(err, VTE_ERR_INVALID_ARGUMENT, "grid: empty image");
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
    return VTE_OK;
}

static vte_status draw_header(vte_image *out, const grid_plan *p, const char *const *lines, int line_count,
                              vte_error *err) {
    for (int i = 0; i < line_count; i++) {
        char buf[512];
        if (!lines[i]) continue;
        vte_status st = vte_draw_fit_text(lines[i], p->scale, p->l.width - 2 * p->margin, buf, sizeof buf, err);
        if (st != VTE_OK) return st;
        if (buf[0] && (st = vte_cv_put_text(out, buf, p->margin, p->header_y + i * p->line_step, p->scale, DRAW_INK,
                                            p->thick, err)) != VTE_OK)
            return st;
    }
    return VTE_OK;
}

/* norm = map min-max normalised to [0, 1]; a constant map (or one with no finite range) gives 0, NaN gives 0. */
static void normalise_map(const float *map, size_t cells, float *norm) {
    float lo = INFINITY, hi = -INFINITY;
    for (size_t k = 0; k < cells; k++) {
        const float v = map[k];
        if (v < lo) lo = v; /* NaN fails both */
        if (v > hi) hi = v;
    }
    const float range = hi - lo;
    for (size_t k = 0; k < cells; k++) {
        const float v = map[k];
        norm[k] = (isfinite(range) && range > 0.0f && v == v) ? (v - lo) / range : 0.0f;
    }
}

/* The image (`small`, already at panel size), then one normalised overlay per panel, each captioned. */
static vte_status draw_panels(vte_image *out, const grid_plan *p, const vte_image *small,
                              const vte_grid_panel *panels, int panel_count, int grid_h, int grid_w, float alpha,
                              const unsigned char *lut, vte_error *err) {
    const vte_grid_layout *L = &p->l;
    const size_t cells = (size_t)(grid_h > 0 ? grid_h : 0) * (size_t)(grid_w > 0 ? grid_w : 0);
    float *norm = malloc((cells ? cells : 1) * sizeof *norm);
    unsigned char *panel = malloc((size_t)L->panel_w * (size_t)L->panel_h * 3);
    vte_status st = VTE_OK;
    if (!norm || !panel) st = vte_error_set(err, VTE_ERR_OUT_OF_MEMORY, "grid: cannot allocate panel buffers");
    for (int i = 0; st == VTE_OK && i <= panel_count; i++) {
        const int x = L->panel_x0 + i * (L->panel_w + L->gap);
        const char *caption = "image";
        if (i == 0) {
            paste(out, small->rgb, L->panel_w, L->panel_h, x, L->panel_y);
        } else {
            const vte_grid_panel *pn = &panels[i - 1];
            caption = pn->caption ? pn->caption : "";
            normalise_map(pn->map, cells, norm);
            st = vte_draw_blend_map(small->rgb, L->panel_w, L->panel_h, norm, grid_h, grid_w, alpha, lut, panel, err);
            if (st != VTE_OK) break;
            paste(out, panel, L->panel_w, L->panel_h, x, L->panel_y);
        }
        st = put_text_centred(out, caption, p->scale, x + L->panel_w / 2, p->caption_y, L->panel_w + L->gap / 2, err);
    }
    free(norm);
    free(panel);
    return st;
}

/* The colour bar (level 255 in the top row, 0 in the bottom row), its "1" and "0" labels and "relevance". */
static vte_status draw_colour_bar(vte_image *out, const grid_plan *p, const unsigned char *lut, vte_error *err) {
    const vte_grid_layout *L = &p->l;
    for (int r = 0; r < L->bar_h; r++) {
        const int level = L->bar_h > 1 ? (int)lrint(255.0 * (double)(L->bar_h - 1 - r) / (double)(L->bar_h - 1)) : 255;
        unsigned char *row = out->rgb + ((size_t)(L->bar_y + r) * (size_t)L->width + (size_t)L->bar_x) * 3;
        for (int c = 0; c < L->bar_w; c++) memcpy(row + 3 * c, lut + 3 * level, 3);
    }
    vte_status st = vte_cv_put_text(out, "1", p->label_x, L->bar_y + p->text_h, p->scale, DRAW_INK, p->thick, err);
    if (st != VTE_OK) return st;
    if ((st = vte_cv_put_text(out, "0", p->label_x, L->bar_y + L->bar_h, p->scale, DRAW_INK, p->thick, err)) != VTE_OK)
        return st;
    vte_text_metrics rel;
    if ((st = vte_draw_measure("relevance", p->scale, &rel, err)) != VTE_OK) return st;
    /* Only when it fits between the "1" and the "0". */
    if (rel.width + 2 < L->bar_h - 2 * (p->line_h + 4))
        return vte_draw_put_text_up(out, "relevance", p->scale, p->label_x, L->bar_y + L->bar_h / 2, err);
    return VTE_OK;
}

/* ---------------------------------------------------------------- the grid */

vte_status vte_render_grid(const vte_image *image, const vte_grid_panel *panels, int panel_count, int grid_h,
                           int grid_w, float alpha, const char *const *header_lines, int line_count, vte_image *out,
                           vte_error *err) {
    if (!out) return vte_error_set(err, VTE_ERR_INVALID_ARGUMENT, "grid: NULL output");
    out->width = out->height = 0;
    out->rgb = NULL;
    vte_status st =
        check_grid_arguments(image, panels, panel_count, grid_h, grid_w, alpha, header_lines, line_count, err);
    if (st != VTE_OK) return st;

    grid_plan p;
    if ((st = plan_grid(image, panel_count, line_count, &p, err)) != VTE_OK) return st;
    unsigned char lut[256 * 3];
    if ((st = vte_draw_jet_lut(lut, err)) != VTE_OK) return st;
    vte_image small = {0, 0, NULL};
    if ((st = vte_cv_resize(image, p.l.panel_w, p.l.panel_h, &small, err)) != VTE_OK) return st;

    st = vte_draw_alloc_image(out, p.l.width, p.l.height, "grid", err);
    if (st == VTE_OK) {
        memset(out->rgb, 255, (size_t)p.l.width * (size_t)p.l.height * 3);
        st = draw_header(out, &p, header_lines, line_count, err);
    }
    if (st == VTE_OK) st = draw_panels(out, &p, &small, panels, panel_count, grid_h, grid_w, alpha, lut, err);
    if (st == VTE_OK) st = draw_colour_bar(out, &p, lut, err);
    if (st != VTE_OK) vte_image_free(out);
    vte_image_free(&small);
    return st;
}
