#define _XOPEN_SOURCE 700 /* realpath */
/* Expanding the command line's inputs: files as given, folders to their images (.jpg, .jpeg, .png in any
 * case, sorted by name; with --recursive, sub-folders too). */
#include <dirent.h>
#include <limits.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "cli/inputs.h"
#include "util/array.h"

static int push(cli_inputs *list, const char *path) {
    char **grown = vte_array_grow(list->paths, &list->capacity, list->count, sizeof *grown, 64);
    if (!grown) return 0;
    list->paths = grown;
    size_t n = strlen(path) + 1;
    if (!(list->paths[list->count] = malloc(n))) return 0;
    memcpy(list->paths[list->count++], path, n);
    return 1;
}

int cli_is_image_name(const char *name) {
    const char *dot = strrchr(name, '.');
    return dot && (strcasecmp(dot, ".jpg") == 0 || strcasecmp(dot, ".jpeg") == 0 || strcasecmp(dot, ".png") == 0);
}

static int compare_names(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

/* The real folders one scan has entered, by device and inode: a symbolic link back to a folder above (or two
 * folders linking to each other) would otherwise make --recursive go round for ever. */
typedef struct visited_folders {
    struct {
        dev_t device;
        ino_t inode;
    } *items;
    size_t count, capacity;
} visited_folders;

/* 1 when the folder is new (and now recorded), 0 when it was entered before, -1 when out of memory. */
static int visit(visited_folders *visited, const struct stat *info) {
    for (size_t i = 0; i < visited->count; i++)
        if (visited->items[i].device == info->st_dev && visited->items[i].inode == info->st_ino) return 0;
    void *grown = vte_array_grow(visited->items, &visited->capacity, visited->count, sizeof *visited->items, 16);
    if (!grown) return -1;
    visited->items = grown;
    visited->items[visited->count].device = info->st_dev;
    visited->items[visited->count++].inode = info->st_ino;
    return 1;
}

/* Adds the images of `dir` (sorted), and with `recursive` those of its sub-folders after them, except the
 * folder `skip` (the output folder: a run must not explain its own pictures) and folders already entered. */
static int add_folder(cli_inputs *list, const char *dir, int recursive, const char *skip, visited_folders *visited) {
    DIR *d = opendir(dir);
    if (!d) {
        fprintf(stderr, "vitexplain: %s: cannot read folder: %s\n", dir, strerror(errno));
        return -1;
    }
    char **names = NULL;
    size_t count = 0, capacity = 0;
    struct dirent *entry;
    int ok = 1;
    while ((entry = readdir(d))) {
        if (entry->d_name[0] == '.') continue; /* hidden files, ".", ".." and our own temporaries */
        char **grown = vte_array_grow(names, &capacity, count, sizeof *grown, 64);
        if (!grown) {
            ok = 0;
            break;
        }
        names = grown;
        if (!(names[count] = strdup(entry->d_name))) {
            ok = 0;
            break;
        }
        count++;
    }
    closedir(d);
    if (count) qsort(names, count, sizeof *names, compare_names);
    char path[4096];
    /* Files first, then sub-folders, each in name order. */
    for (int pass = 0; pass < 2 && ok; pass++)
        for (size_t i = 0; i < count && ok; i++) {
            snprintf(path, sizeof path, "%s%s%s", dir, dir[strlen(dir) - 1] == '/' ? "" : "/", names[i]);
            struct stat info;
            if (stat(path, &info) != 0) {
                /* A link to nothing with an image's name is an input that cannot be read: listed, so that loading
                 * reports it like any other, rather than skipped without a word. */
                if (pass == 0 && cli_is_image_name(names[i]) && lstat(path, &info) == 0) ok = push(list, path);
                continue;
            }
            if (pass == 0 && !S_ISDIR(info.st_mode) && cli_is_image_name(names[i])) ok = push(list, path);
            if (pass == 1 && S_ISDIR(info.st_mode) && recursive) {
                char resolved[PATH_MAX];
                if (skip && realpath(path, resolved) && strcmp(resolved, skip) == 0) continue;
                const int fresh = visit(visited, &info);
                if (fresh == 0)
                    fprintf(stderr, "vitexplain: %s: skipped, a link to a folder this scan has already entered\n", path);
                else
                    ok = fresh > 0 && add_folder(list, path, 1, skip, visited) >= 0;
            }
        }
    for (size_t i = 0; i < count; i++) free(names[i]);
    free(names);
    return ok ? 0 : -1;
}

int cli_collect_inputs(char **args, int count, int recursive, const char *output_dir, cli_inputs *list) {
    memset(list, 0, sizeof *list);
    int problems = 0;
    char skip[PATH_MAX];
    const char *skip_dir = output_dir && realpath(output_dir, skip) ? skip : NULL;
    for (int i = 0; i < count; i++) {
        struct stat info;
        if (stat(args[i], &info) == 0 && S_ISDIR(info.st_mode)) {
            size_t before = list->count;
            visited_folders visited = {0};
            const int failed =
                visit(&visited, &info) < 0 || add_folder(list, args[i], recursive, skip_dir, &visited) < 0;
            free(visited.items);
            if (failed) problems++;
            else if (list->count == before)
                fprintf(stderr, "vitexplain: %s: no .jpg, .jpeg or .png images in this folder%s\n", args[i],
                        recursive ? " or below" : "");
        } else if (!push(list, args[i])) { /* a file, or a path that does not exist: reported when loaded */
            problems++;
        }
    }
    return problems;
}

void cli_inputs_free(cli_inputs *list) {
    for (size_t i = 0; i < list->count; i++) free(list->paths[i]);
    free(list->paths);
    memset(list, 0, sizeof *list);
}
