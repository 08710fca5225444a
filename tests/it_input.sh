#!/usr/bin/env bash
# SPEC 2.1: method, jobid and Authorization are checked locally, in that
# order, and upstream is never called for a bad request; the jobid reaches
# upstream canonically encoded, without the query string.
. "${TESTS_SRCDIR:-$(dirname "$0")}/lib.sh"

start_fakeup
must_start_proxy --pending-interval 1

INVALID='{"error":"Invalid jobid"}'
UNAUTH='{"error":"Unauthorized"}'

# bad_path PATH DESC: GET of PATH (sent as is) with a good token is a 400.
bad_path() {
	http --path-as-is -H "Authorization: Bearer tokA" "$LP$1"
	if [ "$STATUS" = 400 ] && printf '%s' "$INVALID" | cmp -s - "$BODYF"; then
		pass "$2: 400 Invalid jobid"
	else
		fail "$2 ($1)" "400 $INVALID" "$STATUS $BODY"
	fi
}

tcase "other methods: 405 with Allow: GET, HEAD"
for m in POST PUT DELETE PATCH OPTIONS; do
	http -X "$m" -H "Authorization: Bearer tokA" "$LP/v1/luma/jobs/j1"
	check_eq "$m status" "$STATUS" 405
	check_header Allow "GET, HEAD"
done
http -X POST -d 'x=1' -H "Authorization: Bearer tokA" "$LP/v1/luma/jobs/j1"
check_status 405
check_json_type

tcase "the method is checked first, then the jobid, then Authorization"
http -X POST "$LP/v1/luma/jobs/x%2F"
check_eq "POST, bad jobid, no token" "$STATUS" 405
http "$LP/v1/luma/jobs/x%2F"
check_eq "GET, bad jobid, no token" "$STATUS" 400
check_body "$INVALID"
check_json_type

tcase "invalid jobids: 400, upstream never called"
long513="j$(printf 'a%.0s' $(seq 1 512))"
bad_path "/v1/luma/jobs/" "empty jobid"
bad_path "/v1/luma/jobs" "no jobid segment"
bad_path "/v1/luma/jobs/$long513" "513 bytes"
bad_path "/v1/luma/jobs/j$(printf 'a%.0s' $(seq 1 511))%41" "513 bytes after decoding"
bad_path "/v1/luma/jobs/x123" "not starting with j"
bad_path "/v1/luma/jobs/J123" "starting with J"
bad_path "/v1/luma/jobs/%6A%2F" "encoded j then %2F"
bad_path "/v1/luma/jobs/j1%2Fx" "%2F"
bad_path "/v1/luma/jobs/j1%2fx" "%2f"
bad_path "/v1/luma/jobs/j1%5Cx" "%5C"
bad_path "/v1/luma/jobs/j1%3Fx" "%3F"
bad_path "/v1/luma/jobs/j1%23x" "%23"
bad_path "/v1/luma/jobs/j1%25x" "%25"
bad_path "/v1/luma/jobs/j1%252Fx" "%252F (decoded once: %2F)"
bad_path "/v1/luma/jobs/j1%01x" "control byte %01"
bad_path "/v1/luma/jobs/j1%00x" "NUL byte %00"
bad_path "/v1/luma/jobs/j1%1Fx" "control byte %1F"
bad_path "/v1/luma/jobs/j1%7Fx" "DEL %7F"
bad_path "/v1/luma/jobs/j1%20x" "space %20"
bad_path "/v1/luma/jobs/j1%80x" "byte %80"
bad_path "/v1/luma/jobs/j1%C3%A9" "UTF-8 bytes"
bad_path "/v1/luma/jobs/j1\\x" "raw backslash"
bad_path "/v1/luma/jobs/j1/" "trailing slash"
bad_path "/v1/luma/jobs/j1//" "two trailing slashes"
bad_path "/v1/luma/jobs/j1/x" "extra segment"
bad_path "/v1/luma/jobs/j1/x/y" "two extra segments"
bad_path "/v1/luma/jobs/../jobs/j1" "../ before the jobid"
bad_path "/v1/luma/jobs/j1/.." "/.. after the jobid"
bad_path "/v1/luma/jobs/j1/../j2" "/../ inside"
bad_path "/v1/luma/jobs/%2E%2E" "%2E%2E"
bad_path "/v1/luma/jobs/j..%2F..%2Fadmin" "j..%2F..%2Fadmin"
bad_path "/v1/luma/jobs/j%2E%2E%2F" "j..%2F"
bad_path "/v1/luma/jobs/%2Fj1" "%2F first"
check_total 0

tcase "a 512-byte jobid is valid and goes upstream"
long512="j$(printf 'a%.0s' $(seq 1 511))"
get "$long512"
check_status 404
check_body '{"error":"Job not found"}'
check_upstream "$long512" tokA 1
get "j$(printf 'a%.0s' $(seq 1 510))%61"
check_eq "512 bytes after decoding: status" "$STATUS" 404
check_upstream "$long512" tokA 1	# a negative HIT: the same jobid

