#!/usr/bin/env bash
# rag.sh - `octet index` and `octet search` on a git repository built in a
# temporary directory: the report, incremental runs, the progress bar only on
# a terminal, ranked and JSON output (checked with Python's json module),
# packed context, a plain directory with --no-git, the error outside a
# repository, a corrupt database, and usage errors (exit 2).
source "$(dirname "$0")/lib.sh"
OCTET=$(cd "$(dirname "$OCTET")" && pwd)/$(basename "$OCTET")
export HOME=$T_TMP XDG_CONFIG_HOME=$T_TMP GIT_CONFIG_NOSYSTEM=1 GIT_CONFIG_GLOBAL=/dev/null
export GIT_AUTHOR_NAME=t GIT_AUTHOR_EMAIL=t@octet.invalid GIT_COMMITTER_NAME=t GIT_COMMITTER_EMAIL=t@octet.invalid

R=$T_TMP/repo
mkdir -p "$R/src" "$R/web"
cat >"$R/src/config.c" <<'EOF'
#include <stdio.h>

/* Reads the settings file. */
int parse_config(const char *path)
{
    return path != NULL;
}
EOF
cat >"$R/web/app.js" <<'EOF'
export function parseConfig(text) {
  return JSON.parse(text);
}
EOF
printf 'def helper():\n    return "quote \\" inside"\n' >"$R/tool.py"
(cd "$R" && git init -q . && git add -A && git commit -qm init) || t_fail "git setup"

t_expect "index" 0 "$OCTET" index --repo "$R"
cp "$T_TMP/out" "$T_TMP/index1"
t_grep "index: root" "^indexed +$R$" "$T_TMP/index1"
t_grep "index: files" '^files +3 \(3 changed, 0 unchanged, 0 removed\)$' "$T_TMP/index1"
t_grep "index: chunks" '^chunks +[0-9]+ ' "$T_TMP/index1"
t_grep "index: database" "^database +[0-9.]+ (B|KiB|MiB) +$R/\.git/octet/index\.sqlite$" "$T_TMP/index1"
t_grep "index: time" '^time +[0-9]+\.[0-9]+ s$' "$T_TMP/index1"
if [ -s "$T_TMP/err" ]; then t_fail "index: no progress bar when stderr is not a terminal" "$(head -c 200 "$T_TMP/err")"
else t_ok "index: no progress bar when stderr is not a terminal"; fi

t_expect "index again (from a subdirectory)" 0 bash -c "cd '$R/src' && '$OCTET' index --stats"
t_grep "index: incremental" '^files +3 \(0 changed, 3 unchanged, 0 removed\)$' "$T_TMP/out"
t_grep "index --stats: languages" '^c +1 +[0-9]+$' "$T_TMP/out"
t_grep "index --stats: schema" '^schema +version [0-9]+$' "$T_TMP/out"

# on a terminal (script(1) gives it one), a progress bar on stderr
if command -v script >/dev/null; then
    echo "int later(void) { return 1; }" >"$R/later.c"
    script -qec "'$OCTET' index --repo '$R' >/dev/null" "$T_TMP/tty" >/dev/null 2>&1
    if grep -q $'\r' "$T_TMP/tty" && grep -qE '\[[#.]+\] [0-9]+/[0-9]+' "$T_TMP/tty"; then
        t_ok "index: progress bar on a terminal"
    else t_fail "index: progress bar on a terminal" "$(head -c 300 "$T_TMP/tty" | od -c | head -5)"; fi
fi

t_expect "search" 0 "$OCTET" search --repo "$R" parse config
t_grep "search: ranked lines" '^ +1 +[0-9]+\.[0-9]+ +(src/config\.c:3-7 +parse_config|web/app\.js:1-3 +parseConfig)$' "$T_TMP/out"
t_grep "search: both styles of the name" 'web/app\.js:1-3 +parseConfig' "$T_TMP/out"
t_grep "search: snake_case too" 'src/config\.c:3-7 +parse_config' "$T_TMP/out"

t_expect "search --json" 0 "$OCTET" search --repo "$R" --json -k 2 "how is the configuration parsed"
cp "$T_TMP/out" "$T_TMP/json"
if python3 - "$T_TMP/json" <<'EOF'
import json, sys
a = json.load(open(sys.argv[1]))
assert isinstance(a, list) and 1 <= len(a) <= 2, a
for o in a:
    assert set(o) == {"path", "start", "end", "symbol", "score"}, o
    assert isinstance(o["path"], str) and not o["path"].startswith("/"), o
    assert isinstance(o["start"], int) and isinstance(o["end"], int) and 1 <= o["start"] <= o["end"], o
    assert o["symbol"] is None or isinstance(o["symbol"], str), o
    assert isinstance(o["score"], (int, float)) and o["score"] > 0, o
