#!/bin/bash
# Bad input gets the right problem document and the server keeps serving:
# malformed JSON, wrong `url`, replayed nonce, unknown kid, oversized body, and a CSR
# for a name not in the order (after a real http-01 validation). Every error response
# must carry Replay-Nonce, Link rel="index" and Content-Type application/problem+json.
# The ACME requests are signed by a small Python driver (python3-cryptography only).
. "$(dirname "$0")/lib.sh"
python3 -c 'import cryptography' 2>/dev/null || fail "python3-cryptography not installed"
start_dns
start_server

DIRECTORY=$DIRECTORY CA_BUNDLE=$CA_BUNDLE HTTPPORT=$HTTPPORT \
	run_logged "$T/driver.log" timeout 240 python3 - <<'PYEOF'
import base64, hashlib, http.client, http.server, json, os, ssl, sys, threading, time
from urllib.parse import urlparse
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, utils
from cryptography.x509.oid import NameOID

DIRECTORY = os.environ["DIRECTORY"]
HTTPPORT = int(os.environ["HTTPPORT"])
CTX = ssl.create_default_context(cafile=os.environ["CA_BUNDLE"])
PROB = "urn:ietf:params:acme:error:"
results = []


def check(ok, what, detail=""):
    results.append((bool(ok), what))
    # The response is shown only for a failed check, to keep the log readable.
    print(("ok     - " if ok else "NOT OK - ") + what + (" (got " + detail + ")" if detail and not ok else ""),
          flush=True)
    return bool(ok)


def b64(b):
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()


class Resp:
    def __init__(self, status, headers, body):
        self.status, self.headers, self.body = status, headers, body

    def h(self, name):
        return self.headers.get(name.lower())

    def json(self):
        try:
            return json.loads(self.body)
        except Exception:
            return None

    def brief(self):
        body = " ".join(self.body[:400].decode("utf-8", "replace").split())
        return "HTTP %s, Content-Type %s, body: %s" % (self.status, self.h("content-type"), body)


def request(method, url, body=None, ctype="application/jose+json"):
    """One request on a fresh connection. Returns Resp, or raises on a dropped connection."""
    p = urlparse(url)
    c = http.client.HTTPSConnection(p.hostname, p.port, context=CTX, timeout=30)
    hdrs = {"User-Agent": "cobble-interop-badinput"}
    if body is not None:
        hdrs["Content-Type"] = ctype
    path = p.path + ("?" + p.query if p.query else "")
    try:
        c.request(method, path, body=body, headers=hdrs)
    except (BrokenPipeError, ConnectionResetError):
        pass  # the server may answer before reading everything; try to read the answer
    r = c.getresponse()
    data = r.read()
    headers = {}
    for k, v in r.getheaders():
        k = k.lower()
        headers[k] = headers[k] + ", " + v if k in headers and k == "link" else v
    c.close()
    return Resp(r.status, headers, data)


class Key:
    def __init__(self):
        self.k = ec.generate_private_key(ec.SECP256R1())
        n = self.k.public_key().public_numbers()
        self.jwk = {"crv": "P-256", "kty": "EC",
                    "x": b64(n.x.to_bytes(32, "big")), "y": b64(n.y.to_bytes(32, "big"))}
        tp = json.dumps(self.jwk, sort_keys=True, separators=(",", ":")).encode()
        self.thumb = b64(hashlib.sha256(tp).digest())

    def sign(self, data):
        r, s = utils.decode_dss_signature(self.k.sign(data, ec.ECDSA(hashes.SHA256())))
        return r.to_bytes(32, "big") + s.to_bytes(32, "big")


directory = json.loads(request("GET", DIRECTORY).body)


def nonce():
    r = request("HEAD", directory["newNonce"])
    n = r.h("replay-nonce")
    if not n:
        raise SystemExit("HEAD newNonce gave no Replay-Nonce: " + r.brief())
    return n