tcase "Authorization missing or malformed: 401, upstream never called"
fake_reset
fake_job jauth "" "$(job_record jauth pending)"
bad_auth() {
	if [ "$1" = "<none>" ]; then
		http "$LP/v1/luma/jobs/jauth"
	else
		http -H "Authorization: $1" "$LP/v1/luma/jobs/jauth"
	fi
	if [ "$STATUS" = 401 ] && printf '%s' "$UNAUTH" | cmp -s - "$BODYF"; then
		pass "Authorization '$1': 401 Unauthorized"
	else
		fail "Authorization '$1'" "401 $UNAUTH" "$STATUS $BODY"
	fi
}
bad_auth "<none>"
bad_auth "Basic dG9rQTpw"
bad_auth "Token tokA"
bad_auth "Bearer"
bad_auth "Bearer "
bad_auth "Bearertoka"
bad_auth "Bearer tok A"
bad_auth "Bearer tok,A tokB"
bad_auth "Bearer $(printf 'x%.0s' $(seq 1 4097))"
bad_auth "Bearer tok$(printf '\001')A"
bad_auth "Bearer tok$(printf '\200')A"
bad_auth "tokA"
check_json_type
check_total 0

tcase "the scheme is case-insensitive; the token reaches upstream as sent"
get jauth "x"
check_status 200
http -H "Authorization: bearer lower1" "$LP/v1/luma/jobs/jauth"
check_status 200
check_upstream jauth lower1 1
http -H "Authorization: BEARER upper1" "$LP/v1/luma/jobs/jauth"
check_status 200
check_upstream jauth upper1 1
tok4096=$(printf 'k%.0s' $(seq 1 4096))
get jauth "$tok4096"
check_eq "4096-byte token: status" "$STATUS" 200
check_upstream jauth "$tok4096" 1

tcase "the query string is not sent upstream"
fake_reset
fake_job jquery "" "$(job_record jquery pending)"
http -H "Authorization: Bearer tokQ" "$LP/v1/luma/jobs/jquery?x=1&callback=%2F..%2Fadmin#frag"
check_status 200
check_body "$(job_record jquery pending)"
check_upstream jquery tokQ 1
check_eq "URI upstream saw" "$(fake_requests | awk '$1 == "tokQ" { print $2 }')" "/v1/luma/jobs/jquery"

tcase "a jobid with ':' and '@' (the SPEC's example) reaches upstream intact"
fake_reset
fake_job "$SPEC_JOBID" "owner=tokA" "$(job_record "$SPEC_JOBID" pending)"
get "$SPEC_JOBID"
check_status 200
check_body "$(job_record "$SPEC_JOBID" pending)"
check_upstream "$SPEC_JOBID" tokA 1
check_eq "URI upstream saw" "$(fake_requests | tail -n 1)" "tokA /v1/luma/jobs/$SPEC_JOBID"

tcase "the same jobid percent-encoded is the same job"
sleep 1.1	# past the pending interval (the test): measured from the fetch
get "$(urlenc "$SPEC_JOBID")"
check_status 200
check_body "$(job_record "$SPEC_JOBID" pending)"
check_upstream "$SPEC_JOBID" tokA 2
check_eq "URI upstream saw" "$(fake_requests | tail -n 1)" "tokA /v1/luma/jobs/$SPEC_JOBID"

tcase "the upstream path is encoded canonically (uppercase hex, : @ kept)"
fake_reset
get 'j%2a%7e%3a%40%21%24%26%27%28%29%2B%2C%3B%3D%5B%5D'
check_status 404
check_upstream 'j*~:@!$&'"'"'()+,;=[]' tokA 1
check_eq "URI upstream saw" "$(fake_requests | tail -n 1)" \
    "tokA /v1/luma/jobs/j%2A~:@%21%24%26%27%28%29%2B%2C%3B%3D%5B%5D"
get 'j%22%3C%3E%5E%60%7B%7C%7D'
check_eq "URI upstream saw" "$(fake_requests | tail -n 1)" \
    "tokA /v1/luma/jobs/j%22%3C%3E%5E%60%7B%7C%7D"
check_upstream 'j"<>^`{|}' tokA 1

tcase "a raw '#' in the path (a fragment to evhttp) is an invalid jobid"
fake_reset
fake_job jfrag "owner=tokA" "$(job_record jfrag pending)"
printf 'GET /v1/luma/jobs/jfrag#x HTTP/1.0\r\nAuthorization: Bearer tokA\r\n\r\n' |
	raw_http "$LP_PORT" "$IT_TMP/frag.raw"
check_re "status line" "$(head -n 1 "$IT_TMP/frag.raw")" '^HTTP/1\.[01] 400'
check_re "body" "$(tail -n 1 "$IT_TMP/frag.raw")" '^\{"error":"Invalid jobid"\}$'
check_total 0

finish
