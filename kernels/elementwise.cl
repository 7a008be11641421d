/* Element-wise kernels of the ViT forward and backward passes (float32, OpenCL C 1.2).
 * All are 1-D over the n = rows*cols (or n) elements of a row-major matrix, with any local size; the
 * host rounds the global size up to a multiple of the local size and each work-item guards its index.
 * GELU is the exact erf form of PyTorch's nn.functional.gelu (approximate="none"), x * Phi(x), with the normal
 * CDF Phi evaluated to float precision by gelu_cdf (not the tanh approximation). */

#define VTE_SQRT1_2 0.70710678118654752440f     /* 1/sqrt(2) */
#define VTE_INV_SQRT_2PI 0.39894228040143267794f /* 1/sqrt(2*pi) */

/* Phi(x) = 0.5 * (1 + erf(x / sqrt(2))), the standard normal CDF that exact GELU multiplies by.
 * Built-in erf is about 20x slower than exp on PoCL (it is not vectorised), which made GELU the costliest
 * kernel of the forward pass, so erfc is evaluated with the Chebyshev-fitted form erfc(z) = t exp(-z^2 + P(t)),
 * t = 1 / (1 + z/2) (Press et al., Numerical Recipes, 2nd ed., section 6.2; fractional error below 1.2e-7 for
 * every z >= 0). Taking Phi = erfc(|z|)/2 for x < 0 and 1 - erfc(z)/2 for x >= 0 keeps relative accuracy in the
 * left tail, where 1 + erf(x/sqrt(2)) cancels; measured against double precision over [-12, 12]: absolute
 * error of Phi below 1.9e-7 (PyTorch's float erf formula is within the same bound). */
/* One body for float and float8 (the per-item kernels): ?: with a vector condition selects lane by lane. */
#define VTE_DEFINE_GELU_CDF(T, name)                                                                                   \
    T name(T x) {                                                                                                      \
        const T z = fabs(x) * VTE_SQRT1_2;                                                                             \
        const T t = 1.0f / (1.0f + 0.5f * z);                                                                          \
        const T p =                                                                                                    \
            -1.26551223f +                                                                                             \
            t * (1.00002368f +                                                                                         \
                 t * (0.37409196f +                                                                                    \
                      t * (0.09678418f +                                                                               \
                           t * (-0.18628806f +                                                                         \
                                t * (0.27886807f +                                                                     \
                                     t * (-1.13520398f + t * (1.48851587f + t * (-0.82215223f + t * 0.17087277f)))))))); \
        const T half_erfc = 0.5f * t * exp(p - z * z);                                                                 \
        return x >= 0.0f ? 1.0f - half_erfc : half_erfc;                                                               \
    }
VTE_DEFINE_GELU_CDF(float, gelu_cdf)
VTE_DEFINE_GELU_CDF(float8, gelu_cdf8)

/* The bias kernels are 2-D: dimension 0 is the column (guarded: the host rounds it up to the local size),
 * dimension 1 the row, so no work-item divides to find its column (a 64-bit modulo per element cost more
 * than the addition itself on PoCL). */

/* bias_add: x [rows, cols] += bias [cols] broadcast over rows. */
__kernel void bias_add(__global float *x, __global const float *bias, int rows, int cols) {
    const size_t c = get_global_id(0), r = get_global_id(1);
    if (c >= (size_t)cols || r >= (size_t)rows) return;
    x[r * (size_t)cols + c] += bias[c];
}

/* bias_gelu_forward: u [rows, cols] += bias [cols] (u keeps the pre-activation for the backward pass);
 * activated [rows, cols] = gelu(u) = u * 0.5 * (1 + erf(u / sqrt(2))). */
__kernel void bias_gelu_forward(__global float *u, __global float *activated, __global const float *bias,
                                int rows, int cols) {
    const size_t c = get_global_id(0), r = get_global_id(1);
    if (c >= (size_t)cols || r >= (size_t)rows) return;
    const size_t i = r * (size_t)cols + c;
    const float x = u[i] + bias[c];
    u[i] = x;
    activated[i] = x * gelu_cdf(x);
}

/* bias_residual_add: x [rows, cols] = (x + bias [cols]) + residual [rows, cols] (a linear layer's output
 * plus its bias, then the residual stream, in PyTorch's order). residual may not alias x. */
__kernel void bias_residual_add(__global float *x, __global const float *bias, __global const float *residual,
                                int rows, int cols) {
    const size_t c = get_global_id(0), r = get_global_id(1);
    if (c >= (size_t)cols || r >= (size_t)rows) return;
    const size_t i = r * (size_t)cols + c;
    x[i] = (x[i] + bias[c]) + residual[i];
}

/* gelu_backward: d [rows, cols] *= gelu'(u) = Phi(u) + u * phi(u), with Phi(u) = 0.5 * (1 + erf(u / sqrt(2)))
 * and phi(u) = exp(-u*u/2) / sqrt(2*pi); in place on the upstream gradient d. u is the pre-activation, its row r
 * at u + r*u_row_stride (a stride of T*cols reads only the CLS rows); u holds source_rows rows, reused in turn
 * when rows is larger (row r of d reads row r % source_rows of u: several targets over one forward pass). 2-D
 * like the bias kernels. */
