/* Image decoding (src/image/image.c over the OpenCV shim src/image/imageio.cpp): vte_image_load must give
 * Pillow's Image.open(path).convert('RGB'), byte for byte. Expected values below were computed with Pillow
 * 13.0.0 (the reference), or follow the formulas of tests/fixtures/images/make_images.py. */
#include <criterion/criterion.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "image/imageio.h"
#include "test_support.h"
#include "util/npy.h"

static vte_image load_ok(const char *path) {
    vte_image im;
    vte_error err = {0};
    vte_status st = vte_image_load(path, &im, &err);
    cr_assert_eq(st, VTE_OK, "vte_image_load(%s): %s", path, err.message);
    cr_assert_not_null(im.rgb);
    return im;
}

static const char *sample(const char *name) {
    static char path[4096];
    snprintf(path, sizeof path, "%s/images/%s", VTE_SOURCE_DIR, name);
    return path;
}

static uint64_t fnv1a(const unsigned char *p, size_t n) {
    uint64_t h = 0xcbf29ce484222325ull;
    for (size_t i = 0; i < n; i++) {
        h ^= p[i];
        h *= 0x100000001b3ull;
    }
    return h;
}

static void assert_pixel(const vte_image *im, int x, int y, int r, int g, int b, const char *what) {
    const unsigned char *p = im->rgb + ((size_t)y * (size_t)im->width + (size_t)x) * 3;
    cr_assert(p[0] == r && p[1] == g && p[2] == b, "%s (%d,%d): got (%d,%d,%d), want (%d,%d,%d)", what, x, y, p[0],
              p[1], p[2], r, g, b);
}

/* ---------------------------------------------------------------- the sample images vs Pillow */

typedef struct sample_case {
    const char *name;
    int width, height;
    uint64_t fnv; /* FNV-1a 64 of Pillow's convert('RGB') bytes, row-major RGB */
    int px[4][5]; /* x, y, r, g, b */
} sample_case;

static const sample_case SAMPLES[] = {
    {"astronaut.png", 512, 512, 0xfa4e6bff08e5e8fbull,
     {{0, 0, 154, 147, 151}, {511, 511, 0, 0, 0}, {256, 170, 213, 201, 201}, {17, 507, 167, 143, 145}}},
    {"chelsea.png", 451, 300, 0xb2179687966157a8ull,
     {{0, 0, 143, 120, 104}, {450, 299, 162, 138, 128}, {225, 100, 186, 140, 106}, {17, 295, 144, 101, 66}}},
    {"coffee.png", 600, 400, 0xd261c1b91ef6ee1eull,
     {{0, 0, 21, 13, 8}, {599, 399, 143, 60, 29}, {300, 133, 225, 135, 49}, {17, 395, 195, 148, 110}}},
    /* RGBA: (0,0) has alpha 110 on white; convert('RGB') keeps the white (no compositing). */
    {"horse.png", 400, 328, 0x1721f9f0cdc2aec9ull,
     {{0, 0, 255, 255, 255}, {399, 327, 255, 255, 255}, {200, 109, 0, 0, 0}, {17, 323, 255, 255, 255}}},
    /* JPEG: OpenCV's libjpeg-turbo decode equals Pillow's (ISLOW IDCT, fancy upsampling): measured max
     * difference 0 over the whole image, so the test demands exact equality. */
    {"rocket.jpg", 640, 427, 0x34b9b35d9b0edb19ull,
     {{0, 0, 17, 33, 58}, {639, 426, 83, 61, 37}, {320, 142, 93, 85, 82}, {17, 422, 42, 41, 47}}},
};

Test(image, samples_equal_pillow) {
    for (size_t i = 0; i < sizeof SAMPLES / sizeof SAMPLES[0]; i++) {
        const sample_case *c = &SAMPLES[i];
        vte_image im = load_ok(sample(c->name));
        cr_assert(im.width == c->width && im.height == c->height, "%s: %dx%d, want %dx%d", c->name, im.width,
                  im.height, c->width, c->height);
        for (int k = 0; k < 4; k++)
            assert_pixel(&im, c->px[k][0], c->px[k][1], c->px[k][2], c->px[k][3], c->px[k][4], c->name);
        uint64_t h = fnv1a(im.rgb, (size_t)im.width * (size_t)im.height * 3);
        cr_assert_eq(h, c->fnv, "%s: decoded bytes differ from Pillow's (FNV-1a %016llx, want %016llx)", c->name,
                     (unsigned long long)h, (unsigned long long)c->fnv);
        vte_image_free(&im);
        cr_assert_null(im.rgb);
    }
}

