#!/usr/bin/env bash
# Request heads are read by the framer's rules alone, whatever their size:
# every doubtful framing at head sizes around the 16 KiB limit and well past
# it, on /healthz, the jobs route and the pass-through, gets exactly one
# answer (or a refusal and a close) and at most one upstream request; the
# status line speaks HTTP/1.1 (1.0 to a 1.0 client); other versions get 505,
# unknown methods 501; refusals are logged.
. "${TESTS_SRCDIR:-$(dirname "$0")}/lib.sh"

need_python
HEADS_PY=${TESTS_SRCDIR:-$IT_DIR}/heads.py
LIMIT=16384
start_fakeup
must_start_proxy --pending-interval 0

# result NAME: the line heads.py printed for the case NAME.
result() {
	grep -m1 "^$1 " "$IT_TMP/matrix.out"
}

# field LINE KEY: the value of KEY=... in a result line.
field() {
	local re="(^| )$2=([^ ]*)"
	[[ $1 =~ $re ]] && printf '%s' "${BASH_REMATCH[2]}"
}

tcase "the smuggling matrix: 6 framings x 8 head sizes x 3 routes, all at once"
"$IT_PYTHON" "$HEADS_PY" matrix "$LIMIT" >"$IT_TMP/matrix.cases" ||
	die "cannot make the cases"
timeout $((30 * IT_SLOW)) "$IT_PYTHON" "$HEADS_PY" send "$LP_PORT" "$IT_TMP/matrix.cases" \
    >"$IT_TMP/matrix.out" || die "heads.py send failed"
fake_requests >"$IT_TMP/upstream.log"
check_eq "a result for every case" "$(wc -l <"$IT_TMP/matrix.out")" 144
while IFS=$'\t' read -r name _; do
	IFS=/ read -r route framing size n <<<"$name"
	line=$(result "$name")
	ups=$(grep -c -E "(jsm-$n|c=$n)\$" "$IT_TMP/upstream.log")
	CASE="$route, $framing, head of $size bytes"
	check_eq "one answer" "$(field "$line" answers)" 1
	if [ "$size" -gt "$LIMIT" ]; then
		check_eq "refused: status" "$(field "$line" status)" 431
		check_eq "refused: connection closed" "$(field "$line" closed)" 1
		check_eq "upstream requests" "$ups" 0
	elif [ "$framing" != plain ]; then
		check_eq "refused: status" "$(field "$line" status)" 400
		check_eq "refused: connection closed" "$(field "$line" closed)" 1
		check_eq "upstream requests" "$ups" 0
	else
		case $route in
		healthz) want=200 up=0 ;;
		jobs) want=404 up=1 ;;	# fakeup knows no such job
		pass) want=200 up=1 ;;
		esac
		check_eq "answered: status" "$(field "$line" status)" "$want"
		check_eq "kept alive" "$(field "$line" closed)" 0
		check_eq "upstream requests" "$ups" "$up"
	fi
done <"$IT_TMP/matrix.cases"
CASE="the smuggling matrix"
check_not "no hidden request ever reached upstream" \
    grep -q SMUGGLED "$IT_TMP/upstream.log"
check "the proxy still answers" curl -sf -o /dev/null "$LP/healthz"

# one NAME BYTES: sends BYTES (printf format) as case NAME alone.
one() {
	printf "%s\t" "$1" >"$IT_TMP/one.cases"
	printf "$2" | od -An -v -tx1 | tr -d ' \n' >>"$IT_TMP/one.cases"
	echo >>"$IT_TMP/one.cases"
	timeout $((20 * IT_SLOW)) "$IT_PYTHON" "$HEADS_PY" send "$LP_PORT" "$IT_TMP/one.cases" \
	    >"$IT_TMP/one.out" || die "heads.py send failed"
	cat "$IT_TMP/one.out"
}

tcase "the status line is the proxy's HTTP version, not the client's"
line=$(one v10 'GET /healthz HTTP/1.0\r\n\r\n')
check_eq "HTTP/1.0: version" "$(field "$line" version)" HTTP/1.0
check_eq "HTTP/1.0: status" "$(field "$line" status)" 200
line=$(one v11 'GET /healthz HTTP/1.1\r\n\r\n')
check_eq "HTTP/1.1: version" "$(field "$line" version)" HTTP/1.1
for v in 0.1 0.9 1.2 2.0 9.9; do
	line=$(one "v$v" "GET /healthz HTTP/$v\r\n\r\n")
	check_eq "HTTP/$v: status" "$(field "$line" status)" 505
	check_eq "HTTP/$v: answered as" "$(field "$line" version)" HTTP/1.1
	check_eq "HTTP/$v: closed" "$(field "$line" closed)" 1
