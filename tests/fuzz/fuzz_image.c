/* libFuzzer harness: image decoding as the tool does it. vte_image_load (file checks, the size from the header
 * against the default pixel limit, the truncated-JPEG check, OpenCV's decoders through src/image/imageio.cpp,
 * conversion to RGB), then the ViT preprocessing of the result; for a JPEG also vte_image_load_with_options as
 * `--fast-decode --max-pixels` use it (reduced-size decoding, a lower limit).
 * The codec libraries under OpenCV are not instrumented: coverage guides through our code only, and a fault
 * inside a codec shows as a crash without ASan's detail. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_common.h"
#include "image/header.h"
#include "image/preprocess.h"

static vte_model_config model;
static vte_preprocess_config pp_default, pp_crop;

static void fail(const char *what) {
    fprintf(stderr, "fuzz_image: %s\n", what);
    abort();
}

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc;
    (void)argv;
    vte_fuzz_setup("x.png"); /* the format comes from the bytes, not the name */
    /* The vit-tiny fixture's input: 32 x 32 RGB. */
    memset(&model, 0, sizeof model);
    model.image_height = model.image_width = 32;
    model.patch_size = 8;
    model.num_channels = 3;
    model.hidden_size = 48;
    model.num_layers = 2;
    model.num_heads = 3;
    model.intermediate_size = 80;
    model.num_labels = 10;
    model.grid_h = model.grid_w = 4;
    model.num_tokens = 17;
    /* ViTImageProcessor's defaults (bilinear resize), and a DeiT-like shortest-edge bicubic resize and center
     * crop. vte_preprocess_config_default is in src/model/config.h; these are spelled out to stay independent. */
    pp_default = (vte_preprocess_config){.do_resize = 1,
                                         .resize_height = 32,
                                         .resize_width = 32,
                                         .resample = VTE_RESAMPLE_BILINEAR,
                                         .do_rescale = 1,
                                         .rescale_factor = 1.0 / 255.0,
                                         .do_normalize = 1,
                                         .image_mean = {0.5f, 0.5f, 0.5f, 0.5f},
                                         .image_std = {0.5f, 0.5f, 0.5f, 0.5f}};
    pp_crop = pp_default;
    pp_crop.resize_shortest_edge = 37;
    pp_crop.resample = VTE_RESAMPLE_BICUBIC;
    pp_crop.do_center_crop = 1;
    pp_crop.crop_height = pp_crop.crop_width = 32;
    return 0;
}

/* What an accepted image must be: non-empty, within the limit, every byte readable; then preprocessed. */
static void check_image(const vte_image *image, long long limit) {
    if (image->width <= 0 || image->height <= 0 || !image->rgb) fail("an empty image was accepted");
    if ((long long)image->width * image->height > limit) fail("an image over the pixel limit was accepted");
    size_t bytes = (size_t)image->width * (size_t)image->height * 3;
    /* Every byte while the image is small, else the last: ASan catches a buffer shorter than announced. */
    vte_fuzz_touch(bytes <= (1u << 22) ? image->rgb : image->rgb + bytes - 1, bytes <= (1u << 22) ? bytes : 1);
    if (bytes > (3u << 22)) return; /* resizing tens of megapixels: seconds per input, nothing new */
    float pixels[3 * 32 * 32];
    const vte_preprocess_config *pps[] = {&pp_default, &pp_crop};
    for (int i = 0; i < 2; i++) {
        vte_error err = {0};
        /* Only the crop is resized (preprocess.c): a 327680 x 3 image to a shortest edge costs the crop's size. */
        vte_status s = vte_preprocess(pps[i], &model, image, pixels, &err);
        if (s != VTE_OK) vte_fuzz_check_failure(s, &err);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const char *path = vte_fuzz_write(data, size);
    vte_error err = {0};
    vte_image image;
    vte_status s = vte_image_load(path, &image, &err);
    if (s != VTE_OK) {
        vte_fuzz_check_failure(s, &err);
        if (image.rgb || image.width || image.height) fail("the image is not empty after a failure");
    } else {
        check_image(&image, VTE_IMAGE_DEFAULT_MAX_PIXELS);
        /* The pixel limit is checked on the header's size before decoding: a decoder that makes another size of
         * the same bytes would let a decompression bomb through (the check after decoding comes too late). */
        vte_image_header header;
        if (vte_image_header_read(data, size, path, &header, &err) != VTE_OK) fail("decoded, but no header");
        if (header.width != image.width || header.height != image.height) {
            fprintf(stderr, "fuzz_image: %s header states %lldx%lld, decoded %dx%d\n", header.format_name,
                    (long long)header.width, (long long)header.height, image.width, image.height);
            fail("the header's size is not the decoded size");
        }
        vte_image_free(&image);
    }

    if (size >= 3 && memcmp(data, "\xff\xd8\xff", 3) == 0) {
        const vte_image_load_options fast = {.max_pixels = 1 << 20, .reduced_min_width = 32, .reduced_min_height = 32};
        s = vte_image_load_with_options(path, &fast, &image, &err);
        if (s != VTE_OK) {
            vte_fuzz_check_failure(s, &err);
        } else {
            check_image(&image, fast.max_pixels);
            vte_image_free(&image);
        }
    }
    return 0;
}
