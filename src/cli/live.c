/* vitexplain live: a window with the current frame of a camera, a video or a folder of images and its
 * explanation overlay, re-explained one frame at a time on the device, with the frame rate, the per-stage
 * times and the settings drawn on it; keys change the method, the class, the blend and save overlays. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/display.h"
#include "cli/inputs.h"
#include "cli/progress.h"
#include "image/imageio.h"
#include "render/render.h"

#define DEFAULT_OUT_DIR "results/live"
#define DISPLAY_MIN_SIDE 480  /* frames are scaled up until their shorter side is at least this ... */
#define DISPLAY_MAX_SIDE 1280 /* ... and down until their longer side is at most this */
#define IMAGE_SECONDS 1.0     /* how long each image of a folder is shown */

static void print_help(void) {
    printf(
        "Usage: vitexplain live [OPTIONS] [--camera N | --video FILE | FOLDER]\n"
        "\n"
        "Opens a window with the current frame and its explanation overlay (jet colours: red = looked at),\n"
        "re-explained continuously, one frame at a time, on the OpenCL device. Drawn on the frame: the frame\n"
        "rate, the milliseconds of each stage (forward, backward, explanation; rollout needs no backward pass,\n"
        "so it is the fastest), the method, the explained class with its probability and the blend (alpha).\n"
        "\n"
        "Source (one of):\n"
        "  --camera N       camera N (default: camera 0 when no source is given)\n"
        "  --video FILE     a video file, played at its own frame rate; at its end the last frame stays (and is\n"
        "                   still explained) until you quit\n"
        "  FOLDER           the .jpg, .jpeg and .png images of a folder (any case), sorted by name, each shown\n"
        "                   for about %.0f s, cycling\n"
        "\n"
        "Options:\n"
        "  --method M       rollout, gmar, legrad or chefer to start with (default gmar)\n"
        "  --norm N         GMAR head weights: l1 or l2 (default l1)\n"
        "  --alpha A        weight of the heat map in the blend, 0 to 1 (default 0.5)\n"
        "  --topk K         the `c` key cycles through the top K classes (default 3)\n"
        "  --frames N       stop after N explained frames\n"
        "  --screenshot FILE  at the end, save the last displayed frame (overlay and text) as PNG to FILE\n"
        "  --out DIR        folder of the overlays saved with `s` (default %s)\n"
        "  --keys KEYS      act as if KEYS were pressed, one per frame shown (scripted runs and tests)\n"
        "  --model DIR      Hugging Face ViTForImageClassification folder (default $VITEXPLAIN_MODEL, else\n"
        "                   %s)\n"
        "  --device SPEC    OpenCL device (see `vitexplain devices`)\n"
        "\n"
        "Keys:\n"
        "  m        next method: rollout -> gmar -> legrad -> chefer -> rollout\n"
        "  g        GMAR norm: toggle l1 / l2\n"
        "  c        next target class among the top K\n"
        "  + / -    alpha up / down by 0.1 (0 to 1)\n"
        "  space    pause / resume (paused: the frame and its overlay stay, nothing is computed)\n"
        "  n        next image (FOLDER source)\n"
        "  s        save the current overlay as OUT/live_<method>_<n>.png (frame size, with a title band naming\n"
        "           the method and class instead of the text box)\n"
        "  q, Esc   quit (closing the window quits too)\n"
        "\n"
        "The window shows the frame scaled so that its shorter side is at least %d pixels and its longer side\n"
        "at most %d (a 640x480 camera frame stays 640x480); --screenshot saves exactly that.\n"
        "Needs a display (an X server in $DISPLAY); for headless runs use `vitexplain explain`.\n"
        "Exit status: 0 done (quit, window closed or --frames reached); 1 a requested file could not be saved;\n"
        "2 usage error; 3 set-up error (no display, camera or video cannot be opened, no device, unreadable\n"
        "model).\n",
        IMAGE_SECONDS, DEFAULT_OUT_DIR, DEFAULT_MODEL_DIR, DISPLAY_MIN_SIDE, DISPLAY_MAX_SIDE);
}

/* ---------------------------------------------------------------- options */

