/* vitexplain merge-summaries OUT.json PART.json...: the JSON summaries of a run's shards (--shard I/N) of explain or
 * evaluate joined into the summary one run over every input writes, after checking that they are the shards of one
 * run, all of them, each image once. evaluate's counts and means are computed again over the joined images. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cli/cli.h"
#include "util/fileio.h"

static void print_help(void) {
    printf("Usage: vitexplain merge-summaries OUT.json PART.json...\n"
           "\n"
           "Joins the JSON --summary files of the shards of one `vitexplain explain --shard I/N` (or `evaluate\n"
           "--shard I/N`) run into OUT.json, the summary a single run over every input would have written: the\n"
           "images in the order of the input list, the run's fields once, no \"shard\"; for evaluate the counts\n"
           "and the means of every score computed again over all the images (from the parts' 7 digits, so the\n"
           "last digit of a mean can differ from a single run's). It checks first, and writes nothing when:\n"
           "  - a part is not a summary, or the parts are of different runs (model, methods, method options,\n"
           "    classes, vitexplain version, or input list differ);\n"
           "  - a shard is missing, given twice, or of another count of shards;\n"
           "  - a shard's summary lacks some of its images (its run was interrupted: run that shard again, with\n"
           "    --skip-existing to keep what it did);\n"
           "  - an image is in two parts, or an input is in none.\n"
           "Per-image times are kept as each shard measured them. evaluate's --plot is not merged.\n"
           "Exit status: 0 merged; 1 the parts do not make one whole run (each problem reported, nothing\n"
           "written); 2 usage error; 3 OUT cannot be written.\n");
}

typedef struct part {
    const char *path;
    json_t *root;
    const json_t *images;
    const json_t *shard; /* NULL: a whole run */
    int shard_index, shard_count;
    json_int_t shard_images;
} part;

/* A value, short, for a message. */
static void describe(const json_t *value, char *out, size_t size) {
    char *text = value ? json_dumps(value, JSON_COMPACT | JSON_ENCODE_ANY) : NULL;
    if (!text) snprintf(out, size, "none");
    else if (strlen(text) > 80) snprintf(out, size, "%.77s...", text);
    else snprintf(out, size, "%s", text);
    free(text);
}

/* Reads one part and what merging needs of it; 0 after reporting what is wrong. */
static int load_part(part *p, const char *path) {
    memset(p, 0, sizeof *p);
    p->path = path;
    json_error_t jerr;
    if (!(p->root = json_load_file(path, 0, &jerr))) {
        cli_error("merge-summaries: %s: cannot read it as JSON: %s (line %d)", path, jerr.text, jerr.line);
        return 0;
    }
    p->images = json_object_get(p->root, "images");
    const char *command = json_string_value(json_object_get(p->root, "command"));
    if (!json_is_array(p->images) || !json_is_integer(json_object_get(p->root, "inputs")) || !command) {
        cli_error("merge-summaries: %s: not the JSON --summary of a `vitexplain explain` or `evaluate` run (it has "
                  "no \"images\", \"command\" or \"inputs\"; a vitexplain older than merge-summaries does not write "
                  "them)",
                  path);
        return 0;
    }
    if (strcmp(command, "explain") != 0 && strcmp(command, "evaluate") != 0) {
        cli_error("merge-summaries: %s: a summary of `vitexplain %s`; those of explain and evaluate are merged", path,
                  command);
        return 0;
    }
    if ((p->shard = json_object_get(p->root, "shard"))) {
        if (json_unpack((json_t *)p->shard, "{s:i, s:i, s:I}", "index", &p->shard_index, "count", &p->shard_count,
                        "images", &p->shard_images) != 0 ||
            p->shard_count < 1 || p->shard_index < 0 || p->shard_index >= p->shard_count) {
            cli_error("merge-summaries: %s: its \"shard\" is not {\"index\": I, \"count\": N, \"images\": K}", path);
            return 0;
        }
    }
    return 1;
}

/* The fields a run derives from its own images (evaluate's counts and means): they differ between shards, and are
 * computed again over the joined images. */
static int derived_field(const char *key) {
    return strcmp(key, "evaluated") == 0 || strcmp(key, "masked") == 0 || strcmp(key, "mean") == 0;
}

