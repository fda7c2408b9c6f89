/* gitindex.c - the paths and modes of git's index file (see gitindex.h).
 *
 * The format (git's Documentation/gitformat-index.txt): a 12-byte header
 * ("DIRC", version, entry count), the entries, extensions, and a 20-byte
 * checksum. An entry is 40 bytes of stat data and mode, a 20-byte object id,
 * 16 bits of flags (and 16 more in version 3 and 4 when the "extended" flag
 * is set), then the path: NUL-terminated and padded with NULs to a multiple
 * of 8 bytes in versions 2 and 3; in version 4 a number of bytes to drop
 * from the end of the previous path followed by the NUL-terminated rest, no
 * padding. The checksum is not verified (no SHA-1 here): what this reader
 * returns is only ever compared with the list libgit2 read, which verified
 * it, so a damaged file either yields that same list or is refused. */
#include "gitindex.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "errmsg.h"

#define HDR 12
#define HASH 20
#define FIXED (40 + HASH + 2) /* stat data, mode, object id, flags */
#define F_EXTENDED 0x4000
#define S_TYPE 0170000
#define T_REG 0100000
#define T_LNK 0120000
#define T_GITLINK 0160000
/* a path longer than this is stored with its length field saturated */
#define NAME_MASK 0x0FFF

static uint32_t be32(const unsigned char *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

void gitindex_free(gitindex_t *g)
{
    free(g->v);
    free(g->names);
    memset(g, 0, sizeof *g);
}

/* Git's variable-length offset (version 4): 7 bits a byte, high bit set
 * while more follow, each continuation adding one. 0, or -1 when it runs
 * past END or overflows. */
static int varint(const unsigned char **p, const unsigned char *end, size_t *out)
{
    if (*p >= end)
        return -1;
    unsigned char c = *(*p)++;
    size_t v = c & 127;
    while (c & 128) {
        if (*p >= end || v > (SIZE_MAX >> 8))
            return -1;
        c = *(*p)++;
        v = ((v + 1) << 7) + (c & 127);
    }
    *out = v;
    return 0;
}

int gitindex_parse(const unsigned char *data, size_t n, gitindex_t *out)
{
    memset(out, 0, sizeof *out);
    if (n < HDR + HASH || memcmp(data, "DIRC", 4))
        return OCT_EFORMAT;
    uint32_t version = be32(data + 4), count = be32(data + 8);
    if (version < 2 || version > 4)
        return OCT_EFORMAT;
    const unsigned char *p = data + HDR, *end = data + n - HASH;
    /* every entry takes at least FIXED + 1 bytes: a count the file cannot
     * hold is damage, not a reason to allocate */
    if (count > (size_t)(end - p) / (FIXED + 1))
        return OCT_EFORMAT;
    /* the names take at most the file's size, plus the prefixes version 4
     * shares between them: grown as needed */
    size_t cap = n, used = 0, prev = 0, prev_len = 0;
    out->v = malloc((count ? count : 1) * sizeof *out->v);
    out->names = malloc(cap);
    if (!out->v || !out->names)
        goto oom;
    for (uint32_t i = 0; i < count; i++) {
        if ((size_t)(end - p) < FIXED)
            goto bad;
        const unsigned char *e = p;
        uint32_t mode = be32(e + 24);
        unsigned flags = (unsigned)e[FIXED - 2] << 8 | e[FIXED - 1];
        p += FIXED;
        if (flags & F_EXTENDED) {
            if (version < 3 || end - p < 2)
                goto bad;
            p += 2;
        }
        uint32_t type = mode & S_TYPE;
        if (type != T_REG && type != T_LNK && type != T_GITLINK)
            goto bad; /* a sparse index's directory entries, or damage */
        const unsigned char *name;
        size_t nl, drop = 0;
        if (version == 4 && varint(&p, end, &drop))
            goto bad;
        name = p;
        const unsigned char *nul = memchr(p, '\0', (size_t)(end - p));
        if (!nul)
            goto bad;
        nl = (size_t)(nul - p);
        p = nul + 1;
        size_t len = nl;
        if (version == 4) {
            if (drop > prev_len)
                goto bad;
            len = prev_len - drop + nl;
        } else {
            /* the entry is padded with 1 to 8 NULs to a multiple of 8 */
            size_t ent = (size_t)(nul - e) + 1;
            size_t pad = (8 - ent % 8) % 8;
            if ((size_t)(end - p) < pad)
                goto bad;
            for (size_t k = 0; k < pad; k++)
                if (p[k])
                    goto bad;
            p += pad;
        }
        if ((flags & NAME_MASK) != (len < NAME_MASK ? len : NAME_MASK) || len == 0)
            goto bad;
        if (used + len + 1 > cap) {
            size_t nc = cap * 2 > used + len + 1 ? cap * 2 : used + len + 1;
            char *nn = realloc(out->names, nc);
            if (!nn)
                goto oom;
            out->names = nn;
            cap = nc;
        }
        char *dst = out->names + used;
        if (version == 4) {
            memmove(dst, out->names + prev, prev_len - drop);
            memcpy(dst + prev_len - drop, name, nl);
        } else {
            memcpy(dst, name, nl);
        }
        dst[len] = '\0';
        if (memchr(dst, '\0', len))
            goto bad;
        /* offsets for now: names may still move when it grows */
        out->v[i].path = (const char *)(uintptr_t)used;
        out->v[i].mode = mode;
        out->v[i].stage = (flags >> 12) & 3;
        prev = used;
        prev_len = len;
        used += len + 1;
    }
    out->n = count;
    /* extensions: a signature starting with an upper-case letter is
     * optional (a cache the reader may ignore); any other changes what the
     * entries mean (a split index's "link", a sparse index's "sdir") */
    while (p < end) {
        if (end - p < 8 || p[0] < 'A' || p[0] > 'Z')
            goto bad;
        uint32_t sz = be32(p + 4);
        p += 8;
        if ((size_t)(end - p) < sz)
            goto bad;
        p += sz;
    }
    for (size_t i = 0; i < out->n; i++)
        out->v[i].path = out->names + (uintptr_t)out->v[i].path;
    return 0;
bad:
    gitindex_free(out);
    return OCT_EFORMAT;
oom:
    gitindex_free(out);
    return OCT_ENOMEM;
}

int gitindex_read(const char *path, gitindex_t *out)
{
    memset(out, 0, sizeof *out);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return OCT_EIO;
    struct stat st;
    unsigned char *buf = NULL;
    int rc = OCT_EIO;
    if (fstat(fd, &st) || !S_ISREG(st.st_mode))
        goto done;
    /* git refuses indexes this large too; it bounds the allocation */
    if (st.st_size > (off_t)1 << 30) {
        rc = OCT_EFORMAT;
        goto done;
    }
    size_t n = (size_t)st.st_size, got = 0;
    buf = malloc(n ? n : 1);
    if (!buf) {
        rc = OCT_ENOMEM;
        goto done;
    }
    while (got < n) {
        ssize_t r = read(fd, buf + got, n - got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            goto done; /* an error, or a file cut short while read */
        got += (size_t)r;
    }
    rc = gitindex_parse(buf, n, out);
done:
    free(buf);
    close(fd);
    return rc;
}
