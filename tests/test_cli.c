/* The vitexplain command line, run as a user would: outputs, messages and exit status. */
#include <criterion/criterion.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "test_support.h"
#include "util/npy.h"

typedef vte_test_run run_result;

/* Runs `vitexplain ARGS` from the source folder with stdout and stderr captured. */
static run_result *run_cli(const char *args) { return vte_test_cli(VTE_SOURCE_DIR, "", args); }

static float *reference_logits(const char *stem, size_t *count) {
    char path[256];
    snprintf(path, sizeof path, "reference/vit-tiny/%s_logits.npy", stem);
    vte_npy npy = {0};
    vte_error err = {0};
    cr_assert_eq(vte_npy_read(vte_test_fixture(path), &npy, &err), VTE_OK, "%s", err.message);
    *count = npy.count;
    return npy.data;
}

Test(cli, classify_json_matches_pytorch_end_to_end) {
    /* From the image file to the logits: decoding, Pillow-exact preprocessing and the forward pass. */
    run_result *r = run_cli("classify --model tests/fixtures/models/vit-tiny --topk 3 --json images/chelsea.png "
                            "images/rocket.jpg");
    cr_assert_eq(r->status, 0, "exit %d, stderr: %s", r->status, r->err);
    const char *stems[2] = {"chelsea", "rocket"};
    char *line = strtok(r->out, "\n");
    for (int i = 0; i < 2; i++) {
        cr_assert_not_null(line, "missing JSON line %d in: %s", i, r->out);
        json_error_t jerr;
        json_t *obj = json_loads(line, 0, &jerr);
        cr_assert_not_null(obj, "not JSON: %s (%s)", line, jerr.text);
        const char *image = json_string_value(json_object_get(obj, "image"));
        cr_assert(image && strstr(image, stems[i]), "image field: %s", line);
        json_t *top = json_object_get(obj, "top");
        cr_assert_eq(json_array_size(top), 3, "3 classes expected: %s", line);
        size_t count = 0;
        float *want = reference_logits(stems[i], &count);
        double max = want[0], sum = 0;
        for (size_t j = 1; j < count; j++) max = want[j] > max ? want[j] : max;
        for (size_t j = 0; j < count; j++) sum += exp(want[j] - max);
        double previous = INFINITY;
        for (size_t k = 0; k < 3; k++) {
            json_t *entry = json_array_get(top, k);
            int id = (int)json_integer_value(json_object_get(entry, "id"));
            double logit = json_real_value(json_object_get(entry, "logit"));
            double prob = json_real_value(json_object_get(entry, "prob"));
            cr_assert(id >= 0 && (size_t)id < count);
            cr_assert(json_is_string(json_object_get(entry, "label")));
            cr_assert_float_eq(logit, want[id], 2e-4, "%s class %d: logit %f, PyTorch %f", stems[i], id, logit,
                               (double)want[id]);
            cr_assert_float_eq(prob, exp(want[id] - max) / sum, 1e-4);
            cr_assert_leq(logit, previous, "classes are sorted by logit");
            previous = logit;
        }
        /* The best class is PyTorch's argmax. */
        int best = 0;
        for (size_t j = 1; j < count; j++)
            if (want[j] > want[best]) best = (int)j;
        cr_assert_eq(json_integer_value(json_object_get(json_array_get(top, 0), "id")), best);
        free(want);
        json_decref(obj);
        line = strtok(NULL, "\n");
    }
}

Test(cli, classify_text_output_names_labels) {
    run_result *r = run_cli("classify --model tests/fixtures/models/vit-odd --topk 2 images/coffee.png");
    cr_assert_eq(r->status, 0, "stderr: %s", r->err);
    cr_assert(strstr(r->out, "images/coffee.png"), "%s", r->out);
    cr_assert(strstr(r->out, " 1. ") && strstr(r->out, " 2. ") && !strstr(r->out, " 3. "), "%s", r->out);
    cr_assert(strstr(r->out, "prob "), "%s", r->out);
}

Test(cli, unreadable_image_is_reported_and_the_rest_done) {
    run_result *r = run_cli("classify --model tests/fixtures/models/vit-tiny --topk 1 images/chelsea.png "
                            "images/no-such-image.png images/horse.png");
    cr_assert_eq(r->status, 1, "exit 1 when some inputs failed; stderr: %s", r->err);
    cr_assert(strstr(r->err, "images/no-such-image.png"), "stderr names the file: %s", r->err);
    cr_assert(strstr(r->out, "images/chelsea.png") && strstr(r->out, "images/horse.png"), "others done: %s", r->out);
}

