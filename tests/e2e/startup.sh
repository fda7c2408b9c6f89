#!/usr/bin/env bash
# startup.sh - what every octet command pays before doing anything: libcurl,
# libmicrohttpd and libgit2 (and the TLS, Kerberos and LDAP libraries they
# bring) are not linked but opened when first used: the first two by serve/
# when a server or a remote engine starts (engine/lazylib.h), libgit2 by rag/
# and flows/ when a repository needs it (rag/gitlib.h). A search loads no
# HTTP library, and over an unchanged repository no libgit2 either;
# `octet serve` loads libmicrohttpd, a first listing libgit2; a search
# after an edit hashes the file itself and loads no libgit2 either.
source "$(dirname "$0")/lib.sh"

readelf -d "$OCTET" >"$T_TMP/dyn" 2>&1
t_grep "octet links SQLite (readelf works)" 'NEEDED.*libsqlite3' "$T_TMP/dyn"
if grep -qE 'NEEDED.*(libcurl|libmicrohttpd|libgit2)' "$T_TMP/dyn"; then
    t_fail "octet links none of libcurl, libmicrohttpd and libgit2" "$(grep NEEDED "$T_TMP/dyn")"
else
    t_ok "octet links none of libcurl, libmicrohttpd and libgit2"
fi

# NAME passes when the last loader trace ($T_TMP/ld) shows no libgit2 started
no_libgit2() {
    if grep -qE 'calling init: .*libgit2' "$T_TMP/ld"; then
        t_fail "$1" "$(grep -E 'calling init' "$T_TMP/ld")"
    else
        t_ok "$1"
    fi
}

REPO=$T_TMP/repo
mkdir -p "$REPO" && printf 'def parse_address(text):\n    return text.split("@")\n' >"$REPO/mail.py"
git -C "$REPO" init -q && git -C "$REPO" add -A
# the first listing keeps its witness only for files and directories over
# 2 s old (rag/walk.c, "the witness"): without it the second search below
# would list with libgit2 again
sleep 2.2
LD_DEBUG=libs "$OCTET" search parse address --repo "$REPO" >"$T_TMP/out" 2>"$T_TMP/ld"
t_grep "the search works" 'mail\.py:1-2' "$T_TMP/out"
t_grep "the loader's trace is there" 'calling init: .*libsqlite3' "$T_TMP/ld"
if grep -qE 'calling init: .*(libcurl|libmicrohttpd|libgnutls)' "$T_TMP/ld"; then
    t_fail "a search loads no HTTP or TLS library" "$(grep -E 'calling init: .*(curl|microhttpd|gnutls)' "$T_TMP/ld")"
else
    t_ok "a search loads no HTTP or TLS library"
fi
t_grep "the first search opened libgit2 to list the files" 'calling init: .*libgit2' "$T_TMP/ld"
LD_DEBUG=libs "$OCTET" search parse address --repo "$REPO" >"$T_TMP/out" 2>"$T_TMP/ld"
t_grep "the second search works" 'mail\.py:1-2' "$T_TMP/out"
no_libgit2 "the second search, over an unchanged repository, loads no libgit2"
# an edit: the file is read and hashed again (octet's own SHA-1) and
# re-chunked, still listed from the witness, so libgit2 stays out
printf 'def parse_address(text):\n    return text.split("@")\n\n\ndef format_recipient(name):\n    return name\n' \
    >"$REPO/mail.py"
LD_DEBUG=libs "$OCTET" search format recipient --repo "$REPO" >"$T_TMP/out" 2>"$T_TMP/ld"
t_grep "a search after an edit finds the new function" 'mail\.py:5-6' "$T_TMP/out"
no_libgit2 "a search after an edit loads no libgit2"

# the server opens libmicrohttpd itself: it answers, and the loader saw it
printf '#!/bin/sh\nLD_DEBUG=libs exec "%s" "$@"\n' "$(realpath "$OCTET")" >"$T_TMP/traced"
chmod +x "$T_TMP/traced"
SERVE_OCTET=$T_TMP/traced serve_start "$T_TMP/serve.log" -m tests/fixtures/gguf/tiny-llama-q8_0.gguf
trap 'kill $SPID 2>/dev/null; rm -rf "$T_TMP"' EXIT
if [ -n "$PORT" ] && python3 -c "import urllib.request,sys; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:$PORT/health').status == 200 else 1)"; then
    t_ok "octet serve answers"
else
    t_fail "octet serve answers" "$(tail -5 "$T_TMP/serve.log")"
fi
kill "$SPID" 2>/dev/null
wait "$SPID" 2>/dev/null
t_grep "octet serve opened libmicrohttpd" 'calling init: .*libmicrohttpd' "$T_TMP/serve.log"
t_end
