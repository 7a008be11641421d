/* safetensors reader: a valid file read back exactly, exact half/bfloat16 conversion, and one hand-built
 * broken file per validation rule, each checked for its status code, a distinctive part of its message and
 * the path. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "model/safetensors.h"
#include "test_support.h"


/* Writes raw bytes as model.safetensors in a fresh directory; the path stays valid until the next write. */
static const char *write_raw(const void *bytes, size_t n) {
    return vte_test_write_temp("model.safetensors", bytes, n);
}

/* 8-byte little-endian length + header (as given, including any padding) + data. */
static const char *write_st_len(uint64_t declared_len, const char *header, const void *data, size_t data_len) {
    size_t hl = strlen(header);
    unsigned char *buf = malloc(8 + hl + data_len + 1);
    cr_assert_not_null(buf);
    for (int i = 0; i < 8; i++) buf[i] = (unsigned char)(declared_len >> (8 * i));
    memcpy(buf + 8, header, hl);
    if (data_len) memcpy(buf + 8 + hl, data, data_len);
    const char *p = write_raw(buf, 8 + hl + data_len);
    free(buf);
    return p;
}

static const char *write_st(const char *header, const void *data, size_t data_len) {
    return write_st_len(strlen(header), header, data, data_len);
}

static unsigned char zeros[4096];

/* Asserts that opening fails with `code` and a message holding `needle` and the path. */
static void expect_open_error(const char *path, vte_status code, const char *needle) {
    vte_error err = {0};
    vte_safetensors *st = vte_safetensors_open(path, &err);
    cr_assert_null(st, "opened a broken file; expected: %s", needle);
    cr_assert_eq(err.code, code, "code %d, expected %d: %s", err.code, code, err.message);
    cr_assert_not_null(strstr(err.message, needle), "message '%s' lacks '%s'", err.message, needle);
    cr_assert_not_null(strstr(err.message, path), "message '%s' lacks the path", err.message);
}

static void put_f32(unsigned char *p, float f) {
    uint32_t b;
    memcpy(&b, &f, 4);
    for (int i = 0; i < 4; i++) p[i] = (unsigned char)(b >> (8 * i));
}

static void put_u16(unsigned char *p, uint16_t v) {
    p[0] = (unsigned char)v;
    p[1] = (unsigned char)(v >> 8);
}



