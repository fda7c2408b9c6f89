#!/usr/bin/env bash
# rag_query_corrupt.sh - issue 17 item 3: a search no longer reads the whole
# index to find damage when it opens it (quick_check is `octet index`'s).
# Damage only the pages of the full-text index, which opening and the
# update's file list do not read: the search's query meets it, the index is
# rebuilt with a notice and the search still answers.
source "$(dirname "$0")/lib.sh"
export LC_ALL=C
OCT=$(cd "$(dirname "$OCTET")" && pwd)/$(basename "$OCTET")
D=$T_TMP/proj
mkdir -p "$D"
for i in $(seq 1 200); do
    printf 'def function_%d(x):\n    """helper number %d for the query corruption test"""\n    return x * %d\n' \
        "$i" "$i" "$i" >"$D/m$i.py"
done
DB=$T_TMP/idx.sqlite
t_expect "index" 0 "$OCT" index --repo "$D" --no-git --db "$DB"
pages=$(python3 - "$DB" <<'PY'
import sqlite3, sys
con = sqlite3.connect(sys.argv[1])
con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
print(" ".join(str(p) for (p,) in con.execute("SELECT pageno FROM dbstat WHERE name = 'fts_data' AND pageno > 1")))
PY
)
[ -n "$pages" ] && t_ok "the full-text pages are found" || t_fail "the full-text pages are found"
psize=$(python3 -c 'import sqlite3,sys; print(sqlite3.connect(sys.argv[1]).execute("pragma page_size").fetchone()[0])' "$DB")
for p in $pages; do
    head -c "$psize" /dev/zero | tr '\0' '\245' | dd of="$DB" bs="$psize" seek=$((p - 1)) count=1 conv=notrunc status=none
done
t_expect "search over the damaged index" 0 "$OCT" search function_150 --repo "$D" --no-git --db "$DB" --json --lexical
t_grep "the damage is reported and the index rebuilt" 'corrupt.*rebuilding the index' "$T_TMP/err"
t_grep "the search still finds the code" '"path": "m150\.py"' "$T_TMP/out"
t_expect "a search over the intact index" 0 "$OCT" search function_7 --repo "$D" --no-git --db "$DB" --lexical
[ ! -s "$T_TMP/err" ] && t_ok "no notice for the intact index" || t_fail "no notice for the intact index" "$(cat "$T_TMP/err")"
t_end
