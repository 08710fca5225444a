#!/usr/bin/env bash
# Benchmarks of push instead of polling (SPEC 11), run by hand (never by
# make check):
#
#   bench/push.sh [CLIENTS] [JOBS] [WAITERS] [INTERVAL]
#
# On loopback against tests/fakeup, python3 (asyncio, raw HTTP/1.1) as the
# clients, --pending-interval INTERVAL (default 2):
#   (a) poll   CLIENTS clients follow each of JOBS jobs (CLIENTS x JOBS
#              followers, default 10 x 100) by polling every 250 ms on a
#              keep-alive connection (each starts at a random point of its
#              first 250 ms), until the job is completed;
#   (b) long   the same with long polls (Prefer: wait=60), asked again at
#              once after each answer that is not the finished record;
#   (c) sse    the same with event streams (Accept: text/event-stream),
#              read until the completed event (a stream dropped early is
#              opened again, and counted as another request).
#   Each job is scripted in fakeup to be pending for 2 to 10 fetches, then
#   processing for 0 to 4, then completed (the same random script, seed 1,
#   in each mode), so jobs finish at random times 4 to 30 s in.  For each
#   mode: client requests per job, upstream fetches per job (and the
#   least a poller at the interval could make: the fetch that saw it
#   completed is the last), and the staleness: the time from fakeup
#   answering the fetch that says completed (fakeup --demo logs each fetch
#   on stderr, stamped here as it comes) to each follower having the
#   completed record, p50, p99 and max; the proxy's CPU time.
#   (d) memory WAITERS long polls (wait=60), then WAITERS event streams,
#              spread over 100 jobs that never finish: the proxy's RSS with
#              them all waiting (lumaproxy_waiting_requests = WAITERS), less
#              its RSS before, per waiter; upstream fetches per job in 10 s
#              while they wait.
# Each mode runs on a fresh lumaproxy with its own database; access lines
# go to a file (--access-log PATH).  The file descriptor limit is raised to
# the hard limit for WAITERS connections (a few hundred more than WAITERS
# are needed).
set -euo pipefail
cd "$(dirname "$0")/.."
clients=${1:-10}
njobs=${2:-100}
waiters=${3:-10000}
interval=${4:-2}

. bench/lib.sh
need python3 python3

rss_kb() { awk '$1 == "VmRSS:" { print $2 }' "/proc/$1/status"; }

[ "$(ulimit -Hn)" = unlimited ] || ulimit -Sn "$(ulimit -Hn)"
if [ "$(ulimit -Sn)" != unlimited ] && [ "$(ulimit -Sn)" -lt $((waiters + 500)) ]; then
	echo "bench: $waiters waiters need $((waiters + 500)) file descriptors; the limit is $(ulimit -Sn)" >&2
	exit 1
fi

# fakeup --demo logs every fetch on stderr; each line is stamped as it comes.
cat >"$work/stamp.py" <<'EOF'
import sys, time
for line in iter(sys.stdin.buffer.readline, b""):
    sys.stdout.write("%.6f %s" % (time.time(), line.decode("latin-1")))
    sys.stdout.flush()
EOF
tests/fakeup --demo >"$work/fakeup.log" 2> >(python3 -u "$work/stamp.py" >"$work/fakeup.stamped") &
pids+=($!)
for _ in $(seq 100); do
	up=$(grep -o 'listening on 127.0.0.1:[0-9]*' "$work/fakeup.log" | cut -d: -f2 || true)
	[ -n "$up" ] && break
	sleep 0.05
done
[ -n "$up" ] || { echo "bench: fakeup did not start" >&2; exit 1; }
upstream=http://127.0.0.1:$up

cat >"$work/pb.py" <<'EOF'
"""The clients of bench/push.sh: script, follow, analyze, hold."""
import asyncio, json, random, re, sys, time

REC = ('{"jobid":"%s","type":"video","status":"%s","created":"2026-03-26T14:05:30.123Z",'
       '"updated":%s,"response":%s,"credits":%s}')
