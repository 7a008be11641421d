/* Explanations against PyTorch references written from the specification with autograd
 * (tools/make_explain_reference.py), the backward pass against autograd and finite differences, and
 * properties that must hold whatever the weights.
 *
 * Tolerances: maps are min-max normalised to [0, 1]; float32 differences in the attention and its gradient
 * (a few 1e-7 relative) move them by far less than MAP_ATOL. d(logit)/dA is compared at GRAD_ATOL plus
 * GRAD_RTOL relative, float32-level for gradients of logits of a few units through 2-3 layers. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "explain/plan.h"
#include "forward_parts.h"
#include "runtime/gemm_mapped.h"
#include "test_support.h"
#include "util/npy.h"
#include "vit/session.h"

#define MAP_ATOL 1e-4
#define GRAD_ATOL 2e-5
#define GRAD_RTOL 1e-4

typedef struct fixture {
    vte_runtime *rt;
    vte_model *model;
    vte_session *session;
    const vte_model_config *c;
    char name[64];
} fixture;

static float *load_npy(const char *relative, size_t expected_count) {
    vte_npy npy = {0};
    vte_error err = {0};
    cr_assert_eq(vte_npy_read(vte_test_fixture(relative), &npy, &err), VTE_OK, "%s", err.message);
    cr_assert_eq(npy.dtype, VTE_NPY_F32, "%s: not float32", relative);
    if (expected_count) cr_assert_eq(npy.count, expected_count, "%s: %zu values, expected %zu", relative, npy.count, expected_count);
    return npy.data;
}

/* What open_model's sessions keep (tests of sessions that keep less change it). */
static unsigned session_keep = VTE_KEEP_ALL;

static fixture open_model(const char *name, int batch) {
    fixture f = {0};
    vte_error err = {0};
    char relative[128];
    snprintf(f.name, sizeof f.name, "%s", name);
    snprintf(relative, sizeof relative, "models/%s", name);
    f.rt = vte_test_runtime();
    f.model = vte_model_load(f.rt, vte_test_fixture(relative), &err);
    cr_assert_not_null(f.model, "%s: %s", name, err.message);
    f.c = vte_model_get_config(f.model);
    f.session = vte_session_init_keeping(f.model, batch, session_keep, &err);
    cr_assert_not_null(f.session, "%s", err.message);
    return f;
}

static void close_model(fixture *f) {
    vte_session_free(f->session);
    vte_model_free(f->model);
    vte_runtime_free(f->rt);
}

/* Pixels of `count` images of this model's fixtures, one after another. */
static float *load_pixels(const fixture *f, const char *const *stems, int count) {
    size_t n = vte_preprocess_size(f->c);
    float *pixels = malloc((size_t)count * n * sizeof *pixels);
    for (int i = 0; i < count; i++) {
        char path[256];
        snprintf(path, sizeof path, "reference/%s/%s_pixels.npy", f->name, stems[i]);
        float *p = load_npy(path, n);
        memcpy(pixels + (size_t)i * n, p, n * sizeof *p);
        free(p);
    }
    return pixels;
}

/* The three reference targets of an image: argmax, second best, lowest logit. */
static void load_targets(const fixture *f, const char *stem, int *targets) {
    char path[256];
    snprintf(path, sizeof path, "reference/%s/explain/%s_targets.npy", f->name, stem);
    float *t = load_npy(path, 3);
    for (int i = 0; i < 3; i++) targets[i] = (int)t[i];
    free(t);
}

static void check_map(const fixture *f, const float *got, size_t count, const char *file) {
    char path[512];
    snprintf(path, sizeof path, "reference/%s/explain/%s.npy", f->name, file);
    float *want = load_npy(path, count);
    char what[300];
    snprintf(what, sizeof what, "%s %s", f->name, file);
    vte_test_assert_close(got, want, count, MAP_ATOL, 0.0, what);
    free(want);
}

/* Explains `stems` (in one batch) for their three reference targets with `o`, and compares each method
 * in `methods` with reference files <stem>[_c<ID>]_<suffix>. */
