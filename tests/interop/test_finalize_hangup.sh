#!/bin/bash
# A client that hangs up while its finalize's reply waits for the certificate's WAL sync
# (issue 7: the reply waits, the event loop does not; api/replywait.c). Every fdatasync of
# cobbled is slowed by an LD_PRELOAD shim (slowsync.c, SLOWSYNC_MS) so the hang-up comes first;
# the order must still end valid, cobbled must keep serving and must not crash or (under ASan)
# leak. libevent 2.1 does not read a connection whose request awaits its reply, so here the
# hang-up shows when the reply is written. While syncs fail, every request whose reply waits
# for its sync answers 500. The last part stops cobbled while a reply waits,
# where evhttp closes the connection itself (replywait.c's close callback).
. "$(dirname "$0")/lib.sh"
python3 -c 'import cryptography' 2>/dev/null || fail "python3-cryptography not installed"
command -v cc >/dev/null || fail "cc not installed"
cc -shared -fPIC -O2 -o "$T/slowsync.so" "$INTEROP_DIR/slowsync.c" -ldl || fail "cannot build slowsync.so"
start_dns
export LD_PRELOAD=$T/slowsync.so SLOWSYNC_MS=300 SLOWSYNC_FAIL_FILE=$T/fail-syncs
# An ASan cobbled wants its runtime first among the libraries; the shim only wraps fdatasync.
export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0"
start_server
unset LD_PRELOAD
DIRECTORY=$DIRECTORY CA_BUNDLE=$CA_BUNDLE HTTPPORT=$HTTPPORT PYTHONPATH=$INTEROP_DIR SLOWSYNC_MS=$SLOWSYNC_MS \
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
# While the disk fails syncs (EIO), nothing is promised: newAccount answers 500 serverInternal
# without a Location (its row may be lost: nothing a crash could take back was told), and so do
# the other requests whose reply waits for their sync (replywait_reply): an account update,
# keyChange, revokeCert and account deactivation. Once syncs work again, requests succeed.
DIRECTORY=$DIRECTORY CA_BUNDLE=$CA_BUNDLE HTTPPORT=$HTTPPORT PYTHONPATH=$INTEROP_DIR FAIL_FILE=$T/fail-syncs \
	run_logged "$T/driver3.log" timeout 90 python3 - <<'PY' || fail "requests during failing syncs" "$T/driver3.log"
import os
import lifecycle_acme as L
from cryptography.hazmat.primitives import serialization
A = L.Account()
cert, ck = L.issue(A, "syncfail.cobble.test")
cder = L.b64(cert.public_bytes(serialization.Encoding.DER))
open(os.environ["FAIL_FILE"], "w").close()

def refused(what, st, j, raw):
    L.check(st == 500 and L.ptype(j).endswith(":serverInternal") and "durabl" in (j or {}).get("detail", ""),
            what + " while syncs fail: 500 serverInternal, not stored durably", (st, raw[:200]))

st, h, j, raw = L.post(L.Key(), L.D["newAccount"], {"termsOfServiceAgreed": True})
refused("newAccount", st, j, raw)
L.check("location" not in {k.lower() for k in h}, "no Location for an account not known on disk", h)
st, _, j, raw = A.post(A.kid, {"contact": ["mailto:syncfail@cobble.test"]})
refused("account update", st, j, raw)
st, _, j, raw = A.post(L.D["revokeCert"], {"certificate": cder, "reason": 4})
refused("revokeCert", st, j, raw)
newk = L.Key()
inner = newk.jws(L.D["keyChange"], {"account": A.kid, "oldKey": A.key.jwk}, nonce=False)
st, _, j, raw = A.post(L.D["keyChange"], inner)
refused("keyChange", st, j, raw)
os.unlink(os.environ["FAIL_FILE"])
a = L.Account()
L.check(a.status == 201 and a.kid, "newAccount once syncs work again", a.status)
open(os.environ["FAIL_FILE"], "w").close()
st, _, j, raw = a.post(a.kid, {"status": "deactivated"})
refused("account deactivation", st, j, raw)
os.unlink(os.environ["FAIL_FILE"])
# The deactivation was committed; only its sync failed. The 500 promised nothing either way,
# and the account reads as deactivated from then on (RFC 8555 §7.3.6: 403 unauthorized).
st, _, j, raw = a.post(a.kid, {"contact": ["mailto:again@cobble.test"]})
L.check(st == 403 and L.ptype(j) == L.P + "unauthorized",
        "after syncs work again, the account whose deactivation got a 500 reads as deactivated",
        (st, raw[:200]))
