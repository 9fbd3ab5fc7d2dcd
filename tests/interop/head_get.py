#!/usr/bin/env python3
"""HEAD then GET on one keep-alive connection (RFC 9110 §9.3.2: HEAD is GET without the
content), one request at a time and then pipelined: both answered with the same status and
Content-Type, the HEAD's Content-Length is the GET's body length (give --slack N for bodies
signed anew each time, OCSP), and no byte follows a HEAD response (libevent 2.1 sent the body
there; a keep-alive client read it as the start of the next response).

usage: head_get.py [--cafile PEM] [--slack N] [--expect STATUS] URL...
Exit status 0, or 1 with the reasons on stderr. Every URL on one connection per scheme/host."""
import argparse
import select
import socket
import ssl
import sys
import urllib.parse


class Conn:
    def __init__(self, url, cafile):
        u = urllib.parse.urlsplit(url)
        self.host = u.hostname
        port = u.port or (443 if u.scheme == "https" else 80)
        s = socket.create_connection((self.host, port), timeout=10)
        if u.scheme == "https":
            ctx = ssl.create_default_context(cafile=cafile)
            s = ctx.wrap_socket(s, server_hostname=self.host)
        self.s = s
        self.buf = b""

    def send(self, data):
        self.s.sendall(data)

    def _fill(self):
        d = self.s.recv(65536)
        if not d:
            raise EOFError("connection closed")
        self.buf += d

    def response(self, head):
        """(status, headers dict lower-case, body) of the next response."""
        while b"\r\n\r\n" not in self.buf:
            self._fill()
        hl, self.buf = self.buf.split(b"\r\n\r\n", 1)
        lines = hl.decode("latin-1").split("\r\n")
        parts = lines[0].split(" ", 2)
        if len(parts) < 2 or not parts[0].startswith("HTTP/1.") or not parts[1].isdigit():
            raise ValueError("not a status line: %r" % lines[0][:60])
        h = {}
        for ln in lines[1:]:
            k, _, v = ln.partition(":")
            h[k.strip().lower()] = v.strip()
        n = 0 if head else int(h.get("content-length", "0"))
        while len(self.buf) < n:
            self._fill()
        body, self.buf = self.buf[:n], self.buf[n:]
        return int(parts[1]), h, body

    def quiet(self, seconds):
        """Bytes that arrive within seconds, besides those already read (should be none)."""
        extra = self.buf
        if isinstance(self.s, ssl.SSLSocket) and self.s.pending():
            extra += self.s.recv(65536)
        r, _, _ = select.select([self.s], [], [], seconds)
        if r:
            try:
                extra += self.s.recv(65536)
            except (ssl.SSLWantReadError, BlockingIOError):
                pass
        return extra


def req(method, path, host):
    return ("%s %s HTTP/1.1\r\nHost: %s\r\n\r\n" % (method, path, host)).encode()


def compare(what, head, get, slack, expect, errors):
    hs, hh, hb = head
    gs, gh, gb = get
    if expect is not None and gs != expect:
        errors.append("%s: GET answered %d, not %d" % (what, gs, expect))
    if hs != gs:
        errors.append("%s: HEAD %d, GET %d" % (what, hs, gs))
    if hh.get("content-type") != gh.get("content-type"):
        errors.append("%s: Content-Type HEAD %r, GET %r" % (what, hh.get("content-type"), gh.get("content-type")))
    if not gb:
        errors.append("%s: GET has no body" % what)
    cl = hh.get("content-length")
    if cl is None or not cl.isdigit() or abs(int(cl) - len(gb)) > slack:
        errors.append("%s: HEAD Content-Length %r, GET body %d bytes" % (what, cl, len(gb)))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--cafile")
    ap.add_argument("--slack", type=int, default=0)
    ap.add_argument("--expect", type=int)
    ap.add_argument("urls", nargs="+")
    a = ap.parse_args()
    errors = []
    u0 = urllib.parse.urlsplit(a.urls[0])
    paths = []
    for url in a.urls:
        u = urllib.parse.urlsplit(url)
        if (u.scheme, u.netloc) != (u0.scheme, u0.netloc):
            sys.exit("head_get.py: all URLs on one host")
        paths.append(u.path + ("?" + u.query if u.query else ""))
    try:
        c = Conn(a.urls[0], a.cafile)
        # One at a time: after the HEAD response, nothing more arrives.
        for p in paths:
            c.send(req("HEAD", p, c.host))
            head = c.response(True)
            extra = c.quiet(0.3)
            if extra:
                errors.append("%s: %d bytes after the HEAD response: %r" % (p, len(extra), extra[:20]))
                break
            c.send(req("GET", p, c.host))
            compare(p + " (sequential)", head, c.response(False), a.slack, a.expect, errors)
        # Pipelined: HEAD, GET for every URL in one write, then one more GET.
        c.send(b"".join(req("HEAD", p, c.host) + req("GET", p, c.host) for p in paths) +
               req("GET", paths[0], c.host))
        for p in paths:
            head = c.response(True)
            compare(p + " (pipelined)", head, c.response(False), a.slack, a.expect, errors)
        last = c.response(False)
        if last[0] != (a.expect or last[0]) or not last[2]:
            errors.append("last pipelined GET %s: %d, %d bytes" % (paths[0], last[0], len(last[2])))
        extra = c.quiet(0.3)
        if extra:
            errors.append("%d bytes after the last response" % len(extra))
    except (OSError, EOFError, ValueError) as e:
        errors.append("%s: %s" % (type(e).__name__, e))
    for e in errors:
        print("head_get.py: " + e, file=sys.stderr)
    sys.exit(1 if errors else 0)


if __name__ == "__main__":
    main()
