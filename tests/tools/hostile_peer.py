#!/usr/bin/env python3
"""hostile_peer.py: attack a seeding btdownload over the BitTorrent wire.

Usage: hostile_peer.py --torrent F.torrent --port P [--host 127.0.0.1]
           [--source 127.0.0.2] [--mode turn|all|idle] [--rounds N]
           [--only NAME,NAME] [--idle N] [--idle-within S] [--drop-within S]
           [--hold S]

Each attack opens its own connection (from --source, so that a ban of the
attacker's address does not touch a well-behaved peer on another loopback
address), does its one bad thing and reports what the seeder did.  Attacks
marked "closed" must see the seeder close the connection within
--drop-within seconds; the others must not kill or bloat the seeder (the
caller watches its RSS).  --mode turn runs the attacks one after another,
--mode all runs them all at once (the idle flood only after every other
attack has finished its handshake, so that each attack gets a slot), and
--mode idle runs only the idle flood.  One line per attack:

    attack NAME: ok (closed by the seeder after 0.0 s)
    attack NAME: FAIL (still open after 10 s)

then "hostile: N ok, N failed"; the exit status is 1 if any attack failed.
"""

import argparse
import hashlib
import os
import socket
import struct
import sys
import threading
import time

PSTR = b"\x13BitTorrent protocol"
CHOKE, UNCHOKE, INTERESTED, NOT_INTERESTED, HAVE, BITFIELD, REQUEST, \
    PIECE, CANCEL = range(9)
BLOCK = 16384


# --- the torrent ---------------------------------------------------------

def bdecode_span(s, i):
    """Decode one value at s[i:]; return (value, end)."""
    c = s[i:i + 1]
    if c == b"i":
        j = s.index(b"e", i)
        return int(s[i + 1:j]), j + 1
    if c == b"l":
        i += 1
        out = []
        while s[i:i + 1] != b"e":
            v, i = bdecode_span(s, i)
            out.append(v)
        return out, i + 1
    if c == b"d":
        i += 1
        out = {}
        while s[i:i + 1] != b"e":
            k, i = bdecode_span(s, i)
            start = i
            v, i = bdecode_span(s, i)
            out[k] = v
            if k == b"info":
                out[b"__info_span__"] = (start, i)
        return out, i + 1
    j = s.index(b":", i)
    n = int(s[i:j])
    return s[j + 1:j + 1 + n], j + 1 + n


class Torrent:
    def __init__(self, path):
        raw = open(path, "rb").read()
        meta, _ = bdecode_span(raw, 0)
        a, b = meta[b"__info_span__"]
        info = meta[b"info"]
        self.info_hash = hashlib.sha1(raw[a:b]).digest()
        self.piece_len = info[b"piece length"]
        if b"length" in info:
            self.total = info[b"length"]
        else:
            self.total = sum(f[b"length"] for f in info[b"files"])
        self.npieces = len(info[b"pieces"]) // 20

    def last_piece_len(self):
        return self.total - (self.npieces - 1) * self.piece_len


# --- wire helpers --------------------------------------------------------

class Conn:
    """One attacker connection."""

    def __init__(self, args, rcvbuf=None):
        self.args = args
        self.s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        if rcvbuf is not None:
            self.s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        if args.source:
            self.s.bind((args.source, 0))
        self.s.settimeout(args.drop_within)
        self.s.connect((args.host, args.port))
        self.closed = False

    def send(self, data):
        """Send; a reset or broken pipe means the seeder closed on us."""
        try:
            self.s.sendall(data)
        except (BrokenPipeError, ConnectionResetError):
            self.closed = True

    def msg(self, mid, payload=b""):
        self.send(struct.pack(">IB", 1 + len(payload), mid) + payload)

    def handshake(self, info_hash):
        """Send ours and read the seeder's; False if it never came."""
        self.send(PSTR + bytes(8) + info_hash + os.urandom(20))
        got = b""
        try:
            while len(got) < 68:
                b = self.s.recv(68 - len(got))
                if not b:
                    return False
                got += b
        except (socket.timeout, ConnectionResetError):
            return False
        return got[:20] == PSTR and got[28:48] == info_hash

    def wait_closed(self, secs):
        """Read and discard until the seeder closes; seconds taken or None."""
        t0 = time.monotonic()
        if self.closed:
            return 0.0
        self.s.settimeout(0.5)
        while time.monotonic() - t0 < secs:
            try:
                if not self.s.recv(65536):
                    return time.monotonic() - t0
            except socket.timeout:
                continue
            except (ConnectionResetError, BrokenPipeError):
                return time.monotonic() - t0
        return None

    def close(self):
        try:
            self.s.close()
        except OSError:
            pass


