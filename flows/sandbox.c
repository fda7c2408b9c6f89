/* sandbox.c - a temporary directory, rlimits, a time limit killing the
 * process group, and Landlock read and write confinement for the programs
 * that `octet check` runs, inside the namespaces, capability drop and
 * seccomp filter of sandbox_ns.c (see sandbox.h). Landlock is used through
 * raw system calls because libc has no wrappers; the constants newer than
 * the installed kernel headers are defined here with their upstream values. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <linux/landlock.h>

#include "sandbox.h"
#include "sandbox_ns.h"

#ifndef SYS_landlock_create_ruleset
#define SYS_landlock_create_ruleset 444
#endif
#ifndef SYS_landlock_add_rule
#define SYS_landlock_add_rule 445
#endif
#ifndef SYS_landlock_restrict_self
#define SYS_landlock_restrict_self 446
#endif

/* Access rights by ABI version (include/uapi/linux/landlock.h upstream). */
#define LL_FS_EXECUTE (1ULL << 0)
#define LL_FS_WRITE_FILE (1ULL << 1)
#define LL_FS_READ_FILE (1ULL << 2)
#define LL_FS_READ_DIR (1ULL << 3)
#define LL_FS_REMOVE_DIR (1ULL << 4)
#define LL_FS_REMOVE_FILE (1ULL << 5)
#define LL_FS_MAKE_CHAR (1ULL << 6)
#define LL_FS_MAKE_DIR (1ULL << 7)
#define LL_FS_MAKE_REG (1ULL << 8)
#define LL_FS_MAKE_SOCK (1ULL << 9)
#define LL_FS_MAKE_FIFO (1ULL << 10)
#define LL_FS_MAKE_BLOCK (1ULL << 11)
#define LL_FS_MAKE_SYM (1ULL << 12)
#define LL_FS_REFER (1ULL << 13)    /* ABI 2 */
#define LL_FS_TRUNCATE (1ULL << 14) /* ABI 3 */
#define LL_NET_BIND_TCP (1ULL << 0) /* ABI 4 */
#define LL_NET_CONNECT_TCP (1ULL << 1)
#define LL_SCOPE_ABSTRACT_UNIX (1ULL << 0) /* ABI 6 */
#define LL_SCOPE_SIGNAL (1ULL << 1)

/* The ruleset attribute as of ABI 6; older kernels are given a prefix of it. */
struct ll_ruleset_attr {
    uint64_t handled_access_fs;
    uint64_t handled_access_net;
    uint64_t scoped;
};

struct sandbox {
    char dir[PATH_MAX];
    int ruleset_fd; /* -1 without Landlock */
    int abi;
    long nproc_now; /* tasks of this user when the sandbox was made; -1 unknown */
    unsigned layers; /* SANDBOX_L_* this kernel granted */
    bool unsafe;     /* run even with layers missing */
    char missing[1024]; /* the missing layers and why; "" when none */
    char isolation[PATH_MAX + 1536];
};

/* What every run may read and execute besides its own directory: the
 * toolchain and the language runtimes in their usual places, and the few
 * files of /etc and /dev that the dynamic loader, compilers, shells and
 * Python use (the world-readable user and group lists spare every shell a
 * slow failed name lookup). Not /home, /root, the rest of /etc (no
 * /etc/shadow), /proc, /sys or /var. */
static const char *const READ_DIRS[] = {"/usr", "/lib", "/lib32", "/lib64", "/libx32", "/bin", "/sbin", "/opt",
                                        "/etc/alternatives", "/etc/ld.so.conf.d"};
static const char *const READ_FILES[] = {"/etc/ld.so.cache", "/etc/ld.so.conf", "/etc/localtime",
                                         "/etc/locale.alias", "/etc/passwd", "/etc/group",
                                         "/etc/nsswitch.conf", "/dev/urandom", "/dev/random", "/dev/zero"};
