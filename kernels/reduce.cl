/* Work-group reductions shared by every kernel family: the runtime puts this file in front of each program
 * it builds (it is not a program of its own). Every work-item gets the result; any local size works (the
 * part above the largest power of two is folded in first); `scratch` is __local memory of local-size
 * floats; each ends with a barrier so scratch can be reused at once. Call them from every work-item of the
 * group (they contain barriers). */

#define VTE_GROUP_REDUCE(name, combine)                                           \
    float name(float v, __local float *scratch) {                                 \
        const size_t lid = get_local_id(0), n = get_local_size(0);                \
        size_t p = 1;                                                             \
        while (p * 2 <= n) p *= 2;                                                \
        scratch[lid] = v;                                                         \
        barrier(CLK_LOCAL_MEM_FENCE);                                             \
        if (lid < n - p) scratch[lid] = combine(scratch[lid], scratch[lid + p]);  \
        barrier(CLK_LOCAL_MEM_FENCE);                                             \
        for (size_t s = p / 2; s > 0; s /= 2) {                                   \
            if (lid < s) scratch[lid] = combine(scratch[lid], scratch[lid + s]);  \
            barrier(CLK_LOCAL_MEM_FENCE);                                         \
        }                                                                         \
        const float result = scratch[0];                                          \
        barrier(CLK_LOCAL_MEM_FENCE);                                             \
        return result;                                                            \
    }

#define VTE_ADD(a, b) ((a) + (b))
VTE_GROUP_REDUCE(group_sum, VTE_ADD)
VTE_GROUP_REDUCE(group_min, fmin)
VTE_GROUP_REDUCE(group_max, fmax)

/* Sums of the eight lanes of a float8, pairwise (the per-item row kernels' partial sums). */
float lanes_sum(float8 v) { return ((v.s0 + v.s1) + (v.s2 + v.s3)) + ((v.s4 + v.s5) + (v.s6 + v.s7)); }
float lanes_max(float8 v) {
    return fmax(fmax(fmax(v.s0, v.s1), fmax(v.s2, v.s3)), fmax(fmax(v.s4, v.s5), fmax(v.s6, v.s7)));
}
