/* vitexplain explain: grid maps of the explanation methods as .npy files. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cli/cli.h"
#include "util/npy.h"

static void print_help(void) {
    printf(
        "Usage: vitexplain explain --method METHOD [OPTIONS] IMAGE...\n"
        "\n"
        "Explains what the model looks at in each image, for its top class (or the classes asked for), and\n"
        "writes each map as a NumPy file (float32, shape [grid_h, grid_w], min-max normalised to [0, 1]):\n"
        "  OUT/<method>/<stem>_<method>.npy, GMAR: OUT/gmar/l1_<stem>_gmar.npy and OUT/gmar/l2_<stem>_gmar.npy;\n"
        "  with --topk or --class the stem becomes <stem>_c<ID> (e.g. results/rollout/cat_c285_rollout.npy).\n"
        "\n"
        "  --method M       rollout, gmar, legrad, chefer or all; repeat or separate with commas\n"
        "  --norm N         GMAR head weights: l1, l2 or both (default both)\n"
        "  --class C        explain class C (an id or a label of the model, any case) instead of the top class;\n"
        "                   repeat for several classes\n"
        "  --topk K         explain each of the top K classes\n"
        "  --out DIR        output folder (default results)\n"
        "  --model DIR      Hugging Face ViTForImageClassification folder (default $VITEXPLAIN_MODEL, else\n"
        "                   %s)\n"
        "  --batch N        images per pass on the device (default 8)\n"
        "  --device SPEC    OpenCL device (see `vitexplain devices`)\n"
        "Method options:\n"
        "  --head-fusion F  rollout: fuse heads by mean (default), max or min\n"
        "  --discard-ratio R  rollout: zero the lowest fraction R of each fused attention matrix, never the\n"
        "                   CLS->CLS entry (default 0)\n"
        "  --legrad-layers K  LeGrad over the last K layers only (default: all)\n"
        "  --compat seed    use the formulas of the original PyTorch project (its LeGrad variant, GMAR head\n"
        "                   mean, rollout product order) to compare with its results\n"
        "\n"
        "Methods: rollout = attention rollout (Abnar & Zuidema 2020); gmar = gradient-weighted multi-head\n"
        "attention rollout (Jo et al. 2025); legrad = LeGrad (Bousselham et al. 2024) with the model's own\n"
        "readout at every layer; chefer = gradient-weighted rollout (Chefer et al. 2021).\n"
        "\n"
        "An image that cannot be read is reported on stderr and skipped.\n"
        "Exit status: 0 all images explained; 1 some images failed; 2 usage error; 3 set-up error.\n",
        DEFAULT_MODEL_DIR);
}

#define MAX_CLASSES 64

typedef struct explain_options {
    const char *model_dir, *device, *out_dir;
    int batch, topk;
    const char *class_args[MAX_CLASSES];
    int class_count;
    vte_explain_options methods;
    char **images;
    int image_count;
} explain_options;

static int add_methods(const char *list, vte_explain_options *o, int *gmar_asked) {
    char copy[256];
    snprintf(copy, sizeof copy, "%s", list);
    for (char *save = NULL, *name = strtok_r(copy, ",", &save); name; name = strtok_r(NULL, ",", &save)) {
        if (strcasecmp(name, "rollout") == 0) o->methods |= VTE_METHOD_BIT(VTE_METHOD_ROLLOUT);
        else if (strcasecmp(name, "legrad") == 0) o->methods |= VTE_METHOD_BIT(VTE_METHOD_LEGRAD);
        else if (strcasecmp(name, "chefer") == 0) o->methods |= VTE_METHOD_BIT(VTE_METHOD_CHEFER);
        else if (strcasecmp(name, "gmar") == 0) *gmar_asked = 1;
        else if (strcasecmp(name, "all") == 0) {
            o->methods |= VTE_METHOD_BIT(VTE_METHOD_ROLLOUT) | VTE_METHOD_BIT(VTE_METHOD_LEGRAD) |
                          VTE_METHOD_BIT(VTE_METHOD_CHEFER);
            *gmar_asked = 1;
        } else {
            cli_error("explain: unknown method '%s' (rollout, gmar, legrad, chefer or all)", name);
            return 0;
        }
    }
    return 1;
}

/* Returns -1 to continue, else an exit status. */
static int parse_options(int argc, char **argv, explain_options *o) {
    o->batch = 8;
    o->out_dir = "results";
    vte_explain_options_default(&o->methods);
    o->images = calloc((size_t)argc, sizeof *o->images);
    if (!o->images) return EXIT_SETUP;
    int gmar_asked = 0, norms = 3, method_given = 0;
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i];
        if (strcmp(arg, "-h") == 0 || strcmp(arg, "--help") == 0) {
            print_help();
            return EXIT_OK;
        }
        static const char *const with_value[] = {"--method", "--norm", "--class", "--topk", "--out", "--model",
                                                 "--batch", "--device", "--head-fusion", "--discard-ratio",
                                                 "--legrad-layers", "--compat"};
        int takes_value = 0;
        for (size_t k = 0; k < sizeof with_value / sizeof with_value[0]; k++) takes_value |= strcmp(arg, with_value[k]) == 0;
        if (!takes_value) {
            if (arg[0] == '-' && arg[1] != '\0') {
                cli_error("explain: unknown option '%s' (see `vitexplain explain --help`)", arg);
                return EXIT_USAGE;
            }
            o->images[o->image_count++] = argv[i];
            continue;
        }
        if (i + 1 >= argc) {
            cli_error("explain: %s needs a value", arg);
            return EXIT_USAGE;
        }
        const char *value = argv[++i];
        double ratio = 0;
        if (strcmp(arg, "--method") == 0) {
            method_given = 1;
            if (!add_methods(value, &o->methods, &gmar_asked)) return EXIT_USAGE;
        } else if (strcmp(arg, "--norm") == 0) {
            if (strcasecmp(value, "l1") == 0) norms = 1;
            else if (strcasecmp(value, "l2") == 0) norms = 2;
            else if (strcasecmp(value, "both") == 0) norms = 3;
            else {
                cli_error("explain: --norm takes l1, l2 or both, got '%s'", value);
                return EXIT_USAGE;
            }
        } else if (strcmp(arg, "--class") == 0) {
            if (o->class_count == MAX_CLASSES) {
                cli_error("explain: at most %d --class options", MAX_CLASSES);
                return EXIT_USAGE;
            }
            o->class_args[o->class_count++] = value;
        } else if (strcmp(arg, "--topk") == 0) {
            if (!cli_parse_int("explain", arg, value, 1, 100000, &o->topk)) return EXIT_USAGE;
        } else if (strcmp(arg, "--out") == 0) {
            o->out_dir = value;
        } else if (strcmp(arg, "--model") == 0) {
            o->model_dir = value;
        } else if (strcmp(arg, "--batch") == 0) {
            if (!cli_parse_int("explain", arg, value, 1, 4096, &o->batch)) return EXIT_USAGE;
        } else if (strcmp(arg, "--device") == 0) {
            o->device = value;
        } else if (strcmp(arg, "--head-fusion") == 0) {
            if (strcasecmp(value, "mean") == 0) o->methods.rollout_fusion = VTE_FUSION_MEAN;
            else if (strcasecmp(value, "max") == 0) o->methods.rollout_fusion = VTE_FUSION_MAX;
            else if (strcasecmp(value, "min") == 0) o->methods.rollout_fusion = VTE_FUSION_MIN;
            else {
                cli_error("explain: --head-fusion takes mean, max or min, got '%s'", value);
                return EXIT_USAGE;
            }
        } else if (strcmp(arg, "--discard-ratio") == 0) {
            if (!cli_parse_float("explain", arg, value, 0.0, 0.999, &ratio)) return EXIT_USAGE;
            o->methods.discard_ratio = (float)ratio;
        } else if (strcmp(arg, "--legrad-layers") == 0) {
            if (!cli_parse_int("explain", arg, value, 1, 100000, &o->methods.legrad_layers)) return EXIT_USAGE;
        } else if (strcmp(arg, "--compat") == 0) {
            if (strcasecmp(value, "seed") != 0) {
                cli_error("explain: --compat takes 'seed', got '%s'", value);
                return EXIT_USAGE;
            }
            o->methods.compat_seed = 1;
        }
    }
    if (gmar_asked) {
        if (norms & 1) o->methods.methods |= VTE_METHOD_BIT(VTE_METHOD_GMAR_L1);
        if (norms & 2) o->methods.methods |= VTE_METHOD_BIT(VTE_METHOD_GMAR_L2);
    }
    if (!method_given) {
        cli_error("explain: no --method given (rollout, gmar, legrad, chefer or all)");
        return EXIT_USAGE;
    }
    if (o->topk && o->class_count) {
        cli_error("explain: --topk and --class exclude each other");
        return EXIT_USAGE;
    }
    if (o->image_count == 0) {
        cli_error("explain: no IMAGE given (see `vitexplain explain --help`)");
        return EXIT_USAGE;
    }
    return -1;
}

