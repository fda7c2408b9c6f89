#!/usr/bin/env bash
# harden_inputs.sh - issue 19, defect 9: unbounded or blocking inputs. A
# patch must be a regular file and is size-limited (standard input too), so
# /dev/zero is refused at once instead of growing without end; a FIFO given
# as the model (-m, or a preset's path) is an error at once, not a wait.
source "$(dirname "$0")/lib.sh"
export LC_ALL=C
OCT=$(cd "$(dirname "$OCTET")" && pwd)/$(basename "$OCTET")
R=$T_TMP/repo
git init -q "$R"
export OCTET_PRESET_DIR=$PWD/presets

# expect_fast NAME PATTERN COMMAND...: exits 1 within 20 s and stderr matches PATTERN
expect_fast() {
    local name=$1 pat=$2; shift 2
    timeout 20 "$@" >"$T_TMP/out" 2>"$T_TMP/err" </dev/null; local rc=$?
    if [ $rc -eq 1 ] && grep -qE -- "$pat" "$T_TMP/err"; then t_ok "$name"; else
        t_fail "$name" "exit $rc (124: it hung)" "$(head -c 300 "$T_TMP/err")"; fi
}
expect_fast "apply --patch /dev/zero is refused at once" "/dev/zero: not a regular file" \
    "$OCT" apply --patch /dev/zero --repo "$R" --yes
timeout 60 "$OCT" apply --patch - --repo "$R" --yes </dev/zero >"$T_TMP/out" 2>"$T_TMP/err"; rc=$?
if [ $rc -eq 1 ] && grep -q "larger than" "$T_TMP/err"; then t_ok "an endless patch on standard input is cut off"
else t_fail "an endless patch on standard input is cut off" "exit $rc" "$(head -c 300 "$T_TMP/err")"; fi
mkfifo "$T_TMP/fifo"
expect_fast "apply --patch FIFO is refused at once" "not a regular file \(a FIFO\)" \
    "$OCT" apply --patch "$T_TMP/fifo" --repo "$R" --yes
expect_fast "run -m FIFO is refused at once" "not a regular file \(a FIFO\)" "$OCT" run -m "$T_TMP/fifo" -n 1 -p hi
expect_fast "serve -m FIFO is refused at once" "not a regular file \(a FIFO\)" "$OCT" serve -m "$T_TMP/fifo" --port 0
mkdir -p "$T_TMP/cfg/octet/presets"
printf '[preset]\ndescription = fifo\n[model]\npath = %s\ncontext = 256\nbackend = cpu\n' "$T_TMP/fifo" \
    >"$T_TMP/cfg/octet/presets/fifo.ini"
expect_fast "a preset whose model is a FIFO is refused at once" "not a regular file" \
    env XDG_CONFIG_HOME="$T_TMP/cfg" "$OCT" serve --preset fifo --port 0
t_end
