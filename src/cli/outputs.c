/* The files `vitexplain explain` writes (outputs.h): names, folders, and one writer per output format. */
#include "cli/outputs.h"

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "render/render.h"
#include "util/array.h"
#include "util/fileio.h"
#include "util/npy.h"

/* ---------------------------------------------------------------- the formats */

/* Everything a per-map writer may need: one map of one method for one target of one image. */
typedef struct map_output_args {
    const cli_explain_job *job;
    const vte_model *model;
    vte_method method;
    const char *title; /* the method's title as pictures show it */
    const float *map;  /* grid_h x grid_w, in [0, 1] */
    vte_prediction target;
    const char *label; /* the target's label */
    const char *input_path;
    const vte_image *image; /* the decoded input */
} map_output_args;

/* --save-raw: the grid map as float32 .npy [grid_h, grid_w]. */
static vte_status write_npy(const map_output_args *a, const char *file, vte_error *err) {
    const vte_model_config *c = vte_model_get_config(a->model);
    int64_t shape[2] = {c->grid_h, c->grid_w};
    return vte_npy_write_f32(file, a->map, 2, shape, err);
}

/* Pictures (default): the heat map over the image, titled, with the title and a description as PNG text. */
static vte_status write_overlay(const map_output_args *a, const char *file, vte_error *err) {
    const vte_model_config *c = vte_model_get_config(a->model);
    char title[512], description[1024];
    snprintf(title, sizeof title, "%s - %s (%.2f)", a->title, a->label, (double)a->target.prob);
    snprintf(description, sizeof description, "vitexplain %s; method %s; class %d (%s); probability %.4f; image %s",
             vte_version(), vte_method_name(a->method), a->target.class_id, a->label, (double)a->target.prob,
             a->input_path);
    vte_image overlay = {0};
    vte_status status = vte_render_overlay(a->image, a->map, c->grid_h, c->grid_w, a->job->alpha, title, &overlay, err);
    if (status == VTE_OK) status = vte_png_write(file, &overlay, title, description, err);
    vte_image_free(&overlay);
    return status;
}

static int wants_raw(const cli_explain_job *job) { return job->save_raw; }
static int wants_pictures(const cli_explain_job *job) { return job->pictures; }

/* Per-map formats, in the order they are written (and listed in the summary). */
static const struct map_output {
    const char *extension;
    int (*enabled)(const cli_explain_job *job);
    vte_status (*write)(const map_output_args *a, const char *file, vte_error *err);
} MAP_OUTPUTS[] = {
    {"npy", wants_raw, write_npy},
    {"png", wants_pictures, write_overlay},
};
#define MAP_OUTPUT_COUNT (sizeof MAP_OUTPUTS / sizeof MAP_OUTPUTS[0])

/* --grid: one picture per image and target, every method side by side. */
#define GRID_FOLDER "grid"

/* ---------------------------------------------------------------- names and folders */

/* The method's title, marked when the seed project's formulas are used. */
static void method_title(vte_method m, int compat, char *title, size_t size) {
    const vte_method_info *info = vte_method_info_of(m);
    snprintf(title, size, "%s%s", info->title, compat && info->has_seed_variant ? " (seed)" : "");
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
    const vte_method_info *info = vte_method_info_of(m);
    char prefix[32] = "";
    if (info->variant[0]) snprintf(prefix, sizeof prefix, "%s_", info->variant);
    output_path(job, info->family, prefix, stem, class_id, extension, path, size);
}

static int any_map_output(const cli_explain_job *job) {
    for (size_t f = 0; f < MAP_OUTPUT_COUNT; f++)
        if (MAP_OUTPUTS[f].enabled(job)) return 1;
    return 0;
}

/* Creates a folder and checks that it takes a file (permissions, read-only mounts). */
static int prepare_folder(const char *path) {
    if (vte_make_dirs(path) != 0) {
        cli_error("explain: cannot create output folder %s: %s", path, strerror(errno));
        return 0;
    }
    char probe[4200];
    snprintf(probe, sizeof probe, "%s/vitexplain-write-test", path);
    const int error = vte_write_probe(probe);
    if (error) {
        cli_error("explain: cannot write into output folder %s: %s", path, strerror(error));
        return 0;
    }
    return 1;
}

int cli_outputs_prepare(const cli_explain_job *job) {
    char path[4096];
    if (job->grid) {
        snprintf(path, sizeof path, "%s/%s", job->out_dir, GRID_FOLDER);
        if (!prepare_folder(path)) return 0;
    }
    for (int m = 0; m < VTE_METHOD_COUNT && any_map_output(job); m++) {
        if (!(job->methods.methods & VTE_METHOD_BIT(m))) continue;
        snprintf(path, sizeof path, "%s/%s", job->out_dir, vte_method_info_of((vte_method)m)->family);
        if (!prepare_folder(path)) return 0;
    }
    return 1;
}

/* What a stem's file names add to it, at most: the temporary name's "." and ".tmp-<pid>" (util/fileio.h; a pid has
 * at most 10 digits), "_c<ID>" and the de-duplication "_<n>" (ints, 10 digits each). */
