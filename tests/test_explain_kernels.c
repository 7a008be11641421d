/* Every kernel of kernels/explain.cl and kernels/fusion.cl (and classifier_seed of elementwise.cl) against a
 * plain C reference (double accumulation) on random inputs
 * whose sizes are not multiples of any work-group size (B=3, H=5, T=17, and T=197 for the cases that
 * matter at ViT-B/16 size). Attention inputs are random positive values normalised per row (rows sum to
 * 1); gradients have both signs. Reduction kernels are also run with local sizes 1 and 64 besides the
 * runtime's choice, since they must work for any work-group size.
 *
 * Tolerances (|got - want| <= atol + rtol*|want|):
 *   data movement, max/min fusion, cls_row_init, classifier_seed, discard_lowest: exact (0, 0);
 *   attention_fuse sums and means over <= 12 heads: atol 1e-7, rtol 1e-6;
 *   head_gradient_norms (compensated sums of up to 38809 terms): atol 0, rtol 2e-6;
 *   head_weights_normalize: atol 0, rtol 1e-6;
 *   add_identity_normalize: atol 1e-7, rtol 1e-6;  cls_row_step: atol 1e-6, rtol 1e-5;
 *   patch_minmax: atol 1e-6, rtol 1e-6;  legrad_accumulate: atol 1e-5, rtol 1e-5;
 *   seed_legrad_accumulate: atol 1e-7, rtol 1e-5;
 *   upsample_bilinear: atol 2e-6 against the formula evaluated here (float index arithmetic as PyTorch,
 *   double blend), and atol 5e-7 against hard-coded torch values. The torch values were produced once
 *   with torch 2.15 (CPU) by
 *     g = [[((y*7 + x*11 + y*x) % 17) / 16 for x in range(in_w)] for y in range(in_h)]  (float32)
 *     F.interpolate(g[None, None], size=(out_h, out_w), mode="bilinear", align_corners=False)
 *   Torch's own CPU kernels round differently from the plain formula by up to 2.4e-7 (they pick
 *   channels-last or generic code paths by output size and the compiler may contract to FMA), so
 *   bit equality with torch is not portable; 5e-7 is a few float ulps at these magnitudes.
 * Each check prints its measured maximum absolute and relative errors to stderr. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "explain/methods.h"
#include "runtime/runtime.h"
#include "test_support.h"

/* ---------------------------------------------------------------- helpers */

static float *alloc_floats(size_t n) {
    float *p = malloc((n ? n : 1) * sizeof(float));
    cr_assert_not_null(p);
    return p;
}

static cl_kernel make_kernel(vte_runtime *rt, const char *name) {
    vte_error err = {0};
    cl_kernel k = vte_kernel_create(rt, "explain", NULL, name, &err);
    cr_assert_not_null(k, "explain/%s: %s", name, err.message);
    return k;
}

static cl_mem upload_bytes(vte_runtime *rt, const void *host, size_t bytes) {
    vte_error err = {0};
    cl_mem buffer = vte_buffer_create(rt, bytes ? bytes : sizeof(float), "test buffer", &err);
    cr_assert_not_null(buffer, "%s", err.message);
    if (bytes) cr_assert_eq(vte_buffer_write(rt, buffer, 0, bytes, host, &err), VTE_OK, "%s", err.message);
    return buffer;
}

static cl_mem upload(vte_runtime *rt, const float *host, size_t n) { return upload_bytes(rt, host, n * sizeof(float)); }

static void download(vte_runtime *rt, cl_mem buffer, float *host, size_t n) {
    vte_error err = {0};
    cr_assert_eq(vte_buffer_read(rt, buffer, 0, n * sizeof(float), host, &err), VTE_OK, "%s", err.message);
}

static void check(const char *what, const float *got, const float *want, size_t n, double atol, double rtol) {
    vte_test_check(what, got, want, n, atol, rtol);
}

static size_t elementwise_local(vte_runtime *rt, cl_kernel k) { return vte_kernel_group_size(rt, k, 64); }

/* Runs an element-wise kernel over n work-items (global rounded up to the local size). */
#define RUN_ELEMENTWISE(rt, k, n, ...)                                                                  \
    do {                                                                                                 \
        vte_error err_ = {0};                                                                            \
        size_t local_ = elementwise_local((rt), (k)), global_ = vte_round_up((n), local_);               \
        cr_assert_eq(VTE_RUN((rt), (k), 1, &global_, &local_, &err_, __VA_ARGS__), VTE_OK, "%s", err_.message); \
    } while (0)

/* Local sizes tried for the work-group kernels: 1, 64 and the runtime's choice for 256 (all clamped). */
static size_t group_locals(vte_runtime *rt, cl_kernel k, size_t out[3]) {
    out[0] = 1;
    out[1] = vte_kernel_group_size(rt, k, 64);
    out[2] = vte_kernel_group_size(rt, k, 256);
    return out[2] == out[1] ? 2 : 3;
}

/* Random attention [count rows, tokens]: positive values normalised per row (in double, stored as float). */
static void fill_attention(float *a, size_t rows, int tokens, unsigned seed) {
    vte_test_fill_uniform(a, rows * (size_t)tokens, 0.01f, 1.0f, seed);
    for (size_t r = 0; r < rows; r++) {
        float *row = a + r * (size_t)tokens;
        double sum = 0.0;
        for (int j = 0; j < tokens; j++) sum += row[j];
        for (int j = 0; j < tokens; j++) row[j] = (float)(row[j] / sum);
    }
}

/* ---------------------------------------------------------------- attention_fuse */

static double ref_fuse(const float *attn, const float *grad, const float *w, int heads, size_t plane, size_t ij,
                       int mode) {
    double acc = mode == 1 ? -INFINITY : mode == 2 ? INFINITY : 0.0;
    for (int h = 0; h < heads; h++) {
        double a = attn[h * plane + ij], g = grad ? grad[h * plane + ij] : 0.0;
        switch (mode) {
        case 0: acc += a; break;
        case 1: acc = fmax(acc, a); break;
        case 2: acc = fmin(acc, a); break;
        case 3:
        case 4: acc += w[h] * a; break;
        case 5: acc += fmax(g * a, 0.0); break;
        default: acc += fmax(g, 0.0) * a; break;
        }
    }
    return mode == 0 || mode >= 4 ? acc / heads : acc;
}

