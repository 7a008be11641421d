/* The backward pass: input gradients of target logits through every layer (docs/methods.md, "Backward pass"),
 * down to d(logit)/dA^l for every layer and head. No weight gradients. It reuses the activations the forward pass
 * kept and the backward plan's buffers (made on the first backward pass); nothing is allocated in a pass.
 *
 * Several targets per image go through one pass: the gradient rows of target t of image b sit at row t*B + b
 * ("slots", target-major), so every weight GEMM multiplies targets*B images' rows at once, and the kernels that
 * read the forward pass's activations take each slot's from image b (source_rows: row r reads source row
 * r % source_rows). The attention products, whose both operands are per image, run one grouped GEMM per target.
 *
 * Linear weights are stored [in, out], so y = x W gives dx = dy W^T: every GEMM here transposes its right
 * operand. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/gemm.h"
#include "vit/session.h"

static size_t elementwise_global(const vte_session *s, size_t count) {
    return vte_round_up(count, s->fwd.elementwise_group);
}

/* dx (+)= LayerNorm-backward(dy) for `rows` rows; x rows at x_row_stride, dx rows at dx_row_stride, statistics
 * at stats_stride. */
vte_status vte_session_layernorm_backward(vte_session *s, cl_mem dy, cl_mem x, size_t x_row_stride, cl_mem mean,
                                          cl_mem rstd, size_t stats_stride, cl_mem gamma, cl_mem dx,
                                          size_t dx_row_stride, int accumulate, size_t rows, size_t source_rows,
                                          vte_error *err) {
    if (s->fwd.rows_per_item) {
        size_t local = s->fwd.elementwise_group, global = vte_round_up(rows, local);
        return VTE_RUN(s->rt, s->bwd.layernorm_backward_per_item, 1, &global, &local, err, VTE_ARG(dy), VTE_ARG(x),
                       VTE_INT(x_row_stride), VTE_ARG(mean), VTE_ARG(rstd), VTE_INT(stats_stride), VTE_ARG(gamma),
                       VTE_ARG(dx), VTE_INT(dx_row_stride), VTE_INT(accumulate), VTE_INT(rows), VTE_INT(source_rows),
                       VTE_INT(s->model->config.hidden_size));
    }
    size_t local = s->bwd.reduce_group, global = rows * local;
    return VTE_RUN(s->rt, s->bwd.layernorm_backward, 1, &global, &local, err, VTE_ARG(dy), VTE_ARG(x),
                   VTE_INT(x_row_stride), VTE_ARG(mean), VTE_ARG(rstd), VTE_INT(stats_stride), VTE_ARG(gamma),
                   VTE_ARG(dx), VTE_INT(dx_row_stride), VTE_INT(accumulate), VTE_INT(rows), VTE_INT(source_rows),
                   VTE_INT(s->model->config.hidden_size), VTE_LOCAL(local * sizeof(float)));
}

/* dx = dy W^T for a weight stored [in, out]; rows of dy are dy_ld apart, rows of dx dx_ld apart. */
static vte_status linear_backward(vte_session *s, cl_mem dy, size_t dy_ld, size_t rows, size_t out, cl_mem weight,
                                  size_t in, cl_mem dx, size_t dx_ld, vte_error *err) {
    return vte_gemm(s->rt, VTE_GEMM_N, VTE_GEMM_T, rows, in, out, 1.0f, dy, 0, dy_ld, weight, 0, out, 0.0f, dx, 0,
                    dx_ld, err);
}

vte_status vte_session_gelu_backward(vte_session *s, cl_mem u, size_t u_row_stride, cl_mem d, size_t rows,
                                     size_t source_rows, size_t cols, vte_error *err) {
    const vte_row_launch at = vte_session_row_launch(s, rows, cols);
    return VTE_RUN(s->rt, s->fwd.rows_per_item ? s->bwd.gelu_backward_per_item : s->bwd.gelu_backward, at.dims,
                   at.global, at.local, err, VTE_ARG(u), VTE_INT(u_row_stride), VTE_ARG(d), VTE_INT(rows),
                   VTE_INT(source_rows), VTE_INT(cols));
}

