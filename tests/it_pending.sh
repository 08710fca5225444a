#!/usr/bin/env bash
# SPEC 2.3 (3): an unfinished job reaches upstream at most once per
# pending-interval per token: in between, the last snapshot (serve mode) or
# 429 (reject mode); once finished it is a HIT forever.
. "${TESTS_SRCDIR:-$(dirname "$0")}/lib.sh"

start_fakeup
must_start_proxy --pending-interval 2

P1=$(job_record jp1 pending)
P2=$(job_record jp1 processing)
DONE=$(job_completed jp1)
fake_job jp1 "owner=tokA" "$P1"
fake_then jp1 "owner=tokA" "$P2"
fake_then jp1 "owner=tokA" "$DONE"

tcase "serve mode: first poll of a pending job is a MISS"
get jp1
t0=$(now_ms)
check_status 200
check_body "$P1"
check_cache MISS
check_header Cache-Status "lumaproxy; fwd=miss; stored"
check_upstream jp1 tokA 1

tcase "serve mode: polls within the interval get the snapshot as HIT with Retry-After"
for i in 1 2 3; do
	get jp1
	check_status 200
	check_body "$P1"
	check_cache HIT
	check_header Cache-Status "lumaproxy; hit"
	check_header_re Retry-After '^[12]$'
	check_header_re Age '^[0-9]+$'
done
check_upstream jp1 tokA 1

tcase "Cache-Control: no-cache does not bypass the interval of an unfinished job"
get jp1 tokA -H "Cache-Control: no-cache"
check_status 200
check_cache HIT
check_upstream jp1 tokA 1

tcase "Retry-After counts down the seconds left (at least 1)"
sleep_until "$t0" 1300	# a second into the interval (the test), from the fetch
get jp1
check_cache HIT
check_header Retry-After 1
check_re "Age" "$(header Age)" '^1$'

tcase "after the interval: one new upstream fetch, new snapshot"
sleep_until "$t0" 2100	# past the interval (the test), from the fetch
get jp1
check_status 200
check_body "$P2"
check_cache MISS
check_upstream jp1 tokA 2
get jp1
check_body "$P2"
check_cache HIT
check_upstream jp1 tokA 2

tcase "the job completes: served from the cache from then on"
sleep 2.1	# past the interval (the test)
get jp1
check_status 200
check_body "$DONE"
check_cache MISS
check_header_re ETag '^"'
check_upstream jp1 tokA 3
sleep 2.1	# past the interval (the test): a finished job stays a HIT
for i in 1 2 3; do
	get jp1
	check_cache HIT
	check_body "$DONE"
	check_no_header Retry-After
done
check_upstream jp1 tokA 3

tcase "each token has its own interval"
fake_job jp2 "owner=tokA&owner=tokB" "$(job_record jp2 pending)"
get jp2 tokA
check_cache MISS
get jp2 tokB
check_cache MISS
get jp2 tokB
check_cache HIT
check_upstream jp2 tokA 1
check_upstream jp2 tokB 1
stop_proxy

tcase "reject mode: a poll within the interval is a 429 with Retry-After"
LP_DB=$IT_TMP/reject.db
must_start_proxy --pending-interval 3 --pending-mode reject
fake_job jr1 "owner=tokA" "$(job_record jr1 pending)"
get jr1
check_status 200
check_cache MISS
get jr1
check_status 429
check_header_re Retry-After '^[23]$'
n=$(header Retry-After)
check_body "{\"error\":\"Polling too fast, retry in $n s\"}"
check_json_type
check_upstream jr1 tokA 1
sleep 1.2	# a second into the interval (the test): still 429, Retry-After lower
get jr1
check_status 429
check_header_re Retry-After '^[12]$'
n=$(header Retry-After)
check_body "{\"error\":\"Polling too fast, retry in $n s\"}"
check_upstream jr1 tokA 1

tcase "reject mode: after the interval a new fetch"
sleep 2	# past the 3 s interval (the test)
get jr1
check_status 200
check_cache MISS
check_upstream jr1 tokA 2

tcase "reject mode: finished jobs are still served from the cache"
fake_job jr2 "owner=tokA" "$(job_completed jr2)"
get jr2
check_status 200
get jr2
check_status 200
check_cache HIT
check_upstream jr2 tokA 1

finish
