#!/bin/bash
# Disk faults, injected for real (issue 7 item 6).  A leecher of a
# two-file torrent runs with tests/fault_shim.c preloaded, which lets a
# set number of bytes of file writes through and then fails every write
# with ENOSPC or EIO (or fails fdatasync).  Each time btdownload must stop
# with the disk-full (5) or I/O (4) exit status and one message that names
# the file, must not claim the download complete, and once the fault is
# gone a restart must finish with the right bytes (cmp), keeping what was
# verified before the fault.
#
# Then, where this machine lets root mount a tmpfs, the same with a real
# full disk: a 4 MiB tmpfs for an 8 MB torrent (exit 5), then the tmpfs
# grown to 16 MiB and the leecher restarted.  Elsewhere that part says
# "skip" and counts as neither pass nor fail.
#
# Where btdownload has the resume file (--status_json is the sign), one
# more case: only the data writes fail (the resume file can still be
# saved), and the restart must take every piece verified before the fault
# from the resume file and hash no byte (the bytes_checked counter).
# Without it that case says "skip"; the restarts above then find the
# verified pieces by hashing them.
#
# FAULT_SHIM is the shim (the Makefile passes it; otherwise it is built).
# Under an ASan build libasan is preloaded ahead of the shim, as ASan
# requires.
. "$(dirname "$0")/lib.sh"

ANNOUNCE=http://127.0.0.1:9/announce	# never contacted
SHIM=${FAULT_SHIM:-$TOP/build/tests/fault_shim.so}
[ -f "$SHIM" ] || make -s -C "$TOP" build/tests/fault_shim.so >/dev/null
PRELOAD=$SHIM
asan=$(ldd "$BTDOWNLOAD" 2>/dev/null | awk '/libasan/ { print $3 }')
[ -n "$asan" ] && PRELOAD=$asan:$SHIM

# leech LOG SAVEAS [VAR=VALUE | --option]...: run a leecher of the seeder
# to its end, with those environment settings and options; its exit
# status is in $ST.
leech() {
	local log=$1 save=$2 a
	local envs=() opts=()
	shift 2
	for a in "$@"; do
		case $a in
		--*) opts+=("$a") ;;
		*) envs+=("$a") ;;
		esac
	done
	spawn "$log" env "${envs[@]}" "$BTDOWNLOAD" "$T/tor/m.torrent" \
		--saveas "$save" --minport "$(free_port)" --maxport 65000 \
		--display_interval 1 --no-seed --peer "127.0.0.1:$SP" "${opts[@]}"
	wait_pid "$SPAWNED" 90
	ST=$?
}

# faulted LOG WANT_STATUS PATTERN [MAX]: the leecher stopped with
# WANT_STATUS, said PATTERN (a file of the torrent and the error) once (or
# up to MAX times), and did not claim to be complete.
faulted() {
	local n
	n=$(grep -cE "$3" "$1")
	if [ "$ST" = "$2" ] && [ "$n" -ge 1 ] && [ "$n" -le "${4:-1}" ] &&
		! grep -q "download complete" "$1"; then
		return 0
	fi
	echo "exit status $ST (want $2), $n line(s) matching: $3"
	show_log "$1" 6
	return 1
}

# restarted LOG SAVEAS: a restart without the fault finishes, right bytes,
# and its first status line shows the pieces kept from before (or it says
# at once that everything is there).
restarted() {
	leech "$1" "$2"
	if [ "$ST" = 0 ] && same_tree "$T/src/m" "$2" &&
		{ grep -q "is complete" "$1" ||
		{ grep -q "download complete" "$1" &&
		grep -m1 "^status=" "$1" | grep -Eq "progress=[1-9]"; }; }; then
		return 0
	fi
	echo "restart exit status $ST"
	show_log "$1" 6
	return 1
}

mkdir -p "$T/src/m" "$T/tor"
random_file "$T/src/m/a.bin" 2000000
random_file "$T/src/m/b.bin" 6000000
"$BTMAKEMETAFILE" "$T/src/m" "$ANNOUNCE" --piece_size_pow2 15 \
	--target "$T/tor/m.torrent" >/dev/null
SP=$(free_port)
spawn "$T/seed.log" "$BTDOWNLOAD" "$T/tor/m.torrent" --saveas "$T/src/m" \
	--minport "$SP" --maxport "$SP" --display_interval 1
