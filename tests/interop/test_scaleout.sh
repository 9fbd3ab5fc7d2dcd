#!/bin/bash
# Scale-out (issue 6): a throw-away PostgreSQL, `cobbled migrate`, two cobbled instances on
# different ports sharing the database and a copy of one data dir (CA keys, nonce.key),
# HAProxy in front balancing every request to the next instance (so nonces, orders and
# challenges cross instances), certbot and lego through the balancer; then a database
# restart: a request in flight gets 503 + Retry-After, and issuance works again after it.
. "$(dirname "$0")/lib.sh"
# shellcheck source=tests/interop/pg_lib.sh
. "$(dirname "$0")/pg_lib.sh"
trap '_rc=$?; _stop_all; pg_stop; (exit $_rc); _on_exit' EXIT
command -v certbot >/dev/null || fail "certbot not installed"
command -v lego >/dev/null || fail "lego not installed"
command -v haproxy >/dev/null || fail "haproxy not installed (Debian package haproxy)"
[ "$ACME_SERVER" = cobbled ] || { echo "PASS: $TEST_NAME: skipped for ACME_SERVER=$ACME_SERVER"; _VERDICT_GIVEN=1; exit 0; }

start_dns
pg_start cobble_scale >"$T/pg-start.log" 2>&1 || fail "could not start PostgreSQL" "$T/pg-start.log"
log "PostgreSQL at $PG_URL ($PG_DIR)"

LBPORT=$(pick_port)
BASE=https://127.0.0.1:$LBPORT
DATA=$T/data
mkdir -p "$DATA"
printf '{"baseURL": "%s"}\n' "$BASE" >"$T/cobbled.json"

# Out-of-date schema: the server refuses to start and names the fix.
"$COBBLED" --config "$T/cobbled.json" --data-dir "$DATA" --database "$PG_URL" \
	--listen 127.0.0.1:1 >"$T/refused.log" 2>&1 && fail "cobbled started on an unmigrated database"
grep -q "cobbled migrate" "$T/refused.log" || fail "no clear message on an unmigrated database" "$T/refused.log"
COBBLE_DATABASE=$PG_URL "$COBBLED" migrate --data-dir "$DATA" >"$T/migrate.log" 2>&1 ||
	fail "cobbled migrate failed" "$T/migrate.log"
"$COBBLED" migrate --data-dir "$DATA" --database "$PG_URL" >>"$T/migrate.log" 2>&1 ||
	fail "a second cobbled migrate failed" "$T/migrate.log"
log "schema migrated (twice: idempotent)"

# Instance A creates the CA in DATA; instance B gets a copy of it (keys and nonce.key).
HTTPPORT=$(pick_port)
PORT_A=$(pick_port)
PORT_B=$(pick_port)
start_instance() { # start_instance NAME PORT DATADIR
	"$COBBLED" --config "$T/cobbled.json" --lab --data-dir "$3" --database "$PG_URL" \
		--listen "127.0.0.1:$2" --dns-resolver "127.0.0.1:$DNSPORT" --http01-port "$HTTPPORT" \
		>"$T/cobbled-$1.log" 2>&1 &
	echo $!
}
wait_up() { # wait_up PORT PID LOG
	local i
	for i in $(seq 1 $((SERVER_START_TIMEOUT * 5))); do
		curl -sf --max-time 5 --cacert "$DATA/root.pem" "https://127.0.0.1:$1/directory" -o /dev/null 2>/dev/null &&
			return 0
		kill -0 "$2" 2>/dev/null || fail "cobbled on port $1 exited at start-up" "$3"
		sleep 0.2
	done
	fail "cobbled on port $1 did not come up" "$3"
}
SERVER_LOG=$T/cobbled-a.log
SERVER_PID=$(start_instance a "$PORT_A" "$DATA")
wait_up "$PORT_A" "$SERVER_PID" "$T/cobbled-a.log"
cp -a "$DATA" "$T/data-b"
PID_B=$(start_instance b "$PORT_B" "$T/data-b")
HELPER_PIDS="$HELPER_PIDS $PID_B"
wait_up "$PORT_B" "$PID_B" "$T/cobbled-b.log"
log "cobbled A on $PORT_A, B on $PORT_B"

# HAProxy terminates TLS with the CA's listener certificate and re-encrypts to the
# instances; in HTTP mode with server-close every request goes to the next instance.
cat "$DATA/tls.pem" "$DATA/tls.key" >"$T/lb.pem"
cat >"$T/haproxy.cfg" <<EOF
global
    maxconn 256
defaults
    mode http
    timeout connect 5s
    timeout client 60s
    timeout server 60s
    option http-server-close
frontend acme
    bind 127.0.0.1:$LBPORT ssl crt $T/lb.pem
    default_backend cobbled
