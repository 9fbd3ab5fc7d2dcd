#!/bin/bash
# Validation safety (design.md §4, issue 4): cobbled WITHOUT --lab must not connect to
# loopback or other non-public addresses. Names in Knot resolving to 127.0.0.1, 127.1.2.3,
# 0.0.0.0, ::1 (AAAA only) and ::ffff:127.0.0.1 (AAAA only) fail http-01, and 127.0.0.1 fails
# tls-alpn-01, with a problem whose detail says the address is not public, and our
# responders never see a connection; an ip identifier 127.0.0.1 is refused at newOrder even
# with allowIP; dns-01 (no connection to the name) still issues, so the refusals are policy,
# not a broken set-up. Every address used is on the loopback host.
. "$(dirname "$0")/lib.sh"
. "$INTEROP_DIR/va_lib.sh"
ACME_SERVER=cobbled # cobbled's non-lab mode
start_dns
cat >"$T/cobbled.json" <<'EOF'
{"identifierPolicy": {"allowIP": true}}
EOF
va_start_cobbled --nolab --config "$T/cobbled.json"
grep -q 'lab mode' "$SERVER_LOG" && fail "cobbled started without --lab says it is in lab mode"

dns_update "update add loop2.cobble.test. 60 A 127.1.2.3" "update add zero.cobble.test. 60 A 0.0.0.0" \
	"update add v6loop.cobble.test. 60 AAAA ::1" "update add mapped.cobble.test. 60 AAAA ::ffff:127.0.0.1" \
	>"$T/knsupdate.log" 2>&1 || fail "knsupdate failed" "$T/knsupdate.log"
{ [ "$(dns_query v6loop.cobble.test A)" = "" ] && [ "$(dns_query v6loop.cobble.test AAAA)" = ::1 ]; } ||
	fail "zone set-up: v6loop.cobble.test should have only AAAA ::1"

# refused_at_validation LABEL CHAL NAME ADDRESS: the authorization is invalid with a connection
# (or rejectedIdentifier) problem naming the address or name as not public; no connection to us.
refused_at_validation() {
	local label=$1 chal=$2 name=$3 addr=$4 rc
	python3 "$INTEROP_DIR/va_acme.py" order --key "$T/$label.key" --id "dns:$name" --chal "$chal" \
		--result "$T/$label.json" >"$T/$label.log" 2>&1
	rc=$?
	[ $rc = 3 ] || fail "$label: $chal for $name ($addr) without --lab: expected a problem and no certificate (status 3), got $rc" "$T/$label.log"
	python3 - "$T/$label.json" "$name" "$addr" <<'EOF' || fail "$label: $chal for $name ($addr): not refused as a non-public address" "$T/$label.log"
import json, re, sys
s = json.load(open(sys.argv[1]))
name, addr = sys.argv[2], sys.argv[3]
a = s["authzs"][0]
e = a.get("error") or {}
d = e.get("detail", "")
bad = []
if a["status"] != "invalid":
    bad.append("authorization is %s" % a["status"])
if e.get("type") not in ("urn:ietf:params:acme:error:connection", "urn:ietf:params:acme:error:rejectedIdentifier"):
    bad.append("problem type %r, want connection or rejectedIdentifier" % e.get("type"))
if not re.search(r"non-public|not public|loopback|private|reserved|unspecified|this network", d, re.I):
    bad.append("detail does not say the address is not public")
if addr not in d and name not in d:
    bad.append("detail names neither %s nor %s" % (addr, name))
if s.get("responder_hits"):
    bad.append("the CA connected to our responder: %s" % s["responder_hits"])
for b in bad:
    print("NOT OK - " + b, file=sys.stderr)
if bad:
    print("problem: " + json.dumps(e), file=sys.stderr)
sys.exit(1 if bad else 0)
EOF
	log "$label: $(python3 -c 'import json,sys; e=json.load(open(sys.argv[1]))["authzs"][0]["error"]; print(e["type"], "::", e["detail"])' "$T/$label.json")"
}

refused_at_validation loopback http-01 safe.cobble.test 127.0.0.1
refused_at_validation loop2 http-01 loop2.cobble.test 127.1.2.3
refused_at_validation zero http-01 zero.cobble.test 0.0.0.0
refused_at_validation v6loop http-01 v6loop.cobble.test ::1
refused_at_validation mapped http-01 mapped.cobble.test ::ffff:127.0.0.1
refused_at_validation alpn tls-alpn-01 alpn.cobble.test 127.0.0.1

# An ip identifier for a loopback address: refused by policy before any validation.
python3 "$INTEROP_DIR/va_acme.py" order --key "$T/ip.key" --id ip:127.0.0.1 --result "$T/ip.json" >"$T/ip.log" 2>&1
rc=$?
[ $rc = 3 ] || fail "ip 127.0.0.1 without --lab: expected newOrder refused (status 3), got $rc" "$T/ip.log"
python3 - "$T/ip.json" <<'EOF' || fail "ip 127.0.0.1 without --lab: newOrder not a 400 rejectedIdentifier naming the address" "$T/ip.log"
import json, sys
n = json.load(open(sys.argv[1]))["newOrder"]
b = n.get("body") or {}
sys.exit(not (n["status"] == 400 and b.get("type") == "urn:ietf:params:acme:error:rejectedIdentifier"
              and "127.0.0.1" in b.get("detail", "")))
EOF
log "ip 127.0.0.1: $(python3 -c 'import json,sys; b=json.load(open(sys.argv[1]))["newOrder"]["body"]; print(b["type"], "::", b["detail"])' "$T/ip.json")"

# Control: dns-01 makes no connection to the name, so it issues without --lab.
python3 "$INTEROP_DIR/va_acme.py" order --key "$T/dns.key" --id dns:safe-dns.cobble.test --chal dns-01 \
	--cert "$T/dns.pem" >"$T/dns.log" 2>&1 || fail "dns-01 without --lab: no certificate" "$T/dns.log"
log "control: dns-01 without --lab issues ($(va_sans "$T/dns.pem"))"

pass "safety: no connection to loopback (v4, v6, mapped, 0.0.0.0) without --lab; ip 127.0.0.1 refused; dns-01 control"
