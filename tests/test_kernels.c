/* Every kernel of kernels/{embed,elementwise,layernorm,attention}.cl against a plain C reference on random
 * inputs whose sizes are not multiples of any work-group size. The references compute in double; the
 * backward references are themselves checked against central finite differences of the forward
 * references, so a wrong formula cannot hide in both the kernel and its reference.
 *
 * Tolerances (|got - want| <= atol + rtol*|want|), float32-level:
 *   data movement and single float additions (im2col, embeddings, bias adds): exact (0, 0);
 *   GELU forward/backward: atol 1e-6, rtol 1e-6 (erf/exp in float, <= a few ulp);
 *   LayerNorm forward y: atol 1e-6, rtol 1e-5; mean, rstd: atol 1e-6, rtol 1e-5;
 *   LayerNorm backward dx: atol 1e-6, rtol 1e-5;
 *   softmax: atol 1e-7, rtol 1e-5; softmax backward: atol 1e-7, rtol 1e-5;
 *   fused attention: atol 1e-7 + FLT_EPSILON * (largest scale * sum |q k|) * max |v| (a score's float32 rounding
 *   carried to the output), rtol 1e-5.
 * Each check prints its measured maximum absolute and relative errors to stderr. */
#include <criterion/criterion.h>
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/runtime.h"
#include "test_support.h"
#include "vit/session.h"

/* ---------------------------------------------------------------- helpers */

static float *alloc_floats(size_t n) {
    float *p = malloc((n ? n : 1) * sizeof(float));
    cr_assert_not_null(p);
    return p;
}

static double *alloc_doubles(size_t n) {
    double *p = malloc((n ? n : 1) * sizeof(double));
    cr_assert_not_null(p);
    return p;
}

static cl_kernel make_kernel(vte_runtime *rt, const char *family, const char *name) {
    vte_error err = {0};
    cl_kernel k = vte_kernel_create(rt, family, NULL, name, &err);
    cr_assert_not_null(k, "%s/%s: %s", family, name, err.message);
    return k;
}

/* Every device buffer has GUARD extra floats after its n values, filled with SENTINEL, so that a kernel that
 * writes past its rows is caught on any device (guard_intact). */
enum { GUARD = 1024 };
static const float SENTINEL = -7.75e30f;

static cl_mem upload(vte_runtime *rt, const float *host, size_t n) {
    vte_error err = {0};
    float *tail = alloc_floats(GUARD);
    for (size_t i = 0; i < GUARD; i++) tail[i] = SENTINEL;
    cl_mem buffer = vte_buffer_create(rt, (n + GUARD) * sizeof(float), "test buffer", &err);
    cr_assert_not_null(buffer, "%s", err.message);
    if (n) cr_assert_eq(vte_buffer_write(rt, buffer, 0, n * sizeof(float), host, &err), VTE_OK, "%s", err.message);
    cr_assert_eq(vte_buffer_write(rt, buffer, n * sizeof(float), GUARD * sizeof(float), tail, &err), VTE_OK, "%s",
                 err.message);
    free(tail);
    return buffer;
}

/* Asserts that the GUARD floats after the first n of an upload()ed buffer are untouched. */
static void guard_intact(vte_runtime *rt, cl_mem buffer, size_t n, const char *what) {
    vte_error err = {0};
    float *tail = alloc_floats(GUARD);
    cr_assert_eq(vte_buffer_read(rt, buffer, n * sizeof(float), GUARD * sizeof(float), tail, &err), VTE_OK, "%s",
                 err.message);
    for (size_t i = 0; i < GUARD; i++)
        cr_assert(tail[i] == SENTINEL, "%s: written past the end, at element n+%zu (%g)", what, i, (double)tail[i]);
    free(tail);
}

static void download(vte_runtime *rt, cl_mem buffer, float *host, size_t n) {
    vte_error err = {0};
    cr_assert_eq(vte_buffer_read(rt, buffer, 0, n * sizeof(float), host, &err), VTE_OK, "%s", err.message);
}

static void check(const char *what, const float *got, const float *want, size_t n, double atol, double rtol) {
    vte_test_check(what, got, want, n, atol, rtol);
}

static void to_float(const double *src, float *dst, size_t n) {
    for (size_t i = 0; i < n; i++) dst[i] = (float)src[i];
}

/* Row kernels: one work-group per row, a power-of-two local size from the runtime, local-size floats of
 * scratch. Element-wise kernels: local size 64 (clamped), global rounded up. */
static size_t row_local(vte_runtime *rt, cl_kernel k) { return vte_kernel_group_size(rt, k, 256); }
static size_t elementwise_local(vte_runtime *rt, cl_kernel k) { return vte_kernel_group_size(rt, k, 64); }

/* The per-row kernels come in two forms that must agree with the same references: one work-group per row
 * (GPUs) and `_per_item`, one work-item per row (CPUs). */
typedef enum row_form { ONE_GROUP_PER_ROW, ONE_ITEM_PER_ROW } row_form;
#define ROW_FORM_NAME(form) ((form) == ONE_ITEM_PER_ROW ? "per item" : "per group")

static cl_kernel make_row_kernel(vte_runtime *rt, const char *family, const char *name, row_form form) {
    char full[64];
    snprintf(full, sizeof full, "%s%s", name, form == ONE_ITEM_PER_ROW ? "_per_item" : "");
    return make_kernel(rt, family, full);
}

/* ---------------------------------------------------------------- double references */

static double ref_gelu(double u) { return 0.5 * u * (1.0 + erf(u / sqrt(2.0))); }

static double ref_gelu_grad(double u) {
    return 0.5 * (1.0 + erf(u / sqrt(2.0))) + u * exp(-0.5 * u * u) / sqrt(2.0 * 3.14159265358979323846);
}

/* One row: two-pass biased statistics, y = (x - mean) * rstd * gamma + beta. */
static void ref_layernorm_forward(const double *x, const double *gamma, const double *beta, int dim, double eps,
                                  double *y, double *mean, double *rstd) {
    double sum = 0.0;
    for (int i = 0; i < dim; i++) sum += x[i];
    double mu = sum / dim, sq = 0.0;
    for (int i = 0; i < dim; i++) sq += (x[i] - mu) * (x[i] - mu);
    double rs = 1.0 / sqrt(sq / dim + eps);
    for (int i = 0; i < dim; i++) y[i] = (x[i] - mu) * rs * gamma[i] + beta[i];
    *mean = mu;
    *rstd = rs;
}

/* One row: dx = rstd * (g - mean(g) - xhat * mean(g * xhat)), g = dy * gamma. */
static void ref_layernorm_backward(const double *dy, const double *x, double mean, double rstd,
                                   const double *gamma, int dim, double *dx) {
    double sum_g = 0.0, sum_gx = 0.0;
    for (int i = 0; i < dim; i++) {
        double g = dy[i] * gamma[i];
        sum_g += g;
        sum_gx += g * (x[i] - mean) * rstd;
    }
    for (int i = 0; i < dim; i++) {
        double g = dy[i] * gamma[i], xhat = (x[i] - mean) * rstd;
        dx[i] = rstd * (g - sum_g / dim - xhat * sum_gx / dim);
    }
}

static void ref_softmax(const double *s, int cols, double *a) {
    double m = -INFINITY, sum = 0.0;
    for (int j = 0; j < cols; j++) m = fmax(m, s[j]);
    for (int j = 0; j < cols; j++) sum += (a[j] = exp(s[j] - m));
    for (int j = 0; j < cols; j++) a[j] /= sum;
}

