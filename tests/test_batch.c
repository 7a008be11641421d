/* Pictures and the ways people run vitexplain: overlays at the seed's paths with predictable pixels, the
 * interactive seed mode through a pseudo-terminal, headless batch runs over folders with broken files, and
 * summaries. */
#include <criterion/criterion.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "image/imageio.h"
#include "render/render.h"
#include "png_text.h"
#include "test_support.h"
#include "util/npy.h"

#define MODEL "tests/fixtures/models/vit-tiny"

typedef vte_test_run run_result;

static run_result *run_shell(const char *dir, const char *line, const char *input) {
    return vte_test_shell(dir, line, input);
}

/* Runs `vitexplain ARGS` in `dir` without a terminal. */
static run_result *run_in(const char *dir, const char *args) { return vte_test_cli(dir, "", args); }

static int exists(const char *dir, const char *relative) {
    char path[8192];
    snprintf(path, sizeof path, "%s/%s", dir, relative);
    return access(path, F_OK) == 0;
}

static void copy_file(const char *from, const char *to) {
    char command[16384];
    snprintf(command, sizeof command, "cp '%s' '%s'", from, to);
    cr_assert_eq(system(command), 0, "%s", command);
}

static vte_image load(const char *path) {
    vte_image image = {0};
    vte_error err = {0};
    cr_assert_eq(vte_image_load(path, &image, &err), VTE_OK, "%s", err.message);
    return image;
}

/* No temporary or partial files anywhere below `dir`. */
static void assert_no_temporaries(const char *dir) {
    char command[8192], listing[8192];
    snprintf(command, sizeof command, "find '%s' -name '*.tmp*' -o -name '.*tmp*' | head -5 > '%s/.found'", dir, dir);
    cr_assert_eq(system(command), 0);
    char found[8300];
    snprintf(found, sizeof found, "%s/.found", dir);
    vte_test_read_file(found, listing, sizeof listing);
    remove(found);
    cr_assert_str_eq(listing, "", "temporary files left behind:\n%s", listing);
}

/* ---------------------------------------------------------------- overlays */

/* Checks that the overlay's hottest and coldest pixels (below the title band) carry jet(255) and jet(0)
 * blended on the original at `alpha`, within +-2 levels. The map comes from --save-raw; the expected pixel
 * is computed here from the original image, OpenCV's jet and the blend formula. */
static void check_overlay_pixels(const char *picture, const char *raw_map, const char *original, float alpha) {
    vte_image overlay = load(picture), image = load(original);
    cr_assert(overlay.width == image.width && overlay.height == image.height,
              "%s is %dx%d, the original %dx%d", picture, overlay.width, overlay.height, image.width, image.height);
    vte_npy npy = {0};
    vte_error err = {0};
    cr_assert_eq(vte_npy_read(raw_map, &npy, &err), VTE_OK, "%s", err.message);
    int gh = (int)npy.shape[0], gw = (int)npy.shape[1], w = image.width, h = image.height;
    float *up = malloc((size_t)w * h * sizeof *up);
    vte_map_upsample(npy.data, gh, gw, up, h, w);
    int band = (int)lrint(0.075 * (w < h ? w : h));
    if (band < 20) band = 20;
    size_t hot = 0, cold = 0;
    int first = 1;
    for (int y = band + 2; y < h; y++)
        for (int x = 0; x < w; x++) {
            size_t i = (size_t)y * w + x;
            if (first || up[i] > up[hot]) hot = i;
            if (first || up[i] < up[cold]) cold = i;
            first = 0;
        }
    unsigned char levels[2] = {(unsigned char)lrintf(fminf(fmaxf(up[hot], 0), 1) * 255),
                               (unsigned char)lrintf(fminf(fmaxf(up[cold], 0), 1) * 255)};
    unsigned char jet[6];
    cr_assert_eq(vte_cv_colormap_jet(levels, 2, jet, &err), VTE_OK, "%s", err.message);
    cr_assert_gt(levels[0], 200, "the hottest pixel is hot: level %d", levels[0]);
    cr_assert_lt(levels[1], 55, "the coldest pixel is cold: level %d", levels[1]);
    size_t where[2] = {hot, cold};
    for (int k = 0; k < 2; k++)
        for (int ch = 0; ch < 3; ch++) {
            double want = (1.0 - alpha) * image.rgb[where[k] * 3 + ch] + alpha * jet[k * 3 + ch];
            int got = overlay.rgb[where[k] * 3 + ch];
            cr_assert(fabs(got - want) <= 2.0, "%s %s pixel (%zu, %zu) channel %d: %d, expected %.1f", picture,
                      k ? "coldest" : "hottest", where[k] % w, where[k] / w, ch, got, want);
        }
    /* The title band is the image darkened, with white text on it. */
    long dark = 0, white = 0;
    for (int y = 0; y < band; y++)
        for (int x = 0; x < w; x++)
            for (int ch = 0; ch < 3; ch++) {
                size_t i = ((size_t)y * w + x) * 3 + ch;
                dark += overlay.rgb[i] < image.rgb[i] / 2 + 8;
                white += overlay.rgb[i] > 240;
            }
    cr_assert_gt(dark, (long)band * w * 3 / 2, "the title band is darkened");
    cr_assert_gt(white, 20, "the title band has text");
    free(up);
    free(npy.data);
    vte_image_free(&overlay);
    vte_image_free(&image);
}