/* From dCtx (bwd.d_ctx) to dA (kept in bwd.layers[l].d_attn) and on to dQ, dK, dV (bwd.d_qkv), heads and images
 * batched, one grouped GEMM per target (the activations are image b's for every target); for layer 0 only dA
 * (nothing below needs the rest). */
static vte_status attention_backward(vte_session *s, int l, int B, int targets, vte_error *err) {
    const vte_model_config *c = &s->model->config;
    const vte_layer_activations *a = &s->fwd.layers[l];
    vte_backward_plan *g = &s->bwd;
    const size_t T = (size_t)c->num_tokens, D = (size_t)c->hidden_size, H = (size_t)c->num_heads, Dh = D / H;
    const float scale = (float)(1.0 / sqrt((double)Dh));
    const vte_head_operand probs = {a->attn, 0, T, H * T * T, T * T};
    const vte_head_operand q = {a->qkv, 0, 3 * D, T * 3 * D, Dh}, k = {a->qkv, D, 3 * D, T * 3 * D, Dh};
    const vte_head_operand v = {a->qkv, 2 * D, 3 * D, T * 3 * D, Dh};
    vte_status status;
    for (int t = 0; t < targets; t++) {
        /* target t's slots start at image t*B of every gradient buffer */
        const size_t first = (size_t)t * B;
        const vte_head_operand d_ctx = {g->d_ctx, first * T * D, D, T * D, Dh};
        const vte_head_operand d_v = {g->d_qkv, first * T * 3 * D + 2 * D, 3 * D, T * 3 * D, Dh};
        const vte_head_operand d_attn = {g->layers[l].d_attn, first * H * T * T, T, H * T * T, T * T};
        /* dA = dCtx V^T;  dV = A^T dCtx */
        if ((status = vte_session_head_gemm(s, VTE_GEMM_N, VTE_GEMM_T, T, T, Dh, 1.0f, d_ctx, v, d_attn, B, err)))
            return status;
        if (l > 0 &&
            (status = vte_session_head_gemm(s, VTE_GEMM_T, VTE_GEMM_N, T, Dh, T, 1.0f, probs, d_ctx, d_v, B, err)))
            return status;
    }
    if (l == 0) return VTE_OK;
    /* dS = A (dA - rowsum(A dA)) into d_scores: dA itself is what the explanations read. */
    const size_t rows = (size_t)targets * B * H * T, source_rows = (size_t)B * H * T;
    cl_mem grad = g->layers[l].d_attn;
    if (s->fwd.rows_per_item) {
        size_t local = s->fwd.elementwise_group, global = vte_round_up(rows, local);
        status = VTE_RUN(s->rt, g->softmax_backward_per_item, 1, &global, &local, err, VTE_ARG(a->attn), VTE_ARG(grad),
                         VTE_ARG(g->d_scores), VTE_INT(rows), VTE_INT(source_rows), VTE_INT(T));
    } else {
        size_t local = g->reduce_group, global = rows * local;
        status = VTE_RUN(s->rt, g->softmax_backward, 1, &global, &local, err, VTE_ARG(a->attn), VTE_ARG(grad),
                         VTE_ARG(g->d_scores), VTE_INT(rows), VTE_INT(source_rows), VTE_INT(T),
                         VTE_LOCAL(local * sizeof(float)));
    }
    if (status) return status;
    for (int t = 0; t < targets; t++) {
        const size_t first = (size_t)t * B;
        const vte_head_operand d_scores = {g->d_scores, first * H * T * T, T, H * T * T, T * T};
        const vte_head_operand d_q = {g->d_qkv, first * T * 3 * D, 3 * D, T * 3 * D, Dh};
        const vte_head_operand d_k = {g->d_qkv, first * T * 3 * D + D, 3 * D, T * 3 * D, Dh};
        /* dQ = scale dS K;  dK = scale dS^T Q */
        if ((status = vte_session_head_gemm(s, VTE_GEMM_N, VTE_GEMM_N, T, Dh, T, scale, d_scores, k, d_q, B, err)) ||
            (status = vte_session_head_gemm(s, VTE_GEMM_T, VTE_GEMM_N, T, Dh, T, scale, d_scores, q, d_k, B, err)))
            return status;
    }
    return VTE_OK;
}

