/* Pieces shared by the sub-commands: option values, file names, method names, image batches. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"

int cli_parse_int(const char *command, const char *option, const char *text, int min, int max, int *out) {
    char *end = NULL;
    errno = 0;
    long value = strtol(text, &end, 10);
    if (!*text || *end || errno || value < min || value > max) {
        cli_error("%s: %s needs an integer from %d to %d, got '%s'", command, option, min, max, text);
        return 0;
    }
    *out = (int)value;
    return 1;
}

int cli_parse_max_pixels(const char *command, const char *text, vte_image_load_options *options) {
    const long long most = 1ll << 40; /* far beyond any memory; only overflow is kept out */
    char *end = NULL;
    errno = 0;
    long long value = strtoll(text, &end, 10);
    if (!*text || *end || errno || value < 1 || value > most) {
        cli_error("%s: --max-pixels needs a number of pixels from 1 to %lld, got '%s'", command, most, text);
        return 0;
    }
    options->max_pixels = value;
    return 1;
}

int cli_parse_float(const char *command, const char *option, const char *text, double min, double max, double *out) {
    char *end = NULL;
    errno = 0;
    double value = strtod(text, &end);
    if (!*text || *end || errno || !(value >= min && value <= max)) {
        cli_error("%s: %s needs a number from %g to %g, got '%s'", command, option, min, max, text);
        return 0;
    }
    *out = value;
    return 1;
}

void cli_stem(const char *path, char *stem, size_t size) {
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    snprintf(stem, size, "%s", base);
    char *dot = strrchr(stem, '.');
    if (dot && dot != stem) *dot = '\0';
}

void cli_method_families(char *out, size_t size, const char *separator, const char *last_separator) {
    const char *families[VTE_METHOD_COUNT];
    int count = 0;
    for (int m = 0; m < VTE_METHOD_COUNT; m++) {
        const char *family = vte_method_info_of((vte_method)m)->family;
        int seen = 0;
        for (int i = 0; i < count; i++) seen |= strcmp(families[i], family) == 0;
        if (!seen) families[count++] = family;
    }
    size_t used = 0;
    out[0] = '\0';
    for (int i = 0; i < count && used < size; i++) {
        const char *before = i == 0 ? "" : i == count - 1 ? last_separator : separator;
        int n = snprintf(out + used, size - used, "%s%s", before, families[i]);
        if (n < 0) break;
        used += (size_t)n;
    }
}

int cli_batch_init(cli_batch *batch, const vte_model *model, int capacity, int keep_images,
                   const vte_image_load_options *load_options, int fast_decode) {
    memset(batch, 0, sizeof *batch);
    batch->capacity = capacity;
    if (load_options) batch->load_options = *load_options;
    if (fast_decode) {
        const vte_model_config *config = vte_model_get_config(model);
        batch->load_options.reduced_min_width = 2 * config->image_width;
        batch->load_options.reduced_min_height = 2 * config->image_height;
    }
    batch->pixels = malloc((size_t)capacity * vte_preprocess_size(vte_model_get_config(model)) * sizeof(float));
    batch->paths = calloc((size_t)capacity, sizeof *batch->paths);
    batch->positions = calloc((size_t)capacity, sizeof *batch->positions);
    if (keep_images) batch->images = calloc((size_t)capacity, sizeof *batch->images);
    if (!batch->pixels || !batch->paths || !batch->positions || (keep_images && !batch->images)) {
        cli_batch_free(batch);
        cli_error("out of memory");
        return 0;
    }
    return 1;
}

static void release_images(cli_batch *batch) {
    for (int i = 0; batch->images && i < batch->count; i++) vte_image_free(&batch->images[i]);
    batch->count = 0;
}

void cli_batch_free(cli_batch *batch) {
    release_images(batch);
    free(batch->pixels);
    free(batch->paths);
    free(batch->positions);
    free(batch->images);
    memset(batch, 0, sizeof *batch);
}

int cli_batch_load(cli_batch *batch, const vte_model *model, char **paths, size_t count, size_t *next,
                   cli_load_failure on_failure, void *context) {
    const vte_model_config *config = vte_model_get_config(model);
    const size_t image_floats = vte_preprocess_size(config);
    release_images(batch);
    while (batch->count < batch->capacity && *next < count) {
        const size_t position = (*next)++;
        const char *path = paths[position];
        vte_image image = {0};
        vte_error err = {0};
        float *pixels = batch->pixels + (size_t)batch->count * image_floats;
        if (vte_image_load_with_options(path, &batch->load_options, &image, &err) != VTE_OK) {
            on_failure(context, position, path, err.message); /* names the file */
            continue;
        }
        if (vte_preprocess(vte_model_get_preprocess(model), config, &image, pixels, &err) != VTE_OK) {
            char message[VTE_ERROR_MESSAGE_SIZE + 4200]; /* the library's message is about pixels, not the file */
            snprintf(message, sizeof message, "%s: %s", path, err.message);
            on_failure(context, position, path, message);
            vte_image_free(&image);
            continue;
        }
        if (batch->images) batch->images[batch->count] = image;
        else vte_image_free(&image);
        batch->positions[batch->count] = position;
        batch->paths[batch->count++] = path;
    }
    return batch->count;
}
