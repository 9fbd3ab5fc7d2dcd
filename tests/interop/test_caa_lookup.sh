#!/bin/bash
# The CA's CAA lookup (caa_check_name: RFC 8659 §3 climb, RFC 8657 parameters) against a real
# authoritative server: Knot serving the lab zone `test.` DNSSEC-signed, records changed by
# RFC 2136 UPDATE, answers validated by libunbound under the zone's key as trust anchor.
# Drives tests/unit/test_caa_lookup in its external mode (one line per case). The issuance
# path (cobbled refusing an order) is test_caa.sh's; this one covers the lookup itself:
# signed NXDOMAIN/NODATA during the climb, CNAME, records that change, a wrong anchor (bogus).
. "$(dirname "$0")/lib.sh"
command -v knotd >/dev/null || fail "knotd not installed (Debian package knot)"
PROBE=${CAA_LOOKUP_BIN:-$(dirname "$COBBLED")/tests/unit/test_caa_lookup}
[ -x "$PROBE" ] || fail "test_caa_lookup not found at $PROBE (build the unit tests first)"

# Knot with the lab zone, signed (default policy: ECDSA P-256, NSEC).
DNSPORT=$(pick_port)
TSIG_KEY=hmac-sha256:cobble-caa:$(openssl rand -base64 32)
k=$T/knot
mkdir -p "$k/run" "$k/db" "$k/zones"
cp "$INTEROP_DIR/zone/test.zone" "$k/zones/test.zone"
cat >"$k/knot.conf" <<EOF
server:
    rundir: "$k/run"
    listen: 127.0.0.1@$DNSPORT
    udp-workers: 1
    tcp-workers: 1
    background-workers: 1
control:
    listen: "$k/run/knot.sock"
database:
    storage: "$k/db"
key:
  - id: cobble-caa
    algorithm: hmac-sha256
    secret: ${TSIG_KEY##*:}
acl:
  - id: update
    address: 127.0.0.1
    key: cobble-caa
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
    acl: [ update ]
    dnssec-signing: on
log:
  - target: stderr
    any: info
EOF
knotd -c "$k/knot.conf" >"$DNS_LOG" 2>&1 &
DNS_PID=$!
for _ in $(seq 1 50); do
	kdig +time=1 +retry=0 +dnssec +noall +answer @127.0.0.1 -p "$DNSPORT" test. SOA 2>/dev/null | grep -q RRSIG && break
	kill -0 "$DNS_PID" 2>/dev/null || fail "knotd exited at start-up" "$DNS_LOG"
	sleep 0.2
done
kdig +dnssec +noall +answer @127.0.0.1 -p "$DNSPORT" test. SOA | grep -q RRSIG ||
	fail "knotd did not serve a signed test. zone" "$DNS_LOG"
# The key-signing key as the trust anchor.
kdig +short @127.0.0.1 -p "$DNSPORT" test. DNSKEY | awk '$1 == 257 {print "test. DNSKEY " $0}' >"$T/ta"
[ -s "$T/ta" ] || fail "no KSK in test. DNSKEY" "$DNS_LOG"
log "knot on 127.0.0.1:$DNSPORT, test. signed; anchor: $(cut -c1-40 "$T/ta")..."

update() {
	{
		echo "server 127.0.0.1 $DNSPORT"
		echo "zone test."
		for l in "$@"; do echo "$l"; done
		echo "send"
	} | knsupdate -y "$TSIG_KEY" || fail "knsupdate failed: $*"
}
update "update add allow.caa.test. 60 CAA 0 issue \"cobble.test\"" \
	"update add deny.caa.test. 60 CAA 0 issue \"other-ca.example\"" \
	"update add wild.caa.test. 60 CAA 0 issue \"cobble.test\"" \
	"update add wild.caa.test. 60 CAA 0 issuewild \";\"" \
	"update add acct.caa.test. 60 CAA 0 issue \"cobble.test; accounturi=https://ca.test/acme/acct/1\"" \
	"update add crit.caa.test. 60 CAA 128 tbs \"x\"" \
	"update add iodef.caa.test. 60 CAA 0 iodef \"mailto:caa@cobble.test\"" \
	"update add alias.caa.test. 60 CNAME deny.caa.test." \
	"update add host.allow.caa.test. 60 A 127.0.0.1" \
	"update add flip.caa.test. 60 A 127.0.0.1"
# Wait until the updates are served signed.
for _ in $(seq 1 50); do
	kdig +dnssec +noall +answer @127.0.0.1 -p "$DNSPORT" flip.caa.test. A | grep -q RRSIG && break
	sleep 0.2
done

run_cases() { # run_cases LABEL TA-FILE: cases on stdin
	cat >"$T/cases-$1"
	COBBLE_CAA_DNS=127.0.0.1:$DNSPORT COBBLE_CAA_CASES=$T/cases-$1 COBBLE_CAA_TA=$2 \
		"$PROBE" >"$T/probe-$1.log" 2>&1 || fail "CAA lookup cases ($1)" "$T/probe-$1.log"
	grep -E '^(ok|FAIL)' "$T/probe-$1.log" | sed "s/^/  [$1] /" >&2
}

# name|wildcard|account|method|want|detail
run_cases signed "$T/ta" <<'EOF'
allow.caa.test|0|||1|
host.allow.caa.test|0|||1|
x.y.allow.caa.test|0|||1|
nothing.caa.test|0|||1|
iodef.caa.test|0|||1|
wild.caa.test|0|||1|
acct.caa.test|0|https://ca.test/acme/acct/1||1|
flip.caa.test|0|||1|
deny.caa.test|0|||0|CAA records for deny.caa.test forbid issuance: CAA record "0 issue \"other-ca.example\""
a.b.deny.caa.test|0|||0|CAA records at deny.caa.test (the relevant record set for a.b.deny.caa.test)
alias.caa.test|0|||0|CAA records for alias.caa.test forbid issuance
wild.caa.test|1|||0|CAA record "0 issuewild \";\"" does not authorize this CA
*.wild.caa.test|0|||0|CAA records for *.wild.caa.test forbid issuance
acct.caa.test|0|https://ca.test/acme/acct/2||0|accounturi=https://ca.test/acme/acct/1
crit.caa.test|0|||0|has an unknown critical tag
EOF

# Records change: the next check sees them (the resolver does not cache a forwarder's answers).
update "update add flip.caa.test. 60 CAA 0 issue \";\""
sleep 0.5
run_cases flipped "$T/ta" <<'EOF'
flip.caa.test|0|||0|CAA records for flip.caa.test forbid issuance: CAA record "0 issue \";\""
sub.flip.caa.test|0|||0|CAA records at flip.caa.test
EOF
update "update delete flip.caa.test. CAA"
sleep 0.5
run_cases unflipped "$T/ta" <<'EOF'
flip.caa.test|0|||1|
EOF

# A trust anchor that does not match the zone's key: every answer is bogus, and the check
# fails closed with a dns problem, even where the records would allow issuance.
echo "test. DS 11111 13 2 0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef" >"$T/ta-wrong"
run_cases bogus "$T/ta-wrong" <<'EOF'
allow.caa.test|0|||-1|DNSSEC validation failed looking up CAA for allow.caa.test
nothing.caa.test|0|||-1|DNSSEC
EOF

pass "CAA lookups against signed Knot: climb, CNAME, wildcard, accounturi, critical tag, changes, bogus"
