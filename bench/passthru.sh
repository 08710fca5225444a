#!/usr/bin/env bash
# Benchmarks of the pass-through and the /media/ file server against nginx,
# run by hand (never by make check):
#
#   bench/passthru.sh [SECONDS] [CONNECTIONS] [ROUNDS]
#
# Side by side in one run, on loopback, with tests/fakeup as upstream and
# wrk -t1 as the client (nginx and wrk are installed from the
# distribution's packages when missing).  Neither server logs requests
# (lumaproxy --access-log off, nginx access_log off); nginx runs one worker.
#   passthru  a small GET of fakeup's echo route: straight to fakeup
#             (direct), through lumaproxy, and through nginx (proxy_pass
#             to an upstream block with keepalive 32, HTTP/1.1)
#   download  one 60 MiB answer with curl: direct, lumaproxy, nginx (MB/s)
#   media     a 16 KiB mirrored file: lumaproxy GET /media/<sha256>
#             against nginx serving the same file with sendfile on
# Rounds alternate which server goes first.  It prints markdown tables
# with each round's numbers, their means and the ratios.  LUMAPROXY=PATH
# runs another build of lumaproxy (an older one, to compare).
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-5}
conns=${2:-50}
rounds=${3:-3}

. bench/lib.sh
lp=${LUMAPROXY:-$lp}
need wrk wrk
need nginx nginx-light nginx
nginx=$(command -v nginx || echo /usr/sbin/nginx)

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
mbs() { awk -v b="$1" -v t="$2" 'BEGIN { printf "%.0f", b / t / 1048576 }'; }

start "$work/fakeup.log" tests/fakeup; up=$port
thumb="http://127.0.0.1:$up/media/bench/thumbnail.jpg?_size=16384"
body="{\"jobid\":\"jbench\",\"type\":\"image\",\"status\":\"completed\",\"response\":{\"image\":{\"media_type\":\"image\",\"url\":\"$thumb\"}}}"
curl -fsS -X PUT --data-binary "$body" "http://127.0.0.1:$up/_fake/jobs/jbench?owner=tok" >/dev/null

mkdir "$work/media"
start "$work/px.log" "$lp" -l 127.0.0.1:0 -u "http://127.0.0.1:$up" \
	-d "$work/bench.db" --media-dir "$work/media" --access-log off \
	--log-level error; px=$port
pxpid=${pids[-1]}
curl -fsS -o /dev/null -H 'Authorization: Bearer tok' "http://127.0.0.1:$px/v1/luma/jobs/jbench"
for _ in $(seq 200); do
	[ "$(sqlite3 "$work/bench.db" "SELECT count(*) FROM media WHERE state = 'mirrored'")" = 1 ] && break
	sleep 0.05
done
sha=$(sqlite3 "$work/bench.db" "SELECT sha256 FROM media WHERE url = '$thumb'")
[ -n "$sha" ] || { echo "bench: the thumbnail was not mirrored" >&2; exit 1; }

ngport=$(free_port)
cat >"$work/nginx.conf" <<EOF
daemon off;
user root;
worker_processes 1;
pid $work/nginx.pid;
error_log $work/nginx.err warn;
events { worker_connections 1024; }
http {
	access_log off;
	sendfile on;
	tcp_nopush on;
	keepalive_requests 1000000;
	default_type application/octet-stream;
	upstream fakeup {
		server 127.0.0.1:$up;
		keepalive 32;
	}
	server {
		listen 127.0.0.1:$ngport;
		location /media/ { alias $work/media/; }
		location /v1/ {
			proxy_pass http://fakeup;
			proxy_http_version 1.1;
			proxy_set_header Connection "";
			proxy_buffering on;
		}
	}
}
EOF
"$nginx" -c "$work/nginx.conf" -p "$work" &
pids+=($!)
for _ in $(seq 100); do curl -fs -o /dev/null "http://127.0.0.1:$ngport/media/$sha" && break; sleep 0.05; done
stop_nginx() {
	[ -s "$work/nginx.pid" ] && kill "$(cat "$work/nginx.pid")" 2>/dev/null || true
}
trap 'stop_nginx; cleanup' EXIT

# wrk URL PID: "req/s p99 cpu" (p99 in ms; cpu: PID's CPU time per
# request in µs).
run() {
	local c0 c1
	c0=$(cpu_ticks "$2")
	wrk -t1 -c"$conns" -d"${secs}s" --latency "$1" >"$work/wrk.out" 2>&1
	c1=$(cpu_ticks "$2")
	awk -v t=$((c1 - c0)) -v hz="$tick" '
	    function ms(s) {
		if (s ~ /us$/) return s / 1000; if (s ~ /ms$/) return s + 0
		if (s ~ /s$/) return s * 1000; return s }
	    /Requests\/sec/ { rps = $2 } / 99%/ { p99 = ms($2) }
	    / requests in / { n = $1 }
	    /Non-2xx/ { bad = $NF }
	    END { if (bad) { print "wrk: " bad " bad answers" > "/dev/stderr"; exit 1 }
		  printf "%.0f %.2f %.1f\n", rps, p99, t / hz * 1e6 / n }' "$work/wrk.out"
}
ngw=$(pgrep -P "${pids[-1]}" | head -1)	# the one worker
[ -n "$ngw" ] || { echo "bench: no nginx worker" >&2; exit 1; }
size=$((60 * 1024 * 1024))
dl() {
	local t
	t=$(curl -fsS -o /dev/null -w '%{time_total}' "http://127.0.0.1:$1/v1/bench/dl?_size=$size")
	mbs "$size" "$t"
}

