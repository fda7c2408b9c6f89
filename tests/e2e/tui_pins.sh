#!/usr/bin/env bash
# tui_pins.sh - issue 16 item 4 in the terminal UI, through tmux on a real git
# repository: /add pins a file, a line range or a symbol's definition (bad
# ones said clearly), and with /verbose the pinned file's text shows in the
# prompt sent; /drop removes it from the next prompt. The context panel (F3)
# lists pinned and retrieved blocks with full paths wrapped, "pinned" or the
# score, and what became of them; Up/Down and Enter show a block's lines.
# /refactor fills the panel too (the target and the pins it sent).
source "$(dirname "$0")/lib.sh"
export LC_ALL=C.UTF-8
if ! command -v tmux >/dev/null 2>&1; then
    t_fail "tmux is installed" "tests/e2e/tui_pins.sh needs tmux (tools/deps.sh installs it)"
    t_end
    exit 1
fi
ROOT=$(pwd)
OCT=$(cd "$(dirname "$OCTET")" && pwd)/$(basename "$OCTET")
MODEL=$ROOT/tests/fixtures/tiny/llama_rope_linear_q8_0.gguf
TM=(tmux -L "octet-ptest-$$" -f /dev/null)
HOMEDIR=$T_TMP/home REPO=$T_TMP/repo SCREEN=$T_TMP/screen RC=$T_TMP/rc ERRLOG=$T_TMP/stderr
trap '"${TM[@]}" kill-server >/dev/null 2>&1; rm -rf "$T_TMP"' EXIT
mkdir -p "$HOMEDIR/cfg/octet/presets" "$HOMEDIR/state" "$REPO"
cat >"$HOMEDIR/cfg/octet/presets/pin_test.ini" <<EOF
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
max_new_tokens = 8
seed = 3
system = Hi.
EOF
LONG=src/a_rather_long_directory_name/with_more_levels_below_it/and_a_module_whose_name_is_long.c
(
    cd "$REPO" || exit 1
    git init -q .
    printf 'int add(int a, int b)\n{\n    return a + b;\n}\n' >add.c
    printf 'int pinned_marker_4711 = 1;\n' >pinned.c
    mkdir -p "$(dirname "$LONG")"
    printf 'int far_away(void)\n{\n    return 7;\n}\n' >"$LONG"
    git add -A
    git -c user.name=t -c user.email=t@t commit -qm init
)
# the panel's text: what follows its frame on each row, rows joined (wrapped lines end to end)
panel_text() { "${TM[@]}" capture-pane -p | sed -n 's/.*│ //p' | tr -d ' \n'; }

tui_start -m "$MODEL" --preset pin_test
check "starts" 'index up to date: 3 files' 30
type_line "/add"
check "/add alone: usage" 'usage: /add PATH\[:START-END\] \| SYMBOL'
type_line "/add nowhere.c"
check "/add of a missing file: said" 'add: nowhere\.c: no such file'
type_line "/add pinned.c:3-9"
check "/add past the end of the file: said" 'add: pinned\.c has 1 line: 3-9 goes past its end'
type_line "/add pinned.c:5-2"
check "/add of an empty range: said" 'the line range 5-2 is empty'
type_line "/add pinned.c"
check "/add pins the file" 'pinned 1: pinned\.c \(the whole file\); it goes into every prompt until /drop'
type_line "/verbose"
check "/verbose on" 'verbose: each prompt is shown here before it is sent'
type_line "what is this"
check "the prompt sent is shown" 'prompt \(verbose\), [0-9]+ tokens:' 30
check "the pinned file's text is in the prompt" 'int pinned_marker_4711 = 1;'
check "the packing is said" 'context: 1 pinned'
check "the answer ends" '[0-9]+ tokens, [0-9.]+ tok/s; prompt [0-9]+ tokens' 30

keys F3
check "F3 opens the panel" 'Context \(F3 hides\)'
check "the pin is listed first" 'P1 pinned\.c:1-1'
check "as pinned and sent" 'pinned, sent'
check "the panel has the keys" 'Enter its lines'
keys Enter
check "Enter shows the row's lines" 'context: the lines of a row'
check "numbered" '1 │ int pinned_marker_4711 = 1;'
keys Escape
check "Esc closes the lines, the panel keeps the keys" 'Enter its lines'
keys Escape
keys F3

# /drop: the next prompt has no pinned code
type_line "/clear"
type_line "/drop"
check "/drop drops every pin" 'dropped the pin pinned\.c \(0 pins left\)'
type_line "/drop"
check "/drop with nothing pinned: said" 'drop: nothing is pinned'
type_line "and now"
check "the next prompt is shown" 'prompt \(verbose\), [0-9]+ tokens:' 30
check "its answer ends" '[0-9]+ tokens, [0-9.]+ tok/s; prompt [0-9]+ tokens' 30
if grep -q 'pinned_marker_4711' "$SCREEN"; then t_fail "the dropped file is not in the prompt" "$(cat "$SCREEN")"; else
    t_ok "the dropped file is not in the prompt"; fi

# symbols and line ranges; the full path of a long one, wrapped in the panel
type_line "/clear"
type_line "/add add"
check "/add SYMBOL pins its definition" 'pinned 1: add\.c:1-4 \(the definition of add, 4 lines\)'
type_line "/add $LONG:1-2"
check "/add PATH:START-END pins the lines" '^· pinned 2:'
check "the lines pinned are said" '\(2 lines\); it goes into every prompt'
type_line "/add add.c:2-3"
check "a range inside a pin changes nothing" 'already pinned: pin 1 \(add\.c:1-4\) holds add\.c:2-3'
keys F3
check "the panel lists the pins as they will go" 'goes into the next'
if panel_text | grep -qF "P2$LONG:1-2"; then t_ok "the long path is shown whole, wrapped"; else
    t_fail "the long path is shown whole, wrapped" "$(panel_text)"; fi
keys Down
keys Enter
check "Enter on the second pin shows its lines" '1 │ int far_away\(void\)'
keys q
keys Escape
keys F3
type_line "/drop 1"
check "/drop N drops that pin" 'dropped the pin add\.c:1-4 \(1 pin left\)'
type_line "/drop 5"
check "/drop of a pin that is not there: said" 'drop: there is no pin 5: 1 pinned'
type_line "/drop $LONG"
check "/drop PATH drops the pins of that file" '\(0 pins left\)'
type_line "/quit"
wait_exit "the TUI quits"

# /refactor sends the pins after its target and lists what it sent in the panel
cat >"$HOMEDIR/cfg/octet/presets/pin_flows.ini" <<EOF
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
max_new_tokens = 16
seed = 3
EOF
tui_start --preset pin_flows --no-index
check "flows run starts" 'loaded octet-code with preset pin_flows' 30
type_line "/add pinned.c"
type_line "/verbose on"
type_line "/refactor swap the operands --path add.c"
check "/refactor's prompt is shown, the target's code in it" '^ *add\.c:1-4$' 30
check "with the pinned file in it" 'int pinned_marker_4711 = 1;'
check "/refactor ends" 'nothing was( changed|$)' 60 # the notice may wrap after "was"
check "the packing is said" 'context: the target add\.c, 1 pinned'
keys F3
check "after /refactor the panel lists the target" 'T add\.c:1-4'
check "and the pin it sent" 'P1 pinned\.c:1-1'
keys Escape F3
type_line "/quit"
wait_exit "the TUI quits after /refactor"
t_end
