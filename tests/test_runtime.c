/* Device choice, the program-binary cache, build errors, the GEMM backends and self-check, and top-k. */
#include <criterion/criterion.h>
#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/gemm.h"
#include "runtime/runtime.h"
#include "test_support.h"

static vte_device_info fake_device(int index, vte_device_type type, const char *name) {
    vte_device_info d;
    memset(&d, 0, sizeof d);
    d.index = index;
    d.type = type;
    snprintf(d.name, sizeof d.name, "%s", name);
    return d;
}

Test(devices, choice_by_default_index_type_and_name) {
    vte_device_info list[3] = {fake_device(0, VTE_DEVICE_CPU, "pthread-skylake-avx512-AMD EPYC"),
                               fake_device(1, VTE_DEVICE_GPU, "NVIDIA H100 80GB HBM3"),
                               fake_device(2, VTE_DEVICE_GPU, "AMD Radeon RX 7900")};
    vte_error err = {0};
    cr_assert_eq(vte_devices_choose(list, 3, NULL, &err), 1, "default: first GPU");
    cr_assert_eq(vte_devices_choose(list, 1, NULL, &err), 0, "default without GPU: first CPU");
    cr_assert_eq(vte_devices_choose(list, 3, "cpu", &err), 0);
    cr_assert_eq(vte_devices_choose(list, 3, "GPU", &err), 1);
    cr_assert_eq(vte_devices_choose(list, 3, "2", &err), 2);
    cr_assert_eq(vte_devices_choose(list, 3, "radeon", &err), 2, "name substring, any case");
    cr_assert_eq(vte_devices_choose(list, 3, "EPYC", &err), 0);
    cr_assert_eq(vte_devices_choose(list, 3, "7", &err), -1);
    cr_assert(strstr(err.message, "out of range"), "message: %s", err.message);
    cr_assert_eq(vte_devices_choose(list, 3, "intel arc", &err), -1);
    cr_assert_eq(err.code, VTE_ERR_NO_DEVICE);
    cr_assert(strstr(err.message, "no OpenCL device matches 'intel arc'"), "message: %s", err.message);
}

Test(devices, listing_describes_the_real_device) {
    vte_device_info *devices = NULL;
    size_t count = 0;
    vte_error err = {0};
    cr_assert_eq(vte_devices_list(&devices, &count, &err), VTE_OK, "%s", err.message);
    cr_assert_geq(count, 1);
    cr_assert(devices[0].name[0] != '\0');
    cr_assert_gt(devices[0].compute_units, 0);
    cr_assert_gt(devices[0].global_mem_bytes, 0);
    cr_assert(strstr(devices[0].opencl_c_version, "OpenCL C") != NULL, "%s", devices[0].opencl_c_version);
    free(devices);
}

Test(runtime, unknown_device_request_fails_cleanly) {
    vte_error err = {0};
    vte_runtime_params params = {.device = "no-such-device-xyz"};
    cr_assert_null(vte_runtime_init(&params, &err));
    cr_assert_eq(err.code, VTE_ERR_NO_DEVICE);
    cr_assert(strstr(err.message, "no-such-device-xyz"), "message: %s", err.message);
}

Test(runtime, opencl_failures_name_the_status_and_place) {
    vte_error err = {0};
    cr_assert_eq(vte_cl_fail(&err, CL_OUT_OF_RESOURCES, "clEnqueueNDRangeKernel(q, k, ...)", "src/vit/forward.c", 42),
                 VTE_ERR_OPENCL);
    cr_assert_str_eq(err.message, "clEnqueueNDRangeKernel failed: CL_OUT_OF_RESOURCES (-5) at forward.c:42");
}

static int count_cache_entries(const char *dir) {
    DIR *d = opendir(dir);
    cr_assert_not_null(d);
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)))
        if (strstr(e->d_name, ".bin") && !strstr(e->d_name, ".tmp")) n++;
    closedir(d);
    return n;
}

/* Overwrites the middle of every cache entry with garbage (keeps the size). */
static void corrupt_cache_entries(const char *dir) {
    DIR *d = opendir(dir);
    cr_assert_not_null(d);
    struct dirent *e;
    while ((e = readdir(d))) {
        if (!strstr(e->d_name, ".bin")) continue;
        char path[8192];
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        FILE *f = fopen(path, "r+b");
        cr_assert_not_null(f);
        fseek(f, 0, SEEK_END);
        long size = ftell(f);
        fseek(f, size / 2, SEEK_SET);
        for (int i = 0; i < 64; i++) fputc(0x5A, f);
        fclose(f);
    }
    closedir(d);
}

