/* Command-line inputs: image files and folders. */
#ifndef VTE_CLI_INPUTS_H
#define VTE_CLI_INPUTS_H

#include <stddef.h>

typedef struct cli_inputs {
    char **paths;
    size_t count, capacity;
} cli_inputs;

/* Files are kept as given (a missing one fails later, with its reason); folders are replaced by their
 * .jpg/.jpeg/.png files (any case, sorted; sub-folders too with `recursive`, except `output_dir`, which may be
 * NULL). Returns the number of arguments that could not be read (each reported on stderr). */
int cli_collect_inputs(char **args, int count, int recursive, const char *output_dir, cli_inputs *list);
void cli_inputs_free(cli_inputs *list);

/* 1 when the name ends in .jpg, .jpeg or .png, any case. */
int cli_is_image_name(const char *name);

#endif
