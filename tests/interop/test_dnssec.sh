#!/bin/bash
# DNSSEC in validation end to end (issue 4: the resolver validates; a bogus answer fails the
# challenge with a dns problem): Knot serves `test.` signed, cobbled forwards to it with the
# zone's key-signing key in "dnsTrustAnchors". With the right anchor dns-01 (TXT added by
# RFC 2136, re-signed by Knot) and http-01 issue; restarted with a wrong anchor, every answer
# is bogus: dns-01 and http-01 fail with urn:ietf:params:acme:error:dns, and no connection
# is made to our http-01 responder.
. "$(dirname "$0")/lib.sh"
. "$INTEROP_DIR/va_lib.sh"
ACME_SERVER=cobbled # cobbled's dnsTrustAnchors
va_start_dns_signed
python3 - "$T/ta" "$T/cobbled.json" <<'EOF'
import json, sys
json.dump({"dnsTrustAnchors": [open(sys.argv[1]).read().strip()]}, open(sys.argv[2], "w"))
EOF
va_start_cobbled --config "$T/cobbled.json"

acme() { # acme LABEL va_acme-order-args...: status in $rc
	local label=$1
	shift
	python3 "$INTEROP_DIR/va_acme.py" order --key "$T/$label.key" --result "$T/$label.json" "$@" >"$T/$label.log" 2>&1
	rc=$?
}

# 1. Right anchor: signed answers validate.
acme dns-ok --id dns:sec.cobble.test --chal dns-01 --cert "$T/dns-ok.pem"
[ $rc = 0 ] || fail "dns-01 under the right trust anchor: no certificate (status $rc)" "$T/dns-ok.log"
log "right anchor: dns-01 issued ($(va_sans "$T/dns-ok.pem"))"
acme http-ok --id dns:sechttp.cobble.test --chal http-01 --cert "$T/http-ok.pem"
[ $rc = 0 ] || fail "http-01 under the right trust anchor: no certificate (status $rc)" "$T/http-ok.log"
log "right anchor: http-01 issued ($(va_sans "$T/http-ok.pem"))"

# 2. A wrong anchor (a key the zone was never signed with): answers are bogus.
_stop_pid "$SERVER_PID" || fail "cobbled did not stop within 10 s of SIGTERM"
_sanitizer_check || fail "sanitizer report in the log of cobbled under the right anchor (above)"
mv "$SERVER_LOG" "$T/server-right-anchor.log"
python3 - "$T/cobbled.json" <<'EOF'
import base64, json, os, sys
key = base64.b64encode(os.urandom(64)).decode()
json.dump({"dnsTrustAnchors": ["test. DNSKEY 257 3 13 " + key]}, open(sys.argv[1], "w"))
EOF
va_start_cobbled --config "$T/cobbled.json"

bogus() { # bogus LABEL CHAL NAME
	acme "$1" --id "dns:$3" --chal "$2"
	[ $rc = 3 ] || fail "$2 for $3 under a wrong trust anchor: expected a problem and no certificate (status 3), got $rc" "$T/$1.log"
	python3 - "$T/$1.json" <<'EOF' || fail "$2 for $3 under a wrong trust anchor: not an invalid authorization with a dns problem, or a connection was made" "$T/$1.log"
import json, sys
s = json.load(open(sys.argv[1]))
a = s["authzs"][0]
e = a.get("error") or {}
sys.exit(not (a["status"] == "invalid" and e.get("type") == "urn:ietf:params:acme:error:dns" and e.get("detail")
              and not s.get("responder_hits")))
EOF
	log "wrong anchor: $2: $(python3 -c 'import json,sys; e=json.load(open(sys.argv[1]))["authzs"][0]["error"]; print(e["type"], "::", e["detail"])' "$T/$1.json")"
}
bogus dns-bogus dns-01 bogus.cobble.test
bogus http-bogus http-01 bogushttp.cobble.test

pass "DNSSEC: right anchor issues (dns-01, http-01); wrong anchor: bogus answers are dns problems"
