/* The deletion and insertion curves of `vitexplain evaluate --plot` (see plot.h). */
#include "render/plot.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "image/imageio.h"
#include "render/draw.h"
#include "util/error.h"

/* Panel geometry inside each half of the picture: the axes' box and the room around it for labels. */
#define PANEL_W (VTE_PLOT_WIDTH / 2)
#define AXES_LEFT 78
#define AXES_RIGHT 22
#define AXES_TOP 84
#define AXES_BOTTOM 70
#define TITLE_SCALE 0.7
#define LABEL_SCALE 0.5
#define LEGEND_SCALE 0.45

static const unsigned char GRID_GREY[3] = {225, 225, 225};
static const unsigned char FRAME_GREY[3] = {160, 160, 160};

typedef struct axes {
    int x0, y0, x1, y1; /* the box: x0..x1 left to right, y0 (value 1) .. y1 (value 0) */
} axes;

static int to_px(const axes *a, double x) { return a->x0 + (int)lrint(x * (a->x1 - a->x0)); }

static int to_py(const axes *a, double y) {
    if (!(y > 0)) y = 0; /* NaN too */
    if (y > 1) y = 1;
    return a->y1 - (int)lrint(y * (a->y1 - a->y0));
}

static void fill_rect(vte_image *image, int x0, int y0, int w, int h, const unsigned char rgb[3]) {
    for (int y = draw_max(0, y0); y < draw_min(image->height, y0 + h); y++)
        for (int x = draw_max(0, x0); x < draw_min(image->width, x0 + w); x++)
            memcpy(image->rgb + ((size_t)y * image->width + x) * 3, rgb, 3);
}

static vte_status put_text(vte_image *image, const char *text, int x, int baseline, double scale, vte_error *err) {
    return vte_cv_put_text(image, text, x, baseline, scale, DRAW_INK, draw_text_thickness(scale), err);
}

/* Text centred on cx. */
static vte_status put_text_centred(vte_image *image, const char *text, int cx, int baseline, double scale,
                                   vte_error *err) {
    vte_text_metrics m;
    vte_status status = vte_draw_measure(text, scale, &m, err);
    return status ? status : put_text(image, text, cx - m.width / 2, baseline, scale, err);
}

/* A line of dashes 8 pixels long with gaps of 5, so that a baseline series reads apart from the methods. */
static vte_status dashed_line(vte_image *image, int x0, int y0, int x1, int y1, const unsigned char rgb[3],
                              int thickness, double *phase, vte_error *err) {
    const double length = hypot(x1 - x0, y1 - y0);
    const double dash = 8, period = 13;
    for (double t = 0; t < length;) {
        const double at = fmod(*phase + t, period);
        const double run = at < dash ? dash - at : period - at;
        const double end = t + run < length ? t + run : length;
        if (at < dash) {
            const double f0 = t / length, f1 = end / length;
            vte_status status =
                vte_cv_line(image, (int)lrint(x0 + f0 * (x1 - x0)), (int)lrint(y0 + f0 * (y1 - y0)),
                            (int)lrint(x0 + f1 * (x1 - x0)), (int)lrint(y0 + f1 * (y1 - y0)), rgb, thickness, err);
            if (status) return status;
        }
        t = end;
    }
    *phase = fmod(*phase + length, period);
    return VTE_OK;
}

static vte_status draw_axes(vte_image *image, const axes *a, const char *panel_title, const char *x_label,
                            vte_error *err) {
    vte_status status = VTE_OK;
    char tick[16];
    for (int i = 0; i <= 4 && !status; i++) {
        const double v = i / 4.0;
        const int px = to_px(a, v), py = to_py(a, v);
        if (i > 0 && i < 4) {
            fill_rect(image, px, a->y0, 1, a->y1 - a->y0, GRID_GREY);
            fill_rect(image, a->x0, py, a->x1 - a->x0, 1, GRID_GREY);
        }
        snprintf(tick, sizeof tick, "%g", v);
        fill_rect(image, px, a->y1, 1, 6, DRAW_INK);
        fill_rect(image, a->x0 - 6, py, 6, 1, DRAW_INK);
        status = put_text_centred(image, tick, px, a->y1 + 24, LABEL_SCALE, err);
        vte_text_metrics m;
        if (!status) status = vte_draw_measure(tick, LABEL_SCALE, &m, err);
        if (!status) status = put_text(image, tick, a->x0 - 10 - m.width, py + m.height / 2, LABEL_SCALE, err);
    }
    fill_rect(image, a->x0, a->y0, a->x1 - a->x0 + 1, 1, FRAME_GREY);
    fill_rect(image, a->x1, a->y0, 1, a->y1 - a->y0 + 1, FRAME_GREY);
    fill_rect(image, a->x0, a->y0, 1, a->y1 - a->y0 + 1, DRAW_INK);
    fill_rect(image, a->x0, a->y1, a->x1 - a->x0 + 1, 1, DRAW_INK);
    if (!status) status = put_text_centred(image, panel_title, (a->x0 + a->x1) / 2, a->y0 - 16, LABEL_SCALE + 0.1, err);
    if (!status) status = put_text_centred(image, x_label, (a->x0 + a->x1) / 2, a->y1 + 54, LABEL_SCALE, err);
    if (!status)
        status = vte_draw_put_text_up(image, "probability of the class", LABEL_SCALE, a->x0 - 70, (a->y0 + a->y1) / 2, err);
    return status;
}

