#include "util/npy.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "util/error.h"
#include "util/fileio.h"

#define NPY_MAGIC "\x93NUMPY"
#define NPY_MAGIC_LEN 6
#define NPY_MAX_HEADER (1u << 20) /* numpy itself refuses headers over 10000 bytes by default */

static void format_shape(char *buf, size_t size, int rank, const int64_t *shape) {
    size_t used = 0;
    int n = snprintf(buf, size, "(");
    used = n > 0 ? (size_t)n : 0;
    for (int i = 0; i < rank && used < size; i++) {
        n = snprintf(buf + used, size - used, "%s%lld", i ? ", " : "", (long long)shape[i]);
        if (n < 0) break;
        used += (size_t)n;
    }
    if (used < size) snprintf(buf + used, size - used, rank == 1 ? ",)" : ")");
    buf[size - 1] = '\0';
}

/* ------------------------------------------------------------------ header dict parser
 * The header is a Python dict literal such as
 *   {'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }
 * padded with spaces and ending in '\n'. Only strings, True/False and tuples of integers are accepted. */

typedef struct hparser {
    const char *s;
    size_t n, i;
} hparser;

static void hp_ws(hparser *p) {
    while (p->i < p->n && (p->s[p->i] == ' ' || p->s[p->i] == '\t' || p->s[p->i] == '\n' || p->s[p->i] == '\r')) p->i++;
}

static int hp_peek(hparser *p) { return p->i < p->n ? (unsigned char)p->s[p->i] : -1; }

static int hp_eat(hparser *p, char c) {
    hp_ws(p);
    if (hp_peek(p) == (unsigned char)c) {
        p->i++;
        return 1;
    }
    return 0;
}

/* A quoted string without escapes, copied into out (size outsz). */
static int hp_string(hparser *p, char *out, size_t outsz) {
    hp_ws(p);
    int q = hp_peek(p);
    if (q != '\'' && q != '"') return 0;
    p->i++;
    size_t len = 0;
    while (p->i < p->n && p->s[p->i] != q) {
        char c = p->s[p->i];
        if (c == '\\' || c == '\n' || len + 1 >= outsz) return 0;
        out[len++] = c;
        p->i++;
    }
    if (p->i >= p->n) return 0;
    p->i++;
    out[len] = '\0';
    return 1;
}

static int hp_word(hparser *p, const char *w) {
    hp_ws(p);
    size_t len = strlen(w);
    if (p->n - p->i < len || memcmp(p->s + p->i, w, len) != 0) return 0;
    /* must not continue as an identifier */
    if (p->i + len < p->n) {
        char c = p->s[p->i + len];
        if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_') return 0;
    }
    p->i += len;
    return 1;
}

static int hp_int(hparser *p, int64_t *out) {
    hp_ws(p);
    int c = hp_peek(p);
    if (c < '0' || c > '9') return 0;
    int64_t v = 0;
    while ((c = hp_peek(p)) >= '0' && c <= '9') {
        if (v > (INT64_MAX - (c - '0')) / 10) return 0;
        v = v * 10 + (c - '0');
        p->i++;
    }
    if (hp_peek(p) == 'L') p->i++; /* Python 2 long */
    *out = v;
    return 1;
}

/* A tuple of non-negative integers: (), (n,), (a, b), (a, b,). Returns 0 malformed, -1 too many dims. */
static int hp_shape(hparser *p, int *rank, int64_t *shape) {
    if (!hp_eat(p, '(')) return 0;
    int r = 0;
    int trailing_comma = 0;
    for (;;) {
        if (hp_eat(p, ')')) break;
        int64_t d;
        if (!hp_int(p, &d)) return 0;
        if (r >= VTE_NPY_MAX_RANK) return -1;
        shape[r++] = d;
        trailing_comma = hp_eat(p, ',');
        if (!trailing_comma) {
            if (!hp_eat(p, ')')) return 0;
            break;
        }
    }
    if (r == 1 && !trailing_comma) return 0; /* "(3)" is an int in Python, not a tuple */
    *rank = r;
    return 1;
}

typedef struct npy_header {
    char descr[32];
    int fortran_order;
    int rank;
    int64_t shape[VTE_NPY_MAX_RANK];
} npy_header;

