/* OpenCL programs: sources embedded at build time (or read from $VITEXPLAIN_KERNEL_DIR), built once per
 * process and (family, options), with compiled binaries cached on disk between processes.
 *
 * Cache entry: <cache_dir>/<16 hex digits of FNV-1a(key)>.bin holding
 *   "VTEPRG01" | u32 key length | key | u64 binary length | binary | u64 FNV-1a(binary)
 * where key = source hash and length, build options, device name, driver version and platform version.
 * The full key is stored and compared, so a hash collision or an entry of another driver is a miss, and a
 * truncated or corrupt entry (checksum) falls back to building from source. Writes go to a temporary file
 * that is renamed into place, so a crash never leaves a half-written entry. */
#include "runtime/internal.h"
#include "runtime/runtime.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/fileio.h"

static const char CACHE_MAGIC[8] = {'V', 'T', 'E', 'P', 'R', 'G', '0', '1'};

struct vte_program_entry {
    char *family;
    char *options;
    cl_program program;
};

static uint64_t fnv1a(const void *data, size_t length, uint64_t hash) {
    const unsigned char *p = data;
    for (size_t i = 0; i < length; i++) {
        hash ^= p[i];
        hash *= 0x100000001b3ull;
    }
    return hash;
}
#define FNV_OFFSET 0xcbf29ce484222325ull

static char *duplicate(const char *s) {
    size_t n = strlen(s) + 1;
    char *copy = malloc(n);
    if (copy) memcpy(copy, s, n);
    return copy;
}

vte_status vte_cache_dir_resolve(const char *requested, char *out, size_t size, vte_error *err) {
    (void)err;
    out[0] = '\0';
    const char *env = getenv("VITEXPLAIN_CACHE_DIR");
    if (requested) {
        snprintf(out, size, "%s", requested);
    } else if (env) {
        snprintf(out, size, "%s", env);
    } else {
        const char *xdg = getenv("XDG_CACHE_HOME");
        const char *home = getenv("HOME");
        if (xdg && *xdg)
            snprintf(out, size, "%s/vitexplain", xdg);
        else if (home && *home)
            snprintf(out, size, "%s/.cache/vitexplain", home);
    }
    /* An unusable cache directory only costs compile time: turn the cache off rather than fail. */
    if (out[0] && vte_make_dirs(out) != 0) out[0] = '\0';
    return VTE_OK;
}

void vte_programs_release(vte_runtime *rt) {
    for (size_t i = 0; i < rt->program_count; i++) {
        clReleaseProgram(rt->programs[i].program);
        free(rt->programs[i].family);
        free(rt->programs[i].options);
    }
    free(rt->programs);
    rt->programs = NULL;
    rt->program_count = rt->program_capacity = 0;
}

/* Loads the text of kernels/<family>.cl into a malloc'ed NUL-terminated buffer: from $VITEXPLAIN_KERNEL_DIR
 * when set (a file missing there falls back to the embedded copy only with `embedded_fallback`), else the
 * embedded copy. */
static vte_status load_file_text(vte_runtime *rt, const char *family, int embedded_fallback, char **source,
                                 size_t *length, vte_error *err) {
    if (rt->kernel_dir[0]) {
        char path[4200];
        snprintf(path, sizeof path, "%s/%s.cl", rt->kernel_dir, family);
        FILE *f = fopen(path, "rb");
        if (!f && embedded_fallback && errno == ENOENT) goto embedded;
        if (!f)
            return vte_error_set(err, VTE_ERR_IO, "%s: cannot open kernel source (VITEXPLAIN_KERNEL_DIR): %s", path,
                                 strerror(errno));
        fseek(f, 0, SEEK_END);
        long n = ftell(f);
        fseek(f, 0, SEEK_SET);
        char *text = n >= 0 ? malloc((size_t)n + 1) : NULL;
        if (!text || fread(text, 1, (size_t)n, f) != (size_t)n) {
            free(text);
            fclose(f);
            return vte_error_set(err, VTE_ERR_IO, "%s: cannot read kernel source", path);
        }
        fclose(f);
        text[n] = '\0';
        *source = text;
        *length = (size_t)n;
        return VTE_OK;
    }
embedded:
    for (size_t i = 0; i < vte_embedded_source_count; i++) {
        if (strcmp(vte_embedded_sources[i].family, family) == 0) {
            *length = vte_embedded_sources[i].length;
            *source = malloc(*length + 1);
            if (!*source) return vte_error_set(err, VTE_ERR_OUT_OF_MEMORY, "out of memory loading kernel source");
            memcpy(*source, vte_embedded_sources[i].text, *length);
            (*source)[*length] = '\0';
            return VTE_OK;
        }
    }
    return vte_error_set(err, VTE_ERR_INVALID_ARGUMENT, "no kernel source named '%s' is embedded", family);
}

/* The shared helpers every program is built with (work-group reductions). */
#define SHARED_FAMILY "reduce"