Test(pictures, overlays_at_the_seed_paths_with_predictable_pixels_and_titles) {
    char out[4096], args[8192], picture[8192], raw[8192];
    snprintf(out, sizeof out, "%s", vte_test_temp_dir());
    snprintf(args, sizeof args,
             "explain --model " MODEL " --method all --save-raw --out '%s' images/chelsea.png images/horse.png", out);
    run_result *r = run_in(VTE_SOURCE_DIR, args);
    cr_assert_eq(r->status, 0, "stderr: %s", r->err);
    static const char *const methods[][2] = {{"rollout", ""}, {"gmar", "l1_"}, {"gmar", "l2_"}, {"legrad", ""},
                                             {"chefer", ""}};
    static const char *const titles[] = {"Rollout - tabby cat", "GMAR L1 - tabby cat", "GMAR L2 - tabby cat",
                                         "LeGrad - tabby cat", "Chefer - tabby cat"};
    const char *stems[2] = {"chelsea", "horse"}, *originals[2] = {"images/chelsea.png", "images/horse.png"};
    for (int s = 0; s < 2; s++)
        for (int m = 0; m < 5; m++) {
            snprintf(picture, sizeof picture, "%s/%s/%s%s_%s.png", out, methods[m][0], methods[m][1], stems[s],
                     methods[m][0]);
            snprintf(raw, sizeof raw, "%s/%s/%s%s_%s.npy", out, methods[m][0], methods[m][1], stems[s], methods[m][0]);
            char original[8192];
            snprintf(original, sizeof original, "%s/%s", VTE_SOURCE_DIR, originals[s]);
            check_overlay_pixels(picture, raw, original, 0.5f);
            /* chelsea and horse are both "tabby cat" for the fixture model (reference/vit-tiny/explain/) */
            char *title = vte_test_png_read_text(picture, "Title");
            cr_assert_not_null(title, "%s has a Title", picture);
            cr_assert(strstr(title, titles[m]), "%s title: %s", picture, title);
            free(title);
        }
    assert_no_temporaries(out);
}

Test(pictures, alpha_option_changes_the_blend) {
    char out[4096], args[8192], picture[8192], raw[8192], original[8192];
    snprintf(out, sizeof out, "%s", vte_test_temp_dir());
    snprintf(args, sizeof args, "explain --model " MODEL " --method legrad --alpha 0.3 --save-raw --out '%s' images/rocket.jpg",
             out);
    run_result *r = run_in(VTE_SOURCE_DIR, args);
    cr_assert_eq(r->status, 0, "stderr: %s", r->err);
    snprintf(picture, sizeof picture, "%s/legrad/rocket_legrad.png", out);
    snprintf(raw, sizeof raw, "%s/legrad/rocket_legrad.npy", out);
    snprintf(original, sizeof original, "%s/images/rocket.jpg", VTE_SOURCE_DIR);
    check_overlay_pixels(picture, raw, original, 0.3f);
    cr_assert(!exists(out, "rollout"), "only the requested method's folder");
}

