/* Image sizes read from file headers before decoding (src/image/header.c), the pixel limit and reduced-size
 * decoding of vte_image_load_with_options (issue "Hostile inputs": decompression bombs). The header reader is
 * checked against files OpenCV's own encoders write and against hand-made headers of the variants the encoders do
 * not produce; every cut-short header must be refused, never read as a wrong size. */
#include <criterion/criterion.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "image/header.h"
#include "image/imageio.h"
#include "test_support.h"

static unsigned char *read_all(const char *path, size_t *size) {
    FILE *f = fopen(path, "rb");
    cr_assert_not_null(f, "%s", path);
    fseek(f, 0, SEEK_END);
    const long length = ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *data = malloc((size_t)length + 1);
    cr_assert_eq(fread(data, 1, (size_t)length, f), (size_t)length);
    fclose(f);
    *size = (size_t)length;
    return data;
}

/* A width x height RGB test pattern written by OpenCV's encoder for `extension`; returns its path. */
static const char *encode(const char *extension, int width, int height) {
    unsigned char *rgb = malloc((size_t)width * (size_t)height * 3);
    for (int i = 0; i < width * height * 3; i++) rgb[i] = (unsigned char)(i * 7 % 251);
    static char path[4200];
    snprintf(path, sizeof path, "%s/pattern.%s", vte_test_temp_dir(), extension);
    vte_error err = {0};
    cr_assert_eq(vte_cv_write(path, rgb, width, height, 3, &err), VTE_OK, "%s", err.message);
    free(rgb);
    return path;
}

static void expect_size(const unsigned char *data, size_t size, const char *format, int64_t width, int64_t height) {
    vte_image_header header;
    vte_error err = {0};
    cr_assert_eq(vte_image_header_read(data, size, "x", &header, &err), VTE_OK, "%s: %s", format, err.message);
    cr_assert_str_eq(header.format_name, format);
    cr_assert(header.width == width && header.height == height, "%s: read %lldx%lld, want %lldx%lld", format,
              (long long)header.width, (long long)header.height, (long long)width, (long long)height);
}

/* Every prefix of the file is either refused as cut short or read as the right size: never a wrong size. */
static void expect_prefixes_safe(const unsigned char *data, size_t size, int64_t width, int64_t height) {
    const size_t most = size < 600 ? size : 600;
    for (size_t n = 0; n < most; n++) {
        vte_image_header header;
        vte_error err = {0};
        if (vte_image_header_read(data, n, "cut.bin", &header, &err) == VTE_OK)
            cr_assert(header.width == width && header.height == height, "%zu bytes: read %lldx%lld", n,
                      (long long)header.width, (long long)header.height);
        else
            cr_assert(strstr(err.message, "cut.bin: cannot decode image"), "%zu bytes: %s", n, err.message);
    }
}

Test(image_header, reads_the_size_of_what_opencv_writes) {
    static const struct {
        const char *extension, *format;
    } cases[] = {{"png", "PNG"},  {"jpg", "JPEG"}, {"bmp", "BMP"},        {"webp", "WebP"}, {"tiff", "TIFF"},
                 {"ppm", "PNM"},  {"pam", "PNM"},  {"ras", "Sun raster"}}; /* OpenCV 4.6 cannot write JPEG 2000 */
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const char *path = encode(cases[i].extension, 37, 23);
        size_t size;
        unsigned char *data = read_all(path, &size);
        expect_size(data, size, cases[i].format, 37, 23);
        expect_prefixes_safe(data, size, 37, 23);
        free(data);
        /* And the library decodes it at that size. */
        vte_image image;
        vte_error err = {0};
        cr_assert_eq(vte_image_load(path, &image, &err), VTE_OK, "%s: %s", path, err.message);
        cr_assert(image.width == 37 && image.height == 23, "%s: %dx%d", path, image.width, image.height);
        vte_image_free(&image);
    }
}