static void check_methods(const char *model, const char *const *stems, int count, const vte_explain_options *o,
                          const char *const suffixes[VTE_METHOD_COUNT]) {
    fixture f = open_model(model, count);
    float *pixels = load_pixels(&f, stems, count);
    int *classes = malloc((size_t)count * 3 * sizeof *classes);
    for (int i = 0; i < count; i++) load_targets(&f, stems[i], classes + 3 * i);
    vte_error err = {0};
    vte_explanation *e = vte_session_explain(f.session, pixels, count, classes, 3, o, &err);
    cr_assert_not_null(e, "explain: %s", err.message);
    size_t grid = (size_t)f.c->grid_h * f.c->grid_w, up = (size_t)f.c->image_height * f.c->image_width;
    for (int i = 0; i < count; i++)
        for (int t = 0; t < 3; t++) {
            cr_assert_eq(vte_explanation_target(e, i, t).class_id, classes[3 * i + t]);
            for (int m = 0; m < VTE_METHOD_COUNT; m++) {
                if (!(o->methods & VTE_METHOD_BIT(m))) {
                    cr_assert_null(vte_explanation_map(e, i, t, (vte_method)m));
                    continue;
                }
                char file[200];
                if (m == VTE_METHOD_ROLLOUT)
                    snprintf(file, sizeof file, "%s_%s", stems[i], suffixes[m]);
                else
                    snprintf(file, sizeof file, "%s_c%d_%s", stems[i], classes[3 * i + t], suffixes[m]);
                const float *map = vte_explanation_map(e, i, t, (vte_method)m);
                cr_assert_not_null(map);
                check_map(&f, map, grid, file);
                if (o->upsample && (m == VTE_METHOD_ROLLOUT || m == VTE_METHOD_LEGRAD)) {
                    strcat(file, "_up");
                    check_map(&f, vte_explanation_upsampled(e, i, t, (vte_method)m), up, file);
                }
            }
        }
    vte_stage_times times = vte_explanation_times(e);
    cr_assert_gt(times.forward_ms, 0.0);
    cr_assert_gt(times.explain_ms, 0.0);
    vte_explanation_free(e);
    free(classes);
    free(pixels);
    close_model(&f);
}

static const char *const IMAGES[] = {"chelsea", "rocket", "horse"};
static const char *const DEFAULT_SUFFIXES[VTE_METHOD_COUNT] = {"rollout", "gmar_l1", "gmar_l2", "legrad", "chefer"};

static vte_explain_options all_methods(void) {
    vte_explain_options o;
    vte_explain_options_default(&o);
    o.methods = 0x1F;
    o.upsample = 1;
    return o;
}

Test(explain, every_method_matches_the_reference_on_the_tiny_model) {
    vte_explain_options o = all_methods();
    check_methods("vit-tiny", IMAGES, 3, &o, DEFAULT_SUFFIXES);
}

Test(explain, every_method_matches_the_reference_on_the_non_square_model) {
    vte_explain_options o = all_methods();
    check_methods("vit-odd", IMAGES, 3, &o, DEFAULT_SUFFIXES);
}

Test(explain, seed_compatibility_formulas) {
    vte_explain_options o;
    vte_explain_options_default(&o);
    o.methods = VTE_METHOD_BIT(VTE_METHOD_ROLLOUT) | VTE_METHOD_BIT(VTE_METHOD_GMAR_L1) |
                VTE_METHOD_BIT(VTE_METHOD_GMAR_L2) | VTE_METHOD_BIT(VTE_METHOD_LEGRAD);
    o.compat_seed = 1;
    static const char *const suffixes[VTE_METHOD_COUNT] = {"seed_rollout", "seed_gmar_l1", "seed_gmar_l2",
                                                           "seed_legrad", NULL};
    check_methods("vit-tiny", IMAGES, 3, &o, suffixes);
    check_methods("vit-odd", IMAGES, 3, &o, suffixes);
    check_methods("vit-odd", IMAGES + 1, 1, &o, suffixes); /* three targets in one backward pass */
}