static void run_add_kernel(vte_runtime *rt) {
    vte_error err = {0};
    cl_kernel k = vte_kernel_create(rt, "elementwise", "", "add_inplace", &err);
    cr_assert_not_null(k, "%s", err.message);
    float x[5] = {1, 2, 3, 4, 5}, y[5] = {10, 20, 30, 40, 50};
    cl_mem bx = vte_buffer_create(rt, sizeof x, "x", &err), by = vte_buffer_create(rt, sizeof y, "y", &err);
    cr_assert(bx && by, "%s", err.message);
    cr_assert_eq(vte_buffer_write(rt, bx, 0, sizeof x, x, &err), VTE_OK);
    cr_assert_eq(vte_buffer_write(rt, by, 0, sizeof y, y, &err), VTE_OK);
    size_t local = vte_kernel_group_size(rt, k, 64), global = vte_round_up(5, local);
    cr_assert_eq(VTE_RUN(rt, k, 1, &global, &local, &err, VTE_ARG(bx), VTE_ARG(by), VTE_INT(5)), VTE_OK, "%s",
                 err.message);
    cr_assert_eq(vte_buffer_read(rt, bx, 0, sizeof x, x, &err), VTE_OK);
    for (int i = 0; i < 5; i++) cr_assert_float_eq(x[i], 11.0f * (i + 1), 0.0f);
    vte_buffer_release(&bx);
    vte_buffer_release(&by);
    clReleaseKernel(k);
}

Test(program_cache, stores_reuses_and_survives_corruption) {
    char dir[4096];
    snprintf(dir, sizeof dir, "%s", vte_test_temp_dir());
    vte_runtime_params params = {.cache_dir = dir};
    vte_error err = {0};

    vte_runtime *rt = vte_runtime_init(&params, &err);
    cr_assert_not_null(rt, "%s", err.message);
    run_add_kernel(rt);
    vte_runtime_free(rt);
    cr_assert_eq(count_cache_entries(dir), 1, "one program built: one cache entry");

    rt = vte_runtime_init(&params, &err); /* loads the binary from the cache */
    cr_assert_not_null(rt, "%s", err.message);
    run_add_kernel(rt);
    vte_runtime_free(rt);
    cr_assert_eq(count_cache_entries(dir), 1, "a cache hit writes nothing new");

    corrupt_cache_entries(dir); /* a corrupt entry must fall back to building from source */
    rt = vte_runtime_init(&params, &err);
    cr_assert_not_null(rt, "%s", err.message);
    run_add_kernel(rt);
    vte_runtime_free(rt);
}

Test(program_cache, build_errors_show_the_build_log) {
    const char *dir = vte_test_temp_dir();
    char path[8192];
    snprintf(path, sizeof path, "%s/broken.cl", dir);
    FILE *f = fopen(path, "w");
    cr_assert_not_null(f);
    fputs("__kernel void broken(__global float *x) { x[0] = undeclared_thing; }\n", f);
    fclose(f);
    vte_runtime_params params = {.kernel_dir = dir, .cache_dir = ""};
    vte_error err = {0};
    vte_runtime *rt = vte_runtime_init(&params, &err);
    cr_assert_not_null(rt, "%s", err.message);
    cr_assert_null(vte_kernel_create(rt, "broken", "-DX=1", "broken", &err));
    cr_assert_eq(err.code, VTE_ERR_OPENCL);
    cr_assert(strstr(err.message, "kernels/broken.cl") && strstr(err.message, "CL_BUILD_PROGRAM_FAILURE") &&
                  strstr(err.message, "undeclared_thing"),
              "message: %s", err.message);
    cr_assert_null(vte_kernel_create(rt, "missing", "", "k", &err));
    cr_assert(strstr(err.message, "missing.cl") && strstr(err.message, "cannot open"), "message: %s", err.message);
    vte_runtime_free(rt);
}

Test(gemm, self_check_passes_on_this_device) {
    vte_runtime *rt = vte_test_runtime();
    vte_error err = {0};
    cr_assert_eq(vte_gemm_self_check(rt, &err), VTE_OK, "%s", err.message);
    vte_runtime_free(rt);
}

