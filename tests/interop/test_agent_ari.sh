#!/bin/bash
# ARI-driven renewal (RFC 9773), profile selection, and back-off on 5xx / rateLimited. Pebble 2.4 has no renewalInfo, so ari_proxy.py fronts it
# and adds one: with the window 30 days ahead `renew` leaves the certificate alone (even
# though the lifetime rule alone would also say "not due", the reason must name the CA's
# window); with the window open it renews and the new order carries "replaces" = the
# old certificate's CertID (base64url(AKI keyIdentifier) "." base64url(serial)).
. "$(dirname "$0")/agent_lib.sh"
start_challtestsrv
start_agent_pebble
PPORT=$(pick_port)
mkdir -p "$T/ari"
echo later >"$T/ari/mode"
python3 "$INTEROP_DIR/ari_proxy.py" "$PPORT" "https://127.0.0.1:$ACME_PORT" "$T/pebble/tls.pem" "$T/pebble/tls.key" \
	"$T/pebble/tls-root.pem" "$T/ari" >"$T/ari-proxy.log" 2>&1 &
HELPER_PIDS="$HELPER_PIDS $!"
DIRECTORY=https://127.0.0.1:$PPORT/dir
for i in $(seq 1 50); do curl -sf --cacert "$CA_BUNDLE" "$DIRECTORY" -o /dev/null && break; sleep 0.1; done
curl -sf --cacert "$CA_BUNDLE" "$DIRECTORY" | grep -q renewalInfo || fail "ARI proxy did not come up" "$T/ari-proxy.log"

cob_ok register register --email admin@cobble.test --agree-tos
cob_ok issue issue -d ari.cobble.test --http01-standalone --http01-port "$HTTPPORT"
cert=$CFG/certs/ari.cobble.test/cert.pem
want=$(python3 - "$cert" <<'EOP'
import base64, sys
from cryptography import x509
c = x509.load_pem_x509_certificate(open(sys.argv[1], "rb").read())
aki = c.extensions.get_extension_for_class(x509.AuthorityKeyIdentifier).value.key_identifier
n = c.serial_number
der = n.to_bytes((n.bit_length() + 8) // 8, "big")  # DER INTEGER content: sign bit kept clear
b = lambda x: base64.urlsafe_b64encode(x).rstrip(b"=").decode()
print(b(aki) + "." + b(der))
EOP
)
v1=$(lineage_version ari.cobble.test)

cob_ok renew-later --json renew
grep -q '"not-due"' "$T/renew-later.out" || fail "renew before the ARI window renewed: $(cat "$T/renew-later.out")"
grep -q 'CA suggests renewing between' "$T/renew-later.log" || fail "renew did not consult ARI" "$T/renew-later.log"
[ "$(tail -n1 "$T/ari/renewal-info.log")" = "$want" ] ||
	fail "renewalInfo asked for CertID $(tail -n1 "$T/ari/renewal-info.log"), expected $want"
[ "$(lineage_version ari.cobble.test)" = "$v1" ] || fail "lineage changed although not due"

echo due >"$T/ari/mode"
cob_ok renew-due --json renew
grep -q '"renewed"' "$T/renew-due.out" || fail "renew inside the ARI window did not renew: $(cat "$T/renew-due.out")"
grep -q "renewal window" "$T/renew-due.log" || fail "renew reason does not name the ARI window" "$T/renew-due.log"
[ "$(lineage_version ari.cobble.test)" != "$v1" ] || fail "ARI renewal did not install a new version"
[ -s "$T/ari/replaces.log" ] || fail "newOrder carried no \"replaces\""
[ "$(tail -n1 "$T/ari/replaces.log")" = "$want" ] || fail "replaces = $(tail -n1 "$T/ari/replaces.log"), expected $want"
grep -q 'refused "replaces"' "$T/renew-due.log" && log "note: pebble refused replaces; cobble re-ordered without it"

# profiles advertised by the (proxied) directory: a known one is sent, an unknown one refused
cob_fails profile-unknown 'offers only: classic shortlived' issue -d p.cobble.test --profile tiny --http01-standalone --http01-port "$HTTPPORT"
cob_ok profile issue -d p.cobble.test --profile shortlived --http01-standalone --http01-port "$HTTPPORT"
[ "$(tail -n1 "$T/ari/profile.log" 2>/dev/null)" = shortlived ] || fail "newOrder did not carry profile shortlived"
grep -q '"profile": "shortlived"' "$CFG/certs/p.cobble.test/renewal.json" || fail "profile not kept in renewal.json"
# bounded back-off: transient errors are retried honouring Retry-After, then given up on
printf '503 serverInternal 1\n429 rateLimited 1\n' >"$T/ari/inject"
start=$SECONDS
cob_ok retry-ok --verbose issue -d retry.cobble.test --http01-standalone --http01-port "$HTTPPORT"
[ "$(grep -c 'retrying in 1 s' "$T/retry-ok.log")" -ge 2 ] || fail "no back-off on 503/rateLimited" "$T/retry-ok.log"
printf '503 serverInternal 0\n%.0s' 1 2 3 4 5 6 >"$T/ari/inject"
cob_fails retry-giveup 'serverInternal.*gave up after 5 attempts' issue -d retry.cobble.test --http01-standalone --http01-port "$HTTPPORT"
printf '429 rateLimited 3600\n' >"$T/ari/inject"
s0=$SECONDS
cob_fails ratelimited 'rateLimited.*retry after 3600 s' issue -d retry.cobble.test --http01-standalone --http01-port "$HTTPPORT"
[ $((SECONDS - s0)) -lt 30 ] || fail "a Retry-After of an hour was sat out instead of reported"
: >"$T/ari/inject"

log "ARI: not due before the window, renewed inside it, replaces=$want"
agent_pass "ARI window honoured, replaces sent, profile chosen, 5xx/rateLimited back-off bounded"
