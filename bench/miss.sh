#!/usr/bin/env bash
# Misses that store a finished job, run by hand (never by make check):
#
#   bench/miss.sh [SECONDS] [CONNECTIONS]
#   LP=path/to/other/lumaproxy bench/miss.sh ...   (another build, to compare)
#
# lumaproxy (access log off, its database in a scratch directory on disk)
# before `tests/fakeup --completed`, which answers any new jobid with a
# completed job record.  wrk (one thread) sends every request for a jobid
# never asked before, so every request is a miss whose finished job is
# committed (and synced) before it is answered.  Printed: fakeup answering
# the same requests directly (the upstream's own rate), misses/s with p50,
# p99 and the proxy's CPU time per miss, how many of them are HITs after a
# restart (all must be), then the proxy's system calls per miss over a
# second run under strace -c (which slows the proxy, so its rate is not the
# one above).
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-10}
conns=${2:-50}

. bench/lib.sh
lp=${LP:-$lp}
need wrk wrk
need strace strace
need sqlite3 sqlite3

start "$work/fakeup.log" tests/fakeup --completed; up=$port
pxstart() {
	start "$work/px.log" "$lp" -l 127.0.0.1:0 -u "http://127.0.0.1:$up" \
		-d "$work/miss.db" --access-log off --log-level warn; px=$port
	pxpid=${pids[-1]}
}
pxstart

# Every request a jobid never asked before: j<prefix>-<n> (wrk calls
# request() once before it sends anything: n starts at 2).
cat >"$work/miss.lua" <<'LUA'
local prefix, n = "x", 0
function init(args) prefix = args[1] end
function request()
	n = n + 1
	return wrk.format("GET", "/v1/luma/jobs/j" .. prefix .. "-" .. n,
	    { ["Authorization"] = "Bearer tok" })
end
LUA
# wrkrun PORT PREFIX SECONDS: prints "requests req/s p50 p99 non2xx".
wrkrun() {
	wrk -t1 -c"$conns" -d"${3}s" --latency -s "$work/miss.lua" \
		"http://127.0.0.1:$1/" -- "$2" >"$work/wrk.out"
	awk '/requests in/ { n = $1 } /Requests\/sec/ { rps = $2 }
	    / 50%/ { p50 = $2 } / 99%/ { p99 = $2 }
	    /Non-2xx/ { bad = $NF }
	    END { printf "%s %s %s %s %d\n", n, rps, p50, p99, bad }' "$work/wrk.out"
}

fmt='%-22s %10s %10s %10s %10s %8s %10s\n'
printf "$fmt" case requests req/s p50 p99 non-2xx cpu/req
read -r n rps p50 p99 bad < <(wrkrun "$up" "up$$" "$secs")
printf "$fmt" "fakeup direct" "$n" "$rps" "$p50" "$p99" "$bad" -
t0=$(cpu_ticks "$pxpid")
read -r n rps p50 p99 bad < <(wrkrun "$px" "m$$" "$secs")
t1=$(cpu_ticks "$pxpid")
printf "$fmt" "miss through lumaproxy" "$n" "$rps" "$p50" "$p99" "$bad" \
	"$(awk -v t=$((t1 - t0)) -v hz="$tick" -v n="$n" 'BEGIN { printf "%.0fus", t / hz / n * 1e6 }')"

# Each answered miss is a job committed: a restart serves them all as HITs.
kill "$pxpid"; wait "$pxpid" 2>/dev/null || true
stored=$(sqlite3 "$work/miss.db" "SELECT count(*) FROM jobs WHERE jobid LIKE 'jm$$-%' AND terminal = 1")
pxstart
hits=0
for i in 2 3 4 $((n / 2)) $((n - 1)); do
	c=$(curl -fsS -o /dev/null -D - -H 'Authorization: Bearer tok' \
		"http://127.0.0.1:$px/v1/luma/jobs/jm$$-$i" | tr -d '\r' |
		awk -F': ' 'tolower($1) == "x-cache" { print $2 }')
	if [ "$c" = HIT ]; then hits=$((hits + 1)); else echo "jm$$-$i: X-Cache $c" >&2; fi
done
echo "jobs committed: $stored of $n misses; after a restart, $hits of 5 sampled are HITs"

# System calls per miss, under strace (slower: its own rate).
strace -f -c -p "$pxpid" -o "$work/strace.out" 2>/dev/null &
spid=$!
sleep 1
read -r n rps _ _ bad < <(wrkrun "$px" "s$$" "$secs")
kill -INT "$spid"; wait "$spid" 2>/dev/null || true
total=$(awk '$NF == "total" { print $4 }' "$work/strace.out")
top=$(awk -v n="$n" '$1 ~ /^[0-9.]+$/ && $NF != "total" {
	printf "%s %.1f\n", $NF, $4 / n }' "$work/strace.out" | sort -k2,2nr | head -8 |
	awk '{ printf " %s %s", $1, $2 }')
echo "system calls per miss: $(ratio "$total" "$n") ($n misses at $rps/s under strace):$top"
