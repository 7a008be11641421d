/* A session: a model, a batch size, and every device buffer the forward and backward passes use, planned once
 * (runtime/plan.h: each list below is the one place a buffer or kernel is named).
 *
 * Shapes (B = images in the batch, T = tokens, D = hidden, F = MLP width, H = heads, P = patches):
 *   embeddings          [B*T, D]  the residual stream entering layer 0
 *   layer l keeps       ln1_out [B*T, D], ln1_mean/ln1_rstd [B*T], qkv [B*T, 3D], attn [B, H, T, T] (the
 *                       post-softmax probabilities), ctx [B*T, D], resid [B*T, D] (after the attention
 *                       residual), ln2_out, ln2_mean, ln2_rstd, fc1_pre [B*T, F] (before GELU), fc1_act [B*T, F],
 *                       output [B*T, D] (the residual stream leaving the layer)
 *   final               final_out [B, D] (LayerNorm of the CLS rows), final_mean/rstd [B], logits [B, labels]
 * Everything a backward pass needs stays on the device until the next forward. */
#ifndef VTE_VIT_SESSION_H
#define VTE_VIT_SESSION_H

#include "model/model.h"
#include "runtime/gemm.h"
#include "runtime/plan.h"

/* The sizes every plan of a session is computed from. */
typedef struct vte_plan_dims {
    size_t B;            /* images per pass: the session's max_batch */
    size_t T, D, F, H, L; /* tokens, hidden size, MLP width, heads, layers */
    size_t P, K;         /* patches; values per patch (channels * patch_size^2) */
    size_t labels;
    size_t image_values; /* floats of one preprocessed image: channels * image_height * image_width */
    size_t image_pixels; /* image_height * image_width: one upsampled map */
} vte_plan_dims;

/* ---------------------------------------------------------------- the forward pass's plan */

#define VTE_FORWARD_BUFFERS(X)                                                          \
    X(pixels, VTE_F32(d.B * d.image_values), "input pixels")                            \
    X(patches, VTE_F32(d.B * d.P * d.K), "image patches")                               \
    X(patch_out, VTE_F32(d.B * d.P * d.D), "patch embeddings")                          \
    X(embeddings, VTE_F32(d.B * d.T * d.D), "embeddings")                               \
    X(final_out, VTE_F32(d.B * d.D), "final LayerNorm output")                          \
    X(final_mean, VTE_F32(d.B), "final LayerNorm statistics")                           \
    X(final_rstd, VTE_F32(d.B), "final LayerNorm statistics")                           \
    X(logits, VTE_F32(d.B * d.labels), "logits")

/* One set per layer, each entry X(field, bytes, purpose, kept): a layer has its own copy of a buffer only when
 * the session keeps that kind (vte_session_keep: VTE_KEEP_ATTENTION, VTE_KEEP_ACTIVATIONS; 0: never read after
 * the forward pass); otherwise every layer uses layer 0's, which the forward pass only passes through (even
 * `output`: a layer reads its input for the last time before it writes its output). */
#define VTE_LAYER_BUFFERS(X)                                                                                \
    X(ln1_out, VTE_F32(d.B * d.T * d.D), "LayerNorm outputs", 0)                                            \
    X(ln1_mean, VTE_F32(d.B * d.T), "LayerNorm statistics", VTE_KEEP_ACTIVATIONS)                           \
    X(ln1_rstd, VTE_F32(d.B * d.T), "LayerNorm statistics", VTE_KEEP_ACTIVATIONS)                           \
    X(qkv, VTE_F32(d.B * d.T * 3 * d.D), "query/key/value activations", VTE_KEEP_ACTIVATIONS)               \
    X(attn, VTE_F32(d.B * d.H * d.T * d.T), "attention probabilities", VTE_KEEP_ATTENTION)                  \
    X(ctx, VTE_F32(d.B * d.T * d.D), "attention context", 0)                                                \
    X(resid, VTE_F32(d.B * d.T * d.D), "residual stream", VTE_KEEP_ACTIVATIONS)                             \
    X(ln2_out, VTE_F32(d.B * d.T * d.D), "LayerNorm outputs", 0)                                            \
    X(ln2_mean, VTE_F32(d.B * d.T), "LayerNorm statistics", VTE_KEEP_ACTIVATIONS)                           \
    X(ln2_rstd, VTE_F32(d.B * d.T), "LayerNorm statistics", VTE_KEEP_ACTIVATIONS)                           \
    X(fc1_pre, VTE_F32(d.B * d.T * d.F), "MLP activations", VTE_KEEP_ACTIVATIONS)                           \
    X(fc1_act, VTE_F32(d.B * d.T * d.F), "MLP activations", 0)                                              \
    X(output, VTE_F32(d.B * d.T * d.D), "hidden states", VTE_KEEP_ACTIVATIONS)

