#!/bin/bash
# A client that hangs up while its finalize's reply waits for the certificate's WAL sync
# (issue 7: the reply waits, the event loop does not; api/replywait.c). Every fdatasync of
# cobbled is slowed by an LD_PRELOAD shim (slowsync.c, SLOWSYNC_MS) so the hang-up comes first;
# the order must still end valid, cobbled must keep serving and must not crash or (under ASan)
# leak. libevent 2.1 does not read a connection whose request awaits its reply, so here the
# hang-up shows when the reply is written; replywait.c's close callback covers evhttp closing
# the connection itself meanwhile (a timeout, shutdown).
. "$(dirname "$0")/lib.sh"
python3 -c 'import cryptography' 2>/dev/null || fail "python3-cryptography not installed"
command -v cc >/dev/null || fail "cc not installed"
cc -shared -fPIC -O2 -o "$T/slowsync.so" "$INTEROP_DIR/slowsync.c" -ldl || fail "cannot build slowsync.so"
start_dns
export LD_PRELOAD=$T/slowsync.so SLOWSYNC_MS=300
# An ASan cobbled wants its runtime first among the libraries; the shim only wraps fdatasync.
export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0"
start_server
unset LD_PRELOAD
DIRECTORY=$DIRECTORY CA_BUNDLE=$CA_BUNDLE HTTPPORT=$HTTPPORT PYTHONPATH=$INTEROP_DIR \
	run_logged "$T/driver.log" timeout 240 python3 "$INTEROP_DIR/finalize_hangup.py"
rc=$?
cat "$T/driver.log" >&2
[ "$rc" = 0 ] || fail "hang-up driver: $rc failure(s)"
kill -0 "$SERVER_PID" 2>/dev/null || fail "cobbled died"
# One process serves a SQLite database (its nonce window and account copies are its own): a
# second cobbled on the same data directory refuses to start, and the first keeps serving.
timeout 30 "$COBBLED" --lab --data-dir "$DATA" --listen "127.0.0.1:$(pick_port)" \
	--dns-resolver "127.0.0.1:$DNSPORT" --http01-port "$(pick_port)" >"$T/second.log" 2>&1 &&
	fail "a second cobbled started on the same SQLite database" "$T/second.log"
grep -q 'another cobbled serves' "$T/second.log" || fail "second cobbled: no clear refusal" "$T/second.log"
curl -sf --max-time 5 --cacert "$CA_BUNDLE" "$DIRECTORY" -o /dev/null || fail "the first cobbled stopped answering"
pass "finalize replies wait for the sync, hang-ups cost nothing; a second cobbled on the database is refused"
