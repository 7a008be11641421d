/* Progress of a long run on stderr: a bar redrawn in place on a terminal (images done, images/s, time
 * left), one plain line per batch otherwise, nothing with --quiet. */
#ifndef VTE_CLI_PROGRESS_H
#define VTE_CLI_PROGRESS_H

#include <stddef.h>

#include "util/clock.h"

typedef struct cli_progress {
    size_t total, done, failed;
    double start_ms; /* vte_now_ms() at the start */
    int terminal; /* stderr is a terminal: redraw one line */
    int quiet;
    int drawn;    /* a bar is on screen and must be cleared before other output */
} cli_progress;

void cli_progress_start(cli_progress *p, size_t total, int quiet);
/* `done` more images finished (`failed` of them failed). */
void cli_progress_advance(cli_progress *p, size_t done, size_t failed);
/* Clears the bar before other text is printed (it is redrawn on the next advance). */
void cli_progress_clear(cli_progress *p);
void cli_progress_finish(cli_progress *p);

#endif