declare -A sum
add() { sum[$1]=$(awk -v a="${sum[$1]:-0}" -v b="$2" 'BEGIN { print a + b }'); }
echo_path="/v1/bench/echo?x=1"
rows_p=() rows_d=() rows_m=()
for r in $(seq "$rounds"); do
	if [ $((r % 2)) = 1 ]; then order="lp ng"; else order="ng lp"; fi
	read -r d_rps d_p99 _ < <(run "http://127.0.0.1:$up$echo_path" "${pids[0]}")
	for s in $order; do
		if [ "$s" = lp ]; then read -r l_rps l_p99 l_cpu < <(run "http://127.0.0.1:$px$echo_path" "$pxpid")
		else read -r n_rps n_p99 n_cpu < <(run "http://127.0.0.1:$ngport$echo_path" "$ngw"); fi
	done
	dd=$(dl "$up")
	for s in $order; do
		if [ "$s" = lp ]; then dlp=$(dl "$px"); else dng=$(dl "$ngport"); fi
	done
	for s in $order; do
		if [ "$s" = lp ]; then read -r ml_rps ml_p99 ml_cpu < <(run "http://127.0.0.1:$px/media/$sha" "$pxpid")
		else read -r mn_rps mn_p99 mn_cpu < <(run "http://127.0.0.1:$ngport/media/$sha" "$ngw"); fi
	done
	for k in d_rps l_rps n_rps l_p99 n_p99 l_cpu n_cpu dd dlp dng ml_rps mn_rps ml_p99 mn_p99 ml_cpu mn_cpu; do
		add "$k" "${!k}"
	done
	rows_p+=("| $r | $d_rps | $l_rps | $n_rps | $(ratio "$l_rps" "$n_rps") | $l_p99 | $n_p99 | $l_cpu | $n_cpu |")
	rows_d+=("| $r | $dd | $dlp | $dng | $(ratio "$dlp" "$dd") | $(ratio "$dng" "$dd") |")
	rows_m+=("| $r | $ml_rps | $mn_rps | $(ratio "$ml_rps" "$mn_rps") | $ml_p99 | $mn_p99 | $ml_cpu | $mn_cpu |")
done
m() { awk -v a="${sum[$1]}" -v n="$rounds" -v f="${2:-%.0f}" 'BEGIN { printf f, a / n }'; }

echo "Pass-through, small GET (fakeup's echo), wrk -t1 -c$conns, ${secs}s each:"
echo
echo "| round | direct req/s | lumaproxy req/s | nginx req/s | lumaproxy / nginx | p99 lumaproxy ms | p99 nginx ms | CPU/req lumaproxy µs | CPU/req nginx µs |"
echo "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
printf '%s\n' "${rows_p[@]}"
echo "| mean | $(m d_rps) | $(m l_rps) | $(m n_rps) | **$(ratio "${sum[l_rps]}" "${sum[n_rps]}")** | $(m l_p99 %.2f) | $(m n_p99 %.2f) | $(m l_cpu %.1f) | $(m n_cpu %.1f) |"
echo
echo "Download, 60 MiB with curl (MB/s):"
echo
echo "| round | direct | lumaproxy | nginx | lumaproxy / direct | nginx / direct |"
echo "| --- | ---: | ---: | ---: | ---: | ---: |"
printf '%s\n' "${rows_d[@]}"
echo "| mean | $(m dd) | $(m dlp) | $(m dng) | **$(ratio "${sum[dlp]}" "${sum[dd]}")** | $(ratio "${sum[dng]}" "${sum[dd]}") |"
echo
echo "Media, a 16 KiB mirrored file, wrk -t1 -c$conns, ${secs}s each (nginx: sendfile on):"
echo
echo "| round | lumaproxy req/s | nginx req/s | lumaproxy / nginx | p99 lumaproxy ms | p99 nginx ms | CPU/req lumaproxy µs | CPU/req nginx µs |"
echo "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
printf '%s\n' "${rows_m[@]}"
echo "| mean | $(m ml_rps) | $(m mn_rps) | **$(ratio "${sum[ml_rps]}" "${sum[mn_rps]}")** | $(m ml_p99 %.2f) | $(m mn_p99 %.2f) | $(m ml_cpu %.1f) | $(m mn_cpu %.1f) |"
echo
echo "$(nproc) cores; lumaproxy ${LUMAPROXY:-$(git rev-parse --short HEAD 2>/dev/null || echo '?')}, peak RSS $(awk '/VmHWM/ { printf "%.1f MB", $2 / 1024 }' "/proc/$pxpid/status")"
