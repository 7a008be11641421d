/* vitexplain explain: heat-map overlays (and optionally the raw grid maps) of the explanation methods for
 * image files and folders, in batches on the device, with progress and an optional summary file. The
 * seed's interactive mode (interactive.c) runs the same job. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/inputs.h"
#include "cli/progress.h"
#include "cli/summary.h"
#include "render/render.h"
#include "util/npy.h"

static void print_help(void) {
    printf(
        "Usage: vitexplain explain --method METHOD [OPTIONS] INPUT...\n"
        "\n"
        "Explains what the model looks at in each image (an INPUT is an image file or a folder of .jpg, .jpeg\n"
        "and .png files) for its top class, or the classes asked for, and saves heat-map overlays on the\n"
        "original image, titled with the method, the class and its probability:\n"
        "  OUT/<method>/<stem>_<method>.png; GMAR: OUT/gmar/l1_<stem>_gmar.png and OUT/gmar/l2_<stem>_gmar.png;\n"
        "  with --topk or --class the stem becomes <stem>_c<ID> (e.g. results/rollout/cat_c285_rollout.png).\n"
        "\n"
        "  --method M         rollout, gmar, legrad, chefer or all; repeat or separate with commas\n"
        "  --norm N           GMAR head weights: l1, l2 or both (default both)\n"
        "  --class C          explain class C (an id or a label of the model, any case) instead of the top\n"
        "                     class; repeat for several classes\n"
        "  --topk K           explain each of the top K classes\n"
        "  --out DIR          output folder (default results)\n"
        "  --alpha A          heat-map opacity over the image, 0 to 1 (default 0.5)\n"
        "  --grid             also save OUT/grid/<stem>_grid.png: the original and every method side by side,\n"
        "                     with a colour bar and the top classes\n"
        "  --save-raw         also save each map as NumPy .npy (float32 [grid_h, grid_w], min-max\n"
        "                     normalised to [0, 1]) next to its picture\n"
        "  --no-pictures      save no pictures (use with --save-raw or --summary)\n"
        "  --recursive        descend into sub-folders of folder inputs\n"
        "  --batch N          images per pass on the device (default 8)\n"
        "  --summary FILE     write FILE (.json or .csv): per image the top classes with probabilities, the\n"
        "                     files written and the time of each stage, or why it failed\n"
        "  --quiet            print nothing but errors\n"
        "  --model DIR        Hugging Face ViTForImageClassification folder (default $VITEXPLAIN_MODEL, else\n"
        "                     %s)\n"
        "  --device SPEC      OpenCL device (see `vitexplain devices`)\n"
        "Method options:\n"
        "  --head-fusion F    rollout: fuse heads by mean (default), max or min\n"
        "  --discard-ratio R  rollout: zero the lowest fraction R of each fused attention matrix, never the\n"
        "                     CLS->CLS entry (default 0)\n"
        "  --legrad-layers K  LeGrad over the last K layers only (default: all)\n"
        "  --compat seed      the formulas of the original PyTorch project (its LeGrad variant, GMAR head\n"
        "                     mean, rollout product order), to compare with its results\n"
        "\n"
        "Methods: rollout = attention rollout (Abnar & Zuidema 2020); gmar = gradient-weighted multi-head\n"
        "attention rollout (Jo et al. 2025); legrad = LeGrad (Bousselham et al. 2024) with the model's own\n"
        "readout at every layer; chefer = gradient-weighted rollout (Chefer et al. 2021).\n"
        "\n"
        "Pictures are written to a temporary name and renamed, so an interrupted run leaves no partial file.\n"
        "An image that cannot be read is reported with its reason and skipped; the run goes on.\n"
        "Progress goes to stderr: a bar on a terminal, plain lines otherwise.\n"
        "Ctrl-C finishes the batch in hand, writes its pictures and the summary, and stops (a second Ctrl-C\n"
        "stops at once).\n"
        "Exit status: 0 all images explained; 1 some images failed (the others were done); 2 usage error;\n"
        "3 set-up error (no device, unreadable model, output folder not writable); 130 interrupted.\n",
        DEFAULT_MODEL_DIR);
}

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

void cli_explain_job_default(cli_explain_job *job) {
    memset(job, 0, sizeof *job);
    job->batch = 8;
    job->out_dir = "results";
    job->alpha = 0.5f;
    job->pictures = 1;
    vte_explain_options_default(&job->methods);
}

int cli_explain_set_methods(cli_explain_job *job, const char *list, int norms) {
    int gmar = 0;
    if (!add_methods(list, &job->methods, &gmar)) return 0;
    if (gmar) {
        if (norms & 1) job->methods.methods |= VTE_METHOD_BIT(VTE_METHOD_GMAR_L1);
        if (norms & 2) job->methods.methods |= VTE_METHOD_BIT(VTE_METHOD_GMAR_L2);
    }
    return 1;
}

/* Returns -1 to continue, else an exit status. */
static int parse_options(int argc, char **argv, cli_explain_job *job, char ***inputs, int *input_count,
                         int seed_defaults) {
    *inputs = calloc((size_t)argc, sizeof **inputs);
    if (!*inputs) return EXIT_SETUP;
    int norms = 3, method_given = 0;
    char methods[512] = "";
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i];
        if (strcmp(arg, "-h") == 0 || strcmp(arg, "--help") == 0) {
            print_help();
            return EXIT_OK;
        }
        if (strcmp(arg, "--grid") == 0) job->grid = 1;
        else if (strcmp(arg, "--save-raw") == 0) job->save_raw = 1;
        else if (strcmp(arg, "--no-pictures") == 0) job->pictures = 0;
        else if (strcmp(arg, "--recursive") == 0) job->recursive = 1;
        else if (strcmp(arg, "--quiet") == 0) job->quiet = 1;
        else if (arg[0] != '-' || arg[1] == '\0') (*inputs)[(*input_count)++] = argv[i];
        else {
            static const char *const with_value[] = {"--method", "--norm", "--class", "--topk", "--out", "--model",
                                                     "--batch", "--device", "--head-fusion", "--discard-ratio",
                                                     "--legrad-layers", "--compat", "--alpha", "--summary"};
            int known = 0;
            for (size_t k = 0; k < sizeof with_value / sizeof with_value[0]; k++) known |= strcmp(arg, with_value[k]) == 0;
            if (!known) {
                cli_error("explain: unknown option '%s' (see `vitexplain explain --help`)", arg);
                return EXIT_USAGE;
            }
            if (i + 1 >= argc) {
                cli_error("explain: %s needs a value", arg);
                return EXIT_USAGE;
            }
            const char *value = argv[++i];
            double number = 0;
            if (strcmp(arg, "--method") == 0) {
                method_given = 1;
                if (strlen(methods) + strlen(value) + 2 >= sizeof methods) {
                    cli_error("explain: too many --method values");
                    return EXIT_USAGE;
                }
                if (methods[0]) strcat(methods, ",");
                strcat(methods, value);
            } else if (strcmp(arg, "--norm") == 0) {
                if (strcasecmp(value, "l1") == 0) norms = 1;
                else if (strcasecmp(value, "l2") == 0) norms = 2;
                else if (strcasecmp(value, "both") == 0) norms = 3;
                else {
                    cli_error("explain: --norm takes l1, l2 or both, got '%s'", value);
                    return EXIT_USAGE;
                }
            } else if (strcmp(arg, "--class") == 0) {
                if (job->class_count == CLI_MAX_CLASSES) {
                    cli_error("explain: at most %d --class options", CLI_MAX_CLASSES);
                    return EXIT_USAGE;
                }
                job->class_args[job->class_count++] = value;
            } else if (strcmp(arg, "--topk") == 0) {
                if (!cli_parse_int("explain", arg, value, 1, 100000, &job->topk)) return EXIT_USAGE;
            } else if (strcmp(arg, "--out") == 0) {
                job->out_dir = value;
            } else if (strcmp(arg, "--model") == 0) {
                job->model_dir = value;
            } else if (strcmp(arg, "--batch") == 0) {
                if (!cli_parse_int("explain", arg, value, 1, 4096, &job->batch)) return EXIT_USAGE;
            } else if (strcmp(arg, "--device") == 0) {
                job->device = value;
            } else if (strcmp(arg, "--summary") == 0) {
                if (!cli_summary_format_known(value)) {
                    cli_error("explain: --summary needs a file name ending in .json or .csv, got '%s'", value);
                    return EXIT_USAGE;
                }
                job->summary_path = value;
            } else if (strcmp(arg, "--alpha") == 0) {
                if (!cli_parse_float("explain", arg, value, 0.0, 1.0, &number)) return EXIT_USAGE;
                job->alpha = (float)number;
            } else if (strcmp(arg, "--head-fusion") == 0) {
                if (strcasecmp(value, "mean") == 0) job->methods.rollout_fusion = VTE_FUSION_MEAN;
                else if (strcasecmp(value, "max") == 0) job->methods.rollout_fusion = VTE_FUSION_MAX;
                else if (strcasecmp(value, "min") == 0) job->methods.rollout_fusion = VTE_FUSION_MIN;
                else {
                    cli_error("explain: --head-fusion takes mean, max or min, got '%s'", value);
                    return EXIT_USAGE;
                }
            } else if (strcmp(arg, "--discard-ratio") == 0) {
                if (!cli_parse_float("explain", arg, value, 0.0, 0.999, &number)) return EXIT_USAGE;
                job->methods.discard_ratio = (float)number;
            } else if (strcmp(arg, "--legrad-layers") == 0) {
                if (!cli_parse_int("explain", arg, value, 1, 100000, &job->methods.legrad_layers)) return EXIT_USAGE;
            } else if (strcmp(arg, "--compat") == 0) {
                if (strcasecmp(value, "seed") != 0) {
                    cli_error("explain: --compat takes 'seed', got '%s'", value);
                    return EXIT_USAGE;
                }
                job->methods.compat_seed = 1;
            }
        }
    }
    if (!method_given) {
        cli_error("explain: no --method given (rollout, gmar, legrad, chefer or all)");
        return EXIT_USAGE;
    }
    if (!cli_explain_set_methods(job, methods, norms)) return EXIT_USAGE;
    if (job->topk && job->class_count) {
        cli_error("explain: --topk and --class exclude each other");
        return EXIT_USAGE;
    }
    if (!job->pictures && !job->save_raw && !job->summary_path && !job->grid) {
        cli_error("explain: --no-pictures leaves nothing to write (add --save-raw, --grid or --summary)");
        return EXIT_USAGE;
    }
    if (*input_count == 0 && seed_defaults) (*inputs)[(*input_count)++] = "images";
    if (*input_count == 0) {
        cli_error("explain: no INPUT given (see `vitexplain explain --help`)");
        return EXIT_USAGE;
    }
    return -1;
}