enum { FAMILY_ROLLOUT, FAMILY_GMAR, FAMILY_LEGRAD, FAMILY_CHEFER, FAMILY_COUNT };
static const char *const family_names[FAMILY_COUNT] = {"rollout", "gmar", "legrad", "chefer"};

enum { SOURCE_CAMERA, SOURCE_VIDEO, SOURCE_FOLDER };

typedef struct live_options {
    const char *model_dir, *device, *video, *folder, *screenshot, *out_dir, *keys;
    int source, camera;
    int family, norm; /* norm: 1 or 2 */
    double alpha;
    int topk, frames;
} live_options;

/* Returns -1 to continue, else an exit status. */
static int parse_options(int argc, char **argv, live_options *o) {
    o->source = SOURCE_CAMERA;
    o->family = FAMILY_GMAR;
    o->norm = 1;
    o->alpha = 0.5;
    o->topk = 3;
    o->out_dir = DEFAULT_OUT_DIR;
    int sources = 0;
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i];
        if (strcmp(arg, "-h") == 0 || strcmp(arg, "--help") == 0) {
            print_help();
            return EXIT_OK;
        }
        static const char *const with_value[] = {"--model", "--device", "--camera", "--video", "--method",
                                                 "--norm", "--alpha", "--topk", "--frames", "--screenshot",
                                                 "--out", "--keys"};
        int takes_value = 0;
        for (size_t k = 0; k < sizeof with_value / sizeof with_value[0]; k++) takes_value |= strcmp(arg, with_value[k]) == 0;
        if (!takes_value) {
            if (arg[0] == '-' && arg[1] != '\0') {
                cli_error("live: unknown option '%s' (see `vitexplain live --help`)", arg);
                return EXIT_USAGE;
            }
            if (o->folder) {
                cli_error("live: one FOLDER only, got '%s' and '%s'", o->folder, arg);
                return EXIT_USAGE;
            }
            o->folder = arg;
            o->source = SOURCE_FOLDER;
            sources++;
            continue;
        }
        if (i + 1 >= argc) {
            cli_error("live: %s needs a value", arg);
            return EXIT_USAGE;
        }
        const char *value = argv[++i];
        if (strcmp(arg, "--model") == 0) {
            o->model_dir = value;
        } else if (strcmp(arg, "--device") == 0) {
            o->device = value;
        } else if (strcmp(arg, "--camera") == 0) {
            if (!cli_parse_int("live", arg, value, 0, 1023, &o->camera)) return EXIT_USAGE;
            o->source = SOURCE_CAMERA;
            sources++;
        } else if (strcmp(arg, "--video") == 0) {
            if (!*value) {
                cli_error("live: --video needs a file name");
                return EXIT_USAGE;
            }
            o->video = value;
            o->source = SOURCE_VIDEO;
            sources++;
        } else if (strcmp(arg, "--method") == 0) {
            int found = -1;
            for (int f = 0; f < FAMILY_COUNT; f++)
                if (strcasecmp(value, family_names[f]) == 0) found = f;
            if (found < 0) {
                cli_error("live: unknown method '%s' (rollout, gmar, legrad or chefer)", value);
                return EXIT_USAGE;
            }
            o->family = found;
        } else if (strcmp(arg, "--norm") == 0) {
            if (strcasecmp(value, "l1") == 0) o->norm = 1;
            else if (strcasecmp(value, "l2") == 0) o->norm = 2;
            else {
                cli_error("live: --norm takes l1 or l2, got '%s'", value);
                return EXIT_USAGE;
            }
        } else if (strcmp(arg, "--alpha") == 0) {
            if (!cli_parse_float("live", arg, value, 0.0, 1.0, &o->alpha)) return EXIT_USAGE;
        } else if (strcmp(arg, "--topk") == 0) {
            if (!cli_parse_int("live", arg, value, 1, 100000, &o->topk)) return EXIT_USAGE;
        } else if (strcmp(arg, "--frames") == 0) {
            if (!cli_parse_int("live", arg, value, 1, INT_MAX, &o->frames)) return EXIT_USAGE;
        } else if (strcmp(arg, "--screenshot") == 0) {
            if (!*value) {
                cli_error("live: --screenshot needs a file name");
                return EXIT_USAGE;
            }
            o->screenshot = value;
        } else if (strcmp(arg, "--out") == 0) {
            if (!*value) {
                cli_error("live: --out needs a folder name");
                return EXIT_USAGE;
            }
            o->out_dir = value;
        } else if (strcmp(arg, "--keys") == 0) {
            o->keys = value;
        }
    }
    if (sources > 1) {
        cli_error("live: give one source only: --camera N, --video FILE or FOLDER");
        return EXIT_USAGE;
    }
    return -1;
}