Test(gemm, backend_choice) {
    vte_runtime *rt = vte_test_runtime();
    vte_error err = {0};
    /* PoCL's CPU device keeps buffers in host memory: its GEMMs take the faster host library per shape unless told
     * otherwise. */
    if (rt->info.type == VTE_DEVICE_CPU && strstr(rt->info.platform_name, "Portable Computing Language")) {
        const char *described = vte_gemm_backend(rt);
        cr_assert(strstr(described, "host BLAS (OpenBLAS)") && strstr(described, "oneDNN") &&
                      strstr(described, "measured"),
                  "%s", described);
    }
    vte_runtime_free(rt);
    setenv("VITEXPLAIN_GEMM", "clblast", 1);
    rt = vte_test_runtime();
    cr_assert_str_eq(vte_gemm_backend(rt), "CLBlast");
    cr_assert_eq(vte_gemm_self_check(rt, &err), VTE_OK, "CLBlast self-check: %s", err.message);
    vte_runtime_free(rt);
}

static int is_pocl_cpu(const vte_runtime *rt) {
    return rt->info.type == VTE_DEVICE_CPU && strstr(rt->info.platform_name, "Portable Computing Language");
}

/* Asserts that profiling recorded both self-check GEMMs under names that end with "(<backend>)". */
static void assert_self_check_profiled_through(vte_runtime *rt, const char *backend) {
    char single[96], batched[96];
    snprintf(single, sizeof single, "gemm 37x29x53 NT (%s)", backend);
    snprintf(batched, sizeof batched, "gemm batched 17x19x11 x3 NT (%s)", backend);
    int found_single = 0, found_batched = 0;
    for (size_t i = 0; i < rt->profile_count; i++) {
        found_single |= strcmp(rt->profile[i].name, single) == 0;
        found_batched |= strcmp(rt->profile[i].name, batched) == 0;
    }
    cr_assert(found_single && found_batched, "profile lacks \"%s\" or \"%s\" (%zu entries, first \"%s\")", single,
              batched, rt->profile_count, rt->profile_count ? rt->profile[0].name : "");
}

Test(gemm, forced_backends_run_and_report_themselves) {
    setenv("VITEXPLAIN_PROFILE", "1", 1); /* profile names show which backend ran each GEMM */
    vte_error err = {0};

    setenv("VITEXPLAIN_GEMM", "clblast", 1);
    vte_runtime *rt = vte_test_runtime();
    cr_assert_eq(vte_gemm_self_check(rt, &err), VTE_OK, "%s", err.message);
    cr_assert_str_eq(vte_gemm_backend(rt), "CLBlast");
    assert_self_check_profiled_through(rt, "clblast");
    vte_runtime_free(rt);

    /* The host libraries run only where buffers live in host memory (PoCL's CPU device). */
    static const char *const host_names[][2] = {{"host", "host BLAS (OpenBLAS)"}, {"onednn", "oneDNN"}};
    for (size_t i = 0; i < 2; i++) {
        setenv("VITEXPLAIN_GEMM", host_names[i][0], 1);
        rt = vte_test_runtime();
        if (is_pocl_cpu(rt)) {
            cr_assert_eq(vte_gemm_self_check(rt, &err), VTE_OK, "%s", err.message);
            cr_assert_str_eq(vte_gemm_backend(rt), host_names[i][1]);
            assert_self_check_profiled_through(rt, host_names[i][0]);
        } else {
            cr_assert_eq(vte_gemm_self_check(rt, &err), VTE_ERR_INVALID_ARGUMENT, "%s on %s", host_names[i][1],
                         rt->info.name);
        }
        vte_runtime_free(rt);
    }

    setenv("VITEXPLAIN_GEMM", "", 1); /* empty: the default, as if unset */
    rt = vte_test_runtime();
    cr_assert_eq(vte_gemm_self_check(rt, &err), VTE_OK, "%s", err.message);
    if (is_pocl_cpu(rt))
        cr_assert(strstr(vte_gemm_backend(rt), "measured"), "%s", vte_gemm_backend(rt));
    else
        cr_assert_str_eq(vte_gemm_backend(rt), "CLBlast");
    vte_runtime_free(rt);
}

