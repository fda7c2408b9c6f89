# shellcheck shell=bash
# common.sh - what tools/gpu/test.sh and bench.sh share (sourced, not run):
# the build, the log, generating the random full-size models, running octet
# with a time limit, and the PASS/FAIL/SKIP table printed at the end.
#
# Settings (environment):
#   GPU_BUILD      build folder (default build-gpu; octet is $GPU_BUILD/octet, or the one of
#                  .gpu/bundle.tar.xz when that exists: see gpu_build)
#   GPU_MAKE_ARGS  extra make arguments, e.g. "CUDA=0" for a dry run without nvcc
#   GPU_TMP        where the generated models go (default /tmp: they are 3 to 15 GB,
#                  too big for the working tree)
#   OUT            when set (the device tool sets it), the log and the results go there
# The caller sets LOG_NAME (NAME.log) before sourcing.

cd "$(dirname "${BASH_SOURCE[0]}")/../.." || exit 2

GPU_BUILD=${GPU_BUILD:-build-gpu}
GPU_TMP=${GPU_TMP:-/tmp}
OCTET=$GPU_BUILD/octet
RESULTS_DIR=${OUT:-$GPU_BUILD}
mkdir -p "$RESULTS_DIR" "$GPU_TMP"
LOG=$RESULTS_DIR/${LOG_NAME:?set LOG_NAME before sourcing common.sh}
: >"$LOG"
WORK=$(mktemp -d "$GPU_TMP/octet-gpu.XXXXXX")
trap 'rm -rf "$WORK"' EXIT

# say TEXT... : progress line on stdout and in the log
say() {
    printf '%s %s\n' "$(date +%H:%M:%S)" "$*" | tee -a "$LOG"
}

# gpu_build : octet for this run. The device machine has nvcc but none of the -dev packages octet
# links, so tools/gpu/bundle.sh builds octet elsewhere and packs it with its libraries into
# .gpu/bundle.tar.xz (carried to the device): when that file is here it is unpacked and used;
# otherwise make builds octet in $GPU_BUILD with every core (compiler output into the log only).
gpu_build() {
    if [ -f .gpu/bundle.tar.xz ]; then
        say "build: unpacking .gpu/bundle.tar.xz (made by tools/gpu/bundle.sh) into $GPU_BUILD/bundle"
        rm -rf "$GPU_BUILD/bundle"
        mkdir -p "$GPU_BUILD/bundle"
        OCTET=$GPU_BUILD/bundle/b/octet
        tar -xJf .gpu/bundle.tar.xz -C "$GPU_BUILD/bundle" >>"$LOG" 2>&1 && [ -x "$OCTET" ]
        return
    fi
    say "build: make -j$(nproc) BUILD=$GPU_BUILD ${GPU_MAKE_ARGS:-}"
    # GPU_MAKE_ARGS is a list of make arguments: split on purpose
    # shellcheck disable=SC2086
    make -j"$(nproc)" BUILD="$GPU_BUILD" OCTET_BIN="$OCTET" ${GPU_MAKE_ARGS:-} "$OCTET" >>"$LOG" 2>&1
}

# gen_shape SHAPE FILE : write the random model of SHAPE (f16, fast fill) unless FILE exists;
# written under another name first, so an interrupted run leaves no truncated model behind
gen_shape() {
    local shape=$1 file=$2 t0=$SECONDS
    if [ -s "$file" ]; then
        say "model: $file exists, kept"
        return 0
    fi
    say "model: generating $shape into $file"
    if ! python3 tools/gen_tiny.py --shape "$shape" --type f16 --fill fast --out "$file.part" >>"$LOG" 2>&1 ||
        ! mv "$file.part" "$file"; then
        rm -f "$file.part"
        return 1
    fi
    say "model: $shape written in $((SECONDS - t0)) s ($(du -h "$file" | cut -f1))"
}

# octet_to FILE LIMIT_S ARGS... : run octet ARGS with a time limit, stdout to FILE,
# stderr and the command line to the log; returns octet's status (124: timed out)
octet_to() {
    local out=$1 limit=$2 t0=$SECONDS rc
    shift 2
    printf '+ octet %s\n' "$(printf '%.300s' "$*")" >>"$LOG"
    timeout "$limit" "$OCTET" "$@" >"$out" 2>>"$LOG"
    rc=$?
    printf '  exit %d after %d s\n' "$rc" "$((SECONDS - t0))" >>"$LOG"
    return "$rc"
}

R_NAME=()
R_STATUS=()
R_DETAIL=()

# result STATUS NAME DETAIL : record one line of the summary (STATUS: PASS, FAIL or SKIP)
result() {
    R_STATUS+=("$1")
    R_NAME+=("$2")
    R_DETAIL+=("$3")
    say "$1 $2: $3"
}

# summary TITLE : print the table (also into the log's name with -summary.txt); status 1 when any line FAILed
summary() {
    local i pass=0 fail=0 skip=0 gpu table=""
    gpu=$(nvidia-smi --query-gpu=name --format=csv,noheader 2>/dev/null | head -1)
    for i in "${!R_NAME[@]}"; do
        table+=$(printf '%-4s  %-54s %s' "${R_STATUS[$i]}" "${R_NAME[$i]}" "${R_DETAIL[$i]}")$'\n'
        case ${R_STATUS[$i]} in
        PASS) pass=$((pass + 1)) ;;
        FAIL) fail=$((fail + 1)) ;;
        *) skip=$((skip + 1)) ;;
        esac
    done
    printf '\n== %s (%s, %s, %s cores)\n%s== %d passed, %d failed, %d skipped; log: %s\n' "$1" \
        "$(date -u +%Y-%m-%dT%H:%MZ)" "${gpu:-no GPU}" "$(nproc)" "$table" "$pass" "$fail" "$skip" "$LOG" |
        tee "${LOG%.log}-summary.txt"
    [ "$fail" -eq 0 ]
}
