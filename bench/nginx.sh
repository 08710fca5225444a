#!/usr/bin/env bash
# lumaproxy side by side with nginx, run by hand (never by make check):
#
#   bench/nginx.sh [SECONDS] [ROUNDS] [CONNECTIONS] [JOBS] [STARTJOBS] [SYSREQS]
#
# defaults 5 2 50 10000 100000 20000: about five minutes.  One lumaproxy
# and one nginx 1.22 (Debian's nginx-light: proxy_cache, worker_processes 1,
# keep-alive to upstream) in front of the same tests/fakeup --completed,
# warmed with the same jobs, on loopback; wrk -t1 is the client (nginx,
# wrk and strace are installed from the distribution's packages when
# missing).  Each measured case runs ROUNDS times, the sides alternating
# (lumaproxy, nginx, lumaproxy, nginx, ...), SECONDS a run:
#   hit-1        one finished job, CONNECTIONS connections
#   hit-10k      JOBS finished jobs, a random one per request (wrk Lua)
#   hit-1conn    one finished job, one connection
#                each with both access logs off, hit-1 and hit-10k also
#                with both writing access logs to a file (lumaproxy
#                --access-log PATH: 64 KiB buffer written at least once a
#                second; nginx access_log PATH buffer=64k flush=1s)
#   miss         a new finished job every request (fakeup --completed),
#                CONNECTIONS and 1 connection: lumaproxy (fetches, stores,
#                answers) against nginx passing through without a cache,
#                and nginx proxy_cache storing its misses
#   passthru     a small GET of fakeup's echo route, lumaproxy's
#                pass-through against nginx proxy_pass
# For each run: requests/s, p50/p99 (wrk --latency) and the server's CPU
# per request (utime + stime from /proc/PID/stat around the run, over the
# requests wrk completed; nginx: its worker).  Then: each server's VmRSS
# after the hit runs; system calls per hit and per miss (strace -c -f -p
# on the server for SYSREQS hits or SYSREQS/4 misses, calls over
# requests); start-up: a database of STARTJOBS finished jobs built with
# lumaproxy import, an nginx cache filled with the same jobs through nginx,
# and the time from exec to the first 200 HIT (python3 polling in a tight
# loop), ROUNDS times each, alternating.  It prints markdown tables with
# the ratios lumaproxy / nginx.
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-5}
rounds=${2:-2}
conns=${3:-50}
njobs=${4:-10000}
nstart=${5:-100000}
sysreqs=${6:-20000}

. bench/lib.sh
need wrk wrk
need nginx nginx-light nginx
need strace strace
need python3 python3
nginx=$(command -v nginx || echo /usr/sbin/nginx)

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
rss() { awk '/VmRSS/ { printf "%.1f", $2 / 1024 }' "/proc/$1/status"; }
now() { date +%s.%N; }
tok=tok
load0=$(cut -d' ' -f1-3 /proc/loadavg)
auth="Authorization: Bearer $tok"

# ------------------------------------------------------------ the servers
start "$work/fakeup.log" tests/fakeup --completed; up=$port
upstream=http://127.0.0.1:$up

start "$work/lp-off.log" "$lp" -l 127.0.0.1:0 -u "$upstream" -d "$work/lp-off.db" \
    --access-log off --log-level warn; lpoff=$port; lpoffpid=${pids[-1]}
start "$work/lp-log.log" "$lp" -l 127.0.0.1:0 -u "$upstream" -d "$work/lp-log.db" \
    --access-log "$work/lp-access.log" --log-level warn; lplog=$port; lplogpid=${pids[-1]}

