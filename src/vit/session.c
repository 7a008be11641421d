/* Session planning: the forward pass's buffers and kernels (the lists in session.h), sized once from the config
 * and the batch size. */
#include "vit/session.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/gemm.h"

static vte_plan_dims dims_of(const vte_model_config *c, int max_batch) {
    vte_plan_dims d;
    d.B = (size_t)max_batch;
    d.T = (size_t)c->num_tokens;
    d.D = (size_t)c->hidden_size;
    d.F = (size_t)c->intermediate_size;
    d.H = (size_t)c->num_heads;
    d.L = (size_t)c->num_layers;
    d.P = (size_t)c->grid_h * (size_t)c->grid_w;
    d.K = (size_t)c->num_channels * (size_t)c->patch_size * (size_t)c->patch_size;
    d.labels = (size_t)c->num_labels;
    d.image_pixels = (size_t)c->image_height * (size_t)c->image_width;
    d.image_values = (size_t)c->num_channels * d.image_pixels;
    return d;
}

static vte_status create_kernels(vte_runtime *rt, vte_forward_plan *plan, vte_error *err) {
    VTE_FORWARD_KERNELS(VTE_PLAN_KERNEL_CREATE)
    plan->layernorm_group = vte_kernel_group_size(rt, plan->layernorm_forward, vte_runtime_reduction_group(rt));
    plan->softmax_group = vte_kernel_group_size(rt, plan->softmax_rows, vte_runtime_reduction_group(rt));
    plan->elementwise_group = vte_kernel_group_size(rt, plan->bias_residual_add, 64);
    plan->rows_per_item = vte_runtime_rows_per_item(rt);
    return VTE_OK;
}

/* $VITEXPLAIN_ATTENTION: "fused" or "gemm" forces how a pass that keeps no attention probabilities computes
 * attention; unset or empty, the device's type decides: gemm on CPUs, where the fused kernel was no faster in the
 * forward pass (it runs on PoCL's threads right after a host-library GEMM whose worker threads still spin:
 * docs/performance.md), fused elsewhere (the known win of flash-style attention on GPUs; its group form is tested
 * on PoCL, its speed not measured on a GPU yet). Any other value is an error, so that a benchmark never measures
 * another path than it asked for. Then the fused kernels' work-group sizes. */
static vte_status plan_attention(vte_runtime *rt, vte_forward_plan *plan, vte_plan_dims d, vte_error *err) {
    const char *request = getenv("VITEXPLAIN_ATTENTION");
    if (!request || !*request) plan->fuse_attention = rt->info.type != VTE_DEVICE_CPU;
    else if (strcmp(request, "fused") == 0) plan->fuse_attention = 1;
    else if (strcmp(request, "gemm") == 0) plan->fuse_attention = 0;
    else
        return vte_error_set(err, VTE_ERR_INVALID_ARGUMENT,
                             "VITEXPLAIN_ATTENTION=\"%s\": expected \"fused\" (attention in one kernel when no "
                             "probabilities are kept) or \"gemm\" (scores, softmax and context apart), or unset for the "
                             "device's default",
                             request);
    /* Small groups: a batch-1 ViT-B layer is 600 tiles of query rows, to be shared evenly between the cores. */
    plan->attention_item_group = vte_kernel_group_size(rt, plan->attention_fused_per_item, 8);
    plan->attention_group = 0;
    if (plan->rows_per_item) return VTE_OK;
    /* The largest group, up to 64 query rows, whose staged rows fit the device's __local memory; none (the per-item
     * form then runs) for a head too large for it. */
    cl_ulong device_bytes = 0, kernel_bytes = 0;
    VTE_CL_CHECK(err, clGetDeviceInfo(rt->device, CL_DEVICE_LOCAL_MEM_SIZE, sizeof device_bytes, &device_bytes, NULL));
    VTE_CL_CHECK(err, clGetKernelWorkGroupInfo(plan->attention_fused, rt->device, CL_KERNEL_LOCAL_MEM_SIZE,
                                               sizeof kernel_bytes, &kernel_bytes, NULL));
    const size_t pitch = d.D / d.H + 1;
    for (size_t group = vte_kernel_group_size(rt, plan->attention_fused, 64); group > 0; group /= 2) {
        if (kernel_bytes + (2 * group + 2 * VTE_ATTENTION_KEY_TILE) * pitch * sizeof(cl_float) <= device_bytes) {
            plan->attention_group = group;
            break;
        }
    }
    return VTE_OK;
}

/* A layer's buffer of a kind in `kept` is its own; any other is layer 0's (`shared`, retained), for l > 0. Layer 0
 * (shared NULL) has all its own. */
