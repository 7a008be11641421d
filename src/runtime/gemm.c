/* GEMM: the table of backends, the choice among them, profiling and the self-check. The backends themselves
 * (gemm_host.c, gemm_onednn.c, gemm_clblast.c) only multiply; see gemm_backend.h for adding one.
 *
 * The choice. $VITEXPLAIN_GEMM=<name> forces one backend for every GEMM. Otherwise every usable backend is a
 * candidate (CLBlast only where nothing else can run: on PoCL's CPU device it is 2-3x slower than the host
 * libraries, docs/performance.md), and with several candidates each GEMM shape is measured once: the first call of
 * a shape of at least 5 million multiply-adds runs on every candidate (a pause, one warm-up and three timed runs
 * each, on the call's own operands: about 0.3 s per shape, once per device). Every GEMM then takes the one
 * candidate whose measured shapes add up to the least time. With the cache directory off nothing is measured
 * (nothing could be kept) and the first candidate takes every GEMM. One backend for all shapes rather than
 * the fastest per shape, because the host libraries each keep their own pool of threads, which wait by spinning:
 * alternating OpenBLAS and oneDNN between the layers of a ViT-B forward cost 239-250 ms/image against 208-223 with
 * either alone (2 cores, batch 8), far more than any shape gained. The measurements are kept in the cache
 * directory, one file per device, driver and candidate set, so a later process measures nothing it has measured
 * before. */
#include "runtime/gemm.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "runtime/gemm_backend.h"
#include "runtime/internal.h"

/* In order of preference: before any shape is measured, and always when the cache is off (nothing measured could
 * be kept, and measuring ViT-B's shapes costs about 3 s per process), GEMMs take the first candidate: oneDNN,
 * which picks its kernels from the CPU's features and was the faster here (docs/performance.md). */
static const vte_gemm_backend_ops *const BACKENDS[] = {&vte_gemm_backend_onednn, &vte_gemm_backend_host,
                                                      &vte_gemm_backend_clblast};
#define BACKEND_COUNT (sizeof BACKENDS / sizeof BACKENDS[0])

/* Each candidate's timed runs on a new shape (the best one counts: noise only ever slows a run down), and the pause
 * before them that lets the previous candidate's threads go idle: OpenBLAS's keep polling for about 0.1 s after a
 * call, and oneDNN right after OpenBLAS measured 21-24 ms on a 1576x768x768 GEMM after a pause of up to 50 ms
 * against 9-13 ms after 100-200 ms (2 cores). */
enum { TIMED_RUNS = 3, QUIET_PAUSE_MS = 120 };
/* Below this many multiply-adds a shape is not measured at all and takes the current choice: its microseconds do
 * not matter, and its times are the most fragile. With the two cores busy elsewhere (a test suite beside it),
 * oneDNN took 8 ms on GEMMs as small as 17x16x17, where its two OpenMP threads wait for each other, against
 * 0.1 ms for OpenBLAS, which runs them on one thread; 150 such shapes outweighed every ViT-B shape. */
#define MIN_MEASURED_WORK 5e6

/* What makes two calls the same shape for the choice (not the buffers, offsets or scalars). */
typedef struct shape_key {
    int op_a, op_b;
    size_t m, n, k, lda, ldb, ldc, batch, a_stride, b_stride, c_stride;
    size_t groups, a_group_stride, b_group_stride, c_group_stride;
} shape_key;


struct vte_gemm_state {
    int prepared; /* 0: not yet; 1: candidates chosen and initialised; -1: failed, prepare_error */
    vte_error prepare_error;
    const vte_gemm_backend_ops *candidates[BACKEND_COUNT]; /* the forced backend alone, or every candidate */
    void *candidate_states[BACKEND_COUNT];                 /* what each one's init made */
    size_t candidate_count;
    int pinned;            /* >= 0: every call takes this candidate (the self-check of each one) */
    shape_key *measured; /* the shapes measured here or read from the cache file */
    size_t measured_count, measured_capacity;
    double measured_ms[BACKEND_COUNT]; /* per candidate, the sum over the measured shapes */
    int chosen;                        /* the candidate every GEMM takes: the least measured_ms */
    char choice_file[4200]; /* "" when choices are not kept on disk */
    char description[192];
    int self_checked; /* 0: not yet; 1: passed; -1: failed */
    vte_error self_check_error;
};

