/* vitexplain explain: heat-map overlays (and optionally the raw grid maps) of the explanation methods for
 * image files and folders, in batches on the device, with progress and an optional summary file. The
 * seed's interactive mode (interactive.c) runs the same job. What is written for each image is outputs.c. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/inputs.h"
#include "cli/interrupt.h"
#include "cli/labels.h"
#include "cli/method_options.h"
#include "cli/outputs.h"
#include "cli/progress.h"
#include "cli/shard.h"
#include "cli/summary.h"
#include "util/fileio.h"

static void print_help(void) {
    printf(
        "Usage: vitexplain explain --method METHOD [OPTIONS] INPUT...\n"
        "\n"
        "Explains what the model looks at in each image (an INPUT is an image file or a folder of .jpg, .jpeg\n"
        "and .png files) for its top class, or the classes asked for, and saves heat-map overlays on the\n"
        "original image, titled with the method, the class and its probability:\n"
        "  OUT/<method>/<stem>_<method>.png; GMAR: OUT/gmar/l1_<stem>_gmar.png and OUT/gmar/l2_<stem>_gmar.png;\n"
        "  with --topk or --class the stem becomes <stem>_c<ID> (e.g. results/rollout/cat_c285_rollout.png).\n"
        "\n");
    cli_print_method_help();
    printf(
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
        "                     files written and the time of each stage, or why it failed; the JSON also\n"
        "                     names the run (model, methods, inputs, shard) for `vitexplain merge-summaries`\n"
        CLI_SHARD_OPTION_HELP("     ")
        "  --skip-existing    do not explain again an image whose every output file is there already (an\n"
        "                     interrupted run resumes); the summary lists it as skipped, or keeps its record\n"
        "                     from the earlier run's JSON --summary at the same path; with --topk the classes\n"
        "                     in the file names are known only from that record\n"
        "  --quiet            print nothing but errors and warnings\n"
        "  --model DIR        Hugging Face ViTForImageClassification folder, or a hub id such as\n"
        "                     google/vit-base-patch16-224 found in the Hugging Face cache; default\n"
        "                     " MODEL_DEFAULT_HELP("                     ") "\n"
        "  --device SPEC      OpenCL device (see `vitexplain devices`)\n"
        CLI_IMAGE_OPTION_HELP("     ") CLI_FAST_DECODE_HELP("     "));
    cli_print_method_option_help();
    printf("\nMethods:\n");
    cli_print_method_descriptions();
    printf(
        "\n"
        "A map that comes out all zeros (nothing stands out, e.g. rollout with --head-fusion min and a high\n"
        "--discard-ratio) is still written, with a warning naming the image and the method.\n"
        "Pictures are written to a temporary name and renamed, so an interrupted run leaves no partial file.\n"
        "File names are chosen over the whole input list (a second cat.png is cat_2 in every shard), and the\n"
        "summary follows the list's order whatever the batches.\n"
        "An image that cannot be read is reported with its reason and skipped; the run goes on.\n"
        "Progress goes to stderr: a bar on a terminal, plain lines otherwise.\n"
        "Ctrl-C finishes the batch in hand, writes its pictures and the summary, and stops (a second Ctrl-C\n"
        "stops at once).\n"
        "Exit status: 0 all images explained; 1 some images failed (the others were done); 2 usage error;\n"
        "3 set-up error (no device, unreadable model, output folder not writable); 130 interrupted.\n");
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
    return cli_methods_add("explain", list, norms, &job->methods.methods);
}

/* What parsing collects besides the job. */
typedef struct parse_state {
    cli_method_choice methods; /* --method and the method options (method_options.h) */
} parse_state;

static int takes_value(const char *arg) {
    static const char *const with_value[] = {"--class", "--topk",   "--out",   "--model",
                                             "--batch", "--device", "--alpha", "--summary",
                                             "--max-pixels", "--shard"};
    for (size_t k = 0; k < sizeof with_value / sizeof with_value[0]; k++)
        if (strcmp(arg, with_value[k]) == 0) return 1;
    return cli_method_option_known(arg);
}

