#!/usr/bin/env bash
# install.sh - put what tools/encoder/run.sh returned from the device machine into the tree:
#   models/octet-embed.gguf                 the encoder
#   tests/fixtures/encoder/fixtures.json    texts, token ids and float64 embeddings (PyTorch, stored weights)
#   tools/encoder/results/                  metrics.json, train.log
# then checks the GGUF with the independent float64 numpy forward (enc_forward.py) against the fixtures,
# and, given the rag_dense.py bundle folder, scores the returned embeddings into tools/encoder/results/.
#   tools/encoder/install.sh DIR [BUNDLES]    DIR: the folder holding run.sh's $OUT files
set -euo pipefail
src=${1:?usage: tools/encoder/install.sh DIR_WITH_RUN_OUTPUT [BUNDLES]}
bundles=${2:-}
root=$(cd "$(dirname "$0")/../.." && pwd)
mkdir -p "$root/models" "$root/tests/fixtures/encoder" "$root/tools/encoder/results"
install -m 0644 "$src/octet-embed.gguf" "$root/models/octet-embed.gguf"
install -m 0644 "$src/fixtures.json" "$root/tests/fixtures/encoder/fixtures.json"
install -m 0644 "$src/metrics.json" "$src/train.log" "$root/tools/encoder/results/"
python3 "$root/tools/encoder/enc_forward.py" "$root/models/octet-embed.gguf" --check "$root/tests/fixtures/encoder/fixtures.json"
if [ -n "$bundles" ]; then
    python3 "$root/tools/bench/rag_dense.py" score --bundle "$bundles" --emb "$src" \
        --json "$root/tools/encoder/results/rag_dense.json" | tee "$root/tools/encoder/results/rag_dense.txt"
fi
