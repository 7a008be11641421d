/* The ViT forward pass (Hugging Face ViTForImageClassification; docs/methods.md, "Forward pass"), enqueued on one
 * in-order queue: our kernels for the per-element work, LayerNorm and softmax, the GEMM interface for the rest.
 * One host function per part of the block, in the order the data flows. Nothing is allocated here. */
#include <math.h>

#include "runtime/gemm.h"
#include "vit/session.h"

/* Rows x cols element-wise launch: global size rounded up to the group size (kernels guard their index). */
static size_t elementwise_global(const vte_session *s, size_t count) {
    return vte_round_up(count, s->fwd.elementwise_group);
}

vte_row_launch vte_session_row_launch(const vte_session *s, size_t rows, size_t cols) {
    vte_row_launch launch = {.local = {s->fwd.elementwise_group, 1}};
    if (s->fwd.rows_per_item) {
        launch.dims = 1;
        launch.global[0] = vte_round_up(rows, s->fwd.elementwise_group);
    } else {
        launch.dims = 2;
        launch.global[0] = elementwise_global(s, cols);
        launch.global[1] = rows;
    }
    return launch;
}

static vte_status patch_embedding_forward(vte_session *s, int B, vte_error *err) {
    const vte_model *m = s->model;
    const vte_model_config *c = &m->config;
    const size_t P = (size_t)(c->grid_h * c->grid_w), D = (size_t)c->hidden_size;
    const size_t K = (size_t)(c->num_channels * c->patch_size * c->patch_size);
    size_t global = elementwise_global(s, (size_t)B * P * K), local = s->fwd.elementwise_group;
    vte_status status = VTE_RUN(s->rt, s->fwd.patch_im2col, 1, &global, &local, err, VTE_ARG(s->fwd.pixels),
                                VTE_ARG(s->fwd.patches), VTE_INT(B), VTE_INT(c->num_channels), VTE_INT(c->image_height),
                                VTE_INT(c->image_width), VTE_INT(c->patch_size), VTE_INT(c->grid_h),
                                VTE_INT(c->grid_w));
    if (status) return status;
    status = vte_gemm(s->rt, VTE_GEMM_N, VTE_GEMM_N, (size_t)B * P, D, K, 1.0f, s->fwd.patches, 0, K, m->patch_weight, 0, D,
                      0.0f, s->fwd.patch_out, 0, D, err);
    if (status) return status;
    global = elementwise_global(s, (size_t)B * c->num_tokens * D);
    return VTE_RUN(s->rt, s->fwd.embeddings_assemble, 1, &global, &local, err, VTE_ARG(s->fwd.patch_out),
                   VTE_ARG(m->patch_bias), VTE_ARG(m->cls_token), VTE_ARG(m->position), VTE_ARG(s->fwd.embeddings),
                   VTE_INT(B), VTE_INT(c->num_tokens), VTE_INT(D));
}

vte_status vte_session_layernorm_rows(vte_session *s, cl_mem x, size_t x_row_stride, cl_mem y, cl_mem mean,
                                    cl_mem rstd, cl_mem gamma, cl_mem beta, size_t rows, vte_error *err) {
    const vte_model_config *c = &s->model->config;
    if (s->fwd.rows_per_item) {
        size_t local = s->fwd.elementwise_group, global = vte_round_up(rows, local);
        return VTE_RUN(s->rt, s->fwd.layernorm_forward_per_item, 1, &global, &local, err, VTE_ARG(x),
                       VTE_INT(x_row_stride), VTE_ARG(y), VTE_ARG(mean), VTE_ARG(rstd), VTE_ARG(gamma), VTE_ARG(beta),
                       VTE_INT(rows), VTE_INT(c->hidden_size), VTE_FLOAT(c->layer_norm_eps));
    }
    size_t local = s->fwd.layernorm_group, global = rows * local;
    return VTE_RUN(s->rt, s->fwd.layernorm_forward, 1, &global, &local, err, VTE_ARG(x), VTE_INT(x_row_stride),
                   VTE_ARG(y), VTE_ARG(mean), VTE_ARG(rstd), VTE_ARG(gamma), VTE_ARG(beta), VTE_INT(rows),
                   VTE_INT(c->hidden_size), VTE_FLOAT(c->layer_norm_eps), VTE_LOCAL(local * sizeof(float)));
}