# --- the attacks ----------------------------------------------------------
#
# Each returns (ok, detail).  `closing` attacks must be closed; `hold`
# attacks only need to leave the seeder alive and bounded (checked by the
# caller), and report what happened.

def expect_closed(c, what, args):
    t = c.wait_closed(args.drop_within)
    c.close()
    if t is None:
        return False, "%s: still open after %d s" % (what, args.drop_within)
    return True, "%s: closed by the seeder after %.1f s" % (what, t)


def handshaken(args, tor, ready, rcvbuf=None):
    c = Conn(args, rcvbuf)
    ok = c.handshake(tor.info_hash)
    ready.arrive()
    if not ok:
        c.close()
        return None
    return c


def a_oversized_length(args, tor, ready):
    c = handshaken(args, tor, ready)
    if c is None:
        return False, "no handshake"
    c.send(struct.pack(">I", 0xFFFFFFFF) + b"\x07" + bytes(1000))
    return expect_closed(c, "length 0xffffffff", args)


def a_unknown_id(args, tor, ready):
    c = handshaken(args, tor, ready)
    if c is None:
        return False, "no handshake"
    c.msg(99, b"whatever")
    return expect_closed(c, "id 99", args)


def a_have_ffffffff(args, tor, ready):
    c = handshaken(args, tor, ready)
    if c is None:
        return False, "no handshake"
    c.msg(HAVE, struct.pack(">I", 0xFFFFFFFF))
    return expect_closed(c, "HAVE 0xffffffff", args)