#define LL_READ_DIR_RIGHTS (LL_FS_EXECUTE | LL_FS_READ_FILE | LL_FS_READ_DIR)
#define LL_READ_FILE_RIGHTS (LL_FS_EXECUTE | LL_FS_READ_FILE)

static double now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

/* Tasks (threads) the real user has now, from /proc: RLIMIT_NPROC counts
 * them all, so the limit must be set above this count. */
static long count_user_tasks(void)
{
    DIR *d = opendir("/proc");
    if (!d)
        return -1;
    uid_t uid = getuid();
    long n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] < '1' || e->d_name[0] > '9')
            continue;
        char path[64], line[256];
        snprintf(path, sizeof path, "/proc/%.20s/status", e->d_name);
        FILE *f = fopen(path, "r");
        if (!f)
            continue;
        long ruid = -1, threads = 1;
        while (fgets(line, sizeof line, f)) {
            if (!strncmp(line, "Uid:", 4))
                ruid = strtol(line + 4, NULL, 10);
            else if (!strncmp(line, "Threads:", 8))
                threads = strtol(line + 8, NULL, 10);
        }
        fclose(f);
        if (ruid == (long)uid)
            n += threads;
    }
    closedir(d);
    return n;
}

static int ll_add_path(int ruleset, const char *path, uint64_t access)
{
    int fd = open(path, O_PATH | O_CLOEXEC);
    if (fd < 0)
        return -1;
    struct landlock_path_beneath_attr pb = {.allowed_access = access, .parent_fd = fd};
    long r = syscall(SYS_landlock_add_rule, ruleset, LANDLOCK_RULE_PATH_BENEATH, &pb, 0);
    int e = errno;
    close(fd);
    errno = e;
    return r ? -1 : 0;
}

/* Fork a child that confines itself and tries to create a file next to the
 * sandbox directory (must fail) and one inside it (must work): proof that
 * the ruleset does what it should on this kernel. Returns 0 when it does. */
static int ll_probe(const sandbox_t *sb, char *why, size_t why_size)
{
    char outside[PATH_MAX + 32], inside[PATH_MAX + 32];
    snprintf(outside, sizeof outside, "%s-probe", sb->dir);
    snprintf(inside, sizeof inside, "%s/probe", sb->dir);
    pid_t pid = fork();
    if (pid < 0) {
        snprintf(why, why_size, "fork failed: %s", strerror(errno));
        return -1;
    }
    if (pid == 0) {
        if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) || syscall(SYS_landlock_restrict_self, sb->ruleset_fd, 0))
            _exit(2);
        int fd = open(outside, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
        if (fd >= 0) {
            close(fd);
            unlink(outside);
            _exit(3);
        }
        fd = open(inside, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
        if (fd < 0)
            _exit(4);
        close(fd);
        unlink(inside);
        /* the directory above the sandbox's ($TMPDIR) is outside: unreadable */
        char *slash = strrchr(outside, '/');
        *slash = '\0';
        fd = open(*outside ? outside : "/", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd >= 0)
            _exit(5);
        _exit(0);
    }
    int st;
    while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
        ;
    int code = WIFEXITED(st) ? WEXITSTATUS(st) : 100;
    static const char *const what[] = {
        NULL, NULL, "landlock_restrict_self failed", "a write outside the directory was not blocked",
        "a write inside the directory was blocked", "a read outside the directory was not blocked",
    };
    if (code == 0)
        return 0;
    snprintf(why, why_size, "the Landlock self-test failed: %s",
             code < 6 && what[code] ? what[code] : "the probe process died");
    return -1;
}

