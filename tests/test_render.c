/* Rendering (src/render/: overlay.c, grid.c, png.c) and the OpenCV shim's drawing, PNG, window and video
 * entry points (src/image/imageio.cpp, and the command line's windows and video input in src/cli/display.cpp;
 * the video writer that makes test clips is tests/support/video_writer.cpp). */
#include <criterion/criterion.h>
#include <dirent.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "cli/display.h"
#include "image/imageio.h"
#include "png_text.h"
#include "render/render.h"
#include "test_support.h"
#include "video_writer.h"

/* ---------------------------------------------------------------- helpers */


/* Number of entries in a folder (excluding . and ..); their names, space-separated, go to `names` for messages. */
static int list_dir(const char *dir, char *names, size_t cap) {
    int n = 0;
    names[0] = '\0';
    DIR *d = opendir(dir);
    cr_assert_not_null(d, "cannot list %s", dir);
    struct dirent *e;
    while ((e = readdir(d))) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) continue;
        n++;
        size_t len = strlen(names);
        snprintf(names + len, cap - len, "%s%s", len ? " " : "", e->d_name);
    }
    closedir(d);
    return n;
}

static vte_image make_image(int w, int h) {
    vte_image im = {w, h, malloc((size_t)w * (size_t)h * 3)};
    cr_assert_not_null(im.rgb);
    return im;
}

static vte_image uniform_image(int w, int h, unsigned char v) {
    vte_image im = make_image(w, h);
    memset(im.rgb, v, (size_t)w * (size_t)h * 3);
    return im;
}

/* R = x, G = y, B = x + 2y, each mod 256. */
static vte_image gradient_image(int w, int h) {
    vte_image im = make_image(w, h);
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) {
            unsigned char *p = im.rgb + ((size_t)y * (size_t)w + (size_t)x) * 3;
            p[0] = (unsigned char)(x & 255);
            p[1] = (unsigned char)(y & 255);
            p[2] = (unsigned char)((x + 2 * y) & 255);
        }
    return im;
}

static const unsigned char *px(const vte_image *im, int x, int y) {
    return im->rgb + ((size_t)y * (size_t)im->width + (size_t)x) * 3;
}

static void jet_of(int level, unsigned char rgb[3]) {
    unsigned char g = (unsigned char)level;
    vte_error err = {0};
    cr_assert_eq(vte_cv_colormap_jet(&g, 1, rgb, &err), VTE_OK, "%s", err.message);
}

/* ---------------------------------------------------------------- vte_map_upsample vs PyTorch */

/* Expected values made with .venv/bin/python (torch 2.15.0):
 *   g = torch.tensor([((k*7)%11)/10.0 for k in range(gh*gw)], dtype=torch.float32).reshape(1,1,gh,gw)
 *   o = F.interpolate(g, size=(H,W), mode="bilinear", align_corners=False)[0,0]
 * printed as o[y,x].item() with 9 significant digits. */
typedef struct up_case {
    int y, x;
    float want;
} up_case;

static void check_upsample(int gh, int gw, int H, int W, const up_case *cases, size_t n) {
    float *grid = malloc((size_t)gh * (size_t)gw * sizeof *grid);
    float *out = malloc((size_t)H * (size_t)W * sizeof *out);
    cr_assert(grid && out);
    for (int k = 0; k < gh * gw; k++) grid[k] = (float)(((k * 7) % 11) / 10.0);
    vte_map_upsample(grid, gh, gw, out, H, W);
    for (size_t i = 0; i < n; i++) {
        const float got = out[(size_t)cases[i].y * (size_t)W + (size_t)cases[i].x];
        cr_expect(fabsf(got - cases[i].want) <= 1e-6f, "%dx%d->%dx%d at (y=%d, x=%d): got %.9g, torch %.9g", gh, gw, H,
                  W, cases[i].y, cases[i].x, (double)got, (double)cases[i].want);
    }
    free(grid);
    free(out);
}

Test(upsample, matches_torch_3x5_to_36x60) {
    static const up_case cases[] = {
        {0, 0, 0.0f},          {0, 59, 0.600000024f},  {35, 0, 0.400000006f}, {35, 59, 1.0f},
        {5, 7, 0.087500006f},  {6, 6, 0.0375000164f},  {17, 29, 0.508333325f}, {18, 30, 0.491666645f},
        {12, 12, 0.487499982f}, {30, 45, 0.504166722f}, {1, 58, 0.600000024f}, {34, 2, 0.400000006f},
        {20, 17, 0.692881882f},
    };
    check_upsample(3, 5, 36, 60, cases, sizeof cases / sizeof cases[0]);
}

Test(upsample, matches_torch_4x4_to_7x9) {
    static const up_case cases[] = {
        {0, 0, 0.0f},         {6, 8, 0.600000024f}, {3, 4, 0.574999988f}, {1, 2, 0.401984125f}, {2, 7, 0.589285731f},
        {5, 1, 0.484523863f}, {4, 5, 0.4607144f},   {6, 0, 0.699999988f}, {0, 8, 1.0f},
    };
    check_upsample(4, 4, 7, 9, cases, sizeof cases / sizeof cases[0]);
}

