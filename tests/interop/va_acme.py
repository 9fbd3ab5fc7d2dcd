"""A small ACME client (RFC 8555) for the validation-authority interop tests: orders for dns
and ip identifiers (RFC 8738), solved by http-01 (own server on $HTTPPORT), dns-01 (TXT
through va_dns_hook.sh) or tls-alpn-01 (own TLS server on $TLSALPNPORT, RFC 8737; with
--alpn-mode a deliberately wrong answer), so a test can see the exact problem documents.

  va_acme.py account --key FILE              create (or find) the account; print its URL
  va_acme.py order --key FILE --id dns:NAME|ip:ADDR ... --chal http-01|dns-01
                   [--txt VALUE] [--txt-name NAME] [--alpn-mode MODE] [--csr-san T:V ...]
                   [--cert FILE] [--result FILE]

`order` prints one line per step and writes a JSON summary (--result): the account URL,
newOrder status and problem, each authorization's identifier, status and challenge error,
finalize status and body, the final order, and the requests our responders saw. Exit status: 0 certificate issued, 3 not issued
(a problem from the server, as the summary shows), 2 a protocol or local failure.
Environment: DIRECTORY, CA_BUNDLE, HTTPPORT (http-01), DNSPORT and TSIG_KEY (dns-01),
TLSALPNPORT (tls-alpn-01).
Needs python3-cryptography only."""
import argparse, base64, datetime, hashlib, http.client, http.server, ipaddress, json, os, socket, ssl
import shutil, subprocess, sys, tempfile, threading, time
from urllib.parse import urlparse
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, utils
from cryptography.x509.oid import NameOID, ObjectIdentifier

HOOK = os.path.join(os.path.dirname(os.path.abspath(__file__)), "va_dns_hook.sh")
POLL_SECONDS = 60


class Failure(Exception):
    pass


def b64(b):
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()


class Client:
    def __init__(self, keyfile):
        self.ctx = ssl.create_default_context(cafile=os.environ["CA_BUNDLE"])
        if os.path.exists(keyfile):
            with open(keyfile, "rb") as f:
                self.k = serialization.load_pem_private_key(f.read(), None)
        else:
            self.k = ec.generate_private_key(ec.SECP256R1())
            with open(keyfile, "wb") as f:
                f.write(self.k.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                             serialization.NoEncryption()))
        n = self.k.public_key().public_numbers()
        self.jwk = {"crv": "P-256", "kty": "EC", "x": b64(n.x.to_bytes(32, "big")),
                    "y": b64(n.y.to_bytes(32, "big"))}
        self.thumb = b64(hashlib.sha256(json.dumps(self.jwk, sort_keys=True, separators=(",", ":")).encode())
                         .digest())
        self.dir = self.req("GET", os.environ["DIRECTORY"])[2]
        if not isinstance(self.dir, dict) or "newOrder" not in self.dir:
            raise Failure("no usable directory at %s" % os.environ["DIRECTORY"])
        self.kid = None
        self.nonce = None

    def req(self, method, url, body=None):
        u = urlparse(url)
        c = http.client.HTTPSConnection(u.hostname, u.port, context=self.ctx, timeout=30)
        hdrs = {"Content-Type": "application/jose+json"} if body is not None else {}
        c.request(method, u.path + ("?" + u.query if u.query else ""), body=body, headers=hdrs)
        r = c.getresponse()
        data = r.read()
        h = {k.lower(): v for k, v in r.getheaders()}
        c.close()
        if "replay-nonce" in h:
            self.nonce = h["replay-nonce"]
        try:
            j = json.loads(data)
        except ValueError:
            j = None
        return r.status, h, j, data

    def post(self, url, payload, retries=3):
        """Signed POST (payload None: POST-as-GET); retries badNonce as RFC 8555 §6.5 allows."""
        for _ in range(retries):
            if not getattr(self, "nonce", None):
                self.req("HEAD", self.dir["newNonce"])
            prot = {"alg": "ES256", "url": url, "nonce": self.nonce}
            self.nonce = None
            if self.kid:
                prot["kid"] = self.kid
            else:
                prot["jwk"] = self.jwk
            p = b64(json.dumps(prot).encode())
            body = "" if payload is None else b64(json.dumps(payload).encode())
            r, s = utils.decode_dss_signature(self.k.sign((p + "." + body).encode(), ec.ECDSA(hashes.SHA256())))
            sig = b64(r.to_bytes(32, "big") + s.to_bytes(32, "big"))
            res = self.req("POST", url, json.dumps({"protected": p, "payload": body, "signature": sig}))
            if res[0] == 400 and (res[2] or {}).get("type") == "urn:ietf:params:acme:error:badNonce":
                continue
            return res
        return res

    def account(self):
        st, h, j, raw = self.post(self.dir["newAccount"], {"termsOfServiceAgreed": True})
        if st not in (200, 201) or "location" not in h:
            raise Failure("newAccount %s: %s" % (st, raw[:300]))
        self.kid = h["location"]
        return self.kid


