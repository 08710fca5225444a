#!/usr/bin/env bash
# Submission awareness (issue: drop-in base URL): a job submitted through
# the proxy is known with its token; a 404 upstream gives that token for it
# right after the submit is relayed but not repeated from the negative
# cache, while other 404s are.
. "${TESTS_SRCDIR:-$(dirname "$0")}/lib.sh"
# What this test counts is what clients' polls make upstream do: no
# background watch of submitted jobs (tests/it_push.sh has that).
LP_OPTS=--no-watch

need_python
start_fakeup
must_start_proxy --pending-interval 0 --negative-ttl 30

tcase "submit through the proxy, upstream not caught up yet: every poll asks again"
http -X POST -H 'Authorization: Bearer tokS' --data-binary '{"prompt":"x"}' "$LP/v1/luma/videos"
check_status 200
J=$(json_get jobid)
check_re "a jobid came back" "$J" '^j'
check_eq "recorded with the submitter's token" \
    "$(sqlite3 "$IT_TMP/lp.db" "SELECT type, token_id FROM submissions WHERE jobid = '$J'")" \
    "video|$(printf tokS | sha256sum | cut -c1-64)"
# Upstream now says 404 for it, as one still catching up might.
fake_job "$J" "owner=tokS&status=404" '{"error":"Job not found"}'
for i in 1 2; do
	get "$J" tokS
	check_status 404
	check_cache MISS
done
check_upstream "$J" tokS 2

tcase "the same 404 for a job not submitted through the proxy is repeated from the cache"
fake_job jother "owner=tokS&status=404" '{"error":"Job not found"}'
get jother tokS
check_status 404
check_cache MISS
get jother tokS
check_status 404
check_cache HIT
check_upstream jother tokS 1

tcase "another token's 404 for the submitted job is cached as usual"
fake_job "$J" "owner=tokT&status=404" '{"error":"Job not found"}'
get "$J" tokT
get "$J" tokT
check_cache HIT
check_upstream "$J" tokT 1

finish
