/* --summary FILE: one record per input image (predictions, files written, per-stage times, or the error),
 * written at the end of the run as JSON (.json) or CSV (.csv), atomically. */
#ifndef VTE_CLI_SUMMARY_H
#define VTE_CLI_SUMMARY_H

#include <stddef.h>
#include <stdio.h>

#include "vitexplain.h"

typedef struct cli_record {
    char *image;
    char *error; /* NULL when the image was explained */
    vte_prediction top[VTE_EXPLANATION_MAX_PREDICTIONS];
    int top_count;
    char **files;
    int file_count;
    double forward_ms, backward_ms, explain_ms; /* the image's share of its batch */
} cli_record;

typedef struct cli_summary {
    cli_record *records;
    size_t count, capacity;
} cli_summary;

/* Appends a record for `image` and returns it (NULL when out of memory). */
cli_record *cli_summary_add(cli_summary *s, const char *image);
void cli_record_set_error(cli_record *r, const char *message);
void cli_record_add_file(cli_record *r, const char *path);

/* Writes one CSV field with RFC 4180 quoting, then ',' or, for the last field of a line, '\n'. */
void cli_csv_field(FILE *f, const char *text, int last);

/* 1 when `path` ends in .json or .csv. */
int cli_summary_format_known(const char *path);
/* Writes the summary; returns 0, or -1 after reporting the problem on stderr. */
int cli_summary_write(const cli_summary *s, const vte_model *model, int topk, const char *path);
void cli_summary_free(cli_summary *s);

#endif
