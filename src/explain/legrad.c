/* LeGrad (docs/methods.md, "LeGrad"): by default the closed form per layer, which needs only the target's
 * classifier row (bwd.seed); with compat_seed the original project's variant, which reads the full backward's dA. */
#include "explain/plan.h"

static size_t global_for(size_t count, size_t group) { return vte_round_up(count, group); }

/* Min-max of the LeGrad scores [B, T-1] into the plan's maps. */
static vte_status scores_to_maps(vte_session *s, int B, float eps, vte_error *err) {
    vte_explain_plan *x = vte_explain_plan_of(s);
    const size_t T = s->dims.T;
    size_t local = x->reduce_group, global = (size_t)B * local;
    return VTE_RUN(s->rt, x->patch_minmax, 1, &global, &local, err, VTE_ARG(x->scores), VTE_INT(T - 1), VTE_INT(0),
                   VTE_ARG(x->maps), VTE_INT(T - 1), VTE_FLOAT(eps), VTE_LOCAL(2 * local * sizeof(float)));
}

/* The seed project's "LeGrad" ("Seed compatibility"): mean over layers of the key-mean of mean_h max(dA, 0) * A
 * over the patch rows and columns, where dA is the gradient of the final logit (full backward). */
static vte_status seed_legrad(vte_session *s, const vte_rollout_recipe *recipe, int B, vte_error *err) {
    vte_explain_plan *x = vte_explain_plan_of(s);
    const size_t T = s->dims.T, H = s->dims.H, group = s->fwd.elementwise_group;
    const int L = (int)s->dims.L;
    vte_status status = vte_buffer_fill_zero(s->rt, x->scores, (size_t)B * (T - 1) * sizeof(float), err);
    if (status) return status;
    for (int l = 0; l < L; l++) {
        size_t local = group, global = global_for((size_t)B * T * T, group);
        if ((status = VTE_RUN(s->rt, x->attention_fuse[recipe->fusion], 1, &global, &local, err,
                              VTE_ARG(s->fwd.layers[l].attn), VTE_ARG(s->bwd.layers[l].d_attn),
                              VTE_INT(s->bwd.read_target * B), VTE_ARG(x->head_weights), VTE_ARG(x->fused), VTE_INT(B), VTE_INT(H), VTE_INT(T))))
            return status;
        global = global_for((size_t)B * T, group);
        if ((status = VTE_RUN(s->rt, x->seed_legrad_accumulate, 1, &global, &local, err, VTE_ARG(x->fused),
                              VTE_ARG(x->scores), VTE_INT(B), VTE_INT(T), VTE_FLOAT(1.0 / L))))
            return status;
    }
    return scores_to_maps(s, B, recipe->eps, err);
}

/* The closed form for layer l. The score s^l = W_cls[c] . LN_f(h^l[CLS]) + b depends on A^l only through the CLS
 * query row, so d s^l / d A^l[h, 0, j] = g_ctx[h-th head slice] . V^l[j, head slice], where g_ctx comes from a
 * backward through LN_f, the layer's MLP, its LayerNorm and output projection, for the CLS token alone. */
static vte_status legrad_layer(vte_session *s, int B, int l, vte_error *err) {
    const vte_model *m = s->model;
    const vte_layer_weights *w = &m->layers[l];
    const vte_layer_activations *a = &s->fwd.layers[l];
    vte_explain_plan *x = vte_explain_plan_of(s);
    const size_t T = s->dims.T, D = s->dims.D, F = s->dims.F, H = s->dims.H, rows = (size_t)B;
    cl_mem output = a->output;
    vte_status status;
    /* Statistics of LN_f on this layer's CLS rows (the forward pass ran LN_f only on the last layer). */
    if ((status = vte_session_layernorm_rows(s, output, T * D, x->cls_scratch, x->cls_mean, x->cls_rstd,
                                             m->final_gamma, m->final_beta, rows, err)))
        return status;
    /* g_h = d s / d h[CLS] */
    if ((status = vte_session_layernorm_backward(s, s->bwd.seed, output, T * D, x->cls_mean, x->cls_rstd, 1,
                                                 m->final_gamma, x->g_h, D, 0, rows, rows, err)))
        return status;
    /* MLP: g_act = g_h W2^T, times GELU'(u[CLS]) */
    if ((status = vte_gemm(s->rt, VTE_GEMM_N, VTE_GEMM_T, rows, F, D, 1.0f, x->g_h, 0, D, w->fc2_weight, 0, D, 0.0f,
                           x->g_act, 0, F, err)))
        return status;
    if ((status = vte_session_gelu_backward(s, a->fc1_pre, T * F, x->g_act, rows, rows, F, err))) return status;
    if ((status = vte_gemm(s->rt, VTE_GEMM_N, VTE_GEMM_T, rows, D, F, 1.0f, x->g_act, 0, F, w->fc1_weight, 0, F, 0.0f,
                           x->g_ln, 0, D, err)))
        return status;
    /* g_y = g_h + LN_after-backward(g_ln), with the forward pass's statistics of the CLS rows (every T-th) */
    VTE_CL_CHECK(err, clEnqueueCopyBuffer(s->rt->queue, x->g_h, x->g_y, 0, 0, rows * D * sizeof(float), 0, NULL, NULL));
    if ((status = vte_session_layernorm_backward(s, x->g_ln, a->resid, T * D, a->ln2_mean, a->ln2_rstd, T,
                                                 w->ln_after_gamma, x->g_y, D, 1, rows, rows, err)))
        return status;
    /* g_ctx = g_y Wo^T, then the ReLU'd per-head products with V, summed into the scores */
    if ((status = vte_gemm(s->rt, VTE_GEMM_N, VTE_GEMM_T, rows, D, D, 1.0f, x->g_y, 0, D, w->out_weight, 0, D, 0.0f,
                           x->g_ctx, 0, D, err)))
        return status;
    size_t local = s->fwd.elementwise_group, global = global_for(rows * (T - 1), local);
    return VTE_RUN(s->rt, x->legrad_accumulate, 1, &global, &local, err, VTE_ARG(x->g_ctx), VTE_ARG(a->qkv),
                   VTE_ARG(x->scores), VTE_INT(B), VTE_INT(T), VTE_INT(D), VTE_INT(H),
                   VTE_FLOAT(1.0 / ((double)H * (double)T)));
}

vte_status vte_run_legrad(vte_session *s, const vte_method_spec *spec, const vte_explain_options *o, int B,
                          vte_error *err) {
    const vte_rollout_recipe *recipe = vte_method_recipe(spec, o);
    if (o->compat_seed) return seed_legrad(s, recipe, B, err);
    const int L = (int)s->dims.L;
    const int layers = o->legrad_layers > 0 && o->legrad_layers < L ? o->legrad_layers : L;
    vte_status status =
        vte_buffer_fill_zero(s->rt, vte_explain_plan_of(s)->scores, (size_t)B * (s->dims.T - 1) * sizeof(float), err);
    for (int l = L - layers; l < L && !status; l++) status = legrad_layer(s, B, l, err);
    if (status) return status;
    return scores_to_maps(s, B, recipe->eps, err);
}