#define VTE_LAYER_BUFFER_CREATE(field, bytes, purpose, kind)                                   \
    if (shared && !((kind) & kept)) {                                                            \
        plan->field = shared->field;                                                             \
        clRetainMemObject(plan->field);                                                          \
    } else if (!(plan->field = vte_buffer_create(rt, (bytes), (purpose), err))) {                \
        return err->code;                                                                        \
    }

static vte_status create_layer_buffers(vte_runtime *rt, vte_layer_activations *plan, const vte_layer_activations *shared,
                                       unsigned kept, vte_plan_dims d, vte_error *err) {
    VTE_LAYER_BUFFERS(VTE_LAYER_BUFFER_CREATE)
    return VTE_OK;
}

/* A layer's buffers of the kinds in `added` become its own (they were layer 0's). The new buffer is made before
 * the shared one is let go, so a failure leaves the layer as it was. */
#define VTE_LAYER_BUFFER_KEEP(field, bytes, purpose, kind)                                     \
    if ((kind) & added) {                                                                        \
        cl_mem own = vte_buffer_create(rt, (bytes), (purpose), err);                             \
        if (!own) return err->code;                                                              \
        vte_buffer_release(&plan->field);                                                        \
        plan->field = own;                                                                       \
    }

static vte_status keep_layer_buffers(vte_runtime *rt, vte_layer_activations *plan, unsigned added, vte_plan_dims d,
                                     vte_error *err) {
    VTE_LAYER_BUFFERS(VTE_LAYER_BUFFER_KEEP)
    return VTE_OK;
}

static vte_status create_buffers(vte_runtime *rt, vte_forward_plan *plan, vte_plan_dims d, unsigned kept,
                                 vte_error *err) {
    VTE_FORWARD_BUFFERS(VTE_PLAN_BUFFER_CREATE)
    if (!(plan->layers = calloc(d.L, sizeof *plan->layers)))
        return vte_error_set(err, VTE_ERR_OUT_OF_MEMORY, "out of memory planning a session");
    for (size_t l = 0; l < d.L; l++) {
        vte_status status =
            create_layer_buffers(rt, &plan->layers[l], l ? &plan->layers[0] : NULL, kept, d, err);
        if (status) return status;
    }
    return VTE_OK;
}

#define VTE_LAYER_BUFFER_RELEASE(field, bytes, purpose, kind) vte_buffer_release(&plan->field);
static void release_layer_buffers(vte_layer_activations *plan) { VTE_LAYER_BUFFERS(VTE_LAYER_BUFFER_RELEASE) }

static void release_plan(vte_forward_plan *plan, vte_plan_dims d) {
    for (size_t l = 0; plan->layers && l < d.L; l++) release_layer_buffers(&plan->layers[l]);
    free(plan->layers);
    plan->layers = NULL;
    VTE_FORWARD_BUFFERS(VTE_PLAN_BUFFER_RELEASE)
    VTE_FORWARD_KERNELS(VTE_PLAN_KERNEL_RELEASE)
}

/* Sizes the GEMM backend's scratch for the forward pass's shapes, so that no pass allocates. */
static vte_status reserve_gemms(vte_session *s, vte_error *err) {
    const vte_plan_dims d = s->dims;
    const size_t shapes[][3] = {{d.B * d.P, d.D, d.K},     {d.B * d.T, 3 * d.D, d.D}, {d.B * d.T, d.D, d.D},
                                {d.B * d.T, d.F, d.D},     {d.B * d.T, d.D, d.F},     {d.B, d.labels, d.D}};
    for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++) {
        size_t m = shapes[i][0], n = shapes[i][1], k = shapes[i][2];
        vte_status status = vte_gemm_reserve(s->rt, VTE_GEMM_N, VTE_GEMM_N, m, n, k, k, n, n, err);
        if (status != VTE_OK) return status;
    }
    return VTE_OK;
}

vte_session *vte_session_init(vte_model *model, int max_batch, vte_error *err) {
    return vte_session_init_keeping(model, max_batch, VTE_KEEP_ALL, err);
}

vte_session *vte_session_init_keeping(vte_model *model, int max_batch, unsigned keep, vte_error *err) {
    vte_error local_err = {0};
    if (!err) err = &local_err;
    if (!model || max_batch < 1) {
        vte_error_set(err, VTE_ERR_INVALID_ARGUMENT, "vte_session_init: a model and a batch size >= 1 are required");
        return NULL;
    }
    vte_session *s = calloc(1, sizeof *s);
    if (!s) {
        vte_error_set(err, VTE_ERR_OUT_OF_MEMORY, "out of memory");
        return NULL;
    }
    s->model = model;
    s->rt = model->rt;
    s->max_batch = max_batch;
    s->dims = dims_of(&model->config, max_batch);
    s->kept = keep & VTE_KEEP_ALL;
    if (vte_gemm_self_check(s->rt, err) != VTE_OK || create_kernels(s->rt, &s->fwd, err) != VTE_OK ||
        plan_attention(s->rt, &s->fwd, s->dims, err) != VTE_OK ||
        create_buffers(s->rt, &s->fwd, s->dims, s->kept, err) != VTE_OK || reserve_gemms(s, err) != VTE_OK) {
        vte_session_free(s);
        return NULL;
    }
    return s;
}

