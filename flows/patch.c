/* patch.c - parsing, checking, applying (all or nothing, with an undo
 * record) and undoing unified diffs in a git working tree; extracting and
 * repairing the diffs models write; coloring diffs (see patch.h). */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "gitlib.h"
#include "patch.h"
#include "sb.h"
#include "patch_io.h"
#include "strv.h"
#include "termsafe.h"

#define PATCH_RECORD_VERSION 1

/* The message of libgit2's last error. */
static const char *git_msg(void)
{
    const git_error *e = git_error_last();
    return e && e->message ? e->message : "unknown libgit2 error";
}

/* ---- parsing -------------------------------------------------------------- */

struct patch {
    char *source;
    char *text;
    size_t len;
    git_diff *diff;
    patch_file_t *files;
    size_t n_files;
};

/* A hunk header's "start[,count]" at P (count 1 when not given): what
 * follows it, or NULL when P does not start with one. */
static const char *parse_range(const char *p, long *start, long *count)
{
    char *end;
    if (!isdigit((unsigned char)*p))
        return NULL;
    *start = strtol(p, &end, 10);
    *count = 1;
    if (*end == ',') {
        if (!isdigit((unsigned char)end[1]))
            return NULL;
        *count = strtol(end + 1, &end, 10);
    }
    return end;
}

/* Past this a line number or count is not a file's: the arithmetic on them
 * stays far from overflow. */
#define HUNK_MAX 100000000L

/* "@@ -a[,b] +c[,d] @@": 0 and the four numbers, -1 when malformed, -2 when
 * a number is past HUNK_MAX. */
static int parse_hunk_header(const char *line, long *a, long *b, long *c, long *d)
{
    if (strncmp(line, "@@ -", 4))
        return -1;
    const char *p = parse_range(line + 4, a, b);
    if (!p || strncmp(p, " +", 2) || !(p = parse_range(p + 2, c, d)))
        return -1;
    if (strncmp(p, " @@", 3) || *a < 0 || *b < 0 || *c < 0 || *d < 0)
        return -1;
    if (*a > HUNK_MAX || *b > HUNK_MAX || *c > HUNK_MAX || *d > HUNK_MAX)
        return -2;
    return 0;
}

static const char *const HEADER_ONCE[] = {
    "rename from ", "rename to ", "copy from ", "copy to ", "similarity index ", "dissimilarity index ",
    "old mode ", "new mode ", "new file mode ", "deleted file mode ", "index ", NULL,
};

/* Whether the N bytes at LINE (not NUL-terminated) start with PREFIX. */
static bool starts(const char *line, size_t n, const char *prefix)
{
    size_t k = strlen(prefix);
    return n >= k && !memcmp(line, prefix, k);
}

/* octet's own structural checks, before libgit2: hunk bodies must match the
 * counts of their headers exactly (libgit2 ignores extra lines silently). */
static int check_lines(const char *src, const char *text, size_t len, errmsg_t *err)
{
    long old_left = 0, new_left = 0, hunk_line = 0, a, b, c, d;
    long line_no = 0;
    unsigned seen = 0;
    bool in_hunk = false, in_patch = false, after_sig = false;
    for (size_t i = 0; i < len;) {
        const char *line = text + i;
        const char *nl = memchr(line, '\n', len - i);
        size_t n = nl ? (size_t)(nl - line) : len - i;
        i += n + (nl ? 1 : 0);
        line_no++;
        if (in_hunk && (old_left > 0 || new_left > 0)) {
            char ch = n ? line[0] : '\0';
            if (ch == ' ') {
                old_left--, new_left--;
            } else if (ch == '-') {
                old_left--;
            } else if (ch == '+') {
                new_left--;
            } else if (ch == '\\') {
                continue;
            } else {
                return errmsg_set(err, OCT_EFORMAT,
                                  "%s:%ld: the hunk at line %ld ends early: %ld old and %ld new line%s missing%s",
                                  src, line_no, hunk_line, old_left, new_left, new_left == 1 ? " is" : "s are",
                                  n == 0 ? " (an empty context line needs a leading space)" : "");
            }
            if (old_left < 0 || new_left < 0)
                return errmsg_set(err, OCT_EFORMAT,
                                  "%s:%ld: the hunk at line %ld has more %s lines than its header announces", src,
                                  line_no, hunk_line, old_left < 0 ? "old (' ' or '-')" : "new (' ' or '+')");
            continue;
        }
        in_hunk = false;
        if (starts(line, n, "@@")) {
            char hdr[256];
            snprintf(hdr, sizeof hdr, "%.*s", (int)(n < 255 ? n : 255), line);
            for (char *q = hdr; *q; q++)
                if ((unsigned char)*q < 0x20)
                    *q = '?'; /* the message stays one line */
            int hr = parse_hunk_header(hdr, &a, &b, &c, &d);
            if (hr == -2)
                return errmsg_set(err, OCT_EFORMAT, "%s:%ld: hunk header '%.60s' has a line number or count past %ld",
                                  src, line_no, hdr, HUNK_MAX);
            if (hr)
                return errmsg_set(err, OCT_EFORMAT, "%s:%ld: malformed hunk header '%.60s' (expected @@ -A,B +C,D @@)",
                                  src, line_no, hdr);
            if (!in_patch)
                return errmsg_set(err, OCT_EFORMAT, "%s:%ld: a hunk before any file header (diff --git, --- and +++)",
                                  src, line_no);
            in_hunk = true;
            old_left = b;
            new_left = d;
            hunk_line = line_no;
            continue;
        }
        if (starts(line, n, "diff --git "))
            seen = 0; /* a new file header */
        /* git writes each extended header line once; libgit2 1.5 leaks
         * memory on some repeated ones, so they are refused here */
        for (int h = 0; HEADER_ONCE[h]; h++) {
            size_t hl = strlen(HEADER_ONCE[h]);
            if (starts(line, n, HEADER_ONCE[h])) {
                if (seen & (1u << h))
                    return errmsg_set(err, OCT_EFORMAT, "%s:%ld: '%.*s' appears twice in one file's header", src,
                                      line_no, (int)hl - 1, HEADER_ONCE[h]);
                seen |= 1u << h;
            }
        }
        if (starts(line, n, "diff --git ") || starts(line, n, "--- ")) {
            in_patch = true;
            continue;
        }
        if (n == 3 && starts(line, n, "-- "))
            after_sig = true; /* git format-patch's signature: the rest is not patch text */
        if (in_patch && !after_sig && hunk_line && n > 0 && (line[0] == ' ' || line[0] == '+' || line[0] == '-') &&
            !starts(line, n, "+++ ") && !starts(line, n, "--- ") && !(n == 3 && starts(line, n, "-- ")))
            return errmsg_set(err, OCT_EFORMAT,
                              "%s:%ld: a hunk line after the end of the hunk at line %ld (its header counts fewer "
                              "lines)",
                              src, line_no, hunk_line);
    }
    if (in_hunk && (old_left > 0 || new_left > 0))
        return errmsg_set(err, OCT_EFORMAT,
                          "%s: the patch ends inside the hunk at line %ld (%ld old and %ld new lines missing: "
                          "truncated?)",
                          src, hunk_line, old_left, new_left);
    return 0;
}

/* A repository-relative path that cannot leave the work tree or touch .git. */
static int check_path(const char *src, const char *path, errmsg_t *err)
{
    if (!*path)
        return errmsg_set(err, OCT_EFORMAT, "%s: a file with an empty path", src);
    for (const char *p = path; *p; p++)
        if ((unsigned char)*p < 0x20)
            return errmsg_set(err, OCT_EFORMAT, "%s: a path with a control character", src);
    if (path[0] == '/')
        return errmsg_set(err, OCT_EFORMAT, "%s: %s: absolute paths are refused", src, path);
    for (const char *p = path; *p;) {
        size_t n = strcspn(p, "/");
        if (n == 0 || (n == 1 && p[0] == '.') || (n == 2 && !strncmp(p, "..", 2)))
            return errmsg_set(err, OCT_EFORMAT, "%s: %s: paths with empty, '.' or '..' components are refused",
                              src, path);
        if (n == 4 && !strncasecmp(p, ".git", 4))
            return errmsg_set(err, OCT_EFORMAT, "%s: %s: a patch may not touch .git", src, path);
        p += n + (p[n] == '/');
    }
    return 0;
}

void patch_free(patch_t *p)
{
    if (!p)
        return;
    for (size_t i = 0; i < p->n_files; i++) {
        free((char *)p->files[i].old_path);
        free((char *)p->files[i].new_path);
    }
    free(p->files);
    git_diff_free(p->diff);
    free(p->text);
    free(p->source);
    free(p);
}

int patch_parse(patch_t **out, const char *text, size_t len, const char *source, errmsg_t *err)
{
    *out = NULL;
    int rc = gitlib_init(err);
    if (rc)
        return rc;
    patch_t *p = calloc(1, sizeof *p);
    const char *src = source ? source : "patch";
    if (!p || !(p->source = strdup(src)) || !(p->text = malloc(len + 1))) {
        if (p)
            free(p->source);
        free(p);
        return errmsg_set(err, OCT_ENOMEM, "out of memory");
    }
    memcpy(p->text, text, len);
    p->text[len] = '\0';
    p->len = len;
    size_t k = 0;
    while (k < len && isspace((unsigned char)text[k]))
        k++;
    if (k == len) {
        rc = errmsg_set(err, OCT_EFORMAT, "%s: the patch is empty", src);
        goto fail;
    }
    if (len > PATCH_MAX_BYTES) {
        rc = errmsg_set(err, OCT_EFORMAT, "%s: larger than %d MiB", src, PATCH_MAX_BYTES >> 20);
        goto fail;
    }
    if (memchr(text, '\0', len)) {
        rc = errmsg_set(err, OCT_EFORMAT, "%s: the patch contains a NUL byte (binary data?)", src);
        goto fail;
    }
    if ((rc = check_lines(src, text, len, err)))
        goto fail;
    bool git_hdr = !strncmp(p->text, "diff --git ", 11) || strstr(p->text, "\ndiff --git ");
    if (!git_hdr) {
        bool plain = !strncmp(p->text, "--- ", 4) || strstr(p->text, "\n--- ");
        rc = errmsg_set(err, OCT_EFORMAT, "%s: %s (octet applies diffs in git's format, as git diff writes them)", src,
                        plain ? "the patch has no 'diff --git' lines" : "no patch found");
        goto fail;
    }
    if (git_diff_from_buffer(&p->diff, p->text, len)) {
        rc = errmsg_set(err, OCT_EFORMAT, "%s: malformed patch: %s", src, git_msg());
        goto fail;
    }
    size_t n = git_diff_num_deltas(p->diff);
    if (n == 0) {
        rc = errmsg_set(err, OCT_EFORMAT, "%s: no file changes found (expected a unified diff with diff --git, --- "
                                          "and +++ lines)", src);
        goto fail;
    }
    if (!(p->files = calloc(n, sizeof *p->files))) {
        rc = errmsg_set(err, OCT_ENOMEM, "out of memory");
        goto fail;
    }
    for (size_t i = 0; i < n; i++) {
        const git_diff_delta *dl = git_diff_get_delta(p->diff, i);
        patch_file_t *f = &p->files[i];
        p->n_files = i + 1;
        const char *op = dl->old_file.path, *np = dl->new_file.path;
        switch (dl->status) {
        case GIT_DELTA_ADDED:
            f->status = PATCH_ADDED;
            op = NULL;
            break;
        case GIT_DELTA_DELETED:
            f->status = PATCH_DELETED;
            np = NULL;
            break;
        case GIT_DELTA_MODIFIED:
            f->status = PATCH_MODIFIED;
            break;
        case GIT_DELTA_RENAMED:
            f->status = PATCH_RENAMED;
            break;
        default:
            rc = errmsg_set(err, OCT_EUNSUPPORTED, "%s: %s: only additions, deletions, modifications and renames are "
                                                   "supported (not copies or type changes)", src, np ? np : "?");
            goto fail;
        }
        const char *name = np ? np : op;
        if (dl->flags & GIT_DIFF_FLAG_BINARY) {
            rc = errmsg_set(err, OCT_EUNSUPPORTED, "%s: %s: binary patches are not supported", src, name);
            goto fail;
        }
        uint32_t modes[2] = {dl->old_file.mode, dl->new_file.mode};
        for (int m = 0; m < 2; m++)
            if (modes[m] == GIT_FILEMODE_LINK || modes[m] == GIT_FILEMODE_COMMIT || modes[m] == GIT_FILEMODE_TREE) {
                rc = errmsg_set(err, OCT_EUNSUPPORTED, "%s: %s: symbolic links and submodules are not supported", src,
                                name);
                goto fail;
            }
        if ((op && (rc = check_path(src, op, err))) || (np && (rc = check_path(src, np, err))))
            goto fail;
        if ((op && !(f->old_path = strdup(op))) || (np && !(f->new_path = strdup(np)))) {
            rc = errmsg_set(err, OCT_ENOMEM, "out of memory");
            goto fail;
        }
        /* each path once: two changes of one file cannot be ordered safely */
        for (size_t j = 0; j < i; j++) {
            const char *mine[2] = {f->old_path, f->new_path};
            const char *theirs[2] = {p->files[j].old_path, p->files[j].new_path};
            for (int x = 0; x < 2; x++)
                for (int y = 0; y < 2; y++)
                    if (mine[x] && theirs[y] && !strcmp(mine[x], theirs[y])) {
                        rc = errmsg_set(err, OCT_EFORMAT, "%s: %s is changed twice in the patch", src, mine[x]);
                        goto fail;
                    }
        }
        git_patch *gp = NULL;
        if (git_patch_from_diff(&gp, p->diff, i)) {
            rc = errmsg_set(err, OCT_EFORMAT, "%s: %s: %s", src, name, git_msg());
            goto fail;
        }
        if (gp) {
            size_t ctx;
            f->hunks = git_patch_num_hunks(gp);
            git_patch_line_stats(&ctx, &f->additions, &f->deletions, gp);
            git_patch_free(gp);
        }
    }
    *out = p;
    return 0;
fail:
    patch_free(p);
    return rc;
}