static void ll_setup(sandbox_t *sb)
{
    char why[256];
    long abi = syscall(SYS_landlock_create_ruleset, NULL, 0, LANDLOCK_CREATE_RULESET_VERSION);
    if (abi < 1) {
        const char *reason = errno == ENOSYS       ? "the kernel has no Landlock system calls"
                             : errno == EOPNOTSUPP ? "Landlock is disabled (add landlock to the lsm= boot parameter)"
                                                   : strerror(errno);
        snprintf(sb->isolation, sizeof sb->isolation,
                 "no Landlock (%s): runs are limited in time and resources but may write outside %s", reason,
                 sb->dir);
        return;
    }
    sb->abi = (int)abi;
    struct ll_ruleset_attr attr = {0};
    attr.handled_access_fs = LL_FS_EXECUTE | LL_FS_READ_FILE | LL_FS_READ_DIR | LL_FS_WRITE_FILE | LL_FS_REMOVE_DIR | LL_FS_REMOVE_FILE | LL_FS_MAKE_CHAR |
                             LL_FS_MAKE_DIR | LL_FS_MAKE_REG | LL_FS_MAKE_SOCK | LL_FS_MAKE_FIFO |
                             LL_FS_MAKE_BLOCK | LL_FS_MAKE_SYM;
    size_t attr_size = sizeof attr.handled_access_fs;
    if (abi >= 2)
        attr.handled_access_fs |= LL_FS_REFER;
    if (abi >= 3)
        attr.handled_access_fs |= LL_FS_TRUNCATE;
    if (abi >= 4) {
        attr.handled_access_net = LL_NET_BIND_TCP | LL_NET_CONNECT_TCP;
        attr_size = 2 * sizeof(uint64_t);
    }
    if (abi >= 6) {
        attr.scoped = LL_SCOPE_ABSTRACT_UNIX | LL_SCOPE_SIGNAL;
        attr_size = sizeof attr;
    }
    int fd = (int)syscall(SYS_landlock_create_ruleset, &attr, attr_size, 0);
    if (fd < 0) {
        snprintf(sb->isolation, sizeof sb->isolation,
                 "no Landlock (creating a ruleset failed: %s): runs may write outside %s", strerror(errno),
                 sb->dir);
        return;
    }
    uint64_t devnull = LL_FS_READ_FILE | LL_FS_WRITE_FILE | (abi >= 3 ? LL_FS_TRUNCATE : 0);
    if (ll_add_path(fd, sb->dir, attr.handled_access_fs) || ll_add_path(fd, "/dev/null", devnull)) {
        snprintf(sb->isolation, sizeof sb->isolation,
                 "no Landlock (adding a rule failed: %s): runs may write outside %s", strerror(errno), sb->dir);
        close(fd);
        return;
    }
    /* missing ones (no /lib32 here) are skipped */
    for (size_t i = 0; i < sizeof READ_DIRS / sizeof READ_DIRS[0]; i++)
        ll_add_path(fd, READ_DIRS[i], LL_READ_DIR_RIGHTS);
    for (size_t i = 0; i < sizeof READ_FILES / sizeof READ_FILES[0]; i++)
        ll_add_path(fd, READ_FILES[i], LL_READ_FILE_RIGHTS);
    sb->ruleset_fd = fd;
    if (ll_probe(sb, why, sizeof why)) {
        snprintf(sb->isolation, sizeof sb->isolation, "no Landlock (%s): runs may write outside %s", why,
                 sb->dir);
        close(fd);
        sb->ruleset_fd = -1;
        return;
    }
    snprintf(sb->isolation, sizeof sb->isolation,
             "Landlock ABI %d: reads only in the toolchain and %s, writes only there%s%s", sb->abi, sb->dir,
             abi >= 4 ? ", no TCP" : "", abi >= 6 ? ", no signals outside" : "");
}

/* The namespaces, capabilities and seccomp this kernel grants, with
 * Landlock's result from ll_setup: what is missing, and the one line the
 * user sees. */
static void layers_setup(sandbox_t *sb)
{
    char why[sizeof sb->missing];
    char landlock[sizeof sb->isolation];
    snprintf(landlock, sizeof landlock, "%s", sb->isolation);
    sb->layers = sandbox_ns_probe(why, sizeof why) | (sb->ruleset_fd >= 0 ? SANDBOX_L_LANDLOCK : 0);
    if (sb->ruleset_fd < 0)
        snprintf(sb->missing, sizeof sb->missing, "%.500s%s%.500s", why, *why ? "; " : "", landlock);
    else
        snprintf(sb->missing, sizeof sb->missing, "%s", why);
    if (!sb->missing[0])
        snprintf(sb->isolation, sizeof sb->isolation,
                 "new user, PID, network (no interfaces), mount and IPC namespaces; no capabilities; no_new_privs; "
                 "seccomp (no sockets); %.5000s",
                 landlock);
    else
        snprintf(sb->isolation, sizeof sb->isolation, "the sandbox is incomplete on this system: missing %s",
                 sb->missing);
}

