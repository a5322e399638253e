# shellcheck shell=bash
# Helpers for the interop tests: opentracker and the real clients
# (Transmission, aria2, libtorrent) next to btdownload on loopback.
# Sourced after tests/e2e/lib.sh, whose spawn/stop/wait_pid/wait_for/
# free_port/check/finish and $T these build on.  Every process is started
# through spawn or ispawn, so the EXIT trap of tests/e2e/lib.sh kills
# exactly what the test started, by PID.
#
# Settings each client needs on loopback are explained where they are set
# and summed up in tests/README.md.

IHERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
. "$IHERE/need.sh"
PY=$INTEROP_PY

# ispawn OUT ERR CMD...: like spawn, with stdout and stderr apart (the
# tracker-error checks count btdownload's stderr lines).
ispawn() {
	local out=$1 err=$2
	shift 2
	"$@" >"$out" 2>"$err" &
	SPAWNED=$!
	PIDS+=("$SPAWNED")
}

# elapsed START: seconds since START ($SECONDS), for the timing lines.
elapsed() {
	echo "$((SECONDS - $1)) s"
}

# infohash TORRENT: the hex info hash, as btshowmetainfo prints it.
infohash() {
	"$BTSHOWMETAINFO" "$1" | sed -n 's/^info hash\.*: //p'
}

# same_bytes SRC DST: every file under SRC (or the file SRC) has a twin
# under DST with the same bytes (cmp), and DST holds nothing more.
same_bytes() {
	local f

	if [ -f "$1" ]; then
		cmp "$1" "$2"
		return
	fi
	[ -d "$2" ] || { echo "no $2"; return 1; }
	while IFS= read -r f; do
		cmp "$1/$f" "$2/$f" || return 1
	done < <(cd "$1" && find . -type f | sort)
	[ "$(cd "$1" && find . -type f | sort)" = \
	    "$(cd "$2" && find . -type f | sort)" ] ||
		{ echo "different file lists: $1 $2"; return 1; }
}

# --- opentracker -------------------------------------------------------------

# tracker_start PORT TORRENT...: opentracker on 127.0.0.1:PORT, TCP (HTTP)
# and UDP on the same number, serving the listed torrents.  Debian builds
# it with a whitelist: any other info hash gets the failure reason
# "Requested download is not authorized for use with this tracker".  As
# root it chroots into -d DIR and drops to nobody, so DIR is mode 755 and
# the -w path is read inside the chroot (a relative name works both ways).
# It stays our child: $TRACKER_PID is the PID to stop.  It returns the
# announcing peer itself in the peer list, and keeps peers that left
# without event=stopped until their interval ends: use a new tracker (and
# port) for every test.
tracker_start() {
	local port=$1 t
	shift
	TRACKER_DIR=$T/tracker-$port
	mkdir -p "$TRACKER_DIR"
	chmod 755 "$TRACKER_DIR"
	: >"$TRACKER_DIR/whitelist.txt"
	for t in "$@"; do
		infohash "$t" >>"$TRACKER_DIR/whitelist.txt"
	done
	chmod 644 "$TRACKER_DIR/whitelist.txt"
	spawn "$TRACKER_DIR.log" opentracker -i 127.0.0.1 -p "$port" \
		-P "$port" -d "$TRACKER_DIR" -w whitelist.txt
	TRACKER_PID=$SPAWNED
	TRACKER_URL=http://127.0.0.1:$port/announce
	if ! wait_for 10 bash -c "exec 3<>/dev/tcp/127.0.0.1/$port"; then
		echo "opentracker did not start on port $port"
		show_log "$TRACKER_DIR.log"
		return 1
	fi
}

# tracker_allow TORRENT...: whitelist more torrents (SIGHUP re-reads the
# file; give it a moment).
tracker_allow() {
	local t

	for t in "$@"; do
		infohash "$t" >>"$TRACKER_DIR/whitelist.txt"
	done
	kill -HUP "$TRACKER_PID"
	sleep 0.5
}

# scrape TORRENT: "complete incomplete downloaded" from $TRACKER_URL.
scrape() {
	"$PY" "$IHERE/tracker.py" scrape "$TRACKER_URL" "$(infohash "$1")"
}

