#!/usr/bin/env bash
# SPEC 12: three instances behind a real HAProxy with the consistent hashing
# of etc/haproxy.cfg.example (clients' own tokens: job polls hashed on the
# jobid).  A polling workload through HAProxy makes upstream do exactly what
# it does through one instance; each job lives in one instance's database;
# stopping an instance moves only its jobs (one re-fetch each, nothing for
# the others' jobs); finished jobs moved with export/import are not fetched
# again.  HAProxy runs from the example itself, with loopback addresses and
# fast checks put in; without HAProxy 2.4 or later the test is skipped.
. "${TESTS_SRCDIR:-$(dirname "$0")}/lib.sh"
# No background watch, as the example says for clients' own tokens: upstream
# is asked only for clients' polls.
LP_OPTS="--pending-interval 1 --no-watch"
INTERVAL_MS=1000

EXAMPLE=${TESTS_SRCDIR:-$IT_DIR}/../etc/haproxy.cfg.example
NGINX_EXAMPLE=${TESTS_SRCDIR:-$IT_DIR}/../etc/nginx-upstream.conf.example

# Debian installs both in /usr/sbin, which a user's PATH may not have.
sbin_cmd() {
	command -v "$1" 2>/dev/null ||
		{ [ -x "/usr/sbin/$1" ] && echo "/usr/sbin/$1"; }
}
HAPROXY=$(sbin_cmd haproxy) ||
	skip_all "haproxy is not installed (Debian: apt-get install haproxy)"
ha_ver=$("$HAPROXY" -v 2>/dev/null |
    sed -n 's/^HA-*Proxy version \([0-9]*\)\.\([0-9]*\).*/\1 \2/p')
[ -n "$ha_ver" ] || skip_all "$HAPROXY does not run"
read -r ha_major ha_minor <<<"$ha_ver"
((ha_major > 2 || (ha_major == 2 && ha_minor >= 4))) ||
	skip_all "haproxy $ha_major.$ha_minor is older than 2.4"
need_python

