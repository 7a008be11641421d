/* GEMM: through CLBlast (the Debian 1.5.3 C API) on every device, or through the host's BLAS on CPU devices
 * whose buffers live in host memory (gemm_host.c). $VITEXPLAIN_GEMM=clblast|host chooses; by default a PoCL CPU
 * device uses the host path. The self-check runs on whichever path is chosen. */
#include "runtime/gemm.h"

#include <clblast_c.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int vte_gemm_host_usable(const vte_runtime *rt);
vte_status vte_gemm_host(vte_runtime *rt, vte_gemm_op op_a, vte_gemm_op op_b, size_t m, size_t n, size_t k,
                         float alpha, cl_mem a, size_t a_offset, size_t lda, size_t a_stride, cl_mem b,
                         size_t b_offset, size_t ldb, size_t b_stride, float beta, cl_mem c, size_t c_offset,
                         size_t ldc, size_t c_stride, size_t batch, vte_error *err);

struct vte_gemm_state {
    int host;          /* 1: the host-BLAS path (CPU devices), 0: CLBlast */
    cl_mem temp;       /* CLBlast's scratch for the indirect GEMM path, grown by vte_gemm_reserve */
    size_t temp_bytes;
    int self_checked;  /* 0: not yet; 1: passed; -1: failed */
    vte_error self_check_error;
};

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

static vte_status clblast_fail(vte_error *err, CLBlastStatusCode status, const char *routine, size_t m, size_t n,
                               size_t k, int line) {
    return vte_error_set(err, VTE_ERR_CLBLAST, "%s(m=%zu, n=%zu, k=%zu) failed: %s (%d) at gemm.c:%d", routine, m, n,
                         k, clblast_status_name(status), (int)status, line);
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
    /* PoCL on x86-64 CPUs (it emits 256-bit code): research/gemm-bench.md set T1, 113-175 GFLOP/s on the ViT-B
     * linear layers of a 2-core Zen 5 against 22-34 with the defaults. Every GEMM, the batched attention ones
     * included, through the indirect Xgemm kernel. */
    {"Portable Computing Language", VTE_DEVICE_CPU, "PoCL CPU", 256,
     {0, 1, 32, 2, 4, 4, 32, 8, 8, 128, 0, 0, 0, 0, 8, 16}},
};

static struct vte_gemm_state *state_of(vte_runtime *rt);

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

static vte_status apply_tuning(vte_runtime *rt, vte_error *err) {
    const char *choice = getenv("VITEXPLAIN_GEMM_TUNING");
    struct vte_gemm_state *state = state_of(rt);
    if ((choice && strcmp(choice, "default") == 0) || (state && state->host)) return VTE_OK;
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
    if (status == CLBlastSuccess)
        status = CLBlastOverrideParameters(rt->device, "Xgemm", CLBlastPrecisionSingle, 16,
                                           (const char **)XGEMM_PARAMETERS, t->xgemm);
    if (status != CLBlastSuccess)
        return vte_error_set(err, VTE_ERR_CLBLAST, "CLBlastOverrideParameters (%s GEMM tuning) failed: %s (%d)",
                             t->description, clblast_status_name(status), (int)status);
    return VTE_OK;
}

static struct vte_gemm_state *state_of(vte_runtime *rt) {
    if (!rt->gemm && (rt->gemm = calloc(1, sizeof *rt->gemm))) {
        const char *choice = getenv("VITEXPLAIN_GEMM");
        rt->gemm->host = vte_gemm_host_usable(rt) && !(choice && strcmp(choice, "clblast") == 0);
    }
    return rt->gemm;
}

const char *vte_gemm_backend(vte_runtime *rt) {
    struct vte_gemm_state *state = state_of(rt);
    return state && state->host ? "host BLAS (OpenBLAS)" : "CLBlast";
}

static CLBlastTranspose op(vte_gemm_op o) { return o == VTE_GEMM_T ? CLBlastTransposeYes : CLBlastTransposeNo; }

