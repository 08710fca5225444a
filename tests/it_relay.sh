#!/usr/bin/env bash
# SPEC 2.3, 2.4, 2.5: a 200 job is relayed byte for byte, then answered from
# the cache (X-Cache, Cache-Status, Age, ETag, 304, HEAD) with no upstream call.
. "${TESTS_SRCDIR:-$(dirname "$0")}/lib.sh"

start_fakeup
must_start_proxy --pending-interval 1

# Odd key order, tabs, CRLF, a unicode escape, a raw UTF-8 byte sequence and
# a trailing newline: any re-encoding would change these bytes.
printf '{"status" :\t"completed",  "type":"video",\r\n "jobid":"jrelay1", "x":"caf\\u00e9 \xc3\xa9", "n":1.50e+2 ,"response":{"video":{"url":"https://cdn/x.mp4"}}}\n' >"$IT_TMP/odd.json"
fake_job_file jrelay1 "owner=tokA" "$IT_TMP/odd.json"

tcase "first GET of a completed job: MISS, exact bytes"
get jrelay1
check_status 200
check_body_file "$IT_TMP/odd.json"
check_json_type
check_cache MISS
check_header Cache-Status "lumaproxy; fwd=miss; stored"
check_header_re ETag '^"[^"]+"$'
etag=$(header ETag)
check_upstream jrelay1 tokA 1

tcase "second GET: HIT from the cache, no upstream call"
sleep 1.2	# past the pending interval: a terminal job is still a HIT
get jrelay1
check_status 200
check_body_file "$IT_TMP/odd.json"
check_json_type
check_cache HIT
check_header Cache-Status "lumaproxy; hit"
check_header_re Age '^[0-9]+$'
check_re "Age after 1.2 s" "$(header Age)" '^[12]$'
check_header ETag "$etag"
check_no_header Retry-After
check_upstream jrelay1 tokA 1

tcase "many more GETs stay HITs, and write nothing to disk"
before=$(cat "$IT_TMP/lp.db" "$IT_TMP/lp.db-wal" 2>/dev/null | sha256sum)
for i in 1 2 3 4 5; do get jrelay1; done
check_cache HIT
check_upstream jrelay1 tokA 1
check_eq "database and -wal file (sha256)" \
    "$(cat "$IT_TMP/lp.db" "$IT_TMP/lp.db-wal" 2>/dev/null | sha256sum)" "$before"

tcase "If-None-Match with the ETag: 304 with the headers of the 200"
get jrelay1 tokA -H "If-None-Match: $etag"
check_status 304
check_body ""
check_cache HIT
check_header Cache-Status "lumaproxy; hit"
check_header ETag "$etag"
check_header_re Age '^[0-9]+$'
check_upstream jrelay1 tokA 1

tcase "If-None-Match in a list, and W/ form: 304"
get jrelay1 tokA -H "If-None-Match: \"nope\", $etag"
check_status 304
get jrelay1 tokA -H "If-None-Match: W/$etag"
check_status 304

tcase "304 on a kept-alive connection: no body bytes before the next answer"
printf 'GET /v1/luma/jobs/jrelay1 HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer tokA\r\nIf-None-Match: %s\r\n\r\nGET /v1/luma/jobs/jrelay1 HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer tokA\r\nConnection: close\r\n\r\n' \
    "$etag" | raw_http "$LP_PORT" "$IT_TMP/ka304.raw"
check_re "first status line" "$(head -n 1 "$IT_TMP/ka304.raw")" '^HTTP/1\.1 304'
second=$(awk '/^\r?$/ { n++; next } n == 1 { print; exit }' "$IT_TMP/ka304.raw")
check_re "right after the 304's headers: the next status line" "$second" '^HTTP/1\.1 200'

tcase "If-None-Match with another tag: 200 with the body"
get jrelay1 tokA -H 'If-None-Match: "0123"'
check_status 200
check_body_file "$IT_TMP/odd.json"

tcase "HEAD: the headers of GET, no body"
get jrelay1
get_len=$(wc -c <"$BODYF")
http -I -H "Authorization: Bearer tokA" "$LP/v1/luma/jobs/jrelay1"
check_status 200
check_header Content-Length "$get_len"
check_cache HIT
check_header ETag "$etag"
check_json_type
printf 'HEAD /v1/luma/jobs/jrelay1 HTTP/1.0\r\nAuthorization: Bearer tokA\r\n\r\n' |
	raw_http "$LP_PORT" "$IT_TMP/head.raw"
check_re "raw HEAD status line" "$(head -n 1 "$IT_TMP/head.raw")" '^HTTP/1\.[01] 200'
after=$(awk 'found { print } /^\r?$/ { found = 1 }' "$IT_TMP/head.raw" | wc -c)
check_eq "bytes after the HEAD answer's headers" "$after" 0
check_upstream jrelay1 tokA 1

tcase "HEAD of a job not yet cached: MISS headers, no body, body cached"
fake_job jrelay2 "owner=tokA" "$(job_completed jrelay2)"
printf 'HEAD /v1/luma/jobs/jrelay2 HTTP/1.0\r\nAuthorization: Bearer tokA\r\n\r\n' |
	raw_http "$LP_PORT" "$IT_TMP/head2.raw"
check_re "raw HEAD status line" "$(head -n 1 "$IT_TMP/head2.raw")" '^HTTP/1\.[01] 200'
check_re "X-Cache of the HEAD" "$(tr -d '\r' <"$IT_TMP/head2.raw" | grep -i '^X-Cache:')" 'MISS$'
after=$(awk 'found { print } /^\r?$/ { found = 1 }' "$IT_TMP/head2.raw" | wc -c)
check_eq "bytes after the HEAD answer's headers" "$after" 0
get jrelay2
check_status 200
check_cache HIT
check_body "$(job_completed jrelay2)"
check_upstream jrelay2 tokA 1

tcase "a failed job is terminal too"
fake_job jrelay3 "owner=tokA" '{"jobid":"jrelay3","type":"video","status":"failed","response":null}'
get jrelay3
check_status 200
check_cache MISS
check_header_re ETag '^"'
get jrelay3
check_cache HIT
check_body '{"jobid":"jrelay3","type":"video","status":"failed","response":null}'
check_upstream jrelay3 tokA 1

tcase "a pending job carries no ETag"
fake_job jrelay4 "owner=tokA" "$(job_record jrelay4 pending)"
get jrelay4
check_status 200
check_cache MISS
check_header Cache-Status "lumaproxy; fwd=miss; stored"
check_no_header ETag

tcase "a 200 body is relayed as sent even when upstream says text/plain"
fake_job jrelay5 "owner=tokA&type=text/plain" "$(job_record jrelay5 completed)"
get jrelay5
check_status 200
check_body "$(job_record jrelay5 completed)"
check_json_type

tcase "the proxy's own paths outside /v1/: 404 JSON"
http "$LP/nope"
check_status 404
check_body '{"error":"Not found"}'
check_json_type

finish