/* grad holds the gradients of `targets` targets one after another ([targets][batch, heads, T, T]): the last
 * target's are fused (the backward pass of several targets at once). */
static void run_attention_fuse(int batch, int heads, int tokens, int targets, const int *modes, int mode_count) {
    const size_t plane = (size_t)tokens * tokens, n_attn = (size_t)batch * heads * plane, n_out = (size_t)batch * plane;
    const size_t n_grad = (size_t)targets * n_attn;
    const int grad_first_image = (targets - 1) * batch;
    float *attn = alloc_floats(n_attn), *grad = alloc_floats(n_grad), *w = alloc_floats((size_t)batch * heads);
    float *got = alloc_floats(n_out), *want = alloc_floats(n_out);
    fill_attention(attn, (size_t)batch * heads * tokens, tokens, 101);
    vte_test_fill_uniform(grad, n_grad, -1.0f, 1.0f, 102);
    vte_test_fill_uniform(w, (size_t)batch * heads, 0.0f, 1.0f, 103);
    for (int b = 0; b < batch; b++) { /* GMAR-like weights: positive, summing to 1 per image */
        double s = 0.0;
        for (int h = 0; h < heads; h++) s += w[b * heads + h];
        for (int h = 0; h < heads; h++) w[b * heads + h] = (float)(w[b * heads + h] / s);
    }
    vte_runtime *rt = vte_test_runtime();
    float dummy_value = NAN;
    cl_mem d_attn = upload(rt, attn, n_attn), d_grad = upload(rt, grad, n_grad);
    cl_mem d_w = upload(rt, w, (size_t)batch * heads), d_out = upload(rt, got, n_out), d_dummy = upload(rt, &dummy_value, 1);
    for (int m = 0; m < mode_count; m++) {
        const int mode = modes[m];
        /* kernels/fusion.cl is built once per fusion (-DFUSION=...); the reference numbers modes as vte_fusion */
        vte_error err = {0};
        cl_kernel k = vte_kernel_create(rt, "fusion", vte_fusion_build_option((vte_fusion)mode), "attention_fuse", &err);
        cr_assert_not_null(k, "fusion.cl %s: %s", vte_fusion_build_option((vte_fusion)mode), err.message);
        const int needs_grad = mode >= 5, needs_w = mode == 3 || mode == 4;
        for (int b = 0; b < batch; b++)
            for (size_t ij = 0; ij < plane; ij++)
                want[b * plane + ij] =
                    (float)ref_fuse(attn + (size_t)b * heads * plane,
                                    grad + ((size_t)grad_first_image + b) * heads * plane, w + (size_t)b * heads, heads,
                                    plane, ij, mode);
        cl_mem g_arg = needs_grad ? d_grad : d_dummy, w_arg = needs_w ? d_w : d_dummy;
        const int first = needs_grad ? grad_first_image : 0;
        RUN_ELEMENTWISE(rt, k, n_out, VTE_ARG(d_attn), VTE_ARG(g_arg), VTE_INT(first), VTE_ARG(w_arg), VTE_ARG(d_out),
                        VTE_INT(batch), VTE_INT(heads), VTE_INT(tokens));
        download(rt, d_out, got, n_out);
        char what[128];
        snprintf(what, sizeof what, "attention_fuse %s B%d H%d T%d, target %d", vte_fusion_build_option((vte_fusion)mode),
                 batch, heads, tokens, targets - 1);
        if (mode == VTE_FUSE_MAX || mode == VTE_FUSE_MIN) check(what, got, want, n_out, 0.0, 0.0);
        else check(what, got, want, n_out, 1e-7, 1e-6);
        clReleaseKernel(k);
    }
    cl_mem all[] = {d_attn, d_grad, d_w, d_out, d_dummy};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) vte_buffer_release(&all[i]);
    vte_runtime_free(rt);
    free(attn), free(grad), free(w), free(got), free(want);
}

Test(attention_fuse, all_modes_small) {
    const int modes[] = {0, 1, 2, 3, 4, 5, 6};
    run_attention_fuse(3, 5, 17, 1, modes, 7);
}

Test(attention_fuse, gradients_of_a_later_target) {
    const int modes[] = {5, 6};
    run_attention_fuse(2, 3, 17, 3, modes, 2);
}

Test(attention_fuse, vit_size_tokens) {
    const int modes[] = {0, 3, 5, 6};
    run_attention_fuse(2, 3, 197, 1, modes, 4);
}

/* ---------------------------------------------------------------- head_gradient_norms, head_weights_normalize */

/* grad holds `targets` targets' gradients one after another: the norms of the last target's slices. */
static void run_head_norms(int batch, int heads, int tokens, int targets) {
    const size_t count = (size_t)tokens * tokens, slices = (size_t)batch * heads, n = targets * slices * count;
    const int first_slice = (targets - 1) * (int)slices;
    float *grad = alloc_floats(n), *got = alloc_floats(slices), *want = alloc_floats(slices);
    vte_test_fill_uniform(grad, n, -1.0f, 1.0f, 111);
    vte_runtime *rt = vte_test_runtime();
    vte_error err = {0};
    cl_kernel k = make_kernel(rt, "head_gradient_norms"), k_item = make_kernel(rt, "head_gradient_norms_per_item");
    cl_mem d_grad = upload(rt, grad, n), d_norms = upload(rt, got, slices);
    size_t locals[3], local_count = group_locals(rt, k, locals);
    for (int p = 1; p <= 2; p++) {
        for (size_t s = 0; s < slices; s++) {
            double acc = 0.0;
            const float *g = grad + (first_slice + s) * count;
            for (size_t i = 0; i < count; i++) acc += p == 1 ? fabs((double)g[i]) : (double)g[i] * g[i];
            want[s] = (float)(p == 1 ? acc : sqrt(acc));
        }
        for (size_t l = 0; l < local_count; l++) {
            size_t local = locals[l], global = slices * local;
            cr_assert_eq(VTE_RUN(rt, k, 1, &global, &local, &err, VTE_ARG(d_grad), VTE_INT(first_slice), VTE_ARG(d_norms),
                                 VTE_INT((int)count), VTE_INT(p), VTE_LOCAL(local * sizeof(cl_float))),
                         VTE_OK, "%s", err.message);
            download(rt, d_norms, got, slices);
            char what[96];
            snprintf(what, sizeof what, "head_gradient_norms L%d B%d H%d T%d local %zu", p, batch, heads, tokens, local);
            check(what, got, want, slices, 0.0, 2e-6);
        }
        /* the CPU form: one work-item per slice, in groups of 1 and of 4 (slices not a multiple of it) */
        for (size_t local = 1; local <= 4; local += 3) {
            size_t global = (slices + local - 1) / local * local;
            cr_assert_eq(VTE_RUN(rt, k_item, 1, &global, &local, &err, VTE_ARG(d_grad), VTE_INT(first_slice),
                                 VTE_ARG(d_norms), VTE_INT((int)slices), VTE_INT((int)count), VTE_INT(p)),
                         VTE_OK, "%s", err.message);
            download(rt, d_norms, got, slices);
            char what[96];
            snprintf(what, sizeof what, "head_gradient_norms_per_item L%d B%d H%d T%d local %zu", p, batch, heads,
                     tokens, local);
            check(what, got, want, slices, 0.0, 2e-6);
        }
    }
    vte_buffer_release(&d_grad), vte_buffer_release(&d_norms);
    clReleaseKernel(k_item);
    clReleaseKernel(k);
    vte_runtime_free(rt);
    free(grad), free(got), free(want);
}

