/* The files `vitexplain explain` writes (outputs.h): names, folders, and one writer per output format. */
#include "cli/outputs.h"

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
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

int cli_outputs_any(const cli_explain_job *job) { return job->grid || any_map_output(job); }

/* One file of one target: a per-map format of a method, or the --grid picture. */
typedef struct target_file {
    vte_method method; /* of a per-map format */
    int format;        /* its index in MAP_OUTPUTS, or -1 for the grid */
    char path[4096];
} target_file;
#define TARGET_FILES_MAX (VTE_METHOD_COUNT * MAP_OUTPUT_COUNT + 1)

/* The files of one target, in the order they are written (and listed in the summary): for each method of
 * `methods` in the library's order, each per-map format the job asks for; then the grid. What is written and what
 * --skip-existing looks for are named here only. Returns their count. */
static int target_files(const cli_explain_job *job, unsigned methods, const char *stem, int name_class,
                        target_file *files) {
    int n = 0;
    for (int m = 0; m < VTE_METHOD_COUNT; m++) {
        if (!(methods & VTE_METHOD_BIT(m))) continue;
        for (size_t f = 0; f < MAP_OUTPUT_COUNT; f++) {
            if (!MAP_OUTPUTS[f].enabled(job)) continue;
            files[n].method = (vte_method)m;
            files[n].format = (int)f;
            method_output_path(job, (vte_method)m, stem, name_class, MAP_OUTPUTS[f].extension, files[n].path,
                               sizeof files[n].path);
            n++;
        }
    }
    if (job->grid && methods) {
        files[n].method = (vte_method)0;
        files[n].format = -1;
        output_path(job, GRID_FOLDER, "", stem, name_class, "png", files[n].path, sizeof files[n].path);
        n++;
    }
    return n;
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

/* The slot of `name` in the table, or the empty slot where it would go (linear probing). */
static size_t stem_slot(const cli_stems *stems, const char *name) {
    size_t slot = fnv1a(name) & (stems->slot_count - 1);
    while (stems->slots[slot] && strcmp(stems->names[stems->slots[slot] - 1], name) != 0)
        slot = (slot + 1) & (stems->slot_count - 1);
    return slot;
}

static int stem_taken(const cli_stems *stems, const char *name) {
    return stems->slot_count && stems->slots[stem_slot(stems, name)] != 0;
}

/* Adds a stem (taking `name`, which is freed when out of memory); the table stays at most half full. */
static void stem_add(cli_stems *stems, char *name) {
    if (!name) return;
    if (2 * (stems->count + 1) > stems->slot_count) {
        const size_t slot_count = stems->slot_count ? 2 * stems->slot_count : 128;
        size_t *slots = calloc(slot_count, sizeof *slots);
        if (!slots) {
            free(name);
            return;
        }
        free(stems->slots);
        stems->slots = slots;
        stems->slot_count = slot_count;
        for (size_t i = 0; i < stems->count; i++) stems->slots[stem_slot(stems, stems->names[i])] = i + 1;
    }
    char **grown = vte_array_grow(stems->names, &stems->capacity, stems->count, sizeof *grown, 64);
    if (!grown) {
        free(name);
        return;
    }
    stems->names = grown;
    stems->names[stems->count] = name;
    stems->slots[stem_slot(stems, name)] = ++stems->count;
}

/* Equal shortened stems are told apart the same way as equal short ones. */
void cli_stems_unique(cli_stems *stems, const char *path, char *stem, size_t size) {
    char full[1024], base[1024];
    cli_stem(path, full, sizeof full);
    cli_fit_stem(full, stems->limit, base, sizeof base);
    snprintf(stem, size, "%s", base);
    for (int n = 2; stem_taken(stems, stem); n++) snprintf(stem, size, "%s_%d", base, n);
    stem_add(stems, strdup(stem));
}

void cli_stems_free(cli_stems *stems) {
    for (size_t i = 0; i < stems->count; i++) free(stems->names[i]);
    free(stems->names);
    free(stems->slots);
    memset(stems, 0, sizeof *stems);
}

char **cli_stems_of_list(const char *folder, char *const *paths, size_t count) {
    char **list = calloc(count ? count : 1, sizeof *list);
    cli_stems stems;
    cli_stems_init(&stems, folder);
    char stem[1100];
    for (size_t i = 0; list && i < count; i++) {
        cli_stems_unique(&stems, paths[i], stem, sizeof stem);
        if (!(list[i] = strdup(stem))) {
            cli_stems_list_free(list, i);
            list = NULL;
        }
    }
    cli_stems_free(&stems);
    if (!list) cli_error("out of memory");
    return list;
}

void cli_stems_list_free(char **stems, size_t count) {
    for (size_t i = 0; stems && i < count; i++) free(stems[i]);
    free(stems);
}

/* ---------------------------------------------------------------- writing */

int cli_outputs_init(cli_outputs *outputs, const cli_explain_job *job, const vte_model *model, char *const *paths,
                     size_t count, cli_output_failure on_failure, void *context) {
    memset(outputs, 0, sizeof *outputs);
    outputs->job = job;
    outputs->model = model;
    outputs->on_failure = on_failure;
    outputs->context = context;
    outputs->stems = cli_stems_of_list(job->out_dir, paths, count);
    outputs->stem_count = count;
    return outputs->stems != NULL;
}

void cli_outputs_free(cli_outputs *outputs) {
    cli_stems_list_free(outputs->stems, outputs->stem_count);
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
                      const char *file, cli_record *record) {
    const vte_model_config *c = vte_model_get_config(o->model);
    vte_prediction top[5];
    const int k = vte_explanation_predictions(t->e, t->image_index, top, 5);
    char lines[6][1400], description[1024];
    const char *line_ptrs[6];
    snprintf(lines[0], sizeof lines[0], "%s: explaining %s (%.2f)", t->stem, t->label, (double)t->target.prob);
    line_ptrs[0] = lines[0];
    for (int j = 0; j < k; j++) {
        snprintf(lines[j + 1], sizeof lines[j + 1], "%d. %s %.2f", j + 1, vte_model_label(o->model, top[j].class_id),
                 (double)top[j].prob);
        line_ptrs[j + 1] = lines[j + 1];
    }
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
    char titles[VTE_METHOD_COUNT][64];
    const float *maps[VTE_METHOD_COUNT];
    vte_grid_panel panels[VTE_METHOD_COUNT];
    unsigned methods = 0;
    int panel_count = 0, failed = 0;
    for (int i = 0; i < VTE_METHOD_COUNT; i++) {
        maps[i] = vte_explanation_map(t->e, t->image_index, t->target_index, (vte_method)i);
        if (!maps[i]) continue; /* not requested */
        methods |= VTE_METHOD_BIT(i);
        method_title((vte_method)i, job->methods.compat_seed, titles[i], sizeof titles[i]);
        panels[panel_count++] = (vte_grid_panel){titles[i], maps[i]};
    }
    target_file files[TARGET_FILES_MAX];
    const int count = target_files(job, methods, t->stem, t->name_class, files);
    for (int k = 0; k < count; k++) {
        if (files[k].format < 0) {
            failed += write_grid(o, t, panels, panel_count, files[k].path, record);
            continue;
        }
        const vte_method m = files[k].method;
        const map_output_args args = {job,     o->model, m,       titles[m], maps[m], t->target,
                                      t->label, t->input_path, t->image};
        vte_error err = {0};
        failed += account(o, MAP_OUTPUTS[files[k].format].write(&args, files[k].path, &err), &err, files[k].path,
                          record);
    }
    return failed;
}

int cli_outputs_existing(const cli_outputs *o, size_t index, const int *name_classes, int target_count,
                         cli_record *record) {
    target_file files[TARGET_FILES_MAX];
    int complete = target_count > 0;
    for (int t = 0; t < target_count; t++) {
        const int count = target_files(o->job, o->job->methods.methods, o->stems[index], name_classes[t], files);
        complete &= count > 0;
        for (int k = 0; k < count; k++) {
            struct stat info;
            complete &= stat(files[k].path, &info) == 0 && S_ISREG(info.st_mode);
            cli_record_add_file(record, files[k].path);
        }
    }
    return complete;
}

int cli_outputs_write(cli_outputs *outputs, const vte_explanation *e, int i, size_t index, const char *path,
                      const vte_image *decoded, cli_record *record) {
    const cli_explain_job *job = outputs->job;
    const char *stem = outputs->stems[index];
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