/* Resolves --class values (ids or labels); returns 0 after reporting an unknown one. */
static int resolve_classes(const vte_model *model, const explain_options *o, int *ids) {
    int labels = vte_model_get_config(model)->num_labels;
    for (int i = 0; i < o->class_count; i++) {
        const char *text = o->class_args[i];
        int id = vte_model_find_label(model, text);
        char *end = NULL;
        long number = strtol(text, &end, 10);
        if (id < 0 && *text && !*end && number >= 0 && number < labels) id = (int)number;
        if (id < 0) {
            cli_error("explain: unknown class '%s': neither an id from 0 to %d nor a label of the model", text,
                      labels - 1);
            return 0;
        }
        ids[i] = id;
    }
    return 1;
}

/* OUT/<folder>/<prefix><stem>[_c<ID>]_<name>.npy */
static void output_path(const explain_options *o, vte_method m, const char *stem, int class_id, char *path,
                        size_t size) {
    const char *folder = m == VTE_METHOD_GMAR_L1 || m == VTE_METHOD_GMAR_L2 ? "gmar" : vte_method_name(m);
    const char *prefix = m == VTE_METHOD_GMAR_L1 ? "l1_" : m == VTE_METHOD_GMAR_L2 ? "l2_" : "";
    char suffix[32] = "";
    if (class_id >= 0) snprintf(suffix, sizeof suffix, "_c%d", class_id);
    snprintf(path, size, "%s/%s/%s%s%s_%s.npy", o->out_dir, folder, prefix, stem, suffix, folder);
}

