/* sha1.h - SHA-1 (FIPS 180-4), for the ids git gives blobs: the index
 * compares a file's id with the one it stored, and hashing it here spares
 * loading libgit2 and its dozen libraries (about 10 ms) in a search that
 * follows an edit. The x86 SHA extensions are used where the CPU has them,
 * portable C elsewhere; both give the same digest. Not a defence against
 * collision attacks (git's own hash detects them): octet only compares ids
 * it computed itself. No allocation; nothing but libc. */
#ifndef OCTET_SHA1_H
#define OCTET_SHA1_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SHA1_LEN 20
#define SHA1_HEX_LEN 40

typedef struct sha1 {
    uint32_t h[5];
    uint64_t len;   /* bytes hashed so far */
    uint8_t buf[64];
    size_t n_buf;   /* bytes waiting in BUF */
    bool hw;        /* the SHA extensions: set by sha1_init from the CPU, may be cleared before the first update */
} sha1_t;

void sha1_init(sha1_t *s);
void sha1_update(sha1_t *s, const void *data, size_t n);
/* The digest into OUT; S must be initialised again before further use. */
void sha1_final(sha1_t *s, uint8_t out[SHA1_LEN]);

/* Whether this CPU has the instructions the fast path needs. */
bool sha1_hw_available(void);

/* DIGEST as 40 lowercase hex digits and a NUL. */
void sha1_hex(const uint8_t digest[SHA1_LEN], char hex[SHA1_HEX_LEN + 1]);

/* The id git gives a blob holding the LEN bytes at DATA ("blob LEN\0" then
 * the bytes, hashed), in hex. */
void sha1_git_blob(const void *data, size_t len, char hex[SHA1_HEX_LEN + 1]);

#endif