/* ---------------------------------------------------------------- output names */

static const char *method_folder(vte_method m) {
    return m == VTE_METHOD_GMAR_L1 || m == VTE_METHOD_GMAR_L2 ? "gmar" : vte_method_name(m);
}

/* OUT/<folder>/<prefix><stem>[_c<ID>]_<folder>.<extension> */
static void output_path(const cli_explain_job *job, const char *folder, const char *prefix, const char *stem,
                        int class_id, const char *extension, char *path, size_t size) {
    char suffix[32] = "";
    if (class_id >= 0) snprintf(suffix, sizeof suffix, "_c%d", class_id);
    snprintf(path, size, "%s/%s/%s%s%s_%s.%s", job->out_dir, folder, prefix, stem, suffix, folder, extension);
}

static void method_output_path(const cli_explain_job *job, vte_method m, const char *stem, int class_id,
                               const char *extension, char *path, size_t size) {
    const char *prefix = m == VTE_METHOD_GMAR_L1 ? "l1_" : m == VTE_METHOD_GMAR_L2 ? "l2_" : "";
    output_path(job, method_folder(m), prefix, stem, class_id, extension, path, size);
}

/* Creates every output folder up front, so an unwritable --out fails before any work. */
static int prepare_output(const cli_explain_job *job) {
    char path[4096];
    for (int m = -1; m < VTE_METHOD_COUNT; m++) {
        if (m < 0 ? !job->grid : !(job->methods.methods & VTE_METHOD_BIT(m)) || (!job->pictures && !job->save_raw))
            continue;
        snprintf(path, sizeof path, "%s/%s", job->out_dir, m < 0 ? "grid" : method_folder((vte_method)m));
        if (vte_make_dirs(path) != 0) {
            cli_error("explain: cannot create output folder %s: %s", path, strerror(errno));
            return 0;
        }
        /* A folder can exist and still refuse files (permissions, read-only mount): try one. */
        char probe[4200];
        snprintf(probe, sizeof probe, "%s/.vitexplain-write-test-%ld", path, (long)getpid());
        FILE *f = fopen(probe, "w");
        if (!f) {
            cli_error("explain: cannot write into output folder %s: %s", path, strerror(errno));
            return 0;
        }
        fclose(f);
        remove(probe);
    }
    return 1;
}

