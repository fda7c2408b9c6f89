#!/usr/bin/env bash
# serve.sh - `octet serve` end to end on a tiny model: every endpoint driven
# with curl (answers checked as JSON with python3), errors (400 naming the
# field, 404, 405, 413), the queue limit (503), a client leaving mid-stream,
# 20 clients at once, `octet run --backend URL` against the server (same
# text as the local engine), and a clean exit 0 on SIGTERM (which under ASan
# also means no leaks).
source "$(dirname "$0")/lib.sh"
export LC_ALL=C
L=tests/fixtures/tiny/llama_gqa_f16.gguf
SPID=
trap '[ -n "$SPID" ] && kill -9 "$SPID" 2>/dev/null; rm -rf "$T_TMP"' EXIT

# start_server LOG ARGS... : starts octet serve on a free port; sets SPID, PORT, URL
start_server() {
    local log=$1; shift
    serve_start "$log" -m "$L" "$@"
    URL=http://127.0.0.1:$PORT
}
# stop_server NAME : SIGTERM, then the exit status must be 0
stop_server() {
    kill -TERM "$SPID"
    wait "$SPID"; local rc=$?
    SPID=
    if [ "$rc" -eq 0 ]; then t_ok "$1"; else t_fail "$1" "exit $rc" "$(tail -c 600 "$2")"; fi
}
# post PATH JSON OUT : POST, body to OUT, prints the HTTP status
post() { curl -s -o "$3" -w '%{http_code}' -H 'Content-Type: application/json' -d "$2" "$URL$1"; }
# jcheck NAME FILE PYTHON_EXPR : FILE parses as JSON d and the expression holds
jcheck() {
    if python3 -c 'import json,sys; d=json.load(open(sys.argv[1],"rb")); sys.exit(0 if eval(sys.argv[2]) else 1)' \
        "$2" "$3" 2>"$T_TMP/py.err"; then t_ok "$1"; else t_fail "$1" "$3" "$(head -c 400 "$2")" "$(tail -2 "$T_TMP/py.err")"; fi
}
# sse_check NAME FILE [CHAT] : every event is JSON in the chunk shape, the last one before [DONE] has a finish_reason
sse_check() {
    if python3 - "$2" "$3" 2>"$T_TMP/py.err" <<'EOF'
import json, sys
raw = open(sys.argv[1], "rb").read().decode("utf-8")
events = [e for e in raw.split("\n\n") if e]
assert events[-1] == "data: [DONE]", events[-1]
chunks = [json.loads(e[len("data: "):]) for e in events[:-1]]
assert all(e.startswith("data: ") for e in events)
assert chunks[-1]["choices"][0]["finish_reason"] in ("stop", "length")
assert all(c["choices"][0]["finish_reason"] is None for c in chunks[:-1])
if sys.argv[2] == "chat":
    assert chunks[0]["choices"][0]["delta"]["role"] == "assistant"
    assert all(c["object"] == "chat.completion.chunk" for c in chunks)
else:
    assert all(c["object"] == "text_completion" for c in chunks)
EOF
    then t_ok "$1"; else t_fail "$1" "$(head -c 400 "$2")" "$(tail -2 "$T_TMP/py.err")"; fi
}
metric() { curl -s "$URL/metrics" | awk -v n="$1" '$1 == n {print $2}'; }
# wait_metric NAME VALUE : up to 10 s for metric NAME to read VALUE
wait_metric() {
    for _ in $(seq 1 200); do [ "$(metric "$1")" = "$2" ] && return 0; sleep 0.05; done
    return 1
}

# ---- usage errors
t_expect "serve --help" 0 "$OCTET" serve --help
t_grep "help names the endpoints" '/v1/chat/completions' "$T_TMP/out"
t_expect "serve bad port" 2 "$OCTET" serve -m "$L" --port 70000
t_expect "serve URL backend" 2 "$OCTET" serve -m "$L" --backend http://127.0.0.1:1/v1
t_expect "ppl URL backend" 2 "$OCTET" ppl -m "$L" --backend http://127.0.0.1:1/v1 -f /dev/null
t_grep "ppl says it needs a local engine" 'needs a local engine' "$T_TMP/err"
t_expect "run URL backend with --ctx" 2 "$OCTET" run --backend http://127.0.0.1:1/v1 --ctx 64 -p x

# ---- server 1: the endpoints
start_server "$T_TMP/s1.log"
if [ -z "$PORT" ]; then
    t_fail "server starts" "$(cat "$T_TMP/s1.log")"
    t_end
    exit 1
