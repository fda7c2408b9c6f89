#!/usr/bin/env bash
# harden_db.sh - issue 19, defect 8: `octet index --db FILE` never destroys
# files. An existing file that is not an octet index (text, another
# application's SQLite database) is refused and left byte for byte as it was,
# with no .bad copy written over another file; directories of a --db path are
# not created; /dev/null (not a regular file) is refused without a
# /dev/null-journal appearing.
source "$(dirname "$0")/lib.sh"
export LC_ALL=C
OCT=$(cd "$(dirname "$OCTET")" && pwd)/$(basename "$OCTET")
D=$T_TMP/proj
mkdir -p "$D"
printf 'def f():\n    return 1\n' >"$D/a.py"
cd "$T_TMP" || exit 1

printf 'my notes\nline two\n' >notes.txt
printf 'older backup\n' >notes.txt.bad
sum_before=$(cat notes.txt notes.txt.bad | sha256sum)
t_expect "--db on a text file is refused" 1 "$OCT" index --repo "$D" --no-git --db notes.txt
t_grep "the message says why" 'notes.txt: the file exists and is not an octet index' "$T_TMP/err"
[ "$(cat notes.txt notes.txt.bad | sha256sum)" = "$sum_before" ] && t_ok "the text file and its .bad are untouched" ||
    t_fail "the text file and its .bad are untouched" "$(head -c 200 notes.txt)"
t_expect "search --db on a text file is refused" 1 "$OCT" search f --repo "$D" --no-git --db notes.txt
[ "$(cat notes.txt notes.txt.bad | sha256sum)" = "$sum_before" ] && t_ok "still untouched after search" ||
    t_fail "still untouched after search"

python3 -c 'import sqlite3; c = sqlite3.connect("other.db"); c.execute("create table t(x)"); c.execute("insert into t values (42)"); c.commit()'
sum_before=$(sha256sum <other.db)
t_expect "--db on another application's SQLite database is refused" 1 "$OCT" index --repo "$D" --no-git --db other.db
t_grep "the message names it" 'another application' "$T_TMP/err"
[ "$(sha256sum <other.db)" = "$sum_before" ] && t_ok "the other database is untouched" || t_fail "the other database is untouched"

t_expect "--db in a directory that does not exist is refused" 1 "$OCT" index --repo "$D" --no-git --db "$T_TMP/no/such/dir/x.db"
[ ! -e "$T_TMP/no" ] && t_ok "no directory was created" || t_fail "no directory was created" "$(find "$T_TMP/no")"

journal_before=$([ -e /dev/null-journal ] && echo yes || echo no)
t_expect "--db /dev/null is refused" 1 "$OCT" index --repo "$D" --no-git --db /dev/null
t_grep "as not a regular file" 'not a regular file' "$T_TMP/err"
if [ "$journal_before" = no ] && [ -e /dev/null-journal ]; then t_fail "no /dev/null-journal"; else t_ok "no /dev/null-journal"; fi
mkfifo fifo.db
t_expect "--db on a FIFO is refused at once" 1 timeout 10 "$OCT" index --repo "$D" --no-git --db fifo.db

# what still works: a new file in an existing directory, an empty file, the default place
t_expect "--db NEW in an existing directory" 0 "$OCT" index --repo "$D" --no-git --db new.db
t_expect "and again (an octet index)" 0 "$OCT" index --repo "$D" --no-git --db new.db
: >empty.db
t_expect "--db on an empty file" 0 "$OCT" index --repo "$D" --no-git --db empty.db
t_expect "the default index (its own directory created)" 0 "$OCT" index --repo "$D" --no-git
[ -f "$D/.octet/index.sqlite" ] && t_ok "default index in .octet/" || t_fail "default index in .octet/"
t_end
