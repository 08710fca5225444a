#!/usr/bin/env bash
# SPEC 2.3 (4): concurrent requests for one (jobid, token) wait for a single
# upstream fetch and all get its answer; different tokens never share one.
. "${TESTS_SRCDIR:-$(dirname "$0")}/lib.sh"

start_fakeup
must_start_proxy --pending-interval 1

N=20

# burst JOBID TOKEN N TAG: N concurrent GETs; answers in $IT_TMP/TAG.I.*
# (wait names the pids: a bare wait would wait for fakeup and lumaproxy too.)
burst() {
	local i pids=()
	for i in $(seq 1 "$3"); do
		curl -sS --max-time 10 -o "$IT_TMP/$4.$i.body" -D "$IT_TMP/$4.$i.hdrs" \
		    -w '%{http_code}' -H "Authorization: Bearer $2" \
		    "$LP/v1/luma/jobs/$1" >"$IT_TMP/$4.$i.status" 2>/dev/null &
		pids+=($!)
	done
	wait "${pids[@]}"
}

# count_answers TAG N STATUS BODYFILE CACHE-RE: how many of the N answers match.
count_answers() {
	local i n=0
	for i in $(seq 1 "$2"); do
		[ "$(cat "$IT_TMP/$1.$i.status")" = "$3" ] || continue
		cmp -s "$4" "$IT_TMP/$1.$i.body" || continue
		tr -d '\r' <"$IT_TMP/$1.$i.hdrs" | grep -qiE "^X-Cache: ($5)\$" || continue
		n=$((n + 1))
	done
	echo "$n"
}

tcase "$N concurrent polls of a slow completed job: one upstream request"
job_completed jc1 >"$IT_TMP/jc1.json"
fake_job_file jc1 "owner=tokA&delay=1000" "$IT_TMP/jc1.json"
burst jc1 tokA "$N" a
check_upstream jc1 tokA 1
check_eq "answers that are 200, the job's bytes, X-Cache MISS" \
    "$(count_answers a "$N" 200 "$IT_TMP/jc1.json" MISS)" "$N"

tcase "$N concurrent polls of a slow pending job: one upstream request"
job_record jc2 pending >"$IT_TMP/jc2.json"
fake_job_file jc2 "owner=tokA&delay=1000" "$IT_TMP/jc2.json"
burst jc2 tokA "$N" b
check_upstream jc2 tokA 1
check_eq "answers that are 200, the job's bytes, X-Cache MISS" \
    "$(count_answers b "$N" 200 "$IT_TMP/jc2.json" MISS)" "$N"

tcase "waiters share an error answer too (404)"
printf '{"error":"Job not found"}' >"$IT_TMP/404.json"
fake_job jc3 "owner=tokA&delay=800&status=404" '{"error":"Job not found"}'
burst jc3 tokA 10 c
check_upstream jc3 tokA 1
check_eq "answers that are the 404" "$(count_answers c 10 404 "$IT_TMP/404.json" MISS)" 10

tcase "two tokens at once: one upstream request each, never shared"
job_record jc4 pending >"$IT_TMP/jc4.json"
fake_job_file jc4 "owner=tokA&owner=tokB&delay=1000" "$IT_TMP/jc4.json"
burst jc4 tokA 8 d &
p1=$!
burst jc4 tokB 8 e &
wait $p1 $!
check_upstream jc4 tokA 1
check_upstream jc4 tokB 1
check_eq "token A answers" "$(count_answers d 8 200 "$IT_TMP/jc4.json" MISS)" 8
check_eq "token B answers" "$(count_answers e 8 200 "$IT_TMP/jc4.json" MISS)" 8

tcase "the first waiter hangs up: the others still get the one fetch"
job_record jc6 pending >"$IT_TMP/jc6.json"
fake_job_file jc6 "owner=tokA&delay=1000" "$IT_TMP/jc6.json"
curl -s --max-time 0.6 -o /dev/null -H "Authorization: Bearer tokA" \
    "$LP/v1/luma/jobs/jc6" &
quitter=$!
# The others come once the first one's fetch is upstream (1 s long), before
# the first one gives up.
check "upstream has the first one's fetch" wait_for 5000 fetches_at_least jc6 tokA 1
burst jc6 tokA 5 h
wait $quitter
check_upstream jc6 tokA 1
check_eq "answers to those who stayed" "$(count_answers h 5 200 "$IT_TMP/jc6.json" MISS)" 5

tcase "an owner and a stranger at once: the stranger gets upstream's 403"
printf '{"error":"Job does not belong to this user"}' >"$IT_TMP/403.json"
job_record jc5 pending >"$IT_TMP/jc5.json"
fake_job_file jc5 "owner=tokA&delay=1000" "$IT_TMP/jc5.json"
burst jc5 tokA 5 f &
p1=$!
# The stranger comes while the owner's fetch (1 s long) is upstream.
check "upstream has the owner's fetch" wait_for 5000 fetches_at_least jc5 tokA 1
burst jc5 tokX 5 g &
wait $p1 $!
check_upstream jc5 tokA 1
check_upstream jc5 tokX 1
check_eq "owner answers" "$(count_answers f 5 200 "$IT_TMP/jc5.json" MISS)" 5
# The 403 comes at once: later ones are a negative HIT, not a second call.
check_eq "stranger answers (403)" "$(count_answers g 5 403 "$IT_TMP/403.json" 'MISS|HIT')" 5

finish
