#!/usr/bin/env bash
# harden_sandbox.sh - issue 19, defects 2 and 3: what `octet check` runs must
# not outlive the check (setsid + double fork), reach any network (UDP, UNIX,
# raw and packet sockets, TCP), keep capabilities (as root), see or signal
# processes outside, or read files outside the toolchain, its directory and
# the include directories (#include "/etc/shadow"). Each escape is one example
# of a spec whose function returns 0 when the escape is blocked; and a kernel
# that refuses a layer (no user namespaces) makes the check refuse, naming the
# layer, unless --unsafe-sandbox.
source "$(dirname "$0")/lib.sh"
export LC_ALL=C
OCT=$(cd "$(dirname "$OCTET")" && pwd)/$(basename "$OCTET")
D=$T_TMP/proj
mkdir -p "$D"
# a secret outside every allowed directory, and a process outside to signal
SECRET=$T_TMP/secret.h
echo 'SECRET_CANARY_4711' >"$SECRET"
sleep 300 &
OUTSIDE_PID=$!
python3 -c 'import socket,sys; s=socket.socket(socket.AF_UNIX); s.bind(sys.argv[1]); s.listen(); import time; time.sleep(300)' \
    "$T_TMP/outside.sock" &
SOCK_PID=$!
trap 'kill $OUTSIDE_PID $SOCK_PID 2>/dev/null; pkill -f "sleep 31.4159" 2>/dev/null; rm -rf "$T_TMP"' EXIT
for _ in $(seq 1 50); do [ -S "$T_TMP/outside.sock" ] && break; sleep 0.05; done

escapes=(udp_sendto unix_socket_outside unix_socketpair_ok raw_icmp raw_tcp af_packet tcp_connect caps_effective
    caps_bounding read_secret read_home write_outside signal_outside see_outside_pids new_userns loopback_up)
{
    printf '{"language": "c", "name": "escape", "description": "returns 0 when escape k is blocked",\n'
    printf ' "inputs": [{"name": "k", "type": "int"}], "output": "int", "examples": ['
    for i in "${!escapes[@]}"; do printf '%s{"input": [%d], "output": 0}' "$([ "$i" -gt 0 ] && echo ,)" "$i"; done
    printf ']}\n'
} >"$D/escape.json"
cat >"$D/escape.c" <<CODE
#include <arpa/inet.h>
#include <dirent.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <linux/if_ether.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sched.h>
#include <signal.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <unistd.h>

static int sock_ok(int domain, int type, int proto)
{
    int s = socket(domain, type, proto);
    if (s < 0)
        return 0;
    close(s);
    return 1;
}

int escape(int k)
{
    switch (k) {
    case 0: { /* UDP sendto to this machine */
        int s = socket(AF_INET, SOCK_DGRAM, 0);
        if (s < 0)
            return 0;
        struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(9)};
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        return sendto(s, "x", 1, 0, (struct sockaddr *)&a, sizeof a) == 1;
    }
    case 1: { /* a UNIX socket listening outside */
        int s = socket(AF_UNIX, SOCK_STREAM, 0);
        if (s < 0)
            return 0;
        struct sockaddr_un a = {.sun_family = AF_UNIX};
        strncpy(a.sun_path, "$T_TMP/outside.sock", sizeof a.sun_path - 1);
        return connect(s, (struct sockaddr *)&a, sizeof a) == 0 ? 1 : 0;
    }
    case 2: { /* a pair of connected UNIX sockets stays allowed: no way out */
        int sv[2];
        return socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0 ? 0 : 1;
    }
    case 3: return sock_ok(AF_INET, SOCK_RAW, IPPROTO_ICMP);
    case 4: return sock_ok(AF_INET, SOCK_RAW, IPPROTO_TCP);
    case 5: return sock_ok(AF_PACKET, SOCK_RAW, htons(ETH_P_ALL));
    case 6: return sock_ok(AF_INET, SOCK_STREAM, 0) || sock_ok(AF_INET6, SOCK_STREAM, 0);
    case 7: { /* capabilities, effective or permitted */
        struct __user_cap_header_struct h = {_LINUX_CAPABILITY_VERSION_3, 0};
        struct __user_cap_data_struct d[2];
        if (syscall(SYS_capget, &h, d))
            return 1;
        return d[0].effective || d[1].effective || d[0].permitted || d[1].permitted;
    }
    case 8: { /* a bounding set that execve of a setuid or root program could fill again */
        for (int c = 0; c < 41; c++)
            if (prctl(PR_CAPBSET_READ, c, 0, 0, 0) == 1)
                return 1;
        return 0;
    }
    case 9: return open("$SECRET", O_RDONLY) >= 0 || open("/etc/shadow", O_RDONLY) >= 0;
    case 10: return opendir("$T_TMP") != NULL || opendir("/root") != NULL || opendir("/home") != NULL ||
                    opendir("/proc/1/root") != NULL;
    case 11: return open("$T_TMP/written", O_WRONLY | O_CREAT, 0644) >= 0;
    case 12: return kill($OUTSIDE_PID, 0) == 0;
    case 13: return getpid() > 100 || kill($$, 0) == 0;
    case 14: return syscall(SYS_unshare, 0x10000000) == 0; /* CLONE_NEWUSER */
    case 15: { /* any interface up: loopback stays down */
        int s = socket(AF_UNIX, SOCK_DGRAM, 0);
        if (s < 0)
            return 0;
        struct ifreq r = {0};
        strcpy(r.ifr_name, "lo");
        return ioctl(s, SIOCGIFFLAGS, &r) == 0 && (r.ifr_flags & IFF_UP);
    }
    }
    return 1;
}
CODE
out=$T_TMP/out
"$OCT" check -v --spec "$D/escape.json" --code "$D/escape.c" >"$out" 2>&1
rc=$?
for i in "${!escapes[@]}"; do
    if grep -q "^examples\[$i\] escape($i): ok" "$out"; then t_ok "blocked: ${escapes[$i]}"; else
        t_fail "blocked: ${escapes[$i]}" "$(grep -A3 "^examples\[$i\]" "$out" | head -4)" "$(head -3 "$out")"; fi
