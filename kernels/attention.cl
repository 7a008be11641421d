/* Row softmax of attention scores, forward and backward, and fused attention (at the end of the file), float32,
 * OpenCL C 1.2; the softmax kernels each in two shapes that compute the same thing:
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

/* ---------------------------------------------------------------- fused attention (forward only)
 * ctx = softmax(scale * Q K^T) V for every (image, head), for passes that read no attention probabilities
 * afterwards: the [T, T] scores are never written out. The softmax is online (flash-style): keys come a block at
 * a time; each query row keeps the running maximum m of its scores and the running sum l of exp(s - m), and its
 * output accumulator is rescaled by exp(m_old - m_new) when a block raises the maximum; the end divides by l.
 * qkv is the packed [images * tokens, 3D] activations (Q at column 0, K at D, V at 2D; head h at columns
 * h*head_dim.. of each), ctx [images * tokens, D] (head h at columns h*head_dim..). Any head_dim, any tokens.
 * Two shapes with the same first seven arguments, as for the row kernels:
 * - attention_fused_per_item (CPUs): one work-item per tile of ATTENTION_QUERY_ROWS query rows, so that every key
 *   and value row loaded serves the whole tile, vectorised along the head dimension (float8, scalar tail), with
 *   keys in blocks of 16 so that the exponentials are float8 too: PoCL runs a group's work-items as a loop and
 *   does not vectorise these loops across them. The output accumulates in the item's own ctx rows (L1-resident),
 *   which keeps any head size working without a private array of it. Alone on 2 Zen 4 cores, a ViT-B batch-8
 *   layer takes 10-12 ms against 13-18 for the two grouped GEMMs and the softmax; inside the forward pass it is
 *   not faster (docs/performance.md), so CPUs keep the GEMM path by default.
 * - attention_fused (GPUs): one work-group per (image, head, tile of local-size query rows), one work-item per
 *   query row; the tile's queries and output accumulators and ATTENTION_KEY_TILE keys and values at a time are
 *   staged in __local memory (rows padded by one float against bank conflicts), read by every item of the group.
 * `#pragma unroll` (honoured by clang-based compilers, ignored elsewhere) keeps the small fixed-size arrays below
 * in registers. */

/* Must equal VTE_ATTENTION_QUERY_ROWS and VTE_ATTENTION_KEY_TILE in src/vit/session.h (the host sizes launches and
 * __local memory with them). */
#define ATTENTION_QUERY_ROWS 4
#define ATTENTION_KEY_TILE 32

/* (the pairwise lane sums of a, those of b) */
float8 lane_pair_sums(float8 a, float8 b) { return (float8)(a.even + a.odd, b.even + b.odd); }

/* Lane j: the sum of the lanes of dots[j] (a transpose-and-add tree: seven additions for eight dot products). */
float8 lane_sums_of_eight(const float8 *dots) {
    return lane_pair_sums(lane_pair_sums(lane_pair_sums(dots[0], dots[1]), lane_pair_sums(dots[2], dots[3])),
                          lane_pair_sums(lane_pair_sums(dots[4], dots[5]), lane_pair_sums(dots[6], dots[7])));
}

/* The larger lanes, and the largest lane, of scores that are never NaN (fmax's NaN handling costs here). */
float8 larger_lanes(float8 a, float8 b) { return a > b ? a : b; }
float largest_lane(float8 v) {
    const float4 m4 = v.lo > v.hi ? v.lo : v.hi;
    const float2 m2 = m4.lo > m4.hi ? m4.lo : m4.hi;
    return m2.lo > m2.hi ? m2.lo : m2.hi;
}