static void check_rollout_option(vte_head_fusion fusion, float discard, const char *suffix) {
    vte_explain_options o;
    vte_explain_options_default(&o);
    o.methods = VTE_METHOD_BIT(VTE_METHOD_ROLLOUT);
    o.rollout_fusion = fusion;
    o.discard_ratio = discard;
    const char *suffixes[VTE_METHOD_COUNT] = {suffix, NULL, NULL, NULL, NULL};
    check_methods("vit-tiny", IMAGES, 3, &o, suffixes);
    check_methods("vit-odd", IMAGES, 3, &o, suffixes);
}

Test(explain, rollout_max_fusion) { check_rollout_option(VTE_FUSION_MAX, 0.0f, "rollout_max"); }
Test(explain, rollout_min_fusion) { check_rollout_option(VTE_FUSION_MIN, 0.0f, "rollout_min"); }
Test(explain, rollout_discard_half) { check_rollout_option(VTE_FUSION_MEAN, 0.5f, "rollout_mean_d50"); }
Test(explain, rollout_max_fusion_discard_90) { check_rollout_option(VTE_FUSION_MAX, 0.9f, "rollout_max_d90"); }

Test(explain, legrad_last_layer_only) {
    vte_explain_options o;
    vte_explain_options_default(&o);
    o.methods = VTE_METHOD_BIT(VTE_METHOD_LEGRAD);
    o.legrad_layers = 1;
    const char *suffixes[VTE_METHOD_COUNT] = {NULL, NULL, NULL, "legrad_k1", NULL};
    check_methods("vit-tiny", IMAGES, 3, &o, suffixes);
    check_methods("vit-odd", IMAGES, 3, &o, suffixes);
}

/* ---------------------------------------------------------------- backward pass */

/* Layer `layer`'s d(logit)/dA of the single image's target `slot` of the last backward pass. */
static float *read_dattn(fixture *f, int layer, int slot) {
    size_t count = (size_t)f->c->num_heads * f->c->num_tokens * f->c->num_tokens;
    float *host = malloc(count * sizeof *host);
    vte_error err = {0};
    cr_assert_eq(vte_buffer_read(f->rt, f->session->bwd.layers[layer].d_attn, (size_t)slot * count * sizeof *host,
                                 count * sizeof *host, host, &err),
                 VTE_OK, "%s", err.message);
    return host;
}

/* The image's three reference targets through backward passes of one target each, or all three in one pass
 * (together). */
static void check_backward_targets(const char *model, const char *stem, int together) {
    fixture f = open_model(model, 1);
    float *pixels = load_pixels(&f, &stem, 1);
    int targets[3];
    load_targets(&f, stem, targets);
    vte_error err = {0};
    size_t per_layer = (size_t)f.c->num_heads * f.c->num_tokens * f.c->num_tokens;
    cr_assert_eq(vte_session_forward(f.session, pixels, 1, &err), VTE_OK, "%s", err.message);
    if (together) {
        cr_assert_eq(vte_backward_targets_per_pass(f.session, 3), 3, "a batch-1 session takes 3 targets per pass");
        cr_assert_eq(vte_session_backward_targets(f.session, targets, 3, &err), VTE_OK, "%s", err.message);
    }
    for (int t = 0; t < 3; t++) {
        if (!together) cr_assert_eq(vte_session_backward(f.session, &targets[t], &err), VTE_OK, "%s", err.message);
        char path[256];
        snprintf(path, sizeof path, "reference/%s/explain/%s_c%d_dattn.npy", model, stem, targets[t]);
        float *want = load_npy(path, (size_t)f.c->num_layers * per_layer);
        for (int l = 0; l < f.c->num_layers; l++) {
            float *got = read_dattn(&f, l, together ? t : 0);
            char what[256];
            snprintf(what, sizeof what, "%s %s class %d%s: dlogit/dA of layer %d", model, stem, targets[t],
                     together ? " (3 targets in one pass)" : "", l);
            vte_test_assert_close(got, want + (size_t)l * per_layer, per_layer, GRAD_ATOL, GRAD_RTOL, what);
            free(got);
        }
        free(want);
    }
    free(pixels);
    close_model(&f);
}

static void check_backward(const char *model, const char *stem) { check_backward_targets(model, stem, 0); }