Test(safetensors, valid_file_reads_back_exactly) {
    /* Data layout (offsets in the buffer): a F32 [2,3] [0,24); b F16 [6] [24,36); c BF16 [2,2] [36,44);
     * d I32 [2] [44,52); e F32 [] (scalar) [52,56); z F32 [0,5] [56,56). Header entries out of order,
     * padded with spaces. */
    unsigned char data[56];
    const float a[6] = {1.0f, -2.5f, 3.25f, 1e-30f, -0.0f, 65504.0f};
    for (int i = 0; i < 6; i++) put_f32(data + 4 * i, a[i]);
    const uint16_t b[6] = {0x3c00 /* 1 */,   0xc000 /* -2 */, 0x0001 /* 2^-24 */,
                           0x7c00 /* inf */, 0x8000 /* -0 */, 0x7bff /* 65504 */};
    for (int i = 0; i < 6; i++) put_u16(data + 24 + 2 * i, b[i]);
    const uint16_t c[4] = {0x3f80 /* 1 */, 0xc040 /* -3 */, 0x0001 /* tiny subnormal */, 0xff80 /* -inf */};
    for (int i = 0; i < 4; i++) put_u16(data + 36 + 2 * i, c[i]);
    memset(data + 44, 7, 8);
    put_f32(data + 52, 42.0f);
    const char *header = "{\"c\":{\"dtype\":\"BF16\",\"shape\":[2,2],\"data_offsets\":[36,44]},"
                         "\"__metadata__\":{\"format\":\"pt\"},"
                         "\"z\":{\"dtype\":\"F32\",\"shape\":[0,5],\"data_offsets\":[56,56]},"
                         "\"a\":{\"dtype\":\"F32\",\"shape\":[2,3],\"data_offsets\":[0,24]},"
                         "\"e\":{\"dtype\":\"F32\",\"shape\":[],\"data_offsets\":[52,56]},"
                         "\"d\":{\"dtype\":\"I32\",\"shape\":[2],\"data_offsets\":[44,52]},"
                         "\"b\":{\"dtype\":\"F16\",\"shape\":[6],\"data_offsets\":[24,36]}}      ";
    const char *path = write_st(header, data, sizeof data);

    vte_error err = {0};
    vte_safetensors *st = vte_safetensors_open(path, &err);
    cr_assert_not_null(st, "%s", err.message);
    cr_assert_eq(vte_safetensors_count(st), 6);
    const char *order[] = {"a", "b", "c", "d", "e", "z"};
    for (size_t i = 0; i < 6; i++) cr_assert_str_eq(vte_safetensors_at(st, i)->name, order[i]);
    cr_assert_null(vte_safetensors_at(st, 6));
    cr_assert_str_eq(vte_safetensors_metadata(st, "format"), "pt");
    cr_assert_null(vte_safetensors_metadata(st, "other"));
    cr_assert_str_eq(vte_safetensors_path(st), path);
    cr_assert_null(vte_safetensors_find(st, "__metadata__"));
    cr_assert_null(vte_safetensors_find(st, "y"));

    const vte_tensor_info *t = vte_safetensors_find(st, "d");
    cr_assert_not_null(t);
    cr_assert_eq(t->dtype, VTE_DTYPE_OTHER);
    cr_assert_str_eq(t->dtype_name, "I32");
    cr_assert_eq(t->rank, 1);
    cr_assert_eq(t->shape[0], 2);
    cr_assert_eq(t->data_offset, 44);
    cr_assert_eq(t->nbytes, 8);
    cr_assert_eq(memcmp(vte_safetensors_data(st, t), data + 44, 8), 0);

    float out[6];
    const int64_t sa[2] = {2, 3};
    cr_assert_eq(vte_safetensors_read_f32(st, "a", 2, sa, out, &err), VTE_OK, "%s", err.message);
    cr_assert_eq(memcmp(out, a, sizeof a), 0, "F32 values differ");

    const int64_t sb[1] = {6};
    cr_assert_eq(vte_safetensors_read_f32(st, "b", 1, sb, out, &err), VTE_OK, "%s", err.message);
    cr_assert_eq(out[0], 1.0f);
    cr_assert_eq(out[1], -2.0f);
    cr_assert_eq(out[2], ldexpf(1.0f, -24));
    cr_assert(isinf(out[3]) && out[3] > 0);
    cr_assert(out[4] == 0.0f && signbit(out[4]));
    cr_assert_eq(out[5], 65504.0f);

    const int64_t sc[2] = {2, 2};
    cr_assert_eq(vte_safetensors_read_f32(st, "c", 2, sc, out, &err), VTE_OK, "%s", err.message);
    cr_assert_eq(out[0], 1.0f);
    cr_assert_eq(out[1], -3.0f);
    cr_assert_eq(out[2], ldexpf(1.0f, -133));
    cr_assert(isinf(out[3]) && out[3] < 0);

    cr_assert_eq(vte_safetensors_read_f32(st, "e", 0, NULL, out, &err), VTE_OK, "%s", err.message);
    cr_assert_eq(out[0], 42.0f);
    const int64_t sz[2] = {0, 5};
    cr_assert_eq(vte_safetensors_read_f32(st, "z", 2, sz, NULL, &err), VTE_OK, "%s", err.message);
    vte_safetensors_close(st);
}

Test(safetensors, empty_header_is_valid) {
    const char *path = write_st("{}      ", NULL, 0);
    vte_error err = {0};
    vte_safetensors *st = vte_safetensors_open(path, &err);
    cr_assert_not_null(st, "%s", err.message);
    cr_assert_eq(vte_safetensors_count(st), 0);
    cr_assert_null(vte_safetensors_find(st, "a"));
    vte_safetensors_close(st);
}