size_t patch_n_files(const patch_t *p) { return p->n_files; }
const patch_file_t *patch_file(const patch_t *p, size_t i) { return i < p->n_files ? &p->files[i] : NULL; }
const char *patch_text(const patch_t *p) { return p->text; }

char *patch_summary(const patch_t *p)
{
    size_t add = 0, del = 0;
    for (size_t i = 0; i < p->n_files; i++) {
        add += p->files[i].additions;
        del += p->files[i].deletions;
    }
    char *s = NULL;
    if (asprintf(&s, "%zu file%s changed, %zu insertion%s(+), %zu deletion%s(-)", p->n_files,
                 p->n_files == 1 ? "" : "s", add, add == 1 ? "" : "s", del, del == 1 ? "" : "s") < 0)
        return NULL;
    return s;
}

/* ---- colors --------------------------------------------------------------- */

char *patch_colorize(const char *raw, bool color)
{
    /* the patch's text is untrusted: its control characters are shown as
     * escapes, never sent to the terminal */
    char *text = termsafe_str(raw, strlen(raw));
    if (!text || !color)
        return text;
    sbuf_t b = {0};
    long old_left = 0, new_left = 0, a, bb, c, d;
    for (const char *p = text; *p;) {
        size_t n = strcspn(p, "\n");
        const char *on = NULL;
        char hdr[256];
        snprintf(hdr, sizeof hdr, "%.*s", (int)(n < 255 ? n : 255), p);
        if (old_left > 0 || new_left > 0) {
            if (p[0] == '+') {
                on = "\033[32m";
                new_left--;
            } else if (p[0] == '-') {
                on = "\033[31m";
                old_left--;
            } else if (p[0] == ' ' || n == 0) {
                old_left--, new_left--;
            }
        } else if (!parse_hunk_header(hdr, &a, &bb, &c, &d)) {
            on = "\033[36m";
            old_left = bb;
            new_left = d;
        } else if (!strncmp(p, "diff --git", 10) || !strncmp(p, "--- ", 4) || !strncmp(p, "+++ ", 4) ||
                   !strncmp(p, "index ", 6) || !strncmp(p, "new file", 8) || !strncmp(p, "deleted file", 12) ||
                   !strncmp(p, "rename ", 7) || !strncmp(p, "similarity", 10) || !strncmp(p, "old mode", 8) ||
                   !strncmp(p, "new mode", 8)) {
            on = "\033[1m";
        }
        if (on)
            sb_add(&b, on);
        sb_addn(&b, p, n);
        if (on)
            sb_add(&b, "\033[0m");
        if (p[n] == '\n')
            sb_add(&b, "\n");
        p += n + (p[n] == '\n');
    }
    free(text);
    return sb_take(&b);
}

/* ---- diffs from a model's reply ------------------------------------------- */

/* Split TEXT (LEN bytes) at newlines, dropping a CR before each. */
static int lines_split(strv_t *l, const char *text, size_t len)
{
    for (size_t i = 0; i < len;) {
        const char *nl = memchr(text + i, '\n', len - i);
        size_t n = nl ? (size_t)(nl - text - i) : len - i;
        size_t m = n && text[i + n - 1] == '\r' ? n - 1 : n;
        if (strv_push(l, text + i, m))
            return -1;
        i += n + (nl ? 1 : 0);
    }
    return 0;
}

static bool is_fence(const char *line, const char **info)
{
    size_t ind = 0;
    while (ind < 4 && line[ind] == ' ')
        ind++;
    if (strncmp(line + ind, "```", 3))
        return false;
    if (info) {
        const char *p = line + ind + 3;
        while (*p == '`')
            p++;
        *info = p;
    }
    return true;
}

static bool section_start(const strv_t *l, size_t i)
{
    return !strncmp(l->v[i], "diff --git ", 11) ||
           (!strncmp(l->v[i], "--- ", 4) && i + 1 < l->n && !strncmp(l->v[i + 1], "+++ ", 4));
}

/* The lines of the diff in a reply: [*from, *to) of L. */
static bool find_diff(const strv_t *l, size_t *from, size_t *to)
{
    size_t best_from = 0, best_to = 0;
    int best = 0; /* 2: ```diff block with a file header, 1: another block with one */
    for (size_t i = 0; i < l->n; i++) {
        const char *info;
        if (!is_fence(l->v[i], &info))
            continue;
        size_t j = i + 1;
        while (j < l->n && !is_fence(l->v[j], NULL))
            j++;
        bool has = false;
        for (size_t k = i + 1; k < j && !has; k++)
            has = section_start(l, k);
        int rank = has ? (!strncmp(info, "diff", 4) || !strncmp(info, "patch", 5) ? 2 : 1) : 0;
        if (rank > best) {
            best = rank;
            best_from = i + 1;
            best_to = j;
        }
        i = j;
    }
    if (best) {
        *from = best_from;
        *to = best_to;
        return true;
    }
    for (size_t i = 0; i < l->n; i++)
        if (section_start(l, i)) {
            size_t j = i;
            while (j < l->n && !is_fence(l->v[j], NULL))
                j++;
            *from = i;
            *to = j;
            return true;
        }
    return false;
}

/* "a/src/x.c\t2024-01-01" -> "src/x.c"; "/dev/null" -> NULL (sets *devnull);
 * "" -> NULL. */
static char *header_path(const char *s, bool *devnull)
{
    while (*s == ' ')
        s++;
    size_t n = strcspn(s, "\t");
    while (n && s[n - 1] == ' ')
        n--;
    *devnull = n == 9 && !strncmp(s, "/dev/null", 9);
    if (*devnull || n == 0)
        return NULL;
    if (n > 2 && (s[0] == 'a' || s[0] == 'b') && s[1] == '/')
        s += 2, n -= 2;
    return strndup(s, n);
}

/* Lines of the working tree's file PATH (NULL when it cannot be read). */
static int read_lines(const char *root, const char *path, strv_t *out)
{
    char full[PATH_MAX * 2];
    snprintf(full, sizeof full, "%s%s", root, path);
    FILE *f = fopen(full, "rb");
    if (!f)
        return -1;
    sbuf_t b = {0};
    char chunk[8192];
    size_t r;
    while ((r = fread(chunk, 1, sizeof chunk, f)) > 0 && b.n < PATCH_MAX_BYTES)
        sb_addn(&b, chunk, r);
    fclose(f);
    if (b.oom)
        return -1;
    int rc = lines_split(out, b.s ? b.s : "", b.n);
    free(b.s);
    return rc;
}

typedef struct hunk {
    long a, c;
    size_t first, last; /* body lines in the source */
    char *tail;         /* text after the second @@ (a function name) */
} hunk_t;

/* LINE of a file equals hunk text T: exactly, or (LOOSE) once trailing
 * blanks are dropped from both. */
static bool same_line(const char *line, const char *t, bool loose)
{
    if (!loose)
        return !strcmp(line, t);
    size_t a = strlen(line), b = strlen(t);
    while (a && (line[a - 1] == ' ' || line[a - 1] == '\t'))
        a--;
    while (b && (t[b - 1] == ' ' || t[b - 1] == '\t'))
        b--;
    return a == b && !memcmp(line, t, a);
}

/* Where the hunk's old lines (context and removed) start in FILE: the
 * match (0-based) nearest to WANT, -1 when they are nowhere, -2 when two
 * matches are equally near (*OTHER: the second one). */
static long locate(const strv_t *file, const strv_t *body, size_t first, size_t last, long want, bool loose,
                   long *other)
{
    size_t n_old = 0;
    for (size_t k = first; k < last; k++)
        if (body->v[k][0] != '+' && body->v[k][0] != '\\')
            n_old++;
    if (n_old == 0 || n_old > file->n)
        return -1;
    long best = -1;
    bool tie = false;
    for (size_t s = 0; s + n_old <= file->n; s++) {
        size_t fi = s;
        bool ok = true;
        for (size_t k = first; k < last && ok; k++) {
            const char *ln = body->v[k];
            if (ln[0] == '+' || ln[0] == '\\')
                continue;
            ok = same_line(file->v[fi], ln[0] ? ln + 1 : ln, loose);
            fi++;
        }
        if (!ok)
            continue;
        long d = labs((long)s - want), bd = best < 0 ? -1 : labs(best - want);
        if (best < 0 || d < bd) {
            best = (long)s;
            tie = false;
        } else if (d == bd) {
            tie = true;
            *other = (long)s;
        }
    }
    return tie ? -2 : best;
}

/* NAME of a plain diff's header as a path of the work tree ROOT: itself, or
 * with leading folders dropped (`diff -ru old new` writes old/src/x.c), the
 * first that exists; NULL when none does. */
static char *existing_path(const char *root, const char *name)
{
    for (const char *s = name; s && *s; s = strchr(s, '/') ? strchr(s, '/') + 1 : NULL) {
        char full[PATH_MAX * 2];
        struct stat st;
        snprintf(full, sizeof full, "%s%s", root, s);
        if (!lstat(full, &st) && S_ISREG(st.st_mode))
            return strdup(s);
    }
    return NULL;
}

/* How a diff is normalized: model replies keep a hunk whose lines are
 * nowhere at its stated line (the check then says it does not apply);
 * patches given to apply are refused at once. Both refuse a hunk that
 * matches at two places equally near its stated line. */
typedef struct norm {
    const char *root; /* the work tree ('/' at the end), or NULL: no file to look at */
    bool strict;
    sbuf_t *out, *notes;
    errmsg_t *err;
} norm_t;

/* One file section of L, normalized into N->out: 0, 1 when its header
 * names no file, or OCT_E* with N->err set. */
