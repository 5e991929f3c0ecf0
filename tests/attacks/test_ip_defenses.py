"""The stack below TCP, and UDP, against a hostile station on the wire
(issue 16): martian sources, receive livelock, echo amplifiers, IP
reassembly, the ARP cache, UDP's buffers, the forwarder's flows.

Each test crafts frames with its own code (below: not the stack's packet
builders, so a bug there cannot hide one here), puts them on a host with
``inject`` (as its driver would hand them up) or on the wire, and asserts
that the stack held: the drop counted with its reason, no answer sent,
state bounded, virtual time advancing while a host-time watchdog stands by.
"""

from __future__ import annotations

import random
import signal
import struct
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from kernel.core.costs import CLOCK_MHZ
from kernel.net import endpoints as E
from kernel.net.records import PacketOut
from kernel.net.topology import BASE_MAC, Network
from kernel.net.udp import UdpEndpoint
from kernel.params import DATAGRAM_OVERHEAD, UDP_RCVBUF
from tests.conftest import ROOT

EXT = ROOT / "extensions"
ROGUE = 0x0200_0000_00EE  # the attacker's card
BCAST_MAC = 0xFFFF_FFFF_FFFF
A, B = "10.0.0.1", "10.0.0.2"
UDP, ICMP = 17, 1


def mac(i: int) -> int:
    """The card of host ``i`` (0-based) in a topology.Network."""
    return BASE_MAC | (i + 1)


# --- frames, made here -------------------------------------------------------------------


def _sum(data: bytes) -> int:
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


def _a(addr: str) -> bytes:
    return bytes(int(x) for x in addr.split("."))


def eth(dst: int, src: int, etype: int, payload: bytes) -> bytes:
    f = dst.to_bytes(6, "big") + src.to_bytes(6, "big") + etype.to_bytes(2, "big") + payload
    return f.ljust(60, b"\0")


def ipv4(src: str, dst: str, proto: int, body: bytes, ident: int = 77, frag: int = 0x4000) -> bytes:
    """An IPv4 header (``frag``: flags and offset, in the header's own units) and ``body``."""
    h = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(body), ident, frag, 64, proto, 0, _a(src), _a(dst))
    return h[:10] + _sum(h).to_bytes(2, "big") + h[12:] + body


def udp(src: str, dst: str, sport: int, dport: int, data: bytes) -> bytes:
    n = 8 + len(data)
    h = struct.pack("!HHHH", sport, dport, n, 0)
    c = _sum(_a(src) + _a(dst) + struct.pack("!BBH", 0, UDP, n) + h + data) or 0xFFFF
    return h[:6] + c.to_bytes(2, "big") + data


def icmp(typ: int, ident: int, seq: int, data: bytes = b"x" * 16) -> bytes:
    h = struct.pack("!BBHHH", typ, 0, 0, ident, seq)
    return h[:2] + _sum(h + data).to_bytes(2, "big") + h[4:] + data


def udp_frame(src: str, dst: str, sport: int, dport: int, data: bytes, to: int, frm: int = ROGUE) -> bytes:
    return eth(to, frm, 0x0800, ipv4(src, dst, UDP, udp(src, dst, sport, dport, data)))


def arp(op: int, sha: int, spa: str, tha: int, tpa: str, to: int = BCAST_MAC, frm: int | None = None) -> bytes:
    body = struct.pack("!HHBBH", 1, 0x0800, 6, 4, op) + sha.to_bytes(6, "big") + _a(spa) + tha.to_bytes(6, "big")
    return eth(to, sha if frm is None else frm, 0x0806, body + _a(tpa))


