#include "cli/summary.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cli/cli.h"
#include "util/array.h"
#include "util/fileio.h"

cli_record *cli_summary_add(cli_summary *s, size_t index, const char *image) {
    cli_record *grown = vte_array_grow(s->records, &s->capacity, s->count, sizeof *grown, 64);
    if (!grown) return NULL;
    s->records = grown;
    cli_record *r = &s->records[s->count++];
    memset(r, 0, sizeof *r);
    r->index = index;
    r->image = strdup(image);
    return r;
}

void cli_record_set_error(cli_record *r, const char *message) {
    free(r->error);
    r->error = strdup(message);
}

void cli_record_add_file(cli_record *r, const char *path) {
    char **grown = realloc(r->files, (size_t)(r->file_count + 1) * sizeof *grown);
    if (!grown) return;
    r->files = grown;
    r->files[r->file_count++] = strdup(path);
}

static const char *extension(const char *path) {
    const char *dot = strrchr(path, '.');
    return dot ? dot : "";
}

int cli_summary_format_known(const char *path) {
    return strcasecmp(extension(path), ".json") == 0 || strcasecmp(extension(path), ".csv") == 0;
}

/* ---------------------------------------------------------------- text for JSON */

/* The length of the UTF-8 character at `s` (1 to 4), or 0 when the bytes there are not one: a stray continuation
 * byte, a cut sequence, an overlong form, a surrogate or a code point above U+10FFFF (what jansson refuses). */
static int utf8_character_length(const unsigned char *s) {
    int length;
    unsigned int code;
    if (s[0] < 0x80) return 1;
    if (s[0] >= 0xC2 && s[0] <= 0xDF) {
        length = 2;
        code = s[0] & 0x1Fu;
    } else if (s[0] >= 0xE0 && s[0] <= 0xEF) {
        length = 3;
        code = s[0] & 0x0Fu;
    } else if (s[0] >= 0xF0 && s[0] <= 0xF4) {
        length = 4;
        code = s[0] & 0x07u;
    } else {
        return 0;
    }
    for (int i = 1; i < length; i++) { /* the terminating NUL stops a cut sequence here */
        if ((s[i] & 0xC0) != 0x80) return 0;
        code = code << 6 | (s[i] & 0x3Fu);
    }
    const int overlong = (length == 3 && code < 0x800) || (length == 4 && code < 0x10000);
    if (overlong || code > 0x10FFFF || (code >= 0xD800 && code <= 0xDFFF)) return 0;
    return length;
}

static int is_utf8(const char *text) {
    for (const unsigned char *p = (const unsigned char *)text; *p;) {
        const int length = utf8_character_length(p);
        if (!length) return 0;
        p += length;
    }
    return 1;
}

/* A JSON string of `text` with each byte outside a valid UTF-8 character replaced by U+FFFD; NULL when out of
 * memory. */
static json_t *repaired_json_string(const char *text) {
    char *repaired = malloc(3 * strlen(text) + 1);
    if (!repaired) return NULL;
    size_t used = 0;
    for (const unsigned char *p = (const unsigned char *)text; *p;) {
        const int length = utf8_character_length(p);
        if (length) {
            memcpy(repaired + used, p, (size_t)length);
            used += (size_t)length;
            p += length;
        } else {
            memcpy(repaired + used, "\xEF\xBF\xBD", 3);
            used += 3;
            p++;
        }
    }
    repaired[used] = '\0';
    json_t *string = json_string(repaired);
    free(repaired);
    return string;
}

/* A JSON string of `text`'s bytes in lowercase hex; NULL when out of memory. */
static json_t *hex_json_string(const char *text) {
    static const char digits[] = "0123456789abcdef";
    const size_t length = strlen(text);
    char *hex = malloc(2 * length + 1);
    if (!hex) return NULL;
    for (size_t i = 0; i < length; i++) {
        hex[2 * i] = digits[(unsigned char)text[i] >> 4];
        hex[2 * i + 1] = digits[(unsigned char)text[i] & 0x0F];
    }
    hex[2 * length] = '\0';
    json_t *string = json_string(hex);
    free(hex);
    return string;
}

static void set_bytes_field(json_t *object, const char *key, json_t *value) {
    char bytes_key[256];
    snprintf(bytes_key, sizeof bytes_key, "%s_bytes", key);
    json_object_set_new(object, bytes_key, value);
}