/* On entry bwd.d_hidden holds d/d(output of layer l) for B images times `targets` slots; on exit d/d(input of
 * layer l) (skipped for layer 0, whose input gradient nothing needs).
 * In the last layer only the CLS rows of d_hidden are nonzero (the classifier reads nothing else), and they stay
 * the only ones down to the attention context: there the MLP and the output projection run on those rows, at a
 * stride of T rows, and d_ctx is zero elsewhere. From the attention probabilities on every row takes part. */
static vte_status block_backward(vte_session *s, int l, int B, int targets, vte_error *err) {
    const vte_model_config *c = &s->model->config;
    const vte_layer_weights *w = &s->model->layers[l];
    const vte_layer_activations *a = &s->fwd.layers[l];
    vte_backward_plan *g = &s->bwd;
    const size_t T = (size_t)c->num_tokens, D = (size_t)c->hidden_size, F = (size_t)c->intermediate_size;
    const size_t slots = (size_t)targets * B, rows = slots * T;
    const int cls_only = l == c->num_layers - 1;
    const size_t branch_rows = cls_only ? slots : rows, step = cls_only ? T : 1; /* step: in token rows */
    const size_t source_rows = cls_only ? (size_t)B : (size_t)B * T; /* the activations' rows of one target */
    vte_status status;
    /* MLP branch: h = y + fc2(gelu(fc1(LN2(y)))); d_act and d_ln hold branch_rows contiguous rows */
    if ((status = linear_backward(s, g->d_hidden, step * D, branch_rows, D, w->fc2_weight, F, g->d_act, F, err)) ||
        (status = vte_session_gelu_backward(s, a->fc1_pre, step * F, g->d_act, branch_rows, source_rows, F, err)) ||
        (status = linear_backward(s, g->d_act, F, branch_rows, F, w->fc1_weight, D, g->d_ln, D, err)))
        return status;
    /* d_hidden becomes dL/dy: the residual path plus the LayerNorm branch */
    if ((status = vte_session_layernorm_backward(s, g->d_ln, a->resid, step * D, a->ln2_mean, a->ln2_rstd, step,
                                                 w->ln_after_gamma, g->d_hidden, step * D, 1, branch_rows, source_rows,
                                                 err)))
        return status;
    /* Attention branch: y = h_in + out_proj(ctx) */
    if (cls_only && (status = vte_buffer_fill_zero(s->rt, g->d_ctx, rows * D * sizeof(float), err))) return status;
    if ((status = linear_backward(s, g->d_hidden, step * D, branch_rows, D, w->out_weight, D, g->d_ctx, step * D, err)))
        return status;
    if ((status = attention_backward(s, l, B, targets, err))) return status;
    if (l == 0) return VTE_OK;
    if ((status = linear_backward(s, g->d_qkv, 3 * D, rows, 3 * D, w->qkv_weight, D, g->d_ln, D, err))) return status;
    return vte_session_layernorm_backward(s, g->d_ln, vte_session_hidden(s, l), D, a->ln1_mean, a->ln1_rstd, 1,
                                          w->ln_before_gamma, g->d_hidden, D, 1, rows, (size_t)B * T, err);
}

