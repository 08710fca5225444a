#!/usr/bin/env bash
# SPEC 2.4, 6, 9 under crashes: lumaproxy is killed with SIGKILL again and
# again, at random moments, while clients poll jobs that finish upstream,
# read finished ones, upload through the pass-through and fetch mirrored
# media, and another process imports into the same database.  After each
# kill the database passes integrity_check; after each restart /healthz
# answers 200 within a second, every finished answer a client was given
# as stored (or as a HIT) is a HIT with the same bytes, and the media
# directory holds no partial file and only the bytes upstream served.
#
# LUMAPROXY_CRASH_SEED=N repeats a run's random choices (the seed is
# printed first); LUMAPROXY_CRASH_ROUNDS=N kills N times instead of 50.
: "${IT_LIMIT:=300}"
. "${TESTS_SRCDIR:-$(dirname "$0")}/lib.sh"

need_cmd sqlite3
need_cmd sha256sum
need_cmd timeout

SEED=${LUMAPROXY_CRASH_SEED:-}
if [ -z "$SEED" ]; then
	_t=${EPOCHREALTIME/[.,]/}
	SEED=$(((_t ^ ($$ << 20)) % 1000000000))
fi
[[ $SEED =~ ^[0-9]{1,9}$ ]] ||
	die "LUMAPROXY_CRASH_SEED must be a number from 0 to 999999999"
ROUNDS=${LUMAPROXY_CRASH_ROUNDS:-50}
[[ $ROUNDS =~ ^[1-9][0-9]{0,3}$ ]] ||
	die "LUMAPROXY_CRASH_ROUNDS must be a number from 1 to 9999"
echo "# seed $SEED (LUMAPROXY_CRASH_SEED=$SEED repeats its choices), $ROUNDS kills"

DB=$IT_TMP/lp.db
MD=$IT_TMP/media
PLAN=$IT_TMP/plan
mkdir -p "$MD" "$PLAN"
LP_OPTS="--pending-interval 0 --media-dir $MD"
KILL_MIN=30		# ms after the load began
KILL_MAX=900
CLIENT_MS=6000		# a load client stops this long after it began
START_MS=1000		# from spawn to the first 200 of /healthz

# ---------------------------------------------------------------- helpers

# rnd N: R becomes the next number of the seeded sequence, 0 to N-1.
RS=$SEED
rnd() {
	RS=$(((RS * 1103515245 + 12345) % 2147483648))
	R=$((RS >> 16))
	RS=$(((RS * 1103515245 + 12345) % 2147483648))
	R=$((((R << 15) | (RS >> 16)) % $1))
}

# pick LO HI: R from LO to HI.
pick() {
	rnd $(($2 - $1 + 1))
	R=$((R + $1))
}

# tick: NOW is the wall clock in milliseconds (no fork).
tick() {
	local t=${EPOCHREALTIME/[.,]/}
	NOW=$((t / 1000))
}

# slurp FILE: SLURP holds its bytes (none of them NUL).
slurp() {
	SLURP=""
	IFS= read -r -d '' SLURP <"$1"
	return 0
}

# same_bytes FILE1 FILE2: the two hold the same bytes (no NUL in either).
same_bytes() {
	local a
	slurp "$1"
	a=$SLURP
	slurp "$2"
	[ "$a" = "$SLURP" ]
}

