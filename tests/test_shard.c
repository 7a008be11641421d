/* Splitting a data set across machines (docs/scale.md), run as a scheduler would: N runs with --shard I/N and
 * merge-summaries give what one run over every input gives; merge refuses parts that do not make one whole run;
 * bad --shard values and missing scheduler variables are usage errors; --skip-existing after an interrupted run
 * does only what is missing. */
#include <criterion/criterion.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "test_support.h"

#define TINY VTE_FIXTURES_DIR "/models/vit-tiny"
#define FASHION VTE_SOURCE_DIR "/images/fashion"
/* The scheduler variables --shard auto reads, unset so that the test's own environment cannot leak in. */
#define NO_SCHEDULER                                                                                                \
    "-u SLURM_ARRAY_TASK_ID -u SLURM_ARRAY_TASK_MIN -u SLURM_ARRAY_TASK_STEP -u SLURM_ARRAY_TASK_COUNT "          \
    "-u JOB_COMPLETION_INDEX"
/* What every explain run of these tests does: two methods (one without, one with a backward pass), pictures and
 * maps. */
#define EXPLAIN "explain --model '" TINY "' --method rollout,legrad --save-raw --recursive --quiet"
#define INPUT_COUNT 11

/* `dir`/in: nine garments, a second bag.png in a sub-folder (bag_2 in every shard, as in one run) and a file that
 * is no image (a failure, which keeps its place in the list): 11 inputs, divisible by neither 3 nor 7. */
static void make_inputs(const char *dir) {
    vte_test_run *r = vte_test_shellf(
        dir,
        "mkdir -p in/sub && for f in ankle_boot bag coat dress pullover sandal shirt sneaker t-shirt_top; do "
        "cp '%s/'$f.png in/; done && cp '%s/bag.png' in/sub/ && echo 'not an image' > in/broken.png",
        FASHION, FASHION);
    cr_assert_eq(r->status, 0, "%s", r->err);
}

/* A folder whose "in" is `inputs`/in, so that its runs name the same input paths ("in/...") and output paths
 * ("out/...") as a run in `inputs`. */
static void linked_dir(const char *inputs, char *dir, size_t size) {
    vte_test_new_dir(dir, size);
    cr_assert_eq(vte_test_shellf(dir, "ln -s '%s/in' in", inputs)->status, 0);
}

static vte_test_run *run_in(const char *dir, const char *env, const char *args) {
    return vte_test_cli(dir, env, args);
}

static json_t *load_json(const char *dir, const char *name) {
    char path[8192];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    json_error_t error;
    json_t *root = json_load_file(path, 0, &error);
    cr_assert_not_null(root, "%s: %s", path, error.text);
    return root;
}

static int exists(const char *dir, const char *name) {
    char path[8192];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    return access(path, F_OK) == 0;
}

/* Whether `a` and `b` are the same JSON but for "times_ms" (measured per run) and reals within `tolerance` (a
 * batch of 8 and a batch of 1 sum their GEMMs in another order); the first difference goes to `where`. */
static int same_summary(const json_t *a, const json_t *b, double tolerance, char *where, size_t size,
                        const char *at) {
    if (json_is_number(a) && json_is_number(b) && (json_is_real(a) || json_is_real(b))) {
        if (fabs(json_number_value(a) - json_number_value(b)) <= tolerance) return 1;
    } else if (json_is_object(a) && json_is_object(b)) {
        const char *key;
        json_t *value;
        char inner[1024];
        if (json_object_size(a) != json_object_size(b)) {
            snprintf(where, size, "%s: %zu and %zu fields", at, json_object_size(a), json_object_size(b));
            return 0;
        }
        json_object_foreach((json_t *)a, key, value) {
            if (strcmp(key, "times_ms") == 0) continue;
            snprintf(inner, sizeof inner, "%s.%s", at, key);
            const json_t *other = json_object_get(b, key);
            if (!other) {
                snprintf(where, size, "%s: only in the first", inner);
                return 0;
            }
            if (!same_summary(value, other, tolerance, where, size, inner)) return 0;
        }
        return 1;
    } else if (json_is_array(a) && json_is_array(b) && json_array_size(a) == json_array_size(b)) {
        char inner[1024];
        for (size_t i = 0; i < json_array_size(a); i++) {
            snprintf(inner, sizeof inner, "%s[%zu]", at, i);
            if (!same_summary(json_array_get(a, i), json_array_get(b, i), tolerance, where, size, inner)) return 0;
        }
        return 1;
    } else if (json_equal((json_t *)a, (json_t *)b)) {
        return 1;
    }
    char *x = json_dumps(a, JSON_COMPACT | JSON_ENCODE_ANY), *y = json_dumps(b, JSON_COMPACT | JSON_ENCODE_ANY);
    snprintf(where, size, "%s: %.300s and %.300s", at, x ? x : "?", y ? y : "?");
    free(x);
    free(y);
    return 0;
}

