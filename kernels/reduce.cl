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
