#!/usr/bin/env bash
# Benchmarks of the team gateway (SPEC 10), run by hand (never by make check):
#
#   bench/gateway.sh [SECONDS] [CONNECTIONS] [MEMBERS] [SUBMISSIONS] [ROUNDS]
#
# On loopback against tests/fakeup, wrk and python3 as the clients (wrk is
# installed from the distribution's packages when missing):
#   (a) hits   one finished job answered from the cache, a member key on a
#              gateway (--upstream-token-file) against a client's own token
#              on a plain lumaproxy, side by side: ROUNDS alternating wrk runs
#              of SECONDS each (-t1 -cCONNECTIONS); requests/s and the
#              server's CPU time per request (utime + stime from
#              /proc/PID/stat around each run), and the ratios.
#   (b) limits MEMBERS members with --max-running 3, each a client that
#              submits until it is refused (SUBMISSIONS accepted in all), then
#              polls each of its running jobs once, and again, until all
#              are completed (fakeup
#              finishes a job on its third fetch; --pending-interval 0, so
#              every poll is a fetch).  For each member: submissions
#              accepted and refused, polls, and the most running jobs at
#              once, seen by the client (accepted minus completed, which is
#              the proxy's own count) and by upstream (from fakeup's request
#              log, in the order it handled them).  Neither may exceed 3.
# Both servers write their access lines to a file (--access-log PATH) and
# run as one process with one event loop (lumaproxy has no workers).
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-10}
conns=${2:-50}
members=${3:-20}
nsubs=${4:-100}
rounds=${5:-3}

. bench/lib.sh
need wrk wrk
need python3 python3


start "$work/fakeup.log" tests/fakeup; up=$port
upstream=http://127.0.0.1:$up

tok="bench-held-$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')"
printf '%s\n' "$tok" >"$work/token"
chmod 600 "$work/token"

# done_job PORT TOKEN: submits a video job through the proxy and polls it
# until it is completed; prints its jobid.
done_job() {
	local j i b
	j=$(curl -fsS -X POST -H "Authorization: Bearer $2" --data-binary '{"prompt":"bench"}' \
	    "http://127.0.0.1:$1/v1/luma/videos" | sed -n 's/.*"jobid":"\([^"]*\)".*/\1/p')
	for i in 1 2 3 4 5; do
		b=$(curl -fsS -H "Authorization: Bearer $2" "http://127.0.0.1:$1/v1/luma/jobs/$j")
		case $b in *'"status": "completed"'*) echo "$j"; return 0 ;; esac
	done
	echo "bench: $j did not complete" >&2
	exit 1
}

# ---------------------------------------------------------------- (a)
member=$("$lp" keys --db "$work/gw.db" add bench 2>/dev/null)
start "$work/gw.log" "$lp" -l 127.0.0.1:0 -u "$upstream" -d "$work/gw.db" \
    --upstream-token-file "$work/token" --pending-interval 0 \
    --access-log "$work/gw-access.log"; gw=$port; gwpid=${pids[-1]}
start "$work/own.log" "$lp" -l 127.0.0.1:0 -u "$upstream" -d "$work/own.db" \
    --pending-interval 0 --access-log "$work/own-access.log"; own=$port; ownpid=${pids[-1]}
jgw=$(done_job "$gw" "$member")
jown=$(done_job "$own" tokOwn)
for w in "$gw:$member:$jgw" "$own:tokOwn:$jown"; do
	IFS=: read -r p k j <<<"$w"
	h=$(curl -fsS -o /dev/null -D - -H "Authorization: Bearer $k" "http://127.0.0.1:$p/v1/luma/jobs/$j")
	grep -qi '^x-cache: HIT' <<<"$h" || { echo "bench: $j is no cache hit on :$p" >&2; exit 1; }
done

