/* JSON reading for tests: a number that must be there. */
#ifndef VTE_TEST_JSON_H
#define VTE_TEST_JSON_H

#include <jansson.h>

/* The number at `key` of `object`; the test fails when there is none. */
double vte_test_json_number(const json_t *object, const char *key);

#endif
