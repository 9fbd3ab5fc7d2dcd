"""A small ACME client for the life-cycle interop tests: accounts, orders over http-01,
revokeCert, keyChange, renewalInfo, deactivation. Needs python3-cryptography only.
Each check prints "ok - ..." or "NOT OK - ..."; the exit status is the number of failures."""
import base64, hashlib, http.client, http.server, json, os, ssl, sys, threading, time
from datetime import datetime, timezone
from urllib.parse import urlparse
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, utils
from cryptography.x509.oid import NameOID, ExtensionOID

DIRECTORY = os.environ["DIRECTORY"]
HTTPPORT = int(os.environ["HTTPPORT"])
CTX = ssl.create_default_context(cafile=os.environ["CA_BUNDLE"])
P = "urn:ietf:params:acme:error:"
failures = 0


def check(ok, what, got=""):
    global failures
    if not ok:
        failures += 1
    print(("ok - " if ok else "NOT OK - ") + what + ("" if ok or not got else " (got %s)" % got), flush=True)
    return ok


def b64(b):
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()


def req(method, url, body=None):
    u = urlparse(url)
    c = http.client.HTTPSConnection(u.hostname, u.port, context=CTX, timeout=30)
    hdrs = {"Content-Type": "application/jose+json"} if body is not None else {}
    c.request(method, u.path + ("?" + u.query if u.query else ""), body=body, headers=hdrs)
    r = c.getresponse()
    data = r.read()
    h = {k.lower(): v for k, v in r.getheaders()}
    c.close()
    try:
        j = json.loads(data)
    except Exception:
        j = None
    return r.status, h, j, data


D = req("GET", DIRECTORY)[2]


class Key:
    def __init__(self, k=None):
        self.k = k or ec.generate_private_key(ec.SECP256R1())
        n = self.k.public_key().public_numbers()
        self.jwk = {"crv": "P-256", "kty": "EC", "x": b64(n.x.to_bytes(32, "big")), "y": b64(n.y.to_bytes(32, "big"))}
        self.thumb = b64(hashlib.sha256(json.dumps(self.jwk, sort_keys=True, separators=(",", ":")).encode()).digest())

    def jws(self, url, payload, kid=None, nonce=True):
        prot = {"alg": "ES256", "url": url}
        if nonce:
            prot["nonce"] = new_nonce()
        if kid:
            prot["kid"] = kid
        else:
            prot["jwk"] = self.jwk
        p = b64(json.dumps(prot).encode())
        body = "" if payload is None else b64(json.dumps(payload).encode())
        r, s = utils.decode_dss_signature(self.k.sign((p + "." + body).encode(), ec.ECDSA(hashes.SHA256())))
        return {"protected": p, "payload": body, "signature": b64(r.to_bytes(32, "big") + s.to_bytes(32, "big"))}


def new_nonce():
    return req("HEAD", D["newNonce"])[1]["replay-nonce"]


def post(key, url, payload, kid=None):
    return req("POST", url, json.dumps(key.jws(url, payload, kid)))


def ptype(j):
    return (j or {}).get("type", "")


class Account:
    def __init__(self, key=None):
        self.key = key or Key()
        st, h, j, _ = post(self.key, D["newAccount"], {"termsOfServiceAgreed": True})
        self.status, self.body = st, j
        self.kid = h.get("location")

    def post(self, url, payload):
        return post(self.key, url, payload, self.kid)


TOKENS = {}
DELAY = {}  # token -> seconds the responder waits before answering it


class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        t = self.path.rsplit("/", 1)[-1]
        if t in DELAY:
            time.sleep(DELAY[t])
        if t in TOKENS:
            self.send_response(200)
            self.end_headers()
            self.wfile.write(TOKENS[t].encode())
        else:
            self.send_response(404)
            self.end_headers()

    def log_message(self, *a):
        pass


srv = http.server.ThreadingHTTPServer(("127.0.0.1", HTTPPORT), H)
threading.Thread(target=srv.serve_forever, daemon=True).start()


def csr_for(name, certkey):
    return x509.CertificateSigningRequestBuilder().subject_name(
        x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])).add_extension(
        x509.SubjectAlternativeName([x509.DNSName(name)]), False).sign(certkey, hashes.SHA256())


def order(acct, name, extra=None):
    payload = {"identifiers": [{"type": "dns", "value": name}]}
    payload.update(extra or {})
    return acct.post(D["newOrder"], payload)


def validate_http01(acct, authz_urls, pause=0.25, tries=60):
    """Answers each authorization's http-01 challenge through the responder above and polls
    until it leaves pending (or tries run out)."""
    for az in authz_urls:
        a = acct.post(az, None)[2]
        ch = [c for c in a["challenges"] if c["type"] == "http-01"][0]
        TOKENS[ch["token"]] = ch["token"] + "." + acct.key.thumb
        acct.post(ch["url"], {})
        for _ in range(tries):
            if acct.post(az, None)[2]["status"] != "pending":
                break
            time.sleep(pause)


