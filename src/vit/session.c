/* Session planning: every buffer the passes need, sized once from the config and the batch size. */
#include "vit/session.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/gemm.h"

static vte_status create_kernels(vte_session *s, vte_error *err) {
    vte_runtime *rt = s->rt;
    vte_forward_kernels *k = &s->k;
    struct {
        cl_kernel *slot;
        const char *family, *name;
    } wanted[] = {
        {&k->patch_im2col, "embed", "patch_im2col"},
        {&k->embeddings_assemble, "embed", "embeddings_assemble"},
        {&k->layernorm_forward, "layernorm", "layernorm_forward"},
        {&k->bias_add, "elementwise", "bias_add"},
        {&k->bias_gelu_forward, "elementwise", "bias_gelu_forward"},
        {&k->bias_residual_add, "elementwise", "bias_residual_add"},
        {&k->softmax_rows, "attention", "softmax_rows"},
    };
    for (size_t i = 0; i < sizeof wanted / sizeof wanted[0]; i++) {
        *wanted[i].slot = vte_kernel_create(rt, wanted[i].family, "", wanted[i].name, err);
        if (!*wanted[i].slot) return err->code;
    }
    k->layernorm_group = vte_kernel_group_size(rt, k->layernorm_forward, vte_runtime_reduction_group(rt));
    k->softmax_group = vte_kernel_group_size(rt, k->softmax_rows, vte_runtime_reduction_group(rt));
    k->elementwise_group = vte_kernel_group_size(rt, k->bias_residual_add, 64);
    return VTE_OK;
}

static vte_status reserve_gemms(vte_session *s, vte_error *err) {
    const vte_model_config *c = &s->model->config;
    const size_t B = (size_t)s->max_batch, T = (size_t)c->num_tokens, D = (size_t)c->hidden_size;
    const size_t F = (size_t)c->intermediate_size, P = (size_t)(c->grid_h * c->grid_w);
    const size_t K = (size_t)(c->num_channels * c->patch_size * c->patch_size), L = (size_t)c->num_labels;
    const size_t shapes[][3] = {{B * P, D, K}, {B * T, 3 * D, D}, {B * T, D, D},
                                {B * T, F, D}, {B * T, D, F},     {B, L, D}};
    for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++) {
        size_t m = shapes[i][0], n = shapes[i][1], k = shapes[i][2];
        vte_status status = vte_gemm_reserve(s->rt, VTE_GEMM_N, VTE_GEMM_N, m, n, k, k, n, n, err);
        if (status != VTE_OK) return status;
    }
    return VTE_OK;
}

#define ALLOC(slot, count, what)                                                    \
    do {                                                                            \
        if (!((slot) = vte_buffer_create(rt, (size_t)(count) * sizeof(float), what, err))) \
            return err->code;                                                       \
    } while (0)

static vte_status plan_buffers(vte_session *s, vte_error *err) {
    vte_runtime *rt = s->rt;
    const vte_model_config *c = &s->model->config;
    const size_t B = (size_t)s->max_batch, T = (size_t)c->num_tokens, D = (size_t)c->hidden_size;
    const size_t F = (size_t)c->intermediate_size, P = (size_t)(c->grid_h * c->grid_w), H = (size_t)c->num_heads;
    const size_t K = (size_t)(c->num_channels * c->patch_size * c->patch_size);
    const size_t rows = B * T;
    ALLOC(s->pixels, B * (size_t)c->num_channels * c->image_height * c->image_width, "input pixels");
    ALLOC(s->patches, B * P * K, "image patches");
    ALLOC(s->patch_out, B * P * D, "patch embeddings");
    s->hidden = calloc((size_t)c->num_layers + 1, sizeof *s->hidden);
    s->layers = calloc((size_t)c->num_layers, sizeof *s->layers);
    if (!s->hidden || !s->layers) return vte_error_set(err, VTE_ERR_OUT_OF_MEMORY, "out of memory planning a session");
    for (int l = 0; l <= c->num_layers; l++) ALLOC(s->hidden[l], rows * D, "hidden states");
    for (int l = 0; l < c->num_layers; l++) {
        vte_layer_activations *a = &s->layers[l];
        ALLOC(a->ln1_out, rows * D, "LayerNorm outputs");
        ALLOC(a->ln1_mean, rows, "LayerNorm statistics");
        ALLOC(a->ln1_rstd, rows, "LayerNorm statistics");
        ALLOC(a->qkv, rows * 3 * D, "query/key/value activations");
        ALLOC(a->attn, B * H * T * T, "attention probabilities");
        ALLOC(a->ctx, rows * D, "attention context");
        ALLOC(a->resid, rows * D, "residual stream");
        ALLOC(a->ln2_out, rows * D, "LayerNorm outputs");
        ALLOC(a->ln2_mean, rows, "LayerNorm statistics");
        ALLOC(a->ln2_rstd, rows, "LayerNorm statistics");
        ALLOC(a->fc1_pre, rows * F, "MLP activations");
        ALLOC(a->fc1_act, rows * F, "MLP activations");
    }
    ALLOC(s->final_out, B * D, "final LayerNorm output");
    ALLOC(s->final_mean, B, "final LayerNorm statistics");
    ALLOC(s->final_rstd, B, "final LayerNorm statistics");
    ALLOC(s->logits, B * (size_t)c->num_labels, "logits");
    return VTE_OK;
}
#undef ALLOC

