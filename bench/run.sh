#!/bin/bash
# bench/run.sh (make bench): btdownload against aria2, Transmission and
# libtorrent on 127.0.0.1, in one run.
#
#   1. a random file of SIZE bytes (default 1G), a torrent of PIECE-byte
#      pieces (default 256K) and an opentracker;
#   2. every leecher in LEECHERS against every seeder in SEEDERS: wall
#      seconds from start to verified completion, MiB/s, leecher CPU
#      seconds (user + system), peak RSS, the seeder's CPU seconds for the
#      transfer, and each figure's ratio to btdownload's in the same run;
#      every download is compared byte for byte with the source; each runs
#      REPEAT times (default 3) and the fastest run is reported;
#   3. btdownload's start-up hash check of the data (in the page cache)
#      next to `openssl speed -evp sha1`;
#   4. one btdownload seeder loaded by bench/loadgen with N connections
#      for each N in LOAD_NS: aggregate MiB/s and seeder CPU s per GiB;
#   5. a btdownload leecher through bench/delayrelay (DELAY_MS each way)
#      for RELAY_SECS seconds, with the rate-sized request queue and with
#      a fixed backlog of 5;
#   6. a bare sender for comparison: bench/sendpath sending the file with
#      no protocol around it (sendfile() 256 KiB at a time, and preadv() +
#      send() as the seeder does), REPEAT times each; its CPU per GiB is
#      printed next to the seeders' figures;
#   7. with BIG=16G (say), a btdownload to btdownload transfer of a sparse
#      file that big: peak RSS of both.
#
# The results go to stdout as Markdown and, unless DOC= is empty, to
# docs/performance.md with the machine's description.  Benchmarks are not
# tests: nothing here fails on a slow figure.  It exits 1 when a download
# did not complete or its bytes differ.  KEEP=1 keeps the work directory
# (logs of every program); it is under /tmp and removed otherwise.
# Only processes started here are stopped, by PID.
set -u
TOP=$(cd "$(dirname "$0")/.." && pwd)
BINDIR=${BINDIR:-$TOP}
BTDOWNLOAD=$BINDIR/btdownload
BTMAKEMETAFILE=$BINDIR/btmakemetafile
BTSHOWMETAINFO=$BINDIR/btshowmetainfo
PY=/usr/bin/python3		# Debian's python, which has libtorrent
SIZE=${SIZE:-1G}
PIECE=${PIECE:-256K}
LEECHERS=${LEECHERS:-btdownload aria2 transmission libtorrent}
SEEDERS=${SEEDERS:-btdownload libtorrent}
LOAD_NS=${LOAD_NS:-1 10 100 500}
LOAD_SECS=${LOAD_SECS:-5}
RELAY_SECS=${RELAY_SECS:-20}
DELAY_MS=${DELAY_MS:-50}
TIMEOUT=${TIMEOUT:-300}
BIG=${BIG:-}
PARTS=${PARTS:-matrix floor check load relay}	# which parts to run
REPEAT=${REPEAT:-3}	# runs of each leecher; the fastest is reported
DOC=${DOC-$TOP/docs/performance.md}
B=$TOP/build/bench
W=$(mktemp -d /tmp/btbench.XXXXXX)
PIDS=()
FAILED=0

say() { echo "bench: $*" >&2; }

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
		say "kept $W"
	else
		rm -rf "$W"
	fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# bytes 1G -> 1073741824 (K, M, G, T suffixes are powers of 1024).
bytes() {
	local n=${1%[KMGTkmgt]} s=${1##*[0-9]}
	case $s in
	K|k) echo $((n << 10)) ;; M|m) echo $((n << 20)) ;;
	G|g) echo $((n << 30)) ;; T|t) echo $((n << 40)) ;; *) echo "$n" ;;
	esac
}

# A TCP and UDP port on 127.0.0.1 that nothing listens on now.
free_port() {
	local p
	while :; do
		p=$((20000 + RANDOM % 40000))
		[ -z "$(ss -Htuln "sport = :$p" 2>/dev/null)" ] && break
	done
	echo "$p"
}

# spawn LOG CMD...: run CMD in the background; its PID is in $SPAWNED.
spawn() {
	local log=$1
	shift
	"$@" </dev/null >"$log" 2>&1 &
	SPAWNED=$!
	PIDS+=("$SPAWNED")
}

stop_pid() {
	kill "$1" 2>/dev/null
	for _ in $(seq 100); do
		kill -0 "$1" 2>/dev/null || break
		sleep 0.1
	done
	kill -9 "$1" 2>/dev/null
	wait "$1" 2>/dev/null
}

# wait_log FILE STRING SECONDS
wait_log() {
	local end=$((SECONDS + $3))
	until grep -q "$2" "$1" 2>/dev/null; do
		[ $SECONDS -lt "$end" ] || return 1
		sleep 0.05
	done
}

# CPU seconds (user + system, all threads) and peak RSS (KiB) of a PID.
cpu_of() {
	local f
	f=$(sed 's/.*) //' "/proc/$1/stat" 2>/dev/null) || { echo 0; return; }
	set -- $f
	echo "scale=2; (${12} + ${13}) / $(getconf CLK_TCK)" | bc
}
hwm_of() {
	awk '/^VmHWM:/ { print $2 }' "/proc/$1/status" 2>/dev/null || echo 0
}

# field NAME LINE: the value of NAME=... in a rusage/loadgen line.
field() {
	local f
	for f in $2; do
		case $f in "$1="*) echo "${f#*=}"; return ;; esac
	done
}

mib() { echo "scale=1; $1 / 1024" | bc; }
# div A B: A / B to two places, or "-" when either is missing or not > 0.
div() {
	if [ -z "$1" ] || [ -z "$2" ] || [ "$(echo "$1 > 0 && $2 > 0" | bc)" != 1 ]
	then
		echo "-"
		return
	fi
	echo "scale=2; $1 / $2" | bc | sed 's/^\./0./'
}

