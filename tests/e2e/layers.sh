#!/usr/bin/env bash
# layers.sh - tools/layers.sh, the include check of `make layers`: the tree
# passes, and a copy of it with one planted include that crosses a floor the
# wrong way fails, naming FILE:LINE and the rule, for each rule.
source "$(dirname "$0")/lib.sh"
ROOT=$(pwd)
CHECK=$ROOT/tools/layers.sh

t_expect "the tree keeps its floors" 0 "$CHECK" "$ROOT"
t_grep "says so" '^layers: every include goes down the floors$' "$T_TMP/out"

COPY=$T_TMP/tree
mkdir -p "$COPY"
cp -r base kernels engine rag presets serve flows tui cli "$COPY"/

# plant FILE LINE_TEXT PATTERN NAME : append LINE_TEXT to FILE in the copy,
# expect the check to fail with FILE:LINE and PATTERN, then restore FILE.
plant() {
    local file=$1 text=$2 pattern=$3 name=$4
    cp "$COPY/$file" "$T_TMP/saved"
    printf '%s\n' "$text" >>"$COPY/$file"
    local line
    line=$(wc -l <"$COPY/$file")
    t_expect "$name: refused" 1 "$CHECK" "$COPY"
    t_grep "$name: names $file:$line and the rule" "^$file:$line: .*$pattern" "$T_TMP/out"
    cp "$T_TMP/saved" "$COPY/$file"
}

plant flows/spec.c '#include "tui.h"' 'flows/ may not include tui/' "flows up to tui"
plant presets/preset.c '#include "spec.h"' 'presets/ may not include flows/' "presets up to flows"
plant serve/server.c '#include "pending.h"' 'serve/ may not include tui/' "serve up to tui"
plant base/sb.c '#include "errmsg.h"' 'base/ may not include engine/' "base up to the engine"
plant engine/engine.c '#include "cpu/cpu_kernels.h"' 'only through the backend table' "engine into kernels"
plant kernels/cpu/cpu_isa.c '#include "engine.h"' 'only through backend.h' "kernels past the backend header"
plant rag/query.c '#include "tokenizer.h"' 'rag knows nothing of the engine but errmsg.h' "rag into the engine"
plant serve/openai.c '#include "backend.h"' 'internal to the engine' "an engine internal"
plant flows/refactor.c '#include "chunk.h"' 'private to rag/' "a private header"
plant tui/tui.c '#include "cli.h"' 'never include each other' "tui into cli"
plant cli/cmd_run.c '#include "tui.h"' 'never include each other' "cli into tui outside main.c"
plant cli/main.c '#include "app.h"' 'private to tui/' "cli/main.c past tui.h"
plant flows/llm.c '#include "nosuch.h"' 'no such header' "an include that resolves nowhere"

# a second header of the same name in another floor shadows the first
printf '/* text.h - a second text.h */\n' >"$COPY/flows/text.h"
t_expect "a header name in two floors: refused" 1 "$CHECK" "$COPY"
t_grep "names both" 'text.h is also in .*text.h' "$T_TMP/out"
rm "$COPY/flows/text.h"

t_expect "the copy passes again" 0 "$CHECK" "$COPY"
t_end
