#include "util/error.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

vte_status vte_error_set(vte_error *err, vte_status code, const char *fmt, ...) {
    if (err) {
        va_list ap;
        va_start(ap, fmt);
        err->code = code;
        vsnprintf(err->message, sizeof err->message, fmt, ap);
        va_end(ap);
    }
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