def jws(key, url, payload, kid=None, nonce_=None, url_hdr=None, raw_payload=None):
    prot = {"alg": "ES256", "nonce": nonce_ or nonce(), "url": url_hdr or url}
    if kid:
        prot["kid"] = kid
    else:
        prot["jwk"] = key.jwk
    p64 = b64(json.dumps(prot).encode())
    if raw_payload is not None:
        pl64 = b64(raw_payload)
    else:
        pl64 = "" if payload is None else b64(json.dumps(payload).encode())
    sig = key.sign((p64 + "." + pl64).encode())
    return json.dumps({"protected": p64, "payload": pl64, "signature": b64(sig)}).encode()


def post(key, url, payload, **kw):
    return request("POST", url, jws(key, url, payload, **kw))


def expect_problem(what, r, types, statuses):
    """An error response: the status and problem type we want, plus the headers every error carries."""
    j = r.json() if r is not None else None
    t = j.get("type", "") if isinstance(j, dict) else ""
    # types=None: any urn:ietf:params:acme:error:* type will do.
    tok = t.startswith(PROB) if types is None else t in [PROB + x for x in types]
    ok = check(r.status in statuses and tok,
               "%s -> %s %s" % (what, "/".join(map(str, statuses)), "|".join(types or ["problem"])), r.brief())
    if not ok:
        return False
    if types is None or len(types) > 1:
        print("         (%s answered %s)" % (what, t))
    check(r.h("replay-nonce"), what + ": error carries Replay-Nonce")
    check((r.h("content-type") or "").startswith("application/problem+json"),
          what + ": Content-Type application/problem+json", str(r.h("content-type")))
    check('rel="index"' in (r.h("link") or ""), what + ': Link rel="index"', str(r.h("link")))
    check(isinstance(j.get("detail"), str) and j["detail"], what + ": problem has a detail")
    return True


acct_key = Key()

# --- an account to use -------------------------------------------------------------------
r = post(acct_key, directory["newAccount"], {"termsOfServiceAgreed": True})
if not check(r.status in (200, 201) and r.h("location"), "newAccount -> 201 with Location", r.brief()):
    sys.exit(1)
KID = r.h("location")
print("account", KID)

# --- malformed JSON ----------------------------------------------------------------------
r = request("POST", directory["newAccount"], b'{"protected": "eyJhbGciOiJFUzI1NiJ9", oops')
expect_problem("body that is not JSON", r, ["malformed"], [400])
r = post(acct_key, directory["newOrder"], None, kid=KID, raw_payload=b'{"identifiers": [')
expect_problem("signed payload that is not JSON", r, ["malformed"], [400])

# --- wrong url in the protected header -----------------------------------------------------
# RFC 8555 §6.4: "If the two do not match, then the server MUST reject the request as
# unauthorized." Many CAs answer malformed; both are accepted, the answer is printed.
r = post(acct_key, directory["newOrder"],
         {"identifiers": [{"type": "dns", "value": "url.cobble.test"}]},
         kid=KID, url_hdr=directory["newAccount"])
expect_problem("url header != request URL", r, ["unauthorized", "malformed"], [400, 401, 403])

# --- replayed nonce ----------------------------------------------------------------------
n = nonce()
r = post(acct_key, KID, None, kid=KID, nonce_=n)
check(r.status == 200, "POST-as-GET account with a fresh nonce -> 200", r.brief())
r = post(acct_key, KID, None, kid=KID, nonce_=n)
expect_problem("replayed nonce", r, ["badNonce"], [400])
r = post(acct_key, KID, None, kid=KID, nonce_="AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA")
expect_problem("made-up nonce", r, ["badNonce"], [400])

# --- unknown kid ---------------------------------------------------------------------------
bogus = KID.rstrip("/").rsplit("/", 1)[0] + "/987654321000"
r = post(Key(), directory["newOrder"],
         {"identifiers": [{"type": "dns", "value": "kid.cobble.test"}]}, kid=bogus)
expect_problem("unknown kid " + bogus, r, ["accountDoesNotExist"], [400])

# --- oversized body (100 KiB, validly signed) ------------------------------------------------
try:
    r = post(acct_key, directory["newOrder"],
             {"identifiers": [{"type": "dns", "value": "big.cobble.test"}], "pad": "A" * (100 * 1024)},
             kid=KID)
    expect_problem("100 KiB body", r, None, [400, 413])
except Exception as e:
    check(False, "100 KiB body -> 413/400 problem document", "connection dropped: %r" % e)

