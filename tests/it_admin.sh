#!/usr/bin/env bash
# SPEC 5, 8: export, import (--grant), stats and purge, on a database a
# server may be using at the same time.
. "${TESTS_SRCDIR:-$(dirname "$0")}/lib.sh"

need_works jq jq -n true
need_works sqlite3 sqlite3 :memory: 'SELECT 1'
start_fakeup
must_start_proxy --pending-interval 0
DB=$IT_TMP/lp.db
LPX=$LUMAPROXY

# Three finished jobs (one failed, one with odd bytes), one unfinished.
fake_job jadm2 "owner=tokA" "$(job_completed jadm2)"
fake_job jadm1 "owner=tokA&owner=tokB" '{"jobid":"jadm1","status":"completed","type":"image","x":"caf\u00e9 é \\ \" \n"}'
fake_job jadm3 "owner=tokA" '{"jobid":"jadm3","status":"failed","type":"video"}'
fake_job jadm4 "owner=tokA" "$(job_record jadm4 pending)"
for j in jadm1 jadm2 jadm3 jadm4; do get "$j"; done
get jadm1 tokB

tcase "export while the server runs: finished jobs, ordered, exact bodies"
"$LPX" export --db "$DB" >"$IT_TMP/e1.jsonl" 2>"$IT_TMP/e1.err"
check_eq "exit status" "$?" 0
check_eq "jobids, in order" "$(jq -r .jobid "$IT_TMP/e1.jsonl" | tr '\n' ' ')" "jadm1 jadm2 jadm3 "
check_eq "keys of a line" "$(head -1 "$IT_TMP/e1.jsonl" | jq -c 'keys_unsorted')" \
    '["jobid","type","status","fetched_at","grants","body"]'
check_eq "body of jadm2 is upstream's bytes" \
    "$(jq -r 'select(.jobid == "jadm2") | .body' "$IT_TMP/e1.jsonl")" "$(job_completed jadm2)"
check_eq "grants of jadm1: both tokens' ids, sorted" \
    "$(jq -c 'select(.jobid == "jadm1") | .grants' "$IT_TMP/e1.jsonl")" \
    "$(printf '%s\n%s\n' "$(printf tokA | sha256sum | cut -c1-64)" \
    "$(printf tokB | sha256sum | cut -c1-64)" | sort | jq -R . | jq -cs .)"
check_re "fetched_at is ISO 8601 UTC" \
    "$(jq -r .fetched_at "$IT_TMP/e1.jsonl" | head -1)" '^20[0-9]{2}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{3}Z$'
check_not "no raw token in the export" grep -q tokA "$IT_TMP/e1.jsonl"
get jadm1
check_status 200
check_cache HIT

tcase "export --status and --since filter"
check_eq "--status failed" "$("$LPX" export --db "$DB" --status failed | jq -r .jobid)" jadm3
check_eq "--since tomorrow: nothing" "$("$LPX" export --db "$DB" --since 2999-01-01 | wc -l)" 0
check_eq "--since a date-time in the past: all" \
    "$("$LPX" export --db "$DB" --since 2020-01-01T00:00:00Z | wc -l)" 3
"$LPX" export --db "$DB" --since yesterday >/dev/null 2>"$IT_TMP/since.err"
check_eq "--since with a bad date: exit 2" "$?" 2

tcase "export | import into an empty database | export: identical"
"$LPX" import --db "$IT_TMP/copy.db" <"$IT_TMP/e1.jsonl" 2>"$IT_TMP/i1.err"
check_eq "import exit status" "$?" 0
"$LPX" export --db "$IT_TMP/copy.db" >"$IT_TMP/e2.jsonl"
check "identical output" cmp -s "$IT_TMP/e1.jsonl" "$IT_TMP/e2.jsonl"
"$LPX" import --db "$IT_TMP/copy.db" <"$IT_TMP/e1.jsonl" 2>/dev/null
check_eq "importing again changes nothing" \
    "$("$LPX" export --db "$IT_TMP/copy.db" | sha256sum)" "$(sha256sum <"$IT_TMP/e1.jsonl")"

tcase "a bad line aborts the import, names its number, changes nothing"
before=$(sqlite3 "$IT_TMP/copy.db" .dump | sha256sum)
for bad in 'not json' '{"jobid":"jx"}' \
    '{"jobid":"jx","type":"video","status":"completed","fetched_at":"2026-01-01T00:00:00.000Z","grants":[],"body":"{\"status\":\"pending\"}"}' \
    '{"jobid":"jx","type":"video","status":"completed","fetched_at":"2026-01-01T00:00:00.000Z","grants":["tokA"],"body":"{\"status\":\"completed\",\"type\":\"video\"}"}' \
    '{"jobid":"x/y","type":"video","status":"completed","fetched_at":"2026-01-01T00:00:00.000Z","grants":[],"body":"{\"status\":\"completed\",\"type\":\"video\"}"}'; do
	{ head -2 "$IT_TMP/e1.jsonl" | sed 's/jadm/jnew/g'; echo "$bad"; } |
	    "$LPX" import --db "$IT_TMP/copy.db" 2>"$IT_TMP/bad.err"
	check_eq "exit status (${bad:0:30})" "$?" 1
	check "the message names line 3 (${bad:0:30})" grep -q "line 3" "$IT_TMP/bad.err"
