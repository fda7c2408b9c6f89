#!/usr/bin/env bash
# tui_remote.sh - the terminal UI on a remote engine, end to end: `octet
# serve` on a tiny model on a loopback port (slowed per token), the TUI in a
# private tmux server started with --backend URL: the remote model in the
# status bar, the gauge's remote /metrics figures, a streamed answer, Ctrl-C
# during an answer, /refactor on the remote engine (its reply streamed, no
# usable diff from a random model: a clean error, nothing changed); a preset with
# `backend = URL` switched to and from a local preset (the local weights
# freed); a dead URL (clear error lines, no crash); and the mouse wheel
# scrolling the transcript (issue 6). Every run quits with status 0.
source "$(dirname "$0")/lib.sh"
export LC_ALL=C.UTF-8

if ! command -v tmux >/dev/null 2>&1; then
    t_fail "tmux is installed" "tests/e2e/tui_remote.sh needs tmux (tools/deps.sh installs it)"
    t_end
    exit 1
fi

ROOT=$(pwd)
OCT=$(cd "$(dirname "$OCTET")" && pwd)/$(basename "$OCTET")
SMODEL=$ROOT/tests/fixtures/tiny/llama_gqa_f16.gguf      # served
LMODEL=$ROOT/tests/fixtures/tiny/llama_rope_linear_q8_0.gguf # local
TM=(tmux -L "octet-rtest-$$" -f /dev/null)
HOMEDIR=$T_TMP/home
REPO=$T_TMP/repo
SCREEN=$T_TMP/screen
RC=$T_TMP/rc
ERRLOG=$T_TMP/stderr
SPID=
trap '"${TM[@]}" kill-server >/dev/null 2>&1; rm -f "${TMUX_TMPDIR:-/tmp}/tmux-$(id -u)/octet-rtest-$$";
      [ -n "$SPID" ] && kill -9 "$SPID" 2>/dev/null; rm -rf "$T_TMP"' EXIT

# ---- the server: 40 ms per token so an answer lasts long enough to be watched; a
# context of 1024 tokens, which /refactor's request needs
OCTET_SERVE_TOKEN_DELAY_MS=40 SERVE_OCTET=$OCT serve_start "$T_TMP/serve.log" -m "$SMODEL" --ctx 1024
if [ -z "$PORT" ]; then
    t_fail "octet serve starts" "$(cat "$T_TMP/serve.log")"
    t_end
    exit 1
fi
URL=http://127.0.0.1:$PORT/v1

mkdir -p "$HOMEDIR/cfg/octet/presets" "$HOMEDIR/state" "$REPO"
# write_preset NAME BACKEND: the tiny local model, short answers sampled at
# temperature 1 (long enough to stream), a short system prompt (the local
# context is 256 tokens)
write_preset() {
    cat >"$HOMEDIR/cfg/octet/presets/$1.ini" <<EOF
[model]
path = $LMODEL
context = 256
threads = 1
backend = $2
[retrieval]
enabled = on
top_k = 1
token_budget = 40
[generation]
temperature = 1.0
top_p = 1.0
max_new_tokens = 60
seed = 5
system = Hi.
EOF
}
write_preset rt_local cpu
write_preset rt_remote "$URL"
(
    cd "$REPO" || exit 1
    git init -q .
    printf 'int add(int a, int b)\n{\n    return a + b;\n}\n' >add.c
    git add add.c
    git -c user.name=t -c user.email=t@t commit -qm init
)

# answer_size: characters of the last answer on the screen
answer_size() {
    "${TM[@]}" capture-pane -p >"$SCREEN"
    awk '/▌ octet/ {n = 0; on = 1; next} /Enter send/ {exit} on {n += length($0)} END {print n + 0}' "$SCREEN"
}

t_expect "--backend with a bad URL is a usage error" 2 "$OCT" --backend ftp://x/v1
t_grep "it says what a backend may be" "unknown backend 'ftp://x/v1'.*http://" "$T_TMP/err"

