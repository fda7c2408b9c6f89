#!/usr/bin/env bash
# tui_gauge.sh - the TUI's VRAM gauge on the GPU (issue 13 item 4), from the
# bundle (tools/gpu/bundle.sh) and a tmux carried in .gpu/tmux (the device
# has none): the status bar with the embedded model on the GPU, after
# /preset int8_memory, and `--preset auto` started while another process
# holds 60 GiB of the card. Screens go to $OUT/tui-*.txt.
set -uo pipefail
cd "${QUICK_ROOT:-$(dirname "${BASH_SOURCE[0]}")/../..}"
R=${OUT:-/tmp/quick}
mkdir -p "$R" /tmp/gb
[ -x /tmp/gb/b/octet ] || tar -xJf .gpu/bundle.tar.xz -C /tmp/gb || exit 2
T=$(pwd)/.gpu/tmux
tm() { TERMINFO_DIRS=$T/terminfo /tmp/gb/b/lib/ld-linux-x86-64.so.2 --library-path "$T/lib:/tmp/gb/b/lib" \
    "$T/tmux.bin" -L octet-gauge "$@"; }
shot() { sleep "$2"; tm capture-pane -p >"$R/tui-$1.txt"; echo "---- $1"; grep -n -i -E "octet .*G|preset|GiB|VRAM|weights" "$R/tui-$1.txt" | tail -4; }
start() {
    tm kill-server 2>/dev/null
    tm new-session -d -x 120 -y 30 "cd /tmp && TERM=xterm-256color TERMINFO_DIRS=$T/terminfo /tmp/gb/b/octet $*; sleep 30"
}
start -m "$(pwd)/models/octet-code.gguf" --backend cuda
shot start 8
tm send-keys -l "/preset int8_memory"; tm send-keys Enter
shot int8_memory 6
tm kill-server 2>/dev/null
python3 -c "import torch,time; x=torch.empty(60<<30,dtype=torch.uint8,device='cuda'); print('held',flush=True); time.sleep(30)" >/tmp/hog.txt 2>&1 &
HOG=$!
for _ in $(seq 60); do grep -q held /tmp/hog.txt && break; sleep 0.5; done
nvidia-smi --query-gpu=memory.used,memory.total --format=csv,noheader
start -m "$(pwd)/models/octet-code.gguf" --preset auto
shot auto_60GiB_held 8
tm kill-server 2>/dev/null
kill $HOG 2>/dev/null; wait $HOG 2>/dev/null
