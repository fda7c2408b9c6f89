/* walk.c - lists the files of a work tree to index (see walk.h).
 *
 * Tracked files come from git's index (one read of .git/index); untracked
 * ones from a walk of the work tree that asks libgit2's ignore rules
 * (.gitignore files, .git/info/exclude, core.excludesFile) only about paths
 * git does not track, and only once for a directory holding no tracked file,
 * so that an ignored build/ or node_modules/ costs one question. Nested
 * repositories and submodules are not entered.
 *
 * The witness. Starting libgit2 (5 ms: its TLS back end decodes the
 * system's certificates) and walking the tree were half of a search over an
 * unchanged repository. A full listing therefore also records what its
 * result depended on: the (path, mode, stage) list of git's index, by hash;
 * the stat of every directory it read (taken before reading it: a file
 * created or removed there since changes the directory's mtime and ctime),
 * of the directories it left as nested repositories, of each .gitignore, of
 * the configuration and exclude files libgit2 reads; and the untracked files
 * it found. walk_list_fast makes the same list from a witness that still
 * holds, reading .git/index itself (gitindex.c), with no libgit2 at all.
 * Like git's racily clean files, a stat recorded less than RACY_NS after
 * its mtime or ctime could hide a change made within the same timestamp
 * tick: no witness is kept then, and the next listing is a full one. */
#include "walk.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "gitindex.h"
#include "gitlib.h"
#include "sb.h"

/* see "The witness" above, and update.c's rule for files */
#define RACY_NS 2000000000LL
#define WITNESS_MAGIC "octet-walk 1"

