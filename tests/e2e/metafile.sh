#!/bin/bash
# metafile.sh: end-to-end test of btmakemetafile and btshowmetainfo.
#
# Makes torrents of a file and of a directory tree, checks what
# btshowmetainfo prints, checks the info hash against mktorrent's for
# several piece sizes and against an independent computation in python3,
# checks --announce_list (BEP 12) tiers against python3 and mktorrent, and
# feeds btshowmetainfo the hand-made bad torrents in tests/torrents/.
# Needs mktorrent and python3; a missing one is a failure, not a skip.
#
# BINDIR: where the programs are (default: the repository root).
set -u

root=$(cd "$(dirname "$0")/../.." && pwd)
BINDIR=${BINDIR:-$root}
MAKE=$BINDIR/btmakemetafile
SHOW=$BINDIR/btshowmetainfo
URL=http://127.0.0.1:6969/announce
pass=0
fail=0

tmp=$(mktemp -d /tmp/metafile.XXXXXX) || exit 1
trap 'rm -rf "$tmp"' EXIT

ok() { pass=$((pass + 1)); }
bad() { fail=$((fail + 1)); echo "FAIL: $*" >&2; }
# check DESCRIPTION COMMAND...: the command must succeed.
check() {
	local what=$1
	shift
	if "$@"; then ok; else bad "$what"; fi
}

# The "info hash.....:" line of btshowmetainfo, or nothing.
show_hash() { "$SHOW" "$1" 2>/dev/null | sed -n 's/^info hash\.*: //p'; }

# SHA-1 of the raw bytes of the top-level "info" value, found by walking
# the bencode by hand: a check that does not share any code with ours.
py_hash() {
	python3 - "$1" <<'EOF'
import hashlib, sys
s = open(sys.argv[1], 'rb').read()
def end(i):
    c = s[i:i+1]
    if c == b'i':
        return s.index(b'e', i) + 1
    if c in (b'l', b'd'):
        i += 1
        while s[i:i+1] != b'e':
            i = end(i)
        return i + 1
    j = s.index(b':', i)
    return j + 1 + int(s[i:j])
i = 1
while s[i:i+1] != b'e':
    k = end(i)
    key = s[s.index(b':', i) + 1:k]
    v = end(k)
    if key == b'info':
        print(hashlib.sha1(s[k:v]).hexdigest())
    i = v
EOF
}

# The top-level "announce-list" decoded by python3, as a Python repr of a
# list of lists of str ("None" when absent).
py_tiers() {
	python3 - "$1" <<'EOF'
import sys
s = open(sys.argv[1], 'rb').read()
def dec(i):
    c = s[i:i+1]
    if c == b'i':
        j = s.index(b'e', i)
        return int(s[i+1:j]), j + 1
    if c == b'l':
        v, i = [], i + 1
        while s[i:i+1] != b'e':
            x, i = dec(i)
            v.append(x)
        return v, i + 1
    if c == b'd':
        v, i = {}, i + 1
        while s[i:i+1] != b'e':
            k, i = dec(i)
            v[k], i = dec(i)
        return v, i + 1
    j = s.index(b':', i)
    n = int(s[i:j])
    return s[j+1:j+1+n], j + 1 + n
root, end = dec(0)
assert end == len(s)
al = root.get(b'announce-list')
print(None if al is None else [[u.decode() for u in t] for t in al])
EOF
}

for prog in "$MAKE" "$SHOW"; do
	if [ ! -x "$prog" ]; then
		echo "metafile.sh: $prog is missing; run make first" >&2
		exit 1
	fi
done
have_mktorrent=1
if ! command -v mktorrent >/dev/null 2>&1; then
	bad "mktorrent not found: apt-get install mktorrent"
	have_mktorrent=0
fi
have_python=1
if ! command -v python3 >/dev/null 2>&1; then
	bad "python3 not found: apt-get install python3"
	have_python=0
fi

# The data.  The tree's names are picked so that ordering by whole path
# (mktorrent, strcmp) differs from ordering by components: "a-b" < "a.bin"
# < "a/x" bytewise, while "a" < "a-b" component-wise.
head -c 1048699 /dev/urandom >"$tmp/single.bin"
mkdir -p "$tmp/tree/a" "$tmp/tree/sub/deeper" "$tmp/tree/Zdir"
head -c 300000 /dev/urandom >"$tmp/tree/a.bin"
head -c 5000 /dev/urandom >"$tmp/tree/a-b"
head -c 70000 /dev/urandom >"$tmp/tree/a/x"
head -c 99 /dev/urandom >"$tmp/tree/sub/deeper/c.txt"
head -c 12345 /dev/urandom >"$tmp/tree/sub/b.bin"
head -c 10 /dev/urandom >"$tmp/tree/.hidden"
head -c 1 /dev/urandom >"$tmp/tree/Zdir/one"
: >"$tmp/tree/empty"

# A single file, default output name, automatic piece size.
check "btmakemetafile single" "$MAKE" "$tmp/single.bin" "$URL" \
    --comment "hello world"
