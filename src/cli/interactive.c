/* The original PyTorch project's way to run: `python main.py` asked for a method, explained every picture
 * in images/ and saved the overlays under results/. `vitexplain` with no arguments does the same on a
 * terminal. */
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "cli/cli.h"

/* Reads one answer, trimmed; 0 at end of input. */
static int ask(const char *question, char *answer, size_t size) {
    printf("%s", question);
    fflush(stdout);
    if (!fgets(answer, (int)size, stdin)) return 0;
    char *start = answer;
    while (*start == ' ' || *start == '\t') start++;
    size_t n = strlen(start);
    while (n && (start[n - 1] == '\n' || start[n - 1] == '\r' || start[n - 1] == ' ' || start[n - 1] == '\t')) n--;
    memmove(answer, start, n);
    answer[n] = '\0';
    return 1;
}

/* 1 when the methods include variants to choose between (GMAR's norms: "gmar" or "all", not "gmar_l1"). */
static int has_variants(unsigned methods) {
    int variants = 0;
    for (int m = 0; m < VTE_METHOD_COUNT; m++)
        if ((methods & VTE_METHOD_BIT(m)) && vte_method_info_of((vte_method)m)->variant[0]) variants++;
    return variants > 1;
}

int cli_interactive(void) {
    char method[64], norm[64], families[256];
    cli_method_families(families, sizeof families, ", ", " or ");
    unsigned methods = 0;
    for (;;) {
        if (!ask("Which method? (legrad/gmar/rollout): ", method, sizeof method)) {
            printf("\n");
            return EXIT_USAGE;
        }
        if ((methods = vte_methods_from_name(method)) != 0) break;
        printf("Unknown method '%s': type legrad, gmar or rollout (any of %s, or all).\n", method, families);
    }
    int norms = 3;
    while (has_variants(methods)) {
        if (!ask("Which norm? (l1/l2): ", norm, sizeof norm)) {
            printf("\n");
            return EXIT_USAGE;
        }
        if (strcasecmp(norm, "l1") == 0) norms = 1;
        else if (strcasecmp(norm, "l2") == 0) norms = 2;
        else if (strcasecmp(norm, "both") == 0) norms = 3;
        else {
            printf("Unknown norm '%s': type l1 or l2.\n", norm);
            continue;
        }
        break;
    }
    cli_explain_job job;
    cli_explain_job_default(&job);
    job.seed_output = 1;
    if (!cli_explain_set_methods(&job, method, norms)) return EXIT_USAGE;
    cli_model_choice choice;
    cli_model_choose(NULL, &choice);
    char *inputs[1] = {(char *)cli_default_inputs(&choice)};
    return cli_explain_run(&job, inputs, 1);
}
