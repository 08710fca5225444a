#!/usr/bin/env bash
# SPEC 4: the proxy's own endpoints.  GET /healthz says whether the cache can
# be read (200 {"status":"ok"}, else 503); GET /metrics is Prometheus text
# format 0.0.4 whose counters move with the requests a user makes, and whose
# labels never carry a token or a jobid.
. "${TESTS_SRCDIR:-$(dirname "$0")}/lib.sh"

need_python

# Distinctive tokens and jobids, so that a leak into /metrics shows.
TOK=tokOpsSecret7f3a
TOK2=tokOpsOther91c2
J1=jopsLeakCheck0001
J2=jopsPendingLeak02
J3=jopsCoalesce0003
J4=jopsClosed000004
J5=jopsSlow00000005

# The metric families SPEC 4 asks for, with their types.
FAMILIES="lumaproxy_requests_total:counter
lumaproxy_upstream_requests_total:counter
lumaproxy_upstream_latency_seconds:histogram
lumaproxy_coalesced_waits_total:counter
lumaproxy_rate_limited_total:counter
lumaproxy_submitted_jobs_total:counter
lumaproxy_cached_jobs:gauge
lumaproxy_open_connections:gauge"

# prometheus_client's own parser, when some python3 here has it (Debian:
# python3-prometheus-client); prints the families it read, or why not.
PROM_PY=""
for py in "$IT_PYTHON" /usr/bin/python3; do
	if command -v "$py" >/dev/null 2>&1 &&
	    "$py" -c 'import prometheus_client.parser' 2>/dev/null; then
		PROM_PY=$py
		break
	fi
done
check_with_prometheus_client() {
	local out
	if [ -z "$PROM_PY" ]; then
		skip "prometheus_client parses it" "no python3 here imports prometheus_client.parser (Debian: python3-prometheus-client); the checks above still ran"
		return 0
	fi
	if out=$("$PROM_PY" - "$1" <<'EOF' 2>&1
import sys
from prometheus_client.parser import text_string_to_metric_families
n = 0
for fam in text_string_to_metric_families(open(sys.argv[1], encoding="utf-8").read()):
    n += 1
print("%d families" % n)
EOF
	); then
		pass "prometheus_client parses it ($out)"
	else
		fail "prometheus_client parses it" "no error" "${out:0:300}"
	fi
}

start_fakeup
# reject mode: a too-fast poll of an unfinished job is a rate-limited 429.
must_start_proxy --pending-interval 5 --pending-mode reject --upstream-timeout 1

tcase "GET /healthz: 200 {\"status\":\"ok\"} as JSON, upstream not asked"
http "$LP/healthz"
check_status 200
check_body '{"status":"ok"}'
check_json_type
check_total 0

tcase "GET /metrics: Prometheus text format 0.0.4"
scrape "$IT_TMP/m0"
check_status 200
check_header_re Content-Type '^text/plain; ?version=0\.0\.4(; ?charset=utf-8)?$'
problems=$(metrics_problems "$IT_TMP/m0")
check_eq "problems as Prometheus text (HELP and TYPE, _total, grouping, syntax)" "$problems" ""
check_with_prometheus_client "$IT_TMP/m0"
check_eq "lumaproxy_coalesced_waits_total at start" "$(metric lumaproxy_coalesced_waits_total)" 0
check_eq "lumaproxy_rate_limited_total at start" "$(metric lumaproxy_rate_limited_total)" 0
check_eq "lumaproxy_submitted_jobs_total at start" "$(metric lumaproxy_submitted_jobs_total)" 0
check_re "lumaproxy_open_connections while scraping" "$(metric lumaproxy_open_connections)" '^[1-9][0-9]*$'
check_total 0

tcase "the scrape itself and /healthz are counted under their routes"
scrape "$IT_TMP/m1"
check_metric_delta "a scrape" lumaproxy_requests_total \
    'route=metrics,status=200,cache=none' "$IT_TMP/m0" "$IT_TMP/m1" 1