/* One option with a value; 0 after reporting a bad value. */
static int parse_value_option(const char *arg, const char *value, cli_explain_job *job, parse_state *p) {
    double number = 0;
    if (cli_method_option_known(arg)) {
        return cli_method_option_parse("explain", arg, value, &p->methods, &job->methods);
    } else if (strcmp(arg, "--class") == 0) {
        if (job->class_count == CLI_MAX_CLASSES) {
            cli_error("explain: at most %d --class options", CLI_MAX_CLASSES);
            return 0;
        }
        job->class_args[job->class_count++] = value;
    } else if (strcmp(arg, "--topk") == 0) {
        if (!cli_parse_int("explain", arg, value, 1, 100000, &job->topk)) return 0;
    } else if (strcmp(arg, "--out") == 0) {
        if (!*value) { /* an empty name would put the pictures under / */
            cli_error("explain: --out needs a folder name, got an empty one");
            return 0;
        }
        job->out_dir = value;
    } else if (strcmp(arg, "--model") == 0) {
        job->model_dir = value;
    } else if (strcmp(arg, "--batch") == 0) {
        if (!cli_parse_int("explain", arg, value, 1, 4096, &job->batch)) return 0;
    } else if (strcmp(arg, "--device") == 0) {
        job->device = value;
    } else if (strcmp(arg, "--summary") == 0) {
        if (!cli_summary_format_known(value)) {
            cli_error("explain: --summary needs a file name ending in .json or .csv, got '%s'", value);
            return 0;
        }
        job->summary_path = value;
    } else if (strcmp(arg, "--max-pixels") == 0) {
        if (!cli_parse_max_pixels("explain", value, &job->load_options)) return 0;
    } else if (strcmp(arg, "--shard") == 0) {
        if (!cli_shard_parse("explain", value, &job->shard)) return 0;
    } else if (strcmp(arg, "--alpha") == 0) {
        if (!cli_parse_float("explain", arg, value, 0.0, 1.0, &number)) return 0;
        job->alpha = (float)number;
    }
    return 1;
}

/* The checks that need the whole command line; -1 to continue, else an exit status. */
static int check_options(cli_explain_job *job, const parse_state *p) {
    const int status = cli_method_choice_finish("explain", &p->methods, &job->methods);
    if (status >= 0) return status;
    if (job->topk && job->class_count) {
        cli_error("explain: --topk and --class exclude each other");
        return EXIT_USAGE;
    }
    if (!job->pictures && !job->save_raw && !job->summary_path && !job->grid) {
        cli_error("explain: --no-pictures leaves nothing to write (add --save-raw, --grid or --summary)");
        return EXIT_USAGE;
    }
    if (job->skip_existing && !cli_outputs_any(job)) {
        cli_error("explain: --skip-existing looks for an image's output files, and --no-pictures writes none (add "
                  "--save-raw or --grid)");
        return EXIT_USAGE;
    }
    return -1;
}

/* Returns -1 to continue, else an exit status. */
static int parse_options(int argc, char **argv, cli_explain_job *job, char ***inputs, int *input_count,
                         int seed_defaults) {
    *inputs = calloc((size_t)argc, sizeof **inputs);
    if (!*inputs) return EXIT_SETUP;
    parse_state p;
    cli_method_choice_init(&p.methods);
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
        else if (strcmp(arg, "--fast-decode") == 0) job->fast_decode = 1;
        else if (strcmp(arg, "--skip-existing") == 0) job->skip_existing = 1;
        else if (arg[0] != '-' || arg[1] == '\0') (*inputs)[(*input_count)++] = argv[i];
        else if (!takes_value(arg)) {
            cli_error("explain: unknown option '%s' (see `vitexplain explain --help`)", arg);
            return EXIT_USAGE;
        } else if (i + 1 >= argc) {
            cli_error("explain: %s needs a value", arg);
            return EXIT_USAGE;
        } else if (!parse_value_option(arg, argv[++i], job, &p)) {
            return EXIT_USAGE;
        }
    }
    int status = check_options(job, &p);
    if (status >= 0) return status;
    if (*input_count == 0 && seed_defaults) {
        /* The original project's images/, or the bundled images with the bundled model. */
        cli_model_choice choice;
        cli_model_choose(job->model_dir, &choice);
        (*inputs)[(*input_count)++] = (char *)cli_default_inputs(&choice);
    }
    if (*input_count == 0) {
        cli_error("explain: no INPUT given (see `vitexplain explain --help`)");
        return EXIT_USAGE;
    }
    return -1;
}

