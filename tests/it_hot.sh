#!/usr/bin/env bash
# SPEC 2.3, 2.5, 8: cache hits answered from memory (--memory-cache) are
# the same answers as from the database, only to the tokens they were
# granted to, in order on a connection, logged and counted; snapshots and
# negative entries only within their time; a purge or import by another
# process is seen by the very next request; SIGTERM lets queued answers
# out; and the memory stays within its bound.
. "${TESTS_SRCDIR:-$(dirname "$0")}/lib.sh"
need_python

start_fakeup
LP_OPTS="--no-watch --access-log $IT_TMP/access.log"
must_start_proxy

DONE=$(job_completed jhot1)
fake_job jhot1 "owner=tokA" "$DONE"
# memory_answers: how many job answers came from memory so far.
memory_answers() {
	scrape "$IT_TMP/m.$RANDOM"
	metric lumaproxy_memory_answers_total
}

tcase "the first answers come from upstream, then the database"
get jhot1
check_status 200
check_cache MISS
get jhot1
check_status 200
check_cache HIT
FIRST_ETAG=$(header ETag)
check_eq "answers from memory so far" "$(memory_answers)" 0

tcase "then from memory: the same status, headers and bytes"
get jhot1
check_status 200
check_cache HIT
check_header Cache-Status "lumaproxy; hit"
check_json_type
check_header ETag "$FIRST_ETAG"
check_header_re Age '^[0-9]+$'
check_header_re Date '^(Mon|Tue|Wed|Thu|Fri|Sat|Sun), [0-9]{2} [A-Z][a-z]{2} [0-9]{4} [0-9]{2}:[0-9]{2}:[0-9]{2} GMT$'
check_header Content-Length "${#DONE}"
check_body "$DONE"
check_upstream jhot1 tokA 1
check_eq "answers from memory so far" "$(memory_answers)" 1
scrape
check_eq "entries kept" "$(metric lumaproxy_memory_cache_entries)" 1
check "the bytes kept are counted" test "$(metric lumaproxy_memory_cache_bytes)" -gt "${#DONE}"

tcase "HEAD from memory: the headers of GET, no body"
http -I -H "Authorization: Bearer tokA" "$LP/v1/luma/jobs/jhot1"
check_status 200
check_cache HIT
check_header ETag "$FIRST_ETAG"
check_header Content-Length "${#DONE}"
check_not "no body follows" grep -q '"jobid"' "$BODYF"

tcase "another token never gets the kept answer: it goes upstream"
before=$(memory_answers)
get jhot1 tokB
check_status 403
check_upstream jhot1 tokB 1
get jhot1 -
check_status 401
check_eq "answers from memory" "$(memory_answers)" "$before"

tcase "requests the memory does not answer still get the route's answers"
get jhot1 tokA -H "If-None-Match: $FIRST_ETAG"
check_status 304
check_cache HIT
get jhot1 tokA -H "Cache-Control: only-if-cached"
check_status 200
check_cache HIT
check_body "$DONE"
http --http1.0 -H "Authorization: Bearer tokA" "$LP/v1/luma/jobs/jhot1"
check_status 200
check_body "$DONE"
get "jhot1?x=1"
check_status 200
check_body "$DONE"
get "jhot1/"
check_status 400
check_body '{"error":"Invalid jobid"}'
http -X POST -H "Authorization: Bearer tokA" "$LP/v1/luma/jobs/jhot1"
check_status 405
check_upstream jhot1 tokA 1

