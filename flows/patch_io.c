/* patch_io.c - writes below a work tree through directory descriptors with
 * O_NOFOLLOW at each step, fsync'd temporary files renamed into place, and
 * the one-line journal of a group of writes (see patch_io.h). */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "patch_io.h"

#define PIO_DEPTH_MAX 128

struct patch_io {
    int root_fd;
};

/* A path split into components, with a descriptor per directory opened on
 * the way: fd[0] is the root, fd[k] the directory holding comp[k]. */
typedef struct walk {
    char buf[PATH_MAX];
    char *comp[PIO_DEPTH_MAX];
    int fd[PIO_DEPTH_MAX];
    size_t n;      /* components */
    size_t n_open; /* fds opened (fd[1..n_open]) */
} walk_t;

static void walk_close(walk_t *w)
{
    for (size_t k = 1; k <= w->n_open; k++)
        close(w->fd[k]);
    w->n_open = 0;
}

/* Open the directories above PATH's last component, refusing links and
 * non-directories; CREATE makes missing ones. */
static int walk_open(const patch_io_t *io, const char *path, bool create, walk_t *w, errmsg_t *err)
{
    w->n = w->n_open = 0;
    w->fd[0] = io->root_fd;
    if (strlen(path) >= sizeof w->buf || !*path)
        return errmsg_set(err, OCT_EINVAL, "%s: bad path", path);
    strcpy(w->buf, path);
    for (char *s = w->buf, *tok; (tok = strsep(&s, "/")) != NULL;) {
        if (!*tok || !strcmp(tok, ".") || !strcmp(tok, "..") || w->n == PIO_DEPTH_MAX)
            return errmsg_set(err, OCT_EINVAL, "%s: bad path", path);
        w->comp[w->n++] = tok;
    }
    for (size_t k = 0; k + 1 < w->n; k++) {
        int fd = openat(w->fd[k], w->comp[k], O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0 && errno == ENOENT && create) {
            if (mkdirat(w->fd[k], w->comp[k], 0777) && errno != EEXIST) {
                int e = errno;
                walk_close(w);
                return errmsg_set(err, OCT_EIO, "%s: cannot create its directory: %s", path, strerror(e));
            }
            fd = openat(w->fd[k], w->comp[k], O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        }
        if (fd < 0) {
            int e = errno;
            walk_close(w);
            if (e == ELOOP || e == ENOTDIR)
                return errmsg_set(err, OCT_EINVAL, "%s: a component of its directory is a symbolic link or not a "
                                                   "directory: refused",
                                  path);
            return errmsg_set(err, e == ENOENT ? OCT_ENOTFOUND : OCT_EIO, "%s: %s", path, strerror(e));
        }
        w->fd[k + 1] = fd;
        w->n_open = k + 1;
    }
    return 0;
}

static int parent_fd(const walk_t *w) { return w->fd[w->n - 1]; }
static const char *base_name(const walk_t *w) { return w->comp[w->n - 1]; }

int patch_io_open(patch_io_t **out, const char *root, errmsg_t *err)
{
    *out = NULL;
    patch_io_t *io = calloc(1, sizeof *io);
    if (!io)
        return errmsg_set(err, OCT_ENOMEM, "out of memory");
    io->root_fd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (io->root_fd < 0) {
        int e = errno;
        free(io);
        return errmsg_set(err, OCT_EIO, "%s: %s", root, strerror(e));
    }
    *out = io;
    return 0;
}

void patch_io_close(patch_io_t *io)
{
    if (!io)
        return;
    close(io->root_fd);
    free(io);
}

int patch_io_stage(patch_io_t *io, const char *path, const char *tmp, const char *data, size_t len, mode_t perm,
                   errmsg_t *err)
{
    walk_t w;
    int rc = walk_open(io, path, true, &w, err);
    if (rc)
        return rc;
    int dfd = parent_fd(&w);
    unlinkat(dfd, tmp, 0); /* a leftover of an interrupted run */
    int fd = openat(dfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0) {
        rc = errmsg_set(err, OCT_EIO, "%s: %s", path, strerror(errno));
        goto done;
    }
    size_t off = 0;
    while (off < len) {
        ssize_t n = write(fd, data + off, len - off);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            rc = errmsg_set(err, OCT_EIO, "%s: write failed: %s", path, strerror(errno));
            break;
        }
        off += (size_t)n;
    }
    if (!rc && fchmod(fd, perm))
        rc = errmsg_set(err, OCT_EIO, "%s: %s", path, strerror(errno));
    if (close(fd) && !rc)
        rc = errmsg_set(err, OCT_EIO, "%s: %s", path, strerror(errno));
    if (rc)
        unlinkat(dfd, tmp, 0);
done:
    walk_close(&w);
    return rc;
}

