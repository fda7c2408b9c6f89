/* test_sha1.c - base/sha1.c: the FIPS 180 examples, every split of the input
 * into updates, the SHA-extension path against the portable one on inputs of
 * every length around the block and padding boundaries, and git's blob ids
 * against `git hash-object` for files of those lengths. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sha1.h"
#include "test.h"

static void digest_hex(const void *p, size_t n, bool hw, char hex[SHA1_HEX_LEN + 1])
{
    sha1_t s;
    uint8_t d[SHA1_LEN];
    sha1_init(&s);
    s.hw = s.hw && hw;
    sha1_update(&s, p, n);
    sha1_final(&s, d);
    sha1_hex(d, hex);
}

static void test_fips(void)
{
    static const struct {
        const char *in, *out;
    } v[] = {
        {"", "da39a3ee5e6b4b0d3255bfef95601890afd80709"},
        {"abc", "a9993e364706816aba3e25717850c26c9cd0d89d"},
        {"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq", "84983e441c3bd26ebaae4aa1f95129e5e54670f1"},
        {"abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmnhijklmnoijklmnopjklmnopqklmnopqrlmnopqrsmnopqrst"
         "nopqrstu",
         "a49b2446a02c645bf419f995b67091253a04a259"},
    };
    char hex[SHA1_HEX_LEN + 1];
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++)
        for (int hw = 0; hw < 2; hw++) {
            digest_hex(v[i].in, strlen(v[i].in), hw, hex);
            CHECK_EQ_STR(hex, v[i].out);
        }
    /* a million 'a', fed in pieces of 1000 */
    char *a = malloc(1000);
    CHECK(a != NULL);
    if (!a)
        return;
    memset(a, 'a', 1000);
    for (int hw = 0; hw < 2; hw++) {
        sha1_t s;
        uint8_t d[SHA1_LEN];
        sha1_init(&s);
        s.hw = s.hw && hw;
        for (int k = 0; k < 1000; k++)
            sha1_update(&s, a, 1000);
        sha1_final(&s, d);
        sha1_hex(d, hex);
        CHECK_EQ_STR(hex, "34aa973cd4c4daa4f61eeb2bdbad27316534016f");
    }
    free(a);
}

/* Deterministic bytes, all 256 values. */
static void fill(unsigned char *p, size_t n, unsigned seed)
{
    for (size_t i = 0; i < n; i++) {
        seed = seed * 1103515245u + 12345u;
        p[i] = (unsigned char)(seed >> 16);
    }
}

static void test_splits_and_paths(void)
{
    unsigned char buf[300];
    fill(buf, sizeof buf, 7);
    for (size_t n = 0; n <= sizeof buf; n++) {
        char whole[SHA1_HEX_LEN + 1], port[SHA1_HEX_LEN + 1];
        digest_hex(buf, n, true, whole);
        digest_hex(buf, n, false, port);
        CHECKF(!strcmp(whole, port), "length %zu: %s (hardware) against %s (portable)", n, whole, port);
        /* two updates split at every point give the one-update digest */
        for (size_t cut = 0; cut <= n; cut += n < 140 ? 1 : 13) {
            sha1_t s;
            uint8_t d[SHA1_LEN];
            char hex[SHA1_HEX_LEN + 1];
            sha1_init(&s);
            sha1_update(&s, buf, cut);
            sha1_update(&s, buf + cut, n - cut);
            sha1_final(&s, d);
            sha1_hex(d, hex);
            CHECKF(!strcmp(hex, whole), "length %zu cut at %zu", n, cut);
        }
    }
    sha1_t s;
    uint8_t d[SHA1_LEN];
    char hex[SHA1_HEX_LEN + 1];
    sha1_init(&s);
    sha1_update(&s, NULL, 0);
    sha1_final(&s, d);
    sha1_hex(d, hex);
    CHECK_EQ_STR(hex, "da39a3ee5e6b4b0d3255bfef95601890afd80709");
}

/* What `git hash-object FILE` says, for the first N bytes of BUF. */
static void git_id(const unsigned char *buf, size_t n, char out[SHA1_HEX_LEN + 1])
{
    char path[] = "/tmp/octet-test-sha1-XXXXXX";
    int fd = mkstemp(path);
    out[0] = '\0';
    CHECK(fd >= 0);
    if (fd < 0)
        return;
    CHECK(write(fd, buf, n) == (ssize_t)n);
    close(fd);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "git hash-object '%s'", path);
    FILE *f = popen(cmd, "r");
    CHECK(f != NULL);
    if (f) {
        CHECK(fgets(out, SHA1_HEX_LEN + 1, f) != NULL);
        pclose(f);
    }
    unlink(path);
}

static void test_git_blob(void)
{
    static const size_t sizes[] = {0, 1, 47, 48, 55, 56, 63, 64, 65, 119, 120, 128, 1000, 4096, 100003};
    unsigned char *buf = malloc(100003);
    CHECK(buf != NULL);
    if (!buf)
        return;
    fill(buf, 100003, 11);
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        char ours[SHA1_HEX_LEN + 1], git[SHA1_HEX_LEN + 1];
        sha1_git_blob(buf, sizes[i], ours);
        git_id(buf, sizes[i], git);
        CHECKF(!strcmp(ours, git), "%zu bytes: %s, git says %s", sizes[i], ours, git);
    }
    free(buf);
}

int main(void)
{
    printf("# SHA extensions on this CPU: %s\n", sha1_hw_available() ? "yes" : "no (the portable path twice)");
    TEST_RUN(test_fips);
    TEST_RUN(test_splits_and_paths);
    TEST_RUN(test_git_blob);
    TEST_END();
}
