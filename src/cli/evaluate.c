/* vitexplain evaluate: for each image (files and folders, as explain takes them) and each method asked for, the
 * deletion and insertion curves of the model's own top class (or the class --labels gives) through the library's
 * vte_session_evaluate, with random orders and, where a mask is given, the pointing game and the share on the
 * object; then a table of means, and optionally a summary file, a plot and the maps. The protocol is
 * docs/evaluation.md; what is reported is evaluate_report.c. */
#include "cli/evaluate.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/evaluate_report.h"
#include "cli/inputs.h"
#include "cli/interrupt.h"
#include "cli/labels.h"
#include "cli/method_options.h"
#include "cli/outputs.h"
#include "cli/progress.h"
#include "cli/shard.h"
#include "cli/summary.h"
#include "render/plot.h"
#include "util/error.h"
#include "util/npy.h"

typedef struct eval_job {
    const char *model_dir, *device, *summary_path, *plot_path, *labels_path, *masks_dir, *maps_dir;
    int batch; /* 0: a whole curve per forward pass */
    int recursive, quiet;
    vte_evaluate_options options;
    vte_image_load_options load_options; /* --max-pixels; no --fast-decode: masks have the image's full size */
    cli_shard shard;                     /* --shard: this run's part of the inputs */
} eval_job;

static void print_help(void) {
    printf("Usage: vitexplain evaluate --method METHOD [OPTIONS] INPUT...\n"
           "\n"
           "Measures how faithful each explanation method is (docs/evaluation.md). For each image (an INPUT is an\n"
           "image file or a folder of .jpg, .jpeg and .png files) and its top class, or the class --labels gives:\n"
           "  deletion: the model input's patches are replaced by a baseline, most relevant first by the method's\n"
           "    map, STEP patches at a time, and the class's probability is read after each step; the area under\n"
           "    that curve (AUC, over the fraction of patches removed, 0 to 1) is low when the map found what the\n"
           "    model needs;\n"
           "  insertion: the other way, from the baseline, revealing the most relevant patches first: the AUC is\n"
           "    high when the map is faithful;\n"
           "  random order: the same curves for random patch orders, averaged: the bar a method has to clear;\n"
           "  with a mask (--masks): the pointing game (the map's hottest patch lies on the object, at least half\n"
           "    of it) and the share of the map on the object, next to what a uniform map scores.\n"
           "Every perturbed input of a curve goes through the forward pass in one batch (or --batch at a time).\n"
           "Prints a table of the means over the images.\n"
           "\n");
    cli_print_method_help();
    printf("  --labels FILE      a CSV of `image,class` rows: the class to evaluate for an image (an id or a label\n"
           "                     of the model), the image named by its path, file name or stem; images it does\n"
           "                     not list are evaluated on their top class\n"
           "  --masks DIR        object masks: DIR/<stem>.png for an image <stem>.*, the image's size, a pixel\n"
           "                     on the object when it is not black; images without one get no mask scores\n"
           "  --step K           patches changed per step (default: ceil(patches/49), at most 49 steps)\n"
           "  --baseline B       black, blur or mean, for both curves (default: deletion to black, insertion\n"
           "                     from blur, as RISE): black is a black pixel, mean the normalisation's mean (the\n"
           "                     data set's), blur the input blurred (Gaussian, 11 taps, sigma 5)\n"
           "  --random-seeds N   random orders averaged into the random row (default 3; 0: none)\n"
           "  --batch N          perturbed inputs per forward pass (default: a whole curve, 50 inputs for\n"
           "                     ViT-B/16 at the default step; it takes about 135 MB of device memory per\n"
           "                     input: give a smaller N on a small GPU)\n"
           "  --summary FILE     write FILE (.json or .csv): per image and method the AUCs, the pointing game and\n"
           "                     the share (the JSON also the curves), or why the image failed\n"
           "  --plot FILE.png    draw the mean deletion and insertion curves of every method and of the random\n"
           "                     order (%dx%d pixels)\n"
           "  --save-maps DIR    save each map the curves followed as DIR/<stem>_<method>.npy (float32\n"
           "                     [grid_h, grid_w]), e.g. for tools/make_evaluate_reference.py\n"
           "  --recursive        descend into sub-folders of folder inputs\n"
           CLI_SHARD_OPTION_HELP("     ")
           "                     (`vitexplain merge-summaries` joins the shards' JSON summaries and their means)\n"
           "  --quiet            print only the table, errors and warnings\n"
           "  --model DIR        Hugging Face ViTForImageClassification folder, or a hub id such as\n"
           "                     google/vit-base-patch16-224 found in the Hugging Face cache; default\n"
           "                     " MODEL_DEFAULT_HELP("                     ") "\n"
           "  --device SPEC      OpenCL device (see `vitexplain devices`)\n" CLI_IMAGE_OPTION_HELP("     "),
           VTE_PLOT_WIDTH, VTE_PLOT_HEIGHT);
    cli_print_method_option_help();
    printf("\nMethods:\n");
    cli_print_method_descriptions();
    printf("\n"
           "Lower deletion AUC and higher insertion AUC, pointing game and share: more faithful. A method at or below\n"
           "the random order (or the uniform map) is a finding about the method and the model.\n"
           "An image (or its mask) that cannot be read is reported with its reason and skipped; the run goes on.\n"
           "Ctrl-C finishes the image in hand, prints the table and writes the summary and the plot of the images\n"
           "done, and stops (a second Ctrl-C stops at once).\n"
           "Exit status: 0 all images evaluated; 1 some images failed (the others were done); 2 usage error\n"
           "(including a bad --labels file); 3 set-up error (no device, unreadable model, output folder missing or\n"
           "not writable); 130 interrupted.\n");
}

