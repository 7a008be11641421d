/* --summary FILE: one record per input image (predictions, files written, per-stage times, or the error),
 * written at the end of the run as JSON (.json) or CSV (.csv), atomically, in the order of the input list. The
 * JSON also says which run it is (a header: command, model, methods, the input list's size and fingerprint, the
 * shard), which `vitexplain merge-summaries` (merge.c) and --skip-existing read back. */
#ifndef VTE_CLI_SUMMARY_H
#define VTE_CLI_SUMMARY_H

#include <jansson.h>
#include <stddef.h>
#include <stdio.h>

#include "vitexplain.h"

typedef struct cli_record {
    size_t index; /* the image's position in the run's whole input list (every shard's inputs) */
    char *image;
    char *error; /* NULL when the image was explained */
    int skipped; /* --skip-existing found every output there: `files` are they, the rest is unknown */
    json_t *earlier; /* with `skipped`: the record an earlier run wrote for it, written again as it is (owned) */
    vte_prediction top[VTE_EXPLANATION_MAX_PREDICTIONS];
    int top_count;
    char **files;
    int file_count;
    double forward_ms, backward_ms, explain_ms; /* the image's share of its batch */
} cli_record;

typedef struct cli_summary {
    cli_record *records;
    size_t count, capacity;
    json_t *header; /* the JSON's fields before "images" (owned; NULL: none) */
} cli_summary;

/* Appends a record for `image`, input `index` of the list, and returns it (NULL when out of memory). */
cli_record *cli_summary_add(cli_summary *s, size_t index, const char *image);
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
/* The records of the JSON summary an earlier run left at `path`, when it has the same header as `header` (its
 * shard aside): by input index, an array of `inputs` borrowed records (NULL where it has none), which live as long
 * as *document (json_decref it). NULL when there is no such file, or it is of another run or unreadable: then
 * `why` says so (empty when there is simply no file). */
json_t **cli_summary_earlier(const char *path, const json_t *header, size_t inputs, json_t **document, char *why,
                             size_t why_size);

/* Writes the summary, its records in input order; returns 0, or -1 after reporting the problem on stderr. */
int cli_summary_write(const cli_summary *s, const vte_model *model, int topk, const char *path);
void cli_summary_free(cli_summary *s);

#endif
