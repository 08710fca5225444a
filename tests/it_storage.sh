#!/usr/bin/env bash
# SPEC 5, 6: a database that is not a lumaproxy cache, is corrupt or comes
# from a newer version is refused (one line on stderr, non-zero exit) and
# left byte for byte as it was.
. "${TESTS_SRCDIR:-$(dirname "$0")}/lib.sh"

need_works sqlite3 sqlite3 :memory: 'SELECT 1'
need_cmd sha256sum
start_fakeup

# refused FILE DESC: lumaproxy refuses FILE as its database, unchanged.
refused() {
	local before after
	before=$(sha256sum <"$1")
	run_proxy_fail -l 127.0.0.1:0 -u "$FAKE" -d "$1"
	after=$(sha256sum <"$1")
	check_not "$2: exit status is not 0 (got $RUN_RC)" [ "$RUN_RC" -eq 0 ]
	check_not "$2: it did not run until the time limit" [ "$RUN_RC" -eq 124 ]
	check_eq "$2: lines on stderr" "$(wc -l <"$RUN_ERR")" 1
	check_re "$2: the line names the file" "$(cat "$RUN_ERR")" "$(basename "$1")"
	check_eq "$2: file unchanged (sha256)" "$after" "$before"
	check_not "$2: not listening" grep -q "listening on" "$RUN_ERR"
	echo "# $2: $(cat "$RUN_ERR")"
}

tcase "a text file"
printf 'hello, this is not a database\n%.0s' $(seq 1 100) >"$IT_TMP/text.db"
refused "$IT_TMP/text.db" "text file"

tcase "random bytes"
head -c 8192 /dev/urandom >"$IT_TMP/random.db"
refused "$IT_TMP/random.db" "random bytes"

tcase "a SQLite database of another application"
sqlite3 "$IT_TMP/foreign.db" "CREATE TABLE customers (id INTEGER PRIMARY KEY, name TEXT);
    INSERT INTO customers (name) VALUES ('alice'), ('bob');"
refused "$IT_TMP/foreign.db" "foreign SQLite database"
check_eq "its rows are intact" "$(sqlite3 "$IT_TMP/foreign.db" 'SELECT count(*) FROM customers')" 2

tcase "a SQLite database with a foreign table named like ours"
sqlite3 "$IT_TMP/lookalike.db" "CREATE TABLE jobs (x); INSERT INTO jobs VALUES (1);"
refused "$IT_TMP/lookalike.db" "foreign table named jobs"

tcase "a lumaproxy database from a newer version"
LP_DB=$IT_TMP/newer.db
must_start_proxy
fake_job jst "" '{"status":"completed"}'
get jst
check_status 200
stop_proxy
check_eq "clean exit" "$LP_RC" 0
v=$(sqlite3 "$IT_TMP/newer.db" 'PRAGMA user_version')
check_re "user_version of a fresh database" "$v" '^[1-9][0-9]*$'
sqlite3 "$IT_TMP/newer.db" "PRAGMA user_version = $((v + 1))"
rm -f "$IT_TMP/newer.db-wal" "$IT_TMP/newer.db-shm"
refused "$IT_TMP/newer.db" "newer schema version"
check_eq "user_version kept" "$(sqlite3 "$IT_TMP/newer.db" 'PRAGMA user_version')" "$((v + 1))"

tcase "a corrupt lumaproxy database"
LP_DB=$IT_TMP/corrupt.db
must_start_proxy
for i in $(seq 1 30); do
	fake_job "jc$i" "" "$(job_completed "jc$i")"
	get "jc$i"
done
stop_proxy
check_eq "clean exit" "$LP_RC" 0
size=$(stat -c %s "$IT_TMP/corrupt.db")
check_re "database size" "$size" '^[0-9]{5,}$'
# Garbage over every page but the first (the header stays valid).
page=$(sqlite3 "$IT_TMP/corrupt.db" 'PRAGMA page_size')
head -c $((size - page)) /dev/urandom |
	dd of="$IT_TMP/corrupt.db" bs="$page" seek=1 conv=notrunc status=none
