#!/bin/bash
# Runs every test `make test` promises: release build + cmocka unit tests, the same under
# ASan+UBSan (clang), and the interop scripts against the release and the ASan cobbled.
# Closing line: "N passed, M failed" (cmocka cases counted one by one; each interop script
# counts as one). Exit status is non-zero when anything failed.
#
# Knobs (environment):
#   INTEROP_ASAN=all|badinput|none  interop scripts run against build-asan's binaries
#                                   (default all; test_badinput always runs unless none)
#   TIME_BUDGET=SECONDS             past this, the ASan interop pass shrinks to badinput
#                                   (default 3600; CI allows 90 minutes)
#   INTEROP_TIMEOUT=SECONDS         per interop script (default 300)
#   ACME_SERVER=pebble              dry-run the interop scripts against pebble
#   SKIP_ASAN=1                     skip the sanitizer build entirely (local quick runs)
#   SKIP_FUZZ=1                     skip building and smoke-running the libFuzzer targets
#   FUZZ_RUNS=N                     inputs per fuzz target in the smoke run (default 20000)
set -u
cd "$(dirname "$0")/.." || exit 2
ROOT=$PWD
BUILD=${BUILD:-build}
ASAN_BUILD=${ASAN_BUILD:-build-asan}
INTEROP_ASAN=${INTEROP_ASAN:-all}
TIME_BUDGET=${TIME_BUDGET:-3600}
INTEROP_TIMEOUT=${INTEROP_TIMEOUT:-300}
OUT=$ROOT/tests/out
mkdir -p "$OUT"
START=$SECONDS
PASSED=0
FAILED=0
FAILURES=()

