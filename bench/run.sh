#!/bin/bash
# make bench: the same load (W workers, N certificates, full ACME flow with http-01) against
# cobbled (SQLite, durable: WAL + synchronous=FULL) and Debian's pebble (in memory), side by side,
# then cobbled again on databases already holding 100 000 and 1 000 000 certificates.
# Numbers only: nothing here passes or fails on a timing.
#
# Environment: W (workers, default 32), N (certificates per run, default 2000),
#   SEEDS ("100000 1000000": stored-certificate sizes for the second table; "" skips it),
#   COBBLED_BENCH_ARGS (extra cobbled flags, e.g. "--config FILE"),
#   BUILD (build dir with cobbled and bench/, default build), SKIP_PEBBLE=1,
#   PERF=1 (`perf record --call-graph dwarf` of cobbled during its first run into $PERF_OUT,
#   default /tmp/cobble-bench-perf.data; read it with `perf report -i ... --no-children`).
set -u
BENCH_DIR=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$BENCH_DIR/.." && pwd)
BUILD=${BUILD:-build}
case "$BUILD" in /*) ;; *) BUILD=$ROOT/$BUILD ;; esac
W=${W:-32}
N=${N:-2000}
SEEDS=${SEEDS-100000 1000000}
COBBLED=$BUILD/cobbled
LOADGEN=$BUILD/bench/cobble-loadgen
SEEDER=$BUILD/bench/cobble-seed
# shellcheck source=../tests/interop/lib.sh
. "$ROOT/tests/interop/lib.sh"
TEST_NAME=bench
_VERDICT_GIVEN=1 # not a test: lib.sh's exit trap only cleans up
for b in "$COBBLED" "$LOADGEN" "$SEEDER"; do
	[ -x "$b" ] || { echo "bench: $b missing (ninja -C $BUILD)" >&2; exit 2; }
done

say() { printf 'bench: %s\n' "$*" >&2; }

# The crypto floor of one issuance from `openssl speed` on this machine: 8 JWS verifies (the
# requests of one issuance), 1 CSR signature verify and 1 certificate signature.
floor_ms() {
	openssl speed -seconds 1 ecdsap256 2>/dev/null | awk '/256 bits ecdsa \(nistp256\)/ {
		sign = $(NF-1); verify = $NF
		printf "%.3f %.0f %.0f\n", (9 / verify + 1 / sign) * 1000, sign, verify }'
}

# start_cobbled_at DATA LGPORT: cobbled on a fresh port over DATA, validation at LGPORT.
start_cobbled_at() {
	local data=$1 lg=$2
	ACME_PORT=$(pick_port)
	CA_BUNDLE=$data/root.pem
	DIRECTORY=https://127.0.0.1:$ACME_PORT/directory
	SERVER_LOG=$T/cobbled-$(basename "$data").log
	ACME_SERVER=cobbled
	"$COBBLED" --lab --data-dir "$data" --listen "127.0.0.1:$ACME_PORT" \
		--dns-resolver "127.0.0.1:$DNSPORT" --http01-port "$lg" ${COBBLED_BENCH_ARGS:-} >"$SERVER_LOG" 2>&1 &
	SERVER_PID=$!
	_wait_directory
}

stop_server() {
	[ -n "${PERF_PID:-}" ] && { kill -INT "$PERF_PID" 2>/dev/null; wait "$PERF_PID" 2>/dev/null; PERF_PID=""; }
	_stop_pid "$SERVER_PID"
	SERVER_PID=""
}

# loadgen LABEL PORT: runs the load against $DIRECTORY; leaves its RESULT line in $T/LABEL.res.
loadgen() {
	local label=$1 port=$2
	"$LOADGEN" --directory "$DIRECTORY" --ca-bundle "$CA_BUNDLE" --http-port "$port" --workers "$W" \
		--certs "$N" --server-pid "$SERVER_PID" --label "$label" >"$T/$label.out" 2>&1
	grep -v '^RESULT' "$T/$label.out" >&2
	grep '^RESULT' "$T/$label.out" >"$T/$label.res" || say "$label: load generator gave no result"
}

# field LABEL KEY: a value from a RESULT line.
field() {
	[ -s "$T/$1.res" ] || { echo "-"; return; }
	tr ' ' '\n' <"$T/$1.res" | sed -n "s/^$2=//p"
}

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a == "-" || b == "-" || b + 0 == 0) print "-"; else printf "%.2f", a / b }'; }
mib() { awk -v k="$1" 'BEGIN { if (k == "-" || k < 0) print "-"; else printf "%.1f", k / 1024 }'; }
dbsize() { local s=0 f; for f in "$1"/cobble.db "$1"/cobble.db-wal; do [ -f "$f" ] && s=$((s + $(stat -c %s "$f"))); done; echo $s; }

say "W=$W workers, N=$N certificates per run, binaries from $BUILD"
read -r FLOOR SIGNS VERIFIES <<<"$(floor_ms)"
say "crypto floor: ${FLOOR} ms per issuance (openssl speed: $SIGNS P-256 signs/s, $VERIFIES verifies/s)"
start_dns

# ---- 1. cobbled vs pebble on empty stores ----
LG=$(pick_port)
start_cobbled_at "$T/data-0" "$LG"
say "cobbled at $DIRECTORY (pid $SERVER_PID, data $T/data-0)"
if [ "${PERF:-0}" = 1 ]; then
	perf record --call-graph dwarf,16384 -F 499 -p "$SERVER_PID" -o "${PERF_OUT:-/tmp/cobble-bench-perf.data}" \
		>/dev/null 2>&1 &
	PERF_PID=$!
	sleep 0.5
fi
loadgen cobbled "$LG"
stop_server

if [ "${SKIP_PEBBLE:-0}" != 1 ]; then
	SERVER_LOG=$T/pebble.log
	start_pebble
	say "pebble at $DIRECTORY (pid $SERVER_PID)"
	loadgen pebble "$HTTPPORT"
	stop_server
	if grep -q stalled "$T/pebble.out" 2>/dev/null; then
		# Debian's pebble 2.4 deadlocks under this load (newOrder's FindValidAuthorization holds
		# the store lock and waits for an authorization the VA holds while it waits for the
		# store): measure it again with fewer workers, where it usually survives.
		PW=${PEBBLE_FALLBACK_W:-8}
		say "pebble stalled at W=$W; running it again with W=$PW"
		SERVER_LOG=$T/pebble2.log
		start_pebble
		W_SAVED=$W
		W=$PW
		loadgen pebble-w "$HTTPPORT"
		stop_server
		# ...and cobbled at the same W, so that column compares like with like.
		LG=$(pick_port)
		start_cobbled_at "$T/data-w" "$LG"
		loadgen cobbled-w "$LG"
		stop_server
		W=$W_SAVED
	fi
fi

# ---- 2. cobbled with certificates already stored ----
CRL_S="-"
CRL_INFO=""
BYTES_PER_CERT="-"
for S in $SEEDS; do
	D=$T/data-$S
	mkdir -p "$D"
	"$COBBLED" migrate --data-dir "$D" >/dev/null 2>&1 || { say "cobbled migrate failed for $D"; continue; }
	empty=$(dbsize "$D")
	t0=$(date +%s.%N)
	"$SEEDER" "$D" "$S" >"$T/seed-$S.out" 2>&1 || { cat "$T/seed-$S.out" >&2; continue; }
	t1=$(date +%s.%N)
	full=$(dbsize "$D")
	BYTES_PER_CERT=$(awk -v a="$full" -v b="$empty" -v n="$S" 'BEGIN { printf "%.0f", (a - b) / n }')
	say "seeded $S certificates in $(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", b - a }') s: $(tail -n 1 "$T/seed-$S.out"); database $((full / 1048576)) MiB, $BYTES_PER_CERT bytes per certificate"
	echo "$BYTES_PER_CERT" >"$T/bytes-$S"
	# The seeder leaves gigabytes of dirty pages; written back by the kernel during the run
	# they made every WAL sync of cobbled's first seconds take 20-120 ms (perf trace), which
	# measured the page cache, not the server. A CA's database is not freshly written.
	t0=$(date +%s.%N)
	sync
	say "sync after seeding: $(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }') s"
	LG=$(pick_port)
	start_cobbled_at "$D" "$LG"
	loadgen "stored-$S" "$LG"
	if [ "$S" = "${SEEDS##* }" ]; then
		# CRL generation: the first fetch of each shard builds and signs it (crl.c).
		total=0
		nrev=0
		for sh in 0 1 2 3; do
			t=$(curl -s --cacert "$CA_BUNDLE" -o "$T/shard$sh.crl" -w '%{time_total}' "https://127.0.0.1:$ACME_PORT/crl/$sh.crl")
			total=$(awk -v a="$total" -v b="$t" 'BEGIN { print a + b }')
			c=$(openssl crl -inform DER -in "$T/shard$sh.crl" -noout -text 2>/dev/null | grep -c 'Serial Number:')
			nrev=$((nrev + c))
		done
		CRL_S=$(awk -v a="$total" 'BEGIN { printf "%.2f", a }')
		CRL_INFO="$S certificates, $nrev revoked entries in 4 shards"
		say "CRLs: $CRL_INFO built and fetched in $CRL_S s"
	fi
	stop_server
done

# ---- tables ----
echo
echo "## cobbled vs pebble: W=$W workers, N=$N certificates, full ACME flow with http-01"
PWCOL=""
CWCOL=""
if [ -s "$T/pebble-w.res" ]; then
	PWCOL="pebble_W=${PEBBLE_FALLBACK_W:-8}"
	CWCOL="cobbled_W=${PEBBLE_FALLBACK_W:-8}"
fi
printf '%-34s %12s %12s %8s %14s %14s %8s\n' "" cobbled pebble ratio "$CWCOL" "$PWCOL" "${PWCOL:+ratio}"
row() { # row NAME KEY [transform]
	local a b c="" d="" r=""
	a=$(field cobbled "$2")
	b=$(field pebble "$2")
	if [ -n "$PWCOL" ]; then c=$(field cobbled-w "$2"); d=$(field pebble-w "$2"); fi
	if [ "${3:-}" = mib ]; then
		a=$(mib "$a"); b=$(mib "$b")
		[ -n "$PWCOL" ] && { c=$(mib "$c"); d=$(mib "$d"); }
	fi
	[ -n "$PWCOL" ] && r=$(ratio "$c" "$d")
	printf '%-34s %12s %12s %8s %14s %14s %8s\n' "$1" "$a" "$b" "$(ratio "$a" "$b")" "$c" "$d" "$r"
}
row "certificates/s" rate
row "p50 latency of an issuance (ms)" p50
row "p95 latency (ms)" p95
row "p99 latency (ms)" p99
row "server CPU per certificate (ms)" cpu_ms
row "server peak RSS (MiB)" hwm_kib mib
row "errors" errors
row "load generator CPU per cert (ms)" client_cpu_ms
grep -q 'stalled' "$T/pebble.out" 2>/dev/null &&
	echo "note: pebble stopped answering at W=$W ($(grep -o 'no progress[^)]*' "$T/pebble.out" | head -n 1)); its column covers the certificates issued before that${PWCOL:+; the last three columns rerun both servers with fewer workers, where pebble usually finishes}"
grep -q 'stalled' "$T/pebble-w.out" 2>/dev/null &&
	echo "note: pebble stopped answering at W=${PEBBLE_FALLBACK_W:-8} too ($(grep -o 'no progress[^)]*' "$T/pebble-w.out" | head -n 1)); its W=${PEBBLE_FALLBACK_W:-8} column covers the certificates issued before that"
echo "crypto floor: $FLOOR ms per certificate (9 ECDSA P-256 verifies + 1 sign; openssl speed: $SIGNS sign/s, $VERIFIES verify/s)"
echo "cobbled CPU per certificate / floor: $(ratio "$(field cobbled cpu_ms)" "$FLOOR")"
# What this flow itself signs and checks: newOrder, the authorization, the challenge, finalize
# and the download are JWS-signed, plus each status poll; the CSR's signature; the certificate.
if [ "$(field cobbled polls)" != "-" ]; then
	OWN=$(awk -v p="$(field cobbled polls)" -v s="$SIGNS" -v v="$VERIFIES" 'BEGIN {
		printf "%.2f %.3f", 5 + p, (5 + p + 1) / v * 1000 + 1 / s * 1000 }')
	echo "the issuance's own crypto at cobbled: ${OWN% *} JWS checks per certificate + the CSR's + 1 sign = ${OWN#* } ms; cobbled CPU per certificate / that: $(ratio "$(field cobbled cpu_ms)" "${OWN#* }")"
fi

if [ -n "$SEEDS" ]; then
	echo
	echo "## cobbled with certificates already stored (W=$W, N=$N)"
	printf '%-12s %12s %10s %10s %12s %12s %10s %14s\n' stored certs/s p50_ms p99_ms cpu_ms/cert peak_RSS_MiB errors 'rate vs empty'
	base=$(field cobbled rate)
	for S in 0 $SEEDS; do
		l=stored-$S
		[ "$S" = 0 ] && l=cobbled
		printf '%-12s %12s %10s %10s %12s %12s %10s %14s\n' "$S" "$(field "$l" rate)" "$(field "$l" p50)" \
			"$(field "$l" p99)" "$(field "$l" cpu_ms)" "$(mib "$(field "$l" hwm_kib)")" "$(field "$l" errors)" \
			"$(ratio "$(field "$l" rate)" "$base")"
	done
	for S in $SEEDS; do
		[ -s "$T/bytes-$S" ] && echo "database bytes per stored certificate ($S stored, all tables and indexes): $(cat "$T/bytes-$S")"
	done
	[ -n "$CRL_INFO" ] && echo "CRL generation ($CRL_INFO): $CRL_S s"
fi