Test(backward, attention_gradients_match_autograd) {
    check_backward("vit-tiny", "chelsea");
    check_backward("vit-tiny", "horse");
    check_backward("vit-odd", "rocket");
    check_backward("vit-1head", "chelsea");
}

Test(backward, attention_gradients_match_finite_differences) {
    /* Central differences of the target logit under a perturbation of single attention probabilities,
     * on the device's own forward pass: independent of PyTorch. */
    fixture f = open_model("vit-1head", 1);
    const char *stem = "chelsea";
    float *pixels = load_pixels(&f, &stem, 1);
    vte_error err = {0};
    const int T = f.c->num_tokens, C = f.c->num_labels;
    const size_t per_layer = (size_t)f.c->num_heads * T * T;
    int target = 1;
    float *logits = malloc((size_t)C * sizeof *logits);
    cr_assert_eq(vte_session_forward(f.session, pixels, 1, &err), VTE_OK, "%s", err.message);
    cr_assert_eq(vte_session_backward(f.session, &target, &err), VTE_OK, "%s", err.message);
    const float eps = 1e-2f;
    for (int l = 0; l < f.c->num_layers; l++) {
        float *grad = read_dattn(&f, l, 0);
        float *attn = malloc(per_layer * sizeof *attn);
        cr_assert_eq(vte_session_read_attention(f.session, l, attn, &err), VTE_OK);
        for (size_t e = 0; e < per_layer; e += 3) { /* a spread of entries, CLS row included */
            float original = attn[e], value, y[2];
            for (int side = 0; side < 2; side++) {
                value = original + (side ? -eps : eps);
                cr_assert_eq(vte_buffer_write(f.rt, f.session->fwd.layers[l].attn, e * sizeof(float), sizeof value,
                                              &value, &err),
                             VTE_OK);
                cr_assert_eq(vte_test_forward_from_attention(f.session, l, &err), VTE_OK, "%s", err.message);
                cr_assert_eq(vte_session_read_logits(f.session, logits, &err), VTE_OK);
                y[side] = logits[target];
            }
            cr_assert_eq(vte_buffer_write(f.rt, f.session->fwd.layers[l].attn, e * sizeof(float), sizeof original,
                                          &original, &err),
                         VTE_OK);
            double numeric = ((double)y[0] - y[1]) / (2.0 * eps);
            /* float32 logits: the difference quotient carries ~1e-6/eps of rounding noise */
            cr_assert(fabs(numeric - grad[e]) <= 2e-3 + 2e-3 * fabs(numeric),
                      "layer %d entry %zu: finite difference %g, backward %g", l, e, numeric, (double)grad[e]);
        }
        free(attn);
        free(grad);
    }
    free(logits);
    free(pixels);
    close_model(&f);
}

/* ---------------------------------------------------------------- properties */

Test(properties, gmar_with_one_head_equals_rollout) {
    /* With one head the GMAR weight is 1, so the weighted sum is the attention itself: GMAR == rollout. */
    fixture f = open_model("vit-1head", 1);
    const char *stem = "chelsea";
    float *pixels = load_pixels(&f, &stem, 1);
    vte_explain_options o;
    vte_explain_options_default(&o);
    o.methods = VTE_METHOD_BIT(VTE_METHOD_ROLLOUT) | VTE_METHOD_BIT(VTE_METHOD_GMAR_L1) |
                VTE_METHOD_BIT(VTE_METHOD_GMAR_L2);
    vte_error err = {0};
    vte_explanation *e = vte_session_explain(f.session, pixels, 1, NULL, 2, &o, &err);
    cr_assert_not_null(e, "%s", err.message);
    size_t grid = (size_t)f.c->grid_h * f.c->grid_w;
    for (int t = 0; t < 2; t++) {
        const float *rollout = vte_explanation_map(e, 0, t, VTE_METHOD_ROLLOUT);
        vte_test_assert_close(vte_explanation_map(e, 0, t, VTE_METHOD_GMAR_L1), rollout, grid, 1e-6, 0, "GMAR L1 vs rollout");
        vte_test_assert_close(vte_explanation_map(e, 0, t, VTE_METHOD_GMAR_L2), rollout, grid, 1e-6, 0, "GMAR L2 vs rollout");
    }
    vte_explanation_free(e);
    free(pixels);
    close_model(&f);
}

