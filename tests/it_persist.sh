#!/usr/bin/env bash
# SPEC 1, 2.4: finished jobs survive restarts, and a terminal result is
# committed before the answer that carries it (kill -9 right after it).
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

finish
