#!/bin/bash
# Path safety end to end (issue 7 item 3): btdownload writes nothing
# outside its download directory.  A directory inside the download replaced
# by a symlink to a directory outside it, before start, makes a leecher
# refuse with the I/O exit status (4) and a message naming the file; a
# seeder whose data directory holds a symlink to a file outside refuses
# too, so that file is never served; a torrent whose path has a ".."
# component is refused as a bad torrent (3).  The swap made *after*
# start-up is covered by tests/test_storage.c (test_planted_symlinks).
. "$(dirname "$0")/lib.sh"

ANNOUNCE=http://127.0.0.1:9/announce	# never contacted

# run_bt SECONDS LOG ARGS...: run btdownload to its end; status in $ST.
run_bt() {
	local secs=$1 log=$2
	shift 2
	spawn "$log" "$BTDOWNLOAD" "$@" --display_interval 1 --no-seed
	wait_pid "$SPAWNED" "$secs"
	ST=$?
}

mkdir -p "$T/src/multi/sub" "$T/tor"
random_file "$T/src/multi/a.bin" 50000
random_file "$T/src/multi/sub/b.bin" 70000
"$BTMAKEMETAFILE" "$T/src/multi" "$ANNOUNCE" --piece_size_pow2 15 \
	--target "$T/tor/multi.torrent" >/dev/null

# --- a planted directory symlink, absolute and relative --------------------
for kind in absolute relative; do
	out=$T/outside-$kind
	dl=$T/dl-$kind
	mkdir -p "$out" "$dl"
	if [ $kind = absolute ]; then
		ln -s "$out" "$dl/sub"
	else
		ln -s "../outside-$kind" "$dl/sub"
	fi
	run_bt 20 "$T/planted-$kind.log" "$T/tor/multi.torrent" --saveas "$dl" \
		--minport "$(free_port)" --maxport 65000
	if [ "$ST" = 4 ] &&
		grep -q "sub/b.bin: a symbolic link in the download" \
			"$T/planted-$kind.log" &&
		[ -z "$(ls -A "$out")" ]; then
		ok "planted $kind directory symlink refused (exit 4), nothing outside"
	else
		fail "planted $kind directory symlink: exit $ST, outside has: $(ls -A "$out")"
		show_log "$T/planted-$kind.log" 5
	fi
done

# --- a seeder must not serve a file outside its directory -----------------
cp -r "$T/src/multi" "$T/seed"
echo "secret outside the download" >"$T/secret"
rm "$T/seed/a.bin"
ln -s "$T/secret" "$T/seed/a.bin"
run_bt 20 "$T/seedlink.log" "$T/tor/multi.torrent" --saveas "$T/seed" \
	--minport "$(free_port)" --maxport 65000
if [ "$ST" = 4 ] && grep -q "a.bin: a symbolic link" "$T/seedlink.log" &&
	[ "$(cat "$T/secret")" = "secret outside the download" ]; then
	ok "seeder refuses a file symlink (exit 4), target untouched"
else
	fail "seeder with a file symlink: exit $ST"
	show_log "$T/seedlink.log" 5
fi

# --- a torrent with a ".." component --------------------------------------
python3 - "$T/tor/evil.torrent" <<'EOF'
import hashlib, sys
def be(x):
    if isinstance(x, int):
        return b'i%de' % x
    if isinstance(x, bytes):
        return b'%d:%s' % (len(x), x)
    if isinstance(x, list):
        return b'l' + b''.join(be(v) for v in x) + b'e'
    return b'd' + b''.join(be(k) + be(x[k]) for k in sorted(x)) + b'e'
data = b'x' * 100
info = {b'name': b'evil', b'piece length': 16384,
        b'pieces': hashlib.sha1(data).digest(),
        b'files': [{b'length': 100, b'path': [b'..', b'escaped.bin']}]}
open(sys.argv[1], 'wb').write(be({b'announce': b'http://127.0.0.1:9/a',
                                  b'info': info}))
EOF
mkdir -p "$T/evil/dl"
run_bt 20 "$T/evil.log" "$T/tor/evil.torrent" --saveas "$T/evil/dl" \
	--minport "$(free_port)" --maxport 65000
if [ "$ST" = 3 ] && [ ! -e "$T/evil/escaped.bin" ] &&
	[ ! -e "$T/escaped.bin" ]; then
	ok "torrent with a '..' path refused (exit 3), nothing written"
else
	fail "torrent with a '..' path: exit $ST"
	show_log "$T/evil.log" 5
fi

finish