def fragments(src: str, dst: str, proto: int, body: bytes, ident: int, size: int) -> list[tuple[int, bytes]]:
    """``body`` cut into IP fragments of ``size`` bytes (a multiple of 8): (offset, packet)."""
    out = []
    for off in range(0, len(body), size):
        more = off + size < len(body)
        out.append((off, ipv4(src, dst, proto, body[off : off + size], ident, (0x2000 if more else 0) | off // 8)))
    return out


def frag(src: str, dst: str, piece: bytes, off: int, more: bool, ident: int, proto: int = UDP) -> bytes:
    return ipv4(src, dst, proto, piece, ident, (0x2000 if more else 0) | off // 8)


# --- running -----------------------------------------------------------------------------


@contextmanager
def watchdog(seconds: float) -> Iterator[None]:
    """Fail, rather than hang, if the block takes more host time than ``seconds``."""

    def expired(*_: Any) -> None:
        raise TimeoutError(f"host-time watchdog: the world did not come back within {seconds} s")

    old = signal.signal(signal.SIGALRM, expired)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)


def run_checked(net: Network, us: float, host_seconds: float = 20.0) -> float:
    """Run ``us`` of virtual time under the watchdog; the host seconds it took."""
    t0 = time.monotonic()  # host-time ok: a test's watchdog
    start = net.now
    with watchdog(host_seconds):
        net.run_us(us)
    assert net.now >= start + int(us * CLOCK_MHZ), "virtual time did not advance"
    return time.monotonic() - t0  # host-time ok


def load(k: Any, name: str, **settings: Any) -> Any:
    as_name = settings.pop("as_name", None)
    return k.system.load_file(EXT / f"{name}.py", importer="root", settings=settings or None, name=as_name)


def frames_out(k: Any) -> list[PacketOut]:
    return list(k.trace.of(PacketOut))


def warm(net: Network) -> None:
    """Every host has pinged every other once: ARP caches hold fresh entries."""
    for k in net.hosts:
        for other in net.addresses:
            if other != k.net.address:
                k.net.ping(other, 0, ident=0xBEEF)
    net.run_us(20_000)


# --- martians ----------------------------------------------------------------------------

MARTIANS = {
    B: "martian source (this host's address)",
    "0.0.0.0": "martian source (0.0.0.0/8)",
    "0.1.2.3": "martian source (0.0.0.0/8)",
    "255.255.255.255": "martian source (broadcast)",
    "10.0.0.255": "martian source (broadcast)",
    "224.0.0.1": "martian source (multicast)",
    "239.255.255.250": "martian source (multicast)",
    "127.0.0.1": "martian source (loopback 127.0.0.0/8)",
    "240.0.0.1": "martian source (class E)",
}


def test_martian_sources_are_dropped_with_their_reason_and_never_answered() -> None:
    """RFC 1122 §3.2.1.3 and RFC 1812 §5.3.7: no host sends from these; an
    echo request, a datagram for the echo and one for a closed port from
    each are dropped at IP, counted by reason, and nothing goes out."""
    net = Network(2)
    b = net.hosts[1]
    echo = load(b, "udp_echo")
    net.run_us(1000)
    out0 = b.net.counters["frames out"]
    for src in MARTIANS:
        b.net.inject(udp_frame(src, B, 4000, 7, b"echo me", mac(1)))
        b.net.inject(udp_frame(src, B, 4000, 9, b"closed port", mac(1)))
        b.net.inject(eth(mac(1), ROGUE, 0x0800, ipv4(src, B, ICMP, icmp(8, 1, 1))))
    run_checked(net, 10_000)
    for reason in set(MARTIANS.values()):
        n = sum(3 for r in MARTIANS.values() if r == reason)
        assert b.net.drops["IP", reason] == n, (reason, dict(b.net.drops))
    assert echo.namespace["echoed"] == 0 and echo.namespace["ignored"] == 0  # never reached the echo
    assert b.net.counters["frames out"] == out0  # no echo, no port unreachable, no ICMP reply
    assert b.net.counters["icmp echo replies sent"] == 0


def test_only_this_host_and_broadcasts_are_accepted_as_destinations() -> None:
    """A datagram to this host, to 255.255.255.255 or to the subnet's
    directed broadcast reaches UDP; one to another host or to a multicast
    group is not for us. A broadcast to a closed port gets no ICMP error
    (RFC 1122 §3.2.2), and TCP never sees a segment to a broadcast."""
    net = Network(2)
    b = net.hosts[1]
    ep = b.net.udp.bind(9000, "test")
    assert isinstance(ep, UdpEndpoint)
    for dst in (B, "255.255.255.255", "10.0.0.255", "10.0.0.3", "224.0.0.1"):
        b.net.inject(udp_frame(A, dst, 4000, 9000, dst.encode(), mac(1)))
    for dst in ("255.255.255.255", "10.0.0.255"):
        b.net.inject(udp_frame(A, dst, 4000, 9, b"closed", BCAST_MAC))
        syn = struct.pack("!HHIIBBHHH", 4000, 80, 1, 0, 0x50, 0x02, 1024, 0, 0)
        b.net.inject(eth(BCAST_MAC, ROGUE, 0x0800, ipv4(A, dst, 6, syn)))  # (its checksum never looked at)
    out0 = b.net.counters["frames out"]
    run_checked(net, 10_000)
    assert [item[2] for item in ep.queue] == [b"10.0.0.2", b"255.255.255.255", b"10.0.0.255"]
    assert b.net.drops["IP", "not for this host"] == 2
    assert b.net.drops["UDP", "no endpoint on the port"] == 2
    assert b.net.drops["IP", "TCP to a broadcast"] == 2  # RFC 1122 §4.2.3.10: no half-open connections
    assert b.net.counters["frames out"] == out0  # no port unreachable about a broadcast, no RST


def test_icmp_errors_are_rate_limited() -> None:
    """500 datagrams to a closed port 'from' a victim, back to back: a burst
    of port unreachables goes out, then about one a millisecond (RFC 1812
    §4.3.2.8), not one per datagram."""
    net = Network(2)
    b = net.hosts[1]
    net.run_us(1000)
    for i in range(500):
        b.net.inject(udp_frame("10.0.0.3", B, 4000, 9, b"closed", mac(1)))
        if i % 10 == 9:
            net.run_us(500)
    run_checked(net, 10_000)
    sent = 500 - b.net.counters["icmp errors not sent (rate limit)"]
    assert b.net.drops["UDP", "no endpoint on the port"] == 500
    assert 50 <= sent <= 51 + 25 + 10 + 2  # the burst, and one a millisecond over some 35 ms


# --- receive livelock ---------------------------------------------------------------------


def test_a_spoofed_datagram_from_this_host_to_its_echo_is_dropped_and_time_runs() -> None:
    """The attack that froze every machine: a datagram 'from' the echo's
    own address and port. It is martian from the wire; the clock runs."""
    net = Network(2)
    a, b = net.hosts
    echo = load(b, "udp_echo")
    b.net.inject(udp_frame(B, B, 7, 7, b"loop", mac(1)))
    b.net.inject(udp_frame("10.0.0.255", B, 7, 7, b"loop", mac(1)))
    run_checked(net, 50_000, host_seconds=20)
    assert b.net.drops["IP", "martian source (this host's address)"] == 1
    assert b.net.drops["IP", "martian source (broadcast)"] == 1
    assert echo.namespace["echoed"] == 0
    out: dict[str, Any] = {}
    a.sched.fork(E.udp_rtt_client, a, B, 7, 3, 16, out, name="client")
    assert net.run_until(lambda: "done" in out, 1_000_000) and out["ok"]  # the echo still serves


def test_two_echo_services_answering_each_other_through_the_loopback_cannot_stop_the_clock() -> None:
    """Two echo extensions on one host, 7000 and 7001, set talking by one
    datagram: a legitimate ping-pong that never ends, entirely inside the
    network thread. The thread drains a bounded batch and rests, so virtual
    time advances, a lower-priority strand on the host still runs, and the
    host still answers a ping from the wire."""
    net = Network(2)
    a, b = net.hosts
    e0 = load(b, "udp_echo", PORT=7000)
    e1 = load(b, "udp_echo", PORT=7001, as_name="udp_echo_7001")
    ticks = {"n": 0}

    def sleeper() -> None:
        while True:
            ticks["n"] += 1
            b.sched.sleep(CLOCK_MHZ * 1000)

    b.sched.fork(sleeper, name="sleeper")
    net.run_us(2000)
    assert b.net.udp.send(7001, B, 7000, b"ping-pong") == 0
    run_checked(net, 30_000, host_seconds=30)
    bounces = e0.namespace["echoed"] + e1.namespace["echoed"]
    assert bounces > 200  # they are at it ...
    assert b.net.counters["net thread rests (input beyond a batch)"] > 5  # ... and the thread rests between batches
    n0 = ticks["n"]
    a.net.ping(B, 1)
    run_checked(net, 20_000, host_seconds=30)
    assert any(r[3] == 1 for r in a.net.ping_replies)  # the host answers from the wire meanwhile
    assert ticks["n"] - n0 >= 5  # and a strand below the network thread gets the processor
    assert e0.namespace["echoed"] + e1.namespace["echoed"] > bounces  # the game goes on, at a bounded rate


def test_two_hosts_set_ping_ponging_by_one_spoofed_datagram_keep_time_running() -> None:
    """Echo services on two hosts, one spoofed datagram between them. On the
    well-known echo port they refuse to answer another echo (BSD inetd's
    check_loop); on other ports the game runs over the wire, and time with
    it, both hosts still answering pings."""
    net = Network(3)
    a, b, _ = net.hosts
    ea, eb = load(a, "udp_echo"), load(b, "udp_echo")
    warm(net)
    out0 = b.net.counters["udp out"]
    b.net.inject(udp_frame(A, B, 7, 7, b"from a's echo", mac(1), mac(0)))
    run_checked(net, 20_000)
    assert eb.namespace["ignored"] == 1 and b.net.counters["udp out"] == out0  # 7 does not answer 7

    net2 = Network(2)
    a2, b2 = net2.hosts
    fa, fb = load(a2, "udp_echo", PORT=5000), load(b2, "udp_echo", PORT=6000)
    warm(net2)
    b2.net.inject(udp_frame(A, B, 5000, 6000, b"serve", mac(1), mac(0)))
    run_checked(net2, 50_000)
    assert fa.namespace["echoed"] > 20 and fb.namespace["echoed"] > 20  # the wire paces the game
    a2.net.ping(B, 5)
    run_checked(net2, 10_000)
    assert any(r[3] == 5 for r in a2.net.ping_replies)
    assert ea.namespace["echoed"] == 0


def test_a_flood_bigger_than_the_input_queue_is_shed_and_counted() -> None:
    """5,000 frames handed up at once: the network thread's queue holds a
    bounded backlog (Linux's netdev_max_backlog), the rest are counted."""
    net = Network(2)
    b = net.hosts[1]
    ep = b.net.udp.bind(9000, "test")
    assert isinstance(ep, UdpEndpoint)
    ep.rcvbuf = 1 << 30
    f = udp_frame(A, B, 4000, 9000, b"", mac(1))
    for _ in range(5000):
        b.net.inject(f)
    assert len(b.net.queue) <= b.net.queue_limit
    run_checked(net, 200_000)
    assert b.net.drops["Ether", "input queue full"] == 5000 - b.net.queue_limit
    assert len(ep.queue) == b.net.queue_limit and not b.net.queue


# --- echo amplifiers -------------------------------------------------------------------------


def test_the_udp_echo_ignores_datagrams_to_a_broadcast() -> None:
    """One datagram to a broadcast would draw an answer from every host."""
    net = Network(2)
    b = net.hosts[1]
    echo = load(b, "udp_echo")
    net.run_us(1000)
    out0 = b.net.counters["udp out"]
    b.net.inject(udp_frame(A, "255.255.255.255", 4000, 7, b"everyone", BCAST_MAC))
    b.net.inject(udp_frame(A, "10.0.0.255", 4000, 7, b"everyone", BCAST_MAC))
    b.net.inject(udp_frame(A, B, 19, 7, b"from chargen", mac(1)))
    run_checked(net, 10_000)
    assert echo.namespace["ignored"] == 3 and echo.namespace["echoed"] == 0
    assert b.net.counters["udp out"] == out0


def test_icmp_echo_to_a_broadcast_is_ignored_unless_enabled() -> None:
    """Linux's icmp_echo_ignore_broadcasts, on by default: no smurf amplifier."""
    net = Network(2)
    a, b = net.hosts
    warm(net)
    for dst in ("255.255.255.255", "10.0.0.255"):
        b.net.inject(eth(BCAST_MAC, mac(0), 0x0800, ipv4(A, dst, ICMP, icmp(8, 0x77, 1))))
    run_checked(net, 10_000)
    assert b.net.drops["ICMP", "echo request to a broadcast ignored"] == 2
    assert not any(r[2] == 0x77 for r in a.net.ping_replies)
    b.net.icmp_echo_ignore_broadcasts = False
    a.net.pings[A, 0x77, 2] = 0  # as if a had pinged the broadcast itself
    b.net.inject(eth(BCAST_MAC, mac(0), 0x0800, ipv4(A, "10.0.0.255", ICMP, icmp(8, 0x77, 2))))
    run_checked(net, 10_000)
    assert b.net.counters["icmp echo replies sent"] == 2  # warm's one, and this


def test_unsolicited_echo_replies_are_not_kept_and_the_replies_are_a_ring() -> None:
    """5,000 echo replies nobody asked for leave ping_replies empty; the
    replies to real pings are kept in a ring of 1,024; the table of pings
    waiting for an answer is bounded too."""
    net = Network(2)
    a, b = net.hosts
    warm(net)
    a.net.ping_replies.clear()
    for i in range(5000):
        a.net.inject(eth(mac(0), mac(1), 0x0800, ipv4(B, A, ICMP, icmp(0, 0x5350, i), ident=i)))
        if i % 10 == 9:
            net.run_us(1000)  # about the wire's rate of small frames
    run_checked(net, 10_000)
    assert not a.net.ping_replies
    assert a.net.drops["ICMP", "echo reply to no ping of ours"] == 5000
    seq = 0
    for _ in range(11):
        for _ in range(100):
            a.net.ping(B, seq)
            seq += 1
        net.run_us(100_000)
    assert len(a.net.ping_replies) == 1024 and a.net.ping_replies[-1][3] == seq - 1
    for i in range(3000):
        a.net.ping("10.0.0.9", i)  # nobody there: the pings wait forever
    assert len(a.net.pings) <= 1024


# --- IP reassembly --------------------------------------------------------------------------------


def _reasm_host() -> tuple[Network, Any, UdpEndpoint]:
    net = Network(2)
    b = net.hosts[1]
    ep = b.net.udp.bind(9000, "test")
    assert isinstance(ep, UdpEndpoint)
    return net, b, ep


def _datagram(n: int, seed: int = 1) -> tuple[bytes, bytes]:
    data = random.Random(seed).randbytes(n)
    return data, udp(A, B, 4000, 9000, data)


def test_fragments_in_order_out_of_order_and_duplicated_are_reassembled_once() -> None:
    """RFC 791 §3.2: the pieces in any order make one datagram, which goes up
    IP.PacketArrived to UDP like any other; a retransmitted piece is dropped
    alone (not an overlap)."""
    net, b, ep = _reasm_host()
    d1, u1 = _datagram(4000, 1)
    d2, u2 = _datagram(3000, 2)
    d3, u3 = _datagram(2500, 3)
    for _, p in fragments(A, B, UDP, u1, 1, 1480):
        b.net.inject(eth(mac(1), mac(0), 0x0800, p))
    pieces = fragments(A, B, UDP, u2, 2, 512)
    random.Random(5).shuffle(pieces)
    for _, p in pieces:
        b.net.inject(eth(mac(1), mac(0), 0x0800, p))
    pieces = fragments(A, B, UDP, u3, 3, 800)
    for _, p in [x for piece in pieces[:-1] for x in (piece, piece)] + pieces[-1:]:  # each twice but the last
        b.net.inject(eth(mac(1), mac(0), 0x0800, p))
    run_checked(net, 20_000)
    assert [item[2] for item in ep.queue] == [d1, d2, d3]
    assert b.net.counters["ip datagrams reassembled"] == 3
    assert b.net.drops["IP", "duplicate fragment"] == 3  # the second copy of u3's first three pieces
    assert b.net.reassembly.bytes == 0 and not b.net.reassembly.table


def test_a_reassembled_echo_request_is_answered_only_if_the_answer_fits_a_frame() -> None:
    """A 1,200-byte ping in three fragments is answered (the answer fits one
    frame); a 3,000-byte one is reassembled but not answered: this stack
    does not fragment, and never puts an oversized frame on the wire."""
    net = Network(2)
    a, b = net.hosts
    warm(net)
    for ident, size in ((10, 1200), (11, 3000)):
        body = icmp(8, 0x5350, ident, bytes(size))
        a.net.pings[B, 0x5350, ident] = 0
        for _, p in fragments(A, B, ICMP, body, ident, 400):
            b.net.inject(eth(mac(1), mac(0), 0x0800, p))
    run_checked(net, 20_000)
    assert [r[3] for r in a.net.ping_replies if r[3] in (10, 11)] == [10]
    assert b.net.counters["ip out: larger than the MTU"] == 1
    assert all(len(r.frame) <= 1514 for r in frames_out(b))


def test_overlapping_fragments_kill_the_whole_datagram() -> None:
    """RFC 5722: a piece overlapping another -- by a few bytes, or at the same
    offset with other contents -- discards the datagram and every piece of
    it still to come; nothing reaches UDP."""
    net, b, ep = _reasm_host()
    _, u = _datagram(2000, 7)
    first, second, third = u[:808], u[800:1608], u[1608:]  # second overlaps first by 8 bytes
    b.net.inject(eth(mac(1), mac(0), 0x0800, frag(A, B, first, 0, True, 20)))
    b.net.inject(eth(mac(1), mac(0), 0x0800, frag(A, B, second, 800, True, 20)))
    b.net.inject(eth(mac(1), mac(0), 0x0800, frag(A, B, third, 1608, False, 20)))
    # the same offset, other bytes (the "teardrop"-style rewrite), on another datagram
    b.net.inject(eth(mac(1), mac(0), 0x0800, frag(A, B, u[:800], 0, True, 21)))
    b.net.inject(eth(mac(1), mac(0), 0x0800, frag(A, B, bytes(800), 0, True, 21)))
    b.net.inject(eth(mac(1), mac(0), 0x0800, frag(A, B, u[800:], 800, False, 21)))
    run_checked(net, 20_000)
    assert not ep.queue
    assert b.net.drops["IP", "overlapping fragment (RFC 5722)"] == 4  # the overlapping pieces and those held
    assert b.net.drops["IP", "fragment of a discarded datagram"] == 2
    assert b.net.reassembly.bytes <= 2 * 64  # two tombstones


def test_a_datagram_never_completed_times_out_freed_with_icmp_time_exceeded() -> None:
    """30 s virtual after its first piece, an incomplete datagram is freed;
    fragment zero had come, so the source hears ICMP time exceeded,
    reassembly (RFC 1122 §3.3.2). One without fragment zero is freed silently."""
    net, b, ep = _reasm_host()
    a = net.hosts[0]
    warm(net)
    _, u = _datagram(3000, 9)
    b.net.inject(eth(mac(1), mac(0), 0x0800, frag(A, B, u[:1480], 0, True, 30)))
    b.net.inject(eth(mac(1), mac(0), 0x0800, frag(A, B, u[1480:2960], 1480, True, 31)))
    net.run_us(1000)
    assert b.net.reassembly.bytes > 2900 and len(b.net.reassembly.table) == 2
    run_checked(net, 29_000_000, host_seconds=30)
    assert len(b.net.reassembly.table) == 2  # not yet
    run_checked(net, 1_100_000)
    assert not b.net.reassembly.table and b.net.reassembly.bytes == 0
    assert b.net.drops["IP", "reassembly timed out"] == 2
    assert b.net.counters["icmp time exceeded sent"] == 1
    assert a.net.counters["icmp time exceeded received"] == 1
    assert not ep.queue


def test_a_datagram_past_65535_bytes_and_bad_fragment_sizes_are_dropped() -> None:
    """The ping of death (RFC 8900 §2): a last piece at offset 65,528 that
    would make a datagram of 65,648 bytes. A piece that is not the last must
    carry a multiple of 8 bytes (RFC 791)."""
    net, b, ep = _reasm_host()
    b.net.inject(eth(mac(1), mac(0), 0x0800, frag(A, B, bytes(1400), 0, True, 40)))
    b.net.inject(eth(mac(1), mac(0), 0x0800, frag(A, B, bytes(100), 65528, False, 40)))
    b.net.inject(eth(mac(1), mac(0), 0x0800, frag(A, B, bytes(1001), 0, True, 41)))
    run_checked(net, 10_000)
    assert b.net.drops["IP", "reassembled datagram too large"] == 2  # the piece, and the one held
    assert b.net.drops["IP", "fragment not a multiple of 8 bytes"] == 1
    assert not ep.queue and b.net.reassembly.bytes <= 64


def test_reassembly_memory_is_bounded_and_the_oldest_shed() -> None:
    """500 datagrams begun and never finished, and one datagram of 8-byte
    pieces: the table keeps at most its bound of datagrams and bytes, the
    oldest shed; a datagram sent after all that is still reassembled."""
    net, b, ep = _reasm_host()
    r = b.net.reassembly
    for ident in range(500):
        b.net.inject(eth(mac(1), mac(0), 0x0800, frag(A, B, bytes(1480), 0, True, 1000 + ident)))
        if ident % 100 == 99:
            net.run_us(5000)
            assert len(r.table) <= r.max_datagrams and r.bytes <= r.max_bytes
    for off in range(0, 8 * 5000, 8):  # 5,000 tiny pieces, each charged its overhead
        b.net.inject(eth(mac(1), mac(0), 0x0800, frag(A, B, bytes(8), off, True, 3000)))
    run_checked(net, 200_000)
    assert len(r.table) <= r.max_datagrams and r.bytes <= r.max_bytes
    assert b.net.counters["ip reassemblies shed"] >= 500 - r.max_datagrams
    data, u = _datagram(3000, 11)
    for _, p in fragments(A, B, UDP, u, 9, 1480):
        b.net.inject(eth(mac(1), mac(0), 0x0800, p))
    run_checked(net, 10_000)
    assert [item[2] for item in ep.queue] == [data]


# --- ARP ---------------------------------------------------------------------------------------------


def test_a_forged_arp_reply_or_request_does_not_overwrite_a_fresh_entry() -> None:
    """RFC 826's merge would take the forger's MAC for a host we are talking
    to. Here the contradiction is counted, the MAC we hold is polled by
    unicast, the real host answers, and the entry stands: traffic keeps
    going to the real card."""
    net = Network(2)
    a, b = net.hosts
    warm(net)
    b.net.inject(arp(2, ROGUE, A, mac(1), B, to=mac(1)))  # "10.0.0.1 is at the rogue", to b
    b.net.inject(arp(1, ROGUE, A, 0, A))  # a gratuitous ARP saying the same
    b.net.inject(arp(1, ROGUE, A, 0, B))  # and a request for b from "10.0.0.1"
    run_checked(net, 200_000)
    assert b.net.arp_cache[A] == mac(0)
    assert b.net.drops["ARP", "contradicts the cached address"] == 3
    assert b.net.counters["arp polls sent"] >= 1
    polls = [f for f in frames_out(b) if f.frame[12:14] == b"\x08\x06" and f.frame[:6] == mac(0).to_bytes(6, "big")]
    assert polls  # a unicast poll to the MAC held, not a broadcast
    a.net.ping(B, 9)
    run_checked(net, 10_000)
    assert any(r[3] == 9 for r in a.net.ping_replies)
    assert all(f.frame[:6] != ROGUE.to_bytes(6, "big") for f in frames_out(b) if f.frame[12:14] == b"\x08\x00")


def test_ten_thousand_forged_arp_frames_leave_the_cache_at_its_bound() -> None:
    """Requests for b from forged senders all over the subnet, each with its
    own MAC, and contradictions of the entry b uses: the cache stays at its
    bound (a small one here, 32), the entry of the host b talks to is never
    shed or changed, and b answers its pings throughout."""
    net = Network(2)
    a, b = net.hosts
    warm(net)
    b.net.arp_cache.limit = 32
    rng = random.Random(16)
    for i in range(10_000):
        host = f"10.0.0.{rng.randrange(3, 255)}"
        if i % 10 == 0:
            f = arp(2, ROGUE + i, A, mac(1), B, to=mac(1))
        else:
            f = arp(1, 0x0200_0100_0000 + i, host, 0, B)
        b.net.inject(f)
        if i % 5 == 4:
            net.run_us(1000)  # b answers each request: at no more than its card can send
        if i % 500 == 499:
            a.net.ping(B, i)
            assert len(b.net.arp_cache) <= 32
    run_checked(net, 100_000)
    assert len(b.net.arp_cache) <= 32 and b.net.arp_cache.shed > 0
    assert b.net.arp_cache[A] == mac(0)
    assert len([r for r in a.net.ping_replies if r[2] == 0x5350]) == 20  # every ping answered
    assert not b.sched.failures


def test_a_stale_entry_is_re_confirmed_by_unicast_before_it_is_used() -> None:
    """An entry not confirmed for the reachable time is polled (a unicast
    request to the MAC held) before the next packet goes out through it."""
    net = Network(2)
    a, b = net.hosts
    warm(net)
    b.net.arp_cache.reachable = CLOCK_MHZ * 5000  # 5 ms, for the test (60 s by default)
    net.run_us(10_000)
    polls0 = b.net.counters["arp polls sent"]
    b.net.udp.send(4000, A, 9, b"after a while")
    net.run_us(5000)
    assert b.net.counters["arp polls sent"] == polls0 + 1
    outs = frames_out(b)
    i = next(i for i, f in enumerate(outs) if f.frame[12:14] == b"\x08\x06" and f.frame[21] == 1
             and f.frame[:6] == mac(0).to_bytes(6, "big") and f.cycle > net.now - 5000 * CLOCK_MHZ)  # fmt: skip
    assert any(f.frame[12:14] == b"\x08\x00" for f in outs[i + 1 :])  # the datagram after the poll
    e = b.net.arp_cache.entry(A)
    assert e is not None and b.net.arp_cache.fresh(e)


def test_a_changed_mac_is_taken_only_after_the_old_one_stops_answering() -> None:
    """10.0.0.7 asks for b from card X, and b talks to it; later 'it' claims
    card Y. X is polled; nothing answers (there is no X), so after three
    polls the entry goes, and the next packet for 10.0.0.7 is resolved
    afresh: Y's answer to that is believed. A reply to a poll from a card
    other than the polled one is ignored, and a contradiction of an entry
    nobody uses starts no poll at all."""
    net = Network(2)
    b = net.hosts[1]
    x, y = 0x0200_0000_0777, 0x0200_0000_0888
    b.net.inject(arp(1, x, "10.0.0.7", 0, B))
    b.net.inject(arp(1, x + 1, "10.0.0.8", 0, B))
    net.run_us(1000)
    assert b.net.arp_cache["10.0.0.7"] == x
    b.net.udp.send(4000, "10.0.0.7", 9, b"to X")
    b.net.inject(arp(1, y, "10.0.0.8", 0, "10.0.0.8"))  # 10.0.0.8 is not talked to: no poll
    net.run_us(1000)
    assert b.net.counters["arp polls sent"] == 0 and b.net.arp_cache["10.0.0.8"] == x + 1
    b.net.inject(arp(1, y, "10.0.0.7", 0, "10.0.0.7"))  # gratuitous: "10.0.0.7 is now at Y"
    net.run_us(10_000)
    b.net.inject(arp(2, y, "10.0.0.7", mac(1), B, to=mac(1)))  # answering the poll meant for X
    net.run_us(10_000)
    assert b.net.arp_cache["10.0.0.7"] == x  # still: X has not failed yet
    run_checked(net, 200_000)
    assert "10.0.0.7" not in b.net.arp_cache
    assert b.net.counters["arp polls sent"] == 3
    assert b.net.counters["arp entries deleted: polls unanswered"] == 1
    b.net.udp.send(4000, "10.0.0.7", 9, b"to whoever 10.0.0.7 is")
    net.run_us(1000)
    b.net.inject(arp(2, y, "10.0.0.7", mac(1), B, to=mac(1)))  # Y answers the broadcast request
    net.run_us(1000)
    assert b.net.arp_cache["10.0.0.7"] == y
    assert frames_out(b)[-1].frame[:6] == y.to_bytes(6, "big")  # the datagram went to Y


def test_arp_senders_no_host_may_have_are_dropped() -> None:
    """RFC 1812 §3.3.2 and RFC 5227 §2.4: a broadcast or multicast card, our
    own card or address, a sender off the subnet; and a reply nobody asked for."""
    net = Network(2)
    b = net.hosts[1]
    b.net.inject(arp(1, BCAST_MAC, "10.0.0.9", 0, B, frm=ROGUE))
    b.net.inject(arp(1, 0x0100_5E00_0001, "10.0.0.9", 0, B, frm=ROGUE))
    b.net.inject(arp(1, mac(1), "10.0.0.9", 0, B, frm=ROGUE))
    b.net.inject(arp(1, ROGUE, B, 0, B))
    b.net.inject(arp(1, ROGUE, "192.168.1.1", 0, B))
    b.net.inject(arp(2, ROGUE, "10.0.0.9", mac(1), B, to=mac(1)))
    out0 = b.net.counters["frames out"]
    run_checked(net, 10_000)
    d = b.net.drops
    assert d["ARP", "sender hardware address is broadcast, multicast or zero"] == 2
    assert d["ARP", "sender hardware address is this host's"] == 1
    assert d["ARP", "another station claims this host's address"] == 1
    assert d["ARP", "sender is not a host on this subnet"] == 1
    assert d["ARP", "unsolicited reply"] == 1
    assert len(b.net.arp_cache) == 0 and b.net.counters["frames out"] == out0


def test_unresolved_hosts_and_their_queues_are_bounded() -> None:
    """Sending to 100 silent addresses holds packets for at most 64 of them,
    32 packets each; the rest are counted, and the hosts that never answered
    are remembered for a bounded while."""
    net = Network(2)
    b = net.hosts[1]
    for i in range(100):
        for _ in range(40 if i == 0 else 1):
            b.net.udp.send(4000, f"10.0.0.{100 + i}", 9, b"anyone?")
    assert len(b.net.arp_pending) == 64 and len(b.net.arp_pending["10.0.0.100"]) == 32
    assert b.net.drops["IP", "too many unresolved hosts"] == 36
    assert b.net.drops["IP", "ARP queue full"] == 8
    run_checked(net, 500_000)
    assert not b.net.arp_pending and not b.net.arp.asking
    assert len(b.net.arp_failed) <= b.net.arp.failed_limit
    assert b.net.drops["IP", "host unreachable: no ARP reply"] == 32 + 63


# --- UDP ---------------------------------------------------------------------------------------------------


def test_empty_datagrams_are_charged_to_the_socket_buffer() -> None:
    """10,000 zero-length datagrams: each is charged its overhead (a BSD
    mbuf), so the queue stops at UDP_RCVBUF / overhead and the rest are counted."""
    net = Network(2)
    b = net.hosts[1]
    ep = b.net.udp.bind(9000, "test")
    assert isinstance(ep, UdpEndpoint)
    f = udp_frame(A, B, 4000, 9000, b"", mac(1))
    for i in range(10_000):
        b.net.inject(f)
        if i % 10 == 9:
            net.run_us(1000)  # about the wire's rate of small frames
    run_checked(net, 50_000)
    assert len(ep.queue) == UDP_RCVBUF // DATAGRAM_OVERHEAD and ep.queued <= UDP_RCVBUF
    assert b.net.drops["UDP", "receive buffer full"] == 10_000 - len(ep.queue)
    while ep.take() is not None:
        pass
    assert ep.queued == 0


# --- the forwarder ------------------------------------------------------------------------------------------


def test_another_station_cannot_steal_a_forwarded_flows_replies() -> None:
    """C talks to S through F from port 4000; X sends to F from port 4000
    too. F keys flows by (client, port, protocol, server port) and a port
    belongs to one live flow, so X is refused and every answer goes to C;
    once C's flow has been idle long enough, X may use the port."""
    net = Network(4)
    c, f, s, x = net.hosts
    fwd = load(f, "forward", PORT=7000, TARGET="10.0.0.3", IDLE_US=50_000)
    load(s, "udp_echo", PORT=7000)
    warm(net)
    got: list[bytes] = []
    xe = x.net.udp.bind(4000, "thief")
    assert isinstance(xe, UdpEndpoint)
    out: dict[str, Any] = {}
    c.sched.fork(E.udp_rtt_client, c, "10.0.0.2", 7000, 20, 16, out, name="client")
    net.run_us(2000)  # C's flow is live
    for i in range(20):
        x.net.udp.send(4000, "10.0.0.2", 7000, b"steal %d" % i)
        net.run_us(700)
    assert net.run_until(lambda: "done" in out, 2_000_000)
    assert out["ok"] and len(out["rtts"]) == 20
    got += [item[2] for item in xe.queue]
    assert got == [] and fwd.namespace["refused"] >= 15
    net.run_us(100_000)  # C's flow goes idle
    x.net.udp.send(4000, "10.0.0.2", 7000, b"mine now")
    net.run_us(10_000)
    assert [item[2] for item in xe.queue] == [b"mine now"]


# --- the Packets pane ----------------------------------------------------------------------------------------


def test_the_packets_pane_counts_drops_by_reason(snap_compare: Any) -> None:
    """Packets pane on host 2 (10.0.0.2, the client) of udp_forwarding after step 1 and a
    rogue's frames: a spoofed datagram from the host's own address, one
    from a broadcast, an echo request to the broadcast, two overlapping
    fragments. The newest (the fragment that killed its datagram) is under
    the cursor, its path ending in the drop; each dropped frame's row says
    why, and the line above the path counts the drops by layer and reason,
    most frequent first."""
    from workbench.session import Session
    from workbench.tui.app import Workbench

    w = Session(scenario="udp_forwarding")
    w.scenario_step()
    w.focus = 1
    assert w.net is not None
    f = w.net.hosts[1]
    F = "10.0.0.2"
    _, u = _datagram(1000, 3)
    for frame in (udp_frame(F, F, 7000, 7000, b"loop", mac(1)), udp_frame("10.0.0.255", F, 7, 7000, b"x", mac(1)),
                  eth(BCAST_MAC, ROGUE, 0x0800, ipv4("10.0.0.1", "10.0.0.255", ICMP, icmp(8, 1, 1))),
                  eth(mac(1), ROGUE, 0x0800, frag("10.0.0.1", F, u[:512], 0, True, 99)),
                  eth(mac(1), ROGUE, 0x0800, frag("10.0.0.1", F, u[504:], 504, False, 99))):  # fmt: skip
        f.net.inject(frame)
    w.net.run_us(5000)
    assert snap_compare(Workbench(session=w), press=["5"], terminal_size=(110, 34))