__kernel void gelu_backward(__global const float *u, int u_row_stride, __global float *d, int rows, int source_rows,
                            int cols) {
    const size_t c = get_global_id(0), r = get_global_id(1);
    if (c >= (size_t)cols || r >= (size_t)rows) return;
    const size_t i = r * (size_t)cols + c;
    const float x = u[(r % (size_t)source_rows) * (size_t)u_row_stride + c];
    const float cdf = gelu_cdf(x);
    const float pdf = exp(-0.5f * x * x) * VTE_INV_SQRT_2PI;
    d[i] = d[i] * (cdf + x * pdf);
}

/* add_inplace: x [n] += y [n]. */
__kernel void add_inplace(__global float *x, __global const float *y, int n) {
    const size_t i = get_global_id(0);
    if (i >= (size_t)n) return;
    x[i] += y[i];
}

/* classifier_seed: seed [B,D] = the column of class classes[b] of the classifier weight, which is stored
 * transposed as [D, num_labels]: seed[b,d] = classifier_weight[d*num_labels + classes[b]]. */
__kernel void classifier_seed(__global const float *classifier_weight, __global const int *classes,
                              __global float *seed, int batch, int dim, int num_labels) {
    const size_t gid = get_global_id(0);
    if (gid >= (size_t)batch * dim) return;
    const size_t b = gid / (size_t)dim, d = gid % (size_t)dim;
    seed[gid] = classifier_weight[d * (size_t)num_labels + (size_t)classes[b]];
}

/* ---------------------------------------------------------------- one work-item per row (CPU devices)
 * The same four kernels for CPU devices (vte_runtime_rows_per_item): one work-item per row, vectorised along it
 * (float8, then a scalar tail), global size = rows rounded up to any local size. PoCL runs the 2-D forms as many
 * tiny work-groups and vectorises them poorly: GELU took 1.8 ms per ViT-B batch-1 call (3 ns per value). */

__kernel void bias_add_per_item(__global float *x, __global const float *bias, int rows, int cols) {
    const size_t r = get_global_id(0);
    if (r >= (size_t)rows) return;
    __global float *xr = x + r * (size_t)cols;
    const int vectors = cols / 8;
    for (int c = 0; c < vectors; c++) vstore8(vload8(c, xr) + vload8(c, bias), c, xr);
    for (int c = vectors * 8; c < cols; c++) xr[c] += bias[c];
}

__kernel void bias_gelu_forward_per_item(__global float *u, __global float *activated, __global const float *bias,
                                         int rows, int cols) {
    const size_t r = get_global_id(0);
    if (r >= (size_t)rows) return;
    __global float *ur = u + r * (size_t)cols;
    __global float *ar = activated + r * (size_t)cols;
    const int vectors = cols / 8;
    for (int c = 0; c < vectors; c++) {
        const float8 x = vload8(c, ur) + vload8(c, bias);
        vstore8(x, c, ur);
        vstore8(x * gelu_cdf8(x), c, ar);
    }
    for (int c = vectors * 8; c < cols; c++) {
        const float x = ur[c] + bias[c];
        ur[c] = x;
        ar[c] = x * gelu_cdf(x);
    }
}

__kernel void bias_residual_add_per_item(__global float *x, __global const float *bias,
                                         __global const float *residual, int rows, int cols) {
    const size_t r = get_global_id(0);
    if (r >= (size_t)rows) return;
    __global float *xr = x + r * (size_t)cols;
    __global const float *rr = residual + r * (size_t)cols;
    const int vectors = cols / 8;
    for (int c = 0; c < vectors; c++) vstore8((vload8(c, xr) + vload8(c, bias)) + vload8(c, rr), c, xr);
    for (int c = vectors * 8; c < cols; c++) xr[c] = (xr[c] + bias[c]) + rr[c];
}

__kernel void gelu_backward_per_item(__global const float *u, int u_row_stride, __global float *d, int rows,
                                     int source_rows, int cols) {
    const size_t r = get_global_id(0);
    if (r >= (size_t)rows) return;
    __global const float *ur = u + (r % (size_t)source_rows) * (size_t)u_row_stride;
    __global float *dr = d + r * (size_t)cols;
    const int vectors = cols / 8;
    for (int c = 0; c < vectors; c++) {
        const float8 x = vload8(c, ur);
        const float8 pdf = exp(-0.5f * x * x) * VTE_INV_SQRT_2PI;
        vstore8(vload8(c, dr) * (gelu_cdf8(x) + x * pdf), c, dr);
    }
    for (int c = vectors * 8; c < cols; c++) {
        const float x = ur[c];
        const float pdf = exp(-0.5f * x * x) * VTE_INV_SQRT_2PI;
        dr[c] = dr[c] * (gelu_cdf(x) + x * pdf);
    }
}
