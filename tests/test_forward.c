/* The forward pass against PyTorch + transformers (tests/fixtures, made by tools/make_reference.py):
 * logits and every layer's attention probabilities of the fixture models on the sample images.
 *
 * Tolerances: float32-level. The device and PyTorch sum in different orders, so results differ by a few
 * float32 rounding steps per operation; over 2-3 layers of these small models that stays below
 * 2e-5 absolute on probabilities and 1e-4 (+1e-4 relative) on logits of a few units. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/gemm_mapped.h"
#include "runtime/runtime.h"
#include "test_support.h"
#include "util/npy.h"

#define LOGIT_ATOL 1e-4
#define LOGIT_RTOL 1e-4
#define ATTENTION_ATOL 2e-5

static const char *const STEMS[] = {"chelsea", "coffee", "astronaut", "rocket", "horse"};
#define STEM_COUNT 5

static float *load_npy(const char *relative, size_t expected_count) {
    vte_npy npy = {0};
    vte_error err = {0};
    cr_assert_eq(vte_npy_read(vte_test_fixture(relative), &npy, &err), VTE_OK, "%s", err.message);
    cr_assert_eq(npy.dtype, VTE_NPY_F32, "%s: not float32", relative);
    cr_assert_eq(npy.count, expected_count, "%s: %zu values, expected %zu", relative, npy.count, expected_count);
    return npy.data; /* owned by the caller (vte_npy_free only frees data) */
}

typedef struct loaded {
    vte_runtime *rt;
    vte_model *model;
    const vte_model_config *config;
} loaded;

static loaded load_model(const char *name) {
    loaded l = {0};
    vte_error err = {0};
    char relative[256];
    snprintf(relative, sizeof relative, "models/%s", name);
    l.rt = vte_test_runtime();
    l.model = vte_model_load(l.rt, vte_test_fixture(relative), &err);
    cr_assert_not_null(l.model, "vte_model_load(%s): %s", name, err.message);
    l.config = vte_model_get_config(l.model);
    return l;
}

static void unload(loaded *l) {
    vte_model_free(l->model);
    vte_runtime_free(l->rt);
}

/* Runs `count` images (fixture pixels of `pixel_model`) through `model_name` in one batch and compares the
 * logits with reference/<reference>/, and the attentions too when `check_attention`. */
static void check_model(const char *model_name, const char *pixel_model, const char *reference, const char *const *stems,
                        int count, int batch, int check_attention) {
    loaded l = load_model(model_name);
    const vte_model_config *c = l.config;
    vte_error err = {0};
    size_t image_floats = vte_preprocess_size(c);
    size_t attention_floats = (size_t)c->num_heads * c->num_tokens * c->num_tokens;
    /* Logits alone need nothing kept: the layers then share their buffers, as `vitexplain classify` runs. */
    vte_session *session = vte_session_init_keeping(l.model, batch, check_attention ? VTE_KEEP_ALL : 0, &err);
    cr_assert_not_null(session, "vte_session_init: %s", err.message);
    float *pixels = malloc((size_t)batch * image_floats * sizeof *pixels);
    float *logits = malloc((size_t)batch * c->num_labels * sizeof *logits);
    float *attention = malloc((size_t)batch * attention_floats * sizeof *attention);
    cr_assert(pixels && logits && attention);
    for (int first = 0; first < count; first += batch) {
        int n = count - first < batch ? count - first : batch;
        char path[256];
        for (int i = 0; i < n; i++) {
            snprintf(path, sizeof path, "reference/%s/%s_pixels.npy", pixel_model, stems[first + i]);
            float *p = load_npy(path, image_floats);
            memcpy(pixels + (size_t)i * image_floats, p, image_floats * sizeof *p);
            free(p);
        }
        cr_assert_eq(vte_session_forward(session, pixels, n, &err), VTE_OK, "forward: %s", err.message);
        cr_assert_eq(vte_session_read_logits(session, logits, &err), VTE_OK, "%s", err.message);
        for (int i = 0; i < n; i++) {
            snprintf(path, sizeof path, "reference/%s/%s_logits.npy", reference, stems[first + i]);
            float *want = load_npy(path, (size_t)c->num_labels);
            char what[300];
            snprintf(what, sizeof what, "%s logits of %s (batch %d)", model_name, stems[first + i], n);
            vte_test_assert_close(logits + (size_t)i * c->num_labels, want, (size_t)c->num_labels, LOGIT_ATOL,
                                  LOGIT_RTOL, what);
            free(want);
        }
        if (!check_attention) continue;
        for (int layer = 0; layer < c->num_layers; layer++) {
            cr_assert_eq(vte_session_read_attention(session, layer, attention, &err), VTE_OK, "%s", err.message);
            for (int i = 0; i < n; i++) {
                snprintf(path, sizeof path, "reference/%s/%s_attentions.npy", reference, stems[first + i]);
                float *want = load_npy(path, (size_t)c->num_layers * attention_floats);
                char what[300];
                snprintf(what, sizeof what, "%s attention of %s, layer %d", model_name, stems[first + i], layer);
                vte_test_assert_close(attention + (size_t)i * attention_floats,
                                      want + (size_t)layer * attention_floats, attention_floats, ATTENTION_ATOL, 0.0,
                                      what);
                free(want);
            }
        }
    }
    free(pixels);
    free(logits);
    free(attention);
    vte_session_free(session);
    unload(&l);
}

