#!/usr/bin/env bash
# SPEC 5: bad options, bad values, bad config lines and unusable listen
# addresses stop the proxy with one clear line and a non-zero exit; a config
# file applies and the command line beats it; --help and --version.
. "${TESTS_SRCDIR:-$(dirname "$0")}/lib.sh"

start_fakeup

# refuses DESC REGEX ARGS...: lumaproxy ARGS exits non-zero before serving,
# with one line on stderr that matches REGEX.
refuses() {
	local desc=$1 re=$2
	shift 2
	run_proxy_fail "$@"
	check_not "$desc: exit status is not 0" [ "$RUN_RC" -eq 0 ]
	check_not "$desc: exits at once (no time limit hit)" [ "$RUN_RC" -eq 124 ]
	check_eq "$desc: lines on stderr" "$(wc -l <"$RUN_ERR")" 1
	check_re "$desc: the line" "$(head -n 1 "$RUN_ERR")" "$re"
	check_not "$desc: nothing served" grep -q "listening on" "$RUN_ERR"
}

DB=(-d "$IT_TMP/cli.db")

tcase "bad options"
refuses "unknown option" "bogus" --bogus "${DB[@]}"
refuses "unknown short option" "-Z" -Z "${DB[@]}"
refuses "option without its value" "pending-interval" "${DB[@]}" --pending-interval
refuses "stray argument" "stray" "${DB[@]}" -l 127.0.0.1:0 stray
refuses "unknown command" "frobnicate" frobnicate

tcase "bad values"
refuses "--pending-interval abc" "pending-interval.*abc" --pending-interval abc "${DB[@]}"
refuses "--pending-interval -1" "pending-interval" --pending-interval -1 "${DB[@]}"
refuses "--pending-interval 5x" "pending-interval" --pending-interval 5x "${DB[@]}"
refuses "--negative-ttl 99999999999999999999" "negative-ttl" --negative-ttl 99999999999999999999 "${DB[@]}"
refuses "--pending-mode maybe" "pending-mode.*maybe" --pending-mode maybe "${DB[@]}"
refuses "--log-format xml" "log-format.*xml" --log-format xml "${DB[@]}"
refuses "--log-level loud" "log-level.*loud" --log-level loud "${DB[@]}"
refuses "--upstream ftp://x" "upstream" --upstream ftp://example.com "${DB[@]}"
refuses "--upstream not a URL" "upstream" --upstream 'not a url' "${DB[@]}"
refuses "--max-connections 0" "max-connections" --max-connections 0 "${DB[@]}"
refuses "--listen without a port" "listen" -l 127.0.0.1 "${DB[@]}"
refuses "--listen port 70000" "listen" -l 127.0.0.1:70000 "${DB[@]}"
refuses "--offline=maybe" "offline" --offline=maybe "${DB[@]}"

tcase "unusable listen addresses"
refuses "port in use" "127\.0\.0\.1:$FAKE_PORT" -l "127.0.0.1:$FAKE_PORT" "${DB[@]}"
refuses "address not on this machine" "192\.0\.2\.1" -l 192.0.2.1:0 "${DB[@]}"
refuses "IPv6 without brackets" "listen" -l ::1:0 "${DB[@]}"
# (No unresolvable host names here: resolving one would leave loopback.)
check_not "no database left behind by a failed start" [ -e "$IT_TMP/cli.db" ]

tcase "--help: exit 0, every option of SPEC 5"
timeout 5 "$LUMAPROXY" --help >"$IT_TMP/help.out" 2>"$IT_TMP/help.err"
check_eq "exit status" "$?" 0
check_eq "stderr" "$(cat "$IT_TMP/help.err")" ""
for o in --listen --upstream --db --pending-interval --pending-mode \
    --negative-ttl --upstream-timeout --max-upstream-body --max-request-body \
    --max-connections --memory-cache --idle-timeout --media-dir --media-concurrency --max-media-bytes \
    --rewrite-media-urls --public-url \
    --offline --log-level --log-format --access-log --config --help \
    --version; do
	check "--help lists $o" grep -q -- "$o" "$IT_TMP/help.out"
done
for o in -l -u -d -c -h -V; do
	check "--help lists $o" grep -Eq -- "(^|[ ,])$o[ ,]" "$IT_TMP/help.out"
done
timeout 5 "$LUMAPROXY" -h >"$IT_TMP/h.out" 2>&1
check_eq "-h exit status" "$?" 0
check "-h prints the same text" cmp -s "$IT_TMP/h.out" "$IT_TMP/help.out"

tcase "--version: exit 0, a version line"
timeout 5 "$LUMAPROXY" --version >"$IT_TMP/version.out" 2>&1
check_eq "exit status" "$?" 0
check_re "output" "$(cat "$IT_TMP/version.out")" '^lumaproxy [0-9]+\.[0-9]+'
timeout 5 "$LUMAPROXY" -V >/dev/null 2>&1
check_eq "-V exit status" "$?" 0

tcase "the start line says where it listens, the upstream, the database, the jobs"
LP_DB=$IT_TMP/start.db
must_start_proxy
line=$(grep -m1 "listening on" "$LP_ERR")
check_re "listen address" "$line" "127\.0\.0\.1:$LP_PORT"
check_re "upstream" "$line" "$FAKE"
check_re "database" "$line" "start\.db"
check_re "job count" "$line" '[^0-9]0 jobs'
stop_proxy
check_eq "exit status after SIGTERM" "$LP_RC" 0