ngoff=$(free_port); nglog=$(free_port); ngpass=$(free_port)
mkdir "$work/ng-cache" "$work/ng-temp"
user=""; [ "$(id -u)" -eq 0 ] && user="user root;"
cat >"$work/nginx.conf" <<EOF
daemon off;
$user
worker_processes 1;
pid $work/nginx.pid;
error_log $work/nginx.err warn;
events { worker_connections 4096; }
http {
	access_log off;
	sendfile on;
	tcp_nopush on;
	keepalive_requests 1000000;
	client_body_temp_path $work/ng-temp/body;
	proxy_temp_path $work/ng-temp/proxy;
	upstream fakeup {
		server 127.0.0.1:$up;
		keepalive 32;
		keepalive_requests 1000000;
	}
	proxy_http_version 1.1;
	proxy_set_header Connection "";
	proxy_cache_path $work/ng-cache levels=1:2 keys_zone=luma:64m inactive=7d
	    use_temp_path=off;
	# Finished jobs never change; the token is in the key, so that a cached
	# job is answered only to the token it was fetched with.
	proxy_cache_key "\$scheme\$proxy_host\$request_uri \$http_authorization";
	proxy_cache_valid 200 1d;
	server {
		listen 127.0.0.1:$ngoff;
		location /v1/luma/jobs/ {
			proxy_pass http://fakeup;
			proxy_cache luma;
			add_header X-Cache \$upstream_cache_status;
		}
		location / { proxy_pass http://fakeup; }
	}
	server {
		listen 127.0.0.1:$nglog;
		access_log $work/ng-access.log combined buffer=64k flush=1s;
		location /v1/luma/jobs/ {
			proxy_pass http://fakeup;
			proxy_cache luma;
			add_header X-Cache \$upstream_cache_status;
		}
		location / { proxy_pass http://fakeup; }
	}
	server {
		listen 127.0.0.1:$ngpass;
		location / { proxy_pass http://fakeup; }
	}
}
EOF
"$nginx" -c "$work/nginx.conf" -p "$work" -e "$work/nginx.err" &
ngpid=$!
pids+=("$ngpid")
for _ in $(seq 100); do
	[ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$ngpass/")" != 000 ] && break
	sleep 0.05
done
# The worker: the master's child that says so.
ngworker() {
	local p
	for _ in $(seq 100); do
		for p in $(ps -o pid= --ppid "$ngpid"); do
			grep -q 'worker process' "/proc/$p/cmdline" 2>/dev/null && { echo "$p"; return; }
		done
		sleep 0.05
	done
	echo "bench: no nginx worker" >&2; exit 1
}
ngw=$(ngworker)

# ------------------------------------------------------------ wrk scripts
# rand.lua PREFIX N: PREFIX and a random number below N per request.
cat >"$work/rand.lua" <<'EOF'
local prefix, n
function init(args)
	prefix, n = args[1], tonumber(args[2])
	math.randomseed(os.time() * 1000 + math.floor(os.clock() * 1e6))
end
function request()
	return wrk.format(nil, prefix .. math.random(0, n - 1))
end
EOF
# seq.lua PREFIX N STOP: PREFIX and 0, 1, 2, ... (modulo N when N > 0);
# exits after STOP answers when STOP > 0 (wrk would wait out -d).
cat >"$work/seq.lua" <<'EOF'
local prefix, n, stop, i, got = "", 0, 0, 0, 0
function init(args)
	prefix, n, stop = args[1], tonumber(args[2]), tonumber(args[3])
	if stop > 0 then
		response = function()
			got = got + 1
			if got >= stop then os.exit(0) end
		end
	end
end
function request()
	local k = i
	i = i + 1
	if n > 0 then k = k % n end
	return wrk.format(nil, prefix .. k)
end
EOF

# fill PORT PREFIX N: asks for PREFIX0 .. PREFIX(N-1) through the server
# at CONNECTIONS connections (and 2 x CONNECTIONS more, from the start
# again, so that none of the N is still in flight at the end); prints jobs/s.
fill() {
	local t0 t1
	t0=$(now)
	wrk -t1 -c"$conns" -d600s -H "$auth" -s "$work/seq.lua" \
	    "http://127.0.0.1:$1/" -- "/v1/luma/jobs/$2" "$3" $(($3 + 2 * conns)) >/dev/null
	t1=$(now)
	awk -v n="$3" -v a="$t0" -v b="$t1" 'BEGIN { printf "%.0f", n / (b - a) }'
}
lpjobs() { "$lp" stats --db "$1" --json | python3 -c 'import json,sys; print(sum(j["count"] for j in json.load(sys.stdin)["jobs"]))'; }
ngfiles() { find "$work/ng-cache" -type f | wc -l; }

# ------------------------------------------------------------ warm-up
curl -fsS -o "$work/rec.json" -H "$auth" "$upstream/v1/luma/jobs/jh-0"
bytes=$(wc -c <"$work/rec.json")
fill_lpoff=$(fill "$lpoff" jh- "$njobs")
fill_lplog=$(fill "$lplog" jh- "$njobs")
fill_ng=$(fill "$ngoff" jh- "$njobs")
got_lpoff=$(lpjobs "$work/lp-off.db"); got_lplog=$(lpjobs "$work/lp-log.db"); got_ng=$(ngfiles)
for p in "$lpoff" "$lplog" "$ngoff" "$nglog"; do
	x=$(curl -fsS -o /dev/null -D - -H "$auth" "http://127.0.0.1:$p/v1/luma/jobs/jh-0" |
	    tr -d '\r' | awk -F': ' 'tolower($1) == "x-cache" { print $2 }')
	[ "$x" = HIT ] || { echo "bench: jh-0 is no HIT on :$p ($x)" >&2; exit 1; }
done
hitbytes_lp=$(curl -fsS -o /dev/null -w '%{size_header} %{size_download}' -H "$auth" "http://127.0.0.1:$lpoff/v1/luma/jobs/jh-0")
hitbytes_ng=$(curl -fsS -o /dev/null -w '%{size_header} %{size_download}' -H "$auth" "http://127.0.0.1:$ngoff/v1/luma/jobs/jh-0")

# ------------------------------------------------------------ runs
# wrkrun PID WRK-ARGS...: one run; prints "rps requests p50us p99us cpu-us/req errors".
wrkrun() {
	local pid=$1 c0 c1
	shift
	c0=$(cpu_ticks "$pid")
	wrk --latency -H "$auth" "$@" >"$work/wrk.out" 2>&1
	c1=$(cpu_ticks "$pid")
	awk -v c=$((c1 - c0)) -v tick="$tick" '
	    function us(v) {
		if (v ~ /us$/) return v + 0
		if (v ~ /ms$/) return v * 1000
		if (v ~ /m$/) return v * 60e6
		return v * 1e6
	    }
	    / requests in / { n = $1 } /Requests\/sec/ { rps = $2 }
	    / 50%/ { p50 = us($2) } / 99%/ { p99 = us($2) }
	    /Non-2xx/ { bad += $NF } /Socket errors/ { gsub(/,/, ""); bad += $4 + $6 + $8 + $10 }
	    END { printf "%.0f %d %.0f %.0f %.1f %d\n", rps, n, p50, p99,
		c / tick * 1e6 / (n ? n : 1), bad }' "$work/wrk.out"
}

# Results, one line a run: "case side round rps requests p50 p99 cpu errors".
: >"$work/res"
# measure CASE WRK-OPTS PATH-OR-SCRIPT SIDE:PORT:PID...
#   PATH-OR-SCRIPT: /path, or rand, or seq (a new jobid every request).
measure() {
	local c=$1 opts=$2 what=$3 r s name port pid args
	shift 3
	for r in $(seq 1 "$rounds"); do
		for s in "$@"; do
			IFS=: read -r name port pid <<<"$s"
			case $what in
			rand) args=(-s "$work/rand.lua" "http://127.0.0.1:$port/" -- /v1/luma/jobs/jh- "$njobs") ;;
			seq) args=(-s "$work/seq.lua" "http://127.0.0.1:$port/" -- "/v1/luma/jobs/jm-$c-$name-$r-" 0 0) ;;
			*) args=("http://127.0.0.1:$port$what") ;;
			esac
			# shellcheck disable=SC2086
			echo "$c $name $r $(wrkrun "$pid" $opts -d"${secs}s" "${args[@]}")" >>"$work/res"
		done
	done
}
w50="-t1 -c$conns"
w1="-t1 -c1"
measure hit-1 "$w50" /v1/luma/jobs/jh-0 "lumaproxy:$lpoff:$lpoffpid" "nginx:$ngoff:$ngw"
measure hit-1-log "$w50" /v1/luma/jobs/jh-0 "lumaproxy:$lplog:$lplogpid" "nginx:$nglog:$ngw"
measure hit-10k "$w50" rand "lumaproxy:$lpoff:$lpoffpid" "nginx:$ngoff:$ngw"
measure hit-10k-log "$w50" rand "lumaproxy:$lplog:$lplogpid" "nginx:$nglog:$ngw"
measure hit-1conn "$w1" /v1/luma/jobs/jh-0 "lumaproxy:$lpoff:$lpoffpid" "nginx:$ngoff:$ngw"
sleep 1.5	# both access logs written out
loglines_lp=$(wc -l <"$work/lp-access.log")
loglines_ng=$(wc -l <"$work/ng-access.log")
rss_lpoff=$(rss "$lpoffpid"); rss_lplog=$(rss "$lplogpid")
rss_ngw=$(rss "$ngw"); rss_ngm=$(rss "$ngpid")

