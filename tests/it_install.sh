#!/usr/bin/env bash
# make install (into a DESTDIR) puts the binary, the man page, the sample
# config and the systemd unit where configure said (or where make install's
# own prefix= says); the sample config and the man page cover every option
# of --help; the unit runs the installed binary with the installed config,
# and that command line starts and stops cleanly; systemd-analyze accepts
# the unit (when it is there); a reinstall keeps a changed config.
#
# Needs the build's directories, which tests/Makefile.am passes: run it
# with `make check TESTS=it_install.sh`.
IT_LIMIT=${IT_LIMIT:-180}
. "${TESTS_SRCDIR:-$(dirname "$0")}/lib.sh"

for v in TOP_BUILDDIR INST_BINDIR INST_SYSCONFDIR INST_MANDIR; do
	[ -n "${!v:-}" ] || skip_all "$v is not set (run it with make check TESTS=it_install.sh)"
done
: "${INST_UNITDIR:=}"
need_cmd make

DEST=$IT_TMP/root
BIN=$DEST$INST_BINDIR/lumaproxy
MAN=$DEST$INST_MANDIR/man1/lumaproxy.1
CONF=$DEST$INST_SYSCONFDIR/lumaproxy.conf
SAMPLE=$TESTS_SRCDIR/../etc/lumaproxy.conf

# make_top TARGET...: make in the top build directory, DESTDIR=$DEST, as if
# run by hand: the make check that runs this test must not leak its flags
# (jobserver, -k, -s) into it.
make_top() {
	(
		unset MAKEFLAGS MFLAGS MAKELEVEL MAKEOVERRIDES GNUMAKEFLAGS
		timeout 120 make -C "$TOP_BUILDDIR" "$@" DESTDIR="$DEST"
	) >>"$IT_TMP/make.log" 2>&1
}

# start_at ERRFILE BINARY ARGS...: starts BINARY ARGS in the background as
# the proxy under test (LP_PID, LP_ERR); waits for its start line.
start_at() {
	LP_ERR=$1
	shift
	"$@" >/dev/null 2>"$LP_ERR" &
	LP_PID=$!
	IT_PIDS+=("$LP_PID")
	wait_line "$LP_ERR" 'listening on 127\.0\.0\.1:[0-9]+,' "$LP_PID" >/dev/null
}

if [ -n "$INST_UNITDIR" ]; then
	tcase "make install prefix=... sysconfdir=... (overridden at install time)"
	# The unit must name the directories of this install, not configure's.
	OTHER=/opt/lumaproxy-it
	make_top install prefix="$OTHER" sysconfdir="$OTHER/conf" \
	    systemdsystemunitdir="$OTHER/unit"
	check_eq "make install: exit status" "$?" 0
	check "the binary: $OTHER/bin/lumaproxy" [ -x "$DEST$OTHER/bin/lumaproxy" ]
	check "the config: $OTHER/conf/lumaproxy.conf" [ -f "$DEST$OTHER/conf/lumaproxy.conf" ]
	check_eq "the unit's ExecStart" \
	    "$(sed -n 's/^ExecStart=\([^ ]* [^ ]* [^ ]*\).*/\1/p' "$DEST$OTHER/unit/lumaproxy.service")" \
	    "$OTHER/bin/lumaproxy -c $OTHER/conf/lumaproxy.conf"
	rm -rf "${DEST:?}"
fi

tcase "make install DESTDIR=..."
make_top install
rc=$?
check_eq "make install: exit status" "$rc" 0
[ "$rc" -eq 0 ] || die "make install failed: $(tail -n 30 "$IT_TMP/make.log")"
check "the binary: $INST_BINDIR/lumaproxy" [ -x "$BIN" ]
check "the man page: $INST_MANDIR/man1/lumaproxy.1" [ -f "$MAN" ]
check "the sample config: $INST_SYSCONFDIR/lumaproxy.conf" [ -f "$CONF" ]
check "the sample config is etc/lumaproxy.conf" cmp -s "$SAMPLE" "$CONF"
check_eq "the installed binary's --version" "$(timeout 5 "$BIN" --version 2>&1)" \
    "$(timeout 5 "$LUMAPROXY" --version 2>&1)"

