/* libFuzzer harness: a model's config.json as the model loader reads it (vte_config_load, src/model/model.c),
 * with and without its labels, and the preprocessing defaults derived from the result. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_common.h"
#include "model/config.h"

static void fail(const char *what) {
    fprintf(stderr, "fuzz_config: %s\n", what);
    abort();
}

/* What config.h promises of a config it accepted. */
static void check_config(const vte_model_config *c) {
    if (c->image_height <= 0 || c->image_width <= 0 || c->patch_size <= 0 || c->hidden_size <= 0 ||
        c->num_layers <= 0 || c->num_heads <= 0 || c->intermediate_size <= 0 || c->num_labels <= 0)
        fail("a size is not positive");
    if (c->num_channels < 1 || c->num_channels > 4) fail("num_channels out of 1..4");
    if (c->image_height % c->patch_size || c->image_width % c->patch_size) fail("image not divisible by patch");
    if (c->hidden_size % c->num_heads) fail("hidden_size not divisible by the heads");
    if (c->grid_h != c->image_height / c->patch_size || c->grid_w != c->image_width / c->patch_size)
        fail("patch grid inconsistent with the sizes");
    if ((long long)c->num_tokens != 1 + (long long)c->grid_h * c->grid_w) fail("num_tokens is not 1 + grid");
}

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc;
    (void)argv;
    vte_fuzz_setup("config.json");
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const char *path = vte_fuzz_write(data, size);
    vte_error err = {0};
    vte_model_config config;
    memset(&config, 0, sizeof config);
    char **labels = (char **)&labels; /* must become NULL on failure */
    vte_status s = vte_config_load(path, &config, &labels, &err);
    if (s != VTE_OK) {
        vte_fuzz_check_failure(s, &err);
        if (labels) fail("labels not set to NULL on failure");
    } else {
        check_config(&config);
        if (!labels) fail("no labels on success");
        for (int i = 0; i < config.num_labels; i++) {
            if (!labels[i]) fail("a NULL label");
            vte_fuzz_touch(labels[i], strlen(labels[i]));
        }
        vte_labels_free(labels, config.num_labels);
        vte_preprocess_config pp;
        vte_preprocess_config_default(&config, &pp);
        if (pp.resize_height != config.image_height || pp.resize_width != config.image_width)
            fail("default preprocessing does not resize to the model's size");
    }

    /* Without labels: the same verdict and the same config. */
    vte_model_config again;
    memset(&again, 0, sizeof again);
    vte_error err2 = {0};
    vte_status s2 = vte_config_load(path, &again, NULL, &err2);
    if (s2 != s) fail("the verdict depends on whether labels are asked for");
    if (s2 != VTE_OK)
        vte_fuzz_check_failure(s2, &err2);
    else if (memcmp(&again, &config, sizeof config) != 0)
        fail("the config depends on whether labels are asked for");
    return 0;
}
