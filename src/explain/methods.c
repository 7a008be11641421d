/* The explanation methods on the device (algorithms.md; default formulas per §10, `compat_seed` for the
 * original PyTorch project's). Each writes one grid map per image into x.maps [B, P], min-max normalised.
 *
 * Rollout-like methods (rollout, GMAR, Chefer) propagate only the CLS row of the product of per-layer
 * matrices: r = e_0, then r <- r * M^l layer by layer, so the cost is O(L * T^2) per image instead of the
 * O(L * T^3) of full matrix products. */
#include "explain/methods.h"

#include "runtime/gemm.h"

enum fuse_mode {
    FUSE_MEAN = 0,
    FUSE_MAX = 1,
    FUSE_MIN = 2,
    FUSE_WEIGHTED_SUM = 3,  /* GMAR */
    FUSE_WEIGHTED_MEAN = 4, /* seed GMAR */
    FUSE_CHEFER = 5,        /* mean_h max(G * A, 0) */
    FUSE_SEED_LEGRAD = 6    /* mean_h max(G, 0) * A */
};

typedef struct rollout_recipe {
    int fuse_mode;
    int head_norm;        /* 0: no head weights; 1 or 2: GMAR weights from the L1 or L2 norm of dA */
    int discard_count;    /* rollout's discard option: fused entries to zero per layer */
    float identity_alpha; /* M = (fused + alpha I) / rowsum; negative: fused as it is (Chefer) */
    int residual;         /* r <- r + r * M (Chefer) instead of r <- r * M */
    int forward_order;    /* seed project: R = M^0 M^1 ... (r walks the layers from the first) */
    float eps;            /* min-max denominator guard (seed: 1e-8) */
} rollout_recipe;

static size_t global_for(size_t count, size_t group) { return vte_round_up(count, group); }

static vte_status run_rollout(vte_session *s, int B, const rollout_recipe *recipe, vte_error *err) {
    const vte_model_config *c = &s->model->config;
    vte_explain_plan *x = &s->x;
    const size_t T = (size_t)c->num_tokens, H = (size_t)c->num_heads, L = (size_t)c->num_layers;
    const size_t group = s->k.elementwise_group;
    vte_status status;
    size_t local = group, global = global_for((size_t)B * T, group);
    if ((status = VTE_RUN(s->rt, x->cls_row_init, 1, &global, &local, err, VTE_ARG(x->row_a), VTE_INT(B),
                          VTE_INT(T))))
        return status;
    cl_mem row_in = x->row_a, row_out = x->row_b;
    for (size_t step = 0; step < L; step++) {
        size_t l = recipe->forward_order ? step : L - 1 - step;
        cl_mem attn = s->layers[l].attn;
        cl_mem grad = recipe->head_norm || recipe->fuse_mode >= FUSE_CHEFER ? x->d_attn[l] : attn;
        if (recipe->head_norm) {
            local = x->reduce_group;
            global = (size_t)B * H * local;
            if ((status = VTE_RUN(s->rt, x->head_gradient_norms, 1, &global, &local, err, VTE_ARG(x->d_attn[l]),
                                  VTE_ARG(x->head_norms), VTE_INT(T * T), VTE_INT(recipe->head_norm),
                                  VTE_LOCAL(local * sizeof(float)))))
                return status;
            local = group;
            global = global_for((size_t)B, group);
            if ((status = VTE_RUN(s->rt, x->head_weights_normalize, 1, &global, &local, err, VTE_ARG(x->head_norms),
                                  VTE_ARG(x->head_weights), VTE_INT(B), VTE_INT(H))))
                return status;
        }
        local = group;
        global = global_for((size_t)B * T * T, group);
        if ((status = VTE_RUN(s->rt, x->attention_fuse, 1, &global, &local, err, VTE_ARG(attn), VTE_ARG(grad),
                              VTE_ARG(x->head_weights), VTE_ARG(x->fused), VTE_INT(B), VTE_INT(H), VTE_INT(T),
                              VTE_INT(recipe->fuse_mode))))
            return status;
        if (recipe->discard_count > 0) {
            local = x->select_group;
            global = (size_t)B * local;
            if ((status = VTE_RUN(s->rt, x->discard_lowest, 1, &global, &local, err, VTE_ARG(x->fused), VTE_INT(T),
                                  VTE_INT(recipe->discard_count), VTE_LOCAL(256 * sizeof(cl_uint)))))
                return status;
        }
        if (recipe->identity_alpha >= 0.0f) {
            local = group;
            global = global_for((size_t)B * T, group);
            if ((status = VTE_RUN(s->rt, x->add_identity_normalize, 1, &global, &local, err, VTE_ARG(x->fused),
                                  VTE_INT(B), VTE_INT(T), VTE_FLOAT(recipe->identity_alpha))))
                return status;
        }
        local = group;
        global = global_for((size_t)B * T, group);
        if ((status = VTE_RUN(s->rt, x->cls_row_step, 1, &global, &local, err, VTE_ARG(row_in), VTE_ARG(x->fused),
                              VTE_ARG(row_out), VTE_INT(B), VTE_INT(T), VTE_INT(recipe->residual))))
            return status;
        cl_mem swap = row_in;
        row_in = row_out;
        row_out = swap;
    }
    /* The CLS row without its CLS column: one value per patch. */
    local = x->reduce_group;
    global = (size_t)B * local;
    return VTE_RUN(s->rt, x->patch_minmax, 1, &global, &local, err, VTE_ARG(row_in), VTE_INT(T), VTE_INT(1),
                   VTE_ARG(x->maps), VTE_INT(T - 1), VTE_FLOAT(recipe->eps), VTE_LOCAL(2 * local * sizeof(float)));
}