Test(properties, rollout_of_identity_attention_is_flat) {
    /* Identity attention at every layer: R = I, its CLS row has no patch mass, the map is all zeros. */
    fixture f = open_model("vit-tiny", 1);
    const char *stem = "rocket";
    float *pixels = load_pixels(&f, &stem, 1);
    vte_error err = {0};
    cr_assert_eq(vte_session_forward(f.session, pixels, 1, &err), VTE_OK);
    const int T = f.c->num_tokens, H = f.c->num_heads;
    float *identity = calloc((size_t)H * T * T, sizeof *identity);
    for (int h = 0; h < H; h++)
        for (int i = 0; i < T; i++) identity[((size_t)h * T + i) * T + i] = 1.0f;
    for (int l = 0; l < f.c->num_layers; l++)
        cr_assert_eq(vte_buffer_write(f.rt, f.session->fwd.layers[l].attn, 0, (size_t)H * T * T * sizeof(float), identity,
                                      &err),
                     VTE_OK);
    vte_explain_options o;
    vte_explain_options_default(&o);
    o.methods = VTE_METHOD_BIT(VTE_METHOD_ROLLOUT);
    cr_assert_eq(vte_explain_plan_prepare(f.session, &o, 1, &err), VTE_OK, "%s", err.message);
    /* Run the method on the doctored attention (no new forward pass). */
    cr_assert_eq(vte_method_run(f.session, VTE_METHOD_ROLLOUT, &o, 1, &err), VTE_OK, "%s", err.message);
    size_t grid = (size_t)f.c->grid_h * f.c->grid_w;
    float *map = malloc(grid * sizeof *map);
    cr_assert_eq(vte_buffer_read(f.rt, vte_explain_plan_of(f.session)->maps, 0, grid * sizeof *map, map, &err),
                 VTE_OK);
    for (size_t p = 0; p < grid; p++) cr_assert_eq(map[p], 0.0f, "patch %zu: %g", p, (double)map[p]);
    free(map);
    free(identity);
    free(pixels);
    close_model(&f);
}

Test(properties, legrad_closed_form_equals_the_full_backward_for_one_layer) {
    /* LeGrad of the last layer alone: its score is the final logit itself, so the closed form must equal
     * the full backward's dA restricted to the CLS row (ReLU, head mean, patch columns, min-max). */
    fixture f = open_model("vit-odd", 1);
    const char *stem = "horse";
    float *pixels = load_pixels(&f, &stem, 1);
    vte_explain_options o;
    vte_explain_options_default(&o);
    o.methods = VTE_METHOD_BIT(VTE_METHOD_LEGRAD) | VTE_METHOD_BIT(VTE_METHOD_CHEFER); /* chefer: runs the backward */
    o.legrad_layers = 1;
    vte_error err = {0};
    int target = 2;
    vte_explanation *e = vte_session_explain(f.session, pixels, 1, &target, 1, &o, &err);
    cr_assert_not_null(e, "%s", err.message);
    const int T = f.c->num_tokens, H = f.c->num_heads, L = f.c->num_layers;
    float *grad = read_dattn(&f, L - 1, 0);
    /* Rows other than CLS carry no gradient in the last layer. */
    for (int h = 0; h < H; h++)
        for (int i = 1; i < T; i++)
            for (int j = 0; j < T; j++) cr_assert_eq(grad[((size_t)h * T + i) * T + j], 0.0f);
    float *expect = malloc((size_t)(T - 1) * sizeof *expect);
    float lo = INFINITY, hi = -INFINITY;
    for (int j = 1; j < T; j++) {
        double sum = 0;
        for (int h = 0; h < H; h++) sum += fmax(grad[(size_t)h * T * T + j], 0.0);
        expect[j - 1] = (float)sum;
        lo = fminf(lo, expect[j - 1]);
        hi = fmaxf(hi, expect[j - 1]);
    }
    for (int j = 0; j < T - 1; j++) expect[j] = (expect[j] - lo) / (hi - lo);
    vte_test_assert_close(vte_explanation_map(e, 0, 0, VTE_METHOD_LEGRAD), expect, (size_t)(T - 1), 1e-5, 0,
                          "LeGrad closed form vs full backward");
    free(expect);
    free(grad);
    vte_explanation_free(e);
    free(pixels);
    close_model(&f);
}

