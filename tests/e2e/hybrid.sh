#!/usr/bin/env bash
# hybrid.sh - hybrid retrieval end to end on a small git repository, with the
# tiny test encoder (tests/fixtures/encoder/tiny-embed.gguf: random weights,
# the real encoder's keys and layout; tools/encoder/tiny_encoder.py), so that
# it runs whether models/octet-embed.gguf is installed or not: `octet index`
# makes the vectors and says so, `octet search` answers hybrid (-v says so)
# and lexically with --lexical, without an encoder, with a broken one and
# while vectors are missing; an edit re-embeds exactly the new texts and drops
# the old; a few missing vectors are made by the search itself, many are left
# to `octet index`; results never overlap; the TUI makes the vectors in the
# background and its /search says the mode; the man page and --help name it.
source "$(dirname "$0")/lib.sh"
OCTET=$(cd "$(dirname "$OCTET")" && pwd)/$(basename "$OCTET")
ENC=$(pwd)/tests/fixtures/encoder/tiny-embed.gguf
export HOME=$T_TMP XDG_CONFIG_HOME=$T_TMP GIT_CONFIG_NOSYSTEM=1 GIT_CONFIG_GLOBAL=/dev/null
export GIT_AUTHOR_NAME=t GIT_AUTHOR_EMAIL=t@octet.invalid GIT_COMMITTER_NAME=t GIT_COMMITTER_EMAIL=t@octet.invalid

R=$T_TMP/repo
mkdir -p "$R/src"
cat >"$R/src/config.c" <<'EOF'
#include <stdio.h>

/* Reads the settings file. */
int parse_config(const char *path)
{
    return path != NULL;
}
EOF
printf 'def helper():\n    return 1\n\n\ndef other_helper(x):\n    return x + 1\n' >"$R/tool.py"
printf 'release notes\n' >"$R/NOTES.txt"
(cd "$R" && git init -q . && git add -A && git commit -qm init) || t_fail "git setup"

# ---- no encoder: as before, and said ---------------------------------------------------------------
t_expect "index without an encoder" 0 "$OCTET" index --repo "$R"
t_grep "index without an encoder: said" '^vectors +none: no retrieval encoder \(OCTET_EMBED_MODEL is empty\); retrieval is lexical$' "$T_TMP/out"
t_expect "search without an encoder" 0 "$OCTET" search --repo "$R" -v parse config
t_grep "search without an encoder: lexical, said" 'lexical \(BM25, [0-9]+ candidates\): no retrieval encoder' "$T_TMP/err"
t_grep "search without an encoder: found" 'src/config\.c:3-7 +parse_config' "$T_TMP/out"

export OCTET_EMBED_MODEL=$ENC
# ---- vectors missing: lexical, and said --------------------------------------------------------
t_expect "search before the vectors exist" 0 "$OCTET" search --repo "$R" -v --lexical parse config
t_grep "search --lexical: said" 'lexical \(BM25, [0-9]+ candidates\): --lexical;' "$T_TMP/err"

# ---- octet index makes them ----------------------------------------------------------------------
t_expect "index with the encoder" 0 "$OCTET" index --repo "$R"
t_grep "index: every chunk embedded" '^vectors +5 of 5 chunks \(5 embedded, 0 dropped\) in [0-9.]+ s: retrieval is hybrid$' "$T_TMP/out"
t_grep "index: the encoder named" "^encoder +$ENC$" "$T_TMP/out"
t_expect "index again" 0 "$OCTET" index --repo "$R"
t_grep "index again: nothing embedded" '^vectors +5 of 5 chunks \(0 embedded, 0 dropped\)' "$T_TMP/out"
t_expect "index --lexical" 0 "$OCTET" index --repo "$R" --lexical
t_grep "index --lexical: no vectors made" '^vectors +not made \(--lexical\)$' "$T_TMP/out"

# ---- hybrid search -------------------------------------------------------------------------------
t_expect "search: hybrid" 0 "$OCTET" search --repo "$R" -v parse config
t_grep "search: hybrid, said" "hybrid: BM25 \([0-9]+ candidates\) and $ENC \(5 chunks scanned in [0-9.]+ ms" "$T_TMP/err"
t_grep "search: hybrid finds the definition first" '^ +1 +[0-9.]+ +src/config\.c:3-7 +parse_config$' "$T_TMP/out"
t_grep "search: hybrid ranks the chunks BM25 missed too" 'tool\.py:1-2 +helper' "$T_TMP/out"
t_expect "search --lexical" 0 "$OCTET" search --repo "$R" --lexical parse config
if grep -q 'tool\.py' "$T_TMP/out"; then t_fail "search --lexical: BM25's hits only" "$(cat "$T_TMP/out")"
else t_ok "search --lexical: BM25's hits only"; fi
# no query word is in the index: BM25 has nothing, the encoder still ranks
t_expect "search --lexical, no word matches: exit 1" 1 "$OCTET" search --repo "$R" --lexical zzzznotthere
t_expect "search hybrid, no word matches: the encoder's ranking" 0 "$OCTET" search --repo "$R" zzzznotthere
t_expect "search --json hybrid" 0 "$OCTET" search --repo "$R" --json parse config
t_grep "search --json hybrid: fused scores" '"score": 0\.[0-9]+' "$T_TMP/out"

# ---- an edit: exactly the new texts embedded, the old dropped --------------------------------------
printf 'def helper():\n    return 2\n\n\ndef other_helper(x):\n    return x + 1\n' >"$R/tool.py"
rm "$R/NOTES.txt"
printf 'int added(void) { return 3; }\n' >"$R/added.c"
t_expect "index after an edit" 0 "$OCTET" index --repo "$R"
t_grep "index after an edit: the changed function and the new file only" '^vectors +5 of 5 chunks \(2 embedded, 2 dropped\)' "$T_TMP/out"

