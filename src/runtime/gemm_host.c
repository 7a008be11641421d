/* The host GEMM backend, for PoCL's CPU device: PoCL keeps buffers in host memory, so a GEMM can map its
 * operands (no copy) and run in the host's BLAS (OpenBLAS), which reaches 2-3x the GFLOP/s of CLBlast's kernels
 * compiled by PoCL. Measured with PoCL 3.1 on a 2-core AMD EPYC (Zen 5), ViT-B linear layers: 226-258 GFLOP/s
 * with OpenBLAS's AVX2 kernels and 470 with its AVX-512 ones, against 113-175 for tuned CLBlast, because PoCL
 * emits 256-bit code only. Mapping blocks until the queue has run every earlier command, and the in-order
 * queue orders the unmaps before later kernels. */
#include "runtime/gemm_backend.h"

#include <cblas.h>
#include <string.h>

/* Only PoCL's CPU device is known to keep buffers in host memory (mapping elsewhere may copy, or fail). */
static int host_usable(const vte_runtime *rt) {
    return rt->info.type == VTE_DEVICE_CPU && strstr(rt->info.platform_name, "Portable Computing Language") != NULL;
}

#define MAX_OPERANDS 3

typedef struct mapping {
    cl_mem buffers[MAX_OPERANDS];
    float *pointers[MAX_OPERANDS];
    int count;
} mapping;

/* Maps `buffer` (once, however many operands it backs) and returns its host address. */
static float *map_operand(vte_runtime *rt, mapping *maps, cl_mem buffer, vte_error *err) {
    for (int i = 0; i < maps->count; i++)
        if (maps->buffers[i] == buffer) return maps->pointers[i];
    size_t size = 0;
    cl_int status = clGetMemObjectInfo(buffer, CL_MEM_SIZE, sizeof size, &size, NULL);
    if (status != CL_SUCCESS) {
        vte_cl_fail(err, status, "clGetMemObjectInfo", __FILE__, __LINE__);
        return NULL;
    }
    void *pointer = clEnqueueMapBuffer(rt->queue, buffer, CL_TRUE, CL_MAP_READ | CL_MAP_WRITE, 0, size, 0, NULL,
                                       NULL, &status);
    if (status != CL_SUCCESS) {
        vte_cl_fail(err, status, "clEnqueueMapBuffer", __FILE__, __LINE__);
        return NULL;
    }
    maps->buffers[maps->count] = buffer;
    maps->pointers[maps->count++] = pointer;
    return pointer;
}

static vte_status unmap_all(vte_runtime *rt, mapping *maps, vte_error *err) {
    vte_status result = VTE_OK;
    for (int i = 0; i < maps->count; i++) {
        cl_int status = clEnqueueUnmapMemObject(rt->queue, maps->buffers[i], maps->pointers[i], 0, NULL, NULL);
        if (status != CL_SUCCESS && result == VTE_OK)
            result = vte_cl_fail(err, status, "clEnqueueUnmapMemObject", __FILE__, __LINE__);
    }
    maps->count = 0;
    return result;
}

static vte_status host_run(vte_runtime *rt, void *state, const vte_gemm_call *call, vte_error *err) {
    (void)state;
    mapping maps = {0};
    float *pa = map_operand(rt, &maps, call->a.buffer, err);
    float *pb = pa ? map_operand(rt, &maps, call->b.buffer, err) : NULL;
    float *pc = pb ? map_operand(rt, &maps, call->c.buffer, err) : NULL;
    if (pc) {
        const CBLAS_TRANSPOSE ta = call->op_a == VTE_GEMM_T ? CblasTrans : CblasNoTrans;
        const CBLAS_TRANSPOSE tb = call->op_b == VTE_GEMM_T ? CblasTrans : CblasNoTrans;
        for (size_t i = 0; i < call->batch; i++)
            cblas_sgemm(CblasRowMajor, ta, tb, (blasint)call->m, (blasint)call->n, (blasint)call->k, call->alpha,
                        pa + call->a.offset + i * call->a.stride, (blasint)call->a.ld,
                        pb + call->b.offset + i * call->b.stride, (blasint)call->b.ld, call->beta,
                        pc + call->c.offset + i * call->c.stride, (blasint)call->c.ld);
    }
    vte_error unmap_err = {0};
    vte_status unmapped = unmap_all(rt, &maps, &unmap_err);
    if (!pc) return err ? err->code : VTE_ERR_OPENCL;
    if (unmapped != VTE_OK && err) *err = unmap_err;
    return unmapped;
}

const vte_gemm_backend_ops vte_gemm_backend_host = {
    .name = "host",
    .description = "host BLAS (OpenBLAS)",
    .wrong_result_advice = "the host BLAS computes wrong results here: set VITEXPLAIN_GEMM=clblast",
    .usable = host_usable,
    .init = NULL,    /* OpenBLAS needs no setup */
    .reserve = NULL, /* nor device scratch */
    .run = host_run,
    .release = NULL,
};
