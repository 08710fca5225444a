#!/usr/bin/env bash
# A disk that fails under a running proxy: faultio.so (LD_PRELOAD) makes
# the writes and syncs of the database, or of the media directory, fail
# with EIO or ENOSPC, then work again, while the proxy runs.  It keeps
# answering: HITs from what it has, misses relayed with upstream's bytes
# and "Cache-Status: ...; detail=store-failed"; one log line says when
# writes began to fail and one when they work again; /healthz answers 503
# in between; nothing committed is lost or damaged, and it stores again
# once the disk is back.  The media mirror pauses and resumes.
IT_LIMIT=${IT_LIMIT:-120}
. "${TESTS_SRCDIR:-$(dirname "$0")}/lib.sh"

need_cmd sqlite3
: "${FAULTIO:=$IT_DIR/faultio.so}"
if [ ! -f "$FAULTIO" ]; then
	echo "ERROR [$IT_NAME]: $FAULTIO is not built (make check builds it)" >&2
	exit 99
fi

CTL=$IT_TMP/faultio.ctl
FAULTS=$CTL.log
DB=$IT_TMP/lp.db
MD=$IT_TMP/media
mkdir -p "$MD"

# disk MODE [CALLS [AFTER [PREFIX...]]]: from now on faultio fails CALLS
# (write, sync, all) with MODE (eio, enospc; off: nothing) on the files
# under each PREFIX, once AFTER such calls have gone through.  With FREE
# set, statvfs(3) says FREE bytes are free under each PREFIX (DIR/ for
# DIR itself).
disk() {
	local mode=$1 calls=${2:-all} after=${3:-0} p
	shift $(($# < 3 ? $# : 3))
	{
		echo "$mode $calls $after${FREE:+ $FREE}"
		for p in "$@"; do echo "$p"; done
	} >"$CTL.tmp" && mv "$CTL.tmp" "$CTL"
}
disk off

# faults [REGEX]: failures faultio made so far (of calls matching REGEX).
faults() {
	local n
	n=$(grep -Ec -- "${1:-.}" "$FAULTS" 2>/dev/null)
	echo "${n:-0}"
}

# lumaproxy through faultio.  gcc's shared ASan runtime (a sanitized
# build) must come first among the preloaded libraries.
PRELOAD=$FAULTIO
ASAN_LIB=$(ldd "$LUMAPROXY" 2>/dev/null | awk '$1 ~ /^libasan/ { print $3 }')
[ -n "$ASAN_LIB" ] && PRELOAD=$ASAN_LIB:$FAULTIO
REAL_LUMAPROXY=$LUMAPROXY
LUMAPROXY=$IT_TMP/lumaproxy-faulty
printf '#!/usr/bin/env bash\nLD_PRELOAD=%q FAULTIO_CONTROL=%q exec %q "$@"\n' \
    "$PRELOAD" "$CTL" "$REAL_LUMAPROXY" >"$LUMAPROXY"
chmod +x "$LUMAPROXY"

# The shim must work here (glibc, dynamic linking), or nothing below means
# anything.
mkdir -p "$IT_TMP/probe"
disk eio write 0 "$IT_TMP/probe/"
if LD_PRELOAD=$FAULTIO FAULTIO_CONTROL=$CTL dd if=/dev/zero \
    of="$IT_TMP/probe/x" bs=1 count=1 2>/dev/null; then
	skip_all "LD_PRELOAD of faultio.so does not reach write(2) here"
fi
disk off
: >"$FAULTS"

# lines REGEX: lines of the proxy's log that match.
lines() {
	grep -Ec -- "$1" "$LP_ERR"
}

# has_line REGEX: whether a line of the proxy's log matches.
has_line() {
	grep -Eq -- "$1" "$LP_ERR"
}

# healthz_ok: whether /healthz answers 200 (wait_for it: once writes
# work again, the probe waits 10 s after the last failure).
healthz_ok() {
	http "$LP/healthz"
	[ "$STATUS" = 200 ]
}

# integrity FILE: what PRAGMA integrity_check says of the database.
integrity() {
	sqlite3 -cmd '.timeout 5000' "$1" 'PRAGMA integrity_check'
}

start_fakeup
for j in jdone1 jdone2 jdone3 jdone4 jdone5 jdone6 jdone7 jdone8 jhalf; do
	fake_job "$j" "owner=tokA" "$(job_completed "$j")"
done
fake_job jfail1 "owner=tokA" "$(job_record jfail1 failed)"
fake_job jpend1 "owner=tokA" "$(job_record jpend1 pending)"
fake_job jpend2 "owner=tokA" "$(job_record jpend2 pending)"
fake_job jgone "owner=tokA&status=404" '{"error":"Job not found"}'
must_start_proxy --pending-interval 1

tcase "before the fault: finished jobs are stored"
get jdone1
check_cache MISS
check_header Cache-Status "lumaproxy; fwd=miss; stored"
get jfail1
check_header Cache-Status "lumaproxy; fwd=miss; stored"
get jdone1
check_cache HIT
check_body "$(job_completed jdone1)"

tcase "database writes fail (EIO): hits are served, misses relayed unstored"
disk eio write 0 "$DB"
get jdone1
check_status 200
check_cache HIT
check_body "$(job_completed jdone1)"
get jfail1
check_cache HIT
check_body "$(job_record jfail1 failed)"
get jdone2
check_status 200
check_cache MISS
check_header Cache-Status "lumaproxy; fwd=miss; detail=store-failed"
check_body "$(job_completed jdone2)"
check_header_re ETag '^"[0-9a-f]+"$'
check_lt "faultio failed writes of the WAL" 0 "$(faults 'write.*lp\.db-wal EIO')"
get jdone2
check_cache MISS
check_header Cache-Status "lumaproxy; fwd=miss; detail=store-failed"
check_upstream jdone2 tokA 2
get jpend1
check_status 200
check_cache MISS
check_header Cache-Status "lumaproxy; fwd=miss; detail=store-failed"
check_body "$(job_record jpend1 pending)"
get jgone
check_status 404
check_header Cache-Status "lumaproxy; fwd=miss; detail=store-failed"
check_body '{"error":"Job not found"}'
check_eq "one error line for all of it" \
    "$(lines 'error cache: cannot write to the database .*lp\.db \(disk I/O error\)')" 1
check_eq "no line per job" "$(lines 'cannot (store|commit)')" 0

tcase "/healthz: 503 naming the cause while writes fail"
http "$LP/healthz"
check_status 503
check_json_type
check_body '{"error":"Database cannot be written: disk I/O error"}'
http "$LP/healthz"
check_status 503
check_eq "still one error line" "$(lines 'cannot write to the database')" 1

tcase "clients waiting on a miss whose commit fails are all answered"
fake_job jdone3 "owner=tokA&delay=1000" "$(job_completed jdone3)"
waiters=()
for i in 1 2 3; do
	curl -sS --max-time 10 -o "$IT_TMP/w$i.body" -D "$IT_TMP/w$i.hdrs" \
	    -H 'Authorization: Bearer tokA' "$LP/v1/luma/jobs/jdone3" &
	waiters+=($!)
	IT_PIDS+=($!)
	sleep 0.1
done
for p in "${waiters[@]}"; do
	wait "$p"
	_forget "$p"
done
for i in 1 2 3; do
	check "waiter $i got 200" grep -q '^HTTP/1.1 200' "$IT_TMP/w$i.hdrs"
	check "waiter $i: store-failed" grep -qi \
	    '^cache-status: lumaproxy; fwd=miss; detail=store-failed' "$IT_TMP/w$i.hdrs"
	check_eq "waiter $i: upstream's bytes" "$(cat "$IT_TMP/w$i.body")" "$(job_completed jdone3)"
done
check_upstream jdone3 tokA 1

tcase "the disk works again: /healthz's probe notices, jobs are stored again"
disk off
check "/healthz 200 again" wait_for 13000 healthz_ok
check_body '{"status":"ok"}'
check_eq "one line says so" "$(lines 'warn cache: the database .*lp\.db can be written again \([0-9]+ failed writes?\)')" 1
get jdone2
check_cache MISS
check_header Cache-Status "lumaproxy; fwd=miss; stored"
get jdone2
check_cache HIT
check_body "$(job_completed jdone2)"
check_upstream jdone2 tokA 3
get jdone3
check_cache MISS
check_header Cache-Status "lumaproxy; fwd=miss; stored"
get jdone3
check_cache HIT

tcase "a failed store leaves nothing behind: no transaction open, no row"
check_eq "jpend1 was never stored" \
    "$(sqlite3 -cmd '.timeout 5000' "$DB" "SELECT count(*) FROM jobs WHERE jobid = 'jpend1'")" 0
get jpend1
check_header Cache-Status "lumaproxy; fwd=miss; stored"
get jpend1
check_cache HIT

tcase "database full (ENOSPC): the next job's commit notices recovery"
disk enospc write 0 "$DB"
get jdone4
check_status 200
check_header Cache-Status "lumaproxy; fwd=miss; detail=store-failed"
check_body "$(job_completed jdone4)"
check_lt "faultio said ENOSPC" 0 "$(faults 'ENOSPC$')"
check_eq "one error line for it" \
    "$(lines 'cannot write to the database .*\(database or disk is full\)')" 1
http "$LP/healthz"
check_status 503
check_body '{"error":"Database cannot be written: database or disk is full"}'
get jdone1
check_cache HIT
check_body "$(job_completed jdone1)"
disk off
get jdone5
check_header Cache-Status "lumaproxy; fwd=miss; stored"
check_eq "the recovery is said" "$(lines 'can be written again')" 2
http "$LP/healthz"
check_status 200
get jdone4
check_header Cache-Status "lumaproxy; fwd=miss; stored"

tcase "syncs fail (EIO): a finished job's commit is synced, so it fails"
n0=$(faults 'fdatasync .*lp\.db-wal EIO')
disk eio sync 0 "$DB"
get jpend2
check_header Cache-Status "lumaproxy; fwd=miss; stored"
get jdone6
check_status 200
check_header Cache-Status "lumaproxy; fwd=miss; detail=store-failed"
check_body "$(job_completed jdone6)"
check_lt "faultio failed a sync of the WAL" "$n0" "$(faults 'fdatasync .*lp\.db-wal EIO')"
check_eq "said once more" "$(lines 'cannot write to the database .*\(disk I/O error\)')" 2
http "$LP/healthz"
check_status 503
check_body '{"error":"Database cannot be written: disk I/O error"}'
get jdone1
check_cache HIT
disk off
check "/healthz 200 again" wait_for 13000 healthz_ok
get jdone6
check_header Cache-Status "lumaproxy; fwd=miss; stored"

tcase "syncs fail (ENOSPC)"
n0=$(faults 'sync .*ENOSPC')
disk enospc sync 0 "$DB"
get jdone7
check_header Cache-Status "lumaproxy; fwd=miss; detail=store-failed"
check_body "$(job_completed jdone7)"
check_lt "faultio failed a sync" "$n0" "$(faults 'sync .*ENOSPC')"
http "$LP/healthz"
check_status 503
check_re "named" "$BODY" '^\{"error":"Database cannot be written: .+"\}$'
disk off
get jdone7
check_header Cache-Status "lumaproxy; fwd=miss; stored"
http "$LP/healthz"
check_status 200

tcase "a commit that fails halfway (its first WAL write went through)"
disk eio write 1 "$DB"
get jhalf
check_header Cache-Status "lumaproxy; fwd=miss; detail=store-failed"
disk off
get jdone8
check_header Cache-Status "lumaproxy; fwd=miss; stored"
get jhalf
check_header Cache-Status "lumaproxy; fwd=miss; stored"
get jhalf
check_cache HIT
check_body "$(job_completed jhalf)"

tcase "nothing lost, nothing damaged: after a restart every stored job is a HIT"
stop_proxy
check_eq "stopped cleanly" "$LP_RC" 0
check_eq "integrity_check" "$(integrity "$DB")" ok
must_start_proxy --pending-interval 1
for j in jdone1 jdone2 jdone3 jdone4 jdone5 jdone6 jdone7 jdone8 jhalf; do
	get "$j"
	check_cache HIT
	check_body "$(job_completed "$j")"
done
get jfail1
check_cache HIT
check_body "$(job_record jfail1 failed)"
stop_proxy

tcase "stopping while writes fail: a clean exit, the file intact"
must_start_proxy --pending-interval 1
fake_job jlast "owner=tokA" "$(job_completed jlast)"
disk eio all 0 "$DB"
get jlast
check_header Cache-Status "lumaproxy; fwd=miss; detail=store-failed"
stop_proxy
check_eq "exit status" "$LP_RC" 0
disk off
check_eq "integrity_check" "$(integrity "$DB")" ok
check_eq "jdone1 still there" \
    "$(sqlite3 "$DB" "SELECT count(*) FROM jobs WHERE jobid = 'jdone1'")" 1

# ------------------------------------------------- the polling budget
tcase "writes fail: an unfinished job is still fetched once per pending-interval"
fake_job jpoll "owner=tokA" "$(job_record jpoll pending)"
fake_job jneg "owner=tokA&status=404" '{"error":"Job not found"}'
must_start_proxy --pending-interval 5
disk eio write 0 "$DB"
get jpoll
check_status 200
check_cache MISS
check_header Cache-Status "lumaproxy; fwd=miss; detail=store-failed"
for i in 1 2 3 4; do
	get jpoll
	check_status 200
	check_cache HIT
	# From memory, not from the cache: it says so.
	check_header Cache-Status "lumaproxy; hit; detail=store-failed"
	check_header_re Retry-After '^[1-5]$'
	check_body "$(job_record jpoll pending)"
done
check_upstream jpoll tokA 1
get jneg
check_status 404
check_header Cache-Status "lumaproxy; fwd=miss; detail=store-failed"
get jneg
check_status 404
check_cache HIT
check_header Cache-Status "lumaproxy; hit; detail=store-failed"
check_body '{"error":"Job not found"}'
check_upstream jneg tokA 1
stop_proxy
disk off

tcase "writes fail: a negative answer kept in memory lasts negative-ttl, not the interval"
must_start_proxy --pending-interval 30 --negative-ttl 1
disk eio write 0 "$DB"
t0=$(now_ms)
get jneg
check_status 404
get jneg
check_cache HIT
check_upstream jneg tokA 2
# The interval (30 s) has not passed; negative-ttl (1 s) has.
sleep_until "$t0" 1100
get jneg
check_status 404
check_cache MISS
check_upstream jneg tokA 3
stop_proxy
disk off

tcase "writes fail, pending-mode reject: 429 within the interval, then stored"
must_start_proxy --pending-interval 2 --pending-mode reject
disk eio write 0 "$DB"
get jpoll
check_status 200
check_header Cache-Status "lumaproxy; fwd=miss; detail=store-failed"
t0=$(now_ms)
get jpoll
check_status 429
check_header_re Retry-After '^[12]$'
check_upstream jpoll tokA 2
disk off
sleep_until "$t0" 2100
get jpoll
check_status 200
check_header Cache-Status "lumaproxy; fwd=miss; stored"
get jpoll
check_status 429
check_upstream jpoll tokA 3
check_eq "jpoll is stored" \
    "$(sqlite3 -cmd '.timeout 5000' "$DB" "SELECT count(*) FROM jobs WHERE jobid = 'jpoll'")" 1
stop_proxy

# ------------------------------------------ the watch and the team gateway
# A member with --max-running 1 whose job finishes while the database
# cannot be written: the job no longer counts as running (SPEC 10: jobs
# not yet finished), and the background watch goes on fetching it, once
# per interval, until it can store it.
DB=$IT_TMP/gw.db
LP_DB=$DB
TOKFILE=$IT_TMP/held.token
HELDTOK=useapi-held-faults
printf '%s\n' "$HELDTOK" >"$TOKFILE"
chmod 600 "$TOKFILE"
MKEY=$("$REAL_LUMAPROXY" keys --db "$DB" add mel --max-running 1 2>"$IT_TMP/keys.err") ||
	die "keys add: $(cat "$IT_TMP/keys.err")"

# submit: a video submission as mel; JOB is the new jobid, or "".
submit() {
	JOB=""
	http -H "Authorization: Bearer $MKEY" -H "Content-Type: application/json" \
	    -X POST --data-binary '{"prompt":"x"}' "$LP/v1/luma/videos"
	[[ $BODY =~ \"jobid\":\"(j[^\"]*)\" ]] && JOB=${BASH_REMATCH[1]}
}

# stored_terminal JOBID: the job is in the cache, finished.
stored_terminal() {
	[ "$(sqlite3 -cmd '.timeout 5000' "$DB" \
	    "SELECT terminal FROM jobs WHERE jobid = '$1'")" = 1 ]
}

tcase "writes fail: a member's finished job no longer counts toward max-running"
must_start_proxy --upstream-token-file "$TOKFILE" --pending-interval 1
submit
check_status 200
WJOB=$JOB
check_re "a jobid" "$WJOB" '^j'
submit
check_status 429
check_re "max-running" "$BODY" 'max-running'
disk eio write 0 "$DB"
# fakeup completes a submitted job on its third fetch; the watch fetches
# once a second.
check "the watch fetched it finished" wait_for 8000 fetches_at_least "$WJOB" "$HELDTOK" 3
check_not "not stored" stored_terminal "$WJOB"
submit
check_status 200
check_re "a second job" "$JOB" '^j'

tcase "writes fail: the watch goes on with a finished job it could not store"
n=$(fake_count "$WJOB" "$HELDTOK")
check "fetched again" wait_for 4000 fetches_at_least "$WJOB" "$HELDTOK" $((n + 1))
check_not "still not stored" stored_terminal "$WJOB"

tcase "the disk works again: the watch stores the finished job, then stops"
disk off
check "stored" wait_for 5000 stored_terminal "$WJOB"
check_eq "its end is recorded for its owner" \
    "$(sqlite3 -cmd '.timeout 5000' "$DB" "SELECT status FROM job_owners WHERE jobid = '$WJOB'")" completed
n=$(fake_count "$WJOB" "$HELDTOK")
sleep 2.5
check_upstream "$WJOB" "$HELDTOK" "$n"
http -H "Authorization: Bearer $MKEY" "$LP/v1/luma/jobs/$WJOB"
check_status 200
check_cache HIT
stop_proxy
check_eq "exit status" "$LP_RC" 0

tcase "gateway traffic only: a usage write that fails says so, the sweep sees the end"
DB=$IT_TMP/gw-usage.db
LP_DB=$DB
printf 'tokA\n' >"$IT_TMP/usage.secret"
chmod 600 "$IT_TMP/usage.secret"
GWKEY=$("$REAL_LUMAPROXY" keys --db "$DB" add alice 2>"$IT_TMP/keys.err") ||
	die "keys add: $(cat "$IT_TMP/keys.err")"
must_start_proxy --upstream-token-file "$IT_TMP/usage.secret" --pending-interval 1
# A member's request, counted in its usage; nothing else is written.
get jgw "$GWKEY"
check_re "a member's request" "$STATUS" '^(403|404)$'
disk eio write 0 "$DB"
get jgw "$GWKEY"
check_re "another" "$STATUS" '^(403|404)$'
check "the usage write (every 10 s) fails, and says why" wait_for 15000 \
    has_line 'error cache: cannot write to the database .*gw-usage\.db \(disk I/O error\)'
http "$LP/healthz"
check_status 503
check_body '{"error":"Database cannot be written: disk I/O error"}'
check_eq "not said to be busy" "$(lines 'usage not written \(database busy\)')" 0
check_eq "said once" "$(lines 'cannot write to the database')" 1
disk off
check "the sweep's probe sees it end, with no /healthz" wait_for 15000 \
    has_line 'warn cache: the database .*gw-usage\.db can be written again'
http "$LP/healthz"
check_status 200
stop_proxy
check_eq "exit status" "$LP_RC" 0
check_eq "the usage was written" "$(sqlite3 -cmd '.timeout 5000' "$DB" 'SELECT sum(requests) FROM usage')" 2

# ---------------------------------------------------------------- media
# A database of its own, whose jobs' media are all on fakeup.
DB=$IT_TMP/media.db
LP_DB=$DB

# media_job JOBID URL: a completed job with one video at URL.
media_job() {
	printf '{"jobid":"%s","type":"video","status":"completed","response":{"video":{"media_type":"video","url":"%s"}}}' "$1" "$2"
}

media_field() {
	sqlite3 -cmd '.timeout 5000' "$DB" "SELECT $2 FROM media WHERE url = '$1'"
}

# media_is URL STATE: whether the media row of URL is in STATE.
media_is() {
	[ "$(media_field "$1" state)" = "$2" ]
}

no_partials() {
	[ -z "$(find "$MD" -name '.part-*' -print -quit)" ]
}

# more_faults N REGEX: faultio has failed more than N calls matching REGEX.
more_faults() {
	[ "$(faults "$2")" -gt "$1" ]
}

no_files() {
	[ -z "$(find "$MD" -type f -print -quit)" ]
}

tcase "media directory full (ENOSPC): the job is answered, no file, one line"
U1="$FAKE/media/jmed1/video.mp4?_size=200000"
fake_job jmed1 "owner=tokA" "$(media_job jmed1 "$U1")"
must_start_proxy --pending-interval 1 --media-dir "$MD"
disk enospc write 0 "$MD/"
get jmed1
check_status 200
check_header Cache-Status "lumaproxy; fwd=miss; stored"
check_body "$(media_job jmed1 "$U1")"
check "the download failed" wait_for 10000 media_is "$U1" failed
check_re "its reason" "$(media_field "$U1" reason)" '^writing: No space left on device$'
check_eq "not counted as an attempt" "$(media_field "$U1" attempts)" 0
check "no partial file left" no_partials
check "no file under a final name" no_files
check "the media URL in the answer still works (the CDN's)" \
    curl -sSf -o /dev/null "$U1"
check_eq "one error line" "$(lines "error media: cannot write to $MD \(writing: No space left on device\)")" 1
http "$LP/healthz"
check_status 200
check_body '{"status":"ok"}'
check "tried again after a pause" wait_for 6000 more_faults "$(faults "$MD")" "$MD"
check_eq "still one line" "$(lines 'media: cannot write to')" 1

tcase "the media directory works again: mirroring resumes"
disk off
check "mirrored" wait_for 12000 media_is "$U1" mirrored
sha=$(media_field "$U1" sha256)
check "the file holds the CDN's bytes" cmp -s "$MD/$sha" <(curl -sS "$U1")
check "no partial file left" no_partials
check_eq "the recovery is said" "$(lines "warn media: $MD can be written again")" 1
http "$LP/media/$sha"
check_status 200

tcase "media syncs fail (EIO): no file, then mirrored once they work"
U2="$FAKE/media/jmed2/video.mp4?_size=100000"
fake_job jmed2 "owner=tokA" "$(media_job jmed2 "$U2")"
disk eio sync 0 "$MD/"
get jmed2
check_status 200
check_body "$(media_job jmed2 "$U2")"
check "the download failed" wait_for 10000 media_is "$U2" failed
check_re "its reason" "$(media_field "$U2" reason)" '^cannot sync: Input/output error$'
check "no partial file left" no_partials
check_eq "only the first file is there" "$(find "$MD" -type f | wc -l)" 1
check_eq "said" "$(lines 'media: cannot write to .*\(cannot sync: Input/output error\)')" 1
disk off
check "mirrored" wait_for 12000 media_is "$U2" mirrored
check "the file holds the CDN's bytes" \
    cmp -s "$MD/$(media_field "$U2" sha256)" <(curl -sS "$U2")

tcase "media writes fail (EIO) and syncs fail (ENOSPC) too"
U3="$FAKE/media/jmed3/video.mp4?_size=50000"
U4="$FAKE/media/jmed4/video.mp4?_size=60000"
fake_job jmed3 "owner=tokA" "$(media_job jmed3 "$U3")"
fake_job jmed4 "owner=tokA" "$(media_job jmed4 "$U4")"
disk eio write 0 "$MD/"
get jmed3
check "failed" wait_for 10000 media_is "$U3" failed
check_re "reason" "$(media_field "$U3" reason)" '^writing: Input/output error$'
disk enospc sync 0 "$MD/"
get jmed4
check "failed" wait_for 10000 media_is "$U4" failed
check_re "reason" "$(media_field "$U4" reason)" '^cannot sync: No space left on device$'
check "no partial file left (once the retries in flight end)" wait_for 3000 no_partials
disk off
check "both mirrored" wait_for 20000 media_is "$U3" mirrored
check "both mirrored" wait_for 12000 media_is "$U4" mirrored
tcase "a file larger than the free space: the attempt counts, so its limit ends it"
U5="$FAKE/media/jmed5/video.mp4?_size=300000"
fake_job jmed5 "owner=tokA" "$(media_job jmed5 "$U5")"
n0=$(lines 'error media: cannot write to')
FREE=102400 disk enospc write 0 "$MD/"
get jmed5
check_status 200
check "failed" wait_for 10000 media_is "$U5" failed
check_re "its reason says why" "$(media_field "$U5" reason)" \
    '^writing: No space left on device; 300000 bytes do not fit in the 102400 free$'
check_eq "counted as an attempt" "$(media_field "$U5" attempts)" 1
check_eq "not the disk's failure" "$(lines 'error media: cannot write to')" "$n0"
check "no partial file left" wait_for 3000 no_partials
U6="$FAKE/media/jmed6/video.mp4?_size=300000&_chunked=1"
fake_job jmed6 "owner=tokA" "$(media_job jmed6 "$U6")"
FREE=100000000 disk enospc write 0 "$MD/"
get jmed6
check "failed" wait_for 10000 media_is "$U6" failed
check_eq "one that would fit is the disk's failure: not counted" \
    "$(media_field "$U6" attempts)" 0
disk off
check "mirrored once there is room" wait_for 12000 media_is "$U5" mirrored
check "mirrored once there is room" wait_for 60000 media_is "$U6" mirrored
stop_proxy
check_eq "integrity_check" "$(integrity "$DB")" ok

finish
