#include "util/fileio.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/error.h"

/* ------------------------------------------------------------------ atomic files */

static char *copy_string(const char *s) {
    const size_t n = strlen(s) + 1;
    char *copy = malloc(n);
    if (copy) memcpy(copy, s, n);
    return copy;
}

/* "<dir>/.<name>.tmp-<pid>" for "<dir>/<name>" (".<name>.tmp-<pid>" without a folder), malloc'ed; NULL when
 * out of memory. The pid keeps two processes writing the same path from sharing a temporary. */
static char *temporary_name(const char *path) {
    const char *slash = strrchr(path, '/');
    const char *name = slash ? slash + 1 : path;
    const int dir_length = slash ? (int)(slash - path) : 0;
    const size_t size = strlen(path) + 32;
    char *temp = malloc(size);
    if (!temp) return NULL;
    if (slash)
        snprintf(temp, size, "%.*s/.%s.tmp-%ld", dir_length, path, name, (long)getpid());
    else
        snprintf(temp, size, ".%s.tmp-%ld", name, (long)getpid());
    return temp;
}

/* The temporaries open now, for vte_atomic_files_discard (a signal handler's last act: it may only unlink). A slot
 * holds a file's own temp_path string, cleared before the string is freed; a store of a pointer is one machine
 * write on every platform we build for. A file that finds no free slot is just not discarded that way. */
#define OPEN_TEMPORARY_SLOTS 32
static char *volatile open_temporaries[OPEN_TEMPORARY_SLOTS];

static void remember_temporary(char *temp) {
    for (int i = 0; i < OPEN_TEMPORARY_SLOTS; i++)
        if (!open_temporaries[i]) {
            open_temporaries[i] = temp;
            return;
        }
}

static void forget_temporary(const char *temp) {
    for (int i = 0; i < OPEN_TEMPORARY_SLOTS && temp; i++)
        if (open_temporaries[i] == temp) open_temporaries[i] = NULL;
}

void vte_atomic_files_discard(void) {
    for (int i = 0; i < OPEN_TEMPORARY_SLOTS; i++) {
        char *temp = open_temporaries[i];
        if (temp) unlink(temp);
    }
}

static void release(vte_atomic_file *file) {
    forget_temporary(file->temp_path);
    free(file->path);
    free(file->temp_path);
    file->stream = NULL;
    file->path = file->temp_path = NULL;
}

