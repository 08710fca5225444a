#!/usr/bin/env bash
# Connection floods, small: idle keep-alive connections, clients that send
# a request head a byte at a time (slowloris), clients that read a mirrored
# file slowly, while others ask for cache hits; then --max-connections
# reached.  What a user would notice: hits still answered right; the slow
# heads cut off by --idle-timeout; slow readers given the whole file
# however long it takes, one that stops reading cut off; at the limit a
# clean 503 while the connections in use keep working, and room again once
# some leave; every connection's descriptor closed after.  The clients are
# bench/flood.py's (the same as bench/flood.sh's, with fewer of each).
. "${TESTS_SRCDIR:-$(dirname "$0")}/lib.sh"

need_python
[ -d "/proc/$$/fd" ] || skip_all "no /proc/PID/fd to count open files"
FLOOD=${TESTS_SRCDIR:-$IT_DIR}/../bench/flood.py
[ -f "$FLOOD" ] || die "no $FLOOD"
# Each client is a descriptor here and one in the proxy.
ulimit -n "$(ulimit -Hn)" 2>/dev/null
[ "$(ulimit -n)" = unlimited ] || [ "$(ulimit -n)" -ge 1024 ] ||
	skip_all "the file descriptor limit is $(ulimit -n), 1024 are needed"

IDLE=2			# --idle-timeout while flooded, seconds
RUN=20			# the flood clients give up after this many seconds
SIZE=$((8 * 1048576))	# the media file; read at RATE it takes 8 s, 4 x IDLE
RATE=1048576

# The clients run as processes of their own ($! is the client, for kill).
FL=("$IT_PYTHON" "$FLOOD")

fds() {
	ls "/proc/$LP_PID/fd" 2>/dev/null | wc -l
}

fds_at_most() {
	[ "$(fds)" -le "$1" ]
}

# settled: the proxy's open files, once the count stays the same for 0.3 s
# (clients that just left have their sockets closed by then); 5 s at most.
settled() {
	local a b i
	b=$(fds)
	for i in $(seq 1 17); do
		a=$b
		sleep 0.3
		b=$(fds)
		[ "$a" = "$b" ] && break
	done
	echo "$b"
}

# warm: jhit asked until it is answered from memory (which also opens
# what that path keeps open).
warm() {
	local i
	for i in 1 2 3; do
		get jhit
	done
	check_cache HIT
}

# sum FILE KEY...: a flood.py summary's value (json_get -f).
sum() {
	local f=$1
	shift
	json_get -f "$f" "$@"
}

start_fakeup
MD=$IT_TMP/media
mkdir -p "$MD"
V="$FAKE/media/jflood/video.mp4?_size=$SIZE"
printf '{"jobid":"jflood","type":"video","status":"completed","response":{"video":{"media_type":"video","url":"%s"}}}' \
    "$V" >"$IT_TMP/jflood.json"
fake_job_file jflood "owner=tokA" "$IT_TMP/jflood.json"
job_record jhit completed >"$IT_TMP/jhit.json"
fake_job_file jhit "owner=tokA" "$IT_TMP/jhit.json"
curl -sS --max-time 10 -o "$IT_TMP/video" "$V" || die "fakeup did not serve $V"
VSHA=$(sha256_of "$IT_TMP/video")

tcase "set-up: a finished job cached, a $((SIZE / 1048576)) MiB video mirrored"
must_start_proxy --media-dir "$MD" --idle-timeout "$IDLE"
warm
get jflood
check_status 200
check "the video is mirrored" wait_for 20000 test -f "$MD/$VSHA"
http -I "$LP/media/$VSHA"
check_status 200
check_header Content-Length "$SIZE"
# What stays open with no client connected: the database's files,
# upstream's connections.
BASE=$(settled)
echo "# $BASE files open with no client"

tcase "the flood: 200 idle, 50 slow heads, 10 slow readers and one that stops"
"${FL[@]}" idle "$LP_PORT" 200 "$RUN" --ready "$IT_TMP/r.idle" >"$IT_TMP/idle.json" &
P_IDLE=$!
"${FL[@]}" slowloris "$LP_PORT" 50 "$RUN" --interval 0.2 --ready "$IT_TMP/r.slow" \
    >"$IT_TMP/slow.json" &
P_SLOW=$!
"${FL[@]}" slowread "$LP_PORT" "/media/$VSHA" 10 "$RUN" --rate "$RATE" --sha256 "$VSHA" \
    --ready "$IT_TMP/r.read" >"$IT_TMP/read.json" &
P_READ=$!
"${FL[@]}" slowread "$LP_PORT" "/media/$VSHA" 1 "$RUN" --rate "$RATE" --stall $((3 * IDLE)) \
    --sha256 "$VSHA" >"$IT_TMP/stall.json" &
