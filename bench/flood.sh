#!/usr/bin/env bash
# Connection floods, run by hand (never by make check):
#
#   bench/flood.sh [SECONDS] [ROUNDS] [HOLD] [IDLE] [SLOW] [READERS] [LIMIT]
#   LP=path/to/other/lumaproxy bench/flood.sh ...   (another build)
#
# defaults 10 2 75 2000 500 100 1000: about four minutes.  One lumaproxy
# (defaults but --access-log off and --log-level warn; so --idle-timeout
# 60 and --max-connections 4096) in front of tests/fakeup --completed,
# with a --media-dir holding a 100 MiB video mirrored from fakeup and
# 1,000 finished jobs (each a HIT once fetched).  wrk -t1 -c50 --latency
# asks for a random one of them for SECONDS.  Each of ROUNDS rounds:
#   before    the hits alone;
#   flood     the same hits while bench/flood.py holds, for HOLD seconds,
#             IDLE keep-alive connections (each asked /healthz once, then
#             silent), SLOW slowloris clients (a request head one byte a
#             second, never ended; one cut off connects again) and READERS
#             clients reading the video from /media/ at 10 KiB/s through a
#             4 KiB receive buffer;
#   leave     the flood clients close everything; the proxy's open files
#             are waited for (60 s at most) to come back to the round's
#             baseline;
#   after     the hits alone again, so that the flood run sits between
#             two unloaded ones (the machine's noise shows in their
#             difference; ratios are to their mean).
# The proxy's open files (/proc/PID/fd) and memory (VmRSS, VmHWM) are
# taken before, during (the peak of samples every 2 s) and after each
# flood.  Then a second lumaproxy on the same database with
# --max-connections LIMIT: LIMIT - 50 idle connections and wrk's 50 fill
# it; while wrk runs, 200 more idle clients and 10 clients asking again
# and again are each answered at once (503, connection closed); once the
# idle ones leave, the time until a new connection is served.  It prints
# markdown: ratios of the flood runs to the unloaded ones, CPU, memory, files,
# what the flood clients saw, and the command that reproduces it.
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-10}
rounds=${2:-2}
hold=${3:-75}
nidle=${4:-2000}
nslow=${5:-500}
nread=${6:-100}
limit=${7:-1000}
njobs=1000
conns=50
rate=10240
mib=100

. bench/lib.sh
lp=${LP:-$lp}
need wrk wrk
need python3 python3
need sqlite3 sqlite3
# Every client and every connection is a descriptor, here and in the proxy.
ulimit -n "$(ulimit -Hn)"
need_fds=$((nidle + nslow + 2 * nread + conns + 200))
if [ "$(ulimit -n)" -lt "$need_fds" ]; then
	echo "bench: $need_fds file descriptors needed, the limit is $(ulimit -n)" >&2
	exit 1
fi

flood="python3 bench/flood.py"
t_begin=$(date +%s)
tok=tok
auth="Authorization: Bearer $tok"
load0=$(cut -d' ' -f1-3 /proc/loadavg)
fds() { ls "/proc/$1/fd" | wc -l; }
mem() { awk '$1 == "VmRSS:" { r = $2 } $1 == "VmHWM:" { h = $2 }
    END { printf "%.1f %.1f", r / 1024, h / 1024 }' "/proc/$1/status"; }
now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }

# ------------------------------------------------------------ servers
start "$work/fakeup.log" tests/fakeup --completed; up=$port
upstream=http://127.0.0.1:$up
mkdir "$work/media"
pxstart() {
	start "$work/px.log" "$lp" -l 127.0.0.1:0 -u "$upstream" -d "$work/flood.db" \
	    --media-dir "$work/media" --access-log off --log-level warn "$@"
	px=$port
	pxpid=${pids[-1]}
}
pxstart
t_warm=$(now)

# The video: a completed job whose media fakeup serves, mirrored.
video="$upstream/media/flood/video.mp4?_size=$((mib * 1048576))"
curl -fsS -o /dev/null -X PUT --data-binary \
    "{\"jobid\":\"jflood\",\"type\":\"video\",\"status\":\"completed\",\"response\":{\"video\":{\"media_type\":\"video\",\"url\":\"$video\"}}}" \
    "$upstream/_fake/jobs/jflood?owner=$tok"
curl -fsS -o /dev/null -H "$auth" "http://127.0.0.1:$px/v1/luma/jobs/jflood"