/* "host, onednn, clblast": every backend's name, or with `usable_only` those that can run on rt's device. */
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

/* Fills state->candidates. A name that is unknown or cannot run on this device is an error rather than a silent
 * fallback, so a benchmark never measures another path than the one it asked for. */
static vte_status select_candidates(const vte_runtime *rt, struct vte_gemm_state *state, vte_error *err) {
    const char *request = getenv("VITEXPLAIN_GEMM");
    char names[128];
    state->candidate_count = 0;
    if (!request || !*request) {
        for (size_t i = 0; i < BACKEND_COUNT; i++)
            if (!BACKENDS[i]->fallback_only && BACKENDS[i]->usable(rt))
                state->candidates[state->candidate_count++] = BACKENDS[i];
        for (size_t i = 0; i < BACKEND_COUNT && state->candidate_count == 0; i++)
            if (BACKENDS[i]->usable(rt)) state->candidates[state->candidate_count++] = BACKENDS[i];
        if (state->candidate_count) return VTE_OK;
        list_names(rt, 0, names, sizeof names);
        return vte_error_set(err, VTE_ERR_UNSUPPORTED, "no GEMM backend (%s) can run on device \"%s\"", names,
                             rt->info.name);
    }
    for (size_t i = 0; i < BACKEND_COUNT; i++) {
        if (strcmp(request, BACKENDS[i]->name) != 0) continue;
        if (BACKENDS[i]->usable(rt)) {
            state->candidates[state->candidate_count++] = BACKENDS[i];
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

/* ---------------------------------------------------------------- the choices and their cache file */

static int same_key(const shape_key *x, const shape_key *y) {
    return x->op_a == y->op_a && x->op_b == y->op_b && x->m == y->m && x->n == y->n && x->k == y->k &&
           x->lda == y->lda && x->ldb == y->ldb && x->ldc == y->ldc && x->batch == y->batch &&
           x->a_stride == y->a_stride && x->b_stride == y->b_stride && x->c_stride == y->c_stride &&
           x->groups == y->groups && x->a_group_stride == y->a_group_stride &&
           x->b_group_stride == y->b_group_stride && x->c_group_stride == y->c_group_stride;
}

static shape_key key_of(const vte_gemm_call *call) {
    const int batched = call->batch > 1, grouped = call->groups > 1;
    return (shape_key){call->op_a,
                       call->op_b,
                       call->m,
                       call->n,
                       call->k,
                       call->a.ld,
                       call->b.ld,
                       call->c.ld,
                       call->batch,
                       batched ? call->a.stride : 0,
                       batched ? call->b.stride : 0,
                       batched ? call->c.stride : 0,
                       call->groups,
                       grouped ? call->a.group_stride : 0,
                       grouped ? call->b.group_stride : 0,
                       grouped ? call->c.group_stride : 0};
}

static int was_measured(const struct vte_gemm_state *state, const shape_key *key) {
    for (size_t i = 0; i < state->measured_count; i++)
        if (same_key(&state->measured[i], key)) return 1;
    return 0;
}

/* The candidate fastest in `ms`. */
static int fastest(const struct vte_gemm_state *state, const double *ms) {
    int best = 0;
    for (size_t i = 1; i < state->candidate_count; i++)
        if (ms[i] < ms[best]) best = (int)i;
    return best;
}

/* Remembers a shape's times (ms per candidate) and updates the choice; 0 when out of memory (the shape is then
 * measured again next time: no harm). */
static int add_measurement(struct vte_gemm_state *state, const shape_key *key, const double *ms) {
    if (state->measured_count == state->measured_capacity) {
        size_t capacity = state->measured_capacity ? 2 * state->measured_capacity : 32;
        shape_key *grown = realloc(state->measured, capacity * sizeof *grown);
        if (!grown) return 0;
        state->measured = grown;
        state->measured_capacity = capacity;
    }
    state->measured[state->measured_count++] = *key;
    for (size_t i = 0; i < state->candidate_count; i++) state->measured_ms[i] += ms[i];
    state->chosen = fastest(state, state->measured_ms);
    return 1;
}

/* The cache file's first line: everything the measurements depend on (and the line format: "v2"). A file whose
 * first line differs (another driver, another set of candidates, an older vitexplain) is ignored and rewritten. */
static void choice_file_header(const vte_runtime *rt, const struct vte_gemm_state *state, char *out, size_t size) {
    size_t used = (size_t)snprintf(out, size, "vitexplain %s GEMM choices v2|dev=%s|drv=%s|plat=%s|candidates=",
                                   vte_version(), rt->info.name, rt->info.driver_version, rt->info.platform_version);
    for (size_t i = 0; i < state->candidate_count && used < size; i++)
        used += (size_t)snprintf(out + used, size - used, "%s%s", i ? "," : "", state->candidates[i]->name);
}

/* Reads the measurements kept for this device; any line that does not parse, or lacks a candidate's time, is
 * skipped (best effort: a missing or damaged file only costs a measurement). The name after the shape (the fastest
 * on it) is for whoever reads the file. */
static void load_measurements(const vte_runtime *rt, struct vte_gemm_state *state) {
    char header[1024], line[1024];
    choice_file_header(rt, state, header, sizeof header);
    if (!vte_cache_file(rt, header, ".gemm", state->choice_file, sizeof state->choice_file)) {
        state->choice_file[0] = '\0';
        return;
    }
    FILE *f = fopen(state->choice_file, "r");
    if (!f) return;
    int header_matches = fgets(line, sizeof line, f) && strncmp(line, header, strlen(header)) == 0 &&
                         (line[strlen(header)] == '\n' || line[strlen(header)] == '\0');
    while (header_matches && fgets(line, sizeof line, f)) {
        shape_key key;
        char name[32];
        if (sscanf(line, "%d %d %zu %zu %zu %zu %zu %zu %zu %zu %zu %zu %zu %zu %zu %zu %31s", &key.op_a, &key.op_b,
                   &key.m, &key.n, &key.k, &key.lda, &key.ldb, &key.ldc, &key.batch, &key.a_stride, &key.b_stride,
                   &key.c_stride, &key.groups, &key.a_group_stride, &key.b_group_stride, &key.c_group_stride,
                   name) != 17)
            continue;
        int complete = 1;
        double ms[BACKEND_COUNT];
        for (size_t i = 0; i < state->candidate_count && complete; i++) { /* " host=9.579ms" */
            char field[48];
            snprintf(field, sizeof field, " %s=", state->candidates[i]->name);
            const char *at = strstr(line, field);
            complete = at && sscanf(at + strlen(field), "%lf", &ms[i]) == 1 && ms[i] >= 0.0;
        }
        if (complete && !was_measured(state, &key)) add_measurement(state, &key, ms);
    }
    fclose(f);
    if (!header_matches) unlink(state->choice_file); /* stale: the first measurement writes a new one */
}

/* Appends one shape's times (and the fastest's name) in a single write, so that processes sharing the cache
 * directory interleave whole lines. Best effort. */
static void store_measurement(const vte_runtime *rt, const struct vte_gemm_state *state, const shape_key *key,
                              const double *ms) {
    if (!state->choice_file[0]) return;
    int fd = open(state->choice_file, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) return;
    char text[2048];
    size_t used = 0;
    if (lseek(fd, 0, SEEK_END) == 0) { /* a new file starts with its header */
        choice_file_header(rt, state, text, sizeof text);
        used = strlen(text);
        text[used++] = '\n';
    }
    used += (size_t)snprintf(text + used, sizeof text - used,
                             "%d %d %zu %zu %zu %zu %zu %zu %zu %zu %zu %zu %zu %zu %zu %zu %s", key->op_a, key->op_b,
                             key->m, key->n, key->k, key->lda, key->ldb, key->ldc, key->batch, key->a_stride,
                             key->b_stride, key->c_stride, key->groups, key->a_group_stride, key->b_group_stride,
                             key->c_group_stride, state->candidates[fastest(state, ms)]->name);
    for (size_t i = 0; i < state->candidate_count && used < sizeof text; i++)
        used += (size_t)snprintf(text + used, sizeof text - used, " %s=%.3fms", state->candidates[i]->name, ms[i]);
    if (used < sizeof text - 1) {
        text[used++] = '\n';
        ssize_t written = write(fd, text, used);
        (void)written;
    }
    close(fd);
}

/* ---------------------------------------------------------------- choosing, measuring, running */

/* "oneDNN", "oneDNN (measured on 8 GEMM shapes against host BLAS (OpenBLAS))", before any measurement
 * "oneDNN or host BLAS (OpenBLAS), measured on first use", or with the cache off "oneDNN (not measured: ...)". */
static void describe(struct vte_gemm_state *state) {
    char *out = state->description;
    const size_t size = sizeof state->description;
    if (state->candidate_count == 1) {
        snprintf(out, size, "%s", state->candidates[0]->description);
        return;
    }
    if (!state->choice_file[0]) {
        snprintf(out, size, "%s (not measured: the cache directory is off)", state->candidates[0]->description);
        return;
    }
    size_t used = 0;
    if (state->measured_count)
        used = (size_t)snprintf(out, size, "%s (measured on %zu GEMM shapes against ",
                                state->candidates[state->chosen]->description, state->measured_count);
    for (size_t i = 0, listed = 0; i < state->candidate_count && used < size; i++) {
        if (state->measured_count && (int)i == state->chosen) continue;
        used += (size_t)snprintf(out + used, size - used, "%s%s", listed++ ? " or " : "",
                                 state->candidates[i]->description);
    }
    if (used < size) snprintf(out + used, size - used, "%s", state->measured_count ? ")" : ", measured on first use");
}

/* Chooses and initialises the candidates on first use; every later call returns the first result, so a failed
 * choice reaches whichever GEMM call comes first (the session's self-check) and every one after it. */
static vte_status prepare(vte_runtime *rt, vte_error *err) {
    if (!rt->gemm && !(rt->gemm = calloc(1, sizeof *rt->gemm)))
        return vte_error_set(err, VTE_ERR_OUT_OF_MEMORY, "out of memory choosing a GEMM backend");
    struct vte_gemm_state *state = rt->gemm;
    if (state->prepared == 0) {
        vte_error_clear(&state->prepare_error);
        state->pinned = -1;
        vte_status status = select_candidates(rt, state, &state->prepare_error);
        size_t initialised = 0;
        for (; initialised < state->candidate_count && status == VTE_OK; initialised++) {
            const vte_gemm_backend_ops *backend = state->candidates[initialised];
            if (backend->init)
                status = backend->init(rt, &state->candidate_states[initialised], &state->prepare_error);
            if (status != VTE_OK) break;
        }
        if (status != VTE_OK) {
            for (size_t i = 0; i < initialised; i++)
                if (state->candidates[i]->release) state->candidates[i]->release(rt, state->candidate_states[i]);
            state->candidate_count = 0;
        } else if (state->candidate_count > 1) {
            load_measurements(rt, state);
        }
        state->prepared = status == VTE_OK ? 1 : -1;
    }
    if (state->prepared > 0) return VTE_OK;
    if (err) *err = state->prepare_error;
    return state->prepare_error.code;
}

const char *vte_gemm_backend(vte_runtime *rt) {
    prepare(rt, NULL);
    if (!rt->gemm || rt->gemm->prepared <= 0) return "none";
    describe(rt->gemm);
    return rt->gemm->description;
}

static char op_letter(vte_gemm_op op) { return op == VTE_GEMM_T ? 'T' : 'N'; }

static double now_ms(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1e3 + t.tv_nsec / 1e6;
}

/* Runs `call` on candidate i: in one call, or for a backend without groups one call per group of the larger
 * count (the two counts may swap: the same matrices, fewer calls). */
static vte_status run_on(vte_runtime *rt, size_t i, const vte_gemm_call *call, vte_error *err) {
    struct vte_gemm_state *state = rt->gemm;
    const vte_gemm_backend_ops *backend = state->candidates[i];
    if (call->groups <= 1 || backend->groups) return backend->run(rt, state->candidate_states[i], call, err);
    vte_gemm_call part = *call;
    part.groups = 1;
    const int swap = call->groups > call->batch;
    if (swap) { /* batch over the groups, one call per matrix of the old batch */
        part.batch = call->groups;
        part.a.stride = call->a.group_stride, part.b.stride = call->b.group_stride;
        part.c.stride = call->c.group_stride;
    }
    const size_t calls = swap ? call->batch : call->groups;
    vte_status status = VTE_OK;
    for (size_t g = 0; g < calls && status == VTE_OK; g++) {
        part.a.offset = call->a.offset + g * (swap ? call->a.stride : call->a.group_stride);
        part.b.offset = call->b.offset + g * (swap ? call->b.stride : call->b.group_stride);
        part.c.offset = call->c.offset + g * (swap ? call->c.stride : call->c.group_stride);
        status = backend->run(rt, state->candidate_states[i], &part, err);
    }
    return status;
}

/* Runs `call` on candidate i and waits for it: the time of the call alone. */
static vte_status timed_run(vte_runtime *rt, size_t i, const vte_gemm_call *call, double *ms, vte_error *err) {
    double start = now_ms();
    vte_status status = run_on(rt, i, call, err);
    if (status == VTE_OK) status = vte_runtime_finish(rt, err);
    *ms = now_ms() - start;
    return status;
}

/* The first call of a shape with several candidates: each runs it (after QUIET_PAUSE_MS, a warm-up, then TIMED_RUNS
 * timed runs, the best kept) on the call's own operands, which is harmless because C is overwritten (beta == 0, checked by the caller)
 * and every candidate passed the self-check. The chosen candidate runs it last, so C holds its result. */
static vte_status measure(vte_runtime *rt, const vte_gemm_call *call, const shape_key *key, int *chosen,
                          vte_error *err) {
    struct vte_gemm_state *state = rt->gemm;
    double best[BACKEND_COUNT];
    vte_status status = vte_runtime_finish(rt, err); /* earlier work is not this call's time */
    for (size_t i = 0; i < state->candidate_count && status == VTE_OK; i++) {
        double ms;
        best[i] = INFINITY;
        nanosleep(&(struct timespec){0, QUIET_PAUSE_MS * 1000000L}, NULL);
        status = timed_run(rt, i, call, &ms, err);
        for (int r = 0; r < TIMED_RUNS && status == VTE_OK; r++)
            if ((status = timed_run(rt, i, call, &ms, err)) == VTE_OK && ms < best[i]) best[i] = ms;
    }
    if (status != VTE_OK) return status;
    add_measurement(state, key, best);
    store_measurement(rt, state, key, best);
    *chosen = state->chosen;
    if ((size_t)state->chosen == state->candidate_count - 1) return VTE_OK; /* ran last already */
    return run_on(rt, (size_t)state->chosen, call, err);
}

/* Runs `call` on the backend its shape takes; with profiling, times it under a name that says the shape and the
 * backend. */
static vte_status run_call(vte_runtime *rt, const vte_gemm_call *call, vte_error *err) {
    vte_status status = prepare(rt, err);
    if (status != VTE_OK) return status;
    struct vte_gemm_state *state = rt->gemm;
    double start = vte_profile_begin(rt);
    int chosen = 0;
    if (state->pinned >= 0) {
        chosen = state->pinned;
        status = run_on(rt, (size_t)chosen, call, err);
    } else {
        const double work = (double)call->m * (double)call->n * (double)call->k * (double)call->batch *
                            (double)call->groups;
        const int measurable =
            state->candidate_count > 1 && state->choice_file[0] && call->beta == 0.0f && work >= MIN_MEASURED_WORK;
        const shape_key key = measurable ? key_of(call) : (shape_key){0};
        if (measurable && !was_measured(state, &key)) {
            status = measure(rt, call, &key, &chosen, err);
        } else {
            chosen = state->chosen;
            status = run_on(rt, (size_t)chosen, call, err);
        }
    }
    if (status == VTE_OK && rt->profiling) {
        char name[96];
        if (call->groups > 1)
            snprintf(name, sizeof name, "gemm batched %zux%zux%zu x%zu x%zu %c%c (%s)", call->m, call->n, call->k,
                     call->batch, call->groups, op_letter(call->op_a), op_letter(call->op_b),
                     state->candidates[chosen]->name);
        else if (call->batched)
            snprintf(name, sizeof name, "gemm batched %zux%zux%zu x%zu %c%c (%s)", call->m, call->n, call->k,
                     call->batch, op_letter(call->op_a), op_letter(call->op_b), state->candidates[chosen]->name);
        else
            snprintf(name, sizeof name, "gemm %zux%zux%zu %c%c (%s)", call->m, call->n, call->k, op_letter(call->op_a),
                     op_letter(call->op_b), state->candidates[chosen]->name);
        vte_profile_end(rt, name, start);
    }
    return status;
}

vte_status vte_gemm_reserve(vte_runtime *rt, vte_gemm_op op_a, vte_gemm_op op_b, size_t m, size_t n, size_t k,
                            size_t lda, size_t ldb, size_t ldc, vte_error *err) {
    vte_status status = prepare(rt, err);
    if (status != VTE_OK) return status;
    const struct vte_gemm_state *state = rt->gemm;
    const vte_gemm_call shape = {.op_a = op_a, .op_b = op_b, .m = m, .n = n, .k = k, .a = {.ld = lda},
                                 .b = {.ld = ldb}, .c = {.ld = ldc}, .batch = 1, .groups = 1};
    for (size_t i = 0; i < state->candidate_count && status == VTE_OK; i++)
        if (state->candidates[i]->reserve)
            status = state->candidates[i]->reserve(rt, state->candidate_states[i], &shape, err);
    return status;
}

vte_status vte_gemm(vte_runtime *rt, vte_gemm_op op_a, vte_gemm_op op_b, size_t m, size_t n, size_t k, float alpha,
                    cl_mem a, size_t a_offset, size_t lda, cl_mem b, size_t b_offset, size_t ldb, float beta, cl_mem c,
                    size_t c_offset, size_t ldc, vte_error *err) {
    const vte_gemm_call call = {.op_a = op_a, .op_b = op_b, .m = m, .n = n, .k = k, .alpha = alpha,
                                .a = {a, a_offset, lda, 0, 0}, .b = {b, b_offset, ldb, 0, 0}, .beta = beta,
                                .c = {c, c_offset, ldc, 0, 0}, .batch = 1, .groups = 1, .batched = 0};
    return run_call(rt, &call, err);
}

vte_status vte_gemm_strided_batched(vte_runtime *rt, vte_gemm_op op_a, vte_gemm_op op_b, size_t m, size_t n, size_t k,
                                    float alpha, cl_mem a, size_t a_offset, size_t lda, size_t a_stride, cl_mem b,
                                    size_t b_offset, size_t ldb, size_t b_stride, float beta, cl_mem c,
                                    size_t c_offset, size_t ldc, size_t c_stride, size_t batch, vte_error *err) {
    const vte_gemm_call call = {.op_a = op_a, .op_b = op_b, .m = m, .n = n, .k = k, .alpha = alpha,
                                .a = {a, a_offset, lda, a_stride, 0}, .b = {b, b_offset, ldb, b_stride, 0},
                                .beta = beta, .c = {c, c_offset, ldc, c_stride, 0}, .batch = batch, .groups = 1,
                                .batched = 1};
    return run_call(rt, &call, err);
}

vte_status vte_gemm_grouped(vte_runtime *rt, vte_gemm_op op_a, vte_gemm_op op_b, size_t m, size_t n, size_t k,
                            float alpha, vte_gemm_operand a, vte_gemm_operand b, float beta, vte_gemm_operand c,
                            size_t batch, size_t groups, vte_error *err) {
    const vte_gemm_call call = {.op_a = op_a, .op_b = op_b, .m = m, .n = n, .k = k, .alpha = alpha, .a = a, .b = b,
                                .beta = beta, .c = c, .batch = batch, .groups = groups, .batched = 1};
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

static vte_status compare(const vte_gemm_backend_ops *backend, const float *got, const double *want, size_t count,
                          size_t k, const char *what, vte_error *err) {
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

/* The self-check of the candidate the state is pinned to. */
static vte_status run_self_check(vte_runtime *rt, vte_error *err) {
    const vte_gemm_backend_ops *backend = rt->gemm->candidates[rt->gemm->pinned];
    /* Awkward sizes (not multiples of any tile), a transposed B as the linear layers use, an offset into A, a
     * strided batch shaped like the attention products, and groups of batches with interleaved matrices, a
     * transposed A and alpha != 1 (the grouped attention calls). */
    enum { M = 37, N = 29, K = 53, OFFSET = 5, BATCH = 3, GROUPS = 2, BM = 17, BN = 19, BK = 11 };
    const float ALPHA = 0.5f;
    size_t a_count = OFFSET + M * K, b_count = N * K, c_count = M * N;
    size_t ba_count = GROUPS * BATCH * BM * BK, bb_count = GROUPS * BATCH * BN * BK, bc_count = BATCH * BM * BN;
    size_t gc_count = GROUPS * BATCH * BM * BN;
    size_t total = a_count + b_count + c_count + ba_count + bb_count + bc_count + gc_count;
    float *host = malloc(total * sizeof *host);
    double *want = malloc((c_count + bc_count + gc_count) * sizeof *want);
    cl_mem a = NULL, b = NULL, c = NULL, ba = NULL, bb = NULL, bc = NULL, gc = NULL;
    vte_status status = VTE_ERR_OUT_OF_MEMORY;
    if (!host || !want) {
        vte_error_set(err, status, "out of memory in the GEMM self-check");
        goto done;
    }
    unsigned seed = 12345;
    for (size_t i = 0; i < total; i++) host[i] = pseudo_random(&seed);
    float *ha = host, *hb = ha + a_count, *hc = hb + b_count;
    float *hba = hc + c_count, *hbb = hba + ba_count, *hbc = hbb + bb_count, *hgc = hbc + bc_count;
    if (!(a = vte_buffer_create(rt, a_count * 4, "self-check A", err)) ||
        !(b = vte_buffer_create(rt, b_count * 4, "self-check B", err)) ||
        !(c = vte_buffer_create(rt, c_count * 4, "self-check C", err)) ||
        !(ba = vte_buffer_create(rt, ba_count * 4, "self-check batched A", err)) ||
        !(bb = vte_buffer_create(rt, bb_count * 4, "self-check batched B", err)) ||
        !(bc = vte_buffer_create(rt, bc_count * 4, "self-check batched C", err)) ||
        !(gc = vte_buffer_create(rt, gc_count * 4, "self-check grouped C", err))) {
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
    /* Grouped: C_gi = ALPHA A_gi^T B_gi^T; A_gi stored [BK,BM] at (i*GROUPS + g) (interleaved), B_gi stored [BN,BK]
     * at (g*BATCH + i), C_gi at (i*GROUPS + g). */
    const vte_gemm_operand ga = {ba, 0, BM, GROUPS * BM * BK, BM * BK}, gb = {bb, 0, BK, BN * BK, BATCH * BN * BK};
    const vte_gemm_operand gcm = {gc, 0, BN, GROUPS * BM * BN, BM * BN};
    if ((status = vte_gemm_grouped(rt, VTE_GEMM_T, VTE_GEMM_T, BM, BN, BK, ALPHA, ga, gb, 0.0f, gcm, BATCH, GROUPS,
                                   err)))
        goto done;
    if ((status = vte_buffer_read(rt, c, 0, c_count * 4, hc, err)) ||
        (status = vte_buffer_read(rt, bc, 0, bc_count * 4, hbc, err)) ||
        (status = vte_buffer_read(rt, gc, 0, gc_count * 4, hgc, err)))
        goto done;
    reference_gemm(VTE_GEMM_N, VTE_GEMM_T, M, N, K, ha + OFFSET, K, hb, K, want, N);
    for (size_t i = 0; i < BATCH; i++)
        reference_gemm(VTE_GEMM_N, VTE_GEMM_T, BM, BN, BK, hba + i * BM * BK, BK, hbb + i * BN * BK, BK,
                       want + c_count + i * BM * BN, BN);
    double *want_grouped = want + c_count + bc_count;
    for (size_t g = 0; g < GROUPS; g++)
        for (size_t i = 0; i < BATCH; i++) {
            double *w = want_grouped + (i * GROUPS + g) * BM * BN;
            reference_gemm(VTE_GEMM_T, VTE_GEMM_T, BM, BN, BK, hba + (i * GROUPS + g) * BM * BK, BM,
                           hbb + (g * BATCH + i) * BN * BK, BK, w, BN);
            for (size_t j = 0; j < BM * BN; j++) w[j] *= ALPHA;
        }
    if ((status = compare(backend, hc, want, c_count, K, "GEMM 37x29x53, B transposed", err))) goto done;
    if ((status = compare(backend, hbc, want + c_count, bc_count, BK, "strided-batched GEMM 3x17x19x11", err)))
        goto done;
    status = compare(backend, hgc, want_grouped, gc_count, BK, "grouped GEMM 2x3x17x19x11, both transposed", err);
done:
    vte_buffer_release(&a);
    vte_buffer_release(&b);
    vte_buffer_release(&c);
    vte_buffer_release(&ba);
    vte_buffer_release(&bb);
    vte_buffer_release(&bc);
    vte_buffer_release(&gc);
    free(host);
    free(want);
    return status;
}

vte_status vte_gemm_self_check(vte_runtime *rt, vte_error *err) {
    vte_status status = prepare(rt, err);
    if (status != VTE_OK) return status;
    struct vte_gemm_state *state = rt->gemm;
    if (state->self_checked == 0) { /* every candidate, each alone */
        vte_error_clear(&state->self_check_error);
        state->self_checked = 1;
        for (size_t i = 0; i < state->candidate_count && state->self_checked > 0; i++) {
            state->pinned = (int)i;
            if (run_self_check(rt, &state->self_check_error) != VTE_OK) state->self_checked = -1;
        }
        state->pinned = -1;
    }
    if (state->self_checked > 0) return VTE_OK;
    if (err) *err = state->self_check_error;
    return state->self_check_error.code;
}

void vte_gemm_release(vte_runtime *rt) {
    struct vte_gemm_state *state = rt->gemm;
    if (!state) return;
    for (size_t i = 0; state->prepared > 0 && i < state->candidate_count; i++)
        if (state->candidates[i]->release) state->candidates[i]->release(rt, state->candidate_states[i]);
    free(state->measured);
    free(state);
    rt->gemm = NULL;
}
