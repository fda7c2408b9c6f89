#!/usr/bin/env bash
# tui.sh - the terminal UI end to end: the real octet binary in a private
# tmux server (fixed size 100x30) on a tiny random model, in a temporary git
# repository, with HOME and the XDG directories in the temporary folder.
# Start-up (gauge, model, preset, index), a streamed answer, the context
# panel, preset switches with /preset and F2, Ctrl-C during an answer,
# resizing down to 80x24 and below, help, bracketed paste, /save, /copy,
# history across runs, /undo, the /spec form (validation, Esc, a generation
# whose check fails) and /refactor (no usable edit, nothing changed), and
# every way out (/quit, Ctrl-D, Ctrl-C twice) with exit status 0. Screens are polled with a timeout, never fixed sleeps.
source "$(dirname "$0")/lib.sh"
export LC_ALL=C.UTF-8

if ! command -v tmux >/dev/null 2>&1; then
    t_fail "tmux is installed" "tests/e2e/tui.sh needs tmux (tools/deps.sh installs it)"
    t_end
    exit 1
fi

ROOT=$(pwd)
OCT=$(cd "$(dirname "$OCTET")" && pwd)/$(basename "$OCTET")
MODEL=$ROOT/tests/fixtures/tiny/llama_rope_linear_q8_0.gguf
TM=(tmux -L "octet-test-$$" -f /dev/null)
HOMEDIR=$T_TMP/home
REPO=$T_TMP/repo
SCREEN=$T_TMP/screen
RC=$T_TMP/rc
ERRLOG=$T_TMP/stderr # what octet writes to stderr (sanitizer reports)
trap '"${TM[@]}" kill-server >/dev/null 2>&1; rm -f "${TMUX_TMPDIR:-/tmp}/tmux-$(id -u)/octet-test-$$"; rm -rf "$T_TMP"' EXIT

mkdir -p "$HOMEDIR/cfg/octet/presets" "$HOMEDIR/state" "$REPO"
# a test preset: the tiny model's whole context, a short system prompt,
# sampling that gives long answers, a fixed seed
cat >"$HOMEDIR/cfg/octet/presets/tui_test.ini" <<EOF
[preset]
description = tests/e2e/tui.sh
priority = 0
[model]
path = $MODEL
context = 256
weights = int8
kv = int8
threads = 1
backend = cpu
[retrieval]
enabled = on
top_k = 2
token_budget = 80
[generation]
temperature = 1.0
top_p = 1.0
max_new_tokens = 100
seed = 3
system = Hi.
EOF
(
    cd "$REPO" || exit 1
    git init -q .
    printf 'int add(int a, int b)\n{\n    return a + b;\n}\n' >add.c
    printf 'def greet(name):\n    return "hi " + name\n' >greet.py
    git add add.c greet.py
    git -c user.name=t -c user.email=t@t commit -qm init
)


# ---- first run: start-up, an answer, context, presets, Ctrl-C, resize ---------------
DELAY=30 tui_start -m "$MODEL" --preset tui_test
check "starts: model in the status bar" 'model llama_rope_linear_q8_0'
check "preset in the status bar" 'preset tui_test'
check "gauge: RAM and CPU without a GPU" '^ RAM .*[0-9.]+[KMG]/[0-9.]+[KMG] +CPU'
check "gauge: octet's weights / KV / scratch" 'octet [0-9.]+[KM]: weights [0-9.]+[KM] KV [0-9.]+K scratch [0-9.]+[KM]'
check "gauge: KV fill" 'KV 0/256 \(0%\)'
check "index brought up to date in the background" 'index up to date: 2 files'