Test(head_gradient_norms, small) { run_head_norms(3, 5, 17, 1); }

Test(head_gradient_norms, vit_size_tokens) { run_head_norms(2, 12, 197, 1); }

Test(head_gradient_norms, fewer_values_than_a_vector) { run_head_norms(1, 3, 2, 1); }

Test(head_gradient_norms, gradients_of_a_later_target) { run_head_norms(2, 3, 17, 3); }

Test(head_weights_normalize, weights_and_zero_sum) {
    const int batch = 4, heads = 5;
    const size_t n = (size_t)batch * heads;
    float norms[4 * 5], got[4 * 5], want[4 * 5];
    vte_test_fill_uniform(norms, n, 0.0f, 50.0f, 121);
    for (int h = 0; h < heads; h++) norms[2 * heads + h] = 0.0f; /* image 2: every norm 0 -> 1/H */
    norms[3 * heads + 1] = 0.0f;                                  /* image 3: one head without gradient */
    for (int b = 0; b < batch; b++) {
        double s = 0.0;
        for (int h = 0; h < heads; h++) s += norms[b * heads + h];
        for (int h = 0; h < heads; h++) want[b * heads + h] = s == 0.0 ? (float)(1.0 / heads) : (float)(norms[b * heads + h] / s);
    }
    vte_runtime *rt = vte_test_runtime();
    cl_kernel k = make_kernel(rt, "head_weights_normalize");
    cl_mem d_norms = upload(rt, norms, n), d_w = upload(rt, norms, n);
    RUN_ELEMENTWISE(rt, k, (size_t)batch, VTE_ARG(d_norms), VTE_ARG(d_w), VTE_INT(batch), VTE_INT(heads));
    download(rt, d_w, got, n);
    check("head_weights_normalize B4 H5 (one zero image)", got, want, n, 0.0, 1e-6);
    for (int h = 0; h < heads; h++) cr_assert_eq(got[2 * heads + h], 0.2f, "zero-sum image must get 1/H");
    cr_assert_eq(got[3 * heads + 1], 0.0f);
    vte_buffer_release(&d_norms), vte_buffer_release(&d_w);
    clReleaseKernel(k);
    vte_runtime_free(rt);
}

/* ---------------------------------------------------------------- discard_lowest */

typedef struct {
    float value;
    size_t index;
} ranked;

static int ranked_compare(const void *pa, const void *pb) {
    const ranked *a = pa, *b = pb;
    if (a->value != b->value) return a->value < b->value ? -1 : 1;
    return a->index < b->index ? -1 : a->index > b->index;
}

/* jacobgil's rule with the index-order tie break: the k smallest (value, then flat index) are zeroed,
 * except flat index 0, which counts but keeps its value. */
static void ref_discard(float *m, size_t n, long k) {
    if (k <= 0) return;
    if ((size_t)k > n) k = (long)n;
    ranked *r = malloc(n * sizeof *r);
    cr_assert_not_null(r);
    for (size_t i = 0; i < n; i++) r[i] = (ranked){m[i], i};
    qsort(r, n, sizeof *r, ranked_compare);
    for (long i = 0; i < k; i++)
        if (r[i].index != 0) m[r[i].index] = 0.0f;
    free(r);
}

/* Runs discard_lowest on `fused` [batch, T, T] with each local size, compares exactly with the
 * reference and returns the number of zero entries in the kernel's result (last local size), which is
 * also copied to `result` when that is not NULL. */
static size_t run_discard(const float *fused, int batch, int tokens, long count, const char *label, float *result) {
    const size_t n = (size_t)tokens * tokens, total = (size_t)batch * n;
    float *want = alloc_floats(total), *got = alloc_floats(total);
    memcpy(want, fused, total * sizeof(float));
    for (int b = 0; b < batch; b++) ref_discard(want + (size_t)b * n, n, count);
    vte_runtime *rt = vte_test_runtime();
    vte_error err = {0};
    cl_kernel k = make_kernel(rt, "discard_lowest");
    cl_mem d_fused = upload(rt, fused, total);
    size_t locals[4], local_count = group_locals(rt, k, locals);
    size_t big = vte_kernel_group_size(rt, k, 1024); /* more work-items than histogram bins, if allowed */
    if (big > locals[local_count - 1]) locals[local_count++] = big;
    size_t zeroed = 0;
    for (size_t l = 0; l < local_count; l++) {
        vte_error werr = {0};
        cr_assert_eq(vte_buffer_write(rt, d_fused, 0, total * sizeof(float), fused, &werr), VTE_OK, "%s", werr.message);
        size_t local = locals[l], global = (size_t)batch * local;
        cr_assert_eq(VTE_RUN(rt, k, 1, &global, &local, &err, VTE_ARG(d_fused), VTE_INT(tokens), VTE_INT((int)count),
                             VTE_LOCAL(256 * sizeof(cl_uint))),
                     VTE_OK, "%s", err.message);
        download(rt, d_fused, got, total);
        char what[128];
        snprintf(what, sizeof what, "discard_lowest %s B%d T%d k=%ld local %zu", label, batch, tokens, count, local);
        check(what, got, want, total, 0.0, 0.0);
        zeroed = 0;
        for (size_t i = 0; i < total; i++) zeroed += got[i] == 0.0f;
    }
    if (result) memcpy(result, got, total * sizeof(float));
    vte_buffer_release(&d_fused);
    clReleaseKernel(k);
    vte_runtime_free(rt);
    free(want), free(got);
    return zeroed;
}

