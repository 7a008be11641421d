/* LayerNorm over the last dimension, forward and input-gradient backward (float32, OpenCL C 1.2).
 * One work-group per row: global size = rows * local size, any local size (a power of two is fastest;
 * the host picks it with vte_kernel_group_size). `scratch` is __local memory of local-size floats.
 * Statistics follow PyTorch: biased variance, rstd = 1 / sqrt(var + eps).
 * The `_per_item` kernels compute the same with one work-item per row, vectorised along it (float8): global
 * size = rows rounded up to any local size. For CPU devices, where they are 5x faster under PoCL (ViT-B,
 * 1576 rows of 768: 0.33 ms against 1.7). */

/* layernorm_forward: for each row r < rows, with xr = x + r*x_row_stride (dim contiguous values; a
 * stride of T*D lets the final LayerNorm read only the CLS rows):
 *   mean[r] = sum(xr) / dim; var = sum((xr - mean)^2) / dim (two passes, for accuracy);
 *   rstd[r] = 1 / sqrt(var + eps); y[r*dim + i] = (xr[i] - mean) * rstd * gamma[i] + beta[i].
 * mean and rstd [rows] are kept for layernorm_backward. */
__kernel void layernorm_forward(__global const float *x, int x_row_stride, __global float *y,
                                __global float *mean, __global float *rstd, __global const float *gamma,
                                __global const float *beta, int rows, int dim, float eps,
                                __local float *scratch) {
    const size_t row = get_group_id(0);
    if (row >= (size_t)rows) return; /* uniform over the group */
    const size_t lid = get_local_id(0), step = get_local_size(0);
    __global const float *xr = x + row * (size_t)x_row_stride;
    __global float *yr = y + row * (size_t)dim;

    float sum = 0.0f;
    for (size_t i = lid; i < (size_t)dim; i += step) sum += xr[i];
    const float mu = group_sum(sum, scratch) / (float)dim;

    float sq = 0.0f;
    for (size_t i = lid; i < (size_t)dim; i += step) {
        const float c = xr[i] - mu;
        sq += c * c;
    }
    const float var = group_sum(sq, scratch) / (float)dim;
    const float rs = 1.0f / sqrt(var + eps);

    for (size_t i = lid; i < (size_t)dim; i += step) yr[i] = (xr[i] - mu) * rs * gamma[i] + beta[i];
    if (lid == 0) {
        mean[row] = mu;
        rstd[row] = rs;
    }
}

/* layernorm_backward: input gradient of layernorm_forward (no gamma/beta gradients). For each row r,
 * with xhat = (x[r] - mean[r]) * rstd[r] and g = dy[r] * gamma:
 *   dx[r] = rstd[r] * (g - mean(g) - xhat * mean(g * xhat)).
 * dy is [rows, dim] contiguous; x row r starts at x + r*x_row_stride, dx row r at dx + r*dx_row_stride, its
 * statistics are mean[r*stats_stride] and rstd[r*stats_stride] (strides of T*dim and T pick the CLS rows).
 * accumulate == 0 writes dx, otherwise adds to it (for the residual branch). dx may be dy itself when
 * dx_row_stride == dim. x and the statistics hold source_rows rows, reused in turn when rows is larger: row r
 * reads source row r % source_rows (the backward pass of several targets at once, over one forward pass). */
__kernel void layernorm_backward(__global const float *dy, __global const float *x, int x_row_stride,
                                 __global const float *mean, __global const float *rstd, int stats_stride,
                                 __global const float *gamma, __global float *dx, int dx_row_stride,
                                 int accumulate, int rows, int source_rows, int dim, __local float *scratch) {
    const size_t row = get_group_id(0);
    if (row >= (size_t)rows) return; /* uniform over the group */
    const size_t lid = get_local_id(0), step = get_local_size(0);
    const size_t source = row % (size_t)source_rows;
    __global const float *dyr = dy + row * (size_t)dim;
    __global const float *xr = x + source * (size_t)x_row_stride;
    __global float *dxr = dx + row * (size_t)dx_row_stride;
    const float mu = mean[source * (size_t)stats_stride], rs = rstd[source * (size_t)stats_stride];

    float sum_g = 0.0f, sum_gx = 0.0f;
    for (size_t i = lid; i < (size_t)dim; i += step) {
        const float g = dyr[i] * gamma[i];
        sum_g += g;
        sum_gx += g * ((xr[i] - mu) * rs);
    }
    const float mean_g = group_sum(sum_g, scratch) / (float)dim;
    const float mean_gx = group_sum(sum_gx, scratch) / (float)dim;

    /* The uniform branch stays outside the loops: PoCL 3.1 miscompiles a kernel-argument branch inside a
     * work-item-dependent loop after barriers (work-items past `dim` then store out of bounds). */
    if (accumulate) {
        for (size_t i = lid; i < (size_t)dim; i += step) {
            const float g = dyr[i] * gamma[i];
            const float xhat = (xr[i] - mu) * rs;
            dxr[i] += rs * (g - mean_g - xhat * mean_gx);
        }
    } else {
        for (size_t i = lid; i < (size_t)dim; i += step) {
            const float g = dyr[i] * gamma[i];
            const float xhat = (xr[i] - mu) * rs;
            dxr[i] = rs * (g - mean_g - xhat * mean_gx);
        }
    }
}