/* The source a program is built from: kernels/reduce.cl, then kernels/<family>.cl from its first line (a
 * #line directive keeps build-log line numbers those of the family's own file). */
static vte_status load_source(vte_runtime *rt, const char *family, char **source, size_t *length, vte_error *err) {
    char *shared = NULL, *own = NULL;
    size_t shared_length = 0, own_length = 0;
    vte_status status = load_file_text(rt, SHARED_FAMILY, 1, &shared, &shared_length, err);
    if (status == VTE_OK) status = load_file_text(rt, family, 0, &own, &own_length, err);
    if (status == VTE_OK) {
        char line[300];
        int line_length = snprintf(line, sizeof line, "\n#line 1 \"%s.cl\"\n", family);
        *length = shared_length + (size_t)line_length + own_length;
        *source = malloc(*length + 1);
        if (!*source) {
            status = vte_error_set(err, VTE_ERR_OUT_OF_MEMORY, "out of memory loading kernel source");
        } else {
            memcpy(*source, shared, shared_length);
            memcpy(*source + shared_length, line, (size_t)line_length);
            memcpy(*source + shared_length + line_length, own, own_length + 1);
        }
    }
    free(shared);
    free(own);
    return status;
}

static vte_status build_failure(vte_runtime *rt, cl_program program, cl_int status, const char *family,
                                const char *options, vte_error *err) {
    char log[VTE_ERROR_MESSAGE_SIZE / 2] = "";
    size_t log_size = 0;
    if (clGetProgramBuildInfo(program, rt->device, CL_PROGRAM_BUILD_LOG, 0, NULL, &log_size) == CL_SUCCESS &&
        log_size > 0) {
        char *full = malloc(log_size + 1);
        if (full && clGetProgramBuildInfo(program, rt->device, CL_PROGRAM_BUILD_LOG, log_size, full, NULL) ==
                        CL_SUCCESS) {
            full[log_size] = '\0';
            snprintf(log, sizeof log, "%s", full);
        }
        free(full);
    }
    return vte_error_set(err, VTE_ERR_OPENCL, "building kernels/%s.cl with \"%s\" failed: %s (%d); build log:\n%s",
                         family, options, vte_cl_error_name(status), (int)status, log);
}

static void cache_key(vte_runtime *rt, const char *source, size_t length, const char *options, char *key,
                      size_t size) {
    snprintf(key, size, "src=%016llx:%zu|opt=%s|dev=%s|drv=%s|plat=%s",
             (unsigned long long)fnv1a(source, length, FNV_OFFSET), length, options, rt->info.name,
             rt->info.driver_version, rt->info.platform_version);
}

int vte_cache_file(const vte_runtime *rt, const char *key, const char *extension, char *path, size_t size) {
    if (!rt->cache_dir[0]) return 0;
    int n = snprintf(path, size, "%s/%016llx%s", rt->cache_dir, (unsigned long long)fnv1a(key, strlen(key), FNV_OFFSET),
                     extension);
    return n > 0 && (size_t)n < size;
}

static void cache_path(vte_runtime *rt, const char *key, char *path, size_t size) {
    vte_cache_file(rt, key, ".bin", path, size);
}

/* Returns a built program from the cache, or NULL on any miss (absent, stale, corrupt, rejected). */
static cl_program cache_load(vte_runtime *rt, const char *key, const char *full_options) {
    char path[4200];
    cache_path(rt, key, path, sizeof path);
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    cl_program program = NULL;
    unsigned char *binary = NULL;
    char *stored_key = NULL;
    char magic[8];
    uint32_t key_length = 0;
    uint64_t binary_length = 0, checksum = 0;
    if (fread(magic, 1, 8, f) != 8 || memcmp(magic, CACHE_MAGIC, 8) != 0) goto done;
    if (fread(&key_length, sizeof key_length, 1, f) != 1 || key_length != strlen(key)) goto done;
    stored_key = malloc(key_length + 1);
    if (!stored_key || fread(stored_key, 1, key_length, f) != key_length) goto done;
    stored_key[key_length] = '\0';
    if (strcmp(stored_key, key) != 0) goto done;
    if (fread(&binary_length, sizeof binary_length, 1, f) != 1 || binary_length == 0 ||
        binary_length > (1ull << 31))
        goto done;
    binary = malloc((size_t)binary_length);
    if (!binary || fread(binary, 1, (size_t)binary_length, f) != binary_length) goto done;
    if (fread(&checksum, sizeof checksum, 1, f) != 1 || checksum != fnv1a(binary, (size_t)binary_length, FNV_OFFSET))
        goto done;
    cl_int binary_status = CL_SUCCESS, status = CL_SUCCESS;
    size_t length = (size_t)binary_length;
    const unsigned char *binaries[1] = {binary};
    program = clCreateProgramWithBinary(rt->context, 1, &rt->device, &length, binaries, &binary_status, &status);
    if (status != CL_SUCCESS || binary_status != CL_SUCCESS) {
        if (program) clReleaseProgram(program);
        program = NULL;
        goto done;
    }
    if (clBuildProgram(program, 1, &rt->device, full_options, NULL, NULL) != CL_SUCCESS) {
        clReleaseProgram(program);
        program = NULL;
    }
done:
    free(binary);
    free(stored_key);
    fclose(f);
    return program;
}

