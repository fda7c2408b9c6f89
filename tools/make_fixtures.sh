#!/usr/bin/env bash
# make_fixtures.sh - regenerates tests/fixtures/tiny/ (random-weight llama and
# qwen2 GGUF files and their float64 reference logits) and the chat-template
# expectations in tests/fixtures/chat/. Everything is seeded: running it again
# rewrites the same bytes.
#   tools/make_fixtures.sh           regenerate in place
#   tools/make_fixtures.sh --check   regenerate into a temporary folder and
#                                    compare with the committed files
# Needs python3 with numpy (tiny models) and jinja2 (chat expectations).
set -euo pipefail
cd "$(dirname "$0")/.."

check=0
[ "${1:-}" = "--check" ] && check=1

tiny=tests/fixtures/tiny
chat=tests/fixtures/chat/expected
if [ $check -eq 1 ]; then
    tmp=$(mktemp -d)
    trap 'rm -rf "$tmp"' EXIT
    tiny=$tmp/tiny
    chat=$tmp/chat
fi
mkdir -p "$tiny" "$chat"

# The id sequence of each model: its BOS then 23 draws over the vocabulary,
# seeded per model so the models see different sequences.
seed=1
for v in $(python3 tools/gen_tiny.py --list | cut -d: -f1); do
    python3 tools/gen_tiny.py --variant "$v" --out "$tiny/$v.gguf"
    python3 tools/ref_forward.py "$tiny/$v.gguf" --random-ids 24 --seed $seed --out "$tiny/$v.ref.bin"
    seed=$((seed + 1))
done
python3 tools/make_chat_fixtures.py --out "$chat"

if [ $check -eq 1 ]; then
    diff -r "$tiny" tests/fixtures/tiny --exclude=README.md -q
    diff -r "$chat" tests/fixtures/chat/expected -q
    echo "make_fixtures: the committed fixtures are up to date"
fi