DONE_RESPONSE = ('{"video":{"media_type":"video","url":"https://storage.cdn-luma.com/%s/video.mp4",'
                 '"width":1280,"height":720,"duration":5.04},"video_hdr_exr":null,'
                 '"thumbnail":{"media_type":"image","url":"https://storage.cdn-luma.com/%s/thumbnail.jpg",'
                 '"width":1280,"height":720}}')
STATUS = re.compile(rb'"status"\s*:\s*"([a-z]+)"')


def status_of(body):
    m = STATUS.search(body)
    return m.group(1).decode() if m else None


def script(port, prefix, n, forever, out):
    """Scripts n jobs in fakeup; out: {jobid: fetch that says completed}."""
    import http.client
    rnd = random.Random(1)
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    plan = {}
    for i in range(n):
        j = "%s%04d" % (prefix, i)
        if forever:
            steps = [REC % (j, "pending", "null", "null", "null")]
        else:
            kp, kr = rnd.randint(2, 10), rnd.randint(0, 4)
            steps = [REC % (j, "pending", "null", "null", "null")] * kp
            steps += [REC % (j, "processing", '"2026-03-26T14:06:10.000Z"', "null", "null")] * kr
            steps.append(REC % (j, "completed", '"2026-03-26T14:08:45.678Z"',
                                DONE_RESPONSE % (j, j), '{"dm_usage":20,"dm_relaxed_usage":null}'))
            plan[j] = len(steps)
        for k, s in enumerate(steps):
            c.request("PUT" if k == 0 else "POST", "/_fake/jobs/%s?owner=bench" % j, body=s)
            r = c.getresponse()
            r.read()
            assert r.status == 200, r.status
    json.dump(plan, open(out, "w"))


def request(path, hdrs):
    return ("GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer bench\r\n%s\r\n"
            % (path, "".join(h + "\r\n" for h in hdrs))).encode()


async def read_head(r):
    head = await r.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    h = {}
    for l in lines[1:]:
        if ":" in l:
            k, v = l.split(":", 1)
            h[k.strip().lower()] = v.strip()
    return int(lines[0].split()[1]), h


async def read_answer(r):
    st, h = await read_head(r)
    if "content-length" in h:
        body = await r.readexactly(int(h["content-length"]))
    elif "chunked" in h.get("transfer-encoding", ""):
        body = b""
        while True:
            n = int((await r.readuntil(b"\r\n")).split(b";")[0], 16)
            if n == 0:
                await r.readuntil(b"\r\n")
                break
            body += await r.readexactly(n)
            await r.readexactly(2)
    else:
        body = await r.read()
    return st, h, body


async def follow_one(mode, port, job, sem, res):
    path = "/v1/luma/jobs/" + job
    n = 0
    if mode == "poll":
        await asyncio.sleep(random.random() * 0.25)
    while True:
        async with sem:
            r, w = await asyncio.open_connection("127.0.0.1", port)
        try:
            if mode == "sse":
                w.write(request(path, ["Accept: text/event-stream"]))
                n += 1
                st, h = await read_head(r)
                buf, data = b"", None
                while True:
                    size = int((await r.readuntil(b"\r\n")).split(b";")[0], 16)
                    if size == 0:
                        break
                    buf += await r.readexactly(size)
                    await r.readexactly(2)
                    while b"\n" in buf:
                        line, buf = buf.split(b"\n", 1)
                        if line.startswith(b"data: "):
                            data = (data or b"") + line[6:] + b"\n"
                        elif line == b"" and data is not None:
                            if status_of(data) in ("completed", "failed"):
                                res.append(dict(job=job, t=time.time(), n=n))
                                w.close()
                                return
                            data = None
                continue        # the stream ended early: open another
            hdrs = ["Prefer: wait=60"] if mode == "long" else []
            nxt = time.time()
            while True:
                w.write(request(path, hdrs))
                n += 1
                st, h, body = await read_answer(r)
                if st == 200 and status_of(body) in ("completed", "failed"):
                    res.append(dict(job=job, t=time.time(), n=n))
                    w.close()
                    return
                if mode == "poll":
                    nxt += 0.25
                    d = nxt - time.time()
                    if d > 0:
                        await asyncio.sleep(d)
                    else:
                        nxt = time.time()
        except (asyncio.IncompleteReadError, ConnectionError):
            w.close()