/* 1 when every field of the two parts but "shard", "images" and the derived ones is the same; else reports the
 * first that is not. */
static int same_run(const part *a, const part *b) {
    for (int pass = 0; pass < 2; pass++) { /* a's fields in b, then fields only b has */
        const part *x = pass ? b : a, *y = pass ? a : b;
        const char *key;
        json_t *value;
        json_object_foreach(x->root, key, value) {
            if (strcmp(key, "shard") == 0 || strcmp(key, "images") == 0 || derived_field(key)) continue;
            const json_t *other = json_object_get(y->root, key);
            if (other && json_equal(value, (json_t *)other)) continue;
            char one[100], two[100];
            describe(json_object_get(a->root, key), one, sizeof one);
            describe(json_object_get(b->root, key), two, sizeof two);
            cli_error("merge-summaries: %s and %s are not parts of one run: their \"%s\" differs (%s and %s)", a->path,
                      b->path, key, one, two);
            return 0;
        }
    }
    return 1;
}

/* The shards: all or none of the parts are shards, of one count, each index once, none missing, each whole. */
static int shards_complete(const part *parts, int count) {
    int ok = 1;
    const part *first = &parts[0];
    for (int i = 1; i < count; i++) {
        const part *p = &parts[i];
        if (!first->shard != !p->shard) {
            const part *sharded = first->shard ? first : p, *whole = first->shard ? p : first;
            cli_error("merge-summaries: %s is shard %d/%d but %s is a run over every input", sharded->path,
                      sharded->shard_index, sharded->shard_count, whole->path);
            return 0;
        }
        if (p->shard && p->shard_count != first->shard_count) {
            cli_error("merge-summaries: %s is shard %d/%d but %s is shard %d/%d: the parts of one run have one count",
                      first->path, first->shard_index, first->shard_count, p->path, p->shard_index, p->shard_count);
            return 0;
        }
    }
    if (!first->shard) return 1;
    const int shards = first->shard_count;
    const part **by_index = calloc((size_t)shards, sizeof *by_index);
    if (!by_index) {
        cli_error("out of memory");
        return 0;
    }
    for (int i = 0; i < count; i++) {
        const part *p = &parts[i];
        if (by_index[p->shard_index]) {
            cli_error("merge-summaries: %s and %s are both shard %d/%d", by_index[p->shard_index]->path, p->path,
                      p->shard_index, shards);
            ok = 0;
            continue;
        }
        by_index[p->shard_index] = p;
        const size_t listed = json_array_size(p->images);
        if ((json_int_t)listed != p->shard_images) {
            cli_error("merge-summaries: %s (shard %d/%d) lists %zu of its %lld images: its run did not finish; run "
                      "that shard again (--skip-existing keeps what it did)",
                      p->path, p->shard_index, shards, listed, (long long)p->shard_images);
            ok = 0;
        }
    }
    int missing = 0;
    char list[256] = "";
    for (int s = 0; s < shards; s++) {
        if (by_index[s]) continue;
        const size_t used = strlen(list);
        if (used < sizeof list - 24) snprintf(list + used, sizeof list - used, "%s%d", missing ? ", " : "", s);
        missing++;
    }
    if (missing) {
        cli_error("merge-summaries: %d of the %d shards %s missing: %s%s (each of 0 to %d must be given once)", missing,
                  shards, missing == 1 ? "is" : "are", list, strlen(list) >= sizeof list - 24 ? ", ..." : "",
                  shards - 1);
        ok = 0;
    }
    free(by_index);
    return ok;
}