Test(upsample, same_size_is_identity) {
    float grid[12], out[12];
    for (int k = 0; k < 12; k++) grid[k] = (float)k * 0.25f;
    vte_map_upsample(grid, 3, 4, out, 3, 4);
    for (int k = 0; k < 12; k++) cr_expect_eq(out[k], grid[k], "index %d", k);
}

/* ---------------------------------------------------------------- jet and text through the shim */

Test(shim, jet_endpoints_are_opencv_4_6s) {
    /* Known COLORMAP_JET values of OpenCV 4.6 (checked with a C++ program calling cv::applyColorMap),
     * converted to RGB: level 0 is dark blue, 255 dark red, 128 a light green. */
    static const struct { int level; unsigned char r, g, b; } known[] = {
        {0, 0, 0, 128}, {1, 0, 0, 132}, {32, 0, 0, 255}, {64, 0, 128, 255}, {128, 130, 255, 126},
        {192, 255, 124, 0}, {224, 252, 0, 0}, {255, 128, 0, 0},
    };
    unsigned char gray[8], rgb[24];
    for (int i = 0; i < 8; i++) gray[i] = (unsigned char)known[i].level;
    vte_error err = {0};
    cr_assert_eq(vte_cv_colormap_jet(gray, 8, rgb, &err), VTE_OK, "%s", err.message);
    for (int i = 0; i < 8; i++)
        cr_expect(rgb[3 * i] == known[i].r && rgb[3 * i + 1] == known[i].g && rgb[3 * i + 2] == known[i].b,
                  "jet(%d) = (%d,%d,%d), want (%d,%d,%d)", known[i].level, rgb[3 * i], rgb[3 * i + 1], rgb[3 * i + 2],
                  known[i].r, known[i].g, known[i].b);
}

Test(shim, text_is_sanitised_to_ascii) {
    int w1, h1, b1, w2, h2, b2;
    vte_error err = {0};
    cr_assert_eq(vte_cv_text_size("LeGrad \xe2\x80\x94 Predicted: cat", 1.0, 1, &w1, &h1, &b1, &err), VTE_OK, "%s",
                 err.message);
    cr_assert_eq(vte_cv_text_size("LeGrad - Predicted: cat", 1.0, 1, &w2, &h2, &b2, &err), VTE_OK, "%s", err.message);
    cr_expect(w1 == w2 && h1 == h2 && b1 == b2, "an em dash is drawn as '-'");
    /* one '?' per code point */
    cr_assert_eq(vte_cv_text_size("caf\xc3\xa9", 1.0, 1, &w1, &h1, &b1, &err), VTE_OK);
    cr_assert_eq(vte_cv_text_size("caf?", 1.0, 1, &w2, &h2, &b2, &err), VTE_OK);
    cr_expect_eq(w1, w2);
    cr_expect(w1 > 0 && h1 > 0 && b1 > 0);
    /* drawing modifies pixels, and a bad scale is refused */
    vte_image im = uniform_image(80, 30, 0);
    const unsigned char white[3] = {255, 255, 255};
    cr_assert_eq(vte_cv_put_text(&im, "Hi \xff", 2, 20, 0.6, white, 1, &err), VTE_OK, "%s", err.message);
    int lit = 0;
    for (int i = 0; i < 80 * 30 * 3; i++) lit += im.rgb[i] > 0;
    cr_expect_gt(lit, 20);
    cr_expect_eq(vte_cv_put_text(&im, "x", 2, 20, -1.0, white, 1, &err), VTE_ERR_INVALID_ARGUMENT);
    vte_image_free(&im);
}

/* ---------------------------------------------------------------- overlay */

/* A 6x6 map: 0.5 everywhere, a hot 2x2 block (rows 3-4, cols 3-4) of 1.0 and a cold block (rows 1-2, cols 0-1) of
 * 0.0. On a 240x180 image each cell is 40x30 px; the upsampled map is exactly 1 where the source coordinate lies in
 * [3,4] on both axes, i.e. x in 140..179, y in 105..134, and exactly 0 for x in 0..59, y in 45..74 (the
 * coordinate clamps at 0 on the left). */
static void block_map(float map[36]) {
    for (int k = 0; k < 36; k++) map[k] = 0.5f;
    map[3 * 6 + 3] = map[3 * 6 + 4] = map[4 * 6 + 3] = map[4 * 6 + 4] = 1.0f;
    map[1 * 6 + 0] = map[1 * 6 + 1] = map[2 * 6 + 0] = map[2 * 6 + 1] = 0.0f;
}

static int blend_expect(int image_value, int jet_value, float alpha) {
    return (int)lrintf((1.0f - alpha) * (float)image_value + alpha * (float)jet_value);
}

static void check_region(const vte_image *in, const vte_image *out, int x0, int x1, int y0, int y1, const int jet[3],
                         float alpha, const char *what) {
    for (int y = y0; y <= y1; y += 3)
        for (int x = x0; x <= x1; x += 3)
            for (int c = 0; c < 3; c++) {
                const int want = blend_expect(px(in, x, y)[c], jet[c], alpha);
                const int got = px(out, x, y)[c];
                cr_assert(abs(got - want) <= 1, "%s alpha %.1f pixel (%d,%d) channel %d: got %d, want %d", what,
                          (double)alpha, x, y, c, got, want);
            }
}

