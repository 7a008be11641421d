/* vitexplain live, run as a user would: without a display, on a virtual X server (Xvfb, started here) and with
 * Qt's offscreen platform, reading a video made here or a folder of images, keys scripted with --keys. */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>
#ifdef __linux__
#include <sys/prctl.h>
#endif

#include "test_support.h"
#include "video_writer.h"

#define MODEL "tests/fixtures/models/vit-tiny"

typedef vte_test_run run_result;

/* Runs `env ENV vitexplain live ARGS` from the source folder with stdout and stderr captured; ENV is a list of
 * `env` arguments (-u NAME, NAME=value). A core dump or a signal fails the test. */
static run_result *run_live(const char *env, const char *args) {
    size_t size = strlen(args) + 8;
    char *live_args = malloc(size);
    cr_assert_not_null(live_args);
    snprintf(live_args, size, "live %s", args);
    run_result *r = vte_test_cli(VTE_SOURCE_DIR, env, live_args);
    free(live_args);
    return r;
}

/* Environments of the child: no display at all; only Xvfb through xcb; Qt's offscreen platform. */
#define NO_DISPLAY "-u DISPLAY -u WAYLAND_DISPLAY -u QT_QPA_PLATFORM"
#define OFFSCREEN "-u DISPLAY -u WAYLAND_DISPLAY QT_QPA_PLATFORM=offscreen"

/* ---------------------------------------------------------------- a virtual X server */

static pid_t xvfb_pid = -1;
static int xvfb_display = -1;

static int find_xvfb(void) {
    return system("command -v Xvfb >/dev/null 2>&1") == 0;
}

/* Starts `Xvfb -displayfd FD -screen 0 1024x768x24`: the server picks a free display number and writes it to
 * FD once it accepts connections, so there is no number to guess and no polling. */
static void xvfb_start(void) {
    if (!find_xvfb()) return;
    int fds[2];
    cr_assert_eq(pipe(fds), 0);
    pid_t pid = fork();
    cr_assert_neq(pid, -1, "fork: %s", strerror(errno));
    if (pid == 0) {
#ifdef __linux__
        prctl(PR_SET_PDEATHSIG, SIGTERM); /* never outlive the test */
#endif
        close(fds[0]);
        int null = open("/dev/null", O_RDWR);
        if (null >= 0) {
            dup2(null, 0);
            dup2(null, 1);
            dup2(null, 2);
        }
        char fd_text[16];
        snprintf(fd_text, sizeof fd_text, "%d", fds[1]);
        /* -noreset: no server reset when the display probe's connection closes (a client connecting during a
         * reset is refused). */
        execlp("Xvfb", "Xvfb", "-displayfd", fd_text, "-screen", "0", "1024x768x24", "-nolisten", "tcp", "-noreset",
               (char *)NULL);
        _exit(127);
    }
    close(fds[1]);
    xvfb_pid = pid;
    char text[32] = "";
    size_t used = 0;
    struct pollfd p = {.fd = fds[0], .events = POLLIN};
    while (used < sizeof text - 1 && poll(&p, 1, 20000) > 0) {
        ssize_t n = read(fds[0], text + used, sizeof text - 1 - used);
        if (n <= 0) break;
        used += (size_t)n;
        if (memchr(text, '\n', used)) break;
    }
    close(fds[0]);
    text[used] = '\0';
    xvfb_display = used ? atoi(text) : -1;
}

static void xvfb_stop(void) {
    if (xvfb_pid > 0) {
        kill(xvfb_pid, SIGTERM);
        waitpid(xvfb_pid, NULL, 0);
    }
    xvfb_pid = -1;
    xvfb_display = -1;
}

/* ---------------------------------------------------------------- inputs */

#define VIDEO_W 96
#define VIDEO_H 64
#define VIDEO_FRAMES 8

