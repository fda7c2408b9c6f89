/* errmsg.h - the one error convention shared by octet's libraries.
 *
 * Library functions return an int status: 0 on success, one of the negative
 * OCT_E* codes on failure, and describe the failure in a caller-supplied
 * errmsg_t. The libraries never print or exit; the caller decides what the
 * user sees. Header-only so that rag/ and kernels/ can use it without linking
 * the engine. */
#ifndef OCTET_ERRMSG_H
#define OCTET_ERRMSG_H

#include <stdarg.h>
#include <stdio.h>

enum {
    OCT_OK = 0,
    OCT_EIO = -1,          /* open/read/write/mmap failed */
    OCT_EFORMAT = -2,      /* malformed or corrupted input */
    OCT_ENOMEM = -3,       /* allocation failed or request too large */
    OCT_EUNSUPPORTED = -4, /* valid input we do not handle */
    OCT_EINVAL = -5,       /* bad argument from the caller */
    OCT_ENOTFOUND = -6,    /* a key, tensor, token or file is absent */
    OCT_ECANCELED = -7,    /* stopped by a cancellation request */
    OCT_ETYPE = -8,        /* a value exists but has another type */
    OCT_EINTERNAL = -9,    /* a dependency failed unexpectedly */
};

#define ERRMSG_MAX 512

typedef struct errmsg {
    int code;
    char msg[ERRMSG_MAX];
} errmsg_t;

/* Record a failure and return its code, so callers can write
 * `return errmsg_set(err, OCT_EFORMAT, "...", ...);`. err may be NULL. */
#if defined(__GNUC__)
__attribute__((format(printf, 3, 4)))
#endif
static inline int errmsg_set(errmsg_t *err, int code, const char *fmt, ...)
{
    if (err) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err->msg, sizeof err->msg, fmt, ap);
        va_end(ap);
        err->code = code;
    }
    return code;
}

static inline void errmsg_clear(errmsg_t *err)
{
    if (err) {
        err->code = 0;
        err->msg[0] = '\0';
    }
}

#endif
