/* vitexplain: sub-command dispatch, --help and --version. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/evaluate.h"

static void print_usage(FILE *out) {
    fprintf(out,
            "Usage: vitexplain COMMAND [OPTIONS] [ARGS]\n"
            "       vitexplain                      on a terminal: ask for a method, explain images/ into results/\n"
            "       vitexplain --method M [OPTIONS] the same without asking (explain's options; inputs default to\n"
            "                                       images/)\n"
            "\n"
            "Shows what a Vision Transformer (a Hugging Face ViTForImageClassification model) looks at, on an\n"
            "OpenCL device.\n"
            "\n"
            "Commands:\n"
            "  classify [--model DIR] [--topk K] [--json] INPUT...   print the top-K classes of each image\n"
            "  explain --method M [--class C | --topk K] [--out DIR] [--grid] [--summary FILE] INPUT...\n"
            "                                                        heat-map overlays of rollout, gmar, legrad,\n"
            "                                                        chefer for image files and folders, saved\n"
            "                                                        under results/ (--shard I/N: one of N\n"
            "                                                        parts; --skip-existing: resume)\n"
            "  merge-summaries OUT.json PART.json...                 join the JSON --summary files of the shards\n"
            "                                                        of an explain or evaluate run into the\n"
            "                                                        summary of the whole run (docs/scale.md)\n"
            "  evaluate --method M [--masks DIR] [--labels FILE] [--summary FILE] [--plot FILE.png] INPUT...\n"
            "                                                        how faithful each method is: deletion and\n"
            "                                                        insertion AUC against random orders, the\n"
            "                                                        pointing game and share on object masks\n"
            "  live [--camera N | --video FILE | FOLDER] [--method M]\n"
            "                                                        a window with each frame of a camera, video\n"
            "                                                        or image folder and its explanation, live\n"
            "  devices                                               list OpenCL platforms and devices\n"
            "\n"
            "Options for every command:\n"
            "  --device SPEC   OpenCL device: an index from `vitexplain devices`, `cpu`, `gpu`, or part of the\n"
            "                  device name (case-insensitive); default $VITEXPLAIN_DEVICE, else the first GPU,\n"
            "                  else the first CPU\n"
            "  -h, --help      help for the command\n"
            "  --version       print the version\n"
            "\n"
            "Environment:\n"
            "  VITEXPLAIN_MODEL       default model: a folder or a Hugging Face hub id (else %s when it is\n"
            "                         there, else the bundled Fashion-MNIST model %s)\n"
            "  VITEXPLAIN_DEVICE      default device\n"
            "  VITEXPLAIN_CACHE_DIR   compiled kernels and GEMM measurements (default ~/.cache/vitexplain;\n"
            "                         empty: off)\n"
            "  VITEXPLAIN_KERNEL_DIR  load kernels/*.cl from this folder instead of the built-in copies\n"
            "  VITEXPLAIN_GEMM        onednn, host (OpenBLAS) or clblast for every GEMM; unset: CLBlast on GPUs,\n"
            "                         on CPUs the faster of oneDNN and OpenBLAS, measured once per device\n"
            "  VITEXPLAIN_ATTENTION   fused or gemm: attention in one kernel, without the scores, for passes that\n"
            "                         keep no attention (classify); unset: fused on GPUs, gemm on CPUs\n"
            "\n"
            "Exit status: 0 success; 1 some inputs failed (the others were done); 2 usage error (also: no\n"
            "arguments and no terminal to ask on); 3 set-up error (no device, unreadable model, failed device\n"
            "self-check, output folder not writable, no display for `live`); 130 `explain` or `evaluate`\n"
            "interrupted by Ctrl-C (what was written is complete).\n",
            DEFAULT_MODEL_DIR, BUNDLED_MODEL_DIR);
}

void cli_error(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fputs("vitexplain: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

int main(int argc, char **argv) {
    if (argc < 2) {
        /* The original project's way: ask on a terminal; never wait for an answer that cannot come. */
        if (isatty(STDIN_FILENO)) return cli_interactive();
        print_usage(stderr);
        return EXIT_USAGE;
    }
    const char *command = argv[1];
    if (strcmp(command, "-h") == 0 || strcmp(command, "--help") == 0 || strcmp(command, "help") == 0) {
        print_usage(stdout);
        return EXIT_OK;
    }
    if (strcmp(command, "--version") == 0 || strcmp(command, "version") == 0) {
        printf("vitexplain %s\n", vte_version());
        return EXIT_OK;
    }
    if (strcmp(command, "devices") == 0) return cli_devices(argc - 1, argv + 1);
    if (strcmp(command, "classify") == 0) return cli_classify(argc - 1, argv + 1);
    if (strcmp(command, "explain") == 0) return cli_explain(argc - 1, argv + 1);
    if (strcmp(command, "evaluate") == 0) return cli_evaluate(argc - 1, argv + 1);
    if (strcmp(command, "live") == 0) return cli_live(argc - 1, argv + 1);
    if (strcmp(command, "merge-summaries") == 0) return cli_merge_summaries(argc - 1, argv + 1);
    if (command[0] == '-' && command[1] == '-')
        return cli_seed(argc, argv); /* vitexplain --method M ...: the original project's job, no prompts */
    cli_error("unknown command '%s' (see `vitexplain --help`)", command);
    return EXIT_USAGE;
}
