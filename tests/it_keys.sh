#!/usr/bin/env bash
# SPEC 10: the keys and usage commands.  Keys are printed once, in their
# form, and only their SHA-256 reaches the database; list, log and usage
# print what SPEC says, in text and JSON; defaults come from --default-*
# and a -c file; bad command lines change nothing; every change is logged
# and counted in members_version; changes wait for other writers (another
# program, each other, a running server) instead of failing.
. "${TESTS_SRCDIR:-$(dirname "$0")}/lib.sh"

need_works jq jq -n true
need_works sqlite3 sqlite3 :memory: 'SELECT 1'
need_python

DB=$IT_TMP/keys.db
K_OUT=$IT_TMP/k.out
K_ERR=$IT_TMP/k.err
KEYS=()				# every key printed, for the search at the end
KEY_RE='^lp_[A-Za-z0-9_-]{43}$'
TIME_RE='^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z$'

# lpk ARGS...: lumaproxy ARGS (20 s at most); sets K_RC, and K_OUT and
# K_ERR hold its stdout and stderr.
lpk() {
	LAST_REQ="lumaproxy $*"
	timeout 20 "$LUMAPROXY" "$@" >"$K_OUT" 2>"$K_ERR" </dev/null
	K_RC=$?
}

# keys ARGS...: lumaproxy keys ARGS on $DB.
keys() {
	lpk keys --db "$DB" "$@"
}

# sql QUERY: sqlite3's answer on $DB.
sql() {
	sqlite3 "$DB" "$1"
}

sha256_str() {
	printf '%s' "$1" | sha256sum | cut -c1-64
}

# db_state: a digest of everything in $DB.
db_state() {
	sqlite3 "$DB" .dump | sha256sum
}

# got_key WHAT: the last command printed one key alone; sets KEY.
got_key() {
	KEY=$(cat "$K_OUT")
	check_eq "$1: exit status" "$K_RC" 0
	check_eq "$1: lines on stdout" "$(wc -l <"$K_OUT")" 1
	check_re "$1: the key" "$KEY" "$KEY_RE"
	check_re "$1: stderr says it is shown once" "$(cat "$K_ERR")" "only"
	KEYS+=("$KEY")
}

# member NAME FIELD: FIELD of NAME in keys list --json.
member() {
	keys list --json
	jq -r --arg n "$1" ".[] | select(.name == \$n) | .$2" "$K_OUT"
}

# in_range N LO HI: LO <= N <= HI.
in_range() {
	[ "$1" -ge "$2" ] && [ "$1" -le "$3" ]
}

# refused DESC RC REGEX ARGS...: keys ARGS exits with RC and one line on
# stderr matching REGEX, prints nothing, and the database is unchanged.
refused() {
	local desc=$1 rc=$2 re=$3 before
	shift 3
	before=$(db_state)
	keys "$@"
	check_eq "$desc: exit status" "$K_RC" "$rc"
	check_eq "$desc: lines on stderr" "$(wc -l <"$K_ERR")" 1
	check_re "$desc: the line" "$(head -n 1 "$K_ERR")" "$re"
	check_eq "$desc: stdout" "$(head -c 200 "$K_OUT")" ""
	check_eq "$desc: database unchanged" "$(db_state)" "$before"
}

tcase "without a database: only keys add makes one"
for sub in list log "set alice --rpm 1" "revoke alice" "rotate alice"; do
	# shellcheck disable=SC2086
	keys $sub
	check_eq "keys $sub: exit status" "$K_RC" 1
	check_re "keys $sub: says so" "$(cat "$K_ERR")" "keys\.db: no such database$"
	check_not "keys $sub: no file made" [ -e "$DB" ]
done
lpk usage --db "$DB"
check_eq "usage: exit status" "$K_RC" 1
check_re "usage: says so" "$(cat "$K_ERR")" "^lumaproxy usage: .*keys\.db: no such database$"
check_not "usage: no file made" [ -e "$DB" ]
keys add 'bad name'
check_eq "keys add with a bad name: exit status" "$K_RC" 2
check_not "keys add with a bad name: no file made" [ -e "$DB" ]

