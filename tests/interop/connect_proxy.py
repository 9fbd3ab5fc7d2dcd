#!/usr/bin/env python3
"""Test helper for test_agent_proxy.sh: an HTTP proxy that only tunnels (CONNECT, RFC 9110
§9.3.6) to 127.0.0.1 and demands Basic credentials (RFC 7617, RFC 9110 §11.7.1).

usage: connect_proxy.py LISTEN_PORT USER PASSWORD LOG [CHALLENGE]
USER and PASSWORD are the decoded values the client must send. CHALLENGE is the
Proxy-Authenticate value of the 407 (default: Basic realm="cobble-test"); "Negotiate"
makes a proxy that accepts nothing.
LOG gets one line per request: "CONNECT host:port ok|missing|wrong|malformed" (never the
credentials themselves), or "OTHER method" for anything else (answered 405)."""
import base64, socket, sys, threading

port, user, password, logpath = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
challenge = sys.argv[5] if len(sys.argv) > 5 else 'Basic realm="cobble-test"'
want = (user + ":" + password).encode("utf-8")
lock = threading.Lock()


def log(line):
    with lock, open(logpath, "a") as f:
        f.write(line + "\n")


def read_head(c):
    """The request head, byte by byte: what follows belongs to the tunnel."""
    b = b""
    while not b.endswith(b"\r\n\r\n"):
        ch = c.recv(1)
        if not ch or len(b) > 16384:
            return None
        b += ch
    return b.decode("latin-1")


def verdict(fields):
    v = fields.get("proxy-authorization")
    if v is None:
        return "missing"
    parts = v.split(None, 1)
    if len(parts) != 2 or parts[0].lower() != "basic" or challenge.split()[0].lower() != "basic":
        return "wrong"
    try:
        got = base64.b64decode(parts[1].strip(), validate=True)
    except Exception:
        return "malformed"
    return "ok" if got == want else "wrong"


def relay(a, b):
    try:
        while True:
            d = a.recv(65536)
            if not d:
                break
            b.sendall(d)
    except OSError:
        pass
    for s in (a, b):
        try:
            s.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass


def serve(c):
    try:
        head = read_head(c)
        if head is None:
            return
        lines = head.split("\r\n")
        method, target = (lines[0].split(" ") + ["", ""])[:2]
        fields = {}
        for l in lines[1:]:
            if ":" in l:
                k, v = l.split(":", 1)
                fields.setdefault(k.strip().lower(), v.strip())
        if method != "CONNECT":
            log("OTHER " + method)
            c.sendall(b"HTTP/1.1 405 Method Not Allowed\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
            return
        v = verdict(fields)
        log("CONNECT %s %s" % (target, v))
        if v != "ok":
            body = b"credentials required\n"
            c.sendall(b"HTTP/1.1 407 Proxy Authentication Required\r\nProxy-Authenticate: " +
                      challenge.encode() + b"\r\nContent-Type: text/plain\r\nContent-Length: " +
                      str(len(body)).encode() + b"\r\n\r\n" + body)
            return
        host, _, p = target.rpartition(":")
        if host not in ("127.0.0.1", "localhost"):  # tests stay on loopback
            c.sendall(b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n")
            return
        up = socket.create_connection(("127.0.0.1", int(p)), timeout=10)
        up.settimeout(None)
        c.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
        t = threading.Thread(target=relay, args=(up, c), daemon=True)
        t.start()
        relay(c, up)
        t.join()
        up.close()
    except OSError as e:
        log("ERROR %s" % e)
    finally:
        c.close()


srv = socket.socket()
srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
srv.bind(("127.0.0.1", port))
srv.listen(64)
log("LISTENING")
while True:
    conn, _ = srv.accept()
    threading.Thread(target=serve, args=(conn,), daemon=True).start()
