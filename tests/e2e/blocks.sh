#!/usr/bin/env bash
# blocks.sh - issue 16 item 1: `octet apply` takes search/replace blocks
# (aider's format) on a real git repository: several blocks in several
# files (one of them created, one matched with another indentation and
# re-indented, one CRLF file) applied all at once, --check, undo restoring
# everything, an ambiguous or absent SEARCH and a malformed block refused
# with nothing changed, a dirty file refused, --commit with blocks, and
# `octet refactor --format` checked as a usage.
source "$(dirname "$0")/lib.sh"
export LC_ALL=C
OCT=$(cd "$(dirname "$OCTET")" && pwd)/$(basename "$OCTET")
R=$T_TMP/repo
git init -q "$R"
git -C "$R" config user.email oct@example.com
git -C "$R" config user.name "Oct Tester"
mkdir -p "$R/src"
printf 'def area(w, h):\n    return w * h\n\n\nclass Box:\n    def volume(self, d):\n        return area(self.w, self.h) * d\n' >"$R/src/geo.py"
printf 'one\r\ntwo\r\nthree\r\n' >"$R/win.txt"
seq 1 30 | sed 's/^/line /' >"$R/f.txt"
git -C "$R" add -A && git -C "$R" commit -qm init
HEAD0=$(git -C "$R" rev-parse HEAD)
fp() { (cd "$R" && git status --porcelain && git diff | sha256sum && git rev-parse HEAD); }

cat >"$T_TMP/edits.txt" <<'E'
Here are the changes.

src/geo.py
```python
<<<<<<< SEARCH
def area(w, h):
    return w * h
=======
def surface(w, h):
    return w * h
>>>>>>> REPLACE
```

```python
<<<<<<< SEARCH
def volume(self, d):
    return area(self.w, self.h) * d
=======
def volume(self, d):
    # the base times the depth
    return surface(self.w, self.h) * d
>>>>>>> REPLACE
```

win.txt
<<<<<<< SEARCH
two
=======
TWO
>>>>>>> REPLACE

docs/notes.md
<<<<<<< SEARCH
=======
# Notes
>>>>>>> REPLACE
E

# ---- --check: shown, nothing written
OLD=$(fp)
t_expect "blocks: --check" 0 "$OCT" apply --patch "$T_TMP/edits.txt" --repo "$R" --check --color never
t_grep "blocks: --check shows the diff" "^\+def surface\(w, h\):$" "$T_TMP/out"
t_grep "blocks: --check says it applies" "the patch applies cleanly: 3 files changed" "$T_TMP/out"
[ "$(fp)" = "$OLD" ] && t_ok "blocks: --check changes nothing" || t_fail "blocks: --check changes nothing"

# ---- apply: all four blocks, three files
t_expect "blocks: apply" 0 "$OCT" apply --patch "$T_TMP/edits.txt" --repo "$R" --yes
t_grep "blocks: the indentation match is reported" "src/geo.py: block 2 \(line 15\) matched at line 6, where the file has 4 more spaces of indentation; its replacement was re-indented" "$T_TMP/out"
t_grep "blocks: summary" "3 files changed, 5 insertions\(\+\), 3 deletions\(-\)" "$T_TMP/out"
t_grep "blocks: the function renamed" "^def surface\(w, h\):$" "$R/src/geo.py"
t_grep "blocks: the replacement re-indented" "^        # the base times the depth$" "$R/src/geo.py"
t_grep "blocks: its caller renamed" "^        return surface\(self.w, self.h\) \* d$" "$R/src/geo.py"
[ "$(od -An -c "$R/win.txt" | tr -d ' \n')" = 'one\r\nTWO\r\nthree\r\n' ] && t_ok "blocks: the CRLF file keeps CRLF" \
    || t_fail "blocks: the CRLF file keeps CRLF" "$(od -c "$R/win.txt")"
[ "$(cat "$R/docs/notes.md")" = "# Notes" ] && t_ok "blocks: an empty SEARCH created the file" || t_fail "blocks: an empty SEARCH created the file"
[ "$(git -C "$R" status --porcelain | tr '\n' ' ')" = " M src/geo.py  M win.txt ?? docs/ " ] && t_ok "blocks: only those files changed" \
    || t_fail "blocks: only those files changed" "$(git -C "$R" status --porcelain)"

# ---- undo restores all three
t_expect "blocks: undo" 0 "$OCT" undo --repo "$R" --yes
t_grep "blocks: undo removes the created file" "remove +docs/notes.md" "$T_TMP/out"
[ -z "$(git -C "$R" status --porcelain)" ] && t_ok "blocks: undo restores everything" \
    || t_fail "blocks: undo restores everything" "$(git -C "$R" status --porcelain)"

