/* sandbox_ns.c - namespaces, the reaper that ends the PID namespace with the
 * run, dropping capabilities and the seccomp filter (see sandbox_ns.h).
 * Everything but the probe runs between fork and execve of a possibly
 * multithreaded program, so it sticks to async-signal-safe system calls. */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <linux/audit.h>
#include <linux/capability.h>
#include <linux/filter.h>
#include <linux/seccomp.h>

#include "sandbox_ns.h"

#if defined(__x86_64__)
#define SNS_ARCH AUDIT_ARCH_X86_64
#elif defined(__aarch64__)
#define SNS_ARCH AUDIT_ARCH_AARCH64
#endif

#ifndef PR_CAP_AMBIENT
#define PR_CAP_AMBIENT 47
#define PR_CAP_AMBIENT_CLEAR_ALL 4
#endif
#ifndef CLONE_NEWCGROUP
#define CLONE_NEWCGROUP 0x02000000
#endif
#ifndef SYS_clone3
#define SYS_clone3 435
#endif
#ifndef SYS_io_uring_setup
#define SYS_io_uring_setup 425
#endif
/* securebits: root gets no capabilities by execve or setuid, locked */
#define SNS_SECUREBITS 0x2f

const char *sandbox_layer_name(unsigned layer)
{
    switch (layer) {
    case SANDBOX_L_USER: return "user namespace";
    case SANDBOX_L_PID: return "PID namespace";
    case SANDBOX_L_NET: return "network namespace";
    case SANDBOX_L_MOUNT: return "mount namespace";
    case SANDBOX_L_IPC: return "IPC namespace";
    case SANDBOX_L_CAPS: return "dropping capabilities";
    case SANDBOX_L_NNP: return "no_new_privs";
    case SANDBOX_L_SECCOMP: return "seccomp";
    case SANDBOX_L_LANDLOCK: return "Landlock";
    default: return "?";
    }
}

static void report(int fd, unsigned layer, int e)
{
    sandbox_ns_fail_t f = {layer, e};
    if (fd >= 0) {
        ssize_t w = write(fd, &f, sizeof f);
        (void)w;
    }
}

