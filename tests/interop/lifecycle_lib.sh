# Helpers for the life-cycle interop tests (revocation, CRLs): sourced after lib.sh.

# restart_cobbled: stop cobbled and start it again on the same data dir and ports, so the
# URLs in issued certificates (CRLDP) stay valid.
restart_cobbled() {
	_stop_pid "$SERVER_PID" || fail "cobbled did not stop within 10 s of SIGTERM"
	cat "$SERVER_LOG" >>"$T/server-before-restart.log"
	# shellcheck disable=SC2086
	"$COBBLED" --lab --data-dir "$DATA" --listen "127.0.0.1:$ACME_PORT" \
		--dns-resolver "127.0.0.1:$DNSPORT" --http01-port "$HTTPPORT" $COBBLED_ARGS \
		>"$SERVER_LOG" 2>&1 &
	SERVER_PID=$!
	_wait_directory
	log "cobbled restarted on the same data dir"
}

# crldp_url CERT: the certificate's CRL distribution point URL.
crldp_url() {
	openssl x509 -noout -ext crlDistributionPoints -in "$1" 2>/dev/null | sed -n 's/^ *URI://p' | head -n 1
}

# fetch_crl CERT OUT: fetch the CRL its CRLDP names (DER) and write it as PEM to OUT.
fetch_crl() {
	local url
	url=$(crldp_url "$1")
	[ -n "$url" ] || fail "no CRLDP in $1"
	curl -sf --max-time 10 --cacert "$CA_BUNDLE" "$url" -o "$2.der" || fail "could not fetch the CRL at $url"
	openssl crl -inform DER -in "$2.der" -out "$2" 2>/dev/null || fail "the CRL at $url is not DER"
}

# crl_number CRL.pem: the CRL number in decimal.
crl_number() {
	local hex
	hex=$(openssl crl -noout -crlnumber -in "$1" 2>/dev/null | sed -n 's/^crlNumber=//p')
	[ -n "$hex" ] || fail "no CRL number in $1"
	case $hex in 0x* | 0X*) hex=${hex#0?} ;; esac
	echo $((16#$hex))
}

# cert_serial CERT: serial in upper-case hex as openssl crl -text prints it.
cert_serial() {
	openssl x509 -noout -serial -in "$1" | sed 's/^serial=//'
}