/* Output stems must not collide (a/cat.png and b/cat.jpg): later ones get _2, _3, ... */
typedef struct stem_set {
    char **stems;
    size_t count, capacity;
} stem_set;

static void unique_stem(stem_set *set, const char *path, char *stem, size_t size) {
    char base[1024];
    cli_stem(path, base, sizeof base);
    snprintf(stem, size, "%s", base);
    for (int n = 2;; n++) {
        size_t i = 0;
        while (i < set->count && strcmp(set->stems[i], stem) != 0) i++;
        if (i == set->count) break;
        snprintf(stem, size, "%s_%d", base, n);
    }
    if (set->count == set->capacity) {
        size_t capacity = set->capacity ? set->capacity * 2 : 64;
        char **grown = realloc(set->stems, capacity * sizeof *grown);
        if (!grown) return;
        set->stems = grown;
        set->capacity = capacity;
    }
    set->stems[set->count++] = strdup(stem);
}

static void stem_set_free(stem_set *set) {
    for (size_t i = 0; i < set->count; i++) free(set->stems[i]);
    free(set->stems);
}

/* ---------------------------------------------------------------- one image's outputs */

/* The method's title, marked when the seed project's formulas are used. */
static const char *method_title(vte_method m, int compat) {
    static char titles[VTE_METHOD_COUNT][32];
    if (!compat || m == VTE_METHOD_CHEFER) return vte_method_title(m); /* Chefer has no seed variant */
    snprintf(titles[m], sizeof titles[m], "%s (seed)", vte_method_title(m));
    return titles[m];
}