tcase "keys add: a new key, printed once, its SHA-256 stored"
t0=$(date +%s)
keys add alice
got_key "add alice"
ALICE=$KEY
check "the database was made" [ -f "$DB" ]
check_eq "key_hash is the SHA-256 of the key" \
    "$(sql "SELECT key_hash FROM members WHERE name = 'alice'")" "$(sha256_str "$ALICE")"
check_eq "the row" "$(sql "SELECT admin, rpm, max_running, daily_credits,
    coalesce(expires, 'null'), coalesce(last_used, 'null'),
    coalesce(old_key_hash, 'null') FROM members WHERE name = 'alice'")" \
    "0|0|0|0|null|null|null"
created=$(sql "SELECT created / 1000 FROM members WHERE name = 'alice'")
check "created is now" in_range "$created" "$t0" "$(date +%s)"
keys add bob --admin --rpm 5 --max-running 2 --daily-credits 300 --expires 2030-01-02
got_key "add bob with every option"
BOB=$KEY
check_not "another key" [ "$BOB" = "$ALICE" ]
check_eq "bob's row" "$(sql "SELECT admin, rpm, max_running, daily_credits,
    expires FROM members WHERE name = 'bob'")" "1|5|2|300|1893542400000"
keys --rpm 7 add carol --max-running=1
got_key "options before and after the words"
check_eq "carol's limits" "$(sql "SELECT rpm, max_running FROM members
    WHERE name = 'carol'")" "7|1"
keys add "$(printf 'n%.0s' {1..64})"
got_key "a 64-character name"
keys add 'A-Za-z0-9._'
got_key "a name of every kind of character"

tcase "limits not given come from --default-* and from a -c file"
keys add dan --default-rpm 9 --default-max-running 8 --default-daily-credits 70
got_key "add dan with --default-*"
check_eq "dan's limits" "$(sql "SELECT rpm, max_running, daily_credits FROM
    members WHERE name = 'dan'")" "9|8|70"
keys add eve --default-rpm 9 --rpm 1
got_key "add eve with --rpm and --default-rpm"
check_eq "--rpm beats --default-rpm" "$(sql "SELECT rpm FROM members WHERE name = 'eve'")" 1
cat >"$IT_TMP/gw.conf" <<EOF
# the server's file, read by keys too
listen = 127.0.0.1:0
db = $DB
default-rpm = 4
default-max-running = 3
default-daily-credits = 50
EOF
lpk keys -c "$IT_TMP/gw.conf" add fay
got_key "keys -c FILE add fay"
check_eq "fay's limits from the file, in the file's database" \
    "$(sql "SELECT rpm, max_running, daily_credits FROM members WHERE name = 'fay'")" "4|3|50"
lpk keys add gus -c "$IT_TMP/gw.conf" --default-rpm 6
got_key "keys add gus -c FILE --default-rpm 6"
check_eq "the command line beats the file" \
    "$(sql "SELECT rpm, max_running FROM members WHERE name = 'gus'")" "6|3"

tcase "bad command lines: one line, a non-zero exit, nothing changed"
refused "empty name" 2 "name cannot be empty" add ''
refused "a space in the name" 2 "invalid name 'a b'" add 'a b'
refused "a slash in the name" 2 "invalid name" add 'a/b'
refused "a non-ASCII name" 2 "invalid name" add "caf$(printf '\303\251')"
refused "65 characters" 2 "at most 64 characters" add "$(printf 'n%.0s' {1..65})"
refused "a name taken" 1 "alice: there is a member of that name already" add alice
refused "a bad date" 2 "--expires: not an ISO 8601" add hal --expires tomorrow
refused "no such day" 2 "--expires: not an ISO 8601" add hal --expires 2026-02-30
refused "a negative --rpm" 2 "--rpm" add hal --rpm -1
refused "a negative --max-running" 2 "--max-running" add hal --max-running=-5
refused "a negative --daily-credits" 2 "--daily-credits" set alice --daily-credits -1
refused "a negative --grace" 2 "--grace" rotate alice --grace -1
refused "a bad --admin" 2 "--admin" set alice --admin=maybe
refused "unknown subcommand" 2 "unknown subcommand 'delete'" delete alice
for sub in add set revoke rotate; do
	refused "$sub without NAME" 2 "keys $sub: NAME is missing" "$sub"