/* ---------------------------------------------------------------- small helpers */

static vte_method method_of(int family, int norm) {
    switch (family) {
    case FAMILY_ROLLOUT: return VTE_METHOD_ROLLOUT;
    case FAMILY_GMAR: return norm == 2 ? VTE_METHOD_GMAR_L2 : VTE_METHOD_GMAR_L1;
    case FAMILY_LEGRAD: return VTE_METHOD_LEGRAD;
    default: return VTE_METHOD_CHEFER;
    }
}

static int image_copy(const vte_image *src, vte_image *dst) {
    size_t bytes = (size_t)src->width * (size_t)src->height * 3;
    unsigned char *rgb = malloc(bytes);
    if (!rgb) return 0;
    memcpy(rgb, src->rgb, bytes);
    vte_image_free(dst);
    dst->width = src->width;
    dst->height = src->height;
    dst->rgb = rgb;
    return 1;
}

/* The display size of a frame: shorter side at least DISPLAY_MIN_SIDE, longer side at most DISPLAY_MAX_SIDE. */
static void display_size(int width, int height, int *out_w, int *out_h) {
    double shorter = width < height ? width : height, longer = width < height ? height : width;
    double scale = shorter < DISPLAY_MIN_SIDE ? DISPLAY_MIN_SIDE / shorter : 1.0;
    if (longer * scale > DISPLAY_MAX_SIDE) scale = DISPLAY_MAX_SIDE / longer;
    *out_w = (int)(width * scale + 0.5);
    *out_h = (int)(height * scale + 0.5);
    if (*out_w < 1) *out_w = 1;
    if (*out_h < 1) *out_h = 1;
}

/* The sorted image files of a folder (as explain reads folders); returns an exit status (EXIT_OK with
 * images on success). */
static int list_folder(const char *folder, cli_inputs *images) {
    struct stat st;
    if (stat(folder, &st) != 0) {
        cli_error("live: cannot open folder %s: %s", folder, strerror(errno));
        return EXIT_SETUP;
    }
    if (!S_ISDIR(st.st_mode)) {
        cli_error("live: %s is not a folder (FOLDER is a folder of images; use --video FILE for a video)", folder);
        return EXIT_USAGE;
    }
    char *args[1] = {(char *)folder};
    if (cli_collect_inputs(args, 1, 0, NULL, images) != 0 || images->count == 0) return EXIT_SETUP;
    return EXIT_OK;
}

/* ---------------------------------------------------------------- the frame source */

typedef struct frame_source {
    int kind;
    vte_cv_capture *capture;
    cli_inputs images; /* FOLDER source */
    int file_index, failures_in_a_row;
    double fps;       /* video: its frame rate (0: unknown) */
    int ended;        /* video or camera: no more frames; the last one stays */
    long frame_number; /* frames read from the capture */
    char label[512];  /* what the frame is, for the status text */
} frame_source;

static const char *base_name(const char *path) {
    const char *slash = strrchr(path, '/');
    return slash ? slash + 1 : path;
}

/* Reads the next frame into *frame (replacing it). Returns 1 with a new frame, 0 when the source has ended
 * (the frame is kept), -1 on an error that ends the run (reported). */