# hdr_read FILE: H_ST, H_XC and H_CS are the status, X-Cache and
# Cache-Status of the last answer in a curl -D file.
hdr_read() {
	local line
	H_ST="" H_XC="" H_CS=""
	[ -f "$1" ] || return 0
	while IFS= read -r line; do
		line=${line%$'\r'}
		case ${line,,} in
		http/*) H_ST=${line#* }; H_ST=${H_ST%% *}; H_XC="" H_CS="" ;;
		x-cache:*) H_XC=${line#*:}; H_XC=${H_XC# } ;;
		cache-status:*) H_CS=${line#*:}; H_CS=${H_CS# } ;;
		esac
	done <"$1"
}

# failx WHAT: a failure, said at most 20 times in all (then only counted).
NFAILX=0
failx() {
	NFAILX=$((NFAILX + 1))
	if [ "$NFAILX" -le 20 ]; then
		fail "$@"
	else
		IT_CHECKS=$((IT_CHECKS + 1))
		IT_FAILS=$((IT_FAILS + 1))
	fi
}

# ---------------------------------------------------------------- the plan
# Every random choice is made here, from the seed, before anything runs.

start_fakeup
FAKECFG=$IT_TMP/fake.cfg
NSTEPS=0
: >"$FAKECFG"

# fake_cfg METHOD JOBID QUERY FILE: a step for fakeup, all sent in one go.
fake_cfg() {
	printf 'url = "%s/_fake/jobs/%s?%s"\nrequest = "%s"\ndata-binary = "@%s"\noutput = "/dev/null"\nwrite-out = "%%{http_code}\\n"\nnext\n' \
	    "$FAKE" "$2" "$3" "$1" "$4" >>"$FAKECFG"
	NSTEPS=$((NSTEPS + 1))
}

# final_body JOBID STATUS NOTE-BYTES FILE: a finished record.
final_body() {
	local note
	printf -v note '%*s' "$3" ''
	note=${note// /x}
	if [ "$2" = completed ]; then
		printf '{\n  "jobid": "%s",\n  "type": "video",\n  "status": "completed",\n  "response": null,\n  "credits": {"dm_usage": 20},\n  "note": "%s"\n}\n' \
		    "$1" "$note" >"$4"
	else
		printf '{"jobid":"%s","type":"video","status":"failed","error":"%s"}' \
		    "$1" "$note" >"$4"
	fi
}

declare -A FINAL	# jobid -> the file of its finished record
declare -A MURL		# media URL (without _delay) -> its file name, later its SHA-256
declare -A P_POLL P_MEDIA P_MURLS P_UPS P_HITS P_HSEED P_MSEED P_IMPDELAY
declare -A P_KILL P_EARLY
N_UP=6
UPD=$IT_TMP/up
mkdir -p "$UPD"
declare -A UP_SHA UP_LEN
for ((u = 1; u <= N_UP; u++)); do
	if [ "$u" -eq "$N_UP" ]; then pick 1100000 1600000; else pick 0 300000; fi
	head -c "$R" /dev/urandom >"$UPD/$u"
	UP_LEN[$u]=$R
done
while read -r sha f; do
	UP_SHA[${f##*/}]=$sha
