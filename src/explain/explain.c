/* vte_session_explain: one forward pass for a batch, one backward pass per target when a method needs
 * gradients, every requested method, and the maps copied to the host. */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "explain/methods.h"

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

static const char *const METHOD_NAMES[VTE_METHOD_COUNT] = {"rollout", "gmar_l1", "gmar_l2", "legrad", "chefer"};

static const char *const METHOD_TITLES[VTE_METHOD_COUNT] = {"Rollout", "GMAR L1", "GMAR L2", "LeGrad", "Chefer"};

const char *vte_method_name(vte_method method) {
    return method >= 0 && method < VTE_METHOD_COUNT ? METHOD_NAMES[method] : NULL;
}

const char *vte_method_title(vte_method method) {
    return method >= 0 && method < VTE_METHOD_COUNT ? METHOD_TITLES[method] : NULL;
}

void vte_explain_options_default(vte_explain_options *o) {
    memset(o, 0, sizeof *o);
    o->rollout_fusion = VTE_FUSION_MEAN;
}

static double now_ms(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1e3 + t.tv_nsec / 1e6;
}

static int wants(const vte_explain_options *o, vte_method m) { return (o->methods & VTE_METHOD_BIT(m)) != 0; }

static int needs_backward(const vte_explain_options *o) {
    return wants(o, VTE_METHOD_GMAR_L1) || wants(o, VTE_METHOD_GMAR_L2) || wants(o, VTE_METHOD_CHEFER) ||
           (o->compat_seed && wants(o, VTE_METHOD_LEGRAD));
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

/* Copies x.maps (and the upsampled maps) of method m into the result for target t. */
static vte_status collect(vte_session *s, vte_explanation *e, int B, int t, vte_method m, vte_error *err) {
    float *host = malloc((size_t)B * e->grid * sizeof *host);
    if (!host) return vte_error_set(err, VTE_ERR_OUT_OF_MEMORY, "out of memory");
    vte_status status = vte_buffer_read(s->rt, s->x.maps, 0, (size_t)B * e->grid * sizeof *host, host, err);
    for (int i = 0; i < B && !status; i++)
        memcpy(e->maps + (((size_t)i * e->targets + t) * VTE_METHOD_COUNT + m) * e->grid, host + (size_t)i * e->grid,
               (size_t)e->grid * sizeof *host);
    free(host);
    if (status || !e->upsampled) return status;
    if ((status = vte_maps_upsample(s, B, err))) return status;
    for (int i = 0; i < B && !status; i++)
        status = vte_buffer_read(s->rt, s->x.upsampled, (size_t)i * e->pixels * sizeof(float),
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

static vte_status explain_target(vte_session *s, vte_explanation *e, int t, const int *classes,
                                 const vte_explain_options *o, vte_error *err) {
    const int B = e->images;
    vte_status status = VTE_OK;
    double start = now_ms();
    if (needs_backward(o)) {
        if ((status = vte_session_backward(s, classes, err))) return status;
        double end = now_ms();
        e->times.backward_ms += end - start;
        start = end;
    } else if ((status = vte_explain_plan_init(s, err))) {
        return status;
    }
    if (wants(o, VTE_METHOD_ROLLOUT) && t == 0) {
        if ((status = vte_method_rollout(s, B, o, err)) || (status = collect(s, e, B, t, VTE_METHOD_ROLLOUT, err)))
            return status;
    }
    for (int norm = 1; norm <= 2; norm++) {
        vte_method m = norm == 1 ? VTE_METHOD_GMAR_L1 : VTE_METHOD_GMAR_L2;
        if (wants(o, m) && ((status = vte_method_gmar(s, B, norm, o, err)) || (status = collect(s, e, B, t, m, err))))
            return status;
    }
    if (wants(o, VTE_METHOD_LEGRAD)) {
        if (!needs_backward(o) && (status = vte_session_classifier_seed(s, classes, B, err))) return status;
        if ((status = vte_method_legrad(s, B, o, err)) || (status = collect(s, e, B, t, VTE_METHOD_LEGRAD, err)))
            return status;
    }
    if (wants(o, VTE_METHOD_CHEFER) &&
        ((status = vte_method_chefer(s, B, err)) || (status = collect(s, e, B, t, VTE_METHOD_CHEFER, err))))
        return status;
    if ((status = vte_runtime_finish(s->rt, err))) return status;
    e->times.explain_ms += now_ms() - start;
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
    int *batch_classes = malloc((size_t)n_images * sizeof *batch_classes);
    if (!e || !logits || !ranked || !batch_classes) {
        vte_error_set(err, VTE_ERR_OUT_OF_MEMORY, "out of memory");
        goto fail;
    }
    double start = now_ms();
    if (vte_session_forward(s, pixels, n_images, err) || vte_session_read_logits(s, logits, err)) goto fail;
    e->times.forward_ms = now_ms() - start;
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
    for (int t = 0; t < targets_per_image; t++) {
        for (int i = 0; i < n_images; i++) batch_classes[i] = e->target_info[(size_t)i * targets_per_image + t].class_id;
        if (explain_target(s, e, t, batch_classes, o, err)) goto fail;
    }
    if (wants(o, VTE_METHOD_ROLLOUT)) copy_to_other_targets(e, VTE_METHOD_ROLLOUT);
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
