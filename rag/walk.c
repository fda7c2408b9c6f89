/* walk.c - lists the files of a work tree to index (see walk.h).
 *
 * Tracked files come from git's index (one read of .git/index); untracked
 * ones from a walk of the work tree that asks libgit2's ignore rules
 * (.gitignore files, .git/info/exclude, core.excludesFile) only about paths
 * git does not track, and only once for a directory holding no tracked file,
 * so that an ignored build/ or node_modules/ costs one question. Nested
 * repositories and submodules are not entered. */
#include "walk.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <git2.h>

struct walk {
    git_repository *repo; /* NULL with no_git */
    char *root;
    char *gitdir;
};

static char *strip_slash(const char *p)
{
    char *s = strdup(p);
    if (s) {
        size_t n = strlen(s);
        while (n > 1 && s[n - 1] == '/')
            s[--n] = '\0';
    }
    return s;
}

static int git_fail(errmsg_t *err, int code, const char *what)
{
    const git_error *e = git_error_last();
    return errmsg_set(err, code, "%s: %s", what, e && e->message ? e->message : "libgit2 error");
}

int walk_open(walk_t **out, const char *dir, bool no_git, errmsg_t *err)
{
    *out = NULL;
    char real[PATH_MAX];
    if (!realpath(dir, real))
        return errmsg_set(err, OCT_ENOTFOUND, "%s: %s", dir, strerror(errno));
    struct stat st;
    if (stat(real, &st) != 0 || !S_ISDIR(st.st_mode))
        return errmsg_set(err, OCT_EINVAL, "%s: not a directory", dir);
    walk_t *w = calloc(1, sizeof *w);
    if (!w)
        return errmsg_set(err, OCT_ENOMEM, "out of memory");
    int rc = 0;
    if (no_git) {
        w->root = strdup(real);
        if (!w->root) {
            rc = errmsg_set(err, OCT_ENOMEM, "out of memory");
            goto fail;
        }
        *out = w;
        return 0;
    }
    int g = git_repository_open_ext(&w->repo, real, 0, NULL);
    if (g == GIT_ENOTFOUND) {
        rc = errmsg_set(err, OCT_ENOTFOUND,
                        "%s is not inside a git repository (use --no-git to index it as a plain directory)",
                        dir);
        goto fail;
    }
    if (g < 0) {
        rc = git_fail(err, OCT_EIO, dir);
        goto fail;
    }
    if (git_repository_is_bare(w->repo)) {
        rc = errmsg_set(err, OCT_EUNSUPPORTED, "%s: a bare repository has no work tree to index", dir);
        goto fail;
    }
    w->root = strip_slash(git_repository_workdir(w->repo));
    w->gitdir = strip_slash(git_repository_path(w->repo));
    if (!w->root || !w->gitdir) {
        rc = errmsg_set(err, OCT_ENOMEM, "out of memory");
        goto fail;
    }
    *out = w;
    return 0;
fail:
    walk_close(w);
    return rc;
}

void walk_close(walk_t *w)
{
    if (!w)
        return;
    git_repository_free(w->repo);
    free(w->root);
    free(w->gitdir);
    free(w);
}

const char *walk_root(const walk_t *w) { return w->root; }
const char *walk_gitdir(const walk_t *w) { return w->gitdir; }

static int list_add(walk_list_t *l, const char *p, size_t n)
{
    if (l->n == l->cap) {
        size_t ncap = l->cap ? l->cap * 2 : 256;
        char **np = realloc(l->paths, ncap * sizeof *np);
        if (!np)
            return OCT_ENOMEM;
        l->paths = np;
        l->cap = ncap;
    }
    char *s = malloc(n + 1);
    if (!s)
        return OCT_ENOMEM;
    memcpy(s, p, n);
    s[n] = '\0';
    l->paths[l->n++] = s;
    return 0;
}