/* The images of every part by input index, each once; NULL after reporting duplicates or gaps. */
static const json_t **join_images(const part *parts, int count, size_t inputs) {
    const json_t **by_index = calloc(inputs ? inputs : 1, sizeof *by_index);
    const part **from = calloc(inputs ? inputs : 1, sizeof *from);
    int ok = by_index && from;
    if (!ok) cli_error("out of memory");
    for (int i = 0; ok && i < count; i++) {
        size_t k;
        json_t *record;
        json_array_foreach(parts[i].images, k, record) {
            const json_t *index = json_object_get(record, "index");
            const char *image = json_string_value(json_object_get(record, "image"));
            if (!json_is_integer(index) || json_integer_value(index) < 0 ||
                (size_t)json_integer_value(index) >= inputs) {
                cli_error("merge-summaries: %s: image %zu (%s) has no input index from 0 to %zu", parts[i].path, k,
                          image ? image : "no \"image\"", inputs - 1);
                ok = 0;
                continue;
            }
            const size_t at = (size_t)json_integer_value(index);
            if (by_index[at]) {
                cli_error("merge-summaries: image %s (input %zu) is in both %s and %s", image ? image : "?", at,
                          from[at]->path, parts[i].path);
                ok = 0;
                continue;
            }
            by_index[at] = record;
            from[at] = &parts[i];
        }
    }
    size_t missing = 0;
    char list[256] = "";
    for (size_t at = 0; ok && at < inputs; at++) {
        if (by_index[at]) continue;
        const size_t used = strlen(list);
        if (used < sizeof list - 24) snprintf(list + used, sizeof list - used, "%s%zu", missing ? ", " : "", at);
        missing++;
    }
    if (missing) {
        cli_error("merge-summaries: %zu of the run's %zu inputs %s in no part (input %s%s, by position in the run's "
                  "input list from 0): give every shard's summary",
                  missing, inputs, missing == 1 ? "is" : "are", list, strlen(list) >= sizeof list - 24 ? ", ..." : "");
        ok = 0;
    }
    free(from);
    if (!ok) {
        free(by_index);
        return NULL;
    }
    return by_index;
}

/* ---------------------------------------------------------------- evaluate's counts and means */

static const char *const SCORES[] = {"deletion_auc", "insertion_auc", "pointing_game", "share"};
#define SCORE_COUNT (sizeof SCORES / sizeof SCORES[0])

static int is_ok(const json_t *record) {
    const char *status = json_string_value(json_object_get(record, "status"));
    return status && strcmp(status, "ok") == 0;
}

/* "evaluated", "masked" and "mean" over the joined images, as evaluate_report.c computes them: the rows are the
 * methods, the random order when it was run, the uniform map when some image had a mask; a score is averaged over
 * the images where it is defined (not null). A run where some image has a mask gives every image the uniform row
 * (all null without a mask): an image from a shard without masks gets it here. */
static json_t *evaluate_derived(const json_t *root, const json_t **images, size_t inputs) {
    json_int_t evaluated = 0, masked = 0;
    for (size_t at = 0; at < inputs; at++) {
        if (!is_ok(images[at])) continue;
        evaluated++;
        const json_t *mask = json_object_get(images[at], "mask");
        masked += mask && !json_is_null(mask);
    }
    json_t *rows = json_deep_copy(json_object_get(root, "methods"));
    if (!json_is_array(rows)) rows = json_array();
    const json_t *seeds = json_object_get(json_object_get(root, "protocol"), "random_seeds");
    if (json_integer_value(seeds) > 0) json_array_append_new(rows, json_string("random"));
    if (masked) {
        json_array_append_new(rows, json_string("uniform"));
        for (size_t at = 0; at < inputs; at++) {
            json_t *record_rows = json_object_get(images[at], "rows");
            if (!is_ok(images[at]) || !json_is_object(record_rows) || json_object_get(record_rows, "uniform")) continue;
            json_object_set_new(record_rows, "uniform",
                                json_pack("{s:n, s:n, s:n, s:n}", SCORES[0], SCORES[1], SCORES[2], SCORES[3]));
        }
    }
    json_t *mean = json_object();
    size_t r;
    json_t *row;
    json_array_foreach(rows, r, row) {
        const char *name = json_string_value(row);
        if (!name) continue;
        json_t *scores = json_object();
        for (size_t k = 0; k < SCORE_COUNT; k++) {
            double sum = 0;
            long count = 0;
            for (size_t at = 0; at < inputs; at++) {
                const json_t *value = json_object_get(json_object_get(json_object_get(images[at], "rows"), name),
                                                      SCORES[k]);
                if (!is_ok(images[at]) || !json_is_number(value)) continue;
                sum += json_number_value(value);
                count++;
            }
            json_object_set_new(scores, SCORES[k], count ? json_real(sum / (double)count) : json_null());
        }
        json_object_set_new(mean, name, scores);
    }
    json_decref(rows);
    return json_pack("{s:I, s:I, s:o}", "evaluated", evaluated, "masked", masked, "mean", mean);
}

/* ---------------------------------------------------------------- the merged file */

