/* The oneDNN GEMM backend, for PoCL's CPU device (like the host BLAS, it maps the operands: gemm_mapped.h).
 * oneDNN's JIT picks its kernels from the CPU's features, AVX-512 included, whatever the vendor, where Debian's
 * OpenBLAS picks them from a table of CPU models (it took a Zen 5 for Haswell: AVX2). Measured on the ViT-B shapes
 * (docs/performance.md, tools/bench-gemm.sh): the fastest library on the linear layers. A candidate of gemm.c's
 * measured choice; VITEXPLAIN_GEMM=onednn forces it. */
#include <dnnl.h>

#include "runtime/gemm_mapped.h"

static vte_status onednn_run(vte_runtime *rt, void *state, const vte_gemm_call *call, vte_error *err) {
    (void)state;
    vte_gemm_mapped m;
    vte_status status = vte_gemm_map(rt, call, &m, err);
    if (status != VTE_OK) return status;
    const char ta = call->op_a == VTE_GEMM_T ? 'T' : 'N', tb = call->op_b == VTE_GEMM_T ? 'T' : 'N';
    /* dnnl_sgemm is row-major, like cblas_sgemm with CblasRowMajor. */
    for (size_t i = 0; i < call->batch && status == VTE_OK; i++) {
        const dnnl_status_t s =
            dnnl_sgemm(ta, tb, (dnnl_dim_t)call->m, (dnnl_dim_t)call->n, (dnnl_dim_t)call->k, call->alpha,
                       m.a + call->a.offset + i * call->a.stride, (dnnl_dim_t)call->a.ld,
                       m.b + call->b.offset + i * call->b.stride, (dnnl_dim_t)call->b.ld, call->beta,
                       m.c + call->c.offset + i * call->c.stride, (dnnl_dim_t)call->c.ld);
        if (s != dnnl_success)
            status = vte_error_set(err, VTE_ERR_UNSUPPORTED, "dnnl_sgemm %zux%zux%zu failed with status %d (%s:%d)",
                                   call->m, call->n, call->k, (int)s, __FILE__, __LINE__);
    }
    return vte_gemm_unmap(rt, &m, status, err);
}

const vte_gemm_backend_ops vte_gemm_backend_onednn = {
    .name = "onednn",
    .description = "oneDNN",
    .wrong_result_advice = "oneDNN computes wrong results here: set VITEXPLAIN_GEMM=host (OpenBLAS)",
    .usable = vte_gemm_host_memory,
    .init = NULL,
    .reserve = NULL,
    .run = onednn_run,
    .release = NULL,
};
