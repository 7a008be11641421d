/* libFuzzer harness: the safetensors reader as the model loader uses it (src/model/model.c): open and validate
 * the header, then walk the tensor table, look tensors up by name and convert the small float ones. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_common.h"
#include "model/safetensors.h"

/* Tensors up to this many elements are converted (inputs are small; this bounds the work per input anyway). */
#define CONVERT_LIMIT (1u << 16)

static void fail(const char *what, const vte_tensor_info *t) {
    fprintf(stderr, "fuzz_safetensors: %s (tensor '%s')\n", what, t ? t->name : "?");
    abort();
}

static void check_tensor(const vte_safetensors *st, const vte_tensor_info *t, size_t expected_offset) {
    if (!t || !t->name || !t->dtype_name) fail("vte_safetensors_at returned an incomplete entry", t);
    if (t->rank < 0 || t->rank > VTE_SAFETENSORS_MAX_RANK) fail("rank out of range", t);
    /* The table is sorted by offset and validated to cover the data without holes or overlaps. */
    if (t->data_offset != expected_offset) fail("tensor does not start where the previous one ends", t);
    const vte_tensor_info *found = vte_safetensors_find(st, t->name);
    if (!found || strcmp(found->name, t->name) != 0) fail("vte_safetensors_find does not find a listed tensor", t);

    size_t count = vte_tensor_count(t);
    int bytes = t->dtype == VTE_DTYPE_F32 ? 4 : t->dtype == VTE_DTYPE_OTHER ? 0 : 2;
    if (bytes && count * (size_t)bytes != t->nbytes) fail("byte size does not match shape and dtype", t);
    const void *p = vte_safetensors_data(st, t);
    if (t->nbytes && !p) fail("no data pointer", t);
    vte_fuzz_touch(p, t->nbytes);

    char shape_text[16]; /* short on purpose: vte_shape_format truncates */
    vte_shape_format(shape_text, sizeof shape_text, t->rank, t->shape);
    if (!memchr(shape_text, '\0', sizeof shape_text)) fail("vte_shape_format left no terminator", t);

    vte_error err = {0};
    if (t->dtype == VTE_DTYPE_OTHER) {
        float dummy[1]; /* nothing may be written for a dtype that cannot be converted */
        vte_status s = vte_safetensors_convert_f32(st, t, count ? dummy : NULL, &err);
        if (s != VTE_ERR_UNSUPPORTED) fail("a dtype that cannot be converted was not refused as such", t);
        vte_fuzz_check_failure(s, &err);
        return;
    }
    if (count > CONVERT_LIMIT) return;
    float *dst = malloc((count ? count : 1) * sizeof *dst);
    if (!dst) abort();
    vte_status s = vte_safetensors_convert_f32(st, t, dst, &err);
    if (s != VTE_OK) fail("a float tensor did not convert", t);
    /* The loader's path: by name, with the shape it expects. */
    s = vte_safetensors_read_f32(st, t->name, t->rank, t->shape, dst, &err);
    if (s != VTE_OK) fail("vte_safetensors_read_f32 refused the tensor's own shape", t);
    /* And with another shape (one more dimension of 1): a shape mismatch, before anything is written. */
    if (t->rank < VTE_SAFETENSORS_MAX_RANK) {
        int64_t other[VTE_SAFETENSORS_MAX_RANK];
        memcpy(other, t->shape, sizeof other);
        other[t->rank] = 1;
        s = vte_safetensors_read_f32(st, t->name, t->rank + 1, other, dst, &err);
        if (s != VTE_ERR_FORMAT) fail("vte_safetensors_read_f32 accepted another shape", t);
        vte_fuzz_check_failure(s, &err);
    }
    free(dst);
}

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc;
    (void)argv;
    vte_fuzz_setup("model.safetensors");
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const char *path = vte_fuzz_write(data, size);
    vte_error err = {0};
    vte_safetensors *st = vte_safetensors_open(path, &err);
    if (!st) {
        vte_fuzz_check_failure(err.code, &err);
        return 0;
    }
    size_t n = vte_safetensors_count(st);
    size_t offset = 0;
    for (size_t i = 0; i < n; i++) {
        const vte_tensor_info *t = vte_safetensors_at(st, i);
        check_tensor(st, t, offset);
        offset = t->data_offset + t->nbytes;
    }
    if (vte_safetensors_at(st, n)) fail("vte_safetensors_at past the end returned a tensor", NULL);
    const char *format = vte_safetensors_metadata(st, "format");
    if (format) vte_fuzz_touch(format, strlen(format));
    static const char missing[] = "vte-fuzz: no such tensor";
    if (!vte_safetensors_find(st, missing)) {
        float unused;
        vte_status s = vte_safetensors_read_f32(st, missing, 0, NULL, &unused, &err);
        if (s != VTE_ERR_FORMAT) fail("a missing tensor was not reported as missing", NULL);
        vte_fuzz_check_failure(s, &err);
    }
    vte_safetensors_close(st);
    return 0;
}