vte_status vte_gemm_reserve(vte_runtime *rt, vte_gemm_op op_a, vte_gemm_op op_b, size_t m, size_t n, size_t k,
                            size_t lda, size_t ldb, size_t ldc, vte_error *err) {
    struct vte_gemm_state *state = state_of(rt);
    if (!state) return vte_error_set(err, VTE_ERR_OUT_OF_MEMORY, "out of memory");
    if (state->host) return VTE_OK; /* the host BLAS needs no device scratch */
    size_t bytes = 0;
    CLBlastStatusCode status = CLBlastSGemmTempBufferSize(CLBlastLayoutRowMajor, op(op_a), op(op_b), m, n, k, 0, lda,
                                                          0, ldb, 0, ldc, &rt->queue, &bytes);
    if (status != CLBlastSuccess) return clblast_fail(err, status, "CLBlastSGemmTempBufferSize", m, n, k, __LINE__);
    if (bytes <= state->temp_bytes) return VTE_OK;
    vte_buffer_release(&state->temp);
    state->temp_bytes = 0;
    state->temp = vte_buffer_create(rt, bytes, "GEMM scratch buffer", err);
    if (!state->temp) return err ? err->code : VTE_ERR_OPENCL;
    state->temp_bytes = bytes;
    return VTE_OK;
}

vte_status vte_gemm(vte_runtime *rt, vte_gemm_op op_a, vte_gemm_op op_b, size_t m, size_t n, size_t k, float alpha,
                    cl_mem a, size_t a_offset, size_t lda, cl_mem b, size_t b_offset, size_t ldb, float beta, cl_mem c,
                    size_t c_offset, size_t ldc, vte_error *err) {
    struct vte_gemm_state *state = state_of(rt);
    CLBlastStatusCode status;
    double start = vte_profile_begin(rt);
    if (state && state->host) {
        vte_status result = vte_gemm_host(rt, op_a, op_b, m, n, k, alpha, a, a_offset, lda, 0, b, b_offset, ldb, 0, beta,
                                          c, c_offset, ldc, 0, 1, err);
        if (result == VTE_OK && rt->profiling) {
            char name[96];
            snprintf(name, sizeof name, "gemm %zux%zux%zu %c%c (host)", m, n, k, op_a ? 'T' : 'N', op_b ? 'T' : 'N');
            vte_profile_end(rt, name, start);
        }
        return result;
    }
    if (state && state->temp) {
        status = CLBlastSgemmWithTempBuffer(CLBlastLayoutRowMajor, op(op_a), op(op_b), m, n, k, alpha, a, a_offset,
                                            lda, b, b_offset, ldb, beta, c, c_offset, ldc, &rt->queue, NULL,
                                            state->temp);
        if (status != CLBlastInsufficientMemoryTemp) goto checked;
    }
    /* No scratch reserved for this shape (or none needed): CLBlast allocates if its path needs one. */
    status = CLBlastSgemm(CLBlastLayoutRowMajor, op(op_a), op(op_b), m, n, k, alpha, a, a_offset, lda, b, b_offset,
                          ldb, beta, c, c_offset, ldc, &rt->queue, NULL);
checked:
    if (status != CLBlastSuccess) return clblast_fail(err, status, "CLBlastSgemm", m, n, k, __LINE__);
    if (rt->profiling) {
        char name[96];
        snprintf(name, sizeof name, "gemm %zux%zux%zu %c%c", m, n, k, op_a ? 'T' : 'N', op_b ? 'T' : 'N');
        vte_profile_end(rt, name, start);
    }
    return VTE_OK;
}