/* 8 frames of 96x64: a bright square moving right over a dark grey background. */
static const char *make_video(void) {
    static char path[4200];
    snprintf(path, sizeof path, "%s/square.avi", vte_test_temp_dir());
    vte_error err = {0};
    vte_cv_video_writer *writer = vte_cv_video_writer_open(path, VIDEO_W, VIDEO_H, 25.0, &err);
    cr_assert_not_null(writer, "%s", err.message);
    vte_image frame = {VIDEO_W, VIDEO_H, malloc(VIDEO_W * VIDEO_H * 3)};
    cr_assert_not_null(frame.rgb);
    for (int f = 0; f < VIDEO_FRAMES; f++) {
        memset(frame.rgb, 40, VIDEO_W * VIDEO_H * 3);
        for (int y = 20; y < 44; y++)
            for (int x = 8 + 8 * f; x < 32 + 8 * f && x < VIDEO_W; x++) memset(frame.rgb + (y * VIDEO_W + x) * 3, 235, 3);
        cr_assert_eq(vte_cv_video_writer_add(writer, &frame, &err), VTE_OK, "%s", err.message);
    }
    vte_cv_video_writer_close(writer);
    vte_image_free(&frame);
    struct stat st;
    cr_assert(stat(path, &st) == 0 && st.st_size > 0, "no video written at %s", path);
    return path;
}

static int file_exists(const char *path) {
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode) && st.st_size > 0;
}

/* The screenshot is the displayed frame: the 96x64 video scaled to 720x480 (shorter side 480) and the overlay's
 * title band. It must show the overlay (strong blue and red jet colours, which the grey video has none of) and
 * the dark text box at the top left. */
static void check_screenshot(const char *png) {
    cr_assert(file_exists(png), "no screenshot at %s", png);
    vte_image shot = {0};
    vte_error err = {0};
    cr_assert_eq(vte_image_load(png, &shot, &err), VTE_OK, "%s", err.message);
    cr_assert_eq(shot.width, 720, "screenshot width %d, want the video scaled to 720", shot.width);
    cr_assert(shot.height >= 480 && shot.height <= 480 + 120, "screenshot height %d, want 480 plus the title band",
              shot.height);
    long blue = 0, red = 0;
    for (long i = 0; i < (long)shot.width * shot.height; i++) {
        const unsigned char *p = shot.rgb + i * 3;
        if (p[2] > 120 && p[2] > p[0] + 60 && p[2] > p[1] + 20) blue++;
        if (p[0] > 120 && p[0] > p[2] + 60 && p[0] > p[1] + 20) red++;
    }
    long total = (long)shot.width * shot.height;
    cr_assert(blue > total / 100, "too few blue (jet) pixels: %ld of %ld; is the overlay missing?", blue, total);
    cr_assert(red > total / 1000, "too few red (jet) pixels: %ld of %ld; is the overlay missing?", red, total);
    /* The text box: dark, with light text: its mean over a corner patch well below the frame's. */
    double box = 0, all = 0;
    int box_n = 0;
    for (int y = 4; y < 40; y++)
        for (int x = 4; x < 160; x++, box_n++)
            box += shot.rgb[((size_t)y * shot.width + x) * 3 + 0] + shot.rgb[((size_t)y * shot.width + x) * 3 + 1] +
                   shot.rgb[((size_t)y * shot.width + x) * 3 + 2];
    for (long i = 0; i < total * 3; i++) all += shot.rgb[i];
    box /= box_n * 3.0;
    all /= total * 3.0;
    cr_assert(box < 110 && box < all, "top-left text box not dark: mean %.1f (whole frame %.1f)", box, all);
    vte_image_free(&shot);
}

/* ---------------------------------------------------------------- tests */

Test(live, no_display_is_a_clear_setup_error) {
    run_result *r = run_live(NO_DISPLAY, "--model " MODEL " --frames 1 images");
    cr_assert_eq(r->status, 3, "exit %d, stderr: %s", r->status, r->err);
    cr_assert(strstr(r->err, "no display") && strstr(r->err, "vitexplain explain"), "%s", r->err);
    /* Also with the default source (camera 0): the display is checked before any camera is touched. */
    r = run_live(NO_DISPLAY, "--model " MODEL);
    cr_assert_eq(r->status, 3, "exit %d, stderr: %s", r->status, r->err);
    cr_assert(strstr(r->err, "no display"), "%s", r->err);
}