# The warm set: jobs jh-0 .. jh-(njobs - 1), fetched once (a miss that
# stores), then mirrored (fakeup's small media files of each).
cat >"$work/seq.lua" <<'EOF'
local prefix, n, stop, i, got = "", 0, 0, 0, 0
function init(args)
	prefix, n, stop = args[1], tonumber(args[2]), tonumber(args[3])
	response = function()
		got = got + 1
		if got >= stop then os.exit(0) end
	end
end
function request()
	local k = i % n
	i = i + 1
	return wrk.format(nil, prefix .. k)
end
EOF
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
wrk -t1 -c"$conns" -d120s -H "$auth" -s "$work/seq.lua" "http://127.0.0.1:$px/" \
    -- /v1/luma/jobs/jh- "$njobs" $((njobs + 2 * conns)) >/dev/null
q() { sqlite3 -cmd '.timeout 5000' "$work/flood.db" "$1"; }
for _ in $(seq 1200); do
	[ "$(q "SELECT count(*) FROM media WHERE state != 'mirrored'")" = 0 ] && break
	sleep 0.1
done
vsha=$(q "SELECT sha256 FROM media WHERE url = '$video' AND state = 'mirrored'")
[ -n "$vsha" ] || { echo "bench: the video was not mirrored" >&2; exit 1; }
warm_s=$(since "$t_warm")
cached=$(q "SELECT count(*) FROM jobs")
mirrored=$(q "SELECT count(*) FROM media WHERE state = 'mirrored'")
hitbytes=$(curl -fsS -o /dev/null -w '%{size_header} %{size_download} %header{x-cache}' \
    -H "$auth" "http://127.0.0.1:$px/v1/luma/jobs/jh-0")
[ "${hitbytes##* }" = HIT ] || { echo "bench: jh-0 is no HIT ($hitbytes)" >&2; exit 1; }

# ------------------------------------------------------------ runs
# wrkrun PORT [SECONDS]: one hit run; prints "rps p99-us errors requests",
# errors as NON2XX/SOCKET (wrk's "Non-2xx" and "Socket errors" counts).
wrkrun() {
	wrk -t1 -c"$conns" -d"${2:-$secs}s" --latency -H "$auth" -s "$work/rand.lua" \
	    "http://127.0.0.1:$1/" -- /v1/luma/jobs/jh- "$njobs" >"$work/wrk.out" 2>&1
	awk '
	    function us(v) {
		if (v ~ /us$/) return v + 0
		if (v ~ /ms$/) return v * 1000
		if (v ~ /m$/) return v * 60e6
		return v * 1e6
	    }
	    / requests in / { n = $1 } /Requests\/sec/ { rps = $2 } / 99%/ { p99 = us($2) }
	    /Non-2xx/ { non2xx += $NF } /Socket errors/ { gsub(/,/, ""); sock += $4 + $6 + $8 + $10 }
	    END { printf "%.0f %.0f %d/%d %d\n", rps, p99, non2xx, sock, n }' "$work/wrk.out"
}

# wait_files N...: waits (120 s at most) until the files exist.
wait_files() {
	local f ok
	for _ in $(seq 1200); do
		ok=1
		for f in "$@"; do [ -e "$f" ] || ok=0; done
		[ "$ok" = 1 ] && return 0
		sleep 0.1
	done
	echo "bench: the flood clients did not get going" >&2
	exit 1
}

# settled PID: PID's open files once the count holds for 0.3 s (clients
# that just left have their sockets closed by then; 5 s at most).
settled() {
	local a b
	b=$(fds "$1")
	for _ in $(seq 17); do
		a=$b
		sleep 0.3
		b=$(fds "$1")
		[ "$a" = "$b" ] && break
	done
	echo "$b"
}

# back_to PID FDS: waits (60 s at most) until PID has FDS open files or
# fewer; prints the seconds it took, or "never".
back_to() {
	local t0
	t0=$(now)
	for _ in $(seq 600); do
		[ "$(fds "$1")" -le "$2" ] && { since "$t0"; return; }
		sleep 0.1
	done
	echo never
}

