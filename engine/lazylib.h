/* lazylib.h - a shared library opened when first needed. libcurl,
 * libmicrohttpd and libgit2 are not linked into octet: loading them (and the
 * TLS, Kerberos and LDAP libraries they bring) was most of the start-up of
 * every command (docs/BENCHMARKS.md, "Third pass" and "Fifth pass"), and
 * only some commands use them. serve/ (remote.c, server.c) and rag/
 * (gitlib.c) open them with dlopen instead, the way the engine opens its CUDA
 * plugin, and call them through tables of function pointers. It lives with
 * errmsg.h, the error convention it reports in, below both. */
#ifndef OCTET_ENGINE_LAZYLIB_H
#define OCTET_ENGINE_LAZYLIB_H

#include <stddef.h>

#include "errmsg.h"

/* One function to find: its name in the library, and the function pointer
 * (of the function's own type) that receives it. */
typedef struct lazylib_sym {
    const char *name;
    void *fn; /* the address of the function pointer */
} lazylib_sym_t;

/* Open the library SONAME (for the life of the process) and fill the N
 * function pointers of SYMS. 0, or OCT_ENOTFOUND with the loader's reason
 * (the library missing, or a function it lacks) in ERR. */
int lazylib_open(const char *soname, const lazylib_sym_t *syms, size_t n, errmsg_t *err);

#endif
