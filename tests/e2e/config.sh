#!/usr/bin/env bash
# config.sh - issue 16 item 5: the settings file $XDG_CONFIG_HOME/octet/config.
# Its model is the default model, its backend the default --backend (a URL
# only for the commands a remote engine serves), commit = true makes apply
# and refactor commit (--no-commit overrides), colors sets --color's default;
# flags and the environment override it; a bad line is reported with
# FILE:LINE and skipped, and a broken user preset is skipped, never a
# refusal to start.
source "$(dirname "$0")/lib.sh"
export LC_ALL=C
OCT=$(cd "$(dirname "$OCTET")" && pwd)/$(basename "$OCTET")
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
TINY=$ROOT/tests/fixtures/tiny/qwen2_gqa_f32.gguf
OTHER=$ROOT/tests/fixtures/tiny/llama_mha_f32.gguf
export XDG_CONFIG_HOME=$T_TMP/cfg
CFG=$XDG_CONFIG_HOME/octet/config
mkdir -p "$XDG_CONFIG_HOME/octet/presets"
unset OCTET_MODEL OCTET_MODEL_LARGE NO_COLOR

# ---- model: the default model of every command, flags and OCTET_MODEL first
printf '# my settings\nmodel = %s   # the tiny one\n' "$TINY" >"$CFG"
t_expect "info without -m runs" 0 "$OCT" info
t_grep "info without -m uses the settings file's model" "qwen2_gqa_f32.gguf" "$T_TMP/out"
[ ! -s "$T_TMP/err" ] && t_ok "a good settings file says nothing" || t_fail "a good settings file says nothing" "$(cat "$T_TMP/err")"
t_expect "-m overrides it" 0 "$OCT" info -m "$OTHER"
t_grep "-m overrides the settings file" "llama_mha_f32.gguf" "$T_TMP/out"
t_expect "OCTET_MODEL overrides it" 0 env OCTET_MODEL="$OTHER" "$OCT" info
t_grep "OCTET_MODEL overrides the settings file" "llama_mha_f32.gguf" "$T_TMP/out"
# a relative path is taken from the settings file's directory
cp "$TINY" "$XDG_CONFIG_HOME/octet/rel.gguf"
printf 'model = rel.gguf\n' >"$CFG"
t_expect "a relative model path" 0 "$OCT" info
t_grep "a relative model path is from the settings file's directory" "octet/rel.gguf" "$T_TMP/out"

# ---- bad lines: reported with FILE:LINE, skipped, the good lines still apply
printf 'modle = x\nmodel = %s\ncommit = perhaps\nbackend = tpu\n' "$TINY" >"$CFG"
t_expect "a broken settings file does not stop octet" 0 "$OCT" info
t_grep "an unknown key is reported with its line" "octet info: $CFG:1: unknown setting 'modle'.*\(line skipped\)" "$T_TMP/err"
t_grep "a bad value is reported with its line" "$CFG:3: commit 'perhaps' is not true or false" "$T_TMP/err"
t_grep "a bad backend is reported with its line" "$CFG:4: backend: unknown backend 'tpu'" "$T_TMP/err"
t_grep "the good line after a bad one applies" "qwen2_gqa_f32.gguf" "$T_TMP/out"
printf 'model = /nonexistent/m.gguf\n' >"$CFG"
t_expect "a missing model file is reported" 0 "$OCT" tokenize -m "$TINY" --help
t_grep "the missing model file is named" "$CFG:1: model '/nonexistent/m.gguf': no such file" "$T_TMP/err"
mkdir -p "$T_TMP/dircfg/octet/config"
t_expect "a directory as the settings file" 0 env XDG_CONFIG_HOME="$T_TMP/dircfg" "$OCT" info -m "$TINY"
t_grep "a settings file that cannot be read is reported" "dircfg/octet/config: cannot read.*settings file skipped" "$T_TMP/err"

# ---- backend: a local one for every command; a URL for run, gen, refactor only
printf 'model = %s\nbackend = http://127.0.0.1:9/v1\n' "$TINY" >"$CFG"
t_expect "run with a URL backend in the settings file asks the remote engine" 1 "$OCT" run -p hi -n 2
t_grep "run: the remote engine of the settings file is used" "http://127.0.0.1:9/v1/(models|completions)" "$T_TMP/err"
t_expect "--backend cpu overrides the settings file's URL" 0 "$OCT" run -p hi -n 2 --backend cpu
t_expect "info ignores a URL backend (it needs a local engine)" 0 "$OCT" info
printf 'model = %s\nbackend = cpu\n' "$TINY" >"$CFG"
t_expect "a local backend from the settings file" 0 "$OCT" run -p hi -n 2

