/* Explanation kernels: GMAR head weights, jacobgil's discard of the lowest fused entries, rollout of the CLS
 * row, LeGrad score accumulation, min-max normalisation and bilinear upsampling (PyTorch semantics) (float32,
 * OpenCL C 1.2). Head fusion is kernels/fusion.cl; docs/methods.md says what each method
 * computes with them.
 *
 * Shapes: B images, H heads, T tokens (token 0 = CLS). One layer's attention attn [B,H,T,T] is row-major
 * with row = query i, column = key j; its gradient grad [B,H,T,T] = dy_c/dA has the same layout.
 * Element-wise kernels guard their index (the host rounds the global size up to the local size).
 * Reduction kernels use one work-group per item (global = items * local) and any local size; `scratch`
 * is __local memory of local-size floats.
 *
 * Floating-point contraction is off so that a*b + c is rounded twice on every device, as written. */
#pragma OPENCL FP_CONTRACT OFF

/* Compensated (Kahan) addition: acc + term, with the rounding error carried to the next addition. */
float kahan_add(float acc, float term, float *carry) {
    const float y = term - *carry;
    const float next = acc + y;
    *carry = (next - acc) - y;
    return next;
}

float8 kahan_add8(float8 acc, float8 term, float8 *carry) {
    const float8 y = term - *carry;
    const float8 next = acc + y;
    *carry = (next - acc) - y;
    return next;
}

/* head_gradient_norms: one work-group per (b,h) slice of `count` (= T*T) contiguous values of grad
 * (global = B*H * local), from slice first_slice on (the gradients of several targets lie one after another):
 * norms[bh] = sum |g| (p == 1) or sqrt(sum g^2) (p == 2) of slice first_slice + bh. Compensated (Kahan)
 * float partials per work-item, then a tree reduction, so that even small groups stay accurate. */
__kernel void head_gradient_norms(__global const float *grad, int first_slice, __global float *norms, int count,
                                  int p, __local float *scratch) {
    const size_t slice = get_group_id(0);
    const size_t lid = get_local_id(0), step = get_local_size(0);
    __global const float *g = grad + ((size_t)first_slice + slice) * (size_t)count;
    float acc = 0.0f, carry = 0.0f;
    for (size_t i = lid; i < (size_t)count; i += step) acc = kahan_add(acc, p == 1 ? fabs(g[i]) : g[i] * g[i], &carry);
    const float total = group_sum(acc, scratch);
    if (lid == 0) norms[slice] = p == 1 ? total : sqrt(total);
}

/* head_gradient_norms_per_item: head_gradient_norms with one work-item per (b,h) slice (global = B*H rounded up
 * to any local size), for CPU devices (vte_runtime_rows_per_item): eight compensated float partials, one per
 * lane of a float8, then combined with compensation too. */
__kernel void head_gradient_norms_per_item(__global const float *grad, int first_slice, __global float *norms,
                                           int slices, int count, int p) {
    const size_t slice = get_global_id(0);
    if (slice >= (size_t)slices) return;
    __global const float *g = grad + ((size_t)first_slice + slice) * (size_t)count;
    const int vectors = count / 8;
    float8 acc8 = (float8)(0.0f), carry8 = (float8)(0.0f);
    if (p == 1) {
        for (int i = 0; i < vectors; i++) acc8 = kahan_add8(acc8, fabs(vload8(i, g)), &carry8);
    } else {
        for (int i = 0; i < vectors; i++) {
            const float8 v = vload8(i, g);
            acc8 = kahan_add8(acc8, v * v, &carry8);
        }
    }
    /* the lanes' partials (acc - carry), then the tail, into one compensated sum */
    float lanes[8];
    vstore8(acc8 - carry8, 0, lanes);
    float acc = 0.0f, carry = 0.0f;
    for (int lane = 0; lane < 8; lane++) acc = kahan_add(acc, lanes[lane], &carry);
    for (int i = vectors * 8; i < count; i++) acc = kahan_add(acc, p == 1 ? fabs(g[i]) : g[i] * g[i], &carry);
    norms[slice] = p == 1 ? acc : sqrt(acc);
}

/* head_weights_normalize: one work-item per image b: w[b,h] = n[b,h] / sum_h n[b,h] ([B,H] both);
 * when the sum is 0 every head gets 1/H. */