Test(explain, bad_options_are_rejected) {
    fixture f = open_model("vit-tiny", 2);
    const char *stem = "rocket";
    float *pixels = load_pixels(&f, &stem, 1);
    vte_explain_options o;
    vte_explain_options_default(&o);
    vte_error err = {0};
    cr_assert_null(vte_session_explain(f.session, pixels, 1, NULL, 1, &o, &err));
    cr_assert(strstr(err.message, "no explanation method"), "%s", err.message);
    o.methods = VTE_METHOD_BIT(VTE_METHOD_ROLLOUT);
    int bad = 99;
    cr_assert_null(vte_session_explain(f.session, pixels, 1, &bad, 1, &o, &err));
    cr_assert(strstr(err.message, "class 99 is out of range"), "%s", err.message);
    o.discard_ratio = 1.0f;
    cr_assert_null(vte_session_explain(f.session, pixels, 1, NULL, 1, &o, &err));
    cr_assert(strstr(err.message, "discard ratio"), "%s", err.message);
    free(pixels);
    close_model(&f);
}

Test(backward, gpu_path_clblast_and_row_groups_gradients_match_autograd) {
    /* the path GPUs take (CPUs use a host library and one work-item per row by default) */
    setenv("VITEXPLAIN_GEMM", "clblast", 1);
    setenv("VITEXPLAIN_ROW_KERNELS", "group", 1);
    check_backward("vit-odd", "rocket");
    check_backward("vit-tiny", "chelsea");
    check_backward_targets("vit-odd", "horse", 1);
}

Test(backward, several_targets_in_one_pass_match_autograd) {
    check_backward_targets("vit-tiny", "chelsea", 1);
    check_backward_targets("vit-odd", "rocket", 1);
    check_backward_targets("vit-1head", "chelsea", 1);
}

Test(backward, too_many_targets_for_one_pass_are_refused) {
    fixture f = open_model("vit-tiny", 3); /* 8 / 3: two targets per pass */
    float *pixels = load_pixels(&f, IMAGES, 3);
    vte_error err = {0};
    int classes[9] = {0};
    cr_assert_eq(vte_backward_targets_per_pass(f.session, 5), 2);
    cr_assert_eq(vte_session_forward(f.session, pixels, 3, &err), VTE_OK, "%s", err.message);
    cr_assert_eq(vte_session_backward_targets(f.session, classes, 3, &err), VTE_ERR_INVALID_ARGUMENT);
    cr_assert(strstr(err.message, "at most 2 per pass"), "%s", err.message);
    free(pixels);
    close_model(&f);
}

Test(explain, several_targets_per_backward_pass_match_the_reference) {
    /* one image: its three targets in one backward pass (two images: two, then one) */
    vte_explain_options o = all_methods();
    static const char *const two[] = {"rocket", "horse"};
    check_methods("vit-tiny", IMAGES + 2, 1, &o, DEFAULT_SUFFIXES);
    check_methods("vit-odd", two, 2, &o, DEFAULT_SUFFIXES);
}

Test(explain, more_images_than_heads_in_one_batch) {
    /* 4 images on the 3-head model: the attention products batch over the images, one call per head (with at
     * most as many images as heads they batch over the heads): both layouts of the same products. */
    static const char *const four[] = {"chelsea", "rocket", "horse", "chelsea"};
    vte_explain_options o = all_methods();
    check_methods("vit-tiny", four, 4, &o, DEFAULT_SUFFIXES);
}

