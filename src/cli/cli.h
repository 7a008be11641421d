/* The vitexplain command line: shared pieces of the sub-commands. */
#ifndef VTE_CLI_CLI_H
#define VTE_CLI_CLI_H

#include "vitexplain.h"

/* Exit status of every command (documented in --help and the README). */
enum {
    EXIT_OK = 0,          /* everything asked for was done */
    EXIT_SOME_FAILED = 1, /* the run went on, but some inputs failed (each was reported on stderr) */
    EXIT_USAGE = 2,       /* bad command line */
    EXIT_SETUP = 3        /* nothing could be done: no device, unreadable model, device self-check failed */
};

#define DEFAULT_MODEL_DIR "weights/vit-base-patch16-224"

int cli_devices(int argc, char **argv);
int cli_classify(int argc, char **argv);

/* Prints "vitexplain: <message>" on stderr. */
void cli_error(const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 1, 2)))
#endif
    ;

/* The model directory: --model, else $VITEXPLAIN_MODEL, else DEFAULT_MODEL_DIR. */
const char *cli_model_dir(const char *option);

#endif