/* Decimal of V into BUF (at least 12 bytes), without stdio. */
static size_t put_uint(char *buf, unsigned v)
{
    char tmp[12];
    size_t n = 0, k = 0;
    do {
        tmp[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    while (n)
        buf[k++] = tmp[--n];
    return k;
}

static int write_file(const char *path, const char *s, size_t n)
{
    int fd = open(path, O_WRONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    ssize_t w = write(fd, s, n);
    int e = errno;
    close(fd);
    errno = e;
    return w == (ssize_t)n ? 0 : -1;
}

/* Map the caller's own uid and gid into the new user namespace (the only
 * mapping an unprivileged process may write), so files keep their owner. */
static int write_id_maps(uid_t uid, gid_t gid)
{
    char line[40];
    size_t n = put_uint(line, uid);
    line[n++] = ' ';
    n += put_uint(line + n, uid);
    memcpy(line + n, " 1\n", 3);
    if (write_file("/proc/self/uid_map", line, n + 3))
        return -1;
    if (write_file("/proc/self/setgroups", "deny", 4) && errno != ENOENT)
        return -1;
    n = put_uint(line, gid);
    line[n++] = ' ';
    n += put_uint(line + n, gid);
    memcpy(line + n, " 1\n", 3);
    return write_file("/proc/self/gid_map", line, n + 3);
}

/* The namespaces of LAYERS, each unshared on its own so that a refusal names
 * its layer. The user namespace comes first: it grants the others. */
static int enter_namespaces(unsigned layers, unsigned *failed)
{
    static const struct {
        unsigned layer;
        int flag;
    } order[] = {
        {SANDBOX_L_USER, CLONE_NEWUSER}, {SANDBOX_L_NET, CLONE_NEWNET}, {SANDBOX_L_IPC, CLONE_NEWIPC},
        {SANDBOX_L_MOUNT, CLONE_NEWNS},  {SANDBOX_L_PID, CLONE_NEWPID},
    };
    uid_t uid = geteuid();
    gid_t gid = getegid();
    for (size_t i = 0; i < sizeof order / sizeof order[0]; i++) {
        if (!(layers & order[i].layer))
            continue;
        if (unshare(order[i].flag) || (order[i].layer == SANDBOX_L_USER && write_id_maps(uid, gid))) {
            *failed = order[i].layer;
            return -1;
        }
    }
    /* mounts made here stay here, and the PID namespace gets its own /proc
     * (best effort: a container's masked /proc may refuse a new one) */
    if (layers & SANDBOX_L_MOUNT && mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL)) {
        *failed = SANDBOX_L_MOUNT;
        return -1;
    }
    return 0;
}

static int drop_caps(void)
{
    bool root = geteuid() == 0;
    if (prctl(PR_SET_SECUREBITS, SNS_SECUREBITS, 0, 0, 0) && root)
        return -1;
    for (int c = 0; c <= 63; c++) {
        if (prctl(PR_CAPBSET_DROP, c, 0, 0, 0)) {
            if (errno == EINVAL)
                break; /* past the last capability this kernel knows */
            if (root)
                return -1;
            break; /* without CAP_SETPCAP: no_new_privs keeps execve from granting any */
        }
    }
    prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0);
    struct __user_cap_header_struct h = {_LINUX_CAPABILITY_VERSION_3, 0};
    struct __user_cap_data_struct d[2];
    memset(d, 0, sizeof d);
    if (syscall(SYS_capset, &h, d))
        return -1;
    if (syscall(SYS_capget, &h, d))
        return -1;
    for (int i = 0; i < 2; i++)
        if (d[i].effective || d[i].permitted || d[i].inheritable) {
            errno = EPERM;
            return -1;
        }
    return 0;
}

#ifdef SNS_ARCH
#define SNS_LD(off) BPF_STMT(BPF_LD | BPF_W | BPF_ABS, (off))
#define SNS_RET(v) BPF_STMT(BPF_RET | BPF_K, (v))
#define SNS_ERRNO(e) SNS_RET(SECCOMP_RET_ERRNO | ((e) & SECCOMP_RET_DATA))
#define SNS_NR offsetof(struct seccomp_data, nr)
#define SNS_ARG0 offsetof(struct seccomp_data, args[0])

static int load_seccomp(void)
{
    const uint32_t new_ns = CLONE_NEWUSER | CLONE_NEWNS | CLONE_NEWNET | CLONE_NEWPID | CLONE_NEWIPC |
                            CLONE_NEWUTS | CLONE_NEWCGROUP;
    struct sock_filter f[] = {
        /* 0 */ SNS_LD(offsetof(struct seccomp_data, arch)),
        /* 1 */ BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SNS_ARCH, 1, 0),
        /* 2 */ SNS_RET(SECCOMP_RET_KILL_PROCESS), /* another ABI (i386, x32 entry) */
        /* 3 */ SNS_LD(SNS_NR),
#if defined(__x86_64__)
        /* 4 */ BPF_JUMP(BPF_JMP | BPF_JGE | BPF_K, 0x40000000u, 0, 1),
        /* 5 */ SNS_RET(SECCOMP_RET_KILL_PROCESS), /* x32 system call numbers */
#else
        BPF_STMT(BPF_JMP | BPF_JA, 0), BPF_STMT(BPF_JMP | BPF_JA, 0),
#endif
        /* 6 */ BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_socket, 0, 1),
        /* 7 */ SNS_ERRNO(EACCES),
        /* 8 */ BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_socketpair, 0, 4),
        /* 9 */ SNS_LD(SNS_ARG0),
        /* 10 */ BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, AF_UNIX, 0, 1),
        /* 11 */ SNS_RET(SECCOMP_RET_ALLOW),
        /* 12 */ SNS_ERRNO(EACCES),
        /* 13 */ BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_unshare, 2, 0),
        /* 14 */ BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_setns, 1, 0),
        /* 15 */ BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_io_uring_setup, 0, 1),
        /* 16 */ SNS_ERRNO(EPERM),
        /* 17 */ BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_clone3, 0, 1),
        /* 18 */ SNS_ERRNO(ENOSYS), /* its flags are in memory: libc falls back to clone */
        /* 19 */ BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_clone, 0, 3),
        /* 20 */ SNS_LD(SNS_ARG0),
        /* 21 */ BPF_JUMP(BPF_JMP | BPF_JSET | BPF_K, new_ns, 0, 1),
        /* 22 */ SNS_ERRNO(EPERM),
        /* 23 */ SNS_RET(SECCOMP_RET_ALLOW),
    };
    struct sock_fprog prog = {(unsigned short)(sizeof f / sizeof f[0]), f};
    return prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog, 0, 0);
}
#else
static int load_seccomp(void)
{
    errno = ENOSYS; /* no filter written for this architecture */
    return -1;
}
#endif

int sandbox_ns_lockdown(unsigned layers, int err_fd)
{
    unsigned failed = 0;
    if (layers & SANDBOX_L_CAPS && drop_caps())
        failed = SANDBOX_L_CAPS;
    else if (layers & SANDBOX_L_NNP && prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0))
        failed = SANDBOX_L_NNP;
    else if (layers & SANDBOX_L_SECCOMP && load_seccomp())
        failed = SANDBOX_L_SECCOMP;
    if (!failed)
        return 0;
    report(err_fd, failed, errno);
    return -1;
}

static int wait_for(pid_t pid, int *st)
{
    pid_t w;
    while ((w = waitpid(pid, st, 0)) < 0 && errno == EINTR)
        ;
    return w == pid ? 0 : -1;
}

