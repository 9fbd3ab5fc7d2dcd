# shellcheck shell=bash
# Helpers for the validation-authority interop tests (issue 4: dns-01, tls-alpn-01, CAA, ip
# identifiers, safety): sourced after lib.sh. Knot serves the lab zone; these start cobbled with
# its tls-alpn-01 port, an optional config file and optionally without --lab, and drive the zone.
#
# After va_start_cobbled: everything start_cobbled sets (ACME_PORT, HTTPPORT, DIRECTORY, ...)
# plus TLSALPNPORT, which cobbled validates tls-alpn-01 on (start_cobbled leaves it at 443).
# Exported for the hook scripts (va_dns_hook.sh) and va_acme.py: DNSPORT, TSIG_KEY, DIRECTORY,
# CA_BUNDLE, HTTPPORT, TLSALPNPORT.

# Scratch files of the clients (va_acme.py's tls-alpn-01 certificates, ...) go with $T.
export TMPDIR=$T

# va_start_cobbled [--nolab] [--config FILE]: cobbled on a fresh data dir, validation pointed
# at knot, $HTTPPORT and $TLSALPNPORT; --nolab leaves out --lab so validation refuses
# loopback and private addresses (design.md §4). Waits (bounded) for /directory.
va_start_cobbled() {
	local lab=--lab cfg=()
	while [ $# -gt 0 ]; do
		case "$1" in
		--nolab) lab="" ;;
		--config) cfg=(--config "$2"); shift ;;
		*) fail "va_start_cobbled: unknown argument $1" ;;
		esac
		shift
	done
	[ "$ACME_SERVER" = cobbled ] || fail "va_start_cobbled needs ACME_SERVER=cobbled (got $ACME_SERVER)"
	[ -x "$COBBLED" ] || fail "cobbled binary not found at $COBBLED (build first: ninja -C build)"
	[ -n "${DNSPORT:-}" ] || fail "start_dns must run before va_start_cobbled"
	ACME_PORT=$(pick_port)
	HTTPPORT=$(pick_port)
	TLSALPNPORT=$(pick_port)
	DATA=$T/data
	CA_BUNDLE=$DATA/root.pem
	DIRECTORY=https://127.0.0.1:$ACME_PORT/directory
	# shellcheck disable=SC2086
	"$COBBLED" $lab "${cfg[@]}" --data-dir "$DATA" --listen "127.0.0.1:$ACME_PORT" \
		--dns-resolver "127.0.0.1:$DNSPORT" --http01-port "$HTTPPORT" --tlsalpn01-port "$TLSALPNPORT" \
		$COBBLED_ARGS >"$SERVER_LOG" 2>&1 &
	SERVER_PID=$!
	_wait_directory
	export DNSPORT TSIG_KEY DIRECTORY CA_BUNDLE HTTPPORT TLSALPNPORT
	log "cobbled ($COBBLED${lab:+ $lab}${cfg[*]:+ ${cfg[*]}}) at $DIRECTORY, http-01 $HTTPPORT, tls-alpn-01 $TLSALPNPORT"
}

# va_start_server: cobbled as above, or pebble when ACME_SERVER=pebble (dry runs of the
# client-side scripts: pebble also validates dns-01 against knot and tls-alpn-01 on TLSALPNPORT).
va_start_server() {
	if [ "$ACME_SERVER" = pebble ]; then
		start_pebble
		export DNSPORT TSIG_KEY DIRECTORY CA_BUNDLE HTTPPORT TLSALPNPORT
	else
		va_start_cobbled "$@"
	fi
}

# va_zone NAME "TYPE RDATA" ...: replace NAME's records in the zone by the given ones, plus
# A 127.0.0.1 (a name that exists in the zone is no longer covered by *.cobble.test).
va_zone() {
	local name=$1 r lines=()
	shift
	lines+=("update delete $name.")
	lines+=("update add $name. 60 A 127.0.0.1")
	for r in "$@"; do lines+=("update add $name. 60 $r"); done
	dns_update "${lines[@]}" >"$T/knsupdate.log" 2>&1 || fail "knsupdate for $name failed" "$T/knsupdate.log"
}

# va_clear NAME: remove every record at NAME.
va_clear() {
	dns_update "update delete $1." >"$T/knsupdate.log" 2>&1 || fail "knsupdate delete $1 failed" "$T/knsupdate.log"
}

# va_expect_caa NAME N: knot serves N CAA records at NAME (the update took).
va_expect_caa() {
	local got
	got=$(dns_query "$1" CAA | grep -c .)
	[ "$got" = "$2" ] || fail "knot serves $got CAA records at $1, expected $2: $(dns_query "$1" CAA)"
}

