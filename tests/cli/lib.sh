# lib.sh - helpers sourced by the shell tests in tests/cli/.
# Each script runs cases with `t_check NAME COMMAND...` and ends with `t_end`,
# which prints the "# passed P failed F" line tests/run.sh adds up.
t_passed=0
t_failed=0
OCTET=${OCTET:-./octet}
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