Test(image_header, reads_the_variants_encoders_do_not_write) {
    /* BMP with an OS/2 1.x header (16-bit sizes), and a top-down BMP (negative height). */
    unsigned char os2[26] = {'B', 'M', [14] = 12, [18] = 0x30, 0x75, 0x10, 0x27}; /* 30000 x 10000 */
    expect_size(os2, sizeof os2, "BMP", 30000, 10000);
    unsigned char top_down[26] = {'B', 'M', [14] = 40, [18] = 5, 0, 0, 0, 0xF9, 0xFF, 0xFF, 0xFF}; /* 5 x -7 */
    expect_size(top_down, sizeof top_down, "BMP", 5, 7);
    /* WebP lossless (VP8L: 14-bit width-1 and height-1) and extended (VP8X: 24-bit canvas size - 1). */
    const uint32_t bits = (uint32_t)(300 - 1) | ((uint32_t)(200 - 1) << 14);
    unsigned char vp8l[25] = {'R', 'I', 'F', 'F', 0, 0, 0, 0, 'W', 'E', 'B', 'P', 'V', 'P', '8', 'L', 0, 0, 0, 0,
                              0x2F, (unsigned char)bits, (unsigned char)(bits >> 8), (unsigned char)(bits >> 16),
                              (unsigned char)(bits >> 24)};
    expect_size(vp8l, sizeof vp8l, "WebP", 300, 200);
    unsigned char vp8x[30] = {'R', 'I', 'F', 'F', 0, 0, 0, 0, 'W', 'E', 'B', 'P', 'V', 'P', '8', 'X',
                              [24] = 0x2F, 0x75, 0x00, 0x0F, 0x27, 0x00}; /* 30000 x 10000 */
    expect_size(vp8x, sizeof vp8x, "WebP", 30000, 10000);
    /* Big-endian TIFF with LONG sizes, and a little-endian BigTIFF with LONG8 ones. */
    unsigned char mm[8 + 2 + 24] = {'M', 'M', 0, 42, 0, 0, 0, 8, 0, 2,
                                    1, 0, 0, 4, 0, 0, 0, 1, 0, 0, 0x75, 0x30,  /* ImageWidth 30000 */
                                    1, 1, 0, 4, 0, 0, 0, 1, 0, 1, 0x86, 0xA0}; /* ImageLength 100000 */
    expect_size(mm, sizeof mm, "TIFF", 30000, 100000);
    /* A second ImageWidth is ignored, as libtiff ignores it (a 1 x 12000 header that decodes to 12000 x 12000). */
    unsigned char twice[8 + 2 + 36] = {'I', 'I', 42, 0, 8, 0, 0, 0, 3, 0,
                                       0, 1, 4, 0, 1, 0, 0, 0, 0xE0, 0x2E, 0, 0, /* ImageWidth 12000 */
                                       0, 1, 3, 0, 1, 0, 0, 0, 1, 0, 0, 0,       /* ImageWidth 1 */
                                       1, 1, 4, 0, 1, 0, 0, 0, 0xE0, 0x2E, 0, 0}; /* ImageLength 12000 */
    expect_size(twice, sizeof twice, "TIFF", 12000, 12000);
    unsigned char big[16 + 8 + 40] = {'I', 'I', 43, 0, 8, 0, 0, 0, 16, [16] = 2,
                                      [24] = 0, 1, 16, 0, 1, [36] = 0x40, 0x9C,  /* ImageWidth 40000 */
                                      [44] = 1, 1, 16, 0, 1, [56] = 0x20, 0x4E}; /* ImageLength 20000 */
    expect_size(big, sizeof big, "TIFF", 40000, 20000);
    expect_prefixes_safe(big, sizeof big, 40000, 20000);
    /* Plain PNM with comments, PAM, PFM. */
    const char pgm[] = "P2\n# a comment 99 99\n 640 # more\n480\n255\n";
    expect_size((const unsigned char *)pgm, sizeof pgm - 1, "PNM", 640, 480);
    const char pam[] = "P7\nHEIGHT 20\nWIDTH 30\nDEPTH 3\nMAXVAL 255\nTUPLTYPE RGB\nENDHDR\n";
    expect_size((const unsigned char *)pam, sizeof pam - 1, "PNM", 30, 20);
    /* OpenCV's reader takes the byte after a number with it: a '#' right there starts no comment (found by
     * fuzz_image: read as 30000 x 1, this file decodes to 30000 x 30000). */
    const char hash[] = "P5 30000#30000\n1 255\n";
    expect_size((const unsigned char *)hash, sizeof hash - 1, "PNM", 30000, 30000);
    /* JP2: the signature box, a file type box, then the header super box holding the image header box. */
    unsigned char jp2[12 + 20 + 8 + 22] = {0, 0, 0, 12, 'j', 'P', ' ', ' ', 0x0d, 0x0a, 0x87, 0x0a,
                                           0, 0, 0, 20, 'f', 't', 'y', 'p', 'j', 'p', '2', ' ', [32] = 0, 0, 0, 30,
                                           'j', 'p', '2', 'h', 0, 0, 0, 22, 'i', 'h', 'd', 'r', 0, 0, 0x4E, 0x20,
                                           0, 0, 0x75, 0x30}; /* height 20000, width 30000 */
    expect_size(jp2, sizeof jp2, "JPEG 2000", 30000, 20000);
    expect_prefixes_safe(jp2, sizeof jp2, 30000, 20000);
    /* A raw JPEG 2000 codestream: SIZ's size less its offset. */
    unsigned char j2k[28] = {0xFF, 0x4F, 0xFF, 0x51, 0, 41, 0, 0, 0, 0, 0x75, 0x40, 0, 0, 0x27, 0x20,
                             0, 0, 0, 0x10, 0, 0, 0, 0x20}; /* 30016 - 16 by 10016 - 32 */
    expect_size(j2k, sizeof j2k, "JPEG 2000", 30000, 9984);
}