/* OUT: the first part's fields but its shard (evaluate's counts and means computed again), then every image in
 * input order. 0 after reporting. */
static int write_merged(const char *path, const part *first, const json_t **images, size_t inputs) {
    const int evaluate = strcmp(json_string_value(json_object_get(first->root, "command")), "evaluate") == 0;
    json_t *derived = evaluate ? evaluate_derived(first->root, images, inputs) : json_object();
    json_t *root = json_object(), *list = json_array();
    const char *key;
    json_t *value;
    json_object_foreach(first->root, key, value) {
        if (strcmp(key, "shard") == 0 || strcmp(key, "images") == 0) continue;
        json_t *again = json_object_get(derived, key);
        json_object_set(root, key, again ? again : value);
    }
    json_decref(derived);
    for (size_t at = 0; at < inputs; at++) json_array_append(list, (json_t *)images[at]);
    json_object_set_new(root, "images", list);
    /* As explain and evaluate write their summaries (summary.c, evaluate_report.c): the merge reads like a run's. */
    char *text = json_dumps(root, JSON_INDENT(2) | JSON_REAL_PRECISION(evaluate ? 7 : 6));
    json_decref(root);
    vte_error err = {0};
    size_t length = text ? strlen(text) : 0;
    if (text) text[length++] = '\n'; /* in the NUL's place: the file is written by length */
    const int ok = text && vte_write_file_atomic(path, text, length, &err) == VTE_OK;
    if (!text) cli_error("merge-summaries: %s: cannot write: out of memory", path);
    else if (!ok) cli_error("merge-summaries: %s", err.message);
    free(text);
    return ok;
}

int cli_merge_summaries(int argc, char **argv) {
    const char *args[2] = {NULL, NULL};
    int arg_count = 0, first_part = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
            print_help();
            return EXIT_OK;
        }
        if (argv[i][0] == '-' && argv[i][1] != '\0') {
            cli_error("merge-summaries: unknown option '%s' (see `vitexplain merge-summaries --help`)", argv[i]);
            return EXIT_USAGE;
        }
        if (arg_count < 2) args[arg_count] = argv[i];
        if (arg_count++ == 1) first_part = i;
    }
    if (arg_count < 2) {
        cli_error("merge-summaries: needs OUT.json and at least one PART.json (see `vitexplain merge-summaries --help`)");
        return EXIT_USAGE;
    }
    const char *out = args[0], *dot = strrchr(out, '.');
    if (!dot || strcasecmp(dot, ".json") != 0) {
        cli_error("merge-summaries: OUT needs a file name ending in .json, got '%s'", out);
        return EXIT_USAGE;
    }
    const int count = argc - first_part;
    part *parts = calloc((size_t)count, sizeof *parts);
    if (!parts) {
        cli_error("out of memory");
        return EXIT_SETUP;
    }
    int ok = 1;
    for (int i = 0; i < count; i++) ok &= load_part(&parts[i], argv[first_part + i]);
    for (int i = 1; ok && i < count; i++) ok = same_run(&parts[0], &parts[i]);
    if (ok) ok = shards_complete(parts, count);
    const size_t inputs = ok ? (size_t)json_integer_value(json_object_get(parts[0].root, "inputs")) : 0;
    const json_t **images = ok ? join_images(parts, count, inputs) : NULL;
    int exit_status = images ? EXIT_OK : EXIT_SOME_FAILED;
    if (images && !write_merged(out, &parts[0], images, inputs)) exit_status = EXIT_SETUP;
    if (exit_status == EXIT_OK) {
        size_t done = 0, failed = 0, skipped = 0;
        for (size_t at = 0; at < inputs; at++) {
            const char *status = json_string_value(json_object_get(images[at], "status"));
            done += status && strcmp(status, "ok") == 0;
            failed += status && strcmp(status, "failed") == 0;
            skipped += status && strcmp(status, "skipped") == 0;
        }
        printf("%s: %zu image%s from %d part%s: %zu done, %zu failed, %zu skipped (outputs there, no record)\n", out,
               inputs, inputs == 1 ? "" : "s", count, count == 1 ? "" : "s", done, failed, skipped);
    }
    free(images);
    for (int i = 0; i < count; i++) json_decref(parts[i].root);
    free(parts);
    return exit_status;
}
