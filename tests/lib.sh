# lib.sh: what every tests/it_*.sh sources.  Starts fakeup and lumaproxy on
# ephemeral loopback ports with a temporary directory (and database) per
# test, makes HTTP requests with curl, and checks what came back.  Every
# check prints "ok" or "FAIL" with what was expected and what came; `finish`
# exits 1 when any check failed.  A test never outlives IT_LIMIT seconds.
#
# Run one test alone, from the build's tests/ directory:
#     make check TESTS=it_relay.sh            (log in it_relay.log)
#     ./it_relay.sh                            (LUMAPROXY, FAKEUP default to
#                                               ../src/lumaproxy, ./fakeup)
# IT_KEEP=1 keeps the temporary directory (logs, database) for a look.
#
# LUMAPROXY_WRAPPER (words) runs every lumaproxy of a test under a command,
# e.g. valgrind (make check-valgrind): LUMAPROXY then names a script in the
# test's directory that execs the wrapper with the real binary, so that the
# proxy keeps its PID.  A wrapper may write a report per process as
# $IT_TMP/valgrind.PID.log (IT_TMP is exported): a report whose ERROR
# SUMMARY is not 0 fails the test.  IT_SLOW (a whole number, default 1)
# multiplies the bounds lib.sh waits with, for a proxy that runs that many
# times slower than natively.

set -u
# Everything stays on loopback: no proxy for curl, requests, node or the
# libcurl inside lumaproxy.
unset http_proxy https_proxy HTTP_PROXY HTTPS_PROXY all_proxy ALL_PROXY
export no_proxy='*' NO_PROXY='*'

IT_NAME=$(basename "$0" .sh)
IT_DIR=$(cd "$(dirname "$0")" && pwd)
: "${LUMAPROXY:=$IT_DIR/../src/lumaproxy}"
: "${FAKEUP:=$IT_DIR/fakeup}"
: "${IT_LIMIT:=60}"		# seconds for the whole test
: "${IT_SLOW:=1}"
[[ $IT_SLOW =~ ^[1-9][0-9]*$ ]] || { echo "ERROR: IT_SLOW=$IT_SLOW" >&2; exit 99; }
IT_LIMIT=$((IT_LIMIT * IT_SLOW))
IT_CURL_MAX=$((10 * IT_SLOW))	# seconds for one curl call

for _b in "$LUMAPROXY" "$FAKEUP"; do
	if [ ! -x "$_b" ]; then
		echo "ERROR [$IT_NAME]: $_b is not built (make check builds it)" >&2
		exit 99
	fi
done
if ! command -v curl >/dev/null 2>&1; then
	echo "SKIP [$IT_NAME]: curl is not installed"
	exit 77
fi
if ! curl --version >/dev/null 2>&1; then
	echo "SKIP [$IT_NAME]: curl is installed but does not run"
	exit 77
fi

IT_TMP=$(mktemp -d "${TMPDIR:-/tmp}/it-$IT_NAME.XXXXXX") || exit 99
export IT_TMP
WRAPPED=""
if [ -n "${LUMAPROXY_WRAPPER:-}" ]; then
	printf '#!/usr/bin/env bash\nexec %s %q "$@"\n' "$LUMAPROXY_WRAPPER" \
	    "$LUMAPROXY" >"$IT_TMP/lumaproxy" && chmod +x "$IT_TMP/lumaproxy" ||
		exit 99
	LUMAPROXY=$IT_TMP/lumaproxy
	WRAPPED="lumaproxy runs under ${LUMAPROXY_WRAPPER%% *}"
fi
IT_PIDS=()
IT_CHECKS=0
IT_FAILS=0
IT_SKIPS=0
IT_NPROXY=0
IT_REPORTS=0
CASE="-"
STATUS=""
CURL_RC=0
BODY=""
LAST_REQ=""
HDRS=$IT_TMP/hdrs
BODYF=$IT_TMP/body