Test(image, rocket_jpeg_matches_pillow_fixture) {
    vte_npy ref;
    vte_error err = {0};
    const char *path = vte_test_fixture("reference/resize/rocket_decoded_crop64.npy");
    cr_assert_eq(vte_npy_read(path, &ref, &err), VTE_OK, "%s", err.message);
    cr_assert(ref.dtype == VTE_NPY_U8 && ref.rank == 3 && ref.shape[2] == 3);
    vte_image im = load_ok(sample("rocket.jpg"));
    const int h = (int)ref.shape[0], w = (int)ref.shape[1];
    const unsigned char *want = ref.data;
    int maxdiff = 0;
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w * 3; x++) {
            int d = abs((int)im.rgb[(size_t)y * (size_t)im.width * 3 + (size_t)x] - (int)want[(size_t)y * (size_t)w * 3 + (size_t)x]);
            if (d > maxdiff) maxdiff = d;
        }
    cr_assert_eq(maxdiff, 0, "rocket.jpg: top-left %dx%d differs from Pillow by up to %d levels", w, h, maxdiff);
    vte_image_free(&im);
    vte_npy_free(&ref);
}

/* ---------------------------------------------------------------- modes: tests/fixtures/images */

static const char *fixture_image(const char *name) {
    static char path[4096];
    snprintf(path, sizeof path, "%s/images/%s", VTE_FIXTURES_DIR, name);
    return path;
}

#define FW 13
#define FH 9

static void check_formula(const char *name, void (*expected)(int x, int y, int rgb[3])) {
    vte_image im = load_ok(fixture_image(name));
    cr_assert(im.width == FW && im.height == FH, "%s: %dx%d", name, im.width, im.height);
    for (int y = 0; y < FH; y++)
        for (int x = 0; x < FW; x++) {
            int want[3];
            expected(x, y, want);
            assert_pixel(&im, x, y, want[0], want[1], want[2], name);
        }
    vte_image_free(&im);
}

static void gray8_rgb(int x, int y, int rgb[3]) { rgb[0] = rgb[1] = rgb[2] = (19 * x + 7 * y) % 256; }
static void gray16_rgb(int x, int y, int rgb[3]) { rgb[0] = rgb[1] = rgb[2] = ((4099 * x + 1031 * y + 7) % 65536) >> 8; }
static void la8_rgb(int x, int y, int rgb[3]) { rgb[0] = rgb[1] = rgb[2] = (23 * x + 11 * y) % 256; }
static void rgb16_rgb(int x, int y, int rgb[3]) {
    rgb[0] = (5000 * x + 300 * y) >> 8;
    rgb[1] = (65535 - 4000 * x - 100 * y) >> 8;
    rgb[2] = ((257 * x * y) % 65536) >> 8;
}
static void palette_rgb(int x, int y, int rgb[3]) {
    static const int pal[4][3] = {{255, 0, 0}, {10, 200, 30}, {0, 0, 255}, {250, 250, 5}};
    const int *c = pal[(x + 2 * y) % 4];
    rgb[0] = c[0], rgb[1] = c[1], rgb[2] = c[2];
}

Test(image, grayscale_is_expanded) { check_formula("gray8.png", gray8_rgb); }
/* 16-bit grayscale: high byte (Pillow would saturate at 255; see src/image/imageio.h). */
Test(image, gray16_takes_high_byte) { check_formula("gray16.png", gray16_rgb); }
Test(image, gray_alpha_drops_alpha) { check_formula("la8.png", la8_rgb); }
Test(image, rgb16_takes_high_byte) { check_formula("rgb16.png", rgb16_rgb); }
Test(image, rgba16_drops_alpha) { check_formula("rgba16.png", rgb16_rgb); }
Test(image, palette_with_transparency) { check_formula("palette.png", palette_rgb); }

static void bilevel_rgb(int x, int y, int rgb[3]) { rgb[0] = rgb[1] = rgb[2] = ((x + y) % 2 == 1 || x == 12) ? 255 : 0; }
Test(image, bilevel_png) { check_formula("bilevel.png", bilevel_rgb); }

Test(image, exif_orientation_is_ignored) {
    /* The file says "rotate 90 degrees"; Pillow's Image.open does not apply it, so neither do we. */
    vte_image im = load_ok(fixture_image("exif_rotated.jpg"));
    cr_assert(im.width == FW && im.height == FH, "decoded as %dx%d: EXIF orientation was applied", im.width,
              im.height);
    assert_pixel(&im, 0, 0, 0, 0, 0, "exif_rotated.jpg"); /* Pillow's values */
    assert_pixel(&im, 12, 0, 226, 226, 226, "exif_rotated.jpg");
    assert_pixel(&im, 0, 8, 56, 56, 56, "exif_rotated.jpg");
    assert_pixel(&im, 6, 4, 143, 143, 143, "exif_rotated.jpg");
    vte_image_free(&im);
}