static void check_overlay_blend(vte_image *img, float alpha) {
    float map[36];
    block_map(map);
    vte_image out;
    vte_error err = {0};
    cr_assert_eq(vte_render_overlay(img, map, 6, 6, alpha, "LeGrad \xe2\x80\x94 Predicted: tabby cat", &out, &err),
                 VTE_OK, "%s", err.message);
    cr_assert_eq(out.width, img->width);
    cr_assert_eq(out.height, img->height);
    /* jet endpoints, hard-coded and through OpenCV */
    static const int hot[3] = {128, 0, 0}, cold[3] = {0, 0, 128};
    unsigned char j0[3], j255[3];
    jet_of(0, j0);
    jet_of(255, j255);
    for (int c = 0; c < 3; c++) {
        cr_assert_eq(j0[c], cold[c]);
        cr_assert_eq(j255[c], hot[c]);
    }
    check_region(img, &out, 140 + 4, 179 - 4, 105 + 4, 134 - 4, hot, alpha, "hottest block");
    check_region(img, &out, 0 + 4, 59 - 4, 45 + 4, 74 - 4, cold, alpha, "coldest block");
    vte_image_free(&out);
}

Test(overlay, uniform_gray_blend_of_jet_endpoints) {
    vte_image img = uniform_image(240, 180, 100);
    check_overlay_blend(&img, 0.5f);
    check_overlay_blend(&img, 0.3f);
    /* The arithmetic spelled out for gray 100: alpha 0.5 -> hot (114,50,50), cold (50,50,114); alpha 0.3 ->
     * hot (108,70,70) (70 + 38.4), cold (70,70,108). */
    float map[36];
    block_map(map);
    vte_image out;
    vte_error err = {0};
    cr_assert_eq(vte_render_overlay(&img, map, 6, 6, 0.5f, NULL, &out, &err), VTE_OK, "%s", err.message);
    const unsigned char *h = px(&out, 160, 120), *c = px(&out, 30, 60);
    cr_expect(h[0] == 114 && h[1] == 50 && h[2] == 50, "hot (%d,%d,%d)", h[0], h[1], h[2]);
    cr_expect(c[0] == 50 && c[1] == 50 && c[2] == 114, "cold (%d,%d,%d)", c[0], c[1], c[2]);
    vte_image_free(&out);
    cr_assert_eq(vte_render_overlay(&img, map, 6, 6, 0.3f, NULL, &out, &err), VTE_OK, "%s", err.message);
    h = px(&out, 160, 120);
    c = px(&out, 30, 60);
    cr_expect(h[0] == 108 && h[1] == 70 && h[2] == 70, "hot (%d,%d,%d)", h[0], h[1], h[2]);
    cr_expect(c[0] == 70 && c[1] == 70 && c[2] == 108, "cold (%d,%d,%d)", c[0], c[1], c[2]);
    vte_image_free(&out);
    vte_image_free(&img);
}

Test(overlay, gradient_blend_of_jet_endpoints) {
    vte_image img = gradient_image(240, 180);
    check_overlay_blend(&img, 0.5f);
    check_overlay_blend(&img, 0.3f);
    vte_image_free(&img);
}

Test(overlay, every_pixel_follows_the_rule_below_the_band) {
    /* The whole picture against an independent evaluation of the documented rule. */
    vte_image img = gradient_image(131, 97);
    float map[20];
    vte_test_fill_uniform(map, 20, -0.2f, 1.2f, 7); /* values outside [0,1] are clamped */
    vte_image out;
    vte_error err = {0};
    cr_assert_eq(vte_render_overlay(&img, map, 4, 5, 0.4f, NULL, &out, &err), VTE_OK, "%s", err.message);
    float *up = malloc(131 * 97 * sizeof *up);
    vte_map_upsample(map, 4, 5, up, 97, 131);
    unsigned char lut[768], levels[256];
    for (int i = 0; i < 256; i++) levels[i] = (unsigned char)i;
    cr_assert_eq(vte_cv_colormap_jet(levels, 256, lut, &err), VTE_OK);
    int worst = 0;
    for (int i = 0; i < 131 * 97; i++) {
        float v = up[i] < 0 ? 0 : up[i] > 1 ? 1 : up[i];
        int level = (int)lrintf(v * 255.0f);
        for (int c = 0; c < 3; c++) {
            double exact = 0.6 * img.rgb[3 * i + c] + 0.4 * lut[3 * level + c];
            int d = abs(out.rgb[3 * i + c] - (int)floor(exact + 0.5));
            if (d > worst) worst = d;
        }
    }
    cr_expect_leq(worst, 1, "worst difference from the documented blend: %d levels", worst);
    free(up);
    vte_image_free(&out);
    vte_image_free(&img);
}

