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
#define DEFAULT_METHOD "gmar"
#define FIRST_METHOD ((vte_method)0)

/* ---------------------------------------------------------------- method families */

/* The methods come from the library's table, so that a method added there shows up here. A family (what
 * --method and the `m` key choose) is named by its first method in table order; within a family the norm
 * (--norm, the `g` key) picks the variant "l1" or "l2". */

static const char *family_of(vte_method m) { return vte_method_info_of(m)->family; }

static int same_family(vte_method a, vte_method b) { return strcmp(family_of(a), family_of(b)) == 0; }

/* The first method of m's family in table order (how a family is named here). */
static vte_method family_head(vte_method m) {
    for (vte_method k = FIRST_METHOD; k < m; k++)
        if (same_family(k, m)) return k;
    return m;
}

/* The family after `family` in table order, wrapping around. */
static vte_method next_family(vte_method family) {
    for (int step = 1; step < VTE_METHOD_COUNT; step++) {
        vte_method m = (family + step) % VTE_METHOD_COUNT;
        if (family_head(m) == m) return m;
    }
    return family;
}

/* The method of a family for a norm (1 or 2): its variant "l1" or "l2", else (no variants) the family's one. */
static vte_method method_in_family(vte_method family, int norm) {
    const char *variant = norm == 2 ? "l2" : "l1";
    for (vte_method m = family; m < VTE_METHOD_COUNT; m++)
        if (same_family(m, family) && strcmp(vte_method_info_of(m)->variant, variant) == 0) return m;
    return family;
}

/* The norm a method's variant stands for: 1 ("l1"), 2 ("l2"), else 0. */
static int norm_of_method(vte_method m) {
    const char *variant = vte_method_info_of(m)->variant;
    return strcmp(variant, "l1") == 0 ? 1 : strcmp(variant, "l2") == 0 ? 2 : 0;
}

static void append_text(char *text, size_t size, const char *more) {
    size_t used = strlen(text);
    if (used < size) snprintf(text + used, size - used, "%s", more);
}

/* ---------------------------------------------------------------- help */

static void print_help(void) {
    /* The families from the library's table: "rollout, gmar, legrad or chefer", and the `m` key's cycle. */
    char families[256], cycle[256];
    cli_method_families(families, sizeof families, ", ", " or ");
    cli_method_families(cycle, sizeof cycle, " -> ", " -> ");
    append_text(cycle, sizeof cycle, " -> ");
    append_text(cycle, sizeof cycle, vte_method_info_of(FIRST_METHOD)->family);
    printf(
        "Usage: vitexplain live [OPTIONS] [--camera N | --video FILE | FOLDER]\n"
        "\n"
        "Opens a window with the current frame and its explanation overlay (jet colours: red = looked at),\n"
        "re-explained continuously, one frame at a time, on the OpenCL device. Drawn on the frame: the frame\n"
        "rate, the milliseconds of each stage (forward, backward, explanation; a method that needs no backward\n"
        "pass shows \"backward none\" and is the fastest), the method, the explained class with its probability\n"
        "and the blend (alpha).\n"
        "\n"
        "Source (one of):\n"
        "  --camera N       camera N (default: camera 0 when no source is given)\n"
        "  --video FILE     a video file, played at its own frame rate; at its end the last frame stays (and is\n"
        "                   still explained) until you quit\n"
        "  FOLDER           the .jpg, .jpeg and .png images of a folder (any case), sorted by name, each shown\n"
        "                   for about %.0f s, cycling\n"
        "\n"
        "Options:\n"
        "  --method M       %s to start with (default %s)\n"
        "  --norm N         GMAR head weights: l1 or l2 (default l1)\n"
        "  --alpha A        weight of the heat map in the blend, 0 to 1 (default 0.5)\n"
        "  --topk K         the `c` key cycles through the top K classes (default 3)\n"
        "  --frames N       stop after N explained frames\n"
        "  --screenshot FILE  at the end, save the last displayed frame (overlay and text) as PNG to FILE\n"
        "  --out DIR        folder of the overlays saved with `s` (default %s)\n"
        "  --keys KEYS      act as if KEYS were pressed, one per frame shown (scripted runs and tests)\n"
        "  --model DIR      Hugging Face ViTForImageClassification folder or hub id (default\n"
        "                   " MODEL_DEFAULT_HELP("                   ") ")\n"
        "  --device SPEC    OpenCL device (see `vitexplain devices`)\n"
        "\n"
        "Keys:\n"
        "  m        next method: %s\n"
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
        IMAGE_SECONDS, families, DEFAULT_METHOD, DEFAULT_OUT_DIR, cycle, DISPLAY_MIN_SIDE,
        DISPLAY_MAX_SIDE);
}

