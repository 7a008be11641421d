/* What `vitexplain explain` writes for each explained image: one row per output format (outputs.c), each with
 * its file extension, the option that turns it on and its writer. A new format is a writer and a row (plus its
 * option in explain.c). Names follow the original project:
 *   OUT/<family>/<variant>_<stem>[_c<ID>]_<family>.<extension>  (variant and its "_" only for GMAR: l1_, l2_)
 *   OUT/grid/<stem>[_c<ID>]_grid.png
 * Every file is written under a temporary name and renamed into place. A stem so long that one of these names, or
 * its temporary, would pass the file system's name limit (NAME_MAX, 255 bytes) is shortened (cli_fit_stem). */
#ifndef VTE_CLI_OUTPUTS_H
#define VTE_CLI_OUTPUTS_H

#include "cli/cli.h"
#include "cli/summary.h"

/* Pictures of images whose shorter side is below this many pixels are drawn on the image enlarged by the
 * smallest whole factor that reaches it, nearest neighbour (a 28x28 image becomes 224x224, each pixel an 8x8
 * block); the .npy maps are not affected. */
#define CLI_PICTURE_MIN_SIDE 224

/* Creates every output folder the job writes into, and checks that each takes a file, so that an unwritable
 * --out fails before any work. 0 after reporting the problem. */
int cli_outputs_prepare(const cli_explain_job *job);

/* How a failure to write one file is reported (the caller clears its progress bar first). */
typedef void (*cli_output_failure)(void *context, const char *message);

/* The stems of one run's outputs in one folder: later inputs with the same file name get _2, _3, ...; a stem too
 * long for its file names is shortened first (cli_fit_stem). explain's outputs and evaluate's --save-maps use it. */
typedef struct cli_stems {
    char **names; /* the stems used so far */
    size_t count, capacity;
    size_t *slots; /* a hash table of `names` (0: empty, else index + 1), so that a million inputs stay fast */
    size_t slot_count;
    size_t limit; /* the longest stem whose every file name and temporary fits the folder */
} cli_stems;
void cli_stems_init(cli_stems *stems, const char *folder);
/* The stem of `path`'s outputs, unique in this run: a/cat.png and b/cat.jpg give cat and cat_2. */
void cli_stems_unique(cli_stems *stems, const char *path, char *stem, size_t size);
void cli_stems_free(cli_stems *stems);
/* The stems of every input of a list, in its order, for outputs in `folder`: names that depend neither on which
 * part of the list a run does (--shard) nor on which inputs can be read. An array of `count` strings to free with
 * cli_stems_list_free, or NULL after reporting "out of memory". */
char **cli_stems_of_list(const char *folder, char *const *paths, size_t count);
void cli_stems_list_free(char **stems, size_t count);

typedef struct cli_outputs {
    const cli_explain_job *job;
    const vte_model *model;
    char **stems; /* of every input of the run's whole list (cli_stems_of_list) */
    size_t stem_count;
    cli_output_failure on_failure;
    void *context;
} cli_outputs;

/* `stem` into `fitted` (of `size` bytes): as it is when at most `limit` bytes long, else its start, cut before a
 * UTF-8 character, then "~" and 8 hex digits of the full stem's FNV-1a hash: at most `limit` bytes (never fewer than
 * the hash's 9). Two long stems that share their start stay apart, and a stem always gives the same name. */
void cli_fit_stem(const char *stem, size_t limit, char *fitted, size_t size);

/* Names the outputs of every input of the run's whole list `paths` (cli_stems_of_list). 0 after reporting "out of
 * memory". `model` may be NULL when nothing is to be written (only cli_outputs_existing is called). */
int cli_outputs_init(cli_outputs *outputs, const cli_explain_job *job, const vte_model *model, char *const *paths,
                     size_t count, cli_output_failure on_failure, void *context);
/* Writes every output of image `i` of `e` (decoded as `image`, read from `path`, input `index` of the list), adding
 * each file written to `record`. Returns the number of files that could not be written (each reported). */
int cli_outputs_write(cli_outputs *outputs, const vte_explanation *e, int i, size_t index, const char *path,
                      const vte_image *image, cli_record *record);
/* --skip-existing: whether every file cli_outputs_write would write for input `index` is there already, for
 * targets whose file names carry `name_classes[t]` (-1: the name carries no class; t < target_count). Each file is
 * added to `record` (whether there or not: clear it when this returns 0). A file that is there is whole: every
 * output is written under a temporary name and renamed into place. */
int cli_outputs_existing(const cli_outputs *outputs, size_t index, const int *name_classes, int target_count,
                         cli_record *record);
/* 1 when the job writes files for each image (pictures, maps or grids), not only a summary. */
int cli_outputs_any(const cli_explain_job *job);
void cli_outputs_free(cli_outputs *outputs);

#endif
