/* Row softmax of attention scores, forward and backward (float32, OpenCL C 1.2), each in two shapes that
 * compute the same thing:
 * - one work-group per row of a row-major [rows, cols] matrix: global size = rows * local size, any local
 *   size (a power of two is fastest; the host picks it with vte_kernel_group_size). `scratch` is __local
 *   memory of local-size floats. For GPUs.
 * - `_per_item`: one work-item per row, vectorised along it (float8); global size = rows rounded up to any
 *   local size. For CPU devices, where PoCL runs a group's work-items as loops between barriers and does not
 *   vectorise along the row: 8x faster there on ViT-B's scores (2364 rows of 197: 2.0 ms against 16). */

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

/* softmax_backward: given the softmax output probs [rows, cols] and its gradient grad [rows, cols],
 *   out[i, j] = probs[i, j] * (grad[i, j] - sum_k probs[i, k] * grad[i, k])
 * i.e. dS from dA for A = softmax(S) along rows. out may be grad itself (in place). probs holds source_rows rows,
 * reused in turn when rows is larger (row i reads probs row i % source_rows: several targets over one forward). */
__kernel void softmax_backward(__global const float *probs, __global const float *grad, __global float *out,
                               int rows, int source_rows, int cols, __local float *scratch) {
    const size_t row = get_group_id(0);
    if (row >= (size_t)rows) return; /* uniform over the group */
    const size_t lid = get_local_id(0), step = get_local_size(0);
    __global const float *pr = probs + (row % (size_t)source_rows) * (size_t)cols;
    __global const float *gr = grad + row * (size_t)cols;
    __global float *outr = out + row * (size_t)cols;

    float dot = 0.0f;
    for (size_t j = lid; j < (size_t)cols; j += step) dot += pr[j] * gr[j];
    dot = group_sum(dot, scratch);

    for (size_t j = lid; j < (size_t)cols; j += step) outr[j] = pr[j] * (gr[j] - dot);
}

/* softmax_rows_per_item: softmax_rows with one work-item per row. */
__kernel void softmax_rows_per_item(__global float *x, int rows, int cols) {
    const size_t row = get_global_id(0);
    if (row >= (size_t)rows) return;
    __global float *xr = x + row * (size_t)cols;
    const int vectors = cols / 8;
    float8 m8 = (float8)(-INFINITY);
    for (int j = 0; j < vectors; j++) m8 = fmax(m8, vload8(j, xr));
    float m = lanes_max(m8);
    for (int j = vectors * 8; j < cols; j++) m = fmax(m, xr[j]);

    float8 sum8 = (float8)(0.0f);
    for (int j = 0; j < vectors; j++) {
        const float8 e = exp(vload8(j, xr) - m);
        vstore8(e, j, xr);
        sum8 += e;
    }
    float sum = lanes_sum(sum8);
    for (int j = vectors * 8; j < cols; j++) {
        const float e = exp(xr[j] - m);
        xr[j] = e;
        sum += e;
    }

    for (int j = 0; j < vectors; j++) vstore8(vload8(j, xr) / sum, j, xr);
    for (int j = vectors * 8; j < cols; j++) xr[j] = xr[j] / sum;
}

/* softmax_backward_per_item: softmax_backward with one work-item per row. */
__kernel void softmax_backward_per_item(__global const float *probs, __global const float *grad,
                                        __global float *out, int rows, int source_rows, int cols) {
    const size_t row = get_global_id(0);
    if (row >= (size_t)rows) return;
    __global const float *pr = probs + (row % (size_t)source_rows) * (size_t)cols;
    __global const float *gr = grad + row * (size_t)cols;
    __global float *outr = out + row * (size_t)cols;
    const int vectors = cols / 8;
    float8 dot8 = (float8)(0.0f);
    for (int j = 0; j < vectors; j++) dot8 += vload8(j, pr) * vload8(j, gr);
    float dot = lanes_sum(dot8);
    for (int j = vectors * 8; j < cols; j++) dot += pr[j] * gr[j];

    for (int j = 0; j < vectors; j++) vstore8(vload8(j, pr) * (vload8(j, gr) - dot), j, outr);
    for (int j = vectors * 8; j < cols; j++) outr[j] = pr[j] * (gr[j] - dot);
}