async def follow(mode, port, plan, clients, out):
    sem = asyncio.Semaphore(200)
    res = []
    t0 = time.time()
    await asyncio.gather(*[follow_one(mode, port, j, sem, res)
                           for j in plan for _ in range(clients)])
    json.dump(dict(t0=t0, t1=time.time(), followers=res), open(out, "w"))


def pct(v, p):
    v = sorted(v)
    return v[min(len(v) - 1, int(round(p / 100 * (len(v) - 1))))]


def analyze(mode, plan_f, stamped_f, follow_f, stats_f, cpu_s):
    plan = json.load(open(plan_f))
    fol = json.load(open(follow_f))
    done_at = {}
    pat = re.compile(r"^(\S+) fakeup: GET /v1/luma/jobs/(\S+) \(fetch (\d+) of this job and token\)")
    for line in open(stamped_f, encoding="latin-1"):
        m = pat.match(line)
        if m and m.group(2) in plan and int(m.group(3)) == plan[m.group(2)]:
            done_at.setdefault(m.group(2), float(m.group(1)))
    fetches = {}
    for line in open(stats_f):
        f = line.split()
        if f[0] == "job" and f[1] in plan and f[2] == "bench":
            fetches[f[1]] = int(f[3])
    st = [(x["t"] - done_at[x["job"]]) * 1000 for x in fol["followers"] if x["job"] in done_at]
    reqs = sum(x["n"] for x in fol["followers"])
    nj = len(plan)
    print("%-5s %9d %9.1f %9.2f %9.2f %8.0f %8.0f %8.0f %7.2f %6.1f" % (
        mode, len(fol["followers"]), reqs / nj, sum(fetches.values()) / nj,
        sum(plan.values()) / nj, pct(st, 50), pct(st, 99), max(st), cpu_s,
        fol["t1"] - fol["t0"]))
    if len(fol["followers"]) != nj * int(sys.argv[-1]) or len(done_at) != nj:
        print("warning: %d followers finished, %d jobs seen completed upstream"
              % (len(fol["followers"]), len(done_at)))


async def hold(mode, port, prefix, nj, n, ready):
    sem = asyncio.Semaphore(200)
    conns, left = [], [n]

    async def one(i):
        path = "/v1/luma/jobs/%s%04d" % (prefix, i % nj)
        async with sem:
            r, w = await asyncio.open_connection("127.0.0.1", port)
        w.write(request(path, ["Prefer: wait=60"] if mode == "long" else
                        ["Accept: text/event-stream"]))
        await w.drain()
        conns.append((r, w))
        left[0] -= 1
        if left[0] == 0:
            open(ready, "w").close()

    await asyncio.gather(*[one(i) for i in range(n)])
    await asyncio.sleep(3600)


cmd = sys.argv[1]
if cmd == "script":
    script(int(sys.argv[2]), sys.argv[3], int(sys.argv[4]), sys.argv[5] == "forever", sys.argv[6])
elif cmd == "follow":
    asyncio.run(follow(sys.argv[2], int(sys.argv[3]), json.load(open(sys.argv[4])),
                       int(sys.argv[5]), sys.argv[6]))
elif cmd == "analyze":
    analyze(*sys.argv[2:7], float(sys.argv[7]))
elif cmd == "hold":
    asyncio.run(hold(sys.argv[2], int(sys.argv[3]), sys.argv[4], int(sys.argv[5]),
                     int(sys.argv[6]), sys.argv[7]))
EOF
pb() { python3 "$work/pb.py" "$@"; }

