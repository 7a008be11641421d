/* Runtime life cycle, device buffers, kernel launches and OpenCL error reporting. */
#include "runtime/runtime.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/gemm.h"
#include "runtime/internal.h"
#include "util/clock.h"

const char *vte_cl_error_name(cl_int status) {
    switch (status) {
#define NAME(x) \
    case x: return #x;
        NAME(CL_SUCCESS)
        NAME(CL_DEVICE_NOT_FOUND)
        NAME(CL_DEVICE_NOT_AVAILABLE)
        NAME(CL_COMPILER_NOT_AVAILABLE)
        NAME(CL_MEM_OBJECT_ALLOCATION_FAILURE)
        NAME(CL_OUT_OF_RESOURCES)
        NAME(CL_OUT_OF_HOST_MEMORY)
        NAME(CL_PROFILING_INFO_NOT_AVAILABLE)
        NAME(CL_MEM_COPY_OVERLAP)
        NAME(CL_IMAGE_FORMAT_MISMATCH)
        NAME(CL_IMAGE_FORMAT_NOT_SUPPORTED)
        NAME(CL_BUILD_PROGRAM_FAILURE)
        NAME(CL_MAP_FAILURE)
        NAME(CL_MISALIGNED_SUB_BUFFER_OFFSET)
        NAME(CL_EXEC_STATUS_ERROR_FOR_EVENTS_IN_WAIT_LIST)
        NAME(CL_COMPILE_PROGRAM_FAILURE)
        NAME(CL_LINKER_NOT_AVAILABLE)
        NAME(CL_LINK_PROGRAM_FAILURE)
        NAME(CL_DEVICE_PARTITION_FAILED)
        NAME(CL_KERNEL_ARG_INFO_NOT_AVAILABLE)
        NAME(CL_INVALID_VALUE)
        NAME(CL_INVALID_DEVICE_TYPE)
        NAME(CL_INVALID_PLATFORM)
        NAME(CL_INVALID_DEVICE)
        NAME(CL_INVALID_CONTEXT)
        NAME(CL_INVALID_QUEUE_PROPERTIES)
        NAME(CL_INVALID_COMMAND_QUEUE)
        NAME(CL_INVALID_HOST_PTR)
        NAME(CL_INVALID_MEM_OBJECT)
        NAME(CL_INVALID_IMAGE_FORMAT_DESCRIPTOR)
        NAME(CL_INVALID_IMAGE_SIZE)
        NAME(CL_INVALID_SAMPLER)
        NAME(CL_INVALID_BINARY)
        NAME(CL_INVALID_BUILD_OPTIONS)
        NAME(CL_INVALID_PROGRAM)
        NAME(CL_INVALID_PROGRAM_EXECUTABLE)
        NAME(CL_INVALID_KERNEL_NAME)
        NAME(CL_INVALID_KERNEL_DEFINITION)
        NAME(CL_INVALID_KERNEL)
        NAME(CL_INVALID_ARG_INDEX)
        NAME(CL_INVALID_ARG_VALUE)
        NAME(CL_INVALID_ARG_SIZE)
        NAME(CL_INVALID_KERNEL_ARGS)
        NAME(CL_INVALID_WORK_DIMENSION)
        NAME(CL_INVALID_WORK_GROUP_SIZE)
        NAME(CL_INVALID_WORK_ITEM_SIZE)
        NAME(CL_INVALID_GLOBAL_OFFSET)
        NAME(CL_INVALID_EVENT_WAIT_LIST)
        NAME(CL_INVALID_EVENT)
        NAME(CL_INVALID_OPERATION)
        NAME(CL_INVALID_GL_OBJECT)
        NAME(CL_INVALID_BUFFER_SIZE)
        NAME(CL_INVALID_MIP_LEVEL)
        NAME(CL_INVALID_GLOBAL_WORK_SIZE)
        NAME(CL_INVALID_PROPERTY)
        NAME(CL_INVALID_IMAGE_DESCRIPTOR)
        NAME(CL_INVALID_COMPILER_OPTIONS)
        NAME(CL_INVALID_LINKER_OPTIONS)
        NAME(CL_INVALID_DEVICE_PARTITION_COUNT)
#undef NAME
    default: return "CL_UNKNOWN_ERROR";
    }
}

vte_status vte_cl_fail(vte_error *err, cl_int status, const char *what, const char *file, int line) {
    /* Keep only the function name of the call expression: "clFinish(rt->queue)" -> "clFinish". */
    char call[128];
    size_t n = strcspn(what, "(");
    if (n >= sizeof call) n = sizeof call - 1;
    memcpy(call, what, n);
    call[n] = '\0';
    const char *base = strrchr(file, '/');
    return vte_error_set(err, VTE_ERR_OPENCL, "%s failed: %s (%d) at %s:%d", call, vte_cl_error_name(status),
                         (int)status, base ? base + 1 : file, line);
}

/* $VITEXPLAIN_ROW_KERNELS: "item" or "group" forces the per-row kernels' form; unset or empty, the device's
 * type decides. Any other value is an error, so a benchmark never measures another form than it asked for. */
