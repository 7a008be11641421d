/* madvise and MADV_DONTNEED are Linux/BSD, outside POSIX (whose posix_madvise(POSIX_MADV_DONTNEED) glibc ignores). */
#define _DEFAULT_SOURCE
#include "model/safetensors.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/error.h"
#include "util/fileio.h"

struct vte_safetensors {
    char *path;
    void *map;
    size_t map_size;
    const unsigned char *data; /* start of the data buffer: map + 8 + header_len */
    size_t data_size;
    size_t header_len;
    json_t *header; /* kept alive: tensor names and metadata strings point into it */
    json_t *metadata;
    vte_tensor_info *tensors; /* sorted by data offset */
    size_t count;
    const vte_tensor_info **by_name; /* the tensors sorted by name */
};

typedef struct dtype_desc {
    const char *name;
    int bits;
    vte_dtype dtype;
} dtype_desc;

/* Every dtype of the reference implementation (safetensors tensor.rs Dtype), with its size in bits. */
static const dtype_desc DTYPES[] = {
    {"F32", 32, VTE_DTYPE_F32},      {"F16", 16, VTE_DTYPE_F16},      {"BF16", 16, VTE_DTYPE_BF16},
    {"BOOL", 8, VTE_DTYPE_OTHER},    {"U8", 8, VTE_DTYPE_OTHER},      {"I8", 8, VTE_DTYPE_OTHER},
    {"I16", 16, VTE_DTYPE_OTHER},    {"U16", 16, VTE_DTYPE_OTHER},    {"I32", 32, VTE_DTYPE_OTHER},
    {"U32", 32, VTE_DTYPE_OTHER},    {"I64", 64, VTE_DTYPE_OTHER},    {"U64", 64, VTE_DTYPE_OTHER},
    {"F64", 64, VTE_DTYPE_OTHER},    {"C64", 64, VTE_DTYPE_OTHER},    {"F8_E4M3", 8, VTE_DTYPE_OTHER},
    {"F8_E5M2", 8, VTE_DTYPE_OTHER}, {"F8_E8M0", 8, VTE_DTYPE_OTHER}, {"F6_E2M3", 6, VTE_DTYPE_OTHER},
    {"F6_E3M2", 6, VTE_DTYPE_OTHER}, {"F4", 4, VTE_DTYPE_OTHER},
};

static const dtype_desc *dtype_lookup(const char *name) {
    for (size_t i = 0; i < sizeof DTYPES / sizeof DTYPES[0]; i++)
        if (strcmp(DTYPES[i].name, name) == 0) return &DTYPES[i];
    return NULL;
}

/* ------------------------------------------------------------------ small helpers */

char *vte_shape_format(char *buf, size_t size, int rank, const int64_t *shape) {
    if (!buf || size == 0) return buf;
    size_t used = 0;
    int n = snprintf(buf, size, "[");
    used = n > 0 ? (size_t)n : 0;
    for (int i = 0; i < rank && used < size; i++) {
        n = snprintf(buf + used, size - used, "%s%lld", i ? ", " : "", (long long)shape[i]);
        if (n < 0) break;
        used += (size_t)n;
    }
    if (used < size) snprintf(buf + used, size - used, "]");
    buf[size - 1] = '\0';
    return buf;
}

size_t vte_tensor_count(const vte_tensor_info *t) {
    size_t n = 1;
    for (int i = 0; i < t->rank; i++) n *= (size_t)t->shape[i]; /* validated against overflow at open */
    return n;
}

float vte_f16_to_f32(uint16_t h) {
    uint32_t sign = (uint32_t)(h & 0x8000u) << 16;
    uint32_t exp = (h >> 10) & 0x1fu;
    uint32_t mant = h & 0x3ffu;
    uint32_t bits;
    if (exp == 0x1f) {
        bits = sign | 0x7f800000u | (mant << 13); /* inf, or NaN with its payload */
    } else if (exp != 0) {
        bits = sign | ((exp + 127u - 15u) << 23) | (mant << 13);
    } else if (mant == 0) {
        bits = sign; /* signed zero */
    } else {
        /* subnormal: mant * 2^-24; normalise so the leading 1 reaches bit 10 */
        uint32_t e = 127u - 15u + 1u;
        while (!(mant & 0x400u)) {
            mant <<= 1;
            e--;
        }
        bits = sign | (e << 23) | ((mant & 0x3ffu) << 13);
    }
    float f;
    memcpy(&f, &bits, sizeof f);
    return f;
}