/* ---------------------------------------------------------------- options */

enum { SOURCE_CAMERA, SOURCE_VIDEO, SOURCE_FOLDER };

typedef struct live_options {
    const char *model_dir, *device, *video, *folder, *screenshot, *out_dir, *keys;
    int source, camera;
    vte_method family; /* its first method in the table */
    int norm;          /* 1 or 2 */
    int named_method;  /* --method named one method ("gmar_l2"), else -1 */
    const char *norm_arg; /* --norm as given, else NULL */
    double alpha;
    int topk, frames;
} live_options;

/* --method: a family ("gmar") or one method ("gmar_l2"), not "all". Returns 0 after reporting an unknown one. */
static int parse_method(const char *value, live_options *o) {
    unsigned methods = vte_methods_from_name(value);
    vte_method first = FIRST_METHOD;
    while (first < VTE_METHOD_COUNT && !(methods & VTE_METHOD_BIT(first))) first++;
    int one_family = first < VTE_METHOD_COUNT; /* not for an unknown name, nor "all" */
    for (vte_method m = first; one_family && m < VTE_METHOD_COUNT; m++)
        if ((methods & VTE_METHOD_BIT(m)) && !same_family(m, first)) one_family = 0;
    if (!one_family) {
        char families[256];
        cli_method_families(families, sizeof families, ", ", " or ");
        cli_error("live: unknown method '%s' (%s)", value, families);
        return 0;
    }
    o->family = family_head(first);
    o->named_method = vte_method_from_name(value);
    return 1;
}

/* A file or folder name option must not be empty; returns 0 after reporting that it is. */
static int named(const char *option, const char *value, const char *what) {
    if (*value) return 1;
    cli_error("live: %s needs %s", option, what);
    return 0;
}

/* One option with its value. Returns 0 after reporting a bad value. */
static int parse_value_option(const char *arg, const char *value, live_options *o, int *sources) {
    if (strcmp(arg, "--model") == 0) {
        o->model_dir = value;
    } else if (strcmp(arg, "--device") == 0) {
        o->device = value;
    } else if (strcmp(arg, "--camera") == 0) {
        if (!cli_parse_int("live", arg, value, 0, 1023, &o->camera)) return 0;
        o->source = SOURCE_CAMERA;
        ++*sources;
    } else if (strcmp(arg, "--video") == 0) {
        if (!named(arg, value, "a file name")) return 0;
        o->video = value;
        o->source = SOURCE_VIDEO;
        ++*sources;
    } else if (strcmp(arg, "--method") == 0) {
        return parse_method(value, o);
    } else if (strcmp(arg, "--norm") == 0) {
        if (strcasecmp(value, "l1") != 0 && strcasecmp(value, "l2") != 0) {
            cli_error("live: --norm takes l1 or l2, got '%s'", value);
            return 0;
        }
        o->norm = strcasecmp(value, "l2") == 0 ? 2 : 1;
        o->norm_arg = value;
    } else if (strcmp(arg, "--alpha") == 0) {
        return cli_parse_float("live", arg, value, 0.0, 1.0, &o->alpha);
    } else if (strcmp(arg, "--topk") == 0) {
        return cli_parse_int("live", arg, value, 1, 100000, &o->topk);
    } else if (strcmp(arg, "--frames") == 0) {
        return cli_parse_int("live", arg, value, 1, INT_MAX, &o->frames);
    } else if (strcmp(arg, "--screenshot") == 0) {
        if (!named(arg, value, "a file name")) return 0;
        o->screenshot = value;
    } else if (strcmp(arg, "--out") == 0) {
        if (!named(arg, value, "a folder name")) return 0;
        o->out_dir = value;
    } else if (strcmp(arg, "--keys") == 0) {
        o->keys = value;
    }
    return 1;
}