build_tools() {
	local cc=${CC:-cc} t
	mkdir -p "$B"
	for t in rusage loadgen delayrelay sendpath; do
		$cc -std=c11 -D_POSIX_C_SOURCE=200809L -O2 -Wall -Wextra \
		    -o "$B/$t" "$TOP/bench/$t.c" || exit 1
	done
	[ -x "$BTDOWNLOAD" ] || { say "build btdownload first (make)"; exit 1; }
}

# --- the machine --------------------------------------------------------

machine() {
	CPU_MODEL=$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)
	NPROC=$(nproc)
	KERNEL=$(uname -sr)
	MEM_GIB=$(awk '/^MemTotal/ { printf "%.1f", $2 / 1048576 }' /proc/meminfo)
	# The seeders' CPU depends on it: see "TCP congestion control" below.
	TCP_CC=$(cat /proc/sys/net/ipv4/tcp_congestion_control 2>/dev/null ||
	    echo unknown)
	# openssl prints thousands of bytes per second per block size.
	OSSL_K=$(openssl speed -seconds 3 -bytes 16384 -evp sha1 2>/dev/null |
	    awk '/^sha1/ { sub(/k$/, "", $2); print $2 }')
	OSSL_MIBS=$(echo "scale=0; $OSSL_K * 1000 / 1048576" | bc)
	say "$NPROC x $CPU_MODEL, $KERNEL, TCP $TCP_CC; openssl sha1 $OSSL_MIBS MiB/s"
}

# --- data, torrent, tracker ---------------------------------------------

make_data() {
	local pow=0
	TOTAL=$(bytes "$SIZE")
	PLEN=$(bytes "$PIECE")
	while [ $((1 << pow)) -lt "$PLEN" ]; do pow=$((pow + 1)); done
	NAME=bench.bin
	mkdir -p "$W/src" "$W/tracker"
	say "making $TOTAL random bytes"
	openssl enc -aes-128-ctr -nosalt -pass "pass:$RANDOM$RANDOM" \
	    -in /dev/zero 2>/dev/null | head -c "$TOTAL" >"$W/src/$NAME"
	TPORT=$(free_port)
	ANNOUNCE=http://127.0.0.1:$TPORT/announce
	"$BTMAKEMETAFILE" "$W/src/$NAME" "$ANNOUNCE" --piece_size_pow2 "$pow" \
	    --target "$W/bench.torrent" >/dev/null || exit 1
	# The same info dict with a dead tracker: peers come from --peer only.
	"$BTMAKEMETAFILE" "$W/src/$NAME" http://127.0.0.1:9/announce \
	    --piece_size_pow2 "$pow" --target "$W/notracker.torrent" \
	    >/dev/null || exit 1
	INFOHASH=$("$BTSHOWMETAINFO" "$W/bench.torrent" |
	    awk '/^info hash/ { print $NF }')
	# opentracker (Debian's) serves whitelisted hashes only; as root it
	# chroots into the directory, hence the path relative to it.
	chmod 755 "$W/tracker"
	echo "$INFOHASH" >"$W/tracker/whitelist.txt"
	chmod 644 "$W/tracker/whitelist.txt"
	spawn "$W/tracker.log" opentracker -i 127.0.0.1 -p "$TPORT" \
	    -P "$TPORT" -d "$W/tracker" -w /whitelist.txt
	sleep 0.5
}

# --- seeders ---------------------------------------------------------------

# start_seeder NAME: start it on the source data; SEEDPID, SEEDLOG.
start_seeder() {
	local port
	port=$(free_port)
	NSEED=$((${NSEED:-0} + 1))
	SEEDLOG=$W/seed-$1-$NSEED.log
	case $1 in
	btdownload)
		rm -f "$W/src/.$NAME.btresume"
		spawn "$SEEDLOG" "$BTDOWNLOAD" "$W/bench.torrent" \
		    --saveas "$W/src/$NAME" --minport "$port" --maxport "$port" \
		    --display_interval 1 --rerequest_interval 2
		SEEDPID=$SPAWNED
		wait_log "$SEEDLOG" "status=seeding" 120 ;;
	libtorrent)
		spawn "$SEEDLOG" "$PY" "$TOP/bench/lt_client.py" seed \
		    "$W/bench.torrent" "$W/src" "$port"
		SEEDPID=$SPAWNED
		wait_log "$SEEDLOG" SEEDING 120 ;;
	esac || { say "seeder $1 did not start"; tail -5 "$SEEDLOG" >&2; return 1; }
	sleep 1		# let it announce
}

# --- leechers -------------------------------------------------------------

ARIA2_OPTS=(--no-conf=true --enable-dht=false --enable-dht6=false
	--bt-enable-lpd=false --enable-peer-exchange=false --disable-ipv6=true
	--interface=127.0.0.1 --auto-file-renaming=false --allow-overwrite=true
	--bt-save-metadata=false --summary-interval=0 --console-log-level=warn
	--file-allocation=none --rpc-save-upload-metadata=false)

transmission_config() {
	mkdir -p "$1"
	cat >"$1/settings.json" <<JSON
{
  "bind-address-ipv4": "127.0.0.1", "bind-address-ipv6": "::1",
  "peer-port": $2, "peer-port-random-on-start": false,
  "port-forwarding-enabled": false, "dht-enabled": false,
  "lpd-enabled": false, "pex-enabled": false, "utp-enabled": false,
  "blocklist-enabled": false, "encryption": 0, "ratio-limit-enabled": false,
  "idle-seeding-limit-enabled": false, "speed-limit-down-enabled": false,
  "speed-limit-up-enabled": false, "download-dir": "$3",
  "incomplete-dir-enabled": false, "rename-partial-files": false,
  "start-added-torrents": true, "rpc-enabled": false, "message-level": 1
}
JSON
}