SEEDER=$SPAWNED
if ! wait_for 30 grep -q "status=seeding" "$T/seed.log"; then
	fail "seeder did not start"
	show_log "$T/seed.log"
	finish
	exit
fi

# --- ENOSPC after 3 MB ------------------------------------------------------
leech "$T/nospc.log" "$T/d1/m" LD_PRELOAD="$PRELOAD" BT_FAULT_AFTER=3000000
check "ENOSPC: exit 5, one line naming the file" faulted "$T/nospc.log" 5 \
	"d1/m/[ab]\.bin: No space left on device"
check "ENOSPC: restart completes with the right bytes" \
	restarted "$T/nospc2.log" "$T/d1/m"

# --- EIO after 1 MB -----------------------------------------------------------
leech "$T/eio.log" "$T/d2/m" LD_PRELOAD="$PRELOAD" BT_FAULT_AFTER=1000000 \
	BT_FAULT_ERRNO=EIO
check "EIO: exit 4, one line naming the file" faulted "$T/eio.log" 4 \
	"d2/m/[ab]\.bin: Input/output error"
check "EIO: restart completes with the right bytes" \
	restarted "$T/eio2.log" "$T/d2/m"

# --- fdatasync fails when the download completes ----------------------------
# The data is written, but may not be on disk: exit 4, never "complete".
# The error may be said again when the files are closed.
leech "$T/sync.log" "$T/d3/m" LD_PRELOAD="$PRELOAD" BT_FAULT_SYNC=1 \
	BT_FAULT_ERRNO=EIO
check "fdatasync EIO: exit 4, not complete" faulted "$T/sync.log" 4 \
	"^btdownload: .*d3/m/[ab]\.bin: Input/output error" 2
check "fdatasync EIO: restart completes with the right bytes" \
	restarted "$T/sync2.log" "$T/d3/m"

# --- ENOSPC on the data only: the restart hashes nothing --------------------
if "$BTDOWNLOAD" --help 2>&1 | grep -q -- "--status_json"; then
	leech "$T/data.log" "$T/d4/m" LD_PRELOAD="$PRELOAD" \
		BT_FAULT_AFTER=3000000 BT_FAULT_DATA_ONLY=1 --status_json
	have=$(json_field "$T/data.log" pieces_have)
	check "data ENOSPC: exit 5, one line naming the file" \
		faulted "$T/data.log" 5 "^btdownload: .*d4/m/[ab]\.bin: No space left on device"
	leech "$T/data2.log" "$T/d4/m" --status_json
	resumed=$(json_field "$T/data2.log" pieces_resumed first)
	hashed=$(json_field "$T/data2.log" bytes_checked)
	if [ "$ST" = 0 ] && same_tree "$T/src/m" "$T/d4/m" &&
		[ -n "$have" ] && [ "$have" -gt 0 ] &&
		[ "$resumed" = "$have" ] && [ "$hashed" = 0 ]; then
		ok "data ENOSPC: restart resumed all $have verified pieces, hashed nothing"
	else
		fail "data ENOSPC: restart exit $ST, had $have, resumed ${resumed:-?}, hashed ${hashed:-?} bytes"
		show_log "$T/data2.log" 3
	fi
else
	echo "skip: no resume file support (no --status_json) yet"
fi

# --- a real full disk: a 4 MiB tmpfs ---------------------------------------
mkdir -p "$T/small"
if mount -t tmpfs -o size=4m none "$T/small" 2>"$T/mount.err"; then
	trap 'umount -l "$T/small" 2>/dev/null; cleanup' EXIT
	leech "$T/tmpfs.log" "$T/small/m"
	check "full tmpfs: exit 5, one line naming the file" \
		faulted "$T/tmpfs.log" 5 "small/m/[ab]\.bin: No space left on device"
	if mount -o remount,size=16m "$T/small"; then
		check "full tmpfs grown: restart completes with the right bytes" \
			restarted "$T/tmpfs2.log" "$T/small/m"
	else
		fail "could not grow the tmpfs"
	fi
else
	echo "skip: cannot mount a tmpfs here ($(head -c 200 "$T/mount.err"))"
fi

check "seeder alive" kill -0 "$SEEDER"
finish