void cli_json_set_text(json_t *object, const char *key, const char *text) {
    if (!text) {
        json_object_set_new(object, key, json_null());
        return;
    }
    if (is_utf8(text)) {
        json_object_set_new(object, key, json_string(text));
        return;
    }
    json_object_set_new(object, key, repaired_json_string(text));
    set_bytes_field(object, key, hex_json_string(text));
}

void cli_json_set_texts(json_t *object, const char *key, char *const *texts, int count) {
    json_t *list = json_array();
    int all_utf8 = 1;
    for (int i = 0; i < count; i++) {
        const int valid = is_utf8(texts[i]);
        all_utf8 &= valid;
        json_array_append_new(list, valid ? json_string(texts[i]) : repaired_json_string(texts[i]));
    }
    json_object_set_new(object, key, list);
    if (all_utf8) return;
    json_t *bytes = json_array();
    for (int i = 0; i < count; i++) json_array_append_new(bytes, hex_json_string(texts[i]));
    set_bytes_field(object, key, bytes);
}

/* ---------------------------------------------------------------- the summary */

static json_t *record_json(const cli_record *r, const vte_model *model, int topk) {
    if (r->earlier) return json_deep_copy(r->earlier);
    json_t *item = json_object();
    cli_json_set_text(item, "image", r->image);
    json_object_set_new(item, "index", json_integer((json_int_t)r->index));
    if (r->error) {
        json_object_set_new(item, "status", json_string("failed"));
        cli_json_set_text(item, "error", r->error);
    } else if (r->skipped) {
        json_object_set_new(item, "status", json_string("skipped"));
        cli_json_set_texts(item, "files", r->files, r->file_count);
    } else {
        json_object_set_new(item, "status", json_string("ok"));
        json_t *top = json_array();
        for (int k = 0; k < r->top_count && k < topk; k++)
            json_array_append_new(top, json_pack("{s:i, s:s, s:f, s:f}", "id", r->top[k].class_id, "label",
                                                 vte_model_label(model, r->top[k].class_id), "logit",
                                                 (double)r->top[k].logit, "prob", (double)r->top[k].prob));
        json_object_set_new(item, "top", top);
        cli_json_set_texts(item, "files", r->files, r->file_count);
        json_object_set_new(item, "times_ms", json_pack("{s:f, s:f, s:f}", "forward", r->forward_ms, "backward",
                                                        r->backward_ms, "explanation", r->explain_ms));
    }
    return item;
}

static char *to_json(const cli_summary *s, const cli_record *const *order, const vte_model *model, int topk) {
    json_t *images = json_array();
    for (size_t i = 0; i < s->count; i++) json_array_append_new(images, record_json(order[i], model, topk));
    json_t *root = s->header ? json_deep_copy(s->header) : json_object();
    json_object_set_new(root, "images", images);
    char *text = json_dumps(root, JSON_INDENT(2) | JSON_REAL_PRECISION(6));
    json_decref(root);
    return text;
}

/* CSV field with RFC 4180 quoting. */
void cli_csv_field(FILE *f, const char *text, int last) {
    int quote = strpbrk(text, ",\"\n\r") != NULL;
    if (quote) {
        fputc('"', f);
        for (const char *p = text; *p; p++) {
            if (*p == '"') fputc('"', f);
            fputc(*p, f);
        }
        fputc('"', f);
    } else {
        fputs(text, f);
    }
    fputc(last ? '\n' : ',', f);
}

static void write_csv(FILE *f, const cli_summary *s, const cli_record *const *order, const vte_model *model,
                      int topk) {
    fputs("image,status,error", f);
    for (int k = 1; k <= topk; k++) fprintf(f, ",top%d_id,top%d_label,top%d_prob", k, k, k);
    fputs(",files,forward_ms,backward_ms,explanation_ms\n", f);
    char number[64];
    for (size_t i = 0; i < s->count; i++) {
        const cli_record *r = order[i];
        cli_csv_field(f, r->image, 0);
        cli_csv_field(f, r->error ? "failed" : r->skipped ? "skipped" : "ok", 0);
        cli_csv_field(f, r->error ? r->error : "", 0);
        for (int k = 0; k < topk; k++) {
            if (!r->error && !r->skipped && k < r->top_count) {
                snprintf(number, sizeof number, "%d", r->top[k].class_id);
                cli_csv_field(f, number, 0);
                cli_csv_field(f, vte_model_label(model, r->top[k].class_id), 0);
                snprintf(number, sizeof number, "%.6f", (double)r->top[k].prob);
                cli_csv_field(f, number, 0);
            } else {
                fputs(",,,", f);
            }
        }
        size_t length = 1;
        for (int j = 0; j < r->file_count; j++) length += strlen(r->files[j]) + 1;
        char *files = calloc(length, 1);
        for (int j = 0; files && j < r->file_count; j++) {
            if (j) strcat(files, ";");
            strcat(files, r->files[j]);
        }
        cli_csv_field(f, files ? files : "", 0);
        free(files);
        if (r->error || r->skipped) {
            fputs(",,\n", f);
        } else {
            fprintf(f, "%.3f,%.3f,%.3f\n", r->forward_ms, r->backward_ms, r->explain_ms);
        }
    }
}

