#!/usr/bin/env bash
# The fake upstream itself, without the proxy: what the other tests rely on
# (defaults, scripted steps, counters, request log, reset, --demo,
# --completed, signals).
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

tcase "echo: method, raw request-target, headers in order, body length and sha256"
t0=$(fake_total)
printf '{"a":1}\n' >"$IT_TMP/echo.body"
target='/v1/e/a%2Fb+c;d?x=%2F&x=2&y=a+b;c&flag'
http --path-as-is -X POST -H "Authorization: Bearer tokA" -H "X-One: 1" \
    -H "X-Dup: a" -H "X-Dup: b" -H "Content-Type: application/json" \
    --data-binary @"$IT_TMP/echo.body" "$FAKE$target"
check_status 200
check_json_type
if IT_PYTHON=$(python3 -c 'import sys; print(sys.executable)' 2>/dev/null) &&
    [ -n "$IT_PYTHON" ]; then
	check_eq "method" "$(json_get method)" POST
	check_eq "uri" "$(json_get uri)" "$target"
	check_eq "body_len" "$(json_get body_len)" "$(wc -c <"$IT_TMP/echo.body")"
	check_eq "body_sha256" "$(json_get body_sha256)" "$(sha256_of "$IT_TMP/echo.body")"
	check_eq "Authorization" "$(echo_header Authorization)" "Bearer tokA"
	check_eq "X-Dup, both in order" "$(echo_header X-Dup | paste -sd, -)" "a,b"
	check_eq "header order" "$(echo_header_names | grep -E '^(X-One|X-Dup|Content-Type)$' | paste -sd, -)" \
	    "X-One,X-Dup,X-Dup,Content-Type"
else
	unset IT_PYTHON
	skip "the echo's fields" "python3 does not run here"
fi
check_body_re '"body_sha256":"[0-9a-f]{64}"'
for h in "X-Echo 1" "Keep-Alive timeout=5" "Trailer X-Never" "Upgrade h2c" \
    "Proxy-Authenticate Basic" "X-Hop 1" "Connection X-Hop"; do
	check_header "${h%% *}" "${h#* }"
done
check_total $((t0 + 1))
check "counted under its path" grep -qx "job /v1/e/a%2Fb+c;d tokA 1" <(curl -sS --max-time 5 "$FAKE/_fake/stats")
check "logged with its raw URI" grep -qxF "tokA $target" <(fake_requests)

tcase "echo: every method; HEAD gets headers only"
for m in GET PUT PATCH DELETE OPTIONS; do
	http -X "$m" "$FAKE/v1/m"
	check_re "$m" "$STATUS $BODY" "^200 \\{\"method\":\"$m\","
done
http -I "$FAKE/v1/m?x=1"
check_status 200
check_header X-Echo 1
check_header_re Content-Length '^[0-9]+$'
printf 'HEAD /v1/m HTTP/1.0\r\n\r\n' | raw_http "$FAKE_PORT" "$IT_TMP/fhead.raw"
check_eq "bytes after the HEAD answer's headers" \
    "$(awk 'found { print } /^\r?$/ { found = 1 }' "$IT_TMP/fhead.raw" | wc -c)" 0

tcase "echo controls: _status, _delay, _close, bad values"
http "$FAKE/v1/c?_status=503"
check_status 503
check_body_re '^\{"method":"GET","uri":"/v1/c\?_status=503",'
http "$FAKE/v1/c?_status=204"
check_eq "204: status, body" "$STATUS $BODY" "204 "
start=$(now_ms)
http "$FAKE/v1/c?_delay=600"
check_status 200
check "answered after 600 ms or more" [ $(($(now_ms) - start)) -ge 600 ]
http "$FAKE/v1/c?_close=1"
check_eq "curl: empty reply (exit 52)" "$CURL_RC" 52
http "$FAKE/v1/c?_status=abc"
check_eq "_status=abc: status, body" "$STATUS $BODY" '400 {"error":"bad _status"}'