# proxy NAME [OPTIONS...]: a fresh lumaproxy; sets px (port) and pxpid.
proxy() {
	local name=$1
	shift
	start "$work/$name.log" "$lp" -l 127.0.0.1:0 -u "$upstream" -d "$work/$name.db" \
	    --pending-interval "$interval" --access-log "$work/$name-access.log" "$@"
	px=$port
	pxpid=${pids[-1]}
}

# gauge PORT NAME: a sample of the proxy's /metrics.
gauge() {
	curl -fsS "http://127.0.0.1:$1/metrics" | awk -v n="$2" '$1 == n { print $2 }'
}

echo "(a-c) $clients clients x $njobs jobs, --pending-interval $interval; jobs finish on fetch 3 to 15"
printf '%-5s %9s %9s %9s %9s %8s %8s %8s %7s %6s\n' mode followers "req/job" "fetch/job" \
    "least" "p50 ms" "p99 ms" "max ms" "cpu s" "wall s"
for mode in poll long sse; do
	pb script "$up" "j$mode" "$njobs" finite "$work/$mode.plan"
	proxy "$mode"
	c0=$(cpu_ticks "$pxpid")
	pb follow "$mode" "$px" "$work/$mode.plan" "$clients" "$work/$mode.follow"
	c1=$(cpu_ticks "$pxpid")
	sleep 0.5	# the stamper catches up
	curl -fsS "$upstream/_fake/stats" >"$work/$mode.stats"
	pb analyze "$mode" "$work/$mode.plan" "$work/fakeup.stamped" "$work/$mode.follow" \
	    "$work/$mode.stats" "$(awk -v c=$((c1 - c0)) -v t="$tick" 'BEGIN { print c / t }')" "$clients"
	kill "$pxpid"
done
echo "  followers: that finished; req/job: client requests per job; fetch/job: upstream"
echo "  fetches per job; least: the fetch that says completed, on average; p50/p99/max:"
echo "  staleness, from fakeup answering that fetch to each follower having the record"

echo
echo "(d) $waiters waiters on 100 jobs that never finish, --pending-interval $interval"
printf '%-5s %8s %12s %12s %14s %16s\n' mode waiters "RSS before" "RSS waiting" "per waiter" "fetch/job/10 s"
for mode in long sse; do
	curl -fsS -o /dev/null -X POST "$upstream/_fake/reset"
	pb script "$up" "jm$mode" 100 forever "$work/m$mode.plan"
	proxy "m$mode" --max-connections $((waiters + 100))
	for i in $(seq 0 99); do
		curl -fsS -o /dev/null -H 'Authorization: Bearer bench' \
		    "http://127.0.0.1:$px/v1/luma/jobs/$(printf 'jm%s%04d' "$mode" "$i")"
	done
	r0=$(rss_kb "$pxpid")
	rm -f "$work/ready"
	# python itself in the background (not the pb function's subshell), so
	# that $! is the process to kill.
	python3 "$work/pb.py" hold "$mode" "$px" "jm$mode" 100 "$waiters" "$work/ready" &
	holder=$!
	pids+=("$holder")
	for _ in $(seq 600); do
		[ -e "$work/ready" ] && [ "$(gauge "$px" lumaproxy_waiting_requests)" = "$waiters" ] && break
		sleep 0.1
	done
	g=$(gauge "$px" lumaproxy_waiting_requests)
	f0=$(curl -fsS "$upstream/_fake/stats" | awk '$1 == "total" { print $2 }')
	sleep 10
	f1=$(curl -fsS "$upstream/_fake/stats" | awk '$1 == "total" { print $2 }')
	r1=$(rss_kb "$pxpid")
	awk -v m="$mode" -v g="$g" -v r0="$r0" -v r1="$r1" -v f0="$f0" -v f1="$f1" 'BEGIN {
	    printf "%-5s %8s %9.1f MB %9.1f MB %11.0f B %16.1f\n", m, g, r0 / 1024, r1 / 1024,
	        (r1 - r0) * 1024 / g, (f1 - f0) / 100 }'
	kill "$holder"
	wait "$holder" 2>/dev/null || true
	kill "$pxpid"
done
