/* Pillow-exact resize and the HF image processor pipeline (src/image/preprocess.c) against references made
 * with Pillow 13.0.0 and transformers (tools/make_reference.py), demanding bit-exact equality everywhere:
 * resize outputs differ from Pillow's by 0 levels, processor outputs by 0 ulp. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "image/preprocess.h"
#include "model/config.h"
#include "test_support.h"
#include "util/npy.h"

static vte_image load_image(const char *path) {
    vte_image im;
    vte_error err = {0};
    cr_assert_eq(vte_image_load(path, &im, &err), VTE_OK, "%s", err.message);
    return im;
}

static const char *sample(const char *name) {
    static char path[4096];
    snprintf(path, sizeof path, "%s/images/%s", VTE_SOURCE_DIR, name);
    return path;
}

static int max_diff_u8(const unsigned char *a, const unsigned char *b, size_t n, size_t *where) {
    int m = 0;
    for (size_t i = 0; i < n; i++) {
        int d = abs((int)a[i] - (int)b[i]);
        if (d > m) m = d, *where = i;
    }
    return m;
}

/* ---------------------------------------------------------------- resize vs Pillow fixtures */

typedef struct resize_case {
    const char *stem;
    int w, h;
    const char *mode;
} resize_case;

static const resize_case RESIZE_CASES[] = {
    {"chelsea", 224, 224, "bilinear"}, {"chelsea", 37, 23, "bilinear"}, {"chelsea", 61, 97, "bicubic"},
    {"chelsea", 224, 224, "bicubic"},  {"rocket", 224, 224, "bilinear"}, {"rocket", 37, 23, "bilinear"},
    {"rocket", 61, 97, "bicubic"},     {"rocket", 224, 224, "bicubic"},  {"tiny_7x5", 16, 11, "bilinear"},
    {"tiny_7x5", 16, 11, "bicubic"},
};

static const char *resize_source(const char *stem) {
    if (strcmp(stem, "chelsea") == 0) return sample("chelsea.png");
    if (strcmp(stem, "rocket") == 0) return sample("rocket.jpg");
    return vte_test_fixture("reference/resize/tiny_7x5.png");
}

Test(resize, equals_pillow_fixtures) {
    for (size_t i = 0; i < sizeof RESIZE_CASES / sizeof RESIZE_CASES[0]; i++) {
        const resize_case *c = &RESIZE_CASES[i];
        char rel[256];
        snprintf(rel, sizeof rel, "reference/resize/%s_%dx%d_%s.npy", c->stem, c->w, c->h, c->mode);
        vte_npy ref;
        vte_error err = {0};
        cr_assert_eq(vte_npy_read(vte_test_fixture(rel), &ref, &err), VTE_OK, "%s", err.message);
        cr_assert(ref.dtype == VTE_NPY_U8 && ref.rank == 3 && ref.shape[0] == c->h && ref.shape[1] == c->w &&
                      ref.shape[2] == 3,
                  "%s: unexpected array", rel);
        vte_image im = load_image(resize_source(c->stem));
        unsigned char *out = malloc((size_t)c->w * (size_t)c->h * 3);
        cr_assert_not_null(out);
        vte_resample f = strcmp(c->mode, "bicubic") == 0 ? VTE_RESAMPLE_BICUBIC : VTE_RESAMPLE_BILINEAR;
        cr_assert_eq(vte_resize_u8(im.rgb, im.width, im.height, 3, out, c->w, c->h, f, &err), VTE_OK, "%s",
                     err.message);
        size_t where = 0;
        int d = max_diff_u8(out, ref.data, ref.count, &where);
        cr_assert_eq(d, 0, "%s: max difference %d levels at byte %zu (got %d, Pillow %d)", rel, d, where, out[where],
                     ((unsigned char *)ref.data)[where]);
        free(out);
        vte_image_free(&im);
        vte_npy_free(&ref);
    }
}

/* Pillow 13 runs the vertical pass first when the height shrinks by more than twice as many pixels as the
 * width; the intermediate is rounded to 8 bits, so the order shows in the result. Expected bytes: Pillow
 * 13.0.0, Image.open(tiny_7x5.png).resize((w, h), f). 6x2 goes vertical first (5-2 > 2*(7-6)), 9x3 too (the
 * width grows), 5x2 horizontal first (3 < 4) and 6x3 is the tie (2 == 2), horizontal first. */