done < <(sha256sum "$UPD"/*)

# seed jobs, finished from their first fetch: the first cache hits
SEEDS=()
for k in 1 2 3 4; do
	j=jcs$k
	final_body "$j" completed $((k * 300)) "$PLAN/$j.b"
	FINAL[$j]=$PLAN/$j.b
	fake_cfg PUT "$j" owner=tokA "$PLAN/$j.b"
	SEEDS+=("$j")
done
job_record x pending >"$PLAN/pending.b"
job_record x processing >"$PLAN/processing.b"

for ((r = 1; r <= ROUNDS; r++)); do
	# two pollers, three jobs each: 0 to 2 unfinished steps, then the end
	for c in 1 2; do
		jobs=""
		for k in 1 2 3; do
			j=jc${r}p${c}n$k
			jobs+=" $j"
			pick 0 2
			steps=$R
			m=PUT
			for s in pending processing; do
				[ "$steps" -gt 0 ] || break
				steps=$((steps - 1))
				pick 0 120
				fake_cfg "$m" "$j" "owner=tokA&delay=$R" "$PLAN/$s.b"
				m=POST
			done
			rnd 10
			if [ "$R" -lt 7 ]; then st=completed; else st=failed; fi
			pick 0 4000
			final_body "$j" "$st" "$R" "$PLAN/$j.b"
			FINAL[$j]=$PLAN/$j.b
			pick 0 250
			fake_cfg "$m" "$j" "owner=tokA&delay=$R" "$PLAN/$j.b"
		done
		P_POLL[$r,$c]=${jobs# }
	done
	# a finished job with a video (downloaded slowly) and a thumbnail
	j=jc${r}m
	pick 20000 1000000
	v="$FAKE/media/crash/r$r/v.mp4?_size=$R"
	pick 0 400
	vd="$v&_delay=$R"
	pick 1000 40000
	t="$FAKE/media/crash/r$r/t.jpg?_size=$R"
	MURL[$v]=1
	MURL[$t]=1
	printf '{\n  "jobid": "%s",\n  "type": "video",\n  "status": "completed",\n  "response": {\n    "video": {"media_type": "video", "url": "%s"},\n    "thumbnail": {"media_type": "image", "url": "%s"}\n  }\n}\n' \
	    "$j" "$vd" "$t" >"$PLAN/$j.b"
	FINAL[$j]=$PLAN/$j.b
	pick 0 200
	fake_cfg PUT "$j" "owner=tokA&delay=$R" "$PLAN/$j.b"
	P_MEDIA[$r]=$j
	P_MURLS[$r]="$v $t"
	# two jobs for another process to import: one with a video, one failed
	i="$FAKE/media/crash/i$r/v.mp4?_size"
	pick 1000 200000
	i+="=$R"
	MURL[$i]=1
	b1="{\"jobid\":\"ji${r}a\",\"type\":\"video\",\"status\":\"completed\",\"response\":{\"video\":{\"media_type\":\"video\",\"url\":\"$i\"}},\"note\":\"imported\"}"
	b2="{\"jobid\":\"ji${r}b\",\"type\":\"video\",\"status\":\"failed\",\"error\":\"imported failure $r\"}"
	printf '%s' "$b1" >"$PLAN/ji${r}a.b"
	printf '%s' "$b2" >"$PLAN/ji${r}b.b"
	FINAL[ji${r}a]=$PLAN/ji${r}a.b
	FINAL[ji${r}b]=$PLAN/ji${r}b.b
	{
		printf '{"jobid":"ji%sa","type":"video","status":"completed","fetched_at":"2026-01-02T03:04:05.000Z","grants":[],"body":"%s"}\n' \
		    "$r" "${b1//\"/\\\"}"
		printf '{"jobid":"ji%sb","type":"video","status":"failed","fetched_at":"2026-01-02T03:04:05.000Z","grants":[],"body":"%s"}\n' \
		    "$r" "${b2//\"/\\\"}"
	} >"$PLAN/import$r.jsonl"
	pick 0 400
	P_IMPDELAY[$r]=$R
	# uploads, cache hits, media reads, and when the kill comes
	ups=""
	pick 2 4
	for ((k = 0; k < R; k++)); do
		rnd "$N_UP"
		ups+=" $((R + 1))"
	done
	P_UPS[$r]=${ups# }
	pick 5 25
	P_HITS[$r]=$R
	rnd 1000000000
	P_HSEED[$r]=$R
	rnd 1000000000
	P_MSEED[$r]=$R
	pick "$KILL_MIN" "$KILL_MAX"
	P_KILL[$r]=$R
	# now and then a start killed too, while it recovers the database
	P_EARLY[$r]=-1
	rnd 4
	[ "$R" -gt 0 ] || { pick 0 80; P_EARLY[$r]=$R; }
done

tcase "setting up fakeup ($NSTEPS steps) and what the CDN serves"
codes=$(curl -sS -K "$FAKECFG" 2>"$IT_TMP/fakecfg.err" | grep -c '^200$')
check_eq "fakeup took every step" "$codes" "$NSTEPS"
# What each media URL serves (its bytes depend on the path and _size only).
CDN=$IT_TMP/cdn
mkdir -p "$CDN"
: >"$IT_TMP/cdn.cfg"
n=0
for u in "${!MURL[@]}"; do
	n=$((n + 1))
	MURL[$u]=$n
	printf 'url = "%s"\noutput = "%s/%d"\nnext\n' "$u" "$CDN" "$n" >>"$IT_TMP/cdn.cfg"
done
curl -sS -K "$IT_TMP/cdn.cfg" 2>"$IT_TMP/cdn.err"
declare -A SHA_OF MSHA	# file number -> SHA-256; SHA-256 -> its URL
while read -r sha f; do
	SHA_OF[${f##*/}]=$sha
