#!/usr/bin/env bash
# edit.sh - issue 16 item 1: `octet apply` takes patches as people and
# programs write them and stays safe: plain `diff -u` and `diff -ru` output,
# --- a/x +++ b/x without diff --git lines, hunks whose lines moved (found by
# their context near the stated line, the move reported), trailing blanks
# that differ; a hunk that matches at two places equally near, or nowhere,
# is refused with nothing changed.
source "$(dirname "$0")/lib.sh"
export LC_ALL=C
OCT=$(cd "$(dirname "$OCTET")" && pwd)/$(basename "$OCTET")
R=$T_TMP/repo
git init -q "$R"
git -C "$R" config user.email t@example.com
git -C "$R" config user.name t
mkdir -p "$R/src"
seq 1 60 | sed 's/^/line /' >"$R/f.txt"
printf 'def area(w, h):\n    return w * h\n\n\ndef volume(w, h, d):\n    return area(w, h) * d\n' >"$R/src/geo.py"
git -C "$R" add -A && git -C "$R" commit -qm init
fp() { (cd "$R" && git status --porcelain && git diff | sha256sum); }
clean() { git -C "$R" checkout -q -- . && rm -rf "$R/.git/octet"; }

# ---- diff -u of two files (names f.txt.orig / f.txt, timestamps after a tab)
cp "$R/f.txt" "$T_TMP/f.txt.orig"
sed 's/^line 30$/LINE 30/' "$R/f.txt" >"$T_TMP/f.txt"
(cd "$T_TMP" && diff -u f.txt.orig f.txt) >"$T_TMP/u.diff"
t_expect "diff -u applies" 0 "$OCT" apply --patch "$T_TMP/u.diff" --repo "$R" --yes
t_grep "diff -u: the change is made" "^LINE 30$" "$R/f.txt"
[ "$(git -C "$R" status --porcelain)" = " M f.txt" ] && t_ok "diff -u: only f.txt changed" || t_fail "diff -u: only f.txt changed" "$(git -C "$R" status --porcelain)"
t_expect "diff -u: undo" 0 "$OCT" undo --repo "$R" --yes
[ -z "$(git -C "$R" status --porcelain)" ] && t_ok "diff -u: undo restores" || t_fail "diff -u: undo restores"
clean

# ---- diff -ru of two trees (old/src/geo.py, new/src/geo.py)
mkdir -p "$T_TMP/old/src" "$T_TMP/new/src"
cp "$R/src/geo.py" "$T_TMP/old/src/"
sed 's/area/surface/g' "$R/src/geo.py" >"$T_TMP/new/src/geo.py"
(cd "$T_TMP" && diff -ru old new) >"$T_TMP/ru.diff"
t_expect "diff -ru applies" 0 "$OCT" apply --patch "$T_TMP/ru.diff" --repo "$R" --yes
t_grep "diff -ru: renamed" "def surface" "$R/src/geo.py"
clean

# ---- --- a/x +++ b/x without diff --git, hunks 5 lines off
cat >"$T_TMP/off.diff" <<'P'
--- a/f.txt
+++ b/f.txt
@@ -14,3 +14,3 @@
 line 19
-line 20
+LINE 20
 line 21
@@ -44,3 +44,3 @@
 line 39
-line 40
+LINE 40
 line 41
P
t_expect "hunks 5 lines off apply" 0 "$OCT" apply --patch "$T_TMP/off.diff" --repo "$R" --yes
t_grep "the first move is reported" "hunk 1 applied 5 lines lower \(at line 19, not 14\)" "$T_TMP/out"
t_grep "the second move is reported" "hunk 2 applied 5 lines higher \(at line 39, not 44\)" "$T_TMP/out"
if grep -qx "LINE 20" "$R/f.txt" && grep -qx "LINE 40" "$R/f.txt"; then t_ok "both moved hunks changed their lines"
else t_fail "both moved hunks changed their lines"; fi
clean

# ---- a git-format patch (diff --git) whose hunk is off: the same search
printf 'diff --git a/f.txt b/f.txt\n--- a/f.txt\n+++ b/f.txt\n@@ -2,3 +2,3 @@\n line 9\n-line 10\n+LINE 10\n line 11\n' >"$T_TMP/g.diff"
t_expect "a git diff 7 lines off applies" 0 "$OCT" apply --patch "$T_TMP/g.diff" --repo "$R" --yes
t_grep "its move is reported" "hunk 1 applied 7 lines lower" "$T_TMP/out"
clean