Test(pictures, grid_picture_and_class_suffixes) {
    char out[4096], args[8192];
    snprintf(out, sizeof out, "%s", vte_test_temp_dir());
    snprintf(args, sizeof args, "explain --model " MODEL " --method rollout,legrad --topk 2 --grid --out '%s' images/coffee.png",
             out);
    run_result *r = run_in(VTE_SOURCE_DIR, args);
    cr_assert_eq(r->status, 0, "stderr: %s", r->err);
    /* coffee's top two classes on the fixture model: 3 (horse) and 0 (tabby cat) */
    const char *files[] = {"rollout/coffee_c3_rollout.png", "rollout/coffee_c0_rollout.png",
                           "legrad/coffee_c3_legrad.png",   "legrad/coffee_c0_legrad.png",
                           "grid/coffee_c3_grid.png",       "grid/coffee_c0_grid.png"};
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) cr_assert(exists(out, files[i]), "%s missing", files[i]);
    char path[8192];
    snprintf(path, sizeof path, "%s/grid/coffee_c3_grid.png", out);
    vte_image grid = load(path);
    cr_assert_gt(grid.width, 2 * grid.height, "three panels side by side: %dx%d", grid.width, grid.height);
    vte_image_free(&grid);
}

/* ---------------------------------------------------------------- batch runs over folders */

static void make_mixed_folder(const char *dir) {
    char to[8192], command[16384];
    snprintf(to, sizeof to, "%s/a_chelsea.png", dir);
    copy_file(VTE_SOURCE_DIR "/images/chelsea.png", to);
    snprintf(to, sizeof to, "%s/b_horse_rgba.PNG", dir);
    copy_file(VTE_SOURCE_DIR "/images/horse.png", to);
    snprintf(to, sizeof to, "%s/c_gray.png", dir);
    copy_file(VTE_FIXTURES_DIR "/images/gray8.png", to);
    snprintf(to, sizeof to, "%s/d_16bit.png", dir);
    copy_file(VTE_FIXTURES_DIR "/images/rgb16.png", to);
    snprintf(command, sizeof command, "head -c 3000 '%s/images/rocket.jpg' > '%s/e_corrupt.jpg'", VTE_SOURCE_DIR, dir);
    cr_assert_eq(system(command), 0);
    snprintf(command, sizeof command, ": > '%s/f_empty.png'", dir);
    cr_assert_eq(system(command), 0);
    snprintf(command, sizeof command, "echo 'not a picture' > '%s/g_text.png'", dir);
    cr_assert_eq(system(command), 0);
    snprintf(command, sizeof command, "echo 'ignored' > '%s/notes.txt'", dir);
    cr_assert_eq(system(command), 0);
}

