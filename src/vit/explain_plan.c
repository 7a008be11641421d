/* Planning the backward and explanation buffers of a session: once, on its first explanation. */
#include <stdlib.h>

#include "runtime/gemm.h"
#include "vit/session.h"

#define ALLOC(slot, bytes, what)                                                        \
    do {                                                                                \
        if (!((slot) = vte_buffer_create(rt, (size_t)(bytes), what, err))) return err->code; \
    } while (0)

static vte_status create_kernels(vte_session *s, vte_error *err) {
    vte_runtime *rt = s->rt;
    vte_explain_plan *x = &s->x;
    struct {
        cl_kernel *slot;
        const char *family, *name;
    } wanted[] = {
        {&x->layernorm_backward, "layernorm", "layernorm_backward"},
        {&x->gelu_backward, "elementwise", "gelu_backward"},
        {&x->softmax_backward, "attention", "softmax_backward"},
        {&x->classifier_seed, "explain", "classifier_seed"},
        {&x->attention_fuse, "explain", "attention_fuse"},
        {&x->head_gradient_norms, "explain", "head_gradient_norms"},
        {&x->head_weights_normalize, "explain", "head_weights_normalize"},
        {&x->discard_lowest, "explain", "discard_lowest"},
        {&x->add_identity_normalize, "explain", "add_identity_normalize"},
        {&x->cls_row_init, "explain", "cls_row_init"},
        {&x->cls_row_step, "explain", "cls_row_step"},
        {&x->patch_minmax, "explain", "patch_minmax"},
        {&x->legrad_accumulate, "explain", "legrad_accumulate"},
        {&x->seed_legrad_accumulate, "explain", "seed_legrad_accumulate"},
        {&x->gather_rows, "explain", "gather_rows"},
        {&x->upsample_bilinear, "explain", "upsample_bilinear"},
    };
    for (size_t i = 0; i < sizeof wanted / sizeof wanted[0]; i++)
        if (!(*wanted[i].slot = vte_kernel_create(rt, wanted[i].family, "", wanted[i].name, err))) return err->code;
    /* One group size for every per-row reduction: the smallest any of them allows. */
    const size_t preferred = vte_runtime_reduction_group(rt);
    size_t group = vte_kernel_group_size(rt, x->layernorm_backward, preferred);
    size_t limit = vte_kernel_group_size(rt, x->softmax_backward, preferred);
    if (limit < group) group = limit;
    limit = vte_kernel_group_size(rt, x->head_gradient_norms, preferred);
    if (limit < group) group = limit;
    limit = vte_kernel_group_size(rt, x->patch_minmax, preferred);
    if (limit < group) group = limit;
    x->reduce_group = group;
    x->select_group = vte_kernel_group_size(rt, x->discard_lowest, 256);
    return VTE_OK;
}

static vte_status reserve_gemms(vte_session *s, vte_error *err) {
    const vte_model_config *c = &s->model->config;
    const size_t B = (size_t)s->max_batch, rows = B * c->num_tokens, D = (size_t)c->hidden_size;
    const size_t F = (size_t)c->intermediate_size;
    /* dx = dy W^T shapes: rows x in x out */
    const size_t shapes[][3] = {{rows, F, D}, {rows, D, F}, {rows, D, D}, {rows, D, 3 * D},
                                {B, F, D},    {B, D, F},    {B, D, D}};
    for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++) {
        size_t m = shapes[i][0], n = shapes[i][1], k = shapes[i][2];
        vte_status status = vte_gemm_reserve(s->rt, VTE_GEMM_N, VTE_GEMM_T, m, n, k, k, k, n, err);
        if (status) return status;
    }
    return VTE_OK;
}

