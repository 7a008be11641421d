/* GEMM: the table of backends, the choice among them, profiling and the self-check. The backends themselves
 * (gemm_host.c, gemm_clblast.c) only multiply; see gemm_backend.h for adding one. */
#include "runtime/gemm.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/gemm_backend.h"

/* In order of preference: by default a runtime takes the first one usable on its device. The host BLAS comes
 * first because it is 2-3x faster where it can run (PoCL's CPU device); CLBlast runs everywhere. oneDNN (faster
 * than OpenBLAS on the linear layers, docs/performance.md) is chosen only by name until it is measured inside
 * the engine, where its OpenMP threads share the cores with PoCL's. */
static const vte_gemm_backend_ops *const BACKENDS[] = {&vte_gemm_backend_host, &vte_gemm_backend_clblast,
                                                      &vte_gemm_backend_onednn};
#define BACKEND_COUNT (sizeof BACKENDS / sizeof BACKENDS[0])

struct vte_gemm_state {
    const vte_gemm_backend_ops *backend; /* NULL until chosen, and when the choice failed */
    void *backend_state;                 /* what backend->init made */
    int prepared;                        /* 0: not yet; 1: chosen and initialised; -1: failed, prepare_error */
    vte_error prepare_error;
    int self_checked; /* 0: not yet; 1: passed; -1: failed */
    vte_error self_check_error;
};

/* "host, clblast": every backend's name, or with `usable_only` those that can run on rt's device. */
static void list_names(const vte_runtime *rt, int usable_only, char *out, size_t size) {
    size_t used = 0;
    out[0] = '\0';
    for (size_t i = 0; i < BACKEND_COUNT; i++) {
        if (usable_only && !BACKENDS[i]->usable(rt)) continue;
        int n = snprintf(out + used, size - used, "%s%s", used ? ", " : "", BACKENDS[i]->name);
        if (n < 0 || (size_t)n >= size - used) break;
        used += (size_t)n;
    }
}

/* $VITEXPLAIN_GEMM=<name> forces a backend (unset or empty: the first usable one). A name that is unknown or
 * cannot run on this device is an error rather than a silent fallback, so a benchmark never measures another
 * path than the one it asked for. */
static vte_status select_backend(const vte_runtime *rt, const vte_gemm_backend_ops **chosen, vte_error *err) {
    const char *request = getenv("VITEXPLAIN_GEMM");
    char names[128];
    *chosen = NULL;
    if (!request || !*request) {
        for (size_t i = 0; i < BACKEND_COUNT && !*chosen; i++)
            if (BACKENDS[i]->usable(rt)) *chosen = BACKENDS[i];
        if (*chosen) return VTE_OK;
        list_names(rt, 0, names, sizeof names);
        return vte_error_set(err, VTE_ERR_UNSUPPORTED, "no GEMM backend (%s) can run on device \"%s\"", names,
                             rt->info.name);
    }
    for (size_t i = 0; i < BACKEND_COUNT; i++) {
        if (strcmp(request, BACKENDS[i]->name) != 0) continue;
        if (BACKENDS[i]->usable(rt)) {
            *chosen = BACKENDS[i];
            return VTE_OK;
        }
        list_names(rt, 1, names, sizeof names);
        return vte_error_set(err, VTE_ERR_INVALID_ARGUMENT,
                             "VITEXPLAIN_GEMM=\"%s\": the %s GEMM backend cannot run on device \"%s\" (%s); "
                             "usable here: %s",
                             request, BACKENDS[i]->description, rt->info.name, rt->info.platform_name, names);
    }
    list_names(rt, 0, names, sizeof names);
    return vte_error_set(err, VTE_ERR_INVALID_ARGUMENT,
                         "VITEXPLAIN_GEMM=\"%s\" names no GEMM backend; accepted names: %s (or unset for the default)",
                         request, names);
}

/* Chooses and initialises the backend on first use; every later call returns the first result, so a failed
 * choice reaches whichever GEMM call comes first (the session's self-check) and every one after it. */
static vte_status prepare(vte_runtime *rt, vte_error *err) {
    if (!rt->gemm && !(rt->gemm = calloc(1, sizeof *rt->gemm)))
        return vte_error_set(err, VTE_ERR_OUT_OF_MEMORY, "out of memory choosing a GEMM backend");
    struct vte_gemm_state *state = rt->gemm;
    if (state->prepared == 0) {
        vte_error_clear(&state->prepare_error);
        const vte_gemm_backend_ops *backend = NULL;
        vte_status status = select_backend(rt, &backend, &state->prepare_error);
        state->backend = backend;
        if (status == VTE_OK && backend->init)
            status = backend->init(rt, &state->backend_state, &state->prepare_error);
        state->prepared = status == VTE_OK ? 1 : -1;
    }
    if (state->prepared > 0) return VTE_OK;
    if (err) *err = state->prepare_error;
    return state->prepare_error.code;
}

const char *vte_gemm_backend(vte_runtime *rt) {
    prepare(rt, NULL);
    return rt->gemm && rt->gemm->backend ? rt->gemm->backend->description : "none";
}