# Every option of --help that has a default: "NAME DEFAULT", one a line.
timeout 5 "$BIN" --help >"$IT_TMP/help.out" 2>&1
sed -n 's/^ *\(-[A-Za-z], \)\{0,1\}--\([a-z-]*\) .*(default: \(.*\))$/\2 \3/p' \
    "$IT_TMP/help.out" >"$IT_TMP/defaults"
noptions=$(wc -l <"$IT_TMP/defaults")
check_re "options with a default in --help" "$noptions" '^[1-9][0-9]+$'

tcase "the sample config names every key, commented out, at its default"
while read -r key dflt; do
	check "#$key = $dflt" grep -qxF "#$key = $dflt" "$CONF"
done <"$IT_TMP/defaults"
sed -n 's/^#\{0,1\}\([a-z-]*\) = .*/\1/p' "$CONF" | sort >"$IT_TMP/conf.keys"
cut -d' ' -f1 "$IT_TMP/defaults" | sort >"$IT_TMP/help.keys"
check_eq "keys of the sample that --help does not know" \
    "$(comm -23 "$IT_TMP/conf.keys" "$IT_TMP/help.keys" | tr '\n' ' ')" ""
check_eq "settings not commented out" "$(grep -Ec '^[[:space:]]*[a-z-]+[[:space:]]*=' "$CONF")" 0

tcase "the man page covers every option of --help"
for o in $(grep -Eo -- '--[a-z][a-z-]*' "$IT_TMP/help.out" | sort -u); do
	check "the man page names $o" grep -qF -- "${o//-/\\-}" "$MAN"
done
# groff with its man macros renders a page (Debian: groff-base).
if ! command -v groff >/dev/null 2>&1; then
	skip "groff -man -ww" "groff is not installed (Debian: groff-base)"
elif ! printf '.TH PROBE 1\n.SH NAME\nprobe\n' | groff -man -ww -z >"$IT_TMP/groff.probe" 2>&1; then
	skip "groff -man -ww" "groff cannot render a man page here: $(head -c 200 "$IT_TMP/groff.probe")"
else
	groff -man -ww -z "$MAN" >"$IT_TMP/groff.out" 2>&1
	check_eq "groff -man -ww: exit status" "$?" 0
	check_eq "groff -man -ww: warnings" "$(head -c 2000 "$IT_TMP/groff.out")" ""
fi

tcase "the installed binary accepts the installed sample config"
LP_DB=$IT_TMP/sample.db
LUMAPROXY=$BIN start_proxy -c "$CONF" ||
	fail "started with -c $CONF: $(head -c 1000 "$LP_ERR")"
stop_proxy
check_eq "exit status after SIGTERM" "$LP_RC" 0

tcase "... and the sample with every key set to its default"
sed -E 's/^#([a-z-]+ = )/\1/' "$CONF" >"$IT_TMP/all.conf"
check_eq "settings" "$(grep -Ec '^[a-z-]+ = ' "$IT_TMP/all.conf")" "$noptions"
LP_DB=$IT_TMP/all.db
LUMAPROXY=$BIN start_proxy -c "$IT_TMP/all.conf" ||
	fail "started with every key set: $(head -c 1000 "$LP_ERR")"
stop_proxy
check_eq "exit status after SIGTERM" "$LP_RC" 0

if [ -z "$INST_UNITDIR" ]; then
	echo "# configured --without-systemdsystemunitdir: no unit to check"
