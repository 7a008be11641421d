/* The CLBlast GEMM backend (the Debian 1.5.3 C API): runs on every OpenCL device, and is the path GPUs take.
 * Per-device tuning from TUNINGS (or $VITEXPLAIN_GEMM_TUNING) is applied when it is chosen; a scratch buffer
 * reserved per shape keeps CLBlast from allocating one on every call of its indirect path. */
#include "runtime/gemm_backend.h"

#include <clblast_c.h>
#include <stdlib.h>
#include <string.h>

typedef struct clblast_state {
    cl_mem temp; /* scratch for the indirect GEMM path, grown by clblast_reserve */
    size_t temp_bytes;
} clblast_state;

static const char *clblast_status_name(CLBlastStatusCode status) {
    switch (status) {
#define NAME(x) \
    case x: return #x;
        NAME(CLBlastTempBufferAllocFailure)
        NAME(CLBlastInvalidLocalMemUsage)
        NAME(CLBlastNotImplemented)
        NAME(CLBlastInvalidMatrixA)
        NAME(CLBlastInvalidMatrixB)
        NAME(CLBlastInvalidMatrixC)
        NAME(CLBlastInvalidDimension)
        NAME(CLBlastInvalidLeadDimA)
        NAME(CLBlastInvalidLeadDimB)
        NAME(CLBlastInvalidLeadDimC)
        NAME(CLBlastInsufficientMemoryA)
        NAME(CLBlastInsufficientMemoryB)
        NAME(CLBlastInsufficientMemoryC)
        NAME(CLBlastInsufficientMemoryTemp)
        NAME(CLBlastInvalidBatchCount)
        NAME(CLBlastDatabaseError)
        NAME(CLBlastUnknownError)
        NAME(CLBlastUnexpectedError)
#undef NAME
    default: return vte_cl_error_name((cl_int)status); /* the rest are OpenCL codes */
    }
}

static const char *source_file_name(void) {
    const char *base = strrchr(__FILE__, '/');
    return base ? base + 1 : __FILE__;
}

static vte_status clblast_fail(vte_error *err, CLBlastStatusCode status, const char *routine,
                               const vte_gemm_call *call, int line) {
    return vte_error_set(err, VTE_ERR_CLBLAST, "%s(m=%zu, n=%zu, k=%zu, batch=%zu) failed: %s (%d) at %s:%d", routine,
                         call->m, call->n, call->k, call->batch, clblast_status_name(status), (int)status,
                         source_file_name(), line);
}

/* Per-device CLBlast parameters, measured offline (CLBlast has no entry for these devices and its generic
 * defaults are 4-7x slower). Applied with CLBlastOverrideParameters when the runtime's device matches;
 * $VITEXPLAIN_GEMM_TUNING=default keeps CLBlast's own choice. The self-check then runs with them. */
typedef struct gemm_tuning {
    const char *platform_match; /* substring of the platform name */
    vte_device_type type;
    const char *description;
    size_t min_indirect_size; /* GemmRoutine XGEMM_MIN_INDIRECT_SIZE */
    size_t xgemm[16];         /* Xgemm, in XGEMM_PARAMETERS order */
} gemm_tuning;

static const char *const XGEMM_PARAMETERS[16] = {"GEMMK", "KREG", "KWG",  "KWI",  "MDIMA", "MDIMC", "MWG", "NDIMB",
                                                  "NDIMC", "NWG", "SA",   "SB",   "STRM",  "STRN",  "VWM", "VWN"};

static const gemm_tuning TUNINGS[] = {
    /* PoCL on x86-64 CPUs (it emits 256-bit code). Measured with PoCL 3.1 on a 2-core AMD EPYC (Zen 5): 113-175
     * GFLOP/s on the ViT-B linear layers against 22-34 with CLBlast's defaults. Every GEMM, the batched
     * attention ones included, goes through the indirect Xgemm kernel. */
    {"Portable Computing Language", VTE_DEVICE_CPU, "PoCL CPU", 256,
     {0, 1, 32, 2, 4, 4, 32, 8, 8, 128, 0, 0, 0, 0, 8, 16}},
};