/* y = x * W + bias, W stored [in, out]. */
static vte_status linear_forward(vte_session *s, cl_mem x, size_t rows, size_t in, cl_mem weight, cl_mem bias,
                                 size_t out, cl_mem y, vte_error *err) {
    vte_status status =
        vte_gemm(s->rt, VTE_GEMM_N, VTE_GEMM_N, rows, out, in, 1.0f, x, 0, in, weight, 0, out, 0.0f, y, 0, out, err);
    if (status) return status;
    const vte_row_launch at = vte_session_row_launch(s, rows, out);
    return VTE_RUN(s->rt, s->fwd.rows_per_item ? s->fwd.bias_add_per_item : s->fwd.bias_add, at.dims, at.global,
                   at.local, err, VTE_ARG(y), VTE_ARG(bias), VTE_INT(rows), VTE_INT(out));
}

vte_status vte_session_head_gemm(vte_session *s, vte_gemm_op op_a, vte_gemm_op op_b, size_t m, size_t n, size_t k,
                                 float alpha, vte_head_operand a, vte_head_operand b, vte_head_operand c, int images,
                                 vte_error *err) {
    /* the heads of an image as a batch, the images as groups */
    const vte_gemm_operand ga = {a.buffer, a.base, a.ld, a.head_stride, a.image_stride};
    const vte_gemm_operand gb = {b.buffer, b.base, b.ld, b.head_stride, b.image_stride};
    const vte_gemm_operand gc = {c.buffer, c.base, c.ld, c.head_stride, c.image_stride};
    return vte_gemm_grouped(s->rt, op_a, op_b, m, n, k, alpha, ga, gb, 0.0f, gc, (size_t)s->model->config.num_heads,
                            (size_t)images, err);
}

/* Multi-head self-attention on the packed [B*T, 3D] QKV: scores as strided-batched GEMMs (no permute kernels),
 * softmax kept in attn as the layer's attention map. */
static vte_status attention_probabilities(vte_session *s, const vte_layer_activations *a, int B, vte_error *err) {
    const vte_model_config *c = &s->model->config;
    const size_t T = (size_t)c->num_tokens, D = (size_t)c->hidden_size, H = (size_t)c->num_heads;
    const size_t Dh = D / H;
    const float scale = (float)(1.0 / sqrt((double)Dh));
    /* S_bh = scale * Q_bh K_bh^T */
    vte_head_operand q = {a->qkv, 0, 3 * D, T * 3 * D, Dh}, key = {a->qkv, D, 3 * D, T * 3 * D, Dh};
    vte_head_operand scores = {a->attn, 0, T, H * T * T, T * T};
    vte_status status = vte_session_head_gemm(s, VTE_GEMM_N, VTE_GEMM_T, T, T, Dh, scale, q, key, scores, B, err);
    if (status) return status;
    const size_t rows = (size_t)B * H * T;
    if (s->fwd.rows_per_item) {
        size_t local = s->fwd.elementwise_group, global = vte_round_up(rows, local);
        return VTE_RUN(s->rt, s->fwd.softmax_rows_per_item, 1, &global, &local, err, VTE_ARG(a->attn), VTE_INT(rows),
                       VTE_INT(T));
    }
    size_t local = s->fwd.softmax_group, global = rows * local;
    return VTE_RUN(s->rt, s->fwd.softmax_rows, 1, &global, &local, err, VTE_ARG(a->attn), VTE_INT(rows), VTE_INT(T),
                   VTE_LOCAL(local * sizeof(float)));
}

/* Ctx[:, h*Dh:(h+1)*Dh] = A_h V_h, written straight into the concatenated [T, D] layout. */
static vte_status attention_context(vte_session *s, const vte_layer_activations *a, int B, vte_error *err) {
    const vte_model_config *c = &s->model->config;
    const size_t T = (size_t)c->num_tokens, D = (size_t)c->hidden_size, H = (size_t)c->num_heads;
    const size_t Dh = D / H;
    vte_head_operand probs = {a->attn, 0, T, H * T * T, T * T}, v = {a->qkv, 2 * D, 3 * D, T * 3 * D, Dh};
    vte_head_operand ctx = {a->ctx, 0, D, T * D, Dh};
    return vte_session_head_gemm(s, VTE_GEMM_N, VTE_GEMM_N, T, Dh, T, 1.0f, probs, v, ctx, B, err);
}

