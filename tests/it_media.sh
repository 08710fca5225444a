#!/usr/bin/env bash
# SPEC 9: the media mirror.  fakeup is the CDN too: its /media/ route serves
# bytes, errors, HTML, slow and oversized bodies as each URL's query asks.
. "${TESTS_SRCDIR:-$(dirname "$0")}/lib.sh"

need_works jq jq -n true
need_works sqlite3 sqlite3 :memory: 'SELECT 1'
# Under AddressSanitizer freed memory would stay resident in its quarantine.
export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}quarantine_size_mb=0"
start_fakeup
DB=$IT_TMP/lp.db
MD=$IT_TMP/media
mkdir -p "$MD"

# media_record JOBID VIDEO [THUMBNAIL [LAST_FRAME]]: a completed video job
# whose media are at those URLs ("null": none), laid out as the vendor does.
media_record() {
	local t=null l=null
	[ "${3:-null}" = null ] ||
		t="{\"media_type\": \"image\", \"url\": \"$3\", \"width\": 1280}"
	[ "${4:-null}" = null ] ||
		l="{\"media_type\": \"image\", \"url\": \"$4\", \"width\": 1280}"
	printf '{\n  "jobid": "%s",\n  "type": "video",\n  "status": "completed",\n  "response": {\n    "video": {"media_type": "video", "url": "%s", "duration": 5.04},\n    "video_hdr_exr": null,\n    "thumbnail": %s,\n    "last_frame": %s\n  },\n  "credits": {"dm_usage": 20}\n}\n' \
	    "$1" "$2" "$t" "$l"
}

# media_q DB SQL: one query on a database a server may be writing.
media_q() {
	sqlite3 -cmd '.timeout 5000' "$1" "$2"
}

# media_field DB URL COLUMN: a column of URL's media row.
media_field() {
	media_q "$1" "SELECT $3 FROM media WHERE url = '$2'"
}

# field_is DB URL COLUMN VALUE: URL's row has it.
field_is() {
	[ "$(media_field "$1" "$2" "$3")" = "$4" ]
}

# wait_field DB URL COLUMN VALUE [SECONDS]: waits until URL's row has it.
wait_field() {
	wait_for $((${5:-10} * 1000)) field_is "$1" "$2" "$3" "$4"
}

# wait_media DB URL STATE [SECONDS]: waits until URL's row is in STATE.
wait_media() {
	wait_field "$1" "$2" state "$3" "${4:-10}"
}

# cdn_sha URL: the SHA-256 of what the CDN (fakeup) serves at URL.
cdn_sha() {
	curl -sS --max-time 10 "$1" | sha256sum | cut -c1-64
}

# cdn_hits PATH: requests fakeup got for /media/PATH.
cdn_hits() {
	curl -sS "$FAKE/_fake/stats" |
	    awk -v p="/media/$1" '$2 == p && $3 == "media" { n = $4 } END { print n + 0 }'
}

no_partials() {
	[ -z "$(find "$1" -name '.part-*' -print -quit)" ]
}

# downloading DIR: a download's partial file is in DIR (.part-N-XXXXXX; not
# the .part-probe-XXXXXX that the start makes and removes at once, before
# SIGTERM is handled).
downloading() {
	[ -n "$(find "$1" -name '.part-[0-9]*' -print -quit)" ]
}

V1="$FAKE/media/jm1/video.mp4?_size=300000"
T1="$FAKE/media/jm1/thumbnail.jpg?_size=5000"
L1="$FAKE/media/jm1/last_frame.jpg"
media_record jm1 "$V1" "$T1" "$L1" >"$IT_TMP/jm1.json"
fake_job_file jm1 "owner=tokA" "$IT_TMP/jm1.json"

tcase "a completed job's media are mirrored: file named by SHA-256, the CDN's bytes"
must_start_proxy --pending-interval 0 --media-dir "$MD"
get jm1
check_status 200
check_cache MISS
check_body_file "$IT_TMP/jm1.json"
for u in "$V1" "$T1" "$L1"; do
	check "mirrored: $u" wait_media "$DB" "$u" mirrored
done
check_eq "each URL was fetched once" \
    "$(curl -sS "$FAKE/_fake/stats" | awk '$3 == "media" { s += $4 } END { print s }')" 3
for u in "$V1" "$T1" "$L1"; do
	sha=$(cdn_sha "$u")
	check_eq "recorded SHA-256 of $u" "$(media_field "$DB" "$u" sha256)" "$sha"
	check "the file $MD/$sha holds the CDN's bytes" \
	    cmp -s "$MD/$sha" <(curl -sS "$u")
	check_eq "recorded size of $u" "$(media_field "$DB" "$u" size)" \
	    "$(stat -c %s "$MD/$sha")"
