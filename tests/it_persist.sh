#!/usr/bin/env bash
# SPEC 1, 2.4: finished jobs survive restarts, and a terminal result is
# committed before the answer that carries it (kill -9 right after it),
# also when several arrive together and share a commit; one that cannot
# be committed is relayed without "stored" (detail=store-failed).
. "${TESTS_SRCDIR:-$(dirname "$0")}/lib.sh"

start_fakeup
must_start_proxy --pending-interval 1

DONE=$(job_completed jpers1)
fake_job jpers1 "owner=tokA" "$DONE"

tcase "the first answer is a MISS"
get jpers1
check_status 200
check_cache MISS
check_upstream jpers1 tokA 1

tcase "after a clean restart: HIT, no upstream call"
stop_proxy
check_eq "exit status after SIGTERM" "$LP_RC" 0
must_start_proxy --pending-interval 1
check "the start line counts the job" grep -q "(1 jobs, 1 finished)" "$LP_ERR"
get jpers1
check_status 200
check_cache HIT
check_body "$DONE"
check_upstream jpers1 tokA 1

tcase "kill -9 right after the first answer: the job is still there"
fake_job jpers2 "owner=tokA" "$(job_completed jpers2)"
get jpers2
check_status 200
check_cache MISS
kill -KILL "$LP_PID"
wait "$LP_PID" 2>/dev/null
_forget "$LP_PID"
must_start_proxy --pending-interval 1
get jpers2
check_status 200
check_cache HIT
check_body "$(job_completed jpers2)"
check_upstream jpers2 tokA 1

tcase "a failed job survives too"
fake_job jpers3 "owner=tokA" '{"jobid":"jpers3","status":"failed"}'
get jpers3
check_status 200
stop_proxy KILL
must_start_proxy --pending-interval 1
get jpers3
check_cache HIT
check_body '{"jobid":"jpers3","status":"failed"}'
check_upstream jpers3 tokA 1

tcase "grants survive: another token still goes upstream after a restart"
get jpers1 tokB
check_status 403
check_upstream jpers1 tokB 1

tcase "a pending snapshot survives a restart (served offline as STALE)"
fake_job jpers4 "owner=tokA" "$(job_record jpers4 pending)"
get jpers4
check_status 200
stop_proxy
must_start_proxy --pending-interval 1 --offline
get jpers4
check_status 200
check_cache STALE
check_body "$(job_record jpers4 pending)"
check_upstream jpers4 tokA 1

tcase "20 finished jobs asked at once: each a MISS, stored; after kill -9, HITs"
stop_proxy
must_start_proxy --pending-interval 1 --log-level debug
for i in $(seq 1 20); do
	fake_job "jgrp$i" "owner=tokA&delay=100" "$(job_completed "jgrp$i")"
done
grp=()
for i in $(seq 1 20); do
	curl -sS --max-time "$IT_CURL_MAX" -o "$IT_TMP/grp$i.body" \
	    -D "$IT_TMP/grp$i.hdrs" -H "Authorization: Bearer tokA" \
	    "$LP/v1/luma/jobs/jgrp$i" 2>/dev/null &
	grp+=($!)
done
wait "${grp[@]}"
ok=0
for i in $(seq 1 20); do
	tr -d '\r' <"$IT_TMP/grp$i.hdrs" >"$IT_TMP/grp.h"
	grep -q '^HTTP/1.1 200' "$IT_TMP/grp.h" &&
	    grep -qix 'x-cache: MISS' "$IT_TMP/grp.h" &&
	    grep -qix 'cache-status: lumaproxy; fwd=miss; stored' "$IT_TMP/grp.h" &&
	    [ "$(cat "$IT_TMP/grp$i.body")" = "$(job_completed "jgrp$i")" ] &&
	    ok=$((ok + 1))
done
check_eq "answers 200, MISS, stored, with the job's bytes" "$ok" 20
check_eq "jobs in the commits the debug log counts" "$(sed -n \
    's/.* cache: \([0-9]*\) jobs* in one commit$/\1/p' "$LP_ERR" |
    awk '{ n += $1 } END { print n + 0 }')" 20
echo "# in $(grep -c ' in one commit$' "$LP_ERR") commits"
kill -KILL "$LP_PID"
wait "$LP_PID" 2>/dev/null
_forget "$LP_PID"
must_start_proxy --pending-interval 1
ok=0
for i in $(seq 1 20); do
	get "jgrp$i"
	[ "$STATUS" = 200 ] && [ "$(header X-Cache)" = HIT ] &&
	    [ "$BODY" = "$(job_completed "jgrp$i")" ] &&
	    [ "$(fake_count "jgrp$i" tokA)" = 1 ] && ok=$((ok + 1))
done
check_eq "HITs after the restart, upstream asked once each" "$ok" 20

tcase "a job that cannot be committed (another process writes): relayed, not stored"
need_python
"$IT_PYTHON" - "$IT_TMP/lp.db" >"$IT_TMP/held.out" 2>&1 <<'PY' &
import sqlite3, sys, time
c = sqlite3.connect(sys.argv[1], isolation_level=None, timeout=10)
c.execute("BEGIN IMMEDIATE")
print("held", flush=True)
time.sleep(2)	# the database held that long is the test
c.execute("COMMIT")
PY
held=$!
IT_PIDS+=("$held")
check "another process holds the database" wait_for 5000 grep -q held "$IT_TMP/held.out"
fake_job jpers5 "owner=tokA" "$(job_completed jpers5)"
get jpers5
check_status 200
check_cache MISS
check_header Cache-Status "lumaproxy; fwd=miss; detail=store-failed"
check_body "$(job_completed jpers5)"
wait "$held"
_forget "$held"
get jpers5
check_status 200
check_cache MISS
check_header Cache-Status "lumaproxy; fwd=miss; stored"
check_upstream jpers5 tokA 2
get jpers5
check_cache HIT
check_upstream jpers5 tokA 2

finish
