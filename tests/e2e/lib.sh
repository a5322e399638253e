# Helpers for the end-to-end tests: sourced, not run.  Every test gets its
# own temporary directory, starts processes only through `spawn` (their
# PIDs are recorded), and the EXIT trap kills exactly those PIDs and
# removes the directory.  Binaries come from $BINDIR (the repo root by
# default, build/asan for `make asan`).

set -u
E2E_NAME=$(basename "$0" .sh)
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
TOP=$(cd "$HERE/../.." && pwd)
BINDIR=${BINDIR:-$TOP}
BTDOWNLOAD=$BINDIR/btdownload
BTMAKEMETAFILE=$BINDIR/btmakemetafile
BTSHOWMETAINFO=$BINDIR/btshowmetainfo
T=$(mktemp -d "/tmp/bt-$E2E_NAME.XXXXXX")
PIDS=()
PASSED=0
FAILED=0

cleanup() {
	local p
	for p in "${PIDS[@]}"; do
		kill "$p" 2>/dev/null
	done
	for p in "${PIDS[@]}"; do
		for _ in $(seq 50); do
			kill -0 "$p" 2>/dev/null || break
			sleep 0.1
		done
		kill -9 "$p" 2>/dev/null
		wait "$p" 2>/dev/null
	done
	if [ "${KEEP:-0}" = 1 ]; then
		echo "kept $T"
	else
		rm -rf "$T"
	fi
}
trap cleanup EXIT

# spawn LOGFILE CMD...: start CMD in the background; its PID is in $SPAWNED.
spawn() {
	local log=$1
	shift
	"$@" >"$log" 2>&1 &
	SPAWNED=$!
	PIDS+=("$SPAWNED")
}

# stop PID: SIGTERM, then SIGKILL after 5 s; returns its exit status.
stop() {
	local p=$1 st
	kill "$p" 2>/dev/null
	for _ in $(seq 50); do
		kill -0 "$p" 2>/dev/null || break
		sleep 0.1
	done
	kill -9 "$p" 2>/dev/null
	wait "$p" 2>/dev/null
	st=$?
	return $st
}

# wait_pid PID SECONDS: wait for a spawned process to exit by itself;
# returns its exit status, or 124 (and kills it) on timeout.
wait_pid() {
	local p=$1 end=$((SECONDS + $2))
	while kill -0 "$p" 2>/dev/null; do
		if [ $SECONDS -ge $end ]; then
			kill -9 "$p" 2>/dev/null
			wait "$p" 2>/dev/null
			return 124
		fi
		sleep 0.1
	done
	wait "$p"
}

# wait_for SECONDS CMD...: poll until CMD succeeds; 1 on timeout.
wait_for() {
	local end=$((SECONDS + $1))
	shift
	until "$@" >/dev/null 2>&1; do
		[ $SECONDS -lt $end ] || return 1
		sleep 0.1
	done
}

# A free TCP port on loopback (bash only: probe with /dev/tcp from a
# random start; a port nobody answers on is taken as free).
free_port() {
	# Below the kernel's ephemeral range (32768 up), so an outgoing
	# connection cannot hold the port on one address family.
	local p
	for _ in $(seq 200); do
		p=$((10000 + RANDOM % 22000))
		if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
			echo "$p"
			return 0
		fi
	done
	return 1
}

# random_file PATH BYTES
random_file() {
	head -c "$2" /dev/urandom >"$1"
}

ok() {
	PASSED=$((PASSED + 1))
	echo "ok: $*"
}

fail() {
	FAILED=$((FAILED + 1))
	echo "FAIL: $*"
}

# check DESCRIPTION CMD...: pass if CMD succeeds.
check() {
	local what=$1
	shift
	if "$@"; then ok "$what"; else fail "$what"; fi
}

# same_tree A B: identical bytes, file by file (cmp), including empty files.
same_tree() {
	if [ -f "$1" ]; then
		cmp -s "$1" "$2"
		return
	fi
	diff -r "$1" "$2" >/dev/null
}

# seeder LOG TORRENT SAVEAS PORT [OPTIONS...]: start a seeding btdownload
# and wait until it has checked its data and listens; its PID is $SEEDER.
seeder() {
	local log=$1 tor=$2 save=$3 port=$4
	shift 4
	spawn "$log" "$BTDOWNLOAD" "$tor" --saveas "$save" --minport "$port" \
		--maxport "$port" --display_interval 1 "$@"
	SEEDER=$SPAWNED
	if ! wait_for 30 grep -q "status=seeding" "$log"; then
		show_log "$log"
		return 1
	fi
}

# json_field FILE KEY [first]: KEY's value in the last (or first) JSON
# line of FILE, quotes removed.
json_field() {
	grep '^{' "$1" | if [ "${3:-}" = first ]; then head -n 1; else tail -n 1; fi |
		sed -n "s/.*\"$2\":\([^,}]*\).*/\1/p" | tr -d '"'
}

show_log() {
	echo "--- $1 (last lines)"
	tail -n "${2:-15}" "$1" | tr '\r' '\n' | tail -n "${2:-15}"
}

finish() {
	echo "$E2E_NAME: $PASSED passed, $FAILED failed"
	[ "$FAILED" -eq 0 ]
}