done < <(sha256sum "$CDN"/*)
for u in "${!MURL[@]}"; do
	MURL[$u]=${SHA_OF[${MURL[$u]}]:-}
	MSHA[${MURL[$u]}]=$u
done
check_eq "media URLs with known bytes" "${#MSHA[@]}" "${#MURL[@]}"
rm -rf "$CDN"

# ---------------------------------------------------------------- load clients
# Each runs in the background for one round, records every answer in its
# directory (N.h, N.b, and "N LABEL CURL-STATUS HTTP-STATUS" in log) and
# stops at the first request without an answer (the proxy is gone), after
# its requests or at its deadline.

# creq DIR N LABEL CURL-ARGS...: one request of a client.
creq() {
	local dir=$1 n=$2 label=$3 st rc
	shift 3
	st=$(curl -sS --max-time 5 -o "$dir/$n.b" -D "$dir/$n.h" \
	    -w '%{http_code}' "$@" 2>>"$dir/err")
	rc=$?
	echo "$n $label $rc $st" >>"$dir/log"
	return $rc
}

# poll_job DIR PREFIX JOBID END: polls until the job's finished answer
# (requests PREFIX1, PREFIX2...; POLLS counts them); fails when a request
# had no answer, after 40 requests or at END.
poll_job() {
	local dir=$1 j=$3 end=$4
	while [ "$POLLS" -lt 40 ]; do
		tick
		[ "$NOW" -lt "$end" ] || return 1
		POLLS=$((POLLS + 1))
		creq "$dir" "$2$POLLS" "$j" -H "Authorization: Bearer tokA" \
		    "$LP/v1/luma/jobs/$j" || return 1
		slurp "$dir/$2$POLLS.b"
		[[ $SLURP =~ \"status\":\ ?\"(completed|failed)\" ]] && return 0
	done
	return 1
}

# poller DIR END JOBID...: polls each job in turn until it is finished.
poller() {
	local dir=$1 end=$2 j
	shift 2
	POLLS=0
	for j; do
		poll_job "$dir" "" "$j" "$end" || return 0
	done
}

# hitter DIR END SEED COUNT JOBID...: reads COUNT finished jobs at random.
hitter() {
	local dir=$1 end=$2 count=$4 k jobs
	RS=$3
	shift 4
	jobs=("$@")
	[ "${#jobs[@]}" -gt 0 ] || return 0
	for ((k = 1; k <= count; k++)); do
		tick
		[ "$NOW" -lt "$end" ] || return 0
		rnd "${#jobs[@]}"
		creq "$dir" "$k" "${jobs[R]}" -H "Authorization: Bearer tokA" \
		    "$LP/v1/luma/jobs/${jobs[R]}" || return 0
	done
}

# uploader DIR END ROUND UPLOAD...: posts those files under /v1/.
uploader() {
	local dir=$1 end=$2 r=$3 k=0 u
	shift 3
	for u; do
		k=$((k + 1))
		tick
		[ "$NOW" -lt "$end" ] || return 0
		creq "$dir" "$k" "up$u" -X POST --data-binary "@$UPD/$u" \
		    -H 'Content-Type: application/octet-stream' \
		    -H "Authorization: Bearer tokA" \
		    "$LP/v1/luma/uploads?round=$r&n=$k" || return 0
	done
}

# mediacl DIR END SEED JOBID SHA...: polls the job, then reads media at
# random among SHA... (the first two: its own) 20 times.
mediacl() {
	local dir=$1 end=$2 j=$4 k shas
	RS=$3
	shift 4
	shas=("$@")
	POLLS=0
	poll_job "$dir" j "$j" "$end" || return 0
	for ((k = 1; k <= 20; k++)); do
		tick
		[ "$NOW" -lt "$end" ] || return 0
		rnd 3
		if [ "$R" -gt 0 ]; then rnd 2; else rnd "${#shas[@]}"; fi
		creq "$dir" "$k" "${shas[R]}" "$LP/media/${shas[R]}" || return 0
	done
}

# importer DIR DELAY-MS LINES: imports the lines from another process.
importer() {
	sleep "$(printf '%d.%03d' $(($2 / 1000)) $(($2 % 1000)))"
	timeout 30 "$LUMAPROXY" import --db "$DB" --grant tokA <"$3" \
	    >"$1/out" 2>"$1/err"
	echo $? >"$1/rc"
}

# ---------------------------------------------------------------- checks

declare -A PROM		# jobid -> the finished record promised to clients
NEWPROM=()		# promised since the last restart
VERIFIED=()		# promised, and found again after a restart
declare -A MSEEN	# SHA-256 of a /media/ file a client was given -> 1
NEWSEEN=()
declare -A MGOOD	# files of the media directory found right
NOTSTORED=0
EARLY=0
CUT=0
PARTS=0
STARTS=()

# promise JOBID FILE: a client was given FILE as the job's finished record,
# as a HIT or as stored: every later answer must be these bytes.
promise() {
	if [ -n "${PROM[$1]:-}" ]; then
		same_bytes "$2" "${PROM[$1]}" ||
			failx "$1: two different finished records were given out"
		return
	fi
	PROM[$1]=$2
	NEWPROM+=("$1")
}

# boot WHAT: starts the proxy; /healthz must answer 200 within START_MS of
# the spawn.  On a busy machine the time the proxy spent waiting for a
# CPU (its schedstat) is not held against it.
boot() {
	local t0 wall i code="" run=0 queued=0 eff
	tick
	t0=$NOW
	must_start_proxy
	for ((i = 0; i < 500; i++)); do
		code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 \
		    "$LP/healthz")
		[ "$code" = 200 ] && break
		kill -0 "$LP_PID" 2>/dev/null || break
		sleep 0.01
	done
	tick
	wall=$((NOW - t0))
	read -r run queued _ 2>/dev/null <"/proc/$LP_PID/schedstat"
	eff=$((wall - ${queued:-0} / 1000000))
	STARTS+=("$wall")
	if [ "$code" != 200 ]; then
		failx "$1: /healthz" 200 "$code after $wall ms"
	elif [ "$wall" -lt "$START_MS" ]; then
		pass "$1: /healthz 200 after $wall ms"
	elif [ "$eff" -lt "$START_MS" ]; then
		pass "$1: /healthz 200 after $wall ms, $((wall - eff)) ms of it waiting for a CPU"
	else
		failx "$1: from spawn to /healthz 200" "< $START_MS ms" \
		    "$wall ms ($((wall - eff)) ms of it waiting for a CPU)"
	fi
}

# reverify WHAT JOBID...: each job is a HIT with its promised bytes.
reverify() {
	local what=$1 cfg=$IT_TMP/rv.cfg dir=$IT_TMP/rv j n=0 good=0
	shift
	[ $# -gt 0 ] || return 0
	rm -rf "$dir"
	mkdir -p "$dir"
	: >"$cfg"
	for j; do
		n=$((n + 1))
		printf 'url = "%s/v1/luma/jobs/%s"\nheader = "Authorization: Bearer tokA"\noutput = "%s/%d.b"\ndump-header = "%s/%d.h"\nmax-time = 10\nnext\n' \
		    "$LP" "$j" "$dir" "$n" "$dir" "$n" >>"$cfg"
	done
	curl -sS -K "$cfg" 2>"$dir/err"
	n=0
	for j; do
		n=$((n + 1))
		hdr_read "$dir/$n.h"
		if [ "$H_ST" = 200 ] && [ "$H_XC" = HIT ] &&
		    same_bytes "$dir/$n.b" "${PROM[$j]}"; then
			good=$((good + 1))
		else
			slurp "$dir/$n.b"
			failx "$what: $j" "200, HIT, the $(wc -c <"${PROM[$j]}") bytes given before" \
			    "${H_ST:-no answer}, ${H_XC:-no X-Cache}, ${#SLURP} bytes: ${SLURP:0:120}"
		fi
	done
	check_eq "$what: finished answers given before, HITs with the same bytes" "$good" "$n"
}

# media_dir_check WHAT: right after a start, no partial file is left from
# before it and every file holds the bytes upstream served at its URL.
media_dir_check() {
	local f name left=() odd=() new=() sha bad=0
	for f in "$MD"/* "$MD"/.[!.]*; do
		[ -e "$f" ] || continue
		name=${f##*/}
		case $name in
		.part-"$LP_PID"-*) ;;	# a download of the new process
		.part-*) left+=("$name") ;;
		*)
			if [[ $name =~ ^[0-9a-f]{64}$ ]]; then
				[ -n "${MGOOD[$name]:-}" ] || new+=("$name")
			else
				odd+=("$name")
			fi
			;;
		esac
	done
	check_eq "$1: partial media files left from before the start" "${left[*]}" ""
	check_eq "$1: other files in the media directory" "${odd[*]}" ""
	[ "${#new[@]}" -gt 0 ] || return 0
	while read -r sha f; do
		name=${f##*/}
		if [ "$sha" != "$name" ]; then
			failx "$1: media file $name holds other bytes ($sha)"
			bad=$((bad + 1))
		elif [ -z "${MSHA[$name]:-}" ]; then
			failx "$1: media file $name: bytes upstream never served"
			bad=$((bad + 1))
		else
			MGOOD[$name]=1
		fi
	done < <(cd "$MD" && sha256sum -- "${new[@]}")
	check_eq "$1: new media files with the bytes of their URL" \
	    "$((${#new[@]} - bad))" "${#new[@]}"
}