int sandbox_new(sandbox_t **out, errmsg_t *err)
{
    *out = NULL;
    sandbox_t *sb = calloc(1, sizeof *sb);
    if (!sb)
        return errmsg_set(err, OCT_ENOMEM, "out of memory");
    sb->ruleset_fd = -1;
    const char *base = getenv("TMPDIR");
    struct stat st;
    if (!base || !*base || stat(base, &st) || !S_ISDIR(st.st_mode))
        base = "/tmp";
    char tmpl[PATH_MAX];
    if ((size_t)snprintf(tmpl, sizeof tmpl, "%s/octet-check-XXXXXX", base) >= sizeof tmpl) {
        free(sb);
        return errmsg_set(err, OCT_EINVAL, "temporary directory path too long: %s", base);
    }
    if (!mkdtemp(tmpl)) {
        int e = errno;
        free(sb);
        return errmsg_set(err, OCT_EIO, "cannot create a temporary directory in %s: %s", base, strerror(e));
    }
    if (!realpath(tmpl, sb->dir)) {
        int e = errno;
        rmdir(tmpl);
        free(sb);
        return errmsg_set(err, OCT_EIO, "%s: %s", tmpl, strerror(e));
    }
    sb->nproc_now = count_user_tasks();
    ll_setup(sb);
    layers_setup(sb);
    *out = sb;
    return 0;
}

static int make_writable(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
    (void)ftw;
    if (type == FTW_D || type == FTW_DNR)
        chmod(path, (st->st_mode & 07777) | S_IRWXU);
    return 0;
}

static int remove_entry(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
    (void)st;
    (void)type;
    (void)ftw;
    remove(path);
    return 0;
}

