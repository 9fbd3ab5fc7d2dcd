#!/usr/bin/env python3
"""Test helper for test_agent_ari.sh: an HTTPS reverse proxy in front of pebble 2.4 (which
has neither ARI nor profiles) that adds renewalInfo (RFC 9773) and meta.profiles
(draft-ietf-acme-profiles) to the directory and serves suggested windows.

usage: ari_proxy.py LISTEN_PORT UPSTREAM_BASE CERT KEY CAFILE STATE_DIR
STATE_DIR/mode: "due" (window already open) or anything else (window 30 days ahead).
Logs: STATE_DIR/renewal-info.log (CertIDs asked for), STATE_DIR/replaces.log ("replaces"
values seen in newOrder payloads), STATE_DIR/profile.log ("profile" values seen).
STATE_DIR/inject (optional): lines "STATUS TYPE RETRY-AFTER" consumed one per newOrder POST,
answered with that error instead of forwarding (e.g. "503 serverInternal 1",
"429 rateLimited 3600")."""
import base64, datetime, http.server, json, os, ssl, sys, urllib.request

port, upstream, cert, key, cafile, state = sys.argv[1:7]
port = int(port)
me = "https://127.0.0.1:%d" % port
ctx_up = ssl.create_default_context(cafile=cafile)


def b64d(s):
    return base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))


def log(name, line):
    with open(os.path.join(state, name), "a") as f:
        f.write(line + "\n")


class H(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *a):
        pass

    def reply(self, status, headers, body):
        self.send_response(status)
        for k, v in headers:
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def forward(self, body=None):
        req = urllib.request.Request(upstream + self.path, data=body, method=self.command)
        # pebble builds its URLs (and checks the JWS "url") from Host: make it the proxy's
        req.add_header("Host", "127.0.0.1:%d" % port)
        if body is not None:
            req.add_header("Content-Type", self.headers.get("Content-Type", "application/jose+json"))
        try:
            r = urllib.request.urlopen(req, context=ctx_up)
        except urllib.error.HTTPError as e:
            r = e
        data = r.read().replace(upstream.encode(), me.encode())
        hdrs = [(k, v.replace(upstream, me)) for k, v in r.headers.items()
                if k.lower() in ("replay-nonce", "location", "link", "retry-after", "content-type", "cache-control")]
        return r.status, hdrs, data

    def do_HEAD(self):
        self.reply(*self.forward())

    def do_GET(self):
        if self.path.startswith("/renewal-info/"):
            certid = self.path[len("/renewal-info/"):]
            log("renewal-info.log", certid)
            now = datetime.datetime.now(datetime.timezone.utc)
            due = open(os.path.join(state, "mode")).read().strip() == "due"
            # "due": the whole window already passed, so any point of it is due
            start = now - datetime.timedelta(hours=2) if due else now + datetime.timedelta(days=30)
            end = now - datetime.timedelta(minutes=1) if due else start + datetime.timedelta(days=2)
            f = lambda t: t.strftime("%Y-%m-%dT%H:%M:%SZ")
            body = json.dumps({"suggestedWindow": {"start": f(start), "end": f(end)}}).encode()
            return self.reply(200, [("Content-Type", "application/json"), ("Retry-After", "21600")], body)
        status, hdrs, data = self.forward()
        if self.path == "/dir" and status == 200:
            d = json.loads(data)
            d["renewalInfo"] = me + "/renewal-info/"
            d.setdefault("meta", {})["profiles"] = {"classic": "the default", "shortlived": "6 days"}
            data = json.dumps(d).encode()
        self.reply(status, hdrs, data)

    def inject(self):
        path = os.path.join(state, "inject")
        try:
            lines = open(path).read().split("\n")
        except OSError:
            return False
        lines = [l for l in lines if l.strip()]
        if not lines:
            return False
        status, typ, ra = lines[0].split()
        open(path, "w").write("\n".join(lines[1:]) + "\n")
        log("inject.log", lines[0])
        body = json.dumps({"type": "urn:ietf:params:acme:error:" + typ, "detail": "injected by the test",
                           "status": int(status)}).encode()
        self.reply(int(status), [("Content-Type", "application/problem+json"), ("Retry-After", ra)], body)
        return True

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        if self.path.startswith("/order-plz") and self.inject():
            return
        if self.path.startswith("/order-plz"):
            try:
                payload = json.loads(b64d(json.loads(body)["payload"]))
                if "replaces" in payload:
                    log("replaces.log", payload["replaces"])
                if "profile" in payload:
                    log("profile.log", payload["profile"])
            except Exception as e:  # noqa: BLE001 - a test helper logs and forwards
                log("replaces.log", "unparseable: %s" % e)
        self.reply(*self.forward(body))


srv = http.server.ThreadingHTTPServer(("127.0.0.1", port), H)
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
ctx.load_cert_chain(cert, key)
srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
srv.serve_forever()
