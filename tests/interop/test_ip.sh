#!/bin/bash
# ip identifiers end to end (RFC 8738, issue 4), cobbled in --lab: refused as
# unsupportedIdentifier by default; with "identifierPolicy": {"allowIP": true} a certificate
# for 127.0.0.1 by http-01 (va_acme.py; lego if it sends ip identifiers) and by tls-alpn-01 (reverse-name SNI,
# RFC 8738 §6), each with an iPAddress SAN that openssl accepts for 127.0.0.1; dns-01 is not
# offered for an ip identifier; a dns + ip order gets both SANs; a CSR naming the address
# as a dNSName is a badCSR; a non-canonical address is a rejectedIdentifier.
. "$(dirname "$0")/lib.sh"
. "$INTEROP_DIR/va_lib.sh"
ACME_SERVER=cobbled # cobbled's identifier policy
command -v lego >/dev/null || fail "lego not installed"
start_dns

# ip_problem LABEL TYPE: va_acme.py (already run, LOG T/LABEL.log) got a newOrder problem of TYPE.
ip_problem() {
	python3 - "$T/$1.json" "$2" <<'EOF' || fail "$1: newOrder not refused with urn:ietf:params:acme:error:$2" "$T/$1.log"
import json, sys
n = json.load(open(sys.argv[1])).get("newOrder", {})
b = n.get("body") or {}
sys.exit(not (n.get("status") == 400 and b.get("type") == "urn:ietf:params:acme:error:" + sys.argv[2] and b.get("detail")))
EOF
	log "$1: newOrder refused: $(python3 -c 'import json,sys; b=json.load(open(sys.argv[1]))["newOrder"]["body"]; print(b["type"], "::", b["detail"])' "$T/$1.json")"
}
# ip_cert LABEL CERT WANT-SANS: the chain verifies for 127.0.0.1 and the SANs are exactly WANT-SANS.
ip_cert() {
	local out
	[ -s "$2" ] || fail "$1: no certificate at $2"
	out=$(openssl verify -purpose sslserver -verify_ip 127.0.0.1 -CAfile "$CA_BUNDLE" -untrusted "$2" "$2" 2>&1) ||
		fail "$1: openssl verify -verify_ip 127.0.0.1 failed: $out"
	[ "$(va_sans "$2")" = "$3" ] || fail "$1: SANs are [$(va_sans "$2")], expected [$3]"
	log "$1: verifies for 127.0.0.1; SANs [$3]"
}
acme() { # acme LABEL va_acme-order-args...: status in $rc
	local label=$1
	shift
	python3 "$INTEROP_DIR/va_acme.py" order --key "$T/$label.key" --result "$T/$label.json" "$@" >"$T/$label.log" 2>&1
	rc=$?
}

# 1. Default policy: ip identifiers are not enabled.
va_start_cobbled
acme default --id ip:127.0.0.1
[ $rc = 3 ] || fail "default policy: expected newOrder refused (status 3), got $rc" "$T/default.log"
ip_problem default unsupportedIdentifier
_stop_pid "$SERVER_PID" || fail "cobbled did not stop within 10 s of SIGTERM"
_sanitizer_check || fail "sanitizer report in the log of cobbled with the default policy (above)"
mv "$SERVER_LOG" "$T/server-default.log"

# 2. allowIP on.
cat >"$T/cobbled.json" <<'EOF'
{"identifierPolicy": {"allowIP": true}}
EOF
va_start_cobbled --config "$T/cobbled.json"

# Debian's lego 4.9 sends -d 127.0.0.1 as a dns identifier, which must be refused
# (rejectedIdentifier); a lego that sends an ip identifier must get the certificate.
if va_lego lego --http --http.port "127.0.0.1:$HTTPPORT" -d 127.0.0.1; then
	ip_cert "lego http-01 127.0.0.1" "$T/lego/certificates/127.0.0.1.crt" "IP Address:127.0.0.1"
else
	va_problem_in "$T/lego-lego.log" rejectedIdentifier ||
		fail "lego -d 127.0.0.1 failed without a rejectedIdentifier problem" "$T/lego-lego.log"
	log "lego -d 127.0.0.1: $(grep -o 'urn:ietf:params:acme:error:rejectedIdentifier ::[^,]*' "$T/lego-lego.log" | head -n 1)"
fi

acme http --id ip:127.0.0.1 --chal http-01 --cert "$T/http.pem"
[ $rc = 0 ] || fail "va_acme.py http-01 for ip 127.0.0.1: no certificate (status $rc)" "$T/http.log"
ip_cert "va_acme http-01 127.0.0.1" "$T/http.pem" "IP Address:127.0.0.1"
! openssl x509 -noout -subject -nameopt multiline -in "$T/http.pem" | grep -q commonName ||
	fail "an ip-only certificate carries a commonName: $(openssl x509 -noout -subject -in "$T/http.pem")"

acme alpn --id ip:127.0.0.1 --chal tls-alpn-01 --cert "$T/alpn.pem"
[ $rc = 0 ] || fail "va_acme.py tls-alpn-01 for ip 127.0.0.1 (SNI 1.0.0.127.in-addr.arpa): no certificate (status $rc)" "$T/alpn.log"
ip_cert "va_acme tls-alpn-01 127.0.0.1" "$T/alpn.pem" "IP Address:127.0.0.1"

acme dns --id ip:127.0.0.1 --chal dns-01
{ [ $rc = 2 ] && grep -q "offers no dns-01" "$T/dns.log"; } ||
	fail "ip identifier: dns-01 must not be offered (RFC 8738 §7) (status $rc)" "$T/dns.log"
log "ip identifier: $(grep -o 'offers no dns-01.*' "$T/dns.log")"

acme mixed --id dns:mixed.cobble.test --id ip:127.0.0.1 --chal http-01 --cert "$T/mixed.pem"
[ $rc = 0 ] || fail "dns + ip order: no certificate (status $rc)" "$T/mixed.log"
ip_cert "dns + ip order" "$T/mixed.pem" "DNS:mixed.cobble.test, IP Address:127.0.0.1"

# A CSR that puts the address in a dNSName is refused at finalize (badCSR).
acme csrdns --id ip:127.0.0.1 --chal http-01 --csr-san dns:127.0.0.1
[ $rc = 3 ] || fail "ip order finalized with a CSR naming 127.0.0.1 as dNSName: expected badCSR (status 3), got $rc" "$T/csrdns.log"
python3 - "$T/csrdns.json" <<'EOF' || fail "CSR with dNSName 127.0.0.1 for an ip order: finalize not a 400 badCSR" "$T/csrdns.log"
import json, sys
f = json.load(open(sys.argv[1])).get("finalize", {})
sys.exit(not (f.get("status") == 400 and (f.get("body") or {}).get("type") == "urn:ietf:params:acme:error:badCSR"))
EOF
log "CSR dNSName 127.0.0.1 for an ip order: $(python3 -c 'import json,sys; b=json.load(open(sys.argv[1]))["finalize"]["body"]; print(b["type"], "::", b["detail"])' "$T/csrdns.json")"

acme noncanon --id ip:0:0:0:0:0:0:0:1
[ $rc = 3 ] || fail "non-canonical IPv6 identifier: expected newOrder refused (status 3), got $rc" "$T/noncanon.log"
ip_problem noncanon rejectedIdentifier

pass "ip identifiers: off by default; 127.0.0.1 by http-01, tls-alpn-01, dns + ip; no dns-01; canonical form"