void sandbox_free(sandbox_t *sb)
{
    if (!sb)
        return;
    /* what ran inside may have left directories without write permission */
    nftw(sb->dir, make_writable, 16, FTW_PHYS);
    nftw(sb->dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
    if (sb->ruleset_fd >= 0)
        close(sb->ruleset_fd);
    free(sb);
}

const char *sandbox_dir(const sandbox_t *sb) { return sb->dir; }
bool sandbox_confined(const sandbox_t *sb) { return sb->layers == SANDBOX_L_ALL; }
const char *sandbox_isolation(const sandbox_t *sb) { return sb->isolation; }
const char *sandbox_missing(const sandbox_t *sb) { return sb->missing; }
void sandbox_set_unsafe(sandbox_t *sb, bool unsafe) { sb->unsafe = unsafe; }

int sandbox_allow_read(sandbox_t *sb, const char *path, errmsg_t *err)
{
    struct stat st;
    if (sb->ruleset_fd < 0)
        return 0;
    if (stat(path, &st))
        return errmsg_set(err, OCT_ENOTFOUND, "%s: %s", path, strerror(errno));
    if (ll_add_path(sb->ruleset_fd, path, S_ISDIR(st.st_mode) ? LL_READ_DIR_RIGHTS : LL_READ_FILE_RIGHTS))
        return errmsg_set(err, OCT_EIO, "%s: cannot allow reading it in the sandbox: %s", path, strerror(errno));
    return 0;
}

/* The runtime of EXE (a resolved path outside the sandbox's directory)
 * readable in runs: its installation prefix (the directory above bin/,
 * e.g. ~/.pyenv for a pyenv shim), or only its own directory when that
 * prefix would be / or the home directory. */
static void allow_runtime(sandbox_t *sb, const char *exe)
{
    char real[PATH_MAX];
    size_t dl = strlen(sb->dir);
    if (sb->ruleset_fd < 0 || !realpath(exe, real) || (!strncmp(real, sb->dir, dl) && real[dl] == '/'))
        return;
    char *slash = strrchr(real, '/');
    if (!slash || slash == real)
        return;
    *slash = '\0';
    char bin[PATH_MAX];
    snprintf(bin, sizeof bin, "%s", real);
    slash = strrchr(real, '/');
    const char *home = getenv("HOME");
    if (slash && slash != real) {
        *slash = '\0';
        if (!(home && !strcmp(real, home)) && strcmp(real, "/root") && strcmp(real, "/home")) {
            sandbox_allow_read(sb, real, NULL);
            return;
        }
    }
    sandbox_allow_read(sb, bin, NULL);
}

static int check_name(const char *name, errmsg_t *err)
{
    if (!*name || strchr(name, '/') || !strcmp(name, ".") || !strcmp(name, ".."))
        return errmsg_set(err, OCT_EINVAL, "bad sandbox file name '%s'", name);
    return 0;
}

int sandbox_write_file(sandbox_t *sb, const char *name, const char *data, size_t len, errmsg_t *err)
{
    char path[PATH_MAX + 256];
    if (check_name(name, err))
        return err ? err->code : OCT_EINVAL;
    snprintf(path, sizeof path, "%s/%s", sb->dir, name);
    FILE *f = fopen(path, "wb");
    if (!f)
        return errmsg_set(err, OCT_EIO, "%s: %s", path, strerror(errno));
    size_t w = fwrite(data, 1, len, f);
    if (fclose(f) || w != len)
        return errmsg_set(err, OCT_EIO, "%s: write failed", path);
    return 0;
}

int sandbox_read_file(sandbox_t *sb, const char *name, size_t max, char **out, size_t *len, errmsg_t *err)
{
    char path[PATH_MAX + 256];
    *out = NULL;
    *len = 0;
    if (check_name(name, err))
        return err ? err->code : OCT_EINVAL;
    snprintf(path, sizeof path, "%s/%s", sb->dir, name);
    FILE *f = fopen(path, "rb");
    if (!f)
        return errmsg_set(err, errno == ENOENT ? OCT_ENOTFOUND : OCT_EIO, "%s: %s", path, strerror(errno));
    char *buf = malloc(max + 1);
    if (!buf) {
        fclose(f);
        return errmsg_set(err, OCT_ENOMEM, "out of memory");
    }
    size_t n = fread(buf, 1, max, f);
    fclose(f);
    buf[n] = '\0';
    *out = buf;
    *len = n;
    return 0;
}

/* PATH lookup in the parent, so that the child only calls execve. */
static int resolve(const char *prog, char *out, size_t size)
{
    if (strchr(prog, '/')) {
        if (access(prog, X_OK))
            return -1;
        snprintf(out, size, "%s", prog);
        return 0;
    }
    const char *path = getenv("PATH");
    if (!path || !*path)
        path = "/usr/local/bin:/usr/bin:/bin";
    while (*path) {
        const char *colon = strchr(path, ':');
        size_t n = colon ? (size_t)(colon - path) : strlen(path);
        if ((size_t)snprintf(out, size, "%.*s/%s", (int)n, n ? path : ".", prog) < size && !access(out, X_OK))
            return 0;
        path += n + (colon ? 1 : 0);
    }
    return -1;
}

static void set_limit(int res, rlim_t v)
{
    struct rlimit rl = {v, v};
    setrlimit(res, &rl);
}

/* In the child, between fork and execve: async-signal-safe calls only. */
static void child(const sandbox_t *sb, const char *exe, char *const argv[], char *const env[],
                  const sandbox_limits_t *lim, int devnull, int out_w, int err_w, int status_w)
{
    unsigned layer = 0;
    setpgid(0, 0);
    if (dup2(devnull, 0) < 0 || dup2(out_w, 1) < 0 || dup2(out_w, 2) < 0 || chdir(sb->dir))
        goto fail;
    /* from here on in the process that execs, inside the namespaces */
    if (sandbox_ns_enter(sb->layers & ~(unsigned)SANDBOX_L_LANDLOCK, status_w, err_w))
        _exit(127);
    if (lim->timeout_s > 0) {
        rlim_t cpu = (rlim_t)lim->timeout_s + 2;
        struct rlimit rl = {cpu - 1, cpu};
        setrlimit(RLIMIT_CPU, &rl);
    }
    if (lim->mem_mb > 0)
        set_limit(RLIMIT_AS, (rlim_t)lim->mem_mb << 20);
    set_limit(RLIMIT_FSIZE, (rlim_t)SANDBOX_FSIZE_MAX);
    set_limit(RLIMIT_CORE, 0);
    /* a new user namespace counts its own processes */
    if (sb->layers & SANDBOX_L_USER)
        set_limit(RLIMIT_NPROC, SANDBOX_NPROC_EXTRA);
    else if (sb->nproc_now >= 0)
        set_limit(RLIMIT_NPROC, (rlim_t)(sb->nproc_now + SANDBOX_NPROC_EXTRA));
    if (sb->ruleset_fd >= 0) {
        layer = SANDBOX_L_LANDLOCK;
        if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) || syscall(SYS_landlock_restrict_self, sb->ruleset_fd, 0))
            goto fail;
        close(sb->ruleset_fd);
        layer = 0;
    }
    if (sandbox_ns_lockdown(sb->layers, err_w))
        _exit(127);
    execve(exe, argv, env);