Test(forward, tiny_model_batch_of_five_matches_pytorch) {
    check_model("vit-tiny", "vit-tiny", "vit-tiny", STEMS, STEM_COUNT, 5, 1);
}

Test(forward, tiny_model_batches_of_two_match_pytorch) {
    /* 5 images in batches of 2, 2, 1: a partly filled last batch must not read stale rows. */
    check_model("vit-tiny", "vit-tiny", "vit-tiny", STEMS, STEM_COUNT, 2, 1);
}

Test(forward, session_keeping_nothing_gives_the_same_logits) {
    /* Every layer's activations in one shared set of buffers (a layer writes its output over its input). */
    check_model("vit-odd", "vit-odd", "vit-odd", STEMS, STEM_COUNT, 3, 0);
    check_model("vit-tiny", "vit-tiny", "vit-tiny", STEMS, STEM_COUNT, 2, 0);
}

Test(forward, odd_model_non_square_grid_matches_pytorch) {
    /* 36x60 input, 12-pixel patches (3x5 grid), 5 heads of 8, MLP 72, no QKV bias, eps 1e-6. */
    check_model("vit-odd", "vit-odd", "vit-odd", STEMS, STEM_COUNT, 3, 1);
}

Test(forward, f16_checkpoint_is_converted_exactly) {
    static const char *const stems[] = {"chelsea", "rocket"};
    check_model("vit-tiny-f16", "vit-tiny", "vit-tiny-f16", stems, 2, 2, 0);
}

Test(forward, bf16_checkpoint_is_converted_exactly) {
    static const char *const stems[] = {"chelsea", "rocket"};
    check_model("vit-tiny-bf16", "vit-tiny", "vit-tiny-bf16", stems, 2, 2, 0);
}

Test(forward, attention_rows_are_distributions) {
    /* Independent of PyTorch: every attention row is non-negative and sums to 1. */
    loaded l = load_model("vit-odd");
    const vte_model_config *c = l.config;
    vte_error err = {0};
    vte_session *session = vte_session_init(l.model, 1, &err);
    cr_assert_not_null(session, "%s", err.message);
    float *pixels = load_npy("reference/vit-odd/rocket_pixels.npy", vte_preprocess_size(c));
    cr_assert_eq(vte_session_forward(session, pixels, 1, &err), VTE_OK, "%s", err.message);
    size_t T = (size_t)c->num_tokens;
    float *attention = malloc((size_t)c->num_heads * T * T * sizeof *attention);
    for (int layer = 0; layer < c->num_layers; layer++) {
        cr_assert_eq(vte_session_read_attention(session, layer, attention, &err), VTE_OK, "%s", err.message);
        for (size_t row = 0; row < (size_t)c->num_heads * T; row++) {
            double sum = 0.0;
            for (size_t j = 0; j < T; j++) {
                cr_assert_geq(attention[row * T + j], 0.0f);
                sum += attention[row * T + j];
            }
            cr_assert_float_eq(sum, 1.0, 1e-5, "layer %d row %zu sums to %f", layer, row, sum);
        }
    }
    free(attention);
    free(pixels);
    vte_session_free(session);
    unload(&l);
}

