/* What `vitexplain evaluate` reports (evaluate_report.h): the records, their means, the table, the summary and
 * the plot. */
#include "cli/evaluate_report.h"

#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cli/cli.h"
#include "util/array.h"
#include "cli/summary.h"
#include "render/plot.h"
#include "render/render.h"

/* ---------------------------------------------------------------- records */

cli_eval_record *cli_eval_report_add(cli_eval_report *r, size_t index, const char *image) {
    cli_eval_record *grown = vte_array_grow(r->records, &r->capacity, r->count, sizeof *grown, 64);
    if (!grown) return NULL;
    r->records = grown;
    cli_eval_record *record = &r->records[r->count++];
    memset(record, 0, sizeof *record);
    record->index = index;
    record->image = strdup(image);
    return record;
}

void cli_eval_record_set_error(cli_eval_record *record, const char *message) {
    free(record->error);
    record->error = strdup(message);
}

void cli_eval_report_free(cli_eval_report *r) {
    for (size_t i = 0; i < r->count; i++) {
        free(r->records[i].image);
        free(r->records[i].error);
        free(r->records[i].mask);
        vte_evaluation_free(r->records[i].result);
    }
    free(r->records);
    r->records = NULL;
    r->count = r->capacity = 0;
}

/* ---------------------------------------------------------------- rows and means */

/* The abscissa of point k: the fraction of patches changed (docs/evaluation.md#steps-and-points). */
static double abscissa(const cli_eval_report *r, int k) {
    const long long changed = (long long)k * r->step;
    return (double)(changed < r->patches ? changed : r->patches) / r->patches;
}

int cli_eval_report_evaluated(const cli_eval_report *r) {
    int n = 0;
    for (size_t i = 0; i < r->count; i++) n += r->records[i].result != NULL;
    return n;
}

int cli_eval_report_masked(const cli_eval_report *r) {
    int n = 0;
    for (size_t i = 0; i < r->count; i++) n += r->records[i].result && vte_evaluation_has_mask(r->records[i].result, 0);
    return n;
}

int cli_eval_report_rows(const cli_eval_report *r, int *rows) {
    int n = 0;
    for (int m = 0; m < VTE_METHOD_COUNT; m++)
        if (r->options.explain.methods & VTE_METHOD_BIT(m)) rows[n++] = m;
    if (r->options.random_seeds > 0) rows[n++] = VTE_EVALUATION_RANDOM;
    if (cli_eval_report_masked(r) > 0) rows[n++] = VTE_EVALUATION_UNIFORM;
    return n;
}

const char *cli_eval_baseline_name(vte_baseline baseline) {
    switch (baseline) {
    case VTE_BASELINE_BLACK: return "black";
    case VTE_BASELINE_BLUR: return "blur";
    case VTE_BASELINE_MEAN: return "mean";
    }
    return NULL;
}

const char *cli_eval_row_name(int row) {
    if (row == VTE_EVALUATION_RANDOM) return "random";
    if (row == VTE_EVALUATION_UNIFORM) return "uniform";
    return vte_method_name((vte_method)row);
}

void cli_eval_row_title(const cli_eval_report *r, int row, char *title, size_t size) {
    if (row == VTE_EVALUATION_RANDOM) {
        snprintf(title, size, "random order");
        return;
    }
    if (row == VTE_EVALUATION_UNIFORM) {
        snprintf(title, size, "uniform map");
        return;
    }
    const vte_method_info *info = vte_method_info_of((vte_method)row);
    snprintf(title, size, "%s%s", info->title,
             r->options.explain.compat_seed && info->has_seed_variant ? " (seed)" : "");
}

/* Running mean of one score: NaN (not defined for that image) is left out. */
typedef struct mean_of {
    double sum;
    int count;
} mean_of;

static void mean_add(mean_of *m, double v) {
    if (isnan(v)) return;
    m->sum += v;
    m->count++;
}

static double mean_value(const mean_of *m) { return m->count ? m->sum / m->count : NAN; }

