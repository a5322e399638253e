#!/bin/bash
# End-to-end tests of choosing what to download (issue 5, item 10):
# --only and --skip by pattern and by file number, --range, and
# --sequential; unselected files never appear at their own path (only the
# bytes of shared pieces are kept, in .btparts/N), and a later run without
# a selection completes the rest.
. "$(dirname "$0")/lib.sh"

ANNOUNCE=http://127.0.0.1:9/announce	# never answers
PL=32768

# get LOG TORRENT SAVEAS [OPTIONS...]: a leecher run to its end.
get() {
	local log=$1 tor=$2 save=$3
	shift 3
	timeout 60 "$BTDOWNLOAD" "$tor" --saveas "$save" --no-seed \
		--status-json --minport "$(free_port)" --maxport 65000 \
		--peer "127.0.0.1:$SP" "$@" >"$log" 2>"$log.err"
	ST=$?
}

# The torrent's files, in its (sorted) order, and their offsets.
mkdir -p "$T/src/m/sub/deep"
random_file "$T/src/m/a.bin" 100000
random_file "$T/src/m/c.bin" 50000
: >"$T/src/m/empty"
random_file "$T/src/m/sub/b.bin" 200000
random_file "$T/src/m/sub/deep/x.iso" 90000
"$BTMAKEMETAFILE" "$T/src/m" "$ANNOUNCE" --piece_size_pow2 15 \
	--target "$T/m.torrent" >/dev/null
SP=$(free_port)
if ! seeder "$T/seed.log" "$T/m.torrent" "$T/src/m" "$SP"; then
	fail "seeder did not start"
	finish
	exit 1
fi

# --- --only by pattern: c.bin is bytes [100000, 150000), pieces 3 and 4 ----
get "$T/o1.log" "$T/m.torrent" "$T/o1/m" --only c.bin
check "--only c.bin: exit 0" [ $ST -eq 0 ]
check "--only c.bin: its bytes" cmp -s "$T/src/m/c.bin" "$T/o1/m/c.bin"
check "--only c.bin: the others are not at their paths" \
	[ ! -e "$T/o1/m/a.bin" ] && [ ! -e "$T/o1/m/sub/b.bin" ] &&
	[ ! -e "$T/o1/m/sub/deep/x.iso" ]
check "--only c.bin: JSON total is its 2 pieces" \
	[ "$(json_field "$T/o1.log" total)" = $((2 * PL)) ]
# The shared pieces' bytes are kept (sparse) in .btparts: a.bin is file 1,
# sub/b.bin file 4; piece 3 holds a.bin's last 1696 bytes and piece 4 the
# first 13840 of sub/b.bin.
check "--only c.bin: a.bin's shared bytes kept in .btparts/1" \
	cmp -s <(tail -c 1696 "$T/src/m/a.bin") \
	<(tail -c 1696 "$T/o1/m/.btparts/1")
check "--only c.bin: sub/b.bin's shared bytes kept in .btparts/4" \
	cmp -s <(head -c 13840 "$T/src/m/sub/b.bin") \
	<(head -c 13840 "$T/o1/m/.btparts/4")
blocks=$(du -k "$T/o1/m/.btparts/4" | cut -f1)
check "--only c.bin: .btparts/4 holds little ($blocks KiB of 196)" \
	[ "$blocks" -le 64 ]

# --- --only by number, --skip -------------------------------------------------
get "$T/o2.log" "$T/m.torrent" "$T/o2/m" --only 5
check "--only 5 (the fifth file)" \
	cmp -s "$T/src/m/sub/deep/x.iso" "$T/o2/m/sub/deep/x.iso" &&
	[ ! -e "$T/o2/m/a.bin" ]
get "$T/o3.log" "$T/m.torrent" "$T/o3/m" --skip '*.bin'
check "--skip '*.bin'" [ $ST -eq 0 ] &&
	cmp -s "$T/src/m/sub/deep/x.iso" "$T/o3/m/sub/deep/x.iso" &&
	[ -e "$T/o3/m/empty" ] && [ ! -e "$T/o3/m/c.bin" ]
