#!/usr/bin/env bash
# watch.sh - `octet index --watch` and `octet search` as its client, on a small
# git repository with the tiny test encoder: the watcher answers (-v says so)
# with the same bytes as a search of its own (plain and --json, lexical and
# hybrid); an edit, a file in a new directory and a deletion are seen by the
# next search at once, or updated by the watcher itself once the tree is
# quiet; a second watcher refuses; other options are answered
# locally with the same results; a watcher killed with -9 leaves a socket that
# searches pass by and a new watcher replaces; SIGTERM stops it cleanly,
# removing its socket; the socket is this user's only.
source "$(dirname "$0")/lib.sh"
OCTET=$(cd "$(dirname "$OCTET")" && pwd)/$(basename "$OCTET")
export OCTET_EMBED_MODEL=$(pwd)/tests/fixtures/encoder/tiny-embed.gguf
export HOME=$T_TMP XDG_CONFIG_HOME=$T_TMP GIT_CONFIG_NOSYSTEM=1 GIT_CONFIG_GLOBAL=/dev/null
export GIT_AUTHOR_NAME=t GIT_AUTHOR_EMAIL=t@octet.invalid GIT_COMMITTER_NAME=t GIT_COMMITTER_EMAIL=t@octet.invalid

R=$T_TMP/repo
SOCK=$R/.git/octet/index.sqlite.sock
mkdir -p "$R/src"
cat >"$R/src/config.c" <<'EOF'
/* Reads the settings file. */
int parse_config(const char *path)
{
    return path != NULL;
}
EOF
printf 'def helper():\n    return 1\n\n\ndef parse_other(x):\n    return x + 1\n' >"$R/tool.py"
printf 'release notes about parsing\n' >"$R/NOTES.txt"
(cd "$R" && git init -q . && git add -A && git commit -qm init) || t_fail "git setup"

WPID=
cleanup() { [ -n "$WPID" ] && kill -9 "$WPID" 2>/dev/null; rm -rf "$T_TMP"; }
trap cleanup EXIT

# watch_start LOG ARGS... : starts the watcher and waits for its line; sets WPID
watch_start() {
    local log=$1; shift
    "$OCTET" index --repo "$R" --watch "$@" >"$log" 2>"$log.err" &
    WPID=$!
    for _ in $(seq 1 200); do
        grep -q '^watching ' "$log" && return 0
        kill -0 "$WPID" 2>/dev/null || return 1
        sleep 0.05
    done
    return 1
}

if watch_start "$T_TMP/w1"; then t_ok "the watcher starts"; else t_fail "the watcher starts" "$(cat "$T_TMP/w1" "$T_TMP/w1.err")"; fi
t_grep "it says where it listens" "^watching +$R: searches answered at $SOCK \\(pid $WPID\\)$" "$T_TMP/w1"
if [ "$(stat -c %a "$SOCK")" = 600 ]; then t_ok "the socket is 0600"; else t_fail "the socket is 0600" "$(stat -c %a "$SOCK")"; fi

# same NAME ARGS... : the watcher's answer and a search of its own, byte for byte
same() {
    local name=$1; shift
    (cd "$R" && "$OCTET" search -v "$@") >"$T_TMP/a.out" 2>"$T_TMP/a.err"; local ra=$?
    (cd "$R" && "$OCTET" search --no-watch "$@") >"$T_TMP/b.out" 2>/dev/null; local rb=$?
    if ! grep -q "answered by the watcher (pid $WPID)" "$T_TMP/a.err"; then
        t_fail "$name: answered by the watcher" "$(cat "$T_TMP/a.err")"
    elif [ $ra -ne $rb ] || ! cmp -s "$T_TMP/a.out" "$T_TMP/b.out"; then
        t_fail "$name: the same as a search here" "exit $ra / $rb" "$(diff "$T_TMP/a.out" "$T_TMP/b.out")"
    else t_ok "$name"; fi
}
same "hybrid, list" parse config
t_grep "hybrid said" 'answered by the watcher \(pid [0-9]+\): hybrid' "$T_TMP/a.err"
same "hybrid, json" --json parse config
same "lexical, list" --lexical parse config
same "lexical, json, k 2" --lexical --json -k 2 parse
same "no hit: exit 1 alike" --lexical zzzunknownword
printf 'parse config' | (cd "$R" && "$OCTET" search -v) >"$T_TMP/out" 2>"$T_TMP/err"
t_grep "a query on standard input" 'answered by the watcher' "$T_TMP/err"

