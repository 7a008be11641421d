/* Error reporting shared by every module: fill a caller's vte_error and return its code. */
#ifndef VTE_UTIL_ERROR_H
#define VTE_UTIL_ERROR_H

#include "vitexplain.h"

#if defined(__GNUC__)
#define VTE_PRINTF(fmt_index, first_arg) __attribute__((format(printf, fmt_index, first_arg)))
#else
#define VTE_PRINTF(fmt_index, first_arg)
#endif

/* Sets err (which may be NULL) to code and the formatted message; returns code. */
vte_status vte_error_set(vte_error *err, vte_status code, const char *fmt, ...) VTE_PRINTF(3, 4);

/* Puts "prefix: " in front of the message already in err, keeping its code; returns the code.
 * Used to add context on the way up ("model.safetensors: " + "tensor x has shape ..."). */
vte_status vte_error_prefix(vte_error *err, const char *fmt, ...) VTE_PRINTF(2, 3);

void vte_error_clear(vte_error *err);

#endif
