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
. "$(dirname "$0")/lib.sh"

DIR=$TOP/tests/torrents
declare -A REASON=()
while IFS=$'\t' read -r f r; do
	REASON[$f]=$r
done <"$DIR/bad-reasons.txt"

# expect_line PROG FILE ERRFILE: the one line of ERRFILE is "PROG: FILE:
# reason", with the reason from the manifest when it has one.
expect_line() {
	local prog=$1 f=$2 err=$3 name line
	name=$(basename "$f")
	[ "$(wc -l <"$err")" -eq 1 ] || { echo "  $(wc -l <"$err") lines"; return 1; }
	line=$(cat "$err")
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

# refused_by_btdownload FILE
refused_by_btdownload() {
	local f=$1 w=$T/run rc
	rm -rf "$w" && mkdir "$w" || return 1
	(cd "$w" && timeout 20 "$BTDOWNLOAD" --saveas "$w/out" "$f" \
	    >"$T/out" 2>"$T/err")
	rc=$?
	[ $rc -eq 3 ] || { echo "  exit $rc"; return 1; }
	[ ! -s "$T/out" ] || { echo "  stdout: $(head -c 200 "$T/out")"; return 1; }
	[ -z "$(ls -A "$w")" ] || { echo "  created: $(ls -A "$w")"; return 1; }
	expect_line btdownload "$f" "$T/err"
}

# refused_by_btshowmetainfo FILE
refused_by_btshowmetainfo() {
	local f=$1 rc
	timeout 20 "$BTSHOWMETAINFO" "$f" >"$T/out" 2>"$T/err"
	rc=$?
	[ $rc -ne 0 ] && [ $rc -ne 124 ] || { echo "  exit $rc"; return 1; }
	[ ! -s "$T/out" ] || { echo "  stdout: $(head -c 200 "$T/out")"; return 1; }
	expect_line btshowmetainfo "$f" "$T/err"
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
finish