/* By input index; records of one index (none in one run) keep the order they were added in. */
static int compare_records(const void *a, const void *b) {
    const cli_record *x = *(const cli_record *const *)a, *y = *(const cli_record *const *)b;
    if (x->index != y->index) return x->index < y->index ? -1 : 1;
    return (x > y) - (x < y);
}

int cli_summary_write(const cli_summary *s, const vte_model *model, int topk, const char *path) {
    /* A batch records its failures as it loads and its images after the device pass: the file follows the list. */
    const cli_record **order = malloc((s->count ? s->count : 1) * sizeof *order);
    if (!order) {
        cli_error("%s: cannot write the summary: out of memory", path);
        return -1;
    }
    for (size_t i = 0; i < s->count; i++) order[i] = &s->records[i];
    if (s->count) qsort(order, s->count, sizeof *order, compare_records);
    vte_atomic_file file;
    vte_error err = {0};
    if (vte_atomic_file_open(&file, path, &err) != VTE_OK) {
        free(order);
        cli_error("cannot write the summary: %s", err.message);
        return -1;
    }
    if (strcasecmp(extension(path), ".json") == 0) {
        char *text = to_json(s, order, model, topk);
        if (!text) {
            free(order);
            vte_atomic_file_abort(&file);
            cli_error("%s: cannot write the summary: out of memory", path);
            return -1;
        }
        fputs(text, file.stream);
        fputc('\n', file.stream);
        free(text);
    } else {
        write_csv(file.stream, s, order, model, topk);
    }
    free(order);
    /* A failed write leaves the stream's error flag set, which the commit reports. */
    if (vte_atomic_file_commit(&file, &err) != VTE_OK) {
        cli_error("cannot write the summary: %s", err.message);
        return -1;
    }
    return 0;
}

void cli_summary_free(cli_summary *s) {
    for (size_t i = 0; i < s->count; i++) {
        cli_record *r = &s->records[i];
        free(r->image);
        free(r->error);
        for (int f = 0; f < r->file_count; f++) free(r->files[f]);
        free(r->files);
        json_decref(r->earlier);
    }
    free(s->records);
    json_decref(s->header);
    memset(s, 0, sizeof *s);
}

/* ---------------------------------------------------------------- an earlier run's summary */

json_t **cli_summary_earlier(const char *path, const json_t *header, size_t inputs, json_t **document, char *why,
                             size_t why_size) {
    *document = NULL;
    why[0] = '\0';
    if (strcasecmp(extension(path), ".json") != 0) {
        snprintf(why, why_size, "%s is not JSON", path);
        return NULL;
    }
    FILE *probe = fopen(path, "rb");
    if (!probe) return NULL; /* no earlier run, or none that got as far as its summary */
    fclose(probe);
    json_error_t jerr;
    json_t *root = json_load_file(path, 0, &jerr);
    if (!root) {
        snprintf(why, why_size, "%s: not JSON (line %d: %s)", path, jerr.line, jerr.text);
        return NULL;
    }
    /* Every field of the header but the shard: a different model, method or input list made other files. */
    const char *key;
    json_t *value;
    json_object_foreach((json_t *)header, key, value) {
        if (strcmp(key, "shard") == 0 || json_equal(value, json_object_get(root, key))) continue;
        snprintf(why, why_size, "%s comes from a different run (its \"%s\" differs)", path, key);
        json_decref(root);
        return NULL;
    }
    json_t **by_index = calloc(inputs ? inputs : 1, sizeof *by_index);
    if (!by_index) {
        snprintf(why, why_size, "out of memory");
        json_decref(root);
        return NULL;
    }
    size_t i;
    json_t *record;
    json_array_foreach(json_object_get(root, "images"), i, record) {
        const json_t *index = json_object_get(record, "index");
        if (json_is_integer(index) && json_integer_value(index) >= 0 && (size_t)json_integer_value(index) < inputs)
            by_index[json_integer_value(index)] = record;
    }
    *document = root;
    return by_index;
}