Test(live, video_on_xvfb_through_xcb, .init = xvfb_start, .fini = xvfb_stop) {
    if (xvfb_pid < 0) cr_skip_test("Xvfb is not installed (Debian package xvfb; tools/install-deps.sh)");
    cr_assert(xvfb_display >= 0, "Xvfb did not start");
    const char *video = make_video();
    char png[4200], env[256], args[16384];
    snprintf(png, sizeof png, "%s/shot.png", vte_test_temp_dir());
    snprintf(env, sizeof env, "-u WAYLAND_DISPLAY -u QT_QPA_PLATFORM DISPLAY=:%d", xvfb_display);
    snprintf(args, sizeof args, "--model " MODEL " --video '%s' --frames 5 --screenshot '%s'", video, png);
    run_result *r = run_live(env, args);
    cr_assert_eq(r->status, 0, "exit %d, stderr: %s", r->status, r->err);
    cr_assert(strstr(r->out, "5 frames explained"), "%s", r->out);
    check_screenshot(png);
}

Test(live, video_offscreen_to_its_end) {
    /* More frames than the video has: its last frame stays and is still explained until --frames. */
    const char *video = make_video();
    char png[4200], args[16384];
    snprintf(png, sizeof png, "%s/shot.png", vte_test_temp_dir());
    snprintf(args, sizeof args, "--model " MODEL " --method rollout --video '%s' --frames %d --screenshot '%s'", video,
             VIDEO_FRAMES + 3, png);
    run_result *r = run_live(OFFSCREEN, args);
    cr_assert_eq(r->status, 0, "exit %d, stderr: %s", r->status, r->err);
    cr_assert(strstr(r->out, "11 frames explained"), "%s", r->out);
    check_screenshot(png);
}

Test(live, keys_switch_methods_and_save_overlays) {
    /* One scripted key per frame shown: g (GMAR L2), s (save), m (legrad), s (save), then q quits early. */
    char out[4096], args[16384];
    snprintf(out, sizeof out, "%s", vte_test_temp_dir());
    snprintf(args, sizeof args, "--model " MODEL " --method gmar --keys gsmsq --frames 100 --out '%s/saved' images",
             out);
    run_result *r = run_live(OFFSCREEN, args);
    cr_assert_eq(r->status, 0, "exit %d, stderr: %s", r->status, r->err);
    char l2[4300], legrad[4300];
    snprintf(l2, sizeof l2, "%s/saved/live_gmar_l2_1.png", out);
    snprintf(legrad, sizeof legrad, "%s/saved/live_legrad_1.png", out);
    cr_assert(file_exists(l2) && strstr(r->out, l2), "no %s; stdout: %s", l2, r->out);
    cr_assert(file_exists(legrad) && strstr(r->out, legrad), "no %s; stdout: %s", legrad, r->out);
    cr_assert(strstr(r->out, "5 frames explained"), "q quits after the 5th frame: %s", r->out);
    /* The saved overlay is the displayed image without the text: at least 480 pixels high. */
    vte_image saved = {0};
    vte_error err = {0};
    cr_assert_eq(vte_image_load(legrad, &saved, &err), VTE_OK, "%s", err.message);
    cr_assert(saved.width > 0 && saved.height >= 480, "%dx%d", saved.width, saved.height);
    vte_image_free(&saved);
}

Test(live, method_names_and_the_family_cycle) {
    /* Keys per frame: m (chefer wraps to rollout), g (norm l2), s, m (gmar, its l2 variant), s, q. */
    char out[4096], args[16384];
    snprintf(out, sizeof out, "%s", vte_test_temp_dir());
    snprintf(args, sizeof args, "--model " MODEL " --method CHEFER --keys mgsmsq --frames 100 --out '%s/saved' images",
             out);
    run_result *r = run_live(OFFSCREEN, args);
    cr_assert_eq(r->status, 0, "exit %d, stderr: %s", r->status, r->err);
    char rollout[4300], l2[4300];
    snprintf(rollout, sizeof rollout, "%s/saved/live_rollout_1.png", out);
    snprintf(l2, sizeof l2, "%s/saved/live_gmar_l2_1.png", out);
    cr_assert(file_exists(rollout) && strstr(r->out, rollout), "no %s; stdout: %s", rollout, r->out);
    cr_assert(file_exists(l2) && strstr(r->out, l2), "no %s; stdout: %s", l2, r->out);
    /* A method's own name picks its variant: gmar_l2 saves an L2 map without --norm. */
    snprintf(args, sizeof args, "--model " MODEL " --method gmar_l2 --keys sq --frames 100 --out '%s/named' images",
             out);
    r = run_live(OFFSCREEN, args);
    cr_assert_eq(r->status, 0, "exit %d, stderr: %s", r->status, r->err);
    snprintf(l2, sizeof l2, "%s/named/live_gmar_l2_1.png", out);
    cr_assert(file_exists(l2) && strstr(r->out, l2), "no %s; stdout: %s", l2, r->out);
}