done
check_eq "Content-Type kept from the download" "$(media_field "$DB" "$V1" content_type)" video/mp4
check "no partial file left" no_partials "$MD"
VSHA=$(media_field "$DB" "$V1" sha256)
TSHA=$(media_field "$DB" "$T1" sha256)
get jm1
check_body_file "$IT_TMP/jm1.json"
ORIG_ETAG=$(header ETag)
"$LUMAPROXY" stats --db "$DB" --json >"$IT_TMP/stats.json"
check_eq "stats --json media" "$(jq -c .media "$IT_TMP/stats.json")" \
    '{"mirrored":3,"pending":0,"failed":0}'

tcase "GET /media/{sha256}: whole, first bytes, middle, suffix, past the end, HEAD"
http "$LP/media/$VSHA"
check_status 200
check "the whole file" cmp -s "$BODYF" "$MD/$VSHA"
check_header Content-Type video/mp4
check_header Content-Length 300000
check_header ETag "\"$VSHA\""
check_header Accept-Ranges bytes
check_header X-Content-Type-Options nosniff
check_header Content-Security-Policy sandbox
http -H 'Range: bytes=0-9' "$LP/media/$VSHA"
check_status 206
check_header Content-Range "bytes 0-9/300000"
check_header Content-Length 10
check_eq "first 10 bytes" "$BODY" "$(head -c 10 "$MD/$VSHA")"
http -H 'Range: bytes=150000-150099' "$LP/media/$VSHA"
check_status 206
check_header Content-Range "bytes 150000-150099/300000"
check_eq "100 bytes from the middle" "$BODY" "$(tail -c +150001 "$MD/$VSHA" | head -c 100)"
http -H 'Range: bytes=-7' "$LP/media/$VSHA"
check_status 206
check_header Content-Range "bytes 299993-299999/300000"
check_eq "the last 7 bytes" "$BODY" "$(tail -c 7 "$MD/$VSHA")"
http -H 'Range: bytes=299990-999999' "$LP/media/$VSHA"
check_status 206
check_header Content-Range "bytes 299990-299999/300000"
http -H 'Range: bytes=300000-' "$LP/media/$VSHA"
check_status 416
check_header Content-Range "bytes */300000"
check_json_type
check_no_header Cache-Control
http -H 'Range: bytes=-0' "$LP/media/$VSHA"
check_status 416
for r in 'bytes=0-1,5-6' 'bytes=abc' 'bytes=9-2' 'items=0-9' 'bytes 0-9'; do
	http -H "Range: $r" "$LP/media/$VSHA"
	check_status 200
	check_header Content-Length 300000
	check_no_header Content-Range
done
http -H 'Range: bytes=0-9' -H 'If-Range: "something else"' "$LP/media/$VSHA"
check_status 200
http -I "$LP/media/$VSHA"
check_status 200
check_header Content-Length 300000
check_header ETag "\"$VSHA\""
printf 'HEAD /media/%s HTTP/1.0\r\n\r\n' "$VSHA" | raw_http "$LP_PORT" "$IT_TMP/head.raw"
check_re "raw HEAD status line" "$(head -n 1 "$IT_TMP/head.raw")" '^HTTP/1\.[01] 200'
check_eq "HEAD: no body after the headers" \
    "$(awk 'found { print } /^\r?$/ { found = 1 }' "$IT_TMP/head.raw" | wc -c)" 0
http -H "If-None-Match: \"$VSHA\"" "$LP/media/$VSHA"
check_status 304
http -H "If-None-Match: \"$VSHA\"" -H 'Range: bytes=999999-' "$LP/media/$VSHA"
check_status 304
http -H "If-None-Match: \"${VSHA}x\"" "$LP/media/$VSHA"
check_status 200
http -H 'Range: bytes=0-4' "$LP/media/$TSHA"
check_status 206
check_header Content-Type image/jpeg
http -X POST "$LP/media/$VSHA"
check_status 405

tcase "names that are not 64 lowercase hex digits: 404 JSON, nothing outside the directory"
ln -s /etc/passwd "$MD/$(printf 'e%.0s' $(seq 64))"
cp "$DB" "$MD/$(printf 'd%.0s' $(seq 64)).db"
for name in .. ../lp.db %2e%2e%2flp.db "${VSHA^^}" "${VSHA:0:63}" "${VSHA}0" \
    "$VSHA.part" "$VSHA/x" "$(printf 'e%.0s' $(seq 64))" "" "%00" \
    "$(printf 'd%.0s' $(seq 64)).db"; do
	http --path-as-is "$LP/media/$name"
	check_status 404
	check_body '{"error":"Not found"}'