/* scores[r] = scale * query[r] . k[j] in lane j for eight keys, -INFINITY in the lanes from live_keys on. */
void tile_scores(__global const float *const *query, __global const float *const *k, int vectors, int head_dim,
                 float scale, int live_keys, float8 *scores) {
    float8 dots[ATTENTION_QUERY_ROWS][8];
#pragma unroll
    for (int r = 0; r < ATTENTION_QUERY_ROWS; r++)
#pragma unroll
        for (int j = 0; j < 8; j++) dots[r][j] = (float8)(0.0f);
    for (int c = 0; c < vectors; c++) {
        float8 q[ATTENTION_QUERY_ROWS];
#pragma unroll
        for (int r = 0; r < ATTENTION_QUERY_ROWS; r++) q[r] = vload8(c, query[r]);
#pragma unroll
        for (int j = 0; j < 8; j++) {
            const float8 key_part = vload8(c, k[j]);
#pragma unroll
            for (int r = 0; r < ATTENTION_QUERY_ROWS; r++) dots[r][j] = fma(q[r], key_part, dots[r][j]);
        }
    }
    const int8 live = (int8)(0, 1, 2, 3, 4, 5, 6, 7) < (int8)(live_keys);
#pragma unroll
    for (int r = 0; r < ATTENTION_QUERY_ROWS; r++) {
        float8 s = lane_sums_of_eight(dots[r]);
        for (int d = vectors * 8; d < head_dim; d++)
            s = fma((float8)(query[r][d]),
                    (float8)(k[0][d], k[1][d], k[2][d], k[3][d], k[4][d], k[5][d], k[6][d], k[7][d]), s);
        scores[r] = select((float8)(-INFINITY), s * scale, live);
    }
}

/* One tile of ATTENTION_QUERY_ROWS query rows of one (image, head): row r at query[r], its output at out[r]; key
 * and value row j at key + j*ld and value + j*ld. A tile cut short by the last token repeats its last row (equal
 * pointers): every step loads all rows' accumulators before it stores any, so a repeated row computes and writes
 * exactly what the original does. */
void attend_query_tile(__global const float *const *query, __global const float *key, __global const float *value,
                       size_t ld, __global float *const *out, int tokens, int head_dim, float scale) {
    const int vectors = head_dim / 8;
    float running_max[ATTENTION_QUERY_ROWS], running_sum[ATTENTION_QUERY_ROWS];
#pragma unroll
    for (int r = 0; r < ATTENTION_QUERY_ROWS; r++) {
        running_max[r] = -INFINITY;
        running_sum[r] = 0.0f;
        for (int c = 0; c < vectors; c++) vstore8((float8)(0.0f), c, out[r]);
        for (int d = vectors * 8; d < head_dim; d++) out[r][d] = 0.0f;
    }
    for (int first = 0; first < tokens; first += 16) {
        /* Past the last key, a block repeats the last row (finite values) with probability 0. */
        __global const float *k[16], *v[16];
#pragma unroll
        for (int j = 0; j < 16; j++) {
            const size_t row = (size_t)min(first + j, tokens - 1);
            k[j] = key + row * ld;
            v[j] = value + row * ld;
        }
        float8 low[ATTENTION_QUERY_ROWS], high[ATTENTION_QUERY_ROWS]; /* keys first..first+7, first+8..first+15 */
        tile_scores(query, k, vectors, head_dim, scale, tokens - first, low);
        tile_scores(query, k + 8, vectors, head_dim, scale, tokens - first - 8, high);
        float rescale[ATTENTION_QUERY_ROWS];
        float probs[ATTENTION_QUERY_ROWS][16]; /* lanes by index: OpenCL C 1.2 has no vector subscripts */
#pragma unroll
        for (int r = 0; r < ATTENTION_QUERY_ROWS; r++) {
            const float block_max = largest_lane(larger_lanes(low[r], high[r]));
            rescale[r] = 1.0f;
            if (block_max > running_max[r]) { /* rare after the first blocks: the exp only then */
                rescale[r] = exp(running_max[r] - block_max); /* 0 on the first block */
                running_max[r] = block_max;
            }
            low[r] = exp(low[r] - running_max[r]);
            high[r] = exp(high[r] - running_max[r]);
            running_sum[r] = running_sum[r] * rescale[r] + lanes_sum(low[r] + high[r]);
            vstore8(low[r], 0, probs[r]);
            vstore8(high[r], 1, probs[r]);
        }
        for (int c = 0; c < vectors; c++) {
            float8 acc[ATTENTION_QUERY_ROWS];
#pragma unroll
            for (int r = 0; r < ATTENTION_QUERY_ROWS; r++) acc[r] = vload8(c, out[r]) * rescale[r];
#pragma unroll
            for (int j = 0; j < 8; j++) {
                const float8 value_low = vload8(c, v[j]), value_high = vload8(c, v[j + 8]);
#pragma unroll
                for (int r = 0; r < ATTENTION_QUERY_ROWS; r++)
                    acc[r] = fma((float8)(probs[r][j]), value_low, fma((float8)(probs[r][j + 8]), value_high, acc[r]));
            }
#pragma unroll
            for (int r = 0; r < ATTENTION_QUERY_ROWS; r++) vstore8(acc[r], c, out[r]);
        }
        for (int d = vectors * 8; d < head_dim; d++) {
            const float8 value_low = (float8)(v[0][d], v[1][d], v[2][d], v[3][d], v[4][d], v[5][d], v[6][d], v[7][d]);
            const float8 value_high =
                (float8)(v[8][d], v[9][d], v[10][d], v[11][d], v[12][d], v[13][d], v[14][d], v[15][d]);
            float acc[ATTENTION_QUERY_ROWS];
#pragma unroll
            for (int r = 0; r < ATTENTION_QUERY_ROWS; r++)
                acc[r] = out[r][d] * rescale[r] + lanes_sum(low[r] * value_low + high[r] * value_high);
#pragma unroll
            for (int r = 0; r < ATTENTION_QUERY_ROWS; r++) out[r][d] = acc[r];
        }
    }
    for (int c = 0; c < vectors; c++) {
        float8 acc[ATTENTION_QUERY_ROWS];
#pragma unroll
        for (int r = 0; r < ATTENTION_QUERY_ROWS; r++) acc[r] = vload8(c, out[r]) / running_sum[r];
#pragma unroll
        for (int r = 0; r < ATTENTION_QUERY_ROWS; r++) vstore8(acc[r], c, out[r]);
    }
    for (int d = vectors * 8; d < head_dim; d++) {
        float acc[ATTENTION_QUERY_ROWS];
#pragma unroll
        for (int r = 0; r < ATTENTION_QUERY_ROWS; r++) acc[r] = out[r][d] / running_sum[r];
#pragma unroll
        for (int r = 0; r < ATTENTION_QUERY_ROWS; r++) out[r][d] = acc[r];
    }
}