tcase "gone counts the answers whose client left before they were due"
g0=$(fake_gone)
fake_job jgone "delay=800" "$(job_record jgone pending)"
t0=$(now_ms)
http --max-time 0.3 -H "Authorization: Bearer tokA" "$FAKE/v1/luma/jobs/jgone"
check_eq "the client gave up (curl exit 28)" "$CURL_RC" 28
http "$FAKE/v1/c?_delay=300"
check_status 200
# The time the first answer was due passes (it must not count twice);
# then the count of the hang-up, which fakeup sees when it comes.
sleep_until "$t0" 1000
gone_moved() { [ "$(($(fake_gone) - g0))" -ge 1 ]; }
wait_for 5000 gone_moved
check_eq "gone moved by (one left, one waited)" "$(($(fake_gone) - g0))" 1

tcase "echo _size: the pattern, with Content-Length, chunked, or cut short"
pattern_file 1000000 "$IT_TMP/pat"
http "$FAKE/v1/d?_size=1000000"
check_status 200
check_header Content-Length 1000000
check_header Content-Type application/octet-stream
check_header X-Echo 1
check_body_file "$IT_TMP/pat"
check_eq "the pattern's first bytes" "$(head -c 30 "$BODYF")" abcdefghijklmnopqrstuvwxyzabcd
http "$FAKE/v1/d?_size=1000000&_chunked=1"
check_status 200
check_header Transfer-Encoding chunked
check_no_header Content-Length
check_body_file "$IT_TMP/pat"
http "$FAKE/v1/d?_size=1000000&_cut=1000"
check_eq "cut: curl exit 18 (partial file), bytes" "$CURL_RC $(wc -c <"$BODYF")" "18 1000"
http "$FAKE/v1/d?_size=1000000&_cut=1000&_chunked=1"
check_eq "cut, chunked: curl exit 18, bytes" "$CURL_RC $(wc -c <"$BODYF")" "18 1000"
http "$FAKE/v1/d?_size=0"
check_eq "_size=0: status, Content-Length, bytes" "$STATUS $(header Content-Length) $(wc -c <"$BODYF")" "200 0 0"
printf 'HEAD /v1/d?_size=1000000 HTTP/1.0\r\n\r\n' | raw_http "$FAKE_PORT" "$IT_TMP/fhead2.raw"
check_re "HEAD: Content-Length" "$(tr -d '\r' <"$IT_TMP/fhead2.raw" | grep -i '^Content-Length:')" ' 1000000$'
check_eq "HEAD: bytes after the headers" \
    "$(awk 'found { print } /^\r?$/ { found = 1 }' "$IT_TMP/fhead2.raw" | wc -c)" 0
http --max-time 0.5 --limit-rate 200k "$FAKE/v1/d?_size=50000000&_delay=100"
check_eq "a client that leaves mid-stream: curl exit 28" "$CURL_RC" 28
http "$FAKE/v1/d?_size=100"
check_eq "fakeup still answers afterwards" "$STATUS $(wc -c <"$BODYF")" "200 100"
fake_reset