fail:;
    sandbox_ns_fail_t f = {layer, errno};
    ssize_t w = write(err_w, &f, sizeof f);
    (void)w;
    _exit(127);
}

int sandbox_run(sandbox_t *sb, char *const argv[], char *const env[], const sandbox_limits_t *lim,
                sandbox_result_t *res, errmsg_t *err)
{
    char exe[PATH_MAX];
    int out_p[2] = {-1, -1}, err_p[2] = {-1, -1}, st_p[2] = {-1, -1}, devnull = -1, rc = 0;
    memset(res, 0, sizeof *res);
    if (sb->missing[0] && !sb->unsafe)
        return errmsg_set(err, OCT_EUNSUPPORTED,
                          "the sandbox is incomplete on this system, so the code is not run: missing %s "
                          "(--unsafe-sandbox runs it with the layers that work)",
                          sb->missing);
    if (!argv[0] || resolve(argv[0], exe, sizeof exe))
        return errmsg_set(err, OCT_ENOTFOUND, "cannot run '%s': not found in PATH", argv[0] ? argv[0] : "");
    allow_runtime(sb, exe);
    res->output = malloc(SANDBOX_OUTPUT_MAX + 1);
    if (!res->output)
        return errmsg_set(err, OCT_ENOMEM, "out of memory");
    res->output[0] = '\0';
    devnull = open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (devnull < 0 || pipe2(out_p, O_CLOEXEC) || pipe2(err_p, O_CLOEXEC) || pipe2(st_p, O_CLOEXEC)) {
        rc = errmsg_set(err, OCT_EIO, "cannot set up a run: %s", strerror(errno));
        goto done;
    }
    double t0 = now_s();
    pid_t pid = fork();
    if (pid < 0) {
        rc = errmsg_set(err, OCT_EIO, "fork failed: %s", strerror(errno));
        goto done;
    }
    if (pid == 0)
        child(sb, exe, argv, env, lim, devnull, out_p[1], err_p[1], st_p[1]);
    setpgid(pid, pid); /* also in the parent: no window where a kill(-pid) misses */
    close(out_p[1]);
    close(err_p[1]);
    close(st_p[1]);
    out_p[1] = err_p[1] = st_p[1] = -1;
    sandbox_ns_fail_t fail;
    ssize_t n;
    while ((n = read(err_p[0], &fail, sizeof fail)) < 0 && errno == EINTR)
        ;
    if (n == (ssize_t)sizeof fail) {
        int st;
        kill(-pid, SIGKILL);
        waitpid(pid, &st, 0);
        if (fail.layer)
            rc = errmsg_set(err, OCT_EIO, "cannot run %s: the sandbox's %s failed: %s", exe,
                            sandbox_layer_name(fail.layer), strerror(fail.err));
        else
            rc = errmsg_set(err, OCT_EIO, "cannot run %s: %s", exe, strerror(fail.err));
        goto done;
    }
    fcntl(out_p[0], F_SETFL, O_NONBLOCK);
    double deadline = lim->timeout_s > 0 ? t0 + lim->timeout_s : 0;
    bool exited = false, eof = false;
    double drain_until = 0;
    int st = 0;
    char chunk[4096];
    for (;;) {
        if (!eof) {
            struct pollfd p = {out_p[0], POLLIN, 0};
            poll(&p, 1, 20);
            while ((n = read(out_p[0], chunk, sizeof chunk)) > 0) {
                size_t keep = SANDBOX_OUTPUT_MAX - res->output_len;
                if ((size_t)n > keep)
                    res->output_truncated = true;
                else
                    keep = (size_t)n;
                memcpy(res->output + res->output_len, chunk, keep);
                res->output_len += keep;
            }
            if (n == 0)
                eof = true;
        } else if (!exited) {
            struct timespec ts = {0, 10 * 1000 * 1000};
            nanosleep(&ts, NULL);
        }
        if (!exited) {
            pid_t w = waitpid(pid, &st, WNOHANG);
            if (w == pid) {
                exited = true;
                res->seconds = now_s() - t0;
                kill(-pid, SIGKILL); /* whatever it left running */
                drain_until = now_s() + 1.0;
            }
        }
        if (exited && (eof || now_s() > drain_until))
            break;
        if (!exited && deadline > 0 && now_s() > deadline) {
            kill(-pid, SIGKILL);
            kill(pid, SIGKILL);
            while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
                ;
            res->timed_out = true;
            res->seconds = now_s() - t0;
            exited = true;
            drain_until = now_s() + 0.2;
        }
    }
    res->output[res->output_len] = '\0';
    /* the program's own status, from the reaper (absent when the time
     * limit killed the tree) */
    int prog_st;
    fcntl(st_p[0], F_SETFL, O_NONBLOCK);
    if (!res->timed_out && read(st_p[0], &prog_st, sizeof prog_st) == (ssize_t)sizeof prog_st)
        st = prog_st;
    if (WIFSIGNALED(st)) {
        res->signaled = true;
        res->sig = WTERMSIG(st);
    } else {
        res->status = WEXITSTATUS(st);
    }
done:
    if (rc) {
        free(res->output);
        res->output = NULL;
    }
    for (int i = 0; i < 2; i++) {
        if (out_p[i] >= 0)
            close(out_p[i]);
        if (err_p[i] >= 0)
            close(err_p[i]);
        if (st_p[i] >= 0)
            close(st_p[i]);
    }
    if (devnull >= 0)
        close(devnull);
    return rc;
}

void sandbox_result_free(sandbox_result_t *res)
{
    if (!res)
        return;
    free(res->output);
    res->output = NULL;
    res->output_len = 0;
}

void sandbox_describe(const sandbox_result_t *res, const sandbox_limits_t *lim, char *buf, size_t size)
{
    if (res->timed_out)
        snprintf(buf, size, "did not finish within %g s (killed)", lim ? lim->timeout_s : 0.0);
    else if (res->signaled && res->sig == SIGXCPU)
        snprintf(buf, size, "used up its CPU time limit (SIGXCPU)");
    else if (res->signaled)
        snprintf(buf, size, "crashed: killed by signal %d (SIG%s: %s)", res->sig,
                 sigabbrev_np(res->sig) ? sigabbrev_np(res->sig) : "?", strsignal(res->sig));
    else
        snprintf(buf, size, "exited with status %d", res->status);
}