/* ---------------------------------------------------------------- the command line */

static int takes_value(const char *arg) {
    static const char *const with_value[] = {"--labels",       "--masks", "--step",     "--baseline",
                                             "--random-seeds", "--batch", "--model",    "--device",
                                             "--summary",      "--plot",  "--save-maps", "--max-pixels",
                                             "--shard"};
    for (size_t k = 0; k < sizeof with_value / sizeof with_value[0]; k++)
        if (strcmp(arg, with_value[k]) == 0) return 1;
    return cli_method_option_known(arg);
}

static int has_extension(const char *path, const char *extension) {
    const char *dot = strrchr(path, '.');
    return dot && strcasecmp(dot, extension) == 0;
}

/* One option with a value; 0 after reporting a bad value. */
static int parse_value_option(const char *arg, const char *value, eval_job *job, cli_method_choice *methods) {
    vte_evaluate_options *o = &job->options;
    if (cli_method_option_known(arg)) return cli_method_option_parse("evaluate", arg, value, methods, &o->explain);
    if (strcmp(arg, "--labels") == 0)
        job->labels_path = value;
    else if (strcmp(arg, "--masks") == 0)
        job->masks_dir = value;
    else if (strcmp(arg, "--model") == 0)
        job->model_dir = value;
    else if (strcmp(arg, "--device") == 0)
        job->device = value;
    else if (strcmp(arg, "--save-maps") == 0)
        job->maps_dir = value;
    else if (strcmp(arg, "--step") == 0)
        return cli_parse_int("evaluate", arg, value, 1, 1 << 24, &o->step);
    else if (strcmp(arg, "--random-seeds") == 0)
        return cli_parse_int("evaluate", arg, value, 0, 1000, &o->random_seeds);
    else if (strcmp(arg, "--batch") == 0)
        return cli_parse_int("evaluate", arg, value, 1, 4096, &job->batch);
    else if (strcmp(arg, "--max-pixels") == 0)
        return cli_parse_max_pixels("evaluate", value, &job->load_options);
    else if (strcmp(arg, "--shard") == 0)
        return cli_shard_parse("evaluate", value, &job->shard);
    else if (strcmp(arg, "--baseline") == 0) {
        for (int b = VTE_BASELINE_BLACK; b <= VTE_BASELINE_MEAN; b++)
            if (strcasecmp(value, cli_eval_baseline_name((vte_baseline)b)) == 0) {
                o->deletion_baseline = o->insertion_baseline = (vte_baseline)b;
                return 1;
            }
        cli_error("evaluate: --baseline takes black, blur or mean, got '%s'", value);
        return 0;
    } else if (strcmp(arg, "--summary") == 0) {
        if (!cli_summary_format_known(value)) {
            cli_error("evaluate: --summary needs a file name ending in .json or .csv, got '%s'", value);
            return 0;
        }
        job->summary_path = value;
    } else if (strcmp(arg, "--plot") == 0) {
        if (!has_extension(value, ".png")) {
            cli_error("evaluate: --plot needs a file name ending in .png, got '%s'", value);
            return 0;
        }
        job->plot_path = value;
    }
    return 1;
}

