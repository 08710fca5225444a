#!/usr/bin/env bash
# SPEC 11: push instead of polling.  Long poll (Prefer: wait=N or ?wait=N):
# which values wait and how long (0 and malformed ones do not, the first of
# two counts, above --max-wait is clamped, two Prefer fields are one list),
# Preference-Applied; a waiter is released when the status changes and not
# before, or at N s with what a poll would get then; finished jobs,
# negative entries and errors come at once, and so does a 404 that comes
# during a wait, while a 500 is waited out and a 429's Retry-After kept;
# one upstream fetch per interval for 50, 1000 and 1000 x 1000 waiters; a
# client that hangs up is logged 499 and dropped at once (and fetching
# stops), one that never reads or closes is not kept past its wait;
# waiters count toward --max-connections; SIGTERM answers 500 waiters and
# ends 20 streams at once and exits 0; the wait=60 of the default
# --max-wait is not cut short.  Event stream (Accept: text/event-stream, not
# with q=0): retry:, one event per status with the record's exact bytes,
# the end after the finished record, two readers sharing the fetches, a
# poll that joins a stream's fetch and hangs up does not stop the stream, a
# keep-alive comment every 15 s; readers that never read: the proxy's
# memory stays bounded, they are dropped with a log line, readers that read
# (small records and 300 kB ones) keep their streams.  Background watch: a
# submitted job is fetched until finished without polls (then a HIT, no
# more fetches), not with --no-watch; a client's token is never written and
# its watch does not survive a restart; the gateway's watches do;
# --watch-max-age ends a watch.  The gauges lumaproxy_waiting_requests and
# lumaproxy_watched_jobs.
#
# Written from the SPEC before the server side existed: each case fails
# against a proxy without the feature.  About 75 s: the keep-alive reader
# (31 s), the wait=60, the 60 s watch-max-age and the slow stream run
# behind the others.
: "${IT_LIMIT:=120}"
. "${TESTS_SRCDIR:-$(dirname "$0")}/lib.sh"
# Under AddressSanitizer freed memory would wait in its quarantine and stay
# resident: the RSS checks of streams that are never read would measure it.
export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}quarantine_size_mb=0"

need_python
need_cmd sha256sum
PUSH_PY=${TESTS_SRCDIR:-$IT_DIR}/push.py
# push WHAT ARGS...: tests/push.py (called by its own name where it runs in
# the background, so that $! is its process, not a subshell's).
push() {
	"$IT_PYTHON" "$PUSH_PY" "$@"
}

AT_ONCE=700	# ms: "answered at once" (a held request takes 1 s or more)

# ---------------------------------------------------------------- helpers

# keep NAME: remembers the proxy just started as NAME; use NAME makes it the
# current one again (LP, LP_PID, LP_PORT, LP_ERR).
declare -A PX
keep() {
	PX[$1]="$LP_PID $LP_PORT $LP_ERR"
}
use() {
	read -r LP_PID LP_PORT LP_ERR <<<"${PX[$1]}"
	LP=http://127.0.0.1:$LP_PORT
}

# gauge NAME: the sum of the samples NAME on the current proxy's /metrics
# now (0 when there is none); leaves the last answer (STATUS, BODY) alone.
gauge() {
	curl -sS --max-time 5 -o "$IT_TMP/gauge.prom" "$LP/metrics" 2>/dev/null
	promcheck value "$IT_TMP/gauge.prom" "$1"
}

# wait_gauge NAME WANT MS: waits MS ms at most for the gauge NAME to read
# WANT; GAUGE holds the last value read.
wait_gauge() {
	local end=$(($(now_ms) + $3))
	while :; do
		GAUGE=$(gauge "$1")
		[ "$GAUGE" = "$2" ] && return 0
		[ "$(now_ms)" -ge "$end" ] && return 1
		sleep 0.1
	done
}

# check_gauge WHAT NAME WANT MS: wait_gauge, as a check.
check_gauge() {
	wait_gauge "$2" "$3" "$4"
	check_eq "$1: $2 (within $4 ms)" "$GAUGE" "$3"
}

# check_between WHAT N LO HI: LO <= N < HI.
check_between() {
	if [[ $2 =~ ^[0-9]+$ ]] && (($2 >= $3 && $2 < $4)); then
		pass "$1 = $2, in [$3, $4)"
	else
		fail "$1" "$3 to $(($4 - 1))" "$2"
	fi
}