done
refused "list with a word" 2 "unexpected word 'x'" list x
refused "log with a word" 2 "unexpected word 'x'" log x
refused "add with two names" 2 "unexpected word 'hal2'" add hal hal2
refused "revoke with two names" 2 "unexpected word 'bob'" revoke alice bob
refused "list --rpm" 2 "--rpm does not go with list" list --rpm 1
refused "rotate --admin" 2 "--admin does not go with rotate" rotate alice --admin
refused "add --grace" 2 "--grace does not go with add" add hal --grace 5
refused "revoke --json" 2 "--json does not go with revoke" revoke alice --json
refused "set with nothing to set" 2 "nothing to change" set alice
refused "set of an unknown name" 1 "nobody: no such member" set nobody --rpm 1
refused "revoke of an unknown name" 1 "nobody: no such member" revoke nobody
refused "rotate of an unknown name" 1 "nobody: no such member" rotate nobody
refused "set with a bad name" 2 "invalid name" set 'a;b' --rpm 1
before=$(db_state)
keys
check_eq "keys alone: exit status" "$K_RC" 2
check_re "keys alone: says what to do" "$(head -n 1 "$K_ERR")" "say what to do"
check_eq "keys alone: database unchanged" "$(db_state)" "$before"

tcase "keys set changes only what is given"
keys set alice --rpm 10
check_eq "exit status" "$K_RC" 0
check_eq "alice's row" "$(sql "SELECT admin, rpm, max_running, daily_credits,
    coalesce(expires, 'null') FROM members WHERE name = 'alice'")" "0|10|0|0|null"
check_eq "the key is kept" "$(sql "SELECT key_hash FROM members WHERE name = 'alice'")" \
    "$(sha256_str "$ALICE")"
keys set alice --admin --expires 2031-02-03T04:05:06Z --max-running 4
check_eq "set --admin --expires --max-running" "$(sql "SELECT admin, rpm,
    max_running, expires FROM members WHERE name = 'alice'")" "1|10|4|1927857906000"
keys set alice --admin=false --daily-credits 0
check_eq "set --admin=false" "$(sql "SELECT admin, daily_credits FROM members
    WHERE name = 'alice'")" "0|0"
keys set --rpm 0 alice
check_eq "options before the words" "$(sql "SELECT rpm FROM members WHERE name = 'alice'")" 0

tcase "keys rotate: a new key; the old one for the grace period only"
old=$(sql "SELECT key_hash FROM members WHERE name = 'bob'")
keys rotate bob
got_key "rotate bob"
check_not "a new key" [ "$KEY" = "$BOB" ]
check_eq "without --grace: new hash, no old one" "$(sql "SELECT key_hash,
    coalesce(old_key_hash, 'null'), coalesce(old_key_until, 'null')
    FROM members WHERE name = 'bob'")" "$(sha256_str "$KEY")|null|null"
check_re "stderr: the old key stops" "$(cat "$K_ERR")" "no longer works"
check_eq "the rest of bob is kept" "$(sql "SELECT admin, rpm, max_running,
    daily_credits FROM members WHERE name = 'bob'")" "1|5|2|300"
BOB=$KEY
t0=$(now_ms)
keys rotate bob --grace 60
got_key "rotate bob --grace 60"
t1=$(now_ms)
check_eq "with --grace: the old hash kept" "$(sql "SELECT key_hash || '|' ||
    old_key_hash FROM members WHERE name = 'bob'")" "$(sha256_str "$KEY")|$(sha256_str "$BOB")"
until=$(sql "SELECT old_key_until FROM members WHERE name = 'bob'")
check "old_key_until is 60 s from now" in_range "$until" $((t0 + 60000)) $((t1 + 60000))
check_re "stderr: until when" "$(cat "$K_ERR")" "works until [0-9-]+T[0-9:]+Z"
keys rotate bob --grace 0
got_key "rotate bob --grace 0"
check_eq "--grace 0: no old hash" "$(sql "SELECT coalesce(old_key_hash, 'null')
    FROM members WHERE name = 'bob'")" null

tcase "keys revoke deletes the member"
keys revoke carol
check_eq "exit status" "$K_RC" 0
check_eq "carol's row" "$(sql "SELECT count(*) FROM members WHERE name = 'carol'")" 0
check_eq "stdout" "$(cat "$K_OUT")" ""
refused "revoke again" 1 "carol: no such member" revoke carol

