/* searchd.c - the watcher's search server and its client (see searchd.h).
 *
 * Messages: a 12-byte header, "OCTQ" (request) or "OCTR" (response), the
 * protocol version and the body's length (little-endian u32s), then the
 * body: u32s, u64s and strings (a u32 length, then the bytes). */
#include "searchd.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "preset.h"
#include "sb.h"

#define HEADER 12
/* a request: the query plus paths and patterns */
#define MAX_REQUEST (SEARCHD_MAX_QUERY + 512 * 1024)
/* a response: up to RAG_MAX_HITS hits with their paths and symbols */
#define MAX_RESPONSE (128u * 1024 * 1024)
#define MAX_STR (64 * 1024)

enum { ANSWER = 0, NOT_MINE = 1, FAILED = 2 };

/* ---- encoding ---------------------------------------------------------- */

static void put_u32(sbuf_t *b, uint32_t v)
{
    unsigned char c[4] = {(unsigned char)v, (unsigned char)(v >> 8), (unsigned char)(v >> 16),
                          (unsigned char)(v >> 24)};
    sb_addn(b, (const char *)c, 4);
}

static void put_u64(sbuf_t *b, uint64_t v)
{
    put_u32(b, (uint32_t)v);
    put_u32(b, (uint32_t)(v >> 32));
}

static void put_f64(sbuf_t *b, double d)
{
    uint64_t v;
    memcpy(&v, &d, sizeof v);
    put_u64(b, v);
}

static void put_str(sbuf_t *b, const char *s, size_t n)
{
    put_u32(b, (uint32_t)n);
    sb_addn(b, s, n);
}

/* The header with the body's length filled in once the body is there. */
static void put_header(sbuf_t *b, const char *magic)
{
    sb_addn(b, magic, 4);
    put_u32(b, SEARCHD_VERSION);
    put_u32(b, 0);
}

static void end_message(sbuf_t *b)
{
    if (b->oom || b->n < HEADER)
        return;
    uint32_t n = (uint32_t)(b->n - HEADER);
    for (int i = 0; i < 4; i++)
        b->s[8 + i] = (char)(n >> (8 * i));
}

typedef struct rd {
    const unsigned char *p;
    size_t n;
    const char *bad; /* what was malformed first, or NULL */
} rd_t;

static uint32_t get_u32(rd_t *r, const char *what)
{
    if (r->bad || r->n < 4) {
        r->bad = r->bad ? r->bad : what;
        return 0;
    }
    uint32_t v = (uint32_t)r->p[0] | (uint32_t)r->p[1] << 8 | (uint32_t)r->p[2] << 16 | (uint32_t)r->p[3] << 24;
    r->p += 4;
    r->n -= 4;
    return v;
}

static uint64_t get_u64(rd_t *r, const char *what)
{
    uint64_t lo = get_u32(r, what);
    return lo | (uint64_t)get_u32(r, what) << 32;
}

static double get_f64(rd_t *r, const char *what)
{
    uint64_t v = get_u64(r, what);
    double d;
    memcpy(&d, &v, sizeof d);
    return d;
}

/* A string of at most MAX bytes, malloc'd and NUL-terminated; with !NULS, a
 * NUL inside is malformed. NULL when malformed or out of memory (then
 * r->bad is set too). */
static char *get_str(rd_t *r, size_t max, bool nuls, size_t *len, const char *what)
{
    uint32_t n = get_u32(r, what);
    if (!r->bad && (n > max || n > r->n || (!nuls && memchr(r->p, 0, n))))
        r->bad = what;
    if (r->bad)
        return NULL;
    char *s = malloc((size_t)n + 1);
    if (!s) {
        r->bad = "out of memory";
        return NULL;
    }
    memcpy(s, r->p, n);
    s[n] = '\0';
    r->p += n;
    r->n -= n;
    if (len)
        *len = n;
    return s;
}

