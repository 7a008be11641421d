/* A session: a model, a batch size, and every device buffer the passes use, planned once.
 *
 * Shapes (B = images in the batch, T = tokens, D = hidden, F = MLP width, H = heads, P = patches):
 *   hidden[0]          [B*T, D]   embeddings; hidden[l+1] is the output of layer l (the residual stream)
 *   layer l keeps      ln1_out [B*T, D], ln1_mean/ln1_rstd [B*T], qkv [B*T, 3D], attn [B, H, T, T] (the
 *                      post-softmax probabilities), ctx [B*T, D], resid [B*T, D] (after the attention
 *                      residual), ln2_out, ln2_mean/ln2_rstd, fc1_pre [B*T, F] (before GELU), fc1_act [B*T, F]
 *   final              final_out [B, D] (LayerNorm of the CLS rows), final_mean/rstd [B], logits [B, labels]
 * Everything a backward pass needs stays on the device until the next forward. */
#ifndef VTE_VIT_SESSION_H
#define VTE_VIT_SESSION_H

#include "model/model.h"
#include "runtime/gemm.h"

typedef struct vte_layer_activations {
    cl_mem ln1_out, ln1_mean, ln1_rstd;
    cl_mem qkv;
    cl_mem attn;
    cl_mem ctx;
    cl_mem resid;
    cl_mem ln2_out, ln2_mean, ln2_rstd;
    cl_mem fc1_pre, fc1_act;
} vte_layer_activations;

typedef struct vte_forward_kernels {
    cl_kernel patch_im2col, embeddings_assemble;
    cl_kernel layernorm_forward;
    cl_kernel bias_add, bias_gelu_forward, bias_residual_add;
    cl_kernel softmax_rows;
    size_t layernorm_group, softmax_group, elementwise_group;
} vte_forward_kernels;

/* Buffers and kernels of the backward pass and the explanation methods, planned on the first explanation
 * of a session (a session that only classifies never pays for them). Gradients are input gradients only. */
typedef struct vte_explain_plan {
    int planned;
    cl_mem classes;  /* int [B]: the target class of each image in the current backward pass */
    cl_mem seed;     /* [B, D]: classifier row of the target, the gradient of the logit w.r.t. the final LN output */
    cl_mem d_hidden; /* [B*T, D]: gradient w.r.t. the residual stream, walking down the layers */
    cl_mem d_act;    /* [B*T, F] */
    cl_mem d_ln;     /* [B*T, D] */
    cl_mem d_ctx;    /* [B*T, D] */
    cl_mem d_qkv;    /* [B*T, 3D] */
    cl_mem d_scores; /* [B, H, T, T]: gradient w.r.t. the pre-softmax scores of one layer */
    cl_mem *d_attn;  /* num_layers x [B, H, T, T]: d(target logit)/dA, the gradient GMAR and Chefer weigh by */
    /* explanation scratch */
    cl_mem fused;                     /* [B, T, T] one layer's fused attention */
    cl_mem head_norms, head_weights;  /* [B, H] */
    cl_mem row_a, row_b;              /* [B, T] the propagated CLS row */
    cl_mem scores;                    /* [B, T-1] LeGrad accumulator */
    cl_mem maps;                      /* [B, P] one method's grid maps */
    cl_mem upsampled;                 /* [B, image_h*image_w] */
    /* LeGrad's per-layer single-token backward, on the CLS rows only ([B, D] or [B, F]) */
    cl_mem cls_mean, cls_rstd, cls_scratch, g_h, g_act, u_cls, g_ln, g_y, g_ctx;
    cl_kernel layernorm_backward, gelu_backward, softmax_backward;
    cl_kernel classifier_seed, attention_fuse, head_gradient_norms, head_weights_normalize, discard_lowest,
        add_identity_normalize, cls_row_init, cls_row_step, patch_minmax, legrad_accumulate,
        seed_legrad_accumulate, gather_rows, upsample_bilinear;
    size_t reduce_group; /* work-group size of the per-row reductions */
    size_t select_group; /* work-group size of discard_lowest */
} vte_explain_plan;

struct vte_session {
    vte_model *model;
    vte_runtime *rt;
    int max_batch;
    int batch; /* images in the last forward pass */
    cl_mem pixels;    /* [B, C, H, W] */
    cl_mem patches;   /* [B*P, C*p*p] */
    cl_mem patch_out; /* [B*P, D] */
    cl_mem *hidden;   /* num_layers + 1 buffers of [B*T, D] */
    vte_layer_activations *layers;
    cl_mem final_out, final_mean, final_rstd;
    cl_mem logits;
    vte_forward_kernels k;
    vte_explain_plan x;
};

/* Plans the backward and explanation buffers (once per session). */
vte_status vte_explain_plan_init(vte_session *s, vte_error *err);
void vte_explain_plan_free(vte_session *s);

/* Backward pass for the last forward: fills x.d_attn[l] with d(logit of classes[b])/dA^l for every layer.
 * `classes` holds one class id per image of the last forward. */
vte_status vte_session_backward(vte_session *s, const int *classes, vte_error *err);

/* Re-runs the forward pass of the last batch from layer `layer`'s attention probabilities on (as they are in
 * its attn buffer now), for finite-difference checks of d(logit)/dA. */
vte_status vte_session_forward_from_attention(vte_session *s, int layer, vte_error *err);

/* Building blocks shared by the passes and the explanation methods (enqueue only). */

/* One operand of the per-(image, head) attention products: the matrix of image b, head h starts at
 * base + b*image_stride + h*head_stride of `buffer` (elements), rows ld apart. */
typedef struct vte_head_operand {
    cl_mem buffer;
    size_t base, ld, image_stride, head_stride;
} vte_head_operand;

/* The images*heads GEMMs C_bh = alpha op(A_bh) op(B_bh) in as few strided-batched calls as the layout allows:
 * one per image over its heads, or one per head over the images, whichever is fewer. */
vte_status vte_session_head_gemm(vte_session *s, vte_gemm_op op_a, vte_gemm_op op_b, size_t m, size_t n, size_t k,
                                 float alpha, vte_head_operand a, vte_head_operand b, vte_head_operand c, int images,
                                 vte_error *err);
/* LayerNorm of `rows` rows of x (row r at x + r*x_row_stride) into y [rows, D], keeping mean and rstd. */
vte_status vte_session_layernorm_rows(vte_session *s, cl_mem x, size_t x_row_stride, cl_mem y, cl_mem mean,
                                      cl_mem rstd, cl_mem gamma, cl_mem beta, size_t rows, vte_error *err);
/* dx (+)= LayerNorm-backward(dy [rows, D]) with the statistics of the forward. */
vte_status vte_session_layernorm_backward(vte_session *s, cl_mem dy, cl_mem x, size_t x_row_stride, cl_mem mean,
                                          cl_mem rstd, cl_mem gamma, cl_mem dx, size_t dx_row_stride, int accumulate,
                                          size_t rows, vte_error *err);
/* d *= GELU'(u), element-wise over count values. */
vte_status vte_session_gelu_backward(vte_session *s, cl_mem u, cl_mem d, size_t count, vte_error *err);
/* x.seed[b] = W_cls[classes[b]] (validated). */
vte_status vte_session_classifier_seed(vte_session *s, const int *classes, int B, vte_error *err);

#endif
