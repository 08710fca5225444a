#!/usr/bin/env bash
# Start-up time and disk size with many cached jobs, run by hand (never by
# make check):
#
#   bench/startup.sh [JOBS] [RUNS]
#
# Builds a database of JOBS finished jobs (default 100,000) with `lumaproxy
# import`, from export lines made up here: records of about 1 KB like the
# vendor's (video jobs with three media URLs, some images, some failed),
# granted to one token.  Then it prints the time the import took, the size
# of the database on disk (file and WAL, in all, per job, and per group of
# tables), and the time from starting `lumaproxy serve` to the first 200
# HIT for a job in the middle of the database: the median of RUNS starts
# (default 5) with the file in the page cache, plain and with --media-dir,
# the request sent in a tight loop from the moment the process is started
# (bash's /dev/tcp: no process is started per try); then the time a
# GET /metrics takes (it reports the cached jobs by status).
# With STARTUP_DB=FILE the database is kept in FILE, and a FILE that exists
# is used as it is (no import).  The media URLs are under .invalid, so that
# the mirror never reaches a real host.
set -euo pipefail
cd "$(dirname "$0")/.."
jobs=${1:-100000}
runs=${2:-5}

. bench/lib.sh
need sqlite3 sqlite3

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
now_us() { echo "${EPOCHREALTIME/./}"; }

tok=bench-token
tid=$(printf %s "$tok" | sha256sum | cut -d' ' -f1)
db=${STARTUP_DB:-$work/startup.db}

# Export lines of $1 finished jobs, ordered by jobid as export writes them;
# with a second argument, only the jobid of the last one.
gen() {
	python3 - "$1" "$tid" "${2:-}" <<'EOF'
import json, random, sys
n, tid, only_id = int(sys.argv[1]), sys.argv[2], sys.argv[3] != ""
rnd = random.Random(1)
for i in range(n):
    u = "%08x-%04x-%04x-%04x-%012x" % (i, rnd.getrandbits(16),
        rnd.getrandbits(16), rnd.getrandbits(16), rnd.getrandbits(48))
    kind = ("failed", "image", "video")[min(i % 20, 2)]
    typ = "image" if kind == "image" else "video"
    jobid = "j03261405%011d%s-u12345-email:user@example.com:%s-bot:luma" % (
        i, typ[0], u)
    if only_id:
        if i == n - 1:
            print(jobid)
        continue
    cdn = "https://storage.cdn-luma.invalid/dream_machine/" + u
    size = {"width": 1280, "height": 720}
    if kind == "failed":
        response = credits = None
    elif kind == "image":
        response = {"image": {"media_type": "image",
            "url": cdn + "/image.jpg", "width": 1024, "height": 1024}}
        credits = {"dm_usage": 5, "dm_relaxed_usage": None}
    else:
        response = {
            "video": {"media_type": "video", "url": cdn + "/video.mp4",
                **size, "duration": 5.04},
            "video_hdr_exr": None,
            "thumbnail": {"media_type": "image",
                "url": cdn + "/thumbnail.jpg", **size},
            "last_frame": {"media_type": "image",
                "url": cdn + "/last_frame.jpg", **size}}
        credits = {"dm_usage": 20, "dm_relaxed_usage": None}
    status = "failed" if kind == "failed" else "completed"
    body = json.dumps({"jobid": jobid, "type": typ, "status": status,
        "created": "2026-03-26T14:05:30.123Z",
        "updated": "2026-03-26T14:08:45.678Z",
        "response": response, "credits": credits}, indent=2) + "\n"
    sys.stdout.write(json.dumps({"jobid": jobid, "type": typ,
        "status": status, "fetched_at": "2026-03-26T14:08:46.000Z",
        "grants": [tid], "body": body}, separators=(",", ":")) + "\n")
EOF
}

printf 'jobs                %d\n' "$jobs"
if [ ! -e "$db" ]; then
	t0=$(now_us)
	gen "$jobs" | "$lp" import --db "$db" 2>"$work/import.err"
	t1=$(now_us)
	printf 'import              %.1f s (%.0f jobs/s)\n' \
	    "$(awk -v t=$((t1 - t0)) 'BEGIN { print t / 1e6 }')" \
	    "$(awk -v n="$jobs" -v t=$((t1 - t0)) 'BEGIN { print n / (t / 1e6) }')"
