#!/usr/bin/env bash
# install.sh - take what tools/train/run.sh returned from the device machine and put it in the tree:
#   models/octet-code.gguf                  the parts joined, checked against SHA256SUMS
#   tests/fixtures/model/                   ref.json, logits.f32 and the held-out snippets
#   tools/train/results/                    metrics.json, sources.tsv, samples.txt, summary.txt, train.log,
#                                           sft_examples.txt (one held-out SFT sample of each kind)
# then checks the GGUF with an independent float64 forward in llama.cpp's convention
# (gguf_forward.py) against the PyTorch references, and its tokenizer data against the
# ids HF tokenizers gave (check_tokenizer.py; needs `pip install numpy regex`).
#   tools/train/install.sh DIR              DIR: the folder holding run.sh's $OUT files
set -euo pipefail
src=${1:?usage: tools/train/install.sh DIR_WITH_RUN_OUTPUT}
root=$(cd "$(dirname "$0")/../.." && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

tar -xzf "$src/results.tar.gz" -C "$tmp"
cat "$src"/octet-code.gguf.part* > "$tmp/octet-code.gguf"
(cd "$tmp" && sha256sum -c SHA256SUMS)

mkdir -p "$root/models" "$root/tests/fixtures/model" "$root/tools/train/results"
install -m 0644 "$tmp/octet-code.gguf" "$root/models/octet-code.gguf"
install -m 0644 "$tmp/ref.json" "$tmp/logits.f32" "$tmp"/[0-9][0-9]-*.txt "$root/tests/fixtures/model/"
install -m 0644 "$tmp/metrics.json" "$tmp/sources.tsv" "$tmp/samples.txt" "$tmp/summary.txt" "$tmp/sft_examples.txt" \
    "$src/train.log" "$root/tools/train/results/"
python3 "$root/tools/train/gguf_forward.py" "$root/models/octet-code.gguf" "$root/tests/fixtures/model/ref.json"
python3 "$root/tools/train/check_tokenizer.py" "$root/models/octet-code.gguf" "$root/tests/fixtures/model/ref.json"
