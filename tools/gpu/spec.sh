#!/usr/bin/env bash
# spec.sh - speculative decoding on the GPU (issue 18 item 4): effective
# decode speed with and without prompt lookup on the random
# Qwen2.5-Coder-7B shape, CUDA backend, INT8 weights and KV, on the prompt
# sets of tools/bench/spec_prompts.py: (a) rename refactors whose answers are
# diffs, replayed (a random model cannot copy: the expected diff is forced),
# (b) plain code generation (real greedy output, identical both ways).
#
# Prepare here (the device has none of the -dev packages):
#   bash tools/gpu/bundle.sh
#   cc -std=c11 -D_GNU_SOURCE -O2 -Iengine -Ikernels -pthread -o .gpu/spec/spec_bench \
#      tools/bench/spec_bench.c build-bundle/libengine.a build-bundle/libbase.a -lpcre2-8 -lm -ldl
#   python3 tools/bench/spec_prompts.py .gpu/spec/prompts   (else made on the device)
# then on the device, carrying .gpu:  bash tools/gpu/spec.sh
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
R=${OUT:-/tmp/spec}
mkdir -p "$R" /tmp/gb
M=/tmp/q7.gguf
tar -xJf .gpu/bundle.tar.xz -C /tmp/gb || exit 2
# the prompt sets are made from this tree's files (a run once failed for want of them)
[ -d .gpu/spec/prompts/edit ] || python3 tools/bench/spec_prompts.py .gpu/spec/prompts || exit 2
[ -s $M ] || python3 tools/gen_tiny.py --shape qwen2.5-7b --type f16 --fill fast --out $M >/dev/null || exit 2
cuda=/usr/local/cuda/lib64
for p in $(python3 -c 'import nvidia, os; print(" ".join(os.path.join(q, "cu13", "lib") for q in nvidia.__path__))' 2>/dev/null); do
    cuda=$cuda:$p
done
export OCTET_CUDA_PLUGIN=/tmp/gb/b/octet-cuda.so
# the exact few-token verification passes (docs/cuda.md): without them the
# engine does not speculate on the GPU at all
export OCTET_CUDA_FEW=${OCTET_CUDA_FEW:-1}
bench() { /tmp/gb/b/lib/ld-linux-x86-64.so.2 --library-path "/tmp/gb/b/lib:$cuda" .gpu/spec/spec_bench "$@"; }
nvidia-smi --query-gpu=name,driver_version --format=csv,noheader | tee "$R/spec.txt"
date -u '+%Y-%m-%d %H:%M UTC' | tee -a "$R/spec.txt"
{
    echo "## (a) edits, replay, 128 tokens"
    bench -m $M --dir .gpu/spec/prompts/edit --mode replay --backend cuda -n 128 --ctx 4096 --reps 2
    echo "## (b) code, gen, 64 tokens, 3 reps"
    bench -m $M --dir .gpu/spec/prompts/code --mode gen --backend cuda -n 64 --ctx 4096 --reps 3
} 2>&1 | tee -a "$R/spec.txt"
