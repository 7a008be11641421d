/* Making and releasing the explanation plan (plan.h's lists). */
#include "explain/plan.h"

#include <stdlib.h>

static vte_status create_kernels(vte_runtime *rt, vte_explain_plan *plan, vte_error *err) {
    VTE_EXPLAIN_KERNELS(VTE_PLAN_KERNEL_CREATE)
    plan->reduce_group = vte_reduction_group_of(rt, plan->head_gradient_norms, plan->patch_minmax);
    plan->select_group = vte_kernel_group_size(rt, plan->discard_lowest, 256);
    return VTE_OK;
}

static vte_status create_buffers(vte_runtime *rt, vte_explain_plan *plan, vte_plan_dims d, vte_error *err) {
    VTE_EXPLAIN_BUFFERS(VTE_PLAN_BUFFER_CREATE)
    return VTE_OK;
}

static void release(vte_session *s) {
    vte_explain_plan *plan = s->explain;
    if (!plan) return;
    VTE_EXPLAIN_BUFFERS(VTE_PLAN_BUFFER_RELEASE)
    VTE_EXPLAIN_KERNELS(VTE_PLAN_KERNEL_RELEASE)
    for (int f = 0; f < VTE_FUSE_COUNT; f++) vte_kernel_release(&plan->attention_fuse[f]);
    free(plan);
    s->explain = NULL;
    s->explain_release = NULL;
}

static vte_status plan_init(vte_session *s, vte_error *err) {
    if (s->explain) return VTE_OK;
    vte_explain_plan *plan = calloc(1, sizeof *plan);
    if (!plan) return vte_error_set(err, VTE_ERR_OUT_OF_MEMORY, "out of memory planning the explanations");
    s->explain = plan;
    s->explain_release = release;
    vte_status status = create_kernels(s->rt, plan, err);
    if (!status) status = create_buffers(s->rt, plan, s->dims, err);
    if (status) release(s);
    return status;
}

static vte_status fusion_kernel(vte_session *s, vte_fusion fusion, vte_error *err) {
    vte_explain_plan *plan = s->explain;
    if (fusion < 0 || plan->attention_fuse[fusion]) return VTE_OK;
    plan->attention_fuse[fusion] =
        vte_kernel_create(s->rt, "fusion", vte_fusion_build_option(fusion), "attention_fuse", err);
    return plan->attention_fuse[fusion] ? VTE_OK : err->code;
}

unsigned vte_explain_keep(const vte_explain_options *o) {
    unsigned keep = 0;
    for (int m = 0; o && m < VTE_METHOD_COUNT; m++) {
        if (!(o->methods & VTE_METHOD_BIT(m))) continue;
        const vte_method_spec *spec = vte_method_spec_of((vte_method)m);
        if (vte_method_needs(spec, o) & VTE_NEEDS_BACKWARD)
            keep |= VTE_KEEP_ALL; /* the backward pass reads everything, the maps the attention too */
        else if (vte_method_fusion(spec, o) != VTE_FUSION_NONE)
            keep |= VTE_KEEP_ATTENTION; /* rollout-like: the layers' attention alone */
        else
            keep |= VTE_KEEP_ACTIVATIONS; /* LeGrad's closed form: V, the residual streams, the MLP inputs */
    }
    return keep;
}

vte_status vte_explain_plan_prepare(vte_session *s, const vte_explain_options *o, int targets, vte_error *err) {
    vte_status status = vte_session_keep(s, vte_explain_keep(o), err);
    if (!status) status = plan_init(s, err);
    unsigned needs = 0;
    for (int m = 0; m < VTE_METHOD_COUNT && !status; m++) {
        if (!(o->methods & VTE_METHOD_BIT(m))) continue;
        const vte_method_spec *spec = vte_method_spec_of((vte_method)m);
        needs |= vte_method_needs(spec, o);
        status = fusion_kernel(s, vte_method_fusion(spec, o), err);
    }
    /* Only a backward pass takes several targets at once; the classifier rows alone are one target's. */
    if (!status && (needs & (VTE_NEEDS_BACKWARD | VTE_NEEDS_TARGET_ROW)))
        status = vte_backward_plan_init(s, needs & VTE_NEEDS_BACKWARD ? targets : 1, err);
    return status;
}
