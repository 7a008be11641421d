/* File names a hostile or careless user hands in (issue "Hostile inputs", item "Names"): a legal name of 254
 * bytes must still give output files whose names, and their temporaries, fit NAME_MAX; a name that is not UTF-8
 * must keep its record in every JSON output, with its exact bytes. */
#include <criterion/criterion.h>
#include <jansson.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "test_support.h"

#define TINY VTE_FIXTURES_DIR "/models/vit-tiny"
#define CHELSEA VTE_SOURCE_DIR "/images/chelsea.png"

/* What util/fileio.c's temporary ".<name>.tmp-<pid>" adds to a name (a Linux pid has at most 7 digits). */
#define TEMPORARY_EXTRA (sizeof "." - 1 + sizeof ".tmp-" - 1 + 7)

/* Copies the sample image to `dir`/`name` (any bytes but '/' and NUL), from C so the shell never sees the name. */
static void copy_image(const char *dir, const char *name) {
    char path[8192];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *in = fopen(CHELSEA, "rb"), *out = fopen(path, "wb");
    cr_assert(in && out, "cannot copy the sample image to %s", path);
    char buffer[65536];
    size_t n;
    while ((n = fread(buffer, 1, sizeof buffer, in)) > 0)
        cr_assert_eq(fwrite(buffer, 1, n, out), n);
    fclose(in);
    cr_assert_eq(fclose(out), 0);
}

static json_t *load_json(const char *dir, const char *name) {
    char path[8192];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    json_error_t error;
    json_t *root = json_load_file(path, 0, &error);
    cr_assert_not_null(root, "%s: %s", name, error.text);
    return root;
}

/* The bytes a JSON text field stands for: `key`_bytes (hex) when there is one, else `key` itself. Malloc'ed. */
static char *field_bytes(json_t *object, const char *key) {
    char bytes_key[64];
    snprintf(bytes_key, sizeof bytes_key, "%s_bytes", key);
    const char *hex = json_string_value(json_object_get(object, bytes_key));
    if (!hex) {
        const char *text = json_string_value(json_object_get(object, key));
        cr_assert_not_null(text, "no %s in the record", key);
        return strdup(text);
    }
    const size_t length = strlen(hex) / 2;
    char *bytes = calloc(length + 1, 1);
    for (size_t i = 0; i < length; i++) {
        unsigned value = 0;
        cr_assert_eq(sscanf(hex + 2 * i, "%2x", &value), 1, "%s is not hex: %s", bytes_key, hex);
        bytes[i] = (char)value;
    }
    return bytes;
}

/* The record of `image` in a summary's "images", by its exact bytes: "image", or "image_bytes" where present. */
static json_t *record_of(json_t *root, const char *image) {
    json_t *images = json_object_get(root, "images"), *record;
    size_t i;
    json_array_foreach(images, i, record) {
        char *bytes = field_bytes(record, "image");
        const int same = strcmp(bytes, image) == 0;
        free(bytes);
        if (same)
            return record;
    }
    cr_assert_fail("no record of %s among %zu", image, json_array_size(images));
    return NULL;
}

static size_t base_name_length(const char *path) {
    const char *slash = strrchr(path, '/');
    return strlen(slash ? slash + 1 : path);
}

/* ---------------------------------------------------------------- long names */