static vte_status choose_row_kernels(vte_runtime *rt, vte_error *err) {
    const char *request = getenv("VITEXPLAIN_ROW_KERNELS");
    if (!request || !*request) rt->rows_per_item = rt->info.type == VTE_DEVICE_CPU;
    else if (strcmp(request, "item") == 0) rt->rows_per_item = 1;
    else if (strcmp(request, "group") == 0) rt->rows_per_item = 0;
    else
        return vte_error_set(err, VTE_ERR_INVALID_ARGUMENT,
                             "VITEXPLAIN_ROW_KERNELS=\"%s\": expected \"item\" (one work-item per row) or \"group\" "
                             "(one work-group per row), or unset for the device's default",
                             request);
    return VTE_OK;
}

vte_runtime *vte_runtime_init(const vte_runtime_params *params, vte_error *err) {
    vte_runtime_params defaults = {0};
    if (!params) params = &defaults;
    const char *request = params->device ? params->device : getenv("VITEXPLAIN_DEVICE");
    const char *kernel_dir = params->kernel_dir ? params->kernel_dir : getenv("VITEXPLAIN_KERNEL_DIR");

    vte_device_info *devices = NULL;
    size_t count = 0;
    if (vte_devices_list(&devices, &count, err) != VTE_OK) return NULL;
    int chosen = vte_devices_choose(devices, count, request, err);
    if (chosen < 0) {
        free(devices);
        return NULL;
    }
    vte_runtime *rt = calloc(1, sizeof *rt);
    if (!rt) {
        free(devices);
        vte_error_set(err, VTE_ERR_OUT_OF_MEMORY, "out of memory creating the runtime");
        return NULL;
    }
    rt->info = devices[chosen];
    free(devices);
    const char *profile = getenv("VITEXPLAIN_PROFILE");
    rt->profiling = profile && *profile && strcmp(profile, "0") != 0;
    if (choose_row_kernels(rt, err) != VTE_OK) goto fail;
    if (kernel_dir && *kernel_dir) snprintf(rt->kernel_dir, sizeof rt->kernel_dir, "%s", kernel_dir);
    if (vte_cache_dir_resolve(params->cache_dir, rt->cache_dir, sizeof rt->cache_dir, err) != VTE_OK) goto fail;
    if (vte_device_handles(chosen, &rt->platform, &rt->device, err) != VTE_OK) goto fail;

    cl_int status = CL_SUCCESS;
    cl_context_properties props[] = {CL_CONTEXT_PLATFORM, (cl_context_properties)rt->platform, 0};
    rt->context = clCreateContext(props, 1, &rt->device, NULL, NULL, &status);
    if (status != CL_SUCCESS) {
        vte_cl_fail(err, status, "clCreateContext", __FILE__, __LINE__);
        goto fail;
    }
    /* In-order queue (no CL_QUEUE_OUT_OF_ORDER_EXEC_MODE_ENABLE): CLBlast has no wait lists. */
    rt->queue = clCreateCommandQueue(rt->context, rt->device, 0, &status);
    if (status != CL_SUCCESS) {
        vte_cl_fail(err, status, "clCreateCommandQueue", __FILE__, __LINE__);
        goto fail;
    }
    return rt;
fail:
    vte_runtime_free(rt);
    return NULL;
}

void vte_runtime_free(vte_runtime *rt) {
    if (!rt) return;
    if (rt->queue) clFinish(rt->queue);
    vte_gemm_release(rt);
    vte_programs_release(rt);
    free(rt->profile);
    if (rt->queue) clReleaseCommandQueue(rt->queue);
    if (rt->context) clReleaseContext(rt->context);
    free(rt);
}

const vte_device_info *vte_runtime_device(const vte_runtime *rt) { return rt ? &rt->info : NULL; }

cl_mem vte_buffer_create(vte_runtime *rt, size_t bytes, const char *what, vte_error *err) {
    cl_int status = CL_SUCCESS;
    if (bytes == 0) bytes = sizeof(float); /* zero-sized buffers are invalid in OpenCL */
    if (bytes > rt->info.max_alloc_bytes) {
        vte_error_set(err, VTE_ERR_OPENCL,
                      "%s needs %.1f MiB in one buffer, more than the device allows (%.1f MiB; "
                      "try a smaller --batch)",
                      what, bytes / 1048576.0, rt->info.max_alloc_bytes / 1048576.0);
        return NULL;
    }
    cl_mem buffer = clCreateBuffer(rt->context, CL_MEM_READ_WRITE, bytes, NULL, &status);
    if (status != CL_SUCCESS) {
        vte_cl_fail(err, status, "clCreateBuffer", __FILE__, __LINE__);
        vte_error_prefix(err, "allocating %s (%.1f MiB)", what, bytes / 1048576.0);
        return NULL;
    }
    return buffer;
}

void vte_buffer_release(cl_mem *buffer) {
    if (buffer && *buffer) {
        clReleaseMemObject(*buffer);
        *buffer = NULL;
    }
}

