# shellcheck shell=bash
# need.sh: make sure the real BitTorrent programs the interop tests run
# against are installed.  Sourced (not run) by tests/e2e/interop*.sh:
#
#	. "$TOP/tests/interop/need.sh" && interop_need || exit 1
#
# What is missing is installed with apt-get (one `apt-get update` first,
# and only when something is missing).  When that cannot be done (not
# root, no apt-get, no network) interop_need prints one line naming
# exactly the packages to install and returns 1: a missing peer fails the
# test, it is never skipped in silence.

# "command package" pairs; python3-libtorrent is checked by importing it
# with the Debian python3 (a python3 earlier in PATH may not have it).
INTEROP_PY=/usr/bin/python3
INTEROP_NEEDS=(
	"opentracker opentracker"
	"transmission-cli transmission-cli"
	"aria2c aria2"
	"mktorrent mktorrent"
	"libtorrent python3-libtorrent"
)

# The packages whose program is not there, one per line.
interop_missing() {
	local pair cmd pkg

	for pair in "${INTEROP_NEEDS[@]}"; do
		cmd=${pair% *}
		pkg=${pair#* }
		if [ "$cmd" = libtorrent ]; then
			[ -x "$INTEROP_PY" ] &&
				"$INTEROP_PY" -c 'import libtorrent' 2>/dev/null &&
				continue
		elif command -v "$cmd" >/dev/null 2>&1; then
			continue
		fi
		echo "$pkg"
	done
}

interop_need() {
	local missing why='' log

	missing=$(interop_missing | tr '\n' ' ')
	missing=${missing% }
	[ -n "$missing" ] || return 0
	if [ "$(id -u)" -ne 0 ]; then
		why="not root"
	elif ! command -v apt-get >/dev/null 2>&1; then
		why="no apt-get"
	else
		echo "interop: installing $missing"
		log=$(mktemp /tmp/interop-apt.XXXXXX)
		export DEBIAN_FRONTEND=noninteractive
		if apt-get update >"$log" 2>&1 &&
			apt-get install -y --no-install-recommends $missing \
			    >>"$log" 2>&1; then
			missing=$(interop_missing | tr '\n' ' ')
			missing=${missing% }
			why="installed, but still missing"
		else
			why="apt-get failed: $(grep -v '^ *$' "$log" | tail -n 1)"
		fi
		rm -f "$log"
		[ -n "$missing" ] || return 0
	fi
	echo "interop: cannot run without: $missing ($why; as root:" \
	    "apt-get install -y $missing)"
	return 1
}