int searchd_req_encode(const searchd_req_t *q, char **out, size_t *len, errmsg_t *err)
{
    *out = NULL;
    if (q->qlen > SEARCHD_MAX_QUERY)
        return errmsg_set(err, OCT_EINVAL, "the query is larger than %d bytes", SEARCHD_MAX_QUERY);
    if (q->n_exclude > SEARCHD_MAX_EXCLUDE)
        return errmsg_set(err, OCT_EINVAL, "more than %d exclude patterns", SEARCHD_MAX_EXCLUDE);
    const char *strs[3] = {q->root, q->db, q->encoder};
    for (int i = 0; i < 3; i++)
        if (strlen(strs[i]) > MAX_STR)
            return errmsg_set(err, OCT_EINVAL, "a path longer than %d bytes", MAX_STR);
    size_t total = 0;
    for (size_t i = 0; i < q->n_exclude; i++)
        total += strlen(q->exclude[i]);
    if (total > MAX_STR)
        return errmsg_set(err, OCT_EINVAL, "exclude patterns longer than %d bytes in all", MAX_STR);
    sbuf_t b = {0};
    put_header(&b, "OCTQ");
    put_u32(&b, q->k);
    put_u32(&b, (uint32_t)q->mode);
    put_u32(&b, q->no_git);
    put_u64(&b, q->max_size);
    for (int i = 0; i < 3; i++)
        put_str(&b, strs[i], strlen(strs[i]));
    put_u32(&b, (uint32_t)q->n_exclude);
    for (size_t i = 0; i < q->n_exclude; i++)
        put_str(&b, q->exclude[i], strlen(q->exclude[i]));
    put_str(&b, q->query, q->qlen);
    end_message(&b);
    *len = b.n;
    if (!(*out = sb_take(&b)))
        return errmsg_set(err, OCT_ENOMEM, "out of memory");
    return 0;
}

int searchd_req_decode(const void *body, size_t len, searchd_req_t *q, errmsg_t *err)
{
    memset(q, 0, sizeof *q);
    rd_t r = {.p = body, .n = len};
    q->k = get_u32(&r, "k");
    uint32_t mode = get_u32(&r, "mode");
    uint32_t no_git = get_u32(&r, "no-git");
    q->max_size = get_u64(&r, "max-size");
    if (!r.bad && (q->k == 0 || q->k > RAG_MAX_HITS))
        r.bad = "k";
    if (!r.bad && mode != RAG_MODE_LEXICAL && mode != RAG_MODE_HYBRID)
        r.bad = "mode";
    if (!r.bad && no_git > 1)
        r.bad = "no-git";
    q->mode = (rag_mode_t)mode;
    q->no_git = no_git;
    q->root = get_str(&r, MAX_STR, false, NULL, "root");
    q->db = get_str(&r, MAX_STR, false, NULL, "db");
    q->encoder = get_str(&r, MAX_STR, false, NULL, "encoder");
    uint32_t nx = get_u32(&r, "exclude count");
    if (!r.bad && nx > SEARCHD_MAX_EXCLUDE)
        r.bad = "exclude count";
    if (!r.bad && nx && !(q->exclude = calloc(nx, sizeof *q->exclude)))
        r.bad = "out of memory";
    for (uint32_t i = 0; !r.bad && i < nx; i++)
        if ((q->exclude[i] = get_str(&r, MAX_STR, false, NULL, "exclude")))
            q->n_exclude++;
    q->query = get_str(&r, SEARCHD_MAX_QUERY, true, &q->qlen, "query");
    if (!r.bad && r.n)
        r.bad = "trailing bytes";
    if (r.bad)
        return errmsg_set(err, OCT_EFORMAT, "malformed request (%s)", r.bad);
    return 0;
}

void searchd_req_free(searchd_req_t *q)
{
    free(q->root);
    free(q->db);
    free(q->encoder);
    for (size_t i = 0; i < q->n_exclude; i++)
        free(q->exclude[i]);
    free(q->exclude);
    free(q->query);
    memset(q, 0, sizeof *q);
}

