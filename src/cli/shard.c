/* --shard: parsing (with the schedulers' environment variables), choosing a shard's inputs, the fingerprint of
 * the input list (shard.h). */
#include "cli/shard.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"

/* More shards than this is surely a typo (and keeps I and N in an int). */
#define MOST_SHARDS 1000000

/* A whole number from 0 to MOST_SHARDS, nothing else (no sign, no spaces); 0 when `text` is not one. */
static int parse_whole(const char *text, int *value) {
    if (!text || *text < '0' || *text > '9') return 0;
    char *end = NULL;
    errno = 0;
    const long v = strtol(text, &end, 10);
    if (*end || errno || v > MOST_SHARDS) return 0;
    *value = (int)v;
    return 1;
}

/* The environment variable `name` as a whole number. 1 when it is one, 0 when it is not set, -1 after reporting a
 * value that is not a number. */
static int read_variable(const char *command, const char *option, const char *name, int *value) {
    const char *text = getenv(name);
    if (!text) return 0;
    if (!parse_whole(text, value)) {
        cli_error("%s: --shard %s: %s is '%s', not a whole number from 0 to %d", command, option, name, text,
                  MOST_SHARDS);
        return -1;
    }
    return 1;
}

/* Slurm job arrays: the task's id less the array's first, over its step; the count from the array. */
static int from_slurm(const char *command, const char *option, int given_count, cli_shard *shard) {
    int id = 0, first = 0, step = 1, count = 0;
    if (read_variable(command, option, "SLURM_ARRAY_TASK_ID", &id) < 0) return 0;
    const int has_first = read_variable(command, option, "SLURM_ARRAY_TASK_MIN", &first);
    const int has_step = read_variable(command, option, "SLURM_ARRAY_TASK_STEP", &step);
    const int has_count = read_variable(command, option, "SLURM_ARRAY_TASK_COUNT", &count);
    if (has_first < 0 || has_step < 0 || has_count < 0) return 0;
    if (!has_count && !given_count) {
        cli_error("%s: --shard %s: SLURM_ARRAY_TASK_ID is set but SLURM_ARRAY_TASK_COUNT is not: run under a job "
                  "array (sbatch --array=0-N) or give the count as --shard auto/N",
                  command, option);
        return 0;
    }
    if (has_count && given_count && count != given_count) {
        cli_error("%s: --shard %s: SLURM_ARRAY_TASK_COUNT is %d, not %d", command, option, count, given_count);
        return 0;
    }
    if (!has_count) count = given_count;
    if (!has_step || step < 1) step = 1;
    const int offset = id - first;
    if (count < 1 || offset < 0 || offset % step != 0 || offset / step >= count) {
        cli_error("%s: --shard %s: SLURM_ARRAY_TASK_ID %d (SLURM_ARRAY_TASK_MIN %d, step %d) is not one of %d "
                  "shards: the array must be a plain range such as --array=0-%d or --array=1-%d",
                  command, option, id, first, step, count, count - 1, count);
        return 0;
    }
    shard->index = offset / step;
    shard->count = count;
    char range[64] = "";
    if (step > 1) snprintf(range, sizeof range, " of %d-%d:%d", first, first + (count - 1) * step, step);
    else if (first) snprintf(range, sizeof range, " of %d-%d", first, first + count - 1);
    snprintf(shard->origin, sizeof shard->origin, "SLURM_ARRAY_TASK_ID=%d%s", id, range);
    return 1;
}

/* Kubernetes Indexed Jobs: the completion index; the count is not in the pod's environment. */
static int from_kubernetes(const char *command, const char *option, int given_count, cli_shard *shard) {
    int index = 0;
    if (read_variable(command, option, "JOB_COMPLETION_INDEX", &index) < 0) return 0;
    if (!given_count) {
        cli_error("%s: --shard %s: JOB_COMPLETION_INDEX is set, but a Kubernetes pod is not told how many "
                  "completions its Job has: give them as --shard auto/N",
                  command, option);
        return 0;
    }
    if (index >= given_count) {
        cli_error("%s: --shard %s: JOB_COMPLETION_INDEX is %d, not below the %d shards given", command, option, index,
                  given_count);
        return 0;
    }
    shard->index = index;
    shard->count = given_count;
    snprintf(shard->origin, sizeof shard->origin, "JOB_COMPLETION_INDEX=%d", index);
    return 1;
}