int sandbox_ns_enter(unsigned layers, int status_fd, int err_fd)
{
    unsigned failed = 0;
    int st = 0;
    if (enter_namespaces(layers, &failed)) {
        report(err_fd, failed, errno);
        return -1;
    }
    /* the reaper: PID 1 of the new namespace */
    pid_t reaper = fork();
    if (reaper < 0) {
        report(err_fd, 0, errno);
        return -1;
    }
    if (reaper > 0) {
        close(err_fd);
        close(status_fd);
        _exit(wait_for(reaper, &st) == 0 && WIFEXITED(st) ? WEXITSTATUS(st) : 125);
    }
    prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
    if (layers & SANDBOX_L_PID && layers & SANDBOX_L_MOUNT)
        mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL);
    pid_t prog = fork();
    if (prog < 0) {
        report(err_fd, 0, errno);
        _exit(125);
    }
    if (prog == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
        return 0;
    }
    close(err_fd);
    /* As PID 1 it also inherits every orphan: reap them until the program
     * itself ends; returning then ends the namespace and all left in it. */
    for (;;) {
        pid_t w = wait(&st);
        if (w == prog)
            break;
        if (w < 0 && errno != EINTR)
            _exit(125);
    }
    ssize_t n = write(status_fd, &st, sizeof st);
    _exit(n == (ssize_t)sizeof st ? 0 : 125);
}

/* The probe's child: tries each layer, writes the mask of those that worked
 * and, per missing layer, its errno, then exits. */
static void probe_child(int fd)
{
    int errs[SANDBOX_L_COUNT] = {0};
    unsigned ok = 0, failed = 0;
    /* each namespace alone first (a missing user namespace must not hide the
     * others), in a process of its own */
    for (unsigned l = SANDBOX_L_USER; l <= SANDBOX_L_IPC; l <<= 1) {
        pid_t p = fork();
        if (p == 0) {
            if (enter_namespaces(l, &failed))
                _exit(errno ? (errno & 0x7f) : 1);
            if (l == SANDBOX_L_PID) {
                pid_t q = fork();
                if (q == 0)
                    _exit(getpid() == 1 ? 0 : 1);
                int qs;
                _exit(q > 0 && wait_for(q, &qs) == 0 && WIFEXITED(qs) && WEXITSTATUS(qs) == 0 ? 0 : EPERM);
            }
            _exit(0);
        }
        int st;
        if (p > 0 && wait_for(p, &st) == 0 && WIFEXITED(st) && WEXITSTATUS(st) == 0)
            ok |= l;
        else
            errs[__builtin_ctz(l)] = p < 0 ? errno : WIFEXITED(st) ? WEXITSTATUS(st) : EINTR;
    }
    /* then everything together, as a run does, and the lockdown */
    unsigned ns = ok & (SANDBOX_L_USER | SANDBOX_L_PID | SANDBOX_L_NET | SANDBOX_L_MOUNT | SANDBOX_L_IPC);
    if (enter_namespaces(ns, &failed)) {
        errs[__builtin_ctz(failed)] = errno;
        ok &= ~failed;
    }
    if (drop_caps())
        errs[__builtin_ctz(SANDBOX_L_CAPS)] = errno;
    else
        ok |= SANDBOX_L_CAPS;
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0))
        errs[__builtin_ctz(SANDBOX_L_NNP)] = errno;
    else
        ok |= SANDBOX_L_NNP;
    if (load_seccomp()) {
        errs[__builtin_ctz(SANDBOX_L_SECCOMP)] = errno;
    } else {
        int s = socket(AF_INET, SOCK_DGRAM, 0);
        if (s < 0 && errno == EACCES)
            ok |= SANDBOX_L_SECCOMP;
        else
            errs[__builtin_ctz(SANDBOX_L_SECCOMP)] = EPERM;
    }
    ssize_t w = write(fd, &ok, sizeof ok);
    w = write(fd, errs, sizeof errs);
    (void)w;
    _exit(0);
}

unsigned sandbox_ns_probe(char *why, size_t why_size)
{
    int p[2];
    unsigned ok = 0;
    int errs[SANDBOX_L_COUNT] = {0};
    if (why_size)
        why[0] = '\0';
    if (pipe2(p, O_CLOEXEC)) {
        snprintf(why, why_size, "cannot probe the sandbox: %s", strerror(errno));
        return 0;
    }
    pid_t pid = fork();
    if (pid == 0) {
        close(p[0]);
        probe_child(p[1]);
    }
    close(p[1]);
    int st;
    if (pid < 0 || read(p[0], &ok, sizeof ok) != (ssize_t)sizeof ok ||
        read(p[0], errs, sizeof errs) != (ssize_t)sizeof errs) {
        ok = 0;
        for (int i = 0; i < SANDBOX_L_COUNT; i++)
            errs[i] = ECHILD;
    }
    close(p[0]);
    if (pid > 0)
        wait_for(pid, &st);
    size_t len = 0;
    for (unsigned l = 1; l < SANDBOX_L_LANDLOCK; l <<= 1) {
        if (ok & l)
            continue;
        int e = errs[__builtin_ctz(l)];
        int n = snprintf(why + len, why_size - len, "%s%s: %s", len ? "; " : "", sandbox_layer_name(l),
                         e ? strerror(e) : "refused");
        if (n < 0 || (size_t)n >= why_size - len)
            break;
        len += (size_t)n;
    }
    return ok;
}
