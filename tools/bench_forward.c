/* Forward-pass benchmark: times each start-up stage and the forward pass per image at a batch size.
 *
 *   vitexplain-bench-forward --model DIR [--batch N] [--iterations K] [--device SPEC]
 *
 * Prints one line per stage and a final JSON line (for scripts). The first forward of a process includes
 * CLBlast's and PoCL's compilation when their caches are cold; tools/bench-forward.sh runs it cold and
 * warm. Inputs are random pixels: speed does not depend on the values. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "runtime/gemm.h"
#include "runtime/runtime.h"
#include "vitexplain.h"
#include "bench_common.h"

int main(int argc, char **argv) {
    const char *model_dir = NULL, *device = NULL;
    int batch = 1, iterations = 5;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--model") == 0 && i + 1 < argc) model_dir = argv[++i];
        else if (strcmp(argv[i], "--device") == 0 && i + 1 < argc) device = argv[++i];
        else if (strcmp(argv[i], "--batch") == 0 && i + 1 < argc) batch = atoi(argv[++i]);
        else if (strcmp(argv[i], "--iterations") == 0 && i + 1 < argc) iterations = atoi(argv[++i]);
        else {
            fprintf(stderr, "usage: %s --model DIR [--batch N] [--iterations K] [--device SPEC]\n", argv[0]);
            return 2;
        }
    }
    if (!model_dir || batch < 1 || iterations < 1) {
        fprintf(stderr, "usage: %s --model DIR [--batch N] [--iterations K] [--device SPEC]\n", argv[0]);
        return 2;
    }
    vte_error err = {0};
    double t0 = bench_now_ms();
    vte_runtime_params params = {.device = device};
    vte_runtime *rt = vte_runtime_init(&params, &err);
    if (!rt) {
        fprintf(stderr, "%s\n", err.message);
        return 3;
    }
    double t_runtime = bench_now_ms();
    vte_model *model = vte_model_load(rt, model_dir, &err);
    if (!model) {
        fprintf(stderr, "%s\n", err.message);
        return 3;
    }
    double t_model = bench_now_ms();
    vte_session *session = vte_session_init_keeping(model, batch, 0, &err); /* as `vitexplain classify` */
    if (!session) {
        fprintf(stderr, "%s\n", err.message);
        return 3;
    }
    double t_session = bench_now_ms();
    const vte_model_config *c = vte_model_get_config(model);
    size_t floats = (size_t)batch * vte_preprocess_size(c);
    float *pixels = malloc(floats * sizeof *pixels);
    unsigned seed = 1;
    for (size_t i = 0; i < floats; i++) {
        seed = seed * 1664525u + 1013904223u;
        pixels[i] = (float)((seed >> 8) & 0xFFFF) / 32768.0f - 1.0f;
    }
    double t_first0 = bench_now_ms();
    if (vte_session_forward(session, pixels, batch, &err) != VTE_OK) {
        fprintf(stderr, "%s\n", err.message);
        return 3;
    }
    double t_first = bench_now_ms() - t_first0;
    double *times = malloc((size_t)iterations * sizeof *times);
    for (int i = 0; i < iterations; i++) {
        double s = bench_now_ms();
        if (vte_session_forward(session, pixels, batch, &err) != VTE_OK) {
            fprintf(stderr, "%s\n", err.message);
            return 3;
        }
        times[i] = bench_now_ms() - s;
    }
    qsort(times, (size_t)iterations, sizeof *times, bench_compare_doubles);
    double median = times[iterations / 2], best = times[0];
    struct rusage usage;
    getrusage(RUSAGE_SELF, &usage);
    double peak_mib = usage.ru_maxrss / 1024.0;
    const vte_device_info *d = vte_runtime_device(rt);
    printf("device              %s (GEMM: %s)\n", d->name, vte_gemm_backend(rt));
    printf("model               %s (%d layers, hidden %d, %d tokens)\n", model_dir, c->num_layers, c->hidden_size,
           c->num_tokens);
    printf("runtime init        %8.1f ms\n", t_runtime - t0);
    printf("model load+upload   %8.1f ms\n", t_model - t_runtime);
    printf("session init        %8.1f ms (self-check, kernel builds, buffers)\n", t_session - t_model);
    printf("first forward       %8.1f ms for %d image(s)\n", t_first, batch);
    printf("start to 1st result %8.1f ms\n", t_session - t0 + t_first);
    printf("forward (median)    %8.1f ms for %d image(s) = %.1f ms/image (best %.1f ms/image, %d runs)\n", median,
           batch, median / batch, best / batch, iterations);
    printf("peak RSS            %8.1f MiB\n", peak_mib);
    printf("{\"batch\": %d, \"start_ms\": %.1f, \"first_forward_ms\": %.1f, \"median_ms_per_image\": %.2f, "
           "\"best_ms_per_image\": %.2f, \"peak_rss_mib\": %.1f}\n",
           batch, t_session - t0, t_first, median / batch, best / batch, peak_mib);
    bench_print_profile(rt, "all forward passes"); /* VITEXPLAIN_PROFILE=1 */
    free(times);
    free(pixels);
    vte_session_free(session);
    vte_model_free(model);
    vte_runtime_free(rt);
    return 0;
}
