/* Atomic file writing, mkdir -p and the byte-order check (util/fileio.h), and the monotonic clock
 * (util/clock.h). */
#include <criterion/criterion.h>
#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "test_support.h"
#include "util/clock.h"
#include "util/error.h" /* VTE_PRINTF */
#include "util/fileio.h"

#define PATH_SIZE 4352

/* printf into a PATH_SIZE buffer; fails the test rather than truncate. */
static void VTE_PRINTF(2, 3) format_path(char *out, const char *fmt, ...) {
    va_list args;
    va_start(args, fmt);
    const int n = vsnprintf(out, PATH_SIZE, fmt, args);
    va_end(args);
    cr_assert(n >= 0 && n < PATH_SIZE, "path too long");
}

/* A fresh temporary directory copied out of the helper's static buffer. */
static void fresh_dir(char *dir) { format_path(dir, "%s", vte_test_temp_dir()); }

static void join(char *out, const char *dir, const char *name) { format_path(out, "%s/%s", dir, name); }

/* How many entries (other than . and ..) `dir` holds. */
static int entry_count(const char *dir) {
    DIR *d = opendir(dir);
    cr_assert_not_null(d, "cannot open %s", dir);
    int n = 0;
    for (struct dirent *e; (e = readdir(d));)
        if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0) n++;
    closedir(d);
    return n;
}

/* Fails the test when `dir` holds a temporary (".<name>.tmp-<pid>"). */
static void assert_no_temporary(const char *dir) {
    DIR *d = opendir(dir);
    cr_assert_not_null(d, "cannot open %s", dir);
    char found[512] = "";
    for (struct dirent *e; (e = readdir(d));)
        if (e->d_name[0] == '.' && strstr(e->d_name, ".tmp-")) snprintf(found, sizeof found, "%s", e->d_name);
    closedir(d);
    cr_assert_str_empty(found, "temporary %s left behind in %s", found, dir);
}

/* The whole of a file, malloc'ed; *size its length. Fails the test when it cannot be read. */
static unsigned char *slurp(const char *path, size_t *size) {
    FILE *f = fopen(path, "rb");
    cr_assert_not_null(f, "cannot open %s: %s", path, strerror(errno));
    cr_assert_eq(fseek(f, 0, SEEK_END), 0);
    const long n = ftell(f);
    cr_assert(n >= 0);
    rewind(f);
    unsigned char *data = malloc((size_t)n + 1);
    cr_assert_not_null(data);
    cr_assert_eq(fread(data, 1, (size_t)n, f), (size_t)n);
    fclose(f);
    *size = (size_t)n;
    return data;
}

static void assert_contents(const char *path, const void *want, size_t want_size) {
    size_t size = 0;
    unsigned char *got = slurp(path, &size);
    cr_assert_eq(size, want_size, "%s holds %zu bytes, expected %zu", path, size, want_size);
    cr_assert(want_size == 0 || memcmp(got, want, want_size) == 0, "%s does not hold the bytes written", path);
    free(got);
}

static void write_plain(const char *path, const char *text) {
    FILE *f = fopen(path, "wb");
    cr_assert_not_null(f, "cannot create %s", path);
    fputs(text, f);
    fclose(f);
}

static int is_folder(const char *path) {
    struct stat info;
    return stat(path, &info) == 0 && S_ISDIR(info.st_mode);
}

static int exists(const char *path) {
    struct stat info;
    return lstat(path, &info) == 0;
}

/* ------------------------------------------------------------------ writing */

Test(fileio, write_lands_complete_with_exact_bytes) {
    char dir[PATH_SIZE], path[PATH_SIZE];
    fresh_dir(dir);
    join(path, dir, "data.bin");
    /* Larger than a stdio buffer, with NUL, 0xff and newline bytes that text handling would change. */
    const size_t n = 70001;
    unsigned char *data = malloc(n);
    cr_assert_not_null(data);
    for (size_t i = 0; i < n; i++) data[i] = (unsigned char)(i * 131u + (i >> 8));
    data[0] = 0;
    data[1] = 0xff;
    data[2] = '\n';
    umask(022); /* this test's process only (Criterion forks one per test) */
    vte_error err = {0};
    cr_assert_eq(vte_write_file_atomic(path, data, n, &err), VTE_OK, "%s", err.message);
    assert_contents(path, data, n);
    struct stat info;
    cr_assert_eq(stat(path, &info), 0);
    cr_assert_eq(info.st_mode & 0777, 0644, "mode %o, expected 0644 (0666 under umask 022)",
                 (unsigned)(info.st_mode & 0777));
    cr_assert_eq(entry_count(dir), 1, "expected only data.bin in %s", dir);
    assert_no_temporary(dir);
    free(data);
}

