#!/usr/bin/env bash
# SPEC 5: SIGINT/SIGTERM stop accepting, let requests in flight finish (at
# most 5 s), close the database cleanly and exit 0.
. "${TESTS_SRCDIR:-$(dirname "$0")}/lib.sh"

start_fakeup

tcase "SIGTERM while a client waits for a slow upstream"
must_start_proxy --pending-interval 1
job_completed jsd1 >"$IT_TMP/jsd1.json"
fake_job_file jsd1 "owner=tokA&delay=1500" "$IT_TMP/jsd1.json"
curl -sS --max-time 10 -o "$IT_TMP/slow.body" -w '%{http_code}' \
    -H "Authorization: Bearer tokA" "$LP/v1/luma/jobs/jsd1" \
    >"$IT_TMP/slow.status" 2>"$IT_TMP/slow.err" &
client=$!
check "the request is in flight (upstream has it)" wait_for 5000 fetches_at_least jsd1 tokA 1
start=$(date +%s%N)
kill -TERM "$LP_PID"
check "lumaproxy says it drains" wait_for 5000 grep -qE 'finishing [0-9]+ requests in flight' "$LP_ERR"
http -H "Authorization: Bearer tokA" "$LP/v1/luma/jobs/jsd1"
check_eq "a new connection while draining is refused (curl exit 7)" "$CURL_RC" 7
wait "$client"
check_eq "the waiting client's curl exit" "$?" 0
check_eq "the waiting client's status" "$(cat "$IT_TMP/slow.status")" 200
check "the waiting client's body" cmp -s "$IT_TMP/jsd1.json" "$IT_TMP/slow.body"
stop_proxy TERM 8
elapsed=$((($(date +%s%N) - start) / 1000000))
check_eq "exit status" "$LP_RC" 0
check_lt "ms from SIGTERM to exit" "$elapsed" 6000
check_not "the -wal file is gone (database closed cleanly)" [ -s "$IT_TMP/lp.db-wal" ]

tcase "the answer given during the drain was committed"
must_start_proxy --pending-interval 1 --offline
get jsd1
check_status 200
check_cache HIT
check_upstream jsd1 tokA 1
stop_proxy

tcase "SIGINT on an idle proxy: exit 0 at once"
must_start_proxy --pending-interval 1
start=$(date +%s%N)
stop_proxy INT 5
elapsed=$((($(date +%s%N) - start) / 1000000))
check_eq "exit status" "$LP_RC" 0
check_lt "ms from SIGINT to exit" "$elapsed" 1000

tcase "SIGTERM with an upstream slower than the 5 s drain: exit 0 within ~6 s"
must_start_proxy --pending-interval 1
fake_job jsd2 "owner=tokA&delay=20000" "$(job_record jsd2 pending)"
curl -sS --max-time 15 -o "$IT_TMP/slow2.body" -w '%{http_code}' \
    -H "Authorization: Bearer tokA" "$LP/v1/luma/jobs/jsd2" \
    >"$IT_TMP/slow2.status" 2>/dev/null &
client=$!
check "the request is in flight (upstream has it)" wait_for 5000 fetches_at_least jsd2 tokA 1
start=$(date +%s%N)
stop_proxy TERM 10
elapsed=$((($(date +%s%N) - start) / 1000000))
check_eq "exit status" "$LP_RC" 0
check_lt "ms from SIGTERM to exit" "$elapsed" 6500
wait "$client"
check_re "the cut-short client got an answer or a closed connection" \
    "$(cat "$IT_TMP/slow2.status")" '^(5[0-9][0-9]|000)$'

tcase "idle keep-alive connections do not hold the exit back"
must_start_proxy --pending-interval 1
exec 5<>"/dev/tcp/127.0.0.1/$LP_PORT"
start=$(date +%s%N)
stop_proxy TERM 8
elapsed=$((($(date +%s%N) - start) / 1000000))
exec 5<&-
check_eq "exit status" "$LP_RC" 0
check_lt "ms from SIGTERM to exit" "$elapsed" 1000

finish