Test(image_header, refuses_what_it_cannot_size) {
    static const struct {
        const char *bytes;
        size_t size;
        const char *fragment;
    } cases[] = {
        {"GIF89a\x10\x00\x10\x00", 10, "its first bytes are none of PNG, JPEG"}, /* OpenCV 4.6 has no GIF reader */
        {"\x89PNG\r\n\x1a\n\0\0\0\x0dIHDR\0\0\0\0\0\0\0\x05", 24, "PNG header is cut short or states no size"},
        {"\xff\xd8\xff\xd9", 4, "JPEG header is cut short"}, /* end of image before any frame */
        {"\xff\xd8\xff\xe0\x00\x01", 6, "JPEG header is cut short"},                      /* a length below 2 */
        {"II*\0\x08\0\0\0\0\0", 10, "TIFF header is cut short"},                           /* no entries */
        {"P6\n-5 5\n255\n", 12, "PNM header is cut short"},
        {"P6\n99999999999999 5\n", 20, "PNM header is cut short"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        vte_image_header header;
        vte_error err = {0};
        cr_assert_eq(vte_image_header_read((const unsigned char *)cases[i].bytes, cases[i].size, "odd.img", &header,
                                           &err),
                     VTE_ERR_FORMAT, "case %zu", i);
        cr_assert(strstr(err.message, "odd.img: cannot decode image") && strstr(err.message, cases[i].fragment),
                  "case %zu: %s", i, err.message);
    }
    /* Float samples are refused before decoding: the library would refuse them after. */
    vte_image_header header;
    vte_error err = {0};
    cr_assert_eq(vte_image_header_read((const unsigned char *)"Pf\n12 34\n-1.0\n", 14, "f.pfm", &header, &err),
                 VTE_ERR_UNSUPPORTED);
    cr_assert(strstr(err.message, "f.pfm: a portable float map (PFM) holds 32-bit float samples"), "%s", err.message);
}

/* A PNG whose header claims 30000 x 30000 pixels followed by a few bytes of data: OpenCV would allocate 2.7 GB
 * for it. */
static const char *png_bomb(void) {
    unsigned char png[8 + 25 + 12 + 12] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n', 0, 0, 0, 13, 'I', 'H', 'D',
                                           'R', 0, 0, 0x75, 0x30, 0, 0, 0x75, 0x30, 8, 2};
    memcpy(png + 33, "\0\0\0\0IDAT\0\0\0\0\0\0\0\0IEND\0\0\0\0", 24);
    return vte_test_write_temp("bomb.png", png, sizeof png);
}

Test(image_header, an_image_above_the_pixel_limit_is_refused_before_decoding) {
    const char *path = png_bomb();
    vte_image image = {1, 1, NULL};
    vte_error err = {0};
    cr_assert_eq(vte_image_load(path, &image, &err), VTE_ERR_UNSUPPORTED, "%s", err.message);
    cr_assert(strstr(err.message, "the PNG header states 30000x30000 pixels, more than the limit of 67108864 pixels"),
              "%s", err.message);
    cr_assert(strstr(err.message, path), "%s", err.message);
    cr_assert(image.rgb == NULL && image.width == 0);

    /* A limit of one's own, both ways, on a real picture of 451 x 300 = 135300 pixels. */
    char chelsea[4200];
    snprintf(chelsea, sizeof chelsea, "%s/images/chelsea.png", VTE_SOURCE_DIR);
    vte_image_load_options options = {.max_pixels = 135299};
    cr_assert_eq(vte_image_load_with_options(chelsea, &options, &image, &err), VTE_ERR_UNSUPPORTED);
    cr_assert(strstr(err.message, "451x300 pixels, more than the limit of 135299 pixels"), "%s", err.message);
    options.max_pixels = 135300;
    cr_assert_eq(vte_image_load_with_options(chelsea, &options, &image, &err), VTE_OK, "%s", err.message);
    cr_assert(image.width == 451 && image.height == 300);
    vte_image_free(&image);
}

Test(image_header, a_large_jpeg_can_be_decoded_at_a_reduced_size) {
    const char *path = encode("jpg", 1000, 800);
    vte_image image;
    vte_error err = {0};
    /* 1/4 keeps 250 x 200 >= 200 x 200; 1/8 (125 x 100) would not. */
    vte_image_load_options options = {.max_pixels = 60000, .reduced_min_width = 200, .reduced_min_height = 200};
    cr_assert_eq(vte_image_load_with_options(path, &options, &image, &err), VTE_OK, "%s", err.message);
    cr_assert(image.width == 250 && image.height == 200, "%dx%d", image.width, image.height);
    vte_image_free(&image);
    /* The limit counts the reduced size: at full size the same limit refuses it. */
    options.reduced_min_width = options.reduced_min_height = 0;
    cr_assert_eq(vte_image_load_with_options(path, &options, &image, &err), VTE_ERR_UNSUPPORTED);
    /* Other formats are decoded at full size whatever the options. */
    const char *png = encode("png", 1000, 800);
    options = (vte_image_load_options){.reduced_min_width = 200, .reduced_min_height = 200};
    cr_assert_eq(vte_image_load_with_options(png, &options, &image, &err), VTE_OK, "%s", err.message);
    cr_assert(image.width == 1000 && image.height == 800);
    vte_image_free(&image);
}