Test(names, stems_too_long_for_their_file_names_are_shortened_and_kept_apart) {
    /* Three 254-byte names (250-byte stems): two sharing their first 240 bytes, one of two-byte characters that a
     * byte cut would split; and the first again in a sub-folder, which must get its own "_2" name. */
    char dir[4096], a[256], b[256], accents[256], sub[300];
    vte_test_new_dir(dir, sizeof dir);
    memset(a, 'n', 240);
    memcpy(a + 240, "AAAAAAAAAA.png", 15);
    memcpy(b, a, 240);
    memcpy(b + 240, "BBBBBBBBBB.png", 15);
    for (int i = 0; i < 125; i++)
        memcpy(accents + 2 * i, "\xc3\xa9", 2); /* é: any cut in it falls inside one */
    memcpy(accents + 250, ".png", 5);
    cr_assert_eq(strlen(a), 254);
    cr_assert_eq(strlen(accents), 254);
    cr_assert_eq(vte_test_shellf(dir, "mkdir -p images/sub")->status, 0);
    const char *names[] = {a, b, accents};
    char inputs[4][300];
    for (int i = 0; i < 3; i++)
        snprintf(inputs[i], sizeof inputs[i], "images/%s", names[i]);
    snprintf(sub, sizeof sub, "images/sub/%s", a);
    snprintf(inputs[3], sizeof inputs[3], "%s", sub);
    for (int i = 0; i < 4; i++)
        copy_image(dir, inputs[i]);

    vte_test_run *r = vte_test_shellf(dir,
                                      "'%s' explain --model '%s' --method all --grid --save-raw --topk 2 --recursive "
                                      "--summary run.json --out out images",
                                      VTE_CLI_PATH, TINY);
    cr_assert_eq(r->status, 0, "exit %d: %s", r->status, r->err);
    json_t *root = load_json(dir, "run.json");
    cr_assert_eq(json_array_size(json_object_get(root, "images")), 4);
    /* Per input and target: rollout, gmar l1 and l2, legrad, chefer as .png and .npy, and a grid; two targets. */
    const size_t per_input = 2 * (5 * 2 + 1);
    char *seen[4 * 22];
    size_t seen_count = 0;
    for (int i = 0; i < 4; i++) {
        json_t *record = record_of(root, inputs[i]);
        cr_assert_str_eq(json_string_value(json_object_get(record, "status")), "ok", "%s", inputs[i]);
        /* Cut at character boundaries: every name is still UTF-8, so no files_bytes. */
        cr_assert_null(json_object_get(record, "files_bytes"), "a name was cut inside a character: %s", inputs[i]);
        json_t *files = json_object_get(record, "files"), *file;
        cr_assert_eq(json_array_size(files), per_input, "%s: %zu files", inputs[i], json_array_size(files));
        size_t f;
        json_array_foreach(files, f, file) {
            const char *path = json_string_value(file);
            char full[8192];
            snprintf(full, sizeof full, "%s/%s", dir, path);
            struct stat info;
            cr_assert_eq(stat(full, &info), 0, "listed but missing: %s", path);
            cr_assert_gt(info.st_size, 0, "%s is empty", path);
            const size_t length = base_name_length(path);
            cr_assert_leq(length + TEMPORARY_EXTRA, NAME_MAX, "%zu bytes, with the temporary's more: %s", length, path);
            /* The name keeps the start of its input's name, so a person can tell which input it belongs to. */
            const char *base = strrchr(path, '/') + 1;
            cr_assert(strstr(base, i == 2 ? "\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9" : "nnnnnnnnnnnnnnnnnnnn"), "%s", path);
            for (size_t k = 0; k < seen_count; k++)
                cr_assert_str_neq(seen[k], path, "two outputs share %s", path);
            seen[seen_count++] = strdup(path);
        }
    }
    /* The first input and its copy in sub/ share a shortened stem, "~" and a hash: the later one's names carry
     * "_2" after it. The two names that share their first 240 bytes have different hashes. */
    const char *first = json_string_value(json_array_get(json_object_get(record_of(root, inputs[0]), "files"), 0));
    const char *copy = json_string_value(json_array_get(json_object_get(record_of(root, inputs[3]), "files"), 0));
    const char *other = json_string_value(json_array_get(json_object_get(record_of(root, inputs[1]), "files"), 0));
    const char *tilde = strrchr(first, '~');
    cr_assert_not_null(tilde, "the long stem was not shortened with a hash: %s", first);
    char hash[16], again[32];
    snprintf(hash, sizeof hash, "%.9s_", tilde);
    snprintf(again, sizeof again, "%.9s_2_", tilde);
    cr_assert(strstr(copy, hash) || strstr(copy, again), "%s and %s should share %s", first, copy, hash);
    cr_assert((strstr(first, again) != NULL) != (strstr(copy, again) != NULL), "one of %s and %s should carry %s",
              first, copy, again);
    cr_assert_null(strstr(other, hash), "%s and %s share their hash", first, other);
    /* Nothing else was left in out/ (no temporaries). */
    r = vte_test_shellf(dir, "find out -type f | wc -l");
    cr_assert_eq(strtoul(r->out, NULL, 10), seen_count, "files in out/: %s", r->out);
    for (size_t k = 0; k < seen_count; k++)
        free(seen[k]);
    json_decref(root);
}

/* ---------------------------------------------------------------- names that are not UTF-8 */

#define LATIN1_NAME "caf\xe9.png"           /* "café.png" in Latin-1: 0xE9 alone is not UTF-8 */
#define REPAIRED_NAME "caf\xef\xbf\xbd.png" /* the same with U+FFFD for the byte */