done
check_eq "database unchanged" "$(sqlite3 "$IT_TMP/copy.db" .dump | sha256sum)" "$before"

tcase "import --grant: a second token replays offline"
grep jadm2 "$IT_TMP/e1.jsonl" | "$LPX" import --db "$IT_TMP/fix.db" --grant tokC 2>/dev/null
check_eq "import exit status" "$?" 0
printf 'tokD\n# a comment\n\n' >"$IT_TMP/grants.txt"
grep jadm2 "$IT_TMP/e1.jsonl" | "$LPX" import --db "$IT_TMP/fix.db" --grant-file "$IT_TMP/grants.txt" 2>/dev/null
stop_proxy
LP_DB=$IT_TMP/fix.db must_start_proxy --offline
for t in tokC tokD tokA; do
	get jadm2 "$t"
	check_status 200
	check_cache HIT
	check_body "$(job_completed jadm2)"
done
get jadm2 tokB
check_status 504
check_not "no raw token in the database" grep -q tokC "$IT_TMP/fix.db"
stop_proxy

tcase "stats: counts by type and status, and as JSON"
"$LPX" stats --db "$DB" >"$IT_TMP/stats.txt"
check_eq "exit status" "$?" 0
check_re "a line for finished videos" "$(cat "$IT_TMP/stats.txt")" 'video +completed +1'
check_re "a line for failed videos" "$(cat "$IT_TMP/stats.txt")" 'video +failed +1'
"$LPX" stats --db "$DB" --json >"$IT_TMP/stats.json"
check_eq "--json jobs" "$(jq -c '[.jobs[] | [.type, .status, .count]]' "$IT_TMP/stats.json")" \
    '[["image","completed",1],["video","completed",1],["video","failed",1],["video","pending",1]]'
check_eq "--json media" "$(jq -c .media "$IT_TMP/stats.json")" '{"mirrored":0,"pending":0,"failed":0}'
check "--json db_bytes is the size of the files" \
    test "$(jq .db_bytes "$IT_TMP/stats.json")" -ge "$(stat -c %s "$DB")"

tcase "purge JOBID: the job and its grants go"
LP_DB=$DB must_start_proxy --pending-interval 0
"$LPX" purge --db "$DB" jadm1 jnothere >"$IT_TMP/purge.out"
check_eq "exit status" "$?" 0
check_eq "what it says" "$(cat "$IT_TMP/purge.out")" "removed jadm1
1 job removed"
check_eq "no grant left" "$(sqlite3 "$DB" "SELECT count(*) FROM grants WHERE jobid = 'jadm1'")" 0
get jadm1 tokA
check_status 200
check_cache MISS
check_upstream jadm1 tokA 2

tcase "purge --older-than DAYS --status S"
"$LPX" purge --db "$DB" --older-than 0 --status failed >"$IT_TMP/purge2.out"
check_eq "removed the failed job only" "$(cat "$IT_TMP/purge2.out")" "removed jadm3 failed
1 job removed"
"$LPX" purge --db "$DB" --older-than 1 >"$IT_TMP/purge3.out"
check_eq "nothing a day old" "$(tail -1 "$IT_TMP/purge3.out")" "0 jobs removed"

tcase "the job counts follow imports and purges of other processes"
scrape "$IT_TMP/c1"
check_eq "completed jobs" "$(metric lumaproxy_cached_jobs status=completed)" 2
check_eq "pending jobs" "$(metric lumaproxy_cached_jobs status=pending)" 1
check_eq "failed jobs" "$(metric lumaproxy_cached_jobs status=failed)" 0
grep jadm3 "$IT_TMP/e1.jsonl" | "$LPX" import --db "$DB" 2>/dev/null
check_eq "import exit status" "$?" 0
"$LPX" purge --db "$DB" jadm2 >/dev/null
scrape "$IT_TMP/c2"
check_eq "failed, after the import" "$(metric lumaproxy_cached_jobs status=failed)" 1
check_eq "completed, after the purge" "$(metric lumaproxy_cached_jobs status=completed)" 1
stop_proxy
LP_DB=$DB must_start_proxy
check "the start line counts them" grep -q "(3 jobs, 2 finished)" "$LP_ERR"
stop_proxy

tcase "bad command lines: exit 2; a missing database: exit 1"
"$LPX" purge --db "$DB" 2>/dev/null; check_eq "purge without jobids" "$?" 2
"$LPX" purge --db "$DB" --older-than 1 jadm2 2>/dev/null; check_eq "purge with both" "$?" 2
"$LPX" purge --db "$DB" 'bad/id' 2>/dev/null; check_eq "purge of an invalid jobid" "$?" 2
"$LPX" export --db "$DB" --grant x 2>/dev/null; check_eq "export --grant" "$?" 2
"$LPX" stats --db "$IT_TMP/none.db" 2>"$IT_TMP/none.err"; check_eq "stats of a missing file" "$?" 1
check_not "which is not created" test -e "$IT_TMP/none.db"
printf 'not a database' >"$IT_TMP/foreign.db"
"$LPX" export --db "$IT_TMP/foreign.db" 2>/dev/null; check_eq "export of a foreign file" "$?" 1
check_eq "which is left alone" "$(cat "$IT_TMP/foreign.db")" "not a database"

finish
