/* .npy reading and atomic writing. */
#include <criterion/criterion.h>
#include <dirent.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "test_support.h"
#include "util/npy.h"


/* Writes a hand-made .npy: version 1.0 prefix, the header text padded to a multiple of 64 bytes, then data. */
static const char *write_npy_v(int major, const char *dict, const void *data, size_t n) {
    unsigned char buf[1024 + 4096];
    size_t dl = strlen(dict);
    size_t prefix = major == 1 ? 10 : 12;
    size_t total = (prefix + dl + 1 + 63) / 64 * 64;
    cr_assert(total + n <= sizeof buf);
    memcpy(buf, "\x93NUMPY", 6);
    buf[6] = (unsigned char)major;
    buf[7] = 0;
    size_t hl = total - prefix;
    for (size_t i = 0; i < prefix - 8; i++) buf[8 + i] = (unsigned char)(hl >> (8 * i));
    memcpy(buf + prefix, dict, dl);
    memset(buf + prefix + dl, ' ', total - prefix - dl - 1);
    buf[total - 1] = '\n';
    if (n) memcpy(buf + total, data, n);
    const char *path = vte_test_scratch_file("a.npy");
    FILE *f = fopen(path, "wb");
    cr_assert_not_null(f);
    cr_assert_eq(fwrite(buf, 1, total + n, f), total + n);
    fclose(f);
    return path;
}

static const char *write_npy(const char *dict, const void *data, size_t n) { return write_npy_v(1, dict, data, n); }

static void expect_read_error(const char *path, vte_status code, const char *needle) {
    vte_npy a;
    vte_error err = {0};
    cr_assert_eq(vte_npy_read(path, &a, &err), code, "expected code %d for '%s': %s", code, needle, err.message);
    cr_assert_not_null(strstr(err.message, needle), "message '%s' lacks '%s'", err.message, needle);
    cr_assert_not_null(strstr(err.message, path), "message '%s' lacks the path", err.message);
    cr_assert_null(a.data);
}


Test(npy, round_trip) {
    float x[2 * 3 * 5];
    vte_test_fill_uniform(x, 30, -3.0f, 3.0f, 7);
    x[0] = INFINITY;
    x[1] = -0.0f;
    const int64_t shape[3] = {2, 3, 5};
    const char *path = vte_test_scratch_file("out.npy");
    char saved[8192];
    snprintf(saved, sizeof saved, "%s", path);
    vte_error err = {0};
    cr_assert_eq(vte_npy_write_f32(saved, x, 3, shape, &err), VTE_OK, "%s", err.message);

    /* The header is numpy's: version 1.0, data aligned to 64 bytes, a standard dict. */
    FILE *f = fopen(saved, "rb");
    cr_assert_not_null(f);
    unsigned char head[128];
    cr_assert_eq(fread(head, 1, 128, f), 128);
    fclose(f);
    cr_assert_eq(memcmp(head, "\x93NUMPY\x01\x00", 8), 0);
    size_t hl = head[8] | (size_t)head[9] << 8;
    cr_assert_eq((10 + hl) % 64, 0);
    cr_assert_eq(memcmp(head + 10, "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3, 5), }", 62), 0);
    cr_assert_eq(head[10 + hl - 1], '\n');

    vte_npy a;
    cr_assert_eq(vte_npy_read(saved, &a, &err), VTE_OK, "%s", err.message);
    cr_assert_eq(a.dtype, VTE_NPY_F32);
    cr_assert_eq(a.rank, 3);
    cr_assert_eq(a.shape[0], 2);
    cr_assert_eq(a.shape[1], 3);
    cr_assert_eq(a.shape[2], 5);
    cr_assert_eq(a.count, 30);
    cr_assert_eq(memcmp(a.data, x, sizeof x), 0);
    vte_npy_free(&a);
    cr_assert_null(a.data);

    /* rank 0 and rank 1 shapes: () and (n,) */
    float one = 2.5f;
    cr_assert_eq(vte_npy_write_f32(saved, &one, 0, NULL, &err), VTE_OK, "%s", err.message);
    cr_assert_eq(vte_npy_read(saved, &a, &err), VTE_OK, "%s", err.message);
    cr_assert_eq(a.rank, 0);
    cr_assert_eq(a.count, 1);
    cr_assert_eq(((float *)a.data)[0], 2.5f);
    vte_npy_free(&a);
    const int64_t s1[1] = {4};
    cr_assert_eq(vte_npy_write_f32(saved, x, 1, s1, &err), VTE_OK, "%s", err.message);
    cr_assert_eq(vte_npy_read(saved, &a, &err), VTE_OK, "%s", err.message);
    cr_assert_eq(a.rank, 1);
    cr_assert_eq(a.shape[0], 4);
    cr_assert_eq(memcmp(a.data, x, 16), 0);
    vte_npy_free(&a);

    /* no temporary file is left behind */
    DIR *d = opendir(vte_test_scratch_dir());
    struct dirent *e;
    int files = 0;
    while ((e = readdir(d)))
        if (e->d_name[0] != '.') files++;
    closedir(d);
    cr_assert_eq(files, 1);
}