static double mean_rect(const vte_image *im, int x0, int y0, int w, int h) {
    double s = 0;
    for (int y = y0; y < y0 + h; y++)
        for (int x = x0; x < x0 + w; x++)
            for (int c = 0; c < 3; c++) s += px(im, x, y)[c];
    return s / (3.0 * w * h);
}

static int white_pixels(const vte_image *im, int y0, int y1) {
    int n = 0;
    for (int y = y0; y < y1; y++)
        for (int x = 0; x < im->width; x++) {
            const unsigned char *p = px(im, x, y);
            n += p[0] >= 200 && p[1] >= 200 && p[2] >= 200;
        }
    return n;
}

static void check_band(int w, int h) {
    vte_image img = uniform_image(w, h, 150);
    float map[36];
    block_map(map);
    vte_image plain, titled;
    vte_error err = {0};
    cr_assert_eq(vte_render_overlay(&img, map, 6, 6, 0.5f, NULL, &plain, &err), VTE_OK, "%s", err.message);
    cr_assert_eq(vte_render_overlay(&img, map, 6, 6, 0.5f, "LeGrad \xe2\x80\x94 Predicted: tabby cat", &titled, &err),
                 VTE_OK, "%s", err.message);
    const int mn = w < h ? w : h;
    int band = (int)lrint(0.075 * mn);
    if (band < 20) band = 20;
    /* The band: darker than the picture without it, with white text in it. Near its right end (past the text, when
     * the text is shorter), each pixel is (v*90+128)>>8. */
    cr_expect_lt(mean_rect(&titled, 0, 0, w, band), 0.6 * mean_rect(&plain, 0, 0, w, band), "%dx%d: band not dark", w,
                 h);
    const int whites = white_pixels(&titled, 0, band);
    cr_expect_gt(whites, 10, "%dx%d: only %d white text pixels in the band", w, h, whites);
    const unsigned char *a = px(&titled, w - 1, band - 1), *b = px(&plain, w - 1, band - 1);
    for (int c = 0; c < 3; c++) cr_expect_eq(a[c], ((unsigned)b[c] * 90u + 128u) >> 8, "%dx%d band corner", w, h);
    /* Below the band nothing changed. */
    cr_expect_eq(memcmp(titled.rgb + (size_t)band * w * 3, plain.rgb + (size_t)band * w * 3,
                        (size_t)(h - band) * w * 3),
                 0, "%dx%d: the title changed pixels below the band", w, h);
    cr_expect_eq(white_pixels(&titled, band, h), 0);
    vte_image_free(&plain);
    vte_image_free(&titled);
    vte_image_free(&img);
}

Test(overlay, title_band_is_dark_with_white_text) {
    check_band(240, 180);
    check_band(64, 64);
    check_band(640, 480);
    check_band(4000, 300);
}

Test(overlay, tiny_images_have_no_band) {
    const int sizes[][2] = {{20, 20}, {1, 1}, {47, 200}, {300, 40}};
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        const int w = sizes[i][0], h = sizes[i][1];
        vte_image img = gradient_image(w, h);
        float map[36];
        block_map(map);
        vte_image plain, titled;
        vte_error err = {0};
        cr_assert_eq(vte_render_overlay(&img, map, 6, 6, 0.5f, NULL, &plain, &err), VTE_OK, "%s", err.message);
        cr_assert_eq(vte_render_overlay(&img, map, 6, 6, 0.5f, "Rollout \xe2\x80\x94 Predicted: dog", &titled, &err),
                     VTE_OK, "%s", err.message);
        cr_assert(titled.width == w && titled.height == h);
        cr_expect_eq(memcmp(plain.rgb, titled.rgb, (size_t)w * h * 3), 0, "%dx%d got a band", w, h);
        vte_image_free(&plain);
        vte_image_free(&titled);
        vte_image_free(&img);
    }
}

Test(overlay, bad_arguments) {
    vte_image img = uniform_image(10, 10, 0), out;
    float map[4] = {0};
    vte_error err = {0};
    cr_expect_eq(vte_render_overlay(&img, map, 2, 2, 1.5f, NULL, &out, &err), VTE_ERR_INVALID_ARGUMENT);
    cr_expect_not_null(strstr(err.message, "alpha"), "%s", err.message);
    cr_expect_null(out.rgb);
    cr_expect_eq(vte_render_overlay(&img, map, 0, 2, 0.5f, NULL, &out, &err), VTE_ERR_INVALID_ARGUMENT);
    cr_expect_eq(vte_render_overlay(&img, NULL, 2, 2, 0.5f, NULL, &out, &err), VTE_ERR_INVALID_ARGUMENT);
    vte_image empty = {0, 0, NULL};
    cr_expect_eq(vte_render_overlay(&empty, map, 2, 2, 0.5f, NULL, &out, &err), VTE_ERR_INVALID_ARGUMENT);
    vte_image_free(&img);
}

/* ---------------------------------------------------------------- grid */