tcase "keys list --json: one array of members, never a key"
sql "UPDATE members SET last_used = 1767225600000 WHERE name = 'dan'"
keys list --json
check_eq "exit status" "$K_RC" 0
check_eq "one line" "$(wc -l <"$K_OUT")" 1
check_eq "an array of objects" "$(jq -r 'type + " " + (map(type) | unique | join(","))' "$K_OUT")" "array object"
check_eq "the keys of each member, in order" \
    "$(jq -c '[.[] | keys_unsorted] | unique' "$K_OUT")" \
    '[["name","admin","rpm","max_running","daily_credits","created","expires","last_used"]]'
check_eq "names, sorted" "$(jq -r '.[].name' "$K_OUT" | tr '\n' ' ')" \
    "A-Za-z0-9._ alice bob dan eve fay gus $(printf 'n%.0s' {1..64}) "
check_eq "bob" "$(jq -c '.[] | select(.name == "bob") | del(.created)' "$K_OUT")" \
    '{"name":"bob","admin":true,"rpm":5,"max_running":2,"daily_credits":300,"expires":"2030-01-02T00:00:00Z","last_used":null}'
check_eq "dan's last use" "$(jq -r '.[] | select(.name == "dan") | .last_used' "$K_OUT")" \
    "2026-01-01T00:00:00Z"
check_eq "types" "$(jq -r '[.[] | [(.admin | type), (.rpm | type),
    (.max_running | type), (.daily_credits | type)]] | flatten | unique | join(",")' "$K_OUT")" \
    "boolean,number"
check_eq "created: ISO 8601 UTC" \
    "$(jq -r '.[].created | test("^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z$")' "$K_OUT" | sort -u)" true
check_eq "created is the row's" \
    "$(jq -r '.[] | select(.name == "alice") | .created | fromdateiso8601' "$K_OUT")" \
    "$(sql "SELECT created / 1000 FROM members WHERE name = 'alice'")"
check_not "no hash in the list" grep -Eq '[0-9a-f]{64}' "$K_OUT"
check_not "no key in the list" grep -q 'lp_' "$K_OUT"

tcase "keys list: an aligned table"
keys list
check_eq "exit status" "$K_RC" 0
check_re "the header" "$(head -n 1 "$K_OUT")" '^name +admin +rpm +max_running +daily_credits +created +expires +last_used$'
check_eq "a line per member" "$(($(wc -l <"$K_OUT") - 1))" "$(sql "SELECT count(*) FROM members")"
check_re "bob's line" "$(grep '^bob ' "$K_OUT")" '^bob +yes +5 +2 +300 +[0-9T:-]+Z +2030-01-02T00:00:00Z +never$'
check_re "alice's line" "$(grep '^alice ' "$K_OUT")" '^alice +no +unlimited +4 +unlimited +[0-9T:-]+Z +2031-02-03T04:05:06Z +never$'
# Aligned: every line has its created time where the header says created.
col=$(head -n 1 "$K_OUT" | awk '{ print index($0, "created") }')
check_eq "the created column" "$(tail -n +2 "$K_OUT" | awk -v c="$col" \
    '{ print (substr($0, c, 2) == "20") }' | sort -u)" 1
check_not "no key in the table" grep -q 'lp_' "$K_OUT"

tcase "keys log: every change, in order"
nchanges=$(sql "SELECT count(*) FROM members_log")
# adds: alice bob carol n*64 A-Z... dan eve fay gus = 9; sets 4; rotates 3; revoke 1
check_eq "log rows" "$nchanges" 17
check_eq "members_version counts the changes" "$(sql "SELECT version FROM members_version")" 17
keys log
check_eq "exit status" "$K_RC" 0
check_eq "a line per change" "$(wc -l <"$K_OUT")" 17
check_re "the first line" "$(head -n 1 "$K_OUT")" \
    '^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z add alice admin=no rpm=0 max_running=0 daily_credits=0 expires=never$'
check_re "bob's add" "$(grep -m1 ' add bob ' "$K_OUT")" \
    ' add bob admin=yes rpm=5 max_running=2 daily_credits=300 expires=2030-01-02T00:00:00Z$'
check_eq "the actions, in order" "$(cut -d' ' -f2 "$K_OUT" | uniq -c | awk '{ print $2 "x" $1 }' | tr '\n' ' ')" \
    "addx9 setx4 rotatex3 revokex1 "