Test(image, grayscale_jpeg) {
    vte_image im = load_ok(fixture_image("gray.jpg"));
    cr_assert(im.width == FW && im.height == FH);
    for (size_t i = 0; i < (size_t)FW * FH; i++)
        cr_assert(im.rgb[3 * i] == im.rgb[3 * i + 1] && im.rgb[3 * i] == im.rgb[3 * i + 2], "gray.jpg: R, G, B differ");
    /* Pillow's decode of the same file at these pixels. */
    assert_pixel(&im, 0, 0, 0, 0, 0, "gray.jpg");
    assert_pixel(&im, 5, 3, 115, 115, 115, "gray.jpg");
    assert_pixel(&im, 12, 8, 29, 29, 29, "gray.jpg");
    assert_pixel(&im, 7, 4, 161, 161, 161, "gray.jpg");
    vte_image_free(&im);
}

/* ---------------------------------------------------------------- errors */

static void expect_error(const char *path, vte_status code, const char *fragment) {
    vte_image im = {7, 7, (unsigned char *)&im}; /* garbage the call must overwrite */
    vte_error err = {0};
    vte_status st = vte_image_load(path, &im, &err);
    cr_assert_eq(st, code, "%s: status %d (%s), want %d", path, st, err.message, code);
    cr_assert_eq(err.code, code);
    cr_assert(strstr(err.message, path) != NULL, "message does not name the file: %s", err.message);
    cr_assert(strstr(err.message, fragment) != NULL, "message '%s' lacks '%s'", err.message, fragment);
    cr_assert(im.rgb == NULL && im.width == 0 && im.height == 0, "image not cleared on failure");
}

Test(image, missing_file) {
    char path[4200];
    snprintf(path, sizeof path, "%s/does-not-exist.png", vte_test_temp_dir());
    expect_error(path, VTE_ERR_IO, ": no such file");
    snprintf(path, sizeof path, "%s/no-dir/x.png", vte_test_temp_dir());
    expect_error(path, VTE_ERR_IO, ": no such file");
}

Test(image, empty_file) {
    const char *path = vte_test_write_temp("empty.png", "", 0);
    expect_error(path, VTE_ERR_FORMAT, "empty file");
}

Test(image, text_file_named_png) {
    const char text[] = "this is not a PNG\n";
    const char *path = vte_test_write_temp("text.png", text, sizeof text - 1);
    expect_error(path, VTE_ERR_FORMAT, "cannot decode image (not a supported image format or corrupt)");
}

Test(image, truncated_png) {
    /* The first 100 bytes of a real PNG: a valid signature and header, then nothing. */
    FILE *f = fopen(sample("chelsea.png"), "rb");
    cr_assert_not_null(f);
    unsigned char head[100];
    cr_assert_eq(fread(head, 1, sizeof head, f), sizeof head);
    fclose(f);
    const char *path = vte_test_write_temp("truncated.png", head, sizeof head);
    expect_error(path, VTE_ERR_FORMAT, "cannot decode image");
}

Test(image, directory) {
    const char *dir = vte_test_temp_dir();
    expect_error(dir, VTE_ERR_IO, "is a directory");
}

Test(image, unsupported_sample_type) {
    /* A 2x2 portable float map (PFM, little-endian): OpenCV decodes it to 32-bit float, which the library does not
     * take. */
    char pfm[64] = "PF\n2 2\n-1.0\n";
    const size_t header = strlen(pfm);
    const float values[12] = {0.25f, 0.5f, 0.75f, 1, 0, 0, 0, 1, 0, 0, 0, 1};
    memcpy(pfm + header, values, sizeof values);
    const char *path = vte_test_write_temp("float.pfm", pfm, header + sizeof values);
    expect_error(path, VTE_ERR_UNSUPPORTED, "32-bit float");
}

Test(image, null_arguments) {
    vte_image im;
    vte_error err = {0};
    cr_assert_eq(vte_image_load(NULL, &im, &err), VTE_ERR_INVALID_ARGUMENT);
    cr_assert_eq(vte_image_load(sample("chelsea.png"), NULL, &err), VTE_ERR_INVALID_ARGUMENT);
    cr_assert_eq(vte_image_load("", &im, &err), VTE_ERR_INVALID_ARGUMENT);
    cr_assert_eq(vte_image_load("/nonexistent/x.png", &im, NULL), VTE_ERR_IO); /* err may be NULL */
    vte_image_free(NULL);
    vte_image zero = {0};
    vte_image_free(&zero);
}

