/* watch.c - inotify tracking of a work tree (see watch.h). */
#include "watch.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

#include "rag_int.h"

/* What can change a listing or a file's content: entries created, deleted,
 * renamed, written, or their mode or times changed. */
#define WATCH_MASK                                                                                           \
    (IN_MODIFY | IN_ATTRIB | IN_CREATE | IN_DELETE | IN_DELETE_SELF | IN_MOVED_FROM | IN_MOVED_TO |          \
     IN_MOVE_SELF | IN_ONLYDIR | IN_DONT_FOLLOW | IN_EXCL_UNLINK)

typedef enum slot_kind {
    SLOT_TREE,   /* a directory of the work tree: its subdirectories are watched too */
    SLOT_GIT,    /* the git directory or its info/: every event counts */
    SLOT_NESTED, /* another repository's directory: only its .git counts */
} slot_kind_t;

typedef struct slot {
    char *path; /* NULL: no watch with this descriptor */
    slot_kind_t kind;
} slot_t;

struct rag_watch {
    int fd;
    bool no_git;
    char *root, *gitdir; /* gitdir NULL with no_git */
    char *db_dir;        /* the database's directory, and its file name: its own */
    char *db_base;       /* files there (-wal, .lock, .vec, .sock...) are not changes */
    int db_wd;
    slot_t *slots; /* by watch descriptor */
    size_t n_slots;
    bool dirty;
    char blind[256];
};

/* Watch PATH as KIND. 0; 1 when it is gone
 * or unreadable (then there is nothing to watch, nor to index); negative
 * when it cannot be watched, with the reason in w->blind. */
static int watch_dir(rag_watch_t *w, const char *path, slot_kind_t kind, int *wdp)
{
    int wd = inotify_add_watch(w->fd, path, WATCH_MASK);
    if (wd < 0) {
        if (errno == ENOENT || errno == ENOTDIR || errno == EACCES || errno == ELOOP)
            return 1;
        if (errno == ENOSPC)
            snprintf(w->blind, sizeof w->blind,
                     "%.120s: the limit of inotify watches is reached (sysctl fs.inotify.max_user_watches)", path);
        else
            snprintf(w->blind, sizeof w->blind, "%.120s: cannot watch: %s", path, strerror(errno));
        return errno == ENOSPC ? OCT_EUNSUPPORTED : OCT_EIO;
    }
    if ((size_t)wd >= w->n_slots) {
        size_t n = (size_t)wd * 2 + 16;
        slot_t *ns = realloc(w->slots, n * sizeof *ns);
        if (!ns) {
            snprintf(w->blind, sizeof w->blind, "out of memory");
            return OCT_ENOMEM;
        }
        memset(ns + w->n_slots, 0, (n - w->n_slots) * sizeof *ns);
        w->slots = ns;
        w->n_slots = n;
    }
    /* a directory moved within the tree keeps its descriptor: it gets its new path */
    char *p = strdup(path);
    if (!p) {
        snprintf(w->blind, sizeof w->blind, "out of memory");
        return OCT_ENOMEM;
    }
    free(w->slots[wd].path);
    w->slots[wd].path = p;
    w->slots[wd].kind = kind;
    if (w->db_dir && !strcmp(path, w->db_dir))
        w->db_wd = wd;
    if (wdp)
        *wdp = wd;
    return 0;
}

/* Watch PATH and the directories below it as the listing walks them: not
 * .git, nor (with no_git) the root's .octet; a nested repository's own
 * directory, not its contents. */
