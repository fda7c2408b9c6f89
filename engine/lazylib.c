/* lazylib.c - a shared library opened when first needed (see lazylib.h). */
#include "lazylib.h"

#include <dlfcn.h>
#include <string.h>

int lazylib_open(const char *soname, const lazylib_sym_t *syms, size_t n, errmsg_t *err)
{
    void *h = dlopen(soname, RTLD_NOW | RTLD_LOCAL);
    if (!h) {
        const char *why = dlerror();
        return errmsg_set(err, OCT_ENOTFOUND, "cannot load %s: %.400s", soname, why ? why : "dlopen failed");
    }
    for (size_t i = 0; i < n; i++) {
        void *p = dlsym(h, syms[i].name);
        if (!p) {
            errmsg_set(err, OCT_ENOTFOUND, "%s has no %s: an unsupported version", soname, syms[i].name);
            dlclose(h);
            return OCT_ENOTFOUND;
        }
        /* POSIX guarantees a function's address survives the trip through
         * void *; memcpy says so without casting between pointer kinds */
        memcpy(syms[i].fn, &p, sizeof p);
    }
    return 0;
}