/* Creates every output folder up front, so an unwritable --out fails before any work. */
static int prepare_output(const explain_options *o) {
    for (int m = 0; m < VTE_METHOD_COUNT; m++) {
        if (!(o->methods.methods & VTE_METHOD_BIT(m))) continue;
        char path[4096];
        output_path(o, (vte_method)m, "x", -1, path, sizeof path);
        *strrchr(path, '/') = '\0';
        if (cli_make_dirs(path) != 0) {
            cli_error("explain: cannot create output folder %s: %s", path, strerror(errno));
            return 0;
        }
    }
    return 1;
}

static const char *method_title(vte_method m) {
    switch (m) {
    case VTE_METHOD_ROLLOUT: return "rollout";
    case VTE_METHOD_GMAR_L1: return "gmar l1";
    case VTE_METHOD_GMAR_L2: return "gmar l2";
    case VTE_METHOD_LEGRAD: return "legrad";
    case VTE_METHOD_CHEFER: return "chefer";
    default: return "?";
    }
}

/* Writes and reports the maps of one image; returns the number of files that could not be written. */
static int write_image(const explain_options *o, const vte_model *model, const vte_explanation *e, int image,
                       const char *path) {
    const vte_model_config *c = vte_model_get_config(model);
    char stem[1024];
    cli_stem(path, stem, sizeof stem);
    int failures = 0, targets = vte_explanation_target_count(e);
    int suffixed = o->topk > 0 || o->class_count > 0;
    printf("%s\n", path);
    for (int t = 0; t < targets; t++) {
        vte_prediction p = vte_explanation_target(e, image, t);
        printf("  class %d: %s (logit %.4f, prob %.4f)\n", p.class_id, vte_model_label(model, p.class_id),
               (double)p.logit, (double)p.prob);
        for (int m = 0; m < VTE_METHOD_COUNT; m++) {
            const float *map = vte_explanation_map(e, image, t, (vte_method)m);
            if (!map) continue;
            char file[4096];
            output_path(o, (vte_method)m, stem, suffixed ? p.class_id : -1, file, sizeof file);
            int64_t shape[2] = {c->grid_h, c->grid_w};
            vte_error err = {0};
            if (vte_npy_write_f32(file, map, 2, shape, &err) != VTE_OK) {
                cli_error("%s", err.message);
                failures++;
                continue;
            }
            printf("    %-8s %s\n", method_title((vte_method)m), file);
        }
    }
    return failures;
}