# wait_swarm SECONDS TORRENT SEEDS LEECHERS: until the tracker counts at
# least that many seeders and leechers (they have announced).
wait_swarm() {
	local end=$((SECONDS + $1)) c i

	while [ $SECONDS -lt "$end" ]; do
		read -r c i _ < <(scrape "$2" 2>/dev/null)
		if [ "${c:-0}" -ge "$3" ] && [ "${i:-0}" -ge "$4" ]; then
			return 0
		fi
		sleep 0.2
	done
	echo "tracker saw ${c:-?} seeders and ${i:-?} leechers, wanted $3 and $4"
	return 1
}

# make_torrent_mk SRC URL OUT [URL...]: mktorrent, 64 KiB pieces; more
# URLs become more tiers of an announce-list.
make_torrent_mk() {
	local src=$1 out=$3 a=(-a "$2")
	shift 3
	for u in "$@"; do
		a+=(-a "$u")
	done
	rm -f "$out"
	mktorrent "${a[@]}" -l 16 -o "$out" "$src" >/dev/null
}

# make_torrent_bt SRC URL OUT: btmakemetafile, 64 KiB pieces.
make_torrent_bt() {
	"$BTMAKEMETAFILE" "$1" "$2" --piece_size_pow2 16 --target "$3" >/dev/null
}

# --- the peers --------------------------------------------------------------
# Each start function takes MODE (seed or leech), TORRENT, DIR (the folder
# holding the torrent's top-level name), PORT and ADDR (127.0.0.1 or ::1),
# puts the PID in $PEER_PID and logs in $T/NAME.{out,err}.  A seeder
# verifies DIR first; peer_done waits for a leecher to finish.

# btdownload.  --rerequest_interval 2, given explicitly, keeps a btdownload
# that is short of peers announcing every 2 s although opentracker asks for
# a `min interval` of about 950 s (see btdownload(1)).
bt_start() {
	local mode=$1 tor=$2 dir=$3 port=$4 name=$5 extra=()
	shift 5
	[ "$mode" = leech ] && extra=(--no-seed)
	ispawn "$T/$name.out" "$T/$name.err" "$BTDOWNLOAD" "$tor" \
		--saveas "$dir/$(torrent_name "$tor")" --minport "$port" \
		--maxport "$port" --display_interval 1 --rerequest_interval 2 \
		"${extra[@]}" "$@"
	PEER_PID=$SPAWNED
}

# The torrent's top-level name (what ends up inside DIR).
torrent_name() {
	"$BTSHOWMETAINFO" "$1" | sed -n 's/^\(file\|directory\) name\.*: //p'
}

# Transmission 3.00 (transmission-cli).  It never dials a tracker peer in
# 127.0.0.0/8 ("martian" addresses) but accepts them dialling in, so with
# a Transmission leecher the seeder must learn of it from the tracker and
# connect out.  No DHT, LPD, PEX, uTP or port mapping; encryption 0 means
# "prefer plaintext" (btdownload drops MSE handshakes).  A leecher's -f
# script touches $T/NAME.done when every piece is verified; the CLI keeps
# seeding after that, so it is stopped by PID.
tr_start() {
	local mode=$1 tor=$2 dir=$3 port=$4 addr=$5 name=$6 cfg=$T/$6.cfg

	mkdir -p "$cfg" "$dir"
	cat >"$cfg/settings.json" <<EOF
{
	"bind-address-ipv4": "127.0.0.1",
	"bind-address-ipv6": "::1",
	"peer-port": $port,
	"peer-port-random-on-start": false,
	"port-forwarding-enabled": false,
	"dht-enabled": false,
	"lpd-enabled": false,
	"pex-enabled": false,
	"utp-enabled": false,
	"blocklist-enabled": false,
	"encryption": 0,
	"ratio-limit-enabled": false,
	"idle-seeding-limit-enabled": false,
	"speed-limit-down-enabled": false,
	"speed-limit-up-enabled": false,
	"download-dir": "$dir",
	"incomplete-dir-enabled": false,
	"rename-partial-files": false,
	"start-added-torrents": true,
	"rpc-enabled": false,
	"message-level": 2
}
EOF
	printf '#!/bin/sh\ntouch %s\n' "$T/$name.done" >"$cfg/done.sh"
	chmod +x "$cfg/done.sh"
	ispawn "$T/$name.out" "$T/$name.err" transmission-cli -g "$cfg" \
		-w "$dir" -p "$port" -M -f "$cfg/done.sh" "$tor" </dev/null
	PEER_PID=$SPAWNED
}