/* attention_fused_per_item: global size at least images * heads * ceil(tokens / ATTENTION_QUERY_ROWS), any local
 * size. Item i takes query tile i % tiles of (image, head) i / tiles, so that neighbouring items share keys. */
__kernel void attention_fused_per_item(__global const float *qkv, __global float *ctx, int images, int heads,
                                       int tokens, int head_dim, float scale) {
    const size_t tiles = (size_t)(tokens + ATTENTION_QUERY_ROWS - 1) / ATTENTION_QUERY_ROWS;
    const size_t item = get_global_id(0);
    if (item >= (size_t)images * (size_t)heads * tiles) return;
    const size_t image_head = item / tiles, image = image_head / (size_t)heads, head = image_head % (size_t)heads;
    const int first = (int)(item % tiles) * ATTENTION_QUERY_ROWS;
    const size_t D = (size_t)heads * (size_t)head_dim, ld = 3 * D;
    __global const float *queries = qkv + image * (size_t)tokens * ld + head * (size_t)head_dim;
    __global float *outs = ctx + image * (size_t)tokens * D + head * (size_t)head_dim;
    __global const float *query[ATTENTION_QUERY_ROWS];
    __global float *out[ATTENTION_QUERY_ROWS];
#pragma unroll
    for (int r = 0; r < ATTENTION_QUERY_ROWS; r++) {
        const size_t row = (size_t)min(first + r, tokens - 1);
        query[r] = queries + row * ld;
        out[r] = outs + row * D;
    }
    attend_query_tile(query, queries + D, queries + 2 * D, ld, out, tokens, head_dim, scale);
}

/* attention_fused: global size images * heads * ceil(tokens / L) * L for a local size L (any); `staged` is __local
 * memory of (2 * L + 2 * ATTENTION_KEY_TILE) * (head_dim + 1) floats. Group g takes query tile g % tiles of (image,
 * head) g / tiles, item i its query row i (items past the last row help staging only). */