/* seed[r] = W_cls[classes[r], :], the gradient of the target logit w.r.t. the final LayerNorm output. */
vte_status vte_session_classifier_seed(vte_session *s, const int *classes, int rows, vte_error *err) {
    const vte_model_config *c = &s->model->config;
    if (!s->bwd.planned || rows < 1 || (size_t)rows > s->dims.B * (size_t)s->bwd.targets)
        return vte_error_set(err, VTE_ERR_INVALID_ARGUMENT, "%d gradient seeds for a backward plan of %zu", rows,
                             s->bwd.planned ? s->dims.B * (size_t)s->bwd.targets : (size_t)0);
    for (int r = 0; r < rows; r++)
        if (classes[r] < 0 || classes[r] >= c->num_labels)
            return vte_error_set(err, VTE_ERR_INVALID_ARGUMENT, "class %d is out of range (the model has %d classes)",
                                 classes[r], c->num_labels);
    vte_status status = vte_buffer_write(s->rt, s->bwd.classes, 0, (size_t)rows * sizeof(cl_int), classes, err);
    if (status) return status;
    size_t global = elementwise_global(s, (size_t)rows * c->hidden_size), local = s->fwd.elementwise_group;
    return VTE_RUN(s->rt, s->bwd.classifier_seed, 1, &global, &local, err, VTE_ARG(s->model->classifier_weight),
                   VTE_ARG(s->bwd.classes), VTE_ARG(s->bwd.seed), VTE_INT(rows), VTE_INT(c->hidden_size),
                   VTE_INT(c->num_labels));
}

int vte_backward_targets_per_pass(const vte_session *s, int wanted) {
    const int fill = s->max_batch >= VTE_BACKWARD_IMAGES ? 1 : VTE_BACKWARD_IMAGES / s->max_batch;
    return wanted < 1 ? 1 : wanted < fill ? wanted : fill;
}

vte_status vte_session_backward_targets(vte_session *s, const int *classes, int targets, vte_error *err) {
    if (!s || s->batch < 1) return vte_error_set(err, VTE_ERR_INVALID_ARGUMENT, "backward pass before any forward pass");
    if ((s->kept_by_last & VTE_KEEP_ALL) != VTE_KEEP_ALL)
        return vte_error_set(err, VTE_ERR_INVALID_ARGUMENT,
                             "backward pass after a forward pass that kept not every layer's activations (the session "
                             "needs vte_session_keep(VTE_KEEP_ALL) before that forward pass)");
    vte_status status = vte_backward_plan_init(s, targets, err);
    if (status) return status;
    if (targets < 1 || targets > s->bwd.targets)
        return vte_error_set(err, VTE_ERR_INVALID_ARGUMENT,
                             "%d targets in one backward pass: this session takes at most %d per pass", targets,
                             s->bwd.targets);
    const vte_model_config *c = &s->model->config;
    const int B = s->batch;
    const size_t T = (size_t)c->num_tokens, D = (size_t)c->hidden_size, slots = (size_t)targets * B;
    if ((status = vte_session_classifier_seed(s, classes, (int)slots, err))) return status;
    /* Only the CLS rows reach the classifier: the other rows of d_hidden start at zero. */
    if ((status = vte_buffer_fill_zero(s->rt, s->bwd.d_hidden, slots * T * D * sizeof(float), err))) return status;
    if ((status = vte_session_layernorm_backward(s, s->bwd.seed, vte_session_hidden(s, c->num_layers), T * D,
                                                 s->fwd.final_mean, s->fwd.final_rstd, 1, s->model->final_gamma,
                                                 s->bwd.d_hidden, T * D, 0, slots, (size_t)B, err)))
        return status;
    for (int l = c->num_layers - 1; l >= 0; l--)
        if ((status = block_backward(s, l, B, targets, err))) return status;
    s->bwd.read_target = 0;
    return vte_runtime_finish(s->rt, err);
}

vte_status vte_session_backward(vte_session *s, const int *classes, vte_error *err) {
    return vte_session_backward_targets(s, classes, 1, err);
}

/* ---------------------------------------------------------------- the plan (session.h's lists) */

static vte_status create_kernels(vte_runtime *rt, vte_backward_plan *plan, vte_error *err) {
    VTE_BACKWARD_KERNELS(VTE_PLAN_KERNEL_CREATE)
    plan->reduce_group = vte_reduction_group_of(rt, plan->layernorm_backward, plan->softmax_backward);
    return VTE_OK;
}

