/* Interrupts of a long run (interrupt.h). */
#include "cli/interrupt.h"

#include <signal.h>
#include <stddef.h>

#include "util/fileio.h"

static volatile sig_atomic_t interrupted = 0;

static void on_interrupt(int signal_number) {
    if (interrupted) {
        /* The second one: the default action, which ends the program. No file is ever half-written (every
         * output is renamed into place), and the temporaries of those being written go too. */
        vte_atomic_files_discard();
        struct sigaction fallback = {0};
        fallback.sa_handler = SIG_DFL;
        sigaction(signal_number, &fallback, NULL);
        raise(signal_number);
    }
    interrupted = 1;
}

void cli_catch_interrupts(void) {
    struct sigaction action = {0};
    action.sa_handler = on_interrupt;
    sigemptyset(&action.sa_mask);
    sigaction(SIGINT, &action, NULL);
    sigaction(SIGTERM, &action, NULL);
}

int cli_interrupted(void) { return interrupted != 0; }
