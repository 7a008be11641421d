/* The explanation plan of a session: the buffers and kernels the methods use (runtime/plan.h lists), made on
 * the session's first explanation. The head-fusion kernel is built once per fusion variant that a requested
 * method uses (kernels/fusion.cl, -DFUSION=...). Shapes: B images, T tokens, P patches, D hidden, F MLP width. */
#ifndef VTE_EXPLAIN_PLAN_H
#define VTE_EXPLAIN_PLAN_H

#include "explain/methods.h"

#define VTE_EXPLAIN_BUFFERS(X)                                                                           \
    X(fused, VTE_F32(d.B * d.T * d.T), "fused attention")   /* one layer's fused heads */               \
    X(head_norms, VTE_F32(d.B * d.H), "head gradient norms")                                           \
    X(head_weights, VTE_F32(d.B * d.H), "head weights")                                                \
    X(row_a, VTE_F32(d.B * d.T), "propagated CLS row")       /* rollout's CLS row, in and out */        \
    X(row_b, VTE_F32(d.B * d.T), "propagated CLS row")                                                 \
    X(scores, VTE_F32(d.B * (d.T - 1)), "LeGrad scores")                                               \
    X(maps, VTE_F32(d.B * d.P), "explanation maps")          /* one method's grid maps */               \
    X(upsampled, VTE_F32(d.B * d.image_pixels), "upsampled maps")                                      \
    /* LeGrad's per-layer backward on the CLS rows only ([B, D] or [B, F]) */                          \
    X(cls_mean, VTE_F32(d.B), "LeGrad LayerNorm statistics")                                           \
    X(cls_rstd, VTE_F32(d.B), "LeGrad LayerNorm statistics")                                           \
    X(cls_scratch, VTE_F32(d.B * d.D), "LeGrad scratch")                                               \
    X(g_h, VTE_F32(d.B * d.D), "LeGrad gradient")                                                      \
    X(g_act, VTE_F32(d.B * d.F), "LeGrad gradient")                                                    \
    X(g_ln, VTE_F32(d.B * d.D), "LeGrad gradient")                                                     \
    X(g_y, VTE_F32(d.B * d.D), "LeGrad gradient")                                                      \
    X(g_ctx, VTE_F32(d.B * d.D), "LeGrad gradient")

#define VTE_EXPLAIN_KERNELS(X)                                                          \
    X(head_gradient_norms, "explain", "head_gradient_norms")                            \
    X(head_gradient_norms_per_item, "explain", "head_gradient_norms_per_item")          \
    X(head_weights_normalize, "explain", "head_weights_normalize")                      \
    X(discard_lowest, "explain", "discard_lowest")                                      \
    X(add_identity_normalize, "explain", "add_identity_normalize")                      \
    X(cls_row_init, "explain", "cls_row_init")                                          \
    X(cls_row_step, "explain", "cls_row_step")                                          \
    X(patch_minmax, "explain", "patch_minmax")                                          \
    X(legrad_accumulate, "explain", "legrad_accumulate")                                \
    X(seed_legrad_accumulate, "explain", "seed_legrad_accumulate")                      \
    X(upsample_bilinear, "explain", "upsample_bilinear")

typedef struct vte_explain_plan {
    VTE_EXPLAIN_BUFFERS(VTE_PLAN_BUFFER_FIELD)
    VTE_EXPLAIN_KERNELS(VTE_PLAN_KERNEL_FIELD)
    cl_kernel attention_fuse[VTE_FUSE_COUNT]; /* per fusion variant, built when a requested method uses it */
    size_t reduce_group;                      /* work-group size of the per-row reductions */
    size_t select_group;                      /* work-group size of discard_lowest */
} vte_explain_plan;

/* Makes the session's explanation plan on first use, and whatever the methods in o->methods need with these
 * options: their fusion kernels, and the backward plan when one needs a gradient or the target's classifier
 * row (for `targets` targets per image: a backward pass takes several at once). Call it before the passes, so
 * that a build failure stops the work before it starts. */
vte_status vte_explain_plan_prepare(vte_session *s, const vte_explain_options *o, int targets, vte_error *err);

/* The session's plan (NULL before the first vte_explain_plan_prepare). */
static inline vte_explain_plan *vte_explain_plan_of(const vte_session *s) { return s->explain; }

#endif
