/* CPU GEMM candidates side by side on every GEMM of a ViT-B/16 forward pass (docs/performance.md, "CPU GEMM
 * paths"). Built once per candidate by tools/bench-gemm.sh (not by CMake: the main build does not depend on these
 * libraries), with exactly one of
 *
 *   -DBENCH_OPENBLAS  OpenBLAS cblas_sgemm (core type: whatever OPENBLAS_CORETYPE or its detection gives)
 *   -DBENCH_ONEDNN    oneDNN dnnl_sgemm and the matmul primitive (plain weights, and weights in the layout the
 *                     primitive asks for, reordered once outside the timing)
 *   -DBENCH_LIBXSMM   libxsmm: libxsmm_sgemm_omp (libxsmmext) for the linear layers, JIT kernels per head for
 *                     attention; linked against libxsmmnoblas so that a fall-back to BLAS fails the check
 *   -DBENCH_BLIS      BLIS bli_sgemm (typed API with row and column strides)
 *   -DBENCH_OWN       our AVX-512 kernels for the attention products (no library)
 *
 *   bench-gemm-X [--threads N] [--reps N] [--warmup N] [--batches 1,8] [--only SHAPE] [--variant NAME]
 *
 * The shapes and layouts are the engine's (src/vit/forward.c, src/model/model.c): row-major; a linear layer is
 * C[M=batch*197, N] = A[M, K] * W[K, N] with W stored transposed ([in, out]) at load time; the patch embedding is
 * C[batch*196, 768] = im2col[batch*196, 768] * W[768, 768]; attention reads Q, K and V in place from the packed
 * [batch*197, 3*768] QKV activations (head h at column h*64) and writes the scores [batch, 12, 197, 197] and the
 * context [batch*197, 768] (head h at column h*64): per image and head, S = Q K^T / 8 and Ctx = P V.
 * One "call" of an attention shape is all heads of all images (what one layer does).
 *
 * Each shape: the first call (JIT/packing/thread start-up included) is timed alone, its result is checked
 * against a double-precision reference on sampled rows of every matrix (error relative to sum |a||b|, so it
 * does not depend on cancellation), then --warmup untimed calls and --reps timed calls; prints the median.
 * Output lines (for tools/bench-gemm.sh):
 *   R variant shape batch M N K count first_ms median_ms GFLOP/s rel_err
 *   S variant shape batch reason...          (shape not run by this variant)
 *   F variant batch ms_per_image             (sum over one forward pass, when every shape ran)
 *   # free text */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#ifdef _OPENMP
#include <omp.h>
#endif

#if defined(BENCH_OPENBLAS) + defined(BENCH_ONEDNN) + defined(BENCH_LIBXSMM) + defined(BENCH_BLIS) + \
        defined(BENCH_OWN) != 1
#error "define exactly one of BENCH_OPENBLAS, BENCH_ONEDNN, BENCH_LIBXSMM, BENCH_BLIS, BENCH_OWN"
#endif

/* ViT-B/16 at 224x224. */
enum { TOKENS = 197, PATCHES = 196, HIDDEN = 768, MLP = 3072, HEADS = 12, HEAD_DIM = 64, LAYERS = 12 };

enum { OP_N = 0, OP_T = 1 };

/* A row-major operand: matrix (image i, head h) starts at base + i * image_stride + h * head_stride. */
typedef struct operand {
    float *base;
    size_t ld, image_stride, head_stride;
} operand;

typedef struct problem {
    const char *name; /* patch, qkv, qk, pv, out, fc1, fc2 */
    int batch;        /* images in the forward batch */
    int per_forward;  /* calls per forward pass: LAYERS, or 1 for the patch embedding */
    int attention;    /* 1: strided over images x heads */
    int op_a, op_b;
    size_t m, n, k;
    float alpha;
    operand a, b, c;
    size_t images, heads;  /* 1 x 1 for a linear layer */
    size_t c_elements;     /* size of c.base, for the sentinel fill */
    float *buffers[3];
} problem;

static inline float *mat(const operand *o, size_t image, size_t head) {
    return o->base + image * o->image_stride + head * o->head_stride;
}

static double now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec * 1e-6;
}

static float *alloc_floats(size_t count) {
    void *p = NULL;
    if (posix_memalign(&p, 64, count * sizeof(float) + 64) != 0) {
        fprintf(stderr, "out of memory\n");
        exit(3);
    }
    return p;
}

static uint64_t rng_state = 0x9e3779b97f4a7c15u;
static float uniform(void) { /* [-1, 1) */
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return (float)((double)(rng_state >> 40) / (double)(1u << 23) - 1.0);
}

static float *random_floats(size_t count) {
    float *p = alloc_floats(count);
    for (size_t i = 0; i < count; i++) p[i] = uniform();
    return p;
}