done
rm -f "$MD/$(printf 'e%.0s' $(seq 64))" "$MD/$(printf 'd%.0s' $(seq 64)).db"
scrape "$IT_TMP/m.txt"
check "requests under /media/ are counted as route=media" \
    grep -q 'lumaproxy_requests_total{route="media",status="206"' "$IT_TMP/m.txt"

tcase "a small file is answered from memory as from the disk, and never stale"
cp "$MD/$TSHA" "$IT_TMP/thumb.orig"
scrape "$IT_TMP/m0.txt"
for i in 1 2; do	# the second time from what was kept
	http "$LP/media/$TSHA"
	check_status 200
	check "the thumbnail's bytes ($i)" cmp -s "$BODYF" "$IT_TMP/thumb.orig"
	check_header Content-Type image/jpeg
	check_header Content-Length 5000
	check_header ETag "\"$TSHA\""
	check_header Accept-Ranges bytes
	check_header Cache-Control "public, max-age=31536000, immutable"
	check_header X-Content-Type-Options nosniff
	check_header Content-Security-Policy sandbox
	check_header_re Date ' GMT$'
done
http -I "$LP/media/$TSHA"
check_status 200
check_header Content-Length 5000
check_header Content-Type image/jpeg
# A HEAD then another request on the same connection: nothing in between.
printf 'HEAD /media/%s HTTP/1.1\r\nHost: lp\r\n\r\nGET /healthz HTTP/1.1\r\nHost: lp\r\nConnection: close\r\n\r\n' \
    "$TSHA" | raw_http "$LP_PORT" "$IT_TMP/head2.raw"
check_eq "HEAD: the next answer right after its headers" \
    "$(awk 'blank { print; exit } /^\r?$/ { blank = 1 }' "$IT_TMP/head2.raw" | tr -d '\r')" \
    "HTTP/1.1 200 OK"
http -H 'Range: bytes=0-4' "$LP/media/$TSHA"
check_status 206
check_eq "a range of a kept file" "$BODY" "$(head -c 5 "$IT_TMP/thumb.orig")"
scrape "$IT_TMP/m1.txt"
check_metric_delta "answers from memory" lumaproxy_requests_total \
    route=media,status=200 "$IT_TMP/m0.txt" "$IT_TMP/m1.txt" 4
check "and logged" grep -q "HEAD /media/$TSHA 200 " "$LP_ERR"
printf 'replaced' >"$IT_TMP/new.jpg"
mv "$IT_TMP/new.jpg" "$MD/$TSHA"
http "$LP/media/$TSHA"
check_status 200
check_body replaced
check_header Content-Length 8
printf 'rewritten where it was' >"$MD/$TSHA"
http "$LP/media/$TSHA"
check_body 'rewritten where it was'
check_header Content-Length 22
http -I "$LP/media/$TSHA"
check_header Content-Length 22
rm "$MD/$TSHA"
http "$LP/media/$TSHA"
check_status 404
check_body '{"error":"Not found"}'
cp "$IT_TMP/thumb.orig" "$MD/$TSHA"
http "$LP/media/$TSHA"
check_status 200
check "the thumbnail back" cmp -s "$BODYF" "$IT_TMP/thumb.orig"
stop_proxy

tcase "--rewrite-media-urls: answers link to the mirror; --public-url sets the base"
must_start_proxy --pending-interval 0 --media-dir "$MD" --rewrite-media-urls
get jm1
check_status 200
check_cache HIT
check_eq "video link" "$(jq -r .response.video.url "$BODYF")" "$LP/media/$VSHA"
check_eq "thumbnail link" "$(jq -r .response.thumbnail.url "$BODYF")" "$LP/media/$TSHA"
check_eq "everything else is upstream's" \
    "$(jq -cS 'del(.response[]?.url?)' "$BODYF")" \
    "$(jq -cS 'del(.response[]?.url?)' "$IT_TMP/jm1.json")"
etag=$(header ETag)
check_re "a strong ETag" "$etag" '^"[0-9a-f]{32}"$'
check_not "not the ETag of upstream's bytes" test "$etag" = "$ORIG_ETAG"
http "$(jq -r .response.video.url "$BODYF")"
check "the video link gives the CDN's bytes" cmp -s "$BODYF" <(curl -sS "$V1")
get jm1 tokA -H "If-None-Match: $etag"
check_status 304
stop_proxy
must_start_proxy --pending-interval 0 --media-dir "$MD" --rewrite-media-urls \
    --public-url https://media.example.com/lp/
get jm1
check_eq "link under --public-url" "$(jq -r .response.video.url "$BODYF")" \
    "https://media.example.com/lp/media/$VSHA"
stop_proxy

