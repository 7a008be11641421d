/* The oneDNN GEMM backend, for PoCL's CPU device (like the host BLAS, it maps the operands: gemm_mapped.h).
 * oneDNN's JIT picks its kernels from the CPU's features, AVX-512 included, whatever the vendor, where Debian's
 * OpenBLAS picks them from a table of CPU models (it took a Zen 5 for Haswell: AVX2). Measured on the ViT-B shapes
 * (docs/performance.md, tools/bench-gemm.sh): the fastest library on the linear layers. A candidate of gemm.c's
 * measured choice; VITEXPLAIN_GEMM=onednn forces it.
 *
 * Every GEMM is a matmul primitive over a 4-D [groups, batch, rows, cols] view of the operands as they lie
 * (strided memory descriptors, alpha as the output scale), made on the first call of its shape and kept. For the
 * attention products (every head of every image of a layer) that is one call that oneDNN splits over its threads
 * instead of batch x groups small sgemm calls (20-25 % faster, docs/performance.md); for a single GEMM with a
 * transposed weight, as the backward pass's, dnnl_sgemm took 13.3 ms on ViT-B's 197x768x3072 against 7.4 for the
 * primitive. Calls that accumulate (beta != 0) take dnnl_sgemm. */
#include <dnnl.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/gemm_mapped.h"

/* A primitive and the memory objects its calls point at the mapped operands. */
typedef struct onednn_matmul {
    vte_gemm_op op_a, op_b;
    size_t m, n, k, batch, groups;
    size_t ld[3], stride[3], group_stride[3]; /* A, B, C */
    float alpha;
    dnnl_primitive_t primitive;
    dnnl_memory_t memory[3];
} onednn_matmul;

typedef struct onednn_state {
    dnnl_engine_t engine;
    dnnl_stream_t stream;
    onednn_matmul *matmuls;
    size_t count, capacity;
} onednn_state;

static vte_status onednn_fail(vte_error *err, dnnl_status_t status, const char *what, const vte_gemm_call *call,
                              int line) {
    return vte_error_set(err, VTE_ERR_UNSUPPORTED, "%s failed with status %d for a %zux%zux%zu GEMM (x%zu x%zu) (%s:%d)",
                         what, (int)status, call->m, call->n, call->k, call->batch, call->groups, __FILE__, line);
}

static vte_status onednn_init(vte_runtime *rt, void **state, vte_error *err) {
    (void)rt;
    onednn_state *s = calloc(1, sizeof *s);
    if (!s) return vte_error_set(err, VTE_ERR_OUT_OF_MEMORY, "out of memory choosing the oneDNN GEMM backend");
    dnnl_status_t status = dnnl_engine_create(&s->engine, dnnl_cpu, 0);
    if (status == dnnl_success) status = dnnl_stream_create(&s->stream, s->engine, dnnl_stream_default_flags);
    if (status != dnnl_success) {
        if (s->engine) dnnl_engine_destroy(s->engine);
        free(s);
        return vte_error_set(err, VTE_ERR_UNSUPPORTED, "oneDNN's CPU engine could not be created (status %d)",
                             (int)status);
    }
    *state = s;
    return VTE_OK;
}

static void onednn_release(vte_runtime *rt, void *state) {
    (void)rt;
    onednn_state *s = state;
    for (size_t i = 0; i < s->count; i++) {
        dnnl_primitive_destroy(s->matmuls[i].primitive);
        for (int j = 0; j < 3; j++) dnnl_memory_destroy(s->matmuls[i].memory[j]);
    }
    free(s->matmuls);
    dnnl_stream_destroy(s->stream);
    dnnl_engine_destroy(s->engine);
    free(s);
}

static const vte_gemm_operand *operand(const vte_gemm_call *call, int j) {
    return j == 0 ? &call->a : j == 1 ? &call->b : &call->c;
}

static int same_matmul(const onednn_matmul *x, const vte_gemm_call *call) {
    if (x->op_a != call->op_a || x->op_b != call->op_b || x->m != call->m || x->n != call->n || x->k != call->k ||
        x->batch != call->batch || x->groups != call->groups || x->alpha != call->alpha)
        return 0;
    for (int j = 0; j < 3; j++)
        if (x->ld[j] != operand(call, j)->ld || x->stride[j] != operand(call, j)->stride ||
            x->group_stride[j] != operand(call, j)->group_stride)
            return 0;
    return 1;
}