/* layernorm_forward_per_item: layernorm_forward with one work-item per row. */
__kernel void layernorm_forward_per_item(__global const float *x, int x_row_stride, __global float *y,
                                         __global float *mean, __global float *rstd, __global const float *gamma,
                                         __global const float *beta, int rows, int dim, float eps) {
    const size_t row = get_global_id(0);
    if (row >= (size_t)rows) return;
    __global const float *xr = x + row * (size_t)x_row_stride;
    __global float *yr = y + row * (size_t)dim;
    const int vectors = dim / 8;

    float8 sum8 = (float8)(0.0f);
    for (int i = 0; i < vectors; i++) sum8 += vload8(i, xr);
    float sum = lanes_sum(sum8);
    for (int i = vectors * 8; i < dim; i++) sum += xr[i];
    const float mu = sum / (float)dim;

    float8 sq8 = (float8)(0.0f);
    for (int i = 0; i < vectors; i++) {
        const float8 c = vload8(i, xr) - mu;
        sq8 += c * c;
    }
    float sq = lanes_sum(sq8);
    for (int i = vectors * 8; i < dim; i++) {
        const float c = xr[i] - mu;
        sq += c * c;
    }
    const float rs = 1.0f / sqrt(sq / (float)dim + eps);

    for (int i = 0; i < vectors; i++)
        vstore8((vload8(i, xr) - mu) * rs * vload8(i, gamma) + vload8(i, beta), i, yr);
    for (int i = vectors * 8; i < dim; i++) yr[i] = (xr[i] - mu) * rs * gamma[i] + beta[i];
    mean[row] = mu;
    rstd[row] = rs;
}

/* layernorm_backward_per_item: layernorm_backward with one work-item per row. */
__kernel void layernorm_backward_per_item(__global const float *dy, __global const float *x, int x_row_stride,
                                          __global const float *mean, __global const float *rstd, int stats_stride,
                                          __global const float *gamma, __global float *dx, int dx_row_stride,
                                          int accumulate, int rows, int source_rows, int dim) {
    const size_t row = get_global_id(0);
    if (row >= (size_t)rows) return;
    const size_t source = row % (size_t)source_rows;
    __global const float *dyr = dy + row * (size_t)dim;
    __global const float *xr = x + source * (size_t)x_row_stride;
    __global float *dxr = dx + row * (size_t)dx_row_stride;
    const float mu = mean[source * (size_t)stats_stride], rs = rstd[source * (size_t)stats_stride];
    const int vectors = dim / 8;

    float8 g8 = (float8)(0.0f), gx8 = (float8)(0.0f);
    for (int i = 0; i < vectors; i++) {
        const float8 g = vload8(i, dyr) * vload8(i, gamma);
        g8 += g;
        gx8 += g * ((vload8(i, xr) - mu) * rs);
    }
    float sum_g = lanes_sum(g8), sum_gx = lanes_sum(gx8);
    for (int i = vectors * 8; i < dim; i++) {
        const float g = dyr[i] * gamma[i];
        sum_g += g;
        sum_gx += g * ((xr[i] - mu) * rs);
    }
    const float mean_g = sum_g / (float)dim, mean_gx = sum_gx / (float)dim;

    for (int i = 0; i < vectors; i++) {
        const float8 g = vload8(i, dyr) * vload8(i, gamma);
        const float8 xhat = (vload8(i, xr) - mu) * rs;
        const float8 d = rs * (g - mean_g - xhat * mean_gx);
        vstore8(accumulate ? vload8(i, dxr) + d : d, i, dxr);
    }
    for (int i = vectors * 8; i < dim; i++) {
        const float g = dyr[i] * gamma[i];
        const float xhat = (xr[i] - mu) * rs;
        const float d = rs * (g - mean_g - xhat * mean_gx);
        dxr[i] = accumulate ? dxr[i] + d : d;
    }
}
