#!/usr/bin/env bash
# SPEC 3: every other method and path under /v1/ is forwarded to upstream
# unchanged (request-target byte for byte, body, end-to-end headers,
# Authorization too) and the answer relayed unchanged, minus hop-by-hop
# headers; nothing is cached; bodies stream through (a 10 MiB download or
# upload does not make the proxy 10 MiB bigger); --max-request-body, upstream
# failures, --offline, paths outside /v1/; a job submitted through the proxy
# can be polled to completion through it and is counted in /metrics.
: "${IT_LIMIT:=120}"	# ten-MiB transfers, four proxies
. "${TESTS_SRCDIR:-$(dirname "$0")}/lib.sh"
# What this test counts is what clients' polls make upstream do: no
# background watch of submitted jobs (tests/it_push.sh has that).
LP_OPTS=--no-watch

need_python	# reads fakeup's JSON echo

# Under AddressSanitizer freed memory waits in a quarantine and stays
# resident; without one, VmHWM measures what the proxy itself holds.
export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}quarantine_size_mb=0"

TOK=tokPassA
TOKB=tokPassB
BIG=10485760		# 10 MiB
HWM_MAX_KB=4096		# what a 10 MiB transfer may add to the proxy's peak RSS

start_fakeup
must_start_proxy --pending-interval 0

# check_hwm WHAT BEFORE-KB: the proxy's VmHWM grew by less than HWM_MAX_KB.
check_hwm() {
	local now
	if wrapped; then
		skip "$1: the proxy's peak memory" "$WRAPPED"
		return 0
	fi
	now=$(vm_hwm_kb "$LP_PID")
	if [ -z "$2" ] || [ -z "$now" ]; then
		echo "# skipped: no VmHWM for the proxy in /proc/$LP_PID/status"
		return 0
	fi
	check "$1: the proxy's peak memory grew by $((now - $2)) kB, under $HWM_MAX_KB kB" \
	    [ $((now - $2)) -lt "$HWM_MAX_KB" ]
}

# check_error_json STATUS: the answer is STATUS with a {"error":"..."} JSON body.
check_error_json() {
	check_status "$1"
	check_json_type
	check_body_re '^\{"error":"[^"]+"\}$'
}

tcase "GET with odd bytes in path and query: upstream gets the same request-target"
t0=$(fake_total)
target='/v1/odd/a%2Fb/c+d;e=f/%7e%41?x=%2F&x=2&y=a+b;c=d&z=%3D%26%3f&empty=&flag&x=3'
http --path-as-is -H "Authorization: Bearer $TOK" "$LP$target"
check_status 200
check_eq "request-target upstream received" "$(json_get uri)" "$target"
check_eq "method upstream received" "$(json_get method)" GET
check_eq "Authorization upstream received" "$(echo_header Authorization)" "Bearer $TOK"
check_eq "body upstream received (bytes)" "$(json_get body_len)" 0
check_total $((t0 + 1))

tcase "request headers: end-to-end ones arrive as sent; hop-by-hop ones and Host do not"
http -H "Authorization: Bearer $TOK" -H "Host: client.example:8080" \
    -H "User-Agent: passthru-test/1.0" -H "Accept: application/json" \
    -H "Accept-Encoding: gzip" -H 'X-Custom: v=1; q="a,b"' \
    -H "X-Dup: one" -H "X-Dup: two" \
    -H "Connection: keep-alive, X-Secret" -H "X-Secret: hop" \
    -H "Keep-Alive: timeout=9" -H "Proxy-Authorization: Basic Zm9vOmJhcg==" \
    -H "Proxy-Connection: keep-alive" -H "TE: trailers" -H "Trailer: X-T" \
    -H "Upgrade: websocket" "$LP/v1/headers?h=1"
check_status 200
check_eq "method upstream received (the echo is readable)" "$(json_get method)" GET
check_eq "Authorization" "$(echo_header Authorization)" "Bearer $TOK"
check_eq "User-Agent" "$(echo_header User-Agent)" "passthru-test/1.0"
check_eq "Accept" "$(echo_header Accept)" "application/json"
check_eq "Accept-Encoding" "$(echo_header Accept-Encoding)" "gzip"
check_eq "X-Custom" "$(echo_header X-Custom)" 'v=1; q="a,b"'
check_eq "X-Dup (both, in order)" "$(echo_header X-Dup | paste -sd, - | tr -d ' ')" "one,two"
check_eq "Host upstream received (upstream's own)" "$(echo_header Host)" "127.0.0.1:$FAKE_PORT"
for h in Keep-Alive Proxy-Authorization Proxy-Connection TE Trailer Upgrade X-Secret; do
	check_eq "$h upstream received (hop-by-hop: none)" "$(echo_header "$h")" ""
done
check_not "a Connection header upstream received names X-Secret" \
    grep -qi 'secret' <<<"$(echo_header Connection)"