static vte_status create_buffers(vte_runtime *rt, vte_backward_plan *plan, vte_plan_dims d, vte_error *err) {
    VTE_BACKWARD_BUFFERS(VTE_PLAN_BUFFER_CREATE)
    return VTE_OK;
}

static vte_status create_layer_buffers(vte_runtime *rt, vte_layer_gradients *plan, vte_plan_dims d, vte_error *err) {
    VTE_BACKWARD_LAYER_BUFFERS(VTE_PLAN_BUFFER_CREATE)
    return VTE_OK;
}

static void release_layer_buffers(vte_layer_gradients *plan) { VTE_BACKWARD_LAYER_BUFFERS(VTE_PLAN_BUFFER_RELEASE) }

/* Sizes the GEMM backend's scratch for dx = dy W^T of every layer shape (rows x in x out, and the row strides of
 * dy and dx): all rows, the last layer's CLS rows (block_backward), LeGrad's CLS rows. d.B counts slots. */
static vte_status reserve_gemms(vte_session *s, vte_plan_dims d, vte_error *err) {
    const size_t rows = d.B * d.T, cls_d = d.T * d.D, images = s->dims.B;
    const size_t shapes[][5] = {{rows, d.F, d.D, d.D, d.F},         {rows, d.D, d.F, d.F, d.D},
                                {rows, d.D, d.D, d.D, d.D},         {rows, d.D, 3 * d.D, 3 * d.D, d.D},
                                {d.B, d.F, d.D, d.D, d.F},          {d.B, d.D, d.F, d.F, d.D},
                                {d.B, d.D, d.D, d.D, d.D},          {d.B, d.F, d.D, cls_d, d.F},
                                {d.B, d.D, d.D, cls_d, cls_d},      {images, d.F, d.D, d.D, d.F},
                                {images, d.D, d.F, d.F, d.D},       {images, d.D, d.D, d.D, d.D}};
    for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++) {
        size_t m = shapes[i][0], n = shapes[i][1], k = shapes[i][2], lda = shapes[i][3], ldc = shapes[i][4];
        vte_status status = vte_gemm_reserve(s->rt, VTE_GEMM_N, VTE_GEMM_T, m, n, k, lda, k, ldc, err);
        if (status) return status;
    }
    return VTE_OK;
}

vte_status vte_backward_plan_init(vte_session *s, int targets, vte_error *err) {
    vte_backward_plan *plan = &s->bwd;
    targets = vte_backward_targets_per_pass(s, targets);
    if (plan->planned && plan->targets >= targets) return VTE_OK;
    /* a plan for fewer targets is let go first: the new one is sized for the pass that needs it */
    if (plan->planned) vte_backward_plan_free(s);
    vte_plan_dims d = s->dims;
    d.B *= (size_t)targets;
    vte_status status;
    if ((status = create_kernels(s->rt, plan, err)) || (status = create_buffers(s->rt, plan, d, err))) return status;
    if (!(plan->layers = calloc(d.L, sizeof *plan->layers)))
        return vte_error_set(err, VTE_ERR_OUT_OF_MEMORY, "out of memory planning the backward pass");
    for (size_t l = 0; l < d.L; l++)
        if ((status = create_layer_buffers(s->rt, &plan->layers[l], d, err))) return status;
    if ((status = reserve_gemms(s, d, err))) return status;
    plan->targets = targets;
    plan->read_target = 0;
    plan->planned = 1;
    return VTE_OK;
}

void vte_backward_plan_free(vte_session *s) {
    vte_backward_plan *plan = &s->bwd;
    for (size_t l = 0; plan->layers && l < s->dims.L; l++) release_layer_buffers(&plan->layers[l]);
    free(plan->layers);
    plan->layers = NULL;
    VTE_BACKWARD_BUFFERS(VTE_PLAN_BUFFER_RELEASE)
    VTE_BACKWARD_KERNELS(VTE_PLAN_KERNEL_RELEASE)
    plan->planned = 0;
}
