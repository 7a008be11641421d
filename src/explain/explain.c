/* vte_session_explain: one forward pass for a batch, backward passes when a method needs gradients (each for as
 * many targets at once as the backward plan takes), every requested method (the table in methods.c) per target,
 * and the maps copied to the host. */
#include <stdlib.h>
#include <string.h>

#include "explain/plan.h"
#include "util/clock.h"

struct vte_explanation {
    int images, targets, grid, pixels; /* pixels: image_height * image_width of the model input */
    unsigned methods;
    vte_prediction *target_info; /* [images * targets] */
    vte_prediction *top;         /* [images * top_count], best first */
    int top_count;
    float *maps;                 /* [images][targets][VTE_METHOD_COUNT][grid] */
    float *upsampled;            /* [images][targets][VTE_METHOD_COUNT][pixels] or NULL */
    vte_stage_times times;
};

void vte_explain_options_default(vte_explain_options *o) {
    memset(o, 0, sizeof *o);
    o->rollout_fusion = VTE_FUSION_MEAN;
}

static int wants(const vte_explain_options *o, vte_method m) { return (o->methods & VTE_METHOD_BIT(m)) != 0; }

/* What the requested methods need from the passes, together (VTE_NEEDS_*). */
static unsigned needs_of(const vte_explain_options *o) {
    unsigned needs = 0;
    for (int m = 0; m < VTE_METHOD_COUNT; m++)
        if (wants(o, (vte_method)m)) needs |= vte_method_needs(vte_method_spec_of((vte_method)m), o);
    return needs;
}

static vte_status validate(const vte_session *s, int n_images, int targets, const vte_explain_options *o,
                           vte_error *err) {
    if (!o || o->methods == 0 || (o->methods >> VTE_METHOD_COUNT) != 0)
        return vte_error_set(err, VTE_ERR_INVALID_ARGUMENT, "no explanation method selected");
    if (n_images < 1 || n_images > s->max_batch)
        return vte_error_set(err, VTE_ERR_INVALID_ARGUMENT, "%d images for a session of at most %d", n_images,
                             s->max_batch);
    if (targets < 1 || targets > s->model->config.num_labels)
        return vte_error_set(err, VTE_ERR_INVALID_ARGUMENT, "%d targets per image: the model has %d classes", targets,
                             s->model->config.num_labels);
    if (!(o->discard_ratio >= 0.0f && o->discard_ratio < 1.0f))
        return vte_error_set(err, VTE_ERR_INVALID_ARGUMENT, "discard ratio %g is outside [0, 1)",
                             (double)o->discard_ratio);
    if (o->legrad_layers < 0)
        return vte_error_set(err, VTE_ERR_INVALID_ARGUMENT, "LeGrad layer count %d is negative", o->legrad_layers);
    if (o->rollout_fusion != VTE_FUSION_MEAN && o->rollout_fusion != VTE_FUSION_MAX &&
        o->rollout_fusion != VTE_FUSION_MIN)
        return vte_error_set(err, VTE_ERR_INVALID_ARGUMENT, "unknown head fusion %d", (int)o->rollout_fusion);
    /* The seed project's formulas have none of the options: refuse rather than ignore them. */
    const unsigned set = (o->rollout_fusion != VTE_FUSION_MEAN ? VTE_USES_HEAD_FUSION : 0u) |
                         (o->discard_ratio > 0.0f ? VTE_USES_DISCARD_RATIO : 0u) |
                         (o->legrad_layers > 0 ? VTE_USES_LAYER_COUNT : 0u);
    for (int m = 0; m < VTE_METHOD_COUNT && o->compat_seed && set; m++) {
        const vte_method_spec *spec = vte_method_spec_of((vte_method)m);
        const unsigned conflict = wants(o, (vte_method)m) && spec->info.has_seed_variant ? spec->uses & set : 0u;
        if (conflict)
            return vte_error_set(err, VTE_ERR_INVALID_ARGUMENT,
                                 "compat_seed: the original project's %s has no %s (its formulas take the head mean, "
                                 "discard nothing and use every layer)",
                                 spec->info.title,
                                 conflict & VTE_USES_HEAD_FUSION     ? "head fusion"
                                 : conflict & VTE_USES_DISCARD_RATIO ? "discard ratio"
                                                                     : "layer count");
    }
    return VTE_OK;
}

