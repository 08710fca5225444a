#!/usr/bin/env bash
# The README's "Offline replay" walk, step by step: record jobs online with
# their media, export, carry the file and the media directory to another
# machine (another directory here), import for another token, and replay
# with no upstream at all.
. "${TESTS_SRCDIR:-$(dirname "$0")}/lib.sh"

need_works jq jq -n true
need_cmd tar
need_works sqlite3 sqlite3 :memory: 'SELECT 1'
start_fakeup
A=$IT_TMP/machine-a
B=$IT_TMP/machine-b
mkdir -p "$A/media" "$B"
cd "$A" || die "no $A"

tcase "online: submit two jobs through the proxy and poll them to the end"
LP_DB=$A/lumaproxy.db must_start_proxy --pending-interval 0 --media-dir media
for type in videos images; do
	http -X POST -H 'Authorization: Bearer team-token' \
	    -H 'Content-Type: application/json' -d '{"prompt":"a lighthouse"}' \
	    "$LP/v1/luma/$type"
	check_status 200
	jobid=$(jq -r .jobid "$BODYF")
	JOBS+=("$jobid")
	for i in 1 2 3 4 5 6; do
		get "$jobid" team-token
		[ "$(jq -r .status "$BODYF")" = completed ] && break
	done
	check_eq "$type job completed" "$(jq -r .status "$BODYF")" completed
	cp "$BODYF" "$A/${jobid}.json"
done
VIDEO_URL=$(jq -r .response.video.url "$A/${JOBS[0]}.json")
IMAGE_URL=$(jq -r .response.image.url "$A/${JOBS[1]}.json")
curl -sS -o "$A/cdn-video" "$VIDEO_URL"
curl -sS -o "$A/cdn-image" "$IMAGE_URL"

tcase "online: make sure every file is mirrored, then export with the media lists"
"$LUMAPROXY" mirror --db lumaproxy.db --media-dir media >"$A/mirror.out" 2>&1
check_eq "mirror exit status" "$?" 0
check_re "mirror summary" "$(tail -1 "$A/mirror.out")" \
    '^4 media URLs: [0-9]+ mirrored, [0-9]+ already present, 0 failed$'
"$LUMAPROXY" export --db lumaproxy.db --media >jobs.jsonl
check_eq "export exit status" "$?" 0
check_eq "two jobs exported" "$(wc -l <jobs.jsonl)" 2
check_eq "each media entry has url, sha256, size" \
    "$(jq -c '[.media[] | keys] | unique' jobs.jsonl | sort -u)" \
    '[["content_type","sha256","size","url"]]'
stop_proxy
tar czf "$IT_TMP/replay.tgz" jobs.jsonl media
check_eq "tar exit status" "$?" 0

tcase "elsewhere: unpack, import for the CI token, serve offline"
stop_fakeup
cd "$B" || die "no $B"
tar xzf "$IT_TMP/replay.tgz"
"$LUMAPROXY" import --db replay.db --grant ci-token <jobs.jsonl 2>"$B/import.err"
check_eq "import exit status" "$?" 0
check_eq "import says" "$(cat "$B/import.err")" "lumaproxy import: 2 jobs read into replay.db"
check_eq "stats: the imported media are pending until a server finds them" \
    "$("$LUMAPROXY" stats --db replay.db --json | jq -c .media)" \
    '{"mirrored":0,"pending":4,"failed":0}'
"$LUMAPROXY" export --db replay.db --media >"$B/again.jsonl"
check_eq "export | import | export: the same jobs, bodies and media lists" \
    "$(jq -c 'del(.grants)' "$B/again.jsonl")" "$(jq -c 'del(.grants)' "$A/jobs.jsonl")"
check_eq "... granted to the CI token as well" \
    "$(jq -c .grants "$B/again.jsonl" | sort -u)" \
    "$(printf '%s\n%s\n' "$(printf team-token | sha256sum | cut -c1-64)" \
    "$(printf ci-token | sha256sum | cut -c1-64)" | sort | jq -R . | jq -cs .)"
"$LUMAPROXY" import --db plain.db <jobs.jsonl 2>/dev/null
"$LUMAPROXY" export --db plain.db --media >"$B/plain.jsonl"
check "without --grant, export --media | import | export --media is identical" \
    cmp -s "$A/jobs.jsonl" "$B/plain.jsonl"
before=$(sqlite3 plain.db .dump | sha256sum)
for media in '5' '[{"url":5}]' '[{"url":"http://x/v.mp4","sha256":"ABC","size":1}]' \
    '[{"url":"http://x/v.mp4","sha256":null,"size":3}]' \
    '[{"url":"http://x/v.mp4","sha256":null,"size":null,"content_type":"a\u000db"}]'; do
	{ head -1 jobs.jsonl; tail -1 jobs.jsonl | jq -c --argjson m "$media" '.media = $m'; } |
	    "$LUMAPROXY" import --db plain.db 2>"$B/bad.err"
	check_eq "a bad media list ($media): exit status" "$?" 1
	check_re "... names line 2" "$(cat "$B/bad.err")" '^lumaproxy import: line 2: media is not a list'
done
check_eq "the database is unchanged" "$(sqlite3 plain.db .dump | sha256sum)" "$before"
FAKE=http://127.0.0.1:9 LP_DB=$B/replay.db must_start_proxy --offline --media-dir media

tcase "offline: the jobs replay for the other token, their links point here"
get "${JOBS[0]}" ci-token
check_status 200
check_cache HIT
video=$(jq -r .response.video.url "$BODYF")
check_re "video link" "$video" "^$LP/media/[0-9a-f]{64}\$"
check_eq "the record otherwise as recorded" \
    "$(jq -cS 'del(.response[]?.url?)' "$BODYF")" \
    "$(jq -cS 'del(.response[]?.url?)' "$A/${JOBS[0]}.json")"
http "$video"
check_status 200
check_header Content-Type video/mp4
check "the video's bytes are the CDN's" cmp -s "$BODYF" "$A/cdn-video"
get "${JOBS[1]}" ci-token
image=$(jq -r .response.image.url "$BODYF")
http "$image"
check_status 200
check "the image's bytes are the CDN's" cmp -s "$BODYF" "$A/cdn-image"
http -H 'Range: bytes=0-3' "$video"
check_status 206
check_eq "a range of the video" "$BODY" "$(head -c 4 "$A/cdn-video")"

tcase "offline: what was not recorded is 504, never a call out"
get "${JOBS[0]}" someone-else
check_status 504
check_body '{"error":"Not in cache (offline)"}'
get j-never-seen ci-token
check_status 504
http -H 'Authorization: Bearer ci-token' "$LP/v1/luma/accounts"
check_status 504
check_body '{"error":"Not in cache (offline)"}'
check_not "no upstream error in the log (nothing was tried)" \
    grep -q 'upstream:' "$LP_ERR"
stop_proxy

finish