Test(runtime, row_kernel_form_follows_the_device_and_the_environment) {
    vte_error err = {0};
    vte_runtime *rt = vte_test_runtime();
    cr_assert_eq(vte_runtime_rows_per_item(rt), vte_runtime_device(rt)->type == VTE_DEVICE_CPU);
    vte_runtime_free(rt);
    setenv("VITEXPLAIN_ROW_KERNELS", "group", 1);
    rt = vte_test_runtime();
    cr_assert_eq(vte_runtime_rows_per_item(rt), 0);
    vte_runtime_free(rt);
    setenv("VITEXPLAIN_ROW_KERNELS", "item", 1);
    rt = vte_test_runtime();
    cr_assert_eq(vte_runtime_rows_per_item(rt), 1);
    vte_runtime_free(rt);
    setenv("VITEXPLAIN_ROW_KERNELS", "rows", 1);
    vte_runtime_params params = {0};
    cr_assert_null(vte_runtime_init(&params, &err));
    cr_assert_eq(err.code, VTE_ERR_INVALID_ARGUMENT);
    cr_assert(strstr(err.message, "VITEXPLAIN_ROW_KERNELS=\"rows\"") && strstr(err.message, "item") &&
                  strstr(err.message, "group"),
              "message: %s", err.message);
}

/* Runs C[m,n] = A B^T once on zeros (a shape the tests below choose by its m) with profiling on, and returns the
 * backend name the profile recorded for it ("host", "onednn"). */
static const char *backend_that_ran(vte_runtime *rt, size_t m, size_t n, size_t k) {
    vte_error err = {0};
    cl_mem a = vte_buffer_create(rt, m * k * sizeof(float), "A", &err);
    cl_mem b = vte_buffer_create(rt, n * k * sizeof(float), "B", &err);
    cl_mem c = vte_buffer_create(rt, m * n * sizeof(float), "C", &err);
    cr_assert(a && b && c, "%s", err.message);
    cr_assert_eq(vte_buffer_fill_zero(rt, a, m * k * sizeof(float), &err), VTE_OK, "%s", err.message);
    cr_assert_eq(vte_buffer_fill_zero(rt, b, n * k * sizeof(float), &err), VTE_OK, "%s", err.message);
    cr_assert_eq(vte_gemm(rt, VTE_GEMM_N, VTE_GEMM_T, m, n, k, 1.0f, a, 0, k, b, 0, k, 0.0f, c, 0, n, &err), VTE_OK,
                 "%s", err.message);
    vte_buffer_release(&a), vte_buffer_release(&b), vte_buffer_release(&c);
    char prefix[64];
    snprintf(prefix, sizeof prefix, "gemm %zux%zux%zu NT (", m, n, k);
    for (size_t i = 0; i < rt->profile_count; i++)
        if (strncmp(rt->profile[i].name, prefix, strlen(prefix)) == 0) {
            static char name[32];
            snprintf(name, sizeof name, "%s", rt->profile[i].name + strlen(prefix));
            name[strcspn(name, ")")] = '\0';
            return name;
        }
    cr_assert_fail("no profile entry for %s...)", prefix);
    return NULL;
}

/* The one file with GEMM choices in `dir`, read into text; "" when there is none. */
static void read_choice_file(const char *dir, char *text, size_t size) {
    text[0] = '\0';
    DIR *d = opendir(dir);
    cr_assert_not_null(d, "%s", dir);
    struct dirent *e;
    while ((e = readdir(d))) {
        size_t len = strlen(e->d_name);
        if (len < 5 || strcmp(e->d_name + len - 5, ".gemm") != 0) continue;
        char path[4400];
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        FILE *f = fopen(path, "r");
        cr_assert_not_null(f, "%s", path);
        size_t n = fread(text, 1, size - 1, f);
        text[n] = '\0';
        fclose(f);
    }
    closedir(d);
}

