#!/bin/bash
# The life cycle through a small Python ACME client (tests/interop/lifecycle_acme.py):
# ARI windows (fresh, revoked), replaces once and not twice, revokeCert by the certificate's
# key and its refusals, the keyCompromise block list (account key, CSR), keyChange (old key
# stops, new works, a key in use is refused), authorization and account deactivation.
. "$(dirname "$0")/lib.sh"
python3 -c 'import cryptography' 2>/dev/null || fail "python3-cryptography not installed"
start_dns
start_server
DIRECTORY=$DIRECTORY CA_BUNDLE=$CA_BUNDLE HTTPPORT=$HTTPPORT \
	run_logged "$T/driver.log" timeout 240 python3 "$INTEROP_DIR/lifecycle_acme.py"
rc=$?
cat "$T/driver.log" >&2
[ "$rc" = 0 ] || fail "life-cycle driver: $rc failure(s) (101: crashed)"
kill -0 "$SERVER_PID" 2>/dev/null || fail "cobbled died"
pass "ARI, replaces, revokeCert by certificate key, key block list, keyChange, deactivation"
