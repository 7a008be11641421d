/* Row softmax of attention scores, forward and backward (float32, OpenCL C 1.2).
 * One work-group per row of a row-major [rows, cols] matrix: global size = rows * local size, any local
 * size (a power of two is fastest; the host picks it with vte_kernel_group_size). `scratch` is __local
 * memory of local-size floats. */

/* softmax_rows: in place, x[r, :] = exp(x[r, :] - max) / sum(exp(x[r, :] - max)) for each r < rows
 * (numerically stable: the row maximum is subtracted first). */
__kernel void softmax_rows(__global float *x, int rows, int cols, __local float *scratch) {
    const size_t row = get_group_id(0);
    if (row >= (size_t)rows) return; /* uniform over the group */
    const size_t lid = get_local_id(0), step = get_local_size(0);
    __global float *xr = x + row * (size_t)cols;

    float m = -INFINITY;
    for (size_t j = lid; j < (size_t)cols; j += step) m = fmax(m, xr[j]);
    m = group_max(m, scratch);

    float sum = 0.0f;
    for (size_t j = lid; j < (size_t)cols; j += step) {
        const float e = exp(xr[j] - m);
        xr[j] = e;
        sum += e;
    }
    sum = group_sum(sum, scratch);

    for (size_t j = lid; j < (size_t)cols; j += step) xr[j] = xr[j] / sum;
}

/* softmax_backward: in place on grad [rows, cols], given the softmax output probs [rows, cols]:
 *   grad[i, j] = probs[i, j] * (grad[i, j] - sum_k probs[i, k] * grad[i, k])
 * i.e. dS from dA for A = softmax(S) along rows. */
__kernel void softmax_backward(__global const float *probs, __global float *grad, int rows, int cols,
                               __local float *scratch) {
    const size_t row = get_group_id(0);
    if (row >= (size_t)rows) return; /* uniform over the group */
    const size_t lid = get_local_id(0), step = get_local_size(0);
    __global const float *pr = probs + row * (size_t)cols;
    __global float *gr = grad + row * (size_t)cols;

    float dot = 0.0f;
    for (size_t j = lid; j < (size_t)cols; j += step) dot += pr[j] * gr[j];
    dot = group_sum(dot, scratch);

    for (size_t j = lid; j < (size_t)cols; j += step) gr[j] = pr[j] * (gr[j] - dot);
}