void searchd_encoder_id(const char *path, char *buf, size_t n)
{
    struct stat st;
    if (!path || stat(path, &st) != 0)
        snprintf(buf, n, "none");
    else
        snprintf(buf, n, "%llu:%llu:%lld:%lld.%09ld", (unsigned long long)st.st_dev,
                 (unsigned long long)st.st_ino, (long long)st.st_size, (long long)st.st_mtim.tv_sec,
                 st.st_mtim.tv_nsec);
}

/* ---- I/O with a deadline ----------------------------------------------- */

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/* Wait until FD is ready for EVENTS or DEADLINE (ms) passes: 0, or -1. */
static int wait_fd(int fd, short events, double deadline)
{
    for (;;) {
        double left = deadline - now_ms();
        if (left <= 0)
            return -1;
        struct pollfd p = {.fd = fd, .events = events};
        int n = poll(&p, 1, (int)left + 1);
        if (n > 0)
            return 0;
        if (n < 0 && errno != EINTR)
            return -1;
    }
}

/* N bytes into BUF: 0, or -1 (the peer closed, an error, the deadline). */
static int read_full(int fd, void *buf, size_t n, double deadline)
{
    char *p = buf;
    while (n) {
        if (wait_fd(fd, POLLIN, deadline))
            return -1;
        ssize_t k = recv(fd, p, n, MSG_DONTWAIT);
        if (k < 0 && (errno == EINTR || errno == EAGAIN))
            continue;
        if (k <= 0)
            return -1;
        p += k;
        n -= (size_t)k;
    }
    return 0;
}

static int write_full(int fd, const void *buf, size_t n, double deadline)
{
    const char *p = buf;
    while (n) {
        if (wait_fd(fd, POLLOUT, deadline))
            return -1;
        ssize_t k = send(fd, p, n, MSG_DONTWAIT | MSG_NOSIGNAL);
        if (k < 0 && (errno == EINTR || errno == EAGAIN))
            continue;
        if (k <= 0)
            return -1;
        p += k;
        n -= (size_t)k;
    }
    return 0;
}

/* The header: 0 with *LEN; 1 for a well-formed header of another
 * version; -1 otherwise. */
static int read_header(int fd, const char *magic, uint32_t *len, uint32_t *version, double deadline)
{
    unsigned char h[HEADER];
    if (read_full(fd, h, HEADER, deadline) || memcmp(h, magic, 4))
        return -1;
    rd_t r = {.p = h + 4, .n = 8};
    *version = get_u32(&r, "version");
    *len = get_u32(&r, "length");
    return *version == SEARCHD_VERSION ? 0 : 1;
}

/* The peer's credentials: its user must be ours. */
static bool same_user(int fd, long *pid)
{
    struct ucred uc;
    socklen_t l = sizeof uc;
    if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &uc, &l) != 0 || uc.uid != geteuid())
        return false;
    if (pid)
        *pid = uc.pid;
    return true;
}

static int sock_addr(const char *path, struct sockaddr_un *a, errmsg_t *err)
{
    memset(a, 0, sizeof *a);
    a->sun_family = AF_UNIX;
    if (strlen(path) >= sizeof a->sun_path)
        return errmsg_set(err, OCT_EINVAL, "%s: longer than a socket's path may be (%zu bytes)", path,
                          sizeof a->sun_path - 1);
    memcpy(a->sun_path, path, strlen(path) + 1);
    return 0;
}

/* ---- the client -------------------------------------------------------- */