struct walk {
    git_repository *repo; /* NULL with no_git, and until walk_git opened it */
    bool no_git;
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

/* The git directory a .git file at PATH names ("gitdir: DIR", relative to
 * the work tree ROOT or absolute), as a real path into OUT (PATH_MAX
 * bytes): 0, or -1. */
static int read_gitfile(const char *path, const char *root, char *out)
{
    char line[PATH_MAX + 16], joined[PATH_MAX * 2];
    FILE *f = fopen(path, "r");
    bool got = f && fgets(line, sizeof line, f) && !strncmp(line, "gitdir: ", 8);
    if (f)
        fclose(f);
    if (!got)
        return -1;
    line[strcspn(line, "\r\n")] = '\0';
    const char *gd = line + 8;
    if (gd[0] != '/') {
        snprintf(joined, sizeof joined, "%s/%s", root, gd);
        gd = joined;
    }
    return realpath(gd, out) ? 0 : -1;
}

/* The repository containing REAL as git's discovery would find it in the
 * usual case: the nearest ancestor with a .git directory, on the same file
 * system; with GITFILE, also one whose .git is a file naming the git
 * directory (a worktree, a submodule checkout). Anything else (a .git file
 * without GITFILE, a mount point on the way, no .git at all) is left to
 * libgit2: -1. */
static int find_light(const char *real, bool gitfile, char **root, char **gitdir)
{
    char p[PATH_MAX];
    struct stat st;
    if (snprintf(p, sizeof p, "%s", real) >= (int)sizeof p || stat(p, &st))
        return -1;
    dev_t dev = st.st_dev;
    for (;;) {
        char g[PATH_MAX + 8];
        size_t n = strlen(p);
        /* inside a git directory, or one that may be a bare repository:
         * libgit2's rules decide */
        const char *base = strrchr(p, '/');
        snprintf(g, sizeof g, "%s%sHEAD", p, n > 1 ? "/" : "");
        if ((base && !strcmp(base + 1, ".git")) || lstat(g, &st) == 0)
            return -1;
        snprintf(g, sizeof g, "%s%s.git", p, n > 1 ? "/" : "");
        if (lstat(g, &st) == 0) {
            char named[PATH_MAX];
            if (!S_ISDIR(st.st_mode) && !(gitfile && S_ISREG(st.st_mode) && read_gitfile(g, p, named) == 0))
                return -1;
            *root = strdup(p);
            *gitdir = strdup(S_ISDIR(st.st_mode) ? g : named);
            if (!*root || !*gitdir) {
                free(*root);
                free(*gitdir);
                *root = *gitdir = NULL;
                return -1;
            }
            return 0;
        }
        if (errno != ENOENT || n <= 1)
            return -1;
        char *slash = strrchr(p, '/');
        if (slash == p)
            p[1] = '\0';
        else
            *slash = '\0';
        if (stat(p, &st) || st.st_dev != dev)
            return -1;
    }
}

int walk_git(walk_t *w, bool adopt, errmsg_t *err)
{
    if (w->repo || w->no_git)
        return 0;
    int rc = gitlib_init(err);
    if (rc)
        return rc;
    const char *dir = w->root;
    git_repository *repo = NULL;
    int g = git_repository_open_ext(&repo, dir, 0, NULL);
    if (g == GIT_ENOTFOUND)
        return errmsg_set(err, OCT_ENOTFOUND,
                          "%s is not inside a git repository (use --no-git to index it as a plain directory)",
                          dir);
    if (g < 0)
        return git_fail(err, OCT_EIO, dir);
    if (git_repository_is_bare(repo)) {
        git_repository_free(repo);
        return errmsg_set(err, OCT_EUNSUPPORTED, "%s: a bare repository has no work tree to index", dir);
    }
    char *root = strip_slash(git_repository_workdir(repo));
    char *gitdir = strip_slash(git_repository_path(repo));
    if (!root || !gitdir) {
        free(root);
        free(gitdir);
        git_repository_free(repo);
        return errmsg_set(err, OCT_ENOMEM, "out of memory");
    }
    /* the index's place was chosen from the root and git directory found
     * at open: a repository that is now another one cannot be listed into it */
    if (!adopt && (strcmp(root, w->root) || strcmp(gitdir, w->gitdir))) {
        rc = errmsg_set(err, OCT_EIO, "%s: the repository changed while octet had it open (now %s)",
                            w->root, root);
        free(root);
        free(gitdir);
        git_repository_free(repo);
        return rc;
    }
    free(w->root);
    free(w->gitdir);
    w->root = root;
    w->gitdir = gitdir;
    w->repo = repo;
    return 0;
}

int walk_find(const char *dir, bool no_git, char **root, char **gitdir)
{
    char real[PATH_MAX];
    struct stat st;
    *root = *gitdir = NULL;
    if (!realpath(dir, real) || stat(real, &st) != 0 || !S_ISDIR(st.st_mode))
        return -1;
    if (no_git)
        return (*root = strdup(real)) ? 0 : -1;
    return find_light(real, true, root, gitdir);
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
    w->no_git = no_git;
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
    if (find_light(real, false, &w->root, &w->gitdir) == 0) {
        *out = w;
        return 0;
    }
    /* libgit2 finds it, from DIR itself (its messages name what was given) */
    w->root = strdup(real);
    if (!w->root) {
        rc = errmsg_set(err, OCT_ENOMEM, "out of memory");
        goto fail;
    }
    rc = walk_git(w, true, err);
    if (rc)
        goto fail;
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
    if (w->repo) /* else libgit2 may never have been loaded */
        git_repository_free(w->repo);
    free(w->root);
    free(w->gitdir);
    free(w);
}

const char *walk_root(const walk_t *w) { return w->root; }
bool walk_found_light(const walk_t *w) { return !w->no_git && !w->repo; }
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

/* ---- the witness ---------------------------------------------------------
 * A sequence of NUL-terminated records: WITNESS_MAGIC; "R" root, "G" git
 * directory, "P" the left-out prefix; "H" the hash of the index's list;
 * "S<ino> <mtime> <ctime> <size> <path>": a file or directory that must
 * still have this stat; "A<path>": one that must still be absent;
 * "U<path>": an untracked file of the listing. */

typedef struct witness {
    sbuf_t b;
    bool bad;     /* something the witness cannot vouch for: keep none */
    int64_t t0;   /* the wall clock when the listing started */
} witness_t;

static int64_t stat_ns(struct timespec t) { return (int64_t)t.tv_sec * 1000000000LL + t.tv_nsec; }

static void rec_str(sbuf_t *b, char kind, const char *s)
{
    sb_addn(b, &kind, 1);
    sb_addn(b, s, strlen(s) + 1);
}

/* Record ST (of PATH), or mark the witness bad when it changed too recently
 * to be trusted. */
static void rec_stat(witness_t *wt, const char *path, const struct stat *st)
{
    if (stat_ns(st->st_mtim) > wt->t0 - RACY_NS || stat_ns(st->st_ctim) > wt->t0 - RACY_NS)
        wt->bad = true;
    char num[96];
    snprintf(num, sizeof num, "S%" PRIu64 " %" PRId64 " %" PRId64 " %" PRId64 " ", (uint64_t)st->st_ino,
             stat_ns(st->st_mtim), stat_ns(st->st_ctim), (int64_t)st->st_size);
    sb_add(&wt->b, num);
    sb_addn(&wt->b, path, strlen(path) + 1);
}

/* A file libgit2 reads the ignore rules or the configuration from: its stat,
 * or that it is absent. A configuration that includes other files is not
 * followed: no witness then. */
static void rec_source(witness_t *wt, const char *path, bool config)
{
    struct stat st;
    if (lstat(path, &st) != 0) {
        if (errno == ENOENT)
            rec_str(&wt->b, 'A', path);
        else
            wt->bad = true;
        return;
    }
    rec_stat(wt, path, &st);
    if (!config || wt->bad)
        return;
    FILE *f = fopen(path, "r");
    if (!f) {
        wt->bad = true;
        return;
    }
    char line[4096];
    while (fgets(line, sizeof line, f))
        for (char *c = line; *c; c++)
            if (!strncasecmp(c, "include", 7))
                wt->bad = true;
    fclose(f);
}

/* The files besides .gitignore that decide what libgit2 ignores: the
 * repository's configuration and info/exclude, the user's and the system's
 * configuration, the default core.excludesFile and the one configured. */
static void rec_sources(witness_t *wt, walk_t *w)
{
    const char *home = getenv("HOME"), *xdg = getenv("XDG_CONFIG_HOME");
    char p[PATH_MAX * 2];
    if (!home || !*home) {
        wt->bad = true;
        return;
    }
    snprintf(p, sizeof p, "%s/config", w->gitdir);
    rec_source(wt, p, true);
    snprintf(p, sizeof p, "%s/info/exclude", w->gitdir);
    rec_source(wt, p, false);
    snprintf(p, sizeof p, "%s/.gitconfig", home);
    rec_source(wt, p, true);
    if (xdg && *xdg)
        snprintf(p, sizeof p, "%s/git/config", xdg);
    else
        snprintf(p, sizeof p, "%s/.config/git/config", home);
    rec_source(wt, p, true);
    if (xdg && *xdg)
        snprintf(p, sizeof p, "%s/git/ignore", xdg);
    else
        snprintf(p, sizeof p, "%s/.config/git/ignore", home);
    rec_source(wt, p, false);
    rec_source(wt, "/etc/gitconfig", true);
    git_config *cfg = NULL;
    git_buf ex = {0};
    if (git_repository_config_snapshot(&cfg, w->repo) < 0) {
        wt->bad = true;
        return;
    }
    int g = git_config_get_path(&ex, cfg, "core.excludesfile");
    if (g == 0)
        rec_source(wt, ex.ptr, false);
    else if (g != GIT_ENOTFOUND)
        wt->bad = true;
    git_buf_dispose(&ex);
    git_config_free(cfg);
}

/* The hash of the index's list as the listing reads it: each path once,
 * with its kind and stage. */
typedef struct ihash {
    uint64_t h;
} ihash_t;

static void ihash_add(ihash_t *ih, const char *path, uint32_t mode, unsigned stage)
{
    char kind = mode == GIT_FILEMODE_COMMIT ? 'c' : mode == GIT_FILEMODE_LINK ? 'l' : 'f';
    unsigned char head[2] = {(unsigned char)kind, (unsigned char)('0' + stage)};
    for (int i = 0; i < 2; i++) {
        ih->h ^= head[i];
        ih->h *= 0x100000001b3ULL;
    }
    for (const unsigned char *c = (const unsigned char *)path;; c++) {
        ih->h ^= *c;
        ih->h *= 0x100000001b3ULL;
        if (!*c)
            break;
    }
}

#define IHASH_INIT {0xcbf29ce484222325ULL}

/* .git/index read by gitindex.c, and the hash of its list. */
static int index_read(const walk_t *w, gitindex_t *gi, uint64_t *h)
{
    char p[PATH_MAX + 8];
    snprintf(p, sizeof p, "%s/index", w->gitdir);
    int rc = gitindex_read(p, gi);
    if (rc)
        return rc;
    ihash_t ih = IHASH_INIT;
    for (size_t i = 0; i < gi->n; i++)
        if (i == 0 || strcmp(gi->v[i].path, gi->v[i - 1].path))
            ihash_add(&ih, gi->v[i].path, gi->v[i].mode, gi->v[i].stage);
    *h = ih.h;
    return 0;
}

static int64_t wall_clock_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return stat_ns(ts);
}

