#!/usr/bin/python3
"""lt_client.py seed|leech TORRENT DATADIR PORT

A libtorrent-rasterbar 2.0 peer for bench/run.sh, on 127.0.0.1 only: plain
TCP, no DHT, LSD, UPnP, NAT-PMP, uTP or PEX, several connections per IP
allowed (every peer is 127.0.0.1).

seed:  checks DATADIR, prints SEEDING once it seeds, and re-announces every
       second so that it dials leechers that do not dial loopback peers
       (Transmission 3.00).  Runs until killed.
leech: prints DONE when every piece is verified, then keeps running until
       killed (bench/rusage takes its figures at that line).

Settings are libtorrent's defaults (high_performance_seed for the seeder),
so the figures are what a user of either gets."""
import sys
import time

import libtorrent as lt

mode, tor, save, port = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])

sp = lt.high_performance_seed() if mode == 'seed' else lt.default_settings()
sp.update({
    'listen_interfaces': '127.0.0.1:%d' % port,
    'outgoing_interfaces': '127.0.0.1',
    'enable_dht': False, 'enable_lsd': False, 'enable_upnp': False,
    'enable_natpmp': False,
    'enable_outgoing_utp': False, 'enable_incoming_utp': False,
    'allow_multiple_connections_per_ip': True,
    'announce_to_all_trackers': True,
    'alert_mask': lt.alert_category.error | lt.alert_category.status,
})
ses = lt.session(sp)
atp = lt.add_torrent_params()
atp.ti = lt.torrent_info(tor)
atp.save_path = save
atp.flags &= ~lt.torrent_flags.auto_managed
atp.flags &= ~lt.torrent_flags.paused
atp.flags |= (lt.torrent_flags.disable_pex | lt.torrent_flags.disable_dht |
              lt.torrent_flags.disable_lsd)
h = ses.add_torrent(atp)

said = False
last_announce = 0.0
while True:
    ses.wait_for_alert(100)
    for a in ses.pop_alerts():
        if a.category() & lt.alert_category.error:
            print('ALERT', a.message(), file=sys.stderr, flush=True)
    st = h.status()
    if st.is_seeding and not said:
        print('DONE' if mode == 'leech' else 'SEEDING', flush=True)
        said = True
    if mode == 'seed' and said and time.time() - last_announce >= 1:
        h.force_reannounce(0, -1, lt.reannounce_flags_t.ignore_min_interval)
        last_announce = time.time()