Test(batch, folder_with_broken_files_does_the_good_ones_and_reports_the_rest) {
    char dir[4000], out[4096], args[16384];
    snprintf(dir, sizeof dir, "%s", vte_test_temp_dir());
    make_mixed_folder(dir);
    snprintf(out, sizeof out, "%s/results", dir);
    snprintf(args, sizeof args, "explain --model '%s/" MODEL "' --method rollout --batch 3 --out '%s' --summary '%s/s.json' .",
             VTE_SOURCE_DIR, out, dir);
    run_result *r = run_in(dir, args);
    cr_assert_eq(r->status, 1, "exit 1 when some inputs failed; stderr: %s", r->err);
    const char *good[] = {"a_chelsea", "b_horse_rgba", "c_gray", "d_16bit"};
    const char *bad[] = {"e_corrupt", "f_empty", "g_text"};
    for (int i = 0; i < 4; i++) {
        char file[256];
        snprintf(file, sizeof file, "rollout/%s_rollout.png", good[i]);
        cr_assert(exists(out, file), "%s missing; stderr: %s", file, r->err);
    }
    for (int i = 0; i < 3; i++) {
        char file[256];
        snprintf(file, sizeof file, "rollout/%s_rollout.png", bad[i]);
        cr_assert(!exists(out, file), "no picture for %s", bad[i]);
        cr_assert(strstr(r->err, bad[i]), "stderr names %s: %s", bad[i], r->err);
    }
    cr_assert(strstr(r->err, "empty"), "the empty file's reason: %s", r->err);
    cr_assert(!strstr(r->err, "notes.txt"), "non-image files are not inputs");
    assert_no_temporaries(out);

    /* The summary has one record per image, with the failures and their reasons. */
    char summary[8192];
    snprintf(summary, sizeof summary, "%s/s.json", dir);
    json_error_t jerr;
    json_t *root = json_load_file(summary, 0, &jerr);
    cr_assert_not_null(root, "summary: %s", jerr.text);
    json_t *images = json_object_get(root, "images");
    cr_assert_eq(json_array_size(images), 7);
    int ok = 0, failed = 0;
    for (size_t i = 0; i < json_array_size(images); i++) {
        json_t *item = json_array_get(images, i);
        const char *status = json_string_value(json_object_get(item, "status"));
        if (strcmp(status, "ok") == 0) {
            ok++;
            json_t *top = json_object_get(item, "top");
            cr_assert_geq(json_array_size(top), 1);
            double p = json_real_value(json_object_get(json_array_get(top, 0), "prob"));
            cr_assert(p > 0 && p <= 1);
            json_t *files = json_object_get(item, "files");
            cr_assert_eq(json_array_size(files), 1);
            cr_assert_eq(access(json_string_value(json_array_get(files, 0)), F_OK), 0);
            cr_assert_gt(json_real_value(json_object_get(json_object_get(item, "times_ms"), "forward")), 0.0);
        } else {
            failed++;
            cr_assert(json_string_length(json_object_get(item, "error")) > 0);
        }
    }
    cr_assert_eq(ok, 4);
    cr_assert_eq(failed, 3);
    json_decref(root);
}

Test(batch, csv_summary_recursive_folders_and_name_collisions) {
    char dir[4096], args[16384], path[8192];
    snprintf(dir, sizeof dir, "%s", vte_test_temp_dir());
    snprintf(path, sizeof path, "%s/sub", dir);
    cr_assert_eq(mkdir(path, 0755), 0);
    snprintf(path, sizeof path, "%s/cat.png", dir);
    copy_file(VTE_SOURCE_DIR "/images/chelsea.png", path);
    snprintf(path, sizeof path, "%s/sub/cat.jpg", dir);
    copy_file(VTE_SOURCE_DIR "/images/rocket.jpg", path);
    /* Without --recursive the sub-folder is not visited. */
    char elsewhere[4096];
    snprintf(elsewhere, sizeof elsewhere, "%s", vte_test_temp_dir());
    snprintf(args, sizeof args, "explain --model '%s/" MODEL "' --method legrad --out '%s' --quiet .", VTE_SOURCE_DIR,
             elsewhere);
    run_result *r = run_in(dir, args);
    cr_assert_eq(r->status, 0, "stderr: %s", r->err);
    cr_assert_str_eq(r->out, "", "--quiet prints nothing");
    cr_assert(exists(elsewhere, "legrad/cat_legrad.png") && !exists(elsewhere, "legrad/cat_2_legrad.png"));
    /* With it both are, and the second cat gets its own name instead of overwriting the first; the output
     * folder, inside the input folder here, is not an input. */
    snprintf(args, sizeof args, "explain --model '%s/" MODEL "' --method legrad --out r2 --recursive --summary s.csv .",
             VTE_SOURCE_DIR);
    r = run_in(dir, args);
    cr_assert_eq(r->status, 0, "stderr: %s", r->err);
    cr_assert(exists(dir, "r2/legrad/cat_legrad.png") && exists(dir, "r2/legrad/cat_2_legrad.png"), "%s", r->out);
    char csv[8192];
    snprintf(path, sizeof path, "%s/s.csv", dir);
    vte_test_read_file(path, csv, sizeof csv);
    cr_assert(strncmp(csv, "image,status,error,top1_id,top1_label,top1_prob", 47) == 0, "header: %s", csv);
    int lines = 0;
    for (char *p = csv; *p; p++) lines += *p == '\n';
    cr_assert_eq(lines, 3, "header and two rows: %s", csv);
    cr_assert(strstr(csv, "./sub/cat.jpg,ok,") && strstr(csv, "cat_2_legrad.png"), "%s", csv);
}

