#include "cli/summary.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cli/cli.h"
#include "util/array.h"
#include "util/fileio.h"

cli_record *cli_summary_add(cli_summary *s, const char *image) {
    cli_record *grown = vte_array_grow(s->records, &s->capacity, s->count, sizeof *grown, 64);
    if (!grown) return NULL;
    s->records = grown;
    cli_record *r = &s->records[s->count++];
    memset(r, 0, sizeof *r);
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

static char *to_json(const cli_summary *s, const vte_model *model, int topk) {
    json_t *images = json_array();
    for (size_t i = 0; i < s->count; i++) {
        const cli_record *r = &s->records[i];
        json_t *item = json_pack("{s:s}", "image", r->image);
        if (r->error) {
            json_object_set_new(item, "status", json_string("failed"));
            json_object_set_new(item, "error", json_string(r->error));
        } else {
            json_object_set_new(item, "status", json_string("ok"));
            json_t *top = json_array();
            for (int k = 0; k < r->top_count && k < topk; k++)
                json_array_append_new(top, json_pack("{s:i, s:s, s:f, s:f}", "id", r->top[k].class_id, "label",
                                                     vte_model_label(model, r->top[k].class_id), "logit",
                                                     (double)r->top[k].logit, "prob", (double)r->top[k].prob));
            json_object_set_new(item, "top", top);
            json_t *files = json_array();
            for (int f = 0; f < r->file_count; f++) json_array_append_new(files, json_string(r->files[f]));
            json_object_set_new(item, "files", files);
            json_object_set_new(item, "times_ms", json_pack("{s:f, s:f, s:f}", "forward", r->forward_ms, "backward",
                                                            r->backward_ms, "explanation", r->explain_ms));
        }
        json_array_append_new(images, item);
    }
    json_t *root = json_pack("{s:o}", "images", images);
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

static void write_csv(FILE *f, const cli_summary *s, const vte_model *model, int topk) {
    fputs("image,status,error", f);
    for (int k = 1; k <= topk; k++) fprintf(f, ",top%d_id,top%d_label,top%d_prob", k, k, k);
    fputs(",files,forward_ms,backward_ms,explanation_ms\n", f);
    char number[64];
    for (size_t i = 0; i < s->count; i++) {
        const cli_record *r = &s->records[i];
        cli_csv_field(f, r->image, 0);
        cli_csv_field(f, r->error ? "failed" : "ok", 0);
        cli_csv_field(f, r->error ? r->error : "", 0);
        for (int k = 0; k < topk; k++) {
            if (!r->error && k < r->top_count) {
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
        if (r->error) {
            fputs(",,\n", f);
        } else {
            fprintf(f, "%.3f,%.3f,%.3f\n", r->forward_ms, r->backward_ms, r->explain_ms);
        }
    }
}

int cli_summary_write(const cli_summary *s, const vte_model *model, int topk, const char *path) {
    vte_atomic_file file;
    vte_error err = {0};
    if (vte_atomic_file_open(&file, path, &err) != VTE_OK) {
        cli_error("cannot write the summary: %s", err.message);
        return -1;
    }
    if (strcasecmp(extension(path), ".json") == 0) {
        char *text = to_json(s, model, topk);
        if (!text) {
            vte_atomic_file_abort(&file);
            cli_error("%s: cannot write the summary: out of memory", path);
            return -1;
        }
        fputs(text, file.stream);
        fputc('\n', file.stream);
        free(text);
    } else {
        write_csv(file.stream, s, model, topk);
    }
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
    }
    free(s->records);
    memset(s, 0, sizeof *s);
}