# db_check WHAT: with the proxy down, a copy of the database and its WAL
# (the state the next start recovers) passes integrity_check, its job
# counts match the jobs, and each media row said mirrored has its file.
# A copy, because the sqlite3 shell, the last to close the file, would
# checkpoint the WAL and delete it: the next start would not recover it.
db_check() {
	local c=$IT_TMP/dbcheck out
	rm -rf "$c"
	mkdir -p "$c"
	cp "$DB" "$c/c.db"
	[ -f "$DB-wal" ] && cp "$DB-wal" "$c/c.db-wal"
	out=$(sqlite3 "$c/c.db" 'PRAGMA integrity_check' 2>&1)
	check_eq "$1: PRAGMA integrity_check" "$out" ok
	out=$(sqlite3 "$c/c.db" "SELECT (SELECT group_concat(k) FROM (SELECT
	    status || '/' || terminal || '=' || count(*) AS k FROM jobs GROUP BY
	    status, terminal ORDER BY 1)) IS (SELECT group_concat(k) FROM
	    (SELECT status || '/' || terminal || '=' || n AS k FROM job_counts
	    ORDER BY 1))" 2>&1)
	check_eq "$1: job_counts agree with the jobs table" "$out" 1
	out=""
	while IFS='|' read -r sha size; do
		[ "$(stat -c %s "$MD/$sha" 2>/dev/null)" = "$size" ] ||
			out+=" $sha"
	done < <(sqlite3 "$c/c.db" "SELECT sha256, size FROM media WHERE state = 'mirrored'")
	check_eq "$1: media rows said mirrored without their file" "$out" ""
}