# timed TAG TOKEN PATH [CURL ARGS...]: GET $LP/v1/luma/jobs/PATH in the
# background (TOKEN "-": no Authorization); wait_timed waits for all of
# them; t_status, t_ms, t_hdr, t_body tell what each got.
TPIDS=()
timed() {
	local tag=$1 tok=$2 path=$3 a=()
	shift 3
	[ "$tok" = "-" ] || a=(-H "Authorization: Bearer $tok")
	curl -sS --max-time 15 -o "$IT_TMP/t.$tag.body" -D "$IT_TMP/t.$tag.hdrs" \
	    -w '%{http_code} %{time_total}' "${a[@]}" "$@" "$LP/v1/luma/jobs/$path" \
	    >"$IT_TMP/t.$tag.out" 2>/dev/null &
	TPIDS+=($!)
}
wait_timed() {
	[ ${#TPIDS[@]} -gt 0 ] && wait "${TPIDS[@]}"
	TPIDS=()
}
t_status() {
	cut -d' ' -f1 "$IT_TMP/t.$1.out"
}
t_ms() {
	awk '{ printf "%d", $2 * 1000 }' "$IT_TMP/t.$1.out"
}
# t_hdr TAG NAME: the value of the answer's header NAME; "-" when absent.
t_hdr() {
	tr -d '\r' <"$IT_TMP/t.$1.hdrs" | awk -v n="${2,,}" '
	    /^HTTP\// { v = "-" }
	    { i = index($0, ":"); if (i && tolower(substr($0, 1, i - 1)) == n) {
	        v = substr($0, i + 1); sub(/^[ \t]+/, "", v); sub(/[ \t]+$/, "", v) } }
	    END { print (v == "" ? "-" : v) }'
}
t_body() {
	cat "$IT_TMP/t.$1.body"
}

# check_now TAG STATUS [BODYFILE]: answered STATUS (with BODYFILE's bytes)
# within AT_ONCE ms.
check_now() {
	check_eq "$1: status" "$(t_status "$1")" "$2"
	check_lt "$1: ms to the answer" "$(t_ms "$1")" "$AT_ONCE"
	[ $# -ge 3 ] && check "$1: body is $(basename "$3")" cmp -s "$3" "$IT_TMP/t.$1.body"
	return 0
}

# check_held TAG LO HI [BODYFILE]: 200 after LO to HI ms (with BODYFILE's bytes).
check_held() {
	check_eq "$1: status" "$(t_status "$1")" 200
	check_between "$1: ms to the answer" "$(t_ms "$1")" "$2" "$3"
	[ $# -ge 4 ] && check "$1: body is $(basename "$4")" cmp -s "$4" "$IT_TMP/t.$1.body"
	return 0
}

# rec JOBID STATUS [MINUTE]: a compact job record (no final newline; with
# MINUTE its "updated" is set) in a file JOBID.STATUS[.MINUTE].json; prints
# the file's name.
rec() {
	local f=$IT_TMP/$1.$2${3:+.$3}.json upd=null
	[ -n "${3-}" ] && printf -v upd '"2026-03-26T14:%02d:00.000Z"' "$3"
	printf '{"jobid":"%s","type":"video","status":"%s","created":"2026-03-26T14:05:30.123Z","updated":%s,"response":null,"credits":null}' \
	    "$1" "$2" "$upd" >"$f"
	printf '%s' "$f"
}

# mlrec JOBID STATUS MINUTE: the like laid out on lines, one of them empty,
# with a final newline, in JOBID.STATUS.MINUTE.ml.json.
mlrec() {
	local f=$IT_TMP/$1.$2.$3.ml.json
	printf '{\n  "jobid": "%s",\n  "type": "video",\n  "status": "%s",\n\n  "updated": "2026-03-26T14:%02d:00.000Z"\n}\n' \
	    "$1" "$2" "$3" >"$f"
	printf '%s' "$f"
}

# script JOBID QUERY FILE...: the job answers the FILEs' bytes in turn, the
# last one from then on (fakeup's steps).
script() {
	local id=$1 q=$2 f code m=PUT
	shift 2
	for f in "$@"; do
		code=$(_fake_send "$m" "$id" "$q" <"$f")
		[ "$code" = 200 ] || die "fakeup refused $m $id?$q: $code $(cat "$IT_TMP/fake.out")"
		m=POST
	done
}

# many_count FILE CONDITION: lines of push.py many's FILE for which the awk
# CONDITION holds ($2 status, $3 ms, $5 Preference-Applied, $7 the record's
# status, $8 the body's sha256).
many_count() {
	awk -F'\t' "$2 { n++ } END { print n + 0 }" "$1"
}

# sse_summary FILE: what push.py sse saw, one fact a line: "status S",
# "type T", "end E", "first LINE", "events N", then "event I NAME STATUS MS
# SHA256" lines, then "comment MS TEXT" lines.
sse_summary() {
	"$IT_PYTHON" - "$1" <<'EOF'
import json, sys
r = json.load(open(sys.argv[1]))
print("status", r["status"])
print("type", (r["headers"].get("content-type") or ["-"])[0])
print("end", r["end"])
print("first", r["lines"][0][1] if r["lines"] else "-")
print("events", len(r["events"]))
for i, e in enumerate(r["events"]):
    print("event", i, e["event"], e["status"], e["ms"], e["sha256"])
for ms, t in r["comments"]:
    print("comment", ms, t)
EOF
}

# sse_fact FILE KEY: the value of KEY in sse_summary FILE.
sse_fact() {
	sse_summary "$1" | awk -v k="$2" '$1 == k { $1 = ""; sub(/^ /, ""); print; exit }'
}

# sse_statuses FILE: the events' (name:record status) in order, one line.
sse_statuses() {
	sse_summary "$1" | awk '$1 == "event" { printf "%s%s:%s", s, $3, $4; s = " " }'
}

# sse_data_is FILE I RECORD: event I's data is exactly RECORD's bytes.
sse_data_is() {
	[ "$(sse_summary "$1" | awk -v i="$2" '$1 == "event" && $2 == i { print $6 }')" = \
	    "$(sha256_of "$3")" ]
}

# access_499 PATH: access lines of the current proxy for GET PATH with 499.
access_499() {
	grep -cE "^[0-9T:.Z-]+ [0-9.]+:[0-9]+ GET $1 499 " "$LP_ERR"
}

# access_499_at_least PATH N: N such lines or more.
access_499_at_least() {
	[ "$(access_499 "$1")" -ge "$2" ]
}

# submit TOKEN: POST /v1/luma/videos through the current proxy; JOB is the
# new jobid.
submit() {
	http -X POST -H "Authorization: Bearer $1" -H "Content-Type: application/json" \
	    --data-binary '{"prompt":"push"}' "$LP/v1/luma/videos"
	JOB=$(json_get jobid)
	[ "$STATUS" = 200 ] && [ -n "$JOB" ] || die "submission: $STATUS $BODY"
}

# 2000 waiters at once need 2000 descriptors in the client, and as many
# in fakeup for the proxy's fetches: raised before anything starts.
if [ "$(ulimit -Sn)" != unlimited ] && [ "$(ulimit -Sn)" -lt 4500 ]; then
	ulimit -Sn "$(ulimit -Hn)" 2>/dev/null
	[ "$(ulimit -Sn)" != unlimited ] && [ "$(ulimit -Sn)" -gt 8192 ] && ulimit -Sn 8192
fi
start_fakeup

# ---------------------------------------------------------------- P0
# Behind everything else: a wait=100 under the default --max-wait, a
# keep-alive reader, and a watched job that never finishes.
LP_DB=$IT_TMP/p0.db
must_start_proxy --pending-interval 1 --watch-max-age 60
keep P0
script jlong "owner=tokA" "$(rec jlong pending)"
script jka "owner=tokA" "$(rec jka pending)"
T_LONG=$(now_ms)
timed long tokA jlong -H "Prefer: wait=100" --max-time 80
LONG_PID=${TPIDS[0]}
TPIDS=()
IT_PIDS+=("$LONG_PID")
"$IT_PYTHON" "$PUSH_PY" sse "$LP_PORT" /v1/luma/jobs/jka "$IT_TMP/ka.json" -H "Authorization: Bearer tokA" \
    -H "Accept: text/event-stream" --duration 31.5 &
KA_PID=$!
IT_PIDS+=("$KA_PID")
submit tokM
JM=$JOB
T_M=$(now_ms)
script "$JM" "owner=tokM" "$(rec "$JM" pending)"
# Also on P0 (no check reads its waiting gauge), its results read later: an
# event stream whose fetches take 1.5 s upstream, longer than the interval,
# and three polls at 3 s that find the second fetch (2.5 s to 4 s) in
# flight, join it and give up before it ends.
C1=$(rec jcut pending 1)
C2=$(rec jcut processing 2)
job_completed jcut >"$IT_TMP/jcut.done.json"
script jcut "owner=tokA&delay=1500" "$C1" "$C1" "$C2" "$IT_TMP/jcut.done.json"
"$IT_PYTHON" "$PUSH_PY" sse "$LP_PORT" /v1/luma/jobs/jcut "$IT_TMP/cut.json" -H "Authorization: Bearer tokA" \
    -H "Accept: text/event-stream" --duration 15 &
CUT_PID=$!
t0=$(now_ms)
(
	sleep_until "$t0" 3000
	for i in 1 2 3; do
		curl -s --max-time 0.4 -o /dev/null -H "Authorization: Bearer tokA" "$LP/v1/luma/jobs/jcut"
	done
) &
CUTPOLL_PID=$!
IT_PIDS+=("$CUT_PID" "$CUTPOLL_PID")

tcase "the gauges are declared (P0 while a job is watched)"
scrape
check "/metrics is valid" metrics_problems "$METRICS"
check_re "lumaproxy_waiting_requests is a gauge" \
    "$(promcheck types "$METRICS" | awk '$1 == "lumaproxy_waiting_requests"')" ' gauge '
check_re "lumaproxy_watched_jobs is a gauge" \
    "$(promcheck types "$METRICS" | awk '$1 == "lumaproxy_watched_jobs"')" ' gauge '
check_gauge "the submitted job is watched" lumaproxy_watched_jobs 1 2000

# ---------------------------------------------------------------- P1
LP_DB=$IT_TMP/p1.db
must_start_proxy --pending-interval 1 --max-wait 3
keep P1

tcase "wait values: 0 or malformed: no wait; above --max-wait: clamped; of two, the first"
JW=$(rec jw pending)
script jw "owner=tokA" "$JW"
get jw
check_status 200
check_body "$(cat "$JW")"
declare -A DESC
n=0
for q in "wait=0" "wait=-1" "wait=abc" "wait=1e9" "wait=" "wait=0&wait=3"; do
	DESC[nq$n]="?$q"; timed nq$n tokA "jw?$q"; n=$((n + 1))
done
n=0
for q in "wait=3" "wait=3&wait=0" "wait=100" "wait=99999999999999999999"; do
	DESC[hq$n]="?$q"; timed hq$n tokA "jw?$q"; n=$((n + 1))
done
n=0
for p in "wait=-1" "wait=abc" "wait=1e9" "wait=" "wait"; do
	DESC[np$n]="Prefer: $p"; timed np$n tokA jw -H "Prefer: $p"; n=$((n + 1))
done
DESC[np0w]="Prefer: wait=0"; timed np0w tokA jw -H "Prefer: wait=0"
DESC[np03]="Prefer: wait=0, wait=3"; timed np03 tokA jw -H "Prefer: wait=0, wait=3"
n=0
for p in "wait=3" "respond-async, wait=3" "WAIT=3" "Wait=3" \
    "handling=lenient, wait=3; foo=bar" "wait=3, wait=0" "wait=100" \
    "wait=99999999999999999999"; do
	DESC[hp$n]="Prefer: $p"; timed hp$n tokA jw -H "Prefer: $p"; n=$((n + 1))
done
DESC[hp2h]="Prefer: respond-async + Prefer: wait=3"
timed hp2h tokA jw -H "Prefer: respond-async" -H "Prefer: wait=3"
wait_timed
for t in nq0 nq1 nq2 nq3 nq4 nq5 np0 np1 np2 np3 np4 np0w np03; do
	CASE="no wait: ${DESC[$t]}"
	check_now "$t" 200 "$JW"
done
for t in np0 np1 np2 np3 np4; do
	CASE="no wait: ${DESC[$t]}"
	check_eq "$t: Preference-Applied (malformed)" "$(t_hdr "$t" Preference-Applied)" -
done
for t in hq0 hq1 hq2 hq3; do
	CASE="held 3 s: ${DESC[$t]}"
	check_held "$t" 2700 4500 "$JW"
	check_eq "$t: Preference-Applied (?wait= asks none)" "$(t_hdr "$t" Preference-Applied)" -
done
for t in hp0 hp1 hp2 hp3 hp4 hp5 hp6 hp7 hp2h; do
	CASE="held 3 s: ${DESC[$t]}"
	check_held "$t" 2700 4500 "$JW"
	check_eq "$t: Preference-Applied" "$(t_hdr "$t" Preference-Applied)" "wait=3"
done
tcase "wait values: one upstream fetch per interval for the 13 that waited 3 s"
check_between "upstream fetches of jw" "$(fake_count jw tokA)" 3 6
check_gauge "nobody waits" lumaproxy_waiting_requests 0 1000

tcase "a waiter is released when the status changes, not before (pending -> processing -> completed)"
JC1=$(rec jc pending)
JC2=$(rec jc processing)
JC3=$(rec jc processing 7)
job_completed jc >"$IT_TMP/jc.done.json"
script jc "owner=tokA" "$JC1" "$JC2" "$JC3" "$IT_TMP/jc.done.json"
t0=$(now_ms)
get jc tokA -H "Prefer: wait=3"
ms=$(($(now_ms) - t0))
check_status 200
check_body "$(cat "$JC2")"
check_between "ms to the answer (the next fetch, a second on)" "$ms" 600 2500
check_header Preference-Applied "wait=3"
check_upstream jc tokA 2
t0=$(now_ms)
get jc tokA -H "Prefer: wait=3"
ms=$(($(now_ms) - t0))
check_status 200
check_body_file "$IT_TMP/jc.done.json"
check_between "ms to the answer (processing again is no change: the fetch after)" "$ms" 1500 2900
check_upstream jc tokA 4

tcase "a waiter with no change is answered at N s, as a poll would be then"
JS1=$(rec js pending)
JS2=$(rec js pending 8)
script js "owner=tokA" "$JS1" "$JS2"
timed sp tokA js -H "Prefer: wait=2"
timed sq tokA "js?wait=2"
wait_timed
check_held sp 1800 3200 "$JS2"
check_eq "Preference-Applied" "$(t_hdr sp Preference-Applied)" "wait=2"
check_held sq 1800 3200 "$JS2"
check_eq "Preference-Applied for ?wait=" "$(t_hdr sq Preference-Applied)" -
check_between "upstream fetches of js" "$(fake_count js tokA)" 2 4

tcase "finished jobs, negative entries and errors are answered at once (a pending one is held)"
job_completed jfin >"$IT_TMP/jfin.json"
script jfin "owner=tokA" "$IT_TMP/jfin.json"
printf '{"error":"Job not found"}' >"$IT_TMP/404.json"
printf '{"error":"boom"}' >"$IT_TMP/500.json"
printf '{"error":"Job does not belong to this user"}' >"$IT_TMP/403.json"
printf '{"error":"Invalid jobid"}' >"$IT_TMP/400.json"
printf '{"error":"Unauthorized"}' >"$IT_TMP/401.json"
script j404 "owner=tokA&status=404" "$IT_TMP/404.json"
script j500 "owner=tokA&status=500" "$IT_TMP/500.json"
script j403 "owner=tokB" "$(rec j403 pending)"
for t in jc jfin j404 j500 j403; do
	timed "f$t" tokA "$t" -H "Prefer: wait=3"
done
timed fq404 tokA "j404?wait=3"
timed f401 - jfin -H "Prefer: wait=3"
timed f400 tokA "x-bad" -H "Prefer: wait=3"
timed fsse tokA jfin -H "Accept: text/event-stream"
timed fctl tokA jw -H "Prefer: wait=3"
wait_timed
check_now fjc 200 "$IT_TMP/jc.done.json"
check_eq "fjc: X-Cache (finished, cached)" "$(t_hdr fjc X-Cache)" HIT
check_now fjfin 200 "$IT_TMP/jfin.json"
check_now fj404 404 "$IT_TMP/404.json"
check_now fq404 404 "$IT_TMP/404.json"
check_now fj500 500 "$IT_TMP/500.json"
check_now fj403 403 "$IT_TMP/403.json"
check_now f401 401 "$IT_TMP/401.json"
check_now f400 400 "$IT_TMP/400.json"
check_lt "fsse: ms to the end of an event stream of a finished job" "$(t_ms fsse)" "$AT_ONCE"
check_held fctl 2700 4500 "$JW"
timed g404 tokA j404 -H "Prefer: wait=3"
timed g500 tokA j500 -H "Prefer: wait=3"
wait_timed
check_now g404 404 "$IT_TMP/404.json"
check_eq "g404: X-Cache (negative entry)" "$(t_hdr g404 X-Cache)" HIT
check_now g500 500 "$IT_TMP/500.json"

tcase "upstream answers during a wait: a 404 ends it at once, a 500 is waited out, a 429's Retry-After is kept"
script jneg "owner=tokA" "$(rec jneg pending)"
fake_then jneg "owner=tokA&status=404" '{"error":"Job not found"}'
script jerr "owner=tokA" "$(rec jerr pending)"
fake_then jerr "owner=tokA&status=500" '{"error":"boom"}'
script j429 "owner=tokA" "$(rec j429 pending)"
fake_then j429 "owner=tokA&status=429&retry-after=6" '{"error":"Too many requests"}'
fake_then j429 "owner=tokA" "$(cat "$(rec j429 processing)")"
timed uneg tokA jneg -H "Prefer: wait=3"
timed uerr tokA jerr -H "Prefer: wait=2"
timed u429 tokA j429 -H "Prefer: wait=3"
wait_timed
check_eq "404: status" "$(t_status uneg)" 404
check_between "404: ms to the answer (the fetch a second on)" "$(t_ms uneg)" 600 2500
check "404: body" cmp -s "$IT_TMP/404.json" "$IT_TMP/t.uneg.body"
check_held uerr 1800 3200 "$IT_TMP/jerr.pending.json"
check_held u429 2700 4500 "$IT_TMP/j429.pending.json"
check_upstream j429 tokA 2

tcase "Accept: text/event-stream with q=0 gets JSON; with q above 0 a stream"
script jacc "owner=tokA" "$(rec jacc pending)"
timed a1 tokA jacc -H "Accept: text/event-stream;q=0, application/json"
timed a2 tokA jacc -H "Accept: application/json, text/event-stream; q=0.0"
timed a3 tokA jacc -H "Accept: application/json;q=0.9, text/event-stream" --max-time 2
timed a4 tokA jacc -H "Accept: text/event-stream" --max-time 2
wait_timed
check_now a1 200 "$IT_TMP/jacc.pending.json"
check_eq "a1: Content-Type" "$(t_hdr a1 Content-Type)" "application/json; charset=utf-8"
check_now a2 200 "$IT_TMP/jacc.pending.json"
check_eq "a2: Content-Type" "$(t_hdr a2 Content-Type)" "application/json; charset=utf-8"
check_re "a3: Content-Type" "$(t_hdr a3 Content-Type)" '^text/event-stream'
check_re "a4: Content-Type" "$(t_hdr a4 Content-Type)" '^text/event-stream'

tcase "event stream: retry:, one event per status with the record's bytes, the end after the finished one; two readers share the fetches"
E1=$(mlrec jev pending 1)	# lines, an empty one, a final newline
E2=$(mlrec jev pending 2)	# same status: no event
E3=$(rec jev processing)	# one line, no final newline
E4=$(rec jev processing 4)	# same status: no event
job_completed jev >"$IT_TMP/jev.done.json"
script jev "owner=tokA" "$E1" "$E2" "$E3" "$E4" "$IT_TMP/jev.done.json"
"$IT_PYTHON" "$PUSH_PY" sse "$LP_PORT" /v1/luma/jobs/jev "$IT_TMP/ev1.json" -H "Authorization: Bearer tokA" \
    -H "Accept: text/event-stream" --duration 9 &
r1=$!
IT_PIDS+=("$r1")
# The second reader joins a stream under way: once upstream has its first fetch.
check "the first reader's stream is under way" wait_for 5000 fetches_at_least jev tokA 1
"$IT_PYTHON" "$PUSH_PY" sse "$LP_PORT" /v1/luma/jobs/jev "$IT_TMP/ev2.json" -H "Authorization: Bearer tokA" \
    -H "Accept: text/event-stream" --duration 9 &
r2=$!
IT_PIDS+=("$r2")
wait $r1 $r2
for r in ev1 ev2; do
	f=$IT_TMP/$r.json
	check_eq "$r: status" "$(sse_fact "$f" status)" 200
	check_re "$r: Content-Type" "$(sse_fact "$f" type)" '^text/event-stream'
	check_eq "$r: first line" "$(sse_fact "$f" first)" "retry: 1000"
	check_eq "$r: events (name:status)" "$(sse_statuses "$f")" \
	    "status:pending status:processing status:completed"
	check "$r: event 0 is the first record's bytes (lines, an empty one, the final newline)" \
	    sse_data_is "$f" 0 "$E1"
	check "$r: event 1 is the processing record's bytes" sse_data_is "$f" 1 "$E3"
	check "$r: event 2 is the completed record's bytes" sse_data_is "$f" 2 "$IT_TMP/jev.done.json"
	check_eq "$r: how the stream ended" "$(sse_fact "$f" end)" terminator
	check_between "$r: ms to the processing event (the third fetch)" \
	    "$(sse_summary "$f" | awk '$1 == "event" && $2 == 1 { print $5 }')" 1200 3500
done
check_upstream jev tokA 5
check_gauge "the readers are gone" lumaproxy_waiting_requests 0 1000
get jev
check_cache HIT
check_body_file "$IT_TMP/jev.done.json"

tcase "a poll that joins the stream's fetch and hangs up does not stop the stream's fetches"
wait "$CUT_PID" "$CUTPOLL_PID"
check_eq "the stream's events (name:status)" "$(sse_statuses "$IT_TMP/cut.json")" \
    "status:pending status:processing status:completed"
check_eq "how the stream ended" "$(sse_fact "$IT_TMP/cut.json" end)" terminator

tcase "event stream of a finished job: its one event, then the end"
push sse "$LP_PORT" /v1/luma/jobs/jfin "$IT_TMP/evf.json" -H "Authorization: Bearer tokA" \
    -H "Accept: text/event-stream" --duration 5
check_eq "events (name:status)" "$(sse_statuses "$IT_TMP/evf.json")" "status:completed"
check "the event is the record's bytes" sse_data_is "$IT_TMP/evf.json" 0 "$IT_TMP/jfin.json"
check_eq "how the stream ended" "$(sse_fact "$IT_TMP/evf.json" end)" terminator
check_upstream jfin tokA 1

tcase "50 waiters on one job (and 10 of another token): one upstream fetch per interval each"
script jmany "owner=tokA&owner=tokB" "$(rec jmany pending)"
"$IT_PYTHON" "$PUSH_PY" many "$LP_PORT" 50 /v1/luma/jobs/jmany "$IT_TMP/m50.out" -H "Authorization: Bearer tokA" \
    -H "Prefer: wait=3" --ready "$IT_TMP/m50.ready" &
m1=$!
IT_PIDS+=("$m1")
"$IT_PYTHON" "$PUSH_PY" many "$LP_PORT" 10 /v1/luma/jobs/jmany "$IT_TMP/m10.out" -H "Authorization: Bearer tokB" \
    -H "Prefer: wait=3" --ready "$IT_TMP/m10.ready" &
m2=$!
IT_PIDS+=("$m2")
wait_for 3000 test -e "$IT_TMP/m50.ready" -a -e "$IT_TMP/m10.ready"
check_gauge "all wait" lumaproxy_waiting_requests 60 1500
wait $m1 $m2
check_eq "tokA answers: 200, held 2.7 s or more, Preference-Applied wait=3, pending" \
    "$(many_count "$IT_TMP/m50.out" '$2 == 200 && $3 >= 2700 && $3 < 4500 && $5 == "wait=3" && $7 == "pending"')" 50
check_eq "tokB answers: the same" \
    "$(many_count "$IT_TMP/m10.out" '$2 == 200 && $3 >= 2700 && $3 < 4500 && $5 == "wait=3" && $7 == "pending"')" 10
check_between "upstream fetches for tokA" "$(fake_count jmany tokA)" 3 6
check_between "upstream fetches for tokB" "$(fake_count jmany tokB)" 3 6
check_gauge "nobody waits" lumaproxy_waiting_requests 0 1500

tcase "1000 waiters on one job and 1000 on 1000 jobs at once"
if [ "$(ulimit -Sn)" != unlimited ] && [ "$(ulimit -Sn)" -lt 4500 ]; then
	skip "2000 waiters" "the file descriptor limit is $(ulimit -Sn) (hard $(ulimit -Hn)), 4500 are needed"
elif wrapped; then
	skip "2000 waiters (a load test)" "$WRAPPED"
else
	LP_DB=$IT_TMP/p1k.db	# its own proxy: --max-wait 30
	must_start_proxy --pending-interval 1 --max-wait 30
	script j1k "owner=tokA" "$(rec j1k pending)"
	push putjobs "$FAKE_PORT" 1000 'jk{i}' "owner=tokA" \
	    '{"jobid":"jk{i}","type":"video","status":"pending"}' ||
		die "cannot script 1000 jobs in fakeup"
	t0=$(now_ms)
	# Long enough a wait that a slow machine (or a sanitizer build) has
	# them all waiting at once: 1000 of them are fetched first.
	"$IT_PYTHON" "$PUSH_PY" many "$LP_PORT" 1000 /v1/luma/jobs/j1k "$IT_TMP/k1.out" -H "Authorization: Bearer tokA" \
	    -H "Prefer: wait=10" --ready "$IT_TMP/k1.ready" --timeout 40 &
	m1=$!
	IT_PIDS+=("$m1")
	"$IT_PYTHON" "$PUSH_PY" many "$LP_PORT" 1000 '/v1/luma/jobs/jk{i}' "$IT_TMP/k2.out" \
	    -H "Authorization: Bearer tokA" -H "Prefer: wait=10" --ready "$IT_TMP/k2.ready" \
	    --timeout 40 &
	m2=$!
	IT_PIDS+=("$m2")
	wait_for 10000 test -e "$IT_TMP/k1.ready" -a -e "$IT_TMP/k2.ready"
	check_gauge "all 2000 wait" lumaproxy_waiting_requests 2000 9000
	wait $m1 $m2
	echo "# 2000 waiters took $(($(now_ms) - t0)) ms"
	check_eq "one job: answers 200, pending, held 9.7 to 30 s" \
	    "$(many_count "$IT_TMP/k1.out" '$2 == 200 && $7 == "pending" && $3 >= 9700 && $3 < 30000')" 1000
	check_eq "1000 jobs: answers 200, pending, held 9.7 to 30 s" \
	    "$(many_count "$IT_TMP/k2.out" '$2 == 200 && $7 == "pending" && $3 >= 9700 && $3 < 30000')" 1000
	check_between "upstream fetches of the one job" "$(fake_count j1k tokA)" 10 31
	curl -sS --max-time 5 "$FAKE/_fake/stats" >"$IT_TMP/k2.stats"
	check_eq "jobs of the 1000 fetched about once a second, each (5 to 31 times)" \
	    "$(awk '$1 == "job" && $2 ~ /^jk[0-9]+$/ && $3 == "tokA" && $4 >= 5 && $4 <= 31 { n++ } END { print n + 0 }' "$IT_TMP/k2.stats")" 1000
	check_gauge "nobody waits" lumaproxy_waiting_requests 0 3000
	stop_proxy
	use P1
fi

tcase "clients that hang up are dropped at once: logged 499, the gauge back to 0, no more fetches"
script jhang "owner=tokA" "$(rec jhang pending)"
hp=()
for i in 1 2 3 4 5; do
	curl -s --max-time 1.4 -o /dev/null -H "Authorization: Bearer tokA" \
	    -H "Prefer: wait=3" "$LP/v1/luma/jobs/jhang" &
	hp+=($!)
done
t0=$(now_ms)
check_gauge "5 wait" lumaproxy_waiting_requests 5 500
wait "${hp[@]}"
c0=$(fake_count jhang tokA)
wait_for 1000 access_499_at_least /v1/luma/jobs/jhang 5
check_eq "499 access lines (within 1 s of the hang-ups, before the 3 s are up)" \
    "$(access_499 /v1/luma/jobs/jhang)" 5
check_gauge "the hung-up waiters are gone" lumaproxy_waiting_requests 0 300
check_lt "ms from the requests to the gauge at 0" "$(($(now_ms) - t0))" 2800
check_between "upstream fetches while they waited (1.4 s)" "$c0" 2 4
c1=$(fake_count jhang tokA)
sleep 2.2	# two intervals with nobody waiting
check_eq "upstream fetches once nobody waits" "$(fake_count jhang tokA)" "$c1"

tcase "clients that never read nor close are not kept past their wait"
script jsil "owner=tokA" "$(rec jsil pending)"
script jsilbig "owner=tokA&size=300000" "$(rec jsilbig pending)"
sp=()
for i in 1 2 3; do
	"$IT_PYTHON" "$PUSH_PY" silent "$LP_PORT" /v1/luma/jobs/jsil -H "Authorization: Bearer tokA" \
	    -H "Prefer: wait=2" >"$IT_TMP/silent.$i" &
	sp+=($!)
done
"$IT_PYTHON" "$PUSH_PY" silent "$LP_PORT" /v1/luma/jobs/jsilbig -H "Authorization: Bearer tokA" \
    -H "Prefer: wait=2" --rcvbuf 4096 >"$IT_TMP/silent.4" &
sp+=($!)
IT_PIDS+=("${sp[@]}")
check_gauge "4 wait" lumaproxy_waiting_requests 4 1500
check_gauge "none waits 2 s later (one with 300 kB it cannot take)" \
    lumaproxy_waiting_requests 0 3500
http "$LP/healthz"
check_status 200
kill "${sp[@]}" 2>/dev/null
wait "${sp[@]}" 2>/dev/null

# ---------------------------------------------------------------- P2
tcase "event stream readers that never read: bounded memory, dropped, others served"
# jflood changes status at each of 12 fetches, with 8 MB records: 4 readers
# that never read would leave ~64 MB each unread in 8 s.  jsmall (small
# records) and jmid (300 kB ones, within the default --max-upstream-body)
# change as often and are read by readers that read.
LP_DB=$IT_TMP/p2.db
must_start_proxy --pending-interval 1 --max-upstream-body 16777216
keep P2
for j in jflood jsmall jmid; do
	steps=()
	for k in $(seq 1 12); do
		st=pending
		[ $((k % 2)) -eq 0 ] && st=processing
		steps+=("$(rec "$j" "$st" "$k")")
	done
	case $j in
	jflood) script "$j" "owner=tokA&size=8000000" "${steps[@]}" ;;
	jmid) script "$j" "owner=tokA&size=300000" "${steps[@]}" ;;
	*) script "$j" "owner=tokA" "${steps[@]}" ;;
	esac
done
rss0=$(push rss "$LP_PID")
# Lines of the log that are not access lines (nor the start line).
notes() {
	grep -vE '^[0-9T:.Z-]+ [0-9.]+:[0-9]+ ' "$LP_ERR" | grep -vc 'listening on'
}
notes0=$(notes)
np=()
for i in 1 2 3 4; do
	"$IT_PYTHON" "$PUSH_PY" nonreader "$LP_PORT" /v1/luma/jobs/jflood "$IT_TMP/drain" \
	    -H "Authorization: Bearer tokA" -H "Accept: text/event-stream" \
	    >"$IT_TMP/nonreader.$i" &
	np+=($!)
done
IT_PIDS+=("${np[@]}")
t0=$(now_ms)
rd=()
for j in jsmall jmid; do
	"$IT_PYTHON" "$PUSH_PY" sse "$LP_PORT" "/v1/luma/jobs/$j" "$IT_TMP/$j.sse.json" \
	    -H "Authorization: Bearer tokA" -H "Accept: text/event-stream" --duration 8 &
	rd+=($!)
done
IT_PIDS+=("${rd[@]}")
rss_max=$rss0
rss_half=""
hz_max=0
hz_bad=0
for k in $(seq 1 8); do
	sleep_until "$t0" $((k * 1000))	# a sample a second for 8 s (the test)
	r=$(push rss "$LP_PID")
	[ -n "$r" ] && [ "$r" -gt "$rss_max" ] && rss_max=$r
	[ "$k" -eq 4 ] && rss_half=$rss_max
	o=$(curl -sS --max-time 5 -o /dev/null -w '%{http_code} %{time_total}' "$LP/healthz")
	[ "${o%% *}" = 200 ] || hz_bad=$((hz_bad + 1))
	ms=$(awk -v t="${o#* }" 'BEGIN { printf "%d", t * 1000 }')
	[ "$ms" -gt "$hz_max" ] && hz_max=$ms
done
check_eq "/healthz answers that were not 200" "$hz_bad" 0
if wrapped; then
	skip "RSS growth, slowest /healthz, changes seen by the readers" "$WRAPPED"
else
	echo "# RSS: ${rss0} kB at the start, ${rss_half} kB at 4 s, ${rss_max} kB at most"
	check_lt "RSS growth in 8 s (kB; 4 readers x ~8 records of 8 MB unread)" \
	    "$((rss_max - rss0))" 200000
	check_lt "RSS growth in the last 4 s (kB)" "$((rss_max - rss_half))" 64000
	check_lt "slowest /healthz (ms)" "$hz_max" 1000
fi
touch "$IT_TMP/drain"
wait "${rd[@]}"
wait "${np[@]}"
check_eq "readers that never read, dropped (the connection closed)" \
    "$(cat "$IT_TMP"/nonreader.* | grep -c '^dropped ')" 4
notes1=$(notes)
check "a log line (not an access line) says so: $notes0 before, $notes1 after" \
    [ "$notes1" -gt "$notes0" ]
for j in jsmall jmid; do
	f=$IT_TMP/$j.sse.json
	wrapped ||
	    check_re "$j (read): the changes it saw in 8 s (7 or more)" "$(sse_statuses "$f")" \
		'^status:pending status:processing status:pending status:processing status:pending status:processing status:pending'
	check_eq "$j (read): the stream was not cut" "$(sse_fact "$f" end)" timeout
done
check_gauge "nobody waits" lumaproxy_waiting_requests 0 2000
stop_proxy
check_eq "P2 exit status" "$LP_RC" 0

# ---------------------------------------------------------------- P3
tcase "background watch: a submitted job is fetched to the end without polls"
TOKW="tokW-secret-$(head -c 9 /dev/urandom | od -An -tx1 | tr -d ' \n')"
LP_DB=$IT_TMP/p3.db
must_start_proxy --pending-interval 1
keep P3
submit "$TOKW"
JW1=$JOB
check_gauge "watched" lumaproxy_watched_jobs 1 1500
wait_for 6000 fetches_at_least "$JW1" "$TOKW" 3
check_eq "upstream fetches without a poll (fakeup completes it on the third)" \
    "$(fake_count "$JW1" "$TOKW")" 3
check_gauge "no longer watched" lumaproxy_watched_jobs 0 1500
get "$JW1" "$TOKW"
check_status 200
check_cache HIT
check_eq "the record's status" "$(json_get status)" completed
sleep 1.5	# an interval and a half: no fetch may come
check_upstream "$JW1" "$TOKW" 3

tcase "background watch with a client's token: not after a restart (nothing fetched until the client polls); the token is never written"
submit "$TOKW"
JW2=$JOB
stop_proxy
check_eq "exit status" "$LP_RC" 0
c0=$(fake_count "$JW2" "$TOKW")
must_start_proxy --pending-interval 1
keep P3
sleep 2.2	# two intervals: no fetch may come
check_eq "upstream fetches after the restart, before a poll" "$(fake_count "$JW2" "$TOKW")" "$c0"
get "$JW2" "$TOKW"
check_status 200
check_upstream "$JW2" "$TOKW" $((c0 + 1))
stop_proxy
for f in "$IT_TMP"/p3.db*; do
	[ -e "$f" ] || continue
	check_eq "occurrences of the client's token in $(basename "$f")" \
	    "$(grep -c -a -F -- "$TOKW" "$f")" 0
done

tcase "--no-watch: a submitted job is fetched only when polled"
LP_DB=$IT_TMP/p3n.db
must_start_proxy --pending-interval 1 --no-watch
submit tokN
JN=$JOB
sleep 2.2	# two intervals: no fetch may come
check_upstream "$JN" tokN 0
check_eq "watched jobs" "$(gauge lumaproxy_watched_jobs)" 0
get "$JN" tokN
check_status 200
check_cache MISS
check_eq "the record's status" "$(json_get status)" pending
check_upstream "$JN" tokN 1
stop_proxy

# ---------------------------------------------------------------- gateway
tcase "gateway: the held token watches, and goes on after a restart"
HELD="held-$(head -c 9 /dev/urandom | od -An -tx1 | tr -d ' \n')"
printf '%s\n' "$HELD" >"$IT_TMP/held.token"
chmod 600 "$IT_TMP/held.token"
LP_DB=$IT_TMP/gw.db
ALICE=$("$LUMAPROXY" keys --db "$LP_DB" add alice 2>"$IT_TMP/keys.err") ||
	die "keys add alice: $(cat "$IT_TMP/keys.err")"
must_start_proxy --pending-interval 1 --upstream-token-file "$IT_TMP/held.token"
submit "$ALICE"
JG=$JOB
stop_proxy
check_eq "exit status" "$LP_RC" 0
c0=$(fake_count "$JG" "$HELD")
must_start_proxy --pending-interval 1 --upstream-token-file "$IT_TMP/held.token"
if [ "$c0" -lt 3 ]; then
	check_gauge "watched after the restart" lumaproxy_watched_jobs 1 1500
else
	skip "watched after the restart" "the job had $c0 fetches before the restart"
fi
wait_for 6000 fetches_at_least "$JG" "$HELD" 3
check_eq "upstream fetches with the held token, no poll" "$(fake_count "$JG" "$HELD")" 3
check_gauge "no longer watched" lumaproxy_watched_jobs 0 1500
get "$JG" "$ALICE"
check_status 200
check_cache HIT
check_eq "the record's status" "$(json_get status)" completed
check_upstream "$JG" "$HELD" 3
stop_proxy

# ---------------------------------------------------------------- P4
tcase "SIGTERM with 500 waiters and 20 event streams: each gets the snapshot (or the stream's end) at once, exit 0 within the drain"
LP_DB=$IT_TMP/p4.db
must_start_proxy --pending-interval 1
JT=$(rec jterm pending)
script jterm "owner=tokA" "$JT"
"$IT_PYTHON" "$PUSH_PY" many "$LP_PORT" 500 /v1/luma/jobs/jterm "$IT_TMP/term.out" -H "Authorization: Bearer tokA" \
    -H "Prefer: wait=30" --ready "$IT_TMP/term.ready" --timeout 15 &
m1=$!
IT_PIDS+=("$m1")
"$IT_PYTHON" "$PUSH_PY" many "$LP_PORT" 20 /v1/luma/jobs/jterm "$IT_TMP/termsse.out" -H "Authorization: Bearer tokA" \
    -H "Accept: text/event-stream" --ready "$IT_TMP/termsse.ready" --timeout 15 &
m2=$!
IT_PIDS+=("$m2")
wait_for 5000 test -e "$IT_TMP/term.ready" -a -e "$IT_TMP/termsse.ready"
check_gauge "all 520 wait" lumaproxy_waiting_requests 520 3000
t0=$(now_ms)
stop_proxy TERM 10
check_eq "exit status" "$LP_RC" 0
check_lt "ms from SIGTERM to the exit" "$(($(now_ms) - t0))" 5500
wait "$m1" "$m2"
check_eq "event streams that ended (200, read to the end)" "$(many_count "$IT_TMP/termsse.out" '$2 == 200')" 20
check_lt "ms from SIGTERM to the end of the last stream" \
    "$(awk -F'\t' -v t0="$t0" '{ d = $4 - t0; if (d > m) m = d } END { printf "%d", m }' "$IT_TMP/termsse.out")" 2000
check_eq "answers 200 with the snapshot" \
    "$(many_count "$IT_TMP/term.out" "\$2 == 200 && \$8 == \"$(sha256_of "$JT")\"")" 500