# leech SEEDER LEECHER [ROWS]: one download; appends a row to ROWS
# (default $W/rows).
leech() {
	local s=$1 l=$2 rows=${3:-$W/rows}
	local out=$W/out-$2 hook=$W/done-$2.sh done=$W/done-$2
	local port cost log line c0 c1 rp ok=no cmd=() until=()
	rm -rf "$out" "$done"
	mkdir -p "$out"
	port=$(free_port)
	TRY=$((${TRY:-0} + 1))
	cost=$W/cost-$s-$l-$TRY
	log=$W/leech-$s-$l-$TRY.log
	printf '#!/bin/sh\ntouch %s\n' "$done" >"$hook"
	chmod +x "$hook"
	case $l in
	btdownload)
		until=(-s "download complete")
		cmd=("$BTDOWNLOAD" "$W/bench.torrent" --saveas "$out/$NAME"
		    --minport "$port" --maxport "$port" --display_interval 1
		    --no-seed) ;;
	aria2)
		until=(-d "$done")
		cmd=(aria2c "${ARIA2_OPTS[@]}" --listen-port="$port"
		    --dir="$out" --seed-time=0 --bt-hash-check-seed=false
		    --on-bt-download-complete="$hook" "$W/bench.torrent") ;;
	transmission)
		# A fresh configuration: one that remembers the torrent as
		# complete makes it stop at once ("No data found").
		until=(-d "$done")
		rm -rf "$W/tr-$s"
		transmission_config "$W/tr-$s" "$port" "$out"
		cmd=(transmission-cli -g "$W/tr-$s" -w "$out" -p "$port"
		    -f "$hook" "$W/bench.torrent") ;;
	libtorrent)
		until=(-s DONE)
		cmd=("$PY" "$TOP/bench/lt_client.py" leech "$W/bench.torrent"
		    "$out" "$port") ;;
	esac
	c0=$(cpu_of "$SEEDPID")
	"$B/rusage" -o "$cost" -l "$log" "${until[@]}" -t "$TIMEOUT" -- \
	    "${cmd[@]}" &
	rp=$!
	wait "$rp"
	c1=$(cpu_of "$SEEDPID")
	line=$(cat "$cost" 2>/dev/null)
	cmp -s "$W/src/$NAME" "$out/$NAME" && ok=yes
	if [ "$ok" != yes ] || [ "$(field status "$line")" != done ]; then
		FAILED=1
		say "$l from $s: FAILED ($line)"
	else
		say "$l from $s: $line"
	fi
	echo "$s $l $(field status "$line") $(field wall "$line")" \
	    "$(field user "$line") $(field sys "$line")" \
	    "$(field maxrss_kib "$line") $(echo "$c1 - $c0" | bc) $ok" \
	    >>"$rows"
	rm -rf "$out"
}

# One untimed btdownload transfer first.  The data was just written: its
# dirty pages go to disk now, not during a measured run; and on a VM the
# first writer of never-touched memory pays for the host backing it (we
# measured 3 s of system time for the first 1 GiB written, 0.3-0.5 s after).
warm_up() {
	sync
	start_seeder btdownload || return
	leech btdownload btdownload "$W/warm-up"
	stop_pid "$SEEDPID"
	sync
}

# The seeder's peak RSS, over its restarts.
seed_hwm() {
	local h
	h=$(hwm_of "$SEEDPID")
	[ "${h:-0}" -gt "$SEED_HWM" ] && SEED_HWM=$h
}

matrix() {
	local s l
	for s in $SEEDERS; do
		SEED_HWM=0
		start_seeder "$s" || { FAILED=1; continue; }
		for l in $LEECHERS; do
			: >"$W/tries"
			for _ in $(seq "$REPEAT"); do
				leech "$s" "$l" "$W/tries"
			done
			# The fastest complete run, else the first.
			{ awk '$3 == "done" && $9 == "yes"' "$W/tries" |
			    sort -g -k4,4; cat "$W/tries"; } | head -1 >>"$W/rows"
		done
		seed_hwm
		echo "$s $SEED_HWM" >>"$W/seeders"
		stop_pid "$SEEDPID"
	done
}

# Markdown for the matrix: one table, ratios to btdownload's leecher
# against the same seeder; its row comes first.
matrix_table() {
	local s l st wall user sys rss scpu ok mibs cpu
	local bwall bmibs bcpu brss
	echo "| seeder | leecher | wall s | MiB/s | CPU s | peak RSS MiB |" \
	    "wall ×bt | MiB/s ×bt | CPU ×bt | RSS ×bt | seeder CPU s | bytes ok |"
	echo "|---|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|---|"
	for s in $SEEDERS; do
		bwall=0 bmibs=0 bcpu=0 brss=0
		while read -r _ l st wall user sys rss scpu ok; do
			[ "$l" = btdownload ] && [ "$st" = done ] || continue
			bwall=$wall
			bcpu=$(echo "$user + $sys" | bc)
			bmibs=$(echo "scale=1; $TOTAL / 1048576 / $wall" | bc)
			brss=$rss
		done < <(awk -v s="$s" '$1 == s' "$W/rows")
		while read -r _ l st wall user sys rss scpu ok; do
			if [ "$st" != done ]; then
				echo "| $s | $l | $st | | | | | | | | | $ok |"
				continue
			fi
			mibs=$(echo "scale=1; $TOTAL / 1048576 / $wall" | bc)
			cpu=$(echo "$user + $sys" | bc)
			echo "| $s | $l | $wall | $mibs | $cpu | $(mib "$rss") |" \
			    "$(div "$wall" "$bwall") | $(div "$mibs" "$bmibs") |" \
			    "$(div "$cpu" "$bcpu") | $(div "$rss" "$brss") |" \
			    "$scpu | $ok |"
		done < <(awk -v s="$s" '$1 == s && $2 == "btdownload"' "$W/rows"
		    awk -v s="$s" '$1 == s && $2 != "btdownload"' "$W/rows")
	done
}

