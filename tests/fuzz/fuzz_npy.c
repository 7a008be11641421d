/* libFuzzer harness: the .npy reader (vte_npy_read), and for every float array it accepts, a round trip through
 * the writer the tool saves maps with (vte_npy_write_f32), read back and compared. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fuzz_common.h"
#include "util/npy.h"

static char copy_path[4200];

static void fail(const char *what) {
    fprintf(stderr, "fuzz_npy: %s\n", what);
    abort();
}

static int is_zeroed(const vte_npy *npy) {
    static const vte_npy zero;
    return npy->data == NULL && npy->count == 0 && npy->rank == 0 &&
           memcmp(npy->shape, zero.shape, sizeof zero.shape) == 0;
}

static void round_trip(const vte_npy *npy) {
    vte_error err = {0};
    vte_status s = vte_npy_write_f32(copy_path, npy->data, npy->rank, npy->shape, &err);
    if (s != VTE_OK) {
        /* Shapes whose text does not fit the writer's header are refused; nothing else may fail. */
        vte_fuzz_check_failure(s, &err);
        if (s != VTE_ERR_INVALID_ARGUMENT) fail("the writer failed on an array the reader accepted");
        return;
    }
    vte_npy back;
    s = vte_npy_read(copy_path, &back, &err);
    unlink(copy_path);
    if (s != VTE_OK) {
        fprintf(stderr, "fuzz_npy: %s\n", err.message);
        fail("the reader refused what the writer wrote");
    }
    if (back.dtype != VTE_NPY_F32 || back.rank != npy->rank || back.count != npy->count ||
        memcmp(back.shape, npy->shape, sizeof back.shape) != 0 ||
        (npy->count && memcmp(back.data, npy->data, npy->count * sizeof(float)) != 0))
        fail("the round trip changed the array");
    vte_npy_free(&back);
}

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc;
    (void)argv;
    vte_fuzz_setup("x.npy");
    snprintf(copy_path, sizeof copy_path, "%s/copy.npy", vte_fuzz_dir());
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const char *path = vte_fuzz_write(data, size);
    vte_error err = {0};
    vte_npy npy;
    memset(&npy, 0x5A, sizeof npy);
    vte_status s = vte_npy_read(path, &npy, &err);
    if (s != VTE_OK) {
        vte_fuzz_check_failure(s, &err);
        if (!is_zeroed(&npy)) fail("the array is not zeroed after a failure");
        return 0;
    }
    if (npy.rank < 0 || npy.rank > VTE_NPY_MAX_RANK) fail("rank out of range");
    size_t count = 1;
    for (int i = 0; i < npy.rank; i++) {
        if (npy.shape[i] < 0) fail("negative dimension");
        count *= (size_t)npy.shape[i];
    }
    if (count != npy.count) fail("count is not the product of the shape");
    if (!npy.data) fail("no data");
    size_t item = npy.dtype == VTE_NPY_F32 ? sizeof(float) : 1;
    vte_fuzz_touch(npy.data, npy.count * item);
    if (npy.dtype == VTE_NPY_F32) round_trip(&npy);
    vte_npy_free(&npy);
    if (!is_zeroed(&npy)) fail("vte_npy_free does not zero the array");
    return 0;
}