check_lt "ms from SIGTERM to the last answer" \
    "$(awk -F'\t' -v t0="$t0" '{ d = $4 - t0; if (d > m) m = d } END { printf "%d", m }' "$IT_TMP/term.out")" 2000

tcase "waiting requests count toward --max-connections"
LP_DB=$IT_TMP/p5.db
must_start_proxy --pending-interval 1 --max-connections 4
script jmc "owner=tokA" "$(rec jmc pending)"
"$IT_PYTHON" "$PUSH_PY" many "$LP_PORT" 4 /v1/luma/jobs/jmc "$IT_TMP/mc.out" -H "Authorization: Bearer tokA" \
    -H "Prefer: wait=2" --ready "$IT_TMP/mc.ready" &
m1=$!
IT_PIDS+=("$m1")
# /metrics would need a fifth connection: the requests are sent, and
# upstream saw the job's fetch.
wait_for 2000 test -e "$IT_TMP/mc.ready"
wait_for 2000 fetches_at_least jmc tokA 1
o=$(curl -sS --max-time 0.8 -o /dev/null -w '%{http_code}' "$LP/healthz" 2>/dev/null)
check_eq "/healthz while 4 of 4 connections wait (a fifth connection: 503)" "$o" 503
wait "$m1"
check_eq "the 4 waiters: 200 after 1.8 to 3.2 s" \
    "$(many_count "$IT_TMP/mc.out" '$2 == 200 && $3 >= 1800 && $3 < 3200 && $7 == "pending"')" 4