Test(fileio, empty_write_makes_an_empty_file) {
    char dir[PATH_SIZE], path[PATH_SIZE];
    fresh_dir(dir);
    join(path, dir, "empty");
    vte_error err = {0};
    cr_assert_eq(vte_write_file_atomic(path, NULL, 0, &err), VTE_OK, "%s", err.message);
    assert_contents(path, "", 0);
    cr_assert_eq(entry_count(dir), 1);
}

Test(fileio, stream_is_written_under_the_temporary_name_until_commit) {
    char dir[PATH_SIZE], path[PATH_SIZE], temp[PATH_SIZE];
    fresh_dir(dir);
    join(path, dir, "out.txt");
    format_path(temp, "%s/.out.txt.tmp-%ld", dir, (long)getpid());
    vte_atomic_file file;
    vte_error err = {0};
    cr_assert_eq(vte_atomic_file_open(&file, path, &err), VTE_OK, "%s", err.message);
    cr_assert_not_null(file.stream);
    cr_assert_str_eq(file.path, path);
    cr_assert_str_eq(file.temp_path, temp);
    fprintf(file.stream, "line %d\n", 1);
    fputs("line 2\n", file.stream);
    cr_assert(exists(temp), "the temporary %s does not exist while open", temp);
    cr_assert_not(exists(path), "%s appeared before the commit", path);
    cr_assert_eq(vte_atomic_file_commit(&file, &err), VTE_OK, "%s", err.message);
    cr_assert_null(file.stream);
    cr_assert_null(file.path);
    cr_assert_null(file.temp_path);
    assert_contents(path, "line 1\nline 2\n", 14);
    cr_assert_not(exists(temp), "the temporary %s is left after the commit", temp);
    cr_assert_eq(entry_count(dir), 1);
}

Test(fileio, replaces_an_existing_file) {
    char dir[PATH_SIZE], path[PATH_SIZE];
    fresh_dir(dir);
    join(path, dir, "config.json");
    write_plain(path, "the old contents, longer than the new ones\n");
    vte_error err = {0};
    cr_assert_eq(vte_write_file_atomic(path, "new", 3, &err), VTE_OK, "%s", err.message);
    assert_contents(path, "new", 3);

    /* Through open/commit: the old file stays whole until the commit. */
    vte_atomic_file file;
    cr_assert_eq(vte_atomic_file_open(&file, path, &err), VTE_OK, "%s", err.message);
    fputs("newer contents", file.stream);
    fflush(file.stream);
    assert_contents(path, "new", 3);
    cr_assert_eq(vte_atomic_file_commit(&file, &err), VTE_OK, "%s", err.message);
    assert_contents(path, "newer contents", 14);
    cr_assert_eq(entry_count(dir), 1);
    assert_no_temporary(dir);
}

/* ------------------------------------------------------------------ abort */

Test(fileio, abort_keeps_the_old_file_and_removes_the_temporary) {
    char dir[PATH_SIZE], path[PATH_SIZE];
    fresh_dir(dir);
    join(path, dir, "keep.txt");
    write_plain(path, "keep");
    vte_atomic_file file;
    vte_error err = {0};
    cr_assert_eq(vte_atomic_file_open(&file, path, &err), VTE_OK, "%s", err.message);
    fputs("junk that must never land", file.stream);
    cr_assert_eq(entry_count(dir), 2, "the temporary should exist next to keep.txt while open");
    vte_atomic_file_abort(&file);
    cr_assert_null(file.stream);
    cr_assert_null(file.path);
    cr_assert_null(file.temp_path);
    assert_contents(path, "keep", 4);
    cr_assert_eq(entry_count(dir), 1);
    assert_no_temporary(dir);

    /* A second abort, and one of a zeroed or NULL file, are harmless. */
    vte_atomic_file_abort(&file);
    vte_atomic_file zeroed = {0};
    vte_atomic_file_abort(&zeroed);
    vte_atomic_file_abort(NULL);
    assert_contents(path, "keep", 4);
    cr_assert_eq(entry_count(dir), 1);
}

