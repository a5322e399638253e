#!/bin/bash
# make demo: a real seeder and a real leecher on loopback, no network.
# Makes a 64 MiB random file and its torrent, starts a seeding btdownload,
# runs a leeching btdownload in the foreground (its live status line is
# what you see), checks the bytes with cmp and cleans up.
set -u
TOP=$(cd "$(dirname "$0")/.." && pwd)
BIN=${BINDIR:-$TOP}
SIZE_MIB=${SIZE_MIB:-64}
T=$(mktemp -d /tmp/btdemo.XXXXXX)
SEEDER=
cleanup() {
	[ -n "$SEEDER" ] && kill "$SEEDER" 2>/dev/null && wait "$SEEDER" 2>/dev/null
	rm -rf "$T"
}
trap cleanup EXIT

port() {
	local p
	for _ in $(seq 100); do
		p=$((10000 + RANDOM % 22000))
		(exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null || { echo "$p"; return; }
	done
}

mkdir -p "$T/seed" "$T/leech"
echo "== making a ${SIZE_MIB} MiB file and its torrent"
head -c $((SIZE_MIB * 1024 * 1024)) /dev/urandom >"$T/seed/demo.bin"
"$BIN/btmakemetafile" "$T/seed/demo.bin" http://127.0.0.1:9/announce \
	--target "$T/demo.torrent" || exit 1
"$BIN/btshowmetainfo" "$T/demo.torrent" || exit 1

SP=$(port)
echo "== seeding on 127.0.0.1:$SP"
"$BIN/btdownload" "$T/demo.torrent" --saveas "$T/seed/demo.bin" \
	--minport "$SP" --maxport "$SP" >"$T/seed.log" 2>&1 &
SEEDER=$!
for _ in $(seq 100); do
	grep -q "status=seeding" "$T/seed.log" 2>/dev/null && break
	sleep 0.1
done

echo "== leeching from it (btdownload --no-seed --peer 127.0.0.1:$SP)"
echo "   (the torrent names a tracker that does not exist: peers come from"
echo "   --peer here, so a 'problem connecting to tracker' line is expected)"
start=$(date +%s.%N)
"$BIN/btdownload" "$T/demo.torrent" --saveas "$T/leech/demo.bin" \
	--peer "127.0.0.1:$SP" --no-seed || { echo "demo: leecher failed"; exit 1; }
end=$(date +%s.%N)

if cmp "$T/seed/demo.bin" "$T/leech/demo.bin"; then
	awk -v s="$start" -v e="$end" -v m="$SIZE_MIB" 'BEGIN {
		printf "== bytes identical: %d MiB in %.2f s (%.0f MiB/s)\n",
		    m, e - s, m / (e - s) }'
else
	echo "demo: the downloaded file differs from the original"
	exit 1
fi