typedef struct run_state {
    const cli_explain_job *job;
    const vte_model *model;
    cli_progress progress;
    cli_summary summary;
    stem_set stems;
    int failures;
} run_state;

static void report_error(run_state *st, const char *message) {
    cli_progress_clear(&st->progress);
    cli_error("%s", message);
}

/* Writes the pictures and maps of image i of an explanation; returns 0, or the number of files that failed. */
static int write_outputs(run_state *st, const vte_explanation *e, int i, const char *path, const vte_image *image,
                         cli_record *record) {
    const cli_explain_job *job = st->job;
    const vte_model_config *c = vte_model_get_config(st->model);
    char stem[1100], file[4096], title[512], description[1024];
    unique_stem(&st->stems, path, stem, sizeof stem);
    int failed = 0, suffixed = job->topk > 0 || job->class_count > 0;
    int targets = vte_explanation_target_count(e);
    for (int t = 0; t < targets; t++) {
        vte_prediction p = vte_explanation_target(e, i, t);
        const char *label = vte_model_label(st->model, p.class_id);
        vte_grid_panel panels[VTE_METHOD_COUNT];
        int panel_count = 0;
        for (int m = 0; m < VTE_METHOD_COUNT; m++) {
            const float *map = vte_explanation_map(e, i, t, (vte_method)m);
            if (!map) continue;
            panels[panel_count++] = (vte_grid_panel){method_title((vte_method)m, job->methods.compat_seed), map};
            vte_error err = {0};
            if (job->save_raw) {
                method_output_path(job, (vte_method)m, stem, suffixed ? p.class_id : -1, "npy", file, sizeof file);
                int64_t shape[2] = {c->grid_h, c->grid_w};
                if (vte_npy_write_f32(file, map, 2, shape, &err) != VTE_OK) {
                    report_error(st, err.message);
                    failed++;
                } else {
                    cli_record_add_file(record, file);
                }
            }
            if (!job->pictures) continue;
            method_output_path(job, (vte_method)m, stem, suffixed ? p.class_id : -1, "png", file, sizeof file);
            snprintf(title, sizeof title, "%s - %s (%.2f)", method_title((vte_method)m, job->methods.compat_seed),
                     label, (double)p.prob);
            snprintf(description, sizeof description,
                     "vitexplain %s; method %s; class %d (%s); probability %.4f; image %s", vte_version(),
                     vte_method_name((vte_method)m), p.class_id, label, (double)p.prob, path);
            vte_image overlay = {0};
            if (vte_render_overlay(image, map, c->grid_h, c->grid_w, job->alpha, title, &overlay, &err) != VTE_OK ||
                vte_png_write(file, &overlay, title, description, &err) != VTE_OK) {
                report_error(st, err.message);
                failed++;
            } else {
                cli_record_add_file(record, file);
            }
            vte_image_free(&overlay);
        }
        if (job->grid && panel_count) {
            vte_prediction top[5];
            int k = vte_explanation_predictions(e, i, top, 5);
            char lines[6][1400];
            const char *line_ptrs[6];
            snprintf(lines[0], sizeof lines[0], "%s: explaining %s (%.2f)", stem, label, (double)p.prob);
            line_ptrs[0] = lines[0];
            for (int j = 0; j < k; j++) {
                snprintf(lines[j + 1], sizeof lines[j + 1], "%d. %s %.2f", j + 1,
                         vte_model_label(st->model, top[j].class_id), (double)top[j].prob);
                line_ptrs[j + 1] = lines[j + 1];
            }
            output_path(job, "grid", "", stem, suffixed ? p.class_id : -1, "png", file, sizeof file);
            snprintf(description, sizeof description, "vitexplain %s; grid; class %d (%s); image %s", vte_version(),
                     p.class_id, label, path);
            vte_image grid = {0};
            vte_error err = {0};
            if (vte_render_grid(image, panels, panel_count, c->grid_h, c->grid_w, job->alpha, line_ptrs, k + 1, &grid,
                                &err) != VTE_OK ||
                vte_png_write(file, &grid, lines[0], description, &err) != VTE_OK) {
                report_error(st, err.message);
                failed++;
            } else {
                cli_record_add_file(record, file);
            }
            vte_image_free(&grid);
        }
    }
    return failed;
}