static int source_next(frame_source *src, vte_image *frame) {
    vte_error err = {0};
    if (src->kind == SOURCE_FOLDER) {
        while (src->failures_in_a_row < (int)src->images.count) {
            const char *path = src->images.paths[src->file_index];
            vte_image image = {0};
            if (vte_image_load(path, &image, &err) == VTE_OK) {
                vte_image_free(frame);
                *frame = image;
                src->failures_in_a_row = 0;
                snprintf(src->label, sizeof src->label, "image %d/%d: %s", src->file_index + 1, (int)src->images.count,
                         base_name(path));
                return 1;
            }
            cli_error("live: %s", err.message);
            src->failures_in_a_row++;
            src->file_index = (src->file_index + 1) % (int)src->images.count;
        }
        cli_error("live: none of the images in the folder can be read");
        return -1;
    }
    if (src->ended) return 0;
    vte_image image = {0};
    int end = 0;
    vte_status status = vte_cv_capture_read(src->capture, &image, &end, &err);
    if (status != VTE_OK && !end) {
        cli_error("live: %s", err.message);
        vte_image_free(&image);
        return -1;
    }
    if (end) {
        vte_image_free(&image);
        src->ended = 1;
        size_t used = strlen(src->label);
        if (used + 16 < sizeof src->label) snprintf(src->label + used, sizeof src->label - used, " (end)");
        return 0;
    }
    vte_image_free(frame);
    *frame = image;
    src->frame_number++;
    return 1;
}

/* ---------------------------------------------------------------- the live state */

typedef struct live_state {
    /* settings (what the next explained frame uses) */
    int family, norm, rank;
    double alpha;
    int paused, quit, next_image;
    /* the frame on screen and what was computed for it */
    vte_image frame, display, overlay, shown;
    float *map;
    int have_map;
    vte_method map_method;
    vte_prediction target;
    int target_rank; /* position of the explained class in this frame's top K, -1 if outside */
    vte_stage_times times;
    vte_prediction *ranking; /* top K of the last explained frame */
    int ranking_count;
    /* statistics */
    long explained;
    double last_show_ms, interval_ema_ms, first_show_ms;
    double sum_forward, sum_backward, sum_explain;
    /* saving */
    int save_number[VTE_METHOD_COUNT], save_failures;
} live_state;

static void handle_key(int key, live_state *st, const live_options *o, const frame_source *src) {
    if (key < 0) return;
    key &= 0xFF;
    switch (key) {
    case 'q': case 'Q': case 27: st->quit = 1; break;
    case 'm': case 'M': st->family = (st->family + 1) % FAMILY_COUNT; break;
    case 'g': case 'G': st->norm = st->norm == 1 ? 2 : 1; break;
    case 'c': case 'C': st->rank = (st->rank + 1) % o->topk; break;
    case '+': case '=':
        st->alpha = st->alpha + 0.1 > 1.0 ? 1.0 : st->alpha + 0.1;
        break;
    case '-': case '_':
        st->alpha = st->alpha - 0.1 < 0.0 ? 0.0 : st->alpha - 0.1;
        break;
    case ' ': st->paused = !st->paused; break;
    case 'n': case 'N':
        if (src->kind == SOURCE_FOLDER) st->next_image = 1;
        break;
    default: break;
    }
    /* Keep alpha on the 0.1 grid despite float steps. */
    st->alpha = (double)(long)(st->alpha * 10.0 + 0.5) / 10.0;
}

/* Saves the current overlay as OUT/live_<method>_<n>.png with the first free n. */
static void save_overlay(live_state *st, const live_options *o, const vte_model *model, const frame_source *src) {
    if (!st->have_map) return;
    if (vte_make_dirs(o->out_dir) != 0) {
        cli_error("live: cannot create output folder %s: %s", o->out_dir, strerror(errno));
        st->save_failures++;
        return;
    }
    char path[4096];
    const char *name = vte_method_name(st->map_method);
    do {
        int n = ++st->save_number[st->map_method];
        snprintf(path, sizeof path, "%s/live_%s_%d.png", o->out_dir, name, n);
    } while (access(path, F_OK) == 0);
    const vte_model_config *c = vte_model_get_config(model);
    const char *label = vte_model_label(model, st->target.class_id);
    char title[256], description[1024];
    snprintf(title, sizeof title, "%s: %s (%.1f%%)", vte_method_title(st->map_method), label ? label : "?",
             100.0 * (double)st->target.prob);
    snprintf(description, sizeof description, "vitexplain live; %s; class %d (%s), probability %.4f; alpha %.1f; model %s",
             src->label, st->target.class_id, label ? label : "?", (double)st->target.prob, st->alpha,
             cli_model_dir(o->model_dir));
    vte_error err = {0};
    vte_image titled = {0};
    if (vte_render_overlay(&st->display, st->map, c->grid_h, c->grid_w, (float)st->alpha, title, &titled, &err) !=
            VTE_OK ||
        vte_png_write(path, &titled, title, description, &err) != VTE_OK) {
        cli_error("live: %s", err.message);
        vte_image_free(&titled);
        st->save_failures++;
        return;
    }
    vte_image_free(&titled);
    printf("saved %s\n", path);
    fflush(stdout);
}

