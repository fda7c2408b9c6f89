/* sandbox_ns.h - the kernel layers that isolate a sandboxed run (sandbox.h)
 * beyond its directory and rlimits: new user, PID, network, mount and IPC
 * namespaces, no capabilities, no_new_privs and a seccomp filter refusing
 * sockets (Landlock is sandbox.c's). A probe tells which layers this kernel
 * grants, so that a missing one can be named instead of silently skipped.
 *
 * The process tree of one run (all set up between fork and execve):
 *   the forked child enters the namespaces, then forks the reaper, PID 1 of
 *   the new PID namespace, which forks the process that locks itself down
 *   and execs the program. The reaper writes the program's wait status to
 *   a pipe and exits as soon as the program does; the kernel then kills
 *   every process left in the namespace, whatever it did (setsid, double
 *   fork), so nothing outlives the run. */
#ifndef OCTET_SANDBOX_NS_H
#define OCTET_SANDBOX_NS_H

#include <stddef.h>

enum {
    SANDBOX_L_USER = 1u << 0,     /* user namespace: no privilege outside */
    SANDBOX_L_PID = 1u << 1,      /* PID namespace: sees and outlives nothing */
    SANDBOX_L_NET = 1u << 2,      /* network namespace: no interface up, not even loopback */
    SANDBOX_L_MOUNT = 1u << 3,    /* mount namespace, private: its own /proc */
    SANDBOX_L_IPC = 1u << 4,      /* IPC namespace: no System V / POSIX IPC with outside */
    SANDBOX_L_CAPS = 1u << 5,     /* every capability dropped (bounding set too) */
    SANDBOX_L_NNP = 1u << 6,      /* no_new_privs: setuid files grant nothing */
    SANDBOX_L_SECCOMP = 1u << 7,  /* seccomp: no sockets but AF_UNIX pairs, no new namespaces, no io_uring */
    SANDBOX_L_LANDLOCK = 1u << 8, /* Landlock: reads and writes confined (sandbox.c) */
    SANDBOX_L_COUNT = 9,
    SANDBOX_L_ALL = (1u << SANDBOX_L_COUNT) - 1,
};

/* "user namespace", "seccomp", ... for one layer bit. */
const char *sandbox_layer_name(unsigned layer);

/* Which layers but Landlock this kernel grants: each is tried in a
 * throwaway child. For each missing one, WHY gets "name: reason; ". */
unsigned sandbox_ns_probe(char *why, size_t why_size);

/* What a process of the tree reports on ERR_FD when a step fails. */
typedef struct sandbox_ns_fail {
    unsigned layer; /* SANDBOX_L_*, or 0 for a plain system error (fork) */
    int err;        /* errno */
} sandbox_ns_fail_t;

/* In the child of fork, before anything else of the run: enter the
 * namespaces of LAYERS and build the tree. Returns 0 in the process that
 * must go on to execve; the intermediate processes never return (they exit
 * with the run). STATUS_FD receives the program's wait status (an int);
 * ERR_FD and STATUS_FD are closed in the intermediate processes once they
 * are not needed. On failure returns -1 after writing a sandbox_ns_fail_t
 * to ERR_FD. Async-signal-safe. */
int sandbox_ns_enter(unsigned layers, int status_fd, int err_fd);

/* In the process that execs, last before execve (after Landlock): drop
 * every capability, set no_new_privs and load the seccomp filter, as
 * LAYERS says. -1 after writing a sandbox_ns_fail_t to ERR_FD. */
int sandbox_ns_lockdown(unsigned layers, int err_fd);

#endif
