# lib.sh - helpers sourced by the shell tests in tests/e2e/.
# Each script runs cases with `t_check NAME COMMAND...` and ends with `t_end`,
# which prints the "# passed P failed F" line tests/run.sh adds up.
t_passed=0
t_failed=0
OCTET=${OCTET:-./octet}
# Retrieval is lexical in every test that does not name an encoder, so that no
# result depends on whether models/octet-embed.gguf is installed (hybrid.sh
# names the tiny test encoder).
export OCTET_EMBED_MODEL=
T_TMP=$(mktemp -d)
trap 'rm -rf "$T_TMP"' EXIT

t_ok() { t_passed=$((t_passed + 1)); echo "ok   $1"; }
t_fail() { t_failed=$((t_failed + 1)); echo "FAIL $1"; shift; [ $# -gt 0 ] && printf '    %s\n' "$@"; }

# t_expect NAME EXPECTED_STATUS COMMAND... : runs COMMAND, checks its exit status
t_expect() {
    local name=$1 want=$2; shift 2
    "$@" >"$T_TMP/out" 2>"$T_TMP/err"; local rc=$?
    if [ "$rc" -eq "$want" ]; then t_ok "$name"; else
        t_fail "$name" "exit $rc, expected $want" "stderr: $(head -c 400 "$T_TMP/err")"; fi
}
# t_grep NAME PATTERN FILE : checks that FILE matches the extended regex PATTERN
t_grep() {
    if grep -qE -- "$2" "$3"; then t_ok "$1"; else
        t_fail "$1" "no match for /$2/ in $3:" "$(head -c 400 "$3")"; fi
}
t_end() { echo "# passed $t_passed failed $t_failed"; [ "$t_failed" -eq 0 ]; }

# ---- octet serve (serve.sh, remote_flows.sh, tui_remote.sh) -------------------------------------

# serve_start LOG ARGS... : starts `$OCTET serve --port 0 ARGS...` (stderr to LOG) and waits for its
# ready line; sets SPID and PORT (empty when it did not start). The caller kills $SPID in its trap.
serve_start() {
    local log=$1; shift
    : >"$log" # exists before the server opens it: the port is read from it at once
    "${SERVE_OCTET:-$OCTET}" serve --port 0 "$@" 2>"$log" &
    SPID=$!
    PORT=
    for _ in $(seq 1 300); do
        PORT=$(sed -n 's|.*listening on http://127\.0\.0\.1:\([0-9]*\) .*|\1|p' "$log")
        [ -n "$PORT" ] && break
        kill -0 "$SPID" 2>/dev/null || break
        sleep 0.05
    done
}

# ---- the TUI in tmux (tui.sh, tui_remote.sh) ------------------------------------------------------
# The caller sets TM (the tmux command with its own -L socket), OCT (octet's absolute path), ROOT,
# HOMEDIR, REPO, SCREEN, RC and ERRLOG. DELAY sets OCTET_TUI_TOKEN_DELAY_MS; TERMINAL, when set, the
# TERM octet sees.

# tui_start ARGS... : octet in a new tmux server in $REPO; its exit status goes to $RC
tui_start() {
    "${TM[@]}" kill-server >/dev/null 2>&1
    rm -f "$RC"
    local env=(env -u OCTET_MODEL_LARGE OCTET_MODEL= HOME="$HOMEDIR" XDG_CONFIG_HOME="$HOMEDIR/cfg"
        XDG_STATE_HOME="$HOMEDIR/state" LANG=C.UTF-8 LC_ALL=C.UTF-8 OCTET_TUI_TOKEN_DELAY_MS="${DELAY:-0}"
        OCTET_PRESET_DIR="$ROOT/presets")
    [ -n "${TERMINAL:-}" ] && env+=(TERM="$TERMINAL")
    local cmd
    cmd=$(printf '%q ' cd "$REPO")"&& "$(printf '%q ' "${env[@]}" "$OCT" "$@")"2>>$(printf '%q' "$ERRLOG"); echo \$? >$(printf '%q' "$RC")"
    "${TM[@]}" new-session -d -x 100 -y 30 "$cmd"
}

# wait_gone PATTERN [SECONDS] : poll the screen until it no longer matches (a key's effect may take a
# redraw or two to show on a loaded machine); fails when it still matches at the deadline
wait_gone() {
    local deadline=$((SECONDS + ${2:-5}))
    while :; do
        "${TM[@]}" capture-pane -p >"$SCREEN" 2>/dev/null || return 1
        grep -qE -- "$1" "$SCREEN" || return 0
        [ $SECONDS -lt $deadline ] || return 1
        sleep 0.1
    done
}

# wait_for PATTERN [SECONDS] : poll the screen until it matches (extended regex)
wait_for() {
    local deadline=$((SECONDS + ${2:-15}))
    while [ $SECONDS -lt $deadline ]; do
        if ! "${TM[@]}" capture-pane -p >"$SCREEN" 2>/dev/null; then
            # octet is gone: say why instead of waiting
            printf 'octet exited (status %s); stderr:\n%s\n' "$(cat "$RC" 2>/dev/null)" \
                "$(head -c 2000 "$ERRLOG" 2>/dev/null)" >"$SCREEN"
            return 1
        fi
        if grep -qE -- "$1" "$SCREEN"; then return 0; fi
        sleep 0.1
    done
    return 1
}
# check NAME PATTERN [SECONDS]
check() {
    if wait_for "$2" "${3:-15}"; then t_ok "$1"; else t_fail "$1" "no /$2/ on the screen:" "$(cat "$SCREEN")"; fi
}
keys() { "${TM[@]}" send-keys "$@" 2>/dev/null; }
type_line() { "${TM[@]}" send-keys -l -- "$1" 2>/dev/null; "${TM[@]}" send-keys Enter 2>/dev/null; }
# wait_exit NAME : the program ended with status 0
wait_exit() {
    local deadline=$((SECONDS + 15))
    while [ $SECONDS -lt $deadline ] && [ ! -s "$RC" ]; do sleep 0.1; done
    if [ "$(cat "$RC" 2>/dev/null)" = 0 ]; then t_ok "$1"; else
        t_fail "$1" "exit status '$(cat "$RC" 2>/dev/null)'" "$(head -c 2000 "$ERRLOG" 2>/dev/null)"; fi
}
