#include "util/error.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A position at or before `at` in `text` that does not split a UTF-8 sequence. */
static size_t utf8_boundary(const char *text, size_t at) {
    while (at > 0 && ((unsigned char)text[at] & 0xC0) == 0x80) at--;
    return at;
}

/* `text` (length n) into `out` (size bytes); when it does not fit, its middle gives way to "..." so that both the
 * start (usually a path's beginning) and the end (the reason) survive. */
static void copy_keeping_both_ends(char *out, size_t size, const char *text, size_t n) {
    if (n < size) {
        memcpy(out, text, n + 1);
        return;
    }
    static const char gap[] = "...";
    const size_t head = utf8_boundary(text, (size - sizeof gap) / 3);
    const size_t tail_room = size - sizeof gap - head;
    size_t tail_start = n - tail_room;
    while (tail_start < n && ((unsigned char)text[tail_start] & 0xC0) == 0x80) tail_start++;
    memcpy(out, text, head);
    memcpy(out + head, gap, sizeof gap - 1);
    memcpy(out + head + sizeof gap - 1, text + tail_start, n - tail_start + 1);
}

vte_status vte_error_set(vte_error *err, vte_status code, const char *fmt, ...) {
    if (!err) return code;
    err->code = code;
    va_list ap, again;
    va_start(ap, fmt);
    va_copy(again, ap);
    const int n = vsnprintf(err->message, sizeof err->message, fmt, ap);
    va_end(ap);
    char *whole = n >= (int)sizeof err->message ? malloc((size_t)n + 1) : NULL;
    if (whole) { /* too long: the reason at the end must not be the part that is cut */
        vsnprintf(whole, (size_t)n + 1, fmt, again);
        copy_keeping_both_ends(err->message, sizeof err->message, whole, (size_t)n);
        free(whole);
    }
    va_end(again);
    return code;
}

vte_status vte_error_prefix(vte_error *err, const char *fmt, ...) {
    if (!err) return VTE_ERR_INVALID_ARGUMENT;
    char old[VTE_ERROR_MESSAGE_SIZE];
    memcpy(old, err->message, sizeof old);
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(err->message, sizeof err->message, fmt, ap);
    va_end(ap);
    if (n >= 0 && (size_t)n < sizeof err->message) {
        size_t used = (size_t)n, room = sizeof err->message - used;
        size_t old_length = strnlen(old, sizeof old - 1);
        if (room > 2) {
            memcpy(err->message + used, ": ", 2);
            used += 2;
            room -= 2;
            size_t copy = old_length < room - 1 ? old_length : room - 1;
            memcpy(err->message + used, old, copy);
            err->message[used + copy] = '\0';
        }
    }
    return err->code;
}

void vte_error_clear(vte_error *err) {
    if (err) {
        err->code = VTE_OK;
        err->message[0] = '\0';
    }
}

const char *vte_status_name(vte_status code) {
    switch (code) {
    case VTE_OK: return "ok";
    case VTE_ERR_INVALID_ARGUMENT: return "invalid argument";
    case VTE_ERR_IO: return "I/O error";
    case VTE_ERR_FORMAT: return "format error";
    case VTE_ERR_OPENCL: return "OpenCL error";
    case VTE_ERR_CLBLAST: return "CLBlast error";
    case VTE_ERR_OUT_OF_MEMORY: return "out of memory";
    case VTE_ERR_NO_DEVICE: return "no device";
    case VTE_ERR_UNSUPPORTED: return "unsupported";
    case VTE_ERR_SELF_CHECK: return "self-check failed";
    }
    return "unknown error";
}

const char *vte_version(void) { return VTE_VERSION_STRING; }
