#!/usr/bin/env bash
# SPEC 2.2, 7: one access line per request on stderr (time, client, method,
# path, status, X-Cache, upstream status, duration, token fingerprint); the
# raw token appears nowhere, neither in the logs nor in the database files;
# --log-format json gives one JSON object per line.
. "${TESTS_SRCDIR:-$(dirname "$0")}/lib.sh"

need_cmd sha256sum
start_fakeup

TOKEN="sk-secret-TOKEN-4f9a2c71e0"	# must never be written anywhere
TOKEN2="other-Secret-77b1"
FP=$(fingerprint "$TOKEN")
LP_DB=$IT_TMP/log.db
must_start_proxy --pending-interval 1 --negative-ttl 30

fake_job jlog1 "owner=$TOKEN" "$(job_completed jlog1)"
fake_job jlog2 "owner=$TOKEN" "$(job_record jlog2 pending)"

# access_lines: the access lines of the current proxy (not the info lines).
access_lines() {
	grep -E '^[0-9T:.Z-]+ [0-9.]+:[0-9]+ ' "$LP_ERR"
}

# access_lines_at_least N: the proxy has written N access lines or more.
access_lines_at_least() {
	[ "$(access_lines | wc -l)" -ge "$1" ]
}

tcase "text access lines"
get jlog1 "$TOKEN"		# MISS, upstream 200
get jlog1 "$TOKEN"		# HIT
get jlog404 "$TOKEN"		# MISS, upstream 404
get "x-bad" "$TOKEN"		# 400, no token checked
get jlog1 -			# 401
http -X POST -H "Authorization: Bearer $TOKEN" "$LP/v1/luma/jobs/jlog1"	# 405
get jlog2 "$TOKEN2"		# 403 from upstream
wait_for 5000 access_lines_at_least 7
check_eq "access lines for 7 requests" "$(access_lines | wc -l)" 7
mapfile -t L < <(access_lines)
# time client method path status cache upstream duration token
check_re "MISS line" "${L[0]}" "^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:.]+Z 127\.0\.0\.1:[0-9]+ GET /v1/luma/jobs/jlog1 200 MISS 200 [0-9]+ms $FP\$"
check_re "HIT line" "${L[1]}" " GET /v1/luma/jobs/jlog1 200 HIT - [0-9]+ms $FP\$"
check_re "404 line" "${L[2]}" " GET /v1/luma/jobs/jlog404 404 MISS 404 [0-9]+ms $FP\$"
check_re "400 line" "${L[3]}" " GET /v1/luma/jobs/x-bad 400 - - [0-9]+ms -\$"
check_re "401 line" "${L[4]}" " GET /v1/luma/jobs/jlog1 401 - - [0-9]+ms -\$"
check_re "405 line" "${L[5]}" " POST /v1/luma/jobs/jlog1 405 - - [0-9]+ms -\$"
check_re "403 line (other token)" "${L[6]}" " GET /v1/luma/jobs/jlog2 403 MISS 403 [0-9]+ms $(fingerprint "$TOKEN2")\$"

tcase "a hostile path cannot forge a log line"
http --path-as-is -H "Authorization: Bearer $TOKEN" "$LP/v1/luma/jobs/j%0Afake%20line"
wait_for 5000 access_lines_at_least 8
check_eq "access lines" "$(access_lines | wc -l)" 8
check_eq "lines containing 'fake line'" "$(grep -c 'fake line' "$LP_ERR")" 0

tcase "the raw token is never written"
http -H "Authorization: Basic $TOKEN" "$LP/v1/luma/jobs/jlog1"
http -H "Authorization: Bearer $TOKEN extra" "$LP/v1/luma/jobs/jlog1"
http -H "Authorization: Bearer $TOKEN" -H "Cache-Control: no-cache" "$LP/v1/luma/jobs/jlog1?token=x"
stop_proxy
check_eq "clean exit" "$LP_RC" 0
for f in "$LP_ERR" "$IT_TMP"/lumaproxy.*.out "$IT_TMP"/log.db*; do
	[ -e "$f" ] || continue
	check_eq "occurrences of the token in $(basename "$f")" \
	    "$(grep -c -a -F -- "$TOKEN" "$f")" 0
	check_eq "occurrences of token 2 in $(basename "$f")" \
	    "$(grep -c -a -F -- "$TOKEN2" "$f")" 0
done
check "the database holds the grant, by token_id" \
    grep -q -a "$(printf '%s' "$TOKEN" | sha256sum | cut -c1-64)" "$IT_TMP/log.db"

tcase "the token is not in the -wal file of a running proxy either"
must_start_proxy --pending-interval 1
fake_job jlog3 "owner=$TOKEN" "$(job_completed jlog3)"
get jlog3 "$TOKEN"
check_status 200
check "a -wal file exists while running" [ -f "$IT_TMP/log.db-wal" ]
for f in "$IT_TMP"/log.db*; do
	check_eq "occurrences of the token in $(basename "$f")" \
	    "$(grep -c -a -F -- "$TOKEN" "$f")" 0
done
stop_proxy

tcase "--log-level debug does not write the token either"
LP_DB=$IT_TMP/debug.db
must_start_proxy --pending-interval 1 --log-level debug
fake_job jlog4 "owner=$TOKEN" "$(job_record jlog4 pending)"
get jlog4 "$TOKEN"
get jlog4 "$TOKEN2"
get jlog404b "$TOKEN"
stop_proxy
check_eq "occurrences of the token on stderr" "$(grep -c -a -F -- "$TOKEN" "$LP_ERR")" 0
check_eq "occurrences of token 2 on stderr" "$(grep -c -a -F -- "$TOKEN2" "$LP_ERR")" 0
check_eq "Authorization on stderr" "$(grep -c -a -i 'authorization' "$LP_ERR")" 0

