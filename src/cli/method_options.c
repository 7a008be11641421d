/* The method options of explain and evaluate (method_options.h). */
#include "cli/method_options.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "cli/cli.h"

void cli_method_choice_init(cli_method_choice *choice) {
    memset(choice, 0, sizeof *choice);
    choice->norms = 3;
}

int cli_method_option_known(const char *arg) {
    static const char *const options[] = {"--method",        "--norm",          "--head-fusion",
                                          "--discard-ratio", "--legrad-layers", "--compat"};
    for (size_t k = 0; k < sizeof options / sizeof options[0]; k++)
        if (strcmp(arg, options[k]) == 0) return 1;
    return 0;
}

int cli_method_option_parse(const char *command, const char *arg, const char *value, cli_method_choice *choice,
                            vte_explain_options *options) {
    double number = 0;
    if (strcmp(arg, "--method") == 0) {
        choice->given = 1;
        if (strlen(choice->names) + strlen(value) + 2 >= sizeof choice->names) {
            cli_error("%s: too many --method values", command);
            return 0;
        }
        if (choice->names[0]) strcat(choice->names, ",");
        strcat(choice->names, value);
    } else if (strcmp(arg, "--norm") == 0) {
        if (strcasecmp(value, "l1") == 0)
            choice->norms = 1;
        else if (strcasecmp(value, "l2") == 0)
            choice->norms = 2;
        else if (strcasecmp(value, "both") == 0)
            choice->norms = 3;
        else {
            cli_error("%s: --norm takes l1, l2 or both, got '%s'", command, value);
            return 0;
        }
    } else if (strcmp(arg, "--head-fusion") == 0) {
        choice->seed_conflict = arg;
        if (strcasecmp(value, "mean") == 0)
            options->rollout_fusion = VTE_FUSION_MEAN;
        else if (strcasecmp(value, "max") == 0)
            options->rollout_fusion = VTE_FUSION_MAX;
        else if (strcasecmp(value, "min") == 0)
            options->rollout_fusion = VTE_FUSION_MIN;
        else {
            cli_error("%s: --head-fusion takes mean, max or min, got '%s'", command, value);
            return 0;
        }
    } else if (strcmp(arg, "--discard-ratio") == 0) {
        choice->seed_conflict = arg;
        if (!cli_parse_float(command, arg, value, 0.0, 0.999, &number)) return 0;
        options->discard_ratio = (float)number;
    } else if (strcmp(arg, "--legrad-layers") == 0) {
        choice->seed_conflict = arg;
        if (!cli_parse_int(command, arg, value, 1, 100000, &options->legrad_layers)) return 0;
    } else if (strcmp(arg, "--compat") == 0) {
        if (strcasecmp(value, "seed") != 0) {
            cli_error("%s: --compat takes 'seed', got '%s'", command, value);
            return 0;
        }
        options->compat_seed = 1;
    }
    return 1;
}

/* Of a family with variants (GMAR: l1, l2), whether `norms` (1: l1, 2: l2, 3: both) takes this one. */
static int variant_chosen(const vte_method_info *info, int norms) {
    if (strcmp(info->variant, "l1") == 0) return (norms & 1) != 0;
    if (strcmp(info->variant, "l2") == 0) return (norms & 2) != 0;
    return 1;
}

int cli_methods_add(const char *command, const char *list, int norms, unsigned *methods) {
    char copy[512];
    snprintf(copy, sizeof copy, "%s", list);
    int names = 0;
    for (char *save = NULL, *name = strtok_r(copy, ",", &save); name; name = strtok_r(NULL, ",", &save)) {
        names++;
        unsigned named = vte_methods_from_name(name);
        if (!named) {
            char families[256];
            cli_method_families(families, sizeof families, ", ", ", ");
            cli_error("%s: unknown method '%s' (%s or all)", command, name, families);
            return 0;
        }
        for (int m = 0; m < VTE_METHOD_COUNT; m++)
            if ((named & VTE_METHOD_BIT(m)) && variant_chosen(vte_method_info_of((vte_method)m), norms))
                *methods |= VTE_METHOD_BIT(m);
    }
    if (names == 0) { /* --method '' or --method ,,, */
        char families[256];
        cli_method_families(families, sizeof families, ", ", ", ");
        cli_error("%s: --method names no method ('%s'): give %s or all", command, list, families);
        return 0;
    }
    return 1;
}

int cli_method_choice_finish(const char *command, const cli_method_choice *choice, vte_explain_options *options) {
    if (!choice->given) {
        char families[256];
        cli_method_families(families, sizeof families, ", ", ", ");
        cli_error("%s: no --method given (%s or all)", command, families);
        return EXIT_USAGE;
    }
    if (options->compat_seed && choice->seed_conflict) {
        cli_error("%s: %s has no counterpart in --compat seed (the original project's formulas take the head mean, "
                  "discard nothing and use every layer)",
                  command, choice->seed_conflict);
        return EXIT_USAGE;
    }
    return cli_methods_add(command, choice->names, choice->norms, &options->methods) ? -1 : EXIT_USAGE;
}

void cli_print_method_help(void) {
    char families[256];
    cli_method_families(families, sizeof families, ", ", ", ");
    printf("  --method M         %s or all; repeat or separate with commas\n"
           "  --norm N           GMAR head weights: l1, l2 or both (default both)\n",
           families);
}

void cli_print_method_option_help(void) {
    printf("Method options:\n"
           "  --head-fusion F    rollout: fuse heads by mean (default), max or min\n"
           "  --discard-ratio R  rollout: zero the lowest fraction R of each fused attention matrix, never the\n"
           "                     CLS->CLS entry (default 0)\n"
           "  --legrad-layers K  LeGrad over the last K layers only (default: all)\n"
           "  --compat seed      the formulas of the original PyTorch project (its LeGrad variant, GMAR head\n"
           "                     mean, rollout product order), to compare with its results; they have no head\n"
           "                     fusion, discard ratio or layer count, so --head-fusion, --discard-ratio and\n"
           "                     --legrad-layers are refused with it (Chefer is the same either way)\n");
}

/* "  rollout  attention rollout (Abnar & Zuidema 2020)", one line per family of the library's table. */
void cli_print_method_descriptions(void) {
    const char *printed[VTE_METHOD_COUNT];
    int count = 0;
    for (int m = 0; m < VTE_METHOD_COUNT; m++) {
        const vte_method_info *info = vte_method_info_of((vte_method)m);
        int seen = 0;
        for (int i = 0; i < count; i++) seen |= strcmp(printed[i], info->family) == 0;
        if (seen) continue;
        printed[count++] = info->family;
        printf("  %-8s %s\n", info->family, info->description);
    }
}
