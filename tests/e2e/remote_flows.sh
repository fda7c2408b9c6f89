#!/usr/bin/env bash
# remote_flows.sh - the workflows on a remote engine (issue 9 item 2): `octet
# gen` and `octet refactor` with --backend URL against `octet serve` on the
# embedded model, as chat and as plain completion. The replies are not judged
# (the tests look at the pipeline: the request reaches the server, the reply
# is checked or searched for a diff, a complete reply stops the transfer, the
# repository is left as it was); options only a local engine uses are usage
# errors with a URL, and a dead URL is a clear error.
source "$(dirname "$0")/lib.sh"
export LC_ALL=C
S=$PWD/tests/fixtures/specs
MODEL=$PWD/models/octet-code.gguf
OCT=$(cd "$(dirname "$OCTET")" && pwd)/$(basename "$OCTET")
DEAD=http://127.0.0.1:1/v1
R=$T_TMP/repo
SPID=
trap '[ -n "$SPID" ] && kill -9 "$SPID" 2>/dev/null; rm -rf "$T_TMP"' EXIT

mkdir -p "$R"
printf 'int add(int a, int b)\n{\n    return a + b;\n}\n' >"$R/add.c"
printf '#include "add.h"\n\nint twice(int a)\n{\n    return add(a, a);\n}\n' >"$R/twice.c"
printf 'int add(int a, int b);\n' >"$R/add.h"
git -C "$R" init -q && git -C "$R" add . && git -C "$R" -c user.name=t -c user.email=t@t commit -qm init
check_clean() {
    if [ -z "$(git -C "$R" status --porcelain)" ]; then t_ok "$1"; else t_fail "$1" "$(git -C "$R" status --porcelain)"; fi
}
# t_expect01 NAME COMMAND... : COMMAND ends with status 0 or 1 (a verdict, not a crash or a usage error)
t_expect01() {
    local name=$1; shift
    "$@" >"$T_TMP/out" 2>"$T_TMP/err"; local rc=$?
    if [ "$rc" -eq 0 ] || [ "$rc" -eq 1 ]; then t_ok "$name"; else
        t_fail "$name" "exit $rc, expected 0 or 1" "stderr: $(tail -c 600 "$T_TMP/err")"; fi
}

# ---- without a server: usage errors, a dead URL
t_expect "gen --backend URL --ctx: usage error" 2 "$OCT" gen --spec "$S/add.json" --backend $DEAD --ctx 512
t_grep "gen: --ctx is for a local engine" "--ctx applies to a local engine, not to --backend $DEAD" "$T_TMP/err"
t_expect "gen --backend URL --threads: usage error" 2 "$OCT" gen --spec "$S/add.json" --backend $DEAD --threads 2
t_expect "gen --backend URL --template chatml: usage error" 2 "$OCT" gen --spec "$S/add.json" --backend $DEAD \
    --template chatml
t_grep "gen: the remote engine has its own template" 'the remote engine applies its own chat template' "$T_TMP/err"
t_expect "refactor --backend URL --weights: usage error" 2 "$OCT" refactor "x" --backend $DEAD --weights f16 --dry-run
t_grep "refactor: --weights is for a local engine" "--weights applies to a local engine, not to --backend" "$T_TMP/err"
t_expect "refactor --backend URL --kv: usage error" 2 "$OCT" refactor "x" --backend $DEAD --kv f16 --dry-run
t_expect "gen --backend with a dead URL" 1 "$OCT" gen --spec "$S/add.json" --backend $DEAD --repo "$R" --check
t_grep "gen: dead URL, a clear error" "^octet gen: $DEAD/models: .*(refused|connect)" "$T_TMP/err"
t_expect "refactor --backend with a dead URL" 1 "$OCT" refactor "rename add to sum" --backend $DEAD --repo "$R" --yes
t_grep "refactor: dead URL, a clear error" "^octet refactor: $DEAD/models: .*(refused|connect)" "$T_TMP/err"
check_clean "dead URL: the repository is unchanged"

# ---- the server
# the embedded model served without its chat template: a base model, which clients must prompt plainly
SERVE_OCTET=$OCT serve_start "$T_TMP/serve.log" -m "$MODEL" --template none
if [ -z "$PORT" ]; then
    t_fail "octet serve starts" "$(cat "$T_TMP/serve.log")"
    t_end
    exit 1
fi
URL=http://127.0.0.1:$PORT/v1
# requests ENDPOINT: the server's count of requests to ENDPOINT (any status)
requests() {
    curl -s "http://127.0.0.1:$PORT/metrics" |
        awk -v e="$1" 'index($1, "octet_requests_total{endpoint=\"" e "\"") == 1 {n += $2} END {print n + 0}'
}
canceled() { curl -s "http://127.0.0.1:$PORT/metrics" | awk '$1 == "octet_requests_canceled_total" {print $2 + 0}'; }