tcase "response headers: end-to-end ones arrive; hop-by-hop ones do not"
check_header X-Echo 1
check_header Content-Type "application/json; charset=utf-8"
for h in Keep-Alive Trailer Upgrade Proxy-Authenticate X-Hop; do
	check_no_header "$h"
done
check_not "the Connection header the client got names X-Hop ($(header Connection))" \
    grep -qi 'x-hop' <<<"$(header Connection)"

tcase "not cached: two identical GETs both reach upstream"
t0=$(fake_total)
http -H "Authorization: Bearer $TOK" "$LP/v1/same?q=1"
check_status 200
http -H "Authorization: Bearer $TOK" "$LP/v1/same?q=1"
check_status 200
check_total $((t0 + 2))
check_not "the second one says X-Cache: HIT" [ "$(header X-Cache)" = HIT ]

tcase "POST with a JSON body and a query string"
printf '{"prompt":"a cat in a hat","n":2,"s":"caf\xc3\xa9"}\n' >"$IT_TMP/post.json"
http -X POST -H "Authorization: Bearer $TOK" -H "Content-Type: application/json" \
    --data-binary @"$IT_TMP/post.json" "$LP/v1/luma/generate?async=true&n=2"
check_status 200
check_eq "method" "$(json_get method)" POST
check_eq "request-target" "$(json_get uri)" "/v1/luma/generate?async=true&n=2"
check_eq "body length" "$(json_get body_len)" "$(wc -c <"$IT_TMP/post.json")"
check_eq "body sha256" "$(json_get body_sha256)" "$(sha256_of "$IT_TMP/post.json")"
check_eq "Content-Type" "$(echo_header Content-Type)" "application/json"

tcase "PUT, PATCH, DELETE, OPTIONS are forwarded with their bodies"
for m in PUT PATCH DELETE OPTIONS; do
	printf 'body of %s\n' "$m" >"$IT_TMP/m.body"
	http -X "$m" -H "Authorization: Bearer $TOK" -H "Content-Type: text/plain" \
	    --data-binary @"$IT_TMP/m.body" "$LP/v1/things/42?m=$m"
	check_status 200
	check_eq "$m: method upstream received" "$(json_get method)" "$m"
	check_eq "$m: request-target" "$(json_get uri)" "/v1/things/42?m=$m"
	check_eq "$m: body sha256" "$(json_get body_sha256)" "$(sha256_of "$IT_TMP/m.body")"
done
http -X DELETE -H "Authorization: Bearer $TOK" "$LP/v1/things/43"
check_status 200
check_eq "DELETE without a body: method, body length" \
    "$(json_get method) $(json_get body_len)" "DELETE 0"

tcase "HEAD: upstream's headers, no body"
t0=$(fake_total)
http -I -H "Authorization: Bearer $TOK" "$LP/v1/head?x=1"
check_status 200
check_header X-Echo 1
printf 'HEAD /v1/head?x=2 HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\nConnection: close\r\n\r\n' \
    "$TOK" | raw_http "$LP_PORT" "$IT_TMP/head.raw"
check_re "raw HEAD status line" "$(head -n 1 "$IT_TMP/head.raw")" '^HTTP/1\.[01] 200'
check_eq "bytes after the HEAD answer's headers" \
    "$(awk 'found { print } /^\r?$/ { found = 1 }' "$IT_TMP/head.raw" | wc -c)" 0
check_total $((t0 + 2))

tcase "upstream's 4xx and 5xx answers are relayed as they are"
for st in 400 404 409 422 500 503; do
	http -H "Authorization: Bearer $TOK" "$LP/v1/fail?_status=$st"
	check_status "$st"
	check_eq "$st: body is upstream's (its echo of the request)" \
	    "$(json_get uri)" "/v1/fail?_status=$st"
	check_header X-Echo 1
done

tcase "a 10 MiB download with Content-Length arrives whole; the proxy does not hold it"
pattern_file "$BIG" "$IT_TMP/pattern"
http -H "Authorization: Bearer $TOK" "$LP/v1/download?_size=65536"	# warm-up
check_status 200
hwm=$(vm_hwm_kb "$LP_PID")
http -H "Authorization: Bearer $TOK" "$LP/v1/download?_size=$BIG"
check_status 200
check_eq "curl exit status" "$CURL_RC" 0
check_header Content-Length "$BIG"
check_header Content-Type application/octet-stream
check_eq "bytes" "$(wc -c <"$BODYF")" "$BIG"
check_eq "sha256" "$(sha256_of "$BODYF")" "$(sha256_of "$IT_TMP/pattern")"
check_hwm "10 MiB download" "$hwm"