# answer_snap: "G N" - G 1 while the status says generating, N the size of the last answer
answer_snap() {
    "${TM[@]}" capture-pane -p >"$SCREEN"
    local g=0
    grep -q 'generating' "$SCREEN" && g=1
    echo "$g $(awk '/▌ octet/ {n = 0; on = 1; next} /Enter send/ {exit} on {n += length($0)} END {print n + 0}' "$SCREEN")"
}
streamed=0
for attempt in 1 2 3; do
    type_line "add numbers"
    [ $attempt = 1 ] && check "the prompt shows in the transcript" '^  add numbers'
    prev=-1
    for _ in $(seq 1 200); do
        read -r g n < <(answer_snap)
        if [ "$g" = 1 ] && [ "$prev" -gt 0 ] && [ "$n" -gt "$prev" ]; then streamed=1; break; fi
        [ "$g" = 1 ] && prev=$n
        [ "$g" = 0 ] && [ "$prev" -ge 0 ] && break
        sleep 0.03
    done
    [ $streamed = 1 ] && break
    wait_for 'idle' 20
done
if [ $streamed = 1 ]; then t_ok "tokens stream in while the answer runs"; else
    t_fail "tokens stream in while the answer runs" "$(cat "$SCREEN")"; fi
check "the answer ends with its figures" '[0-9]+ tokens, [0-9.]+ tok/s; prompt [0-9]+ tokens' 30
check "tok/s of the last answer in the status bar" 'preset tui_test +[0-9]*[1-9][0-9]*\.[0-9] tok/s'
check "KV fill after the answer" 'KV [1-9][0-9]*/256'

keys F3
check "F3 shows the context panel" 'Context \(F3 hides\)'
check "the retrieved chunk with path:lines and score" '1 add\.c:1-4' 5
check "its score" 'score [0-9]'
keys F3

type_line "/preset int8_speed"
check "/preset switches: status bar" 'preset int8_speed'
check "/preset: the context clamp is said" 'context 16384 of int8_speed is larger'
check "/preset int8_speed reloads (other model file)" 'loaded llama_rope_linear_q8_0 with preset int8_speed|weights and KV cache kept'
check "the conversation is kept across the switch" 'conversation kept|weights and KV cache kept'