Test(npy, write_failure_leaves_nothing) {
    float x[2] = {1, 2};
    const int64_t shape[1] = {2};
    vte_error err = {0};
    const char *path = "/nonexistent-dir/out.npy";
    cr_assert_eq(vte_npy_write_f32(path, x, 1, shape, &err), VTE_ERR_IO);
    cr_assert_not_null(strstr(err.message, "/nonexistent-dir/out.npy: cannot create"), "%s", err.message);
    struct stat sb;
    cr_assert_neq(stat(path, &sb), 0);
    /* a path that is a directory: the rename fails and the temporary is removed */
    vte_test_scratch_file("x");
    char dir[4200];
    snprintf(dir, sizeof dir, "%s/sub", vte_test_scratch_dir());
    cr_assert_eq(mkdir(dir, 0777), 0);
    char inner[4300];
    snprintf(inner, sizeof inner, "%s/f", dir);
    FILE *f = fopen(inner, "wb");
    fclose(f);
    cr_assert_eq(vte_npy_write_f32(dir, x, 1, shape, &err), VTE_ERR_IO);
    cr_assert_not_null(strstr(err.message, "cannot rename"), "%s", err.message);
    DIR *d = opendir(vte_test_scratch_dir());
    struct dirent *e;
    while ((e = readdir(d))) cr_assert_null(strstr(e->d_name, ".tmp-"), "left %s behind", e->d_name);
    closedir(d);
    unlink(inner);
    rmdir(dir);
    cr_assert_eq(vte_npy_write_f32(vte_test_scratch_file("y.npy"), x, -1, shape, &err), VTE_ERR_INVALID_ARGUMENT);
}

Test(npy, hand_written_headers) {
    const float v[3] = {1.5f, -2.0f, 1e-3f};
    /* numpy's own spelling */
    const char *path = write_npy("{'descr': '<f4', 'fortran_order': False, 'shape': (3,), }", v, sizeof v);
    vte_npy a;
    vte_error err = {0};
    cr_assert_eq(vte_npy_read(path, &a, &err), VTE_OK, "%s", err.message);
    cr_assert_eq(a.rank, 1);
    cr_assert_eq(a.count, 3);
    cr_assert_eq(memcmp(a.data, v, sizeof v), 0);
    vte_npy_free(&a);

    /* other key order, double quotes, no trailing comma, Python 2 longs, version 2.0 */
    path = write_npy_v(2, "{\"shape\": (1L, 3L), \"fortran_order\": False, \"descr\": \"<f4\"}", v, sizeof v);
    cr_assert_eq(vte_npy_read(path, &a, &err), VTE_OK, "%s", err.message);
    cr_assert_eq(a.rank, 2);
    cr_assert_eq(a.shape[0], 1);
    cr_assert_eq(a.shape[1], 3);
    vte_npy_free(&a);

    /* uint8 */
    const unsigned char u[4] = {0, 1, 128, 255};
    path = write_npy("{'descr': '|u1', 'fortran_order': False, 'shape': (2, 2), }", u, sizeof u);
    cr_assert_eq(vte_npy_read(path, &a, &err), VTE_OK, "%s", err.message);
    cr_assert_eq(a.dtype, VTE_NPY_U8);
    cr_assert_eq(a.count, 4);
    cr_assert_eq(memcmp(a.data, u, 4), 0);
    vte_npy_free(&a);

    /* float64 is converted to float32 */
    const double d[2] = {0.1, -1e300};
    path = write_npy("{'descr': '<f8', 'fortran_order': False, 'shape': (2,), }", d, sizeof d);
    cr_assert_eq(vte_npy_read(path, &a, &err), VTE_OK, "%s", err.message);
    cr_assert_eq(a.dtype, VTE_NPY_F32);
    cr_assert_eq(((float *)a.data)[0], 0.1f);
    cr_assert(isinf(((float *)a.data)[1]));
    vte_npy_free(&a);

    /* empty array */
    path = write_npy("{'descr': '<f4', 'fortran_order': False, 'shape': (0, 4), }", NULL, 0);
    cr_assert_eq(vte_npy_read(path, &a, &err), VTE_OK, "%s", err.message);
    cr_assert_eq(a.count, 0);
    vte_npy_free(&a);
}