tcase "failures: an error status, HTML, too large (announced or not): recorded, job unchanged"
V2="$FAKE/media/jm2/video.mp4?_status=404&_size=20"
T2="$FAKE/media/jm2/thumbnail.jpg?_type=text/html;%20charset=utf-8&_size=300"
L2="$FAKE/media/jm2/last_frame.jpg?_size=200000"
V3="$FAKE/media/jm3/video.mp4?_size=200000&_nolength=1"
T3="$FAKE/media/jm3/thumbnail.jpg?_size=5000&_cut=100"
L3="$FAKE/media/jm3/last_frame.jpg?_size=0"
media_record jm2 "$V2" "$T2" "$L2" >"$IT_TMP/jm2.json"
media_record jm3 "$V3" "$T3" "$L3" >"$IT_TMP/jm3.json"
fake_job_file jm2 "owner=tokA" "$IT_TMP/jm2.json"
fake_job_file jm3 "owner=tokA" "$IT_TMP/jm3.json"
must_start_proxy --pending-interval 0 --media-dir "$MD" --max-media-bytes 100000
get jm2
check_body_file "$IT_TMP/jm2.json"
get jm3
check_body_file "$IT_TMP/jm3.json"
for u in "$V2" "$T2" "$L2" "$V3" "$T3" "$L3"; do
	check "failed: $u" wait_media "$DB" "$u" failed
done
check_re "reason for a body cut short" "$(media_field "$DB" "$T3" reason)" '^unreachable: '
check_eq "reason for an empty body" "$(media_field "$DB" "$L3" reason)" "empty answer"
check_eq "reason for the 404" "$(media_field "$DB" "$V2" reason)" "HTTP 404"
check_eq "reason for HTML" "$(media_field "$DB" "$T2" reason)" "answered HTML, not media"
check_re "reason for an announced 200000 bytes" "$(media_field "$DB" "$L2" reason)" \
    '^larger than max-media-bytes'
check_re "reason for 200000 bytes without a length" "$(media_field "$DB" "$V3" reason)" \
    '^larger than max-media-bytes'
check_eq "first retry 2 s later (within 5 s)" \
    "$(media_field "$DB" "$V2" 'next_at - updated_at')" 2000
check "no partial file left" no_partials "$MD"
get jm2
check_status 200
check_cache HIT
check_body_file "$IT_TMP/jm2.json"
"$LUMAPROXY" stats --db "$DB" --json >"$IT_TMP/stats.json"
check_eq "stats counts them as failed" "$(jq .media.failed "$IT_TMP/stats.json")" 6
check "the 404 is tried again after its back-off" wait_field "$DB" "$V2" attempts 2 5
check_eq "the next wait doubles" "$(media_field "$DB" "$V2" 'next_at - updated_at')" 4000
stop_proxy

tcase "a download that fails once is retried and mirrored"
V4="$FAKE/media/jm4/video.mp4?_size=1000&_fail=1"
media_record jm4 "$V4" >"$IT_TMP/jm4.json"
fake_job_file jm4 "owner=tokA" "$IT_TMP/jm4.json"
must_start_proxy --pending-interval 0 --media-dir "$MD"
get jm4
check "mirrored after one retry" wait_media "$DB" "$V4" mirrored 8
check_eq "attempts" "$(media_field "$DB" "$V4" attempts)" 2
check "the first failure is in the log" grep -q 'media: .*jm4/video.mp4?... failed (HTTP 503), attempt 1 of 6; retrying in 2 s' "$LP_ERR"
check_not "the signed query of a media URL is not logged" grep -q '_fail=1' "$LP_ERR"
stop_proxy

tcase "at most --media-concurrency downloads at once"
fake_reset
for j in jc1 jc2; do
	media_record $j "$FAKE/media/$j/v.mp4?_size=2000&_delay=400" \
	    "$FAKE/media/$j/t.jpg?_size=2001&_delay=400" \
	    "$FAKE/media/$j/l.jpg?_size=2002&_delay=400" >"$IT_TMP/$j.json"
	fake_job_file $j "owner=tokA" "$IT_TMP/$j.json"
done
must_start_proxy --pending-interval 0 --media-dir "$MD" --media-concurrency 2
get jc1
get jc2
check "all six mirrored" wait_media "$DB" "$FAKE/media/jc2/l.jpg?_size=2002&_delay=400" mirrored 15
for j in jc1 jc2; do
	for f in v.mp4 t.jpg; do
		check "$j/$f mirrored" wait_media "$DB" \
		    "$(jq -r ".response | to_entries[] | .value.url? // empty | select(test(\"$f\"))" "$IT_TMP/$j.json")" mirrored 5
	done
done
check_eq "downloads at once, at most" \
    "$(curl -sS "$FAKE/_fake/stats" | awk '$1 == "media_active_max" { print $2 }')" 2
stop_proxy