# ---- gen, with retrieval from the repository (counted with the estimate): the served model has no chat
# template (--template none), which /v1/models says, so gen asks for plain completions (issue 16 item 6)
c_before=$(requests completions)
t_expect01 "gen --backend: checked, retried" "$OCT" gen --spec "$S/add.json" --backend "$URL" --check -n 32 \
    --retries 1 --repo "$R" -v
t_grep "gen --backend: the server's model cannot chat, said once" "^octet gen: $URL lists no \"chat\" capability" "$T_TMP/err"
t_grep "gen --backend: so a completion request to the server" "^octet gen: plain-completion request to $URL" "$T_TMP/err"
t_grep "gen --backend: retrieved context" '^octet gen: retrieved context, [0-9]+ bytes' "$T_TMP/err"
t_grep "gen --backend: the attempt's verdict" '^octet gen: attempt 1/2( failed|: )' "$T_TMP/err"
if [ "$(requests completions)" -gt "${c_before:-0}" ]; then t_ok "gen --backend: the request reached the server"; else
    t_fail "gen --backend: the request reached the server" "$(curl -s "http://127.0.0.1:$PORT/metrics" | grep requests_total)"; fi

# ---- gen: plain completion of C functions
t_expect01 "gen --backend --template none: plain completion, checked" "$OCT" gen --spec "$S/greet.json" \
    --backend "$URL" -m octet-code --template none --check -n 160 --retries 1 --no-context -v
t_grep "gen --template none: a completion request" "^octet gen: plain-completion request to $URL" "$T_TMP/err"
t_grep "gen --template none: the code was checked" '^octet gen: (check:|attempt 1/2)' "$T_TMP/err"
t_expect01 "gen --backend: a C spec" "$OCT" gen --spec "$S/greet.json" --backend "$URL" --template none --check \
    -n 24 --retries 0 --no-context --out "$T_TMP/greet.c"
t_grep "gen --backend C: the attempt's verdict" '^octet gen: attempt 1/1' "$T_TMP/err"
check_clean "gen: the repository is unchanged"

# ---- refactor: a model that writes no usable blocks, nothing applied
t_expect "refactor --backend: chat, no usable blocks" 1 "$OCT" refactor "rename add to sum" --backend "$URL" \
    --repo "$R" --yes -n 48 --context 256 -v
t_grep "refactor --backend: the retrieved code" '^octet refactor: retrieved .*add\.c:1-4' "$T_TMP/err"
t_grep "refactor --backend: the server's reply" "^octet refactor: the reply of $URL \(plain-completion request\)" "$T_TMP/err"
t_grep "refactor --backend: a clean refusal" '^octet refactor: (no usable search/replace blocks( \(the last of 3 replies\))?: the model.s reply: |.*nothing was changed)' \
    "$T_TMP/err"
t_expect "refactor --backend --template none --symbol" 1 "$OCT" refactor "rename add to sum" --symbol add \
    --backend "$URL" --template none --repo "$R" --yes -n 48 --context 256
t_grep "refactor --template none: a clean refusal" \
    '^octet refactor: (no usable search/replace blocks( \(the last of 3 replies\))?: the model.s reply: |.*nothing was changed)' "$T_TMP/err"
check_clean "refactor: the repository is unchanged"

kill -TERM "$SPID"
wait "$SPID"
rc=$?
SPID=
if [ $rc -eq 0 ]; then t_ok "the server exits cleanly"; else t_fail "the server exits cleanly" "exit $rc" "$(tail -c 600 "$T_TMP/serve.log")"; fi

# ---- a complete reply stops the server's generation. This model ends its answers itself (an end token
# right after the function), so the server here never lets it (--ignore-eos): it writes on past the
# function's closing brace, and the client, seeing the function complete before -n, stops the transfer.
SERVE_OCTET=$OCT serve_start "$T_TMP/serve2.log" -m "$MODEL" --template none --ignore-eos
if [ -z "$PORT" ]; then
    t_fail "octet serve --ignore-eos starts" "$(cat "$T_TMP/serve2.log")"
    t_end
    exit 1
fi
URL=http://127.0.0.1:$PORT/v1
c0=$(canceled)
t_expect01 "gen --backend (--ignore-eos): plain completions, checked" "$OCT" gen --spec "$S/scale.json" \
    --backend "$URL" --template none --check -n 200 --retries 3 --no-context -v
c1=$(canceled)
if [ "$c1" -gt "$c0" ]; then t_ok "gen --backend: a complete reply stops the server's generation ($((c1 - c0)) stopped)"; else
    t_fail "gen --backend: a complete reply stops the server's generation" "canceled before $c0, after $c1" \
        "$(tail -c 800 "$T_TMP/err")"; fi
kill -TERM "$SPID"
wait "$SPID"
SPID=
t_end