Test(safetensors, f16_conversion_is_exact_for_every_pattern) {
    for (uint32_t h = 0; h < 65536; h++) {
        int sign = h >> 15, exp = (h >> 10) & 31, mant = h & 1023;
        float got = vte_f16_to_f32((uint16_t)h);
        if (exp == 31 && mant) {
            cr_assert(isnan(got), "0x%04x should be NaN", h);
            uint32_t bits;
            memcpy(&bits, &got, 4);
            cr_assert_eq(bits, ((uint32_t)sign << 31) | 0x7f800000u | ((uint32_t)mant << 13), "NaN payload 0x%04x", h);
            continue;
        }
        double want = exp == 31 ? INFINITY : exp == 0 ? ldexp(mant, -24) : ldexp(1024 + mant, exp - 25);
        if (sign) want = -want;
        cr_assert(got == (float)want && !signbit(got) == !signbit(want), "0x%04x: got %.10g want %.10g", h, got, want);
    }
}

Test(safetensors, bf16_conversion) {
    cr_assert_eq(vte_bf16_to_f32(0x3f80), 1.0f);
    cr_assert_eq(vte_bf16_to_f32(0x4049), 3.140625f);
    cr_assert_eq(vte_bf16_to_f32(0x0080), ldexpf(1.0f, -126));
    cr_assert(isnan(vte_bf16_to_f32(0x7fc0)));
    cr_assert(isinf(vte_bf16_to_f32(0x7f80)));
    cr_assert(signbit(vte_bf16_to_f32(0x8000)));
}

Test(safetensors, missing_file) {
    vte_error err = {0};
    cr_assert_null(vte_safetensors_open("/nonexistent/dir/model.safetensors", &err));
    cr_assert_eq(err.code, VTE_ERR_IO);
    cr_assert_not_null(strstr(err.message, "/nonexistent/dir/model.safetensors: cannot open"), "%s", err.message);
}

Test(safetensors, file_shorter_than_8_bytes) {
    expect_open_error(write_raw("", 0), VTE_ERR_FORMAT, "file is 0 bytes, too short");
    expect_open_error(write_raw("\x10\0\0\0\0", 5), VTE_ERR_FORMAT, "file is 5 bytes, too short");
}

Test(safetensors, header_length_past_end_of_file) {
    char header[492];
    memset(header, ' ', sizeof header - 1);
    header[0] = '{';
    header[1] = '}';
    header[sizeof header - 1] = '\0';
    expect_open_error(write_st_len(1234567, header, NULL, 0), VTE_ERR_FORMAT,
                      "header length 1234567 runs past the end of the file (499 bytes)");
}

Test(safetensors, header_length_over_limit) {
    expect_open_error(write_st_len(100000001ull, "{}", NULL, 0), VTE_ERR_FORMAT,
                      "header length 100000001 exceeds the limit of 100000000 bytes");
    expect_open_error(write_st_len(UINT64_MAX, "{}", NULL, 0), VTE_ERR_FORMAT, "exceeds the limit");
}

Test(safetensors, invalid_json) {
    expect_open_error(write_st("{\"a\": {\"dtype\": \"F32\",}}", NULL, 0), VTE_ERR_FORMAT,
                      "invalid JSON header at line 1 column");
    expect_open_error(write_st("{\"a\": 1} x", NULL, 0), VTE_ERR_FORMAT, "invalid JSON header");
    /* NUL padding is not JSON whitespace */
    expect_open_error(write_st_len(4, "{}", "\0\0", 2), VTE_ERR_FORMAT, "invalid JSON header");
}

Test(safetensors, invalid_utf8) {
    expect_open_error(write_st("{\"\xff\": 1}", NULL, 0), VTE_ERR_FORMAT, "not valid UTF-8");
}

