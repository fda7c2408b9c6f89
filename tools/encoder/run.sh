#!/usr/bin/env bash
# run.sh - the one command of the encoder's device call: pairs, tokenizer, training, Q8_0 GGUF export,
# fixtures and the embeddings of the retrieval benchmarks, inside one call of at most 300 s.
#
#   OUT=/some/dir tools/encoder/run.sh [BUNDLES]     # BUNDLES: tools/bench/rag_dense.py prepare's folder
#
# Writes to $OUT: octet-embed.gguf, fixtures.json, metrics.json, NAME.emb.npz per bundle, train.log.
# Training stops at a wall-clock deadline (TRAIN_END seconds after the start, default 235) so that the
# export and the embeddings fit in the call.
# The C corpus (.gpu/ccorpus.tar.xz, see tools/train/run.sh) is unpacked and mined too when it is in the
# tree, unless NO_CCORPUS is set.
set -euo pipefail
: "${OUT:?set OUT to the folder the results go to}"
start=$(date +%s)
here=$(cd "$(dirname "$0")" && pwd)
bundles=${1:-}
mkdir -p "$OUT"
export PYTHONUNBUFFERED=1 TOKENIZERS_PARALLELISM=true
work=${WORK:-/tmp/octet-encoder}
cc=()
if [ -f "$here/../../.gpu/ccorpus.tar.xz" ] && [ -z "${NO_CCORPUS:-}" ]; then
    mkdir -p "$work"
    tar -xJf "$here/../../.gpu/ccorpus.tar.xz" -C "$work"
    cc=(--c-corpus "$work/ccorpus")
fi
{
    nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader || true
    python3 -c 'import sys, torch, tokenizers, numpy; print("python", sys.version.split()[0], "torch", torch.__version__, "tokenizers", tokenizers.__version__, "numpy", numpy.__version__)'
    python3 "$here/train.py" --work "$work" --out "$OUT" ${bundles:+--bundles "$bundles"} "${cc[@]}" \
        --deadline $((start + ${TRAIN_END:-235})) --train-seconds 100000 "${@:2}"
} 2>&1 | tee "$OUT/train.log"
echo "== run.sh: $(( $(date +%s) - start )) s"