# hits PORT PID KEY JOB: one wrk run; prints "req/s requests cpu-us/request non2xx".
hits() {
	local c0 c1
	c0=$(cpu_ticks "$2")
	wrk -t1 -c"$conns" -d"${secs}s" -H "Authorization: Bearer $3" \
	    "http://127.0.0.1:$1/v1/luma/jobs/$4" >"$work/wrk.out"
	c1=$(cpu_ticks "$2")
	awk -v c=$((c1 - c0)) -v tick="$tick" '
	    / requests in / { n = $1 } /Requests\/sec/ { rps = $2 }
	    /Non-2xx/ { bad = $NF }
	    END { printf "%s %d %.1f %d\n", rps, n, c / tick * 1e6 / n, bad }' "$work/wrk.out"
}

echo "(a) cache hits of one finished job, wrk -t1 -c$conns, ${secs}s a run"
printf '%-6s %-8s %12s %10s %14s %8s\n' round mode req/s requests "cpu us/req" non-2xx
: >"$work/a.txt"
for r in $(seq 1 "$rounds"); do
	for m in own gateway; do
		if [ "$m" = gateway ]; then set -- "$gw" "$gwpid" "$member" "$jgw"
		else set -- "$own" "$ownpid" tokOwn "$jown"; fi
		read -r rps n cpu bad < <(hits "$@")
		printf '%-6s %-8s %12s %10s %14s %8s\n' "$r" "$m" "$rps" "$n" "$cpu" "$bad"
		echo "$m $rps $cpu" >>"$work/a.txt"
	done