vte_evaluation_scores cli_eval_report_mean(const cli_eval_report *r, int row) {
    mean_of d = {0}, ins = {0}, pointing = {0}, share = {0};
    for (size_t i = 0; i < r->count; i++) {
        if (!r->records[i].result) continue;
        vte_evaluation_scores s = vte_evaluation_scores_of(r->records[i].result, 0, row);
        mean_add(&d, s.deletion_auc);
        mean_add(&ins, s.insertion_auc);
        mean_add(&pointing, s.pointing_game);
        mean_add(&share, s.share);
    }
    return (vte_evaluation_scores){mean_value(&d), mean_value(&ins), mean_value(&pointing), mean_value(&share)};
}

/* The mean curve of a row over the evaluated images; 0 when no image has one. */
static int mean_curve(const cli_eval_report *r, int row, vte_curve_kind kind, float *out) {
    int n = 0;
    for (int k = 0; k < r->points; k++) out[k] = 0;
    for (size_t i = 0; i < r->count; i++) {
        const float *curve = r->records[i].result ? vte_evaluation_curve(r->records[i].result, 0, row, kind) : NULL;
        if (!curve) continue;
        for (int k = 0; k < r->points; k++) out[k] += curve[k];
        n++;
    }
    for (int k = 0; k < r->points && n; k++) out[k] /= (float)n;
    return n;
}

/* ---------------------------------------------------------------- the table */

static void print_cell(FILE *out, double v, int width, int decimals) {
    if (isnan(v))
        fprintf(out, "%*s", width, "-");
    else
        fprintf(out, "%*.*f", width, decimals, v);
}

/* Right-aligned in `width` columns; UTF-8 continuation bytes take no column. */
static void print_header(FILE *out, const char *text, int width) {
    int columns = 0;
    for (const char *p = text; *p; p++) columns += ((unsigned char)*p & 0xC0) != 0x80;
    fprintf(out, "%*s%s", width > columns ? width - columns : 0, "", text);
}

void cli_eval_report_print_table(const cli_eval_report *r, FILE *out) {
    const int evaluated = cli_eval_report_evaluated(r), masked = cli_eval_report_masked(r);
    const vte_evaluate_options *o = &r->options;
    fprintf(out,
            "\nFaithfulness, mean over %d image%s (%s): %d patches, %d per step; deletion to %s, insertion from "
            "%s; %d random order%s; ",
            evaluated, evaluated == 1 ? "" : "s", r->model_name, r->patches, r->step,
            cli_eval_baseline_name(o->deletion_baseline), cli_eval_baseline_name(o->insertion_baseline),
            o->random_seeds, o->random_seeds == 1 ? "" : "s");
    if (masked)
        fprintf(out, "masks for %d image%s\n", masked, masked == 1 ? "" : "s");
    else
        fprintf(out, "no masks\n");
    /* The arrows say which way is more faithful. */
    fprintf(out, "%-16s", "");
    print_header(out, "deletion AUC \u2193", 17);
    print_header(out, "insertion AUC \u2191", 18);
    print_header(out, "pointing game \u2191", 18);
    print_header(out, "share on object \u2191", 20);
    fputc('\n', out);
    int rows[VTE_METHOD_COUNT + 2];
    const int n = cli_eval_report_rows(r, rows);
    for (int i = 0; i < n; i++) {
        char title[64];
        cli_eval_row_title(r, rows[i], title, sizeof title);
        vte_evaluation_scores s = cli_eval_report_mean(r, rows[i]);
        fprintf(out, "%-16s", title);
        print_cell(out, s.deletion_auc, 17, 3);
        print_cell(out, s.insertion_auc, 18, 3);
        print_cell(out, s.pointing_game, 18, 3);
        print_cell(out, s.share, 20, 3);
        fputc('\n', out);
    }
    fprintf(out, "Lower deletion AUC and higher insertion AUC, pointing game and share: more faithful.\n"
                 "A method at or below the random order or the uniform map is a finding (docs/evaluation.md).\n");
}

/* ---------------------------------------------------------------- the summary */

static json_t *number_or_null(double v) { return isnan(v) ? json_null() : json_real(v); }

static json_t *curve_json(const float *curve, int points) {
    json_t *a = json_array();
    for (int k = 0; curve && k < points; k++) json_array_append_new(a, json_real(curve[k]));
    return a;
}