float vte_bf16_to_f32(uint16_t h) {
    uint32_t bits = (uint32_t)h << 16;
    float f;
    memcpy(&f, &bits, sizeof f);
    return f;
}

/* ------------------------------------------------------------------ open and validate */

static int cmp_by_offset(const void *a, const void *b) {
    const vte_tensor_info *x = a, *y = b;
    if (x->data_offset != y->data_offset) return x->data_offset < y->data_offset ? -1 : 1;
    size_t xe = x->data_offset + x->nbytes, ye = y->data_offset + y->nbytes;
    if (xe != ye) return xe < ye ? -1 : 1;
    return strcmp(x->name, y->name);
}

static int cmp_ptr_by_name(const void *a, const void *b) {
    const vte_tensor_info *const *x = a, *const *y = b;
    return strcmp((*x)->name, (*y)->name);
}

/* Reads a non-negative JSON integer that fits in size_t. */
static int json_size_value(const json_t *v, size_t *out) {
    if (!json_is_integer(v)) return 0;
    json_int_t x = json_integer_value(v);
    if (x < 0) return 0;
    if ((unsigned long long)x > (unsigned long long)SIZE_MAX) return 0;
    *out = (size_t)x;
    return 1;
}

static vte_status parse_metadata(const char *path, json_t *meta, vte_error *err) {
    if (!json_is_object(meta))
        return vte_error_set(err, VTE_ERR_FORMAT, "%s: '__metadata__' must be an object of strings", path);
    const char *key;
    json_t *value;
    json_object_foreach(meta, key, value) {
        if (!json_is_string(value))
            return vte_error_set(err, VTE_ERR_FORMAT, "%s: '__metadata__' value of '%s' is not a string", path, key);
    }
    return VTE_OK;
}