vte_session *vte_session_init(vte_model *model, int max_batch, vte_error *err) {
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
    if (vte_gemm_self_check(s->rt, err) != VTE_OK || create_kernels(s, err) != VTE_OK ||
        plan_buffers(s, err) != VTE_OK || reserve_gemms(s, err) != VTE_OK) {
        vte_session_free(s);
        return NULL;
    }
    return s;
}

void vte_session_free(vte_session *s) {
    if (!s) return;
    if (s->rt && s->rt->queue) clFinish(s->rt->queue);
    vte_explain_plan_free(s);
    const vte_model_config *c = &s->model->config;
    if (s->layers)
        for (int l = 0; l < c->num_layers; l++) {
            vte_layer_activations *a = &s->layers[l];
            cl_mem *all[] = {&a->ln1_out, &a->ln1_mean, &a->ln1_rstd, &a->qkv,     &a->attn,     &a->ctx,
                             &a->resid,   &a->ln2_out,  &a->ln2_mean, &a->ln2_rstd, &a->fc1_pre, &a->fc1_act};
            for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) vte_buffer_release(all[i]);
        }
    if (s->hidden)
        for (int l = 0; l <= c->num_layers; l++) vte_buffer_release(&s->hidden[l]);
    free(s->layers);
    free(s->hidden);
    cl_mem *all[] = {&s->pixels,     &s->patches,    &s->patch_out, &s->final_out,
                     &s->final_mean, &s->final_rstd, &s->logits};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) vte_buffer_release(all[i]);
    cl_kernel kernels[] = {s->k.patch_im2col,      s->k.embeddings_assemble, s->k.layernorm_forward, s->k.bias_add,
                           s->k.bias_gelu_forward, s->k.bias_residual_add,   s->k.softmax_rows};
    for (size_t i = 0; i < sizeof kernels / sizeof kernels[0]; i++)
        if (kernels[i]) clReleaseKernel(kernels[i]);
    free(s);
}

int vte_session_max_batch(const vte_session *s) { return s ? s->max_batch : 0; }

vte_status vte_session_read_logits(vte_session *s, float *logits, vte_error *err) {
    if (!s || !logits || s->batch < 1)
        return vte_error_set(err, VTE_ERR_INVALID_ARGUMENT, "vte_session_read_logits: no forward pass has run");
    size_t bytes = (size_t)s->batch * (size_t)s->model->config.num_labels * sizeof(float);
    return vte_buffer_read(s->rt, s->logits, 0, bytes, logits, err);
}

vte_status vte_session_read_attention(vte_session *s, int layer, float *attention, vte_error *err) {
    if (!s || !attention || s->batch < 1)
        return vte_error_set(err, VTE_ERR_INVALID_ARGUMENT, "vte_session_read_attention: no forward pass has run");
    const vte_model_config *c = &s->model->config;
    if (layer < 0 || layer >= c->num_layers)
        return vte_error_set(err, VTE_ERR_INVALID_ARGUMENT, "layer %d is out of range (the model has %d)", layer,
                             c->num_layers);
    size_t bytes = (size_t)s->batch * c->num_heads * c->num_tokens * c->num_tokens * sizeof(float);
    return vte_buffer_read(s->rt, s->layers[layer].attn, 0, bytes, attention, err);
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