/* For a matrix without zeros: the number of entries the rule zeroes, i.e. count minus one when (0,0) is
 * among the `count` smallest in (value, index) order (it is first among its equals). */
static size_t expected_zeroed(const float *m, size_t n, long count) {
    if (count <= 0) return 0;
    if ((size_t)count > n) count = (long)n;
    size_t rank0 = 0;
    for (size_t i = 1; i < n; i++) rank0 += m[i] < m[0];
    return (size_t)count - (rank0 < (size_t)count ? 1 : 0);
}

static void discard_ratios(int batch, int tokens, unsigned seed) {
    const size_t n = (size_t)tokens * tokens, total = (size_t)batch * n;
    float *fused = alloc_floats(total);
    vte_test_fill_uniform(fused, total, 0.001f, 1.0f, seed);
    const double ratios[] = {0.0, 0.5, 0.9, 1.0};
    for (size_t r = 0; r < sizeof ratios / sizeof ratios[0]; r++) {
        long count = (long)(n * ratios[r]);
        char label[32];
        snprintf(label, sizeof label, "ratio %.1f", ratios[r]);
        size_t zeroed = run_discard(fused, batch, tokens, count, label, NULL);
        /* random positive values: `count` per image, minus (0,0) when it is among them */
        size_t expected = 0;
        for (int b = 0; b < batch; b++) expected += expected_zeroed(fused + (size_t)b * n, n, count);
        cr_assert_eq(zeroed, expected, "%s: %zu entries zeroed, expected %zu", label, zeroed, expected);
    }
    free(fused);
}

Test(discard_lowest, ratios_small) { discard_ratios(3, 17, 131); }

Test(discard_lowest, ratios_vit_size_tokens) { discard_ratios(2, 197, 132); }

Test(discard_lowest, cls_entry_is_the_minimum_and_stays) {
    const int batch = 2, tokens = 17;
    const size_t n = (size_t)tokens * tokens;
    float fused[2 * 17 * 17];
    vte_test_fill_uniform(fused, 2 * n, 0.1f, 1.0f, 141);
    fused[0] = 1e-6f, fused[n] = 0.0f; /* the (0,0) entries are the global minima (one of them is 0) */
    const float keep0 = fused[0];
    const long count = (long)(n * 0.5);
    float got[2 * 17 * 17];
    size_t zeroed = run_discard(fused, batch, tokens, count, "cls minimum", got);
    /* image 0: (0,0) counted and kept, so count-1 zeroed; image 1: (0,0) already 0 plus count-1 zeroed */
    cr_assert_eq(zeroed, (size_t)(count - 1) + (size_t)count, "zeroed %zu", zeroed);
    cr_assert_eq(got[0], keep0, "(0,0) must keep its value");
}

Test(discard_lowest, ties_follow_index_order) {
    /* Values from {0.25, 0.5, 0.75, 1}: the threshold value is shared by many entries, of which only the
     * first ones in flat-index order are dropped until `count` entries are counted. */
    const int tokens = 17;
    const size_t n = (size_t)tokens * tokens;
    float fused[3 * 17 * 17];
    vte_test_fill_uniform(fused, 3 * n, 0.0f, 4.0f, 151);
    for (size_t i = 0; i < 3 * n; i++) fused[i] = 0.25f * (1.0f + floorf(fused[i]));
    fused[0] = 0.25f;         /* image 0: (0,0) ties at the lowest value, first in index order */
    fused[n] = 1.0f;          /* image 1: (0,0) at the top value */
    for (size_t i = 0; i < n; i++) fused[2 * n + i] = 0.5f; /* image 2: all equal */
    const long counts[] = {1, 7, 100, (long)n - 1};
    for (size_t c = 0; c < sizeof counts / sizeof counts[0]; c++) {
        const long count = counts[c];
        float got[3 * 17 * 17];
        size_t zeroed = run_discard(fused, 3, tokens, count, "ties", got);
        size_t expected = 0;
        for (int b = 0; b < 3; b++) expected += expected_zeroed(fused + (size_t)b * n, n, count);
        cr_assert_eq(zeroed, expected, "count %ld: zeroed %zu, expected %zu", count, zeroed, expected);
        /* image 2 (all equal): exactly flat indices 1..count-1 are zero */
        for (size_t i = 0; i < n; i++)
            cr_assert_eq(got[2 * n + i] == 0.0f, i > 0 && (long)i < count, "count %ld, all equal: index %zu", count, i);
        /* image 0: (0,0) is the first of the lowest value, so it is counted and kept */
        cr_assert_eq(got[0], 0.25f);
    }
}

Test(discard_lowest, ties_vit_size_tokens) {
    /* Large tie groups across many 256-entry tiles, with the cut falling inside the group. */
    const int batch = 2, tokens = 197;
    const size_t n = (size_t)tokens * tokens;
    float *fused = alloc_floats(batch * n);
    vte_test_fill_uniform(fused, batch * n, 0.0f, 3.0f, 161);
    for (size_t i = 0; i < batch * n; i++) fused[i] = 0.125f * (1.0f + floorf(fused[i]));
    for (size_t i = 0; i < n; i += 3) fused[n + i] = 0.0f; /* image 1: a third already zero */
    const long counts[] = {(long)(n * 0.5), (long)(n * 0.9), 12345};
    for (size_t c = 0; c < sizeof counts / sizeof counts[0]; c++) run_discard(fused, batch, tokens, counts[c], "ties", NULL);
    free(fused);
}

/* ---------------------------------------------------------------- add_identity_normalize */

