/* Which model a command uses, and which images the original project's job explains by default. A newcomer
 * without internet gets the model that ships with vitexplain (weights/fashion-vit: a small ViT trained on
 * Fashion-MNIST) and its sample images (images/fashion/), found in the current folder, beside the program
 * (build/vitexplain -> weights/) or where `cmake --install` put them (bin/vitexplain -> share/vitexplain/). */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/cli.h"

static int is_folder(const char *path) {
    struct stat info;
    return stat(path, &info) == 0 && S_ISDIR(info.st_mode);
}

/* `relative` in the current folder, else next to the program's folder (`up`: "../" for a build tree,
 * "../share/vitexplain/" for an installation). 0 when none holds it. */
static int find_shipped(const char *relative, const char *installed, char *out, size_t size) {
    if (is_folder(relative)) {
        snprintf(out, size, "%s", relative);
        return 1;
    }
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n <= 0) return 0;
    exe[n] = '\0';
    char *slash = strrchr(exe, '/');
    if (!slash) return 0;
    *slash = '\0';
    const char *candidates[2] = {relative, installed};
    for (int i = 0; i < 2; i++) {
        if ((size_t)snprintf(out, size, "%s/../%s", exe, candidates[i]) < size && is_folder(out)) return 1;
    }
    return 0;
}

void cli_model_choose(const char *option, cli_model_choice *choice) {
    memset(choice, 0, sizeof *choice);
    const char *env = getenv("VITEXPLAIN_MODEL");
    if (option) {
        snprintf(choice->spec, sizeof choice->spec, "%s", option);
        choice->origin = "--model";
    } else if (env && *env) {
        snprintf(choice->spec, sizeof choice->spec, "%s", env);
        choice->origin = "$VITEXPLAIN_MODEL";
    } else if (is_folder(DEFAULT_MODEL_DIR)) {
        snprintf(choice->spec, sizeof choice->spec, "%s", DEFAULT_MODEL_DIR);
        choice->origin = "default";
    } else if (find_shipped(BUNDLED_MODEL_DIR, "share/vitexplain/fashion-vit", choice->spec, sizeof choice->spec)) {
        choice->origin = "the model that ships with vitexplain: a small ViT trained on Fashion-MNIST";
        choice->bundled = 1;
    } else {
        /* Nothing anywhere: the load fails on the usual default and says how to fetch it. */
        snprintf(choice->spec, sizeof choice->spec, "%s", DEFAULT_MODEL_DIR);
        choice->origin = "default";
    }
}

const char *cli_model_dir(const char *option) {
    static cli_model_choice choice;
    cli_model_choose(option, &choice);
    return choice.spec;
}

vte_model *cli_model_load(vte_runtime *rt, const char *option, int quiet, cli_model_choice *choice) {
    cli_model_choose(option, choice);
    vte_error err = {0};
    vte_model *model = vte_model_load(rt, choice->spec, &err);
    if (!model) {
        cli_error("%s", err.message);
        return NULL;
    }
    if (!quiet) {
        const vte_model_config *c = vte_model_get_config(model);
        const char *dir = vte_model_dir(model);
        char where[4200] = "";
        if (strcmp(dir, choice->spec) != 0) snprintf(where, sizeof where, " in %s", dir);
        fprintf(stderr, "model: %s%s (%s): %d classes, %dx%d input\n", choice->spec, where, choice->origin,
                c->num_labels, c->image_width, c->image_height);
    }
    return model;
}

const char *cli_default_inputs(const cli_model_choice *choice) {
    static char found[PATH_MAX + 64];
    if (choice->bundled && find_shipped(BUNDLED_IMAGES_DIR, "share/vitexplain/fashion", found, sizeof found))
        return found;
    return "images";
}