/* Explains st->frame (already in st->display at the display size). Returns 0 or an exit status. */
static int explain_frame(live_state *st, vte_session *session, const vte_model *model, const live_options *o,
                         float *pixels, float *logits) {
    const vte_model_config *c = vte_model_get_config(model);
    vte_error err = {0};
    if (vte_preprocess(vte_model_get_preprocess(model), c, &st->frame, pixels, &err) != VTE_OK) {
        cli_error("live: %s", err.message);
        return EXIT_SETUP;
    }
    vte_method m = method_of(st->family, st->norm);
    vte_explain_options eo;
    vte_explain_options_default(&eo);
    eo.methods = VTE_METHOD_BIT(m);
    /* One target: the best class, or the class at the chosen rank of the last frame's top K (on a still image
     * the same ranking; on a moving one a frame behind), so gradient methods need one backward pass only. */
    int class_id = -1;
    if (st->rank > 0 && st->rank < st->ranking_count) class_id = st->ranking[st->rank].class_id;
    vte_explanation *e = vte_session_explain(session, pixels, 1, class_id >= 0 ? &class_id : NULL, 1, &eo, &err);
    if (!e) {
        cli_error("live: %s", err.message);
        return EXIT_SETUP;
    }
    memcpy(st->map, vte_explanation_map(e, 0, 0, m), (size_t)c->grid_h * c->grid_w * sizeof *st->map);
    st->have_map = 1;
    st->map_method = m;
    st->target = vte_explanation_target(e, 0, 0);
    st->times = vte_explanation_times(e);
    vte_explanation_free(e);
    if (vte_session_read_logits(session, logits, &err) != VTE_OK) {
        cli_error("live: %s", err.message);
        return EXIT_SETUP;
    }
    st->ranking_count = vte_top_k(logits, c->num_labels, o->topk, st->ranking);
    st->target_rank = -1;
    for (int r = 0; r < st->ranking_count; r++)
        if (st->ranking[r].class_id == st->target.class_id) st->target_rank = r;
    /* The first frame also builds the device programs (or loads them from the cache): not in the means. */
    if (st->explained++ > 0) {
        st->sum_forward += st->times.forward_ms;
        st->sum_backward += st->times.backward_ms;
        st->sum_explain += st->times.explain_ms;
    }
    return 0;
}

/* Digits after the point for a time in ms: 2 below 10 ms, else 1. */
static int ms_digits(double ms) { return ms < 10.0 ? 2 : 1; }