# peak PID SECONDS: samples files and memory every 2 s; prints the peaks
# and PID's CPU meanwhile: "fds rss hwm cpu-percent".
peak() {
	local pid=$1 end f m mf=0 mr=0 mh=0 c0 t0
	c0=$(cpu_ticks "$pid"); t0=$(now)
	end=$(($(date +%s) + $2))
	while [ "$(date +%s)" -lt "$end" ]; do
		f=$(fds "$pid"); m=$(mem "$pid")
		[ "$f" -gt "$mf" ] && mf=$f
		mr=$(awk -v a="$mr" -v b="${m% *}" 'BEGIN { print (b > a ? b : a) }')
		mh=${m#* }
		sleep 2
	done
	echo "$mf $mr $mh $(awk -v c=$(($(cpu_ticks "$pid") - c0)) -v t="$tick" \
	    -v s="$(since "$t0")" 'BEGIN { printf "%.1f", (s > 0 ? c / t / s * 100 : 0) }')"
}

# Every job asked once more: from here on hits are answered from memory.
wrkrun "$px" 3 >/dev/null
: >"$work/rounds"
for r in $(seq 1 "$rounds"); do
	rm -f "$work"/ready.* "$work"/sum.*
	base_fds=$(settled "$pxpid"); base_mem=$(mem "$pxpid")
	unloaded=$(wrkrun "$px")
	t0=$(now)
	$flood idle "$px" "$nidle" "$hold" --ready "$work/ready.idle" >"$work/sum.idle" &
	fi=$!
	$flood slowloris "$px" "$nslow" "$hold" --interval 1 --reconnect \
	    --ready "$work/ready.slow" >"$work/sum.slow" &
	fs=$!
	$flood slowread "$px" "/media/$vsha" "$nread" "$hold" --rate "$rate" --rcvbuf 4096 \
	    --sha256 "$vsha" --ready "$work/ready.read" >"$work/sum.read" &
	fr=$!
	pids+=("$fi" "$fs" "$fr")
	wait_files "$work/ready.idle" "$work/ready.slow" "$work/ready.read"
	setup=$(since "$t0")
	sleep 1
	during_fds=$(fds "$pxpid"); during_mem=$(mem "$pxpid")
	c0=$(( $(cpu_ticks "$fi") + $(cpu_ticks "$fs") + $(cpu_ticks "$fr") ))
	p0=$(cpu_ticks "$pxpid")
	loaded=$(wrkrun "$px")
	c1=$(( $(cpu_ticks "$fi") + $(cpu_ticks "$fs") + $(cpu_ticks "$fr") ))
	p1=$(cpu_ticks "$pxpid")
	after_fds=$(fds "$pxpid"); after_mem=$(mem "$pxpid")
	# The rest of the hold: the peaks, and the idle timeout at work.
	left=$(awk -v h="$hold" -v s="$(since "$t0")" 'BEGIN { printf "%d", h - s - 1 }')
	pk=$(peak "$pxpid" "$((left > 0 ? left : 0))")
	wait "$fi" "$fs" "$fr"
	gone=$(back_to "$pxpid" "$base_fds")
	sleep 1
	end_fds=$(fds "$pxpid"); end_mem=$(mem "$pxpid")
	unloaded2=$(wrkrun "$px")
	echo "$r|$unloaded $unloaded2|$loaded|$base_fds $base_mem|$during_fds $during_mem|$after_fds $after_mem|$pk|$end_fds $end_mem|$gone|$setup|$(( (c1 - c0) * 100 / tick / secs )) $(( (p1 - p0) * 100 / tick / secs ))|$(cat "$work/sum.idle")|$(cat "$work/sum.slow")|$(cat "$work/sum.read")" >>"$work/rounds"
done

# ------------------------------------------------------------ at the limit
kill "$pxpid"; wait "$pxpid" 2>/dev/null || true
pxstart --max-connections "$limit"
wrkrun "$px" 3 >/dev/null
lbase=$(settled "$pxpid")
lunloaded=$(wrkrun "$px")
rm -f "$work"/ready.*
$flood idle "$px" $((limit - conns)) 600 --ready "$work/ready.fill" >"$work/sum.fill" &
ff=$!
pids+=("$ff")
wait_files "$work/ready.fill"
# Swept: the fill's connections alone are open, besides the baseline.
for _ in $(seq 100); do
	[ "$(fds "$pxpid")" -le $((lbase + limit - conns)) ] && break
	sleep 0.1
done
wrkrun "$px" >"$work/lloaded" &
lw=$!
sleep 1
$flood idle "$px" 200 30 --ready "$work/ready.over" >"$work/sum.over" &
fo=$!
pids+=("$fo")
$flood get "$px" /v1/luma/jobs/jh-0 1000 --conns 10 -H "$auth" >"$work/sum.refused"
wait "$fo"
lfull=$(fds "$pxpid")
wait "$lw"
lloaded=$(cat "$work/lloaded")
kill "$ff"; wait "$ff" 2>/dev/null || true
t0=$(now)
for _ in $(seq 600); do
	[ "$(curl -s -o /dev/null -w '%{http_code}' -H "$auth" \
	    "http://127.0.0.1:$px/v1/luma/jobs/jh-0")" = 200 ] && break
	sleep 0.01
done
lback=$(since "$t0")
lgone=$(back_to "$pxpid" "$lbase")

# ------------------------------------------------------------ report
rev=$(git rev-parse --short HEAD 2>/dev/null || echo "?")
git diff --quiet HEAD -- src 2>/dev/null || rev="$rev with changes to src/"
[ -n "${LP:-}" ] && rev="$LP"
cat <<EOF
## bench/flood.sh $secs $rounds $hold $nidle $nslow $nread $limit

$(date -u +%Y-%m-%d), $(nproc) cores, Linux $(uname -r), load average $load0 at the start,
$(cut -d' ' -f1-3 /proc/loadavg) at the end. lumaproxy $rev; wrk $(wrk -v 2>&1 | awk 'NR == 1 { print $2 }')
with one thread and $conns connections; the flood clients are bench/flood.py (python3
asyncio, one process each kind); upstream \`tests/fakeup --completed\`.

- lumaproxy: \`--media-dir\`, \`--access-log off\`, \`--log-level warn\`, everything else as
  default (\`--idle-timeout\` 60, \`--max-connections\` 4096). $cached jobs cached, $mirrored
  media files mirrored (one of them the $mib MiB video), in $warm_s s. A hit is
  ${hitbytes%% *} + $(echo "$hitbytes" | cut -d' ' -f2) bytes (head + body), a random one of $njobs jobids.
- before and after: wrk alone, $secs s. flood: the same wrk run, started once all of $nidle idle
  keep-alive connections (each asked \`/healthz\` once), $nslow slowloris clients (one byte of
  a head a second, never ended; reconnecting when cut off) and $nread readers of the video
  ($rate bytes/s each, 4 KiB receive buffer) were in place, and 1 s later. The flood is
  held $hold s from its start, then every client closes; "after" runs once the proxy's
  open files are back to what they were before.
EOF
python3 - "$work/rounds" "$secs" "$hold" "$lunloaded" "$lloaded" "$lbase $lfull" \
    "$lback" "$lgone" "$limit" "$conns" "$work/sum.fill" "$work/sum.over" \
    "$work/sum.refused" <<'EOF'
import json, sys
rounds_f, secs, hold, lun, llo, lfds, lback, lgone, limit, conns = sys.argv[1:11]
fill, over, refused = (json.load(open(f)) for f in sys.argv[11:14])

def num(x): return "{:,.0f}".format(float(x))
def lat(us):
    us = float(us)
    return "%.2f ms" % (us / 1000) if us >= 1000 else "%.0f µs" % us
def ratio(a, b): return "%.2f" % (float(a) / float(b)) if float(b) else "-"
def span(d, keys=("min", "median", "max")):
    """'1.0 / 2.0 / 3.0' of a summary's {min, median, max}, or 'none'."""
    return " / ".join(str(d[k]) for k in keys if k in d) or "none"

rows = []
for line in open(rounds_f):
    f = line.rstrip("\n").split("|")
    r = dict(r=f[0], un=f[1].split(), lo=f[2].split(), base=f[3].split(),
             during=f[4].split(), after=f[5].split(), peak=f[6].split(),
             end=f[7].split(), gone=f[8], setup=f[9], cpu=f[10].split(),
             idle=json.loads(f[11]), slow=json.loads(f[12]), read=json.loads(f[13]))
    rows.append(r)

print("\n**cache hits, unloaded (before and after) and during the flood** (req/s; p99 "
      "from wrk --latency; ratios: flood over the mean of before and after)\n")
print("| round | req/s before | flood | after | ratio | p99 before | flood | after | ratio "
      "| non-2xx/socket errors (before; flood; after) |")
print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
for r in rows:
    u, l = r["un"], r["lo"]
    urps = (float(u[0]) + float(u[4])) / 2
    up99 = (float(u[1]) + float(u[5])) / 2
    print("| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s; %s; %s |" % (
        r["r"], num(u[0]), num(l[0]), num(u[4]), ratio(l[0], urps), lat(u[1]), lat(l[1]),
        lat(u[5]), ratio(l[1], up99), u[2], l[2], u[6]))
print("\nCPU during the flood run (percent of one core; round %s): lumaproxy %s, "
      "the three flood clients together %s." % (
          ", ".join(r["r"] for r in rows),
          ", ".join(r["cpu"][1] + "%" for r in rows),
          ", ".join(r["cpu"][0] + "%" for r in rows)))

print("\nCPU of lumaproxy while the flood alone held it (the rest of the hold, no hits): %s." % (
    ", ".join("%s%%" % r["peak"][3] for r in rows)))

print("\n**lumaproxy's open files and memory** (VmRSS / VmHWM in MB)\n")
print("| round | before | flood in place | after the wrk run | peak of the hold | after the clients left | files back to the baseline after |")
print("| --- | ---: | ---: | ---: | ---: | ---: | ---: |")
def fm(x): return "%s files, %s / %s" % (x[0], x[1], x[2])
for r in rows:
    print("| %s | %s | %s | %s | %s files, %s / %s | %s | %s |" % (
        r["r"], fm(r["base"]), fm(r["during"]), fm(r["after"]), r["peak"][0],
        r["peak"][1], r["peak"][2], fm(r["end"]),
        r["gone"] + " s" if r["gone"] != "never" else "never (60 s)"))

print("\n**what the flood clients saw** (bench/flood.py's summaries)\n")
for r in rows:
    i, s, d = r["idle"], r["slow"], r["read"]
    print("- round %s (all in place %s s after the first connect): idle: %d of %d answered %s, "
          "%d closed by the proxy (after %s s, min / max), %d still open at the end; "
          "slowloris: %d connections (%d connect failures), %d cut off by the proxy after "
          "%s s (min / median / max), what they got before: %s, %d open at the end; "
          "readers: %s, %d complete, %d cut off, %s bytes each (min / max), %d still "
          "reading at the end." % (
              r["r"], r["setup"], i["answers"], i["clients"], i["statuses"],
              i["closed_by_server"], span(i["closed_after_s"]), i["open_at_end"],
              s["connections"], s["connect_failed"], s["cut"], span(s["cut_after_s"]),
              s["answers"] or "nothing", s["open_at_end"], d["statuses"], d["complete"],
              d["cut"], " / ".join(num(d["bytes"][k]) for k in ("min", "max")),
              d["open_at_end"]))

lu, ll = lun.split(), llo.split()
b, full = lfds.split()
print("\n**at --max-connections %s**\n" % limit)
print("| | unloaded | %s idle + wrk's %s at the limit, refusals going on | ratio |" % (
    num(int(limit) - int(conns)), conns))
print("| --- | ---: | ---: | ---: |")
print("| req/s | %s | %s | %s |" % (num(lu[0]), num(ll[0]), ratio(ll[0], lu[0])))
print("| p99 | %s | %s | %s |" % (lat(lu[1]), lat(ll[1]), ratio(ll[1], lu[1])))
print("| wrk's non-2xx answers / socket errors | %s | %s | |" % (lu[2], ll[2]))
print("\n- the %d idle connections filling it: %s; %d closed by the proxy." % (
    fill["clients"], fill["statuses"], fill["closed_by_server"]))
print("- 200 more idle clients while full: %s, %d closed by the proxy, %d connect failures." % (
    over["statuses"], over["closed_by_server"], over["connect_failed"]))
print("- %d requests on %d connections (a new one after each answer): %s, %d without an answer." % (
    sum(refused["statuses"].values()) + refused["failed"], refused["clients"],
    refused["statuses"], refused["failed"]))
print("- open files: %s before, %s while full; once the idle ones left, a new connection "
      "was served after %s s and the files were back to the baseline after %s." % (
          b, full, lback, lgone + " s" if lgone != "never" else "never (60 s)"))
EOF
cat <<EOF

Reproduce: \`bench/flood.sh $secs $rounds $hold $nidle $nslow $nread $limit\` (as root, or with
\`ulimit -Hn\` of at least $need_fds); this run took $(( $(date +%s) - t_begin )) s.
EOF
