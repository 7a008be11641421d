/* The backward pass: input gradients of one target logit per image through every layer (algorithms.md §8),
 * down to d(logit)/dA^l for every layer and head. No weight gradients. It reuses the activations the forward
 * pass kept and the buffers of the explain plan; nothing is allocated here.
 *
 * Linear weights are stored [in, out], so y = x W gives dx = dy W^T: every GEMM here transposes its right
 * operand. */
#include <math.h>
#include <string.h>

#include "runtime/gemm.h"
#include "vit/session.h"

static size_t elementwise_global(const vte_session *s, size_t count) {
    return vte_round_up(count, s->k.elementwise_group);
}

/* dx (+)= LayerNorm-backward(dy) for `rows` rows; x rows at x_row_stride, dx rows at dx_row_stride. */
vte_status vte_session_layernorm_backward(vte_session *s, cl_mem dy, cl_mem x, size_t x_row_stride, cl_mem mean,
                                     cl_mem rstd, cl_mem gamma, cl_mem dx, size_t dx_row_stride, int accumulate,
                                     size_t rows, vte_error *err) {
    size_t local = s->x.reduce_group, global = rows * local;
    return VTE_RUN(s->rt, s->x.layernorm_backward, 1, &global, &local, err, VTE_ARG(dy), VTE_ARG(x),
                   VTE_INT(x_row_stride), VTE_ARG(mean), VTE_ARG(rstd), VTE_ARG(gamma), VTE_ARG(dx),
                   VTE_INT(dx_row_stride), VTE_INT(accumulate), VTE_INT(rows),
                   VTE_INT(s->model->config.hidden_size), VTE_LOCAL(local * sizeof(float)));
}

/* dx = dy W^T for a weight stored [in, out]. */
static vte_status linear_backward(vte_session *s, cl_mem dy, size_t rows, size_t out, cl_mem weight, size_t in,
                                  cl_mem dx, vte_error *err) {
    return vte_gemm(s->rt, VTE_GEMM_N, VTE_GEMM_T, rows, in, out, 1.0f, dy, 0, out, weight, 0, out, 0.0f, dx, 0, in,
                    err);
}

vte_status vte_session_gelu_backward(vte_session *s, cl_mem u, cl_mem d, size_t count, vte_error *err) {
    size_t global = elementwise_global(s, count), local = s->k.elementwise_group;
    return VTE_RUN(s->rt, s->x.gelu_backward, 1, &global, &local, err, VTE_ARG(u), VTE_ARG(d), VTE_INT(count));
}

/* From dCtx (x.d_ctx) to dA (kept in x.d_attn[l]) and on to dQ, dK, dV (x.d_qkv), heads and images batched. */
static vte_status attention_backward(vte_session *s, int l, int B, vte_error *err) {
    const vte_model_config *c = &s->model->config;
    const vte_layer_activations *a = &s->layers[l];
    vte_explain_plan *x = &s->x;
    const size_t T = (size_t)c->num_tokens, D = (size_t)c->hidden_size, H = (size_t)c->num_heads, Dh = D / H;
    const float scale = (float)(1.0 / sqrt((double)Dh));
    const vte_head_operand d_ctx = {x->d_ctx, 0, D, T * D, Dh}, probs = {a->attn, 0, T, H * T * T, T * T};
    const vte_head_operand q = {a->qkv, 0, 3 * D, T * 3 * D, Dh}, k = {a->qkv, D, 3 * D, T * 3 * D, Dh};
    const vte_head_operand v = {a->qkv, 2 * D, 3 * D, T * 3 * D, Dh};
    const vte_head_operand d_q = {x->d_qkv, 0, 3 * D, T * 3 * D, Dh}, d_k = {x->d_qkv, D, 3 * D, T * 3 * D, Dh};
    const vte_head_operand d_v = {x->d_qkv, 2 * D, 3 * D, T * 3 * D, Dh};
    const vte_head_operand d_attn = {x->d_attn[l], 0, T, H * T * T, T * T};
    const vte_head_operand d_scores = {x->d_scores, 0, T, H * T * T, T * T};
    vte_status status;
    /* dA = dCtx V^T;  dV = A^T dCtx */
    if ((status = vte_session_head_gemm(s, VTE_GEMM_N, VTE_GEMM_T, T, T, Dh, 1.0f, d_ctx, v, d_attn, B, err)) ||
        (status = vte_session_head_gemm(s, VTE_GEMM_T, VTE_GEMM_N, T, Dh, T, 1.0f, probs, d_ctx, d_v, B, err)))
        return status;
    /* dS = A (dA - rowsum(A dA)), on a copy: dA itself is what the explanations read. */
    size_t bytes = (size_t)B * H * T * T * sizeof(float);
    VTE_CL_CHECK(err, clEnqueueCopyBuffer(s->rt->queue, x->d_attn[l], x->d_scores, 0, 0, bytes, 0, NULL, NULL));
    size_t local = x->reduce_group, rows = (size_t)B * H * T, global = rows * local;
    if ((status = VTE_RUN(s->rt, x->softmax_backward, 1, &global, &local, err, VTE_ARG(a->attn),
                          VTE_ARG(x->d_scores), VTE_INT(rows), VTE_INT(T), VTE_LOCAL(local * sizeof(float)))))
        return status;
    /* dQ = scale dS K;  dK = scale dS^T Q */
    if ((status = vte_session_head_gemm(s, VTE_GEMM_N, VTE_GEMM_N, T, Dh, T, scale, d_scores, k, d_q, B, err)))
        return status;
    return vte_session_head_gemm(s, VTE_GEMM_T, VTE_GEMM_N, T, Dh, T, scale, d_scores, q, d_k, B, err);
}

