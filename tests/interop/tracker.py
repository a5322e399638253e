#!/usr/bin/python3
"""Tracker helpers for the interop tests (python3 standard library only).

usage: tracker.py scrape URL INFOHASH_HEX
           print "complete incomplete downloaded" for one torrent from an
           HTTP tracker's /scrape (0 0 0 when it does not know the torrent)
       tracker.py junk PORT
           an HTTP "tracker" on 127.0.0.1:PORT that answers every request
           with 200 OK and a body that is not bencode; prints "ready" once
           it listens and one line per request it answers (port, event)
       tracker.py udp-error PORT MESSAGE
           a BEP 15 UDP tracker on 127.0.0.1:PORT that hands out connection
           ids and answers every announce with an error (action 3) carrying
           MESSAGE; prints "ready", then one line per announce
"""
import http.server
import os
import re
import socket
import struct
import sys
import urllib.parse
import urllib.request


def scrape(url, hexhash):
    if '/announce' not in url:
        sys.exit('scrape: no /announce in ' + url)
    base = url.replace('udp://', 'http://', 1).replace('/announce', '/scrape')
    q = urllib.parse.quote_from_bytes(bytes.fromhex(hexhash))
    with urllib.request.urlopen('%s?info_hash=%s' % (base, q), timeout=5) as r:
        body = r.read()

    # A scrape reply holds one dict of three integers per torrent; with a
    # single info_hash asked for, the keys occur once each.
    def num(key):
        m = re.search(rb'%d:%si(\d+)e' % (len(key), key), body)
        return int(m.group(1)) if m else 0
    print(num(b'complete'), num(b'incomplete'), num(b'downloaded'))


class Junk(http.server.BaseHTTPRequestHandler):
    body = b'<html>this is not bencode</html>\n'

    def do_GET(self):
        self.send_response(200)
        self.send_header('Content-Type', 'text/html')
        self.send_header('Content-Length', str(len(self.body)))
        self.end_headers()
        self.wfile.write(self.body)
        q = urllib.parse.parse_qs(urllib.parse.urlsplit(self.path).query)
        print('answered port=%s event=%s ' % (q.get('port', ['?'])[0],
              q.get('event', ['none'])[0]), flush=True)

    def log_message(self, *args):
        pass


def junk(port):
    srv = http.server.HTTPServer(('127.0.0.1', port), Junk)
    print('ready', flush=True)
    srv.serve_forever()


def udp_error(port, message):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(('127.0.0.1', port))
    print('ready', flush=True)
    while True:
        pkt, peer = s.recvfrom(2048)
        if len(pkt) < 16:
            continue
        conn, action, tid = struct.unpack('>QII', pkt[:16])
        if action == 0 and conn == 0x41727101980:
            s.sendto(struct.pack('>II', 0, tid) + os.urandom(8), peer)
        elif action == 1:
            s.sendto(struct.pack('>II', 3, tid) + message.encode(), peer)
            port, = struct.unpack('>H', pkt[96:98]) if len(pkt) >= 98 \
                else ('?',)
            event, = struct.unpack('>I', pkt[80:84]) if len(pkt) >= 84 \
                else ('?',)
            print('refused announce port=%s event=%s ' % (port, event),
                  flush=True)


def main(argv):
    if len(argv) == 4 and argv[1] == 'scrape':
        scrape(argv[2], argv[3])
    elif len(argv) == 3 and argv[1] == 'junk':
        junk(int(argv[2]))
    elif len(argv) == 4 and argv[1] == 'udp-error':
        udp_error(int(argv[2]), argv[3])
    else:
        sys.exit(__doc__)


if __name__ == '__main__':
    main(sys.argv)