/* Returns -1 to continue, else an exit status. */
static int parse_options(int argc, char **argv, eval_job *job, char **inputs, int *input_count) {
    cli_method_choice methods;
    cli_method_choice_init(&methods);
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i];
        if (strcmp(arg, "-h") == 0 || strcmp(arg, "--help") == 0) {
            print_help();
            return EXIT_OK;
        }
        if (strcmp(arg, "--recursive") == 0)
            job->recursive = 1;
        else if (strcmp(arg, "--quiet") == 0)
            job->quiet = 1;
        else if (arg[0] != '-' || arg[1] == '\0')
            inputs[(*input_count)++] = argv[i];
        else if (!takes_value(arg)) {
            cli_error("evaluate: unknown option '%s' (see `vitexplain evaluate --help`)", arg);
            return EXIT_USAGE;
        } else if (i + 1 >= argc) {
            cli_error("evaluate: %s needs a value", arg);
            return EXIT_USAGE;
        } else if (!parse_value_option(arg, argv[++i], job, &methods)) {
            return EXIT_USAGE;
        }
    }
    const int status = cli_method_choice_finish("evaluate", &methods, &job->options.explain);
    if (status >= 0) return status;
    if (*input_count == 0) {
        cli_error("evaluate: no INPUT given (see `vitexplain evaluate --help`)");
        return EXIT_USAGE;
    }
    struct stat info;
    if (job->masks_dir && (stat(job->masks_dir, &info) != 0 || !S_ISDIR(info.st_mode))) {
        cli_error("evaluate: --masks %s is not a folder", job->masks_dir);
        return EXIT_USAGE;
    }
    return -1;
}

/* The folder of an output file must exist and take files, so that a typo fails before hours of work. */
static int output_folder_ok(const char *option, const char *path) {
    char folder[4096];
    snprintf(folder, sizeof folder, "%s", path);
    char *slash = strrchr(folder, '/');
    if (!slash)
        snprintf(folder, sizeof folder, ".");
    else if (slash == folder)
        folder[1] = '\0';
    else
        *slash = '\0';
    if (access(folder, W_OK) != 0) {
        cli_error("evaluate: cannot write %s %s: folder %s: %s", option, path, folder, strerror(errno));
        return 0;
    }
    return 1;
}

static int prepare_outputs(const eval_job *job) {
    if (job->summary_path && !output_folder_ok("--summary", job->summary_path)) return 0;
    if (job->plot_path && !output_folder_ok("--plot", job->plot_path)) return 0;
    if (job->maps_dir && (vte_make_dirs(job->maps_dir) != 0 || access(job->maps_dir, W_OK) != 0)) {
        cli_error("evaluate: cannot write into --save-maps folder %s: %s", job->maps_dir, strerror(errno));
        return 0;
    }
    return 1;
}

