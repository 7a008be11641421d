/* Ctrl-C (or SIGTERM) during a long run: the first one sets a flag that the command reads between units of work
 * (it finishes the one in hand, writes what it has and stops with EXIT_INTERRUPTED); a second one ends the
 * program at once. Shared by explain and evaluate. */
#ifndef VTE_CLI_INTERRUPT_H
#define VTE_CLI_INTERRUPT_H

/* Installs the handler for SIGINT and SIGTERM. */
void cli_catch_interrupts(void);
/* 1 once an interrupt has come. */
int cli_interrupted(void);

#endif