else
	UNIT=$DEST$INST_UNITDIR/lumaproxy.service

	tcase "the systemd unit"
	check "the unit: $INST_UNITDIR/lumaproxy.service" [ -f "$UNIT" ]
	check_eq "@variables@ left" "$(grep -o '@[A-Za-z_]*@' "$UNIT" | tr '\n' ' ')" ""
	check_eq "ExecStart= lines" "$(grep -c '^ExecStart=' "$UNIT")" 1
	read -r -a argv <<<"$(sed -n 's/^ExecStart=//p' "$UNIT")"
	check_eq "ExecStart runs" "${argv[0]:-}" "$INST_BINDIR/lumaproxy"
	check_eq "ExecStart's config" "${argv[*]:1:2}" "-c $INST_SYSCONFDIR/lumaproxy.conf"
	check "ExecStart's binary is installed" [ -x "$DEST${argv[0]:-/nonexistent}" ]
	for k in Type=simple DynamicUser=yes "StateDirectory=lumaproxy lumaproxy/media" \
	    ProtectSystem=strict KillSignal=SIGTERM TimeoutStopSec=10 \
	    Restart=on-failure CapabilityBoundingSet= UMask=0077; do
		check "$k" grep -qx "$k" "$UNIT"
	done

	tcase "the unit's command line starts and stops cleanly"
	# As systemd would run it: %S is the state directory's parent; paths
	# under DESTDIR; on a free port, since 8080 may be taken.
	mkdir -p "$IT_TMP/state/lumaproxy"
	args=()
	for a in "${argv[@]:1}"; do
		a=${a//%S/$IT_TMP/state}
		[ "$a" = "$INST_SYSCONFDIR/lumaproxy.conf" ] && a=$CONF
		args+=("$a")
	done
	IT_NPROXY=$((IT_NPROXY + 1))
	start_at "$IT_TMP/lumaproxy.$IT_NPROXY.err" "$DEST${argv[0]:-/nonexistent}" \
	    "${args[@]}" -l 127.0.0.1:0 ||
		fail "started as the unit says: $(head -c 1000 "$LP_ERR")"
	check "the database is in the state directory" \
	    [ -f "$IT_TMP/state/lumaproxy/lumaproxy.db" ]
	# TimeoutStopSec=10: it must be gone well before systemd would kill it.
	stop_proxy TERM 9
	check_eq "exit status after SIGTERM" "$LP_RC" 0

	tcase "systemd-analyze verify"
	# It must verify a unit that has nothing wrong with it first: it can be
	# installed and still not work (a container, a chroot, no /proc).
	mkdir -p "$IT_TMP/probe"
	printf '[Unit]\nDescription=probe\n[Service]\nExecStart=/bin/true\n' \
	    >"$IT_TMP/probe/probe.service"
	if ! command -v systemd-analyze >/dev/null 2>&1; then
		skip "systemd-analyze verify" "systemd-analyze is not installed"
	elif ! timeout 60 systemd-analyze verify --man=no "$IT_TMP/probe/probe.service" \
	    >"$IT_TMP/probe.out" 2>&1; then
		skip "systemd-analyze verify" "it fails here on a unit with nothing wrong: $(head -c 300 "$IT_TMP/probe.out")"
	else
		# verify wants ExecStart's binary and the man page to exist: point
		# it at what was installed under DESTDIR.
		mkdir -p "$IT_TMP/unit"
		sed "s|^ExecStart=$INST_BINDIR/|ExecStart=$DEST$INST_BINDIR/|" \
		    "$UNIT" >"$IT_TMP/unit/lumaproxy.service"
		manopt=--man=no
		command -v man >/dev/null 2>&1 && manopt=--man=yes
		MANPATH=$DEST$INST_MANDIR timeout 60 systemd-analyze verify \
		    "$manopt" "$IT_TMP/unit/lumaproxy.service" >"$IT_TMP/verify.out" 2>&1
		check_eq "systemd-analyze verify $manopt: exit status" "$?" 0
		check_eq "what it says about lumaproxy.service" \
		    "$(grep -F lumaproxy "$IT_TMP/verify.out" | head -c 2000)" ""
	fi
fi

tcase "reinstalling keeps a changed config; uninstalling leaves it"
echo "pending-interval = 7" >>"$CONF"
cp "$CONF" "$IT_TMP/changed.conf"
make_top install
check_eq "make install again: exit status" "$?" 0
check "the changed config is kept" cmp -s "$IT_TMP/changed.conf" "$CONF"
make_top uninstall
check_eq "make uninstall: exit status" "$?" 0
check_not "the binary is gone" [ -e "$BIN" ]
check_not "the man page is gone" [ -e "$MAN" ]
[ -n "$INST_UNITDIR" ] && check_not "the unit is gone" [ -e "$UNIT" ]
check "the changed config is kept" cmp -s "$IT_TMP/changed.conf" "$CONF"
cp "$SAMPLE" "$CONF"
make_top uninstall
check_not "an unchanged config is removed" [ -e "$CONF" ]

[ "$IT_FAILS" -eq 0 ] || { echo "--- make output"; tail -n 40 "$IT_TMP/make.log"; }
finish
