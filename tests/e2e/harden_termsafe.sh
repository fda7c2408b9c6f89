#!/usr/bin/env bash
# harden_termsafe.sh - issue 19, defect 6: untrusted text shown on a terminal
# (a patch's lines in the confirmation diff of apply and undo, file names in
# octet search results, a checked program's output) carries no raw control
# characters: ESC, CR, BEL, C1 controls show as visible escapes ("\e[1A").
source "$(dirname "$0")/lib.sh"
export LC_ALL=C
OCT=$(cd "$(dirname "$OCTET")" && pwd)/$(basename "$OCTET")
R=$T_TMP/repo
git init -q "$R"
git -C "$R" config user.email t@example.com
git -C "$R" config user.name t
printf 'one\ntwo\n' >"$R/f.txt"
git -C "$R" add -A && git -C "$R" commit -qm init
# an added line that would hide itself: cursor up, erase line, carriage return
printf 'one\ntwo\nrm -rf ~ # hidden\033[1A\033[2K\r\n' >"$R/f.txt"
git -C "$R" diff >"$T_TMP/evil.diff"
git -C "$R" checkout -q -- .
# raw: whether FILE has any control byte but newline and tab (ESC of SGR colors excepted with ALLOW_SGR)
raw() {
    if [ "${2:-}" = sgr ]; then sed 's/\x1b\[[0-9;]*m//g' "$1"; else cat "$1"; fi |
        LC_ALL=C grep -q $'[\x01-\x08\x0b-\x1f\x7f]'
}
for color in never always; do
    "$OCT" apply --patch "$T_TMP/evil.diff" --repo "$R" --check --color $color >"$T_TMP/out" 2>&1
    if raw "$T_TMP/out" sgr; then t_fail "apply --color $color: no raw control characters" "$(cat -v "$T_TMP/out" | head -c 400)"
    else t_ok "apply --color $color: no raw control characters"; fi
    t_grep "apply --color $color: shown as escapes" 'hidden\\e\[1A\\e\[2K\\r' "$T_TMP/out"
done
t_expect "the patch applies" 0 "$OCT" apply --patch "$T_TMP/evil.diff" --repo "$R" --yes --color never
raw "$T_TMP/out" && t_fail "apply: no raw control characters" "$(cat -v "$T_TMP/out")" || t_ok "apply: no raw control characters"
# without --yes and a terminal, undo shows its diff and declines
"$OCT" undo --repo "$R" --color always </dev/null >"$T_TMP/out" 2>&1
if raw "$T_TMP/out" sgr; then t_fail "undo: no raw control characters" "$(cat -v "$T_TMP/out" | head -c 400)"
else t_ok "undo: no raw control characters"; fi
t_grep "undo: shown as escapes" 'hidden\\e\[1A' "$T_TMP/out"
t_expect "and undoes" 0 "$OCT" undo --repo "$R" --yes

# a file name with an OSC title sequence and a C1 CSI in octet search
S=$T_TMP/search
mkdir -p "$S"
printf 'def frobnicate_widget():\n    return 1\n' >"$S/$(printf 'evil\033]0;pwned\007\xc2\x9b.py')"
"$OCT" search frobnicate_widget --repo "$S" --no-git --db "$T_TMP/idx.sqlite" >"$T_TMP/out" 2>&1
if raw "$T_TMP/out" || grep -q $'\xc2\x9b' "$T_TMP/out"; then
    t_fail "search: no raw control characters in file names" "$(cat -v "$T_TMP/out")"
else t_ok "search: no raw control characters in file names"; fi
t_grep "search: the name shown with escapes" 'evil\\e\]0;pwned\\a\\u009b\.py' "$T_TMP/out"
t_end