Test(add_identity_normalize, rows_and_zero_row) {
    const int batch = 3, tokens = 17;
    const size_t rows = (size_t)batch * tokens, n = rows * tokens;
    float *fused = alloc_floats(n), *got = alloc_floats(n), *want = alloc_floats(n);
    vte_runtime *rt = vte_test_runtime();
    cl_kernel k = make_kernel(rt, "add_identity_normalize");
    const float alphas[] = {1.0f, 0.5f, 0.0f};
    for (size_t a = 0; a < 3; a++) {
        const float alpha = alphas[a];
        vte_test_fill_uniform(fused, n, 0.0f, 0.2f, 171 + (unsigned)a);
        for (int j = 0; j < tokens; j++) fused[(size_t)(tokens + 4) * tokens + j] = 0.0f; /* image 1, row 4 */
        for (size_t r = 0; r < rows; r++) {
            const size_t i = r % tokens;
            double row[197], sum = 0.0;
            for (int j = 0; j < tokens; j++) sum += row[j] = fused[r * tokens + j] + (j == (int)i ? alpha : 0.0f);
            for (int j = 0; j < tokens; j++) want[r * tokens + j] = (float)(sum == 0.0 ? row[j] : row[j] / sum);
        }
        cl_mem d = upload(rt, fused, n);
        RUN_ELEMENTWISE(rt, k, rows, VTE_ARG(d), VTE_INT(batch), VTE_INT(tokens), VTE_FLOAT(alpha));
        download(rt, d, got, n);
        char what[96];
        snprintf(what, sizeof what, "add_identity_normalize B3 T17 alpha %g", alpha);
        check(what, got, want, n, 1e-7, 1e-6);
        if (alpha == 0.0f)
            for (int j = 0; j < tokens; j++) cr_assert_eq(got[(size_t)(tokens + 4) * tokens + j], 0.0f);
        vte_buffer_release(&d);
    }
    clReleaseKernel(k);
    vte_runtime_free(rt);
    free(fused), free(got), free(want);
}

/* ---------------------------------------------------------------- cls_row_init, cls_row_step */

Test(cls_row, init_is_e0) {
    const int batch = 3, tokens = 17;
    const size_t n = (size_t)batch * tokens;
    float got[3 * 17], want[3 * 17];
    for (size_t i = 0; i < n; i++) got[i] = NAN, want[i] = i % tokens == 0 ? 1.0f : 0.0f;
    vte_runtime *rt = vte_test_runtime();
    cl_kernel k = make_kernel(rt, "cls_row_init");
    cl_mem d = upload(rt, got, n);
    RUN_ELEMENTWISE(rt, k, n, VTE_ARG(d), VTE_INT(batch), VTE_INT(tokens));
    download(rt, d, got, n);
    check("cls_row_init B3 T17", got, want, n, 0.0, 0.0);
    vte_buffer_release(&d);
    clReleaseKernel(k);
    vte_runtime_free(rt);
}

static void run_cls_row_step(int batch, int tokens) {
    const size_t n_r = (size_t)batch * tokens, n_m = n_r * tokens;
    float *r = alloc_floats(n_r), *mat = alloc_floats(n_m), *got = alloc_floats(n_r), *want = alloc_floats(n_r);
    vte_test_fill_uniform(r, n_r, 0.0f, 1.0f, 181);
    fill_attention(mat, n_r, tokens, 182);
    vte_runtime *rt = vte_test_runtime();
    cl_kernel k = make_kernel(rt, "cls_row_step");
    cl_mem d_r = upload(rt, r, n_r), d_m = upload(rt, mat, n_m), d_out = upload(rt, r, n_r);
    for (int residual = 0; residual <= 1; residual++) {
        for (int b = 0; b < batch; b++)
            for (int j = 0; j < tokens; j++) {
                double acc = 0.0;
                for (int i = 0; i < tokens; i++) acc += (double)r[b * tokens + i] * mat[((size_t)b * tokens + i) * tokens + j];
                if (residual) acc += r[b * tokens + j];
                want[b * tokens + j] = (float)acc;
            }
        RUN_ELEMENTWISE(rt, k, n_r, VTE_ARG(d_r), VTE_ARG(d_m), VTE_ARG(d_out), VTE_INT(batch), VTE_INT(tokens),
                        VTE_INT(residual));
        download(rt, d_out, got, n_r);
        char what[96];
        snprintf(what, sizeof what, "cls_row_step B%d T%d residual %d", batch, tokens, residual);
        check(what, got, want, n_r, 1e-6, 1e-5);
    }
    vte_buffer_release(&d_r), vte_buffer_release(&d_m), vte_buffer_release(&d_out);
    clReleaseKernel(k);
    vte_runtime_free(rt);
    free(r), free(mat), free(got), free(want);
}

Test(cls_row, step_small) { run_cls_row_step(3, 17); }

Test(cls_row, step_vit_size_tokens) { run_cls_row_step(2, 197); }

/* ---------------------------------------------------------------- patch_minmax */

static void ref_minmax(const float *x, size_t count, double eps, float *y) {
    double lo = INFINITY, hi = -INFINITY;
    for (size_t p = 0; p < count; p++) lo = fmin(lo, x[p]), hi = fmax(hi, x[p]);
    for (size_t p = 0; p < count; p++) y[p] = hi == lo ? 0.0f : (float)((x[p] - lo) / (hi - lo + eps));
}

static void run_minmax(const float *values, int batch, int row_stride, int offset, int count, float eps, const char *label) {
    const size_t n_in = (size_t)batch * row_stride, n_out = (size_t)batch * count;
    float *got = alloc_floats(n_out), *want = alloc_floats(n_out);
    for (int b = 0; b < batch; b++) ref_minmax(values + (size_t)b * row_stride + offset, count, eps, want + (size_t)b * count);
    vte_runtime *rt = vte_test_runtime();
    vte_error err = {0};
    cl_kernel k = make_kernel(rt, "patch_minmax");
    cl_mem d_in = upload(rt, values, n_in), d_out = upload(rt, want, n_out);
    size_t locals[3], local_count = group_locals(rt, k, locals);
    for (size_t l = 0; l < local_count; l++) {
        size_t local = locals[l], global = (size_t)batch * local;
        cr_assert_eq(VTE_RUN(rt, k, 1, &global, &local, &err, VTE_ARG(d_in), VTE_INT(row_stride), VTE_INT(offset),
                             VTE_ARG(d_out), VTE_INT(count), VTE_FLOAT(eps), VTE_LOCAL(local * sizeof(cl_float))),
                     VTE_OK, "%s", err.message);
        download(rt, d_out, got, n_out);
        char what[96];
        snprintf(what, sizeof what, "patch_minmax %s local %zu", label, local);
        check(what, got, want, n_out, 1e-6, 1e-6);
    }
    vte_buffer_release(&d_in), vte_buffer_release(&d_out);
    clReleaseKernel(k);
    vte_runtime_free(rt);
    free(got), free(want);
}