vte_status vte_explain_plan_init(vte_session *s, vte_error *err) {
    vte_explain_plan *x = &s->x;
    if (x->planned) return VTE_OK;
    vte_runtime *rt = s->rt;
    const vte_model_config *c = &s->model->config;
    const size_t B = (size_t)s->max_batch, T = (size_t)c->num_tokens, D = (size_t)c->hidden_size;
    const size_t F = (size_t)c->intermediate_size, H = (size_t)c->num_heads, rows = B * T, f = sizeof(float);
    const size_t P = (size_t)(c->grid_h * c->grid_w);
    vte_status status = create_kernels(s, err);
    if (status) return status;
    ALLOC(x->classes, B * sizeof(cl_int), "target classes");
    ALLOC(x->seed, B * D * f, "gradient seed");
    ALLOC(x->d_hidden, rows * D * f, "residual-stream gradient");
    ALLOC(x->d_act, rows * F * f, "MLP gradient");
    ALLOC(x->d_ln, rows * D * f, "LayerNorm gradient");
    ALLOC(x->d_ctx, rows * D * f, "attention-context gradient");
    ALLOC(x->d_qkv, rows * 3 * D * f, "query/key/value gradient");
    ALLOC(x->d_scores, B * H * T * T * f, "attention-score gradient");
    x->d_attn = calloc((size_t)c->num_layers, sizeof *x->d_attn);
    if (!x->d_attn) return vte_error_set(err, VTE_ERR_OUT_OF_MEMORY, "out of memory planning the backward pass");
    for (int l = 0; l < c->num_layers; l++) ALLOC(x->d_attn[l], B * H * T * T * f, "attention gradients");
    ALLOC(x->fused, B * T * T * f, "fused attention");
    ALLOC(x->head_norms, B * H * f, "head gradient norms");
    ALLOC(x->head_weights, B * H * f, "head weights");
    ALLOC(x->row_a, B * T * f, "propagated CLS row");
    ALLOC(x->row_b, B * T * f, "propagated CLS row");
    ALLOC(x->scores, B * (T - 1) * f, "LeGrad scores");
    ALLOC(x->maps, B * P * f, "explanation maps");
    ALLOC(x->upsampled, B * (size_t)c->image_height * c->image_width * f, "upsampled maps");
    ALLOC(x->cls_mean, B * f, "LeGrad LayerNorm statistics");
    ALLOC(x->cls_rstd, B * f, "LeGrad LayerNorm statistics");
    ALLOC(x->cls_scratch, B * D * f, "LeGrad scratch");
    ALLOC(x->g_h, B * D * f, "LeGrad gradient");
    ALLOC(x->g_act, B * F * f, "LeGrad gradient");
    ALLOC(x->u_cls, B * F * f, "LeGrad activations");
    ALLOC(x->g_ln, B * D * f, "LeGrad gradient");
    ALLOC(x->g_y, B * D * f, "LeGrad gradient");
    ALLOC(x->g_ctx, B * D * f, "LeGrad gradient");
    if ((status = reserve_gemms(s, err))) return status;
    x->planned = 1;
    return VTE_OK;
}

void vte_explain_plan_free(vte_session *s) {
    vte_explain_plan *x = &s->x;
    if (x->d_attn) {
        for (int l = 0; l < s->model->config.num_layers; l++) vte_buffer_release(&x->d_attn[l]);
        free(x->d_attn);
        x->d_attn = NULL;
    }
    cl_mem *buffers[] = {&x->classes,  &x->seed,         &x->d_hidden, &x->d_act,     &x->d_ln,     &x->d_ctx,
                         &x->d_qkv,    &x->d_scores,     &x->fused,    &x->head_norms, &x->head_weights,
                         &x->row_a,    &x->row_b,        &x->scores,   &x->maps,      &x->upsampled, &x->cls_mean,
                         &x->cls_rstd, &x->cls_scratch,  &x->g_h,      &x->g_act,     &x->u_cls,    &x->g_ln,
                         &x->g_y,      &x->g_ctx};
    for (size_t i = 0; i < sizeof buffers / sizeof buffers[0]; i++) vte_buffer_release(buffers[i]);
    cl_kernel *kernels[] = {&x->layernorm_backward,  &x->gelu_backward,          &x->softmax_backward,
                            &x->classifier_seed,     &x->attention_fuse,         &x->head_gradient_norms,
                            &x->head_weights_normalize, &x->discard_lowest,      &x->add_identity_normalize,
                            &x->cls_row_init,        &x->cls_row_step,           &x->patch_minmax,
                            &x->legrad_accumulate,   &x->seed_legrad_accumulate, &x->gather_rows,
                            &x->upsample_bilinear};
    for (size_t i = 0; i < sizeof kernels / sizeof kernels[0]; i++)
        if (*kernels[i]) {
            clReleaseKernel(*kernels[i]);
            *kernels[i] = NULL;
        }
    x->planned = 0;
}