static void ref_softmax_backward(const double *a, const double *da, int cols, double *ds) {
    double dot = 0.0;
    for (int j = 0; j < cols; j++) dot += a[j] * da[j];
    for (int j = 0; j < cols; j++) ds[j] = a[j] * (da[j] - dot);
}

/* ---------------------------------------------------------------- the references against finite differences */

Test(references, gelu_grad_matches_finite_differences) {
    const double h = 1e-5;
    double worst = 0.0;
    for (int i = -800; i <= 800; i++) {
        double u = i / 100.0 + 0.00371;
        double fd = (ref_gelu(u + h) - ref_gelu(u - h)) / (2 * h);
        double diff = fabs(fd - ref_gelu_grad(u));
        if (diff > worst) worst = diff;
        cr_assert(diff <= 1e-8, "gelu'(%g): analytic %.12g, finite difference %.12g", u, ref_gelu_grad(u), fd);
    }
    fprintf(stderr, "[test_kernels] reference gelu' vs finite differences: max abs %.3g\n", worst);
}

Test(references, layernorm_backward_matches_finite_differences) {
    enum { DIM = 37 };
    float xf[DIM], gf[DIM], bf[DIM], wf[DIM];
    vte_test_fill_uniform(xf, DIM, -2.0f, 3.0f, 11);
    vte_test_fill_uniform(gf, DIM, 0.5f, 1.5f, 12);
    vte_test_fill_uniform(bf, DIM, -0.5f, 0.5f, 13);
    vte_test_fill_uniform(wf, DIM, -1.0f, 1.0f, 14);
    double x[DIM], gamma[DIM], beta[DIM], w[DIM], y[DIM], dx[DIM], mean, rstd;
    for (int i = 0; i < DIM; i++) x[i] = xf[i], gamma[i] = gf[i], beta[i] = bf[i], w[i] = wf[i];
    const double eps = 1e-5, h = 1e-6;
    ref_layernorm_forward(x, gamma, beta, DIM, eps, y, &mean, &rstd);
    ref_layernorm_backward(w, x, mean, rstd, gamma, DIM, dx); /* gradient of L = sum(w * y) */
    double worst = 0.0;
    for (int i = 0; i < DIM; i++) {
        double lp = 0.0, lm = 0.0, m, r, xs = x[i];
        x[i] = xs + h;
        ref_layernorm_forward(x, gamma, beta, DIM, eps, y, &m, &r);
        for (int j = 0; j < DIM; j++) lp += w[j] * y[j];
        x[i] = xs - h;
        ref_layernorm_forward(x, gamma, beta, DIM, eps, y, &m, &r);
        for (int j = 0; j < DIM; j++) lm += w[j] * y[j];
        x[i] = xs;
        double fd = (lp - lm) / (2 * h), diff = fabs(fd - dx[i]);
        if (diff > worst) worst = diff;
        cr_assert(diff <= 1e-7 + 1e-6 * fabs(fd), "dx[%d]: analytic %.12g, finite difference %.12g", i, dx[i], fd);
    }
    fprintf(stderr, "[test_kernels] reference layernorm backward vs finite differences: max abs %.3g\n", worst);
}

Test(references, softmax_backward_matches_finite_differences) {
    enum { COLS = 29 };
    float sf[COLS], wf[COLS];
    vte_test_fill_uniform(sf, COLS, -4.0f, 4.0f, 21);
    vte_test_fill_uniform(wf, COLS, -1.0f, 1.0f, 22);
    double s[COLS], w[COLS], a[COLS], ds[COLS];
    for (int j = 0; j < COLS; j++) s[j] = sf[j], w[j] = wf[j];
    ref_softmax(s, COLS, a);
    ref_softmax_backward(a, w, COLS, ds); /* gradient of L = sum(w * softmax(s)) */
    const double h = 1e-6;
    double worst = 0.0;
    for (int j = 0; j < COLS; j++) {
        double lp = 0.0, lm = 0.0, ss = s[j];
        s[j] = ss + h;
        ref_softmax(s, COLS, a);
        for (int k = 0; k < COLS; k++) lp += w[k] * a[k];
        s[j] = ss - h;
        ref_softmax(s, COLS, a);
        for (int k = 0; k < COLS; k++) lm += w[k] * a[k];
        s[j] = ss;
        double fd = (lp - lm) / (2 * h), diff = fabs(fd - ds[j]);
        if (diff > worst) worst = diff;
        cr_assert(diff <= 1e-8 + 1e-6 * fabs(fd), "ds[%d]: analytic %.12g, finite difference %.12g", j, ds[j], fd);
    }
    fprintf(stderr, "[test_kernels] reference softmax backward vs finite differences: max abs %.3g\n", worst);
}

/* ---------------------------------------------------------------- embed.cl */

static void run_im2col(int batch, int channels, int image_h, int image_w, int patch) {
    vte_runtime *rt = vte_test_runtime();
    vte_error err = {0};
    const int grid_h = image_h / patch, grid_w = image_w / patch;
    const size_t n_pixels = (size_t)batch * channels * image_h * image_w;
    const size_t cols = (size_t)channels * patch * patch, rows = (size_t)batch * grid_h * grid_w;
    float *pixels = alloc_floats(n_pixels), *got = alloc_floats(rows * cols), *want = alloc_floats(rows * cols);
    vte_test_fill_uniform(pixels, n_pixels, -2.0f, 2.0f, 31);
    for (int b = 0; b < batch; b++)
        for (int r = 0; r < grid_h; r++)
            for (int q = 0; q < grid_w; q++)
                for (int c = 0; c < channels; c++)
                    for (int u = 0; u < patch; u++)
                        for (int v = 0; v < patch; v++) {
                            size_t row = (size_t)b * grid_h * grid_w + (size_t)r * grid_w + q;
                            size_t col = ((size_t)c * patch + u) * patch + v;
                            want[row * cols + col] =
                                pixels[(((size_t)b * channels + c) * image_h + (size_t)r * patch + u) * image_w +
                                       (size_t)q * patch + v];
                        }
    cl_kernel k = make_kernel(rt, "embed", "patch_im2col");
    for (size_t i = 0; i < rows * cols; i++) got[i] = NAN;
    cl_mem d_pixels = upload(rt, pixels, n_pixels), d_patches = upload(rt, got, rows * cols);
    size_t local = elementwise_local(rt, k), global = vte_round_up(rows * cols, local);
    cr_assert_eq(VTE_RUN(rt, k, 1, &global, &local, &err, VTE_ARG(d_pixels), VTE_ARG(d_patches), VTE_INT(batch),
                         VTE_INT(channels), VTE_INT(image_h), VTE_INT(image_w), VTE_INT(patch), VTE_INT(grid_h),
                         VTE_INT(grid_w)),
                 VTE_OK, "%s", err.message);
    download(rt, d_patches, got, rows * cols);
    guard_intact(rt, d_patches, rows * cols, "patch_im2col");
    char what[96];
    snprintf(what, sizeof what, "patch_im2col %dx%dx%dx%d p%d", batch, channels, image_h, image_w, patch);
    check(what, got, want, rows * cols, 0.0, 0.0);
    vte_buffer_release(&d_pixels);
    vte_buffer_release(&d_patches);
    clReleaseKernel(k);
    vte_runtime_free(rt);
    free(pixels), free(got), free(want);
}

Test(embed, patch_im2col_drops_partial_patches) { run_im2col(2, 3, 37, 29, 8); }

Test(embed, patch_im2col_vit_geometry) { run_im2col(1, 3, 64, 48, 16); }