vte_status vte_buffer_write(vte_runtime *rt, cl_mem buffer, size_t offset_bytes, size_t bytes, const void *src,
                            vte_error *err) {
    VTE_CL_CHECK(err, clEnqueueWriteBuffer(rt->queue, buffer, CL_TRUE, offset_bytes, bytes, src, 0, NULL, NULL));
    return VTE_OK;
}

vte_status vte_buffer_read(vte_runtime *rt, cl_mem buffer, size_t offset_bytes, size_t bytes, void *dst,
                           vte_error *err) {
    VTE_CL_CHECK(err, clEnqueueReadBuffer(rt->queue, buffer, CL_TRUE, offset_bytes, bytes, dst, 0, NULL, NULL));
    return VTE_OK;
}

vte_status vte_buffer_fill_zero(vte_runtime *rt, cl_mem buffer, size_t bytes, vte_error *err) {
    cl_float zero = 0.0f;
    VTE_CL_CHECK(err, clEnqueueFillBuffer(rt->queue, buffer, &zero, sizeof zero, 0, bytes, 0, NULL, NULL));
    return VTE_OK;
}

vte_status vte_runtime_finish(vte_runtime *rt, vte_error *err) {
    VTE_CL_CHECK(err, clFinish(rt->queue));
    return VTE_OK;
}

static void kernel_name(cl_kernel kernel, char *name, size_t size) {
    if (clGetKernelInfo(kernel, CL_KERNEL_FUNCTION_NAME, size, name, NULL) != CL_SUCCESS)
        snprintf(name, size, "?");
    name[size - 1] = '\0';
}

#define PROFILE_CAPACITY 128

double vte_profile_begin(vte_runtime *rt) {
    if (!rt->profiling) return 0.0;
    clFinish(rt->queue);
    return vte_now_ms();
}

void vte_profile_end(vte_runtime *rt, const char *name, double start) {
    if (!rt->profiling) return;
    clFinish(rt->queue);
    double elapsed = vte_now_ms() - start;
    if (!rt->profile && !(rt->profile = calloc(PROFILE_CAPACITY, sizeof *rt->profile))) return;
    size_t i = 0;
    while (i < rt->profile_count && strcmp(rt->profile[i].name, name) != 0) i++;
    if (i == rt->profile_count) {
        if (i == PROFILE_CAPACITY) return;
        snprintf(rt->profile[i].name, sizeof rt->profile[i].name, "%s", name);
        rt->profile_count++;
    }
    rt->profile[i].ms += elapsed;
    rt->profile[i].calls++;
}

vte_status vte_kernel_run(vte_runtime *rt, cl_kernel kernel, cl_uint dims, const size_t *global,
                          const size_t *local, size_t arg_count, const vte_arg *args, vte_error *err) {
    char name[128];
    double start = vte_profile_begin(rt);
    for (size_t i = 0; i < arg_count; i++) {
        cl_int status = clSetKernelArg(kernel, (cl_uint)i, args[i].size, args[i].value);
        if (status != CL_SUCCESS) {
            kernel_name(kernel, name, sizeof name);
            vte_cl_fail(err, status, "clSetKernelArg", __FILE__, __LINE__);
            return vte_error_prefix(err, "kernel %s, argument %zu", name, i);
        }
    }
    cl_int status = clEnqueueNDRangeKernel(rt->queue, kernel, dims, NULL, global, local, 0, NULL, NULL);
    if (status != CL_SUCCESS) {
        kernel_name(kernel, name, sizeof name);
        vte_cl_fail(err, status, "clEnqueueNDRangeKernel", __FILE__, __LINE__);
        return vte_error_prefix(err, "kernel %s (global %zu, local %zu)", name, global[0], local ? local[0] : 0);
    }
    if (rt->profiling) {
        kernel_name(kernel, name, sizeof name);
        vte_profile_end(rt, name, start);
    }
    return VTE_OK;
}

int vte_runtime_rows_per_item(const vte_runtime *rt) { return rt->rows_per_item; }

size_t vte_runtime_reduction_group(const vte_runtime *rt) { return rt->info.type == VTE_DEVICE_CPU ? 16 : 256; }

size_t vte_kernel_group_size(vte_runtime *rt, cl_kernel kernel, size_t wanted) {
    size_t kernel_max = 0;
    size_t limit = rt->info.max_work_group_size;
    if (clGetKernelWorkGroupInfo(kernel, rt->device, CL_KERNEL_WORK_GROUP_SIZE, sizeof kernel_max, &kernel_max,
                                 NULL) == CL_SUCCESS &&
        kernel_max > 0 && kernel_max < limit)
        limit = kernel_max;
    if (wanted < limit) limit = wanted;
    size_t size = 1;
    while (size * 2 <= limit) size *= 2;
    return size;
}

size_t vte_reduction_group_of(vte_runtime *rt, cl_kernel a, cl_kernel b) {
    const size_t preferred = vte_runtime_reduction_group(rt);
    const size_t group_a = vte_kernel_group_size(rt, a, preferred), group_b = vte_kernel_group_size(rt, b, preferred);
    return group_a < group_b ? group_a : group_b;
}