static vte_explanation *result_alloc(const vte_model_config *c, int images, int targets, const vte_explain_options *o) {
    vte_explanation *e = calloc(1, sizeof *e);
    if (!e) return NULL;
    e->images = images;
    e->targets = targets;
    e->grid = c->grid_h * c->grid_w;
    e->pixels = c->image_height * c->image_width;
    e->methods = o->methods;
    size_t slots = (size_t)images * targets * VTE_METHOD_COUNT;
    e->target_info = calloc((size_t)images * targets, sizeof *e->target_info);
    e->top_count = c->num_labels < VTE_EXPLANATION_MAX_PREDICTIONS ? c->num_labels : VTE_EXPLANATION_MAX_PREDICTIONS;
    e->top = calloc((size_t)images * e->top_count, sizeof *e->top);
    e->maps = calloc(slots * e->grid, sizeof *e->maps);
    if (o->upsample) e->upsampled = calloc(slots * e->pixels, sizeof *e->upsampled);
    if (!e->target_info || !e->top || !e->maps || (o->upsample && !e->upsampled)) {
        vte_explanation_free(e);
        return NULL;
    }
    return e;
}

/* plan->upsampled = bilinear upsampling of plan->maps to the model's input size. */
static vte_status upsample_maps(vte_session *s, int B, vte_error *err) {
    const vte_model_config *c = &s->model->config;
    vte_explain_plan *plan = vte_explain_plan_of(s);
    size_t local = s->fwd.elementwise_group;
    size_t global = vte_round_up((size_t)B * c->image_height * c->image_width, local);
    return VTE_RUN(s->rt, plan->upsample_bilinear, 1, &global, &local, err, VTE_ARG(plan->maps),
                   VTE_ARG(plan->upsampled), VTE_INT(B), VTE_INT(c->grid_h), VTE_INT(c->grid_w),
                   VTE_INT(c->image_height), VTE_INT(c->image_width));
}

/* Copies the plan's maps (and their upsampling) of method m into the result for target t. */
static vte_status collect(vte_session *s, vte_explanation *e, int B, int t, vte_method m, vte_error *err) {
    float *host = malloc((size_t)B * e->grid * sizeof *host);
    if (!host) return vte_error_set(err, VTE_ERR_OUT_OF_MEMORY, "out of memory");
    vte_explain_plan *plan = vte_explain_plan_of(s);
    vte_status status = vte_buffer_read(s->rt, plan->maps, 0, (size_t)B * e->grid * sizeof *host, host, err);
    for (int i = 0; i < B && !status; i++)
        memcpy(e->maps + (((size_t)i * e->targets + t) * VTE_METHOD_COUNT + m) * e->grid, host + (size_t)i * e->grid,
               (size_t)e->grid * sizeof *host);
    free(host);
    if (status || !e->upsampled) return status;
    if ((status = upsample_maps(s, B, err))) return status;
    for (int i = 0; i < B && !status; i++)
        status = vte_buffer_read(s->rt, plan->upsampled, (size_t)i * e->pixels * sizeof(float),
                                 (size_t)e->pixels * sizeof(float),
                                 e->upsampled + (((size_t)i * e->targets + t) * VTE_METHOD_COUNT + m) * e->pixels, err);
    return status;
}

