#!/usr/bin/env bash
# SPEC 10: the team gateway (--upstream-token-file).  The gateway holds the
# account's token; members send keys made by `lumaproxy keys`.  Checked
# here: the token file's refusals; which keys get in (and that a refused
# one sends nothing upstream); that upstream only ever sees the held token;
# who sees which job (own and shared); admin-only accounts routes; the
# rpm, max-running and daily-credits limits, also under 20 submissions at
# once; revocation, rotation and expiry while serving; keys commands while
# serving; that the held token is written and sent nowhere; usage, metrics
# and log lines per member; owners through export and import; and that
# without a token file clients' tokens still go upstream.
. "${TESTS_SRCDIR:-$(dirname "$0")}/lib.sh"
# What this test counts is what clients' polls make upstream do: no
# background watch of submitted jobs (tests/it_push.sh has that).
LP_OPTS=--no-watch

need_python		# fakeup's echo, usage and export are JSON
need_cmd sha256sum

# The held token: distinctive, so that a grep for it finds every copy.
HELD="useapi-HELD-$(head -c 18 /dev/urandom | od -An -tx1 | tr -d ' \n')"
GW_DB=$IT_TMP/gw.db
TOKFILE=$IT_TMP/held-token.secret
# Only the first line is the token.
printf '%s\nsecond line, not part of the token\n' "$HELD" >"$TOKFILE"
chmod 600 "$TOKFILE"
ANSWERS=$IT_TMP/answers.all	# every answer the test got, but upstream's echoes

declare -A KEY REQS HITS UPC SUBS DONE REFUSED

# Every answer goes into ANSWERS, except fakeup's echo of a pass-through
# request (X-Echo: 1): it lists the headers upstream received, the held
# token among them, by design of the fake.
eval "$(declare -f http | sed '1s/^http /_lib_http /')"
http() {
	_lib_http "$@"
	[ "$(header X-Echo)" = 1 ] || cat "$HDRS" "$BODYF" >>"$ANSWERS"
}

# lp ARGS...: the lumaproxy command line (keys, usage, export, import).
lp() {
	"$LUMAPROXY" "$@"
}

# new_key DB NAME [OPTIONS...]: `keys add` on DB; the key goes into NEWKEY.
new_key() {
	local db=$1 name=$2
	shift 2
	NEWKEY=$(lp keys --db "$db" add "$name" "$@" 2>"$IT_TMP/keys.err") ||
		die "keys add $name $*: exit $?: $(cat "$IT_TMP/keys.err")"
	[[ $NEWKEY =~ ^lp_[A-Za-z0-9_-]{43}$ ]] ||
		die "keys add $name printed '$NEWKEY', not one key"
}

# add_key NAME [OPTIONS...]: a member of the gateway's database; the key
# goes into KEY[NAME].
add_key() {
	new_key "$GW_DB" "$@"
	KEY[$1]=$NEWKEY
}

