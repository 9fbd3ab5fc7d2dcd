"""A challenge POST's reply waits (challengeReplyWaitMs) for the validation it started
(RFC 8555 §7.5.1: "the updated challenge object"). MODE (the server's configuration):
  long  (a wait far longer than any local validation): the reply is the valid challenge, or the
        invalid one with its error; a client that hangs up while its reply waits costs nothing;
  short (a wait shorter than the responder's 3 s delay): the reply is processing with a
        Retry-After, the validation finishes later; a hang-up then is harmless too;
  off   (0): the reply is processing at once.
No timing is asserted: each outcome follows from the order of events. Exit status: failures."""
import http.client, json, os, time
from urllib.parse import urlparse
import lifecycle_acme as L

MODE = os.environ["MODE"]


def start(acct, name):
    """An order for name; returns (authz url, http-01 challenge)."""
    st, h, o, raw = L.order(acct, name)
    if st != 201:
        raise RuntimeError("newOrder %s: %s" % (st, raw[:300]))
    az = o["authorizations"][0]
    a = acct.post(az, None)[2]
    return az, [c for c in a["challenges"] if c["type"] == "http-01"][0]


def poll_valid(acct, az):
    for _ in range(80):
        st = acct.post(az, None)[2]["status"]
        if st != "pending":
            return st
        time.sleep(0.25)
    return "pending"


def answer(acct, name, keyauth=None, delay=0):
    az, ch = start(acct, name)
    L.TOKENS[ch["token"]] = keyauth or ch["token"] + "." + acct.key.thumb
    if delay:
        L.DELAY[ch["token"]] = delay
    return az, ch


def hang_up(acct, ch):
    """Sends the challenge POST and closes the connection without reading the reply."""
    u = urlparse(ch["url"])
    c = http.client.HTTPSConnection(u.hostname, u.port, context=L.CTX, timeout=30)
    c.request("POST", u.path, body=json.dumps(acct.key.jws(ch["url"], {}, acct.kid)),
              headers={"Content-Type": "application/jose+json"})
    c.close()


def processing(what, st, h, j, raw):
    L.check(st == 200 and j and j.get("status") == "processing" and h.get("retry-after", "").isdigit(),
            what + ": the reply is processing, with Retry-After", repr((raw[:300], h)))


A = L.Account()
L.check(A.status == 201, "account created", A.status)

if MODE == "long":
    az, ch = answer(A, "cw-fast.cobble.test")
    st, h, j, raw = A.post(ch["url"], {})
    L.check(st == 200 and j and j.get("status") == "valid" and "validated" in j and j.get("validationRecord"),
            "the challenge POST's reply is the valid challenge", raw[:300])
    L.check("retry-after" not in h, "no Retry-After on a finished challenge", h.get("retry-after"))
    L.check(A.post(az, None)[2]["status"] == "valid", "the first poll finds the authorization valid")

    az, ch = answer(A, "cw-wrong.cobble.test", keyauth="not-the-key-authorization")
    st, h, j, raw = A.post(ch["url"], {})
    L.check(st == 200 and j and j.get("status") == "invalid" and
            (j.get("error") or {}).get("type") == L.P + "incorrectResponse",
            "a failed validation: the reply is the invalid challenge with its error", raw[:300])

    az, ch = answer(A, "cw-hangup.cobble.test", delay=0.3)
    hang_up(A, ch)
    L.check(poll_valid(A, az) == "valid", "after a hang-up during the wait the validation ends valid")
elif MODE == "short":
    az, ch = answer(A, "cw-slow.cobble.test", delay=3.0)
    st, h, j, raw = A.post(ch["url"], {})
    processing("a validation slower than the wait", st, h, j, raw)
    L.check(poll_valid(A, az) == "valid", "the slow validation ends valid")

    az, ch = answer(A, "cw-slowhangup.cobble.test", delay=3.0)
    hang_up(A, ch)
    L.check(poll_valid(A, az) == "valid", "a hang-up before the wait ran out: the validation ends valid")
else:
    az, ch = answer(A, "cw-off.cobble.test")
    st, h, j, raw = A.post(ch["url"], {})
    processing("challengeReplyWaitMs 0", st, h, j, raw)
    L.check(poll_valid(A, az) == "valid", "and the authorization becomes valid")

st = L.req("GET", L.DIRECTORY)[0]
L.check(st == 200, "cobbled still answers", st)
raise SystemExit(L.failures)