tcase "a 40 MiB video goes through the writer thread whole, in bounded memory"
VB="$FAKE/media/jbig/video.mp4?_size=41943040"
media_record jbig "$VB" >"$IT_TMP/jbig.json"
fake_job_file jbig "owner=tokA" "$IT_TMP/jbig.json"
must_start_proxy --pending-interval 0 --media-dir "$MD"
hwm0=$(vm_hwm_kb "$LP_PID")
get jbig
check "mirrored" wait_media "$DB" "$VB" mirrored 30
check_eq "its SHA-256 is the CDN's" "$(media_field "$DB" "$VB" sha256)" "$(cdn_sha "$VB")"
check_eq "its size" "$(media_field "$DB" "$VB" size)" 41943040
hwm1=$(vm_hwm_kb "$LP_PID")
if wrapped; then
	skip "peak memory" "$WRAPPED"
else
	echo "# peak memory grew by $((hwm1 - hwm0)) kB while mirroring 40 MiB"
	check "peak memory grew by less than 12 MiB (the writer's queue is 4 MiB)" \
	    test $((hwm1 - hwm0)) -lt 12288
fi
stop_proxy

tcase "a restart resumes an unfinished download; a crash's partial file is removed"
V5="$FAKE/media/jm5/video.mp4?_size=50000&_delay=1500"
media_record jm5 "$V5" >"$IT_TMP/jm5.json"
fake_job_file jm5 "owner=tokA" "$IT_TMP/jm5.json"
V5SHA=$(cdn_sha "$V5")
must_start_proxy --pending-interval 0 --media-dir "$MD"
get jm5
wait_for 15000 downloading "$MD"
check "the download has started (a partial file)" downloading "$MD"
check_not "nothing under the final name while it downloads" test -e "$MD/$V5SHA"
stop_proxy TERM
check_eq "stopped cleanly" "$LP_RC" 0
check "SIGTERM: the partial file is removed" no_partials "$MD"
check_eq "the URL is still due" "$(media_field "$DB" "$V5" state)" pending
must_start_proxy --pending-interval 0 --media-dir "$MD"
wait_for 15000 downloading "$MD"
stop_proxy KILL
check_not "kill -9: a partial file is left behind" no_partials "$MD"
must_start_proxy --pending-interval 0 --media-dir "$MD"
check "mirrored after the restart" wait_media "$DB" "$V5" mirrored 10
check "the crash's partial file is gone" no_partials "$MD"
check "the log says so" grep -q 'media: removed the partial file' "$LP_ERR"
check "the bytes are the CDN's" cmp -s "$MD/$(media_field "$DB" "$V5" sha256)" <(curl -sS "$V5")
stop_proxy

tcase "a partial file is removed at start when no process writes it, whatever its PID says"
# A crashed writer's PID may belong to another live process by the next
# start (fakeup's here), and a live writer in another PID namespace has a
# PID that says nothing here (a dead one's here).  flock(1) stands in for
# such a writer: writers hold a lock on their partial file.
true &
dead=$!
wait "$dead"
printf 'partial' >"$MD/.part-$FAKE_PID-AAAAAA"
printf 'partial' >"$MD/.part-$dead-BBBBBB"
if command -v flock >/dev/null; then
	flock "$MD/.part-$dead-BBBBBB" -c "echo held; exec sleep $IT_LIMIT" \
	    >"$IT_TMP/held.out" 2>&1 &
	holder=$!
	IT_PIDS+=("$holder")
	wait_line "$IT_TMP/held.out" '^held$' "$holder" >/dev/null
fi
must_start_proxy --pending-interval 0 --media-dir "$MD"
check_not "the file of a PID another process has now is removed" \
    test -e "$MD/.part-$FAKE_PID-AAAAAA"
check "the log says so" grep -q "media: removed the partial file .*/.part-$FAKE_PID-AAAAAA" "$LP_ERR"
if command -v flock >/dev/null; then
	check "a file a live process holds is kept" test -e "$MD/.part-$dead-BBBBBB"
	kill "$holder"
	wait "$holder" 2>/dev/null
	_forget "$holder"
else
	skip "a file a live process holds is kept" "flock is not installed"
fi
stop_proxy
rm -f "$MD/.part-$dead-BBBBBB"

tcase "disk full while downloading: partial file removed, failure recorded, serving goes on"
V6="$FAKE/media/jm6/video.mp4?_size=3000000"
media_record jm6 "$V6" >"$IT_TMP/jm6.json"
fake_job_file jm6 "owner=tokA" "$IT_TMP/jm6.json"
# A file size limit of 1 MiB stands in for a full disk: write(2) fails.
ulimit -S -f 1024
must_start_proxy --pending-interval 0 --media-dir "$MD"
ulimit -S -f unlimited
get jm6
check "failed" wait_media "$DB" "$V6" failed
check_re "reason" "$(media_field "$DB" "$V6" reason)" '^writing: File too large'
check "no partial file left" no_partials "$MD"
check "the server is alive" kill -0 "$LP_PID"
get jm6
check_status 200
check_cache HIT
http "$LP/healthz"
check_status 200
stop_proxy

