#!/usr/bin/env bash
# How the proxy reads requests off the wire: answers made at once reach
# clients that half-close (one waiting for upstream counts as gone, as with
# nginx), doubtful framing is refused before anything can be smuggled,
# HTTP/1.0 clients get bodies they can delimit, methods stay as sent.
. "${TESTS_SRCDIR:-$(dirname "$0")}/lib.sh"

need_python
start_fakeup
must_start_proxy --pending-interval 0

# send FILE [open]: the bytes of FILE on one connection, the sending side
# shut (as `nc -N` does) unless "open", then what comes back until the
# proxy closes (5 s max).
send() {
	timeout 10 "$IT_PYTHON" - "$LP_PORT" "$1" "${2:-shut}" <<'PY'
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
try:
    s.sendall(open(sys.argv[2], "rb").read())
    if sys.argv[3] == "shut":
        s.shutdown(socket.SHUT_WR)
except OSError:
    pass    # refused early: what was answered still counts
s.settimeout(5)
out = b""
try:
    while True:
        d = s.recv(65536)
        if not d:
            break
        out += d
except socket.timeout:
    out += b"<still open>"
except OSError:
    pass
sys.stdout.buffer.write(out)
PY
}

tcase "a client that shuts its sending side after the request gets the answer"
printf 'GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n' >"$IT_TMP/hc.req"
send "$IT_TMP/hc.req" >"$IT_TMP/hc.out"
check_re "status line" "$(head -1 "$IT_TMP/hc.out")" '^HTTP/1.1 200'
check "the body" grep -q '{"status":"ok"}' "$IT_TMP/hc.out"
fake_job jfr1 "owner=tokA" "$(job_completed jfr1)"
get jfr1
printf 'GET /v1/luma/jobs/jfr1 HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer tokA\r\n\r\n' >"$IT_TMP/hit.req"
send "$IT_TMP/hit.req" >"$IT_TMP/hit.out"
check_re "a cached job: status line" "$(head -1 "$IT_TMP/hit.out")" '^HTTP/1.1 200'
check "a cached job: X-Cache HIT" grep -q 'X-Cache: HIT' "$IT_TMP/hit.out"

tcase "doubtful framing: 400, connection closed, nothing smuggled upstream"
n=0
for head in 'Content-Length: 0\r\nContent-Length: 29' 'Content-Length : 29' \
    'Transfer-Encoding: xchunked' 'Transfer-Encoding: chunked\r\nContent-Length: 29' \
    'X-A: 1\r\n folded: 2' 'X-A: a\x00b'; do
	n=$((n + 1))
	before=$(fake_total)
	printf "POST /v1/echo HTTP/1.1\r\nHost: x\r\n$head\r\n\r\nGET /v1/SMUGGLED HTTP/1.1\r\n\r\n" \
	    >"$IT_TMP/sm$n.req"
	send "$IT_TMP/sm$n.req" >"$IT_TMP/sm$n.out"
	check_re "case $n: status" "$(head -1 "$IT_TMP/sm$n.out")" '^HTTP/1.1 400'
	check "case $n: JSON body" grep -q '{"error":"Bad header"}' "$IT_TMP/sm$n.out"
	check "case $n: Connection: close" grep -q 'Connection: close' "$IT_TMP/sm$n.out"
	check_eq "case $n: one answer only" "$(grep -c '^HTTP/1.1' "$IT_TMP/sm$n.out")" 1
	check_eq "case $n: upstream not called" "$(fake_total)" "$before"
done
check_not "no smuggled request ever reached upstream" \
    grep -q SMUGGLED <(fake_requests)

tcase "HTTP/1.0 keep-alive, upstream without a length: the body ends with the connection"
printf 'GET /v1/e?_size=30&_chunked=1 HTTP/1.0\r\nConnection: keep-alive\r\n\r\n' >"$IT_TMP/h10.req"
send "$IT_TMP/h10.req" open >"$IT_TMP/h10.out"
check "Connection: close" grep -q 'Connection: close' "$IT_TMP/h10.out"
check_not "no made-up Content-Length" grep -qi 'Content-Length' "$IT_TMP/h10.out"
check_eq "the 30 bytes after the head" "$(sed '1,/^\r$/d' "$IT_TMP/h10.out" | wc -c)" 30

