/* Classes named on the command line (labels.h). */
#include "cli/labels.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cli/cli.h"

int cli_class_id(const vte_model *model, const char *text) {
    const int labels = vte_model_get_config(model)->num_labels;
    int id = vte_model_find_label(model, text);
    char *end = NULL;
    long number = strtol(text, &end, 10);
    if (id < 0 && *text && !*end && number >= 0 && number < labels) id = (int)number;
    return id;
}

/* Splits one CSV line into at most `max` fields in place (quotes: "a, b" and "" for a quote); spaces around an
 * unquoted field are dropped. Returns the number of fields, or -1 for an unclosed quote. */
static int split_csv(char *line, char **fields, int max) {
    int count = 0;
    char *p = line;
    for (;;) {
        while (*p == ' ' || *p == '\t') p++;
        char *out = p, *start = p;
        if (*p == '"') {
            p++;
            for (;;) {
                if (!*p) return -1;
                if (*p == '"' && p[1] == '"') {
                    *out++ = '"';
                    p += 2;
                } else if (*p == '"') {
                    p++;
                    break;
                } else {
                    *out++ = *p++;
                }
            }
            while (*p == ' ' || *p == '\t') p++;
        } else {
            while (*p && *p != ',') *out++ = *p++;
            while (out > start && (out[-1] == ' ' || out[-1] == '\t')) out--;
        }
        const char next = *p;
        *out = '\0';
        if (count < max) fields[count] = start;
        count++;
        if (next != ',') return count;
        p++;
    }
}

static int add_row(cli_labels *labels, const char *image, const char *class_text, int line) {
    cli_label_row *grown = realloc(labels->rows, (labels->count + 1) * sizeof *grown);
    if (!grown) return 0;
    labels->rows = grown;
    cli_label_row *row = &labels->rows[labels->count];
    memset(row, 0, sizeof *row);
    row->image = strdup(image);
    row->class_text = strdup(class_text);
    row->line = line;
    row->class_id = -1;
    if (!row->image || !row->class_text) {
        free(row->image);
        free(row->class_text);
        return 0;
    }
    labels->count++;
    return 1;
}

/* One line of the file; 0 after reporting. */
static int read_row(cli_labels *labels, char *text, int line) {
    text[strcspn(text, "\r\n")] = '\0';
    char *fields[3];
    int count = split_csv(text, fields, 3);
    if (count == 1 && fields[0][0] == '\0') return 1; /* a blank line */
    if (count != 2 || !fields[0][0] || !fields[1][0]) {
        cli_error("evaluate: --labels %s:%d: expected `image,class`%s", labels->path, line,
                  count < 0 ? " (a quote is not closed)" : "");
        return 0;
    }
    if (line == 1 && strcasecmp(fields[0], "image") == 0 && strcasecmp(fields[1], "class") == 0) return 1;
    for (size_t i = 0; i < labels->count; i++)
        if (strcmp(labels->rows[i].image, fields[0]) == 0) {
            cli_error("evaluate: --labels %s:%d: image '%s' is given on line %d already", labels->path, line, fields[0],
                      labels->rows[i].line);
            return 0;
        }
    if (!add_row(labels, fields[0], fields[1], line)) {
        cli_error("out of memory");
        return 0;
    }
    return 1;
}

int cli_labels_read(const char *path, cli_labels *labels) {
    memset(labels, 0, sizeof *labels);
    labels->path = path;
    FILE *f = fopen(path, "r");
    if (!f) {
        cli_error("evaluate: cannot read --labels %s: %s", path, strerror(errno));
        return 0;
    }
    char *text = NULL;
    size_t capacity = 0;
    int line = 0, ok = 1;
    while (ok && getline(&text, &capacity, f) >= 0) ok = read_row(labels, text, ++line);
    if (ok && ferror(f)) {
        cli_error("evaluate: cannot read --labels %s: %s", path, strerror(errno));
        ok = 0;
    }
    free(text);
    fclose(f);
    if (!ok) cli_labels_free(labels);
    return ok;
}

int cli_labels_resolve(cli_labels *labels, const vte_model *model) {
    for (size_t i = 0; i < labels->count; i++) {
        cli_label_row *row = &labels->rows[i];
        if ((row->class_id = cli_class_id(model, row->class_text)) < 0) {
            cli_error("evaluate: --labels %s:%d: unknown class '%s': neither an id from 0 to %d nor a label of the "
                      "model",
                      labels->path, row->line, row->class_text, vte_model_get_config(model)->num_labels - 1);
            return 0;
        }
    }
    return 1;
}

int cli_labels_find(cli_labels *labels, const char *input_path) {
    const char *slash = strrchr(input_path, '/');
    const char *name = slash ? slash + 1 : input_path;
    char stem[1024];
    cli_stem(input_path, stem, sizeof stem);
    const char *keys[3] = {input_path, name, stem};
    for (int k = 0; k < 3; k++)
        for (size_t i = 0; i < labels->count; i++)
            if (strcmp(labels->rows[i].image, keys[k]) == 0) {
                labels->rows[i].used = 1;
                return labels->rows[i].class_id;
            }
    return -1;
}

void cli_labels_free(cli_labels *labels) {
    for (size_t i = 0; i < labels->count; i++) {
        free(labels->rows[i].image);
        free(labels->rows[i].class_text);
    }
    free(labels->rows);
    labels->rows = NULL;
    labels->count = 0;
}