check_re "set's changes" "$(grep ' set alice ' "$K_OUT" | head -n 1)" ' set alice rpm 0 -> 10$'
check_re "set's changes, several" "$(grep ' set alice ' "$K_OUT" | sed -n 2p)" \
    ' set alice admin no -> yes, max_running 0 -> 4, expires never -> 2031-02-03T04:05:06Z$'
check_re "rotate's changes" "$(grep ' rotate bob ' "$K_OUT" | sed -n 2p)" ' rotate bob grace 60 s$'
check_re "revoke's line" "$(grep ' revoke ' "$K_OUT")" ' revoke carol admin=no rpm=7 max_running=1 '
keys log --json
check_eq "--json: a line per change" "$(wc -l <"$K_OUT")" 17
check_eq "--json: the keys of each line" "$(jq -c keys_unsorted "$K_OUT" | sort -u)" \
    '["time","action","name","changes"]'
check_eq "--json: times" "$(jq -r '.time | test("^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z$")' "$K_OUT" | sort -u)" true
check_eq "--json: the last line" "$(tail -n 1 "$K_OUT" | jq -c 'del(.time)')" \
    '{"action":"revoke","name":"carol","changes":"admin=no rpm=7 max_running=1 daily_credits=0 expires=never"}'
check_not "no key in the log" grep -q 'lp_' "$K_OUT"

tcase "usage: per member, from the usage table"
now_hour=$(($(date +%s) / 3600))
sql "INSERT INTO usage (name, hour, requests, hits, upstream_calls,
    submissions, completed, failed, credits, refused_rpm, refused_running,
    refused_credits) VALUES
    ('alice', $now_hour, 10, 4, 6, 3, 2, 1, 40, 1, 2, 3),
    ('alice', $((now_hour - 1)), 1, 1, 0, 0, 0, 0, 0.5, 0, 0, 0),
    ('alice', 400000, 100, 0, 100, 0, 0, 0, 0, 0, 0, 0),
    ('ghost', 400000, 5, 5, 0, 0, 0, 0, 0, 0, 0, 0),
    ('bob', $now_hour, 2, 0, 2, 1, 0, 0, 0, 0, 0, 0)"
lpk usage --db "$DB" --json
check_eq "exit status" "$K_RC" 0
check_eq "one object with members" "$(jq -c 'keys_unsorted' "$K_OUT")" '["members"]'
check_eq "every member and every name with usage, sorted" \
    "$(jq -r '.members[].name' "$K_OUT" | tr '\n' ' ')" \
    "A-Za-z0-9._ alice bob dan eve fay ghost gus $(printf 'n%.0s' {1..64}) "
check_eq "the keys of a member" "$(jq -c '[.members[] | keys_unsorted] | unique' "$K_OUT")" \
    '[["name","requests","hits","upstream_calls","submissions","completed","failed","credits","refused"]]'
check_eq "alice, all time" "$(jq -c '.members[] | select(.name == "alice")' "$K_OUT")" \
    '{"name":"alice","requests":111,"hits":5,"upstream_calls":106,"submissions":3,"completed":2,"failed":1,"credits":40.5,"refused":{"rpm":1,"max_running":2,"daily_credits":3}}'
check_eq "a member without usage" "$(jq -c '.members[] | select(.name == "dan")' "$K_OUT")" \
    '{"name":"dan","requests":0,"hits":0,"upstream_calls":0,"submissions":0,"completed":0,"failed":0,"credits":0,"refused":{"rpm":0,"max_running":0,"daily_credits":0}}'
check_eq "a revoked member's usage" "$(jq -c '.members[] | select(.name == "ghost") | [.requests, .hits]' "$K_OUT")" '[5,5]'
since=$(date -u -d "@$((now_hour * 3600 + 60))" +%Y-%m-%dT%H:%M:%SZ)
lpk usage --json --since "$since" --db "$DB"
check_eq "--since: exit status" "$K_RC" 0
check_eq "--since: from the hour that holds it" \
    "$(jq -c '.members[] | select(.name == "alice") | [.requests, .credits]' "$K_OUT")" '[10,40]'
check_eq "--since: no line for a name with no usage then" \
    "$(jq -r '.members[].name' "$K_OUT" | grep -c ghost)" 0