tcase "a 10 MiB chunked download (no Content-Length) arrives whole"
hwm=$(vm_hwm_kb "$LP_PID")
http -H "Authorization: Bearer $TOK" "$LP/v1/download?_size=$BIG&_chunked=1"
check_status 200
check_eq "curl exit status" "$CURL_RC" 0
check_eq "bytes" "$(wc -c <"$BODYF")" "$BIG"
check_eq "sha256" "$(sha256_of "$BODYF")" "$(sha256_of "$IT_TMP/pattern")"
check_hwm "10 MiB chunked download" "$hwm"

tcase "a 10 MiB upload arrives whole; the proxy does not hold it"
head -c "$BIG" /dev/urandom >"$IT_TMP/upload"
hwm=$(vm_hwm_kb "$LP_PID")
http -X POST -H "Authorization: Bearer $TOK" -H "Content-Type: application/octet-stream" \
    --data-binary @"$IT_TMP/upload" "$LP/v1/upload?name=big.bin"
check_status 200
check_eq "body length upstream received" "$(json_get body_len)" "$BIG"
check_eq "body sha256 upstream received" "$(json_get body_sha256)" "$(sha256_of "$IT_TMP/upload")"
check_hwm "10 MiB upload" "$hwm"

tcase "a chunked upload (no Content-Length) arrives whole"
head -c 2000000 /dev/urandom >"$IT_TMP/upload2"
http -X POST -H "Authorization: Bearer $TOK" -H "Transfer-Encoding: chunked" \
    --data-binary @"$IT_TMP/upload2" "$LP/v1/upload?name=chunked.bin"
check_status 200
check_eq "body length upstream received" "$(json_get body_len)" 2000000
check_eq "body sha256 upstream received" "$(json_get body_sha256)" "$(sha256_of "$IT_TMP/upload2")"

tcase "upstream drops the connection mid-body: the client sees a broken transfer"
for q in "_size=1000000&_cut=1000" "_size=1000000&_cut=1000&_chunked=1"; do
	http -H "Authorization: Bearer $TOK" "$LP/v1/cut?$q"
	check "$q: curl reports a failed transfer (exit $CURL_RC, status $STATUS)" \
	    [ "$CURL_RC" -ne 0 ]
	check "$q: not all 1000000 bytes arrived ($(wc -c <"$BODYF"))" \
	    [ "$(wc -c <"$BODYF")" -lt 1000000 ]
done
http -H "Authorization: Bearer $TOK" "$LP/v1/after-cut"
check_status 200

tcase "upstream drops the connection without answering: 502 JSON"
http -H "Authorization: Bearer $TOK" "$LP/v1/drop?_close=1"
check_error_json 502

tcase "a request header with a raw CR: 400, nothing forwarded"
t0=$(fake_total)
printf 'GET /v1/cr HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\nX-A: a\rb\r\nConnection: close\r\n\r\n' \
    "$TOK" | raw_http "$LP_PORT" "$IT_TMP/cr.raw"
check_re "status line" "$(head -n 1 "$IT_TMP/cr.raw")" '^HTTP/1\.[01] 400'
printf 'POST /v1/cr HTTP/1.1\r\nHost: x\r\nX-B: \rx\r\nContent-Length: 2\r\nConnection: close\r\n\r\nhi' |
	raw_http "$LP_PORT" "$IT_TMP/cr2.raw"
check_re "status line (CR at the start of a value)" "$(head -n 1 "$IT_TMP/cr2.raw")" '^HTTP/1\.[01] 400'
check_total "$t0"

tcase "paths outside /v1/: 404 {\"error\":\"Not found\"}, nothing forwarded"
t0=$(fake_total)
for p in /v2/x / /healthzz /metricsx /v1 /V1/luma/x /v1x/luma; do
	http -H "Authorization: Bearer $TOK" "$LP$p"
	check_eq "GET $p: status" "$STATUS" 404
	check_body '{"error":"Not found"}'
	check_json_type
done
http -X POST -H "Authorization: Bearer $TOK" --data-binary '{}' "$LP/v2/luma/videos"
check_eq "POST /v2/luma/videos: status" "$STATUS" 404
check_body '{"error":"Not found"}'
check_total "$t0"

tcase "submit a video through the proxy: relayed byte for byte, counted in /metrics"
scrape "$IT_TMP/s0"
check_status 200
http -X POST -H "Authorization: Bearer $TOK" -H "Content-Type: application/json" \
    --data-binary '{"prompt":"a red fox in the snow"}' "$LP/v1/luma/videos?async=true"
check_status 200
check_body_re '^\{"jobid":"j[0-9]+-[0-9a-z]{10}","status":"created"\}$'
check_json_type
jid=$(json_get jobid)
scrape "$IT_TMP/s1"
check_metric_delta "a successful submission" lumaproxy_submitted_jobs_total '' \
    "$IT_TMP/s0" "$IT_TMP/s1" 1