Test(embed, embeddings_assemble) {
    const int batch = 3, tokens = 13, dim = 773;
    const size_t n_patch = (size_t)batch * (tokens - 1) * dim, n_hidden = (size_t)batch * tokens * dim;
    float *patch = alloc_floats(n_patch), *bias = alloc_floats(dim), *cls = alloc_floats(dim);
    float *pos = alloc_floats((size_t)tokens * dim), *got = alloc_floats(n_hidden), *want = alloc_floats(n_hidden);
    vte_test_fill_uniform(patch, n_patch, -3.0f, 3.0f, 41);
    vte_test_fill_uniform(bias, dim, -1.0f, 1.0f, 42);
    vte_test_fill_uniform(cls, dim, -1.0f, 1.0f, 43);
    vte_test_fill_uniform(pos, (size_t)tokens * dim, -1.0f, 1.0f, 44);
    for (int b = 0; b < batch; b++)
        for (int t = 0; t < tokens; t++)
            for (int d = 0; d < dim; d++) {
                float v = t == 0 ? cls[d] + pos[d]
                                 : (patch[((size_t)b * (tokens - 1) + t - 1) * dim + d] + bias[d]) + pos[(size_t)t * dim + d];
                want[((size_t)b * tokens + t) * dim + d] = v;
            }
    vte_runtime *rt = vte_test_runtime();
    vte_error err = {0};
    cl_kernel k = make_kernel(rt, "embed", "embeddings_assemble");
    cl_mem d_patch = upload(rt, patch, n_patch), d_bias = upload(rt, bias, dim), d_cls = upload(rt, cls, dim);
    cl_mem d_pos = upload(rt, pos, (size_t)tokens * dim), d_hidden = upload(rt, got, n_hidden);
    size_t local = elementwise_local(rt, k), global = vte_round_up(n_hidden, local);
    cr_assert_eq(VTE_RUN(rt, k, 1, &global, &local, &err, VTE_ARG(d_patch), VTE_ARG(d_bias), VTE_ARG(d_cls),
                         VTE_ARG(d_pos), VTE_ARG(d_hidden), VTE_INT(batch), VTE_INT(tokens), VTE_INT(dim)),
                 VTE_OK, "%s", err.message);
    download(rt, d_hidden, got, n_hidden);
    guard_intact(rt, d_hidden, n_hidden, "embeddings_assemble");
    check("embeddings_assemble 3x13x773", got, want, n_hidden, 0.0, 0.0);
    cl_mem all[] = {d_patch, d_bias, d_cls, d_pos, d_hidden};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) vte_buffer_release(&all[i]);
    clReleaseKernel(k);
    vte_runtime_free(rt);
    free(patch), free(bias), free(cls), free(pos), free(got), free(want);
}

/* The launch of an element-wise row kernel over [rows, cols] in either form (the same arguments): 2-D over
 * (columns, rows), or one work-item per row. */
static cl_uint row_launch(vte_runtime *rt, cl_kernel k, row_form form, int rows, int cols, size_t global[2],
                          size_t local[2]) {
    local[0] = elementwise_local(rt, k), local[1] = 1;
    if (form == ONE_ITEM_PER_ROW) {
        global[0] = vte_round_up((size_t)rows, local[0]), global[1] = 1;
        return 1;
    }
    global[0] = vte_round_up((size_t)cols, local[0]), global[1] = (size_t)rows;
    return 2;
}

/* ---------------------------------------------------------------- elementwise.cl */

static void run_bias_add(row_form form) {
    const int rows = 197, cols = 773;
    const size_t n = (size_t)rows * cols;
    float *x = alloc_floats(n), *bias = alloc_floats(cols), *want = alloc_floats(n);
    vte_test_fill_uniform(x, n, -3.0f, 3.0f, 51);
    vte_test_fill_uniform(bias, cols, -1.0f, 1.0f, 52);
    for (size_t i = 0; i < n; i++) want[i] = x[i] + bias[i % cols];
    vte_runtime *rt = vte_test_runtime();
    vte_error err = {0};
    cl_kernel k = make_row_kernel(rt, "elementwise", "bias_add", form);
    cl_mem d_x = upload(rt, x, n), d_bias = upload(rt, bias, cols);
    size_t local[2], global[2];
    const cl_uint dims = row_launch(rt, k, form, rows, cols, global, local);
    cr_assert_eq(VTE_RUN(rt, k, dims, global, local, &err, VTE_ARG(d_x), VTE_ARG(d_bias), VTE_INT(rows), VTE_INT(cols)),
                 VTE_OK, "%s", err.message);
    download(rt, d_x, x, n);
    guard_intact(rt, d_x, n, "bias_add");
    check("bias_add 197x773", x, want, n, 0.0, 0.0);
    vte_buffer_release(&d_x), vte_buffer_release(&d_bias);
    clReleaseKernel(k);
    vte_runtime_free(rt);
    free(x), free(bias), free(want);
}

Test(elementwise, bias_add) { run_bias_add(ONE_GROUP_PER_ROW); }

Test(elementwise, bias_add_per_item) { run_bias_add(ONE_ITEM_PER_ROW); }

static void run_bias_gelu_forward(row_form form) {
    const int rows = 13, cols = 3077;
    const size_t n = (size_t)rows * cols;
    float *u = alloc_floats(n), *act = alloc_floats(n), *bias = alloc_floats(cols);
    float *want_u = alloc_floats(n), *want_act = alloc_floats(n);
    vte_test_fill_uniform(u, n, -6.0f, 6.0f, 61);
    vte_test_fill_uniform(bias, cols, -1.0f, 1.0f, 62);
    for (size_t i = 0; i < n; i++) {
        want_u[i] = u[i] + bias[i % cols];
        want_act[i] = (float)ref_gelu(want_u[i]);
        act[i] = NAN;
    }
    vte_runtime *rt = vte_test_runtime();
    vte_error err = {0};
    cl_kernel k = make_row_kernel(rt, "elementwise", "bias_gelu_forward", form);
    cl_mem d_u = upload(rt, u, n), d_act = upload(rt, act, n), d_bias = upload(rt, bias, cols);
    size_t local[2], global[2];
    const cl_uint dims = row_launch(rt, k, form, rows, cols, global, local);
    cr_assert_eq(VTE_RUN(rt, k, dims, global, local, &err, VTE_ARG(d_u), VTE_ARG(d_act), VTE_ARG(d_bias),
                         VTE_INT(rows), VTE_INT(cols)),
                 VTE_OK, "%s", err.message);
    download(rt, d_u, u, n);
    download(rt, d_act, act, n);
    guard_intact(rt, d_u, n, "bias_gelu_forward u");
    guard_intact(rt, d_act, n, "bias_gelu_forward activated");
    check("bias_gelu_forward pre-activation", u, want_u, n, 0.0, 0.0);
    check("bias_gelu_forward gelu 13x3077", act, want_act, n, 1e-6, 1e-6);
    vte_buffer_release(&d_u), vte_buffer_release(&d_act), vte_buffer_release(&d_bias);
    clReleaseKernel(k);
    vte_runtime_free(rt);
    free(u), free(act), free(bias), free(want_u), free(want_act);
}

Test(elementwise, bias_gelu_forward) { run_bias_gelu_forward(ONE_GROUP_PER_ROW); }

Test(elementwise, bias_gelu_forward_per_item) { run_bias_gelu_forward(ONE_ITEM_PER_ROW); }

