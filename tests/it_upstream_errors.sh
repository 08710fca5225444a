#!/usr/bin/env bash
# SPEC 2.4: what the proxy answers when upstream misbehaves: invalid
# records, oversized answers, 5xx, no connection, timeouts, 429; and the
# unfinished snapshot served as STALE instead when there is one.
. "${TESTS_SRCDIR:-$(dirname "$0")}/lib.sh"

start_fakeup
must_start_proxy --pending-interval 1 --upstream-timeout 1

INVALID_REC='{"error":"Upstream sent an invalid job record"}'

# bad_record JOBID BODY DESC: a 200 with BODY is a 502, and not cached.
bad_record() {
	fake_job "$1" "" "$2"
	get "$1"
	check_eq "$3: status" "$STATUS" 502
	check_body "$INVALID_REC"
	check_json_type
	check_header Cache-Status "lumaproxy; fwd=miss"
	get "$1"
	check_eq "$3: status again" "$STATUS" 502
	check_upstream "$1" tokA 2
}

tcase "200 that is not a job record: 502, nothing cached"
bad_record jbad1 'not json at all' "not JSON"
bad_record jbad2 '{"jobid":"jbad2","type":"video"}' "no status"
bad_record jbad3 '{"jobid":"jbad3","status":5}' "numeric status"
bad_record jbad4 '{"jobid":"jbad4","status":null}' "null status"
bad_record jbad5 '["status","completed"]' "an array"
bad_record jbad6 '"completed"' "a string"
bad_record jbad7 '{"status":"completed"' "truncated JSON"
bad_record jbad8 '' "empty body"

tcase "a minimal record with a string status is a job"
fake_job jmin "" '{"status":"completed"}'
get jmin
check_status 200
check_body '{"status":"completed"}'
get jmin
check_cache HIT

tcase "an answer over --max-upstream-body (default 1 MiB): 502, not cached"
fake_job jbig "size=2097152"
get jbig
check_status 502
check_body '{"error":"Upstream answer too large"}'
check_json_type
get jbig
check_status 502
check_upstream jbig tokA 2

tcase "an answer of exactly 1 MiB passes"
fake_job jmib "size=1048576" '{"status":"completed"}'
get jmib
check_status 200
check_eq "body bytes" "$(wc -c <"$BODYF")" 1048576
check_re "body start" "${BODY:0:30}" '^\{"status":"completed"\} +$'

tcase "5xx without a snapshot: relayed as is, not cached"
fake_job j500 "status=500" '{"error":"Internal error, try later"}'
get j500
check_status 500
check_body '{"error":"Internal error, try later"}'
check_cache MISS
check_header Cache-Status "lumaproxy; fwd=miss"
get j500
check_status 500
check_upstream j500 tokA 2
fake_job j503 "status=503&type=text/html" '<html>busy</html>'
get j503
check_status 503
check_body '<html>busy</html>'

tcase "upstream closes without answering: 502 Upstream unreachable"
fake_job jclose "close=1"
get jclose
check_status 502
check_re "body" "$BODY" '^\{"error":"Upstream unreachable: [^"]+"\}$'
check_json_type

tcase "slow upstream past --upstream-timeout 1: 504 Upstream timed out"
fake_job jslow "delay=3000" "$(job_record jslow pending)"
start=$SECONDS
get jslow
check_status 504
check_body '{"error":"Upstream timed out"}'
check_json_type
check_re "seconds taken" "$((SECONDS - start))" '^[0-2]$'

tcase "stale on error: a pending snapshot is served when upstream fails"
PEND=$(job_record jstale pending)
fake_job jstale "" "$PEND"
fake_then jstale "status=500" '{"error":"boom"}'
fake_then jstale "status=502" '<html>bad gateway</html>'
fake_then jstale "delay=3000" "$(job_record jstale processing)"
fake_then jstale "close=1"
get jstale
check_status 200
check_cache MISS
sleep 1.1	# past the interval (the test): the next poll goes upstream
for what in "500" "502" "timeout" "closed connection"; do
	get jstale
	check_eq "after a $what: status" "$STATUS" 200
	check_body "$PEND"
	check_cache STALE
	check_header Cache-Status "lumaproxy; hit; detail=stale"
	check_header_re Age '^[0-9]+$'
	sleep 1.1	# past the interval (the test)