Test(forward, session_rejects_more_images_than_planned) {
    loaded l = load_model("vit-tiny");
    vte_error err = {0};
    vte_session *session = vte_session_init(l.model, 2, &err);
    cr_assert_not_null(session, "%s", err.message);
    float pixels[1] = {0};
    cr_assert_eq(vte_session_forward(session, pixels, 3, &err), VTE_ERR_INVALID_ARGUMENT);
    cr_assert(strstr(err.message, "at most 2") != NULL, "message: %s", err.message);
    vte_session_free(session);
    unload(&l);
}

Test(model, missing_folder_is_reported_with_its_path) {
    vte_runtime *rt = vte_test_runtime();
    vte_error err = {0};
    cr_assert_null(vte_model_load(rt, "/nonexistent/vit-model", &err));
    cr_assert_eq(err.code, VTE_ERR_IO);
    cr_assert(strstr(err.message, "/nonexistent/vit-model") && strstr(err.message, "not found"), "message: %s",
              err.message);
    vte_runtime_free(rt);
}

Test(model, missing_weights_file_is_reported) {
    vte_runtime *rt = vte_test_runtime();
    vte_error err = {0};
    /* A folder with a valid config.json but no model.safetensors. */
    const char *dir = vte_test_temp_dir();
    char command[8192];
    snprintf(command, sizeof command, "cp '%s' '%s/config.json'", vte_test_fixture("models/vit-tiny/config.json"), dir);
    cr_assert_eq(system(command), 0);
    cr_assert_null(vte_model_load(rt, dir, &err));
    cr_assert(strstr(err.message, "model.safetensors") != NULL, "message: %s", err.message);
    vte_runtime_free(rt);
}

Test(model, labels_are_found_case_insensitively) {
    loaded l = load_model("vit-tiny");
    const char *label = vte_model_label(l.model, 0);
    cr_assert_not_null(label);
    char upper[256];
    size_t i = 0;
    for (; label[i] && i < sizeof upper - 1; i++) upper[i] = (char)((label[i] >= 'a' && label[i] <= 'z') ? label[i] - 32 : label[i]);
    upper[i] = '\0';
    cr_assert_eq(vte_model_find_label(l.model, upper), 0);
    cr_assert_eq(vte_model_find_label(l.model, "no such label"), -1);
    cr_assert_null(vte_model_label(l.model, l.config->num_labels));
    unload(&l);
}

Test(forward, gpu_path_clblast_and_row_groups_matches_pytorch) {
    /* On a CPU the GEMMs take a host library and the per-row kernels one work-item per row by default; GPUs take
     * CLBlast and one work-group per row. Check that path here too. */
    setenv("VITEXPLAIN_GEMM", "clblast", 1);
    setenv("VITEXPLAIN_ROW_KERNELS", "group", 1);
    check_model("vit-odd", "vit-odd", "vit-odd", STEMS, STEM_COUNT, 3, 1);
}

Test(forward, onednn_gemm_path_matches_pytorch) {
    /* oneDNN, chosen by name on PoCL's CPU device: the same PyTorch references hold. */
    setenv("VITEXPLAIN_GEMM", "onednn", 1);
    vte_runtime *rt = vte_test_runtime();
    const int host_memory = vte_gemm_host_memory(rt);
    vte_runtime_free(rt);
    if (!host_memory) cr_skip_test("oneDNN runs only where buffers live in host memory (PoCL's CPU device)");
    check_model("vit-odd", "vit-odd", "vit-odd", STEMS, STEM_COUNT, 3, 1);
}

