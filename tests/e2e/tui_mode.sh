#!/usr/bin/env bash
# tui_mode.sh - issue 15 item 3, through tmux: the TUI knows what the model
# is. The embedded model is instruction-tuned (a ChatML template): it chats.
# Run without a template (--template none, or a file that has none: the
# engine's side is test_chat's), a model gets completion mode, said in the
# first notice, the status bar and the input's placeholder; what is typed
# is continued (no chat scaffolding in front of it). The same for a remote
# engine: octet serve lists "chat" in its model's capabilities only with a
# template (octet serve --template none serves the embedded model as a base
# model), and there the continuation stops at the end of the block begun; a
# server's chat model gets chat, or completion mode with --template none.
source "$(dirname "$0")/lib.sh"
export LC_ALL=C.UTF-8
if ! command -v tmux >/dev/null 2>&1; then
    t_fail "tmux is installed" "tests/e2e/tui_mode.sh needs tmux (tools/deps.sh installs it)"
    t_end
    exit 1
fi
ROOT=$(pwd)
OCT=$(cd "$(dirname "$OCTET")" && pwd)/$(basename "$OCTET")
BASE=$ROOT/models/octet-code.gguf
CHAT=$ROOT/tests/fixtures/tiny/llama_gqa_f16.gguf
TM=(tmux -L "octet-mtest-$$" -f /dev/null)
HOMEDIR=$T_TMP/home REPO=$T_TMP/repo SCREEN=$T_TMP/screen RC=$T_TMP/rc ERRLOG=$T_TMP/stderr
SPID=
trap '"${TM[@]}" kill-server >/dev/null 2>&1; [ -n "$SPID" ] && kill "$SPID" 2>/dev/null; rm -rf "$T_TMP"' EXIT
mkdir -p "$HOMEDIR/cfg/octet/presets" "$HOMEDIR/state" "$REPO"
git -C "$REPO" init -q
printf 'def add(a, b):\n    return a + b\n' >"$REPO/calc.py"
git -C "$REPO" add -A && git -C "$REPO" -c user.name=t -c user.email=t@t commit -qm init

# ---- the embedded model chats
tui_start -m "$BASE" --no-index
check "embedded model: chat is said" "chats \(chatml template\)" 30
check "embedded model: the status bar says chat" " chat +idle"
check "embedded model: the placeholder asks a question" "Ask about your code"
keys C-d
wait_exit "embedded model: quits"

# ---- without a template: completion mode
tui_start -m "$BASE" --no-index --template none
check "--template none: completion mode is said" "without its chat template \(--template none\): completion mode" 30
check "--template none: what to expect is said" "continued, not answered"
check "--template none: the status bar says completion" " completion +idle"
check "--template none: the placeholder asks for code" "Start some code"
"${TM[@]}" send-keys -l -- 'def fibonacci(n):' 2>/dev/null
"${TM[@]}" send-keys M-Enter 2>/dev/null
"${TM[@]}" send-keys -l -- '    """Return the n-th Fibonacci number."""' 2>/dev/null
"${TM[@]}" send-keys Enter 2>/dev/null
check "--template none: the continuation ends with its figures" "[0-9]+ tokens, [0-9.]+ tok/s; prompt [0-9]+ tokens" 60
"${TM[@]}" capture-pane -p -S -200 >"$T_TMP/transcript"
if grep -q "You are octet" "$T_TMP/transcript"; then t_fail "--template none: no system prompt is continued"; else t_ok "--template none: no system prompt is continued"; fi
keys C-d
wait_exit "--template none: quits"
t_expect "--template with an unknown name: usage error" 2 "$OCT" --template nosuch
t_grep "--template: the known names" "unknown chat template 'nosuch' \(known: chatml" "$T_TMP/err"