static int emit_section(const strv_t *l, size_t from, size_t to, norm_t *nm)
{
    const char *root = nm->root;
    sbuf_t *out = nm->out;
    bool git_format = !strncmp(l->v[from], "diff --git ", 11);
    char *op = NULL, *np = NULL, *gop = NULL, *gnp = NULL;
    bool old_null = false, new_null = false, have_hdr = false;
    strv_t extra = {0}, file = {0};
    hunk_t *h = NULL;
    size_t nh = 0, i = from;
    int rc = OCT_ENOMEM; /* until set otherwise */
    if (!strncmp(l->v[i], "diff --git ", 11)) {
        /* "diff --git a/X b/Y": used when ---/+++ are absent (renames, modes) */
        const char *s = l->v[i] + 11, *sp = strstr(s, " b/");
        if (sp) {
            bool dn;
            char *left = strndup(s, (size_t)(sp - s));
            gop = left ? header_path(left, &dn) : NULL;
            free(left);
            gnp = header_path(sp + 1, &dn);
        }
        i++;
    }
    for (; i < to && strncmp(l->v[i], "@@", 2); i++) {
        const char *s = l->v[i];
        if (!strncmp(s, "--- ", 4)) {
            free(op);
            op = header_path(s + 4, &old_null);
            have_hdr = true;
        } else if (!strncmp(s, "+++ ", 4)) {
            free(np);
            np = header_path(s + 4, &new_null);
        } else if (!strncmp(s, "new file mode", 13) || !strncmp(s, "deleted file mode", 17) ||
                   !strncmp(s, "old mode", 8) || !strncmp(s, "new mode", 8) || !strncmp(s, "rename ", 7) ||
                   !strncmp(s, "similarity index", 16)) {
            bool dup = false;
            for (size_t k = 0; k < extra.n && !dup; k++)
                dup = !strcmp(extra.v[k], s);
            if (!dup && strv_push(&extra, s, strlen(s)))
                goto done;
        }
    }
    if (!have_hdr) {
        /* no --- line: the names of the diff --git line (a stray +++ is ignored) */
        free(op);
        free(np);
        op = gop, np = gnp;
        gop = gnp = NULL;
        old_null = new_null = false;
    }
    if ((!op && !old_null) || (!np && !new_null) || (old_null && new_null))
        goto bad;
    if (!git_format && root && (op || np)) {
        /* `diff -u x.c.orig x.c`, `diff -ru old new`: the file of the work
         * tree one of the names is (a new file keeps its name) */
        char *ro = op ? existing_path(root, op) : NULL, *rn = np ? existing_path(root, np) : NULL;
        char *pick = rn ? rn : ro;
        if (pick && op && np) {
            free(op);
            free(np);
            op = strdup(pick);
            np = strdup(pick);
            if (!op || !np) {
                free(ro);
                free(rn);
                goto done;
            }
        } else if (pick && op) {
            free(op);
            op = strdup(pick);
        }
        free(ro);
        free(rn);
    }
    const char *name = np ? np : op;
    sb_addf(out, "diff --git a/%s b/%s\n", op ? op : name, np ? np : name);
    bool has_new = false, has_del = false;
    for (size_t k = 0; k < extra.n; k++) {
        has_new |= !strncmp(extra.v[k], "new file mode", 13);
        has_del |= !strncmp(extra.v[k], "deleted file mode", 17);
    }
    if (old_null && !has_new)
        sb_add(out, "new file mode 100644\n");
    if (new_null && !has_del)
        sb_add(out, "deleted file mode 100644\n");
    for (size_t k = 0; k < extra.n; k++)
        sb_addf(out, "%s\n", extra.v[k]);
    if (!have_hdr)
        goto ok; /* a rename or mode change without content changes */
    sb_addf(out, "--- %s%s\n+++ %s%s\n", op ? "a/" : "", op ? op : "/dev/null", np ? "b/" : "", np ? np : "/dev/null");
    /* hunks: bodies end at the next header, a line that is not hunk text, or the section's end */
    while (i < to && !strncmp(l->v[i], "@@", 2)) {
        hunk_t *nhp = realloc(h, (nh + 1) * sizeof *h);
        if (!nhp)
            goto done;
        h = nhp;
        hunk_t *cur = &h[nh++];
        long b, d;
        cur->a = cur->c = 1;
        cur->tail = NULL;
        if (!parse_hunk_header(l->v[i], &cur->a, &b, &cur->c, &d)) {
            const char *t = strstr(l->v[i] + 2, "@@");
            cur->tail = strdup(t ? t + 2 : "");
        } else {
            /* a bare "@@" or numbers a model got wrong: located below */
            cur->a = cur->c = 0;
            cur->tail = strdup("");
        }
        if (!cur->tail)
            goto done;
        cur->first = ++i;
        while (i < to && strncmp(l->v[i], "@@", 2) && !section_start(l, i) &&
               (l->v[i][0] == ' ' || l->v[i][0] == '+' || l->v[i][0] == '-' || l->v[i][0] == '\\' || !l->v[i][0]))
            i++;
        cur->last = i;
        while (cur->last > cur->first && !l->v[cur->last - 1][0])
            cur->last--; /* blank lines after a hunk are not context */
    }
    if (np && !old_null && root)
        read_lines(root, op ? op : np, &file);
    long offset = 0;
    for (size_t k = 0; k < nh; k++) {
        long b = 0, d = 0;
        for (size_t j = h[k].first; j < h[k].last; j++) {
            char ch = l->v[j][0];
            if (ch == '-' || ch == ' ' || !ch)
                b++;
            if (ch == '+' || ch == ' ' || !ch)
                d++;
        }
        long a = h[k].a, at = -1, other = -1;
        bool loose = false;
        if (old_null) {
            a = 0;
        } else if (file.n) {
            long want = a > 0 ? a - 1 : 0;
            at = locate(&file, l, h[k].first, h[k].last, want, false, &other);
            if (at == -1) {
                at = locate(&file, l, h[k].first, h[k].last, want, true, &other);
                loose = at >= 0;
            }
            if (at == -2) {
                rc = errmsg_set(nm->err, OCT_EINVAL, "%s: hunk %zu (@@ -%ld @@): its lines are at line %ld and at line "
                                                     "%ld, equally near; refusing to guess (add context lines)",
                                name, k + 1, h[k].a, 2 * want - other + 1, other + 1);
                goto done;
            }
            if (at == -1 && nm->strict && b > 0) {
                rc = errmsg_set(nm->err, OCT_EINVAL, "%s: hunk %zu (@@ -%ld,%ld @@): its context and removed lines are "
                                                     "not in the file, not even ignoring trailing blanks", name, k + 1,
                                h[k].a, b);
                goto done;
            }
            if (at >= 0) {
                if (nm->notes && h[k].a > 0 && at + 1 != h[k].a)
                    sb_addf(nm->notes, "%s: hunk %zu applied %ld line%s %s (at line %ld, not %ld)\n", name, k + 1,
                            labs(at + 1 - h[k].a), labs(at + 1 - h[k].a) == 1 ? "" : "s",
                            at + 1 > h[k].a ? "lower" : "higher", at + 1, h[k].a);
                if (nm->notes && loose)
                    sb_addf(nm->notes, "%s: hunk %zu matched ignoring trailing blanks\n", name, k + 1);
                a = at + 1;
            }
        }
        /* "-A,0" inserts after line A; "+C,0" deletes after line C */
        long c = old_null ? 1 : (b == 0 ? a + 1 : a) + offset;
        if (d == 0)
            c = c > 0 ? c - 1 : 0;
        sb_addf(out, "@@ -%ld,%ld +%ld,%ld @@%s\n", a, b, c, d, h[k].tail);
        size_t fi = (size_t)(at >= 0 ? at : 0);
        for (size_t j = h[k].first; j < h[k].last; j++) {
            char ch = l->v[j][0];
            if (loose && (ch == ' ' || ch == '-' || !ch)) {
                /* the file's own text, which git then finds exactly */
                sb_addf(out, "%c%s\n", ch ? ch : ' ', file.v[fi++]);
                continue;
            }
            sb_addf(out, "%s\n", ch ? l->v[j] : " ");
        }
        offset += d - b;
    }
ok:
    rc = 0;
    goto done;
bad:
    rc = 1;
done:
    if (rc == OCT_ENOMEM)
        errmsg_set(nm->err, OCT_ENOMEM, "out of memory");
    for (size_t k = 0; k < nh; k++)
        free(h[k].tail);
    free(h);
    strv_free(&extra);
    strv_free(&file);
    free(op);
    free(np);
    free(gop);
    free(gnp);
    return rc;
}

/* Lines [FROM, TO) of L, file section by file section, into git's format. */
static int normalize(const strv_t *l, size_t from, size_t to, norm_t *nm)
{
    for (size_t i = from; i < to;) {
        if (!section_start(l, i)) {
            i++;
            continue;
        }
        /* a section: "diff --git" and its own ---/+++ pair, or a ---/+++ pair, then hunks */
        bool pair = !strncmp(l->v[i], "--- ", 4);
        size_t j = i + (pair ? 2 : 1);
        while (j < to && (!section_start(l, j) || (!pair && strncmp(l->v[j], "diff --git ", 11)))) {
            if (!pair && !strncmp(l->v[j], "--- ", 4) && section_start(l, j)) {
                pair = true;
                j += 2;
                continue;
            }
            if (!strncmp(l->v[j], "@@", 2))
                pair = true; /* hunks began: the next ---/+++ pair is another file */
            j++;
        }
        int r = emit_section(l, i, j, nm);
        if (r < 0)
            return r;
        if (r > 0)
            return errmsg_set(nm->err, OCT_EFORMAT, "the diff's file header at '%.60s' names no file (expected --- "
                                                    "a/FILE and +++ b/FILE)", l->v[i]);
        i = j;
    }
    if (nm->out->oom || (nm->notes && nm->notes->oom))
        return errmsg_set(nm->err, OCT_ENOMEM, "out of memory");
    return 0;
}

int patch_extract(const char *reply, const char *repo_dir, char **diff, errmsg_t *err)
{
    strv_t l = {0};
    sbuf_t out = {0};
    git_repository *repo = NULL;
    int rc = 0;
    size_t from, to;
    *diff = NULL;
    if ((rc = gitlib_init(err)))
        return rc;
    if (lines_split(&l, reply, strlen(reply))) {
        rc = errmsg_set(err, OCT_ENOMEM, "out of memory");
        goto done;
    }
    if (!find_diff(&l, &from, &to)) {
        rc = errmsg_set(err, OCT_ENOTFOUND, "the reply has no unified diff (a ```diff block with --- a/FILE and "
                                            "+++ b/FILE lines and @@ hunks)");
        goto done;
    }
    norm_t nm = {NULL, false, &out, NULL, err};
    if (repo_dir && !git_repository_open_ext(&repo, repo_dir, 0, NULL))
        nm.root = git_repository_workdir(repo);
    if ((rc = normalize(&l, from, to, &nm)))
        goto done;
    if (!out.n) {
        rc = errmsg_set(err, OCT_ENOTFOUND, "the reply's diff has no file changes");
        goto done;
    }
    *diff = sb_take(&out);
done:
    free(out.s);
    strv_free(&l);
    git_repository_free(repo);
    return rc;
}

int patch_normalize(const char *text, size_t len, const char *source, const char *repo_dir, char **diff,
                    char **notes, errmsg_t *err)
{
    strv_t l = {0};
    sbuf_t out = {0}, nb = {0};
    git_repository *repo = NULL;
    int rc = 0;
    size_t from = 0;
    *diff = NULL;
    *notes = NULL;
    if ((rc = gitlib_init(err)))
        return rc;
    if (lines_split(&l, text, len)) {
        rc = errmsg_set(err, OCT_ENOMEM, "out of memory");
        goto done;
    }
    while (from < l.n && !section_start(&l, from))
        from++;
    if (from == l.n) {
        rc = errmsg_set(err, OCT_EFORMAT, "%s: no patch found (a unified diff: --- FILE and +++ FILE lines, then "
                                          "@@ hunks)", source);
        goto done;
    }
    if (git_repository_open_ext(&repo, repo_dir, 0, NULL)) {
        rc = errmsg_set(err, OCT_EINVAL, "%s is not inside a git repository", repo_dir);
        goto done;
    }
    norm_t nm = {git_repository_workdir(repo), true, &out, &nb, err};
    if (!nm.root) {
        rc = errmsg_set(err, OCT_EINVAL, "%s: the repository has no work tree", repo_dir);
        goto done;
    }
    if ((rc = normalize(&l, from, l.n, &nm)))
        goto done;
    if (!out.n) {
        rc = errmsg_set(err, OCT_EFORMAT, "%s: the patch has no file changes", source);
        goto done;
    }
    *diff = sb_take(&out);
    *notes = nb.n ? sb_take(&nb) : NULL;
done:
    free(out.s);
    free(nb.s);
    strv_free(&l);
    git_repository_free(repo);
    return rc;
}

/* ---- the repository -------------------------------------------------------- */

typedef struct repo_ctx {
    git_repository *repo;
    const char *root; /* the work tree, ending in '/' */
    char undo_dir[PATH_MAX];
    char journal[PATH_MAX]; /* <git dir>/octet/journal: an apply or undo in progress */
    int lock_fd;
    git_odb *odb;
    git_odb_backend *mempack; /* owned by odb */
} repo_ctx_t;

static void repo_close(repo_ctx_t *r)
{
    if (r->lock_fd >= 0)
        close(r->lock_fd); /* releases the flock */
    /* each is NULL when libgit2 could not be loaded */
    if (r->mempack)
        git_mempack_reset(r->mempack);
    if (r->odb)
        git_odb_free(r->odb);
    if (r->repo)
        git_repository_free(r->repo);
    memset(r, 0, sizeof *r);
    r->lock_fd = -1;
}

static int repo_open(repo_ctx_t *r, const char *dir, errmsg_t *err)
{
    memset(r, 0, sizeof *r);
    r->lock_fd = -1;
    int rc = gitlib_init(err);
    if (rc)
        return rc;
    if (!dir)
        dir = ".";
    if (git_repository_open_ext(&r->repo, dir, 0, NULL)) {
        rc = errmsg_set(err, OCT_ENOTFOUND, "%s is not inside a git repository", dir);
        repo_close(r);
        return rc;
    }
    if (git_repository_is_bare(r->repo) || !(r->root = git_repository_workdir(r->repo))) {
        rc = errmsg_set(err, OCT_EUNSUPPORTED, "%s: a bare repository has no working tree to patch", dir);
        repo_close(r);
        return rc;
    }
    /* libgit2 writes blobs and trees while it checks and applies (even
     * git_apply in check mode): an in-memory object database in front of
     * the repository's keeps them out of .git/objects */
    git_odb_backend *mp = NULL;
    if (git_repository_odb(&r->odb, r->repo) || git_mempack_new(&mp) || git_odb_add_backend(r->odb, mp, 999)) {
        rc = errmsg_set(err, OCT_EINTERNAL, "libgit2: %s", git_msg());
        if (mp)
            mp->free(mp); /* not added: still ours */
        repo_close(r);
        return rc;
    }
    r->mempack = mp;
    snprintf(r->undo_dir, sizeof r->undo_dir, "%soctet/undo", git_repository_path(r->repo));
    snprintf(r->journal, sizeof r->journal, "%soctet/journal", git_repository_path(r->repo));
    return 0;
}