vte_status vte_gemm_strided_batched(vte_runtime *rt, vte_gemm_op op_a, vte_gemm_op op_b, size_t m, size_t n, size_t k,
                                    float alpha, cl_mem a, size_t a_offset, size_t lda, size_t a_stride, cl_mem b,
                                    size_t b_offset, size_t ldb, size_t b_stride, float beta, cl_mem c,
                                    size_t c_offset, size_t ldc, size_t c_stride, size_t batch, vte_error *err) {
    double start = vte_profile_begin(rt);
    struct vte_gemm_state *state = state_of(rt);
    if (state && state->host) {
        vte_status result = vte_gemm_host(rt, op_a, op_b, m, n, k, alpha, a, a_offset, lda, a_stride, b, b_offset, ldb,
                                          b_stride, beta, c, c_offset, ldc, c_stride, batch, err);
        if (result == VTE_OK && rt->profiling) {
            char name[96];
            snprintf(name, sizeof name, "gemm batched %zux%zux%zu x%zu %c%c (host)", m, n, k, batch, op_a ? 'T' : 'N',
                     op_b ? 'T' : 'N');
            vte_profile_end(rt, name, start);
        }
        return result;
    }
    CLBlastStatusCode status = CLBlastSgemmStridedBatched(
        CLBlastLayoutRowMajor, op(op_a), op(op_b), m, n, k, alpha, a, a_offset, lda, a_stride, b, b_offset, ldb,
        b_stride, beta, c, c_offset, ldc, c_stride, batch, &rt->queue, NULL);
    if (status != CLBlastSuccess) return clblast_fail(err, status, "CLBlastSgemmStridedBatched", m, n, k, __LINE__);
    if (rt->profiling) {
        char name[96];
        snprintf(name, sizeof name, "gemm batched %zux%zux%zu x%zu %c%c", m, n, k, batch, op_a ? 'T' : 'N',
                 op_b ? 'T' : 'N');
        vte_profile_end(rt, name, start);
    }
    return VTE_OK;
}

/* Host reference in double: C = op(A)*op(B) for row-major operands. */
static void reference_gemm(vte_gemm_op op_a, vte_gemm_op op_b, size_t m, size_t n, size_t k, const float *a,
                           size_t lda, const float *b, size_t ldb, double *c, size_t ldc) {
    for (size_t i = 0; i < m; i++)
        for (size_t j = 0; j < n; j++) {
            double sum = 0.0;
            for (size_t p = 0; p < k; p++) {
                float x = op_a == VTE_GEMM_N ? a[i * lda + p] : a[p * lda + i];
                float y = op_b == VTE_GEMM_N ? b[p * ldb + j] : b[j * ldb + p];
                sum += (double)x * y;
            }
            c[i * ldc + j] = sum;
        }
}

static float pseudo_random(unsigned *seed) {
    *seed = *seed * 1664525u + 1013904223u;
    return (float)((*seed >> 8) & 0xFFFF) / 32768.0f - 1.0f;
}

static vte_status compare(vte_runtime *rt, const float *got, const double *want, size_t count, size_t k,
                          const char *what, vte_error *err) {
    int host = rt->gemm && rt->gemm->host;
    for (size_t i = 0; i < count; i++) {
        /* |a|,|b| <= 1: the float32 rounding error of a length-k dot product is well below k * 2^-20. */
        double tolerance = 1e-5 + (double)k * 1e-6;
        if (!(fabs(got[i] - want[i]) <= tolerance))
            return vte_error_set(err, VTE_ERR_SELF_CHECK,
                                 "GEMM self-check failed on this device (%s through %s): element %zu is %g, expected "
                                 "%g; %s",
                                 what, vte_gemm_backend(rt), i, (double)got[i], want[i],
                                 host ? "the host BLAS computes wrong results here: set VITEXPLAIN_GEMM=clblast"
                                      : "the OpenCL driver or CLBlast computes wrong results here: choose another "
                                        "--device");
    }
    return VTE_OK;
}