#define VTE_LAYER_BUFFER_FIELD(field, bytes, purpose, kept) cl_mem field;

#define VTE_FORWARD_KERNELS(X)                                                          \
    X(patch_im2col, "embed", "patch_im2col")                                            \
    X(embeddings_assemble, "embed", "embeddings_assemble")                              \
    X(layernorm_forward, "layernorm", "layernorm_forward")                              \
    X(layernorm_forward_per_item, "layernorm", "layernorm_forward_per_item")            \
    X(bias_add, "elementwise", "bias_add")                                              \
    X(bias_add_per_item, "elementwise", "bias_add_per_item")                            \
    X(bias_gelu_forward, "elementwise", "bias_gelu_forward")                            \
    X(bias_gelu_forward_per_item, "elementwise", "bias_gelu_forward_per_item")          \
    X(bias_residual_add, "elementwise", "bias_residual_add")                            \
    X(bias_residual_add_per_item, "elementwise", "bias_residual_add_per_item")          \
    X(softmax_rows, "attention", "softmax_rows")                                        \
    X(softmax_rows_per_item, "attention", "softmax_rows_per_item")                      \
    X(attention_fused, "attention", "attention_fused")                                  \
    X(attention_fused_per_item, "attention", "attention_fused_per_item")

/* The fused attention kernels' tile sizes (kernels/attention.cl's ATTENTION_QUERY_ROWS and ATTENTION_KEY_TILE, which
 * must equal these): query rows per work-item of attention_fused_per_item, keys per __local tile of
 * attention_fused. */
#define VTE_ATTENTION_QUERY_ROWS 4
#define VTE_ATTENTION_KEY_TILE 32

typedef struct vte_layer_activations {
    VTE_LAYER_BUFFERS(VTE_LAYER_BUFFER_FIELD)
} vte_layer_activations;

typedef struct vte_forward_plan {
    VTE_FORWARD_BUFFERS(VTE_PLAN_BUFFER_FIELD)
    VTE_FORWARD_KERNELS(VTE_PLAN_KERNEL_FIELD)
    vte_layer_activations *layers; /* [num_layers] */
    size_t layernorm_group, softmax_group, elementwise_group;
    /* vte_runtime_rows_per_item: the row kernels (LayerNorm, softmax, the bias and GELU kernels; forward and
     * backward) take their `_per_item` forms, one work-item per row in groups of elementwise_group */
    int rows_per_item;
    /* Attention of a pass that keeps no probabilities (vte_forward_block): 1 to run it fused, without the [T, T]
     * scores ($VITEXPLAIN_ATTENTION=fused|gemm, else the device's default: docs/performance.md); the work-group
     * size of attention_fused_per_item, and of attention_fused (0 when the per-item form runs: rows_per_item, or
     * a head too large for the device's __local memory). */
    int fuse_attention;
    size_t attention_item_group, attention_group;
} vte_forward_plan;

/* ---------------------------------------------------------------- the backward pass's plan */

/* Made on the first backward pass (a session that only classifies never pays for it), for up to `targets`
 * targets per image in one pass: here d.B counts rows of images times targets, target-major ([targets][B]: row
 * t*B + b is image b's target t). Input gradients only. */
