/* Elapsed-time measurement shared by the library and the command line. */
#ifndef VTE_UTIL_CLOCK_H
#define VTE_UTIL_CLOCK_H

/* Milliseconds on the monotonic clock (CLOCK_MONOTONIC): only differences mean something, and they are not
 * disturbed when the wall clock is set. */
double vte_now_ms(void);

#endif