typedef struct literal_case {
    int w, h;
    vte_resample f;
    unsigned char want[81];
} literal_case;

static const literal_case ORDER_CASES[] = {
    {6, 2, VTE_RESAMPLE_BILINEAR, {111, 60,  117, 150, 164, 223, 170, 103, 185, 140, 109, 170, 120, 153, 117, 138, 88, 153,
                                   186, 135, 204, 152, 184, 182, 167, 128, 149, 152, 85,  161, 112, 100, 89,  113, 109, 78}},
    {6, 2, VTE_RESAMPLE_BICUBIC, {102, 49,  101, 147, 172, 234, 176, 92, 187, 141, 108, 173, 115, 164, 113, 144, 81, 162,
                                  195, 135, 213, 146, 192, 180, 170, 128, 144, 153, 74, 170, 107, 98,  79,  108, 112, 69}},
    {9, 3, VTE_RESAMPLE_BILINEAR, {51,  14,  53,  164, 137, 186, 164, 160, 212, 123, 111, 161, 231, 103, 156, 73,  145,
                                   165, 121, 170, 160, 179, 155, 164, 147, 103, 185, 170, 69,  144, 119, 145, 194, 117,
                                   148, 215, 167, 96,  211, 245, 65,  215, 159, 79,  157, 97,  114, 80,  90,  102, 67,
                                   138, 31,  137, 205, 147, 237, 188, 180, 212, 174, 199, 142, 158, 177, 89,  124, 91,
                                   158, 117, 86,  159, 128, 90,  116, 121, 119, 68,  84,  169, 42}},
    {9, 3, VTE_RESAMPLE_BICUBIC, {39,  1,   38,  174, 145, 193, 168, 174, 230, 110, 102, 157, 231, 103, 156, 50,  146,
                                  168, 115, 181, 159, 194, 160, 163, 142, 100, 189, 179, 65,  144, 112, 148, 197, 105,
                                  158, 224, 176, 96,  220, 252, 67,  219, 167, 74,  160, 81,  121, 61,  78,  102, 53,
                                  145, 13,  144, 209, 148, 242, 190, 183, 222, 175, 210, 133, 159, 183, 72,  122, 89,
                                  158, 116, 82,  165, 133, 83,  118, 122, 118, 63,  82,  176, 37}},
    {5, 2, VTE_RESAMPLE_BILINEAR, {120, 83,  138, 139, 145, 211, 184, 100, 179, 101, 143, 133, 139, 103, 143,
                                   180, 145, 205, 155, 177, 162, 166, 97,  164, 119, 96,  110, 111, 109, 75}},
    {5, 2, VTE_RESAMPLE_BICUBIC, {115, 77,  129, 139, 146, 221, 192, 92, 182, 98,  150, 131, 147, 99,  149,
                                  184, 147, 214, 153, 182, 157, 168, 91, 168, 119, 89,  108, 106, 111, 65}},
    {6, 3, VTE_RESAMPLE_BILINEAR, {83,  49,  90,  181, 172, 225, 153, 109, 160, 116, 134, 163, 143, 173, 158, 156, 118, 179,
                                   156, 90,  158, 110, 158, 216, 189, 87,  212, 183, 75,  173, 88,  121, 66,  125, 52,  118,
                                   201, 156, 230, 176, 198, 159, 149, 154, 108, 119, 87,  159, 132, 91,  105, 94,  155, 50}},
    {6, 3, VTE_RESAMPLE_BICUBIC, {73,  37,  77,  183, 181, 236, 154, 99,  155, 109, 132, 165, 144, 182, 158, 158, 115, 182,
                                  162, 86,  156, 98,  165, 221, 204, 89,  219, 198, 70,  178, 70,  126, 47,  128, 35,  120,
                                  205, 157, 240, 178, 207, 159, 148, 156, 96,  116, 79,  168, 134, 87,  103, 93,  162, 42}},
    /* NEAREST: Pillow's affine nearest neighbour (source = (o + 0.5) * in/out, truncated). */
    {3, 2, VTE_RESAMPLE_NEAREST, {175, 123, 249, 234, 163, 185, 153, 167, 48, 224, 177, 223, 229, 129, 147, 61, 66, 91}},
};