#define VTE_BACKWARD_BUFFERS(X)                                                                          \
    X(classes, d.B * sizeof(cl_int), "target classes") /* int: the target of each image and slot */     \
    X(seed, VTE_F32(d.B * d.D), "gradient seed")       /* the classifier row of the target */           \
    X(d_hidden, VTE_F32(d.B * d.T * d.D), "residual-stream gradient")                                  \
    X(d_act, VTE_F32(d.B * d.T * d.F), "MLP gradient")                                                  \
    X(d_ln, VTE_F32(d.B * d.T * d.D), "LayerNorm gradient")                                             \
    X(d_ctx, VTE_F32(d.B * d.T * d.D), "attention-context gradient")                                   \
    X(d_qkv, VTE_F32(d.B * d.T * 3 * d.D), "query/key/value gradient")                                 \
    X(d_scores, VTE_F32(d.B * d.H * d.T * d.T), "attention-score gradient") /* one layer's */

/* One per layer: d(target logit)/dA, the gradient the gradient-weighted methods read. */
#define VTE_BACKWARD_LAYER_BUFFERS(X) X(d_attn, VTE_F32(d.B * d.H * d.T * d.T), "attention gradients")

#define VTE_BACKWARD_KERNELS(X)                                                         \
    X(layernorm_backward, "layernorm", "layernorm_backward")                            \
    X(layernorm_backward_per_item, "layernorm", "layernorm_backward_per_item")          \
    X(gelu_backward, "elementwise", "gelu_backward")                                    \
    X(gelu_backward_per_item, "elementwise", "gelu_backward_per_item")                  \
    X(softmax_backward, "attention", "softmax_backward")                                \
    X(softmax_backward_per_item, "attention", "softmax_backward_per_item")              \
    X(classifier_seed, "elementwise", "classifier_seed")

typedef struct vte_layer_gradients {
    VTE_BACKWARD_LAYER_BUFFERS(VTE_PLAN_BUFFER_FIELD)
} vte_layer_gradients;

typedef struct vte_backward_plan {
    int planned;
    int targets;     /* targets per image one backward pass takes (vte_backward_targets_per_pass) */
    int read_target; /* which target of the last backward pass the explanation methods read */
    VTE_BACKWARD_BUFFERS(VTE_PLAN_BUFFER_FIELD)
    VTE_BACKWARD_KERNELS(VTE_PLAN_KERNEL_FIELD)
    vte_layer_gradients *layers; /* [num_layers] */
    size_t reduce_group;         /* work-group size of the per-row reductions */
} vte_backward_plan;

/* ---------------------------------------------------------------- the session */

struct vte_explain_plan; /* explain/plan.h: the explanation methods' buffers and kernels */

struct vte_session {
    vte_model *model;
    vte_runtime *rt;
    int max_batch;
    int batch;            /* images in the last forward pass */
    unsigned kept;        /* VTE_KEEP_*: what each layer has its own buffers for */
    unsigned kept_by_last; /* what the last forward pass kept (kept may have grown since) */
    vte_plan_dims dims;
    vte_forward_plan fwd;
    vte_backward_plan bwd;
    /* Owned by explain/ and made on the first explanation; released through explain_release, so that vit/
     * does not depend on explain/. */
    struct vte_explain_plan *explain;
    void (*explain_release)(vte_session *s);
};

/* The residual stream after `l` layers: the embeddings for l = 0, else the output of layer l-1. */
static inline cl_mem vte_session_hidden(const vte_session *s, int l) {
    return l == 0 ? s->fwd.embeddings : s->fwd.layers[l - 1].output;
}

/* ---------------------------------------------------------------- passes and their building blocks */

/* The forward pass in parts, for callers that re-run part of it on the last batch (tests perturb one layer's
 * attention probabilities): block l from its attention probabilities on, a whole block, and the head (final
 * LayerNorm of the CLS rows, classifier). Enqueue only. */
vte_status vte_forward_block_after_attention(vte_session *s, int l, int images, vte_error *err);
vte_status vte_forward_block(vte_session *s, int l, int images, vte_error *err);
vte_status vte_forward_head(vte_session *s, int images, vte_error *err);