backend cobbled
    balance roundrobin
    server a 127.0.0.1:$PORT_A ssl verify required ca-file $DATA/root.pem
    server b 127.0.0.1:$PORT_B ssl verify required ca-file $DATA/root.pem
EOF
haproxy -c -f "$T/haproxy.cfg" >"$T/haproxy-check.log" 2>&1 || fail "haproxy config" "$T/haproxy-check.log"
haproxy -db -f "$T/haproxy.cfg" >"$T/haproxy.log" 2>&1 &
HELPER_PIDS="$HELPER_PIDS $!"
DIRECTORY=$BASE/directory
CA_BUNDLE=$DATA/root.pem
for i in $(seq 1 50); do
	curl -sf --max-time 5 --cacert "$CA_BUNDLE" "$DIRECTORY" -o "$T/directory.json" && break
	sleep 0.2
done
[ -s "$T/directory.json" ] || fail "the balancer at $DIRECTORY does not answer" "$T/haproxy.log"
log "haproxy at $BASE"

CB=$T/certbot
LP=$T/lego
certbot_do() { # certbot_do LABEL certbot-args...
	local label=$1 lf=$T/certbot-$1.log
	shift
	REQUESTS_CA_BUNDLE=$CA_BUNDLE run_logged "$lf" timeout 120 certbot "$@" \
		--server "$DIRECTORY" --config-dir "$CB/config" --work-dir "$CB/work" --logs-dir "$CB/logs" \
		--non-interactive ||
		fail "certbot ($label) exited non-zero" "$lf"
	log "certbot ($label) ok"
}
certbot_get() { # certbot_get LABEL NAME...
	local label=$1 n args=()
	shift
	for n in "$@"; do args+=(-d "$n"); done
	certbot_do "$label" certonly --standalone --http-01-port "$HTTPPORT" --http-01-address 127.0.0.1 \
		--register-unsafely-without-email --agree-tos --cert-name "$label" "${args[@]}"
	check_cert "certbot $label" "$CB/config/live/$label/cert.pem" "$CB/config/live/$label/chain.pem" "$@"
}
lego_do() { # lego_do LABEL lego-args... (before the command)
	local label=$1 lf=$T/lego-$1.log
	shift
	LEGO_CA_CERTIFICATES=$CA_BUNDLE run_logged "$lf" timeout 120 lego \
		--server "$DIRECTORY" --accept-tos --email t@example.com --path "$LP" \
		--http --http.port "127.0.0.1:$HTTPPORT" "$@" ||
		fail "lego ($label) exited non-zero" "$lf"
	log "lego ($label) ok"
}

certbot_get one one.scale.cobble.test
certbot_get three a.scale.cobble.test b.scale.cobble.test c.scale.cobble.test
lego_do one -d lego.scale.cobble.test run
check_cert "lego one" "$LP/certificates/lego.scale.cobble.test.crt" \
	"$LP/certificates/lego.scale.cobble.test.issuer.crt" lego.scale.cobble.test
lego_do two -d x.scale.cobble.test -d y.scale.cobble.test run
check_cert "lego two" "$LP/certificates/x.scale.cobble.test.crt" \
	"$LP/certificates/x.scale.cobble.test.issuer.crt" x.scale.cobble.test y.scale.cobble.test

# Both instances did the work, and what one issued is in the shared database.
ncerts=$(pg_psql -d cobble_scale -c "SELECT count(*) FROM certs")
[ "$ncerts" = 4 ] || fail "the database holds $ncerts certificates, want 4"
nsessions=$(pg_psql -d cobble_scale -c \
	"SELECT count(DISTINCT client_port) FROM pg_stat_activity WHERE datname = 'cobble_scale' AND backend_type = 'client backend'")
log "database: $ncerts certificates; $nsessions client connections open"
for x in a b; do
	grep -q "validation: challenge .* valid" "$T/cobbled-$x.log" ||
		fail "instance $x validated no challenge: the balancer did not spread the work" "$T/cobbled-$x.log"
done