static int takes_value(const char *arg) {
    static const char *const with_value[] = {"--model", "--device", "--camera", "--video", "--method", "--norm",
                                             "--alpha", "--topk", "--frames", "--screenshot", "--out", "--keys"};
    for (size_t k = 0; k < sizeof with_value / sizeof with_value[0]; k++)
        if (strcmp(arg, with_value[k]) == 0) return 1;
    return 0;
}

/* Returns -1 to continue, else an exit status. */
static int parse_options(int argc, char **argv, live_options *o) {
    o->source = SOURCE_CAMERA;
    parse_method(DEFAULT_METHOD, o); /* a family: it names no single method */
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
        if (takes_value(arg)) {
            if (i + 1 >= argc) {
                cli_error("live: %s needs a value", arg);
                return EXIT_USAGE;
            }
            if (!parse_value_option(arg, argv[++i], o, &sources)) return EXIT_USAGE;
        } else if (arg[0] == '-' && arg[1] != '\0') {
            cli_error("live: unknown option '%s' (see `vitexplain live --help`)", arg);
            return EXIT_USAGE;
        } else if (o->folder) {
            cli_error("live: one FOLDER only, got '%s' and '%s'", o->folder, arg);
            return EXIT_USAGE;
        } else {
            o->folder = arg;
            o->source = SOURCE_FOLDER;
            sources++;
        }
    }
    if (sources > 1) {
        cli_error("live: give one source only: --camera N, --video FILE or FOLDER");
        return EXIT_USAGE;
    }
    /* A method named with its norm ("gmar_l2") sets the norm, unless --norm says otherwise. */
    int method_norm = o->named_method >= 0 ? norm_of_method(o->named_method) : 0;
    if (method_norm && o->norm_arg && method_norm != o->norm) {
        cli_error("live: --method %s and --norm %s disagree", vte_method_name(o->named_method), o->norm_arg);
        return EXIT_USAGE;
    }
    if (method_norm) o->norm = method_norm;
    return -1;
}

/* ---------------------------------------------------------------- small helpers */

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
    vte_method family; /* as live_options */
    int norm, rank;
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
    case 'm': case 'M': st->family = next_family(st->family); break;
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
             vte_model_dir(model));
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
    vte_method m = method_in_family(st->family, st->norm);
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
    if (!vte_method_needs_backward(st->map_method, NULL))
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
    vte_method next = method_in_family(st->family, st->norm);
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

/* Everything one run holds, so that each step below takes one argument and the end frees it all. */
typedef struct live_run {
    live_options o;
    frame_source src;
    live_state st;
    vte_runtime *rt;
    vte_model *model;
    vte_session *session;
    float *pixels, *logits;
    vte_cv_window *window;
    /* the loop */
    const char *script;    /* --keys not yet used */
    double image_shown_ms; /* folder: time the current image has been on screen (not paused) */
    int need_render;
    double paused_at_ms;
} live_run;

enum { KEEP_GOING = -1 }; /* a loop step's answer when the run goes on (else the exit status to stop with) */

/* The checks that need no display: a folder is listed, a video must be a file, so that their errors name
 * them. Returns an exit status. */
static int check_source(live_run *r) {
    if (r->src.kind == SOURCE_FOLDER) return list_folder(r->o.folder, &r->src.images);
    if (r->src.kind != SOURCE_VIDEO) return EXIT_OK;
    struct stat info;
    if (stat(r->o.video, &info) != 0) {
        cli_error("live: cannot open video %s: %s", r->o.video, strerror(errno));
        return EXIT_SETUP;
    }
    if (S_ISDIR(info.st_mode)) {
        cli_error("live: cannot open video %s: it is a folder (give a folder of images without --video)", r->o.video);
        return EXIT_SETUP;
    }
    return EXIT_OK;
}