tcase "--log-format json: every line is a JSON object"
if ! jq -n true >/dev/null 2>&1; then
	skip "JSON log lines" "jq does not run here"
	finish
fi
LP_DB=$IT_TMP/json.db
# --max-connections well under any descriptor limit: no warning about it.
must_start_proxy --pending-interval 1 --log-format json --max-connections 64
get jlog1 "$TOKEN"
get jlog1 "$TOKEN"
get "x-bad" "$TOKEN"
get jlog1 -
stop_proxy
n=0
while IFS= read -r line; do
	n=$((n + 1))
	if printf '%s' "$line" | jq -e 'type == "object"' >/dev/null 2>&1; then
		pass "line $n is a JSON object"
	else
		fail "line $n" "a JSON object" "$line"
	fi
done <"$LP_ERR"
check_eq "lines: the start, 4 access lines, 2 at the stop" "$n" 7
jq -c 'select(has("method"))' <"$LP_ERR" >"$IT_TMP/access.jsonl" 2>/dev/null
check_eq "access lines" "$(wc -l <"$IT_TMP/access.jsonl")" 4
check_eq "keys of every access line" \
    "$(jq -c 'keys' "$IT_TMP/access.jsonl" | sort -u)" \
    '["cache","client","duration_ms","method","path","status","time","token","upstream_status"]'
check_eq "MISS line" "$(jq -c 'select(.cache == "MISS") | [.method, .path, .status, .upstream_status, .token]' "$IT_TMP/access.jsonl")" \
    "[\"GET\",\"/v1/luma/jobs/jlog1\",200,200,\"$FP\"]"
check_eq "HIT line" "$(jq -c 'select(.cache == "HIT") | [.status, .upstream_status, .token]' "$IT_TMP/access.jsonl")" \
    "[200,null,\"$FP\"]"
check_eq "400 line" "$(jq -c 'select(.status == 400) | [.path, .cache, .upstream_status, .token]' "$IT_TMP/access.jsonl")" \
    '["/v1/luma/jobs/x-bad",null,null,null]'
check_eq "types" "$(jq -r '[(.time|type), (.client|type), (.duration_ms|type)] | join(",")' "$IT_TMP/access.jsonl" | sort -u)" \
    "string,string,number"
check_re "time" "$(jq -r '.time' "$IT_TMP/access.jsonl" | head -n 1)" '^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:.]+Z$'
check_re "client" "$(jq -r '.client' "$IT_TMP/access.jsonl" | head -n 1)" '^127\.0\.0\.1:[0-9]+$'
check_eq "occurrences of the token" "$(grep -c -a -F -- "$TOKEN" "$LP_ERR")" 0

tcase "--access-log off: no request lines, the start and stop lines stay"
must_start_proxy --access-log off --max-connections 64
http "$LP/healthz"
check_status 200
http "$LP/nowhere"
check_status 404
stop_proxy
check_eq "exit status" "$LP_RC" 0
check_not "no request line" grep -q ' /healthz \| /nowhere ' "$LP_ERR"
check "the start line" grep -q 'listening on' "$LP_ERR"
check "the stop line" grep -q 'server: stopped' "$LP_ERR"

tcase "credentials in --upstream stay out of the start line"
must_start_proxy -u "http://user:s3cret-pass@127.0.0.1:$FAKE_PORT/base" --access-log off
check "the start line names the upstream without them" \
    grep -qF "upstream http://127.0.0.1:$FAKE_PORT/base," "$LP_ERR"
check_eq "occurrences of the password" "$(grep -c -a -F -- s3cret-pass "$LP_ERR")" 0
stop_proxy

tcase "--access-log PATH: appended, written out within a second, reopened on SIGUSR1, flushed at the stop"
ALOG=$IT_TMP/access.log
printf 'an earlier line\n' >"$ALOG"
must_start_proxy --access-log "$ALOG" --max-connections 64
http "$LP/healthz"
check_status 200
check "the line reaches the file while the proxy runs" \
    wait_line "$ALOG" ' GET /healthz 200 ' "$LP_PID"
check "the file was appended to" grep -q '^an earlier line$' "$ALOG"
check_not "not on stderr" grep -q ' GET /healthz ' "$LP_ERR"
mv "$ALOG" "$ALOG.1"
kill -USR1 "$LP_PID"
wait_line "$LP_ERR" 'access log .* reopened' "$LP_PID" >/dev/null
check "the reopen is logged" grep -q "access log $ALOG reopened" "$LP_ERR"
http "$LP/after-rotation"
check_status 404
check "a new file takes the next line" \
    wait_line "$ALOG" ' GET /after-rotation 404 ' "$LP_PID"
check_not "the old file does not" grep -q 'after-rotation' "$ALOG.1"
check_eq "the old file keeps its lines" "$(grep -c ' GET /healthz 200 ' "$ALOG.1")" 1
http "$LP/just-before-the-stop"
stop_proxy
check_eq "exit status" "$LP_RC" 0
check "the last line is in the file at the stop" \
    grep -q ' GET /just-before-the-stop 404 ' "$ALOG"

tcase "--access-log: a file that cannot be opened stops the start"
run_proxy_fail -l 127.0.0.1:0 -d "$IT_TMP/al.db" --access-log "$IT_TMP/no/such/dir/access.log"
check_eq "exit status" "$RUN_RC" 1
check_eq "one line on stderr" "$(wc -l <"$RUN_ERR")" 1
check "it names the file and why" grep -q "cannot open the access log $IT_TMP/no/such/dir/access.log: No such file" "$RUN_ERR"

finish