done
for v in 1.10 01.1 1 1.1x; do
	line=$(one "v$v" "GET /healthz HTTP/$v\r\n\r\n")
	check_eq "HTTP/$v: status" "$(field "$line" status)" 400
	check_eq "HTTP/$v: answered as" "$(field "$line" version)" HTTP/1.1
	check_eq "HTTP/$v: closed" "$(field "$line" closed)" 1
done
printf 'GET /healthz HTTP/2.0\r\n\r\n' | raw_http "$LP_PORT" "$IT_TMP/v2.out"
check_eq "505 body" "$(sed '1,/^\r$/d' "$IT_TMP/v2.out")" \
    '{"error":"HTTP version not supported"}'
check "505: JSON" grep -q 'Content-Type: application/json' "$IT_TMP/v2.out"

tcase "request lines the proxy does not take: JSON answers, logged"
printf 'BREW /healthz HTTP/1.1\r\n\r\n' | raw_http "$LP_PORT" "$IT_TMP/m.out"
check_re "unknown method: status" "$(head -1 "$IT_TMP/m.out")" '^HTTP/1.1 501 '
check_eq "unknown method: body" "$(sed '1,/^\r$/d' "$IT_TMP/m.out")" \
    '{"error":"Method not implemented"}'
wait_line "$LP_ERR" ' BREW - 501 ' "$LP_PID" >/dev/null
check "logged with its method" grep -q ' BREW - 501 ' "$LP_ERR"
printf 'GET /a b HTTP/1.1\r\n\r\n' | raw_http "$LP_PORT" "$IT_TMP/sp.out"
check_re "a space in the target: status" "$(head -1 "$IT_TMP/sp.out")" '^HTTP/1.1 400 '
printf 'GET //h:port/ HTTP/1.1\r\n\r\n' | raw_http "$LP_PORT" "$IT_TMP/au.out"
check_re "an authority evhttp cannot parse: status" "$(head -1 "$IT_TMP/au.out")" '^HTTP/1.1 400 '
check_eq "an authority evhttp cannot parse: JSON body" \
    "$(sed '1,/^\r$/d' "$IT_TMP/au.out")" '{"error":"Bad request"}'
printf '\r\n\r\nGET /healthz HTTP/1.1\r\nConnection: close\r\n\r\n' |
	raw_http "$LP_PORT" "$IT_TMP/el.out"
check_re "empty lines before a request are skipped" "$(head -1 "$IT_TMP/el.out")" '^HTTP/1.1 200 '

tcase "close listed in any Connection header ends the connection after the answer"
for c in 'te, close' 'keep-alive\r\nConnection: close'; do
	line=$(one "conn" "GET /healthz HTTP/1.1\r\nConnection: $c\r\n\r\nGET /healthz HTTP/1.1\r\n\r\n")
	check_eq "Connection: $c: one answer" "$(field "$line" answers)" 1
	check_eq "Connection: $c: status" "$(field "$line" status)" 200
	check_eq "Connection: $c: closed" "$(field "$line" closed)" 1
done
line=$(one "conn" 'GET /healthz HTTP/1.1\r\nConnection: keep-alive\r\n\r\nGET /healthz HTTP/1.1\r\n\r\n')
check_eq "keep-alive: both pipelined requests answered" "$(field "$line" answers)" 2

tcase "a head over the limit: 431 JSON, logged with its request line"
{
	printf 'GET /healthz HTTP/1.1\r\n'
	for i in $(seq 2000); do printf 'X-%05d:v\r\n' "$i"; done
	printf '\r\n'
} | raw_http "$LP_PORT" "$IT_TMP/big.out"
check_re "status line" "$(head -1 "$IT_TMP/big.out")" \
    '^HTTP/1.1 431 Request Header Fields Too Large'
check_eq "body" "$(sed '1,/^\r$/d' "$IT_TMP/big.out")" \
    '{"error":"Request header too large"}'
check "Connection: close" grep -q 'Connection: close' "$IT_TMP/big.out"
wait_line "$LP_ERR" ' GET /healthz 431 ' "$LP_PID" >/dev/null
check "logged" grep -q ' GET /healthz 431 ' "$LP_ERR"

finish