/* Class-independent maps (rollout) are computed for the first target and copied to the others. */
static void copy_to_other_targets(vte_explanation *e, vte_method m) {
    for (int i = 0; i < e->images; i++)
        for (int t = 1; t < e->targets; t++) {
            size_t from = ((size_t)i * e->targets) * VTE_METHOD_COUNT + m;
            size_t to = ((size_t)i * e->targets + t) * VTE_METHOD_COUNT + m;
            memcpy(e->maps + to * e->grid, e->maps + from * e->grid, (size_t)e->grid * sizeof(float));
            if (e->upsampled)
                memcpy(e->upsampled + to * e->pixels, e->upsampled + from * e->pixels, (size_t)e->pixels * sizeof(float));
        }
}

/* Targets first .. first+count-1 of every image (classes: [count][images], target-major): one backward pass for
 * them all when a method needs it, then per target the classifier rows when a method needs them, and every
 * requested method in the table's order; class-independent ones only for target 0. */
static vte_status explain_targets(vte_session *s, vte_explanation *e, int first, int count, const int *classes,
                                  const vte_explain_options *o, vte_error *err) {
    const int B = e->images;
    const unsigned needs = needs_of(o);
    vte_status status = VTE_OK;
    double start = vte_now_ms();
    if (needs & VTE_NEEDS_BACKWARD) {
        if ((status = vte_session_backward_targets(s, classes, count, err))) return status;
        double end = vte_now_ms();
        e->times.backward_ms += end - start;
        start = end;
    }
    for (int k = 0; k < count; k++) {
        const int t = first + k;
        s->bwd.read_target = k;
        if ((needs & VTE_NEEDS_TARGET_ROW) && (status = vte_session_classifier_seed(s, classes + (size_t)k * B, B, err)))
            return status;
        for (int i = 0; i < VTE_METHOD_COUNT; i++) {
            const vte_method m = (vte_method)i;
            if (!wants(o, m) || (t > 0 && vte_method_info_of(m)->class_independent)) continue;
            if ((status = vte_method_run(s, m, o, B, err)) || (status = collect(s, e, B, t, m, err))) return status;
        }
    }
    if ((status = vte_runtime_finish(s->rt, err))) return status;
    e->times.explain_ms += vte_now_ms() - start;
    return VTE_OK;
}

