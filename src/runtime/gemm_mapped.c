/* Mapping a GEMM's operands into host memory (gemm_mapped.h). */
#include "runtime/gemm_mapped.h"

#include <string.h>

int vte_gemm_host_memory(const vte_runtime *rt) {
    return rt->info.type == VTE_DEVICE_CPU && strstr(rt->info.platform_name, "Portable Computing Language") != NULL;
}

/* Maps `buffer` (once, however many operands it backs) and returns its host address. */
static float *map_operand(vte_runtime *rt, vte_gemm_mapped *m, cl_mem buffer, vte_error *err) {
    for (int i = 0; i < m->count; i++)
        if (m->buffers[i] == buffer) return m->pointers[i];
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
    m->buffers[m->count] = buffer;
    m->pointers[m->count++] = pointer;
    return pointer;
}

vte_status vte_gemm_unmap(vte_runtime *rt, vte_gemm_mapped *m, vte_status status, vte_error *err) {
    vte_error unmap_err = {0};
    vte_status unmapped = VTE_OK;
    for (int i = 0; i < m->count; i++) {
        cl_int cl_status = clEnqueueUnmapMemObject(rt->queue, m->buffers[i], m->pointers[i], 0, NULL, NULL);
        if (cl_status != CL_SUCCESS && unmapped == VTE_OK)
            unmapped = vte_cl_fail(&unmap_err, cl_status, "clEnqueueUnmapMemObject", __FILE__, __LINE__);
    }
    m->count = 0;
    if (status != VTE_OK) return status;
    if (unmapped != VTE_OK && err) *err = unmap_err;
    return unmapped;
}

vte_status vte_gemm_map(vte_runtime *rt, const vte_gemm_call *call, vte_gemm_mapped *m, vte_error *err) {
    memset(m, 0, sizeof *m);
    m->a = map_operand(rt, m, call->a.buffer, err);
    m->b = m->a ? map_operand(rt, m, call->b.buffer, err) : NULL;
    m->c = m->b ? map_operand(rt, m, call->c.buffer, err) : NULL;
    if (m->c) return VTE_OK;
    const vte_status status = err ? err->code : VTE_ERR_OPENCL;
    return vte_gemm_unmap(rt, m, status == VTE_OK ? VTE_ERR_OPENCL : status, err);
}