static vte_status parse_header(const char *path, const char *text, size_t n, npy_header *h, vte_error *err) {
    hparser p = {text, n, 0};
    int have_descr = 0, have_fortran = 0, have_shape = 0;
    if (!hp_eat(&p, '{'))
        return vte_error_set(err, VTE_ERR_FORMAT, "%s: .npy header is not a Python dict literal", path);
    for (;;) {
        if (hp_eat(&p, '}')) break;
        char key[64];
        if (!hp_string(&p, key, sizeof key) || !hp_eat(&p, ':'))
            return vte_error_set(err, VTE_ERR_FORMAT, "%s: malformed .npy header near byte %zu", path, p.i);
        if (strcmp(key, "descr") == 0) {
            if (have_descr++) return vte_error_set(err, VTE_ERR_FORMAT, "%s: .npy header has 'descr' twice", path);
            if (!hp_string(&p, h->descr, sizeof h->descr))
                return vte_error_set(err, VTE_ERR_UNSUPPORTED,
                                     "%s: .npy 'descr' is not a simple dtype string (structured arrays are not "
                                     "supported)",
                                     path);
        } else if (strcmp(key, "fortran_order") == 0) {
            if (have_fortran++)
                return vte_error_set(err, VTE_ERR_FORMAT, "%s: .npy header has 'fortran_order' twice", path);
            if (hp_word(&p, "True"))
                h->fortran_order = 1;
            else if (hp_word(&p, "False"))
                h->fortran_order = 0;
            else
                return vte_error_set(err, VTE_ERR_FORMAT, "%s: .npy 'fortran_order' is not True or False", path);
        } else if (strcmp(key, "shape") == 0) {
            if (have_shape++) return vte_error_set(err, VTE_ERR_FORMAT, "%s: .npy header has 'shape' twice", path);
            int r = hp_shape(&p, &h->rank, h->shape);
            if (r < 0)
                return vte_error_set(err, VTE_ERR_UNSUPPORTED, "%s: .npy shape has more than %d dimensions", path,
                                     VTE_NPY_MAX_RANK);
            if (r == 0)
                return vte_error_set(err, VTE_ERR_FORMAT, "%s: .npy 'shape' is not a tuple of non-negative integers",
                                     path);
        } else {
            return vte_error_set(err, VTE_ERR_FORMAT, "%s: .npy header has an unexpected key '%s'", path, key);
        }
        if (!hp_eat(&p, ',')) {
            if (!hp_eat(&p, '}'))
                return vte_error_set(err, VTE_ERR_FORMAT, "%s: malformed .npy header near byte %zu", path, p.i);
            break;
        }
    }
    hp_ws(&p);
    if (p.i != n) return vte_error_set(err, VTE_ERR_FORMAT, "%s: unexpected text after the .npy header dict", path);
    if (!have_descr || !have_fortran || !have_shape)
        return vte_error_set(err, VTE_ERR_FORMAT, "%s: .npy header lacks '%s'", path,
                             !have_descr     ? "descr"
                             : !have_fortran ? "fortran_order"
                                             : "shape");
    return VTE_OK;
}

/* ------------------------------------------------------------------ reading */

static vte_status read_exact(FILE *f, void *buf, size_t n, const char *path, vte_error *err) {
    if (n && fread(buf, 1, n, f) != n)
        return vte_error_set(err, ferror(f) ? VTE_ERR_IO : VTE_ERR_FORMAT, "%s: %s", path,
                             ferror(f) ? "read error" : "unexpected end of file");
    return VTE_OK;
}

void vte_npy_free(vte_npy *npy) {
    if (!npy) return;
    free(npy->data);
    memset(npy, 0, sizeof *npy);
}