tcase "pipelined: answers from memory and from the route keep their order"
"$IT_PYTHON" - "$LP_PORT" "$FIRST_ETAG" >"$IT_TMP/pipe.out" <<'EOF'
import socket, sys
port, etag = int(sys.argv[1]), sys.argv[2]
auth = b"Authorization: Bearer tokA\r\n"
reqs = [
    b"GET /v1/luma/jobs/jhot1 HTTP/1.1\r\nHost: x\r\n" + auth + b"\r\n",
    b"GET /v1/luma/jobs/jhot1 HTTP/1.1\r\nHost: x\r\n" + auth +
    b"If-None-Match: " + etag.encode() + b"\r\n\r\n",
    b"HEAD /v1/luma/jobs/jhot1 HTTP/1.1\r\nHost: x\r\n" + auth + b"\r\n",
    b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n",
    b"GET /v1/luma/jobs/jhot1 HTTP/1.1\r\nHost: x\r\n" + auth +
    b"Connection: close\r\n\r\n",
]
s = socket.create_connection(("127.0.0.1", port), timeout=5)
s.sendall(b"".join(reqs))
data = b""
while True:
    b = s.recv(65536)
    if not b:
        break
    data += b
# Status lines in order, and the bodies' lengths as framed.
out, i = [], 0
while i < len(data):
    end = data.index(b"\r\n\r\n", i)
    head = data[i:end].decode()
    status = head.split("\r\n")[0]
    length = 0
    for line in head.split("\r\n")[1:]:
        k, v = line.split(":", 1)
        if k.lower() == "content-length":
            length = int(v)
    if len(out) in (1, 2):	# the 304 and the HEAD carry no body
        length = 0
    out.append("%s %d" % (status, length))
    i = end + 4 + length
print("\n".join(out))
EOF
check_eq "status lines in order" "$(sed 's/ [0-9]*$//' "$IT_TMP/pipe.out" | tr '\n' '|')" \
    "HTTP/1.1 200 OK|HTTP/1.1 304 Not Modified|HTTP/1.1 200 OK|HTTP/1.1 200 OK|HTTP/1.1 200 OK|"
check_eq "the last answer's body" "$(tail -n 1 "$IT_TMP/pipe.out" | awk '{ print $NF }')" "${#DONE}"

tcase "answers from memory are in the access log with the token's fingerprint"
# The file is written out within a second.
for _ in $(seq 1 40); do
	n=$(grep -c "GET /v1/luma/jobs/jhot1 200 HIT - [0-9]*ms $(fingerprint tokA)\$" \
	    "$IT_TMP/access.log" || true)
	[ "$n" -ge 7 ] && break
	sleep 0.05
done
check "7 GET lines 200 HIT for jhot1 (got $n)" test "$n" -ge 7
check "HEAD lines too" grep -q "HEAD /v1/luma/jobs/jhot1 200 HIT" "$IT_TMP/access.log"

tcase "a client that sends 2,000 requests, then ends its side, gets every answer"
# It reads only after a second (that sleep is the slow client): the proxy
# meanwhile holds answers back, stops reading, and must not take the end
# of the input for the end.
# Large answers: the requests and the end of the input all come in while
# the answers of the first few wait.
stop_proxy
must_start_proxy --access-log off
fake_job jhotbig "owner=tokA&size=65536" '{"jobid":"jhotbig","status":"completed"}'
get jhotbig	# MISS
get jhotbig	# the route's HIT, kept
"$IT_PYTHON" - "$LP_PORT" >"$IT_TMP/many.out" <<'EOF'
import socket, sys, threading, time
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=20)
req = b"GET /v1/luma/jobs/jhotbig HTTP/1.1\r\nAuthorization: Bearer tokA\r\n\r\n"
def send():
    s.sendall(req * 2000)
    s.shutdown(socket.SHUT_WR)
t = threading.Thread(target=send)
t.start()
time.sleep(1)
data = bytearray()
while True:
    b = s.recv(1 << 16)
    if not b:
        break
    data += b
t.join()
print(data.count(b"HTTP/1.1 200 OK"))
EOF
check_eq "answers" "$(cat "$IT_TMP/many.out")" 2000