Test(resize, pass_order_and_nearest_match_pillow) {
    vte_image im = load_image(vte_test_fixture("reference/resize/tiny_7x5.png"));
    cr_assert(im.width == 7 && im.height == 5);
    for (size_t i = 0; i < sizeof ORDER_CASES / sizeof ORDER_CASES[0]; i++) {
        const literal_case *c = &ORDER_CASES[i];
        unsigned char out[81];
        vte_error err = {0};
        cr_assert_eq(vte_resize_u8(im.rgb, 7, 5, 3, out, c->w, c->h, c->f, &err), VTE_OK, "%s", err.message);
        size_t where = 0;
        int d = max_diff_u8(out, c->want, (size_t)c->w * (size_t)c->h * 3, &where);
        cr_assert_eq(d, 0, "7x5 -> %dx%d filter %d: differs from Pillow by %d at byte %zu", c->w, c->h, (int)c->f, d,
                     where);
    }
    vte_image_free(&im);
}

Test(resize, nearest_upscale_matches_pillow) {
    static const unsigned char want[8 * 6 * 3] = {
        0,   0,   0,   255, 255, 255, 9,   47,  139, 229, 58,  134, 229, 58,  134, 34,  198, 164, 227, 191, 232, 196,
        158, 219, 119, 33,  123, 175, 123, 249, 203, 202, 196, 234, 163, 185, 234, 163, 185, 19,  102, 174, 153, 167,
        48,  81,  30,  139, 174, 47,  119, 9,   209, 206, 100, 15,  251, 255, 0,   255, 255, 0,   255, 167, 51,  140,
        34,  155, 2,   138, 23,  152, 174, 47,  119, 9,   209, 206, 100, 15,  251, 255, 0,   255, 255, 0,   255, 167,
        51,  140, 34,  155, 2,   138, 23,  152, 210, 160, 228, 224, 177, 223, 201, 233, 121, 229, 129, 147, 229, 129,
        147, 170, 144, 110, 61,  66,  91,  196, 54,  98,  202, 137, 243, 146, 211, 183, 144, 178, 30,  46,  63,  167,
        46,  63,  167, 73,  40,  196, 198, 115, 73,  0,   255, 0};
    vte_image im = load_image(vte_test_fixture("reference/resize/tiny_7x5.png"));
    unsigned char out[sizeof want];
    vte_error err = {0};
    cr_assert_eq(vte_resize_u8(im.rgb, 7, 5, 3, out, 8, 6, VTE_RESAMPLE_NEAREST, &err), VTE_OK);
    size_t where = 0;
    cr_assert_eq(max_diff_u8(out, want, sizeof want, &where), 0, "nearest 7x5 -> 8x6 differs at byte %zu", where);
    vte_image_free(&im);
}

Test(resize, one_channel_equals_each_channel_of_three) {
    /* The filter is per channel: resizing channel 0 alone must give channel 0 of the RGB result. */
    vte_image im = load_image(sample("chelsea.png"));
    const size_t n = (size_t)im.width * (size_t)im.height;
    unsigned char *gray = malloc(n), *g_out = malloc(50 * 31), *rgb_out = malloc(50 * 31 * 3);
    cr_assert(gray && g_out && rgb_out);
    for (size_t i = 0; i < n; i++) gray[i] = im.rgb[3 * i];
    vte_error err = {0};
    for (int f = 0; f <= 5; f++) {
        cr_assert_eq(vte_resize_u8(gray, im.width, im.height, 1, g_out, 50, 31, (vte_resample)f, &err), VTE_OK,
                     "%s", err.message);
        cr_assert_eq(vte_resize_u8(im.rgb, im.width, im.height, 3, rgb_out, 50, 31, (vte_resample)f, &err), VTE_OK);
        for (int i = 0; i < 50 * 31; i++) cr_assert_eq(g_out[i], rgb_out[3 * i], "filter %d pixel %d", f, i);
    }
    free(gray), free(g_out), free(rgb_out);
    vte_image_free(&im);
}

