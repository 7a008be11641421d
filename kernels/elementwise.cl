/* Element-wise kernels of the ViT forward and backward passes (float32, OpenCL C 1.2).
 * All are 1-D over the n = rows*cols (or n) elements of a row-major matrix, with any local size; the
 * host rounds the global size up to a multiple of the local size and each work-item guards its index.
 * GELU is the exact erf form that PyTorch's nn.functional.gelu (approximate="none") computes, written in
 * the same operation order as PyTorch's CPU kernel: x * 0.5 * (1 + erf(x * (1/sqrt(2)))). */

#define VTE_SQRT1_2 0.70710678118654752440f     /* 1/sqrt(2) */
#define VTE_INV_SQRT_2PI 0.39894228040143267794f /* 1/sqrt(2*pi) */

/* bias_add: x [rows, cols] += bias [cols] broadcast over rows. */
__kernel void bias_add(__global float *x, __global const float *bias, int rows, int cols) {
    const size_t i = get_global_id(0);
    if (i >= (size_t)rows * (size_t)cols) return;
    x[i] += bias[i % (size_t)cols];
}

/* bias_gelu_forward: u [rows, cols] += bias [cols] (u keeps the pre-activation for the backward pass);
 * activated [rows, cols] = gelu(u) = u * 0.5 * (1 + erf(u / sqrt(2))). */
__kernel void bias_gelu_forward(__global float *u, __global float *activated, __global const float *bias,
                                int rows, int cols) {
    const size_t i = get_global_id(0);
    if (i >= (size_t)rows * (size_t)cols) return;
    const float x = u[i] + bias[i % (size_t)cols];
    u[i] = x;
    activated[i] = x * 0.5f * (1.0f + erf(x * VTE_SQRT1_2));
}

/* bias_residual_add: x [rows, cols] = (x + bias [cols]) + residual [rows, cols] (a linear layer's output
 * plus its bias, then the residual stream, in PyTorch's order). residual may not alias x. */
__kernel void bias_residual_add(__global float *x, __global const float *bias, __global const float *residual,
                                int rows, int cols) {
    const size_t i = get_global_id(0);
    if (i >= (size_t)rows * (size_t)cols) return;
    x[i] = (x[i] + bias[i % (size_t)cols]) + residual[i];
}

/* gelu_backward: d [n] *= gelu'(u) = Phi(u) + u * phi(u), with Phi(u) = 0.5 * (1 + erf(u / sqrt(2))) and
 * phi(u) = exp(-u*u/2) / sqrt(2*pi); in place on the upstream gradient d. u [n] is the pre-activation. */
__kernel void gelu_backward(__global const float *u, __global float *d, int n) {
    const size_t i = get_global_id(0);
    if (i >= (size_t)n) return;
    const float x = u[i];
    const float cdf = 0.5f * (1.0f + erf(x * VTE_SQRT1_2));
    const float pdf = exp(-0.5f * x * x) * VTE_INV_SQRT_2PI;
    d[i] = d[i] * (cdf + x * pdf);
}

/* add_inplace: x [n] += y [n]. */
__kernel void add_inplace(__global float *x, __global const float *y, int n) {
    const size_t i = get_global_id(0);
    if (i >= (size_t)n) return;
    x[i] += y[i];
}