int cli_shard_parse(const char *command, const char *text, cli_shard *shard) {
    memset(shard, 0, sizeof *shard);
    const char *slash = strchr(text, '/');
    char first[32] = "";
    if (slash && (size_t)(slash - text) < sizeof first) memcpy(first, text, (size_t)(slash - text));
    int count = 0;
    const int auto_count = slash && strcmp(first, "auto") == 0;
    if (strcmp(text, "auto") == 0 || auto_count) {
        if (auto_count && (!parse_whole(slash + 1, &count) || count < 1)) {
            cli_error("%s: --shard auto/N needs a shard count N from 1 to %d, got '%s'", command, MOST_SHARDS, text);
            return 0;
        }
        if (getenv("SLURM_ARRAY_TASK_ID")) return from_slurm(command, text, count, shard);
        if (getenv("JOB_COMPLETION_INDEX")) return from_kubernetes(command, text, count, shard);
        cli_error("%s: --shard %s: neither SLURM_ARRAY_TASK_ID (a Slurm job array) nor JOB_COMPLETION_INDEX (a "
                  "Kubernetes Indexed Job) is set; outside a scheduler give the shard as --shard I/N",
                  command, text);
        return 0;
    }
    int index = 0;
    if (!slash || !parse_whole(first, &index) || !parse_whole(slash + 1, &count) || count < 1 || index >= count) {
        cli_error("%s: --shard needs I/N with 0 <= I < N (such as 0/4), `auto` or `auto/N`, got '%s'", command, text);
        return 0;
    }
    shard->index = index;
    shard->count = count;
    snprintf(shard->origin, sizeof shard->origin, "--shard");
    return 1;
}

/* ---------------------------------------------------------------- the shard's inputs */

typedef struct ranked_input {
    const char *path;
    size_t position;
} ranked_input;

/* By path bytes; the same path given twice keeps its list order, so every position has one rank. */
static int compare_ranked(const void *a, const void *b) {
    const ranked_input *x = a, *y = b;
    const int by_path = strcmp(x->path, y->path);
    if (by_path) return by_path;
    return (x->position > y->position) - (x->position < y->position);
}

int cli_shard_select(const cli_shard *shard, const cli_inputs *list, cli_selection *selection) {
    memset(selection, 0, sizeof *selection);
    const size_t n = list->count;
    unsigned char *taken = calloc(n ? n : 1, 1);
    ranked_input *ranked = shard->count ? malloc((n ? n : 1) * sizeof *ranked) : NULL;
    selection->paths = malloc((n ? n : 1) * sizeof *selection->paths);
    selection->positions = malloc((n ? n : 1) * sizeof *selection->positions);
    if (!taken || (shard->count && !ranked) || !selection->paths || !selection->positions) {
        free(taken);
        free(ranked);
        cli_selection_free(selection);
        cli_error("out of memory");
        return 0;
    }
    if (shard->count) {
        for (size_t i = 0; i < n; i++) ranked[i] = (ranked_input){list->paths[i], i};
        if (n) qsort(ranked, n, sizeof *ranked, compare_ranked);
        for (size_t k = (size_t)shard->index; k < n; k += (size_t)shard->count) taken[ranked[k].position] = 1;
    } else {
        memset(taken, 1, n);
    }
    for (size_t i = 0; i < n; i++) /* in list order: the order a run over every input does them */
        if (taken[i]) {
            selection->paths[selection->count] = list->paths[i];
            selection->positions[selection->count++] = i;
        }
    free(taken);
    free(ranked);
    return 1;
}

void cli_selection_free(cli_selection *selection) {
    free(selection->paths);
    free(selection->positions);
    memset(selection, 0, sizeof *selection);
}

void cli_shard_notice(const cli_shard *shard, size_t taken, size_t total) {
    if (!shard->count) return;
    fprintf(stderr, "shard %d/%d (%s): %zu of %zu image%s\n", shard->index, shard->count, shard->origin, taken, total,
            total == 1 ? "" : "s");
}

void cli_inputs_fingerprint(const cli_inputs *list, char hex[17]) {
    uint64_t hash = 14695981039346656037u;
    for (size_t i = 0; i < list->count; i++)
        for (const unsigned char *p = (const unsigned char *)list->paths[i];; p++) {
            hash = (hash ^ *p) * 1099511628211u;
            if (!*p) break;
        }
    snprintf(hex, 17, "%016" PRIx64, hash);
}