Test(patch_minmax, cls_row_offset_1) {
    const int batch = 3, tokens = 197;
    float *r = alloc_floats((size_t)batch * tokens);
    vte_test_fill_uniform(r, (size_t)batch * tokens, -0.3f, 2.0f, 191);
    r[0] = 100.0f, r[tokens] = -100.0f; /* the CLS column must not take part */
    for (int p = 1; p < tokens; p++) r[2 * tokens + p] = 0.75f; /* image 2: constant patches -> zeros */
    run_minmax(r, batch, tokens, 1, tokens - 1, 1e-8f, "CLS rows B3 T197 offset 1");
    free(r);
}

Test(patch_minmax, scores_offset_0) {
    const int batch = 3, count = 16;
    float s[3 * 16];
    vte_test_fill_uniform(s, 3 * 16, 0.0f, 5e-3f, 192);
    run_minmax(s, batch, count, 0, count, 1e-8f, "scores B3 P16 offset 0");
}

Test(patch_minmax, constant_gives_zeros) {
    const int batch = 2, count = 196;
    float *s = alloc_floats((size_t)batch * count);
    for (int i = 0; i < batch * count; i++) s[i] = i < count ? 0.3f : 0.0f;
    run_minmax(s, batch, count, 0, count, 0.0f, "constant, eps 0");
    run_minmax(s, batch, count, 0, count, 1e-8f, "constant, eps 1e-8");
    free(s);
}

/* ---------------------------------------------------------------- legrad_accumulate, seed_legrad_accumulate */

static void run_legrad(int batch, int tokens, int dim, int heads) {
    const int head_dim = dim / heads;
    const size_t n_ctx = (size_t)batch * dim, n_qkv = (size_t)batch * tokens * 3 * dim, n_s = (size_t)batch * (tokens - 1);
    float *ctx = alloc_floats(n_ctx), *qkv = alloc_floats(n_qkv), *scores = alloc_floats(n_s), *got = alloc_floats(n_s);
    float *want = alloc_floats(n_s);
    vte_test_fill_uniform(ctx, n_ctx, -1.0f, 1.0f, 201);
    vte_test_fill_uniform(qkv, n_qkv, -1.0f, 1.0f, 202);
    vte_test_fill_uniform(scores, n_s, 0.0f, 1.0f, 203);
    const float scale = 0.5f;
    for (int b = 0; b < batch; b++)
        for (int j = 1; j < tokens; j++) {
            double total = 0.0;
            for (int h = 0; h < heads; h++) {
                double dot = 0.0;
                for (int k = 0; k < head_dim; k++)
                    dot += (double)ctx[(size_t)b * dim + h * head_dim + k] *
                           qkv[((size_t)b * tokens + j) * 3 * dim + 2 * (size_t)dim + h * head_dim + k];
                total += fmax(dot, 0.0);
            }
            want[(size_t)b * (tokens - 1) + j - 1] = (float)(scores[(size_t)b * (tokens - 1) + j - 1] + (double)scale * total);
        }
    vte_runtime *rt = vte_test_runtime();
    cl_kernel k = make_kernel(rt, "legrad_accumulate");
    cl_mem d_ctx = upload(rt, ctx, n_ctx), d_qkv = upload(rt, qkv, n_qkv), d_s = upload(rt, scores, n_s);
    RUN_ELEMENTWISE(rt, k, n_s, VTE_ARG(d_ctx), VTE_ARG(d_qkv), VTE_ARG(d_s), VTE_INT(batch), VTE_INT(tokens), VTE_INT(dim),
                    VTE_INT(heads), VTE_FLOAT(scale));
    download(rt, d_s, got, n_s);
    char what[96];
    snprintf(what, sizeof what, "legrad_accumulate B%d T%d D%d H%d", batch, tokens, dim, heads);
    check(what, got, want, n_s, 1e-5, 1e-5);
    vte_buffer_release(&d_ctx), vte_buffer_release(&d_qkv), vte_buffer_release(&d_s);
    clReleaseKernel(k);
    vte_runtime_free(rt);
    free(ctx), free(qkv), free(scores), free(got), free(want);
}

Test(legrad_accumulate, small) { run_legrad(3, 17, 40, 5); }

Test(legrad_accumulate, vit_base_size) { run_legrad(2, 197, 768, 12); }

static void run_seed_legrad(int batch, int tokens) {
    const size_t n_f = (size_t)batch * tokens * tokens, n_s = (size_t)batch * (tokens - 1);
    float *fused = alloc_floats(n_f), *scores = alloc_floats(n_s), *got = alloc_floats(n_s), *want = alloc_floats(n_s);
    fill_attention(fused, (size_t)batch * tokens, tokens, 211);
    vte_test_fill_uniform(scores, n_s, 0.0f, 0.01f, 212);
    const float scale = 1.0f / 12.0f;
    for (int b = 0; b < batch; b++)
        for (int i = 1; i < tokens; i++) {
            double sum = 0.0;
            for (int j = 1; j < tokens; j++) sum += fused[((size_t)b * tokens + i) * tokens + j];
            want[(size_t)b * (tokens - 1) + i - 1] =
                (float)(scores[(size_t)b * (tokens - 1) + i - 1] + (double)scale * sum / (tokens - 1));
        }
    vte_runtime *rt = vte_test_runtime();
    cl_kernel k = make_kernel(rt, "seed_legrad_accumulate");
    cl_mem d_f = upload(rt, fused, n_f), d_s = upload(rt, scores, n_s);
    RUN_ELEMENTWISE(rt, k, n_s, VTE_ARG(d_f), VTE_ARG(d_s), VTE_INT(batch), VTE_INT(tokens), VTE_FLOAT(scale));
    download(rt, d_s, got, n_s);
    char what[96];
    snprintf(what, sizeof what, "seed_legrad_accumulate B%d T%d", batch, tokens);
    check(what, got, want, n_s, 1e-7, 1e-5);
    vte_buffer_release(&d_f), vte_buffer_release(&d_s);
    clReleaseKernel(k);
    vte_runtime_free(rt);
    free(fused), free(scores), free(got), free(want);
}