# aria2 1.36.  No LPD or PEX, no config file, bound to ADDR.  Its UDP
# tracker client works through the DHT socket: with --enable-dht=false a
# udp:// announce fails with "udp is not supported yet".  So DHT is on,
# with a private routing-table file and no entry point (it knows no node,
# so it sends nothing).  When it dials out it first tries an encrypted
# (MSE) handshake and, when that is dropped, the plain one about a second
# later.  A leecher runs with --seed-time=0: it exits 0 once the download
# is verified.
aria2_start() {
	local mode=$1 tor=$2 dir=$3 port=$4 addr=$5 name=$6 extra=()

	mkdir -p "$dir"
	if [ "$mode" = seed ]; then
		extra=(--check-integrity=true --seed-ratio=0.0)
	else
		extra=(--seed-time=0)
	fi
	if [ "$addr" = ::1 ]; then
		extra+=(--disable-ipv6=false)
	else
		extra+=(--disable-ipv6=true)
	fi
	ispawn "$T/$name.out" "$T/$name.err" aria2c --no-conf=true \
		--enable-dht=true --dht-listen-port="$(free_port)" \
		--dht-file-path="$T/$name.dht" --enable-dht6=false \
		--bt-enable-lpd=false \
		--enable-peer-exchange=false --interface="$addr" \
		--listen-port="$port" --dir="$dir" --auto-file-renaming=false \
		--allow-overwrite=true --bt-save-metadata=false \
		--summary-interval=0 --console-log-level=warn \
		--file-allocation=none "${extra[@]}" "$tor"
	PEER_PID=$SPAWNED
}

# libtorrent 2.0 through our tests/interop/lt_peer.py (settings there).
lt_start() {
	local mode=$1 tor=$2 dir=$3 port=$4 addr=$5 name=$6

	mkdir -p "$dir"
	ispawn "$T/$name.out" "$T/$name.err" "$PY" "$IHERE/lt_peer.py" "$mode" \
		"$tor" "$dir" "$addr" "$port" 600
	PEER_PID=$SPAWNED
}

# peer_start KIND MODE TORRENT DIR PORT ADDR NAME: one of the above.
peer_start() {
	local kind=$1
	shift
	case $kind in
	btdownload)
		bt_start "$1" "$2" "$3" "$4" "$6" ;;
	transmission)
		tr_start "$@" ;;
	aria2)
		aria2_start "$@" ;;
	libtorrent)
		lt_start "$@" ;;
	*)
		echo "unknown peer kind $kind"
		return 1 ;;
	esac
}

# peer_done KIND PID NAME SECONDS: the leecher finished (and, except for
# Transmission, exited 0) within SECONDS; on failure show its logs.  A
# Transmission leecher does not exit by itself: it is stopped here.
peer_done() {
	local kind=$1 pid=$2 name=$3 st=0

	case $kind in
	transmission)
		# Stopped before its files are compared: on SIGTERM it writes
		# out its block cache and closes them.
		if wait_for "$4" test -e "$T/$name.done"; then
			stop "$pid"
		else
			st=124
		fi ;;
	*)
		wait_pid "$pid" "$4" || st=$?
		if [ "$kind" = btdownload ] && [ $st = 0 ] &&
			! grep -q "download complete" "$T/$name.err" \
			    "$T/$name.out"; then
			st=1
		fi ;;
	esac
	if [ $st != 0 ]; then
		echo "$kind leecher $name: status $st"
		show_log "$T/$name.out" 5
		show_log "$T/$name.err" 10
		return 1
	fi
}
