/* vte_session_evaluate: the maps of a batch (one vte_session_explain), then per image and requested method a
 * deletion and an insertion curve in the map's order, the same for random orders, and the mask scores; the
 * result object and its accessors. The curves are curves.c, the mask scores masks.c. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "util/clock.h"
#include "util/error.h"
#include "vit/session.h"

/* Rows: one per method, then random, then uniform. */
#define ROWS (VTE_METHOD_COUNT + 2)
/* Rows with curves: the methods and random. */
#define CURVE_ROWS (VTE_METHOD_COUNT + 1)

struct vte_evaluation {
    int images, patches, points, step;
    unsigned methods;
    int random_seeds;
    float *x;                      /* [points] fraction of patches changed */
    vte_prediction *targets;       /* [images] */
    float *maps;                   /* [images][VTE_METHOD_COUNT][patches] */
    float *curves;                 /* [images][CURVE_ROWS][2 kinds][points] */
    vte_evaluation_scores *scores; /* [images][ROWS] */
    unsigned char *has_mask;       /* [images] */
    vte_evaluation_times times;
};

void vte_evaluate_options_default(vte_evaluate_options *o) {
    memset(o, 0, sizeof *o);
    vte_explain_options_default(&o->explain);
    o->deletion_baseline = VTE_BASELINE_BLACK;
    o->insertion_baseline = VTE_BASELINE_BLUR;
    o->random_seeds = 3;
}

static int baseline_known(vte_baseline b) {
    return b == VTE_BASELINE_BLACK || b == VTE_BASELINE_BLUR || b == VTE_BASELINE_MEAN;
}

/* The checks vte_session_explain does not do itself (it validates the methods and their options). */
static vte_status validate(const vte_session *s, int n_images, const vte_evaluate_options *o, vte_error *err) {
    const vte_model_config *c = &s->model->config;
    const int patches = c->grid_h * c->grid_w;
    if (n_images < 1 || n_images > s->max_batch)
        return vte_error_set(err, VTE_ERR_INVALID_ARGUMENT,
                             "vte_session_evaluate: %d images for a session of at most %d", n_images, s->max_batch);
    if (o->step < 0 || o->step > patches)
        return vte_error_set(err, VTE_ERR_INVALID_ARGUMENT,
                             "step %d is outside 1..%d (the model's patches; 0: the default)", o->step, patches);
    if (!baseline_known(o->deletion_baseline) || !baseline_known(o->insertion_baseline))
        return vte_error_set(
            err, VTE_ERR_INVALID_ARGUMENT, "unknown baseline %d",
            (int)(baseline_known(o->deletion_baseline) ? o->insertion_baseline : o->deletion_baseline));
    if (o->random_seeds < 0)
        return vte_error_set(err, VTE_ERR_INVALID_ARGUMENT, "random_seeds %d is negative", o->random_seeds);
    if (o->batch < 0 || o->batch > s->max_batch)
        return vte_error_set(err, VTE_ERR_INVALID_ARGUMENT,
                             "batch %d is outside 1..%d (the session's max_batch; 0: all of it)", o->batch,
                             s->max_batch);
    return VTE_OK;
}

static vte_evaluation *result_alloc(const vte_model_config *c, int images, const vte_evaluate_options *o) {
    vte_evaluation *e = calloc(1, sizeof *e);
    if (!e) return NULL;
    e->images = images;
    e->patches = c->grid_h * c->grid_w;
    e->step = vte_curve_step(e->patches, o->step);
    e->points = vte_curve_points(e->patches, o->step);
    e->methods = o->explain.methods;
    e->random_seeds = o->random_seeds;
    e->x = calloc((size_t)e->points, sizeof *e->x);
    e->targets = calloc((size_t)images, sizeof *e->targets);
    e->maps = calloc((size_t)images * VTE_METHOD_COUNT * e->patches, sizeof *e->maps);
    e->curves = calloc((size_t)images * CURVE_ROWS * 2 * e->points, sizeof *e->curves);
    e->scores = calloc((size_t)images * ROWS, sizeof *e->scores);
    e->has_mask = calloc((size_t)images, 1);
    if (!e->x || !e->targets || !e->maps || !e->curves || !e->scores || !e->has_mask) {
        vte_evaluation_free(e);
        return NULL;
    }
    for (int k = 0; k < e->points; k++) {
        const long long changed = (long long)k * e->step;
        e->x[k] = (float)((double)(changed < e->patches ? changed : e->patches) / e->patches);
    }
    for (size_t r = 0; r < (size_t)images * ROWS; r++) e->scores[r] = (vte_evaluation_scores){NAN, NAN, NAN, NAN};
    return e;
}