# ---- commit = true: apply commits each change; --no-commit does not
R=$T_TMP/repo
git init -q "$R"
git -C "$R" config user.email t@example.com
git -C "$R" config user.name t
seq 1 20 | sed 's/^/line /' >"$R/f.txt"
git -C "$R" add -A && git -C "$R" commit -qm init
mkpatch() { # the diff that changes line $1 of f.txt
    sed "s/^line $1\$/LINE $1/" "$R/f.txt" >"$T_TMP/new.txt"
    (cd "$T_TMP" && diff -u --label a/f.txt --label b/f.txt "$R/f.txt" new.txt) >"$T_TMP/p$1.diff"
}
printf 'commit = true\n' >"$CFG"
mkpatch 3
t_expect "apply with commit = true" 0 "$OCT" apply --patch "$T_TMP/p3.diff" --repo "$R" --yes
t_grep "commit = true: apply commits" "committed as [0-9a-f]{12}" "$T_TMP/out"
[ "$(git -C "$R" rev-list --count HEAD)" = 2 ] && t_ok "commit = true: one commit for the change" || t_fail "commit = true: one commit for the change" "$(git -C "$R" log --oneline)"
mkpatch 5
t_expect "apply --no-commit" 0 "$OCT" apply --patch "$T_TMP/p5.diff" --repo "$R" --yes --no-commit
[ "$(git -C "$R" rev-list --count HEAD)" = 2 ] && t_ok "--no-commit overrides commit = true" || t_fail "--no-commit overrides commit = true" "$(git -C "$R" log --oneline)"
grep -q "committed as" "$T_TMP/out" && t_fail "--no-commit says no commit" "$(cat "$T_TMP/out")" || t_ok "--no-commit says no commit"
t_expect "undo the uncommitted change" 0 "$OCT" undo --repo "$R" --yes
t_expect "undo the committed change" 0 "$OCT" undo --repo "$R" --yes
[ "$(git -C "$R" rev-list --count HEAD)" = 1 ] && [ -z "$(git -C "$R" status --porcelain)" ] && t_ok "undo takes the settings file's commit back" || t_fail "undo takes the settings file's commit back" "$(git -C "$R" log --oneline; git -C "$R" status --porcelain)"

# ---- colors: the default of --color; --color overrides
mkpatch 7
printf 'colors = always\n' >"$CFG"
t_expect "colors = always" 0 "$OCT" apply --patch "$T_TMP/p7.diff" --repo "$R" --check
grep -q $'\033\\[' "$T_TMP/out" && t_ok "colors = always colors a piped diff" || t_fail "colors = always colors a piped diff" "$(head -c 300 "$T_TMP/out")"
t_expect "--color never overrides colors = always" 0 "$OCT" apply --patch "$T_TMP/p7.diff" --repo "$R" --check --color never
grep -q $'\033' "$T_TMP/out" && t_fail "--color never: no escape codes" "$(head -c 300 "$T_TMP/out")" || t_ok "--color never: no escape codes"

# ---- a broken user preset is reported and skipped; serve still starts on a good one
rm -f "$CFG"
printf '[model]\ncontext = lots\n' >"$XDG_CONFIG_HOME/octet/presets/broken.ini"
serve_start "$T_TMP/serve.log" -m "$TINY" --preset int8_memory --threads 1 --ctx 256
if [ -n "$PORT" ]; then t_ok "serve starts beside a broken user preset"; else t_fail "serve starts beside a broken user preset" "$(cat "$T_TMP/serve.log")"; fi
kill "$SPID" 2>/dev/null
wait "$SPID" 2>/dev/null
t_grep "the broken preset is named with its line" "broken.ini:2: .*model.context.*\(preset skipped\)" "$T_TMP/serve.log"

# ---- the TUI (tmux): the settings file's preset, its notes and the broken preset in the transcript
if command -v tmux >/dev/null 2>&1; then
    TM=(tmux -L "octet-ctest-$$" -f /dev/null)
    HOMEDIR=$T_TMP/home REPO=$T_TMP/repo SCREEN=$T_TMP/screen RC=$T_TMP/rc ERRLOG=$T_TMP/stderr
    trap '"${TM[@]}" kill-server >/dev/null 2>&1; rm -rf "$T_TMP"' EXIT
    mkdir -p "$HOMEDIR/cfg/octet/presets" "$HOMEDIR/state"
    printf '[model]\ncontext = lots\n' >"$HOMEDIR/cfg/octet/presets/broken.ini"
    printf 'preset = int8_memory\ncolour = blue\ncolors = never\n' >"$HOMEDIR/cfg/octet/config"
    tui_start -m "$TINY" --no-index
    check "TUI: starts on the settings file's preset" "preset int8_memory" 20
    check "TUI: a bad settings line is said in the transcript" "config:2: unknown setting 'colour'"
    check "TUI: a broken user preset is said and skipped" "broken.ini:2: field 'model.context'"
    "${TM[@]}" capture-pane -e -p >"$T_TMP/escapes"
    grep -qE $'\033\\[([0-9;]*;)?3[0-7](;[0-9;]*)?m' "$T_TMP/escapes" && t_fail "TUI: colors = never draws no colors" "$(grep -c . "$T_TMP/escapes")" || t_ok "TUI: colors = never draws no colors"
    keys C-d
    wait_exit "TUI: quits (settings preset)"
    printf 'preset = nosuch\n' >"$HOMEDIR/cfg/octet/config"
    tui_start -m "$TINY" --no-index --preset int8_speed
    check "TUI: --preset overrides the settings file" "preset int8_speed" 20
    keys C-d
    wait_exit "TUI: quits (--preset)"
    tui_start -m "$TINY" --no-index
    check "TUI: an unknown preset in the settings file is said" "preset 'nosuch' not found: starting on the default one" 20
    check "TUI: and the default preset is used" "preset int8_balanced"
    "${TM[@]}" capture-pane -e -p >"$T_TMP/escapes"
    grep -qE $'\033\\[([0-9;]*;)?3[0-7](;[0-9;]*)?m' "$T_TMP/escapes" && t_ok "TUI: colors by default" || t_fail "TUI: colors by default" "$(head -c 300 "$T_TMP/escapes" | od -c | head)"
    keys C-d
    wait_exit "TUI: quits (unknown preset)"
else
    t_fail "tmux is installed" "tests/e2e/config.sh needs tmux (tools/deps.sh installs it)"
fi
t_end