__kernel void head_weights_normalize(__global const float *norms, __global float *weights, int batch,
                                     int heads) {
    const size_t b = get_global_id(0);
    if (b >= (size_t)batch) return;
    __global const float *n = norms + b * (size_t)heads;
    __global float *w = weights + b * (size_t)heads;
    float sum = 0.0f;
    for (int h = 0; h < heads; h++) sum += n[h];
    for (int h = 0; h < heads; h++) w[h] = sum == 0.0f ? 1.0f / (float)heads : n[h] / sum;
}

/* Order-preserving key of a float: uint keys compare like the floats (-0 is taken as +0). */
uint ex_order_key(float v) {
    const uint bits = v == 0.0f ? 0u : as_uint(v);
    return (bits & 0x80000000u) ? ~bits : (bits | 0x80000000u);
}

/* discard_lowest: one work-group per image (global = B * local) on its fused [T,T] matrix, viewed flat
 * (n = T*T): the k = min(discard_count, n) smallest entries are set to 0, except flat index 0 (CLS->CLS),
 * which counts toward k when it is among them but keeps its value (jacobgil's vit_rollout). Ties at the
 * threshold value are taken in increasing flat-index order. `histogram` is __local memory of at least
 * 256 uints.
 * Method: radix select of the k-th smallest key, 8 bits per pass from the top (4 passes, 256-bin
 * histogram with local atomics), which gives the threshold key t and the number `need` of entries equal
 * to t that belong to the k smallest. Then every entry below t is zeroed, and of those equal to t the
 * first `need` in index order: all of them in one parallel pass when need equals their count, otherwise
 * by a walk over tiles of 256 entries in index order (one work-item resolves the tile where the count
 * runs out). */
__kernel void discard_lowest(__global float *fused, int tokens, int discard_count, __local uint *histogram) {
    __local uint select_state[3]; /* threshold prefix, remaining rank, count of the chosen bin */
    __local uint tile_count;
    const size_t n = (size_t)tokens * tokens;
    const size_t lid = get_local_id(0), step = get_local_size(0);
    __global float *m = fused + get_group_id(0) * n;
    if (discard_count <= 0 || n == 0) return; /* uniform over the group */
    uint k = (size_t)discard_count < n ? (uint)discard_count : (uint)n;

    uint prefix = 0u, mask = 0u, equal_total = 0u;
    for (int shift = 24; shift >= 0; shift -= 8) {
        for (size_t q = lid; q < 256; q += step) histogram[q] = 0u;
        barrier(CLK_LOCAL_MEM_FENCE);
        for (size_t i = lid; i < n; i += step) {
            const uint key = ex_order_key(m[i]);
            if ((key & mask) == prefix) atomic_inc(&histogram[(key >> shift) & 255u]);
        }
        barrier(CLK_LOCAL_MEM_FENCE);
        if (lid == 0) {
            uint below = 0u, bin = 0u;
            for (; bin < 255u; bin++) {
                if (below + histogram[bin] >= k) break;
                below += histogram[bin];
            }
            select_state[0] = prefix | (bin << shift);
            select_state[1] = k - below;
            select_state[2] = histogram[bin];
        }
        barrier(CLK_LOCAL_MEM_FENCE);
        prefix = select_state[0];
        k = select_state[1];
        equal_total = select_state[2];
        mask |= 255u << shift;
    }
    const uint threshold = prefix, need = k; /* 1 <= need <= equal_total */

    if (need == equal_total) {
        for (size_t i = lid; i < n; i += step)
            if (i != 0 && ex_order_key(m[i]) <= threshold) m[i] = 0.0f;
        return;
    }

    /* Tiles of 256 entries in index order; histogram[q] flags the entries equal to the threshold. */
    uint done = 0u; /* entries equal to the threshold counted so far (uniform over the group) */
    for (size_t base = 0; base < n; base += 256) {
        if (lid == 0) tile_count = 0u;
        barrier(CLK_LOCAL_MEM_FENCE);
        for (size_t q = lid; q < 256; q += step) {
            const size_t i = base + q;
            uint flag = 0u;
            if (i < n) {
                const uint key = ex_order_key(m[i]);
                if (key < threshold && i != 0) m[i] = 0.0f;
                if (key == threshold) {
                    flag = 1u;
                    atomic_inc(&tile_count);
                }
            }
            histogram[q] = flag;
        }
        barrier(CLK_LOCAL_MEM_FENCE);
        const uint in_tile = tile_count;
        if (done + in_tile <= need) {
            for (size_t q = lid; q < 256; q += step)
                if (histogram[q] && base + q != 0) m[base + q] = 0.0f;
        } else if (done < need && lid == 0) {
            uint left = need - done;
            for (size_t q = 0; q < 256 && left > 0; q++) {
                if (!histogram[q]) continue;
                if (base + q != 0) m[base + q] = 0.0f;
                left--;
            }
        }
        done = done + in_tile < need ? done + in_tile : need;
        barrier(CLK_LOCAL_MEM_FENCE); /* histogram and tile_count are rewritten by the next tile */
    }
}

