/* vitexplain classify: the top-K classes of each image. */
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/inputs.h"
#include "cli/shard.h"
#include "cli/summary.h"

static void print_help(void) {
    printf("Usage: vitexplain classify [--model DIR] [--topk K] [--json] [--batch N] [--device SPEC]\n"
           "                           [--max-pixels N] [--fast-decode] [--shard I/N] INPUT...\n"
           "\n"
           "Prints the K most likely classes of each image with their logits and probabilities. An INPUT is an\n"
           "image file or a folder of .jpg, .jpeg and .png files (--recursive: sub-folders too).\n"
           "\n"
           "  --model DIR    Hugging Face ViTForImageClassification folder (config.json, model.safetensors,\n"
           "                 optional preprocessor_config.json) or hub id found in the Hugging Face cache;\n"
           "                 default " MODEL_DEFAULT_HELP("                 ") "\n"
           "  --topk K       classes per image (default 5)\n"
           "  --json         one JSON object per line and image:\n"
           "                 {\"image\": PATH, \"top\": [{\"id\", \"label\", \"logit\", \"prob\"}, ...]}\n"
           "                 (a PATH that is not UTF-8 has U+FFFD for each bad byte, and its exact bytes\n"
           "                 in hex in \"image_bytes\")\n"
           "  --batch N      images per forward pass on the device (default 8)\n"
           "  --recursive    descend into sub-folders of folder inputs\n"
           "  --device SPEC  OpenCL device (see `vitexplain devices`)\n"
           CLI_IMAGE_OPTION_HELP(" ") CLI_FAST_DECODE_HELP(" ") CLI_SHARD_OPTION_HELP(" ")
           "\n"
           "With --shard each run prints its own images; together the N shards print every image once.\n"
           "An image that cannot be read is reported on stderr and skipped.\n"
           "The first line on stderr names the model used.\n"
           "Exit status: 0 all images classified; 1 some images failed; 2 usage error; 3 set-up error.\n");
}

typedef struct classify_options {
    const char *model_dir;
    const char *device;
    int topk;
    int batch;
    int json;
    int recursive;
    vte_image_load_options load_options;
    int fast_decode;
    cli_shard shard;
    char **images;
    int image_count;
} classify_options;

/* Returns -1 to continue, else an exit status. */
static int parse_options(int argc, char **argv, classify_options *o) {
    o->topk = 5;
    o->batch = 8;
    o->images = calloc((size_t)argc, sizeof *o->images);
    if (!o->images) return EXIT_SETUP;
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i];
        int has_value = i + 1 < argc;
        if (strcmp(arg, "-h") == 0 || strcmp(arg, "--help") == 0) {
            print_help();
            return EXIT_OK;
        } else if (strcmp(arg, "--json") == 0) {
            o->json = 1;
        } else if (strcmp(arg, "--recursive") == 0) {
            o->recursive = 1;
        } else if (strcmp(arg, "--fast-decode") == 0) {
            o->fast_decode = 1;
        } else if (strcmp(arg, "--model") == 0 || strcmp(arg, "--topk") == 0 || strcmp(arg, "--batch") == 0 ||
                   strcmp(arg, "--device") == 0 || strcmp(arg, "--max-pixels") == 0 || strcmp(arg, "--shard") == 0) {
            if (!has_value) {
                cli_error("classify: %s needs a value", arg);
                return EXIT_USAGE;
            }
            const char *value = argv[++i];
            if (strcmp(arg, "--model") == 0) o->model_dir = value;
            else if (strcmp(arg, "--shard") == 0) {
                if (!cli_shard_parse("classify", value, &o->shard)) return EXIT_USAGE;
            }
            else if (strcmp(arg, "--device") == 0) o->device = value;
            else if (strcmp(arg, "--max-pixels") == 0) {
                if (!cli_parse_max_pixels("classify", value, &o->load_options)) return EXIT_USAGE;
            }
            else if (!cli_parse_int("classify", arg, value, 1, 100000, strcmp(arg, "--topk") == 0 ? &o->topk : &o->batch))
                return EXIT_USAGE;
        } else if (arg[0] == '-' && arg[1] != '\0') {
            cli_error("classify: unknown option '%s' (see `vitexplain classify --help`)", arg);
            return EXIT_USAGE;
        } else {
            o->images[o->image_count++] = argv[i];
        }
    }
    if (o->image_count == 0) {
        cli_error("classify: no INPUT given (see `vitexplain classify --help`)");
        return EXIT_USAGE;
    }
    return -1;
}