measure miss "$w50" seq "lumaproxy:$lpoff:$lpoffpid" "nginx:$ngpass:$ngw" "nginx-cache:$ngoff:$ngw"
measure miss-1conn "$w1" seq "lumaproxy:$lpoff:$lpoffpid" "nginx:$ngpass:$ngw" "nginx-cache:$ngoff:$ngw"
measure passthru "$w50" "/v1/bench/echo?x=1" "lumaproxy:$lpoff:$lpoffpid" "nginx:$ngpass:$ngw"

# ------------------------------------------------------------ system calls
# syscalls PID PORT PREFIX N MAXJOBS: strace -c on the server while wrk
# sends N requests for PREFIX0 .. (modulo MAXJOBS; 0: endless); prints
# "calls-per-request top-calls".
syscalls() {
	local pid=$1 port=$2 prefix=$3 n=$4 m=$5 st
	strace -c -f -p "$pid" -o "$work/strace.out" 2>"$work/strace.err" &
	st=$!
	for _ in $(seq 100); do grep -q attached "$work/strace.err" && break; sleep 0.05; done
	sleep 0.2
	wrk -t1 -c"$conns" -d600s -H "$auth" -s "$work/seq.lua" "http://127.0.0.1:$port/" \
	    -- "$prefix" "$m" "$n" >/dev/null
	kill -INT "$st"
	wait "$st" || true
	awk -v n="$n" '
	    $1 ~ /^[0-9.]+$/ && NF >= 5 { name = $NF; calls = (NF == 6 ? $(NF - 2) : $(NF - 1))
		if (name != "total") { c[name] = calls; order[++k] = name } }
	    $NF == "total" { total = (NF == 6 ? $(NF - 2) : $(NF - 1)) }
	    END {
		# the six most frequent, per request
		for (i = 1; i <= k; i++) for (j = i + 1; j <= k; j++)
		    if (c[order[j]] > c[order[i]]) { t = order[i]; order[i] = order[j]; order[j] = t }
		s = ""
		for (i = 1; i <= k && i <= 6; i++)
		    s = s sprintf("%s%s %.2f", i > 1 ? ", " : "", order[i], c[order[i]] / n)
		printf "%.2f %s\n", total / n, s
	    }' "$work/strace.out"
}
sys_hit_lp=$(syscalls "$lpoffpid" "$lpoff" /v1/luma/jobs/jh- "$sysreqs" 1)
sys_hit_ng=$(syscalls "$ngw" "$ngoff" /v1/luma/jobs/jh- "$sysreqs" 1)
sys_miss_lp=$(syscalls "$lpoffpid" "$lpoff" /v1/luma/jobs/js-lp- $((sysreqs / 4)) 0)
sys_miss_ng=$(syscalls "$ngw" "$ngpass" /v1/luma/jobs/js-ng- $((sysreqs / 4)) 0)
sys_miss_ngc=$(syscalls "$ngw" "$ngoff" /v1/luma/jobs/js-ngc- $((sysreqs / 4)) 0)