static char op_letter(vte_gemm_op op) { return op == VTE_GEMM_T ? 'T' : 'N'; }

/* Runs `call` on the chosen backend; with profiling, times it under a name that says the shape and backend. */
static vte_status run_call(vte_runtime *rt, const vte_gemm_call *call, vte_error *err) {
    vte_status status = prepare(rt, err);
    if (status != VTE_OK) return status;
    const struct vte_gemm_state *state = rt->gemm;
    double start = vte_profile_begin(rt);
    status = state->backend->run(rt, state->backend_state, call, err);
    if (status == VTE_OK && rt->profiling) {
        char name[96];
        if (call->batched)
            snprintf(name, sizeof name, "gemm batched %zux%zux%zu x%zu %c%c (%s)", call->m, call->n, call->k,
                     call->batch, op_letter(call->op_a), op_letter(call->op_b), state->backend->name);
        else
            snprintf(name, sizeof name, "gemm %zux%zux%zu %c%c (%s)", call->m, call->n, call->k, op_letter(call->op_a),
                     op_letter(call->op_b), state->backend->name);
        vte_profile_end(rt, name, start);
    }
    return status;
}

vte_status vte_gemm_reserve(vte_runtime *rt, vte_gemm_op op_a, vte_gemm_op op_b, size_t m, size_t n, size_t k,
                            size_t lda, size_t ldb, size_t ldc, vte_error *err) {
    vte_status status = prepare(rt, err);
    if (status != VTE_OK) return status;
    const struct vte_gemm_state *state = rt->gemm;
    if (!state->backend->reserve) return VTE_OK;
    const vte_gemm_call shape = {.op_a = op_a, .op_b = op_b, .m = m, .n = n, .k = k, .a = {.ld = lda},
                                 .b = {.ld = ldb}, .c = {.ld = ldc}, .batch = 1};
    return state->backend->reserve(rt, state->backend_state, &shape, err);
}

vte_status vte_gemm(vte_runtime *rt, vte_gemm_op op_a, vte_gemm_op op_b, size_t m, size_t n, size_t k, float alpha,
                    cl_mem a, size_t a_offset, size_t lda, cl_mem b, size_t b_offset, size_t ldb, float beta, cl_mem c,
                    size_t c_offset, size_t ldc, vte_error *err) {
    const vte_gemm_call call = {.op_a = op_a, .op_b = op_b, .m = m, .n = n, .k = k, .alpha = alpha,
                                .a = {a, a_offset, lda, 0}, .b = {b, b_offset, ldb, 0}, .beta = beta,
                                .c = {c, c_offset, ldc, 0}, .batch = 1, .batched = 0};
    return run_call(rt, &call, err);
}

vte_status vte_gemm_strided_batched(vte_runtime *rt, vte_gemm_op op_a, vte_gemm_op op_b, size_t m, size_t n, size_t k,
                                    float alpha, cl_mem a, size_t a_offset, size_t lda, size_t a_stride, cl_mem b,
                                    size_t b_offset, size_t ldb, size_t b_stride, float beta, cl_mem c,
                                    size_t c_offset, size_t ldc, size_t c_stride, size_t batch, vte_error *err) {
    const vte_gemm_call call = {.op_a = op_a, .op_b = op_b, .m = m, .n = n, .k = k, .alpha = alpha,
                                .a = {a, a_offset, lda, a_stride}, .b = {b, b_offset, ldb, b_stride}, .beta = beta,
                                .c = {c, c_offset, ldc, c_stride}, .batch = batch, .batched = 1};
    return run_call(rt, &call, err);
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
    const vte_gemm_backend_ops *backend = rt->gemm->backend;
    for (size_t i = 0; i < count; i++) {
        /* |a|,|b| <= 1: the float32 rounding error of a length-k dot product is well below k * 2^-20. */
        double tolerance = 1e-5 + (double)k * 1e-6;
        if (!(fabs(got[i] - want[i]) <= tolerance))
            return vte_error_set(err, VTE_ERR_SELF_CHECK,
                                 "GEMM self-check failed on this device (%s through %s): element %zu is %g, expected "
                                 "%g; %s",
                                 what, backend->description, i, (double)got[i], want[i],
                                 backend->wrong_result_advice);
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
    vte_status status = prepare(rt, err);
    if (status != VTE_OK) return status;
    struct vte_gemm_state *state = rt->gemm;
    if (state->self_checked == 0) {
        vte_error_clear(&state->self_check_error);
        state->self_checked = run_self_check(rt, &state->self_check_error) == VTE_OK ? 1 : -1;
    }
    if (state->self_checked > 0) return VTE_OK;
    if (err) *err = state->self_check_error;
    return state->self_check_error.code;
}

void vte_gemm_release(vte_runtime *rt) {
    struct vte_gemm_state *state = rt->gemm;
    if (!state) return;
    if (state->prepared > 0 && state->backend->release) state->backend->release(rt, state->backend_state);
    free(state);
    rt->gemm = NULL;
}