# --- a CSR for a name not in the order -------------------------------------------------------
NAME = "csr.cobble.test"
keyauths = {}


class Challenge(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        tok = self.path.rsplit("/", 1)[-1]
        if self.path.startswith("/.well-known/acme-challenge/") and tok in keyauths:
            body = keyauths[tok].encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/octet-stream")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
        else:
            self.send_error(404)

    def log_message(self, fmt, *args):
        print("http-01 server:", fmt % args, flush=True)


srv = http.server.ThreadingHTTPServer(("127.0.0.1", HTTPPORT), Challenge)
threading.Thread(target=srv.serve_forever, daemon=True).start()


def poll(url, want, what, limit=60):
    deadline = time.time() + limit
    while True:
        r = post(acct_key, url, None, kid=KID)
        j = r.json() or {}
        if j.get("status") in want or j.get("status") == "invalid" or time.time() > deadline:
            return r, j
        time.sleep(min(float(r.h("retry-after") or 1), 2))


def csr_for(names):
    k = ec.generate_private_key(ec.SECP256R1())
    b = x509.CertificateSigningRequestBuilder().subject_name(x509.Name([]))
    b = b.add_extension(x509.SubjectAlternativeName([x509.DNSName(n) for n in names]), critical=False)
    return b64(b.sign(k, hashes.SHA256()).public_bytes(serialization.Encoding.DER))


def order_flow():
    r = post(acct_key, directory["newOrder"], {"identifiers": [{"type": "dns", "value": NAME}]}, kid=KID)
    if not check(r.status == 201 and r.h("location"), "newOrder " + NAME + " -> 201", r.brief()):
        return None
    order_url, order = r.h("location"), r.json()
    r = post(acct_key, order["authorizations"][0], None, kid=KID)
    authz = r.json() or {}
    ch = [c for c in authz.get("challenges", []) if c.get("type") == "http-01"]
    if not check(r.status == 200 and ch, "authorization offers http-01", r.brief()):
        return None
    ch = ch[0]
    keyauths[ch["token"]] = ch["token"] + "." + acct_key.thumb
    r = post(acct_key, ch["url"], {}, kid=KID)
    check(r.status == 200, "respond to http-01 challenge -> 200", r.brief())
    r, j = poll(order["authorizations"][0], ("valid",), "authz")
    if not check(j.get("status") == "valid", "authorization becomes valid", r.brief()):
        return None
    r, j = poll(order_url, ("ready",), "order")
    if not check(j.get("status") == "ready", "order becomes ready", r.brief()):
        return None
    return order_url, j


got = order_flow()
if got:
    order_url, order = got
    r = post(acct_key, order["finalize"], {"csr": csr_for(["other.cobble.test"])}, kid=KID)
    expect_problem("CSR for a name not in the order", r, ["badCSR"], [400])
    r = post(acct_key, order["finalize"], {"csr": csr_for([NAME, "extra.cobble.test"])}, kid=KID)
    expect_problem("CSR with an extra name", r, ["badCSR"], [400])
    r = post(acct_key, order["finalize"], {"csr": "bm90IGEgQ1NS"}, kid=KID)
    expect_problem("CSR that is not DER", r, ["badCSR", "malformed"], [400])
srv.shutdown()

# --- still serving -------------------------------------------------------------------------
r = request("GET", DIRECTORY)
check(r.status == 200 and (r.json() or {}).get("newNonce"), "GET /directory still answers", r.brief())
r = post(acct_key, KID, None, kid=KID)
check(r.status == 200, "signed POST-as-GET still works", r.brief())

bad = [w for ok, w in results if not ok]
print("%d checks, %d failed" % (len(results), len(bad)))
if bad:
    print("FAILED CHECKS: " + "; ".join(bad))
    sys.exit(1)
PYEOF
rc=$?
cat "$T/driver.log"
if [ $rc -ne 0 ]; then
	reason=$(grep '^FAILED CHECKS:' "$T/driver.log" | head -n 1)
	[ -n "$reason" ] || reason="python driver exited with status $rc: $(tail -n 3 "$T/driver.log" | tr '\n' ' ')"
	fail "$reason"
fi
pass "$(tail -n 1 "$T/driver.log")"