fi
size=$(( $(stat -c %s "$db") + $(stat -c %s "$db-wal" 2>/dev/null || echo 0) ))
printf 'database on disk    %.1f MB, %.0f bytes per job (page size %s)\n' \
    "$(awk -v s="$size" 'BEGIN { print s / 1e6 }')" \
    "$(awk -v s="$size" -v n="$jobs" 'BEGIN { print s / n }')" \
    "$(sqlite3 "$db" 'PRAGMA page_size')"
sqlite3 "$db" "SELECT CASE WHEN name IN ('jobs', 'grants') THEN name
    WHEN name LIKE '%media%' THEN 'media mirror'
    WHEN name LIKE '%jobs%' THEN 'jobs indexes' ELSE 'other' END AS g,
    sum(pgsize) FROM dbstat GROUP BY g ORDER BY 2 DESC" |
    awk -F'|' -v n="$jobs" '{ printf "  %-17s %7.1f MB, %5.0f bytes per job\n", $1, $2 / 1e6, $2 / n }'

# A job from the middle of the database.
path=/v1/luma/jobs/$(gen $((jobs / 2 + 1)) id)
start "$work/fakeup.log" tests/fakeup; up=$port
port=$(free_port)
mkdir -p "$work/media"

# One GET on a new connection; true when it is answered 200, its head in
# $reply.
ask() {
	local line
	{ exec 3<>"/dev/tcp/127.0.0.1/$port"; } 2>/dev/null || return 1
	printf 'GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer %s\r\nConnection: close\r\n\r\n' \
	    "$path" "$tok" >&3
	reply=""
	while IFS= read -r line <&3; do
		line=${line%$'\r'}
		[ -n "$line" ] || break
		reply+="$line"$'\n'
	done
	exec 3<&-
	[[ $reply == "HTTP/1.1 200"* ]]
}

# Starts lumaproxy with ARGS, asks for the job until it is answered 200
# HIT, stops it; prints the microseconds from the start to that answer.
first_hit() {
	local t0 t1 pid
	t0=$(now_us)
	"$lp" -l "127.0.0.1:$port" -u "http://127.0.0.1:$up" -d "$db" \
	    --access-log off --log-level error "$@" 2>"$work/px.log" &
	pid=$!
	until ask; do
		kill -0 "$pid" 2>/dev/null || { cat "$work/px.log" >&2; exit 1; }
	done
	t1=$(now_us)
	[[ $reply == *"X-Cache: HIT"* ]] || { echo "bench: not a HIT" >&2; exit 1; }
	kill "$pid"
	wait "$pid" || true
	echo $((t1 - t0))
}

# runs LABEL ARGS...: the median and range of RUNS starts.
runs() {
	local label=$1
	shift
	first_hit "$@" >/dev/null	# the file into the page cache, migrated
	for _ in $(seq "$runs"); do first_hit "$@"; done | sort -n >"$work/times"
	printf '%-19s %.1f ms (median of %d starts; min %.1f, max %.1f)\n' "$label" \
	    "$(awk '{ t[NR] = $1 } END { print t[int((NR + 1) / 2)] / 1000 }' "$work/times")" \
	    "$runs" "$(head -1 "$work/times" | awk '{ print $1 / 1000 }')" \
	    "$(tail -1 "$work/times" | awk '{ print $1 / 1000 }')"
}

runs "first HIT"
runs "... --media-dir" --media-dir "$work/media"

# What a Prometheus scrape costs (the cached jobs by status among it).
"$lp" -l "127.0.0.1:$port" -u "http://127.0.0.1:$up" -d "$db" \
    --access-log off --log-level error 2>"$work/px.log" &
pids+=($!)
until ask; do :; done
for _ in $(seq "$runs"); do
	curl -sS -o /dev/null -w '%{time_total}\n' "http://127.0.0.1:$port/metrics"
done | sort -n >"$work/times"
printf '%-19s %.1f ms (median of %d)\n' "GET /metrics" \
    "$(awk '{ t[NR] = $1 } END { print t[int((NR + 1) / 2)] * 1000 }' "$work/times")" "$runs"