Test(cli, missing_model_is_a_setup_error) {
    run_result *r = run_cli("classify --model /nonexistent/model images/chelsea.png");
    cr_assert_eq(r->status, 3, "stderr: %s", r->err);
    cr_assert(strstr(r->err, "/nonexistent/model") && strstr(r->err, "not found"), "%s", r->err);
    cr_assert_str_eq(r->out, "");
}

Test(cli, usage_errors_exit_2) {
    run_result *r = run_cli("classify --model tests/fixtures/models/vit-tiny");
    cr_assert_eq(r->status, 2);
    cr_assert(strstr(r->err, "no INPUT given"), "%s", r->err);
    r = run_cli("classify --topk 0 images/chelsea.png");
    cr_assert_eq(r->status, 2);
    cr_assert(strstr(r->err, "--topk"), "%s", r->err);
    r = run_cli("classify --frobnicate images/chelsea.png");
    cr_assert_eq(r->status, 2);
    cr_assert(strstr(r->err, "unknown option '--frobnicate'"), "%s", r->err);
    r = run_cli("frobnicate");
    cr_assert_eq(r->status, 2);
    r = run_cli("");
    cr_assert_eq(r->status, 2);
    cr_assert(strstr(r->err, "Usage: vitexplain"), "%s", r->err);
}

Test(cli, help_and_version) {
    run_result *r = run_cli("--help");
    cr_assert_eq(r->status, 0);
    cr_assert(strstr(r->out, "classify") && strstr(r->out, "devices") && strstr(r->out, "Exit status"), "%s", r->out);
    r = run_cli("classify --help");
    cr_assert_eq(r->status, 0);
    cr_assert(strstr(r->out, "--topk") && strstr(r->out, "--json"), "%s", r->out);
    r = run_cli("--version");
    cr_assert_eq(r->status, 0);
    cr_assert(strstr(r->out, "vitexplain " VTE_VERSION_STRING), "%s", r->out);
}

Test(cli, devices_lists_the_device) {
    run_result *r = run_cli("devices");
    cr_assert_eq(r->status, 0, "%s", r->err);
    cr_assert(strstr(r->out, "Platform 0") && strstr(r->out, "[0]") && strstr(r->out, "compute units"), "%s", r->out);
    cr_assert(strstr(r->out, "* [0]"), "the default device is marked: %s", r->out);
}

Test(cli, unknown_device_is_a_setup_error) {
    run_result *r = run_cli("classify --device no-such-device --model tests/fixtures/models/vit-tiny images/chelsea.png");
    cr_assert_eq(r->status, 3);
    cr_assert(strstr(r->err, "no OpenCL device matches 'no-such-device'"), "%s", r->err);
}

/* ---------------------------------------------------------------- explain */

static float *read_map(const char *path, int expected_h, int expected_w) {
    vte_npy npy = {0};
    vte_error err = {0};
    cr_assert_eq(vte_npy_read(path, &npy, &err), VTE_OK, "%s", err.message);
    cr_assert_eq(npy.rank, 2, "%s: rank %d", path, npy.rank);
    cr_assert(npy.shape[0] == expected_h && npy.shape[1] == expected_w, "%s: shape [%lld, %lld]", path,
              (long long)npy.shape[0], (long long)npy.shape[1]);
    return npy.data;
}

static void check_against_reference(const char *written, const char *reference) {
    float *got = read_map(written, 4, 4);
    char path[512];
    snprintf(path, sizeof path, "reference/vit-tiny/explain/%s.npy", reference);
    vte_npy want = {0};
    vte_error err = {0};
    cr_assert_eq(vte_npy_read(vte_test_fixture(path), &want, &err), VTE_OK, "%s", err.message);
    vte_test_assert_close(got, want.data, 16, 1e-4, 0, written);
    free(got);
    free(want.data);
}

