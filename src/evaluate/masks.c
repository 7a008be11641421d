/* Object masks (docs/evaluation.md#masks): a mask taken to the model input with the image's own geometry, the
 * patch coverage, the pointing game and the share of a map on the object, and what a uniform map scores. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "image/preprocess.h"
#include "util/error.h"

/* A patch counts as on the object for the pointing game from half of its pixels on. */
#define ON_OBJECT 0.5f

vte_status vte_mask_coverage(const vte_model *model, const vte_image *mask, float *coverage, vte_error *err) {
    if (!model || !mask || !mask->rgb || mask->width < 1 || mask->height < 1 || !coverage)
        return vte_error_set(err, VTE_ERR_INVALID_ARGUMENT,
                             "vte_mask_coverage: model, a mask image and coverage are required");
    const vte_model_config *c = vte_model_get_config(model);
    const vte_preprocess_config *pp = vte_model_get_preprocess(model);
    vte_preprocess_geometry g;
    vte_status status = vte_preprocess_geometry_compute(pp, mask->width, mask->height, &g, err);
    if (status) return status;
    if (g.out_w != c->image_width || g.out_h != c->image_height)
        return vte_error_set(err, VTE_ERR_INVALID_ARGUMENT,
                             "mask: the preprocessor makes %dx%d (HxW) inputs of it but the model takes %dx%d", g.out_h,
                             g.out_w, c->image_height, c->image_width);
    const size_t source_pixels = (size_t)mask->width * mask->height;
    unsigned char *on = malloc(source_pixels);
    unsigned char *resized = malloc((size_t)g.resize_w * g.resize_h);
    if (!on || !resized) {
        free(on);
        free(resized);
        return vte_error_set(err, VTE_ERR_OUT_OF_MEMORY, "mask: cannot allocate %dx%d pixels", g.resize_w, g.resize_h);
    }
    for (size_t i = 0; i < source_pixels; i++)
        on[i] = (mask->rgb[3 * i] | mask->rgb[3 * i + 1] | mask->rgb[3 * i + 2]) != 0;
    /* Nearest neighbour keeps the mask binary; Pillow's, as the image's resize is Pillow's. */
    status =
        vte_resize_u8(on, mask->width, mask->height, 1, resized, g.resize_w, g.resize_h, VTE_RESAMPLE_NEAREST, err);
    if (status) {
        vte_error_prefix(err, "mask");
    } else {
        const int ps = c->patch_size;
        for (int p = 0; p < c->grid_h * c->grid_w; p++) {
            const int y0 = (p / c->grid_w) * ps, x0 = (p % c->grid_w) * ps;
            int count = 0;
            for (int y = y0; y < y0 + ps; y++)
                for (int x = x0; x < x0 + ps; x++) {
                    /* The center crop's pixel (x, y) is (x + crop_x, y + crop_y) of the resized mask, or padding. */
                    const int sx = x + g.crop_x, sy = y + g.crop_y;
                    if (sx >= 0 && sy >= 0 && sx < g.resize_w && sy < g.resize_h)
                        count += resized[(size_t)sy * g.resize_w + sx];
                }
            coverage[p] = (float)count / (float)(ps * ps);
        }
    }
    free(on);
    free(resized);
    return status;
}

int vte_pointing_game(const float *map, const float *coverage, int patches) {
    if (!map || !coverage || patches < 1) return 0;
    /* The first patch of vte_patch_order: the highest value (NaN lowest), ties to the lower index. */
    int best = 0;
    for (int p = 1; p < patches; p++)
        if (map[p] > map[best] || (isnan(map[best]) && !isnan(map[p]))) best = p;
    return coverage[best] >= ON_OBJECT;
}

double vte_share_on_object(const float *map, const float *coverage, int patches) {
    if (!map || !coverage || patches < 1) return 0;
    double on = 0, total = 0;
    for (int p = 0; p < patches; p++) {
        on += (double)map[p] * coverage[p];
        total += map[p];
    }
    return total == 0 ? 0 : on / total;
}

double vte_pointing_game_uniform(const float *coverage, int patches) {
    if (!coverage || patches < 1) return 0;
    int hits = 0;
    for (int p = 0; p < patches; p++) hits += coverage[p] >= ON_OBJECT;
    return (double)hits / patches;
}

double vte_share_uniform(const float *coverage, int patches) {
    if (!coverage || patches < 1) return 0;
    double sum = 0;
    for (int p = 0; p < patches; p++) sum += coverage[p];
    return sum / patches;
}