# collect R: what the clients of round R were given, checked and promised.
collect() {
	local r=$1 d=$IT_TMP/r$1 c n label rc st fin hits=() hashes=() nfin=0
	local nup=0 ns0=$NOTSTORED sha f
	for c in poll1 poll2 hit media up; do
		[ -f "$d/$c/log" ] || continue
		while read -r n label rc st; do
			if [ "$rc" != 0 ]; then		# no whole answer
				CUT=$((CUT + 1))
				continue
			fi
			hdr_read "$d/$c/$n.h"
			case $label in
			up*)
				slurp "$d/$c/$n.b"
				if [ "$st" = 200 ] &&
				    [[ $SLURP == *\"body_len\":${UP_LEN[${label#up}]},\"body_sha256\":\"${UP_SHA[${label#up}]}\"* ]]; then
					nup=$((nup + 1))
				else
					failx "round $r: upload $label" "200 and the upload's length and SHA-256" "$st ${SLURP:0:200}"
				fi
				;;
			j*)
				if [ "$st" != 200 ]; then
					failx "round $r: $c: $label" 200 "$st"
					continue
				fi
				slurp "$d/$c/$n.b"
				[[ $SLURP =~ \"status\":\ ?\"(completed|failed)\" ]] ||
					continue	# unfinished
				fin=${PROM[$label]:-${FINAL[$label]}}
				if ! same_bytes "$d/$c/$n.b" "$fin"; then
					failx "round $r: $c: $label: a finished record with other bytes: ${SLURP:0:120}"
					continue
				fi
				nfin=$((nfin + 1))
				if [ "$c" = hit ] && [ "$H_XC" != HIT ]; then
					failx "round $r: a cached job read again: $label" HIT "$H_XC"
				fi
				if [ "$H_XC" = HIT ] || [[ $H_CS == *"; stored"* ]]; then
					promise "$label" "$fin"
				else
					NOTSTORED=$((NOTSTORED + 1))
				fi
				;;
			*)
				case $st in
				200) hits+=("$d/$c/$n.b"); hashes+=("$label") ;;
				404) ;;
				*) failx "round $r: /media/$label" "200 or 404" "$st" ;;
				esac
				;;
			esac
		done <"$d/$c/log"
	done
	if [ "${#hits[@]}" -gt 0 ]; then
		n=0
		while read -r sha f; do
			if [ "$sha" = "${hashes[n]}" ]; then
				[ -n "${MSEEN[$sha]:-}" ] || NEWSEEN+=("$sha")
				MSEEN[$sha]=1
			else
				failx "round $r: /media/${hashes[n]} answered other bytes ($sha)"
			fi
			n=$((n + 1))
		done < <(sha256sum -- "${hits[@]}")
	fi
	if [ -f "$d/imp/rc" ] && [ "$(cat "$d/imp/rc")" = 0 ]; then
		promise "ji${r}a" "${FINAL[ji${r}a]}"
		promise "ji${r}b" "${FINAL[ji${r}b]}"
		IMPORTS=$((IMPORTS + 1))
	else
		failx "round $r: import from another process" "exit 0" \
		    "$(cat "$d/imp/rc" 2>/dev/null) $(head -c 300 "$d/imp/err" 2>/dev/null)"
	fi
	echo "# round $r: killed ${P_KILL[$r]} ms into the load; $nfin finished answers ($((NOTSTORED - ns0)) not stored), $nup uploads, ${#hits[@]} media reads"
}