/* Whether this pass computes attention fused: the chosen path (vte_forward_plan.fuse_attention), and nothing
 * reads the probabilities afterwards: the session keeps none, and it has more than one layer (a single layer's
 * attn buffer is its own, which vte_session_read_attention reads whatever was kept). */
static int attention_fused_in_pass(const vte_session *s) {
    return s->fwd.fuse_attention && !(s->kept & VTE_KEEP_ATTENTION) && s->model->config.num_layers > 1;
}

/* Ctx = softmax(scale * Q K^T) V in one kernel, the probabilities never written (attn is left as it was). */
static vte_status attention_fused(vte_session *s, const vte_layer_activations *a, int B, vte_error *err) {
    const vte_model_config *c = &s->model->config;
    const size_t T = (size_t)c->num_tokens, H = (size_t)c->num_heads, Dh = (size_t)c->hidden_size / H;
    const float scale = (float)(1.0 / sqrt((double)Dh));
    if (s->fwd.attention_group) {
        const size_t local = s->fwd.attention_group, global = (size_t)B * H * ((T + local - 1) / local) * local;
        const size_t staged = (2 * local + 2 * VTE_ATTENTION_KEY_TILE) * (Dh + 1) * sizeof(float);
        return VTE_RUN(s->rt, s->fwd.attention_fused, 1, &global, &local, err, VTE_ARG(a->qkv), VTE_ARG(a->ctx),
                       VTE_INT(B), VTE_INT(H), VTE_INT(T), VTE_INT(Dh), VTE_FLOAT(scale), VTE_LOCAL(staged));
    }
    const size_t tiles = (T + VTE_ATTENTION_QUERY_ROWS - 1) / VTE_ATTENTION_QUERY_ROWS;
    const size_t local = s->fwd.attention_item_group, global = vte_round_up((size_t)B * H * tiles, local);
    return VTE_RUN(s->rt, s->fwd.attention_fused_per_item, 1, &global, &local, err, VTE_ARG(a->qkv), VTE_ARG(a->ctx),
                   VTE_INT(B), VTE_INT(H), VTE_INT(T), VTE_INT(Dh), VTE_FLOAT(scale));
}

/* out = x * W + bias + residual. */
static vte_status linear_residual_forward(vte_session *s, cl_mem x, size_t rows, size_t in, cl_mem weight,
                                          cl_mem bias, cl_mem residual, size_t out, cl_mem y, vte_error *err) {
    vte_status status =
        vte_gemm(s->rt, VTE_GEMM_N, VTE_GEMM_N, rows, out, in, 1.0f, x, 0, in, weight, 0, out, 0.0f, y, 0, out, err);
    if (status) return status;
    const vte_row_launch at = vte_session_row_launch(s, rows, out);
    return VTE_RUN(s->rt, s->fwd.rows_per_item ? s->fwd.bias_residual_add_per_item : s->fwd.bias_residual_add,
                   at.dims, at.global, at.local, err, VTE_ARG(y), VTE_ARG(bias), VTE_ARG(residual), VTE_INT(rows),
                   VTE_INT(out));
}

/* The part of block l from its attention context on: projection, MLP. */
static vte_status block_after_context(vte_session *s, int l, int B, vte_error *err) {
    const vte_model_config *c = &s->model->config;
    const vte_layer_weights *w = &s->model->layers[l];
    const vte_layer_activations *a = &s->fwd.layers[l];
    const size_t rows = (size_t)B * c->num_tokens, D = (size_t)c->hidden_size, F = (size_t)c->intermediate_size;
    cl_mem input = vte_session_hidden(s, l), output = s->fwd.layers[l].output;
    vte_status status;
    if ((status = linear_residual_forward(s, a->ctx, rows, D, w->out_weight, w->out_bias, input, D, a->resid, err)))
        return status;
    if ((status = vte_session_layernorm_rows(s, a->resid, D, a->ln2_out, a->ln2_mean, a->ln2_rstd, w->ln_after_gamma,
                                    w->ln_after_beta, rows, err)))
        return status;
    /* fc1_pre keeps the pre-activation (bias included) for the GELU backward. */
    if ((status = vte_gemm(s->rt, VTE_GEMM_N, VTE_GEMM_N, rows, F, D, 1.0f, a->ln2_out, 0, D, w->fc1_weight, 0, F, 0.0f,
                           a->fc1_pre, 0, F, err)))
        return status;
    const vte_row_launch at = vte_session_row_launch(s, rows, F);
    if ((status = VTE_RUN(s->rt, s->fwd.rows_per_item ? s->fwd.bias_gelu_forward_per_item : s->fwd.bias_gelu_forward,
                          at.dims, at.global, at.local, err, VTE_ARG(a->fc1_pre), VTE_ARG(a->fc1_act),
                          VTE_ARG(w->fc1_bias), VTE_INT(rows), VTE_INT(F))))
        return status;
    return linear_residual_forward(s, a->fc1_act, rows, F, w->fc2_weight, w->fc2_bias, a->resid, D, output, err);
}

