#!/usr/bin/env python3
"""Write the seed corpora of the fuzz targets into fuzz/corpus/<target>/.

Each seed is a small hand-made input that reaches one path of the parser;
the fuzzer mutates from there.  Run from anywhere: python3 fuzz/gen_corpus.py
(it rewrites the directory; the files are committed).
"""
import os
import shutil
import struct

HERE = os.path.dirname(os.path.abspath(__file__))
CORPUS = os.path.join(HERE, 'corpus')
TORRENTS = os.path.join(HERE, '..', 'tests', 'torrents')


def benc(v):
    """bencode v: int, bytes, str, list, dict (keys sorted)."""
    if isinstance(v, bool):
        raise TypeError(v)
    if isinstance(v, int):
        return b'i%de' % v
    if isinstance(v, str):
        v = v.encode()
    if isinstance(v, bytes):
        return b'%d:%s' % (len(v), v)
    if isinstance(v, list):
        return b'l' + b''.join(benc(x) for x in v) + b'e'
    if isinstance(v, dict):
        items = sorted((k.encode() if isinstance(k, str) else k, x)
                       for k, x in v.items())
        return b'd' + b''.join(benc(k) + benc(x) for k, x in items) + b'e'
    raise TypeError(v)


def torrent_single():
    return benc({'announce': 'http://t/a', 'info': {
        'length': 20000, 'name': 'file', 'piece length': 16384,
        'pieces': b'A' * 40}})


def torrent_multi():
    return benc({'announce': 'http://t/a',
                 'announce-list': [['http://t/a', 'udp://u:80'], ['http://x/']],
                 'comment': 'c', 'created by': 'me', 'creation date': 1,
                 'info': {'files': [
                     {'length': 3, 'path': ['a', 'b']},
                     {'length': 0, 'path': ['empty']},
                     {'length': 16384, 'path': ['c']}],
                     'name': 'dir', 'piece length': 16384,
                     'pieces': b'B' * 40, 'private': 1}})


def seeds_bencode():
    return {
        'int': b'i42e', 'neg': b'i-7e', 'str': b'4:spam', 'empty_str': b'0:',
        'list': b'l4:spami42ee', 'dict': b'd3:bar4:spam3:fooi42ee',
        'nested': b'd1:ald1:bi1eeee', 'big_int': b'i9223372036854775807e',
        'leading_zero': b'i03e', 'minus_zero': b'i-0e', 'unsorted': b'd1:bi1e1:ai2ee',
        'trailing': b'i1ei2e', 'deep': b'l' * 300 + b'e' * 300,
        'torrent': torrent_single(),
    }


def seeds_metainfo():
    s = {'single': torrent_single(), 'multi': torrent_multi()}
    for name in sorted(os.listdir(TORRENTS)):
        path = os.path.join(TORRENTS, name)
        if name.endswith('.torrent') and os.path.getsize(path) <= 4096:
            with open(path, 'rb') as f:
                s['t_' + name[:-len('.torrent')]] = f.read()
    return s


def compact4(ip, port):
    return bytes(int(x) for x in ip.split('.')) + struct.pack('>H', port)


def announce_bodies():
    peers = compact4('127.0.0.1', 6881) + compact4('10.0.0.2', 51413)
    peers6 = b'\0' * 15 + b'\1' + struct.pack('>H', 6881)
    return {
        'compact': benc({'interval': 1800, 'peers': peers}),
        'dicts': benc({'complete': 1, 'incomplete': 2, 'interval': 60,
                       'min interval': 30, 'peers': [
                           {'ip': '127.0.0.1', 'peer id': b'P' * 20, 'port': 1},
                           {'ip': '::1', 'port': 2},
                           {'ip': 'host.example', 'port': 3}]}),
        'peers6': benc({'interval': 60, 'peers': b'', 'peers6': peers6}),
        'failure': benc({'failure reason': 'go away \x1b[2J'}),
        'warning': benc({'interval': 60, 'peers': peers,
                         'tracker id': 'xyz', 'warning message': 'hm'}),
    }


def seeds_http():
    bodies = announce_bodies()
    b = bodies['compact']
    chunked = b'%x\r\n%s\r\n%x;ext=1\r\n%s\r\n0\r\nX-T: 1\r\n\r\n' % (
        10, b[:10], len(b) - 10, b[10:])
    return {
        'length': b'\x05HTTP/1.1 200 OK\r\nContent-Length: %d\r\n'
                  b'Content-Type: text/plain\r\n\r\n%s' % (len(b), b),
        'close': b'\x01HTTP/1.0 200 OK\r\n\r\n' + bodies['dicts'],
        'chunked': b'\x03HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n'
                   b'\r\n' + chunked,
        'continue': b'\x07HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\n'
                    b'Content-Length: %d\n\n%s' % (len(b), b),
        'redirect': b'\x00HTTP/1.1 302 Found\r\nLocation: /other?x=1\r\n'
                    b'Content-Length: 0\r\n\r\n',
        'failure': b'\x02HTTP/1.1 200 OK\r\n\r\n' + bodies['failure'],
        'error': b'\x02HTTP/1.1 404 Not Found\r\nContent-Length: 3\r\n\r\nno\n',
    }


def seeds_url():
    return {
        'http': b'http://tracker.example:6969/announce\0/new/path',
        'query': b'http://t/announce?passkey=abc\0rel?x=1',
        'udp': b'udp://tracker.example:1337/announce\0//other.example/x',
        'v6': b'http://[::1]:8080/a/b\0http://127.0.0.1/c',
        'https': b'https://secure.example/announce\0x',
    }


