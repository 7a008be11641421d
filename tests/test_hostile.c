/* Inputs a hostile or careless user hands in, each a regression test for a problem found by trying (issue
 * "Hostile inputs"): whatever they are, the program answers with a clear error or a bounded amount of work, never
 * a hang. Each command runs under timeout(1), so a regression fails the test instead of stalling the suite. */
#include <criterion/criterion.h>
#include <jansson.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "image/imageio.h"
#include "test_support.h"
#include "util/error.h"
#include "util/npy.h"

#define TINY VTE_FIXTURES_DIR "/models/vit-tiny"

/* A fresh temporary folder `dir` holding a copy of vit-tiny in model/. */
static void tiny_model_copy(char *dir, size_t size) {
    vte_test_new_dir(dir, size);
    vte_test_run *r = vte_test_shellf(dir, "mkdir model && cp '%s'/* model/", TINY);
    cr_assert_eq(r->status, 0, "%s", r->err);
}

/* The same, then the shell command made from `edit` (printf-style) run in `dir` to break the copy. */
static void tiny_model_in(char *dir, size_t size, const char *edit, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;
static void tiny_model_in(char *dir, size_t size, const char *edit, ...) {
    tiny_model_copy(dir, size);
    char line[8192];
    va_list args;
    va_start(args, edit);
    vsnprintf(line, sizeof line, edit, args);
    va_end(args);
    vte_test_run *r = vte_test_shell(dir, line, "/dev/null");
    cr_assert_eq(r->status, 0, "%s: %s", line, r->err);
}

/* A copy of vit-tiny in `dir`/model where `replaced` is a FIFO (named pipe) instead of the file. */
static void model_with_fifo(char *dir, size_t size, const char *replaced) {
    tiny_model_in(dir, size, "rm -f model/%s && mkfifo model/%s", replaced, replaced);
}

static void check_fifo_is_refused(const char *replaced) {
    char dir[4096];
    model_with_fifo(dir, sizeof dir, replaced);
    vte_test_run *r = vte_test_shellf(dir, "timeout 60 '%s' classify --model model '%s/images/chelsea.png'",
                                      VTE_CLI_PATH, VTE_SOURCE_DIR);
    cr_assert_neq(r->status, 124, "classify hung on a FIFO named %s", replaced);
    cr_assert_eq(r->status, 3, "exit %d: %s", r->status, r->err);
    char expected[256];
    snprintf(expected, sizeof expected, "model/%s: not a regular file (a FIFO, socket or device)", replaced);
    cr_assert(strstr(r->err, expected), "%s", r->err);
}

Test(hostile, a_fifo_for_the_weights_is_refused_not_waited_on) { check_fifo_is_refused("model.safetensors"); }
Test(hostile, a_fifo_for_the_config_is_refused_not_waited_on) { check_fifo_is_refused("config.json"); }
Test(hostile, a_fifo_for_the_preprocessor_config_is_refused_not_waited_on) {
    check_fifo_is_refused("preprocessor_config.json");
}

Test(hostile, a_config_that_is_a_directory_says_so) {
    char dir[4096];
    tiny_model_in(dir, sizeof dir, "rm model/config.json && mkdir model/config.json");
    vte_test_run *r = vte_test_shellf(dir, "timeout 60 '%s' classify --model model '%s/images/chelsea.png'",
                                      VTE_CLI_PATH, VTE_SOURCE_DIR);
    cr_assert_eq(r->status, 3, "exit %d: %s", r->status, r->err);
    cr_assert(strstr(r->err, "model/config.json: is a directory, not a file"), "%s", r->err);
}

Test(hostile, recursive_scans_enter_each_real_folder_once) {
    /* images/ holds one picture, a link to itself, and two folders that link to each other: every real folder is
     * scanned once, so the picture is explained once, and each link back is reported. */
    char dir[4096];
    vte_test_new_dir(dir, sizeof dir);
    vte_test_run *r = vte_test_shellf(
        dir,
        "mkdir -p images/a images/b && cp '%s/images/chelsea.png' images/ && ln -s . images/self && "
        "ln -s ../b images/a/to_b && ln -s ../a images/b/to_a && "
        "timeout 120 '%s' explain --model '%s' --method rollout --recursive --summary run.json --out out images",
        VTE_SOURCE_DIR, VTE_CLI_PATH, TINY);
    cr_assert_neq(r->status, 124, "the recursive scan did not end");
    cr_assert_eq(r->status, 0, "exit %d: %s", r->status, r->err);
    cr_assert(strstr(r->out, "Done: 1 image explained"), "%s", r->out);
    cr_assert(strstr(r->err, "images/self: skipped, a link to a folder this scan has already entered"), "%s", r->err);
    /* a, then a/to_b (b, new), then a/to_b/to_a (a again); then b itself, entered already through the link. */
    cr_assert(strstr(r->err, "images/a/to_b/to_a: skipped") && strstr(r->err, "images/b: skipped"), "%s", r->err);
}

Test(hostile, a_fifo_given_as_an_npy_file_is_refused_not_waited_on) {
    char path[4200];
    snprintf(path, sizeof path, "%s/map.npy", vte_test_temp_dir());
    cr_assert_eq(vte_test_shellf(".", "mkfifo '%s'", path)->status, 0);
    vte_npy npy = {0};
    vte_error err = {0};
    cr_assert_eq(vte_npy_read(path, &npy, &err), VTE_ERR_IO);
    cr_assert(strstr(err.message, "map.npy: not a regular file (a FIFO, socket or device)"), "%s", err.message);
}

/* Copies vit-tiny to `dir`/model and writes `value` (4 bytes, float32) over `count` elements of tensor `name` from
 * element `index` in its model.safetensors (the header says where the tensor's bytes lie). */
static void model_with_value(char *dir, size_t size, const char *name, size_t index, size_t count, float value) {
    tiny_model_copy(dir, size);
    char path[4200];
    snprintf(path, sizeof path, "%s/model/model.safetensors", dir);
    FILE *f = fopen(path, "r+b");
    cr_assert_not_null(f);
    unsigned char length_bytes[8];
    cr_assert_eq(fread(length_bytes, 1, 8, f), 8);
    size_t header_length = 0;
    for (int i = 7; i >= 0; i--)
        header_length = header_length * 256 + length_bytes[i];
    char *header = calloc(header_length + 1, 1);
    cr_assert_eq(fread(header, 1, header_length, f), header_length);
    json_error_t jerr;
    json_t *root = json_loads(header, 0, &jerr);
    cr_assert_not_null(root, "%s", jerr.text);
    json_t *tensor = json_object_get(root, name);
    cr_assert_str_eq(json_string_value(json_object_get(tensor, "dtype")), "F32");
    const long offset = (long)(8 + header_length) +
                        (long)json_integer_value(json_array_get(json_object_get(tensor, "data_offsets"), 0)) +
                        (long)(index * sizeof value);
    cr_assert_eq(fseek(f, offset, SEEK_SET), 0);
    for (size_t i = 0; i < count; i++) /* little-endian host, as the file */
        cr_assert_eq(fwrite(&value, sizeof value, 1, f), 1);
    cr_assert_eq(fclose(f), 0);
    json_decref(root);
    free(header);
}

static vte_test_run *classify_in(const char *dir) {
    return vte_test_shellf(dir, "timeout 60 '%s' classify --model model '%s/images/chelsea.png'", VTE_CLI_PATH,
                           VTE_SOURCE_DIR);
}

Test(hostile, weights_that_are_not_finite_are_refused_at_load) {
    char dir[4096];
    model_with_value(dir, sizeof dir, "classifier.bias", 3, 1, NAN);
    vte_test_run *r = classify_in(dir);
    cr_assert_eq(r->status, 3, "exit %d: %s%s", r->status, r->out, r->err);
    cr_assert(strstr(r->err, "model/model.safetensors: tensor classifier.bias holds NaN at element 3"), "%s", r->err);
    model_with_value(dir, sizeof dir, "vit.encoder.layer.1.output.dense.weight", 17, 1, INFINITY);
    r = classify_in(dir);
    cr_assert_eq(r->status, 3, "exit %d: %s%s", r->status, r->out, r->err);
    cr_assert(strstr(r->err, "tensor vit.encoder.layer.1.output.dense.weight holds an infinity at element 17"), "%s",
              r->err);
}

Test(hostile, preprocessing_values_that_overflow_as_floats_are_refused_at_load) {
    static const char *const configs[] = {"{\"image_std\": 1e-50}", "{\"image_mean\": 1e39}",
                                          "{\"rescale_factor\": 1e308}"};
    for (int i = 0; i < 3; i++) {
        char dir[4096];
        tiny_model_in(dir, sizeof dir, "printf '%%s' '%s' > model/preprocessor_config.json", configs[i]);
        vte_test_run *r = classify_in(dir);
        cr_assert_eq(r->status, 3, "%s: exit %d: %s%s", configs[i], r->status, r->out, r->err);
        cr_assert(strstr(r->err, "model/preprocessor_config.json: ") &&
                      (strstr(r->err, "these values cannot be used") || strstr(r->err, "must be a finite")),
                  "%s: %s", configs[i], r->err);
    }
}

Test(hostile, models_that_would_fail_every_image_are_refused_at_load) {
    /* One channel or four (images are fed as RGB), and a resize to a size no image could be held at. */
    static const char *const edits[][2] = {
        {"sed -i 's/\"num_channels\": 3/\"num_channels\": 1/' model/config.json",
         "model/config.json: num_channels 1 is not supported: vitexplain feeds the model RGB images"},
        {"sed -i 's/\"num_channels\": 3/\"num_channels\": 4/' model/config.json",
         "model/config.json: num_channels 4 is not supported"},
        {"printf '{\"size\": {\"shortest_edge\": 2147483647}}' > model/preprocessor_config.json",
         "model/preprocessor_config.json: key 'size' asks for 2147483647 pixels, more than the limit of 8192"},
    };
    for (size_t i = 0; i < sizeof edits / sizeof *edits; i++) {
        char dir[4096];
        tiny_model_in(dir, sizeof dir, "%s", edits[i][0]);
        vte_test_run *r = classify_in(dir);
        cr_assert_eq(r->status, 3, "%s: exit %d: %s%s", edits[i][0], r->status, r->out, r->err);
        cr_assert(strstr(r->err, edits[i][1]), "%s: %s", edits[i][0], r->err);
    }
}

Test(hostile, empty_method_lists_and_output_folders_are_usage_errors) {
    /* Found before any model is loaded (exit 2), and nothing is written: an empty --out once meant "/". */
    static const char *const cases[][2] = {
        {"explain --method '' images/chelsea.png", "explain: --method names no method (''): give rollout"},
        {"explain --method ,,, images/chelsea.png", "explain: --method names no method (',,,')"},
        {"evaluate --method , images/chelsea.png", "evaluate: --method names no method (',')"},
        {"explain --method rollout --out '' images/chelsea.png",
         "explain: --out needs a folder name, got an empty one"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        char dir[4096];
        vte_test_new_dir(dir, sizeof dir);
        /* "COMMAND REST" runs as "vitexplain COMMAND --model vit-tiny REST" on a copy of the image. */
        const char *rest = strchr(cases[i][0], ' ');
        vte_test_run *r =
            vte_test_shellf(dir, "mkdir -p images && cp '%s/images/chelsea.png' images/ && '%s' %.*s --model '%s'%s",
                            VTE_SOURCE_DIR, VTE_CLI_PATH, (int)(rest - cases[i][0]), cases[i][0], TINY, rest);
        cr_assert_eq(r->status, 2, "%s: exit %d: %s", cases[i][0], r->status, r->err);
        cr_assert(strstr(r->err, cases[i][1]), "%s: %s", cases[i][0], r->err);
        cr_assert_null(strstr(r->err, "model: "), "%s: the model was loaded first: %s", cases[i][0], r->err);
    }
}

Test(hostile, a_class_named_twice_is_explained_once) {
    /* vit-tiny's class 3 is "horse": by id, by label and by id again, one target, one picture, one warning each. */
    char dir[4096];
    vte_test_new_dir(dir, sizeof dir);
    vte_test_run *r = vte_test_shellf(
        dir,
        "'%s' explain --model '%s' --method rollout --class 3 --class horse --class 3 --summary run.json "
        "--out out '%s/images/chelsea.png'",
        VTE_CLI_PATH, TINY, VTE_SOURCE_DIR);
    cr_assert_eq(r->status, 0, "exit %d: %s", r->status, r->err);
    cr_assert(strstr(r->err, "warning: --class 'horse' names class 3 again: it is explained once"), "%s", r->err);
    cr_assert(strstr(r->err, "warning: --class '3' names class 3 again"), "%s", r->err);
    cr_assert(strstr(r->out, "(class 3, ") && strstr(r->out, ": 1 file;"), "%s", r->out);
}

Test(hostile, a_summary_that_cannot_be_written_stops_the_run_before_any_work) {
    char dir[4096];
    vte_test_new_dir(dir, sizeof dir);
    vte_test_run *r = vte_test_shellf(
        dir, "'%s' explain --model '%s' --method rollout --summary missing/run.json --out out '%s/images/chelsea.png'",
        VTE_CLI_PATH, TINY, VTE_SOURCE_DIR);
    cr_assert_eq(r->status, 3, "exit %d: %s", r->status, r->err);
    cr_assert(strstr(r->err, "explain: --summary missing/run.json") && strstr(r->err, "No such file or directory"),
              "%s", r->err);
    cr_assert_null(strstr(r->err, "model: "), "the model was loaded first: %s", r->err);
    cr_assert_eq(vte_test_shellf(dir, "test ! -e out")->status, 0, "pictures or folders were written");
}

Test(hostile, links_to_nothing_are_reported_not_skipped) {
    /* In a scanned folder, a broken link with an image's name is a failed input (exit 1), named as such; a
     * preprocessor_config.json that links to nothing stops the load instead of passing for absent. */
    char dir[4096];
    vte_test_new_dir(dir, sizeof dir);
    vte_test_run *r =
        vte_test_shellf(dir,
                        "mkdir images && cp '%s/images/chelsea.png' images/ && ln -s gone.png images/broken.png && "
                        "'%s' explain --model '%s' --method rollout --out out images",
                        VTE_SOURCE_DIR, VTE_CLI_PATH, TINY);
    cr_assert_eq(r->status, 1, "exit %d: %s", r->status, r->err);
    cr_assert(strstr(r->err, "images/broken.png: a symbolic link whose target does not exist"), "%s", r->err);
    cr_assert(strstr(r->out, "Done: 1 image explained, 1 failed"), "%s", r->out);

    tiny_model_in(dir, sizeof dir,
                  "rm model/preprocessor_config.json && ln -s nowhere.json model/preprocessor_config.json");
    r = classify_in(dir);
    cr_assert_eq(r->status, 3, "exit %d: %s", r->status, r->err);
    cr_assert(strstr(r->err, "model/preprocessor_config.json: a symbolic link whose target does not exist"), "%s",
              r->err);
}

Test(hostile, an_image_the_model_overflows_on_fails_and_the_rest_go_on) {
    /* Finite weights that overflow in the forward pass: the first MLP row of layer 0 all 3e38 (48 products of
     * about that size in one sum). Every image's output is NaN or infinite: each fails with its reason, nothing is
     * written, and the exit status says some failed. The summary records why. */
    char dir[4096];
    model_with_value(dir, sizeof dir, "vit.encoder.layer.0.intermediate.dense.weight", 0, 48, 3e38f);
    vte_test_run *r = classify_in(dir);
    cr_assert_eq(r->status, 1, "exit %d: %s%s", r->status, r->out, r->err);
    cr_assert(strstr(r->err, "chelsea.png: the model's output holds NaN or infinity for this image"), "%s", r->err);
    cr_assert_null(strstr(r->out, "nan"), "%s", r->out);
    r = vte_test_shellf(
        dir, "'%s' explain --model model --method all --save-raw --summary run.json --out out '%s/images/chelsea.png'",
        VTE_CLI_PATH, VTE_SOURCE_DIR);
    cr_assert_eq(r->status, 1, "exit %d: %s", r->status, r->err);
    cr_assert(strstr(r->err, "holds NaN or infinity for this image (its weights overflow on it): nothing written"),
              "%s", r->err);
    cr_assert_eq(vte_test_shellf(dir, "test -z \"$(find out -type f)\"")->status, 0, "a picture or map was written");
    cr_assert_eq(vte_test_shellf(dir, "grep -q 'holds NaN or infinity' run.json")->status, 0,
                 "the summary has no reason");
    r = vte_test_shellf(dir, "'%s' evaluate --model model --method rollout --summary eval.json '%s/images/chelsea.png'",
                        VTE_CLI_PATH, VTE_SOURCE_DIR);
    cr_assert_eq(r->status, 1, "exit %d: %s", r->status, r->err);
    cr_assert(strstr(r->err, "chelsea.png: the model's output holds NaN or infinity for this image"), "%s", r->err);
    cr_assert_eq(vte_test_shellf(dir, "grep -q 'holds NaN or infinity' eval.json")->status, 0,
                 "the summary has no reason");
    cr_assert_null(strstr(r->out, "nan"), "%s", r->out);
}

Test(hostile, a_long_path_does_not_hide_the_reason) {
    /* Messages have 1,023 bytes; a path of 3,000 gives way in its middle, and the reason at the end survives. */
    char path[3001];
    memset(path, 'd', sizeof path - 1);
    path[0] = '/';
    path[sizeof path - 1] = '\0';
    vte_error err = {0};
    cr_assert_eq(vte_error_set(&err, VTE_ERR_IO, "%s/config.json: cannot open: %s", path, "Permission denied"),
                 VTE_ERR_IO);
    cr_assert_eq(err.code, VTE_ERR_IO);
    cr_assert_lt(strlen(err.message), sizeof err.message);
    cr_assert(strncmp(err.message, "/ddd", 4) == 0, "%s", err.message);
    cr_assert(strstr(err.message, "ddd...ddd"), "%s", err.message);
    const char *end = "ddd/config.json: cannot open: Permission denied";
    cr_assert_str_eq(err.message + strlen(err.message) - strlen(end), end);
    /* Short messages are untouched. */
    vte_error_set(&err, VTE_ERR_FORMAT, "%s: %d", "short", 7);
    cr_assert_str_eq(err.message, "short: 7");
}

/* ---------------------------------------------------------------- decompression bombs */

/* The commands run with at most 3 GB of address space: decoding a 30000 x 30000 claim would need 2.7 GB for its RGB
 * copy alone, on top of OpenCV's own. AddressSanitizer reserves terabytes of address space, so a sanitized build
 * bounds the resident memory instead. */
#if defined(__SANITIZE_ADDRESS__) /* gcc */
#define UNDER_ASAN 1
#elif defined(__has_feature) /* clang */
#if __has_feature(address_sanitizer)
#define UNDER_ASAN 1
#endif
#endif
#ifdef UNDER_ASAN
#define MEMORY_LIMIT "ASAN_OPTIONS=\"$ASAN_OPTIONS:hard_rss_limit_mb=3000\" "
#endif
#ifndef MEMORY_LIMIT
#define MEMORY_LIMIT "ulimit -v 3000000; "
#endif

/* A real JPEG (a fixture of 16 x 16 pixels) whose frame header is changed to claim 30000 x 30000 pixels: 421 bytes
 * that OpenCV would decode into 2.7 GB. */
static void write_jpeg_bomb(const char *path) {
    FILE *in = fopen(VTE_FIXTURES_DIR "/images/gray.jpg", "rb");
    cr_assert_not_null(in);
    unsigned char data[65536];
    const size_t size = fread(data, 1, sizeof data, in);
    fclose(in);
    size_t at = 2;
    for (;;) { /* the first start-of-frame marker segment */
        cr_assert(at + 9 < size && data[at] == 0xFF, "no frame header in gray.jpg");
        const unsigned marker = data[at + 1], length = (unsigned)data[at + 2] << 8 | data[at + 3];
        if (marker >= 0xC0 && marker <= 0xCF && marker != 0xC4 && marker != 0xC8 && marker != 0xCC)
            break;
        at += 2 + length;
    }
    const unsigned char side[2] = {30000 >> 8, 30000 & 0xFF};
    memcpy(data + at + 5, side, 2); /* height */
    memcpy(data + at + 7, side, 2); /* width */
    FILE *out = fopen(path, "wb");
    cr_assert_not_null(out);
    cr_assert_eq(fwrite(data, 1, size, out), size);
    cr_assert_eq(fclose(out), 0);
}

Test(hostile, a_decompression_bomb_is_refused_from_its_header) {
    char dir[4096], path[4200];
    vte_test_new_dir(dir, sizeof dir);
    snprintf(path, sizeof path, "%s/bomb.jpg", dir);
    write_jpeg_bomb(path);
    vte_test_run *r =
        vte_test_shellf(dir, MEMORY_LIMIT "timeout 60 '%s' classify --model '%s' bomb.jpg '%s/images/chelsea.png'",
                        VTE_CLI_PATH, TINY, VTE_SOURCE_DIR);
    cr_assert_neq(r->status, 124, "classify took over a minute on a 421-byte file");
    cr_assert_eq(r->status, 1, "exit %d: %s", r->status, r->err);
    cr_assert(strstr(r->err, "bomb.jpg: the JPEG header states 30000x30000 pixels, more than the limit of 67108864 "
                             "pixels; the image is not decoded"),
              "%s", r->err);
    cr_assert(strstr(r->out, "chelsea.png\n   1. tabby cat"), "the other image was not classified: %s", r->out);
    /* explain with every picture: nothing is written for the bomb, the other image is done. */
    r = vte_test_shellf(dir,
                        MEMORY_LIMIT "timeout 60 '%s' explain --model '%s' --method rollout --grid --out out bomb.jpg "
                                     "'%s/images/chelsea.png'",
                        VTE_CLI_PATH, TINY, VTE_SOURCE_DIR);
    cr_assert_eq(r->status, 1, "exit %d: %s", r->status, r->err);
    cr_assert(strstr(r->err, "bomb.jpg: the JPEG header states 30000x30000 pixels"), "%s", r->err);
    r = vte_test_shellf(dir, "ls out/rollout out/grid");
    cr_assert(strstr(r->out, "chelsea_rollout.png") && strstr(r->out, "chelsea_grid.png") && !strstr(r->out, "bomb"),
              "%s", r->out);
}

Test(hostile, the_pixel_limit_can_be_set_and_large_jpegs_decoded_small) {
    char dir[4096], path[4200];
    vte_test_new_dir(dir, sizeof dir);
    /* A 1000 x 800 JPEG: 800,000 pixels. */
    snprintf(path, sizeof path, "%s/large.jpg", dir);
    unsigned char *rgb = malloc(1000 * 800 * 3);
    for (int i = 0; i < 1000 * 800 * 3; i++)
        rgb[i] = (unsigned char)(i % 253);
    vte_error err = {0};
    cr_assert_eq(vte_cv_write(path, rgb, 1000, 800, 3, &err), VTE_OK, "%s", err.message);
    free(rgb);
    vte_test_run *r =
        vte_test_shellf(dir, "timeout 60 '%s' classify --model '%s' --max-pixels 100000 large.jpg", VTE_CLI_PATH, TINY);
    cr_assert_eq(r->status, 1, "exit %d: %s", r->status, r->err);
    cr_assert(strstr(r->err, "large.jpg: the JPEG header states 1000x800 pixels, more than the limit of 100000 pixels"),
              "%s", r->err);
    /* vit-tiny's input is 32 x 32: --fast-decode may go down to 64 x 64, so 1/8 (125 x 100 pixels) is decoded. */
    r = vte_test_shellf(dir, "timeout 60 '%s' classify --model '%s' --max-pixels 100000 --fast-decode large.jpg",
                        VTE_CLI_PATH, TINY);
    cr_assert_eq(r->status, 0, "exit %d: %s", r->status, r->err);
    cr_assert(strstr(r->out, "large.jpg\n   1. "), "%s", r->out);
    r = vte_test_shellf(dir, "'%s' explain --method rollout --max-pixels 0 large.jpg", VTE_CLI_PATH);
    cr_assert_eq(r->status, 2, "exit %d: %s", r->status, r->err);
    cr_assert(strstr(r->err, "explain: --max-pixels needs a number of pixels from 1 to"), "%s", r->err);
}

Test(hostile, overlays_of_huge_images_are_written_at_a_bounded_size) {
    char dir[4096], path[4200];
    vte_test_new_dir(dir, sizeof dir);
    snprintf(path, sizeof path, "%s/wide.png", dir);
    unsigned char *rgb = calloc((size_t)6000 * 1500 * 3, 1);
    for (size_t i = 0; i < (size_t)6000 * 1500 * 3; i += 97)
        rgb[i] = 200;
    vte_error err = {0};
    cr_assert_eq(vte_cv_write(path, rgb, 6000, 1500, 3, &err), VTE_OK, "%s", err.message);
    free(rgb);
    vte_test_run *r = vte_test_shellf(dir, "timeout 120 '%s' explain --model '%s' --method rollout --out out wide.png",
                                      VTE_CLI_PATH, TINY);
    cr_assert_eq(r->status, 0, "exit %d: %s", r->status, r->err);
    snprintf(path, sizeof path, "%s/out/rollout/wide_rollout.png", dir);
    vte_image overlay;
    cr_assert_eq(vte_image_load(path, &overlay, &err), VTE_OK, "%s", err.message);
    cr_assert(overlay.width == 4096 && overlay.height == 1024, "overlay of 6000x1500: %dx%d", overlay.width,
              overlay.height);
    vte_image_free(&overlay);
}

Test(hostile, a_preprocessing_error_names_the_image) {
    /* A shortest edge of 8192 on a 1 x 300000 image would make the long side 2.5e9 pixels. */
    char dir[4096], path[4200];
    tiny_model_in(dir, sizeof dir,
                  "printf '%%s' '{\"size\": {\"shortest_edge\": 8192}, \"do_center_crop\": true, \"crop_size\": 32}' "
                  "> model/preprocessor_config.json");
    snprintf(path, sizeof path, "%s/thin.png", dir);
    unsigned char *gray = calloc(300000, 1);
    vte_error err = {0};
    cr_assert_eq(vte_cv_write(path, gray, 1, 300000, 1, &err), VTE_OK, "%s", err.message);
    free(gray);
    vte_test_run *r = vte_test_shellf(dir, "timeout 60 '%s' classify --model model thin.png", VTE_CLI_PATH);
    cr_assert_eq(r->status, 1, "exit %d: %s", r->status, r->err);
    cr_assert(strstr(r->err, "vitexplain: thin.png: preprocess: resizing 1x300000 to a shortest edge of 8192 is too "
                             "large"),
              "%s", r->err);
}

/* ---------------------------------------------------------------- sizes from config.json */

/* vit-tiny in `dir`/model with `key` of config.json set to `value` (a JSON text); labels removed for num_labels. */
static void model_with_config_value(char *dir, size_t size, const char *key, const char *value) {
    tiny_model_copy(dir, size);
    char path[4200];
    snprintf(path, sizeof path, "%s/model/config.json", dir);
    json_error_t jerr;
    json_t *config = json_load_file(path, 0, &jerr);
    cr_assert_not_null(config, "%s", jerr.text);
    if (strcmp(key, "num_labels") == 0) {
        json_object_del(config, "id2label");
        json_object_del(config, "label2id");
    }
    json_object_set_new(config, key, json_loads(value, JSON_DECODE_ANY, &jerr));
    cr_assert_eq(json_dump_file(config, path, 0), 0);
    json_decref(config);
}

Test(hostile, config_sizes_are_checked_before_anything_is_allocated_by_them) {
    static const struct {
        const char *key, *value, *message;
    } cases[] = {
        {"num_labels", "2147483647", "model/config.json: key 'num_labels' is 2147483647, more than the 1048576"},
        {"num_hidden_layers", "2147483647", "model/config.json: key 'num_hidden_layers' is 2147483647, more than"},
        {"intermediate_size", "2147483647", "model/config.json: key 'intermediate_size' is 2147483647, more than"},
        {"image_size", "[32, 100000]", "model/config.json: key 'image_size' is 32x100000, more than the 8192x8192"},
        /* Within the limits, but not what the checkpoint holds. */
        {"num_labels", "1000",
         "model/config.json: num_labels (or the labels' count): the config gives "
         "classifier.weight the shape [1000, 48], but model/model.safetensors has [10, 48]"},
        {"num_hidden_layers", "1000",
         "model/config.json: num_hidden_layers is 1000, but model/model.safetensors has "
         "2 layers"},
        {"num_hidden_layers", "1", "num_hidden_layers is 1, but model/model.safetensors has more than 1 layers"},
        {"intermediate_size", "200000",
         "model/config.json: intermediate_size: the config gives "
         "vit.encoder.layer.0.intermediate.dense.weight the shape [200000, 48]"},
        {"hidden_size", "4800",
         "hidden_size, num_channels and patch_size: the config gives "
         "vit.embeddings.patch_embeddings.projection.weight the shape [4800, 3, 8, 8]"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char dir[4096];
        model_with_config_value(dir, sizeof dir, cases[i].key, cases[i].value);
        vte_test_run *r =
            vte_test_shellf(dir, MEMORY_LIMIT "timeout 60 '%s' classify --model model '%s/images/chelsea.png'",
                            VTE_CLI_PATH, VTE_SOURCE_DIR);
        cr_assert_eq(r->status, 3, "%s %s: exit %d: %s", cases[i].key, cases[i].value, r->status, r->err);
        cr_assert(strstr(r->err, cases[i].message), "%s %s: %s", cases[i].key, cases[i].value, r->err);
    }
}
