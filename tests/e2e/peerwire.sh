#!/bin/bash
# End-to-end tests of the peer wire with the real btdownload on loopback
# (no tracker: peers are given with --peer).  Issue 3's list: single-file
# and multi-file torrents over 127.0.0.1 and ::1, a swarm of one seeder and
# four leechers, a leecher killed with SIGKILL and restarted, and a seeder
# serving corrupt data.  Every result is compared byte for byte with cmp.
. "$(dirname "$0")/lib.sh"

ANNOUNCE=http://127.0.0.1:9/announce	# never contacted: nothing listens there

# leech LOG TORRENT SAVEAS PORT [OPTIONS...]: start a leecher that exits
# when complete; its PID is in $LEECHER.
leech() {
	local log=$1 tor=$2 save=$3 port=$4
	shift 4
	spawn "$log" "$BTDOWNLOAD" "$tor" --saveas "$save" --minport "$port" \
		--maxport "$port" --display_interval 1 --no-seed "$@"
	LEECHER=$SPAWNED
}

# expect_done PID LOG SECONDS: the leecher exits 0 and says it finished.
expect_done() {
	local st
	wait_pid "$1" "$3"
	st=$?
	if [ $st -ne 0 ] || ! grep -q "download complete" "$2"; then
		echo "leecher exit status $st"
		show_log "$2"
		return 1
	fi
}

mkdir -p "$T/src" "$T/tor"

# --- one file, 127.0.0.1 then ::1 -------------------------------------------
random_file "$T/src/single.bin" $((3 * 1024 * 1024 + 12345))
"$BTMAKEMETAFILE" "$T/src/single.bin" "$ANNOUNCE" --piece_size_pow2 16 \
	--target "$T/tor/single.torrent" >/dev/null
sp=$(free_port)
if seeder "$T/seed1.log" "$T/tor/single.torrent" "$T/src/single.bin" "$sp"; then
	for addr in "127.0.0.1:$sp" "[::1]:$sp"; do
		out=$T/leech-$RANDOM
		leech "$out.log" "$T/tor/single.torrent" "$out.bin" "$(free_port)" \
			--peer "$addr"
		if expect_done "$LEECHER" "$out.log" 60 &&
			cmp -s "$T/src/single.bin" "$out.bin"; then
			ok "single file over $addr"
		else
			fail "single file over $addr"
		fi
	done
	stop "$SEEDER"
else
	fail "single-file seeder did not start"
fi

# --- several files: piece size does not divide the total, an empty file ---
mkdir -p "$T/src/multi/sub/deeper"
random_file "$T/src/multi/a.bin" 100000
: >"$T/src/multi/empty"
random_file "$T/src/multi/sub/b.bin" $((1024 * 1024 + 7))
random_file "$T/src/multi/sub/deeper/c.bin" 33333
"$BTMAKEMETAFILE" "$T/src/multi" "$ANNOUNCE" --piece_size_pow2 15 \
	--target "$T/tor/multi.torrent" >/dev/null
sp=$(free_port)
if seeder "$T/seed2.log" "$T/tor/multi.torrent" "$T/src/multi" "$sp"; then
	leech "$T/leech2.log" "$T/tor/multi.torrent" "$T/l2/multi" \
		"$(free_port)" --peer "127.0.0.1:$sp"
	if expect_done "$LEECHER" "$T/leech2.log" 60 &&
		same_tree "$T/src/multi" "$T/l2/multi" &&
		[ -f "$T/l2/multi/empty" ]; then
		ok "multi-file torrent with an empty file"
	else
		fail "multi-file torrent with an empty file"
	fi
	stop "$SEEDER"
else
	fail "multi-file seeder did not start"
fi

# --- a swarm: one seeder capped at 1 MiB/s, four leechers trading ----------
random_file "$T/src/swarm.bin" $((6 * 1024 * 1024 + 999))
"$BTMAKEMETAFILE" "$T/src/swarm.bin" "$ANNOUNCE" --piece_size_pow2 16 \
	--target "$T/tor/swarm.torrent" >/dev/null