Test(fileio, abort_without_an_old_file_leaves_nothing) {
    char dir[PATH_SIZE], path[PATH_SIZE];
    fresh_dir(dir);
    join(path, dir, "never.bin");
    vte_atomic_file file;
    vte_error err = {0};
    cr_assert_eq(vte_atomic_file_open(&file, path, &err), VTE_OK, "%s", err.message);
    fputs("x", file.stream);
    vte_atomic_file_abort(&file);
    vte_atomic_file_abort(&file);
    cr_assert_eq(entry_count(dir), 0, "abort left something in %s", dir);
    /* A commit after an abort has nothing to commit. */
    cr_assert_eq(vte_atomic_file_commit(&file, &err), VTE_ERR_INVALID_ARGUMENT);
    cr_assert_eq(entry_count(dir), 0);
}

Test(fileio, discard_removes_the_temporaries_of_open_files_only) {
    /* What the second Ctrl-C does before the program ends: the temporaries of the files being written go, the
     * files already in place and those committed stay. */
    char dir[PATH_SIZE], kept[PATH_SIZE], open_a[PATH_SIZE], open_b[PATH_SIZE], done[PATH_SIZE];
    fresh_dir(dir);
    join(kept, dir, "kept.txt");
    join(open_a, dir, "a.png");
    join(open_b, dir, "summary.json");
    join(done, dir, "done.npy");
    write_plain(kept, "kept");
    vte_atomic_file a, b, c;
    vte_error err = {0};
    cr_assert_eq(vte_atomic_file_open(&a, open_a, &err), VTE_OK, "%s", err.message);
    cr_assert_eq(vte_atomic_file_open(&b, open_b, &err), VTE_OK, "%s", err.message);
    cr_assert_eq(vte_atomic_file_open(&c, done, &err), VTE_OK, "%s", err.message);
    fputs("half a picture", a.stream);
    fputs("{\"images\": [", b.stream);
    fputs("whole", c.stream);
    cr_assert_eq(vte_atomic_file_commit(&c, &err), VTE_OK, "%s", err.message);
    cr_assert_eq(entry_count(dir), 4, "kept.txt, done.npy and two temporaries");
    vte_atomic_files_discard();
    cr_assert_eq(entry_count(dir), 2, "the temporaries should be gone");
    assert_no_temporary(dir);
    assert_contents(kept, "kept", 4);
    assert_contents(done, "whole", 5);
    /* The files' owners may still abort them (the program would have ended; nothing breaks if it does not). */
    vte_atomic_file_abort(&a);
    vte_atomic_file_abort(&b);
    cr_assert_eq(entry_count(dir), 2);
}

/* ------------------------------------------------------------------ failures */

Test(fileio, failed_rename_over_a_folder_reports_the_path) {
    char dir[PATH_SIZE], target[PATH_SIZE], inside[PATH_SIZE];
    fresh_dir(dir);
    join(target, dir, "occupied");
    cr_assert_eq(mkdir(target, 0755), 0);
    join(inside, target, "resident.txt");
    write_plain(inside, "resident");

    vte_error err = {0};
    cr_assert_eq(vte_write_file_atomic(target, "abc", 3, &err), VTE_ERR_IO, "expected VTE_ERR_IO: %s", err.message);
    cr_assert_eq(err.code, VTE_ERR_IO);
    cr_assert_not_null(strstr(err.message, target), "message '%s' does not name %s", err.message, target);
    cr_assert_not_null(strstr(err.message, "rename"), "message '%s' does not say rename", err.message);
    cr_assert(is_folder(target));
    assert_contents(inside, "resident", 8);
    cr_assert_eq(entry_count(dir), 1, "a temporary is left after the failed rename");
    assert_no_temporary(dir);

    /* The same through open/commit: *file is released on failure. */
    vte_atomic_file file;
    vte_error err2 = {0};
    cr_assert_eq(vte_atomic_file_open(&file, target, &err2), VTE_OK, "%s", err2.message);
    fputs("abc", file.stream);
    cr_assert_eq(vte_atomic_file_commit(&file, &err2), VTE_ERR_IO);
    cr_assert_not_null(strstr(err2.message, target), "message '%s' does not name %s", err2.message, target);
    cr_assert_null(file.stream);
    cr_assert_null(file.path);
    cr_assert_null(file.temp_path);
    cr_assert_eq(entry_count(dir), 1);
    assert_no_temporary(dir);
    vte_atomic_file_abort(&file); /* harmless after a failed commit */
}

