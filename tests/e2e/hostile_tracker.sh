#!/bin/bash
# Hostile trackers (issue 7 item 5), served by tests/tools/hostile_tracker.py:
# a reply that is not bencode, a chunked body cut short, a chunk size of
# ffffffffffffffff, 100 MB bodies with and without a Content-Length, a
# redirect to itself, interval 0, and a UDP tracker whose replies carry the
# wrong transaction id; plus a good tracker as the control.  One leecher per
# tracker, all at once, for WINDOW seconds.  Each must:
#
#  - stay alive, and exit 7 (interrupted) on SIGTERM: no crash;
#  - say what is wrong in one clear line, once (not once per retry);
#  - back off: the tracker sees at most 3 announces in WINDOW seconds
#    (the back-off is 15 s, then 30 s; a redirect loop costs 6 requests
#    per announce: the first and 5 redirects);
#  - keep its memory small: peak RSS (VmHWM) under RSS_BOUND_KB (16 MiB;
#    about 6-9 MiB measured) while 100 MB bodies arrive (the reply cap is
#    2 MiB).  Under ASan the RSS is printed, not checked.
#
# Interval 0 is not an error: the reply is taken like the good one (no
# complaint) and the interval raised to the rerequester's 30 s floor, so
# the leecher announces at start and once more 30 s later: at most 2.
#
# The UDP leecher runs with --verbose: the line that says the wrong
# transaction id was ignored is a debug line.  It must never announce: the
# tracker sees connect requests only.
. "$(dirname "$0")/lib.sh"

WINDOW=40
RSS_BOUND_KB=$((16 * 1024))
MODES="notbencode truncchunk chunkffff huge hugenolen redirect interval0 good udp"

asan=0
if ldd "$BTDOWNLOAD" 2>/dev/null | grep -q libasan; then
	asan=1
fi

declare -A EXPECT=(
	[notbencode]="bad data from tracker - bencode: unknown type byte '<'"
	[truncchunk]="problem connecting to tracker - connection closed before the end of the reply"
	[chunkffff]="problem connecting to tracker - bad http reply: bad chunked body: chunk size too large"
	[huge]="problem connecting to tracker - reply too large"
	[hugenolen]="problem connecting to tracker - reply too large"
	[redirect]="problem connecting to tracker - too many redirects"
	[udp]="udp tracker: wrong transaction id, ignored"
)
declare -A MAXREQ=([redirect]=18 [interval0]=2)
declare -A BT

HP=$(free_port)
UP=$(free_port)
spawn "$T/tracker.out" python3 "$TOP/tests/tools/hostile_tracker.py" \
	--http-port "$HP" --udp-port "$UP" --log "$T/tracker.log"
if ! wait_for 10 grep -q listening "$T/tracker.log"; then
	fail "the hostile tracker did not start"
	show_log "$T/tracker.out"
	finish
	exit
fi

for m in $MODES; do
	random_file "$T/$m.bin" 100000
	url=http://127.0.0.1:$HP/$m/announce
	[ $m = udp ] && url=udp://127.0.0.1:$UP/announce
	"$BTMAKEMETAFILE" "$T/$m.bin" "$url" --target "$T/$m.torrent" >/dev/null
	extra=()
	[ $m = udp ] && extra=(--verbose)
	spawn "$T/$m.log" "$BTDOWNLOAD" "$T/$m.torrent" --saveas "$T/dl-$m.bin" \
		--minport "$(free_port)" --maxport 65000 --display_interval 10 \
		"${extra[@]}"
	BT[$m]=$SPAWNED
done
sleep $WINDOW

for m in $MODES; do
	pid=${BT[$m]}
	hwm=$(awk '$1 == "VmHWM:" { print $2 }' "/proc/$pid/status" 2>/dev/null)
	if ! kill -0 "$pid" 2>/dev/null; then
		fail "$m: btdownload died"
		show_log "$T/$m.log" 5
		continue
	fi
	stop "$pid"
	st=$?
	check "$m: alive after ${WINDOW} s, exits 7 on SIGTERM (got $st)" [ $st = 7 ]
	if [ $m = good ] || [ $m = interval0 ]; then
		check "$m: no tracker complaint" \
			bash -c "! grep -q 'tracker -' '$T/$m.log'"
	elif [ $m = udp ]; then
		check "udp: wrong transaction ids ignored" \
			grep -qF "${EXPECT[$m]}" "$T/$m.log"
	else
		n=$(grep -cF "btdownload: ${EXPECT[$m]}" "$T/$m.log")
		check "$m: one clear line, said $n time(s): ${EXPECT[$m]}" [ "$n" = 1 ]
	fi
	if [ $m = udp ]; then
		nreq=$(grep -c " udp-0$" "$T/tracker.log")
		check "udp: never announced past a wrong transaction id" \
			bash -c "! grep -q ' udp-1$' '$T/tracker.log'"
	else
		# Announces made inside the window (the stop's event=stopped
		# goes only to a tracker that answered: the good one).
		nreq=$(awk -v m=$m -v w=$WINDOW '$2 == m && $1 <= w' "$T/tracker.log" | wc -l)
	fi
	max=${MAXREQ[$m]:-3}
	check "$m: backs off, $nreq requests in ${WINDOW} s (at most $max)" \
		[ "$nreq" -le "$max" ]
	echo "$m: peak RSS ${hwm:-?} kB"
	if [ $asan = 0 ] && [ "${m#huge}" != "$m" ]; then
		check "$m: peak RSS ${hwm:-?} kB under $RSS_BOUND_KB kB with a 100 MB body" \
			[ "${hwm:-999999999}" -le $RSS_BOUND_KB ]
	fi
done
[ $asan = 1 ] && echo "note: ASan build, RSS bound not checked"
grep "huge-stopped-after" "$T/tracker.log" | sed 's/^/tracker: /'

finish
