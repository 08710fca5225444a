#!/bin/sh
# fresh-debian.sh: the README's test command on a freshly installed, minimal
# Debian 12, run by hand, as root.  A debootstrap'ed bookworm is made once
# (in BASE) and copied afresh for every run; a fresh clone of this
# repository's current branch (what is committed, nothing else) goes into
# the copy, and there, as root, `./bootstrap && make check` runs as README
# says, with only /proc mounted and no pseudo-terminal (/dev as debootstrap
# made it, no devpts on /dev/pts).  Then each test's result, the reasons
# given for what was skipped, and the time it took.  The exit status is
# make check's; the copy is unmounted and removed whatever happens.
#
# Usage: sudo tests/fresh-debian.sh
#   BASE=/srv/deb12   the pristine system, made with debootstrap when missing
#                     (remove it to start from a newer bookworm)
#   MIRROR=URL        the Debian mirror (default: the one apt uses here, else
#                     http://deb.debian.org/debian)
#   KEEP=1            keep the run's copy ($BASE.run) for a look
set -eu

BASE=${BASE:-/srv/deb12}
RUN=$BASE.run
TOP=$(cd "$(dirname "$0")/.." && pwd)
LOG=${TMPDIR:-/tmp}/fresh-debian.$$.log

say() { echo "fresh-debian: $*" >&2; }
die() { say "$*"; exit 1; }

[ "$(id -u)" -eq 0 ] || die "run as root (debootstrap, chroot and mount need it)"
git -C "$TOP" rev-parse --git-dir >/dev/null 2>&1 || die "$TOP is not a git clone"

# The mirror apt uses here: the first URI of a bookworm "debian" archive.
if [ -z "${MIRROR:-}" ]; then
	MIRROR=$(cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list \
	    /etc/apt/sources.list.d/*.sources 2>/dev/null |
	    awk '$1 == "deb" { for (i = 2; i <= NF; i++) if ($i ~ /^https?:/) { print $i; break } }
	         $1 == "URIs:" { print $2 }' |
	    grep -E '/debian/?$' | head -n 1 || true)
	MIRROR=${MIRROR:-http://deb.debian.org/debian}
fi

if ! command -v debootstrap >/dev/null 2>&1; then
	command -v apt-get >/dev/null 2>&1 || die "debootstrap is not installed"
	say "installing debootstrap"
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap >/dev/null
fi

# Processes left inside the copy (all of them started by this run): ended,
# so that /proc can be unmounted.
stop_inside() {
	for p in /proc/[0-9]*; do
		[ "$(readlink "$p/root" 2>/dev/null)" = "$RUN" ] || continue
		kill -KILL "${p#/proc/}" 2>/dev/null || true
	done
}

cleanup() {
	rc=$?
	trap - EXIT INT TERM
	if [ -d "$RUN" ]; then
		stop_inside
		if mountpoint -q "$RUN/proc"; then
			umount "$RUN/proc" || umount -l "$RUN/proc" || say "could not unmount $RUN/proc"
		fi
		if [ -n "${KEEP:-}" ]; then
			say "kept $RUN"
		elif ! mountpoint -q "$RUN/proc"; then
			rm -rf "$RUN"
		fi
	fi
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

if [ ! -x "$BASE/bin/sh" ]; then
	say "debootstrap bookworm $BASE $MIRROR"
	rm -rf "$BASE.tmp"
	debootstrap bookworm "$BASE.tmp" "$MIRROR" >"$LOG" 2>&1 ||
		{ tail -n 20 "$LOG" >&2; die "debootstrap failed (log: $LOG)"; }
	mv "$BASE.tmp" "$BASE"
fi

# A fresh copy: nothing of an earlier run, whatever it installed.
if [ -e "$RUN" ]; then
	mountpoint -q "$RUN/proc" && die "$RUN/proc is mounted: an earlier run is still going?"
	rm -rf "$RUN"
fi
cp -a "$BASE" "$RUN"
cp /etc/resolv.conf "$RUN/etc/resolv.conf"
# As in any chroot, packages' services (haproxy, ...) are not started.
printf '#!/bin/sh\nexit 101\n' >"$RUN/usr/sbin/policy-rc.d"
chmod 755 "$RUN/usr/sbin/policy-rc.d"
git clone -q --no-hardlinks "$TOP" "$RUN/root/lumaproxy"
commit=$(git -C "$RUN/root/lumaproxy" log -1 --format='%h %s')
mount -t proc proc "$RUN/proc"
mountpoint -q "$RUN/dev/pts" && die "$RUN/dev/pts is mounted"

say "on $(cat "$RUN/etc/debian_version"), as root, no pseudo-terminal: ./bootstrap && make check"
say "at $commit"
start=$(date +%s)
set +e
chroot "$RUN" /usr/bin/env -i HOME=/root LANG=C.UTF-8 \
    PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    /bin/sh -c 'cd /root/lumaproxy && ./bootstrap && make check' \
    </dev/null >"$LOG" 2>&1
rc=$?
set -e
secs=$(($(date +%s) - start))
# The logs of the tests that did not pass, kept with the rest.
if [ -f "$RUN/root/lumaproxy/tests/test-suite.log" ]; then
	{ echo; echo "==== tests/test-suite.log"; cat "$RUN/root/lumaproxy/tests/test-suite.log"; } >>"$LOG"
fi

# What each test said, from the build's tests/ directory.
T=$RUN/root/lumaproxy/tests
pass=0 skip=0 fail=0
for trs in "$T"/*.trs; do
	[ -e "$trs" ] || continue
	name=$(basename "$trs" .trs)
	res=$(sed -n 's/^:test-result: //p' "$trs" | head -n 1)
	case $res in
	PASS)
		pass=$((pass + 1))
		# Checks skipped inside a test that passed.
		grep -E '^# .*: skip: ' "$T/$name.log" 2>/dev/null |
		    sed "s/^# /  PASS $name, a check skipped: /" || true
		;;
	SKIP)
		skip=$((skip + 1))
		echo "  SKIP $name: $(grep -m 1 '^SKIP' "$T/$name.log" 2>/dev/null || echo '(no message)')"
		;;
	*)
		fail=$((fail + 1))
		echo "  $res $name"
		grep -E '^(FAIL|ERROR)' "$T/$name.log" 2>/dev/null | head -n 5 | sed 's/^/      /'
		;;
	esac
done
if [ $((pass + skip + fail)) -eq 0 ]; then
	tail -n 40 "$LOG"
	say "no test ran (bootstrap or the build failed; log: $LOG)"
else
	grep -E '^# (TOTAL|PASS|SKIP|XFAIL|FAIL|XPASS|ERROR):' "$LOG" | tail -n 7 || true
	say "$pass passed, $skip skipped, $fail failed; ./bootstrap && make check took ${secs} s (log: $LOG)"
fi
exit "$rc"
