/* Declarations shared by the runtime's own files (runtime.c, device.c, program.c, gemm.c); nothing outside src/runtime
 * includes it. */
#ifndef VTE_RUNTIME_INTERNAL_H
#define VTE_RUNTIME_INTERNAL_H

#include "runtime/runtime.h"

/* device.c: the platform and device handles of the index-th device of vte_devices_list's flat list. */
vte_status vte_device_handles(int index, cl_platform_id *platform, cl_device_id *device, vte_error *err);

/* program.c: releases every program built for rt (on vte_runtime_free). */
void vte_programs_release(vte_runtime *rt);

/* program.c: the program-binary cache directory into out ("" when off): `requested`, else
 * $VITEXPLAIN_CACHE_DIR, else $XDG_CACHE_HOME/vitexplain or ~/.cache/vitexplain; created if missing. */
vte_status vte_cache_dir_resolve(const char *requested, char *out, size_t size, vte_error *err);

/* program.c: the path of the cache file for `key` (hashed) with `extension` (".bin"); 0 when the cache is off or
 * the path does not fit. Shared by the program binaries and the GEMM choices (gemm.c). */
int vte_cache_file(const vte_runtime *rt, const char *key, const char *extension, char *path, size_t size);

#endif