tcase "a GET with a body stays a GET upstream"
http -X GET -H 'Authorization: Bearer tokA' --data-binary '{"x":1}' "$LP/v1/echo"
check_status 200
check_eq "method upstream saw" "$(json_get method)" GET
check_eq "body upstream saw" "$(json_get body_len)" 7

tcase "a bad chunk after a kept-alive answer: the connection ends at once"
printf 'POST /healthz HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n' >"$IT_TMP/ck.req"
printf 'zz\r\nGET /healthz HTTP/1.1\r\n\r\n' >>"$IT_TMP/ck.req"
t0=$(now_ms)
send "$IT_TMP/ck.req" open >"$IT_TMP/ck.out"
check "closed within 3 s, not at the idle timeout" test $(($(now_ms) - t0)) -lt 3000
check_eq "one answer only" "$(grep -c '^HTTP/1.1' "$IT_TMP/ck.out")" 1

tcase "control bytes in the request target: 400, upstream not called"
before=$(fake_total)
printf 'GET /v1/a\001b HTTP/1.1\r\nConnection: close\r\n\r\n' >"$IT_TMP/ct.req"
send "$IT_TMP/ct.req" open >"$IT_TMP/ct.out"
check_re "status" "$(head -1 "$IT_TMP/ct.out")" '^HTTP/1.1 400'
check_eq "upstream not called" "$(fake_total)" "$before"

tcase "a head over the size limit cannot make the proxy hold a large body"
{
	printf 'POST /v1/echo HTTP/1.1\r\n'
	for i in $(seq 210); do printf 'X-Pad-%03d: %s\r\n' "$i" "$(head -c 70 /dev/zero | tr '\0' a)"; done
	printf 'Content-Length: 60000000\r\n\r\n'
	head -c 8000000 /dev/zero
} >"$IT_TMP/big.req"
hwm0=$(vm_hwm_kb "$LP_PID")
send "$IT_TMP/big.req" open >"$IT_TMP/big.out"
check_re "refused" "$(head -1 "$IT_TMP/big.out")" '^HTTP/1.1 431 '
if wrapped; then
	skip "the proxy's peak memory" "$WRAPPED"
else
	check "the proxy's peak memory grew by under 4 MiB" \
	    test $(($(vm_hwm_kb "$LP_PID") - hwm0)) -lt 4096
fi

tcase "a client that hangs up while its pass-through waits: 499, the proxy goes on"
curl -s -o /dev/null --max-time 0.5 "$LP/v1/slowly?_delay=3000"
check_eq "curl gave up" "$?" 28
wait_line "$LP_ERR" ' GET /v1/slowly 499 ' "$LP_PID" >/dev/null
check "logged as 499" grep -q ' GET /v1/slowly 499 ' "$LP_ERR"
curl -s -o /dev/null --max-time 0.5 "$LP/v1/big?_size=104857600&_delay=0" --limit-rate 100k
wait_line "$LP_ERR" ' GET /v1/big ' "$LP_PID" >/dev/null
check "a download left half way is logged" grep -q ' GET /v1/big 200 ' "$LP_ERR"
http "$LP/healthz"
check_status 200

tcase "TRACE is not passed through: 405 with Allow"
before=$(fake_total)
http -X TRACE "$LP/v1/echo"
check_status 405
check_header Allow "GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS"
check_eq "upstream not called" "$(fake_total)" "$before"

tcase "CONNECT: 405 and the connection closed"
printf 'CONNECT evil.example:443 HTTP/1.1\r\n\r\nGET /healthz HTTP/1.1\r\n\r\n' >"$IT_TMP/co.req"
send "$IT_TMP/co.req" >"$IT_TMP/co.out"
check_re "status" "$(head -1 "$IT_TMP/co.out")" '^HTTP/1.1 405'
check_eq "one answer only" "$(grep -c '^HTTP/1.1' "$IT_TMP/co.out")" 1

finish