# as NAME [CURL ARGS...] URL: a request with NAME's key, counted for the
# usage checks: requests (any answer but 401), hits (X-Cache: HIT), upstream
# calls (a MISS, an echo, a submission upstream answered), submissions
# (accepted ones) and refusals by limit.
as() {
	local name=$1
	shift
	http -H "Authorization: Bearer ${KEY[$name]}" "$@"
	[ "$STATUS" = 401 ] && return 0
	REQS[$name]=$((${REQS[$name]:-0} + 1))
	[ "$(header X-Cache)" = HIT ] && HITS[$name]=$((${HITS[$name]:-0} + 1))
	if [ "$(header X-Cache)" = MISS ] || [ "$(header X-Echo)" = 1 ] ||
	    [[ $BODY =~ ^\{\"jobid\":\"j[^\"]*\",\"status\":\"created\"\}$ ]]; then
		UPC[$name]=$((${UPC[$name]:-0} + 1))
	fi
	if [[ $BODY =~ ^\{\"jobid\":\"(j[^\"]*)\",\"status\":\"created\"\}$ ]]; then
		SUBS[$name]=$((${SUBS[$name]:-0} + 1))
		JOB=${BASH_REMATCH[1]}
	fi
	if [ "$STATUS" = 429 ]; then
		local l
		for l in rpm max-running daily-credits; do
			[[ ${BODY,,} == *"$l"* ]] &&
				REFUSED[$name:$l]=$((${REFUSED[$name:$l]:-0} + 1))
		done
	fi
	return 0
}

# submit NAME [videos|images] [QUERY]: POST a submission as NAME; JOB is the
# new jobid when upstream made one.
submit() {
	JOB=""
	as "$1" -X POST -H "Content-Type: application/json" \
	    --data-binary '{"prompt":"a gateway test"}' \
	    "$LP/v1/luma/${2:-videos}${3:+?$3}"
}

# poll NAME JOBID [CURL ARGS...]
poll() {
	local name=$1 job=$2
	shift 2
	as "$name" "$@" "$LP/v1/luma/jobs/$job"
}

# job_status: the status field of the job record in the last answer.
job_status() {
	json_get status
}

# poll_done NAME JOBID: polls until the job is completed (10 polls at most;
# fakeup completes a submitted job on its third fetch); the completing
# answer counts toward NAME's completed jobs.
poll_done() {
	local i
	for i in $(seq 1 10); do
		poll "$1" "$2"
		if [ "$STATUS" != 200 ]; then
			fail "polling $2 as $1: status" 200 "$STATUS $BODY"
			return 1
		fi
		if [ "$(job_status)" = completed ]; then
			DONE[$1]=$((${DONE[$1]:-0} + 1))
			return 0
		fi
		[ "$(header X-Cache)" = MISS ] || sleep 0.05
	done
	fail "$2 polled to completed by $1" completed "$(job_status)"
	return 1
}

# key_gets KEY WANT: a job fetch with KEY (a job nobody submitted: 404 for
# a member key, locally) answers WANT (401 for no key at all).
key_gets() {
	http -H "Authorization: Bearer $1" "$LP/v1/luma/jobs/jprobe-nobodys"
	[ "$STATUS" = "$2" ]
}
key_works() {
	http -H "Authorization: Bearer $1" "$LP/v1/luma/jobs/jprobe-nobodys"
	[ "$STATUS" != 401 ] && [ "$STATUS" != 000 ]
}

# check_unauthorized: the last answer is the gateway's 401.
check_unauthorized() {
	check_eq "status, body" "$STATUS $BODY" '401 {"error":"Unauthorized"}'
}

# upstream_subs: submissions upstream got (all carry the held token).
upstream_subs() {
	echo $(($(fake_count /v1/luma/videos "$HELD") + $(fake_count /v1/luma/images "$HELD")))
}

# usage_of NAME FIELD [SUBFIELD]: from `usage --json` (in $IT_TMP/usage.json);
# numbers whole when they are.
usage_of() {
	"$IT_PYTHON" - "$IT_TMP/usage.json" "$@" <<'EOF' 2>/dev/null
import json, sys
doc = json.load(open(sys.argv[1]))
for m in doc["members"]:
    if m["name"] == sys.argv[2]:
        v = m
        for k in sys.argv[3:]:
            v = v[k]
        if isinstance(v, float) and v.is_integer():
            v = int(v)
        print(v)
        break
else:
    print("absent")
EOF
}

# export_field FILE JOBID KEY: KEY of JOBID's line of an export; "absent"
# when the line has no such key, "no line" when there is no such line.
export_field() {
	"$IT_PYTHON" - "$@" <<'EOF' 2>/dev/null
import json, sys
for line in open(sys.argv[1]):
    o = json.loads(line)
    if o.get("jobid") == sys.argv[2]:
        print(o.get(sys.argv[3], "absent"))
        break
else:
    print("no line")
EOF
}

start_fakeup

# ------------------------------------------------------------------ keys
add_key alice
add_key bob
add_key root --admin
add_key carol --max-running 3
add_key dave --rpm 2
add_key erin --daily-credits 1
add_key frank --max-running 1
add_key gina
add_key hank
add_key ivy --expires 2020-01-01
add_key ivan --expires 2099-12-31
add_key otto
add_key quinn
add_key hugo --max-running 1
add_key zoe --max-running 1
add_key walt --max-running 1

# ------------------------------------------------------------------ 1
tcase "the token file: missing, empty, readable by group or others -> no start"
# refuse_start WHAT FILE: lumaproxy with FILE as its token file exits
# non-zero at once, naming the file, never printing the token.
refuse_start() {
	LAST_REQ="lumaproxy --upstream-token-file $2"
	RUN_ERR=$IT_TMP/refuse.$RANDOM.err
	timeout $((3 * IT_SLOW)) "$LUMAPROXY" -l 127.0.0.1:0 -u "$FAKE" -d "$IT_TMP/refuse.db" \
	    --upstream-token-file "$2" >"$IT_TMP/refuse.out" 2>"$RUN_ERR" </dev/null
	RUN_RC=$?
	check_re "$1: exit status (non-zero, not killed after $((3 * IT_SLOW)) s)" "$RUN_RC" '^([1-9]|[1-9][0-9]|1[01][0-9]|12[0-3])$'
	check "$1: the message names the file ($(head -c 200 "$RUN_ERR"))" \
	    grep -qF -- "$2" "$RUN_ERR"
	check_eq "$1: the token in its output" \
	    "$(cat "$RUN_ERR" "$IT_TMP/refuse.out" | grep -c -F -- "$HELD")" 0
}
refuse_start "missing file" "$IT_TMP/no-such.token"
: >"$IT_TMP/empty.token"
chmod 600 "$IT_TMP/empty.token"
refuse_start "empty file" "$IT_TMP/empty.token"
printf '\n%s\n' "$HELD" >"$IT_TMP/blank.token"
chmod 600 "$IT_TMP/blank.token"
refuse_start "an empty first line" "$IT_TMP/blank.token"
for mode in 644 640 604; do
	printf '%s\n' "$HELD" >"$IT_TMP/mode$mode.token"
	chmod "$mode" "$IT_TMP/mode$mode.token"
	refuse_start "mode 0$mode" "$IT_TMP/mode$mode.token"
done

tcase "the token file: mode 0400 and 0600 start"
cp "$TOKFILE" "$IT_TMP/ro.token"
chmod 400 "$IT_TMP/ro.token"
LP_DB=$IT_TMP/ro.db
if start_proxy --upstream-token-file "$IT_TMP/ro.token"; then
	pass "mode 0400: started"
	stop_proxy
	check_eq "mode 0400: exit status after SIGTERM" "$LP_RC" 0
else
	fail "mode 0400: started" "listening" "$(head -c 300 "$LP_ERR")"
	stop_proxy KILL 1
fi
LP_DB=$GW_DB
must_start_proxy --upstream-token-file "$TOKFILE" --pending-interval 0
pass "mode 0600: started"
GW_ERRS=("$LP_ERR")

# ------------------------------------------------------------------ 2
tcase "member keys as Bearer"
fake_job jscripted "owner=$HELD" "$(job_completed jscripted)"
t0=$(fake_total)
as alice "$LP/v1/luma/gw-hello?x=1"
check_status 200
check_eq "the request reached upstream" "$(json_get uri)" "/v1/luma/gw-hello?x=1"
http -H "Authorization: bearer ${KEY[bob]}" "$LP/v1/luma/gw-hello?x=2"
REQS[bob]=$((${REQS[bob]:-0} + 1))
check_eq "scheme in lower case: status" "$STATUS" 200
check_total $((t0 + 2))

# bad_key WHAT AUTH-HEADER: a job fetch, a pass-through GET and a
# submission with this Authorization (none when empty): 401, nothing
# upstream.
bad_key() {
	local t0 a=()
	[ -n "$2" ] && a=(-H "Authorization: $2")
	t0=$(fake_total)
	tcase "$1: 401 for everything, nothing upstream"
	http "${a[@]}" "$LP/v1/luma/jobs/jscripted"
	check_unauthorized
	http "${a[@]}" "$LP/v1/luma/jobs/jprobe-nobodys"
	check_unauthorized
	http "${a[@]}" "$LP/v1/luma/gw-hello"
	check_unauthorized
	http "${a[@]}" -X POST --data-binary '{"prompt":"x"}' "$LP/v1/luma/videos"
	check_unauthorized
	http "${a[@]}" "$LP/v1/luma/accounts"
	check_unauthorized
	check_total "$t0"
}
bad_key "the key in other case" "Bearer $(tr 'a-zA-Z' 'A-Za-z' <<<"${KEY[alice]}")"
bad_key "the key with base64 padding" "Bearer ${KEY[alice]}="
bad_key "the key and a word after a space" "Bearer ${KEY[alice]} x"
bad_key "the key without its last character" "Bearer ${KEY[alice]%?}"
bad_key "a well-formed key nobody was given" "Bearer lp_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
bad_key "the key under the Basic scheme" "Basic ${KEY[alice]}"
bad_key "the upstream token itself" "Bearer $HELD"
bad_key "no Authorization" ""
bad_key "a key that expired in 2020" "Bearer ${KEY[ivy]}"

tcase "an expiry in the future does not refuse"
check "ivan's key (expires 2099-12-31) works" key_works "${KEY[ivan]}"

tcase "/healthz and /metrics need no key"
http "$LP/healthz"
check_status 200
http "$LP/metrics"
check_status 200

# ------------------------------------------------------------------ 3, 4
tcase "alice submits; bob gets 404 for it and nothing goes upstream"
t0=$(fake_total)
submit alice videos
check_status 200
JA=$JOB
check_re "a jobid" "$JA" '^j[0-9]+-'
check_eq "upstream submissions with the held token" "$(fake_count /v1/luma/videos "$HELD")" 1
poll bob "$JA"
check_eq "bob: status, body" "$STATUS $BODY" '404 {"error":"Job not found"}'
check_json_type
poll bob "$JA" -I
check_eq "bob, HEAD: status" "$STATUS" 404
poll bob "%6A${JA#j}"
check_eq "bob, the jobid's first letter percent-encoded: status, body" "$STATUS $BODY" '404 {"error":"Job not found"}'
check_total $((t0 + 1))
check_upstream "$JA" "$HELD" 0

tcase "bob asks for alice's job by other spellings of the jobs route: nothing upstream"
# Upstream may read each as /v1/luma/jobs/JOBID: %6A is 'j' (RFC 3986
# 6.2.2.2), %2e and %2e%2e are dot segments for a WHATWG URL parser (as in
# a Cloudflare Worker), empty segments and case are what the gateway itself
# disregards for accounts and submissions.
for p in "/v1/luma/%6Aobs/$JA" "/v1/luma/%2e/jobs/$JA" "/v1/luma/x/%2e%2e/jobs/$JA" \
    "/v1/luma/.%2e/luma/jobs/$JA" "/v1//luma/jobs/$JA" "/v1/luma//jobs/$JA" \
    "/v1/luma/Jobs/$JA" "/v1/%6Cuma/jobs/$JA"; do
	t0=$(fake_total)
	as bob --path-as-is "$LP$p"
	check_re "GET $p: status" "$STATUS" '^(400|403|404)$'
	check_eq "GET $p: upstream requests" "$(fake_total)" "$t0"
done

tcase "alice polls her job to completion"
poll_done alice "$JA"
cp "$BODYF" "$IT_TMP/ja.done"
check_re "the record is alice's job" "$(json_get jobid)" "^$JA\$"
check_upstream "$JA" "$HELD" 3
poll alice "$JA"
check_eq "again: status, X-Cache" "$STATUS $(header X-Cache)" "200 HIT"
check_body_file "$IT_TMP/ja.done"

tcase "upstream saw the held token, never a member key"
check_eq "tokens upstream received" "$(fake_requests | cut -d' ' -f1 | sort -u)" "$HELD"
as alice -X POST --data-binary 'x=1' "$LP/v1/luma/gw-echo?y=2"
check_status 200
check_eq "Authorization upstream received (pass-through)" "$(echo_header Authorization)" "Bearer $HELD"
for n in "${!KEY[@]}"; do
	check_eq "the echo holds $n's key" "$(grep -c -F -- "${KEY[$n]}" "$BODYF")" 0
done

tcase "after completion bob still gets 404, never the record"
poll bob "$JA"
check_eq "bob: status, body" "$STATUS $BODY" '404 {"error":"Job not found"}'
poll bob "$JA" -H "Cache-Control: only-if-cached"
check_not "bob, only-if-cached: the record ($STATUS)" [ "$STATUS" = 200 ]
check_not "bob, only-if-cached: alice's record in the body" cmp -s "$BODYF" "$IT_TMP/ja.done"
check_upstream "$JA" "$HELD" 3

tcase "an admin key sees alice's job"
poll root "$JA"
check_status 200
check_body_file "$IT_TMP/ja.done"

tcase "answers from memory: alice's job to alice and admins, never to bob"
mem() { scrape "$IT_TMP/mem.$RANDOM"; metric lumaproxy_memory_answers_total; }
m0=$(mem)
poll alice "$JA"
poll alice "$JA"
check_eq "alice: status, X-Cache" "$STATUS $(header X-Cache)" "200 HIT"
check_body_file "$IT_TMP/ja.done"
m1=$(mem)
check "alice's second poll came from memory ($m0 -> $m1)" [ "$m1" -gt "$m0" ]
poll bob "$JA"
check_eq "bob: status, body" "$STATUS $BODY" '404 {"error":"Job not found"}'
check_eq "bob's answer did not come from memory" "$(mem)" "$m1"
poll root "$JA"
check_status 200
check_body_file "$IT_TMP/ja.done"
check_eq "the admin's came from memory" "$(mem)" $((m1 + 1))
add_key mona --admin
check "mona's new key works within 3 s" wait_for 3000 key_works "${KEY[mona]}"
poll mona "$JA"
poll mona "$JA"
check_eq "mona: status, X-Cache" "$STATUS $(header X-Cache)" "200 HIT"
lp keys --db "$GW_DB" revoke mona 2>"$IT_TMP/revoke-mona.err"
mona_refused() { poll mona "$JA"; [ "$STATUS" = 401 ]; }
check "mona's job poll gets 401 within 3 s of the revocation" wait_for 3000 mona_refused
check_unauthorized
check_upstream "$JA" "$HELD" 3

tcase "a job the gateway did not see submitted: 404 for members, 200 for admins"
poll alice jscripted
check_eq "alice: status, body" "$STATUS $BODY" '404 {"error":"Job not found"}'
poll bob jscripted
check_eq "bob: status" "$STATUS" 404
check_upstream jscripted "$HELD" 0
poll root jscripted
check_status 200
check_body "$(job_completed jscripted)"
check_upstream jscripted "$HELD" 1
poll alice jscripted
check_eq "alice, once the admin has it cached: status" "$STATUS" 404
check_not "alice: the record in the body" [ "$BODY" = "$(job_completed jscripted)" ]

# ------------------------------------------------------------------ 5
tcase "/v1/luma/accounts and below: 403 for members, nothing upstream"
t0=$(fake_total)
for p in /v1/luma/accounts /v1/luma/accounts/xyz /v1/luma/accounts/ \
    '/v1/luma/accounts?x=1' /v1/luma/accounts/user@example.com; do
	as bob --path-as-is "$LP$p"
	check_eq "GET $p: status, body" "$STATUS $BODY" '403 {"error":"Admin key required"}'
done
as bob -X POST --data-binary '{"a":1}' "$LP/v1/luma/accounts/user@example.com"
check_eq "POST: status, body" "$STATUS $BODY" '403 {"error":"Admin key required"}'
as bob -X DELETE "$LP/v1/luma/accounts/user@example.com"
check_eq "DELETE: status" "$STATUS" 403
check_total "$t0"

tcase "spellings of accounts a server may read as accounts never reach upstream with a member key"
for p in /v1/luma//accounts /v1/luma/Accounts /v1/luma/ACCOUNTS/xyz \
    /v1/luma/%61ccounts /v1/luma/%61ccounts/xyz /v1/luma/./accounts \
    /v1/luma/x/../accounts /v1/luma/%2e/accounts /v1/luma/x/%2E%2E/accounts \
    /v1/luma/.%2e/luma/accounts /v1//luma/accounts /v1/luma/accounts%2Fxyz /v1/luma/accounts%2fxyz; do
	t0=$(fake_total)
	as bob --path-as-is "$LP$p"
	check_re "GET $p: status" "$STATUS" '^(400|403|404)$'
	check_eq "GET $p: upstream requests" "$(fake_total)" "$t0"
done

tcase "/v1/luma/accounts with an admin key reaches upstream with the held token"
as root "$LP/v1/luma/accounts"
check_status 200
check_eq "request-target upstream received" "$(json_get uri)" /v1/luma/accounts
check_eq "Authorization upstream received" "$(echo_header Authorization)" "Bearer $HELD"
as root "$LP/v1/luma/accounts/xyz"
check_status 200
check_eq "request-target upstream received" "$(json_get uri)" /v1/luma/accounts/xyz

tcase "other routes are open to members"
as bob -X POST --data-binary 'f' "$LP/v1/luma/upload?name=a.png"
check_status 200
check_eq "Authorization upstream received" "$(echo_header Authorization)" "Bearer $HELD"

# ------------------------------------------------------------------ 6
tcase "max-running 3: 20 submissions at once, 3 pass"
s0=$(upstream_subs)
PAR=$IT_TMP/par
mkdir -p "$PAR"
# 20 clients at once; upstream holds each submission it gets for 400 ms,
# so all 20 are in flight together.
cpids=()
for i in $(seq 1 20); do
	curl -sS --max-time 10 -H "Authorization: Bearer ${KEY[carol]}" \
	    -H "Content-Type: application/json" --data-binary '{"prompt":"at once"}' \
	    -o "$PAR/b$i" -D "$PAR/h$i" -w '%{http_code}' \
	    "$LP/v1/luma/videos?_delay=400&n=$i" >"$PAR/s$i" 2>"$PAR/err$i" &
	cpids+=($!)
done
wait "${cpids[@]}"
# "STATUS [RETRY-AFTER] BODY-FILE" per answer.
for i in $(seq 1 20); do
	printf '%s [%s] %s\n' "$(cat "$PAR/s$i")" \
	    "$(sed -n 's/^[Rr]etry-[Aa]fter: *\([^[:space:]]*\).*/\1/p' "$PAR/h$i")" "$PAR/b$i"
	cat "$PAR/h$i" "$PAR/b$i" >>"$ANSWERS"
done >"$PAR/w"
check_eq "answers" "$(wc -l <"$PAR/w")" 20
check_eq "200s" "$(grep -c '^200 ' "$PAR/w")" 3
check_eq "429s" "$(grep -c '^429 ' "$PAR/w")" 17
check_eq "429s with a Retry-After of whole seconds, 1 or more" \
    "$(grep -cE '^429 \[[1-9][0-9]*\] ' "$PAR/w")" 17
n=0
CJOBS=()
while read -r st ra f; do
	if [ "$st" = 429 ]; then
		grep -qi 'max-running' "$f" && n=$((n + 1))
	elif [ "$st" = 200 ]; then
		CJOBS+=("$(json_get -f "$f" jobid)")
	fi
done <"$PAR/w"
REQS[carol]=20
REFUSED[carol:max-running]=17
check_eq "429 bodies naming max-running" "$n" 17
check_eq "submissions upstream saw" "$(($(upstream_subs) - s0))" 3

tcase "max-running 3: polls and other routes pass while the limit is reached"
submit carol
check_eq "a 4th submission: status" "$STATUS" 429
check_header_re Retry-After '^[1-9][0-9]*$'
check_json_type
check_re "error" "$(json_get error | tr A-Z a-z)" 'max-running'
as carol "$LP/v1/luma/other?x=1"
check_eq "pass-through GET" "$STATUS" 200
as carol -X POST --data-binary x "$LP/v1/luma/upload"
check_eq "pass-through POST" "$STATUS" 200
for j in "${CJOBS[@]}"; do
	poll carol "$j"
	check_eq "poll of $j" "$STATUS" 200
done

tcase "max-running 3: once the jobs are done, submissions pass again"
for j in "${CJOBS[@]}"; do
	poll_done carol "$j"
done
s0=$(upstream_subs)
submit carol
check_eq "a submission: status" "$STATUS" 200
check_eq "submissions upstream saw" "$(($(upstream_subs) - s0))" 1

tcase "max-running 1: a submission upstream refused holds no slot"
submit frank videos "_status=500"
check_eq "refused upstream: status" "$STATUS" 500
submit frank
check_eq "then a submission: status" "$STATUS" 200
submit frank images
check_eq "then another: status" "$STATUS" 429

tcase "max-running 1: a submission whose client hung up still counts"
# Upstream got the submission and runs the job whether or not the client
# waited for the answer (fakeup makes it at once and answers after 1 s).
s0=$(upstream_subs)
curl -sS --max-time 0.3 -o /dev/null -X POST -H "Authorization: Bearer ${KEY[hugo]}" \
    --data-binary '{"prompt":"x"}' "$LP/v1/luma/videos?_delay=1000" 2>/dev/null
REQS[hugo]=1
check_eq "submissions upstream saw" "$(($(upstream_subs) - s0))" 1
check "the proxy has upstream's answer (its log says the job was submitted)" \
    wait_for 5000 grep -q 'job [^ ]* submitted by @hugo$' "$LP_ERR"
submit hugo
check_eq "the next submission, upstream's job still running: status" "$STATUS" 429
check_eq "submissions upstream saw" "$(($(upstream_subs) - s0))" 1

tcase "max-running 1: a submission asking for gzip is read and counted all the same"
# Behind a CDN a client asking for gzip would get its answer compressed, and
# the proxy could not read the jobid in it: the gateway asks for it plain.
as zoe -X POST -H "Accept-Encoding: gzip" --data-binary '{"prompt":"x"}' "$LP/v1/luma/videos"
check_eq "status" "$STATUS" 200
check_not "upstream was not asked for gzip: $BODY" grep -qF accept_encoding "$BODYF"
as zoe -X POST -H "Accept-Encoding: gzip" --data-binary '{"prompt":"x"}' "$LP/v1/luma/videos"
check_eq "the next submission: status" "$STATUS" 429

tcase "a submission while another process holds the database: owned all the same"
# The owner row cannot be written at once; the member sees its job and its
# limit holds, and the row is written once the database is free.
python3 - "$GW_DB" >"$IT_TMP/held.out" 2>&1 <<'PY' &
import sqlite3, sys, time
c = sqlite3.connect(sys.argv[1], isolation_level=None, timeout=10)
c.execute("BEGIN IMMEDIATE")
print("held", flush=True)
time.sleep(1.5)	# the database held that long is the test
c.execute("COMMIT")
PY
held=$!
check "another process holds the database" wait_for 5000 grep -q held "$IT_TMP/held.out"
submit walt
check_eq "submission: status" "$STATUS" 200
wjob=$JOB
poll walt "$wjob"
check_eq "walt polls his job: status" "$STATUS" 200
submit walt
check_eq "a second submission: status" "$STATUS" 429
wait "$held"
owner_written() {
	[ "$("$IT_PYTHON" -c 'import sqlite3, sys
c = sqlite3.connect(sys.argv[1], timeout=5)
r = c.execute("SELECT owner FROM job_owners WHERE jobid = ?", (sys.argv[2],)).fetchone()
print(r[0] if r else "")' "$GW_DB" "$wjob" 2>/dev/null)" = walt ]
}
check "the owner row is written once the database is free" wait_for 5000 owner_written
poll_done walt "$wjob"
submit walt
check_eq "after his job completed: status" "$STATUS" 200

tcase "rpm 2: the third submission within the minute is refused"
s0=$(upstream_subs)
submit dave
check_eq "1st: status" "$STATUS" 200
JD=$JOB
submit dave images
check_eq "2nd: status" "$STATUS" 200
submit dave
check_eq "3rd: status" "$STATUS" 429
check_json_type
check_re "error" "$(json_get error | tr A-Z a-z)" 'rpm'
ra=$(header Retry-After)
check_re "Retry-After, 1 to 60" "$ra" '^([1-9]|[1-5][0-9]|60)$'
check_eq "submissions upstream saw" "$(($(upstream_subs) - s0))" 2
for p in /v1/luma/%76ideos /v1/luma/%2e/videos /v1/luma/x/%2E%2E/videos \
    /v1/luma/.%2e/luma/images /v1//luma/videos; do
	t0=$(fake_total)
	as dave -X POST --data-binary '{"prompt":"x"}' --path-as-is "$LP$p"
	check_re "POST $p (a submission, spelt otherwise): status" "$STATUS" '^(400|404|429)$'
	check_eq "POST $p: upstream requests" "$(fake_total)" "$t0"
done
poll dave "$JD"
check_eq "a poll: status" "$STATUS" 200
as dave "$LP/v1/luma/other"
check_eq "pass-through GET" "$STATUS" 200
as dave -X PUT --data-binary x "$LP/v1/luma/videos"
check_eq "PUT /v1/luma/videos (not a submission)" "$STATUS" 200

tcase "keys set lifts the rpm limit of a running server"
lp keys --db "$GW_DB" set dave --rpm 0 2>"$IT_TMP/set.err"
check_eq "keys set: exit status" "$?" 0
t0=$(now_ms)
dave_submits() { submit dave; [ "$STATUS" = 200 ]; }
check "a submission passes within 3 s" wait_for 3000 dave_submits
echo "# took $(($(now_ms) - t0)) ms"

tcase "daily-credits 1: a completed job's credits use up the budget"
submit erin
check_eq "1st: status" "$STATUS" 200
poll_done erin "$JOB"
JE=$JOB
check_re "dm_usage of the job" "$(json_get credits dm_usage)" '^[1-9]'
s0=$(upstream_subs)
submit erin
check_eq "2nd: status" "$STATUS" 429
check_json_type
check_re "error" "$(json_get error | tr A-Z a-z)" 'daily-credits'
ra=$(header Retry-After)
check_re "Retry-After (seconds)" "$ra" '^[1-9][0-9]*$'
[[ $ra =~ ^[0-9]+$ ]] || ra=0
check "Retry-After $ra is at most a day" [ "$ra" -le 86400 ]
check_eq "submissions upstream saw" "$(($(upstream_subs) - s0))" 0
poll erin "$JE"
check_eq "a poll of the finished job: status, X-Cache" "$STATUS $(header X-Cache)" "200 HIT"
as erin "$LP/v1/luma/other"
check_eq "pass-through GET" "$STATUS" 200

# ------------------------------------------------------------------ 7
tcase "revoke while serving: requests in flight finish, the next is refused"
# A slow answer (upstream holds it 2.5 s) and a slow upload (its body
# still coming), both begun with gina's key before the revocation.
curl -sS --max-time 10 -o "$IT_TMP/slow.body" -w '%{http_code}' \
    -H "Authorization: Bearer ${KEY[gina]}" --data-binary 'slow' \
    "$LP/v1/luma/gw-slow?_delay=2500&revoke=1" >"$IT_TMP/slow.code" 2>&1 &
SLOW_PID=$!
mkfifo "$IT_TMP/up.fifo"
UP_FIRST=$((16 << 20))		# more than loopback's socket buffers hold
UP_LEN=$((UP_FIRST + (1 << 20)))
curl -sS --max-time 20 -o "$IT_TMP/up.body" -w '%{http_code}' -X POST \
    -H "Authorization: Bearer ${KEY[gina]}" -H "Content-Length: $UP_LEN" \
    -H "Transfer-Encoding:" -H "Expect:" -T "$IT_TMP/up.fifo" \
    "$LP/v1/luma/gw-upload?revoke=2" >"$IT_TMP/up.code" 2>&1 &
UP_PID=$!
# Read-write: opening never blocks, writing is bounded by timeout.
exec 7<>"$IT_TMP/up.fifo"
timeout 10 head -c "$UP_FIRST" /dev/zero >&7
slow_seen() { fake_requests | grep -qF '/v1/luma/gw-slow?_delay=2500&revoke=1'; }
check "upstream has the slow request" wait_for 2000 slow_seen
lp keys --db "$GW_DB" revoke gina 2>"$IT_TMP/revoke.err"
check_eq "keys revoke: exit status" "$?" 0
t0=$(now_ms)
check "gina's key gets 401 within 3 s" wait_for 3000 key_gets "${KEY[gina]}" 401
echo "# took $(($(now_ms) - t0)) ms"
check_unauthorized
timeout 10 head -c $((UP_LEN - UP_FIRST)) /dev/zero >&7
exec 7>&-
wait "$SLOW_PID"
check_eq "the slow answer begun before: status" "$(cat "$IT_TMP/slow.code")" 200
wait "$UP_PID"
check_eq "the upload begun before: status" "$(cat "$IT_TMP/up.code")" 200
check_eq "the upload: bytes upstream received" "$(json_get -f "$IT_TMP/up.body" body_len)" "$UP_LEN"
t0=$(fake_total)
http -H "Authorization: Bearer ${KEY[gina]}" "$LP/v1/luma/gw-hello"
check_unauthorized
http -H "Authorization: Bearer ${KEY[gina]}" -X POST --data-binary x "$LP/v1/luma/videos"
check_unauthorized
check_total "$t0"

tcase "rotate with --grace 3: both keys work, then only the new one"
OLD=${KEY[hank]}
# An expiry that passes while the server runs, without any keys command.
EXP_AT=$(( $(date +%s) + 4 ))
add_key ned --expires "$(date -u -d "@$EXP_AT" +%Y-%m-%dT%H:%M:%SZ)"
t0=$(now_ms)
NEW=$(lp keys --db "$GW_DB" rotate hank --grace 3 2>"$IT_TMP/rotate.err")
check_eq "keys rotate: exit status" "$?" 0
t1=$(now_ms)
check_re "keys rotate printed a new key" "$NEW" '^lp_[A-Za-z0-9_-]{43}$'
check_not "the new key differs" [ "$NEW" = "$OLD" ]
check "the new key works within 3 s" wait_for 3000 key_works "$NEW"
if [ $(($(now_ms) - t1)) -lt 2500 ]; then
	check "the old key still works" key_works "$OLD"
else
	skip "the old key still works" "the new key took over 2.5 s"
fi
if [ "$(date +%s)" -lt $((EXP_AT - 1)) ]; then
	check "ned's key (expires in 3 to 4 s) works" key_works "${KEY[ned]}"
else
	skip "ned's key works before it expires" "the keys commands took over 3 s"
fi
check "the old key gets 401 within grace + 3 s" wait_for 6000 key_gets "$OLD" 401
told=$(now_ms)
check "refused no earlier than the grace: $((told - t0)) ms after the rotation began" \
    [ $((told - t0)) -ge 2900 ]
check "the new key still works" key_works "$NEW"
KEY[hank]=$NEW
check "ned's key gets 401 once it expired" wait_for 5000 key_gets "${KEY[ned]}" 401
check "... not before its expiry" [ "$(date +%s)" -ge "$EXP_AT" ]

tcase "keys set --expires in the past: 401 while serving"
check "otto's key works" key_works "${KEY[otto]}"
lp keys --db "$GW_DB" set otto --expires 2021-06-01 2>"$IT_TMP/set2.err"
check_eq "keys set: exit status" "$?" 0
check "otto's key gets 401 within 3 s" wait_for 3000 key_gets "${KEY[otto]}" 401

# ------------------------------------------------------------------ 8
tcase "two keys commands at the same time while the server serves"
# Traffic meanwhile, so that the server writes too.
( while [ ! -e "$IT_TMP/load.stop" ]; do
	curl -s -o /dev/null --max-time 2 -H "Authorization: Bearer ${KEY[quinn]}" \
	    "$LP/v1/luma/jobs/jprobe-nobodys"
done ) &
LOAD_PID=$!
for round in 1 2 3; do
	lp keys --db "$GW_DB" add "pair$round-a" >"$IT_TMP/pa.out" 2>"$IT_TMP/pa.err" &
	pa=$!
	lp keys --db "$GW_DB" add "pair$round-b" >"$IT_TMP/pb.out" 2>"$IT_TMP/pb.err" &
	pb=$!
	wait "$pa"; ra=$?
	wait "$pb"; rb=$?
	check_eq "round $round: exit statuses" "$ra $rb" "0 0"
	check_eq "round $round: 'locked' in their stderr" \
	    "$(cat "$IT_TMP/pa.err" "$IT_TMP/pb.err" | grep -ci locked)" 0
	KEY[pair$round-a]=$(cat "$IT_TMP/pa.out")
	KEY[pair$round-b]=$(cat "$IT_TMP/pb.out")
done
lp keys --db "$GW_DB" set pair1-a --rpm 9 >"$IT_TMP/pa.out" 2>"$IT_TMP/pa.err" &
pa=$!
lp keys --db "$GW_DB" rotate pair1-b >"$IT_TMP/pb.out" 2>"$IT_TMP/pb.err" &
pb=$!
wait "$pa"; ra=$?
wait "$pb"; rb=$?
check_eq "set and rotate at once: exit statuses" "$ra $rb" "0 0"
check_eq "set and rotate at once: 'locked' in their stderr" \
    "$(cat "$IT_TMP/pa.err" "$IT_TMP/pb.err" | grep -ci locked)" 0
KEY[pair1-b]=$(cat "$IT_TMP/pb.out")
touch "$IT_TMP/load.stop"
wait "$LOAD_PID"
for n in pair1-a pair1-b pair2-a pair2-b pair3-a pair3-b; do
	check "$n's key works within 3 s" wait_for 3000 key_works "${KEY[$n]}"
done
lp keys --db "$GW_DB" list --json >"$IT_TMP/list.json" 2>&1
lp keys --db "$GW_DB" log --json >"$IT_TMP/log.jsonl" 2>&1
check_eq "keys log --json: gina's revocation, hank's rotation, dave's new limit" \
    "$("$IT_PYTHON" - "$IT_TMP/log.jsonl" <<'EOF'
import json, sys
seen = [(o["name"], o["action"]) for o in map(json.loads, open(sys.argv[1]))
        if set(o) >= {"time", "action", "name", "changes"}]
print(" ".join(str(x in seen) for x in [("gina", "revoke"), ("hank", "rotate"), ("dave", "set")]))
EOF
)" "True True True"
check_eq "keys list --json: pair1-a's rpm" \
    "$("$IT_PYTHON" -c 'import json,sys; print([m["rpm"] for m in json.load(open(sys.argv[1])) if m["name"] == "pair1-a"])' "$IT_TMP/list.json" 2>&1)" "[9]"

# ------------------------------------------------------------------ 10 (running)
tcase "metrics per member, log lines with @NAME"
scrape
check_eq "problems in /metrics" "$(metrics_problems "$METRICS")" ""
check_eq "lumaproxy_member_requests_total{member=\"alice\"}" \
    "$(metric lumaproxy_member_requests_total member=alice)" "${REQS[alice]}"
check_eq "lumaproxy_member_requests_total{member=\"carol\"}" \
    "$(metric lumaproxy_member_requests_total member=carol)" "${REQS[carol]}"
promcheck labels "$METRICS" lumaproxy_member_requests_total member >"$IT_TMP/members"
for n in alice bob carol dave; do
	check "$n among the member labels" grep -qx "$n" "$IT_TMP/members"
done
check_re "alice's submission logged with @alice" \
    "$(grep -E " POST /v1/luma/videos 200 " "$LP_ERR" | head -n 1)" ' @alice$'
check_re "bob's 404 logged with @bob" \
    "$(grep -E " GET /v1/luma/jobs/$JA 404 " "$LP_ERR" | head -n 1)" ' @bob$'
check_eq "carol's 429s logged with @carol" \
    "$(grep -cE ' POST /v1/luma/videos(\?[^ ]*)? 429 .* @carol$' "$LP_ERR")" "${REFUSED[carol:max-running]}"
for n in "${!KEY[@]}"; do
	check_eq "$n's key in the log" "$(grep -c -F -- "${KEY[$n]}" "$LP_ERR")" 0
done

tcase "usage reaches the database within 10 s while serving"
usage_alice() {
	lp usage --db "$GW_DB" --json >"$IT_TMP/usage.json" 2>/dev/null &&
	    [ "$(usage_of alice requests)" = "${REQS[alice]}" ]
}
check "usage --json shows alice's ${REQS[alice]} requests within 12 s" wait_for 12000 usage_alice

tcase "the held token is not in the database files of the running server"
check "a -wal file exists" [ -f "$GW_DB-wal" ]
for f in "$GW_DB"*; do
	check_eq "the token in $(basename "$f")" "$(grep -c -a -F -- "$HELD" "$f")" 0
done

tcase "a clean stop"
stop_proxy
check_eq "exit status after SIGTERM" "$LP_RC" 0

# ------------------------------------------------------------------ 4 (shared)
tcase "--team-visibility shared: members see every job of the account"
must_start_proxy --upstream-token-file "$TOKFILE" --pending-interval 0 \
    --team-visibility shared --log-format json
GW_ERRS+=("$LP_ERR")
poll bob "$JA"
check_status 200
check_body_file "$IT_TMP/ja.done"
poll alice jscripted
check_status 200
check_body "$(job_completed jscripted)"
poll bob "$JD"
check_eq "bob polls dave's job: status" "$STATUS" 200
t0=$(fake_total)
as bob "$LP/v1/luma/accounts"
check_eq "accounts stay admin-only: status, body" "$STATUS $BODY" '403 {"error":"Admin key required"}'
check_total "$t0"
http -H "Authorization: Bearer $HELD" "$LP/v1/luma/jobs/$JA"
check_unauthorized
check "a JSON log line with \"token\":\"@bob\"" grep -q '"token":"@bob"' "$LP_ERR"

tcase "after a restart: running jobs and credits used still count"
submit frank
check_eq "frank (max-running 1, a job running): status" "$STATUS" 429
check_re "error" "$(json_get error | tr A-Z a-z)" 'max-running'
submit erin
check_eq "erin (daily-credits 1, 20 used): status" "$STATUS" 429
check_re "error" "$(json_get error | tr A-Z a-z)" 'daily-credits'
stop_proxy
check_eq "exit status after SIGTERM" "$LP_RC" 0

# ------------------------------------------------------------------ 10
tcase "usage --json after the stop"
lp usage --db "$GW_DB" --json >"$IT_TMP/usage.json" 2>"$IT_TMP/usage.err"
check_eq "exit status" "$?" 0
cat "$IT_TMP/usage.json" >>"$ANSWERS"
check_eq "alice: requests" "$(usage_of alice requests)" "${REQS[alice]}"
check_eq "alice: submissions" "$(usage_of alice submissions)" "${SUBS[alice]}"
check_eq "alice: completed" "$(usage_of alice completed)" "${DONE[alice]}"
check_eq "alice: failed" "$(usage_of alice failed)" 0
check_eq "alice: credits" "$(usage_of alice credits)" $((20 * ${DONE[alice]}))
check_eq "alice: hits" "$(usage_of alice hits)" "${HITS[alice]:-0}"
check_eq "alice: upstream calls" "$(usage_of alice upstream_calls)" "${UPC[alice]:-0}"
check_eq "alice: refusals" "$(usage_of alice refused rpm) $(usage_of alice refused max_running) $(usage_of alice refused daily_credits)" "0 0 0"
check_eq "bob: submissions, completed" "$(usage_of bob submissions) $(usage_of bob completed)" "0 0"
check_eq "carol: refused for max-running" "$(usage_of carol refused max_running)" "${REFUSED[carol:max-running]}"
check_eq "carol: submissions, completed" "$(usage_of carol submissions) $(usage_of carol completed)" "4 3"
check_eq "dave: refused for rpm" "$(usage_of dave refused rpm)" "${REFUSED[dave:rpm]}"
check_eq "erin: refused for daily-credits, credits" \
    "$(usage_of erin refused daily_credits) $(usage_of erin credits)" "${REFUSED[erin:daily-credits]} 20"

# ------------------------------------------------------------------ 11
tcase "export: the owner of a job submitted through the gateway"
lp export --db "$GW_DB" >"$IT_TMP/gw.jsonl" 2>"$IT_TMP/export.err"
check_eq "exit status" "$?" 0
check_eq "owner of alice's job" "$(export_field "$IT_TMP/gw.jsonl" "$JA" owner)" alice
check_eq "owner of erin's job" "$(export_field "$IT_TMP/gw.jsonl" "$JE" owner)" erin
check_eq "owner of the job nobody submitted here" "$(export_field "$IT_TMP/gw.jsonl" jscripted owner)" absent
check_eq "the held token in the export" "$(grep -c -F -- "$HELD" "$IT_TMP/gw.jsonl")" 0

tcase "import into a fresh database where alice exists keeps her as the owner"
FRESH=$IT_TMP/fresh.db
new_key "$FRESH" alice
FRESH_ALICE=$NEWKEY
new_key "$FRESH" bob
FRESH_BOB=$NEWKEY
lp import --db "$FRESH" <"$IT_TMP/gw.jsonl" 2>"$IT_TMP/import.err"
check_eq "import: exit status" "$?" 0
lp export --db "$FRESH" >"$IT_TMP/fresh.jsonl"
check_eq "owner of alice's job" "$(export_field "$IT_TMP/fresh.jsonl" "$JA" owner)" alice
check_eq "owner of erin's job (no erin here)" "$(export_field "$IT_TMP/fresh.jsonl" "$JE" owner)" absent
LP_DB=$FRESH
must_start_proxy --upstream-token-file "$TOKFILE" --pending-interval 0
GW_ERRS+=("$LP_ERR")
t0=$(fake_total)
http -H "Authorization: Bearer $FRESH_ALICE" "$LP/v1/luma/jobs/$JA"
check_eq "alice's job for alice: status, X-Cache" "$STATUS $(header X-Cache)" "200 HIT"
check_body_file "$IT_TMP/ja.done"
http -H "Authorization: Bearer $FRESH_BOB" "$LP/v1/luma/jobs/$JA"
check_eq "alice's job for bob: status, body" "$STATUS $BODY" '404 {"error":"Job not found"}'
check_total "$t0"
stop_proxy
check_eq "exit status after SIGTERM" "$LP_RC" 0

# ------------------------------------------------------------------ 9
tcase "the held token appears nowhere"
for f in "$ANSWERS" "${GW_ERRS[@]}" "$IT_TMP"/lumaproxy.*.out "$METRICS" \
    "$IT_TMP/gw.jsonl" "$IT_TMP/fresh.jsonl" "$IT_TMP/list.json" "$IT_TMP/log.jsonl" \
    "$IT_TMP"/*.err \
    "$GW_DB"* "$FRESH"*; do
	[ -e "$f" ] || continue
	check_eq "the token in $(basename "$f")" "$(grep -c -a -F -- "$HELD" "$f")" 0
done
check "the answers were collected" [ -s "$ANSWERS" ]
fake_requests >"$IT_TMP/upstream.log"
for n in "${!KEY[@]}"; do
	check_eq "$n's key in what upstream received" "$(grep -c -F -- "${KEY[$n]}" "$IT_TMP/upstream.log")" 0
done
for n in alice bob root carol; do
	check_eq "$n's key in the gateway's database files" \
	    "$(cat "$GW_DB"* | grep -c -a -F -- "${KEY[$n]}")" 0
	check_eq "$n's key in keys list --json" "$(grep -c -F -- "${KEY[$n]}" "$IT_TMP/list.json")" 0
	check_eq "$n's key in keys log --json" "$(grep -c -F -- "${KEY[$n]}" "$IT_TMP/log.jsonl")" 0
done

# ------------------------------------------------------------- the watch
tcase "with the watch: the credits of a job nobody polls count"
WDB=$IT_TMP/watch.db
new_key "$WDB" wendy --daily-credits 1
WENDY=$NEWKEY
new_key "$WDB" walter
WALTER=$NEWKEY
LP_DB=$WDB
must_start_proxy --upstream-token-file "$TOKFILE" --pending-interval 1 --watch
GW_ERRS+=("$LP_ERR")
http -X POST -H "Authorization: Bearer $WENDY" --data-binary '{}' "$LP/v1/luma/videos"
check_status 200
wj=$(json_get jobid)
# fakeup completes a submitted job on its third fetch: three intervals.
fetched_done() { [ "$(fake_count "$1" "$HELD")" -ge 3 ]; }
check "the watch fetched wendy's job until it completed" wait_for 10000 fetched_done "$wj"
wendy_paid() { scrape; [ "$(metric lumaproxy_member_credits_total member=wendy)" = 20 ]; }
check "wendy's credits are counted" wait_for 3000 wendy_paid
http -X POST -H "Authorization: Bearer $WENDY" --data-binary '{}' "$LP/v1/luma/videos"
check_eq "her next submission: status" "$STATUS" 429
check_re "the limit" "$BODY" daily-credits
http -H "Authorization: Bearer $WENDY" "$LP/v1/luma/jobs/$wj"
check_eq "her job, never polled before: status, X-Cache" "$STATUS $(header X-Cache)" "200 HIT"

tcase "with the watch: watching resumes after a restart"
http -X POST -H "Authorization: Bearer $WALTER" --data-binary '{}' "$LP/v1/luma/videos"
check_status 200
xj=$(json_get jobid)
stop_proxy
check_eq "exit status after SIGTERM" "$LP_RC" 0
before=$(fake_count "$xj" "$HELD")
check "stopped before the job completed upstream" [ "$before" -lt 3 ]
must_start_proxy --upstream-token-file "$TOKFILE" --pending-interval 1 --watch
GW_ERRS+=("$LP_ERR")
check "after the restart the watch fetched walter's job until it completed" \
    wait_for 10000 fetched_done "$xj"
http -H "Authorization: Bearer $WALTER" "$LP/v1/luma/jobs/$xj"
check_eq "walter's job: status, X-Cache" "$STATUS $(header X-Cache)" "200 HIT"
stop_proxy
check_eq "exit status after SIGTERM" "$LP_RC" 0

# ------------------------------------------------------------------ 12
tcase "without --upstream-token-file clients' own tokens go upstream"
LP_DB=$IT_TMP/byot.db
must_start_proxy --pending-interval 0
http -H "Authorization: Bearer tokByot" "$LP/v1/luma/gw-byot"
check_status 200
check_eq "Authorization upstream received" "$(echo_header Authorization)" "Bearer tokByot"
fake_job jbyot "owner=tokByot" "$(job_completed jbyot)"
http -H "Authorization: Bearer tokByot" "$LP/v1/luma/jobs/jbyot"
check_eq "a job of the token: status, X-Cache" "$STATUS $(header X-Cache)" "200 MISS"
check_upstream jbyot tokByot 1
http -H "Authorization: Bearer ${KEY[alice]}" "$LP/v1/luma/gw-byot"
check_eq "a member key is just a token here" "$(echo_header Authorization)" "Bearer ${KEY[alice]}"
http -X POST -H "Authorization: Bearer tokByot" -H "Accept-Encoding: gzip" \
    --data-binary '{}' "$LP/v1/luma/videos"
check_re "a submission's Accept-Encoding goes upstream as sent" "$BODY" '"accept_encoding":"gzip"'
stop_proxy

finish