tcase "the serve command word is accepted"
LP_DB=$IT_TMP/serve.db
IT_NPROXY=$((IT_NPROXY + 1))
LP_ERR=$IT_TMP/lumaproxy.$IT_NPROXY.err
"$LUMAPROXY" serve -l 127.0.0.1:0 -u "$FAKE" -d "$LP_DB" 2>"$LP_ERR" &
LP_PID=$!
IT_PIDS+=("$LP_PID")
check "serve starts" wait_line "$LP_ERR" 'listening on 127\.0\.0\.1:[0-9]+,' "$LP_PID"
stop_proxy
check_eq "exit status" "$LP_RC" 0

tcase "a config file applies (key = value, # comments)"
cat >"$IT_TMP/lp.conf" <<EOF
# lumaproxy test configuration
listen = 127.0.0.1:0
upstream = $FAKE        # the fake upstream
db = $IT_TMP/conf.db

   pending-interval=3
pending-mode = reject
negative-ttl = 1
EOF
IT_NPROXY=$((IT_NPROXY + 1))
LP_ERR=$IT_TMP/lumaproxy.$IT_NPROXY.err
"$LUMAPROXY" -c "$IT_TMP/lp.conf" 2>"$LP_ERR" &
LP_PID=$!
IT_PIDS+=("$LP_PID")
line=$(wait_line "$LP_ERR" 'listening on 127\.0\.0\.1:[0-9]+,' "$LP_PID") ||
	die "lumaproxy -c did not start: $(cat "$LP_ERR")"
line=${line%,}
LP=http://127.0.0.1:${line##*:}
check "database from the file" [ -f "$IT_TMP/conf.db" ]
fake_job jconf "" "$(job_record jconf pending)"
get jconf
check_status 200
get jconf
check_status 429
check_re "Retry-After from pending-interval = 3" "$(header Retry-After)" '^[23]$'
stop_proxy

tcase "the command line beats the config file"
LP_DB=$IT_TMP/conf2.db
must_start_proxy -c "$IT_TMP/lp.conf" --pending-mode serve
check_re "the db of the command line" "$(grep -m1 'listening on' "$LP_ERR")" "conf2\.db"
fake_job jconf2 "" "$(job_record jconf2 pending)"
get jconf2
check_status 200
get jconf2
check_status 200
check_cache HIT
stop_proxy
LP_DB=$IT_TMP/conf3.db
must_start_proxy --pending-mode serve -c "$IT_TMP/lp.conf"
fake_job jconf3 "" "$(job_record jconf3 pending)"
get jconf3
get jconf3
check_eq "-c given after the option: status" "$STATUS" 200
stop_proxy

tcase "bad config files are named with file and line number"
printf '# ok\npending-interval = 2\nno-such-key = 1\n' >"$IT_TMP/bad1.conf"
refuses "unknown key" "bad1\.conf:3" -c "$IT_TMP/bad1.conf" "${DB[@]}"
printf 'listen = 127.0.0.1:0\n\npending-interval = abc\n' >"$IT_TMP/bad2.conf"
refuses "bad value" "bad2\.conf:3" -c "$IT_TMP/bad2.conf" "${DB[@]}"
printf 'offline\n' >"$IT_TMP/bad3.conf"
refuses "line without =" "bad3\.conf:1" -c "$IT_TMP/bad3.conf" "${DB[@]}"
printf 'pending-mode = reject\npending-mode = sometimes\n' >"$IT_TMP/bad4.conf"
refuses "bad choice" "bad4\.conf:2" -c "$IT_TMP/bad4.conf" "${DB[@]}"
refuses "missing config file" "nope\.conf" -c "$IT_TMP/nope.conf" "${DB[@]}"
check_not "no database left behind" [ -e "$IT_TMP/cli.db" ]

# ipv6_loopback: a socket can listen on ::1 and be reached there (IPv6 may
# be off: a kernel booted with ipv6.disable=1, a container without it).
# Without python3, ::1 among the addresses in /proc is taken for that.
ipv6_loopback() {
	if python3 -c '' >/dev/null 2>&1; then
		python3 -c '
import socket
s = socket.socket(socket.AF_INET6)
s.bind(("::1", 0))
s.listen(1)
socket.create_connection(("::1", s.getsockname()[1]), timeout=2).close()
' 2>/dev/null
	else
		grep -q '^0\{31\}1 ' /proc/net/if_inet6 2>/dev/null
	fi
}

tcase "IPv6 listen address in brackets"
if ipv6_loopback; then
	IT_NPROXY=$((IT_NPROXY + 1))
	LP_ERR=$IT_TMP/lumaproxy.$IT_NPROXY.err
	"$LUMAPROXY" -l '[::1]:0' -u "$FAKE" -d "$IT_TMP/v6.db" 2>"$LP_ERR" &
	LP_PID=$!
	IT_PIDS+=("$LP_PID")
	line=$(wait_line "$LP_ERR" 'listening on \[::1\]:[0-9]+' "$LP_PID")
	check_re "start line" "$line" '^listening on \[::1\]:[0-9]+$'
	fake_job jv6 "" '{"status":"completed"}'
	http -H "Authorization: Bearer tokA" "http://[::1]:${line##*:}/v1/luma/jobs/jv6"
	check_status 200
	stop_proxy
else
	skip "listening on [::1]" "no IPv6 loopback here (nothing can listen on ::1)"
fi

finish
