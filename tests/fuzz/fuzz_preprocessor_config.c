/* libFuzzer harness: preprocessor_config.json as the model loader reads it (vte_preprocess_config_load over the
 * model's config, src/model/model.c), then the preprocessing it sets up, on a small image. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_common.h"
#include "image/preprocess.h"
#include "model/config.h"

/* Model configs the input is parsed against, filled by hand (no file needed at run time): the vit-tiny fixture's
 * (tests/fixtures/models/vit-tiny), a 224 x 224 one like google/vit-base-patch16-224, the non-square vit-odd
 * fixture's, and a four-channel one (image_mean / image_std of 4 values; preprocessing supports only 3). */
static vte_model_config models[4];

static void model_init(vte_model_config *c, int h, int w, int patch, int channels) {
    memset(c, 0, sizeof *c);
    c->image_height = h;
    c->image_width = w;
    c->patch_size = patch;
    c->num_channels = channels;
    c->hidden_size = 48;
    c->num_layers = 2;
    c->num_heads = 3;
    c->intermediate_size = 80;
    c->num_labels = 10;
    c->qkv_bias = 1;
    c->layer_norm_eps = 1e-12f;
    c->grid_h = h / patch;
    c->grid_w = w / patch;
    c->num_tokens = 1 + c->grid_h * c->grid_w;
}

/* A small deterministic RGB image (odd sizes, so that every resize path has work). */
enum { IMAGE_W = 13, IMAGE_H = 7 };
static unsigned char image_rgb[IMAGE_W * IMAGE_H * 3];

static void fail(const char *what) {
    fprintf(stderr, "fuzz_preprocessor_config: %s\n", what);
    abort();
}

static void run_preprocess(const vte_preprocess_config *pp, const vte_model_config *config) {
    const int sizes[][2] = {{IMAGE_W, IMAGE_H}, {1, 1}, {config->image_width, config->image_height}, {4000, 3}};
    vte_preprocess_geometry g;
    vte_error err = {0};
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        vte_status s = vte_preprocess_geometry_compute(pp, sizes[i][0], sizes[i][1], &g, &err);
        if (s != VTE_OK) vte_fuzz_check_failure(s, &err);
    }
    if (config->num_channels != 3) return;
    vte_status s = vte_preprocess_geometry_compute(pp, IMAGE_W, IMAGE_H, &g, &err);
    if (s != VTE_OK) return;
    /* A valid config may resize to 8192 pixels a side (config.c's limit): real, but seconds per input here. */
    if ((long long)g.resize_w * g.resize_h > (1LL << 20)) return;
    size_t n = vte_preprocess_size(config);
    float *pixels = malloc(n * sizeof *pixels);
    if (!pixels) abort();
    vte_image image = {IMAGE_W, IMAGE_H, image_rgb};
    s = vte_preprocess(pp, config, &image, pixels, &err);
    if (s == VTE_OK) {
        for (size_t i = 0; i < n; i++)
            if (!isfinite(pixels[i])) fail("an accepted config gives a non-finite pixel");
    } else {
        vte_fuzz_check_failure(s, &err);
    }
    free(pixels);
}

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc;
    (void)argv;
    vte_fuzz_setup("preprocessor_config.json");
    model_init(&models[0], 32, 32, 8, 3);
    model_init(&models[1], 224, 224, 16, 3);
    model_init(&models[2], 36, 60, 12, 3);
    model_init(&models[3], 24, 24, 12, 4);
    for (size_t i = 0; i < sizeof image_rgb; i++) image_rgb[i] = (unsigned char)(i * 37u + (i / 3) * 11u);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const char *path = vte_fuzz_write(data, size);
    for (size_t m = 0; m < sizeof models / sizeof models[0]; m++) {
        vte_error err = {0};
        vte_preprocess_config pp, before;
        memset(&pp, 0xA5, sizeof pp);
        before = pp;
        vte_status s = vte_preprocess_config_load(path, &models[m], &pp, &err);
        if (s != VTE_OK) {
            vte_fuzz_check_failure(s, &err);
            if (memcmp(&pp, &before, sizeof pp) != 0) fail("the config was changed by a failed load");
            continue;
        }
        run_preprocess(&pp, &models[m]);
    }
    return 0;
}