/* ---------------------------------------------------------------- the run */

/* Ctrl-C (or SIGTERM) during a run: finish the batch on the device, write its pictures, the summary, and stop;
 * a second Ctrl-C ends the program at once (no file is ever half-written: pictures are renamed into place). */
static volatile sig_atomic_t interrupted = 0;

static void on_interrupt(int signal_number) {
    if (interrupted) {
        struct sigaction fallback = {0};
        fallback.sa_handler = SIG_DFL;
        sigaction(signal_number, &fallback, NULL);
        raise(signal_number);
    }
    interrupted = 1;
}

static void catch_interrupts(void) {
    struct sigaction action = {0};
    action.sa_handler = on_interrupt;
    sigemptyset(&action.sa_mask);
    sigaction(SIGINT, &action, NULL);
    sigaction(SIGTERM, &action, NULL);
}

static int resolve_classes(const vte_model *model, const cli_explain_job *job, int *ids) {
    int labels = vte_model_get_config(model)->num_labels;
    for (int i = 0; i < job->class_count; i++) {
        const char *text = job->class_args[i];
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

int cli_explain_run(const cli_explain_job *job, char **input_args, int input_count) {
    int exit_status = EXIT_OK;
    vte_error err = {0};
    vte_runtime_params params = {.device = job->device};
    vte_runtime *rt = NULL;
    vte_model *model = NULL;
    vte_session *session = NULL;
    float *pixels = NULL;
    int *classes = NULL, class_ids[CLI_MAX_CLASSES];
    vte_image *images = NULL;
    const char **batch_paths = NULL;
    cli_inputs inputs = {0};
    run_state st = {.job = job};

    if (!prepare_output(job)) return EXIT_SETUP;
    if (cli_collect_inputs(input_args, input_count, job->recursive, job->out_dir, &inputs)) exit_status = EXIT_SOME_FAILED;
    if (inputs.count == 0) {
        cli_error("explain: no images to explain");
        cli_inputs_free(&inputs);
        return exit_status == EXIT_OK ? EXIT_USAGE : exit_status;
    }
    if (!(rt = vte_runtime_init(&params, &err)) || !(model = vte_model_load(rt, cli_model_dir(job->model_dir), &err))) {
        cli_error("%s", err.message);
        exit_status = EXIT_SETUP;
        goto done;
    }
    st.model = model;
    const vte_model_config *config = vte_model_get_config(model);
    if (!resolve_classes(model, job, class_ids)) {
        exit_status = EXIT_USAGE;
        goto done;
    }
    int targets = job->class_count ? job->class_count : job->topk ? job->topk : 1;
    if (targets > config->num_labels) {
        cli_error("explain: --topk %d, but the model has %d classes", targets, config->num_labels);
        exit_status = EXIT_USAGE;
        goto done;
    }
    int batch = job->batch < (int)inputs.count ? job->batch : (int)inputs.count;
    if (!(session = vte_session_init(model, batch, &err))) {
        cli_error("%s", err.message);
        exit_status = EXIT_SETUP;
        goto done;
    }
    size_t image_floats = vte_preprocess_size(config);
    pixels = malloc((size_t)batch * image_floats * sizeof *pixels);
    classes = malloc((size_t)batch * targets * sizeof *classes);
    images = calloc((size_t)batch, sizeof *images);
    batch_paths = malloc((size_t)batch * sizeof *batch_paths);
    if (!pixels || !classes || !images || !batch_paths) {
        cli_error("out of memory");
        exit_status = EXIT_SETUP;
        goto done;
    }
    for (int i = 0; i < batch; i++)
        for (int t = 0; t < job->class_count; t++) classes[i * targets + t] = class_ids[t];

    cli_progress_start(&st.progress, inputs.count, job->quiet);
    double total_forward = 0, total_backward = 0, total_explain = 0;
    size_t next = 0, explained = 0;
    catch_interrupts();
    while (next < inputs.count && !interrupted) {
        /* Fill a batch with images that decode; report and record the others. */
        int filled = 0, failed_here = 0;
        while (filled < batch && next < inputs.count) {
            const char *path = inputs.paths[next++];
            vte_image *image = &images[filled];
            if (vte_image_load(path, image, &err) != VTE_OK ||
                vte_preprocess(vte_model_get_preprocess(model), config, image, pixels + (size_t)filled * image_floats,
                               &err) != VTE_OK) {
                report_error(&st, err.message);
                cli_record *r = cli_summary_add(&st.summary, path);
                if (r) cli_record_set_error(r, err.message);
                vte_image_free(image);
                failed_here++;
                continue;
            }
            batch_paths[filled++] = path;
        }
        st.failures += failed_here;
        if (filled == 0) {
            cli_progress_advance(&st.progress, (size_t)failed_here, (size_t)failed_here);
            continue;
        }
        vte_explanation *e = vte_session_explain(session, pixels, filled, job->class_count ? classes : NULL, targets,
                                                 &job->methods, &err);
        if (!e) {
            report_error(&st, err.message);
            exit_status = EXIT_SETUP;
            for (int i = 0; i < filled; i++) vte_image_free(&images[i]);
            goto done;
        }
        vte_stage_times times = vte_explanation_times(e);
        total_forward += times.forward_ms;
        total_backward += times.backward_ms;
        total_explain += times.explain_ms;
        for (int i = 0; i < filled; i++) {
            cli_record *r = cli_summary_add(&st.summary, batch_paths[i]);
            cli_record scratch = {0};
            if (!r) r = &scratch;
            r->top_count = vte_explanation_predictions(e, i, r->top, VTE_EXPLANATION_MAX_PREDICTIONS);
            r->forward_ms = times.forward_ms / filled;
            r->backward_ms = times.backward_ms / filled;
            r->explain_ms = times.explain_ms / filled;
            int write_failures = write_outputs(&st, e, i, batch_paths[i], &images[i], r);
            if (write_failures) {
                cli_record_set_error(r, "some outputs could not be written (see the messages above)");
                st.failures++;
            } else {
                explained++;
            }
            if (!job->quiet) {
                vte_prediction p = vte_explanation_target(e, i, 0);
                cli_progress_clear(&st.progress);
                if (job->seed_output)
                    printf("Processing: %s \u2192 %s\n", batch_paths[i], vte_model_label(model, p.class_id));
                else
                    printf("%s \u2192 %s (class %d, %.2f): %d file%s; forward %.1f ms, backward %.1f ms, "
                           "explanation %.1f ms (its share of a batch of %d)\n",
                           batch_paths[i], vte_model_label(model, p.class_id), p.class_id, (double)p.prob,
                           r->file_count, r->file_count == 1 ? "" : "s", r->forward_ms, r->backward_ms, r->explain_ms,
                           filled);
                fflush(stdout);
            }
            if (r == &scratch) free(scratch.files);
            vte_image_free(&images[i]);
        }
        vte_explanation_free(e);
        cli_progress_advance(&st.progress, (size_t)(filled + failed_here), (size_t)failed_here);
    }
    cli_progress_finish(&st.progress);
    if (interrupted) {
        cli_error("explain: interrupted after %zu of %zu images; the pictures written so far are complete",
                  st.progress.done, inputs.count);
        exit_status = EXIT_INTERRUPTED;
    }
    if (!job->quiet) {
        double seconds = (vte_now_ms() - st.progress.start_ms) / 1000.0;
        printf("%s %zu image%s explained, %d failed, in %.1f s (device: forward %.0f ms, backward %.0f ms, "
               "explanation %.0f ms); output in %s/\n",
               job->seed_output ? "All images done:" : "Done:", explained, explained == 1 ? "" : "s", st.failures,
               seconds, total_forward, total_backward, total_explain, job->out_dir);
    }
    if (st.failures && exit_status == EXIT_OK) exit_status = EXIT_SOME_FAILED;
done:
    if (job->summary_path && model && cli_summary_write(&st.summary, model, job->topk > 5 ? job->topk : 5,
                                                        job->summary_path) != 0 && exit_status == EXIT_OK)
        exit_status = EXIT_SOME_FAILED;
    cli_summary_free(&st.summary);
    stem_set_free(&st.stems);
    free(batch_paths);
    free(images);
    free(classes);
    free(pixels);
    vte_session_free(session);
    vte_model_free(model);
    vte_runtime_free(rt);
    cli_inputs_free(&inputs);
    return exit_status;
}

static int explain_main(int argc, char **argv, int seed_defaults) {
    cli_explain_job job;
    cli_explain_job_default(&job);
    job.seed_output = seed_defaults;
    char **inputs = NULL;
    int input_count = 0;
    int exit_status = parse_options(argc, argv, &job, &inputs, &input_count, seed_defaults);
    if (exit_status < 0) exit_status = cli_explain_run(&job, inputs, input_count);
    free(inputs);
    return exit_status;
}

int cli_explain(int argc, char **argv) { return explain_main(argc, argv, 0); }

int cli_seed(int argc, char **argv) { return explain_main(argc, argv, 1); }