fi
t_ok "server starts and prints its port"
t_grep "ready line names model and chat format" 'model llama_gqa_f16, context 256, .*chat llama3' "$T_TMP/s1.log"

# the remote backend first, while the KV cache is empty: the same greedy text as the local engine
t_expect "run --backend URL" 0 "$OCTET" run --backend "$URL/v1" -p "int main(void) {" -n 16 --temp 0 -v
cp "$T_TMP/out" "$T_TMP/remote.txt"
t_grep "run --backend -v figures" 'generated 16 tokens' "$T_TMP/err"
t_expect "run local" 0 "$OCTET" run -m "$L" -p "int main(void) {" -n 16 --temp 0
# JSON carries text, not bytes: the random model's invalid UTF-8 arrives as U+FFFD
if [ -s "$T_TMP/remote.txt" ] && python3 -c 'import sys; a, b = (open(f, "rb").read() for f in sys.argv[1:]); sys.exit(a.decode("utf-8", "replace").encode() != b)' "$T_TMP/out" "$T_TMP/remote.txt"; then
    t_ok "remote text = local text"
else t_fail "remote text = local text" "local: $(head -c 200 "$T_TMP/out" | od -c | head -3)" "remote: $(head -c 200 "$T_TMP/remote.txt" | od -c | head -3)"; fi
t_expect "run --backend --chat" 0 "$OCTET" run --backend "$URL/v1/" --chat --system "be brief" -p "hello" -n 8 --temp 0
if [ "$(wc -c <"$T_TMP/out")" -gt 1 ]; then t_ok "chat through the remote backend prints text"
else t_fail "chat through the remote backend prints text"; fi
t_expect "run --backend dead server" 1 "$OCTET" run --backend http://127.0.0.1:1/v1 -p x -n 2
t_grep "dead server message" '127.0.0.1:1' "$T_TMP/err"

code=$(curl -s -o "$T_TMP/h.json" -w '%{http_code}' "$URL/health")
[ "$code" = 200 ] && t_ok "health 200" || t_fail "health 200" "got $code"
jcheck "health body" "$T_TMP/h.json" 'd == {"status": "ok"}'
curl -s -o "$T_TMP/m.json" "$URL/v1/models"
jcheck "models lists the model" "$T_TMP/m.json" 'd["object"] == "list" and d["data"][0]["id"] == "llama_gqa_f16"'

code=$(post /v1/chat/completions '{"model":"x","messages":[{"role":"system","content":"s"},{"role":"user","content":[{"type":"text","text":"hi"}]}],"max_tokens":8,"temperature":0,"ignore_eos":true}' "$T_TMP/c.json")
[ "$code" = 200 ] && t_ok "chat 200" || t_fail "chat 200" "got $code"
jcheck "chat answer shape" "$T_TMP/c.json" 'd["object"] == "chat.completion" and d["choices"][0]["message"]["role"] == "assistant" and isinstance(d["choices"][0]["message"]["content"], str)'
jcheck "chat usage" "$T_TMP/c.json" 'd["usage"]["completion_tokens"] == 8 and d["choices"][0]["finish_reason"] == "length" and d["usage"]["total_tokens"] == d["usage"]["prompt_tokens"] + 8'
code=$(post /v1/chat/completions '{"messages":[{"role":"user","content":"hi"}],"max_tokens":12,"stream":true,"stream_options":{"include_usage":true}}' "$T_TMP/cs.txt")
[ "$code" = 200 ] && t_ok "chat stream 200" || t_fail "chat stream 200" "got $code"
# the usage chunk (choices empty) comes between the finish chunk and [DONE]
python3 - "$T_TMP/cs.txt" <<'EOF' && t_ok "stream usage chunk" || t_fail "stream usage chunk" "$(tail -c 300 "$T_TMP/cs.txt")"
import json, sys
ev = [e for e in open(sys.argv[1]).read().split("\n\n") if e]
u = json.loads(ev[-2][6:])
assert u["choices"] == [] and u["usage"]["completion_tokens"] >= 1
EOF
sed -i '/"choices":\[\],"usage"/,+1d' "$T_TMP/cs.txt"
sse_check "chat stream events" "$T_TMP/cs.txt" chat
code=$(post /v1/completions '{"prompt":["def f(x):"],"max_tokens":6,"temperature":0.7,"seed":3,"stop":["\n\n"]}' "$T_TMP/p.json")
[ "$code" = 200 ] && t_ok "completion 200" || t_fail "completion 200" "got $code"
jcheck "completion shape" "$T_TMP/p.json" 'd["object"] == "text_completion" and isinstance(d["choices"][0]["text"], str) and d["usage"]["completion_tokens"] <= 6'
post /v1/completions '{"prompt":"def f(x):","max_tokens":6,"temperature":0.7,"seed":3,"stop":"\n\n"}' "$T_TMP/p2.json" >/dev/null
python3 -c 'import json,sys; a,b=(json.load(open(f))["choices"][0]["text"] for f in sys.argv[1:]); sys.exit(a!=b)' \
    "$T_TMP/p.json" "$T_TMP/p2.json" && t_ok "same seed, same completion" || t_fail "same seed, same completion"
