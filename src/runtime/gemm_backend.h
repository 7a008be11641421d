/* The interface between gemm.c and one way of multiplying matrices (a "backend"). gemm.c chooses among the
 * backends per runtime and per shape, profiles and self-checks them; a backend only multiplies. A new path is one file
 * that defines a vte_gemm_backend_ops and one row in gemm.c's table.
 * Internal to src/runtime: the passes call gemm.h. */
#ifndef VTE_RUNTIME_GEMM_BACKEND_H
#define VTE_RUNTIME_GEMM_BACKEND_H

#include "runtime/gemm.h"

/* C_gi = alpha * op_a(A_gi)[m,k] * op_b(B_gi)[k,n] + beta * C_gi for g < groups and i < batch, where X_gi
 * starts at X.offset + g * X.group_stride + i * X.stride (vte_gemm_operand: gemm.h). */
typedef struct vte_gemm_call {
    vte_gemm_op op_a, op_b;
    size_t m, n, k;
    float alpha;
    vte_gemm_operand a, b;
    float beta;
    vte_gemm_operand c;
    size_t batch;
    size_t groups; /* 1 unless the caller asked for groups of batches (vte_gemm_grouped) */
    /* 1 when the caller asked for a strided batch (vte_gemm_strided_batched), even a batch of 1. A backend
     * whose batched routine computes differently from its single one (CLBlast) follows the caller's choice,
     * so that results do not change with the batch size; others may ignore it. */
    int batched;
} vte_gemm_call;

/* (Not "vte_gemm_backend": that is gemm.h's function naming the chosen backend.) */
typedef struct vte_gemm_backend_ops {
    const char *name;                /* the $VITEXPLAIN_GEMM value that forces it: "host", "clblast" */
    const char *description;         /* for messages and benchmarks: "host BLAS (OpenBLAS)", "CLBlast" */
    const char *wrong_result_advice; /* ends the self-check's failure message: what the user can do */
    /* 1: a candidate only where no other backend can run (CLBlast: the host libraries are 2-3x faster where they
     * can run, so measuring it there would only cost its kernels' compilation) */
    int fallback_only;
    int groups; /* 1: run takes groups > 1 itself (oneDNN: one 4-D matmul over groups and batch) */
    /* Nonzero when it can run on this runtime's device. */
    int (*usable)(const vte_runtime *rt);
    /* Optional (NULL: no state). Called once when chosen; sets *state for the calls below. On failure it
     * leaves nothing to release. */
    vte_status (*init)(vte_runtime *rt, void **state, vte_error *err);
    /* Optional. Prepares for calls of `shape`'s ops, sizes and leading dimensions (its buffers are NULL, batch
     * is 1), so that the passes themselves never allocate. */
    vte_status (*reserve)(vte_runtime *rt, void *state, const vte_gemm_call *shape, vte_error *err);
    /* Enqueues `call` on rt->queue, in order with the kernels around it. Calls with groups > 1 come only to a
     * backend with `groups` set; gemm.c splits them into one call per group (of the larger count) for the
     * others. */
    vte_status (*run)(vte_runtime *rt, void *state, const vte_gemm_call *call, vte_error *err);
    /* Optional. Frees what init made; called once, only after a successful init. */
    void (*release)(vte_runtime *rt, void *state);
} vte_gemm_backend_ops;

extern const vte_gemm_backend_ops vte_gemm_backend_host;    /* gemm_host.c */
extern const vte_gemm_backend_ops vte_gemm_backend_clblast; /* gemm_clblast.c */
extern const vte_gemm_backend_ops vte_gemm_backend_onednn;  /* gemm_onednn.c */

#endif
