/* Explanation benchmark: time per image of each method at a batch size, next to the forward pass alone.
 *
 *   vitexplain-bench-explain --model DIR [--batch N] [--iterations K] [--targets T] [--device SPEC]
 *
 * Every method runs through vte_session_explain (one forward, a backward pass when the method needs one,
 * the method's reductions); the forward-only line runs vte_session_forward. One untimed warm-up per
 * configuration absorbs kernel compilation. Inputs are random pixels. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "runtime/gemm.h"
#include "vitexplain.h"
#include "bench_common.h"

int main(int argc, char **argv) {
    const char *model_dir = NULL, *device = NULL;
    int batch = 1, iterations = 3, targets = 1; /* targets: the top T classes of each image (--topk T) */
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--model") == 0 && i + 1 < argc) model_dir = argv[++i];
        else if (strcmp(argv[i], "--device") == 0 && i + 1 < argc) device = argv[++i];
        else if (strcmp(argv[i], "--batch") == 0 && i + 1 < argc) batch = atoi(argv[++i]);
        else if (strcmp(argv[i], "--iterations") == 0 && i + 1 < argc) iterations = atoi(argv[++i]);
        else if (strcmp(argv[i], "--targets") == 0 && i + 1 < argc) targets = atoi(argv[++i]);
        else model_dir = NULL, i = argc;
    }
    if (!model_dir || batch < 1 || iterations < 1 || targets < 1) {
        fprintf(stderr, "usage: %s --model DIR [--batch N] [--iterations K] [--targets T] [--device SPEC]\n", argv[0]);
        return 2;
    }
    vte_error err = {0};
    vte_runtime_params params = {.device = device};
    vte_runtime *rt = vte_runtime_init(&params, &err);
    vte_model *model = rt ? vte_model_load(rt, model_dir, &err) : NULL;
    /* Keeping nothing at first, like `vitexplain classify`: the forward line is a classification, and each
     * method's first (warm-up) run keeps what it needs, as `vitexplain explain` does. */
    vte_session *session = model ? vte_session_init_keeping(model, batch, 0, &err) : NULL;
    if (!session) {
        fprintf(stderr, "%s\n", err.message);
        return 3;
    }
    const vte_model_config *c = vte_model_get_config(model);
    size_t floats = (size_t)batch * vte_preprocess_size(c);
    float *pixels = malloc(floats * sizeof *pixels);
    unsigned seed = 7;
    for (size_t i = 0; i < floats; i++) {
        seed = seed * 1664525u + 1013904223u;
        pixels[i] = (float)((seed >> 8) & 0xFFFF) / 32768.0f - 1.0f;
    }
    double *t = malloc((size_t)iterations * sizeof *t);
    printf("device %s (GEMM: %s), model %s, batch %d, %d target(s) per image, median of %d runs, ms per image\n",
           vte_runtime_device(rt)->name, vte_gemm_backend(rt), model_dir, batch, targets, iterations);
    /* forward alone */
    vte_session_forward(session, pixels, batch, &err);
    bench_reset_profile(rt);
    for (int i = 0; i < iterations; i++) {
        double s = bench_now_ms();
        if (vte_session_forward(session, pixels, batch, &err)) {
            fprintf(stderr, "%s\n", err.message);
            return 3;
        }
        t[i] = bench_now_ms() - s;
    }
    double forward = bench_median(t, iterations) / batch;
    printf("%-10s total %9.1f\n", "forward", forward);
    bench_print_profile(rt, "forward, all timed runs");
    /* Every method family of the library's table (GMAR: both norms), then all of them at once. */
    const char *configs[VTE_METHOD_COUNT + 1];
    size_t config_count = 0;
    for (int m = 0; m < VTE_METHOD_COUNT; m++) {
        const char *family = vte_method_info_of((vte_method)m)->family;
        if (config_count == 0 || strcmp(configs[config_count - 1], family) != 0) configs[config_count++] = family;
    }
    configs[config_count++] = "all";
    double *tf = malloc((size_t)iterations * sizeof *tf), *tb = malloc((size_t)iterations * sizeof *tb),
           *te = malloc((size_t)iterations * sizeof *te);
    for (size_t k = 0; k < config_count; k++) {
        vte_explain_options o;
        vte_explain_options_default(&o);
        o.methods = vte_methods_from_name(configs[k]);
        vte_explanation_free(vte_session_explain(session, pixels, batch, NULL, targets, &o, &err)); /* warm-up */
        bench_reset_profile(rt);
        for (int i = 0; i < iterations; i++) {
            double s = bench_now_ms();
            vte_explanation *e = vte_session_explain(session, pixels, batch, NULL, targets, &o, &err);
            if (!e) {
                fprintf(stderr, "%s\n", err.message);
                return 3;
            }
            t[i] = bench_now_ms() - s;
            vte_stage_times st = vte_explanation_times(e);
            tf[i] = st.forward_ms;
            tb[i] = st.backward_ms;
            te[i] = st.explain_ms;
            vte_explanation_free(e);
        }
        printf("%-10s total %9.1f   (forward %8.1f, backward %8.1f, explanation %7.1f)\n", configs[k],
               bench_median(t, iterations) / batch, bench_median(tf, iterations) / batch, bench_median(tb, iterations) / batch,
               bench_median(te, iterations) / batch);
        char title[64];
        snprintf(title, sizeof title, "%s, all timed runs", configs[k]);
        bench_print_profile(rt, title); /* VITEXPLAIN_PROFILE=1 */
    }
    free(tf);
    free(tb);
    free(te);
    free(t);
    free(pixels);
    vte_session_free(session);
    vte_model_free(model);
    vte_runtime_free(rt);
    return 0;
}