Test(explain, more_images_than_heads_through_backends_without_groups) {
    /* CLBlast and OpenBLAS take a layer's attention products one group at a time: with more images than heads, one
     * call per head over the images (the counts swapped). */
    static const char *const four[] = {"chelsea", "rocket", "horse", "chelsea"};
    vte_explain_options o = all_methods();
    setenv("VITEXPLAIN_GEMM", "clblast", 1);
    check_methods("vit-tiny", four, 4, &o, DEFAULT_SUFFIXES);
    vte_runtime *rt = vte_test_runtime();
    const int host_memory = vte_gemm_host_memory(rt);
    vte_runtime_free(rt);
    if (!host_memory) return; /* OpenBLAS runs only on PoCL's CPU device */
    setenv("VITEXPLAIN_GEMM", "host", 1);
    check_methods("vit-tiny", four, 4, &o, DEFAULT_SUFFIXES);
}

/* ---------------------------------------------------------------- sessions that keep less */

Test(keep, every_method_matches_on_a_session_that_kept_nothing) {
    /* vte_session_explain keeps what the methods need before its forward pass */
    session_keep = 0;
    vte_explain_options o = all_methods();
    check_methods("vit-tiny", IMAGES, 3, &o, DEFAULT_SUFFIXES);
}

Test(keep, each_method_matches_keeping_only_what_it_needs) {
    /* The layers share every buffer a method does not read: its maps must not change. */
    const unsigned want[VTE_METHOD_COUNT] = {VTE_KEEP_ATTENTION, VTE_KEEP_ALL, VTE_KEEP_ALL, VTE_KEEP_ACTIVATIONS,
                                             VTE_KEEP_ALL};
    for (int m = 0; m < VTE_METHOD_COUNT; m++) {
        vte_explain_options o = all_methods();
        o.methods = VTE_METHOD_BIT(m);
        session_keep = vte_explain_keep(&o);
        cr_assert_eq(session_keep, want[m], "method %d keeps %u", m, session_keep);
        check_methods("vit-odd", IMAGES + 1, 1, &o, DEFAULT_SUFFIXES);
    }
}

Test(keep, what_was_not_kept_is_refused_not_read) {
    session_keep = 0;
    fixture f = open_model("vit-tiny", 1);
    const char *stem = "chelsea";
    float *pixels = load_pixels(&f, &stem, 1);
    vte_error err = {0};
    cr_assert_eq(vte_session_kept(f.session), 0u);
    cr_assert_eq(vte_session_forward(f.session, pixels, 1, &err), VTE_OK, "%s", err.message);
    size_t per_layer = (size_t)f.c->num_heads * f.c->num_tokens * f.c->num_tokens;
    float *attn = malloc(per_layer * sizeof *attn);
    cr_assert_eq(vte_session_read_attention(f.session, 0, attn, &err), VTE_ERR_INVALID_ARGUMENT);
    cr_assert(strstr(err.message, "VTE_KEEP_ATTENTION"), "%s", err.message);
    int target = 0;
    cr_assert_eq(vte_session_backward(f.session, &target, &err), VTE_ERR_INVALID_ARGUMENT);
    cr_assert(strstr(err.message, "kept not every layer"), "%s", err.message);
    /* Keeping more applies from the next forward pass on. */
    cr_assert_eq(vte_session_keep(f.session, VTE_KEEP_ATTENTION, &err), VTE_OK, "%s", err.message);
    cr_assert_eq(vte_session_read_attention(f.session, 0, attn, &err), VTE_ERR_INVALID_ARGUMENT);
    cr_assert_eq(vte_session_forward(f.session, pixels, 1, &err), VTE_OK, "%s", err.message);
    cr_assert_eq(vte_session_read_attention(f.session, 0, attn, &err), VTE_OK, "%s", err.message);
    cr_assert_eq(vte_session_kept(f.session), (unsigned)VTE_KEEP_ATTENTION);
    free(attn);
    free(pixels);
    close_model(&f);
}

/* ---------------------------------------------------------------- the method table's public face */