static float *curve_slot(const vte_evaluation *e, int image, int row, vte_curve_kind kind) {
    return e->curves + (((size_t)image * CURVE_ROWS + row) * 2 + kind) * e->points;
}

static vte_evaluation_scores *scores_slot(const vte_evaluation *e, int image, int row) {
    return &e->scores[(size_t)image * ROWS + row];
}

/* Resolves the targets: classes[i], or the top class where it is -1 (or classes is NULL). With a class asked for
 * and another left open, that takes one forward pass to find the top classes. */
static vte_status resolve_classes(vte_session *s, const float *pixels, int n_images, const int *classes, int *out,
                                  int *given, vte_error *err) {
    const vte_model_config *c = &s->model->config;
    int open = 0;
    *given = 0;
    for (int i = 0; i < n_images; i++) {
        out[i] = classes ? classes[i] : -1;
        if (out[i] < -1 || out[i] >= c->num_labels)
            return vte_error_set(err, VTE_ERR_INVALID_ARGUMENT,
                                 "class %d of image %d is out of range (the model has %d classes)", out[i], i,
                                 c->num_labels);
        open += out[i] == -1;
        *given |= out[i] != -1;
    }
    if (!open || !*given) return VTE_OK;
    float *logits = malloc((size_t)n_images * c->num_labels * sizeof *logits);
    if (!logits) return vte_error_set(err, VTE_ERR_OUT_OF_MEMORY, "out of memory");
    vte_status status = vte_session_forward(s, pixels, n_images, err);
    if (!status) status = vte_session_read_logits(s, logits, err);
    for (int i = 0; i < n_images && !status; i++) {
        vte_prediction top;
        vte_top_k(logits + (size_t)i * c->num_labels, c->num_labels, 1, &top);
        if (out[i] == -1) out[i] = top.class_id;
    }
    free(logits);
    return status;
}

/* A deletion and an insertion curve of one order, their AUCs into `scores`; curves written to the row's slots
 * (the random row accumulates: `weight` is 1/seeds there). */
typedef struct image_job {
    vte_session *s;
    vte_evaluation *e;
    const vte_evaluate_options *o;
    int image, class_id;
    const float *pixels;
    const float *baseline[2]; /* per curve kind */
    float *probs;             /* [points] scratch */
} image_job;

static vte_status run_curves(image_job *job, const int *order, int row, float weight, vte_error *err) {
    vte_evaluation *e = job->e;
    for (int kind = 0; kind < 2; kind++) {
        double start = vte_now_ms();
        vte_status status = vte_session_curve(job->s, job->pixels, job->baseline[kind], job->class_id, order,
                                              (vte_curve_kind)kind, job->o->step, job->o->batch, job->probs, err);
        if (status) return status;
        e->times.curves_ms += vte_now_ms() - start;
        e->times.curve_inputs += e->points;
        float *curve = curve_slot(e, job->image, row, (vte_curve_kind)kind);
        for (int k = 0; k < e->points; k++) curve[k] += weight * job->probs[k];
    }
    return VTE_OK;
}