# ---- trailing blanks that differ
printf -- '--- a/f.txt\n+++ b/f.txt\n@@ -9,3 +9,3 @@\n line 9  \n-line 10\t\n+LINE 10\n line 11 \n' >"$T_TMP/ws.diff"
t_expect "trailing blanks: applies" 0 "$OCT" apply --patch "$T_TMP/ws.diff" --repo "$R" --yes
t_grep "trailing blanks: reported" "matched ignoring trailing blanks" "$T_TMP/out"
t_grep "trailing blanks: changed" "^LINE 10$" "$R/f.txt"
t_grep "trailing blanks: the context keeps the file's text" "^line 9$" "$R/f.txt"
clean

# ---- ambiguous: the same lines at 20 and 40, the hunk says 30
printf 'x\ny\nz\n' >"$T_TMP/xyz"
{ seq 1 19 | sed 's/^/a /'; cat "$T_TMP/xyz"; seq 23 39 | sed 's/^/a /'; cat "$T_TMP/xyz"; seq 43 60 | sed 's/^/a /'; } >"$R/amb.txt"
git -C "$R" add amb.txt && git -C "$R" commit -qm amb
printf -- '--- a/amb.txt\n+++ b/amb.txt\n@@ -30,3 +30,3 @@\n x\n-y\n+Y\n z\n' >"$T_TMP/amb.diff"
OLD=$(fp)
t_expect "an ambiguous hunk is refused" 1 "$OCT" apply --patch "$T_TMP/amb.diff" --repo "$R" --yes
t_grep "the refusal names both places" "amb.txt: hunk 1 .*line 20 and at line 40, equally near" "$T_TMP/err"
t_grep "the refusal says nothing changed" "nothing was changed" "$T_TMP/err"
[ "$(fp)" = "$OLD" ] && t_ok "ambiguous: nothing changed" || t_fail "ambiguous: nothing changed"
# nearer to one of them: that one
printf -- '--- a/amb.txt\n+++ b/amb.txt\n@@ -36,3 +36,3 @@\n x\n-y\n+Y\n z\n' >"$T_TMP/near.diff"
t_expect "the nearer match wins" 0 "$OCT" apply --patch "$T_TMP/near.diff" --repo "$R" --yes
[ "$(sed -n 41p "$R/amb.txt")" = "Y" ] && [ "$(sed -n 21p "$R/amb.txt")" = "y" ] && t_ok "the match at 40 changed, not 20" \
    || t_fail "the match at 40 changed, not 20" "$(sed -n '20,22p;40,42p' "$R/amb.txt")"
clean

# ---- lines that are nowhere
printf -- '--- a/f.txt\n+++ b/f.txt\n@@ -9,3 +9,3 @@\n line 9\n-line ten\n+LINE 10\n line 11\n' >"$T_TMP/none.diff"
OLD=$(fp)
t_expect "a hunk whose lines are nowhere is refused" 1 "$OCT" apply --patch "$T_TMP/none.diff" --repo "$R" --yes
t_grep "the refusal names the hunk" "f.txt: hunk 1 .* not in the file" "$T_TMP/err"
[ "$(fp)" = "$OLD" ] && t_ok "nowhere: nothing changed" || t_fail "nowhere: nothing changed"

# ---- a plain diff of a file with someone else's uncommitted edit is still refused
echo "user edit" >>"$R/f.txt"
t_expect "uncommitted edits still refused" 1 "$OCT" apply --patch "$T_TMP/off.diff" --repo "$R" --yes
t_grep "refusal names the uncommitted change" "uncommitted|not committed|has changes" "$T_TMP/err"
clean

# ---- issue 16 item 2: stacked edits. Three applies on one file need no --force (octet wrote what is
# there: the blob hash in its latest undo record), a user's edit in between still refuses, and the
# undos unwind in order.
for k in 5 15 25; do
    printf -- '--- a/f.txt\n+++ b/f.txt\n@@ -%d,1 +%d,1 @@\n-line %d\n+LINE %d\n' $k $k $k $k >"$T_TMP/s$k.diff"
    t_expect "stacked apply $k without --force" 0 "$OCT" apply --patch "$T_TMP/s$k.diff" --repo "$R" --yes
    cp "$R/f.txt" "$T_TMP/after$k"