# The example jobid of the vendor page, with a plain e-mail address (SPEC).
SPEC_JOBID='j0326140530123456789v-u12345-email:user@example.com:a1b2c3d4-e5f6-7890-abcd-ef1234567890-bot:luma'

# ---------------------------------------------------------------- reporting

# tcase TEXT: names the checks that follow in messages.
tcase() {
	CASE=$*
	LAST_REQ=""
	echo "# $CASE"
}

pass() {
	IT_CHECKS=$((IT_CHECKS + 1))
	echo "ok - $CASE: $1"
}

# fail WHAT [EXPECTED GOT]
fail() {
	local LAST_REQ=${LAST_REQ:0:300}
	IT_CHECKS=$((IT_CHECKS + 1))
	IT_FAILS=$((IT_FAILS + 1))
	if [ $# -ge 3 ]; then
		echo "FAIL [$IT_NAME] $CASE: $1: expected '$2', got '$3'${LAST_REQ:+ (request: $LAST_REQ)}"
	else
		echo "FAIL [$IT_NAME] $CASE: $1${LAST_REQ:+ (request: $LAST_REQ)}"
	fi
}

# A setup step that cannot go on: report, clean up, exit 1.
die() {
	echo "ERROR [$IT_NAME] $CASE: $*"
	IT_FAILS=$((IT_FAILS + 1))
	exit 1
}

# skip WHAT WHY: a check this machine cannot make: said (a comment, not
# "ok") and counted apart; the rest of the test goes on.
skip() {
	IT_SKIPS=$((IT_SKIPS + 1))
	echo "# $CASE: $1: skip: $2"
}

skip_all() {
	echo "SKIP [$IT_NAME]: $*"
	exit 77
}

need_cmd() {
	command -v "$1" >/dev/null 2>&1 || skip_all "$1 is not installed"
}

# need_works TOOL COMMAND...: skips the test unless TOOL is installed and
# COMMAND, a small use of it, succeeds here: installed is not always
# usable (no pseudo-terminal, no IPv6, a module or a library missing).
need_works() {
	local tool=$1
	shift
	need_cmd "$tool"
	"$@" </dev/null >/dev/null 2>&1 ||
		skip_all "$tool is installed but does not work here ($* failed)"
}

# check_eq WHAT GOT WANT
check_eq() {
	if [ "$2" = "$3" ]; then pass "$1 = '$3'"; else fail "$1" "$3" "$2"; fi
}

# check_re WHAT GOT REGEX (extended, as bash's =~)
check_re() {
	if [[ $2 =~ $3 ]]; then
		pass "$1 ~ /$3/"
	else
		fail "$1" "/$3/" "$2"
	fi
}

# check_lt WHAT N LIMIT: N is a whole number, 0 or more, below LIMIT.
check_lt() {
	if [[ $2 =~ ^[0-9]+$ ]] && (($2 < $3)); then
		pass "$1 = $2 < $3"
	else
		fail "$1" "0 to $(($3 - 1))" "$2"
	fi
}

# check WHAT COMMAND...: passes when the command succeeds.
check() {
	local what=$1
	shift
	if "$@"; then pass "$what"; else fail "$what"; fi
}

# check_not WHAT COMMAND...: passes when the command fails.
check_not() {
	local what=$1
	shift
	if "$@"; then fail "$what"; else pass "$what"; fi
}

finish() {
	local skipped=""
	[ "$IT_SKIPS" -gt 0 ] && skipped=", $IT_SKIPS skipped"
	echo "# $IT_NAME: $IT_CHECKS checks, $IT_FAILS failed$skipped"
	[ "$IT_FAILS" -eq 0 ] && exit 0
	exit 1
}

# ---------------------------------------------------------------- processes

_it_cleanup() {
	local pid i
	trap - EXIT USR1
	for pid in "${IT_PIDS[@]}"; do
		kill -TERM "$pid" 2>/dev/null
	done
	for pid in "${IT_PIDS[@]}"; do
		for i in $(seq 1 $((30 * IT_SLOW))); do
			kill -0 "$pid" 2>/dev/null || break
			sleep 0.1
		done
		kill -KILL "$pid" 2>/dev/null
		wait "$pid" 2>/dev/null
	done
	[ -n "${IT_WATCHDOG:-}" ] && kill -TERM "$IT_WATCHDOG" 2>/dev/null
	_it_reports
	[ "$IT_REPORTS" -gt 0 ] && echo "# $IT_NAME: $IT_REPORTS reports of ${LUMAPROXY_WRAPPER%% *} read"
	if [ "$IT_FAILS" -ne 0 ]; then
		for f in "$IT_TMP"/*.err; do
			[ -f "$f" ] || continue
			echo "--- last lines of $(basename "$f")"
			tail -n 25 "$f"
		done
	fi
	if [ -n "${IT_KEEP:-}" ]; then
		echo "# kept $IT_TMP"
	else
		rm -rf "$IT_TMP"
	fi
	[ "$IT_FAILS" -eq 0 ] || exit 1
}

# _it_reports [PID]: checks the wrapper's reports of PID (default: all the
# processes that have one), once each: a report with errors is a failure,
# shown whole; one without a summary (a process killed) is said.
_it_reports() {
	local f n pid=${1:-*}
	for f in "$IT_TMP"/valgrind.$pid.log; do
		[ -f "$f" ] || continue
		n=$(sed -n 's/^==[0-9]*== ERROR SUMMARY: \([0-9]*\) errors.*/\1/p' "$f")
		if [ -z "$n" ]; then
			echo "# $(basename "$f"): no summary (the process was killed)"
		elif [ "$n" -ne 0 ]; then
			IT_CHECKS=$((IT_CHECKS + 1))
			IT_FAILS=$((IT_FAILS + 1))
			echo "FAIL [$IT_NAME] $CASE: $n errors in $(basename "$f"):"
			cat "$f"
		fi
		IT_REPORTS=$((IT_REPORTS + 1))
		mv "$f" "$f.seen"
	done
}

_it_timeout() {
	echo "FAIL [$IT_NAME] $CASE: the test ran over its limit of ${IT_LIMIT}s"
	IT_FAILS=$((IT_FAILS + 1))
	exit 1
}

trap _it_cleanup EXIT
trap _it_timeout USR1
trap 'exit 1' INT TERM
# The watchdog: USR1 to this shell after IT_LIMIT seconds.
(
	sleep "$IT_LIMIT" &
	s=$!
	trap 'kill $s 2>/dev/null; exit 0' TERM
	wait $s && kill -USR1 $$ 2>/dev/null
) </dev/null >/dev/null 2>&1 &
IT_WATCHDOG=$!

# _forget PID: stop tracking a process that has exited.
_forget() {
	local p keep=()
	for p in "${IT_PIDS[@]}"; do
		[ "$p" = "$1" ] || keep+=("$p")
	done
	IT_PIDS=("${keep[@]}")
}

# wait_line FILE REGEX PID: waits (5 s times IT_SLOW at most) for a line of
# FILE to match REGEX while PID lives; prints the first match.
wait_line() {
	local i
	for i in $(seq 1 $((100 * IT_SLOW))); do
		if grep -Eq -- "$2" "$1" 2>/dev/null; then
			grep -Eo -- "$2" "$1" | head -n 1
			return 0
		fi
		kill -0 "$3" 2>/dev/null || break
		sleep 0.05
	done
	grep -Eq -- "$2" "$1" 2>/dev/null && { grep -Eo -- "$2" "$1" | head -n 1; return 0; }
	return 1
}

# wait_for MS COMMAND...: runs COMMAND every 50 ms until it succeeds, MS
# milliseconds (times IT_SLOW) at most; status 1 when it never did.
# Instead of "sleep, then check": wait for what the check needs, bounded,
# then check.  Only COMMAND runs again: a $(...) among its words was
# expanded once, before (put it in a function).
wait_for() {
	local end=$(($(now_ms) + $1 * IT_SLOW))
	shift
	until "$@"; do
		[ "$(now_ms)" -lt "$end" ] || return 1
		sleep 0.05
	done
}

# start_fakeup [ARGS...]: sets FAKE_PID, FAKE_PORT, FAKE (its base URL).
start_fakeup() {
	local line
	# Emptied first: the start line of a fakeup started before must not be
	# read for this one's before its redirection truncates the file.
	: >"$IT_TMP/fakeup.out"
	"$FAKEUP" "$@" >"$IT_TMP/fakeup.out" 2>"$IT_TMP/fakeup.err" &
	FAKE_PID=$!
	IT_PIDS+=("$FAKE_PID")
	line=$(wait_line "$IT_TMP/fakeup.out" \
	    '^fakeup listening on 127\.0\.0\.1:[0-9]+$' "$FAKE_PID") ||
		die "fakeup did not start: $(cat "$IT_TMP/fakeup.out" "$IT_TMP/fakeup.err")"
	FAKE_PORT=${line##*:}
	FAKE=http://127.0.0.1:$FAKE_PORT
}

stop_fakeup() {
	kill -TERM "$FAKE_PID" 2>/dev/null
	wait "$FAKE_PID" 2>/dev/null
	_forget "$FAKE_PID"
}

# start_proxy [ARGS...]: lumaproxy on a free port with LP_DB (default
# $IT_TMP/lp.db) against fakeup, the words of LP_OPTS (a test's own
# defaults), then ARGS (they win).  Sets LP_PID,
# LP_PORT, LP (base URL) and LP_ERR (its stderr).  Returns 1 when it did
# not start (LP_PID then names the process, which may have exited).
start_proxy() {
	local line
	IT_NPROXY=$((IT_NPROXY + 1))
	LP_ERR=$IT_TMP/lumaproxy.$IT_NPROXY.err
	"$LUMAPROXY" -l 127.0.0.1:0 -u "${FAKE:-http://127.0.0.1:9}" \
	    -d "${LP_DB:-$IT_TMP/lp.db}" ${LP_OPTS:-} "$@" \
	    >"$IT_TMP/lumaproxy.$IT_NPROXY.out" \
	    2>"$LP_ERR" &
	LP_PID=$!
	IT_PIDS+=("$LP_PID")
	line=$(wait_line "$LP_ERR" 'listening on 127\.0\.0\.1:[0-9]+,' \
	    "$LP_PID") || return 1
	line=${line%,}
	LP_PORT=${line##*:}
	LP=http://127.0.0.1:$LP_PORT
	return 0
}

# must_start_proxy [ARGS...]: start_proxy, or end the test.
must_start_proxy() {
	start_proxy "$@" ||
		die "lumaproxy did not start ($*): $(head -c 2000 "$LP_ERR")"
}

# stop_proxy [SIGNAL] [SECONDS]: signals lumaproxy (TERM), waits for it to
# exit (10 s at most, times IT_SLOW); sets LP_RC (exit status, 124 when it
# did not exit).
stop_proxy() {
	local sig=${1:-TERM} secs=${2:-10} i
	kill -s "$sig" "$LP_PID" 2>/dev/null
	for i in $(seq 1 $((secs * 20 * IT_SLOW))); do
		kill -0 "$LP_PID" 2>/dev/null || break
		sleep 0.05
	done
	if kill -0 "$LP_PID" 2>/dev/null; then
		kill -KILL "$LP_PID" 2>/dev/null
		wait "$LP_PID" 2>/dev/null
		LP_RC=124
	else
		wait "$LP_PID" 2>/dev/null
		LP_RC=$?
	fi
	_forget "$LP_PID"
	_it_reports "$LP_PID"
}

# run_proxy_fail ARGS...: runs lumaproxy expecting it to refuse to start;
# sets RUN_RC and RUN_ERR (a file with its stderr); 5 s (times IT_SLOW) at most.
run_proxy_fail() {
	LAST_REQ="lumaproxy $*"
	RUN_ERR=$IT_TMP/run.$RANDOM.err
	timeout $((5 * IT_SLOW)) "$LUMAPROXY" "$@" >"$IT_TMP/run.out" 2>"$RUN_ERR" </dev/null
	RUN_RC=$?
}

# ---------------------------------------------------------------- HTTP

# http [CURL ARGS...] URL: one request; sets STATUS (000 when no answer),
# CURL_RC, BODY (text) and the files $BODYF (exact bytes) and $HDRS.
# Headers are parsed here, without forks: checks must stay fast, since some
# tests count seconds.
declare -A H_VAL H_CNT
http() {
	local line name
	: >"$BODYF"
	: >"$HDRS"
	LAST_REQ=$*
	STATUS=$(curl -sS --max-time "$IT_CURL_MAX" -o "$BODYF" -D "$HDRS" \
	    -w '%{http_code}' "$@" 2>"$IT_TMP/curl.err")
	CURL_RC=$?
	BODY=""
	IFS= read -r -d '' BODY <"$BODYF"
	H_VAL=()
	H_CNT=()
	# With several answers (1xx, or curl -I), the last one counts.
	while IFS= read -r line; do
		line=${line%$'\r'}
		case $line in
		HTTP/*) H_VAL=(); H_CNT=() ;;
		*:*)
			name=${line%%:*}
			name=${name,,}
			line=${line#*:}
			line=${line#"${line%%[! $'\t']*}"}
			line=${line%"${line##*[! $'\t']}"}
			H_VAL[$name]=$line
			H_CNT[$name]=$((${H_CNT[$name]:-0} + 1))
			;;
		esac
	done <"$HDRS"
}

# get JOBID [TOKEN [CURL ARGS...]]: GET the job from the proxy (the jobid
# goes into the URL as given).  TOKEN "-" sends no Authorization.
get() {
	local jobid=$1 tok=${2:-tokA}
	shift
	[ $# -gt 0 ] && shift
	if [ "$tok" = "-" ]; then
		http "$@" "$LP/v1/luma/jobs/$jobid"
	else
		http -H "Authorization: Bearer $tok" "$@" "$LP/v1/luma/jobs/$jobid"
	fi
}

# header NAME: the value of the NAME header of the last answer.
header() {
	printf '%s' "${H_VAL[${1,,}]-}"
}

header_count() {
	printf '%s' "${H_CNT[${1,,}]:-0}"
}

check_status() {
	check_eq "status" "$STATUS" "$1"
}

# check_header NAME VALUE: exactly one NAME header, with VALUE.
check_header() {
	local n=${H_CNT[${1,,}]:-0} v=${H_VAL[${1,,}]-}
	if [ "$n" -ne 1 ]; then
		fail "header $1" "one header '$2'" "$n headers ($v)"
	else
		check_eq "header $1" "$v" "$2"
	fi
}

check_header_re() {
	if [ "${H_CNT[${1,,}]:-0}" -eq 0 ]; then
		fail "header $1" "/$2/" "no $1 header"
	else
		check_re "header $1" "${H_VAL[${1,,}]}" "$2"
	fi
}

check_no_header() {
	if [ "${H_CNT[${1,,}]:-0}" -eq 0 ]; then pass "no $1 header"; else
		fail "header $1" "none" "${H_VAL[${1,,}]}"; fi
}

check_json_type() {
	check_header Content-Type "application/json; charset=utf-8"
}

# check_body BYTES: the body is exactly BYTES (BODY holds no NUL bytes).
check_body() {
	local want=${1:0:300} got=${BODY:0:300}
	if [ "$BODY" = "$1" ]; then
		want=${1:0:80}
		pass "body is ${want//$'\n'/\\n}"
	else
		fail "body" "${want//$'\n'/\\n}" "${got//$'\n'/\\n}"
	fi
}

# check_body_file FILE: the body is exactly the bytes of FILE.
check_body_file() {
	if cmp -s "$1" "$BODYF"; then
		pass "body is the bytes of $(basename "$1") ($(wc -c <"$1") bytes)"
	else
		fail "body" "the $(wc -c <"$1") bytes of $(basename "$1")" \
		    "$(wc -c <"$BODYF") bytes: $(head -c 200 "$BODYF")"
	fi
}

check_body_re() {
	check_re "body" "$BODY" "$1"
}

check_cache() {
	check_header X-Cache "$1"
}

# ---------------------------------------------------------------- fakeup

# urlenc STRING: percent-encodes all but A-Z a-z 0-9 - . _ ~
urlenc() {
	local LC_ALL=C s=$1 out="" c i
	for ((i = 0; i < ${#s}; i++)); do
		c=${s:i:1}
		case $c in
		[A-Za-z0-9._~-]) out+=$c ;;
		*) printf -v c '%%%02X' "'$c"; out+=$c ;;
		esac
	done
	printf '%s' "$out"
}

_fake_step() {
	local method=$1 id=$2 query=$3 code
	code=$(printf '%s' "${4-}" | _fake_send "$method" "$id" "$query")
	[ "$code" = 200 ] ||
		die "fakeup refused $method $id?$query: $code $(cat "$IT_TMP/fake.out")"
}

# _fake_send METHOD JOBID QUERY: sends stdin as the step's body.
_fake_send() {
	local method=$1 id=$2 query=$3
	curl -sS --max-time 5 -o "$IT_TMP/fake.out" \
	    -w '%{http_code}' -X "$method" --data-binary @- \
	    "$FAKE/_fake/jobs/$(urlenc "$id")?$query" || echo " (curl failed)"
}

# fake_job JOBID QUERY [BODY]: the job answers this one step, forever.
# QUERY: owner=T (repeatable; none: any token) status=N delay=MS
# retry-after=V close=1 size=BYTES type=CT, joined with '&'.
fake_job() {
	_fake_step PUT "$@"
}

# fake_then JOBID QUERY [BODY]: appends a step; the last step repeats.
fake_then() {
	_fake_step POST "$@"
}

# fake_job_file JOBID QUERY FILE: fake_job with the exact bytes of FILE.
fake_job_file() {
	local code
	code=$(_fake_send PUT "$1" "$2" <"$3")
	[ "$code" = 200 ] ||
		die "fakeup refused PUT $1?$2: $code $(cat "$IT_TMP/fake.out")"
}

fake_reset() {
	curl -sS --max-time 5 -o /dev/null -X POST "$FAKE/_fake/reset" ||
		die "fakeup reset failed"
}

# fake_count JOBID TOKEN: jobs requests fakeup got for the pair.
fake_count() {
	curl -sS --max-time 5 "$FAKE/_fake/stats" | awk -v j="$1" -v t="$2" '
	    $1 == "job" && $2 == j && $3 == t { n = $4 } END { print n + 0 }'
}

# fetches_at_least JOBID TOKEN N: upstream has N requests for the pair or more.
fetches_at_least() {
	[ "$(fake_count "$1" "$2")" -ge "$3" ]
}

fake_total() {
	curl -sS --max-time 5 "$FAKE/_fake/stats" | awk '$1 == "total" { print $2 }'
}

# fake_gone: answers fakeup had not given yet when their client closed the
# connection (a proxy that cancelled its call, for one).
fake_gone() {
	curl -sS --max-time 5 "$FAKE/_fake/stats" | awk '$1 == "gone" { print $2 }'
}

# check_upstream JOBID TOKEN N: fakeup saw N requests for the pair.
check_upstream() {
	check_eq "upstream requests for $1 with token $2" "$(fake_count "$1" "$2")" "$3"
}

check_total() {
	check_eq "upstream requests in all" "$(fake_total)" "$1"
}

# fake_requests: fakeup's request log, "TOKEN RAW-URI" per line.
fake_requests() {
	curl -sS --max-time 5 "$FAKE/_fake/requests"
}

# ---------------------------------------------------------------- job bodies

# job_record JOBID STATUS: a compact job record.
job_record() {
	printf '{"jobid":"%s","type":"video","status":"%s","created":"2026-03-26T14:05:30.123Z","updated":null,"response":null,"credits":null}' "$1" "$2"
}

# The vendor page's completed video record for JOBID, as the vendor lays it out.
job_completed() {
	cat <<EOF
{
  "jobid": "$1",
  "type": "video",
  "status": "completed",
  "created": "2026-03-26T14:05:30.123Z",
  "updated": "2026-03-26T14:08:45.678Z",
  "response": {
    "video": {
      "media_type": "video",
      "url": "https://storage.cdn-luma.com/video.mp4",
      "width": 1280,
      "height": 720,
      "duration": 5.04
    },
    "video_hdr_exr": null,
    "thumbnail": {
      "media_type": "image",
      "url": "https://storage.cdn-luma.com/thumbnail.jpg",
      "width": 1280,
      "height": 720
    },
    "last_frame": {
      "media_type": "image",
      "url": "https://storage.cdn-luma.com/last_frame.jpg",
      "width": 1280,
      "height": 720
    }
  },
  "credits": {
    "dm_usage": 20,
    "dm_relaxed_usage": null
  }
}
EOF
}

# ---------------------------------------------------------------- raw sockets

# raw_http PORT OUTFILE: sends stdin on a new connection to PORT, then
# copies what comes back into OUTFILE until the server closes (5 s times
# IT_SLOW at most).
raw_http() {
	timeout $((5 * IT_SLOW)) bash -c 'exec 3<>"/dev/tcp/127.0.0.1/$1" || exit 1
	    cat >&3; cat <&3 >"$2"' _ "$1" "$2" 2>/dev/null
}

# now_ms: wall-clock milliseconds, without a fork.
now_ms() {
	local t=${EPOCHREALTIME/[.,]/}
	echo $((t / 1000))
}

# sleep_until T0 MS: sleeps until MS milliseconds after T0 (a now_ms value).
sleep_until() {
	local left=$(($1 + $2 - $(now_ms)))
	[ "$left" -gt 0 ] && sleep "$(printf '%d.%03d' $((left / 1000)) $((left % 1000)))"
	return 0
}

# sha256 fingerprint (8 hex digits) of a token, as the logs show it.
fingerprint() {
	printf '%s' "$1" | sha256sum | cut -c1-8
}

# ---------------------------------------------------------------- pass-through

# need_python: skips the test without python3; sets IT_PYTHON to the real
# interpreter (a pyenv shim costs half a second a call).
need_python() {
	need_cmd python3
	IT_PYTHON=$(python3 -c 'import sys; print(sys.executable or "python3")' 2>/dev/null)
	[ -n "$IT_PYTHON" ] || skip_all "python3 does not run"
}

# json_get [-f FILE] KEY...: the value at KEY... (object keys, or list
# indexes) of the JSON in FILE (default: the last answer's body); strings
# as they are, anything else as JSON; nothing (and status 1) when absent
# or not JSON.  Needs python3.
json_get() {
	local f=$BODYF
	if [ "${1-}" = "-f" ]; then f=$2; shift 2; fi
	"${IT_PYTHON:-python3}" - "$f" "$@" <<'EOF' 2>/dev/null
import json, sys
try:
    v = json.load(open(sys.argv[1], "rb"))
    for k in sys.argv[2:]:
        v = v[int(k)] if isinstance(v, list) else v[k]
except Exception:
    sys.exit(1)
sys.stdout.write(v if isinstance(v, str) else json.dumps(v, separators=(",", ":")))
EOF
}

# echo_header [-f FILE] NAME: the values of the request header NAME (any
# case) that fakeup's echo (in FILE, default the last body) lists, one a
# line, in the order upstream received them; nothing when there is none.
echo_header() {
	local f=$BODYF
	if [ "${1-}" = "-f" ]; then f=$2; shift 2; fi
	"${IT_PYTHON:-python3}" - "$f" "$1" <<'EOF' 2>/dev/null
import json, sys
for k, v in json.load(open(sys.argv[1], "rb"))["headers"]:
    if k.lower() == sys.argv[2].lower():
        print(v)
EOF
}

# echo_header_names [-f FILE]: the request header names the echo lists, one a line.
echo_header_names() {
	local f=$BODYF
	if [ "${1-}" = "-f" ]; then f=$2; shift 2; fi
	"${IT_PYTHON:-python3}" - "$f" <<'EOF' 2>/dev/null
import json, sys
for k, v in json.load(open(sys.argv[1], "rb"))["headers"]:
    print(k)
EOF
}

# pattern_file BYTES FILE: fakeup's _size= body: "abc...z" repeated, BYTES long.
pattern_file() {
	yes abcdefghijklmnopqrstuvwxyz | tr -d '\n' | head -c "$1" >"$2"
}

# sha256_of FILE: the hex SHA-256 of the bytes of FILE.
sha256_of() {
	sha256sum <"$1" | cut -d' ' -f1
}

# wrapped: true when lumaproxy runs under LUMAPROXY_WRAPPER.  Checks of
# its memory use or speed would measure the wrapper: they are skipped
# (skip WHAT "$WRAPPED").
wrapped() {
	[ -n "$WRAPPED" ]
}

# vm_hwm_kb PID: the peak resident set size of PID (kB), from /proc; empty
# when the system has no such figure.
vm_hwm_kb() {
	awk '$1 == "VmHWM:" { print $2 }' "/proc/$1/status" 2>/dev/null
}

# ---------------------------------------------------------------- metrics

# The Prometheus text parser the metrics checks share (python3), beside lib.sh.
PROMCHECK=${TESTS_SRCDIR:-$IT_DIR}/promcheck.py

# promcheck COMMAND FILE [ARGS...]: runs promcheck.py (see its docstring).
promcheck() {
	"${IT_PYTHON:-python3}" "$PROMCHECK" "$@"
}


# scrape [FILE]: GET /metrics from the proxy into FILE (default
# $IT_TMP/metrics); sets METRICS to it.  The answer stays in STATUS etc.
scrape() {
	METRICS=${1:-$IT_TMP/metrics}
	http "$LP/metrics"
	cp "$BODYF" "$METRICS"
}

# metric NAME [LABELS] [FILE]: the value of the samples NAME whose labels
# include LABELS ('route=jobs,status=200'), summed, in FILE (default
# $METRICS); 0 when there is none.
metric() {
	promcheck value "${3:-$METRICS}" "$1" "${2-}"
}

# metrics_problems FILE: what is wrong with FILE as Prometheus text format
# 0.0.4, one problem a line; status 1 when anything is.
metrics_problems() {
	promcheck check "$1"
}

# check_metric_delta WHAT NAME LABELS BEFORE AFTER WANT: the samples moved
# by WANT between the scrapes in the files BEFORE and AFTER.
check_metric_delta() {
	local b a
	b=$(metric "$2" "$3" "$4")
	a=$(metric "$2" "$3" "$5")
	check_eq "$1: $2{$3} moved by" "$(awk -v a="$a" -v b="$b" 'BEGIN { print a - b }')" "$6"
}