int searchd_ask(const searchd_req_t *q, rag_results_t *res, searchd_answer_t *ans, errmsg_t *err)
{
    memset(res, 0, sizeof *res);
    memset(ans, 0, sizeof *ans);
    char path[PATH_MAX + 8], *msg = NULL, *body = NULL;
    size_t mlen;
    struct sockaddr_un a;
    int fd = -1, rc;
    snprintf(path, sizeof path, "%s.sock", q->db);
    if ((rc = sock_addr(path, &a, err)))
        return rc;
    fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return errmsg_set(err, OCT_EIO, "socket: %s", strerror(errno));
    if (connect(fd, (struct sockaddr *)&a, sizeof a) != 0) {
        rc = errmsg_set(err, OCT_ENOTFOUND, "%s: %s", path, strerror(errno));
        goto fail;
    }
    if (!same_user(fd, &ans->pid)) {
        rc = errmsg_set(err, OCT_EINVAL, "%s: served by another user", path);
        goto fail;
    }
    if ((rc = searchd_req_encode(q, &msg, &mlen, err)))
        goto fail;
    double deadline = now_ms() + SEARCHD_TIMEOUT_MS;
    uint32_t len, version;
    if (write_full(fd, msg, mlen, deadline)) {
        rc = errmsg_set(err, OCT_EIO, "%s: the request could not be sent in time", path);
        goto fail;
    }
    int h = read_header(fd, "OCTR", &len, &version, deadline);
    if (h) {
        rc = h > 0 ? errmsg_set(err, OCT_EUNSUPPORTED, "the watcher speaks version %u, not %d", version,
                                SEARCHD_VERSION)
                   : errmsg_set(err, OCT_EIO, "no answer from the watcher within %d ms", SEARCHD_TIMEOUT_MS);
        goto fail;
    }
    if (len > MAX_RESPONSE || !(body = malloc(len ? len : 1))) {
        rc = errmsg_set(err, OCT_EFORMAT, "the watcher's answer is too large");
        goto fail;
    }
    if (read_full(fd, body, len, deadline)) {
        rc = errmsg_set(err, OCT_EIO, "the watcher's answer did not come within %d ms", SEARCHD_TIMEOUT_MS);
        goto fail;
    }
    rd_t r = {.p = (const unsigned char *)body, .n = len};
    uint32_t status = get_u32(&r, "status");
    if (!r.bad && status != ANSWER) {
        char *why = get_str(&r, MAX_STR, false, NULL, "reason");
        rc = errmsg_set(err, status == NOT_MINE ? OCT_EUNSUPPORTED : OCT_EIO, "the watcher (pid %ld): %s", ans->pid,
                        why ? why : "malformed answer");
        free(why);
        goto fail;
    }
    rag_query_info_t *in = &ans->info;
    in->mode = (rag_mode_t)get_u32(&r, "mode");
    char *why = get_str(&r, sizeof in->why - 1, false, NULL, "why");
    if (why)
        snprintf(in->why, sizeof in->why, "%s", why);
    free(why);
    in->ready = get_u64(&r, "ready");
    in->total = get_u64(&r, "total");
    in->lex_hits = get_u64(&r, "lex_hits");
    in->dense_hits = get_u64(&r, "dense_hits");
    in->merged = get_u64(&r, "merged");
    in->embed_ms = get_f64(&r, "embed_ms");
    in->scan_ms = get_f64(&r, "scan_ms");
    in->load_ms = get_f64(&r, "load_ms");
    ans->updated = get_u32(&r, "updated");
    ans->ms = get_f64(&r, "ms");
    uint32_t n = get_u32(&r, "hits");
    if (!r.bad && n > RAG_MAX_HITS)
        r.bad = "hits";
    if (!r.bad && n && !(res->hits = calloc(n, sizeof *res->hits)))
        r.bad = "out of memory";
    for (uint32_t i = 0; !r.bad && i < n; i++) {
        rag_hit_t *hit = &res->hits[i];
        res->n++;
        hit->path = get_str(&r, MAX_STR, false, NULL, "path");
        if (get_u32(&r, "symbol"))
            hit->symbol = get_str(&r, MAX_STR, false, NULL, "symbol");
        hit->start = (int)get_u32(&r, "start");
        hit->end = (int)get_u32(&r, "end");
        hit->score = get_f64(&r, "score");
    }
    if (!r.bad && r.n)
        r.bad = "trailing bytes";
    if (r.bad) {
        rc = errmsg_set(err, OCT_EFORMAT, "the watcher's answer is malformed (%s)", r.bad);
        rag_results_free(res);
        goto fail;
    }
    rc = 0;
fail:
    free(body);
    free(msg);
    close(fd);
    return rc;
}

