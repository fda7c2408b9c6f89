#!/usr/bin/env bash
# exact.sh - the CUDA backend's few-token passes (speculative decoding's
# verification, 2 .. 16 tokens, with OCTET_CUDA_FEW=1, which this script
# sets) against its one-token passes, bit for bit (issue 18;
# be_ops_t.batch_exact): the last position's logits of 48 ids fed
# one token per pass and fed in passes of 2, 3, 5, 8 and 16 tokens, on every
# tiny model in every weight and cache format, must print identically; then
# greedy `octet run` with speculation (prompt lookup, and the embedded model
# drafting for itself) must print what --no-spec prints, on the embedded
# model, with more than one token per pass; then compute-sanitizer memcheck
# on a few-token run. About a minute. Exit 1 on any FAIL.
#
#   bash tools/gpu/exact.sh      (octet from .gpu/bundle.tar.xz, else ./octet)
set -uo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd) # octet_bin.sh
cd "${QUICK_ROOT:-$here/../..}"
R=${OUT:-/tmp/exact}
mkdir -p "$R"
SUM=$R/exact.txt
: >"$SUM"
row() { printf '%s\n' "$*" | tee -a "$SUM"; }
fails=0
check() { # rc, text
    if [ "$1" = 0 ]; then row "PASS $2"; else row "FAIL $2"; fails=$((fails + 1)); fi
}

# shellcheck source=tools/gpu/octet_bin.sh
. "$here/octet_bin.sh"
export OCTET_CUDA_FEW=1
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT

ids=$(seq 1 48 | awk '{ printf "%d ", ($1 * 37 + 11) % 200 + 1 }')
for f in tests/fixtures/tiny/*.gguf; do
    n=$(basename "$f" .gguf)
    for cfg in "f32 f32" "f16 f16" "int8 int8" "int8 f16" "int8 f32"; do
        set -- $cfg
        $O logits -m "$f" --ids "$ids" --backend cuda --weights "$1" --kv "$2" --batch 1 >"$T/one.txt" 2>"$T/err" ||
            { check 1 "$n w=$1 kv=$2: octet failed: $(tail -1 "$T/err")"; continue; }
        bad=""
        for b in 2 3 5 8 16; do
            $O logits -m "$f" --ids "$ids" --backend cuda --weights "$1" --kv "$2" --batch $b >"$T/few.txt" 2>>"$T/err"
            cmp -s "$T/one.txt" "$T/few.txt" || bad="$bad $b"
        done
        check "$([ -z "$bad" ] && echo 0 || echo 1)" \
            "$(printf 'few-token passes = one-token passes, bit for bit: %-24s w=%-4s kv=%-4s%s' "$n" "$1" "$2" \
                "${bad:+ (differ at batch$bad)}")"
    done
done

# greedy speculation on the GPU prints what plain decoding prints, with drafts accepted (more than one
# token a pass: else nothing was verified); a prompt whose continuation the embedded model copies from it
# (v4: 4.57 tokens a pass on the CPU)
P='int add(int a, int b) {\n    return a + b;\n}\n\nint sub(int a, int b) {\n    return a - b;\n}\n\nint mul(int a, int b) {\n'
for extra in "" "--draft-model models/octet-code.gguf"; do
    plain=$($O run -m models/octet-code.gguf -p "$(printf "$P")" -n 64 --temp 0 --backend cuda --no-spec 2>/dev/null)
    # shellcheck disable=SC2086
    spec=$($O run -m models/octet-code.gguf -p "$(printf "$P")" -n 64 --temp 0 --backend cuda -v $extra 2>"$T/v.txt")
    tpp=$(grep -o '[0-9.]* tokens per pass' "$T/v.txt" | head -1)
    [ "$plain" = "$spec" ] && [ -n "$spec" ] && awk -v t="${tpp%% *}" 'BEGIN { exit !(t > 1.0) }'
    check $? "greedy run with speculation${extra:+ ($extra)} = --no-spec on the embedded model (cuda): ${tpp:-no figure}"
done

if command -v compute-sanitizer >/dev/null; then
    OCTET_CUDA_PLUGIN=$PLUGIN timeout 120 compute-sanitizer --tool memcheck --error-exitcode 9 "${SAN[@]}" logits \
        -m tests/fixtures/tiny/llama_gqa_f16.gguf --ids "$ids" --backend cuda --weights int8 --kv int8 --batch 5 \
        >"$T/cs.txt" 2>&1
    rc=$?
    check $rc "compute-sanitizer memcheck, passes of 5 tokens: rc $rc, $(grep -E 'SUMMARY' "$T/cs.txt" | tail -1)"
fi
row "exact.sh: $fails failed"
[ $fails = 0 ]
