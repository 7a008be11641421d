/* Classes named on the command line: an id or a label of the model (explain's --class), and evaluate's
 * --labels FILE, a CSV of `image,class` rows that gives some images the class to evaluate. */
#ifndef VTE_CLI_LABELS_H
#define VTE_CLI_LABELS_H

#include <stddef.h>

#include "vitexplain.h"

/* The class `text` names: a label of the model (any case), else a decimal id in range; -1 when neither. */
int cli_class_id(const vte_model *model, const char *text);

typedef struct cli_label_row {
    char *image; /* as written: a path, a file name or a stem */
    char *class_text;
    int line;     /* in the file, from 1 */
    int class_id; /* after cli_labels_resolve */
    int used;     /* matched an input */
} cli_label_row;

typedef struct cli_labels {
    const char *path;
    cli_label_row *rows;
    size_t count;
} cli_labels;

/* Reads FILE: one `image,class` row per line (RFC 4180 quotes allowed, spaces around fields ignored, blank lines
 * and a first line `image,class` skipped). 0 after reporting "evaluate: --labels FILE:LINE: ..." (a file that
 * cannot be read, a row without two fields, an image given twice). */
int cli_labels_read(const char *path, cli_labels *labels);
/* Turns every row's class into an id of the model; 0 after reporting the first unknown one with its line. */
int cli_labels_resolve(cli_labels *labels, const vte_model *model);
/* The class for an input: the row whose image is the input's path exactly, else its file name, else its stem
 * (the file name without extension); -1 when no row names it. Marks the row used. */
int cli_labels_find(cli_labels *labels, const char *input_path);
void cli_labels_free(cli_labels *labels);

#endif
