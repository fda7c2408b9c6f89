/* test_sh.h - sh(DIR, FMT, ...): a shell command run in directory DIR, its
 * output discarded, for the retrieval tests that build repositories with
 * git. Header-only; include after test.h (not with test_repo.h, whose sh()
 * runs in the current directory). */
#ifndef OCTET_TEST_SH_H
#define OCTET_TEST_SH_H

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>

/* Run a shell command (printf-style) in directory DIR; returns its status. */
#if defined(__GNUC__)
__attribute__((format(printf, 2, 3)))
#endif
static inline int sh(const char *dir, const char *fmt, ...)
{
    char cmd[4096];
    int n = snprintf(cmd, sizeof cmd, "cd '%s' && (", dir);
    va_list ap;
    va_start(ap, fmt);
    n += vsnprintf(cmd + n, sizeof cmd - (size_t)n, fmt, ap);
    va_end(ap);
    snprintf(cmd + n, sizeof cmd - (size_t)n, ") >/dev/null 2>&1");
    int st = system(cmd);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

#endif