# ---- run 1: --backend URL -----------------------------------------------------------------
tui_start --no-index --preset rt_local --backend "$URL"
check "remote: the model the server lists in the status bar" 'model llama_gqa_f16 +preset rt_local'
check "remote: the switch is said" "preset rt_local: remote engine $URL, model llama_gqa_f16"
check "remote gauge: the server's memory, host and KV fill from /metrics" \
    "^ RAM .*[0-9.]+[KMG]/[0-9.]+[KMG] +remote 127\.0\.0\.1:$PORT +weights [0-9.]+K KV [0-9.]+K +KV [0-9]+/1024"

streamed=0
for attempt in 1 2 3; do
    type_line "add numbers $attempt"
    prev=-1
    for _ in $(seq 1 150); do
        n=$(answer_size)
        g=0
        grep -q 'generating' "$SCREEN" && g=1
        if [ "$g" = 1 ] && [ "$prev" -gt 0 ] && [ "$n" -gt "$prev" ]; then streamed=1; break; fi
        [ "$g" = 1 ] && prev=$n
        [ "$g" = 0 ] && [ "$prev" -ge 0 ] && break
        sleep 0.05
    done
    wait_for "\(remote 127\.0\.0\.1:$PORT\)" 20
    [ $streamed = 1 ] && break
done
if [ $streamed = 1 ]; then t_ok "remote: tokens stream into the transcript"; else
    t_fail "remote: tokens stream into the transcript" "$(cat "$SCREEN")"; fi
check "remote: the answer ends with its figures" "[0-9]+ tokens, [0-9.]+ tok/s; prompt [0-9]+ tokens \(remote 127\.0\.0\.1:$PORT\)" 20
check "remote: tok/s in the status bar" 'preset rt_local +[0-9]*[1-9][0-9]*\.[0-9] tok/s'

stopped=0
for attempt in 1 2 3 4; do
    type_line "more $attempt"
    if wait_for 'generating' 10; then
        keys C-c
        if wait_for "stopped \(Ctrl-C\)" 5; then stopped=1; break; fi
    fi
    wait_for "\(remote 127\.0\.0\.1:$PORT\)" 20
done
if [ $stopped = 1 ]; then t_ok "remote: Ctrl-C stops the answer"; else
    t_fail "remote: Ctrl-C stops the answer" "$(cat "$SCREEN")"; fi
canceled=0
for _ in $(seq 1 100); do
    n=$(curl -s "http://127.0.0.1:$PORT/metrics" | awk '$1 == "octet_requests_canceled_total" {print $2}')
    [ "${n:-0}" -ge 1 ] 2>/dev/null && { canceled=1; break; }
    sleep 0.05
done
if [ $canceled = 1 ]; then t_ok "remote: Ctrl-C stops the server's generation too"; else
    t_fail "remote: Ctrl-C stops the server's generation too" "$(curl -s "http://127.0.0.1:$PORT/metrics" | grep -v '^#')"; fi
check "remote: idle again after Ctrl-C" 'idle' 10
chats_before=$(curl -s "http://127.0.0.1:$PORT/metrics" |
    awk '$1 ~ /^octet_requests_total[{]endpoint="chat_completions"/ {n += $2} END {print n + 0}')
type_line "/refactor rename add to sum"
check "/refactor on a remote engine: the reply streams from the server" 'refactor: asking for an edit|refactor: reply [0-9]/3|generating' 10
check "/refactor on a remote engine: ends cleanly, nothing changed" \
    'refactor: no usable edit: |nothing was changed' 20
if grep -q 'needs a local model' "$SCREEN"; then t_fail "/refactor on a remote engine is not refused" "$(cat "$SCREEN")"; else
    t_ok "/refactor on a remote engine is not refused"; fi
chats_after=$(curl -s "http://127.0.0.1:$PORT/metrics" |
    awk '$1 ~ /^octet_requests_total[{]endpoint="chat_completions"/ {n += $2} END {print n + 0}')
