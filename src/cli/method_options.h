/* The options that choose explanation methods and set their options, shared by the commands that explain
 * (explain, evaluate): --method, --norm, --head-fusion, --discard-ratio, --legrad-layers and --compat, with their
 * parsing, the checks that need the whole command line, and their help text. */
#ifndef VTE_CLI_METHOD_OPTIONS_H
#define VTE_CLI_METHOD_OPTIONS_H

#include "vitexplain.h"

/* What parsing collects before the methods can be set. */
typedef struct cli_method_choice {
    int norms;                 /* GMAR variants: 1 (l1), 2 (l2) or 3 (both, the default) */
    int given;                 /* a --method was given */
    const char *seed_conflict; /* an option --compat seed has no counterpart for */
    char names[512];           /* the --method values, joined by commas */
} cli_method_choice;

void cli_method_choice_init(cli_method_choice *choice);

/* 1 when `arg` is one of these options (each takes a value). */
int cli_method_option_known(const char *arg);
/* Parses one of them into `choice` and `options`; 0 after reporting a bad value as "<command>: ...". */
int cli_method_option_parse(const char *command, const char *arg, const char *value, cli_method_choice *choice,
                            vte_explain_options *options);
/* After the whole line: no --method, an option --compat seed refuses, an unknown method name are reported and give
 * EXIT_USAGE; else options->methods is set and the result is -1. */
int cli_method_choice_finish(const char *command, const cli_method_choice *choice, vte_explain_options *options);

/* Adds to *methods the methods named in "rollout,gmar,..." (method names, families or "all":
 * vte_methods_from_name); of a family with variants (GMAR's norms) those in `norms`. 0 after reporting an unknown
 * name as "<command>: unknown method ...". */
int cli_methods_add(const char *command, const char *list, int norms, unsigned *methods);

/* Help: the --method and --norm lines; the "Method options:" block; one line per method family of the table. */
void cli_print_method_help(void);
void cli_print_method_option_help(void);
void cli_print_method_descriptions(void);

#endif