http "$LP/healthz"
scrape "$IT_TMP/m2"
check_metric_delta "a /healthz" lumaproxy_requests_total \
    'route=healthz,status=200,cache=none' "$IT_TMP/m1" "$IT_TMP/m2" 1

tcase "a job fetched (MISS) then cached (HIT): requests, upstream calls, latency"
job_completed "$J1" >"$IT_TMP/j1.json"
fake_job_file "$J1" "owner=$TOK" "$IT_TMP/j1.json"
scrape "$IT_TMP/a0"
get "$J1" "$TOK"
check_status 200
check_cache MISS
scrape "$IT_TMP/a1"
check_metric_delta "the MISS" lumaproxy_requests_total \
    'route=jobs,status=200,cache=miss' "$IT_TMP/a0" "$IT_TMP/a1" 1
check_metric_delta "the MISS" lumaproxy_requests_total \
    'route=jobs,status=200,cache=hit' "$IT_TMP/a0" "$IT_TMP/a1" 0
check_metric_delta "the upstream call" lumaproxy_upstream_requests_total \
    'route=jobs,status=200' "$IT_TMP/a0" "$IT_TMP/a1" 1
check_metric_delta "the upstream call" lumaproxy_upstream_latency_seconds_count \
    'route=jobs' "$IT_TMP/a0" "$IT_TMP/a1" 1
check_metric_delta "the upstream call" lumaproxy_upstream_latency_seconds_bucket \
    'route=jobs,le=+Inf' "$IT_TMP/a0" "$IT_TMP/a1" 1
lat=$(metric lumaproxy_upstream_latency_seconds_sum route=jobs)
check "lumaproxy_upstream_latency_seconds_sum{route=jobs} is seconds, under 5 ($lat)" \
    awk -v v="$lat" 'BEGIN { exit !(v ~ /^[0-9.e+-]+$/ && v + 0 >= 0 && v + 0 < 5) }'
check_eq "cached_jobs{status=completed} after the job completed" \
    "$(metric lumaproxy_cached_jobs status=completed)" 1
get "$J1" "$TOK"
check_status 200
check_cache HIT
scrape "$IT_TMP/a2"
check_metric_delta "the HIT" lumaproxy_requests_total \
    'route=jobs,status=200,cache=hit' "$IT_TMP/a1" "$IT_TMP/a2" 1
check_metric_delta "the HIT" lumaproxy_requests_total \
    'route=jobs,status=200,cache=miss' "$IT_TMP/a1" "$IT_TMP/a2" 0
check_metric_delta "the HIT (no upstream call)" lumaproxy_upstream_requests_total \
    'route=jobs' "$IT_TMP/a1" "$IT_TMP/a2" 0
check_metric_delta "the HIT (no upstream call)" lumaproxy_upstream_latency_seconds_count \
    'route=jobs' "$IT_TMP/a1" "$IT_TMP/a2" 0
check_eq "cached_jobs{status=completed} after a HIT" \
    "$(metric lumaproxy_cached_jobs status=completed)" 1
check_upstream "$J1" "$TOK" 1

tcase "a pending job is counted; polling it too fast is a counted 429"
fake_job "$J2" "owner=$TOK" "$(job_record "$J2" pending)"
scrape "$IT_TMP/b0"
get "$J2" "$TOK"
check_status 200
get "$J2" "$TOK"
check_status 429
scrape "$IT_TMP/b1"
check_metric_delta "the too-fast poll" lumaproxy_rate_limited_total '' \
    "$IT_TMP/b0" "$IT_TMP/b1" 1
check_eq "cached_jobs{status=pending}" "$(metric lumaproxy_cached_jobs status=pending)" 1
check_eq "cached_jobs{status=completed} (unchanged)" \
    "$(metric lumaproxy_cached_jobs status=completed)" 1
check_upstream "$J2" "$TOK" 1