Test(cli, explain_writes_every_method_at_the_seed_paths) {
    char out[4096];
    snprintf(out, sizeof out, "%s", vte_test_temp_dir());
    char args[8192];
    snprintf(args, sizeof args,
             "explain --model tests/fixtures/models/vit-tiny --method all --save-raw --out '%s' images/chelsea.png "
             "images/rocket.jpg",
             out);
    run_result *r = run_cli(args);
    cr_assert_eq(r->status, 0, "stderr: %s", r->err);
    /* chelsea's top class is 0, rocket's 3 (reference/vit-tiny/explain/<stem>_targets.npy) */
    const struct { const char *file, *reference; } expected[] = {
        {"rollout/chelsea_rollout.npy", "chelsea_rollout"},     {"gmar/l1_chelsea_gmar.npy", "chelsea_c0_gmar_l1"},
        {"gmar/l2_chelsea_gmar.npy", "chelsea_c0_gmar_l2"},    {"legrad/chelsea_legrad.npy", "chelsea_c0_legrad"},
        {"chefer/chelsea_chefer.npy", "chelsea_c0_chefer"},    {"rollout/rocket_rollout.npy", "rocket_rollout"},
        {"gmar/l1_rocket_gmar.npy", "rocket_c3_gmar_l1"},      {"legrad/rocket_legrad.npy", "rocket_c3_legrad"},
        {"chefer/rocket_chefer.npy", "rocket_c3_chefer"},
    };
    for (size_t i = 0; i < sizeof expected / sizeof expected[0]; i++) {
        char path[8192];
        snprintf(path, sizeof path, "%s/%s", out, expected[i].file);
        check_against_reference(path, expected[i].reference);
    }
    cr_assert(strstr(r->out, "images/chelsea.png") && strstr(r->out, "images/rocket.jpg"), "%s", r->out);
    cr_assert(strstr(r->out, "forward") && strstr(r->out, "backward") && strstr(r->out, "explanation"),
              "per-stage timings: %s", r->out);
}

Test(cli, explain_topk_and_class_name_the_files_by_class) {
    char out[4096];
    snprintf(out, sizeof out, "%s", vte_test_temp_dir());
    char args[8192], path[8192];
    snprintf(args, sizeof args,
             "explain --model tests/fixtures/models/vit-tiny --method gmar --norm l2 --topk 2 --save-raw --out '%s' "
             "images/chelsea.png",
             out);
    run_result *r = run_cli(args);
    cr_assert_eq(r->status, 0, "stderr: %s", r->err);
    snprintf(path, sizeof path, "%s/gmar/l2_chelsea_c0_gmar.npy", out);
    check_against_reference(path, "chelsea_c0_gmar_l2");
    snprintf(path, sizeof path, "%s/gmar/l2_chelsea_c3_gmar.npy", out);
    check_against_reference(path, "chelsea_c3_gmar_l2");
    snprintf(path, sizeof path, "%s/gmar/l1_chelsea_c0_gmar.npy", out);
    cr_assert_neq(access(path, F_OK), 0, "--norm l2 writes no L1 map");

    /* --class by label, any case: vit-tiny's class 6 is "espresso" */
    snprintf(args, sizeof args,
             "explain --model tests/fixtures/models/vit-tiny --method legrad,chefer --class ESPRESSO --save-raw --out '%s' "
             "images/chelsea.png",
             out);
    r = run_cli(args);
    cr_assert_eq(r->status, 0, "stderr: %s", r->err);
    snprintf(path, sizeof path, "%s/legrad/chelsea_c6_legrad.npy", out);
    check_against_reference(path, "chelsea_c6_legrad");
    snprintf(path, sizeof path, "%s/chefer/chelsea_c6_chefer.npy", out);
    check_against_reference(path, "chelsea_c6_chefer");
}

Test(cli, explain_compat_seed_and_rollout_options) {
    char out[4096];
    snprintf(out, sizeof out, "%s", vte_test_temp_dir());
    char args[8192], path[8192];
    snprintf(args, sizeof args,
             "explain --model tests/fixtures/models/vit-tiny --method rollout --head-fusion max --discard-ratio 0.9 "
             "--save-raw --out '%s' images/horse.png",
             out);
    run_result *r = run_cli(args);
    cr_assert_eq(r->status, 0, "stderr: %s", r->err);
    snprintf(path, sizeof path, "%s/rollout/horse_rollout.npy", out);
    check_against_reference(path, "horse_rollout_max_d90");
    snprintf(args, sizeof args,
             "explain --model tests/fixtures/models/vit-tiny --method legrad --compat seed --save-raw --out '%s' images/horse.png",
             out);
    r = run_cli(args);
    cr_assert_eq(r->status, 0, "stderr: %s", r->err);
    snprintf(path, sizeof path, "%s/legrad/horse_legrad.npy", out);
    check_against_reference(path, "horse_c0_seed_legrad");
}

