#!/bin/bash
# The agent side of make bench: wall time and peak RSS for a new user to obtain ONE certificate
# with http-01 against the same local server, side by side with Debian's certbot (standalone)
# and lego (--http), against pebble and against cobbled. Each run starts from an empty
# config directory, so it includes registering a fresh account; a second table renews that
# certificate with the account already there (forced renewal: new order, http-01, finalize).
# Each run is timed with /usr/bin/time -f '%e %M' (the whole client process: wall seconds and
# peak RSS). `cobble` registers with `cobble register` and then runs `cobble issue`: two
# processes, so its wall time is their sum and its peak RSS the larger of the two.
# Numbers only: nothing here passes or fails on a timing (a client that gets no certificate
# is reported, and makes the exit status 1).
#
# Environment: K (runs per client and server, default 5; the table shows medians),
#   BUILD (build dir with cobble and cobbled, default build), SERVERS (default "pebble cobbled"),
#   CLIENTS (default "cobble certbot lego"), SKIP_RENEW=1 (only the fresh-account table),
#   COBBLED_BENCH_ARGS (extra cobbled flags).
set -u
BENCH_DIR=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$BENCH_DIR/.." && pwd)
BUILD=${BUILD:-build}
case "$BUILD" in /*) ;; *) BUILD=$ROOT/$BUILD ;; esac
K=${K:-5}
SERVERS=${SERVERS:-pebble cobbled}
CLIENTS=${CLIENTS:-cobble certbot lego}
COBBLED=$BUILD/cobbled
COBBLE=$BUILD/cobble
COBBLED_ARGS=${COBBLED_BENCH_ARGS:-}
# shellcheck source=../tests/interop/lib.sh
. "$ROOT/tests/interop/lib.sh"
TEST_NAME=bench-agent
_VERDICT_GIVEN=1 # not a test: lib.sh's exit trap only cleans up
case "$K" in '' | *[!0-9]* | 0) echo "bench-agent: K must be a positive integer" >&2; exit 2 ;; esac
for c in $CLIENTS; do
	case $c in
	cobble) [ -x "$COBBLE" ] || { echo "bench-agent: $COBBLE missing (ninja -C $BUILD)" >&2; exit 2; } ;;
	certbot | lego) command -v "$c" >/dev/null || { echo "bench-agent: $c not installed (make test-deps)" >&2; exit 2; } ;;
	*) echo "bench-agent: unknown client $c" >&2; exit 2 ;;
	esac
done
for s in $SERVERS; do
	case $s in
	cobbled) [ -x "$COBBLED" ] || { echo "bench-agent: $COBBLED missing (ninja -C $BUILD)" >&2; exit 2; } ;;
	pebble) command -v pebble >/dev/null || { echo "bench-agent: pebble not installed" >&2; exit 2; } ;;
	*) echo "bench-agent: unknown server $s" >&2; exit 2 ;;
	esac
done
[ -x /usr/bin/time ] || { echo "bench-agent: /usr/bin/time missing (Debian package time)" >&2; exit 2; }

say() { printf 'bench-agent: %s\n' "$*" >&2; }
FAILS=0

# timed OUT LOG CMD...: run CMD (bounded to 120 s) with its output in LOG; append "wall_s rss_kib"
# to OUT. Non-zero when the client failed.
timed() {
	local out=$1 lf=$2 tf
	shift 2
	tf=$(mktemp "$T/time.XXXXXX")
	# timeout inside time: time's figures then cover timeout's child (the client), and a
	# client past its bound is killed rather than left behind
	/usr/bin/time -f '%e %M' -o "$tf" timeout 120 "$@" >"$lf" 2>&1
	local rc=$?
	[ $rc = 0 ] && tail -n 1 "$tf" >>"$out"
	rm -f "$tf"
	return $rc
}

# One client run. run_CLIENT DIR NAME PHASE (new|renew) RESULTFILE; the certificate must exist after.
run_cobble() {
	local d=$1 name=$2 phase=$3 res=$4 tmp=$T/cobble.pair
	local base=("$COBBLE" --server "$DIRECTORY" --ca-bundle "$CA_BUNDLE" --config-dir "$d")
	if [ "$phase" = new ]; then
		: >"$tmp"
		timed "$tmp" "$d.register.log" "${base[@]}" register --email bench@cobble.test --agree-tos || return 1
		timed "$tmp" "$d.issue.log" "${base[@]}" issue -d "$name" --http01-standalone --http01-port "$HTTPPORT" ||
			return 1
		# two processes: wall times add up, peak RSS is the larger one
		awk '{ w += $1; if ($2 > m) m = $2 } END { print w, m }' "$tmp" >>"$res"
	else
		timed "$res" "$d.renew.log" "${base[@]}" renew --name "$name" --force || return 1
	fi
	[ -s "$d/certs/$name/cert.pem" ]
}

run_certbot() {
	local d=$1 name=$2 phase=$3 res=$4
	local common=(--server "$DIRECTORY" --standalone --http-01-port "$HTTPPORT" --http-01-address 127.0.0.1
		--config-dir "$d/config" --work-dir "$d/work" --logs-dir "$d/logs" --non-interactive)
	if [ "$phase" = new ]; then
		REQUESTS_CA_BUNDLE=$CA_BUNDLE timed "$res" "$d.new.log" certbot certonly "${common[@]}" \
			--register-unsafely-without-email --agree-tos --cert-name "$name" -d "$name" || return 1
		[ -s "$d/config/live/$name/cert.pem" ]
	else
		REQUESTS_CA_BUNDLE=$CA_BUNDLE timed "$res" "$d.renew.log" certbot renew "${common[@]}" \
			--cert-name "$name" --force-renewal --no-random-sleep-on-renew || return 1
		[ -s "$d/config/archive/$name/cert2.pem" ]
	fi
}

run_lego() {
	local d=$1 name=$2 phase=$3 res=$4
	local common=(--server "$DIRECTORY" --accept-tos --email bench@cobble.test --path "$d"
		--http --http.port "127.0.0.1:$HTTPPORT" -d "$name")
	if [ "$phase" = new ]; then
		LEGO_CA_CERTIFICATES=$CA_BUNDLE timed "$res" "$d.new.log" lego "${common[@]}" run || return 1
	else
		# --days above any certificate lifetime: renew now (as --force does for the others)
		LEGO_CA_CERTIFICATES=$CA_BUNDLE timed "$res" "$d.renew.log" lego "${common[@]}" renew \
			--days 100000 --no-random-sleep || return 1
	fi
	[ -s "$d/certificates/$name.crt" ]
}

# median FILE COLUMN: median of one column of "wall rss" lines, or "-" when there are none.
median() {
	[ -s "$1" ] || { echo "-"; return; }
	awk -v c="$2" '{ print $c }' "$1" | sort -g | awk '{ v[NR] = $1 } END {
		if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

say "K=$K runs per client and server; clients: $CLIENTS; servers: $SERVERS; cobble/cobbled from $BUILD"
start_dns
for S in $SERVERS; do
	SERVER_LOG=$T/$S.log
	ACME_SERVER=$S
	start_server
	say "$S at $DIRECTORY (http-01 port $HTTPPORT)"
	for C in $CLIENTS; do
		: >"$T/res-new-$C-$S"
		: >"$T/res-renew-$C-$S"
		for i in $(seq 1 "$K"); do
			d=$T/run-$C-$S-$i
			name=agent-$C-$S-$i.cobble.test
			if ! "run_$C" "$d" "$name" new "$T/res-new-$C-$S"; then
				FAILS=$((FAILS + 1))
				say "$C against $S, run $i: no certificate (log: $d.*.log)"
				tail -n 5 "$d".*.log >&2 2>/dev/null
				continue
			fi
			[ "${SKIP_RENEW:-0}" = 1 ] && continue
			if ! "run_$C" "$d" "$name" renew "$T/res-renew-$C-$S"; then
				FAILS=$((FAILS + 1))
				say "$C against $S, run $i: renewal failed (log: $d.renew.log)"
				tail -n 5 "$d.renew.log" >&2 2>/dev/null
			fi
		done
		say "$C against $S: $(wc -l <"$T/res-new-$C-$S") of $K certificates; wall s, peak RSS KiB:" \
			"$(tr '\n' ';' <"$T/res-new-$C-$S")"
	done
	_stop_pid "$SERVER_PID"
	SERVER_PID=""
	mv "$T/data" "$T/data-$S" # start_cobbled and start_pebble both use $T/data
done

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a == "-" || b == "-" || b + 0 == 0) print "-"; else printf "%.2f", a / b }'; }
table() { # table PHASE TITLE
	echo
	echo "## $2"
	printf '%-8s %-8s %5s %8s %9s %11s %11s %11s %11s\n' client server runs wall_s RSS_MiB \
		'wall/certbot' 'wall/lego' 'RSS/certbot' 'RSS/lego'
	local s c f w m cw cm lw lm
	for s in $SERVERS; do
		cw=$(median "$T/res-$1-certbot-$s" 1)
		cm=$(median "$T/res-$1-certbot-$s" 2)
		lw=$(median "$T/res-$1-lego-$s" 1)
		lm=$(median "$T/res-$1-lego-$s" 2)
		for c in $CLIENTS; do
			f=$T/res-$1-$c-$s
			w=$(median "$f" 1)
			m=$(median "$f" 2)
			printf '%-8s %-8s %5s %8s %9s %11s %11s %11s %11s\n' "$c" "$s" "$(wc -l <"$f")/$K" \
				"$(awk -v w="$w" 'BEGIN { if (w == "-") print w; else printf "%.2f", w }')" \
				"$(awk -v k="$m" 'BEGIN { if (k == "-") print k; else printf "%.1f", k / 1024 }')" \
				"$(ratio "$w" "$cw")" "$(ratio "$w" "$lw")" "$(ratio "$m" "$cm")" "$(ratio "$m" "$lm")"
		done
	done
}
table new "one certificate for a new user (fresh account + order + http-01 + finalize + download), median of K=$K"
echo "cobble = \`cobble register\` + \`cobble issue\` (wall summed, peak RSS of the larger); certbot certonly --standalone; lego run --http"
if [ "${SKIP_RENEW:-0}" != 1 ]; then
	table renew "forced renewal of that certificate with the existing account, median of K=$K"
	echo "cobble renew --force; certbot renew --force-renewal --no-random-sleep-on-renew; lego renew --days 100000 --no-random-sleep"
fi
if [ "$FAILS" -gt 0 ]; then
	say "$FAILS client runs got no certificate (logs above)"
	exit 1
fi
exit 0