vte_status vte_method_rollout(vte_session *s, int B, const vte_explain_options *o, vte_error *err) {
    const size_t T = (size_t)s->model->config.num_tokens;
    rollout_recipe recipe = {0};
    if (o->compat_seed) {
        /* §6.3: head mean, (A + I)/rowsum, R = A^1 ... A^L, min-max + 1e-8 */
        recipe = (rollout_recipe){FUSE_MEAN, 0, 0, 1.0f, 0, 1, 1e-8f};
    } else {
        /* §4.3 with jacobgil's options (§4.2), its normalisation bug fixed */
        int fuse = o->rollout_fusion == VTE_FUSION_MAX ? FUSE_MAX : o->rollout_fusion == VTE_FUSION_MIN ? FUSE_MIN : FUSE_MEAN;
        recipe = (rollout_recipe){fuse, 0, (int)((double)(T * T) * o->discard_ratio), 1.0f, 0, 0, 0.0f};
    }
    return run_rollout(s, B, &recipe, err);
}

vte_status vte_method_gmar(vte_session *s, int B, int norm, const vte_explain_options *o, vte_error *err) {
    rollout_recipe recipe;
    if (o->compat_seed) /* §3.3: weighted head mean, (A + I)/rowsum, R = A^1 ... A^L, + 1e-8 */
        recipe = (rollout_recipe){FUSE_WEIGHTED_MEAN, norm, 0, 1.0f, 0, 1, 1e-8f};
    else /* §3.5: weighted head sum, 0.5 A + 0.5 I, Abnar order */
        recipe = (rollout_recipe){FUSE_WEIGHTED_SUM, norm, 0, 1.0f, 0, 0, 0.0f};
    return run_rollout(s, B, &recipe, err);
}

vte_status vte_method_chefer(vte_session *s, int B, vte_error *err) {
    /* §5: R = (I + A^L) ... (I + A^1) with A^l = mean_h max(dA * A, 0); no normalisation */
    rollout_recipe recipe = {FUSE_CHEFER, 0, 0, -1.0f, 1, 0, 0.0f};
    return run_rollout(s, B, &recipe, err);
}

/* The seed project's "LeGrad" (§6.2): mean over layers of the key-mean of mean_h max(dA, 0) * A over the
 * patch rows and columns, where dA is the gradient of the final logit (full backward). */