int cli_explain(int argc, char **argv) {
    explain_options o = {0};
    int exit_status = parse_options(argc, argv, &o);
    if (exit_status >= 0) {
        free(o.images);
        return exit_status;
    }
    exit_status = EXIT_OK;
    vte_error err = {0};
    vte_runtime_params params = {.device = o.device};
    vte_runtime *rt = NULL;
    vte_model *model = NULL;
    vte_session *session = NULL;
    float *pixels = NULL;
    int *classes = NULL, class_ids[MAX_CLASSES];
    const char **batch_paths = NULL;
    if (!prepare_output(&o)) {
        exit_status = EXIT_SETUP;
        goto done;
    }
    if (!(rt = vte_runtime_init(&params, &err)) || !(model = vte_model_load(rt, cli_model_dir(o.model_dir), &err))) {
        cli_error("%s", err.message);
        exit_status = EXIT_SETUP;
        goto done;
    }
    const vte_model_config *config = vte_model_get_config(model);
    if (!resolve_classes(model, &o, class_ids)) {
        exit_status = EXIT_USAGE;
        goto done;
    }
    int targets = o.class_count ? o.class_count : o.topk ? o.topk : 1;
    if (targets > config->num_labels) {
        cli_error("explain: --topk %d, but the model has %d classes", targets, config->num_labels);
        exit_status = EXIT_USAGE;
        goto done;
    }
    int batch = o.batch < o.image_count ? o.batch : o.image_count;
    if (!(session = vte_session_init(model, batch, &err))) {
        cli_error("%s", err.message);
        exit_status = EXIT_SETUP;
        goto done;
    }
    pixels = malloc((size_t)batch * vte_preprocess_size(config) * sizeof *pixels);
    classes = malloc((size_t)batch * targets * sizeof *classes);
    batch_paths = malloc((size_t)batch * sizeof *batch_paths);
    if (!pixels || !classes || !batch_paths) {
        cli_error("out of memory");
        exit_status = EXIT_SETUP;
        goto done;
    }
    int next = 0, failures = 0;
    while (next < o.image_count) {
        int filled = cli_load_batch(model, o.images, o.image_count, &next, batch, pixels, batch_paths, &failures);
        if (filled == 0) continue;
        for (int i = 0; i < filled; i++)
            for (int t = 0; t < o.class_count; t++) classes[i * targets + t] = class_ids[t];
        vte_explanation *e =
            vte_session_explain(session, pixels, filled, o.class_count ? classes : NULL, targets, &o.methods, &err);
        if (!e) {
            cli_error("%s", err.message);
            exit_status = EXIT_SETUP;
            goto done;
        }
        for (int i = 0; i < filled; i++) failures += write_image(&o, model, e, i, batch_paths[i]);
        vte_stage_times times = vte_explanation_times(e);
        printf("batch of %d image%s: forward %.1f ms, backward %.1f ms, explanation %.1f ms\n", filled,
               filled == 1 ? "" : "s", times.forward_ms, times.backward_ms, times.explain_ms);
        fflush(stdout);
        vte_explanation_free(e);
    }
    if (failures) exit_status = EXIT_SOME_FAILED;
done:
    free(batch_paths);
    free(classes);
    free(pixels);
    vte_session_free(session);
    vte_model_free(model);
    vte_runtime_free(rt);
    free(o.images);
    return exit_status;
}