/* ---------------------------------------------------------------- the run */

typedef struct run_state {
    const eval_job *job;
    cli_labels labels;
    vte_runtime *rt;
    vte_model *model;
    cli_model_choice model_choice;
    vte_session *session;
    cli_batch batch; /* one image at a time: a curve already fills the device */
    float *coverage; /* [patches] of the image in hand */
    cli_progress progress;
    cli_eval_report report;
    cli_selection todo; /* the inputs this run evaluates: all, or its shard's */
    char **map_stems;   /* --save-maps: the maps' stem of every input of the whole list */
    size_t map_stem_count;
    int failures;
    int failed_in_batch;
} run_state;

static void report_error(run_state *st, const char *message) {
    cli_progress_clear(&st->progress);
    cli_error("%s", message);
}

/* An input that cannot be decoded: reported, recorded in the summary, counted, skipped. */
static void report_load_failure(void *context, size_t position, const char *path, const char *message) {
    run_state *st = context;
    report_error(st, message);
    cli_eval_record *r = cli_eval_report_add(&st->report, st->todo.positions[position], path);
    if (r) cli_eval_record_set_error(r, message);
    st->failures++;
    st->failed_in_batch++;
}

/* Runtime, model, session; an exit status on failure (reported), else -1. */
static int open_engine(run_state *st) {
    const eval_job *job = st->job;
    vte_error err = {0};
    vte_runtime_params params = {.device = job->device};
    if (!(st->rt = vte_runtime_init(&params, &err))) {
        cli_error("%s", err.message);
        return EXIT_SETUP;
    }
    if (!(st->model = cli_model_load(st->rt, job->model_dir, job->quiet, &st->model_choice))) return EXIT_SETUP;
    if (job->labels_path && !cli_labels_resolve(&st->labels, st->model)) return EXIT_USAGE;
    const vte_model_config *c = vte_model_get_config(st->model);
    const int patches = c->grid_h * c->grid_w;
    if (job->options.step > patches) {
        cli_error("evaluate: --step %d, but the model has %d patches", job->options.step, patches);
        return EXIT_USAGE;
    }
    const int points = vte_curve_points(patches, job->options.step);
    const int batch = job->batch && job->batch < points ? job->batch : points;
    /* The curves' forward passes keep nothing; the maps keep what their methods need (vte_session_explain). */
    if (!(st->session = vte_session_init_keeping(st->model, batch, 0, &err))) {
        cli_error("%s", err.message);
        return EXIT_SETUP;
    }
    if (!cli_batch_init(&st->batch, st->model, 1, 1, &job->load_options, 0)) return EXIT_SETUP;
    if (!(st->coverage = malloc((size_t)patches * sizeof *st->coverage))) {
        cli_error("out of memory");
        return EXIT_SETUP;
    }
    cli_eval_report *r = &st->report;
    r->model = st->model;
    r->model_name = st->model_choice.spec;
    r->labels_path = job->labels_path;
    r->masks_dir = job->masks_dir;
    r->options = job->options;
    r->options.batch = batch;
    r->patches = patches;
    r->step = vte_curve_step(patches, job->options.step);
    r->points = points;
    return -1;
}

/* The image's mask, when --masks has one, as patch coverage in st->coverage. Returns 1 with a mask, 0 without,
 * -1 after recording why it cannot be used. */