static int recover(repo_ctx_t *r, char **notice, errmsg_t *err);

static int mkdirs(const char *path, mode_t mode)
{
    char tmp[PATH_MAX];
    snprintf(tmp, sizeof tmp, "%s", path);
    for (char *p = tmp + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(tmp, mode) && errno != EEXIST)
            return -1;
        *p = '/';
    }
    return mkdir(tmp, mode) && errno != EEXIST ? -1 : 0;
}

/* One apply or undo at a time per repository. */
static int repo_lock(repo_ctx_t *r, errmsg_t *err)
{
    char lock[PATH_MAX + 16];
    if (mkdirs(r->undo_dir, 0755))
        return errmsg_set(err, OCT_EIO, "%s: %s", r->undo_dir, strerror(errno));
    snprintf(lock, sizeof lock, "%s.lock", r->undo_dir);
    r->lock_fd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (r->lock_fd < 0)
        return errmsg_set(err, OCT_EIO, "%s: %s", lock, strerror(errno));
    if (flock(r->lock_fd, LOCK_EX | LOCK_NB))
        return errmsg_set(err, OCT_EIO, "another octet apply or undo is running in this repository (%s)", lock);
    /* an apply or undo killed midway is finished or rolled back first */
    return recover(r, NULL, err);
}

static char *read_all(const char *path, size_t *len, int *e)
{
    FILE *f = fopen(path, "rb");
    *len = 0;
    if (!f) {
        *e = errno;
        return NULL;
    }
    sbuf_t b = {0};
    char chunk[65536];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0)
        sb_addn(&b, chunk, n);
    int bad = ferror(f);
    fclose(f);
    if (bad || b.oom) {
        free(b.s);
        *e = bad ? EIO : ENOMEM;
        return NULL;
    }
    *len = b.n;
    return sb_take(&b);
}

/* ---- touched files --------------------------------------------------------- */

typedef struct touch {
    char *path;
    bool existed, exists;      /* before / after */
    mode_t perm;               /* permission bits before (or to create with) */
    char *old_data, *new_data; /* contents before / after */
    size_t old_len, new_len;
    git_oid old_oid, new_oid;
    bool new_exec;
    bool done; /* written (or removed) by this operation */
} touch_t;

static void touches_free(touch_t *t, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(t[i].path);
        free(t[i].old_data);
        free(t[i].new_data);
    }
    free(t);
}

/* No component of PATH below ROOT may be a symbolic link, and the file
 * itself must be a regular file when it exists. */
static int check_disk(const char *root, const char *path, errmsg_t *err)
{
    char full[PATH_MAX * 2];
    struct stat st;
    size_t rl = strlen(root);
    snprintf(full, sizeof full, "%s%s", root, path);
    for (char *p = full + rl; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        int r = lstat(full, &st);
        if (!r && S_ISLNK(st.st_mode)) {
            int rc = errmsg_set(err, OCT_EINVAL, "%s: the directory %s is a symbolic link: refused", path, full + rl);
            *p = '/';
            return rc;
        }
        if (!r && !S_ISDIR(st.st_mode)) {
            int rc = errmsg_set(err, OCT_EINVAL, "%s: %s is not a directory", path, full + rl);
            *p = '/';
            return rc;
        }
        *p = '/';
        if (r)
            return 0; /* the rest does not exist yet */
    }
    if (!lstat(full, &st) && !S_ISREG(st.st_mode))
        return errmsg_set(err, OCT_EINVAL, "%s: not a regular file (%s): refused", path,
                          S_ISLNK(st.st_mode) ? "a symbolic link" : S_ISDIR(st.st_mode) ? "a directory" : "special");
    return 0;
}

static int read_touch(const char *root, touch_t *t, errmsg_t *err)
{
    char full[PATH_MAX * 2];
    struct stat st;
    snprintf(full, sizeof full, "%s%s", root, t->path);
    if (lstat(full, &st)) {
        if (errno != ENOENT)
            return errmsg_set(err, OCT_EIO, "%s: %s", t->path, strerror(errno));
        mode_t um = umask(0);
        umask(um);
        t->existed = false;
        t->perm = 0666 & ~um;
        return 0;
    }
    int e = 0;
    t->existed = true;
    t->perm = st.st_mode & 07777;
    if (!(t->old_data = read_all(full, &t->old_len, &e)))
        return errmsg_set(err, e == ENOMEM ? OCT_ENOMEM : OCT_EIO, "%s: %s", t->path, strerror(e));
    git_odb_hash(&t->old_oid, t->old_data, t->old_len, GIT_OBJECT_BLOB);
    return 0;
}

/* The set of paths P touches (old and new sides), with their current state. */
static int collect_touches(const patch_t *p, const char *root, touch_t **out, size_t *n, errmsg_t *err)
{
    touch_t *t = calloc(2 * p->n_files, sizeof *t);
    size_t k = 0;
    int rc = 0;
    if (!t)
        return errmsg_set(err, OCT_ENOMEM, "out of memory");
    for (size_t i = 0; i < p->n_files && !rc; i++) {
        const char *sides[2] = {p->files[i].old_path, p->files[i].new_path};
        for (int s = 0; s < 2 && !rc; s++) {
            if (!sides[s] || (s == 1 && sides[0] && !strcmp(sides[0], sides[1])))
                continue;
            if (!(t[k].path = strdup(sides[s]))) {
                rc = errmsg_set(err, OCT_ENOMEM, "out of memory");
                break;
            }
            k++;
            rc = read_touch(root, &t[k - 1], err);
        }
    }
    if (rc) {
        touches_free(t, k);
        return rc;
    }
    *out = t;
    *n = k;
    return 0;
}

typedef struct track {
    const char *path;
    int hunk;
    char header[128];
} track_t;

static int track_delta(const git_diff_delta *d, void *payload)
{
    track_t *t = payload;
    t->path = d->new_file.path ? d->new_file.path : d->old_file.path;
    t->hunk = 0;
    t->header[0] = '\0';
    return 0;
}

static int track_hunk(const git_diff_hunk *h, void *payload)
{
    track_t *t = payload;
    t->hunk++;
    snprintf(t->header, sizeof t->header, "%.*s", (int)strcspn(h->header, "\r\n"), h->header);
    return 0;
}

static int apply_error(const track_t *t, const char *what, errmsg_t *err)
{
    if (t->hunk)
        return errmsg_set(err, OCT_EINVAL, "%s: hunk %d (%s) does not apply to the working tree: %s", t->path ? t->path : "?",
                          t->hunk, t->header, what);
    return errmsg_set(err, OCT_EINVAL, "%s: the patch does not apply to the working tree: %s", t->path ? t->path : "?",
                      what);
}

static const char *dirty_reason(unsigned flags)
{
    if (flags & GIT_STATUS_CONFLICTED)
        return "has merge conflicts";
    if (flags & GIT_STATUS_IGNORED)
        return "is ignored by git (never committed)";
    if (flags & GIT_STATUS_WT_NEW)
        return "is untracked (never committed)";
    if (flags & (GIT_STATUS_INDEX_NEW | GIT_STATUS_INDEX_MODIFIED | GIT_STATUS_INDEX_DELETED |
                 GIT_STATUS_INDEX_RENAMED | GIT_STATUS_INDEX_TYPECHANGE))
        return "has staged changes that are not committed";
    if (flags & GIT_STATUS_WT_DELETED)
        return "was deleted in the working tree";
    if (flags & (GIT_STATUS_WT_MODIFIED | GIT_STATUS_WT_TYPECHANGE | GIT_STATUS_WT_RENAMED | GIT_STATUS_WT_UNREADABLE))
        return "has uncommitted changes";
    return NULL;
}

static bool octet_wrote(repo_ctx_t *r, const char *path);

/* PATH must not hold changes git has not committed, unless octet itself
 * wrote them there last (stacked edits). */
static int check_clean(repo_ctx_t *r, const char *path, errmsg_t *err)
{
    unsigned flags = 0;
    int e = git_status_file(&flags, r->repo, path);
    if (e == GIT_ENOTFOUND)
        return 0;
    if (e)
        return errmsg_set(err, OCT_EIO, "%s: git status failed: %s", path, git_msg());
    const char *why = dirty_reason(flags);
    if (why && !octet_wrote(r, path))
        return errmsg_set(err, OCT_EINVAL, "%s %s: commit or stash it first, or use --force", path, why);
    return 0;
}

static int check_repo(const patch_t *p, repo_ctx_t *r, bool force, errmsg_t *err)
{
    int rc;
    for (size_t i = 0; i < p->n_files; i++) {
        const patch_file_t *f = &p->files[i];
        const char *sides[2] = {f->old_path, f->new_path};
        for (int s = 0; s < 2; s++) {
            if (!sides[s])
                continue;
            if ((rc = check_disk(r->root, sides[s], err)))
                return rc;
            if (s == 1 && (f->status == PATCH_ADDED || f->status == PATCH_RENAMED)) {
                /* libgit2 would merge the new contents into an existing file */
                char full[PATH_MAX * 2];
                struct stat st;
                snprintf(full, sizeof full, "%s%s", r->root, sides[s]);
                if (!lstat(full, &st))
                    return errmsg_set(err, OCT_EINVAL, "%s already exists in the working tree (the patch %s it)",
                                      sides[s], f->status == PATCH_ADDED ? "creates" : "renames a file to");
                continue;
            }
            if (!force && (rc = check_clean(r, sides[s], err)))
                return rc;
        }
    }
    track_t t = {0};
    git_apply_options ao;
    git_apply_options_init(&ao, GIT_APPLY_OPTIONS_VERSION);
    ao.flags = GIT_APPLY_CHECK;
    ao.delta_cb = track_delta;
    ao.hunk_cb = track_hunk;
    ao.payload = &t;
    if (git_apply(r->repo, p->diff, GIT_APPLY_LOCATION_WORKDIR, &ao))
        return apply_error(&t, git_msg(), err);
    return 0;
}

int patch_paths_check(const char *repo_dir, const char *const *paths, size_t n, errmsg_t *err)
{
    repo_ctx_t r;
    int rc = repo_open(&r, repo_dir, err);
    for (size_t i = 0; rc == 0 && i < n; i++)
        rc = check_clean(&r, paths[i], err);
    repo_close(&r);
    return rc;
}

int patch_check(const patch_t *p, const char *repo_dir, bool force, errmsg_t *err)
{
    repo_ctx_t r;
    int rc = repo_open(&r, repo_dir, err);
    if (rc)
        return rc;
    rc = check_repo(p, &r, force, err);
    repo_close(&r);
    return rc;
}

/* New contents: the patch applied in memory to HEAD's tree with the touched
 * files as they are in the working tree (objects go to the in-memory
 * object database of repo_open). */