Test(cli, compat_seed_refuses_options_it_has_no_counterpart_for) {
    /* The original project's formulas take the head mean, discard nothing and use every layer. */
    static const char *const options[] = {"--head-fusion max", "--discard-ratio 0.5", "--legrad-layers 1"};
    for (size_t i = 0; i < sizeof options / sizeof options[0]; i++) {
        char args[512], option[64];
        snprintf(args, sizeof args,
                 "explain --model tests/fixtures/models/vit-tiny --method all --compat seed %s --out /nonexistent "
                 "images/chelsea.png",
                 options[i]);
        run_result *r = run_cli(args);
        cr_assert_eq(r->status, 2, "%s: status %d, stderr %s", options[i], r->status, r->err);
        snprintf(option, sizeof option, "%.*s has no counterpart in --compat seed",
                 (int)strcspn(options[i], " "), options[i]);
        cr_assert(strstr(r->err, option), "%s: %s", options[i], r->err);
    }
    run_result *r = run_cli("explain --help");
    cr_assert_eq(r->status, 0);
    cr_assert(strstr(r->out, "--legrad-layers are refused with it"), "%s", r->out);
}

Test(cli, an_all_zero_map_is_written_with_a_warning) {
    /* Min head fusion with 99% of each layer discarded leaves the CLS row without patch mass: a flat map. */
    char out[4096], args[8192], path[8192];
    snprintf(out, sizeof out, "%s", vte_test_temp_dir());
    snprintf(args, sizeof args,
             "explain --model tests/fixtures/models/vit-tiny --method rollout,legrad --head-fusion min "
             "--discard-ratio 0.99 --save-raw --quiet --out '%s' images/chelsea.png images/horse.png",
             out);
    run_result *r = run_cli(args);
    cr_assert_eq(r->status, 0, "%s", r->err);
    cr_assert(strstr(r->err, "warning: images/chelsea.png: the rollout map is all zeros"), "%s", r->err);
    cr_assert(strstr(r->err, "warning: images/horse.png: the rollout map is all zeros"), "%s", r->err);
    cr_assert_null(strstr(r->err, "legrad map"), "LeGrad's map is not flat: %s", r->err);
    const char *first = strstr(r->err, "chelsea.png: the rollout map");
    cr_assert_null(strstr(first + 1, "chelsea.png: the rollout map"), "one warning per image: %s", r->err);
    snprintf(path, sizeof path, "%s/rollout/chelsea_rollout.png", out);
    cr_assert_eq(access(path, F_OK), 0, "the picture is still written");
    snprintf(path, sizeof path, "%s/rollout/chelsea_rollout.npy", out);
    vte_npy npy = {0};
    vte_error err = {0};
    cr_assert_eq(vte_npy_read(path, &npy, &err), VTE_OK, "%s", err.message);
    for (size_t p = 0; p < npy.count; p++) cr_assert_eq(((float *)npy.data)[p], 0.0f);
    vte_npy_free(&npy);
    /* A map with something in it says nothing. */
    snprintf(args, sizeof args,
             "explain --model tests/fixtures/models/vit-tiny --method rollout --head-fusion min --discard-ratio 0.5 "
             "--quiet --out '%s' images/chelsea.png",
             out);
    r = run_cli(args);
    cr_assert_eq(r->status, 0, "%s", r->err);
    cr_assert_str_eq(r->err, "");
}

Test(cli, explain_help_lists_the_methods_of_the_table) {
    run_result *r = run_cli("explain --help");
    cr_assert_eq(r->status, 0);
    for (int m = 0; m < VTE_METHOD_COUNT; m++) {
        const vte_method_info *info = vte_method_info_of((vte_method)m);
        char line[256];
        snprintf(line, sizeof line, "  %-8s %s\n", info->family, info->description);
        cr_assert(strstr(r->out, line), "no line '%s' in:\n%s", line, r->out);
    }
    cr_assert(strstr(r->out, "--method M         rollout, gmar, legrad, chefer or all;"), "%s", r->out);
}

