#!/bin/bash
# cobble against cobbled (lib.sh's start_cobbled: lab mode, Knot for DNS): register, issue
# with http-01 standalone on the port cobbled validates, renew --force, revoke by account
# key and by certificate key, account update.
. "$(dirname "$0")/agent_lib.sh"
ACME_SERVER=cobbled
start_dns
# A challenge reply that always waits for its (local) validation: the agent takes a valid
# challenge in the reply as a valid authorization and does not poll (RFC 8555 §7.5.1); checked
# below. Against pebble (test_agent_http01) the agent polls.
printf '{"challengeReplyWaitMs": 10000}\n' >"$T/wait.json"
COBBLED_ARGS="--config $T/wait.json" start_cobbled

cob_ok register register --email admin@cobble.test --agree-tos
cob_ok issue --verbose issue -d one.cobble.test -d two.cobble.test --http01-standalone --http01-port "$HTTPPORT"
check_lineage one.cobble.test
[ "$(grep -c "valid (in the challenge's reply)" "$T/issue.log")" = 2 ] ||
	fail "the agent did not take the valid challenges in the replies as valid authorizations" "$T/issue.log"
check_cert cobbled "$CFG/certs/one.cobble.test/cert.pem" "$CFG/certs/one.cobble.test/chain.pem" one.cobble.test two.cobble.test
v1=$(lineage_version one.cobble.test)
cob_ok renew renew --name one.cobble.test --force
[ "$(lineage_version one.cobble.test)" != "$v1" ] || fail "renew --force did not install a new version"
cob_ok update account update --email ops@cobble.test
cp "$CFG/certs/one.cobble.test/cert.pem" "$T/one.pem"
if curl -sf --cacert "$CA_BUNDLE" "$DIRECTORY" | grep -q '"revokeCert"'; then
	cob_ok revoke-certkey revoke --cert "$T/one.pem" --key "$CFG/certs/one.cobble.test/privkey.pem" --reason keyCompromise
	cob_ok issue2 issue -d three.cobble.test --http01-standalone --http01-port "$HTTPPORT"
	cob_ok revoke-acct revoke --name three.cobble.test
	agent_pass "issue, renew, account update, revoke (cert key, account key) against cobbled"
fi
# cobbled without revocation yet: cobble must say so plainly
cob_fails revoke-unoffered 'does not offer revocation' revoke --cert "$T/one.pem"
log "NOTE: cobbled's directory has no revokeCert yet; revocation not tested against cobbled"
agent_pass "issue, renew, account update against cobbled (revokeCert not offered by cobbled yet)"