/* $VITEXPLAIN_GEMM_TUNING="MIN_INDIRECT:GEMMK,KREG,...,VWN" (17 numbers, XGEMM_PARAMETERS order) tries a
 * parameter set on the current device, for measuring new table entries. */
static int parse_tuning(const char *text, gemm_tuning *t) {
    char *end = NULL;
    unsigned long value = strtoul(text, &end, 10);
    if (end == text || *end != ':') return 0;
    t->min_indirect_size = value;
    for (int i = 0; i < 16; i++) {
        text = end + 1;
        value = strtoul(text, &end, 10);
        if (end == text || (i < 15 ? *end != ',' : *end != '\0')) return 0;
        t->xgemm[i] = value;
    }
    return 1;
}

static vte_status tuning_fail(vte_error *err, const gemm_tuning *t, const char *kernel, CLBlastStatusCode status,
                              int line) {
    return vte_error_set(err, VTE_ERR_CLBLAST, "CLBlastOverrideParameters(%s, %s GEMM tuning) failed: %s (%d) at %s:%d",
                         kernel, t->description, clblast_status_name(status), (int)status, source_file_name(), line);
}

static vte_status apply_tuning(vte_runtime *rt, vte_error *err) {
    const char *choice = getenv("VITEXPLAIN_GEMM_TUNING");
    if (choice && strcmp(choice, "default") == 0) return VTE_OK;
    gemm_tuning custom = {"", rt->info.type, "VITEXPLAIN_GEMM_TUNING", 0, {0}};
    const gemm_tuning *t = NULL;
    if (choice && *choice) {
        if (!parse_tuning(choice, &custom))
            return vte_error_set(err, VTE_ERR_INVALID_ARGUMENT,
                                 "VITEXPLAIN_GEMM_TUNING must be \"default\" or MIN_INDIRECT:GEMMK,KREG,KWG,KWI,MDIMA,"
                                 "MDIMC,MWG,NDIMB,NDIMC,NWG,SA,SB,STRM,STRN,VWM,VWN, got \"%s\"",
                                 choice);
        t = &custom;
    } else {
        for (size_t i = 0; i < sizeof TUNINGS / sizeof TUNINGS[0] && !t; i++)
            if (rt->info.type == TUNINGS[i].type && strstr(rt->info.platform_name, TUNINGS[i].platform_match))
                t = &TUNINGS[i];
    }
    if (!t) return VTE_OK;
    const char *routine_names[1] = {"XGEMM_MIN_INDIRECT_SIZE"};
    size_t routine_values[1] = {t->min_indirect_size};
    CLBlastStatusCode status = CLBlastOverrideParameters(rt->device, "GemmRoutine", CLBlastPrecisionSingle, 1,
                                                         routine_names, routine_values);
    if (status != CLBlastSuccess) return tuning_fail(err, t, "GemmRoutine", status, __LINE__);
    status = CLBlastOverrideParameters(rt->device, "Xgemm", CLBlastPrecisionSingle, 16,
                                       (const char **)XGEMM_PARAMETERS, t->xgemm);
    if (status != CLBlastSuccess) return tuning_fail(err, t, "Xgemm", status, __LINE__);
    return VTE_OK;
}

static int clblast_usable(const vte_runtime *rt) {
    (void)rt; /* CLBlast runs on any OpenCL device; the self-check catches the ones it computes wrong on */
    return 1;
}

static vte_status clblast_init(vte_runtime *rt, void **state, vte_error *err) {
    clblast_state *s = calloc(1, sizeof *s);
    if (!s) return vte_error_set(err, VTE_ERR_OUT_OF_MEMORY, "out of memory choosing the CLBlast GEMM backend");
    vte_status status = apply_tuning(rt, err);
    if (status != VTE_OK) {
        free(s);
        return status;
    }
    *state = s;
    return VTE_OK;
}