Test(cli, explain_errors) {
    run_result *r = run_cli("explain --model tests/fixtures/models/vit-tiny images/chelsea.png");
    cr_assert_eq(r->status, 2);
    cr_assert(strstr(r->err, "no --method"), "%s", r->err);
    r = run_cli("explain --method saliency images/chelsea.png");
    cr_assert_eq(r->status, 2);
    cr_assert(strstr(r->err, "unknown method 'saliency' (rollout, gmar, legrad, chefer or all)"), "%s", r->err);
    r = run_cli("explain --method rollout --topk 2 --class 1 images/chelsea.png");
    cr_assert_eq(r->status, 2);
    char out[4096];
    snprintf(out, sizeof out, "%s", vte_test_temp_dir());
    char args[8192];
    snprintf(args, sizeof args,
             "explain --model tests/fixtures/models/vit-tiny --method rollout --class 'flying saucer' --out '%s' "
             "images/chelsea.png",
             out);
    r = run_cli(args);
    cr_assert_eq(r->status, 2);
    cr_assert(strstr(r->err, "unknown class 'flying saucer'"), "%s", r->err);
    /* An output folder that cannot be created: a regular file stands in its way. */
    snprintf(args, sizeof args,
             "explain --model tests/fixtures/models/vit-tiny --method rollout --out images/chelsea.png/out "
             "images/chelsea.png");
    r = run_cli(args);
    cr_assert_eq(r->status, 3);
    cr_assert(strstr(r->err, "cannot create output folder images/chelsea.png/out/rollout"), "%s", r->err);
    cr_assert_str_eq(r->out, "", "nothing done before the error");
}

Test(cli, classify_takes_folders) {
    run_result *r = run_cli("classify --model tests/fixtures/models/vit-tiny --topk 1 --json images");
    cr_assert_eq(r->status, 0, "stderr: %s", r->err);
    int lines = 0;
    for (const char *p = r->out; *p; p++) lines += *p == '\n';
    cr_assert_eq(lines, 5, "one line per sample image: %s", r->out);
    cr_assert(strstr(r->out, "\"images/astronaut.png\"") && strstr(r->out, "\"images/rocket.jpg\""), "%s", r->out);
}

Test(cli, library_example_explains_an_image) {
    /* examples/explain_one.c, the README's library example, built and run. */
    char line[8192];
    snprintf(line, sizeof line, "'%s' tests/fixtures/models/vit-odd images/coffee.png", VTE_EXAMPLE_PATH);
    run_result *r = vte_test_shell(VTE_SOURCE_DIR, line, "/dev/null");
    cr_assert_eq(r->status, 0, "stderr: %s", r->err);
    cr_assert(strstr(r->out, "images/coffee.png: ") && strstr(r->out, "LeGrad:\n") && strstr(r->out, "Rollout:\n"),
              "%s", r->out);
    /* vit-odd's grid is 3 x 5: each map is 3 lines of 5 values. */
    const char *legrad = strstr(r->out, "LeGrad:\n") + strlen("LeGrad:\n");
    int values = 0, lines = 0;
    for (const char *p = legrad; *p && lines < 3; p++) {
        if (*p == '.') values++;
        if (*p == '\n') lines++;
    }
    cr_assert_eq(values, 15, "%s", legrad);
}

Test(cli, library_example_links_no_windows_or_video) {
    /* A program that only wants maps pulls in neither OpenCV's windows (highgui, and Qt under it) nor its video
     * (videoio, FFmpeg): the library links OpenCV core, imgproc and imgcodecs only; the command-line tool links
     * the rest itself. ldd lists every shared library the example loads, its dependencies' included. */
    char line[8192];
    snprintf(line, sizeof line, "ldd '%s'", VTE_EXAMPLE_PATH);
    run_result *r = vte_test_shell(VTE_SOURCE_DIR, line, "/dev/null");
    cr_assert_eq(r->status, 0, "ldd %s failed (%d): %s", VTE_EXAMPLE_PATH, r->status, r->err);
    /* The library decodes images through imgcodecs: seeing it proves the list was read. */
    cr_assert(strstr(r->out, "libopencv_imgcodecs"), "no libopencv_imgcodecs in ldd's list:\n%s", r->out);
    const char *unwanted[] = {"libopencv_highgui", "libopencv_videoio", "libQt"};
    for (size_t i = 0; i < sizeof unwanted / sizeof *unwanted; i++)
        cr_expect(!strstr(r->out, unwanted[i]), "explain-one depends on %s:\n%s", unwanted[i], r->out);
}