Test(seed_legrad_accumulate, small) { run_seed_legrad(3, 17); }

Test(seed_legrad_accumulate, vit_size_tokens) { run_seed_legrad(2, 197); }

/* ---------------------------------------------------------------- classifier_seed */

Test(classifier_seed, columns_of_transposed_weight) {
    const int batch = 3, dim = 773, labels = 1000;
    const int classes[3] = {0, 999, 412};
    const size_t n_w = (size_t)dim * labels, n_s = (size_t)batch * dim;
    float *w = alloc_floats(n_w), *got = alloc_floats(n_s), *want = alloc_floats(n_s);
    vte_test_fill_uniform(w, n_w, -1.0f, 1.0f, 231);
    for (int b = 0; b < batch; b++)
        for (int d = 0; d < dim; d++) want[(size_t)b * dim + d] = w[(size_t)d * labels + classes[b]];
    vte_runtime *rt = vte_test_runtime();
    vte_error err = {0};
    cl_kernel k = vte_kernel_create(rt, "elementwise", NULL, "classifier_seed", &err);
    cr_assert_not_null(k, "elementwise/classifier_seed: %s", err.message);
    cl_mem d_w = upload(rt, w, n_w), d_c = upload_bytes(rt, classes, sizeof classes), d_s = upload(rt, got, n_s);
    RUN_ELEMENTWISE(rt, k, n_s, VTE_ARG(d_w), VTE_ARG(d_c), VTE_ARG(d_s), VTE_INT(batch), VTE_INT(dim), VTE_INT(labels));
    download(rt, d_s, got, n_s);
    check("classifier_seed B3 D773 labels 1000", got, want, n_s, 0.0, 0.0);
    vte_buffer_release(&d_w), vte_buffer_release(&d_c), vte_buffer_release(&d_s);
    clReleaseKernel(k);
    vte_runtime_free(rt);
    free(w), free(got), free(want);
}

/* ---------------------------------------------------------------- upsample_bilinear */

typedef struct {
    int y, x;
    float value;
} torch_sample;

/* torch.nn.functional.interpolate outputs (see the header comment), image 0 of each case. */
static const torch_sample torch_3x5_36x60[] = {
    {0, 0, 0.0f}, {0, 1, 0.0f}, {0, 2, 0.0f}, {0, 7, 0.0859375075f},
    {0, 13, 0.42968753f}, {0, 30, 0.341145873f}, {0, 46, 0.859375f}, {0, 58, 0.625f},
    {0, 59, 0.625f}, {1, 0, 0.0f}, {1, 1, 0.0f}, {1, 2, 0.0f},
    {1, 7, 0.0859375075f}, {1, 13, 0.42968753f}, {1, 30, 0.341145873f}, {1, 46, 0.859375f},
    {1, 58, 0.625f}, {1, 59, 0.625f}, {11, 0, 0.200520843f}, {11, 1, 0.200520843f},
    {11, 2, 0.200520843f}, {11, 7, 0.229166672f}, {11, 13, 0.34375f}, {11, 30, 0.579861104f},
    {11, 46, 0.669596314f}, {11, 58, 0.45312497f}, {11, 59, 0.45312497f}, {23, 0, 0.638020873f},
    {23, 1, 0.638020873f}, {23, 2, 0.638020873f}, {23, 7, 0.602539062f}, {23, 13, 0.460611999f},
    {23, 30, 0.634006083f}, {23, 46, 0.438151002f}, {23, 58, 0.565104187f}, {23, 59, 0.565104187f},
    {35, 0, 0.875f}, {35, 1, 0.875f}, {35, 2, 0.875f}, {35, 7, 0.84375f},
    {35, 13, 0.71875f}, {35, 30, 0.364583313f}, {35, 46, 0.4296875f}, {35, 58, 0.9375f},
    {35, 59, 0.9375f},
};

static const torch_sample torch_4x4_32x32[] = {
    {0, 0, 0.0f}, {0, 1, 0.0f}, {0, 3, 0.0f}, {0, 4, 0.04296875f},
    {0, 12, 0.6640625f}, {0, 27, 0.95703125f}, {0, 31, 1.0f}, {3, 0, 0.0f},
    {3, 1, 0.0f}, {3, 3, 0.0f}, {3, 4, 0.04296875f}, {3, 12, 0.6640625f},
    {3, 27, 0.95703125f}, {3, 31, 1.0f}, {4, 0, 0.02734375f}, {4, 1, 0.02734375f},
    {4, 3, 0.02734375f}, {4, 4, 0.06640625f}, {4, 12, 0.633300781f}, {4, 27, 0.93359375f},
    {4, 31, 0.97265625f}, {16, 0, 0.68359375f}, {16, 1, 0.68359375f}, {16, 3, 0.68359375f},
    {16, 4, 0.666259766f}, {16, 12, 0.41796875f}, {16, 27, 0.333740234f}, {16, 31, 0.31640625f},
    {31, 0, 0.25f}, {31, 1, 0.25f}, {31, 3, 0.25f}, {31, 4, 0.23828125f},
    {31, 12, 0.1171875f}, {31, 27, 0.76171875f}, {31, 31, 0.75f},
};

