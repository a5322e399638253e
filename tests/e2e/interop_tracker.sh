#!/bin/bash
# interop_tracker.sh: trackers that fail (issue 4, item 7).  A btdownload
# seeder whose only tracker is bad, and a btdownload leecher that finds it
# with --peer (and announces to the same bad tracker).  The leecher must
# complete with the right bytes while both keep failing to announce, and
# each must say what is wrong in exactly one line on stderr, however many
# times the tracker fails the same way.
#
#	bash tests/e2e/interop_tracker.sh [CELL...]	(default: every cell)
#
# Cells:
#   http-failure   opentracker over HTTP, torrent not whitelisted: it
#                  answers with a `failure reason`
#   udp-unlisted   the same over UDP: opentracker then answers with a bare
#                  8-byte announce header (no error action, no message)
#   udp-failure    a UDP tracker of ours (tests/interop/tracker.py) that
#                  answers every announce with a BEP 15 error (action 3)
#   http-down      nothing listens on the tracker's port
#   udp-down       nothing listens on the UDP tracker's port: the ICMP port
#                  unreachable must be reported within UDP_DOWN_S seconds
#                  of the seeder's start, not after BEP 15 retransmissions
#   http-garbage   an HTTP server answering 200 with a body not bencoded
# The cells run side by side: each transfer is slowed (--max_download_rate)
# so it spans the seeder's second announce (15 s after the first failure),
# and each seeder is checked no sooner than WINDOW_S after it started.
. "$(dirname "$0")/lib.sh"
. "$TOP/tests/interop/lib.sh"

ALL_CELLS=(http-failure udp-unlisted udp-failure http-down udp-down
	http-garbage)
UDP_MSG="no such torrent here (interop test)"
# The seeder checks its 4.4 MiB first; the report takes one round trip.
UDP_DOWN_S=5
# Long enough for a failed announce to be retried (15 s back-off).
WINDOW_S=17
LEECH_RATE=256K

# expected CELL: the one stderr line each btdownload must print.
expected() {
	case $1 in
	http-failure)
		echo "btdownload: rejected by tracker - Requested download is" \
		    "not authorized for use with this tracker." ;;
	udp-unlisted)
		echo "btdownload: rejected by tracker - (no reason given:" \
		    "empty udp announce reply)" ;;
	udp-failure)
		echo "btdownload: rejected by tracker - $UDP_MSG" ;;
	http-down | udp-down)
		echo "btdownload: problem connecting to tracker - connection refused" ;;
	http-garbage)
		echo "btdownload: bad data from tracker - " ;;
	esac
}

# setup CELL: its tracker, a seeder, and a leecher dialling the seeder.
setup() {
	local c=$1 port url tor other sport lport seed_dir v=${1//-/_}

	port=$(free_port)
	case $c in
	http-failure | http-down)
		url=http://127.0.0.1:$port/announce ;;
	udp-unlisted | udp-down)
		url=udp://127.0.0.1:$port/announce ;;
	udp-failure)
		url=udp://127.0.0.1:$port/announce
		spawn "$T/$c-udp.log" "$PY" "$IHERE/tracker.py" udp-error \
			"$port" "$UDP_MSG"
		wait_for 10 grep -q ready "$T/$c-udp.log" || return 1 ;;
	http-garbage)
		url=http://127.0.0.1:$port/announce
		spawn "$T/$c-junk.log" "$PY" "$IHERE/tracker.py" junk "$port"
		wait_for 10 grep -q ready "$T/$c-junk.log" || return 1 ;;
	*)
		echo "unknown cell $c (cells: ${ALL_CELLS[*]})"
		return 1 ;;
	esac
	tor=$T/$c.torrent
	make_torrent_bt "$T/src/multi" "$url" "$tor" || return 1
	if [ "$c" = http-failure ] || [ "$c" = udp-unlisted ]; then
		# A tracker that knows another torrent only.
		other=$T/$c-other.torrent
		make_torrent_bt "$T/src/multi/tiny" "$url" "$other" || return 1
		tracker_start "$port" "$other" || return 1
	fi
	seed_dir=$T/$c-seed
	mkdir -p "$seed_dir"
	cp -r "$T/src/multi" "$seed_dir/"
	sport=$(free_port)
	lport=$(free_port)
	# The seeder knows the leecher too: a btdownload that a tracker
	# refused and that has no connection and no --peer gives up (exit
	# status 9), which is not what is tested here.
	bt_start seed "$tor" "$seed_dir" "$sport" "$c-seeder" \
		--peer "127.0.0.1:$lport"
	eval "SEEDER_$v=$PEER_PID SEEDER_T0_$v=$SECONDS SPORT_$v=$sport"
	if [ "$c" = udp-down ] && ! wait_for "$UDP_DOWN_S" grep -q \
	    "connection refused" "$T/$c-seeder.err"; then
		echo "$c: no \"connection refused\" within $UDP_DOWN_S s"
		head -n 5 "$T/$c-seeder.err"
		return 1
	fi
	# A --peer that refuses is dialled again only 20 s later.
	wait_for 30 grep -q status=seeding "$T/$c-seeder.out" || return 1
	bt_start leech "$tor" "$T/$c-got" "$lport" "$c-leecher" \
		--peer "127.0.0.1:$sport" --max_download_rate "$LEECH_RATE"
	eval "LEECHER_$v=$PEER_PID"
}

