#include "test_support.h"

#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

const char *vte_test_fixture(const char *relative) {
    static char path[4096];
    snprintf(path, sizeof path, "%s/%s", VTE_FIXTURES_DIR, relative);
    return path;
}

vte_runtime *vte_test_runtime(void) {
    vte_error err = {0};
    vte_runtime *rt = vte_runtime_init(NULL, &err);
    cr_assert_not_null(rt, "vte_runtime_init: %s", err.message);
    return rt;
}

void vte_test_assert_close(const float *got, const float *want, size_t n, double atol, double rtol,
                           const char *what) {
    size_t worst = 0, failures = 0;
    double worst_excess = -1.0, max_abs = 0.0;
    for (size_t i = 0; i < n; i++) {
        double diff = fabs((double)got[i] - (double)want[i]);
        if (!(diff == diff)) diff = INFINITY; /* NaN counts as a failure */
        double allowed = atol + rtol * fabs((double)want[i]);
        if (diff > max_abs) max_abs = diff;
        if (diff > allowed) failures++;
        if (diff - allowed > worst_excess) {
            worst_excess = diff - allowed;
            worst = i;
        }
    }
    cr_assert(failures == 0,
              "%s: %zu of %zu values differ beyond atol=%g rtol=%g; worst at [%zu]: got %.9g, want %.9g; "
              "max abs error %.3g",
              what, failures, n, atol, rtol, worst, (double)got[worst], (double)want[worst], max_abs);
}

void vte_test_fill_uniform(float *x, size_t n, float lo, float hi, unsigned seed) {
    unsigned long long s = 0x9E3779B97F4A7C15ull ^ (unsigned long long)seed * 0xBF58476D1CE4E5B9ull;
    for (size_t i = 0; i < n; i++) {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        double u = (double)(s >> 11) / 9007199254740992.0;
        x[i] = (float)(lo + (hi - lo) * u);
    }
}

const char *vte_test_temp_dir(void) {
    static char dir[4096];
    const char *base = getenv("TMPDIR");
    snprintf(dir, sizeof dir, "%s/vte-test-XXXXXX", base && *base ? base : "/tmp");
    cr_assert_not_null(mkdtemp(dir), "mkdtemp failed");
    return dir;
}

const char *vte_test_write_temp(const char *name, const void *data, size_t bytes) {
    static char path[4096];
    const char *dir = vte_test_temp_dir();
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    cr_assert_not_null(f, "cannot create %s", path);
    cr_assert_eq(fwrite(data, 1, bytes, f), bytes);
    fclose(f);
    return path;
}