/* Checks the source, then the display, then opens the video or camera. Returns an exit status. */
static int open_source(live_run *r) {
    int status = check_source(r);
    if (status != EXIT_OK) return status;
    if (!vte_cv_display_available()) {
        cli_error("live: no display (DISPLAY is not set or the X server does not answer); use `vitexplain explain` "
                  "for headless runs");
        return EXIT_SETUP;
    }
    frame_source *src = &r->src;
    vte_error err = {0};
    if (src->kind == SOURCE_VIDEO) {
        if (!(src->capture = vte_cv_capture_open_file(r->o.video, &err))) {
            cli_error("live: cannot open video %s: %s", r->o.video, err.message);
            return EXIT_SETUP;
        }
        src->fps = vte_cv_capture_fps(src->capture);
        snprintf(src->label, sizeof src->label, "video %s", base_name(r->o.video));
    } else if (src->kind == SOURCE_CAMERA) {
        if (!(src->capture = vte_cv_capture_open_camera(r->o.camera, &err))) {
            cli_error("live: cannot open camera %d: %s", r->o.camera, err.message);
            return EXIT_SETUP;
        }
        snprintf(src->label, sizeof src->label, "camera %d", r->o.camera);
    }
    return EXIT_OK;
}

/* The device, the model, a session of one image and the host buffers. Returns an exit status. */
static int open_engine(live_run *r) {
    vte_error err = {0};
    vte_runtime_params params = {.device = r->o.device};
    if (!(r->rt = vte_runtime_init(&params, &err))) {
        cli_error("%s", err.message);
        return EXIT_SETUP;
    }
    cli_model_choice choice;
    if (!(r->model = cli_model_load(r->rt, r->o.model_dir, 0, &choice))) return EXIT_SETUP;
    /* keeps what the chosen methods need on the first explanation (vte_session_explain) */
    if (!(r->session = vte_session_init_keeping(r->model, 1, 0, &err))) {
        cli_error("%s", err.message);
        return EXIT_SETUP;
    }
    const vte_model_config *config = vte_model_get_config(r->model);
    if (r->o.topk > config->num_labels) {
        cli_error("live: --topk %d, but the model has %d classes", r->o.topk, config->num_labels);
        return EXIT_USAGE;
    }
    r->pixels = malloc(vte_preprocess_size(config) * sizeof *r->pixels);
    r->logits = malloc((size_t)config->num_labels * sizeof *r->logits);
    r->st.map = malloc((size_t)config->grid_h * config->grid_w * sizeof *r->st.map);
    r->st.ranking = malloc((size_t)r->o.topk * sizeof *r->st.ranking);
    if (!r->pixels || !r->logits || !r->st.map || !r->st.ranking) {
        cli_error("out of memory");
        return EXIT_SETUP;
    }
    return EXIT_OK;
}

/* Opens the window and says what runs where. Returns an exit status. */
static int open_window(live_run *r) {
    const frame_source *src = &r->src;
    char title[600];
    snprintf(title, sizeof title, "vitexplain live - %s",
             src->kind == SOURCE_FOLDER ? r->o.folder : src->kind == SOURCE_VIDEO ? r->o.video : src->label);
    vte_error err = {0};
    if (!(r->window = vte_cv_window_open(title, &err))) {
        cli_error("live: %s", err.message);
        return EXIT_SETUP;
    }
    const vte_model_config *config = vte_model_get_config(r->model);
    printf("live: %s on %s, model %s (%dx%d, %d classes); press q or Esc to quit\n",
           src->kind == SOURCE_FOLDER ? r->o.folder : src->label, vte_runtime_device(r->rt)->name,
           vte_model_dir(r->model), config->image_width, config->image_height, config->num_labels);
    fflush(stdout);
    return EXIT_OK;
}

/* Replaces st->display with the frame scaled to the display size. Returns 0 or an exit status. */
static int scale_for_display(live_state *st) {
    int w, h;
    display_size(st->frame.width, st->frame.height, &w, &h);
    vte_image display = {0};
    vte_error err = {0};
    if (vte_cv_resize(&st->frame, w, h, &display, &err) != VTE_OK) {
        cli_error("live: %s", err.message);
        return EXIT_SETUP;
    }
    vte_image_free(&st->display);
    st->display = display;
    return 0;
}

/* The frame to explain: the next of a video or camera (the last one stays at its end), or the folder's next
 * image when due. Returns 0 or an exit status. */
