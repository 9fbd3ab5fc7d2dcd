#!/bin/bash
# cobble's dns-01 RFC 2136 solver against Knot (lib.sh's lab zone `test.`), with pebble
# resolving through that Knot: TSIG-signed UPDATE, wait for the authoritative servers,
# a wildcard, clean-up of the TXT records, renewal from renewal.json, and a wrong TSIG
# key giving a clear error.
. "$(dirname "$0")/agent_lib.sh"
start_dns
start_agent_pebble
TSIG="$TSIG_NAME:$TSIG_ALG:$TSIG_SECRET"

cob_ok register register --email admin@cobble.test --agree-tos
cob_ok issue-rfc2136 --verbose issue -d rfc.cobble.test --dns01-rfc2136 "$DNS_SERVER" --tsig "$TSIG"
check_lineage rfc.cobble.test
check_cert rfc2136 "$CFG/certs/rfc.cobble.test/cert.pem" "$CFG/certs/rfc.cobble.test/chain.pem" rfc.cobble.test
grep -q 'served by all' "$T/issue-rfc2136.log" || fail "no wait for the authoritative servers" "$T/issue-rfc2136.log"
[ -z "$(dns_query _acme-challenge.rfc.cobble.test TXT)" ] || fail "TXT record left in the zone: $(dns_query _acme-challenge.rfc.cobble.test TXT)"

cob_ok issue-wild issue -d '*.w.cobble.test' -d w.cobble.test --dns01-rfc2136 "$DNS_SERVER" --tsig "$TSIG"
check_cert rfc2136-wildcard "$CFG/certs/_.w.cobble.test/cert.pem" "$CFG/certs/_.w.cobble.test/chain.pem" '*.w.cobble.test' w.cobble.test
[ -z "$(dns_query _acme-challenge.w.cobble.test TXT)" ] || fail "wildcard TXT records left in the zone"

v1=$(lineage_version rfc.cobble.test)
cob_ok renew renew --name rfc.cobble.test --force
[ "$(lineage_version rfc.cobble.test)" != "$v1" ] || fail "renew through renewal.json (rfc2136) did not produce a new version"

cob_fails bad-tsig 'refused|NOTAUTH|TSIG|tsig' issue -d nope.cobble.test --dns01-rfc2136 "$DNS_SERVER" \
	--tsig "$TSIG_NAME:$TSIG_ALG:$(openssl rand -base64 32)"
cob_fails bad-tsig-syntax 'expected NAME:ALGORITHM:BASE64SECRET' issue -d nope.cobble.test --dns01-rfc2136 "$DNS_SERVER" --tsig "justakey"
[ ! -e "$CFG/certs/nope.cobble.test" ] || fail "failed issue left certs/nope.cobble.test"
agent_pass "RFC 2136 with TSIG: issue, wildcard, clean-up, renew, bad key"
