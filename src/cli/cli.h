/* The vitexplain command line: shared pieces of the sub-commands. */
#ifndef VTE_CLI_CLI_H
#define VTE_CLI_CLI_H

#include "cli/shard.h"    /* cli_shard */
#include "util/clock.h"  /* vte_now_ms */
#include "util/fileio.h" /* vte_make_dirs */
#include "vitexplain.h"

/* Exit status of every command (documented in --help and the README). */
enum {
    EXIT_OK = 0,          /* everything asked for was done */
    EXIT_SOME_FAILED = 1, /* the run went on, but some inputs failed (each was reported on stderr) */
    EXIT_USAGE = 2,       /* bad command line */
    EXIT_SETUP = 3,       /* nothing could be done: no device, unreadable model, device self-check failed */
    EXIT_INTERRUPTED = 130 /* stopped by Ctrl-C or SIGTERM after finishing the batch in hand */
};

#define DEFAULT_MODEL_DIR "weights/vit-base-patch16-224"
#define BUNDLED_MODEL_DIR "weights/fashion-vit"   /* ships with vitexplain (tools/train_fashion_vit.py) */
#define BUNDLED_IMAGES_DIR "images/fashion"       /* one Fashion-MNIST test image per class */
/* The default model's chain for --help, on two lines; INDENT starts the second. */
#define MODEL_DEFAULT_HELP(INDENT)                                                                                 \
    "$VITEXPLAIN_MODEL, else " DEFAULT_MODEL_DIR " when it is there,\n" INDENT                                    \
    "else the bundled Fashion-MNIST model " BUNDLED_MODEL_DIR

int cli_devices(int argc, char **argv);
int cli_classify(int argc, char **argv);
int cli_explain(int argc, char **argv);
int cli_live(int argc, char **argv);
/* `vitexplain merge-summaries OUT.json PART.json...` (merge.c). */
int cli_merge_summaries(int argc, char **argv);

/* One explain run: what `vitexplain explain` parses and the seed's interactive mode fills in. */
#define CLI_MAX_CLASSES 64
typedef struct cli_explain_job {
    const char *model_dir, *device, *out_dir, *summary_path;
    int batch, topk;
    const char *class_args[CLI_MAX_CLASSES];
    int class_count;
    vte_explain_options methods;
    float alpha;     /* heat-map opacity */
    int pictures;    /* overlay PNGs (default on) */
    int save_raw;    /* .npy maps too */
    int grid;        /* one side-by-side picture per image */
    int recursive, quiet;
    vte_image_load_options load_options; /* --max-pixels */
    int fast_decode;                     /* --fast-decode */
    int seed_output; /* print "Processing: <file> → <label>" as the original project did */
    cli_shard shard;   /* --shard: this run's part of the inputs */
    int skip_existing; /* --skip-existing: images whose every output is there are not done again */
} cli_explain_job;

void cli_explain_job_default(cli_explain_job *job);
/* Adds the methods named in "rollout,gmar,..." (method names, families or "all": vte_methods_from_name); of a
 * family with variants (GMAR's norms) the variants in `norms`: 1 (l1), 2 (l2) or 3 (both). Returns 0 after
 * reporting an unknown name. */
int cli_explain_set_methods(cli_explain_job *job, const char *list, int norms);
/* Explains the images of files and folders; returns the exit status. */
int cli_explain_run(const cli_explain_job *job, char **inputs, int input_count);
/* `vitexplain` with no arguments: the original project's prompts on a terminal, else the usage. */
int cli_interactive(void);
/* `vitexplain --method M [explain options] [INPUT...]`: the original project's job without the prompts
 * (inputs default to images/, its output lines). */
int cli_seed(int argc, char **argv);

/* Prints "vitexplain: <message>" on stderr. */
void cli_error(const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 1, 2)))
#endif
    ;

/* The model a command uses: --model (a folder or a hub id in the Hugging Face cache), else $VITEXPLAIN_MODEL,
 * else DEFAULT_MODEL_DIR when it is there, else the bundled model (in the current folder, beside the program, or
 * installed under share/vitexplain). */