Test(resize, same_size_copies_and_single_pass) {
    unsigned char src[4 * 3 * 2], dst[4 * 3 * 2];
    for (int i = 0; i < (int)sizeof src; i++) src[i] = (unsigned char)(i * 11);
    vte_error err = {0};
    cr_assert_eq(vte_resize_u8(src, 4, 3, 2, dst, 4, 3, VTE_RESAMPLE_BICUBIC, &err), VTE_OK);
    cr_assert(memcmp(src, dst, sizeof src) == 0);
    /* Width only: every row is filtered on its own, so a constant column stays constant. */
    unsigned char flat[5 * 4], out[3 * 4];
    for (int y = 0; y < 4; y++)
        for (int x = 0; x < 5; x++) flat[y * 5 + x] = (unsigned char)(40 * y + 10);
    cr_assert_eq(vte_resize_u8(flat, 5, 4, 1, out, 3, 4, VTE_RESAMPLE_BILINEAR, &err), VTE_OK);
    for (int y = 0; y < 4; y++)
        for (int x = 0; x < 3; x++) cr_assert_eq(out[y * 3 + x], 40 * y + 10);
}

Test(resize, a_window_equals_the_same_part_of_the_whole_resize) {
    /* Every filter, growing and shrinking each axis, one axis unchanged, and windows at the edges and inside: the
     * window's bytes must be the whole resize's, exactly (the same weights, pass order and rounding). */
    vte_image im = load_image(sample("chelsea.png"));
    const int sizes[][2] = {{200, 150}, {451, 97}, {97, 300}, {800, 301}, {451, 300}};
    const int windows[][4] = {{0, 0, 1, 1}, {3, 5, 40, 31}, {0, 0, 97, 97}, {10, 20, 1, 60}};
    for (int f = 0; f <= 5; f++)
        for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
            const int w = sizes[s][0], h = sizes[s][1];
            unsigned char *whole = malloc((size_t)w * h * 3), *part = malloc((size_t)w * h * 3);
            vte_error err = {0};
            cr_assert_eq(vte_resize_u8(im.rgb, im.width, im.height, 3, whole, w, h, (vte_resample)f, &err), VTE_OK,
                         "%s", err.message);
            for (size_t k = 0; k < sizeof windows / sizeof windows[0]; k++) {
                const int x = windows[k][0], y = windows[k][1], ww = windows[k][2], wh = windows[k][3];
                cr_assert_eq(vte_resize_u8_window(im.rgb, im.width, im.height, 3, w, h, x, y, ww, wh, part,
                                                  (vte_resample)f, &err),
                             VTE_OK, "%s", err.message);
                for (int r = 0; r < wh; r++)
                    cr_assert(memcmp(part + (size_t)r * ww * 3, whole + ((size_t)(y + r) * w + x) * 3, (size_t)ww * 3) ==
                                  0,
                              "filter %d, %dx%d, window %dx%d at (%d, %d): row %d differs", f, w, h, ww, wh, x, y, r);
            }
            free(whole);
            free(part);
        }
    vte_image_free(&im);
}

Test(preprocess, a_long_thin_image_is_resized_only_where_the_crop_keeps) {
    /* 300000 x 2 pixels to a shortest edge of 256 would be 38400000 x 256 pixels (29 GB) before the center crop of
     * 224: only the crop is computed. Checked against the same preprocessing of the 300 middle columns (a copy
     * that keeps the horizontal weights' footprint: the crop's columns read source columns near the middle only). */
    const int w = 300000, h = 2;
    vte_image thin = {w, h, malloc((size_t)w * h * 3)};
    for (size_t i = 0; i < (size_t)w * h * 3; i++) thin.rgb[i] = (unsigned char)((i * 2654435761u) >> 24);
    vte_model_config config = {.image_height = 224, .image_width = 224, .num_channels = 3};
    vte_preprocess_config pp = {.do_resize = 1,
                                .resize_shortest_edge = 256,
                                .resample = VTE_RESAMPLE_BICUBIC,
                                .do_center_crop = 1,
                                .crop_height = 224,
                                .crop_width = 224,
                                .do_rescale = 1,
                                .rescale_factor = 1.0 / 255.0,
                                .do_normalize = 1,
                                .image_mean = {0.5f, 0.5f, 0.5f},
                                .image_std = {0.5f, 0.5f, 0.5f}};
    float *pixels = malloc(3 * 224 * 224 * sizeof *pixels);
    vte_error err = {0};
    cr_assert_eq(vte_preprocess(&pp, &config, &thin, pixels, &err), VTE_OK, "%s", err.message);
    vte_preprocess_geometry g;
    cr_assert_eq(vte_preprocess_geometry_compute(&pp, w, h, &g, &err), VTE_OK);
    cr_assert(g.resize_w == 38400000 && g.resize_h == 256 && g.crop_x == 19199888 && g.crop_y == 16);
    /* The expected pixels without the window code: the scale is exactly 1/128, so the resize's columns
     * [128 a, 128 (a + 20)) are the full resize (checked against Pillow above) of the source's columns [a, a + 20),
     * away from both strips' edges. The crop's columns start at 19199888 = 128 * 149990 + 1168. */
    const int a = 149990, strip = 20;
    unsigned char source[20 * 2 * 3], *resized = malloc((size_t)strip * 128 * 256 * 3);
    for (int y = 0; y < h; y++) memcpy(source + (size_t)y * strip * 3, thin.rgb + ((size_t)y * w + a) * 3, strip * 3);
    cr_assert_eq(vte_resize_u8(source, strip, h, 3, resized, strip * 128, 256, VTE_RESAMPLE_BICUBIC, &err), VTE_OK);
    for (int c = 0; c < 3; c++)
        for (int y = 0; y < 224; y++)
            for (int x = 0; x < 224; x++) {
                const unsigned char u = resized[((size_t)(y + 16) * strip * 128 + (size_t)(x + 1168)) * 3 + c];
                const float want = ((float)((double)u * (1.0 / 255.0)) - 0.5f) / 0.5f;
                cr_assert_eq(pixels[((size_t)c * 224 + y) * 224 + x], want, "channel %d, (%d, %d)", c, x, y);
            }
    free(resized);
    free(pixels);
    free(thin.rgb);
}

