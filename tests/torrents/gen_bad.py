#!/usr/bin/env python3
"""Write the hand-made malicious torrents tests/torrents/bad-*.torrent and
tests/torrents/bad-reasons.txt (one "FILE<TAB>reason" line each: the exact
reason btdownload and btshowmetainfo must give).

Each torrent differs from a valid one in one way only, so that the reason
it is refused is the one named.  The files are committed; run this again
(python3 tests/torrents/gen_bad.py) after changing it.
"""
import os

HERE = os.path.dirname(os.path.abspath(__file__))
PIECE = 16384


def benc(v):
    """bencode v (int, bytes, str, list, dict); dict keys sorted."""
    if isinstance(v, Raw):
        return v.b
    if isinstance(v, int):
        return b'i%de' % v
    if isinstance(v, str):
        v = v.encode('utf-8', 'surrogateescape')
    if isinstance(v, bytes):
        return b'%d:%s' % (len(v), v)
    if isinstance(v, list):
        return b'l' + b''.join(benc(x) for x in v) + b'e'
    if isinstance(v, dict):
        items = sorted((k.encode() if isinstance(k, str) else k, x)
                       for k, x in v.items())
        return b'd' + b''.join(benc(k) + benc(x) for k, x in items) + b'e'
    raise TypeError(v)


class Raw:
    """Bytes inserted verbatim into an encoding."""
    def __init__(self, b):
        self.b = b