static int watch_tree(rag_watch_t *w, const char *path)
{
    int wd;
    int rc = watch_dir(w, path, SLOT_TREE, &wd);
    if (rc)
        return rc > 0 ? 0 : rc;
    bool is_root = !strcmp(path, w->root);
    DIR *d = opendir(path);
    if (!d)
        return 0; /* gone since, or unreadable: the listing cannot enter it either */
    char **subs = NULL;
    size_t n = 0, cap = 0;
    bool git = false;
    struct dirent *e;
    while ((e = readdir(d))) {
        const char *name = e->d_name;
        if (!strcmp(name, ".") || !strcmp(name, ".."))
            continue;
        if (!strcmp(name, ".git")) {
            git = true;
            continue;
        }
        bool dir = e->d_type == DT_DIR;
        if (e->d_type == DT_UNKNOWN) {
            struct stat st;
            dir = fstatat(dirfd(d), name, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISDIR(st.st_mode);
        }
        if (!dir || (w->no_git && is_root && !strcmp(name, ".octet")))
            continue;
        if (n == cap) {
            size_t nc = cap ? cap * 2 : 16;
            char **ns = realloc(subs, nc * sizeof *ns);
            if (!ns) {
                rc = OCT_ENOMEM;
                goto done;
            }
            subs = ns;
            cap = nc;
        }
        if (!(subs[n] = strdup(name))) {
            rc = OCT_ENOMEM;
            goto done;
        }
        n++;
    }
    closedir(d);
    d = NULL;
    if (git && !is_root && !w->no_git) {
        /* another repository: only its removal (of .git) would matter */
        w->slots[wd].kind = SLOT_NESTED;
        goto done;
    }
    char sub[PATH_MAX];
    for (size_t i = 0; i < n && !rc; i++) {
        if (snprintf(sub, sizeof sub, "%s/%s", path, subs[i]) >= (int)sizeof sub)
            continue; /* too long for the listing too */
        rc = watch_tree(w, sub);
    }
done:
    if (rc == OCT_ENOMEM)
        snprintf(w->blind, sizeof w->blind, "out of memory");
    if (d)
        closedir(d);
    for (size_t i = 0; i < n; i++)
        free(subs[i]);
    free(subs);
    return rc;
}

/* Everything: the work tree, the git directory and its info/. */
static int watch_all(rag_watch_t *w)
{
    int rc = watch_tree(w, w->root);
    if (!rc && w->gitdir) {
        char info[PATH_MAX];
        rc = watch_dir(w, w->gitdir, SLOT_GIT, NULL);
        if (rc > 0)
            rc = 0;
        snprintf(info, sizeof info, "%s/info", w->gitdir);
        if (!rc && watch_dir(w, info, SLOT_GIT, NULL) < 0)
            rc = OCT_EIO;
    }
    return rc;
}

int rag_watch_open(rag_watch_t **out, const rag_t *r, errmsg_t *err)
{
    *out = NULL;
    rag_watch_t *w = calloc(1, sizeof *w);
    if (!w)
        return errmsg_set(err, OCT_ENOMEM, "out of memory");
    w->db_wd = -1;
    w->fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
    int rc = 0;
    if (w->fd < 0) {
        rc = errmsg_set(err, OCT_EUNSUPPORTED, "inotify: %s", strerror(errno));
        goto fail;
    }
    const char *gd = walk_gitdir(r->walk);
    w->no_git = gd == NULL;
    w->root = strdup(walk_root(r->walk));
    w->gitdir = gd ? strdup(gd) : NULL;
    w->db_dir = strdup(r->db_path);
    if (!w->root || (gd && !w->gitdir) || !w->db_dir) {
        rc = errmsg_set(err, OCT_ENOMEM, "out of memory");
        goto fail;
    }
    char *slash = strrchr(w->db_dir, '/');
    if (slash) { /* db_path is absolute (db_place) */
        *slash = '\0';
        w->db_base = slash + 1;
    }
    rc = watch_all(w);
    if (rc) {
        rc = errmsg_set(err, rc == OCT_ENOMEM ? OCT_ENOMEM : OCT_EUNSUPPORTED, "%s", w->blind);
        goto fail;
    }
    *out = w;
    return 0;
fail:
    rag_watch_close(w);
    return rc;
}

void rag_watch_close(rag_watch_t *w)
{
    if (!w)
        return;
    if (w->fd >= 0)
        close(w->fd);
    for (size_t i = 0; i < w->n_slots; i++)
        free(w->slots[i].path);
    free(w->slots);
    free(w->root);
    free(w->gitdir);
    free(w->db_dir);
    free(w);
}

int rag_watch_fd(const rag_watch_t *w) { return w->fd; }

const char *rag_watch_blind(const rag_watch_t *w) { return w->blind; }

/* One event: it makes the tree dirty, and a new directory gets its watches. */
static void on_event(rag_watch_t *w, const struct inotify_event *ev, bool *rescan)
{
    if (ev->mask & IN_Q_OVERFLOW) {
        w->dirty = true;
        *rescan = true; /* directories made meanwhile are not watched yet */
        return;
    }
    if (ev->wd == w->db_wd && ev->len && w->db_base && !strncmp(ev->name, w->db_base, strlen(w->db_base)))
        return;
    if (ev->wd < 0 || (size_t)ev->wd >= w->n_slots || !w->slots[ev->wd].path) {
        w->dirty = true;
        return;
    }
    slot_t *s = &w->slots[ev->wd];
    bool git = ev->len && !strcmp(ev->name, ".git");
    if (s->kind == SLOT_NESTED && !git && !(ev->mask & (IN_IGNORED | IN_DELETE_SELF | IN_MOVE_SELF)))
        return;
    w->dirty = true;
    if (ev->mask & IN_IGNORED) {
        free(s->path);
        s->path = NULL;
        return;
    }
    if (!(ev->mask & IN_ISDIR) || !ev->len || w->blind[0])
        return;
    char path[PATH_MAX];
    if (snprintf(path, sizeof path, "%s/%s", s->path, ev->name) >= (int)sizeof path)
        return;
    bool made = ev->mask & (IN_CREATE | IN_MOVED_TO);
    if (s->kind == SLOT_TREE && made && !git &&
        !(w->no_git && !strcmp(ev->name, ".octet") && !strcmp(s->path, w->root)))
        watch_tree(w, path);
    else if (s->kind == SLOT_GIT && made && !strcmp(ev->name, "info"))
        watch_dir(w, path, SLOT_GIT, NULL);
    else if (s->kind == SLOT_NESTED && git && (ev->mask & (IN_DELETE | IN_MOVED_FROM))) {
        /* a nested repository became a directory of this one */
        char dir[PATH_MAX];
        snprintf(dir, sizeof dir, "%s", s->path);
        watch_tree(w, dir);
    }
}

int rag_watch_dirty(rag_watch_t *w, bool *dirty, errmsg_t *err)
{
    _Alignas(struct inotify_event) char buf[65536];
    bool rescan = false;
    for (;;) {
        ssize_t n = read(w->fd, buf, sizeof buf);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && errno == EAGAIN)
            break;
        if (n <= 0) {
            *dirty = true;
            return errmsg_set(err, OCT_EIO, "inotify: %s", n < 0 ? strerror(errno) : "end of file");
        }
        for (char *p = buf; p < buf + n;) {
            const struct inotify_event *ev = (const struct inotify_event *)p;
            on_event(w, ev, &rescan);
            p += sizeof *ev + ev->len;
        }
    }
    if (rescan && !w->blind[0])
        watch_all(w);
    *dirty = w->dirty || w->blind[0];
    w->dirty = false;
    return 0;
}
