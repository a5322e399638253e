#!/bin/bash
# End-to-end tests of the resume file (issue 5, item 4): a second start
# hashes nothing, a changed file has only its pieces hashed, a bad resume
# file means a full check, --recheck and --check_hashes 0, SIGTERM saves,
# and a kill -9 loop where no restart may claim a piece it does not have.
# "Hashed nothing" is proved by the bytes_checked counter of --status-json,
# never by timing.
. "$(dirname "$0")/lib.sh"

ANNOUNCE=http://127.0.0.1:9/announce	# never answers
PL=32768

# leech_run LOG [OPTIONS...]: a leecher of the multi torrent into $T/l,
# run to the end in the foreground; its exit status is in $ST.
leech_run() {
	local log=$1
	shift
	"$BTDOWNLOAD" "$T/multi.torrent" --saveas "$T/l/multi" --no-seed \
		--status-json --minport "$(free_port)" --maxport 65000 \
		--peer "127.0.0.1:$SP" "$@" >"$log" 2>"$log.err"
	ST=$?
}

# Pieces overlapping bytes [off, off + len) of the torrent.
pieces_of() {
	echo $((($1 + $2 - 1) / PL - $1 / PL + 1))
}

mkdir -p "$T/src/multi/sub" "$T/l"
random_file "$T/src/multi/a.bin" 100000
random_file "$T/src/multi/sub/b.bin" 200000
: >"$T/src/multi/empty"
random_file "$T/src/multi/c.bin" 333333
for k in 1 2 3 4 5; do
	random_file "$T/src/multi/z$k.bin" $((150000 + k * 7777))
done
"$BTMAKEMETAFILE" "$T/src/multi" "$ANNOUNCE" --piece_size_pow2 15 \
	--target "$T/multi.torrent" >/dev/null
TOTAL=$(find "$T/src/multi" -type f -printf '%s\n' |
	awk '{ s += $1 } END { print s }')
NPIECES=$(((TOTAL + PL - 1) / PL))
SP=$(free_port)
if ! seeder "$T/seed.log" "$T/multi.torrent" "$T/src/multi" "$SP"; then
	fail "seeder did not start"
	finish
	exit 1
fi

# --- a fresh download, then a second start that hashes nothing ------------
leech_run "$T/r1.log"
if [ $ST -eq 0 ] && same_tree "$T/src/multi" "$T/l/multi" &&
	[ -f "$T/l/.multi.btresume" ]; then
	ok "fresh download writes $T/l/.multi.btresume"
else
	fail "fresh download (status $ST)"
	show_log "$T/r1.log.err"
fi
leech_run "$T/r2.log"
check "second start: exit 0" [ $ST -eq 0 ]
check "second start: no byte hashed" \
	[ "$(json_field "$T/r2.log" bytes_checked)" = 0 ]
check "second start: every piece from the resume file" \
	[ "$(json_field "$T/r2.log" pieces_resumed)" = "$NPIECES" ]

# --- one changed file: only its pieces are hashed --------------------------
# sub/b.bin is bytes [100000, 300000): files are in the torrent's order,
# which btmakemetafile sorts: a.bin, c.bin, empty, sub/b.bin, z1..z5.
off=0
for f in a.bin c.bin empty sub/b.bin; do
	[ "$f" = sub/b.bin ] && break
	off=$((off + $(stat -c %s "$T/src/multi/$f")))
done
n=$(pieces_of "$off" 200000)
touch "$T/l/multi/sub/b.bin"
leech_run "$T/r3.log"
check "touched file: exit 0" [ $ST -eq 0 ]
check "touched file: only its $n pieces hashed" \
	[ "$(json_field "$T/r3.log" pieces_checked)" = "$n" ]
check "touched file: the others from the resume file" \
	[ "$(json_field "$T/r3.log" pieces_resumed)" = $((NPIECES - n)) ]
check "touched file: $((n * PL)) bytes hashed" \
	[ "$(json_field "$T/r3.log" bytes_checked)" = $((n * PL)) ]

# --- a resume file that is garbage: warning, full check ---------------------
printf 'd7:versioni99ee' >"$T/l/.multi.btresume"
leech_run "$T/r4.log"
check "bad resume file: exit 0" [ $ST -eq 0 ]
check "bad resume file: warned" grep -q "ignoring the resume file" "$T/r4.log.err"
check "bad resume file: everything hashed" \
	[ "$(json_field "$T/r4.log" bytes_checked)" = "$TOTAL" ]
leech_run "$T/r5.log" --recheck
check "--recheck: everything hashed" \
	[ "$(json_field "$T/r5.log" bytes_checked)" = "$TOTAL" ]
