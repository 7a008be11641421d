/* Pieces shared by the sub-commands: option values, file names, image batches. */
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

int cli_load_batch(const vte_model *model, char **paths, int count, int *next, int capacity, float *pixels,
                   const char **good, int *failures) {
    const vte_model_config *config = vte_model_get_config(model);
    size_t image_floats = vte_preprocess_size(config);
    int filled = 0;
    while (filled < capacity && *next < count) {
        const char *path = paths[(*next)++];
        vte_image image = {0};
        vte_error err = {0};
        if (vte_image_load(path, &image, &err) != VTE_OK ||
            vte_preprocess(vte_model_get_preprocess(model), config, &image, pixels + (size_t)filled * image_floats,
                           &err) != VTE_OK) {
            cli_error("%s", err.message);
            (*failures)++;
        } else {
            good[filled++] = path;
        }
        vte_image_free(&image);
    }
    return filled;
}
