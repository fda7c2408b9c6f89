/* test_repo.h - a temporary git repository for tests that need one (patches,
 * the TUI's workflows): shell commands, writing and reading files in it,
 * and a first commit. Header-only (inline, so that a test may use only some
 * of them); include after test.h. */
#ifndef OCTET_TEST_REPO_H
#define OCTET_TEST_REPO_H

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <unistd.h>

#include "test.h"

static char g_repo[256];

/* Run a shell command built from FMT; its exit status as system() gives it. */
static inline int sh(const char *fmt, ...)
{
    char cmd[4096];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cmd, sizeof cmd, fmt, ap);
    va_end(ap);
    return system(cmd);
}

/* Write TEXT to PATH in the repository, creating its directories. */
static inline void put(const char *path, const char *text)
{
    char full[1024];
    snprintf(full, sizeof full, "%s/%s", g_repo, path);
    char *slash = strrchr(full, '/');
    *slash = '\0';
    sh("mkdir -p '%s'", full);
    *slash = '/';
    FILE *f = fopen(full, "w");
    CHECKF(f != NULL, "cannot write %s", full);
    if (f) {
        fputs(text, f);
        fclose(f);
    }
}

/* Contents of PATH in the repository ("<absent>" when there is none), valid
 * until the next call. */
static inline const char *get(const char *path)
{
    static char got[65536];
    char full[1024];
    snprintf(full, sizeof full, "%s/%s", g_repo, path);
    FILE *f = fopen(full, "r");
    if (!f)
        return "<absent>";
    size_t n = fread(got, 1, sizeof got - 1, f);
    got[n] = '\0';
    fclose(f);
    return got;
}

static pid_t g_repo_owner;

/* At exit: the last repository goes too, so a test run leaves nothing in
 * /tmp. Only in the process that made it: a forked child's exit() must not
 * pull the repository from under its parent. */
static void repo_remove_at_exit(void)
{
    if (g_repo[0] && getpid() == g_repo_owner)
        sh("rm -rf '%s'", g_repo);
}

/* A fresh empty directory for the repository named after TAG (the previous
 * one removed). Fill it with put(), then repo_commit(). */
static inline void repo_dir(const char *tag)
{
    if (g_repo[0])
        sh("rm -rf '%s'", g_repo);
    if (!g_repo_owner) {
        g_repo_owner = getpid();
        atexit(repo_remove_at_exit);
    }
    snprintf(g_repo, sizeof g_repo, "/tmp/octet-test-%s-XXXXXX", tag);
    CHECK(mkdtemp(g_repo) != NULL);
}

/* git init and commit everything in it. */
static inline void repo_commit(void)
{
    CHECK(sh("cd '%s' && git init -q && git add . && git -c user.name=t -c user.email=t@t commit -qm init", g_repo) ==
          0);
}

#endif
