#!/usr/bin/env bash
# Benchmarks of the media mirror, run by hand (never by make check):
#
#   bench/media.sh [MIB] [SECONDS] [CONNECTIONS]
#
# Side by side in one run, on loopback, against nginx serving the same
# directory (nginx and wrk are installed from the distribution's packages
# when missing):
#   mirror   the time lumaproxy takes to mirror a MIB MiB video from
#            fakeup (the CDN), against curl downloading it to a file
#   big      the whole MIB MiB file through GET /media/<sha256>, three times
#            each, lumaproxy and nginx (MB/s)
#   small    a 16 KiB thumbnail with wrk, lumaproxy and nginx (req/s)
#   range    bytes=1048576-2097151 of the big file with wrk (req/s)
# It prints the ratios of lumaproxy to nginx and lumaproxy's peak memory.
set -euo pipefail
cd "$(dirname "$0")/.."
mib=${1:-256}
secs=${2:-10}
conns=${3:-64}

. bench/lib.sh
need wrk wrk
need nginx nginx-light nginx
nginx=$(command -v nginx || echo /usr/sbin/nginx)

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
mbs() { awk -v b="$1" -v t="$2" 'BEGIN { printf "%.0f", b / t / 1048576 }'; }
hwm() { awk '/VmHWM/ { printf "%.1f MB", $2 / 1024 }' "/proc/$1/status"; }

start "$work/fakeup.log" tests/fakeup; up=$port
size=$((mib * 1048576))
video="http://127.0.0.1:$up/media/bench/video.mp4?_size=$size"
thumb="http://127.0.0.1:$up/media/bench/thumbnail.jpg?_size=16384"
body="{\"jobid\":\"jbench\",\"type\":\"video\",\"status\":\"completed\",\"response\":{\"video\":{\"media_type\":\"video\",\"url\":\"$video\"},\"thumbnail\":{\"media_type\":\"image\",\"url\":\"$thumb\"}}}"
curl -fsS -X PUT --data-binary "$body" "http://127.0.0.1:$up/_fake/jobs/jbench?owner=tok" >/dev/null

mkdir "$work/media"
t0=$(date +%s.%N)
curl -fsS -o "$work/direct" "$video"
t1=$(date +%s.%N)
direct=$(awk -v a="$t0" -v b="$t1" 'BEGIN { print b - a }')
rm -f "$work/direct"

start "$work/px.log" src/lumaproxy -l 127.0.0.1:0 -u "http://127.0.0.1:$up" \
	-d "$work/bench.db" --media-dir "$work/media" --log-level warn; px=$port
pxpid=${pids[-1]}
t0=$(date +%s.%N)
curl -fsS -o /dev/null -H 'Authorization: Bearer tok' "http://127.0.0.1:$px/v1/luma/jobs/jbench"
while [ "$(sqlite3 "$work/bench.db" "SELECT count(*) FROM media WHERE state = 'mirrored'")" != 2 ]; do
	sleep 0.05
done
t1=$(date +%s.%N)
mirrored=$(awk -v a="$t0" -v b="$t1" 'BEGIN { print b - a }')
vsha=$(sqlite3 "$work/bench.db" "SELECT sha256 FROM media WHERE url = '$video'")
tsha=$(sqlite3 "$work/bench.db" "SELECT sha256 FROM media WHERE url = '$thumb'")

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
	types { video/mp4 mp4; }
	default_type application/octet-stream;
	server {
		listen 127.0.0.1:$ngport;
		location /media/ { alias $work/media/; }
	}
}
EOF
"$nginx" -c "$work/nginx.conf" -p "$work" &
pids+=($!)
for _ in $(seq 100); do curl -fs -o /dev/null "http://127.0.0.1:$ngport/media/$tsha" && break; sleep 0.05; done

# Whole-file downloads: best of three, MB/s.
best() {
	local url=$1 b=0 t r
	for _ in 1 2 3; do
		t=$(curl -fsS -o /dev/null -w '%{time_total}' "$url")
		r=$(mbs "$size" "$t")
		[ "$r" -gt "$b" ] && b=$r
	done
	echo "$b"
}
lpbig=$(best "http://127.0.0.1:$px/media/$vsha")
ngbig=$(best "http://127.0.0.1:$ngport/media/$vsha")

# wrk: "req/s p99".
run() {
	wrk -t2 -c"$conns" -d"${secs}s" --latency "$@" "$url" 2>&1 | awk '
	    /Requests\/sec/ { rps = $2 } / 99%/ { p99 = $2 } END { printf "%.0f %s\n", rps, p99 }'
}
url="http://127.0.0.1:$px/media/$tsha"; lpsmall=$(run)
url="http://127.0.0.1:$ngport/media/$tsha"; ngsmall=$(run)
url="http://127.0.0.1:$px/media/$vsha"; lprange=$(run -H 'Range: bytes=1048576-2097151')
url="http://127.0.0.1:$ngport/media/$vsha"; ngrange=$(run -H 'Range: bytes=1048576-2097151')

echo "media bench: $mib MiB video, ${secs}s x $conns connections, $(nproc) cores"
echo
printf '%-8s %14s %14s %8s\n' scenario lumaproxy other ratio
printf '%-8s %11s s %11s s %8s   (other: curl straight to a file)\n' mirror \
    "$(printf %.2f "$mirrored")" "$(printf %.2f "$direct")" "$(ratio "$direct" "$mirrored")"
printf '%-8s %9s MB/s %9s MB/s %8s   (other: nginx)\n' big "$lpbig" "$ngbig" "$(ratio "$lpbig" "$ngbig")"
printf '%-8s %8s req/s %8s req/s %8s   p99 %s vs %s\n' small "${lpsmall% *}" "${ngsmall% *}" \
    "$(ratio "${lpsmall% *}" "${ngsmall% *}")" "${lpsmall#* }" "${ngsmall#* }"
printf '%-8s %8s req/s %8s req/s %8s   p99 %s vs %s (1 MiB ranges)\n' range "${lprange% *}" \
    "${ngrange% *}" "$(ratio "${lprange% *}" "${ngrange% *}")" "${lprange#* }" "${ngrange#* }"
echo
echo "lumaproxy peak memory: $(hwm "$pxpid")"