done
read -r orps ocpu grps gcpu < <(awk '
    { rps[$1] += $2; cpu[$1] += $3; n[$1]++ }
    END { printf "%.0f %.2f %.0f %.2f\n", rps["own"] / n["own"], cpu["own"] / n["own"],
        rps["gateway"] / n["gateway"], cpu["gateway"] / n["gateway"] }' "$work/a.txt")
printf '%-6s %-8s %12s %10s %14s\n' mean own "$orps" "" "$ocpu"
printf '%-6s %-8s %12s %10s %14s\n' mean gateway "$grps" "" "$gcpu"
printf 'gateway / own: req/s %s, cpu per request %s\n' "$(ratio "$grps" "$orps")" "$(ratio "$gcpu" "$ocpu")"
printf 'peak RSS: gateway %s, own %s\n' \
    "$(awk '/VmHWM/ { print $2 " " $3 }' "/proc/$gwpid/status")" \
    "$(awk '/VmHWM/ { print $2 " " $3 }' "/proc/$ownpid/status")"
kill "$gwpid" "$ownpid"

# ---------------------------------------------------------------- (b)
echo
echo "(b) $members members x $nsubs submissions, --max-running 3, --pending-interval 0"
for i in $(seq -w 1 "$members"); do
	printf 'm%s %s\n' "$i" "$("$lp" keys --db "$work/team.db" add "m$i" --max-running 3 2>/dev/null)"
done >"$work/members"
curl -fsS -o /dev/null -X POST "$upstream/_fake/reset"
start "$work/team.log" "$lp" -l 127.0.0.1:0 -u "$upstream" -d "$work/team.db" \
    --upstream-token-file "$work/token" --pending-interval 0 \
    --access-log "$work/team-access.log"; team=$port; teampid=${pids[-1]}
c0=$(cpu_ticks "$teampid")
python3 - "$team" "$upstream" "$work/members" "$nsubs" "$work/b.json" <<'EOF'
import http.client, json, sys, threading, time, urllib.request

port, upstream, members_file, nsubs, out = sys.argv[1:6]
port, nsubs = int(port), int(nsubs)
members = [l.split() for l in open(members_file) if l.strip()]
res, owner_of = {}, {}

def member(name, key):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    h = {"Authorization": "Bearer " + key, "Content-Type": "application/json"}
    def req(method, path, body=None):
        c.request(method, path, body=body, headers=h)
        r = c.getresponse()
        return r.status, r.read()
    r = dict(accepted=0, refused=0, other=0, polls=0, completed=0, max_running=0)
    running, attempt = set(), 0
    while r["accepted"] < nsubs or running:
        # Submits until the gateway refuses (or all are in), then polls.
        while r["accepted"] < nsubs:
            attempt += 1
            st, b = req("POST", "/v1/luma/videos?m=%s&n=%d" % (name, attempt), b'{"prompt":"bench"}')
            if st == 200:
                j = json.loads(b)["jobid"]
                owner_of[(name, attempt)] = j
                running.add(j)
                r["accepted"] += 1
                r["max_running"] = max(r["max_running"], len(running))
            elif st == 429:
                r["refused"] += 1
                break
            else:
                r["other"] += 1
                break
        for j in list(running):
            st, b = req("GET", "/v1/luma/jobs/" + j)
            r["polls"] += 1
            if st == 200 and json.loads(b)["status"] in ("completed", "failed"):
                running.discard(j)
                r["completed"] += 1
            elif st != 200:
                r["other"] += 1
    res[name] = r

t0 = time.time()
ts = [threading.Thread(target=member, args=(n, k)) for n, k in members]
for t in ts: t.start()
for t in ts: t.join()
wall = time.time() - t0

# Upstream's view: fakeup's request log in the order it handled requests.
log = urllib.request.urlopen(upstream + "/_fake/requests").read().decode().splitlines()
jobs = {j: n for (n, a), j in owner_of.items()}
up_run = {n: 0 for n, _ in members}
up_max = dict(up_run)
fetches, seen_subs = {}, 0
for line in log:
    uri = line.split(" ", 1)[1]
    if uri.startswith("/v1/luma/videos?"):
        q = dict(kv.split("=") for kv in uri.split("?", 1)[1].split("&"))
        seen_subs += 1
        n = q["m"]
        up_run[n] += 1
        up_max[n] = max(up_max[n], up_run[n])
    elif uri.startswith("/v1/luma/jobs/"):
        j = uri[len("/v1/luma/jobs/"):]
        fetches[j] = fetches.get(j, 0) + 1
        if fetches[j] == 3:
            up_run[jobs[j]] -= 1
for n in res:
    res[n]["upstream_max_running"] = up_max[n]
json.dump(dict(members=res, wall=wall, log_lines=len(log), log_submissions=seen_subs),
    open(out, "w"))
EOF
c1=$(cpu_ticks "$teampid")
kill "$teampid"
while kill -0 "$teampid" 2>/dev/null; do sleep 0.05; done
"$lp" usage --db "$work/team.db" --json >"$work/usage.json"
python3 - "$work/b.json" "$work/usage.json" "$((c1 - c0))" "$tick" <<'EOF'
import json, sys
b, u = json.load(open(sys.argv[1])), json.load(open(sys.argv[2]))
cpu = int(sys.argv[3]) / int(sys.argv[4])
usage = {m["name"]: m for m in u["members"]}
print("%-6s %8s %8s %6s %6s %10s %10s   %s" % ("member", "accepted", "refused", "polls",
    "other", "max(proxy)", "max(upstr)", "usage: submissions completed refused(max_running)"))
tot = dict(accepted=0, refused=0, polls=0, other=0)
worst = 0
for n in sorted(b["members"]):
    r = b["members"][n]
    m = usage.get(n, {})
    print("%-6s %8d %8d %6d %6d %10d %10d   %d %d %d" % (n, r["accepted"], r["refused"],
        r["polls"], r["other"], r["max_running"], r["upstream_max_running"],
        m.get("submissions", -1), m.get("completed", -1),
        m.get("refused", {}).get("max_running", -1)))
    for k in tot:
        tot[k] += r[k]
    worst = max(worst, r["max_running"], r["upstream_max_running"])
reqs = tot["accepted"] + tot["refused"] + tot["polls"] + tot["other"]
print("total  %8d %8d %6d %6d   most running at once: %d (limit 3) %s" % (tot["accepted"],
    tot["refused"], tot["polls"], tot["other"], worst, "OK" if worst <= 3 else "EXCEEDED"))
print("%d requests in %.1f s (%.0f/s); server CPU %.2f s (%.0f us a request); "
    "fakeup logged %d lines, %d submissions" % (reqs, b["wall"], reqs / b["wall"], cpu,
    cpu / reqs * 1e6, b["log_lines"], b["log_submissions"]))
if b["log_submissions"] != tot["accepted"]:
    print("warning: fakeup's log holds %d submissions, %d were accepted (log cut short?)"
        % (b["log_submissions"], tot["accepted"]))
sys.exit(0 if worst <= 3 else 1)
EOF