static vte_status parse_tensor(const char *path, const char *name, json_t *entry, vte_tensor_info *t, vte_error *err) {
    memset(t, 0, sizeof *t);
    t->name = name;
    if (!json_is_object(entry))
        return vte_error_set(err, VTE_ERR_FORMAT, "%s: tensor '%s' is not an object with dtype, shape and data_offsets",
                             path, name);

    json_t *dtype = json_object_get(entry, "dtype");
    if (!dtype) return vte_error_set(err, VTE_ERR_FORMAT, "%s: tensor '%s' has no 'dtype'", path, name);
    if (!json_is_string(dtype))
        return vte_error_set(err, VTE_ERR_FORMAT, "%s: tensor '%s' has a 'dtype' that is not a string", path, name);
    const dtype_desc *dd = dtype_lookup(json_string_value(dtype));
    if (!dd)
        return vte_error_set(err, VTE_ERR_FORMAT, "%s: tensor '%s' has unknown dtype '%s'", path, name,
                             json_string_value(dtype));
    t->dtype_name = dd->name;
    t->dtype = dd->dtype;

    json_t *shape = json_object_get(entry, "shape");
    if (!shape) return vte_error_set(err, VTE_ERR_FORMAT, "%s: tensor '%s' has no 'shape'", path, name);
    if (!json_is_array(shape))
        return vte_error_set(err, VTE_ERR_FORMAT, "%s: tensor '%s' has a 'shape' that is not an array", path, name);
    size_t rank = json_array_size(shape);
    if (rank > VTE_SAFETENSORS_MAX_RANK)
        return vte_error_set(err, VTE_ERR_UNSUPPORTED, "%s: tensor '%s' has %zu dimensions; at most %d are supported",
                             path, name, rank, VTE_SAFETENSORS_MAX_RANK);
    t->rank = (int)rank;
    size_t elements = 1;
    int overflow = 0;
    for (size_t i = 0; i < rank; i++) {
        size_t d;
        json_t *v = json_array_get(shape, i);
        if (!json_size_value(v, &d) || d > (size_t)INT64_MAX)
            return vte_error_set(err, VTE_ERR_FORMAT, "%s: tensor '%s' shape entry %zu is not a non-negative integer",
                                 path, name, i);
        t->shape[i] = (int64_t)d;
        if (d != 0 && elements > SIZE_MAX / d)
            overflow = 1;
        else
            elements *= d;
    }
    /* As in the reference (checked multiplication in order), an overflow before a zero dimension counts. */
    char shape_text[256];
    vte_shape_format(shape_text, sizeof shape_text, t->rank, t->shape);
    if (overflow)
        return vte_error_set(err, VTE_ERR_FORMAT, "%s: tensor '%s' shape %s overflows the element count", path, name,
                             shape_text);

    json_t *offsets = json_object_get(entry, "data_offsets");
    if (!offsets) return vte_error_set(err, VTE_ERR_FORMAT, "%s: tensor '%s' has no 'data_offsets'", path, name);
    if (!json_is_array(offsets) || json_array_size(offsets) != 2)
        return vte_error_set(err, VTE_ERR_FORMAT, "%s: tensor '%s' 'data_offsets' is not an array of 2 integers", path,
                             name);
    size_t begin, end;
    if (!json_size_value(json_array_get(offsets, 0), &begin))
        return vte_error_set(err, VTE_ERR_FORMAT, "%s: tensor '%s' data_offsets entry 0 is not a non-negative integer",
                             path, name);
    if (!json_size_value(json_array_get(offsets, 1), &end))
        return vte_error_set(err, VTE_ERR_FORMAT, "%s: tensor '%s' data_offsets entry 1 is not a non-negative integer",
                             path, name);
    if (end < begin)
        return vte_error_set(err, VTE_ERR_FORMAT, "%s: tensor '%s' data_offsets [%zu, %zu) end before they begin", path,
                             name, begin, end);

    if (elements > SIZE_MAX / (size_t)dd->bits)
        return vte_error_set(err, VTE_ERR_FORMAT, "%s: tensor '%s' shape %s of %s overflows the byte size", path, name,
                             shape_text, dd->name);
    size_t bits = elements * (size_t)dd->bits;
    if (bits % 8 != 0)
        return vte_error_set(err, VTE_ERR_FORMAT,
                             "%s: tensor '%s' shape %s of %d-bit %s is not a whole number of bytes", path, name,
                             shape_text, dd->bits, dd->name);
    size_t nbytes = bits / 8;
    if (end - begin != nbytes)
        return vte_error_set(err, VTE_ERR_FORMAT,
                             "%s: tensor '%s' data [%zu, %zu) holds %zu bytes, but shape %s of %s needs %zu bytes",
                             path, name, begin, end, end - begin, shape_text, dd->name, nbytes);
    t->data_offset = begin;
    t->nbytes = nbytes;
    return VTE_OK;
}