/* The AUCs of a row's (final) curves. */
static void score_curves(vte_evaluation *e, int image, int row) {
    vte_evaluation_scores *sc = scores_slot(e, image, row);
    sc->deletion_auc = vte_curve_auc(curve_slot(e, image, row, VTE_CURVE_DELETION), e->patches, e->step);
    sc->insertion_auc = vte_curve_auc(curve_slot(e, image, row, VTE_CURVE_INSERTION), e->patches, e->step);
}

static vte_status evaluate_image(image_job *job, const float *coverage, int *order, vte_error *err) {
    vte_evaluation *e = job->e;
    const int i = job->image;
    for (int m = 0; m < VTE_METHOD_COUNT; m++) {
        if (!(e->methods & VTE_METHOD_BIT(m))) continue;
        const float *map = e->maps + ((size_t)i * VTE_METHOD_COUNT + m) * e->patches;
        vte_patch_order(map, e->patches, order);
        vte_status status = run_curves(job, order, m, 1.0f, err);
        if (status) return status;
        score_curves(e, i, m);
        if (coverage) {
            scores_slot(e, i, m)->pointing_game = vte_pointing_game(map, coverage, e->patches);
            scores_slot(e, i, m)->share = vte_share_on_object(map, coverage, e->patches);
        }
    }
    for (int seed = 0; seed < e->random_seeds; seed++) {
        vte_random_patch_order(e->patches, (uint32_t)seed, order);
        vte_status status = run_curves(job, order, VTE_EVALUATION_RANDOM, 1.0f / (float)e->random_seeds, err);
        if (status) return status;
    }
    if (e->random_seeds) score_curves(e, i, VTE_EVALUATION_RANDOM);
    if (coverage) {
        e->has_mask[i] = 1;
        scores_slot(e, i, VTE_EVALUATION_UNIFORM)->pointing_game = vte_pointing_game_uniform(coverage, e->patches);
        scores_slot(e, i, VTE_EVALUATION_UNIFORM)->share = vte_share_uniform(coverage, e->patches);
    }
    return VTE_OK;
}

/* Copies the explanation's maps and targets into the result. */
static void take_maps(vte_evaluation *e, const vte_explanation *x) {
    for (int i = 0; i < e->images; i++) {
        e->targets[i] = vte_explanation_target(x, i, 0);
        for (int m = 0; m < VTE_METHOD_COUNT; m++) {
            const float *map = vte_explanation_map(x, i, 0, (vte_method)m);
            if (map)
                memcpy(e->maps + ((size_t)i * VTE_METHOD_COUNT + m) * e->patches, map,
                       (size_t)e->patches * sizeof *map);
        }
    }
    vte_stage_times t = vte_explanation_times(x);
    e->times.explain_forward_ms = t.forward_ms;
    e->times.explain_backward_ms = t.backward_ms;
    e->times.explain_ms = t.explain_ms;
}