TOKENS = {}
HITS = []  # connections our responders saw (the safety tests want none)


class Http01(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        HITS.append("http-01 GET " + self.path)
        t = self.path.rsplit("/", 1)[-1]
        if self.path.startswith("/.well-known/acme-challenge/") and t in TOKENS:
            self.send_response(200)
            self.send_header("Content-Type", "application/octet-stream")
            self.end_headers()
            self.wfile.write(TOKENS[t].encode())
        else:
            self.send_response(404)
            self.end_headers()

    def log_message(self, *a):
        pass


ACME_IDENTIFIER = ObjectIdentifier("1.3.6.1.5.5.7.1.31")  # RFC 8737 §3 id-pe-acmeIdentifier
ALPN_MODES = ("good", "wrong-digest", "noncritical", "extra-san", "no-alpn")


class TlsAlpn01(threading.Thread):
    """tls-alpn-01 responder (RFC 8737 §3): per SNI name a self-signed certificate with one SAN
    (dNSName, or iPAddress for an ip identifier whose SNI is the reverse name, RFC 8738 §6) and
    a critical acmeIdentifier extension holding SHA-256 of the key authorization. The modes
    other than "good" break exactly one of those rules."""

    def __init__(self, port, mode):
        super().__init__(daemon=True)
        self.mode = mode
        self.dir = tempfile.mkdtemp(prefix="va-alpn-")
        self.ctxs = {}
        self.base = self.context("base.invalid", x509.DNSName("base.invalid"), b"\0" * 32)
        self.base.sni_callback = self.pick
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", port))
        self.sock.listen(16)
        self.sock.settimeout(0.5)
        self.stopping = False

    def context(self, label, san, digest):
        key = ec.generate_private_key(ec.SECP256R1())
        now = datetime.datetime.now(datetime.timezone.utc)
        sans = [san] + ([x509.DNSName("extra.cobble.test")] if self.mode == "extra-san" else [])
        if self.mode == "wrong-digest":
            digest = hashlib.sha256(b"not the key authorization").digest()
        ext = x509.UnrecognizedExtension(ACME_IDENTIFIER, b"\x04\x20" + digest)
        cert = (x509.CertificateBuilder().subject_name(x509.Name([]))
                .issuer_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "va_acme tls-alpn-01")]))
                .public_key(key.public_key()).serial_number(x509.random_serial_number())
                .not_valid_before(now - datetime.timedelta(hours=1)).not_valid_after(now + datetime.timedelta(days=1))
                .add_extension(x509.SubjectAlternativeName(sans), critical=True)
                .add_extension(ext, critical=self.mode != "noncritical")
                .sign(key, hashes.SHA256()))
        path = os.path.join(self.dir, label)
        with open(path, "wb") as f:
            f.write(cert.public_bytes(serialization.Encoding.PEM))
            f.write(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                      serialization.NoEncryption()))
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.minimum_version = ssl.TLSVersion.TLSv1_2
        ctx.load_cert_chain(path)
        if self.mode != "no-alpn":
            ctx.set_alpn_protocols(["acme-tls/1"])
        return ctx

    def add(self, idf, keyauth):
        digest = hashlib.sha256(keyauth.encode()).digest()
        if idf["type"] == "ip":
            a = ipaddress.ip_address(idf["value"])
            self.ctxs[a.reverse_pointer] = self.context(a.reverse_pointer, x509.IPAddress(a), digest)
        else:
            self.ctxs[idf["value"]] = self.context(idf["value"], x509.DNSName(idf["value"]), digest)

    def pick(self, sslsock, sni, ctx):
        self.last_sni = sni
        if sni in self.ctxs:
            sslsock.context = self.ctxs[sni]
        return None

    def serve(self, conn):
        HITS.append("tls-alpn-01 connection")
        try:
            conn.settimeout(10)
            with self.base.wrap_socket(conn, server_side=True) as s:
                s.recv(1)  # the validator closes after the handshake
        except (OSError, ssl.SSLError):
            pass

    def run(self):
        while not self.stopping:
            try:
                conn, _ = self.sock.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            threading.Thread(target=self.serve, args=(conn,), daemon=True).start()

    def shutdown(self):
        self.stopping = True
        self.join(2)
        self.sock.close()
        shutil.rmtree(self.dir, ignore_errors=True)