def pieces(total):
    """Hashes for total bytes (one for absurd totals: never reached)."""
    if total > 1 << 30:
        return b'P' * 20
    return b'P' * (20 * ((total + PIECE - 1) // PIECE))


def single(name='file', length=1000, **extra):
    info = {'length': length, 'name': name, 'piece length': PIECE,
            'pieces': pieces(length)}
    info.update(extra)
    return {'announce': 'http://127.0.0.1:6969/announce', 'info': info}


def multi(files, name='dir', **extra):
    """files: list of (path list, length) or of dicts."""
    fl = [f if isinstance(f, (dict, int)) else
          {'length': f[1], 'path': f[0]} for f in files]
    total = sum(f.get('length', 0) for f in fl if isinstance(f, dict))
    info = {'files': fl, 'name': name, 'piece length': PIECE,
            'pieces': pieces(max(total, 0))}
    info.update(extra)
    return {'announce': 'http://127.0.0.1:6969/announce', 'info': info}


def with_info(**kv):
    t = single()
    t['info'].update(kv)
    return t


def without(key):
    t = single()
    del t['info'][key]
    return t


RLO = '\u202e'
LRI = '\u2066'

# (name, torrent bytes or value, reason)
CASES = [
    # Path traversal, every form.
    ('path-dotdot', multi([(['..', 'etc', 'passwd'], 10)]),
     'info.files[0].path[0] is ".."'),
    ('path-dotdot-deep', multi([(['a', '..', '..', 'x'], 10)]),
     'info.files[0].path[1] is ".."'),
    ('path-dot', multi([(['.', 'x'], 10)]), 'info.files[0].path[0] is "."'),
    ('path-dotdot-slash', multi([(['../../x'], 10)]),
     "info.files[0].path[0] contains '/'"),
    ('path-absolute', multi([(['/etc/passwd'], 10)]),
     "info.files[0].path[0] contains '/'"),
    ('path-slash-inside', multi([(['ok', 'a/b'], 10)]),
     "info.files[0].path[1] contains '/'"),
    ('path-backslash', multi([(['..\\..\\x'], 10)]),
     "info.files[0].path[0] contains '\\'"),
    ('path-nul', multi([(['a\0b'], 10)]),
     'info.files[0].path[0] contains a NUL byte'),
    ('path-newline', multi([(['a\nb'], 10)]),
     'info.files[0].path[0] contains a control character'),
    ('path-escape', multi([(['\x1b[2Jx'], 10)]),
     'info.files[0].path[0] contains a control character'),
    ('path-del', multi([(['a\x7f'], 10)]),
     'info.files[0].path[0] contains a control character'),
    ('path-c1-csi', multi([(['a\u009b2J'], 10)]),
     'info.files[0].path[0] contains a control character'),
    ('path-bidi-rlo', multi([(['txt.' + RLO + 'exe'], 10)]),
     'info.files[0].path[0] contains a bidi control character'),
    ('path-bidi-isolate', multi([(['a' + LRI + 'b'], 10)]),
     'info.files[0].path[0] contains a bidi control character'),
    ('path-empty-component', multi([(['a', ''], 10)]),
     'info.files[0].path[1] is empty'),
    ('path-empty-list', multi([([], 10)]), 'info.files[0].path is empty'),
    ('path-not-string', multi([([1], 10)]),
     'info.files[0].path[0] is not a string'),
    ('path-too-long-component', multi([(['a' * 256], 10)]),
     'info.files[0].path[0] is longer than 255 bytes'),
    ('path-too-deep', multi([(['ab'] * 1500, 10)]),
     'info.files[0].path is longer than 4095 bytes'),
    ('path-duplicate', multi([(['a', 'b'], 10), (['a', 'b'], 20)]),
     'info.files[1] has the same path as info.files[0]'),
    ('path-file-is-dir', multi([(['a'], 10), (['a', 'b'], 20)]),
     'info.files[1] is inside info.files[0], which is a file'),
    ('path-symlink-attr', multi([(['a'], 10), {
        'attr': 'l', 'length': 0, 'path': ['link'],
        'symlink path': ['..', '..', 'etc', 'passwd']}]),
     'info.files[1].attr: symlinks are not supported'),
    ('path-symlink-attr-single', with_info(**{
        'attr': 'lx', 'symlink path': ['..', 'etc']}),
     'info.attr: symlinks are not supported'),
    ('name-dotdot', single(name='..'), 'info.name is ".."'),
    ('name-dot', single(name='.'), 'info.name is "."'),
    ('name-empty', single(name=''), 'info.name is empty'),
    ('name-absolute', single(name='/tmp/x'), "info.name contains '/'"),
    ('name-backslash', single(name='a\\b'), "info.name contains '\\'"),
    ('name-nul', single(name='a\0'), 'info.name contains a NUL byte'),
    ('name-escape', single(name='\x1b[2J\x1b]0;owned\x07'),
     'info.name contains a control character'),
    ('name-bidi', single(name='evil' + RLO + 'fdp.exe'),
     'info.name contains a bidi control character'),
    ('name-too-long', single(name='n' * 300),
     'info.name is longer than 255 bytes'),
    ('name-not-string', with_info(name=7), 'info.name is not a string'),
    # Pieces and piece length.
    ('piece-length-zero', with_info(**{'piece length': 0}),
     'info.piece length 0 is not positive'),
    ('piece-length-negative', with_info(**{'piece length': -16384}),
     'info.piece length -16384 is not positive'),
    ('piece-length-huge', with_info(**{'piece length': 1 << 40}),
     'info.piece length 1099511627776 exceeds the 64 MiB cap'),
    ('piece-length-string', with_info(**{'piece length': '16384'}),
     'info.piece length is not an integer'),
    ('pieces-not-multiple', with_info(pieces=b'P' * 41),
     'info.pieces length 41 is not a multiple of 20'),
    ('pieces-too-few', single(length=3 * PIECE, pieces=b'P' * 40),
     'info.pieces holds 2 hashes, expected 3 for 49152 bytes in pieces '
     'of 16384'),
    ('pieces-too-many', with_info(pieces=b'P' * 60),
     'info.pieces holds 3 hashes, expected 1 for 1000 bytes in pieces '
     'of 16384'),
    ('pieces-missing', without('pieces'), 'info.pieces is missing'),
    # Sizes.
    ('length-negative', with_info(length=-1),
     'info.length -1 is negative'),
    ('length-zero', single(length=0, pieces=b''),
     'total length is 0: nothing to share'),
    ('length-over-64-bits', Raw(benc(single()).replace(
        b'6:lengthi1000e', b'6:lengthi18446744073709551617e')),
     'bencode: integer out of range at offset 60'),
    ('length-sum-overflow', multi([(['a'], 1 << 62), (['b'], 1 << 62)]),
     'info.files[1].length makes the total length overflow'),
    ('length-string', with_info(length='1000'),
     'info.length is not an integer'),
    # Bencode structure.
    ('nesting-100000', Raw(b'd4:info' + b'l' * 100000 + b'e' * 100000 +
                           b'e'), 'bencode: nesting too deep at offset 262'),
    ('string-1gb-claim', Raw(b'd8:announce1073741824:http://x/e'),
     'bencode: string length exceeds cap at offset 11'),
    ('string-huge-claim', Raw(b'd4:info99999999999999999999999:x'),
     'bencode: string length exceeds cap at offset 7'),
    ('keys-unsorted', Raw(b'd4:infod6:lengthi1e4:name1:a12:piece lengthi1e'
                          b'6:pieces20:' + b'P' * 20 + b'e8:announce1:xe'),
     'bencode: dict keys not sorted at offset 78'),
    ('keys-duplicate', Raw(b'd4:infod6:lengthi1e6:lengthi1e4:name1:a'
                           b'12:piece lengthi1e6:pieces20:' + b'P' * 20 +
                           b'ee'), 'bencode: duplicate dict key at offset 19'),
    ('int-minus-zero', Raw(benc(single()).replace(b'i1000e', b'i-0e')),
     'bencode: negative zero at offset 59'),
    ('root-list', Raw(b'l' + benc(single()) + b'e'),
     'metainfo is not a dict'),
    ('info-missing', {'announce': 'http://x/'}, 'info is missing'),
    ('info-not-dict', {'info': 'x'}, 'info is not a dict'),
    ('info-both', with_info(files=[{'length': 1, 'path': ['a']}]),
     'info has both length and files'),
    ('info-neither', without('length'),
     'info has neither length nor files'),
    ('files-empty', multi([]), 'info.files is empty'),
    ('files-not-dict', multi([7]), 'info.files[0] is not a dict'),
    ('announce-not-string', Raw(benc(single()).replace(
        b'8:announce30:http://127.0.0.1:6969/announce', b'8:announcei1e')),
     'announce is not a string'),
]


def main():
    lines = []
    for name, value, reason in CASES:
        data = value.b if isinstance(value, Raw) else benc(value)
        fn = 'bad-%s.torrent' % name
        with open(os.path.join(HERE, fn), 'wb') as f:
            f.write(data)
        lines.append('%s\t%s\n' % (fn, reason))
    with open(os.path.join(HERE, 'bad-reasons.txt'), 'w') as f:
        f.writelines(lines)


if __name__ == '__main__':
    main()