/* ---------------------------------------------------------------- which model */

/* A Hugging Face cache holding the fixture model vit-tiny as test-org/vit-tiny, laid out as huggingface_hub does:
 * blobs, snapshots/<revision>/ links into them, refs/main naming the revision. Returns the cache folder. */
static const char *make_hub_cache(const char *root) {
    static char cache[4200];
    char line[16384];
    snprintf(cache, sizeof cache, "%s/hub", root);
    snprintf(line, sizeof line,
             "set -e; repo='%s/models--test-org--vit-tiny'; mkdir -p \"$repo/blobs\" \"$repo/refs\" "
             "\"$repo/snapshots/0123abcd\"; for f in config.json model.safetensors preprocessor_config.json; do "
             "cp '%s/models/vit-tiny/'$f \"$repo/blobs/$f.blob\"; ln -s ../../blobs/$f.blob \"$repo/snapshots/0123abcd/$f\"; "
             "done; printf 0123abcd > \"$repo/refs/main\"; mkdir -p \"$repo/snapshots/ffff0000\"",
             cache, VTE_FIXTURES_DIR);
    vte_test_run *r = vte_test_shell(root, line, "/dev/null");
    cr_assert_eq(r->status, 0, "%s", r->err);
    return cache;
}

Test(model, hub_ids_are_found_in_the_hugging_face_cache) {
    char root[4096]; /* a copy: vte_test_temp_dir's buffer is reused by every command run */
    snprintf(root, sizeof root, "%s", vte_test_temp_dir());
    const char *cache = make_hub_cache(root);
    char env[8192], want[8192];
    snprintf(env, sizeof env, "-u HF_HOME HF_HUB_CACHE='%s'", cache);
    run_result *r = vte_test_cli(VTE_SOURCE_DIR, env, "classify --model test-org/vit-tiny --topk 1 images/chelsea.png");
    cr_assert_eq(r->status, 0, "%s", r->err);
    cr_assert(strstr(r->out, "1. tabby cat"), "%s", r->out);
    /* The first line names the model and where it was found: the revision refs/main names, not the other one. */
    snprintf(want, sizeof want, "model: test-org/vit-tiny in %s/models--test-org--vit-tiny/snapshots/0123abcd (--model)",
             cache);
    cr_assert(strncmp(r->err, want, strlen(want)) == 0, "stderr: %s", r->err);
    /* $HF_HOME/hub when HF_HUB_CACHE is not set. */
    snprintf(env, sizeof env, "-u HF_HUB_CACHE HF_HOME='%s'", root);
    r = vte_test_cli(VTE_SOURCE_DIR, env, "classify --model test-org/vit-tiny --topk 1 images/chelsea.png");
    cr_assert_eq(r->status, 0, "%s", r->err);
    cr_assert(strstr(r->out, "1. tabby cat"), "%s", r->out);
    /* Not in the cache: a set-up error that says how to fetch it. */
    snprintf(env, sizeof env, "-u HF_HOME HF_HUB_CACHE='%s'", cache);
    r = vte_test_cli(VTE_SOURCE_DIR, env, "classify --model test-org/vit-huge images/chelsea.png");
    cr_assert_eq(r->status, 3, "%s", r->err);
    cr_assert(strstr(r->err, "tools/fetch-model.sh test-org/vit-huge --cache"), "%s", r->err);
    cr_assert(strstr(r->err, "models--test-org--vit-huge"), "%s", r->err);
}

Test(model, an_existing_folder_wins_over_a_hub_id_of_the_same_name) {
    /* "tests/fixtures" has the shape of ORG/NAME but is a folder here: it is read as a folder (and is no model). */
    run_result *r = vte_test_cli(VTE_SOURCE_DIR, "-u HF_HOME HF_HUB_CACHE=/nonexistent",
                                 "classify --model tests/fixtures images/chelsea.png");
    cr_assert_eq(r->status, 3);
    cr_assert(strstr(r->err, "tests/fixtures/config.json"), "%s", r->err);
}