static vte_status seed_legrad(vte_session *s, int B, vte_error *err) {
    const vte_model_config *c = &s->model->config;
    vte_explain_plan *x = &s->x;
    const size_t T = (size_t)c->num_tokens, H = (size_t)c->num_heads, group = s->k.elementwise_group;
    vte_status status = vte_buffer_fill_zero(s->rt, x->scores, (size_t)B * (T - 1) * sizeof(float), err);
    if (status) return status;
    for (int l = 0; l < c->num_layers; l++) {
        size_t local = group, global = global_for((size_t)B * T * T, group);
        if ((status = VTE_RUN(s->rt, x->attention_fuse, 1, &global, &local, err, VTE_ARG(s->layers[l].attn),
                              VTE_ARG(x->d_attn[l]), VTE_ARG(x->head_weights), VTE_ARG(x->fused), VTE_INT(B),
                              VTE_INT(H), VTE_INT(T), VTE_INT(FUSE_SEED_LEGRAD))))
            return status;
        global = global_for((size_t)B * T, group);
        if ((status = VTE_RUN(s->rt, x->seed_legrad_accumulate, 1, &global, &local, err, VTE_ARG(x->fused),
                              VTE_ARG(x->scores), VTE_INT(B), VTE_INT(T), VTE_FLOAT(1.0 / c->num_layers))))
            return status;
    }
    size_t local = x->reduce_group, global = (size_t)B * local;
    return VTE_RUN(s->rt, x->patch_minmax, 1, &global, &local, err, VTE_ARG(x->scores), VTE_INT(T - 1), VTE_INT(0),
                   VTE_ARG(x->maps), VTE_INT(T - 1), VTE_FLOAT(1e-8f), VTE_LOCAL(2 * local * sizeof(float)));
}

/* LeGrad (§2.4) in closed form. For layer l the score s^l = W_cls[c] . LN_f(h^l[CLS]) + b depends on A^l only
 * through the CLS query row, so d s^l / d A^l[h, 0, j] = g_ctx[h-th head slice] . V^l[j, head slice], where
 * g_ctx comes from a backward through LN_f, the layer's MLP, its LayerNorm and output projection, for the
 * CLS token alone. Expects x.seed to hold W_cls[c] (vte_session_classifier_seed). */