keys F2
check "F2 opens the preset picker" 'presets \(Enter switch, Esc close\)'
check "the picker shows each memory plan" 'int8_memory +ctx 256 \(of 8192\) +int8 +[0-9.]+K \+ +[0-9.]+K \+ +[0-9.]+[KM] = +[0-9.]+[KM] +fits'
# its columns line up: the " = " of every plan row at the same column
cols=$(grep -E ' \+ .* = ' "$SCREEN" | while IFS= read -r l; do p=${l%% = *}; echo ${#p}; done | sort -u | wc -l)
[ "$cols" = 1 ] && t_ok "the picker's columns line up" || t_fail "the picker's columns line up" "$(grep -E ' \+ .* = ' "$SCREEN")"
check "the picker marks the current preset" '● int8_speed'
keys Down Enter
check "F2 switches to the next preset" 'preset int8_memory'
check "weights kept when model and format are unchanged" 'preset int8_memory: weights and KV cache kept'

# Ctrl-C during an answer: random weights may end an answer early, so retry
stopped=0
for attempt in 1 2 3 4; do
    type_line "tell me more $attempt"
    if wait_for 'generating' 10; then
        keys C-c
        if wait_for "stopped \(Ctrl-C\)" 5; then stopped=1; break; fi
    fi
    wait_for '[0-9]+ tokens, [0-9.]+ tok/s' 20
done
if [ $stopped = 1 ]; then t_ok "Ctrl-C stops a running answer"; else
    t_fail "Ctrl-C stops a running answer" "$(cat "$SCREEN")"; fi
# the "stopping" flash lasts 3 s at most; the model and preset come back as soon as the answer stopped
# (2 s: still inside the flash, with room for a loaded machine's slower stop and redraw)
check "the status row shows the model again once stopped" 'model llama_rope_linear_q8_0' 2

keys PPage
check "PgUp scrolls the transcript back" 'more lines below \(PgDn\)'
check "the scroll hint points down, where the rest is" '↓ [0-9]+ more lines below'
keys NPage NPage
if wait_gone 'more lines below'; then t_ok "PgDn comes back to the end"; else t_fail "PgDn comes back to the end" "$(cat "$SCREEN")"; fi

"${TM[@]}" resize-window -x 80 -y 24
check "resize to 80x24: status bar redrawn" '^ model llama_rope_linear_q8_0 +preset int8_memory'
check "resize to 80x24: gauge redrawn" '^ RAM .*KV [0-9]+/256'
check "resize to 80x24: the gauge takes its shorter form" '^ RAM .* CPU +w [0-9.]+[KM] kv [0-9.]+K s [0-9.]+[KM] +KV'
"${TM[@]}" resize-window -x 40 -y 12
check "a too small terminal says so" 'terminal too small \(40x12\)'
"${TM[@]}" resize-window -x 100 -y 30
check "back to 100x30" '^ model llama_rope_linear_q8_0'

keys F1
check "F1 shows the help" 'octet help'
check "the help lists the commands" '/copy N \[FILE\]'
keys x
if wait_gone 'octet help'; then t_ok "any key closes the help"; else t_fail "any key closes the help" "$(cat "$SCREEN")"; fi

# Alt-Enter and Ctrl-J insert newlines; UTF-8 and wide characters
keys -l "first"
keys M-Enter
keys -l "second"
keys C-j
keys -l "héllo 世界"
check "Alt-Enter inserts a newline" '^› first'
check "Ctrl-J inserts a newline" '^  second'
check "UTF-8 and wide characters in the input" '^  héllo 世界'
keys C-c
type_line "/index"
check "/index updates the index again" 'index up to date: 2 files, 2 chunks \(0 changed'

# bracketed paste: newlines are kept, nothing is sent
"${TM[@]}" set-buffer -b p "$(printf 'pasted one\npasted two')"
"${TM[@]}" paste-buffer -p -b p
check "a pasted newline does not send" '^› pasted one'
check "the pasted second line is in the input" '^  pasted two'
keys C-c
type_line "/save $T_TMP/saved.md"
check "/save says where" "saved [0-9]+ messages to"
if grep -q '^## You' "$T_TMP/saved.md" 2>/dev/null && grep -q '^## octet' "$T_TMP/saved.md"; then
    t_ok "/save writes the transcript as Markdown"
else
    t_fail "/save writes the transcript as Markdown" "$(head -c 300 "$T_TMP/saved.md" 2>&1)"
fi
echo "keep me" >"$T_TMP/saved.md"
type_line "/save $T_TMP/saved.md"
check "/save asks before replacing a file" "saved.md exists. Replace it\? y replace"
keys n
check "n keeps the file" "not saved: .*saved.md kept as it was"
[ "$(cat "$T_TMP/saved.md")" = "keep me" ] && t_ok "the file is unchanged after n" || t_fail "the file is unchanged after n"
type_line "/save $T_TMP/saved.md"
check "/save asks again" "saved.md exists. Replace it"
keys y
check "y replaces it" "saved [0-9]+ messages to .*saved.md"
grep -q '^## You' "$T_TMP/saved.md" && t_ok "the file was replaced after y" || t_fail "the file was replaced after y"
type_line "/copy 99 $T_TMP/x"
check "/copy of a missing block says so" 'no code block 99'
type_line "/frobnicate"
check "an unknown command says so" 'unknown command /frobnicate'
type_line "/search greet"
check "/search lists the chunks" '1  greet\.py:1-2'
type_line "/quit"
wait_exit "/quit exits with status 0"
if grep -q '^add numbers$' "$HOMEDIR/state/octet/history" 2>/dev/null; then t_ok "history saved in XDG_STATE_HOME"
else t_fail "history saved in XDG_STATE_HOME" "$(cat "$HOMEDIR/state/octet/history" 2>&1)"; fi

# ---- second run: history across runs, Ctrl-D ------------------------------------------
tui_start -m "$MODEL" --preset tui_test --no-index
check "second run starts" 'preset tui_test'
keys Up
check "Up recalls the last entry of the previous run" '^› /quit'
keys C-u C-d
wait_exit "Ctrl-D exits with status 0"

# ---- third run: no model, Ctrl-C twice ------------------------------------------------
tui_start --no-index
check "without a model: says none is configured and how to give one" 'no model configured: start octet with -m FILE.gguf'
check "without a model: the gauge says so" 'no model loaded'
type_line "/search 世界 héllo"
check "a UTF-8 query is echoed intact" "search '世界 héllo': 0 chunks"
type_line "/model $MODEL"
check "/model loads a model" 'model llama_rope_linear_q8_0'
keys C-c
check "one Ctrl-C at the prompt asks for a second" 'press Ctrl-C again to quit'
keys C-c
wait_exit "Ctrl-C twice exits with status 0"

# ---- auto -------------------------------------------------------------------------------
tui_start -m "$MODEL" --preset auto --no-index
check "--preset auto picks a preset that fits" 'auto: int8_quality fits'
check "auto loads it" 'preset int8_quality'
type_line "/quit"
wait_exit "/quit after auto"

# ---- a plain directory with --no-git ---------------------------------------------------
mkdir -p "$T_TMP/plain"
printf 'int one(void) { return 1; }\n' >"$T_TMP/plain/one.c"
tui_start -m "$MODEL" -C "$T_TMP/plain" --no-git
check "--no-git indexes a plain directory" 'index up to date: 1 files'
type_line "/quit"
wait_exit "/quit after --no-git"

# ---- /undo: the latest `octet apply` restored from the TUI -------------------------------
UREPO=$T_TMP/urepo
mkdir -p "$UREPO"
(
    cd "$UREPO" || exit 1
    git init -q .
    printf 'int add(int a, int b)\n{\n    return a + b;\n}\n' >add.c
    git add add.c
    git -c user.name=t -c user.email=t@t commit -qm init
)
printf -- 'diff --git a/add.c b/add.c\n--- a/add.c\n+++ b/add.c\n@@ -1,4 +1,4 @@\n int add(int a, int b)\n {\n-    return a + b;\n+    return b + a;\n }\n' >"$T_TMP/u.diff"
if (cd "$UREPO" && "$OCT" apply --patch "$T_TMP/u.diff" --yes >/dev/null 2>&1) && grep -q 'return b + a' "$UREPO/add.c"; then
    t_ok "/undo set-up: octet apply changed add.c"
else
    t_fail "/undo set-up: octet apply changed add.c" "$(cat "$UREPO/add.c")"
fi
tui_start -m "$MODEL" -C "$UREPO" --preset tui_test --no-index
check "/undo run starts" 'preset tui_test'
type_line "/undo"
check "/undo shows what would be restored" 'revert +add\.c'
check "/undo shows the diff" '\+ +return a \+ b;'
check "/undo asks for confirmation" 'type /undo yes to restore'
if grep -q 'return b + a' "$UREPO/add.c"; then t_ok "/undo alone changes nothing"; else
    t_fail "/undo alone changes nothing" "$(cat "$UREPO/add.c")"; fi
type_line "/undo yes"
check "/undo yes restores" 'restored 1 file'
if grep -q 'return a + b' "$UREPO/add.c"; then t_ok "/undo yes: add.c has its previous contents"; else
    t_fail "/undo yes: add.c has its previous contents" "$(cat "$UREPO/add.c")"; fi
type_line "/undo"
check "/undo with nothing left says so" 'undo: .*(nothing|no ).*undo'
type_line "/quit"
wait_exit "/quit after /undo"

# ---- /spec and /refactor ---------------------------------------------------------------
# The embedded model: a spec's prompt does not fit the tiny models' 256 tokens.
# Its replies are short (24 tokens) and fail: these tests are about the flow.
cat >"$HOMEDIR/cfg/octet/presets/tui_flows.ini" <<EOF
[model]
path = $ROOT/models/octet-code.gguf
context = 1024
threads = 1
backend = cpu
[retrieval]
enabled = on
top_k = 2
token_budget = 80
[generation]
max_new_tokens = 24
seed = 3
EOF
# tokens paced (30 ms each) so that what a step shows is on the screen before the replies scroll it away
DELAY=30 tui_start --preset tui_flows -C "$REPO" --no-index
check "flows run starts" 'loaded octet-code with preset tui_flows'
type_line "/spec"
check "/spec opens the form" '/spec: a function from a spec'
check "the form lists its fields" 'Examples'
keys -l "mystery"
keys Tab
keys -l "n: integer"
keys Tab
keys -l "int"
keys Tab Tab
keys -l "1 -> 7"
keys C-j
keys -l "2 -> -3"
keys Enter
check "a bad type: the error at the field it names" "inputs\[0\]\.type: unknown type 'integer'"
check "the form stays open for the correction" '/spec: a function from a spec'
keys Escape
check "Esc closes the form" 'spec form closed'
if wait_gone '/spec: a function from a spec'; then t_ok "the form is gone after Esc"; else
    t_fail "the form is gone after Esc" "$(cat "$SCREEN")"; fi
type_line "/spec"
check "/spec opens the form again with what was typed" 'n: integer'
# the cursor is on the field the error named: correct it, then on to Examples
keys C-u
keys -l "n: int"
keys Tab Tab Tab
keys Enter
check "a valid form starts the generation" 'spec mystery \(python, 1 input, 2 examples\): generating and checking'
check "each failed attempt is reported" 'attempt 1/3 failed: ' 30
check "the check fails with a clear message" 'spec mystery: no code passed after 3 attempts; the last one failed:' 60
check "octet is idle again" 'idle' 10
printf '{"language": "python", "name": "f", "description": "f", "inputs": [], "output": "float"}\n' >"$T_TMP/bad_spec.json"
type_line "/spec $T_TMP/bad_spec.json"
check "/spec FILE: a bad spec file is named with the field" "bad_spec\.json: output: unknown type 'float'"
type_line "/refactor"
check "/refactor without an instruction: usage" 'usage: /refactor INSTRUCTION \[--path P \| --symbol S\] \[--force\]: no instruction given'
type_line "/refactor swap the operands --symbol add"
check "/refactor shows what it does" 'refactor: swap the operands \(the symbol add\)'
check "/refactor: no usable edit from the model, said cleanly" "refactor: no usable edit: the model's reply: .*" 30
# (the notice is wrapped to the width: the phrase may break after "was")
check "/refactor: nothing was changed" "nothing was( changed|$)" 5
if [ "$(cat "$REPO/add.c")" = "$(printf 'int add(int a, int b)\n{\n    return a + b;\n}')" ] &&
    (cd "$REPO" && git diff --quiet); then t_ok "/refactor changed nothing"; else
    t_fail "/refactor changed nothing" "$(cd "$REPO" && git status --short)"; fi
type_line "/refactor x --path nowhere.c"
check "/refactor --path that is not in the repository: said" 'nowhere\.c: not a file inside the repository'
# an answer quoting the question's code: prompt lookup drafts it (speculation is on by default)
type_line "Rename add to plus: int add(int a, int b) { return a + b; } int add(int a, int b) { return a + b; }"
check "speculation figures at the end of the answer" '; speculation [0-9]+% accepted, [0-9.]+ tokens/pass' 30
check "speculation figures in the status bar" 'tok/s  spec [0-9]+% [0-9.]+/pass'
keys F1
check "the help lists /spec and /refactor" '/refactor INSTRUCTION \[--path P \| --symbol S\]'
keys x
type_line "/quit"
wait_exit "/quit after /spec and /refactor"

# ---- outside the terminal ---------------------------------------------------------------
t_expect "--tui-help" 0 "$OCTET" --tui-help
t_grep "--tui-help lists the options" '--preset NAME' "$T_TMP/out"
t_grep "--tui-help: speculation and healing can be turned off" '--no-spec .*speculative' "$T_TMP/out"
t_expect "no terminal" 1 "$OCTET" -m "$MODEL" </dev/null
t_grep "no terminal: says so" 'needs a terminal' "$T_TMP/err"
t_expect "unknown preset" 2 env XDG_CONFIG_HOME="$HOMEDIR/cfg" OCTET_PRESET_DIR="$ROOT/presets" "$OCTET" --preset nope
t_grep "unknown preset: lists the presets" 'no preset .nope.; presets: int8_quality int8_balanced' "$T_TMP/err"
# a malformed user preset no longer stops the TUI: it is said in the transcript and skipped (config.sh)
t_expect "unexpected argument" 2 "$OCTET" -m "$MODEL" stray

t_end