/* Renders the overlay of the held frame and map, then the text, into st->shown. Returns 0 or an exit status. */
static int render_frame(live_state *st, const vte_model *model, const live_options *o, const frame_source *src) {
    const vte_model_config *c = vte_model_get_config(model);
    vte_error err = {0};
    const char *label = vte_model_label(model, st->target.class_id);
    /* No title band on screen: the text box says what the overlay is (a saved overlay gets the band). */
    vte_image overlay = {0};
    if (vte_render_overlay(&st->display, st->map, c->grid_h, c->grid_w, (float)st->alpha, NULL, &overlay, &err) !=
        VTE_OK) {
        cli_error("live: %s", err.message);
        return EXIT_SETUP;
    }
    vte_image_free(&st->overlay);
    st->overlay = overlay;
    if (!image_copy(&st->overlay, &st->shown)) {
        cli_error("live: out of memory");
        return EXIT_SETUP;
    }

    /* Short lines: the text scale follows the frame (about 45 characters fit across a square frame). */
    enum { LINES = 6 };
    char lines[LINES][512];
    double fps = st->interval_ema_ms > 0 ? 1000.0 / st->interval_ema_ms : 0.0;
    if (fps > 0) snprintf(lines[0], sizeof lines[0], "%.1f FPS", fps);
    else snprintf(lines[0], sizeof lines[0], "FPS: measuring");
    const vte_stage_times *t = &st->times;
    if (st->map_method == VTE_METHOD_ROLLOUT)
        snprintf(lines[1], sizeof lines[1], "forward %.*f ms | backward none", ms_digits(t->forward_ms), t->forward_ms);
    else
        snprintf(lines[1], sizeof lines[1], "forward %.*f ms | backward %.*f ms", ms_digits(t->forward_ms),
                 t->forward_ms, ms_digits(t->backward_ms), t->backward_ms);
    snprintf(lines[2], sizeof lines[2], "explanation %.*f ms", ms_digits(t->explain_ms), t->explain_ms);
    /* The status line: what the overlay shows. */
    char rank[32];
    if (st->target_rank >= 0) snprintf(rank, sizeof rank, "#%d", st->target_rank + 1);
    else snprintf(rank, sizeof rank, "not in top %d:", o->topk);
    snprintf(lines[3], sizeof lines[3], "%s%s | %s %s %.1f%% | alpha %.1f", st->paused ? "PAUSED | " : "",
             vte_method_title(st->map_method), rank, label ? label : "?", 100.0 * (double)st->target.prob, st->alpha);
    snprintf(lines[4], sizeof lines[4], "%s", src->label);
    /* Paused with other settings chosen: say what resuming computes; else the keys. */
    vte_method next = method_of(st->family, st->norm);
    if (st->paused && (next != st->map_method || (st->target_rank >= 0 && st->rank != st->target_rank)))
        snprintf(lines[5], sizeof lines[5], "on resume: %s, class #%d", vte_method_title(next), st->rank + 1);
    else
        snprintf(lines[5], sizeof lines[5], "keys: m g c + - space s%s q", src->kind == SOURCE_FOLDER ? " n" : "");
    const char *text[LINES];
    for (int i = 0; i < LINES; i++) text[i] = lines[i];
    if (vte_render_text_box(&st->shown, text, LINES, &err) != VTE_OK) {
        cli_error("live: %s", err.message);
        return EXIT_SETUP;
    }
    return 0;
}

/* ---------------------------------------------------------------- the command */