Test(model, pytorch_only_checkpoint_says_how_to_convert) {
    vte_runtime *rt = vte_test_runtime();
    vte_error err = {0};
    const char *dir = vte_test_temp_dir();
    char command[8192];
    snprintf(command, sizeof command, "cp '%s' '%s/config.json' && : > '%s/pytorch_model.bin'",
             vte_test_fixture("models/vit-tiny/config.json"), dir, dir);
    cr_assert_eq(system(command), 0);
    cr_assert_null(vte_model_load(rt, dir, &err));
    cr_assert_eq(err.code, VTE_ERR_UNSUPPORTED);
    cr_assert(strstr(err.message, "pytorch_model.bin") && strstr(err.message, "safe_serialization=True"), "message: %s",
              err.message);
    vte_runtime_free(rt);
}

/* ---------------------------------------------------------------- fused attention ($VITEXPLAIN_ATTENTION) */

/* Calls of the kernel named `name` in the runtime's profile ($VITEXPLAIN_PROFILE=1). */
static long profiled_calls(const vte_runtime *rt, const char *name) {
    for (size_t i = 0; i < rt->profile_count; i++)
        if (strcmp(rt->profile[i].name, name) == 0) return rt->profile[i].calls;
    return 0;
}

/* The logits of the first `count` STEMS through `model_name` in one batch, with $VITEXPLAIN_ATTENTION=`attention`
 * and a session keeping `keep`; asserts that each layer ran `ran` once and `not_ran` never (profiled). Returns
 * malloc'ed logits [count, labels]. */
static float *forward_logits(const char *model_name, int count, const char *attention, unsigned keep, const char *ran,
                             const char *not_ran) {
    setenv("VITEXPLAIN_ATTENTION", attention, 1);
    setenv("VITEXPLAIN_PROFILE", "1", 1);
    loaded l = load_model(model_name);
    const vte_model_config *c = l.config;
    vte_error err = {0};
    vte_session *session = vte_session_init_keeping(l.model, count, keep, &err);
    cr_assert_not_null(session, "vte_session_init_keeping: %s", err.message);
    const size_t image_floats = vte_preprocess_size(c);
    float *pixels = malloc((size_t)count * image_floats * sizeof *pixels);
    float *logits = malloc((size_t)count * c->num_labels * sizeof *logits);
    cr_assert(pixels && logits);
    for (int i = 0; i < count; i++) {
        char path[256];
        snprintf(path, sizeof path, "reference/%s/%s_pixels.npy", model_name, STEMS[i]);
        float *p = load_npy(path, image_floats);
        memcpy(pixels + (size_t)i * image_floats, p, image_floats * sizeof *p);
        free(p);
    }
    cr_assert_eq(vte_session_forward(session, pixels, count, &err), VTE_OK, "forward: %s", err.message);
    cr_assert_eq(vte_session_read_logits(session, logits, &err), VTE_OK, "%s", err.message);
    cr_assert_eq(profiled_calls(l.rt, ran), c->num_layers, "%s, %s attention: %s ran %ld times, not once per layer",
                 model_name, attention, ran, profiled_calls(l.rt, ran));
    cr_assert_eq(profiled_calls(l.rt, not_ran), 0, "%s, %s attention: %s ran", model_name, attention, not_ran);
    free(pixels);
    vte_session_free(session);
    unload(&l);
    return logits;
}

/* Fused against gemm on the same images, sessions keeping nothing (as `vitexplain classify` runs); `fused_kernel`
 * is the form the runtime's row-kernel shape selects. */
static void check_fused_against_gemm(const char *model_name, const char *fused_kernel) {
    const int count = 3;
    float *gemm = forward_logits(model_name, count, "gemm", 0, "softmax_rows_per_item", fused_kernel);
    float *fused = forward_logits(model_name, count, "fused", 0, fused_kernel, "softmax_rows_per_item");
    loaded l = load_model(model_name);
    char what[128];
    snprintf(what, sizeof what, "%s logits, fused attention (%s) against gemm", model_name, fused_kernel);
    vte_test_check(what, fused, gemm, (size_t)count * l.config->num_labels, 1e-6, 1e-4);
    unload(&l);
    free(gemm);
    free(fused);
}