if [ "${chats_after:-0}" -gt "${chats_before:-0}" ] 2>/dev/null; then t_ok "/refactor on a remote engine: the request reached the server"; else
    t_fail "/refactor on a remote engine: the request reached the server" "chat requests before ${chats_before:-none}, after ${chats_after:-none}"; fi
if [ -z "$(git -C "$REPO" status --porcelain)" ]; then t_ok "/refactor on a remote engine: the repository is unchanged"; else
    t_fail "/refactor on a remote engine: the repository is unchanged" "$(git -C "$REPO" status --porcelain)"; fi
check "/refactor on a remote engine: idle again" 'idle' 10
type_line "/quit"
wait_exit "remote: /quit exits with status 0"

# ---- run 2: a preset with backend = URL, switched to and from a local one -------------------
tui_start --no-index --preset rt_local
check "local preset: the local model" 'model llama_rope_linear_q8_0 +preset rt_local'
check "local preset: the local gauge" '^ RAM .* CPU +octet [0-9.]+[KM]'
type_line "/preset rt_remote"
check "switch to backend = URL: the local weights are freed" 'llama_rope_linear_q8_0 unloaded: its weights and KV cache are freed'
check "switch to backend = URL: the remote model" 'model llama_gqa_f16 +preset rt_remote'
check "switch to backend = URL: the remote gauge" "remote 127\.0\.0\.1:$PORT +weights"
keys F2
check "the picker shows the remote preset" "rt_remote +remote engine $URL"
keys Escape
type_line "/preset rt_local"
check "switch back: the local model is loaded again" 'loaded llama_rope_linear_q8_0 with preset rt_local'
check "switch back: the local gauge" '^ RAM .* CPU +octet [0-9.]+[KM]'
keys C-d
wait_exit "switching: Ctrl-D exits with status 0"

# ---- run 3: a dead URL; the mouse wheel (SGR reports, as xterm sends them) -------------------
TERMINAL=xterm-256color tui_start --no-index --preset rt_local --backend http://127.0.0.1:1/v1
check "dead URL: a clear error line" '! remote engine http://127\.0\.0\.1:1/v1: .*(refused|connect)'
check "dead URL: the gauge says unreachable" '^ remote 127\.0\.0\.1:1 +\(unreachable\)'
type_line "hello"
check "dead URL: the turn fails with an error line" '! remote engine: .*127\.0\.0\.1:1.*(refused|connect)'
check "dead URL: octet still runs" 'Ask about your code'

for i in $(seq 1 14); do type_line "/nosuch$i"; done
check "a transcript longer than the pane" 'unknown command /nosuch14'
keys -l $'\e[<64;10;5M'
check "mouse wheel up scrolls the transcript back" 'more lines below \(PgDn\)' 5
keys -l $'\e[<64;10;5M'
keys -l $'\e[<64;10;5M'
keys -l $'\e[<64;10;5M'
keys -l $'\e[<64;10;5M'
check "further up: older lines come into view" 'hello' 5
keys -l $'\e[<65;10;5M'
keys -l $'\e[<65;10;5M'
keys -l $'\e[<65;10;5M'
keys -l $'\e[<65;10;5M'
keys -l $'\e[<65;10;5M'
keys -l $'\e[<65;10;5M'
if wait_for 'unknown command /nosuch14' 5 && ! grep -q 'more lines below' "$SCREEN"; then
    t_ok "mouse wheel down returns to the bottom"
else
    t_fail "mouse wheel down returns to the bottom" "$(cat "$SCREEN")"
fi
if grep -q '\[<6' "$SCREEN"; then t_fail "no mouse report leaks into the input" "$(cat "$SCREEN")"; else
    t_ok "no mouse report leaks into the input"; fi
type_line "/quit"
wait_exit "dead URL: /quit exits with status 0"

kill -TERM "$SPID"
wait "$SPID"
rc=$?
SPID=
if [ $rc -eq 0 ]; then t_ok "the server exits cleanly"; else t_fail "the server exits cleanly" "exit $rc" "$(tail -c 600 "$T_TMP/serve.log")"; fi
t_end