tcase "--media-dir that is missing or not a directory: a clear error at start"
run_proxy_fail -l 127.0.0.1:0 -d "$IT_TMP/none.db" --media-dir "$IT_TMP/nope"
check_eq "exit status" "$RUN_RC" 1
check_eq "message" "$(cat "$RUN_ERR")" \
    "lumaproxy: media directory $IT_TMP/nope: No such file or directory"
check_not "no database created" test -e "$IT_TMP/none.db"
run_proxy_fail -l 127.0.0.1:0 -d "$IT_TMP/none.db" --media-dir "$DB"
check_eq "a file: exit status" "$RUN_RC" 1
check_eq "a file: message" "$(cat "$RUN_ERR")" \
    "lumaproxy: media directory $DB: not a directory"
if [ "$(id -u)" != 0 ]; then
	mkdir "$IT_TMP/ro" && chmod 555 "$IT_TMP/ro"
	run_proxy_fail -l 127.0.0.1:0 -d "$IT_TMP/none.db" --media-dir "$IT_TMP/ro"
	check_re "not writable" "$(cat "$RUN_ERR")" 'is not writable: Permission denied'
fi

tcase "lumaproxy mirror: downloads what is missing, then sums up"
DB2=$IT_TMP/m2.db
MD2=$IT_TMP/media2
mkdir -p "$MD2"
fake_job_file jm1 "owner=tokA" "$IT_TMP/jm1.json"
fake_job_file jm4 "owner=tokA" "$IT_TMP/jm4.json"
LP_DB=$DB2 must_start_proxy --pending-interval 0
get jm1
get jm4
V7="$FAKE/media/jm7/video.mp4?_status=500&_size=10"
media_record jm7 "$V7" >"$IT_TMP/jm7.json"
fake_job_file jm7 "owner=tokA" "$IT_TMP/jm7.json"
get jm7
stop_proxy
"$LUMAPROXY" export --db "$DB2" --media >"$IT_TMP/x1.jsonl"
check_eq "export --media before any mirror: the URLs, nothing known of them" \
    "$(jq -c 'select(.jobid == "jm1") | [.media[] | [.url, .sha256, .size]]' "$IT_TMP/x1.jsonl")" \
    "[[\"$L1\",null,null],[\"$T1\",null,null],[\"$V1\",null,null]]"
"$LUMAPROXY" import --db "$IT_TMP/x.db" <"$IT_TMP/x1.jsonl" 2>/dev/null
check "... and it survives import | export" \
    cmp -s "$IT_TMP/x1.jsonl" <("$LUMAPROXY" export --db "$IT_TMP/x.db" --media)
"$LUMAPROXY" mirror --db "$DB2" --media-dir "$MD2" >"$IT_TMP/mirror.out" 2>"$IT_TMP/mirror.err"
check_eq "exit status 1: one failed" "$?" 1
# jm4's video fails its first request (_fail=1): tried again, it comes.
check_eq "summary" "$(cat "$IT_TMP/mirror.out")" \
    "5 media URLs: 4 mirrored, 0 already present, 1 failed"
check "the failure and its reason" grep -q 'jm7/video.mp4?... failed (HTTP 500)$' "$IT_TMP/mirror.err"
check "a failure is tried again" grep -q 'jm4/video.mp4?... failed (HTTP 503); trying again in 1 s' "$IT_TMP/mirror.err"
check_eq "jm7's video was tried three times" "$(cdn_hits jm7/video.mp4)" 3
check "progress as plain lines off a terminal" grep -q 'mirror: 5/5 media' "$IT_TMP/mirror.err"
check "the video is there" cmp -s "$MD2/$VSHA" "$MD/$VSHA"
"$LUMAPROXY" mirror --db "$DB2" --media-dir "$MD2" >"$IT_TMP/mirror.out" 2>&1
check_eq "again: the rest is there" "$(tail -1 "$IT_TMP/mirror.out")" \
    "5 media URLs: 0 mirrored, 4 already present, 1 failed"
TTY_CHECK="on a terminal the progress line is redrawn in place"
# util-linux's script runs the mirror on a pseudo-terminal.  Probed as it is
# used: a system can have script and no pseudo-terminal (no devpts mounted,
# as in a chroot or a minimal container), or a script that takes other
# options (BSD's).  Its stdin is never ours: it would read a terminal.
if ! command -v script >/dev/null; then
	skip "$TTY_CHECK" "script is not installed (Debian: bsdutils)"
