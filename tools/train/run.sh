#!/usr/bin/env bash
# run.sh - the one command the device machine runs to make octet's embedded model:
# corpus + tokenizer + training + evaluation + GGUF export, inside one 10-minute call.
#
#   OUT=/some/dir tools/train/run.sh full    # the real run: ~560 s wall clock in all
#   OUT=/some/dir tools/train/run.sh dry     # the same pipeline on 40 MB of text, ~200 s
#   OUT=/some/dir tools/train/run.sh cpu     # the same pipeline with tiny models on the CPU (no GPU),
#                                            # to test it anywhere before a GPU call (~5 min on 2 cores)
#   SEED=N ...                               # another seed (default 1234): data order, SFT draws, init
#   NO_CCORPUS=1 ...                         # leave out .gpu/ccorpus.tar.xz even when it is there
#
# The C corpus (tools/train/ccorpus.sh, built on the development machine: the device has no network)
# travels as .gpu/ccorpus.tar.xz with the carried .gpu folder; when it is in the tree it is unpacked into
# the work folder and given to prep.py as --c-corpus.
#
# Writes to $OUT (at most 8 files of 16 MiB come back from the device machine):
#   octet-code.gguf.part0..N   the GGUF split in 15 MB pieces (tools/train/install.sh joins them)
#   results.tar.gz             ref.json + logits.f32 + held-out snippets, tokenizer.json, sources.tsv,
#                              prep.json, metrics.json, samples.txt, summary.txt, SHA256SUMS
#   train.log                  everything printed
# The summary table is printed last.
set -euo pipefail
: "${OUT:?set OUT to the folder the results go to}"
mode=${1:-full}
start=$(date +%s)
here=$(cd "$(dirname "$0")" && pwd)
work=${WORK:-/tmp/octet-train}
rm -rf "$work"
mkdir -p "$work" "$OUT"
export PYTHONUNBUFFERED=1 TOKENIZERS_PARALLELISM=true

cc=""
ccorpus=$here/../../.gpu/ccorpus.tar.xz
if [ -f "$ccorpus" ] && [ -z "${NO_CCORPUS:-}" ]; then
    tar -xJf "$ccorpus" -C "$work"  # ~1 s: 46 MB of C from 6.5 MB
    cc=" --c-corpus $work/ccorpus"
fi

case $mode in
full) args=(--total-seconds 560 --reserve-seconds 70 --prep-args "--max-train-mb 560 --c-share 0.25$cc") ;;
dry) args=(--total-seconds 240 --reserve-seconds 70 --warmup-steps 10 --trial-seconds 10
           --prep-args "--max-train-mb 40 --max-val-mb 6 --tok-sample-mb 10 --probe-mb 5$cc") ;;
cpu) args=(--device cpu --total-seconds 330 --reserve-seconds 110 --warmup-steps 5 --trial-seconds 8
           --micro-bsz 2 --accum 2 --ctx 256 --shapes 64x2x2x1x128,64x3x4x2x96 --eval-tokens 20000
           --trial-eval-tokens 5000 --prep-args "--max-train-mb 12 --max-val-mb 3 --tok-sample-mb 4 --probe-mb 2 --sft-max-val 200 --snippet-chars 500$cc") ;;
*) echo "usage: OUT=DIR $0 full|dry|cpu" >&2; exit 2 ;;
esac

status=0
{
    [ "$mode" = cpu ] || nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader || true
    python3 -c 'import sys, torch, tokenizers, numpy; print("python", sys.version.split()[0], "torch", torch.__version__, "tokenizers", tokenizers.__version__, "numpy", numpy.__version__)'
    python3 "$here/selftest.py"
    python3 "$here/train.py" --mode "$mode" --work "$work" --start "$start" --seed "${SEED:-1234}" "${args[@]}"
} 2>&1 | tee "$OUT/train.log" || status=$?

# whatever was made comes back, even when a later step failed
res=$work/results
gguf=$work/octet-code.gguf
mkdir -p "$res"
if [ -f "$gguf" ]; then
    (cd "$work" && sha256sum octet-code.gguf) > "$res/SHA256SUMS"
    split -b 15M -d -a 1 "$gguf" "$OUT/octet-code.gguf.part"
fi
tar -czf "$OUT/results.tar.gz" -C "$res" .
ls -l "$OUT"
echo "== summary ($mode, $(( $(date +%s) - start )) s, status $status)"
cat "$res/summary.txt" 2>/dev/null || true
exit "$status"