tcase "submissions: a video job for its token, pending twice, then completed"
http -X POST -H "Authorization: Bearer tokS" --data-binary '{"prompt":"x"}' "$FAKE/v1/luma/videos?async=true"
check_status 200
check_json_type
check_body_re '^\{"jobid":"j[0-9]+-[0-9a-z]{10}","status":"created"\}$'
sj=${BODY#*\"jobid\":\"}
sj=${sj%%\"*}
for want in pending pending completed completed; do
	get "$sj" tokS
	check_eq "status, job status" "$STATUS $(grep -o '"status": "[a-z]*"' "$BODYF")" "200 \"status\": \"$want\""
done
check_re "type video, its jobid" "$BODY" "\"jobid\": \"$sj\",
  \"type\": \"video\""
check_re "a video URL" "$BODY" '"url": "[^"]+/video\.mp4"'
get "$sj" tokT
check_eq "another token: status" "$STATUS" 403
http -X POST -H "Authorization: Bearer tokS" "$FAKE/v1/luma/images"
check_status 200
ij=${BODY#*\"jobid\":\"}
ij=${ij%%\"*}
check_not "a fresh jobid each time" [ "$ij" = "$sj" ]
get "$ij" tokS
get "$ij" tokS
get "$ij" tokS
check_re "an image job, completed on the third fetch" "$BODY" '"type": "image",
  "status": "completed"'
check_re "an image URL" "$BODY" '"url": "[^"]+/image\.jpg"'
check_upstream "$sj" tokS 4
check_upstream /v1/luma/videos tokS 1

tcase "submission controls: _status, _nojobid, no token (nothing created); _delay"
http -X POST -H "Authorization: Bearer tokS" "$FAKE/v1/luma/videos?_status=500"
check_eq "_status=500" "$STATUS $BODY" '500 {"error":"Scripted submission failure (500)"}'
http -X POST -H "Authorization: Bearer tokS" "$FAKE/v1/luma/images?_nojobid=1"
check_eq "_nojobid=1" "$STATUS $BODY" '200 {"status":"created"}'
http -X POST "$FAKE/v1/luma/videos"
check_eq "no token" "$STATUS $BODY" '401 {"error":"Unauthorized"}'
http -X GET "$FAKE/v1/luma/videos"
check_re "GET /v1/luma/videos is echoed" "$STATUS $BODY" '^200 \{"method":"GET"'
t0=$(now_ms)
http -X POST -H "Authorization: Bearer tokS" "$FAKE/v1/luma/videos?_delay=300"
check_re "_delay=300: a job, answered" "$STATUS $BODY" '^200 \{"jobid":"j[0-9]+-[0-9a-z]{10}","status":"created"\}$'
check "_delay=300: answered after $(($(now_ms) - t0)) ms, 300 or more" \
    [ $(($(now_ms) - t0)) -ge 300 ]
fake_reset
get "$sj" tokS
check_eq "reset forgets submitted jobs" "$STATUS" 404

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
if ! jq -n true >/dev/null 2>&1; then
	skip "the demo record's jobid and video URL" "jq does not run here"
else
	get "$SPEC_JOBID" tokD
	check_eq "jobid in the record" "$(jq -r .jobid "$BODYF")" "$SPEC_JOBID"
	url=$(jq -r .response.video.url "$BODYF")
	http "$url"
	check_status 200
	check_header Content-Type video/mp4
fi
check_eq "one log line per request" "$(grep -c '^fakeup: GET ' "$IT_TMP/fakeup.err")" "$(fake_total)"

tcase "--completed: any new jobid is a completed job at once, counted in total only"
stop_fakeup
start_fakeup --completed
LP=$FAKE
for j in jnew1 jnew2 "$SPEC_JOBID"; do
	get "$j" tokC
	check_status 200
	check_re "$j completed at its first fetch" "$BODY" '"status": "completed"'
done
get jnew1 tokD
check_re "any token" "$BODY" '"status": "completed"'
get jnew1 bad
check_status 401
get xnew1 tokC
check_status 404
fake_job jscr "owner=tokA" '{"status":"pending"}'
get jscr tokA
check_body '{"status":"pending"}'
get jscr tokC
check_status 403
check_eq "total" "$(fake_total)" 8
check_eq "stats: no line for the unscripted jobs" \
    "$(curl -sS "$FAKE/_fake/stats" | grep -c '^job jnew' || true)" 0

tcase "command line"
timeout 5 "$FAKEUP" -l nonsense >/dev/null 2>"$IT_TMP/bad.err"
check_not "a bad -l fails" [ "$?" -eq 0 ]
timeout 5 "$FAKEUP" -l "127.0.0.1:$FAKE_PORT" >/dev/null 2>"$IT_TMP/busy.err"
check_not "a busy port fails" [ "$?" -eq 0 ]

finish
