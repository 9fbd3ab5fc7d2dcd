#!/bin/bash
# Debian's lego (http-01 on the test port) gets certificates from the server under test:
# one name, three names, and one name with an RSA key; each chain must verify against
# root.pem and carry exactly the requested SANs.
. "$(dirname "$0")/lib.sh"
command -v lego >/dev/null || fail "lego not installed"
start_dns
start_server

LP=$T/lego
lego_get() { # lego_get LABEL lego-args...
	local label=$1 lf=$T/lego-$1.log
	shift
	LEGO_CA_CERTIFICATES=$CA_BUNDLE run_logged "$lf" timeout 120 lego \
		--server "$DIRECTORY" --accept-tos --email t@example.com --path "$LP" \
		--http --http.port "127.0.0.1:$HTTPPORT" "$@" run ||
		fail "lego ($label) exited non-zero" "$lf"
	log "lego ($label) ok"
}

# lego writes certificates/NAME.crt (leaf + issuer) and NAME.issuer.crt, NAME = first -d.
lego_get one -d one.cobble.test
check_cert "lego one name" "$LP/certificates/one.cobble.test.crt" "$LP/certificates/one.cobble.test.issuer.crt" \
	one.cobble.test

lego_get three -d a.cobble.test -d b.cobble.test -d c.cobble.test
check_cert "lego three names" "$LP/certificates/a.cobble.test.crt" "$LP/certificates/a.cobble.test.issuer.crt" \
	a.cobble.test b.cobble.test c.cobble.test

lego_get rsa --key-type rsa2048 -d rsa.cobble.test
check_cert "lego RSA key" "$LP/certificates/rsa.cobble.test.crt" "$LP/certificates/rsa.cobble.test.issuer.crt" \
	rsa.cobble.test

pass "lego: one name, three names, RSA key"