/* ---- the server -------------------------------------------------------- */

struct searchd {
    char path[PATH_MAX + 8];
    int fd;           /* bound, then listening */
    int lock;         /* PATH.lock, held while this watcher lives */
    struct stat self; /* the socket file, to remove only this one */
};

const char *searchd_path(const searchd_t *sd) { return sd->path; }

int searchd_claim(searchd_t **out, const rag_t *r, errmsg_t *err)
{
    *out = NULL;
    searchd_t *sd = calloc(1, sizeof *sd);
    if (!sd)
        return errmsg_set(err, OCT_ENOMEM, "out of memory");
    sd->fd = sd->lock = -1;
    int rc = 0;
    char lock[PATH_MAX + 16];
    struct sockaddr_un a;
    snprintf(sd->path, sizeof sd->path, "%s.sock", rag_db_path(r));
    snprintf(lock, sizeof lock, "%s.lock", sd->path);
    if ((rc = sock_addr(sd->path, &a, err)))
        goto fail;
    /* the lock, not the socket, says who serves: two watchers starting at
     * once must not both replace a stale socket */
    sd->lock = open(lock, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (sd->lock < 0) {
        rc = errmsg_set(err, OCT_EIO, "%s: %s", lock, strerror(errno));
        goto fail;
    }
    if (flock(sd->lock, LOCK_EX | LOCK_NB) != 0) {
        long pid = 0;
        int c = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (c >= 0 && connect(c, (struct sockaddr *)&a, sizeof a) == 0)
            same_user(c, &pid);
        if (c >= 0)
            close(c);
        if (pid)
            rc = errmsg_set(err, OCT_EINVAL, "a watcher (pid %ld) already serves this index at %s", pid, sd->path);
        else
            rc = errmsg_set(err, OCT_EINVAL, "another watcher is starting or serving this index (%s is locked)",
                            lock);
        goto fail;
    }
    struct stat st;
    if (lstat(sd->path, &st) == 0) {
        if (!S_ISSOCK(st.st_mode)) {
            rc = errmsg_set(err, OCT_EINVAL, "%s exists and is not a socket; remove it", sd->path);
            goto fail;
        }
        unlink(sd->path); /* left by a watcher that was killed: nobody holds the lock */
    }
    sd->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (sd->fd < 0) {
        rc = errmsg_set(err, OCT_EIO, "socket: %s", strerror(errno));
        goto fail;
    }
    mode_t old = umask(0177); /* the socket file is made 0600 by bind itself */
    int b = bind(sd->fd, (struct sockaddr *)&a, sizeof a);
    int e = errno;
    umask(old);
    if (b != 0) {
        rc = errmsg_set(err, OCT_EIO, "%s: %s", sd->path, strerror(e));
        goto fail;
    }
    if (lstat(sd->path, &sd->self) != 0) {
        rc = errmsg_set(err, OCT_EIO, "%s: %s", sd->path, strerror(errno));
        goto fail;
    }
    *out = sd;
    return 0;
fail:
    searchd_close(sd);
    return rc;
}

void searchd_close(searchd_t *sd)
{
    if (!sd)
        return;
    struct stat st;
    if (sd->fd >= 0 && lstat(sd->path, &st) == 0 && st.st_ino == sd->self.st_ino && st.st_dev == sd->self.st_dev)
        unlink(sd->path);
    if (sd->fd >= 0)
        close(sd->fd);
    if (sd->lock >= 0)
        close(sd->lock);
    free(sd);
}

/* How long the work tree must be quiet after a change before a watcher
 * with no search to answer updates the index by itself. */
#define IDLE_UPDATE_MS 50

typedef struct server {
    rag_t *r;
    rag_watch_t *w;
    encoder_t *enc;
    const searchd_config_t *cfg;
    char enc_id[128];
    bool stale;      /* the work tree changed since the last update */
    bool idle_tried; /* an update while idle failed: not again before the next event */
    bool told_blind; /* the fall-back said once */
    struct stat db;  /* the index database when it was last checked */
    bool db_gone;
} server_t;

/* The index database is still the file this watcher has open. */
static bool db_same(server_t *s)
{
    struct stat st;
    if (stat(rag_db_path(s->r), &st) != 0 || st.st_ino != s->db.st_ino || st.st_dev != s->db.st_dev)
        s->db_gone = true;
    return !s->db_gone;
}

/* Why Q is not for this watcher, into WHY; false when it is. */
static bool not_mine(const server_t *s, const searchd_req_t *q, char *why, size_t n)
{
    size_t mine = s->cfg->max_size ? s->cfg->max_size : RAG_DEFAULT_MAX_FILE_BYTES;
    size_t theirs = q->max_size ? (size_t)q->max_size : RAG_DEFAULT_MAX_FILE_BYTES;
    if (strcmp(q->db, rag_db_path(s->r)))
        snprintf(why, n, "another index (%s)", rag_db_path(s->r));
    else if (strcmp(q->root, rag_root(s->r)))
        snprintf(why, n, "another work tree (%s)", rag_root(s->r));
    else if (q->no_git != s->cfg->no_git)
        snprintf(why, n, "--no-git differs");
    else if (mine != theirs)
        snprintf(why, n, "--max-size differs (%zu here)", mine);
    else if (q->n_exclude != s->cfg->n_exclude)
        snprintf(why, n, "--exclude differs");
    else if (q->mode == RAG_MODE_HYBRID && s->cfg->lexical)
        snprintf(why, n, "this watcher is lexical (--lexical)");
    else if (q->mode == RAG_MODE_HYBRID && strcmp(q->encoder, s->enc_id))
        snprintf(why, n, "another retrieval encoder (%s here)", s->enc ? encoder_path(s->enc) : "none");
    else {
        for (size_t i = 0; i < q->n_exclude; i++)
            if (strcmp(q->exclude[i], s->cfg->exclude[i])) {
                snprintf(why, n, "--exclude differs");
                return true;
            }
        return false;
    }
    return true;
}

/* Bring the index up to date when anything may have changed. */
static int refresh(server_t *s, bool *updated, errmsg_t *err)
{
    *updated = false;
    if (s->w) {
        bool d = false;
        if (rag_watch_dirty(s->w, &d, err) != 0)
            d = true;
        s->stale |= d;
        if (rag_watch_blind(s->w)[0] && !s->told_blind) {
            fprintf(stderr, "octet index: %s; the index is now updated before every search\n",
                    rag_watch_blind(s->w));
            s->told_blind = true;
        }
    }
    if (s->w && !s->stale)
        return 0;
    int rc = rag_update(s->r, NULL, NULL, NULL, NULL, err);
    if (rag_notice(s->r)[0]) {
        fprintf(stderr, "octet index: %s\n", rag_notice(s->r));
        stat(rag_db_path(s->r), &s->db); /* rebuilt by this watcher: its file now */
    }
    if (rc)
        return rc;
    s->stale = false;
    *updated = true;
    errmsg_t eerr = {0};
    if (s->enc && encoder_catch_up(s->r, ENCODER_CATCH_UP, &eerr) != 0)
        fprintf(stderr, "octet index: embedding the new chunks failed: %s\n", eerr.msg);
    return 0;
}

static void put_reason(sbuf_t *b, int status, const char *why)
{
    put_header(b, "OCTR");
    put_u32(b, (uint32_t)status);
    put_str(b, why, strlen(why));
    end_message(b);
}

/* The answer to Q into B. */
static void answer(server_t *s, const searchd_req_t *q, sbuf_t *b)
{
    double t0 = now_ms();
    char why[512];
    errmsg_t err = {0};
    if (!db_same(s)) {
        put_reason(b, NOT_MINE, "its index database was deleted or replaced: it stops");
        return;
    }
    if (not_mine(s, q, why, sizeof why)) {
        put_reason(b, NOT_MINE, why);
        return;
    }
    bool updated;
    rag_results_t res = {0};
    rag_query_info_t info = {0};
    if (refresh(s, &updated, &err) != 0 ||
        rag_query_ex(s->r, q->query, q->qlen, q->k, q->mode, &res, &info, &err) != 0) {
        s->stale = true; /* a corrupt index a query met is rebuilt by the next update */
        put_reason(b, FAILED, err.msg);
        return;
    }
    put_header(b, "OCTR");
    put_u32(b, ANSWER);
    put_u32(b, (uint32_t)info.mode);
    put_str(b, info.why, strlen(info.why));
    put_u64(b, info.ready);
    put_u64(b, info.total);
    put_u64(b, info.lex_hits);
    put_u64(b, info.dense_hits);
    put_u64(b, info.merged);
    put_f64(b, info.embed_ms);
    put_f64(b, info.scan_ms);
    put_f64(b, info.load_ms);
    put_u32(b, updated);
    put_f64(b, now_ms() - t0);
    put_u32(b, (uint32_t)res.n);
    for (size_t i = 0; i < res.n; i++) {
        const rag_hit_t *h = &res.hits[i];
        put_str(b, h->path, strlen(h->path));
        put_u32(b, h->symbol != NULL);
        if (h->symbol)
            put_str(b, h->symbol, strlen(h->symbol));
        put_u32(b, (uint32_t)h->start);
        put_u32(b, (uint32_t)h->end);
        put_f64(b, h->score);
    }
    end_message(b);
    rag_results_free(&res);
}

/* One connection: a request read within the time-out, answered. */
static void serve_one(server_t *s, int fd)
{
    double deadline = now_ms() + SEARCHD_TIMEOUT_MS;
    uint32_t len, version;
    char *body = NULL;
    sbuf_t b = {0};
    searchd_req_t q = {0};
    errmsg_t err = {0};
    if (!same_user(fd, NULL))
        goto done;
    int h = read_header(fd, "OCTQ", &len, &version, deadline);
    if (h > 0) {
        char why[96];
        snprintf(why, sizeof why, "protocol version %u asked, %d spoken", version, SEARCHD_VERSION);
        put_reason(&b, NOT_MINE, why);
    } else if (h < 0 || len > MAX_REQUEST || !(body = malloc(len ? len : 1)) ||
               read_full(fd, body, len, deadline)) {
        goto done; /* garbage, too big or too slow: no answer */
    } else if (searchd_req_decode(body, len, &q, &err) != 0) {
        put_reason(&b, FAILED, err.msg);
    } else {
        answer(s, &q, &b);
    }
    if (!b.oom && b.n)
        write_full(fd, b.s, b.n, now_ms() + SEARCHD_TIMEOUT_MS);
done:
    sb_free(&b);
    searchd_req_free(&q);
    free(body);
}

/* Signals reach the loop through a pipe: any of the process's threads (the
 * encoder's, the update's) may be the one that takes them. */
static int g_sigpipe = -1;

static void on_signal(int sig)
{
    unsigned char c = (unsigned char)sig;
    if (write(g_sigpipe, &c, 1) < 0) {
        /* the pipe is full: a signal is already waiting */
    }
}

int searchd_serve(searchd_t *sd, rag_t *r, rag_watch_t *w, encoder_t *enc, const searchd_config_t *cfg,
                  errmsg_t *err)
{
    server_t s = {.r = r, .w = w, .enc = enc, .cfg = cfg};
    searchd_encoder_id(enc ? encoder_path(enc) : NULL, s.enc_id, sizeof s.enc_id);
    if (stat(rag_db_path(r), &s.db) != 0)
        return errmsg_set(err, OCT_EIO, "%s: %s", rag_db_path(r), strerror(errno));
    static const int sigs[] = {SIGINT, SIGTERM, SIGHUP};
    struct sigaction sa = {0}, old[3];
    int pfd[2] = {-1, -1}, rc = 0;
    if (pipe2(pfd, O_CLOEXEC | O_NONBLOCK) != 0)
        return errmsg_set(err, OCT_EIO, "pipe: %s", strerror(errno));
    g_sigpipe = pfd[1];
    sa.sa_handler = on_signal;
    for (int i = 0; i < 3; i++)
        sigaction(sigs[i], &sa, &old[i]);
    if (listen(sd->fd, 16) != 0) {
        rc = errmsg_set(err, OCT_EIO, "%s: %s", sd->path, strerror(errno));
        goto done;
    }
    /* the vectors read and the encoder loaded now, not by the first search */
    rag_results_t warm = {0};
    errmsg_t werr = {0};
    rag_query_ex(r, "octet", 5, 1, enc ? RAG_MODE_HYBRID : RAG_MODE_LEXICAL, &warm, NULL, &werr);
    rag_results_free(&warm);
    double last = now_ms();
    for (;;) {
        double left = cfg->idle_s > 0 ? cfg->idle_s * 1e3 - (now_ms() - last) : 60e3;
        if (left <= 0) {
            fprintf(stderr, "octet index: no search for %g minutes: the watcher stops\n", cfg->idle_s / 60);
            break;
        }
        struct pollfd p[3] = {{.fd = pfd[0], .events = POLLIN}, {.fd = sd->fd, .events = POLLIN},
                              {.fd = w ? rag_watch_fd(w) : -1, .events = POLLIN}};
        int wait = left > 60e3 ? 60000 : (int)left + 1;
        /* changes seen while idle: the update runs once the tree has been
         * quiet for IDLE_UPDATE_MS (an editor's save, a checkout), so that
         * the next search finds the index up to date */
        bool idle_update = w && !rag_watch_blind(w)[0] && s.stale && !s.idle_tried;
        if (idle_update && wait > IDLE_UPDATE_MS)
            wait = IDLE_UPDATE_MS;
        int n = poll(p, 3, wait);
        if (n < 0 && errno != EINTR) {
            rc = errmsg_set(err, OCT_EIO, "poll: %s", strerror(errno));
            break;
        }
        if (n > 0 && p[0].revents) {
            unsigned char sig;
            if (read(pfd[0], &sig, 1) == 1)
                fprintf(stderr, "octet index: %s: the watcher stops\n", strsignal(sig));
            break;
        }
        if (n > 0 && p[2].revents) {
            /* read now, so that the kernel's queue does not overflow while idle */
            bool d = false;
            errmsg_t werr = {0};
            if (rag_watch_dirty(w, &d, &werr) != 0)
                d = true;
            s.stale |= d;
            if (d)
                s.idle_tried = false;
        }
        if (n > 0 && p[1].revents) {
            int c = accept4(sd->fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
            if (c >= 0) {
                serve_one(&s, c);
                close(c);
                last = now_ms();
            }
        }
        if (n == 0)
            db_same(&s);
        if (n == 0 && idle_update && !s.db_gone) {
            bool updated;
            errmsg_t uerr = {0};
            if (refresh(&s, &updated, &uerr) != 0) {
                fprintf(stderr, "octet index: updating the index failed: %s\n", uerr.msg);
                s.idle_tried = true;
            }
        }
        if (s.db_gone) {
            fprintf(stderr, "octet index: %s was deleted or replaced: the watcher stops\n", rag_db_path(r));
            break;
        }
    }
done:
    for (int i = 0; i < 3; i++)
        sigaction(sigs[i], &old[i], NULL);
    g_sigpipe = -1;
    close(pfd[0]);
    close(pfd[1]);
    return rc;
}