Test(batch, unwritable_output_fails_before_any_work) {
    char dir[4000], args[8192];
    snprintf(dir, sizeof dir, "%s", vte_test_temp_dir());
    char blocker[8192];
    snprintf(blocker, sizeof blocker, "%s/results", dir);
    FILE *f = fopen(blocker, "w"); /* a file where the output folder should be */
    cr_assert_not_null(f);
    fclose(f);
    snprintf(args, sizeof args, "explain --model '%s/" MODEL "' --method gmar '%s/images'", VTE_SOURCE_DIR, VTE_SOURCE_DIR);
    run_result *r = run_in(dir, args);
    cr_assert_eq(r->status, 3, "stderr: %s", r->err);
    cr_assert(strstr(r->err, "cannot create output folder results/gmar"), "%s", r->err);
    cr_assert_str_eq(r->out, "");
}

/* ---------------------------------------------------------------- the seed's ways */

static void make_seed_folder(char *dir, size_t size) {
    snprintf(dir, size, "%s", vte_test_temp_dir());
    char path[8192];
    snprintf(path, sizeof path, "%s/images", dir);
    cr_assert_eq(mkdir(path, 0755), 0);
    snprintf(path, sizeof path, "%s/images/chelsea.png", dir);
    copy_file(VTE_SOURCE_DIR "/images/chelsea.png", path);
    snprintf(path, sizeof path, "%s/images/Rocket.JPG", dir);
    copy_file(VTE_SOURCE_DIR "/images/rocket.jpg", path);
}

Test(seed, interactive_run_through_a_terminal) {
    char dir[4096], line[16384];
    make_seed_folder(dir, sizeof dir);
    /* script(1) runs vitexplain on a pseudo-terminal and passes the answers typed on its stdin. */
    snprintf(line, sizeof line,
             "(sleep 2; printf 'gmar\\n'; sleep 1; printf 'l2\\n') | VITEXPLAIN_MODEL='%s/" MODEL
             "' timeout 120 script -q -e -c '%s' /dev/null",
             VTE_SOURCE_DIR, VTE_CLI_PATH);
    run_result *r = run_shell(dir, line, "/dev/null");
    cr_assert_eq(r->status, 0, "exit %d; output: %s; stderr: %s", r->status, r->out, r->err);
    cr_assert(strstr(r->out, "Which method? (legrad/gmar/rollout):"), "%s", r->out);
    cr_assert(strstr(r->out, "Which norm? (l1/l2):"), "%s", r->out);
    cr_assert(strstr(r->out, "Processing: images/chelsea.png \u2192 tabby cat"), "%s", r->out);
    cr_assert(strstr(r->out, "Processing: images/Rocket.JPG \u2192 "), "any-case extensions: %s", r->out);
    cr_assert(exists(dir, "results/gmar/l2_chelsea_gmar.png") && exists(dir, "results/gmar/l2_Rocket_gmar.png"));
    cr_assert(!exists(dir, "results/gmar/l1_chelsea_gmar.png"), "only the norm asked for");
}

Test(seed, no_terminal_and_no_method_prints_the_usage) {
    char dir[4096];
    make_seed_folder(dir, sizeof dir);
    run_result *r = run_in(dir, "");
    cr_assert_eq(r->status, 2);
    cr_assert(strstr(r->err, "Usage: vitexplain"), "%s", r->err);
    cr_assert(!exists(dir, "results"), "nothing explained");
}

Test(seed, method_option_runs_the_seed_job_without_asking) {
    char dir[4096], args[8192];
    make_seed_folder(dir, sizeof dir);
    snprintf(args, sizeof args, "--method rollout --model '%s/" MODEL "'", VTE_SOURCE_DIR);
    run_result *r = run_in(dir, args);
    cr_assert_eq(r->status, 0, "stderr: %s", r->err);
    cr_assert(strstr(r->out, "Processing: images/chelsea.png \u2192 tabby cat"), "%s", r->out);
    cr_assert(exists(dir, "results/rollout/chelsea_rollout.png") && exists(dir, "results/rollout/Rocket_rollout.png"));
}