# ---- another model with a chat template: chat
tui_start -m "$CHAT" --no-index
check "chat model: chat is said" "chats \(llama3 template\)" 20
check "chat model: the status bar says chat" " chat +idle"
check "chat model: the placeholder asks a question" "Ask about your code"
keys C-d
wait_exit "chat model: quits"

# ---- a remote engine serving a base model (the embedded one without its template): it cannot chat
serve_start "$T_TMP/serve.log" -m "$BASE" --template none --ctx 1024 --threads 1
if [ -n "$PORT" ]; then
    curl -s "http://127.0.0.1:$PORT/v1/models" >"$T_TMP/models.json"
    t_grep "serve: a base model's capabilities leave out chat" '"capabilities":\["completion"\]' "$T_TMP/models.json"
    cat >"$HOMEDIR/cfg/octet/presets/rt.ini" <<EOF
[preset]
description = remote
[model]
backend = http://127.0.0.1:$PORT/v1
[retrieval]
enabled = false
[generation]
max_new_tokens = 48
temperature = 0
EOF
    tui_start --preset rt --no-index
    check "remote base model: completion mode is said" "octet-code has no chat template: completion mode" 20
    check "remote base model: the status bar says completion" " completion +idle"
    # greedy, this model closes the function, then writes another (flows/cont.h stops it)
    type_line 'int max(int a, int b) {'
    check "remote base model: the continuation comes from /completions" "[0-9]+ tokens, [0-9.]+ tok/s.*remote 127" 60
    check "remote base model: stopped at the closing brace" "stopped at the end of the block you began"
    if grep -q "int sum(int n)" "$SCREEN"; then
        t_fail "remote base model: nothing after the function is shown" "$(cat "$SCREEN")"
    else
        t_ok "remote base model: nothing after the function is shown"
    fi
    keys C-d
    wait_exit "remote: quits"
    # gen with the remote base model asks for completions, and says so
    t_expect "gen --backend URL on a base model" 0 "$OCT" gen --backend "http://127.0.0.1:$PORT/v1" \
        --spec "$ROOT/tests/fixtures/specs/add.json" --no-context -n 64 --retries 0
    t_grep "gen says the remote model cannot chat" 'lists no "chat" capability .*plain completions' "$T_TMP/err"
    grep -q "attempt 1/1 failed.*no .python code block" "$T_TMP/err" && t_fail "gen: the reply is code, not a chat answer" "$(cat "$T_TMP/err")" || t_ok "gen: the reply is code, not a chat answer"
else
    t_fail "octet serve starts" "$(cat "$T_TMP/serve.log")"
fi
[ -n "$SPID" ] && kill "$SPID" 2>/dev/null && wait "$SPID" 2>/dev/null
SPID=

# ---- a remote engine whose model chats: chat, or completion mode with --template none
serve_start "$T_TMP/serve2.log" -m "$BASE" --ctx 1024 --threads 1
if [ -n "$PORT" ]; then
    sed -i "s|^backend = .*|backend = http://127.0.0.1:$PORT/v1|" "$HOMEDIR/cfg/octet/presets/rt.ini"
    tui_start --preset rt --no-index
    check "remote chat model: chat is said" "octet-code chats \(the server's template\)" 20
    check "remote chat model: the status bar says chat" " chat +idle"
    keys C-d
    wait_exit "remote chat model: quits"
    tui_start --preset rt --no-index --template none
    check "remote, --template none: completion mode is said" \
        "octet-code without its chat template \(--template none\): completion mode" 20
    check "remote, --template none: the status bar says completion" " completion +idle"
    type_line 'int max(int a, int b) {'
    check "remote, --template none: the continuation comes from /completions" \
        "[0-9]+ tokens, [0-9.]+ tok/s.*remote 127" 60
    check "remote, --template none: stopped at the closing brace" "stopped at the end of the block you began"
    keys C-d
    wait_exit "remote, --template none: quits"
else
    t_fail "octet serve starts (chat model)" "$(cat "$T_TMP/serve2.log")"
fi
t_end