lpk usage --json --since 2999-01-01 --db "$DB"
check_eq "--since in the future: members, all zero" \
    "$(jq -c '[.members[] | .requests] | unique' "$K_OUT")" '[0]'
lpk usage --db "$DB"
check_eq "text: exit status" "$K_RC" 0
check_re "text: the headings" "$(sed -n 2p "$K_OUT")" \
    '^name +requests +hits +upstream +submissions +completed +failed +credits +rpm +max_running +daily_credits$'
check_re "text: over the refusals" "$(head -n 1 "$K_OUT")" '^ +-+ refused -+$'
check_re "text: alice" "$(grep '^alice ' "$K_OUT")" '^alice +111 +5 +106 +3 +2 +1 +40\.5 +1 +2 +3$'
check_eq "text: a line per name" "$(($(wc -l <"$K_OUT") - 2))" 9
check_eq "text: right-aligned under the headings" \
    "$(awk 'NR >= 2 { print length($0) }' "$K_OUT" | sort -u)" "$(sed -n 2p "$K_OUT" | awk '{ print length($0) }')"
lpk usage --db "$DB" extra
check_eq "usage with a word: exit status" "$K_RC" 2
lpk usage --db "$DB" --since yesterday
check_eq "usage with a bad date: exit status" "$K_RC" 2

# hold SECONDS: another program holds a write transaction on $DB for that long.
hold() {
	: >"$IT_TMP/hold.out"	# not the "holding" of the one before
	"$IT_PYTHON" - "$DB" "$1" >"$IT_TMP/hold.out" 2>&1 <<'EOF' &
import sqlite3, sys, time
db = sqlite3.connect(sys.argv[1], isolation_level=None, timeout=10)
db.execute("BEGIN IMMEDIATE")
db.execute("UPDATE members_version SET version = version")
print("holding", flush=True)
time.sleep(float(sys.argv[2]))	# the lock held that long is the test
db.execute("COMMIT")
print("released", flush=True)
EOF
	HOLD_PID=$!
	IT_PIDS+=("$HOLD_PID")
	wait_line "$IT_TMP/hold.out" '^holding$' "$HOLD_PID" >/dev/null ||
		die "the writer did not start: $(cat "$IT_TMP/hold.out")"
}

# keys_bg N ARGS...: keys ARGS in the background, output in $IT_TMP/bg.N.*
keys_bg() {
	local n=$1
	shift
	timeout 30 "$LUMAPROXY" keys --db "$DB" "$@" >"$IT_TMP/bg.$n.out" \
	    2>"$IT_TMP/bg.$n.err" </dev/null &
	BG_PIDS+=($!)
}

# bg_wait: waits for the keys_bg commands; checks each one's exit status.
bg_wait() {
	local i
	for i in "${!BG_PIDS[@]}"; do
		wait "${BG_PIDS[$i]}"
		check_eq "command $i: exit status" "$?" 0
	done
	BG_PIDS=()
}

tcase "two adds and a set while another program writes: all of them wait, none is lost"
v0=$(sql "SELECT version FROM members_version")
hold 1.2
t0=$(now_ms)
BG_PIDS=()
keys_bg 0 add conc1
keys_bg 1 add conc2
keys_bg 2 set alice --rpm 3
keys_bg 3 list
bg_wait
took=$(($(now_ms) - t0))
check "they waited for the writer (${took} ms)" [ "$took" -ge 900 ]
check_lt "they were done soon after" "$took" 10000
wait "$HOLD_PID" 2>/dev/null
_forget "$HOLD_PID"
check_eq "no 'locked' on stderr" "$(cat "$IT_TMP"/bg.*.err | grep -ci 'lock')" 0
check_re "the first key" "$(cat "$IT_TMP/bg.0.out")" "$KEY_RE"
check_re "the second key" "$(cat "$IT_TMP/bg.1.out")" "$KEY_RE"
KEYS+=("$(cat "$IT_TMP/bg.0.out")" "$(cat "$IT_TMP/bg.1.out")")
check_eq "both members" "$(sql "SELECT group_concat(name) FROM members WHERE name LIKE 'conc%' ORDER BY name")" "conc1,conc2"
check_eq "the set" "$(sql "SELECT rpm FROM members WHERE name = 'alice'")" 3
check_eq "three changes counted" "$(sql "SELECT version FROM members_version")" $((v0 + 3))
check_eq "three changes logged" "$(sql "SELECT count(*) FROM members_log")" $((nchanges + 3))