static void run_bias_residual_add(row_form form) {
    const int rows = 197, cols = 37;
    const size_t n = (size_t)rows * cols;
    float *x = alloc_floats(n), *bias = alloc_floats(cols), *res = alloc_floats(n), *want = alloc_floats(n);
    vte_test_fill_uniform(x, n, -3.0f, 3.0f, 71);
    vte_test_fill_uniform(bias, cols, -1.0f, 1.0f, 72);
    vte_test_fill_uniform(res, n, -10.0f, 10.0f, 73);
    for (size_t i = 0; i < n; i++) want[i] = (x[i] + bias[i % cols]) + res[i];
    vte_runtime *rt = vte_test_runtime();
    vte_error err = {0};
    cl_kernel k = make_row_kernel(rt, "elementwise", "bias_residual_add", form);
    cl_mem d_x = upload(rt, x, n), d_bias = upload(rt, bias, cols), d_res = upload(rt, res, n);
    size_t local[2], global[2];
    const cl_uint dims = row_launch(rt, k, form, rows, cols, global, local);
    cr_assert_eq(VTE_RUN(rt, k, dims, global, local, &err, VTE_ARG(d_x), VTE_ARG(d_bias), VTE_ARG(d_res),
                         VTE_INT(rows), VTE_INT(cols)),
                 VTE_OK, "%s", err.message);
    download(rt, d_x, x, n);
    guard_intact(rt, d_x, n, "bias_residual_add");
    check("bias_residual_add 197x37", x, want, n, 0.0, 0.0);
    vte_buffer_release(&d_x), vte_buffer_release(&d_bias), vte_buffer_release(&d_res);
    clReleaseKernel(k);
    vte_runtime_free(rt);
    free(x), free(bias), free(res), free(want);
}

Test(elementwise, bias_residual_add) { run_bias_residual_add(ONE_GROUP_PER_ROW); }

Test(elementwise, bias_residual_add_per_item) { run_bias_residual_add(ONE_ITEM_PER_ROW); }

/* d [rows, cols] *= gelu'(u), u's rows u_row_stride apart (the CLS rows of a [rows*T, cols] array when T*cols);
 * u has source_rows rows, row r of d takes row r % source_rows (several targets over one forward pass). */
static void run_gelu_backward(int rows, int source_rows, int cols, int u_row_stride, unsigned seed, row_form form) {
    const size_t n = (size_t)rows * cols, n_u = (size_t)(source_rows - 1) * u_row_stride + cols;
    float *u = alloc_floats(n_u), *d = alloc_floats(n), *want = alloc_floats(n);
    vte_test_fill_uniform(u, n_u, -7.0f, 7.0f, seed);
    vte_test_fill_uniform(d, n, -2.0f, 2.0f, seed + 1);
    for (int r = 0; r < rows; r++)
        for (int c = 0; c < cols; c++) {
            const size_t i = (size_t)r * cols + c;
            want[i] = (float)((double)d[i] * ref_gelu_grad(u[(size_t)(r % source_rows) * u_row_stride + c]));
        }
    vte_runtime *rt = vte_test_runtime();
    vte_error err = {0};
    cl_kernel k = make_row_kernel(rt, "elementwise", "gelu_backward", form);
    cl_mem d_u = upload(rt, u, n_u), d_d = upload(rt, d, n);
    size_t local[2], global[2];
    const cl_uint dims = row_launch(rt, k, form, rows, cols, global, local);
    cr_assert_eq(VTE_RUN(rt, k, dims, global, local, &err, VTE_ARG(d_u), VTE_INT(u_row_stride), VTE_ARG(d_d),
                         VTE_INT(rows), VTE_INT(source_rows), VTE_INT(cols)),
                 VTE_OK, "%s", err.message);
    download(rt, d_d, d, n);
    guard_intact(rt, d_d, n, "gelu_backward");
    char what[64];
    snprintf(what, sizeof what, "gelu_backward (%s) %dx%d u stride %d, %d source rows", ROW_FORM_NAME(form), rows,
             cols, u_row_stride, source_rows);
    check(what, d, want, n, 1e-6, 1e-6);
    vte_buffer_release(&d_u), vte_buffer_release(&d_d);
    clReleaseKernel(k);
    vte_runtime_free(rt);
    free(u), free(d), free(want);
}

Test(elementwise, gelu_backward) {
    run_gelu_backward(197, 197, 37, 37, 81, ONE_GROUP_PER_ROW);
    run_gelu_backward(197, 197, 37, 37, 81, ONE_ITEM_PER_ROW);
}

Test(elementwise, gelu_backward_strided_cls_rows) {
    run_gelu_backward(3, 3, 773, 17 * 773, 83, ONE_GROUP_PER_ROW);
    run_gelu_backward(3, 3, 773, 17 * 773, 83, ONE_ITEM_PER_ROW);
}

Test(elementwise, gelu_backward_source_rows_taken_in_turn) {
    /* three targets over 13 rows of one forward pass; then the CLS rows of 2 images, 3 targets */
    run_gelu_backward(39, 13, 37, 37, 85, ONE_GROUP_PER_ROW);
    run_gelu_backward(39, 13, 37, 37, 85, ONE_ITEM_PER_ROW);
    run_gelu_backward(6, 2, 773, 5 * 773, 87, ONE_GROUP_PER_ROW);
    run_gelu_backward(6, 2, 773, 5 * 773, 87, ONE_ITEM_PER_ROW);
}

Test(elementwise, add_inplace) {
    const int n = 197 * 773;
    float *x = alloc_floats(n), *y = alloc_floats(n), *want = alloc_floats(n);
    vte_test_fill_uniform(x, n, -3.0f, 3.0f, 91);
    vte_test_fill_uniform(y, n, -3.0f, 3.0f, 92);
    for (int i = 0; i < n; i++) want[i] = x[i] + y[i];
    vte_runtime *rt = vte_test_runtime();
    vte_error err = {0};
    cl_kernel k = make_kernel(rt, "elementwise", "add_inplace");
    cl_mem d_x = upload(rt, x, n), d_y = upload(rt, y, n);
    size_t local = elementwise_local(rt, k), global = vte_round_up(n, local);
    cr_assert_eq(VTE_RUN(rt, k, 1, &global, &local, &err, VTE_ARG(d_x), VTE_ARG(d_y), VTE_INT(n)), VTE_OK, "%s",
                 err.message);
    download(rt, d_x, x, n);
    guard_intact(rt, d_x, n, "add_inplace");
    check("add_inplace n=152281", x, want, n, 0.0, 0.0);
    vte_buffer_release(&d_x), vte_buffer_release(&d_y);
    clReleaseKernel(k);
    vte_runtime_free(rt);
    free(x), free(y), free(want);
}

/* ---------------------------------------------------------------- layernorm.cl */