/* ---------------------------------------------------------------- the run */

/* The --class values as class ids, each once (a class named twice, by id and by label say, would write the same
 * files twice); their count, or -1 after reporting an unknown class. */
static int resolve_classes(const vte_model *model, const cli_explain_job *job, int *ids) {
    int labels = vte_model_get_config(model)->num_labels, count = 0;
    for (int i = 0; i < job->class_count; i++) {
        const char *text = job->class_args[i];
        const int id = cli_class_id(model, text);
        if (id < 0) {
            cli_error("explain: unknown class '%s': neither an id from 0 to %d nor a label of the model", text,
                      labels - 1);
            return -1;
        }
        int seen = 0;
        for (int k = 0; k < count && !seen; k++) seen = ids[k] == id;
        if (seen)
            cli_error("warning: --class '%s' names class %d again: it is explained once", text, id);
        else
            ids[count++] = id;
    }
    return count;
}

typedef struct run_state {
    const cli_explain_job *job;
    vte_runtime *rt;
    vte_model *model;
    cli_model_choice model_choice;
    vte_session *session;
    int targets;
    int class_ids[CLI_MAX_CLASSES];
    int class_count; /* distinct --class values */
    int *classes; /* [batch][targets] for --class, else NULL */
    cli_selection todo; /* the inputs this run explains: its shard's, less those skipped */
    cli_batch batch;
    cli_progress progress;
    cli_summary summary;
    cli_outputs outputs;
    int failures;
    int failed_in_batch; /* inputs of the batch in hand that could not be read: one progress step per batch */
    size_t explained, skipped;
    vte_stage_times total; /* device time over the run */
} run_state;

static void report_error(void *context, const char *message) {
    run_state *st = context;
    cli_progress_clear(&st->progress);
    cli_error("%s", message);
}

/* An input that cannot be decoded: reported, recorded in the summary, counted, skipped. */
static void report_load_failure(void *context, size_t position, const char *path, const char *message) {
    run_state *st = context;
    report_error(st, message);
    cli_record *r = cli_summary_add(&st->summary, st->todo.positions[position], path);
    if (r) cli_record_set_error(r, message);
    st->failures++;
    st->failed_in_batch++;
}

/* Runtime, model and classes; an exit status on failure (reported), else -1. */
static int open_model(run_state *st) {
    const cli_explain_job *job = st->job;
    vte_error err = {0};
    vte_runtime_params params = {.device = job->device};
    if (!(st->rt = vte_runtime_init(&params, &err))) {
        cli_error("%s", err.message);
        return EXIT_SETUP;
    }
    if (!(st->model = cli_model_load(st->rt, job->model_dir, job->quiet, &st->model_choice))) return EXIT_SETUP;
    const vte_model_config *config = vte_model_get_config(st->model);
    if ((st->class_count = resolve_classes(st->model, job, st->class_ids)) < 0) return EXIT_USAGE;
    st->targets = st->class_count ? st->class_count : job->topk ? job->topk : 1;
    if (st->targets > config->num_labels) { /* distinct classes never outnumber the labels: --topk only */
        cli_error("explain: --topk %d, but the model has %d classes", st->targets, config->num_labels);
        return EXIT_USAGE;
    }
    return -1;
}

/* Session and batch buffers for `input_count` images; an exit status on failure (reported), else -1. */
static int open_session(run_state *st, size_t input_count) {
    const cli_explain_job *job = st->job;
    vte_error err = {0};
    int capacity = job->batch < (int)input_count ? job->batch : (int)input_count;
    if (!(st->session = vte_session_init_keeping(st->model, capacity, vte_explain_keep(&job->methods), &err))) {
        cli_error("%s", err.message);
        return EXIT_SETUP;
    }
    if (!cli_batch_init(&st->batch, st->model, capacity, 1, &job->load_options, job->fast_decode)) return EXIT_SETUP;
    if (job->class_count) {
        if (!(st->classes = malloc((size_t)capacity * st->targets * sizeof *st->classes))) {
            cli_error("out of memory");
            return EXIT_SETUP;
        }
        for (int i = 0; i < capacity; i++)
            for (int t = 0; t < st->class_count; t++) st->classes[i * st->targets + t] = st->class_ids[t];
    }
    return -1;
}