static vte_status validate_header(vte_safetensors *st, vte_error *err) {
    const char *path = st->path;
    const char *text = (const char *)st->map + 8;
    size_t n = st->header_len;

    if (n == 0 || text[0] != '{')
        return vte_error_set(err, VTE_ERR_FORMAT, "%s: header does not start with '{' (it must be a JSON object)",
                             path);
    json_error_t jerr;
    st->header = json_loadb(text, n, JSON_REJECT_DUPLICATES, &jerr);
    if (!st->header) {
        switch (json_error_code(&jerr)) {
        case json_error_duplicate_key:
            return vte_error_set(err, VTE_ERR_FORMAT, "%s: duplicate key in the JSON header at line %d column %d: %s",
                                 path, jerr.line, jerr.column, jerr.text);
        case json_error_invalid_utf8:
            return vte_error_set(err, VTE_ERR_FORMAT, "%s: JSON header is not valid UTF-8 at line %d column %d: %s",
                                 path, jerr.line, jerr.column, jerr.text);
        default:
            return vte_error_set(err, VTE_ERR_FORMAT, "%s: invalid JSON header at line %d column %d: %s", path,
                                 jerr.line, jerr.column, jerr.text);
        }
    }
    if (!json_is_object(st->header)) return vte_error_set(err, VTE_ERR_FORMAT, "%s: header is not a JSON object", path);

    size_t entries = json_object_size(st->header);
    st->tensors = calloc(entries ? entries : 1, sizeof *st->tensors);
    st->by_name = calloc(entries ? entries : 1, sizeof *st->by_name);
    if (!st->tensors || !st->by_name)
        return vte_error_set(err, VTE_ERR_OUT_OF_MEMORY, "%s: out of memory for %zu header entries", path, entries);

    const char *key;
    json_t *value;
    json_object_foreach(st->header, key, value) {
        vte_status s;
        if (strcmp(key, "__metadata__") == 0) {
            s = parse_metadata(path, value, err);
            st->metadata = value;
        } else {
            s = parse_tensor(path, key, value, &st->tensors[st->count], err);
            if (s == VTE_OK) st->count++;
        }
        if (s != VTE_OK) return s;
    }

    qsort(st->tensors, st->count, sizeof *st->tensors, cmp_by_offset);
    size_t pos = 0;
    for (size_t i = 0; i < st->count; i++) {
        const vte_tensor_info *t = &st->tensors[i];
        size_t end = t->data_offset + t->nbytes;
        if (t->data_offset < pos) {
            const vte_tensor_info *p = &st->tensors[i - 1]; /* i > 0: pos is 0 before the first */
            return vte_error_set(err, VTE_ERR_FORMAT, "%s: tensor '%s' data [%zu, %zu) overlaps tensor '%s' [%zu, %zu)",
                                 path, p->name, p->data_offset, p->data_offset + p->nbytes, t->name, t->data_offset,
                                 end);
        }
        if (t->data_offset > pos) {
            if (i == 0)
                return vte_error_set(err, VTE_ERR_FORMAT,
                                     "%s: hole in the data: bytes [0, %zu) before tensor '%s' belong to no tensor",
                                     path, t->data_offset, t->name);
            return vte_error_set(err, VTE_ERR_FORMAT,
                                 "%s: hole in the data: bytes [%zu, %zu) between tensor '%s' and tensor '%s' belong "
                                 "to no tensor",
                                 path, pos, t->data_offset, st->tensors[i - 1].name, t->name);
        }
        if (end > st->data_size)
            return vte_error_set(err, VTE_ERR_FORMAT,
                                 "%s: tensor '%s' data [%zu, %zu) runs past the end of the file (the data after the "
                                 "header is %zu bytes; the file is truncated)",
                                 path, t->name, t->data_offset, end, st->data_size);
        pos = end;
    }
    if (pos != st->data_size)
        return vte_error_set(err, VTE_ERR_FORMAT,
                             "%s: %zu trailing bytes after the last tensor's data (the tensors end at byte %zu of the "
                             "%zu-byte data buffer)",
                             path, st->data_size - pos, pos, st->data_size);

    for (size_t i = 0; i < st->count; i++) st->by_name[i] = &st->tensors[i];
    qsort(st->by_name, st->count, sizeof *st->by_name, cmp_ptr_by_name);
    return VTE_OK;
}