void walk_list_free(walk_list_t *l)
{
    for (size_t i = 0; i < l->n; i++)
        free(l->paths[i]);
    free(l->paths);
    l->paths = NULL;
    l->n = l->cap = 0;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Sorted string array helpers. */
static bool sorted_has(char **v, size_t n, const char *s)
{
    return n && bsearch(&s, v, n, sizeof *v, cmp_str) != NULL;
}

/* True when some string of V starts with PREFIX (V sorted). */
static bool sorted_has_prefix(char **v, size_t n, const char *prefix)
{
    size_t lo = 0, hi = n, pl = strlen(prefix);
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (strcmp(v[mid], prefix) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < n && !strncmp(v[lo], prefix, pl);
}

typedef struct walker {
    walk_t *w;
    const char *skip_prefix;
    const atomic_int *cancel;
    walk_list_t tracked;    /* from git's index, sorted */
    walk_list_t submodules; /* gitlink paths, sorted */
    walk_list_t *out;
    char path[PATH_MAX];    /* relative path being walked */
    errmsg_t *err;
} walker_t;

static bool skipped(const walker_t *k, const char *rel)
{
    return k->skip_prefix && !strncmp(rel, k->skip_prefix, strlen(k->skip_prefix));
}

static int walk_dir(walker_t *k, size_t plen)
{
    if (k->cancel && atomic_load(k->cancel))
        return errmsg_set(k->err, OCT_ECANCELED, "update canceled");
    char abs[PATH_MAX * 2];
    snprintf(abs, sizeof abs, "%s%s%s", k->w->root, plen ? "/" : "", k->path);
    DIR *d = opendir(abs);
    if (!d)
        return 0; /* unreadable or vanished: nothing to index there */
    int rc = 0;
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        const char *name = de->d_name;
        if (!strcmp(name, ".") || !strcmp(name, "..") || !strcmp(name, ".git"))
            continue;
        size_t nl = strlen(name);
        if (plen + nl + 2 >= sizeof k->path)
            continue;
        size_t np = plen;
        if (plen)
            k->path[np++] = '/';
        memcpy(k->path + np, name, nl + 1);
        np += nl;
        if (skipped(k, k->path))
            goto next;
        bool is_dir;
        if (de->d_type == DT_DIR) {
            is_dir = true;
        } else if (de->d_type == DT_UNKNOWN) {
            struct stat st;
            if (fstatat(dirfd(d), name, &st, AT_SYMLINK_NOFOLLOW) != 0)
                goto next;
            is_dir = S_ISDIR(st.st_mode);
        } else {
            is_dir = false;
        }
        if (is_dir) {
            if (!k->w->repo) {
                if (!plen && !strcmp(name, ".octet"))
                    goto next;
                rc = walk_dir(k, np);
                goto next;
            }
            /* submodules and nested repositories are other repositories */
            if (sorted_has(k->submodules.paths, k->submodules.n, k->path))
                goto next;
            char dotgit[PATH_MAX * 2 + 8];
            snprintf(dotgit, sizeof dotgit, "%s/%s/.git", k->w->root, k->path);
            if (access(dotgit, F_OK) == 0)
                goto next;
            k->path[np] = '/';
            k->path[np + 1] = '\0';
            bool has_tracked = sorted_has_prefix(k->tracked.paths, k->tracked.n, k->path);
            k->path[np] = '\0';
            if (!has_tracked) {
                int ignored = 0;
                if (git_ignore_path_is_ignored(&ignored, k->w->repo, k->path) == 0 && ignored)
                    goto next;
            }
            rc = walk_dir(k, np);
            goto next;
        }
        if (k->w->repo) {
            if (sorted_has(k->tracked.paths, k->tracked.n, k->path))
                goto next; /* listed from the index already */
            int ignored = 0;
            if (git_ignore_path_is_ignored(&ignored, k->w->repo, k->path) == 0 && ignored)
                goto next;
        }
        if (list_add(k->out, k->path, np) != 0)
            rc = errmsg_set(k->err, OCT_ENOMEM, "out of memory listing files");
    next:
        k->path[plen] = '\0';
        if (rc)
            break;
    }
    closedir(d);
    return rc;
}

int walk_list(walk_t *w, const char *skip_prefix, const atomic_int *cancel, walk_list_t *out,
              errmsg_t *err)
{
    walker_t k = {.w = w, .skip_prefix = skip_prefix, .cancel = cancel, .out = out, .err = err};
    git_index *idx = NULL;
    int rc = 0;
    memset(out, 0, sizeof *out);
    if (w->repo) {
        if (git_repository_index(&idx, w->repo) < 0 || git_index_read(idx, 0) < 0) {
            rc = git_fail(err, OCT_EIO, "reading git's index");
            goto fail;
        }
        size_t n = git_index_entrycount(idx);
        const char *prev = NULL;
        for (size_t i = 0; i < n; i++) {
            const git_index_entry *e = git_index_get_byindex(idx, i);
            if (!e || (prev && !strcmp(prev, e->path)))
                continue; /* conflict stages repeat the path */
            prev = e->path;
            walk_list_t *dst = &k.tracked;
            if (e->mode == GIT_FILEMODE_COMMIT) {
                dst = &k.submodules;
                out->skip_other++;
            } else if (e->mode == GIT_FILEMODE_LINK) {
                out->skip_other++; /* listed as tracked so that the walk passes it by */
            } else if (skipped(&k, e->path)) {
                continue;
            }
            if (list_add(dst, e->path, strlen(e->path)) != 0)
                goto oom;
        }
        /* the index is sorted by path already, but conflicts and case rules
         * can disturb strcmp order */
        if (k.tracked.n > 1)
            qsort(k.tracked.paths, k.tracked.n, sizeof(char *), cmp_str);
        if (k.submodules.n > 1)
            qsort(k.submodules.paths, k.submodules.n, sizeof(char *), cmp_str);
    }
    rc = walk_dir(&k, 0);
    if (rc)
        goto fail;
    /* tracked files (symlinks excluded) join the untracked ones found */
    for (size_t i = 0; i < k.tracked.n; i++) {
        const char *p = k.tracked.paths[i];
        const git_index_entry *e = idx ? git_index_get_bypath(idx, p, 0) : NULL;
        if (e && e->mode == GIT_FILEMODE_LINK)
            continue;
        if (list_add(out, p, strlen(p)) != 0)
            goto oom;
    }
    if (out->n > 1)
        qsort(out->paths, out->n, sizeof(char *), cmp_str);
    walk_list_free(&k.tracked);
    walk_list_free(&k.submodules);
    git_index_free(idx);
    return 0;
oom:
    rc = errmsg_set(err, OCT_ENOMEM, "out of memory listing files");
fail:
    walk_list_free(&k.tracked);
    walk_list_free(&k.submodules);
    git_index_free(idx);
    walk_list_free(out);
    return rc;
}

/* ---- exclude patterns -------------------------------------------------- */

int walk_excludes_add(walk_excludes_t *ex, const char *pat, size_t len)
{
    while (len > 0 && (pat[0] == ' ' || pat[0] == '\t')) {
        pat++;
        len--;
    }
    while (len > 0 && (pat[len - 1] == ' ' || pat[len - 1] == '\t' || pat[len - 1] == '\r'))
        len--;
    if (len == 0 || pat[0] == '#' || (len == 1 && pat[0] == '/'))
        return 0;
    if (ex->n == ex->cap) {
        size_t ncap = ex->cap ? ex->cap * 2 : 8;
        char **np = realloc(ex->pats, ncap * sizeof *np);
        if (!np)
            return OCT_ENOMEM;
        ex->pats = np;
        ex->cap = ncap;
    }
    char *s = malloc(len + 1);
    if (!s)
        return OCT_ENOMEM;
    memcpy(s, pat, len);
    s[len] = '\0';
    ex->pats[ex->n++] = s;
    return 0;
}

int walk_excludes_load(walk_excludes_t *ex, const char *path, errmsg_t *err)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return 0;
    char line[1024];
    int rc = 0;
    while (fgets(line, sizeof line, f)) {
        size_t n = strcspn(line, "\n");
        if (walk_excludes_add(ex, line, n) != 0) {
            rc = errmsg_set(err, OCT_ENOMEM, "out of memory reading %s", path);
            break;
        }
    }
    fclose(f);
    return rc;
}