vte_explanation *vte_session_explain(vte_session *s, const float *pixels, int n_images, const int *classes,
                                     int targets_per_image, const vte_explain_options *o, vte_error *err) {
    vte_error local_err = {0};
    if (!err) err = &local_err;
    if (!s || !pixels) {
        vte_error_set(err, VTE_ERR_INVALID_ARGUMENT, "vte_session_explain: session and pixels are required");
        return NULL;
    }
    if (validate(s, n_images, targets_per_image, o, err)) return NULL;
    const vte_model_config *c = &s->model->config;
    if (classes)
        for (int i = 0; i < n_images * targets_per_image; i++)
            if (classes[i] < 0 || classes[i] >= c->num_labels) {
                vte_error_set(err, VTE_ERR_INVALID_ARGUMENT, "class %d is out of range (the model has %d classes)",
                              classes[i], c->num_labels);
                return NULL;
            }
    vte_explanation *e = result_alloc(c, n_images, targets_per_image, o);
    float *logits = malloc((size_t)n_images * c->num_labels * sizeof *logits);
    vte_prediction *ranked = malloc((size_t)c->num_labels * sizeof *ranked);
    int *batch_classes = malloc((size_t)n_images * targets_per_image * sizeof *batch_classes);
    if (!e || !logits || !ranked || !batch_classes) {
        vte_error_set(err, VTE_ERR_OUT_OF_MEMORY, "out of memory");
        goto fail;
    }
    if (vte_explain_plan_prepare(s, o, targets_per_image, err)) goto fail; /* kernels built before any work */
    double start = vte_now_ms();
    if (vte_session_forward(s, pixels, n_images, err) || vte_session_read_logits(s, logits, err)) goto fail;
    e->times.forward_ms = vte_now_ms() - start;
    /* Each target with its logit and probability: the top-k, or the classes asked for. */
    for (int i = 0; i < n_images; i++) {
        const float *row = logits + (size_t)i * c->num_labels;
        vte_top_k(row, c->num_labels, c->num_labels, ranked);
        memcpy(e->top + (size_t)i * e->top_count, ranked, (size_t)e->top_count * sizeof *ranked);
        for (int t = 0; t < targets_per_image; t++) {
            vte_prediction *p = &e->target_info[(size_t)i * targets_per_image + t];
            if (!classes) {
                *p = ranked[t];
                continue;
            }
            int id = classes[(size_t)i * targets_per_image + t];
            for (int r = 0; r < c->num_labels; r++)
                if (ranked[r].class_id == id) *p = ranked[r];
        }
    }
    /* as many targets per backward pass as the plan takes (vte_backward_targets_per_pass) */
    const int per_pass = (needs_of(o) & VTE_NEEDS_BACKWARD) ? s->bwd.targets : 1;
    for (int first = 0; first < targets_per_image; first += per_pass) {
        const int count = targets_per_image - first < per_pass ? targets_per_image - first : per_pass;
        for (int k = 0; k < count; k++)
            for (int i = 0; i < n_images; i++)
                batch_classes[(size_t)k * n_images + i] =
                    e->target_info[(size_t)i * targets_per_image + first + k].class_id;
        if (explain_targets(s, e, first, count, batch_classes, o, err)) goto fail;
    }
    for (int m = 0; m < VTE_METHOD_COUNT; m++)
        if (wants(o, (vte_method)m) && vte_method_info_of((vte_method)m)->class_independent)
            copy_to_other_targets(e, (vte_method)m);
    free(logits);
    free(ranked);
    free(batch_classes);
    return e;
fail:
    free(logits);
    free(ranked);
    free(batch_classes);
    vte_explanation_free(e);
    return NULL;
}

void vte_explanation_free(vte_explanation *e) {
    if (!e) return;
    free(e->target_info);
    free(e->top);
    free(e->maps);
    free(e->upsampled);
    free(e);
}

int vte_explanation_image_count(const vte_explanation *e) { return e ? e->images : 0; }
int vte_explanation_target_count(const vte_explanation *e) { return e ? e->targets : 0; }

static int valid_slot(const vte_explanation *e, int image, int target, vte_method m) {
    return e && image >= 0 && image < e->images && target >= 0 && target < e->targets && m >= 0 &&
           m < VTE_METHOD_COUNT && (e->methods & VTE_METHOD_BIT(m));
}

const float *vte_explanation_map(const vte_explanation *e, int image, int target, vte_method m) {
    if (!valid_slot(e, image, target, m)) return NULL;
    return e->maps + (((size_t)image * e->targets + target) * VTE_METHOD_COUNT + m) * e->grid;
}

const float *vte_explanation_upsampled(const vte_explanation *e, int image, int target, vte_method m) {
    if (!valid_slot(e, image, target, m) || !e->upsampled) return NULL;
    return e->upsampled + (((size_t)image * e->targets + target) * VTE_METHOD_COUNT + m) * e->pixels;
}

int vte_explanation_predictions(const vte_explanation *e, int image, vte_prediction *out, int k) {
    if (!e || !out || image < 0 || image >= e->images || k < 1) return 0;
    if (k > e->top_count) k = e->top_count;
    memcpy(out, e->top + (size_t)image * e->top_count, (size_t)k * sizeof *out);
    return k;
}

vte_prediction vte_explanation_target(const vte_explanation *e, int image, int target) {
    vte_prediction none = {-1, 0.0f, 0.0f};
    if (!e || image < 0 || image >= e->images || target < 0 || target >= e->targets) return none;
    return e->target_info[(size_t)image * e->targets + target];
}

vte_stage_times vte_explanation_times(const vte_explanation *e) {
    vte_stage_times none = {0, 0, 0};
    return e ? e->times : none;
}