/* The part of block l from its attention probabilities on: context, projection, MLP. */
vte_status vte_forward_block_after_attention(vte_session *s, int l, int B, vte_error *err) {
    vte_status status = attention_context(s, &s->fwd.layers[l], B, err);
    return status ? status : block_after_context(s, l, B, err);
}

vte_status vte_forward_block(vte_session *s, int l, int B, vte_error *err) {
    const vte_model_config *c = &s->model->config;
    const vte_layer_weights *w = &s->model->layers[l];
    const vte_layer_activations *a = &s->fwd.layers[l];
    const size_t rows = (size_t)B * c->num_tokens, D = (size_t)c->hidden_size;
    vte_status status;
    if ((status = vte_session_layernorm_rows(s, vte_session_hidden(s, l), D, a->ln1_out, a->ln1_mean, a->ln1_rstd,
                                             w->ln_before_gamma, w->ln_before_beta, rows, err)))
        return status;
    if ((status = linear_forward(s, a->ln1_out, rows, D, w->qkv_weight, w->qkv_bias, 3 * D, a->qkv, err))) return status;
    if (attention_fused_in_pass(s)) {
        if ((status = attention_fused(s, a, B, err))) return status;
        return block_after_context(s, l, B, err);
    }
    if ((status = attention_probabilities(s, a, B, err))) return status;
    return vte_forward_block_after_attention(s, l, B, err);
}

vte_status vte_forward_head(vte_session *s, int B, vte_error *err) {
    const vte_model *m = s->model;
    const vte_model_config *c = &m->config;
    const size_t D = (size_t)c->hidden_size, T = (size_t)c->num_tokens;
    /* Only the CLS row of each image reaches the classifier: normalise just those rows (stride T*D). */
    vte_status status = vte_session_layernorm_rows(s, vte_session_hidden(s, c->num_layers), T * D, s->fwd.final_out,
                                                   s->fwd.final_mean, s->fwd.final_rstd, m->final_gamma,
                                                   m->final_beta, (size_t)B, err);
    if (status) return status;
    return linear_forward(s, s->fwd.final_out, (size_t)B, D, m->classifier_weight, m->classifier_bias,
                          (size_t)c->num_labels, s->fwd.logits, err);
}

vte_status vte_session_forward(vte_session *s, const float *pixels, int n_images, vte_error *err) {
    if (!s || !pixels || n_images < 1 || n_images > s->max_batch)
        return vte_error_set(err, VTE_ERR_INVALID_ARGUMENT, "vte_session_forward: %d images for a session of at most %d",
                             n_images, s ? s->max_batch : 0);
    const vte_model_config *c = &s->model->config;
    size_t pixel_bytes = (size_t)n_images * vte_preprocess_size(c) * sizeof(float);
    s->batch = 0;
    vte_status status = vte_buffer_write(s->rt, s->fwd.pixels, 0, pixel_bytes, pixels, err);
    if (!status) status = patch_embedding_forward(s, n_images, err);
    for (int l = 0; l < c->num_layers && !status; l++) status = vte_forward_block(s, l, n_images, err);
    if (!status) status = vte_forward_head(s, n_images, err);
    if (!status) status = vte_runtime_finish(s->rt, err);
    if (!status) s->batch = n_images, s->kept_by_last = s->kept;
    return status;
}