# ---- refusals, nothing changed: an ambiguous SEARCH (after a good block), one found nowhere, malformed
{ seq 1 9 | sed 's/^/a /'; printf 'x\ny\n'; seq 12 19 | sed 's/^/a /'; printf 'x\ny\n'; } >"$R/amb.txt"
git -C "$R" add amb.txt && git -C "$R" commit -qm amb
cat >"$T_TMP/amb.txt" <<'E'
f.txt
<<<<<<< SEARCH
line 3
=======
LINE 3
>>>>>>> REPLACE
amb.txt
<<<<<<< SEARCH
x
y
=======
X
Y
>>>>>>> REPLACE
E
OLD=$(fp)
t_expect "blocks: an ambiguous SEARCH is refused" 1 "$OCT" apply --patch "$T_TMP/amb.txt" --repo "$R" --yes
t_grep "blocks: the refusal names block, file and both places" "amb.txt: block 2 \(line 8\), amb.txt: its SEARCH lines are at line 10 and at line 20; refusing to guess" "$T_TMP/err"
t_grep "blocks: the refusal says nothing changed" "nothing was changed" "$T_TMP/err"
[ "$(fp)" = "$OLD" ] && t_ok "blocks: ambiguous: nothing changed, not even the good block" || t_fail "blocks: ambiguous: nothing changed, not even the good block"
printf 'f.txt\n<<<<<<< SEARCH\nline 3\nline four\n=======\nx\n>>>>>>> REPLACE\n' >"$T_TMP/none.txt"
t_expect "blocks: a SEARCH found nowhere is refused" 1 "$OCT" apply --patch "$T_TMP/none.txt" --repo "$R" --yes
t_grep "blocks: the refusal shows the closest place" "none.txt: block 1 \(line 2\), f.txt: its SEARCH lines are not in the file.*first 1 of 2 lines are at line 3" "$T_TMP/err"
printf 'f.txt\n<<<<<<< SEARCH\nline 3\n=======\nLINE 3\n' >"$T_TMP/bad.txt"
t_expect "blocks: a block without >>>>>>> REPLACE is refused" 1 "$OCT" apply --patch "$T_TMP/bad.txt" --repo "$R" --yes
t_grep "blocks: the refusal names the block" "bad.txt: block 1 \(line 2\): no >>>>>>> REPLACE after its =======" "$T_TMP/err"
printf '../x\n<<<<<<< SEARCH\n=======\nowned\n>>>>>>> REPLACE\n' >"$T_TMP/out.txt"
t_expect "blocks: a path outside the work tree is refused" 1 "$OCT" apply --patch "$T_TMP/out.txt" --repo "$R" --yes
[ ! -e "$T_TMP/x" ] && [ "$(fp)" = "$OLD" ] && t_ok "blocks: refusals changed nothing" || t_fail "blocks: refusals changed nothing"

# ---- someone else's uncommitted edit: refused as for diffs
printf 'f.txt\n<<<<<<< SEARCH\nline 3\n=======\nLINE 3\n>>>>>>> REPLACE\n' >"$T_TMP/l3.txt"
echo "user edit" >>"$R/f.txt"
t_expect "blocks: a dirty file is refused" 1 "$OCT" apply --patch "$T_TMP/l3.txt" --repo "$R" --yes
t_grep "blocks: the refusal names the uncommitted change" "uncommitted changes" "$T_TMP/err"
git -C "$R" checkout -q -- f.txt

# ---- stacked blocks on octet's own edit, then --commit
t_expect "blocks: apply one block" 0 "$OCT" apply --patch "$T_TMP/l3.txt" --repo "$R" --yes
printf 'f.txt\n<<<<<<< SEARCH\nLINE 3\n=======\nLine three\n>>>>>>> REPLACE\n' >"$T_TMP/l3b.txt"
t_expect "blocks: a stacked edit needs no --force" 0 "$OCT" apply --patch "$T_TMP/l3b.txt" --repo "$R" --yes
t_expect "blocks: undo the stacked edit" 0 "$OCT" undo --repo "$R" --yes
t_expect "blocks: undo the first" 0 "$OCT" undo --repo "$R" --yes
HEAD1=$(git -C "$R" rev-parse HEAD)
t_expect "blocks: apply --commit" 0 "$OCT" apply --patch "$T_TMP/l3.txt" --repo "$R" --yes --commit
t_grep "blocks: --commit says which commit" "committed as [0-9a-f]{12}" "$T_TMP/out"
[ "$(git -C "$R" rev-list --count "$HEAD1..HEAD")" = 1 ] && [ "$(git -C "$R" show --name-only --format= HEAD)" = "f.txt" ] \
    && t_ok "blocks: one commit holding f.txt" || t_fail "blocks: one commit holding f.txt" "$(git -C "$R" log --stat -2)"
t_grep "blocks: the commit message names the file" "." <(git -C "$R" log -1 --format=%B HEAD | grep -x "octet apply: l3.txt")
[ -z "$(git -C "$R" status --porcelain)" ] && t_ok "blocks: the work tree is clean after --commit" || t_fail "blocks: the work tree is clean after --commit"
t_expect "blocks: undo the commit" 0 "$OCT" undo --repo "$R" --yes
t_grep "blocks: undo took the commit back" "took back commit" "$T_TMP/out"
[ "$(git -C "$R" rev-parse HEAD)" = "$HEAD1" ] && [ -z "$(git -C "$R" status --porcelain)" ] && t_ok "blocks: HEAD and files back" \
    || t_fail "blocks: HEAD and files back"

# ---- a diff is still a diff; refactor's --format is checked
printf -- '--- a/f.txt\n+++ b/f.txt\n@@ -3 +3 @@\n-line 3\n+LINE 3\n' >"$T_TMP/d.diff"
t_expect "a plain diff still applies" 0 "$OCT" apply --patch "$T_TMP/d.diff" --repo "$R" --yes
t_expect "refactor --format bad is a usage error" 2 "$OCT" refactor "x" --format json --dry-run --repo "$R"
t_grep "refactor --format: the message" "--format must be diff or blocks, not 'json'" "$T_TMP/err"
"$OCT" refactor --help >"$T_TMP/help"
t_grep "refactor --help documents --format" "--format F +what the model writes: blocks \(default" "$T_TMP/help"
"$OCT" apply --help >"$T_TMP/help"
t_grep "apply --help documents blocks" "<<<<<<< SEARCH" "$T_TMP/help"
t_end
