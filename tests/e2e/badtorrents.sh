#!/bin/bash
# badtorrents.sh: every malicious or malformed torrent in tests/torrents/
# (all but good*.torrent) is refused before anything touches the disk.
#
# For each one, btdownload runs in an empty directory with --saveas inside
# it and must exit 3 with exactly one stderr line "btdownload: FILE:
# reason", print nothing on stdout, and leave the directory empty;
# btshowmetainfo must exit non-zero with the same one line (its own
# prefix) and nothing on stdout.  Where tests/torrents/bad-reasons.txt
# (written by gen_bad.py) names the reason, it must be exactly that.
# No output ever holds an ESC byte.
#
# Then strangers' text on the terminal: a tracker whose failure reason is
# full of escape sequences, and a torrent whose name holds an 8-bit CSI
# (0x9b, valid in a name, not UTF-8), must come out as \xNN escapes.
. "$(dirname "$0")/lib.sh"

DIR=$TOP/tests/torrents
declare -A REASON=()
while IFS=$'\t' read -r f r; do
	REASON[$f]=$r
done <"$DIR/bad-reasons.txt"

# expect_line PROG FILE ERRFILE STATUS: the one line of ERRFILE is "PROG:
# FILE: reason", with the reason from the manifest when it has one; a
# trailing " (exit status STATUS)" is allowed.
expect_line() {
	local prog=$1 f=$2 err=$3 st=$4 name line
	name=$(basename "$f")
	[ "$(wc -l <"$err")" -eq 1 ] || { echo "  $(wc -l <"$err") lines"; return 1; }
	line=$(cat "$err")
	line=${line% (exit status $st)}
	if [ -n "${REASON[$name]+x}" ]; then
		[ "$line" = "$prog: $f: ${REASON[$name]}" ] ||
		    { echo "  got: $line"; return 1; }
	else
		case $line in
		"$prog: $f: "?*) ;;
		*) echo "  got: $line"; return 1 ;;
		esac
	fi
}

# no_esc FILE: no ESC, BEL or 8-bit CSI byte in FILE.
no_esc() {
	! LC_ALL=C grep -q $'[\x1b\x07\x9b]' "$1" ||
	    { echo "  raw control bytes in $1"; return 1; }
}

# refused_by_btdownload FILE
refused_by_btdownload() {
	local f=$1 w=$T/run rc
	rm -rf "$w" && mkdir "$w" || return 1
	(cd "$w" && timeout 20 "$BTDOWNLOAD" --saveas "$w/out" "$f" \
	    >"$T/out" 2>"$T/err")
	rc=$?
	[ $rc -eq 3 ] || { echo "  exit $rc"; return 1; }
	[ ! -s "$T/out" ] || { echo "  stdout: $(head -c 200 "$T/out")"; return 1; }
	no_esc "$T/err" || return 1
	[ -z "$(ls -A "$w")" ] || { echo "  created: $(ls -A "$w")"; return 1; }
	expect_line btdownload "$f" "$T/err" 3
}

# refused_by_btshowmetainfo FILE
refused_by_btshowmetainfo() {
	local f=$1 rc
	timeout 20 "$BTSHOWMETAINFO" "$f" >"$T/out" 2>"$T/err"
	rc=$?
	[ $rc -ne 0 ] && [ $rc -ne 124 ] || { echo "  exit $rc"; return 1; }
	[ ! -s "$T/out" ] || { echo "  stdout: $(head -c 200 "$T/out")"; return 1; }
	no_esc "$T/err" || return 1
	expect_line btshowmetainfo "$f" "$T/err" $rc
}

n=0
for f in "$DIR"/*.torrent; do
	case $(basename "$f") in good*) continue ;; esac
	n=$((n + 1))
	if refused_by_btdownload "$f"; then
		PASSED=$((PASSED + 1))
	else
		fail "btdownload $(basename "$f")"
	fi
	if refused_by_btshowmetainfo "$f"; then
		PASSED=$((PASSED + 1))
	else
		fail "btshowmetainfo $(basename "$f")"
	fi
done
check "at least 40 bad torrents ($n)" test "$n" -ge 40
for name in "${!REASON[@]}"; do
	[ -f "$DIR/$name" ] || fail "$name is in bad-reasons.txt but missing"
done
# Not vacuous: the good torrent is accepted.
"$BTSHOWMETAINFO" "$DIR/good.torrent" >/dev/null 2>&1
check "good.torrent is accepted" test $? -eq 0

# A hostile HTTP tracker: its failure reason reaches stderr escaped.
cat >"$T/tracker.py" <<'PY'
import http.server, sys
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        why = b'go away \x1b[2J\x1b]0;owned\x07\x9b!'
        body = b'd14:failure reason%d:%se' % (len(why), why)
        self.send_response(200)
        self.send_header('Content-Length', str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, *a):
        pass
s = http.server.HTTPServer(('127.0.0.1', 0), H)
with open(sys.argv[1] + '.tmp', 'w') as f:
    f.write('%d\n' % s.server_address[1])
import os; os.rename(sys.argv[1] + '.tmp', sys.argv[1])
s.serve_forever()
PY
spawn "$T/tracker.log" python3 "$T/tracker.py" "$T/tracker.port"
wait_for 10 test -s "$T/tracker.port"
port=$(cat "$T/tracker.port" 2>/dev/null)
mkdir -p "$T/trk"
random_file "$T/trk/data" 5000
"$BTMAKEMETAFILE" "$T/trk/data" "http://127.0.0.1:$port/announce" \
    -o "$T/trk.torrent" >/dev/null 2>&1
spawn "$T/trk.err" "$BTDOWNLOAD" --saveas "$T/trk/dl" "$T/trk.torrent"
dl=$SPAWNED
check "tracker failure reported" wait_for 15 grep -q 'rejected by tracker' \
    "$T/trk.err"
stop "$dl"
want='btdownload: rejected by tracker - go away \x1b[2J\x1b]0;owned\x07\x9b!'
check "tracker failure reason escaped" grep -qxF "$want" "$T/trk.err"
check "no raw control bytes from the tracker" no_esc "$T/trk.err"

# A name holding an 8-bit CSI: btdownload prints it escaped.
name=$(printf 'x\x9b2Jy')
mkdir -p "$T/csi"
random_file "$T/csi/$name" 5000
"$BTMAKEMETAFILE" "$T/csi/$name" http://127.0.0.1:1/announce \
    -o "$T/csi.torrent" >/dev/null 2>&1
(cd "$T/csi" && timeout 20 "$BTDOWNLOAD" --no_seed "$T/csi.torrent" \
    >"$T/csi.out" 2>"$T/csi.err")
check "complete data: exit 0" test $? -eq 0
check "name escaped on stdout (download.c: names and paths go through \
log_escape, docs/security.md)" grep -qxF 'x\x9b2Jy is complete; seeding' \
    "$T/csi.out"
check "no raw control bytes from the name" no_esc "$T/csi.out"
finish