Test(fileio, missing_parent_folder_reports_the_path) {
    char dir[PATH_SIZE], path[PATH_SIZE];
    fresh_dir(dir);
    format_path(path, "%s/missing/sub/file.bin", dir);
    vte_error err = {0};
    cr_assert_eq(vte_write_file_atomic(path, "abc", 3, &err), VTE_ERR_IO, "expected VTE_ERR_IO: %s", err.message);
    cr_assert_not_null(strstr(err.message, path), "message '%s' does not name %s", err.message, path);

    vte_atomic_file file;
    memset(&file, 0x5a, sizeof file);
    vte_error err2 = {0};
    cr_assert_eq(vte_atomic_file_open(&file, path, &err2), VTE_ERR_IO);
    cr_assert_not_null(strstr(err2.message, path), "message '%s' does not name %s", err2.message, path);
    cr_assert_null(file.stream);
    cr_assert_null(file.path);
    cr_assert_null(file.temp_path);
    vte_atomic_file_abort(&file); /* nothing to release, must not crash */
    cr_assert_eq(entry_count(dir), 0, "the failed writes created something in %s", dir);
}

Test(fileio, write_error_is_reported_and_the_temporary_removed) {
    char dir[PATH_SIZE], path[PATH_SIZE];
    fresh_dir(dir);
    join(path, dir, "big.bin");
    write_plain(path, "old");
    const size_t n = 1 << 20;
    unsigned char *data = calloc(n, 1);
    cr_assert_not_null(data);
    /* Files may grow to 4 KiB only: writes past that fail with EFBIG (SIGXFSZ ignored). */
    struct rlimit saved;
    cr_assert_eq(getrlimit(RLIMIT_FSIZE, &saved), 0);
    signal(SIGXFSZ, SIG_IGN);
    struct rlimit small = saved;
    small.rlim_cur = 4096;
    cr_assert_eq(setrlimit(RLIMIT_FSIZE, &small), 0);
    vte_error err = {0};
    const vte_status st = vte_write_file_atomic(path, data, n, &err);

    vte_atomic_file file;
    vte_error err2 = {0};
    const vte_status opened = vte_atomic_file_open(&file, path, &err2);
    vte_status committed = VTE_OK;
    if (opened == VTE_OK) {
        for (size_t i = 0; i < 4; i++) fwrite(data, 1, n / 4, file.stream);
        committed = vte_atomic_file_commit(&file, &err2);
    }
    cr_assert_eq(setrlimit(RLIMIT_FSIZE, &saved), 0);
    free(data);

    cr_assert_eq(st, VTE_ERR_IO, "a write past the size limit was not reported: %s", err.message);
    cr_assert_not_null(strstr(err.message, path), "message '%s' does not name %s", err.message, path);
    cr_assert_eq(opened, VTE_OK, "%s", err2.message);
    cr_assert_eq(committed, VTE_ERR_IO, "commit did not report the earlier write error: %s", err2.message);
    cr_assert_not_null(strstr(err2.message, path), "message '%s' does not name %s", err2.message, path);
    assert_contents(path, "old", 3);
    cr_assert_eq(entry_count(dir), 1);
    assert_no_temporary(dir);
}

