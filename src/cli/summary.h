/* --summary FILE: one record per input image (predictions, files written, per-stage times, or the error),
 * written at the end of the run as JSON (.json) or CSV (.csv), atomically. */
#ifndef VTE_CLI_SUMMARY_H
#define VTE_CLI_SUMMARY_H

#include <jansson.h>
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

/* Text that may not be UTF-8 (a path is any bytes on Linux, an error message names paths) set into a JSON object,
 * which must hold UTF-8: jansson refuses anything else, and a record would be lost. Valid UTF-8 is set under `key`
 * as it is. Otherwise `key` gets the text with each byte that is not part of a valid UTF-8 character replaced by
 * U+FFFD, and `key`_bytes its exact bytes as lowercase hex ("caf\xe9.png": "caf\ufffd.png" and
 * "636166e92e706e67"). Python's surrogateescape (\udce9) cannot be used: jansson neither writes nor reads lone
 * surrogates, and strict JSON readers refuse them. NULL sets null. */
void cli_json_set_text(json_t *object, const char *key, const char *text);
/* The same for a list: `key` an array of the texts, each made valid as above, and when any is not UTF-8,
 * `key`_bytes an array of every text's bytes in hex, in the same order. */
void cli_json_set_texts(json_t *object, const char *key, char *const *texts, int count);

/* 1 when `path` ends in .json or .csv. */
int cli_summary_format_known(const char *path);
/* Writes the summary; returns 0, or -1 after reporting the problem on stderr. */
int cli_summary_write(const cli_summary *s, const vte_model *model, int topk, const char *path);
void cli_summary_free(cli_summary *s);

#endif