static void assert_jet_column(const vte_image *g, const vte_grid_layout *L) {
    unsigned char lut[768], levels[256];
    for (int i = 0; i < 256; i++) levels[i] = (unsigned char)i;
    vte_error err = {0};
    cr_assert_eq(vte_cv_colormap_jet(levels, 256, lut, &err), VTE_OK);
    const int x = L->bar_x + L->bar_w / 2;
    const unsigned char *top = px(g, x, L->bar_y), *bottom = px(g, x, L->bar_y + L->bar_h - 1);
    cr_expect(memcmp(top, lut + 3 * 255, 3) == 0, "bar top (%d,%d,%d) is not jet(255)", top[0], top[1], top[2]);
    cr_expect(memcmp(bottom, lut, 3) == 0, "bar bottom (%d,%d,%d) is not jet(0)", bottom[0], bottom[1], bottom[2]);
    cr_expect(top[0] == 128 && top[1] == 0 && top[2] == 0);
    cr_expect(bottom[0] == 0 && bottom[1] == 0 && bottom[2] == 128);
    /* Every row of the column is jet of a level that does not increase downwards. */
    int previous = 256;
    for (int r = 0; r < L->bar_h; r++) {
        const unsigned char *p = px(g, x, L->bar_y + r);
        int level = -1;
        for (int l = previous < 256 ? previous : 255; l >= 0; l--)
            if (memcmp(p, lut + 3 * l, 3) == 0) {
                level = l;
                break;
            }
        cr_assert_geq(level, 0, "bar row %d (%d,%d,%d) is not a jet colour at or below level %d", r, p[0], p[1], p[2],
                      previous);
        previous = level;
    }
}

Test(grid, layout_panels_and_colour_bar) {
    vte_image img = gradient_image(320, 240);
    float a[36], b[36], c[36];
    block_map(a);
    vte_test_fill_uniform(b, 36, 0.0f, 1e-3f, 3); /* tiny values: normalised to [0,1] */
    for (int k = 0; k < 36; k++) c[k] = 3.0f + 5.0f * a[k]; /* an affine copy of a: the same panel */
    const vte_grid_panel panels[] = {{"legrad", a}, {"rollout", b}, {"gmar-l1", c}};
    const char *lines[] = {"1. tabby cat 0.53", "2. tiger cat 0.21", "3. Egyptian cat 0.11"};
    vte_image g;
    vte_error err = {0};
    cr_assert_eq(vte_render_grid(&img, panels, 3, 6, 6, 0.5f, lines, 3, &g, &err), VTE_OK, "%s", err.message);
    vte_grid_layout L;
    cr_assert_eq(vte_render_grid_layout(&img, 3, 3, &L, &err), VTE_OK, "%s", err.message);
    cr_assert_eq(g.width, L.width);
    cr_assert_eq(g.height, L.height);
    cr_expect_gt(g.width, g.height, "grid %dx%d is not wider than tall", g.width, g.height);
    cr_expect_geq(g.width, 4 * L.panel_w + L.bar_w);
    cr_expect_eq(L.panel_w, 320);
    cr_expect_eq(L.panel_h, 240);
    cr_expect_gt(L.panel_y, 3 * 10, "no room for the header");
    /* panel 0 is the image; panels 1 and 3 (affine copies) are identical overlays of the block map */
    for (int y = 0; y < 240; y++) {
        cr_assert_eq(memcmp(px(&g, L.panel_x0, L.panel_y + y), px(&img, 0, y), 320 * 3), 0, "image panel row %d", y);
        cr_assert_eq(memcmp(px(&g, L.panel_x0 + 1 * (L.panel_w + L.gap), L.panel_y + y),
                            px(&g, L.panel_x0 + 3 * (L.panel_w + L.gap), L.panel_y + y), 320 * 3),
                     0, "panels 1 and 3 differ at row %d", y);
    }
    /* panel 1 is exactly vte_render_overlay of the image (same size, map already in [0,1]): compare a row */
    vte_image ov;
    cr_assert_eq(vte_render_overlay(&img, a, 6, 6, 0.5f, NULL, &ov, &err), VTE_OK);
    cr_expect_eq(memcmp(px(&g, L.panel_x0 + L.panel_w + L.gap, L.panel_y + 150), px(&ov, 0, 150), 320 * 3), 0,
                 "panel 1 is not vte_render_overlay of the image");
    vte_image_free(&ov);
    assert_jet_column(&g, &L);
    /* header and captions hold dark text on the white background */
    int dark = 0;
    for (int y = 0; y < L.panel_y; y++)
        for (int x = 0; x < g.width; x++) dark += px(&g, x, y)[0] < 100;
    cr_expect_gt(dark, 100, "no header text");
    dark = 0;
    for (int y = L.panel_y + L.panel_h; y < g.height; y++)
        for (int x = 0; x < g.width; x++) dark += px(&g, x, y)[0] < 100;
    cr_expect_gt(dark, 100, "no captions");
    vte_image_free(&g);
    vte_image_free(&img);
}