#define TEMPORARY_NAME_EXTRA (sizeof "." - 1 + sizeof ".tmp-" - 1 + 10)
#define CLASS_SUFFIX_MAX (sizeof "_c" - 1 + 10)
#define DUPLICATE_SUFFIX_MAX (sizeof "_" - 1 + 10)
/* A shortened stem ends in "~" and 8 hex digits of the full stem's hash. */
#define STEM_HASH_LENGTH (sizeof "~" - 1 + 8)

/* The most bytes any output's file name, or its temporary, adds to the stem. Over every method and format, not
 * only those asked for, so that an input's stem does not depend on the options. */
static size_t name_bytes_beyond_stem(void) {
    size_t longest = strlen("_" GRID_FOLDER ".png");
    for (int m = 0; m < VTE_METHOD_COUNT; m++) {
        const vte_method_info *info = vte_method_info_of((vte_method)m);
        const size_t prefix = info->variant[0] ? strlen(info->variant) + 1 : 0;
        for (size_t f = 0; f < MAP_OUTPUT_COUNT; f++) {
            const size_t bytes = prefix + 1 + strlen(info->family) + 1 + strlen(MAP_OUTPUTS[f].extension);
            if (bytes > longest) longest = bytes;
        }
    }
    return longest + CLASS_SUFFIX_MAX + DUPLICATE_SUFFIX_MAX + TEMPORARY_NAME_EXTRA;
}

/* The longest stem all of whose file names fit in `folder`: its file system's name limit (NAME_MAX where it says
 * none), less what names add to the stem. */
static size_t stem_limit_in(const char *folder) {
    const long reported = pathconf(folder, _PC_NAME_MAX);
    const size_t name_max = reported > 0 && reported < NAME_MAX ? (size_t)reported : NAME_MAX;
    const size_t beyond = name_bytes_beyond_stem();
    return name_max > beyond ? name_max - beyond : 0;
}

/* 32-bit FNV-1a: short, stable across runs and platforms, enough to tell apart names that share their start. */
static uint32_t fnv1a(const char *text) {
    uint32_t hash = 2166136261u;
    for (const unsigned char *p = (const unsigned char *)text; *p; p++) hash = (hash ^ *p) * 16777619u;
    return hash;
}

void cli_fit_stem(const char *stem, size_t limit, char *fitted, size_t size) {
    const size_t length = strlen(stem);
    if (length <= limit) {
        snprintf(fitted, size, "%s", stem);
        return;
    }
    size_t keep = limit > STEM_HASH_LENGTH ? limit - STEM_HASH_LENGTH : 0;
    /* Cut before a character, not inside one (a UTF-8 character has at most 3 continuation bytes). */
    for (int back = 0; back < 3 && keep > 0 && ((unsigned char)stem[keep] & 0xC0) == 0x80; back++) keep--;
    snprintf(fitted, size, "%.*s~%08" PRIx32, (int)keep, stem, fnv1a(stem));
}

void cli_stems_init(cli_stems *stems, const char *folder) {
    memset(stems, 0, sizeof *stems);
    stems->limit = stem_limit_in(folder);
}

/* Equal shortened stems are told apart the same way as equal short ones. */
void cli_stems_unique(cli_stems *stems, const char *path, char *stem, size_t size) {
    char full[1024], base[1024];
    cli_stem(path, full, sizeof full);
    cli_fit_stem(full, stems->limit, base, sizeof base);
    snprintf(stem, size, "%s", base);
    for (int n = 2;; n++) {
        size_t i = 0;
        while (i < stems->count && strcmp(stems->names[i], stem) != 0) i++;
        if (i == stems->count) break;
        snprintf(stem, size, "%s_%d", base, n);
    }
    char **grown = vte_array_grow(stems->names, &stems->capacity, stems->count, sizeof *grown, 64);
    if (!grown) return;
    stems->names = grown;
    stems->names[stems->count++] = strdup(stem);
}

void cli_stems_free(cli_stems *stems) {
    for (size_t i = 0; i < stems->count; i++) free(stems->names[i]);
    free(stems->names);
    memset(stems, 0, sizeof *stems);
}

/* ---------------------------------------------------------------- writing */

void cli_outputs_init(cli_outputs *outputs, const cli_explain_job *job, const vte_model *model,
                      cli_output_failure on_failure, void *context) {
    memset(outputs, 0, sizeof *outputs);
    outputs->job = job;
    outputs->model = model;
    outputs->on_failure = on_failure;
    outputs->context = context;
    cli_stems_init(&outputs->stems, job->out_dir);
}

void cli_outputs_free(cli_outputs *outputs) {
    cli_stems_free(&outputs->stems);
    memset(outputs, 0, sizeof *outputs);
}

/* Records a written file, or reports why it was not; returns 1 for a failure. */
static int account(cli_outputs *o, vte_status status, const vte_error *err, const char *file, cli_record *record) {
    if (status != VTE_OK) {
        o->on_failure(o->context, err->message);
        return 1;
    }
    cli_record_add_file(record, file);
    return 0;
}