Test(resize, bad_arguments) {
    unsigned char px[12] = {0}, out[12];
    vte_error err = {0};
    cr_assert_eq(vte_resize_u8(NULL, 2, 2, 3, out, 1, 1, VTE_RESAMPLE_BILINEAR, &err), VTE_ERR_INVALID_ARGUMENT);
    cr_assert_eq(vte_resize_u8(px, 0, 2, 3, out, 1, 1, VTE_RESAMPLE_BILINEAR, &err), VTE_ERR_INVALID_ARGUMENT);
    cr_assert_eq(vte_resize_u8(px, 2, 2, 3, out, 1, -1, VTE_RESAMPLE_BILINEAR, &err), VTE_ERR_INVALID_ARGUMENT);
    cr_assert_eq(vte_resize_u8(px, 2, 2, 5, out, 1, 1, VTE_RESAMPLE_BILINEAR, &err), VTE_ERR_INVALID_ARGUMENT);
    cr_assert_eq(vte_resize_u8(px, 2, 2, 3, out, 1, 1, (vte_resample)7, &err), VTE_ERR_UNSUPPORTED);
    cr_assert(strstr(err.message, "filter 7") != NULL, "%s", err.message);
}

/* ---------------------------------------------------------------- geometry */

static vte_preprocess_config base_config(void) {
    vte_preprocess_config pp;
    memset(&pp, 0, sizeof pp);
    pp.resample = VTE_RESAMPLE_BILINEAR;
    pp.do_rescale = 1;
    pp.rescale_factor = 1.0 / 255.0;
    pp.do_normalize = 1;
    for (int c = 0; c < 3; c++) pp.image_mean[c] = 0.5f, pp.image_std[c] = 0.5f;
    return pp;
}

Test(geometry, shortest_edge_and_fixed_size) {
    vte_preprocess_config pp = base_config();
    vte_preprocess_geometry g;
    vte_error err = {0};
    pp.do_resize = 1;
    pp.resize_shortest_edge = 32;
    /* transformers: short side = 32, long side = int(32 * long / short). */
    cr_assert_eq(vte_preprocess_geometry_compute(&pp, 451, 300, &g, &err), VTE_OK);
    cr_assert(g.resize_w == 48 && g.resize_h == 32, "%dx%d", g.resize_w, g.resize_h);
    cr_assert_eq(vte_preprocess_geometry_compute(&pp, 300, 451, &g, &err), VTE_OK);
    cr_assert(g.resize_w == 32 && g.resize_h == 48);
    cr_assert_eq(vte_preprocess_geometry_compute(&pp, 640, 427, &g, &err), VTE_OK);
    cr_assert(g.resize_w == 47 && g.resize_h == 32); /* int(32*640/427) = int(47.96) */
    cr_assert_eq(vte_preprocess_geometry_compute(&pp, 50, 50, &g, &err), VTE_OK);
    cr_assert(g.resize_w == 32 && g.resize_h == 32 && g.out_w == 32 && g.out_h == 32 && g.crop_x == 0);

    pp.resize_shortest_edge = 0;
    pp.resize_width = 70;
    pp.resize_height = 44;
    cr_assert_eq(vte_preprocess_geometry_compute(&pp, 451, 300, &g, &err), VTE_OK);
    cr_assert(g.resize_w == 70 && g.resize_h == 44 && g.out_w == 70 && g.out_h == 44);

    pp.do_resize = 0;
    cr_assert_eq(vte_preprocess_geometry_compute(&pp, 451, 300, &g, &err), VTE_OK);
    cr_assert(g.resize_w == 451 && g.resize_h == 300 && g.out_w == 451);

    pp.do_resize = 1;
    pp.resize_width = 0;
    cr_assert_eq(vte_preprocess_geometry_compute(&pp, 451, 300, &g, &err), VTE_ERR_INVALID_ARGUMENT);
}

