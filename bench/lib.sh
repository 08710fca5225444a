# Shared by the benchmark scripts (sourced from the top of the tree):
# installs a missing package, builds what is missing, and starts servers
# in a scratch directory ($work) that goes away with them on exit.

sudo=""; [ "$(id -u)" -eq 0 ] || sudo=sudo
# need CMD PACKAGE...: installs the first package that works when CMD is missing.
need() {
	local cmd=$1 pkg; shift
	command -v "$cmd" >/dev/null || [ -x "/usr/sbin/$cmd" ] && return 0
	for pkg in "$@"; do
		$sudo apt-get install -y -qq "$pkg" >/dev/null 2>&1 && return 0
	done
	echo "bench: cannot install $cmd" >&2; exit 1
}
lp=src/lumaproxy
tick=$(getconf CLK_TCK)
# cpu_ticks PID: the process's user and system time so far, in ticks.
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }
# ratio A B: A / B to two decimals.
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }

[ -x src/lumaproxy ] || ./bootstrap
make -s -C tests fakeup >/dev/null

work=$(mktemp -d)
pids=()
cleanup() { kill "${pids[@]}" 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT

# Starts a program, waits for its "listening on HOST:PORT" line, sets $port.
start() {
	local log=$1; shift
	"$@" >"$log" 2>&1 &
	pids+=($!)
	for _ in $(seq 100); do
		port=$(grep -o 'listening on 127.0.0.1:[0-9]*' "$log" | head -1 | cut -d: -f2 || true)
		[ -n "$port" ] && return
		sleep 0.05
	done
	echo "bench: $1 did not start" >&2; cat "$log" >&2; exit 1
}