tcase "a connection answered from memory is not idle; an idle one is closed"
stop_proxy
must_start_proxy --idle-timeout 1
get jhot1	# the route's HIT, kept
"$IT_PYTHON" - "$LP_PORT" >"$IT_TMP/idle.out" <<'EOF'
import socket, sys, time
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=5)
req = b"GET /v1/luma/jobs/jhot1 HTTP/1.1\r\nAuthorization: Bearer tokA\r\n\r\n"
s.sendall(b"GET /healthz HTTP/1.1\r\n\r\n")	# one the route answers
s.recv(65536)
n = 0
for i in range(8):			# 2.8 s of requests 0.4 s apart (the test)
    s.sendall(req)
    if not s.recv(65536).startswith(b"HTTP/1.1 200 OK"):
        break
    n += 1
    time.sleep(0.4)
t = time.time()
print(n, "closed" if s.recv(10) == b"" else "data", round(time.time() - t, 1))
EOF
read -r n how after <"$IT_TMP/idle.out"
check_eq "answers on one connection, 0.4 s apart, with --idle-timeout 1" "$n" 8
check_eq "then, left idle" "$how" closed
check "closed within 2 s of the last answer ($after s)" \
    awk -v a="$after" 'BEGIN { exit !(a <= 2) }'

tcase "the memory stays within --memory-cache; the rest comes from the database"
stop_proxy
fake_reset
must_start_proxy --memory-cache 16384
for i in $(seq 1 12); do
	fake_job "jhotb$i" "owner=tokA" "$(job_completed "jhotb$i")"
	get "jhotb$i"	# MISS
	get "jhotb$i"	# HIT, kept
done
scrape
# Of 16 KiB, 8 KiB go to the table's buckets.
check "bytes kept ($(metric lumaproxy_memory_cache_bytes)) at most 8192" \
    test "$(metric lumaproxy_memory_cache_bytes)" -le 8192
n=$(metric lumaproxy_memory_cache_entries)
check "some entries kept, not all 12 ($n)" test "$n" -ge 1 -a "$n" -lt 12
for i in $(seq 1 12); do
	get "jhotb$i"
	check_cache HIT
	check_body "$(job_completed "jhotb$i")"
done
check_total 12

tcase "an unfinished job's snapshot: from memory within pending-interval only"
stop_proxy
must_start_proxy --pending-interval 2 --negative-ttl 2
PEND='{"jobid":"jhotp","status":"pending"}'
fake_job jhotp "owner=tokA" "$PEND"
get jhotp
t0=$(now_ms)
check_cache MISS
get jhotp	# the route's HIT, kept
check_cache HIT
before=$(memory_answers)
get jhotp
check_status 200
check_cache HIT
check_body "$PEND"
check_header_re Retry-After '^[12]$'
check_no_header ETag
check_eq "answered from memory" "$(memory_answers)" $((before + 1))
check_upstream jhotp tokA 1
sleep_until "$t0" 2100	# past the interval (the test): measured from the fetch
get jhotp
check_cache MISS
check_upstream jhotp tokA 2

tcase "a negative entry: from memory within negative-ttl only"
get jhotn	# fakeup: 404 for a job it does not know
t0=$(now_ms)
check_status 404
check_cache MISS
get jhotn
check_status 404
check_cache HIT
before=$(memory_answers)
get jhotn
check_status 404
check_cache HIT
check_body '{"error":"Job not found"}'
check_no_header Retry-After
check_eq "answered from memory" "$(memory_answers)" $((before + 1))
check_upstream jhotn tokA 1
sleep_until "$t0" 2100	# past negative-ttl (the test): measured from the fetch
get jhotn
check_status 404
check_cache MISS
check_upstream jhotn tokA 2

tcase "--memory-cache 0: nothing is kept, hits come from the database"
stop_proxy
must_start_proxy --memory-cache 0
get jhotb1
get jhotb1
check_cache HIT
check_body "$(job_completed jhotb1)"
scrape
check_eq "answers from memory" "$(metric lumaproxy_memory_answers_total)" 0
check_eq "entries kept" "$(metric lumaproxy_memory_cache_entries)" 0