Test(safetensors, json_not_an_object) {
    expect_open_error(write_st("[1, 2]  ", NULL, 0), VTE_ERR_FORMAT, "header does not start with '{'");
    expect_open_error(write_st(" {}", NULL, 0), VTE_ERR_FORMAT, "header does not start with '{'");
    expect_open_error(write_st("", NULL, 0), VTE_ERR_FORMAT, "header does not start with '{'");
}

Test(safetensors, duplicate_keys) {
    expect_open_error(write_st("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
                               "\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}",
                               zeros, 8),
                      VTE_ERR_FORMAT, "duplicate key in the JSON header");
    expect_open_error(
        write_st("{\"a\":{\"dtype\":\"F32\",\"dtype\":\"F16\",\"shape\":[1],\"data_offsets\":[0,4]}}", zeros, 4),
        VTE_ERR_FORMAT, "near '\"dtype\"'");
}

Test(safetensors, entry_not_an_object) {
    expect_open_error(write_st("{\"a\": [1]}", NULL, 0), VTE_ERR_FORMAT,
                      "tensor 'a' is not an object with dtype, shape and data_offsets");
}

Test(safetensors, missing_fields) {
    expect_open_error(write_st("{\"a\":{\"shape\":[1],\"data_offsets\":[0,4]}}", zeros, 4), VTE_ERR_FORMAT,
                      "tensor 'a' has no 'dtype'");
    expect_open_error(write_st("{\"a\":{\"dtype\":\"F32\",\"data_offsets\":[0,4]}}", zeros, 4), VTE_ERR_FORMAT,
                      "tensor 'a' has no 'shape'");
    expect_open_error(write_st("{\"a\":{\"dtype\":\"F32\",\"shape\":[1]}}", zeros, 4), VTE_ERR_FORMAT,
                      "tensor 'a' has no 'data_offsets'");
    expect_open_error(write_st("{\"a\":{\"dtype\":32,\"shape\":[1],\"data_offsets\":[0,4]}}", zeros, 4), VTE_ERR_FORMAT,
                      "'dtype' that is not a string");
    expect_open_error(write_st("{\"a\":{\"dtype\":\"F32\",\"shape\":1,\"data_offsets\":[0,4]}}", zeros, 4),
                      VTE_ERR_FORMAT, "'shape' that is not an array");
    expect_open_error(write_st("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4,8]}}", zeros, 8),
                      VTE_ERR_FORMAT, "'data_offsets' is not an array of 2 integers");
}

Test(safetensors, bad_shape_entries) {
    expect_open_error(write_st("{\"a\":{\"dtype\":\"F32\",\"shape\":[2.5],\"data_offsets\":[0,8]}}", zeros, 8),
                      VTE_ERR_FORMAT, "tensor 'a' shape entry 0 is not a non-negative integer");
    expect_open_error(write_st("{\"a\":{\"dtype\":\"F32\",\"shape\":[2,-1],\"data_offsets\":[0,8]}}", zeros, 8),
                      VTE_ERR_FORMAT, "tensor 'a' shape entry 1 is not a non-negative integer");
    expect_open_error(write_st("{\"a\":{\"dtype\":\"F32\",\"shape\":[\"2\"],\"data_offsets\":[0,8]}}", zeros, 8),
                      VTE_ERR_FORMAT, "shape entry 0 is not a non-negative integer");
    expect_open_error(write_st("{\"a\":{\"dtype\":\"F32\",\"shape\":[4294967296,4294967296,4294967296],"
                               "\"data_offsets\":[0,8]}}",
                               zeros, 8),
                      VTE_ERR_FORMAT, "overflows the element count");
    expect_open_error(
        write_st("{\"a\":{\"dtype\":\"F32\",\"shape\":[1,1,1,1,1,1,1,1,1],\"data_offsets\":[0,4]}}", zeros, 4),
        VTE_ERR_UNSUPPORTED, "tensor 'a' has 9 dimensions; at most 8 are supported");
}