# ---------------------------------------------------------------- the rounds

tcase "before the first kill"
boot "first start"
for j in "${SEEDS[@]}"; do
	get "$j"
	check_status 200
	check_header Cache-Status "lumaproxy; fwd=miss; stored"
	check_body_file "${FINAL[$j]}"
	PROM[$j]=${FINAL[$j]}
	VERIFIED+=("$j")
done

IMPORTS=0
for ((r = 1; r <= ROUNDS; r++)); do
	tcase "round $r"
	d=$IT_TMP/r$r
	mkdir -p "$d"/{poll1,poll2,hit,media,up,imp}
	NEWPROM=()
	NEWSEEN=()
	tick
	t0=$NOW
	end=$((t0 + CLIENT_MS))
	CL=()
	poller "$d/poll1" "$end" ${P_POLL[$r,1]} &
	CL+=($!)
	poller "$d/poll2" "$end" ${P_POLL[$r,2]} &
	CL+=($!)
	hitter "$d/hit" "$end" "${P_HSEED[$r]}" "${P_HITS[$r]}" "${VERIFIED[@]}" &
	CL+=($!)
	set -- ${P_MURLS[$r]}
	mshas=("${MURL[$1]}" "${MURL[$2]}" "${!MSEEN[@]}")
	mediacl "$d/media" "$end" "${P_MSEED[$r]}" "${P_MEDIA[$r]}" "${mshas[@]}" &
	CL+=($!)
	uploader "$d/up" "$end" "$r" ${P_UPS[$r]} &
	CL+=($!)
	importer "$d/imp" "${P_IMPDELAY[$r]}" "$PLAN/import$r.jsonl" &
	CL+=($!)
	IT_PIDS+=("${CL[@]}")
	sleep_until "$t0" "${P_KILL[$r]}"
	check "lumaproxy runs until it is killed" kill -0 "$LP_PID"
	kill -KILL "$LP_PID" 2>/dev/null
	wait "$LP_PID" 2>/dev/null
	check_eq "killed by SIGKILL (exit status)" "$?" 137
	_forget "$LP_PID"
	check_not "no sanitizer report" grep -qE 'Sanitizer|runtime error:' "$LP_ERR"
	for p in "${CL[@]}"; do	# each stops by its deadline
		wait "$p" 2>/dev/null
		_forget "$p"
	done
	collect "$r"
	db_check "after kill $r"
	if [ "${P_EARLY[$r]}" -ge 0 ]; then
		"$LUMAPROXY" -l 127.0.0.1:0 -u "$FAKE" -d "$DB" $LP_OPTS \
		    >/dev/null 2>"$IT_TMP/early.err" &
		p=$!
		IT_PIDS+=("$p")
		sleep "0.$(printf '%03d' "${P_EARLY[$r]}")"
		kill -KILL "$p" 2>/dev/null
		wait "$p" 2>/dev/null
		check_eq "a start killed after ${P_EARLY[$r]} ms (exit status)" "$?" 137
		_forget "$p"
		EARLY=$((EARLY + 1))
	fi

	boot "start after kill $r"
	PARTS=$((PARTS + $(grep -c 'media: removed the partial file' "$LP_ERR")))
	media_dir_check "start after kill $r"
	reverify "start after kill $r" "${NEWPROM[@]}"
	VERIFIED+=("${NEWPROM[@]}")
	missing=""
	for sha in "${NEWSEEN[@]}"; do
		[ -n "${MGOOD[$sha]:-}" ] || missing+=" $sha"
	done
	check_eq "media files given out before the kill, still there" "$missing" ""
	# The logs of rounds gone well are of no more use.
	[ "$IT_FAILS" -eq 0 ] && [ "$IT_NPROXY" -gt 3 ] &&
		rm -f "$IT_TMP/lumaproxy.$((IT_NPROXY - 3)).err" \
		    "$IT_TMP/lumaproxy.$((IT_NPROXY - 3)).out"