# one_line FILE LINE: FILE holds LINE (a prefix of it) and nothing else.
one_line() {
	local n

	n=$(wc -l <"$1")
	if [ "$n" -ne 1 ] || [ "$(head -c ${#2} "$1")" != "$2" ]; then
		echo "expected one line \"$2...\" in $1, got $n:"
		head -n 5 "$1"
		return 1
	fi
}

# asked LOG PORT: how many announces the tracker logged from PORT.
asked() {
	grep -c "port=$2 " "$1"
}

# verify CELL: the leecher completed, the seeder is still up, one line each.
verify() {
	local c=$1 s l t0 sport want log='' v=${1//-/_} good=0
	s=$(eval "echo \$SEEDER_$v")
	l=$(eval "echo \$LEECHER_$v")
	t0=$(eval "echo \$SEEDER_T0_$v")
	sport=$(eval "echo \$SPORT_$v")
	want=$(expected "$c")
	while [ $((SECONDS - t0)) -lt $WINDOW_S ]; do
		sleep 0.2
	done
	peer_done btdownload "$l" "$c-leecher" 120 &&
		same_bytes "$T/src/multi" "$T/$c-got/multi" || good=1
	kill -0 "$s" 2>/dev/null || { echo "$c: the seeder died"; good=1; }
	one_line "$T/$c-seeder.err" "$want" || good=1
	one_line "$T/$c-leecher.err" "$want" || good=1
	# Where our tracker counts announces: the seeder asked again, and
	# the repeat was not reported.
	case $c in
	http-garbage)
		log=$T/$c-junk.log ;;
	udp-failure)
		log=$T/$c-udp.log ;;
	esac
	if [ -n "$log" ] && [ "$(asked "$log" "$sport")" -lt 2 ]; then
		echo "$c: the seeder did not announce again"
		good=1
	fi
	return $good
}

if ! interop_need; then
	fail "the real peers are not installed"
	finish
	exit
fi
mkdir -p "$T/src/multi/sub"
random_file "$T/src/multi/first.bin" 1000003
random_file "$T/src/multi/sub/second.bin" $((3 * 1024 * 1024 + 77))
random_file "$T/src/multi/tiny" 5
cells=("$@")
[ $# -gt 0 ] || cells=("${ALL_CELLS[@]}")
t0=$SECONDS
started=()
for c in "${cells[@]}"; do
	if setup "$c"; then
		started+=("$c")
	else
		fail "$c: could not start"
	fi
done
for c in "${started[@]}"; do
	if verify "$c"; then
		ok "$c ($(elapsed $t0))"
	else
		fail "$c ($(elapsed $t0))"
	fi
done
finish