Test(names, classify_json_keeps_a_name_that_is_not_utf8) {
    char dir[4096];
    vte_test_new_dir(dir, sizeof dir);
    copy_image(dir, LATIN1_NAME);
    vte_test_run *r = vte_test_shellf(dir, "'%s' classify --json --topk 2 --model '%s' caf*.png", VTE_CLI_PATH, TINY);
    cr_assert_eq(r->status, 0, "exit %d: %s", r->status, r->err);
    json_error_t error;
    json_t *line = json_loads(r->out, 0, &error);
    cr_assert_not_null(line, "no JSON line for the image (%s): '%s'", error.text, r->out);
    cr_assert_str_eq(json_string_value(json_object_get(line, "image")), REPAIRED_NAME);
    char *bytes = field_bytes(line, "image");
    cr_assert_str_eq(bytes, LATIN1_NAME);
    cr_assert_eq(json_array_size(json_object_get(line, "top")), 2);
    free(bytes);
    json_decref(line);
}

Test(names, summaries_keep_a_name_that_is_not_utf8) {
    /* The image explained, and a broken file with such a name whose error message names it. */
    char dir[4096];
    vte_test_new_dir(dir, sizeof dir);
    copy_image(dir, LATIN1_NAME);
    cr_assert_eq(vte_test_shellf(dir, "printf 'not an image' > \"$(printf 'bad\\377.png')\"")->status, 0);
    vte_test_run *r = vte_test_shellf(
        dir, "'%s' explain --model '%s' --method rollout --save-raw --summary run.json --out out caf*.png bad*.png",
        VTE_CLI_PATH, TINY);
    cr_assert_eq(r->status, 1, "exit %d (one broken input): %s", r->status, r->err);
    json_t *root = load_json(dir, "run.json");
    json_t *record = record_of(root, LATIN1_NAME);
    cr_assert_str_eq(json_string_value(json_object_get(record, "image")), REPAIRED_NAME);
    cr_assert_str_eq(json_string_value(json_object_get(record, "status")), "ok");
    /* Its outputs carry the byte too: files says them with U+FFFD, files_bytes exactly, and they exist. */
    json_t *files = json_object_get(record, "files"), *hex = json_object_get(record, "files_bytes");
    cr_assert_eq(json_array_size(files), 2);
    cr_assert_eq(json_array_size(hex), 2, "no files_bytes for names that are not UTF-8");
    for (size_t f = 0; f < 2; f++) {
        json_t *pair = json_pack("{s:O, s:O}", "file", json_array_get(files, f), "file_bytes", json_array_get(hex, f));
        char *path = field_bytes(pair, "file"), full[8192];
        cr_assert(strstr(json_string_value(json_array_get(files, f)), "caf\xef\xbf\xbd_rollout."), "%s",
                  json_string_value(json_array_get(files, f)));
        cr_assert(strstr(path, "caf\xe9_rollout."), "%s", path);
        snprintf(full, sizeof full, "%s/%s", dir, path);
        struct stat info;
        cr_assert_eq(stat(full, &info), 0, "files_bytes names no file: %s", path);
        free(path);
        json_decref(pair);
    }
    json_t *failed = record_of(root, "bad\xff.png");
    cr_assert_str_eq(json_string_value(json_object_get(failed, "status")), "failed");
    char *error = field_bytes(failed, "error");
    cr_assert(strstr(error, "bad\xff.png"), "the error lost the name: %s", error);
    free(error);
    json_decref(root);

    /* The CSV has the exact bytes. */
    r = vte_test_shellf(dir, "'%s' explain --model '%s' --method rollout --summary run.csv --out out2 caf*.png",
                        VTE_CLI_PATH, TINY);
    cr_assert_eq(r->status, 0, "exit %d: %s", r->status, r->err);
    char csv[65536], path[8192];
    snprintf(path, sizeof path, "%s/run.csv", dir);
    vte_test_read_file(path, csv, sizeof csv);
    cr_assert(strstr(csv, "\n" LATIN1_NAME ",ok,"), "%s", csv);
    cr_assert(strstr(csv, "out2/rollout/caf\xe9_rollout.png"), "%s", csv);
}

Test(names, evaluate_summary_keeps_a_name_that_is_not_utf8) {
    char dir[4096];
    vte_test_new_dir(dir, sizeof dir);
    copy_image(dir, LATIN1_NAME);
    vte_test_run *r = vte_test_shellf(
        dir, "'%s' evaluate --model '%s' --method rollout --quiet --summary eval.json caf*.png", VTE_CLI_PATH, TINY);
    cr_assert_eq(r->status, 0, "exit %d: %s", r->status, r->err);
    json_t *root = load_json(dir, "eval.json");
    json_t *record = record_of(root, LATIN1_NAME);
    cr_assert_str_eq(json_string_value(json_object_get(record, "image")), REPAIRED_NAME);
    cr_assert_str_eq(json_string_value(json_object_get(record, "status")), "ok");
    json_decref(root);
}