rm -f "$T/l/.multi.btresume"
leech_run "$T/r6.log" --check_hashes 0
check "--check_hashes 0: trusted without hashing" \
	[ "$(json_field "$T/r6.log" bytes_checked)" = 0 ] &&
	[ "$(json_field "$T/r6.log" pieces_have)" = "$NPIECES" ]

# --- a file deleted behind our back is fetched again ------------------------
rm "$T/l/multi/c.bin"
leech_run "$T/r7.log"
if [ $ST -eq 0 ] && same_tree "$T/src/multi" "$T/l/multi" &&
	[ "$(json_field "$T/r7.log" downloaded)" -gt 0 ]; then
	ok "deleted file downloaded again"
else
	fail "deleted file downloaded again (status $ST)"
fi

# --- SIGTERM mid-download: exit 7, resume saved, nothing hashed next time ---
rm -rf "$T/l/multi" "$T/l/.multi.btresume"
spawn "$T/t1.log" "$BTDOWNLOAD" "$T/multi.torrent" --saveas "$T/l/multi" \
	--no-seed --status-json --max_download_rate 300K \
	--minport "$(free_port)" --maxport 65000 --peer "127.0.0.1:$SP"
L=$SPAWNED
wait_for 20 grep -Eq '"pieces_have":([5-9]|[1-9][0-9])' "$T/t1.log"
stop "$L"
st=$?
have=$(json_field "$T/t1.log" pieces_have)
check "SIGTERM before completion: exit 7" [ $st -eq 7 ]
check "SIGTERM: the last stderr line says why" \
	grep -q "interrupted by SIGTERM" <(tail -n 1 "$T/t1.log")
leech_run "$T/t2.log"
if [ $ST -eq 0 ] && same_tree "$T/src/multi" "$T/l/multi" &&
	[ "$(grep '^{' "$T/t2.log" | head -n 1 |
		sed -n 's/.*"pieces_resumed":\([0-9]*\).*/\1/p')" = "$have" ] &&
	[ "$(json_field "$T/t2.log" bytes_checked)" = 0 ]; then
	ok "after SIGTERM: $have pieces resumed, nothing hashed"
else
	fail "after SIGTERM: resume (status $ST, had $have)"
	grep '^{' "$T/t2.log" | head -n 1
fi

# --- kill -9 at random moments ----------------------------------------------
# In order (--sequential), so that finished files stop changing and the
# resume file is trusted for them; saved every second.  After each kill
# every piece the resume file claims must be on disk, and each restart's
# first status line must add up: resumed + hashed good = had.
rm -rf "$T/l/multi" "$T/l/.multi.btresume"
bad=0
for round in 1 2 3 4 5 6 7 8; do
	spawn "$T/k$round.log" "$BTDOWNLOAD" "$T/multi.torrent" \
		--saveas "$T/l/multi" --no-seed --status-json --sequential \
		--resume_interval 1 --max_download_rate 64K \
		--minport "$(free_port)" --maxport 65000 --peer "127.0.0.1:$SP"
	L=$SPAWNED
	sleep "0.$((RANDOM % 9 + 1))$((RANDOM % 10))"
	sleep $((RANDOM % 2))
	kill -9 "$L" 2>/dev/null
	wait "$L" 2>/dev/null
	first=$(grep '^{' "$T/k$round.log" | head -n 1)
	r=$(sed -n 's/.*"pieces_resumed":\([0-9]*\).*/\1/p' <<<"$first")
	c=$(sed -n 's/.*"pieces_checked":\([0-9]*\).*/\1/p' <<<"$first")
	h=$(sed -n 's/.*"pieces_have":\([0-9]*\).*/\1/p' <<<"$first")
	if [ -n "$first" ] && [ $((r + c)) -ne "$h" ]; then
		echo "round $round: resumed $r + checked $c != have $h"
		bad=1
	fi
	if [ -f "$T/l/.multi.btresume" ]; then
		claims=$(python3 "$HERE/resume_claims.py" "$T/multi.torrent" \
			"$T/l/.multi.btresume" "$T/l/multi" "$T/src/multi") ||
			bad=1
	else
		claims="no resume file yet"
	fi
	echo "round $round: first line resumed=$r checked=$c have=$h; $claims"
done
leech_run "$T/k-final.log"
if [ $bad = 0 ] && [ $ST -eq 0 ] && same_tree "$T/src/multi" "$T/l/multi"; then
	ok "kill -9 loop: no false claim, every byte right in the end"
else
	fail "kill -9 loop (status $ST)"
fi
stop "$SEEDER"
finish