static int advance_frame(live_run *r) {
    frame_source *src = &r->src;
    live_state *st = &r->st;
    int fresh;
    if (src->kind == SOURCE_FOLDER) {
        int due = st->next_image || r->image_shown_ms >= IMAGE_SECONDS * 1000.0;
        if (due) {
            src->file_index = (src->file_index + 1) % (int)src->images.count;
            st->next_image = 0;
            r->image_shown_ms = 0;
        }
        if (!due && st->frame.rgb) return 0;
        fresh = source_next(src, &st->frame);
    } else {
        fresh = source_next(src, &st->frame);
        if (fresh == 0 && !st->frame.rgb) {
            cli_error("live: %s gives no frames", src->kind == SOURCE_VIDEO ? r->o.video : src->label);
            return EXIT_SETUP;
        }
    }
    if (fresh < 0) return st->explained ? EXIT_SOME_FAILED : EXIT_SETUP;
    return fresh ? scale_for_display(st) : 0;
}

/* Renders the held frame and shows it; unpaused, it counts as a frame interval. Returns 0 or an exit status. */
static int show_frame(live_run *r) {
    live_state *st = &r->st;
    int status = render_frame(st, r->model, &r->o, &r->src);
    if (status != 0) return status;
    vte_error err = {0};
    if (vte_cv_window_show(r->window, &st->shown, &err) != VTE_OK) {
        cli_error("live: %s", err.message);
        return EXIT_SETUP;
    }
    r->need_render = 0;
    if (st->paused) return 0;
    double now = vte_now_ms();
    if (st->last_show_ms > 0) {
        double interval = now - st->last_show_ms;
        st->interval_ema_ms = st->interval_ema_ms > 0 ? 0.8 * st->interval_ema_ms + 0.2 * interval : interval;
        if (r->src.kind == SOURCE_FOLDER) r->image_shown_ms += interval;
    } else {
        st->first_show_ms = now;
    }
    st->last_show_ms = now;
    return 0;
}

/* The window's key, else a scripted one (one per frame shown), else -1; a video is paced to its frame rate. */
static int wait_for_key(live_run *r, double iteration_start) {
    const frame_source *src = &r->src;
    int delay = 1;
    if (r->st.paused) delay = 30;
    else if (src->kind == SOURCE_VIDEO && !src->ended && src->fps > 0 && src->fps <= 1000) {
        double left = 1000.0 / src->fps - (vte_now_ms() - iteration_start);
        delay = left > 1 ? (int)left : 1;
    }
    int key = vte_cv_window_wait_key(r->window, delay);
    if (key < 0 && r->script && *r->script) key = (unsigned char)*r->script++;
    return key;
}

static void apply_key(live_run *r, int key) {
    live_state *st = &r->st;
    int before_paused = st->paused, before_norm = st->norm, before_rank = st->rank;
    double before_alpha = st->alpha;
    vte_method before_family = st->family;
    handle_key(key, st, &r->o, &r->src);
    if ((key & 0xFF) == 's' || (key & 0xFF) == 'S') save_overlay(st, &r->o, r->model, &r->src);
    /* Paused: nothing is computed, but the blend and the text follow the keys. */
    if (st->paused && (before_paused != st->paused || before_alpha != st->alpha || before_family != st->family ||
                       before_norm != st->norm || before_rank != st->rank))
        r->need_render = 1;
    /* A pause counts neither as a frame interval nor in the summary's frame rate. */
    if (st->paused && !before_paused) r->paused_at_ms = vte_now_ms();
    if (!st->paused && before_paused && st->last_show_ms > 0) {
        double paused_for = vte_now_ms() - r->paused_at_ms;
        st->last_show_ms += paused_for;
        st->first_show_ms += paused_for;
    }
}

/* One pass of the loop: unless paused, a new frame explained; the frame shown when it changed; a key.
 * Returns KEEP_GOING or the exit status to stop with. */