# status_after PORT REQUEST [CMD...]: opens a connection to PORT, runs CMD
# (its stdin the file AFTER_IN, if set), then sends REQUEST (with \r, \n
# and \t escapes) on it at once; prints the answer's status and X-Cache.
status_after() {
	"$IT_PYTHON" - "$@" <<'EOF'
import os, socket, subprocess, sys
port, req, cmd = int(sys.argv[1]), sys.argv[2], sys.argv[3:]
s = socket.create_connection(("127.0.0.1", port), timeout=5)
if cmd:
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL,
        stdin=open(os.environ["AFTER_IN"], "rb") if os.environ.get("AFTER_IN")
        else subprocess.DEVNULL)
s.sendall(req.encode().decode("unicode_escape").encode("latin1"))
data = b""
while b"\r\n\r\n" not in data:
    b = s.recv(65536)
    if not b:
        break
    data += b
head = data.split(b"\r\n\r\n")[0].decode("latin1").split("\r\n")
xc = [l.split(":", 1)[1].strip() for l in head[1:] if l.lower().startswith("x-cache:")]
print(head[0].split(" ")[1], xc[0] if xc else "-")
EOF
}

# rawget PORT REQUEST: the status and X-Cache of one raw request.
rawget() {
	status_after "$1" "$2"
}

# after PORT TOKEN JOBID CMD...: runs CMD, then at once asks for the job on
# a connection opened before; prints the status and X-Cache.
after() {
	local port=$1 tok=$2 job=$3
	shift 3
	status_after "$port" "GET /v1/luma/jobs/$job HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer $tok\r\n\r\n" "$@"
}

DONE=$(job_completed jhh1)

tcase "a purge by another process: the very next request goes upstream"
stop_proxy
fake_reset
fake_job jhh1 "owner=tokA" "$DONE"
must_start_proxy
for round in 1 2 3 4 5; do
	get jhh1; get jhh1; get jhh1	# MISS, HIT (route, kept), HIT (memory)
	check_eq "round $round: right after purge exited" \
	    "$(after "$LP_PORT" tokA jhh1 "$LUMAPROXY" purge --db "$IT_TMP/lp.db" jhh1)" "200 MISS"
done

tcase "after answers from memory and purges, the server keeps its lock on the WAL index"
# SQLite's POSIX lock on the -shm file tells other processes that a
# connection is open: without it the next one to open the database takes
# itself for the only one and rebuilds the WAL index under the server.  A
# close() of any descriptor of the file in the server would drop it.
if [ -r /proc/locks ]; then
	shm_ino=$(stat -c %i "$IT_TMP/lp.db-shm")
	check "lumaproxy holds a lock on lp.db-shm (/proc/locks)" grep -Eq \
	    "^[0-9]+: POSIX +ADVISORY +[A-Z]+ +$LP_PID +[0-9a-f]+:[0-9a-f]+:$shm_ino " \
	    /proc/locks
else
	skip "lumaproxy's lock on lp.db-shm" "no /proc/locks"
fi
stop_proxy

tcase "import --grant by another process: the very next request sees the grant"
fake_reset
fake_job jhh2 "owner=tokA" "$(job_completed jhh2)"
must_start_proxy
get jhh2; get jhh2
get jhh2 tokB; get jhh2 tokB; get jhh2 tokB	# 403 MISS, HIT (route, kept), HIT (memory)
check_status 403
"$LUMAPROXY" export --db "$IT_TMP/lp.db" >"$IT_TMP/exp.jsonl"
check_eq "tokB right after import exited" "$(AFTER_IN=$IT_TMP/exp.jsonl \
    after "$LP_PORT" tokB jhh2 "$LUMAPROXY" import --db "$IT_TMP/lp.db" \
    --grant tokB)" "200 HIT"
stop_proxy