/* How many targets per image one backward pass takes when `wanted` are asked for: enough to give the GEMMs the
 * rows of VTE_BACKWARD_IMAGES images (fewer rows run them below the device's rate), never more than wanted. */
#define VTE_BACKWARD_IMAGES 8
int vte_backward_targets_per_pass(const vte_session *s, int wanted);

/* Plans the backward pass's buffers for `targets` targets per image and pass (vte_backward_targets_per_pass);
 * once per session, again only when a later call asks for more targets. */
vte_status vte_backward_plan_init(vte_session *s, int targets, vte_error *err);
void vte_backward_plan_free(vte_session *s);

/* Backward pass for the last forward, for `targets` targets of each image at once (at most the plan's):
 * classes[t*batch + b] is image b's target t. Fills bwd.layers[l].d_attn, [targets][batch, H, T, T], with
 * d(logit of the target)/dA^l for every layer, and bwd.seed with the classifier rows of the targets; sets
 * bwd.read_target to 0. */
vte_status vte_session_backward_targets(vte_session *s, const int *classes, int targets, vte_error *err);
/* The same for one target per image: classes[b]. */
vte_status vte_session_backward(vte_session *s, const int *classes, vte_error *err);

/* One operand of the per-(image, head) attention products: the matrix of image b, head h starts at
 * base + b*image_stride + h*head_stride of `buffer` (elements), rows ld apart. */
typedef struct vte_head_operand {
    cl_mem buffer;
    size_t base, ld, image_stride, head_stride;
} vte_head_operand;

/* The images*heads GEMMs C_bh = alpha op(A_bh) op(B_bh): one grouped GEMM call (heads as the batch, images as
 * the groups), which each backend runs in as few calls as it can. */
vte_status vte_session_head_gemm(vte_session *s, vte_gemm_op op_a, vte_gemm_op op_b, size_t m, size_t n, size_t k,
                                 float alpha, vte_head_operand a, vte_head_operand b, vte_head_operand c, int images,
                                 vte_error *err);
/* The launch of an element-wise kernel over a [rows, cols] matrix: 2-D (columns, rows) for the group forms,
 * 1-D over rows for the `_per_item` forms (both take the same arguments). */
typedef struct vte_row_launch {
    cl_uint dims;
    size_t global[2], local[2];
} vte_row_launch;
vte_row_launch vte_session_row_launch(const vte_session *s, size_t rows, size_t cols);

/* LayerNorm of `rows` rows of x (row r at x + r*x_row_stride) into y [rows, D], keeping mean and rstd. */
vte_status vte_session_layernorm_rows(vte_session *s, cl_mem x, size_t x_row_stride, cl_mem y, cl_mem mean,
                                      cl_mem rstd, cl_mem gamma, cl_mem beta, size_t rows, vte_error *err);
/* dx (+)= LayerNorm-backward(dy [rows, D]) with the statistics of the forward, row r's at mean[r*stats_stride]
 * and rstd[r*stats_stride] (needs the backward plan). x and the statistics have source_rows rows, taken in turn
 * when rows is larger (row r uses source row r % source_rows: several targets over one forward pass). */
vte_status vte_session_layernorm_backward(vte_session *s, cl_mem dy, cl_mem x, size_t x_row_stride, cl_mem mean,
                                          cl_mem rstd, size_t stats_stride, cl_mem gamma, cl_mem dx,
                                          size_t dx_row_stride, int accumulate, size_t rows, size_t source_rows,
                                          vte_error *err);
/* d [rows, cols] *= GELU'(u), element-wise, row r of u at u + (r % source_rows)*u_row_stride (needs the
 * backward plan). */
vte_status vte_session_gelu_backward(vte_session *s, cl_mem u, size_t u_row_stride, cl_mem d, size_t rows,
                                     size_t source_rows, size_t cols, vte_error *err);
/* bwd.seed[r] = W_cls[classes[r]] for `rows` rows (validated; at most the plan's batch times targets), classes
 * also copied to bwd.classes (needs the backward plan). */
vte_status vte_session_classifier_seed(vte_session *s, const int *classes, int rows, vte_error *err);

#endif
