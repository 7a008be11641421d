/* Growing arrays: the doubling every list of the program uses, in one place. */
#ifndef VTE_UTIL_ARRAY_H
#define VTE_UTIL_ARRAY_H

#include <stddef.h>

/* `items` with room for at least count + 1 items of item_size bytes: unchanged while count < *capacity, else
 * reallocated to twice *capacity (`first` when it is 0), *capacity updated. NULL when out of memory, `items`
 * and *capacity then untouched. */
void *vte_array_grow(void *items, size_t *capacity, size_t count, size_t item_size, size_t first);

#endif
