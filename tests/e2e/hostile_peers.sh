#!/bin/bash
# Hostile peers against a seeding btdownload (issue 7 item 4), with
# tests/tools/hostile_peer.py as the attacker (from 127.0.0.2; the good
# leechers are on 127.0.0.1).  The attacks: length prefixes of 0xffffffff
# and 8 MiB, an unknown message id, HAVE 0xffffffff, bitfields one byte
# short, 100 bytes long and with spare bits set, requests past the end and
# for a piece that does not exist, unrequested pieces, a wrong info hash, a
# wrong protocol string, 100,000 queued requests, a reader that never reads
# and 500 connections held idle; plus one polite connection that must be
# kept.  Each attack that should drop the peer must see the seeder close
# the connection within 10 s.
#
#  1. every attack in turn;
#  2. every attack at once, 1 round, while a good leecher downloads;
#  3. every attack at once, 2 more rounds, while a second leecher downloads;
#  4. 500 idle connections first, then a good leecher: it gets in once the
#     seeder's handshake timeout (20 s) has closed them.
#  5. the same against a second seeder with the default per-address limit
#     (--max_conns_per_ip 8): it keeps 8 of the 500 and closes the other
#     492 at once, and a good leecher gets in.
#
# The attacks come from one address (127.0.0.2), so the first seeder runs
# with --max_conns_per_ip 0: parts 1-4 test the other defences, without
# the per-address limit turning most attackers away at the door.
#
# Each leecher must finish with the right bytes (cmp), the seeder must stay
# alive and exit 0 on SIGTERM, and its peak RSS (VmHWM) must stay under
# RSS_BOUND_KB (16 MiB; 6.5 MiB measured) and must not grow by more
# than RSS_GROWTH_KB (2 MiB) between round 1 and round 3.  Under ASan the
# RSS figures are printed but not checked (its shadow memory and
# quarantine dominate them).
. "$(dirname "$0")/lib.sh"

ANNOUNCE=http://127.0.0.1:9/announce	# never contacted
HOSTILE="python3 $TOP/tests/tools/hostile_peer.py"
RSS_BOUND_KB=$((16 * 1024))
RSS_GROWTH_KB=$((2 * 1024))

asan=0
if ldd "$BTDOWNLOAD" 2>/dev/null | grep -q libasan; then
	asan=1
fi

# status_kb PID FIELD: VmHWM or VmRSS of a process, in kB.
status_kb() {
	awk -v f="$2:" '$1 == f { print $2 }' "/proc/$1/status" 2>/dev/null
}

# leech LOG SAVEAS [OPTIONS...]: a good leecher of the seeder; $LEECHER.
leech() {
	local log=$1 save=$2
	shift 2
	spawn "$log" "$BTDOWNLOAD" "$T/tor/h.torrent" --saveas "$save" \
		--minport "$(free_port)" --maxport 65000 --display_interval 1 \
		--no-seed --peer "127.0.0.1:$SP" "$@"
	LEECHER=$SPAWNED
}

# leech_ok PID LOG SAVEAS SECONDS: exits 0, complete, right bytes.
leech_ok() {
	local st
	wait_pid "$1" "$4"
	st=$?
	if [ $st -ne 0 ] || ! grep -q "download complete" "$2" ||
		! cmp -s "$T/src/h.bin" "$3"; then
		echo "leecher exit status $st"
		show_log "$2" 5
		return 1
	fi
}

# hostile LOG ARGS...: run the attacker to its end; 0 if every attack ok.
hostile() {
	local log=$1
	shift
	$HOSTILE --torrent "$T/tor/h.torrent" --port "$SP" "$@" >"$log" 2>&1
	local st=$?
	grep -E "^attack .*FAIL|^hostile:" "$log"
	return $st
}

alive() {
	if kill -0 "$SEEDER" 2>/dev/null; then
		ok "seeder alive $*"
	else
		fail "seeder died $*"
		show_log "$T/seed.log"
	fi
}

mkdir -p "$T/src" "$T/tor"
# 261 pieces of 32 KiB: not a multiple of 8, so the bitfield has spare bits.
random_file "$T/src/h.bin" $((8 * 1024 * 1024 + 100000))
"$BTMAKEMETAFILE" "$T/src/h.bin" "$ANNOUNCE" --piece_size_pow2 15 \
	--target "$T/tor/h.torrent" >/dev/null
SP=$(free_port)
spawn "$T/seed.log" "$BTDOWNLOAD" "$T/tor/h.torrent" --saveas "$T/src/h.bin" \
	--minport "$SP" --maxport "$SP" --display_interval 1 --max_conns_per_ip 0
SEEDER=$SPAWNED
if ! wait_for 30 grep -q "status=seeding" "$T/seed.log"; then
	fail "seeder did not start"
	show_log "$T/seed.log"
	finish
	exit
fi

# --- 1. in turn --------------------------------------------------------------
if hostile "$T/turn.log" --mode turn --hold 6; then
	ok "every attack in turn behaved as expected"
else
	fail "attacks in turn (see above)"
	cat "$T/turn.log"