seeder_table() {
	local s hwm scpu gib
	gib=$(echo "scale=3; $TOTAL / 1073741824" | bc)
	echo "| seeder | CPU s per GiB served (each leecher) | peak RSS MiB |"
	echo "|---|---|--:|"
	while read -r s hwm; do
		scpu=$(awk -v s="$s" -v g="$gib" '$1 == s && $3 == "done" {
		    printf "%s%s %.2f", sep, $2, $8 / g; sep = ", " }' "$W/rows")
		echo "| $s | $scpu | $(mib "$hwm") |"
	done <"$W/seeders"
}

# --- what a bare sender costs -----------------------------------------------

# bench/sendpath sends the file with no protocol around it, to a receiver
# that may run on the other core: mode 3 with sendfile() 256 KiB at a time,
# mode 4 the way btdownload's seeder does (one preadv() of 32 16 KiB blocks
# between their headers, one send() per 512 KiB).  The cheaper is what the
# kernel charges any seeder here, under this machine's congestion control.
floor() {
	local m
	: >"$W/floor"
	for _ in $(seq "$REPEAT"); do
		for m in 3 4; do
			"$B/sendpath" "$W/src/$NAME" "$m" 2>&1 |
			    awk '/^mode [0-9]: sender/ { print $2, $4 }' |
			    tr -d : >>"$W/floor"
		done
	done
	FLOOR=$(awk '{ print $2 }' "$W/floor" | sort -g | head -1)
	[ -n "$FLOOR" ] || { FAILED=1; say "sendpath failed"; return; }
	FLOOR_GIB=$(per_gib "$FLOOR")
	say "floor: sendpath $(tr '\n' ' ' <"$W/floor")(mode, CPU s)"
}

# per_gib SECONDS: SECONDS for the whole file, per GiB.
per_gib() {
	echo "scale=2; $1 * 1073741824 / $TOTAL" | bc | sed 's/^\./0./'
}

# The runs of sendpath mode $1, per GiB.
floor_runs() {
	local r out=""
	for r in $(awk -v m="$1" '$1 == m { print $2 }' "$W/floor" | sort -g)
	do
		out="$out${out:+, }$(per_gib "$r")"
	done
	echo "$out"
}

floor_text() {
	[ -n "${FLOOR_GIB:-}" ] || return 0
	cat <<EOF2
A bare sender, for comparison: bench/sendpath sends the same file with no
protocol around it to a receiver that may run on the other core, under
TCP congestion control $TCP_CC.  CPU s per GiB, each run: sendfile() of
256 KiB at a time (mode 3) $(floor_runs 3); one preadv() of 32 16 KiB
blocks between their headers and one send() per 512 KiB, as btdownload's
seeder does (mode 4), $(floor_runs 4).$(floor_ratio)
EOF2
}

# btdownload's seeder CPU per GiB to the btdownload leecher, over the
# cheapest bare sender.
floor_ratio() {
	local gib b
	gib=$(echo "scale=3; $TOTAL / 1073741824" | bc)
	b=$(awk -v g="$gib" '$1 == "btdownload" && $2 == "btdownload" &&
	    $3 == "done" { printf "%.2f", $8 / g; exit }' "$W/rows")
	[ -n "$b" ] || return 0
	echo "  The btdownload seeder's $b to the btdownload leecher is" \
	    "$(div "$b" "$FLOOR_GIB") × the cheapest of these ($FLOOR_GIB)."
}

# --- start-up hash check --------------------------------------------------

hash_check() {
	local line
	rm -f "$W/src/.$NAME.btresume"
	# Complete data and --no-seed: check, then exit.
	"$B/rusage" -x -o "$W/cost-check" -l "$W/check.log" -t "$TIMEOUT" -- \
	    "$BTDOWNLOAD" "$W/notracker.torrent" --saveas "$W/src/$NAME" \
	    --no-seed --minport "$(free_port)" --maxport 65000
	line=$(cat "$W/cost-check")
	CHECK_WALL=$(field wall "$line")
	CHECK_CPU=$(echo "$(field user "$line") + $(field sys "$line")" | bc)
	CHECK_RSS=$(field maxrss_kib "$line")
	CHECK_MIBS=$(echo "scale=0; $TOTAL / 1048576 / $CHECK_WALL" | bc)
	grep -q "is complete" "$W/check.log" || { FAILED=1; say "check failed"; }
	say "start-up check: $line"
}

# --- many connections to one seeder ---------------------------------------

load() {
	local port n
	port=$(free_port)
	rm -f "$W/src/.$NAME.btresume"
	spawn "$W/seed-load.log" "$BTDOWNLOAD" "$W/notracker.torrent" \
	    --saveas "$W/src/$NAME" --minport "$port" --maxport "$port" \
	    --display_interval 1 --max_uploads 1000 --max_allow_in 1000 \
	    --max_conns_per_ip 0
	wait_log "$W/seed-load.log" "status=seeding" 120 || {
		FAILED=1; say "load seeder did not start"; return; }
	for n in $LOAD_NS; do
		"$B/loadgen" -a "127.0.0.1:$port" -i "$INFOHASH" -n "$n" \
		    -L "$TOTAL" -l "$PLEN" -T "$LOAD_SECS" -P "$SPAWNED" \
		    >>"$W/load" 2>&1
		say "load: $(tail -1 "$W/load")"
		sleep 1
	done
	LOAD_RSS=$(hwm_of "$SPAWNED")
	stop_pid "$SPAWNED"
}

load_table() {
	local line
	echo "| connections | unchoked | aggregate MiB/s | seeder CPU s per GiB |"
	echo "|--:|--:|--:|--:|"
	while read -r line; do
		echo "| $(field conns "$line") | $(field unchoked "$line") |" \
		    "$(field mib_s "$line") | $(field cpu_s_per_gib "$line") |"
	done <"$W/load"
}

# --- the request queue over a delaying relay ------------------------------

# relay_run LABEL [LEECHER OPTIONS]: MiB/s of verified pieces in RELAY_SECS.
relay_run() {
	local label=$1 sport rport lport out=$W/out-relay done0 t0 t1
	shift
	sport=$(free_port)
	rport=$(free_port)
	lport=$(free_port)
	rm -rf "$out" "$W/src/.$NAME.btresume"
	mkdir -p "$out"
	spawn "$W/seed-relay-$label.log" "$BTDOWNLOAD" "$W/notracker.torrent" \
	    --saveas "$W/src/$NAME" --minport "$sport" --maxport "$sport" \
	    --display_interval 1
	local spid=$SPAWNED
	spawn "$W/relay-$label.log" "$B/delayrelay" -l "$rport" \
	    -c "127.0.0.1:$sport" -d "$DELAY_MS"
	local rpid=$SPAWNED
	wait_log "$W/seed-relay-$label.log" "status=seeding" 120
	spawn "$W/leech-relay-$label.log" "$BTDOWNLOAD" "$W/notracker.torrent" \
	    --saveas "$out/$NAME" --minport "$lport" --maxport "$lport" \
	    --display_interval 1 --no-seed --peer "127.0.0.1:$rport" "$@"
	local lpid=$SPAWNED
	sleep "$RELAY_SECS"
	done0=$(grep -o 'done=[0-9]*' "$W/leech-relay-$label.log" | tail -1 |
	    cut -d= -f2)
	stop_pid "$lpid"
	stop_pid "$rpid"
	stop_pid "$spid"
	rm -rf "$out"
	echo "$label $(echo "scale=2; ${done0:-0} / 1048576 / $RELAY_SECS" | bc)" \
	    >>"$W/relay"
	say "relay $label: $(tail -1 "$W/relay")"
}

relay() {
	relay_run dynamic
	if "$BTDOWNLOAD" --help 2>&1 | grep -q request_queue_time; then
		relay_run fixed5 --request_queue_time 0 --request_backlog 5
	fi
}

relay_table() {
	local label rate
	echo "| request queue | MiB/s | × fixed 5 |"
	echo "|---|--:|--:|"
	local fixed
	fixed=$(awk '$1 == "fixed5" { print $2 }' "$W/relay")
	while read -r label rate; do
		case $label in
		dynamic) label="rate-sized (default: 3 s of the peer's rate, 5..256)" ;;
		fixed5) label="fixed at 5 (--request_queue_time 0)" ;;
		esac
		echo "| $label | $rate | $(div "$rate" "${fixed:-0}") |"
	done <"$W/relay"
	[ -n "$fixed" ] || echo "(btdownload has no --request_queue_time yet:" \
	    "no fixed-backlog run)"
}