Test(gemm, each_shape_is_measured_once_and_the_choice_is_kept_per_device) {
    char cache[4096];
    vte_test_new_dir(cache, sizeof cache);
    setenv("VITEXPLAIN_CACHE_DIR", cache, 1);
    setenv("VITEXPLAIN_PROFILE", "1", 1);
    vte_runtime *rt = vte_test_runtime();
    if (!is_pocl_cpu(rt)) {
        vte_runtime_free(rt);
        cr_skip_test("one GEMM candidate on this device: nothing to measure");
    }
    vte_error err = {0};
    cr_assert_eq(vte_gemm_self_check(rt, &err), VTE_OK, "%s", err.message);
    /* The self-check ran on both candidates. */
    assert_self_check_profiled_through(rt, "host");
    assert_self_check_profiled_through(rt, "onednn");

    /* Small shapes are not measured: they take the current choice (the first candidate until something is). */
    cr_assert_str_eq(backend_that_ran(rt, 61, 47, 35), "onednn");
    char text[8192];
    read_choice_file(cache, text, sizeof text);
    cr_assert_str_eq(text, "", "small shape measured: %s", text);

    /* A new shape is measured: the faster on it takes it (the only shape measured) and is written down with the
     * times. */
    cr_assert(strstr(vte_gemm_backend(rt), "measured on first use"), "%s", vte_gemm_backend(rt));
    const char *first = backend_that_ran(rt, 200, 160, 160);
    cr_assert(strcmp(first, "host") == 0 || strcmp(first, "onednn") == 0, "ran on %s", first);
    read_choice_file(cache, text, sizeof text);
    cr_assert(strstr(text, "GEMM choices v2|dev=") && strstr(text, "candidates=onednn,host"), "file: %s", text);
    char line[128];
    snprintf(line, sizeof line, "\n0 1 200 160 160 160 160 160 1 0 0 0 1 0 0 0 %s onednn=", first);
    cr_assert(strstr(text, line) && strstr(text, " host="), "file lacks \"%s\": %s", line + 1, text);
    cr_assert(strstr(vte_gemm_backend(rt), "measured on 1 GEMM shapes against"), "%s", vte_gemm_backend(rt));
    vte_runtime_free(rt);

    /* A later runtime takes the kept measurements, whatever they are: rewrite them so that the other backend is
     * faster on a second shape by more than the first one lost, and both shapes run on it, measured or not. */
    const char *other = strcmp(first, "host") == 0 ? "onednn" : "host";
    DIR *d = opendir(cache);
    struct dirent *e;
    char path[4400] = "";
    while ((e = readdir(d)))
        if (strstr(e->d_name, ".gemm")) snprintf(path, sizeof path, "%s/%s", cache, e->d_name);
    closedir(d);
    char *header_end = strchr(text, '\n');
    cr_assert_not_null(header_end);
    header_end[1] = '\0';
    FILE *f = fopen(path, "w");
    cr_assert_not_null(f, "%s", path);
    const int other_is_host = strcmp(other, "host") == 0;
    fprintf(f, "%s0 1 200 160 160 160 160 160 1 0 0 0 1 0 0 0 %s host=%s onednn=%s\n", text, first, other_is_host ? "2ms" : "1ms",
            other_is_host ? "1ms" : "2ms");
    fprintf(f, "0 1 201 160 160 160 160 160 1 0 0 0 1 0 0 0 %s host=%s onednn=%s\n", other, other_is_host ? "1ms" : "5ms",
            other_is_host ? "5ms" : "1ms");
    fclose(f);
    rt = vte_test_runtime();
    cr_assert_str_eq(backend_that_ran(rt, 200, 160, 160), other);
    cr_assert_str_eq(backend_that_ran(rt, 201, 160, 160), other);
    vte_runtime_free(rt);

    /* A file from another device or candidate set is ignored: the shape is measured again. */
    f = fopen(path, "w");
    fprintf(f, "vitexplain 0.0.0 GEMM choices|dev=another\n0 1 200 160 160 160 160 160 1 0 0 0 1 0 0 0 %s\n", other);
    fclose(f);
    rt = vte_test_runtime();
    const char *again = backend_that_ran(rt, 200, 160, 160);
    cr_assert(strcmp(again, "host") == 0 || strcmp(again, "onednn") == 0, "ran on %s", again);
    read_choice_file(cache, text, sizeof text);
    cr_assert(strstr(text, "candidates=onednn,host") && !strstr(text, "dev=another"), "file: %s", text);
    vte_runtime_free(rt);
}

Test(gemm, nothing_is_measured_with_the_cache_off) {
    setenv("VITEXPLAIN_CACHE_DIR", "", 1);
    setenv("VITEXPLAIN_PROFILE", "1", 1);
    vte_runtime *rt = vte_test_runtime();
    if (!is_pocl_cpu(rt)) {
        vte_runtime_free(rt);
        cr_skip_test("one GEMM candidate on this device: nothing to measure");
    }
    /* a large shape, which would be measured with a cache: the first candidate, at once */
    cr_assert_str_eq(backend_that_ran(rt, 200, 160, 160), "onednn");
    cr_assert_str_eq(vte_gemm_backend(rt), "oneDNN (not measured: the cache directory is off)");
    vte_runtime_free(rt);
}