/* rows rows of dim values at stride x_row_stride; values offset per row so that the mean matters. */
static void run_layernorm_forward(int rows, int dim, int x_row_stride, float eps, unsigned seed, row_form form) {
    const size_t n_x = (size_t)(rows - 1) * x_row_stride + dim, n_y = (size_t)rows * dim;
    float *x = alloc_floats(n_x), *gamma = alloc_floats(dim), *beta = alloc_floats(dim);
    float *y = alloc_floats(n_y), *mean = alloc_floats(rows), *rstd = alloc_floats(rows);
    float *want_y = alloc_floats(n_y), *want_mean = alloc_floats(rows), *want_rstd = alloc_floats(rows);
    double *xd = alloc_doubles(dim), *gd = alloc_doubles(dim), *bd = alloc_doubles(dim), *yd = alloc_doubles(dim);
    vte_test_fill_uniform(x, n_x, -3.0f, 3.0f, seed);
    for (int r = 0; r < rows; r++)
        for (int i = 0; i < dim; i++) x[(size_t)r * x_row_stride + i] += (float)(r % 7) - 3.0f;
    vte_test_fill_uniform(gamma, dim, 0.5f, 1.5f, seed + 1);
    vte_test_fill_uniform(beta, dim, -0.5f, 0.5f, seed + 2);
    for (int i = 0; i < dim; i++) gd[i] = gamma[i], bd[i] = beta[i];
    for (int r = 0; r < rows; r++) {
        double m, s;
        for (int i = 0; i < dim; i++) xd[i] = x[(size_t)r * x_row_stride + i];
        ref_layernorm_forward(xd, gd, bd, dim, eps, yd, &m, &s);
        to_float(yd, want_y + (size_t)r * dim, dim);
        want_mean[r] = (float)m, want_rstd[r] = (float)s;
    }
    vte_runtime *rt = vte_test_runtime();
    vte_error err = {0};
    cl_kernel k = make_row_kernel(rt, "layernorm", "layernorm_forward", form);
    cl_mem d_x = upload(rt, x, n_x), d_gamma = upload(rt, gamma, dim), d_beta = upload(rt, beta, dim);
    cl_mem d_y = upload(rt, want_y, n_y), d_mean = upload(rt, want_mean, rows), d_rstd = upload(rt, want_rstd, rows);
    cr_assert_eq(vte_buffer_fill_zero(rt, d_y, n_y * sizeof(float), &err), VTE_OK, "%s", err.message);
    cr_assert_eq(vte_buffer_fill_zero(rt, d_mean, rows * sizeof(float), &err), VTE_OK, "%s", err.message);
    cr_assert_eq(vte_buffer_fill_zero(rt, d_rstd, rows * sizeof(float), &err), VTE_OK, "%s", err.message);
    if (form == ONE_ITEM_PER_ROW) {
        size_t local = elementwise_local(rt, k), global = vte_round_up((size_t)rows, local);
        cr_assert_eq(VTE_RUN(rt, k, 1, &global, &local, &err, VTE_ARG(d_x), VTE_INT(x_row_stride), VTE_ARG(d_y),
                             VTE_ARG(d_mean), VTE_ARG(d_rstd), VTE_ARG(d_gamma), VTE_ARG(d_beta), VTE_INT(rows),
                             VTE_INT(dim), VTE_FLOAT(eps)),
                     VTE_OK, "%s", err.message);
    } else {
        size_t local = row_local(rt, k), global = (size_t)rows * local;
        cr_assert_eq(VTE_RUN(rt, k, 1, &global, &local, &err, VTE_ARG(d_x), VTE_INT(x_row_stride), VTE_ARG(d_y),
                             VTE_ARG(d_mean), VTE_ARG(d_rstd), VTE_ARG(d_gamma), VTE_ARG(d_beta), VTE_INT(rows),
                             VTE_INT(dim), VTE_FLOAT(eps), VTE_LOCAL(local * sizeof(float))),
                     VTE_OK, "%s", err.message);
    }
    download(rt, d_y, y, n_y);
    download(rt, d_mean, mean, rows);
    download(rt, d_rstd, rstd, rows);
    guard_intact(rt, d_y, n_y, "layernorm_forward y");
    guard_intact(rt, d_mean, rows, "layernorm_forward mean");
    guard_intact(rt, d_rstd, rows, "layernorm_forward rstd");
    char what[96];
    snprintf(what, sizeof what, "layernorm_forward (%s) y %dx%d stride %d", ROW_FORM_NAME(form), rows, dim,
             x_row_stride);
    check(what, y, want_y, n_y, 1e-6, 1e-5);
    check("layernorm_forward mean", mean, want_mean, rows, 1e-6, 1e-5);
    check("layernorm_forward rstd", rstd, want_rstd, rows, 1e-6, 1e-5);
    cl_mem all[] = {d_x, d_gamma, d_beta, d_y, d_mean, d_rstd};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) vte_buffer_release(&all[i]);
    clReleaseKernel(k);
    vte_runtime_free(rt);
    free(x), free(gamma), free(beta), free(y), free(mean), free(rstd), free(want_y), free(want_mean), free(want_rstd);
    free(xd), free(gd), free(bd), free(yd);
}

Test(layernorm, forward_contiguous_197x37) {
    run_layernorm_forward(197, 37, 37, 1e-5f, 101, ONE_GROUP_PER_ROW);
    run_layernorm_forward(197, 37, 37, 1e-5f, 101, ONE_ITEM_PER_ROW);
}

Test(layernorm, forward_strided_cls_rows_13x773) {
    run_layernorm_forward(13, 773, 13 * 773 + 11, 1e-12f, 111, ONE_GROUP_PER_ROW);
    run_layernorm_forward(13, 773, 13 * 773 + 11, 1e-12f, 111, ONE_ITEM_PER_ROW);
}

Test(layernorm, forward_vector_width_rows_29x768) {
    /* ViT-B's width: whole float8 vectors and no tail in the per-item form. */
    run_layernorm_forward(29, 768, 768, 1e-12f, 113, ONE_GROUP_PER_ROW);
    run_layernorm_forward(29, 768, 768, 1e-12f, 113, ONE_ITEM_PER_ROW);
}

/* dx of rows x dim at stride dx_row_stride (gaps between rows must stay untouched). */
/* Row r's statistics sit at mean[r*stats_stride] (the CLS rows' among all rows' when stats_stride is T). x and
 * the statistics have source_rows rows: row r of dy and dx takes row r % source_rows (several targets). */
