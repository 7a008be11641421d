/* Files written whole or not at all, folders made on the way, and the host's byte order: the file helpers
 * every module shares (program cache, PNG and .npy writers, the command line's summary). */
#ifndef VTE_UTIL_FILEIO_H
#define VTE_UTIL_FILEIO_H

#include <stddef.h>
#include <stdio.h>

#include "vitexplain.h"

/* A file written under the temporary name "<dir>/.<name>.tmp-<pid>" and renamed over its path on commit, so
 * that a reader (or a run that was killed) sees the old file or the whole new one, never a part of it. The name
 * is hidden so that folder scans, which skip dot files, never pick a temporary up. */
typedef struct vte_atomic_file {
    FILE *stream;    /* write the contents here between open and commit */
    char *path;      /* where the file ends up */
    char *temp_path; /* where it is written meanwhile */
} vte_atomic_file;

/* Creates the temporary next to `path` (whose folder must exist) and opens it for writing in binary mode.
 * On failure *file holds nothing to release and err says "<path>: cannot create the temporary file ...: <reason>". */
vte_status vte_atomic_file_open(vte_atomic_file *file, const char *path, vte_error *err);

/* Flushes, fsyncs and closes the temporary, renames it over the path, then fsyncs the folder so the rename
 * survives a crash. Any earlier write error on the stream is reported here. On failure the temporary is removed
 * and err says "<path>: cannot <step> ...: <reason>". Either way *file is released. */
vte_status vte_atomic_file_commit(vte_atomic_file *file, vte_error *err);

/* Closes and removes the temporary, leaving any file already at the path untouched. Safe on a released or
 * zeroed *file. */
void vte_atomic_file_abort(vte_atomic_file *file);

/* Whether a file can be written at `path`: 4 KiB of real bytes written under its temporary name, flushed and
 * synced, then removed (a folder on a full disk takes a new empty file but no data). 0 when it can, else the
 * errno of the step that failed; nothing is left behind either way. */
int vte_write_probe(const char *path);

/* Removes the temporaries of every atomic file open now, and nothing else; async-signal-safe (unlink only). For
 * a signal handler that ends the program at once: no ".<name>.tmp-<pid>" is left behind. The files' streams stay
 * open; the program is expected to end. */
void vte_atomic_files_discard(void);

/* `size` bytes of `data` written atomically to `path` (open, write, commit). */
vte_status vte_write_file_atomic(const char *path, const void *data, size_t size, vte_error *err);

/* Opens `path` for reading only when it is a regular file, without blocking: a FIFO, socket or device under a
 * model's file name must not hang the program (open() with O_NONBLOCK returns at once on a FIFO; the check then
 * refuses it). Returns a descriptor (O_CLOEXEC, blocking mode restored) or -1 with err saying
 * "<path>: cannot open: <reason>", "<path>: is a directory, not a file" or "<path>: not a regular file (a FIFO,
 * socket or device)". */
int vte_open_regular_file(const char *path, vte_error *err);

/* The same as a stdio stream in binary mode; NULL on failure. */
FILE *vte_fopen_regular_file(const char *path, vte_error *err);

/* mkdir -p with mode 0755: 0 when `path` is (now) a folder, else -1 with errno set (ENOTDIR when it or a
 * parent exists and is not a folder). */
int vte_make_dirs(const char *path);

/* 1 on a little-endian host (the byte order of .npy and safetensors data), else 0. */
int vte_host_is_little_endian(void);

#endif
