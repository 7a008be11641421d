/* The rollout-like methods (rollout, GMAR, Chefer), driven by their recipe (methods.h).
 *
 * They propagate only the CLS row of the product of per-layer matrices: r = e_0, then r <- r M^l layer by layer,
 * so the cost is O(L T^2) per image instead of the O(L T^3) of full matrix products (docs/methods.md, "Rollout").
 * Per layer: head weights (GMAR), head fusion, discard (rollout's option), identity and row normalisation, one
 * step of the row. */
#include "explain/plan.h"

static size_t global_for(size_t count, size_t group) { return vte_round_up(count, group); }

static int fusion_reads_gradient(vte_fusion fusion) {
    return fusion == VTE_FUSE_POSITIVE_GRAD_TIMES_ATTN || fusion == VTE_FUSE_POSITIVE_GRAD_THEN_ATTN;
}

/* GMAR: w[b,h] = ||dA^l[b,h]||_p / sum_h ||dA^l[b,h]||_p, into plan->head_weights. */
static vte_status head_weights(vte_session *s, int B, int layer, int norm, vte_error *err) {
    vte_explain_plan *x = vte_explain_plan_of(s);
    const size_t T = s->dims.T, H = s->dims.H, group = s->fwd.elementwise_group;
    const int first_slice = s->bwd.read_target * B * (int)H; /* the target's gradients (backward.c's slots) */
    size_t local, global;
    vte_status status;
    if (s->fwd.rows_per_item) {
        /* groups of one: B*H slices are few (12 at batch 1), and each is long */
        local = 1, global = (size_t)B * H;
        status = VTE_RUN(s->rt, x->head_gradient_norms_per_item, 1, &global, &local, err,
                         VTE_ARG(s->bwd.layers[layer].d_attn), VTE_INT(first_slice), VTE_ARG(x->head_norms),
                         VTE_INT(B * H),
                         VTE_INT(T * T), VTE_INT(norm));
    } else {
        local = x->reduce_group, global = (size_t)B * H * local;
        status = VTE_RUN(s->rt, x->head_gradient_norms, 1, &global, &local, err, VTE_ARG(s->bwd.layers[layer].d_attn),
                         VTE_INT(first_slice), VTE_ARG(x->head_norms), VTE_INT(T * T), VTE_INT(norm), VTE_LOCAL(local * sizeof(float)));
    }
    if (status) return status;
    local = group;
    global = global_for((size_t)B, group);
    return VTE_RUN(s->rt, x->head_weights_normalize, 1, &global, &local, err, VTE_ARG(x->head_norms),
                   VTE_ARG(x->head_weights), VTE_INT(B), VTE_INT(H));
}

/* plan->fused = the layer's matrix M^l before the row step: fused heads, discard, identity and renormalisation. */
static vte_status layer_matrix(vte_session *s, int B, int layer, const vte_rollout_recipe *recipe, vte_fusion fusion,
                               int discard_count, vte_error *err) {
    vte_explain_plan *x = vte_explain_plan_of(s);
    const size_t T = s->dims.T, H = s->dims.H, group = s->fwd.elementwise_group;
    cl_mem attn = s->fwd.layers[layer].attn;
    /* Fusions that read no gradient get the attention again in the gradient's place (never read). */
    cl_mem grad = recipe->head_norm || fusion_reads_gradient(fusion) ? s->bwd.layers[layer].d_attn : attn;
    vte_status status;
    if (recipe->head_norm && (status = head_weights(s, B, layer, recipe->head_norm, err))) return status;
    size_t local = group, global = global_for((size_t)B * T * T, group);
    /* grad_first_image: the read target's gradients (backward.c's slots); 0 for the attention in grad's place */
    const int grad_first_image = grad == attn ? 0 : s->bwd.read_target * B;
    if ((status = VTE_RUN(s->rt, x->attention_fuse[fusion], 1, &global, &local, err, VTE_ARG(attn), VTE_ARG(grad),
                          VTE_INT(grad_first_image), VTE_ARG(x->head_weights), VTE_ARG(x->fused), VTE_INT(B),
                          VTE_INT(H), VTE_INT(T))))
        return status;
    if (discard_count > 0) {
        local = x->select_group;
        global = (size_t)B * local;
        if ((status = VTE_RUN(s->rt, x->discard_lowest, 1, &global, &local, err, VTE_ARG(x->fused), VTE_INT(T),
                              VTE_INT(discard_count), VTE_LOCAL(256 * sizeof(cl_uint)))))
            return status;
    }
    if (recipe->identity_alpha < 0.0f) return VTE_OK;
    local = group;
    global = global_for((size_t)B * T, group);
    return VTE_RUN(s->rt, x->add_identity_normalize, 1, &global, &local, err, VTE_ARG(x->fused), VTE_INT(B),
                   VTE_INT(T), VTE_FLOAT(recipe->identity_alpha));
}

vte_status vte_run_rollout_recipe(vte_session *s, const vte_method_spec *spec, const vte_explain_options *o, int B,
                                  vte_error *err) {
    vte_explain_plan *x = vte_explain_plan_of(s);
    const vte_rollout_recipe *recipe = vte_method_recipe(spec, o);
    const vte_fusion fusion = vte_method_fusion(spec, o);
    const size_t T = s->dims.T, L = s->dims.L, group = s->fwd.elementwise_group;
    const int discard_count = recipe->discard ? (int)((double)(T * T) * o->discard_ratio) : 0;
    size_t local = group, global = global_for((size_t)B * T, group);
    vte_status status =
        VTE_RUN(s->rt, x->cls_row_init, 1, &global, &local, err, VTE_ARG(x->row_a), VTE_INT(B), VTE_INT(T));
    if (status) return status;
    cl_mem row_in = x->row_a, row_out = x->row_b;
    for (size_t step = 0; step < L; step++) {
        const int layer = (int)(recipe->first_layer_first ? step : L - 1 - step);
        if ((status = layer_matrix(s, B, layer, recipe, fusion, discard_count, err))) return status;
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