/* One target of one image, as every file of it is named and titled. */
typedef struct target_context {
    const vte_explanation *e;
    int image_index, target_index;
    const char *input_path;
    const vte_image *image;
    const char *stem;
    int name_class; /* the class id in file names (_c<ID>), or -1 */
    vte_prediction target;
    const char *label;
} target_context;

/* The --grid picture of one target: the image and every method's map, a header with the top classes. */
static int write_grid(cli_outputs *o, const target_context *t, const vte_grid_panel *panels, int panel_count,
                      cli_record *record) {
    const vte_model_config *c = vte_model_get_config(o->model);
    vte_prediction top[5];
    const int k = vte_explanation_predictions(t->e, t->image_index, top, 5);
    char lines[6][1400], file[4096], description[1024];
    const char *line_ptrs[6];
    snprintf(lines[0], sizeof lines[0], "%s: explaining %s (%.2f)", t->stem, t->label, (double)t->target.prob);
    line_ptrs[0] = lines[0];
    for (int j = 0; j < k; j++) {
        snprintf(lines[j + 1], sizeof lines[j + 1], "%d. %s %.2f", j + 1, vte_model_label(o->model, top[j].class_id),
                 (double)top[j].prob);
        line_ptrs[j + 1] = lines[j + 1];
    }
    output_path(o->job, GRID_FOLDER, "", t->stem, t->name_class, "png", file, sizeof file);
    snprintf(description, sizeof description, "vitexplain %s; grid; class %d (%s); image %s", vte_version(),
             t->target.class_id, t->label, t->input_path);
    vte_image grid = {0};
    vte_error err = {0};
    vte_status status = vte_render_grid(t->image, panels, panel_count, c->grid_h, c->grid_w, o->job->alpha,
                                        line_ptrs, k + 1, &grid, &err);
    if (status == VTE_OK) status = vte_png_write(file, &grid, lines[0], description, &err);
    vte_image_free(&grid);
    return account(o, status, &err, file, record);
}

/* Every per-map format of every method of one target, then its grid. Returns the files that failed. */
static int write_target(cli_outputs *o, const target_context *t, cli_record *record) {
    const cli_explain_job *job = o->job;
    char titles[VTE_METHOD_COUNT][64], file[4096];
    vte_grid_panel panels[VTE_METHOD_COUNT];
    int panel_count = 0, failed = 0;
    for (int i = 0; i < VTE_METHOD_COUNT; i++) {
        const vte_method m = (vte_method)i;
        const float *map = vte_explanation_map(t->e, t->image_index, t->target_index, m);
        if (!map) continue; /* not requested */
        method_title(m, job->methods.compat_seed, titles[i], sizeof titles[i]);
        panels[panel_count++] = (vte_grid_panel){titles[i], map};
        const map_output_args args = {job, o->model, m, titles[i], map, t->target, t->label, t->input_path, t->image};
        for (size_t f = 0; f < MAP_OUTPUT_COUNT; f++) {
            if (!MAP_OUTPUTS[f].enabled(job)) continue;
            method_output_path(job, m, t->stem, t->name_class, MAP_OUTPUTS[f].extension, file, sizeof file);
            vte_error err = {0};
            failed += account(o, MAP_OUTPUTS[f].write(&args, file, &err), &err, file, record);
        }
    }
    if (job->grid && panel_count) failed += write_grid(o, t, panels, panel_count, record);
    return failed;
}

int cli_outputs_write(cli_outputs *outputs, const vte_explanation *e, int i, const char *path,
                      const vte_image *decoded, cli_record *record) {
    const cli_explain_job *job = outputs->job;
    char stem[1100];
    cli_stems_unique(&outputs->stems, path, stem, sizeof stem);
    /* Pictures of small images are drawn on the image enlarged by a whole factor, nearest neighbour. */
    vte_image enlarged = {0};
    const vte_image *image = decoded;
    const int factor = vte_render_enlarge_factor(decoded, CLI_PICTURE_MIN_SIDE);
    if (factor > 1 && (job->pictures || job->grid)) {
        vte_error err = {0};
        if (vte_render_enlarge_nearest(decoded, factor, &enlarged, &err) != VTE_OK) {
            outputs->on_failure(outputs->context, err.message);
            return 1;
        }
        image = &enlarged;
    }
    /* With several targets (--topk, --class) every name carries the class. */
    const int class_in_names = job->topk > 0 || job->class_count > 0;
    int failed = 0;
    for (int t = 0; t < vte_explanation_target_count(e); t++) {
        const vte_prediction target = vte_explanation_target(e, i, t);
        const target_context context = {e, i, t, path, image, stem, class_in_names ? target.class_id : -1, target,
                                        vte_model_label(outputs->model, target.class_id)};
        failed += write_target(outputs, &context, record);
    }
    vte_image_free(&enlarged);
    return failed;
}
