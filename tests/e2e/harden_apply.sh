#!/usr/bin/env bash
# harden_apply.sh - issue 19, defects 4 and 5: `octet apply` of a large patch
# killed (SIGKILL, SIGTERM) at many points leaves the old tree or the new one
# once the next octet starts (it finishes or rolls back from its journal), no
# temporary files, and an undo that works; a directory swapped for a symbolic
# link to an outside folder during the apply gets nothing written outside.
source "$(dirname "$0")/lib.sh"
export LC_ALL=C
OCT=$(cd "$(dirname "$OCTET")" && pwd)/$(basename "$OCTET")
R=$T_TMP/repo
NDIR=20
NFILE=${HARDEN_APPLY_FILES:-20}
git init -q "$R"
git -C "$R" config user.email t@example.com
git -C "$R" config user.name t
for d in $(seq -w 0 $((NDIR - 1))); do
    mkdir -p "$R/d$d"
    for f in $(seq -w 0 $((NFILE - 1))); do printf 'line one of %s/%s\nline two\n' "$d" "$f" >"$R/d$d/f$f.txt"; done
done
git -C "$R" add -A && git -C "$R" commit -qm init
for f in "$R"/d*/f*.txt; do echo "a new line" >>"$f"; done
git -C "$R" diff >"$T_TMP/big.diff"
git -C "$R" checkout -q -- .
# the tree's fingerprint: every file but .git with its contents
fp() { (cd "$R" && find . -path ./.git -prune -o -type f -print0 | sort -z | xargs -0 sha256sum | sha256sum | cut -c1-16); }
OLD=$(fp)
t_expect "the large patch applies" 0 "$OCT" apply --patch "$T_TMP/big.diff" --repo "$R" --yes
NEW=$(fp)
t_expect "and undoes" 0 "$OCT" undo --repo "$R" --yes
[ "$(fp)" = "$OLD" ] && t_ok "undo restores the old tree" || t_fail "undo restores the old tree"

# kill the apply at many points: while the undo record is written, as the
# journal appears (the writes begin) and at increasing delays after; the next
# octet started in the repository recovers
bad=0
states=""
J=$R/.git/octet/journal
FIRST=$R/d00/f$(printf '%0*d' ${#NFILE} 0).txt
# kill_at SIG WHEN DELAY: WHEN is "record" (the undo record being written), "journal"
# (the files being staged) or "renames" (the first file has its new contents)
kill_at() {
    local sig=$1 when=$2 delay=$3 pid
    "$OCT" apply --patch "$T_TMP/big.diff" --repo "$R" --yes >/dev/null 2>"$T_TMP/apply.err" &
    pid=$!
    while kill -0 $pid 2>/dev/null; do
        case $when in
        record) compgen -G "$R/.git/octet/undo/*.tmp" >/dev/null && break ;;
        journal) [ -e "$J" ] && break ;;
        renames) grep -q "a new line" "$FIRST" 2>/dev/null && break ;;
        esac
    done
    [ "$delay" != 0 ] && sleep "$delay"
    kill -"$sig" $pid 2>/dev/null
    wait $pid 2>/dev/null
    (cd "$R" && "$OCT" --version >/dev/null 2>"$T_TMP/recover.err")
    local now left name="SIG$sig at $when+${delay}s"
    now=$(fp)
    left=$(find "$R" -name '.octet-tmp-*' | head -3; ls -d "$R"/.git/octet/undo/*.tmp 2>/dev/null)
    if [ -n "$left" ]; then bad=1; t_fail "$name: no leftovers" "$left"; fi
    if [ -e "$J" ]; then bad=1; t_fail "$name: journal cleared" "$(cat "$T_TMP/recover.err")"; fi
    if [ "$now" = "$NEW" ]; then
        states="$states new"
        if ! "$OCT" undo --repo "$R" --yes >"$T_TMP/undo.out" 2>&1 || [ "$(fp)" != "$OLD" ]; then
            bad=1; t_fail "$name: undo works" "$(head -c 400 "$T_TMP/undo.out")"
            git -C "$R" checkout -q -- . ; git -C "$R" clean -qfd; rm -rf "$R/.git/octet"
        fi
    elif [ "$now" = "$OLD" ]; then
        states="$states old"
        [ -n "${HARDEN_DEBUG:-}" ] && echo "$name: old: $(head -c 300 "$T_TMP/apply.err")"
        if "$OCT" undo --repo "$R" --yes >"$T_TMP/undo.out" 2>&1; then
            bad=1; t_fail "$name: a rolled back apply leaves no record" "$(head -c 400 "$T_TMP/undo.out")"
        fi
    else
        bad=1
        t_fail "$name: the tree is the old or the new one" \
            "$(git -C "$R" status --porcelain | wc -l) files differ from HEAD" "$(head -c 300 "$T_TMP/recover.err")"
        git -C "$R" checkout -q -- . ; git -C "$R" clean -qfd; rm -rf "$R/.git/octet"
    fi
}
kill_at KILL record 0
kill_at TERM record 0
kill_at KILL journal 0
kill_at KILL journal 0.02
for d in 0 0.002 0.01 0.03 0.1 0.3; do kill_at KILL renames $d; done
kill_at TERM renames 0.01
[ $bad -eq 0 ] && t_ok "killed at every point: old or new tree, undo works ($states)"
case "$states" in *old*new*|*new*old*) t_ok "the kills hit both before and after the renames" ;;
*) echo "note: every kill found the same state ($states)"; t_ok "kills ran" ;; esac

# the symlink race: once the apply writes, d$((NDIR-1)) becomes a link to a folder outside
OUT=$T_TMP/outside
LAST=d$((NDIR - 1))
mkdir -p "$OUT"
cp "$R/$LAST"/*.txt "$OUT/"
OUT_FP=$(cd "$OUT" && ls -a | sha256sum; cat ./* | sha256sum)
"$OCT" apply --patch "$T_TMP/big.diff" --repo "$R" --yes >"$T_TMP/race.out" 2>&1 &
pid=$!
first=$R/d00/f$(printf '%0*d' ${#NFILE} 0).txt
swapped=0
for _ in $(seq 1 4000); do
    if grep -q "a new line" "$first" 2>/dev/null || ls "$R"/d00/.octet-tmp-* >/dev/null 2>&1; then
        mv "$R/$LAST" "$T_TMP/moved" && ln -s "$OUT" "$R/$LAST" && swapped=1
        break
    fi
    kill -0 $pid 2>/dev/null || break
done
wait $pid
[ $swapped -eq 1 ] && t_ok "the race swapped the directory during the apply" || echo "note: the apply ended before the swap"
if [ "$(cd "$OUT" && ls -a | sha256sum; cat ./* | sha256sum)" = "$OUT_FP" ]; then t_ok "nothing written outside through the link"
else t_fail "nothing written outside through the link" "$(ls -la "$OUT" | head)" "$(head -c 300 "$T_TMP/race.out")"; fi
t_end