done
if [ $rc -eq 0 ]; then t_ok "the escape check passes"; else t_fail "the escape check passes" "$(head -c 800 "$out")"; fi
[ -e "$T_TMP/written" ] && t_fail "nothing written outside" || t_ok "nothing written outside"

# a daemon: setsid and a double fork; the grandchild must not outlive the check
cat >"$D/linger.json" <<'JSON'
{"language": "c", "name": "linger", "description": "leaves a process behind",
 "inputs": [], "output": "int", "examples": [{"input": [], "output": 0}]}
JSON
cat >"$D/linger.c" <<'CODE'
#include <unistd.h>
int linger(void)
{
    if (fork() == 0) {
        setsid();
        if (fork() == 0) {
            char *argv[] = {"sleep", "31.4159", NULL};
            execv("/bin/sleep", argv);
            execv("/usr/bin/sleep", argv);
        }
        _exit(0);
    }
    sleep(1); /* the grandchild is running when the run ends */
    return 0;
}
CODE
t_expect "a daemonizing solution checks fine" 0 "$OCT" check --spec "$D/linger.json" --code "$D/linger.c"
sleep 0.3
if pgrep -f "sleep 31.4159" >/dev/null; then t_fail "no process outlives the check" "$(pgrep -af 'sleep 31.4159')"; else
    t_ok "no process outlives the check"; fi

# #include of a file outside: the compiler cannot read it, and its contents never show
inc_case() { # NAME FILE PATTERN_OF_ITS_CONTENTS
    printf '#include "%s"\nint add(int a, int b) { return a + b; }\n' "$2" >"$D/inc.c"
    "$OCT" check --spec tests/fixtures/specs/add.json --code "$D/inc.c" >"$out" 2>&1
    if grep -qF -- "$3" "$out"; then t_fail "$1 shows nothing of it" "$(head -c 600 "$out")"; else
        t_ok "$1 shows nothing of it"; fi
    t_grep "$1 does not compile" "does not compile" "$out"
}
inc_case '#include of a secret outside' "$SECRET" SECRET_CANARY
if [ -r /etc/shadow ] && [ -s /etc/shadow ]; then
    inc_case '#include "/etc/shadow"' /etc/shadow "$(head -1 /etc/shadow | cut -d: -f1-2)"
fi

# a kernel without user namespaces (max_user_namespaces 0 in a namespace of
# our own): the check names the missing layer and refuses unless --unsafe-sandbox
if unshare -U -r --fork true 2>/dev/null; then
    nouserns() { unshare -U -r --fork sh -c 'echo 0 >/proc/sys/user/max_user_namespaces && exec "$@"' sh "$@"; }
    nouserns "$OCT" check --spec tests/fixtures/specs/add.json --code tests/fixtures/specs/add_good.py >"$out" 2>&1
    rc=$?
    if [ $rc -eq 1 ] && grep -q "missing user namespace" "$out" && grep -q -- "--unsafe-sandbox" "$out"; then
        t_ok "a missing layer is named and the check refuses"; else
        t_fail "a missing layer is named and the check refuses" "exit $rc" "$(head -c 600 "$out")"; fi
    nouserns "$OCT" check --unsafe-sandbox --spec tests/fixtures/specs/add.json \
        --code tests/fixtures/specs/add_good.py >"$out" 2>&1
    rc=$?
    if [ $rc -eq 0 ] && grep -q "warning: the sandbox is incomplete.*user namespace" "$out"; then
        t_ok "--unsafe-sandbox runs it with a warning"; else
        t_fail "--unsafe-sandbox runs it with a warning" "exit $rc" "$(head -c 600 "$out")"; fi
else
    t_ok "no user namespaces here to take away (skipped)"
fi
t_end
