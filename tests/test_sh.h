/* test_sh.h - sh(DIR, FMT, ...): a shell command run in directory DIR, its
 * output discarded, for the retrieval tests that build repositories with
 * git, and sh_test_home, their temporary home. Header-only; include after test.h (not with test_repo.h, whose sh()
 * runs in the current directory). */
#ifndef OCTET_TEST_SH_H
#define OCTET_TEST_SH_H

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

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

/* A new temporary directory for the test run, NAME its prefix, into TMP (N
 * bytes, under $TMPDIR or /tmp), made HOME so that git and libgit2 read
 * none of the host's configuration, with a fixed author. 0, or -1 (said on
 * stderr) when it cannot be made. */
static inline int sh_test_home(char *tmp, size_t n, const char *name)
{
    const char *t = getenv("TMPDIR");
    snprintf(tmp, n, "%s/%s-XXXXXX", t && *t ? t : "/tmp", name);
    if (!mkdtemp(tmp)) {
        perror("mkdtemp");
        return -1;
    }
    setenv("HOME", tmp, 1);
    setenv("XDG_CONFIG_HOME", tmp, 1);
    setenv("GIT_CONFIG_NOSYSTEM", "1", 1);
    setenv("GIT_CONFIG_GLOBAL", "/dev/null", 1);
    setenv("GIT_AUTHOR_NAME", "octet test", 1);
    setenv("GIT_AUTHOR_EMAIL", "test@octet.invalid", 1);
    setenv("GIT_COMMITTER_NAME", "octet test", 1);
    setenv("GIT_COMMITTER_EMAIL", "test@octet.invalid", 1);
    return 0;
}

#endif