tcase "5 concurrent polls of a slow job: 1 upstream call, 4 coalesced waits"
job_completed "$J3" >"$IT_TMP/j3.json"
fake_job_file "$J3" "owner=$TOK&delay=600" "$IT_TMP/j3.json"	# under --upstream-timeout
scrape "$IT_TMP/c0"
pids=()
for i in 1 2 3 4 5; do
	curl -sS --max-time 10 -o "$IT_TMP/co.$i" -w '%{http_code}' \
	    -H "Authorization: Bearer $TOK" "$LP/v1/luma/jobs/$J3" \
	    >"$IT_TMP/co.$i.status" 2>/dev/null &
	pids+=($!)
done
wait "${pids[@]}"
check_eq "answers 200" "$(cat "$IT_TMP"/co.?.status | tr -d '\n')" 200200200200200
check_upstream "$J3" "$TOK" 1
scrape "$IT_TMP/c1"
check_metric_delta "the burst" lumaproxy_coalesced_waits_total '' \
    "$IT_TMP/c0" "$IT_TMP/c1" 4
check_metric_delta "the burst" lumaproxy_upstream_requests_total \
    'route=jobs,status=200' "$IT_TMP/c0" "$IT_TMP/c1" 1
check_metric_delta "the burst" lumaproxy_requests_total \
    'route=jobs,status=200,cache=miss' "$IT_TMP/c0" "$IT_TMP/c1" 5

tcase "upstream failures: counted as status error and timeout"
fake_job "$J4" "owner=$TOK&close=1"
fake_job "$J5" "owner=$TOK&delay=2500" "$(job_record "$J5" pending)"
scrape "$IT_TMP/d0"
get "$J4" "$TOK"
check_status 502
get "$J5" "$TOK"
check_status 504
scrape "$IT_TMP/d1"
check_metric_delta "a dropped connection" lumaproxy_upstream_requests_total \
    'route=jobs,status=error' "$IT_TMP/d0" "$IT_TMP/d1" 1
check_metric_delta "an upstream timeout" lumaproxy_upstream_requests_total \
    'route=jobs,status=timeout' "$IT_TMP/d0" "$IT_TMP/d1" 1
check_metric_delta "the 502" lumaproxy_requests_total \
    'route=jobs,status=502' "$IT_TMP/d0" "$IT_TMP/d1" 1
check_metric_delta "the 504" lumaproxy_requests_total \
    'route=jobs,status=504' "$IT_TMP/d0" "$IT_TMP/d1" 1

tcase "pass-through and unknown paths are counted under their routes"
scrape "$IT_TMP/e0"
http -H "Authorization: Bearer $TOK" "$LP/v1/ops/echo?x=$J1"
check_status 200
http "$LP/nope"
check_status 404
scrape "$IT_TMP/e1"
check_metric_delta "a pass-through GET" lumaproxy_requests_total \
    'route=passthrough,status=200,cache=none' "$IT_TMP/e0" "$IT_TMP/e1" 1
check_metric_delta "a pass-through GET" lumaproxy_upstream_requests_total \
    'route=passthrough,status=200' "$IT_TMP/e0" "$IT_TMP/e1" 1
check_metric_delta "GET /nope" lumaproxy_requests_total \
    'route=other,status=404,cache=none' "$IT_TMP/e0" "$IT_TMP/e1" 1

tcase "open connections: idle clients show in the gauge, and leave it"
# open_at_least N, open_at_most N: a scrape (into $IT_TMP/f) has the gauge
# there; OPEN is what it read.
open_at_least() {
	scrape "$IT_TMP/f"
	OPEN=$(metric lumaproxy_open_connections)
	[ "$OPEN" -ge "$1" ]
}
open_at_most() {
	scrape "$IT_TMP/f"
	OPEN=$(metric lumaproxy_open_connections)
	[ "$OPEN" -le "$1" ]
}
exec 5<>"/dev/tcp/127.0.0.1/$LP_PORT" 6<>"/dev/tcp/127.0.0.1/$LP_PORT"
# The gauge counts them once the proxy has accepted them.
wait_for 5000 open_at_least 3
with=$OPEN
check_re "lumaproxy_open_connections with 2 idle clients and the scrape (3 or more)" \
    "$with" '^([3-9]|[1-9][0-9]+)$'