done
check_upstream jstale tokA 5

tcase "upstream failing: asked once per pending interval, the snapshot between"
PF=$(job_record jfail pending)
fake_job jfail "" "$PF"
fake_then jfail "status=503" '{"error":"down"}'
get jfail
check_cache MISS
sleep 1.1	# past the interval (the test)
get jfail
check_cache STALE
check_upstream jfail tokA 2
for i in 1 2 3 4 5; do
	get jfail
	check_eq "poll $i while upstream fails: status" "$STATUS" 200
	check_cache STALE
	check_body "$PF"
	check_header_re Retry-After '^1$'
done
check_upstream jfail tokA 2
sleep 1.1	# past the interval (the test)
get jfail
check_cache STALE
check_upstream jfail tokA 3

tcase "upstream down (nothing listening): 502 Upstream unreachable"
stop_proxy
start_fakeup
DEAD=$FAKE
stop_fakeup
LP_DB=$IT_TMP/down.db
must_start_proxy --pending-interval 1 -u "$DEAD"
get jdown
check_status 502
check_re "body" "$BODY" '^\{"error":"Upstream unreachable: [^"]+"\}$'
check_json_type
get jdown
check_status 502
stop_proxy

tcase "429 from upstream with a snapshot: relayed once, then STALE until Retry-After"
start_fakeup
LP_DB=$IT_TMP/429.db
must_start_proxy --pending-interval 1
P429=$(job_record j429 pending)
fake_job j429 "" "$P429"
fake_then j429 "status=429&retry-after=3" '{"error":"Too many requests"}'
get j429
check_status 200
sleep 1.1	# past the interval (the test)
get j429
check_status 429
check_header Retry-After 3
check_body '{"error":"Too many requests"}'
check_upstream j429 tokA 2
get j429
check_status 200
check_cache STALE
check_body "$P429"
check_upstream j429 tokA 2
sleep 1	# past the interval, within the 429's 3 s (the test)
get j429
check_status 200
check_cache STALE
check_upstream j429 tokA 2
sleep 2.1	# past the 429's 3 s (the test)
get j429
check_status 429
check_upstream j429 tokA 3

tcase "429 from upstream without a snapshot: 429 with Retry-After until then"
fake_job j429b "status=429&retry-after=3" '{"error":"Too many requests"}'
get j429b
check_status 429
check_header Retry-After 3
check_body '{"error":"Too many requests"}'
get j429b
check_status 429
check_header_re Retry-After '^[1-3]$'
check_body '{"error":"Too many requests"}'
check_upstream j429b tokA 1
sleep 1.2	# within the 429's 3 s (the test): Retry-After lower
get j429b
check_status 429
check_body '{"error":"Too many requests"}'
check_header_re Retry-After '^[12]$'
check_upstream j429b tokA 1
sleep 2	# past the 429's 3 s (the test)
get j429b
check_status 429
check_upstream j429b tokA 2

tcase "429 with Retry-After as an HTTP date"
when=$(date -u -d '+3 seconds' '+%a, %d %b %Y %H:%M:%S GMT')
fake_job j429d "status=429&retry-after=$(urlenc "$when")" '{"error":"Too many requests"}'
get j429d
check_status 429
check_header_re Retry-After '^([1-3]|'"$when"')$'
get j429d
check_status 429
check_header_re Retry-After '^[1-3]$'
check_upstream j429d tokA 1

tcase "a 429 for one token does not hold back another"
fake_job j429c "status=429&retry-after=5" '{"error":"Too many requests"}'
get j429c tokA
check_status 429
fake_job j429c "" "$(job_record j429c pending)"
get j429c tokB
check_status 200
check_upstream j429c tokB 1

tcase "429 with a Retry-After over a week: clamped to a week, not dropped"
fake_job j429big "status=429&retry-after=691200" '{"error":"Too many requests"}'
get j429big
check_status 429
check_header Retry-After 604800
get j429big
check_status 429
check_header_re Retry-After '^60[0-9]{4}$'
check_upstream j429big tokA 1

finish
