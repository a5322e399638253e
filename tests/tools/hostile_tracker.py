#!/usr/bin/env python3
"""hostile_tracker.py: an HTTP and UDP tracker that answers badly.

Usage: hostile_tracker.py --http-port P --udp-port Q --log FILE

The HTTP behaviour is chosen by the first path segment of the announce URL
(http://127.0.0.1:P/MODE/announce):

    notbencode   200 with an HTML page
    truncchunk   chunked body cut off in the middle of a chunk
    chunkffff    a chunk size of ffffffffffffffff
    huge         a 100 MB body with Content-Length
    hugenolen    a 100 MB body without a length, ended by the close
    redirect     302 to itself, forever
    interval0    a good reply with interval 0 and no peers
    good         a good reply with interval 1800 (the control)

The UDP tracker (BEP 15) answers every connect request first with a short
garbage datagram, then with a connect reply whose transaction id is wrong,
so a client that checks ids never gets to announce.

Every request is logged to FILE as "TIME MODE" (HTTP) or "TIME udp-ACTION"
(UDP), TIME in seconds since start, so that a test can count how often
each mode was asked: that is how back-off is checked.
"""

import argparse
import socket
import socketserver
import struct
import sys
import threading
import time

T0 = time.monotonic()
LOG_LOCK = threading.Lock()
LOG = None
HUGE = 100 * 1024 * 1024


def note(what):
    with LOG_LOCK:
        LOG.write("%.1f %s\n" % (time.monotonic() - T0, what))
        LOG.flush()


def bencode(x):
    if isinstance(x, int):
        return b"i%de" % x
    if isinstance(x, bytes):
        return b"%d:%s" % (len(x), x)
    if isinstance(x, list):
        return b"l" + b"".join(bencode(v) for v in x) + b"e"
    return b"d" + b"".join(bencode(k) + bencode(x[k])
                           for k in sorted(x)) + b"e"


class Http(socketserver.BaseRequestHandler):
    def head(self, status, headers):
        h = "HTTP/1.1 %s\r\n" % status
        for k, v in headers:
            h += "%s: %s\r\n" % (k, v)
        self.request.sendall(h.encode() + b"\r\n")

    def send_huge(self):
        chunk = b"x" * 65536
        sent = 0
        try:
            while sent < HUGE:
                self.request.sendall(chunk)
                sent += len(chunk)
        except OSError:
            pass
        note("huge-stopped-after %d" % sent)

    def handle(self):
        req = b""
        while b"\r\n\r\n" not in req and len(req) < 65536:
            b = self.request.recv(4096)
            if not b:
                return
            req += b
        line = req.split(b"\r\n", 1)[0].decode("latin-1")
        path = line.split(" ")[1] if " " in line else "/"
        mode = path.lstrip("/").split("/", 1)[0].split("?", 1)[0]
        note(mode)
        try:
            self.answer(mode, path)
        except OSError:
            pass

    def answer(self, mode, path):
        if mode == "notbencode":
            body = b"<html><body>404 tracker moved</body></html>"
            self.head("200 OK", [("Content-Length", len(body))])
            self.request.sendall(body)
        elif mode == "truncchunk":
            self.head("200 OK", [("Transfer-Encoding", "chunked")])
            self.request.sendall(b"100\r\n" + b"d8:intervali18" + b"0" * 30)
        elif mode == "chunkffff":
            self.head("200 OK", [("Transfer-Encoding", "chunked")])
            self.request.sendall(b"ffffffffffffffff\r\n" + b"d" * 1000)
            time.sleep(2)
        elif mode == "huge":
            self.head("200 OK", [("Content-Length", HUGE)])
            self.send_huge()
        elif mode == "hugenolen":
            self.head("200 OK", [("Connection", "close")])
            self.send_huge()
        elif mode == "redirect":
            self.head("302 Found", [("Location", path),
                                    ("Content-Length", 0)])
        elif mode in ("interval0", "good"):
            body = bencode({b"interval": 0 if mode == "interval0" else 1800,
                            b"peers": b""})
            self.head("200 OK", [("Content-Length", len(body))])
            self.request.sendall(body)
        else:
            self.head("404 Not Found", [("Content-Length", 0)])


class Udp(socketserver.BaseRequestHandler):
    def handle(self):
        data, sock = self.request
        if len(data) < 16:
            note("udp-short")
            return
        action, tid = struct.unpack(">II", data[8:16])
        note("udp-%d" % action)
        sock.sendto(b"\x00\x01", self.client_address)
        sock.sendto(struct.pack(">IIQ", 0, tid ^ 0x5a5a5a5a,
                                0x1122334455667788), self.client_address)


class TcpServer(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True


def main():
    global LOG
    ap = argparse.ArgumentParser()
    ap.add_argument("--http-port", type=int, required=True)
    ap.add_argument("--udp-port", type=int, required=True)
    ap.add_argument("--log", required=True)
    args = ap.parse_args()
    LOG = open(args.log, "a")
    tcp = TcpServer(("127.0.0.1", args.http_port), Http)
    udp = socketserver.UDPServer(("127.0.0.1", args.udp_port), Udp)
    threading.Thread(target=udp.serve_forever, daemon=True).start()
    note("listening")
    try:
        tcp.serve_forever()
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