vte_safetensors *vte_safetensors_open(const char *path, vte_error *err) {
    if (!path) {
        vte_error_set(err, VTE_ERR_INVALID_ARGUMENT, "vte_safetensors_open: path is NULL");
        return NULL;
    }
    vte_safetensors *st = calloc(1, sizeof *st);
    if (!st || !(st->path = strdup(path))) {
        free(st);
        vte_error_set(err, VTE_ERR_OUT_OF_MEMORY, "%s: out of memory", path);
        return NULL;
    }

    int fd = vte_open_regular_file(path, err);
    if (fd < 0) goto fail;
    struct stat sb;
    if (fstat(fd, &sb) != 0) {
        vte_error_set(err, VTE_ERR_IO, "%s: cannot stat: %s", path, strerror(errno));
        close(fd);
        goto fail;
    }
    if (sb.st_size < 8) {
        vte_error_set(err, VTE_ERR_FORMAT, "%s: file is %lld bytes, too short to hold the 8-byte header length", path,
                      (long long)sb.st_size);
        close(fd);
        goto fail;
    }
    if ((unsigned long long)sb.st_size > (unsigned long long)SIZE_MAX) {
        vte_error_set(err, VTE_ERR_UNSUPPORTED, "%s: file of %lld bytes is too large to map", path,
                      (long long)sb.st_size);
        close(fd);
        goto fail;
    }
    st->map_size = (size_t)sb.st_size;
    st->map = mmap(NULL, st->map_size, PROT_READ, MAP_PRIVATE, fd, 0);
    int map_errno = errno;
    close(fd);
    if (st->map == MAP_FAILED) {
        st->map = NULL;
        vte_error_set(err, VTE_ERR_IO, "%s: cannot map %zu bytes: %s", path, st->map_size, strerror(map_errno));
        goto fail;
    }

    const unsigned char *b = st->map;
    uint64_t n = 0;
    for (int i = 7; i >= 0; i--) n = (n << 8) | b[i];
    if (n > VTE_SAFETENSORS_MAX_HEADER) {
        vte_error_set(err, VTE_ERR_FORMAT, "%s: header length %llu exceeds the limit of %llu bytes", path,
                      (unsigned long long)n, VTE_SAFETENSORS_MAX_HEADER);
        goto fail;
    }
    /* n <= 1e8, so 8 + n cannot overflow */
    if (8 + n > (uint64_t)st->map_size) {
        vte_error_set(err, VTE_ERR_FORMAT, "%s: header length %llu runs past the end of the file (%zu bytes)", path,
                      (unsigned long long)n, st->map_size);
        goto fail;
    }
    st->header_len = (size_t)n;
    st->data = b + 8 + st->header_len;
    st->data_size = st->map_size - 8 - st->header_len;
    if (validate_header(st, err) != VTE_OK) goto fail;
    return st;

fail:
    vte_safetensors_close(st);
    return NULL;
}

void vte_safetensors_close(vte_safetensors *st) {
    if (!st) return;
    if (st->map) munmap(st->map, st->map_size);
    json_decref(st->header);
    free(st->tensors);
    free(st->by_name);
    free(st->path);
    free(st);
}

/* ------------------------------------------------------------------ queries */

const char *vte_safetensors_path(const vte_safetensors *st) { return st ? st->path : NULL; }

size_t vte_safetensors_count(const vte_safetensors *st) { return st ? st->count : 0; }

const vte_tensor_info *vte_safetensors_at(const vte_safetensors *st, size_t i) {
    return st && i < st->count ? &st->tensors[i] : NULL;
}

const vte_tensor_info *vte_safetensors_find(const vte_safetensors *st, const char *name) {
    if (!st || !name) return NULL;
    size_t lo = 0, hi = st->count;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        const vte_tensor_info *t = st->by_name[mid];
        int c = strcmp(name, t->name);
        if (c == 0) return t;
        if (c < 0)
            hi = mid;
        else
            lo = mid + 1;
    }
    return NULL;
}

const char *vte_safetensors_metadata(const vte_safetensors *st, const char *key) {
    if (!st || !st->metadata || !key) return NULL;
    return json_string_value(json_object_get(st->metadata, key));
}

const void *vte_safetensors_data(const vte_safetensors *st, const vte_tensor_info *t) {
    if (!st || !t) return NULL;
    return st->data + t->data_offset;
}

/* ------------------------------------------------------------------ conversion */

