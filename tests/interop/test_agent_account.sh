#!/bin/bash
# cobble account lifecycle against pebble rejecting half of all nonces (every request must
# survive badNonce): register, show, update, key rollover (the new key then issues),
# deactivate (the account then refuses to work, with a clear error).
. "$(dirname "$0")/agent_lib.sh"
PEBBLE_NONCEREJECT=50
start_challtestsrv
start_agent_pebble

cob_fails register-no-tos 'agree-tos' register --email admin@cobble.test
cob_ok register --verbose register --email admin@cobble.test --agree-tos --account-key-type ec384
cob_ok register-again register --email admin@cobble.test --agree-tos
grep -q 'already registered' "$T/register-again.log" || fail "second register did not report the existing account" "$T/register-again.log"

cob_ok show account show
grep -q 'mailto:admin@cobble.test' "$T/show.out" || fail "account show: contact missing: $(cat "$T/show.out")"
grep -q 'status: valid' "$T/show.out" || fail "account show: not valid: $(cat "$T/show.out")"

cob_ok update --json account update --email ops@cobble.test
cob_ok show2 --json account show
grep -q 'mailto:ops@cobble.test' "$T/show2.out" || fail "account update: contact not changed on the server: $(cat "$T/show2.out")"

acct_dir=$CFG/accounts/127.0.0.1_$ACME_PORT
oldkey=$(openssl pkey -in "$acct_dir/account.key" -pubout | openssl md5)
cob_ok rollover --verbose account rollover
newkey=$(openssl pkey -in "$acct_dir/account.key" -pubout | openssl md5)
[ "$oldkey" != "$newkey" ] || fail "rollover: account.key unchanged"
[ "$(stat -c %a "$acct_dir/account.key")" = 600 ] || fail "rollover: new account.key not 0600"
openssl pkey -in "$acct_dir/account.key" -noout -text | grep -q 'P-384' || fail "rollover: key type not kept (ec384)"
# the server now knows the new key: issuing works
cob_ok issue-after-rollover --verbose issue -d roll.cobble.test --http01-standalone --http01-port "$HTTPPORT"
check_cert rollover "$CFG/certs/roll.cobble.test/cert.pem" "$CFG/certs/roll.cobble.test/chain.pem" roll.cobble.test

retries=$(cat "$T"/register.log "$T"/rollover.log "$T"/issue-after-rollover.log | grep -c 'badNonce from' || true)
[ "$retries" -gt 0 ] || fail "pebble rejected half the nonces yet cobble logged no badNonce retry"
log "badNonce retries: $retries, all recovered"

cob_ok deactivate account deactivate
grep -q 'deactivated' "$T/deactivate.log" || fail "deactivate: no confirmation" "$T/deactivate.log"
cob_fails after-deactivate 'unauthorized|deactivated|accountDoesNotExist' issue -d late.cobble.test --http01-standalone --http01-port "$HTTPPORT"
[ ! -e "$CFG/certs/late.cobble.test" ] || fail "a failed issue left certs/late.cobble.test behind"
agent_pass "register, show, update, rollover, deactivate (with 50% nonce rejection: $retries retries)"