# free_port: a loopback port nothing listens on right now.
free_port() {
	"$IT_PYTHON" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# haproxy_answers: a minimal HAProxy starts and answers on loopback here
# (installed is not enough: a container or a chroot may not let it run);
# what it said is in $IT_TMP/probe.out.
haproxy_answers() {
	local port pid i rc=1
	port=$(free_port)
	printf '%s\n' defaults '    mode http' '    timeout connect 1s' \
	    '    timeout client 2s' '    timeout server 2s' frontend\ probe \
	    "    bind 127.0.0.1:$port" '    http-request return status 200' \
	    >"$IT_TMP/probe.cfg"
	"$HAPROXY" -db -f "$IT_TMP/probe.cfg" >"$IT_TMP/probe.out" 2>&1 </dev/null &
	pid=$!
	for i in $(seq 1 50); do
		if curl -s -o /dev/null --max-time 1 "http://127.0.0.1:$port/"; then
			rc=0
			break
		fi
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	kill -TERM "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
	return "$rc"
}
haproxy_answers ||
	skip_all "$HAPROXY cannot serve on loopback here: $(head -c 300 "$IT_TMP/probe.out")"

tcase "the examples are valid configurations"
check "haproxy -c accepts etc/haproxy.cfg.example" \
    "$HAPROXY" -c -q -f "$EXAMPLE"
if ! NGINX=$(sbin_cmd nginx); then
	skip "nginx -t of etc/nginx-upstream.conf.example" "nginx is not installed"
elif ! "$NGINX" -v >/dev/null 2>&1; then
	skip "nginx -t of etc/nginx-upstream.conf.example" "$NGINX does not run"
else
	mkdir -p "$IT_TMP/nginx"
	cat >"$IT_TMP/nginx/nginx.conf" <<EOF
pid $IT_TMP/nginx/nginx.pid;
error_log $IT_TMP/nginx/error.log;
events {}
http {
    access_log off;
    client_body_temp_path $IT_TMP/nginx;
    proxy_temp_path $IT_TMP/nginx;
    fastcgi_temp_path $IT_TMP/nginx;
    uwsgi_temp_path $IT_TMP/nginx;
    scgi_temp_path $IT_TMP/nginx;
    include $NGINX_EXAMPLE;
}
EOF
	check "nginx -t accepts etc/nginx-upstream.conf.example in http { }" \
	    "$NGINX" -q -t -p "$IT_TMP/nginx" -c "$IT_TMP/nginx/nginx.conf"
fi

# ---------------------------------------------------------------- the workload

# Twelve jobs, each owned by one of two tokens; each answers pending,
# processing, then completed (the last step repeats).
JOBS=() OWNER=()
for i in $(seq -w 1 12); do
	JOBS+=("jcl$i")
	if ((10#$i % 2)); then OWNER+=(tokA); else OWNER+=(tokB); fi
done

script_jobs() {
	local i j
	fake_reset
	for i in "${!JOBS[@]}"; do
		j=${JOBS[i]}
		fake_job "$j" "owner=${OWNER[i]}" "$(job_record "$j" pending)"
		fake_then "$j" "owner=${OWNER[i]}" "$(job_record "$j" processing)"
		fake_then "$j" "owner=${OWNER[i]}" "$(job_completed "$j")"
	done
}

# poll_all: GETs every job twice in a row at $LP; appends "STATUS/X-Cache"
# of each answer to SEQ[job].  The second poll of a job comes well within
# the pending interval of the first.
declare -A SEQ
poll_all() {
	local i j n
	for i in "${!JOBS[@]}"; do
		j=${JOBS[i]}
		for n in 1 2; do
			get "$j" "${OWNER[i]}"
			SEQ[$j]+=" $STATUS/$(header X-Cache)"
		done
	done
}

# workload: four rounds of poll_all, each starting more than an interval
# after the previous one ended, so that every round but the last fetches
# each job once: pending, processing, completed; then all HITs.  Checks
# the answers each job got.
workload() {
	local r t_end j
	SEQ=()
	for r in 1 2 3 4; do
		# Past the interval (the test), from the previous round's end.
		[ "$r" -gt 1 ] && sleep_until "$t_end" $((INTERVAL_MS + 150))
		poll_all
		t_end=$(now_ms)
	done
	for j in "${JOBS[@]}"; do
		check_eq "answers to $j" "${SEQ[$j]# }" \
		    "200/MISS 200/HIT 200/MISS 200/HIT 200/MISS 200/HIT 200/HIT 200/HIT"
	done
	check_body "$(job_completed "${JOBS[-1]}")"
}

# fake_jobs: "JOBID/TOKEN=N ..." from fakeup's stats (requests by job
# and token; JOBID is the path for other requests), sorted, on one line.
fake_jobs() {
	curl -sS --max-time 5 "$FAKE/_fake/stats" |
	    awk '$1 == "job" { print $2 "/" $3 "=" $4 }' | sort | tr '\n' ' '
}

# fake_job_count JOBID: upstream requests for the job by its owner.
fake_job_count() {
	local i
	for i in "${!JOBS[@]}"; do
		[ "${JOBS[i]}" = "$1" ] && fake_count "$1" "${OWNER[i]}"
	done
}

# ---------------------------------------------------------------- one instance

start_fakeup

tcase "the workload through one instance"
LP_DB=$IT_TMP/single.db
must_start_proxy
script_jobs
workload
ONE=$(fake_jobs)
check_eq "jobs fetched upstream" "$(wc -w <<<"$ONE")" "${#JOBS[@]}"
check_eq "fetches per job" "$(tr ' ' '\n' <<<"$ONE" | sed -n 's/.*=//p' | sort -u)" 3
stop_proxy

# ---------------------------------------------------------------- three instances

P_PID=() P_PORT=() P_ERR=()
for n in 1 2 3; do
	LP_DB=$IT_TMP/lp$n.db
	must_start_proxy
	P_PID[n]=$LP_PID
	P_PORT[n]=$LP_PORT
	P_ERR[n]=$LP_ERR
done

# The example with loopback addresses, checks every 100 ms (down after
# 2 failures, up after 1 success), in the foreground, with no syslog,
# user or stats socket.  Every address of the example must have been
# replaced.
write_haproxy_cfg() {
	sed -E \
	    -e '/^[[:space:]]*(log \/dev\/log|user |group |daemon|stats socket)/d' \
	    -e "s/^([[:space:]]*bind) :8080\$/\\1 127.0.0.1:$HA_PORT/" \
	    -e "s/^([[:space:]]*bind) 127\\.0\\.0\\.1:8404\$/\\1 127.0.0.1:$HA_STATS_PORT/" \
	    -e "s/10\\.0\\.0\\.11:8080/127.0.0.1:${P_PORT[1]}/" \
	    -e "s/10\\.0\\.0\\.12:8080/127.0.0.1:${P_PORT[2]}/" \
	    -e "s/10\\.0\\.0\\.13:8080/127.0.0.1:${P_PORT[3]}/" \
	    -e 's/check inter 2s fall 2 rise 2/check inter 100ms fall 2 rise 1/' \
	    "$EXAMPLE" >"$IT_TMP/haproxy.cfg"
	! grep -Ev '^[[:space:]]*#' "$IT_TMP/haproxy.cfg" |
	    grep -Eq '10\.0\.0\.|:8080|:8404|inter 2s|^[[:space:]]*daemon' ||
		die "etc/haproxy.cfg.example changed: the test's edits of it no longer apply"
}

# ha_states: "BACKEND SERVER STATUS" for every server, from the stats page.
ha_states() {
	curl -sS --max-time 2 "$HA_STATS/;csv" 2>/dev/null | awk -F, '
	    /^# / { for (i = 1; i <= NF; i++) if ($i == "status") s = i; next }
	    s && $2 != "FRONTEND" && $2 != "BACKEND" { print $1, $2, $s }'
}

# wait_states WANT [SECONDS]: waits (5 s at most) until ha_states prints
# WANT; status 1 when it does not.
wait_states() {
	local deadline=$(($(now_ms) + ${2:-5} * 1000))
	while [ "$(ha_states)" != "$1" ]; do
		[ "$(now_ms)" -lt "$deadline" ] || return 1
		kill -0 "$HA_PID" 2>/dev/null || return 1
		sleep 0.05
	done
}

# states VICTIM: what ha_states prints with server lpVICTIM down (0: none).
states() {
	local b n s
	for b in lumaproxy_members lumaproxy_jobs; do
		for n in 1 2 3; do
			s=UP
			[ "$n" = "$1" ] && s=DOWN
			echo "$b lp$n $s"
		done
	done
}

tcase "HAProxy starts on the example, with every instance up"
for _ in 1 2 3; do
	HA_PORT=$(free_port)
	HA_STATS_PORT=$(free_port)
	HA=http://127.0.0.1:$HA_PORT
	HA_STATS=http://127.0.0.1:$HA_STATS_PORT
	write_haproxy_cfg
	"$HAPROXY" -db -f "$IT_TMP/haproxy.cfg" >"$IT_TMP/haproxy.out" \
	    2>"$IT_TMP/haproxy.err" &
	HA_PID=$!
	IT_PIDS+=("$HA_PID")
	wait_states "$(states 0)" && break
	# Another process may have taken a port in between: again.
	kill -TERM "$HA_PID" 2>/dev/null
	wait "$HA_PID" 2>/dev/null
	_forget "$HA_PID"
	HA_PID=""
done
[ -n "$HA_PID" ] ||
	die "HAProxy did not start: $(head -c 2000 "$IT_TMP/haproxy.err") $(ha_states)"
pass "every server UP in both backends"

tcase "the workload through HAProxy and three instances"
script_jobs
LP=$HA
workload
THREE=$(fake_jobs)
check_eq "upstream fetches, per job and token, as through one instance" \
    "$THREE" "$ONE"

tcase "everything else is hashed on Authorization: a token's submissions reach one instance"
for tok in tokA tokB tokC; do
	for i in 1 2 3; do
		http -X POST -H "Authorization: Bearer $tok" --data-binary '{}' \
		    "$HA/v1/luma/videos"
		check_status 200
	done
done
for tok in tokA tokB tokC; do
	fp=$(fingerprint "$tok")
	seen=""
	for n in 1 2 3; do
		c=$(grep -c "POST /v1/luma/videos 200 .* $fp\$" "${P_ERR[n]}")
		[ "$c" -gt 0 ] && seen+="$n:$c "
	done
	check_re "instances that took $tok's submissions" "$seen" '^[123]:3 $'
done

# holders: "JOBID N" for each finished job in instance N's database, sorted.
holders() {
	local n
	for n in 1 2 3; do
		[ -n "${P_PID[n]}" ] || continue
		"$LUMAPROXY" export --db "$IT_TMP/lp$n.db" 2>>"$IT_TMP/export.err" |
		    sed -n "s/^{\"jobid\":\"\\([^\"]*\\)\".*/\\1 $n/p"
	done | sort
}

tcase "each job is held by exactly one instance, and the jobs are spread"
HELD=$(holders)
check_eq "jobs held, once each" "$(awk '{ print $1 }' <<<"$HELD" | sort -u | grep -c .)" \
    "${#JOBS[@]}"
check_eq "rows in all three databases" "$(grep -c . <<<"$HELD")" "${#JOBS[@]}"
declare -A HOLDER
for j in "${JOBS[@]}"; do
	HOLDER[$j]=$(awk -v j="$j" '$1 == j { print $2 }' <<<"$HELD")
done
# The instance that holds the most jobs is stopped.  The hash ring is the
# same on every run (server ids 1 to 3, these jobids), so this is too.
V=$(awk '{ print $2 }' <<<"$HELD" | sort | uniq -c | sort -k1,1nr -k2,2n |
    awk 'NR == 1 { print $2 }')
NV=$(awk -v v="$V" '$2 == v' <<<"$HELD" | grep -c .)
check_re "instances holding jobs" "$(awk '{ print $2 }' <<<"$HELD" | sort -u | tr '\n' ' ')" \
    '^[123] [123] '
echo "# instance $V holds $NV of ${#JOBS[@]} jobs"

tcase "stopping instance $V (SIGTERM) takes it out of the hash"
LP_PID=${P_PID[V]}
stop_proxy TERM
check_eq "its exit status" "$LP_RC" 0
P_PID[V]=""
check "HAProxy sees it DOWN in both backends within 5 s" \
    wait_states "$(states "$V")"

tcase "only the jobs of instance $V move: one re-fetch each"
BEFORE=$(fake_total)
SEQ=()
poll_all
for i in "${!JOBS[@]}"; do
	j=${JOBS[i]}
	if [ "${HOLDER[$j]}" = "$V" ]; then
		check_eq "answers to $j (was on $V)" "${SEQ[$j]# }" "200/MISS 200/HIT"
		check_eq "upstream requests for $j" "$(fake_job_count "$j")" 4
	else
		check_eq "answers to $j (on ${HOLDER[$j]})" "${SEQ[$j]# }" "200/HIT 200/HIT"
		check_eq "upstream requests for $j" "$(fake_job_count "$j")" 3
	fi
done
check_eq "upstream requests since the stop, in all" "$(($(fake_total) - BEFORE))" "$NV"
HELD2=$(holders)
for j in "${JOBS[@]}"; do
	[ "${HOLDER[$j]}" = "$V" ] && continue
	check_eq "$j still held by instance ${HOLDER[$j]} alone" \
	    "$(awk -v j="$j" '$1 == j { print $2 }' <<<"$HELD2" | tr '\n' ' ')" \
	    "${HOLDER[$j]} "
done
check_eq "jobs held by the running instances, once each" \
    "$(awk '{ print $1 }' <<<"$HELD2" | sort -u | grep -c .)" "${#JOBS[@]}"
check_eq "rows in their databases" "$(grep -c . <<<"$HELD2")" "${#JOBS[@]}"

tcase "finished jobs moved with export and import are not fetched again"
SURV=()
for n in 1 2 3; do [ -n "${P_PID[n]}" ] && SURV+=("$n"); done
W=${SURV[0]} U=${SURV[1]}
# Both still serve while one's jobs are copied into the other's database.
"$LUMAPROXY" export --db "$IT_TMP/lp$W.db" >"$IT_TMP/moved.jsonl" ||
	die "export from instance $W failed"
"$LUMAPROXY" import --db "$IT_TMP/lp$U.db" <"$IT_TMP/moved.jsonl" \
    >"$IT_TMP/import.out" 2>&1
check_eq "import into the database of running instance $U: exit status" "$?" 0
LP_PID=${P_PID[W]}
stop_proxy TERM
check_eq "exit status of instance $W" "$LP_RC" 0
P_PID[W]=""
check "HAProxy sees instance $W DOWN too within 5 s" \
    wait_states "$(states "$V" | sed "s/ lp$W UP/ lp$W DOWN/")"
BEFORE=$(fake_total)
SEQ=()
poll_all
for j in "${JOBS[@]}"; do
	check_eq "answers to $j, all on instance $U now" "${SEQ[$j]# }" "200/HIT 200/HIT"
done
check_eq "upstream requests since the move" "$(($(fake_total) - BEFORE))" 0

finish