static const torch_sample torch_14x14_224x224[] = {
    {0, 0, 0.0f}, {0, 5, 0.0f}, {0, 8, 0.021484375f}, {0, 9, 0.064453125f},
    {0, 111, 0.76171875f}, {0, 200, 0.80078125f}, {0, 223, 0.4375f}, {7, 0, 0.0f},
    {7, 5, 0.0f}, {7, 8, 0.021484375f}, {7, 9, 0.064453125f}, {7, 111, 0.76171875f},
    {7, 200, 0.80078125f}, {7, 223, 0.4375f}, {8, 0, 0.013671875f}, {8, 5, 0.013671875f},
    {8, 8, 0.0341796875f}, {8, 9, 0.0751953125f}, {8, 111, 0.754821777f}, {8, 200, 0.804748535f},
    {8, 223, 0.443359375f}, {100, 0, 0.404296875f}, {100, 5, 0.404296875f}, {100, 8, 0.403869629f},
    {100, 9, 0.403015137f}, {100, 111, 0.548278809f}, {100, 200, 0.472229004f}, {100, 223, 0.458984375f},
    {215, 0, 0.39453125f}, {215, 5, 0.39453125f}, {215, 8, 0.407104492f}, {215, 9, 0.432250977f},
    {215, 111, 0.571289062f}, {215, 200, 0.32220459f}, {215, 223, 0.744140625f}, {223, 0, 0.375f},
    {223, 5, 0.375f}, {223, 8, 0.388671875f}, {223, 9, 0.416015625f}, {223, 111, 0.58203125f},
    {223, 200, 0.326171875f}, {223, 223, 0.75f},
};

/* One axis as aten's compute_source_index_and_lambda with float opmath: scale = (float)in / out,
 * src = max(scale * (dst + 0.5f) - 0.5f, 0) in float, i0 = min(floor(src), in - 1), lambda = src - i0. */
static void ref_axis(int dst, int in, int out, int *i0, int *i1, double *lambda) {
    if (in == out) {
        *i0 = *i1 = dst, *lambda = 0.0;
        return;
    }
    volatile float scale = (float)in / (float)out; /* volatile: keep float rounding, no contraction */
    volatile float prod = scale * ((float)dst + 0.5f);
    float src = prod - 0.5f;
    if (src < 0.0f) src = 0.0f;
    int lo = (int)src < in - 1 ? (int)src : in - 1;
    *i0 = lo, *i1 = lo + (lo < in - 1);
    volatile float l = src - (float)lo;
    *lambda = l;
}

static void run_upsample(int in_h, int in_w, int out_h, int out_w, const torch_sample *samples, size_t sample_count) {
    const int batch = 2;
    const size_t n_in = (size_t)batch * in_h * in_w, n_out = (size_t)batch * out_h * out_w;
    float *grid = alloc_floats(n_in), *got = alloc_floats(n_out), *want = alloc_floats(n_out);
    for (int y = 0; y < in_h; y++)
        for (int x = 0; x < in_w; x++) {
            grid[y * in_w + x] = (float)((y * 7 + x * 11 + y * x) % 17) / 16.0f; /* the grid given to torch */
            grid[(size_t)in_h * in_w + y * in_w + x] = (float)((y * 5 + x * 3 + 1) % 13) / 8.0f - 0.5f;
        }
    for (int b = 0; b < batch; b++)
        for (int y = 0; y < out_h; y++)
            for (int x = 0; x < out_w; x++) {
                int y0, y1, x0, x1;
                double ly, lx;
                ref_axis(y, in_h, out_h, &y0, &y1, &ly);
                ref_axis(x, in_w, out_w, &x0, &x1, &lx);
                const float *g = grid + (size_t)b * in_h * in_w;
                double top = (1 - lx) * g[y0 * in_w + x0] + lx * g[y0 * in_w + x1];
                double bottom = (1 - lx) * g[y1 * in_w + x0] + lx * g[y1 * in_w + x1];
                want[((size_t)b * out_h + y) * out_w + x] = (float)((1 - ly) * top + ly * bottom);
            }
    vte_runtime *rt = vte_test_runtime();
    cl_kernel k = make_kernel(rt, "upsample_bilinear");
    cl_mem d_in = upload(rt, grid, n_in), d_out = upload(rt, got, n_out);
    RUN_ELEMENTWISE(rt, k, n_out, VTE_ARG(d_in), VTE_ARG(d_out), VTE_INT(batch), VTE_INT(in_h), VTE_INT(in_w),
                    VTE_INT(out_h), VTE_INT(out_w));
    download(rt, d_out, got, n_out);
    char what[96];
    snprintf(what, sizeof what, "upsample_bilinear %dx%d->%dx%d vs formula", in_h, in_w, out_h, out_w);
    /* OpenCL lets a device divide in single precision with up to 2.5 ulp of error (NVIDIA's driver does; PoCL
     * rounds correctly), which moves the source coordinate by an ulp: measured up to 1.0e-6 on an H100. */
    check(what, got, want, n_out, 2e-6, 0.0);
    float *picked = alloc_floats(sample_count), *torch_values = alloc_floats(sample_count);
    for (size_t s = 0; s < sample_count; s++) {
        picked[s] = got[(size_t)samples[s].y * out_w + samples[s].x];
        torch_values[s] = samples[s].value;
    }
    snprintf(what, sizeof what, "upsample_bilinear %dx%d->%dx%d vs torch", in_h, in_w, out_h, out_w);
    check(what, picked, torch_values, sample_count, 5e-7, 0.0);
    vte_buffer_release(&d_in), vte_buffer_release(&d_out);
    clReleaseKernel(k);
    vte_runtime_free(rt);
    free(grid), free(got), free(want), free(picked), free(torch_values);
}

Test(upsample_bilinear, grid_3x5_to_36x60) {
    run_upsample(3, 5, 36, 60, torch_3x5_36x60, sizeof torch_3x5_36x60 / sizeof torch_3x5_36x60[0]);
}

Test(upsample_bilinear, grid_4x4_to_32x32) {
    run_upsample(4, 4, 32, 32, torch_4x4_32x32, sizeof torch_4x4_32x32 / sizeof torch_4x4_32x32[0]);
}

Test(upsample_bilinear, grid_14x14_to_224x224) {
    run_upsample(14, 14, 224, 224, torch_14x14_224x224, sizeof torch_14x14_224x224 / sizeof torch_14x14_224x224[0]);
}

Test(upsample_bilinear, same_size_and_downscale) {
    /* Same size copies; downscaling uses the same two-tap formula (no antialiasing, as torch). */
    run_upsample(6, 7, 6, 7, NULL, 0);
    run_upsample(9, 13, 4, 5, NULL, 0);
}