static CLBlastTranspose transpose_of(vte_gemm_op o) {
    return o == VTE_GEMM_T ? CLBlastTransposeYes : CLBlastTransposeNo;
}

static vte_status clblast_reserve(vte_runtime *rt, void *state, const vte_gemm_call *shape, vte_error *err) {
    clblast_state *s = state;
    size_t bytes = 0;
    CLBlastStatusCode status = CLBlastSGemmTempBufferSize(
        CLBlastLayoutRowMajor, transpose_of(shape->op_a), transpose_of(shape->op_b), shape->m, shape->n, shape->k,
        shape->a.offset, shape->a.ld, shape->b.offset, shape->b.ld, shape->c.offset, shape->c.ld, &rt->queue, &bytes);
    if (status != CLBlastSuccess) return clblast_fail(err, status, "CLBlastSGemmTempBufferSize", shape, __LINE__);
    if (bytes <= s->temp_bytes) return VTE_OK;
    vte_buffer_release(&s->temp);
    s->temp_bytes = 0;
    s->temp = vte_buffer_create(rt, bytes, "GEMM scratch buffer", err);
    if (!s->temp) return err ? err->code : VTE_ERR_OPENCL;
    s->temp_bytes = bytes;
    return VTE_OK;
}

static vte_status clblast_run(vte_runtime *rt, void *state, const vte_gemm_call *call, vte_error *err) {
    clblast_state *s = state;
    const CLBlastTranspose ta = transpose_of(call->op_a), tb = transpose_of(call->op_b);
    CLBlastStatusCode status;
    if (call->batched) {
        status = CLBlastSgemmStridedBatched(CLBlastLayoutRowMajor, ta, tb, call->m, call->n, call->k, call->alpha,
                                            call->a.buffer, call->a.offset, call->a.ld, call->a.stride,
                                            call->b.buffer, call->b.offset, call->b.ld, call->b.stride, call->beta,
                                            call->c.buffer, call->c.offset, call->c.ld, call->c.stride, call->batch,
                                            &rt->queue, NULL);
        if (status != CLBlastSuccess) return clblast_fail(err, status, "CLBlastSgemmStridedBatched", call, __LINE__);
        return VTE_OK;
    }
    if (s->temp) {
        status = CLBlastSgemmWithTempBuffer(CLBlastLayoutRowMajor, ta, tb, call->m, call->n, call->k, call->alpha,
                                            call->a.buffer, call->a.offset, call->a.ld, call->b.buffer,
                                            call->b.offset, call->b.ld, call->beta, call->c.buffer, call->c.offset,
                                            call->c.ld, &rt->queue, NULL, s->temp);
        if (status == CLBlastSuccess) return VTE_OK;
        if (status != CLBlastInsufficientMemoryTemp)
            return clblast_fail(err, status, "CLBlastSgemmWithTempBuffer", call, __LINE__);
    }
    /* No scratch reserved for this shape (or none needed): CLBlast allocates if its path needs one. */
    status = CLBlastSgemm(CLBlastLayoutRowMajor, ta, tb, call->m, call->n, call->k, call->alpha, call->a.buffer,
                          call->a.offset, call->a.ld, call->b.buffer, call->b.offset, call->b.ld, call->beta,
                          call->c.buffer, call->c.offset, call->c.ld, &rt->queue, NULL);
    if (status != CLBlastSuccess) return clblast_fail(err, status, "CLBlastSgemm", call, __LINE__);
    return VTE_OK;
}

static void clblast_release(vte_runtime *rt, void *state) {
    (void)rt;
    clblast_state *s = state;
    vte_buffer_release(&s->temp);
    free(s);
}

const vte_gemm_backend_ops vte_gemm_backend_clblast = {
    .name = "clblast",
    .description = "CLBlast",
    .wrong_result_advice = "the OpenCL driver or CLBlast computes wrong results here: choose another --device",
    .fallback_only = 1,
    .usable = clblast_usable,
    .init = clblast_init,
    .reserve = clblast_reserve,
    .run = clblast_run,
    .release = clblast_release,
};