get "$T/o4.log" "$T/m.torrent" "$T/o4/m" --only 'sub/*' --skip 4
check "--only 'sub/*' --skip 4" [ $ST -eq 0 ] &&
	[ -e "$T/o4/m/sub/deep/x.iso" ] && [ ! -e "$T/o4/m/sub/b.bin" ]
get "$T/o5.log" "$T/m.torrent" "$T/o5/m" --only '*.mkv'
check "a pattern that matches nothing: exit 2" [ $ST -eq 2 ] &&
	grep -q "matches no file" "$T/o5.log.err"
get "$T/o6.log" "$T/m.torrent" "$T/o6/m" --only 9
check "a file number out of range: exit 2" [ $ST -eq 2 ]

# --- the rest later, without a selection ------------------------------------------
get "$T/o1b.log" "$T/m.torrent" "$T/o1/m"
check "a later run without a selection completes everything" \
	[ $ST -eq 0 ] && same_tree "$T/src/m" "$T/o1/m"
check "... and removes .btparts" [ ! -e "$T/o1/m/.btparts" ]

# --- --range on a single-file torrent ---------------------------------------------
random_file "$T/src/big.bin" $((40 * PL + 123))
"$BTMAKEMETAFILE" "$T/src/big.bin" "$ANNOUNCE" --piece_size_pow2 15 \
	--target "$T/big.torrent" >/dev/null
SP2=$(free_port)
spawn "$T/seed2.log" "$BTDOWNLOAD" "$T/big.torrent" --saveas "$T/src/big.bin" \
	--minport "$SP2" --maxport "$SP2" --display_interval 1
S2=$SPAWNED
wait_for 30 grep -q "status=seeding" "$T/seed2.log"
SP=$SP2
get "$T/r1.log" "$T/big.torrent" "$T/r/big.bin" --range 100000-200000
# Bytes 100000..200000 are pieces 3..6.
check "--range: exit 0, 4 pieces" [ $ST -eq 0 ] &&
	[ "$(json_field "$T/r1.log" pieces_have)" = 4 ]
check "--range: the range's bytes" \
	cmp -s <(tail -c +100001 "$T/src/big.bin" | head -c 100001) \
	<(tail -c +100001 "$T/r/big.bin" | head -c 100001)
check "--range: nothing else was fetched" \
	[ "$(json_field "$T/r1.log" downloaded)" = $((4 * PL)) ]
# Only files written whole get their blocks allocated up front.
blocks=$(du -k "$T/r/big.bin" | cut -f1)
check "--range: the rest of big.bin stays a hole ($blocks KiB of 1280)" \
	[ "$blocks" -le 256 ]
get "$T/r2.log" "$T/big.torrent" "$T/r2/big.bin" --range 2G-
check "--range past the end: exit 2" [ $ST -eq 2 ]

# --- --sequential: what is had is (almost) a prefix -------------------------------
spawn "$T/s1.log" "$BTDOWNLOAD" "$T/big.torrent" --saveas "$T/s/big.bin" \
	--no-seed --status-json --sequential --max_download_rate 200K \
	--minport "$(free_port)" --maxport 65000 --peer "127.0.0.1:$SP"
L=$SPAWNED
wait_for 20 grep -Eq '"pieces_have":(1[0-9]|[2-9][0-9])' "$T/s1.log"
stop "$L"
gaps=$(python3 - "$T/s/.big.bin.btresume" <<'EOF'
import sys
b = open(sys.argv[1], "rb").read()
i = b.index(b"4:have") + 6
j = b.index(b":", i)
n = int(b[i:j])
bits = b[j + 1:j + 1 + n]
have = [k for k in range(n * 8) if bits[k // 8] & (0x80 >> (k % 8))]
first_missing = next(k for k in range(n * 8) if k not in have)
# Pieces past the first hole: only those in flight at the stop.
print(len([k for k in have if k > first_missing]), first_missing)
EOF
)
echo "sequential: pieces after the first hole, first hole: $gaps"
check "--sequential: pieces came in order" [ "${gaps%% *}" -le 8 ] &&
	[ "${gaps##* }" -ge 8 ]
stop "$S2"
stop "$SEEDER"
finish