void walk_excludes_free(walk_excludes_t *ex)
{
    for (size_t i = 0; i < ex->n; i++)
        free(ex->pats[i]);
    free(ex->pats);
    ex->pats = NULL;
    ex->n = ex->cap = 0;
}

/* PAT: a leading '/' or a '/' inside anchors it at the root; a trailing '/'
 * makes it match directories only. */
static bool match_one(const char *pat, const char *path)
{
    bool anchored = pat[0] == '/';
    if (anchored)
        pat++;
    size_t pl = strlen(pat);
    bool dir_only = pl > 0 && pat[pl - 1] == '/';
    char buf[PATH_MAX];
    if (pl >= sizeof buf)
        return false;
    memcpy(buf, pat, pl + 1);
    if (dir_only)
        buf[pl - 1] = '\0';
    pat = buf;
    if (strchr(pat, '/'))
        anchored = true;
    if (!anchored) {
        /* any component; a directory-only pattern never matches the file name */
        const char *c = path;
        for (;;) {
            const char *slash = strchr(c, '/');
            size_t cl = slash ? (size_t)(slash - c) : strlen(c);
            char comp[NAME_MAX + 1];
            if (cl <= NAME_MAX && (slash || !dir_only)) {
                memcpy(comp, c, cl);
                comp[cl] = '\0';
                if (fnmatch(pat, comp, 0) == 0)
                    return true;
            }
            if (!slash)
                return false;
            c = slash + 1;
        }
    }
    /* from the root: the path or one of its parent directories */
    char pre[PATH_MAX];
    size_t n = strlen(path);
    if (n >= sizeof pre)
        return false;
    memcpy(pre, path, n + 1);
    if (!dir_only && fnmatch(pat, pre, FNM_PATHNAME) == 0)
        return true;
    for (size_t i = n; i > 0; i--) {
        if (pre[i - 1] != '/')
            continue;
        pre[i - 1] = '\0';
        if (fnmatch(pat, pre, FNM_PATHNAME) == 0)
            return true;
    }
    return false;
}

bool walk_excluded(const walk_excludes_t *ex, const char *path)
{
    for (size_t i = 0; i < ex->n; i++)
        if (match_one(ex->pats[i], path))
            return true;
    return false;
}