sp=$(free_port)
if seeder "$T/seed3.log" "$T/tor/swarm.torrent" "$T/src/swarm.bin" "$sp" \
	--max_upload_rate 1M; then
	peers=(--peer "127.0.0.1:$sp")
	lpids=()
	for k in 1 2 3 4; do
		lp=$(free_port)
		leech "$T/swarm$k.log" "$T/tor/swarm.torrent" "$T/s$k/swarm.bin" \
			"$lp" "${peers[@]}"
		lpids+=("$LEECHER")
		peers+=(--peer "127.0.0.1:$lp")
		sleep 0.3
	done
	good=1
	for k in 1 2 3 4; do
		if ! expect_done "${lpids[$((k - 1))]}" "$T/swarm$k.log" 120 ||
			! cmp -s "$T/src/swarm.bin" "$T/s$k/swarm.bin"; then
			good=0
			echo "leecher $k failed"
		fi
	done
	# With the seeder capped, the leechers must have traded among
	# themselves: the seeder cannot have sent four copies.
	if [ $good = 1 ]; then ok "swarm of four leechers"; else fail "swarm of four leechers"; fi
	stop "$SEEDER"
else
	fail "swarm seeder did not start"
fi

# --- a leecher killed with SIGKILL half-way, then restarted -----------------
random_file "$T/src/kill.bin" $((8 * 1024 * 1024))
"$BTMAKEMETAFILE" "$T/src/kill.bin" "$ANNOUNCE" --piece_size_pow2 16 \
	--target "$T/tor/kill.torrent" >/dev/null
sp=$(free_port)
if seeder "$T/seed4.log" "$T/tor/kill.torrent" "$T/src/kill.bin" "$sp"; then
	leech "$T/kill1.log" "$T/tor/kill.torrent" "$T/k/kill.bin" "$(free_port)" \
		--peer "127.0.0.1:$sp" --max_download_rate 2M
	wait_for 20 grep -Eq "progress=([2-9][0-9])" "$T/kill1.log"
	kill -9 "$LEECHER"
	wait "$LEECHER" 2>/dev/null
	partial=$(grep -Eo "done=[0-9]+" "$T/kill1.log" | tail -1)
	leech "$T/kill2.log" "$T/tor/kill.torrent" "$T/k/kill.bin" "$(free_port)" \
		--peer "127.0.0.1:$sp"
	if expect_done "$LEECHER" "$T/kill2.log" 60 &&
		cmp -s "$T/src/kill.bin" "$T/k/kill.bin" &&
		[ "$partial" != "done=0" ] &&
		grep -Eq "progress=[1-9]" <(head -2 "$T/kill2.log"); then
		ok "killed leecher resumes ($partial before the kill)"
	else
		fail "killed leecher resumes"
		show_log "$T/kill2.log" 5
	fi
	stop "$SEEDER"
else
	fail "kill-test seeder did not start"
fi

# --- a seeder that serves corrupt data -------------------------------------
# The bad seeder trusts its files without checking (--check_hashes 0), and
# its copy has garbage in several pieces.  The leecher must end with the
# right bytes, having seen the bad pieces fail the hash check.
random_file "$T/src/corrupt.bin" $((4 * 1024 * 1024))
"$BTMAKEMETAFILE" "$T/src/corrupt.bin" "$ANNOUNCE" --piece_size_pow2 16 \
	--target "$T/tor/corrupt.torrent" >/dev/null
cp "$T/src/corrupt.bin" "$T/bad.bin"
for off in 3 17 29 41 53; do
	head -c 4096 /dev/urandom | dd of="$T/bad.bin" bs=65536 seek="$off" \
		conv=notrunc status=none
done
gp=$(free_port)
bp=$(free_port)
if seeder "$T/good.log" "$T/tor/corrupt.torrent" "$T/src/corrupt.bin" "$gp" \
	--max_upload_rate 512K && GOOD=$SEEDER &&
	seeder "$T/bad.log" "$T/tor/corrupt.torrent" "$T/bad.bin" "$bp" \
	--check_hashes 0; then
	leech "$T/leech5.log" "$T/tor/corrupt.torrent" "$T/c/corrupt.bin" \
		"$(free_port)" --peer "127.0.0.1:$bp" --peer "127.0.0.1:$gp" \
		--report_hash_failures
	if expect_done "$LEECHER" "$T/leech5.log" 90 &&
		cmp -s "$T/src/corrupt.bin" "$T/c/corrupt.bin" &&
		grep -q "failed the hash check" "$T/leech5.log"; then
		ok "corrupt peer does not corrupt the result"
	else
		fail "corrupt peer does not corrupt the result"
	fi
	stop "$SEEDER"
	stop "$GOOD"
else
	fail "corrupt-test seeders did not start"
fi

finish