/* C[rows, out] = A[rows, in] * W[in, out]. */
static void make_linear(problem *p, const char *name, int batch, size_t rows, size_t in, size_t out, int per_forward) {
    memset(p, 0, sizeof *p);
    p->name = name;
    p->batch = batch;
    p->per_forward = per_forward;
    p->op_a = p->op_b = OP_N;
    p->m = rows, p->n = out, p->k = in;
    p->alpha = 1.0f;
    p->images = p->heads = 1;
    p->buffers[0] = random_floats(rows * in);
    p->buffers[1] = random_floats(in * out);
    p->buffers[2] = alloc_floats(rows * out);
    p->a = (operand){p->buffers[0], in, 0, 0};
    p->b = (operand){p->buffers[1], out, 0, 0};
    p->c = (operand){p->buffers[2], out, 0, 0};
    p->c_elements = rows * out;
}

/* S[b, h] = Q_bh K_bh^T / 8 (qk) or Ctx_bh = P[b, h] V_bh (pv), as src/vit/forward.c lays them out. */
static void make_attention(problem *p, const char *name, int batch) {
    memset(p, 0, sizeof *p);
    const size_t T = TOKENS, D = HIDDEN, Dh = HEAD_DIM, H = HEADS, B = (size_t)batch;
    p->name = name;
    p->batch = batch;
    p->per_forward = LAYERS;
    p->attention = 1;
    p->images = B, p->heads = H;
    float *qkv = random_floats(B * T * 3 * D);
    p->buffers[0] = qkv;
    if (strcmp(name, "qk") == 0) {
        p->op_a = OP_N, p->op_b = OP_T;
        p->m = T, p->n = T, p->k = Dh;
        p->alpha = 0.125f; /* 1 / sqrt(64) */
        p->buffers[1] = alloc_floats(B * H * T * T);
        p->a = (operand){qkv, 3 * D, T * 3 * D, Dh};
        p->b = (operand){qkv + D, 3 * D, T * 3 * D, Dh};
        p->c = (operand){p->buffers[1], T, H * T * T, T * T};
        p->c_elements = B * H * T * T;
    } else {
        p->op_a = p->op_b = OP_N;
        p->m = T, p->n = Dh, p->k = T;
        p->alpha = 1.0f;
        p->buffers[1] = random_floats(B * H * T * T); /* the probabilities: values do not matter for speed */
        p->buffers[2] = alloc_floats(B * T * D);
        p->a = (operand){p->buffers[1], T, H * T * T, T * T};
        p->b = (operand){qkv + 2 * D, 3 * D, T * 3 * D, Dh};
        p->c = (operand){p->buffers[2], D, T * D, Dh};
        p->c_elements = B * T * D;
    }
}

static void free_problem(problem *p) {
    for (int i = 0; i < 3; i++) free(p->buffers[i]);
}

static float *c_buffer(const problem *p) { return p->c.base; }

static double problem_flops(const problem *p) {
    return 2.0 * (double)p->m * (double)p->n * (double)p->k * (double)(p->images * p->heads);
}

static inline float element(const operand *o, const float *m, int op, size_t row, size_t col) {
    return op == OP_N ? m[row * o->ld + col] : m[col * o->ld + row];
}

/* Largest |c - ref| / (|alpha| sum |a||b|) over sampled rows (all columns) of every matrix of the batch. */
static double check(const problem *p) {
    double worst = 0.0;
    for (size_t i = 0; i < p->images; i++)
        for (size_t h = 0; h < p->heads; h++) {
            const float *a = mat(&p->a, i, h), *b = mat(&p->b, i, h), *c = mat(&p->c, i, h);
            size_t rows[6] = {0, 1, p->m / 2, p->m - 1, (size_t)((uniform() * 0.5f + 0.5f) * (float)(p->m - 1)),
                              (i * 7 + h * 13) % p->m};
            for (int r = 0; r < 6; r++)
                for (size_t col = 0; col < p->n; col++) {
                    double sum = 0.0, bound = 0.0;
                    for (size_t kk = 0; kk < p->k; kk++) {
                        double x = element(&p->a, a, p->op_a, rows[r], kk);
                        double y = element(&p->b, b, p->op_b, kk, col);
                        sum += x * y;
                        bound += fabs(x * y);
                    }
                    sum *= p->alpha;
                    bound *= fabs(p->alpha);
                    double got = c[rows[r] * p->c.ld + col];
                    double e = fabs(got - sum) / (bound > 1e-30 ? bound : 1e-30);
                    if (!(e <= worst)) worst = isnan(e) ? INFINITY : e;
                }
        }
    return worst;
}

/* ---- candidates ---------------------------------------------------------------------------------------- */

typedef struct variant {
    const char *name;
    /* 0: ready (sets *state); otherwise the shape is skipped with *why. */
    int (*prepare)(problem *p, void **state, const char **why);
    void (*run)(problem *p, void *state);
    void (*release)(void *state);
} variant;

static int threads = 2;

/* Runs fn(p, state, image, head) for every matrix of an attention batch, split over `threads` OpenMP threads
 * (the library itself single-threaded inside). */
typedef void (*one_fn)(problem *p, void *state, size_t image, size_t head);
static void split_over_heads(problem *p, void *state, one_fn fn) {
    const long total = (long)(p->images * p->heads);
#pragma omp parallel for num_threads(threads) schedule(static)
    for (long t = 0; t < total; t++) fn(p, state, (size_t)t / p->heads, (size_t)t % p->heads);
}