def handshake():
    return b'\x13BitTorrent protocol' + b'\0' * 8 + b'H' * 20 + b'P' * 20


def msg(mid, payload=b''):
    return struct.pack('>IB', 1 + len(payload), mid) + payload


def seeds_peerwire():
    hdr = struct.pack('>H', 10)
    stream = (handshake() + msg(5, b'\xff\xc0') + b'\0\0\0\0' + msg(1) +
              msg(2) + msg(4, struct.pack('>I', 3)) +
              msg(6, struct.pack('>III', 1, 0, 16384)) +
              msg(8, struct.pack('>III', 1, 0, 16384)) +
              msg(7, struct.pack('>II', 2, 0) + b'data') +
              msg(9, struct.pack('>H', 6881)) + msg(3) + msg(0))
    return {
        'whole': hdr + b'\0' + stream,
        'bytewise': hdr + b'\1' + stream,
        'split7': hdr + b'\7' + stream,
        'badid': hdr + b'\0' + handshake() + msg(20, b'x'),
        'toolong': hdr + b'\0' + handshake() + b'\xff\xff\xff\xff',
        'selfid': hdr + b'\0' + handshake()[:48] + b'M' * 20,
        'mse': hdr + b'\0' + b'\x8a' * 96,
    }


def seeds_udp():
    peers = compact4('127.0.0.1', 6881) + compact4('1.2.3.4', 0)
    peer6 = b'\0' * 15 + b'\1' + struct.pack('>H', 6881)
    return {
        'connect': b'\0' + struct.pack('>IIQ', 0, 7, 0x1122334455667788),
        'announce4': b'\0' + struct.pack('>IIIII', 1, 7, 1800, 1, 2) + peers,
        'announce6': b'\1' + struct.pack('>IIIII', 1, 7, 60, 0, 0) + peer6,
        'stray': b'\0' + struct.pack('>IIIII', 1, 7, 60, 0, 0) + b'abc',
        'error': b'\0' + struct.pack('>II', 3, 7) + b'banned \x1b[31m',
        'short': b'\0' + struct.pack('>II', 0, 7),
    }


def seeds_parseargs():
    vals = [(0, '16K'), (0, '1.5M'), (0, '8MiB'), (1, '100'), (1, '0.5'),
            (1, '2M'), (2, '30'), (2, '1.5h'), (2, '90m'), (3, '127.0.0.1:6881'),
            (3, '[::1]:80'), (3, 'host.example:1'), (4, '-3'), (5, '42'),
            (6, '0.25'), (7, '1')]
    return {'v%02d' % i: bytes([sel]) + v.encode()
            for i, (sel, v) in enumerate(vals)}


def seeds_resume():
    def hdr(lengths, npieces):
        return (bytes([len(lengths)]) + struct.pack('>H', npieces) +
                b''.join(struct.pack('>I', x) for x in lengths))

    def doc(files, have, npieces, uploaded=0, ih=b'I' * 20):
        return benc({'files': files, 'have': have, 'info hash': ih,
                     'pieces': npieces, 'uploaded': uploaded, 'version': 1})
    return {
        'single': hdr([40000], 3) + doc([[40000, 1700000000, 5]],
                                        b'\xa0', 3, 12345),
        'multi': hdr([3, 0, 16384], 2) + doc(
            [[3, 1, 0], [0, 2, 999999999], [16384, -5, 0]], b'\xc0', 2),
        'none': hdr([10], 1) + doc([[10, 0, 0]], b'\x00', 1),
        'wrong_hash': hdr([10], 1) + doc([[10, 0, 0]], b'\x80', 1,
                                         ih=b'X' * 20),
        'spare_bits': hdr([10], 1) + doc([[10, 0, 0]], b'\xff', 1),
        'extra_key': hdr([10], 1) + benc({'files': [[10, 0, 0]],
                                          'have': b'\x80', 'x': 1}),
    }


def seeds_argv():
    lines = [
        ['x.torrent'],
        ['--max_upload_rate', '100', '--saveas', 'out', 'x.torrent'],
        ['--max-upload-rate=2M', '-v', '--peer', '127.0.0.1:6881',
         '--peer', '[::1]:1', 'x.torrent'],
        ['--check_hashes', '0', '--', '-x.torrent'],
        ['--url', 'http://t/x.torrent'],
        ['--minport', '7000', '--maxport', '6999', 'x.torrent'],
        ['--bogus'],
        ['--help'],
    ]
    return {'a%d' % i: b'\0'.join(a.encode() for a in v)
            for i, v in enumerate(lines)}


TARGETS = {
    'bencode': seeds_bencode, 'metainfo': seeds_metainfo,
    'announce': announce_bodies, 'http': seeds_http, 'url': seeds_url,
    'peerwire': seeds_peerwire, 'udp': seeds_udp, 'parseargs': seeds_parseargs,
    'resume': seeds_resume, 'argv': seeds_argv,
}


def main():
    for target, fn in TARGETS.items():
        d = os.path.join(CORPUS, target)
        shutil.rmtree(d, ignore_errors=True)
        os.makedirs(d)
        for name, data in fn().items():
            with open(os.path.join(d, name), 'wb') as f:
                f.write(data)


if __name__ == '__main__':
    main()
