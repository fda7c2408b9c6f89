/* gitlib.c - libgit2, opened with dlopen when first needed (see gitlib.h). */
#include "gitlib.h"

#include <dlfcn.h>
#include <pthread.h>
#include <string.h>

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
    const struct {
        const char *name;
        void *fn; /* the address of the function pointer */
    } syms[] = {GITLIB_FUNCS(GITLIB_SYM)};
#undef GITLIB_SYM
    void *h = dlopen(soname, RTLD_NOW | RTLD_LOCAL);
    if (!h) {
        const char *why = dlerror();
        return errmsg_set(err, OCT_ENOTFOUND, "cannot load %s (libgit2, for git repositories): %.400s", soname,
                          why ? why : "dlopen failed");
    }
    for (size_t i = 0; i < sizeof syms / sizeof syms[0]; i++) {
        void *p = dlsym(h, syms[i].name);
        if (!p) {
            errmsg_set(err, OCT_ENOTFOUND, "%s has no %s: not the libgit2 %s octet was built for", soname,
                       syms[i].name, LIBGIT2_VERSION);
            dlclose(h);
            return OCT_ENOTFOUND;
        }
        /* POSIX guarantees a function's address survives the trip through
         * void *; memcpy says so without casting between pointer kinds */
        memcpy(syms[i].fn, &p, sizeof p);
    }
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