static vte_status legrad_layer(vte_session *s, int B, int l, vte_error *err) {
    const vte_model *m = s->model;
    const vte_model_config *c = &m->config;
    const vte_layer_weights *w = &m->layers[l];
    const vte_layer_activations *a = &s->layers[l];
    vte_explain_plan *x = &s->x;
    const size_t T = (size_t)c->num_tokens, D = (size_t)c->hidden_size, F = (size_t)c->intermediate_size;
    const size_t H = (size_t)c->num_heads, rows = (size_t)B;
    cl_mem output = s->hidden[l + 1];
    vte_status status;
    /* Statistics of LN_f on this layer's CLS rows (the forward pass ran LN_f only on the last layer). */
    if ((status = vte_session_layernorm_rows(s, output, T * D, x->cls_scratch, x->cls_mean, x->cls_rstd,
                                             m->final_gamma, m->final_beta, rows, err)))
        return status;
    /* g_h = d s / d h[CLS] */
    if ((status = vte_session_layernorm_backward(s, x->seed, output, T * D, x->cls_mean, x->cls_rstd, m->final_gamma,
                                                 x->g_h, D, 0, rows, err)))
        return status;
    /* MLP: g_act = g_h W2^T, times GELU'(u[CLS]) */
    if ((status = vte_gemm(s->rt, VTE_GEMM_N, VTE_GEMM_T, rows, F, D, 1.0f, x->g_h, 0, D, w->fc2_weight, 0, D, 0.0f,
                           x->g_act, 0, F, err)))
        return status;
    size_t local = s->k.elementwise_group, global = global_for(rows * F, local);
    if ((status = VTE_RUN(s->rt, x->gather_rows, 1, &global, &local, err, VTE_ARG(a->fc1_pre), VTE_INT(T * F),
                          VTE_ARG(x->u_cls), VTE_INT(rows), VTE_INT(F))))
        return status;
    if ((status = vte_session_gelu_backward(s, x->u_cls, x->g_act, rows * F, err))) return status;
    if ((status = vte_gemm(s->rt, VTE_GEMM_N, VTE_GEMM_T, rows, D, F, 1.0f, x->g_act, 0, F, w->fc1_weight, 0, F, 0.0f,
                           x->g_ln, 0, D, err)))
        return status;
    /* g_y = g_h + LN_after-backward(g_ln), statistics of the CLS rows recomputed as in the forward pass */
    VTE_CL_CHECK(err, clEnqueueCopyBuffer(s->rt->queue, x->g_h, x->g_y, 0, 0, rows * D * sizeof(float), 0, NULL, NULL));
    if ((status = vte_session_layernorm_rows(s, a->resid, T * D, x->cls_scratch, x->cls_mean, x->cls_rstd,
                                             w->ln_after_gamma, w->ln_after_beta, rows, err)))
        return status;
    if ((status = vte_session_layernorm_backward(s, x->g_ln, a->resid, T * D, x->cls_mean, x->cls_rstd,
                                                 w->ln_after_gamma, x->g_y, D, 1, rows, err)))
        return status;
    /* g_ctx = g_y Wo^T, then the ReLU'd per-head products with V, summed into the scores */
    if ((status = vte_gemm(s->rt, VTE_GEMM_N, VTE_GEMM_T, rows, D, D, 1.0f, x->g_y, 0, D, w->out_weight, 0, D, 0.0f,
                           x->g_ctx, 0, D, err)))
        return status;
    global = global_for(rows * (T - 1), local);
    return VTE_RUN(s->rt, x->legrad_accumulate, 1, &global, &local, err, VTE_ARG(x->g_ctx), VTE_ARG(a->qkv),
                   VTE_ARG(x->scores), VTE_INT(B), VTE_INT(T), VTE_INT(D), VTE_INT(H),
                   VTE_FLOAT(1.0 / ((double)H * (double)T)));
}

vte_status vte_method_legrad(vte_session *s, int B, const vte_explain_options *o, vte_error *err) {
    if (o->compat_seed) return seed_legrad(s, B, err);
    const vte_model_config *c = &s->model->config;
    const size_t T = (size_t)c->num_tokens;
    int layers = o->legrad_layers > 0 && o->legrad_layers < c->num_layers ? o->legrad_layers : c->num_layers;
    vte_status status = vte_buffer_fill_zero(s->rt, s->x.scores, (size_t)B * (T - 1) * sizeof(float), err);
    for (int l = c->num_layers - layers; l < c->num_layers && !status; l++) status = legrad_layer(s, B, l, err);
    if (status) return status;
    size_t local = s->x.reduce_group, global = (size_t)B * local;
    return VTE_RUN(s->rt, s->x.patch_minmax, 1, &global, &local, err, VTE_ARG(s->x.scores), VTE_INT(T - 1),
                   VTE_INT(0), VTE_ARG(s->x.maps), VTE_INT(T - 1), VTE_FLOAT(0.0f),
                   VTE_LOCAL(2 * local * sizeof(float)));
}

vte_status vte_maps_upsample(vte_session *s, int B, vte_error *err) {
    const vte_model_config *c = &s->model->config;
    size_t local = s->k.elementwise_group;
    size_t global = global_for((size_t)B * c->image_height * c->image_width, local);
    return VTE_RUN(s->rt, s->x.upsample_bilinear, 1, &global, &local, err, VTE_ARG(s->x.maps),
                   VTE_ARG(s->x.upsampled), VTE_INT(B), VTE_INT(c->grid_h), VTE_INT(c->grid_w),
                   VTE_INT(c->image_height), VTE_INT(c->image_width));
}