exec 5<&- 6<&-
# ... and leaves them once it has seen them close.
wait_for 5000 open_at_most $((with - 2))
without=$OPEN
check "lumaproxy_open_connections after they left ($without) is at most $with - 2" \
    [ "$without" -le $((with - 2)) ]

tcase "after all this: every family declared with HELP and TYPE, labels as documented"
http -H "Authorization: Bearer $TOK2" "$LP/v1/luma/jobs/$J1"	# a 403 for another token
scrape "$IT_TMP/final"
check_status 200
problems=$(metrics_problems "$IT_TMP/final")
check_eq "problems as Prometheus text" "$problems" ""
check_with_prometheus_client "$IT_TMP/final"
types=$(promcheck types "$IT_TMP/final")
while IFS=: read -r fam type; do
	check_eq "declaration of $fam" "$(awk -v f="$fam" '$1 == f { print $2, $3 }' <<<"$types")" "$type help"
done <<<"$FAMILIES"
routes=$(promcheck labels "$IT_TMP/final" lumaproxy_requests_total route | tr '\n' ' ')
check_re "route values of lumaproxy_requests_total" "$routes" '^((jobs|passthrough|healthz|metrics|media|other) )+$'
caches=$(promcheck labels "$IT_TMP/final" lumaproxy_requests_total cache | tr '\n' ' ')
check_re "cache values of lumaproxy_requests_total" "$caches" '^((hit|miss|stale|none) )+$'
ustat=$(promcheck labels "$IT_TMP/final" lumaproxy_upstream_requests_total status | tr '\n' ' ')
check_re "status values of lumaproxy_upstream_requests_total" "$ustat" '^(([1-5][0-9][0-9]|error|timeout) )+$'

tcase "no token and no jobid anywhere in /metrics"
for s in "$TOK" "$TOK2" "$J1" "$J2" "$J3" "$J4" "$J5"; do
	check_not "'$s' appears nowhere in /metrics" grep -qF -- "$s" "$IT_TMP/final"
done

# Last: this one takes the database away from the proxy for a moment.
tcase "healthz: 503 while the cache's tables cannot be read, 200 once they can"
if ! sqlite3 :memory: 'SELECT 1' >/dev/null 2>&1; then
	skip "the tables renamed under the proxy" "the sqlite3 command does not run here (Debian: sqlite3)"
else
	db=$IT_TMP/lp.db
	tables=$(sqlite3 -cmd '.timeout 2000' "$db" \
	    "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'")
	check_re "the cache's tables" "$(echo $tables)" 'jobs'
	# Another program renames the tables under the running proxy (WAL: no
	# lock of another process can stop the proxy's reads; this can).
	sql=""
	for t in $tables; do sql+="ALTER TABLE \"$t\" RENAME TO \"${t}_away\";"; done
	check "another program renamed the tables" \
	    sqlite3 -cmd '.timeout 2000' "$db" "$sql"
	http "$LP/healthz"
	check_status 503
	check_json_type
	check_re "503 body (a JSON object)" "$(json_get)" '^\{.*\}$'
	sql=""
	for t in $tables; do sql+="ALTER TABLE \"${t}_away\" RENAME TO \"$t\";"; done
	check "the tables are back" sqlite3 -cmd '.timeout 2000' "$db" "$sql"
	http "$LP/healthz"
	check_status 200
	check_body '{"status":"ok"}'
	get "$J1" "$TOK"
	check_eq "the cached job after that: status and X-Cache" "$STATUS $(header X-Cache)" "200 HIT"
fi

finish