tcase "many changes at once: none lost"
v0=$(sql "SELECT version FROM members_version")
BG_PIDS=()
for i in 0 1 2 3 4 5; do keys_bg "$i" add "many$i"; done
keys_bg 6 set bob --rpm 11
keys_bg 7 set bob --max-running 12
keys_bg 8 rotate eve
bg_wait
check_eq "no 'locked' on stderr" "$(cat "$IT_TMP"/bg.*.err | grep -ci 'lock')" 0
check_eq "six members" "$(sql "SELECT count(*) FROM members WHERE name LIKE 'many%'")" 6
check_eq "both sets, neither lost" "$(sql "SELECT rpm, max_running FROM members WHERE name = 'bob'")" "11|12"
check_eq "nine changes counted" "$(sql "SELECT version FROM members_version")" $((v0 + 9))
for i in 0 1 2 3 4 5 8; do KEYS+=("$(cat "$IT_TMP/bg.$i.out")"); done

tcase "keys add by several commands creating one database"
for round in 1 2 3; do
	DB=$IT_TMP/new$round.db
	BG_PIDS=()
	keys_bg 0 add first
	keys_bg 1 add second
	keys_bg 2 add third
	bg_wait
	check_eq "round $round: no 'locked' or other error" "$(cat "$IT_TMP"/bg.[012].err | grep -vc 'shown only')" 0
	check_eq "round $round: three members" "$(sql "SELECT count(*) FROM members")" 3
	check_eq "round $round: three changes" "$(sql "SELECT version FROM members_version")" 3
done
DB=$IT_TMP/keys.db

tcase "keys and usage while a server runs on the database"
start_fakeup
LP_DB=$DB must_start_proxy
v0=$(sql "SELECT version FROM members_version")
keys add srv1 --rpm 2
got_key "add while serving"
keys set srv1 --rpm 3
check_eq "set while serving: exit status" "$K_RC" 0
keys rotate srv1 --grace 30
got_key "rotate while serving"
keys list --json
check_eq "list while serving" "$(jq -c '.[] | select(.name == "srv1") | .rpm' "$K_OUT")" 3
keys revoke srv1
check_eq "revoke while serving: exit status" "$K_RC" 0
lpk usage --db "$DB" --json
check_eq "usage while serving: exit status" "$K_RC" 0
BG_PIDS=()
keys_bg 0 add srv2
keys_bg 1 add srv3
for i in 1 2 3 4 5; do get "jsrv$i" >/dev/null; done
bg_wait
KEYS+=("$(cat "$IT_TMP/bg.0.out")" "$(cat "$IT_TMP/bg.1.out")")
check_eq "six changes counted" "$(sql "SELECT version FROM members_version")" $((v0 + 6))
http "$LP/healthz"
check_status 200
check "the server keeps its -wal file" [ -f "$DB-wal" ]
for k in "${KEYS[@]}"; do
	if grep -aqF -- "$k" "$DB" "$DB-wal" "$DB-shm" 2>/dev/null; then
		fail "a key is in the database files: $k"
	fi
	if grep -aqF -- "${k#lp_}" "$DB" "$DB-wal" "$DB-shm" 2>/dev/null; then
		fail "a key's base64 is in the database files: $k"
	fi
done
pass "none of the ${#KEYS[@]} keys printed is in the database files, -wal included"
check_eq "each member's key_hash is 64 hex digits" \
    "$(sql "SELECT count(*) FROM members WHERE key_hash NOT GLOB '*[^0-9a-f]*' AND length(key_hash) = 64")" \
    "$(sql "SELECT count(*) FROM members")"
stop_proxy
check_eq "the server's exit status" "$LP_RC" 0

# until_status KEY WANT: polls a job with KEY until the answer is WANT
# (3 s at most); sets WAITED (ms).
until_status() {
	local t0
	t0=$(now_ms)
	wait_for 3000 status_is "$1" "$2"
	WAITED=$(($(now_ms) - t0))
}

# status_is KEY WANT: a poll of the job with KEY answers WANT.
status_is() {
	get jgw "$1"
	[ "$STATUS" = "$2" ]
}