/* Best effort: a cache that cannot be written only costs compile time next run. */
static void cache_store(vte_runtime *rt, const char *key, cl_program program) {
    size_t length = 0;
    if (clGetProgramInfo(program, CL_PROGRAM_BINARY_SIZES, sizeof length, &length, NULL) != CL_SUCCESS || length == 0)
        return;
    unsigned char *binary = malloc(length);
    if (!binary) return;
    unsigned char *binaries[1] = {binary};
    if (clGetProgramInfo(program, CL_PROGRAM_BINARIES, sizeof binaries, binaries, NULL) != CL_SUCCESS) {
        free(binary);
        return;
    }
    char path[4200];
    cache_path(rt, key, path, sizeof path);
    vte_atomic_file file;
    if (vte_atomic_file_open(&file, path, NULL) == VTE_OK) {
        uint32_t key_length = (uint32_t)strlen(key);
        uint64_t binary_length = length, checksum = fnv1a(binary, length, FNV_OFFSET);
        int ok = fwrite(CACHE_MAGIC, 1, 8, file.stream) == 8 &&
                 fwrite(&key_length, sizeof key_length, 1, file.stream) == 1 &&
                 fwrite(key, 1, key_length, file.stream) == key_length &&
                 fwrite(&binary_length, sizeof binary_length, 1, file.stream) == 1 &&
                 fwrite(binary, 1, length, file.stream) == length &&
                 fwrite(&checksum, sizeof checksum, 1, file.stream) == 1;
        if (ok)
            (void)vte_atomic_file_commit(&file, NULL);
        else
            vte_atomic_file_abort(&file);
    }
    free(binary);
}

static cl_program program_get(vte_runtime *rt, const char *family, const char *options, vte_error *err) {
    for (size_t i = 0; i < rt->program_count; i++)
        if (strcmp(rt->programs[i].family, family) == 0 && strcmp(rt->programs[i].options, options) == 0)
            return rt->programs[i].program;

    char *source = NULL;
    size_t length = 0;
    if (load_source(rt, family, &source, &length, err) != VTE_OK) return NULL;
    char full_options[2048];
    snprintf(full_options, sizeof full_options, "-cl-std=CL1.2 %s", options);
    char key[4096];
    cache_key(rt, source, length, full_options, key, sizeof key);

    cl_program program = rt->cache_dir[0] ? cache_load(rt, key, full_options) : NULL;
    if (!program) {
        cl_int status = CL_SUCCESS;
        const char *sources[1] = {source};
        program = clCreateProgramWithSource(rt->context, 1, sources, &length, &status);
        if (status != CL_SUCCESS) {
            free(source);
            vte_cl_fail(err, status, "clCreateProgramWithSource", __FILE__, __LINE__);
            return NULL;
        }
        status = clBuildProgram(program, 1, &rt->device, full_options, NULL, NULL);
        if (status != CL_SUCCESS) {
            build_failure(rt, program, status, family, full_options, err);
            clReleaseProgram(program);
            free(source);
            return NULL;
        }
        if (rt->cache_dir[0]) cache_store(rt, key, program);
    }
    free(source);

    if (rt->program_count == rt->program_capacity) {
        size_t capacity = rt->program_capacity ? rt->program_capacity * 2 : 16;
        vte_program_entry *grown = realloc(rt->programs, capacity * sizeof *grown);
        if (!grown) {
            clReleaseProgram(program);
            vte_error_set(err, VTE_ERR_OUT_OF_MEMORY, "out of memory caching a program");
            return NULL;
        }
        rt->programs = grown;
        rt->program_capacity = capacity;
    }
    vte_program_entry *entry = &rt->programs[rt->program_count];
    entry->family = duplicate(family);
    entry->options = duplicate(options);
    entry->program = program;
    if (!entry->family || !entry->options) {
        free(entry->family);
        free(entry->options);
        clReleaseProgram(program);
        vte_error_set(err, VTE_ERR_OUT_OF_MEMORY, "out of memory caching a program");
        return NULL;
    }
    rt->program_count++;
    return program;
}

cl_kernel vte_kernel_create(vte_runtime *rt, const char *family, const char *options, const char *kernel_name,
                            vte_error *err) {
    cl_program program = program_get(rt, family, options ? options : "", err);
    if (!program) return NULL;
    cl_int status = CL_SUCCESS;
    cl_kernel kernel = clCreateKernel(program, kernel_name, &status);
    if (status != CL_SUCCESS) {
        vte_cl_fail(err, status, "clCreateKernel", __FILE__, __LINE__);
        vte_error_prefix(err, "kernel '%s' of kernels/%s.cl", kernel_name, family);
        return NULL;
    }
    return kernel;
}