__attribute__((unused)) static int attention_only(problem *p, void **state, const char **why) {
    (void)state;
    if (!p->attention) {
        *why = "linear layers run in the other variants";
        return 1;
    }
    return 0;
}

#ifdef BENCH_OPENBLAS
#include <cblas.h>

static void describe(void) {
    openblas_set_num_threads(threads);
    const char *env = getenv("OPENBLAS_CORETYPE");
    printf("# candidate OpenBLAS: core %s (OPENBLAS_CORETYPE=%s), config \"%s\", %d threads\n",
           openblas_get_corename(), env ? env : "unset", openblas_get_config(), threads);
}

static void blas_one(problem *p, void *state, size_t i, size_t h) {
    (void)state;
    cblas_sgemm(CblasRowMajor, p->op_a ? CblasTrans : CblasNoTrans, p->op_b ? CblasTrans : CblasNoTrans,
                (blasint)p->m, (blasint)p->n, (blasint)p->k, p->alpha, mat(&p->a, i, h), (blasint)p->a.ld,
                mat(&p->b, i, h), (blasint)p->b.ld, 0.0f, mat(&p->c, i, h), (blasint)p->c.ld);
}

/* As src/runtime/gemm_host.c: one call per matrix, each with the library's threads. */
static void blas_run(problem *p, void *state) {
    for (size_t i = 0; i < p->images; i++)
        for (size_t h = 0; h < p->heads; h++) blas_one(p, state, i, h);
}

static int split_prepare(problem *p, void **state, const char **why) {
    if (attention_only(p, state, why)) return 1;
    openblas_set_num_threads(1);
    return 0;
}
static void split_run(problem *p, void *state) { split_over_heads(p, state, blas_one); }
static void split_release(void *state) {
    (void)state;
    openblas_set_num_threads(threads);
}

static const variant variants[] = {
    {"openblas", NULL, blas_run, NULL},
    {"openblas-heads-split", split_prepare, split_run, split_release},
};
#endif

#ifdef BENCH_BLIS
#include <blis.h>

static void describe(void) {
    bli_thread_set_num_threads(threads);
    const char *env = getenv("BLIS_ARCH_TYPE");
    printf("# candidate BLIS %s: sub-configuration %s (BLIS_ARCH_TYPE=%s), %d threads\n", bli_info_get_version_str(),
           bli_arch_string(bli_arch_query_id()), env ? env : "unset", threads);
}

static void blis_one(problem *p, void *state, size_t i, size_t h) {
    (void)state;
    float alpha = p->alpha, beta = 0.0f;
    bli_sgemm(p->op_a ? BLIS_TRANSPOSE : BLIS_NO_TRANSPOSE, p->op_b ? BLIS_TRANSPOSE : BLIS_NO_TRANSPOSE,
              (dim_t)p->m, (dim_t)p->n, (dim_t)p->k, &alpha, mat(&p->a, i, h), (inc_t)p->a.ld, 1, mat(&p->b, i, h),
              (inc_t)p->b.ld, 1, &beta, mat(&p->c, i, h), (inc_t)p->c.ld, 1);
}

static void blis_run(problem *p, void *state) {
    for (size_t i = 0; i < p->images; i++)
        for (size_t h = 0; h < p->heads; h++) blis_one(p, state, i, h);
}

static int split_prepare(problem *p, void **state, const char **why) {
    if (attention_only(p, state, why)) return 1;
    bli_thread_set_num_threads(1);
    return 0;
}
static void split_run(problem *p, void *state) { split_over_heads(p, state, blis_one); }
static void split_release(void *state) {
    (void)state;
    bli_thread_set_num_threads(threads);
}

static const variant variants[] = {
    {"blis", NULL, blis_run, NULL},
    {"blis-heads-split", split_prepare, split_run, split_release},
};
#endif

#ifdef BENCH_ONEDNN
#include <oneapi/dnnl/dnnl.h>

static dnnl_engine_t engine;
static dnnl_stream_t stream;