code=$(post /v1/completions '{"prompt":"x = ","max_tokens":10,"stream":true}' "$T_TMP/ps.txt")
[ "$code" = 200 ] && t_ok "completion stream 200" || t_fail "completion stream 200" "got $code"
sse_check "completion stream events" "$T_TMP/ps.txt" completion

# ---- errors
code=$(post /v1/chat/completions '{"messages":[{"role":"user","content":"hi"}' "$T_TMP/e.json")
[ "$code" = 400 ] && t_ok "malformed JSON 400" || t_fail "malformed JSON 400" "got $code"
jcheck "malformed JSON error object" "$T_TMP/e.json" '"not valid JSON" in d["error"]["message"] and d["error"]["type"] == "invalid_request_error" and d["error"]["code"] is None'
code=$(post /v1/completions '{"prompt":"x","max_tokens":"ten"}' "$T_TMP/e.json")
[ "$code" = 400 ] && t_ok "wrong field type 400" || t_fail "wrong field type 400" "got $code"
jcheck "error names the field" "$T_TMP/e.json" 'd["error"]["param"] == "max_tokens"'
post /v1/chat/completions '{"messages":[{"role":"robot","content":"hi"}]}' "$T_TMP/e.json" >/dev/null
jcheck "bad role named" "$T_TMP/e.json" 'd["error"]["param"] == "messages[0].role" and "robot" in d["error"]["message"]'
post /v1/chat/completions '{"messages":[]}' "$T_TMP/e.json" >/dev/null
jcheck "empty messages refused" "$T_TMP/e.json" 'd["error"]["param"] == "messages"'
post /v1/completions '{"prompt":"x","temperature":-1}' "$T_TMP/e.json" >/dev/null
jcheck "out-of-range temperature" "$T_TMP/e.json" 'd["error"]["param"] == "temperature"'
post /v1/completions '[1,2]' "$T_TMP/e.json" >/dev/null
jcheck "body must be an object" "$T_TMP/e.json" '"object" in d["error"]["message"]'
long=$(python3 -c 'print("word " * 400)')
code=$(post /v1/completions "{\"prompt\":\"$long\"}" "$T_TMP/e.json")
[ "$code" = 400 ] && t_ok "prompt over the context 400" || t_fail "prompt over the context 400" "got $code"
jcheck "context sizes named" "$T_TMP/e.json" '"context holds 256" in d["error"]["message"] and d["error"]["param"] == "prompt"'
python3 -c 'import json; print(json.dumps({"prompt": "x" * (2 << 20)}))' >"$T_TMP/big.json"
code=$(curl -s -o "$T_TMP/e.json" -w '%{http_code}' -H 'Content-Type: application/json' --data-binary @"$T_TMP/big.json" "$URL/v1/completions")
[ "$code" = 413 ] && t_ok "oversized body 413" || t_fail "oversized body 413" "got $code"
jcheck "413 error object" "$T_TMP/e.json" '"limit" in d["error"]["message"]'
code=$(curl -s -o "$T_TMP/e.json" -w '%{http_code}' "$URL/v1/nothing")
[ "$code" = 404 ] && t_ok "unknown path 404" || t_fail "unknown path 404" "got $code"
code=$(curl -s -o "$T_TMP/e.json" -D "$T_TMP/hdr" -w '%{http_code}' "$URL/v1/chat/completions")
[ "$code" = 405 ] && t_ok "GET on a POST endpoint 405" || t_fail "GET on a POST endpoint 405" "got $code"
t_grep "405 names the method allowed" '^Allow: POST' "$T_TMP/hdr"