refused "$IT_TMP/corrupt.db" "corrupt database"

tcase "damage past what opening reads: found when read, then /healthz says 503"
pad=$(printf '%0500d' 0)
for i in $(seq -w 1 2000); do
	printf '{"jobid":"jd%s","type":"video","status":"completed","fetched_at":"2026-01-01T00:00:00.000Z","grants":[],"body":"{\\"jobid\\":\\"jd%s\\",\\"type\\":\\"video\\",\\"status\\":\\"completed\\",\\"pad\\":\\"%s\\"}"}\n' \
	    "$i" "$i" "$pad"
done | "$LUMAPROXY" import --db "$IT_TMP/damaged.db" --grant tokA 2>/dev/null
check_eq "import exit status" "$?" 0
sqlite3 "$IT_TMP/damaged.db" 'PRAGMA journal_mode = DELETE' >/dev/null
size=$(stat -c %s "$IT_TMP/damaged.db")
page=$(sqlite3 "$IT_TMP/damaged.db" 'PRAGMA page_size')
# Garbage over the last third of the pages: the last jobs written.
head -c $((size / page / 3 * page)) /dev/zero | tr '\0' '\245' |
	dd of="$IT_TMP/damaged.db" bs="$page" seek=$((size / page - size / page / 3)) \
	conv=notrunc status=none
LP_DB=$IT_TMP/damaged.db must_start_proxy --offline
http "$LP/healthz"
check_status 200
get jd0001
check_status 200
check_cache HIT
get jd2000
check_status 504
check "the failed read is logged" grep -q "lookup of jd2000 failed" "$LP_ERR"
http "$LP/healthz"
check_status 503
get jd0001
check_status 200
http "$LP/healthz"
check_status 503
stop_proxy

tcase "a directory, and a path in a missing directory"
mkdir "$IT_TMP/dir.db"
run_proxy_fail -l 127.0.0.1:0 -u "$FAKE" -d "$IT_TMP/dir.db"
check_not "directory: exit status is not 0" [ "$RUN_RC" -eq 0 ]
check_eq "directory: lines on stderr" "$(wc -l <"$RUN_ERR")" 1
run_proxy_fail -l 127.0.0.1:0 -u "$FAKE" -d "$IT_TMP/missing/lp.db"
check_not "missing directory: exit status is not 0" [ "$RUN_RC" -eq 0 ]
check_not "missing directory: not timed out" [ "$RUN_RC" -eq 124 ]
check_eq "missing directory: lines on stderr" "$(wc -l <"$RUN_ERR")" 1
check_not "missing directory: not created" [ -e "$IT_TMP/missing" ]

tcase "a fresh database is created, in WAL mode, with a schema version"
LP_DB=$IT_TMP/fresh.db
must_start_proxy
check "the file exists" [ -f "$IT_TMP/fresh.db" ]
check_eq "journal_mode" "$(sqlite3 "$IT_TMP/fresh.db" 'PRAGMA journal_mode')" wal
stop_proxy
check_re "user_version" "$(sqlite3 "$IT_TMP/fresh.db" 'PRAGMA user_version')" '^[1-9]'

tcase "the database file removed or replaced under a running proxy: /healthz says so"
LP_DB=$IT_TMP/moved.db
must_start_proxy
http "$LP/healthz"
check_status 200
mv "$IT_TMP/moved.db" "$IT_TMP/moved-away.db"
http "$LP/healthz"
check_status 503
check_body '{"error":"Database file removed or replaced"}'
check "the log says which file" grep -qF "database file $IT_TMP/moved.db was removed or replaced" "$LP_ERR"
cp "$IT_TMP/moved-away.db" "$IT_TMP/moved.db"
http "$LP/healthz"
check_eq "another file in its place: status" "$STATUS" 503
stop_proxy
check_eq "exit status" "$LP_RC" 0
must_start_proxy
http "$LP/healthz"
check_eq "after a restart on the file there now: status" "$STATUS" 200
stop_proxy

finish