Test(grid, large_and_small_images) {
    const int sizes[][3] = {{3000, 2000, 5}, {40, 30, 1}, {300, 4000, 2}, {224, 224, 0}};
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        vte_image img = gradient_image(sizes[i][0], sizes[i][1]);
        const int n = sizes[i][2];
        float map[9] = {0, 0.1f, 0.2f, 0.3f, 0.4f, 0.5f, 0.6f, 0.7f, 1};
        vte_grid_panel panels[5];
        for (int k = 0; k < n; k++) panels[k] = (vte_grid_panel){"a-rather-long-method-name-that-gets-cut", map};
        const char *lines[] = {"1. some class with a very long name, from ImageNet, that will not fit 0.99"};
        vte_image g;
        vte_error err = {0};
        cr_assert_eq(vte_render_grid(&img, panels, n, 3, 3, 0.5f, lines, 1, &g, &err), VTE_OK, "%dx%d: %s",
                     sizes[i][0], sizes[i][1], err.message);
        vte_grid_layout L;
        cr_assert_eq(vte_render_grid_layout(&img, n, 1, &L, &err), VTE_OK);
        cr_expect_leq(g.width, 2500, "%dx%d with %d panels: %d px wide", sizes[i][0], sizes[i][1], n, g.width);
        cr_expect_leq(L.panel_h, 1600);
        const double aspect_in = (double)sizes[i][0] / sizes[i][1], aspect = (double)L.panel_w / L.panel_h;
        cr_expect(fabs(aspect - aspect_in) / aspect_in < 0.02, "aspect %g vs %g", aspect, aspect_in);
        assert_jet_column(&g, &L);
        vte_image_free(&g);
        vte_image_free(&img);
    }
}

/* ---------------------------------------------------------------- text box */

Test(text_box, dark_box_top_left_with_white_text) {
    vte_image frame = uniform_image(640, 480, 128);
    const char *lines[] = {"FPS 12.3", "forward 41.0 ms", "explain 20.5 ms"};
    vte_error err = {0};
    cr_assert_eq(vte_render_text_box(&frame, lines, 3, &err), VTE_OK, "%s", err.message);
    cr_expect_lt(mean_rect(&frame, 0, 0, 40, 20), 100.0);
    cr_expect_gt(white_pixels(&frame, 0, 80), 30);
    cr_expect_eq(px(&frame, 639, 479)[0], 128);
    cr_expect_eq(px(&frame, 320, 300)[1], 128);
    vte_image tiny = uniform_image(8, 8, 128);
    cr_assert_eq(vte_render_text_box(&tiny, lines, 3, &err), VTE_OK, "%s", err.message);
    vte_image_free(&tiny);
    vte_image_free(&frame);
}

/* ---------------------------------------------------------------- PNG */

/* Every chunk's CRC, and the chunk names in order (up to 16). */
static int png_chunks(const char *path, char names[16][5]) {
    FILE *f = fopen(path, "rb");
    cr_assert_not_null(f);
    unsigned char head[8];
    cr_assert_eq(fread(head, 1, 8, f), 8);
    int n = 0;
    for (;;) {
        if (fread(head, 1, 8, f) != 8) break;
        uint32_t len = ((uint32_t)head[0] << 24) | ((uint32_t)head[1] << 16) | ((uint32_t)head[2] << 8) | head[3];
        unsigned char *d = malloc(len + 4 + 4);
        memcpy(d, head + 4, 4);
        cr_assert_eq(fread(d + 4, 1, len + 4, f), len + 4);
        uLong crc = crc32(crc32(0L, Z_NULL, 0), d, (uInt)(len + 4));
        uint32_t stored = ((uint32_t)d[len + 4] << 24) | ((uint32_t)d[len + 5] << 16) | ((uint32_t)d[len + 6] << 8) |
                          d[len + 7];
        cr_expect_eq((uint32_t)crc, stored, "chunk %.4s has a bad CRC", (const char *)head + 4);
        if (n < 16) {
            memcpy(names[n], head + 4, 4);
            names[n][4] = '\0';
        }
        n++;
        free(d);
        if (memcmp(head + 4, "IEND", 4) == 0) break;
    }
    fclose(f);
    return n;
}

Test(png, round_trip_with_text_chunks) {
    vte_image img = gradient_image(97, 61);
    const char *path = vte_test_scratch_file("cat_legrad.png");
    const char *title = "LeGrad \xe2\x80\x94 Predicted: tabby cat";
    const char *desc = "method=legrad class=281 label=tabby, tabby cat";
    vte_error err = {0};
    cr_assert_eq(vte_png_write(path, &img, title, desc, &err), VTE_OK, "%s", err.message);
    /* written twice: the second replaces the first */
    cr_assert_eq(vte_png_write(path, &img, title, desc, &err), VTE_OK, "%s", err.message);

    vte_cv_pixels pixels;
    cr_assert_eq(vte_cv_read(path, &pixels, &err), VTE_OK, "%s", err.message);
    vte_image back;
    cr_assert_eq(vte_image_from_cv(&pixels, path, &back, &err), VTE_OK, "%s", err.message);
    vte_cv_pixels_free(&pixels);
    cr_assert(back.width == 97 && back.height == 61);
    cr_expect_eq(memcmp(back.rgb, img.rgb, 97 * 61 * 3), 0, "pixels changed in the round trip");
    vte_image_free(&back);

    char *t = vte_test_png_read_text(path, "Title"), *d = vte_test_png_read_text(path, "Description");
    cr_assert_not_null(t);
    cr_assert_not_null(d);
    cr_expect_str_eq(t, title);
    cr_expect_str_eq(d, desc);
    free(t);
    free(d);
    cr_expect_null(vte_test_png_read_text(path, "Author"));
    cr_expect_null(vte_test_png_read_text(path, "Titl"));

    char names[16][5];
    const int n = png_chunks(path, names);
    cr_assert_geq(n, 5);
    cr_expect_str_eq(names[0], "IHDR");
    cr_expect_str_eq(names[1], "iTXt", "a UTF-8 title goes into iTXt");
    cr_expect_str_eq(names[2], "tEXt", "an ASCII description goes into tEXt");

    char list[4096];
    cr_expect_eq(list_dir(vte_test_scratch_dir(), list, sizeof list), 1, "folder holds: %s", list);
    vte_image_free(&img);
}

