#!/usr/bin/env bash
# draft.sh - --draft-model (issue 18): a smaller model with the same
# vocabulary drafts tokens for speculative decoding in run, gen, refactor,
# serve and the TUI. The answer must be the one plain decoding gives; a model
# with another vocabulary is refused at once, naming both files.
source "$(dirname "$0")/lib.sh"
export LC_ALL=C
L=tests/fixtures/tiny/llama_gqa_f16.gguf  # target
D=tests/fixtures/tiny/llama_mha_f32.gguf  # draft: the same 305-token vocabulary
Q=tests/fixtures/tiny/qwen2_gqa_f32.gguf  # another vocabulary
S=models/octet-code.gguf

for p in "x = 1" "def f(a, b):" "int main(void) {"; do
    t_expect "run --no-spec: $p" 0 "$OCTET" run -m "$L" -p "$p" -n 40 --temp 0 --no-spec
    cp "$T_TMP/out" "$T_TMP/plain"
    t_expect "run --draft-model: $p" 0 "$OCTET" run -m "$L" -p "$p" -n 40 --temp 0 --draft-model "$D" -v
    if [ -s "$T_TMP/plain" ] && cmp -s "$T_TMP/out" "$T_TMP/plain"; then t_ok "same answer with the draft model: $p"
    else t_fail "same answer with the draft model: $p" "$(head -c 200 "$T_TMP/out")" "$(head -c 200 "$T_TMP/plain")"; fi
    t_grep "-v reports speculation: $p" "speculation: [0-9]+ of [0-9]+ drafted" "$T_TMP/err"
done

# sampling with a seed: the same draw either way
t_expect "run sampled --no-spec" 0 "$OCTET" run -m "$L" -p "a" -n 40 --temp 0.8 --seed 7 --no-spec
cp "$T_TMP/out" "$T_TMP/plain"
t_expect "run sampled --draft-model" 0 "$OCTET" run -m "$L" -p "a" -n 40 --temp 0.8 --seed 7 --draft-model "$D"
if [ -s "$T_TMP/plain" ] && cmp -s "$T_TMP/out" "$T_TMP/plain"; then t_ok "sampled: same answer with the draft model"
else t_fail "sampled: same answer with the draft model"; fi

# refusals
t_expect "another vocabulary refused" 1 "$OCTET" run -m "$L" -p x --draft-model "$Q"
t_grep "refusal names the draft model" "qwen2_gqa_f32.gguf" "$T_TMP/err"
t_grep "refusal names the model" "llama_gqa_f16.gguf" "$T_TMP/err"
t_grep "refusal says why" "vocabulary" "$T_TMP/err"
t_expect "missing draft model" 1 "$OCTET" run -m "$L" -p x --draft-model "$T_TMP/none.gguf"
t_grep "missing draft model named" "none.gguf" "$T_TMP/err"
t_expect "--draft-model with --no-spec is a usage error" 2 "$OCTET" run -m "$L" -p x --draft-model "$D" --no-spec
t_expect "--draft-model with a remote engine is a usage error" 2 "$OCTET" run -p x --draft-model "$D" \
    --backend http://127.0.0.1:9/v1
t_expect "gen: another vocabulary refused" 1 "$OCTET" gen -m "$S" --spec tests/fixtures/specs/add.json \
    --draft-model "$Q"
t_grep "gen names the draft model" "qwen2_gqa_f32.gguf" "$T_TMP/err"
t_expect "refactor: another vocabulary refused" 1 "$OCTET" refactor -m "$S" "rename x to y" --draft-model "$Q" \
    --dry-run
t_grep "refactor names the draft model" "qwen2_gqa_f32.gguf" "$T_TMP/err"

# the server: answers equal to those without a draft model (the shipped model drafting for itself:
# a second copy, so another model with the same vocabulary)
SPID=
trap 'rm -rf "$T_TMP"; [ -n "$SPID" ] && kill "$SPID" 2>/dev/null' EXIT
serve_start "$T_TMP/serve.log" -m "$S" --draft-model "$S"
if [ -n "$PORT" ]; then
    t_ok "serve --draft-model starts"
    body='{"prompt": "def add(a, b):", "max_tokens": 30, "temperature": 0}'
    curl -s "http://127.0.0.1:$PORT/v1/completions" -H 'Content-Type: application/json' -d "$body" \
        | python3 -c 'import json,sys; print(json.load(sys.stdin)["choices"][0]["text"].rstrip("\n"))' >"$T_TMP/srv" 2>&1
    "$OCTET" run -m "$S" -p "def add(a, b):" -n 30 --temp 0 --no-spec 2>/dev/null | python3 -c 'import sys; print(sys.stdin.read().rstrip("\n"))' >"$T_TMP/plain"
    if [ -s "$T_TMP/srv" ] && cmp -s "$T_TMP/srv" "$T_TMP/plain"; then t_ok "serve with the draft model = run --no-spec"
    else t_fail "serve with the draft model = run --no-spec" "$(head -c 200 "$T_TMP/srv")" "$(head -c 200 "$T_TMP/plain")"; fi
    kill "$SPID" 2>/dev/null; wait "$SPID" 2>/dev/null; SPID=
else
    t_fail "serve --draft-model starts" "$(head -c 400 "$T_TMP/serve.log")"
fi
"$OCTET" serve --port 0 -m "$L" --draft-model "$Q" 2>"$T_TMP/err" >/dev/null; rc=$?
if [ $rc -eq 1 ] && grep -q vocabulary "$T_TMP/err"; then t_ok "serve refuses another vocabulary"
else t_fail "serve refuses another vocabulary" "exit $rc" "$(head -c 300 "$T_TMP/err")"; fi

# the TUI: the draft model is opened beside the loaded model, or refused with a notice (the TUI goes on)
if command -v tmux >/dev/null 2>&1; then
    ROOT=$(pwd)
    OCT=$(cd "$(dirname "$OCTET")" && pwd)/$(basename "$OCTET")
    TM=(tmux -L "octet-dtest-$$" -f /dev/null)
    HOMEDIR=$T_TMP/home REPO=$T_TMP/repo SCREEN=$T_TMP/screen RC=$T_TMP/rc ERRLOG=$T_TMP/stderr
    mkdir -p "$HOMEDIR/cfg" "$HOMEDIR/state" "$REPO"
    trap '"${TM[@]}" kill-server >/dev/null 2>&1; rm -rf "$T_TMP"' EXIT
    tui_start -m "$ROOT/$L" --draft-model "$ROOT/$D" --no-git --no-index
    check "TUI: the draft model drafts" "draft model .* drafts beside prompt lookup" 20
    keys C-d
    wait_exit "TUI with a draft model quits"
    tui_start -m "$ROOT/$L" --draft-model "$ROOT/$Q" --no-git --no-index
    check "TUI: another vocabulary gets a notice" "draft model .*qwen2_gqa_f32.gguf not used" 20
    keys C-d
    wait_exit "TUI after a refused draft model quits"
fi
t_end
