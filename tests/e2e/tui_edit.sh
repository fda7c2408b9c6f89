#!/usr/bin/env bash
# tui_edit.sh - issue 16 item 3 in the terminal UI, through tmux: /diff shows
# what octet changed since the TUI started (not what it changed before), and
# /commit commits exactly those files (the user's other changes stay out);
# /undo then takes back the latest change and the commit.
source "$(dirname "$0")/lib.sh"
export LC_ALL=C.UTF-8
if ! command -v tmux >/dev/null 2>&1; then
    t_fail "tmux is installed" "tests/e2e/tui_edit.sh needs tmux (tools/deps.sh installs it)"
    t_end
    exit 1
fi
ROOT=$(pwd)
OCT=$(cd "$(dirname "$OCTET")" && pwd)/$(basename "$OCTET")
TM=(tmux -L "octet-etest-$$" -f /dev/null)
HOMEDIR=$T_TMP/home REPO=$T_TMP/repo SCREEN=$T_TMP/screen RC=$T_TMP/rc ERRLOG=$T_TMP/stderr
trap '"${TM[@]}" kill-server >/dev/null 2>&1; rm -rf "$T_TMP"' EXIT
mkdir -p "$HOMEDIR/cfg" "$HOMEDIR/state" "$REPO"
git -C "$REPO" init -q
git -C "$REPO" config user.name "Tui Tester"
git -C "$REPO" config user.email tui@example.com
seq 1 30 | sed 's/^/line /' >"$REPO/f.txt"
seq 1 30 | sed 's/^/item /' >"$REPO/g.txt"
echo "notes" >"$REPO/notes.txt"
git -C "$REPO" add -A && git -C "$REPO" commit -qm init
mk() { printf -- '--- a/%s\n+++ b/%s\n@@ -%d,1 +%d,1 @@\n-%s %d\n+%s %d\n' "$1" "$1" "$2" "$2" "$3" "$2" "${3^^}" "$2"; }
# a change made before the TUI starts: not in its /diff
mk g.txt 3 item >"$T_TMP/before.diff"
"$OCT" apply --patch "$T_TMP/before.diff" --repo "$REPO" --yes >/dev/null
git -C "$REPO" commit -qam "before the TUI"
echo "the user's own edit" >>"$REPO/notes.txt"

tui_start -m "$ROOT/tests/fixtures/tiny/llama_gqa_f16.gguf" --no-index
check "the TUI starts" "octet" 20
type_line "/diff"
check "/diff with no change yet" "octet has changed nothing here since the start"
mk f.txt 7 line >"$T_TMP/a.diff"
mk f.txt 20 line >"$T_TMP/b.diff"
"$OCT" apply --patch "$T_TMP/a.diff" --repo "$REPO" --yes >/dev/null
"$OCT" apply --patch "$T_TMP/b.diff" --repo "$REPO" --yes >/dev/null
type_line "/diff"
check "/diff shows octet's changes since the start" "octet's 2 changes since the start"
check "/diff shows the new line" "\\+LINE 7"
if grep -q "ITEM 3" "$SCREEN"; then t_fail "/diff leaves out what came before the start"; else t_ok "/diff leaves out what came before the start"; fi
type_line "/commit rename two lines"
check "/commit commits" "committed as [0-9a-f]{12}"
[ "$(git -C "$REPO" log -1 --format=%s)" = "rename two lines" ] && t_ok "the commit has the message" || t_fail "the commit has the message" "$(git -C "$REPO" log -1 --format=%s)"
[ "$(git -C "$REPO" show --name-only --format= HEAD)" = "f.txt" ] && t_ok "the commit holds only f.txt" \
    || t_fail "the commit holds only f.txt" "$(git -C "$REPO" show --name-only --format= HEAD)"
[ "$(git -C "$REPO" log -1 --format=%an)" = "Tui Tester" ] && t_ok "committed as git config's user" || t_fail "committed as git config's user"
[ "$(git -C "$REPO" status --porcelain)" = " M notes.txt" ] && t_ok "the user's edit stays uncommitted" \
    || t_fail "the user's edit stays uncommitted" "$(git -C "$REPO" status --porcelain)"
type_line "/undo yes"
check "/undo takes back the commit" "took back commit"
[ "$(git -C "$REPO" log -1 --format=%s)" = "before the TUI" ] && t_ok "HEAD is back before the commit" || t_fail "HEAD is back before the commit"
grep -qx "LINE 7" "$REPO/f.txt" && ! grep -qx "LINE 20" "$REPO/f.txt" && t_ok "the latest change is undone, the first stays" \
    || t_fail "the latest change is undone, the first stays"
type_line "/quit"
wait_exit "the TUI quits"
t_end
