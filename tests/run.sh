#!/usr/bin/env bash
# Runs every test of octet: the C unit-test binaries built into $BUILD/tests
# (from tests/unit/<floor>/test_*.c, one folder per floor of the source tree)
# and the end-to-end shell tests tests/e2e/*.sh (each a real run of the octet
# binary).
# Prints each case, then a last line "N passed, N failed"; exit 1 on failure.
# Usage: tests/run.sh BUILD_DIR OCTET_BINARY
set -u
build=${1:-build}
export OCTET=${2:-./octet}
export OCTET_BUILD=$build
# the user's own settings file and presets (~/.config/octet) must not change
# what the tests see: an empty configuration directory unless a test sets one
cfg_home=$(mktemp -d)
trap 'rm -rf "$cfg_home"' EXIT
export XDG_CONFIG_HOME=$cfg_home
passed=0
failed=0
failed_names=()

run_one() { # name, command...
    local name=$1; shift
    local out rc p f
    out=$("$@" 2>&1); rc=$?
    p=$(printf '%s\n' "$out" | sed -n 's/^# passed \([0-9]*\) failed \([0-9]*\)$/\1/p' | tail -n 1)
    f=$(printf '%s\n' "$out" | sed -n 's/^# passed \([0-9]*\) failed \([0-9]*\)$/\2/p' | tail -n 1)
    if [ -z "$p" ]; then
        # No summary: the binary crashed or the script is a single case.
        if [ $rc -eq 0 ]; then p=1; f=0; else p=0; f=1; fi
    elif [ $rc -ne 0 ] && [ "$f" -eq 0 ]; then
        f=1 # exited non-zero after reporting success: a crash on exit or a leak
    fi
    printf '%s\n' "$out" | sed "s|^|[$name] |"
    passed=$((passed + p))
    failed=$((failed + f))
    if [ "$f" -gt 0 ]; then failed_names+=("$name (exit $rc)"); fi
}

# The binary of each test source (a binary whose source is gone is not run).
for src in tests/unit/*/test_*.c tests/test_*.c; do
    [ -f "$src" ] || continue
    t=$build/${src%.c}
    if [ -x "$t" ]; then
        run_one "$(basename "$t")" "$t"
    else
        run_one "$(basename "$t")" sh -c "echo '$t: not built (make tests)'; exit 1"
    fi
done
for t in tests/e2e/*.sh; do
    [ -f "$t" ] || continue
    run_one "$(basename "$t" .sh)" bash "$t"
done
# A shell test left in the old folder would silently not run: say so.
for t in tests/cli/*.sh; do
    [ -f "$t" ] || continue
    run_one "$(basename "$t" .sh)" sh -c "echo '$t: shell tests live in tests/e2e/ now'; exit 1"
done

if [ ${#failed_names[@]} -gt 0 ]; then
    echo "failed:"
    printf '  %s\n' "${failed_names[@]}"
fi
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
