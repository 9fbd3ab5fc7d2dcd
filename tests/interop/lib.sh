# Shared helpers for the interop tests: free ports, a Knot DNS server for the lab
# zone, the ACME server under test (cobbled, or pebble for dry runs), clean-up and verdicts.
#
# A test script does:   . "$(dirname "$0")/lib.sh"; start_dns; start_server; ...; pass
# Environment knobs:
#   ACME_SERVER=cobbled|pebble   server under test (default cobbled)
#   COBBLED=path                 cobbled binary (default build/cobbled; run-tests.sh passes the ASan one)
#   COBBLED_ARGS="..."           extra flags for cobbled
#   KEEP_TMP=1                   keep the temp dir (printed) after the test
#   SERVER_START_TIMEOUT=N       seconds to wait for /directory (default 60)
# After start_dns:    DNSPORT, DNS_SERVER=127.0.0.1:PORT, TSIG_NAME, TSIG_ALG, TSIG_SECRET,
#                     TSIG_KEY (knsupdate -y form), DNS_ZONE=test.; dns_update/dns_query helpers.
# After start_server: ACME_PORT, HTTPPORT, TLSALPNPORT, DIRECTORY (URL), DATA, CA_BUNDLE
#                     (trust for HTTPS and for the issued chains: $DATA/root.pem), SERVER_LOG.

set -u

INTEROP_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO_ROOT=$(cd "$INTEROP_DIR/../.." && pwd)
TEST_NAME=$(basename "$0" .sh)
ACME_SERVER=${ACME_SERVER:-cobbled}
COBBLED=${COBBLED:-$REPO_ROOT/build/cobbled}
COBBLED_ARGS=${COBBLED_ARGS:-}
SERVER_START_TIMEOUT=${SERVER_START_TIMEOUT:-60}
T=$(mktemp -d /tmp/cobble-interop.XXXXXX)
SERVER_LOG=$T/server.log
DNS_LOG=$T/knot.log
SERVER_PID=""
DNS_PID=""
HELPER_PIDS=""
_PORTS_TAKEN=""
_VERDICT_GIVEN=""

log() { printf '%s: %s\n' "$TEST_NAME" "$*" >&2; }

# Tail of the server log, for failure messages.
server_log_tail() {
	local n=${1:-40}
	if [ -s "$SERVER_LOG" ]; then
		echo "---- last $n lines of $ACME_SERVER log ($SERVER_LOG) ----" >&2
		tail -n "$n" "$SERVER_LOG" >&2
		echo "---- end of $ACME_SERVER log ----" >&2
	fi
}