check "default output next to the input" test -s "$tmp/single.bin.torrent"
out=$("$SHOW" "$tmp/single.bin.torrent")
check "btshowmetainfo single exits 0" test $? -eq 0
for want in "file name.....: single.bin" \
    "file size.....: 1048699 (32 * 32768 + 123)" \
    "piece length..: 32768" "pieces........: 33" \
    "announce url..: $URL" "comment.......: hello world" \
    "created by....: btdownload 0.1" "private.......: no"; do
	check "single shows '$want'" grep -qxF "$want" <<<"$out"
done
check "single shows a creation date" \
    grep -q '^creation date\.: [0-9-]* [0-9:]* UTC ([0-9]*)$' <<<"$out"

# A directory, with a trailing slash, explicit piece size.
check "btmakemetafile tree" "$MAKE" "$tmp/tree/" "$URL" \
    --piece_size_pow2 16
check "trailing slash stripped for the output" test -s "$tmp/tree.torrent"
out=$("$SHOW" "$tmp/tree.torrent")
want="directory name: tree
files.........:
   .hidden (10)
   Zdir/one (1)
   a-b (5000)
   a.bin (300000)
   a/x (70000)
   empty (0)
   sub/b.bin (12345)
   sub/deeper/c.txt (99)
archive size..: 387455 (5 * 65536 + 59775)
piece length..: 65536
pieces........: 6"
check "tree listing" grep -qF "$want" <<<"$out"
if ! grep -qF "$want" <<<"$out"; then
	echo "got:"
	echo "$out"
fi

# Same info hash as mktorrent, for several piece sizes.
if [ $have_mktorrent = 1 ]; then
	for pow in 15 16 18 20; do
		for in in single.bin tree; do
			"$MAKE" "$tmp/$in" "$URL" --piece-size-pow2=$pow \
			    --target "$tmp/ours.torrent" ||
			    bad "btmakemetafile $in 2^$pow"
			rm -f "$tmp/theirs.torrent"
			mktorrent -l $pow -a "$URL" -o "$tmp/theirs.torrent" \
			    "$tmp/$in" >/dev/null 2>&1 ||
			    bad "mktorrent $in 2^$pow"
			a=$(show_hash "$tmp/ours.torrent")
			b=$(show_hash "$tmp/theirs.torrent")
			if [ -n "$a" ] && [ "$a" = "$b" ]; then
				ok
			else
				bad "$in 2^$pow: info hash '$a' vs mktorrent '$b'"
			fi
			if [ $have_python = 1 ]; then
				c=$(py_hash "$tmp/ours.torrent")
				check "$in 2^$pow: python3 agrees" \
				    test "$a" = "$c"
			fi
		done
	done
fi

# BEP 12 tiers: '|' between tiers, ',' within one; whitespace around a URL
# is dropped; both spellings of the option; each use appends tiers.
A=http://a.example/announce
B=http://b.example:8080/announce
C=udp://c.example:80/announce
check "--announce_list" "$MAKE" "$tmp/single.bin" "$URL" \
    --piece_size_pow2 16 --target "$tmp/tiers.torrent" \
    --announce_list " $A , $B|$C"
out=$("$SHOW" "$tmp/tiers.torrent")
for want in "announce url..: $URL" "tier 1........: $A $B" \
    "tier 2........: $C" "file name.....: single.bin" \
    "pieces........: 17" "private.......: no"; do
	check "tiers: shows '$want'" grep -qxF "$want" <<<"$out"
done
check "tiers: exactly two tier lines" \
    test "$(grep -c '^tier ' <<<"$out")" -eq 2
check "--announce-list, twice" "$MAKE" "$tmp/tree" "$URL" \
    --target "$tmp/tiers2.torrent" --announce-list "$A" \
    --announce-list "$B,$C|$URL"
if [ $have_python = 1 ]; then
	check "tiers: python3 decodes the exact structure" test \
	    "$(py_tiers "$tmp/tiers.torrent")" = "[['$A', '$B'], ['$C']]"
	check "appended tiers: python3 decodes the exact structure" test \
	    "$(py_tiers "$tmp/tiers2.torrent")" = \
	    "[['$A'], ['$B', '$C'], ['$URL']]"
	check "no --announce_list: no announce-list key" \
	    test "$(py_tiers "$tmp/single.bin.torrent")" = None
fi
if [ $have_mktorrent = 1 ]; then
	# announce-list is outside info: the info hash is mktorrent's
	# without any, and the tiers are mktorrent's for -a A,B -a C.
	rm -f "$tmp/theirs.torrent"
	mktorrent -l 16 -a "$URL" -o "$tmp/theirs.torrent" \
	    "$tmp/single.bin" >/dev/null 2>&1 || bad "mktorrent single"
	a=$(show_hash "$tmp/tiers.torrent")
	b=$(show_hash "$tmp/theirs.torrent")
	check "tiers: info hash '$a' is mktorrent's '$b'" \
	    test -n "$a" -a "$a" = "$b"
	rm -f "$tmp/theirs.torrent"
	mktorrent -l 16 -a "$A,$B" -a "$C" -o "$tmp/theirs.torrent" \
	    "$tmp/single.bin" >/dev/null 2>&1 || bad "mktorrent tiers"
	if [ $have_python = 1 ]; then
		check "tiers: same announce-list as mktorrent" test \
		    "$(py_tiers "$tmp/tiers.torrent")" = \
		    "$(py_tiers "$tmp/theirs.torrent")"
	fi