static int compute_new(const patch_t *p, repo_ctx_t *r, touch_t *t, size_t n, errmsg_t *err)
{
    git_index *idx = NULL, *post = NULL;
    git_object *head = NULL;
    git_tree *pre = NULL;
    git_oid tree_oid;
    int rc = 0;
    if (git_index_new(&idx)) {
        rc = errmsg_set(err, OCT_EINTERNAL, "libgit2: %s", git_msg());
        goto done;
    }
    if (!git_revparse_single(&head, r->repo, "HEAD^{tree}") && git_index_read_tree(idx, (git_tree *)head)) {
        rc = errmsg_set(err, OCT_EINTERNAL, "reading HEAD: %s", git_msg());
        goto done;
    }
    for (size_t i = 0; i < n; i++) {
        if (!t[i].existed) {
            git_index_remove(idx, t[i].path, 0);
            continue;
        }
        git_index_entry e;
        memset(&e, 0, sizeof e);
        e.path = t[i].path;
        e.mode = (t[i].perm & 0100) ? GIT_FILEMODE_BLOB_EXECUTABLE : GIT_FILEMODE_BLOB;
        if (git_blob_create_from_buffer(&e.id, r->repo, t[i].old_data, t[i].old_len) || git_index_add(idx, &e)) {
            rc = errmsg_set(err, OCT_EINTERNAL, "%s: %s", t[i].path, git_msg());
            goto done;
        }
    }
    if (git_index_write_tree_to(&tree_oid, idx, r->repo) || git_tree_lookup(&pre, r->repo, &tree_oid)) {
        rc = errmsg_set(err, OCT_EINTERNAL, "libgit2: %s", git_msg());
        goto done;
    }
    track_t tr = {0};
    git_apply_options ao;
    git_apply_options_init(&ao, GIT_APPLY_OPTIONS_VERSION);
    ao.delta_cb = track_delta;
    ao.hunk_cb = track_hunk;
    ao.payload = &tr;
    if (git_apply_to_tree(&post, r->repo, pre, p->diff, &ao)) {
        rc = apply_error(&tr, git_msg(), err);
        goto done;
    }
    for (size_t i = 0; i < n; i++) {
        const git_index_entry *pe = git_index_get_bypath(post, t[i].path, 0);
        t[i].exists = pe != NULL;
        if (!pe)
            continue;
        git_blob *blob = NULL;
        if (git_blob_lookup(&blob, r->repo, &pe->id)) {
            rc = errmsg_set(err, OCT_EINTERNAL, "%s: %s", t[i].path, git_msg());
            goto done;
        }
        t[i].new_len = (size_t)git_blob_rawsize(blob);
        t[i].new_data = malloc(t[i].new_len + 1);
        if (t[i].new_data)
            memcpy(t[i].new_data, git_blob_rawcontent(blob), t[i].new_len);
        git_blob_free(blob);
        if (!t[i].new_data) {
            rc = errmsg_set(err, OCT_ENOMEM, "out of memory");
            goto done;
        }
        t[i].new_oid = pe->id;
        /* a patch without mode lines keeps the file's mode (libgit2 resets it) */
        uint32_t mode = 0;
        for (size_t k = 0; k < git_diff_num_deltas(p->diff); k++) {
            const git_diff_delta *dl = git_diff_get_delta(p->diff, k);
            if (dl->new_file.path && !strcmp(dl->new_file.path, t[i].path))
                mode = dl->new_file.mode;
        }
        t[i].new_exec = mode ? mode == GIT_FILEMODE_BLOB_EXECUTABLE : (t[i].perm & 0100) != 0;
    }
done:
    git_index_free(post);
    git_tree_free(pre);
    git_object_free(head);
    git_index_free(idx);
    return rc;
}

/* ---- writing files --------------------------------------------------------- */

static mode_t perm_old(const touch_t *t) { return t->perm; }

static mode_t perm_new(const touch_t *t)
{
    return t->new_exec ? t->perm | ((t->perm & 0444) >> 2) : t->perm & ~(mode_t)0111;
}

/* The temporary file of file I of record ID, next to the file: names a
 * recovery can find again. */
static void tmp_name(char *buf, size_t size, const char *id, size_t i, bool reverse)
{
    snprintf(buf, size, ".octet-tmp-%s-%zu%s", id, i, reverse ? "r" : "");
}

/* Put the file in state FORWARD (the new contents) or not (the old ones)
 * at once: staged and committed (in-process rollbacks and recovery). */
static int put_state(patch_io_t *io, const touch_t *t, size_t i, const char *id, bool forward, errmsg_t *err)
{
    bool want = forward ? t->exists : t->existed;
    if (!want)
        return patch_io_remove(io, t->path, err);
    char tmp[96];
    tmp_name(tmp, sizeof tmp, id, i, true);
    int rc = patch_io_stage(io, t->path, tmp, forward ? t->new_data : t->old_data, forward ? t->new_len : t->old_len,
                            forward ? perm_new(t) : perm_old(t), err);
    if (!rc && ((rc = patch_io_sync(io, err)) || (rc = patch_io_commit(io, t->path, tmp, err))))
        patch_io_discard(io, t->path, tmp);
    return rc;
}

static void remove_record(const char *dir);

/* Make every touched file what FORWARD says (the new contents, or the old
 * ones), all or none, crash-safe: the journal "apply ID" / "undo ID" is
 * written first; every new version is then staged (fsync'd) next to its
 * file, and only then renamed into place, one by one; the journal is
 * cleared last. A crash at any point leaves the journal, and recover()
 * finishes or rolls back from the undo record. On a failure here the files
 * already changed are put back (for an apply, the record RECORD_DIR is
 * dropped first). */
static int write_all(repo_ctx_t *r, touch_t *t, size_t n, bool forward, const char *id, const char *record_dir,
                     errmsg_t *err)
{
    patch_io_t *io = NULL;
    char tmp[96];
    size_t i = 0, staged = 0;
    int rc;
    if ((rc = patch_io_open(&io, r->root, err)))
        return rc;
    if ((rc = patch_io_journal_write(r->journal, forward ? "apply" : "undo", id, err)))
        goto out;
    for (staged = 0; staged < n; staged++) {
        const touch_t *x = &t[staged];
        if (!(forward ? x->exists : x->existed))
            continue;
        tmp_name(tmp, sizeof tmp, id, staged, false);
        if ((rc = patch_io_stage(io, x->path, tmp, forward ? x->new_data : x->old_data,
                                 forward ? x->new_len : x->old_len, forward ? perm_new(x) : perm_old(x), err)))
            break;
    }
    if (!rc)
        rc = patch_io_sync(io, err); /* the new contents on disk before any rename */
    if (rc) {
        for (size_t k = 0; k < staged; k++) {
            tmp_name(tmp, sizeof tmp, id, k, false);
            patch_io_discard(io, t[k].path, tmp);
        }
        char msg[ERRMSG_MAX];
        snprintf(msg, sizeof msg, "%s", err ? err->msg : "write failed");
        if (forward)
            remove_record(record_dir);
        patch_io_journal_clear(r->journal, NULL);
        rc = errmsg_set(err, OCT_EIO, "%.400s; nothing was changed", msg);
        goto out;
    }
    for (i = 0; i < n; i++) {
        tmp_name(tmp, sizeof tmp, id, i, false);
        if ((forward ? t[i].exists : t[i].existed) ? (rc = patch_io_commit(io, t[i].path, tmp, err))
                                                   : (rc = patch_io_remove(io, t[i].path, err)))
            break;
        t[i].done = true;
    }
    if (!rc && !(rc = patch_io_sync(io, err)))
        goto out; /* the caller clears the journal after its last step */
    size_t restored = 0, failed = 0;
    for (size_t k = i + 1; k < n; k++) {
        tmp_name(tmp, sizeof tmp, id, k, false);
        patch_io_discard(io, t[k].path, tmp);
    }
    tmp_name(tmp, sizeof tmp, id, i, false);
    patch_io_discard(io, t[i].path, tmp);
    for (size_t k = i; k-- > 0;) {
        if (put_state(io, &t[k], k, id, !forward, NULL))
            failed++;
        else
            restored++;
        t[k].done = false;
    }
    char msg[ERRMSG_MAX];
    snprintf(msg, sizeof msg, "%s", err ? err->msg : "write failed");
    if (failed) {
        /* the journal stays: the next run tries again */
        rc = errmsg_set(err, OCT_EIO, "%.300s; restoring the %zu file%s written before failed for %zu of them", msg,
                        restored + failed, restored + failed == 1 ? "" : "s", failed);
        goto out;
    }
    if (forward)
        remove_record(record_dir);
    patch_io_journal_clear(r->journal, NULL);
    rc = errmsg_set(err, OCT_EIO, "%.300s; nothing was changed (%zu file%s written before %s restored)", msg, restored,
                    restored == 1 ? "" : "s", restored == 1 ? "was" : "were");
out:
    patch_io_close(io);
    return rc;
}

/* ---- undo records ----------------------------------------------------------- */

/* Drop the record DIR: renamed to DIR.tmp first, so that a crash while it
 * is being deleted never leaves a damaged record on the stack. */
static void remove_record(const char *dir)
{
    char gone[PATH_MAX + 80];
    size_t dl = strlen(dir);
    if (dl > 4 && !strcmp(dir + dl - 4, ".tmp")) {
        snprintf(gone, sizeof gone, "%s", dir);
    } else {
        snprintf(gone, sizeof gone, "%s.tmp", dir);
        if (rename(dir, gone) && errno == ENOENT)
            return;
        char parent[PATH_MAX + 80];
        snprintf(parent, sizeof parent, "%s", dir);
        char *slash = strrchr(parent, '/');
        if (slash) {
            *slash = '\0';
            patch_io_fsync_path(parent);
        }
    }
    dir = gone;
    DIR *d = opendir(dir);
    if (d) {
        struct dirent *e;
        while ((e = readdir(d)) != NULL) {
            if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
                continue;
            char path[PATH_MAX + 400];
            snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
            unlink(path);
        }
        closedir(d);
    }
    rmdir(dir);
}

/* The records on the stack: the highest id and how many there are. */
static long latest_id(const char *undo_dir, size_t *count)
{
    DIR *d = opendir(undo_dir);
    long best = 0;
    *count = 0;
    if (!d)
        return 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        char *end;
        long v = strtol(e->d_name, &end, 10);
        if (end == e->d_name || *end || v <= 0)
            continue;
        (*count)++;
        if (v > best)
            best = v;
    }
    closedir(d);
    return best;
}

static int write_blob_file(const char *path, const char *data, size_t len)
{
    FILE *f = fopen(path, "wb");
    if (!f)
        return -1;
    size_t w = fwrite(data, 1, len, f);
    if (fclose(f) || w != len)
        return -1;
    return 0;
}

static cJSON *state_json(bool exists, mode_t perm, const git_oid *oid)
{
    cJSON *o = cJSON_CreateObject();
    char hex[GIT_OID_HEXSZ + 1];
    if (!o || !cJSON_AddBoolToObject(o, "exists", exists)) {
        cJSON_Delete(o);
        return NULL;
    }
    if (exists && (!cJSON_AddNumberToObject(o, "perm", (double)perm) ||
                   !cJSON_AddStringToObject(o, "sha1", git_oid_tostr(hex, sizeof hex, oid)))) {
        cJSON_Delete(o);
        return NULL;
    }
    return o;
}

static int write_record(repo_ctx_t *r, const patch_t *p, const touch_t *t, size_t n, char *id, size_t id_size,
                        errmsg_t *err)
{
    size_t count;
    long next = latest_id(r->undo_dir, &count) + 1;
    char tmp[PATH_MAX + 64], final[PATH_MAX + 64], path[PATH_MAX + 128];
    snprintf(id, id_size, "%06ld", next);
    snprintf(tmp, sizeof tmp, "%s/%s.tmp", r->undo_dir, id);
    snprintf(final, sizeof final, "%s/%s", r->undo_dir, id);
    remove_record(tmp);
    if (mkdir(tmp, 0755))
        return errmsg_set(err, OCT_EIO, "cannot record the undo information in %s: %s", tmp, strerror(errno));
    cJSON *root = cJSON_CreateObject(), *files = NULL;
    char *json = NULL, *summary = patch_summary(p);
    char when[32];
    time_t now = time(NULL);
    struct tm tmv;
    strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", gmtime_r(&now, &tmv));
    bool ok = root && summary && cJSON_AddNumberToObject(root, "version", PATCH_RECORD_VERSION) &&
              cJSON_AddStringToObject(root, "created", when) && cJSON_AddStringToObject(root, "summary", summary) &&
              (files = cJSON_AddArrayToObject(root, "files"));
    for (size_t i = 0; ok && i < n; i++) {
        cJSON *f = cJSON_CreateObject(), *before = state_json(t[i].existed, perm_old(&t[i]), &t[i].old_oid),
              *after = state_json(t[i].exists, perm_new(&t[i]), &t[i].new_oid);
        ok = f && before && after && cJSON_AddStringToObject(f, "path", t[i].path);
        if (ok) {
            cJSON_AddItemToObject(f, "before", before);
            cJSON_AddItemToObject(f, "after", after);
            cJSON_AddItemToArray(files, f);
        } else {
            cJSON_Delete(f);
            cJSON_Delete(before);
            cJSON_Delete(after);
        }
        if (ok && t[i].existed) {
            snprintf(path, sizeof path, "%s/before-%zu", tmp, i);
            ok = !write_blob_file(path, t[i].old_data, t[i].old_len);
        }
    }
    if (ok && (json = cJSON_Print(root))) {
        snprintf(path, sizeof path, "%s/manifest.json", tmp);
        ok = !write_blob_file(path, json, strlen(json));
    } else {
        ok = false;
    }
    int e = errno;
    free(json);
    free(summary);
    cJSON_Delete(root);
    /* on disk (one syncfs for every file of it) before the journal names it */
    int dfd = ok ? open(tmp, O_RDONLY | O_DIRECTORY | O_CLOEXEC) : -1;
    if (ok && (dfd < 0 || syncfs(dfd)))
        ok = false;
    if (dfd >= 0)
        close(dfd);
    if (!ok || rename(tmp, final) || patch_io_fsync_path(r->undo_dir)) {
        if (ok)
            e = errno;
        remove_record(tmp);
        return errmsg_set(err, OCT_EIO, "cannot record the undo information in %s: %s", r->undo_dir, strerror(e));
    }
    return 0;
}