# fail REASON [FILE]: print the reason (and the tail of FILE, e.g. a client log), the
# server log tail, and exit 1. Clean-up runs from the EXIT trap.
fail() {
	_VERDICT_GIVEN=1
	echo "FAIL: $TEST_NAME: $1" >&2
	if [ $# -ge 2 ] && [ -s "$2" ]; then
		echo "---- last 30 lines of $2 ----" >&2
		tail -n 30 "$2" >&2
		echo "---- end of $2 ----" >&2
	fi
	server_log_tail 40
	exit 1
}

pass() {
	_VERDICT_GIVEN=1
	_stop_all
	if ! _sanitizer_check; then
		echo "FAIL: $TEST_NAME: sanitizer report in the $ACME_SERVER log (above)" >&2
		exit 1
	fi
	if [ -n "${_SHUTDOWN_PROBLEM:-}" ]; then
		echo "FAIL: $TEST_NAME: $_SHUTDOWN_PROBLEM" >&2
		server_log_tail 20
		exit 1
	fi
	echo "PASS: $TEST_NAME${1:+: $1}"
	exit 0
}

# pick_port: print a loopback port free for both TCP and UDP, not handed out before
# in this test. (Racy by nature; the ephemeral range makes collisions rare.)
pick_port() {
	local p
	p=$(python3 - $_PORTS_TAKEN <<'EOF'
import socket, sys
taken = {int(x) for x in sys.argv[1:]}
for _ in range(200):
    t = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    t.bind(("127.0.0.1", 0))
    p = t.getsockname()[1]
    try:
        u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        u.bind(("127.0.0.1", p))
        u.close()
    except OSError:
        t.close()
        continue
    t.close()
    if p not in taken:
        print(p)
        break
EOF
)
	[ -n "$p" ] || fail "could not find a free loopback port"
	_PORTS_TAKEN="$_PORTS_TAKEN $p"
	echo "$p"
}

# ---------------------------------------------------------------------------------------
# DNS: Knot serving the lab zone `test.` (*.cobble.test -> 127.0.0.1) on 127.0.0.1@DNSPORT,
# RFC 2136 updates from 127.0.0.1 signed with the TSIG key in $TSIG_KEY.
# KNOT_ALLOW_UNSIGNED=1 also accepts unsigned updates from 127.0.0.1.
start_dns() {
	command -v knotd >/dev/null || fail "knotd not installed (Debian package knot)"
	DNSPORT=$(pick_port)
	DNS_SERVER=127.0.0.1:$DNSPORT
	DNS_ZONE=test.
	TSIG_NAME=cobble-test
	TSIG_ALG=hmac-sha256
	TSIG_SECRET=$(openssl rand -base64 32)
	TSIG_KEY=$TSIG_ALG:$TSIG_NAME:$TSIG_SECRET
	local k=$T/knot acl="update_tsig"
	mkdir -p "$k/run" "$k/db" "$k/zones"
	cp "$INTEROP_DIR/zone/test.zone" "$k/zones/test.zone"
	[ "${KNOT_ALLOW_UNSIGNED:-0}" = 1 ] && acl="update_tsig, update_unsigned"
	cat >"$k/knot.conf" <<EOF
server:
    rundir: "$k/run"
    pidfile: "$k/run/knot.pid"
    listen: 127.0.0.1@$DNSPORT
    udp-workers: 1
    tcp-workers: 1
    background-workers: 1
control:
    listen: "$k/run/knot.sock"
database:
    storage: "$k/db"
key:
  - id: $TSIG_NAME
    algorithm: $TSIG_ALG
    secret: $TSIG_SECRET
acl:
  - id: update_tsig
    address: 127.0.0.1
    key: $TSIG_NAME
    action: update
  - id: update_unsigned
    address: 127.0.0.1
    action: update
template:
  - id: default
    storage: "$k/zones"
    file: "%s.zone"
    zonefile-sync: -1
    zonefile-load: whole
    journal-content: changes
zone:
  - domain: test.
    acl: [ $acl ]
log:
  - target: stderr
    any: info
EOF
	knotd -c "$k/knot.conf" >"$DNS_LOG" 2>&1 &
	DNS_PID=$!
	local i ans
	for i in $(seq 1 50); do
		ans=$(kdig +short +time=1 +retry=0 @127.0.0.1 -p "$DNSPORT" probe.cobble.test A 2>/dev/null)
		[ "$ans" = 127.0.0.1 ] && break
		kill -0 "$DNS_PID" 2>/dev/null || fail "knotd exited at start-up" "$DNS_LOG"
		sleep 0.2
	done
	[ "$ans" = 127.0.0.1 ] || fail "knotd on $DNS_SERVER did not answer probe.cobble.test A" "$DNS_LOG"
	log "knot DNS on $DNS_SERVER (zone test., *.cobble.test A 127.0.0.1)"
}

# dns_update "update add x.cobble.test. 60 TXT \"v\"" ...: one RFC 2136 UPDATE, TSIG-signed.
dns_update() {
	{
		echo "server 127.0.0.1 $DNSPORT"
		echo "zone $DNS_ZONE"
		for l in "$@"; do echo "$l"; done
		echo "send"
	} | knsupdate -y "$TSIG_KEY"
}

# dns_query NAME TYPE: short answer from the lab server.
dns_query() { kdig +short @127.0.0.1 -p "$DNSPORT" "$1" "$2"; }

# ---------------------------------------------------------------------------------------
# The ACME server under test.
start_server() {
	case "$ACME_SERVER" in
	cobbled) start_cobbled ;;
	pebble) start_pebble ;;
	*) fail "unknown ACME_SERVER=$ACME_SERVER (cobbled or pebble)" ;;
	esac
}