Test(safetensors, bad_offsets) {
    expect_open_error(write_st("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[-8,0]}}", zeros, 8),
                      VTE_ERR_FORMAT, "tensor 'a' data_offsets entry 0 is not a non-negative integer");
    expect_open_error(write_st("{\"a\":{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[8,0]}}", zeros, 8),
                      VTE_ERR_FORMAT, "tensor 'a' data_offsets [8, 0) end before they begin");
}

Test(safetensors, offsets_out_of_range) {
    expect_open_error(write_st("{\"a\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,16]},"
                               "\"b\":{\"dtype\":\"F32\",\"shape\":[250],\"data_offsets\":[16,1016]}}",
                               zeros, 64),
                      VTE_ERR_FORMAT,
                      "tensor 'b' data [16, 1016) runs past the end of the file (the data after the header is 64 "
                      "bytes");
}

Test(safetensors, data_shorter_than_header_says) {
    expect_open_error(write_st("{\"a\":{\"dtype\":\"F32\",\"shape\":[2,3],\"data_offsets\":[0,24]}}", zeros, 20),
                      VTE_ERR_FORMAT, "tensor 'a' data [0, 24) runs past the end of the file");
}

Test(safetensors, overlapping_offsets) {
    expect_open_error(write_st("{\"b\":{\"dtype\":\"F32\",\"shape\":[16],\"data_offsets\":[32,96]},"
                               "\"a\":{\"dtype\":\"F32\",\"shape\":[16],\"data_offsets\":[0,64]}}",
                               zeros, 96),
                      VTE_ERR_FORMAT, "tensor 'a' data [0, 64) overlaps tensor 'b' [32, 96)");
}

Test(safetensors, hole_between_tensors) {
    expect_open_error(write_st("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
                               "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[16,24]}}",
                               zeros, 24),
                      VTE_ERR_FORMAT, "hole in the data: bytes [8, 16) between tensor 'a' and tensor 'b'");
    expect_open_error(write_st("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}", zeros, 12),
                      VTE_ERR_FORMAT, "hole in the data: bytes [0, 4) before tensor 'a'");
}

Test(safetensors, trailing_bytes) {
    expect_open_error(write_st("{\"a\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,16]}}", zeros, 20),
                      VTE_ERR_FORMAT, "4 trailing bytes after the last tensor's data");
    expect_open_error(write_st("{}", zeros, 3), VTE_ERR_FORMAT, "3 trailing bytes");
}

Test(safetensors, unknown_dtype) {
    expect_open_error(write_st("{\"x\":{\"dtype\":\"F7\",\"shape\":[1],\"data_offsets\":[0,4]}}", zeros, 4),
                      VTE_ERR_FORMAT, "tensor 'x' has unknown dtype 'F7'");
}

Test(safetensors, other_known_dtypes_validate) {
    const char *header = "{\"a\":{\"dtype\":\"F64\",\"shape\":[1],\"data_offsets\":[0,8]},"
                         "\"b\":{\"dtype\":\"F8_E4M3\",\"shape\":[3],\"data_offsets\":[8,11]},"
                         "\"c\":{\"dtype\":\"BOOL\",\"shape\":[1],\"data_offsets\":[11,12]},"
                         "\"d\":{\"dtype\":\"F4\",\"shape\":[2,3],\"data_offsets\":[12,15]},"
                         "\"e\":{\"dtype\":\"C64\",\"shape\":[1],\"data_offsets\":[15,23]}}";
    const char *path = write_st(header, zeros, 23);
    vte_error err = {0};
    vte_safetensors *st = vte_safetensors_open(path, &err);
    cr_assert_not_null(st, "%s", err.message);
    cr_assert_eq(vte_safetensors_count(st), 5);
    cr_assert_eq(vte_safetensors_find(st, "d")->nbytes, 3);
    float f;
    const int64_t one[1] = {1};
    cr_assert_eq(vte_safetensors_read_f32(st, "a", 1, one, &f, &err), VTE_ERR_UNSUPPORTED);
    cr_assert_not_null(strstr(err.message, "tensor 'a' has dtype F64, expected a float dtype (F32, F16 or BF16)"), "%s",
                       err.message);
    cr_assert_not_null(strstr(err.message, path));
    vte_safetensors_close(st);
}