Test(methods, names_families_and_needs) {
    for (int m = 0; m < VTE_METHOD_COUNT; m++) {
        const vte_method_info *info = vte_method_info_of((vte_method)m);
        cr_assert_not_null(info);
        cr_assert_str_eq(info->name, vte_method_name((vte_method)m));
        cr_assert_str_eq(info->title, vte_method_title((vte_method)m));
        cr_assert(info->family[0] && info->description[0], "method %d lacks a family or description", m);
        cr_assert_eq(vte_method_from_name(info->name), m, "%s does not name itself", info->name);
        cr_assert(vte_methods_from_name(info->family) & VTE_METHOD_BIT(m), "%s not in its family", info->name);
    }
    cr_assert_eq(vte_method_from_name("GMAR_L2"), VTE_METHOD_GMAR_L2);
    cr_assert_eq(vte_method_from_name("gmar"), -1, "a family is not one method");
    cr_assert_eq(vte_method_from_name("saliency"), -1);
    cr_assert_null(vte_method_info_of(VTE_METHOD_COUNT));
    cr_assert_eq(vte_methods_from_name("gmar"), VTE_METHOD_BIT(VTE_METHOD_GMAR_L1) | VTE_METHOD_BIT(VTE_METHOD_GMAR_L2));
    cr_assert_eq(vte_methods_from_name("Chefer"), VTE_METHOD_BIT(VTE_METHOD_CHEFER));
    cr_assert_eq(vte_methods_from_name("ALL"), (1u << VTE_METHOD_COUNT) - 1);
    cr_assert_eq(vte_methods_from_name("saliency"), 0u);
    cr_assert_eq(vte_methods_from_name(NULL), 0u);
    /* Which methods cost a backward pass: rollout none, LeGrad none in its closed form, but its seed variant does. */
    vte_explain_options seed;
    vte_explain_options_default(&seed);
    seed.compat_seed = 1;
    cr_assert_eq(vte_method_needs_backward(VTE_METHOD_ROLLOUT, NULL), 0);
    cr_assert_eq(vte_method_needs_backward(VTE_METHOD_LEGRAD, NULL), 0);
    cr_assert_eq(vte_method_needs_backward(VTE_METHOD_LEGRAD, &seed), 1);
    cr_assert_eq(vte_method_needs_backward(VTE_METHOD_GMAR_L1, NULL), 1);
    cr_assert_eq(vte_method_needs_backward(VTE_METHOD_CHEFER, &seed), 1);
    cr_assert_eq(vte_method_info_of(VTE_METHOD_ROLLOUT)->class_independent, 1);
    cr_assert_eq(vte_method_info_of(VTE_METHOD_CHEFER)->has_seed_variant, 0);
}

Test(methods, compat_seed_refuses_options_its_formulas_lack) {
    fixture f = open_model("vit-tiny", 1);
    const char *stem = "rocket";
    float *pixels = load_pixels(&f, &stem, 1);
    vte_explain_options o;
    vte_explain_options_default(&o);
    o.compat_seed = 1;
    vte_error err = {0};
    o.methods = VTE_METHOD_BIT(VTE_METHOD_ROLLOUT);
    o.rollout_fusion = VTE_FUSION_MAX;
    cr_assert_null(vte_session_explain(f.session, pixels, 1, NULL, 1, &o, &err));
    cr_assert_eq(err.code, VTE_ERR_INVALID_ARGUMENT);
    cr_assert(strstr(err.message, "Rollout has no head fusion"), "%s", err.message);
    o.rollout_fusion = VTE_FUSION_MEAN;
    o.discard_ratio = 0.5f;
    cr_assert_null(vte_session_explain(f.session, pixels, 1, NULL, 1, &o, &err));
    cr_assert(strstr(err.message, "Rollout has no discard ratio"), "%s", err.message);
    o.discard_ratio = 0.0f;
    o.legrad_layers = 1;
    vte_explanation *e = vte_session_explain(f.session, pixels, 1, NULL, 1, &o, &err);
    cr_assert_not_null(e, "a LeGrad option without LeGrad is no conflict: %s", err.message);
    vte_explanation_free(e);
    o.methods |= VTE_METHOD_BIT(VTE_METHOD_LEGRAD);
    cr_assert_null(vte_session_explain(f.session, pixels, 1, NULL, 1, &o, &err));
    cr_assert(strstr(err.message, "LeGrad has no layer count"), "%s", err.message);
    free(pixels);
    close_model(&f);
}