# ------------------------------------------------------------ start-up
# lumaproxy: a database of STARTJOBS finished jobs, written by import
# (the records fakeup gives for those jobids, granted to the token).
curl -fsS -o "$work/st.json" -H "$auth" "$upstream/v1/luma/jobs/jstPLACEHOLDER"
python3 - "$work/st.json" "$nstart" >"$work/start.jsonl" <<'EOF'
import json, sys, time
rec = open(sys.argv[1]).read()
when = time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime())
out = sys.stdout
for i in range(int(sys.argv[2])):
    j = "jst-%d" % i
    out.write(json.dumps({"jobid": j, "type": "video", "status": "completed",
        "fetched_at": when, "grants": [], "body": rec.replace("jstPLACEHOLDER", j)},
        separators=(",", ":")) + "\n")
EOF
t0=$(now)
"$lp" import --db "$work/start.db" --grant "$tok" <"$work/start.jsonl" >/dev/null
t1=$(now)
import_rate=$(awk -v n="$nstart" -v a="$t0" -v b="$t1" 'BEGIN { printf "%.0f", n / (b - a) }')
db_bytes=$(du -sB1 "$work/start.db" | cut -f1)
# nginx: the same jobs asked through it once (its cache now holds the
# JOBS, the misses and these).
fill_start_ng=$(fill "$ngoff" jst- "$nstart")
sleep 1
ng_files=$(ngfiles)
ng_bytes=$(du -sB1 "$work/ng-cache" | cut -f1)
# The running nginx goes; the timed ones use its configuration and cache.
kill -QUIT "$ngpid"
wait "$ngpid" 2>/dev/null || true
kill "$lpoffpid" "$lplogpid"