assert [o["score"] for o in a] == sorted((o["score"] for o in a), reverse=True)
EOF
then t_ok "search --json: array of path/start/end/symbol/score"; else t_fail "search --json: array of path/start/end/symbol/score" "$(head -c 400 "$T_TMP/json")"; fi

t_expect "search --json, no hits: exit 1" 1 "$OCTET" search --repo "$R" --json zzzznotthere
t_grep "search --json: empty array" '^\[\]$' "$T_TMP/out"
t_grep "search: no hit is said" "no chunk of the repository matches 'zzzznotthere'" "$T_TMP/err"
t_expect "search, no hits: exit 1" 1 "$OCTET" search --repo "$R" zzzznotthere
[ -s "$T_TMP/out" ] && t_fail "search, no hits: nothing on stdout" "$(head -c 200 "$T_TMP/out")" || t_ok "search, no hits: nothing on stdout"
# no query and a terminal on standard input: the usage, at once (script(1) gives the terminal)
if command -v script >/dev/null 2>&1; then
    timeout 10 script -qec "'$OCTET' search --repo '$R'" /dev/null >"$T_TMP/tty" 2>&1 </dev/null; rc=$?
    if [ $rc -ne 124 ] && grep -q "Usage: octet search" "$T_TMP/tty"; then t_ok "search without a query on a terminal: usage"
    else t_fail "search without a query on a terminal: usage" "exit $rc" "$(head -c 300 "$T_TMP/tty")"; fi
fi
t_expect "search: query on stdin, hostile" 0 bash -c "printf 'NEAR(\"parse* ^config)) \\0 AND' | '$OCTET' search --repo '$R' -k 3"
t_grep "search: stdin query answered" 'parse_?[cC]onfig' "$T_TMP/out"

t_expect "search --context" 0 "$OCTET" search --repo "$R" --context 200 parse_config
t_grep "context: path:first-last header" '^src/config\.c:3-7$' "$T_TMP/out"
t_grep "context: fenced code" '^```c$' "$T_TMP/out"

# the index follows edits before searching
sed -i 's/parse_config/load_settings/' "$R/src/config.c"
t_expect "search after an edit" 0 "$OCTET" search --repo "$R" --json load settings
t_grep "search: updated first" '"symbol": "load_settings"' "$T_TMP/out"

# plain directories and the error outside a repository
P=$T_TMP/plain
mkdir -p "$P/a" && echo "int plaintoken(void) { return 0; }" >"$P/a/p.c"
t_expect "outside a repository: exit 1" 1 "$OCTET" index --repo "$P"
t_grep "outside a repository: message" 'not inside a git repository \(use --no-git' "$T_TMP/err"
t_expect "--no-git" 0 "$OCTET" search --no-git --repo "$P" --json plaintoken
t_grep "--no-git: found" '"path": "a/p\.c"' "$T_TMP/out"

# --db, and a database that is not an index
printf 'not a database at all' >"$T_TMP/bad.sqlite"
t_expect "--db on a file that is not an index: refused" 1 "$OCTET" index --repo "$R" --db "$T_TMP/bad.sqlite"
t_grep "--db not an index: message" 'not an octet index' "$T_TMP/err"
[ "$(cat "$T_TMP/bad.sqlite")" = 'not a database at all' ] && t_ok "--db not an index: left as it was" ||
    t_fail "--db not an index: left as it was"
t_expect "--db NEW: indexed" 0 "$OCTET" index --repo "$R" --db "$T_TMP/new.sqlite"
t_grep "--db NEW: reindexed" '^files +4 \(4 changed' "$T_TMP/out"

t_expect "index --help" 0 "$OCTET" index --help
t_grep "index --help: usage" '^Usage: octet index' "$T_TMP/out"
t_expect "search --help" 0 "$OCTET" search --help
t_grep "search --help: usage" '^Usage: octet search' "$T_TMP/out"
t_expect "search -k 0: usage error" 2 "$OCTET" search --repo "$R" -k 0 x
t_expect "search -k junk: usage error" 2 "$OCTET" search --repo "$R" -k ten x
t_expect "search --json --context: usage error" 2 "$OCTET" search --repo "$R" --json --context 10 x
t_expect "index --max-size junk: usage error" 2 "$OCTET" index --repo "$R" --max-size lots
t_expect "index extra argument: usage error" 2 "$OCTET" index --repo "$R" extra
t_expect "index unknown option: usage error" 2 "$OCTET" index --frobnicate
t_end