elif ! script -qec 'test -t 1 && test -t 2' /dev/null </dev/null >"$IT_TMP/script.probe" 2>&1; then
	skip "$TTY_CHECK" "script cannot run a command on a pseudo-terminal here: $(head -c 200 "$IT_TMP/script.probe")"
else
	script -qec "'$LUMAPROXY' mirror --db '$DB2' --media-dir '$MD2'" /dev/null \
	    </dev/null >"$IT_TMP/mirror.tty" 2>&1
	check "$TTY_CHECK" grep -q $'\r' "$IT_TMP/mirror.tty"
fi
"$LUMAPROXY" mirror --db "$DB2" >/dev/null 2>"$IT_TMP/mirror.err"
check_eq "without --media-dir: exit 2" "$?" 2
check_re "and why" "$(head -1 "$IT_TMP/mirror.err")" 'media-dir DIR is required'

tcase "a job imported while the server runs gets its media mirrored"
DB3=$IT_TMP/m3.db
MD3=$IT_TMP/media3
mkdir -p "$MD3"
LP_DB=$DB3 must_start_proxy --pending-interval 0 --media-dir "$MD3"
"$LUMAPROXY" export --db "$DB2" --status completed | grep '"jm4"' |
    "$LUMAPROXY" import --db "$DB3" 2>/dev/null
check_eq "import exit status" "$?" 0
check "mirrored by the running server" wait_media "$DB3" "$V4" mirrored 10
stop_proxy