int cli_live(int argc, char **argv) {
    live_options o = {0};
    int status = parse_options(argc, argv, &o);
    if (status >= 0) return status;

    frame_source src = {.kind = o.source};
    live_state st = {.family = o.family, .norm = o.norm, .alpha = o.alpha, .target_rank = -1};
    vte_runtime *rt = NULL;
    vte_model *model = NULL;
    vte_session *session = NULL;
    vte_cv_window *window = NULL;
    float *pixels = NULL, *logits = NULL;
    vte_error err = {0};
    status = EXIT_OK;

    /* Sources that can be checked without a display first, so that their errors name them. */
    if (src.kind == SOURCE_FOLDER) {
        if ((status = list_folder(o.folder, &src.images)) != EXIT_OK) goto done;
    } else if (src.kind == SOURCE_VIDEO) {
        struct stat info;
        if (stat(o.video, &info) != 0) {
            cli_error("live: cannot open video %s: %s", o.video, strerror(errno));
            status = EXIT_SETUP;
            goto done;
        }
        if (S_ISDIR(info.st_mode)) {
            cli_error("live: cannot open video %s: it is a folder (give a folder of images without --video)",
                      o.video);
            status = EXIT_SETUP;
            goto done;
        }
    }
    if (!vte_cv_display_available()) {
        cli_error("live: no display (DISPLAY is not set or the X server does not answer); use `vitexplain explain` "
                  "for headless runs");
        status = EXIT_SETUP;
        goto done;
    }
    if (src.kind == SOURCE_VIDEO) {
        if (!(src.capture = vte_cv_capture_open_file(o.video, &err))) {
            cli_error("live: cannot open video %s: %s", o.video, err.message);
            status = EXIT_SETUP;
            goto done;
        }
        src.fps = vte_cv_capture_fps(src.capture);
        snprintf(src.label, sizeof src.label, "video %s", base_name(o.video));
    } else if (src.kind == SOURCE_CAMERA) {
        if (!(src.capture = vte_cv_capture_open_camera(o.camera, &err))) {
            cli_error("live: cannot open camera %d: %s", o.camera, err.message);
            status = EXIT_SETUP;
            goto done;
        }
        snprintf(src.label, sizeof src.label, "camera %d", o.camera);
    }

    vte_runtime_params params = {.device = o.device};
    if (!(rt = vte_runtime_init(&params, &err)) || !(model = vte_model_load(rt, cli_model_dir(o.model_dir), &err)) ||
        !(session = vte_session_init(model, 1, &err))) {
        cli_error("%s", err.message);
        status = EXIT_SETUP;
        goto done;
    }
    const vte_model_config *config = vte_model_get_config(model);
    if (o.topk > config->num_labels) {
        cli_error("live: --topk %d, but the model has %d classes", o.topk, config->num_labels);
        status = EXIT_USAGE;
        goto done;
    }
    pixels = malloc(vte_preprocess_size(config) * sizeof *pixels);
    logits = malloc((size_t)config->num_labels * sizeof *logits);
    st.map = malloc((size_t)config->grid_h * config->grid_w * sizeof *st.map);
    st.ranking = malloc((size_t)o.topk * sizeof *st.ranking);
    if (!pixels || !logits || !st.map || !st.ranking) {
        cli_error("out of memory");
        status = EXIT_SETUP;
        goto done;
    }

    char window_title[600];
    snprintf(window_title, sizeof window_title, "vitexplain live - %s",
             src.kind == SOURCE_FOLDER ? o.folder : src.kind == SOURCE_VIDEO ? o.video : src.label);
    if (!(window = vte_cv_window_open(window_title, &err))) {
        cli_error("live: %s", err.message);
        status = EXIT_SETUP;
        goto done;
    }
    printf("live: %s on %s, model %s (%dx%d, %d classes); press q or Esc to quit\n",
           src.kind == SOURCE_FOLDER ? o.folder : src.label, vte_runtime_device(rt)->name,
           cli_model_dir(o.model_dir), config->image_width, config->image_height, config->num_labels);
    fflush(stdout);

    const char *script = o.keys;
    double image_shown_ms = 0; /* folder: time the current image has been on screen (not paused) */
    int need_render = 0;
    double paused_at_ms = 0;
    while (!st.quit) {
        double iteration_start = vte_now_ms();
        if (!st.paused) {
            /* A new frame: the next of a video or camera, or the folder's next image when due. */
            int fresh = 0;
            if (src.kind == SOURCE_FOLDER) {
                if (st.next_image || image_shown_ms >= IMAGE_SECONDS * 1000.0) {
                    src.file_index = (src.file_index + 1) % (int)src.images.count;
                    st.next_image = 0;
                    image_shown_ms = 0;
                    fresh = -2; /* load it */
                }
                if (!st.frame.rgb || fresh == -2) {
                    fresh = source_next(&src, &st.frame);
                    if (fresh < 0) {
                        status = st.explained ? EXIT_SOME_FAILED : EXIT_SETUP;
                        break;
                    }
                }
            } else {
                fresh = source_next(&src, &st.frame);
                if (fresh < 0) {
                    status = st.explained ? EXIT_SOME_FAILED : EXIT_SETUP;
                    break;
                }
                if (fresh == 0 && !st.frame.rgb) {
                    cli_error("live: %s gives no frames", src.kind == SOURCE_VIDEO ? o.video : src.label);
                    status = EXIT_SETUP;
                    break;
                }
            }
            if (fresh == 1) {
                int w, h;
                display_size(st.frame.width, st.frame.height, &w, &h);
                vte_image display = {0};
                if (vte_cv_resize(&st.frame, w, h, &display, &err) != VTE_OK) {
                    cli_error("live: %s", err.message);
                    status = EXIT_SETUP;
                    break;
                }
                vte_image_free(&st.display);
                st.display = display;
            }
            if ((status = explain_frame(&st, session, model, &o, pixels, logits)) != 0) break;
            need_render = 1;
        }
        if (need_render) {
            if ((status = render_frame(&st, model, &o, &src)) != 0) break;
            vte_status shown = vte_cv_window_show(window, &st.shown, &err);
            if (shown != VTE_OK) {
                cli_error("live: %s", err.message);
                status = EXIT_SETUP;
                break;
            }
            need_render = 0;
            if (!st.paused) {
                double now = vte_now_ms();
                if (st.last_show_ms > 0) {
                    double interval = now - st.last_show_ms;
                    st.interval_ema_ms = st.interval_ema_ms > 0 ? 0.8 * st.interval_ema_ms + 0.2 * interval : interval;
                    if (src.kind == SOURCE_FOLDER) image_shown_ms += interval;
                } else {
                    st.first_show_ms = now;
                }
                st.last_show_ms = now;
            }
        }
        if (o.frames && st.explained >= o.frames) break;

        /* Keys: the window's, else a scripted one per frame shown; a video is paced to its frame rate. */
        int delay = 1;
        if (st.paused) delay = 30;
        else if (src.kind == SOURCE_VIDEO && !src.ended && src.fps > 0 && src.fps <= 1000) {
            double left = 1000.0 / src.fps - (vte_now_ms() - iteration_start);
            delay = left > 1 ? (int)left : 1;
        }
        int key = vte_cv_window_wait_key(window, delay);
        if (key < 0 && script && *script) key = (unsigned char)*script++;
        if (key >= 0) {
            int before_paused = st.paused;
            double before_alpha = st.alpha;
            int before_family = st.family, before_norm = st.norm, before_rank = st.rank;
            handle_key(key, &st, &o, &src);
            if ((key & 0xFF) == 's' || (key & 0xFF) == 'S') save_overlay(&st, &o, model, &src);
            /* Paused: nothing is computed, but the blend and the text follow the keys. */
            if (st.paused && (before_paused != st.paused || before_alpha != st.alpha || before_family != st.family ||
                              before_norm != st.norm || before_rank != st.rank))
                need_render = 1;
            /* A pause counts neither as a frame interval nor in the summary's frame rate. */
            if (st.paused && !before_paused) paused_at_ms = vte_now_ms();
            if (!st.paused && before_paused && st.last_show_ms > 0) {
                double paused_for = vte_now_ms() - paused_at_ms;
                st.last_show_ms += paused_for;
                st.first_show_ms += paused_for;
            }
        }
        if (!vte_cv_window_is_open(window)) break;
    }

    if (st.explained > 0) {
        double seconds = (st.last_show_ms - st.first_show_ms) / 1000.0;
        printf("live: %ld frame%s explained", st.explained, st.explained == 1 ? "" : "s");
        if (st.explained > 1 && seconds > 0) printf(", %.1f frames/s", (double)(st.explained - 1) / seconds);
        if (st.explained > 1) {
            double n = (double)(st.explained - 1);
            printf("; after the first, mean forward %.2f ms, backward %.2f ms, explanation %.2f ms",
                   st.sum_forward / n, st.sum_backward / n, st.sum_explain / n);
        }
        printf("\n");
    }
    if (o.screenshot && (status == EXIT_OK || status == EXIT_SOME_FAILED)) {
        if (!st.shown.rgb) {
            cli_error("live: no frame was displayed, so there is no screenshot for %s", o.screenshot);
            status = EXIT_SOME_FAILED;
        } else {
            char description[1024];
            const char *label = vte_model_label(model, st.target.class_id);
            snprintf(description, sizeof description, "%s; %s; class %d (%s), probability %.4f; alpha %.1f",
                     src.label, vte_method_title(st.map_method), st.target.class_id, label ? label : "?",
                     (double)st.target.prob, st.alpha);
            if (vte_png_write(o.screenshot, &st.shown, "vitexplain live", description, &err) != VTE_OK) {
                cli_error("live: %s", err.message);
                status = EXIT_SOME_FAILED;
            } else {
                printf("screenshot %s (%dx%d)\n", o.screenshot, st.shown.width, st.shown.height);
            }
        }
    }
    if (status == EXIT_OK && st.save_failures) status = EXIT_SOME_FAILED;

done:
    fflush(stdout);
    vte_cv_window_close(window);
    if (src.capture) vte_cv_capture_close(src.capture);
    cli_inputs_free(&src.images);
    vte_image_free(&st.frame);
    vte_image_free(&st.display);
    vte_image_free(&st.overlay);
    vte_image_free(&st.shown);
    free(st.map);
    free(st.ranking);
    free(logits);
    free(pixels);
    vte_session_free(session);
    vte_model_free(model);
    vte_runtime_free(rt);
    return status;
}