# first_hit PORT PATH CMD...: starts CMD, asks for PATH until a 200 HIT;
# prints "ms first-answer" (first-answer: the X-Cache of the first 200),
# then stops CMD (SIGTERM; nginx SIGQUIT) and waits for it.
first_hit() {
	python3 - "$tok" "$@" <<'EOF'
import http.client, signal, subprocess, sys, time
tok, port, path, cmd = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4:]
t0 = time.perf_counter()
p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
first = None
try:
    while True:
        try:
            c = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            c.request("GET", path, headers={"Authorization": "Bearer " + tok})
            r = c.getresponse()
            r.read()
            c.close()
            if r.status == 200:
                first = first or r.getheader("X-Cache", "-")
                if r.getheader("X-Cache") == "HIT":
                    break
        except OSError:
            pass
        if p.poll() is not None or time.perf_counter() - t0 > 30:
            print("fail -")
            sys.exit(1)
    print("%.1f %s" % ((time.perf_counter() - t0) * 1000, first))
finally:
    p.send_signal(signal.SIGQUIT if "nginx" in cmd[0] else signal.SIGTERM)
    p.wait()
EOF
}
stport=$(free_port)
: >"$work/start"
mid=$((nstart / 2))
for r in $(seq 1 "$rounds"); do
	echo "lumaproxy $r $(first_hit "$stport" "/v1/luma/jobs/jst-$mid" "$lp" -l "127.0.0.1:$stport" \
	    -u "$upstream" -d "$work/start.db" --access-log off --log-level warn)" >>"$work/start"
	echo "nginx $r $(first_hit "$ngoff" "/v1/luma/jobs/jst-$mid" "$nginx" -c "$work/nginx.conf" \
	    -p "$work" -e "$work/nginx.err")" >>"$work/start"
done

# ------------------------------------------------------------ report
fs=$(df -T "$work" | awk 'NR == 2 { print $2 }')
memcache=$("$lp" --help | sed -n 's/.*--memory-cache BYTES.*(default: \([0-9]*\)).*/\1/p')
[ -n "$memcache" ] && memcache=" (\`--memory-cache\` $memcache bytes)"
rev=$(git rev-parse --short HEAD 2>/dev/null || echo "?")
git diff --quiet HEAD -- src 2>/dev/null || rev="$rev with changes to src/"
cat <<EOF
## bench/nginx.sh $secs $rounds $conns $njobs $nstart $sysreqs

