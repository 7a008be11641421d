#include "util/array.h"

#include <stdint.h>
#include <stdlib.h>

void *vte_array_grow(void *items, size_t *capacity, size_t count, size_t item_size, size_t first) {
    if (count < *capacity) return items;
    const size_t grown_capacity = *capacity ? *capacity * 2 : first;
    if (grown_capacity < *capacity || grown_capacity > SIZE_MAX / item_size) return NULL;
    void *grown = realloc(items, grown_capacity * item_size);
    if (grown) *capacity = grown_capacity;
    return grown;
}