int patch_io_commit(patch_io_t *io, const char *path, const char *tmp, errmsg_t *err)
{
    walk_t w;
    int rc = walk_open(io, path, false, &w, err);
    if (rc)
        return rc;
    int dfd = parent_fd(&w);
    struct stat st;
    /* only a regular file (or nothing) is replaced */
    if (!fstatat(dfd, base_name(&w), &st, AT_SYMLINK_NOFOLLOW) && !S_ISREG(st.st_mode))
        rc = errmsg_set(err, OCT_EINVAL, "%s: not a regular file: refused", path);
    else if (renameat(dfd, tmp, dfd, base_name(&w)))
        rc = errmsg_set(err, OCT_EIO, "%s: %s", path, strerror(errno));
    walk_close(&w);
    return rc;
}

int patch_io_remove(patch_io_t *io, const char *path, errmsg_t *err)
{
    walk_t w;
    int rc = walk_open(io, path, false, &w, err);
    if (rc == OCT_ENOTFOUND)
        return 0;
    if (rc)
        return rc;
    struct stat st;
    int dfd = parent_fd(&w);
    if (!fstatat(dfd, base_name(&w), &st, AT_SYMLINK_NOFOLLOW) && !S_ISREG(st.st_mode))
        rc = errmsg_set(err, OCT_EINVAL, "%s: not a regular file: refused", path);
    else if (unlinkat(dfd, base_name(&w), 0) && errno != ENOENT)
        rc = errmsg_set(err, OCT_EIO, "%s: cannot remove: %s", path, strerror(errno));
    if (!rc) {
        /* the directories left empty, as git does */
        size_t k = w.n - 1;
        while (k > 0 && !unlinkat(w.fd[k - 1], w.comp[k - 1], AT_REMOVEDIR))
            k--;
    }
    walk_close(&w);
    return rc;
}

void patch_io_discard(patch_io_t *io, const char *path, const char *tmp)
{
    walk_t w;
    if (walk_open(io, path, false, &w, NULL))
        return;
    unlinkat(parent_fd(&w), tmp, 0);
    walk_close(&w);
}

int patch_io_sync(patch_io_t *io, errmsg_t *err)
{
    if (syncfs(io->root_fd))
        return errmsg_set(err, OCT_EIO, "cannot flush the work tree to disk: %s", strerror(errno));
    return 0;
}

int patch_io_fsync_path(const char *path)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    int r = fsync(fd);
    int e = errno;
    close(fd);
    errno = e;
    return r;
}

static int fsync_dir_of(const char *file)
{
    char dir[PATH_MAX];
    snprintf(dir, sizeof dir, "%s", file);
    char *slash = strrchr(dir, '/');
    if (slash)
        *slash = '\0';
    return patch_io_fsync_path(slash ? (*dir ? dir : "/") : ".");
}

int patch_io_journal_write(const char *file, const char *op, const char *id, errmsg_t *err)
{
    char tmp[PATH_MAX + 8], line[128];
    snprintf(tmp, sizeof tmp, "%s.tmp", file);
    int n = snprintf(line, sizeof line, "%s %s\n", op, id);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0644);
    if (fd < 0)
        return errmsg_set(err, OCT_EIO, "%s: %s", tmp, strerror(errno));
    bool ok = n > 0 && write(fd, line, (size_t)n) == n && !fsync(fd);
    int e = errno;
    if (close(fd))
        ok = false;
    if (!ok || rename(tmp, file) || fsync_dir_of(file)) {
        if (ok)
            e = errno;
        unlink(tmp);
        return errmsg_set(err, OCT_EIO, "cannot write the journal %s: %s", file, strerror(e));
    }
    return 0;
}

int patch_io_journal_read(const char *file, char *op, size_t op_size, char *id, size_t id_size, errmsg_t *err)
{
    char line[128] = "";
    int fd = open(file, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0)
        return errno == ENOENT ? OCT_ENOTFOUND : errmsg_set(err, OCT_EIO, "%s: %s", file, strerror(errno));
    ssize_t n = read(fd, line, sizeof line - 1);
    close(fd);
    line[n > 0 ? n : 0] = '\0';
    char *sp = strchr(line, ' '), *nl = strchr(line, '\n');
    if (!sp || !nl || nl < sp || (size_t)(sp - line) >= op_size || (size_t)(nl - sp - 1) >= id_size)
        return errmsg_set(err, OCT_EFORMAT, "%s: not a journal of octet", file);
    memcpy(op, line, (size_t)(sp - line));
    op[sp - line] = '\0';
    memcpy(id, sp + 1, (size_t)(nl - sp - 1));
    id[nl - sp - 1] = '\0';
    return 0;
}

int patch_io_journal_clear(const char *file, errmsg_t *err)
{
    if (unlink(file) && errno != ENOENT)
        return errmsg_set(err, OCT_EIO, "cannot remove the journal %s: %s", file, strerror(errno));
    if (fsync_dir_of(file))
        return errmsg_set(err, OCT_EIO, "%s: %s", file, strerror(errno));
    return 0;
}