/* add_identity_normalize: in place on fused [B,T,T], one work-item per row (b,i): a[i,i] += alpha, then
 * the row is divided by its own sum (left as it is when that sum is 0). */
__kernel void add_identity_normalize(__global float *fused, int batch, int tokens, float alpha) {
    const size_t row = get_global_id(0);
    if (row >= (size_t)batch * tokens) return;
    const size_t i = row % (size_t)tokens;
    __global float *a = fused + row * (size_t)tokens;
    a[i] += alpha;
    float sum = 0.0f;
    for (int j = 0; j < tokens; j++) sum += a[j];
    if (sum == 0.0f) return;
    for (int j = 0; j < tokens; j++) a[j] = a[j] / sum;
}

/* cls_row_init: r [B,T] = e_0 in every image (1 at token 0, 0 elsewhere); one work-item per (b,j). */
__kernel void cls_row_init(__global float *r, int batch, int tokens) {
    const size_t gid = get_global_id(0);
    if (gid >= (size_t)batch * tokens) return;
    r[gid] = gid % (size_t)tokens == 0 ? 1.0f : 0.0f;
}

/* cls_row_step: r_out[b,j] = sum_i r_in[b,i] * mat[b,i,j] (+ r_in[b,j] when residual != 0), with r_in,
 * r_out [B,T] (distinct buffers) and mat [B,T,T]; one work-item per (b,j). This carries the CLS row of a
 * product of matrices, and with residual the Chefer update r + r*A. */
__kernel void cls_row_step(__global const float *r_in, __global const float *mat, __global float *r_out,
                           int batch, int tokens, int residual) {
    const size_t gid = get_global_id(0);
    if (gid >= (size_t)batch * tokens) return;
    const size_t b = gid / (size_t)tokens, j = gid % (size_t)tokens;
    __global const float *r = r_in + b * (size_t)tokens;
    __global const float *a = mat + b * (size_t)tokens * tokens + j;
    float acc = 0.0f;
    for (int i = 0; i < tokens; i++) acc += r[i] * a[(size_t)i * tokens];
    if (residual) acc += r[j];
    r_out[gid] = acc;
}

/* patch_minmax: one work-group per image b (global = B * local): x_p = values[b*row_stride + offset + p]
 * for p < count; map[b*count + p] = (x_p - min) / (max - min + eps), or 0 everywhere when max == min.
 * Offset 1 on a CLS row r [B,T] drops the CLS column; offset 0 suits score arrays [B,T-1]. */
__kernel void patch_minmax(__global const float *values, int row_stride, int offset, __global float *map,
                           int count, float eps, __local float *scratch) {
    const size_t b = get_group_id(0);
    const size_t lid = get_local_id(0), step = get_local_size(0);
    __global const float *x = values + b * (size_t)row_stride + (size_t)offset;
    __global float *y = map + b * (size_t)count;
    float lo = INFINITY, hi = -INFINITY;
    for (size_t p = lid; p < (size_t)count; p += step) {
        lo = fmin(lo, x[p]);
        hi = fmax(hi, x[p]);
    }
    lo = group_min(lo, scratch);
    hi = group_max(hi, scratch);
    const float range = hi - lo;
    for (size_t p = lid; p < (size_t)count; p += step) y[p] = range == 0.0f ? 0.0f : (x[p] - lo) / (range + eps);
}

/* legrad_accumulate: for each image b and patch token j = 1..T-1 (one work-item per (b, j-1)):
 *   scores[b, j-1] += scale * sum_h max(sum_{k<Dh} grad_ctx[b, h*Dh+k] * V[b, j, h*Dh+k], 0)
 * where grad_ctx [B,D] is the gradient of the layer's score w.r.t. the CLS query's attention context,
 * qkv [B*T, 3D] holds Q | K | V per token row (V from column 2D), Dh = D/H, scores [B,T-1]. */