static void run_layernorm_backward(int rows, int source_rows, int dim, int x_row_stride, int dx_row_stride,
                                   int stats_stride, int accumulate, unsigned seed, row_form form) {
    const size_t n_x = (size_t)(source_rows - 1) * x_row_stride + dim, n_dy = (size_t)rows * dim;
    const size_t n_dx = (size_t)(rows - 1) * dx_row_stride + dim;
    const double eps = 1e-12;
    float *x = alloc_floats(n_x), *gamma = alloc_floats(dim), *dy = alloc_floats(n_dy);
    const size_t n_stats = (size_t)(source_rows - 1) * stats_stride + 1;
    float *mean = alloc_floats(n_stats), *rstd = alloc_floats(n_stats), *dx = alloc_floats(n_dx);
    float *want = alloc_floats(n_dx);
    double *xd = alloc_doubles(dim), *gd = alloc_doubles(dim), *dyd = alloc_doubles(dim), *dxd = alloc_doubles(dim);
    double *yd = alloc_doubles(dim), *zero = alloc_doubles(dim);
    vte_test_fill_uniform(x, n_x, -3.0f, 3.0f, seed);
    vte_test_fill_uniform(gamma, dim, 0.5f, 1.5f, seed + 1);
    vte_test_fill_uniform(dy, n_dy, -1.0f, 1.0f, seed + 2);
    vte_test_fill_uniform(dx, n_dx, -1.0f, 1.0f, seed + 3);
    memcpy(want, dx, n_dx * sizeof(float));
    for (size_t i = 0; i < n_stats; i++) mean[i] = 1e30f, rstd[i] = 1e30f; /* statistics of other rows: unused */
    for (int i = 0; i < dim; i++) gd[i] = gamma[i], zero[i] = 0.0;
    for (int r = 0; r < rows; r++) {
        double m, s;
        const int source = r % source_rows;
        for (int i = 0; i < dim; i++) xd[i] = x[(size_t)source * x_row_stride + i];
        ref_layernorm_forward(xd, gd, zero, dim, eps, yd, &m, &s);
        const size_t at = (size_t)source * stats_stride;
        mean[at] = (float)m, rstd[at] = (float)s; /* the kernel gets float statistics: use the same ones */
        for (int i = 0; i < dim; i++) dyd[i] = dy[(size_t)r * dim + i];
        ref_layernorm_backward(dyd, xd, mean[at], rstd[at], gd, dim, dxd);
        for (int i = 0; i < dim; i++) {
            float *w = &want[(size_t)r * dx_row_stride + i];
            *w = accumulate ? (float)((double)*w + dxd[i]) : (float)dxd[i];
        }
    }
    vte_runtime *rt = vte_test_runtime();
    vte_error err = {0};
    cl_kernel k = make_row_kernel(rt, "layernorm", "layernorm_backward", form);
    cl_mem d_dy = upload(rt, dy, n_dy), d_x = upload(rt, x, n_x), d_mean = upload(rt, mean, n_stats);
    cl_mem d_rstd = upload(rt, rstd, n_stats), d_gamma = upload(rt, gamma, dim), d_dx = upload(rt, dx, n_dx);
    if (form == ONE_ITEM_PER_ROW) {
        size_t local = elementwise_local(rt, k), global = vte_round_up((size_t)rows, local);
        cr_assert_eq(VTE_RUN(rt, k, 1, &global, &local, &err, VTE_ARG(d_dy), VTE_ARG(d_x), VTE_INT(x_row_stride),
                             VTE_ARG(d_mean), VTE_ARG(d_rstd), VTE_INT(stats_stride), VTE_ARG(d_gamma), VTE_ARG(d_dx),
                             VTE_INT(dx_row_stride), VTE_INT(accumulate), VTE_INT(rows), VTE_INT(source_rows),
                             VTE_INT(dim)),
                     VTE_OK, "%s", err.message);
    } else {
        size_t local = row_local(rt, k), global = (size_t)rows * local;
        cr_assert_eq(VTE_RUN(rt, k, 1, &global, &local, &err, VTE_ARG(d_dy), VTE_ARG(d_x), VTE_INT(x_row_stride),
                             VTE_ARG(d_mean), VTE_ARG(d_rstd), VTE_INT(stats_stride), VTE_ARG(d_gamma), VTE_ARG(d_dx),
                             VTE_INT(dx_row_stride), VTE_INT(accumulate), VTE_INT(rows), VTE_INT(source_rows),
                             VTE_INT(dim), VTE_LOCAL(local * sizeof(float))),
                     VTE_OK, "%s", err.message);
    }
    download(rt, d_dx, dx, n_dx);
    guard_intact(rt, d_dx, n_dx, "layernorm_backward dx");
    char what[96];
    snprintf(what, sizeof what, "layernorm_backward (%s) %dx%d acc=%d stats stride %d, %d source rows",
             ROW_FORM_NAME(form), rows, dim, accumulate, stats_stride, source_rows);
    check(what, dx, want, n_dx, 1e-6, 1e-5);
    cl_mem all[] = {d_dy, d_x, d_mean, d_rstd, d_gamma, d_dx};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) vte_buffer_release(&all[i]);
    clReleaseKernel(k);
    vte_runtime_free(rt);
    free(x), free(gamma), free(dy), free(mean), free(rstd), free(dx), free(want);
    free(xd), free(gd), free(dyd), free(dxd), free(yd), free(zero);
}

Test(layernorm, backward_write_197x37) {
    run_layernorm_backward(197, 197, 37, 37, 37, 1, 0, 121, ONE_GROUP_PER_ROW);
    run_layernorm_backward(197, 197, 37, 37, 37, 1, 0, 121, ONE_ITEM_PER_ROW);
}

Test(layernorm, backward_accumulate_strided_13x773) {
    run_layernorm_backward(13, 13, 773, 2 * 773 + 3, 773 + 9, 1, 1, 131, ONE_GROUP_PER_ROW);
    run_layernorm_backward(13, 13, 773, 2 * 773 + 3, 773 + 9, 1, 1, 131, ONE_ITEM_PER_ROW);
}

Test(layernorm, backward_accumulate_strided_13x37) {
    run_layernorm_backward(13, 13, 37, 41, 37, 1, 1, 141, ONE_GROUP_PER_ROW);
    run_layernorm_backward(13, 13, 37, 41, 37, 1, 1, 141, ONE_ITEM_PER_ROW);
}

Test(layernorm, backward_cls_rows_statistics_strided_5x768) {
    /* the last layer's CLS rows: x, dx and the statistics every T = 7 rows */
    run_layernorm_backward(5, 5, 768, 7 * 768, 7 * 768, 7, 1, 145, ONE_GROUP_PER_ROW);
    run_layernorm_backward(5, 5, 768, 7 * 768, 7 * 768, 7, 1, 145, ONE_ITEM_PER_ROW);
}

Test(layernorm, backward_source_rows_taken_in_turn) {
    /* two targets over 13 rows of one forward pass; then the CLS rows (every T = 7) of 2 images, 4 targets */
    run_layernorm_backward(26, 13, 37, 41, 37, 1, 1, 147, ONE_GROUP_PER_ROW);
    run_layernorm_backward(26, 13, 37, 41, 37, 1, 1, 147, ONE_ITEM_PER_ROW);
    run_layernorm_backward(8, 2, 768, 7 * 768, 7 * 768, 7, 1, 149, ONE_GROUP_PER_ROW);
    run_layernorm_backward(8, 2, 768, 7 * 768, 7 * 768, 7, 1, 149, ONE_ITEM_PER_ROW);
}

Test(layernorm, backward_vector_width_rows_29x768) {
    run_layernorm_backward(29, 29, 768, 768, 768, 1, 0, 143, ONE_GROUP_PER_ROW);
    run_layernorm_backward(29, 29, 768, 768, 768, 1, 1, 143, ONE_ITEM_PER_ROW);
}

/* ---------------------------------------------------------------- attention.cl */

/* local == 0: the runtime's choice for 256 (64 per item); otherwise that local size (the kernels allow any). */
static void run_softmax(int rows, int cols, float lo, float hi, size_t local_wanted, unsigned seed, row_form form) {
    const size_t n = (size_t)rows * cols;
    float *x = alloc_floats(n), *want = alloc_floats(n);
    double *sd = alloc_doubles(cols), *ad = alloc_doubles(cols);
    vte_test_fill_uniform(x, n, lo, hi, seed);
    for (int r = 0; r < rows; r++) {
        for (int j = 0; j < cols; j++) sd[j] = x[(size_t)r * cols + j];
        ref_softmax(sd, cols, ad);
        to_float(ad, want + (size_t)r * cols, cols);
    }
    vte_runtime *rt = vte_test_runtime();
    vte_error err = {0};
    cl_kernel k = make_row_kernel(rt, "attention", "softmax_rows", form);
    cl_mem d_x = upload(rt, x, n);
    size_t local;
    if (form == ONE_ITEM_PER_ROW) {
        local = local_wanted ? local_wanted : elementwise_local(rt, k);
        size_t global = vte_round_up((size_t)rows, local);
        cr_assert_eq(VTE_RUN(rt, k, 1, &global, &local, &err, VTE_ARG(d_x), VTE_INT(rows), VTE_INT(cols)), VTE_OK,
                     "%s", err.message);
    } else {
        local = local_wanted ? local_wanted : row_local(rt, k);
        size_t global = (size_t)rows * local;
        cr_assert_eq(VTE_RUN(rt, k, 1, &global, &local, &err, VTE_ARG(d_x), VTE_INT(rows), VTE_INT(cols),
                             VTE_LOCAL(local * sizeof(float))),
                     VTE_OK, "%s", err.message);
    }
    download(rt, d_x, x, n);
    guard_intact(rt, d_x, n, "softmax_rows");
    char what[96];
    snprintf(what, sizeof what, "softmax_rows (%s) %dx%d [%g,%g) local %zu", ROW_FORM_NAME(form), rows, cols, lo,
             hi, local);
    check(what, x, want, n, 1e-7, 1e-5);
    for (int r = 0; r < rows; r++) {
        double sum = 0.0;
        for (int j = 0; j < cols; j++) sum += x[(size_t)r * cols + j];
        cr_assert(fabs(sum - 1.0) <= 1e-5, "softmax row %d sums to %.9g", r, sum);
    }
    vte_buffer_release(&d_x);
    clReleaseKernel(k);
    vte_runtime_free(rt);
    free(x), free(want), free(sd), free(ad);
}