static int load_mask(run_state *st, const char *path, const vte_image *image, cli_eval_record *record) {
    if (!st->job->masks_dir) return 0;
    char stem[1024], mask_path[4200], message[VTE_ERROR_MESSAGE_SIZE + 4300];
    cli_stem(path, stem, sizeof stem);
    snprintf(mask_path, sizeof mask_path, "%s/%s.png", st->job->masks_dir, stem);
    if (access(mask_path, F_OK) != 0) return 0;
    vte_image mask = {0};
    vte_error err = {0};
    vte_status status = vte_image_load_with_options(mask_path, &st->job->load_options, &mask, &err);
    if (!status && (mask.width != image->width || mask.height != image->height))
        status = vte_error_set(&err, VTE_ERR_INVALID_ARGUMENT, "%s: the mask is %dx%d but its image %s is %dx%d",
                               mask_path, mask.width, mask.height, path, image->width, image->height);
    if (!status && (status = vte_mask_coverage(st->model, &mask, st->coverage, &err)))
        vte_error_prefix(&err, "%s", mask_path);
    vte_image_free(&mask);
    if (status) {
        snprintf(message, sizeof message, "%s", err.message);
        report_error(st, message);
        cli_eval_record_set_error(record, message);
        return -1;
    }
    record->mask = strdup(mask_path);
    return 1;
}

/* --save-maps: every map the curves followed; 0 after reporting a file that could not be written. */
static int save_maps(run_state *st, const vte_evaluation *e, size_t index) {
    const vte_model_config *c = vte_model_get_config(st->model);
    const int64_t shape[2] = {c->grid_h, c->grid_w};
    char file[8192];
    const char *stem = st->map_stems[index];
    for (int m = 0; m < VTE_METHOD_COUNT; m++) {
        const float *map = vte_evaluation_map(e, 0, (vte_method)m);
        if (!map) continue;
        snprintf(file, sizeof file, "%s/%s_%s.npy", st->job->maps_dir, stem, vte_method_name((vte_method)m));
        vte_error err = {0};
        if (vte_npy_write_f32(file, map, 2, shape, &err)) {
            report_error(st, err.message);
            return 0;
        }
    }
    return 1;
}

/* A map that came out all zeros changes its patches in index order (top left first): said once per image. */
static void warn_flat_maps(run_state *st, const vte_evaluation *e, const char *path) {
    char names[256] = "";
    for (int m = 0; m < VTE_METHOD_COUNT; m++) {
        const float *map = vte_evaluation_map(e, 0, (vte_method)m);
        int flat = map != NULL;
        for (int p = 0; map && p < st->report.patches && flat; p++) flat = map[p] == 0.0f;
        if (!flat) continue;
        size_t used = strlen(names);
        snprintf(names + used, sizeof names - used, "%s%s", used ? ", " : "", vte_method_name((vte_method)m));
    }
    if (!names[0]) return;
    cli_progress_clear(&st->progress);
    cli_error("warning: %s: the %s map is all zeros: its curves change the patches in index order, top left first",
              path, names);
}

/* "images/cat.png → tabby cat (class 0, 0.53): deletion/insertion AUC rollout 0.41/0.52, ...; 272 inputs in
 * 1.2 s" */
static void print_image_line(const run_state *st, const cli_eval_record *r) {
    const vte_evaluation *e = r->result;
    const vte_prediction target = vte_evaluation_target(e, 0);
    printf("%s \u2192 %s (class %d, %.2f%s): deletion/insertion AUC", r->image,
           vte_model_label(st->model, target.class_id), target.class_id, (double)target.prob,
           r->class_given ? ", from --labels" : "");
    int rows[VTE_METHOD_COUNT + 2];
    const int n = cli_eval_report_rows(&st->report, rows);
    const char *separator = " ";
    for (int i = 0; i < n; i++) {
        if (rows[i] == VTE_EVALUATION_UNIFORM) continue;
        vte_evaluation_scores s = vte_evaluation_scores_of(e, 0, rows[i]);
        printf("%s%s %.3f/%.3f", separator, cli_eval_row_name(rows[i]), s.deletion_auc, s.insertion_auc);
        separator = ", ";
    }
    vte_evaluation_times t = vte_evaluation_times_of(e);
    printf("; %ld inputs in %.1f s\n", t.curve_inputs, t.curves_ms / 1000.0);
    fflush(stdout);
}