fi
# Bad lists: exit 2, one line saying which tier or URL, nothing written.
while IFS='#' read -r list reason; do
	"$MAKE" "$tmp/single.bin" "$URL" --target "$tmp/badtiers.torrent" \
	    --announce_list "$list" 2>"$tmp/err"
	check "announce list '$list' exits 2" test $? -eq 2
	check "announce list '$list': reason" grep -qxF \
	    "btmakemetafile: --announce_list: $reason" "$tmp/err"
	check "announce list '$list': one line" \
	    test "$(wc -l <"$tmp/err")" -eq 1
	check "announce list '$list': nothing written" \
	    test ! -e "$tmp/badtiers.torrent"
done <<EOF
$A||$C#tier 2 is empty
$A|#tier 2 is empty
#tier 1 is empty
 #tier 1 is empty
$A|$B,,$C#tier 2: URL 2 is empty
$A, #tier 1: URL 2 is empty
EOF

# Failures leave nothing behind and say what went wrong on one line.
mkdir "$tmp/broken"
echo data >"$tmp/broken/fine"
ln -s nowhere "$tmp/broken/dangling"
"$MAKE" "$tmp/broken" "$URL" 2>"$tmp/err"
check "dangling symlink fails" test $? -eq 1
check "dangling symlink: one line" test "$(wc -l <"$tmp/err")" -eq 1
check "dangling symlink: names the path" grep -qxF \
    "btmakemetafile: $tmp/broken/dangling: No such file or directory" \
    "$tmp/err"
check "nothing left behind" \
    test -z "$(find "$tmp" -maxdepth 1 -name 'broken.torrent*')"
"$MAKE" "$tmp/nonexistent" "$URL" 2>"$tmp/err"
check "missing input fails" test $? -eq 1
check "missing input message" grep -qxF \
    "btmakemetafile: $tmp/nonexistent: No such file or directory" "$tmp/err"
mkdir "$tmp/zero"
: >"$tmp/zero/nothing"
"$MAKE" "$tmp/zero" "$URL" 2>/dev/null
check "all-empty directory is refused" test $? -eq 1
check "refused output not written" test ! -e "$tmp/zero.torrent"
"$MAKE" "$tmp/single.bin" "$URL" --target "$tmp/no/such/dir/x.torrent" \
    2>"$tmp/err"
check "unwritable target fails" test $? -eq 1
check "unwritable target: one line" test "$(wc -l <"$tmp/err")" -eq 1
"$MAKE" >/dev/null 2>&1
check "btmakemetafile without arguments exits 2" test $? -eq 2
"$MAKE" "$tmp/single.bin" "$URL" --piece_size_pow2 40 2>/dev/null
check "btmakemetafile bad piece size exits 2" test $? -eq 2
check "btmakemetafile --help" "$MAKE" --help >/dev/null

# Bad torrents: exit 1 and exactly one line on stderr, naming the file.
while read -r name reason; do
	f=$root/tests/torrents/$name
	"$SHOW" "$f" >"$tmp/out" 2>"$tmp/err"
	check "$name exits 1" test $? -eq 1
	check "$name: one stderr line" test "$(wc -l <"$tmp/err")" -eq 1
	check "$name: reason" grep -qxF "btshowmetainfo: $f: $reason" \
	    "$tmp/err"
	check "$name: nothing on stdout" test ! -s "$tmp/out"
done <<'EOF'
traversal.torrent info.files[0].path[0] is ".."
badpieces.torrent info.pieces length 41 is not a multiple of 20
unsorted.torrent bencode: dict keys not sorted at offset 50
trailing.torrent bencode: trailing bytes after root value at offset 116
absolute.torrent info.name contains '/'
fileisdir.torrent info.files[1] is inside info.files[0], which is a file
truncated.torrent bencode: unexpected end of input at offset 115
leadingzero.torrent bencode: leading zero in integer at offset 47
bidi.torrent info.name contains a bidi control character
notdict.torrent metainfo is not a dict
empty.torrent bencode: unexpected end of input at offset 0
EOF

# A bad torrent among good ones: the good ones are still shown.
"$SHOW" "$root/tests/torrents/good.torrent" \
    "$root/tests/torrents/traversal.torrent" "$tmp/tree.torrent" \
    >"$tmp/out" 2>"$tmp/err"
check "mixed list exits 1" test $? -eq 1
check "mixed list shows both good ones" \
    test "$(grep -c '^info hash' "$tmp/out")" -eq 2
check "mixed list: one stderr line" test "$(wc -l <"$tmp/err")" -eq 1
"$SHOW" >/dev/null 2>&1
check "btshowmetainfo without arguments exits 2" test $? -eq 2

echo "metafile.sh: $pass passed, $fail failed"
[ $fail -eq 0 ]
