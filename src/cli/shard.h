/* --shard I/N: one of N runs that between them do every input once (a Slurm job array, a Kubernetes Indexed Job,
 * GNU parallel on one box). The full input list is sorted by path bytes and its k-th image goes to shard k mod N:
 * the same shard always gets the same images, whatever order the shell or the file system listed them in, so a
 * failed shard can be run again on its own; round-robin spreads each folder over every shard. docs/scale.md. */
#ifndef VTE_CLI_SHARD_H
#define VTE_CLI_SHARD_H

#include <stddef.h>
#include <stdint.h>

#include "cli/inputs.h"

typedef struct cli_shard {
    int index, count; /* 0 <= index < count; count 0: not sharded (every input) */
    char origin[160]; /* where the index came from, for the notice: "--shard", "SLURM_ARRAY_TASK_ID=4" ... */
} cli_shard;

/* Parses --shard's value: "I/N" (0 <= I < N), "auto" (Slurm: the index from SLURM_ARRAY_TASK_ID less
 * SLURM_ARRAY_TASK_MIN, over SLURM_ARRAY_TASK_STEP, N from SLURM_ARRAY_TASK_COUNT) or "auto/N" (also Kubernetes:
 * the index from JOB_COMPLETION_INDEX, which comes without the count). The environment is read here. 0 after
 * reporting "<command>: --shard ..." naming the value or the variable that is wrong. */
int cli_shard_parse(const char *command, const char *text, cli_shard *shard);

/* --shard's lines for --help; INDENT pads the option column. */
#define CLI_SHARD_OPTION_HELP(INDENT)                                                                              \
    "  --shard I/N   " INDENT "do only shard I of N (0 <= I < N): of every input, sorted by path, the\n"          \
    "                " INDENT "images at positions I, I+N, I+2N, ...; `auto` takes I and N from a Slurm job\n"     \
    "                " INDENT "array (SLURM_ARRAY_TASK_ID, _MIN, _COUNT), `auto/N` also from a Kubernetes\n"        \
    "                " INDENT "Indexed Job (JOB_COMPLETION_INDEX); see docs/scale.md\n"

/* The inputs one run does: every input of the list, or a shard's part of it, in list order. */
typedef struct cli_selection {
    char **paths;      /* the inputs to do (pointers into the list, not owned) */
    size_t *positions; /* the position of each in the full list */
    size_t count;
} cli_selection;

/* The part of `list` that `shard` takes (all of it when shard->count is 0). 0 after reporting "out of memory". */
int cli_shard_select(const cli_shard *shard, const cli_inputs *list, cli_selection *selection);
void cli_selection_free(cli_selection *selection);

/* Says on stderr which shard this run is and how many of the inputs it takes: "shard 2/7 (--shard): 143 of 1000
 * images". Nothing when not sharded. */
void cli_shard_notice(const cli_shard *shard, size_t taken, size_t total);

/* A fingerprint of the whole input list in its order (64-bit FNV-1a over the paths and their terminating NULs), as
 * 16 hex digits: runs whose summaries are merged must have listed the same inputs. */
void cli_inputs_fingerprint(const cli_inputs *list, char hex[17]);

#endif