say() { printf '== %s\n' "$*"; }
record() { # record NAME passed-count failed-count
	PASSED=$((PASSED + $2))
	FAILED=$((FAILED + $3))
	if [ "$3" -gt 0 ]; then
		FAILURES+=("$1 ($3 failed)")
		printf '   FAIL %s\n' "$1"
	else
		printf '   ok   %s\n' "$1"
	fi
}
finish() {
	echo
	if [ ${#FAILURES[@]} -gt 0 ]; then
		echo "failures:"
		printf '  %s\n' "${FAILURES[@]}"
	fi
	echo "logs: $OUT  (took $(((SECONDS - START) / 60))m$(((SECONDS - START) % 60))s)"
	echo "$PASSED passed, $FAILED failed"
	[ "$FAILED" -eq 0 ]
	exit $?
}

# build DIR LABEL SETUP-COMMAND...: configure if needed, then ninja. Counts as a test.
build() {
	local dir=$1 label=$2
	shift 2
	say "build $label ($dir)"
	if [ ! -f "$dir/build.ninja" ]; then
		if ! "$@" >"$OUT/setup-$label.log" 2>&1; then
			tail -n 40 "$OUT/setup-$label.log"
			record "build/$label (meson setup)" 0 1
			return 1
		fi
	fi
	if ! ninja -C "$dir" >"$OUT/build-$label.log" 2>&1; then
		grep -E 'error|FAILED|undefined reference' "$OUT/build-$label.log" | head -n 40
		record "build/$label" 0 1
		return 1
	fi
	record "build/$label" 1 0
}

# unit DIR LABEL: meson test, then per-case counts from cmocka's summaries in testlog.json.
unit() {
	local dir=$1 label=$2 counts p f line
	say "unit tests $label"
	rm -f "$dir/meson-logs/testlog.json"
	meson test -C "$dir" --print-errorlogs >"$OUT/unit-$label.log" 2>&1
	grep -E '^ *[0-9]+/[0-9]+ ' "$OUT/unit-$label.log" | awk '!seen[$0]++' | sed 's/^/   /'
	if [ ! -f "$dir/meson-logs/testlog.json" ]; then
		if grep -q 'No tests defined' "$OUT/unit-$label.log"; then
			echo "   (no unit tests defined)"
			return 0
		fi
		tail -n 30 "$OUT/unit-$label.log"
		record "unit/$label (meson test did not run)" 0 1
		return 1
	fi
	# One line per program: "name passed failed"
	counts=$(python3 - "$dir/meson-logs/testlog.json" <<'EOF'
import json, re, sys
for line in open(sys.argv[1]):
    line = line.strip()
    if not line:
        continue
    t = json.loads(line)
    out = (t.get("stdout") or "") + "\n" + (t.get("stderr") or "")
    n = sum(int(x) for x in re.findall(r"\[==========\] Running (\d+) test", out))
    p = sum(int(x) for x in re.findall(r"\[  PASSED  \] (\d+) test", out))
    f = sum(int(x) for x in re.findall(r"\[  FAILED  \] (\d+) test", out))
    ok = t.get("result") in ("OK", "EXPECTEDFAIL")
    if t.get("result") == "SKIP":
        continue
    f += max(0, n - p - f)  # cases that never reported: the program crashed or timed out
    sanitizer = re.search(r"ERROR: (Address|Leak)Sanitizer|runtime error:", out)
    if (not ok or sanitizer) and f == 0:
        f = 1  # non-zero exit or a sanitizer report (e.g. leaks at exit) after all cases passed
    if ok and p + f == 0:
        p = 1  # not a cmocka program: one test
    print(t["name"].replace(" ", "_"), p, f, t.get("result"))
EOF
)
	while read -r line; do
		[ -n "$line" ] || continue
		set -- $line
		record "unit/$label/$1 ($2 cases passed, $3 failed, meson: $4)" "$2" "$3"
	done <<<"$counts"
	if grep -q 'FAIL\|TIMEOUT' <<<"$counts"; then
		echo "   ---- failing unit test output ($OUT/unit-$label.log) ----"
		sed -n '/^>>> /,/^Summary of Failures/p' "$OUT/unit-$label.log" | head -n 100 | sed 's/^/   /'
	fi
}

# interop LABEL BUILD-DIR SCRIPTS...: each script one test, with a timeout, using that
# build's binaries (COBBLED for the CA tests, COBBLE for the agent's tests).
interop() {
	local label=$1 dir=$2 t name rc
	shift 2
	case "$dir" in /*) ;; *) dir=$ROOT/$dir ;; esac
	if [ "${ACME_SERVER:-cobbled}" = cobbled ]; then say "interop $label ($dir/cobbled, $dir/cobble)"; else say "interop $label (server: $ACME_SERVER)"; fi
	for t in "$@"; do
		name=$(basename "$t" .sh)
		COBBLED=$dir/cobbled COBBLE=$dir/cobble timeout -k 10 "$INTEROP_TIMEOUT" bash "$t" >"$OUT/interop-$label-$name.log" 2>&1
		rc=$?
		if [ $rc -eq 0 ]; then
			record "interop/$label/$name" 1 0
		else
			[ $rc -eq 124 ] && echo "   $name: timed out after ${INTEROP_TIMEOUT}s"
			# The script's own verdict and reason, then what the server said.
			grep -E '^(FAIL|NOT OK)' "$OUT/interop-$label-$name.log" | head -n 20 | sed 's/^/   /'
			tail -n 25 "$OUT/interop-$label-$name.log" | sed 's/^/   | /'
			record "interop/$label/$name" 0 1
		fi
	done
}

# LeakSanitizer needs ptrace-like access to stop threads; some sandboxes forbid it.
lsan_works() {
	local d
	d=$(mktemp -d /tmp/cobble-lsan.XXXXXX)
	printf '#include <stdlib.h>\nint main(void){void *volatile p = malloc(77); p = 0; return p != 0;}\n' >"$d/l.c"
	clang -fsanitize=address -g "$d/l.c" -o "$d/l" 2>/dev/null &&
		ASAN_OPTIONS=detect_leaks=1 "$d/l" 2>&1 | grep -q 'detected memory leaks'
	local rc=$?
	rm -rf "$d"
	return $rc
}

INTEROP_TESTS=(tests/interop/test_*.sh)

# 1-2. release build and unit tests
# Not --buildtype=release: meson 1.0 lets it override -Doptimization=2 (gives -O3).
if ! build "$BUILD" release meson setup "$BUILD" -Doptimization=2 -Ddebug=false; then
	echo "release build failed; nothing else can run"
	finish
fi
# A throw-away PostgreSQL for the storage conformance suite's second run (test_store_pg,
# issue 6); stopped when this script exits. tests/interop/test_scaleout.sh starts its own.
# shellcheck source=tests/interop/pg_lib.sh
. tests/interop/pg_lib.sh
trap pg_stop EXIT
say "PostgreSQL for the storage conformance suite"
if pg_start cobble_unit >"$OUT/postgres-unit.log" 2>&1; then
	export COBBLE_TEST_PG=$PG_URL
	record "postgres/start ($PG_URL)" 1 0
else
	tail -n 20 "$OUT/postgres-unit.log"
	record "postgres/start (test_store_pg skipped)" 0 1
fi

unit "$BUILD" release

# 3. sanitizer build and unit tests
ASAN_OK=""
if [ "${SKIP_ASAN:-0}" != 1 ]; then
	if lsan_works; then
		LEAKS=1
	else
		LEAKS=0
		echo "note: LeakSanitizer does not work in this environment (ptrace restricted?); running with detect_leaks=0"
	fi
	export ASAN_OPTIONS="detect_leaks=$LEAKS:abort_on_error=0:strict_string_checks=1:detect_stack_use_after_return=1"
	export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
	if build "$ASAN_BUILD" asan env CC=clang meson setup "$ASAN_BUILD" --buildtype=debug \
		-Db_sanitize=address,undefined -Db_lundef=false; then
		ASAN_OK=1
		unit "$ASAN_BUILD" asan
	fi
fi

# 4. interop against the release build
[ ${#INTEROP_TESTS[@]} -gt 0 ] && [ -e "${INTEROP_TESTS[0]}" ] && interop release "$BUILD" "${INTEROP_TESTS[@]}"

# 5. interop against the ASan build: cobbled and cobble both sanitized. The server keeps
# running after a UBSan report so the test can finish; lib.sh fails the test when the
# server log holds any sanitizer report.
if [ -n "$ASAN_OK" ] && [ "$INTEROP_ASAN" != none ] && [ "${ACME_SERVER:-cobbled}" = cobbled ]; then
	export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=0"
	ASAN_SET=()
	for t in "${INTEROP_TESTS[@]}"; do
		if [ "$INTEROP_ASAN" = all ] && [ $((SECONDS - START)) -lt "$TIME_BUDGET" ]; then
			ASAN_SET+=("$t")
		elif [ "$(basename "$t")" = test_badinput.sh ]; then
			ASAN_SET+=("$t")
		fi
	done
	[ ${#ASAN_SET[@]} -lt ${#INTEROP_TESTS[@]} ] &&
		echo "note: ASan interop limited to ${ASAN_SET[*]} (INTEROP_ASAN=$INTEROP_ASAN, time used $((SECONDS - START))s of $TIME_BUDGET)"
	export SERVER_START_TIMEOUT=120
	[ ${#ASAN_SET[@]} -gt 0 ] && interop asan "$ASAN_BUILD" "${ASAN_SET[@]}"
fi

# 6. libFuzzer targets (tests/fuzz): built with ASan+UBSan and coverage, each run over its
# seed corpus (tests/fuzz/corpus/NAME, if any) plus a bounded number of generated inputs, so
# a parser regression that crashes shows here. Long fuzzing is `make fuzz` + the binaries.
if [ "${SKIP_FUZZ:-0}" != 1 ] && build build-fuzz fuzz env CC=clang meson setup build-fuzz -Dfuzz=true \
	-Db_sanitize=address,undefined -Db_lundef=false; then
	say "fuzz smoke (${FUZZ_RUNS:-20000} inputs per target)"
	for f in build-fuzz/tests/fuzz/fuzz_*; do
		[ -f "$f" ] && [ -x "$f" ] || continue
		name=$(basename "$f")
		work=$(mktemp -d /tmp/cobble-fuzz.XXXXXX)
		seeds=tests/fuzz/corpus/${name#fuzz_}
		[ -d "$seeds" ] && cp "$seeds"/* "$work"/ 2>/dev/null
		if ASAN_OPTIONS="detect_leaks=${LEAKS:-0}" timeout -k 10 300 "$f" -runs="${FUZZ_RUNS:-20000}" \
			-max_len=4096 -seed=1 "$work" >"$OUT/fuzz-$name.log" 2>&1; then
			record "fuzz/$name" 1 0
		else
			grep -E 'ERROR|SUMMARY|runtime error' "$OUT/fuzz-$name.log" | head -n 10 | sed 's/^/   /'
			record "fuzz/$name" 0 1
		fi
		rm -rf "$work"
	done
fi

finish
