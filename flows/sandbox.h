/* sandbox.h - running untrusted code (a compiler, a generated test program,
 * a Python harness) in a temporary directory with a time limit, resource
 * limits and, where the kernel has Landlock, no write access outside that
 * directory.
 *
 * What a run gets:
 *   - its working directory is the sandbox's temporary directory, which
 *     sandbox_free removes with everything in it;
 *   - stdin is /dev/null; stdout and stderr go to one pipe, of which the
 *     first SANDBOX_OUTPUT_MAX bytes are kept;
 *   - its own process group, killed (SIGKILL) at the time limit and again
 *     when the run ends, so helpers it forked do not outlive it;
 *   - setrlimit: CPU seconds (the time limit, rounded up, + 1), address space
 *     (mem_mb), file size (SANDBOX_FSIZE_MAX), processes (the user's current
 *     count + SANDBOX_NPROC_EXTRA), no core files;
 *   - Landlock (ABI 1+): writing, creating, removing, renaming or truncating
 *     files is allowed only below the temporary directory (and writing to
 *     /dev/null); reading and executing stay allowed everywhere. With ABI 4+
 *     TCP bind/connect are denied, with ABI 6+ signals and abstract UNIX
 *     sockets outside the sandbox too.
 * Without Landlock (an old kernel, or a kernel built without it) the runs
 * still get the directory and the limits; sandbox_isolation says so, and
 * the caller should tell the user. */
#ifndef OCTET_SANDBOX_H
#define OCTET_SANDBOX_H

#include <stdbool.h>
#include <stddef.h>

#include "errmsg.h"

#define SANDBOX_OUTPUT_MAX (64 * 1024)
#define SANDBOX_FSIZE_MAX (64L * 1024 * 1024)
#define SANDBOX_NPROC_EXTRA 64
#define SANDBOX_DEFAULT_MEM_MB 2048

typedef struct sandbox sandbox_t;

/* Create a temporary directory (in $TMPDIR, else /tmp) and prepare the
 * Landlock ruleset for it. */
int sandbox_new(sandbox_t **out, errmsg_t *err);
/* Remove the directory and everything in it. */
void sandbox_free(sandbox_t *sb);

/* The temporary directory (absolute). */
const char *sandbox_dir(const sandbox_t *sb);
/* True when runs get every layer of sandbox_ns.h (namespaces, no
 * capabilities, no_new_privs, seccomp, Landlock). */
bool sandbox_confined(const sandbox_t *sb);
/* The layers this kernel refused and why ("user namespace: No space left
 * on device; ..."), "" when none. While any is missing, sandbox_run refuses
 * (OCT_EUNSUPPORTED) unless sandbox_set_unsafe(sb, true) was called; then
 * runs get the layers that work. */
const char *sandbox_missing(const sandbox_t *sb);
void sandbox_set_unsafe(sandbox_t *sb, bool unsafe);
/* Let runs read (and execute) PATH, a directory or a file, besides the
 * toolchain and the sandbox's directory: the code's include directories. */
int sandbox_allow_read(sandbox_t *sb, const char *path, errmsg_t *err);
/* One line describing the isolation: every layer in force, or "the
 * sandbox is incomplete on this system: missing ...". */
const char *sandbox_isolation(const sandbox_t *sb);

/* Write LEN bytes of DATA to NAME (a plain name) in the directory. */
int sandbox_write_file(sandbox_t *sb, const char *name, const char *data, size_t len, errmsg_t *err);
/* Read NAME from the directory into a malloc'd NUL-terminated buffer;
 * OCT_ENOTFOUND when it does not exist. At most MAX bytes are read. */
int sandbox_read_file(sandbox_t *sb, const char *name, size_t max, char **out, size_t *len, errmsg_t *err);

typedef struct sandbox_limits {
    double timeout_s; /* wall-clock limit; <= 0: none */
    long mem_mb;      /* address-space limit in MiB; <= 0: none */
} sandbox_limits_t;

typedef struct sandbox_result {
    bool timed_out;  /* killed at the time limit */
    bool signaled;   /* ended by a signal (including SIGKILL at the time limit) */
    int sig;         /* that signal */
    int status;      /* exit status when it exited */
    double seconds;  /* wall time */
    char *output;    /* stdout+stderr, NUL-terminated, at most SANDBOX_OUTPUT_MAX bytes kept */
    size_t output_len;
    bool output_truncated;
} sandbox_result_t;

/* Run ARGV (argv[0] looked up in PATH) in the directory, with ENV as its
 * whole environment (NULL-terminated "K=V" strings). Returns 0 when the
 * program ran (whatever its outcome, see *res) and OCT_E* when it could not
 * be started (e.g. not found: OCT_ENOTFOUND). Free res with
 * sandbox_result_free. */
int sandbox_run(sandbox_t *sb, char *const argv[], char *const env[], const sandbox_limits_t *lim,
                sandbox_result_t *res, errmsg_t *err);
void sandbox_result_free(sandbox_result_t *res);

/* "exited with status 3", "killed by signal 11 (SIGSEGV: segmentation fault)",
 * "did not finish within 5 s (killed)": a phrase for messages. */
void sandbox_describe(const sandbox_result_t *res, const sandbox_limits_t *lim, char *buf, size_t size);

#endif
