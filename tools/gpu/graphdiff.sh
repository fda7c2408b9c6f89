#!/usr/bin/env bash
# graphdiff.sh - which decode switch makes the embedded model's int8 logits differ between the
# one-token graph (batch 1) and the batched pass (batch 64), and from the CPU's int8: the same
# 48 ids with OCTET_CUDA_FUSE / PDL / EXACT turned off one at a time. Seconds on any GPU.
#   device: bash tools/gpu/graphdiff.sh        (carry .gpu: the bundle of tools/gpu/bundle.sh)
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
R=${OUT:-/tmp/graphdiff}
mkdir -p "$R"
source tools/gpu/octet_bin.sh
export OCTET_CUDA_PLUGIN=$PLUGIN
ids=$(seq 1 48 | awk '{ printf "%d ", ($1 * 37 + 11) % 200 + 1 }')
m=models/octet-code.gguf
cmp() { python3 tools/gpu/compare.py "$1" "$2" 2>&1 | tr '\n' ' '; }
{
    nvidia-smi --query-gpu=name --format=csv,noheader
    $O logits -m $m --ids "$ids" --backend cpu --weights int8 --kv int8 --batch 1 >/tmp/c1.txt
    $O logits -m $m --ids "$ids" --backend cpu --weights int8 --kv int8 --batch 64 >/tmp/c64.txt
    echo "cpu batch 1 vs 64: $(cmp /tmp/c1.txt /tmp/c64.txt)"
    for env in "" OCTET_CUDA_FUSE=0 OCTET_CUDA_PDL=0 OCTET_CUDA_EXACT=0 "OCTET_CUDA_FUSE=0 OCTET_CUDA_EXACT=0"; do
        env $env $O logits -m $m --ids "$ids" --backend cuda --weights int8 --kv int8 --batch 1 >/tmp/g1.txt
        env $env $O logits -m $m --ids "$ids" --backend cuda --weights int8 --kv int8 --batch 64 >/tmp/g64.txt
        env $env $O logits -m $m --ids "$ids" --backend cuda --weights int8 --kv f32 --batch 1 >/tmp/f1.txt
        env $env $O logits -m $m --ids "$ids" --backend cuda --weights int8 --kv f32 --batch 64 >/tmp/f64.txt
        echo "[${env:-defaults}] int8/int8: graph vs batched $(cmp /tmp/g1.txt /tmp/g64.txt)| graph vs cpu $(cmp /tmp/g1.txt /tmp/c1.txt)| batched vs cpu $(cmp /tmp/g64.txt /tmp/c64.txt)| int8/f32 graph vs batched $(cmp /tmp/f1.txt /tmp/f64.txt)"
    done
} 2>&1 | tee "$R/graphdiff.txt"