# ---- garbage and a client that sends nothing: the watcher goes on ----------------------------------
python3 - "$SOCK" <<'PY'
import socket, sys
for data in (b"GET / HTTP/1.0\r\n\r\n", b"OCTQ\x01\x00\x00\x00\xff\xff\xff\x7f", b"OCTQ\x01\x00\x00\x00\x08\x00\x00\x00abcdefgh",
             b"OCTQ\x63\x00\x00\x00\x00\x00\x00\x00"):
    s = socket.socket(socket.AF_UNIX); s.connect(sys.argv[1]); s.sendall(data); s.settimeout(3)
    try: s.recv(100)
    except OSError: pass
    s.close()
PY
same "after garbage" parse config
# a client that connects and says nothing for 3 s holds the watcher 1 s at most
python3 -c 'import socket,sys,time; s=socket.socket(socket.AF_UNIX); s.connect(sys.argv[1]); s.send(b"OCTQ"); time.sleep(3)' "$SOCK" &
STUCK=$!
sleep 0.2
start=$(date +%s%N)
(cd "$R" && "$OCTET" search --lexical parse config) >"$T_TMP/out" 2>&1; rc=$?
ms=$((($(date +%s%N) - start) / 1000000))
if [ $rc -eq 0 ] && [ $ms -lt 2500 ] && grep -q 'parse_config' "$T_TMP/out"; then t_ok "a stuck client: the search still answers (${ms} ms)"; else
    t_fail "a stuck client: the search still answers" "exit $rc in $ms ms" "$(cat "$T_TMP/out")"; fi
same "after a stuck client: the watcher answers" parse config
kill "$STUCK" 2>/dev/null; wait "$STUCK" 2>/dev/null

# ---- freshness: each change seen by the very next search -------------------------------------------
printf 'int zebra_quagga(void) { return 7; }\n' >>"$R/src/config.c"
(cd "$R" && "$OCTET" search -v --lexical zebra quagga) >"$T_TMP/out" 2>"$T_TMP/err"
t_grep "an edit, searched at once: found" 'src/config\.c:[0-9]+-[0-9]+ +zebra_quagga' "$T_TMP/out"
t_grep "an edit: answered by the watcher" 'answered by the watcher .*the index (updated first|unchanged since its last update)' "$T_TMP/err"
# left alone after a change, the watcher updates by itself (once the tree is quiet for 50 ms)
printf 'int narwhal_ibex(void) { return 10; }\n' >>"$R/src/config.c"
sleep 1
(cd "$R" && "$OCTET" search -v --lexical narwhal ibex) >"$T_TMP/out" 2>"$T_TMP/err"
t_grep "an edit, searched a second later: found" 'src/config\.c:[0-9]+-[0-9]+ +narwhal_ibex' "$T_TMP/out"
t_grep "an edit, searched a second later: updated while idle" 'the index unchanged since its last update' "$T_TMP/err"
mkdir -p "$R/new/deeper"
printf 'int okapi_lemur(void) { return 8; }\n' >"$R/new/deeper/o.c"
(cd "$R" && "$OCTET" search --lexical okapi lemur) >"$T_TMP/out" 2>&1
t_grep "a file in a new directory: found" 'new/deeper/o\.c:1-1 +okapi_lemur' "$T_TMP/out"
printf 'int tapir_wombat(void) { return 9; }\n' >"$R/new/deeper/t.c"
(cd "$R" && "$OCTET" search --lexical tapir wombat) >"$T_TMP/out" 2>&1
t_grep "a second file there: found (the new directory is watched)" 'new/deeper/t\.c:1-1' "$T_TMP/out"
rm "$R/new/deeper/o.c"
t_expect "a deleted file: gone" 1 sh -c "cd '$R' && '$OCTET' search --lexical okapi lemur"
same "after the changes: still the same as here" parse config
(cd "$R" && "$OCTET" search -v parse config) >/dev/null 2>"$T_TMP/err"
t_grep "no change: no update" 'the index unchanged since its last update' "$T_TMP/err"

# ---- other options: answered here, the same -----------------------------------------------------
(cd "$R" && "$OCTET" search -v --exclude '*.py' parse) >"$T_TMP/a.out" 2>"$T_TMP/a.err"
(cd "$R" && "$OCTET" search --no-watch --exclude '*.py' parse) >"$T_TMP/b.out" 2>&1
t_grep "--exclude differs: searched here" 'searching here: the watcher \(pid [0-9]+\): --exclude differs' "$T_TMP/a.err"
if cmp -s "$T_TMP/a.out" "$T_TMP/b.out" && ! grep -q tool.py "$T_TMP/a.out"; then t_ok "--exclude differs: the local results"; else
    t_fail "--exclude differs: the local results" "$(diff "$T_TMP/a.out" "$T_TMP/b.out")"; fi
