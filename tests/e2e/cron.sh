#!/bin/bash
# End-to-end tests of issue 5, "built for cron and scripts": every exit
# status, the last stderr line, the seeding policy (--no-seed,
# --seed-ratio, --seed-time), signals while seeding, --stall-timeout, a
# tracker that rejects us, a full disk, the lock, --status-json, hooks and
# --daemon with --pidfile and --logfile.
. "$(dirname "$0")/lib.sh"

ANNOUNCE=http://127.0.0.1:9/announce	# never answers

not() {
	! "$@"
}

# run_bt LOG ARGS...: btdownload in the foreground (stdout to LOG, stderr
# to LOG.err), at most 60 s; the status is in $ST.
run_bt() {
	local log=$1
	shift
	timeout 60 "$BTDOWNLOAD" "$@" >"$log" 2>"$log.err"
	ST=$?
}

# expect_exit WHAT CODE PATTERN: $ST is CODE and the last line of the
# last run's stderr matches PATTERN (when not empty).
expect_exit() {
	if [ "$ST" -eq "$2" ] &&
		{ [ -z "$3" ] || tail -n 1 "$LAST.err" | grep -q -- "$3"; }; then
		ok "$1: exit $2"
	else
		fail "$1: exit $ST, wanted $2"
		show_log "$LAST.err" 3
	fi
}

mkdir -p "$T/src" "$T/tor" "$T/log"
random_file "$T/src/f.bin" $((2 * 1024 * 1024 + 4321))
"$BTMAKEMETAFILE" "$T/src/f.bin" "$ANNOUNCE" --piece_size_pow2 16 \
	--target "$T/tor/f.torrent" >/dev/null
TOR=$T/tor/f.torrent
HASH=$("$BTSHOWMETAINFO" "$TOR" | sed -n 's/^info hash\.*: *//p')

# --- the man pages list every option (their OPTIONS come from --help) ------
missing=
for prog in btdownload btlaunchmany; do
	for o in $("$BINDIR/$prog" --help | grep -oE '^  (-[a-z], )?--[a-z_]+' |
		grep -oE -- '--[a-z_]+'); do
		grep -qF "\fB\-\-${o#--}\fR" "$TOP/man/$prog.1" ||
			missing="$missing $prog:$o"
	done
done
check "man pages list every option${missing:+ (missing:$missing)}" \
	[ -z "$missing" ]

# --- exit statuses that need no peer --------------------------------------
LAST=$T/log/usage; run_bt "$LAST" --bogus "$TOR"
expect_exit "bad command line" 2 "unrecognized option"
LAST=$T/log/usage2; run_bt "$LAST" --seed-ratio abc "$TOR"
expect_exit "bad --seed-ratio" 2 "seed_ratio"
LAST=$T/log/usage3; run_bt "$LAST" --tcp_congestion no-such-cc "$TOR"
expect_exit "unknown --tcp_congestion" 2 "no-such-cc"
LAST=$T/log/missing; run_bt "$LAST" "$T/nope.torrent"
expect_exit "missing torrent" 3 "nope.torrent"
head -c 1000 /dev/urandom >"$T/tor/garbage.torrent"
LAST=$T/log/garbage; run_bt "$LAST" "$T/tor/garbage.torrent" --status-json
expect_exit "garbage torrent" 3 "garbage.torrent"
check "garbage torrent: JSON says why too" \
	[ "$(json_field "$LAST" exit_reason)" = torrent ]
: >"$T/plainfile"
LAST=$T/log/io; run_bt "$LAST" "$TOR" --saveas "$T/plainfile/f.bin" --no-seed
expect_exit "save path below a file" 4 "plainfile"
LAST=$T/log/stall; run_bt "$LAST" "$TOR" --saveas "$T/stall/f.bin" --no-seed \
	--stall-timeout 2 --status-json
expect_exit "no peers at all, --stall-timeout 2" 6 "stalled"
check "stalled: JSON exit_reason" [ "$(json_field "$LAST" exit_reason)" = stalled ]
check "stalled: JSON exit_code" [ "$(json_field "$LAST" exit_code)" = 6 ]
check "info hash in JSON" [ "$(json_field "$LAST" info_hash)" = "$HASH" ]

# --- a seeder for the rest ----------------------------------------------------
SP=$(free_port)
if ! seeder "$T/seed.log" "$TOR" "$T/src/f.bin" "$SP"; then
	fail "seeder did not start"
	finish
	exit 1
fi
PEER=(--peer "127.0.0.1:$SP")

# --- the lock: a second btdownload on the same place exits 8 ------------------
LAST=$T/log/lock; run_bt "$LAST" "$TOR" --saveas "$T/src/f.bin" --no-seed
expect_exit "second btdownload on the same data" 8 "another btdownload"
check "lock message names the holder" \
	grep -q "locked by process $SEEDER" "$LAST.err"