static vte_status run_self_check(vte_runtime *rt, vte_error *err) {
    /* Awkward sizes (not multiples of any tile), a transposed B as the linear layers use, an offset into A,
     * and a strided batch shaped like the attention products. */
    enum { M = 37, N = 29, K = 53, OFFSET = 5, BATCH = 3, BM = 17, BN = 19, BK = 11 };
    size_t a_count = OFFSET + M * K, b_count = N * K, c_count = M * N;
    size_t ba_count = BATCH * BM * BK, bb_count = BATCH * BN * BK, bc_count = BATCH * BM * BN;
    size_t total = a_count + b_count + c_count + ba_count + bb_count + bc_count;
    float *host = malloc(total * sizeof *host);
    double *want = malloc((c_count + bc_count) * sizeof *want);
    cl_mem a = NULL, b = NULL, c = NULL, ba = NULL, bb = NULL, bc = NULL;
    vte_status status = VTE_ERR_OUT_OF_MEMORY;
    if (!host || !want) {
        vte_error_set(err, status, "out of memory in the GEMM self-check");
        goto done;
    }
    unsigned seed = 12345;
    for (size_t i = 0; i < total; i++) host[i] = pseudo_random(&seed);
    float *ha = host, *hb = ha + a_count, *hc = hb + b_count;
    float *hba = hc + c_count, *hbb = hba + ba_count, *hbc = hbb + bb_count;
    if (!(a = vte_buffer_create(rt, a_count * 4, "self-check A", err)) ||
        !(b = vte_buffer_create(rt, b_count * 4, "self-check B", err)) ||
        !(c = vte_buffer_create(rt, c_count * 4, "self-check C", err)) ||
        !(ba = vte_buffer_create(rt, ba_count * 4, "self-check batched A", err)) ||
        !(bb = vte_buffer_create(rt, bb_count * 4, "self-check batched B", err)) ||
        !(bc = vte_buffer_create(rt, bc_count * 4, "self-check batched C", err))) {
        status = err ? err->code : VTE_ERR_OPENCL;
        goto done;
    }
    if ((status = vte_buffer_write(rt, a, 0, a_count * 4, ha, err)) ||
        (status = vte_buffer_write(rt, b, 0, b_count * 4, hb, err)) ||
        (status = vte_buffer_write(rt, ba, 0, ba_count * 4, hba, err)) ||
        (status = vte_buffer_write(rt, bb, 0, bb_count * 4, hbb, err)))
        goto done;
    /* C = A[M,K] * B^T where B is stored [N,K]. */
    if ((status = vte_gemm(rt, VTE_GEMM_N, VTE_GEMM_T, M, N, K, 1.0f, a, OFFSET, K, b, 0, K, 0.0f, c, 0, N, err)))
        goto done;
    /* Batched: C_i = A_i[BM,BK] * B_i^T, B_i stored [BN,BK]. */
    if ((status = vte_gemm_strided_batched(rt, VTE_GEMM_N, VTE_GEMM_T, BM, BN, BK, 1.0f, ba, 0, BK, BM * BK, bb, 0,
                                           BK, BN * BK, 0.0f, bc, 0, BN, BM * BN, BATCH, err)))
        goto done;
    if ((status = vte_buffer_read(rt, c, 0, c_count * 4, hc, err)) ||
        (status = vte_buffer_read(rt, bc, 0, bc_count * 4, hbc, err)))
        goto done;
    reference_gemm(VTE_GEMM_N, VTE_GEMM_T, M, N, K, ha + OFFSET, K, hb, K, want, N);
    for (size_t i = 0; i < BATCH; i++)
        reference_gemm(VTE_GEMM_N, VTE_GEMM_T, BM, BN, BK, hba + i * BM * BK, BK, hbb + i * BN * BK, BK,
                       want + c_count + i * BM * BN, BN);
    if ((status = compare(rt, hc, want, c_count, K, "GEMM 37x29x53, B transposed", err))) goto done;
    status = compare(rt, hbc, want + c_count, bc_count, BK, "strided-batched GEMM 3x17x19x11", err);
done:
    vte_buffer_release(&a);
    vte_buffer_release(&b);
    vte_buffer_release(&c);
    vte_buffer_release(&ba);
    vte_buffer_release(&bb);
    vte_buffer_release(&bc);
    free(host);
    free(want);
    return status;
}

vte_status vte_gemm_self_check(vte_runtime *rt, vte_error *err) {
    struct vte_gemm_state *state = state_of(rt);
    if (!state) return vte_error_set(err, VTE_ERR_OUT_OF_MEMORY, "out of memory");
    if (state->self_checked == 0) {
        vte_error_clear(&state->self_check_error);
        state->self_checked = apply_tuning(rt, &state->self_check_error) == VTE_OK &&
                                      run_self_check(rt, &state->self_check_error) == VTE_OK
                                  ? 1
                                  : -1;
    }
    if (state->self_checked > 0) return VTE_OK;
    if (err) *err = state->self_check_error;
    return state->self_check_error.code;
}

void vte_gemm_release(vte_runtime *rt) {
    if (!rt->gemm) return;
    vte_buffer_release(&rt->gemm->temp);
    free(rt->gemm);
    rt->gemm = NULL;
}