done
[ "$(grep -c '^LINE' "$R/f.txt")" = 3 ] && t_ok "three stacked changes made" || t_fail "three stacked changes made"
echo "a user's line" >>"$R/f.txt"
printf -- '--- a/f.txt\n+++ b/f.txt\n@@ -10,1 +10,1 @@\n-line 10\n+LINE 10\n' >"$T_TMP/s10.diff"
t_expect "a user's edit on top still refuses" 1 "$OCT" apply --patch "$T_TMP/s10.diff" --repo "$R" --yes
t_grep "the refusal asks for a commit or --force" "uncommitted changes: commit or stash it first, or use --force" "$T_TMP/err"
sed -i '$d' "$R/f.txt"
for k in 25 15 5; do
    t_expect "undo of stacked apply $k" 0 "$OCT" undo --repo "$R" --yes
    prev=$((k - 10))
    if [ $prev -gt 0 ]; then
        cmp -s "$R/f.txt" "$T_TMP/after$prev" && t_ok "undo $k restores the state after $prev" || t_fail "undo $k restores the state after $prev"
    fi
done
[ -z "$(git -C "$R" status --porcelain)" ] && t_ok "three undos restore the committed file" || t_fail "three undos restore the committed file" "$(git -C "$R" status --porcelain)"
t_expect "nothing left to undo" 1 "$OCT" undo --repo "$R" --yes
clean

# ---- issue 16 item 3: --commit makes one commit per change with only octet's paths; undo takes it back
git -C "$R" config user.name "Oct Tester"
git -C "$R" config user.email oct@example.com
echo "staged by the user" >>"$R/src/geo.py"
git -C "$R" add src/geo.py
echo "untracked" >"$R/notes.txt"
HEAD0=$(git -C "$R" rev-parse HEAD)
t_expect "apply --commit" 0 "$OCT" apply --patch "$T_TMP/s5.diff" --repo "$R" --yes --commit
t_grep "apply --commit says which commit" "committed as [0-9a-f]{12}" "$T_TMP/out"
[ "$(git -C "$R" rev-list --count "$HEAD0..HEAD")" = 1 ] && t_ok "one commit" || t_fail "one commit"
[ "$(git -C "$R" show --name-only --format= HEAD)" = "f.txt" ] && t_ok "the commit holds only f.txt" \
    || t_fail "the commit holds only f.txt" "$(git -C "$R" show --name-only --format= HEAD)"
[ "$(git -C "$R" log -1 --format=%an HEAD)" = "Oct Tester" ] && t_ok "the author is git config's" || t_fail "the author is git config's"
t_grep "the message names the patch and the summary" "." <(git -C "$R" log -1 --format=%B HEAD | grep -E "^octet apply: s5.diff$|1 file changed")
[ "$(git -C "$R" status --porcelain)" = "$(printf 'M  src/geo.py\n?? notes.txt')" ] && t_ok "the user's staged and untracked changes stay out" \
    || t_fail "the user's staged and untracked changes stay out" "$(git -C "$R" status --porcelain)"
t_expect "a second change, committed" 0 "$OCT" apply --patch "$T_TMP/s15.diff" --repo "$R" --yes --commit
[ "$(git -C "$R" rev-list --count "$HEAD0..HEAD")" = 2 ] && t_ok "one commit per change" || t_fail "one commit per change"
t_expect "undo the second" 0 "$OCT" undo --repo "$R" --yes
t_grep "undo says it took the commit back" "took back commit" "$T_TMP/out"
t_expect "undo the first" 0 "$OCT" undo --repo "$R" --yes
[ "$(git -C "$R" rev-parse HEAD)" = "$HEAD0" ] && t_ok "HEAD is back where it was" || t_fail "HEAD is back where it was"
[ "$(git -C "$R" status --porcelain)" = "$(printf 'M  src/geo.py\n?? notes.txt')" ] && t_ok "after undo only the user's changes remain" \
    || t_fail "after undo only the user's changes remain" "$(git -C "$R" status --porcelain)"
# HEAD moved on: undo refuses and changes nothing
t_expect "apply --commit again" 0 "$OCT" apply --patch "$T_TMP/s5.diff" --repo "$R" --yes --commit
git -C "$R" commit -qm "the user's own commit"
H=$(git -C "$R" rev-parse HEAD)
t_expect "undo after HEAD moved is refused" 1 "$OCT" undo --repo "$R" --yes
t_grep "the refusal says to revert" "HEAD has moved since.*git revert" "$T_TMP/err"
[ "$(git -C "$R" rev-parse HEAD)" = "$H" ] && grep -qx "LINE 5" "$R/f.txt" && t_ok "nothing changed after the refusal" \
    || t_fail "nothing changed after the refusal"
t_end