static void print_predictions(const vte_model *model, const char *path, const vte_prediction *top, int k, int json) {
    if (json) {
        json_t *list = json_array();
        for (int i = 0; i < k; i++)
            json_array_append_new(list, json_pack("{s:i, s:s, s:f, s:f}", "id", top[i].class_id, "label",
                                                  vte_model_label(model, top[i].class_id), "logit",
                                                  (double)top[i].logit, "prob", (double)top[i].prob));
        json_t *line = json_object(); /* a path that is not UTF-8 gets image_bytes too (cli_json_set_text) */
        cli_json_set_text(line, "image", path);
        json_object_set_new(line, "top", list);
        char *text = json_dumps(line, JSON_COMPACT | JSON_REAL_PRECISION(7));
        if (text) printf("%s\n", text);
        free(text);
        json_decref(line);
        return;
    }
    printf("%s\n", path);
    for (int i = 0; i < k; i++)
        printf("  %2d. %-40s (class %4d)  logit %9.4f  prob %.4f\n", i + 1, vte_model_label(model, top[i].class_id),
               top[i].class_id, (double)top[i].logit, (double)top[i].prob);
}

/* An input that cannot be read: reported, counted, skipped. */
static void report_failure(void *failures, size_t position, const char *path, const char *message) {
    (void)position;
    (void)path; /* the message names it */
    cli_error("%s", message);
    (*(int *)failures)++;
}

int cli_classify(int argc, char **argv) {
    classify_options o = {0};
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
    float *logits = NULL;
    vte_prediction *top = NULL;
    cli_batch batch = {0};
    cli_model_choice choice;
    cli_inputs inputs = {0};
    cli_selection todo = {0};
    if (cli_collect_inputs(o.images, o.image_count, o.recursive, NULL, &inputs)) exit_status = EXIT_SOME_FAILED;
    if (inputs.count == 0) {
        cli_error("classify: no images to classify");
        if (exit_status == EXIT_OK) exit_status = EXIT_USAGE;
        goto done;
    }
    if (!cli_shard_select(&o.shard, &inputs, &todo)) {
        exit_status = EXIT_SETUP;
        goto done;
    }
    if (todo.count == 0) { /* a shard of fewer inputs than shards: nothing to do, which is no error */
        cli_shard_notice(&o.shard, 0, inputs.count);
        goto done;
    }

    if (!(rt = vte_runtime_init(&params, &err))) {
        cli_error("%s", err.message);
        exit_status = EXIT_SETUP;
        goto done;
    }
    if (!(model = cli_model_load(rt, o.model_dir, 0, &choice))) {
        exit_status = EXIT_SETUP;
        goto done;
    }
    cli_shard_notice(&o.shard, todo.count, inputs.count);
    const vte_model_config *config = vte_model_get_config(model);
    int capacity = o.batch < (int)todo.count ? o.batch : (int)todo.count;
    if (!(session = vte_session_init_keeping(model, capacity, 0, &err))) { /* logits only: no layer kept */
        cli_error("%s", err.message);
        exit_status = EXIT_SETUP;
        goto done;
    }
    logits = malloc((size_t)capacity * (size_t)config->num_labels * sizeof *logits);
    top = malloc((size_t)o.topk * sizeof *top);
    if (!logits || !top) {
        cli_error("out of memory");
        exit_status = EXIT_SETUP;
        goto done;
    }
    if (!cli_batch_init(&batch, model, capacity, 0, &o.load_options, o.fast_decode)) {
        exit_status = EXIT_SETUP;
        goto done;
    }
    size_t next = 0;
    int failures = 0;
    while (next < todo.count) {
        int filled = cli_batch_load(&batch, model, todo.paths, todo.count, &next, report_failure, &failures);
        if (failures) exit_status = EXIT_SOME_FAILED;
        if (filled == 0) continue;
        if (vte_session_forward(session, batch.pixels, filled, &err) != VTE_OK ||
            vte_session_read_logits(session, logits, &err) != VTE_OK) {
            cli_error("%s", err.message);
            exit_status = EXIT_SETUP;
            goto done;
        }
        for (int i = 0; i < filled; i++) {
            const float *row = logits + (size_t)i * config->num_labels;
            int finite = 1;
            for (int c = 0; c < config->num_labels && finite; c++) finite = isfinite(row[c]);
            if (!finite) { /* finite weights that overflow on this input: no classes to report */
                cli_error("%s: the model's output holds NaN or infinity for this image (its weights overflow on it)",
                          batch.paths[i]);
                exit_status = EXIT_SOME_FAILED;
                continue;
            }
            int k = vte_top_k(row, config->num_labels, o.topk, top);
            print_predictions(model, batch.paths[i], top, k, o.json);
        }
        fflush(stdout);
    }
done:
    cli_batch_free(&batch);
    free(top);
    free(logits);
    vte_session_free(session);
    vte_model_free(model);
    vte_runtime_free(rt);
    cli_selection_free(&todo);
    cli_inputs_free(&inputs);
    free(o.images);
    return exit_status;
}