vte_status vte_atomic_file_open(vte_atomic_file *file, const char *path, vte_error *err) {
    if (!file) return vte_error_set(err, VTE_ERR_INVALID_ARGUMENT, "vte_atomic_file_open: NULL file");
    memset(file, 0, sizeof *file);
    if (!path || !*path) return vte_error_set(err, VTE_ERR_INVALID_ARGUMENT, "vte_atomic_file_open: empty path");
    const char *slash = strrchr(path, '/');
    if (!*(slash ? slash + 1 : path)) return vte_error_set(err, VTE_ERR_INVALID_ARGUMENT, "%s: not a file name", path);
    file->path = copy_string(path);
    file->temp_path = temporary_name(path);
    if (!file->path || !file->temp_path) {
        release(file);
        return vte_error_set(err, VTE_ERR_OUT_OF_MEMORY, "%s: out of memory", path);
    }
    /* open() rather than fopen() for O_CLOEXEC: a child process must not inherit the descriptor. */
    const int fd = open(file->temp_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
    if (fd < 0) {
        vte_status st = vte_error_set(err, VTE_ERR_IO, "%s: cannot create the temporary file %s: %s", path,
                                      file->temp_path, strerror(errno));
        release(file);
        return st;
    }
    file->stream = fdopen(fd, "wb");
    if (!file->stream) {
        vte_status st = vte_error_set(err, VTE_ERR_IO, "%s: cannot create the temporary file %s: %s", path,
                                      file->temp_path, strerror(errno));
        close(fd);
        unlink(file->temp_path);
        release(file);
        return st;
    }
    remember_temporary(file->temp_path);
    return VTE_OK;
}

int vte_write_probe(const char *path) {
    static const char block[4096];
    vte_atomic_file probe;
    vte_error err = {0};
    errno = 0;
    if (vte_atomic_file_open(&probe, path, &err) != VTE_OK) return errno ? errno : EIO;
    const int ok = fwrite(block, 1, sizeof block, probe.stream) == sizeof block && fflush(probe.stream) == 0 &&
                   fsync(fileno(probe.stream)) == 0;
    const int error = ok ? 0 : errno ? errno : EIO;
    vte_atomic_file_abort(&probe);
    return error;
}

/* Best effort: makes a rename in the folder of `path` durable. A failure does not undo the write, so it is not
 * reported. */
static void sync_folder_of(const char *path) {
    const char *slash = strrchr(path, '/');
    char *folder = NULL;
    if (!slash) {
        folder = copy_string(".");
    } else {
        const size_t n = slash == path ? 1 : (size_t)(slash - path); /* "/name" lives in "/" */
        folder = malloc(n + 1);
        if (folder) {
            memcpy(folder, path, n);
            folder[n] = '\0';
        }
    }
    if (!folder) return;
    const int fd = open(folder, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd >= 0) {
        (void)fsync(fd);
        close(fd);
    }
    free(folder);
}

vte_status vte_atomic_file_commit(vte_atomic_file *file, vte_error *err) {
    if (!file || !file->stream)
        return vte_error_set(err, VTE_ERR_INVALID_ARGUMENT, "vte_atomic_file_commit: the file is not open");
    const char *path = file->path, *temp = file->temp_path;
    vte_status st = VTE_OK;
    /* A write that failed earlier left the stream's error flag set (and its reason in errno); fflush writes
     * out, and reports, what is still buffered. */
    const int earlier_errno = errno;
    if (fflush(file->stream) != 0) {
        st = vte_error_set(err, VTE_ERR_IO, "%s: cannot write %s: %s", path, temp, strerror(errno));
    } else if (ferror(file->stream)) {
        st = vte_error_set(err, VTE_ERR_IO, "%s: cannot write %s: %s", path, temp,
                           strerror(earlier_errno ? earlier_errno : EIO));
    } else if (fsync(fileno(file->stream)) != 0) {
        st = vte_error_set(err, VTE_ERR_IO, "%s: cannot fsync %s: %s", path, temp, strerror(errno));
    }
    const int closed = fclose(file->stream);
    file->stream = NULL;
    if (st == VTE_OK && closed != 0)
        st = vte_error_set(err, VTE_ERR_IO, "%s: cannot close %s: %s", path, temp, strerror(errno));
    if (st == VTE_OK && rename(temp, path) != 0)
        st = vte_error_set(err, VTE_ERR_IO, "%s: cannot rename %s over it: %s", path, temp, strerror(errno));
    if (st == VTE_OK)
        sync_folder_of(path);
    else
        unlink(temp);
    release(file);
    return st;
}

void vte_atomic_file_abort(vte_atomic_file *file) {
    if (!file) return;
    if (file->stream) fclose(file->stream);
    if (file->temp_path) unlink(file->temp_path);
    release(file);
}

vte_status vte_write_file_atomic(const char *path, const void *data, size_t size, vte_error *err) {
    if (size > 0 && !data) return vte_error_set(err, VTE_ERR_INVALID_ARGUMENT, "%s: no data to write", path);
    vte_atomic_file file;
    vte_status st = vte_atomic_file_open(&file, path, err);
    if (st != VTE_OK) return st;
    if (size > 0 && fwrite(data, 1, size, file.stream) != size) {
        st = vte_error_set(err, VTE_ERR_IO, "%s: cannot write %s: %s", path, file.temp_path, strerror(errno));
        vte_atomic_file_abort(&file);
        return st;
    }
    return vte_atomic_file_commit(&file, err);
}

/* ------------------------------------------------------------------ folders */

int vte_open_regular_file(const char *path, vte_error *err) {
    const int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) {
        vte_error_set(err, VTE_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
        return -1;
    }
    struct stat info;
    if (fstat(fd, &info) != 0) {
        vte_error_set(err, VTE_ERR_IO, "%s: cannot stat: %s", path, strerror(errno));
    } else if (S_ISDIR(info.st_mode)) {
        vte_error_set(err, VTE_ERR_IO, "%s: is a directory, not a file", path);
    } else if (!S_ISREG(info.st_mode)) {
        vte_error_set(err, VTE_ERR_IO, "%s: not a regular file (a FIFO, socket or device)", path);
    } else {
        const int flags = fcntl(fd, F_GETFL);
        if (flags != -1 && fcntl(fd, F_SETFL, flags & ~O_NONBLOCK) == 0) return fd;
        vte_error_set(err, VTE_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    }
    close(fd);
    return -1;
}

FILE *vte_fopen_regular_file(const char *path, vte_error *err) {
    const int fd = vte_open_regular_file(path, err);
    if (fd < 0) return NULL;
    FILE *f = fdopen(fd, "rb");
    if (!f) {
        vte_error_set(err, VTE_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
        close(fd);
    }
    return f;
}

int vte_make_dirs(const char *path) {
    if (!path || !*path) {
        errno = ENOENT;
        return -1;
    }
    char *buffer = copy_string(path);
    if (!buffer) {
        errno = ENOMEM;
        return -1;
    }
    int rc = 0;
    /* Each parent in turn; EEXIST is fine here, a parent that is a file fails the next mkdir with ENOTDIR. */
    for (char *p = buffer + 1; *p && rc == 0; p++) {
        if (*p != '/') continue;
        *p = '\0';
        if (mkdir(buffer, 0755) != 0 && errno != EEXIST) rc = -1;
        *p = '/';
    }
    if (rc == 0 && mkdir(buffer, 0755) != 0 && errno != EEXIST) rc = -1;
    if (rc == 0) {
        struct stat info;
        if (stat(buffer, &info) != 0) {
            rc = -1;
        } else if (!S_ISDIR(info.st_mode)) {
            errno = ENOTDIR;
            rc = -1;
        }
    }
    const int saved = errno;
    free(buffer);
    errno = saved;
    return rc;
}

/* ------------------------------------------------------------------ byte order */

int vte_host_is_little_endian(void) {
    const uint32_t one = 1;
    unsigned char first;
    memcpy(&first, &one, 1);
    return first == 1;
}