# ---- metrics
curl -s "$URL/metrics" >"$T_TMP/metrics.txt"
for m in octet_memory_used_bytes octet_memory_free_bytes octet_memory_total_bytes octet_weights_bytes octet_kv_bytes \
    octet_kv_tokens_used octet_kv_tokens_size octet_tokens_per_second octet_requests_total octet_queue_length \
    octet_generated_tokens_total; do
    if grep -q "^# TYPE $m \(gauge\|counter\)$" "$T_TMP/metrics.txt" && grep -q "^# HELP $m " "$T_TMP/metrics.txt" &&
        grep -qE "^$m(\{[^}]*\})? [0-9.e+]+$" "$T_TMP/metrics.txt"; then t_ok "metric $m"
    else t_fail "metric $m" "$(grep "$m" "$T_TMP/metrics.txt" | head -3)"; fi
done
t_grep "requests counted by endpoint and code" '^octet_requests_total\{endpoint="completions",code="400"\} [1-9]' "$T_TMP/metrics.txt"
t_grep "KV size is the context" '^octet_kv_tokens_size 256$' "$T_TMP/metrics.txt"
if sed 's/{[^}]*}//' "$T_TMP/metrics.txt" | awk '!/^#/ && NF != 2 {bad=1} END {exit bad}'; then t_ok "every sample line is NAME VALUE"
else t_fail "every sample line is NAME VALUE"; fi

# ---- 20 clients at once
pids=()
for i in $(seq 1 20); do
    if [ $((i % 2)) -eq 0 ]; then body='{"messages":[{"role":"user","content":"client '$i'"}],"max_tokens":24,"stream":true}'
    else body='{"prompt":"client '$i'","max_tokens":24}'; fi
    ep=/v1/completions; [ $((i % 2)) -eq 0 ] && ep=/v1/chat/completions
    curl -s -o "$T_TMP/cc$i.out" -w '%{http_code}' -d "$body" "$URL$ep" >"$T_TMP/cc$i.code" &
    pids+=($!)
done
wait "${pids[@]}"
python3 - "$T_TMP" <<'EOF' && t_ok "20 clients: each a valid answer or 503" || t_fail "20 clients: each a valid answer or 503" "$(cat "$T_TMP/py.err")"
import json, sys
d = sys.argv[1]
ok = busy = 0
for i in range(1, 21):
    code = open(f"{d}/cc{i}.code").read().strip()
    body = open(f"{d}/cc{i}.out", "rb").read().decode("utf-8")
    if code == "503":
        assert "error" in json.loads(body), body
        busy += 1
        continue
    assert code == "200", (i, code, body[:200])
    if i % 2 == 0:
        assert body.endswith("data: [DONE]\n\n"), body[-100:]
        for e in body.split("\n\n")[:-2]:
            json.loads(e[6:])
    else:
        json.loads(body)["choices"][0]["text"]
    ok += 1
assert ok >= 16, (ok, busy)
EOF
code=$(curl -s -o /dev/null -w '%{http_code}' "$URL/health")
[ "$code" = 200 ] && t_ok "alive after 20 clients" || t_fail "alive after 20 clients" "got $code"
stop_server "SIGTERM: exit 0" "$T_TMP/s1.log"

# ---- server 2: slow tokens, a queue of 1
OCTET_SERVE_TOKEN_DELAY_MS=20 start_server "$T_TMP/s2.log" --queue 1
slow='{"prompt":"a","max_tokens":200,"ignore_eos":true,"temperature":0}'
curl -sN --max-time 1 -o "$T_TMP/a.txt" -d "${slow%\}},\"stream\":true}" "$URL/v1/completions" &
apid=$!
wait_metric octet_generating 1 && t_ok "first request generating" || t_fail "first request generating"
curl -s --max-time 1.5 -o "$T_TMP/b.txt" -d "$slow" "$URL/v1/completions" &
bpid=$!
wait_metric octet_queue_length 1 && t_ok "second request queued" || t_fail "second request queued"
code=$(curl -s -D "$T_TMP/hdr" -o "$T_TMP/e.json" -w '%{http_code}' -d "$slow" "$URL/v1/completions")
[ "$code" = 503 ] && t_ok "full queue 503" || t_fail "full queue 503" "got $code"
t_grep "503 has Retry-After" '^Retry-After: ' "$T_TMP/hdr"
jcheck "503 error object" "$T_TMP/e.json" '"busy" in d["error"]["message"]'
wait $apid; arc=$?
wait $bpid
[ "$arc" -eq 28 ] && t_ok "stream client gave up mid-stream" || t_fail "stream client gave up mid-stream" "curl exit $arc"
grep -q '"text"' "$T_TMP/a.txt" && t_ok "tokens streamed before the disconnect" || t_fail "tokens streamed before the disconnect"
if wait_metric octet_requests_in_flight 0 && wait_metric octet_generating 0; then t_ok "disconnects stop their generation"
else t_fail "disconnects stop their generation" "$(curl -s "$URL/metrics" | grep -E 'in_flight|generating|queue_length')"; fi
[ "$(metric octet_requests_canceled_total)" = 2 ] && t_ok "both disconnects counted" ||
    t_fail "both disconnects counted" "canceled $(metric octet_requests_canceled_total)"