static vte_status draw_series(vte_image *image, const axes *a, const float *x, int points, const vte_plot_series *s,
                              int kind, vte_error *err) {
    const float *y = s->curve[kind];
    double phase = 0;
    for (int k = 0; k + 1 < points; k++) {
        const int x0 = to_px(a, x[k]), y0 = to_py(a, y[k]), x1 = to_px(a, x[k + 1]), y1 = to_py(a, y[k + 1]);
        vte_status status = s->dashed ? dashed_line(image, x0, y0, x1, y1, s->rgb, 2, &phase, err)
                                      : vte_cv_line(image, x0, y0, x1, y1, s->rgb, 2, err);
        if (status) return status;
    }
    return VTE_OK;
}

/* The legend: one line per series (a sample of its line, its name and AUC) in a framed white box in the top
 * right (deletion) or bottom right (insertion) corner of the axes. */
static vte_status draw_legend(vte_image *image, const axes *a, const vte_plot_series *series, int count, int kind,
                              vte_error *err) {
    char text[128];
    int text_w = 0;
    vte_text_metrics m = {0};
    for (int i = 0; i < count; i++) {
        snprintf(text, sizeof text, "%s  AUC %.3f", series[i].name, series[i].auc[kind]);
        vte_status status = vte_draw_measure(text, LEGEND_SCALE, &m, err);
        if (status) return status;
        text_w = draw_max(text_w, m.width);
    }
    const int line_h = m.height + m.baseline + 6, sample = 28, pad = 8;
    const int box_w = pad + sample + 6 + text_w + pad, box_h = pad + count * line_h + pad / 2;
    const int bx = a->x1 - 10 - box_w, by = kind == VTE_CURVE_DELETION ? a->y0 + 10 : a->y1 - 10 - box_h;
    fill_rect(image, bx, by, box_w, box_h, FRAME_GREY);
    fill_rect(image, bx + 1, by + 1, box_w - 2, box_h - 2, DRAW_WHITE);
    for (int i = 0; i < count; i++) {
        const int baseline = by + pad + i * line_h + m.height;
        const int mid = baseline - m.height / 2;
        double phase = 0;
        vte_status status =
            series[i].dashed ? dashed_line(image, bx + pad, mid, bx + pad + sample, mid, series[i].rgb, 2, &phase, err)
                             : vte_cv_line(image, bx + pad, mid, bx + pad + sample, mid, series[i].rgb, 2, err);
        snprintf(text, sizeof text, "%s  AUC %.3f", series[i].name, series[i].auc[kind]);
        if (!status) status = put_text(image, text, bx + pad + sample + 6, baseline, LEGEND_SCALE, err);
        if (status) return status;
    }
    return VTE_OK;
}

vte_status vte_render_curves(const float *x, int points, const vte_plot_series *series, int count, const char *title,
                             const char *const panel_titles[2], vte_image *out, vte_error *err) {
    if (!x || points < 2 || !series || count < 0 || !title || !panel_titles || !out)
        return vte_error_set(err, VTE_ERR_INVALID_ARGUMENT,
                             "plot: x, at least 2 points, series, titles and out are required");
    for (int i = 0; i < count; i++)
        if (!series[i].name || !series[i].curve[0] || !series[i].curve[1])
            return vte_error_set(err, VTE_ERR_INVALID_ARGUMENT, "plot: series %d has no name or no curve", i);
    vte_status status = vte_draw_alloc_image(out, VTE_PLOT_WIDTH, VTE_PLOT_HEIGHT, "plot", err);
    if (status) return status;
    memset(out->rgb, 255, (size_t)VTE_PLOT_WIDTH * VTE_PLOT_HEIGHT * 3);
    status = put_text_centred(out, title, VTE_PLOT_WIDTH / 2, 32, TITLE_SCALE, err);
    static const char *const x_labels[2] = {"fraction of patches removed", "fraction of patches inserted"};
    for (int kind = 0; kind < 2 && !status; kind++) {
        const axes a = {kind * PANEL_W + AXES_LEFT, AXES_TOP, (kind + 1) * PANEL_W - AXES_RIGHT,
                        VTE_PLOT_HEIGHT - AXES_BOTTOM};
        status = draw_axes(out, &a, panel_titles[kind], x_labels[kind], err);
        for (int i = 0; i < count && !status; i++) status = draw_series(out, &a, x, points, &series[i], kind, err);
        if (!status && count) status = draw_legend(out, &a, series, count, kind, err);
    }
    if (status) vte_image_free(out);
    return status;
}
