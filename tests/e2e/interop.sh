#!/bin/bash
# interop.sh: btdownload in real swarms with Transmission 3.00, aria2 1.36
# and libtorrent 2.0 on loopback, opentracker as the tracker (issue 4,
# item 6).  Every result is compared with the original byte for byte.
#
#	bash tests/e2e/interop.sh [CELL...]	(default: every cell)
#
# Cells (KIND is transmission, aria2 or libtorrent):
#   KIND-seed      KIND is the only seeder, btdownload leeches; the torrent
#                  is made by mktorrent, announced over HTTP
#   KIND-leech     btdownload is the only seeder, KIND leeches; the torrent
#                  is made by btmakemetafile with a udp:// announce URL
#   KIND-seed-v6   as KIND-seed over ::1, no tracker (--peer [::1]:PORT)
#   KIND-leech-v6  as KIND-leech over ::1, no tracker: the btdownload
#                  seeder dials the leecher with --peer [::1]:PORT
#   mixed          one btdownload seeder; a btdownload, a Transmission, an
#                  aria2 and a libtorrent leecher at once; announce-list
#                  with a udp:// tier then an http:// tier
# The data is a multi-file torrent whose 64 KiB pieces do not divide the
# total and cross file boundaries.  See tests/README.md for the settings
# each client needs on loopback and docs/interop.md for the results.
. "$(dirname "$0")/lib.sh"
. "$TOP/tests/interop/lib.sh"

ALL_CELLS=(
	transmission-seed aria2-seed libtorrent-seed
	transmission-leech aria2-leech libtorrent-leech
	transmission-seed-v6 aria2-seed-v6 libtorrent-seed-v6
	transmission-leech-v6 aria2-leech-v6 libtorrent-leech-v6
	mixed
)
# How long a leecher may take (Transmission sends INTERESTED 7-8 s after
# the handshake, then ramps up slowly).
LEECH_S=120

# The data: four files of odd sizes in two folders, 4.4 MiB in all.
make_data() {
	mkdir -p "$T/src/multi/sub"
	random_file "$T/src/multi/first.bin" 1000003
	random_file "$T/src/multi/sub/second.bin" $((3 * 1024 * 1024 + 77))
	random_file "$T/src/multi/sub/third.bin" 456789
	random_file "$T/src/multi/tiny" 5
}

# seed_copy DIR: a private copy of the data for one seeder (a client
# must never write into the reference copy).
seed_copy() {
	mkdir -p "$1"
	cp -r "$T/src/multi" "$1/"
}

# ready KIND MODE NAME ADDR PORT SECONDS: a peer started without a tracker
# has its torrent running (a seeder: its data checked), so a handshake
# for it is not refused.  Listening is not enough: Transmission and
# libtorrent listen before the torrent is added.  Transmission's stdout
# is block-buffered, so its log on stderr and the -f script tell.
ready() {
	local kind=$1 mode=$2 name=$3

	case $kind-$mode in
	transmission-seed)
		wait_for "$6" test -e "$T/$name.done" ;;
	transmission-leech)
		wait_for "$6" grep -q tracker "$T/$name.err" ;;
	libtorrent-seed)
		wait_for "$6" grep -q seeding "$T/$name.out" ;;
	libtorrent-leech)
		wait_for "$6" grep -q running "$T/$name.out" ;;
	*)
		wait_for "$6" bash -c "exec 3<>/dev/tcp/$4/$5" ;;
	esac
}

# cell_seed KIND: KIND seeds, btdownload leeches through opentracker.
cell_seed() {
	local kind=$1 c=$1-seed port tor
	port=$(free_port)
	tor=$T/$c.torrent
	make_torrent_mk "$T/src/multi" "http://127.0.0.1:$port/announce" \
		"$tor" || return 1
	tracker_start "$port" "$tor" || return 1
	seed_copy "$T/$c-seed"
	peer_start "$kind" seed "$tor" "$T/$c-seed" "$(free_port)" 127.0.0.1 \
		"$c-seeder"
	# Start the leecher once the tracker lists the seeder: btdownload
	# dials what its first announce returns.
	wait_swarm 60 "$tor" 1 0 || return 1
	bt_start leech "$tor" "$T/$c-got" "$(free_port)" "$c-leecher"
	peer_done btdownload "$PEER_PID" "$c-leecher" "$LEECH_S" &&
		same_bytes "$T/src/multi" "$T/$c-got/multi"
}

# cell_leech KIND: btdownload seeds, KIND leeches; a UDP tracker.
cell_leech() {
	local kind=$1 c=$1-leech port tor lpid
	port=$(free_port)
	tor=$T/$c.torrent
	make_torrent_bt "$T/src/multi" "udp://127.0.0.1:$port/announce" \
		"$tor" || return 1
	tracker_start "$port" "$tor" || return 1
	peer_start "$kind" leech "$tor" "$T/$c-got" "$(free_port)" 127.0.0.1 \
		"$c-leecher"
	lpid=$PEER_PID
	# Transmission never dials a 127/8 peer: the seeder must learn of the
	# leecher from its first announce and connect out.
	wait_swarm 60 "$tor" 0 1 || return 1
	seed_copy "$T/$c-seed"
	bt_start seed "$tor" "$T/$c-seed" "$(free_port)" "$c-seeder"
	peer_done "$kind" "$lpid" "$c-leecher" "$LEECH_S" &&
		same_bytes "$T/src/multi" "$T/$c-got/multi"
}

