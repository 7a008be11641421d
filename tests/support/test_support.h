/* Helpers shared by the Criterion tests. */
#ifndef VTE_TEST_SUPPORT_H
#define VTE_TEST_SUPPORT_H

#include <stddef.h>

#include "vitexplain.h"

/* VTE_FIXTURES_DIR "/" relative, in a static buffer (one per call site is enough in a test). */
const char *vte_test_fixture(const char *relative);

/* A runtime on the default device; fails the test (with the library's message) if none can be made. */
vte_runtime *vte_test_runtime(void);

/* Asserts |got-want| <= atol + rtol*|want| everywhere; on failure reports the worst index, both values and
 * the maximum absolute error, prefixed by `what`. */
void vte_test_assert_close(const float *got, const float *want, size_t n, double atol, double rtol,
                           const char *what);

/* Like vte_test_assert_close, after printing the measured maximum absolute and relative errors (relative where
 * |want| > 1e-6) on stderr, so a run documents how close each result came. */
void vte_test_check(const char *what, const float *got, const float *want, size_t n, double atol, double rtol);

/* Fills x with uniform values in [lo, hi) from a fixed-seed generator (xorshift), reproducible per seed. */
void vte_test_fill_uniform(float *x, size_t n, float lo, float hi, unsigned seed);

/* Writes `bytes` bytes to a fresh file under a temporary directory; returns its path (static buffer). */
const char *vte_test_write_temp(const char *name, const void *data, size_t bytes);

/* A fresh empty temporary directory (static buffer), removed with its contents when the test process exits. */
const char *vte_test_temp_dir(void);

/* One temporary directory per test process (made on first use), and a file name in it (static buffer). */
const char *vte_test_scratch_dir(void);
const char *vte_test_scratch_file(const char *name);

/* Reads up to size-1 bytes of a file into dst, NUL-terminated ("" when it cannot be read). */
void vte_test_read_file(const char *path, char *dst, size_t size);

/* A command run through the shell, its exit status and captured output. */
typedef struct vte_test_run {
    int status;
    char out[65536];
    char err[65536];
} vte_test_run;

/* Runs `line` with /bin/sh in `dir`, stdin from `input` (a file name for <), no core dumps; fails the test when
 * it cannot run or is killed by a signal. Returns a static result, overwritten by the next call. */
vte_test_run *vte_test_shell(const char *dir, const char *line, const char *input);

/* The same for the command made from printf-style `format`, stdin /dev/null. */
vte_test_run *vte_test_shellf(const char *dir, const char *format, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

/* A fresh temporary folder, copied into `dir` (vte_test_temp_dir's buffer is overwritten by the next call). */
void vte_test_new_dir(char *dir, size_t size);

/* Runs `env ENV vitexplain ARGS` in `dir` without a terminal (stdin /dev/null); ENV may be "" or a list of env
 * arguments (-u NAME, NAME=value). */
vte_test_run *vte_test_cli(const char *dir, const char *env, const char *args);

#endif