raise SystemExit(L.failures)
PY
cat "$T/driver3.log" >&2

# A clean shutdown while a finalize's reply waits for its (slowed) sync: cobbled exits in time
# with status 0 and no sanitizer report (store_close settles the waiting reply, evhttp_free
# closes its connection: replywait.c's paths for a reply that can no longer be sent), the client
# gets a reply or the connection closed, and the certificate committed for that order is in
# the database after the exit, with the order valid.
rm -f "$T/marker"
DIRECTORY=$DIRECTORY CA_BUNDLE=$CA_BUNDLE HTTPPORT=$HTTPPORT PYTHONPATH=$INTEROP_DIR \
	timeout 120 python3 "$INTEROP_DIR/finalize_hangup.py" --shutdown "$T/marker" >"$T/driver2.log" 2>&1 &
DRIVER=$!
for _ in $(seq 1 600); do [ -s "$T/marker" ] && break; sleep 0.05; done
[ -s "$T/marker" ] || fail "shutdown driver: the finalize was not sent" "$T/driver2.log"
ORDER_ID=$(cat "$T/marker")
# Wait until the certificate is committed (its sync still takes SLOWSYNC_MS), then stop.
python3 - "$DATA/cobble.db" "$ORDER_ID" <<'PY' || fail "the finalize's certificate was not committed within 10 s"
import sqlite3, sys, time
for _ in range(1000):
    db = sqlite3.connect("file:%s?mode=ro" % sys.argv[1], uri=True, timeout=5)
    n = db.execute("SELECT count(*) FROM certs WHERE order_id = ?", (sys.argv[2],)).fetchone()[0]
    db.close()
    if n:
        raise SystemExit(0)
    time.sleep(0.01)
raise SystemExit(1)
PY
kill -TERM "$SERVER_PID"
for _ in $(seq 1 100); do kill -0 "$SERVER_PID" 2>/dev/null || break; sleep 0.1; done
kill -0 "$SERVER_PID" 2>/dev/null && fail "cobbled did not exit within 10 s of SIGTERM while a finalize reply waited"
wait "$SERVER_PID"
src=$?
SERVER_PID=""
[ "$src" = 0 ] || fail "cobbled exited with status $src after SIGTERM while a finalize reply waited" "$SERVER_LOG"
_sanitizer_check || fail "sanitizer report from cobbled's shutdown with a finalize reply waiting"
wait "$DRIVER" || fail "shutdown driver failed" "$T/driver2.log"
cat "$T/driver2.log" >&2
python3 - "$DATA/cobble.db" "$ORDER_ID" <<'PY' || fail "after the shutdown the order is not valid with its certificate stored"
import sqlite3, sys
db = sqlite3.connect(sys.argv[1])
st = db.execute("SELECT status, cert_serial FROM orders WHERE id = ?", (sys.argv[2],)).fetchone()
n = db.execute("SELECT count(*) FROM certs WHERE order_id = ? AND serial = ?", (sys.argv[2], st[1] if st else "")).fetchone()[0]
print("order %s: %s, certificate rows %d" % (sys.argv[2], st, n), file=sys.stderr)
raise SystemExit(0 if st and st[0] == "valid" and n == 1 else 1)
PY
pass "finalize and newAccount replies wait for the sync (a failed one is a 500), hang-ups cost nothing; a second cobbled on the database is refused; a shutdown with a reply waiting is clean and keeps its certificate"