static json_t *scores_json(const vte_evaluation_scores *s) {
    return json_pack("{s:o, s:o, s:o, s:o}", "deletion_auc", number_or_null(s->deletion_auc), "insertion_auc",
                     number_or_null(s->insertion_auc), "pointing_game", number_or_null(s->pointing_game), "share",
                     number_or_null(s->share));
}

static json_t *record_json(const cli_eval_report *r, const cli_eval_record *record) {
    json_t *item = json_object(); /* paths and messages that are not UTF-8 get a _bytes field (cli_json_set_text) */
    cli_json_set_text(item, "image", record->image);
    json_object_set_new(item, "index", json_integer((json_int_t)record->index));
    if (!record->result) {
        json_object_set_new(item, "status", json_string("failed"));
        cli_json_set_text(item, "error", record->error ? record->error : "not evaluated");
        return item;
    }
    const vte_evaluation *e = record->result;
    const vte_prediction target = vte_evaluation_target(e, 0);
    json_object_set_new(item, "status", json_string("ok"));
    json_object_set_new(item, "class",
                        json_pack("{s:i, s:s, s:f, s:s}", "id", target.class_id, "label",
                                  vte_model_label(r->model, target.class_id), "prob", (double)target.prob, "from",
                                  record->class_given ? "labels" : "top"));
    cli_json_set_text(item, "mask", record->mask); /* null without a mask */
    json_t *rows = json_object();
    int ids[VTE_METHOD_COUNT + 2];
    const int n = cli_eval_report_rows(r, ids);
    for (int i = 0; i < n; i++) {
        vte_evaluation_scores s = vte_evaluation_scores_of(e, 0, ids[i]);
        json_t *row = scores_json(&s);
        for (int kind = 0; kind < 2; kind++) {
            const float *curve = vte_evaluation_curve(e, 0, ids[i], (vte_curve_kind)kind);
            if (curve)
                json_object_set_new(row, kind == VTE_CURVE_DELETION ? "deletion_curve" : "insertion_curve",
                                    curve_json(curve, r->points));
        }
        json_object_set_new(rows, cli_eval_row_name(ids[i]), row);
    }
    json_object_set_new(item, "rows", rows);
    vte_evaluation_times t = vte_evaluation_times_of(e);
    json_object_set_new(item, "times_ms",
                        json_pack("{s:f, s:f, s:f, s:f, s:I}", "explain_forward", t.explain_forward_ms,
                                  "explain_backward", t.explain_backward_ms, "explanation", t.explain_ms, "curves",
                                  t.curves_ms, "curve_inputs", (json_int_t)t.curve_inputs));
    return item;
}