int patch_apply(const patch_t *p, const char *repo_dir, bool force, char **record_id, errmsg_t *err)
{
    repo_ctx_t r;
    touch_t *t = NULL;
    size_t n = 0;
    char id[32], dir[PATH_MAX + 64];
    int rc;
    if (record_id)
        *record_id = NULL;
    if ((rc = repo_open(&r, repo_dir, err)))
        return rc;
    if ((rc = repo_lock(&r, err)) || (rc = check_repo(p, &r, force, err)) ||
        (rc = collect_touches(p, r.root, &t, &n, err)) || (rc = compute_new(p, &r, t, n, err)) ||
        (rc = write_record(&r, p, t, n, id, sizeof id, err)))
        goto done;
    snprintf(dir, sizeof dir, "%s/%s", r.undo_dir, id);
    if ((rc = write_all(&r, t, n, true, id, dir, err)) || (rc = patch_io_journal_clear(r.journal, err)))
        goto done;
    if (record_id && !(*record_id = strdup(id)))
        rc = errmsg_set(err, OCT_ENOMEM, "out of memory (the patch was applied)");
done:
    touches_free(t, n);
    repo_close(&r);
    return rc;
}

void patch_undo_free(patch_undo_t *u)
{
    if (!u)
        return;
    for (size_t i = 0; i < u->n_files; i++)
        free(u->files[i].path);
    free(u->files);
    free(u->id);
    free(u->commit);
    free(u->created);
    free(u->summary);
    free(u->diff);
    free(u);
}

static int state_from_json(const cJSON *o, bool *exists, mode_t *perm, git_oid *oid)
{
    const cJSON *e = cJSON_GetObjectItemCaseSensitive(o, "exists");
    if (!cJSON_IsBool(e))
        return -1;
    *exists = cJSON_IsTrue(e);
    if (!*exists)
        return 0;
    const cJSON *pm = cJSON_GetObjectItemCaseSensitive(o, "perm"), *h = cJSON_GetObjectItemCaseSensitive(o, "sha1");
    if (!cJSON_IsNumber(pm) || pm->valuedouble < 0 || pm->valuedouble > 07777 || !cJSON_IsString(h) ||
        git_oid_fromstr(oid, h->valuestring))
        return -1;
    *perm = (mode_t)pm->valuedouble;
    return 0;
}

static int cmp_id_desc(const void *a, const void *b)
{
    long x = *(const long *)a, y = *(const long *)b;
    return x < y ? 1 : x > y ? -1 : 0;
}

/* True when the working tree's PATH holds exactly what octet's latest
 * record that touched it wrote there (its blob hash): a stacked edit. */
static bool octet_wrote(repo_ctx_t *r, const char *path)
{
    long ids[4096];
    size_t n = 0;
    DIR *d = opendir(r->undo_dir);
    if (!d)
        return false;
    for (struct dirent *e; (e = readdir(d)) != NULL && n < sizeof ids / sizeof *ids;) {
        char *end;
        long v = strtol(e->d_name, &end, 10);
        if (end != e->d_name && !*end && v > 0)
            ids[n++] = v;
    }
    closedir(d);
    qsort(ids, n, sizeof *ids, cmp_id_desc);
    char full[PATH_MAX * 2];
    snprintf(full, sizeof full, "%s%s", r->root, path);
    for (size_t i = 0; i < n; i++) {
        char mpath[PATH_MAX + 64];
        size_t len;
        int e;
        snprintf(mpath, sizeof mpath, "%s/%06ld/manifest.json", r->undo_dir, ids[i]);
        char *json = read_all(mpath, &len, &e);
        cJSON *root = json ? cJSON_ParseWithLength(json, len) : NULL;
        free(json);
        const cJSON *files = cJSON_GetObjectItemCaseSensitive(root, "files"), *f;
        bool found = false, same = false;
        cJSON_ArrayForEach(f, files)
        {
            const cJSON *pth = cJSON_GetObjectItemCaseSensitive(f, "path");
            if (!cJSON_IsString(pth) || strcmp(pth->valuestring, path))
                continue;
            bool exists;
            mode_t perm;
            git_oid want, have;
            found = true;
            char *data = NULL;
            size_t dlen = 0;
            if (!state_from_json(cJSON_GetObjectItemCaseSensitive(f, "after"), &exists, &perm, &want) && exists &&
                (data = read_all(full, &dlen, &e)) && !git_odb_hash(&have, data, dlen, GIT_OBJECT_BLOB))
                same = git_oid_equal(&want, &have);
            free(data);
            break;
        }
        cJSON_Delete(root);
        if (found)
            return same;
    }
    return false;
}

/* Load the latest record: T[i] has the recorded previous state as its old
 * side and the working tree's current state as its new side (what a
 * rollback of the undo restores). */
static int load_record(repo_ctx_t *r, patch_undo_t **info, touch_t **out, size_t *n_out, errmsg_t *err)
{
    size_t depth;
    long id = latest_id(r->undo_dir, &depth);
    char dir[PATH_MAX + 64], path[PATH_MAX + 128];
    touch_t *t = NULL;
    size_t n = 0;
    cJSON *root = NULL;
    char *json = NULL;
    int rc = 0, e = 0;
    patch_undo_t *u = calloc(1, sizeof *u);
    *info = NULL;
    *out = NULL;
    *n_out = 0;
    if (!u)
        return errmsg_set(err, OCT_ENOMEM, "out of memory");
    if (!id) {
        rc = errmsg_set(err, OCT_ENOTFOUND, "nothing to undo: no patch applied by octet is recorded in %s", r->undo_dir);
        goto fail;
    }
    snprintf(dir, sizeof dir, "%s/%06ld", r->undo_dir, id);
    snprintf(path, sizeof path, "%s/manifest.json", dir);
    size_t len;
    if (!(json = read_all(path, &len, &e)) || !(root = cJSON_ParseWithLength(json, len))) {
        rc = errmsg_set(err, OCT_EFORMAT, "%s: the undo record is unreadable%s%s", path, json ? "" : ": ",
                        json ? "" : strerror(e));
        goto fail;
    }
    const cJSON *ver = cJSON_GetObjectItemCaseSensitive(root, "version");
    const cJSON *files = cJSON_GetObjectItemCaseSensitive(root, "files");
    const cJSON *created = cJSON_GetObjectItemCaseSensitive(root, "created");
    const cJSON *summary = cJSON_GetObjectItemCaseSensitive(root, "summary");
    if (!cJSON_IsNumber(ver) || ver->valuedouble != PATCH_RECORD_VERSION || !cJSON_IsArray(files) ||
        !cJSON_IsString(created) || !cJSON_IsString(summary)) {
        rc = errmsg_set(err, OCT_EFORMAT, "%s: not an undo record of this version of octet", path);
        goto fail;
    }
    size_t nf = (size_t)cJSON_GetArraySize(files);
    if (asprintf(&u->id, "%06ld", id) < 0 || !(u->created = strdup(created->valuestring)) ||
        !(u->summary = strdup(summary->valuestring)) || !(t = calloc(nf ? nf : 1, sizeof *t)) ||
        !(u->files = calloc(nf ? nf : 1, sizeof *u->files))) {
        rc = errmsg_set(err, OCT_ENOMEM, "out of memory");
        goto fail;
    }
    u->depth = depth;
    const cJSON *f;
    cJSON_ArrayForEach(f, files)
    {
        const cJSON *pth = cJSON_GetObjectItemCaseSensitive(f, "path");
        touch_t *x = &t[n];
        git_oid after;
        bool after_exists;
        mode_t after_perm = 0;
        if (!cJSON_IsString(pth) || check_path("undo record", pth->valuestring, NULL) ||
            state_from_json(cJSON_GetObjectItemCaseSensitive(f, "before"), &x->existed, &x->perm, &x->old_oid) ||
            state_from_json(cJSON_GetObjectItemCaseSensitive(f, "after"), &after_exists, &after_perm, &after)) {
            rc = errmsg_set(err, OCT_EFORMAT, "%s: file %zu of the undo record is malformed", path, n);
            goto fail;
        }
        if (!(x->path = strdup(pth->valuestring))) {
            rc = errmsg_set(err, OCT_ENOMEM, "out of memory");
            goto fail;
        }
        n++;
        if (x->existed) {
            char bpath[PATH_MAX + 160];
            git_oid h;
            snprintf(bpath, sizeof bpath, "%s/before-%zu", dir, n - 1);
            if (!(x->old_data = read_all(bpath, &x->old_len, &e)) ||
                (git_odb_hash(&h, x->old_data, x->old_len, GIT_OBJECT_BLOB), git_oid_cmp(&h, &x->old_oid))) {
                rc = errmsg_set(err, OCT_EFORMAT, "%s: the saved contents of %s are missing or damaged", bpath,
                                x->path);
                goto fail;
            }
        }
        /* the working tree now */
        touch_t cur = {0};
        cur.path = x->path;
        if ((rc = check_disk(r->root, x->path, err)) || (rc = read_touch(r->root, &cur, err))) {
            free(cur.old_data);
            goto fail;
        }
        x->exists = cur.existed;
        x->new_data = cur.old_data;
        x->new_len = cur.old_len;
        x->new_oid = cur.old_oid;
        x->new_exec = (cur.perm & 0100) != 0;
        patch_undo_file_t *uf = &u->files[u->n_files++];
        uf->existed = x->existed;
        uf->exists = after_exists;
        uf->changed = after_exists != cur.existed || (after_exists && git_oid_cmp(&after, &cur.old_oid));
        u->n_changed += uf->changed;
        if (!(uf->path = strdup(x->path))) {
            rc = errmsg_set(err, OCT_ENOMEM, "out of memory");
            goto fail;
        }
    }
    /* what undoing does, as a diff from the working tree to the previous contents */
    sbuf_t d = {0};
    for (size_t i = 0; i < n; i++) {
        git_patch *gp = NULL;
        git_buf buf = {0};
        if (git_patch_from_buffers(&gp, t[i].exists ? t[i].new_data : NULL, t[i].exists ? t[i].new_len : 0, t[i].path,
                                   t[i].existed ? t[i].old_data : NULL, t[i].existed ? t[i].old_len : 0, t[i].path,
                                   NULL) ||
            (gp && git_patch_to_buf(&buf, gp))) {
            git_patch_free(gp);
            sb_addf(&d, "(%s: no diff: %s)\n", t[i].path, git_msg());
            continue;
        }
        if (buf.ptr)
            sb_addn(&d, buf.ptr, buf.size);
        git_buf_dispose(&buf);
        git_patch_free(gp);
    }
    if (!(u->diff = sb_take(&d))) {
        rc = errmsg_set(err, OCT_ENOMEM, "out of memory");
        goto fail;
    }
    cJSON_Delete(root);
    free(json);
    *info = u;
    *out = t;
    *n_out = n;
    return 0;
fail:
    cJSON_Delete(root);
    free(json);
    touches_free(t, n);
    patch_undo_free(u);
    return rc;
}

/* Records whose removal was interrupted (NNNNNN.tmp) or never completed. */
static void drop_stale_records(const char *undo_dir)
{
    DIR *d = opendir(undo_dir);
    if (!d)
        return;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        size_t l = strlen(e->d_name);
        if (l > 4 && !strcmp(e->d_name + l - 4, ".tmp") && isdigit((unsigned char)e->d_name[0])) {
            char path[PATH_MAX + 300];
            snprintf(path, sizeof path, "%s/%s", undo_dir, e->d_name);
            remove_record(path);
        }
    }
    closedir(d);
}

/* An apply or undo that did not finish (killed, power lost) left its
 * journal. An apply whose files all have their new contents is finished
 * (the journal dropped); otherwise every file is put back to the previous
 * contents saved in the undo record, which is dropped. An interrupted undo
 * is finished the same way. A file in neither state (changed since) is left
 * as it is and named. Leftover temporary files go too. */