#define DNNL_OK(expr)                                                                              \
    do {                                                                                           \
        dnnl_status_t s_ = (expr);                                                                 \
        if (s_ != dnnl_success) {                                                                  \
            fprintf(stderr, "%s:%d: %s failed (status %d)\n", __FILE__, __LINE__, #expr, (int)s_); \
            exit(3);                                                                               \
        }                                                                                          \
    } while (0)

static const char *isa_name(dnnl_cpu_isa_t isa) {
    switch (isa) {
    case dnnl_cpu_isa_avx2: return "avx2";
    case dnnl_cpu_isa_avx512_core: return "avx512_core";
    case dnnl_cpu_isa_avx512_core_vnni: return "avx512_core_vnni";
    case dnnl_cpu_isa_avx512_core_bf16: return "avx512_core_bf16";
    case dnnl_cpu_isa_avx512_core_amx: return "avx512_core_amx";
    default: return "other";
    }
}

static void describe(void) {
    omp_set_num_threads(threads);
    DNNL_OK(dnnl_engine_create(&engine, dnnl_cpu, 0));
    DNNL_OK(dnnl_stream_create(&stream, engine, dnnl_stream_default_flags));
    const dnnl_version_t *v = dnnl_version();
    printf("# candidate oneDNN %d.%d.%d: ISA %s, %d OpenMP threads\n", v->major, v->minor, v->patch,
           isa_name(dnnl_get_effective_cpu_isa()), threads);
}

static void sgemm_one(problem *p, void *state, size_t i, size_t h) {
    (void)state;
    DNNL_OK(dnnl_sgemm(p->op_a ? 'T' : 'N', p->op_b ? 'T' : 'N', (dnnl_dim_t)p->m, (dnnl_dim_t)p->n,
                       (dnnl_dim_t)p->k, p->alpha, mat(&p->a, i, h), (dnnl_dim_t)p->a.ld, mat(&p->b, i, h),
                       (dnnl_dim_t)p->b.ld, 0.0f, mat(&p->c, i, h), (dnnl_dim_t)p->c.ld));
}

static void sgemm_run(problem *p, void *state) {
    for (size_t i = 0; i < p->images; i++)
        for (size_t h = 0; h < p->heads; h++) sgemm_one(p, state, i, h);
}

static int sgemm_split_prepare(problem *p, void **state, const char **why) { return attention_only(p, state, why); }
static void sgemm_split_run(problem *p, void *state) { split_over_heads(p, state, sgemm_one); }

typedef struct matmul_state {
    dnnl_primitive_t prim;
    dnnl_memory_t src, weights, dst;
    float *packed; /* weights reordered into the primitive's layout, or NULL */
} matmul_state;

/* A [images, heads, rows, cols] (4-D, attention) or [rows, cols] (2-D) descriptor of a row-major operand. */
static void operand_md(dnnl_memory_desc_t *md, const problem *p, const operand *o, int op, size_t rows,
                       size_t cols) {
    if (p->attention) {
        dnnl_dims_t dims = {(dnnl_dim_t)p->images, (dnnl_dim_t)p->heads, (dnnl_dim_t)rows, (dnnl_dim_t)cols};
        dnnl_dims_t strides = {(dnnl_dim_t)o->image_stride, (dnnl_dim_t)o->head_stride,
                               op == OP_N ? (dnnl_dim_t)o->ld : 1, op == OP_N ? 1 : (dnnl_dim_t)o->ld};
        DNNL_OK(dnnl_memory_desc_init_by_strides(md, 4, dims, dnnl_f32, strides));
    } else {
        dnnl_dims_t dims = {(dnnl_dim_t)rows, (dnnl_dim_t)cols};
        dnnl_dims_t strides = {op == OP_N ? (dnnl_dim_t)o->ld : 1, op == OP_N ? 1 : (dnnl_dim_t)o->ld};
        DNNL_OK(dnnl_memory_desc_init_by_strides(md, 2, dims, dnnl_f32, strides));
    }
}

static int matmul_prepare_common(problem *p, void **state, int pack) {
    matmul_state *s = calloc(1, sizeof *s);
    dnnl_memory_desc_t src_md, weights_md, dst_md, user_weights_md;
    operand_md(&src_md, p, &p->a, p->op_a, p->m, p->k);
    operand_md(&user_weights_md, p, &p->b, p->op_b, p->k, p->n);
    operand_md(&dst_md, p, &p->c, OP_N, p->m, p->n);
    pack = pack && !p->attention; /* attention's "weights" are activations: nothing to pack ahead */
    if (pack) {
        dnnl_dims_t dims = {(dnnl_dim_t)p->k, (dnnl_dim_t)p->n};
        DNNL_OK(dnnl_memory_desc_init_by_tag(&weights_md, 2, dims, dnnl_f32, dnnl_format_tag_any));
    } else {
        weights_md = user_weights_md;
    }
    dnnl_primitive_attr_t attr;
    DNNL_OK(dnnl_primitive_attr_create(&attr));
    if (p->alpha != 1.0f) DNNL_OK(dnnl_primitive_attr_set_output_scales(attr, 1, 0, &p->alpha));
    dnnl_matmul_desc_t desc;
    DNNL_OK(dnnl_matmul_desc_init(&desc, &src_md, &weights_md, NULL, &dst_md));
    dnnl_primitive_desc_t pd;
    DNNL_OK(dnnl_primitive_desc_create(&pd, &desc, attr, engine, NULL));
    DNNL_OK(dnnl_primitive_attr_destroy(attr));
    const char *impl = NULL;
    DNNL_OK(dnnl_primitive_desc_query(pd, dnnl_query_impl_info_str, 0, &impl));
    const dnnl_memory_desc_t *chosen = dnnl_primitive_desc_query_md(pd, dnnl_query_weights_md, 0);
    printf("# oneDNN matmul %s b%d: implementation %s%s\n", p->name, p->batch, impl,
           pack ? (dnnl_memory_desc_equal(chosen, &user_weights_md) ? ", weights kept as they are"
                                                                       : ", weights reordered")
                : "");
    DNNL_OK(dnnl_primitive_create(&s->prim, pd));
    DNNL_OK(dnnl_memory_create(&s->src, &src_md, engine, mat(&p->a, 0, 0)));
    DNNL_OK(dnnl_memory_create(&s->dst, &dst_md, engine, mat(&p->c, 0, 0)));
    if (pack) {
        s->packed = alloc_floats(dnnl_memory_desc_get_size(chosen) / sizeof(float) + 16);
        dnnl_memory_t user;
        DNNL_OK(dnnl_memory_create(&user, &user_weights_md, engine, mat(&p->b, 0, 0)));
        DNNL_OK(dnnl_memory_create(&s->weights, chosen, engine, s->packed));
        dnnl_primitive_desc_t rpd;
        DNNL_OK(dnnl_reorder_primitive_desc_create(&rpd, &user_weights_md, engine, chosen, engine, NULL));
        dnnl_primitive_t reorder;
        DNNL_OK(dnnl_primitive_create(&reorder, rpd));
        dnnl_exec_arg_t args[2] = {{DNNL_ARG_FROM, user}, {DNNL_ARG_TO, s->weights}};
        DNNL_OK(dnnl_primitive_execute(reorder, stream, 2, args));
        DNNL_OK(dnnl_stream_wait(stream));
        dnnl_primitive_destroy(reorder);
        dnnl_primitive_desc_destroy(rpd);
        dnnl_memory_destroy(user);
    } else {
        DNNL_OK(dnnl_memory_create(&s->weights, &weights_md, engine, mat(&p->b, 0, 0)));
    }
    dnnl_primitive_desc_destroy(pd);
    *state = s;
    return 0;
}

static int matmul_prepare(problem *p, void **state, const char **why) {
    (void)why;
    return matmul_prepare_common(p, state, 0);
}
static int matmul_packed_prepare(problem *p, void **state, const char **why) {
    (void)why;
    return matmul_prepare_common(p, state, 1);
}

static void matmul_run(problem *p, void *state) {
    (void)p;
    matmul_state *s = state;
    dnnl_exec_arg_t args[3] = {{DNNL_ARG_SRC, s->src}, {DNNL_ARG_WEIGHTS, s->weights}, {DNNL_ARG_DST, s->dst}};
    DNNL_OK(dnnl_primitive_execute(s->prim, stream, 3, args));
    DNNL_OK(dnnl_stream_wait(stream));
}

static void matmul_release(void *state) {
    matmul_state *s = state;
    dnnl_primitive_destroy(s->prim);
    dnnl_memory_destroy(s->src);
    dnnl_memory_destroy(s->weights);
    dnnl_memory_destroy(s->dst);
    free(s->packed);
    free(s);
}

static const variant variants[] = {
    {"onednn-sgemm", NULL, sgemm_run, NULL},
    {"onednn-sgemm-heads-split", sgemm_split_prepare, sgemm_split_run, NULL},
    {"onednn-matmul", matmul_prepare, matmul_run, matmul_release},
    {"onednn-matmul-packed", matmul_packed_prepare, matmul_run, matmul_release},
};
#endif

#ifdef BENCH_LIBXSMM
#include <libxsmm.h>

static void describe(void) {
    omp_set_num_threads(threads);
    libxsmm_init();
    printf("# candidate libxsmm %s: target %s, %d OpenMP threads (linked without BLAS: no fall-back)\n",
           LIBXSMM_VERSION, libxsmm_get_target_arch(), threads);
}

/* libxsmm is column-major: the row-major C = op_a(A) op_b(B) is the column-major C = op_b(B) op_a(A). */
static void xsmm_run_linear(problem *p, void *state) {
    (void)state;
    const char ta = p->op_b ? 'T' : 'N', tb = p->op_a ? 'T' : 'N';
    const libxsmm_blasint m = (libxsmm_blasint)p->n, n = (libxsmm_blasint)p->m, k = (libxsmm_blasint)p->k;
    const libxsmm_blasint lda = (libxsmm_blasint)p->b.ld, ldb = (libxsmm_blasint)p->a.ld,
                          ldc = (libxsmm_blasint)p->c.ld;
    const float beta = 0.0f;
    libxsmm_sgemm_omp(&ta, &tb, &m, &n, &k, &p->alpha, p->b.base, &lda, p->a.base, &ldb, &beta, p->c.base, &ldc);
}

/* libxsmm 1.17's JIT takes neither a transposed first operand nor alpha != 1, which S = Q K^T / 8 needs (its
 * column-major form is (K^T)^T Q^T: both operands have the head dimension contiguous). So for qk the K of each
 * head is first transposed and scaled by alpha (our loop, timed with the rest), then a plain kernel runs. */
typedef struct xsmm_state {
    libxsmm_smmfunction kernel;
    float *scratch[64]; /* per thread, qk: alpha * K_h^T as a column-major [n, k] matrix (ld n) */
} xsmm_state;

static int xsmm_prepare(problem *p, void **state, const char **why) {
    if (!p->attention) return 0;
    const int qk = p->op_b == OP_T;
    const libxsmm_blasint m = (libxsmm_blasint)p->n, n = (libxsmm_blasint)p->m, k = (libxsmm_blasint)p->k;
    const libxsmm_blasint lda = qk ? m : (libxsmm_blasint)p->b.ld, ldb = (libxsmm_blasint)p->a.ld,
                          ldc = (libxsmm_blasint)p->c.ld;
    const float alpha = qk ? 1.0f : p->alpha, beta = 0.0f;
    const int flags = p->op_a ? LIBXSMM_GEMM_FLAG_TRANS_B : 0;
    libxsmm_smmfunction kernel = libxsmm_smmdispatch(m, n, k, &lda, &ldb, &ldc, &alpha, &beta, &flags, NULL);
    if (!kernel) {
        *why = "libxsmm_smmdispatch gives no kernel";
        return 1;
    }
    xsmm_state *s = calloc(1, sizeof *s);
    s->kernel = kernel;
    if (qk)
        for (int t = 0; t < threads && t < 64; t++) s->scratch[t] = alloc_floats(p->n * p->k);
    *state = s;
    return 0;
}

static void xsmm_one(problem *p, void *state, size_t i, size_t h) {
    xsmm_state *s = state;
    const float *b = mat(&p->b, i, h);
    if (p->op_b == OP_T) {
        float *kt = s->scratch[omp_get_thread_num()];
        for (size_t j = 0; j < p->n; j++)
            for (size_t d = 0; d < p->k; d++) kt[d * p->n + j] = p->alpha * b[j * p->b.ld + d];
        b = kt;
    }
    s->kernel(b, mat(&p->a, i, h), mat(&p->c, i, h));
}

static void xsmm_run(problem *p, void *state) {
    if (p->attention) split_over_heads(p, state, xsmm_one);
    else xsmm_run_linear(p, state);
}

static void xsmm_release(void *state) {
    xsmm_state *s = state;
    if (!s) return;
    for (int t = 0; t < 64; t++) free(s->scratch[t]);
    free(s);
}

static const variant variants[] = {
    {"libxsmm", xsmm_prepare, xsmm_run, xsmm_release},
};
#endif

#ifdef BENCH_OWN
#include <immintrin.h>

/* Our AVX-512 kernels for the two attention products, threaded over (image, head) matrices. A register tile
 * is MR rows x 16*NV columns of C; B rows are loaded as vectors and A elements broadcast. */
#define OWN_TARGET __attribute__((target("avx512f,fma"), always_inline)) static inline

OWN_TARGET void tile_nn(int mr, int nv, size_t k, float alpha, const float *a, size_t lda, const float *b,
                        size_t ldb, float *c, size_t ldc, __mmask16 last) {
    __m512 acc[6][4];
    for (int r = 0; r < mr; r++)
        for (int v = 0; v < nv; v++) acc[r][v] = _mm512_setzero_ps();
    for (size_t kk = 0; kk < k; kk++) {
        __m512 bv[4];
        for (int v = 0; v < nv; v++)
            bv[v] = v == nv - 1 ? _mm512_maskz_loadu_ps(last, b + kk * ldb + 16 * v)
                                : _mm512_loadu_ps(b + kk * ldb + 16 * v);
        for (int r = 0; r < mr; r++) {
            __m512 av = _mm512_set1_ps(a[r * lda + kk]);
            for (int v = 0; v < nv; v++) acc[r][v] = _mm512_fmadd_ps(av, bv[v], acc[r][v]);
        }
    }
    const __m512 scale = _mm512_set1_ps(alpha);
    for (int r = 0; r < mr; r++)
        for (int v = 0; v < nv; v++) {
            __m512 x = _mm512_mul_ps(acc[r][v], scale);
            if (v == nv - 1) _mm512_mask_storeu_ps(c + r * ldc + 16 * v, last, x);
            else _mm512_storeu_ps(c + r * ldc + 16 * v, x);
        }
}

#define TILE_CASE(MR, NV)                                                   \
    case (MR) * 8 + (NV):                                                   \
        tile_nn(MR, NV, k, alpha, a + i * lda, lda, b + j, ldb, c + i * ldc + j, ldc, last); \
        break;
#define TILE_ROW(MR) TILE_CASE(MR, 1) TILE_CASE(MR, 2) TILE_CASE(MR, 3) TILE_CASE(MR, 4)

/* C[m, n] = alpha * A[m, k] * B[k, n], all row-major. */
__attribute__((target("avx512f,fma"))) static void gemm_nn(size_t m, size_t n, size_t k, float alpha, const float *a,
                                                        size_t lda, const float *b, size_t ldb, float *c,
                                                        size_t ldc) {
    for (size_t j = 0; j < n; j += 64) {
        const size_t width = n - j < 64 ? n - j : 64;
        const int nv = (int)((width + 15) / 16);
        const size_t tail = width - 16 * (size_t)(nv - 1);
        const __mmask16 last = (__mmask16)(tail == 16 ? 0xffff : (1u << tail) - 1);
        for (size_t i = 0; i < m; i += 6) {
            const int mr = (int)(m - i < 6 ? m - i : 6);
            switch (mr * 8 + nv) {
                TILE_ROW(1) TILE_ROW(2) TILE_ROW(3) TILE_ROW(4) TILE_ROW(5) TILE_ROW(6)
            }
        }
    }
}

typedef struct own_state {
    float *scratch[64]; /* per thread: K^T of one head, [64, 208] */
} own_state;

enum { KT_LD = 208 };

static void own_one(problem *p, void *state, size_t i, size_t h) {
    const float *a = mat(&p->a, i, h), *b = mat(&p->b, i, h);
    float *c = mat(&p->c, i, h);
    if (p->op_b == OP_T) { /* S = Q K^T: transpose K_h [n, k] into [k, n] first */
        float *kt = ((own_state *)state)->scratch[omp_get_thread_num()];
        for (size_t j = 0; j < p->n; j++)
            for (size_t d = 0; d < p->k; d++) kt[d * KT_LD + j] = b[j * p->b.ld + d];
        gemm_nn(p->m, p->n, p->k, p->alpha, a, p->a.ld, kt, KT_LD, c, p->c.ld);
    } else {
        gemm_nn(p->m, p->n, p->k, p->alpha, a, p->a.ld, b, p->b.ld, c, p->c.ld);
    }
}

static int own_prepare(problem *p, void **state, const char **why) {
    if (attention_only(p, state, why)) return 1;
    if (!__builtin_cpu_supports("avx512f")) {
        *why = "no AVX-512 on this CPU";
        return 1;
    }
    own_state *s = calloc(1, sizeof *s);
    for (int t = 0; t < threads && t < 64; t++) s->scratch[t] = alloc_floats((size_t)HEAD_DIM * KT_LD);
    *state = s;
    return 0;
}

static void own_run(problem *p, void *state) { split_over_heads(p, state, own_one); }

static void own_release(void *state) {
    own_state *s = state;
    for (int t = 0; t < 64; t++) free(s->scratch[t]);
    free(s);
}

/* The FMA rate, GFLOP/s: per thread 12 independent chains of 512-bit (or 256-bit) FMAs, at least latency x pipes
 * on current x86 cores, and few enough that gcc keeps the 256-bit ones in ymm0-15 without spilling. */
__attribute__((target("avx512f,fma"))) static double fma_peak(int wide) {
    const long iterations = 20 * 1000 * 1000;
    double best = 0.0;
    for (int attempt = 0; attempt < 3; attempt++) {
        double t0 = now_ms();
        float sink = 0.0f;
#pragma omp parallel num_threads(threads) reduction(+ : sink)
        {
            const float seed = (float)(omp_get_thread_num() + 1) * 1e-3f;
            if (wide) {
                __m512 acc[12], x = _mm512_set1_ps(0.999999f), y = _mm512_set1_ps(1e-7f);
                for (int r = 0; r < 12; r++) acc[r] = _mm512_set1_ps(seed * (float)r);
                for (long it = 0; it < iterations; it++)
                    for (int r = 0; r < 12; r++) acc[r] = _mm512_fmadd_ps(acc[r], x, y);
                for (int r = 0; r < 12; r++) sink += _mm512_reduce_add_ps(acc[r]);
            } else {
                __m256 acc[12], x = _mm256_set1_ps(0.999999f), y = _mm256_set1_ps(1e-7f);
                for (int r = 0; r < 12; r++) acc[r] = _mm256_set1_ps(seed * (float)r);
                for (long it = 0; it < iterations; it++)
                    for (int r = 0; r < 12; r++) acc[r] = _mm256_fmadd_ps(acc[r], x, y);
                float lanes[8];
                for (int r = 0; r < 12; r++) {
                    _mm256_storeu_ps(lanes, acc[r]);
                    for (int l = 0; l < 8; l++) sink += lanes[l];
                }
            }
        }
        double ms = now_ms() - t0;
        if (sink == 42.0f) printf("#\n"); /* keeps the sums alive */
        double gflops = (double)iterations * 12 * (wide ? 16 : 8) * 2 * threads / ms * 1e-6;
        if (gflops > best) best = gflops;
    }
    return best;
}

static void describe(void) {
    const int avx512 = __builtin_cpu_supports("avx512f");
    printf("# candidate own AVX-512 attention kernels (gcc, OpenMP over heads): %d threads, AVX-512F %s\n",
           threads, avx512 ? "present" : "absent");
    if (avx512)
        printf("# peak fp32 FMA rate, %d threads: %.0f GFLOP/s with 512-bit FMAs, %.0f with 256-bit FMAs\n", threads,
               fma_peak(1), fma_peak(0));
}

static const variant variants[] = {
    {"own-avx512", own_prepare, own_run, own_release},
};
#endif

/* ---- driver -------------------------------------------------------------------------------------------- */

static int compare_doubles(const void *x, const void *y) {
    double a = *(const double *)x, b = *(const double *)y;
    return (a > b) - (a < b);
}

static const char *const shape_names[] = {"patch", "qkv", "qk", "pv", "out", "fc1", "fc2"};
enum { SHAPE_COUNT = sizeof shape_names / sizeof shape_names[0] };

static void make_shape(problem *p, int s, int batch) {
    const size_t rows = (size_t)batch * TOKENS;
    switch (s) {
    case 0: make_linear(p, "patch", batch, (size_t)batch * PATCHES, HIDDEN, HIDDEN, 1); break;
    case 1: make_linear(p, "qkv", batch, rows, HIDDEN, 3 * HIDDEN, LAYERS); break;
    case 2: make_attention(p, "qk", batch); break;
    case 3: make_attention(p, "pv", batch); break;
    case 4: make_linear(p, "out", batch, rows, HIDDEN, HIDDEN, LAYERS); break;
    case 5: make_linear(p, "fc1", batch, rows, HIDDEN, MLP, LAYERS); break;
    default: make_linear(p, "fc2", batch, rows, MLP, HIDDEN, LAYERS); break;
    }
}

int main(int argc, char **argv) {
    int reps = 15, warmup = 2;
    const char *only = NULL, *only_variant = NULL, *batches = "1,8";
    double tolerance = 1e-4;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--threads") == 0 && i + 1 < argc) threads = atoi(argv[++i]);
        else if (strcmp(argv[i], "--reps") == 0 && i + 1 < argc) reps = atoi(argv[++i]);
        else if (strcmp(argv[i], "--warmup") == 0 && i + 1 < argc) warmup = atoi(argv[++i]);
        else if (strcmp(argv[i], "--batches") == 0 && i + 1 < argc) batches = argv[++i];
        else if (strcmp(argv[i], "--only") == 0 && i + 1 < argc) only = argv[++i];
        else if (strcmp(argv[i], "--variant") == 0 && i + 1 < argc) only_variant = argv[++i];
        else {
            fprintf(stderr,
                    "usage: %s [--threads N] [--reps N] [--warmup N] [--batches 1,8] [--only SHAPE] "
                    "[--variant NAME]\n",
                    argv[0]);
            return 2;
        }
    }
    if (threads < 1 || threads > 64 || reps < 1 || warmup < 0) {
        fprintf(stderr, "%s: --threads must be 1..64, --reps at least 1\n", argv[0]);
        return 2;
    }
    describe();
    fflush(stdout);
    double *times = malloc((size_t)reps * sizeof *times);
    int failures = 0;
    const size_t variant_count = sizeof variants / sizeof variants[0];
    for (const char *cursor = batches; *cursor;) {
        int batch = atoi(cursor);
        cursor += strcspn(cursor, ",");
        if (*cursor == ',') cursor++;
        if (batch < 1) continue;
        for (size_t v = 0; v < variant_count; v++) {
            const variant *var = &variants[v];
            if (only_variant && strcmp(only_variant, var->name) != 0) continue;
            double forward = 0.0;
            int complete = 1;
            for (int s = 0; s < SHAPE_COUNT; s++) {
                if (only && strcmp(only, shape_names[s]) != 0) {
                    complete = 0;
                    continue;
                }
                problem p;
                make_shape(&p, s, batch);
                void *state = NULL;
                const char *why = "not supported";
                if (var->prepare && var->prepare(&p, &state, &why) != 0) {
                    printf("S %s %s %d %s\n", var->name, p.name, batch, why);
                    complete = 0;
                    free_problem(&p);
                    continue;
                }
                float *c = c_buffer(&p);
                for (size_t e = 0; e < p.c_elements; e++) c[e] = 12345.0f; /* must be overwritten */
                double t0 = now_ms();
                var->run(&p, state);
                double first = now_ms() - t0;
                double err = check(&p);
                for (int w = 0; w < warmup; w++) var->run(&p, state);
                for (int r = 0; r < reps; r++) {
                    t0 = now_ms();
                    var->run(&p, state);
                    times[r] = now_ms() - t0;
                }
                qsort(times, (size_t)reps, sizeof *times, compare_doubles);
                double median = reps % 2 ? times[reps / 2] : 0.5 * (times[reps / 2 - 1] + times[reps / 2]);
                printf("R %s %s %d %zu %zu %zu %zu %.3f %.4f %.1f %.2e%s\n", var->name, p.name, batch, p.m, p.n, p.k,
                       p.images * p.heads, first, median, problem_flops(&p) / median * 1e-6, err,
                       err <= tolerance ? "" : " WRONG");
                if (!(err <= tolerance)) {
                    failures++;
                    complete = 0;
                }
                forward += p.per_forward * median;
                if (var->release) var->release(state);
                free_problem(&p);
                fflush(stdout);
            }
            if (complete) printf("F %s %d %.2f\n", var->name, batch, forward / batch);
        }
    }
    free(times);
    if (failures) fprintf(stderr, "%d shape(s) computed wrong results (rel_err above %.0e)\n", failures, tolerance);
    return failures ? 1 : 0;
}