/* 1 when the evaluated class's probability, every map and every AUC are finite numbers. Finite weights that
 * overflow on some input give NaN or infinities: that image fails with its reason instead of being averaged in. */
static int evaluation_finite(const run_state *st, const vte_evaluation *e) {
    const vte_prediction target = vte_evaluation_target(e, 0);
    if (!isfinite(target.prob) || !isfinite(target.logit)) return 0;
    for (int m = 0; m < VTE_METHOD_COUNT; m++) {
        const float *map = vte_evaluation_map(e, 0, (vte_method)m);
        for (int p = 0; map && p < st->report.patches; p++)
            if (!isfinite(map[p])) return 0;
    }
    int rows[VTE_METHOD_COUNT + 2];
    const int n = cli_eval_report_rows(&st->report, rows);
    for (int i = 0; i < n; i++) {
        if (rows[i] == VTE_EVALUATION_UNIFORM) continue; /* no curves */
        const vte_evaluation_scores s = vte_evaluation_scores_of(e, 0, rows[i]);
        if (!isfinite(s.deletion_auc) || !isfinite(s.insertion_auc)) return 0;
    }
    return 1;
}

/* Evaluates the image in hand; an exit status when the device fails, else -1. */
static int evaluate_image(run_state *st) {
    const char *path = st->batch.paths[0];
    const size_t index = st->todo.positions[st->batch.positions[0]];
    cli_eval_record *r = cli_eval_report_add(&st->report, index, path);
    if (!r) {
        cli_error("out of memory");
        return EXIT_SETUP;
    }
    const int masked = load_mask(st, path, &st->batch.images[0], r);
    if (masked < 0) {
        st->failures++;
        return -1;
    }
    const int class_id = st->job->labels_path ? cli_labels_find(&st->labels, path) : -1;
    r->class_given = class_id >= 0;
    const float *coverage[1] = {masked ? st->coverage : NULL};
    vte_error err = {0};
    r->result = vte_session_evaluate(st->session, st->batch.pixels, 1, &class_id, coverage, &st->report.options, &err);
    if (!r->result) {
        report_error(st, err.message);
        cli_eval_record_set_error(r, err.message);
        return EXIT_SETUP;
    }
    if (!evaluation_finite(st, r->result)) {
        char message[VTE_ERROR_MESSAGE_SIZE + 4200];
        snprintf(message, sizeof message,
                 "%s: the model's output holds NaN or infinity for this image (its weights overflow on it): nothing "
                 "of it is reported",
                 path);
        report_error(st, message);
        cli_eval_record_set_error(r, message);
        vte_evaluation_free(r->result);
        r->result = NULL;
        st->failures++;
        return -1;
    }
    warn_flat_maps(st, r->result, path);
    if (st->job->maps_dir && !save_maps(st, r->result, index)) st->failures++;
    if (!st->job->quiet) {
        cli_progress_clear(&st->progress);
        print_image_line(st, r);
    }
    return -1;
}

static void warn_unused_labels(run_state *st) {
    for (size_t i = 0; i < st->labels.count; i++)
        if (!st->labels.rows[i].used)
            cli_error("warning: --labels %s:%d: '%s' matches no input", st->labels.path, st->labels.rows[i].line,
                      st->labels.rows[i].image);
}

static void close_run(run_state *st) {
    cli_eval_report_free(&st->report);
    cli_labels_free(&st->labels);
    cli_batch_free(&st->batch);
    cli_stems_list_free(st->map_stems, st->map_stem_count);
    cli_selection_free(&st->todo);
    free(st->coverage);
    vte_session_free(st->session);
    vte_model_free(st->model);
    vte_runtime_free(st->rt);
}

