/* What `vitexplain explain` writes for each explained image: one row per output format (outputs.c), each with
 * its file extension, the option that turns it on and its writer. A new format is a writer and a row (plus its
 * option in explain.c). Names follow the original project:
 *   OUT/<family>/<variant>_<stem>[_c<ID>]_<family>.<extension>  (variant and its "_" only for GMAR: l1_, l2_)
 *   OUT/grid/<stem>[_c<ID>]_grid.png
 * Every file is written under a temporary name and renamed into place. */
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

typedef struct cli_outputs {
    const cli_explain_job *job;
    const vte_model *model;
    char **stems; /* the stems used so far: later inputs with the same file name get _2, _3, ... */
    size_t stem_count, stem_capacity;
    cli_output_failure on_failure;
    void *context;
} cli_outputs;

void cli_outputs_init(cli_outputs *outputs, const cli_explain_job *job, const vte_model *model,
                      cli_output_failure on_failure, void *context);
/* Writes every output of image `i` of `e` (decoded as `image`, read from `path`), adding each file written to
 * `record`. Returns the number of files that could not be written (each reported). */
int cli_outputs_write(cli_outputs *outputs, const vte_explanation *e, int i, const char *path,
                      const vte_image *image, cli_record *record);
void cli_outputs_free(cli_outputs *outputs);

#endif
