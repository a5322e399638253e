#!/bin/bash
# run.sh: run every libFuzzer target built by `make fuzz` for a bounded time
# and fail on any finding (crash, sanitizer report, leak, timeout, OOM).
#
#   FUZZ_SECONDS   seconds per target (default 60)
#   FUZZ_TARGETS   space-separated subset, e.g. "bencode metainfo"
#   FUZZ_JOBS      targets run at once (default 1)
#
# Each target starts from its committed seeds (fuzz/corpus/NAME, read-only)
# plus a working corpus kept in build/fuzz/corpus/NAME between runs.  A
# finding is saved as build/fuzz/artifacts/NAME-crash-... ; turn it into a
# regression test: copy it to tests/regress/NAME-WHAT and add it to
# tests/test_regress.c (see fuzz/README.md).
set -u

root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root" || exit 1
secs=${FUZZ_SECONDS:-60}
jobs=${FUZZ_JOBS:-1}
out=build/fuzz
targets=${FUZZ_TARGETS:-$(for f in fuzz/fuzz_*.c; do
	f=${f#fuzz/fuzz_}; echo "${f%.c}"; done)}

# run_one NAME: fuzz one target; its log goes to build/fuzz/NAME.log.
run_one() {
	local t=$1 bin=$out/fuzz_$1 dict=() rc
	if [ ! -x "$bin" ]; then
		echo "run.sh: $bin is missing; run make fuzz first" >&2
		return 1
	fi
	mkdir -p "$out/corpus/$t" "$out/artifacts"
	[ -f "fuzz/$t.dict" ] && dict=(-dict="fuzz/$t.dict")
	"$bin" "${dict[@]}" -max_total_time="$secs" -timeout=10 \
	    -rss_limit_mb=2048 -max_len="${MAXLEN[$t]:-4096}" \
	    -print_final_stats=1 -artifact_prefix="$out/artifacts/$t-" \
	    "$out/corpus/$t" "fuzz/corpus/$t" >"$out/$t.log" 2>&1
	rc=$?
	summary "$t" "$rc"
	return $rc
}

# One line per target: executions, speed, coverage, corpus, verdict.
summary() {
	local t=$1 rc=$2 runs speed cov
	runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$out/$t.log")
	speed=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$out/$t.log")
	cov=$(grep -o 'cov: [0-9]*' "$out/$t.log" | tail -1)
	if [ "$rc" -eq 0 ]; then
		printf '%-10s ok      %10s runs %7s/s  %s\n' "$t" "${runs:-?}" \
		    "${speed:-?}" "${cov:-cov: ?}"
	else
		printf '%-10s FINDING (exit %d), see %s\n' "$t" "$rc" \
		    "$out/$t.log"
		grep -m3 -E 'ERROR: |runtime error|Test unit written' \
		    "$out/$t.log" | sed 's/^/    /'
	fi
}

declare -A MAXLEN=([bencode]=65536 [metainfo]=16384 [http]=16384
	[peerwire]=16384)

fail=0
pids=()
for t in $targets; do
	if [ "$jobs" -gt 1 ]; then
		run_one "$t" &
		pids+=($!)
		if [ ${#pids[@]} -ge "$jobs" ]; then
			wait "${pids[0]}" || fail=1
			pids=("${pids[@]:1}")
		fi
	else
		run_one "$t" || fail=1
	fi
done
for p in "${pids[@]}"; do
	wait "$p" || fail=1
done
if [ $fail -ne 0 ]; then
	echo "run.sh: fuzzing found problems" >&2
	exit 1
fi
echo "run.sh: every target ran ${secs}s without a finding"
