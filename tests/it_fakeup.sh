#!/usr/bin/env bash
# The fake upstream itself, without the proxy: what the other tests rely on
# (defaults, scripted steps, counters, request log, reset, --demo, signals).
. "${TESTS_SRCDIR:-$(dirname "$0")}/lib.sh"

start_fakeup
LP=$FAKE	# get() then talks to fakeup directly

tcase "defaults: unknown job 404, token bad 401, no token 401"
get junknown
check_status 404
check_body '{"error":"Job not found"}'
check_json_type
get junknown bad
check_status 401
check_body '{"error":"Unauthorized"}'
get junknown -
check_status 401

tcase "a scripted job: owner sees it, others get 403"
fake_job "j:a@b" "owner=tokA" '{"status":"pending"}'
get "j:a@b"
check_status 200
check_body '{"status":"pending"}'
get "j%3Aa%40b"
check_status 200
get "j:a@b" tokB
check_status 403
check_body '{"error":"Job does not belong to this user"}'

tcase "steps in order, the last repeats; step options"
fake_job js "" 'one'
fake_then js "status=500&retry-after=7&type=text/plain" 'two'
fake_then js "delay=600" 'three'
get js
check_eq "step 1" "$STATUS $BODY" "200 one"
get js
check_eq "step 2" "$STATUS $BODY" "500 two"
check_header Retry-After 7
check_header Content-Type text/plain
start=$(date +%s%N)
get js
check_eq "step 3" "$STATUS $BODY" "200 three"
check_re "step 3 took 600 ms or more" "$((($(date +%s%N) - start) / 1000000))" '^([6-9][0-9]{2}|[0-9]{4,})$'
get js
check_eq "step 3 again" "$STATUS $BODY" "200 three"

tcase "close=1 drops the connection; size= pads a record with spaces"
fake_job jclose "close=1"
get jclose
check_eq "curl: empty reply (exit 52)" "$CURL_RC" 52
fake_job jsize "size=3000"
get jsize
check_eq "body bytes" "$(wc -c <"$BODYF")" 3000
check_re "body" "$BODY" '^\{"status":"pending"\} +$'

tcase "exact body bytes, trailing newline included"
printf 'a\r\n\tb \n\n' >"$IT_TMP/exact"
fake_job_file jexact "" "$IT_TMP/exact"
get jexact
check_body_file "$IT_TMP/exact"

tcase "counters and request log"
curl -sS "$FAKE/_fake/stats" >"$IT_TMP/stats"
check "a total line" grep -Eq '^total [0-9]+$' "$IT_TMP/stats"
check_upstream "j:a@b" tokA 2
check_upstream "j:a@b" tokB 1
check_upstream junknown - 1
check_upstream js tokA 4
check "the request log has raw URIs" grep -qx 'tokA /v1/luma/jobs/j%3Aa%40b' <(fake_requests)
http -H "Authorization: Bearer tokA" "$FAKE/v1/luma/jobs/j1/extra?q=1"
check_status 404
check "other /v1/ paths are counted too" grep -qx 'tokA /v1/luma/jobs/j1/extra?q=1' <(fake_requests)

tcase "reset forgets everything"
fake_reset
check_total 0
check_eq "request log" "$(fake_requests)" ""
get "j:a@b"
check_status 404

tcase "bad steps are refused"
code=$(curl -sS -o /dev/null -w '%{http_code}' -X PUT "$FAKE/_fake/jobs/jx?status=abc")
check_eq "status=abc" "$code" 400
code=$(curl -sS -o /dev/null -w '%{http_code}' -X PUT "$FAKE/_fake/jobs/jx?delay=-1")
check_eq "delay=-1" "$code" 400

tcase "SIGTERM: exit 0"
kill -TERM "$FAKE_PID"
wait "$FAKE_PID"
check_eq "exit status" "$?" 0
_forget "$FAKE_PID"

tcase "--demo: pending, pending, processing, completed per job and token"
start_fakeup --demo
LP=$FAKE
for want in pending pending processing completed completed; do
	get "$SPEC_JOBID" tokD
	check_re "status" "$BODY" "\"status\": \"$want\""
done
check_re "video URL" "$BODY" "\"url\": \"$FAKE/media/[^\"]+/video\\.mp4\""
get "$SPEC_JOBID" tokE
check_re "another token starts over" "$BODY" '"status": "pending"'
if command -v jq >/dev/null 2>&1; then
	get "$SPEC_JOBID" tokD
	check_eq "jobid in the record" "$(jq -r .jobid "$BODYF")" "$SPEC_JOBID"
	url=$(jq -r .response.video.url "$BODYF")
	http "$url"
	check_status 200
	check_header Content-Type video/mp4
fi
check_eq "one log line per request" "$(grep -c '^fakeup: GET ' "$IT_TMP/fakeup.err")" "$(fake_total)"

tcase "command line"
timeout 5 "$FAKEUP" -l nonsense >/dev/null 2>"$IT_TMP/bad.err"
check_not "a bad -l fails" [ "$?" -eq 0 ]
timeout 5 "$FAKEUP" -l "127.0.0.1:$FAKE_PORT" >/dev/null 2>"$IT_TMP/busy.err"
check_not "a busy port fails" [ "$?" -eq 0 ]

finish