static char *to_json(const cli_eval_report *r) {
    const vte_evaluate_options *o = &r->options;
    json_t *xs = json_array();
    for (int k = 0; k < r->points; k++) json_array_append_new(xs, json_real(abscissa(r, k)));
    json_t *protocol =
        json_pack("{s:i, s:i, s:i, s:s, s:s, s:i, s:o}", "patches", r->patches, "step", r->step, "points", r->points,
                  "deletion_baseline", cli_eval_baseline_name(o->deletion_baseline), "insertion_baseline",
                  cli_eval_baseline_name(o->insertion_baseline), "random_seeds", o->random_seeds, "x", xs);
    json_t *images = json_array();
    for (size_t i = 0; i < r->count; i++) json_array_append_new(images, record_json(r, &r->records[i]));
    json_t *mean = json_object();
    int ids[VTE_METHOD_COUNT + 2];
    const int n = cli_eval_report_rows(r, ids);
    for (int i = 0; i < n; i++) {
        vte_evaluation_scores s = cli_eval_report_mean(r, ids[i]);
        json_object_set_new(mean, cli_eval_row_name(ids[i]), scores_json(&s));
    }
    json_t *root = json_pack("{s:s, s:s}", "vitexplain", vte_version(), "command", "evaluate");
    cli_json_set_text(root, "model", r->model_name); /* a folder, any bytes */
    /* What makes two runs' images comparable, for merge-summaries: the methods and their options, the classes and
     * masks given, the protocol, the input list. */
    json_t *methods = json_array();
    for (int m = 0; m < VTE_METHOD_COUNT; m++)
        if (o->explain.methods & VTE_METHOD_BIT(m))
            json_array_append_new(methods, json_string(vte_method_name((vte_method)m)));
    static const char *const fusions[] = {"mean", "max", "min"};
    json_object_set_new(root, "methods", methods);
    json_object_set_new(root, "method_options",
                        json_pack("{s:s, s:f, s:i, s:b}", "head_fusion", fusions[o->explain.rollout_fusion % 3],
                                  "discard_ratio", (double)o->explain.discard_ratio, "legrad_layers",
                                  o->explain.legrad_layers, "compat_seed", o->explain.compat_seed));
    cli_json_set_text(root, "labels", r->labels_path);
    cli_json_set_text(root, "masks", r->masks_dir);
    json_object_set_new(root, "protocol", protocol);
    json_object_set_new(root, "inputs", json_integer((json_int_t)r->inputs));
    json_object_set_new(root, "inputs_fingerprint", json_string(r->inputs_fingerprint));
    if (r->shard.count)
        json_object_set_new(root, "shard", json_pack("{s:i, s:i, s:I}", "index", r->shard.index, "count",
                                                     r->shard.count, "images", (json_int_t)r->shard_images));
    json_object_update_new(root, json_pack("{s:i, s:i, s:o, s:o}", "evaluated", cli_eval_report_evaluated(r),
                                           "masked", cli_eval_report_masked(r), "mean", mean, "images", images));
    char *text = json_dumps(root, JSON_INDENT(2) | JSON_REAL_PRECISION(7));
    json_decref(root);
    return text;
}

static void csv_number(FILE *f, double v, int last) {
    char text[32] = "";
    if (!isnan(v)) snprintf(text, sizeof text, "%.7g", v);
    cli_csv_field(f, text, last);
}

/* One line per image and row; a failed image is one line with its error. */
static void write_csv(FILE *f, const cli_eval_report *r) {
    fputs("image,status,error,class_id,class_label,class_prob,class_from,mask,row,deletion_auc,insertion_auc,"
          "pointing_game,share\n",
          f);
    int ids[VTE_METHOD_COUNT + 2];
    const int n = cli_eval_report_rows(r, ids);
    for (size_t i = 0; i < r->count; i++) {
        const cli_eval_record *record = &r->records[i];
        if (!record->result) {
            cli_csv_field(f, record->image, 0);
            cli_csv_field(f, "failed", 0);
            cli_csv_field(f, record->error ? record->error : "not evaluated", 0);
            fputs(",,,,,,,,,\n", f);
            continue;
        }
        const vte_prediction target = vte_evaluation_target(record->result, 0);
        char id[16];
        snprintf(id, sizeof id, "%d", target.class_id);
        for (int j = 0; j < n; j++) {
            vte_evaluation_scores s = vte_evaluation_scores_of(record->result, 0, ids[j]);
            cli_csv_field(f, record->image, 0);
            cli_csv_field(f, "ok", 0);
            cli_csv_field(f, "", 0);
            cli_csv_field(f, id, 0);
            cli_csv_field(f, vte_model_label(r->model, target.class_id), 0);
            csv_number(f, target.prob, 0);
            cli_csv_field(f, record->class_given ? "labels" : "top", 0);
            cli_csv_field(f, record->mask ? record->mask : "", 0);
            cli_csv_field(f, cli_eval_row_name(ids[j]), 0);
            csv_number(f, s.deletion_auc, 0);
            csv_number(f, s.insertion_auc, 0);
            csv_number(f, s.pointing_game, 0);
            csv_number(f, s.share, 1);
        }
    }
}

static const char *extension(const char *path) {
    const char *dot = strrchr(path, '.');
    return dot ? dot : "";
}

