#!/bin/bash
# cobble against pebble with External Account Binding required and alternate roots:
# EAB registration (HS256), --preferred-chain picking an alternate chain, and bad input
# (unknown flags, unreadable webroot, a server sending garbage or hanging up): each a
# clear one-line error, a non-zero exit, and nothing left under certs/.
. "$(dirname "$0")/agent_lib.sh"
EAB_KID=kid-cobble
EAB_KEY=$(openssl rand 32 | basenc --base64url | tr -d '=\n')
PEBBLE_EXTRA="\"externalAccountBindingRequired\": true, \"externalAccountMACKeys\": {\"$EAB_KID\": \"$EAB_KEY\"}"
PEBBLE_ENV="PEBBLE_ALTERNATE_ROOTS=2"
start_challtestsrv
start_agent_pebble

cob_fails eab-missing 'external account binding' register --email a@cobble.test --agree-tos
cob_fails eab-wrong 'unauthorized|malformed|externalAccount|binding' register --email a@cobble.test --agree-tos \
	--eab-kid "$EAB_KID" --eab-hmac-key "$(openssl rand 32 | basenc --base64url | tr -d '=\n')"
rm -rf "$CFG/accounts"
cob_ok eab register --email a@cobble.test --agree-tos --eab-kid "$EAB_KID" --eab-hmac-key "$EAB_KEY"

# --preferred-chain: the issuer CN of pebble's alternate root 1
curl -sf --cacert "$T/pebble/tls-root.pem" "$PEBBLE_MGMT/roots/1" >"$T/alt-root.pem" || fail "no alternate root from pebble"
alt_cn=$(openssl x509 -in "$T/alt-root.pem" -noout -subject -nameopt multiline | sed -n 's/^ *commonName *= *//p')
[ -n "$alt_cn" ] || fail "could not read the alternate root's CN"
cob_ok preferred issue -d chain.cobble.test --preferred-chain "$alt_cn" --http01-standalone --http01-port "$HTTPPORT"
top=$(awk '/BEGIN CERT/{n++} {print > "'"$T"'/chainpart" n ".pem"}' "$CFG/certs/chain.cobble.test/fullchain.pem"; \
	last=$(ls "$T"/chainpart*.pem | sort -V | tail -n1); openssl x509 -in "$last" -noout -issuer -nameopt multiline | sed -n 's/^ *commonName *= *//p')
[ "$top" = "$alt_cn" ] || fail "--preferred-chain \"$alt_cn\": chain tops out at \"$top\"" "$T/preferred.log"
grep -q '"preferred_chain"' "$CFG/certs/chain.cobble.test/renewal.json" || fail "preferred_chain not kept in renewal.json"
log "preferred chain: top issuer \"$top\""

# bad input
cob_fails unknown-flag 'unknown option --frobnicate' issue --frobnicate -d x.cobble.test --http01-standalone
[ "$(cob issue --frobnicate >/dev/null 2>&1; echo $?)" = 2 ] || fail "usage errors must exit 2"
cob_fails no-solver 'choose a solver' issue -d x.cobble.test
cob_fails two-solvers 'choose one solver' issue -d x.cobble.test --http01-standalone --tlsalpn01-standalone
cob_fails bad-name 'not a DNS name' issue -d 'bad name' --http01-standalone
cob_fails bad-webroot 'webroot .*: No such file' issue -d x.cobble.test --http01-webroot "$T/nope"
mkdir -p "$T/ro" && chmod 555 "$T/ro"
if [ "$(id -u)" != 0 ]; then
	cob_fails ro-webroot 'not writable' issue -d x.cobble.test --http01-webroot "$T/ro"
fi

# a "server" that answers garbage, and one that hangs up
gport=$(pick_port)
python3 - "$gport" >"$T/garbage.log" 2>&1 <<'EOP' &
import http.server, sys
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(200); self.send_header("Content-Type", "application/json"); self.end_headers()
        self.wfile.write(b"<html>not json</html>")
    def log_message(self, *a): pass
http.server.HTTPServer(("127.0.0.1", int(sys.argv[1])), H).serve_forever()
EOP
HELPER_PIDS="$HELPER_PIDS $!"
hport=$(pick_port)
python3 - "$hport" >"$T/hangup.log" 2>&1 <<'EOP' &
import socket, sys
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(sys.argv[1]))); s.listen(16)
while True:
    c, _ = s.accept(); c.recv(100); c.close()
EOP
HELPER_PIDS="$HELPER_PIDS $!"
sleep 0.5
"$COBBLE" --server "http://127.0.0.1:$gport/dir" --config-dir "$CFG" issue -d g.cobble.test --http01-standalone \
	>/dev/null 2>"$T/garbage-client.log" && fail "garbage server: cobble succeeded"
grep -q 'not JSON' "$T/garbage-client.log" || fail "garbage server: unclear error" "$T/garbage-client.log"
log "garbage server: $(head -n1 "$T/garbage-client.log")"
start=$SECONDS
"$COBBLE" --server "http://127.0.0.1:$hport/dir" --config-dir "$CFG" issue -d h.cobble.test --http01-standalone \
	>/dev/null 2>"$T/hangup-client.log" && fail "hang-up server: cobble succeeded"
grep -q 'cannot reach the ACME server' "$T/hangup-client.log" || fail "hang-up server: unclear error" "$T/hangup-client.log"
log "hang-up server ($((SECONDS - start)) s with bounded retries): $(head -n1 "$T/hangup-client.log")"
for n in g.cobble.test h.cobble.test x.cobble.test; do
	[ ! -e "$CFG/certs/$n" ] || fail "failed run left certs/$n"
done
agent_pass "EAB, preferred chain, bad input"
