#!/usr/bin/env bash
# SPEC 2.3 (2) and 2.4: upstream's 400, 403 and 404 are repeated as HIT for
# negative-ttl seconds; 401, 596 and other 4xx are relayed and not cached.
. "${TESTS_SRCDIR:-$(dirname "$0")}/lib.sh"

start_fakeup
must_start_proxy --pending-interval 1 --negative-ttl 2

NOTFOUND='{"error":"Job not found"}'

tcase "404 from upstream: relayed"
get jn404
check_status 404
check_body "$NOTFOUND"
check_json_type
check_cache MISS
check_header Cache-Status "lumaproxy; fwd=miss; stored"
check_upstream jn404 tokA 1

tcase "404 again within negative-ttl: HIT, no upstream call"
get jn404
check_status 404
check_body "$NOTFOUND"
check_cache HIT
check_header Cache-Status "lumaproxy; hit"
check_header_re Age '^[0-9]+$'
get jn404
check_status 404
check_upstream jn404 tokA 1

tcase "the negative entry is per token"
get jn404 tokB
check_status 404
check_cache MISS
check_upstream jn404 tokB 1

tcase "after negative-ttl: upstream asked again"
sleep 2.1	# past negative-ttl (the test): the proxy reads the clock per request
get jn404
check_status 404
check_cache MISS
check_upstream jn404 tokA 2

tcase "a job that appears after its negative entry expired is fetched"
sleep 2.1	# past negative-ttl again (the test)
fake_job jn404 "" "$(job_record jn404 pending)"
get jn404
check_status 200
check_body "$(job_record jn404 pending)"
check_upstream jn404 tokA 3

tcase "400 from upstream: relayed and repeated as HIT"
fake_job jn400 "status=400" '{"error":"Invalid jobid"}'
get jn400
check_status 400
check_body '{"error":"Invalid jobid"}'
check_cache MISS
get jn400
check_status 400
check_body '{"error":"Invalid jobid"}'
check_cache HIT
check_upstream jn400 tokA 1

tcase "401 from upstream: relayed every time, not cached"
fake_job jn401 "" "$(job_record jn401 pending)"
for i in 1 2 3; do
	get jn401 bad
	check_status 401
	check_body '{"error":"Unauthorized"}'
	check_cache MISS
	check_header Cache-Status "lumaproxy; fwd=miss"
done
check_upstream jn401 bad 3

SESSION='{"error":"Luma account has an error. Please check your account configuration via GET /v1/luma/accounts or re-add the account via POST /v1/luma/accounts","code":596}'
tcase "596 from upstream: relayed every time, not cached"
fake_job jn596 "status=596" "$SESSION"
for i in 1 2 3; do
	get jn596
	check_status 596
	check_body "$SESSION"
	check_header Cache-Status "lumaproxy; fwd=miss"
done
check_upstream jn596 tokA 3

tcase "another 4xx (418): relayed every time, not cached"
fake_job jn418 "status=418" '{"error":"teapot"}'
get jn418
check_status 418
check_body '{"error":"teapot"}'
get jn418
check_status 418
check_upstream jn418 tokA 2
stop_proxy

tcase "--negative-ttl 0: nothing is repeated"
LP_DB=$IT_TMP/ttl0.db
must_start_proxy --pending-interval 1 --negative-ttl 0
get jn0
check_status 404
get jn0
check_status 404
check_cache MISS
check_upstream jn0 tokA 2

finish
