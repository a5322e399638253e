#!/bin/bash
# End-to-end tests of btlaunchmany (issue 5, item 9): one btlaunchmany
# seeds three torrents through one port (peers routed by info hash); a
# second one downloads them, the third torrent added while it runs, written
# slowly so that it must not be started half-written; a second btlaunchmany
# on the same directory exits 8; a torrent removed from the directory is
# stopped; the upload cap is shared by the torrents; and --bind sets the
# address of outgoing connections as well as the listening one.
. "$(dirname "$0")/lib.sh"

BTLAUNCHMANY=$BINDIR/btlaunchmany
ANNOUNCE=http://127.0.0.1:9/announce	# never answers

not_in() {
	! grep -q -- "$1" "$2"
}

# done_names FILE: the names in FILE's JSON lines that ended with status 0.
done_names() {
	grep '"exit_code":0' "$1" | sed -n 's/.*"name":"\([^"]*\)".*/\1/p' |
		sort -u | tr '\n' ' '
}

mkdir -p "$T/src/multi/sub" "$T/stor" "$T/ltor" "$T/dl"
random_file "$T/src/a.bin" $((2 * 1024 * 1024 + 11))
random_file "$T/src/c.bin" $((2 * 1024 * 1024 + 22))
random_file "$T/src/multi/x" 300000
random_file "$T/src/multi/sub/y" 200001
for t in a.bin c.bin multi; do
	"$BTMAKEMETAFILE" "$T/src/$t" "$ANNOUNCE" --piece_size_pow2 15 \
		--target "$T/stor/$t.torrent" >/dev/null
done

# --- the seeder: three torrents, one port, 512 KiB/s up in all --------------
SP=$(free_port)
spawn "$T/seed.log" "$BTLAUNCHMANY" "$T/stor" --saveas_dir "$T/src" \
	--minport "$SP" --maxport "$SP" --max_upload_rate 512K \
	--scan_interval 0.5 -v
SEED=$SPAWNED
if ! wait_for 20 bash -c "[ \$(grep -c ': started' '$T/seed.log') = 3 ]"; then
	fail "seeder did not start its three torrents"
	show_log "$T/seed.log"
	finish
	exit 1
fi
check "one listening port for all" \
	[ "$(grep -c "listening on port" "$T/seed.log")" = 1 ]

timeout 20 "$BTLAUNCHMANY" "$T/stor" --saveas_dir "$T/src" \
	--minport "$(free_port)" --maxport 65000 >/dev/null 2>"$T/second.err"
st=$?
check "a second btlaunchmany on the directory: exit 8" \
	[ $st -eq 8 ] && grep -q "another btlaunchmany" "$T/second.err"

# --- the leecher: two torrents, then a third written slowly -----------------
cp "$T/stor/a.bin.torrent" "$T/stor/multi.torrent" "$T/ltor/"
spawn "$T/leech.log" "$BTLAUNCHMANY" "$T/ltor" --saveas_dir "$T/dl" \
	--peer "127.0.0.1:$SP" --no-seed --status-json --scan_interval 1 \
	--bind 127.0.0.2 --minport "$(free_port)" --maxport 65000
LEECH=$SPAWNED
sleep 1
# Each chunk lands well within a scan interval of the last: the file is
# never the same on two scans until it is whole.
size=$(stat -c %s "$T/stor/c.bin.torrent")
for k in 0 1 2 3 4; do
	dd if="$T/stor/c.bin.torrent" of="$T/ltor/c.bin.torrent" bs=1 \
		skip=$((k * size / 5)) seek=$((k * size / 5)) \
		count=$(((k + 1) * size / 5 - k * size / 5)) conv=notrunc \
		status=none
	sleep 0.3
done
wait_for 60 bash -c "[ \$(grep -c '\"exit_code\":0' '$T/leech.log') -ge 3 ]"
names=$(done_names "$T/leech.log")
check "all three downloaded (done: $names)" \
	[ "$names" = "a.bin c.bin multi " ]
check "a.bin is right" cmp -s "$T/src/a.bin" "$T/dl/a.bin"
check "c.bin, added while running, is right" cmp -s "$T/src/c.bin" "$T/dl/c.bin"
check "multi is right" same_tree "$T/src/multi" "$T/dl/multi"
check "--bind applies to outgoing connections too (seeder saw 127.0.0.2)" \
	grep -q "127\.0\.0\.2:[0-9]*: peer connected" "$T/seed.log"
check "c.bin.torrent was never read half-written" \
	not_in "c.bin.torrent: .*exit status 3" "$T/leech.log"
stop "$LEECH"
check "btlaunchmany stops with exit 0 on SIGTERM" [ $? -eq 0 ]

# --- the cap is shared: two torrents at once take the time of one cap ------
START=$SECONDS
spawn "$T/ca.log" "$BTDOWNLOAD" "$T/stor/a.bin.torrent" --saveas "$T/ca/a.bin" \
	--no-seed --peer "127.0.0.1:$SP" --minport "$(free_port)" --maxport 65000
CA=$SPAWNED
spawn "$T/cc.log" "$BTDOWNLOAD" "$T/stor/c.bin.torrent" --saveas "$T/cc/c.bin" \
	--no-seed --peer "127.0.0.1:$SP" --minport "$(free_port)" --maxport 65000
CC=$SPAWNED
wait_pid "$CA" 60
a=$?
wait_pid "$CC" 60
c=$?
took=$((SECONDS - START))
# 4 MiB at 512 KiB/s is 8 s; capped per torrent instead it would be 4 s.
check "shared upload cap: 4 MiB in $took s at 512 KiB/s in all" \
	[ $a -eq 0 ] && [ $c -eq 0 ] && [ $took -ge 6 ] && [ $took -le 40 ]

# --- a torrent removed from the directory is stopped ---------------------------
rm "$T/stor/multi.torrent"
check "removed torrent stopped" wait_for 10 grep -q "multi.torrent: removed" \
	"$T/seed.log"
mkdir -p "$T/gone"
"$BTMAKEMETAFILE" "$T/src/multi" "$ANNOUNCE" --piece_size_pow2 15 \
	--target "$T/gone/multi.torrent" >/dev/null
timeout 30 "$BTDOWNLOAD" "$T/gone/multi.torrent" --saveas "$T/gone/multi" \
	--no-seed --stall-timeout 3 --peer "127.0.0.1:$SP" \
	--minport "$(free_port)" --maxport 65000 >/dev/null 2>"$T/gone.err"
check "a peer can no longer get the removed torrent (stalled, 6)" [ $? -eq 6 ]
check "the seeder is still up" kill -0 "$SEED"
stop "$SEED"
finish