vte_status vte_safetensors_convert_f32(const vte_safetensors *st, const vte_tensor_info *t, float *dst,
                                       vte_error *err) {
    if (!st || !t)
        return vte_error_set(err, VTE_ERR_INVALID_ARGUMENT, "vte_safetensors_convert_f32: NULL file or tensor");
    size_t n = vte_tensor_count(t);
    if (!dst && n > 0)
        return vte_error_set(err, VTE_ERR_INVALID_ARGUMENT, "%s: tensor '%s': destination is NULL", st->path, t->name);
    const unsigned char *p = st->data + t->data_offset;
    switch (t->dtype) {
    case VTE_DTYPE_F32:
        if (vte_host_is_little_endian()) {
            if (n) memcpy(dst, p, n * sizeof(float));
        } else {
            for (size_t i = 0; i < n; i++) {
                uint32_t bits = (uint32_t)p[4 * i] | (uint32_t)p[4 * i + 1] << 8 | (uint32_t)p[4 * i + 2] << 16 |
                                (uint32_t)p[4 * i + 3] << 24;
                memcpy(&dst[i], &bits, sizeof bits);
            }
        }
        return VTE_OK;
    case VTE_DTYPE_F16:
        for (size_t i = 0; i < n; i++) dst[i] = vte_f16_to_f32((uint16_t)(p[2 * i] | p[2 * i + 1] << 8));
        return VTE_OK;
    case VTE_DTYPE_BF16:
        for (size_t i = 0; i < n; i++) dst[i] = vte_bf16_to_f32((uint16_t)(p[2 * i] | p[2 * i + 1] << 8));
        return VTE_OK;
    case VTE_DTYPE_OTHER: break;
    }
    return vte_error_set(err, VTE_ERR_UNSUPPORTED,
                         "%s: tensor '%s' has dtype %s, expected a float dtype (F32, F16 or BF16)", st->path, t->name,
                         t->dtype_name);
}

const float *vte_safetensors_f32_view(const vte_safetensors *st, const vte_tensor_info *t) {
    if (!st || !t || t->dtype != VTE_DTYPE_F32 || !vte_host_is_little_endian()) return NULL;
    const unsigned char *p = st->data + t->data_offset;
    return (uintptr_t)p % sizeof(float) == 0 ? (const float *)(const void *)p : NULL;
}

void vte_safetensors_release_pages(const vte_safetensors *st, const vte_tensor_info *t) {
    if (!st || !t || !st->map) return;
    const long page_size = sysconf(_SC_PAGESIZE);
    if (page_size <= 0) return;
    const uintptr_t page = (uintptr_t)page_size;
    const uintptr_t start = (uintptr_t)(st->data + t->data_offset), end = start + t->nbytes;
    const uintptr_t first = (start + page - 1) / page * page, last = end / page * page; /* whole pages only */
    if (last > first) madvise((void *)first, last - first, MADV_DONTNEED);
}

vte_status vte_safetensors_expect(const vte_safetensors *st, const char *name, int rank, const int64_t *shape,
                                  const vte_tensor_info **tensor, vte_error *err) {
    if (tensor) *tensor = NULL;
    if (!st || !name)
        return vte_error_set(err, VTE_ERR_INVALID_ARGUMENT, "vte_safetensors_expect: NULL file or tensor name");
    if (rank < 0 || rank > VTE_SAFETENSORS_MAX_RANK || (rank > 0 && !shape))
        return vte_error_set(err, VTE_ERR_INVALID_ARGUMENT, "%s: tensor '%s': invalid expected rank %d", st->path, name,
                             rank);
    char want[256], have[256];
    vte_shape_format(want, sizeof want, rank, shape);
    const vte_tensor_info *t = vte_safetensors_find(st, name);
    if (!t)
        return vte_error_set(err, VTE_ERR_FORMAT, "%s: tensor '%s' not found (expected shape %s)", st->path, name,
                             want);
    int same = t->rank == rank;
    for (int i = 0; same && i < rank; i++) same = t->shape[i] == shape[i];
    if (!same) {
        vte_shape_format(have, sizeof have, t->rank, t->shape);
        return vte_error_set(err, VTE_ERR_FORMAT, "%s: tensor '%s' has shape %s, expected %s", st->path, name, have,
                             want);
    }
    if (tensor) *tensor = t;
    return VTE_OK;
}

vte_status vte_safetensors_read_f32(const vte_safetensors *st, const char *name, int rank, const int64_t *shape,
                                    float *dst, vte_error *err) {
    const vte_tensor_info *t;
    const vte_status status = vte_safetensors_expect(st, name, rank, shape, &t, err);
    return status != VTE_OK ? status : vte_safetensors_convert_f32(st, t, dst, err);
}
