/* Head fusion: one layer's attention attn [B,H,T,T] (row = query i, column = key j; token 0 = CLS) and, for
 * the gradient methods, its gradient grad [B,H,T,T] = d(target logit)/dA, fused over the heads into one
 * matrix fused [B,T,T] per image (docs/methods.md, "Head fusion").
 *
 * The fusion is chosen when the program is built, -DFUSION=<one of the names below>, so each variant is one
 * straight loop; the runtime's program cache keys on the build options. The host names the variants by these
 * same names (src/explain/methods.h), never by number.
 *
 * Floating-point contraction is off so that a*b + c is rounded twice on every device, as written. */
#pragma OPENCL FP_CONTRACT OFF

#define FUSION_MEAN 0           /* mean_h A */
#define FUSION_MAX 1            /* max_h A */
#define FUSION_MIN 2            /* min_h A */
#define FUSION_WEIGHTED_SUM 3   /* sum_h w[b,h] A (GMAR) */
#define FUSION_WEIGHTED_MEAN 4  /* (1/H) sum_h w[b,h] A (the seed project's GMAR) */
#define FUSION_POSITIVE_GRAD_TIMES_ATTN 5 /* (1/H) sum_h max(G A, 0) (Chefer 2021) */
#define FUSION_POSITIVE_GRAD_THEN_ATTN 6  /* (1/H) sum_h max(G, 0) A (the seed project's LeGrad) */

#ifndef FUSION
#error "kernels/fusion.cl is built with -DFUSION=FUSION_MEAN (or another name defined above)"
#endif

/* attention_fuse: one work-item per (b,i,j); head_weights w [B,H] (GMAR variants only). Image b's gradient is
 * image grad_first_image + b of grad (the gradients of several targets lie one after another). Buffers a
 * variant does not read may be any buffer. */
__kernel void attention_fuse(__global const float *attn, __global const float *grad, int grad_first_image,
                             __global const float *head_weights, __global float *fused, int batch, int heads,
                             int tokens) {
    const size_t plane = (size_t)tokens * tokens;
    const size_t gid = get_global_id(0);
    if (gid >= (size_t)batch * plane) return;
    const size_t b = gid / plane, ij = gid % plane;
    __global const float *a = attn + b * (size_t)heads * plane + ij;
    __global const float *g = grad + ((size_t)grad_first_image + b) * (size_t)heads * plane + ij;
    __global const float *w = head_weights + b * (size_t)heads;
    (void)g;
    (void)w;

#if FUSION == FUSION_MAX
    float acc = a[0];
    for (int h = 1; h < heads; h++) acc = fmax(acc, a[(size_t)h * plane]);
#elif FUSION == FUSION_MIN
    float acc = a[0];
    for (int h = 1; h < heads; h++) acc = fmin(acc, a[(size_t)h * plane]);
#else
    float acc = 0.0f;
    for (int h = 0; h < heads; h++) {
        const float ah = a[(size_t)h * plane];
#if FUSION == FUSION_MEAN
        acc += ah;
#elif FUSION == FUSION_WEIGHTED_SUM || FUSION == FUSION_WEIGHTED_MEAN
        acc += w[h] * ah;
#elif FUSION == FUSION_POSITIVE_GRAD_TIMES_ATTN
        acc += fmax(g[(size_t)h * plane] * ah, 0.0f);
#elif FUSION == FUSION_POSITIVE_GRAD_THEN_ATTN
        acc += fmax(g[(size_t)h * plane], 0.0f) * ah;
#else
#error "unknown FUSION"
#endif
    }
#if FUSION != FUSION_WEIGHTED_SUM
    acc = acc / (float)heads;
#endif
#endif
    fused[gid] = acc;
}