vte_status vte_npy_read(const char *path, vte_npy *out, vte_error *err) {
    if (!path || !out) return vte_error_set(err, VTE_ERR_INVALID_ARGUMENT, "vte_npy_read: NULL argument");
    memset(out, 0, sizeof *out);
    FILE *f = vte_fopen_regular_file(path, err);
    if (!f) return err ? err->code : VTE_ERR_IO;
    vte_status s = VTE_OK;
    char *header = NULL;
    void *data = NULL;
    struct stat sb;
    if (fstat(fileno(f), &sb) != 0 || !S_ISREG(sb.st_mode)) {
        s = vte_error_set(err, VTE_ERR_IO, "%s: not a readable regular file", path);
        goto done;
    }
    unsigned long long file_size = (unsigned long long)sb.st_size;

    unsigned char pre[12];
    if (file_size < 10 || fread(pre, 1, 10, f) != 10 || memcmp(pre, NPY_MAGIC, NPY_MAGIC_LEN) != 0) {
        s = vte_error_set(err, VTE_ERR_FORMAT, "%s: not a .npy file (no \\x93NUMPY magic)", path);
        goto done;
    }
    int major = pre[6], minor = pre[7];
    size_t prefix, hlen;
    if (major == 1) {
        prefix = 10;
        hlen = (size_t)pre[8] | (size_t)pre[9] << 8;
    } else if (major == 2 || major == 3) {
        if ((s = read_exact(f, pre + 10, 2, path, err))) goto done;
        prefix = 12;
        hlen = (size_t)pre[8] | (size_t)pre[9] << 8 | (size_t)pre[10] << 16 | (size_t)pre[11] << 24;
    } else {
        s = vte_error_set(err, VTE_ERR_UNSUPPORTED, "%s: .npy format version %d.%d is not supported", path, major,
                          minor);
        goto done;
    }
    if (hlen > NPY_MAX_HEADER || prefix + hlen > file_size) {
        s = vte_error_set(err, VTE_ERR_FORMAT, "%s: .npy header length %zu runs past the end of the file (%llu bytes)",
                          path, hlen, file_size);
        goto done;
    }
    header = malloc(hlen + 1);
    if (!header) {
        s = vte_error_set(err, VTE_ERR_OUT_OF_MEMORY, "%s: out of memory", path);
        goto done;
    }
    if ((s = read_exact(f, header, hlen, path, err))) goto done;
    header[hlen] = '\0';
    if (memchr(header, '\0', hlen)) {
        s = vte_error_set(err, VTE_ERR_FORMAT, "%s: .npy header contains a NUL byte", path);
        goto done;
    }
    npy_header h;
    memset(&h, 0, sizeof h);
    if ((s = parse_header(path, header, hlen, &h, err))) goto done;

    size_t item, src_item;
    vte_npy_dtype dtype;
    if (strcmp(h.descr, "<f4") == 0) {
        dtype = VTE_NPY_F32, item = 4, src_item = 4;
    } else if (strcmp(h.descr, "<f8") == 0) {
        dtype = VTE_NPY_F32, item = 4, src_item = 8;
    } else if (strcmp(h.descr, "|u1") == 0 || strcmp(h.descr, "<u1") == 0 || strcmp(h.descr, ">u1") == 0) {
        dtype = VTE_NPY_U8, item = 1, src_item = 1;
    } else {
        s = vte_error_set(err, VTE_ERR_UNSUPPORTED, "%s: .npy dtype '%s' is not supported (only '<f4', '<f8', '|u1')",
                          path, h.descr);
        goto done;
    }
    if (h.fortran_order) {
        s = vte_error_set(err, VTE_ERR_UNSUPPORTED, "%s: .npy array is in Fortran order; only C order is supported",
                          path);
        goto done;
    }
    size_t count = 1;
    for (int i = 0; i < h.rank; i++) {
        if (h.shape[i] != 0 && count > SIZE_MAX / 8 / (size_t)h.shape[i]) {
            s = vte_error_set(err, VTE_ERR_FORMAT, "%s: .npy shape overflows the element count", path);
            goto done;
        }
        count *= (size_t)h.shape[i];
    }
    char shape_text[256];
    format_shape(shape_text, sizeof shape_text, h.rank, h.shape);
    unsigned long long need = (unsigned long long)count * src_item;
    unsigned long long have = file_size - prefix - hlen;
    if (have < need) {
        s = vte_error_set(err, VTE_ERR_FORMAT,
                          "%s: truncated: the data is %llu bytes, but shape %s of '%s' needs %llu bytes", path, have,
                          shape_text, h.descr, need);
        goto done;
    }
    if (have > need) {
        s = vte_error_set(err, VTE_ERR_FORMAT, "%s: %llu unexpected bytes after the %llu bytes of array data", path,
                          have - need, need);
        goto done;
    }
    data = malloc(count ? count * item : 1);
    if (!data) {
        s = vte_error_set(err, VTE_ERR_OUT_OF_MEMORY, "%s: out of memory for %zu elements", path, count);
        goto done;
    }
    if (src_item == item) {
        if ((s = read_exact(f, data, count * item, path, err))) goto done;
        if (item == 4 && !vte_host_is_little_endian()) {
            unsigned char *b = data;
            for (size_t i = 0; i < count; i++) {
                unsigned char t0 = b[4 * i], t1 = b[4 * i + 1];
                b[4 * i] = b[4 * i + 3];
                b[4 * i + 1] = b[4 * i + 2];
                b[4 * i + 2] = t1;
                b[4 * i + 3] = t0;
            }
        }
    } else { /* <f8 -> float32, in chunks */
        unsigned char chunk[8 * 4096];
        float *dst = data;
        for (size_t done_n = 0; done_n < count;) {
            size_t k = count - done_n < 4096 ? count - done_n : 4096;
            if ((s = read_exact(f, chunk, k * 8, path, err))) goto done;
            for (size_t i = 0; i < k; i++) {
                uint64_t bits = 0;
                for (int j = 7; j >= 0; j--) bits = bits << 8 | chunk[8 * i + (size_t)j];
                double d;
                memcpy(&d, &bits, sizeof d);
                dst[done_n + i] = (float)d;
            }
            done_n += k;
        }
    }
    out->dtype = dtype;
    out->rank = h.rank;
    memcpy(out->shape, h.shape, sizeof out->shape);
    out->count = count;
    out->data = data;
    data = NULL;

done:
    free(data);
    free(header);
    fclose(f);
    return s;
}