Test(gemm, unknown_backend_name_is_an_error_everywhere) {
    setenv("VITEXPLAIN_GEMM", "bogus", 1);
    vte_runtime *rt = vte_test_runtime();
    vte_error err = {0};
    cr_assert_eq(vte_gemm_self_check(rt, &err), VTE_ERR_INVALID_ARGUMENT, "%s", err.message);
    cr_assert(strstr(err.message, "VITEXPLAIN_GEMM") && strstr(err.message, "bogus") && strstr(err.message, "host") &&
                  strstr(err.message, "clblast"),
              "message: %s", err.message);
    cr_assert_str_eq(vte_gemm_backend(rt), "none");

    /* Reserving and multiplying without a backend return the same error instead of crashing. */
    vte_error later = {0};
    cr_assert_eq(vte_gemm_reserve(rt, VTE_GEMM_N, VTE_GEMM_N, 4, 4, 4, 4, 4, 4, &later), VTE_ERR_INVALID_ARGUMENT);
    cr_assert_str_eq(later.message, err.message);
    cl_mem m = vte_buffer_create(rt, 16 * sizeof(float), "matrix", &err);
    cr_assert_not_null(m, "%s", err.message);
    memset(&later, 0, sizeof later);
    cr_assert_eq(vte_gemm(rt, VTE_GEMM_N, VTE_GEMM_N, 4, 4, 4, 1.0f, m, 0, 4, m, 0, 4, 0.0f, m, 0, 4, &later),
                 VTE_ERR_INVALID_ARGUMENT);
    cr_assert(strstr(later.message, "bogus"), "message: %s", later.message);
    cr_assert_eq(vte_gemm_strided_batched(rt, VTE_GEMM_N, VTE_GEMM_T, 2, 2, 2, 1.0f, m, 0, 2, 4, m, 0, 2, 4, 0.0f, m,
                                          0, 2, 4, 2, &later),
                 VTE_ERR_INVALID_ARGUMENT);
    vte_buffer_release(&m);
    vte_runtime_free(rt);

    /* A session reports it too: its first step is the self-check. */
    rt = vte_test_runtime();
    vte_model *model = vte_model_load(rt, vte_test_fixture("models/vit-tiny"), &err);
    cr_assert_not_null(model, "%s", err.message);
    memset(&err, 0, sizeof err);
    cr_assert_null(vte_session_init(model, 1, &err));
    cr_assert_eq(err.code, VTE_ERR_INVALID_ARGUMENT);
    cr_assert(strstr(err.message, "VITEXPLAIN_GEMM") && strstr(err.message, "host") && strstr(err.message, "clblast"),
              "message: %s", err.message);
    vte_model_free(model);
    vte_runtime_free(rt);
}

Test(gemm, host_backend_is_refused_off_pocl_cpus) {
    /* The host BLAS maps buffers, which only PoCL's CPU device keeps in host memory. Pretend this device is a
     * GPU (before the first GEMM call chooses): forcing "host" is an error, and the default is CLBlast. */
    setenv("VITEXPLAIN_GEMM", "host", 1);
    vte_runtime *rt = vte_test_runtime();
    rt->info.type = VTE_DEVICE_GPU;
    vte_error err = {0};
    cr_assert_eq(vte_gemm_self_check(rt, &err), VTE_ERR_INVALID_ARGUMENT);
    cr_assert(strstr(err.message, "VITEXPLAIN_GEMM") && strstr(err.message, "cannot run") &&
                  strstr(err.message, "usable here: clblast"),
              "message: %s", err.message);
    vte_runtime_free(rt);

    unsetenv("VITEXPLAIN_GEMM");
    rt = vte_test_runtime();
    rt->info.type = VTE_DEVICE_GPU;
    cr_assert_str_eq(vte_gemm_backend(rt), "CLBlast");
    vte_runtime_free(rt);
}

Test(top_k, orders_by_logit_and_normalises) {
    const float logits[6] = {0.5f, 3.0f, -1.0f, 3.0f, 2.0f, 0.0f};
    vte_prediction top[6];
    cr_assert_eq(vte_top_k(logits, 6, 3, top), 3);
    cr_assert_eq(top[0].class_id, 1, "ties keep the lower id first");
    cr_assert_eq(top[1].class_id, 3);
    cr_assert_eq(top[2].class_id, 4);
    double sum = 0.0;
    for (int i = 0; i < 6; i++) sum += exp((double)logits[i]);
    cr_assert_float_eq(top[0].prob, exp(3.0) / sum, 1e-6);
    cr_assert_float_eq(top[2].prob, exp(2.0) / sum, 1e-6);
    cr_assert_eq(vte_top_k(logits, 6, 10, top), 6, "k is clamped to the number of classes");
    cr_assert_eq(top[5].class_id, 2);
}