def ident(s):
    t, _, v = s.partition(":")
    if t not in ("dns", "ip") or not v:
        raise argparse.ArgumentTypeError("identifier must be dns:NAME or ip:ADDRESS, got %r" % s)
    return {"type": t, "value": v}


def csr_for(idents, certkey):
    sans = []
    for i in idents:
        if i["type"] == "ip":
            sans.append(x509.IPAddress(ipaddress.ip_address(i["value"])))
        else:
            sans.append(x509.DNSName(i["value"]))
    b = x509.CertificateSigningRequestBuilder()
    dns = [i["value"] for i in idents if i["type"] == "dns"]
    b = b.subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, dns[0])] if dns else []))
    return b.add_extension(x509.SubjectAlternativeName(sans), False).sign(certkey, hashes.SHA256())


def hook(*args):
    r = subprocess.run([HOOK] + list(args), capture_output=True, text=True, timeout=60)
    if r.returncode != 0:
        raise Failure("%s %s failed: %s" % (HOOK, " ".join(args), r.stderr.strip()))


def poll(cl, url, done):
    deadline = time.time() + POLL_SECONDS
    while True:
        st, _, j, raw = cl.post(url, None)
        if st != 200 or not isinstance(j, dict):
            raise Failure("POST-as-GET %s: %s %s" % (url, st, raw[:300]))
        if j.get("status") in done or time.time() > deadline:
            return j
        time.sleep(0.25)


def order(cl, a, summary):
    summary["account"] = cl.account()
    st, h, o, raw = cl.post(cl.dir["newOrder"], {"identifiers": a.id})
    summary["newOrder"] = {"status": st, "body": o}
    print("newOrder: %s %s" % (st, raw[:400].decode(errors="replace")), flush=True)
    if st != 201:
        return 3
    ourl = h.get("location")
    if not ourl:
        raise Failure("newOrder 201 without Location")
    summary["authzs"] = []
    cleanups = []
    try:
        pending = []
        retry = None
        for az in o["authorizations"]:
            st, _, z, raw = cl.post(az, None)
            if st != 200:
                raise Failure("authorization %s: %s %s" % (az, st, raw[:300]))
            name = z["identifier"]["value"]
            if z["status"] == "valid":
                print("authz %s: already valid (reused)" % name, flush=True)
                summary["authzs"].append({"identifier": z["identifier"], "status": "valid", "reused": True})
                continue
            chs = [c for c in z["challenges"] if c["type"] == a.chal]
            if not chs:
                raise Failure("authorization for %s offers no %s: %s" % (name, a.chal, [c["type"] for c in z["challenges"]]))
            ch = chs[0]
            keyauth = ch["token"] + "." + cl.thumb
            if a.chal == "http-01":
                TOKENS[ch["token"]] = keyauth
            elif a.chal == "tls-alpn-01":
                a.alpn.add(z["identifier"], keyauth)
            else:
                value = a.txt or b64(hashlib.sha256(keyauth.encode()).digest())
                rec = a.txt_name or "_acme-challenge." + name
                hook("add", rec, value)
                cleanups.append((rec, value))
                right = b64(hashlib.sha256(keyauth.encode()).digest())
            st, _, c, raw = cl.post(ch["url"], {})
            if st != 200:
                raise Failure("challenge %s: %s %s" % (ch["url"], st, raw[:300]))
            pending.append((az, z["identifier"], ch["url"]))
            if a.chal == "dns-01" and a.retry_right:
                retry = (az, rec, right, ch["url"])
        for az, idf, curl in pending:
            z = poll(cl, az, ("valid", "invalid", "deactivated", "expired", "revoked"))
            c = [c for c in z.get("challenges", []) if c.get("url") == curl]
            err = c[0].get("error") if c else None
            summary["authzs"].append({"identifier": idf, "status": z["status"], "wildcard": z.get("wildcard", False),
                                      "challenge_status": c[0].get("status") if c else None, "error": err})
            print("authz %s%s: %s%s" % ("*." if z.get("wildcard") else "", idf["value"], z["status"],
                                        " " + json.dumps(err) if err else ""), flush=True)
        if a.retry_right and retry:
            # One attempt per authorization: with the right TXT in place, POSTing the failed
            # challenge again must not make the authorization valid.
            az, rec, right, curl = retry
            hook("add", rec, right)
            cleanups.append((rec, right))
            st, _, c, raw = cl.post(curl, {})
            time.sleep(3)
            z = poll(cl, az, ("valid", "invalid", "deactivated", "expired", "revoked"))
            summary["retry"] = {"status": st, "body": c, "authz_status": z["status"]}
            print("retry with the right TXT: challenge POST %s %s; authorization %s" %
                  (st, json.dumps(c)[:300], z["status"]), flush=True)
    finally:
        for rec, value in cleanups:
            try:
                hook("del", rec, value)
            except Failure as e:
                print("cleanup: %s" % e, file=sys.stderr)
    if any(z["status"] != "valid" for z in summary["authzs"]):
        summary["order"] = poll(cl, ourl, ("invalid", "ready", "valid"))
        return 3
    certkey = ec.generate_private_key(ec.SECP256R1())
    csr = csr_for(a.csr_san or a.id, certkey).public_bytes(serialization.Encoding.DER)
    st, _, o, raw = cl.post(o["finalize"], {"csr": b64(csr)})
    summary["finalize"] = {"status": st, "body": o}
    print("finalize: %s %s" % (st, raw[:400].decode(errors="replace")), flush=True)
    if st != 200:
        return 3
    o = poll(cl, ourl, ("valid", "invalid"))
    summary["order"] = o
    if o["status"] != "valid":
        print("order: %s %s" % (o["status"], json.dumps(o.get("error"))), flush=True)
        return 3
    st, _, _, pem = cl.post(o["certificate"], None)
    if st != 200:
        raise Failure("certificate download: %s %s" % (st, pem[:300]))
    if a.cert:
        with open(a.cert, "wb") as f:
            f.write(pem)
    print("certificate issued", flush=True)
    return 0


