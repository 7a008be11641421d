/* What `vitexplain evaluate` reports: one record per input image (its vte_evaluation, or why it failed), and from
 * them the table on the terminal (means over the images), the --summary file (JSON or CSV, per image and row,
 * written atomically) and the --plot picture (the mean curves). */
#ifndef VTE_CLI_EVALUATE_REPORT_H
#define VTE_CLI_EVALUATE_REPORT_H

#include <stddef.h>
#include <stdio.h>

#include "cli/shard.h"
#include "vitexplain.h"

typedef struct cli_eval_record {
    size_t index; /* the image's position in the run's whole input list (every shard's inputs) */
    char *image;
    char *error;            /* NULL when the image was evaluated */
    char *mask;             /* the mask file used, or NULL */
    int class_given;        /* the class came from --labels (else it is the top class) */
    vte_evaluation *result; /* owned; NULL when the image failed */
} cli_eval_record;

typedef struct cli_eval_report {
    cli_eval_record *records;
    size_t count, capacity;
    const vte_model *model;
    const char *model_name;       /* as the user named it */
    const char *labels_path, *masks_dir; /* --labels, --masks, or NULL */
    vte_evaluate_options options; /* as run (methods included) */
    int patches, step, points;
    /* The run among its shards, for merge-summaries: the whole input list's size and fingerprint, the shard and
     * how many inputs it took. */
    size_t inputs, shard_images;
    char inputs_fingerprint[17];
    cli_shard shard;
} cli_eval_report;

/* Appends a record for `image`, input `index` of the list (NULL when out of memory). */
cli_eval_record *cli_eval_report_add(cli_eval_report *report, size_t index, const char *image);
void cli_eval_record_set_error(cli_eval_record *record, const char *message);
void cli_eval_report_free(cli_eval_report *report);

/* The rows a report shows, in order: the methods evaluated, then random (when seeds were run), then uniform (when
 * some image had a mask). Fills rows[] (at most VTE_METHOD_COUNT + 2) and returns how many. */
int cli_eval_report_rows(const cli_eval_report *report, int *rows);
/* "Rollout", "GMAR L1 (seed)", "random order", "uniform map". */
void cli_eval_row_title(const cli_eval_report *report, int row, char *title, size_t size);
/* "black", "blur", "mean": the names --baseline takes; NULL for another value. */
const char *cli_eval_baseline_name(vte_baseline baseline);
/* "rollout", "gmar_l1", "random", "uniform": the names in the summary. */
const char *cli_eval_row_name(int row);

/* The mean scores of a row over the evaluated images (each score over the images where it is defined, NaN where
 * none is); the count of images with a mask. */
vte_evaluation_scores cli_eval_report_mean(const cli_eval_report *report, int row);
int cli_eval_report_masked(const cli_eval_report *report);
int cli_eval_report_evaluated(const cli_eval_report *report);

/* The table of means. */
void cli_eval_report_print_table(const cli_eval_report *report, FILE *out);
/* The summary (.json or .csv by the extension) and the plot (.png); 0, or -1 after reporting the problem. */
int cli_eval_report_write_summary(const cli_eval_report *report, const char *path);
int cli_eval_report_write_plot(const cli_eval_report *report, const char *path);

#endif