Test(png, ascii_title_is_text_and_no_text_without_metadata) {
    vte_image img = uniform_image(16, 9, 77);
    vte_error err = {0};
    const char *a = vte_test_scratch_file("a.png");
    cr_assert_eq(vte_png_write(a, &img, "Rollout - Predicted: dog", NULL, &err), VTE_OK, "%s", err.message);
    char names[16][5];
    png_chunks(a, names);
    cr_expect_str_eq(names[1], "tEXt");
    char *t = vte_test_png_read_text(a, "Title");
    cr_assert_not_null(t);
    cr_expect_str_eq(t, "Rollout - Predicted: dog");
    free(t);
    cr_expect_null(vte_test_png_read_text(a, "Description"));
    const char *b = vte_test_scratch_file("b.png");
    cr_assert_eq(vte_png_write(b, &img, NULL, NULL, &err), VTE_OK, "%s", err.message);
    cr_expect_null(vte_test_png_read_text(b, "Title"));
    png_chunks(b, names);
    cr_expect_str_neq(names[1], "tEXt");
    /* not a PNG, or missing */
    cr_expect_null(vte_test_png_read_text(vte_test_scratch_file("missing.png"), "Title"));
    const char *txt = vte_test_write_temp("x.png", "hello", 5);
    cr_expect_null(vte_test_png_read_text(txt, "Title"));
    vte_image_free(&img);
}

Test(png, missing_folder_fails_and_leaves_nothing) {
    vte_image img = uniform_image(8, 8, 1);
    char path[8192];
    snprintf(path, sizeof path, "%s", vte_test_scratch_file("missing/out.png"));
    vte_error err = {0};
    cr_assert_eq(vte_png_write(path, &img, "t", "d", &err), VTE_ERR_IO);
    cr_expect_not_null(strstr(err.message, path), "message does not name the path: %s", err.message);
    cr_expect_not_null(strstr(err.message, "No such file"), "%s", err.message);
    struct stat st;
    cr_expect_neq(stat(vte_test_scratch_file("missing"), &st), 0);
    char list[4096];
    cr_expect_eq(list_dir(vte_test_scratch_dir(), list, sizeof list), 0, "folder holds: %s", list);
    vte_image_free(&img);
}

Test(png, unwritable_target_removes_the_temporary) {
    /* The target is a non-empty folder: rename fails after the temporary was written. */
    vte_image img = uniform_image(8, 8, 1);
    const char *target = vte_test_scratch_file("taken.png");
    cr_assert_eq(mkdir(target, 0700), 0);
    char path[8192];
    snprintf(path, sizeof path, "%s", target);
    FILE *f = fopen(vte_test_scratch_file("taken.png/keep"), "w");
    cr_assert_not_null(f);
    fclose(f);
    vte_error err = {0};
    cr_assert_eq(vte_png_write(path, &img, NULL, NULL, &err), VTE_ERR_IO);
    cr_expect_not_null(strstr(err.message, path), "%s", err.message);
    char list[4096];
    cr_expect_eq(list_dir(vte_test_scratch_dir(), list, sizeof list), 1, "folder holds: %s", list);
    vte_image_free(&img);
}

/* ---------------------------------------------------------------- video */

static void frame_colour(int k, unsigned char rgb[3]) {
    rgb[0] = (unsigned char)(20 + 40 * k);
    rgb[1] = 100;
    rgb[2] = (unsigned char)(200 - 30 * k);
}

