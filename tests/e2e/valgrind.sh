#!/bin/bash
# One small seeder -> leecher transfer with both btdownloads under
# valgrind --leak-check=full --error-exitcode=1 (issue 7 item 7): the
# leecher must finish with the right bytes and exit 0, the seeder must exit
# 0 on SIGTERM, and neither may show a memory error or a leak (definite or
# possible; still-reachable blocks are not errors).  Also run by
# `make valgrind`.  Valgrind 3.19 (Debian 12) does not know openat2 and
# fails it with ENOSYS, so under it storage takes its O_NOFOLLOW walk.  Skipped, visibly, when the programs are an ASan build
# (the two cannot be combined) or valgrind is missing.
. "$(dirname "$0")/lib.sh"

ANNOUNCE=http://127.0.0.1:9/announce	# refused at once: no tracker
VG=(valgrind --leak-check=full --error-exitcode=1 --track-fds=no
    --num-callers=30)

if ldd "$BTDOWNLOAD" 2>/dev/null | grep -q libasan; then
	echo "skip: $BTDOWNLOAD is an ASan build; valgrind runs on the normal one"
	finish
	exit
fi
if ! command -v valgrind >/dev/null; then
	echo "skip: valgrind is not installed"
	finish
	exit
fi

# vg_stop PID: SIGTERM, then up to 60 s for valgrind's leak check.
vg_stop() {
	kill "$1" 2>/dev/null
	wait_pid "$1" 60
}

# vg_clean LOG: valgrind found no error and no leak.
vg_clean() {
	if grep -q "ERROR SUMMARY: 0 errors" "$1" &&
		! grep -Eq "(definitely|indirectly|possibly) lost: [1-9]" "$1"; then
		return 0
	fi
	grep -E "ERROR SUMMARY|lost:|Invalid|uninitialised" "$1" | head -20
	return 1
}

mkdir -p "$T/src" "$T/tor"
random_file "$T/src/v.bin" $((1024 * 1024 + 4321))
"$BTMAKEMETAFILE" "$T/src/v.bin" "$ANNOUNCE" --piece_size_pow2 15 \
	--target "$T/tor/v.torrent" >/dev/null
SP=$(free_port)
spawn "$T/seed.log" "${VG[@]}" --log-file="$T/vg-seed.log" "$BTDOWNLOAD" \
	"$T/tor/v.torrent" --saveas "$T/src/v.bin" --minport "$SP" \
	--maxport "$SP" --display_interval 1
SEEDER=$SPAWNED
if ! wait_for 90 grep -q "status=seeding" "$T/seed.log"; then
	fail "seeder under valgrind did not start"
	show_log "$T/seed.log"
	show_log "$T/vg-seed.log"
	finish
	exit
fi
spawn "$T/leech.log" "${VG[@]}" --log-file="$T/vg-leech.log" "$BTDOWNLOAD" \
	"$T/tor/v.torrent" --saveas "$T/dl/v.bin" --minport "$(free_port)" \
	--maxport 65000 --display_interval 1 --no-seed --peer "127.0.0.1:$SP"
wait_pid "$SPAWNED" 180
st=$?
if [ $st = 0 ] && cmp -s "$T/src/v.bin" "$T/dl/v.bin"; then
	ok "leecher under valgrind finished with the right bytes"
else
	fail "leecher under valgrind: exit status $st"
	show_log "$T/leech.log" 5
fi
check "leecher: no valgrind errors or leaks" vg_clean "$T/vg-leech.log"
vg_stop "$SEEDER"
st=$?
check "seeder under valgrind exits 0 on SIGTERM (got $st)" [ $st = 0 ]
check "seeder: no valgrind errors or leaks" vg_clean "$T/vg-seed.log"

finish