/* What the JSON summary says about the run before its images: what merge-summaries checks the parts against each
 * other with, and --skip-existing an earlier summary. Only what the command line fixes (--class as given, not
 * resolved), so that a shard with no images to do, which loads no model, writes the same. */
static json_t *summary_header(const cli_explain_job *job, const cli_inputs *inputs, size_t taken) {
    cli_model_choice choice;
    cli_model_choose(job->model_dir, &choice);
    json_t *header = json_pack("{s:s, s:s}", "vitexplain", vte_version(), "command", "explain");
    cli_json_set_text(header, "model", choice.spec);
    json_t *methods = json_array();
    for (int m = 0; m < VTE_METHOD_COUNT; m++)
        if (job->methods.methods & VTE_METHOD_BIT(m))
            json_array_append_new(methods, json_string(vte_method_name((vte_method)m)));
    static const char *const fusions[] = {"mean", "max", "min"};
    const vte_explain_options *o = &job->methods;
    json_object_set_new(header, "methods", methods);
    json_object_set_new(header, "method_options",
                        json_pack("{s:s, s:f, s:i, s:b}", "head_fusion", fusions[o->rollout_fusion % 3],
                                  "discard_ratio", (double)o->discard_ratio, "legrad_layers", o->legrad_layers,
                                  "compat_seed", o->compat_seed));
    json_object_set_new(header, "topk", json_integer(job->topk));
    json_t *classes = json_array();
    for (int i = 0; i < job->class_count; i++) json_array_append_new(classes, json_string(job->class_args[i]));
    json_object_set_new(header, "classes", classes);
    char fingerprint[17];
    cli_inputs_fingerprint(inputs, fingerprint);
    json_object_set_new(header, "inputs", json_integer((json_int_t)inputs->count));
    json_object_set_new(header, "inputs_fingerprint", json_string(fingerprint));
    if (job->shard.count)
        json_object_set_new(header, "shard", json_pack("{s:i, s:i, s:I}", "index", job->shard.index, "count",
                                                       job->shard.count, "images", (json_int_t)taken));
    return header;
}

/* 1 when `earlier[key]` (and its _bytes field) is what cli_json_set_text(s) makes of `text` (or `texts`). */
static int earlier_text_equal(const json_t *earlier, const char *key, const char *text, char *const *texts,
                              int count) {
    json_t *made = json_object();
    if (texts) cli_json_set_texts(made, key, texts, count);
    else cli_json_set_text(made, key, text);
    char bytes_key[64];
    snprintf(bytes_key, sizeof bytes_key, "%s_bytes", key);
    const json_t *a = json_object_get(made, bytes_key), *b = json_object_get(earlier, bytes_key);
    const int equal = json_equal(json_object_get(made, key), json_object_get(earlier, key)) &&
                      ((!a && !b) || (a && b && json_equal(a, b)));
    json_decref(made);
    return equal;
}

/* The earlier record of an input when it is of the same image and not a failure; else NULL. */
static json_t *earlier_record(json_t *const *earlier, size_t index, const char *path) {
    json_t *record = earlier ? earlier[index] : NULL;
    const char *status = json_string_value(json_object_get(record, "status"));
    if (!record || !status || strcmp(status, "failed") == 0) return NULL;
    return earlier_text_equal(record, "image", path, NULL, 0) ? record : NULL;
}

/* --skip-existing: takes out of st->todo every input whose outputs are all there, recording it as skipped (or as
 * the earlier summary recorded it); an exit status on failure (reported), else -1. */