# va_lego LABEL lego-args...: Debian's lego against $DIRECTORY (own account dir $T/lego),
# output in $T/lego-LABEL.log; returns lego's status (callers decide what they expect).
va_lego() {
	local label=$1
	shift
	LEGO_CA_CERTIFICATES=$CA_BUNDLE timeout 150 lego --server "$DIRECTORY" --accept-tos \
		--email t@example.com --path "$T/lego" "$@" run >"$T/lego-$label.log" 2>&1
}

# va_lego_dns LABEL lego-args...: va_lego with dns-01 through the exec provider and
# va_dns_hook.sh. lego's own pre-check asks knot (the resolver it is given); the
# full-propagation check would query the zone's NS on port 53, so it is off. The exec
# provider solves one authorization at a time, 60 s apart unless EXEC_SEQUENCE_INTERVAL says.
va_lego_dns() { # va_lego_dns LABEL lego-args...
	local label=$1
	shift
	EXEC_PATH=$INTEROP_DIR/va_dns_hook.sh EXEC_PROPAGATION_TIMEOUT=30 EXEC_POLLING_INTERVAL=1 EXEC_SEQUENCE_INTERVAL=1 \
		va_lego "$label" --dns exec --dns.resolvers "127.0.0.1:$DNSPORT" --dns.disable-cp "$@"
}

# va_problem_in LOG TYPE: the client's output names the ACME problem type TYPE.
va_problem_in() {
	grep -q "urn:ietf:params:acme:error:$2" "$1"
}

# va_show_problem LOG: the problem lines of a client log, for the test's own log.
va_show_problem() {
	grep -E 'urn:ietf:params:acme:error|error:' "$1" | head -n 5 | sed 's/^/    /' >&2
}

# va_sans CERT: "DNS:a, IP Address:b" on one line.
va_sans() {
	openssl x509 -noout -ext subjectAltName -in "$1" 2>/dev/null | tail -n +2 | sed 's/^ *//'
}

# va_start_dns_signed: like lib.sh's start_dns, but Knot signs the zone `test.` (its default
# policy: ECDSA P-256, NSEC) and $T/ta gets the key-signing key as a trust-anchor line
# ("test. DNSKEY 257 3 13 ...") for cobbled's "dnsTrustAnchors". Sets what start_dns sets,
# so dns_update, dns_query and va_dns_hook.sh work unchanged.
va_start_dns_signed() {
	command -v knotd >/dev/null || fail "knotd not installed (Debian package knot)"
	DNSPORT=$(pick_port)
	DNS_SERVER=127.0.0.1:$DNSPORT
	DNS_ZONE=test.
	TSIG_NAME=cobble-test
	TSIG_ALG=hmac-sha256
	TSIG_SECRET=$(openssl rand -base64 32)
	TSIG_KEY=$TSIG_ALG:$TSIG_NAME:$TSIG_SECRET
	local k=$T/knot
	mkdir -p "$k/run" "$k/db" "$k/zones"
	cp "$INTEROP_DIR/zone/test.zone" "$k/zones/test.zone"
	cat >"$k/knot.conf" <<EOC
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
template:
  - id: default
    storage: "$k/zones"
    file: "%s.zone"
    zonefile-sync: -1
    zonefile-load: whole
    journal-content: changes
zone:
  - domain: test.
    acl: [ update_tsig ]
    dnssec-signing: on
log:
  - target: stderr
    any: info
EOC
	knotd -c "$k/knot.conf" >"$DNS_LOG" 2>&1 &
	DNS_PID=$!
	for _ in $(seq 1 50); do
		kdig +time=1 +retry=0 +dnssec +noall +answer @127.0.0.1 -p "$DNSPORT" probe.cobble.test A 2>/dev/null |
			grep -q RRSIG && break
		kill -0 "$DNS_PID" 2>/dev/null || fail "knotd exited at start-up" "$DNS_LOG"
		sleep 0.2
	done
	kdig +dnssec +noall +answer @127.0.0.1 -p "$DNSPORT" probe.cobble.test A | grep -q RRSIG ||
		fail "knotd on $DNS_SERVER did not serve a signed probe.cobble.test A" "$DNS_LOG"
	kdig +short @127.0.0.1 -p "$DNSPORT" test. DNSKEY | awk '$1 == 257 {print "test. DNSKEY " $0}' >"$T/ta"
	[ "$(grep -c . "$T/ta")" = 1 ] || fail "expected one KSK in test. DNSKEY, got: $(cat "$T/ta")" "$DNS_LOG"
	log "knot DNS on $DNS_SERVER, zone test. signed; trust anchor $(cut -c1-40 "$T/ta")..."
}