__kernel void legrad_accumulate(__global const float *grad_ctx, __global const float *qkv,
                                __global float *scores, int batch, int tokens, int dim, int heads, float scale) {
    const size_t patches = (size_t)tokens - 1;
    const size_t gid = get_global_id(0);
    if (gid >= (size_t)batch * patches) return;
    const size_t b = gid / patches, j = gid % patches + 1;
    const int head_dim = dim / heads;
    __global const float *gc = grad_ctx + b * (size_t)dim;
    __global const float *v = qkv + (b * (size_t)tokens + j) * 3 * (size_t)dim + 2 * (size_t)dim;
    float total = 0.0f;
    for (int h = 0; h < heads; h++) {
        float dot = 0.0f;
        for (int k = 0; k < head_dim; k++) dot += gc[h * head_dim + k] * v[h * head_dim + k];
        total += fmax(dot, 0.0f);
    }
    scores[gid] += scale * total;
}

/* seed_legrad_accumulate: fused [B,T,T] (fusion.cl's FUSION_POSITIVE_GRAD_THEN_ATTN); for each image b and query i = 1..T-1
 * (one work-item per (b, i-1)): scores[b, i-1] += scale * (1/(T-1)) * sum_{j=1..T-1} fused[b,i,j], the
 * mean over the patch keys with the CLS row and column dropped; scores [B,T-1]. */
__kernel void seed_legrad_accumulate(__global const float *fused, __global float *scores, int batch,
                                     int tokens, float scale) {
    const size_t patches = (size_t)tokens - 1;
    const size_t gid = get_global_id(0);
    if (gid >= (size_t)batch * patches) return;
    const size_t b = gid / patches, i = gid % patches + 1;
    __global const float *row = fused + (b * (size_t)tokens + i) * (size_t)tokens;
    float sum = 0.0f;
    for (int j = 1; j < tokens; j++) sum += row[j];
    scores[gid] += scale * (sum / (float)(tokens - 1));
}

/* Source index and weight of the upper neighbour along one axis, as PyTorch's upsample_bilinear2d with
 * align_corners=False and no explicit scale: scale = (float)in / out, src = scale * (dst + 0.5) - 0.5
 * clamped below at 0 (area_pixel_compute_source_index), i0 = min(floor(src), in - 1),
 * lambda = clamp(src - i0, 0, 1), i1 = i0 + (i0 < in - 1). */
void ex_linear_source(int dst, int in_size, int out_size, int *i0, int *i1, float *lambda) {
    if (in_size == out_size) { /* PyTorch copies in this case */
        *i0 = *i1 = dst;
        *lambda = 0.0f;
        return;
    }
    const float scale = (float)in_size / (float)out_size;
    float src = scale * ((float)dst + 0.5f) - 0.5f;
    if (src < 0.0f) src = 0.0f;
    const int lo = min((int)src, in_size - 1);
    *i0 = lo;
    *i1 = lo + (lo < in_size - 1 ? 1 : 0);
    *lambda = fmin(fmax(src - (float)lo, 0.0f), 1.0f);
}

/* upsample_bilinear: grid [B, in_h, in_w] -> out [B, out_h, out_w], F.interpolate(mode="bilinear",
 * align_corners=False) for an output size: one work-item per output pixel,
 *   out = (1-ly)*((1-lx)*g[y0,x0] + lx*g[y0,x1]) + ly*((1-lx)*g[y1,x0] + lx*g[y1,x1]). */
__kernel void upsample_bilinear(__global const float *grid, __global float *out, int batch, int in_h, int in_w,
                                int out_h, int out_w) {
    const size_t pixels = (size_t)out_h * out_w;
    const size_t gid = get_global_id(0);
    if (gid >= (size_t)batch * pixels) return;
    const size_t b = gid / pixels, yx = gid % pixels;
    const int y = (int)(yx / (size_t)out_w), x = (int)(yx % (size_t)out_w);
    int y0, y1, x0, x1;
    float ly, lx;
    ex_linear_source(y, in_h, out_h, &y0, &y1, &ly);
    ex_linear_source(x, in_w, out_w, &x0, &x1, &lx);
    __global const float *g = grid + b * (size_t)in_h * in_w;
    const float top = (1.0f - lx) * g[y0 * in_w + x0] + lx * g[y0 * in_w + x1];
    const float bottom = (1.0f - lx) * g[y1 * in_w + x0] + lx * g[y1 * in_w + x1];
    out[gid] = (1.0f - ly) * top + ly * bottom;
}