Test(geometry, center_crop_offsets_follow_transformers) {
    /* transformers' center_crop on a 5x3 (WxH) image: where the image's (0,0) lands, measured in Python. */
    static const struct {
        int crop_h, crop_w, x0, y0; /* crop_x = -x0 etc. */
    } cases[] = {{6, 4, 0, 2}, {2, 8, 2, 0}, {7, 9, 2, 2}, {3, 5, 0, 0}};
    vte_preprocess_config pp = base_config();
    pp.do_center_crop = 1;
    vte_error err = {0};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        pp.crop_height = cases[i].crop_h;
        pp.crop_width = cases[i].crop_w;
        vte_preprocess_geometry g;
        cr_assert_eq(vte_preprocess_geometry_compute(&pp, 5, 3, &g, &err), VTE_OK);
        cr_assert(g.crop_x == -cases[i].x0 && g.crop_y == -cases[i].y0 && g.out_w == cases[i].crop_w &&
                      g.out_h == cases[i].crop_h,
                  "crop %dx%d: offset (%d,%d)", cases[i].crop_w, cases[i].crop_h, g.crop_x, g.crop_y);
    }
    /* A 1x1 crop of the 5x3 image takes pixel (2, 1). */
    pp.crop_height = pp.crop_width = 1;
    vte_preprocess_geometry g;
    cr_assert_eq(vte_preprocess_geometry_compute(&pp, 5, 3, &g, &err), VTE_OK);
    cr_assert(g.crop_x == 2 && g.crop_y == 1);
}

Test(geometry, padding_is_zero_before_normalising) {
    /* 5x3 image, crop 4 wide x 6 tall: rows 0-1 and 5 are padding, i.e. pixel value 0 -> (0 - 0.5) / 0.5. */
    vte_preprocess_config pp = base_config();
    pp.do_center_crop = 1;
    pp.crop_width = 4;
    pp.crop_height = 6;
    unsigned char rgb[3 * 5 * 3];
    for (int i = 0; i < (int)sizeof rgb; i++) rgb[i] = (unsigned char)(i * 5 + 1);
    vte_image im = {5, 3, rgb};
    vte_model_config mc;
    memset(&mc, 0, sizeof mc);
    mc.num_channels = 3;
    mc.image_width = 4;
    mc.image_height = 6;
    float out[3 * 6 * 4];
    vte_error err = {0};
    cr_assert_eq(vte_preprocess(&pp, &mc, &im, out, &err), VTE_OK, "%s", err.message);
    for (int c = 0; c < 3; c++)
        for (int y = 0; y < 6; y++)
            for (int x = 0; x < 4; x++) {
                int sy = y - 2, sx = x;
                unsigned u = (sy >= 0 && sy < 3) ? rgb[(sy * 5 + sx) * 3 + c] : 0;
                float want = ((float)((double)u * (1.0 / 255.0)) - 0.5f) / 0.5f;
                cr_assert_eq(out[(c * 6 + y) * 4 + x], want, "c%d (%d,%d)", c, x, y);
            }
}