# --- a big torrent: memory must not grow with it --------------------------

big() {
	local total pow=0 sport lport out=$W/big-out line
	total=$(bytes "$BIG")
	while [ $((1 << pow)) -lt "$PLEN" ]; do pow=$((pow + 1)); done
	mkdir -p "$W/big" "$out"
	truncate -s "$total" "$W/big/big.bin"
	"$BTMAKEMETAFILE" "$W/big/big.bin" http://127.0.0.1:9/announce \
	    --piece_size_pow2 "$pow" --target "$W/big.torrent" >/dev/null
	sport=$(free_port)
	lport=$(free_port)
	spawn "$W/seed-big.log" "$BTDOWNLOAD" "$W/big.torrent" \
	    --saveas "$W/big/big.bin" --minport "$sport" --maxport "$sport" \
	    --display_interval 1
	local spid=$SPAWNED
	wait_log "$W/seed-big.log" "status=seeding" 600
	"$B/rusage" -o "$W/cost-big" -l "$W/leech-big.log" \
	    -s "download complete" -t 1800 -- "$BTDOWNLOAD" "$W/big.torrent" \
	    --saveas "$out/big.bin" --minport "$lport" --maxport "$lport" \
	    --display_interval 1 --no-seed --peer "127.0.0.1:$sport"
	line=$(cat "$W/cost-big")
	BIG_SEED_RSS=$(hwm_of "$spid")
	stop_pid "$spid"
	BIG_LEECH_RSS=$(field maxrss_kib "$line")
	BIG_WALL=$(field wall "$line")
	BIG_OK=no
	cmp -s "$W/big/big.bin" "$out/big.bin" && BIG_OK=yes
	[ "$BIG_OK" = yes ] || FAILED=1
	say "big: $line, seeder peak RSS $BIG_SEED_RSS KiB, bytes $BIG_OK"
	rm -rf "$out" "$W/big"
}

# --- the report -------------------------------------------------------------