static int recover(repo_ctx_t *r, char **notice, errmsg_t *err)
{
    char op[16], id[32], dir[PATH_MAX + 64], tmp[96];
    patch_undo_t *u = NULL;
    touch_t *t = NULL;
    size_t n = 0, restored = 0, left = 0;
    patch_io_t *io = NULL;
    struct stat st;
    sbuf_t msg = {0};
    if (notice)
        *notice = NULL;
    drop_stale_records(r->undo_dir);
    int rc = patch_io_journal_read(r->journal, op, sizeof op, id, sizeof id, err);
    if (rc == OCT_ENOTFOUND)
        return 0;
    if (rc)
        return rc;
    bool apply = !strcmp(op, "apply");
    if (!apply && strcmp(op, "undo"))
        return errmsg_set(err, OCT_EFORMAT, "%s: unknown operation '%s'", r->journal, op);
    snprintf(dir, sizeof dir, "%s/%s", r->undo_dir, id);
    if (stat(dir, &st)) {
        /* the record is gone: the operation had ended */
        return patch_io_journal_clear(r->journal, err);
    }
    if ((rc = load_record(r, &u, &t, &n, err)))
        goto out;
    if (strcmp(u->id, id)) {
        rc = errmsg_set(err, OCT_EFORMAT, "%s names record %s, but the newest record is %s: not recovered", r->journal,
                        id, u->id);
        goto out;
    }
    if ((rc = patch_io_open(&io, r->root, err)))
        goto out;
    for (size_t i = 0; i < n; i++) {
        tmp_name(tmp, sizeof tmp, id, i, false);
        patch_io_discard(io, t[i].path, tmp);
        tmp_name(tmp, sizeof tmp, id, i, true);
        patch_io_discard(io, t[i].path, tmp);
    }
    if (apply && u->n_changed == 0) {
        sb_addf(&msg, "an interrupted apply (undo record %s) had written every file: it is complete", id);
        rc = patch_io_journal_clear(r->journal, err);
        goto out;
    }
    for (size_t i = 0; i < n; i++) {
        bool at_before = t[i].exists == t[i].existed && (!t[i].existed || !git_oid_cmp(&t[i].new_oid, &t[i].old_oid));
        if (at_before)
            continue;
        if (u->files[i].changed) {
            sb_addf(&msg, "%s%s", left++ ? ", " : "", t[i].path);
            continue;
        }
        if ((rc = put_state(io, &t[i], i, id, false, err)))
            goto out;
        restored++;
    }
    char *leftover = sb_take(&msg);
    msg = (sbuf_t){0};
    sb_addf(&msg, "an interrupted %s (undo record %s) was %s: %zu file%s restored to %s previous contents", op, id,
            apply ? "rolled back" : "finished", restored, restored == 1 ? "" : "s", restored == 1 ? "its" : "their");
    if (left)
        sb_addf(&msg, "; %zu file%s changed since left as they are (%s)", left, left == 1 ? "" : "s",
                leftover ? leftover : "");
    free(leftover);
    remove_record(dir);
    rc = patch_io_journal_clear(r->journal, err);
out:
    if (!rc && notice && msg.s)
        *notice = sb_take(&msg);
    free(msg.s);
    patch_io_close(io);
    touches_free(t, n);
    patch_undo_free(u);
    return rc;
}

int patch_recover(const char *repo_dir, char **notice, errmsg_t *err)
{
    repo_ctx_t r;
    *notice = NULL;
    int rc = repo_open(&r, repo_dir, err);
    if (rc)
        return rc;
    char lock[PATH_MAX + 16];
    if (mkdirs(r.undo_dir, 0755)) {
        rc = errmsg_set(err, OCT_EIO, "%s: %s", r.undo_dir, strerror(errno));
    } else {
        snprintf(lock, sizeof lock, "%s.lock", r.undo_dir);
        r.lock_fd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
        if (r.lock_fd < 0)
            rc = errmsg_set(err, OCT_EIO, "%s: %s", lock, strerror(errno));
        else if (flock(r.lock_fd, LOCK_EX | LOCK_NB))
            rc = 0; /* an apply or undo is running: it is not interrupted */
        else
            rc = recover(&r, notice, err);
    }
    repo_close(&r);
    return rc;
}

int patch_undo_peek(const char *repo_dir, patch_undo_t **out, errmsg_t *err)
{
    repo_ctx_t r;
    touch_t *t = NULL;
    size_t n = 0;
    *out = NULL;
    int rc = repo_open(&r, repo_dir, err);
    if (rc)
        return rc;
    if ((rc = repo_lock(&r, err))) {
        repo_close(&r);
        return rc;
    }
    rc = load_record(&r, out, &t, &n, err);
    touches_free(t, n);
    repo_close(&r);
    return rc;
}

/* ---- commits ----------------------------------------------------------------- */

/* The paths record ID (under UNDO_DIR) touched, from its manifest. */
static int record_paths(const char *undo_dir, const char *id, char ***out, size_t *n_out, errmsg_t *err)
{
    char path[PATH_MAX + 64];
    size_t len;
    int e = 0;
    snprintf(path, sizeof path, "%s/%s/manifest.json", undo_dir, id);
    char *json = read_all(path, &len, &e);
    cJSON *root = json ? cJSON_ParseWithLength(json, len) : NULL;
    free(json);
    const cJSON *files = cJSON_GetObjectItemCaseSensitive(root, "files"), *f;
    size_t n = (size_t)cJSON_GetArraySize(files);
    char **v = calloc(n ? n : 1, sizeof *v);
    *out = NULL;
    *n_out = 0;
    if (!root || !cJSON_IsArray(files) || !v) {
        cJSON_Delete(root);
        free(v);
        return errmsg_set(err, OCT_EFORMAT, "%s: the undo record is unreadable", path);
    }
    size_t k = 0;
    cJSON_ArrayForEach(f, files)
    {
        const cJSON *pth = cJSON_GetObjectItemCaseSensitive(f, "path");
        if (cJSON_IsString(pth) && !(v[k++] = strdup(pth->valuestring)))
            break;
    }
    cJSON_Delete(root);
    *out = v;
    *n_out = k;
    return 0;
}

static void paths_free(char **v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(v[i]);
    free(v);
}

/* Set PATH's entry of index IDX to its entry in TREE (NULL: an empty tree),
 * or remove it when the tree has none. */
static int index_from_tree(git_index *idx, git_tree *tree, const char *path)
{
    git_tree_entry *te = NULL;
    if (!tree || git_tree_entry_bypath(&te, tree, path)) {
        git_index_remove_bypath(idx, path);
        return 0;
    }
    git_index_entry e;
    memset(&e, 0, sizeof e);
    e.mode = git_tree_entry_filemode(te);
    e.id = *git_tree_entry_id(te);
    e.path = path;
    int rc = git_index_add(idx, &e);
    git_tree_entry_free(te);
    return rc;
}

/* Commit N work-tree PATHS as they are now on top of HEAD (see
 * patch_commit), and note the commit in record RECORD_ID. */
static int commit_paths(const char *repo_dir, char **paths, size_t n, const char *record_id, const char *message,
                        char **commit_id, errmsg_t *err)
{
    git_repository *repo = NULL;
    git_index *tmp = NULL, *idx = NULL;
    git_commit *parent = NULL;
    git_tree *base = NULL, *tree = NULL;
    git_signature *sig = NULL;
    git_oid tree_oid, oid;
    char path[PATH_MAX * 2];
    int rc = 0;
    *commit_id = NULL;
    if ((rc = gitlib_init(err)))
        return rc;
    /* a handle of its own: the commit's objects go to .git/objects, not to the
     * in-memory database that apply's checks use */
    if (git_repository_open_ext(&repo, repo_dir ? repo_dir : ".", 0, NULL) || !git_repository_workdir(repo)) {
        rc = errmsg_set(err, OCT_ENOTFOUND, "%s is not inside a git repository with a work tree", repo_dir);
        goto done;
    }
    if (git_signature_default(&sig, repo)) {
        rc = errmsg_set(err, OCT_EINVAL, "git has no author to commit as (%s): set user.name and user.email with "
                                         "git config; the change is applied but not committed", git_msg());
        goto done;
    }
    int unborn = git_repository_head_unborn(repo);
    git_oid head;
    if (unborn < 0 || (!unborn && (git_reference_name_to_id(&head, repo, "HEAD") ||
                                   git_commit_lookup(&parent, repo, &head) || git_commit_tree(&base, parent)))) {
        rc = errmsg_set(err, OCT_EIO, "cannot read HEAD: %s", git_msg());
        goto done;
    }
    /* HEAD's tree with octet's paths as the work tree has them: never the user's other changes */
    if (git_index_new(&tmp) || (base && git_index_read_tree(tmp, base))) {
        rc = errmsg_set(err, OCT_EINTERNAL, "libgit2: %s", git_msg());
        goto done;
    }
    const char *root = git_repository_workdir(repo);
    for (size_t i = 0; i < n; i++) {
        struct stat st;
        snprintf(path, sizeof path, "%s%s", root, paths[i]);
        if (lstat(path, &st)) {
            git_index_remove_bypath(tmp, paths[i]);
            continue;
        }
        git_index_entry e;
        memset(&e, 0, sizeof e);
        e.mode = st.st_mode & 0111 ? GIT_FILEMODE_BLOB_EXECUTABLE : GIT_FILEMODE_BLOB;
        e.path = paths[i];
        if (git_blob_create_from_workdir(&e.id, repo, paths[i]) || git_index_add(tmp, &e)) {
            rc = errmsg_set(err, OCT_EIO, "%s: cannot store it in git: %s", paths[i], git_msg());
            goto done;
        }
    }
    if (git_index_write_tree_to(&tree_oid, tmp, repo) || git_tree_lookup(&tree, repo, &tree_oid)) {
        rc = errmsg_set(err, OCT_EIO, "cannot write the commit's tree: %s", git_msg());
        goto done;
    }
    if (base && git_oid_equal(&tree_oid, git_tree_id(base))) {
        rc = errmsg_set(err, OCT_EINVAL, "nothing to commit: the files octet changed are as HEAD has them");
        goto done;
    }
    const git_commit *parents[1] = {parent};
    if (git_commit_create(&oid, repo, "HEAD", sig, sig, NULL, message, tree, parent ? 1 : 0, parents)) {
        rc = errmsg_set(err, OCT_EIO, "cannot commit: %s", git_msg());
        goto done;
    }
    /* the index follows for octet's paths only (the user's staged changes stay staged) */
    if (git_repository_index(&idx, repo) || git_index_read(idx, 0)) {
        rc = errmsg_set(err, OCT_EIO, "committed, but the index cannot be read: %s", git_msg());
        goto done;
    }
    for (size_t i = 0; i < n && rc == 0; i++)
        if (index_from_tree(idx, tree, paths[i]))
            rc = errmsg_set(err, OCT_EIO, "committed, but the index entry of %s: %s", paths[i], git_msg());
    if (rc == 0 && git_index_write(idx))
        rc = errmsg_set(err, OCT_EIO, "committed, but the index cannot be written: %s", git_msg());
    char hex[GIT_OID_HEXSZ + 1];
    git_oid_tostr(hex, sizeof hex, &oid);
    /* the undo record remembers the commit, so undo can take it back */
    snprintf(path, sizeof path, "%soctet/undo/%s/commit", git_repository_path(repo), record_id);
    if (rc == 0 && write_blob_file(path, hex, strlen(hex)))
        rc = errmsg_set(err, OCT_EIO, "committed as %s, but the undo record cannot note it: %s", hex, strerror(errno));
    if (!(*commit_id = strdup(hex)) && rc == 0)
        rc = errmsg_set(err, OCT_ENOMEM, "out of memory");
done:
    git_signature_free(sig);
    git_tree_free(tree);
    git_tree_free(base);
    git_commit_free(parent);
    git_index_free(tmp);
    git_index_free(idx);
    git_repository_free(repo);
    return rc;
}

static int undo_dir_of(const char *repo_dir, char *out, size_t size, errmsg_t *err)
{
    git_repository *repo = NULL;
    int rc = gitlib_init(err);
    if (rc)
        return rc;
    if (git_repository_open_ext(&repo, repo_dir ? repo_dir : ".", 0, NULL))
        return errmsg_set(err, OCT_ENOTFOUND, "%s is not inside a git repository", repo_dir);
    snprintf(out, size, "%soctet/undo", git_repository_path(repo));
    git_repository_free(repo);
    return 0;
}

int patch_commit(const char *repo_dir, const char *record_id, const char *message, char **commit_id, errmsg_t *err)
{
    char undo_dir[PATH_MAX], **paths = NULL;
    size_t n = 0;
    *commit_id = NULL;
    int rc = undo_dir_of(repo_dir, undo_dir, sizeof undo_dir, err);
    if (rc == 0 && (rc = record_paths(undo_dir, record_id, &paths, &n, err)) == 0)
        rc = commit_paths(repo_dir, paths, n, record_id, message, commit_id, err);
    paths_free(paths, n);
    return rc;
}

/* ---- what octet changed since a point (the TUI's /diff and /commit) ------- */