/* The table, the summary and the plot of what was done; the exit status given the run's. */
static int finish(run_state *st, int exit_status, size_t input_count) {
    const eval_job *job = st->job;
    if (cli_interrupted())
        cli_error("evaluate: interrupted after %zu of %zu images; the results below are those of the images done",
                  st->progress.done, input_count);
    if (cli_eval_report_evaluated(&st->report) > 0) cli_eval_report_print_table(&st->report, stdout);
    fflush(stdout);
    if (job->summary_path && cli_eval_report_write_summary(&st->report, job->summary_path) != 0 &&
        exit_status == EXIT_OK)
        exit_status = EXIT_SOME_FAILED;
    if (job->plot_path && cli_eval_report_write_plot(&st->report, job->plot_path) != 0 && exit_status == EXIT_OK)
        exit_status = EXIT_SOME_FAILED;
    return exit_status;
}

static int evaluate_run(const eval_job *job, char **input_args, int input_count) {
    run_state st = {.job = job};
    if (job->labels_path && !cli_labels_read(job->labels_path, &st.labels)) return EXIT_USAGE;
    if (!prepare_outputs(job)) {
        cli_labels_free(&st.labels);
        return EXIT_SETUP;
    }
    cli_inputs inputs = {0};
    int exit_status =
        cli_collect_inputs(input_args, input_count, job->recursive, NULL, &inputs) ? EXIT_SOME_FAILED : EXIT_OK;
    if (inputs.count == 0) {
        cli_error("evaluate: no images to evaluate");
        cli_inputs_free(&inputs);
        cli_labels_free(&st.labels);
        return exit_status == EXIT_OK ? EXIT_USAGE : exit_status;
    }
    /* A shard with no inputs still opens the model: its summary says what the others' do (the protocol). */
    int stopped = cli_shard_select(&job->shard, &inputs, &st.todo) ? open_engine(&st) : EXIT_SETUP;
    if (stopped < 0) {
        cli_eval_report *report = &st.report;
        report->inputs = inputs.count;
        report->shard = job->shard;
        report->shard_images = st.todo.count;
        cli_inputs_fingerprint(&inputs, report->inputs_fingerprint);
        if (!job->quiet) cli_shard_notice(&job->shard, st.todo.count, inputs.count);
        /* Named over the whole list, so that each input's maps have one name in every shard. */
        if (job->maps_dir && !(st.map_stems = cli_stems_of_list(job->maps_dir, inputs.paths, inputs.count)))
            stopped = EXIT_SETUP;
        st.map_stem_count = inputs.count;
    }
    const int started = stopped < 0;
    if (started) {
        cli_progress_start(&st.progress, st.todo.count, job->quiet);
        cli_catch_interrupts();
        size_t next = 0;
        while (stopped < 0 && next < st.todo.count && !cli_interrupted()) {
            st.failed_in_batch = 0;
            if (cli_batch_load(&st.batch, st.model, st.todo.paths, st.todo.count, &next, report_load_failure, &st))
                stopped = evaluate_image(&st);
            cli_progress_advance(&st.progress, (size_t)st.batch.count + (size_t)st.failed_in_batch,
                                 (size_t)st.failed_in_batch);
        }
        cli_progress_finish(&st.progress);
        if (job->labels_path) warn_unused_labels(&st);
    }
    if (stopped >= 0)
        exit_status = stopped;
    else if (cli_interrupted())
        exit_status = EXIT_INTERRUPTED;
    else if (st.failures && exit_status == EXIT_OK)
        exit_status = EXIT_SOME_FAILED;
    if (started) exit_status = finish(&st, exit_status, st.todo.count);
    close_run(&st);
    cli_inputs_free(&inputs);
    return exit_status;
}

int cli_evaluate(int argc, char **argv) {
    eval_job job = {0};
    vte_evaluate_options_default(&job.options);
    char **inputs = calloc((size_t)argc, sizeof *inputs);
    if (!inputs) return EXIT_SETUP;
    int input_count = 0;
    int exit_status = parse_options(argc, argv, &job, inputs, &input_count);
    if (exit_status < 0) exit_status = evaluate_run(&job, inputs, input_count);
    free(inputs);
    return exit_status;
}