static int skip_existing(run_state *st, size_t inputs) {
    const cli_explain_job *job = st->job;
    json_t *document = NULL;
    char why[4400] = "";
    json_t **earlier = job->summary_path ? cli_summary_earlier(job->summary_path, st->summary.header, inputs,
                                                                &document, why, sizeof why)
                                         : NULL;
    if (why[0] && job->summary_path)
        cli_error("warning: explain: --skip-existing: the earlier records in %s are not used: %s", job->summary_path,
                  why);
    if (job->topk && !earlier)
        cli_error("warning: explain: --skip-existing with --topk: the classes in the file names are known only from "
                  "the earlier run's JSON --summary, and there is none here, so every image is explained again");
    /* Without --topk or --class the names carry no class; with --class every one of them. */
    int *name_classes = malloc((size_t)st->targets * sizeof *name_classes);
    if (!name_classes) {
        cli_error("out of memory");
        json_decref(document);
        free(earlier);
        return EXIT_SETUP;
    }
    int targets = st->class_count ? st->class_count : 1;
    name_classes[0] = -1;
    for (int t = 0; t < st->class_count; t++) name_classes[t] = st->class_ids[t];
    size_t kept = 0;
    for (size_t k = 0; k < st->todo.count; k++) {
        const size_t index = st->todo.positions[k];
        const char *path = st->todo.paths[k];
        json_t *before = earlier_record(earlier, index, path);
        if (job->topk) { /* the classes the earlier run found, the first topk of its list */
            const json_t *top = json_object_get(before, "top");
            targets = json_array_size(top) >= (size_t)job->topk ? job->topk : 0;
            for (int t = 0; t < targets; t++)
                name_classes[t] = (int)json_integer_value(json_object_get(json_array_get(top, (size_t)t), "id"));
        }
        cli_record found = {0};
        if (targets && cli_outputs_existing(&st->outputs, index, name_classes, targets, &found)) {
            cli_record *r = cli_summary_add(&st->summary, index, path);
            if (!r) {
                cli_error("out of memory");
                free(name_classes);
                json_decref(document);
                free(earlier);
                return EXIT_SETUP;
            }
            r->skipped = 1;
            r->files = found.files;
            r->file_count = found.file_count;
            if (before && earlier_text_equal(before, "files", NULL, found.files, found.file_count))
                r->earlier = json_incref(before);
            st->skipped++;
        } else {
            for (int f = 0; f < found.file_count; f++) free(found.files[f]);
            free(found.files);
            st->todo.paths[kept] = st->todo.paths[k];
            st->todo.positions[kept++] = index;
        }
    }
    st->todo.count = kept;
    free(name_classes);
    json_decref(document);
    free(earlier);
    return -1;
}

/* Once per image: a map that came out all zeros (nothing stands out) is written, but said. */
static void warn_flat_maps(run_state *st, const vte_explanation *e, int i, const char *path) {
    const vte_model_config *c = vte_model_get_config(st->model);
    char names[256] = "";
    for (int m = 0; m < VTE_METHOD_COUNT; m++) {
        int flat = 0;
        for (int t = 0; t < vte_explanation_target_count(e) && !flat; t++) {
            const float *map = vte_explanation_map(e, i, t, (vte_method)m);
            flat = map != NULL;
            for (int p = 0; map && p < c->grid_h * c->grid_w && flat; p++) flat = map[p] == 0.0f;
        }
        if (!flat) continue;
        size_t used = strlen(names);
        snprintf(names + used, sizeof names - used, "%s%s", used ? ", " : "", vte_method_name((vte_method)m));
    }
    if (!names[0]) return;
    cli_progress_clear(&st->progress);
    cli_error("warning: %s: the %s map is all zeros: nothing stands out, so its picture shows no heat "
              "(with rollout, --head-fusion min or a high --discard-ratio can do this)",
              path, names);
}