Test(npy, fortran_order_rejected) {
    const float v[4] = {0};
    expect_read_error(write_npy("{'descr': '<f4', 'fortran_order': True, 'shape': (2, 2), }", v, sizeof v),
                      VTE_ERR_UNSUPPORTED, "Fortran order");
}

Test(npy, unsupported_dtype) {
    const float v[4] = {0};
    expect_read_error(write_npy("{'descr': '<i4', 'fortran_order': False, 'shape': (4,), }", v, sizeof v),
                      VTE_ERR_UNSUPPORTED, ".npy dtype '<i4' is not supported");
    expect_read_error(write_npy("{'descr': '>f4', 'fortran_order': False, 'shape': (4,), }", v, sizeof v),
                      VTE_ERR_UNSUPPORTED, ".npy dtype '>f4' is not supported");
    expect_read_error(write_npy("{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (4,), }", v, sizeof v),
                      VTE_ERR_UNSUPPORTED, "structured arrays are not supported");
}

Test(npy, truncated_data) {
    const float v[5] = {0};
    expect_read_error(write_npy("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }", v, sizeof v),
                      VTE_ERR_FORMAT, "truncated: the data is 20 bytes, but shape (2, 3) of '<f4' needs 24 bytes");
    expect_read_error(write_npy("{'descr': '<f4', 'fortran_order': False, 'shape': (1,), }", v, sizeof v),
                      VTE_ERR_FORMAT, "16 unexpected bytes after the 4 bytes of array data");
}

Test(npy, malformed_headers) {
    const float v[4] = {0};
    expect_read_error(write_npy("{'descr': '<f4', 'shape': (4,), }", v, sizeof v), VTE_ERR_FORMAT,
                      ".npy header lacks 'fortran_order'");
    expect_read_error(write_npy("{'descr': '<f4', 'fortran_order': False, 'shape': (4), }", v, sizeof v),
                      VTE_ERR_FORMAT, "'shape' is not a tuple of non-negative integers");
    expect_read_error(write_npy("{'descr': '<f4', 'fortran_order': False, 'shape': (-4,), }", v, sizeof v),
                      VTE_ERR_FORMAT, "'shape' is not a tuple");
    expect_read_error(write_npy("{'descr': '<f4', 'fortran_order': 0, 'shape': (4,), }", v, sizeof v), VTE_ERR_FORMAT,
                      "'fortran_order' is not True or False");
    expect_read_error(write_npy("{'descr': '<f4', 'fortran_order': False, 'shape': (4,), 'x': 1}", v, sizeof v),
                      VTE_ERR_FORMAT, "unexpected key 'x'");
    expect_read_error(write_npy("{'descr': '<f4', 'descr': '<f4', 'fortran_order': False, 'shape': (4,)}", v, sizeof v),
                      VTE_ERR_FORMAT, "'descr' twice");
    expect_read_error(write_npy("{'descr': '<f4', 'fortran_order': False, 'shape': (4,)} junk", v, sizeof v),
                      VTE_ERR_FORMAT, "unexpected text after the .npy header dict");
    expect_read_error(write_npy("{'descr': '<f4', 'fortran_order': False, 'shape': (1,1,1,1,1,1,1,1,1), }", v, 4),
                      VTE_ERR_UNSUPPORTED, "more than 8 dimensions");
    expect_read_error(write_npy_v(4, "{}", NULL, 0), VTE_ERR_UNSUPPORTED, "format version 4.0 is not supported");

    const char *path = vte_test_scratch_file("short.npy");
    FILE *f = fopen(path, "wb");
    fwrite("\x93NUMPY\x01\x00\xff\x00{", 1, 11, f);
    fclose(f);
    expect_read_error(path, VTE_ERR_FORMAT, "header length 255 runs past the end of the file (11 bytes)");
    f = fopen(path, "wb");
    fwrite("PK\x03\x04", 1, 4, f);
    fclose(f);
    expect_read_error(path, VTE_ERR_FORMAT, "not a .npy file");
}

Test(npy, missing_file) {
    vte_npy a;
    vte_error err = {0};
    cr_assert_eq(vte_npy_read("/nonexistent/a.npy", &a, &err), VTE_ERR_IO);
    cr_assert_not_null(strstr(err.message, "/nonexistent/a.npy: cannot open"), "%s", err.message);
}