__kernel void attention_fused(__global const float *qkv, __global float *ctx, int images, int heads, int tokens,
                              int head_dim, float scale, __local float *staged) {
    const size_t group_rows = get_local_size(0), lid = get_local_id(0);
    const size_t tiles = ((size_t)tokens + group_rows - 1) / group_rows;
    const size_t image_head = get_group_id(0) / tiles, image = image_head / (size_t)heads;
    if (image >= (size_t)images) return; /* uniform over the group */
    const size_t head = image_head % (size_t)heads, first_row = (get_group_id(0) % tiles) * group_rows;
    const size_t D = (size_t)heads * (size_t)head_dim, ld = 3 * D, pitch = (size_t)head_dim + 1;
    __global const float *queries = qkv + image * (size_t)tokens * ld + head * (size_t)head_dim;
    __global const float *keys = queries + D, *values = queries + 2 * D;
    __local float *query_tile = staged, *out_tile = staged + group_rows * pitch;
    __local float *key_tile = out_tile + group_rows * pitch, *value_tile = key_tile + ATTENTION_KEY_TILE * pitch;
    __local float *my_query = query_tile + lid * pitch, *my_out = out_tile + lid * pitch;
    const size_t row_count = min(group_rows, (size_t)tokens - first_row);
    const int active = lid < row_count;

    /* Neighbouring items copy neighbouring floats of a row (coalesced reads). */
    for (size_t i = lid; i < row_count * (size_t)head_dim; i += group_rows) {
        const size_t r = i / (size_t)head_dim, d = i % (size_t)head_dim;
        query_tile[r * pitch + d] = queries[(first_row + r) * ld + d];
    }
    if (active)
        for (int d = 0; d < head_dim; d++) my_out[d] = 0.0f;
    float running_max = -INFINITY, running_sum = 0.0f;
    for (int first_key = 0; first_key < tokens; first_key += ATTENTION_KEY_TILE) {
        const int live_keys = min(ATTENTION_KEY_TILE, tokens - first_key);
        barrier(CLK_LOCAL_MEM_FENCE); /* every item is done with the previous tile (and the queries are staged) */
        for (size_t i = lid; i < (size_t)ATTENTION_KEY_TILE * (size_t)head_dim; i += group_rows) {
            const size_t j = i / (size_t)head_dim, d = i % (size_t)head_dim;
            const int live = (int)j < live_keys; /* rows past the last key: zeros, weighted by probability 0 */
            const size_t at = ((size_t)first_key + j) * ld + d;
            key_tile[j * pitch + d] = live ? keys[at] : 0.0f;
            value_tile[j * pitch + d] = live ? values[at] : 0.0f;
        }
        barrier(CLK_LOCAL_MEM_FENCE);
        if (!active) continue; /* no barrier until the loop's next turn, which every item reaches */
        /* The tile's keys innermost (unrolled), so that probs stays in registers. */
        float probs[ATTENTION_KEY_TILE];
#pragma unroll
        for (int j = 0; j < ATTENTION_KEY_TILE; j++) probs[j] = 0.0f;
        for (int d = 0; d < head_dim; d++) {
            const float q = my_query[d];
#pragma unroll
            for (int j = 0; j < ATTENTION_KEY_TILE; j++) probs[j] = fma(q, key_tile[j * pitch + d], probs[j]);
        }
        float tile_max = -INFINITY;
#pragma unroll
        for (int j = 0; j < ATTENTION_KEY_TILE; j++) {
            probs[j] = j < live_keys ? probs[j] * scale : -INFINITY;
            tile_max = fmax(tile_max, probs[j]);
        }
        const float new_max = fmax(running_max, tile_max);
        const float rescale = exp(running_max - new_max); /* 0 on the first tile */
        running_max = new_max;
        float tile_sum = 0.0f;
#pragma unroll
        for (int j = 0; j < ATTENTION_KEY_TILE; j++) {
            probs[j] = exp(probs[j] - new_max);
            tile_sum += probs[j];
        }
        running_sum = running_sum * rescale + tile_sum;
        for (int d = 0; d < head_dim; d++) {
            float acc = my_out[d] * rescale;
#pragma unroll
            for (int j = 0; j < ATTENTION_KEY_TILE; j++) acc = fma(probs[j], value_tile[j * pitch + d], acc);
            my_out[d] = acc;
        }
    }
    if (active)
        for (int d = 0; d < head_dim; d++) my_out[d] = my_out[d] / running_sum;
    barrier(CLK_LOCAL_MEM_FENCE);
    __global float *outs = ctx + image * (size_t)tokens * D + head * (size_t)head_dim;
    for (size_t i = lid; i < row_count * (size_t)head_dim; i += group_rows) {
        const size_t r = i / (size_t)head_dim, d = i % (size_t)head_dim;
        outs[(first_row + r) * D + d] = out_tile[r * pitch + d];
    }
}