/* The per-image line on stdout. */
static void print_image_line(const run_state *st, const vte_explanation *e, int i, const cli_record *r,
                             int batch_size) {
    vte_prediction p = vte_explanation_target(e, i, 0);
    const char *path = st->batch.paths[i], *label = vte_model_label(st->model, p.class_id);
    if (st->job->seed_output)
        printf("Processing: %s \u2192 %s\n", path, label);
    else
        printf("%s \u2192 %s (class %d, %.2f): %d file%s; forward %.1f ms, backward %.1f ms, explanation %.1f ms "
               "(its share of a batch of %d)\n",
               path, label, p.class_id, (double)p.prob, r->file_count, r->file_count == 1 ? "" : "s", r->forward_ms,
               r->backward_ms, r->explain_ms, batch_size);
    fflush(stdout);
}

/* Whether image i's predictions and every map of it are finite numbers. A checkpoint whose finite weights
 * overflow on some input gives NaN or infinities there: that image fails, with its reason, instead of being
 * written as maps the README promises lie in [0, 1]. */
static int outputs_finite(const run_state *st, const vte_explanation *e, int i, const cli_record *r) {
    for (int k = 0; k < r->top_count; k++)
        if (!isfinite(r->top[k].prob)) return 0;
    const vte_model_config *c = vte_model_get_config(st->model);
    for (int t = 0; t < vte_explanation_target_count(e); t++)
        for (int m = 0; m < VTE_METHOD_COUNT; m++) {
            const float *map = vte_explanation_map(e, i, t, (vte_method)m);
            for (int p = 0; map && p < c->grid_h * c->grid_w; p++)
                if (!isfinite(map[p])) return 0;
        }
    return 1;
}

/* Explains the batch in hand and writes its outputs; an exit status when the device fails, else -1. */
static int explain_batch(run_state *st) {
    const cli_explain_job *job = st->job;
    const int filled = st->batch.count;
    vte_error err = {0};
    vte_explanation *e =
        vte_session_explain(st->session, st->batch.pixels, filled, st->classes, st->targets, &job->methods, &err);
    if (!e) {
        report_error(st, err.message);
        return EXIT_SETUP;
    }
    vte_stage_times times = vte_explanation_times(e);
    st->total.forward_ms += times.forward_ms;
    st->total.backward_ms += times.backward_ms;
    st->total.explain_ms += times.explain_ms;
    for (int i = 0; i < filled; i++) {
        const size_t index = st->todo.positions[st->batch.positions[i]];
        cli_record scratch = {0}, *r = cli_summary_add(&st->summary, index, st->batch.paths[i]);
        if (!r) r = &scratch;
        r->top_count = vte_explanation_predictions(e, i, r->top, VTE_EXPLANATION_MAX_PREDICTIONS);
        r->forward_ms = times.forward_ms / filled;
        r->backward_ms = times.backward_ms / filled;
        r->explain_ms = times.explain_ms / filled;
        if (!outputs_finite(st, e, i, r)) {
            char reason[4400];
            snprintf(reason, sizeof reason,
                     "%s: the model's output holds NaN or infinity for this image (its weights overflow on it): "
                     "nothing written",
                     st->batch.paths[i]);
            report_error(st, reason);
            cli_record_set_error(r, reason);
            st->failures++;
            if (r == &scratch) free(scratch.files);
            continue;
        }
        if (cli_outputs_write(&st->outputs, e, i, index, st->batch.paths[i], &st->batch.images[i], r)) {
            cli_record_set_error(r, "some outputs could not be written (see the messages above)");
            st->failures++;
        } else {
            st->explained++;
        }
        warn_flat_maps(st, e, i, st->batch.paths[i]);
        if (!job->quiet) {
            cli_progress_clear(&st->progress);
            print_image_line(st, e, i, r, filled);
        }
        if (r == &scratch) free(scratch.files);
    }
    vte_explanation_free(e);
    return -1;
}

static void print_done(const run_state *st) {
    const cli_explain_job *job = st->job;
    if (cli_interrupted())
        cli_error("explain: interrupted after %zu of %zu images; the pictures written so far are complete",
                  st->progress.done, st->progress.total);
    if (job->quiet) return;
    double seconds = (vte_now_ms() - st->progress.start_ms) / 1000.0;
    char skipped[96] = "";
    if (job->skip_existing)
        snprintf(skipped, sizeof skipped, " %zu skipped (their files were there),", st->skipped);
    printf("%s %zu image%s explained,%s %d failed, in %.1f s (device: forward %.0f ms, backward %.0f ms, "
           "explanation %.0f ms); output in %s/\n",
           job->seed_output ? "All images done:" : "Done:", st->explained, st->explained == 1 ? "" : "s", skipped,
           st->failures, seconds, st->total.forward_ms, st->total.backward_ms, st->total.explain_ms, job->out_dir);
}