static void run_softmax_in_both_forms(int rows, int cols, float lo, float hi, unsigned seed) {
    run_softmax(rows, cols, lo, hi, 0, seed, ONE_GROUP_PER_ROW);
    run_softmax(rows, cols, lo, hi, 0, seed, ONE_ITEM_PER_ROW);
}

Test(attention, softmax_197x197) { run_softmax_in_both_forms(197, 197, -8.0f, 8.0f, 141); }

Test(attention, softmax_large_magnitude) { run_softmax_in_both_forms(13, 1029, -50.0f, 50.0f, 151); }

Test(attention, softmax_fewer_columns_than_work_items) {
    /* per item: fewer columns than one float8, so only the scalar tail runs */
    run_softmax_in_both_forms(7, 3, -50.0f, 50.0f, 161);
}

Test(attention, softmax_any_local_size) {
    run_softmax(5, 197, -8.0f, 8.0f, 1, 171, ONE_GROUP_PER_ROW);
    run_softmax(5, 197, -8.0f, 8.0f, 48, 172, ONE_GROUP_PER_ROW);
    run_softmax(5, 197, -8.0f, 8.0f, 1, 173, ONE_ITEM_PER_ROW);
    run_softmax(5, 197, -8.0f, 8.0f, 3, 174, ONE_ITEM_PER_ROW); /* rows not a multiple of the group */
}

/* in_place: out is grad itself; otherwise grad must come back untouched. probs has source_rows rows, row r of grad
 * takes row r % source_rows (several targets over one forward pass). */
static void run_softmax_backward(int rows, int source_rows, row_form form, int in_place) {
    const int cols = 197;
    const size_t n = (size_t)rows * cols, n_probs = (size_t)source_rows * cols;
    float *s = alloc_floats(n_probs), *probs = alloc_floats(n_probs), *grad = alloc_floats(n), *want = alloc_floats(n);
    double *sd = alloc_doubles(cols), *ad = alloc_doubles(cols), *gd = alloc_doubles(cols), *dsd = alloc_doubles(cols);
    vte_test_fill_uniform(s, n_probs, -8.0f, 8.0f, 181);
    vte_test_fill_uniform(grad, n, -1.0f, 1.0f, 182);
    for (int r = 0; r < source_rows; r++) {
        for (int j = 0; j < cols; j++) sd[j] = s[(size_t)r * cols + j];
        ref_softmax(sd, cols, ad);
        to_float(ad, probs + (size_t)r * cols, cols);
    }
    for (int r = 0; r < rows; r++) {
        const float *pr = probs + (size_t)(r % source_rows) * cols;
        for (int j = 0; j < cols; j++) ad[j] = pr[j], gd[j] = grad[(size_t)r * cols + j];
        ref_softmax_backward(ad, gd, cols, dsd);
        to_float(dsd, want + (size_t)r * cols, cols);
    }
    vte_runtime *rt = vte_test_runtime();
    vte_error err = {0};
    cl_kernel k = make_row_kernel(rt, "attention", "softmax_backward", form);
    cl_mem d_probs = upload(rt, probs, n_probs), d_grad = upload(rt, grad, n);
    cl_mem d_out = in_place ? d_grad : upload(rt, want, n);
    if (form == ONE_ITEM_PER_ROW) {
        size_t local = elementwise_local(rt, k), global = vte_round_up((size_t)rows, local);
        cr_assert_eq(VTE_RUN(rt, k, 1, &global, &local, &err, VTE_ARG(d_probs), VTE_ARG(d_grad), VTE_ARG(d_out),
                             VTE_INT(rows), VTE_INT(source_rows), VTE_INT(cols)),
                     VTE_OK, "%s", err.message);
    } else {
        size_t local = row_local(rt, k), global = (size_t)rows * local;
        cr_assert_eq(VTE_RUN(rt, k, 1, &global, &local, &err, VTE_ARG(d_probs), VTE_ARG(d_grad), VTE_ARG(d_out),
                             VTE_INT(rows), VTE_INT(source_rows), VTE_INT(cols), VTE_LOCAL(local * sizeof(float))),
                     VTE_OK, "%s", err.message);
    }
    if (!in_place) {
        float *grad_after = alloc_floats(n);
        download(rt, d_grad, grad_after, n);
        check("softmax_backward leaves its input", grad_after, grad, n, 0.0, 0.0);
        free(grad_after);
    }
    download(rt, d_out, grad, n);
    guard_intact(rt, d_out, n, "softmax_backward");
    char what[96];
    snprintf(what, sizeof what, "softmax_backward (%s) %dx%d, %d source rows", ROW_FORM_NAME(form), rows, cols,
             source_rows);
    check(what, grad, want, n, 1e-7, 1e-5);
    if (!in_place) vte_buffer_release(&d_out);
    vte_buffer_release(&d_probs), vte_buffer_release(&d_grad);
    clReleaseKernel(k);
    vte_runtime_free(rt);
    free(s), free(probs), free(grad), free(want), free(sd), free(ad), free(gd), free(dsd);
}

Test(attention, softmax_backward_197x197) {
    run_softmax_backward(197, 197, ONE_GROUP_PER_ROW, 0);
    run_softmax_backward(197, 197, ONE_GROUP_PER_ROW, 1);
    run_softmax_backward(197, 197, ONE_ITEM_PER_ROW, 0);
    run_softmax_backward(197, 197, ONE_ITEM_PER_ROW, 1);
}

Test(attention, softmax_backward_source_rows_taken_in_turn) {
    /* three targets' gradients over 23 rows of probabilities */
    run_softmax_backward(69, 23, ONE_GROUP_PER_ROW, 0);
    run_softmax_backward(69, 23, ONE_ITEM_PER_ROW, 1);
}

/* ---------------------------------------------------------------- fused attention (attention.cl) */

/* ctx[b*T + i, h*Dh + e] = sum_j softmax_j(scale * q_i . k_j) v_j[e] for every image b and head h, from the packed
 * qkv [images*T, 3D] (Q, K, V at columns 0, D, 2D; head h at h*Dh of each), in double. Returns the largest
 * scale * sum_e |q_i[e] k_j[e]|: a float32 score is off by about FLT_EPSILON times it, which moves an output by
 * about as much times max |v| (the float32 error a fused kernel and the GEMM path alike cannot avoid). */
static double ref_attention(const float *qkv, int images, int heads, int tokens, int head_dim, double *ctx) {
    const size_t D = (size_t)heads * head_dim, ld = 3 * D;
    const double scale = 1.0 / sqrt((double)head_dim);
    double *s = alloc_doubles((size_t)tokens), *a = alloc_doubles((size_t)tokens), largest_score_magnitude = 0.0;
    for (int b = 0; b < images; b++)
        for (int h = 0; h < heads; h++) {
            const float *base = qkv + (size_t)b * tokens * ld + (size_t)h * head_dim;
            for (int i = 0; i < tokens; i++) {
                for (int j = 0; j < tokens; j++) {
                    double dot = 0.0, magnitude = 0.0;
                    for (int e = 0; e < head_dim; e++) {
                        const double product = (double)base[(size_t)i * ld + e] * (double)base[(size_t)j * ld + D + e];
                        dot += product;
                        magnitude += fabs(product);
                    }
                    s[j] = scale * dot;
                    if (scale * magnitude > largest_score_magnitude) largest_score_magnitude = scale * magnitude;
                }
                ref_softmax(s, tokens, a);
                double *out = ctx + ((size_t)b * tokens + i) * D + (size_t)h * head_dim;
                for (int e = 0; e < head_dim; e++) {
                    double sum = 0.0;
                    for (int j = 0; j < tokens; j++) sum += a[j] * (double)base[(size_t)j * ld + 2 * D + e];
                    out[e] = sum;
                }
            }
        }
    free(s), free(a);
    return largest_score_magnitude;
}