Test(fileio, invalid_arguments) {
    char dir[PATH_SIZE], path[PATH_SIZE];
    fresh_dir(dir);
    join(path, dir, "x");
    vte_error err = {0};
    cr_assert_eq(vte_write_file_atomic(path, NULL, 5, &err), VTE_ERR_INVALID_ARGUMENT);
    vte_atomic_file file;
    cr_assert_eq(vte_atomic_file_open(&file, "", &err), VTE_ERR_INVALID_ARGUMENT);
    cr_assert_null(file.stream);
    char folder_only[PATH_SIZE];
    format_path(folder_only, "%s/", dir);
    cr_assert_eq(vte_atomic_file_open(&file, folder_only, &err), VTE_ERR_INVALID_ARGUMENT);
    cr_assert_null(file.stream);
    cr_assert_eq(entry_count(dir), 0);
}

Test(fileio, path_without_a_folder_part) {
    char dir[PATH_SIZE], cwd[PATH_SIZE], temp[PATH_SIZE];
    fresh_dir(dir);
    cr_assert_not_null(getcwd(cwd, sizeof cwd));
    cr_assert_eq(chdir(dir), 0);
    vte_error err = {0};
    const vte_status st = vte_write_file_atomic("plain.txt", "relative\n", 9, &err);

    vte_atomic_file file;
    vte_error err2 = {0};
    const vte_status opened = vte_atomic_file_open(&file, "second.txt", &err2);
    format_path(temp, ".second.txt.tmp-%ld", (long)getpid());
    int temp_named_right = 0, temp_in_cwd = 0;
    vte_status committed = VTE_ERR_IO;
    if (opened == VTE_OK) {
        temp_named_right = strcmp(file.temp_path, temp) == 0;
        temp_in_cwd = exists(temp);
        fputs("second", file.stream);
        committed = vte_atomic_file_commit(&file, &err2);
    }
    cr_assert_eq(chdir(cwd), 0);

    cr_assert_eq(st, VTE_OK, "%s", err.message);
    cr_assert_eq(opened, VTE_OK, "%s", err2.message);
    cr_assert(temp_named_right, "temporary named '%s', expected '%s'", file.temp_path ? file.temp_path : "", temp);
    cr_assert(temp_in_cwd, "the temporary was not created in the current folder");
    cr_assert_eq(committed, VTE_OK, "%s", err2.message);
    char path[PATH_SIZE];
    join(path, dir, "plain.txt");
    assert_contents(path, "relative\n", 9);
    join(path, dir, "second.txt");
    assert_contents(path, "second", 6);
    cr_assert_eq(entry_count(dir), 2);
    assert_no_temporary(dir);
}

/* ------------------------------------------------------------------ folders */

Test(fileio, make_dirs_creates_nested_folders) {
    char dir[PATH_SIZE], path[PATH_SIZE];
    fresh_dir(dir);
    join(path, dir, "a/b/c/d");
    umask(022); /* this test's process only (Criterion forks one per test) */
    cr_assert_eq(vte_make_dirs(path), 0, "vte_make_dirs(%s): %s", path, strerror(errno));
    cr_assert(is_folder(path), "%s is not a folder", path);
    struct stat info;
    cr_assert_eq(stat(path, &info), 0);
    cr_assert_eq(info.st_mode & 0777, 0755, "mode %o, expected 0755", (unsigned)(info.st_mode & 0777));
    join(path, dir, "a");
    cr_assert_eq(stat(path, &info), 0);
    cr_assert_eq(info.st_mode & 0777, 0755, "parent mode %o, expected 0755", (unsigned)(info.st_mode & 0777));

    /* An existing folder is fine, and so is one whose parents exist already. */
    errno = 0;
    cr_assert_eq(vte_make_dirs(path), 0, "existing folder: %s", strerror(errno));
    cr_assert_eq(vte_make_dirs(dir), 0);
    join(path, dir, "a/b/sibling");
    cr_assert_eq(vte_make_dirs(path), 0);
    cr_assert(is_folder(path));
}

Test(fileio, make_dirs_accepts_trailing_and_doubled_slashes) {
    char dir[PATH_SIZE], path[PATH_SIZE], check[PATH_SIZE];
    fresh_dir(dir);
    join(path, dir, "trail/ing/");
    cr_assert_eq(vte_make_dirs(path), 0, "vte_make_dirs(%s): %s", path, strerror(errno));
    join(check, dir, "trail/ing");
    cr_assert(is_folder(check), "%s is not a folder", check);
    cr_assert_eq(vte_make_dirs(path), 0, "existing folder with a trailing slash: %s", strerror(errno));

    join(path, dir, "double//slash///inside//");
    cr_assert_eq(vte_make_dirs(path), 0, "vte_make_dirs(%s): %s", path, strerror(errno));
    join(check, dir, "double/slash/inside");
    cr_assert(is_folder(check), "%s is not a folder", check);
    cr_assert_eq(entry_count(dir), 2);
}

