#!/bin/bash
# tls-alpn-01 end to end (RFC 8737, issue 4): lego (--tls on the port cobbled validates on)
# gets a certificate for one name and for two; then a responder that breaks one rule of
# RFC 8737 §3 at a time (wrong acmeIdentifier digest, non-critical extension, a second SAN,
# acme-tls/1 not negotiated) must leave the authorization invalid with an unauthorized or
# tls problem, and a correct one (va_acme.py) must pass.
. "$(dirname "$0")/lib.sh"
. "$INTEROP_DIR/va_lib.sh"
command -v lego >/dev/null || fail "lego not installed"
start_dns
va_start_server

va_lego one --tls --tls.port "127.0.0.1:$TLSALPNPORT" -d alpn.cobble.test ||
	fail "lego tls-alpn-01 exited non-zero" "$T/lego-one.log"
check_cert "lego tls-alpn-01" "$T/lego/certificates/alpn.cobble.test.crt" \
	"$T/lego/certificates/alpn.cobble.test.issuer.crt" alpn.cobble.test

va_lego two --tls --tls.port "127.0.0.1:$TLSALPNPORT" -d alpn2.cobble.test -d alpn3.cobble.test ||
	fail "lego tls-alpn-01 (two names) exited non-zero" "$T/lego-two.log"
check_cert "lego tls-alpn-01 two names" "$T/lego/certificates/alpn2.cobble.test.crt" \
	"$T/lego/certificates/alpn2.cobble.test.issuer.crt" alpn2.cobble.test alpn3.cobble.test

# va_acme.py's own responder, right and wrong (each case a fresh name and account).
alpn_case() { # alpn_case MODE NAME EXPECTED-TYPES(regex, empty: issued)
	local mode=$1 name=$2 want=$3 rc
	python3 "$INTEROP_DIR/va_acme.py" order --key "$T/$mode.key" --id "dns:$name" --chal tls-alpn-01 \
		--alpn-mode "$mode" --result "$T/$mode.json" >"$T/$mode.log" 2>&1
	rc=$?
	if [ -z "$want" ]; then
		[ $rc = 0 ] || fail "tls-alpn-01 ($mode responder) for $name: no certificate (status $rc)" "$T/$mode.log"
		log "tls-alpn-01 $mode responder: issued"
		return
	fi
	[ $rc = 3 ] || fail "tls-alpn-01 ($mode responder): expected a problem and no certificate (status 3), got $rc" "$T/$mode.log"
	python3 - "$T/$mode.json" "$want" <<'EOF' || fail "tls-alpn-01 ($mode responder): authorization not invalid with urn:ietf:params:acme:error:($want)" "$T/$mode.log"
import json, re, sys
a = json.load(open(sys.argv[1]))["authzs"][0]
e = a.get("error") or {}
sys.exit(not (a["status"] == "invalid" and re.fullmatch("urn:ietf:params:acme:error:(%s)" % sys.argv[2], e.get("type", ""))
              and e.get("detail")))
EOF
	log "tls-alpn-01 $mode responder: $(grep '^authz' "$T/$mode.log")"
}

alpn_case good good.alpn.cobble.test ""
alpn_case wrong-digest digest.alpn.cobble.test unauthorized
alpn_case noncritical noncrit.alpn.cobble.test unauthorized
alpn_case extra-san extrasan.alpn.cobble.test unauthorized
alpn_case no-alpn noalpn.alpn.cobble.test 'tls|unauthorized|connection'

pass "tls-alpn-01: lego one and two names; wrong digest, non-critical, extra SAN, no ALPN refused"
