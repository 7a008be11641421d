/* What the libFuzzer harnesses share: the library's entry points take paths, so each input becomes a file, named
 * as the tool would see it, in a private folder made once per process. */
#ifndef VTE_FUZZ_COMMON_H
#define VTE_FUZZ_COMMON_H

#include <stddef.h>
#include <stdint.h>

#include "vitexplain.h"

/* Makes the folder (under $TMPDIR, else the current directory) that will hold `name`; removed at exit. Call once,
 * from LLVMFuzzerInitialize. */
void vte_fuzz_setup(const char *name);

/* Writes the input to <folder>/<name>, replacing the last one, and returns its path. Aborts on an I/O error: a
 * harness that cannot write its file would otherwise fuzz nothing without saying so. */
const char *vte_fuzz_write(const uint8_t *data, size_t size);

/* The folder of vte_fuzz_setup, for harnesses that write a second file next to the input. */
const char *vte_fuzz_dir(void);

/* The library's error contract (vitexplain.h): a failure returns a non-OK code, fills err with the same code and
 * a non-empty, NUL-terminated message. Aborts (a finding) when a call breaks it. */
void vte_fuzz_check_failure(vte_status status, const vte_error *err);

/* Reads every byte of a buffer the library handed out, so that ASan sees an allocation shorter than announced. */
void vte_fuzz_touch(const void *data, size_t size);

#endif