done

tcase "after the last restart"
# Downloads cut by kills were resumed: every media URL of a stored job is
# mirrored, in a bounded time.
left=""
for ((i = 0; i < 300; i++)); do
	left=$(sqlite3 -cmd '.timeout 5000' "$DB" \
	    "SELECT count(*) FROM media WHERE state != 'mirrored'" 2>&1)
	[ "$left" = 0 ] && break
	sleep 0.1
done
check_eq "media not mirrored yet" "$left" 0
[ "$left" = 0 ] || sqlite3 -cmd '.timeout 5000' "$DB" \
    "SELECT url, state, attempts, reason FROM media WHERE state != 'mirrored'" | head -n 5
MGOOD=()
media_dir_check "every media file, once more"
reverify "every finished answer given out" "${VERIFIED[@]}"
stop_proxy
check_eq "exit status after SIGTERM" "$LP_RC" 0
check_eq "PRAGMA integrity_check" "$(sqlite3 "$DB" 'PRAGMA integrity_check' 2>&1)" ok

sorted=$(printf '%s\n' "${STARTS[@]}" | sort -n)
echo "# ${#VERIFIED[@]} finished jobs promised and found again ($IMPORTS imports); $NOTSTORED finished answers said not stored"
echo "# $CUT requests cut by a kill; $PARTS partial media files of killed processes removed at start; $EARLY more kills while starting"
echo "# spawn to /healthz 200: median $(sed -n "$(((${#STARTS[@]} + 1) / 2))p" <<<"$sorted") ms, max $(tail -n 1 <<<"$sorted") ms"
finish
