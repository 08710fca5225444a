#!/usr/bin/env bash
# SPEC 2.3 (5): --offline and Cache-Control: only-if-cached never ask
# upstream: cached terminal jobs are HITs, unfinished ones STALE, unexpired
# negative entries repeat, anything else is 504.
. "${TESTS_SRCDIR:-$(dirname "$0")}/lib.sh"

start_fakeup
must_start_proxy --pending-interval 1 --negative-ttl 60

OFFLINE='{"error":"Not in cache (offline)"}'
DONE=$(job_completed jo1)
PEND=$(job_record jo2 pending)
fake_job jo1 "owner=tokA" "$DONE"
fake_job jo2 "owner=tokA" "$PEND"

tcase "online: cache a completed job, a pending job and a 404"
get jo1
check_status 200
get jo2
check_status 200
get jo404
check_status 404
fake_reset

# offline_checks HOW CURL-ARGS...: the offline answers, with no upstream call.
offline_checks() {
	local how=$1
	shift
	tcase "$how: a cached completed job is a HIT"
	get jo1 tokA "$@"
	check_status 200
	check_body "$DONE"
	check_cache HIT
	check_header_re ETag '^"'

	tcase "$how: a cached pending job is STALE"
	get jo2 tokA "$@"
	check_status 200
	check_body "$PEND"
	check_cache STALE
	check_header Cache-Status "lumaproxy; hit; detail=stale"
	check_header_re Age '^[0-9]+$'

	tcase "$how: an unexpired negative entry is repeated"
	get jo404 tokA "$@"
	check_status 404
	check_body '{"error":"Job not found"}'

	tcase "$how: an unknown job is 504"
	get jo-unknown tokA "$@"
	check_status 504
	check_body "$OFFLINE"
	check_json_type

	tcase "$how: a cached job asked by another token is 504"
	get jo1 tokB "$@"
	check_status 504
	check_body "$OFFLINE"

	tcase "$how: upstream was never asked"
	check_total 0
}

sleep 1.1	# the pending job is due for a fetch (the test): offline must not fetch it
offline_checks "only-if-cached" -H "Cache-Control: only-if-cached"
offline_checks "only-if-cached among other directives" -H "Cache-Control: max-age=0, only-if-cached"
stop_proxy

must_start_proxy --pending-interval 1 --offline
offline_checks "--offline"

tcase "--offline: a config file's offline = true works too"
stop_proxy
printf 'offline = true\n' >"$IT_TMP/offline.conf"
must_start_proxy --pending-interval 1 -c "$IT_TMP/offline.conf"
get jo-unknown
check_status 504
check_body "$OFFLINE"
check_total 0

finish