vte_evaluation *vte_session_evaluate(vte_session *s, const float *pixels, int n_images, const int *classes,
                                     const float *const *coverage, const vte_evaluate_options *o, vte_error *err) {
    vte_error local_err = {0};
    if (!err) err = &local_err;
    if (!s || !pixels || !o) {
        vte_error_set(err, VTE_ERR_INVALID_ARGUMENT, "vte_session_evaluate: session, pixels and options are required");
        return NULL;
    }
    if (validate(s, n_images, o, err)) return NULL;
    const vte_model_config *c = &s->model->config;
    const size_t image_floats = vte_preprocess_size(c);
    vte_evaluation *e = result_alloc(c, n_images, o);
    int *targets = malloc((size_t)n_images * sizeof *targets);
    int *order = malloc((size_t)c->grid_h * c->grid_w * sizeof *order);
    float *baselines = malloc(2 * image_floats * sizeof *baselines);
    float *probs = e ? malloc((size_t)e->points * sizeof *probs) : NULL;
    vte_explanation *x = NULL;
    int given = 0;
    if (!e || !targets || !order || !baselines || !probs) {
        vte_error_set(err, VTE_ERR_OUT_OF_MEMORY, "vte_session_evaluate: out of memory");
        goto fail;
    }
    if (resolve_classes(s, pixels, n_images, classes, targets, &given, err)) goto fail;
    vte_explain_options explain = o->explain;
    explain.upsample = 0;
    if (!(x = vte_session_explain(s, pixels, n_images, given ? targets : NULL, 1, &explain, err))) goto fail;
    take_maps(e, x);
    image_job job = {.s = s, .e = e, .o = o, .probs = probs};
    for (int i = 0; i < n_images; i++) {
        job.image = i;
        job.class_id = e->targets[i].class_id;
        job.pixels = pixels + (size_t)i * image_floats;
        const vte_baseline kinds[2] = {o->deletion_baseline, o->insertion_baseline};
        for (int k = 0; k < 2; k++) {
            job.baseline[k] = baselines + (size_t)k * image_floats;
            if (k == 1 && kinds[1] == kinds[0])
                job.baseline[1] = job.baseline[0];
            else if (vte_evaluate_baseline(s->model, job.pixels, kinds[k], baselines + (size_t)k * image_floats, err))
                goto fail;
        }
        if (evaluate_image(&job, coverage ? coverage[i] : NULL, order, err)) goto fail;
    }
    vte_explanation_free(x);
    free(targets);
    free(order);
    free(baselines);
    free(probs);
    return e;
fail:
    vte_explanation_free(x);
    free(targets);
    free(order);
    free(baselines);
    free(probs);
    vte_evaluation_free(e);
    return NULL;
}

void vte_evaluation_free(vte_evaluation *e) {
    if (!e) return;
    free(e->x);
    free(e->targets);
    free(e->maps);
    free(e->curves);
    free(e->scores);
    free(e->has_mask);
    free(e);
}

int vte_evaluation_image_count(const vte_evaluation *e) { return e ? e->images : 0; }
int vte_evaluation_curve_points(const vte_evaluation *e) { return e ? e->points : 0; }
const float *vte_evaluation_curve_x(const vte_evaluation *e) { return e ? e->x : NULL; }

static int valid_image(const vte_evaluation *e, int image) { return e && image >= 0 && image < e->images; }

vte_prediction vte_evaluation_target(const vte_evaluation *e, int image) {
    vte_prediction none = {-1, 0.0f, 0.0f};
    return valid_image(e, image) ? e->targets[image] : none;
}

static int method_evaluated(const vte_evaluation *e, int row) {
    return row >= 0 && row < VTE_METHOD_COUNT && (e->methods & VTE_METHOD_BIT(row));
}

const float *vte_evaluation_map(const vte_evaluation *e, int image, vte_method method) {
    if (!valid_image(e, image) || !method_evaluated(e, (int)method)) return NULL;
    return e->maps + ((size_t)image * VTE_METHOD_COUNT + method) * e->patches;
}

const float *vte_evaluation_curve(const vte_evaluation *e, int image, int row, vte_curve_kind kind) {
    if (!valid_image(e, image) || (kind != VTE_CURVE_DELETION && kind != VTE_CURVE_INSERTION)) return NULL;
    if (!method_evaluated(e, row) && !(row == VTE_EVALUATION_RANDOM && e->random_seeds > 0)) return NULL;
    return curve_slot(e, image, row, kind);
}

vte_evaluation_scores vte_evaluation_scores_of(const vte_evaluation *e, int image, int row) {
    vte_evaluation_scores none = {NAN, NAN, NAN, NAN};
    if (!valid_image(e, image) || row < 0 || row >= ROWS) return none;
    return *scores_slot(e, image, row);
}

int vte_evaluation_has_mask(const vte_evaluation *e, int image) { return valid_image(e, image) && e->has_mask[image]; }

vte_evaluation_times vte_evaluation_times_of(const vte_evaluation *e) {
    vte_evaluation_times none = {0, 0, 0, 0, 0};
    return e ? e->times : none;
}
