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

/* Fills x with uniform values in [lo, hi) from a fixed-seed generator (xorshift), reproducible per seed. */
void vte_test_fill_uniform(float *x, size_t n, float lo, float hi, unsigned seed);

/* Writes `bytes` bytes to a fresh file under a temporary directory; returns its path (static buffer). */
const char *vte_test_write_temp(const char *name, const void *data, size_t bytes);

/* A fresh empty temporary directory (static buffer). */
const char *vte_test_temp_dir(void);

#endif