# --- --no-seed, hooks, --status-json ---------------------------------------------
HOOK='printf "%s|%s|%s|%s|%s|%s\n" "$1" "$2" "$3" "$BT_NAME" "$BT_INFOHASH" "$BT_PATH"'
LAST=$T/log/noseed; run_bt "$LAST" "$TOR" --saveas "$T/d1/f.bin" --no-seed \
	--status-json "${PEER[@]}" \
	--on-complete "$HOOK >$T/complete.out" \
	--on-seed-done "$HOOK >$T/seeddone.out"
expect_exit "--no-seed" 0 ""
check "--no-seed: data is right" cmp -s "$T/src/f.bin" "$T/d1/f.bin"
want="f.bin|$HASH|$T/d1/f.bin|f.bin|$HASH|$T/d1/f.bin"
check "--on-complete got name, info hash, path" \
	[ "$(cat "$T/complete.out" 2>/dev/null)" = "$want" ]
check "--on-seed-done got the same" \
	[ "$(cat "$T/seeddone.out" 2>/dev/null)" = "$want" ]
check "JSON at exit: state stopped, exit_code 0" \
	[ "$(json_field "$LAST" state)" = stopped ] &&
	[ "$(json_field "$LAST" exit_code)" = 0 ] &&
	[ "$(json_field "$LAST" done)" = "$(stat -c %s "$T/src/f.bin")" ]
check "JSON lines are valid JSON" python3 -c '
import json, sys
for line in open(sys.argv[1]):
    if line.startswith("{"):
        json.loads(line)' "$LAST"
# Complete at start with --no-seed: exit 0 at once, no hook this time.
rm -f "$T/complete.out" "$T/seeddone.out"
LAST=$T/log/noseed2; run_bt "$LAST" "$TOR" --saveas "$T/d1/f.bin" --no-seed \
	--on-complete "$HOOK >$T/complete.out" \
	--on-seed-done "$HOOK >$T/seeddone.out"
expect_exit "complete at start, --no-seed" 0 ""
check "no hook when nothing happened" \
	[ ! -e "$T/complete.out" ] && [ ! -e "$T/seeddone.out" ]

# --- a hook with a hostile name is data, not code -------------------------------
EVIL="x\"; touch pwned; '\$(touch pwned2)"
mkdir -p "$T/evil"
cp "$T/src/f.bin" "$T/evil/$EVIL"
(cd "$T/evil" && "$BTMAKEMETAFILE" "$EVIL" "$ANNOUNCE" \
	--target "$T/tor/evil.torrent" >/dev/null)
(cd "$T" && exec "$BTDOWNLOAD" "$T/tor/evil.torrent" --no-seed \
	--saveas "$T/evil/$EVIL" --on-seed-done 'printf "%s" "$1" >name.out' \
	--check_hashes 0) >/dev/null 2>&1
# Complete at start: no hook.  Seed it for a second to get one.
(cd "$T" && exec "$BTDOWNLOAD" "$T/tor/evil.torrent" --seed-time 1 \
	--saveas "$T/evil/$EVIL" --on-seed-done 'printf "%s" "$1" >name.out' \
	--minport "$(free_port)" --maxport 65000) >/dev/null 2>&1
check "a hostile name reaches the hook intact" \
	[ "$(cat "$T/name.out" 2>/dev/null)" = "$EVIL" ]
check "a hostile name runs nothing" \
	[ ! -e "$T/pwned" ] && [ ! -e "$T/pwned2" ] && [ ! -e "$T/evil/pwned" ]

# --- --seed-time and --seed-ratio --------------------------------------------------
LAST=$T/log/seedtime; run_bt "$LAST" "$TOR" --saveas "$T/d2/f.bin" \
	--seed-time 2 "${PEER[@]}" -v
expect_exit "--seed-time 2" 0 "seeded for 2 s"
# A second seeder with --seed-ratio 1 serves a leecher the whole file.
SP2=$(free_port)
cp "$T/src/f.bin" "$T/src/f.bin.copy"
spawn "$T/ratio.log" "$BTDOWNLOAD" "$TOR" --saveas "$T/src/f.bin.copy" \
	--minport "$SP2" --maxport "$SP2" --seed-ratio 1 --status-json \
	--display_interval 1
RATIO=$SPAWNED
wait_for 20 grep -q '"state":"seeding"' "$T/ratio.log"
LAST=$T/log/ratioleech; run_bt "$LAST" "$TOR" --saveas "$T/d3/f.bin" \
	--no-seed --peer "127.0.0.1:$SP2"
