/* lazylib.h - a shared library opened when first needed (private to serve/).
 * libcurl and libmicrohttpd are not linked into octet: with the TLS,
 * Kerberos and LDAP libraries they bring, loading them was about half of the
 * start-up of every command (docs/BENCHMARKS.md, "Third pass"), and only
 * `octet serve` and a remote engine use them. remote.c and server.c open
 * them with dlopen instead, the way the engine opens its CUDA plugin, and
 * call them through tables of function pointers. */
#ifndef OCTET_SERVE_LAZYLIB_H
#define OCTET_SERVE_LAZYLIB_H

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