Test(preprocess, float_ops_match_numpy) {
    /* numpy: ((float32(float64(37) * (1/255))) - float32(0.485)) / float32(0.229) = bits 0xBFBDFD27. */
    vte_preprocess_config pp = base_config();
    pp.image_mean[0] = 0.485f;
    pp.image_std[0] = 0.229f;
    unsigned char px[3] = {37, 0, 0};
    vte_image im = {1, 1, px};
    vte_model_config mc;
    memset(&mc, 0, sizeof mc);
    mc.num_channels = 3;
    mc.image_width = mc.image_height = 1;
    float out[3];
    vte_error err = {0};
    cr_assert_eq(vte_preprocess(&pp, &mc, &im, out, &err), VTE_OK, "%s", err.message);
    uint32_t bits;
    memcpy(&bits, &out[0], 4);
    cr_assert_eq(bits, 3216899367u, "got %.9g (bits %08x)", (double)out[0], bits);
}

Test(preprocess, size_and_errors) {
    vte_model_config mc;
    memset(&mc, 0, sizeof mc);
    mc.num_channels = 3;
    mc.image_height = 36;
    mc.image_width = 60;
    cr_assert_eq(vte_preprocess_size(&mc), (size_t)3 * 36 * 60);
    cr_assert_eq(vte_preprocess_size(NULL), 0);

    vte_preprocess_config pp = base_config();
    pp.do_resize = 1;
    pp.resize_height = 32;
    pp.resize_width = 32;
    unsigned char px[3 * 4] = {0};
    vte_image im = {2, 2, px};
    float out[3 * 36 * 60];
    vte_error err = {0};
    cr_assert_eq(vte_preprocess(&pp, &mc, &im, out, &err), VTE_ERR_INVALID_ARGUMENT);
    cr_assert(strstr(err.message, "32x32") && strstr(err.message, "36x60"), "%s", err.message);

    mc.num_channels = 1;
    cr_assert_eq(vte_preprocess(&pp, &mc, &im, out, &err), VTE_ERR_UNSUPPORTED);
    mc.num_channels = 3;
    vte_image empty = {0, 0, NULL};
    cr_assert_eq(vte_preprocess(&pp, &mc, &empty, out, &err), VTE_ERR_INVALID_ARGUMENT);
    cr_assert_eq(vte_preprocess(NULL, &mc, &im, out, &err), VTE_ERR_INVALID_ARGUMENT);
}

/* ---------------------------------------------------------------- the whole processor vs transformers */

static void check_model(const char *model) {
    static const char *images[] = {"astronaut.png", "chelsea.png", "coffee.png", "horse.png", "rocket.jpg"};
    char path[4096];
    vte_error err = {0};
    vte_model_config mc;
    vte_preprocess_config pp;
    snprintf(path, sizeof path, "%s/models/%s/config.json", VTE_FIXTURES_DIR, model);
    cr_assert_eq(vte_config_load(path, &mc, NULL, &err), VTE_OK, "%s", err.message);
    snprintf(path, sizeof path, "%s/models/%s/preprocessor_config.json", VTE_FIXTURES_DIR, model);
    cr_assert_eq(vte_preprocess_config_load(path, &mc, &pp, &err), VTE_OK, "%s", err.message);
    const size_t n = vte_preprocess_size(&mc);
    float *got = malloc(n * sizeof *got);
    cr_assert_not_null(got);
    for (size_t i = 0; i < sizeof images / sizeof images[0]; i++) {
        char stem[64];
        snprintf(stem, sizeof stem, "%s", images[i]);
        *strchr(stem, '.') = '\0';
        snprintf(path, sizeof path, "%s/reference/%s/%s_pixels.npy", VTE_FIXTURES_DIR, model, stem);
        vte_npy ref;
        cr_assert_eq(vte_npy_read(path, &ref, &err), VTE_OK, "%s", err.message);
        cr_assert(ref.dtype == VTE_NPY_F32 && ref.count == n, "%s: %zu values, want %zu", path, ref.count, n);
        vte_image im = load_image(sample(images[i]));
        cr_assert_eq(vte_preprocess(&pp, &mc, &im, got, &err), VTE_OK, "%s: %s", images[i], err.message);
        char what[256];
        snprintf(what, sizeof what, "%s/%s pixels", model, stem);
        /* Exact: the same 8-bit resize as Pillow, then the same float64/float32 operations as numpy. */
        vte_test_assert_close(got, ref.data, n, 0.0, 0.0, what);
        vte_image_free(&im);
        vte_npy_free(&ref);
    }
    free(got);
}

Test(preprocess, vit_tiny_equals_transformers) { check_model("vit-tiny"); }
Test(preprocess, vit_odd_equals_transformers) { check_model("vit-odd"); }