Test(video, writer_and_capture_round_trip) {
    const char *path = vte_test_scratch_file("clip.avi");
    char saved[8192];
    snprintf(saved, sizeof saved, "%s", path);
    vte_error err = {0};
    vte_cv_video_writer *w = vte_cv_video_writer_open(saved, 64, 48, 10.0, &err);
    cr_assert_not_null(w, "%s", err.message);
    vte_image frame = make_image(64, 48);
    for (int k = 0; k < 5; k++) {
        unsigned char c[3];
        frame_colour(k, c);
        for (int i = 0; i < 64 * 48; i++) memcpy(frame.rgb + 3 * i, c, 3);
        cr_assert_eq(vte_cv_video_writer_add(w, &frame, &err), VTE_OK, "%s", err.message);
    }
    vte_image wrong = uniform_image(32, 48, 0);
    cr_expect_eq(vte_cv_video_writer_add(w, &wrong, &err), VTE_ERR_INVALID_ARGUMENT);
    vte_image_free(&wrong);
    vte_cv_video_writer_close(w);
    vte_image_free(&frame);

    vte_cv_capture *cap = vte_cv_capture_open_file(saved, &err);
    cr_assert_not_null(cap, "%s", err.message);
    cr_expect(fabs(vte_cv_capture_fps(cap) - 10.0) < 0.01, "fps %g", vte_cv_capture_fps(cap));
    vte_image got = {0, 0, NULL};
    int end = -1;
    for (int k = 0; k < 5; k++) {
        cr_assert_eq(vte_cv_capture_read(cap, &got, &end, &err), VTE_OK, "frame %d: %s", k, err.message);
        cr_expect_eq(end, 0);
        cr_assert(got.width == 64 && got.height == 48, "frame %d is %dx%d", k, got.width, got.height);
        unsigned char c[3];
        frame_colour(k, c);
        const int probes[][2] = {{32, 24}, {5, 5}, {60, 40}};
        for (int p = 0; p < 3; p++)
            for (int ch = 0; ch < 3; ch++) {
                const int v = px(&got, probes[p][0], probes[p][1])[ch];
                cr_expect(abs(v - c[ch]) <= 20, "frame %d (%d,%d) channel %d: %d, wrote %d", k, probes[p][0],
                          probes[p][1], ch, v, c[ch]);
            }
    }
    cr_expect_eq(vte_cv_capture_read(cap, &got, &end, &err), VTE_ERR_IO);
    cr_expect_eq(end, 1, "end flag not set after the last frame");
    cr_expect_not_null(strstr(err.message, saved), "%s", err.message);
    vte_image_free(&got);
    vte_cv_capture_close(cap);
}

Test(video, open_errors_name_the_source) {
    vte_error err = {0};
    char path[8192];
    snprintf(path, sizeof path, "%s", vte_test_scratch_file("nope/clip.avi"));
    cr_expect_null(vte_cv_video_writer_open(path, 64, 48, 10.0, &err));
    cr_expect_not_null(strstr(err.message, path), "%s", err.message);
    cr_expect_null(vte_cv_capture_open_file(path, &err));
    cr_expect_not_null(strstr(err.message, path), "%s", err.message);
    const char *junk = vte_test_write_temp("junk.avi", "not a video at all", 18);
    cr_expect_null(vte_cv_capture_open_file(junk, &err));
    cr_expect_not_null(strstr(err.message, junk), "%s", err.message);
    cr_expect_null(vte_cv_capture_open_camera(97, &err));
    cr_expect_not_null(strstr(err.message, "/dev/video97"), "%s", err.message);
}

/* ---------------------------------------------------------------- displays and windows */

Test(display, none_without_display_variables) {
    unsetenv("DISPLAY");
    unsetenv("WAYLAND_DISPLAY");
    unsetenv("QT_QPA_PLATFORM"); /* CTest sets it to offscreen */
    cr_expect_eq(vte_cv_display_available(), 0);
    vte_error err = {0};
    vte_cv_window *w = vte_cv_window_open("vitexplain test", &err);
    cr_expect_null(w);
    cr_expect_eq(err.code, VTE_ERR_UNSUPPORTED);
    cr_expect_not_null(strstr(err.message, "display"), "%s", err.message);
    /* a DISPLAY whose X server does not answer, or a Wayland socket that does not exist */
    setenv("DISPLAY", ":97", 1);
    cr_expect_eq(vte_cv_display_available(), 0);
    setenv("QT_QPA_PLATFORM", "xcb", 1);
    cr_expect_eq(vte_cv_display_available(), 0);
    unsetenv("QT_QPA_PLATFORM");
    unsetenv("DISPLAY");
    setenv("WAYLAND_DISPLAY", "wayland-97", 1);
    setenv("XDG_RUNTIME_DIR", "/nonexistent-vte", 1);
    cr_expect_eq(vte_cv_display_available(), 0);
    cr_expect_null(vte_cv_window_open("vitexplain test", &err));
    cr_expect_eq(err.code, VTE_ERR_UNSUPPORTED);
    /* the process is still here */
}

Test(display, offscreen_window_shows_frames) {
    unsetenv("DISPLAY");
    unsetenv("WAYLAND_DISPLAY");
    setenv("QT_QPA_PLATFORM", "offscreen", 1);
    cr_assert_eq(vte_cv_display_available(), 1);
    vte_error err = {0};
    vte_cv_window *w = vte_cv_window_open("vitexplain test", &err);
    cr_assert_not_null(w, "%s", err.message);
    vte_image frame = gradient_image(64, 48);
    for (int i = 0; i < 3; i++) {
        cr_assert_eq(vte_cv_window_show(w, &frame, &err), VTE_OK, "%s", err.message);
        cr_expect_eq(vte_cv_window_wait_key(w, 1), -1);
    }
    cr_expect_eq(vte_cv_window_is_open(w), 1);
    vte_cv_window_close(w);
    vte_image_free(&frame);
}