OCTET_EMBED_MODEL= "$OCTET" search --repo "$R" -v parse >/dev/null 2>"$T_TMP/err"
t_grep "another encoder: searched here" 'searching here: .*another retrieval encoder' "$T_TMP/err"
"$OCTET" search --repo "$R" -v --context 200 parse >/dev/null 2>"$T_TMP/err"
t_grep "--context: searched here" 'searching here: --context' "$T_TMP/err"
"$OCTET" search --repo "$R" -v --no-watch parse >/dev/null 2>"$T_TMP/err"
if grep -q 'watcher' "$T_TMP/err"; then t_fail "--no-watch: not asked" "$(cat "$T_TMP/err")"; else t_ok "--no-watch: not asked"; fi

# ---- one watcher per index ----------------------------------------------------------------------
t_expect "a second watcher refuses" 1 "$OCTET" index --repo "$R" --watch
t_grep "a second watcher: says who serves" "a watcher \\(pid $WPID\\) already serves this index at $SOCK" "$T_TMP/err"

# ---- killed: the stale socket passed by, then replaced ---------------------------------------------
kill -9 "$WPID"; wait "$WPID" 2>/dev/null
[ -S "$SOCK" ] && t_ok "kill -9 leaves the socket" || t_fail "kill -9 leaves the socket"
(cd "$R" && "$OCTET" search -v --lexical parse config) >"$T_TMP/out" 2>"$T_TMP/err"; rc=$?
if [ $rc -eq 0 ] && grep -q 'searching here: .*Connection refused' "$T_TMP/err"; then t_ok "a stale socket: searched here"; else
    t_fail "a stale socket: searched here" "exit $rc" "$(cat "$T_TMP/err")"; fi
if watch_start "$T_TMP/w2" --idle 5; then t_ok "a new watcher replaces the stale socket"; else
    t_fail "a new watcher replaces the stale socket" "$(cat "$T_TMP/w2" "$T_TMP/w2.err")"; fi
same "the new watcher answers" parse config

# ---- SIGTERM: exit 0, the socket removed --------------------------------------------------------
kill -TERM "$WPID"; wait "$WPID"; rc=$?; WPID=
if [ $rc -eq 0 ] && [ ! -e "$SOCK" ]; then t_ok "SIGTERM: exit 0, the socket removed"; else
    t_fail "SIGTERM: exit 0, the socket removed" "exit $rc" "$(ls -la "$R/.git/octet")"; fi
t_grep "SIGTERM: said" 'Terminated: the watcher stops' "$T_TMP/w2.err"

# ---- the index database replaced: the watcher stops ---------------------------------------------
watch_start "$T_TMP/w3" || t_fail "a third watcher starts" "$(cat "$T_TMP/w3.err")"
cp "$R/.git/octet/index.sqlite" "$T_TMP/copy.sqlite" && mv "$T_TMP/copy.sqlite" "$R/.git/octet/index.sqlite"
(cd "$R" && "$OCTET" search -v --lexical parse config) >"$T_TMP/out" 2>"$T_TMP/err"
t_grep "a replaced index: searched here" 'searching here: .*deleted or replaced' "$T_TMP/err"
for _ in $(seq 1 100); do kill -0 "$WPID" 2>/dev/null || break; sleep 0.05; done
if kill -0 "$WPID" 2>/dev/null; then t_fail "a replaced index: the watcher stops"; else t_ok "a replaced index: the watcher stops"; WPID=; fi

# ---- a git worktree (its .git is a file naming the git directory): answered by its watcher --------
git -C "$R" worktree add -q "$T_TMP/wt" 2>/dev/null
R_MAIN=$R R=$T_TMP/wt
watch_start "$T_TMP/w4" || t_fail "a worktree's watcher starts" "$(cat "$T_TMP/w4.err")"
(cd "$R/src" && "$OCTET" search -v --lexical parse config) >"$T_TMP/out" 2>"$T_TMP/err"
t_grep "a worktree: answered by its watcher" 'answered by the watcher' "$T_TMP/err"
(cd "$R/src" && "$OCTET" search --no-watch --lexical parse config) >"$T_TMP/b.out" 2>&1
if cmp -s "$T_TMP/out" "$T_TMP/b.out"; then t_ok "a worktree: the same as searched here"; else
    t_fail "a worktree: the same as searched here" "$(diff "$T_TMP/out" "$T_TMP/b.out")"; fi
kill -TERM "$WPID"; wait "$WPID"; WPID=
R=$R_MAIN

t_expect "--idle without --watch: usage" 2 "$OCTET" index --repo "$R" --idle 3
t_expect "--idle: not a number" 2 "$OCTET" index --repo "$R" --watch --idle soon
"$OCTET" index --help >"$T_TMP/out"
t_grep "index --help names --watch" '^  --watch ' "$T_TMP/out"
"$OCTET" search --help >"$T_TMP/out"
t_grep "search --help names --no-watch" '^  --no-watch ' "$T_TMP/out"
t_end