typedef struct cli_model_choice {
    char spec[4200];    /* what vte_model_load gets */
    const char *origin; /* why: "--model", "$VITEXPLAIN_MODEL", "default", or the bundled model's description */
    int bundled;
} cli_model_choice;
void cli_model_choose(const char *option, cli_model_choice *choice);
/* The chosen model's spec (a static buffer). */
const char *cli_model_dir(const char *option);
/* Loads the chosen model and, unless quiet, says on stderr which one it is ("model: ..."), before anything else
 * the command prints. NULL after reporting. */
vte_model *cli_model_load(vte_runtime *rt, const char *option, int quiet, cli_model_choice *choice);
/* What the original project's job explains when no input is given: the bundled images with the bundled model,
 * else images/. */
const char *cli_default_inputs(const cli_model_choice *choice);

/* Parses an integer option value in [min, max]; reports "<command>: <option> ..." and returns 0 if invalid. */
int cli_parse_int(const char *command, const char *option, const char *text, int min, int max, int *out);
int cli_parse_float(const char *command, const char *option, const char *text, double min, double max, double *out);

/* The image options of classify, explain and evaluate: --max-pixels N (the pixel limit of
 * vte_image_load_options) and, where the image is only needed at the model's size, --fast-decode (reduced-size
 * JPEG decoding, at least twice the model's input on each side). CLI_IMAGE_OPTION_HELP is their --help text. */
#define CLI_IMAGE_OPTION_HELP(INDENT)                                                                              \
    "  --max-pixels N" INDENT "refuse images of more than N pixels, read from the file's header before\n"          \
    "                " INDENT "decoding (default 67108864, 8192 x 8192; see docs/security.md)\n"
#define CLI_FAST_DECODE_HELP(INDENT)                                                                               \
    "  --fast-decode " INDENT "decode large JPEGs at 1/2, 1/4 or 1/8 size, still at least twice the model's\n"     \
    "                " INDENT "input: less time and memory, slightly different pixels than transformers'\n"        \
    "                " INDENT "preprocessing\n"
/* Parses --max-pixels' value into options->max_pixels; 0 after reporting a bad value. */
int cli_parse_max_pixels(const char *command, const char *text, vte_image_load_options *options);

/* The file name without folders and extension: "a/b/cat.png" -> "cat". */
void cli_stem(const char *path, char *stem, size_t size);

/* The method families of the library's table, in its order, as a list for messages: with separators ", " and
 * " or ", "rollout, gmar, legrad or chefer". */
void cli_method_families(char *out, size_t size, const char *separator, const char *last_separator);

/* A batch of decoded, preprocessed images, filled from a list of paths. */
typedef struct cli_batch {
    int capacity, count;
    float *pixels;      /* capacity * vte_preprocess_size: image i at pixels + i*preprocess_size */
    const char **paths; /* the paths of the images in the batch */
    size_t *positions;  /* and their positions in the list given to cli_batch_load */
    vte_image *images;  /* their decoded pictures when kept (explain draws on them), else NULL */
    vte_image_load_options load_options; /* how images are decoded (--max-pixels, --fast-decode) */
} cli_batch;

/* 0 after reporting "out of memory". `load_options` (may be NULL: the defaults) is copied; with `fast_decode` its
 * reduced size becomes twice the model's input. */
int cli_batch_init(cli_batch *batch, const vte_model *model, int capacity, int keep_images,
                   const vte_image_load_options *load_options, int fast_decode);
void cli_batch_free(cli_batch *batch);

/* Called for each input that cannot be decoded or preprocessed, with its position in the list given to
 * cli_batch_load and the library's message. */
typedef void (*cli_load_failure)(void *context, size_t position, const char *path, const char *message);

/* Empties the batch (freeing kept images), then loads paths[*next] on until it is full or the list ends; each
 * input that fails goes to on_failure and is skipped. Returns batch->count. */
int cli_batch_load(cli_batch *batch, const vte_model *model, char **paths, size_t count, size_t *next,
                   cli_load_failure on_failure, void *context);

#endif
