#include "test_json.h"

#include <criterion/criterion.h>

double vte_test_json_number(const json_t *object, const char *key) {
    const json_t *v = json_object_get(object, key);
    cr_assert(json_is_number(v), "no number '%s'", key);
    return json_number_value(v);
}
