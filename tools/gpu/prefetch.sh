#!/usr/bin/env bash
# prefetch.sh - the decode step's L2 prefetch (OCTET_CUDA_PREFETCH, kernels/cuda/backend_cuda.cu step_pf)
# measured in one device call with one build: the logits with and without it bit for bit (every tiny
# model and format, batch 1 and 16, and the embedded model), then decode on the random
# Qwen2.5-Coder-7B shape at 512 for each prefetch size (0 = off), the sizes alternating, and at 32K
# for off and the given size. A size written bN prefetches N MiB through the bulk copy engine
# (OCTET_CUDA_PREFETCH_BULK=1) instead of line by line.
#
#   here:   bash tools/gpu/bundle.sh
#   device: bash tools/gpu/prefetch.sh [SIZES_MIB] [AT_32K_MIB]    (carry .gpu; default "0 8 16 32 b16" 16)
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
R=${OUT:-/tmp/prefetch}
M=/tmp/q7.gguf
SIZES=${1:-0 8 16 32 b16}
AT32=${2:-16}
mkdir -p "$R" /tmp/gn
tar -xJf .gpu/bundle.tar.xz -C /tmp/gn || exit 2
O=/tmp/gn/b/octet
say() { echo "$*" | tee -a "$R/prefetch.txt"; }
say "$(nvidia-smi --query-gpu=name,driver_version --format=csv,noheader), $(date -u +%Y-%m-%dT%H:%MZ)"
[ -s $M ] || python3 tools/gen_tiny.py --shape qwen2.5-7b --type f16 --fill fast --out $M >/dev/null &
GEN=$!
fail=0 n=0
ids=$(seq 1 48 | awk '{ printf "%d ", ($1 * 37 + 11) % 200 + 1 }')
for f in tests/fixtures/tiny/*.gguf models/octet-code.gguf; do
    for cfg in "f32 f32" "f16 f16" "int8 int8" "int8 f32"; do
        set -- $cfg
        for b in 1 16; do
            OCTET_CUDA_PREFETCH=0 $O logits -m "$f" --ids "$ids" --backend cuda --weights "$1" --kv "$2" \
                --batch $b >/tmp/l0.txt 2>/dev/null
            OCTET_CUDA_PREFETCH=64 $O logits -m "$f" --ids "$ids" --backend cuda --weights "$1" --kv "$2" \
                --batch $b >/tmp/l1.txt 2>/dev/null
            OCTET_CUDA_PREFETCH=64 OCTET_CUDA_PREFETCH_BULK=1 $O logits -m "$f" --ids "$ids" --backend cuda \
                --weights "$1" --kv "$2" --batch $b >/tmp/l2.txt 2>/dev/null
            n=$((n + 1))
            if [ -s /tmp/l0.txt ] && cmp -s /tmp/l0.txt /tmp/l1.txt && cmp -s /tmp/l0.txt /tmp/l2.txt; then :; else
                fail=$((fail + 1)); say "FAIL logits differ: $(basename "$f") w=$1 kv=$2 batch $b"; fi
        done
    done
done
say "logits, prefetch 64 MiB (lines, bulk) against off, bit for bit: $fail case(s) differ of $n"
wait $GEN
bench() { # [b]MIB ARGS...
    local mib=${1#b} bulk=0; [ "$1" != "$mib" ] && bulk=1; shift
    local j
    j=$(OCTET_CUDA_PREFETCH=$mib OCTET_CUDA_PREFETCH_BULK=$bulk timeout 150 $O bench --json -m $M --backend cuda --weights int8 --kv int8 "$@" \
        2>/dev/null)
    say "prefetch $mib MiB$([ $bulk = 1 ] && echo ' bulk') [$*]: $(echo "$j" | python3 -c 'import json,sys; d=json.load(sys.stdin); print("decode %.2f tok/s (sd %.2f), prefill %.0f" % (d["decode_tok_s"], d["decode_tok_s_sd"], d["prefill_tok_s"]))' 2>&1)"
}
for rep in 1 2; do
    for mib in $SIZES; do
        bench "$mib" --prompt 512 --gen 128 --reps 2
    done
done
for mib in 0 "$AT32"; do
    bench "$mib" --ctx 32768 --batch 2048 --prompt 0 --depth 32640 --gen 64 --reps 1
done
exit $((fail > 0))