_wait_directory() {
	local i deadline=$((SECONDS + SERVER_START_TIMEOUT))
	while [ $SECONDS -lt $deadline ]; do
		if [ -s "$CA_BUNDLE" ] &&
			curl -sf --max-time 5 --cacert "$CA_BUNDLE" "$DIRECTORY" -o "$T/directory.json" 2>/dev/null; then
			return 0
		fi
		kill -0 "$SERVER_PID" 2>/dev/null || {
			wait "$SERVER_PID" 2>/dev/null
			fail "$ACME_SERVER exited during start-up (status $?)"
		}
		sleep 0.2
	done
	fail "$ACME_SERVER did not answer $DIRECTORY within ${SERVER_START_TIMEOUT}s"
}

# start_cobbled: build/cobbled --lab on a fresh data dir, validation pointed at knot and
# at $HTTPPORT; waits (bounded) until /directory answers over HTTPS trusting root.pem.
start_cobbled() {
	[ -x "$COBBLED" ] || fail "cobbled binary not found at $COBBLED (build first: ninja -C build)"
	[ -n "${DNSPORT:-}" ] || fail "start_dns must run before start_cobbled"
	ACME_PORT=$(pick_port)
	HTTPPORT=$(pick_port)
	TLSALPNPORT=$(pick_port)
	DATA=$T/data
	CA_BUNDLE=$DATA/root.pem
	DIRECTORY=https://127.0.0.1:$ACME_PORT/directory
	# shellcheck disable=SC2086
	"$COBBLED" --lab --data-dir "$DATA" --listen "127.0.0.1:$ACME_PORT" \
		--dns-resolver "127.0.0.1:$DNSPORT" --http01-port "$HTTPPORT" $COBBLED_ARGS \
		>"$SERVER_LOG" 2>&1 &
	SERVER_PID=$!
	_wait_directory
	log "cobbled ($COBBLED) at $DIRECTORY, http-01 port $HTTPPORT"
}

# start_pebble: Debian's pebble as a stand-in (dry runs, and the agent's interop tests).
# Pebble ships no test certificate in Debian, so we make a throwaway root and a
# 127.0.0.1/localhost listener certificate. $DATA/root.pem gets that root plus pebble's
# issuing root (from the management API), so one CA_BUNDLE serves both uses as with cobbled.
start_pebble() {
	command -v pebble >/dev/null || fail "pebble not installed"
	[ -n "${DNSPORT:-}" ] || fail "start_dns must run before start_pebble"
	ACME_PORT=$(pick_port)
	HTTPPORT=$(pick_port)
	TLSALPNPORT=$(pick_port)
	local mgmt p=$T/pebble
	mgmt=$(pick_port)
	PEBBLE_MGMT=https://127.0.0.1:$mgmt
	DATA=$T/data
	CA_BUNDLE=$DATA/root.pem
	DIRECTORY=https://127.0.0.1:$ACME_PORT/dir
	mkdir -p "$p" "$DATA"
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
		-subj "/CN=pebble test TLS root" -keyout "$p/tls-root.key" -out "$p/tls-root.pem" 2>/dev/null ||
		fail "openssl could not make the pebble TLS root"
	openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=localhost" \
		-keyout "$p/tls.key" -out "$p/tls.csr" 2>/dev/null
	printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n' >"$p/ext"
	openssl x509 -req -in "$p/tls.csr" -CA "$p/tls-root.pem" -CAkey "$p/tls-root.key" -CAcreateserial \
		-days 2 -extfile "$p/ext" -out "$p/tls.pem" 2>/dev/null || fail "openssl could not sign the pebble TLS cert"
	cat >"$p/pebble.json" <<EOF
{"pebble": {"listenAddress": "127.0.0.1:$ACME_PORT", "managementListenAddress": "127.0.0.1:$mgmt",
 "certificate": "$p/tls.pem", "privateKey": "$p/tls.key", "httpPort": $HTTPPORT, "tlsPort": $TLSALPNPORT,
 "ocspResponderURL": "", "externalAccountBindingRequired": false}}
EOF
	cp "$p/tls-root.pem" "$CA_BUNDLE"
	PEBBLE_VA_NOSLEEP=1 PEBBLE_WFE_NONCEREJECT=0 PEBBLE_AUTHZREUSE=0 \
		pebble -config "$p/pebble.json" -dnsserver "127.0.0.1:$DNSPORT" >"$SERVER_LOG" 2>&1 &
	SERVER_PID=$!
	_wait_directory
	curl -sf --cacert "$p/tls-root.pem" "$PEBBLE_MGMT/roots/0" >"$p/issuer-root.pem" ||
		fail "could not fetch pebble's issuing root from $PEBBLE_MGMT/roots/0"
	cat "$p/tls-root.pem" "$p/issuer-root.pem" >"$CA_BUNDLE"
	log "pebble at $DIRECTORY, http-01 port $HTTPPORT"
}

