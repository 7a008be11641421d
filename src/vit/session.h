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
};

#endif
