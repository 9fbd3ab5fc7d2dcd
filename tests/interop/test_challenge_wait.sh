#!/bin/bash
# A challenge POST answered with the finished validation when it ends within
# challengeReplyWaitMs: valid or invalid in the reply; processing with Retry-After when the
# validation is slower than the wait; a hang-up while waiting harmless either way; with 0,
# processing at once (challenge_wait.py). Three cobbled runs, one per setting.
. "$(dirname "$0")/lib.sh"
ACME_SERVER=cobbled # challengeReplyWaitMs is cobbled's
python3 -c 'import cryptography' 2>/dev/null || fail "python3-cryptography not installed"
start_dns
for run in long:10000 short:200 off:0; do
	mode=${run%%:*}
	printf '{"challengeReplyWaitMs": %s}\n' "${run#*:}" >"$T/$mode.json"
	SERVER_LOG=$T/server-$mode.log
	COBBLED_ARGS="--config $T/$mode.json" start_cobbled
	DIRECTORY=$DIRECTORY CA_BUNDLE=$CA_BUNDLE HTTPPORT=$HTTPPORT PYTHONPATH=$INTEROP_DIR MODE=$mode \
		run_logged "$T/driver-$mode.log" timeout 120 python3 "$INTEROP_DIR/challenge_wait.py"
	rc=$?
	cat "$T/driver-$mode.log" >&2
	[ "$rc" = 0 ] || fail "challenge-wait driver ($mode): $rc failure(s)" "$SERVER_LOG"
	_stop_pid "$SERVER_PID" || fail "cobbled ($mode) did not stop on SIGTERM" "$SERVER_LOG"
	SERVER_PID=""
	_sanitizer_check || fail "sanitizer report from cobbled ($mode)"
	rm -rf "$DATA"
done
pass "a challenge POST's reply carries a validation that ends within the wait; slower ones are processing; hang-ups are harmless; 0 turns the wait off"