Test(live, pause_computes_nothing) {
    /* Paused for two frames shown (the space and '+'), then resumed: 3 explained frames still need 3 passes. */
    run_result *r = run_live(OFFSCREEN, "--model " MODEL " --method rollout --keys ' + ' --frames 3 images/");
    cr_assert_eq(r->status, 0, "exit %d, stderr: %s", r->status, r->err);
    cr_assert(strstr(r->out, "3 frames explained"), "%s", r->out);
}

Test(live, help_lists_the_keys) {
    run_result *r = run_live("", "--help");
    cr_assert_eq(r->status, 0);
    const char *keys[] = {"  m        next method: rollout -> gmar -> legrad -> chefer",
                          "  g        GMAR norm: toggle l1 / l2",
                          "  c        next target class among the top K",
                          "  + / -    alpha up / down by 0.1",
                          "  space    pause / resume",
                          "  n        next image",
                          "  s        save the current overlay",
                          "  q, Esc   quit (closing the window quits too)",
                          "--camera N", "--video FILE", "--frames N", "--screenshot FILE", "Exit status"};
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++)
        cr_assert(strstr(r->out, keys[i]), "--help lacks '%s':\n%s", keys[i], r->out);
}

Test(live, missing_video_is_named) {
    run_result *r = run_live(OFFSCREEN, "--model " MODEL " --video /nonexistent/clip.avi --frames 1");
    cr_assert_eq(r->status, 3, "exit %d, stderr: %s", r->status, r->err);
    cr_assert(strstr(r->err, "/nonexistent/clip.avi"), "%s", r->err);
    /* The same without a display: the file is checked first, so the message names it too. */
    r = run_live(NO_DISPLAY, "--model " MODEL " --video /nonexistent/clip.avi");
    cr_assert_eq(r->status, 3, "exit %d, stderr: %s", r->status, r->err);
    cr_assert(strstr(r->err, "/nonexistent/clip.avi"), "%s", r->err);
}

Test(live, missing_camera_is_named) {
    run_result *r = run_live(OFFSCREEN, "--model " MODEL " --camera 77 --frames 1");
    cr_assert_eq(r->status, 3, "exit %d, stderr: %s", r->status, r->err);
    cr_assert(strstr(r->err, "camera 77"), "%s", r->err);
}

Test(live, usage_errors_exit_2) {
    struct {
        const char *args, *message;
    } cases[] = {
        {"--method gradcam images", "unknown method 'gradcam'"},
        {"--method all images", "unknown method 'all' (rollout, gmar, legrad or chefer)"},
        {"--method gmar_l2 --norm l1 images", "--method gmar_l2 and --norm l1 disagree"},
        {"--alpha 1.5 images", "--alpha"},
        {"--topk 0 images", "--topk"},
        {"--frames 0 images", "--frames"},
        {"--norm l3 images", "--norm"},
        {"--camera 0 --video x.avi", "one source only"},
        {"--frobnicate", "unknown option '--frobnicate'"},
        {"--video", "--video needs a value"},
        {"images/chelsea.png", "not a folder"},
        {"--model " MODEL " --topk 11 images", "--topk 11"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        run_result *r = run_live(OFFSCREEN, cases[i].args);
        cr_assert_eq(r->status, 2, "'%s': exit %d, stderr: %s", cases[i].args, r->status, r->err);
        cr_assert(strstr(r->err, cases[i].message), "'%s': stderr: %s", cases[i].args, r->err);
    }
}