http "$LP/healthz"
check_status 200
stop_proxy

# ---------------------------------------------------------------- P0 again
use P0
echo "# $(($(now_ms) - T_M)) ms in: the rest waits for the 60 s cases"
tcase "a keep-alive comment every 15 s, and no second event for the same status"
wait "$KA_PID"
check_eq "events (name:status)" "$(sse_statuses "$IT_TMP/ka.json")" "status:pending"
ka=$(sse_summary "$IT_TMP/ka.json" | awk '$1 == "comment" && $3 == "keep-alive" { printf "%s%d", s, $2; s = " " }')
check_re "ms of the keep-alive comments" "$ka" '^1[4-6][0-9]{3} (29|30|31)[0-9]{3}$'

tcase "--watch-max-age: a job that never finishes is watched for 60 s, then no more"
sleep_until "$T_M" 62500	# past the 60 s (the test)
# Counted once the watch has ended, so that no fetch of it comes after.
check_gauge "no longer watched" lumaproxy_watched_jobs 0 500
c1=$(fake_count "$JM" tokM)
check_between "upstream fetches in the 60 s" "$c1" 45 66
sleep 2.2	# two intervals: no fetch may come
check_eq "upstream fetches after the watch ended" "$(fake_count "$JM" tokM)" "$c1"

tcase "wait=100 under the default --max-wait: 60 s, not cut short"
wait "$LONG_PID"
check_held long 59500 63000 "$IT_TMP/jlong.pending.json"
check_eq "Preference-Applied" "$(t_hdr long Preference-Applied)" "wait=60"
check_between "upstream fetches of jlong (one a second)" "$(fake_count jlong tokA)" 50 64

finish
