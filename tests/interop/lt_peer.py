#!/usr/bin/python3
"""A libtorrent peer for the interop tests (python3-libtorrent, Debian's
/usr/bin/python3).

usage: lt_peer.py seed|leech TORRENT SAVE_DIR ADDR PORT [TIMEOUT_S]

seed   check the data in SAVE_DIR, print "seeding" once every piece is
       verified, then serve until killed.
leech  download into SAVE_DIR; print "running" once the torrent is
       checked and takes peers, "complete SECONDS" and exit 0 once every
       piece is verified, or exit 1 after TIMEOUT_S (default 120).

It listens on ADDR:PORT (127.0.0.1 or ::1) over TCP only: no uTP, DHT,
local service discovery, UPnP, NAT-PMP or peer exchange, so the only peers
are the tracker's and whoever dials in.  Every peer of a loopback swarm
has the same address, and libtorrent refuses a second connection from an
address it already has a connection with unless
allow_multiple_connections_per_ip is set.  LT_DEBUG=1 prints peer alerts.
"""
import os
import sys
import time

import libtorrent as lt


def settings(mode, addr, port):
    s = lt.high_performance_seed() if mode == 'seed' else lt.default_settings()
    listen = '[%s]:%d' % (addr, port) if ':' in addr else '%s:%d' % (addr, port)
    mask = lt.alert_category.error | lt.alert_category.status
    if os.environ.get('LT_DEBUG') == '1':
        mask |= lt.alert_category.peer | lt.alert_category.connect
    s.update({
        'listen_interfaces': listen,
        'enable_dht': False,
        'enable_lsd': False,
        'enable_upnp': False,
        'enable_natpmp': False,
        'enable_outgoing_utp': False,
        'enable_incoming_utp': False,
        'allow_multiple_connections_per_ip': True,
        'alert_mask': mask,
    })
    return s


def add(ses, torrent, save):
    p = lt.add_torrent_params()
    p.ti = lt.torrent_info(torrent)
    p.save_path = save
    # Start now: no queueing behind other torrents, no pause.
    p.flags &= ~lt.torrent_flags.auto_managed
    p.flags &= ~lt.torrent_flags.paused
    p.flags |= lt.torrent_flags.disable_pex | lt.torrent_flags.disable_dht \
        | lt.torrent_flags.disable_lsd
    return ses.add_torrent(p)


def say(*args):
    print(*args, flush=True)


def main(argv):
    if len(argv) < 6 or argv[1] not in ('seed', 'leech'):
        sys.exit(__doc__)
    mode, torrent, save, addr, port = argv[1:6]
    timeout = float(argv[6]) if len(argv) > 6 else 120.0
    ses = lt.session(settings(mode, addr, int(port)))
    h = add(ses, torrent, save)
    t0 = time.monotonic()
    seeding = running = False
    while True:
        ses.wait_for_alert(200)
        for a in ses.pop_alerts():
            print('alert:', a.message(), file=sys.stderr, flush=True)
        st = h.status()
        if st.state == st.downloading and not running:
            say('running')
            running = True
        if st.is_seeding and mode == 'leech':
            say('complete %.1f' % (time.monotonic() - t0))
            h.flush_cache()
            ses.remove_torrent(h)
            return 0
        if st.is_seeding and not seeding:
            say('seeding')
            seeding = True
        if mode == 'leech' and time.monotonic() - t0 > timeout:
            print('timeout: progress %.3f, %d peers' % (st.progress,
                  st.num_peers), file=sys.stderr, flush=True)
            return 1


if __name__ == '__main__':
    sys.exit(main(sys.argv))