int cli_eval_report_write_summary(const cli_eval_report *r, const char *path) {
    vte_atomic_file file;
    vte_error err = {0};
    if (vte_atomic_file_open(&file, path, &err) != VTE_OK) {
        cli_error("cannot write the summary: %s", err.message);
        return -1;
    }
    if (strcasecmp(extension(path), ".json") == 0) {
        char *text = to_json(r);
        if (!text) {
            vte_atomic_file_abort(&file);
            cli_error("%s: cannot write the summary: out of memory", path);
            return -1;
        }
        fputs(text, file.stream);
        fputc('\n', file.stream);
        free(text);
    } else {
        write_csv(file.stream, r);
    }
    if (vte_atomic_file_commit(&file, &err) != VTE_OK) {
        cli_error("cannot write the summary: %s", err.message);
        return -1;
    }
    return 0;
}

/* ---------------------------------------------------------------- the plot */

/* Series colours (Matplotlib's tab10), one per method in the table's order; the random order in grey, dashed. */
static const unsigned char SERIES_RGB[][3] = {{31, 119, 180},  {255, 127, 14}, {44, 160, 44},   {214, 39, 40},
                                              {148, 103, 189}, {140, 86, 75},  {227, 119, 194}, {188, 189, 34}};
static const unsigned char RANDOM_RGB[3] = {110, 110, 110};

int cli_eval_report_write_plot(const cli_eval_report *r, const char *path) {
    const int evaluated = cli_eval_report_evaluated(r);
    if (!evaluated) {
        cli_error("evaluate: no image was evaluated, so there is no plot to write to %s", path);
        return -1;
    }
    int ids[VTE_METHOD_COUNT + 2], count = 0;
    const int n = cli_eval_report_rows(r, ids);
    vte_plot_series series[VTE_METHOD_COUNT + 1];
    char titles[VTE_METHOD_COUNT + 1][64];
    float *curves = calloc((size_t)2 * (VTE_METHOD_COUNT + 1) * r->points, sizeof *curves);
    float *x = malloc((size_t)r->points * sizeof *x);
    if (!curves || !x) {
        free(curves);
        free(x);
        cli_error("out of memory");
        return -1;
    }
    for (int k = 0; k < r->points; k++) x[k] = (float)abscissa(r, k);
    for (int i = 0; i < n; i++) {
        if (ids[i] == VTE_EVALUATION_UNIFORM) continue; /* no curves */
        vte_plot_series *s = &series[count];
        memset(s, 0, sizeof *s);
        cli_eval_row_title(r, ids[i], titles[count], sizeof titles[count]);
        s->name = titles[count];
        const vte_evaluation_scores mean = cli_eval_report_mean(r, ids[i]);
        s->auc[VTE_CURVE_DELETION] = mean.deletion_auc;
        s->auc[VTE_CURVE_INSERTION] = mean.insertion_auc;
        for (int kind = 0; kind < 2; kind++) {
            float *curve = curves + ((size_t)count * 2 + kind) * r->points;
            mean_curve(r, ids[i], (vte_curve_kind)kind, curve);
            s->curve[kind] = curve;
        }
        s->dashed = ids[i] == VTE_EVALUATION_RANDOM;
        memcpy(s->rgb, s->dashed ? RANDOM_RGB : SERIES_RGB[count % 8], 3);
        count++;
    }
    char title[512], panels[2][128];
    snprintf(title, sizeof title, "Deletion and insertion curves, mean over %d image%s (%s)", evaluated,
             evaluated == 1 ? "" : "s", r->model_name);
    snprintf(panels[0], sizeof panels[0], "Deletion to %s: lower AUC is more faithful",
             cli_eval_baseline_name(r->options.deletion_baseline));
    snprintf(panels[1], sizeof panels[1], "Insertion from %s: higher AUC is more faithful",
             cli_eval_baseline_name(r->options.insertion_baseline));
    const char *const panel_titles[2] = {panels[0], panels[1]};
    vte_image picture = {0};
    vte_error err = {0};
    vte_status status = vte_render_curves(x, r->points, series, count, title, panel_titles, &picture, &err);
    char description[640];
    snprintf(description, sizeof description, "vitexplain %s; evaluate; %s", vte_version(), title);
    if (!status) status = vte_png_write(path, &picture, title, description, &err);
    vte_image_free(&picture);
    free(curves);
    free(x);
    if (status) {
        cli_error("cannot write the plot: %s", err.message);
        return -1;
    }
    return 0;
}