P_STALL=$!
IT_PIDS+=("$P_IDLE" "$P_SLOW" "$P_READ" "$P_STALL")
check "every flood client connected" wait_for 10000 \
    test -e "$IT_TMP/r.idle" -a -e "$IT_TMP/r.slow" -a -e "$IT_TMP/r.read"

tcase "cache hits during the flood"
"${FL[@]}" get "$LP_PORT" /v1/luma/jobs/jhit 200 --conns 4 -H "Authorization: Bearer tokA" \
    >"$IT_TMP/hits.json"
check_eq "statuses" "$(sum "$IT_TMP/hits.json" statuses)" '{"200":200}'
check_eq "X-Cache" "$(sum "$IT_TMP/hits.json" x_cache)" '{"HIT":200}'
check_eq "bodies (by SHA-256)" "$(sum "$IT_TMP/hits.json" bodies)" \
    "{\"$(sha256_of "$IT_TMP/jhit.json")\":200}"
http "$LP/healthz"
check_status 200

tcase "the flood's end"
wait "$P_IDLE" "$P_SLOW" "$P_READ" "$P_STALL"
check_eq "idle connections answered" "$(sum "$IT_TMP/idle.json" statuses)" '{"200":200}'
check_eq "idle connections closed by the proxy (--idle-timeout)" \
    "$(sum "$IT_TMP/idle.json" closed_by_server)" 200
check_eq "slow heads: connections" "$(sum "$IT_TMP/slow.json" connections)" 50
check_eq "slow heads cut off by the proxy" "$(sum "$IT_TMP/slow.json" cut)" 50
check_eq "slow heads answered nothing" "$(sum "$IT_TMP/slow.json" answers)" '{"none":50}'
check_eq "slow readers: statuses" "$(sum "$IT_TMP/read.json" statuses)" '{"200":10}'
check_eq "slow readers with the whole file, its SHA-256 right" \
    "$(sum "$IT_TMP/read.json" complete)" 10
check_eq "slow readers cut off" "$(sum "$IT_TMP/read.json" cut)" 0
check_eq "the reader that stopped: cut off (--idle-timeout)" "$(sum "$IT_TMP/stall.json" cut)" 1
check "the proxy's open files back to $BASE" wait_for 10000 fds_at_most "$BASE"
echo "# $(fds) files open"
get jhit
check_cache HIT
stop_proxy
check_eq "exit status" "$LP_RC" 0

tcase "--max-connections 20: the 21st answered 503 at once, the 20 keep working"
must_start_proxy --max-connections 20 --idle-timeout 30
warm
BASE=$(settled)
echo "# $BASE files open with no client"
"${FL[@]}" idle "$LP_PORT" 20 "$RUN" --every 0.2 --path /v1/luma/jobs/jhit \
    -H "Authorization: Bearer tokA" --ready "$IT_TMP/r.full" >"$IT_TMP/full.json" &
P_FULL=$!
IT_PIDS+=("$P_FULL")
check "20 connections open" wait_for 10000 test -e "$IT_TMP/r.full"
get jhit
check_status 503
check_json_type
check_header Connection close
check_body '{"error":"Too many connections"}'
get jhit tokA -I
check_status 503
"${FL[@]}" get "$LP_PORT" /v1/luma/jobs/jhit 30 --conns 3 -H "Authorization: Bearer tokA" \
    >"$IT_TMP/refused.json"
check_eq "30 more requests, each on a new connection: statuses" \
    "$(sum "$IT_TMP/refused.json" statuses)" '{"503":30}'
check_eq "the refusals logged" "$(grep -c ' GET /v1/luma/jobs/jhit 503 ' "$LP_ERR")" 31
check_eq "said in the log, once" \
    "$(grep -c 'connections open (--max-connections), answering more with 503' "$LP_ERR")" 1
kill -TERM "$P_FULL"
wait "$P_FULL"
check_re "the 20 asked again and again: statuses" "$(sum "$IT_TMP/full.json" statuses)" \
    '^\{"200":[0-9]+\}$'
check_eq "none of the 20 closed by the proxy" "$(sum "$IT_TMP/full.json" closed_by_server)" 0
check_eq "all 20 open until they left" "$(sum "$IT_TMP/full.json" open_at_end)" 20

tcase "--max-connections 20: room again once they left"
# Until the proxy has seen them close, a new connection is still one too
# many.
check "the proxy's open files back to $BASE" wait_for 10000 fds_at_most "$BASE"
get jhit
check_status 200
check_cache HIT
stop_proxy
check_eq "exit status" "$LP_RC" 0

finish