# The v6 cells announce to a tracker that is not there (opentracker
# listens on IPv4 only): the peers find each other through --peer alone.
dead_url() {
	echo "http://127.0.0.1:$(free_port)/announce"
}

# cell_seed6 KIND: KIND seeds on ::1, btdownload dials it there.
cell_seed6() {
	local kind=$1 c=$1-seed-v6 sport tor
	sport=$(free_port)
	tor=$T/$c.torrent
	make_torrent_mk "$T/src/multi" "$(dead_url)" "$tor" || return 1
	seed_copy "$T/$c-seed"
	peer_start "$kind" seed "$tor" "$T/$c-seed" "$sport" ::1 "$c-seeder"
	if ! ready "$kind" seed "$c-seeder" ::1 "$sport" 60; then
		echo "$kind seeder not ready"
		return 1
	fi
	bt_start leech "$tor" "$T/$c-got" "$(free_port)" "$c-leecher" \
		--peer "[::1]:$sport"
	peer_done btdownload "$PEER_PID" "$c-leecher" "$LEECH_S" &&
		same_bytes "$T/src/multi" "$T/$c-got/multi"
}

# cell_leech6 KIND: KIND leeches on ::1; the btdownload seeder dials it.
cell_leech6() {
	local kind=$1 c=$1-leech-v6 lport tor lpid
	lport=$(free_port)
	tor=$T/$c.torrent
	make_torrent_bt "$T/src/multi" "$(dead_url)" "$tor" || return 1
	peer_start "$kind" leech "$tor" "$T/$c-got" "$lport" ::1 "$c-leecher"
	lpid=$PEER_PID
	if ! ready "$kind" leech "$c-leecher" ::1 "$lport" 60; then
		echo "$kind leecher not ready"
		return 1
	fi
	seed_copy "$T/$c-seed"
	bt_start seed "$tor" "$T/$c-seed" "$(free_port)" "$c-seeder" \
		--peer "[::1]:$lport"
	peer_done "$kind" "$lpid" "$c-leecher" "$LEECH_S" &&
		same_bytes "$T/src/multi" "$T/$c-got/multi"
}

# cell_mixed: one btdownload seeder, one leecher of every kind.
cell_mixed() {
	local port tor k i pids=() good=0
	local kinds=(btdownload transmission aria2 libtorrent)
	port=$(free_port)
	tor=$T/mixed.torrent
	make_torrent_mk "$T/src/multi" "udp://127.0.0.1:$port/announce" \
		"$tor" "http://127.0.0.1:$port/announce" || return 1
	tracker_start "$port" "$tor" || return 1
	for k in "${kinds[@]}"; do
		peer_start "$k" leech "$tor" "$T/mixed-$k" "$(free_port)" \
			127.0.0.1 "mixed-$k"
		pids+=("$PEER_PID")
	done
	wait_swarm 60 "$tor" 0 4 || return 1
	seed_copy "$T/mixed-seed"
	bt_start seed "$tor" "$T/mixed-seed" "$(free_port)" mixed-seeder
	for i in 0 1 2 3; do
		k=${kinds[$i]}
		if peer_done "$k" "${pids[$i]}" "mixed-$k" "$LEECH_S" &&
			same_bytes "$T/src/multi" "$T/mixed-$k/multi"; then
			good=$((good + 1))
		else
			echo "mixed: the $k leecher failed"
		fi
	done
	[ $good = 4 ]
}

# run_cell NAME: one cell, with its own tracker and peers, all stopped
# (by PID) when it ends.
run_cell() {
	local c=$1 t0=$SECONDS npids=${#PIDS[@]} rc p

	case $c in
	*-seed-v6)
		cell_seed6 "${c%-seed-v6}" ;;
	*-leech-v6)
		cell_leech6 "${c%-leech-v6}" ;;
	*-seed)
		cell_seed "${c%-seed}" ;;
	*-leech)
		cell_leech "${c%-leech}" ;;
	mixed)
		cell_mixed ;;
	*)
		echo "unknown cell $c (cells: ${ALL_CELLS[*]})"
		false ;;
	esac
	rc=$?
	[ $rc = 0 ] || cell_post_mortem "$c" "${PIDS[@]:$npids}"
	for p in "${PIDS[@]:$npids}"; do
		stop "$p"
	done
	PIDS=("${PIDS[@]:0:$npids}")
	if [ $rc = 0 ]; then
		ok "$c ($(elapsed $t0))"
	else
		fail "$c ($(elapsed $t0))"
	fi
}

# cell_post_mortem CELL PID...: which of the cell's processes had already
# exited (with what status), and the end of every log of the cell.
cell_post_mortem() {
	local c=$1 p f st
	shift
	for p in "$@"; do
		if ! kill -0 "$p" 2>/dev/null; then
			wait "$p" 2>/dev/null
			st=$?
			# 127: reaped already by the cell, which said how it went.
			[ $st = 127 ] ||
				echo "$c: process $p had exited, status $st"
		fi
	done
	for f in "$T/$c"-*.out "$T/$c"-*.err; do
		[ -s "$f" ] && show_log "$f" 8
	done
}

if ! interop_need; then
	fail "the real peers are not installed"
	finish
	exit
fi
make_data
cells=("$@")
[ $# -gt 0 ] || cells=("${ALL_CELLS[@]}")
for c in "${cells[@]}"; do
	run_cell "$c"
done
finish