/* ---- the listing --------------------------------------------------------- */

typedef struct walker {
    walk_t *w;
    const char *skip_prefix;
    const atomic_int *cancel;
    walk_list_t tracked;    /* from git's index, sorted */
    walk_list_t submodules; /* gitlink paths, sorted */
    walk_list_t *out;
    witness_t *wt;          /* NULL with no_git */
    char path[PATH_MAX];    /* relative path being walked */
    errmsg_t *err;
} walker_t;

static bool skipped(const char *skip_prefix, const char *rel)
{
    return skip_prefix && !strncmp(rel, skip_prefix, strlen(skip_prefix));
}

static int walk_dir(walker_t *k, size_t plen)
{
    if (k->cancel && atomic_load(k->cancel))
        return errmsg_set(k->err, OCT_ECANCELED, "update canceled");
    char abs[PATH_MAX * 2];
    snprintf(abs, sizeof abs, "%s%s%s", k->w->root, plen ? "/" : "", k->path);
    DIR *d = opendir(abs);
    if (!d) {
        if (k->wt)
            k->wt->bad = true;
        return 0; /* unreadable or vanished: nothing to index there */
    }
    struct stat dst;
    if (k->wt) {
        /* before reading it: what is created or removed later shows */
        if (fstat(dirfd(d), &dst) == 0)
            rec_stat(k->wt, abs, &dst);
        else
            k->wt->bad = true;
    }
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
        if (skipped(k->skip_prefix, k->path))
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
        if (k->wt && !strcmp(name, ".gitignore")) {
            /* its rules decide what the walk lists, tracked or not */
            struct stat st;
            char gi[PATH_MAX * 2 + 16];
            snprintf(gi, sizeof gi, "%s/%s", abs, name);
            if (fstatat(dirfd(d), name, &st, AT_SYMLINK_NOFOLLOW) == 0)
                rec_stat(k->wt, gi, &st);
            else
                k->wt->bad = true;
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
            if (access(dotgit, F_OK) == 0) {
                /* its .git removed, it would be walked: that shows in its stat */
                struct stat st;
                if (fstatat(dirfd(d), name, &st, AT_SYMLINK_NOFOLLOW) == 0) {
                    char sub[PATH_MAX * 2 + 8];
                    snprintf(sub, sizeof sub, "%s/%s", k->w->root, k->path);
                    rec_stat(k->wt, sub, &st);
                } else {
                    k->wt->bad = true;
                }
                goto next;
            }
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
            rec_str(&k->wt->b, 'U', k->path);
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
              sbuf_t *witness, errmsg_t *err)
{
    witness_t wt = {.t0 = w->no_git ? 0 : wall_clock_ns()};
    walker_t k = {.w = w, .skip_prefix = skip_prefix, .cancel = cancel, .out = out, .err = err};
    git_index *idx = NULL;
    int rc = 0;
    memset(out, 0, sizeof *out);
    witness->n = 0;
    if (!w->no_git) {
        rc = walk_git(w, false, err);
        if (rc)
            return rc;
        k.wt = &wt;
        sb_addn(&wt.b, WITNESS_MAGIC, sizeof WITNESS_MAGIC);
        rec_str(&wt.b, 'R', w->root);
        rec_str(&wt.b, 'G', w->gitdir);
        rec_str(&wt.b, 'P', skip_prefix ? skip_prefix : "");
        rec_sources(&wt, w);
        /* what gitindex.c reads now must be what libgit2 reads next */
        uint64_t mine = 0;
        gitindex_t gi;
        if (index_read(w, &gi, &mine))
            wt.bad = true;
        gitindex_free(&gi);
        if (git_repository_index(&idx, w->repo) < 0 || git_index_read(idx, 0) < 0) {
            rc = git_fail(err, OCT_EIO, "reading git's index");
            goto fail;
        }
        size_t n = git_index_entrycount(idx);
        const char *prev = NULL;
        ihash_t ih = IHASH_INIT;
        for (size_t i = 0; i < n; i++) {
            const git_index_entry *e = git_index_get_byindex(idx, i);
            if (!e || (prev && !strcmp(prev, e->path)))
                continue; /* conflict stages repeat the path */
            prev = e->path;
            ihash_add(&ih, e->path, e->mode, (unsigned)GIT_INDEX_ENTRY_STAGE(e));
            if (GIT_INDEX_ENTRY_STAGE(e))
                wt.bad = true; /* a conflict: walk_list_fast lists stage 0 only */
            walk_list_t *dst = &k.tracked;
            if (e->mode == GIT_FILEMODE_COMMIT) {
                dst = &k.submodules;
                out->skip_other++;
            } else if (e->mode == GIT_FILEMODE_LINK) {
                out->skip_other++; /* listed as tracked so that the walk passes it by */
            } else if (skipped(skip_prefix, e->path)) {
                continue;
            }
            if (list_add(dst, e->path, strlen(e->path)) != 0)
                goto oom;
        }
        if (ih.h != mine)
            wt.bad = true;
        char hx[24];
        snprintf(hx, sizeof hx, "%016" PRIx64, ih.h);
        rec_str(&wt.b, 'H', hx);
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
    if (k.wt && !wt.bad && !wt.b.oom)
        sb_addn(witness, wt.b.s, wt.b.n);
    sb_free(&wt.b);
    walk_list_free(&k.tracked);
    walk_list_free(&k.submodules);
    if (idx) /* with no_git libgit2 may never have been loaded */
        git_index_free(idx);
    return 0;
oom:
    rc = errmsg_set(err, OCT_ENOMEM, "out of memory listing files");
fail:
    sb_free(&wt.b);
    walk_list_free(&k.tracked);
    walk_list_free(&k.submodules);
    if (idx)
        git_index_free(idx);
    walk_list_free(out);
    return rc;
}

/* The next record of a witness, or NULL at its end. */
static const char *rec_next(const char **p, const char *end)
{
    if (*p >= end)
        return NULL;
    const char *r = *p, *nul = memchr(r, '\0', (size_t)(end - r));
    if (!nul)
        return NULL;
    *p = nul + 1;
    return r;
}

bool walk_witness_root(const walk_t *w, const void *witness, size_t n)
{
    const char *p = witness, *end = p + n, *r;
    bool magic = false, root = false, gitdir = false;
    while ((r = rec_next(&p, end))) {
        if (!strcmp(r, WITNESS_MAGIC))
            magic = true;
        else if (r[0] == 'R')
            root = w->root && !strcmp(r + 1, w->root);
        else if (r[0] == 'G')
            gitdir = w->gitdir && !strcmp(r + 1, w->gitdir);
    }
    return magic && root && gitdir;
}

int walk_list_fast(walk_t *w, const char *skip_prefix, const void *witness, size_t n, walk_list_t *out)
{
    const char *p = witness, *end = p + n, *r;
    memset(out, 0, sizeof *out);
    if (w->no_git || !walk_witness_root(w, witness, n))
        return 1;
    gitindex_t gi = {0};
    uint64_t h = 0;
    int rc = index_read(w, &gi, &h);
    if (rc) {
        rc = rc == OCT_ENOMEM ? rc : 1; /* unreadable, or not for this reader: libgit2's turn */
        goto done;
    }
    rc = 1;
    bool prefix = false, hash = false;
    while ((r = rec_next(&p, end))) {
        switch (r[0]) {
        case 'P':
            prefix = !strcmp(r + 1, skip_prefix ? skip_prefix : "");
            if (!prefix)
                goto done;
            break;
        case 'A': {
            struct stat st;
            if (lstat(r + 1, &st) == 0 || errno != ENOENT)
                goto done;
            break;
        }
        case 'S': {
            uint64_t ino;
            int64_t mt, ct, sz;
            int used = 0;
            struct stat st;
            if (sscanf(r + 1, "%" SCNu64 " %" SCNd64 " %" SCNd64 " %" SCNd64 " %n", &ino, &mt, &ct, &sz, &used) != 4 ||
                !used || lstat(r + 1 + used, &st) != 0 || (uint64_t)st.st_ino != ino || stat_ns(st.st_mtim) != mt ||
                stat_ns(st.st_ctim) != ct || (int64_t)st.st_size != sz)
                goto done;
            break;
        }
        case 'H': {
            char hx[24];
            snprintf(hx, sizeof hx, "%016" PRIx64, h);
            hash = !strcmp(r + 1, hx);
            if (!hash)
                goto done;
            break;
        }
        case 'U':
            if (list_add(out, r + 1, strlen(r + 1)) != 0) {
                rc = OCT_ENOMEM;
                goto done;
            }
            break;
        }
    }
    if (!prefix || !hash)
        goto done;
    /* the tracked files, as walk_list takes them from the index (a witness
     * is only kept without conflicts: every path is at stage 0) */
    for (size_t i = 0; i < gi.n; i++) {
        const gitindex_entry_t *e = &gi.v[i];
        if (i && !strcmp(e->path, gi.v[i - 1].path))
            continue;
        if (e->mode == GIT_FILEMODE_COMMIT || e->mode == GIT_FILEMODE_LINK) {
            out->skip_other++;
            continue;
        }
        if (skipped(skip_prefix, e->path))
            continue;
        if (list_add(out, e->path, strlen(e->path)) != 0) {
            rc = OCT_ENOMEM;
            goto done;
        }
    }
    /* git's order is strcmp's: sorting is needed only with untracked files */
    for (size_t i = 1; i < out->n; i++)
        if (strcmp(out->paths[i - 1], out->paths[i]) > 0) {
            qsort(out->paths, out->n, sizeof(char *), cmp_str);
            break;
        }
    rc = 0;
done:
    gitindex_free(&gi);
    if (rc)
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
