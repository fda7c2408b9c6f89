#!/usr/bin/env bash
# harden_index_damage.sh - issue 19, defect 10: 64 KiB of random bytes inside
# the index database. The next `octet index` (an update) runs SQLite's
# quick_check, says the index is damaged and rebuilds it; afterwards the
# database passes quick_check and search finds the code again.
source "$(dirname "$0")/lib.sh"
export LC_ALL=C
OCT=$(cd "$(dirname "$OCTET")" && pwd)/$(basename "$OCTET")
D=$T_TMP/proj
mkdir -p "$D"
# random text: the index compresses chunk texts, and must stay large
# enough for the damage below to land inside its pages
for i in $(seq 1 300); do
    printf 'def function_%d(x):\n    """helper number %d for the damaged index test"""\n    return x * %d + len("%s")\n' \
        "$i" "$i" "$i" "$(head -c 300 /dev/urandom | od -An -tx1 | tr -d ' \n')" >"$D/m$i.py"
done
DB=$T_TMP/idx.sqlite
t_expect "index" 0 "$OCT" index --repo "$D" --no-git --db "$DB"
size=$(stat -c %s "$DB")
[ "$size" -gt $((200 * 1024)) ] && t_ok "the index is large enough ($size bytes)" || t_fail "the index is large enough" "$size"
# 64 KiB of random bytes in the middle, as in the report
dd if=/dev/urandom of="$DB" bs=1024 seek=$((size / 2048)) count=64 conv=notrunc status=none
qc() { python3 -c 'import sqlite3,sys; print(sqlite3.connect(sys.argv[1]).execute("pragma quick_check").fetchone()[0])' "$1" 2>&1; }
[ "$(qc "$DB")" != ok ] && t_ok "quick_check sees the damage" || t_fail "quick_check sees the damage"
t_expect "index after the damage" 0 "$OCT" index --repo "$D" --no-git --db "$DB"
t_grep "it says the index was damaged and is rebuilt" 'damaged \(quick_check: .*\).*rebuilding the index' "$T_TMP/err"
[ "$(qc "$DB")" = ok ] && t_ok "the rebuilt index passes quick_check" || t_fail "the rebuilt index passes quick_check" "$(qc "$DB")"
t_expect "search" 0 "$OCT" search function_150 --repo "$D" --no-git --db "$DB" --json
t_grep "search finds the code again" '"path": "m150\.py"' "$T_TMP/out"
t_expect "an intact index: no notice" 0 "$OCT" index --repo "$D" --no-git --db "$DB"
[ ! -s "$T_TMP/err" ] && t_ok "no notice for an intact index" || t_fail "no notice for an intact index" "$(cat "$T_TMP/err")"
t_end