Test(batch, progress_bar_on_a_terminal_and_plain_lines_otherwise) {
    char dir[4096], line[16384];
    make_seed_folder(dir, sizeof dir);
    /* On a terminal (script(1) gives one): a bar redrawn in place with the count, the rate and the time left. */
    snprintf(line, sizeof line,
             "timeout 120 script -q -e -c \"'%s' explain --model '%s/" MODEL "' --method rollout --batch 1 images\" "
             "/dev/null",
             VTE_CLI_PATH, VTE_SOURCE_DIR);
    run_result *r = run_shell(dir, line, "/dev/null");
    cr_assert_eq(r->status, 0, "%s %s", r->out, r->err);
    cr_assert(strstr(r->out, "\r\033[K[") && strstr(r->out, "1/2 images") && strstr(r->out, "2/2 images") &&
                  strstr(r->out, "images/s") && strstr(r->out, "left"),
              "terminal progress: %s", r->out);
    /* Without one: plain lines, one per batch. */
    char args[8192];
    snprintf(args, sizeof args, "explain --model '%s/" MODEL "' --method rollout --batch 1 --out r2 images", VTE_SOURCE_DIR);
    r = run_in(dir, args);
    cr_assert_eq(r->status, 0, "%s", r->err);
    cr_assert(strstr(r->err, "progress: 1/2 images") && strstr(r->err, "progress: 2/2 images"), "%s", r->err);
    cr_assert(!strchr(r->err, '\r'), "no carriage returns without a terminal");
}

Test(seed, options_before_the_method_also_run_the_seed_job) {
    char dir[4096], args[8192];
    make_seed_folder(dir, sizeof dir);
    snprintf(args, sizeof args, "--device cpu --model '%s/" MODEL "' --method legrad", VTE_SOURCE_DIR);
    run_result *r = run_in(dir, args);
    cr_assert_eq(r->status, 0, "stderr: %s", r->err);
    cr_assert(exists(dir, "results/legrad/chelsea_legrad.png"));
}

Test(batch, ctrl_c_finishes_the_batch_in_hand_and_stops) {
    char dir[4000], line[16384];
    snprintf(dir, sizeof dir, "%s", vte_test_temp_dir());
    /* 300 inputs: far more than can be done before the interrupt arrives. */
    snprintf(line, sizeof line,
             "mkdir in && for i in $(seq 100 399); do ln -s '%s/images/chelsea.png' in/cat$i.png; done", VTE_SOURCE_DIR);
    cr_assert_eq(run_shell(dir, line, "/dev/null")->status, 0);
    /* Start the run, wait for its first picture, then send SIGINT as Ctrl-C would. */
    snprintf(line, sizeof line,
             "'%s' explain --model '%s/" MODEL "' --method rollout --batch 1 --out out --summary s.json in & pid=$!; "
             "for t in $(seq 300); do [ -e out/rollout/cat100_rollout.png ] && break; sleep 0.05; done; "
             "kill -INT $pid; wait $pid; echo \"exit status $?\"",
             VTE_CLI_PATH, VTE_SOURCE_DIR);
    run_result *r = run_shell(dir, line, "/dev/null"); /* (130 is reported through stdout: the runner refuses >= 128) */
    cr_assert(strstr(r->out, "exit status 130"), "exit 130 after an interrupt; stdout: %s; stderr: %s", r->out, r->err);
    cr_assert(strstr(r->err, "interrupted after"), "%s", r->err);
    /* Fewer than all were done, every picture written is whole, and the summary lists exactly those. */
    char path[8192];
    int pictures = 0;
    for (int i = 100; i < 400; i++) {
        snprintf(path, sizeof path, "%s/out/rollout/cat%d_rollout.png", dir, i);
        if (access(path, F_OK) != 0) continue;
        pictures++;
        vte_image image = load(path);
        cr_assert(image.width == 451 && image.height == 300, "%s is whole", path);
        vte_image_free(&image);
    }
    cr_assert(pictures >= 1 && pictures < 300, "%d pictures", pictures);
    snprintf(path, sizeof path, "%s/out", dir);
    assert_no_temporaries(path);
    snprintf(path, sizeof path, "%s/s.json", dir);
    json_error_t jerr;
    json_t *root = json_load_file(path, 0, &jerr);
    cr_assert_not_null(root, "summary written on interrupt: %s", jerr.text);
    cr_assert_eq((int)json_array_size(json_object_get(root, "images")), pictures);
    json_decref(root);
}