fi
alive "after the attacks in turn"

# --- 2. all at once, one round, with a good leecher --------------------------
leech "$T/l1.log" "$T/l1/h.bin" --max_download_rate 1M
wait_for 20 grep -q "peers=[1-9]" "$T/l1.log"
if hostile "$T/all1.log" --mode all --rounds 1 --hold 8; then
	ok "every attack at once, round 1"
else
	fail "attacks at once, round 1"
	cat "$T/all1.log"
fi
check "leecher 1 finished with the right bytes during the attacks" \
	leech_ok "$LEECHER" "$T/l1.log" "$T/l1/h.bin" 90
alive "after round 1"
hwm1=$(status_kb "$SEEDER" VmHWM)
rss1=$(status_kb "$SEEDER" VmRSS)

# --- 3. two more rounds, with a second leecher -------------------------------
leech "$T/l2.log" "$T/l2/h.bin" --max_download_rate 1M
wait_for 20 grep -q "peers=[1-9]" "$T/l2.log"
if hostile "$T/all3.log" --mode all --rounds 2 --hold 8; then
	ok "every attack at once, rounds 2 and 3"
else
	fail "attacks at once, rounds 2 and 3"
	cat "$T/all3.log"
fi
check "leecher 2 finished with the right bytes during the attacks" \
	leech_ok "$LEECHER" "$T/l2.log" "$T/l2/h.bin" 90
alive "after round 3"
hwm3=$(status_kb "$SEEDER" VmHWM)
rss3=$(status_kb "$SEEDER" VmRSS)

echo "seeder memory: after round 1 VmHWM ${hwm1:-?} kB VmRSS ${rss1:-?} kB;" \
	"after round 3 VmHWM ${hwm3:-?} kB VmRSS ${rss3:-?} kB;" \
	"bound ${RSS_BOUND_KB} kB, growth allowed ${RSS_GROWTH_KB} kB"
if [ $asan = 1 ]; then
	echo "note: ASan build, RSS bound and growth not checked"
elif [ -z "$hwm1" ] || [ -z "$hwm3" ]; then
	fail "could not read the seeder's memory figures"
else
	check "peak RSS ${hwm3} kB under ${RSS_BOUND_KB} kB" \
		[ "$hwm3" -le $RSS_BOUND_KB ]
	check "peak RSS grew $((hwm3 - hwm1)) kB from round 1 to 3" \
		[ $((hwm3 - hwm1)) -le $RSS_GROWTH_KB ]
	check "RSS grew $((rss3 - rss1)) kB from round 1 to 3" \
		[ $((rss3 - rss1)) -le $RSS_GROWTH_KB ]
fi

# --- 4. idle connections first, then a good leecher --------------------------
spawn "$T/idle.log" $HOSTILE --torrent "$T/tor/h.torrent" --port "$SP" \
	--mode idle
IDLER=$SPAWNED
sleep 2
t0=$SECONDS
leech "$T/l3.log" "$T/l3/h.bin"
if leech_ok "$LEECHER" "$T/l3.log" "$T/l3/h.bin" 90; then
	ok "a leecher arriving after 500 idle connections finished in $((SECONDS - t0)) s"
else
	fail "a leecher arriving after 500 idle connections"
fi
wait_pid "$IDLER" 60
st=$?
grep "^attack" "$T/idle.log"
check "the idle connections were all closed by the seeder" [ $st = 0 ]
alive "at the end"
stop "$SEEDER"
check "seeder exits 0 on SIGTERM" [ $? = 0 ]

# --- 5. the per-address limit ------------------------------------------------
SP=$(free_port)
spawn "$T/seed2.log" "$BTDOWNLOAD" "$T/tor/h.torrent" \
	--saveas "$T/src/h.bin" --minport "$SP" --maxport "$SP" \
	--display_interval 1
SEEDER=$SPAWNED
if wait_for 30 grep -q "status=seeding" "$T/seed2.log"; then
	spawn "$T/idle2.log" $HOSTILE --torrent "$T/tor/h.torrent" \
		--port "$SP" --mode idle
	IDLER=$SPAWNED
	sleep 2
	leech "$T/l4.log" "$T/l4/h.bin"
	check "a leecher arriving after 500 idle connections from one address finished" \
		leech_ok "$LEECHER" "$T/l4.log" "$T/l4/h.bin" 90
	wait_pid "$IDLER" 60
	st=$?
	grep "^attack" "$T/idle2.log"
	refused=$(sed -n 's/.* \([0-9]*\) refused at once.*/\1/p' \
		"$T/idle2.log")
	check "the idle connections were all closed by the seeder" [ $st = 0 ]
	check "492 of 500 refused at once, 8 kept (${refused:-none} refused)" \
		[ "${refused:-0}" = 492 ]
	alive "after the per-address flood"
	stop "$SEEDER"
	check "seeder 2 exits 0 on SIGTERM" [ $? = 0 ]
else
	fail "seeder 2 did not start"
	show_log "$T/seed2.log"
fi

finish
