/* Where a model is: a folder, or a Hugging Face hub id found in the local Hugging Face cache, as transformers
 * and huggingface_hub lay it out: <cache>/models--ORG--NAME/refs/main holds the revision (a commit hash) and
 * <cache>/models--ORG--NAME/snapshots/<revision>/ the files (links into blobs/). The cache is $HF_HUB_CACHE, else
 * $HF_HOME/hub, else ~/.cache/huggingface/hub (huggingface_hub's own order). */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "util/error.h"
#include "util/fileio.h"

static int is_folder(const char *path) {
    struct stat info;
    return stat(path, &info) == 0 && S_ISDIR(info.st_mode);
}

/* ORG/NAME with the characters the hub allows (letters, digits, '-', '_', '.'), neither part starting with '.'. */
static int looks_like_hub_id(const char *spec) {
    const char *slash = strchr(spec, '/');
    if (!slash || strchr(slash + 1, '/') || slash == spec || !slash[1] || spec[0] == '.' || slash[1] == '.')
        return 0;
    for (const char *p = spec; *p; p++)
        if (p != slash && !isalnum((unsigned char)*p) && *p != '-' && *p != '_' && *p != '.') return 0;
    return 1;
}

/* The hub cache folder, or "" when no variable gives one. */
static void hub_cache(char *out, size_t size) {
    const char *cache = getenv("HF_HUB_CACHE"), *home = getenv("HF_HOME"), *user = getenv("HOME");
    out[0] = '\0';
    if (cache && *cache) snprintf(out, size, "%s", cache);
    else if (home && *home) snprintf(out, size, "%s/hub", home);
    else if (user && *user) snprintf(out, size, "%s/.cache/huggingface/hub", user);
}

/* The revision refs/main names, trimmed; 0 when the file cannot be read or is empty. */
static int read_revision(const char *repo, char *revision, size_t size) {
    char path[4600];
    snprintf(path, sizeof path, "%s/refs/main", repo);
    vte_error ignored = {0};
    FILE *f = vte_fopen_regular_file(path, &ignored); /* never a FIFO: it would block */
    if (!f) return 0;
    size_t n = fread(revision, 1, size - 1, f);
    fclose(f);
    while (n > 0 && isspace((unsigned char)revision[n - 1])) n--;
    revision[n] = '\0';
    return n > 0 && !strchr(revision, '/');
}

/* The only snapshot of a repository without refs/main (a cache copied by hand); 0 when there is not exactly one. */
static int only_snapshot(const char *repo, char *revision, size_t size) {
    char path[4600];
    snprintf(path, sizeof path, "%s/snapshots", repo);
    DIR *d = opendir(path);
    if (!d) return 0;
    int count = 0;
    for (struct dirent *e; (e = readdir(d));)
        if (e->d_name[0] != '.' && count++ == 0) snprintf(revision, size, "%s", e->d_name);
    closedir(d);
    return count == 1;
}

vte_status vte_model_locate(const char *spec, char *dir, size_t size, vte_error *err) {
    if (!spec || !*spec || !dir || size == 0)
        return vte_error_set(err, VTE_ERR_INVALID_ARGUMENT, "vte_model_locate: a model and an output buffer are needed");
    if (is_folder(spec) || !looks_like_hub_id(spec)) {
        /* A folder, or a path that is not a folder: vte_model_load says what is wrong with it. */
        if ((size_t)snprintf(dir, size, "%s", spec) >= size)
            return vte_error_set(err, VTE_ERR_INVALID_ARGUMENT, "%s: path too long", spec);
        return VTE_OK;
    }
    char cache[4096], repo[4400], revision[256];
    hub_cache(cache, sizeof cache);
    const char *slash = strchr(spec, '/');
    snprintf(repo, sizeof repo, "%s/models--%.*s--%s", cache, (int)(slash - spec), spec, slash + 1);
    if (!cache[0] || !is_folder(repo))
        return vte_error_set(err, VTE_ERR_IO,
                             "%s: no such model folder, and no copy of the Hugging Face model '%s' in the local cache "
                             "(%s); fetch it with `tools/fetch-model.sh %s --cache` (or, with Python, "
                             "ViTForImageClassification.from_pretrained(\"%s\")) on a machine with internet access",
                             spec, spec, cache[0] ? repo : "no cache folder: set HF_HUB_CACHE or HOME", spec, spec);
    if (!read_revision(repo, revision, sizeof revision) && !only_snapshot(repo, revision, sizeof revision))
        return vte_error_set(err, VTE_ERR_FORMAT, "%s: %s has no refs/main naming the revision to use", spec, repo);
    if ((size_t)snprintf(dir, size, "%s/snapshots/%s", repo, revision) >= size)
        return vte_error_set(err, VTE_ERR_INVALID_ARGUMENT, "%s: cache path too long", spec);
    if (!is_folder(dir))
        return vte_error_set(err, VTE_ERR_FORMAT, "%s: the cache names revision %s, but %s is missing (%s)", spec,
                             revision, dir, strerror(errno));
    return VTE_OK;
}