wait_pid "$RATIO" 30
st=$?
if [ $st -eq 0 ] && grep -q '"exit_reason":"done"' "$T/ratio.log" &&
	grep -q "ratio 1" "$T/ratio.log"; then
	ok "--seed-ratio 1: exit 0 once a whole copy was uploaded"
else
	fail "--seed-ratio 1: status $st"
	show_log "$T/ratio.log" 3
fi

# --- signals while seeding -------------------------------------------------------
spawn "$T/sig1.log" "$BTDOWNLOAD" "$TOR" --saveas "$T/d1/f.bin" \
	--minport "$(free_port)" --maxport 65000 --display_interval 1
p=$SPAWNED
wait_for 20 grep -q "status=seeding" "$T/sig1.log"
stop "$p"
check "SIGTERM while seeding without a policy: exit 0" [ $? -eq 0 ]
spawn "$T/sig2.log" "$BTDOWNLOAD" "$TOR" --saveas "$T/d1/f.bin" \
	--minport "$(free_port)" --maxport 65000 --display_interval 1 \
	--seed-ratio 5
p=$SPAWNED
wait_for 20 grep -q "status=seeding" "$T/sig2.log"
kill -INT "$p"
wait_pid "$p" 10
st=$?
check "SIGINT while seeding, ratio not met: exit 7" [ $st -eq 7 ]
check "SIGINT: the last line says why" \
	grep -q "SIGINT while seeding" <(tail -n 1 "$T/sig2.log")

# --- a tracker that rejects us ------------------------------------------------------
TP=$(free_port)
spawn "$T/tracker.log" python3 -c '
import http.server, sys
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = b"d14:failure reason11:not allowede"
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, *a):
        pass
http.server.HTTPServer(("127.0.0.1", int(sys.argv[1])), H).serve_forever()
' "$TP"
"$BTMAKEMETAFILE" "$T/src/f.bin" "http://127.0.0.1:$TP/announce?passkey=s3cr3t" \
	--piece_size_pow2 16 --target "$T/tor/rej.torrent" >/dev/null
wait_for 10 bash -c "exec 3<>/dev/tcp/127.0.0.1/$TP"
LAST=$T/log/rejected; run_bt "$LAST" "$T/tor/rej.torrent" --saveas "$T/d4/f.bin" \
	--no-seed -v
expect_exit "tracker rejects us, no peers" 9 "not allowed"
check "the passkey is never logged" not grep -q s3cr3t "$LAST.err"
check "the announce URL is logged masked" grep -q "announce?\*\*\*" "$LAST.err"

# --- a full disk ----------------------------------------------------------------------
# A 1 MiB tmpfs in a private mount namespace (as root, or in a user
# namespace); skipped where neither is allowed.
mkdir -p "$T/full"
if unshare -rm sh -c "mount -t tmpfs -o size=1m tmpfs '$T/full'" 2>/dev/null; then
	LAST=$T/log/diskfull
	timeout 60 unshare -rm sh -c "mount -t tmpfs -o size=1m tmpfs '$T/full' &&
		exec '$BTDOWNLOAD' '$TOR' --saveas '$T/full/f.bin' --no-seed \
		--peer 127.0.0.1:$SP" >"$LAST" 2>"$LAST.err"
	ST=$?
	expect_exit "disk full" 5 "No space left"
else
	echo "skip: cannot mount a small tmpfs here (disk full)"
fi

# --- --daemon, --pidfile, --logfile ---------------------------------------------------
"$BTDOWNLOAD" "$TOR" --saveas "$T/d5/f.bin" --no-seed --daemon \
	--pidfile "$T/bt.pid" --logfile "$T/bt.log" --status-json \
	--max_download_rate 1M "${PEER[@]}" -v 2>"$T/daemon.err"
st=$?
dpid=$(cat "$T/bt.pid" 2>/dev/null)
[ -n "$dpid" ] && PIDS+=("$dpid")
check "--daemon: the parent exits 0" [ $st -eq 0 ]
check "--daemon: the pid file names a running process" \
	[ -n "$dpid" ] && kill -0 "$dpid" 2>/dev/null
wait_for 30 bash -c "! kill -0 $dpid 2>/dev/null"
check "--daemon: downloaded" cmp -s "$T/src/f.bin" "$T/d5/f.bin"
check "--daemon: log and JSON went to --logfile" \
	grep -q '"exit_reason":"done"' "$T/bt.log"
check "--daemon: the pid file is removed at exit" [ ! -e "$T/bt.pid" ]
# A daemon that cannot start says so on the terminal, with its status.
"$BTDOWNLOAD" "$TOR" --saveas "$T/src/f.bin" --daemon 2>"$T/daemon2.err"
check "--daemon on locked data: exit 8 on the terminal" \
	[ $? -eq 8 ] && grep -q "another btdownload" "$T/daemon2.err"

stop "$SEEDER"
finish