/* [groups, batch, rows, cols] of a row-major operand stored as op says (transposed: the view of a [cols, rows]
 * matrix). Strides of the dimensions of size 1 do not matter; they are given as the next dimension's extent. */
static dnnl_status_t view_4d(dnnl_memory_desc_t *md, const vte_gemm_operand *o, vte_gemm_op op, size_t batch,
                             size_t groups, size_t rows, size_t cols) {
    const dnnl_dim_t row_stride = op == VTE_GEMM_N ? (dnnl_dim_t)o->ld : 1;
    const dnnl_dim_t col_stride = op == VTE_GEMM_N ? 1 : (dnnl_dim_t)o->ld;
    const dnnl_dim_t extent = (dnnl_dim_t)(op == VTE_GEMM_N ? rows * o->ld : cols * o->ld);
    const dnnl_dim_t stride = batch > 1 ? (dnnl_dim_t)o->stride : extent;
    const dnnl_dim_t group_stride = groups > 1 ? (dnnl_dim_t)o->group_stride : stride * (dnnl_dim_t)batch;
    dnnl_dims_t dims = {(dnnl_dim_t)groups, (dnnl_dim_t)batch, (dnnl_dim_t)rows, (dnnl_dim_t)cols};
    dnnl_dims_t strides = {group_stride, stride, row_stride, col_stride};
    return dnnl_memory_desc_init_by_strides(md, 4, dims, dnnl_f32, strides);
}

/* The primitive for call's shape: found, or made and kept. NULL with err set on failure. */
static onednn_matmul *matmul_for(onednn_state *s, const vte_gemm_call *call, vte_error *err) {
    for (size_t i = 0; i < s->count; i++)
        if (same_matmul(&s->matmuls[i], call)) return &s->matmuls[i];
    if (s->count == s->capacity) {
        size_t capacity = s->capacity ? 2 * s->capacity : 8;
        onednn_matmul *grown = realloc(s->matmuls, capacity * sizeof *grown);
        if (!grown) {
            vte_error_set(err, VTE_ERR_OUT_OF_MEMORY, "out of memory for a oneDNN matmul");
            return NULL;
        }
        s->matmuls = grown;
        s->capacity = capacity;
    }
    onednn_matmul x = {.op_a = call->op_a, .op_b = call->op_b, .m = call->m, .n = call->n, .k = call->k,
                       .batch = call->batch, .groups = call->groups, .alpha = call->alpha};
    for (int j = 0; j < 3; j++) {
        x.ld[j] = operand(call, j)->ld;
        x.stride[j] = operand(call, j)->stride;
        x.group_stride[j] = operand(call, j)->group_stride;
    }
    dnnl_memory_desc_t md[3];
    dnnl_primitive_attr_t attr = NULL;
    dnnl_primitive_desc_t pd = NULL;
    dnnl_matmul_desc_t desc;
    const char *step = "dnnl_memory_desc_init_by_strides";
    dnnl_status_t status = view_4d(&md[0], &call->a, call->op_a, call->batch, call->groups, call->m, call->k);
    if (status == dnnl_success)
        status = view_4d(&md[1], &call->b, call->op_b, call->batch, call->groups, call->k, call->n);
    if (status == dnnl_success)
        status = view_4d(&md[2], &call->c, VTE_GEMM_N, call->batch, call->groups, call->m, call->n);
    if (status == dnnl_success && (step = "dnnl_matmul_desc_init"))
        status = dnnl_matmul_desc_init(&desc, &md[0], &md[1], NULL, &md[2]);
    if (status == dnnl_success && (step = "dnnl_primitive_attr_create")) status = dnnl_primitive_attr_create(&attr);
    if (status == dnnl_success && call->alpha != 1.0f && (step = "dnnl_primitive_attr_set_output_scales"))
        status = dnnl_primitive_attr_set_output_scales(attr, 1, 0, &call->alpha);
    if (status == dnnl_success && (step = "dnnl_primitive_desc_create"))
        status = dnnl_primitive_desc_create(&pd, &desc, attr, s->engine, NULL);
    if (status == dnnl_success && (step = "dnnl_primitive_create")) status = dnnl_primitive_create(&x.primitive, pd);
    int made = 0;
    for (; made < 3 && status == dnnl_success; made++) /* handles are set per call */
        if ((status = dnnl_memory_create(&x.memory[made], &md[made], s->engine, DNNL_MEMORY_NONE)) != dnnl_success)
            step = "dnnl_memory_create";
    if (attr) dnnl_primitive_attr_destroy(attr);
    if (pd) dnnl_primitive_desc_destroy(pd);
    if (status != dnnl_success) {
        for (int j = 0; j < made - 1; j++) dnnl_memory_destroy(x.memory[j]);
        if (x.primitive) dnnl_primitive_destroy(x.primitive);
        onednn_fail(err, status, step, call, __LINE__);
        return NULL;
    }
    s->matmuls[s->count] = x;
    return &s->matmuls[s->count++];
}

