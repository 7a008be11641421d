/* The GEMM path for CPU devices: PoCL keeps buffers in host memory, so a GEMM can map its operands (no copy)
 * and run in the host's BLAS (OpenBLAS), which reaches 2-3x the GFLOP/s of CLBlast's kernels compiled by PoCL
 * (research/gemm-bench.md: 226-258 GFLOP/s with OpenBLAS's AVX2 kernels and 470 with its AVX-512 ones, against
 * 113-175 for tuned CLBlast, because PoCL emits 256-bit code only). Mapping blocks until the queue has run
 * every earlier command, and the in-order queue orders the unmaps before later kernels. */
#include "runtime/gemm.h"

#include <cblas.h>
#include <string.h>

int vte_gemm_host_usable(const vte_runtime *rt) {
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
        if (status != CL_SUCCESS && result == VTE_OK) result = vte_cl_fail(err, status, "clEnqueueUnmapMemObject", __FILE__, __LINE__);
    }
    maps->count = 0;
    return result;
}

vte_status vte_gemm_host(vte_runtime *rt, vte_gemm_op op_a, vte_gemm_op op_b, size_t m, size_t n, size_t k,
                         float alpha, cl_mem a, size_t a_offset, size_t lda, size_t a_stride, cl_mem b,
                         size_t b_offset, size_t ldb, size_t b_stride, float beta, cl_mem c, size_t c_offset,
                         size_t ldc, size_t c_stride, size_t batch, vte_error *err) {
    mapping maps = {0};
    float *pa = map_operand(rt, &maps, a, err);
    float *pb = pa ? map_operand(rt, &maps, b, err) : NULL;
    float *pc = pb ? map_operand(rt, &maps, c, err) : NULL;
    if (pc) {
        const CBLAS_TRANSPOSE ta = op_a == VTE_GEMM_T ? CblasTrans : CblasNoTrans;
        const CBLAS_TRANSPOSE tb = op_b == VTE_GEMM_T ? CblasTrans : CblasNoTrans;
        for (size_t i = 0; i < batch; i++)
            cblas_sgemm(CblasRowMajor, ta, tb, (blasint)m, (blasint)n, (blasint)k, alpha,
                        pa + a_offset + i * a_stride, (blasint)lda, pb + b_offset + i * b_stride, (blasint)ldb, beta,
                        pc + c_offset + i * c_stride, (blasint)ldc);
    }
    vte_error unmap_err = {0};
    vte_status unmapped = unmap_all(rt, &maps, &unmap_err);
    if (!pc) return err ? err->code : VTE_ERR_OPENCL;
    if (unmapped != VTE_OK && err) *err = unmap_err;
    return unmapped;
}