/* Both fused kernels (ONE_GROUP_PER_ROW: attention_fused, ONE_ITEM_PER_ROW: attention_fused_per_item) on random
 * packed activations in [-spread, spread); `rising` scales key j by 1 + 3j/T, so that later key blocks keep raising
 * each row's maximum (the online softmax's rescaling). local 0: the session's choice. */
static void run_fused_attention(int images, int heads, int tokens, int head_dim, float spread, int rising,
                                size_t local_wanted, unsigned seed, row_form form) {
    const size_t D = (size_t)heads * head_dim, n_qkv = (size_t)images * tokens * 3 * D, n_ctx = (size_t)images * tokens * D;
    float *qkv = alloc_floats(n_qkv), *got = alloc_floats(n_ctx), *want = alloc_floats(n_ctx);
    double *ctx = alloc_doubles(n_ctx);
    vte_test_fill_uniform(qkv, n_qkv, -spread, spread, seed);
    if (rising)
        for (size_t row = 0; row < (size_t)images * tokens; row++)
            for (size_t e = 0; e < D; e++) qkv[row * 3 * D + D + e] *= 1.0f + 3.0f * (float)(row % tokens) / tokens;
    const double score_magnitude = ref_attention(qkv, images, heads, tokens, head_dim, ctx);
    float largest_value = 0.0f;
    for (size_t row = 0; row < (size_t)images * tokens; row++)
        for (size_t e = 0; e < D; e++) largest_value = fmaxf(largest_value, fabsf(qkv[row * 3 * D + 2 * D + e]));
    to_float(ctx, want, n_ctx);
    for (size_t i = 0; i < n_ctx; i++) got[i] = NAN; /* every value must be written */

    vte_runtime *rt = vte_test_runtime();
    vte_error err = {0};
    cl_kernel k = make_row_kernel(rt, "attention", "attention_fused", form);
    cl_mem d_qkv = upload(rt, qkv, n_qkv), d_ctx = upload(rt, got, n_ctx);
    const float scale = (float)(1.0 / sqrt((double)head_dim));
    size_t local, global;
    if (form == ONE_ITEM_PER_ROW) {
        local = local_wanted ? local_wanted : vte_kernel_group_size(rt, k, 8);
        const size_t tiles = ((size_t)tokens + VTE_ATTENTION_QUERY_ROWS - 1) / VTE_ATTENTION_QUERY_ROWS;
        global = vte_round_up((size_t)images * heads * tiles, local);
        cr_assert_eq(VTE_RUN(rt, k, 1, &global, &local, &err, VTE_ARG(d_qkv), VTE_ARG(d_ctx), VTE_INT(images),
                             VTE_INT(heads), VTE_INT(tokens), VTE_INT(head_dim), VTE_FLOAT(scale)),
                     VTE_OK, "%s", err.message);
    } else {
        local = local_wanted ? local_wanted : vte_kernel_group_size(rt, k, 64);
        global = (size_t)images * heads * (((size_t)tokens + local - 1) / local) * local;
        const size_t staged = (2 * local + 2 * VTE_ATTENTION_KEY_TILE) * ((size_t)head_dim + 1) * sizeof(float);
        cr_assert_eq(VTE_RUN(rt, k, 1, &global, &local, &err, VTE_ARG(d_qkv), VTE_ARG(d_ctx), VTE_INT(images),
                             VTE_INT(heads), VTE_INT(tokens), VTE_INT(head_dim), VTE_FLOAT(scale),
                             VTE_LOCAL(staged)),
                     VTE_OK, "%s", err.message);
    }
    download(rt, d_ctx, got, n_ctx);
    guard_intact(rt, d_ctx, n_ctx, "attention_fused");
    char what[160];
    snprintf(what, sizeof what, "attention_fused (%s) %d images x %d heads, T %d, Dh %d, [-%g,%g)%s, local %zu",
             ROW_FORM_NAME(form), images, heads, tokens, head_dim, spread, spread, rising ? " rising keys" : "",
             local);
    check(what, got, want, n_ctx, 1e-7 + FLT_EPSILON * score_magnitude * largest_value, 1e-5);
    vte_buffer_release(&d_qkv), vte_buffer_release(&d_ctx);
    clReleaseKernel(k);
    vte_runtime_free(rt);
    free(qkv), free(got), free(want), free(ctx);
}

static void run_fused_attention_in_both_forms(int images, int heads, int tokens, int head_dim, float spread,
                                              int rising, unsigned seed) {
    run_fused_attention(images, heads, tokens, head_dim, spread, rising, 0, seed, ONE_GROUP_PER_ROW);
    run_fused_attention(images, heads, tokens, head_dim, spread, rising, 0, seed, ONE_ITEM_PER_ROW);
}

Test(attention, fused_vit_base_head_197_tokens) { run_fused_attention_in_both_forms(2, 3, 197, 64, 1.0f, 0, 181); }

Test(attention, fused_odd_head_sizes) {
    /* a scalar tail after one float8 (12), after two (20); fewer values than a float8 (5) */
    run_fused_attention_in_both_forms(2, 3, 197, 12, 1.0f, 0, 182);
    run_fused_attention_in_both_forms(2, 3, 197, 20, 1.0f, 0, 183);
    run_fused_attention_in_both_forms(2, 3, 7, 5, 1.0f, 0, 184);
}

Test(attention, fused_few_tokens) {
    /* fewer tokens than a block of keys or a tile of query rows; one token (probability 1) */
    run_fused_attention_in_both_forms(2, 3, 7, 64, 1.0f, 0, 185);
    run_fused_attention_in_both_forms(2, 3, 17, 20, 1.0f, 0, 186);
    run_fused_attention_in_both_forms(1, 2, 1, 12, 1.0f, 0, 187);
}

Test(attention, fused_peaked_and_rising_scores) {
    /* scores up to about 100 (softmax nearly one-hot), and maxima that grow from block to block */
    run_fused_attention_in_both_forms(2, 3, 197, 64, 3.5f, 0, 188);
    run_fused_attention_in_both_forms(2, 3, 197, 20, 2.0f, 1, 189);
}

Test(attention, fused_any_local_size) {
    run_fused_attention(2, 3, 197, 20, 1.0f, 0, 1, 191, ONE_GROUP_PER_ROW);
    run_fused_attention(2, 3, 197, 20, 1.0f, 0, 5, 192, ONE_GROUP_PER_ROW); /* rows not a multiple of the group */
    run_fused_attention(2, 3, 197, 20, 1.0f, 0, 48, 193, ONE_GROUP_PER_ROW);
    run_fused_attention(2, 3, 197, 20, 1.0f, 0, 1, 194, ONE_ITEM_PER_ROW);
    run_fused_attention(2, 3, 197, 20, 1.0f, 0, 3, 195, ONE_ITEM_PER_ROW); /* tiles not a multiple of the group */
    run_fused_attention(2, 3, 197, 20, 1.0f, 0, 64, 196, ONE_ITEM_PER_ROW);
}
