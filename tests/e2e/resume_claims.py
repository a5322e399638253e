#!/usr/bin/env python3
"""Check a btdownload resume file against the real content.

usage: resume_claims.py TORRENT RESUMEFILE SAVEPATH SOURCEPATH

Every piece the resume file claims ("have") must hold exactly the bytes of
the source copy.  Prints "claimed N wrong M" and exits 1 when M > 0 (or
when the file is malformed).  Used by tests/e2e/resume.sh.
"""
import os
import sys


def bdecode(b, i=0):
    c = b[i:i + 1]
    if c == b"i":
        j = b.index(b"e", i)
        return int(b[i + 1:j]), j + 1
    if c == b"l":
        out, i = [], i + 1
        while b[i:i + 1] != b"e":
            v, i = bdecode(b, i)
            out.append(v)
        return out, i + 1
    if c == b"d":
        out, i = {}, i + 1
        while b[i:i + 1] != b"e":
            k, i = bdecode(b, i)
            v, i = bdecode(b, i)
            out[k] = v
        return out, i + 1
    j = b.index(b":", i)
    n = int(b[i:j])
    return b[j + 1:j + 1 + n], j + 1 + n


def stream(info, root):
    """The torrent's files in order, as (path, length) under root."""
    if b"files" not in info:
        return [(root, info[b"length"])]
    return [(os.path.join(root, *[p.decode() for p in f[b"path"]]),
             f[b"length"]) for f in info[b"files"]]


def read_range(files, off, n):
    out = b""
    for path, length in files:
        if off >= length:
            off -= length
            continue
        with open(path, "rb") as f:
            f.seek(off)
            out += f.read(min(n - len(out), length - off))
        off = 0
        if len(out) == n:
            break
    return out


def main():
    tor, res, save, src = sys.argv[1:5]
    info = bdecode(open(tor, "rb").read())[0][b"info"]
    rec = bdecode(open(res, "rb").read())[0]
    plen = info[b"piece length"]
    have = rec[b"have"]
    mine, theirs = stream(info, save), stream(info, src)
    total = sum(l for _, l in theirs)
    claimed = wrong = 0
    for i in range(rec[b"pieces"]):
        if not have[i // 8] & (0x80 >> (i % 8)):
            continue
        claimed += 1
        n = min(plen, total - i * plen)
        if read_range(mine, i * plen, n) != read_range(theirs, i * plen, n):
            wrong += 1
    print("claimed %d wrong %d" % (claimed, wrong))
    sys.exit(1 if wrong else 0)


main()