# Revocation through the balancer, once the server offers revokeCert.
if grep -q '"revokeCert"' "$T/directory.json"; then
	certbot_do revoke revoke --cert-path "$CB/config/live/one/cert.pem" --no-delete-after-revoke
	lego_do revoke -d lego.scale.cobble.test revoke
	nrev=$(pg_psql -d cobble_scale -c "SELECT count(*) FROM certs WHERE revoked_at != 0")
	[ "$nrev" = 2 ] || fail "$nrev certificates revoked in the database, want 2"
	# Each instance serves the shard's CRL; both list the revoked serial, and their CRL
	# numbers come from the shared counter, so they differ.
	crl_url=$(openssl x509 -in "$CB/config/live/one/cert.pem" -noout -ext crlDistributionPoints |
		sed -n 's/^ *URI://p' | head -n 1)
	serial=$(openssl x509 -in "$CB/config/live/one/cert.pem" -noout -serial | sed 's/^serial=//')
	[ -n "$crl_url" ] || fail "the certificate names no CRL"
	numbers=""
	for port in "$PORT_A" "$PORT_B"; do
		curl -sf --cacert "$CA_BUNDLE" --connect-to "127.0.0.1:$LBPORT:127.0.0.1:$port" \
			"$crl_url" -o "$T/crl-$port.der" || fail "instance on $port does not serve $crl_url"
		openssl crl -inform DER -in "$T/crl-$port.der" -noout -text >"$T/crl-$port.txt" ||
			fail "instance on $port served an unreadable CRL"
		grep -qi "Serial Number: *$serial" "$T/crl-$port.txt" ||
			fail "the CRL from the instance on $port does not list $serial" "$T/crl-$port.txt"
		numbers="$numbers $(awk '/X509v3 CRL Number/ {getline; print $1}' "$T/crl-$port.txt")"
	done
	# shellcheck disable=SC2086
	set -- $numbers
	[ $# = 2 ] && [ "$1" != "$2" ] || fail "CRL numbers from the two instances: [$numbers ]"
	log "both instances' CRLs list $serial (CRL numbers$numbers)"
	REVOKED="certbot and lego revoked through the balancer; both instances' CRLs list it"
else
	log "note: the directory has no revokeCert yet; revocation not tested"
	REVOKED="revocation not tested (no revokeCert in the directory)"
fi

# The database restarts: requests that hit a broken connection get 503 + Retry-After (never
# a 500), the instances reconnect, and issuance works again.
pg_restart || fail "PostgreSQL did not restart" "$PG_DIR/server.log"
log "PostgreSQL restarted"
probe() { # probe PORT: a kid-signed POST for an unknown account (the account lookup hits the DB)
	local port=$1 nonce prot body
	nonce=$(curl -sI --cacert "$CA_BUNDLE" "$BASE/acme/new-nonce" | tr -d '\r' | sed -n 's/^[Rr]eplay-[Nn]once: //p')
	prot=$(printf '{"alg":"ES256","kid":"%s/acme/acct/nosuchaccount","nonce":"%s","url":"%s/acme/new-order"}' \
		"$BASE" "$nonce" "$BASE" | basenc --base64url -w0 | tr -d '=')
	body=$(printf '{"protected":"%s","payload":"e30","signature":"AAAA"}' "$prot")
	curl -s -D "$T/probe-$port.hdr" -o "$T/probe-$port.body" --cacert "$CA_BUNDLE" \
		--connect-to "127.0.0.1:$LBPORT:127.0.0.1:$port" \
		-H 'Content-Type: application/jose+json' --data "$body" "$BASE/acme/new-order"
	sed -n '1s/^HTTP[^ ]* \([0-9]*\).*/\1/p' "$T/probe-$port.hdr"
}
for port in "$PORT_A" "$PORT_B"; do
	saw503="" recovered=""
	for i in 1 2 3 4 5; do
		code=$(probe "$port")
		case "$code" in
		503)
			grep -qi '^retry-after: [0-9]' "$T/probe-$port.hdr" || fail "503 without Retry-After" "$T/probe-$port.hdr"
			saw503=1 ;;
		5*) fail "instance on $port answered $code after the database restart" "$T/probe-$port.body" ;;
		*) recovered=1; break ;;
		esac
	done
	# A handle idle through the restart reconnects before its next statement, so a 503 is
	# no longer certain here; when one comes, it must carry Retry-After (checked above).
	if [ -n "$saw503" ]; then log "instance on $port answered 503 + Retry-After once"; fi
	[ -n "$recovered" ] || fail "instance on $port did not recover after the database restart"
	grep -q accountDoesNotExist "$T/probe-$port.body" || fail "unexpected answer after recovery" "$T/probe-$port.body"
done
log "after the restart: normal answers on both instances (503 + Retry-After at most while reconnecting)"
certbot_get after after.scale.cobble.test

# lib.sh checks instance A's log for sanitizer reports; B's is checked here, after it exits.
_stop_pid "$PID_B" || fail "cobbled B did not exit within 10 s of SIGTERM" "$T/cobbled-b.log"
if grep -Eq "$_SANITIZER_RE" "$T/cobbled-b.log"; then
	grep -En -A25 "$_SANITIZER_RE" "$T/cobbled-b.log" | head -n 120 >&2
	fail "sanitizer report in cobbled B's log"
fi
pass "two instances on PostgreSQL behind HAProxy: certbot and lego issued; $REVOKED; survived a database restart"