$(date -u +%Y-%m-%d), $(nproc) cores, Linux $(uname -r), load average $load0 at the start,
$(cut -d' ' -f1-3 /proc/loadavg) at the end. lumaproxy $rev; nginx $("$nginx" -v 2>&1 | sed 's/.*nginx\///');
wrk $(wrk -v 2>&1 | awk 'NR == 1 { print $2 }') with one thread; upstream \`tests/fakeup --completed\`
(one evhttp process); working files on $fs.

- lumaproxy: one process, one event loop; \`--access-log off\` or
  \`--access-log PATH\` (a 64 KiB buffer written out at least once a
  second), \`--log-level warn\`, everything else as default$memcache.
- nginx: \`worker_processes 1\`; \`proxy_cache\` with \`keys_zone=luma:64m\`,
  \`proxy_cache_valid 200 1d\`, key \`\$scheme\$proxy_host\$request_uri
  \$http_authorization\`; \`upstream { keepalive 32; }\`, \`proxy_http_version
  1.1\`, \`proxy_set_header Connection ""\`; \`sendfile on\`,
  \`keepalive_requests 1000000\`; \`access_log off\` or \`access_log PATH
  combined buffer=64k flush=1s\`.
- A hit answer is ${hitbytes_lp% *} + ${hitbytes_lp#* } bytes (head + body) from lumaproxy,
  ${hitbytes_ng% *} + ${hitbytes_ng#* } from nginx. Runs of $secs s, the sides alternating,
  $rounds rounds; CPU is the server's utime + stime over the requests wrk
  completed (nginx: its worker).
- Warm-up ($njobs new jobs through each, $conns connections, every one a miss
  that stores): lumaproxy $fill_lpoff jobs/s (logs off) and $fill_lplog jobs/s
  (logging), nginx $fill_ng jobs/s. Cached after it: lumaproxy $got_lpoff and
  $got_lplog jobs, nginx $got_ng files.
- Lines in the access log files after the hit runs: lumaproxy $loglines_lp, nginx
  $loglines_ng (the warm-up's too).
EOF
python3 - "$work/res" "$work/start" "$rounds" "$conns" "$njobs" "$nstart" "$sysreqs" \
    "$rss_lpoff $rss_lplog $rss_ngw $rss_ngm" "$sys_hit_lp" "$sys_hit_ng" "$sys_miss_lp" \
    "$sys_miss_ng" "$sys_miss_ngc" "$import_rate $db_bytes $fill_start_ng $ng_files $ng_bytes" <<'EOF'
import sys
from collections import OrderedDict
res, start, rounds, conns, njobs, nstart, sysreqs = sys.argv[1:8]
rounds = int(rounds)
rss = [float(x) for x in sys.argv[8].split()]
sys_hit_lp, sys_hit_ng, sys_miss_lp, sys_miss_ng, sys_miss_ngc = sys.argv[9:14]
import_rate, db_bytes, fill_ng, ng_files, ng_bytes = [int(x) for x in sys.argv[14].split()]

def num(x): return "{:,.0f}".format(x)
def lat(us): return "%.2f ms" % (us / 1000) if us >= 1000 else "%.0f µs" % us
def ratio(a, b): return "%.2f" % (a / b) if b else "-"

runs = OrderedDict()	# case -> side -> [rows]
for line in open(res):
    c, side, r, rps, n, p50, p99, cpu, bad = line.split()
    runs.setdefault(c, OrderedDict()).setdefault(side, []).append(
        dict(r=int(r), rps=float(rps), n=int(n), p50=float(p50), p99=float(p99),
             cpu=float(cpu), bad=int(bad)))
titles = {
    "hit-1": "hit, 1 jobid, %s connections, access logs off" % conns,
    "hit-1-log": "hit, 1 jobid, %s connections, both writing access logs to a file" % conns,
    "hit-10k": "hit, a random one of %s jobids, %s connections, access logs off" % (num(int(njobs)), conns),
    "hit-10k-log": "hit, a random one of %s jobids, %s connections, both writing access logs" % (num(int(njobs)), conns),
    "hit-1conn": "hit, 1 jobid, 1 connection, access logs off",
    "miss": "miss: a new finished job every request, %s connections, logs off "
            "(nginx: pass-through without a cache; nginx-cache: proxy_cache storing it)" % conns,
    "miss-1conn": "miss, 1 connection (as above)",
    "passthru": "small GET passed through (fakeup's echo route), %s connections, logs off" % conns,
}
mean = {}
for c, sides in runs.items():
    names = list(sides)
    print("\n**%s**\n" % titles.get(c, c))
    print("| round | " + " | ".join("%s req/s" % s for s in names) + " | " +
          " | ".join("%s p50 / p99" % s for s in names) + " | " +
          " | ".join("%s CPU/req" % s for s in names) + " |")
    print("| --- |" + " ---: |" * (3 * len(names)))
    m = {s: {k: sum(x[k] for x in rows) / len(rows) for k in ("rps", "p50", "p99", "cpu")}
         for s, rows in sides.items()}
    mean[c] = m
    for r in range(1, rounds + 2):
        row = [m[s] if r > rounds else sides[s][r - 1] for s in names]
        print("| %s | " % (r if r <= rounds else "mean") +
              " | ".join(num(x["rps"]) for x in row) + " | " +
              " | ".join("%s / %s" % (lat(x["p50"]), lat(x["p99"])) for x in row) + " | " +
              " | ".join("%.1f µs" % x["cpu"] for x in row) + " |")
    a, b = m["lumaproxy"], m["nginx"]
    extra = ""
    if "nginx-cache" in m:
        extra = "; req/s against nginx-cache %s" % ratio(a["rps"], m["nginx-cache"]["rps"])
    print("\nlumaproxy / nginx: req/s %s, p50 %s, p99 %s, CPU per request %s%s" % (
        ratio(a["rps"], b["rps"]), ratio(a["p50"], b["p50"]), ratio(a["p99"], b["p99"]),
        ratio(a["cpu"], b["cpu"]), extra))
    for s, rows in sides.items():
        bad = sum(x["bad"] for x in rows)
        if bad:
            print("\nwarning: %s: %d non-2xx answers or socket errors" % (s, bad))

st = OrderedDict()
for line in open(start):
    side, r, ms, first = line.split()
    st.setdefault(side, []).append((ms, first))
print("\n**start-up: exec to the first 200 HIT, %s finished jobs cached**\n" % num(int(nstart)))
print("| round | lumaproxy | nginx |\n| --- | ---: | ---: |")
for r in range(rounds):
    cell = lambda s: "%s ms%s" % (st[s][r][0], "" if st[s][r][1] == "HIT" else
                                  " (first 200 was %s)" % st[s][r][1])
    print("| %d | %s | %s |" % (r + 1, cell("lumaproxy"), cell("nginx")))
def stmean(s):
    v = [float(x[0]) for x in st[s] if x[0] != "fail"]
    return sum(v) / len(v) if v else float("nan")
print("| mean | %.1f ms | %.1f ms |" % (stmean("lumaproxy"), stmean("nginx")))
print("\nlumaproxy's database: written by `lumaproxy import` at %s jobs/s, %.1f MB on disk. "
      "nginx's cache: filled through nginx at %s jobs/s, %s files, %.1f MB on disk (all of "
      "its entries, the earlier runs' too; disk blocks allocated, as du counts them)."
      % (num(import_rate), db_bytes / 1e6, num(fill_ng), num(ng_files), ng_bytes / 1e6))

def calls(s):
    total, _, top = s.partition(" ")
    return float(total), top
print("\n**system calls per request** (strace -c -f on the server, %s hits / %s misses, "
      "calls over requests)\n" % (num(int(sysreqs)), num(int(sysreqs) // 4)))
print("| case | lumaproxy | nginx | ratio | lumaproxy's most frequent | nginx's most frequent |")
print("| --- | ---: | ---: | ---: | --- | --- |")
for name, l, n in (("hit", sys_hit_lp, sys_hit_ng), ("miss (nginx: pass-through)", sys_miss_lp, sys_miss_ng),
                   ("miss (nginx: proxy_cache storing it)", sys_miss_lp, sys_miss_ngc)):
    lt, ltop = calls(l)
    nt, ntop = calls(n)
    print("| %s | %.2f | %.2f | %s | %s | %s |" % (name, lt, nt, ratio(lt, nt), ltop, ntop))

print("\n**summary** (means; ratio = lumaproxy / nginx)\n")
print("| case | lumaproxy | nginx | ratio |\n| --- | ---: | ---: | ---: |")
def row(label, a, b, fmt):
    print("| %s | %s | %s | %s |" % (label, fmt(a), fmt(b), ratio(a, b)))
rps = lambda x: num(x)
us = lambda x: "%.1f µs" % x
for c, label in (("hit-1", "hit, 1 jobid, %s conns, logs off" % conns),
                 ("hit-1-log", "hit, 1 jobid, %s conns, both logging" % conns),
                 ("hit-10k", "hit, %s jobids, %s conns, logs off" % (num(int(njobs)), conns)),
                 ("hit-10k-log", "hit, %s jobids, %s conns, both logging" % (num(int(njobs)), conns)),
                 ("hit-1conn", "hit, 1 connection")):
    if c in mean:
        row(label + ", req/s", mean[c]["lumaproxy"]["rps"], mean[c]["nginx"]["rps"], rps)
for c, label in (("hit-1", "hit, 1 jobid, logs off"), ("hit-1-log", "hit, 1 jobid, both logging")):
    if c in mean:
        row(label + ", p99", mean[c]["lumaproxy"]["p99"], mean[c]["nginx"]["p99"], lat)
        row(label + ", CPU per request", mean[c]["lumaproxy"]["cpu"], mean[c]["nginx"]["cpu"], us)
row("hit, system calls per request", calls(sys_hit_lp)[0], calls(sys_hit_ng)[0], lambda x: "%.2f" % x)
if "miss" in mean:
    row("miss, %s conns, req/s (nginx pass-through)" % conns, mean["miss"]["lumaproxy"]["rps"],
        mean["miss"]["nginx"]["rps"], rps)
    row("miss, %s conns, req/s (nginx proxy_cache)" % conns, mean["miss"]["lumaproxy"]["rps"],
        mean["miss"]["nginx-cache"]["rps"], rps)
    row("miss, CPU per request (nginx pass-through)", mean["miss"]["lumaproxy"]["cpu"],
        mean["miss"]["nginx"]["cpu"], us)
row("miss, system calls per request (nginx pass-through)", calls(sys_miss_lp)[0],
    calls(sys_miss_ng)[0], lambda x: "%.2f" % x)
if "miss-1conn" in mean:
    row("miss, 1 connection, p50 (nginx pass-through)", mean["miss-1conn"]["lumaproxy"]["p50"],
        mean["miss-1conn"]["nginx"]["p50"], lat)
if "passthru" in mean:
    row("small pass-through GET, req/s", mean["passthru"]["lumaproxy"]["rps"],
        mean["passthru"]["nginx"]["rps"], rps)
row("start-up with %s jobs, first HIT" % num(int(nstart)), stmean("lumaproxy"), stmean("nginx"),
    lambda x: "%.1f ms" % x)
row("RSS after the hit runs (lumaproxy logs off; nginx worker)", rss[0], rss[2],
    lambda x: "%.1f MB" % x)
print("\nRSS (VmRSS) after the hit runs: lumaproxy %.1f MB (logs off), %.1f MB (logging); "
      "nginx worker %.1f MB, master %.1f MB (its cache manager and loader not counted)."
      % tuple(rss))
EOF