static void close_run(run_state *st) {
    cli_outputs_free(&st->outputs);
    cli_summary_free(&st->summary);
    cli_selection_free(&st->todo);
    cli_batch_free(&st->batch);
    free(st->classes);
    vte_session_free(st->session);
    vte_model_free(st->model);
    vte_runtime_free(st->rt);
}

/* The --summary file's folder takes a file (real bytes) before any work rather than after all of it. */
static int summary_writable(const cli_explain_job *job) {
    const int error = job->summary_path ? vte_write_probe(job->summary_path) : 0;
    if (error) cli_error("explain: --summary %s: cannot write: %s", job->summary_path, strerror(error));
    return !error;
}

/* Everything before the first batch: the shard's inputs, the model (not needed when the shard has none), the
 * names of every output, the skipped inputs, the session. An exit status on failure (reported), else -1. */
static int prepare_run(run_state *st, const cli_inputs *inputs) {
    const cli_explain_job *job = st->job;
    if (!cli_shard_select(&job->shard, inputs, &st->todo)) return EXIT_SETUP;
    st->summary.header = summary_header(job, inputs, st->todo.count);
    int status = st->todo.count ? open_model(st) : -1;
    if (status >= 0) return status;
    if (!job->quiet) cli_shard_notice(&job->shard, st->todo.count, inputs->count);
    if (!cli_outputs_init(&st->outputs, job, st->model, inputs->paths, inputs->count, report_error, st))
        return EXIT_SETUP;
    if (job->skip_existing && st->todo.count && (status = skip_existing(st, inputs->count)) >= 0) return status;
    return st->todo.count ? open_session(st, st->todo.count) : -1;
}

int cli_explain_run(const cli_explain_job *job, char **input_args, int input_count) {
    run_state st = {.job = job};
    cli_inputs inputs = {0};
    if (!summary_writable(job) || !cli_outputs_prepare(job)) return EXIT_SETUP;
    int exit_status = cli_collect_inputs(input_args, input_count, job->recursive, job->out_dir, &inputs)
                          ? EXIT_SOME_FAILED
                          : EXIT_OK;
    if (inputs.count == 0) {
        cli_error("explain: no images to explain");
        cli_inputs_free(&inputs);
        return exit_status == EXIT_OK ? EXIT_USAGE : exit_status;
    }
    int stopped = prepare_run(&st, &inputs);
    if (stopped < 0) {
        cli_progress_start(&st.progress, st.todo.count, job->quiet);
        cli_catch_interrupts();
        size_t next = 0;
        while (stopped < 0 && next < st.todo.count && !cli_interrupted()) {
            st.failed_in_batch = 0;
            if (cli_batch_load(&st.batch, st.model, st.todo.paths, st.todo.count, &next, report_load_failure, &st) &&
                (stopped = explain_batch(&st)) >= 0)
                break;
            size_t failed = (size_t)st.failed_in_batch;
            cli_progress_advance(&st.progress, (size_t)st.batch.count + failed, failed);
        }
        if (stopped < 0) {
            cli_progress_finish(&st.progress);
            print_done(&st);
        }
    }
    if (stopped >= 0) exit_status = stopped;
    else if (cli_interrupted()) exit_status = EXIT_INTERRUPTED;
    else if (st.failures && exit_status == EXIT_OK) exit_status = EXIT_SOME_FAILED;
    /* Not when the model could not be loaded; a shard with no images loads none, and has no labels to write. */
    if (job->summary_path && (st.model || stopped < 0) &&
        cli_summary_write(&st.summary, st.model, job->topk > 5 ? job->topk : 5, job->summary_path) != 0 &&
        exit_status == EXIT_OK)
        exit_status = EXIT_SOME_FAILED;
    close_run(&st);
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
