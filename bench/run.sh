#!/usr/bin/env bash
# Benchmarks of lumaproxy's jobs route, run by hand (never by make check):
#
#   bench/run.sh [SECONDS] [CONNECTIONS]
#
# Side by side in one run, on loopback, with wrk (installed from the
# distribution's packages when missing):
#   upstream  fakeup answering the job itself (the baseline: a minimal
#             evhttp server doing one lookup per request)
#   hit       lumaproxy answering a completed job from its cache
#   pending   lumaproxy answering an unfinished job within pending-interval
#   coalesce  lumaproxy with --pending-interval 0 and an upstream that takes
#             50 ms: every poll needs upstream, concurrent polls share a fetch
#   passthru  a small GET passed through to fakeup's echo route, against the
#             same GET sent to fakeup directly
# It prints requests/s, latency and lumaproxy's peak memory, and the ratio
# of each lumaproxy scenario to the baseline; then 60 MiB downloaded and
# uploaded through the pass-through against the same sent to fakeup directly
# (MB/s, and the proxy's peak memory after them).
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-10}
conns=${2:-64}

. bench/lib.sh
need wrk wrk

start "$work/fakeup.log" tests/fakeup; up=$port
body='{"jobid":"jbench","type":"video","status":"completed","created":"2026-03-26T14:05:30.123Z","updated":"2026-03-26T14:08:45.678Z","response":{"video":{"media_type":"video","url":"https://storage.cdn-luma.com/bench/video.mp4","width":1280,"height":720,"duration":5.04},"video_hdr_exr":null,"thumbnail":{"media_type":"image","url":"https://storage.cdn-luma.com/bench/thumbnail.jpg","width":1280,"height":720},"last_frame":{"media_type":"image","url":"https://storage.cdn-luma.com/bench/last_frame.jpg","width":1280,"height":720}},"credits":{"dm_usage":20,"dm_relaxed_usage":null}}'
pending='{"jobid":"jpend","type":"video","status":"processing","created":"2026-03-26T14:05:30.123Z","updated":null,"response":null,"credits":null}'
curl -fsS -X PUT --data-binary "$body" "http://127.0.0.1:$up/_fake/jobs/jbench?owner=tok" >/dev/null
curl -fsS -X PUT --data-binary "$pending" "http://127.0.0.1:$up/_fake/jobs/jpend?owner=tok" >/dev/null
curl -fsS -X PUT --data-binary "$pending" "http://127.0.0.1:$up/_fake/jobs/jslow?owner=tok&delay=50" >/dev/null

start "$work/px.log" src/lumaproxy -l 127.0.0.1:0 -u "http://127.0.0.1:$up" \
	-d "$work/bench.db" --pending-interval 3600 --log-level error; px=$port
start "$work/px0.log" src/lumaproxy -l 127.0.0.1:0 -u "http://127.0.0.1:$up" \
	-d "$work/bench0.db" --pending-interval 0 --log-level error; px0=$port
for j in jbench jpend; do
	curl -fsS -o /dev/null -H 'Authorization: Bearer tok' "http://127.0.0.1:$px/v1/luma/jobs/$j"
done

# Runs wrk; prints "req/s p50 p99".
run() {
	wrk -t2 -c"$conns" -d"${secs}s" --latency -H 'Authorization: Bearer tok' "$1" >"$work/wrk.out"
	awk '/Requests\/sec/ { rps = $2 } / 50%/ { p50 = $2 } / 99%/ { p99 = $2 }
	    END { printf "%s %s %s\n", rps, p50, p99 }' "$work/wrk.out"
}

printf '%-10s %12s %10s %10s %8s\n' scenario req/s p50 p99 ratio
read -r base b50 b99 < <(run "http://127.0.0.1:$up/v1/luma/jobs/jbench")
printf '%-10s %12s %10s %10s %8s\n' upstream "$base" "$b50" "$b99" 1.00
for sc in hit:$px:jbench pending:$px:jpend coalesce:$px0:jslow; do
	IFS=: read -r name port job <<<"$sc"
	before=$(curl -fsS "http://127.0.0.1:$up/_fake/stats" | awk '$1 == "total" { print $2 }')
	read -r rps p50 p99 < <(run "http://127.0.0.1:$port/v1/luma/jobs/$job")
	after=$(curl -fsS "http://127.0.0.1:$up/_fake/stats" | awk '$1 == "total" { print $2 }')
	printf '%-10s %12s %10s %10s %8.2f   upstream calls: %d\n' "$name" "$rps" "$p50" \
	    "$p99" "$(awk -v a="$rps" -v b="$base" 'BEGIN { print a / b }')" "$((after - before))"
done
printf 'lumaproxy peak RSS: %s (hit, pending), %s (coalesce)\n' \
    "$(awk '/VmHWM/ { print $2 " " $3 }' /proc/"${pids[1]}"/status)" \
    "$(awk '/VmHWM/ { print $2 " " $3 }' /proc/"${pids[2]}"/status)"

read -r ebase e50 e99 < <(run "http://127.0.0.1:$up/v1/bench/echo?x=1")
read -r erps p50 p99 < <(run "http://127.0.0.1:$px/v1/bench/echo?x=1")
printf '%-10s %12s %10s %10s %8s\n' echo-up "$ebase" "$e50" "$e99" 1.00
printf '%-10s %12s %10s %10s %8.2f\n' passthru "$erps" "$p50" "$p99" \
    "$(awk -v a="$erps" -v b="$ebase" 'BEGIN { print a / b }')"

# Streaming: one 60 MiB transfer each way, direct and through the proxy.
size=$((60 * 1024 * 1024))	# fakeup takes bodies up to 64 MiB
head -c "$size" /dev/zero >"$work/up.bin"
mbs() { awk -v b="$1" -v t="$2" 'BEGIN { printf "%.0f", b / t / 1048576 }'; }
for where in up:$up px:$px; do
	IFS=: read -r name port <<<"$where"
	t=$(curl -sS -o /dev/null -w '%{time_total}' "http://127.0.0.1:$port/v1/bench/dl?_size=$size")
	printf '%-10s download %6s MB/s\n' "$name" "$(mbs "$size" "$t")"
	t=$(curl -sS -o /dev/null -w '%{time_total}' --data-binary @"$work/up.bin" \
	    "http://127.0.0.1:$port/v1/bench/ul")
	printf '%-10s upload   %6s MB/s\n' "$name" "$(mbs "$size" "$t")"
done
printf 'lumaproxy peak RSS after the transfers: %s\n' \
    "$(awk '/VmHWM/ { print $2 " " $3 }' /proc/"${pids[1]}"/status)"