void vte_session_free(vte_session *s) {
    if (!s) return;
    if (s->rt && s->rt->queue) clFinish(s->rt->queue);
    if (s->explain_release) s->explain_release(s);
    vte_backward_plan_free(s);
    release_plan(&s->fwd, s->dims);
    free(s);
}

int vte_session_max_batch(const vte_session *s) { return s ? s->max_batch : 0; }

vte_status vte_session_keep(vte_session *s, unsigned keep, vte_error *err) {
    if (!s) return vte_error_set(err, VTE_ERR_INVALID_ARGUMENT, "vte_session_keep: no session");
    vte_error local_err = {0};
    if (!err) err = &local_err;
    const unsigned added = keep & VTE_KEEP_ALL & ~s->kept;
    if (!added) return VTE_OK;
    if (s->rt->queue) clFinish(s->rt->queue); /* no pass is using the buffers about to change */
    for (size_t l = 1; l < s->dims.L; l++) {
        vte_status status = keep_layer_buffers(s->rt, &s->fwd.layers[l], added, s->dims, err);
        if (status) return status; /* layers done so far keep their own: harmless, kept stays as it was */
    }
    s->kept |= added;
    return VTE_OK;
}

unsigned vte_session_kept(const vte_session *s) { return s ? s->kept : 0; }

vte_status vte_session_read_logits(vte_session *s, float *logits, vte_error *err) {
    if (!s || !logits || s->batch < 1)
        return vte_error_set(err, VTE_ERR_INVALID_ARGUMENT, "vte_session_read_logits: no forward pass has run");
    size_t bytes = (size_t)s->batch * (size_t)s->model->config.num_labels * sizeof(float);
    return vte_buffer_read(s->rt, s->fwd.logits, 0, bytes, logits, err);
}

vte_status vte_session_read_attention(vte_session *s, int layer, float *attention, vte_error *err) {
    if (!s || !attention || s->batch < 1)
        return vte_error_set(err, VTE_ERR_INVALID_ARGUMENT, "vte_session_read_attention: no forward pass has run");
    const vte_model_config *c = &s->model->config;
    if (layer < 0 || layer >= c->num_layers)
        return vte_error_set(err, VTE_ERR_INVALID_ARGUMENT, "layer %d is out of range (the model has %d)", layer,
                             c->num_layers);
    if (!(s->kept_by_last & VTE_KEEP_ATTENTION) && c->num_layers > 1)
        return vte_error_set(err, VTE_ERR_INVALID_ARGUMENT,
                             "vte_session_read_attention: the last forward pass kept no attention of each layer (the "
                             "session was made without VTE_KEEP_ATTENTION; vte_session_keep adds it)");
    size_t bytes = (size_t)s->batch * c->num_heads * c->num_tokens * c->num_tokens * sizeof(float);
    return vte_buffer_read(s->rt, s->fwd.layers[layer].attn, 0, bytes, attention, err);
}

int vte_top_k(const float *logits, int num_labels, int k, vte_prediction *out) {
    if (k > num_labels) k = num_labels;
    if (k < 1 || !logits || !out) return 0;
    /* Softmax in double with the max subtracted, for probabilities that sum to 1 whatever the logits. */
    double max = logits[0], sum = 0.0;
    for (int i = 1; i < num_labels; i++)
        if (logits[i] > max) max = logits[i];
    for (int i = 0; i < num_labels; i++) sum += exp((double)logits[i] - max);
    int filled = 0;
    for (int i = 0; i < num_labels; i++) {
        /* Insertion into the sorted top-k list; ties keep the lower class id first, as torch.topk does. */
        int pos = filled;
        while (pos > 0 && logits[i] > out[pos - 1].logit) pos--;
        if (pos >= k) continue;
        int last = filled < k ? filled : k - 1;
        for (int j = last; j > pos; j--) out[j] = out[j - 1];
        out[pos].class_id = i;
        out[pos].logit = logits[i];
        out[pos].prob = (float)(exp((double)logits[i] - max) / sum);
        if (filled < k) filled++;
    }
    return filled;
}