gen=$(metric octet_generated_tokens_total)
[ "${gen:-999}" -lt 150 ] && t_ok "the abandoned answers stopped early ($gen tokens)" || t_fail "the abandoned answers stopped early" "$gen tokens"
code=$(post /v1/chat/completions '{"messages":[{"role":"user","content":"still there?"}],"max_tokens":3}' "$T_TMP/c.json")
[ "$code" = 200 ] && t_ok "answers after the disconnects" || t_fail "answers after the disconnects" "got $code"
# a request in flight when SIGTERM comes is canceled, and the exit is still clean
curl -sN --max-time 5 -o /dev/null -d "${slow%\}},\"stream\":true}" "$URL/v1/completions" &
cpid=$!
wait_metric octet_generating 1
stop_server "SIGTERM during an answer: exit 0" "$T_TMP/s2.log"
wait $cpid

# ---- the shipped model: the server's completions heal and speculate by default, and give
# `octet run`'s text (both run gen_run); with --no-heal --no-spec, `octet run --no-heal`'s
M=models/octet-code.gguf
same_as_run() { # NAME PROMPT N RUN_OPTIONS... : /v1/completions (plain and streamed) = octet run's output
    local name=$1 prompt=$2 n=$3; shift 3
    "$OCTET" run -m "$M" -p "$prompt" -n "$n" --temp 0 "$@" >"$T_TMP/run.txt" 2>"$T_TMP/run.err"
    local body
    body=$(python3 -c 'import json,sys; print(json.dumps({"prompt": sys.argv[1], "max_tokens": int(sys.argv[2]), "temperature": 0}))' "$prompt" "$n")
    code=$(post /v1/completions "$body" "$T_TMP/cmp.json")
    curl -sN -o "$T_TMP/cmp.sse" -d "${body%\}},\"stream\":true}" "$URL/v1/completions"
    if python3 - "$T_TMP/run.txt" "$T_TMP/cmp.json" "$T_TMP/cmp.sse" 2>"$T_TMP/py.err" <<'PY'
import json, sys
run = open(sys.argv[1], "rb").read().decode("utf-8")
text = json.load(open(sys.argv[2], "rb"))["choices"][0]["text"]
events = [e for e in open(sys.argv[3], "rb").read().decode("utf-8").split("\n\n") if e][:-1]
streamed = "".join(json.loads(e[6:])["choices"][0]["text"] for e in events if json.loads(e[6:])["choices"])
assert text, "empty answer"
assert run in (text, text + "\n"), (run, text)  # run ends its output with a newline
assert streamed == text, (streamed, text)
PY
    then t_ok "$name"; else t_fail "$name" "status $code" "$(tail -3 "$T_TMP/py.err")"; fi
}
serve_start "$T_TMP/s3.log" -m "$M"
URL=http://127.0.0.1:$PORT
if [ -n "$PORT" ]; then
    same_as_run "shipped model: a completion heals ('import o' -> 'os') as octet run does" "import o" 24
    grep -q '^s' "$T_TMP/run.txt" && t_ok "the healed completion spells 'os'" || t_fail "the healed completion spells 'os'" "$(head -c 80 "$T_TMP/run.txt")"
    rep=$(printf 'def add(a, b):\n    return a + b\n\n\ndef sub(a, b):\n    return a - b\n\n\ndef mul(a, b):\n')
    same_as_run "shipped model: a speculative completion = octet run --no-spec" "$rep" 96 --no-spec
    same_as_run "shipped model: the same prompt again (prefix reused) = octet run" "$rep" 96
    stop_server "shipped model: exit 0" "$T_TMP/s3.log"
else
    t_fail "shipped model: server started" "$(tail -c 600 "$T_TMP/s3.log")"
fi
serve_start "$T_TMP/s4.log" -m "$M" --no-heal --no-spec
URL=http://127.0.0.1:$PORT
if [ -n "$PORT" ]; then
    same_as_run "serve --no-heal --no-spec = octet run --no-heal --no-spec" "import o" 24 --no-heal --no-spec
    stop_server "serve --no-heal --no-spec: exit 0" "$T_TMP/s4.log"
else
    t_fail "serve --no-heal --no-spec: server started" "$(tail -c 600 "$T_TMP/s4.log")"
fi
t_end