static int live_step(live_run *r) {
    live_state *st = &r->st;
    double iteration_start = vte_now_ms();
    int status;
    if (!st->paused) {
        if ((status = advance_frame(r)) != 0) return status;
        if ((status = explain_frame(st, r->session, r->model, &r->o, r->pixels, r->logits)) != 0) return status;
        r->need_render = 1;
    }
    if (r->need_render && (status = show_frame(r)) != 0) return status;
    if (r->o.frames && st->explained >= r->o.frames) return EXIT_OK;
    int key = wait_for_key(r, iteration_start);
    if (key >= 0) apply_key(r, key);
    return vte_cv_window_is_open(r->window) ? KEEP_GOING : EXIT_OK;
}

/* "live: N frames explained, F frames/s; after the first, mean ..." (the first also builds the programs). */
static void print_summary(const live_state *st) {
    if (st->explained == 0) return;
    double seconds = (st->last_show_ms - st->first_show_ms) / 1000.0;
    printf("live: %ld frame%s explained", st->explained, st->explained == 1 ? "" : "s");
    if (st->explained > 1 && seconds > 0) printf(", %.1f frames/s", (double)(st->explained - 1) / seconds);
    if (st->explained > 1) {
        double n = (double)(st->explained - 1);
        printf("; after the first, mean forward %.2f ms, backward %.2f ms, explanation %.2f ms", st->sum_forward / n,
               st->sum_backward / n, st->sum_explain / n);
    }
    printf("\n");
}

/* Saves the last displayed frame to --screenshot. Returns EXIT_OK or EXIT_SOME_FAILED. */
static int save_screenshot(const live_run *r) {
    const live_state *st = &r->st;
    if (!st->shown.rgb) {
        cli_error("live: no frame was displayed, so there is no screenshot for %s", r->o.screenshot);
        return EXIT_SOME_FAILED;
    }
    char description[1024];
    const char *label = vte_model_label(r->model, st->target.class_id);
    snprintf(description, sizeof description, "%s; %s; class %d (%s), probability %.4f; alpha %.1f", r->src.label,
             vte_method_title(st->map_method), st->target.class_id, label ? label : "?", (double)st->target.prob,
             st->alpha);
    vte_error err = {0};
    if (vte_png_write(r->o.screenshot, &st->shown, "vitexplain live", description, &err) != VTE_OK) {
        cli_error("live: %s", err.message);
        return EXIT_SOME_FAILED;
    }
    printf("screenshot %s (%dx%d)\n", r->o.screenshot, st->shown.width, st->shown.height);
    return EXIT_OK;
}

/* Runs the loop, then the summary and the screenshot. Returns the exit status. */
static int run_and_report(live_run *r) {
    r->script = r->o.keys;
    int status = KEEP_GOING;
    while (!r->st.quit && (status = live_step(r)) == KEEP_GOING) continue;
    if (status == KEEP_GOING) status = EXIT_OK; /* quit with a key */
    print_summary(&r->st);
    if (r->o.screenshot && (status == EXIT_OK || status == EXIT_SOME_FAILED) && save_screenshot(r) != EXIT_OK)
        status = EXIT_SOME_FAILED;
    if (status == EXIT_OK && r->st.save_failures) status = EXIT_SOME_FAILED;
    return status;
}

static void close_run(live_run *r) {
    vte_cv_window_close(r->window);
    if (r->src.capture) vte_cv_capture_close(r->src.capture);
    cli_inputs_free(&r->src.images);
    vte_image_free(&r->st.frame);
    vte_image_free(&r->st.display);
    vte_image_free(&r->st.overlay);
    vte_image_free(&r->st.shown);
    free(r->st.map);
    free(r->st.ranking);
    free(r->logits);
    free(r->pixels);
    vte_session_free(r->session);
    vte_model_free(r->model);
    vte_runtime_free(r->rt);
}

int cli_live(int argc, char **argv) {
    live_run run = {0}, *r = &run;
    int status = parse_options(argc, argv, &r->o);
    if (status >= 0) return status;
    r->src.kind = r->o.source;
    r->st = (live_state){.family = r->o.family, .norm = r->o.norm, .alpha = r->o.alpha, .target_rank = -1};
    status = open_source(r);
    if (status == EXIT_OK) status = open_engine(r);
    if (status == EXIT_OK) status = open_window(r);
    if (status == EXIT_OK) status = run_and_report(r);
    fflush(stdout);
    close_run(r);
    return status;
}