def a_bitfield_short(args, tor, ready):
    c = handshaken(args, tor, ready)
    if c is None:
        return False, "no handshake"
    c.msg(BITFIELD, bytes((tor.npieces + 7) // 8 - 1))
    return expect_closed(c, "bitfield one byte short", args)


def a_bitfield_long(args, tor, ready):
    c = handshaken(args, tor, ready)
    if c is None:
        return False, "no handshake"
    c.msg(BITFIELD, bytes((tor.npieces + 7) // 8 + 100))
    return expect_closed(c, "bitfield 100 bytes long", args)


def a_bitfield_spare_bits(args, tor, ready):
    if tor.npieces % 8 == 0:
        ready.arrive()
        return True, "skipped: no spare bits with %d pieces" % tor.npieces
    c = handshaken(args, tor, ready)
    if c is None:
        return False, "no handshake"
    bits = bytearray((tor.npieces + 7) // 8)
    bits[-1] = 0xFF >> (tor.npieces % 8)	# only the spare bits
    c.msg(BITFIELD, bytes(bits))
    return expect_closed(c, "bitfield with spare bits set", args)


def a_request_past_end(args, tor, ready):
    c = handshaken(args, tor, ready)
    if c is None:
        return False, "no handshake"
    c.msg(INTERESTED)
    last = tor.npieces - 1
    c.msg(REQUEST, struct.pack(">III", last, tor.last_piece_len() - 100,
                               BLOCK))
    return expect_closed(c, "request past the end of the last piece", args)


def a_request_bad_index(args, tor, ready):
    c = handshaken(args, tor, ready)
    if c is None:
        return False, "no handshake"
    c.msg(REQUEST, struct.pack(">III", tor.npieces, 0, BLOCK))
    return expect_closed(c, "request for piece %d" % tor.npieces, args)


def a_unrequested_piece(args, tor, ready):
    c = handshaken(args, tor, ready)
    if c is None:
        return False, "no handshake"
    for k in range(20):
        c.msg(PIECE, struct.pack(">II", k % tor.npieces, 0) + bytes(BLOCK))
    return expect_closed(c, "20 unrequested blocks", args)


def a_length_8m(args, tor, ready):
    """A length prefix of 8 MiB (mainline's cap), then 1 MiB of body.  No
    message we may be sent is that long, so the seeder must close at once
    rather than buffer it: 55 such peers would otherwise pin 440 MiB."""
    c = handshaken(args, tor, ready)
    if c is None:
        return False, "no handshake"
    n = 8 * 1024 * 1024
    c.send(struct.pack(">IBII", n, PIECE, 0, 0))
    for _ in range(16):
        if c.closed:
            break
        c.send(bytes(65536))
    return expect_closed(c, "length prefix %d" % n, args)


def a_wrong_info_hash(args, tor, ready):
    c = Conn(args)
    ready.arrive()
    c.send(PSTR + bytes(8) + hashlib.sha1(b"not this torrent").digest() +
           os.urandom(20))
    return expect_closed(c, "wrong info hash", args)


def a_bad_protocol(args, tor, ready):
    c = Conn(args)
    ready.arrive()
    c.send(b"\x13BitTorrent protocoX" + bytes(8) + tor.info_hash +
           os.urandom(20))
    return expect_closed(c, "wrong protocol string", args)


def a_request_flood(args, tor, ready):
    """100,000 valid requests in one burst, then read what comes."""
    c = handshaken(args, tor, ready)
    if c is None:
        return False, "no handshake"
    c.msg(INTERESTED)
    per_piece = tor.piece_len // BLOCK
    reqs = []
    for k in range(100000):
        i = k % (tor.npieces - 1)
        b = (k // (tor.npieces - 1)) % per_piece
        reqs.append(struct.pack(">IBIII", 13, REQUEST, i, b * BLOCK, BLOCK))
    c.send(b"".join(reqs))
    got = 0
    c.s.settimeout(0.5)
    end = time.monotonic() + args.hold
    while time.monotonic() < end and not c.closed:
        try:
            b = c.s.recv(1 << 20)
            if not b:
                c.closed = True
            got += len(b)
        except socket.timeout:
            continue
        except ConnectionResetError:
            c.closed = True
    c.close()
    return True, "100000 requests sent; %d bytes came back; %s" % (
        got, "closed by the seeder" if c.closed else "still open")


def a_slow_reader(args, tor, ready):
    """Asks for blocks and never reads; keeps asking so it is not idle."""
    c = handshaken(args, tor, ready, rcvbuf=4096)
    if c is None:
        return False, "no handshake"
    c.msg(INTERESTED)
    per_piece = tor.piece_len // BLOCK
    end = time.monotonic() + args.hold
    k = 0
    c.s.settimeout(2)
    while time.monotonic() < end and not c.closed:
        batch = []
        for _ in range(200):
            i = k % tor.npieces
            b = (k // tor.npieces) % per_piece
            ln = min(BLOCK, (tor.last_piece_len() if i == tor.npieces - 1
                             else tor.piece_len) - b * BLOCK)
            if ln > 0:
                batch.append(struct.pack(">IBIII", 13, REQUEST, i,
                                         b * BLOCK, ln))
            k += 1
        try:
            c.s.sendall(b"".join(batch))
        except socket.timeout:
            pass		# the seeder stopped reading us too: fine
        except (BrokenPipeError, ConnectionResetError):
            c.closed = True
        time.sleep(1)
    c.close()
    return True, "never read for %d s; %s" % (
        args.hold, "closed by the seeder" if c.closed else "still open")


def a_idle_flood(args, tor, ready):
    """args.idle connections that never send a byte.  Past max_allow_in
    the seeder refuses them at once; the rest must be closed by its
    handshake timeout."""
    ready.wait_others()
    conns = []
    refused = 0
    for _ in range(args.idle):
        try:
            conns.append(Conn(args))
        except OSError:
            refused += 1
    t0 = time.monotonic()
    open_ = list(conns)
    first_wave = None
    while open_ and time.monotonic() - t0 < args.idle_within:
        time.sleep(0.5)
        still = []
        for c in open_:
            c.s.setblocking(False)
            try:
                if c.s.recv(1) == b"":
                    c.close()
                    continue
            except BlockingIOError:
                pass
            except (ConnectionResetError, OSError):
                c.close()
                continue
            still.append(c)
        open_ = still
        if first_wave is None:
            first_wave = len(conns) - len(open_)
    left = len(open_)
    for c in open_:
        c.close()
    took = time.monotonic() - t0
    detail = ("%d idle connections: %d refused at once, the rest closed by "
              "the seeder within %.0f s" % (args.idle, first_wave or 0, took))
    if left:
        return False, "%d idle connections: %d still open after %d s" % (
            args.idle, left, args.idle_within)
    return True, detail


def a_control(args, tor, ready):
    """A well-behaved connection: the seeder must keep it, which shows
    that the closes above are the attacks' doing."""
    c = handshaken(args, tor, ready)
    if c is None:
        return False, "no handshake"
    c.msg(BITFIELD, bytes((tor.npieces + 7) // 8))
    c.msg(INTERESTED)
    t = c.wait_closed(3)
    c.close()
    if t is not None:
        return False, "a polite peer was closed after %.1f s" % t
    return True, "a polite peer is kept"


ATTACKS = [
    ("control", a_control),
    ("oversized_length", a_oversized_length),
    ("unknown_id", a_unknown_id),
    ("have_ffffffff", a_have_ffffffff),
    ("bitfield_short", a_bitfield_short),
    ("bitfield_long", a_bitfield_long),
    ("bitfield_spare_bits", a_bitfield_spare_bits),
    ("request_past_end", a_request_past_end),
    ("request_bad_index", a_request_bad_index),
    ("unrequested_piece", a_unrequested_piece),
    ("length_8m", a_length_8m),
    ("wrong_info_hash", a_wrong_info_hash),
    ("bad_protocol", a_bad_protocol),
    ("request_flood", a_request_flood),
    ("slow_reader", a_slow_reader),
    ("idle_flood", a_idle_flood),
]


class Ready:
    """The idle flood waits until every other attack has its slot."""

    def __init__(self, others):
        self.cv = threading.Condition()
        self.left = others

    def arrive(self):
        with self.cv:
            self.left -= 1
            self.cv.notify_all()

    def wait_others(self):
        with self.cv:
            self.cv.wait_for(lambda: self.left <= 0, timeout=30)


def run_one(name, fn, args, tor, ready, results):
    try:
        ok, detail = fn(args, tor, ready)
    except OSError as e:
        ok, detail = False, "error: %s" % e
        ready.arrive()
    results.append((name, ok, detail))
    print("attack %s: %s (%s)" % (name, "ok" if ok else "FAIL", detail),
          flush=True)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--torrent", required=True)
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--source", default="127.0.0.2")
    ap.add_argument("--mode", choices=("turn", "all", "idle"), default="turn")
    ap.add_argument("--rounds", type=int, default=1)
    ap.add_argument("--only", default="")
    ap.add_argument("--idle", type=int, default=500)
    ap.add_argument("--idle-within", type=int, default=40)
    ap.add_argument("--drop-within", type=int, default=10)
    ap.add_argument("--hold", type=int, default=15)
    args = ap.parse_args()
    tor = Torrent(args.torrent)
    attacks = ATTACKS
    if args.mode == "idle":
        attacks = [a for a in ATTACKS if a[0] == "idle_flood"]
    if args.only:
        want = args.only.split(",")
        attacks = [a for a in ATTACKS if a[0] in want]
    results = []
    for rnd in range(args.rounds):
        if args.rounds > 1:
            print("round %d" % (rnd + 1), flush=True)
        if args.mode == "all":
            ready = Ready(len(attacks) - 1)
            threads = [threading.Thread(target=run_one, args=(
                n, f, args, tor, ready, results)) for n, f in attacks]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
        else:
            for n, f in attacks:
                run_one(n, f, args, tor, Ready(0), results)
    bad = sum(1 for r in results if not r[1])
    print("hostile: %d ok, %d failed" % (len(results) - bad, bad))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