def main():
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("account")
    p.add_argument("--key", required=True)
    p = sub.add_parser("order")
    p.add_argument("--key", required=True)
    p.add_argument("--id", type=ident, action="append", required=True)
    p.add_argument("--chal", choices=("http-01", "dns-01", "tls-alpn-01"), default="http-01")
    p.add_argument("--alpn-mode", choices=ALPN_MODES, default="good", help="tls-alpn-01 answer")
    p.add_argument("--txt", help="publish this TXT value instead of the right one")
    p.add_argument("--retry-right", action="store_true",
                   help="dns-01: after the authorization fails, publish the right TXT and POST the challenge again")
    p.add_argument("--txt-name", help="publish the TXT here instead of _acme-challenge.NAME (a CNAME target)")
    p.add_argument("--csr-san", type=ident, action="append", help="CSR SANs instead of the identifiers (dns:X, ip:X)")
    p.add_argument("--cert")
    p.add_argument("--result")
    a = ap.parse_args()
    summary = {}
    srv = None
    try:
        cl = Client(a.key)
        if a.cmd == "account":
            print(cl.account())
            return 0
        if a.chal == "http-01":
            srv = http.server.ThreadingHTTPServer(("127.0.0.1", int(os.environ["HTTPPORT"])), Http01)
            threading.Thread(target=srv.serve_forever, daemon=True).start()
        elif a.chal == "tls-alpn-01":
            srv = a.alpn = TlsAlpn01(int(os.environ["TLSALPNPORT"]), a.alpn_mode)
            srv.start()
        rc = order(cl, a, summary)
    except (Failure, OSError, KeyError, subprocess.SubprocessError) as e:
        print("va_acme: %s: %s" % (type(e).__name__, e), file=sys.stderr)
        rc = 2
    finally:
        if srv:
            srv.shutdown()
    summary["responder_hits"] = HITS
    if a.cmd == "order" and a.result:
        with open(a.result, "w") as f:
            json.dump(summary, f, indent=1)
    return rc


if __name__ == "__main__":
    sys.exit(main())