# ---------------------------------------------------------------------------------------
# check_cert LABEL CERT CHAIN NAME...: the chain verifies to $CA_BUNDLE for TLS servers,
# and the certificate's DNS SANs are exactly NAME... (order ignored).
check_cert() {
	local label=$1 cert=$2 chain=$3 out want got
	shift 3
	[ -s "$cert" ] || fail "$label: no certificate at $cert"
	[ -s "$chain" ] || fail "$label: no chain at $chain"
	out=$(openssl verify -purpose sslserver -CAfile "$CA_BUNDLE" -untrusted "$chain" "$cert" 2>&1) ||
		fail "$label: openssl verify failed: $out"
	want=$(printf '%s\n' "$@" | sort -u | tr '\n' ' ')
	got=$(openssl x509 -noout -ext subjectAltName -in "$cert" 2>/dev/null | tail -n +2 | tr ',' '\n' |
		sed -n 's/^ *DNS://p' | sort -u | tr '\n' ' ')
	[ "$want" = "$got" ] || fail "$label: SANs are [${got% }], requested [${want% }]"
	log "$label: chain verifies to root.pem; SANs [${got% }]"
}

# run_logged LOGFILE CMD...: run a client with its output in LOGFILE.
run_logged() {
	local lf=$1
	shift
	"$@" >"$lf" 2>&1
}

# ---------------------------------------------------------------------------------------
_SANITIZER_RE='ERROR: AddressSanitizer|ERROR: LeakSanitizer|runtime error:|WARNING: ThreadSanitizer'

_sanitizer_check() {
	[ -s "$SERVER_LOG" ] || return 0
	if grep -Eq "$_SANITIZER_RE" "$SERVER_LOG"; then
		echo "---- sanitizer report from $ACME_SERVER ----" >&2
		grep -En -A25 "$_SANITIZER_RE" "$SERVER_LOG" | head -n 120 >&2
		echo "---- end of sanitizer report ----" >&2
		return 1
	fi
	return 0
}

_stop_pid() { # _stop_pid PID NAME: SIGTERM, wait up to 10 s, then SIGKILL; 1 if it needed KILL
	local pid=$1 i
	[ -n "$pid" ] || return 0
	kill -0 "$pid" 2>/dev/null || return 0
	kill -TERM "$pid" 2>/dev/null
	for i in $(seq 1 100); do
		kill -0 "$pid" 2>/dev/null || { wait "$pid" 2>/dev/null; return 0; }
		sleep 0.1
	done
	kill -KILL "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
	return 1
}

_stopped=""
_stop_all() {
	[ -n "$_stopped" ] && return 0
	_stopped=1
	local p
	for p in $HELPER_PIDS; do _stop_pid "$p"; done
	if [ -n "$SERVER_PID" ]; then
		_stop_pid "$SERVER_PID" || _SHUTDOWN_PROBLEM="$ACME_SERVER did not exit within 10 s of SIGTERM (killed)"
	fi
	_stop_pid "$DNS_PID"
}

_on_exit() {
	local rc=$?
	_stop_all
	if [ -z "$_VERDICT_GIVEN" ]; then
		# Exited without pass/fail: set -e, a signal (timeout), or a bug in the test.
		[ "$rc" = 0 ] && rc=1
		echo "FAIL: $TEST_NAME: exited (status $rc) without a verdict" >&2
		server_log_tail 30
	fi
	[ "$rc" != 0 ] && _sanitizer_check
	if [ "${KEEP_TMP:-0}" = 1 ]; then
		echo "$TEST_NAME: temp dir kept: $T" >&2
	else
		rm -rf "$T"
	fi
	exit "$rc"
}
trap _on_exit EXIT
trap 'echo "$TEST_NAME: interrupted" >&2; exit 124' INT TERM HUP