Test(safetensors, sub_byte_dtype_needs_whole_bytes) {
    expect_open_error(write_st("{\"a\":{\"dtype\":\"F4\",\"shape\":[3],\"data_offsets\":[0,2]}}", zeros, 2),
                      VTE_ERR_FORMAT, "shape [3] of 4-bit F4 is not a whole number of bytes");
}

Test(safetensors, size_mismatch) {
    expect_open_error(write_st("{\"w\":{\"dtype\":\"F32\",\"shape\":[2,2],\"data_offsets\":[0,12]}}", zeros, 12),
                      VTE_ERR_FORMAT, "tensor 'w' data [0, 12) holds 12 bytes, but shape [2, 2] of F32 needs 16 bytes");
}

Test(safetensors, metadata_must_hold_strings) {
    expect_open_error(write_st("{\"__metadata__\":{\"format\":\"pt\",\"step\":3}}", NULL, 0), VTE_ERR_FORMAT,
                      "'__metadata__' value of 'step' is not a string");
    expect_open_error(write_st("{\"__metadata__\":[\"pt\"]}", NULL, 0), VTE_ERR_FORMAT,
                      "'__metadata__' must be an object of strings");
}

static vte_safetensors *open_small(void) {
    unsigned char data[24];
    for (int i = 0; i < 6; i++) put_f32(data + 4 * i, (float)i);
    const char *path = write_st("{\"w\":{\"dtype\":\"F32\",\"shape\":[2,3],\"data_offsets\":[0,24]}}", data, 24);
    vte_error err = {0};
    vte_safetensors *st = vte_safetensors_open(path, &err);
    cr_assert_not_null(st, "%s", err.message);
    return st;
}

Test(safetensors, missing_tensor) {
    vte_safetensors *st = open_small();
    vte_error err = {0};
    float out[6];
    const int64_t shape[2] = {2, 3};
    cr_assert_eq(vte_safetensors_read_f32(st, "classifier.weight", 2, shape, out, &err), VTE_ERR_FORMAT);
    cr_assert_not_null(strstr(err.message, "tensor 'classifier.weight' not found (expected shape [2, 3])"), "%s",
                       err.message);
    cr_assert_not_null(strstr(err.message, vte_safetensors_path(st)), "%s", err.message);
    vte_safetensors_close(st);
}

Test(safetensors, wrong_shape) {
    vte_safetensors *st = open_small();
    vte_error err = {0};
    float out[6];
    const int64_t other[2] = {3, 2};
    cr_assert_eq(vte_safetensors_read_f32(st, "w", 2, other, out, &err), VTE_ERR_FORMAT);
    cr_assert_not_null(strstr(err.message, "tensor 'w' has shape [2, 3], expected [3, 2]"), "%s", err.message);
    cr_assert_not_null(strstr(err.message, vte_safetensors_path(st)), "%s", err.message);
    const int64_t flat[1] = {6};
    cr_assert_eq(vte_safetensors_read_f32(st, "w", 1, flat, out, &err), VTE_ERR_FORMAT);
    cr_assert_not_null(strstr(err.message, "has shape [2, 3], expected [6]"), "%s", err.message);
    /* the right shape works, values exact */
    const int64_t right[2] = {2, 3};
    cr_assert_eq(vte_safetensors_read_f32(st, "w", 2, right, out, &err), VTE_OK, "%s", err.message);
    for (int i = 0; i < 6; i++) cr_assert_eq(out[i], (float)i);
    vte_safetensors_close(st);
}

Test(safetensors, not_a_regular_file) {
    vte_error err = {0};
    cr_assert_null(vte_safetensors_open("/tmp", &err));
    cr_assert_eq(err.code, VTE_ERR_IO);
    cr_assert_not_null(strstr(err.message, "/tmp: is a directory, not a file"), "%s", err.message);
}