tcase "a gateway running on the database applies keys commands within a second"
DB=$IT_TMP/gw.db
UPTOKEN=up-token-$RANDOM
printf '%s\n' "$UPTOKEN" >"$IT_TMP/token"
chmod 600 "$IT_TMP/token"
fake_job jgw "owner=$UPTOKEN" "$(job_completed jgw)"
keys add admin0 --admin
got_key "add before the start"
LP_DB=$DB must_start_proxy --upstream-token-file "$IT_TMP/token"
until_status "$KEY" 200
check_status 200
keys add gw1 --admin
got_key "add while serving"
GW1=$KEY
until_status "$GW1" 200
check_status 200
check_lt "the new key works within (ms)" "$WAITED" 1500
keys rotate gw1
got_key "rotate while serving"
GW1B=$KEY
until_status "$GW1" 401
check_status 401
check_lt "the old key stops within (ms)" "$WAITED" 1500
get jgw "$GW1B"
check_eq "the new key works" "$STATUS" 200
keys rotate gw1 --grace 60
got_key "rotate with a grace period"
# The server has seen the rotation once the new key works.
until_status "$KEY" 200
check_eq "the new key works" "$STATUS" 200
get jgw "$GW1B"
check_eq "in its grace period the old key still works" "$STATUS" 200
get jgw "$KEY"
check_eq "so does the new one" "$STATUS" 200
keys set gw1 --expires 2020-01-01
check_eq "set --expires in the past: exit status" "$K_RC" 0
until_status "$KEY" 401
check_status 401
check_lt "an expired key stops within (ms)" "$WAITED" 1500
keys set gw1 --expires 2999-01-01
until_status "$KEY" 200
check_status 200
keys revoke gw1
until_status "$KEY" 401
check_status 401
check_lt "a revoked key stops within (ms)" "$WAITED" 1500
get jgw "$UPTOKEN"
check_eq "the upstream token is no member key" "$STATUS" 401
stop_proxy
check_eq "the gateway's exit status" "$LP_RC" 0
lpk usage --db "$DB" --json
check_eq "usage: exit status" "$K_RC" 0
check_re "usage: the revoked member's requests are reported" \
    "$(jq -r '.members[] | select(.name == "gw1") | .requests' "$K_OUT")" '^[1-9][0-9]*$'
check_re "usage: so are admin0's" \
    "$(jq -r '.members[] | select(.name == "admin0") | .requests' "$K_OUT")" '^[1-9][0-9]*$'
for k in "${KEYS[@]}" "$UPTOKEN"; do
	if grep -aqF -- "$k" "$DB" "$DB-wal" 2>/dev/null; then
		fail "a key or the token is in the gateway's database files: $k"
	fi
done
pass "no key or token in the gateway's database files"
DB=$IT_TMP/keys.db

tcase "--help prints the synopses"
lpk keys --help
check_eq "keys --help: exit status" "$K_RC" 0
check "keys --help: add" grep -qF 'add NAME [--admin] [--rpm N]' "$K_OUT"
check "keys --help: set" grep -qF 'set NAME [--admin[=false]] [--rpm N] [--max-running N]' "$K_OUT"
check "keys --help: rotate" grep -qF 'rotate NAME [--grace SECONDS]' "$K_OUT"
lpk usage --help
check_eq "usage --help: exit status" "$K_RC" 0
check "usage --help" grep -qF 'lumaproxy usage  [-c FILE] [--db PATH] [--since DATE] [--json]' "$K_OUT"

tcase "keys set --expires never takes an expiry away"
DB=$IT_TMP/never.db
keys add eve --expires 2030-01-02 >/dev/null
check_eq "add --expires: exit status" "$K_RC" 0
check_eq "an expiry" "$(sql "SELECT expires FROM members WHERE name = 'eve'")" 1893542400000
keys set eve --expires never
check_eq "set --expires never: exit status" "$K_RC" 0
check_eq "no expiry" "$(sql "SELECT coalesce(expires, 'null') FROM members WHERE name = 'eve'")" null
keys log
check_re "the log says so" "$(tail -1 "$K_OUT")" 'expires 2030-01-02T00:00:00Z -> never'
DB=$IT_TMP/keys.db

finish