/* ---------------------------------------------------------------- conversion without OpenCV */

Test(image, from_cv_channel_orders) {
    vte_image im;
    vte_error err = {0};
    unsigned char bgr[2 * 3] = {1, 2, 3, 4, 5, 6};
    vte_cv_pixels px = {2, 1, 3, 1, bgr};
    cr_assert_eq(vte_image_from_cv(&px, "bgr", &im, &err), VTE_OK, "%s", err.message);
    cr_assert(memcmp(im.rgb, (unsigned char[]){3, 2, 1, 6, 5, 4}, 6) == 0);
    vte_image_free(&im);

    unsigned char bgra[2 * 4] = {1, 2, 3, 0, 4, 5, 6, 9};
    px = (vte_cv_pixels){2, 1, 4, 1, bgra};
    cr_assert_eq(vte_image_from_cv(&px, "bgra", &im, &err), VTE_OK);
    cr_assert(memcmp(im.rgb, (unsigned char[]){3, 2, 1, 6, 5, 4}, 6) == 0);
    vte_image_free(&im);

    unsigned char ga[2 * 2] = {10, 0, 20, 255};
    px = (vte_cv_pixels){2, 1, 2, 1, ga};
    cr_assert_eq(vte_image_from_cv(&px, "ga", &im, &err), VTE_OK);
    cr_assert(memcmp(im.rgb, (unsigned char[]){10, 10, 10, 20, 20, 20}, 6) == 0);
    vte_image_free(&im);

    uint16_t bgr16[3] = {0x01ff, 0x8000, 0xffff};
    px = (vte_cv_pixels){1, 1, 3, 2, bgr16};
    cr_assert_eq(vte_image_from_cv(&px, "bgr16", &im, &err), VTE_OK);
    cr_assert(memcmp(im.rgb, (unsigned char[]){0xff, 0x80, 0x01}, 3) == 0);
    vte_image_free(&im);

    uint16_t g16[1] = {0x1234};
    px = (vte_cv_pixels){1, 1, 1, 2, g16};
    cr_assert_eq(vte_image_from_cv(&px, "g16", &im, &err), VTE_OK);
    cr_assert(memcmp(im.rgb, (unsigned char[]){0x12, 0x12, 0x12}, 3) == 0);
    vte_image_free(&im);

    px = (vte_cv_pixels){1, 1, 5, 1, bgr};
    cr_assert_eq(vte_image_from_cv(&px, "five", &im, &err), VTE_ERR_UNSUPPORTED);
    px = (vte_cv_pixels){1, 1, 3, 4, bgr};
    cr_assert_eq(vte_image_from_cv(&px, "float", &im, &err), VTE_ERR_UNSUPPORTED);
}

/* ---------------------------------------------------------------- writing */

Test(image, write_and_read_back) {
    const char *dir = vte_test_temp_dir();
    char path[4200];
    vte_error err = {0};
    unsigned char rgba[3 * 2 * 4];
    for (int i = 0; i < (int)sizeof rgba; i++) rgba[i] = (unsigned char)(i * 37 + 5);

    static const int channels[3] = {1, 3, 4};
    for (int k = 0; k < 3; k++) {
        const int ch = channels[k];
        snprintf(path, sizeof path, "%s/w%d.png", dir, ch);
        cr_assert_eq(vte_cv_write(path, rgba, 3, 2, ch, &err), VTE_OK, "%s", err.message);
        vte_image im = load_ok(path);
        cr_assert(im.width == 3 && im.height == 2);
        for (int i = 0; i < 6; i++)
            for (int c = 0; c < 3; c++) {
                int want = rgba[i * ch + (ch == 1 ? 0 : c)];
                cr_assert_eq(im.rgb[i * 3 + c], want, "%d channels: pixel %d channel %d", ch, i, c);
            }
        vte_image_free(&im);
    }

    snprintf(path, sizeof path, "%s/w.unknown-extension", dir);
    vte_status st = vte_cv_write(path, rgba, 3, 2, 3, &err);
    cr_assert_neq(st, VTE_OK);
    cr_assert(strstr(err.message, path) != NULL, "%s", err.message);

    snprintf(path, sizeof path, "%s/no-such-dir/w.png", dir);
    cr_assert_neq(vte_cv_write(path, rgba, 3, 2, 3, &err), VTE_OK);
    cr_assert(strstr(err.message, path) != NULL, "%s", err.message);

    cr_assert_eq(vte_cv_write(path, rgba, 3, 2, 2, &err), VTE_ERR_INVALID_ARGUMENT);
}