Test(fileio, make_dirs_through_a_regular_file_fails_with_enotdir) {
    char dir[PATH_SIZE], file[PATH_SIZE], path[PATH_SIZE];
    fresh_dir(dir);
    join(file, dir, "plain");
    write_plain(file, "not a folder");

    join(path, dir, "plain/sub/deeper");
    errno = 0;
    cr_assert_eq(vte_make_dirs(path), -1, "made folders through the regular file %s", file);
    cr_assert_eq(errno, ENOTDIR, "errno %d (%s), expected ENOTDIR", errno, strerror(errno));

    /* The path itself being a regular file is not a folder either. */
    errno = 0;
    cr_assert_eq(vte_make_dirs(file), -1, "accepted the regular file %s as a folder", file);
    cr_assert_eq(errno, ENOTDIR, "errno %d (%s), expected ENOTDIR", errno, strerror(errno));

    assert_contents(file, "not a folder", 12);
    cr_assert_eq(entry_count(dir), 1);
}

Test(fileio, make_dirs_rejects_an_empty_path) {
    errno = 0;
    cr_assert_eq(vte_make_dirs(""), -1);
    cr_assert_eq(errno, ENOENT);
    errno = 0;
    cr_assert_eq(vte_make_dirs(NULL), -1);
    cr_assert_eq(errno, ENOENT);
}

/* ------------------------------------------------------------------ byte order and clock */

Test(fileio, little_endian_check_agrees_with_the_bytes_of_a_uint32) {
    const uint32_t value = 0x01020304u;
    unsigned char bytes[4];
    memcpy(bytes, &value, sizeof bytes);
    const int little = bytes[0] == 0x04 && bytes[1] == 0x03 && bytes[2] == 0x02 && bytes[3] == 0x01;
    const int big = bytes[0] == 0x01 && bytes[1] == 0x02 && bytes[2] == 0x03 && bytes[3] == 0x04;
    cr_assert(little || big, "unexpected byte order %02x %02x %02x %02x", bytes[0], bytes[1], bytes[2], bytes[3]);
    cr_assert_eq(vte_host_is_little_endian(), little, "vte_host_is_little_endian() = %d, bytes say %d",
                 vte_host_is_little_endian(), little);
}

static double monotonic_ms(void) {
    struct timespec t;
    cr_assert_eq(clock_gettime(CLOCK_MONOTONIC, &t), 0);
    return (double)t.tv_sec * 1e3 + (double)t.tv_nsec / 1e6;
}

Test(clock, now_ms_reads_the_monotonic_clock_and_never_goes_back) {
    /* Bracketed by two direct readings of CLOCK_MONOTONIC, in milliseconds (a wall clock, or seconds or
     * microseconds, would fall outside). */
    const double before = monotonic_ms();
    const double now = vte_now_ms();
    const double after = monotonic_ms();
    cr_assert(before - 1e-3 <= now && now <= after + 1e-3, "vte_now_ms() = %.3f outside [%.3f, %.3f]", now, before,
              after);
    double previous = vte_now_ms();
    for (int i = 0; i < 200000; i++) {
        const double t = vte_now_ms();
        cr_assert(t >= previous, "vte_now_ms went back from %.6f to %.6f", previous, t);
        previous = t;
    }
}

Test(clock, now_ms_advances_across_a_sleep) {
    const double start = vte_now_ms();
    const struct timespec nap = {0, 30 * 1000 * 1000}; /* 30 ms */
    struct timespec left = nap;
    while (nanosleep(&left, &left) != 0 && errno == EINTR) {
    }
    const double elapsed = vte_now_ms() - start;
    cr_assert(elapsed >= 29.9, "only %.3f ms elapsed across a 30 ms sleep", elapsed);
    cr_assert(elapsed < 10000.0, "%.3f ms elapsed across a 30 ms sleep: not milliseconds?", elapsed);
}