tcase "poll the submitted job through the proxy until it is completed, then a HIT"
polls=0
for i in 1 2 3 4 5 6; do
	get "$jid" "$TOK"
	polls=$i
	[ "$STATUS" = 200 ] || break
	[ "$(json_get status)" = completed ] && break
done
check_eq "status and job status after $polls polls" "$STATUS $(json_get status)" "200 completed"
check_eq "polls until completed (pending, pending, completed)" "$polls" 3
check_cache MISS
cp "$BODYF" "$IT_TMP/done.json"
check_eq "jobid in the record" "$(json_get jobid)" "$jid"
get "$jid" "$TOK"
check_status 200
check_cache HIT
check_body_file "$IT_TMP/done.json"
check_upstream "$jid" "$TOK" 3
get "$jid" "$TOKB"
check_eq "another token polling it: status" "$STATUS" 403

tcase "an image submission is counted too"
http -X POST -H "Authorization: Bearer $TOK" -H "Content-Type: application/json" \
    --data-binary '{"prompt":"a lighthouse"}' "$LP/v1/luma/images"
check_status 200
check_body_re '^\{"jobid":"j[0-9]+-[0-9a-z]{10}","status":"created"\}$'
scrape "$IT_TMP/s2"
check_metric_delta "a successful image submission" lumaproxy_submitted_jobs_total '' \
    "$IT_TMP/s1" "$IT_TMP/s2" 1

tcase "failed submissions are relayed as they are and not counted"
http -X POST -H "Authorization: Bearer $TOK" --data-binary '{}' "$LP/v1/luma/videos?_status=500"
check_status 500
check_body '{"error":"Scripted submission failure (500)"}'
http -X POST -H "Authorization: Bearer $TOK" --data-binary '{}' "$LP/v1/luma/videos?_status=400"
check_status 400
check_body '{"error":"Scripted submission failure (400)"}'
http -X POST -H "Authorization: Bearer $TOK" --data-binary '{}' "$LP/v1/luma/videos?_nojobid=1"
check_status 200
check_body '{"status":"created"}'
http -X POST --data-binary '{}' "$LP/v1/luma/videos"
check_status 401
check_body '{"error":"Unauthorized"}'
scrape "$IT_TMP/s3"
check_metric_delta "submissions without a jobid" lumaproxy_submitted_jobs_total '' \
    "$IT_TMP/s2" "$IT_TMP/s3" 0
stop_proxy

tcase "--max-request-body 1000: a 1001-byte body is refused with 413, upstream not asked"
must_start_proxy --max-request-body 1000 --upstream-timeout 1
head -c 1001 /dev/zero | tr '\0' 'x' >"$IT_TMP/1001"
head -c 1000 /dev/zero | tr '\0' 'x' >"$IT_TMP/1000"
t0=$(fake_total)
http -X POST -H "Authorization: Bearer $TOK" --data-binary @"$IT_TMP/1001" "$LP/v1/upload"
check_error_json 413
check_total "$t0"
http -X POST -H "Authorization: Bearer $TOK" -H "Transfer-Encoding: chunked" \
    --data-binary @"$IT_TMP/1001" "$LP/v1/upload?chunked=1"
check_eq "the same body, chunked: status" "$STATUS" 413
http -X POST -H "Authorization: Bearer $TOK" --data-binary @"$IT_TMP/1000" "$LP/v1/upload"
check_status 200
check_eq "a 1000-byte body: length upstream received" "$(json_get body_len)" 1000

tcase "--upstream-timeout 1 and an upstream answering after 3 s: 504 JSON within 3 s"
t0=$(now_ms)
http -H "Authorization: Bearer $TOK" "$LP/v1/slow?_delay=3000"
took=$(($(now_ms) - t0))
check_error_json 504
check "answered after ${took} ms, before upstream would have (3000 ms)" [ "$took" -lt 2900 ]
stop_proxy

tcase "upstream not listening: 502 JSON"
must_start_proxy --upstream http://127.0.0.1:1
http -H "Authorization: Bearer $TOK" "$LP/v1/anything?x=1"
check_error_json 502
http -X POST -H "Authorization: Bearer $TOK" --data-binary '{"a":1}' "$LP/v1/luma/videos"
check_error_json 502
stop_proxy

tcase "--offline: pass-through answers 504 {\"error\":\"Not in cache (offline)\"}, upstream not asked"
must_start_proxy --offline
t0=$(fake_total)
http -H "Authorization: Bearer $TOK" "$LP/v1/anything?x=1"
check_status 504
check_body '{"error":"Not in cache (offline)"}'
check_json_type
http -X POST -H "Authorization: Bearer $TOK" --data-binary '{"prompt":"x"}' "$LP/v1/luma/videos"
check_status 504
check_body '{"error":"Not in cache (offline)"}'
check_total "$t0"

finish
