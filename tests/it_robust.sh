#!/usr/bin/env bash
# Hostile or odd clients never take the proxy down: garbage, huge headers,
# silent connections, clients that hang up while waiting; and
# --max-connections answers further clients 503 until a connection closes.
. "${TESTS_SRCDIR:-$(dirname "$0")}/lib.sh"

start_fakeup
must_start_proxy --pending-interval 1
fake_job jrob "" "$(job_completed jrob)"

# sockets_at_least N, sockets_at_most N: lumaproxy holds N sockets or
# more, or N or fewer (from /proc).
sockets_at_least() {
	[ "$(find "/proc/$LP_PID/fd" -lname 'socket:*' 2>/dev/null | wc -l)" -ge "$1" ]
}

sockets_at_most() {
	[ "$(find "/proc/$LP_PID/fd" -lname 'socket:*' 2>/dev/null | wc -l)" -le "$1" ]
}

# lines_at_least TEXT N: N lines of lumaproxy's log or more hold TEXT.
lines_at_least() {
	[ "$(grep -c -- "$1" "$LP_ERR")" -ge "$2" ]
}

# still_serving: a normal request is answered.
still_serving() {
	get jrob
	check_eq "a normal request afterwards: status" "$STATUS" 200
	check "lumaproxy is still running" kill -0 "$LP_PID"
}

tcase "garbage bytes on the socket"
head -c 4096 /dev/urandom | raw_http "$LP_PORT" "$IT_TMP/garbage.out"
printf '\x00\x01\x02GARBAGE\r\n\r\n' | raw_http "$LP_PORT" "$IT_TMP/garbage2.out"
printf 'GET /v1/luma/jobs/jrob HTTP/9.9\r\n\r\n' | raw_http "$LP_PORT" "$IT_TMP/garbage3.out"
printf 'GET\r\n\r\n' | raw_http "$LP_PORT" "$IT_TMP/garbage4.out"
still_serving

tcase "a 100 KB header"
big=$(head -c 102400 /dev/zero | tr '\0' 'a')
http -H "X-Big: $big" -H "Authorization: Bearer tokA" "$LP/v1/luma/jobs/jrob"
check_re "answer (4xx or a closed connection)" "$STATUS" '^(4[0-9][0-9]|000)$'
http -H "Authorization: Bearer $big" "$LP/v1/luma/jobs/jrob"
check_re "100 KB Authorization: answer" "$STATUS" '^(4[0-9][0-9]|000)$'
still_serving

tcase "a request body on GET is ignored"
http -X GET --data-binary 'hello' -H "Authorization: Bearer tokA" "$LP/v1/luma/jobs/jrob"
check_status 200
check_body "$(job_completed jrob)"

tcase "a client that connects and sends nothing"
exec 5<>"/dev/tcp/127.0.0.1/$LP_PORT"
still_serving
tcase "a client that sends half a request"
exec 6<>"/dev/tcp/127.0.0.1/$LP_PORT"
printf 'GET /v1/luma/jobs/jrob HTTP/1.1\r\nHost: x\r\n' >&6
still_serving
exec 5<&- 6<&-

tcase "a client that hangs up while waiting for a slow upstream"
fake_job jrob2 "delay=1500" "$(job_record jrob2 pending)"
http --max-time 0.5 -H "Authorization: Bearer tokA" "$LP/v1/luma/jobs/jrob2"
check_eq "curl gave up (exit 28)" "$CURL_RC" 28
still_serving
sleep 1.5	# past the time upstream answers the abandoned call (the test)
still_serving
check "the abandoned request is logged as 499" \
    wait_for 5000 lines_at_least " GET /v1/luma/jobs/jrob2 499 " 1

tcase "many clients hang up at once while waiting: the upstream call is cancelled"
fake_job jrob3 "delay=1000" "$(job_record jrob3 pending)"
gone0=$(fake_gone)
pids=()
for i in $(seq 1 10); do
	curl -s --max-time 0.3 -o /dev/null -H "Authorization: Bearer tokA" \
	    "$LP/v1/luma/jobs/jrob3" &
	pids+=($!)
done
wait "${pids[@]}"
wait_for 5000 lines_at_least ' GET /v1/luma/jobs/jrob3 499 ' 10	# it has seen every hang-up
check_eq "hang-ups logged as 499" "$(grep -c ' GET /v1/luma/jobs/jrob3 499 ' "$LP_ERR")" 10
calls=$(fake_count jrob3 tokA)
check "upstream was asked while they waited" test "$calls" -ge 1
get jrob3
check_eq "a later poll: status" "$STATUS" 200
# fakeup's gone: the proxy closed its upstream connection before the answer.
check_eq "upstream calls cancelled before their answer" "$(($(fake_gone) - gone0))" "$calls"
check_upstream jrob3 tokA $((calls + 1))	# nothing was stored from them
still_serving

tcase "pipelined requests on one connection"
printf 'GET /v1/luma/jobs/jrob HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer tokA\r\n\r\nGET /v1/luma/jobs/jrob HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer tokA\r\nConnection: close\r\n\r\n' |
	raw_http "$LP_PORT" "$IT_TMP/pipe.out"
check_eq "answers" "$(grep -o 'HTTP/1.1 200 OK' "$IT_TMP/pipe.out" | wc -l)" 2
still_serving
stop_proxy
check_eq "exit status after all this" "$LP_RC" 0

tcase "--max-connections 2: a third client is answered 503 until one closes"
must_start_proxy --pending-interval 1 --max-connections 2
s0=$(find "/proc/$LP_PID/fd" -lname 'socket:*' 2>/dev/null | wc -l)
exec 5<>"/dev/tcp/127.0.0.1/$LP_PORT"
exec 6<>"/dev/tcp/127.0.0.1/$LP_PORT"
check "lumaproxy has accepted both" wait_for 5000 sockets_at_least $((s0 + 2))
http --max-time 3 -H "Authorization: Bearer tokA" "$LP/v1/luma/jobs/jrob"
check_eq "third client: status" "$STATUS" 503
check_body '{"error":"Too many connections"}'
check_header Connection close
exec 5<&-
check "lumaproxy has seen one close" wait_for 5000 sockets_at_most $((s0 + 1))
http --max-time 3 -H "Authorization: Bearer tokA" "$LP/v1/luma/jobs/jrob"
check_eq "after one closed: status" "$STATUS" 200
exec 6<&-
check "lumaproxy has seen both close" wait_for 5000 sockets_at_most "$s0"
for i in 1 2 3; do
	get jrob
	check_eq "after both closed, request $i: status" "$STATUS" 200
done
check "lumaproxy is still running" kill -0 "$LP_PID"

finish
