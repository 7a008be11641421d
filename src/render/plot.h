/* The `vitexplain evaluate --plot` picture: deletion and insertion curves side by side, each with its axes, grid,
 * axis labels and a legend of the series with their AUC. Plain C over the OpenCV shim (image/imageio.h). */
#ifndef VTE_RENDER_PLOT_H
#define VTE_RENDER_PLOT_H

#include "vitexplain.h"

/* The picture's size: two panels of 600 x 540 pixels. */
#define VTE_PLOT_WIDTH 1200
#define VTE_PLOT_HEIGHT 540

typedef struct vte_plot_series {
    const char *name;      /* the legend's text */
    const float *curve[2]; /* [VTE_CURVE_DELETION], [VTE_CURVE_INSERTION]: `points` probabilities each */
    double auc[2];         /* shown after the name in the legend */
    unsigned char rgb[3];
    int dashed; /* 1: a dashed line (a baseline such as the random orders) */
} vte_plot_series;

/* Draws the curves of `count` series over x (`points` values in [0, 1]) on a white VTE_PLOT_WIDTH x
 * VTE_PLOT_HEIGHT picture: `title` across the top; the left panel the deletion curves ("fraction of patches
 * removed"), the right one the insertion curves ("fraction of patches inserted"), each titled panel_titles[kind],
 * with the y axis "probability of the class" from 0 to 1 (values outside are clipped), grid lines every 0.25,
 * and a legend (top right for deletion, bottom right for insertion, where falling and rising curves leave
 * room). out->rgb is malloc'ed. */
vte_status vte_render_curves(const float *x, int points, const vte_plot_series *series, int count, const char *title,
                             const char *const panel_titles[2], vte_image *out, vte_error *err);

#endif
