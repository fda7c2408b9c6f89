#!/usr/bin/env bash
# harden_apikey.sh - issue 19: octet serve's optional bearer token. With
# --api-key (or $OCTET_API_KEY) every endpoint but /health answers 401 without
# "Authorization: Bearer KEY" or with a wrong key (same length, a prefix, a
# longer one), and works with it; octet run --backend sends $OCTET_API_KEY.
source "$(dirname "$0")/lib.sh"
export LC_ALL=C
M=tests/fixtures/tiny/llama_gqa_f16.gguf
SPID=
trap '[ -n "$SPID" ] && kill -9 "$SPID" 2>/dev/null; rm -rf "$T_TMP"' EXIT
KEY=s3cret-Key-0123456789
code() { curl -s -o "$T_TMP/body" -w '%{http_code}' "$@"; }
check_auth() { # how the server was given the key
    local how=$1
    local u=http://127.0.0.1:$PORT
    [ "$(code "$u/health")" = 200 ] && t_ok "$how: /health stays open" || t_fail "$how: /health stays open"
    [ "$(code "$u/v1/models")" = 401 ] && grep -q 'API key' "$T_TMP/body" && t_ok "$how: no key: 401" ||
        t_fail "$how: no key: 401" "$(cat "$T_TMP/body")"
    local bad
    for bad in "s3cret-Key-0123456788" "s3cret" "${KEY}x" "" "$(echo "$KEY" | tr a-z A-Z)"; do
        [ "$(code -H "Authorization: Bearer $bad" "$u/v1/models")" = 401 ] || { t_fail "$how: wrong key '$bad': 401"; return; }
    done
    t_ok "$how: wrong keys (one character off, a prefix, longer, empty, other case): 401"
    [ "$(code -H "Authorization: Basic $KEY" "$u/metrics")" = 401 ] && t_ok "$how: another scheme: 401" ||
        t_fail "$how: another scheme: 401"
    [ "$(code -H "Authorization: Bearer $KEY" "$u/v1/models")" = 200 ] && t_ok "$how: the key: 200" ||
        t_fail "$how: the key: 200" "$(cat "$T_TMP/body")"
    [ "$(code -H "Authorization: Bearer $KEY" -H 'Content-Type: application/json' \
        -d '{"prompt": "hi", "max_tokens": 2}' "$u/v1/completions")" = 200 ] && t_ok "$how: a completion with the key" ||
        t_fail "$how: a completion with the key" "$(cat "$T_TMP/body")"
    if OCTET_API_KEY=$KEY "$OCTET" run --backend "$u/v1" -n 2 -p hi >"$T_TMP/run.out" 2>&1; then
        t_ok "$how: octet run --backend sends \$OCTET_API_KEY"; else t_fail "$how: octet run --backend sends \$OCTET_API_KEY" "$(head -c 300 "$T_TMP/run.out")"; fi
    if OCTET_API_KEY= "$OCTET" run --backend "$u/v1" -n 2 -p hi >"$T_TMP/run.out" 2>&1; then
        t_fail "$how: octet run --backend without the key fails"; else t_ok "$how: octet run --backend without the key fails"; fi
    kill -TERM "$SPID"; wait "$SPID"; SPID=
}
serve_start "$T_TMP/log1" -m "$M" --threads 1 --ctx 256 --api-key "$KEY"
[ -n "$PORT" ] && check_auth "--api-key" || t_fail "server with --api-key started" "$(cat "$T_TMP/log1")"
OCTET_API_KEY=$KEY serve_start "$T_TMP/log2" -m "$M" --threads 1 --ctx 256
[ -n "$PORT" ] && check_auth "OCTET_API_KEY" || t_fail "server with OCTET_API_KEY started" "$(cat "$T_TMP/log2")"
# without a key nothing is asked (the documented default)
OCTET_API_KEY= serve_start "$T_TMP/log3" -m "$M" --threads 1 --ctx 256
[ "$(code "http://127.0.0.1:$PORT/v1/models")" = 200 ] && t_ok "no key configured: open" || t_fail "no key configured: open"
kill -TERM "$SPID"; wait "$SPID"; SPID=
t_end
