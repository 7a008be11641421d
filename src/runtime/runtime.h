/* The OpenCL runtime inside the library: one device, one context, one in-order queue, programs built from
 * the embedded kernel sources (or $VITEXPLAIN_KERNEL_DIR) through an on-disk binary cache, and small
 * helpers that check and report every OpenCL status with its name and the place it happened. */
#ifndef VTE_RUNTIME_RUNTIME_H
#define VTE_RUNTIME_RUNTIME_H

#define CL_TARGET_OPENCL_VERSION 120
#include <CL/cl.h>

#include "vitexplain.h"
#include "util/error.h"

typedef struct vte_program_entry vte_program_entry;

struct vte_runtime {
    vte_device_info info;
    cl_platform_id platform;
    cl_device_id device;
    cl_context context;
    cl_command_queue queue; /* in-order: CLBlast calls and our kernels rely on its ordering */
    char cache_dir[4096];   /* "" when the on-disk cache is off */
    char kernel_dir[4096];  /* "" when the embedded sources are used */
    vte_program_entry *programs; /* programs built in this process, by (family, options) */
    size_t program_count, program_capacity;
    struct vte_gemm_state *gemm; /* owned by gemm.c */
    /* $VITEXPLAIN_PROFILE=1: every kernel and GEMM is followed by clFinish and timed (slows the passes) */
    int profiling;
    /* The shape of the per-row kernels (vte_runtime_rows_per_item) */
    int rows_per_item;
    struct vte_profile_entry *profile;
    size_t profile_count;
};

/* Per-operation device time collected while profiling. */
typedef struct vte_profile_entry {
    char name[96];
    double ms;
    long calls;
} vte_profile_entry;

/* Profiling hooks: begin returns a start time (after draining the queue), end adds the elapsed time to
 * `name`. Both do nothing unless rt->profiling. */
double vte_profile_begin(vte_runtime *rt);
void vte_profile_end(vte_runtime *rt, const char *name, double start);

/* "CL_OUT_OF_RESOURCES" for -5, and so on; "CL_UNKNOWN_ERROR" otherwise. */
const char *vte_cl_error_name(cl_int status);

/* Fills err with "<what> failed: <CL name> (<code>) at <file>:<line>" and returns VTE_ERR_OPENCL. */
vte_status vte_cl_fail(vte_error *err, cl_int status, const char *what, const char *file, int line);

/* Evaluates an OpenCL call that returns a status; on failure fills err and returns from the enclosing
 * function with VTE_ERR_OPENCL. */
#define VTE_CL_CHECK(err, call)                                                                            \
    do {                                                                                                   \
        cl_int vte_status_ = (call);                                                                       \
        if (vte_status_ != CL_SUCCESS) return vte_cl_fail((err), vte_status_, #call, __FILE__, __LINE__); \
    } while (0)

/* A kernel from program `family` (kernels/<family>.cl) built with `options` (e.g. "-DHEAD_DIM=64").
 * The caller owns the kernel and releases it with clReleaseKernel; the program stays cached in rt. */
cl_kernel vte_kernel_create(vte_runtime *rt, const char *family, const char *options, const char *kernel_name,
                            vte_error *err);

/* One kernel argument: a value (size and pointer) or, with value NULL, `size` bytes of __local memory. */
typedef struct vte_arg {
    size_t size;
    const void *value;
} vte_arg;
#define VTE_ARG(lvalue) ((vte_arg){sizeof(lvalue), &(lvalue)})
#define VTE_INT(expr) ((vte_arg){sizeof(cl_int), &(cl_int){(cl_int)(expr)}})
#define VTE_FLOAT(expr) ((vte_arg){sizeof(cl_float), &(cl_float){(cl_float)(expr)}})
#define VTE_LOCAL(bytes) ((vte_arg){(bytes), NULL})

/* Sets the arguments and enqueues the kernel. `local` may be NULL. The global size must already be a
 * multiple of local (use vte_round_up; kernels guard their index). */
vte_status vte_kernel_run(vte_runtime *rt, cl_kernel kernel, cl_uint dims, const size_t *global,
                          const size_t *local, size_t arg_count, const vte_arg *args, vte_error *err);
#define VTE_RUN(rt, kernel, dims, global, local, err, ...)                                               \
    vte_kernel_run((rt), (kernel), (dims), (global), (local), sizeof((vte_arg[]){__VA_ARGS__}) / sizeof(vte_arg), \
                   (vte_arg[]){__VA_ARGS__}, (err))

static inline size_t vte_round_up(size_t n, size_t multiple) { return (n + multiple - 1) / multiple * multiple; }

/* The work-group size to ask for in per-row reductions (LayerNorm, softmax, norms): 16 on CPUs, where PoCL
 * runs a group's work-items as loops between barriers and large groups cost 7x more (measured on softmax,
 * 2364 rows of 197: 2.6 ms with 16, 18 ms with 256), 256 elsewhere. */
size_t vte_runtime_reduction_group(const vte_runtime *rt);

/* Nonzero when the per-row reductions (LayerNorm and softmax, forward and backward) run their `_per_item` form,
 * one work-item per row vectorised along it, rather than one work-group per row: the default on CPU devices,
 * where PoCL runs a group's work-items as loops between barriers (5-8x slower on ViT-B's rows). Set at
 * vte_runtime_init; $VITEXPLAIN_ROW_KERNELS=item|group forces either form on any device (the tests run both). */
int vte_runtime_rows_per_item(const vte_runtime *rt);

/* Work-group size for a kernel that reduces within a group: the largest power of two <= `wanted` that the
 * device and this kernel allow (never below 1). */
size_t vte_kernel_group_size(vte_runtime *rt, cl_kernel kernel, size_t wanted);

/* One work-group size for the per-row reductions of two kernels that share it: the largest power of two up to
 * vte_runtime_reduction_group that both allow. */
size_t vte_reduction_group_of(vte_runtime *rt, cl_kernel a, cl_kernel b);

/* Device buffers: created once when a model or session is planned. */
cl_mem vte_buffer_create(vte_runtime *rt, size_t bytes, const char *what, vte_error *err);
void vte_buffer_release(cl_mem *buffer);
vte_status vte_buffer_write(vte_runtime *rt, cl_mem buffer, size_t offset_bytes, size_t bytes, const void *src,
                            vte_error *err);
vte_status vte_buffer_read(vte_runtime *rt, cl_mem buffer, size_t offset_bytes, size_t bytes, void *dst,
                           vte_error *err);
vte_status vte_buffer_fill_zero(vte_runtime *rt, cl_mem buffer, size_t bytes, vte_error *err);
vte_status vte_runtime_finish(vte_runtime *rt, vte_error *err);

/* Embedded kernel sources (generated at build time from kernels/\*.cl). */
typedef struct vte_embedded_source {
    const char *family; /* file name without .cl */
    const unsigned char *text;
    size_t length;
} vte_embedded_source;
extern const vte_embedded_source vte_embedded_sources[];
extern const size_t vte_embedded_source_count;

#endif