def issue(acct, name, certkey=None, extra=None):
    """Returns (cert, certkey) or raises."""
    certkey = certkey or ec.generate_private_key(ec.SECP256R1())
    st, h, o, raw = order(acct, name, extra)
    if st != 201:
        raise RuntimeError("newOrder %s: %s" % (st, raw[:300]))
    ourl = h["location"]
    validate_http01(acct, o["authorizations"])
    der = csr_for(name, certkey).public_bytes(serialization.Encoding.DER)
    st, _, o, raw = acct.post(o["finalize"], {"csr": b64(der)})
    if st != 200:
        raise RuntimeError("finalize %s: %s" % (st, raw[:300]))
    for _ in range(60):
        o = acct.post(ourl, None)[2]
        if o["status"] in ("valid", "invalid"):
            break
        time.sleep(0.25)
    pem = acct.post(o["certificate"], None)[3]
    return x509.load_pem_x509_certificate(pem), certkey


def certid(cert):
    aki = cert.extensions.get_extension_for_oid(ExtensionOID.AUTHORITY_KEY_IDENTIFIER).value.key_identifier
    n = cert.serial_number
    sb = n.to_bytes((n.bit_length() + 8) // 8, "big")  # DER INTEGER content: leading 0 if top bit set
    return b64(aki) + "." + b64(sb)


def ari(cert):
    st, h, j, _ = req("GET", D["renewalInfo"] + "/" + certid(cert))
    return st, h, j


def ts(s):
    return datetime.strptime(s, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=timezone.utc).timestamp()


def main():
    for k in ("revokeCert", "keyChange", "renewalInfo"):
        check(k in D, "directory has " + k)
    A = Account()
    check(A.status == 201 and A.kid, "account A created", A.status)
    cert, ck = issue(A, "life1.cobble.test")
    nb, na = cert.not_valid_before_utc.timestamp(), cert.not_valid_after_utc.timestamp()
    life = na - nb

    # ARI for a fresh certificate: the middle third of the last third.
    st, h, j = ari(cert)
    ok = st == 200 and j and "suggestedWindow" in j
    check(ok, "ARI answers for a fresh certificate", st)
    if ok:
        s, e = ts(j["suggestedWindow"]["start"]), ts(j["suggestedWindow"]["end"])
        check(abs(s - (na - 2 * life / 9)) < 120 and abs(e - (na - life / 9)) < 120 and s < e,
              "fresh window is the middle third of the last third", j)
        check(h.get("retry-after", "").isdigit(), "ARI carries Retry-After", h.get("retry-after"))
    st, _, j = req("GET", D["renewalInfo"] + "/not-a-certid")[:3]
    check(st == 400 and ptype(j) == P + "malformed", "bad certID -> 400 malformed", st)
    st, _, j = req("GET", D["renewalInfo"] + "/AAAA.AQ")[:3]
    check(st in (400, 404) and ptype(j) == P + "malformed", "certID of another issuer -> malformed", st)

    # replaces: accepted once, refused the second time.
    st, _, j, raw = order(A, "life1.cobble.test", {"replaces": certid(cert)})
    check(st == 201, "newOrder with replaces accepted", raw[:200])
    st, _, j, raw = order(A, "life1.cobble.test", {"replaces": certid(cert)})
    check(st == 409 and ptype(j) == P + "alreadyReplaced", "second replaces -> 409 alreadyReplaced", raw[:200])
    B = Account()
    cb, _ = issue(B, "life2.cobble.test")
    st, _, j, raw = order(A, "life2.cobble.test", {"replaces": certid(cb)})
    check(st == 403, "replaces of another account's certificate refused", raw[:200])

    # revokeCert: bad inputs, another account, then by the certificate's own key.
    cder = b64(cert.public_bytes(serialization.Encoding.DER))
    st, _, j, raw = A.post(D["revokeCert"], {"certificate": cder, "reason": 6})
    check(st == 400 and ptype(j) == P + "badRevocationReason", "reason 6 -> badRevocationReason", raw[:200])
    st, _, j, raw = A.post(D["revokeCert"], {"certificate": "!!!"})
    check(st == 400 and ptype(j) == P + "malformed", "garbage certificate -> malformed", raw[:200])
    st, _, j, raw = A.post(D["revokeCert"], {"certificate": b64(b"\x30\x03\x02\x01\x01")})
    check(st == 400 and ptype(j) == P + "malformed", "non-certificate DER -> malformed", raw[:200])
    st, _, j, raw = B.post(D["revokeCert"], {"certificate": cder})
    check(st == 403 and ptype(j) == P + "unauthorized", "another account may not revoke", raw[:200])
    st, _, j, raw = post(Key(), D["revokeCert"], {"certificate": cder})
    check(st == 403 and ptype(j) == P + "unauthorized", "an unrelated jwk may not revoke", raw[:200])
    ckey = Key(ck)
    st, _, j, raw = post(ckey, D["revokeCert"], {"certificate": cder, "reason": 1})
    check(st == 200, "revoked by the certificate's key (keyCompromise)", raw[:200])
    st, _, j, raw = post(ckey, D["revokeCert"], {"certificate": cder, "reason": 1})
    check(st == 400 and ptype(j) == P + "alreadyRevoked", "second revocation -> alreadyRevoked", raw[:200])

    # ARI for a revoked certificate: a window in the past.
    st, h, j = ari(cert)
    ok = st == 200 and j and "suggestedWindow" in j
    check(ok and ts(j["suggestedWindow"]["end"]) < time.time(), "revoked certificate's window is in the past", j)

    # The compromised key is blocked: as an account key and in a CSR.
    st, _, j, raw = post(ckey, D["newAccount"], {"termsOfServiceAgreed": True})
    check(st == 400 and ptype(j) == P + "badPublicKey", "blocked key refused as an account key", raw[:200])
    try:
        issue(A, "life3.cobble.test", certkey=ck)
        check(False, "blocked key refused in a CSR", "issued")
    except RuntimeError as e:
        check("badPublicKey" in str(e), "blocked key refused in a CSR (badPublicKey)", str(e))

    # keyChange: old key stops working, new key works, a key in use elsewhere is refused.
    newk = Key()
    inner = newk.jws(D["keyChange"], {"account": A.kid, "oldKey": A.key.jwk}, nonce=False)
    st, _, j, raw = A.post(D["keyChange"], inner)
    check(st == 200, "keyChange to a new key", raw[:200])
    oldkey, A.key = A.key, newk
    st, _, j, raw = post(oldkey, A.kid, None, A.kid)
    check(st in (400, 401, 403), "old key no longer works", raw[:200])
    st, _, j, raw = A.post(A.kid, None)
    check(st == 200 and j.get("status") == "valid", "new key works", raw[:200])
    st, _, j, raw = post(newk, D["newAccount"], {"onlyReturnExisting": True})
    check(st == 200, "new key finds the account", raw[:200])
    # Validation after keyChange uses the new key's thumbprint (RFC 8555 §8.1).
    try:
        issue(A, "life-rekeyed.cobble.test")
        check(True, "an order validated with the new key's key authorization issues", "")
    except RuntimeError as e:
        check(False, "an order validated with the new key's key authorization issues", str(e)[:200])
    inner = B.key.jws(D["keyChange"], {"account": A.kid, "oldKey": A.key.jwk}, nonce=False)
    st, h, j, raw = A.post(D["keyChange"], inner)
    check(st == 409 and h.get("location") == B.kid, "keyChange to B's key -> 409 with B's Location", raw[:200])
    bad = Key().jws(D["keyChange"], {"account": A.kid, "oldKey": oldkey.jwk}, nonce=False)
    st, _, j, raw = A.post(D["keyChange"], bad)
    check(st == 400, "keyChange naming a wrong oldKey refused", raw[:200])

    # Revocation by an account holding valid authorizations for all the names (§7.6).
    C = Account()
    issue(C, "life2.cobble.test")
    st, _, j, raw = C.post(D["revokeCert"], {"certificate": b64(cb.public_bytes(serialization.Encoding.DER)),
                                             "reason": 5})
    check(st == 200, "an account with authorizations for all names revokes B's certificate", raw[:200])

    # Authorization deactivation (§7.5.2), then account deactivation (§7.3.6).
    st, _, o, raw = order(A, "life4.cobble.test")
    az = o["authorizations"][0]
    st, _, j, raw = A.post(az, {"status": "deactivated"})
    check(st == 200 and j.get("status") == "deactivated", "authorization deactivated", raw[:200])
    st, _, j, raw = A.post(az, {"status": "deactivated"})
    check(st == 400, "deactivated authorization cannot be deactivated again", raw[:200])
    st, _, j, raw = A.post(az, {"status": "valid"})
    check(st == 400, "authorization status can only be set to deactivated", raw[:200])
    st, _, j, raw = A.post(A.kid, {"status": "deactivated"})
    check(st == 200 and j.get("status") == "deactivated", "account deactivated", raw[:200])
    st, _, j, raw = order(A, "life5.cobble.test")
    check(st == 403 and ptype(j) == P + "unauthorized", "deactivated account: newOrder unauthorized", raw[:200])
    st, _, j, raw = A.post(A.kid, None)
    check(st == 403 and ptype(j) == P + "unauthorized", "deactivated account: POST-as-GET unauthorized", raw[:200])
    st, _, j, raw = A.post(D["revokeCert"], {"certificate": b64(cb.public_bytes(serialization.Encoding.DER))})
    check(st == 403 and ptype(j) == P + "unauthorized", "deactivated account: revokeCert unauthorized", raw[:200])
    srv.shutdown()
    return failures


if __name__ == "__main__":
    try:
        sys.exit(min(main(), 100))
    except Exception as e:  # a crash is a failure with its reason
        import traceback
        traceback.print_exc()
        sys.exit(101)
