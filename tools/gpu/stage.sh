#!/usr/bin/env bash
# stage.sh DIR - put what a device call needs into DIR/.gpu when the call
# sends another checkout than this one (the device tool sends the session's
# own repository): the bundle (tools/gpu/bundle.sh, run first), quick.sh,
# variants.sh and their Python helpers, and under src/ this branch's CUDA
# sources for the standalone checks (attn_check, gemv_bench). The llama.cpp
# anchors and anything else already in DIR/.gpu stay. Prints the bytes the
# call will carry in .gpu (64 MiB in all with the checkout itself).
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
dst=${1:?usage: stage.sh DIR}/.gpu
[ -f "$here/.gpu/bundle.tar.xz" ] || { echo "stage.sh: run tools/gpu/bundle.sh first" >&2; exit 2; }
mkdir -p "$dst"
rm -rf "$dst/src"
mkdir -p "$dst/src/kernels/cuda" "$dst/src/engine" "$dst/src/tools/gpu"
cp "$here/.gpu/bundle.tar.xz" "$dst/"
cp "$here"/tools/gpu/{quick.sh,exact.sh,octet_bin.sh,variants.sh,compare.py,top1.py} "$dst/"
cp "$here"/kernels/cuda/*.cu "$here"/kernels/cuda/*.cuh "$dst/src/kernels/cuda/"
cp "$here"/engine/backend.h "$here"/engine/errmsg.h "$dst/src/engine/"
cp "$here"/tools/gpu/*.cu "$dst/src/tools/gpu/"
du -sb "$dst" | awk '{printf "stage.sh: %s holds %.1f MB\n", $2, $1 / 1e6}'
