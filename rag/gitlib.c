/* gitlib.c - libgit2, opened with dlopen when first needed (see gitlib.h). */
#include "gitlib.h"

#include "lazylib.h"

#include <pthread.h>

/* the library the headers octet was built with describe: libgit2 changes its
 * ABI, and its soname, with every minor version */
#define GITLIB_SONAME "libgit2.so." LIBGIT2_SOVERSION

gitlib_fns_t gitlib_fn;

static pthread_once_t g_once = PTHREAD_ONCE_INIT;
static errmsg_t g_err;

int gitlib_open(gitlib_fns_t *table, const char *soname, errmsg_t *err)
{
#define GITLIB_SYM(n) {"git_" #n, &t.n},
    gitlib_fns_t t;
    const lazylib_sym_t syms[] = {GITLIB_FUNCS(GITLIB_SYM)};
#undef GITLIB_SYM
    errmsg_t e = {0};
    int rc = lazylib_open(soname, syms, sizeof syms / sizeof syms[0], &e);
    if (rc)
        return errmsg_set(err, rc, "%s (libgit2 %s, for git repositories)", e.msg, LIBGIT2_VERSION);
    /* whole or not at all: a table is never left half filled */
    *table = t;
    return 0;
}

static void gitlib_load(void)
{
    if (gitlib_open(&gitlib_fn, GITLIB_SONAME, &g_err) == 0)
        git_libgit2_init();
}

int gitlib_init(errmsg_t *err)
{
    pthread_once(&g_once, gitlib_load);
    if (g_err.code)
        return errmsg_set(err, g_err.code, "%s", g_err.msg);
    return 0;
}
