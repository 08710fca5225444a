#!/usr/bin/env bash
# SPEC 2.2: a cached job is only served to a token upstream answered 200 for;
# another token goes upstream (and gets upstream's 403), and a 401, 403 or
# 404 for a granted pair removes the grant.
. "${TESTS_SRCDIR:-$(dirname "$0")}/lib.sh"

start_fakeup
must_start_proxy --pending-interval 1 --negative-ttl 1

FORBIDDEN='{"error":"Job does not belong to this user"}'
DONE=$(job_completed ji1)
fake_job ji1 "owner=tokA" "$DONE"

tcase "token A caches its completed job"
get ji1 tokA
check_status 200
check_cache MISS
get ji1 tokA
check_cache HIT
check_upstream ji1 tokA 1

tcase "token B asks for the same job: upstream's 403, never the cached body"
get ji1 tokB
check_status 403
check_body "$FORBIDDEN"
check_cache MISS
check_upstream ji1 tokB 1

tcase "token B again: the 403 again (negative entry), still not the body"
get ji1 tokB
check_status 403
check_body "$FORBIDDEN"

tcase "token B with only-if-cached: never the body"
get ji1 tokB -H "Cache-Control: only-if-cached"
check_re "status" "$STATUS" '^(403|504)$'
check_not "the body is not A's job" [ "$BODY" = "$DONE" ]
get ji1 tokC -H "Cache-Control: only-if-cached"
check_status 504
check_body '{"error":"Not in cache (offline)"}'
check_upstream ji1 tokC 0

tcase "token A still gets its HIT"
get ji1 tokA
check_status 200
check_cache HIT
check_body "$DONE"
check_upstream ji1 tokA 1

tcase "after B's negative entry expires B goes upstream again"
sleep 1.1	# past the negative entry (the test): the proxy reads the clock per request
get ji1 tokB
check_status 403
check_cache MISS
check_upstream ji1 tokB 2

tcase "a token upstream shows the job to gets its own grant"
fake_job ji2 "owner=tokA&owner=tokB" "$(job_completed ji2)"
get ji2 tokA
check_cache MISS
get ji2 tokB
check_status 200
check_cache MISS
get ji2 tokB
check_cache HIT
check_upstream ji2 tokA 1
check_upstream ji2 tokB 1

# revoke JOBID STATUS BODY: A caches a completed job; a no-cache refetch
# after the interval gets STATUS from upstream.
revoke() {
	fake_job "$1" "owner=tokA" "$(job_completed "$1")"
	fake_then "$1" "owner=tokA&status=$2" "$3"
	get "$1" tokA
	check_eq "first answer" "$STATUS $(header X-Cache)" "200 MISS"

	tcase "$2 for a granted pair: no-cache refetch within the interval is a HIT"
	get "$1" tokA -H "Cache-Control: no-cache"
	check_status 200
	check_cache HIT
	check_upstream "$1" tokA 1

	tcase "$2 for a granted pair: no-cache refetch relays $2"
	sleep 1.1	# past the interval (the test): the refetch may go upstream
	get "$1" tokA -H "Cache-Control: no-cache"
	check_status "$2"
	check_body "$3"
	check_upstream "$1" tokA 2

	tcase "$2 for a granted pair: the grant is gone"
	sleep 1.1	# past the negative entry, if any (the test)
	get "$1" tokA -H "Cache-Control: only-if-cached"
	check_status 504
	check_not "the cached body is not served" [ "$BODY" = "$(job_completed "$1")" ]
	get "$1" tokA
	check_status "$2"
	check_upstream "$1" tokA 3
}

tcase "401 for a granted pair"
revoke ji401 401 '{"error":"Unauthorized"}'
tcase "403 for a granted pair"
revoke ji403 403 "$FORBIDDEN"
tcase "404 for a granted pair"
revoke ji404 404 '{"error":"Job not found"}'

tcase "a no-cache refetch that succeeds renews the job"
fake_job ji5 "owner=tokA" "$(job_completed ji5)"
get ji5
sed 's/video.mp4/video.mp4?renewed=1/' <<<"$(job_completed ji5)" >"$IT_TMP/ji5.json"
fake_job_file ji5 "owner=tokA" "$IT_TMP/ji5.json"
sleep 1.1	# past the interval (the test): the refetch may go upstream
get ji5 tokA -H "Cache-Control: no-cache"
check_status 200
check_cache MISS
check_body_file "$IT_TMP/ji5.json"
get ji5
check_cache HIT
check_body_file "$IT_TMP/ji5.json"
check_upstream ji5 tokA 2

finish