static vte_status run_matmul(onednn_state *s, const vte_gemm_call *call, const vte_gemm_mapped *m, vte_error *err) {
    onednn_matmul *x = matmul_for(s, call, err);
    if (!x) return err ? err->code : VTE_ERR_UNSUPPORTED;
    float *pointers[3] = {m->a + call->a.offset, m->b + call->b.offset, m->c + call->c.offset};
    dnnl_status_t status = dnnl_success;
    for (int j = 0; j < 3 && status == dnnl_success; j++)
        status = dnnl_memory_set_data_handle(x->memory[j], pointers[j]);
    if (status != dnnl_success) return onednn_fail(err, status, "dnnl_memory_set_data_handle", call, __LINE__);
    dnnl_exec_arg_t args[3] = {{DNNL_ARG_SRC, x->memory[0]}, {DNNL_ARG_WEIGHTS, x->memory[1]},
                               {DNNL_ARG_DST, x->memory[2]}};
    if ((status = dnnl_primitive_execute(x->primitive, s->stream, 3, args)) != dnnl_success)
        return onednn_fail(err, status, "dnnl_primitive_execute", call, __LINE__);
    if ((status = dnnl_stream_wait(s->stream)) != dnnl_success)
        return onednn_fail(err, status, "dnnl_stream_wait", call, __LINE__);
    return VTE_OK;
}

static vte_status run_sgemm(const vte_gemm_call *call, const vte_gemm_mapped *m, vte_error *err) {
    const char ta = call->op_a == VTE_GEMM_T ? 'T' : 'N', tb = call->op_b == VTE_GEMM_T ? 'T' : 'N';
    for (size_t g = 0; g < call->groups; g++)
        for (size_t i = 0; i < call->batch; i++) {
            /* dnnl_sgemm is row-major, like cblas_sgemm with CblasRowMajor. */
            const dnnl_status_t s = dnnl_sgemm(
                ta, tb, (dnnl_dim_t)call->m, (dnnl_dim_t)call->n, (dnnl_dim_t)call->k, call->alpha,
                m->a + call->a.offset + g * call->a.group_stride + i * call->a.stride, (dnnl_dim_t)call->a.ld,
                m->b + call->b.offset + g * call->b.group_stride + i * call->b.stride, (dnnl_dim_t)call->b.ld,
                call->beta, m->c + call->c.offset + g * call->c.group_stride + i * call->c.stride,
                (dnnl_dim_t)call->c.ld);
            if (s != dnnl_success) return onednn_fail(err, s, "dnnl_sgemm", call, __LINE__);
        }
    return VTE_OK;
}

static vte_status onednn_run(vte_runtime *rt, void *state, const vte_gemm_call *call, vte_error *err) {
    vte_gemm_mapped m;
    vte_status status = vte_gemm_map(rt, call, &m, err);
    if (status != VTE_OK) return status;
    if (call->beta == 0.0f)
        status = run_matmul(state, call, &m, err);
    else
        status = run_sgemm(call, &m, err);
    return vte_gemm_unmap(rt, &m, status, err);
}

const vte_gemm_backend_ops vte_gemm_backend_onednn = {
    .name = "onednn",
    .description = "oneDNN",
    .wrong_result_advice = "oneDNN computes wrong results here: set VITEXPLAIN_GEMM=host (OpenBLAS)",
    .groups = 1,
    .usable = vte_gemm_host_memory,
    .init = onednn_init,
    .reserve = NULL,
    .run = onednn_run,
    .release = onednn_release,
};