# ---- a few missing vectors: made by the search itself ---------------------------------------------
printf 'int added(void) { return 4; }\n' >"$R/added.c"
t_expect "search after an edit" 0 "$OCTET" search --repo "$R" -v added
t_grep "search after an edit: hybrid (it embedded the new chunk)" 'hybrid: BM25' "$T_TMP/err"
t_expect "index after the search" 0 "$OCTET" index --repo "$R"
t_grep "index after the search: nothing left (the search embedded it and dropped the old one)" '\(0 embedded, 0 dropped\)' "$T_TMP/out"

# ---- many missing: lexical until octet index -----------------------------------------------------
mkdir -p "$R/many"
for i in $(seq 1 70); do printf 'int many_%d(void) { return %d; }\n' "$i" "$i" >"$R/many/f$i.c"; done
t_expect "search with 70 chunks missing their vector" 0 "$OCTET" search --repo "$R" -v many_7
t_grep "search: lexical while vectors are missing, said" 'lexical \(BM25, [0-9]+ candidates\): 5 of 75 chunks have their vector \(octet index makes them\)' "$T_TMP/err"
t_expect "index makes them" 0 "$OCTET" index --repo "$R"
t_grep "index makes them: 70" '^vectors +75 of 75 chunks \(70 embedded, 0 dropped\)' "$T_TMP/out"
t_expect "search: hybrid again" 0 "$OCTET" search --repo "$R" -v many_7
t_grep "search: hybrid again, said" 'hybrid: BM25 .*\(75 chunks scanned' "$T_TMP/err"

# ---- results never overlap: the windows of a long function become one hit --------------------------
{ echo 'def long_function(values):'; for i in $(seq 1 120); do echo "    total_$i = sum(values) + $i  # windowtoken"; done; echo '    return 0'; } >"$R/long.py"
t_expect "search a long function" 0 "$OCTET" search --repo "$R" --lexical -k 5 -v windowtoken
t_grep "search a long function: one hit" '^ +1 +[0-9.]+ +long\.py:1-122 +long_function$' "$T_TMP/out"
t_grep "search a long function: the windows merged, said" '[1-9][0-9]* overlapping hits merged' "$T_TMP/err"
n=$(grep -c 'long\.py' "$T_TMP/out")
if [ "$n" -eq 1 ]; then t_ok "search a long function: no overlapping hits"; else t_fail "search a long function: no overlapping hits" "$(cat "$T_TMP/out")"; fi

# ---- a broken encoder --------------------------------------------------------------------------
printf 'not a model\n' >"$T_TMP/bad.gguf"
t_expect "index with a broken encoder: exit 1" 1 env OCTET_EMBED_MODEL="$T_TMP/bad.gguf" "$OCTET" index --repo "$R"
t_grep "index with a broken encoder: says the lexical index is done" 'bad\.gguf: .*; the lexical index is up to date' "$T_TMP/err"
t_expect "search with a broken encoder: answers lexically" 0 env OCTET_EMBED_MODEL="$T_TMP/bad.gguf" "$OCTET" search --repo "$R" -v parse config
t_grep "search with a broken encoder: said" 'lexical .*no retrieval encoder \(.*bad\.gguf' "$T_TMP/err"
t_expect "search with a decoder as encoder: answers lexically" 0 env OCTET_EMBED_MODEL="$(pwd)/tests/fixtures/gguf/tiny-llama-q8_0.gguf" "$OCTET" search --repo "$R" -v parse config
t_grep "search with a decoder as encoder: said" 'octet\.encoder' "$T_TMP/err"

# ---- the TUI: vectors made in the background, /search says the mode --------------------------------
if command -v tmux >/dev/null 2>&1; then
    ROOT=$(pwd)
    OCT=$OCTET
    TM=(tmux -L "octet-hybrid-$$" -f /dev/null)
    HOMEDIR=$T_TMP/home
    REPO=$R
    SCREEN=$T_TMP/screen
    RC=$T_TMP/rc
    ERRLOG=$T_TMP/stderr
    trap '"${TM[@]}" kill-server >/dev/null 2>&1; rm -rf "$T_TMP"' EXIT
    mkdir -p "$HOMEDIR/cfg" "$HOMEDIR/state"
    printf 'int tui_only_function(void) { return 5; }\n' >"$R/tui.c"
    tui_start
    check "TUI: vectors made after the index, said" 'chunks? embedded in [0-9.]+ s:'
    check "TUI: retrieval is hybrid, said" 'retrieval is hybrid'
    type_line "/search tui only function"
    check "TUI: /search answers hybrid" "search 'tui only function': [0-9]+ chunks \(hybrid\)"
    type_line "/quit"
    wait_exit "TUI: quits"
    tui_start --lexical
    check "TUI --lexical: no vectors made" 'index up to date: [0-9]+ files'
    type_line "/search tui only function"
    check "TUI --lexical: /search answers lexically" "search 'tui only function': [0-9]+ chunks \(lexical: --lexical\)"
    type_line "/quit"
    wait_exit "TUI --lexical: quits"
else
    t_fail "tmux is installed" "the TUI cases need tmux (tools/deps.sh installs it)"
fi

# ---- documented ----------------------------------------------------------------------------------
t_expect "search --help" 0 "$OCTET" search --help
t_grep "search --help: --lexical" '--lexical' "$T_TMP/out"
t_grep "man page: --lexical and OCTET_EMBED_MODEL" 'OCTET_EMBED_MODEL' docs/octet.1
t_end