Test(forward, fused_attention_gives_the_gemm_logits) {
    check_fused_against_gemm("vit-odd", "attention_fused_per_item"); /* heads of 8, 16 tokens */
    check_fused_against_gemm("vit-tiny", "attention_fused_per_item"); /* heads of 16, 17 tokens */
    /* and PyTorch's, as the gemm path does */
    setenv("VITEXPLAIN_ATTENTION", "fused", 1);
    check_model("vit-odd", "vit-odd", "vit-odd", STEMS, STEM_COUNT, 3, 0);
}

Test(forward, fused_attention_group_form_gives_the_gemm_logits) {
    /* the GPU shape (one work-group per query tile), forced with the row kernels' group form */
    setenv("VITEXPLAIN_ROW_KERNELS", "group", 1);
    setenv("VITEXPLAIN_GEMM", "clblast", 1);
    const int count = 3;
    float *gemm = forward_logits("vit-tiny", count, "gemm", 0, "softmax_rows", "attention_fused");
    float *fused = forward_logits("vit-tiny", count, "fused", 0, "attention_fused", "softmax_rows");
    loaded l = load_model("vit-tiny");
    vte_test_check("vit-tiny logits, fused attention (group form) against gemm", fused, gemm,
                   (size_t)count * l.config->num_labels, 1e-6, 1e-4);
    unload(&l);
    free(gemm);
    free(fused);
    setenv("VITEXPLAIN_ATTENTION", "fused", 1);
    check_model("vit-odd", "vit-odd", "vit-odd", STEMS, STEM_COUNT, 3, 0);
}

Test(forward, fused_attention_is_not_used_when_attention_is_kept) {
    /* the explanations read every layer's probabilities: forced fused, such a session still computes them */
    free(forward_logits("vit-tiny", 2, "fused", VTE_KEEP_ATTENTION, "softmax_rows_per_item", "attention_fused_per_item"));
    setenv("VITEXPLAIN_ATTENTION", "fused", 1);
    check_model("vit-odd", "vit-odd", "vit-odd", STEMS, STEM_COUNT, 3, 1);
}

Test(forward, attention_defaults_to_gemm_on_cpus) {
    /* measured: the fused kernel is no faster in a CPU's forward pass (docs/performance.md) */
    unsetenv("VITEXPLAIN_ATTENTION");
    vte_runtime *rt = vte_test_runtime();
    const int cpu = vte_runtime_device(rt)->type == VTE_DEVICE_CPU;
    vte_runtime_free(rt);
    if (!cpu) cr_skip_test("GPUs default to the fused path");
    setenv("VITEXPLAIN_PROFILE", "1", 1);
    loaded l = load_model("vit-tiny");
    vte_error err = {0};
    vte_session *session = vte_session_init_keeping(l.model, 1, 0, &err);
    cr_assert_not_null(session, "%s", err.message);
    float *pixels = load_npy("reference/vit-tiny/chelsea_pixels.npy", vte_preprocess_size(l.config));
    cr_assert_eq(vte_session_forward(session, pixels, 1, &err), VTE_OK, "%s", err.message);
    cr_assert_eq(profiled_calls(l.rt, "attention_fused_per_item") + profiled_calls(l.rt, "attention_fused"), 0);
    cr_assert_gt(profiled_calls(l.rt, "softmax_rows_per_item") + profiled_calls(l.rt, "softmax_rows"), 0);
    free(pixels);
    vte_session_free(session);
    unload(&l);
}

Test(forward, attention_path_must_be_fused_or_gemm) {
    setenv("VITEXPLAIN_ATTENTION", "flash", 1);
    loaded l = load_model("vit-tiny");
    vte_error err = {0};
    cr_assert_null(vte_session_init_keeping(l.model, 1, 0, &err));
    cr_assert_eq(err.code, VTE_ERR_INVALID_ARGUMENT);
    cr_assert(strstr(err.message, "VITEXPLAIN_ATTENTION=\"flash\"") && strstr(err.message, "fused") &&
                  strstr(err.message, "gemm"),
              "message: %s", err.message);
    unload(&l);
}