/* The records on the stack above SINCE (an id, or NULL: all), oldest first. */
static size_t records_since(const char *undo_dir, const char *since, long *ids, size_t max)
{
    long from = since ? strtol(since, NULL, 10) : 0;
    size_t n = 0;
    DIR *d = opendir(undo_dir);
    if (!d)
        return 0;
    for (struct dirent *e; (e = readdir(d)) != NULL && n < max;) {
        char *end;
        long v = strtol(e->d_name, &end, 10);
        if (end != e->d_name && !*end && v > from)
            ids[n++] = v;
    }
    closedir(d);
    qsort(ids, n, sizeof *ids, cmp_id_desc);
    for (size_t i = 0; i < n / 2; i++) {
        long t = ids[i];
        ids[i] = ids[n - 1 - i];
        ids[n - 1 - i] = t;
    }
    return n;
}

char *patch_latest_record(const char *repo_dir)
{
    char undo_dir[PATH_MAX];
    size_t count;
    if (undo_dir_of(repo_dir, undo_dir, sizeof undo_dir, NULL))
        return NULL;
    long id = latest_id(undo_dir, &count);
    char *s = NULL;
    if (id && asprintf(&s, "%06ld", id) < 0)
        s = NULL;
    return s;
}

int patch_since(const char *repo_dir, const char *since, char **diff, size_t *n_changes, errmsg_t *err)
{
    git_repository *repo = NULL;
    char undo_dir[PATH_MAX], id[32], path[PATH_MAX * 2];
    long ids[4096];
    sbuf_t out = {0};
    int rc = 0;
    *diff = NULL;
    *n_changes = 0;
    if ((rc = gitlib_init(err)))
        return rc;
    if (git_repository_open_ext(&repo, repo_dir ? repo_dir : ".", 0, NULL) || !git_repository_workdir(repo)) {
        rc = errmsg_set(err, OCT_ENOTFOUND, "%s is not inside a git repository with a work tree", repo_dir);
        goto done;
    }
    snprintf(undo_dir, sizeof undo_dir, "%soctet/undo", git_repository_path(repo));
    size_t n = records_since(undo_dir, since, ids, sizeof ids / sizeof *ids);
    *n_changes = n;
    /* each path once: from what it was before the first record that touched it to the work tree */
    char **seen = NULL;
    size_t n_seen = 0;
    for (size_t r = 0; r < n && rc == 0; r++) {
        char **paths = NULL;
        size_t np = 0;
        snprintf(id, sizeof id, "%06ld", ids[r]);
        if ((rc = record_paths(undo_dir, id, &paths, &np, err)))
            break;
        for (size_t k = 0; k < np && rc == 0; k++) {
            bool dup = false;
            for (size_t q = 0; q < n_seen && !dup; q++)
                dup = !strcmp(seen[q], paths[k]);
            if (dup)
                continue;
            char **ns = realloc(seen, (n_seen + 1) * sizeof *seen);
            if (!ns || !(ns[n_seen] = strdup(paths[k]))) {
                seen = ns ? ns : seen;
                rc = errmsg_set(err, OCT_ENOMEM, "out of memory");
                break;
            }
            seen = ns;
            n_seen++;
            size_t olen = 0, nlen = 0;
            int e;
            snprintf(path, sizeof path, "%s/%s/before-%zu", undo_dir, id, k);
            char *old = read_all(path, &olen, &e);
            snprintf(path, sizeof path, "%s%s", git_repository_workdir(repo), paths[k]);
            char *now = read_all(path, &nlen, &e);
            git_patch *gp = NULL;
            git_buf b = {0};
            char oname[PATH_MAX + 4], nname[PATH_MAX + 4];
            snprintf(oname, sizeof oname, "a/%s", paths[k]);
            snprintf(nname, sizeof nname, "b/%s", paths[k]);
            if (git_patch_from_buffers(&gp, old, olen, old ? oname : NULL, now, nlen, now ? nname : NULL, NULL) ||
                git_patch_to_buf(&b, gp))
                rc = errmsg_set(err, OCT_EINTERNAL, "%s: cannot diff it: %s", paths[k], git_msg());
            else if (b.size)
                sb_addf(&out, "diff --git a/%s b/%s\n%s", paths[k], paths[k],
                        b.ptr + (strncmp(b.ptr, "diff --git", 10) ? 0 : strcspn(b.ptr, "\n") + 1));
            git_buf_dispose(&b);
            git_patch_free(gp);
            free(old);
            free(now);
        }
        paths_free(paths, np);
    }
    paths_free(seen, n_seen);
    if (rc == 0 && out.oom)
        rc = errmsg_set(err, OCT_ENOMEM, "out of memory");
    if (rc == 0)
        *diff = out.n ? sb_take(&out) : strdup("");
    if (rc == 0 && !*diff)
        rc = errmsg_set(err, OCT_ENOMEM, "out of memory");
done:
    free(out.s);
    git_repository_free(repo);
    return rc;
}

int patch_commit_since(const char *repo_dir, const char *since, const char *message, char **commit_id, errmsg_t *err)
{
    char undo_dir[PATH_MAX], id[32];
    long ids[4096];
    char **all = NULL;
    size_t n_all = 0;
    *commit_id = NULL;
    int rc = undo_dir_of(repo_dir, undo_dir, sizeof undo_dir, err);
    if (rc)
        return rc;
    size_t n = records_since(undo_dir, since, ids, sizeof ids / sizeof *ids);
    if (n == 0)
        return errmsg_set(err, OCT_ENOTFOUND, "nothing to commit: octet has applied no change here since then");
    for (size_t r = 0; r < n && rc == 0; r++) {
        char **paths = NULL;
        size_t np = 0;
        snprintf(id, sizeof id, "%06ld", ids[r]);
        if ((rc = record_paths(undo_dir, id, &paths, &np, err)))
            break;
        char **na = realloc(all, (n_all + np) * sizeof *all);
        if (!na) {
            paths_free(paths, np);
            rc = errmsg_set(err, OCT_ENOMEM, "out of memory");
            break;
        }
        all = na;
        for (size_t k = 0; k < np; k++) {
            bool dup = false;
            for (size_t q = 0; q < n_all && !dup; q++)
                dup = !strcmp(all[q], paths[k]);
            if (dup)
                free(paths[k]);
            else
                all[n_all++] = paths[k];
        }
        free(paths);
    }
    /* the newest record notes the commit: undo takes the commit back with it */
    snprintf(id, sizeof id, "%06ld", ids[n - 1]);
    if (rc == 0)
        rc = commit_paths(repo_dir, all, n_all, id, message, commit_id, err);
    paths_free(all, n_all);
    return rc;
}

/* Record DIR's commit, when it has one, must still be HEAD for undo to take
 * it back: 0 and *COMMIT (malloc'd, NULL without one), or OCT_EINVAL. */
static int record_commit(repo_ctx_t *r, const char *dir, char **commit, errmsg_t *err)
{
    char path[PATH_MAX * 2];
    size_t len;
    int e;
    *commit = NULL;
    snprintf(path, sizeof path, "%s/commit", dir);
    char *hex = read_all(path, &len, &e);
    if (!hex)
        return 0;
    git_oid want, head;
    if (len < GIT_OID_HEXSZ || git_oid_fromstrn(&want, hex, GIT_OID_HEXSZ)) {
        free(hex);
        return errmsg_set(err, OCT_EFORMAT, "%s: not a commit id", path);
    }
    hex[GIT_OID_HEXSZ] = '\0';
    if (git_reference_name_to_id(&head, r->repo, "HEAD") || !git_oid_equal(&want, &head)) {
        char now[GIT_OID_HEXSZ + 1] = "none";
        if (!git_reference_name_to_id(&head, r->repo, "HEAD"))
            git_oid_tostr(now, sizeof now, &head);
        int rc = errmsg_set(err, OCT_EINVAL, "the change was committed as %.12s and HEAD has moved since (now %.12s): "
                                             "nothing was restored; take it back with 'git revert %.12s'",
                            hex, now, hex);
        free(hex);
        return rc;
    }
    *commit = hex;
    return 0;
}

/* Move HEAD from COMMIT (hex) to its parent, and the index entries of the
 * files it changed to the parent's: the commit octet made is taken back. */
static int uncommit(const char *repo_dir, const char *commit, errmsg_t *err)
{
    git_repository *repo = NULL;
    git_commit *c = NULL, *parent = NULL;
    git_tree *tree = NULL;
    git_reference *head = NULL, *moved = NULL;
    git_index *idx = NULL;
    git_oid oid;
    int rc = 0;
    if (git_repository_open_ext(&repo, repo_dir ? repo_dir : ".", 0, NULL) || git_oid_fromstr(&oid, commit) ||
        git_commit_lookup(&c, repo, &oid)) {
        rc = errmsg_set(err, OCT_EIO, "the files are restored, but commit %.12s cannot be read: %s", commit, git_msg());
        goto done;
    }
    bool root_commit = git_commit_parentcount(c) == 0;
    if (!root_commit && (git_commit_parent(&parent, c, 0) || git_commit_tree(&tree, parent))) {
        rc = errmsg_set(err, OCT_EIO, "the files are restored, but the parent of %.12s: %s", commit, git_msg());
        goto done;
    }
    if (root_commit) {
        rc = errmsg_set(err, OCT_EUNSUPPORTED, "the files are restored; %.12s is the repository's first commit, which "
                                               "octet leaves in place", commit);
        goto done;
    }
    if (git_repository_head_detached(repo) ? git_repository_set_head_detached(repo, git_commit_id(parent))
                                           : (git_repository_head(&head, repo) ||
                                              git_reference_set_target(&moved, head, git_commit_id(parent),
                                                                       "octet undo"))) {
        rc = errmsg_set(err, OCT_EIO, "the files are restored, but HEAD cannot be moved back: %s", git_msg());
        goto done;
    }
    if (git_repository_index(&idx, repo) || git_index_read(idx, 0)) {
        rc = errmsg_set(err, OCT_EIO, "HEAD moved back, but the index cannot be read: %s", git_msg());
        goto done;
    }
    /* every path the commit changed (a /commit holds several records' files) */
    git_tree *ctree = NULL;
    git_diff *d = NULL;
    if (git_commit_tree(&ctree, c) || git_diff_tree_to_tree(&d, repo, tree, ctree, NULL))
        rc = errmsg_set(err, OCT_EIO, "HEAD moved back, but the commit's files: %s", git_msg());
    for (size_t i = 0; rc == 0 && i < git_diff_num_deltas(d); i++) {
        const git_diff_delta *dd = git_diff_get_delta(d, i);
        const char *pth = dd->new_file.path ? dd->new_file.path : dd->old_file.path;
        if (index_from_tree(idx, tree, pth))
            rc = errmsg_set(err, OCT_EIO, "HEAD moved back, but the index entry of %s: %s", pth, git_msg());
    }
    git_diff_free(d);
    git_tree_free(ctree);
    if (rc == 0 && git_index_write(idx))
        rc = errmsg_set(err, OCT_EIO, "HEAD moved back, but the index cannot be written: %s", git_msg());
done:
    git_index_free(idx);
    git_reference_free(moved);
    git_reference_free(head);
    git_tree_free(tree);
    git_commit_free(parent);
    git_commit_free(c);
    git_repository_free(repo);
    return rc;
}

int patch_undo(const char *repo_dir, bool force, patch_undo_t **done, errmsg_t *err)
{
    repo_ctx_t r;
    touch_t *t = NULL;
    size_t n = 0;
    patch_undo_t *u = NULL;
    char dir[PATH_MAX + 64];
    if (done)
        *done = NULL;
    int rc = repo_open(&r, repo_dir, err);
    if (rc)
        return rc;
    if ((rc = repo_lock(&r, err)) || (rc = load_record(&r, &u, &t, &n, err)))
        goto out;
    if (u->n_changed && !force) {
        sbuf_t b = {0};
        size_t shown = 0;
        for (size_t i = 0; i < u->n_files && shown < 5; i++)
            if (u->files[i].changed)
                sb_addf(&b, "%s%s", shown++ ? ", " : "", u->files[i].path);
        rc = errmsg_set(err, OCT_EINVAL, "%zu file%s changed since the patch was applied (%s%s): nothing was "
                                         "restored; use --force to restore the previous contents anyway",
                        u->n_changed, u->n_changed == 1 ? "" : "s", b.s ? b.s : "", u->n_changed > shown ? ", ..." : "");
        free(b.s);
        goto out;
    }
    snprintf(dir, sizeof dir, "%s/%s", r.undo_dir, u->id);
    if ((rc = record_commit(&r, dir, &u->commit, err)))
        goto out;
    /* the record goes before the journal "undo ID" is cleared: a crash in
     * between is finished by recover(), never redone */
    if ((rc = write_all(&r, t, n, false, u->id, dir, err)))
        goto out;
    remove_record(dir);
    if ((rc = patch_io_journal_clear(r.journal, err)))
        goto out;
    u->depth--;
    if (u->commit && (rc = uncommit(repo_dir, u->commit, err)))
        goto out;
    if (done) {
        *done = u;
        u = NULL;
    }
out:
    patch_undo_free(u);
    touches_free(t, n);
    repo_close(&r);
    return rc;
}