/* ------------------------------------------------------------------ writing */

vte_status vte_npy_write_f32(const char *path, const float *data, int rank, const int64_t *shape, vte_error *err) {
    if (!path) return vte_error_set(err, VTE_ERR_INVALID_ARGUMENT, "vte_npy_write_f32: path is NULL");
    if (rank < 0 || rank > VTE_NPY_MAX_RANK || (rank > 0 && !shape))
        return vte_error_set(err, VTE_ERR_INVALID_ARGUMENT, "%s: invalid rank %d (0 to %d)", path, rank,
                             VTE_NPY_MAX_RANK);
    size_t count = 1;
    for (int i = 0; i < rank; i++) {
        if (shape[i] < 0)
            return vte_error_set(err, VTE_ERR_INVALID_ARGUMENT, "%s: shape entry %d is negative", path, i);
        if (shape[i] != 0 && count > SIZE_MAX / 4 / (size_t)shape[i])
            return vte_error_set(err, VTE_ERR_INVALID_ARGUMENT, "%s: shape overflows the element count", path);
        count *= (size_t)shape[i];
    }
    if (count > 0 && !data) return vte_error_set(err, VTE_ERR_INVALID_ARGUMENT, "%s: data is NULL", path);

    /* Header: magic, version, length, dict padded with spaces so that the data starts at a multiple of 64. */
    char shape_text[256];
    format_shape(shape_text, sizeof shape_text, rank, shape);
    char dict[512];
    int dn = snprintf(dict, sizeof dict, "{'descr': '<f4', 'fortran_order': False, 'shape': %s, }", shape_text);
    if (dn < 0 || (size_t)dn >= sizeof dict)
        return vte_error_set(err, VTE_ERR_INVALID_ARGUMENT, "%s: shape too long for the header", path);
    size_t prefix = 10; /* version 1.0: the header length fits in 16 bits */
    size_t hlen = (size_t)dn + 1;
    size_t total = (prefix + hlen + 63) / 64 * 64;
    unsigned char head[640];
    memcpy(head, NPY_MAGIC, NPY_MAGIC_LEN);
    head[6] = 1;
    head[7] = 0;
    size_t header_bytes = total - prefix;
    head[8] = (unsigned char)(header_bytes & 0xff);
    head[9] = (unsigned char)(header_bytes >> 8);
    memcpy(head + prefix, dict, (size_t)dn);
    memset(head + prefix + dn, ' ', total - prefix - (size_t)dn - 1);
    head[total - 1] = '\n';

    vte_atomic_file file;
    vte_status s = vte_atomic_file_open(&file, path, err);
    if (s != VTE_OK) return s;
    int ok = fwrite(head, 1, total, file.stream) == total;
    if (vte_host_is_little_endian()) {
        ok = ok && fwrite(data, sizeof(float), count, file.stream) == count;
    } else {
        unsigned char chunk[4 * 4096];
        for (size_t done_n = 0; ok && done_n < count;) {
            size_t k = count - done_n < 4096 ? count - done_n : 4096;
            for (size_t i = 0; i < k; i++) {
                uint32_t bits;
                memcpy(&bits, &data[done_n + i], sizeof bits);
                for (int j = 0; j < 4; j++) chunk[4 * i + (size_t)j] = (unsigned char)(bits >> (8 * j));
            }
            ok = fwrite(chunk, 1, k * 4, file.stream) == k * 4;
            done_n += k;
        }
    }
    if (!ok) {
        s = vte_error_set(err, VTE_ERR_IO, "%s: cannot write %s: %s", path, file.temp_path, strerror(errno));
        vte_atomic_file_abort(&file);
        return s;
    }
    return vte_atomic_file_commit(&file, err);
}
