#include "fuzz_common.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char fuzz_dir[4096];
static char fuzz_path[4096 + 256];

static void remove_files(void) {
    if (!fuzz_dir[0]) return;
    unlink(fuzz_path);
    rmdir(fuzz_dir); /* fails, harmlessly, when a harness left another file there */
}

void vte_fuzz_setup(const char *name) {
    const char *tmp = getenv("TMPDIR");
    /* No fixed system path: tools/fuzz.sh sets TMPDIR to a folder of the build tree. */
    int n = snprintf(fuzz_dir, sizeof fuzz_dir, "%s/vte-fuzz-XXXXXX", tmp && *tmp ? tmp : ".");
    if (n < 0 || (size_t)n >= sizeof fuzz_dir || !mkdtemp(fuzz_dir)) {
        fprintf(stderr, "fuzz: cannot make a temporary folder from %s: %s\n", fuzz_dir, strerror(errno));
        abort();
    }
    snprintf(fuzz_path, sizeof fuzz_path, "%s/%s", fuzz_dir, name);
    atexit(remove_files);
}

const char *vte_fuzz_dir(void) { return fuzz_dir; }

const char *vte_fuzz_write(const uint8_t *data, size_t size) {
    int fd = open(fuzz_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (fd < 0) {
        fprintf(stderr, "fuzz: cannot create %s: %s\n", fuzz_path, strerror(errno));
        abort();
    }
    while (size > 0) {
        ssize_t w = write(fd, data, size);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) {
            fprintf(stderr, "fuzz: cannot write %s: %s\n", fuzz_path, strerror(errno));
            abort();
        }
        data += w;
        size -= (size_t)w;
    }
    if (close(fd) != 0) {
        fprintf(stderr, "fuzz: cannot close %s: %s\n", fuzz_path, strerror(errno));
        abort();
    }
    return fuzz_path;
}

void vte_fuzz_check_failure(vte_status status, const vte_error *err) {
    if (status == VTE_OK) {
        fprintf(stderr, "fuzz: a call failed but returned VTE_OK\n");
        abort();
    }
    if (err->code != status) {
        fprintf(stderr, "fuzz: a call returned %s but its error says %s\n", vte_status_name(status),
                vte_status_name(err->code));
        abort();
    }
    if (!memchr(err->message, '\0', sizeof err->message) || !err->message[0]) {
        fprintf(stderr, "fuzz: a failure (%s) came with an empty or unterminated message\n", vte_status_name(status));
        abort();
    }
}

void vte_fuzz_touch(const void *data, size_t size) {
    const volatile unsigned char *p = data;
    unsigned char sum = 0;
    for (size_t i = 0; i < size; i++) sum ^= p[i];
    (void)sum;
}