static int compare_strings(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

/* The rank of `image` among the sorted paths of the whole run's records. */
static int sorted_rank(const json_t *whole, const char *image) {
    const json_t *images = json_object_get(whole, "images");
    const char *paths[64];
    const size_t n = json_array_size(images);
    cr_assert_leq(n, 64);
    for (size_t i = 0; i < n; i++) paths[i] = json_string_value(json_object_get(json_array_get(images, i), "image"));
    qsort(paths, n, sizeof *paths, compare_strings);
    for (size_t i = 0; i < n; i++)
        if (strcmp(paths[i], image) == 0) return (int)i;
    cr_assert_fail("%s is not an input of the whole run", image);
    return -1;
}

/* Runs the whole job once and as `shards` shards, merges those, and checks the two summaries and outputs. */
static void check_shards_equal_one_run(int shards) {
    char whole_dir[4096], shard_dir[4096], args[16384], list[8192] = "";
    vte_test_new_dir(whole_dir, sizeof whole_dir);
    make_inputs(whole_dir);
    vte_test_run *r = run_in(whole_dir, NO_SCHEDULER, EXPLAIN " --out out --summary whole.json in");
    cr_assert_eq(r->status, 1, "one input is no image: exit 1, got %d: %s", r->status, r->err);
    json_t *whole = load_json(whole_dir, "whole.json");
    cr_assert_eq(json_array_size(json_object_get(whole, "images")), INPUT_COUNT);

    linked_dir(whole_dir, shard_dir, sizeof shard_dir);
    int failed_runs = 0;
    size_t taken = 0;
    for (int i = 0; i < shards; i++) {
        snprintf(args, sizeof args, EXPLAIN " --out out --summary part%d.json --shard %d/%d in", i, i, shards);
        r = run_in(shard_dir, NO_SCHEDULER, args);
        cr_assert(r->status == 0 || r->status == 1, "shard %d/%d: exit %d: %s", i, shards, r->status, r->err);
        failed_runs += r->status == 1;
        /* Round robin over the sorted paths: the k-th goes to shard k mod N, and nowhere else. */
        char name[64];
        snprintf(name, sizeof name, "part%d.json", i);
        json_t *part = load_json(shard_dir, name), *record;
        size_t k;
        json_array_foreach(json_object_get(part, "images"), k, record) {
            const char *image = json_string_value(json_object_get(record, "image"));
            cr_assert_eq(sorted_rank(whole, image) % shards, i, "%s is in shard %d/%d", image, i, shards);
            taken++;
        }
        json_decref(part);
        size_t used = strlen(list);
        snprintf(list + used, sizeof list - used, " part%d.json", i);
    }
    cr_assert_eq(taken, INPUT_COUNT, "%zu images over %d shards, not each of %d once", taken, shards, INPUT_COUNT);
    cr_assert_eq(failed_runs, 1, "exactly the shard with the broken file exits 1");

    snprintf(args, sizeof args, "merge-summaries merged.json%s", list);
    r = run_in(shard_dir, NO_SCHEDULER, args);
    cr_assert_eq(r->status, 0, "merge: %s", r->err);
    cr_assert(strstr(r->out, "11 images from"), "%s", r->out);
    json_t *merged = load_json(shard_dir, "merged.json");
    char where[2048] = "";
    cr_assert(same_summary(whole, merged, 1e-4, where, sizeof where, "summary"),
              "%d shards merged differ from one run at %s", shards, where);
    /* Every file the summary lists is there, and no other: the second bag is bag_2 in its shard too. */
    cr_assert(exists(shard_dir, "out/rollout/bag_2_rollout.png") && exists(shard_dir, "out/legrad/bag_legrad.npy"));
    r = vte_test_shellf(shard_dir, "find out -type f | wc -l");
    cr_assert_eq(atoi(r->out), 10 * 2 * 2, "10 images, 2 methods, 2 formats: %s", r->out);
    json_decref(merged);
    json_decref(whole);
}

Test(shard, one_shard_and_merge_equal_one_run) { check_shards_equal_one_run(1); }
Test(shard, three_shards_and_merge_equal_one_run) { check_shards_equal_one_run(3); }
Test(shard, seven_shards_and_merge_equal_one_run) { check_shards_equal_one_run(7); }

Test(shard, evaluate_shards_and_merge_equal_one_run) {
    /* images/: five photos, three with masks; sorted, shard 2/3 takes coffee.png alone, which has none, so its
     * records lack the uniform map's row that the whole run gives every image: the merge adds it back, and
     * computes the counts and means again over all five. */
    char dir[4096], args[16384], list[8192] = "";
    vte_test_new_dir(dir, sizeof dir);
    const char *job = "evaluate --model '" TINY "' --method rollout --random-seeds 1 --masks tests/fixtures/masks "
                      "--quiet";
    snprintf(args, sizeof args, "%s --summary '%s/whole.json' images", job, dir);
    vte_test_run *r = run_in(VTE_SOURCE_DIR, NO_SCHEDULER, args);
    cr_assert_eq(r->status, 0, "%s", r->err);
    for (int i = 0; i < 3; i++) {
        snprintf(args, sizeof args, "%s --summary '%s/part%d.json' --shard %d/3 images", job, dir, i, i);
        r = run_in(VTE_SOURCE_DIR, NO_SCHEDULER, args);
        cr_assert_eq(r->status, 0, "%s", r->err);
        const size_t used = strlen(list);
        snprintf(list + used, sizeof list - used, " part%d.json", i);
    }
    json_t *lone = load_json(dir, "part2.json");
    cr_assert_eq(json_integer_value(json_object_get(lone, "masked")), 0, "coffee.png has no mask");
    json_decref(lone);
    snprintf(args, sizeof args, "merge-summaries merged.json%s", list);
    r = run_in(dir, "", args);
    cr_assert_eq(r->status, 0, "%s", r->err);
    json_t *whole = load_json(dir, "whole.json"), *merged = load_json(dir, "merged.json");
    cr_assert_eq(json_integer_value(json_object_get(merged, "masked")), 3);
    char where[2048] = "";
    cr_assert(same_summary(whole, merged, 1e-4, where, sizeof where, "summary"),
              "3 evaluate shards merged differ from one run at %s", where);
    json_decref(whole);
    json_decref(merged);
}

Test(shard, merge_refuses_parts_that_are_not_one_whole_run) {
    char dir[4096], args[16384];
    vte_test_new_dir(dir, sizeof dir);
    make_inputs(dir);
    for (int i = 0; i < 3; i++) {
        snprintf(args, sizeof args, EXPLAIN " --out out --summary part%d.json --shard %d/3 in", i, i);
        cr_assert_leq(run_in(dir, NO_SCHEDULER, args)->status, 1);
    }
    /* A shard given twice. */
    vte_test_run *r = run_in(dir, "", "merge-summaries m.json part0.json part1.json part1.json part2.json");
    cr_assert_eq(r->status, 1, "%s", r->err);
    cr_assert(strstr(r->err, "part1.json and part1.json are both shard 1/3"), "%s", r->err);
    cr_assert(!exists(dir, "m.json"), "nothing written");
    /* A shard missing. */
    r = run_in(dir, "", "merge-summaries m.json part0.json part2.json");
    cr_assert_eq(r->status, 1, "%s", r->err);
    cr_assert(strstr(r->err, "1 of the 3 shards is missing: 1"), "%s", r->err);
    cr_assert(!exists(dir, "m.json"));
    /* A shard of another run: other methods made other files. */
    cr_assert_leq(run_in(dir, NO_SCHEDULER,
                         "explain --model '" TINY "' --method rollout --save-raw --recursive --quiet --out other "
                         "--summary other1.json --shard 1/3 in")
                      ->status,
                  1);
    r = run_in(dir, "", "merge-summaries m.json part0.json other1.json part2.json");
    cr_assert_eq(r->status, 1, "%s", r->err);
    cr_assert(strstr(r->err, "part0.json and other1.json are not parts of one run: their \"methods\" differs"), "%s",
              r->err);
    /* A shard whose run was interrupted lists fewer images than it took. */
    json_t *part = load_json(dir, "part2.json");
    cr_assert_eq(json_array_remove(json_object_get(part, "images"), 0), 0);
    char path[8192];
    snprintf(path, sizeof path, "%s/cut2.json", dir);
    cr_assert_eq(json_dump_file(part, path, 0), 0);
    json_decref(part);
    r = run_in(dir, "", "merge-summaries m.json part0.json part1.json cut2.json");
    cr_assert_eq(r->status, 1, "%s", r->err);
    cr_assert(strstr(r->err, "cut2.json (shard 2/3) lists 2 of its 3 images"), "%s", r->err);
    /* One image in two whole runs' summaries. */
    cr_assert_leq(run_in(dir, NO_SCHEDULER, EXPLAIN " --out out --summary whole.json in")->status, 1);
    r = run_in(dir, "", "merge-summaries m.json whole.json whole.json");
    cr_assert_eq(r->status, 1, "%s", r->err);
    cr_assert(strstr(r->err, "image in/ankle_boot.png (input 0) is in both whole.json and whole.json"), "%s", r->err);
    r = run_in(dir, "", "merge-summaries m.json whole.json part1.json");
    cr_assert_eq(r->status, 1, "%s", r->err);
    cr_assert(strstr(r->err, "part1.json is shard 1/3 but whole.json is a run over every input"), "%s", r->err);
    /* Usage. */
    r = run_in(dir, "", "merge-summaries m.json");
    cr_assert_eq(r->status, 2, "%s", r->err);
    r = run_in(dir, "", "merge-summaries m.csv part0.json");
    cr_assert_eq(r->status, 2, "%s", r->err);
    cr_assert(strstr(r->err, "OUT needs a file name ending in .json"), "%s", r->err);
    cr_assert(!exists(dir, "m.json"));
    /* The three right ones do merge. */
    r = run_in(dir, "", "merge-summaries m.json part2.json part0.json part1.json");
    cr_assert_eq(r->status, 0, "%s", r->err);
}

Test(shard, bad_shard_values_and_missing_scheduler_variables_are_usage_errors) {
    static const char *const values[] = {"3/3", "-1/3", "1/0", "1", "a/b", "1/3x", "", "auto/0"};
    static const char *const commands[] = {"explain --method rollout", "classify"};
    char args[4096];
    for (size_t c = 0; c < 2; c++)
        for (size_t v = 0; v < sizeof values / sizeof *values; v++) {
            snprintf(args, sizeof args, "%s --model '%s' --shard '%s' images/chelsea.png", commands[c], TINY,
                     values[v]);
            vte_test_run *r = run_in(VTE_SOURCE_DIR, NO_SCHEDULER, args);
            cr_assert_eq(r->status, 2, "%s: exit %d: %s", args, r->status, r->err);
            cr_assert(strstr(r->err, "--shard"), "%s: the message names the option: %s", args, r->err);
            cr_assert_str_eq(r->out, "", "%s: nothing done", args);
        }
    const struct {
        const char *env, *value, *message;
    } cases[] = {
        {NO_SCHEDULER, "auto", "neither SLURM_ARRAY_TASK_ID (a Slurm job array) nor JOB_COMPLETION_INDEX"},
        {NO_SCHEDULER " SLURM_ARRAY_TASK_ID=2", "auto", "SLURM_ARRAY_TASK_COUNT is not"},
        {NO_SCHEDULER " SLURM_ARRAY_TASK_ID=two SLURM_ARRAY_TASK_COUNT=3", "auto", "SLURM_ARRAY_TASK_ID is 'two'"},
        {NO_SCHEDULER " SLURM_ARRAY_TASK_ID=3 SLURM_ARRAY_TASK_COUNT=3", "auto", "is not one of 3 shards"},
        {NO_SCHEDULER " SLURM_ARRAY_TASK_ID=1 SLURM_ARRAY_TASK_COUNT=3", "auto/4", "SLURM_ARRAY_TASK_COUNT is 3, not 4"},
        {NO_SCHEDULER " JOB_COMPLETION_INDEX=1", "auto", "give them as --shard auto/N"},
        {NO_SCHEDULER " JOB_COMPLETION_INDEX=4", "auto/4", "JOB_COMPLETION_INDEX is 4, not below the 4 shards"},
        {NO_SCHEDULER " JOB_COMPLETION_INDEX=", "auto/4", "JOB_COMPLETION_INDEX is ''"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        snprintf(args, sizeof args, "explain --method rollout --model '%s' --shard %s images/chelsea.png", TINY,
                 cases[i].value);
        vte_test_run *r = run_in(VTE_SOURCE_DIR, cases[i].env, args);
        cr_assert_eq(r->status, 2, "%s %s: exit %d: %s", cases[i].env, args, r->status, r->err);
        cr_assert(strstr(r->err, cases[i].message), "%s: expected '%s' in: %s", cases[i].env, cases[i].message, r->err);
    }
}

/* Appends a run's output to `all` (of `size` bytes, which it must fit). */
static void append_out(char *all, size_t size, const char *out) {
    const size_t used = strlen(all), length = strlen(out);
    cr_assert_lt(used + length, size, "the outputs do not fit the test's buffer");
    memcpy(all + used, out, length + 1);
}

Test(shard, auto_takes_the_shard_from_slurm_and_kubernetes) {
    static char all[4 * sizeof((vte_test_run *)0)->out], whole[sizeof((vte_test_run *)0)->out];
    char dir[4096];
    all[0] = whole[0] = '\0';
    vte_test_new_dir(dir, sizeof dir);
    make_inputs(dir);
    const char *classify = "classify --model '" TINY "' --topk 1 --recursive in";
    vte_test_run *r = run_in(dir, NO_SCHEDULER, classify);
    cr_assert_eq(r->status, 1, "%s", r->err);
    append_out(whole, sizeof whole, r->out);
    /* A Slurm array 1-3: tasks 1, 2, 3 are shards 0, 1, 2. */
    for (int task = 1; task <= 3; task++) {
        char env[512], args[1024], notice[128];
        snprintf(env, sizeof env, NO_SCHEDULER " SLURM_ARRAY_TASK_ID=%d SLURM_ARRAY_TASK_MIN=1 SLURM_ARRAY_TASK_COUNT=3",
                 task);
        snprintf(args, sizeof args, "classify --model '%s' --topk 1 --recursive --shard auto in", TINY);
        r = run_in(dir, env, args);
        cr_assert(r->status <= 1, "%s", r->err);
        snprintf(notice, sizeof notice, "shard %d/3 (SLURM_ARRAY_TASK_ID=%d of 1-3): %d of 11 images", task - 1, task,
                 task == 3 ? 3 : 4);
        cr_assert(strstr(r->err, notice), "expected '%s' in: %s", notice, r->err);
        append_out(all, sizeof all, r->out);
    }
    /* Each image's lines come once over the three shards, the same as in one run. */
    for (char *line = strtok(whole, "\n"); line; line = strtok(NULL, "\n")) {
        if (strncmp(line, "in/", 3) != 0) continue;
        char *at = strstr(all, line);
        cr_assert_not_null(at, "%s is in no shard", line);
        cr_assert_null(strstr(at + 1, line), "%s is in two shards", line);
    }
    /* A Kubernetes Indexed Job: the index from JOB_COMPLETION_INDEX, the count from auto/N. */
    r = run_in(dir, NO_SCHEDULER " JOB_COMPLETION_INDEX=2",
               "classify --model '" TINY "' --topk 1 --recursive --shard auto/3 in");
    cr_assert(r->status <= 1, "%s", r->err);
    cr_assert(strstr(r->err, "shard 2/3 (JOB_COMPLETION_INDEX=2): 3 of 11 images"), "%s", r->err);
}

Test(shard, a_shard_without_images_writes_an_empty_summary_that_merges) {
    char dir[4096];
    vte_test_new_dir(dir, sizeof dir);
    cr_assert_eq(vte_test_shellf(dir, "mkdir in && cp '%s/bag.png' in/", FASHION)->status, 0);
    vte_test_run *r = run_in(dir, NO_SCHEDULER,
                             "explain --model '" TINY "' --method rollout --out out --summary p1.json --shard 1/2 in");
    cr_assert_eq(r->status, 0, "no image is no error for a shard: %s", r->err);
    cr_assert(strstr(r->err, "shard 1/2 (--shard): 0 of 1 image"), "%s", r->err);
    cr_assert_null(strstr(r->err, "model:"), "no model loaded for nothing: %s", r->err);
    json_t *part = load_json(dir, "p1.json");
    cr_assert_eq(json_array_size(json_object_get(part, "images")), 0);
    cr_assert_eq(json_integer_value(json_object_get(json_object_get(part, "shard"), "images")), 0);
    json_decref(part);
    r = run_in(dir, NO_SCHEDULER,
               "explain --model '" TINY "' --method rollout --out out --summary p0.json --shard 0/2 --quiet in");
    cr_assert_eq(r->status, 0, "%s", r->err);
    r = run_in(dir, "", "merge-summaries m.json p0.json p1.json");
    cr_assert_eq(r->status, 0, "%s", r->err);
}

/* ---------------------------------------------------------------- --skip-existing */

typedef struct file_stamp {
    ino_t inode;
    struct timespec modified;
} file_stamp;

/* A file's inode and modification time: a file written again (under a temporary name, renamed over it) changes
 * both. */
static file_stamp stamp(const char *dir, const char *name) {
    char path[8192];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    struct stat info;
    cr_assert_eq(stat(path, &info), 0, "%s is missing", path);
    return (file_stamp){info.st_ino, info.st_mtim};
}

static int same_stamp(file_stamp a, file_stamp b) {
    return a.inode == b.inode && a.modified.tv_sec == b.modified.tv_sec && a.modified.tv_nsec == b.modified.tv_nsec;
}

static const char *status_of(const json_t *summary, const char *image) {
    size_t i;
    json_t *record;
    json_array_foreach(json_object_get(summary, "images"), i, record) {
        if (strcmp(json_string_value(json_object_get(record, "image")), image) == 0)
            return json_string_value(json_object_get(record, "status"));
    }
    cr_assert_fail("no record of %s", image);
    return NULL;
}

Test(shard, skip_existing_after_an_interrupted_run_does_only_the_rest) {
    char dir[4096];
    vte_test_new_dir(dir, sizeof dir);
    make_inputs(dir);
    vte_test_run *r = run_in(dir, NO_SCHEDULER, EXPLAIN " --out out --summary run.json in");
    cr_assert_eq(r->status, 1, "%s", r->err);
    json_t *first = load_json(dir, "run.json");
    /* An interrupted run: one image lacks one file, another all of its files (with their folders' others kept). */
    cr_assert_eq(vte_test_shellf(dir, "rm out/legrad/coat_legrad.npy out/rollout/dress_rollout.png "
                                      "out/rollout/dress_rollout.npy out/legrad/dress_legrad.png "
                                      "out/legrad/dress_legrad.npy")
                     ->status,
                 0);
    const file_stamp redone = stamp(dir, "out/rollout/coat_rollout.png"),
                     skipped = stamp(dir, "out/legrad/bag_2_legrad.npy");
    r = run_in(dir, NO_SCHEDULER,
               "explain --model '" TINY "' --method rollout,legrad --save-raw --recursive --out out --summary "
               "run.json --skip-existing in");
    cr_assert_eq(r->status, 1, "the broken file fails again: %s", r->err);
    cr_assert(strstr(r->out, "Done: 2 images explained, 8 skipped (their files were there), 1 failed"), "%s", r->out);
    cr_assert(strstr(r->out, "in/coat.png \u2192") && strstr(r->out, "in/dress.png \u2192"), "%s", r->out);
    cr_assert_null(strstr(r->out, "in/bag.png \u2192"), "a whole image is not done again: %s", r->out);
    cr_assert(exists(dir, "out/legrad/coat_legrad.npy") && exists(dir, "out/legrad/dress_legrad.png"));
    cr_assert(same_stamp(skipped, stamp(dir, "out/legrad/bag_2_legrad.npy")), "a skipped image's file was rewritten");
    cr_assert(!same_stamp(redone, stamp(dir, "out/rollout/coat_rollout.png")),
              "an image with a file missing is done again, all of it");
    /* The earlier summary's records are kept: the resumed one reads like the first. */
    json_t *resumed = load_json(dir, "run.json");
    char where[2048] = "";
    cr_assert(same_summary(first, resumed, 1e-4, where, sizeof where, "summary"), "resumed summary differs at %s",
              where);
    json_decref(resumed);

    /* Killed before it wrote a summary: the skipped images are listed as skipped, with their files. */
    cr_assert_eq(vte_test_shellf(dir, "rm run.json out/rollout/sneaker_rollout.png")->status, 0);
    r = run_in(dir, NO_SCHEDULER,
               "explain --model '" TINY "' --method rollout,legrad --save-raw --recursive --out out --summary "
               "run.json --skip-existing in");
    cr_assert_eq(r->status, 1, "%s", r->err);
    cr_assert(strstr(r->out, "Done: 1 image explained, 9 skipped"), "%s", r->out);
    resumed = load_json(dir, "run.json");
    cr_assert_str_eq(status_of(resumed, "in/sneaker.png"), "ok");
    cr_assert_str_eq(status_of(resumed, "in/broken.png"), "failed");
    cr_assert_str_eq(status_of(resumed, "in/sub/bag.png"), "skipped");
    json_t *record = json_array_get(json_object_get(resumed, "images"), 10);
    cr_assert_str_eq(json_string_value(json_object_get(record, "image")), "in/sub/bag.png", "in list order");
    cr_assert_eq(json_array_size(json_object_get(record, "files")), 4, "its four files");
    cr_assert_str_eq(json_string_value(json_array_get(json_object_get(record, "files"), 0)),
                     "out/rollout/bag_2_rollout.npy");
    json_decref(resumed);
    json_decref(first);
}

Test(shard, skip_existing_looks_for_the_files_the_options_write) {
    char dir[4096];
    vte_test_new_dir(dir, sizeof dir);
    make_inputs(dir);
    const char *job = "explain --model '" TINY "' --method rollout --no-pictures --save-raw --grid --topk 2 "
                      "--recursive --out out --summary run.json";
    char args[4096];
    snprintf(args, sizeof args, "%s --quiet in", job);
    cr_assert_eq(run_in(dir, NO_SCHEDULER, args)->status, 1);
    /* Names carry the top classes: the earlier summary says which. No .png but the grids. */
    vte_test_run *r = vte_test_shellf(dir, "ls out/rollout | grep -c png; ls out/grid | wc -l; ls out/rollout | wc -l");
    cr_assert_str_eq(r->out, "0\n20\n20\n", "2 classes of 10 images, a grid and a map each: %s", r->out);
    cr_assert_eq(vte_test_shellf(dir, "rm out/grid/shirt_c*_grid.png")->status, 0);
    snprintf(args, sizeof args, "%s --skip-existing in", job);
    r = run_in(dir, NO_SCHEDULER, args);
    cr_assert_eq(r->status, 1, "%s", r->err);
    cr_assert(strstr(r->out, "Done: 1 image explained, 9 skipped"), "%s", r->out);
    cr_assert(strstr(r->out, "in/shirt.png \u2192"), "%s", r->out);
    /* Without the earlier summary the classes are unknown: said, and everything done again. */
    cr_assert_eq(vte_test_shellf(dir, "rm run.json")->status, 0);
    r = run_in(dir, NO_SCHEDULER, args);
    cr_assert_eq(r->status, 1, "%s", r->err);
    cr_assert(strstr(r->err, "--skip-existing with --topk"), "%s", r->err);
    cr_assert(strstr(r->out, "Done: 10 images explained, 0 skipped"), "%s", r->out);
    /* Nothing to look for. */
    r = run_in(dir, NO_SCHEDULER,
               "explain --model '" TINY "' --method rollout --no-pictures --summary s.json --skip-existing in");
    cr_assert_eq(r->status, 2, "%s", r->err);
    cr_assert(strstr(r->err, "--skip-existing looks for an image's output files"), "%s", r->err);
}
