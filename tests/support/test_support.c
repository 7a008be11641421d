#define _XOPEN_SOURCE 700 /* nftw */
#include "test_support.h"

#include <criterion/criterion.h>
#include <ftw.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
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

void vte_test_check(const char *what, const float *got, const float *want, size_t n, double atol, double rtol) {
    double max_abs = 0.0, max_rel = 0.0;
    for (size_t i = 0; i < n; i++) {
        double diff = fabs((double)got[i] - (double)want[i]);
        if (diff > max_abs || diff != diff) max_abs = diff;
        if (fabs((double)want[i]) > 1e-6 && diff / fabs((double)want[i]) > max_rel) max_rel = diff / fabs((double)want[i]);
    }
    fprintf(stderr, "[measured] %-52s n=%-7zu max abs %.3g  max rel %.3g  (atol %g, rtol %g)\n", what, n, max_abs,
            max_rel, atol, rtol);
    vte_test_assert_close(got, want, n, atol, rtol, what);
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

/* Every temporary directory a test process makes is removed when that process exits. */
static char **temp_dirs;
static size_t temp_dir_count;

static int remove_entry(const char *path, const struct stat *info, int flag, struct FTW *walk) {
    (void)info;
    (void)flag;
    (void)walk;
    remove(path);
    return 0;
}

static void remove_temp_dirs(void) {
    for (size_t i = 0; i < temp_dir_count; i++) {
        nftw(temp_dirs[i], remove_entry, 16, FTW_DEPTH | FTW_PHYS);
        free(temp_dirs[i]);
    }
    free(temp_dirs);
    temp_dirs = NULL;
    temp_dir_count = 0;
}

const char *vte_test_temp_dir(void) {
    static char dir[4096];
    const char *base = getenv("TMPDIR");
    snprintf(dir, sizeof dir, "%s/vte-test-XXXXXX", base && *base ? base : "/tmp");
    cr_assert_not_null(mkdtemp(dir), "mkdtemp failed");
    char **grown = realloc(temp_dirs, (temp_dir_count + 1) * sizeof *grown);
    if (grown) {
        if (!temp_dirs) atexit(remove_temp_dirs);
        temp_dirs = grown;
        temp_dirs[temp_dir_count++] = strdup(dir);
    }
    return dir;
}

const char *vte_test_scratch_dir(void) {
    static char dir[4096];
    if (!dir[0]) snprintf(dir, sizeof dir, "%s", vte_test_temp_dir());
    return dir;
}

const char *vte_test_scratch_file(const char *name) {
    static char path[8192];
    snprintf(path, sizeof path, "%s/%s", vte_test_scratch_dir(), name);
    return path;
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

void vte_test_read_file(const char *path, char *dst, size_t size) {
    FILE *f = fopen(path, "rb");
    size_t n = f ? fread(dst, 1, size - 1, f) : 0;
    dst[n] = '\0';
    if (f) fclose(f);
}

vte_test_run *vte_test_shell(const char *dir, const char *line, const char *input) {
    static vte_test_run r;
    char logs[4096], out_path[4200], err_path[4200];
    snprintf(logs, sizeof logs, "%s", vte_test_temp_dir());
    snprintf(out_path, sizeof out_path, "%s/out", logs);
    snprintf(err_path, sizeof err_path, "%s/err", logs);
    size_t size = strlen(dir) + strlen(line) + strlen(input) + 2 * sizeof out_path + 64;
    char *command = malloc(size);
    cr_assert_not_null(command);
    snprintf(command, size, "cd '%s' && ulimit -c 0 && ( %s ) >'%s' 2>'%s' <%s", dir, line, out_path, err_path, input);
    int raw = system(command);
    cr_assert(raw != -1 && WIFEXITED(raw), "could not run: %s", command);
    free(command);
    r.status = WEXITSTATUS(raw);
    vte_test_read_file(out_path, r.out, sizeof r.out);
    vte_test_read_file(err_path, r.err, sizeof r.err);
    cr_assert(r.status < 128, "killed by signal %d (no abort or crash allowed); stderr: %s", r.status - 128, r.err);
    return &r;
}

vte_test_run *vte_test_shellf(const char *dir, const char *format, ...) {
    char line[16384];
    va_list args;
    va_start(args, format);
    vsnprintf(line, sizeof line, format, args);
    va_end(args);
    return vte_test_shell(dir, line, "/dev/null");
}

void vte_test_new_dir(char *dir, size_t size) { snprintf(dir, size, "%s", vte_test_temp_dir()); }

vte_test_run *vte_test_cli(const char *dir, const char *env, const char *args) {
    size_t size = strlen(env) + strlen(args) + strlen(VTE_CLI_PATH) + 32;
    char *line = malloc(size);
    cr_assert_not_null(line);
    snprintf(line, size, "env %s '%s' %s", env, VTE_CLI_PATH, args);
    vte_test_run *r = vte_test_shell(dir, line, "/dev/null");
    free(line);
    return r;
}
