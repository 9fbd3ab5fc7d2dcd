#!/bin/bash
# cobble against pebble (default nonce rejection, so badNonce retries happen): register,
# issue with http-01 standalone and webroot, list, renew (forced / not due), revoke by
# account key and by certificate key, --json summaries, on-disk layout.
. "$(dirname "$0")/agent_lib.sh"
start_challtestsrv
start_agent_pebble

cob_ok register register --email admin@cobble.test --agree-tos
[ -s "$CFG/accounts/127.0.0.1_$ACME_PORT/account.json" ] || fail "register: account.json not at accounts/127.0.0.1_$ACME_PORT/"
[ "$(stat -c %a "$CFG/accounts/127.0.0.1_$ACME_PORT/account.key")" = 600 ] || fail "register: account.key not 0600"

# http-01 standalone, two names
cob_ok issue-standalone --verbose issue -d a.cobble.test -d b.cobble.test --http01-standalone --http01-port "$HTTPPORT"
check_lineage a.cobble.test
check_cert standalone "$CFG/certs/a.cobble.test/cert.pem" "$CFG/certs/a.cobble.test/chain.pem" a.cobble.test b.cobble.test
grep -q '^order: ' "$T/issue-standalone.log" || fail "issue: no 'order:' progress line" "$T/issue-standalone.log"
grep -q 'authorization b.cobble.test: valid' "$T/issue-standalone.log" || fail "issue: no per-authorization progress" "$T/issue-standalone.log"

# http-01 webroot served by a throwaway web server on pebble's http-01 port
mkdir -p "$T/www"
WWW_PID=""
start_www() {
	python3 -m http.server --bind 127.0.0.1 --directory "$T/www" "$HTTPPORT" >"$T/www.log" 2>&1 &
	WWW_PID=$!
	HELPER_PIDS="$HELPER_PIDS $WWW_PID"
	for i in $(seq 1 50); do curl -s -o /dev/null "http://127.0.0.1:$HTTPPORT/" && break; sleep 0.1; done
}
stop_www() { kill "$WWW_PID" 2>/dev/null; wait "$WWW_PID" 2>/dev/null; }
start_www
cob_ok issue-webroot --json issue -d web.cobble.test --name web --key-type rsa2048 --http01-webroot "$T/www"
check_lineage web
check_cert webroot "$CFG/certs/web/cert.pem" "$CFG/certs/web/chain.pem" web.cobble.test
python3 -c 'import json,sys; j=json.load(open(sys.argv[1])); assert j["status"]=="issued" and j["lineage"]=="web", j' \
	"$T/issue-webroot.out" || fail "issue --json: unexpected summary: $(cat "$T/issue-webroot.out")"
[ -z "$(ls -A "$T/www/.well-known/acme-challenge" 2>/dev/null)" ] || fail "webroot: challenge files left behind"
openssl x509 -in "$CFG/certs/web/cert.pem" -noout -text | grep -q 'Public Key Algorithm: rsaEncryption' ||
	fail "--key-type rsa2048 did not give an RSA certificate"

stop_www

# list
cob_ok list list
grep -q '^a.cobble.test' "$T/list.out" && grep -q '^web' "$T/list.out" || fail "list: lineages missing: $(cat "$T/list.out")"

# renew: not due without --force (pebble has no ARI; 5-year pebble certs are far from a third left)
v1=$(lineage_version a.cobble.test)
cob_ok renew-notdue --json renew --name a.cobble.test
grep -q '"not-due"' "$T/renew-notdue.out" || fail "renew without --force renewed a fresh certificate: $(cat "$T/renew-notdue.out")"
old_serial=$(openssl x509 -in "$CFG/certs/a.cobble.test/cert.pem" -noout -serial)
cob_ok renew-force renew --name a.cobble.test --force --deploy-hook "echo \"\$COBBLE_LINEAGE|\$COBBLE_DOMAINS|\$COBBLE_CERT_PATH|\$COBBLE_KEY_PATH\" >$T/deployed"
v2=$(lineage_version a.cobble.test)
[ "$v1" != "$v2" ] || fail "renew --force: lineage still at version $v1"
[ -d "$CFG/archive/a.cobble.test/$v1" ] || fail "renew: old version $v1 not kept under archive/"
new_serial=$(openssl x509 -in "$CFG/certs/a.cobble.test/cert.pem" -noout -serial)
[ "$old_serial" != "$new_serial" ] || fail "renew --force: same certificate"
check_lineage a.cobble.test
grep -q "^a.cobble.test|a.cobble.test b.cobble.test|$CFG/certs/a.cobble.test/cert.pem|$CFG/certs/a.cobble.test/privkey.pem$" "$T/deployed" ||
	fail "deploy hook environment wrong: $(cat "$T/deployed" 2>/dev/null)"
grep -q 'deploy_hook' "$CFG/certs/a.cobble.test/renewal.json" || fail "renew --deploy-hook not saved in renewal.json"

# renew the webroot lineage from another directory: the stored webroot path is absolute
start_www
( cd / && cob renew --name web --force ) >"$T/renew-web.out" 2>"$T/renew-web.log" || fail "renew --name web --force failed" "$T/renew-web.log"
stop_www

# --reuse-key keeps the key across renewals; by default a renewal gets a fresh key
pub() { openssl pkey -in "$CFG/certs/$1/privkey.pem" -pubout | openssl md5; }
cob_ok reuse issue -d reuse.cobble.test --reuse-key --http01-standalone --http01-port "$HTTPPORT"
k1=$(pub reuse.cobble.test)
cob_ok reuse-renew renew --name reuse.cobble.test --force
[ "$(pub reuse.cobble.test)" = "$k1" ] || fail "--reuse-key: renewal changed the key"
k2=$(pub a.cobble.test)
cob_ok fresh-renew renew --name a.cobble.test --force
[ "$(pub a.cobble.test)" != "$k2" ] || fail "renewal without --reuse-key kept the old key"

# revoke by account key, then by certificate key
cob_ok revoke-acct revoke --name web --reason superseded
cp "$CFG/certs/a.cobble.test/cert.pem" "$T/a.pem"
cob_ok revoke-certkey revoke --cert "$T/a.pem" --key "$CFG/certs/a.cobble.test/privkey.pem" --reason keyCompromise
cob_fails revoke-again 'alreadyRevoked|already revoked' revoke --cert "$T/a.pem" --key "$CFG/certs/a.cobble.test/privkey.pem"

badnonces=$(cat "$T"/*.log | grep -c 'badNonce from' || true)
log "badNonce retries seen in verbose logs: $badnonces (pebble rejects 5% of nonces by default)"
agent_pass "register, issue (standalone, webroot), list, renew, revoke (account key, cert key)"