tcase "Authorization with a tab after the colon: 200 from memory and from the database alike"
fake_reset
fake_job jhh3 "owner=tokA" "$(job_completed jhh3)"
REQ='GET /v1/luma/jobs/jhh3 HTTP/1.1\r\nHost: x\r\nAuthorization:\tBearer tokA\r\n\r\n'
for mem in 67108864 0; do
	LP_DB=$IT_TMP/tab$mem.db must_start_proxy --memory-cache "$mem"
	get jhh3; get jhh3; get jhh3
	check_eq "--memory-cache $mem: with a space" "$(rawget "$LP_PORT" 'GET /v1/luma/jobs/jhh3 HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer tokA\r\n\r\n')" "200 HIT"
	check_eq "--memory-cache $mem: with a tab" "$(rawget "$LP_PORT" "$REQ")" "200 HIT"
	stop_proxy
done

tcase "SIGTERM: answers from memory being written are not cut"
fake_reset
"$IT_PYTHON" -c 'import json; print(json.dumps({"jobid": "jhh4", "status": "completed", "pad": "x" * 500000}), end="")' >"$IT_TMP/big.json"
fake_job_file jhh4 "owner=tokA" "$IT_TMP/big.json"
must_start_proxy
get jhh4; get jhh4; get jhh4
"$IT_PYTHON" - "$LP_PORT" "$LP_PID" >"$IT_TMP/term.out" <<'EOF'
import os, select, signal, socket, sys, threading, time
port, pid = int(sys.argv[1]), int(sys.argv[2])
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
s.connect(("127.0.0.1", port))
s.settimeout(10)
req = b"GET /v1/luma/jobs/jhh4 HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer tokA\r\n\r\n"
t = threading.Thread(target=lambda: s.sendall(req * 20))
t.start()
# The requests are sent and the first 500 kB answer is coming (more than
# the socket's buffers take): answers are being written.
t.join(10)
select.select([s], [], [], 10)
os.kill(pid, signal.SIGTERM)
# A slow reader: it reads only after a second, well within the 5 s a drain
# may take.
time.sleep(1)
data = b""
try:
    while True:
        b = s.recv(1 << 20)
        if not b:
            break
        data += b
except Exception:
    pass
# Whole answers only: every head's Content-Length bytes follow it.
i = whole = 0
cut = False
while i < len(data):
    end = data.find(b"\r\n\r\n", i)
    if end < 0:
        cut = True
        break
    n = 0
    for line in data[i:end].split(b"\r\n")[1:]:
        k, v = line.split(b":", 1)
        if k.strip().lower() == b"content-length":
            n = int(v)
    if end + 4 + n > len(data):
        cut = True
        break
    whole += 1
    i = end + 4 + n
print(whole, "cut" if cut else "whole")
EOF
read -r n how <"$IT_TMP/term.out"
check "some answers came ($n)" test "${n:-0}" -ge 1
check_eq "the last answer" "$how" whole
stop_proxy
check_eq "exit status" "$LP_RC" 0

tcase "SIGTERM while answers from memory wait for a client that never reads: a clean stop"
must_start_proxy
get jhh4; get jhh4; get jhh4
"$IT_PYTHON" - "$LP_PORT" >"$IT_TMP/stuck.out" <<'EOF' &
import socket, sys, time
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
s.connect(("127.0.0.1", int(sys.argv[1])))
s.sendall(b"GET /v1/luma/jobs/jhh4 HTTP/1.1\r\nAuthorization: Bearer tokA\r\n\r\n" * 30)
print("sent", flush=True)
time.sleep(15)			# never reads (the test); the proxy gives up on it first
EOF
STUCK_PID=$!
check "the client sent its requests" wait_for 5000 grep -q sent "$IT_TMP/stuck.out"
stop_proxy TERM 10
check_eq "exit status after the drain" "$LP_RC" 0
check_not "no crash report" grep -qiE "AddressSanitizer|runtime error|Assertion" "$LP_ERR"
kill "$STUCK_PID" 2>/dev/null
wait "$STUCK_PID" 2>/dev/null

finish