report() {
	local rev
	rev=$(git -C "$TOP" rev-parse --short HEAD 2>/dev/null)
	[ -n "$(git -C "$TOP" status --porcelain -- src include 2>/dev/null)" ] &&
	    rev="$rev + uncommitted changes"
	cat <<EOF
## Results of \`make bench\`

$(date -u '+%Y-%m-%d %H:%M UTC'), btdownload at $rev.
Machine: $NPROC × $CPU_MODEL, $MEM_GIB GiB, $KERNEL, TCP congestion
control $TCP_CC.
\`openssl speed -evp sha1\` (16 KiB blocks): $OSSL_MIBS MiB/s.
Torrent: $(mib $((TOTAL / 1024))) MiB of random data in $((PLEN / 1024)) KiB
pieces, one opentracker, everything on 127.0.0.1.

### Leechers and seeders

Wall time runs from the leecher's start to the moment it reports every
piece verified (btdownload: its "download complete" line, printed after
fdatasync; libtorrent: every piece verified; aria2 and Transmission: their
completion hook).  CPU is user + system of all its threads, peak RSS its
VmHWM (ru_maxrss), both at that moment.  Each leecher ran $REPEAT times;
the table shows its fastest run.  "×bt" is the figure divided by the
btdownload leecher's against the same seeder.  Seeder CPU is what the
seeder used during that transfer.  Transmission never dials a peer in
127/8: the seeders dial it when the tracker names it to them (they
re-announce every second or two).

$(matrix_table)

$(seeder_table)

$(floor_text)

### Start-up hash check

| | MiB/s | CPU s | peak RSS MiB |
|---|--:|--:|--:|
| btdownload, $(mib $((TOTAL / 1024))) MiB of existing data (page cache), whole run | ${CHECK_MIBS:-} | ${CHECK_CPU:-} | $(mib "${CHECK_RSS:-0}") |
| \`openssl speed -evp sha1\`, 16 KiB blocks | $OSSL_MIBS | | |

btdownload: $(div "${CHECK_MIBS:-0}" "$OSSL_MIBS") of openssl's figure.

### One seeder, many connections

bench/loadgen keeps 32 requests outstanding on each connection (a new one
for every block that arrives) for $LOAD_SECS s, after every connection is
unchoked; the seeder runs with \`--max_uploads 1000 --max_allow_in 1000
--max_conns_per_ip 0\` so that all are served.  Seeder peak RSS: $(mib "${LOAD_RSS:-0}") MiB.

$(load_table)

### Request queue over a slow link

btdownload seeder → bench/delayrelay (each byte held $DELAY_MS ms each
way, so a request waits $((2 * DELAY_MS)) ms more for its block) →
btdownload leecher, $RELAY_SECS s each, MiB/s of verified pieces.

$(relay_table)
EOF
	if [ -n "$BIG" ]; then
		cat <<EOF

### A $BIG torrent

btdownload seeder → btdownload leecher, $BIG sparse file ($((PLEN / 1024))
KiB pieces): leecher peak RSS $(mib "${BIG_LEECH_RSS:-0}") MiB, seeder
peak RSS $(mib "${BIG_SEED_RSS:-0}") MiB, $BIG_WALL s, bytes ${BIG_OK:-no}.
EOF
	fi
}

write_doc() {
	cat <<'EOF'
# btdownload performance

How fast btdownload moves data on one core, measured by `make bench`
(bench/run.sh) against the other clients installed here, on loopback.
The results of the last run are at the end; the script rewrites this file
(`DOC=` to leave it alone, `BIG=16G` to add a big torrent, `PARTS=`,
`LEECHERS=`, `SEEDERS=`, `SIZE=`, `PIECE=` to choose).

## Where the time goes

Receiving 1 GiB costs, on this machine, about 0.33 s of SHA-1 (two
pieces hashed side by side; one digest at a time would be openssl's
0.57 s), 0.15-0.3 s to copy it into the page cache and have it written
back (pwrite, then the writeback btdownload starts every 8 MiB), 0.15 s
for the kernel's copy out of the socket and 0.1-0.2 s of TCP: about
0.8 s of one core before btdownload does anything of its own.  Its own
work (framing, bookkeeping, the copy of each block into its piece
buffer) is under 0.1 s.

- **Reading**: up to 256 KiB per recv() (1 MiB per connection per pass);
  the encrypter parses frames in place in that buffer.
- **Blocks**: each is copied once, from the read buffer into its piece's
  buffer.  A piece gets a buffer when its first block arrives, from a
  pool of 1.5 MiB: one btdownload seeder keeps one or two pieces in
  progress, a libtorrent seeder up to eight (the rest spill to disk).
- **Pieces**: hashed from memory, written with one pwrite(), never read
  back.  SHA-1 is a chain of dependent rounds: even with the CPU's SHA
  extensions one digest runs at the latency of its round instruction.
  Two digests interleaved (src/sha1pair.c, an SHA-NI kernel of our own;
  OpenSSL where the CPU lacks SHA-NI) run at 3230-3250 MiB/s together
  against 1775-1800 MiB/s for one.  So a complete piece waits up to
  5 ms for the next one and the two are hashed together; the start-up
  check and btmakemetafile hash two pieces at a time.
- **Files**: a file's blocks are allocated (fallocate) at its first
  write, so ext4 does not reserve one per 4 KiB page as it is written;
  every 8 MiB written, posix_fadvise(DONTNEED) starts writeback and drops
  what is already on disk from the page cache.  The download reuses a
  window of some 10-20 MiB of page cache instead of a fresh page for
  every 4 KiB (see the VM's memory below), and the fdatasync that makes
  it complete finds the disk done.
- **Requests**: requests leave in one sendmsg() when the data callback
  returns (the reactor defers writes made inside a callback), instead of
  two send()s each that woke the seeder each time.  The queue per peer
  holds 3 s of its measured rate (`--request_queue_time`), at least
  `--request_backlog` and at most 256 requests, and a long queue is
  topped up a quarter at a time.  No HAVE goes to a peer that has the
  piece (a seeder): with both, a leecher sends its seeder 1 message per
  MiB instead of 4.
- **Serving**: the blocks the uploader queues in one callback are read
  into the reactor's deferred queue between their 13-byte headers and
  leave with one sendmsg() per 512 KiB.  Requests for blocks that follow
  each other in one piece go down as one run (cn_send_pieces,
  rs_write_frames) and are read with one preadv(): 5.4k reads per GiB
  instead of 47k.  TCP then
  builds full 64 KiB segments instead of one per 16 KiB block, and the
  sender pays for one push and one delivery per segment instead of per
  block, which costs less than the copy (sendpath below).  Only what the
  socket should take at once is copied (its buffer size less what it
  holds, asked with SIOCOUTQ), at most 1 MiB for all peers together, and
  nothing to a socket that holds 32 KiB or more unsent: its peer reads
  slower than we send, TCP appends each sendfile(2) to the unsent
  segment, and the copy would only cost (serving aria2 that way cost
  0.66-0.91 s per GiB against 0.35-0.61).  Everything else goes out with
  MSG_MORE and sendfile(2) as before, so a stalled peer pins no memory.
  A peer whose request queue holds 2048 requests is not read from until
  it is down to 1024.

Measured while making these changes (1 GiB, btdownload seeder and
leecher on loopback, typical of several runs; the VM's noise is 10-20%):

| change | leecher wall s | leecher CPU s | leecher peak RSS | seeder CPU s |
|---|--:|--:|--:|--:|
| before | 4.5-4.9 | 2.6-3.6 | 10.9 MB | 0.9-1.0 |
| deferred writes: one sendmsg per batch of requests (139k sendto -> 4.1k sendmsg) | 2.3-2.6 | 1.9-2.4 | 10.7 MB | 0.52-0.7 |
| a piece takes its buffer at its first block (no spilling: 7696 -> 4096 pwrite) | 1.9-2.2 | 1.55-1.9 | 6.8 MB | 0.6-0.7 |
| OpenSSL without openssl.cnf; 1.5 MiB of piece buffers | 1.7-2.2 | 1.3-1.6 | 6.1 MB | 0.5-0.8 |
| fallocate at first write; writeback + DONTNEED every 16 MiB | 1.3-2.3 | 1.3-1.7 | 6.2 MB | 0.7-0.9 |
| the same every 4 MiB instead of 16 (8 kept: 4 and 8 did not differ in the noise) | 1.46-1.66 (16: 1.82-2.08) | 1.4-1.6 | 6.3 MB | 0.6-0.7 |
| queue topped up by quarters; no HAVE to seeders (4104 -> 1029 sendmsg) | 1.5-1.9 | 1.4-1.6 | 6.2 MB | 0.57-0.63 |
| two pieces hashed side by side (5 alternating runs; before: 1.31-1.60 s) | 0.93-1.20 | 0.88-1.17 | 6.5 MB | 0.43-0.61 |
| blocks read into the queue, one sendmsg per 512 KiB (two sets of 10 alternating runs, seeder and leecher pinned to one core each; before: seeder 0.52-0.69 s and 0.51-1.15 s) | 0.87-2.67 | 0.82-1.18 | 6.4 MB | 0.43-0.65 and 0.56-0.69 |
| a piece's consecutive blocks read with one preadv() (18 alternating runs, pinned; before: wall 1.35-3.64 s, median 1.52, leecher 0.98-1.23 s, seeder 0.48-1.08 s, median 0.56) | 1.12-4.67, median 1.51 | 0.91-1.33 | 6.4 MB | 0.39-0.61, median 0.54 |

Against Transmission 3.00 two fixes mattered.  It asks a fast seeder for
every block of the torrent at once (65536 requests for 1 GiB); requests
past our queue's cap were dropped, and it waited about 90 s for each to
time out (1 GiB: not done in 300 s).  Now the queue grows as needed and
reading from such a peer pauses at 2048 queued requests (24 s, against
48 s from the libtorrent seeder).

Not done, and why:

- **Receiving blocks straight into the piece buffer.**  The copy it
  saves runs from a 256 KiB buffer that is still in the CPU's cache: 3-4%
  of the leecher's CPU in perf.  Landing a whole read in piece buffers
  needs a scatter read over predicted blocks, checked afterwards and
  undone when a peer answers out of order or interleaves other messages;
  receiving one block per recv() costs as many extra system calls as the
  copy costs.
- **Writing with O_DIRECT.**  It would skip the page cache altogether,
  but a write then waits for the disk (about 1 GB/s here, one request at
  a time): in one thread that adds about 1 s per GiB to the download.
  Recycling a small window of page cache (above) gets the same saving in
  memory without the wait.  sync_file_range alone (writeback without
  dropping pages) was also tried: it hid the final fdatasync but still
  took a fresh page for every 4 KiB.
- **Serving a callback's blocks with one splice.**  Headers and block
  data gathered in a pipe (write + splice from the file), then one
  splice into the socket per callback: in a bare sender/receiver test on
  this VM the receiver spent about 30% less CPU, but between btdownload
  seeder and leecher nothing changed (4 alternating runs each: seeder
  0.53-0.69 s against 0.61-0.67 s, leecher 1.47-1.64 s against
  1.52-1.61 s).  The leecher is the bottleneck, so the seeder's send
  queue is backed up and TCP already sends 64 KiB segments.  TCP_CORK
  around a batch cost the seeder more than it saved.  perf puts 95% of
  the seeder's time in the kernel (sendfile, TCP, and on loopback the
  receiving side's softirq work, which runs on the sender's time).
  Raising SO_RCVLOWAT on the leecher's socket, so that it is woken
  less often, did not lower the seeder's CPU in 3 alternating windows
  (0.53-0.68 s per GiB against 0.52-0.60 s), and it can leave a short
  last message unread; it was not kept.  With the faster leecher the
  seeder's queue no longer backs up and each block leaves as its own
  16 KiB segment, so bigger segments were tried again, 5 alternating
  runs each against the same leecher: TCP_CORK from a callback's first
  block to its end, 0.63-1.33 s against 0.56-0.70 s; Nagle (no
  TCP_NODELAY on the seeder's sockets), 0.71-0.85 s against 0.58-0.87 s;
  blocks read with pread() into the deferred queue and sent with one
  sendmsg() per callback (two copies instead of none), 0.54-0.71 s
  against 0.51-0.65 s.  None was kept then.  The last one came back
  (Serving, above) once it was clear why it had not helped: the reactor
  flushed a queue as soon as 64 KiB was deferred, so blocks left four at
  a time, and sendpath puts four blocks per send() at 0.57 s per GiB and
  sixteen at 0.35.  With 512 KiB per sendmsg() and no unsent rule it cut
  the seeder's CPU by about a quarter in 8 pinned pairs (0.35-0.53 s
  against 0.56-0.81 s), and under bench/loadgen it raised throughput by
  half at a third less CPU per GiB.  Its first version copied whatever
  the uploader queued, and under bench/loadgen with 500 connections the
  socket buffers (which the kernel trims under memory pressure) refused
  much of it: the seeder's peak RSS reached 87-144 MiB.  Hence the bounds.  It
  also showed an old waste: a header queued behind a file range took a
  pooled 64 KiB chunk of its own, and once the pool's chunks had held
  copies they were resident, so a backed-up libtorrent leecher pushed
  the seeder's peak RSS from 6.2 to 7.6-8.6 MiB; such headers now get a
  1 KiB chunk (6.1 MiB).  With the unsent rule the gain against a
  btdownload leecher shrank: medians of alternating runs moved by 5-15%,
  less than this VM's noise between single runs, and the bench's
  best-of-3 figure did not always move at all.
  bench/sendpath (a bare sender and receiver, 1 GiB in the page cache;
  its header lists every mode it measures) shows where the floor is: per
  16 KiB block, header send() + sendfile() costs the sender 0.45-0.55 s
  per GiB, sendfile() alone 0.34-0.54 s, and writev() of 32 header and
  block pairs from a read-only mapping of the file 0.29-0.39 s, one
  kernel copy notwithstanding (sendfile of 256 KiB at a time, no
  headers: 0.46-0.57 s).  So the way under 0.5 s is to serve blocks from
  a mapping as borrowed iovecs in the reactor's one sendmsg() per
  callback, with the mapping's page-table entries dropped
  (MADV_DONTNEED) after each send so that RSS does not grow with what
  was served; dropping them after every block instead of every batch
  cost about 0.07 s of the gain.  It was then built into btdownload
  (reference-counted mappings that outlive a queued send, blocks borrowed
  into the reactor's sendmsg(), up to 512 KiB per call) and measured, and
  taken out again: against a btdownload leecher the leecher got faster
  (6 alternating pairs: wall 1.14-1.62 s against 1.33-1.88 s; one bench
  run 1004 MiB/s) but the seeder's CPU moved only within the noise
  (0.50-0.67 s against 0.54-0.63 s, one bench run 0.49), and serving
  aria2, a slower reader, cost it 1.04 s per GiB instead of 0.50: each
  partial send dropped, and the next one faulted in again, the pages of
  the window it stopped in.  The page cache's large folios are mapped up
  to 2 MiB at a time, so dropping only the 64 KiB around what was sent
  left 10-18 MiB of peak RSS.  A version that drops only whole 2 MiB
  windows behind the send position, and the rest when a queue holds no
  more borrowed bytes, might keep both; it is not done.  With blocks now
  copied into the queue, perf puts 44% of the seeder's time in the two
  copies (page cache to queue 24%, queue to socket 20%); serving from a
  mapping would save the first of them.
- **TCP congestion control.**  This VM's kernel defaults to bbr
  (net.ipv4.tcp_congestion_control; Debian's default is cubic).  With no
  fq qdisc on loopback, bbr paces every segment itself, with a timer, and
  that work lands on the sender.  The same seeder binaries against a
  btdownload leecher, pinned, the file read into the page cache before
  each run, bbr and cubic alternating (5 runs of each binary under
  each), seeder CPU s per GiB: with bbr 0.62-0.75 (sendfile per block)
  and 0.39-0.73 (blocks copied, 512 KiB per sendmsg); with cubic
  0.27-0.30 and 0.32-0.40.  So under cubic the seeder is well inside
  0.5 s per GiB, and there sendfile per block is the cheaper of the two
  against this leecher; under bbr neither is inside it reliably.  A bare
  sender shows why (bench/sendpath with the receiver free to run on the
  other core, as in the bench, bbr and cubic alternating, 3 runs each):
  sendfile() of 256 KiB at a time with no headers, which copies nothing,
  cost 0.54-0.66 s per GiB under bbr and 0.07-0.08 under cubic; pread()
  and one send() per 512 KiB, btdownload's way until it read a piece's
  consecutive blocks with one preadv(), 0.42-0.55 and 0.34-0.42.
  perf stat of one such sendfile() run: 12,309 hrtimer starts, 48,966
  softirqs and 7,893 context switches under bbr, against 88, 8,179 and
  427 under cubic.  Under bbr, then, what the kernel charges for sending
  alone is at the target, before any protocol; `make bench` measures
  this bare sender in every run and prints it under the seeders' table.
  (Without reading the file in first, perf showed the seeder's reads
  waiting on the disk: this VM's DAMON reclaim had taken part of it.)  btdownload
  does not choose a congestion control for its sockets unless told to
  (`--tcp_congestion`, like Transmission's peer-congestion-algorithm):
  that is the host's policy, bbr is the better one on real links, and
  `make bench` runs every client with the host's.  (Told to, 6
  alternating runs each, seeder CPU ms for the GiB: bbr 455-546, cubic
  390-467, reno 372-636.)  Under cubic
  the copying path still pays off where a peer asks for few blocks at a
  time: bench/loadgen, 1
  connection, 1947-2071 MiB/s at 0.43-0.45 CPU s per GiB against
  1396-1466 MiB/s at 0.65-0.69 with sendfile per block; 500 connections,
  2931-3264 against 1825-2085 MiB/s.
- **Mapping files for the start-up check.**  Reading from the page
  cache costs a copy that hashing a mapping would not, but the check
  already runs faster than openssl hashes (two lanes), and
  docs/architecture.md explains why files are not mapped.

Before the measured runs one untimed btdownload transfer warms the
machine up.  This VM hands freed memory back to the host (virtio-balloon
free page reporting), and the next program to write into it pays for the
host faulting it in again: the same 1 GiB download took 0.7 s or 3 s of
system time depending on what ran before (before btdownload recycled its
page cache; the other clients still pay it).  So each leecher runs three
times and the fastest run is shown, and the ratios within one run are the
figures to compare.

EOF
	report
}

# --- main -------------------------------------------------------------------

part() { case " $PARTS " in *" $1 "*) return 0 ;; esac; return 1; }

build_tools
machine
make_data
say "warm-up transfer (not measured)"
warm_up
: >"$W/rows" >"$W/seeders" >"$W/load" >"$W/relay"
part matrix && { say "matrix: seeders [$SEEDERS], leechers [$LEECHERS]"
	matrix; }
part floor && { say "floor: a bare sender (sendpath)"; floor; }
part check && { say "start-up hash check"; hash_check; }
part load && { say "load: $LOAD_NS connections"; load; }
part relay && { say "relay: $DELAY_MS ms each way"; relay; }
[ -n "$BIG" ] && { say "big torrent: $BIG"; big; }
report
if [ -n "$DOC" ]; then
	write_doc >"$DOC"
	say "wrote $DOC"
fi
exit $FAILED
