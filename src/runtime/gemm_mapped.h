/* The operands of a GEMM mapped into host memory, for backends that multiply on the host (gemm_host.c,
 * gemm_onednn.c). PoCL's CPU device keeps buffers in host memory, so mapping costs no copy there. Mapping blocks
 * until the queue has run every earlier command, and the in-order queue orders the unmaps before later kernels.
 * Internal to src/runtime. */
#ifndef VTE_RUNTIME_GEMM_MAPPED_H
#define VTE_RUNTIME_GEMM_MAPPED_H

#include "runtime/gemm_backend.h"

#define VTE_GEMM_MAX_MAPPED 3

typedef struct vte_gemm_mapped {
    float *a, *b, *c; /* host addresses of the three operands' buffers (not yet offset) */
    cl_mem buffers[VTE_GEMM_MAX_MAPPED];
    float *pointers[VTE_GEMM_MAX_MAPPED];
    int count; /* buffers mapped: a buffer that backs several operands is mapped once */
} vte_gemm_mapped;

/* 1 on PoCL's CPU device, the only one known to keep buffers in host memory (mapping elsewhere may copy, or
 * fail). */
int vte_gemm_host_memory(const vte_runtime *rt);

/* Maps the buffers of call->a, ->b and ->c. On failure what was mapped is unmapped again. */
vte_status vte_gemm_map(vte_runtime *rt, const vte_gemm_call *call, vte_gemm_mapped *mapped, vte_error *err);

/* Unmaps everything; returns `status` when it is an error already, else the unmapping's status. */
vte_status vte_gemm_unmap(vte_runtime *rt, vte_gemm_mapped *mapped, vte_status status, vte_error *err);

#endif