tcase "imported media lists: downloaded, or taken over from the directory"
"$LUMAPROXY" export --db "$DB2" --media | grep '"jm1"' >"$IT_TMP/jm1.jsonl"
before=$(cdn_hits jm1/video.mp4)
LP_DB=$DB3 must_start_proxy --pending-interval 0 --media-dir "$MD3"
"$LUMAPROXY" import --db "$DB3" <"$IT_TMP/jm1.jsonl" 2>/dev/null
check "an empty directory: downloaded" wait_media "$DB3" "$V1" mirrored 10
check_eq "with the bytes the line promised" "$(media_field "$DB3" "$V1" sha256)" "$VSHA"
stop_proxy
MD5=$IT_TMP/media5
mkdir -p "$MD5"
cp "$MD2"/* "$MD5"/
LP_DB=$IT_TMP/m5.db must_start_proxy --pending-interval 0 --media-dir "$MD5"
"$LUMAPROXY" import --db "$IT_TMP/m5.db" <"$IT_TMP/jm1.jsonl" 2>/dev/null
check "the files already there: mirrored" wait_media "$IT_TMP/m5.db" "$V1" mirrored 10
check_eq "... without a download" "$(cdn_hits jm1/video.mp4)" "$((before + 1))"
stop_proxy

tcase "a refetch that renews a media URL keeps the mirrored file"
R1="$FAKE/media/jr1/video.mp4?_size=4000&sig=1"
R2="$FAKE/media/jr1/video.mp4?_size=4000&sig=2"
media_record jr1 "$R1" >"$IT_TMP/jr1.json"
fake_job_file jr1 "owner=tokA" "$IT_TMP/jr1.json"
media_record jo1 "$FAKE/media/jo1/video.mp4?_size=10" >"$IT_TMP/jo1.json"
fake_job_file jo1 "owner=tokA" "$IT_TMP/jo1.json"
must_start_proxy --pending-interval 0 --media-dir "$MD" --rewrite-media-urls
get jr1
check "mirrored" wait_media "$DB" "$R1" mirrored
RSHA=$(media_field "$DB" "$R1" sha256)
media_record jr1 "$R2" >"$IT_TMP/jr1.json"
fake_job_file jr1 "owner=tokA" "$IT_TMP/jr1.json"
get jr1 tokA -H 'Cache-Control: no-cache'
check_status 200
check_cache MISS
check_eq "the renewed URL is mirrored at once" "$(media_field "$DB" "$R2" state)" mirrored
check_eq "... as the same file" "$(media_field "$DB" "$R2" sha256)" "$RSHA"
check_eq "the answer still links to it" "$(jq -r .response.video.url "$BODYF")" "$LP/media/$RSHA"
check_eq "no second download" "$(cdn_hits jr1/video.mp4)" 1
get jo1
"$LUMAPROXY" purge --db "$DB" jo1 >/dev/null 2>&1
check "purging another job leaves the file" test -f "$MD/$RSHA"
http "$LP/media/$RSHA"
check_status 200
stop_proxy

tcase "purge: the job, its grants and the media nothing else uses"
DB4=$IT_TMP/m4.db
MD4=$IT_TMP/media4
mkdir -p "$MD4"
S="$FAKE/media/shared/video.mp4?_size=7000"
U1="$FAKE/media/jp1/t.jpg?_size=7001"
U2="$FAKE/media/jp2/t.jpg?_size=7002"
media_record jp1 "$S" "$U1" >"$IT_TMP/jp1.json"
media_record jp2 "$S" "$U2" >"$IT_TMP/jp2.json"
fake_job_file jp1 "owner=tokA" "$IT_TMP/jp1.json"
fake_job_file jp2 "owner=tokA" "$IT_TMP/jp2.json"
LP_DB=$DB4 must_start_proxy --pending-interval 0 --media-dir "$MD4"
get jp1
get jp2
for u in "$S" "$U1" "$U2"; do
	check "mirrored: $u" wait_media "$DB4" "$u" mirrored
done
SSHA=$(media_field "$DB4" "$S" sha256)
U1SHA=$(media_field "$DB4" "$U1" sha256)
U2SHA=$(media_field "$DB4" "$U2" sha256)
"$LUMAPROXY" purge --db "$DB4" jp1 >"$IT_TMP/purge.out" 2>&1
check_eq "exit status" "$?" 0
check_eq "what it says" "$(cat "$IT_TMP/purge.out")" "removed jp1
removed media $MD4/$U1SHA
1 job removed, 1 media file"
check_not "jp1's own file is gone" test -e "$MD4/$U1SHA"
check "the shared file stays" test -e "$MD4/$SSHA"
check_eq "jp1's grants are gone" \
    "$(media_q "$DB4" "SELECT count(*) FROM grants WHERE jobid = 'jp1'")" 0
get jp2 tokA -H 'Cache-Control: only-if-cached'
check_status 200
http "$LP/media/$SSHA"
check_status 200
"$LUMAPROXY" purge --db "$DB4" jp2 >"$IT_TMP/purge.out" 2>&1
check_eq "the last job: its files go" "$(sort "$IT_TMP/purge.out")" "$(printf '%s\n' \
    "1 job removed, 2 media files" "removed jp2" "removed media $MD4/$SSHA" \
    "removed media $MD4/$U2SHA" | sort)"
check_eq "no media left" "$(find "$MD4" -type f | wc -l)" 0
check_eq "stats" "$("$LUMAPROXY" stats --db "$DB4" --json | jq -c .media)" \
    '{"mirrored":0,"pending":0,"failed":0}'
stop_proxy

tcase "a job purged while its media download: the file goes too"
MD6=$IT_TMP/media6
mkdir -p "$MD6"
# Slow enough that the purge (a process of its own) ends first.
P1="$FAKE/media/jpd/video.mp4?_size=6000&_delay=$((1500 * IT_SLOW))"
media_record jpd "$P1" >"$IT_TMP/jpd.json"
fake_job_file jpd "owner=tokA" "$IT_TMP/jpd.json"
LP_DB=$IT_TMP/m6.db must_start_proxy --pending-interval 0 --media-dir "$MD6"
get jpd
wait_for 15000 downloading "$MD6"
check "the download has started" downloading "$MD6"
"$LUMAPROXY" purge --db "$IT_TMP/m6.db" jpd >/dev/null 2>&1
check_eq "purge exit status" "$?" 0
wait_line "$LP_ERR" 'was purged while downloading' "$LP_PID" >/dev/null
check "the server says so" grep -q 'jpd/video.mp4?... was purged while downloading; its file is removed' "$LP_ERR"
check_eq "nothing left in the directory" "$(find "$MD6" -type f | wc -l)" 0
stop_proxy

tcase "lumaproxy mirror stopped by a signal: partial files removed, says so"
DB7=$IT_TMP/m7.db
MD7=$IT_TMP/media7
mkdir -p "$MD7"
S1="$FAKE/media/jsig/video.mp4?_size=6000&_delay=5000"
media_record jsig "$S1" >"$IT_TMP/jsig.json"
fake_job_file jsig "owner=tokA" "$IT_TMP/jsig.json"
LP_DB=$DB7 must_start_proxy --pending-interval 0
get jsig
stop_proxy
"$LUMAPROXY" mirror --db "$DB7" --media-dir "$MD7" >"$IT_TMP/mirror7.out" 2>&1 &
mpid=$!
IT_PIDS+=("$mpid")
wait_for 15000 downloading "$MD7"
check "the download has started" downloading "$MD7"
kill -TERM "$mpid"
wait "$mpid"
check_eq "exit status" "$?" 1
check_eq "summary" "$(tail -1 "$IT_TMP/mirror7.out")" \
    "1 media URLs: 0 mirrored, 0 already present, 0 failed; interrupted, the rest not tried"
check "no partial file left" no_partials "$MD7"

finish
