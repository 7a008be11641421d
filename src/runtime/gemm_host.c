/* The host GEMM backend, for PoCL's CPU device: PoCL keeps buffers in host memory, so a GEMM can map its
 * operands (no copy) and run in the host's BLAS (OpenBLAS), which reaches 2-3x the GFLOP/s of CLBlast's kernels
 * compiled by PoCL. Measured with PoCL 3.1 on a 2-core AMD EPYC (Zen 5), ViT-B linear layers: 226-258 GFLOP/s
 * with OpenBLAS's AVX2 kernels and 470 with its AVX-512 ones, against 113-175 for tuned CLBlast, because PoCL
 * emits 256-bit code only. The operands are mapped as gemm_mapped.h says. */
#include "runtime/gemm_mapped.h"

#include <cblas.h>

static vte_status host_run(vte_runtime *rt, void *state, const vte_gemm_call *call, vte_error *err) {
    (void)state;
    vte_gemm_mapped m;
    vte_status status = vte_gemm_map(rt, call, &m, err);
    if (status != VTE_OK) return status;
    const CBLAS_TRANSPOSE ta = call->op_a == VTE_GEMM_T ? CblasTrans : CblasNoTrans;
    const CBLAS_TRANSPOSE tb = call->op_b == VTE_GEMM_T ? CblasTrans : CblasNoTrans;
    for (size_t i = 0; i < call->batch; i++)
        cblas_sgemm(CblasRowMajor, ta, tb, (blasint)call->m, (blasint)call->n, (blasint)call->k, call->alpha,
                    m.a + call->a.offset + i * call->a.stride, (blasint)call->a.ld,
                    m.b + call->b.offset + i * call->b.stride, (blasint)call->b.ld, call->beta,
                    m.c + call->c.offset + i * call->c.stride, (blasint)call->c.ld);
    return vte_gemm_unmap(rt, &m, VTE_OK, err);
}

const vte_gemm_backend_ops vte_gemm_backend_host = {
    .name = "host",
    .description = "host BLAS (OpenBLAS)",
    .wrong_result_advice = "the host BLAS computes wrong results here: set VITEXPLAIN_GEMM=onednn or clblast",
    .usable = vte_gemm_host_memory,
    .init = NULL,    /* OpenBLAS needs no setup */
    .reserve = NULL, /* nor device scratch */
    .run = host_run,
    .release = NULL,
};