/* On entry x.d_hidden holds d/d(output of layer l); on exit d/d(input of layer l) (skipped for layer 0,
 * whose input gradient nothing needs). */
static vte_status block_backward(vte_session *s, int l, int B, vte_error *err) {
    const vte_model_config *c = &s->model->config;
    const vte_layer_weights *w = &s->model->layers[l];
    const vte_layer_activations *a = &s->layers[l];
    vte_explain_plan *x = &s->x;
    const size_t rows = (size_t)B * c->num_tokens, D = (size_t)c->hidden_size, F = (size_t)c->intermediate_size;
    vte_status status;
    /* MLP branch: h = y + fc2(gelu(fc1(LN2(y)))) */
    if ((status = linear_backward(s, x->d_hidden, rows, D, w->fc2_weight, F, x->d_act, err))) return status;
    if ((status = vte_session_gelu_backward(s, a->fc1_pre, x->d_act, rows * F, err))) return status;
    if ((status = linear_backward(s, x->d_act, rows, F, w->fc1_weight, D, x->d_ln, err))) return status;
    /* d_hidden becomes dL/dy: the residual path plus the LayerNorm branch */
    if ((status = vte_session_layernorm_backward(s, x->d_ln, a->resid, D, a->ln2_mean, a->ln2_rstd, w->ln_after_gamma,
                                     x->d_hidden, D, 1, rows, err)))
        return status;
    /* Attention branch: y = h_in + out_proj(ctx) */
    if ((status = linear_backward(s, x->d_hidden, rows, D, w->out_weight, D, x->d_ctx, err))) return status;
    if ((status = attention_backward(s, l, B, err))) return status;
    if (l == 0) return VTE_OK;
    if ((status = linear_backward(s, x->d_qkv, rows, 3 * D, w->qkv_weight, D, x->d_ln, err))) return status;
    return vte_session_layernorm_backward(s, x->d_ln, s->hidden[l], D, a->ln1_mean, a->ln1_rstd, w->ln_before_gamma, x->d_hidden,
                              D, 1, rows, err);
}

/* seed[b] = W_cls[classes[b], :], the gradient of the target logit w.r.t. the final LayerNorm output. */
vte_status vte_session_classifier_seed(vte_session *s, const int *classes, int B, vte_error *err) {
    const vte_model_config *c = &s->model->config;
    for (int b = 0; b < B; b++)
        if (classes[b] < 0 || classes[b] >= c->num_labels)
            return vte_error_set(err, VTE_ERR_INVALID_ARGUMENT, "class %d is out of range (the model has %d classes)",
                                 classes[b], c->num_labels);
    vte_status status = vte_buffer_write(s->rt, s->x.classes, 0, (size_t)B * sizeof(cl_int), classes, err);
    if (status) return status;
    size_t global = elementwise_global(s, (size_t)B * c->hidden_size), local = s->k.elementwise_group;
    return VTE_RUN(s->rt, s->x.classifier_seed, 1, &global, &local, err, VTE_ARG(s->model->classifier_weight),
                   VTE_ARG(s->x.classes), VTE_ARG(s->x.seed), VTE_INT(B), VTE_INT(c->hidden_size),
                   VTE_INT(c->num_labels));
}

vte_status vte_session_backward(vte_session *s, const int *classes, vte_error *err) {
    if (!s || s->batch < 1) return vte_error_set(err, VTE_ERR_INVALID_ARGUMENT, "backward pass before any forward pass");
    vte_status status = vte_explain_plan_init(s, err);
    if (status) return status;
    const vte_model_config *c = &s->model->config;
    const int B = s->batch;
    const size_t T = (size_t)c->num_tokens, D = (size_t)c->hidden_size;
    if ((status = vte_session_classifier_seed(s, classes, B, err))) return status;
    /* Only the CLS rows reach the classifier: the other rows of d_hidden start at zero. */
    if ((status = vte_buffer_fill_zero(s->rt, s->x.d_hidden, (size_t)B * T * D * sizeof(float), err))) return status;
    if ((status = vte_session_layernorm_backward(s, s->x.seed, s->hidden[c->num_layers], T * D, s->final_mean, s->final_rstd,
                                     s->model->final_gamma, s->x.d_hidden, T * D, 0, (size_t)B, err)))
        return status;
    for (int l = c->num_layers - 1; l >= 0; l--)
        if ((status = block_backward(s, l, B, err))) return status;
    return vte_runtime_finish(s->rt, err);
}
